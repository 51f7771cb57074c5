/* test_http.c - the call policy every API request goes through (http_send):
 * which failures are retried and how often, Retry-After as a floor, the time
 * budget, the offline fast-fail, and cancellation of a backoff. And the curl
 * transport's key header, read by a one-shot server on a loopback port.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cekurafs/http.h"
#include "cekurafs/stats.h"
#include "fake_transport.h"

#define URL FAKE_BASE_URL "/test_framework/v2/aiagents/42/"

static int offline_changes, online_changes;
static char last_why[64];

static void on_change(bool offline, const char *why)
{
	if(offline)
		offline_changes++;
	else
		online_changes++;
	snprintf(last_why, sizeof(last_why), "%s", why);
}

struct rig {
	struct fake *f;
	struct http_policy policy;
	struct http_health health;
	struct http_request req;
	struct http_response resp;
};

static int setup(void **state)
{
	static struct rig rig;

	memset(&rig, 0, sizeof(rig));
	rig.f = fake_new();
	rig.policy = *fake_policy();
	atomic_init(&rig.health.offline, false);
	rig.health.on_change = on_change;
	rig.req.method = "GET";
	rig.req.url = URL;
	rig.req.key = FAKE_KEY;
	offline_changes = online_changes = 0;
	last_why[0] = '\0';
	*state = &rig;
	return 0;
}

static int teardown(void **state)
{
	struct rig *rig = *state;

	http_response_free(&rig->resp);
	fake_free(rig->f);
	return 0;
}

static void send_call(struct rig *rig, bool idempotent)
{
	http_response_free(&rig->resp);
	http_send(fake_transport(rig->f), &rig->policy, &rig->health, &rig->req, idempotent, &rig->resp);
}

static void test_a_get_is_retried_on_503_until_it_succeeds(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL "$", HTTP_DONE, 503, "busy");
	fake_expect(rig->f, "GET", URL "$", HTTP_DONE, 503, "busy");
	fake_expect(rig->f, "GET", URL "$", HTTP_DONE, 200, "{\"id\": 42}");
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 200);
	assert_string_equal(rig->resp.body, "{\"id\": 42}");
	assert_int_equal(rig->resp.len, 10);
	assert_int_equal(fake_nrequests(rig->f), 3);
	assert_int_equal(fake_pending(rig->f), 0);
	assert_true(rig->resp.elapsed >= 0 && rig->resp.elapsed < 1.0);
}

static void test_a_get_gives_up_after_max_retries_with_the_last_status(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 500, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 502, "{\"detail\": \"bad gateway\"}");
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL); /* never reached */
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 502);
	assert_string_equal(rig->resp.body, "{\"detail\": \"bad gateway\"}");
	assert_int_equal(fake_nrequests(rig->f), 1 + 3);
	assert_int_equal(fake_pending(rig->f), 1);
}

static void test_max_retries_zero_makes_one_attempt(void **state)
{
	struct rig *rig = *state;

	rig->policy.max_retries = 0;
	fake_default(rig->f, "GET", URL, HTTP_DONE, 503, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 503);
	assert_int_equal(fake_nrequests(rig->f), 1);
}

static void test_a_get_is_retried_after_connection_failures(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_RESET, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_BAD_RESPONSE, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(fake_nrequests(rig->f), 3);
}

static void test_answers_that_will_not_change_are_not_retried(void **state)
{
	static const long statuses[] = {200, 202, 400, 401, 403, 404, 409};
	struct rig *rig = *state;

	for(size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		size_t before = fake_nrequests(rig->f);

		fake_expect(rig->f, "GET", URL, HTTP_DONE, statuses[i], "{}");
		send_call(rig, true);
		assert_int_equal(rig->resp.status, statuses[i]);
		assert_int_equal(fake_nrequests(rig->f), before + 1);
	}
	fake_expect(rig->f, "GET", URL, HTTP_TOO_LARGE, 0, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_TOO_LARGE);
	assert_int_equal(fake_pending(rig->f), 0);
	assert_int_equal(fake_nrequests(rig->f), 8);
}

static void test_429_honours_retry_after_as_a_floor(void **state)
{
	struct rig *rig = *state;
	double start;

	fake_expect(rig->f, "GET", URL, HTTP_DONE, 429, "{\"detail\": \"slow down\"}")->retry_after = 0.05;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	start = fake_now();
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(fake_nrequests(rig->f), 2);
	/* the backoff alone would be at most 1 ms */
	assert_true(fake_request(rig->f, 1)->at - fake_request(rig->f, 0)->at >= 0.05);
	assert_true(fake_now() - start >= 0.05);
	assert_true(rig->resp.elapsed >= 0.05);
}

static void test_429_without_retry_after_uses_the_backoff(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_DONE, 429, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 429, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 429, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 429, "{\"detail\": \"still slow\"}");
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 429);
	assert_int_equal(fake_nrequests(rig->f), 4);
	assert_true(rig->resp.elapsed < 0.5);
}

static void test_a_post_is_not_retried_after_a_reset(void **state)
{
	struct rig *rig = *state;

	rig->req.method = "POST";
	fake_expect(rig->f, "POST", URL, HTTP_RESET, 0, NULL);
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{}");
	send_call(rig, false);
	assert_int_equal(rig->resp.outcome, HTTP_RESET);
	assert_int_equal(fake_count(rig->f, "POST", URL), 1);
}

static void test_the_body_cap_and_keep_once_sent_reach_every_attempt(void **state)
{
	struct rig *rig = *state;

	rig->req.max_body = 64u << 20;
	rig->req.keep_once_sent = true;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(fake_nrequests(rig->f), 2);
	for(size_t i = 0; i < 2; i++) {
		assert_int_equal(fake_request(rig->f, i)->max_body, 64u << 20);
		assert_true(fake_request(rig->f, i)->keep_once_sent);
	}
	rig->req.max_body = 0;
	rig->req.keep_once_sent = false;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	assert_int_equal(fake_request(rig->f, 2)->max_body, 0);
	assert_false(fake_request(rig->f, 2)->keep_once_sent);
}

static void test_a_post_is_not_retried_after_5xx_or_a_timeout(void **state)
{
	struct rig *rig = *state;

	rig->req.method = "POST";
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 503, NULL);
	send_call(rig, false);
	assert_int_equal(rig->resp.status, 503);
	fake_expect(rig->f, "POST", URL, HTTP_TIMEOUT, 0, NULL);
	send_call(rig, false);
	assert_int_equal(rig->resp.outcome, HTTP_TIMEOUT);
	fake_expect(rig->f, "POST", URL, HTTP_BAD_RESPONSE, 0, NULL);
	send_call(rig, false);
	assert_int_equal(rig->resp.outcome, HTTP_BAD_RESPONSE);
	assert_int_equal(fake_count(rig->f, "POST", URL), 3);
}

static void test_a_post_answered_429_is_resent_after_retry_after(void **state)
{
	struct rig *rig = *state;

	/* a 429 processed nothing: the POST goes again once Retry-After has passed */
	rig->req.method = "POST";
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 429, "{\"detail\": \"slow down\"}")->retry_after = 0.1;
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{\"progress_id\": \"p\"}");
	send_call(rig, false);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 202);
	assert_int_equal(fake_count(rig->f, "POST", URL), 2);
	assert_true(fake_request(rig->f, 1)->at - fake_request(rig->f, 0)->at >= 0.1);
}

/* The body rides every attempt of a call as it was given, and the POST rules stay. */
static void test_a_post_body_goes_unchanged_with_every_attempt(void **state)
{
	static const char body[] = "{\"provider\": \"custom\", \"mcp_server_url\": \"https://m\"}";
	struct rig *rig = *state;

	rig->req.method = "POST";
	rig->req.body = body;
	rig->req.body_len = strlen(body);
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 429, NULL)->retry_after = 0.01;
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 429, NULL)->retry_after = 0.01;
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 200, "{\"progress_id\": \"p\"}");
	send_call(rig, false);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(fake_nrequests(rig->f), 3);
	for(size_t i = 0; i < 3; i++) {
		assert_string_equal(fake_body(rig->f, i), body);
		assert_int_equal(fake_request(rig->f, i)->body_len, strlen(body));
	}
	assert_string_equal(fake_request_body(rig->f, "POST", URL), body);
	/* a body does not make a POST idempotent: a reset is not sent again */
	fake_expect(rig->f, "POST", URL, HTTP_RESET, 0, NULL);
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 200, "{}");
	send_call(rig, false);
	assert_int_equal(rig->resp.outcome, HTTP_RESET);
	assert_int_equal(fake_nrequests(rig->f), 4);
	assert_int_equal(fake_pending(rig->f), 1);
}

static void test_a_request_without_a_body_records_none(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	assert_null(fake_body(rig->f, 0));
	assert_int_equal(fake_request(rig->f, 0)->body_len, 0);
	assert_null(fake_body(rig->f, 1)); /* no such request */
	assert_null(fake_request_body(rig->f, "GET", URL));
	assert_null(fake_request_body(rig->f, "POST", URL));
}

static void test_a_post_answered_429_past_the_budget_fails_at_once(void **state)
{
	struct rig *rig = *state;
	double start = fake_now();

	rig->req.method = "POST";
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 429, "{\"detail\": \"come back later\"}")->retry_after =
		60;
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{}");
	send_call(rig, false);
	assert_int_equal(rig->resp.status, 429);
	assert_int_equal(fake_count(rig->f, "POST", URL), 1);
	assert_true(fake_now() - start < 0.5);
}

static void test_a_post_answered_429_every_time_stops_at_max_retries(void **state)
{
	struct rig *rig = *state;

	rig->req.method = "POST";
	fake_default(rig->f, "POST", URL, HTTP_DONE, 429, NULL);
	send_call(rig, false);
	assert_int_equal(rig->resp.status, 429);
	assert_int_equal(fake_count(rig->f, "POST", URL), 4); /* 1 + max_retries, as a GET */
}

static void test_a_post_is_retried_when_its_connection_never_opened(void **state)
{
	struct rig *rig = *state;

	rig->req.method = "POST";
	fake_expect(rig->f, "POST", URL, HTTP_REFUSED, 0, NULL);
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{\"progress_id\": \"p\"}");
	send_call(rig, false);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 202);
	assert_int_equal(fake_count(rig->f, "POST", URL), 2);
}

static void test_a_post_is_retried_after_connect_timeout_or_unreachable(void **state)
{
	struct rig *rig = *state;

	rig->req.method = "POST";
	rig->health.on_change = NULL;
	fake_expect(rig->f, "POST", URL, HTTP_CONNECT_TIMEOUT, 0, NULL);
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{}");
	send_call(rig, false);
	assert_int_equal(rig->resp.status, 202);
	fake_expect(rig->f, "POST", URL, HTTP_UNREACHABLE, 0, NULL);
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{}");
	send_call(rig, false);
	assert_int_equal(rig->resp.status, 202);
	assert_int_equal(fake_count(rig->f, "POST", URL), 4);
}

static void test_a_retry_after_beyond_the_budget_stops_retrying(void **state)
{
	struct rig *rig = *state;
	double start = fake_now();

	rig->policy.timeout = 0.3;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 429, "{\"detail\": \"wait an hour\"}")->retry_after = 3600;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 429); /* reported at once, not after the budget */
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_true(fake_now() - start < 0.2);
}

static void test_retries_stop_when_the_budget_runs_out(void **state)
{
	struct rig *rig = *state;

	rig->policy.timeout = 0.25;
	rig->policy.max_retries = 10;
	/* 503 at 0, 0.1 and 0.2 s; the next wait would end past the budget */
	fake_default(rig->f, "GET", URL, HTTP_DONE, 503, NULL)->retry_after = 0.1;
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 503);
	assert_in_range(fake_nrequests(rig->f), 2, 3);
	assert_true(rig->resp.elapsed < 0.25);
}

static void test_each_attempt_gets_what_is_left_of_the_budget(void **state)
{
	struct rig *rig = *state;
	const struct fake_request *first, *second;

	rig->policy.timeout = 2.0;
	rig->policy.connect_timeout = 10.0;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL)->delay = 0.1;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 200);
	first = fake_request(rig->f, 0);
	second = fake_request(rig->f, 1);
	assert_true(first->timeout <= 2.0 && first->timeout > 1.9);
	assert_true(second->timeout < first->timeout - 0.09);
	assert_true(first->connect_timeout <= first->timeout); /* capped by the budget */
	assert_string_equal(first->key, FAKE_KEY);
	assert_string_equal(first->method, "GET");
}

static void test_a_stalled_exchange_is_a_timeout(void **state)
{
	struct rig *rig = *state;

	rig->policy.timeout = 0.1;
	fake_default(rig->f, "GET", URL, HTTP_DONE, 200, "{}")->delay = 10;
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_TIMEOUT);
	assert_true(rig->resp.elapsed < 1.0);
}

static void test_a_refused_connection_turns_the_api_offline_and_calls_fail_fast(void **state)
{
	struct rig *rig = *state;
	size_t before;

	rig->policy.connect_timeout = 5.0;
	fake_default(rig->f, "GET", URL, HTTP_REFUSED, 0, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_REFUSED);
	assert_true(atomic_load(&rig->health.offline));
	assert_int_equal(offline_changes, 1);
	assert_string_equal(last_why, "connection refused");
	/* the attempt after the change already counts as offline: no more retries */
	assert_int_equal(fake_nrequests(rig->f), 2);
	assert_true(fake_request(rig->f, 0)->connect_timeout > 4.0);
	assert_true(fake_request(rig->f, 1)->connect_timeout <= 1.0);
	before = fake_nrequests(rig->f);
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_REFUSED);
	assert_int_equal(fake_nrequests(rig->f), before + 1); /* a single attempt */
	assert_int_equal(offline_changes, 1);		      /* still offline: no new change */
	assert_int_equal(online_changes, 0);
}

static void test_the_first_answer_brings_the_api_back_online(void **state)
{
	struct rig *rig = *state;

	atomic_store(&rig->health.offline, true);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	/* offline: one attempt only, but it answered, so the API is back */
	assert_int_equal(rig->resp.status, 503);
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_false(atomic_load(&rig->health.offline));
	assert_int_equal(online_changes, 1);
	assert_int_equal(offline_changes, 0);
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(online_changes, 1);
}

static void test_on_change_is_called_once_per_change(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_UNREACHABLE, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_CONNECT_TIMEOUT, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_REFUSED, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_REFUSED, 0, NULL);
	send_call(rig, true); /* unreachable, then (offline) connect timeout */
	assert_int_equal(rig->resp.outcome, HTTP_CONNECT_TIMEOUT);
	assert_int_equal(offline_changes, 1);
	assert_string_equal(last_why, "host unreachable");
	send_call(rig, true); /* refused, a single attempt */
	assert_int_equal(offline_changes, 1);
	send_call(rig, true); /* answered */
	assert_int_equal(online_changes, 1);
	send_call(rig, true); /* answered again: no change */
	assert_int_equal(online_changes, 1);
	rig->policy.max_retries = 0;
	send_call(rig, true); /* refused */
	assert_int_equal(offline_changes, 2);
	assert_int_equal(fake_nrequests(rig->f), 6);
}

static void test_health_may_be_absent(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_REFUSED, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL);
	http_send(fake_transport(rig->f), &rig->policy, NULL, &rig->req, true, &rig->resp);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(fake_nrequests(rig->f), 2);
}

struct flag {
	atomic_bool set;
	atomic_int looks;
};

static bool flag_cancelled(void *arg)
{
	struct flag *flag = arg;

	atomic_fetch_add(&flag->looks, 1);
	return atomic_load(&flag->set);
}

struct sender {
	struct rig *rig;
	double took;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	double start = fake_now();

	send_call(s->rig, true);
	s->took = fake_now() - start;
	return NULL;
}

static void test_cancelling_interrupts_the_backoff(void **state)
{
	struct rig *rig = *state;
	struct flag flag;
	struct sender s = {.rig = rig};
	pthread_t t;

	atomic_init(&flag.set, false);
	atomic_init(&flag.looks, 0);
	rig->req.cancelled = flag_cancelled;
	rig->req.cancel_arg = &flag;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL)->retry_after = 3;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL);
	assert_int_equal(pthread_create(&t, NULL, send_thread, &s), 0);
	assert_true(fake_wait_requests(rig->f, 1, 2.0));
	atomic_store(&flag.set, true);
	pthread_join(t, NULL);
	assert_int_equal(rig->resp.outcome, HTTP_INTERRUPTED);
	assert_null(rig->resp.body);
	assert_int_equal(fake_nrequests(rig->f), 1); /* no attempt after the cancel */
	assert_true(s.took < 1.0);
	assert_true(atomic_load(&flag.looks) > 0);
}

static void test_no_retry_is_squeezed_into_the_end_of_the_budget(void **state)
{
	struct rig *rig = *state;

	/* 4.5 s of Retry-After leaves 0.5 s of the 5 s budget: too little to try
	 * again, so the caller gets the 503 (EIO), not a timeout. */
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, NULL)->retry_after = 4.5;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_DONE);
	assert_int_equal(rig->resp.status, 503);
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_true(rig->resp.elapsed < 1.0);
}

static void test_an_interrupted_exchange_does_not_change_health(void **state)
{
	struct rig *rig = *state;

	fake_expect(rig->f, "GET", URL, HTTP_INTERRUPTED, 0, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_INTERRUPTED);
	assert_int_equal(fake_nrequests(rig->f), 1);
	assert_false(atomic_load(&rig->health.offline));
	assert_int_equal(offline_changes + online_changes, 0);
}

static void test_each_attempt_is_counted_under_the_endpoint_the_request_names(void **state)
{
	struct rig *rig = *state;

	stats_reset();
	/* the URL is an agent's: what counts is what the caller says it asks for */
	rig->req.endpoint = STATS_PROGRESS;
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 503, "busy");
	fake_expect(rig->f, "GET", URL, HTTP_RESET, 0, NULL);
	fake_expect(rig->f, "GET", URL, HTTP_DONE, 200, "{}");
	send_call(rig, true);
	assert_int_equal(rig->resp.status, 200);
	assert_int_equal(fake_stat("requests_progress_503"), 1);
	assert_int_equal(fake_stat("requests_progress_failed"), 1);
	assert_int_equal(fake_stat("requests_progress_200"), 1);
	assert_int_equal(fake_stat("requests_agent_200"), -1);
	assert_int_equal(fake_stat("retries"), 2);

	rig->req.endpoint = STATS_AUTO_FETCH;
	rig->req.method = "POST";
	fake_expect(rig->f, "POST", URL, HTTP_DONE, 202, "{}");
	send_call(rig, false);
	assert_int_equal(fake_stat("requests_auto_fetch_202"), 1);
}

static void test_an_interrupted_exchange_is_not_counted(void **state)
{
	struct rig *rig = *state;

	stats_reset();
	rig->req.endpoint = STATS_LIST;
	fake_expect(rig->f, "GET", URL, HTTP_INTERRUPTED, 0, NULL);
	send_call(rig, true);
	assert_int_equal(rig->resp.outcome, HTTP_INTERRUPTED);
	assert_int_equal(fake_stat("requests_list_failed"), -1);
}

static void test_only_connection_failures_are_never_sent(void **state)
{
	(void)state;
	assert_true(http_never_sent(HTTP_REFUSED));
	assert_true(http_never_sent(HTTP_UNREACHABLE));
	assert_true(http_never_sent(HTTP_CONNECT_TIMEOUT));
	assert_false(http_never_sent(HTTP_DONE));
	assert_false(http_never_sent(HTTP_TIMEOUT));
	assert_false(http_never_sent(HTTP_RESET));
	assert_false(http_never_sent(HTTP_BAD_RESPONSE));
	assert_false(http_never_sent(HTTP_TOO_LARGE));
	assert_false(http_never_sent(HTTP_INTERRUPTED));
	assert_false(http_never_sent(HTTP_FAILED));
}

/* A server for one request: keeps its head (up to the blank line), answers
 * with answer (200 and "{}" when NULL). */
struct one_shot {
	int listener;
	unsigned short port;
	const char *answer;
	char head[16384]; /* and the start of the body, when it came in the same reads */
	size_t len;
	char body[16384];
	long body_len; /* -1 when the request said no Content-Length */
	pthread_t thread;
	atomic_bool got; /* the whole request arrived */
	double delay;	 /* seconds between the request and the answer */
};

/* Reads the rest of a body of Content-Length bytes after the head into
 * s->body (NUL added); s->body_len stays -1 when the head has no length. */
static void one_shot_read_body(struct one_shot *s, int c)
{
	const char *end = strstr(s->head, "\r\n\r\n"), *cl = strcasestr(s->head, "\r\nContent-Length:");
	size_t want;

	if(!end || !cl || cl > end)
		return;
	want = strtoul(cl + strlen("\r\nContent-Length:"), NULL, 10);
	if(want >= sizeof(s->body))
		return;
	end += 4;
	s->body_len = (long)(s->head + s->len - end);
	memcpy(s->body, end, (size_t)s->body_len);
	while((size_t)s->body_len < want) {
		ssize_t n = read(c, s->body + s->body_len, want - (size_t)s->body_len);

		if(n <= 0)
			break;
		s->body_len += n;
	}
	s->body[s->body_len] = '\0';
}

static void *one_shot_serve(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
	struct one_shot *s = arg;
	const char *answer = s->answer ? s->answer : ok;
	int c = accept(s->listener, NULL, NULL);
	ssize_t n;

	if(c < 0)
		return NULL;
	while(s->len + 1 < sizeof(s->head) && !strstr(s->head, "\r\n\r\n")) {
		n = read(c, s->head + s->len, sizeof(s->head) - 1 - s->len);
		if(n <= 0)
			break;
		s->len += (size_t)n;
		s->head[s->len] = '\0';
	}
	one_shot_read_body(s, c);
	atomic_store(&s->got, true);
	if(s->delay > 0)
		usleep((useconds_t)(s->delay * 1e6));
	/* MSG_NOSIGNAL: a client that gave up must not SIGPIPE the test. */
	if(send(c, answer, strlen(answer), MSG_NOSIGNAL) < 0)
		s->len = 0;
	close(c);
	return NULL;
}

/* Starts the server; it answers delay seconds after the request came. */
static void one_shot_start_slow(struct one_shot *s, const char *answer, double delay)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->answer = answer;
	s->delay = delay;
	s->body_len = -1;
	atomic_init(&s->got, false);
	s->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listener >= 0);
	assert_int_equal(bind(s->listener, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->listener, 1), 0);
	assert_int_equal(getsockname(s->listener, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, one_shot_serve, s), 0);
}

static void one_shot_start(struct one_shot *s, const char *answer)
{
	one_shot_start_slow(s, answer, 0);
}

static void one_shot_join(struct one_shot *s)
{
	pthread_join(s->thread, NULL);
	close(s->listener);
}

/* Every key main.c accepts (up to 4096 bytes) goes out whole: it was cut at 493. */
static void test_the_key_header_carries_the_whole_key(void **state)
{
	static const size_t lengths[] = {1, 493, 494, 1000, 4096};
	struct http_transport *t;

	(void)state;
	assert_int_equal(http_global_init(), 0);
	t = http_curl_new(NULL);
	assert_non_null(t);
	for(size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char url[64], *key = malloc(lengths[i] + 1), *line = NULL;
		struct http_request req = {.method = "GET", .url = url, .timeout = 5, .connect_timeout = 5};
		struct http_response resp;
		struct one_shot s;

		assert_non_null(key);
		for(size_t j = 0; j < lengths[i]; j++)
			key[j] = (char)('!' + (j * 7 + i) % 94); /* printable, no space */
		key[lengths[i]] = '\0';
		req.key = key;
		one_shot_start(&s, NULL);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/key", (unsigned)s.port);
		t->exchange(t, &req, &resp);
		one_shot_join(&s);
		assert_int_equal(resp.outcome, HTTP_DONE);
		assert_int_equal(resp.status, 200);
		assert_true(asprintf(&line, "\r\nX-CEKURA-API-KEY: %s\r\n", key) > 0);
		assert_non_null(strstr(s.head, line));
		http_response_free(&resp);
		free(line);
		free(key);
	}
	t->destroy(t);
	curl_global_cleanup();
}

/* Sends req (its url set to the one-shot server's path) through the curl transport. */
static void curl_one_shot(struct http_transport *t, struct http_request *req, struct one_shot *s)
{
	char url[64];
	struct http_response resp;

	one_shot_start(s, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/body", (unsigned)s->port);
	req->url = url;
	t->exchange(t, req, &resp);
	one_shot_join(s);
	req->url = NULL;
	assert_int_equal(resp.outcome, HTTP_DONE);
	assert_int_equal(resp.status, 200);
	http_response_free(&resp);
}

/* A POST's body goes out byte for byte, body_len of them, as JSON, with no
 * "Expect: 100-continue" that would hold it back; a POST without one stays
 * an empty form post, and a GET sends no body whatever it is given. */
static void test_the_curl_transport_sends_a_post_body_as_json(void **state)
{
	static const char json[] = "{\"provider\": \"vapi\", \"assistant_id\": \"a-1\"}";
	static const char more[] = "{\"provider\": \"vapi\", \"assistant_id\": \"a-1\"}trailing";
	struct http_request req = {.method = "POST", .key = "k", .timeout = 5, .connect_timeout = 5};
	char big[5001], length[64];
	struct http_transport *t;
	struct one_shot s;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(http_global_init(), 0);
	t = http_curl_new(NULL);
	assert_non_null(t);
	/* body_len bytes, not up to the NUL: what follows them is not sent */
	req.body = more;
	req.body_len = strlen(json);
	curl_one_shot(t, &req, &s);
	assert_true(strncmp(s.head, "POST /body HTTP/1.1\r\n", strlen("POST /body HTTP/1.1\r\n")) == 0);
	assert_non_null(strcasestr(s.head, "\r\nContent-Type: application/json\r\n"));
	snprintf(length, sizeof(length), "\r\nContent-Length: %zu\r\n", strlen(json));
	assert_non_null(strcasestr(s.head, length));
	assert_null(strcasestr(s.head, "\r\nExpect:"));
	assert_non_null(strstr(s.head, "\r\nX-CEKURA-API-KEY: k\r\n"));
	assert_int_equal(s.body_len, (long)strlen(json));
	assert_string_equal(s.body, json);

	req.body = big;
	req.body_len = strlen(big);
	curl_one_shot(t, &req, &s);
	assert_null(strcasestr(s.head, "\r\nExpect:"));
	assert_int_equal(s.body_len, (long)strlen(big));
	assert_string_equal(s.body, big);

	req.body = NULL;
	req.body_len = 0;
	curl_one_shot(t, &req, &s);
	assert_null(strcasestr(s.head, "Content-Type: application/json"));
	assert_int_equal(s.body_len, 0);

	req.method = "GET";
	req.body = json;
	req.body_len = strlen(json);
	curl_one_shot(t, &req, &s);
	assert_true(strncmp(s.head, "GET /body HTTP/1.1\r\n", strlen("GET /body HTTP/1.1\r\n")) == 0);
	assert_null(strcasestr(s.head, "Content-Type"));
	assert_int_equal(s.body_len, -1);
	t->destroy(t);
	curl_global_cleanup();
}

/* A body past the request's max_body is HTTP_TOO_LARGE; 0 keeps HTTP_MAX_BODY. */
static void test_the_curl_transport_caps_the_body_at_the_requests_max_body(void **state)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
				     "\"0123456789\"";
	static const size_t caps[] = {11, 12, 0};
	static const enum http_outcome want[] = {HTTP_TOO_LARGE, HTTP_DONE, HTTP_DONE};
	struct http_transport *t;

	(void)state;
	assert_int_equal(http_global_init(), 0);
	t = http_curl_new(NULL);
	assert_non_null(t);
	for(size_t i = 0; i < 3; i++) {
		char url[64];
		struct http_request req = {.method = "GET",
					   .url = url,
					   .key = "k",
					   .timeout = 5,
					   .connect_timeout = 5,
					   .max_body = caps[i]};
		struct http_response resp;
		struct one_shot s;

		one_shot_start(&s, answer);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/result", (unsigned)s.port);
		t->exchange(t, &req, &resp);
		one_shot_join(&s);
		if(resp.outcome != want[i])
			fail_msg("max_body %zu: outcome %d, not %d", caps[i], resp.outcome, want[i]);
		http_response_free(&resp);
	}
	t->destroy(t);
	curl_global_cleanup();
}

/* cancelled: true once the server has the whole request. */
static bool server_got_it(void *arg)
{
	struct one_shot *s = arg;

	return atomic_load(&s->got);
}

/* An interrupt after the request went out abandons it, unless keep_once_sent:
 * then the answer is waited for. */
static void test_keep_once_sent_waits_for_the_answer_of_a_request_sent(void **state)
{
	struct http_transport *t;

	(void)state;
	assert_int_equal(http_global_init(), 0);
	t = http_curl_new(NULL);
	assert_non_null(t);
	for(int keep = 0; keep < 2; keep++) {
		char url[64];
		struct one_shot s;
		struct http_request req = {.method = "POST",
					   .url = url,
					   .key = "k",
					   .body = "{}",
					   .body_len = 2,
					   .timeout = 5,
					   .connect_timeout = 5,
					   .cancelled = server_got_it,
					   .cancel_arg = &s,
					   .keep_once_sent = keep};
		struct http_response resp;

		one_shot_start_slow(&s, NULL, 0.4);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/run", (unsigned)s.port);
		t->exchange(t, &req, &resp);
		one_shot_join(&s);
		assert_true(atomic_load(&s.got));
		if(keep) {
			assert_int_equal(resp.outcome, HTTP_DONE);
			assert_int_equal(resp.status, 200);
		} else {
			assert_int_equal(resp.outcome, HTTP_INTERRUPTED);
		}
		http_response_free(&resp);
	}
	t->destroy(t);
	curl_global_cleanup();
}

/* The curl transport's Retry-After: a number of seconds or an HTTP date; no
 * header, 0, a date past, nonsense and more than a day are all -1. */
static void test_the_curl_transport_reads_both_forms_of_retry_after(void **state)
{
	static const struct {
		const char *header; /* "" for none; "DATE+120" for an HTTP date 120 s ahead */
		double least, most;
	} cases[] = {
		{"Retry-After: 7\r\n", 7, 7},
		{"DATE+120", 110, 121},
		{"", -1, -1},
		{"Retry-After: 0\r\n", -1, -1},
		{"Retry-After: Sat, 01 Jan 2000 00:00:00 GMT\r\n", -1, -1},
		{"Retry-After: soon\r\n", -1, -1},
		{"Retry-After: 90000\r\n", -1, -1},
	};
	struct http_transport *t;

	(void)state;
	assert_int_equal(http_global_init(), 0);
	t = http_curl_new(NULL);
	assert_non_null(t);
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char url[64], header[128], answer[512];
		struct http_request req = {
			.method = "GET", .url = url, .key = "k", .timeout = 5, .connect_timeout = 5};
		struct http_response resp;
		struct one_shot s;

		snprintf(header, sizeof(header), "%s", cases[i].header);
		if(strcmp(cases[i].header, "DATE+120") == 0) {
			time_t at = time(NULL) + 120;
			struct tm tm;

			gmtime_r(&at, &tm);
			strftime(header, sizeof(header), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		}
		snprintf(answer, sizeof(answer),
			 "HTTP/1.1 429 Too Many Requests\r\n%sContent-Length: 2\r\nConnection: "
			 "close\r\n\r\n{}",
			 header);
		one_shot_start(&s, answer);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/slow", (unsigned)s.port);
		t->exchange(t, &req, &resp);
		one_shot_join(&s);
		assert_int_equal(resp.outcome, HTTP_DONE);
		assert_int_equal(resp.status, 429);
		if(resp.retry_after < cases[i].least || resp.retry_after > cases[i].most)
			fail_msg("%s: retry_after %g, not in [%g, %g]", cases[i].header, resp.retry_after,
				 cases[i].least, cases[i].most);
		http_response_free(&resp);
	}
	t->destroy(t);
	curl_global_cleanup();
}

/* api_url as libcurl reads it: the parts main.c's check looks at. */
static void test_a_url_splits_as_libcurl_reads_it(void **state)
{
	struct http_url u;

	(void)state;
	assert_int_equal(http_url_split("https://api.cekura.ai/x?y=1", &u), 0);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.host, "api.cekura.ai");
	assert_false(u.userinfo);
	assert_int_equal(http_url_split("http://[::1]:8080/", &u), 0);
	assert_string_equal(u.host, "[::1]");
	assert_int_equal(http_url_split("http://user:pw@127.0.0.1/", &u), 0);
	assert_true(u.userinfo);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(http_url_split("ftp://127.0.0.1/", &u), 0);
	assert_string_equal(u.scheme, "ftp");
	assert_int_equal(http_url_split("http://", &u), -EINVAL);
	assert_int_equal(http_url_split("/relative/path", &u), -EINVAL);
	assert_int_equal(http_url_split("http://127.0.0.1:9/a b", &u), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_get_is_retried_on_503_until_it_succeeds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_get_gives_up_after_max_retries_with_the_last_status,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_retries_zero_makes_one_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_get_is_retried_after_connection_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answers_that_will_not_change_are_not_retried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_429_honours_retry_after_as_a_floor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_429_without_retry_after_uses_the_backoff, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_post_is_not_retried_after_a_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_body_cap_and_keep_once_sent_reach_every_attempt,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_post_is_not_retried_after_5xx_or_a_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_post_answered_429_is_resent_after_retry_after, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_post_body_goes_unchanged_with_every_attempt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_request_without_a_body_records_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_post_answered_429_past_the_budget_fails_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_post_answered_429_every_time_stops_at_max_retries,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_post_is_retried_when_its_connection_never_opened,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_post_is_retried_after_connect_timeout_or_unreachable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_retry_after_beyond_the_budget_stops_retrying, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retries_stop_when_the_budget_runs_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_attempt_gets_what_is_left_of_the_budget, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_stalled_exchange_is_a_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_refused_connection_turns_the_api_offline_and_calls_fail_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_first_answer_brings_the_api_back_online, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_on_change_is_called_once_per_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_may_be_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelling_interrupts_the_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_retry_is_squeezed_into_the_end_of_the_budget, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_interrupted_exchange_does_not_change_health, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_each_attempt_is_counted_under_the_endpoint_the_request_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_interrupted_exchange_is_not_counted, setup, teardown),
		cmocka_unit_test(test_a_url_splits_as_libcurl_reads_it),
		cmocka_unit_test(test_only_connection_failures_are_never_sent),
		cmocka_unit_test(test_the_key_header_carries_the_whole_key),
		cmocka_unit_test(test_the_curl_transport_reads_both_forms_of_retry_after),
		cmocka_unit_test(test_the_curl_transport_caps_the_body_at_the_requests_max_body),
		cmocka_unit_test(test_keep_once_sent_waits_for_the_answer_of_a_request_sent),
		cmocka_unit_test(test_the_curl_transport_sends_a_post_body_as_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
