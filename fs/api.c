/* api.c - Cekura endpoints -> typed results.
 *
 *   POST /test_framework/v2/aiagents/42/auto-fetch/          -> progress id
 *   GET  /test_framework/v2/aiagents/42/auto-fetch-progress/?progress_id=...
 *   GET  /test_framework/v2/aiagents/short_list/?page_size=1000 (and every `next`)
 *   GET  /test_framework/v2/aiagents/42/
 *   GET  /test_framework/v2/aiagents/42/history/?page_size=1000 (and every `next`)
 *   POST /test_framework/v1/aiagents/42/tools/auto-fetch/    {"provider": ...} -> progress id
 *   GET  /test_framework/v1/aiagents/42/tools/auto-fetch-progress/?progress_id=...
 *   GET  /test_framework/v1/scenarios/?agent_id=42&page_size=1000 (and every `next`)
 *   GET  /test_framework/v2/results/?agent_id=42&page_size=1000 (and every `next`)
 *   GET  /test_framework/v2/results/7/                       (64 MiB cap: transcripts)
 *   POST /test_framework/v2/results/7/end_calls/
 *   POST /test_framework/v2/scenarios/run_scenarios_text/    {"agent_id": 42, ...} -> {"id": 7, ...}
 *
 * Responses are decoded strictly: a field of the wrong type is EPROTO with a
 * message naming it, never a guess. Stage objects follow the reference's rule
 * (name from name|key|stage|label|title, state from status|state).
 */
#include "cekurafs/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/errmap.h"
#include "cekurafs/ids.h"
#include "cekurafs/json.h"
#include "cekurafs/log.h"
#include "cekurafs/text.h"
#include "cekurafs/tools_progress.h"

#define AGENTS_PATH "/test_framework/v2/aiagents/"
/* The tools-only import lives in v1 only (deprecated there; no v2 twin). */
#define AGENTS_V1_PATH "/test_framework/v1/aiagents/"
/* Evaluators (v1: ScenarioList) and results (v2). */
#define SCENARIOS_PATH "/test_framework/v1/scenarios/"
#define RESULTS_PATH   "/test_framework/v2/results/"
/* What a run POST that failed after it was sent leaves behind. */
#define RUN_MAY_HAVE_STARTED "the run may have started: look in results/ before running again"
/* Pages of one listing, whatever its `count` says (100,000 agents take 100). */
#define MAX_PAGES 100000
/* Page size asked for listings. The server's maximum is undocumented; Django
 * REST framework serves min(asked, its max_page_size) and `next` carries the
 * size on, so asking this much gets the largest page the server honours up
 * to about 300 KB of JSON. */
#define PAGE_SIZE "1000"

struct api {
	struct http_transport *transport; /* owned */
	struct http_policy policy;
	struct http_health health;
	char *base_url; /* owned */
	char *key;	/* owned; wiped on free */
};

static void on_health_change(bool offline, const char *why)
{
	if(offline)
		log_warn("API unreachable (%s): calls fail fast until it answers again", why);
	else
		log_info("API reachable again");
}

struct api *api_new(struct http_transport *transport, const char *base_url, const char *key,
		    const struct http_policy *policy)
{
	struct api *api = calloc(1, sizeof(*api));

	if(!api)
		return NULL;
	api->transport = transport;
	api->policy = *policy;
	api->health.on_change = on_health_change;
	atomic_init(&api->health.offline, false);
	api->base_url = strdup(base_url);
	api->key = strdup(key);
	if(!api->base_url || !api->key) {
		api_free(api);
		return NULL;
	}
	for(size_t n = strlen(api->base_url); n > 0 && api->base_url[n - 1] == '/'; n--)
		api->base_url[n - 1] = '\0';
	return api;
}

void api_free(struct api *api)
{
	if(!api)
		return;
	if(api->transport)
		api->transport->destroy(api->transport);
	if(api->key) {
		explicit_bzero(api->key, strlen(api->key));
		free(api->key);
	}
	free(api->base_url);
	free(api);
}

double api_timeout(const struct api *api)
{
	return api->policy.timeout;
}

static int fail(struct api_error *e, int err, long status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct api_error *e, int err, long status, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -err;
}

/* The messages of an error body, joined as they come: "; " between two. */
struct detail {
	struct text_buf text;
	size_t n;    /* messages so far */
	size_t room; /* bytes worth having: the caller's buffer cuts the rest */
};

/* Adds message, as "field: message" or alone when field is NULL. */
static void detail_add(struct detail *d, const char *field, const char *message)
{
	if(d->n++ > 0)
		text_buf_add(&d->text, "; ", 2);
	if(field)
		text_buf_printf(&d->text, "%s: ", field);
	text_buf_printf(&d->text, "%s", message);
}

/* Adds the strings of tok, a string or an array (its other values skipped),
 * each as a message of field (NULL: alone). */
static void detail_strings(const struct json_doc *doc, int tok, const char *field, struct detail *d)
{
	bool array = json_type(doc, tok) == JSON_ARRAY;
	int n = array ? json_size(doc, tok) : 1, el = array ? tok + 1 : tok;

	if(!array && json_type(doc, tok) != JSON_STRING)
		return;
	for(int i = 0; i < n && d->text.len < d->room && !d->text.err; i++) {
		char *message = NULL;

		if(json_type(doc, el) == JSON_STRING && json_string(doc, el, &message) == 0)
			detail_add(d, field, message);
		free(message);
		el = json_next(doc, el);
	}
}

/* Adds every field's messages, in the order received. */
static void detail_fields(const struct json_doc *doc, struct detail *d)
{
	int key = 1;

	for(int i = 0; i < json_size(doc, 0) && d->text.len < d->room && !d->text.err; i++) {
		char *field = NULL;

		if(json_key_is(doc, key, "non_field_errors"))
			detail_strings(doc, key + 1, NULL, d);
		else if(json_string(doc, key, &field) == 0)
			detail_strings(doc, key + 1, field, d);
		free(field);
		key = json_next(doc, key + 1);
	}
}

void api_decode_detail(const char *body, size_t len, char *buf, size_t size)
{
	struct detail d = {.text = {0}, .n = 0, .room = size};
	struct json_doc doc;
	char *text;
	int tok;

	if(size == 0)
		return;
	snprintf(buf, size, "(no detail)");
	if(len == 0 || !body || json_parse(&doc, body, len) != 0)
		return;
	tok = json_find(&doc, 0, "detail");
	if(json_type(&doc, tok) == JSON_STRING)
		detail_strings(&doc, tok, NULL, &d);
	else if(json_type(&doc, 0) == JSON_OBJECT)
		detail_fields(&doc, &d);
	else if(json_type(&doc, 0) == JSON_ARRAY)
		detail_strings(&doc, 0, NULL, &d);
	json_free(&doc);
	text = text_buf_take(&d.text, NULL);
	if(text && d.n > 0) {
		snprintf(buf, size, "%s", text);
		text_scrub(buf);
	}
	free(text);
}

/* What a POST that starts an import says when its answer was lost. */
#define MAY_HAVE_STARTED(what)	      "the API may have started " what "; a retry will tell (EBUSY if it did)"
#define IMPORT_MAY_HAVE_STARTED	      MAY_HAVE_STARTED("an import")
#define TOOLS_IMPORT_MAY_HAVE_STARTED MAY_HAVE_STARTED("a tools import")

/* How one call departs from the api's own policy. Zeroed: it does not. */
struct call_opts {
	const struct http_policy *policy; /* NULL: the api's */
	size_t max_body;		  /* bytes; 0: HTTP_MAX_BODY */
	bool keep_once_sent;		  /* an interrupt does not abandon it once sent */
	/* What a failure after the request was sent (a 5xx, a timeout, a reset,
	 * a broken or oversized answer) may have done: e's message then ends
	 * with "; <if_sent>". NULL for none. */
	const char *if_sent;
};

/* Whether a failed exchange had reached the API: it may have acted on it. */
static bool failed_after_sent(const struct http_response *resp)
{
	switch(resp->outcome) {
	case HTTP_DONE:
		return resp->status >= 500;
	case HTTP_TIMEOUT:
	case HTTP_RESET:
	case HTTP_BAD_RESPONSE:
	case HTTP_TOO_LARGE:
		return true;
	default:
		return false;
	}
}

/* Makes a call and turns every failure into an api_error. On 2xx returns 0
 * with resp holding the body; otherwise -errno and resp freed. body (NULL
 * for none) is a POST's JSON, NUL-terminated. if_lost (NULL for none) is what
 * a request that is not idempotent may have done when its answer was lost
 * after it was sent (a reset, a timeout): e's message then says so after the
 * cause. o (NULL: none) bends the api's policy for this call. */
static int call_with(struct api *api, const struct call_opts *o, const struct api_cancel *c,
		     const char *method, const char *url, const char *body, enum stats_endpoint endpoint,
		     bool idempotent, const char *if_lost, struct http_response *resp, struct api_error *e)
{
	const struct http_policy *policy = o && o->policy ? o->policy : &api->policy;
	struct http_request req = {
		.method = method,
		.url = url,
		.key = api->key,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.endpoint = endpoint,
		.cancelled = c ? c->cancelled : NULL,
		.cancel_arg = c ? c->arg : NULL,
		.max_body = o ? o->max_body : 0,
		.keep_once_sent = o && o->keep_once_sent,
	};
	int err;

	http_send(api->transport, policy, &api->health, &req, idempotent, resp);
	err = errmap_errno(resp->outcome, resp->status);
	log_debug("%s %s -> %s %ld in %.3f s", method, url, err ? strerror(err) : "ok", resp->status,
		  resp->elapsed);
	if(err == 0)
		return 0;
	if(resp->outcome == HTTP_DONE) {
		char detail[400];

		api_decode_detail(resp->body, resp->len, detail, sizeof(detail));
		fail(e, err, resp->status, "HTTP %ld: %s", resp->status, detail);
	} else {
		char what[128];

		errmap_describe(resp->outcome, policy->timeout, what, sizeof(what));
		if(resp->outcome == HTTP_TOO_LARGE && req.max_body)
			snprintf(what, sizeof(what), "response larger than %zu MiB", req.max_body >> 20);
		if(!idempotent && if_lost && resp->outcome == HTTP_RESET)
			fail(e, err, 0, "%s after the request was sent: %s", what, if_lost);
		else if(!idempotent && if_lost && resp->outcome == HTTP_TIMEOUT)
			fail(e, err, 0, "%s waiting for the answer: %s", what, if_lost);
		else if(resp->detail[0])
			fail(e, err, 0, "%s: %s", what, resp->detail);
		else
			fail(e, err, 0, "%s", what);
	}
	if(o && o->if_sent && failed_after_sent(resp)) {
		size_t n = strlen(e->msg);

		snprintf(e->msg + n, sizeof(e->msg) - n, "; %s", o->if_sent);
		/* A long detail must not cut the warning: it goes at the end whole. */
		if(strlen(o->if_sent) + 2 < sizeof(e->msg) && n + strlen(o->if_sent) + 2 >= sizeof(e->msg))
			snprintf(e->msg + sizeof(e->msg) - strlen(o->if_sent) - 3, strlen(o->if_sent) + 3,
				 "; %s", o->if_sent);
	}
	http_response_free(resp);
	return -err;
}

static int call(struct api *api, const struct api_cancel *c, const char *method, const char *url,
		const char *body, enum stats_endpoint endpoint, bool idempotent, const char *if_lost,
		struct http_response *resp, struct api_error *e)
{
	return call_with(api, NULL, c, method, url, body, endpoint, idempotent, if_lost, resp, e);
}

/* Reports a 2xx body that cannot be used: not JSON at all, or not the shape expected. */
static int malformed(struct api_error *e, const struct http_response *resp, const char *shape)
{
	struct json_doc d;

	if(resp && json_parse(&d, resp->body ? resp->body : "", resp->len) != 0)
		return fail(e, EPROTO, 0, "malformed response: not JSON (%zu bytes)", resp->len);
	if(resp)
		json_free(&d);
	return fail(e, EPROTO, 0, "malformed response: %s", shape);
}

static char *url_of(const struct api *api, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *url_of(const struct api *api, const char *fmt, ...)
{
	char *path = NULL, *url = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&path, fmt, ap);
	va_end(ap);
	if(n < 0)
		return NULL;
	if(asprintf(&url, "%s%s", api->base_url, path) < 0)
		url = NULL;
	free(path);
	return url;
}

/* ---- decoders ---- */

static const char *const name_keys[] = {"name", "key", "stage", "label", "title"};
static const char *const state_keys[] = {"status", "state"};

/* The first of keys present in obj as a string, copied into *out (NULL when none). */
static int first_string(const struct json_doc *d, int obj, const char *const *keys, size_t n, char **out)
{
	*out = NULL;
	for(size_t i = 0; i < n; i++) {
		int tok = json_find(d, obj, keys[i]);

		if(tok >= 0 && json_type(d, tok) == JSON_STRING)
			return json_string(d, tok, out);
	}
	return 0;
}

static int decode_stages(const struct json_doc *d, int arr, struct progress *out)
{
	int n = json_size(d, arr), tok = arr + 1;

	if(n > API_MAX_STAGES)
		return -EFBIG;
	out->stages = calloc(n > 0 ? (size_t)n : 1, sizeof(*out->stages));
	if(!out->stages)
		return -ENOMEM;
	for(int i = 0; i < n; i++) {
		struct progress_stage *s = &out->stages[i];
		int rc;

		if(json_type(d, tok) != JSON_OBJECT)
			return -EPROTO;
		out->nstages++;
		rc = first_string(d, tok, name_keys, 5, &s->name);
		if(rc == 0)
			rc = first_string(d, tok, state_keys, 2, &s->state);
		if(rc != 0)
			return rc;
		tok = json_next(d, tok);
	}
	return 0;
}

int api_decode_progress(const char *body, size_t len, struct progress *out)
{
	struct json_doc d;
	int rc, status, stage, stages, error;

	memset(out, 0, sizeof(*out));
	rc = json_parse(&d, body, len);
	if(rc != 0)
		return rc;
	status = json_find(&d, 0, "status");
	stage = json_find(&d, 0, "current_stage");
	stages = json_find(&d, 0, "stages");
	error = json_find(&d, 0, "error");
	rc = -EPROTO;
	if(json_type(&d, status) != JSON_STRING || json_type(&d, stages) != JSON_ARRAY)
		goto out;
	if(stage >= 0 && json_type(&d, stage) != JSON_STRING && json_type(&d, stage) != JSON_NULL)
		goto out;
	if(error >= 0 && json_type(&d, error) != JSON_STRING && json_type(&d, error) != JSON_NULL)
		goto out;
	rc = json_string(&d, status, &out->status);
	if(rc == 0)
		rc = json_type(&d, stage) == JSON_STRING ? json_string(&d, stage, &out->current_stage)
							 : ((out->current_stage = strdup("")) ? 0 : -ENOMEM);
	if(rc == 0 && json_type(&d, error) == JSON_STRING)
		rc = json_string(&d, error, &out->error);
	if(rc == 0)
		rc = decode_stages(&d, stages, out);
out:
	json_free(&d);
	if(rc != 0)
		progress_free(out);
	return rc;
}

int api_decode_auto_fetch(const char *body, size_t len, char **progress_id)
{
	struct json_doc d;
	int rc, tok;

	*progress_id = NULL;
	rc = json_parse(&d, body, len);
	if(rc != 0)
		return rc;
	tok = json_find(&d, 0, "progress_id");
	rc = json_string(&d, tok, progress_id);
	json_free(&d);
	if(rc == 0 && !ids_valid_job(*progress_id)) {
		free(*progress_id);
		*progress_id = NULL;
		rc = -EPROTO;
	}
	return rc;
}

const char *agent_list_name(const struct agent_list *l, size_t i)
{
	return l->items[i].name_at == AGENT_NO_NAME ? NULL : l->names + l->items[i].name_at;
}

void agent_list_free(struct agent_list *l)
{
	free(l->items);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 128;
	void *np;

	if(need <= *cap)
		return 0;
	while(ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if(!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Appends one agent; name may be NULL. Returns 0 or -ENOMEM. */
static int push_agent(struct agent_list *l, uint64_t id, const char *name)
{
	uint32_t at = AGENT_NO_NAME;

	if(grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items)) != 0)
		return -ENOMEM;
	if(name) {
		size_t len = strlen(name) + 1;

		if(l->names_len + len >= AGENT_NO_NAME ||
		   grow((void **)&l->names, &l->names_cap, l->names_len + len, 1) != 0)
			return -ENOMEM;
		memcpy(l->names + l->names_len, name, len);
		at = (uint32_t)l->names_len;
		l->names_len += len;
	}
	l->items[l->n++] = (struct agent_list_item){.id = id, .name_at = at};
	return 0;
}

int api_decode_agent_page(const char *body, size_t len, struct agent_list *l, char **next, int64_t *count)
{
	struct json_doc d;
	int rc, results, tok;

	*next = NULL;
	*count = -1;
	rc = json_parse(&d, body, len);
	if(rc != 0)
		return rc;
	rc = json_page(&d, &results, next, count);
	tok = results + 1;
	for(int i = 0; rc == 0 && i < json_size(&d, results); i++) {
		int name_tok = json_find(&d, tok, "agent_name");
		char *name = NULL;
		int64_t id;

		if(json_int(&d, json_find(&d, tok, "id"), &id) != 0 || id <= 0) {
			rc = -EPROTO;
			break;
		}
		/* The name is only for by-name/: one that is not a string is no name. */
		if(json_type(&d, name_tok) == JSON_STRING && json_string(&d, name_tok, &name) == -ENOMEM) {
			rc = -ENOMEM;
			break;
		}
		rc = push_agent(l, (uint64_t)id, name);
		free(name);
		tok = json_next(&d, tok);
	}
	if(rc != 0) {
		free(*next);
		*next = NULL;
	}
	json_free(&d);
	return rc;
}

/* ---- calls ---- */

static int cmp_item(const void *a, const void *b)
{
	uint64_t x = ((const struct agent_list_item *)a)->id, y = ((const struct agent_list_item *)b)->id;

	return (x > y) - (x < y);
}

/* Sorts by id and keeps one of each (pages can shift while they are read). */
static void sort_unique(struct agent_list *l)
{
	size_t k = 0;

	if(l->n == 0)
		return; /* items may be NULL: qsort must not see it */
	qsort(l->items, l->n, sizeof(*l->items), cmp_item);
	for(size_t i = 0; i < l->n; i++)
		if(k == 0 || l->items[k - 1].id != l->items[i].id)
			l->items[k++] = l->items[i];
	l->n = k;
}

/* A `next` must stay on our API: the key is never sent anywhere else. */
static bool same_origin(const struct api *api, const char *url)
{
	size_t n = strlen(api->base_url);

	return strncmp(url, api->base_url, n) == 0 && url[n] == '/';
}

/* The URLs a listing has asked for, as 64-bit FNV-1a hashes in an open
 * addressing table (0 marks a free slot): 8 bytes a page, however long the
 * URLs. Two URLs of one listing sharing a hash would end it with EPROTO:
 * about one chance in 10^15 for a listing of 100 pages. */
struct seen_urls {
	uint64_t *slot;
	size_t n, cap; /* cap a power of two, at least twice n */
};

static uint64_t url_hash(const char *url)
{
	uint64_t h = 0xcbf29ce484222325u;

	for(const unsigned char *p = (const unsigned char *)url; *p; p++)
		h = (h ^ *p) * 0x100000001b3u;
	return h ? h : 1;
}

/* Where h is in slot[cap], or the free slot where it would go. */
static size_t seen_find(const uint64_t *slot, size_t cap, uint64_t h)
{
	size_t i = h & (cap - 1);

	while(slot[i] && slot[i] != h)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Adds url; returns 1 when it was there already, 0 when added, -ENOMEM. */
static int seen_add(struct seen_urls *s, const char *url)
{
	uint64_t h = url_hash(url);
	size_t i;

	if(s->cap && s->slot[seen_find(s->slot, s->cap, h)] == h)
		return 1;
	if(2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint64_t *slot = calloc(cap, sizeof(*slot));

		if(!slot)
			return -ENOMEM;
		for(size_t k = 0; k < s->cap; k++)
			if(s->slot[k])
				slot[seen_find(slot, cap, s->slot[k])] = s->slot[k];
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	i = seen_find(s->slot, s->cap, h);
	s->slot[i] = h;
	s->n++;
	return 0;
}

/* What the first page allows the whole listing. Pages can shift while they
 * are read (an item added meanwhile), so one page of slack on each bound. */
struct listing_bounds {
	int64_t count;	  /* the first page's `count`; -1 when it gave none */
	size_t per_page;  /* items on the first page, at least 1 */
	size_t max_pages; /* ceil(count / per_page) + 1, at most MAX_PAGES */
	size_t max_items; /* count + per_page */
};

static void bounds_set(struct listing_bounds *b, int64_t count, size_t first_page)
{
	uint64_t pages;

	b->count = count;
	b->per_page = first_page ? first_page : 1;
	if(count < 0) {
		b->max_pages = 1; /* no count, no second page (checked by the caller) */
		b->max_items = SIZE_MAX;
		return;
	}
	pages = (uint64_t)count / b->per_page + ((uint64_t)count % b->per_page != 0) + 1;
	b->max_pages = pages < MAX_PAGES ? (size_t)pages : MAX_PAGES;
	b->max_items = (uint64_t)count < SIZE_MAX - b->per_page ? (size_t)count + b->per_page : SIZE_MAX;
}

/* A paginated listing as walk_pages() follows it. */
struct page_walk {
	enum stats_endpoint endpoint; /* what each page's request counts as */
	const char *items;	      /* what the pages hold, for messages: "agents" */
	const char *shape;	      /* what a page must be, for a malformed one's message */
	api_page_fn *page;	      /* decodes one page into arg */
	void *arg;
};

/* Checks page `page` (just decoded, total items so far) and its `next`
 * against what the listing may do. Returns 0 to follow next, or -EPROTO
 * (-ENOMEM) with e filled. */
static int listing_check(struct api *api, const struct page_walk *w, struct listing_bounds *b,
			 struct seen_urls *seen, size_t page, size_t total, const char *next,
			 struct api_error *e)
{
	int rc;

	if(total > b->max_items)
		return fail(e, EPROTO, 0,
			    "malformed response: page %zu brings the %s to %zu, more than the first page's "
			    "count of %lld",
			    page, w->items, total, (long long)b->count);
	if(!next)
		return 0;
	if(!same_origin(api, next))
		return malformed(e, NULL, "`next` points away from api_url");
	rc = seen_add(seen, next);
	if(rc == 1)
		return fail(e, EPROTO, 0, "malformed response: page %zu links back to an earlier page", page);
	if(rc != 0)
		return fail(e, ENOMEM, 0, "out of memory");
	if(b->count < 0)
		return fail(e, EPROTO, 0, "malformed response: page %zu has a `next` but no `count`", page);
	if(page + 1 > b->max_pages)
		return fail(
			e, EPROTO, 0,
			"malformed response: page %zu links to page %zu, more than a count of %lld in pages "
			"of %zu allows",
			page, page + 1, (long long)b->count, b->per_page);
	return 0;
}

/* GETs url (owned: freed here; NULL is out of memory) and every `next` after
 * it, each page given to w->page, within the bounds the first page sets.
 * 0, or -errno with e filled. */
static int walk_pages(struct api *api, const struct api_cancel *c, char *url, const struct page_walk *w,
		      struct api_error *e)
{
	int rc = url ? 0 : fail(e, ENOMEM, 0, "out of memory");
	struct listing_bounds bounds = {.count = -1};
	struct seen_urls seen = {NULL, 0, 0};
	size_t total = 0;

	if(url && seen_add(&seen, url) < 0)
		rc = fail(e, ENOMEM, 0, "out of memory");
	for(size_t page = 1; url && rc == 0; page++) {
		struct http_response resp;
		char *next = NULL;
		int64_t count = -1;
		size_t items = 0;

		rc = call(api, c, "GET", url, NULL, w->endpoint, true, NULL, &resp, e);
		if(rc == 0) {
			rc = w->page(w->arg, resp.body ? resp.body : "", resp.len, &next, &count, &items);
			if(rc == -EPROTO)
				malformed(e, &resp, w->shape);
			else if(rc != 0)
				fail(e, -rc, 0, "%s", strerror(-rc));
			total = items < SIZE_MAX - total ? total + items : SIZE_MAX;
			if(rc == 0 && page == 1)
				bounds_set(&bounds, count, items);
			if(rc == 0)
				rc = listing_check(api, w, &bounds, &seen, page, total, next, e);
			http_response_free(&resp);
		}
		free(url);
		url = next; /* freed below when the walk ends here */
	}
	free(url);
	free(seen.slot);
	return rc;
}

/* api_decode_agent_page() as an api_page_fn: arg is the agent_list. */
static int agent_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items)
{
	struct agent_list *l = arg;
	size_t before = l->n;
	int rc = api_decode_agent_page(body, len, l, next, count);

	*items = l->n - before;
	return rc;
}

int api_list_agents(struct api *api, const struct api_cancel *c, struct agent_list *out, struct api_error *e)
{
	const struct page_walk walk = {
		.endpoint = STATS_LIST,
		.items = "agents",
		.shape = "an agent list page is not {\"count\": int, \"results\": [{\"id\": int}], \"next\": "
			 "url}",
		.page = agent_page,
		.arg = out,
	};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = walk_pages(api, c, url_of(api, AGENTS_PATH "short_list/?page_size=" PAGE_SIZE), &walk, e);
	if(rc != 0) {
		agent_list_free(out);
		return rc;
	}
	sort_unique(out);
	return 0;
}

int api_history(struct api *api, const struct api_cancel *c, uint64_t id, api_page_fn *page, void *arg,
		struct api_error *e)
{
	const struct page_walk walk = {
		.endpoint = STATS_HISTORY,
		.items = "versions",
		.shape = "a history page is not {\"count\": int, \"results\": [...], \"next\": url}",
		.page = page,
		.arg = arg,
	};

	if(!page)
		return fail(e, EINVAL, 0, "no page reader");
	return walk_pages(
		api, c, url_of(api, AGENTS_PATH "%llu/history/?page_size=" PAGE_SIZE, (unsigned long long)id),
		&walk, e);
}

int api_get_agent_body(struct api *api, const struct api_cancel *c, uint64_t id, char **body, size_t *len,
		       struct api_error *e)
{
	char *url = url_of(api, AGENTS_PATH "%llu/", (unsigned long long)id);
	struct http_response resp;
	int rc;

	if(body) {
		*body = NULL;
		*len = 0;
	}
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, c, "GET", url, NULL, STATS_AGENT, true, NULL, &resp, e);
	free(url);
	if(rc != 0)
		return rc;
	if(body && !resp.body)
		resp.body = strdup(""); /* an empty body: the caller still gets a string */
	if(body && !resp.body) {
		http_response_free(&resp);
		return fail(e, ENOMEM, 0, "out of memory");
	}
	if(body) {
		*body = resp.body;
		*len = resp.len;
		resp.body = NULL;
	}
	http_response_free(&resp);
	return 0;
}

int api_get_agent(struct api *api, const struct api_cancel *c, uint64_t id, struct api_error *e)
{
	return api_get_agent_body(api, c, id, NULL, NULL, e);
}

/* The answer of a POST that started an import: its progress id into
 * *progress_id. Frees resp. 0 or -errno with e filled. */
static int started(struct http_response *resp, char **progress_id, struct api_error *e)
{
	int rc = api_decode_auto_fetch(resp->body, resp->len, progress_id);

	if(rc == -EPROTO)
		malformed(e, resp, "no usable \"progress_id\" string");
	else if(rc != 0)
		fail(e, -rc, 0, "%s", strerror(-rc));
	http_response_free(resp);
	return rc;
}

/* Moves resp's body (as sent) into *raw, "" for an empty one. 0 or -ENOMEM. */
static int keep_body(struct http_response *resp, char **raw)
{
	*raw = resp->body ? resp->body : strdup("");
	resp->body = NULL;
	return *raw ? 0 : -ENOMEM;
}

int api_auto_fetch(struct api *api, const struct api_cancel *c, uint64_t id, char **progress_id,
		   struct api_error *e)
{
	char *url = url_of(api, AGENTS_PATH "%llu/auto-fetch/", (unsigned long long)id);
	struct http_response resp;
	int rc;

	*progress_id = NULL;
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, c, "POST", url, NULL, STATS_AUTO_FETCH, false, IMPORT_MAY_HAVE_STARTED, &resp, e);
	free(url);
	if(rc != 0)
		return rc;
	return started(&resp, progress_id, e);
}

int api_progress(struct api *api, const struct api_cancel *c, uint64_t id, const char *progress_id,
		 struct progress *out, char **raw, struct api_error *e)
{
	char *url;
	struct http_response resp;
	int rc;

	memset(out, 0, sizeof(*out));
	*raw = NULL;
	if(!ids_valid_job(progress_id))
		return fail(e, EINVAL, 0, "invalid progress id");
	url = url_of(api, AGENTS_PATH "%llu/auto-fetch-progress/?progress_id=%s", (unsigned long long)id,
		     progress_id);
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, c, "GET", url, NULL, STATS_PROGRESS, true, NULL, &resp, e);
	free(url);
	if(rc != 0)
		return rc;
	rc = api_decode_progress(resp.body, resp.len, out);
	if(rc == -EFBIG)
		rc = fail(e, EPROTO, 0, "malformed response: more than %d stages", API_MAX_STAGES);
	else if(rc == -EPROTO)
		malformed(e, &resp, "not a progress object (status, current_stage, stages, error)");
	else if(rc != 0)
		fail(e, -rc, 0, "%s", strerror(-rc));
	if(rc == 0 && keep_body(&resp, raw) != 0) {
		progress_free(out);
		rc = fail(e, ENOMEM, 0, "out of memory");
	}
	http_response_free(&resp);
	return rc;
}

/* A tools endpoint answered 404 or 410: the deprecated import is gone, which
 * is -EOPNOTSUPP. Any other failure rc (from call()) stays as it is. */
static int tools_gone(int rc, struct api_error *e)
{
	if(rc != 0 && (e->status == 404 || e->status == 410))
		return fail(e, EOPNOTSUPP, e->status, "HTTP %ld: " API_TOOLS_GONE, e->status);
	return rc;
}

int api_tools_fetch(struct api *api, const struct api_cancel *c, uint64_t id, const char *body,
		    char **progress_id, struct api_error *e)
{
	char *url;
	struct http_response resp;
	int rc;

	*progress_id = NULL;
	if(!body)
		return fail(e, EINVAL, 0, "no request body");
	url = url_of(api, AGENTS_V1_PATH "%llu/tools/auto-fetch/", (unsigned long long)id);
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, c, "POST", url, body, STATS_TOOLS_FETCH, false, TOOLS_IMPORT_MAY_HAVE_STARTED, &resp,
		  e);
	free(url);
	if(rc != 0)
		return tools_gone(rc, e);
	return started(&resp, progress_id, e);
}

/* A tools progress answer as a struct progress: its status and error, no
 * stage. Takes the strings from t. 0 or -ENOMEM. */
static int tools_as_progress(struct tools_progress *t, struct progress *out)
{
	out->status = t->status;
	out->error = t->error;
	t->status = t->error = NULL;
	out->current_stage = strdup("");
	return out->current_stage ? 0 : -ENOMEM;
}

int api_tools_progress(struct api *api, const struct api_cancel *c, uint64_t id, const char *progress_id,
		       struct progress *out, char **raw, struct api_error *e)
{
	struct tools_progress t;
	struct http_response resp;
	char *url;
	int rc;

	memset(out, 0, sizeof(*out));
	*raw = NULL;
	if(!ids_valid_job(progress_id))
		return fail(e, EINVAL, 0, "invalid progress id");
	url = url_of(api, AGENTS_V1_PATH "%llu/tools/auto-fetch-progress/?progress_id=%s",
		     (unsigned long long)id, progress_id);
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, c, "GET", url, NULL, STATS_TOOLS_PROGRESS, true, NULL, &resp, e);
	free(url);
	if(rc != 0)
		return tools_gone(rc, e);
	rc = tools_progress_decode(resp.body, resp.len, &t);
	if(rc == -EPROTO)
		malformed(
			e, &resp,
			"not a tools progress object (status, tools_created, tools_updated, message, error)");
	else if(rc != 0)
		fail(e, -rc, 0, "%s", strerror(-rc));
	if(rc == 0 && (tools_as_progress(&t, out) != 0 || keep_body(&resp, raw) != 0)) {
		progress_free(out);
		free(*raw);
		*raw = NULL;
		rc = fail(e, ENOMEM, 0, "out of memory");
	}
	tools_progress_free(&t);
	http_response_free(&resp);
	return rc;
}

int api_check(struct api *api, struct api_error *e)
{
	char *url = url_of(api, AGENTS_PATH "short_list/?page_size=1");
	struct http_response resp;
	int rc;

	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, NULL, "GET", url, NULL, STATS_LIST, true, NULL, &resp, e);
	if(rc == 0)
		http_response_free(&resp);
	free(url);
	return rc;
}

/* Every page of what path lists of one agent: path?agent_id=<agent>&page_size=..., then every `next`. */
static int walk_agent_pages(struct api *api, const struct api_cancel *c, const char *path, uint64_t agent,
			    const struct page_walk *walk, struct api_error *e)
{
	if(!walk->page)
		return fail(e, EINVAL, 0, "no page reader");
	return walk_pages(
		api, c, url_of(api, "%s?agent_id=%llu&page_size=" PAGE_SIZE, path, (unsigned long long)agent),
		walk, e);
}

int api_scenarios(struct api *api, const struct api_cancel *c, uint64_t agent, api_page_fn *page, void *arg,
		  struct api_error *e)
{
	const struct page_walk walk = {
		.endpoint = STATS_SCENARIOS,
		.items = "evaluators",
		.shape = "an evaluator page is not {\"count\": int, \"results\": [...], \"next\": url}",
		.page = page,
		.arg = arg,
	};

	return walk_agent_pages(api, c, SCENARIOS_PATH, agent, &walk, e);
}

int api_results(struct api *api, const struct api_cancel *c, uint64_t agent, api_page_fn *page, void *arg,
		struct api_error *e)
{
	const struct page_walk walk = {
		.endpoint = STATS_RESULTS,
		.items = "results",
		.shape = "a result page is not {\"count\": int, \"results\": [...], \"next\": url}",
		.page = page,
		.arg = arg,
	};

	return walk_agent_pages(api, c, RESULTS_PATH, agent, &walk, e);
}

/* Moves a 2xx resp's body into *body and *len ("" for an empty one) and frees
 * resp. 0 or -ENOMEM with e filled. */
static int take_body(struct http_response *resp, char **body, size_t *len, struct api_error *e)
{
	size_t n = resp->len;

	if(keep_body(resp, body) != 0) {
		http_response_free(resp);
		return fail(e, ENOMEM, 0, "out of memory");
	}
	*len = n;
	http_response_free(resp);
	return 0;
}

int api_result(struct api *api, const struct api_cancel *c, uint64_t result, char **body, size_t *len,
	       struct api_error *e)
{
	const struct call_opts opts = {.max_body = API_RESULT_MAX_BODY};
	char *url = url_of(api, RESULTS_PATH "%llu/", (unsigned long long)result);
	struct http_response resp;
	int rc;

	*body = NULL;
	*len = 0;
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call_with(api, &opts, c, "GET", url, NULL, STATS_RESULT, true, NULL, &resp, e);
	free(url);
	if(rc != 0)
		return rc;
	return take_body(&resp, body, len, e);
}

int api_end_calls(struct api *api, const struct api_cancel *c, uint64_t result, struct api_error *e)
{
	char *url = url_of(api, RESULTS_PATH "%llu/end_calls/", (unsigned long long)result);
	struct http_response resp;
	int rc;

	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call(api, c, "POST", url, NULL, STATS_END_CALLS, false, NULL, &resp, e);
	free(url);
	if(rc == 0)
		http_response_free(&resp);
	return rc;
}

int api_run(struct api *api, const struct api_cancel *c, const char *path, const char *body, double budget,
	    char **reply, size_t *len, struct api_error *e)
{
	struct http_policy policy = api->policy;
	const struct call_opts opts = {
		.policy = &policy,
		.keep_once_sent = true,
		.if_sent = RUN_MAY_HAVE_STARTED,
	};
	struct http_response resp;
	char *url;
	int rc;

	*reply = NULL;
	*len = 0;
	if(!path || path[0] != '/')
		return fail(e, EINVAL, 0, "no run endpoint");
	if(!body)
		return fail(e, EINVAL, 0, "no request body");
	if(!(budget > 0))
		return fail(e, EINVAL, 0, "no time budget");
	policy.timeout = budget;
	url = url_of(api, "%s", path);
	if(!url)
		return fail(e, ENOMEM, 0, "out of memory");
	rc = call_with(api, &opts, c, "POST", url, body, STATS_RUN, false, NULL, &resp, e);
	free(url);
	if(rc != 0)
		return rc;
	return take_body(&resp, reply, len, e);
}
