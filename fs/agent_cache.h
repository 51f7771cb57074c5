/* agent_cache.h - the registry's part for what it keeps of each agent, one
 * row per thing kept (agent_cache.c):
 *
 *   configuration   GET /aiagents/{id}/          decoded by agent_config.c
 *   history         GET /aiagents/{id}/history/  every page, decoded by history.c
 *   evaluators      GET /scenarios/?agent_id=    every page, collected by evaluators.c
 *   results         GET /results/?agent_id=      every page, listed by result.c
 *
 * Each is fetched once for the readers that arrive meanwhile, kept for
 * list_ttl in one cache bounded by count and bytes (oldest out first), and
 * read anew once a job that changes the agent completed (agent->content_gen).
 * Private to the registry; every function takes the lock held
 * (registry_base.h) unless it says otherwise.
 */
#ifndef CEKURAFS_AGENT_CACHE_H
#define CEKURAFS_AGENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "cekurafs/agent_config.h"
#include "cekurafs/history.h"

#include "registry_base.h"

/* Bounds of the cache (README, "Sizes and caching"). */
#define AGENT_CACHE_MAX	  256
#define AGENT_CACHE_BYTES ((size_t)64 << 20)

/* What is kept of an agent: the configuration (a struct agent_config) and
 * the history (a struct history). */
enum agent_cached {
	AGENT_CACHED_CONFIG,	 /* struct agent_config */
	AGENT_CACHED_HISTORY,	 /* struct history */
	AGENT_CACHED_EVALUATORS, /* struct evaluators * */
	AGENT_CACHED_RESULTS, /* struct result_list *: changed by agent_cache_amend(), so read with the lock
				 held */
	AGENT_CACHED_N
};

struct held;

/* Makes r->cache. 0 or -ENOMEM. */
int agent_cache_init(struct registry *r);
void agent_cache_fini(struct registry *r);

/* What is kept of the agent in *out (a struct agent_config or a struct
 * history, by what; a reference: give it back with agent_cache_put()),
 * fetched when it is not fresh; the lock is released while fetching. 0 or
 * -errno; a failed fetch writes the agent's error line. */
int agent_cache_get(struct registry *r, struct agent *a, const struct api_cancel *c, enum agent_cached what,
		    void **out);

/* The same when it is held and fresh (a reference), else NULL. Never calls the API. */
void *agent_cache_peek(struct registry *r, struct agent *a, enum agent_cached what);

/* Forgets what is kept of one thing: the next get fetches it (a fetch in flight is not kept). */
void agent_cache_drop(struct registry *r, struct agent *a, enum agent_cached what);

/* Calls fn(the held object, arg) when one is held (fresh or not), and makes a
 * fetch in flight not kept: a change made here (a result started) is not
 * undone by an answer sent before it. fn's result, or 0 when none is held. */
int agent_cache_amend(struct registry *r, struct agent *a, enum agent_cached what,
		      int (*fn)(void *obj, void *arg), void *arg);

/* Gives back a reference from agent_cache_get() or agent_cache_peek() (NULL: nothing). Takes no lock. */
void agent_cache_put(void *obj);

/* A body of GET /aiagents/{id}/ that some other request brought (a lookup),
 * decoded as a configuration with no lock held: NULL when it is not an agent
 * or out of memory. */
struct held *agent_cache_decode(const char *body, size_t len);

/* Keeps a decoded configuration (taken) for the agent unless one is held or
 * being fetched; frees it otherwise (also when a is NULL). */
void agent_cache_offer(struct registry *r, struct agent *a, struct held *h);

/* When what is kept last changed as this mount saw it (wall-clock seconds; 0: never fetched). */
double agent_cache_changed_at(const struct agent *a, enum agent_cached what);

/* Forgets everything kept of the agent: the next reads fetch it. */
void agent_cache_forget(struct registry *r, struct agent *a);

/* Drops what is older than list_ttl. O(1) amortised. */
void agent_cache_expire(struct registry *r);

/* Whether the agent holds nothing here and no fetch is in flight. */
bool agent_cache_idle(const struct agent *a);

/* Frees what the agent holds here (it is being freed). */
void agent_cache_agent_free(struct registry *r, struct agent *a);

#endif
