/* test_stats.c - the counters of .cekurafs/stats and their `name value` lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/stats.h"

static int reset(void **state)
{
	(void)state;
	stats_reset();
	return 0;
}

/* Whether the rendered text holds exactly this line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for(const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if(strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void assert_line(const char *line)
{
	char *text = stats_render();

	assert_non_null(text);
	if(!has_line(text, line))
		fail_msg("no line \"%s\" in:\n%s", line, text);
	free(text);
}

static void assert_no_line_starting(const char *prefix)
{
	char *text = stats_render();

	assert_non_null(text);
	if(strstr(text, prefix))
		fail_msg("\"%s\" in:\n%s", prefix, text);
	free(text);
}

static void test_a_fresh_start_shows_zeros_and_no_requests(void **state)
{
	(void)state;
	assert_line("requests_in_flight 0");
	assert_line("retries 0");
	assert_line("coalesced_polls 0");
	assert_line("cache_hits_listing 0");
	assert_line("cache_hits_progress 0");
	assert_line("cache_hits_config 0");
	assert_line("cache_hits_negative 0");
	assert_line("cache_hits_history 0");
	assert_no_line_starting("requests_list");
	assert_no_line_starting("requests_tools");
	assert_no_line_starting("requests_history");
	assert_no_line_starting("errors_");
}

static void test_requests_are_counted_by_endpoint_and_status(void **state)
{
	(void)state;
	stats_request(STATS_PROGRESS, 200);
	stats_request(STATS_PROGRESS, 200);
	stats_request(STATS_PROGRESS, 503);
	stats_request(STATS_AUTO_FETCH, 202);
	stats_request(STATS_LIST, 0);
	stats_request(STATS_AGENT, 9999); /* nonsense: no answer */
	assert_line("requests_progress_200 2");
	assert_line("requests_progress_503 1");
	assert_line("requests_auto_fetch_202 1");
	assert_line("requests_list_failed 1");
	assert_line("requests_agent_failed 1");
}

static void test_the_tools_import_and_history_endpoints_have_names(void **state)
{
	(void)state;
	stats_request(STATS_TOOLS_FETCH, 200);
	stats_request(STATS_TOOLS_FETCH, 410);
	stats_request(STATS_TOOLS_PROGRESS, 200);
	stats_request(STATS_TOOLS_PROGRESS, 200);
	stats_request(STATS_TOOLS_PROGRESS, 0);
	stats_request(STATS_HISTORY, 404);
	stats_request(STATS_NENDPOINTS, 200); /* not an endpoint: ignored */
	stats_cache_hit(STATS_CACHE_HISTORY);
	stats_cache_hit(STATS_NCACHES); /* not a cache: ignored */
	assert_line("requests_tools_fetch_200 1");
	assert_line("requests_tools_fetch_410 1");
	assert_line("requests_tools_progress_200 2");
	assert_line("requests_tools_progress_failed 1");
	assert_line("requests_history_404 1");
	assert_line("cache_hits_history 1");
	assert_no_line_starting("requests_progress_");
	assert_no_line_starting("(null)");
}

static void test_the_evaluator_run_and_result_endpoints_have_names(void **state)
{
	(void)state;
	stats_request(STATS_SCENARIOS, 200);
	stats_request(STATS_RESULTS, 200);
	stats_request(STATS_RESULTS, 200);
	stats_request(STATS_RESULT, 404);
	stats_request(STATS_END_CALLS, 204);
	stats_request(STATS_RUN, 201);
	stats_request(STATS_RUN, 0);
	assert_line("requests_scenarios_200 1");
	assert_line("requests_results_200 2");
	assert_line("requests_result_404 1");
	assert_line("requests_end_calls_204 1");
	assert_line("requests_run_201 1");
	assert_line("requests_run_failed 1");
	assert_no_line_starting("requests_history");
}

static void test_errors_are_named_by_errno(void **state)
{
	(void)state;
	stats_error(ENOENT);
	stats_error(ENOENT);
	stats_error(EREMOTEIO);
	stats_error(0);	   /* not an error */
	stats_error(-5);   /* out of range: ignored */
	stats_error(9999); /* out of range: ignored */
	assert_line("errors_ENOENT 2");
	assert_line("errors_EREMOTEIO 1");
}

static void test_the_other_counters(void **state)
{
	(void)state;
	stats_retry();
	stats_coalesced();
	stats_coalesced();
	stats_cache_hit(STATS_CACHE_CONFIG);
	stats_in_flight(1);
	stats_in_flight(1);
	stats_in_flight(-1);
	assert_line("retries 1");
	assert_line("coalesced_polls 2");
	assert_line("cache_hits_config 1");
	assert_line("requests_in_flight 1");
	stats_reset();
	assert_line("coalesced_polls 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_a_fresh_start_shows_zeros_and_no_requests, reset),
		cmocka_unit_test_setup(test_requests_are_counted_by_endpoint_and_status, reset),
		cmocka_unit_test_setup(test_the_tools_import_and_history_endpoints_have_names, reset),
		cmocka_unit_test_setup(test_the_evaluator_run_and_result_endpoints_have_names, reset),
		cmocka_unit_test_setup(test_errors_are_named_by_errno, reset),
		cmocka_unit_test_setup(test_the_other_counters, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
