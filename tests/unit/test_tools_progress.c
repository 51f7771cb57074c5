/* test_tools_progress.c - a tools-only import's progress answer
 * (AutoFetchProgressResponse): the strict decoder, and the text of
 * `tools-progress` compared byte for byte, as scripts parse it.
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

#include "cekurafs/tools_progress.h"

#define PID "6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a"

static int decode(const char *body, struct tools_progress *t)
{
	return tools_progress_decode(body, strlen(body), t);
}

static void assert_renders(const char *json, const char *id, const char *want)
{
	char *got = tools_progress_render(json, id);

	if(!got)
		fail_msg("%s did not render", json);
	assert_string_equal(got, want);
	free(got);
}

/* ---- the decoder ---- */

static void test_a_completed_answer_decodes_every_field(void **state)
{
	struct tools_progress t;

	(void)state;
	assert_int_equal(decode("{\"status\": \"completed\", \"tools_created\": 1, \"tools_updated\": 2, "
				"\"message\": \"Imported 1 tool, updated 2\", \"error\": null}",
				&t),
			 0);
	assert_string_equal(t.status, "completed");
	assert_true(t.has_created);
	assert_int_equal(t.created, 1);
	assert_true(t.has_updated);
	assert_int_equal(t.updated, 2);
	assert_string_equal(t.message, "Imported 1 tool, updated 2");
	assert_null(t.error);
	tools_progress_free(&t);
	assert_null(t.status);
	tools_progress_free(&t); /* twice: nothing left to free */
	tools_progress_free(NULL);
}

static void test_each_status_is_taken_as_sent(void **state)
{
	static const char *const statuses[] = {"in_progress", "completed", "failed", "queued", "", "Done!"};

	(void)state;
	for(size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char body[128];
		struct tools_progress t;

		snprintf(body, sizeof(body), "{\"status\": \"%s\"}", statuses[i]);
		assert_int_equal(decode(body, &t), 0);
		assert_string_equal(t.status, statuses[i]);
		tools_progress_free(&t);
	}
}

static void test_null_and_absent_fields_are_none(void **state)
{
	struct tools_progress t;

	(void)state;
	assert_int_equal(decode("{\"status\": \"in_progress\", \"tools_created\": null, \"tools_updated\": "
				"null, \"message\": null, \"error\": null}",
				&t),
			 0);
	assert_false(t.has_created);
	assert_false(t.has_updated);
	assert_null(t.message);
	assert_null(t.error);
	tools_progress_free(&t);
	assert_int_equal(decode("{\"status\": \"in_progress\"}", &t), 0);
	assert_false(t.has_created);
	assert_false(t.has_updated);
	assert_null(t.message);
	assert_null(t.error);
	tools_progress_free(&t);
}

static void test_a_failed_answer_keeps_its_error_and_other_keys_are_ignored(void **state)
{
	struct tools_progress t;

	(void)state;
	assert_int_equal(decode("{\"agent_id\": 5, \"status\": \"failed\", \"tools_created\": 0, "
				"\"tools_updated\": null, \"message\": \"\", \"error\": \"Provider returned "
				"401: caf\\u00e9\", \"extra\": {\"a\": [1, null]}}",
				&t),
			 0);
	assert_string_equal(t.status, "failed");
	assert_true(t.has_created);
	assert_int_equal(t.created, 0);
	assert_false(t.has_updated);
	assert_string_equal(t.message, ""); /* empty, not null */
	assert_string_equal(t.error, "Provider returned 401: caf\xc3\xa9");
	tools_progress_free(&t);
}

static void test_counts_span_int64(void **state)
{
	struct tools_progress t;

	(void)state;
	assert_int_equal(decode("{\"status\": \"completed\", \"tools_created\": 9223372036854775807, "
				"\"tools_updated\": -3}",
				&t),
			 0);
	assert_true(t.created == INT64_MAX);
	assert_int_equal(t.updated, -3);
	tools_progress_free(&t);
}

static void test_answers_of_the_wrong_shape_are_eproto(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"null",
		"[]",
		"[{\"status\": \"completed\"}]",
		"\"completed\"",
		"{}",
		"{\"status\": null}",
		"{\"status\": 3}",
		"{\"status\": true}",
		"{\"status\": [\"completed\"]}",
		"{\"status\": {\"s\": \"completed\"}}",
		"{\"status\": \"completed\", \"tools_created\": \"1\"}",
		"{\"status\": \"completed\", \"tools_created\": 1.5}",
		"{\"status\": \"completed\", \"tools_created\": 1e3}",
		"{\"status\": \"completed\", \"tools_created\": true}",
		"{\"status\": \"completed\", \"tools_updated\": []}",
		"{\"status\": \"completed\", \"tools_updated\": 99999999999999999999}",
		"{\"status\": \"completed\", \"message\": 5}",
		"{\"status\": \"completed\", \"message\": [\"m\"]}",
		"{\"status\": \"completed\", \"error\": false}",
		"{\"status\": \"completed\", \"error\": {\"detail\": \"x\"}}",
		"{\"status\": \"completed\"",
		"{\"status\": \"completed\"} {}",
		"{\"status\": \"a\\u00\"}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tools_progress t;
		int rc = decode(bad[i], &t);

		if(rc != -EPROTO)
			fail_msg("decoding %s gave %d", bad[i], rc);
		assert_null(t.status);
		assert_null(t.message);
		assert_null(t.error);
		assert_false(t.has_created);
		assert_null(tools_progress_render(bad[i], PID));
	}
}

static void test_a_body_with_a_nul_byte_is_eproto(void **state)
{
	struct tools_progress t;

	(void)state;
	assert_int_equal(tools_progress_decode("{\"status\": \"x\"}\0", 16, &t), -EPROTO);
	assert_int_equal(tools_progress_decode(NULL, 0, &t), -EPROTO);
	assert_null(tools_progress_render(NULL, PID));
}

/* ---- the text of tools-progress ---- */

static void test_a_completed_import_renders_every_line(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"completed\", \"tools_created\": 1, \"tools_updated\": 2, "
		       "\"message\": \"Imported 1 tool, updated 2\", \"error\": null}",
		       PID,
		       "completed\n"
		       "progress_id: " PID "\n"
		       "tools_created: 1\n"
		       "tools_updated: 2\n"
		       "message: Imported 1 tool, updated 2\n");
}

static void test_an_import_in_progress_leaves_null_counts_bare(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"in_progress\", \"tools_created\": null, \"tools_updated\": null, "
		       "\"message\": \"Discovering tools\", \"error\": null}",
		       PID,
		       "in_progress\n"
		       "progress_id: " PID "\n"
		       "tools_created:\n"
		       "tools_updated:\n"
		       "message: Discovering tools\n");
}

static void test_a_failed_import_shows_its_error_and_no_null_message(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"failed\", \"tools_created\": null, \"tools_updated\": null, "
		       "\"message\": null, \"error\": \"Provider returned 401: invalid API key\"}",
		       PID,
		       "failed\n"
		       "progress_id: " PID "\n"
		       "tools_created:\n"
		       "tools_updated:\n"
		       "error: Provider returned 401: invalid API key\n");
}

static void test_message_and_error_both_shown_in_that_order(void **state)
{
	(void)state;
	assert_renders("{\"error\": \"e\", \"message\": \"m\", \"tools_updated\": 0, \"tools_created\": 0, "
		       "\"status\": \"failed\"}",
		       "p-1",
		       "failed\n"
		       "progress_id: p-1\n"
		       "tools_created: 0\n"
		       "tools_updated: 0\n"
		       "message: m\n"
		       "error: e\n");
}

static void test_absent_fields_render_as_null_ones(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"in_progress\"}", "p",
		       "in_progress\nprogress_id: p\ntools_created:\ntools_updated:\n");
}

static void test_an_empty_message_keeps_its_line(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"completed\", \"tools_created\": 0, \"tools_updated\": 0, "
		       "\"message\": \"\", \"error\": \"\"}",
		       "p",
		       "completed\nprogress_id: p\ntools_created: 0\ntools_updated: 0\nmessage: \nerror: \n");
}

static void test_odd_status_words_become_one_word(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"\"}", "p",
		       "unknown\nprogress_id: p\ntools_created:\ntools_updated:\n");
	assert_renders("{\"status\": \"in progress\"}", "p",
		       "in_progress\nprogress_id: p\ntools_created:\ntools_updated:\n");
	assert_renders("{\"status\": \"a\\tb\\nc\\rd\\u001b[31me\\u007f\"}", "p",
		       "a_b_c_d_[31me_\nprogress_id: p\ntools_created:\ntools_updated:\n");
	assert_renders("{\"status\": \"Completed\"}", "p",
		       "Completed\nprogress_id: p\ntools_created:\ntools_updated:\n");
	assert_renders("{\"status\": \"caf\\u00e9\"}", "p",
		       "caf\xc3\xa9\nprogress_id: p\ntools_created:\ntools_updated:\n");
}

static void test_the_id_is_one_word_or_unknown(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"completed\"}", NULL,
		       "completed\nprogress_id: unknown\ntools_created:\ntools_updated:\n");
	assert_renders("{\"status\": \"completed\"}", "",
		       "completed\nprogress_id: unknown\ntools_created:\ntools_updated:\n");
	assert_renders("{\"status\": \"completed\"}", "a b\nc",
		       "completed\nprogress_id: a_b_c\ntools_created:\ntools_updated:\n");
}

static void test_control_bytes_in_message_and_error_become_spaces(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"failed\", \"message\": \"two\\nlines\\r\\tand \\u001b[2J\", "
		       "\"error\": \"x\\u0000y\\u007fz\"}",
		       "p",
		       "failed\nprogress_id: p\ntools_created:\ntools_updated:\n"
		       "message: two lines  and  [2J\n"
		       "error: x\xef\xbf\xbdy z\n");
}

static void test_negative_and_large_counts_render_as_numbers(void **state)
{
	(void)state;
	assert_renders("{\"status\": \"completed\", \"tools_created\": 9223372036854775807, "
		       "\"tools_updated\": -1}",
		       "p",
		       "completed\nprogress_id: p\ntools_created: 9223372036854775807\ntools_updated: -1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_completed_answer_decodes_every_field),
		cmocka_unit_test(test_each_status_is_taken_as_sent),
		cmocka_unit_test(test_null_and_absent_fields_are_none),
		cmocka_unit_test(test_a_failed_answer_keeps_its_error_and_other_keys_are_ignored),
		cmocka_unit_test(test_counts_span_int64),
		cmocka_unit_test(test_answers_of_the_wrong_shape_are_eproto),
		cmocka_unit_test(test_a_body_with_a_nul_byte_is_eproto),
		cmocka_unit_test(test_a_completed_import_renders_every_line),
		cmocka_unit_test(test_an_import_in_progress_leaves_null_counts_bare),
		cmocka_unit_test(test_a_failed_import_shows_its_error_and_no_null_message),
		cmocka_unit_test(test_message_and_error_both_shown_in_that_order),
		cmocka_unit_test(test_absent_fields_render_as_null_ones),
		cmocka_unit_test(test_an_empty_message_keeps_its_line),
		cmocka_unit_test(test_odd_status_words_become_one_word),
		cmocka_unit_test(test_the_id_is_one_word_or_unknown),
		cmocka_unit_test(test_control_bytes_in_message_and_error_become_spaces),
		cmocka_unit_test(test_negative_and_large_counts_render_as_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
