/* test_events.c - an import's changes as `<UTC time> <what> <state>` lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/events.h"

#define T0 1764395000.0 /* 2025-11-29T05:43:20Z */

/* A progress with status and stages given as "name=state" (a NULL name for "=state"). */
static struct progress make(const char *status, int n, ...)
{
	struct progress p = {.status = strdup(status), .nstages = (size_t)n};
	va_list ap;

	p.stages = calloc((size_t)n ? (size_t)n : 1, sizeof(*p.stages));
	va_start(ap, n);
	for(int i = 0; i < n; i++) {
		const char *spec = va_arg(ap, const char *), *eq = strchr(spec, '=');

		p.stages[i].name = eq == spec ? NULL : strndup(spec, (size_t)(eq - spec));
		p.stages[i].state = strdup(eq + 1);
	}
	va_end(ap);
	return p;
}

static void assert_lines(const struct event_log *log, size_t from, const char *want)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(events_lines(log, from, log->n, &text, &len), 0);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
}

static void test_the_first_poll_is_the_status_then_every_stage(void **state)
{
	struct progress p = make("in_progress", 2, "system_prompt=completed", "tools=in_progress");
	struct event_log log = {0};

	(void)state;
	assert_int_equal(events_diff(&log, NULL, &p, T0), 0);
	assert_lines(&log, 0,
		     "2025-11-29T05:43:20Z status in_progress\n"
		     "2025-11-29T05:43:20Z system_prompt completed\n"
		     "2025-11-29T05:43:20Z tools in_progress\n");
	progress_free(&p);
	events_clear(&log);
}

static void test_changes_are_the_stages_in_order_then_the_status_last(void **state)
{
	struct progress a = make("in_progress", 3, "one=completed", "two=in_progress", "three=pending");
	struct progress b = make("completed", 3, "one=completed", "two=completed", "three=completed");
	struct event_log log = {0};

	(void)state;
	assert_int_equal(events_diff(&log, NULL, &a, T0), 0);
	assert_int_equal(events_diff(&log, &a, &b, T0 + 61), 0);
	assert_lines(&log, 4,
		     "2025-11-29T05:44:21Z two completed\n"
		     "2025-11-29T05:44:21Z three completed\n"
		     "2025-11-29T05:44:21Z status completed\n");
	/* nothing changed: nothing appended */
	assert_int_equal(events_diff(&log, &b, &b, T0 + 99), 0);
	assert_int_equal(log.n, 7);
	progress_free(&a);
	progress_free(&b);
	events_clear(&log);
	assert_int_equal(log.n, 0);
	assert_null(log.v);
}

static void test_a_new_stage_and_unnamed_stages_are_events_too(void **state)
{
	struct progress a = make("in_progress", 1, "=pending");
	struct progress b = make("in_progress", 2, "=in_progress", "late stage=pending");
	struct event_log log = {0};

	(void)state;
	assert_int_equal(events_diff(&log, NULL, &a, T0), 0);
	assert_int_equal(events_diff(&log, &a, &b, T0), 0);
	/* names as the progress file shows them: stage-<n>, one word */
	assert_lines(&log, 2,
		     "2025-11-29T05:43:20Z stage-1 in_progress\n"
		     "2025-11-29T05:43:20Z late_stage pending\n");
	progress_free(&a);
	progress_free(&b);
	events_clear(&log);
}

static void test_the_picture_gives_each_line_the_time_of_its_last_change(void **state)
{
	struct progress a = make("in_progress", 2, "one=in_progress", "two=pending");
	struct progress b = make("in_progress", 2, "one=completed", "two=pending");
	struct event_log log = {0};
	char *text = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(events_diff(&log, NULL, &a, T0), 0);
	assert_int_equal(events_diff(&log, &a, &b, T0 + 10), 0);
	assert_int_equal(events_picture(&log, &b, T0 + 500, &text, &len), 0);
	assert_string_equal(text, "2025-11-29T05:43:20Z status in_progress\n"
				  "2025-11-29T05:43:30Z one completed\n"
				  "2025-11-29T05:43:20Z two pending\n");
	assert_int_equal(len, strlen(text));
	free(text);
	/* with no log, every line is now */
	events_clear(&log);
	assert_int_equal(events_picture(&log, &b, T0, &text, &len), 0);
	assert_string_equal(text, "2025-11-29T05:43:20Z status in_progress\n"
				  "2025-11-29T05:43:20Z one completed\n"
				  "2025-11-29T05:43:20Z two pending\n");
	free(text);
	progress_free(&a);
	progress_free(&b);
}

static void test_lines_past_the_end_are_empty(void **state)
{
	struct event_log log = {0};

	(void)state;
	assert_lines(&log, 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_first_poll_is_the_status_then_every_stage),
		cmocka_unit_test(test_changes_are_the_stages_in_order_then_the_status_last),
		cmocka_unit_test(test_a_new_stage_and_unnamed_stages_are_events_too),
		cmocka_unit_test(test_the_picture_gives_each_line_the_time_of_its_last_change),
		cmocka_unit_test(test_lines_past_the_end_are_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
