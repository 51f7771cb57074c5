/* events.c - the changes of an import between two polls, as lines. */
#include "cekurafs/events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cekurafs/render.h"
#include "cekurafs/text.h"

static int push(struct event_log *log, double at, char *what, char *state)
{
	if(!what || !state)
		goto fail;
	if(log->n >= EVENTS_MAX && strcmp(what, "status") != 0) {
		/* past the cap only the status is kept: a reader still sees the end */
		free(what);
		free(state);
		return 0;
	}
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

/* A set of names (borrowed) with a number each, found in O(1): an open-addressing
 * hash table, at most half full. */
struct name_map {
	const char **name;
	size_t *val;
	size_t mask;
};

static int map_init(struct name_map *m, size_t n)
{
	size_t size = 16;

	while(size < 2 * n + 2)
		size *= 2;
	m->name = calloc(size, sizeof(*m->name));
	m->val = calloc(size, sizeof(*m->val));
	m->mask = size - 1;
	return m->name && m->val ? 0 : -ENOMEM;
}

static void map_free(struct name_map *m)
{
	free(m->name);
	free(m->val);
}

/* The slot of name: where it is, or the empty slot where it goes. */
static size_t map_slot(const struct name_map *m, const char *name)
{
	uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

	for(const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	for(h &= m->mask; m->name[h] && strcmp(m->name[h], name) != 0; h = (h + 1) & m->mask)
		;
	return (size_t)h;
}

/* The names of old's stages as the progress file shows them (names[i] of
 * stage i), and a map from each name to its first stage. Linear. */
struct old_stages {
	char **names;
	size_t n;
	struct name_map map;
};

static void old_stages_free(struct old_stages *o)
{
	for(size_t i = 0; i < o->n; i++)
		free(o->names[i]);
	free(o->names);
	map_free(&o->map);
}

static int old_stages_of(const struct progress *old, struct old_stages *o)
{
	memset(o, 0, sizeof(*o));
	o->names = calloc(old && old->nstages ? old->nstages : 1, sizeof(*o->names));
	if(!o->names || map_init(&o->map, old ? old->nstages : 0) != 0)
		return -ENOMEM;
	for(size_t i = 0; old && i < old->nstages; i++) {
		size_t slot;

		o->names[o->n] = render_stage_name(&old->stages[i], i);
		if(!o->names[o->n])
			return -ENOMEM;
		slot = map_slot(&o->map, o->names[o->n]);
		if(!o->map.name[slot]) { /* the first stage of that name counts */
			o->map.name[slot] = o->names[o->n];
			o->map.val[slot] = i;
		}
		o->n++;
	}
	return 0;
}

int events_diff(struct event_log *log, const struct progress *old, const struct progress *new, double at)
{
	char *status = render_word(new->status), *was = old ? render_word(old->status) : NULL;
	struct old_stages o;
	int rc = old_stages_of(old, &o);

	if(rc == 0 && !old && status)
		rc = push(log, at, strdup("status"), strdup(status)); /* the first poll: status first */
	for(size_t i = 0; rc == 0 && i < new->nstages; i++) {
		char *name = render_stage_name(&new->stages[i], i),
		     *state = render_word(new->stages[i].state);
		char *prev = NULL;
		size_t slot = name ? map_slot(&o.map, name) : 0;
		bool had = name && o.map.name[slot];

		if(had)
			prev = render_word(old->stages[o.map.val[slot]].state);
		if(!name || !state || (had && !prev)) {
			rc = -ENOMEM;
		} else if(!had || strcmp(prev, state) != 0) {
			rc = push(log, at, name, state);
			name = state = NULL;
		}
		free(name);
		free(state);
		free(prev);
	}
	if(rc == 0 && old && status && was && strcmp(was, status) != 0)
		rc = push(log, at, strdup("status"), strdup(status)); /* after the stages: last */
	if(!status || (old && !was))
		rc = -ENOMEM;
	old_stages_free(&o);
	free(status);
	free(was);
	return rc;
}

static void add_line(struct text_buf *l, double at, const char *what, const char *state)
{
	char stamp[32];
	time_t t = (time_t)at;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* the whole line, however long its words: a line is never cut */
	text_buf_printf(l, "%s %s %s\n", stamp, what, state);
}

/* Hands the lines over; *text and *len are left alone on failure. */
static int finish(struct text_buf *l, char **text, size_t *len)
{
	char *lines = text_buf_take(l, len);

	if(!lines)
		return -ENOMEM;
	*text = lines;
	return 0;
}

/* When the last event about what happened (last maps each what to its last
 * event), or now when none did. */
static double last_seen(const struct event_log *log, const struct name_map *last, const char *what,
			double now)
{
	size_t slot = map_slot(last, what);

	return last->name[slot] ? log->v[last->val[slot]].at : now;
}

int events_picture(const struct event_log *log, const struct progress *cur, double now, char **text,
		   size_t *len)
{
	struct text_buf l = {0};
	struct name_map last = {0};
	char *status = render_word(cur->status);

	if(!status || map_init(&last, log->n) != 0) {
		free(status);
		map_free(&last);
		return -ENOMEM;
	}
	for(size_t i = 0; i < log->n; i++) {
		size_t slot = map_slot(&last, log->v[i].what);

		last.name[slot] = log->v[i].what;
		last.val[slot] = i;
	}
	add_line(&l, last_seen(log, &last, "status", now), "status", status);
	free(status);
	for(size_t i = 0; i < cur->nstages; i++) {
		char *name = render_stage_name(&cur->stages[i], i),
		     *state = render_word(cur->stages[i].state);

		if(name && state)
			add_line(&l, last_seen(log, &last, name, now), name, state);
		else
			l.err = -ENOMEM;
		free(name);
		free(state);
	}
	map_free(&last);
	return finish(&l, text, len);
}

int events_lines(const struct event_log *log, size_t from, size_t to, char **text, size_t *len)
{
	struct text_buf l = {0};

	for(size_t i = from; i < to && i < log->n; i++)
		add_line(&l, log->v[i].at, log->v[i].what, log->v[i].state);
	return finish(&l, text, len);
}

int events_push_status(struct event_log *log, const char *state, double at)
{
	return push(log, at, strdup("status"), strdup(state));
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
