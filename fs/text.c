/* text.c - small text helpers every layer shares (text.h). */
#include "cekurafs/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First room a buffer gets; it doubles from there, so n pieces cost O(n). */
#define TEXT_BUF_FIRST 256

void text_scrub(char *s)
{
	for(; *s; s++)
		if(TEXT_IS_CONTROL(*s))
			*s = ' ';
}

/* Makes room for more bytes and the NUL. Returns 0, or sets and returns b->err. */
static int reserve(struct text_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : TEXT_BUF_FIRST;
	char *grown;

	if(b->err)
		return b->err;
	if(b->max && (more > b->max || b->len > b->max - more))
		return b->err = -EFBIG;
	if(more >= SIZE_MAX - b->len)
		return b->err = -ENOMEM;
	if(b->text && b->len + more < b->cap)
		return 0;
	while(cap <= b->len + more)
		cap = cap <= SIZE_MAX / 2 ? cap * 2 : b->len + more + 1;
	grown = realloc(b->text, cap);
	if(!grown)
		return b->err = -ENOMEM;
	grown[b->len] = '\0';
	b->text = grown;
	b->cap = cap;
	return 0;
}

void text_buf_add(struct text_buf *b, const char *s, size_t n)
{
	if(reserve(b, n) != 0)
		return;
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

void text_buf_add_line(struct text_buf *b, const char *s)
{
	size_t at = b->len;

	if(!s)
		return;
	text_buf_add(b, s, strlen(s));
	if(!b->err)
		text_scrub(b->text + at); /* what was just added, up to the NUL */
}

void text_buf_printf(struct text_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if(b->err)
		return;
	/* Formatted once into the room there is; again only when it did not fit. */
	va_start(ap, fmt);
	n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if(n < 0) {
		b->err = -ENOMEM; /* vsnprintf() fails only when it cannot allocate */
		return;
	}
	if(!b->text || b->len + (size_t)n >= b->cap) {
		if(reserve(b, (size_t)n) != 0) {
			if(b->text)
				b->text[b->len] = '\0'; /* the piece cut into the room */
			return;
		}
		va_start(ap, fmt);
		vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void text_buf_json_string(struct text_buf *b, const char *s)
{
	text_buf_add(b, "\"", 1);
	for(const char *p = s; *p; p++) {
		size_t run = 0;

		while(p[run] && p[run] != '"' && p[run] != '\\' && !TEXT_IS_CONTROL(p[run]))
			run++;
		text_buf_add(b, p, run);
		p += run;
		if(!*p)
			break;
		if(*p == '"' || *p == '\\')
			text_buf_printf(b, "\\%c", *p);
		else
			text_buf_printf(b, "\\u%04x", (unsigned char)*p);
	}
	text_buf_add(b, "\"", 1);
}

char *text_buf_take(struct text_buf *b, size_t *len)
{
	char *text;

	if(!b->err && !b->text)
		reserve(b, 0);
	if(b->err) {
		text_buf_free(b);
		return NULL;
	}
	text = b->text;
	if(len)
		*len = b->len;
	b->text = NULL;
	b->len = b->cap = 0;
	return text;
}

void text_buf_free(struct text_buf *b)
{
	free(b->text);
	b->text = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}
