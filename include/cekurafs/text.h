/* text.h - small text helpers every layer shares. Pure.
 *
 *   text_scrub(line);          whatever the API sent: one line, no escape sequences
 *
 *   struct text_buf b = {0};   a text built piece by piece, its room doubling
 *   text_buf_printf(&b, "stages: %zu/%zu\n", done, n);
 *   text = text_buf_take(&b, &len);     NULL when any piece failed
 */
#ifndef CEKURAFS_TEXT_H
#define CEKURAFS_TEXT_H

#include <stddef.h>

/* Whether byte c is a control byte (below 0x20, or DEL). */
#define TEXT_IS_CONTROL(c) ((unsigned char)(c) < 0x20 || (unsigned char)(c) == 0x7f)

/* Makes s one line in place: every control byte (newlines, escapes) becomes a space. */
void text_scrub(char *s);

/* A growing NUL-terminated text. Zeroed, it is empty and unbounded. The first
 * piece that fails (out of memory, or past max) sets err and makes every later
 * one a no-op, so a caller checks once, at the end. */
struct text_buf {
	char *text; /* owned; NULL until the first piece, else NUL-terminated */
	size_t len; /* bytes of text, without the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* most bytes len may reach; 0: no bound but memory */
	/* 0, or -ENOMEM, or -EFBIG (a piece would pass max). A caller may set
	 * it too, for a piece it could not even make. */
	int err;
};

/* Appends s[0..n). */
void text_buf_add(struct text_buf *b, const char *s, size_t n);

/* Appends s (NULL: nothing) made one line, as text_scrub() makes it. */
void text_buf_add_line(struct text_buf *b, const char *s);

/* Appends the formatted text. */
void text_buf_printf(struct text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string: quoted, with '"', '\\' and control bytes escaped. */
void text_buf_json_string(struct text_buf *b, const char *s);

/* The text (the caller frees it; "" when nothing was added) and its length
 * in *len (may be NULL); b is empty again. NULL when b->err is set (or the
 * "" cannot be allocated): the text is then freed. */
char *text_buf_take(struct text_buf *b, size_t *len);

/* Frees the text and empties b (max is kept). */
void text_buf_free(struct text_buf *b);

#endif
