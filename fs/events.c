/* events.c - the changes of an import between two polls, as lines. */
#include "cekurafs/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int push(struct event_log *log, double at, char *what, char *state)
{
	if(!what || !state)
		goto fail;
	if(log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 16;
		struct event *v = realloc(log->v, cap * sizeof(*v));

		if(!v)
			goto fail;
		log->v = v;
		log->cap = cap;
	}
	log->v[log->n++] = (struct event){.at = at, .what = what, .state = state};
	return 0;
fail:
	free(what);
	free(state);
	return -ENOMEM;
}

/* The state old had for the stage named name, or NULL when it had no such stage. */
static const char *old_state(const struct progress *old, const char *name, char **owned)
{
	*owned = NULL;
	for(size_t i = 0; old && i < old->nstages; i++) {
		char *n = render_stage_name(&old->stages[i], i);

		if(n && strcmp(n, name) == 0) {
			free(n);
			*owned = render_word(old->stages[i].state);
			return *owned;
		}
		free(n);
	}
	return NULL;
}

int events_diff(struct event_log *log, const struct progress *old, const struct progress *new, double at)
{
	char *status = render_word(new->status), *was = old ? render_word(old->status) : NULL;
	int rc = 0;

	if(!old && status)
		rc = push(log, at, strdup("status"), strdup(status)); /* the first poll: status first */
	for(size_t i = 0; rc == 0 && i < new->nstages; i++) {
		char *name = render_stage_name(&new->stages[i], i),
		     *state = render_word(new->stages[i].state);
		char *prev_owned = NULL;
		const char *prev = name ? old_state(old, name, &prev_owned) : NULL;

		if(name && state && (!prev || strcmp(prev, state) != 0)) {
			rc = push(log, at, name, state);
			name = state = NULL;
		} else if(!name || !state) {
			rc = -ENOMEM;
		}
		free(name);
		free(state);
		free(prev_owned);
	}
	if(rc == 0 && old && status && was && strcmp(was, status) != 0)
		rc = push(log, at, strdup("status"), strdup(status)); /* after the stages: last */
	if(!status || (old && !was))
		rc = -ENOMEM;
	free(status);
	free(was);
	return rc;
}

/* A growing text of lines; failed once out of memory. */
struct lines {
	char *buf;
	size_t len, cap;
	int rc;
};

static void add_line(struct lines *l, double at, const char *what, const char *state)
{
	char stamp[32], line[600];
	time_t t = (time_t)at;
	struct tm tm;
	int n;

	if(l->rc != 0)
		return;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s %s\n", stamp, what, state);
	if(n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line); /* a word cut short beats a lost line */
	if(l->len + (size_t)n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 512;
		char *p;

		while(cap < l->len + (size_t)n + 1)
			cap *= 2;
		p = realloc(l->buf, cap);
		if(!p) {
			l->rc = -ENOMEM;
			return;
		}
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, line, (size_t)n + 1);
	l->len += (size_t)n;
}

static int finish(struct lines *l, char **text, size_t *len)
{
	if(l->rc == 0 && !l->buf && !(l->buf = strdup("")))
		l->rc = -ENOMEM;
	if(l->rc != 0) {
		free(l->buf);
		return l->rc;
	}
	*text = l->buf;
	*len = l->len;
	return 0;
}

/* When the last event about what happened, or now when none did. */
static double last_seen(const struct event_log *log, const char *what, double now)
{
	for(size_t i = log->n; i > 0; i--)
		if(strcmp(log->v[i - 1].what, what) == 0)
			return log->v[i - 1].at;
	return now;
}

int events_picture(const struct event_log *log, const struct progress *cur, double now, char **text,
		   size_t *len)
{
	struct lines l = {0};
	char *status = render_word(cur->status);

	if(!status)
		return -ENOMEM;
	add_line(&l, last_seen(log, "status", now), "status", status);
	free(status);
	for(size_t i = 0; i < cur->nstages; i++) {
		char *name = render_stage_name(&cur->stages[i], i),
		     *state = render_word(cur->stages[i].state);

		if(name && state)
			add_line(&l, last_seen(log, name, now), name, state);
		else
			l.rc = -ENOMEM;
		free(name);
		free(state);
	}
	return finish(&l, text, len);
}

int events_lines(const struct event_log *log, size_t from, char **text, size_t *len)
{
	struct lines l = {0};

	for(size_t i = from; i < log->n; i++)
		add_line(&l, log->v[i].at, log->v[i].what, log->v[i].state);
	return finish(&l, text, len);
}

void events_clear(struct event_log *log)
{
	for(size_t i = 0; i < log->n; i++) {
		free(log->v[i].what);
		free(log->v[i].state);
	}
	free(log->v);
	memset(log, 0, sizeof(*log));
}
