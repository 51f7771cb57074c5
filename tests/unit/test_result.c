/* test_result.c - a test result (ResultDetailV2) as files: the decoder (runs
 * as an object keyed by id or an array, counts sent as strings, null
 * success, malformed bodies EPROTO), the rules of DESIGN.md "Results" (the
 * four terminal statuses, a run passes only completed with success true,
 * unfinished runs of a terminal result fail, zero runs fail), the texts
 * compared byte for byte (summary with the DESIGN.md example, the error line
 * of each kind, junit.xml escaped and well-formed whatever the API sent), and
 * the pages of an agent's results (deduplicated, ascending id, put).
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

#include "cekurafs/result.h"

/* api.h's api_page_fn, as the spec writes it: result_list_page() must be one
 * (result is below api, so it cannot include api.h to say so). */
typedef int spec_page_fn(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);
static spec_page_fn *const result_list_page_is_a_page_fn = result_list_page;

/* ---- helpers ---- */

static void decode(const char *body, struct result *r)
{
	int rc = result_decode(body, strlen(body), r);

	if(rc != 0)
		fail_msg("result_decode(%s) = %d, want 0", body, rc);
}

static void assert_text(const char *what, char *got, const char *want)
{
	if(!got)
		fail_msg("%s: NULL", what);
	if(strcmp(got, want) != 0)
		fail_msg("%s is\n'%s'\nwant\n'%s'", what, got, want);
	free(got);
}

static void assert_summary(const char *body, const char *want)
{
	struct result r;

	decode(body, &r);
	assert_text("summary", result_summary(&r), want);
	result_free(&r);
}

static void assert_error_line(const char *body, const char *want)
{
	struct result r;

	decode(body, &r);
	assert_text("error line", result_error_line(&r), want);
	result_free(&r);
}

static void assert_junit(const char *body, const char *want)
{
	struct result r;

	decode(body, &r);
	assert_text("junit.xml", result_junit(&r), want);
	result_free(&r);
}

static enum result_verdict verdict_of(const char *body)
{
	struct result r;
	enum result_verdict v;

	decode(body, &r);
	v = result_verdict(&r);
	result_free(&r);
	return v;
}

/* The summary line that starts with key (e.g. "runs:"), without its newline. */
static char *summary_line(const char *body, const char *key)
{
	struct result r;
	char *s, *line, *end;

	decode(body, &r);
	s = result_summary(&r);
	assert_non_null(s);
	line = strstr(s, key);
	if(!line)
		fail_msg("no line %s in\n%s", key, s);
	end = strchr(line, '\n');
	line = strndup(line, end ? (size_t)(end - line) : strlen(line));
	free(s);
	result_free(&r);
	return line;
}

static void assert_summary_line(const char *body, const char *key, const char *want)
{
	assert_text(key, summary_line(body, key), want);
}

/* A result 7 of agent 42 with status st and runs (a JSON value). */
static char *result_with(const char *st, const char *runs)
{
	char *s;

	assert_true(asprintf(&s,
			     "{\"id\": 7, \"agent\": 42, \"name\": \"R\", \"status\": \"%s\", \"runs\": %s}",
			     st, runs) > 0);
	return s;
}

/* A run id of scenario 101, status st, success (a JSON value, or NULL: absent). */
static char *run_with(long long id, const char *st, const char *success)
{
	char *s;

	if(success)
		assert_true(asprintf(&s,
				     "{\"id\": %lld, \"scenario\": 101, \"scenario_name\": \"S\", "
				     "\"status\": \"%s\", "
				     "\"success\": %s}",
				     id, st, success) > 0);
	else
		assert_true(asprintf(&s,
				     "{\"id\": %lld, \"scenario\": 101, \"scenario_name\": \"S\", "
				     "\"status\": \"%s\"}",
				     id, st) > 0);
	return s;
}

/* ---- the DESIGN.md example ---- */

/* Ten runs, keyed by id in no order, two of them not passing: 86367 timed out
 * (success null) and 86369 completed but failed its evaluation. */
#define EXAMPLE                                                                                              \
	"{\"id\": 812, \"name\": \"Nightly smoke\", \"agent\": 42, \"status\": \"completed\", "              \
	"\"success_rate\": 80.0, \"total_runs_count\": \"10\", \"success_runs_count\": \"8\", "              \
	"\"failed_runs_count\": \"2\", \"created_at\": \"2026-08-18T02:00:00Z\", \"runs\": {"                \
	"\"86369\": {\"id\": 86369, \"scenario\": 110, \"scenario_name\": \"Wrong order number\", "          \
	"\"status\": \"completed\", \"success\": false, \"error_message\": \"\"}, "                          \
	"\"86367\": {\"id\": 86367, \"scenario\": 102, \"scenario_name\": \"Angry caller\", "                \
	"\"status\": \"timeout\", \"success\": null, \"error_message\": \"No answer within 300 s\"}, "       \
	"\"86360\": {\"id\": 86360, \"scenario\": 101, \"scenario_name\": \"Refund request\", "              \
	"\"status\": \"completed\", \"success\": true, \"error_message\": \"\"}, "                           \
	"\"86368\": {\"id\": 86368, \"scenario\": 109, \"scenario_name\": \"Spanish speaker\", "             \
	"\"status\": \"completed\", \"success\": true}, "                                                    \
	"\"86361\": {\"id\": 86361, \"scenario\": 103, \"scenario_name\": \"Order status\", "                \
	"\"status\": \"completed\", \"success\": true}, "                                                    \
	"\"86366\": {\"id\": 86366, \"scenario\": 108, \"scenario_name\": \"Opening hours\", "               \
	"\"status\": \"completed\", \"success\": true}, "                                                    \
	"\"86362\": {\"id\": 86362, \"scenario\": 104, \"scenario_name\": \"Change address\", "              \
	"\"status\": \"completed\", \"success\": true}, "                                                    \
	"\"86365\": {\"id\": 86365, \"scenario\": 107, \"scenario_name\": \"Cancel order\", "                \
	"\"status\": \"completed\", \"success\": true}, "                                                    \
	"\"86363\": {\"id\": 86363, \"scenario\": 105, \"scenario_name\": \"Speak to a human\", "            \
	"\"status\": \"completed\", \"success\": true}, "                                                    \
	"\"86364\": {\"id\": 86364, \"scenario\": 106, \"scenario_name\": \"Track parcel\", "                \
	"\"status\": \"completed\", \"success\": true}}}"

/* DESIGN.md's example, its lines in their places (it shows two of the ten run lines). */
#define EXAMPLE_HEAD                                                                                         \
	"completed\n"                                                                                        \
	"result_id: 812\n"                                                                                   \
	"name: Nightly smoke\n"                                                                              \
	"verdict: failed\n"                                                                                  \
	"runs: 10/10\n"                                                                                      \
	"passed: 8\n"                                                                                        \
	"failed: 2\n"                                                                                        \
	"success_rate: 80.0\n"                                                                               \
	"run 86360 101 completed passed Refund_request\n"
#define EXAMPLE_86367 "run 86367 102 timeout failed Angry_caller\n"

static void test_the_summary_is_design_s_example_byte_for_byte(void **state)
{
	(void)state;
	assert_summary(EXAMPLE, EXAMPLE_HEAD "run 86361 103 completed passed Order_status\n"
					     "run 86362 104 completed passed Change_address\n"
					     "run 86363 105 completed passed Speak_to_a_human\n"
					     "run 86364 106 completed passed Track_parcel\n"
					     "run 86365 107 completed passed Cancel_order\n"
					     "run 86366 108 completed passed Opening_hours\n" EXAMPLE_86367
					     "run 86368 109 completed passed Spanish_speaker\n"
					     "run 86369 110 completed failed Wrong_order_number\n");
}

static void test_the_example_decodes_every_field(void **state)
{
	struct result r;

	(void)state;
	decode(EXAMPLE, &r);
	assert_int_equal(r.id, 812);
	assert_int_equal(r.agent, 42);
	assert_string_equal(r.name, "Nightly smoke");
	assert_string_equal(r.status, "completed");
	assert_string_equal(r.success_rate, "80.0");
	assert_int_equal(r.total_runs, 10);
	assert_null(r.failed_reason);
	assert_true(r.created_at == 1787018400.0);
	assert_int_equal(r.nruns, 10);
	for(size_t i = 0; i < r.nruns; i++)
		assert_int_equal(r.runs[i].id, 86360 + i);
	assert_string_equal(r.runs[7].evaluator, "102");
	assert_string_equal(r.runs[7].name, "Angry caller");
	assert_string_equal(r.runs[7].status, "timeout");
	assert_int_equal(r.runs[7].success, -1);
	assert_string_equal(r.runs[7].error_message, "No answer within 300 s");
	assert_int_equal(r.runs[0].success, 1);
	assert_int_equal(r.runs[9].success, 0);
	assert_null(r.runs[8].error_message);
	assert_ptr_equal(result_find_run(&r, 86367), &r.runs[7]);
	assert_null(result_find_run(&r, 86370));
	assert_null(result_find_run(&r, 1));
	assert_true(result_bytes(&r) > r.json_len);
	assert_int_equal(result_verdict(&r), RESULT_FAILED);
	result_free(&r);
	assert_null(r.runs);
	result_free(&r); /* twice: nothing left to free */
	result_free(NULL);
}

static void test_result_json_and_a_run_s_json_are_pretty_printed(void **state)
{
	struct result r;

	(void)state;
	decode("{\"id\": 5, \"agent\": 42, \"status\": \"completed\", \"runs\": "
	       "{\"9\": {\"id\": 9, \"status\": \"completed\", \"success\": true, \"transcript\": "
	       "\"a\\nb\"}}}",
	       &r);
	assert_string_equal(r.json, "{\n"
				    "  \"id\": 5,\n"
				    "  \"agent\": 42,\n"
				    "  \"status\": \"completed\",\n"
				    "  \"runs\": {\n"
				    "    \"9\": {\n"
				    "      \"id\": 9,\n"
				    "      \"status\": \"completed\",\n"
				    "      \"success\": true,\n"
				    "      \"transcript\": \"a\\nb\"\n"
				    "    }\n"
				    "  }\n"
				    "}\n");
	assert_int_equal(r.json_len, strlen(r.json));
	assert_string_equal(r.runs[0].json, "{\n"
					    "  \"id\": 9,\n"
					    "  \"status\": \"completed\",\n"
					    "  \"success\": true,\n"
					    "  \"transcript\": \"a\\nb\"\n"
					    "}\n");
	assert_int_equal(r.runs[0].json_len, strlen(r.runs[0].json));
	result_free(&r);
}

/* ---- statuses and verdicts ---- */

static void test_the_four_terminal_statuses_and_no_other(void **state)
{
	const char *terminal[] = {"completed", "failed", "timeout", "cancelled"};
	const char *running[] = {"running",    "pending",   "in_progress", "evaluating", "in_queue",
				 "scaling_up", "Completed", "completed ",  "",		 "done"};

	(void)state;
	for(size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		assert_true(result_terminal(terminal[i]));
	for(size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if(result_terminal(running[i]))
			fail_msg("'%s' is terminal", running[i]);
	assert_false(result_terminal(NULL));
}

static void test_each_terminal_status_ends_the_result(void **state)
{
	const char *terminal[] = {"completed", "failed", "timeout", "cancelled"};
	char *run = run_with(1, "completed", "true"), *runs, *body;

	(void)state;
	assert_true(asprintf(&runs, "[%s]", run) > 0);
	for(size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++) {
		body = result_with(terminal[i], runs);
		/* Only completed passes: the others end it failed, whatever the runs. */
		assert_int_equal(verdict_of(body), i == 0 ? RESULT_PASSED : RESULT_FAILED);
		assert_summary_line(body, "verdict:", i == 0 ? "verdict: passed" : "verdict: failed");
		free(body);
	}
	free(runs);
	free(run);
}

static void test_every_other_status_is_running_and_shown_as_received(void **state)
{
	const char *running[] = {"running",  "pending",	   "in_progress",     "evaluating",
				 "in_queue", "scaling_up", "brand_new_status"};
	char *body, want[64];

	(void)state;
	for(size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		body = result_with(running[i], "{}");
		assert_int_equal(verdict_of(body), RESULT_RUNNING);
		snprintf(want, sizeof(want), "%s\nresult_id: 7\nname: R\nverdict: running\n", running[i]);
		{
			struct result r;
			char *s;

			decode(body, &r);
			s = result_summary(&r);
			assert_non_null(s);
			if(strncmp(s, want, strlen(want)) != 0)
				fail_msg("summary\n%s\ndoes not start with\n%s", s, want);
			free(s);
			result_free(&r);
		}
		assert_error_line(body, "");
		free(body);
	}
}

static void test_a_run_passes_only_completed_with_success_true(void **state)
{
	/* status, success (NULL: absent), the run's word once the result completed */
	const char *cases[][3] = {
		{"completed", "true", "passed"},     {"completed", "false", "failed"},
		{"completed", "null", "failed"},     {"completed", NULL, "failed"},
		{"completed", "\"true\"", "failed"}, {"completed", "1", "failed"},
		{"failed", "true", "failed"},	     {"timeout", "true", "failed"},
		{"cancelled", "true", "failed"},     {"evaluating", "true", "failed"},
		{"running", NULL, "failed"},
	};

	(void)state;
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *run = run_with(1, cases[i][0], cases[i][1]), *runs, *body, want[128];

		assert_true(asprintf(&runs, "[%s]", run) > 0);
		body = result_with("completed", runs);
		snprintf(want, sizeof(want), "run 1 101 %s %s S", cases[i][0], cases[i][2]);
		assert_summary_line(body, "run 1 ", want);
		assert_int_equal(verdict_of(body),
				 strcmp(cases[i][2], "passed") == 0 ? RESULT_PASSED : RESULT_FAILED);
		free(body);
		free(runs);
		free(run);
	}
}

static void test_null_success_fails_a_completed_run_and_the_result(void **state)
{
	char *body =
		result_with("completed", "{\"3\": {\"id\": 3, \"status\": \"completed\", \"success\": null}, "
					 "\"4\": {\"id\": 4, \"status\": \"completed\", \"success\": true}}");

	(void)state;
	assert_int_equal(verdict_of(body), RESULT_FAILED);
	assert_summary(body,
		       "completed\nresult_id: 7\nname: R\nverdict: failed\nruns: 2/2\npassed: 1\nfailed: 1\n"
		       "success_rate:\nrun 3 - completed failed -\nrun 4 - completed passed -\n");
	assert_error_line(body, "results/7: 1 of 2 runs did not pass: 3");
	free(body);
}

static void test_while_running_unfinished_runs_are_pending_and_not_counted_failed(void **state)
{
	char *body = result_with("running", "[{\"id\": 1, \"status\": \"completed\", \"success\": true}, "
					    "{\"id\": 2, \"status\": \"completed\", \"success\": false}, "
					    "{\"id\": 3, \"status\": \"in_queue\", \"success\": null}, "
					    "{\"id\": 4, \"status\": \"evaluating\"}]");

	(void)state;
	assert_summary(body,
		       "running\nresult_id: 7\nname: R\nverdict: running\nruns: 2/4\npassed: 1\nfailed: 1\n"
		       "success_rate:\nrun 1 - completed passed -\nrun 2 - completed failed -\n"
		       "run 3 - in_queue pending -\nrun 4 - evaluating pending -\n");
	assert_error_line(body, "");
	free(body);
}

static void test_once_terminal_every_unfinished_run_counts_failed(void **state)
{
	char *body = result_with(
		"cancelled", "[{\"id\": 1, \"status\": \"completed\", \"success\": true}, "
			     "{\"id\": 3, \"status\": \"running\"}, {\"id\": 2, \"status\": \"pending\"}]");

	(void)state;
	assert_summary(body,
		       "cancelled\nresult_id: 7\nname: R\nverdict: failed\nruns: 1/3\npassed: 1\nfailed: 2\n"
		       "success_rate:\nrun 1 - completed passed -\nrun 2 - pending failed -\n"
		       "run 3 - running failed -\n");
	assert_error_line(body, "results/7: result cancelled");
	free(body);
}

static void test_zero_runs_fail_nothing_was_tested(void **state)
{
	const char *none[] = {"{}", "[]", "null"};
	char *body;

	(void)state;
	for(size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		body = result_with("completed", none[i]);
		assert_int_equal(verdict_of(body), RESULT_FAILED);
		assert_summary(body,
			       "completed\nresult_id: 7\nname: R\nverdict: failed\nruns: 0/0\npassed: 0\n"
			       "failed: 0\nsuccess_rate:\n");
		assert_error_line(body, "results/7: no runs: nothing was tested");
		free(body);
	}
	assert_error_line("{\"id\": 7, \"agent\": 42, \"status\": \"completed\"}", /* runs absent */
			  "results/7: no runs: nothing was tested");
}

static void test_runs_come_in_ascending_numeric_id_whatever_the_order(void **state)
{
	/* An object keyed by id (10 < 100 < 9 as text): numeric order. */
	char *body = result_with("running", "{\"100\": {\"id\": 100, \"status\": \"running\"}, "
					    "\"9\": {\"id\": 9, \"status\": \"running\"}, "
					    "\"10\": {\"id\": 10, \"status\": \"running\"}}");

	(void)state;
	assert_summary(body,
		       "running\nresult_id: 7\nname: R\nverdict: running\nruns: 0/3\npassed: 0\nfailed: 0\n"
		       "success_rate:\nrun 9 - running pending -\nrun 10 - running pending -\n"
		       "run 100 - running pending -\n");
	free(body);
}

static void test_runs_as_an_array_sort_the_same(void **state)
{
	char *body =
		result_with("running", "[{\"id\": 100, \"status\": \"running\"}, {\"id\": 9, \"status\": "
				       "\"running\"}, {\"id\": 18446744073709551615}, {\"id\": 10}]");
	struct result r;
	int rc;

	(void)state;
	/* An id past INT64_MAX is no id. */
	rc = result_decode(body, strlen(body), &r);
	assert_int_equal(rc, -EPROTO);
	free(body);
	body = result_with("running", "[{\"id\": 100, \"status\": \"running\"}, {\"id\": 9, \"status\": "
				      "\"running\"}, {\"id\": 10}]");
	assert_summary(body,
		       "running\nresult_id: 7\nname: R\nverdict: running\nruns: 0/3\npassed: 0\nfailed: 0\n"
		       "success_rate:\nrun 9 - running pending -\nrun 10 - - pending -\n"
		       "run 100 - running pending -\n");
	free(body);
}

static void test_a_run_without_id_takes_its_key_and_a_repeated_id_keeps_the_first(void **state)
{
	struct result r;

	(void)state;
	decode("{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"runs\": {\"31\": {\"status\": "
	       "\"running\"}, "
	       "\"30\": {\"id\": 30, \"status\": \"completed\", \"success\": true}, "
	       "\"x\": {\"id\": 30, \"status\": \"failed\"}}}",
	       &r);
	assert_int_equal(r.nruns, 2);
	assert_int_equal(r.runs[0].id, 30);
	assert_string_equal(r.runs[0].status, "completed");
	assert_int_equal(r.runs[1].id, 31);
	result_free(&r);
}

static void test_total_runs_count_larger_than_the_runs_received(void **state)
{
	char *runs = "[{\"id\": 1, \"status\": \"completed\", \"success\": true}, "
		     "{\"id\": 2, \"status\": \"completed\", \"success\": false}, "
		     "{\"id\": 3, \"status\": \"completed\", \"success\": true}]";
	char *body;

	(void)state;
	/* Running: all is the count; failed only the terminal runs that did not pass. */
	assert_true(
		asprintf(&body,
			 "{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"total_runs_count\": \"10\", "
			 "\"runs\": %s}",
			 runs) > 0);
	assert_summary_line(body, "runs:", "runs: 3/10");
	assert_summary_line(body, "passed:", "passed: 2");
	assert_summary_line(body, "failed:", "failed: 1");
	free(body);
	/* Terminal: the runs never received did not pass either. */
	assert_true(
		asprintf(
			&body,
			"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"total_runs_count\": \"10\", "
			"\"runs\": %s}",
			runs) > 0);
	assert_summary_line(body, "runs:", "runs: 3/10");
	assert_summary_line(body, "failed:", "failed: 8");
	assert_error_line(body, "results/7: 8 of 10 runs did not pass: 2");
	free(body);
	/* Every run received passed, but not every run of the result: failed. */
	assert_true(asprintf(&body,
			     "{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"total_runs_count\": 2, "
			     "\"runs\": [{\"id\": 1, \"status\": \"completed\", \"success\": true}]}") > 0);
	assert_int_equal(verdict_of(body), RESULT_FAILED);
	assert_summary_line(body, "runs:", "runs: 1/2");
	assert_error_line(body, "results/7: 1 of 2 runs did not pass");
	free(body);
}

static void test_a_total_runs_count_that_is_no_integer_is_ignored(void **state)
{
	const char *counts[] = {"\"abc\"", "\"-3\"",   "-3",
				"12.5",	   "\"12.5\"", "null",
				"\"\"",	   "\" 4\"",   "\"99999999999999999999\"",
				"true",	   "\"1\"",    "0"};
	char *body;

	(void)state;
	for(size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct result r;

		assert_true(asprintf(&body,
				     "{\"id\": 7, \"agent\": 42, \"status\": \"completed\", "
				     "\"total_runs_count\": %s, "
				     "\"runs\": [{\"id\": 1, \"status\": \"completed\", \"success\": true}, "
				     "{\"id\": 2, \"status\": \"completed\", \"success\": true}]}",
				     counts[i]) > 0);
		decode(body, &r);
		assert_int_equal(r.total_runs, strcmp(counts[i], "\"1\"") == 0 ? 1
					       : strcmp(counts[i], "0") == 0   ? 0
									       : -1);
		result_free(&r);
		/* A count smaller than the runs received counts nothing either. */
		assert_summary_line(body, "runs:", "runs: 2/2");
		assert_int_equal(verdict_of(body), RESULT_PASSED);
		free(body);
	}
}

static void test_success_rate_is_shown_as_received(void **state)
{
	const char *rates[][2] = {{"80.0", "success_rate: 80.0"},    {"0.8", "success_rate: 0.8"},
				  {"1e2", "success_rate: 1e2"},	     {"100", "success_rate: 100"},
				  {"\"75\"", "success_rate: 75"},    {"null", "success_rate:"},
				  {"\"a\\nb\"", "success_rate: a b"}};
	char *body;

	(void)state;
	for(size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		assert_true(
			asprintf(&body,
				 "{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"success_rate\": %s}",
				 rates[i][0]) > 0);
		assert_summary_line(body, "success_rate:", rates[i][1]);
		free(body);
	}
}

/* ---- words and lines ---- */

static void test_names_and_statuses_stay_on_their_lines(void **state)
{
	(void)state;
	assert_summary(
		"{\"id\": 7, \"agent\": 42, \"status\": \"in \\t queue\\n\", \"name\": "
		"\"Two\\nlines\\tand\\u001b[2J\", "
		"\"runs\": [{\"id\": 1, \"scenario\": 5, \"scenario_name\": \"  Refund \\t\\n request \", "
		"\"status\": \"in\\r\\nqueue\"}, {\"id\": 2, \"scenario\": null, \"scenario_name\": \"\", "
		"\"status\": \"\"}, {\"id\": 3, \"scenario\": \"5\", \"scenario_name\": null, \"status\": "
		"null}, "
		"{\"id\": 4, \"scenario\": 1.5, \"scenario_name\": 12, \"status\": 3}]}",
		"in_queue_\nresult_id: 7\nname: Two lines and [2J\nverdict: running\nruns: 0/4\npassed: 0\n"
		"failed: 0\nsuccess_rate:\nrun 1 5 in_queue pending _Refund_request_\nrun 2 - - pending -\n"
		"run 3 - - pending -\nrun 4 - - pending -\n");
}

static void test_a_missing_or_empty_name_leaves_name_alone(void **state)
{
	(void)state;
	assert_summary_line("{\"id\": 7, \"agent\": 42, \"status\": \"running\"}", "name:", "name:");
	assert_summary_line("{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"name\": null}",
			    "name:", "name:");
	assert_summary_line("{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"name\": \"\"}",
			    "name:", "name:");
	assert_summary_line("{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"name\": \"\\n\"}",
			    "name:", "name:  ");
}

/* ---- the error line ---- */

static void test_the_error_line_of_each_kind(void **state)
{
	(void)state;
	/* Running, and passed: empty. */
	assert_error_line("{\"id\": 7, \"agent\": 42, \"status\": \"running\", \"runs\": "
			  "[{\"id\": 1, \"status\": \"completed\", \"success\": false}]}",
			  "");
	assert_error_line("{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": "
			  "[{\"id\": 1, \"status\": \"completed\", \"success\": true}]}",
			  "");
	/* Runs that did not pass, ascending, single spaces. */
	assert_error_line(EXAMPLE, "results/812: 2 of 10 runs did not pass: 86367 86369");
	/* No runs. */
	assert_error_line("{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": {}}",
			  "results/7: no runs: nothing was tested");
	/* The result itself failed, timed out or was cancelled, with or without a reason. */
	assert_error_line(
		"{\"id\": 9, \"agent\": 42, \"status\": \"failed\", \"runs\": {}, \"failed_reasons\": "
		"{\"issues\": [{\"rank\": 1, \"run_ids\": [34588], \"description\": \"Websocket handshake "
		"failed\", \"affected_count\": 1}, {\"rank\": 2, \"description\": \"second\"}], "
		"\"total_failed_runs\": 1}}",
		"results/9: result failed: Websocket handshake failed");
	assert_error_line(
		"{\"id\": 9, \"agent\": 42, \"status\": \"timeout\", \"failed_reasons\": null, \"runs\": "
		"[{\"id\": 1, \"status\": \"completed\", \"success\": true}]}",
		"results/9: result timeout");
	assert_error_line("{\"id\": 9, \"agent\": 42, \"status\": \"cancelled\"}",
			  "results/9: result cancelled");
	/* failed_reasons as the array of issues itself, an issue a string, a description on two lines. */
	assert_error_line("{\"id\": 9, \"agent\": 42, \"status\": \"failed\", \"failed_reasons\": "
			  "[{\"description\": \"two\\nlines\"}]}",
			  "results/9: result failed: two lines");
	assert_error_line(
		"{\"id\": 9, \"agent\": 42, \"status\": \"failed\", \"failed_reasons\": [\"no agent\"]}",
		"results/9: result failed: no agent");
	assert_error_line(
		"{\"id\": 9, \"agent\": 42, \"status\": \"failed\", \"failed_reasons\": {\"issues\": []}}",
		"results/9: result failed");
	assert_error_line("{\"id\": 9, \"agent\": 42, \"status\": \"failed\", \"failed_reasons\": "
			  "{\"issues\": [{\"description\": \"\"}]}}",
			  "results/9: result failed");
}

static void test_failed_reason_is_the_first_issue_s_description(void **state)
{
	struct result r;

	(void)state;
	decode("{\"id\": 9, \"agent\": 42, \"status\": \"completed\", \"failed_reasons\": {\"issues\": "
	       "[{\"rank\": 1, \"description\": \"first\"}, {\"rank\": 2, \"description\": \"second\"}]}}",
	       &r);
	assert_string_equal(r.failed_reason, "first");
	result_free(&r);
	decode("{\"id\": 9, \"agent\": 42, \"status\": \"completed\", \"failed_reasons\": {\"issues\": "
	       "[{\"rank\": 1}]}}",
	       &r);
	assert_null(r.failed_reason);
	result_free(&r);
	decode("{\"id\": 9, \"agent\": 42, \"status\": \"completed\", \"failed_reasons\": \"text\"}", &r);
	assert_null(r.failed_reason);
	result_free(&r);
}

/* ---- junit.xml ---- */

static void test_junit_byte_for_byte(void **state)
{
	(void)state;
	assert_junit(EXAMPLE,
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<testsuite name=\"Nightly smoke\" tests=\"10\" failures=\"2\" errors=\"0\">\n"
		     "  <testcase name=\"Refund request\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Order status\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Change address\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Speak to a human\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Track parcel\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Cancel order\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Opening hours\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Angry caller\" classname=\"cekura.agent42\">\n"
		     "    <failure message=\"No answer within 300 s\" type=\"timeout\">run 86367</failure>\n"
		     "  </testcase>\n"
		     "  <testcase name=\"Spanish speaker\" classname=\"cekura.agent42\"/>\n"
		     "  <testcase name=\"Wrong order number\" classname=\"cekura.agent42\">\n"
		     "    <failure message=\"completed\" type=\"completed\">run 86369</failure>\n"
		     "  </testcase>\n"
		     "  <system-err>results/812: 2 of 10 runs did not pass: 86367 86369</system-err>\n"
		     "</testsuite>\n");
}

static void test_junit_escapes_names_and_messages(void **state)
{
	(void)state;
	assert_junit(
		"{\"id\": 3, \"agent\": 7, \"status\": \"completed\", \"name\": \"<a> & \\\"b\\\" 'c'\", "
		"\"runs\": [{\"id\": 1, \"scenario_name\": \"x<y>&z\\\"'\", \"status\": \"completed\", "
		"\"success\": false, \"error_message\": \"</failure><x a='1'>&amp;\"}, "
		"{\"id\": 2, \"scenario_name\": \"tab\\there\\nnl\\u0000\\u007f\", \"status\": "
		"\"timeout\"}]}",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuite name=\"&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos;\" tests=\"2\" failures=\"2\" "
		"errors=\"0\">\n"
		"  <testcase name=\"x&lt;y&gt;&amp;z&quot;&apos;\" classname=\"cekura.agent7\">\n"
		"    <failure message=\"&lt;/failure&gt;&lt;x a=&apos;1&apos;&gt;&amp;amp;\" "
		"type=\"completed\">run 1</failure>\n"
		"  </testcase>\n"
		"  <testcase name=\"tab here nl\xef\xbf\xbd \" classname=\"cekura.agent7\">\n"
		"    <failure message=\"timeout\" type=\"timeout\">run 2</failure>\n"
		"  </testcase>\n"
		"  <system-err>results/3: 2 of 2 runs did not pass: 1 2</system-err>\n"
		"</testsuite>\n");
}

static void test_junit_is_utf_8_whatever_bytes_were_sent(void **state)
{
	(void)state;
	/* Raw bytes in the body: valid UTF-8 kept (é, €, 𝄞), a lone continuation
	 * byte, an overlong '/', a surrogate, U+FFFE and a truncated sequence
	 * each become U+FFFD byte by byte. */
	assert_junit("{\"id\": 3, \"agent\": 7, \"status\": \"completed\", \"name\": "
		     "\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\", "
		     "\"runs\": [{\"id\": 1, \"scenario_name\": "
		     "\"\x80|\xc0\xaf|\xed\xa0\x80|\xef\xbf\xbe|\xe2\x82\", "
		     "\"status\": \"completed\", \"success\": true}]}",
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<testsuite name=\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\" tests=\"1\" failures=\"0\" "
		     "errors=\"0\">\n"
		     "  <testcase "
		     "name=\"\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\" "
		     "classname=\"cekura.agent7\"/>\n"
		     "</testsuite>\n");
}

static void test_junit_of_a_result_without_runs_or_name(void **state)
{
	(void)state;
	assert_junit("{\"id\": 3, \"agent\": 7, \"status\": \"failed\", \"failed_reasons\": [\"Agent "
		     "<unreachable>\"]}",
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<testsuite name=\"result 3\" tests=\"0\" failures=\"0\" errors=\"0\">\n"
		     "  <system-err>results/3: result failed: Agent &lt;unreachable&gt;</system-err>\n"
		     "</testsuite>\n");
	assert_junit("{\"id\": 3, \"agent\": 7, \"status\": \"completed\", \"name\": \"\", \"runs\": "
		     "{\"4\": {\"id\": 4, \"status\": \"completed\", \"success\": true}}}",
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<testsuite name=\"result 3\" tests=\"1\" failures=\"0\" errors=\"0\">\n"
		     "  <testcase name=\"-\" classname=\"cekura.agent7\"/>\n"
		     "</testsuite>\n");
}

/* ---- malformed bodies ---- */

static void test_malformed_bodies_are_eproto(void **state)
{
	const char *bad[] = {
		"",
		"not json",
		"[]",
		"\"completed\"",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\"",
		"{\"agent\": 42, \"status\": \"completed\"}",
		"{\"id\": 0, \"agent\": 42, \"status\": \"completed\"}",
		"{\"id\": -7, \"agent\": 42, \"status\": \"completed\"}",
		"{\"id\": \"7\", \"agent\": 42, \"status\": \"completed\"}",
		"{\"id\": 7.5, \"agent\": 42, \"status\": \"completed\"}",
		"{\"id\": 7, \"status\": \"completed\"}",
		"{\"id\": 7, \"agent\": null, \"status\": \"completed\"}",
		"{\"id\": 7, \"agent\": 42}",
		"{\"id\": 7, \"agent\": 42, \"status\": null}",
		"{\"id\": 7, \"agent\": 42, \"status\": 3}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": \"[]\"}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": 3}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": [3]}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": {\"1\": null}}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": [{\"status\": "
		"\"completed\"}]}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": {\"042\": {\"status\": "
		"\"completed\"}}}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\", \"runs\": {\"0\": {\"id\": 0}}}",
		"{\"id\": 7, \"agent\": 42, \"status\": \"completed\"} {}",
	};
	struct result r;

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = result_decode(bad[i], strlen(bad[i]), &r);

		if(rc != -EPROTO)
			fail_msg("result_decode(%s) = %d, want -EPROTO", bad[i], rc);
		assert_null(r.status);
		assert_null(r.runs);
		assert_null(r.json);
	}
	assert_int_equal(result_decode(NULL, 0, &r), -EPROTO);
}

static void test_a_body_with_a_nul_byte_is_eproto(void **state)
{
	const char body[] = "{\"id\": 7, \"agent\": 42, \"status\": \"comp\0leted\"}";
	struct result r;

	(void)state;
	assert_int_equal(result_decode(body, sizeof(body) - 1, &r), -EPROTO);
}

static void test_a_result_just_started_decodes(void **state)
{
	struct result r;

	(void)state;
	/* Pending, runs an empty array, no counts, no name, no date. */
	decode("{\"id\": 901, \"agent\": 42, \"status\": \"pending\", \"run_as_text\": true, \"runs\": []}",
	       &r);
	assert_int_equal(r.id, 901);
	assert_int_equal(r.nruns, 0);
	assert_int_equal(r.total_runs, -1);
	assert_null(r.name);
	assert_null(r.success_rate);
	assert_true(r.created_at == 0);
	assert_int_equal(result_verdict(&r), RESULT_RUNNING);
	result_free(&r);
}

/* ---- the listing ---- */

/* result_list_page() of a page of results (a JSON array's inside), count and next. */
static void list_page(struct result_list *l, const char *results, const char *next_json,
		      const char *want_next)
{
	char *body, *next = (char *)"unset";
	int64_t count = -2;
	size_t items = 12345;
	int rc;

	assert_true(asprintf(&body, "{\"count\": 4, \"next\": %s, \"previous\": null, \"results\": [%s]}",
			     next_json, results) > 0);
	rc = result_list_page(l, body, strlen(body), &next, &count, &items);
	if(rc != 0)
		fail_msg("result_list_page(%s) = %d, want 0", body, rc);
	assert_int_equal(count, 4);
	if(want_next)
		assert_string_equal(next, want_next);
	else
		assert_null(next);
	free(next);
	free(body);
}

static char *list_ids(const struct result_list *l)
{
	size_t len = 0, n = result_list_count(l);
	char *s = malloc(n * 24 + 1);

	assert_non_null(s);
	s[0] = '\0';
	for(size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%s%llu", i ? " " : "",
				       (unsigned long long)result_list_at(l, i)->id);
	return s;
}

static void assert_list_ids(const struct result_list *l, const char *want)
{
	assert_text("ids", list_ids(l), want);
}

static void test_the_listing_keeps_id_status_name_and_creation_time(void **state)
{
	struct result_list *l = result_list_new();
	const struct result_entry *e;

	(void)state;
	assert_non_null(l);
	assert_ptr_equal(result_list_page_is_a_page_fn, result_list_page);
	list_page(l,
		  "{\"id\": 812, \"name\": \"Nightly smoke\", \"agent\": 42, \"status\": \"completed\", "
		  "\"success_rate\": 0.8, \"total_runs_count\": \"10\", \"runs\": [{\"id\": 86360}], "
		  "\"created_at\": \"2026-08-18T02:00:00Z\"}, "
		  "{\"id\": 811, \"name\": null, \"status\": 5, \"created_at\": \"yesterday\"}",
		  "\"https://api.cekura.ai/test_framework/v2/results/?agent_id=42&page=2\"",
		  "https://api.cekura.ai/test_framework/v2/results/?agent_id=42&page=2");
	assert_int_equal(result_list_count(l), 2);
	e = result_list_find(l, 812);
	assert_non_null(e);
	assert_string_equal(e->status, "completed");
	assert_string_equal(e->name, "Nightly smoke");
	assert_true(e->created_at == 1787018400.0);
	e = result_list_find(l, 811);
	assert_non_null(e);
	assert_null(e->status);
	assert_null(e->name);
	assert_true(e->created_at == 0);
	assert_null(result_list_find(l, 813));
	assert_null(result_list_at(l, 2));
	assert_true(result_list_bytes(l) > 2 * sizeof(*e));
	result_list_free(l);
	result_list_free(NULL);
}

static void test_the_listing_is_ascending_and_deduplicated_across_pages(void **state)
{
	struct result_list *l = result_list_new();

	(void)state;
	list_page(l,
		  "{\"id\": 30, \"status\": \"a\"}, {\"id\": 10}, {\"id\": 30, \"status\": \"b\"}, {\"id\": "
		  "20}",
		  "null", NULL);
	assert_list_ids(l, "10 20 30");
	/* Pages shift while they are read: an id seen before is ignored, the first wins. */
	list_page(l,
		  "{\"id\": 20, \"status\": \"late\"}, {\"id\": 5}, {\"id\": 25}, {\"id\": 100}, {\"id\": 5}",
		  "null", NULL);
	assert_list_ids(l, "5 10 20 25 30 100");
	assert_string_equal(result_list_find(l, 30)->status, "a");
	assert_null(result_list_find(l, 20)->status);
	assert_int_equal(result_list_skipped(l), 0);
	result_list_free(l);
}

static void test_the_listing_skips_results_without_an_id(void **state)
{
	struct result_list *l = result_list_new();
	const char *body =
		"{\"count\": null, \"results\": [{\"id\": \"4\"}, {\"id\": 0}, 17, {\"name\": \"x\"}, "
		"{\"id\": 3}]}";
	char *next = NULL;
	int64_t count;
	size_t items;

	(void)state;
	assert_int_equal(result_list_page(l, body, strlen(body), &next, &count, &items), 0);
	assert_null(next);
	assert_int_equal(count, -1);
	assert_int_equal(items, 5);
	assert_list_ids(l, "3");
	assert_int_equal(result_list_skipped(l), 4);
	result_list_free(l);
}

static void test_a_listing_page_of_the_wrong_shape_is_eproto_and_keeps_nothing(void **state)
{
	const char *bad[] = {
		"[]",
		"{}",
		"{\"results\": {}}",
		"{\"results\": [{\"id\": 1}], \"next\": 3}",
		"{\"results\": [{\"id\": 1}], \"count\": \"4\"}",
		"{\"results\": [{\"id\": 1}], \"count\": -1}",
		"{\"results\": [{\"id\": 1}]",
	};
	struct result_list *l = result_list_new();

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *next = (char *)"unset";
		int64_t count = 5;
		size_t items = 5;
		int rc = result_list_page(l, bad[i], strlen(bad[i]), &next, &count, &items);

		if(rc != -EPROTO)
			fail_msg("result_list_page(%s) = %d, want -EPROTO", bad[i], rc);
		assert_null(next);
		assert_int_equal(count, -1);
		assert_int_equal(items, 0);
	}
	assert_int_equal(result_list_count(l), 0);
	result_list_free(l);
}

static void test_a_started_result_is_put_into_the_listing(void **state)
{
	struct result_list *l = result_list_new();
	const struct result_entry *e;

	(void)state;
	assert_int_equal(result_list_put(l, 50, "pending", "Release 7", 100.0), 0);
	list_page(l,
		  "{\"id\": 60, \"status\": \"running\"}, {\"id\": 40}, {\"id\": 50, \"status\": "
		  "\"completed\"}",
		  "null", NULL);
	assert_list_ids(l, "40 50 60");
	assert_string_equal(result_list_find(l, 50)->status, "pending"); /* the first seen wins */
	/* A put updates what it is given and keeps the rest. */
	assert_int_equal(result_list_put(l, 50, "completed", NULL, 0), 0);
	e = result_list_find(l, 50);
	assert_string_equal(e->status, "completed");
	assert_string_equal(e->name, "Release 7");
	assert_true(e->created_at == 100.0);
	assert_int_equal(result_list_put(l, 1, NULL, NULL, 0), 0);
	assert_int_equal(result_list_put(l, 99, "pending", "", 5), 0);
	assert_list_ids(l, "1 40 50 60 99");
	assert_int_equal(result_list_at(l, result_list_count(l) - 1)->id, 99); /* the newest */
	assert_null(result_list_find(l, 1)->status);
	result_list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_summary_is_design_s_example_byte_for_byte),
		cmocka_unit_test(test_the_example_decodes_every_field),
		cmocka_unit_test(test_result_json_and_a_run_s_json_are_pretty_printed),
		cmocka_unit_test(test_the_four_terminal_statuses_and_no_other),
		cmocka_unit_test(test_each_terminal_status_ends_the_result),
		cmocka_unit_test(test_every_other_status_is_running_and_shown_as_received),
		cmocka_unit_test(test_a_run_passes_only_completed_with_success_true),
		cmocka_unit_test(test_null_success_fails_a_completed_run_and_the_result),
		cmocka_unit_test(test_while_running_unfinished_runs_are_pending_and_not_counted_failed),
		cmocka_unit_test(test_once_terminal_every_unfinished_run_counts_failed),
		cmocka_unit_test(test_zero_runs_fail_nothing_was_tested),
		cmocka_unit_test(test_runs_come_in_ascending_numeric_id_whatever_the_order),
		cmocka_unit_test(test_runs_as_an_array_sort_the_same),
		cmocka_unit_test(test_a_run_without_id_takes_its_key_and_a_repeated_id_keeps_the_first),
		cmocka_unit_test(test_total_runs_count_larger_than_the_runs_received),
		cmocka_unit_test(test_a_total_runs_count_that_is_no_integer_is_ignored),
		cmocka_unit_test(test_success_rate_is_shown_as_received),
		cmocka_unit_test(test_names_and_statuses_stay_on_their_lines),
		cmocka_unit_test(test_a_missing_or_empty_name_leaves_name_alone),
		cmocka_unit_test(test_the_error_line_of_each_kind),
		cmocka_unit_test(test_failed_reason_is_the_first_issue_s_description),
		cmocka_unit_test(test_junit_byte_for_byte),
		cmocka_unit_test(test_junit_escapes_names_and_messages),
		cmocka_unit_test(test_junit_is_utf_8_whatever_bytes_were_sent),
		cmocka_unit_test(test_junit_of_a_result_without_runs_or_name),
		cmocka_unit_test(test_malformed_bodies_are_eproto),
		cmocka_unit_test(test_a_body_with_a_nul_byte_is_eproto),
		cmocka_unit_test(test_a_result_just_started_decodes),
		cmocka_unit_test(test_the_listing_keeps_id_status_name_and_creation_time),
		cmocka_unit_test(test_the_listing_is_ascending_and_deduplicated_across_pages),
		cmocka_unit_test(test_the_listing_skips_results_without_an_id),
		cmocka_unit_test(test_a_listing_page_of_the_wrong_shape_is_eproto_and_keeps_nothing),
		cmocka_unit_test(test_a_started_result_is_put_into_the_listing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
