/* test_render.c - the text of `progress` and `wait`, exactly as the README
 * ("`progress`") shows it: scripts parse it, so whole strings are compared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/render.h"

#define PID "6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a"

/* A progress built from literals; render_progress() only reads it. */
#define STAGE(n, s)                                                                                          \
	{                                                                                                    \
		.name = (char *)(n), .state = (char *)(s)                                                    \
	}

static struct progress make(const char *status, const char *current_stage, const char *error,
			    struct progress_stage *stages, size_t n)
{
	struct progress p = {
		.status = (char *)status,
		.current_stage = (char *)current_stage,
		.error = (char *)error,
		.stages = stages,
		.nstages = n,
	};

	return p;
}

static void assert_renders(const struct progress *p, const char *id, const char *want)
{
	char *got = render_progress(p, id);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_no_progress_renders_idle_alone(void **state)
{
	(void)state;
	assert_renders(NULL, NULL, "idle\n");
	assert_renders(NULL, PID, "idle\n");
}

static void test_in_progress_has_the_documented_layout(void **state)
{
	struct progress_stage stages[] = {
		STAGE("system_prompt", "completed"),   STAGE("call_settings", "completed"),
		STAGE("phone_number", "skipped"),      STAGE("tools", "in_progress"),
		STAGE("dynamic_variables", "pending"), STAGE("knowledge_base", "pending"),
	};
	struct progress p = make("in_progress", "tools", NULL, stages, 6);

	(void)state;
	assert_renders(&p, PID,
		       "in_progress\n"
		       "progress_id: " PID "\n"
		       "current_stage: tools\n"
		       "stages: 3/6\n"
		       "stage system_prompt completed\n"
		       "stage call_settings completed\n"
		       "stage phone_number skipped\n"
		       "stage tools in_progress\n"
		       "stage dynamic_variables pending\n"
		       "stage knowledge_base pending\n");
}

static void test_completed_counts_every_stage_done(void **state)
{
	struct progress_stage stages[] = {STAGE("system_prompt", "completed"), STAGE("tools", "skipped")};
	struct progress p = make("completed", "", NULL, stages, 2);

	(void)state;
	assert_renders(&p, "p-1",
		       "completed\n"
		       "progress_id: p-1\n"
		       "current_stage:\n"
		       "stages: 2/2\n"
		       "stage system_prompt completed\n"
		       "stage tools skipped\n");
}

static void test_failed_shows_the_error_line_before_the_stages(void **state)
{
	struct progress_stage stages[] = {STAGE("system_prompt", "completed"), STAGE("tools", "failed"),
					  STAGE("knowledge_base", "pending")};
	struct progress p = make("failed", "tools", "Provider API key invalid", stages, 3);

	(void)state;
	assert_renders(&p, "p-2",
		       "failed\n"
		       "progress_id: p-2\n"
		       "current_stage: tools\n"
		       "stages: 1/3\n"
		       "error: Provider API key invalid\n"
		       "stage system_prompt completed\n"
		       "stage tools failed\n"
		       "stage knowledge_base pending\n");
}

static void test_an_empty_error_still_shows_its_line(void **state)
{
	struct progress p = make("failed", "tools", "", NULL, 0);

	(void)state;
	assert_renders(&p, "p", "failed\nprogress_id: p\ncurrent_stage: tools\nstages: 0/0\nerror: \n");
}

static void test_queued_and_unknown_statuses_pass_through(void **state)
{
	struct progress queued = make("queued", "", NULL, NULL, 0);
	struct progress odd = make("paused_by_operator", "x", NULL, NULL, 0);

	(void)state;
	assert_renders(&queued, "p", "queued\nprogress_id: p\ncurrent_stage:\nstages: 0/0\n");
	assert_renders(&odd, "p", "paused_by_operator\nprogress_id: p\ncurrent_stage: x\nstages: 0/0\n");
}

static void test_empty_current_stage_is_the_label_alone(void **state)
{
	struct progress p = make("in_progress", "", NULL, NULL, 0);
	char *text = render_progress(&p, "p");

	(void)state;
	assert_non_null(strstr(text, "\ncurrent_stage:\n"));
	assert_null(strstr(text, "current_stage: "));
	free(text);
}

static void test_only_completed_and_skipped_stages_count_as_done(void **state)
{
	struct progress_stage stages[] = {
		STAGE("a", "completed"), STAGE("b", "skipped"),	    STAGE("c", "failed"),
		STAGE("d", "pending"),	 STAGE("e", "in_progress"), STAGE("f", "COMPLETED"),
		STAGE("g", NULL),	 STAGE("h", "done"),
	};
	struct progress p = make("in_progress", "c", NULL, stages, 8);
	char *text = render_progress(&p, "p");

	(void)state;
	assert_non_null(strstr(text, "\nstages: 2/8\n"));
	free(text);
}

static void test_a_stage_without_name_is_numbered(void **state)
{
	struct progress_stage stages[] = {STAGE("first", "completed"), STAGE(NULL, "in_progress"),
					  STAGE("", "pending")};
	struct progress p = make("in_progress", "", NULL, stages, 3);

	(void)state;
	assert_renders(&p, "p",
		       "in_progress\nprogress_id: p\ncurrent_stage:\nstages: 1/3\n"
		       "stage first completed\n"
		       "stage stage-2 in_progress\n"
		       "stage stage-3 pending\n");
}

static void test_a_stage_without_state_is_unknown(void **state)
{
	struct progress_stage stages[] = {STAGE("tools", NULL), STAGE("kb", "")};
	struct progress p = make("in_progress", "tools", NULL, stages, 2);

	(void)state;
	assert_renders(&p, "p",
		       "in_progress\nprogress_id: p\ncurrent_stage: tools\nstages: 0/2\n"
		       "stage tools unknown\n"
		       "stage kb unknown\n");
}

static void test_words_stay_one_word_and_lines_one_line(void **state)
{
	struct progress_stage stages[] = {STAGE("knowledge base", "in progress"), STAGE("a\nb", "x\ty"),
					  STAGE("c\r\nd", "completed")};
	struct progress p = make("in\nprogress", "knowledge base\nnext", "line one\nline two\r", stages, 3);

	(void)state;
	assert_renders(&p, "p",
		       "in_progress\n"
		       "progress_id: p\n"
		       "current_stage: knowledge base next\n"
		       "stages: 1/3\n"
		       "error: line one line two \n"
		       "stage knowledge_base in_progress\n"
		       "stage a_b x_y\n"
		       "stage c__d completed\n");
}

static void test_delete_bytes_are_control_bytes_too(void **state)
{
	struct progress_stage stages[] = {STAGE("a\x7f"
						"b",
						"completed")};
	struct progress p = make("completed", "x\x7fy", NULL, stages, 1);

	(void)state;
	assert_renders(&p, "p",
		       "completed\nprogress_id: p\ncurrent_stage: x y\nstages: 1/1\nstage a_b completed\n");
}

static void test_missing_or_empty_status_is_unknown(void **state)
{
	struct progress none = make(NULL, "", NULL, NULL, 0);
	struct progress empty = make("", "", NULL, NULL, 0);

	(void)state;
	assert_renders(&none, "p", "unknown\nprogress_id: p\ncurrent_stage:\nstages: 0/0\n");
	assert_renders(&empty, "p", "unknown\nprogress_id: p\ncurrent_stage:\nstages: 0/0\n");
}

static void test_the_first_line_is_the_status_word_alone(void **state)
{
	static const char *const statuses[] = {"in_progress", "completed", "failed", "queued", "with space"};

	(void)state;
	for(size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		struct progress p = make(statuses[i], "s", "e", NULL, 0);
		char *text = render_progress(&p, "p");
		size_t first = strcspn(text, "\n");

		assert_true(first > 0);
		assert_true(strcspn(text, " \t") > first); /* no blank inside line 1 */
		free(text);
	}
}

static void test_terminal_statuses_are_completed_and_failed(void **state)
{
	(void)state;
	assert_true(progress_terminal("completed"));
	assert_true(progress_terminal("failed"));
	assert_false(progress_terminal("in_progress"));
	assert_false(progress_terminal("queued"));
	assert_false(progress_terminal("Completed"));
	assert_false(progress_terminal("completed "));
	assert_false(progress_terminal(""));
	assert_false(progress_terminal(NULL));
}

static void test_progress_free_releases_everything_and_resets(void **state)
{
	struct progress p = {0};

	(void)state;
	p.status = strdup("completed");
	p.current_stage = strdup("");
	p.error = strdup("e");
	p.stages = calloc(2, sizeof(*p.stages));
	assert_non_null(p.stages);
	p.nstages = 2;
	p.stages[0].name = strdup("a");
	p.stages[0].state = strdup("completed");
	p.stages[1].name = strdup("b");
	progress_free(&p); /* the sanitizer build reports anything left */
	assert_null(p.status);
	assert_null(p.stages);
	assert_int_equal(p.nstages, 0);
	progress_free(&p); /* twice is harmless */
	progress_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_progress_renders_idle_alone),
		cmocka_unit_test(test_in_progress_has_the_documented_layout),
		cmocka_unit_test(test_completed_counts_every_stage_done),
		cmocka_unit_test(test_failed_shows_the_error_line_before_the_stages),
		cmocka_unit_test(test_an_empty_error_still_shows_its_line),
		cmocka_unit_test(test_queued_and_unknown_statuses_pass_through),
		cmocka_unit_test(test_empty_current_stage_is_the_label_alone),
		cmocka_unit_test(test_only_completed_and_skipped_stages_count_as_done),
		cmocka_unit_test(test_a_stage_without_name_is_numbered),
		cmocka_unit_test(test_a_stage_without_state_is_unknown),
		cmocka_unit_test(test_words_stay_one_word_and_lines_one_line),
		cmocka_unit_test(test_delete_bytes_are_control_bytes_too),
		cmocka_unit_test(test_missing_or_empty_status_is_unknown),
		cmocka_unit_test(test_the_first_line_is_the_status_word_alone),
		cmocka_unit_test(test_terminal_statuses_are_completed_and_failed),
		cmocka_unit_test(test_progress_free_releases_everything_and_resets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
