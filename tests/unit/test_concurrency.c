/* test_concurrency.c - open files, the registry and the notifier used by many
 * threads at once, as FUSE workers and the poll(2) notifier use them: the
 * kernel serialises nothing on one open file. Meant to run under
 * AddressSanitizer and ThreadSanitizer too (make sanitize, make tsan); each
 * test is bounded by a count of rounds, and STRESS_SECONDS (environment)
 * makes each run at least that long instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#define POLLS "/auto-fetch-progress/"

#define IN_PROGRESS RIG_IN_PROGRESS
#define COMPLETED   RIG_COMPLETED

#define NAGENTS 300 /* more than one notifier round takes (NODES_NOTIFY_MAX) */

struct rig {
	struct rig_base b;
	struct node_ctx ctx;
	struct state_entry ids[NAGENTS]; /* agents 1..NAGENTS have an import running */
	char pids[NAGENTS][16];
};

static int setup(void **state)
{
	static struct rig rig;
	struct registry_options cfg = {.poll_interval = 0, .list_ttl = 60, .wait_timeout = 5};

	memset(&rig, 0, sizeof(rig));
	for(int i = 0; i < NAGENTS; i++) {
		snprintf(rig.pids[i], sizeof(rig.pids[i]), "p-%d", i + 1);
		rig.ids[i] = (struct state_entry){.agent_id = (uint64_t)i + 1, .progress_id = rig.pids[i]};
	}
	if(rig_up(&rig.b, &cfg, rig.ids, NAGENTS) != 0)
		return -1;
	rig.ctx.reg = rig.b.reg;
	rig.ctx.settings = "api_url https://api.test\n";
	*state = &rig;
	return 0;
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	rig_down(&rig->b);
	return 0;
}

/* How long a stress test runs: STRESS_SECONDS, or until its rounds are done. */
static double stress_seconds(void)
{
	const char *s = getenv("STRESS_SECONDS");

	return s ? atof(s) : 0;
}

struct worker {
	struct rig *rig;
	struct node_handle *h;
	const char *want; /* what every whole read must give */
	int rounds;
	double until;
	atomic_int *stop;
	int bad;
};

static bool more(const struct worker *w, int round)
{
	return !atomic_load(w->stop) && (round < w->rounds || fake_now() < w->until);
}

/* Reads the whole file at offset 0, in small pieces, as a pread loop does. */
static void *reader(void *arg)
{
	struct worker *w = arg;
	char buf[256];

	for(int i = 0; more(w, i); i++) {
		size_t len = 0;
		int n;

		while((n = nodes_read(&w->rig->ctx, w->h, buf + len, 5, (off_t)len)) > 0 &&
		      len + 5 < sizeof(buf))
			len += (size_t)n;
		buf[len] = '\0';
		/* another reader may have taken a new snapshot meanwhile: the same text */
		if(n < 0 || strcmp(buf, w->want) != 0)
			w->bad++;
	}
	return NULL;
}

static void *waiter(void *arg)
{
	struct worker *w = arg;
	static int token;

	for(int i = 0; more(w, i); i++)
		nodes_notify_check(&w->rig->ctx, w->h, &token);
	return NULL;
}

static void *notifier(void *arg)
{
	struct worker *w = arg;

	for(int i = 0; more(w, i); i++)
		nodes_notify_round(&w->rig->ctx);
	return NULL;
}

static atomic_int notified;

static void count_notify(void *token)
{
	(void)token;
	atomic_fetch_add(&notified, 1);
}

static void ignore_release(void *token)
{
	(void)token;
}

/* Runs n workers with the same handle (each its own role) and joins them. */
static int run_workers(struct worker *w, void *(**roles)(void *), int n)
{
	pthread_t t[16];
	int bad = 0;

	for(int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, roles[i], &w[i]), 0);
	for(int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	return bad;
}

static void test_threads_reading_one_open_file_each_get_the_whole_text(void **state)
{
	struct rig *rig = *state;
	const struct node_kind *version = nodes_status_find("version", strlen("version"));
	struct node_file f = {.id = 0, .kind = version};
	void *(*roles[])(void *) = {reader, reader, reader, reader};
	struct worker w[4];
	atomic_int stop = 0;
	struct node_handle *h;

	assert_int_equal(nodes_open(&rig->ctx, &f, O_RDONLY, &h), 0);
	for(int i = 0; i < 4; i++)
		w[i] = (struct worker){.rig = rig,
				       .h = h,
				       .want = "cekurafs " CEKURAFS_VERSION "\n",
				       .rounds = 20000,
				       .until = fake_now() + stress_seconds(),
				       .stop = &stop};
	assert_int_equal(run_workers(w, roles, 4), 0);
	nodes_release(h);
}

static void test_readers_waiters_and_the_notifier_share_an_open_progress_file(void **state)
{
	struct rig *rig = *state;
	void *(*roles[])(void *) = {reader, reader, reader, waiter, waiter, notifier};
	struct node_file f = {.id = 7, .kind = nodes_find("progress", strlen("progress"))};
	struct worker w[6];
	atomic_int stop = 0;
	struct node_handle *h;

	nodes_notify_setup(count_notify, ignore_release);
	fake_default(rig->b.f, "GET", POLLS, HTTP_DONE, 200, IN_PROGRESS);
	assert_int_equal(nodes_open(&rig->ctx, &f, O_RDONLY, &h), 0);
	for(int i = 0; i < 6; i++)
		w[i] = (struct worker){
			.rig = rig,
			.h = h,
			.want = "in_progress\nprogress_id: p-7\ncurrent_stage: tools\nstages: 0/1\n"
				"stage tools in_progress\n",
			.rounds = 2000,
			.until = fake_now() + stress_seconds(),
			.stop = &stop};
	assert_int_equal(run_workers(w, roles, 6), 0);
	nodes_release(h);
}

/* 200 readers of progress across agents while SIGHUP's drop of the caches comes again and again. */
static void *progress_reader(void *arg)
{
	struct worker *w = arg;
	struct node_file f = {.kind = nodes_find("progress", strlen("progress"))};

	for(int i = 0; more(w, i); i++) {
		struct node_handle *h;
		char buf[512];

		f.id = (uint64_t)(i % 20) + 1;
		if(nodes_open(&w->rig->ctx, &f, O_RDONLY, &h) != 0) {
			w->bad++;
			continue;
		}
		if(nodes_read(&w->rig->ctx, h, buf, sizeof(buf), 0) <= 0 ||
		   strncmp(buf, "in_progress\n", 12) != 0)
			w->bad++;
		nodes_release(h);
	}
	return NULL;
}

static void test_200_readers_while_the_caches_are_dropped(void **state)
{
	struct rig *rig = *state;
	pthread_t t[200];
	struct worker w[200];
	atomic_int stop = 0;
	double until = fake_now() + stress_seconds();
	int bad = 0;

	fake_default(rig->b.f, "GET", POLLS, HTTP_DONE, 200, IN_PROGRESS);
	for(int i = 0; i < 200; i++) {
		w[i] = (struct worker){.rig = rig, .rounds = 50, .until = until, .stop = &stop};
		assert_int_equal(pthread_create(&t[i], NULL, progress_reader, &w[i]), 0);
	}
	for(int i = 0; i < 2000 || fake_now() < until; i++)
		registry_drop_caches(rig->b.reg);
	for(int i = 0; i < 200; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	assert_int_equal(bad, 0);
}

static void test_the_notifier_takes_turns_over_every_waited_job(void **state)
{
	struct rig *rig = *state;
	struct node_handle *h[NAGENTS];
	static int token;

	atomic_store(&notified, 0);
	nodes_notify_setup(count_notify, ignore_release);
	fake_default(rig->b.f, "GET", POLLS, HTTP_DONE, 200, IN_PROGRESS);
	for(int i = 0; i < NAGENTS; i++) {
		struct node_file f = {.id = (uint64_t)i + 1,
				      .kind = nodes_find("progress", strlen("progress"))};

		assert_int_equal(nodes_open(&rig->ctx, &f, O_RDONLY, &h[i]), 0);
		assert_false(nodes_notify_check(&rig->ctx, h[i], &token));
	}
	/* The imports of the first ten agents opened end; the others run on, so
	 * their waiters keep waiting. Whichever agents a round starts with, the
	 * notifier must reach every one within two rounds. */
	for(int i = 1; i <= 10; i++) {
		char url[64];

		snprintf(url, sizeof(url), "/%d/auto-fetch-progress/", i);
		fake_default(rig->b.f, "GET", url, HTTP_DONE, 200, COMPLETED);
	}
	nodes_notify_round(&rig->ctx);
	nodes_notify_round(&rig->ctx);
	assert_int_equal(atomic_load(&notified), 10);
	for(int i = 1; i <= NAGENTS; i++) {
		char url[64];

		snprintf(url, sizeof(url), "/%d/auto-fetch-progress/", i);
		if(fake_count(rig->b.f, "GET", url) < 2) /* at open, then by the notifier */
			fail_msg("agent %d was never polled by the notifier", i);
	}
	for(int i = 0; i < NAGENTS; i++)
		nodes_release(h[i]);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_threads_reading_one_open_file_each_get_the_whole_text),
		T(test_readers_waiters_and_the_notifier_share_an_open_progress_file),
		T(test_200_readers_while_the_caches_are_dropped),
		T(test_the_notifier_takes_turns_over_every_waited_job),
	};
#undef T

	log_init(LOGL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
