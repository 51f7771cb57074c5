/* registry.h - what the daemon knows of each agent, and the only place that
 * decides when to call the API.
 *
 * Per agent: its jobs (job_kinds.h: the agent and tools imports; id, last
 * answer, events), its configuration and history, its last error line; beside them the listing
 * and the by-name index. Calls are coalesced: readers that arrive while a
 * request is in flight share its answer, and answers are reused for
 * poll_interval (jobs) or list_ttl (the rest). Every failure also becomes the
 * agent's error line ("<operation>: <message>") and a log line.
 *
 * Every function is safe from any thread. None holds a lock across an API
 * call; those that may call the API take a struct api_cancel.
 */
#ifndef CEKURAFS_REGISTRY_H
#define CEKURAFS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cekurafs/agent_config.h"
#include "cekurafs/api.h"
#include "cekurafs/history.h"
#include "cekurafs/job_kinds.h"
#include "cekurafs/registry_options.h"
#include "cekurafs/state.h"

struct registry;

/* Borrows api (which must outlive it) and copies opt; seeds the jobs loaded
 * by state_load(). Returns NULL when out of memory. */
struct registry *registry_new(struct api *api, const struct registry_options *opt,
			      const struct state_entry *entries, size_t n);
void registry_free(struct registry *r);

/* ---- agents ---- */

/* Every agent id, from a listing at most list_ttl old. *ids is a new array. */
int registry_list(struct registry *r, const struct api_cancel *c, uint64_t **ids, size_t *n);

/* 0 when agent id exists (a listing, a job, or asking the API), else -errno. */
int registry_lookup(struct registry *r, const struct api_cancel *c, uint64_t id);

/* Calls fn with every by-name link name, sorted, from a listing at most list_ttl old. */
int registry_each_name(struct registry *r, const struct api_cancel *c,
		       void (*fn)(void *arg, const char *name), void *arg);

/* The agent id a by-name link points to, or -ENOENT. */
int registry_link(struct registry *r, const struct api_cancel *c, const char *name, uint64_t *id);

/* The agent's configuration, fetched when it is older than list_ttl or a job
 * that changes the agent completed since (concurrent readers share one
 * fetch). *out is a reference: give it back with registry_agent_config_put(). */
int registry_agent_config(struct registry *r, const struct api_cancel *c, uint64_t id,
			  struct agent_config **out);

/* The configuration when one is held and fresh (a reference), else NULL. Never calls the API. */
struct agent_config *registry_agent_config_cached(struct registry *r, uint64_t id);

/* Gives back a reference (NULL: nothing). Takes no lock. */
void registry_agent_config_put(struct agent_config *cfg);

/* When the agent's configuration last changed as this mount saw it
 * (wall-clock seconds), 0 when never fetched. Never calls the API. */
double registry_agent_config_changed_at(struct registry *r, uint64_t id);

/* The agent's versions (GET .../history/, every page), fetched when older
 * than list_ttl or a job that changes the agent completed since. *out is a
 * reference: give it back with registry_history_put(). */
int registry_history(struct registry *r, const struct api_cancel *c, uint64_t id, struct history **out);

/* The history when one is held and fresh (a reference), else NULL. Never calls the API. */
struct history *registry_history_cached(struct registry *r, uint64_t id);

/* Gives back a reference (NULL: nothing). Takes no lock. */
void registry_history_put(struct history *h);

/* When the agent's history last changed as this mount saw it, 0 when never fetched. */
double registry_history_changed_at(struct registry *r, uint64_t id);

/* ---- jobs (job_kinds.h) ----
 *
 * A job is named by its agent, its kind and, for a keyed kind (test
 * results), its item (the result id; 0 for the kinds per agent). */

/* Starts a job of this kind: -EBUSY when the agent's last one, or one of a
 * kind it excludes, still runs (fresh poll), else the POST; the new id is in
 * memory and on disk before 0 is returned. body is the request body the user
 * wrote (sent unchanged), or NULL: the kind's request() makes it from the
 * agent's configuration (-EOPNOTSUPP when the agent lacks what it needs).
 * A body for a kind that takes none is -EINVAL. Nothing is sent on failure. */
int registry_job_start(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
		       const char *body);

/* The job's current texts, polling first when the last poll is older than
 * poll_interval. A poll that is needed but fails is an error, never stale
 * text. No job yet: the kind's idle text. */
int registry_job_view(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
		      uint64_t item, struct job_view *v);

/* The job's texts as held now, never calling the API (for sizes): -EAGAIN when none is held. */
int registry_job_peek(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item, struct job_view *v);

/* Polls the job when its poll is due (sharing one in flight), for the
 * poll(2) notifier: no view, and it counts as no read in .cekurafs/stats. */
int registry_job_refresh(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
			 uint64_t item);

/* Like registry_job_view(), but blocks until the job is terminal:
 * -EREMOTEIO when it failed (v holds its text), -ESTALE when the API forgot
 * its id, -ETIMEDOUT after wait_timeout, -EINTR when cancelled, -EAGAIN at
 * once when max_blocked readers already wait. */
int registry_job_wait(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
		      uint64_t item, struct job_view *v);

/* The next lines for a reader of the job's `events`: the whole picture at
 * its first read, then the changes since its last read, blocking (and
 * polling, shared with every reader) until there are some. *len 0 is end of
 * file. -ETIMEDOUT after wait_timeout, -EINTR when cancelled. */
int registry_job_events(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
			uint64_t item, struct job_cursor *cur, char **text, size_t *len);

/* Whether registry_job_events() would return at once for this reader. Never calls the API. */
bool registry_job_events_ready(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			       const struct job_cursor *cur);

/* Whether a re-read of the job's text (or JSON) would show another text than
 * the one of this version (a view's text_version or json_version), as far as
 * is known without calling the API (a job started and not polled yet counts
 * as different). O(1). For poll(2) readiness. */
bool registry_job_differs(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			  enum job_text which, unsigned version);

/* The size of the job's text (or JSON) as currently known, without calling the API. */
size_t registry_job_size(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			 enum job_text which);

/* When the job's text (or JSON) last changed, wall-clock seconds; 0 when not since the daemon started. */
double registry_job_changed_at(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			       enum job_text which);

/* ---- evaluators, runs and results ---- */

/* The text of `evaluators` (evaluators.h), from a listing at most list_ttl
 * old. *text is new. With c NULL, only a listing held and fresh (-EAGAIN
 * when none): never calls the API. */
int registry_evaluators(struct registry *r, const struct api_cancel *c, uint64_t id, char **text,
			size_t *len);

/* When the agent's evaluators last changed as this mount saw them, 0 when never fetched. */
double registry_evaluators_changed_at(struct registry *r, uint64_t id);

/* Starts a run from the line written to `run` (run_request.h): parsed
 * (-EINVAL, nothing sent), the evaluators listed afresh for `all`, the
 * agent's project fetched for `folder=`, the conversations counted (-E2BIG
 * past max_runs, nothing sent), then the POST, never sent twice, within
 * run_timeout. *result is the new result id, in the state file (results/last)
 * and in the cached listing before 0 is returned. Every failure is in the
 * agent's error line ("run: ..."). */
int registry_run(struct registry *r, const struct api_cancel *c, uint64_t id, const char *buf, size_t size,
		 off_t off, uint64_t *result);

/* The agent's result ids, ascending, from a listing at most list_ttl old
 * with the results started here since. *ids is a new array (NULL when none). */
int registry_results(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t **ids, size_t *n);

/* 0 when result is one of the agent's: in the fresh listing, else one GET of
 * its detail (shared with its readers); -ENOENT when not (remembered for
 * list_ttl), else -errno. */
int registry_result_exists(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t result);

/* The result's created_at (wall-clock seconds) as known without calling the API, 0 when unknown. */
double registry_result_created_at(struct registry *r, uint64_t id, uint64_t result);

/* results/newest: the largest result id of the listing (and those started here), -ENOENT when none. */
int registry_result_newest(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t *result);

/* results/last: the result last started from this state_dir, -ENOENT when none. Never calls the API. */
int registry_result_last(struct registry *r, uint64_t id, uint64_t *result);

/* Ends the result's calls (POST .../end_calls/): 0 or -errno ("end-calls: ..."
 * in the error line). Its next read polls anew. */
int registry_end_calls(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t result);

/* ---- error lines ---- */

/* The error line ("" or "<line>\n") as a new string in *text. */
int registry_error(struct registry *r, uint64_t id, char **text, size_t *len);

/* Its size and when it last changed (0: not since start), without calling the API. */
size_t registry_error_size(struct registry *r, uint64_t id);
double registry_error_changed_at(struct registry *r, uint64_t id);

/* Records an error line for the agent ("<op>: <message>") and logs it. */
void registry_note_error(struct registry *r, uint64_t id, const char *op, const char *message);

/* ---- caches ---- */

/* Asks the registry to forget its caches (the listing, lookups, when running
 * jobs were polled, configurations) before its next use. Async-signal-safe: for SIGHUP. */
void registry_drop_caches(struct registry *r);

#endif
