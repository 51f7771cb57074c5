/* events.h - an import's changes as lines, for agents/<id>/events. Pure.
 *
 *   2026-11-29T05:40:01Z status in_progress
 *   2026-11-29T05:40:01Z system_prompt completed
 *   2026-11-29T05:40:02Z tools in_progress
 *   2026-11-29T05:40:04Z status completed
 *
 * `<UTC time> <what> <new state>`: what is `status` or a stage's name as the
 * progress file shows it. The log of one import is appended to at each poll
 * that saw a change; a reader keeps only its position in it.
 */
#ifndef CEKURAFS_EVENTS_H
#define CEKURAFS_EVENTS_H

#include <stddef.h>

#include "cekurafs/progress.h"

struct event {
	double at;   /* wall clock, seconds since the epoch, when a poll saw it */
	char *what;  /* "status" or a stage's name; owned */
	char *state; /* owned */
};

/* Events one import's log keeps at most; past them only status changes are
 * kept, so a reader still sees the end. */
#define EVENTS_MAX 10000

struct event_log {
	struct event *v;
	size_t n, cap;
};

/* Appends what changed from old (NULL: the first poll, so everything) to new:
 * the stages that changed, in their order, then the status if it changed, so
 * a terminal status is always the last line. Linear in the stages (stages
 * are matched by name through a hash table). Returns 0 or -ENOMEM. */
int events_diff(struct event_log *log, const struct progress *old, const struct progress *new, double at);

/* Appends a status change that no poll's answer shows (an id the API
 * forgot: "expired"). Returns 0 or -ENOMEM. */
int events_push_status(struct event_log *log, const char *state, double at);

/* The current picture of cur, for a reader's first read: the status, then
 * every stage, each at the time of the last event that set it (else now).
 * *text is a new string (*len bytes). Returns 0 or -ENOMEM. */
int events_picture(const struct event_log *log, const struct progress *cur, double now, char **text,
		   size_t *len);

/* The lines of events from..to (at most log->n). *text is a new string.
 * Returns 0 or -ENOMEM. */
int events_lines(const struct event_log *log, size_t from, size_t to, char **text, size_t *len);

/* Forgets every event (a new import starts). */
void events_clear(struct event_log *log);

#endif
