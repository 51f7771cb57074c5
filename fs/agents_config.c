/* agents_config.c - the registry's part for what the API says an agent is: its
 * configuration (GET /aiagents/{id}/, decoded by config.c, one fetch shared by
 * concurrent readers, kept for list_ttl) and the by-name index of the listing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_internal.h"
#include "cekurafs/stats.h"

/* ---- configuration ---- */

/* Gives back a reference to a configuration. Lock held. */
void config_unref(struct agent_config *cfg)
{
	if(cfg && --cfg->refs == 0) {
		agent_config_free(cfg);
		free(cfg);
	}
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

/* Drops the agent's configuration from the cache. Lock held. */
static void cache_drop(struct registry *r, struct agent_cfg *ac)
{
	if(!ac->config)
		return;
	if(ac->prev)
		ac->prev->next = ac->next;
	else
		r->cfg_head = ac->next;
	if(ac->next)
		ac->next->prev = ac->prev;
	else
		r->cfg_tail = ac->prev;
	ac->prev = ac->next = NULL;
	r->cfg_n--;
	r->cfg_bytes -= ac->bytes;
	config_unref(ac->config);
	ac->config = NULL;
}

/* Forgets the agent's configuration: the next read fetches it. Lock held. */
void agent_forget_config(struct registry *r, struct agent *a)
{
	if(a->cfg) {
		cache_drop(r, a->cfg);
		a->cfg->forgotten++;
	}
}

void config_expire(struct registry *r)
{
	double now = now_seconds();

	while(r->cfg_head && now - r->cfg_head->at >= r->cfg.list_ttl)
		cache_drop(r, r->cfg_head);
}

/* FNV-1a: tells a configuration that changed from one fetched again. */
static uint64_t text_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for(size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
	return h;
}

void config_keep(struct registry *r, struct agent *a, struct agent_config *cfg)
{
	struct agent_cfg *ac = a->cfg;
	uint64_t hash = text_hash(cfg->json.text, cfg->json.len);

	if(ac->changed_at == 0 || hash != ac->json_hash) {
		ac->json_hash = hash;
		ac->changed_at = wall_seconds();
	}
	cache_drop(r, ac);
	ac->config = cfg;
	cfg->refs++;
	ac->at = now_seconds();
	ac->bytes = config_bytes(cfg);
	ac->prev = r->cfg_tail;
	if(r->cfg_tail)
		r->cfg_tail->next = ac;
	else
		r->cfg_head = ac;
	r->cfg_tail = ac;
	r->cfg_n++;
	r->cfg_bytes += ac->bytes;
	while((r->cfg_n > AGENT_CONFIG_CACHE_MAX || r->cfg_bytes > AGENT_CONFIG_CACHE_BYTES) &&
	      r->cfg_head != ac)
		cache_drop(r, r->cfg_head); /* the oldest go first; the newest always stays */
}

static bool config_fresh(const struct registry *r, const struct agent_cfg *ac)
{
	return ac->config && now_seconds() - ac->at < r->cfg.list_ttl;
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

/* Fetches and decodes the agent's configuration into *out (a new reference
 * on success). The lock is released meanwhile. Lock held. */
static int fetch_config(struct registry *r, struct agent *a, const struct api_cancel *c,
			struct agent_config **out)
{
	struct agent_cfg *ac = a->cfg;
	struct api_error e = {0};
	struct agent_config *cfg = calloc(1, sizeof(*cfg));
	unsigned forgotten = ac->forgotten;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if(!cfg)
		return -ENOMEM;
	ac->fetch.busy = true;
	pthread_mutex_unlock(&r->lock);
	rc = api_get_agent_body(r->api, c, a->id, &body, &len, &e);
	if(rc == 0) {
		rc = agent_config_decode(body, len, cfg);
		if(rc != 0)
			rc = decode_failed(rc, &e);
	}
	free(body);
	pthread_mutex_lock(&r->lock);
	if(rc == 0) {
		cfg->refs = 1; /* the caller's */
		if(ac->forgotten == forgotten)
			config_keep(r, a, cfg); /* not forgotten meanwhile (an import completing) */
		*out = cfg;
	} else {
		agent_config_free(cfg);
		free(cfg);
		if(rc != -EINTR)
			agent_error(a, "config", "%s", e.msg);
	}
	flight_end(r, &ac->fetch, rc);
	return rc;
}

int registry_agent_config(struct registry *r, const struct api_cancel *c, uint64_t id,
			  struct agent_config **out)
{
	struct agent *a = lock_agent(r, id);
	int rc;

	*out = NULL;
	if(!a)
		return -ENOMEM;
	if(!a->cfg)
		a->cfg = calloc(1, sizeof(*a->cfg));
	rc = a->cfg ? 0 : -ENOMEM;
	while(rc == 0 && !config_fresh(r, a->cfg)) {
		if(!a->cfg->fetch.busy) {
			rc = fetch_config(r, a, c, out);
			pthread_mutex_unlock(&r->lock);
			return rc;
		}
		a->users++;
		rc = flight_join(r, &a->cfg->fetch, c) != 0 ? -EINTR : 0;
		a->users--;
		if(rc == 0 && a->cfg->fetch.err != 0 && a->cfg->fetch.err != -EINTR)
			rc = a->cfg->fetch.err; /* its failure is ours: no second request */
	}
	if(rc == 0) {
		stats_cache_hit(STATS_CACHE_CONFIG);
		*out = a->cfg->config;
		(*out)->refs++;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

struct agent_config *registry_agent_config_cached(struct registry *r, uint64_t id)
{
	struct agent_config *cfg = NULL;
	struct agent *a;

	registry_lock(r);
	a = agent_find(r, id);
	if(a && a->cfg && config_fresh(r, a->cfg)) {
		cfg = a->cfg->config;
		cfg->refs++;
	}
	pthread_mutex_unlock(&r->lock);
	return cfg;
}

double registry_agent_config_changed_at(struct registry *r, uint64_t id)
{
	struct agent *a;
	double at = 0;

	registry_lock(r);
	a = agent_find(r, id);
	if(a && a->cfg)
		at = a->cfg->changed_at;
	pthread_mutex_unlock(&r->lock);
	return at;
}

void registry_agent_config_put(struct registry *r, struct agent_config *cfg)
{
	if(!cfg)
		return;
	pthread_mutex_lock(&r->lock);
	config_unref(cfg);
	pthread_mutex_unlock(&r->lock);
}

/* ---- by-name ---- */

/* Makes the by-name index from a fresh listing. Lock held. */
static int refresh_byname(struct registry *r, const struct api_cancel *c)
{
	const char **raw;
	uint64_t *ids;
	int rc = refresh_listing(r, c);

	if(rc != 0 || r->have_byname)
		return rc;
	raw = malloc((r->listing.n ? r->listing.n : 1) * sizeof(*raw));
	ids = malloc((r->listing.n ? r->listing.n : 1) * sizeof(*ids));
	rc = raw && ids ? 0 : -ENOMEM;
	for(size_t i = 0; rc == 0 && i < r->listing.n; i++) {
		raw[i] = agent_list_name(&r->listing, i);
		ids[i] = r->listing.items[i].id;
	}
	if(rc == 0)
		rc = names_index(raw, ids, r->listing.n, "", &r->byname);
	r->have_byname = rc == 0;
	free(raw);
	free(ids);
	return rc;
}

int registry_each_name(struct registry *r, const struct api_cancel *c,
		       void (*fn)(void *arg, const char *name), void *arg)
{
	int rc;

	registry_lock(r);
	rc = refresh_byname(r, c);
	for(size_t i = 0; rc == 0 && i < r->byname.n; i++)
		fn(arg, r->byname.v[i].name);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int registry_link(struct registry *r, const struct api_cancel *c, const char *name, uint64_t *id)
{
	const struct name_entry *e;
	int rc;

	registry_lock(r);
	rc = refresh_byname(r, c);
	if(rc == 0) {
		e = names_find(&r->byname, name);
		if(e)
			*id = e->id;
		else
			rc = -ENOENT;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}
