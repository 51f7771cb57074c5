/* registry_base.h - what every part of the registry stands on: the registry
 * itself, its one lock, the table of agents, calls in flight that readers
 * join, shared texts and error lines. Private to the registry's files:
 *
 *   registry.c       the front (registry.h): takes the lock, finds the agent, asks a part
 *   jobs.c           each agent's jobs (job_kinds.h): ids, polls, wait, events, the state file
 *   listing.c        the listing, the by-name index and the 404s remembered
 *   agent_cache.c    each agent's configuration, fetched and kept
 *   registry_base.c  this header's functions
 *
 * Calls go down that list only: the parts never call one another, nor the front.
 *
 * One mutex (lock) guards every field below and everything the parts keep;
 * it is never held across an API call, a disk write or a copy of a large
 * text. Every function here and in the parts' headers that says "Lock held"
 * is called with it held; those that release it meanwhile say so.
 */
#ifndef CEKURAFS_REGISTRY_BASE_H
#define CEKURAFS_REGISTRY_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cekurafs/api.h"
#include "cekurafs/job_kinds.h"
#include "cekurafs/registry_options.h"

#define WAIT_SLICE 0.1 /* seconds between two looks at a cancelled reader */

/* One API call in flight that other readers may join instead of sending their own. */
struct flight {
	bool busy;    /* a call is in flight */
	unsigned gen; /* bumped when a call ends */
	int err;      /* the last call's result, 0 or -errno */
};

/* A text shared by the registry and the reads that copy it out: immutable
 * once made, freed by its last holder. Copying happens outside the lock;
 * under it a read only takes a reference. */
struct shared_text {
	atomic_uint refs;
	size_t len;
	char *s; /* owned, NUL-terminated */
};

struct job;	    /* jobs.c */
struct cache_entry; /* agent_cache.c */
struct listing;	    /* listing.c */
struct job_store;   /* jobs.c */
struct agent_cache; /* agent_cache.c */

/* One agent. Fields are ordered to pack: an agent that holds nothing costs
 * well under 200 bytes (test_registry.c). */
struct agent {
	uint64_t id;
	bool known; /* confirmed to exist */
	/* Threads waiting on this agent with the lock released (a poll or fetch
	 * they joined, a wait): while any, the sweep leaves the agent alone. */
	unsigned users;
	/* Bumped when a job that changes the agent completes: a configuration
	 * fetched before is stale (agent_cache.c compares it). */
	unsigned content_gen;
	double known_at; /* monotonic time it was confirmed: a lookup's confirmation lasts list_ttl */
	char *error;	 /* the last error line ("<op>: <message>"), or NULL */
	double error_at; /* wall-clock time it last changed (0: not since start) */
	struct cache_entry *cache;    /* agent_cache.c's, or NULL */
	struct job *jobs[JOB_NKINDS]; /* jobs.c's: one per kind, NULL until it has an id */
	struct job *keyed;	      /* jobs.c's: the jobs of keyed kinds (results), one per item */
};

struct registry {
	struct api *api; /* borrowed */
	struct registry_options opt;
	char *state_dir; /* owned copy of opt.state_dir */
	pthread_mutex_t lock;
	pthread_cond_t changed; /* any call ended, any job changed, any save ended */
	/* Every agent, each owned: an open-addressing hash table on the id
	 * (linear probing, never more than 3/4 full; removal by backward shift). */
	struct agent **slots;
	size_t nslots, nagents;
	unsigned blocked;	 /* readers blocked in a wait or events now (opt.max_blocked at most) */
	atomic_uint drops_asked; /* bumped by registry_drop_caches(), from a signal handler */
	unsigned drops_done;	 /* drops applied */
	double swept_at;	 /* monotonic time of the last sweep of agents that hold nothing */
	struct job_store *jobs;	 /* the parts' own state */
	struct listing *listing;
	struct agent_cache *cache;
};

/* Whether the reader behind c gave up. */
bool reg_cancelled(const struct api_cancel *c);

/* Waits on the registry's condition for at most seconds (and WAIT_SLICE). Lock held. */
void reg_wait(struct registry *r, double seconds);

/* Joins the call in flight: 0 when it ended, -EINTR when our caller gave up. Lock held. */
int reg_flight_join(struct registry *r, struct flight *f, const struct api_cancel *c);

/* Records the end of a call and wakes the readers that joined it. Lock held. */
void reg_flight_end(struct registry *r, struct flight *f, int err);

/* A shared text owning s (len bytes and a NUL), with one reference; NULL
 * (s freed) when out of memory or s is NULL. */
struct shared_text *reg_text_wrap(char *s, size_t len);
struct shared_text *reg_text_ref(struct shared_text *t);
void reg_text_unref(struct shared_text *t);
/* Whether both hold the same bytes (false when either is NULL). */
bool reg_text_same(const struct shared_text *a, const struct shared_text *b);

/* The agent with this id, or NULL. O(1). Lock held. */
struct agent *reg_agent_find(const struct registry *r, uint64_t id);

/* The agent with this id, created when missing; NULL when out of memory. Lock held. */
struct agent *reg_agent_get(struct registry *r, uint64_t id);

/* Takes the agent in slot i out of the table (the caller frees it); a later
 * agent may move into slot i. Lock held. */
struct agent *reg_agent_take(struct registry *r, size_t i);

/* Records the agent's error line ("<op>: <message>", made one line) and logs it. Lock held. */
void reg_agent_error(struct agent *a, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clears the error line when it starts with "<op>: " (op NULL: any). Lock held. */
void reg_agent_clear_error(struct agent *a, const char *op);

#endif
