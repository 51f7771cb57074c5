/* fake_transport.h - a scripted HTTP transport for the unit tests.
 *
 * It answers from a script instead of the network and remembers every request
 * (its body too: fake_body()), so a test drives the real policy, API and registry code and then checks what
 * was (and was not) sent:
 *
 *   struct fake *f = fake_new();
 *   struct api *api = api_new(fake_transport(f), FAKE_BASE_URL, FAKE_KEY, fake_policy());
 *   fake_expect(f, "POST", "/42/auto-fetch/", HTTP_DONE, 202, "{\"progress_id\": \"p1\"}");
 *   ...
 *   assert_int_equal(fake_count(f, "POST", "/auto-fetch/"), 1);
 *   assert_int_equal(fake_pending(f), 0);
 *   api_free(api);   // calls the transport's destroy, which leaves f to the test
 *   fake_free(f);
 *
 * An exchange takes the oldest queued expectation whose method and URL match;
 * when none does, the newest matching default answers (fake_default(), the
 * same reply to every such request, for concurrency tests); when nothing
 * matches, the request is "unexpected": answered HTTP_FAILED and counted.
 *
 * URL patterns are substrings of the request's URL; a pattern ending in '$'
 * must end the URL ("/aiagents/42/$"). A NULL method matches every method.
 * A reply body longer than the request's max_body (HTTP_MAX_BODY when 0) is
 * HTTP_TOO_LARGE, as the curl transport makes it; a request with keep_once_sent
 * counts as sent on arrival, so its cancelled callback is never called.
 * Every function is thread-safe. A request's cancelled callback is called with
 * the fake's lock held, so it must not call the fake.
 */
#ifndef CEKURAFS_FAKE_TRANSPORT_H
#define CEKURAFS_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "cekurafs/http.h"

#define FAKE_BASE_URL "https://api.test"
#define FAKE_KEY      "sk-test-0123456789"

struct fake;

/* How a scripted reply behaves beyond its outcome, status and body. Change the
 * fields right after fake_expect() or fake_default(), before the request comes. */
struct fake_reply {
	double retry_after; /* seconds, the Retry-After header; -1 (the default) for none */
	/* Seconds the exchange takes. Cancellation ends it early (HTTP_INTERRUPTED),
	 * and so does the request's timeout when it is shorter (HTTP_TIMEOUT). */
	double delay;
	/* Answer only after fake_release(); cancellation and the request's timeout
	 * end the wait as for delay. For "while a request is in flight" tests. */
	bool hold;
	/* The transport's words for a failed outcome (http_response.detail); NULL for none.
	 * Not copied: a string literal. */
	const char *detail;
};

/* One request as the transport saw it. Owns its strings. */
struct fake_request {
	char *method;
	char *url;
	char *key;		      /* the X-CEKURA-API-KEY value, NULL when none was given */
	char *body;		      /* a copy of the request's body (NUL added), NULL when none */
	size_t body_len;	      /* its bytes, without the NUL */
	enum stats_endpoint endpoint; /* what the caller said it asks for */
	double timeout;
	double connect_timeout;
	size_t max_body;     /* the request's cap, 0 for the default */
	bool keep_once_sent; /* whether cancellation was to be ignored once sent */
	double at;	     /* CLOCK_MONOTONIC seconds when it arrived */
};

struct fake *fake_new(void);

/* Frees the fake, its script and its records. Call after api_free(). */
void fake_free(struct fake *f);

/* The transport interface. Its destroy only marks the fake destroyed (the test owns it). */
struct http_transport *fake_transport(struct fake *f);

/* Whether the transport's destroy was called. */
bool fake_destroyed(struct fake *f);

/* Queues one expected exchange. body may be NULL (empty). Returns the reply to tune. */
struct fake_reply *fake_expect(struct fake *f, const char *method, const char *url_part,
			       enum http_outcome outcome, long status, const char *body);

/* fake_expect() with a body of len bytes, which may hold NUL bytes. */
struct fake_reply *fake_expect_raw(struct fake *f, const char *method, const char *url_part,
				   enum http_outcome outcome, long status, const char *body, size_t len);

/* Answers every matching request that no expectation takes; the newest default wins. */
struct fake_reply *fake_default(struct fake *f, const char *method, const char *url_part,
				enum http_outcome outcome, long status, const char *body);

/* Lets every held reply answer, now and from now on. */
void fake_release(struct fake *f);

/* Number of requests seen, and of those matching method and url_part. */
size_t fake_nrequests(struct fake *f);
size_t fake_count(struct fake *f, const char *method, const char *url_part);

/* Request i (0 = first). The pointer stays valid until fake_free(). */
const struct fake_request *fake_request(struct fake *f, size_t i);

/* The body request i sent (a copy, NUL-terminated), or NULL when it sent none
 * or there is no request i. Valid until fake_free(). Its length is
 * fake_request(f, i)->body_len. */
const char *fake_body(struct fake *f, size_t i);

/* The body of the last request matching method and url_part (as fake_count()
 * matches), or NULL when none matches or the last that does sent none. */
const char *fake_request_body(struct fake *f, const char *method, const char *url_part);

/* Expectations not yet used, and requests that nothing in the script matched. */
size_t fake_pending(struct fake *f);
size_t fake_unexpected(struct fake *f);

/* Waits until at least n requests have arrived. false after timeout seconds. */
bool fake_wait_requests(struct fake *f, size_t n, double timeout);

/* A fast policy for tests: 5 s budget, 3 retries, 1 ms backoff. */
const struct http_policy *fake_policy(void);

/* The value of one `name value` line of .cekurafs/stats (stats_render()), or
 * -1 when it has none. */
long fake_stat(const char *name);

/* CLOCK_MONOTONIC in seconds, for tests that measure time. */
double fake_now(void);

#endif
