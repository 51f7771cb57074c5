/* http.c - the call policy (budget, retries, offline fast-fail) and the
 * libcurl transport (one shared connection pool, timeouts, size cap).
 *
 * The policy is transport-agnostic so unit tests drive it with a fake; the
 * curl transport makes exactly one exchange per call and never retries by itself.
 */
#include "cekurafs/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cekurafs/clock.h"
#include "cekurafs/log.h"
#include "cekurafs/stats.h"
#include "cekurafs/text.h"

#define OFFLINE_CONNECT_TIMEOUT 1.0  /* seconds: "fail within about a second" */
#define SLEEP_SLICE		0.05 /* seconds between two looks at `cancelled` */
#define MIN_ATTEMPT		1.0  /* seconds a retry must have left, at most a quarter of the budget */
/* Idle connections the shared pool keeps: one per FUSE worker thread (main.c's
 * default max_threads). libcurl's default, 5, closes most connections after one
 * request as soon as more than 5 calls run at once. */
#define POOL_CONNECTIONS 64L
#define POOL_HANDLES	 64 /* idle easy handles kept: one per worker thread, too */

_Static_assert(sizeof(((struct http_response *)0)->detail) >= CURL_ERROR_SIZE,
	       "http_response.detail holds curl's error buffer");

/* A uniform double in [0, 1), from a per-thread xorshift generator. */
static double jitter_unit(void)
{
	static _Thread_local uint64_t s;

	if(s == 0)
		s = (uint64_t)(clock_mono() * 1e9) ^ (uint64_t)(uintptr_t)&s ^ 0x9E3779B97F4A7C15u;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (double)(s >> 11) / (double)(1ull << 53);
}

static bool is_cancelled(const struct http_request *req)
{
	return req->cancelled && req->cancelled(req->cancel_arg);
}

/* Sleeps seconds, in slices, unless cancelled. Returns false when cancelled. */
static bool sleep_unless_cancelled(const struct http_request *req, double seconds)
{
	double end = clock_mono() + seconds;

	for(;;) {
		double left = end - clock_mono();
		struct timespec ts;

		if(is_cancelled(req))
			return false;
		if(left <= 0)
			return true;
		ts = clock_timespec(fmin(left, SLEEP_SLICE));
		nanosleep(&ts, NULL);
	}
}

bool http_never_sent(enum http_outcome outcome)
{
	return outcome == HTTP_REFUSED || outcome == HTTP_UNREACHABLE || outcome == HTTP_CONNECT_TIMEOUT;
}

/* Whether another try may go. A request that never reached the API, and one
 * the API refused with 429 (a refusal that processed nothing), may be sent
 * again whatever its method; anything else a POST may have started, so only
 * a GET is tried again. */
static bool worth_retrying(const struct http_response *r, bool idempotent)
{
	if(http_never_sent(r->outcome))
		return true;
	if(r->outcome == HTTP_DONE && r->status == 429)
		return true;
	if(!idempotent)
		return false;
	if(r->outcome == HTTP_DONE)
		return r->status >= 500;
	return r->outcome == HTTP_RESET || r->outcome == HTTP_BAD_RESPONSE;
}

static void update_health(struct http_health *health, const struct http_response *r)
{
	bool offline;

	if(!health)
		return;
	if(r->outcome == HTTP_INTERRUPTED)
		return;
	offline = http_never_sent(r->outcome);
	if(atomic_exchange(&health->offline, offline) != offline && health->on_change) {
		const char *why = r->outcome == HTTP_REFUSED	       ? "connection refused"
				  : r->outcome == HTTP_CONNECT_TIMEOUT ? "connect timed out"
				  : r->outcome == HTTP_UNREACHABLE     ? "host unreachable"
								       : "it answered";
		health->on_change(offline, why);
	}
}

void http_response_free(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	resp->detail[0] = '\0';
}

void http_send(struct http_transport *t, const struct http_policy *policy, struct http_health *health,
	       const struct http_request *req, bool idempotent, struct http_response *resp)
{
	double start = clock_mono();
	double deadline = start + policy->timeout;
	struct http_request attempt = *req;

	memset(resp, 0, sizeof(*resp));
	resp->outcome = HTTP_TIMEOUT;
	for(int n = 0;; n++) {
		double left = deadline - clock_mono();
		bool offline = health && atomic_load(&health->offline);
		double delay;

		attempt.timeout = left;
		attempt.connect_timeout = fmin(policy->connect_timeout, left);
		if(offline)
			attempt.connect_timeout = fmin(attempt.connect_timeout, OFFLINE_CONNECT_TIMEOUT);
		http_response_free(resp);
		stats_in_flight(1);
		t->exchange(t, &attempt, resp);
		stats_in_flight(-1);
		if(resp->outcome != HTTP_INTERRUPTED)
			stats_request(req->endpoint, resp->outcome == HTTP_DONE ? resp->status : 0);
		update_health(health, resp);
		if(n >= policy->max_retries || offline || !worth_retrying(resp, idempotent))
			break;
		/* Full jitter: anywhere in [0, backoff * 2^n); Retry-After is a floor. */
		delay = jitter_unit() * policy->backoff * (double)(1u << n);
		if(resp->retry_after >= 0)
			delay = fmax(delay, resp->retry_after);
		/* A try needs room to answer; one squeezed into the last moments of the
		 * budget would only turn this failure into a timeout. */
		if(clock_mono() + delay + fmin(MIN_ATTEMPT, policy->timeout / 4) >= deadline)
			break;
		log_debug("%s %s: attempt %d failed, retrying in %.2f s", req->method, req->url, n + 1,
			  delay);
		stats_retry();
		if(!sleep_unless_cancelled(req, delay)) {
			http_response_free(resp);
			resp->outcome = HTTP_INTERRUPTED;
			break;
		}
	}
	resp->elapsed = clock_mono() - start;
}

/* ---- the libcurl transport ---- */

struct curl_transport {
	struct http_transport base; /* first: the interface */
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	char *cacert; /* owned, may be NULL */
	/* Idle easy handles, reused by the next exchanges: making one per
	 * request costs allocations and curl's own set-up every time. */
	pthread_mutex_t idle_lock;
	CURL *idle[POOL_HANDLES];
	size_t nidle;
};

/* An easy handle with default options and the share handle, reused when one is idle. */
static CURL *handle_take(struct curl_transport *ct)
{
	CURL *h = NULL;

	pthread_mutex_lock(&ct->idle_lock);
	if(ct->nidle > 0)
		h = ct->idle[--ct->nidle];
	pthread_mutex_unlock(&ct->idle_lock);
	if(h)
		curl_easy_reset(h); /* options back to defaults; connections stay in the share */
	else
		h = curl_easy_init();
	return h;
}

/* Gives a handle back for reuse, or frees it when enough are idle. */
static void handle_give(struct curl_transport *ct, CURL *h)
{
	pthread_mutex_lock(&ct->idle_lock);
	if(ct->nidle < POOL_HANDLES) {
		ct->idle[ct->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&ct->idle_lock);
	if(h)
		curl_easy_cleanup(h);
}

struct progress_ctx {
	const struct http_request *req;
	CURL *h;
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct curl_transport *ct = arg;

	(void)h;
	(void)access;
	pthread_mutex_lock(&ct->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct curl_transport *ct = arg;

	(void)h;
	pthread_mutex_unlock(&ct->locks[data]);
}

/* The body goes into a text_buf bounded by the request's max_body. It is grown by
 * plain realloc, not the wiping allocator: a response never holds the key. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct text_buf *body = arg;
	size_t n = size * nmemb;

	text_buf_add(body, data, n);
	return body->err ? 0 : n; /* 0 makes curl stop with CURLE_WRITE_ERROR */
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress_ctx *p = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if(p->req->keep_once_sent) {
		long request_size = 0;

		/* Some of it went out (its headers counted once written): from here
		 * on the exchange is not abandoned. */
		curl_easy_getinfo(p->h, CURLINFO_REQUEST_SIZE, &request_size);
		if(ulnow > 0 || request_size > 0)
			return 0;
	}
	return is_cancelled(p->req) ? 1 : 0;
}

static long to_ms(double seconds)
{
	return seconds <= 0.001 ? 1 : (long)(seconds * 1000.0);
}

static enum http_outcome classify(CURL *h, CURLcode rc, const struct text_buf *body)
{
	curl_off_t connect_us = 0;
	long request_size = 0;

	switch(rc) {
	case CURLE_OK:
		return HTTP_DONE;
	case CURLE_COULDNT_CONNECT:
		return HTTP_REFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return HTTP_UNREACHABLE;
	case CURLE_OPERATION_TIMEDOUT:
		/* A reused connection has no connect time either: only a request
		 * never sent is a connect that timed out (a stalled answer on a
		 * kept-alive connection must not look like an unreachable API). */
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
		curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
		return connect_us == 0 && request_size == 0 ? HTTP_CONNECT_TIMEOUT : HTTP_TIMEOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return HTTP_RESET;
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
		return HTTP_BAD_RESPONSE;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return body->err == -EFBIG ? HTTP_TOO_LARGE : HTTP_FAILED;
	case CURLE_ABORTED_BY_CALLBACK:
		return HTTP_INTERRUPTED;
	case CURLE_PEER_FAILED_VERIFICATION: /* unknown CA, expired, or for another name */
	case CURLE_SSL_CACERT_BADFILE:	     /* the CA file cannot be used */
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return HTTP_TLS_VERIFY;
	default:
		return HTTP_FAILED;
	}
}

/* Retry-After in seconds: libcurl reads both of its forms (a number of
 * seconds, an HTTP date). None, 0, a date already past and nonsense are all -1
 * (our own backoff then), and so is more than a day. */
static double retry_after_of(CURL *h)
{
	curl_off_t v = 0;

	if(curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &v) != CURLE_OK || v <= 0 || v > 86400)
		return -1;
	return (double)v;
}

/* Appends the key's header line, built at the key's length (no cap), to headers.
 * Returns the list, or NULL when out of memory (headers is then left as it was).
 * curl_slist_append() keeps its own copy: headers_free() wipes that one; the
 * line built here is wiped before this returns. libcurl's own copies (the
 * request it formats, in buffers it grows) are wiped as it frees them, by the
 * allocator http_global_init() gives it. */
static struct curl_slist *key_header_append(struct curl_slist *headers, const char *key)
{
	static const char name[] = "X-CEKURA-API-KEY: ";
	size_t klen = strlen(key), size = sizeof(name) + klen;
	struct curl_slist *list;
	char *line = malloc(size);

	if(!line)
		return NULL;
	memcpy(line, name, sizeof(name) - 1);
	memcpy(line + sizeof(name) - 1, key, klen + 1);
	list = curl_slist_append(headers, line);
	explicit_bzero(line, size);
	free(line);
	return list;
}

/* Frees a header list, wiping each line first: one of them holds the key. */
static void headers_free(struct curl_slist *headers)
{
	for(struct curl_slist *l = headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(headers);
}

/* Whether req sends a body: a POST given one. */
static bool has_body(const struct http_request *req)
{
	return req->body && strcmp(req->method, "POST") == 0;
}

/* The request's headers: the key's, Accept, and for a body its type, with
 * "Expect:" (none): libcurl would otherwise hold a large body back for a
 * second, waiting for a "100 Continue" the API need not send (past 1 MiB
 * today, past 1 KiB in older releases). NULL when out of memory, nothing
 * left behind (headers_free() wipes what was built). */
static struct curl_slist *headers_of(const struct http_request *req)
{
	static const char *const body_lines[] = {"Content-Type: application/json", "Expect:"};
	struct curl_slist *headers = key_header_append(NULL, req->key ? req->key : "");
	bool ok = headers && curl_slist_append(headers, "Accept: application/json");

	for(size_t i = 0; ok && has_body(req) && i < sizeof(body_lines) / sizeof(body_lines[0]); i++)
		ok = curl_slist_append(headers, body_lines[i]) != NULL;
	if(!ok) {
		headers_free(headers);
		return NULL;
	}
	return headers;
}

static void curl_exchange(struct http_transport *t, const struct http_request *req,
			  struct http_response *resp)
{
	struct curl_transport *ct = (struct curl_transport *)t;
	size_t max_body = req->max_body ? req->max_body : HTTP_MAX_BODY;
	struct text_buf body = {.max = max_body};
	struct progress_ctx pctx = {.req = req};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	h = handle_take(ct);
	pctx.h = h;
	headers = headers_of(req);
	if(!h || !headers) {
		resp->outcome = HTTP_FAILED;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_SHARE, ct->share);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cekurafs/" CEKURAFS_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, POOL_CONNECTIONS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(req->timeout));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(req->connect_timeout));
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &pctx);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if(ct->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, ct->cacert);
	/* CURLOPT_VERBOSE is never set: its trace would print the key header. */
	if(strcmp(req->method, "POST") == 0) {
		/* On a reused connection that dies before answering, libcurl sends
		 * the request again by itself on another one: a POST must never ride
		 * a reused connection, or a refetch could be sent twice. Its own
		 * connection is closed after it, not pooled for the GETs. */
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		/* Not copied: req->body outlives the exchange. The buffers libcurl
		 * sends it from are wiped as they are freed (http_global_init()). */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 has_body(req) ? (curl_off_t)req->body_len : 0);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, has_body(req) ? req->body : "");
	}
	rc = curl_easy_perform(h);
	resp->outcome = classify(h, rc, &body);
	if(resp->outcome == HTTP_DONE) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->retry_after = retry_after_of(h);
		resp->body = body.text; /* NULL for an empty body */
		resp->len = body.len;
		body.text = NULL;
	} else {
		const char *words = errbuf[0] ? errbuf : curl_easy_strerror(rc);

		log_debug("%s %s: %s", req->method, req->url, words);
		if(resp->outcome == HTTP_TLS_VERIFY || resp->outcome == HTTP_FAILED)
			snprintf(resp->detail, sizeof(resp->detail), "%s", words);
	}
out:
	text_buf_free(&body);
	headers_free(headers);
	if(h)
		handle_give(ct, h);
}

/* libcurl's free: wipes the block first. The requests libcurl formats (the
 * key's header among them, in buffers it grows by realloc) leave no copy in
 * freed memory. */
static void wiping_free(void *p)
{
	if(!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* libcurl's realloc: moves the block and wipes the old one. */
static void *wiping_realloc(void *p, size_t size)
{
	size_t old;
	void *n;

	if(!p)
		return malloc(size);
	old = malloc_usable_size(p);
	n = malloc(size ? size : 1);
	if(!n)
		return NULL;
	memcpy(n, p, old < size ? old : size);
	wiping_free(p);
	return n;
}

int http_global_init(void)
{
	CURLcode rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wiping_free, wiping_realloc, strdup,
					   calloc);

	return rc == CURLE_OK ? 0 : -1;
}

/* Copies part of h into buf: 0, or -EINVAL when it is absent or too long. */
static int url_part(CURLU *h, CURLUPart part, char *buf, size_t size)
{
	char *v = NULL;
	int rc = curl_url_get(h, part, &v, 0) == CURLUE_OK && strlen(v) < size ? 0 : -EINVAL;

	if(rc == 0)
		memcpy(buf, v, strlen(v) + 1);
	curl_free(v);
	return rc;
}

static bool url_has(CURLU *h, CURLUPart part)
{
	char *v = NULL;
	bool has = curl_url_get(h, part, &v, 0) == CURLUE_OK;

	curl_free(v);
	return has;
}

int http_url_split(const char *url, struct http_url *out)
{
	CURLU *h = curl_url();
	int rc;

	memset(out, 0, sizeof(*out));
	if(!h)
		return -ENOMEM;
	rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK ? 0 : -EINVAL;
	if(rc == 0)
		rc = url_part(h, CURLUPART_SCHEME, out->scheme, sizeof(out->scheme));
	if(rc == 0)
		rc = url_part(h, CURLUPART_HOST, out->host, sizeof(out->host));
	if(rc == 0)
		out->userinfo = url_has(h, CURLUPART_USER) || url_has(h, CURLUPART_PASSWORD);
	curl_url_cleanup(h);
	return rc;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *http_library_version(void)
{
	return curl_version();
}

static void curl_destroy(struct http_transport *t)
{
	struct curl_transport *ct = (struct curl_transport *)t;

	if(!ct)
		return;
	for(size_t i = 0; i < ct->nidle; i++)
		curl_easy_cleanup(ct->idle[i]);
	curl_share_cleanup(ct->share);
	pthread_mutex_destroy(&ct->idle_lock);
	for(int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&ct->locks[i]);
	free(ct->cacert);
	free(ct);
}

struct http_transport *http_curl_new(const char *cacert)
{
	struct curl_transport *ct = calloc(1, sizeof(*ct));

	if(!ct)
		return NULL;
	for(int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&ct->locks[i], NULL);
	pthread_mutex_init(&ct->idle_lock, NULL);
	ct->base.exchange = curl_exchange;
	ct->base.destroy = curl_destroy;
	ct->share = curl_share_init();
	if(!ct->share)
		goto fail;
	if(cacert) {
		ct->cacert = strdup(cacert);
		if(!ct->cacert)
			goto fail;
	}
	curl_share_setopt(ct->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(ct->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(ct->share, CURLSHOPT_USERDATA, ct);
	curl_share_setopt(ct->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(ct->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(ct->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return &ct->base;
fail:
	curl_destroy(&ct->base);
	return NULL;
}
