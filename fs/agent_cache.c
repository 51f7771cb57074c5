/* agent_cache.c - each agent's configuration, fetched and kept (agent_cache.h). */
#include "agent_cache.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/memory.h"
#include "cekurafs/stats.h"

/* A decoded configuration and the references to it: the cache's, and each
 * reader's until it gives it back. Immutable once made; freed by its last holder. */
struct held_config {
	atomic_uint refs;
	struct agent_config config;
};

/* An agent's place in the cache; made at its first use. Those holding a
 * configuration are in the cache list, oldest first. */
struct cache_entry {
	struct held_config *held;	 /* the cache's reference, or NULL */
	double at;			 /* monotonic time it was fetched */
	size_t bytes;			 /* about what it holds */
	struct cache_entry *prev, *next; /* in the cache list, while held */
	unsigned forgotten;		 /* bumped when it is forgotten: a fetch in flight is stale */
	unsigned gen;			 /* the agent's content_gen it was fetched at */
	uint64_t json_hash;		 /* of the last agent.json fetched, kept when it is forgotten */
	double changed_at;		 /* wall-clock time agent.json last changed (0: never fetched) */
	struct flight fetch;
};

struct agent_cache {
	struct cache_entry *head, *tail; /* oldest first */
	size_t n, bytes;
};

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

static void held_unref(struct held_config *h)
{
	if(h && atomic_fetch_sub(&h->refs, 1) == 1) {
		agent_config_free(&h->config);
		free(h);
	}
}

void agent_cache_put(struct agent_config *cfg)
{
	if(cfg)
		held_unref((struct held_config *)((char *)cfg - offsetof(struct held_config, config)));
}

/* A new reference to h's configuration. */
static struct agent_config *take_ref(struct held_config *h)
{
	atomic_fetch_add(&h->refs, 1);
	return &h->config;
}

/* About the memory a configuration holds. */
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
	if(a->cache) {
		cache_drop(r->cache, a->cache);
		a->cache->forgotten++;
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
	return !a->cache || (!a->cache->held && !a->cache->fetch.busy);
}

void agent_cache_agent_free(struct registry *r, struct agent *a)
{
	if(a->cache)
		cache_drop(r->cache, a->cache);
	free(a->cache);
	a->cache = NULL;
}

double agent_cache_changed_at(const struct agent *a)
{
	return a && a->cache ? a->cache->changed_at : 0;
}

/* FNV-1a: tells a configuration that changed from one fetched again. */
static uint64_t text_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for(size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
	return h;
}

/* Keeps h (a reference is taken) as the agent's configuration, fetched now
 * at content generation gen, evicting the oldest past the cache's bounds. */
static void keep(struct registry *r, struct agent *a, struct held_config *h, unsigned gen)
{
	struct agent_cache *ac = r->cache;
	struct cache_entry *ce = a->cache;
	uint64_t hash = text_hash(h->config.json.text, h->config.json.len);

	if(ce->changed_at == 0 || hash != ce->json_hash) {
		ce->json_hash = hash;
		ce->changed_at = clock_wall();
	}
	cache_drop(ac, ce);
	atomic_fetch_add(&h->refs, 1);
	ce->held = h;
	ce->gen = gen;
	ce->at = clock_mono();
	ce->bytes = config_bytes(&h->config);
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

/* Whether the agent's configuration is held and fresh. A configuration a
 * completed job made stale is dropped on sight. */
static bool fresh(struct registry *r, struct agent *a)
{
	struct cache_entry *ce = a->cache;

	if(ce && ce->held && ce->gen != a->content_gen)
		cache_drop(r->cache, ce);
	return ce && ce->held && clock_mono() - ce->at < r->opt.list_ttl;
}

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

/* Decodes body into a new held configuration with no reference yet. */
static int decode(const char *body, size_t len, struct held_config **out)
{
	struct held_config *h = calloc(1, sizeof(*h));
	int rc = h ? agent_config_decode(body, len, &h->config) : -ENOMEM;

	if(rc != 0) {
		if(h)
			agent_config_free(&h->config);
		free(h);
		h = NULL;
	}
	*out = h;
	return rc;
}

struct held_config *agent_cache_decode(const char *body, size_t len)
{
	struct held_config *h = NULL;

	decode(body, len, &h);
	if(h)
		atomic_init(&h->refs, 1); /* the offer's */
	return h;
}

void agent_cache_offer(struct registry *r, struct agent *a, struct held_config *h)
{
	if(!h)
		return;
	if(a && !a->cache)
		a->cache = calloc(1, sizeof(*a->cache));
	if(a && a->cache && !a->cache->fetch.busy && !a->cache->held)
		keep(r, a, h, a->content_gen);
	held_unref(h); /* the offer's reference: the cache took its own */
}

/* Fetches and decodes the agent's configuration into *out (a new reference
 * on success). The lock is released meanwhile. */
static int fetch(struct registry *r, struct agent *a, const struct api_cancel *c, struct agent_config **out)
{
	struct cache_entry *ce = a->cache;
	struct api_error e = {0};
	struct held_config *h = NULL;
	unsigned forgotten = ce->forgotten, gen = a->content_gen;
	char *body = NULL;
	size_t len = 0;
	int rc;

	ce->fetch.busy = true; /* also keeps the sweep away from the agent */
	pthread_mutex_unlock(&r->lock);
	rc = api_get_agent_body(r->api, c, a->id, &body, &len, &e);
	if(rc == 0) {
		rc = decode(body, len, &h);
		if(rc != 0)
			rc = decode_failed(rc, &e);
	}
	free(body);
	pthread_mutex_lock(&r->lock);
	if(rc == 0) {
		atomic_init(&h->refs, 1); /* the caller's */
		if(ce->forgotten == forgotten && a->content_gen == gen)
			keep(r, a, h, gen); /* not forgotten meanwhile (a job completing) */
		*out = &h->config;
	} else if(rc != -EINTR) {
		reg_agent_error(a, "config", "%s", e.msg);
	}
	reg_flight_end(r, &ce->fetch, rc);
	return rc;
}

int agent_cache_get(struct registry *r, struct agent *a, const struct api_cancel *c,
		    struct agent_config **out)
{
	int rc;

	*out = NULL;
	if(!a->cache)
		a->cache = calloc(1, sizeof(*a->cache));
	rc = a->cache ? 0 : -ENOMEM;
	while(rc == 0 && !fresh(r, a)) {
		if(!a->cache->fetch.busy)
			return fetch(r, a, c, out);
		a->users++;
		rc = reg_flight_join(r, &a->cache->fetch, c) != 0 ? -EINTR : 0;
		a->users--;
		if(rc == 0 && a->cache->fetch.err != 0 && a->cache->fetch.err != -EINTR)
			rc = a->cache->fetch.err; /* its failure is ours: no second request */
	}
	if(rc == 0) {
		stats_cache_hit(STATS_CACHE_CONFIG);
		*out = take_ref(a->cache->held);
	}
	return rc;
}

struct agent_config *agent_cache_peek(struct registry *r, struct agent *a)
{
	return a && a->cache && fresh(r, a) ? take_ref(a->cache->held) : NULL;
}
