/* test_registry.c - the registry and its job layer against the fake transport: refetch
 * (the stored id on disk before returning, EBUSY while running, the error
 * line), progress polling (coalesced, never stale, terminal never re-polled),
 * wait (completion, failure, timeout, cancellation) and lookups.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cekurafs/registry.h"
#include "cekurafs/log.h"
#include "cekurafs/stats.h"
#include "fake_transport.h"
#include "rig.h"

#define POLL  "/42/auto-fetch-progress/"
#define FETCH "/42/auto-fetch/"

#define IN_PROGRESS                                                                                          \
	"{\"agent_id\": 42, \"status\": \"in_progress\", \"current_stage\": \"tools\", \"stages\": ["        \
	"{\"name\": \"system_prompt\", \"status\": \"completed\"}, "                                         \
	"{\"name\": \"tools\", \"status\": \"in_progress\"}], \"error\": null}"
#define COMPLETED                                                                                            \
	"{\"agent_id\": 42, \"status\": \"completed\", \"current_stage\": \"\", \"stages\": ["               \
	"{\"name\": \"system_prompt\", \"status\": \"completed\"}, "                                         \
	"{\"name\": \"tools\", \"status\": \"completed\"}], \"error\": null}"
#define FAILED                                                                                               \
	"{\"agent_id\": 42, \"status\": \"failed\", \"current_stage\": \"tools\", \"stages\": ["             \
	"{\"name\": \"system_prompt\", \"status\": \"completed\"}, "                                         \
	"{\"name\": \"tools\", \"status\": \"failed\"}], \"error\": \"Provider API key invalid\"}"

#define IN_PROGRESS_TEXT(id)                                                                                 \
	"in_progress\nprogress_id: " id "\ncurrent_stage: tools\nstages: 1/2\n"                              \
	"stage system_prompt completed\nstage tools in_progress\n"
#define COMPLETED_TEXT(id)                                                                                   \
	"completed\nprogress_id: " id "\ncurrent_stage:\nstages: 2/2\n"                                      \
	"stage system_prompt completed\nstage tools completed\n"

struct rig {
	char dir[64];
	char file[128];
	struct rig_base b; /* the registry is made by start() */
	struct registry_options cfg;
};

static int setup(void **state)
{
	static struct rig rig;

	memset(&rig, 0, sizeof(rig));
	snprintf(rig.dir, sizeof(rig.dir), "/tmp/cekurafs-agents-XXXXXX");
	if(!mkdtemp(rig.dir))
		return -1;
	snprintf(rig.file, sizeof(rig.file), "%s/%s", rig.dir, STATE_FILE);
	if(rig_up(&rig.b, NULL, NULL, 0) != 0)
		return -1;
	rig.cfg.poll_interval = 60;
	rig.cfg.list_ttl = 60;
	rig.cfg.wait_timeout = 5;
	rig.cfg.state_dir = rig.dir;
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

/* Makes the registry with rig->cfg as the test left it, knowing agent 42's
 * progress id pid when not NULL (as if loaded from the state file). */
static struct registry *start(struct rig *rig, const char *pid)
{
	struct state_entry e = {.agent_id = 42, .progress_id = (char *)pid};

	rig->b.reg = registry_new(rig->b.api, &rig->cfg, &e, pid ? 1 : 0);
	assert_non_null(rig->b.reg);
	return rig->b.reg;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 4096);
	size_t n;

	if(!f) {
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_error_line(struct registry *r, uint64_t id, const char *want)
{
	char *text = NULL;
	size_t len = 99;

	assert_int_equal(registry_error(r, id, &text, &len), 0);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(registry_error_size(r, id), strlen(want));
	free(text);
}

/* Reads agent id's progress text into a new string; the rc goes to *rc. */
static char *progress_text(struct registry *r, uint64_t id, int *rc)
{
	struct job_view v;
	char *text;

	*rc = registry_job_view(r, NULL, id, JOB_AGENT_IMPORT, 0, &v);
	text = v.text ? strdup(v.text) : NULL;
	if(v.text)
		assert_int_equal(v.text_len, strlen(v.text));
	job_view_free(&v);
	return text;
}

static void assert_progress(struct registry *r, uint64_t id, const char *want)
{
	int rc;
	char *text = progress_text(r, id, &rc);

	assert_int_equal(rc, 0);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

enum reader_op { READ_PROGRESS, READ_WAIT, READ_LIST };

/* A reader on its own thread, with its own cancel flag. */
struct reader {
	struct registry *r;
	enum reader_op op;
	atomic_bool stop;
	atomic_int looks;
	struct api_cancel cancel;
	pthread_t thread;
	int rc;
	char *text;
	double finished_at;
};

static bool reader_cancelled(void *arg)
{
	struct reader *rd = arg;

	atomic_fetch_add(&rd->looks, 1);
	return atomic_load(&rd->stop);
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct job_view v = {0};
	uint64_t *ids = NULL;
	size_t n = 0;

	if(rd->op == READ_LIST) {
		rd->rc = registry_list(rd->r, &rd->cancel, &ids, &n);
		free(ids);
	} else {
		rd->rc = rd->op == READ_WAIT
				 ? registry_job_wait(rd->r, &rd->cancel, 42, JOB_AGENT_IMPORT, 0, &v)
				 : registry_job_view(rd->r, &rd->cancel, 42, JOB_AGENT_IMPORT, 0, &v);
	}
	rd->text = v.text ? strdup(v.text) : NULL;
	job_view_free(&v);
	rd->finished_at = fake_now();
	return NULL;
}

static void reader_start(struct reader *rd, struct registry *r, enum reader_op op)
{
	memset(rd, 0, sizeof(*rd));
	rd->r = r;
	rd->op = op;
	atomic_init(&rd->stop, false);
	atomic_init(&rd->looks, 0);
	rd->cancel.cancelled = reader_cancelled;
	rd->cancel.arg = rd;
	assert_int_equal(pthread_create(&rd->thread, NULL, reader_main, rd), 0);
}

static void reader_join(struct reader *rd)
{
	pthread_join(rd->thread, NULL);
}

/* Waits until every reader has looked at its cancel flag at least once: each
 * is then either inside the one request or waiting for its result. */
static bool all_waiting(struct reader *rds, size_t n, double timeout)
{
	double end = fake_now() + timeout;

	while(fake_now() < end) {
		size_t ready = 0;
		struct timespec ms = {0, 1000000};

		for(size_t i = 0; i < n; i++)
			ready += atomic_load(&rds[i].looks) > 0;
		if(ready == n)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

/* ---- refetch ---- */

static void test_refetch_stores_the_id_in_memory_and_on_disk_before_returning(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	char *text;

	fake_expect(rig->b.f, "POST", FETCH "$", HTTP_DONE, 202, "{\"progress_id\": \"p-new\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	text = read_file(rig->file);
	assert_non_null(text);
	assert_string_equal(text, "# cekurafs progress ids: <agent id> <progress id>\n42 p-new\n");
	free(text);
	/* no stored id: nothing to check before the POST */
	assert_int_equal(fake_nrequests(rig->b.f), 1);
	/* in memory: known but not polled yet, and the next read polls the new id */
	assert_int_equal(registry_job_size(r, 42, JOB_AGENT_IMPORT, 0, JOB_TEXT), 4096);
	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-new$", HTTP_DONE, 200, IN_PROGRESS);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-new"));
	assert_int_equal(fake_pending(rig->b.f), 0);
	assert_int_equal(registry_lookup(r, NULL, 42), 0); /* it exists: the API accepted it */
	assert_int_equal(fake_nrequests(rig->b.f), 2);
}

static void test_a_stored_id_survives_a_restart(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	struct state_entry *entries = NULL;
	size_t n = 0;
	char *moved = NULL;

	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-kept\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	registry_free(r);
	assert_int_equal(state_load(rig->dir, &entries, &n, &moved), 0);
	assert_int_equal(n, 1);
	rig->b.reg = registry_new(rig->b.api, &rig->cfg, entries, n);
	state_free(entries, n);
	assert_non_null(rig->b.reg);
	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-kept$", HTTP_DONE, 200, COMPLETED);
	assert_progress(rig->b.reg, 42, COMPLETED_TEXT("p-kept"));
}

static void test_refetch_while_the_import_runs_is_ebusy_and_sends_no_post(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-old");

	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-old$", HTTP_DONE, 200, IN_PROGRESS);
	fake_default(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-new\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), -EBUSY);
	assert_int_equal(fake_count(rig->b.f, "POST", NULL), 0);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 1);
	assert_error_line(r, 42, "refetch: an auto-fetch is already running (progress_id p-old)\n");
	assert_null(read_file(rig->file)); /* nothing saved */
}

static void test_refetch_checks_with_a_fresh_poll(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-old");

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-new\"}");
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-old"));
	/* within poll_interval, yet the check polls again and sees the import is over */
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
	assert_int_equal(fake_count(rig->b.f, "POST", FETCH), 1);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void test_refetch_goes_ahead_when_the_stored_id_is_unknown(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-expired");
	char *text;

	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-expired$", HTTP_DONE, 400,
		    "{\"detail\": \"Invalid progress_id\"}");
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-new\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	assert_int_equal(fake_pending(rig->b.f), 0);
	assert_error_line(r, 42, ""); /* the check's 400 is not left behind */
	text = read_file(rig->file);
	assert_non_null(strstr(text, "\n42 p-new\n"));
	free(text);
}

static void test_refetch_after_a_completed_import_goes_ahead(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-old");

	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-old$", HTTP_DONE, 200, COMPLETED);
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-new\"}");
	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-new$", HTTP_DONE, 200, IN_PROGRESS);
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	/* the completed text of the old import is gone: the next read polls the new one */
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-new"));
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void test_a_refused_refetch_is_eremoteio_with_the_detail_in_error(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 400,
		    "{\"detail\": \"Agent has no provider configured\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), -EREMOTEIO);
	assert_error_line(r, 42, "refetch: HTTP 400: Agent has no provider configured\n");
	assert_null(read_file(rig->file));
	assert_progress(r, 42, "idle\n"); /* still no auto-fetch known */
	assert_int_equal(fake_nrequests(rig->b.f), 1);
}

static void test_a_successful_refetch_clears_the_error(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 400,
		    "{\"detail\": \"Agent has no provider configured\"}");
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-1\"}");
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), -EREMOTEIO);
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	assert_error_line(r, 42, "");
}

static void test_refetch_fails_when_the_check_cannot_be_made(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-old");

	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 503, NULL);
	assert_int_equal(registry_job_start(r, NULL, 42, JOB_AGENT_IMPORT, NULL), -EIO);
	assert_int_equal(fake_count(rig->b.f, "POST", NULL), 0);
	assert_error_line(r, 42, "progress: HTTP 503: (no detail)\n");
}

/* A refetch on its own thread (of agent 42 unless id is set). */
struct refetcher {
	struct registry *r;
	uint64_t id;
	pthread_t thread;
	int rc;
};

static void *refetch_main(void *arg)
{
	struct refetcher *rf = arg;

	rf->rc = registry_job_start(rf->r, NULL, rf->id ? rf->id : 42, JOB_AGENT_IMPORT, NULL);
	return NULL;
}

static void test_a_refetch_in_flight_makes_a_second_one_ebusy(void **state)
{
	struct rig *rig = *state;
	struct refetcher first = {.r = start(rig, NULL)};

	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-1\"}")->hold = true;
	assert_int_equal(pthread_create(&first.thread, NULL, refetch_main, &first), 0);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0)); /* its POST is in flight */
	assert_int_equal(registry_job_start(first.r, NULL, 42, JOB_AGENT_IMPORT, NULL), -EBUSY);
	assert_error_line(first.r, 42, "refetch: a refetch of this agent is already being sent\n");
	fake_release(rig->b.f);
	pthread_join(first.thread, NULL);
	assert_int_equal(first.rc, 0);
	assert_int_equal(fake_count(rig->b.f, "POST", NULL), 1);
	assert_error_line(first.r, 42, "");
}

/* ---- progress ---- */

static void test_progress_without_an_id_is_idle_and_asks_nothing(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	struct job_view v;

	assert_int_equal(registry_job_view(r, NULL, 7, JOB_AGENT_IMPORT, 0, &v), 0);
	assert_string_equal(v.text, "idle\n");
	assert_int_equal(v.text_len, 5);
	assert_string_equal(v.json, "");
	assert_int_equal(v.json_len, 0);
	job_view_free(&v);
	assert_int_equal(registry_job_wait(r, NULL, 7, JOB_AGENT_IMPORT, 0, &v),
			 0); /* wait returns at once */
	assert_string_equal(v.text, "idle\n");
	job_view_free(&v);
	assert_int_equal(registry_job_size(r, 7, JOB_AGENT_IMPORT, 0, JOB_TEXT), 5);
	assert_int_equal(registry_job_size(r, 7, JOB_AGENT_IMPORT, 0, JOB_JSON), 0);
	assert_int_equal(registry_job_size(r, 8, JOB_AGENT_IMPORT, 0, JOB_TEXT), 5);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_progress_shows_the_polled_text_and_the_raw_json(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	struct job_view v;

	fake_expect(rig->b.f, "GET", POLL "?progress_id=p-1$", HTTP_DONE, 200, IN_PROGRESS);
	assert_int_equal(registry_job_view(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), 0);
	assert_string_equal(v.text, IN_PROGRESS_TEXT("p-1"));
	assert_string_equal(v.json, IN_PROGRESS);
	assert_int_equal(v.json_len, strlen(IN_PROGRESS));
	job_view_free(&v);
	assert_int_equal(registry_job_size(r, 42, JOB_AGENT_IMPORT, 0, JOB_TEXT),
			 strlen(IN_PROGRESS_TEXT("p-1")));
	assert_int_equal(registry_job_size(r, 42, JOB_AGENT_IMPORT, 0, JOB_JSON), strlen(IN_PROGRESS));
}

static void test_two_reads_within_poll_interval_make_one_get(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");

	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 1);
}

/* The value of one `name value` line of .cekurafs/stats. */
static long stat_value(const char *name)
{
	char *text = stats_render(), *at;
	long v = -1;

	assert_non_null(text);
	at = strstr(text, name);
	if(at && at[strlen(name)] == ' ')
		v = strtol(at + strlen(name) + 1, NULL, 10);
	free(text);
	return v;
}

static void test_only_reads_served_from_memory_count_as_cache_hits(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");

	stats_reset();
	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1")); /* polled: no hit */
	assert_int_equal(stat_value("cache_hits_progress"), 0);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1")); /* within poll_interval: a hit */
	assert_int_equal(stat_value("cache_hits_progress"), 1);
	assert_int_equal(registry_job_refresh(r, NULL, 42, JOB_AGENT_IMPORT, 0),
			 0); /* the notifier's poll is no read */
	assert_int_equal(registry_job_refresh(r, NULL, 42, JOB_AGENT_IMPORT, 0), 0);
	assert_int_equal(stat_value("cache_hits_progress"), 1);
	assert_progress(r, 7, "idle\n"); /* nothing to poll: no hit either */
	assert_int_equal(stat_value("cache_hits_progress"), 1);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 1);
}

static void test_a_read_after_poll_interval_polls_again(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct timespec pause = {0, 80 * 1000000};

	rig->cfg.poll_interval = 0.05;
	r = start(rig, "p-1");
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	nanosleep(&pause, NULL); /* the passing of poll_interval is what is tested */
	assert_progress(r, 42, COMPLETED_TEXT("p-1"));
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
}

static void test_concurrent_readers_share_one_get(void **state)
{
	enum { N = 8 };
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	struct reader rds[N];

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS)->hold = true;
	for(int i = 0; i < N; i++)
		reader_start(&rds[i], r, READ_PROGRESS);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0));
	/* all in: one inside the held GET, the others waiting for its answer */
	assert_true(all_waiting(rds, N, 5.0));
	assert_int_equal(fake_nrequests(rig->b.f), 1);
	fake_release(rig->b.f);
	for(int i = 0; i < N; i++) {
		reader_join(&rds[i]);
		assert_int_equal(rds[i].rc, 0);
		assert_non_null(rds[i].text);
		assert_string_equal(rds[i].text, IN_PROGRESS_TEXT("p-1"));
		free(rds[i].text);
	}
	assert_int_equal(fake_count(rig->b.f, "GET", NULL), 1);
	assert_int_equal(fake_unexpected(rig->b.f), 0);
}

static void test_a_reader_that_gives_up_does_not_fail_the_others(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	struct reader quitter, stayer;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS)->hold = true;
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	reader_start(&quitter, r, READ_PROGRESS);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0)); /* the quitter's GET is in flight */
	reader_start(&stayer, r, READ_PROGRESS);
	assert_true(all_waiting(&stayer, 1, 5.0));
	atomic_store(&quitter.stop, true);
	reader_join(&quitter);
	assert_int_equal(quitter.rc, -EINTR);
	reader_join(&stayer);
	assert_int_equal(stayer.rc, 0); /* it polled for itself */
	assert_string_equal(stayer.text, IN_PROGRESS_TEXT("p-1"));
	free(stayer.text);
	assert_error_line(r, 42, ""); /* giving up is not an error of the agent */
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
}

static void test_a_poll_overtaken_by_a_refetch_does_not_show_idle(void **state)
{
	struct rig *rig = *state;
	struct refetcher fetch = {0};
	struct reader rd, waiter;

	rig->cfg.poll_interval = 0;
	fetch.r = start(rig, "p-old");
	/* the refetch's check: the API does not know the old import (404: over,
	 * but unlike a 400 not settled, so readers still poll it); its POST
	 * waits for release */
	fake_expect(rig->b.f, "GET", "?progress_id=p-old", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-new\"}")->hold = true;
	/* a reader polls the old id meanwhile, and its answer comes after the POST's */
	fake_expect(rig->b.f, "GET", "?progress_id=p-old", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}")
		->delay = 0.3;
	/* slow too, so that the waiter wakes while the new poll is in flight */
	fake_default(rig->b.f, "GET", "?progress_id=p-new", HTTP_DONE, 200, IN_PROGRESS)->delay = 0.1;
	assert_int_equal(pthread_create(&fetch.thread, NULL, refetch_main, &fetch), 0);
	assert_true(fake_wait_requests(rig->b.f, 2, 5.0));
	reader_start(&rd, fetch.r, READ_PROGRESS);
	assert_true(fake_wait_requests(rig->b.f, 3, 5.0));
	reader_start(&waiter, fetch.r, READ_PROGRESS); /* shares the reader's poll */
	assert_true(all_waiting(&waiter, 1, 5.0));
	fake_release(rig->b.f);
	pthread_join(fetch.thread, NULL);
	assert_int_equal(fetch.rc, 0);
	reader_join(&rd);
	reader_join(&waiter);
	/* an auto-fetch is known: both see it, not "idle" and not the old 400 */
	assert_int_equal(rd.rc, 0);
	assert_non_null(rd.text);
	assert_string_equal(rd.text, IN_PROGRESS_TEXT("p-new"));
	assert_int_equal(waiter.rc, 0);
	assert_non_null(waiter.text);
	assert_string_equal(waiter.text, IN_PROGRESS_TEXT("p-new"));
	free(rd.text);
	free(waiter.text);
}

static void test_a_terminal_status_is_never_polled_again(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct job_view v;

	rig->cfg.poll_interval = 0; /* every read would poll if it needed to */
	r = start(rig, "p-1");
	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_progress(r, 42, COMPLETED_TEXT("p-1"));
	assert_progress(r, 42, COMPLETED_TEXT("p-1"));
	assert_progress(r, 42, COMPLETED_TEXT("p-1"));
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), 0);
	assert_string_equal(v.text, COMPLETED_TEXT("p-1"));
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 1);
}

static void test_a_failed_poll_is_an_error_not_stale_text(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	char *text;
	int rc;

	rig->cfg.poll_interval = 0;
	r = start(rig, "p-1");
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 503, "{\"detail\": \"maintenance\"}");
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	text = progress_text(r, 42, &rc);
	assert_int_equal(rc, -EIO);
	assert_null(text);
	assert_error_line(r, 42, "progress: HTTP 503: maintenance\n");
}

static void test_a_failed_poll_is_not_repeated_within_poll_interval(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	int rc;

	fake_default(rig->b.f, "GET", POLL, HTTP_TIMEOUT, 0, NULL);
	assert_null(progress_text(r, 42, &rc));
	assert_int_equal(rc, -ETIMEDOUT);
	assert_null(progress_text(r, 42, &rc));
	assert_int_equal(rc, -ETIMEDOUT);
	/* one call, not two (a stalled GET is not retried: its budget is spent) */
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 1);
	assert_error_line(r, 42, "progress: timed out after 5 s\n");
}

static void test_a_failed_status_is_shown_and_recorded(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, FAILED);
	assert_progress(r, 42,
			"failed\nprogress_id: p-1\ncurrent_stage: tools\nstages: 1/2\n"
			"error: Provider API key invalid\n"
			"stage system_prompt completed\nstage tools failed\n");
	assert_error_line(r, 42, "auto-fetch: failed at stage tools: Provider API key invalid\n");
}

/* ---- wait ---- */

static void test_wait_returns_when_the_import_completes(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct job_view v;

	rig->cfg.poll_interval = 0.01;
	r = start(rig, "p-1");
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), 0);
	assert_string_equal(v.text, COMPLETED_TEXT("p-1"));
	assert_string_equal(v.json, COMPLETED);
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 3);
	assert_int_equal(fake_unexpected(rig->b.f), 0);
}

static void test_wait_polls_every_poll_interval(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct job_view v;
	const struct fake_request *first, *last;

	rig->cfg.poll_interval = 0.05;
	r = start(rig, "p-1");
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), 0);
	job_view_free(&v);
	first = fake_request(rig->b.f, 0);
	last = fake_request(rig->b.f, 2);
	assert_true(last->at - first->at >= 2 * 0.05);
	assert_true(last->at - first->at < 1.0);
}

static void test_wait_fails_with_eremoteio_when_the_import_failed(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct job_view v;

	rig->cfg.poll_interval = 0.01;
	r = start(rig, "p-1");
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, FAILED);
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), -EREMOTEIO);
	job_view_free(&v);
	assert_error_line(r, 42, "auto-fetch: failed at stage tools: Provider API key invalid\n");
	/* and again at once, without polling: failed is terminal */
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), -EREMOTEIO);
	job_view_free(&v);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
}

static void test_a_failure_without_a_failed_stage_names_the_current_one(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	struct job_view v;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200,
		    "{\"status\": \"failed\", \"current_stage\": \"knowledge_base\", \"stages\": [], "
		    "\"error\": null}");
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), -EREMOTEIO);
	job_view_free(&v);
	assert_error_line(r, 42, "auto-fetch: failed at stage knowledge_base: no reason given\n");
}

static void test_wait_gives_up_after_wait_timeout(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct job_view v;
	double start_time, took;

	rig->cfg.poll_interval = 0.05;
	rig->cfg.wait_timeout = 0.2;
	r = start(rig, "p-1");
	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	start_time = fake_now();
	assert_int_equal(registry_job_wait(r, NULL, 42, JOB_AGENT_IMPORT, 0, &v), -ETIMEDOUT);
	took = fake_now() - start_time;
	job_view_free(&v);
	assert_true(took >= 0.2);
	assert_true(took < 1.0);
	assert_in_range(fake_count(rig->b.f, "GET", POLL), 3, 6);
	assert_error_line(r, 42, "wait: timed out after 0.2 s\n");
}

static void test_a_cancelled_wait_returns_eintr_promptly(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct reader rd;
	double cancelled_at;

	rig->cfg.poll_interval = 30;
	rig->cfg.wait_timeout = 60;
	r = start(rig, "p-1");
	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	reader_start(&rd, r, READ_WAIT);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0));
	cancelled_at = fake_now();
	atomic_store(&rd.stop, true);
	reader_join(&rd);
	assert_int_equal(rd.rc, -EINTR);
	assert_null(rd.text);
	assert_true(rd.finished_at - cancelled_at < 0.5);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 1); /* it stopped polling */
	assert_error_line(r, 42, "");
}

static void test_a_wait_cancelled_during_its_poll_returns_eintr(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	struct reader rd;

	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS)->hold = true;
	reader_start(&rd, r, READ_WAIT);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0));
	atomic_store(&rd.stop, true);
	reader_join(&rd);
	assert_int_equal(rd.rc, -EINTR);
	assert_error_line(r, 42, "");
}

/* ---- lookup and listing ---- */

static void expect_listing(struct fake *f)
{
	fake_expect(f, "GET", "short_list/", HTTP_DONE, 200,
		    "{\"count\": 3, \"next\": null, \"results\": [{\"id\": 3}, {\"id\": 1}, {\"id\": 2}]}");
}

/* Lists through the registry, which must succeed; returns how many agents it gave. */
static size_t listed(struct registry *r)
{
	uint64_t *ids = NULL;
	size_t n = SIZE_MAX; /* a count the registry did not set fails every assertion */

	assert_int_equal(registry_list(r, NULL, &ids, &n), 0);
	free(ids);
	return n;
}

static void test_listing_is_reused_within_list_ttl(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	uint64_t *ids = NULL;
	size_t n = 0;

	expect_listing(rig->b.f);
	assert_int_equal(registry_list(r, NULL, &ids, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[2], 3);
	free(ids);
	assert_int_equal(listed(r), 3);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
}

static void test_dropping_caches_fetches_the_listing_and_polls_again(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");

	expect_listing(rig->b.f);
	expect_listing(rig->b.f);
	fake_default(rig->b.f, "GET", POLL, HTTP_DONE, 200, IN_PROGRESS);
	listed(r);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	registry_drop_caches(r);
	assert_int_equal(listed(r), 3);
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1")); /* within poll_interval, yet polled */
	assert_int_equal(fake_count(rig->b.f, "GET", "/short_list/"), 2);
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
	/* the progress id is state, not cache */
	assert_progress(r, 42, IN_PROGRESS_TEXT("p-1"));
	assert_int_equal(fake_count(rig->b.f, "GET", POLL), 2);
}

static void test_an_empty_listing_is_reused_too(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	fake_expect(rig->b.f, "GET", "short_list/", HTTP_DONE, 200,
		    "{\"count\": 0, \"next\": null, \"results\": []}");
	assert_int_equal(listed(r), 0);
	assert_int_equal(listed(r), 0);
	assert_int_equal(registry_lookup(r, NULL, 5), -ENOENT); /* the listing says so */
	assert_int_equal(fake_nrequests(rig->b.f), 1);
}

static void test_with_list_ttl_zero_each_listing_is_fetched_once(void **state)
{
	struct rig *rig = *state;
	struct registry *r;

	rig->cfg.list_ttl = 0;
	r = start(rig, NULL);
	expect_listing(rig->b.f);
	expect_listing(rig->b.f);
	assert_int_equal(listed(r), 3);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
	listed(r);
	assert_int_equal(fake_nrequests(rig->b.f), 2);
	assert_int_equal(fake_unexpected(rig->b.f), 0);
}

static void test_concurrent_listings_share_one_and_survive_a_quitter(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	struct reader quitter, stayer, third;

	fake_expect(rig->b.f, "GET", "short_list/", HTTP_DONE, 200, "{\"results\": []}")->hold = true;
	expect_listing(rig->b.f);
	reader_start(&quitter, r, READ_LIST);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0));
	reader_start(&stayer, r, READ_LIST);
	assert_true(all_waiting(&stayer, 1, 5.0));
	atomic_store(&quitter.stop, true);
	reader_join(&quitter);
	assert_int_equal(quitter.rc, -EINTR);
	reader_join(&stayer);
	assert_int_equal(stayer.rc, 0); /* it listed for itself */
	assert_int_equal(fake_nrequests(rig->b.f), 2);
	reader_start(&third, r, READ_LIST); /* within list_ttl: no request */
	reader_join(&third);
	assert_int_equal(third.rc, 0);
	assert_int_equal(fake_nrequests(rig->b.f), 2);
}

static void test_a_failed_listing_is_an_error(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	uint64_t *ids = NULL;
	size_t n = 99;

	fake_default(rig->b.f, "GET", "short_list/", HTTP_DONE, 401, "{\"detail\": \"Invalid API key\"}");
	assert_int_equal(registry_list(r, NULL, &ids, &n), -EACCES);
	assert_null(ids);
	assert_int_equal(n, 0);
}

static void test_lookup_uses_a_fresh_listing(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	expect_listing(rig->b.f);
	listed(r);
	assert_int_equal(registry_lookup(r, NULL, 2), 0);
	assert_int_equal(registry_lookup(r, NULL, 4), -ENOENT);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
}

/* A job of a kind that changes the agent (the agent import) makes the
 * configuration held before it completed stale: the next read fetches it,
 * and shows what the import brought, whatever list_ttl says. */
static void test_a_completed_import_makes_the_configuration_read_anew(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");
	struct agent_config *cfg = NULL;

	fake_expect(rig->b.f, "GET", "/aiagents/42/$", HTTP_DONE, 200,
		    "{\"id\": 42, \"description\": \"old\"}");
	assert_int_equal(registry_agent_config(r, NULL, 42, &cfg), 0);
	assert_string_equal(cfg->field[AGENT_CONFIG_SYSTEM_PROMPT].text, "old\n");
	registry_agent_config_put(cfg);
	assert_int_equal(registry_agent_config(r, NULL, 42, &cfg), 0); /* fresh: no second GET */
	registry_agent_config_put(cfg);
	assert_int_equal(fake_count(rig->b.f, "GET", "/aiagents/42/$"), 1);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_progress(r, 42, COMPLETED_TEXT("p-1")); /* the import completes */
	fake_expect(rig->b.f, "GET", "/aiagents/42/$", HTTP_DONE, 200,
		    "{\"id\": 42, \"description\": \"new\"}");
	assert_int_equal(registry_agent_config(r, NULL, 42, &cfg), 0);
	assert_string_equal(cfg->field[AGENT_CONFIG_SYSTEM_PROMPT].text, "new\n");
	registry_agent_config_put(cfg);
	assert_int_equal(fake_count(rig->b.f, "GET", "/aiagents/42/$"), 2);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void *lookup_main(void *arg)
{
	struct refetcher *lk = arg;

	lk->rc = registry_lookup(lk->r, NULL, lk->id);
	return NULL;
}

/* A cold lookup's answer is the agent's configuration too; but when an
 * import of the agent completes while that GET is in flight, the answer is
 * of the agent before it: not kept, so the next read fetches what it brought. */
static void test_a_lookup_answered_across_a_completed_import_is_not_kept(void **state)
{
	struct rig *rig = *state;
	struct refetcher lk = {.r = start(rig, NULL), .id = 42};
	struct agent_config *cfg = NULL;

	fake_expect(rig->b.f, "GET", "/aiagents/42/$", HTTP_DONE, 200,
		    "{\"id\": 42, \"description\": \"old\"}")
		->hold = true;
	assert_int_equal(pthread_create(&lk.thread, NULL, lookup_main, &lk), 0);
	assert_true(fake_wait_requests(rig->b.f, 1, 5.0)); /* the lookup's GET is in flight */
	fake_expect(rig->b.f, "POST", FETCH, HTTP_DONE, 202, "{\"progress_id\": \"p-1\"}");
	assert_int_equal(registry_job_start(lk.r, NULL, 42, JOB_AGENT_IMPORT, NULL), 0);
	fake_expect(rig->b.f, "GET", POLL, HTTP_DONE, 200, COMPLETED);
	assert_progress(lk.r, 42, COMPLETED_TEXT("p-1")); /* the import completes */
	fake_release(rig->b.f);
	pthread_join(lk.thread, NULL);
	assert_int_equal(lk.rc, 0);
	fake_expect(rig->b.f, "GET", "/aiagents/42/$", HTTP_DONE, 200,
		    "{\"id\": 42, \"description\": \"new\"}");
	assert_int_equal(registry_agent_config(lk.r, NULL, 42, &cfg), 0);
	assert_string_equal(cfg->field[AGENT_CONFIG_SYSTEM_PROMPT].text, "new\n");
	registry_agent_config_put(cfg);
	assert_int_equal(fake_count(rig->b.f, "GET", "/aiagents/42/$"), 2);
}

static void test_lookup_without_a_listing_asks_for_the_agent(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	fake_expect(rig->b.f, "GET", "/aiagents/5/$", HTTP_DONE, 200, "{\"id\": 5}");
	fake_expect(rig->b.f, "GET", "/aiagents/6/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(registry_lookup(r, NULL, 5), 0);
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(registry_lookup(r, NULL, 5), 0); /* known now: not asked again */
	assert_int_equal(fake_nrequests(rig->b.f), 2);
	assert_int_equal(fake_pending(rig->b.f), 0);
}

static void test_lookup_with_a_stale_listing_asks_for_the_agent(void **state)
{
	struct rig *rig = *state;
	struct registry *r;

	rig->cfg.list_ttl = 0;
	r = start(rig, NULL);
	expect_listing(rig->b.f);
	fake_expect(rig->b.f, "GET", "/aiagents/2/$", HTTP_DONE, 200, "{\"id\": 2}");
	listed(r);
	assert_int_equal(registry_lookup(r, NULL, 2), 0);
	assert_int_equal(fake_count(rig->b.f, "GET", "/aiagents/2/$"), 1);
}

static void test_an_agent_with_a_stored_id_exists_without_asking(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-1");

	assert_int_equal(registry_lookup(r, NULL, 42), 0);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_lookup_failures_other_than_404_pass_through(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	fake_default(rig->b.f, "GET", "/aiagents/5/$", HTTP_DONE, 403, "{\"detail\": \"Forbidden\"}");
	assert_int_equal(registry_lookup(r, NULL, 5), -EACCES);
	assert_int_equal(registry_lookup(r, NULL, 5), -EACCES); /* not remembered as existing */
	assert_int_equal(fake_nrequests(rig->b.f), 2);
}

static void test_a_404_lookup_is_remembered_until_list_ttl_or_a_drop(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	fake_default(rig->b.f, "GET", "/aiagents/6/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(fake_nrequests(rig->b.f), 1);
	registry_drop_caches(r); /* SIGHUP forgets it */
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(fake_nrequests(rig->b.f), 2);
}

static void test_with_list_ttl_zero_a_404_is_not_remembered(void **state)
{
	struct rig *rig = *state;
	struct registry *r;

	rig->cfg.list_ttl = 0;
	r = start(rig, NULL);
	fake_default(rig->b.f, "GET", "/aiagents/6/$", HTTP_DONE, 404, "{\"detail\": \"Not found.\"}");
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(registry_lookup(r, NULL, 6), -ENOENT);
	assert_int_equal(fake_nrequests(rig->b.f), 2);
}

/* ---- scale ---- */

#define MANY 20000

/* Ids in a scrambled order, spread over a wide range. */
static uint64_t scrambled(size_t i)
{
	return (uint64_t)(i * 7919u % 1000003u) + 1;
}

static void test_an_agent_without_progress_costs_at_most_200_bytes(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);
	struct mallinfo2 before, after;
	size_t per_agent;

	before = mallinfo2();
	for(size_t i = 0; i < MANY; i++) {
		struct job_view v;

		assert_int_equal(registry_job_view(r, NULL, scrambled(i), JOB_AGENT_IMPORT, 0, &v),
				 0); /* makes the agent */
		job_view_free(&v);
	}
	after = mallinfo2();
	if(before.uordblks == 0 && after.uordblks == 0)
		skip(); /* a sanitizer's allocator: glibc's counts are not kept */
	per_agent = (after.uordblks - before.uordblks) / MANY;
	print_message("registry: %zu bytes per agent\n", per_agent);
	assert_true(per_agent <= 200);
	assert_int_equal(fake_nrequests(rig->b.f), 0);
}

static void test_agents_that_hold_nothing_are_freed_by_the_sweep(void **state)
{
	struct rig *rig = *state;
	struct registry *r;
	struct mallinfo2 grown, after;
	size_t freed;

	rig->cfg.list_ttl = 0; /* a lookup's confirmation, and its configuration, last no time */
	r = start(rig, NULL);
	fake_default(rig->b.f, "GET", "/aiagents/", HTTP_DONE, 200, "{\"id\": 1, \"name\": \"a\"}");
	registry_note_error(r, 7, "refetch", "kept: an error line is state");
	for(size_t i = 0; i < 2000; i++)
		assert_int_equal(registry_lookup(r, NULL, 1000 + i), 0);
	assert_int_equal(registry_lookup(r, NULL, 998), 0); /* the configurations expire */
	grown = mallinfo2();
	if(grown.uordblks == 0)
		skip();		 /* a sanitizer's allocator: glibc's counts are not kept */
	registry_drop_caches(r); /* SIGHUP brings the next sweep forward */
	assert_int_equal(registry_lookup(r, NULL, 999), 0);
	after = mallinfo2();
	freed = grown.uordblks > after.uordblks ? grown.uordblks - after.uordblks : 0;
	print_message("the sweep freed %zu bytes of 2000 looked-up agents\n", freed);
	assert_true(freed >= 2000 * 168); /* each agent, at least */
	/* what holds state stays, and every agent is found again */
	assert_int_equal(registry_error_size(r, 7), strlen("refetch: kept: an error line is state\n"));
	for(size_t i = 0; i < 2000; i += 97)
		assert_int_equal(registry_lookup(r, NULL, 1000 + i), 0);
}

static void test_many_agents_are_each_found_again(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	for(size_t i = 0; i < MANY; i++)
		if(i % 7 == 0)
			registry_note_error(r, scrambled(i), "progress", "x");
	for(size_t i = 0; i < MANY; i++) {
		struct job_view v;

		assert_int_equal(registry_job_view(r, NULL, scrambled(i), JOB_AGENT_IMPORT, 0, &v), 0);
		job_view_free(&v);
	}
	for(size_t i = 0; i < MANY; i++)
		assert_int_equal(registry_error_size(r, scrambled(i)),
				 i % 7 == 0 ? strlen("progress: x\n") : 0);
	assert_int_equal(registry_error_size(r, 1000005), 0);
}

static void test_concurrent_refetches_all_reach_the_disk(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, "p-0");
	struct refetcher rf[16];
	char want[2048], *text;
	size_t at;

	fake_default(rig->b.f, "GET", "/auto-fetch-progress/", HTTP_DONE, 200, COMPLETED);
	fake_default(rig->b.f, "POST", "/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"p-9\"}")->delay =
		0.01;
	for(size_t i = 0; i < 16; i++) {
		rf[i] = (struct refetcher){.r = r, .id = 100 + 16 - i};
		assert_int_equal(pthread_create(&rf[i].thread, NULL, refetch_main, &rf[i]), 0);
	}
	for(size_t i = 0; i < 16; i++) {
		pthread_join(rf[i].thread, NULL);
		assert_int_equal(rf[i].rc, 0);
	}
	/* Every id, sorted by agent, with the one loaded at start. */
	at = (size_t)snprintf(want, sizeof(want),
			      "# cekurafs progress ids: <agent id> <progress id>\n42 p-0\n");
	for(size_t i = 1; i <= 16; i++)
		at += (size_t)snprintf(want + at, sizeof(want) - at, "%zu p-9\n", 100 + i);
	text = read_file(rig->file);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
	assert_int_equal(fake_count(rig->b.f, "POST", "/auto-fetch/"), 16);
}

/* ---- the error file ---- */

static void test_note_error_writes_one_line(void **state)
{
	struct rig *rig = *state;
	struct registry *r = start(rig, NULL);

	assert_error_line(r, 9, "");
	registry_note_error(r, 9, "refetch", "invalid input: write \"1\" to start an auto-fetch");
	assert_error_line(r, 9, "refetch: invalid input: write \"1\" to start an auto-fetch\n");
	registry_note_error(r, 9, "progress", "second");
	assert_error_line(r, 9, "progress: second\n"); /* the last error only */
	assert_error_line(r, 10, "");
}

/* Every row of the job kinds' table says everything the job layer asks of
 * it, and a state file's word finds its row back. */
static void test_every_job_kind_row_is_whole(void **state)
{
	const char *names[JOB_NKINDS + 1];

	(void)state;
	for(int k = 0; k < JOB_NKINDS; k++) {
		const struct job_type *t = job_type_of((enum job_kind)k);

		assert_non_null(t->noun);
		assert_non_null(t->a_noun);
		assert_non_null(t->id_label);
		assert_non_null(t->id_words);
		assert_non_null(t->start_op);
		assert_non_null(t->poll_op);
		assert_non_null(t->end_op);
		assert_non_null(t->wait_op);
		assert_non_null(t->events_op);
		assert_non_null(t->idle);
		assert_non_null(t->start);
		assert_non_null(t->poll);
		assert_non_null(t->render);
		assert_non_null(t->terminal);
		assert_non_null(t->failed);
		assert_non_null(t->failure);
		assert_int_equal(job_kind_named(t->name), k);
	}
	assert_int_equal(job_kind_named(NULL), JOB_AGENT_IMPORT); /* a line of two words */
	assert_int_equal(job_kind_named("no-such-kind"), -1);
	job_kind_names(names);
	for(int i = 0; names[i]; i++)
		assert_int_not_equal(job_kind_named(names[i]), -1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_kind_row_is_whole),
		T(test_refetch_stores_the_id_in_memory_and_on_disk_before_returning),
		T(test_a_stored_id_survives_a_restart),
		T(test_refetch_while_the_import_runs_is_ebusy_and_sends_no_post),
		T(test_refetch_checks_with_a_fresh_poll),
		T(test_refetch_goes_ahead_when_the_stored_id_is_unknown),
		T(test_refetch_after_a_completed_import_goes_ahead),
		T(test_a_refused_refetch_is_eremoteio_with_the_detail_in_error),
		T(test_a_successful_refetch_clears_the_error),
		T(test_refetch_fails_when_the_check_cannot_be_made),
		T(test_a_refetch_in_flight_makes_a_second_one_ebusy),
		T(test_progress_without_an_id_is_idle_and_asks_nothing),
		T(test_progress_shows_the_polled_text_and_the_raw_json),
		T(test_two_reads_within_poll_interval_make_one_get),
		T(test_only_reads_served_from_memory_count_as_cache_hits),
		T(test_a_read_after_poll_interval_polls_again),
		T(test_concurrent_readers_share_one_get),
		T(test_a_reader_that_gives_up_does_not_fail_the_others),
		T(test_a_poll_overtaken_by_a_refetch_does_not_show_idle),
		T(test_a_terminal_status_is_never_polled_again),
		T(test_a_failed_poll_is_an_error_not_stale_text),
		T(test_a_failed_poll_is_not_repeated_within_poll_interval),
		T(test_a_failed_status_is_shown_and_recorded),
		T(test_wait_returns_when_the_import_completes),
		T(test_wait_polls_every_poll_interval),
		T(test_wait_fails_with_eremoteio_when_the_import_failed),
		T(test_a_failure_without_a_failed_stage_names_the_current_one),
		T(test_wait_gives_up_after_wait_timeout),
		T(test_a_cancelled_wait_returns_eintr_promptly),
		T(test_a_wait_cancelled_during_its_poll_returns_eintr),
		T(test_listing_is_reused_within_list_ttl),
		T(test_dropping_caches_fetches_the_listing_and_polls_again),
		T(test_an_empty_listing_is_reused_too),
		T(test_with_list_ttl_zero_each_listing_is_fetched_once),
		T(test_concurrent_listings_share_one_and_survive_a_quitter),
		T(test_a_failed_listing_is_an_error),
		T(test_lookup_uses_a_fresh_listing),
		T(test_a_completed_import_makes_the_configuration_read_anew),
		T(test_a_lookup_answered_across_a_completed_import_is_not_kept),
		T(test_lookup_without_a_listing_asks_for_the_agent),
		T(test_lookup_with_a_stale_listing_asks_for_the_agent),
		T(test_an_agent_with_a_stored_id_exists_without_asking),
		T(test_lookup_failures_other_than_404_pass_through),
		T(test_a_404_lookup_is_remembered_until_list_ttl_or_a_drop),
		T(test_with_list_ttl_zero_a_404_is_not_remembered),
		T(test_an_agent_without_progress_costs_at_most_200_bytes),
		T(test_agents_that_hold_nothing_are_freed_by_the_sweep),
		T(test_many_agents_are_each_found_again),
		T(test_concurrent_refetches_all_reach_the_disk),
		T(test_note_error_writes_one_line),
	};
#undef T

	log_init(LOGL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
