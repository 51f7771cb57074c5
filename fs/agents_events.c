/* agents_events.c - the registry's part for readers that follow an import:
 * the events stream (one cursor per reader into the import's event log) and
 * the questions poll(2) asks without calling the API.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agents_internal.h"

#define EVENTS_PER_READ 256 /* lines one read of `events` copies at most */

/* ---- events and change notification ---- */

bool registry_differs(struct registry *r, uint64_t id, enum registry_file f, unsigned version)
{
	struct agent *a;
	bool differs;

	registry_lock(r);
	a = agent_find(r, id);
	if(!a)
		differs = version != 0;
	else if(a->progress_id && !a->have_progress && !a->expired)
		differs = true; /* not polled since a refetch: a re-read polls the new import */
	else
		differs = (f == REGISTRY_PROGRESS_JSON ? a->json_version : a->version) != version;
	pthread_mutex_unlock(&r->lock);
	return differs;
}

/* What a reader at cur may read now without waiting. Lock held. */
static int events_now(struct agent *a, struct registry_cursor *cur, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	if(!cur->started) {
		if(!a->progress_id) {
			cur->done = true; /* no import known: end of file at once */
			return 0;
		}
		if(a->expired) {
			/* what was seen of it, ending with `status expired`, then end of file */
			cur->started = cur->done = true;
			cur->gen = a->import_gen;
			return events_lines(a->events, 0, a->events->n, text, len);
		}
		if(!a->have_progress)
			return -EAGAIN; /* not polled yet */
		cur->started = true;
		cur->gen = a->import_gen;
		cur->at = a->events ? a->events->n : 0;
		if(terminal(a))
			cur->done = true; /* the whole picture, then end of file */
		return events_picture(a->events ? a->events : &(struct event_log){0}, &a->progress,
				      wall_seconds(), text, len);
	}
	if(cur->done || cur->gen != a->import_gen)
		return 0;
	if(a->events && cur->at < a->events->n) {
		/* at most EVENTS_PER_READ lines under the lock: the rest at the next read */
		size_t to =
			a->events->n - cur->at > EVENTS_PER_READ ? cur->at + EVENTS_PER_READ : a->events->n;
		int rc = events_lines(a->events, cur->at, to, text, len);

		if(rc == 0)
			cur->at = to;
		return rc;
	}
	if(terminal(a)) {
		cur->done = true;
		return 0;
	}
	return -EAGAIN;
}

/* What registry_events() reads into. */
struct events_read {
	struct registry_cursor *cur;
	char **text;
	size_t *len;
};

static int events_done(struct agent *a, void *arg)
{
	struct events_read *er = arg;

	return events_now(a, er->cur, er->text, er->len);
}

int registry_events(struct registry *r, const struct api_cancel *c, uint64_t id, struct registry_cursor *cur,
		    char **text, size_t *len)
{
	struct events_read er = {.cur = cur, .text = text, .len = len};
	struct agent *a = lock_agent(r, id);
	int rc;

	*text = NULL;
	*len = 0;
	if(!a)
		return -ENOMEM;
	rc = watch_agent(r, a, c, "events", events_done, &er);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

bool registry_events_ready(struct registry *r, uint64_t id, const struct registry_cursor *cur)
{
	struct agent *a;
	bool ready;

	registry_lock(r);
	a = agent_find(r, id);
	if(!a || !cur->started || cur->done || cur->gen != a->import_gen)
		ready = true; /* a first read, or end of file: neither waits for a change */
	else
		ready = (a->events && cur->at < a->events->n) || terminal(a);
	pthread_mutex_unlock(&r->lock);
	return ready;
}

double registry_changed_at(struct registry *r, uint64_t id, enum registry_file f)
{
	struct agent *a;
	double at = 0;

	registry_lock(r);
	a = agent_find(r, id);
	if(a)
		at = f == REGISTRY_PROGRESS	   ? a->text_at
		     : f == REGISTRY_PROGRESS_JSON ? a->json_at
		     : f == REGISTRY_ERROR	   ? a->error_at
						   : 0;
	pthread_mutex_unlock(&r->lock);
	return at;
}
