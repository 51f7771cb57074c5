/* test_results.c - runs and results, the job layer's third row, through the
 * registry and the nodes against the fake transport: what a `run` line sends
 * (or refuses, with nothing sent), the result id kept (state file,
 * results/last, the cached listing), the keyed jobs (one GET shared, a
 * terminal result not polled by wait, another agent's result ENOENT and
 * remembered, unused jobs let go), the verdict's EREMOTEIO and error line,
 * end-calls, and the `run` transaction file read back on the same open file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cekurafs/nodes.h"
#include "cekurafs/registry.h"
#include "fake_transport.h"
#include "rig.h"

#define AGENT	   "/v2/aiagents/42/$"
#define SCENARIOS  "/v1/scenarios/"
#define RUN_TEXT   "/v2/scenarios/run_scenarios_text/$"
#define RUN_VOICE  "/v2/scenarios/run_scenarios/$"
#define RESULTS	   "/v2/results/?agent_id=42"
#define DETAIL_812 "/v2/results/812/$"

#define EVALUATORS_5_7                                                                                       \
	"{\"count\": 2, \"next\": null, \"results\": [{\"id\": 7, \"name\": \"B\", \"tags\": [\"smoke\"], "  \
	"\"folder_path\": \"Sales.In\"}, {\"id\": 5, \"name\": \"A\", \"tags\": [\"x\"], \"folder_path\": "  \
	"null}]}"
#define RESULTS_1_2                                                                                          \
	"{\"count\": 2, \"next\": null, \"results\": [{\"id\": 1, \"agent\": 42, \"status\": "               \
	"\"completed\", "                                                                                    \
	"\"name\": \"a\", \"runs\": []}, {\"id\": 2, \"agent\": 42, \"status\": \"completed\", \"name\": "   \
	"\"b\", \"runs\": []}]}"
/* A result of agent (a JSON number) with this status and run statuses/successes. */
#define DETAIL(id, agent, status, runs)                                                                      \
	"{\"id\": " id ", \"agent\": " agent ", \"status\": \"" status "\", \"name\": \"Nightly\", "         \
	"\"success_rate\": 50.0, \"total_runs_count\": \"2\", \"created_at\": \"2026-03-01T10:00:00Z\", "    \
	"\"runs\": " runs "}"
#define RUNS_RUNNING                                                                                         \
	"{\"2\": {\"id\": 2, \"scenario\": 5, \"scenario_name\": \"A\", \"status\": \"running\", "           \
	"\"success\": null}, \"1\": {\"id\": 1, \"scenario\": 7, \"scenario_name\": \"B\", \"status\": "     \
	"\"completed\", \"success\": true}}"
#define RUNS_ONE_FAILED                                                                                      \
	"{\"2\": {\"id\": 2, \"scenario\": 5, \"scenario_name\": \"A\", \"status\": \"completed\", "         \
	"\"success\": false}, \"1\": {\"id\": 1, \"scenario\": 7, \"scenario_name\": \"B\", \"status\": "    \
	"\"completed\", \"success\": true}}"
#define RUNS_PASSED                                                                                          \
	"{\"2\": {\"id\": 2, \"scenario\": 5, \"scenario_name\": \"A\", \"status\": \"completed\", "         \
	"\"success\": true}, \"1\": {\"id\": 1, \"scenario\": 7, \"scenario_name\": \"B\", \"status\": "     \
	"\"completed\", \"success\": true}}"

struct rig {
	char dir[64];
	struct rig_base b;
	struct registry_options opt;
	struct node_ctx ctx;
};

static int make_rig(void **state, const char *state_dir)
{
	static struct rig rig;

	memset(&rig, 0, sizeof(rig));
	snprintf(rig.dir, sizeof(rig.dir), "/tmp/cekurafs-results-XXXXXX");
	if(!mkdtemp(rig.dir))
		return -1;
	rig.opt.poll_interval = 60;
	rig.opt.list_ttl = 60;
	rig.opt.wait_timeout = 5;
	rig.opt.result_poll_interval = 60;
	rig.opt.result_wait_timeout = 5;
	rig.opt.run_timeout = 5;
	rig.opt.max_runs = 200;
	rig.opt.state_dir = state_dir ? state_dir : rig.dir;
	if(rig_up(&rig.b, &rig.opt, NULL, 0) != 0)
		return -1;
	rig.ctx.reg = rig.b.reg;
	*state = &rig;
	return 0;
}

static int setup(void **state)
{
	return make_rig(state, NULL);
}

/* A state directory that cannot be written: a path under a regular file. */
static int setup_unsaveable(void **state)
{
	return make_rig(state, "/dev/null/cekurafs");
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	rig_down(&rig->b);
	rig_remove_dir(rig->dir);
	return 0;
}

static char *error_line(struct registry *r)
{
	char *text = NULL;
	size_t len;

	assert_int_equal(registry_error(r, 42, &text, &len), 0);
	return text;
}

static void assert_error_line(struct registry *r, const char *want)
{
	char *text = error_line(r);

	assert_string_equal(text, want);
	free(text);
}

static int run_line(struct rig *rig, const char *line, uint64_t *result)
{
	return registry_run(rig->b.reg, NULL, 42, line, strlen(line), 0, result);
}

/* ---- what a line sends ---- */

static void test_a_bad_line_is_einval_with_its_word_and_nothing_sent(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;

	assert_int_equal(run_line(rig, "text 042\n", &result), -EINVAL);
	assert_error_line(rig->b.reg, "run: unknown word \"042\" in word 2\n");
	assert_int_equal(run_line(rig, "text 5 tag=a\n", &result), -EINVAL);
	assert_error_line(rig->b.reg, "run: selectors of two kinds in word 3\n");
	assert_int_equal(run_line(rig, "chat 5\n", &result), -EINVAL);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_more_conversations_than_max_runs_is_e2big_with_nothing_sent(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;

	assert_int_equal(run_line(rig, "voice 1 2 3 frequency=67\n", &result), -E2BIG);
	assert_error_line(rig->b.reg, "run: 201 conversations exceeds max_runs=200\n");
	assert_int_equal(fake_nrequests(rig->b.f), 0);
	/* 200 is allowed: the POST goes out */
	fake_expect(rig->b.f, "POST", RUN_VOICE, HTTP_DONE, 201, "{\"id\": 812}");
	assert_int_equal(run_line(rig, "voice 1 2 frequency=100\n", &result), 0);
	assert_int_equal(result, 812);
}

static void test_a_tag_counts_only_the_evaluators_it_may_take(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;

	rig->opt.max_runs = 1; /* not the rig's registry's: a new one below */
	registry_free(rig->b.reg);
	rig->b.reg = registry_new(rig->b.api, &rig->opt, NULL, 0);
	assert_non_null(rig->b.reg);
	fake_expect(rig->b.f, "GET", SCENARIOS, HTTP_DONE, 200, EVALUATORS_5_7);
	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"id\": 812}");
	/* one of the two evaluators has the tag: 1 conversation, not 2 */
	assert_int_equal(run_line(rig, "text tag=smoke\n", &result), 0);
	assert_string_equal(fake_request_body(rig->b.f, "POST", RUN_TEXT),
			    "{\"agent_id\": 42, \"tags\": [\"smoke\"]}");
	/* both are under the folder Sales? only 7: Sales.In is under Sales */
	fake_expect(rig->b.f, "GET", AGENT, HTTP_DONE, 200,
		    "{\"id\": 42, \"name\": \"Desk\", \"project\": 7}");
	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"id\": 813}");
	assert_int_equal(run_line(rig, "text folder=Sales\n", &result), 0);
	assert_string_equal(fake_request_body(rig->b.f, "POST", RUN_TEXT),
			    "{\"agent_id\": 42, \"folder_path\": \"Sales\", \"project_id\": 7}");
	assert_int_equal(run_line(rig, "text tag=smoke tag=x\n", &result), -E2BIG);
}

static void test_all_lists_the_evaluators_afresh_and_sends_each_id(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;
	char *saved;

	fake_expect(rig->b.f, "GET", SCENARIOS, HTTP_DONE, 200, EVALUATORS_5_7);
	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"id\": 812, \"status\": \"pending\"}");
	assert_int_equal(run_line(rig, "text all name=Nightly smoke \n", &result), 0);
	assert_int_equal(result, 812);
	assert_string_equal(fake_request_body(rig->b.f, "POST", RUN_TEXT),
			    "{\"agent_id\": 42, \"scenarios\": [5, 7], \"name\": \"Nightly smoke\"}");
	/* the id is on disk and is results/last */
	saved = rig_state_file(rig->dir);
	assert_non_null(strstr(saved, "42 result 812\n"));
	free(saved);
	assert_int_equal(registry_result_last(rig->b.reg, 42, &result), 0);
	assert_int_equal(result, 812);
	/* a second `all` lists again, though a listing is fresh */
	fake_expect(rig->b.f, "GET", SCENARIOS, HTTP_DONE, 200,
		    "{\"count\": 0, \"next\": null, \"results\": []}");
	assert_int_equal(run_line(rig, "text all\n", &result), -EINVAL);
	assert_error_line(rig->b.reg, "run: no evaluators\n");
	assert_int_equal(fake_count(rig->b.f, "GET", SCENARIOS), 2);
	assert_int_equal(fake_count(rig->b.f, "POST", RUN_TEXT), 1);
}

static void test_a_refused_run_is_eremoteio_with_the_apis_words(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;

	fake_expect(rig->b.f, "POST", RUN_VOICE, HTTP_DONE, 400, "[\"Agent does not have a phone number\"]");
	assert_int_equal(run_line(rig, "voice 5\n", &result), -EREMOTEIO);
	assert_error_line(rig->b.reg, "run: HTTP 400: Agent does not have a phone number\n");
	assert_int_equal(registry_result_last(rig->b.reg, 42, &result), -ENOENT);
}

static void test_an_answer_without_an_id_is_eproto_and_may_have_started(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;
	char *line;

	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"status\": \"pending\"}");
	assert_int_equal(run_line(rig, "text 5\n", &result), -EPROTO);
	line = error_line(rig->b.reg);
	assert_non_null(strstr(line, "run: malformed response"));
	assert_non_null(strstr(line, "look in results/ before running again"));
	free(line);
	assert_int_equal(fake_count(rig->b.f, "POST", RUN_TEXT), 1);
}

static void test_a_started_result_joins_the_cached_listing(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0, *ids;
	size_t n;

	fake_expect(rig->b.f, "GET", RESULTS, HTTP_DONE, 200, RESULTS_1_2);
	assert_int_equal(registry_results(rig->b.reg, NULL, 42, &ids, &n), 0);
	assert_int_equal(n, 2);
	free(ids);
	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"id\": 812}");
	assert_int_equal(run_line(rig, "text 5\n", &result), 0);
	assert_int_equal(registry_results(rig->b.reg, NULL, 42, &ids, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[2], 812);
	free(ids);
	assert_int_equal(registry_result_newest(rig->b.reg, NULL, 42, &result), 0);
	assert_int_equal(result, 812);
	assert_int_equal(fake_count(rig->b.f, "GET", RESULTS), 1);
	/* listed: found without a GET of its detail */
	assert_int_equal(registry_result_exists(rig->b.reg, NULL, 42, 812), 0);
	assert_int_equal(fake_count(rig->b.f, "GET", DETAIL_812), 0);
}

static void test_a_save_failure_does_not_fail_the_run(void **state)
{
	struct rig *rig = *state;
	uint64_t result = 0;
	char *line;

	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"id\": 812}");
	assert_int_equal(run_line(rig, "text 5\n", &result), 0);
	assert_int_equal(result, 812);
	line = error_line(rig->b.reg);
	assert_non_null(
		strstr(line, "run: started, but the result id could not be saved in /dev/null/cekurafs"));
	free(line);
	assert_int_equal(registry_result_last(rig->b.reg, 42, &result), 0); /* kept in memory */
	assert_int_equal(result, 812);
}

/* ---- a result's job ---- */

static int view(struct rig *rig, uint64_t item, struct job_view *v)
{
	return registry_job_view(rig->b.reg, NULL, 42, JOB_RESULT, item, v);
}

static void test_readers_share_one_get_within_the_interval(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "running", RUNS_RUNNING));
	for(int i = 0; i < 5; i++) {
		assert_int_equal(view(rig, 812, &v), 0);
		assert_non_null(strstr(
			v.text, "running\nresult_id: 812\nname: Nightly\nverdict: running\nruns: 1/2\n"));
		assert_non_null(v.detail);
		assert_false(v.terminal);
		job_view_free(&v);
	}
	assert_int_equal(fake_count(rig->b.f, "GET", DETAIL_812), 1);
	assert_true(registry_result_created_at(rig->b.reg, 42, 812) > 1.7e9);
}

static void test_wait_ends_on_the_status_and_a_failed_run_is_eremoteio(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	rig->b.reg = (registry_free(rig->b.reg), NULL);
	rig->opt.result_poll_interval = 0.01;
	rig->b.reg = registry_new(rig->b.api, &rig->opt, NULL, 0);
	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "running", RUNS_RUNNING));
	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "completed", RUNS_ONE_FAILED));
	assert_int_equal(registry_job_wait(rig->b.reg, NULL, 42, JOB_RESULT, 812, &v), -EREMOTEIO);
	assert_non_null(strstr(v.text, "verdict: failed\n"));
	job_view_free(&v);
	assert_error_line(rig->b.reg, "results/812: 1 of 2 runs did not pass: 2\n");
	/* terminal: a second wait sends nothing */
	assert_int_equal(registry_job_wait(rig->b.reg, NULL, 42, JOB_RESULT, 812, &v), -EREMOTEIO);
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", DETAIL_812), 2);
	assert_int_equal(fake_unexpected(rig->b.f), 0);
}

static void test_a_passed_result_waits_to_zero(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "completed", RUNS_PASSED));
	assert_int_equal(registry_job_wait(rig->b.reg, NULL, 42, JOB_RESULT, 812, &v), 0);
	assert_non_null(strstr(v.text, "verdict: passed\nruns: 2/2\npassed: 2\nfailed: 0\n"));
	assert_true(v.terminal);
	job_view_free(&v);
	assert_error_line(rig->b.reg, "");
}

static void test_a_result_of_another_agent_is_enoent_and_remembered(void **state)
{
	struct rig *rig = *state;

	/* polls every 10 ms: only the memory of the 404 (list_ttl, 60 s) saves the GETs */
	rig->b.reg = (registry_free(rig->b.reg), NULL);
	rig->opt.result_poll_interval = 0.01;
	rig->b.reg = registry_new(rig->b.api, &rig->opt, NULL, 0);

	fake_expect(rig->b.f, "GET", "/v2/results/9/$", HTTP_DONE, 200, DETAIL("9", "43", "completed", "[]"));
	fake_expect(rig->b.f, "GET", "/v2/results/10/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	for(int i = 0; i < 3; i++) {
		assert_int_equal(registry_result_exists(rig->b.reg, NULL, 42, 9), -ENOENT);
		assert_int_equal(registry_result_exists(rig->b.reg, NULL, 42, 10), -ENOENT);
		usleep(20000);
	}
	assert_int_equal(fake_count(rig->b.f, "GET", "/v2/results/9/$"), 1);
	assert_int_equal(fake_count(rig->b.f, "GET", "/v2/results/10/$"), 1);
}

static void test_an_unused_results_job_is_let_go_after_list_ttl(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	rig->b.reg = (registry_free(rig->b.reg), NULL);
	rig->opt.list_ttl = 0;
	rig->b.reg = registry_new(rig->b.api, &rig->opt, NULL, 0);
	fake_default(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		     DETAIL("812", "42", "running", RUNS_RUNNING));
	fake_default(rig->b.f, "GET", "/v2/results/813/$", HTTP_DONE, 200,
		     DETAIL("813", "42", "running", RUNS_RUNNING));
	assert_int_equal(view(rig, 812, &v), 0);
	job_view_free(&v);
	assert_int_equal(view(rig, 812, &v), 0); /* kept: within result_poll_interval */
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", DETAIL_812), 1);
	usleep(2000);
	assert_int_equal(view(rig, 813, &v), 0); /* a new job lets the unused one go */
	job_view_free(&v);
	assert_int_equal(view(rig, 812, &v), 0);
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", DETAIL_812), 2);
}

static void test_past_4096_results_the_one_used_longest_ago_is_let_go(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	fake_default(rig->b.f, "GET", "/v2/results/", HTTP_DONE, 200,
		     DETAIL("1", "42", "running", RUNS_RUNNING));
	for(uint64_t id = 1; id <= 4096; id++) {
		assert_int_equal(view(rig, id, &v), 0);
		job_view_free(&v);
	}
	assert_int_equal(view(rig, 1, &v), 0); /* held: no GET */
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", "/v2/results/1/$"), 1);
	assert_int_equal(view(rig, 4097, &v), 0); /* one more: 2, used longest ago, goes */
	job_view_free(&v);
	assert_int_equal(view(rig, 1, &v), 0);
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", "/v2/results/1/$"), 1);
	assert_int_equal(view(rig, 2, &v), 0);
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", "/v2/results/2/$"), 2);
}

static void test_end_calls_posts_once_and_the_next_read_polls(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "running", RUNS_RUNNING));
	fake_expect(rig->b.f, "POST", "/v2/results/812/end_calls/$", HTTP_DONE, 200, "");
	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "cancelled", RUNS_RUNNING));
	assert_int_equal(view(rig, 812, &v), 0);
	job_view_free(&v);
	assert_int_equal(registry_end_calls(rig->b.reg, NULL, 42, 812), 0);
	assert_int_equal(view(rig, 812, &v), 0);
	assert_non_null(strstr(v.text, "cancelled\n"));
	job_view_free(&v);
	assert_error_line(rig->b.reg, "results/812: result cancelled\n");
	fake_expect(rig->b.f, "POST", "/v2/results/812/end_calls/$", HTTP_DONE, 404,
		    "{\"detail\": \"Not found.\"}");
	assert_int_equal(registry_end_calls(rig->b.reg, NULL, 42, 812), -ENOENT);
	assert_error_line(rig->b.reg, "end-calls: HTTP 404: Not found.\n");
}

/* ---- the files ---- */

static int open_path(struct rig *rig, const char *path, int flags, struct node_handle **h)
{
	struct node_ref ref;
	int rc = nodes_resolve(&rig->ctx, 42, path, &ref);

	if(rc != 0)
		return rc;
	return nodes_open(&rig->ctx, &ref.file, flags, h);
}

static void test_run_reads_back_the_id_on_the_same_open_file(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h, *other;
	char buf[64];

	fake_expect(rig->b.f, "POST", RUN_TEXT, HTTP_DONE, 201, "{\"id\": 812}");
	assert_int_equal(open_path(rig, "run", O_RDWR, &h), 0);
	assert_int_equal(open_path(rig, "run", O_RDWR, &other), 0);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 0), 0); /* no write yet: end of file */
	assert_int_equal(nodes_write(&rig->ctx, h, "text 5\n", 7, 0), 7);
	/* at the offset the write left, then end of file */
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 7), 4);
	assert_memory_equal(buf, "812\n", 4);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 11), 0);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 0), 4); /* and from the start */
	assert_memory_equal(buf, "812\n", 4);
	/* another open file has its own: nothing written there */
	assert_int_equal(nodes_read(&rig->ctx, other, buf, sizeof(buf), 0), 0);
	/* a refused write leaves no reply */
	assert_int_equal(nodes_write(&rig->ctx, other, "text 042\n", 9, 0), -EINVAL);
	assert_int_equal(nodes_read(&rig->ctx, other, buf, sizeof(buf), 0), 0);
	nodes_release(h);
	nodes_release(other);
	assert_int_equal(fake_count(rig->b.f, "POST", RUN_TEXT), 1);
}

static char *read_path(struct rig *rig, const char *path, int *rc)
{
	struct node_handle *h;
	char *buf = calloc(1, 65536);
	int n;

	*rc = open_path(rig, path, O_RDONLY, &h);
	if(*rc != 0) {
		free(buf);
		return NULL;
	}
	n = nodes_read(&rig->ctx, h, buf, 65535, 0);
	nodes_release(h);
	*rc = n < 0 ? n : 0;
	if(n < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void test_a_results_files_show_status_error_junit_and_runs(void **state)
{
	struct rig *rig = *state;
	int rc;
	char *text;

	fake_expect(rig->b.f, "GET", DETAIL_812, HTTP_DONE, 200,
		    DETAIL("812", "42", "running", RUNS_RUNNING));
	text = read_path(rig, "results/812/status", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(text, "running\n");
	free(text);
	text = read_path(rig, "results/812/junit.xml", &rc);
	assert_string_equal(text, ""); /* written once terminal */
	free(text);
	text = read_path(rig, "results/812/error", &rc);
	assert_string_equal(text, "");
	free(text);
	text = read_path(rig, "results/812/runs/2.json", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(text, "\"status\": \"running\""));
	free(text);
	assert_null(read_path(rig, "results/812/runs/3.json", &rc));
	assert_int_equal(rc, -ENOENT);
	assert_null(read_path(rig, "results/812/runs/02.json", &rc));
	assert_int_equal(rc, -ENOENT);
	assert_null(read_path(rig, "results/0812/status", &rc));
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(fake_count(rig->b.f, "GET", DETAIL_812), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_bad_line_is_einval_with_its_word_and_nothing_sent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_more_conversations_than_max_runs_is_e2big_with_nothing_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_tag_counts_only_the_evaluators_it_may_take, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_all_lists_the_evaluators_afresh_and_sends_each_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_refused_run_is_eremoteio_with_the_apis_words, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_answer_without_an_id_is_eproto_and_may_have_started,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_started_result_joins_the_cached_listing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_save_failure_does_not_fail_the_run, setup_unsaveable,
						teardown),
		cmocka_unit_test_setup_teardown(test_readers_share_one_get_within_the_interval, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wait_ends_on_the_status_and_a_failed_run_is_eremoteio,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_passed_result_waits_to_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_result_of_another_agent_is_enoent_and_remembered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_unused_results_job_is_let_go_after_list_ttl, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_past_4096_results_the_one_used_longest_ago_is_let_go,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_calls_posts_once_and_the_next_read_polls, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_run_reads_back_the_id_on_the_same_open_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_results_files_show_status_error_junit_and_runs, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
