/* test_run_request.c - the line written to `run`: every selector and option
 * of DESIGN.md's grammar, each bad line with its error words, the JSON form,
 * the POST bodies compared byte for byte, and the cost guard's count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/run_request.h"

#define TEXT_PATH  "/test_framework/v2/scenarios/run_scenarios_text/"
#define VOICE_PATH "/test_framework/v2/scenarios/run_scenarios/"

/* Parses a NUL-terminated line at offset 0, failing the test with why when it is refused. */
static void parse_ok(const char *line, struct run_request *r)
{
	char why[200] = "unset";
	int rc = run_request_parse(line, strlen(line), 0, r, why, sizeof(why));

	if(rc != 0)
		fail_msg("\"%s\": %d, %s", line, rc, why);
	assert_string_equal(why, "");
}

/* Parses buf[0..size) and expects EINVAL with exactly want; nothing is left to free. */
static void assert_refused_n(const char *buf, size_t size, off_t off, const char *want)
{
	struct run_request r;
	char why[200] = "unset";
	int rc = run_request_parse(buf, size, off, &r, why, sizeof(why));

	if(rc != -EINVAL)
		fail_msg("\"%.*s\": %d, not -EINVAL", (int)size, buf, rc);
	assert_string_equal(why, want);
	assert_null(r.ids);
	assert_null(r.tags);
	assert_null(r.folder);
	assert_null(r.name);
	assert_null(r.json);
}

static void assert_refused(const char *line, const char *want)
{
	assert_refused_n(line, strlen(line), 0, want);
}

/* The body of line for agent 42 (project 7; the agent's evaluators 5, 3, 9) is want. */
static void assert_body(const char *line, const char *want)
{
	static const uint64_t all[] = {5, 3, 9};
	struct run_request r;
	char why[200] = "unset", *body = NULL;

	parse_ok(line, &r);
	assert_int_equal(run_request_body(&r, 42, 7, all, 3, &body, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_non_null(body);
	assert_string_equal(body, want);
	free(body);
	run_request_free(&r);
}

/* The body of line for agent 42 is refused with want. */
static void assert_body_refused(const char *line, const char *want)
{
	struct run_request r;
	char why[200] = "unset", *body = (char *)"untouched";

	parse_ok(line, &r);
	assert_int_equal(run_request_body(&r, 42, 7, NULL, 0, &body, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, want);
	assert_null(body);
	run_request_free(&r);
}

/* ---- selectors and options ---- */

static void test_ids_are_kept_in_the_order_written_each_once(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text 101 102 101 7 102 9223372036854775807\n", &r);
	assert_string_equal(r.mode->word, "text");
	assert_string_equal(r.mode->path, TEXT_PATH);
	assert_int_equal(r.selector, RUN_IDS);
	assert_int_equal(r.nids, 4);
	assert_int_equal(r.ids[0], 101);
	assert_int_equal(r.ids[1], 102);
	assert_int_equal(r.ids[2], 7);
	assert_true(r.ids[3] == INT64_MAX);
	assert_int_equal(r.frequency, 0);
	assert_int_equal(r.concurrency, 0);
	assert_null(r.name);
	assert_null(r.json);
	run_request_free(&r);
}

static void test_thousands_of_ids_are_deduplicated_in_order(void **state)
{
	char *line = malloc(RUN_MAX_WRITE);
	size_t len = (size_t)snprintf(line, RUN_MAX_WRITE, "text");
	struct run_request r;

	(void)state;
	assert_non_null(line);
	/* 1..5000 descending, then each again: 5000 ids kept, 5000 down to 1 */
	for(int pass = 0; pass < 2; pass++)
		for(int id = 5000; id >= 1; id--)
			len += (size_t)snprintf(line + len, RUN_MAX_WRITE - len, " %d", id);
	assert_true(len < RUN_MAX_WRITE);
	parse_ok(line, &r);
	assert_int_equal(r.nids, 5000);
	for(size_t i = 0; i < r.nids; i++)
		assert_int_equal(r.ids[i], 5000 - i);
	run_request_free(&r);
	free(line);
}

static void test_voice_posts_to_run_scenarios(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("voice 101", &r);
	assert_string_equal(r.mode->word, "voice");
	assert_string_equal(r.mode->path, VOICE_PATH);
	run_request_free(&r);
}

static void test_all_selects_the_agents_evaluators(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text all\n", &r);
	assert_int_equal(r.selector, RUN_ALL);
	assert_int_equal(r.nids, 0);
	run_request_free(&r);
}

static void test_tags_are_verbatim_commas_included_repeats_kept(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text tag=smoke tag=a,b tag=x=y tag=\xc3\xa9t\xc3\xa9 tag=smoke", &r);
	assert_int_equal(r.selector, RUN_TAGS);
	assert_int_equal(r.ntags, 5);
	assert_string_equal(r.tags[0], "smoke");
	assert_string_equal(r.tags[1], "a,b");
	assert_string_equal(r.tags[2], "x=y");
	assert_string_equal(r.tags[3], "\xc3\xa9t\xc3\xa9");
	assert_string_equal(r.tags[4], "smoke");
	run_request_free(&r);
}

static void test_a_folder_is_one_path(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("voice folder=Sales.Inbound", &r);
	assert_int_equal(r.selector, RUN_FOLDER);
	assert_string_equal(r.folder, "Sales.Inbound");
	run_request_free(&r);
}

static void test_frequency_and_concurrency_span_1_to_1000(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text frequency=1 101 concurrency=1000", &r);
	assert_int_equal(r.frequency, 1);
	assert_int_equal(r.concurrency, 1000);
	run_request_free(&r);
	parse_ok("text concurrency=1 frequency=1000 all", &r);
	assert_int_equal(r.frequency, 1000);
	assert_int_equal(r.concurrency, 1);
	run_request_free(&r);
}

static void test_name_takes_the_rest_of_the_line_trailing_blanks_removed(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("voice 101 102 frequency=2 name=Release 7 \t \n", &r);
	assert_string_equal(r.name, "Release 7");
	assert_int_equal(r.nids, 2);
	assert_int_equal(r.frequency, 2);
	run_request_free(&r);
	/* what would be words is the name's: '=', tabs, "tag=" */
	parse_ok("text 101 name=a=b  c\td tag=x all", &r);
	assert_string_equal(r.name, "a=b  c\td tag=x all");
	assert_int_equal(r.selector, RUN_IDS);
	assert_int_equal(r.ntags, 0);
	run_request_free(&r);
	/* the blanks after '=' are the name's too */
	parse_ok("text all name=  x", &r);
	assert_string_equal(r.name, "  x");
	run_request_free(&r);
}

static void test_words_are_separated_by_spaces_and_tabs(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok(" \t text\t101  \t102 \t", &r);
	assert_string_equal(r.mode->word, "text");
	assert_int_equal(r.nids, 2);
	assert_int_equal(r.ids[0], 101);
	assert_int_equal(r.ids[1], 102);
	run_request_free(&r);
}

static void test_the_final_newline_is_optional(void **state)
{
	struct run_request a, b;

	(void)state;
	parse_ok("text tag=smoke", &a);
	parse_ok("text tag=smoke\n", &b);
	assert_int_equal(a.ntags, 1);
	assert_int_equal(b.ntags, 1);
	assert_string_equal(a.tags[0], b.tags[0]);
	run_request_free(&a);
	run_request_free(&b);
}

static void test_a_write_of_64_kib_is_taken(void **state)
{
	char *line = malloc(RUN_MAX_WRITE);
	struct run_request r;
	char why[200];

	(void)state;
	assert_non_null(line);
	memset(line, ' ', RUN_MAX_WRITE);
	memcpy(line, "text all", 8);
	line[RUN_MAX_WRITE - 1] = '\n';
	assert_int_equal(run_request_parse(line, RUN_MAX_WRITE, 0, &r, why, sizeof(why)), 0);
	assert_int_equal(r.selector, RUN_ALL);
	run_request_free(&r);
	free(line);
}

/* ---- bad lines ---- */

static void test_an_empty_value_is_einval(void **state)
{
	(void)state;
	assert_refused("text tag=", "empty value in word 2");
	assert_refused("text folder=\n", "empty value in word 2");
	assert_refused("text 1 frequency=", "empty value in word 3");
	assert_refused("text 1 concurrency= 2", "empty value in word 3");
	assert_refused("text 1 name=", "empty value in word 3");
	assert_refused("text 1 name= \t \n", "empty value in word 3");
}

static void test_selectors_of_two_kinds_are_einval(void **state)
{
	(void)state;
	assert_refused("text 101 all", "selectors of two kinds in word 3");
	assert_refused("text all 101", "selectors of two kinds in word 3");
	assert_refused("text tag=a folder=b", "selectors of two kinds in word 3");
	assert_refused("text folder=b tag=a", "selectors of two kinds in word 3");
	assert_refused("text 1 frequency=2 tag=x", "selectors of two kinds in word 4");
	assert_refused("text tag=x tag=y 5", "selectors of two kinds in word 4");
}

static void test_no_selector_is_einval(void **state)
{
	(void)state;
	assert_refused("text", "no selector in word 2");
	assert_refused("text\n", "no selector in word 2");
	assert_refused("voice \t \n", "no selector in word 2");
	assert_refused("text frequency=2 concurrency=3", "no selector in word 4");
	assert_refused("text name=x", "no selector in word 3");
}

static void test_name_is_last_so_a_selector_after_it_is_its_text(void **state)
{
	(void)state;
	assert_refused("text name=Release 7 101", "no selector in word 3");
}

static void test_unknown_words_are_einval(void **state)
{
	(void)state;
	assert_refused("text 042", "unknown word \"042\" in word 2");
	assert_refused("text 101 +5", "unknown word \"+5\" in word 3");
	assert_refused("text 0", "unknown word \"0\" in word 2");
	assert_refused("text 9223372036854775808", "unknown word \"9223372036854775808\" in word 2");
	assert_refused("text ALL", "unknown word \"ALL\" in word 2");
	assert_refused("text all=1", "unknown word \"all=1\" in word 2");
	assert_refused("text tag", "unknown word \"tag\" in word 2");
	assert_refused("text tags=x", "unknown word \"tags=x\" in word 2");
	assert_refused("text =x", "unknown word \"=x\" in word 2");
	assert_refused("text 1 Name=x", "unknown word \"Name=x\" in word 3");
	assert_refused("text 1 x\"y\\z", "unknown word \"x\\\"y\\\\z\" in word 3");
}

static void test_a_long_word_is_cut_in_the_error_at_a_character(void **state)
{
	char line[200];

	(void)state;
	snprintf(line, sizeof(line), "text %s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_refused(line, "unknown word \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"... in word 2");
	/* 39 bytes, then a 2-byte character across the 40th: cut before it */
	snprintf(line, sizeof(line), "text %s\xc3\xa9zzz", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_refused(line, "unknown word \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"... in word 2");
	/* exactly 40 bytes: whole */
	snprintf(line, sizeof(line), "text %s", "cccccccccccccccccccccccccccccccccccccccc");
	assert_refused(line, "unknown word \"cccccccccccccccccccccccccccccccccccccccc\" in word 2");
}

static void test_unknown_or_missing_modes_are_einval(void **state)
{
	(void)state;
	assert_refused("chat all", "unknown mode \"chat\" in word 1");
	assert_refused("Text all", "unknown mode \"Text\" in word 1");
	assert_refused("text,voice all", "unknown mode \"text,voice\" in word 1");
	assert_refused("101", "unknown mode \"101\" in word 1");
	assert_refused("", "no mode in word 1");
	assert_refused("\n", "no mode in word 1");
	assert_refused(" \t \n", "no mode in word 1");
	assert_refused_n(NULL, 0, 0, "no mode in word 1");
}

static void test_a_repeated_option_or_single_selector_is_einval(void **state)
{
	(void)state;
	assert_refused("text 1 frequency=2 frequency=2", "frequency given twice in word 4");
	assert_refused("text concurrency=5 1 concurrency=6", "concurrency given twice in word 4");
	assert_refused("text all all", "all given twice in word 3");
	assert_refused("text folder=a folder=a", "folder given twice in word 3");
}

static void test_out_of_range_numbers_are_einval(void **state)
{
	(void)state;
	assert_refused("text 1 frequency=0", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=1001", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=01", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=-1", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=+2", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=1e3", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=2x", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 frequency=99999999999999999999", "frequency must be 1 to 1000 in word 3");
	assert_refused("text 1 concurrency=0", "concurrency must be 1 to 1000 in word 3");
	assert_refused("text 1 concurrency=1001", "concurrency must be 1 to 1000 in word 3");
}

static void test_nul_and_control_bytes_are_einval(void **state)
{
	(void)state;
	assert_refused_n("text 1\0 2", 9, 0, "NUL byte in word 2");
	assert_refused_n("text 1 2\0", 9, 0, "NUL byte in word 3");
	assert_refused_n("te\0xt all", 9, 0, "NUL byte in word 1");
	assert_refused_n("text all name=a\0b", 17, 0, "NUL byte in word 3");
	assert_refused("text all\n\n", "newline in word 2");
	assert_refused("text 1\n2\n", "newline in word 2");
	assert_refused("text\nall", "newline in word 2");
	assert_refused("text all name=a\nb", "newline in word 3");
	assert_refused("text all\r\n", "control character in word 2");
	assert_refused("text\r all", "control character in word 2");
	assert_refused("te\x01xt all", "control character in word 1");
	assert_refused("text all name=a\x1b[2Jb", "control character in word 3");
	assert_refused("text tag=a\x7f", "control character in word 2");
}

static void test_over_64_kib_is_einval(void **state)
{
	char *line = malloc(RUN_MAX_WRITE + 1);

	(void)state;
	assert_non_null(line);
	memset(line, ' ', RUN_MAX_WRITE + 1);
	memcpy(line, "text all", 8);
	assert_refused_n(line, RUN_MAX_WRITE + 1, 0, "more than 65536 bytes in one write");
	free(line);
}

static void test_a_write_not_at_offset_0_is_einval(void **state)
{
	(void)state;
	assert_refused_n("text all", 8, 1, "write at offset 1, not 0");
	assert_refused_n("text all", 8, 65536, "write at offset 65536, not 0");
}

static void test_why_may_be_absent(void **state)
{
	struct run_request r;

	(void)state;
	assert_int_equal(run_request_parse("text 042", 8, 0, &r, NULL, 0), -EINVAL);
	assert_int_equal(run_request_parse("text 42", 7, 0, &r, NULL, 0), 0);
	run_request_free(&r);
}

/* ---- the JSON form ---- */

static void test_a_json_object_may_span_lines(void **state)
{
	static const char obj[] = "{\n  \"scenarios\": [1, 2],\n  \"frequency\": 3,\n"
				  "  \"websocket_headers\": {\"X\": \"{[\\\"\"}\n}";
	struct run_request r;
	char line[200];

	(void)state;
	snprintf(line, sizeof(line), "text %s\n\n", obj);
	parse_ok(line, &r);
	assert_int_equal(r.selector, RUN_JSON);
	assert_string_equal(r.mode->path, TEXT_PATH);
	assert_string_equal(r.json, obj);
	assert_int_equal(r.frequency, 3);
	assert_int_equal(r.json_scenarios, 2);
	assert_int_equal(r.personalities, 0);
	assert_int_equal(r.test_profiles, 0);
	run_request_free(&r);
}

static void test_a_json_object_may_start_on_the_next_line(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("voice\r\n\t{\"tags\": [\"a\"]}  \r\n", &r);
	assert_int_equal(r.selector, RUN_JSON);
	assert_string_equal(r.mode->word, "voice");
	assert_string_equal(r.json, "{\"tags\": [\"a\"]}");
	assert_int_equal(r.frequency, 0);
	assert_int_equal(r.json_scenarios, 0);
	run_request_free(&r);
}

static void test_json_must_end_the_input(void **state)
{
	(void)state;
	assert_refused("text {\"scenarios\": [1]} all", "text after the JSON object in word 3");
	assert_refused("text {}{}", "text after the JSON object in word 3");
	assert_refused("text {}}", "text after the JSON object in word 3");
	assert_refused_n("text {}\n\0", 9, 0, "text after the JSON object in word 3");
}

static void test_json_that_is_not_one_object_is_einval(void **state)
{
	(void)state;
	assert_refused("text [1, 2]", "unknown word \"[1,\" in word 2");
	assert_refused("text \"x\"", "unknown word \"\\\"x\\\"\" in word 2");
	assert_refused("text 1 {\"a\": 1}", "unknown word \"{\\\"a\\\":\" in word 3");
	assert_refused("text {", "invalid JSON object in word 2");
	assert_refused("text {\"a\": }", "invalid JSON object in word 2");
	assert_refused("text {\"a\": 1]", "invalid JSON object in word 2");
	assert_refused("text {\"a\" 1}", "invalid JSON object in word 2");
	assert_refused("text {\"a\": 01}", "invalid JSON object in word 2");
	assert_refused("text {\"a\": \"}", "invalid JSON object in word 2");
	assert_refused("text {\"a\\x\": 1}", "invalid JSON object in word 2");
	assert_refused_n("text {\"a\": \"\0\"}", 15, 0, "invalid JSON object in word 2");
	assert_refused_n("text {\"a\":\0 1}", 14, 0, "invalid JSON object in word 2");
}

static void test_assistant_id_in_json_is_einval(void **state)
{
	(void)state;
	assert_refused("text {\"scenarios\": [1], \"assistant_id\": \"asst_1\"}",
		       "assistant_id not allowed in word 2");
	assert_refused("text {\"assistant_id\": null}", "assistant_id not allowed in word 2");
	/* the name as the API reads it, escapes decoded */
	assert_refused("text {\"assistant\\u005fid\": \"a\"}", "assistant_id not allowed in word 2");
}

static void test_json_frequency_must_be_a_positive_integer(void **state)
{
	static const char *const bad[] = {"0",	 "-1",	 "\"2\"", "1.5",
					  "1e2", "true", "[2]",	  "9223372036854775808"};
	struct run_request r;

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[100];

		snprintf(line, sizeof(line), "text {\"scenarios\": [1], \"frequency\": %s}", bad[i]);
		assert_refused(line, "frequency must be a positive integer in word 2");
	}
	parse_ok("text {\"frequency\": null}", &r);
	assert_int_equal(r.frequency, 0);
	run_request_free(&r);
	parse_ok("text {\"frequency\": 5000}", &r);
	assert_int_equal(r.frequency, 5000);
	run_request_free(&r);
	/* repeated: the last is the API's */
	parse_ok("text {\"frequency\": 2, \"frequency\": 30}", &r);
	assert_int_equal(r.frequency, 30);
	run_request_free(&r);
}

static void test_json_counts_personalities_profiles_and_scenarios(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("voice {\"scenarios\": [1, 2, 3], \"personality_ids\": [4, 5], \"personality_id\": 6, "
		 "\"test_profile_ids\": [7, 8, 9, 10]}",
		 &r);
	assert_int_equal(r.json_scenarios, 3);
	assert_int_equal(r.personalities, 3);
	assert_int_equal(r.test_profiles, 4);
	run_request_free(&r);
	parse_ok("voice {\"scenarios\": [1, \"Sales\"], \"personality_ids\": null, \"test_profile_id\": 2}",
		 &r);
	assert_int_equal(r.json_scenarios, 0); /* a folder path in scenarios: the caller counts */
	assert_int_equal(r.personalities, 0);
	assert_int_equal(r.test_profiles, 1);
	run_request_free(&r);
	parse_ok("voice {\"test_profile_\\u0069ds\": [1, 2], \"scenarios\": []}", &r);
	assert_int_equal(r.test_profiles, 2);
	assert_int_equal(r.json_scenarios, 0);
	run_request_free(&r);
}

/* ---- the bodies ---- */

static void test_the_body_of_ids(void **state)
{
	(void)state;
	assert_body("text 101 102 101", "{\"agent_id\": 42, \"scenarios\": [101, 102]}");
	assert_body(
		"voice 101 102 frequency=2 name=Release 7\n",
		"{\"agent_id\": 42, \"scenarios\": [101, 102], \"frequency\": 2, \"name\": \"Release 7\"}");
}

static void test_the_body_of_all_lists_the_agents_evaluators(void **state)
{
	(void)state;
	assert_body("text all", "{\"agent_id\": 42, \"scenarios\": [5, 3, 9]}");
	assert_body_refused("text all", "no evaluators");
}

static void test_the_body_of_tags_escapes_them(void **state)
{
	(void)state;
	assert_body("text tag=smoke tag=a,b tag=q\"u\\o\\te tag=smoke",
		    "{\"agent_id\": 42, \"tags\": [\"smoke\", \"a,b\", \"q\\\"u\\\\o\\\\te\", \"smoke\"]}");
}

static void test_the_body_of_a_folder_carries_the_project(void **state)
{
	struct run_request r;
	char why[100], *body;

	(void)state;
	assert_body("voice folder=Sales.Inbound",
		    "{\"agent_id\": 42, \"folder_path\": \"Sales.Inbound\", \"project_id\": 7}");
	/* no project known: left out, the API says what it needs */
	parse_ok("voice folder=Sales", &r);
	assert_int_equal(run_request_body(&r, 42, 0, NULL, 0, &body, why, sizeof(why)), 0);
	assert_string_equal(body, "{\"agent_id\": 42, \"folder_path\": \"Sales\"}");
	free(body);
	assert_int_equal(run_request_body(&r, 42, -1, NULL, 0, &body, why, sizeof(why)), 0);
	assert_string_equal(body, "{\"agent_id\": 42, \"folder_path\": \"Sales\"}");
	free(body);
	run_request_free(&r);
}

static void test_the_body_with_every_option(void **state)
{
	(void)state;
	assert_body("text concurrency=5 tag=t frequency=1000 name=x\ty \"z\" ",
		    "{\"agent_id\": 42, \"tags\": [\"t\"], \"frequency\": 1000, \"concurrency_limit\": 5, "
		    "\"name\": \"x\\u0009y \\\"z\\\"\"}");
}

static void test_a_json_body_gets_agent_id_as_its_first_member(void **state)
{
	(void)state;
	assert_body("text {\"scenarios\": [1]}", "{\"agent_id\": 42, \"scenarios\": [1]}");
	assert_body("text {\n  \"scenarios\": [1],\n  \"name\": \"n\"\n}\n",
		    "{\"agent_id\": 42,\n  \"scenarios\": [1],\n  \"name\": \"n\"\n}");
	assert_body("text {}", "{\"agent_id\": 42}");
	assert_body("text { }", "{\"agent_id\": 42 }");
	assert_body("voice {\"tags\":[\"a\"],\"frequency\":2}",
		    "{\"agent_id\": 42, \"tags\":[\"a\"],\"frequency\":2}");
}

static void test_a_json_body_with_this_agents_id_is_sent_as_written(void **state)
{
	(void)state;
	assert_body("text {\"scenarios\": [1], \"agent_id\": 42}", "{\"scenarios\": [1], \"agent_id\": 42}");
	assert_body("text {\"agent_id\":42,\"agent_id\":42}", "{\"agent_id\":42,\"agent_id\":42}");
}

static void test_a_json_body_with_another_agents_id_is_einval(void **state)
{
	(void)state;
	assert_body_refused("text {\"agent_id\": 7}", "agent_id 7 is not this agent's in word 2");
	assert_body_refused("text {\"agent_id\": \"42\"}", "agent_id \"42\" is not this agent's in word 2");
	assert_body_refused("text {\"agent_id\": 42.0}", "agent_id 42.0 is not this agent's in word 2");
	assert_body_refused("text {\"agent_id\": null}", "agent_id null is not this agent's in word 2");
	assert_body_refused("text {\"agent_id\": -42}", "agent_id -42 is not this agent's in word 2");
	/* a repeat, or an escaped name, does not slip past */
	assert_body_refused("text {\"agent_id\": 42, \"agent_id\": 7}",
			    "agent_id 7 is not this agent's in word 2");
	assert_body_refused("text {\"agent_id\": 42, \"agent\\u005fid\": 8}",
			    "agent_id 8 is not this agent's in word 2");
	/* shown cut, one line */
	assert_body_refused(
		"text {\"agent_id\": [1,\n2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]}",
		"agent_id [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ... is not this agent's in word 2");
}

static void test_a_json_body_checks_what_it_is_given(void **state)
{
	struct run_request r = {.selector = RUN_JSON, .json = (char *)"[1]"};
	char why[100], *body;

	(void)state;
	assert_int_equal(run_request_body(&r, 42, 7, NULL, 0, &body, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "invalid JSON object in word 2");
	r.json = (char *)"{\"assistant_id\": \"a\"}";
	assert_int_equal(run_request_body(&r, 42, 7, NULL, 0, &body, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "assistant_id not allowed in word 2");
	r.json = NULL;
	assert_int_equal(run_request_body(&r, 42, 7, NULL, 0, &body, why, sizeof(why)), -EINVAL);
	assert_null(body);
}

/* ---- the count ---- */

static void test_conversations_multiply_evaluators_frequency_and_overrides(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text 1 2 3", &r);
	assert_int_equal(run_request_conversations(&r, r.nids), 3);
	run_request_free(&r);
	parse_ok("voice all frequency=7", &r);
	assert_int_equal(run_request_conversations(&r, 30), 210);
	assert_int_equal(run_request_conversations(&r, 0), 0);
	run_request_free(&r);
	parse_ok("voice {\"scenarios\": [1, 2], \"frequency\": 5, \"personality_ids\": [1, 2, 3], "
		 "\"test_profile_ids\": [4, 5, 6, 7]}",
		 &r);
	assert_int_equal(run_request_conversations(&r, r.json_scenarios), 2 * 5 * 3 * 4);
	run_request_free(&r);
	parse_ok("voice {\"scenarios\": [1], \"personality_ids\": [], \"test_profile_ids\": []}", &r);
	assert_int_equal(run_request_conversations(&r, r.json_scenarios), 1);
	run_request_free(&r);
}

static void test_conversations_saturate(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text {\"frequency\": 9223372036854775807, \"personality_ids\": [1, 2]}", &r);
	assert_true(run_request_conversations(&r, 3) == UINT64_MAX);
	assert_true(run_request_conversations(&r, 1) == (uint64_t)INT64_MAX * 2);
	assert_int_equal(run_request_conversations(&r, 0), 0);
	run_request_free(&r);
}

static void test_free_is_idempotent(void **state)
{
	struct run_request r;

	(void)state;
	parse_ok("text tag=a tag=b name=n", &r);
	run_request_free(&r);
	assert_null(r.tags);
	assert_int_equal(r.ntags, 0);
	run_request_free(&r);
	run_request_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_are_kept_in_the_order_written_each_once),
		cmocka_unit_test(test_thousands_of_ids_are_deduplicated_in_order),
		cmocka_unit_test(test_voice_posts_to_run_scenarios),
		cmocka_unit_test(test_all_selects_the_agents_evaluators),
		cmocka_unit_test(test_tags_are_verbatim_commas_included_repeats_kept),
		cmocka_unit_test(test_a_folder_is_one_path),
		cmocka_unit_test(test_frequency_and_concurrency_span_1_to_1000),
		cmocka_unit_test(test_name_takes_the_rest_of_the_line_trailing_blanks_removed),
		cmocka_unit_test(test_words_are_separated_by_spaces_and_tabs),
		cmocka_unit_test(test_the_final_newline_is_optional),
		cmocka_unit_test(test_a_write_of_64_kib_is_taken),
		cmocka_unit_test(test_an_empty_value_is_einval),
		cmocka_unit_test(test_selectors_of_two_kinds_are_einval),
		cmocka_unit_test(test_no_selector_is_einval),
		cmocka_unit_test(test_name_is_last_so_a_selector_after_it_is_its_text),
		cmocka_unit_test(test_unknown_words_are_einval),
		cmocka_unit_test(test_a_long_word_is_cut_in_the_error_at_a_character),
		cmocka_unit_test(test_unknown_or_missing_modes_are_einval),
		cmocka_unit_test(test_a_repeated_option_or_single_selector_is_einval),
		cmocka_unit_test(test_out_of_range_numbers_are_einval),
		cmocka_unit_test(test_nul_and_control_bytes_are_einval),
		cmocka_unit_test(test_over_64_kib_is_einval),
		cmocka_unit_test(test_a_write_not_at_offset_0_is_einval),
		cmocka_unit_test(test_why_may_be_absent),
		cmocka_unit_test(test_a_json_object_may_span_lines),
		cmocka_unit_test(test_a_json_object_may_start_on_the_next_line),
		cmocka_unit_test(test_json_must_end_the_input),
		cmocka_unit_test(test_json_that_is_not_one_object_is_einval),
		cmocka_unit_test(test_assistant_id_in_json_is_einval),
		cmocka_unit_test(test_json_frequency_must_be_a_positive_integer),
		cmocka_unit_test(test_json_counts_personalities_profiles_and_scenarios),
		cmocka_unit_test(test_the_body_of_ids),
		cmocka_unit_test(test_the_body_of_all_lists_the_agents_evaluators),
		cmocka_unit_test(test_the_body_of_tags_escapes_them),
		cmocka_unit_test(test_the_body_of_a_folder_carries_the_project),
		cmocka_unit_test(test_the_body_with_every_option),
		cmocka_unit_test(test_a_json_body_gets_agent_id_as_its_first_member),
		cmocka_unit_test(test_a_json_body_with_this_agents_id_is_sent_as_written),
		cmocka_unit_test(test_a_json_body_with_another_agents_id_is_einval),
		cmocka_unit_test(test_a_json_body_checks_what_it_is_given),
		cmocka_unit_test(test_conversations_multiply_evaluators_frequency_and_overrides),
		cmocka_unit_test(test_conversations_saturate),
		cmocka_unit_test(test_free_is_idempotent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
