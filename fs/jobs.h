/* jobs.h - the job layer: one machinery for every kind of background job
 * (job_kinds.h), on the registry's agents. Private to the registry.
 *
 *   $ echo 1 > agents/42/refetch     jobs_start: fresh poll, POST, id kept and saved
 *   $ cat agents/42/progress         jobs_view: poll if older than poll_interval
 *   $ cat agents/42/wait             jobs_wait: poll every poll_interval until terminal
 *   $ cat agents/42/events           jobs_events: what changed since this reader's last read
 *
 * Per agent and kind, one job: its id, its last answer (decoded, rendered,
 * raw), the events of it seen so far. A keyed kind (test results) has one
 * job per item (the result id) instead, made when the item is first read
 * and let go once unused (jobs_trim()); the agent's own job of that kind
 * holds the id last started, which is what the state file keeps. Functions
 * take the item (0 for a kind per agent). Polls are coalesced: at most one GET per
 * job per poll_interval, readers that arrive meanwhile share the one in
 * flight, and a terminal job is not polled again until the next start. The
 * ids of every kind are in one state file, saved in batches.
 *
 * Every function takes the registry's lock held (registry_base.h); those that
 * call the API or the disk, or copy a text out (views, wait), release it
 * meanwhile, so a is not to be used after they return unless the caller
 * pinned it (agent->users). a may be NULL where a function only looks (no
 * such agent: no job).
 */
#ifndef CEKURAFS_JOBS_H
#define CEKURAFS_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "cekurafs/job_kinds.h"
#include "cekurafs/state.h"

#include "registry_base.h"

/* Makes r->jobs. 0 or -ENOMEM. */
int jobs_init(struct registry *r);
void jobs_fini(struct registry *r);

/* Gives the agent the job of a state file entry. 0 or -ENOMEM. */
int jobs_seed(struct registry *r, struct agent *a, const struct state_entry *e);

/* Lets go of the agent's keyed jobs nobody used for list_ttl (the sweep). */
void jobs_trim(struct registry *r, struct agent *a);

/* Frees the agent's jobs (it is being freed). */
void jobs_agent_free(struct registry *r, struct agent *a);

/* Whether the agent's jobs hold nothing worth keeping: no id, events, or call in flight. */
bool jobs_agent_idle(const struct agent *a);

/* Whether one of the agent's jobs has an id (the agent is known to exist while it does). */
bool jobs_agent_has_id(const struct agent *a);

/* Forgets when the agent's running jobs were last polled (SIGHUP): the next read asks. */
void jobs_drop_caches(struct agent *a);

/* Starts a job: -EBUSY when one of the kinds it excludes still runs (fresh
 * poll), else the POST of req; the new id is kept and on disk before 0 is
 * returned (for a kind with save_best_effort, a failed save is only an error
 * line). For a keyed kind *item (may be NULL) is the new item. */
int jobs_start(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	       const struct job_request *req, uint64_t *item);

/* The item last started of a keyed kind (from this mount or the state file), or -ENOENT. */
int jobs_last(const struct agent *a, enum job_kind kind, uint64_t *item);

/* Whether the job of kind and item is known to the API: polls it when due
 * (made first, for a keyed kind). 0 or the poll's -errno (-ENOENT: no such
 * item, remembered for list_ttl). */
int jobs_check(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	       uint64_t item);

/* The job's answer is out of date (a change was asked of it): its next read polls. */
void jobs_outdated(struct agent *a, enum job_kind kind, uint64_t item);

/* When the item's detail says it was made (the kind's born()), 0 when unknown. Never calls the API. */
double jobs_born(const struct agent *a, enum job_kind kind, uint64_t item);

/* The job's current texts, polling first when the last poll is older than
 * poll_interval. A poll that is needed but fails is an error, never stale text. */
int jobs_view(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	      uint64_t item, struct job_view *v);

/* The job's texts as held, never calling the API: -EAGAIN when none is held. */
int jobs_peek(struct registry *r, struct agent *a, enum job_kind kind, uint64_t item, struct job_view *v);

/* Polls when due (sharing one in flight), for the poll(2) notifier: no view, no read counted. */
int jobs_refresh(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
		 uint64_t item);

/* Like jobs_view(), but blocks until the job is terminal: -EREMOTEIO when
 * it failed (v holds its text), -ESTALE when the API forgot its id,
 * -ETIMEDOUT after wait_timeout, -EINTR when cancelled, -EAGAIN at once when
 * max_blocked readers already wait. */
int jobs_wait(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	      uint64_t item, struct job_view *v);

/* The next lines for a reader of `events`: the whole picture at its first
 * read, then the changes since its last read, blocking (and polling, shared
 * with every reader) until there are some. *len 0 is end of file. */
int jobs_events(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
		uint64_t item, struct job_cursor *cur, char **text, size_t *len);

/* Whether jobs_events() would return at once for this reader. Never calls the API. */
bool jobs_events_ready(const struct agent *a, enum job_kind kind, uint64_t item,
		       const struct job_cursor *cur);

/* Whether a re-read of the text would differ from the one of this version,
 * as far as is known without calling the API (a job started and not polled
 * yet counts as different). O(1). */
bool jobs_differs(const struct agent *a, enum job_kind kind, uint64_t item, enum job_text which,
		  unsigned version);

/* The text's size as known now (a page while the job is not polled yet). */
size_t jobs_size(const struct agent *a, enum job_kind kind, uint64_t item, enum job_text which);

/* When the text last changed, wall-clock seconds; 0: not since start. */
double jobs_changed_at(const struct agent *a, enum job_kind kind, uint64_t item, enum job_text which);

#endif
