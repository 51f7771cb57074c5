/* json.c - strict parsing over jsmn, typed reads, string unescaping, re-indenting.
 *
 * jsmn tokenises without allocating and without recursion, so nesting costs
 * tokens, not stack. But it is lenient about primitives, separators and
 * trailing data, and its work per closing bracket grows with the depth, so
 * json_parse() checks the grammar and bounds the depth first (and parent
 * links keep jsmn's work per comma constant): a response is one JSON value or
 * it is EPROTO.
 */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "cekurafs/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct json_token {
	jsmntok_t t;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_ok(const char *s, size_t n)
{
	size_t i = 0;

	if(i < n && s[i] == '-')
		i++;
	if(i >= n)
		return false;
	if(s[i] == '0') {
		i++;
	} else if(is_digit(s[i])) {
		while(i < n && is_digit(s[i]))
			i++;
	} else {
		return false;
	}
	if(i < n && s[i] == '.') {
		size_t start = ++i;

		while(i < n && is_digit(s[i]))
			i++;
		if(i == start)
			return false;
	}
	if(i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t start;

		i++;
		if(i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		start = i;
		while(i < n && is_digit(s[i]))
			i++;
		if(i == start)
			return false;
	}
	return i == n;
}

static bool word_is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

static bool primitive_ok(const char *s, size_t n)
{
	return word_is(s, n, "true") || word_is(s, n, "false") || word_is(s, n, "null") || number_ok(s, n);
}

size_t json_string_end(const char *s, size_t len, size_t i)
{
	for(i++; i < len; i++) {
		if(s[i] == '"')
			return i + 1;
		if((unsigned char)s[i] < 0x20)
			return 0;
		if(s[i] == '\\')
			i++; /* the escape itself is jsmn's to check */
	}
	return 0;
}

static bool is_primitive_char(char c)
{
	return c == '-' || c == '+' || c == '.' || is_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* The grammar jsmn does not check: separators, keys that are strings, a value
 * after every ':' and ','; and the nesting depth, since jsmn's work to close a
 * bracket grows with it. Iterative. Primitives are checked elsewhere. */
static bool grammar_ok(const char *s, size_t len)
{
	enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, AFTER_VALUE } want = VALUE;
	char stack[JSON_MAX_DEPTH];
	size_t depth = 0, i = 0;

	while(i < len) {
		char c = s[i];

		if(is_space(c)) {
			i++;
		} else if((want == VALUE_OR_CLOSE && c == ']') || (want == KEY_OR_CLOSE && c == '}')) {
			depth--;
			want = AFTER_VALUE;
			i++;
		} else if((want == VALUE || want == VALUE_OR_CLOSE) && (c == '[' || c == '{')) {
			if(depth == JSON_MAX_DEPTH)
				return false;
			stack[depth++] = c;
			want = c == '[' ? VALUE_OR_CLOSE : KEY_OR_CLOSE;
			i++;
		} else if(want != COLON && want != AFTER_VALUE && c == '"') {
			i = json_string_end(s, len, i);
			if(i == 0)
				return false;
			want = want == KEY || want == KEY_OR_CLOSE ? COLON : AFTER_VALUE;
		} else if((want == VALUE || want == VALUE_OR_CLOSE) && is_primitive_char(c)) {
			while(i < len && is_primitive_char(s[i]))
				i++;
			want = AFTER_VALUE;
		} else if(want == COLON && c == ':') {
			want = VALUE;
			i++;
		} else if(want == AFTER_VALUE && depth > 0 && c == ',') {
			want = stack[depth - 1] == '[' ? VALUE : KEY;
			i++;
		} else if(want == AFTER_VALUE && depth > 0 && c == (stack[depth - 1] == '[' ? ']' : '}')) {
			depth--;
			i++;
		} else {
			return false;
		}
	}
	return want == AFTER_VALUE && depth == 0;
}

static const jsmntok_t *tok_at(const struct json_doc *doc, int tok)
{
	if(tok < 0 || tok >= doc->ntoks)
		return NULL;
	return &doc->toks[tok].t;
}

int json_parse(struct json_doc *doc, const char *text, size_t len)
{
	jsmn_parser p;
	jsmntok_t *toks;
	int n;
	size_t end;

	memset(doc, 0, sizeof(*doc));
	if(!grammar_ok(text, len))
		return -EPROTO;
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, NULL, 0);
	if(n <= 0 || n > JSON_MAX_TOKENS)
		return -EPROTO;
	toks = calloc((size_t)n, sizeof(*toks));
	if(!toks)
		return -ENOMEM;
	jsmn_init(&p);
	if(jsmn_parse(&p, text, len, toks, (unsigned)n) != n)
		goto bad;
	/* Exactly one top-level value: the first token spans to the end. */
	end = (size_t)toks[0].end;
	if(toks[0].type == JSMN_STRING)
		end++; /* the closing quote */
	while(end < len && is_space(text[end]))
		end++;
	if(end != len)
		goto bad;
	for(int i = 0; i < n; i++) {
		if(toks[i].type == JSMN_PRIMITIVE &&
		   !primitive_ok(text + toks[i].start, (size_t)(toks[i].end - toks[i].start)))
			goto bad;
	}
	/* jsmntok_t and struct json_token share their layout. */
	doc->toks = (struct json_token *)(void *)toks;
	doc->ntoks = n;
	doc->text = text;
	doc->len = len;
	return 0;
bad:
	free(toks);
	return -EPROTO;
}

void json_free(struct json_doc *doc)
{
	free(doc->toks);
	memset(doc, 0, sizeof(*doc));
}

enum json_type json_type(const struct json_doc *doc, int tok)
{
	const jsmntok_t *t = tok_at(doc, tok);
	char c;

	if(!t)
		return JSON_NONE;
	switch(t->type) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	case JSMN_PRIMITIVE:
		c = doc->text[t->start];
		if(c == 't' || c == 'f')
			return JSON_BOOL;
		if(c == 'n')
			return JSON_NULL;
		return JSON_NUMBER;
	default:
		return JSON_NONE;
	}
}

int json_size(const struct json_doc *doc, int tok)
{
	enum json_type type = json_type(doc, tok);

	if(type != JSON_OBJECT && type != JSON_ARRAY)
		return 0;
	return doc->toks[tok].t.size;
}

int json_next(const struct json_doc *doc, int tok)
{
	/* Each token owes `size` children (an object key owes its value), so walk
	 * until nothing is owed: no recursion, whatever the depth. */
	int pending = 1;

	while(pending > 0 && tok < doc->ntoks) {
		pending += doc->toks[tok].t.size - 1;
		tok++;
	}
	return tok;
}

bool json_key_is(const struct json_doc *doc, int tok, const char *key)
{
	const jsmntok_t *t = tok_at(doc, tok);

	return t && t->type == JSMN_STRING && word_is(doc->text + t->start, (size_t)(t->end - t->start), key);
}

int json_find(const struct json_doc *doc, int obj, const char *key)
{
	int n, tok;

	if(json_type(doc, obj) != JSON_OBJECT)
		return -1;
	n = doc->toks[obj].t.size;
	tok = obj + 1;
	for(int i = 0; i < n; i++) {
		if(json_key_is(doc, tok, key))
			return tok + 1 < doc->ntoks ? tok + 1 : -1;
		tok = json_next(doc, tok + 1);
	}
	return -1;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for(int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if(c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if(c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if(c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EPROTO;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if(cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if(cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if(cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes the \u escape at s[i] (s[i] == 'u'); advances *i past it. */
static int unicode_escape(const char *s, size_t n, size_t *i, unsigned *cp)
{
	unsigned hi, lo;

	if(*i + 5 > n || hex4(s + *i + 1, &hi) != 0)
		return -EPROTO;
	*i += 5;
	if(hi >= 0xD800 && hi <= 0xDBFF && *i + 6 <= n && s[*i] == '\\' && s[*i + 1] == 'u' &&
	   hex4(s + *i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
		*i += 6;
		*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
		return 0;
	}
	*cp = (hi == 0 || (hi >= 0xD800 && hi <= 0xDFFF)) ? 0xFFFD : hi;
	return 0;
}

int json_string(const struct json_doc *doc, int tok, char **out)
{
	const jsmntok_t *t = tok_at(doc, tok);
	const char *s;
	size_t n, i = 0, o = 0;
	char *buf;

	if(!t || t->type != JSMN_STRING)
		return -EPROTO;
	s = doc->text + t->start;
	n = (size_t)(t->end - t->start);
	/* Decoded text is never longer than the escaped text (\uXXXX is 6 bytes, UTF-8 at most 4). */
	buf = malloc(n + 1);
	if(!buf)
		return -ENOMEM;
	while(i < n) {
		unsigned cp;

		if(s[i] != '\\') {
			buf[o++] = s[i++];
			continue;
		}
		if(++i >= n)
			goto bad;
		switch(s[i]) {
		case '"':
		case '\\':
		case '/':
			buf[o++] = s[i++];
			break;
		case 'b':
			buf[o++] = '\b';
			i++;
			break;
		case 'f':
			buf[o++] = '\f';
			i++;
			break;
		case 'n':
			buf[o++] = '\n';
			i++;
			break;
		case 'r':
			buf[o++] = '\r';
			i++;
			break;
		case 't':
			buf[o++] = '\t';
			i++;
			break;
		case 'u':
			if(unicode_escape(s, n, &i, &cp) != 0)
				goto bad;
			o += put_utf8(buf + o, cp);
			break;
		default:
			goto bad;
		}
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
bad:
	free(buf);
	return -EPROTO;
}

int json_int(const struct json_doc *doc, int tok, int64_t *out)
{
	const jsmntok_t *t = tok_at(doc, tok);
	const char *s;
	size_t n, i = 0;
	bool neg = false;
	uint64_t v = 0, limit;

	if(json_type(doc, tok) != JSON_NUMBER)
		return -EPROTO;
	s = doc->text + t->start;
	n = (size_t)(t->end - t->start);
	if(s[0] == '-') {
		neg = true;
		i++;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for(; i < n; i++) {
		unsigned d;

		if(!is_digit(s[i]))
			return -EPROTO; /* a fraction or an exponent */
		d = (unsigned)(s[i] - '0');
		if(v > (limit - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

void json_span(const struct json_doc *doc, int tok, size_t *start, size_t *len)
{
	const jsmntok_t *t = tok_at(doc, tok);

	*start = t ? (size_t)t->start : 0;
	*len = t ? (size_t)(t->end - t->start) : 0;
}

/* Where json_pretty() writes: buf NULL only counts, so one walk both sizes
 * and fills the output and the two can never disagree. */
struct pretty_out {
	char *buf;
	size_t n;
};

static void pretty_put(struct pretty_out *o, const char *s, size_t n)
{
	if(o->buf)
		memcpy(o->buf + o->n, s, n);
	o->n += n;
}

static void pretty_newline(struct pretty_out *o, size_t depth)
{
	pretty_put(o, "\n", 1);
	for(size_t i = 0; i < depth; i++)
		pretty_put(o, "  ", 2);
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
	while(i < len && is_space(s[i]))
		i++;
	return i;
}

static void pretty_walk(const char *s, size_t len, struct pretty_out *o)
{
	size_t depth = 0, i = skip_space(s, len, 0);

	while(i < len) {
		char c = s[i];
		size_t next;

		if(c == '{' || c == '[') {
			next = skip_space(s, len, i + 1);
			if(next < len && (s[next] == '}' || s[next] == ']')) {
				pretty_put(o, c == '{' ? "{}" : "[]", 2);
				i = next + 1;
			} else {
				pretty_put(o, &c, 1);
				pretty_newline(o, ++depth);
				i++;
			}
		} else if(c == '}' || c == ']') {
			if(depth > 0) /* 0 only on text json_parse() would refuse */
				depth--;
			pretty_newline(o, depth);
			pretty_put(o, &c, 1);
			i++;
		} else if(c == ',') {
			pretty_put(o, ",", 1);
			pretty_newline(o, depth);
			i++;
		} else if(c == ':') {
			pretty_put(o, ": ", 2);
			i++;
		} else if(c == '"') {
			next = json_string_end(s, len, i);
			if(next == 0) /* only in text json_parse() refuses: the rest as it is */
				next = len;
			pretty_put(o, s + i, next - i);
			i = next;
		} else {
			pretty_put(o, &c, 1);
			i++;
		}
		i = skip_space(s, len, i);
	}
	pretty_put(o, "\n", 1);
}

/* Most bytes one input byte can become: a ',' or a '{' with its newline and
 * two spaces for each of JSON_MAX_DEPTH levels. */
#define PRETTY_GROWTH (2 + 2 * (size_t)JSON_MAX_DEPTH)

int json_pretty(const char *text, size_t len, char **out, size_t *out_len)
{
	struct pretty_out o = {NULL, 0};

	if(len > (SIZE_MAX - 2) / PRETTY_GROWTH)
		return -ENOMEM;
	pretty_walk(text, len, &o);
	if(o.n > JSON_PRETTY_MAX)
		return -EFBIG; /* deep nesting grows with its indent: bound what one body costs */
	o.buf = malloc(o.n + 1);
	if(!o.buf)
		return -ENOMEM;
	o.n = 0;
	pretty_walk(text, len, &o);
	o.buf[o.n] = '\0';
	*out = o.buf;
	*out_len = o.n;
	return 0;
}

int json_page(const struct json_doc *d, int *results, char **next, int64_t *count)
{
	int next_tok = json_find(d, 0, "next"), count_tok = json_find(d, 0, "count");
	enum json_type next_type = json_type(d, next_tok);

	*results = json_find(d, 0, "results");
	if(json_type(d, *results) != JSON_ARRAY)
		return -EPROTO;
	if(next_tok >= 0 && next_type != JSON_STRING && next_type != JSON_NULL)
		return -EPROTO;
	if(count_tok >= 0 && json_type(d, count_tok) != JSON_NULL &&
	   (json_int(d, count_tok, count) != 0 || *count < 0))
		return -EPROTO;
	return next_type == JSON_STRING ? json_string(d, next_tok, next) : 0;
}
