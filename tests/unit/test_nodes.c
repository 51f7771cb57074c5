/* test_nodes.c - the files of an agent directory: the trigger parser, the
 * table, access modes at open, and what open, read and write do (against the
 * fake transport).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cekurafs/log.h"
#include "cekurafs/nodes.h"
#include "fake_transport.h"
#include "rig.h"

#define POLL  "/42/auto-fetch-progress/"
#define FETCH "/42/auto-fetch/"

#define IN_PROGRESS RIG_IN_PROGRESS
#define COMPLETED   RIG_COMPLETED
#define FAILED                                                                                               \
	"{\"status\": \"failed\", \"current_stage\": \"tools\", \"stages\": "                                \
	"[{\"name\": \"tools\", \"status\": \"failed\"}], \"error\": \"boom\"}"
#define IN_PROGRESS_TEXT                                                                                     \
	"in_progress\nprogress_id: p-1\ncurrent_stage: tools\nstages: 0/1\nstage tools in_progress\n"
#define COMPLETED_TEXT "completed\nprogress_id: p-1\ncurrent_stage:\nstages: 1/1\nstage tools completed\n"

/* ---- the trigger parser ---- */

static void assert_trigger(const char *buf, size_t size, off_t off, int want)
{
	int got = nodes_parse_trigger(buf, size, off);

	if(got != want)
		fail_msg("nodes_parse_trigger(\"%.*s\", %zu, %lld) = %d, want %d", (int)size, buf ? buf : "",
			 size, (long long)off, got, want);
}

static void test_trigger_accepts_1_with_surrounding_whitespace(void **state)
{
	(void)state;
	assert_trigger("1", 1, 0, 0);
	assert_trigger("1\n", 2, 0, 0);
	assert_trigger(" 1 \n", 4, 0, 0);
	assert_trigger("\t1\r\n", 4, 0, 0);
	assert_trigger("\n\n1\n\n", 5, 0, 0);
	assert_trigger("1xyz", 1, 0, 0); /* only size bytes count */
}

static void test_trigger_rejects_anything_else(void **state)
{
	static const char *const bad[] = {"",	 "\n",	 " ",  "2",	      "11", "1 1", "one",
					  "0",	 "1.",	 "+1", "-1",	      "01", "1\v", "\v1",
					  "yes", "true", "l",  "\xef\xbc\x91" /* fullwidth 1 */};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_trigger(bad[i], strlen(bad[i]), 0, -EINVAL);
	assert_trigger(NULL, 0, 0, -EINVAL);
}

static void test_trigger_must_be_at_offset_zero(void **state)
{
	(void)state;
	assert_trigger("1", 1, 1, -EINVAL);
	assert_trigger("1\n", 2, 2, -EINVAL);
	assert_trigger("1", 1, 4096, -EINVAL);
}

static void test_trigger_rejects_nul_bytes(void **state)
{
	(void)state;
	assert_trigger("1\0", 2, 0, -EINVAL);
	assert_trigger("\0"
		       "1",
		       2, 0, -EINVAL);
	assert_trigger("1\n\0", 3, 0, -EINVAL);
	assert_trigger("\0", 1, 0, -EINVAL);
}

/* ---- a start file's parser: the trigger, or one JSON object ---- */

static void assert_start(const char *buf, size_t size, off_t off, bool bodies, int want, const char *body)
{
	char *got_body = (char *)"unset";
	int got = nodes_parse_start(buf, size, off, bodies, &got_body);

	if(got != want)
		fail_msg("nodes_parse_start(\"%.*s\", %zu, %lld, %d) = %d, want %d", (int)size, buf, size,
			 (long long)off, bodies, got, want);
	if(body)
		assert_string_equal(got_body, body);
	else
		assert_null(got_body);
	free(got_body);
}

static void test_a_start_file_takes_1_or_one_json_object(void **state)
{
	static const char obj[] = "\n {\"provider\": \"custom\",\n  \"mcp_server_url\": \"https://m\"}\n\n";

	(void)state;
	assert_start("1\n", 2, 0, true, 0, NULL);
	assert_start("1\n", 2, 0, false, 0, NULL);
	assert_start(obj, strlen(obj), 0, true, 0, obj); /* the whole write, whitespace and all */
	assert_start("{}", 2, 0, true, 0, "{}");
}

static void test_a_start_file_refuses_anything_else(void **state)
{
	static const char *const bad[] = {"",	  "2",	  "{",	 "[1]",	     "\"x\"", "{\"a\":1} {\"b\":2}",
					  "{} 1", "1 {}", "nul", "{\"a\": }"};
	char *big;

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_start(bad[i], strlen(bad[i]), 0, true, -EINVAL, NULL);
	/* an object where the kind takes none, at an offset, or with a NUL byte */
	assert_start("{}", 2, 0, false, -EINVAL, NULL);
	assert_start("{}", 2, 1, true, -EINVAL, NULL);
	assert_start("{\"a\": \"\0\"}", 10, 0, true, -EINVAL, NULL);
	/* at most NODES_MAX_BODY bytes */
	big = malloc(NODES_MAX_BODY + 2);
	assert_non_null(big);
	memset(big, ' ', NODES_MAX_BODY + 1);
	big[0] = '{';
	big[NODES_MAX_BODY - 1] = '}';
	big[NODES_MAX_BODY] = '\0';
	assert_start(big, NODES_MAX_BODY, 0, true, 0, big);
	big[NODES_MAX_BODY] = ' ';
	big[NODES_MAX_BODY + 1] = '\0';
	assert_start(big, NODES_MAX_BODY + 1, 0, true, -EINVAL, NULL);
	free(big);
}

/* ---- the table ---- */

static const struct node_kind *find(const char *name)
{
	return nodes_find(name, strlen(name));
}

static void test_every_documented_file_has_a_row(void **state)
{
	static const struct {
		const char *name;
		mode_t mode;
		bool readable;
		bool dir;
	} want[] = {
		{"refetch", 0200, false, false},
		{"progress", 0444, true, false},
		{"progress.json", 0444, true, false},
		{"wait", 0444, true, false},
		{"error", 0444, true, false},
		{"events", 0444, true, false},
		{"agent.json", 0444, true, false},
		{"name", 0444, true, false},
		{"system_prompt", 0444, true, false},
		{"language", 0444, true, false},
		{"provider", 0444, true, false},
		{"provider_agent_id", 0444, true, false},
		{"phone_number", 0444, true, false},
		{"updated_at", 0444, true, false},
		{"dynamic_variables", 0444, true, false},
		{"tools", 0555, true, true},
		{"knowledge_base", 0555, true, true},
		{"tools-refetch", 0200, false, false},
		{"tools-progress", 0444, true, false},
		{"tools-progress.json", 0444, true, false},
		{"tools-wait", 0444, true, false},
	};

	(void)state;
	for(size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct node_kind *k = find(want[i].name);

		assert_non_null(k);
		assert_string_equal(k->name, want[i].name);
		assert_int_equal(k->mode, want[i].mode);
		assert_int_equal(k->make != NULL || k->next != NULL, want[i].readable);
		assert_int_equal(k->write != NULL, !want[i].readable);
		assert_int_equal(k->dir, want[i].dir);
		assert_int_equal(k->list != NULL, want[i].dir);
		assert_non_null(k->size);
	}
	assert_int_equal(nodes_table(&(size_t){0}) != NULL, true);
}

static void test_unknown_names_have_no_row(void **state)
{
	static const char *const bad[] = {
		"",  "Progress", "progress.jso", "progress.json2", "refetch ", " refetch",
		".", "..",	 "config",	 "progress/",	   "PROGRESS", "error.txt"};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if(find(bad[i]))
			fail_msg("\"%s\" has a row", bad[i]);
}

static void test_the_table_lists_each_row_once(void **state)
{
	size_t n = 0;
	const struct node_kind *rows = nodes_table(&n);

	(void)state;
	assert_int_equal(n, 25);
	for(size_t i = 0; i < n; i++) {
		assert_ptr_equal(find(rows[i].name), &rows[i]);
		for(size_t j = i + 1; j < n; j++)
			assert_string_not_equal(rows[i].name, rows[j].name);
	}
	assert_false(find("wait")->at_open); /* open never blocks */
	assert_true(find("progress")->at_open);
	assert_ptr_equal(nodes_find("progress.json", strlen("progress")), find("progress"));
}

/* ---- open, read, write against a registry ---- */

struct rig {
	struct rig_base b;
	struct node_ctx ctx;
};

/* A registry without a state directory that knows agent 42's progress id "p-1". */
static int setup(void **state)
{
	static struct rig rig;
	struct registry_options cfg = {.poll_interval = 0, .list_ttl = 60, .wait_timeout = 5};
	struct state_entry e = {.agent_id = 42, .progress_id = (char *)"p-1"};

	memset(&rig, 0, sizeof(rig));
	if(rig_up(&rig.b, &cfg, &e, 1) != 0)
		return -1;
	rig.ctx.reg = rig.b.reg;
	*state = &rig;
	return 0;
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	rig_down(&rig->b);
	return 0;
}

static int open_file(struct rig *rig, const char *name, uint64_t id, int flags, struct node_handle **h)
{
	struct node_file f = {.id = id, .kind = find(name)};

	assert_non_null(f.kind);
	return nodes_open(&rig->ctx, &f, flags, h);
}

/* Reads the whole file through h, as cat does, into a new string. */
static char *read_all(struct rig *rig, struct node_handle *h, int *rc)
{
	static char buf[8192];
	size_t len = 0;
	int n;

	while((n = nodes_read(&rig->ctx, h, buf + len, 7, (off_t)len)) > 0)
		len += (size_t)n;
	*rc = n;
	buf[len] = '\0';
	return buf;
}

static void test_a_write_only_file_cannot_be_opened_for_reading(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = (struct node_handle *)rig;

	assert_int_equal(open_file(rig, "refetch", 42, O_RDONLY, &h), -EACCES);
	assert_null(h);
	assert_int_equal(open_file(rig, "refetch", 42, O_RDWR, &h), -EACCES);
	assert_null(h);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_read_only_files_cannot_be_opened_for_writing(void **state)
{
	static const char *const names[] = {"progress", "progress.json", "wait", "error"};
	struct rig *rig = *state;

	for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct node_handle *h = (struct node_handle *)rig;

		assert_int_equal(open_file(rig, names[i], 42, O_WRONLY, &h), -EACCES);
		assert_null(h);
		assert_int_equal(open_file(rig, names[i], 42, O_RDWR | O_APPEND, &h), -EACCES);
		assert_int_equal(open_file(rig, names[i], 42, O_WRONLY | O_TRUNC, &h), -EACCES);
	}
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_opening_or_truncating_refetch_triggers_nothing(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;

	assert_int_equal(open_file(rig, "refetch", 42, O_WRONLY | O_TRUNC, &h), 0);
	assert_non_null(h);
	nodes_release(h);
	assert_int_equal(open_file(rig, "refetch", 42, O_WRONLY | O_APPEND, &h), 0);
	nodes_release(h);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_writing_1_to_refetch_starts_an_auto_fetch(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED); /* the check: not running */
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-2\"}");
	assert_int_equal(open_file(rig, "refetch", 42, O_WRONLY | O_TRUNC, &h), 0);
	assert_int_equal(nodes_write(&rig->ctx, h, "1\n", 2, 0), 2);
	nodes_release(h);
	assert_int_equal(fake_count(rig->b.f, "POST", FETCH), 1);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void test_bad_input_to_refetch_is_einval_and_sends_nothing(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	char *line = NULL;
	size_t len = 0;

	assert_int_equal(open_file(rig, "refetch", 42, O_WRONLY, &h), 0);
	assert_int_equal(nodes_write(&rig->ctx, h, "2\n", 2, 0), -EINVAL);
	assert_int_equal(registry_error(rig->b.reg, 42, &line, &len), 0);
	assert_string_equal(line, "refetch: invalid input: write \"1\" to start an auto-fetch\n");
	free(line);
	assert_int_equal(nodes_write(&rig->ctx, h, "1", 1, 1), -EINVAL);
	assert_int_equal(registry_error(rig->b.reg, 42, &line, &len), 0);
	assert_string_equal(line, "refetch: invalid input: write \"1\" at the start of the file\n");
	free(line);
	assert_int_equal(nodes_write(&rig->ctx, h, "", 0, 0), -EINVAL);
	nodes_release(h);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_a_refused_refetch_fails_the_write(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	int rc;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 400, "{\"detail\": \"Invalid progress_id\"}");
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 400,
		    "{\"detail\": \"Agent has no provider configured\"}");
	assert_int_equal(open_file(rig, "refetch", 42, O_WRONLY, &h), 0);
	assert_int_equal(nodes_write(&rig->ctx, h, "1\n", 2, 0), -EREMOTEIO);
	nodes_release(h);
	assert_int_equal(open_file(rig, "error", 42, O_RDONLY, &h), 0);
	assert_string_equal(read_all(rig, h, &rc), "refetch: HTTP 400: Agent has no provider configured\n");
	assert_int_equal(rc, 0);
	nodes_release(h);
}

static void test_reads_and_writes_through_the_wrong_handle_are_eacces(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	char buf[16];

	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	assert_int_equal(open_file(rig, "refetch", 42, O_WRONLY, &h), 0);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 0), -EACCES);
	nodes_release(h);
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), 0);
	assert_int_equal(nodes_write(&rig->ctx, h, "1", 1, 0), -EACCES);
	nodes_release(h);
	assert_int_equal(fake_count(rig->b.f, "POST", NULL), 0);
}

static void test_one_open_file_serves_one_snapshot(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	int rc;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), 0);
	assert_int_equal(fake_nrequests(rig->b.f), 1); /* rendered at open */
	/* read in 7-byte pieces: every piece from the one snapshot, however the API moves on */
	assert_string_equal(read_all(rig, h, &rc), IN_PROGRESS_TEXT);
	assert_int_equal(rc, 0);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
	/* a new read from the start after the end was served takes a new snapshot */
	assert_string_equal(read_all(rig, h, &rc), COMPLETED_TEXT);
	assert_int_equal(fake_nrequests(rig->b.f), 2);
	nodes_release(h);
}

static void test_progress_json_serves_the_raw_body(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	int rc;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	assert_int_equal(open_file(rig, "progress.json", 42, O_RDONLY, &h), 0);
	assert_string_equal(read_all(rig, h, &rc), IN_PROGRESS);
	nodes_release(h);
	/* no auto-fetch known: empty */
	assert_int_equal(open_file(rig, "progress.json", 7, O_RDONLY, &h), 0);
	assert_string_equal(read_all(rig, h, &rc), "");
	assert_int_equal(rc, 0);
	nodes_release(h);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
}

static void test_opening_progress_fails_when_the_poll_fails(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = (struct node_handle *)rig;

	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 503, NULL);
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), -EIO);
	assert_null(h);
}

static void test_opening_wait_never_blocks_its_first_read_does(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	int rc;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_int_equal(open_file(rig, "wait", 42, O_RDONLY, &h), 0);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
	assert_string_equal(read_all(rig, h, &rc), COMPLETED_TEXT);
	assert_int_equal(rc, 0);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
	nodes_release(h);
}

static void test_reading_wait_fails_when_the_import_failed(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h = NULL;
	char buf[64];

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, FAILED);
	assert_int_equal(open_file(rig, "wait", 42, O_RDONLY, &h), 0);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 0), -EREMOTEIO);
	nodes_release(h);
	/* progress shows the failed status as text, without failing */
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), 0);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, 7, 0), 7);
	assert_memory_equal(buf, "failed\n", 7);
	nodes_release(h);
}

static size_t size_of(struct rig *rig, const char *name, uint64_t id)
{
	struct node_file f = {.id = id, .kind = find(name)};

	return nodes_size(&rig->ctx, &f);
}

/* ---- the agent's configuration ---- */

#define AGENT_7                                                                                              \
	"{\"id\": 7, \"name\": \"Sales/Support 7\", \"description\": \"Be brief.\", \"language\": \"en\", "  \
	"\"telephony\": {\"phone_number\": null}, \"provider\": {\"type\": \"vapi\", \"agent_id\": "         \
	"\"v-7\"}, "                                                                                         \
	"\"mock_tools\": [{\"id\": 71, \"name\": \"lookup\", \"mock_data\": []}], "                          \
	"\"knowledge_base_files\": [], \"dynamic_variables\": [], \"updated_at\": \"2026-01-01T00:00:00Z\"}"

/* Reads a whole file (f.entry may be NULL) into a new string. */
static char *read_config(struct rig *rig, const char *name, const char *entry, int *rc)
{
	struct node_file f = {.id = 7, .kind = find(name), .entry = entry};
	struct node_handle *h;
	char *text;

	*rc = nodes_open(&rig->ctx, &f, O_RDONLY, &h);
	if(*rc != 0)
		return NULL;
	text = strdup(read_all(rig, h, rc));
	nodes_release(h);
	return text;
}

static void assert_config_file(struct rig *rig, const char *name, const char *entry, const char *want)
{
	int rc;
	char *text = read_config(rig, name, entry, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(text, want);
	free(text);
}

static void collect(void *arg, const char *name)
{
	char *names = arg;

	strcat(names, name);
	strcat(names, ";");
}

static void test_config_files_are_fetched_once_and_cached(void **state)
{
	struct rig *rig = *state;
	struct node_file tools = {.id = 7, .kind = find("tools")};
	struct node_ref ref;
	char names[256] = "";

	fake_expect(rig->b.f, "GET", "/aiagents/7/$", HTTP_DONE, 200, AGENT_7);
	assert_config_file(rig, "name", NULL, "Sales/Support 7\n");
	assert_config_file(rig, "system_prompt", NULL, "Be brief.\n");
	assert_config_file(rig, "provider", NULL, "vapi\n");
	assert_config_file(rig, "provider_agent_id", NULL, "v-7\n");
	assert_config_file(rig, "phone_number", NULL, ""); /* null: empty, not ENOENT */
	assert_config_file(rig, "dynamic_variables", NULL, "");
	assert_int_equal(nodes_list(&rig->ctx, &tools, collect, names), 0);
	assert_string_equal(names, "lookup.json;");
	assert_int_equal(nodes_resolve(&rig->ctx, 7, "tools/lookup.json", &ref), 0);
	assert_int_equal(ref.type, NODE_FILE);
	assert_string_equal(ref.file.entry, "lookup.json");
	assert_int_equal(nodes_resolve(&rig->ctx, 7, "tools/nope.json", &ref), -ENOENT);
	assert_int_equal(size_of(rig, "system_prompt", 7), strlen("Be brief.\n")); /* known now */
	assert_int_equal(fake_count(rig->b.f, "GET", "/aiagents/7/"), 1);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void test_a_directory_row_is_not_opened_as_a_file(void **state)
{
	struct rig *rig = *state;
	struct node_file f = {.id = 7, .kind = find("tools")};
	struct node_handle *h;

	assert_int_equal(nodes_open(&rig->ctx, &f, O_RDONLY, &h), -EISDIR);
	f.kind = find("progress");
	assert_int_equal(nodes_list(&rig->ctx, &f, collect, NULL), -ENOTDIR);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_a_failed_config_fetch_is_an_error_and_recorded(void **state)
{
	struct rig *rig = *state;
	int rc;

	fake_expect(rig->b.f, "GET", "/aiagents/7/$", HTTP_DONE, 200, "[1, 2]");
	assert_null(read_config(rig, "name", NULL, &rc));
	assert_int_equal(rc, -EPROTO);
	assert_config_file(rig, "error", NULL,
			   "config: malformed response: the agent is not an AIAgentV2 object\n");
	fake_expect(rig->b.f, "GET", "/aiagents/7/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_null(read_config(rig, "name", NULL, &rc));
	assert_int_equal(rc, -ENOENT);
}

#define COMPLETED_42                                                                                         \
	"{\"agent_id\": 42, \"status\": \"completed\", \"current_stage\": \"\", \"stages\": [], \"error\": " \
	"null}"

static void test_a_completed_import_drops_the_config(void **state)
{
	struct rig *rig = *state;
	struct node_file f = {.id = 42, .kind = find("system_prompt")};
	struct node_handle *h;
	int rc;

	fake_expect(rig->b.f, "GET", "/aiagents/42/$", HTTP_DONE, 200,
		    "{\"id\": 42, \"description\": \"old\"}");
	assert_int_equal(nodes_open(&rig->ctx, &f, O_RDONLY, &h), 0);
	assert_string_equal(read_all(rig, h, &rc), "old\n");
	nodes_release(h);
	/* this mount sees agent 42's import complete... */
	fake_expect(rig->b.f, "GET", "auto-fetch-progress/", HTTP_DONE, 200, COMPLETED_42);
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), 0);
	nodes_release(h);
	/* ...so the next read asks for the agent again */
	fake_expect(rig->b.f, "GET", "/aiagents/42/$", HTTP_DONE, 200,
		    "{\"id\": 42, \"description\": \"new\"}");
	assert_int_equal(nodes_open(&rig->ctx, &f, O_RDONLY, &h), 0);
	assert_string_equal(read_all(rig, h, &rc), "new\n");
	nodes_release(h);
	assert_int_equal(fake_count(rig->b.f, "GET", "/aiagents/42/$"), 2);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

/* ---- events and poll(2) ---- */

/* "<time> <what> <state>\n" lines without their times, for comparing. */
static char *without_times(const char *text)
{
	char *out = calloc(1, strlen(text) + 1);

	for(const char *p = text; *p;) {
		const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');

		assert_non_null(sp);
		assert_non_null(nl);
		strncat(out, sp + 1, (size_t)(nl - sp));
		p = nl + 1;
	}
	return out;
}

static void test_events_is_the_picture_then_the_changes_then_end_of_file(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h;
	char buf[4096], *lines;
	int n;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_int_equal(open_file(rig, "events", 42, O_RDONLY, &h), 0);
	assert_int_equal(fake_nrequests(rig->b.f), 0); /* open never blocks nor polls */
	n = nodes_read(&rig->ctx, h, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	lines = without_times(buf);
	assert_string_equal(lines, "status in_progress\ntools in_progress\n");
	free(lines);
	n = nodes_read(&rig->ctx, h, buf, 5, 12345); /* the offset means nothing: a stream */
	assert_int_equal(n, 5);
	n += nodes_read(&rig->ctx, h, buf + 5, sizeof(buf) - 6, 0);
	buf[n] = '\0';
	lines = without_times(buf);
	assert_string_equal(lines, "tools completed\nstatus completed\n");
	free(lines);
	assert_int_equal(nodes_read(&rig->ctx, h, buf, sizeof(buf), 0), 0); /* end of file */
	nodes_release(h);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
}

static int notified, released;
static void *last_token;

static void count_notify(void *token)
{
	notified++;
	last_token = token;
}

static void count_release(void *token)
{
	(void)token;
	released++;
}

static void test_poll_keeps_a_token_until_a_reread_would_differ(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h;
	int token_a, token_b;

	notified = released = 0;
	nodes_notify_setup(count_notify, count_release);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), 0);
	assert_false(nodes_notify_check(&rig->ctx, h, &token_a)); /* nothing new yet: kept */
	assert_false(nodes_notify_check(&rig->ctx, h, &token_b)); /* the newest replaces it */
	assert_int_equal(released, 1);
	/* the notifier polls (the poll is due: poll_interval 0) and sees a change */
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	nodes_notify_round(&rig->ctx);
	assert_int_equal(notified, 1);
	assert_ptr_equal(last_token, &token_b);
	assert_int_equal(released, 2);
	assert_true(nodes_notify_check(&rig->ctx, h, NULL)); /* readable until it is read again */
	nodes_release(h);
	/* a terminal import never changes: a new reader's token waits, asking nothing */
	assert_int_equal(open_file(rig, "progress", 42, O_RDONLY, &h), 0);
	assert_false(nodes_notify_check(&rig->ctx, h, &token_a));
	nodes_notify_round(&rig->ctx);
	assert_int_equal(notified, 1);
	nodes_release(h); /* the kept token goes with the handle */
	assert_int_equal(released, 3);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
}

static void test_sizes_are_known_without_asking_the_api(void **state)
{
	struct rig *rig = *state;

	assert_int_equal(size_of(rig, "refetch", 42), 0);
	assert_int_equal(size_of(rig, "progress", 7), strlen("idle\n"));
	assert_int_equal(size_of(rig, "progress.json", 7), 0);
	assert_int_equal(size_of(rig, "error", 7), 0);
	assert_true(size_of(rig, "progress", 42) > 0);		  /* never a dishonest 0 */
	assert_int_equal(size_of(rig, "system_prompt", 7), 4096); /* not fetched yet: a page */
	registry_note_error(rig->b.reg, 7, "refetch", "x");
	assert_int_equal(size_of(rig, "error", 7), strlen("refetch: x\n"));
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

/* ---- history/ ---- */

/* Two versions of agent 7, the older one's tools a string holding an array,
 * the newer one's a string that is not JSON; one record without an id. */
#define HISTORY_7                                                                                            \
	"{\"count\": 3, \"next\": null, \"results\": ["                                                      \
	"{\"history_id\": 9002, \"history_date\": \"2026-02-01T00:00:00Z\", \"history_type\": \"~\", "       \
	"\"history_change_reason\": null, \"history_user\": null, \"version_id\": null, \"version_name\": "  \
	"null, \"agent_name\": \"Desk\", \"description\": \"Be briefer.\", \"language\": \"en\", "           \
	"\"mock_tools\": \"not json\", \"dynamic_variables\": [], \"knowledge_base_files\": null}, "         \
	"{\"history_id\": \"x\"}, "                                                                          \
	"{\"history_id\": 9001, \"history_date\": \"2026-01-01T00:00:00Z\", \"history_type\": \"+\", "       \
	"\"history_change_reason\": \"Created\", \"history_user\": {\"id\": 1, \"email\": \"a@b.c\"}, "      \
	"\"version_id\": 3, \"version_name\": null, \"agent_name\": \"Desk\", \"description\": \"Be "        \
	"brief.\", \"language\": \"en\", \"mock_tools\": \"[{\\\"id\\\": 71, \\\"name\\\": "                 \
	"\\\"lookup\\\"}]\", "                                                                               \
	"\"dynamic_variables\": [], \"knowledge_base_files\": []}]}"

static char *read_path(struct rig *rig, const char *path, int *rc)
{
	struct node_handle *h;
	struct node_ref ref;
	char *text;

	*rc = nodes_resolve(&rig->ctx, 7, path, &ref);
	if(*rc != 0)
		return NULL;
	assert_int_equal(ref.type, NODE_FILE);
	*rc = nodes_open(&rig->ctx, &ref.file, O_RDONLY, &h);
	if(*rc != 0)
		return NULL;
	text = strdup(read_all(rig, h, rc));
	nodes_release(h);
	return text;
}

static void assert_path(struct rig *rig, const char *path, const char *want)
{
	int rc;
	char *text = read_path(rig, path, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(text, want);
	free(text);
}

static void assert_resolves(struct rig *rig, const char *path, int want_rc, enum node_type want)
{
	struct node_ref ref;
	int rc = nodes_resolve(&rig->ctx, 7, path, &ref);

	if(rc != want_rc)
		fail_msg("nodes_resolve(\"%s\") = %d, want %d", path, rc, want_rc);
	if(rc == 0 && ref.type != want)
		fail_msg("nodes_resolve(\"%s\") is type %d, want %d", path, ref.type, want);
}

static void test_history_is_one_directory_per_version_with_the_agents_files(void **state)
{
	struct rig *rig = *state;
	struct node_ref ref;
	char names[512] = "";

	fake_default(rig->b.f, "GET", "/aiagents/7/history/", HTTP_DONE, 200, HISTORY_7);
	assert_resolves(rig, "history", 0, NODE_DIR);
	assert_resolves(rig, "history/9001", 0, NODE_DIR);
	assert_resolves(rig, "history/9001/name", 0, NODE_FILE);
	assert_resolves(rig, "history/9001/tools", 0, NODE_DIR);
	assert_resolves(rig, "history/9001/tools/lookup.json", 0, NODE_FILE);
	/* newest: a link to the newest version's bare id */
	assert_int_equal(nodes_resolve(&rig->ctx, 7, "history/newest", &ref), 0);
	assert_int_equal(ref.type, NODE_LINK);
	assert_string_equal(ref.target, "9002");
	/* what is not there */
	assert_resolves(rig, "history/123", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/09001", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/x", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/9001/nope", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/9001/tools/nope.json", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/9001/name/x", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/9001/tools/lookup.json/x", -ENOENT, NODE_DIR);
	assert_resolves(rig, "history/newest/name", -ENOENT, NODE_DIR); /* the kernel follows links */
	assert_resolves(rig, "progress/x", -ENOENT, NODE_DIR);
	assert_resolves(rig, "tools/a/b", -ENOENT, NODE_DIR);
	assert_resolves(rig, "nope", -ENOENT, NODE_DIR);
	/* listed newest first, without the link nor the record that had no id */
	ref.file = (struct node_file){.id = 7, .kind = find("history")};
	assert_int_equal(nodes_list(&rig->ctx, &ref.file, collect, names), 0);
	assert_string_equal(names, "9002;9001;");
	names[0] = '\0';
	assert_int_equal(nodes_resolve(&rig->ctx, 7, "history/9001", &ref), 0);
	assert_int_equal(nodes_list(&rig->ctx, &ref.file, collect, names), 0);
	assert_string_equal(names, "name;language;system_prompt;dynamic_variables;tools;knowledge_base;date;"
				   "change;reason;user;version;record.json;");
	assert_int_equal(nodes_mode(&ref.file), 0555);
	assert_true(nodes_changed(&rig->ctx, &ref.file) == 1767225600.0); /* 2026-01-01T00:00:00Z */
	/* one GET served every question */
	assert_int_equal(fake_count(rig->b.f, "GET", "/history/"), 1);
}

static void test_a_versions_files_say_what_the_record_says(void **state)
{
	struct rig *rig = *state;
	int rc;
	char *text;

	fake_default(rig->b.f, "GET", "/aiagents/7/history/", HTTP_DONE, 200, HISTORY_7);
	assert_path(rig, "history/9001/system_prompt", "Be brief.\n");
	assert_path(rig, "history/9002/system_prompt", "Be briefer.\n");
	assert_path(rig, "history/9001/name", "Desk\n");
	assert_path(rig, "history/9001/date", "2026-01-01T00:00:00Z\n");
	assert_path(rig, "history/9001/change", "created\n");
	assert_path(rig, "history/9002/change", "changed\n");
	assert_path(rig, "history/9001/reason", "Created\n");
	assert_path(rig, "history/9002/reason", "");
	assert_path(rig, "history/9001/user", "a@b.c\n");
	assert_path(rig, "history/9002/user", "");
	assert_path(rig, "history/9001/version", "3\n");
	assert_path(rig, "history/9002/version", "");
	assert_path(rig, "history/9001/tools/lookup.json", "{\n  \"id\": 71,\n  \"name\": \"lookup\"\n}\n");
	text = read_path(rig, "history/9001/record.json", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(text, "\n  \"history_id\": 9001,\n"));
	free(text);
	/* a collection that is not a JSON array: its files are EPROTO, the rest reads */
	assert_resolves(rig, "history/9002/tools", 0, NODE_DIR);
	{
		struct node_ref ref;
		char names[64] = "";

		assert_int_equal(nodes_resolve(&rig->ctx, 7, "history/9002/tools", &ref), 0);
		assert_int_equal(nodes_list(&rig->ctx, &ref.file, collect, names), -EPROTO);
	}
	assert_path(rig, "history/9002/name", "Desk\n");
	assert_path(rig, "history/9002/dynamic_variables", "");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trigger_accepts_1_with_surrounding_whitespace),
		cmocka_unit_test(test_trigger_rejects_anything_else),
		cmocka_unit_test(test_trigger_must_be_at_offset_zero),
		cmocka_unit_test(test_trigger_rejects_nul_bytes),
		cmocka_unit_test(test_a_start_file_takes_1_or_one_json_object),
		cmocka_unit_test(test_a_start_file_refuses_anything_else),
		cmocka_unit_test(test_every_documented_file_has_a_row),
		cmocka_unit_test(test_unknown_names_have_no_row),
		cmocka_unit_test(test_the_table_lists_each_row_once),
		T(test_a_write_only_file_cannot_be_opened_for_reading),
		T(test_read_only_files_cannot_be_opened_for_writing),
		T(test_opening_or_truncating_refetch_triggers_nothing),
		T(test_writing_1_to_refetch_starts_an_auto_fetch),
		T(test_bad_input_to_refetch_is_einval_and_sends_nothing),
		T(test_a_refused_refetch_fails_the_write),
		T(test_reads_and_writes_through_the_wrong_handle_are_eacces),
		T(test_one_open_file_serves_one_snapshot),
		T(test_progress_json_serves_the_raw_body),
		T(test_opening_progress_fails_when_the_poll_fails),
		T(test_opening_wait_never_blocks_its_first_read_does),
		T(test_reading_wait_fails_when_the_import_failed),
		T(test_sizes_are_known_without_asking_the_api),
		T(test_config_files_are_fetched_once_and_cached),
		T(test_a_directory_row_is_not_opened_as_a_file),
		T(test_a_failed_config_fetch_is_an_error_and_recorded),
		T(test_a_completed_import_drops_the_config),
		T(test_events_is_the_picture_then_the_changes_then_end_of_file),
		T(test_poll_keeps_a_token_until_a_reread_would_differ),
		T(test_history_is_one_directory_per_version_with_the_agents_files),
		T(test_a_versions_files_say_what_the_record_says),
	};
#undef T

	log_init(LOGL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
