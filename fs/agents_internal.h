/* agents_internal.h - the registry's insides, shared by the files that make it:
 *
 *   agents.c          the table of agents, the lock, listing, lookups, polling,
 *                     wait, refetch and the state file
 *   agents_config.c   each agent's configuration, and the by-name index
 *   agents_events.c   the events stream and what poll(2) asks
 *
 * Private to fs/: nothing outside the registry includes it. Every function
 * here that says "Lock held" must be called with registry.lock held.
 */
#ifndef CEKURAFS_AGENTS_INTERNAL_H
#define CEKURAFS_AGENTS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cekurafs/agents.h"
#include "cekurafs/agent_config.h"
#include "cekurafs/events.h"
#include "cekurafs/names.h"

#define WAIT_SLICE 0.1 /* seconds between two looks at a cancelled reader */

/* One API call in flight that other readers may join instead of sending their own. */
struct flight {
	bool busy;    /* a call is in flight */
	unsigned gen; /* bumped when a call ends */
	int err;      /* the last call's result, 0 or -errno */
};

/* An agent's configuration as last fetched; allocated at its first use.
 * Those holding a configuration are in the registry's cache list, oldest
 * first: the cache is bounded (AGENT_CONFIG_CACHE_MAX, AGENT_CONFIG_CACHE_BYTES) and
 * expires what it holds after list_ttl. */
struct agent_cfg {
	struct agent_config *config;   /* a reference, or NULL */
	double at;		       /* monotonic time it was fetched */
	size_t bytes;		       /* about what config holds */
	struct agent_cfg *prev, *next; /* in the cache list, while config is held */
	unsigned forgotten;	       /* bumped when it is forgotten: a fetch in flight is stale */
	uint64_t json_hash;	       /* of the last agent.json fetched, kept when it is forgotten */
	double changed_at;	       /* wall-clock time agent.json last changed (0: never fetched) */
	struct flight fetch;
};

/* A text shared by an agent and the reads that copy it out: immutable once
 * made, freed by its last holder. Copying happens outside the registry lock;
 * under it a read only takes a reference. */
struct shared_text {
	atomic_uint refs;
	size_t len;
	char *s; /* owned, NUL-terminated */
};

/* A shared text owning s (len bytes and a NUL), with one reference; NULL
 * (s freed) when out of memory or s is NULL. */
struct shared_text *shared_text_wrap(char *s, size_t len);
struct shared_text *shared_text_ref(struct shared_text *t);
void shared_text_unref(struct shared_text *t);

/* One agent. Owns every string and the progress. Fields are ordered to pack:
 * an agent that holds nothing costs under 200 bytes (test_agents.c). */
struct agent {
	uint64_t id;
	bool known;	    /* confirmed to exist */
	bool have_progress; /* progress, json and text hold the last poll of progress_id */
	/* The API no longer knows progress_id (400 on its poll): the import is
	 * over, outcome unknown; text is "expired\nprogress_id: <id>\n", json "".
	 * Cleared by the next refetch. */
	bool expired;
	bool refetching; /* a refetch is in flight */
	/* Threads waiting on this agent with the lock released (a poll or fetch
	 * they joined, a wait): while any, the sweep leaves the agent alone. */
	unsigned users;
	double known_at; /* monotonic time it was confirmed: a lookup's confirmation lasts list_ttl */
	char *progress_id;
	struct progress progress;
	struct shared_text *json;
	struct shared_text *text;
	unsigned version; /* bumped whenever the progress text changes: wakes watchers, and poll(2) compares
			     it */
	/* Bumped whenever the raw JSON changes: what poll(2) compares for progress.json. */
	unsigned json_version;
	unsigned import_gen; /* bumped when a refetch starts a new import */
	struct flight poll;  /* the progress poll; poll.err is the last attempt's result */
	/* Wall-clock time each text last changed (0: not since start): the files' mtime. */
	double text_at, json_at, error_at;
	double polled_at; /* monotonic time of the last poll attempt */
	char *error;	  /* last error line, or NULL */
	struct agent_cfg *cfg;
	struct event_log *events; /* the changes seen of the current import; NULL until the first */
};

/* A lookup the API answered 404: remembered for list_ttl, in a small table
 * indexed by the id's hash, so that probing many ids costs no memory. */
struct absent {
	uint64_t id;
	double at; /* monotonic time of the 404, 0 for an empty slot */
};

#define ABSENT_SLOTS 1024

struct registry {
	struct api *api; /* borrowed */
	struct registry_options cfg;
	char *state_dir; /* owned copy of cfg.state_dir */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	/* Every agent, each owned: an open-addressing hash table on the id
	 * (linear probing, never more than 3/4 full; agents are never removed). */
	struct agent **slots;
	size_t nslots, nagents;
	/* The agents that hold a progress id (borrowed from slots): what the state file keeps. */
	struct agent **with_id;
	size_t nwith_id, with_id_cap;
	struct {
		unsigned long wanted; /* bumped each time a progress id is stored */
		unsigned long done;   /* the highest `wanted` a finished save covered */
		bool busy;	      /* a save is being written (lock released) */
		int rc;		      /* that save's result */
	} save;
	struct absent absent[ABSENT_SLOTS];
	struct agent_list listing; /* owned */
	bool have_listing;
	struct name_index byname; /* made from the listing at the first use of by-name/ */
	bool have_byname;
	double listed_at;
	struct flight list;	 /* the listing */
	atomic_uint drops_asked; /* bumped by registry_drop_caches(), from a signal handler */
	unsigned drops_done;	 /* drops applied */
	unsigned blocked;	 /* readers blocked in watch_agent() now (cfg.max_blocked at most) */
	struct agent_cfg *cfg_head, *cfg_tail; /* the configuration cache, oldest first */
	size_t cfg_n, cfg_bytes;
	double swept_at; /* monotonic time of the last sweep of agents that hold nothing */
};

/* Bounds of the configuration cache (README, "Sizes and caching"). */
#define AGENT_CONFIG_CACHE_MAX	 256
#define AGENT_CONFIG_CACHE_BYTES ((size_t)64 << 20)

/* Monotonic and wall-clock time, in seconds. */
double now_seconds(void);
double wall_seconds(void);

/* Whether the reader behind c gave up. */
bool cancelled(const struct api_cancel *c);

/* Waits on the registry's condition for at most seconds (and WAIT_SLICE). Lock held. */
void wait_changed(struct registry *r, double seconds);

/* Joins the call in flight: 0 when it ended, -EINTR when our caller gave up. Lock held. */
int flight_join(struct registry *r, struct flight *f, const struct api_cancel *c);

/* Records the end of a call and wakes the readers that joined it. Lock held. */
void flight_end(struct registry *r, struct flight *f, int err);

/* Takes the lock, first applying a drop of the caches that SIGHUP asked for. */
void registry_lock(struct registry *r);

/* The agent with this id, or NULL. Lock held. */
struct agent *agent_find(const struct registry *r, uint64_t id);

/* The agent, created if needed, with the lock taken. NULL (unlocked) when out of memory. */
struct agent *lock_agent(struct registry *r, uint64_t id);

/* Records the agent's error line ("<op>: <message>") and logs it. Lock held. */
void agent_error(struct agent *a, const char *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Whether the agent's import is over: its last known progress is completed
 * or failed, or its id expired. Lock held. */
bool terminal(const struct agent *a);

/* Makes sure a listing at most list_ttl old is held. Lock held (released meanwhile). */
int refresh_listing(struct registry *r, const struct api_cancel *c);

/* Brings the agent's progress up to date (a poll when due, or the one in flight). Lock held. */
int poll_agent(struct registry *r, struct agent *a, const struct api_cancel *c, bool force);

/* Polls the agent until done() returns anything but -EAGAIN, at most wait_timeout. Lock held. */
int watch_agent(struct registry *r, struct agent *a, const struct api_cancel *c, const char *op,
		int (*done)(struct agent *a, void *arg), void *arg);

/* agents_config.c: gives back a reference to a configuration, and forgets an
 * agent's (the next read fetches it). Lock held. */
void config_unref(struct agent_config *cfg);
void agent_forget_config(struct registry *r, struct agent *a);

/* Keeps cfg (a reference is taken) as the agent's configuration, fetched
 * now, evicting the oldest past the cache's bounds. Lock held. */
void config_keep(struct registry *r, struct agent *a, struct agent_config *cfg);

/* Drops the configurations older than list_ttl. O(1) amortised. Lock held. */
void config_expire(struct registry *r);

/* Whether the agent holds nothing worth keeping and nobody uses it: no
 * progress id, error line, events, configuration or call in flight, and no
 * confirmation younger than list_ttl. The sweep frees such agents. Lock held. */
bool agent_idle(const struct registry *r, const struct agent *a);

#endif
