/* fake_transport.c - a scripted, recording, thread-safe HTTP transport for the unit tests.
 *
 * See fake_transport.h. One mutex guards the script and the records; it is
 * released while a reply is delayed or held, so concurrent requests overlap
 * as they would on the network.
 */
#include "fake_transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cekurafs/clock.h"
#include "cekurafs/stats.h"

#define SLICE 0.002 /* seconds between two looks at cancellation while a reply waits */

struct rule {
	struct fake_reply reply; /* first: fake_expect() hands out its address */
	char *method;		 /* owned, NULL for any */
	char *url_part;		 /* owned */
	enum http_outcome outcome;
	long status;
	char *body; /* owned, NULL when empty */
	size_t len;
	bool used;
	struct rule *next;
};

struct fake {
	struct http_transport base; /* first: the interface */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct rule *expected; /* queue, oldest first */
	struct rule *defaults; /* newest first */
	struct fake_request **requests;
	size_t nrequests, cap;
	size_t unexpected;
	bool released;
	bool destroyed;
};

double fake_now(void)
{
	return clock_mono();
}

static struct timespec abs_time(double seconds_from_now)
{
	return clock_timespec(clock_mono() + seconds_from_now);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if(!p)
		abort(); /* a test fixture that cannot allocate cannot report anything useful */
	return p;
}

static char *xstrdup(const char *s)
{
	char *c;

	if(!s)
		return NULL;
	c = strdup(s);
	if(!c)
		abort();
	return c;
}

static bool url_matches(const char *url, const char *part)
{
	size_t n = strlen(part);

	if(n > 0 && part[n - 1] == '$') {
		size_t u = strlen(url);

		n--;
		return u >= n && memcmp(url + u - n, part, n) == 0;
	}
	return strstr(url, part) != NULL;
}

static bool method_matches(const char *method, const char *want)
{
	return !want || strcmp(method, want) == 0;
}

static bool rule_matches(const struct rule *r, const char *method, const char *url)
{
	return method_matches(method, r->method) && url_matches(url, r->url_part);
}

static bool cancelled(const struct http_request *req)
{
	return req->cancelled && req->cancelled(req->cancel_arg);
}

/* Waits for the reply's delay or hold (a reply with neither never looks at
 * cancellation). Lock held. Returns HTTP_DONE to go on,
 * or the outcome that ended the wait (HTTP_INTERRUPTED, HTTP_TIMEOUT). */
static enum http_outcome wait_for_reply(struct fake *f, const struct fake_reply *reply,
					const struct http_request *req)
{
	double start = fake_now();
	double limit = req->timeout > 0 ? req->timeout : 1e9;
	double delay = reply->delay;

	for(;;) {
		double waited = fake_now() - start;
		double left;
		struct timespec until;

		if(waited >= delay && (!reply->hold || f->released))
			return HTTP_DONE;
		/* The request is sent once it arrives here: keep_once_sent ignores cancelled. */
		if(!req->keep_once_sent && cancelled(req))
			return HTTP_INTERRUPTED;
		if(waited >= limit)
			return HTTP_TIMEOUT;
		left = reply->hold && !f->released ? limit - waited : delay - waited;
		if(left > limit - waited)
			left = limit - waited;
		until = abs_time(left < SLICE ? left : SLICE);
		pthread_cond_timedwait(&f->changed, &f->lock, &until);
	}
}

static void record(struct fake *f, const struct http_request *req)
{
	struct fake_request *r = xcalloc(1, sizeof(*r));

	r->method = xstrdup(req->method);
	r->url = xstrdup(req->url);
	r->key = xstrdup(req->key);
	if(req->body) {
		r->body = malloc(req->body_len + 1);
		if(!r->body)
			abort();
		memcpy(r->body, req->body, req->body_len);
		r->body[req->body_len] = '\0';
		r->body_len = req->body_len;
	}
	r->endpoint = req->endpoint;
	r->timeout = req->timeout;
	r->connect_timeout = req->connect_timeout;
	r->max_body = req->max_body;
	r->keep_once_sent = req->keep_once_sent;
	r->at = fake_now();
	if(f->nrequests == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct fake_request **p = realloc(f->requests, cap * sizeof(*p));

		if(!p)
			abort();
		f->requests = p;
		f->cap = cap;
	}
	f->requests[f->nrequests++] = r;
	pthread_cond_broadcast(&f->changed);
}

static struct rule *find_rule(struct fake *f, const char *method, const char *url)
{
	for(struct rule *r = f->expected; r; r = r->next) {
		if(!r->used && rule_matches(r, method, url)) {
			r->used = true;
			return r;
		}
	}
	for(struct rule *r = f->defaults; r; r = r->next)
		if(rule_matches(r, method, url))
			return r;
	return NULL;
}

static void fake_exchange(struct http_transport *t, const struct http_request *req,
			  struct http_response *resp)
{
	struct fake *f = (struct fake *)t;
	struct rule *rule;
	enum http_outcome waited;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	pthread_mutex_lock(&f->lock);
	record(f, req);
	rule = find_rule(f, req->method, req->url);
	if(!rule) {
		f->unexpected++;
		resp->outcome = HTTP_FAILED;
		pthread_mutex_unlock(&f->lock);
		return;
	}
	waited = wait_for_reply(f, &rule->reply, req);
	if(waited != HTTP_DONE) {
		resp->outcome = waited;
		pthread_mutex_unlock(&f->lock);
		return;
	}
	resp->outcome = rule->outcome;
	resp->retry_after = rule->reply.retry_after;
	if(rule->reply.detail)
		snprintf(resp->detail, sizeof(resp->detail), "%s", rule->reply.detail);
	if(rule->outcome == HTTP_DONE && rule->len > (req->max_body ? req->max_body : HTTP_MAX_BODY)) {
		resp->outcome = HTTP_TOO_LARGE; /* as the curl transport stops past its cap */
	} else if(rule->outcome == HTTP_DONE) {
		resp->status = rule->status;
		if(rule->body) {
			resp->body = malloc(rule->len + 1);
			if(!resp->body)
				abort();
			memcpy(resp->body, rule->body, rule->len);
			resp->body[rule->len] = '\0';
			resp->len = rule->len;
		}
	}
	pthread_mutex_unlock(&f->lock);
}

static void fake_destroy(struct http_transport *t)
{
	struct fake *f = (struct fake *)t;

	pthread_mutex_lock(&f->lock);
	f->destroyed = true;
	pthread_mutex_unlock(&f->lock);
}

struct fake *fake_new(void)
{
	struct fake *f = xcalloc(1, sizeof(*f));
	pthread_condattr_t attr;

	f->base.exchange = fake_exchange;
	f->base.destroy = fake_destroy;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&f->changed, &attr);
	pthread_condattr_destroy(&attr);
	return f;
}

static void free_rules(struct rule *r)
{
	while(r) {
		struct rule *next = r->next;

		free(r->method);
		free(r->url_part);
		free(r->body);
		free(r);
		r = next;
	}
}

void fake_free(struct fake *f)
{
	if(!f)
		return;
	free_rules(f->expected);
	free_rules(f->defaults);
	for(size_t i = 0; i < f->nrequests; i++) {
		free(f->requests[i]->method);
		free(f->requests[i]->url);
		free(f->requests[i]->key);
		free(f->requests[i]->body);
		free(f->requests[i]);
	}
	free(f->requests);
	pthread_cond_destroy(&f->changed);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct http_transport *fake_transport(struct fake *f)
{
	return &f->base;
}

bool fake_destroyed(struct fake *f)
{
	bool d;

	pthread_mutex_lock(&f->lock);
	d = f->destroyed;
	pthread_mutex_unlock(&f->lock);
	return d;
}

static struct rule *new_rule(const char *method, const char *url_part, enum http_outcome outcome, long status,
			     const char *body, size_t len)
{
	struct rule *r = xcalloc(1, sizeof(*r));

	r->reply.retry_after = -1;
	r->method = xstrdup(method);
	r->url_part = xstrdup(url_part ? url_part : "");
	r->outcome = outcome;
	r->status = status;
	if(body && len > 0) {
		r->body = malloc(len);
		if(!r->body)
			abort();
		memcpy(r->body, body, len);
		r->len = len;
	}
	return r;
}

struct fake_reply *fake_expect_raw(struct fake *f, const char *method, const char *url_part,
				   enum http_outcome outcome, long status, const char *body, size_t len)
{
	struct rule *r = new_rule(method, url_part, outcome, status, body, len);
	struct rule **tail;

	pthread_mutex_lock(&f->lock);
	for(tail = &f->expected; *tail; tail = &(*tail)->next)
		;
	*tail = r;
	pthread_mutex_unlock(&f->lock);
	return &r->reply;
}

struct fake_reply *fake_expect(struct fake *f, const char *method, const char *url_part,
			       enum http_outcome outcome, long status, const char *body)
{
	return fake_expect_raw(f, method, url_part, outcome, status, body, body ? strlen(body) : 0);
}

struct fake_reply *fake_default(struct fake *f, const char *method, const char *url_part,
				enum http_outcome outcome, long status, const char *body)
{
	struct rule *r = new_rule(method, url_part, outcome, status, body, body ? strlen(body) : 0);

	pthread_mutex_lock(&f->lock);
	r->next = f->defaults;
	f->defaults = r;
	pthread_mutex_unlock(&f->lock);
	return &r->reply;
}

void fake_release(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->released = true;
	pthread_cond_broadcast(&f->changed);
	pthread_mutex_unlock(&f->lock);
}

size_t fake_nrequests(struct fake *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->nrequests;
	pthread_mutex_unlock(&f->lock);
	return n;
}

size_t fake_count(struct fake *f, const char *method, const char *url_part)
{
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	for(size_t i = 0; i < f->nrequests; i++)
		if(method_matches(f->requests[i]->method, method) &&
		   url_matches(f->requests[i]->url, url_part ? url_part : ""))
			n++;
	pthread_mutex_unlock(&f->lock);
	return n;
}

const struct fake_request *fake_request(struct fake *f, size_t i)
{
	const struct fake_request *r = NULL;

	pthread_mutex_lock(&f->lock);
	if(i < f->nrequests)
		r = f->requests[i];
	pthread_mutex_unlock(&f->lock);
	return r;
}

const char *fake_body(struct fake *f, size_t i)
{
	const char *body = NULL;

	pthread_mutex_lock(&f->lock);
	if(i < f->nrequests)
		body = f->requests[i]->body;
	pthread_mutex_unlock(&f->lock);
	return body;
}

const char *fake_request_body(struct fake *f, const char *method, const char *url_part)
{
	const char *body = NULL;

	pthread_mutex_lock(&f->lock);
	for(size_t i = f->nrequests; i > 0; i--) {
		const struct fake_request *r = f->requests[i - 1];

		if(method_matches(r->method, method) && url_matches(r->url, url_part ? url_part : "")) {
			body = r->body;
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return body;
}

size_t fake_pending(struct fake *f)
{
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	for(struct rule *r = f->expected; r; r = r->next)
		n += !r->used;
	pthread_mutex_unlock(&f->lock);
	return n;
}

size_t fake_unexpected(struct fake *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->unexpected;
	pthread_mutex_unlock(&f->lock);
	return n;
}

bool fake_wait_requests(struct fake *f, size_t n, double timeout)
{
	struct timespec until = abs_time(timeout);
	bool ok;

	pthread_mutex_lock(&f->lock);
	while(f->nrequests < n) {
		if(pthread_cond_timedwait(&f->changed, &f->lock, &until) == ETIMEDOUT)
			break;
	}
	ok = f->nrequests >= n;
	pthread_mutex_unlock(&f->lock);
	return ok;
}

const struct http_policy *fake_policy(void)
{
	static const struct http_policy policy = {
		.timeout = 5.0,
		.connect_timeout = 1.0,
		.max_retries = 3,
		.backoff = 0.001,
	};

	return &policy;
}

long fake_stat(const char *name)
{
	char *text = stats_render(), *at;
	long v = -1;

	if(!text)
		abort();
	at = strstr(text, name);
	if(at && at[strlen(name)] == ' ')
		v = strtol(at + strlen(name) + 1, NULL, 10);
	free(text);
	return v;
}
