/* json.h - small, strict helpers over jsmn.
 *
 * A document is parsed once into tokens; values are then found by key and
 * read with type checks. Every failure is -EPROTO: the caller reports a
 * response it cannot trust, it never guesses.
 *
 *   struct json_doc d;
 *   if(json_parse(&d, body, len) == 0) {
 *           int t = json_find(&d, 0, "progress_id");
 *           ...
 *           json_free(&d);
 *   }
 */
#ifndef CEKURAFS_JSON_H
#define CEKURAFS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most tokens one document may have; bounds memory on hostile input. */
#define JSON_MAX_TOKENS (1 << 20)

/* Deepest nesting one document may have; bounds time on hostile input
 * (responses of the API are a few levels deep). */
#define JSON_MAX_DEPTH 128

enum json_type { JSON_NONE, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_BOOL, JSON_NULL };

struct json_token; /* private */

/* A parsed document. Owns toks; text is borrowed and must outlive it. */
struct json_doc {
	const char *text;
	size_t len;
	struct json_token *toks;
	int ntoks;
};

/* Parses exactly one JSON value (surrounded by optional whitespace).
 * Returns 0, or -EPROTO (not JSON, truncated, trailing data, too many tokens,
 * nested deeper than JSON_MAX_DEPTH),
 * or -ENOMEM. On success the caller calls json_free(). */
int json_parse(struct json_doc *doc, const char *text, size_t len);
void json_free(struct json_doc *doc);

/* The type of token tok; JSON_NONE when tok is out of range. */
enum json_type json_type(const struct json_doc *doc, int tok);

/* Number of elements of an array, or of keys of an object; 0 otherwise. */
int json_size(const struct json_doc *doc, int tok);

/* The token just after tok and everything inside it (its next sibling). */
int json_next(const struct json_doc *doc, int tok);

/* The value of key in object obj, or -1 when obj is not an object or has no such key. */
int json_find(const struct json_doc *doc, int obj, const char *key);

/* Whether key string token tok equals key (no unescaping: keys we look for are plain). */
bool json_key_is(const struct json_doc *doc, int tok, const char *key);

/* Copies a string value, escapes decoded to UTF-8, into a new NUL-terminated
 * string the caller frees. \u0000 and lone surrogates become U+FFFD.
 * Returns 0, -EPROTO when tok is not a valid string, -ENOMEM. */
int json_string(const struct json_doc *doc, int tok, char **out);

/* The index just after the JSON string that starts at s[i] (a '"'), its
 * escapes skipped over (not checked), or 0 when it is unterminated or holds a
 * raw control byte: the one string scanner for whoever walks JSON text. */
size_t json_string_end(const char *s, size_t len, size_t i);

/* Where token tok's text is in the document (a string without its quotes). */
void json_span(const struct json_doc *doc, int tok, size_t *start, size_t *len);

/* Largest text json_pretty() makes: indenting a deeply nested body can make
 * it a hundred times larger than the response. */
#define JSON_PRETTY_MAX (32u * 1024 * 1024)

/* Re-indents a JSON value that json_parse() accepted: two spaces a level,
 * one member or element a line, "key": value, keys in their order, strings and
 * numbers byte for byte as they were, empty {} and [] kept on one line; ends
 * with a newline. *out is a new string the caller frees. Returns 0, -EFBIG
 * (it would pass JSON_PRETTY_MAX), or -ENOMEM. */
int json_pretty(const char *text, size_t len, char **out, size_t *out_len);

/* Reads an integer value (no fraction, no exponent, in range). Returns 0 or -EPROTO. */
int json_int(const struct json_doc *doc, int tok, int64_t *out);

/* A page of a Django REST framework listing, {"count": n, "next": url, "results": [...]}:
 * sets *results (the array's token), *next (a new string, or left NULL when null or
 * absent) and *count (left as it is when null or absent). Returns 0, -EPROTO (results
 * not an array, next not a string or null, count not an integer >= 0) or -ENOMEM. */
int json_page(const struct json_doc *d, int *results, char **next, int64_t *count);

#endif
