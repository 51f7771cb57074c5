/* test_json.c - the strict JSON helpers: one value or EPROTO, escapes decoded
 * to UTF-8, keys found across nested values, integers read exactly, and
 * hostile input (deep nesting, huge token counts) bounded; spans of values and
 * pretty-printing that keeps every string and number as it was.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cekurafs/json.h"
#include "fake_transport.h"

static int parse(const char *text, struct json_doc *d)
{
	return json_parse(d, text, strlen(text));
}

static void assert_parses(const char *text)
{
	struct json_doc d;
	int rc = parse(text, &d);

	if(rc != 0)
		fail_msg("json_parse(%s) = %d, want 0", text, rc);
	json_free(&d);
}

static void assert_rejected(const char *text)
{
	struct json_doc d;
	int rc = parse(text, &d);

	if(rc != -EPROTO) {
		if(rc == 0)
			json_free(&d);
		fail_msg("json_parse(%s) = %d, want -EPROTO", text, rc);
	}
	assert_null(d.toks);
}

/* The string value of key in the top-level object of text. */
static char *string_of(const char *text, const char *key)
{
	struct json_doc d;
	char *s = NULL;

	assert_int_equal(parse(text, &d), 0);
	assert_int_equal(json_string(&d, json_find(&d, 0, key), &s), 0);
	json_free(&d);
	return s;
}

static void assert_decodes_to(const char *json_string_literal, const char *want)
{
	char *text = NULL;
	char *got;

	assert_true(asprintf(&text, "{\"v\": %s}", json_string_literal) > 0);
	got = string_of(text, "v");
	if(strcmp(got, want) != 0)
		fail_msg("%s decoded to \"%s\"", json_string_literal, got);
	free(got);
	free(text);
}

static void test_simple_escapes_are_decoded(void **state)
{
	(void)state;
	assert_decodes_to("\"a\\nb\"", "a\nb");
	assert_decodes_to("\"say \\\"hi\\\"\"", "say \"hi\"");
	assert_decodes_to("\"back\\\\slash\"", "back\\slash");
	assert_decodes_to("\"a\\/b\"", "a/b");
	assert_decodes_to("\"\\t\\r\\b\\f\"", "\t\r\b\f");
	assert_decodes_to("\"plain\"", "plain");
	assert_decodes_to("\"\"", "");
	assert_decodes_to("\"\\\\n\"", "\\n"); /* an escaped backslash, then a plain n */
}

static void test_unicode_escapes_become_utf8(void **state)
{
	(void)state;
	assert_decodes_to("\"caf\\u00e9\"", "caf\xc3\xa9");
	assert_decodes_to("\"\\u0041\"", "A");
	assert_decodes_to("\"\\u20AC\"", "\xe2\x82\xac");
	assert_decodes_to("\"\\u07ff\"", "\xdf\xbf");
	assert_decodes_to("\"\\uffff\"", "\xef\xbf\xbf");
	assert_decodes_to("\"caf\xc3\xa9\"", "caf\xc3\xa9"); /* raw UTF-8 kept as is */
}

static void test_surrogate_pairs_become_four_byte_utf8(void **state)
{
	(void)state;
	assert_decodes_to("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");	 /* U+1F600 */
	assert_decodes_to("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80");	 /* U+10000 */
	assert_decodes_to("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf");	 /* U+10FFFF */
	assert_decodes_to("\"x\\ud83d\\ude00y\"", "x\xf0\x9f\x98\x80y"); /* inside text */
}

static void test_lone_surrogates_and_nul_become_replacement_characters(void **state)
{
	(void)state;
	assert_decodes_to("\"\\ud83d\"", "\xef\xbf\xbd");   /* high alone at the end */
	assert_decodes_to("\"\\ude00\"", "\xef\xbf\xbd");   /* low alone */
	assert_decodes_to("\"\\ud83dx\"", "\xef\xbf\xbdx"); /* high, then text */
	assert_decodes_to("\"\\ud83d\\u0041\"", "\xef\xbf\xbd"
						"A");			     /* high, then no low */
	assert_decodes_to("\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"); /* reversed pair */
	assert_decodes_to("\"a\\u0000b\"", "a\xef\xbf\xbd"
					   "b"); /* no NUL inside a C string */
}

static void test_string_of_a_non_string_is_eproto(void **state)
{
	struct json_doc d;
	char *s = (char *)"untouched";

	(void)state;
	assert_int_equal(parse("{\"n\": 1, \"o\": {}, \"a\": [], \"b\": true, \"z\": null}", &d), 0);
	assert_int_equal(json_string(&d, json_find(&d, 0, "n"), &s), -EPROTO);
	assert_int_equal(json_string(&d, json_find(&d, 0, "o"), &s), -EPROTO);
	assert_int_equal(json_string(&d, json_find(&d, 0, "a"), &s), -EPROTO);
	assert_int_equal(json_string(&d, json_find(&d, 0, "b"), &s), -EPROTO);
	assert_int_equal(json_string(&d, json_find(&d, 0, "z"), &s), -EPROTO);
	assert_int_equal(json_string(&d, -1, &s), -EPROTO);
	assert_int_equal(json_string(&d, 1000, &s), -EPROTO);
	assert_string_equal(s, "untouched");
	json_free(&d);
}

static void test_types_are_reported(void **state)
{
	struct json_doc d;

	(void)state;
	assert_int_equal(parse("{\"o\": {}, \"a\": [1], \"s\": \"x\", \"n\": -1.5e3, \"t\": true, "
			       "\"f\": false, \"z\": null}",
			       &d),
			 0);
	assert_int_equal(json_type(&d, 0), JSON_OBJECT);
	assert_int_equal(json_type(&d, json_find(&d, 0, "o")), JSON_OBJECT);
	assert_int_equal(json_type(&d, json_find(&d, 0, "a")), JSON_ARRAY);
	assert_int_equal(json_type(&d, json_find(&d, 0, "s")), JSON_STRING);
	assert_int_equal(json_type(&d, json_find(&d, 0, "n")), JSON_NUMBER);
	assert_int_equal(json_type(&d, json_find(&d, 0, "t")), JSON_BOOL);
	assert_int_equal(json_type(&d, json_find(&d, 0, "f")), JSON_BOOL);
	assert_int_equal(json_type(&d, json_find(&d, 0, "z")), JSON_NULL);
	assert_int_equal(json_type(&d, -1), JSON_NONE);
	assert_int_equal(json_type(&d, d.ntoks), JSON_NONE);
	assert_int_equal(json_size(&d, 0), 7);
	assert_int_equal(json_size(&d, json_find(&d, 0, "a")), 1);
	assert_int_equal(json_size(&d, json_find(&d, 0, "s")), 0);
	json_free(&d);
}

static void test_find_skips_nested_values(void **state)
{
	const char *text = "{\"a\": {\"c\": 1, \"d\": [1, {\"c\": 2}, [[]]]}, \"b\": [[], {}, {\"x\": {}}], "
			   "\"c\": \"top\"}";
	struct json_doc d;
	char *s = NULL;
	int a, inner;
	int64_t v;

	(void)state;
	assert_int_equal(parse(text, &d), 0);
	/* the top-level "c", not the ones nested in "a" */
	assert_int_equal(json_string(&d, json_find(&d, 0, "c"), &s), 0);
	assert_string_equal(s, "top");
	free(s);
	/* keys of nested objects are not keys of the top level */
	assert_int_equal(json_find(&d, 0, "d"), -1);
	assert_int_equal(json_find(&d, 0, "x"), -1);
	/* but are found from their own object */
	a = json_find(&d, 0, "a");
	assert_int_equal(json_int(&d, json_find(&d, a, "c"), &v), 0);
	assert_int_equal(v, 1);
	inner = json_find(&d, a, "d");
	assert_int_equal(json_type(&d, inner), JSON_ARRAY);
	assert_int_equal(json_size(&d, inner), 3);
	/* json_find on something that is not an object */
	assert_int_equal(json_find(&d, inner, "c"), -1);
	assert_int_equal(json_find(&d, -1, "c"), -1);
	assert_int_equal(json_find(&d, 0, "missing"), -1);
	json_free(&d);
}

static void test_next_steps_over_a_whole_value(void **state)
{
	/* tokens: 0 [, 1 {, 2 "a", 3 [, 4 1, 5 {, 6 "b", 7 null, 8 "after", 9 2 */
	const char *text = "[{\"a\": [1, {\"b\": null}]}, \"after\", 2]";
	struct json_doc d;
	int tok;
	char *s = NULL;

	(void)state;
	assert_int_equal(parse(text, &d), 0);
	assert_int_equal(d.ntoks, 10);
	assert_int_equal(json_size(&d, 0), 3);
	tok = json_next(&d, 1); /* over the whole first element */
	assert_int_equal(tok, 8);
	assert_int_equal(json_string(&d, tok, &s), 0);
	assert_string_equal(s, "after");
	free(s);
	assert_int_equal(json_next(&d, tok), 9);
	assert_int_equal(json_next(&d, 9), 10);
	assert_int_equal(json_next(&d, 0), d.ntoks); /* the root spans everything */
	assert_int_equal(json_next(&d, 2), 8);	     /* a key and its value */
	json_free(&d);
}

static void test_key_is_compares_whole_keys(void **state)
{
	struct json_doc d;

	(void)state;
	assert_int_equal(parse("{\"name\": \"x\"}", &d), 0);
	assert_true(json_key_is(&d, 1, "name"));
	assert_false(json_key_is(&d, 1, "nam"));
	assert_false(json_key_is(&d, 1, "names"));
	assert_false(json_key_is(&d, 0, "name"));
	assert_false(json_key_is(&d, 99, "name"));
	json_free(&d);
}

static void test_truncated_input_is_eproto(void **state)
{
	static const char *const bad[] = {
		"",	 "   ",	   "{",	      "[",	     "{\"a\": 1",	   "[1, 2",
		"\"abc", "{\"a\"", "{\"a\":", "{\"a\": \"x", "{\"a\": [1, {\"b\"", "[\"\\u00\"]",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i]);
}

static void test_trailing_data_is_eproto(void **state)
{
	static const char *const bad[] = {
		"{} x",	 "{}}", "[]]",	"{\"a\": 1} garbage", "\"abc\" x", "\"a\"\"b\"", "{}{}", "{} {}",
		"[] []", "1 2", "[1]:",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i]);
}

static void test_whitespace_around_one_value_is_fine(void **state)
{
	(void)state;
	assert_parses(" {} ");
	assert_parses("\n\t[1, 2]\r\n");
	assert_parses("{\"a\" : [ 1 , 2 ] }");
	assert_parses("\"text\"");
	assert_parses("12 ");
}

static void test_bad_primitives_are_eproto(void **state)
{
	static const char *const bad[] = {
		"[tru]",
		"[01]",
		"[1.]",
		"[-]",
		"[nul]",
		"[truee]",
		"[True]",
		"[NULL]",
		"[.5]",
		"[1e]",
		"[1e+]",
		"[--1]",
		"[1.2.3]",
		"[-01]",
		"[0x10]",
		"[NaN]",
		"[+1]",
		"[fals]",
		"[nulll]",
		"[1-2]",
		"{\"a\": tru}",
		"[\"a\", 01]",
		"{\"a\": [1, 2, 00]}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i]);
}

static void test_good_primitives_parse(void **state)
{
	(void)state;
	assert_parses("[true, false, null, 0, -0, 1, -1, 10, 1.5, -0.5, 1e5, 1E+5, 2e-3, 0.0e0]");
}

static void test_broken_structure_is_eproto(void **state)
{
	static const char *const bad[] = {
		"[1 2]",
		"{\"a\" \"b\"}",
		"[1,,2]",
		"[,1]",
		"{\"a\": 1,}",
		"[1,]",
		"{\"a\": 1 \"b\": 2}",
		"{\"a\", 1}",
		"[\"a\": 1]",
		"{,}",
		"{\"a\":}",
		"{:1}",
		"{1: 2}",
		"{\"a\": 1: 2}",
		"[1}",
		"{\"a\": 1]",
		"]",
		"}",
		"{\"a\"::1}",
		"[\"a\" : 1]",
		"{\"a\": 1, }",
		"{[]: 1}",
		",",
		":",
		"[\"a\"\"b\"]",
		"{\"a\": {\"b\": 1} \"c\": 2}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i]);
}

static void test_control_bytes_and_nul_in_the_text_are_eproto(void **state)
{
	struct json_doc d;

	(void)state;
	assert_int_equal(json_parse(&d, "{\"a\": 1}\0", 9), -EPROTO);
	assert_int_equal(json_parse(&d, "{\"a\": \"x\0y\"}", 12), -EPROTO);
	assert_rejected("[\"tab\there\"]");
	assert_rejected("[\"new\nline\"]");
}

static void test_int_reads_the_whole_int64_range(void **state)
{
	struct json_doc d;
	int64_t v = 7;

	(void)state;
	assert_int_equal(parse("[0, -0, 42, -42, 9223372036854775807, -9223372036854775808]", &d), 0);
	assert_int_equal(json_int(&d, 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(json_int(&d, 2, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(json_int(&d, 3, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(json_int(&d, 4, &v), 0);
	assert_true(v == -42);
	assert_int_equal(json_int(&d, 5, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(json_int(&d, 6, &v), 0);
	assert_true(v == INT64_MIN);
	json_free(&d);
}

static void test_int_rejects_out_of_range_and_fractions(void **state)
{
	static const char *const bad[] = {
		"9223372036854775808",
		"-9223372036854775809",
		"18446744073709551616",
		"99999999999999999999",
		"1.0",
		"1.5",
		"1e3",
		"-2E2",
		"0.0",
	};
	struct json_doc d;
	int64_t v = 7;

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = NULL;

		assert_true(asprintf(&text, "[%s]", bad[i]) > 0);
		assert_int_equal(parse(text, &d), 0);
		if(json_int(&d, 1, &v) != -EPROTO)
			fail_msg("json_int(%s) accepted", bad[i]);
		json_free(&d);
		free(text);
	}
	assert_int_equal(v, 7);
	assert_int_equal(parse("[\"42\", true, null, {}, []]", &d), 0);
	for(int tok = 1; tok < d.ntoks; tok++)
		assert_int_equal(json_int(&d, tok, &v), -EPROTO);
	assert_int_equal(json_int(&d, 99, &v), -EPROTO);
	json_free(&d);
	assert_int_equal(v, 7);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	char *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for(size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/* depth brackets opened, then closed: "[[[...]]]" */
static char *nest(size_t depth)
{
	char *s = malloc(2 * depth + 1);

	assert_non_null(s);
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[2 * depth] = '\0';
	return s;
}

/* This thread's CPU time: what a bound on work checks, whatever else the machine runs. */
static double thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_deep_nesting_is_eproto_quickly(void **state)
{
	const size_t depth = 100000;
	char *open = repeat("", "[", depth, "");
	char *closed = nest(depth);
	struct json_doc d;
	double start = thread_cpu_seconds();

	(void)state;
	assert_int_equal(json_parse(&d, open, depth), -EPROTO);
	assert_int_equal(json_parse(&d, closed, 2 * depth), -EPROTO);
	assert_null(d.toks);
	/* bounded work: jsmn alone takes seconds of CPU to close 100000 brackets */
	assert_true(thread_cpu_seconds() - start < 1.0);
	free(open);
	free(closed);
}

static void test_nesting_up_to_the_limit_parses(void **state)
{
	char *deepest = nest(JSON_MAX_DEPTH);
	char *deeper = nest(JSON_MAX_DEPTH + 1);
	struct json_doc d;

	(void)state;
	assert_int_equal(json_parse(&d, deepest, 2 * JSON_MAX_DEPTH), 0);
	assert_int_equal(d.ntoks, JSON_MAX_DEPTH);
	assert_int_equal(json_next(&d, 0), d.ntoks);
	assert_int_equal(json_size(&d, JSON_MAX_DEPTH - 2), 1);
	assert_int_equal(json_size(&d, JSON_MAX_DEPTH - 1), 0);
	json_free(&d);
	assert_int_equal(json_parse(&d, deeper, 2 * (JSON_MAX_DEPTH + 1)), -EPROTO);
	deepest[2 * JSON_MAX_DEPTH - 1] = '}'; /* the outermost array closed as an object */
	assert_int_equal(json_parse(&d, deepest, 2 * JSON_MAX_DEPTH), -EPROTO);
	free(deepest);
	free(deeper);
}

static void test_wide_objects_parse_in_linear_time(void **state)
{
	/* {"k":1,"k":1,...}: jsmn without parent links rescans every key at each
	 * comma, about 2 * 10^10 steps here (minutes); linear parsing takes well
	 * under a second even under ThreadSanitizer. The bound is on this thread's
	 * CPU time, so a loaded machine (other processes) does not move it. */
	const size_t keys = 200000;
	char *text = repeat("{", "\"k\":1,", keys, "\"k\":1}");
	struct json_doc d;
	double start = thread_cpu_seconds();

	(void)state;
	assert_int_equal(json_parse(&d, text, strlen(text)), 0);
	assert_int_equal(json_size(&d, 0), (int)keys + 1);
	assert_int_equal(json_find(&d, 0, "missing"), -1);
	assert_true(thread_cpu_seconds() - start < 5.0);
	json_free(&d);
	free(text);
}

static void test_too_many_tokens_is_eproto(void **state)
{
	/* "[0,0,...,0]": one array and JSON_MAX_TOKENS + 1 numbers */
	char *many = repeat("[", "0,", JSON_MAX_TOKENS, "0]");
	char *enough = repeat("[", "0,", JSON_MAX_TOKENS - 2, "0]");
	char *deep = repeat("", "[", (size_t)JSON_MAX_TOKENS + 1, "");
	struct json_doc d;

	(void)state;
	assert_int_equal(json_parse(&d, many, strlen(many)), -EPROTO);
	assert_null(d.toks);
	assert_int_equal(json_parse(&d, deep, strlen(deep)), -EPROTO);
	assert_int_equal(json_parse(&d, enough, strlen(enough)), 0);
	assert_int_equal(d.ntoks, JSON_MAX_TOKENS);
	json_free(&d);
	free(many);
	free(enough);
	free(deep);
}

static void test_free_leaves_an_empty_document(void **state)
{
	struct json_doc d;

	(void)state;
	assert_int_equal(parse("[1]", &d), 0);
	json_free(&d);
	assert_null(d.toks);
	assert_int_equal(d.ntoks, 0);
	assert_int_equal(json_type(&d, 0), JSON_NONE);
}

/* The text of token tok as json_span() gives it. */
static char *span_of(const struct json_doc *d, int tok)
{
	size_t start = 99, len = 99;
	char *s;

	json_span(d, tok, &start, &len);
	s = strndup(d->text + start, len);
	assert_non_null(s);
	return s;
}

static void assert_span(const struct json_doc *d, int tok, const char *want)
{
	char *got = span_of(d, tok);

	if(strcmp(got, want) != 0)
		fail_msg("span of token %d is '%s', want '%s'", tok, got, want);
	free(got);
}

static void test_span_is_the_text_of_a_value(void **state)
{
	const char *text =
		"{\"k\": \"v\\\"w\", \"n\": -1.5e3, \"o\": {\"a\": [1, true]}, \"z\": null, \"e\": \"\"}";
	struct json_doc d;

	(void)state;
	assert_int_equal(parse(text, &d), 0);
	assert_span(&d, 0, text);
	assert_span(&d, 1, "k");      /* a key, without its quotes */
	assert_span(&d, 2, "v\\\"w"); /* a string, escapes as they are */
	assert_span(&d, json_find(&d, 0, "n"), "-1.5e3");
	assert_span(&d, json_find(&d, 0, "o"), "{\"a\": [1, true]}");
	assert_span(&d, json_find(&d, json_find(&d, 0, "o"), "a"), "[1, true]");
	assert_span(&d, json_find(&d, 0, "z"), "null");
	assert_span(&d, json_find(&d, 0, "e"), "");
	json_free(&d);
}

static void test_span_of_no_token_is_empty(void **state)
{
	struct json_doc d;
	size_t start = 7, len = 7;

	(void)state;
	assert_int_equal(parse("[1]", &d), 0);
	json_span(&d, -1, &start, &len);
	assert_int_equal(start, 0);
	assert_int_equal(len, 0);
	start = len = 7;
	json_span(&d, 2, &start, &len);
	assert_int_equal(start, 0);
	assert_int_equal(len, 0);
	json_free(&d);
}

static void assert_pretty(const char *text, const char *want)
{
	struct json_doc d;
	char *got = NULL;
	size_t len = 0;

	/* json_pretty() is only ever given what json_parse() accepts */
	assert_int_equal(parse(text, &d), 0);
	json_free(&d);
	assert_int_equal(json_pretty(text, strlen(text), &got, &len), 0);
	if(strcmp(got, want) != 0)
		fail_msg("json_pretty(%s) =\n%s\nwant\n%s", text, got, want);
	assert_int_equal(len, strlen(want));
	free(got);
}

static void test_pretty_indents_two_spaces_a_level(void **state)
{
	(void)state;
	assert_pretty("{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":{\"e\":false}}}", "{\n"
										       "  \"a\": 1,\n"
										       "  \"b\": [\n"
										       "    true,\n"
										       "    null,\n"
										       "    \"x\"\n"
										       "  ],\n"
										       "  \"c\": {\n"
										       "    \"d\": {\n"
										       "      \"e\": false\n"
										       "    }\n"
										       "  }\n"
										       "}\n");
	assert_pretty("[[1,[2]],{}]", "[\n"
				      "  [\n"
				      "    1,\n"
				      "    [\n"
				      "      2\n"
				      "    ]\n"
				      "  ],\n"
				      "  {}\n"
				      "]\n");
}

static void test_pretty_keeps_keys_in_their_order(void **state)
{
	(void)state;
	assert_pretty("{\"z\": 1, \"a\": 2, \"m\": 3, \"a\": 4}",
		      "{\n  \"z\": 1,\n  \"a\": 2,\n  \"m\": 3,\n  \"a\": 4\n}\n");
}

static void test_pretty_keeps_empty_containers_on_one_line(void **state)
{
	(void)state;
	assert_pretty("{}", "{}\n");
	assert_pretty("[ ]", "[]\n");
	assert_pretty(" { \"a\" : [ \n ] , \"b\" : {\t} } ", "{\n  \"a\": [],\n  \"b\": {}\n}\n");
	assert_pretty("[[],[[]]]", "[\n  [],\n  [\n    []\n  ]\n]\n");
}

static void test_pretty_copies_strings_and_numbers_byte_for_byte(void **state)
{
	(void)state;
	assert_pretty("[\"a\\\"b\\\\\",\"\\u00e9\\/\\n\",1.50E+3,-0,\"{[,:]} \\\" ,\",\"caf\xc3\xa9\"]",
		      "[\n"
		      "  \"a\\\"b\\\\\",\n"
		      "  \"\\u00e9\\/\\n\",\n"
		      "  1.50E+3,\n"
		      "  -0,\n"
		      "  \"{[,:]} \\\" ,\",\n"
		      "  \"caf\xc3\xa9\"\n"
		      "]\n");
	assert_pretty("{\"key: with, {marks}\": \"  spaced  \"}",
		      "{\n  \"key: with, {marks}\": \"  spaced  \"\n}\n");
}

static void test_pretty_of_a_scalar_is_one_line(void **state)
{
	(void)state;
	assert_pretty("  \"x\"  ", "\"x\"\n");
	assert_pretty("12 ", "12\n");
	assert_pretty("\r\nnull\n", "null\n");
}

static void test_pretty_is_the_same_whatever_the_whitespace(void **state)
{
	const char *compact = "{\"a\":[1,{\"b\":\"c d\"}],\"e\":{}}";
	const char *spaced = "\r\n{ \"a\" :\t[ 1 ,\n{\"b\"  :  \"c d\" } ] ,\r\n \"e\" : { }\n}\n";
	char *once = NULL, *again = NULL, *other = NULL;
	size_t once_len, again_len, other_len;

	(void)state;
	assert_int_equal(json_pretty(compact, strlen(compact), &once, &once_len), 0);
	assert_int_equal(json_pretty(spaced, strlen(spaced), &other, &other_len), 0);
	assert_int_equal(json_pretty(once, once_len, &again, &again_len), 0);
	assert_string_equal(once, other);
	assert_string_equal(once, again); /* pretty text is a fixed point */
	free(once);
	free(again);
	free(other);
}

/* "[<reps arrays nested depth deep>]", a new string; its length in *n. */
static char *nested_arrays(size_t reps, size_t depth, size_t *n)
{
	char *body = malloc(reps * (2 * depth + 1) + 3);

	assert_non_null(body);
	*n = 0;
	body[(*n)++] = '[';
	for(size_t r = 0; r < reps; r++) {
		if(r > 0)
			body[(*n)++] = ',';
		memset(body + *n, '[', depth);
		memset(body + *n + depth, ']', depth);
		*n += 2 * depth;
	}
	body[(*n)++] = ']';
	return body;
}

static void test_pretty_refuses_to_grow_past_its_cap(void **state)
{
	/* Nesting 120 deep costs about 120 bytes of indent a bracket: 300 KB of
	 * input would become some 36 MiB of text. */
	size_t n, out_len = 99;
	char *body = nested_arrays(1300, 120, &n), *out = NULL;

	(void)state;
	assert_int_equal(json_pretty(body, n, &out, &out_len), -EFBIG);
	free(body);
	body = nested_arrays(130, 120, &n); /* a tenth of it is fine */
	assert_int_equal(json_pretty(body, n, &out, &out_len), 0);
	assert_true(out_len > 3u << 20 && out_len <= JSON_PRETTY_MAX);
	free(out);
	free(body);
}

static void test_pretty_of_the_deepest_document(void **state)
{
	char *deepest = nest(JSON_MAX_DEPTH);
	char *got = NULL;
	size_t len = 0, want = 0;

	(void)state;
	assert_int_equal(json_pretty(deepest, 2 * JSON_MAX_DEPTH, &got, &len), 0);
	/* JSON_MAX_DEPTH - 1 opening lines and as many closing ones, the innermost "[]" */
	for(size_t depth = 0; depth < JSON_MAX_DEPTH - 1; depth++)
		want += 2 * (2 * depth + 2);
	want += 2 * (JSON_MAX_DEPTH - 1) + 3;
	assert_int_equal(len, want);
	assert_int_equal(strlen(got), len);
	assert_non_null(strstr(got, "[]\n"));
	free(got);
	free(deepest);
}

static void test_string_end_skips_escapes_and_refuses_raw_controls(void **state)
{
	static const char s[] = "\"a\\\"b\" tail";

	(void)state;
	assert_int_equal(json_string_end(s, strlen(s), 0), 6); /* "a\"b" */
	assert_int_equal(json_string_end("\"\"", 2, 0), 2);
	assert_int_equal(json_string_end("x\"yz\"", 5, 1), 5);
	assert_int_equal(json_string_end("\"abc", 4, 0), 0);	 /* unterminated */
	assert_int_equal(json_string_end("\"a\\\"", 4, 0), 0);	 /* an escaped quote ends nothing */
	assert_int_equal(json_string_end("\"a\nb\"", 5, 0), 0);	 /* a raw newline */
	assert_int_equal(json_string_end("\"a\x7f\"", 4, 0), 4); /* DEL is not a control byte to JSON */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_end_skips_escapes_and_refuses_raw_controls),
		cmocka_unit_test(test_simple_escapes_are_decoded),
		cmocka_unit_test(test_unicode_escapes_become_utf8),
		cmocka_unit_test(test_surrogate_pairs_become_four_byte_utf8),
		cmocka_unit_test(test_lone_surrogates_and_nul_become_replacement_characters),
		cmocka_unit_test(test_string_of_a_non_string_is_eproto),
		cmocka_unit_test(test_types_are_reported),
		cmocka_unit_test(test_find_skips_nested_values),
		cmocka_unit_test(test_next_steps_over_a_whole_value),
		cmocka_unit_test(test_key_is_compares_whole_keys),
		cmocka_unit_test(test_truncated_input_is_eproto),
		cmocka_unit_test(test_trailing_data_is_eproto),
		cmocka_unit_test(test_whitespace_around_one_value_is_fine),
		cmocka_unit_test(test_bad_primitives_are_eproto),
		cmocka_unit_test(test_good_primitives_parse),
		cmocka_unit_test(test_broken_structure_is_eproto),
		cmocka_unit_test(test_control_bytes_and_nul_in_the_text_are_eproto),
		cmocka_unit_test(test_int_reads_the_whole_int64_range),
		cmocka_unit_test(test_int_rejects_out_of_range_and_fractions),
		cmocka_unit_test(test_deep_nesting_is_eproto_quickly),
		cmocka_unit_test(test_nesting_up_to_the_limit_parses),
		cmocka_unit_test(test_wide_objects_parse_in_linear_time),
		cmocka_unit_test(test_too_many_tokens_is_eproto),
		cmocka_unit_test(test_free_leaves_an_empty_document),
		cmocka_unit_test(test_span_is_the_text_of_a_value),
		cmocka_unit_test(test_span_of_no_token_is_empty),
		cmocka_unit_test(test_pretty_indents_two_spaces_a_level),
		cmocka_unit_test(test_pretty_keeps_keys_in_their_order),
		cmocka_unit_test(test_pretty_keeps_empty_containers_on_one_line),
		cmocka_unit_test(test_pretty_copies_strings_and_numbers_byte_for_byte),
		cmocka_unit_test(test_pretty_of_a_scalar_is_one_line),
		cmocka_unit_test(test_pretty_is_the_same_whatever_the_whitespace),
		cmocka_unit_test(test_pretty_of_the_deepest_document),
		cmocka_unit_test(test_pretty_refuses_to_grow_past_its_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
