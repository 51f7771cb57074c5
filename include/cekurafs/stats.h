/* stats.h - counters of what the daemon does, for .cekurafs/stats.
 *
 *   $ grep -E '^(requests_progress|coalesced)' /mnt/cekura/.cekurafs/stats
 *   requests_progress_200 42
 *   coalesced_polls 17
 *
 * Process-wide and lock-free (atomics): any layer counts without passing a
 * handle around, like it logs. The text is `name value` lines, for grep and
 * monitoring scrapers; names are a public interface (README, "Status files").
 */
#ifndef CEKURAFS_STATS_H
#define CEKURAFS_STATS_H

#include <stddef.h>

/* The API's endpoints, as counted (each request names its own: http.h). */
enum stats_endpoint {
	STATS_LIST,
	STATS_AGENT,
	STATS_AUTO_FETCH,
	STATS_PROGRESS,
	STATS_TOOLS_FETCH,    /* the tools-only import's POST */
	STATS_TOOLS_PROGRESS, /* its poll */
	STATS_HISTORY,	      /* a page of an agent's versions */
	STATS_SCENARIOS,      /* a page of an agent's evaluators */
	STATS_RESULTS,	      /* a page of an agent's results */
	STATS_RESULT,	      /* one result's detail */
	STATS_END_CALLS,      /* a result's end_calls POST */
	STATS_RUN,	      /* the POST that starts a run */
	STATS_NENDPOINTS
};

enum stats_cache {
	STATS_CACHE_LISTING,	/* a listing reused within list_ttl */
	STATS_CACHE_PROGRESS,	/* a progress read that needed no poll */
	STATS_CACHE_CONFIG,	/* an agent's configuration reused */
	STATS_CACHE_NEGATIVE,	/* a missing agent answered without asking */
	STATS_CACHE_HISTORY,	/* an agent's versions reused */
	STATS_CACHE_EVALUATORS, /* an agent's evaluators reused */
	STATS_CACHE_RESULTS,	/* an agent's results listing reused */
	STATS_NCACHES
};

/* One HTTP exchange with the endpoint that ended with status (0: no answer). */
void stats_request(enum stats_endpoint ep, long status);
void stats_in_flight(int delta);
/* A reader starts (+1) or stops (-1) blocking in wait or events. */
void stats_blocked(int delta);
void stats_retry(void);
/* An error returned to a caller, as a positive errno. */
void stats_error(int err);
/* A reader that shared a poll already in flight instead of sending its own. */
void stats_coalesced(void);
void stats_cache_hit(enum stats_cache c);

/* Every counter as `name value` lines, zero counters of requests and errors
 * left out. A new string the caller frees, or NULL when out of memory. */
char *stats_render(void);

/* Forgets every counter and restarts the uptime clock (start-up, tests). */
void stats_reset(void);

#endif
