/* test_import_kinds.c - the tools import, the job layer's second row, and the
 * agent's history, through the registry against the fake transport: the
 * request body (from the configuration, or written), EOPNOTSUPP with no
 * provider, EBUSY across the two import kinds, the state file's line, a
 * failure's error line, and what a completed import drops from the caches.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cekurafs/registry.h"
#include "fake_transport.h"
#include "rig.h"

#define AGENT	     "/v2/aiagents/42/$"
#define TOOLS_FETCH  "/v1/aiagents/42/tools/auto-fetch/$"
#define TOOLS_POLL   "/v1/aiagents/42/tools/auto-fetch-progress/"
#define IMPORT_FETCH "/v2/aiagents/42/auto-fetch/$"
#define IMPORT_POLL  "/v2/aiagents/42/auto-fetch-progress/"
#define HISTORY	     "/v2/aiagents/42/history/"

/* Agent 42 with a provider of this type and id (each a JSON value). */
#define AGENT_WITH(type, id)                                                                                 \
	"{\"id\": 42, \"name\": \"Desk\", \"description\": \"Be brief.\", \"provider\": {\"type\": " type    \
	", \"agent_id\": " id "}, \"mock_tools\": [], \"knowledge_base_files\": [], \"dynamic_variables\": " \
	"[]}"
#define TOOLS_RUNNING                                                                                        \
	"{\"status\": \"in_progress\", \"tools_created\": null, \"tools_updated\": null, \"message\": "      \
	"null, "                                                                                             \
	"\"error\": null}"
#define TOOLS_DONE                                                                                           \
	"{\"status\": \"completed\", \"tools_created\": 1, \"tools_updated\": 2, \"message\": \"ok\", "      \
	"\"error\": null}"
#define TOOLS_FAILED                                                                                         \
	"{\"status\": \"failed\", \"tools_created\": null, \"tools_updated\": null, \"message\": null, "     \
	"\"error\": \"Provider returned 401\"}"
#define HISTORY_PAGE                                                                                         \
	"{\"count\": 1, \"next\": null, \"results\": [{\"history_id\": 9001, \"history_date\": "             \
	"\"2026-01-05T09:00:00Z\", \"history_type\": \"+\", \"agent_name\": \"Desk\", \"description\": "     \
	"\"Be brief.\", \"mock_tools\": [], \"dynamic_variables\": [], \"knowledge_base_files\": []}]}"

struct rig {
	char dir[64];
	struct rig_base b;
	struct registry_options opt;
};

static int setup(void **state)
{
	static struct rig rig;

	memset(&rig, 0, sizeof(rig));
	snprintf(rig.dir, sizeof(rig.dir), "/tmp/cekurafs-kinds-XXXXXX");
	if(!mkdtemp(rig.dir))
		return -1;
	rig.opt.poll_interval = 60;
	rig.opt.list_ttl = 60;
	rig.opt.wait_timeout = 5;
	rig.opt.state_dir = rig.dir;
	if(rig_up(&rig.b, &rig.opt, NULL, 0) != 0)
		return -1;
	*state = &rig;
	return 0;
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	rig_down(&rig->b);
	rig_remove_dir(rig->dir);
	return 0;
}

static void assert_error_line(struct registry *r, const char *want)
{
	char *text = NULL;
	size_t len;

	assert_int_equal(registry_error(r, 42, &text, &len), 0);
	assert_string_equal(text, want);
	free(text);
}

static char *view_text(struct registry *r, enum job_kind kind, enum job_text which, int *rc)
{
	struct job_view v;
	char *text;

	*rc = registry_job_view(r, NULL, 42, kind, 0, &v);
	text = *rc == 0 ? strdup(which == JOB_JSON ? v.json : v.text) : NULL;
	job_view_free(&v);
	return text;
}

static void assert_view(struct registry *r, enum job_kind kind, enum job_text which, const char *want)
{
	int rc;
	char *text = view_text(r, kind, which, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(text, want);
	free(text);
}

/* ---- the request ---- */

static void test_one_sends_the_provider_and_its_agent_id_from_the_configuration(void **state)
{
	struct rig *rig = *state;
	struct registry *r = rig->b.reg;
	char *saved;

	fake_expect(rig->b.f, "GET", AGENT, HTTP_DONE, 200, AGENT_WITH("\"vapi\"", "\"asst_\\\"1\""));
	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_TOOLS_IMPORT, NULL), 0);
	assert_string_equal(fake_request_body(rig->b.f, "POST", TOOLS_FETCH),
			    "{\"provider\": \"vapi\", \"assistant_id\": \"asst_\\\"1\"}");
	assert_int_equal(fake_pending(rig->b.f), 0);
	/* its id is on disk beside the agent import's, as "<agent> tools <id>" */
	saved = rig_state_file(rig->dir);
	assert_non_null(strstr(saved, "\n42 tools t-1\n"));
	free(saved);
	fake_expect(rig->b.f, "GET", TOOLS_POLL "?progress_id=t-1$", HTTP_DONE, 200, TOOLS_RUNNING);
	assert_view(r, JOB_TOOLS_IMPORT, JOB_TEXT,
		    "in_progress\nprogress_id: t-1\ntools_created:\ntools_updated:\n");
	assert_view(r, JOB_TOOLS_IMPORT, JOB_JSON, TOOLS_RUNNING);
	/* the agent import's files know nothing of it */
	assert_view(r, JOB_AGENT_IMPORT, JOB_TEXT, "idle\n");
}

static void test_an_empty_provider_agent_id_is_left_out(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->b.f, "GET", AGENT, HTTP_DONE, 200, AGENT_WITH("\"retell\"", "null"));
	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, NULL), 0);
	assert_string_equal(fake_request_body(rig->b.f, "POST", TOOLS_FETCH), "{\"provider\": \"retell\"}");
}

static void test_a_configuration_younger_than_list_ttl_is_not_fetched_again(void **state)
{
	struct rig *rig = *state;
	struct agent_config *cfg;

	fake_expect(rig->b.f, "GET", AGENT, HTTP_DONE, 200, AGENT_WITH("\"vapi\"", "\"a\""));
	assert_int_equal(registry_agent_config(rig->b.reg, NULL, 42, &cfg), 0);
	registry_agent_config_put(cfg);
	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, NULL), 0);
	assert_int_equal(fake_count(rig->b.f, "GET", AGENT), 1);
}

static void test_no_provider_is_eopnotsupp_and_sends_nothing(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->b.f, "GET", AGENT, HTTP_DONE, 200, AGENT_WITH("null", "null"));
	fake_default(rig->b.f, "POST", NULL, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, NULL), -EOPNOTSUPP);
	assert_int_equal(fake_count(rig->b.f, "POST", NULL), 0);
	assert_error_line(rig->b.reg, "tools-refetch: the agent has no provider: write a JSON object with "
				      "\"provider\" to choose one\n");
	/* "" is no provider either */
	fake_expect(rig->b.f, "GET", AGENT, HTTP_DONE, 200, AGENT_WITH("\"\"", "null"));
	registry_drop_caches(rig->b.reg);
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, NULL), -EOPNOTSUPP);
	assert_int_equal(fake_count(rig->b.f, "POST", NULL), 0);
}

static void test_a_written_body_is_sent_unchanged_without_reading_the_configuration(void **state)
{
	struct rig *rig = *state;
	const char *body =
		"{\n  \"provider\": \"custom\",\n  \"mcp_server_url\": \"https://mcp.example.com/rpc\"\n}\n";

	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, body), 0);
	assert_string_equal(fake_request_body(rig->b.f, "POST", TOOLS_FETCH), body);
	assert_int_equal(fake_count(rig->b.f, "GET", NULL), 0);
}

static void test_a_body_for_the_agent_import_is_einval_and_sends_nothing(void **state)
{
	struct rig *rig = *state;

	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_AGENT_IMPORT, "{}"), -EINVAL);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_a_refused_request_shows_the_fields_the_api_names(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 400,
		    "{\"provider\": [\"\\\"synthflow\\\" is not a valid choice.\"]}");
	assert_int_equal(
		registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{\"provider\": \"synthflow\"}"),
		-EREMOTEIO);
	assert_error_line(rig->b.reg,
			  "tools-refetch: HTTP 400: provider: \"synthflow\" is not a valid choice.\n");
}

static void test_the_endpoint_gone_is_eopnotsupp(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), -EOPNOTSUPP);
	assert_error_line(rig->b.reg,
			  "tools-refetch: HTTP 404: the API no longer offers a tools-only import\n");
}

/* ---- one import of an agent at a time ---- */

static void test_a_tools_import_is_ebusy_while_an_auto_fetch_runs(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->b.f, "POST", IMPORT_FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	fake_expect(rig->b.f, "GET", IMPORT_POLL "?progress_id=p-1$", HTTP_DONE, 200, RIG_IN_PROGRESS);
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), -EBUSY);
	assert_int_equal(fake_count(rig->b.f, "POST", TOOLS_FETCH), 0);
	assert_error_line(rig->b.reg, "tools-refetch: an auto-fetch is already running (progress_id p-1)\n");
	/* once it is over (a fresh poll says so), the tools import goes ahead */
	fake_expect(rig->b.f, "GET", IMPORT_POLL "?progress_id=p-1$", HTTP_DONE, 200, RIG_COMPLETED);
	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), 0);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void test_an_auto_fetch_is_ebusy_while_a_tools_import_runs(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), 0);
	fake_expect(rig->b.f, "GET", TOOLS_POLL "?progress_id=t-1$", HTTP_DONE, 200, TOOLS_RUNNING);
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_AGENT_IMPORT, NULL), -EBUSY);
	assert_int_equal(fake_count(rig->b.f, "POST", IMPORT_FETCH), 0);
	assert_error_line(rig->b.reg, "refetch: a tools import is already running (progress_id t-1)\n");
	/* and a second tools import too, with a fresh poll */
	fake_expect(rig->b.f, "GET", TOOLS_POLL "?progress_id=t-1$", HTTP_DONE, 200, TOOLS_RUNNING);
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), -EBUSY);
	assert_int_equal(fake_count(rig->b.f, "POST", TOOLS_FETCH), 1);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

/* ---- the end of a tools import ---- */

static void test_a_failed_tools_import_fails_its_wait_with_the_apis_error(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), 0);
	fake_expect(rig->b.f, "GET", TOOLS_POLL, HTTP_DONE, 200, TOOLS_FAILED);
	assert_int_equal(registry_job_wait(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, 0, &v), -EREMOTEIO);
	job_view_free(&v);
	assert_error_line(rig->b.reg, "tools-import: Provider returned 401\n");
}

static void test_an_expired_tools_progress_id_is_estale(void **state)
{
	struct rig *rig = *state;
	struct job_view v;

	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, "{}"), 0);
	fake_expect(rig->b.f, "GET", TOOLS_POLL, HTTP_DONE, 400,
		    "{\"detail\": \"Invalid or expired progress_id\"}");
	assert_view(rig->b.reg, JOB_TOOLS_IMPORT, JOB_TEXT, "expired\nprogress_id: t-1\n");
	assert_int_equal(registry_job_wait(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, 0, &v), -ESTALE);
	job_view_free(&v);
}

static void test_a_completed_tools_import_drops_the_configuration_and_the_history(void **state)
{
	struct rig *rig = *state;
	struct agent_config *cfg;
	struct history *h;

	fake_default(rig->b.f, "GET", AGENT, HTTP_DONE, 200, AGENT_WITH("\"vapi\"", "\"a\""));
	fake_default(rig->b.f, "GET", HISTORY, HTTP_DONE, 200, HISTORY_PAGE);
	assert_int_equal(registry_agent_config(rig->b.reg, NULL, 42, &cfg), 0);
	registry_agent_config_put(cfg);
	assert_int_equal(registry_history(rig->b.reg, NULL, 42, &h), 0);
	assert_int_equal(h->n, 1);
	registry_history_put(h);
	/* both are served from memory meanwhile */
	assert_int_equal(registry_history(rig->b.reg, NULL, 42, &h), 0);
	registry_history_put(h);
	assert_non_null(h = registry_history_cached(rig->b.reg, 42));
	registry_history_put(h);
	assert_int_equal(fake_count(rig->b.f, "GET", HISTORY), 1);
	fake_expect(rig->b.f, "POST", TOOLS_FETCH, HTTP_DONE, 200, "{\"progress_id\": \"t-1\"}");
	assert_int_equal(registry_job_start(rig->b.reg, NULL, 42, JOB_TOOLS_IMPORT, NULL), 0);
	fake_expect(rig->b.f, "GET", TOOLS_POLL, HTTP_DONE, 200, TOOLS_DONE);
	assert_view(rig->b.reg, JOB_TOOLS_IMPORT, JOB_TEXT,
		    "completed\nprogress_id: t-1\ntools_created: 1\ntools_updated: 2\nmessage: ok\n");
	/* seen complete: the next reads fetch both again */
	assert_null(registry_history_cached(rig->b.reg, 42));
	assert_null(registry_agent_config_cached(rig->b.reg, 42));
	assert_int_equal(registry_history(rig->b.reg, NULL, 42, &h), 0);
	registry_history_put(h);
	assert_int_equal(registry_agent_config(rig->b.reg, NULL, 42, &cfg), 0);
	registry_agent_config_put(cfg);
	assert_int_equal(fake_count(rig->b.f, "GET", HISTORY), 2);
	assert_int_equal(fake_count(rig->b.f, "GET", AGENT), 2);
}

static void test_a_failed_history_fetch_is_the_reads_errno_with_its_line(void **state)
{
	struct rig *rig = *state;
	struct history *h;

	fake_expect(rig->b.f, "GET", HISTORY, HTTP_DONE, 200, "{\"results\": 7}");
	assert_int_equal(registry_history(rig->b.reg, NULL, 42, &h), -EPROTO);
	assert_null(h);
	{
		char *text = NULL;
		size_t len;

		assert_int_equal(registry_error(rig->b.reg, 42, &text, &len), 0);
		assert_memory_equal(text, "history: malformed response",
				    strlen("history: malformed response"));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_one_sends_the_provider_and_its_agent_id_from_the_configuration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_empty_provider_agent_id_is_left_out, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_configuration_younger_than_list_ttl_is_not_fetched_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_provider_is_eopnotsupp_and_sends_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_a_written_body_is_sent_unchanged_without_reading_the_configuration, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_a_body_for_the_agent_import_is_einval_and_sends_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_refused_request_shows_the_fields_the_api_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_the_endpoint_gone_is_eopnotsupp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_tools_import_is_ebusy_while_an_auto_fetch_runs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_auto_fetch_is_ebusy_while_a_tools_import_runs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_tools_import_fails_its_wait_with_the_apis_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_expired_tools_progress_id_is_estale, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_completed_tools_import_drops_the_configuration_and_the_history, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_history_fetch_is_the_reads_errno_with_its_line,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
