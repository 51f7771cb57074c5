/* agent_cache.h - the registry's part for each agent's configuration
 * (GET /aiagents/{id}/, decoded by agent_config.c): one fetch shared by the
 * readers that arrive meanwhile, kept for list_ttl in a cache bounded by
 * count and bytes (oldest out first), and read anew once a job that changes
 * the agent completed (agent->content_gen). Private to the registry; every
 * function takes the lock held (registry_base.h) unless it says otherwise.
 */
#ifndef CEKURAFS_AGENT_CACHE_H
#define CEKURAFS_AGENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "cekurafs/agent_config.h"

#include "registry_base.h"

/* Bounds of the cache (README, "Sizes and caching"). */
#define AGENT_CACHE_MAX	  256
#define AGENT_CACHE_BYTES ((size_t)64 << 20)

struct held_config;

/* Makes r->cache. 0 or -ENOMEM. */
int agent_cache_init(struct registry *r);
void agent_cache_fini(struct registry *r);

/* The agent's configuration in *out (a reference: give it back with
 * agent_cache_put()), fetched when it is not fresh; the lock is released
 * while fetching. 0 or -errno; a failed fetch writes the agent's error line. */
int agent_cache_get(struct registry *r, struct agent *a, const struct api_cancel *c,
		    struct agent_config **out);

/* The configuration when one is held and fresh (a reference), else NULL. Never calls the API. */
struct agent_config *agent_cache_peek(struct registry *r, struct agent *a);

/* Gives back a reference from agent_cache_get() or agent_cache_peek(). */
void agent_cache_put(struct agent_config *cfg);

/* A body of GET /aiagents/{id}/ that some other request brought (a lookup),
 * decoded with no lock held: NULL when it is not an agent or out of memory. */
struct held_config *agent_cache_decode(const char *body, size_t len);

/* Keeps a decoded configuration (taken) for the agent unless one is held or
 * being fetched; frees it otherwise (also when a is NULL). */
void agent_cache_offer(struct registry *r, struct agent *a, struct held_config *h);

/* When the agent's configuration last changed as this mount saw it (wall-clock seconds; 0: never fetched). */
double agent_cache_changed_at(const struct agent *a);

/* Forgets the agent's configuration: the next read fetches it. */
void agent_cache_forget(struct registry *r, struct agent *a);

/* Drops the configurations older than list_ttl. O(1) amortised. */
void agent_cache_expire(struct registry *r);

/* Whether the agent holds no configuration and no fetch is in flight. */
bool agent_cache_idle(const struct agent *a);

/* Frees what the agent holds here (it is being freed). */
void agent_cache_agent_free(struct registry *r, struct agent *a);

#endif
