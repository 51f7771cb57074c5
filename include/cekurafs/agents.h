/* agents.h - the agent registry: what the daemon knows of each agent, and the
 * only place that decides when to call the API.
 *
 * Per agent: the stored progress id, the last progress (decoded, rendered and
 * raw), the last error line. Polls are coalesced: at most one progress GET per
 * agent per poll_interval, concurrent readers share the one in flight, and a
 * terminal status is not polled again until the next refetch. Every failure
 * also becomes the agent's error line ("<operation>: <message>") and a log line.
 */
#ifndef CEKURAFS_AGENTS_H
#define CEKURAFS_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cekurafs/api.h"
#include "cekurafs/agent_config.h"
#include "cekurafs/state.h"

struct registry;

struct registry_options {
	double poll_interval; /* seconds */
	double list_ttl;      /* seconds */
	double wait_timeout;  /* seconds */
	const char *state_dir;
	/* Most readers blocked at once in wait or events (each holds a FUSE
	 * worker); one more gets -EAGAIN at once. 0: no limit. */
	unsigned max_blocked;
};

/* What one read sees: the progress text and the raw JSON at one moment, with
 * the version of each (registry_differs()). Owned. */
struct registry_view {
	char *text;
	size_t text_len;
	char *json;
	size_t json_len;
	unsigned text_version, json_version;
};

enum registry_file { REGISTRY_NONE, REGISTRY_PROGRESS, REGISTRY_PROGRESS_JSON, REGISTRY_ERROR };

/* Borrows api (which must outlive it) and copies cfg; seeds the progress ids
 * loaded by state_load(). Returns NULL when out of memory. */
struct registry *registry_new(struct api *api, const struct registry_options *cfg,
			      const struct state_entry *entries, size_t n);
void registry_free(struct registry *r);

/* Every agent id, from a listing at most list_ttl old. *ids is a new array. */
int registry_list(struct registry *r, const struct api_cancel *c, uint64_t **ids, size_t *n);

/* 0 when agent id exists (a listing, a stored progress id, or asking the API), else -errno. */
int registry_lookup(struct registry *r, const struct api_cancel *c, uint64_t id);

/* Starts an auto-fetch: -EBUSY when the stored one still runs (fresh poll),
 * else the POST; the new id is in memory and on disk before 0 is returned. */
int registry_refetch(struct registry *r, const struct api_cancel *c, uint64_t id);

/* The current progress, polling first when the last poll is older than
 * poll_interval. A poll that is needed but fails is an error, never stale text. */
int registry_progress(struct registry *r, const struct api_cancel *c, uint64_t id, struct registry_view *v);

/* Polls the agent when its poll is due (sharing one in flight), for a
 * watcher: no view, and it counts as no read in .cekurafs/stats. */
int registry_refresh(struct registry *r, const struct api_cancel *c, uint64_t id);

/* Like registry_progress(), but blocks until the status is terminal:
 * -EREMOTEIO when it failed, -ETIMEDOUT after wait_timeout, -EINTR when
 * cancelled, -EAGAIN at once when max_blocked readers already wait. */
int registry_wait(struct registry *r, const struct api_cancel *c, uint64_t id, struct registry_view *v);

/* The agent's configuration, fetched when it is older than list_ttl or an
 * import of the agent completed since (concurrent readers share one fetch).
 * *out is a reference: give it back with registry_agent_config_put(). */
int registry_agent_config(struct registry *r, const struct api_cancel *c, uint64_t id,
			  struct agent_config **out);

/* The configuration when one is held and fresh (a reference), else NULL. Never calls the API. */
struct agent_config *registry_agent_config_cached(struct registry *r, uint64_t id);

void registry_agent_config_put(struct registry *r, struct agent_config *cfg);

/* When the agent's configuration last changed as this mount saw it
 * (wall-clock seconds), 0 when never fetched. Never calls the API. */
double registry_agent_config_changed_at(struct registry *r, uint64_t id);

/* Calls fn with every by-name link name, sorted, from a listing at most list_ttl old. */
int registry_each_name(struct registry *r, const struct api_cancel *c,
		       void (*fn)(void *arg, const char *name), void *arg);

/* The agent id a by-name link points to, or -ENOENT. */
int registry_link(struct registry *r, const struct api_cancel *c, const char *name, uint64_t *id);

/* Whether a re-read of the file (REGISTRY_PROGRESS or REGISTRY_PROGRESS_JSON)
 * would show another text than the one of this version (a view's
 * text_version or json_version), as far as is known without calling the API
 * (a running import not polled yet counts as different). O(1). */
bool registry_differs(struct registry *r, uint64_t id, enum registry_file f, unsigned version);

/* Where one reader of `events` is. Zero it before the first read. */
struct registry_cursor {
	bool started; /* the first read (the whole picture) was made */
	bool done;    /* end of file: the import ended, or none was known */
	unsigned gen; /* the import it reads */
	size_t at;    /* events read so far */
};

/* The next lines for a reader of `events`: the whole picture at its first
 * read, then the changes since its last read, blocking (and polling, shared
 * with every reader of the agent) until there are some. *len 0 is end of
 * file. -ETIMEDOUT after wait_timeout, -EINTR when cancelled. */
int registry_events(struct registry *r, const struct api_cancel *c, uint64_t id, struct registry_cursor *cur,
		    char **text, size_t *len);

/* Whether registry_events() would return at once for this reader. Never calls the API. */
bool registry_events_ready(struct registry *r, uint64_t id, const struct registry_cursor *cur);

/* The error line ("" or "<line>\n") as a new string in *text. */
int registry_error(struct registry *r, uint64_t id, char **text, size_t *len);

/* Asks the registry to forget its caches (the listing, lookups, when running
 * imports were polled) before its next use. Async-signal-safe: for SIGHUP. */
void registry_drop_caches(struct registry *r);

/* Records an error line for the agent ("<op>: <message>") and logs it. */
void registry_note_error(struct registry *r, uint64_t id, const char *op, const char *message);

/* When a file's text (REGISTRY_PROGRESS, _PROGRESS_JSON, _ERROR) last
 * changed, wall-clock seconds; 0 when not since the daemon started. */
double registry_changed_at(struct registry *r, uint64_t id, enum registry_file f);

/* Size of a file's text as currently known, without calling the API. */
size_t registry_known_size(struct registry *r, uint64_t id, enum registry_file f);

void registry_view_free(struct registry_view *v);

#endif
