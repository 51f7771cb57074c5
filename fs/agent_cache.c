/* agent_cache.c - what the registry keeps of each agent, fetched and kept
 * (agent_cache.h): one row per thing kept, one cache for all of them.
 */
#include "agent_cache.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/evaluators.h"
#include "cekurafs/result.h"
#include "cekurafs/log.h"
#include "cekurafs/memory.h"
#include "cekurafs/stats.h"

/* A decoded thing and the references to it: the cache's, and each reader's
 * until it gives it back. Immutable once made; freed by its last holder.
 * Readers get &u (agent_cache_put() finds the rest from it). */
struct held {
	atomic_uint refs;
	enum agent_cached what;
	union {
		struct agent_config config;
		struct history history;
		struct evaluators *evaluators;
		struct result_list *results; /* amended under the lock: read only with it held */
	} u;
};

/* An agent's place in the cache for one thing kept; the agent's
 * AGENT_CACHED_N of them are made at its first use. Those holding something
 * are in the cache list, oldest first. */
struct cache_entry {
	struct held *held;		 /* the cache's reference, or NULL */
	double at;			 /* monotonic time it was fetched */
	size_t bytes;			 /* about what it holds */
	struct cache_entry *prev, *next; /* in the cache list, while held */
	unsigned forgotten;		 /* bumped when it is forgotten: a fetch in flight is stale */
	unsigned gen;			 /* the agent's content_gen it was fetched at */
	uint64_t hash;			 /* of the last one fetched, kept when it is forgotten */
	double changed_at;		 /* wall-clock time it last changed (0: never fetched) */
	struct flight fetch;
};

/* A thing kept: how it is fetched, freed and measured. */
struct cached_type {
	const char *op; /* the error line's operation of a failed fetch */
	enum stats_cache stat;
	/* Fetches it into h->u (no lock held). 0 or -errno with e filled. */
	int (*load)(struct api *api, const struct api_cancel *c, uint64_t id, struct held *h,
		    struct api_error *e);
	void (*release)(struct held *h);
	size_t (*bytes)(const struct held *h);
	uint64_t (*hash)(const struct held *h); /* tells a new one from one fetched again */
};

struct agent_cache {
	struct cache_entry *head, *tail; /* oldest first */
	size_t n, bytes;
};

/* FNV-1a over len bytes, continuing from h. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;

	for(size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * UINT64_C(1099511628211);
	return h;
}

#define HASH_START UINT64_C(14695981039346656037)

/* ---- the configuration ---- */

/* The errno and words of a body agent_config_decode() refused. */
static int decode_failed(int rc, struct api_error *e)
{
	if(rc != -EPROTO && rc != -EFBIG) {
		snprintf(e->msg, sizeof(e->msg), "%s", strerror(-rc));
		return rc;
	}
	snprintf(e->msg, sizeof(e->msg), "malformed response: the agent %s",
		 rc == -EPROTO ? "is not an AIAgentV2 object" : "is too large to show as files");
	return -EPROTO;
}

static int load_config(struct api *api, const struct api_cancel *c, uint64_t id, struct held *h,
		       struct api_error *e)
{
	char *body = NULL;
	size_t len = 0;
	int rc = api_get_agent_body(api, c, id, &body, &len, e);

	if(rc == 0) {
		rc = agent_config_decode(body, len, &h->u.config);
		if(rc != 0)
			rc = decode_failed(rc, e);
	}
	free(body);
	return rc;
}

static void release_config(struct held *h)
{
	agent_config_free(&h->u.config);
}

static size_t config_bytes(const struct agent_config *cfg)
{
	size_t n = sizeof(*cfg) + cfg->json.len + cfg->variables.len;

	for(int i = 0; i < AGENT_CONFIG_NFIELDS; i++)
		n += cfg->field[i].len;
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++)
		for(size_t i = 0; i < cfg->list[l].n; i++)
			n += cfg->list[l].texts[i].len + 64; /* and its name */
	return n;
}

static size_t bytes_config(const struct held *h)
{
	return config_bytes(&h->u.config);
}

static uint64_t hash_config(const struct held *h)
{
	return hash_bytes(HASH_START, h->u.config.json.text, h->u.config.json.len);
}

/* ---- the history ---- */

static int load_history(struct api *api, const struct api_cancel *c, uint64_t id, struct held *h,
			struct api_error *e)
{
	struct history_builder *b = history_builder_new();
	int rc = b ? api_history(api, c, id, history_page, b, e) : -ENOMEM;

	if(rc == 0) {
		rc = history_build(b, &h->u.history);
		if(rc == -EFBIG || rc == -EPROTO) {
			snprintf(e->msg, sizeof(e->msg),
				 "malformed response: a version is too large to show as files");
			rc = -EPROTO;
		} else if(rc != 0) {
			snprintf(e->msg, sizeof(e->msg), "%s", strerror(-rc));
		}
	}
	if(rc == 0 && h->u.history.skipped)
		log_warn("agent %llu: history: %zu records without an integer history_id skipped",
			 (unsigned long long)id, h->u.history.skipped);
	history_builder_free(b);
	return rc;
}

static void release_history(struct held *h)
{
	history_free(&h->u.history);
}

static size_t bytes_history(const struct held *h)
{
	return history_bytes(&h->u.history);
}

static uint64_t hash_history(const struct held *h)
{
	uint64_t x = HASH_START;

	for(size_t i = 0; i < h->u.history.n; i++) {
		const struct history_version *v = &h->u.history.v[i];

		x = hash_bytes(x, &v->id, sizeof(v->id));
		x = hash_bytes(x, v->config.json.text, v->config.json.len);
	}
	return x;
}

/* ---- the evaluators ---- */

static int load_evaluators(struct api *api, const struct api_cancel *c, uint64_t id, struct held *h,
			   struct api_error *e)
{
	struct evaluators *ev = evaluators_new();
	int rc = ev ? api_scenarios(api, c, id, evaluators_page, ev, e) : -ENOMEM;

	if(rc == -ENOMEM)
		snprintf(e->msg, sizeof(e->msg), "%s", strerror(ENOMEM));
	if(rc != 0) {
		evaluators_free(ev);
		return rc;
	}
	if(evaluators_skipped(ev))
		log_warn("agent %llu: evaluators: %zu records without an integer id skipped",
			 (unsigned long long)id, evaluators_skipped(ev));
	h->u.evaluators = ev;
	return 0;
}

static void release_evaluators(struct held *h)
{
	evaluators_free(h->u.evaluators);
}

static size_t bytes_evaluators(const struct held *h)
{
	return evaluators_bytes(h->u.evaluators);
}

static uint64_t hash_evaluators(const struct held *h)
{
	size_t len = 0;
	char *text = evaluators_render(h->u.evaluators, &len);
	uint64_t x = hash_bytes(HASH_START, text ? text : "", len);

	free(text);
	return x;
}

/* ---- the results ---- */

static int load_results(struct api *api, const struct api_cancel *c, uint64_t id, struct held *h,
			struct api_error *e)
{
	struct result_list *l = result_list_new();
	int rc = l ? api_results(api, c, id, result_list_page, l, e) : -ENOMEM;

	if(rc == -ENOMEM)
		snprintf(e->msg, sizeof(e->msg), "%s", strerror(ENOMEM));
	if(rc != 0) {
		result_list_free(l);
		return rc;
	}
	if(result_list_skipped(l))
		log_warn("agent %llu: results: %zu records without an integer id skipped",
			 (unsigned long long)id, result_list_skipped(l));
	h->u.results = l;
	return 0;
}

static void release_results(struct held *h)
{
	result_list_free(h->u.results);
}

static size_t bytes_results(const struct held *h)
{
	return result_list_bytes(h->u.results);
}

static uint64_t hash_results(const struct held *h)
{
	uint64_t x = HASH_START;

	for(size_t i = 0; i < result_list_count(h->u.results); i++) {
		const struct result_entry *r = result_list_at(h->u.results, i);

		x = hash_bytes(x, &r->id, sizeof(r->id));
		x = hash_bytes(x, r->status ? r->status : "", r->status ? strlen(r->status) + 1 : 1);
	}
	return x;
}

static const struct cached_type types[AGENT_CACHED_N] = {
	[AGENT_CACHED_CONFIG] = {"config", STATS_CACHE_CONFIG, load_config, release_config, bytes_config,
				 hash_config},
	[AGENT_CACHED_HISTORY] = {"history", STATS_CACHE_HISTORY, load_history, release_history,
				  bytes_history, hash_history},
	[AGENT_CACHED_EVALUATORS] = {"evaluators", STATS_CACHE_EVALUATORS, load_evaluators,
				     release_evaluators, bytes_evaluators, hash_evaluators},
	[AGENT_CACHED_RESULTS] = {"results", STATS_CACHE_RESULTS, load_results, release_results,
				  bytes_results, hash_results},
};

/* ---- the cache ---- */

int agent_cache_init(struct registry *r)
{
	r->cache = calloc(1, sizeof(*r->cache));
	return r->cache ? 0 : -ENOMEM;
}

void agent_cache_fini(struct registry *r)
{
	free(r->cache);
	r->cache = NULL;
}

static void held_unref(struct held *h)
{
	if(h && atomic_fetch_sub(&h->refs, 1) == 1) {
		types[h->what].release(h);
		free(h);
	}
}

void agent_cache_put(void *obj)
{
	if(obj)
		held_unref((struct held *)((char *)obj - offsetof(struct held, u)));
}

/* A new reference to what h holds. */
static void *take_ref(struct held *h)
{
	atomic_fetch_add(&h->refs, 1);
	return &h->u;
}

/* Drops the entry's configuration from the cache. */
static void cache_drop(struct agent_cache *ac, struct cache_entry *ce)
{
	if(!ce->held)
		return;
	if(ce->prev)
		ce->prev->next = ce->next;
	else
		ac->head = ce->next;
	if(ce->next)
		ce->next->prev = ce->prev;
	else
		ac->tail = ce->prev;
	ce->prev = ce->next = NULL;
	ac->n--;
	ac->bytes -= ce->bytes;
	memory_released(ce->bytes); /* freed now, or by the last reader holding it */
	held_unref(ce->held);
	ce->held = NULL;
}

void agent_cache_forget(struct registry *r, struct agent *a)
{
	for(int w = 0; a->cache && w < AGENT_CACHED_N; w++) {
		cache_drop(r->cache, &a->cache[w]);
		a->cache[w].forgotten++;
	}
}

void agent_cache_expire(struct registry *r)
{
	double now = clock_mono();

	while(r->cache->head && now - r->cache->head->at >= r->opt.list_ttl)
		cache_drop(r->cache, r->cache->head);
}

bool agent_cache_idle(const struct agent *a)
{
	for(int w = 0; a->cache && w < AGENT_CACHED_N; w++)
		if(a->cache[w].held || a->cache[w].fetch.busy)
			return false;
	return true;
}

void agent_cache_agent_free(struct registry *r, struct agent *a)
{
	for(int w = 0; a->cache && w < AGENT_CACHED_N; w++)
		cache_drop(r->cache, &a->cache[w]);
	free(a->cache);
	a->cache = NULL;
}

double agent_cache_changed_at(const struct agent *a, enum agent_cached what)
{
	return a && a->cache ? a->cache[what].changed_at : 0;
}

/* The agent's entries, made at the first use. NULL when out of memory. */
static struct cache_entry *entry_of(struct agent *a, enum agent_cached what)
{
	if(!a->cache)
		a->cache = calloc(AGENT_CACHED_N, sizeof(*a->cache));
	return a->cache ? &a->cache[what] : NULL;
}

/* Keeps h (a reference is taken) for the agent, fetched now at content
 * generation gen, evicting the oldest past the cache's bounds. */
static void keep(struct registry *r, struct agent *a, struct held *h, unsigned gen)
{
	const struct cached_type *type = &types[h->what];
	struct agent_cache *ac = r->cache;
	struct cache_entry *ce = &a->cache[h->what];
	uint64_t hash = type->hash(h);

	if(ce->changed_at == 0 || hash != ce->hash) {
		ce->hash = hash;
		ce->changed_at = clock_wall();
	}
	cache_drop(ac, ce);
	atomic_fetch_add(&h->refs, 1);
	ce->held = h;
	ce->gen = gen;
	ce->at = clock_mono();
	ce->bytes = type->bytes(h);
	ce->prev = ac->tail;
	if(ac->tail)
		ac->tail->next = ce;
	else
		ac->head = ce;
	ac->tail = ce;
	ac->n++;
	ac->bytes += ce->bytes;
	while((ac->n > AGENT_CACHE_MAX || ac->bytes > AGENT_CACHE_BYTES) && ac->head != ce)
		cache_drop(ac, ac->head); /* the oldest go first; the newest always stays */
}

/* Whether what is kept is held and fresh. What a completed job made stale
 * is dropped on sight. */
static bool fresh(struct registry *r, struct agent *a, enum agent_cached what)
{
	struct cache_entry *ce = a->cache ? &a->cache[what] : NULL;

	if(ce && ce->held && ce->gen != a->content_gen)
		cache_drop(r->cache, ce);
	return ce && ce->held && clock_mono() - ce->at < r->opt.list_ttl;
}

/* A new held thing with no reference yet, NULL when out of memory. */
static struct held *held_new(enum agent_cached what)
{
	struct held *h = calloc(1, sizeof(*h));

	if(h)
		h->what = what;
	return h;
}

struct held *agent_cache_decode(const char *body, size_t len)
{
	struct held *h = held_new(AGENT_CACHED_CONFIG);

	if(h && agent_config_decode(body, len, &h->u.config) != 0) {
		free(h); /* agent_config_decode() freed what it made */
		h = NULL;
	}
	if(h)
		atomic_init(&h->refs, 1); /* the offer's */
	return h;
}

void agent_cache_offer(struct registry *r, struct agent *a, struct held *h)
{
	struct cache_entry *ce;

	if(!h)
		return;
	ce = a ? entry_of(a, h->what) : NULL;
	if(ce && !ce->fetch.busy && !ce->held)
		keep(r, a, h, a->content_gen);
	held_unref(h); /* the offer's reference: the cache took its own */
}

/* Fetches what into *out (a new reference on success). The lock is released meanwhile. */
static int fetch(struct registry *r, struct agent *a, const struct api_cancel *c, enum agent_cached what,
		 void **out)
{
	const struct cached_type *type = &types[what];
	struct cache_entry *ce = &a->cache[what];
	struct api_error e = {0};
	struct held *h = held_new(what);
	unsigned forgotten = ce->forgotten, gen = a->content_gen;
	int rc;

	if(!h)
		return -ENOMEM;
	ce->fetch.busy = true; /* also keeps the sweep away from the agent */
	pthread_mutex_unlock(&r->lock);
	rc = type->load(r->api, c, a->id, h, &e);
	pthread_mutex_lock(&r->lock);
	if(rc == 0) {
		atomic_init(&h->refs, 1); /* the caller's */
		if(ce->forgotten == forgotten && a->content_gen == gen)
			keep(r, a, h, gen); /* not forgotten meanwhile (a job completing) */
		*out = &h->u;
	} else {
		free(h); /* load() freed what it made */
		if(rc != -EINTR)
			reg_agent_error(a, type->op, "%s", e.msg);
	}
	reg_flight_end(r, &ce->fetch, rc);
	return rc;
}

int agent_cache_get(struct registry *r, struct agent *a, const struct api_cancel *c, enum agent_cached what,
		    void **out)
{
	struct cache_entry *ce = entry_of(a, what);
	int rc = ce ? 0 : -ENOMEM;

	*out = NULL;
	while(rc == 0 && !fresh(r, a, what)) {
		if(!ce->fetch.busy)
			return fetch(r, a, c, what, out);
		a->users++;
		rc = reg_flight_join(r, &ce->fetch, c) != 0 ? -EINTR : 0;
		a->users--;
		if(rc == 0 && ce->fetch.err != 0 && ce->fetch.err != -EINTR)
			rc = ce->fetch.err; /* its failure is ours: no second request */
	}
	if(rc == 0) {
		stats_cache_hit(types[what].stat);
		*out = take_ref(ce->held);
	}
	return rc;
}

void *agent_cache_peek(struct registry *r, struct agent *a, enum agent_cached what)
{
	return a && fresh(r, a, what) ? take_ref(a->cache[what].held) : NULL;
}

void agent_cache_drop(struct registry *r, struct agent *a, enum agent_cached what)
{
	struct cache_entry *ce = a->cache ? &a->cache[what] : NULL;

	if(ce) {
		cache_drop(r->cache, ce);
		ce->forgotten++;
	}
}

int agent_cache_amend(struct registry *r, struct agent *a, enum agent_cached what,
		      int (*fn)(void *obj, void *arg), void *arg)
{
	struct cache_entry *ce = a->cache ? &a->cache[what] : NULL;

	(void)r; /* the lock is its: held */
	if(!ce)
		return 0;
	if(ce->fetch.busy)
		ce->forgotten++; /* a fetch sent before the change: its answer is not kept */
	return ce->held ? fn(&ce->held->u, arg) : 0;
}
