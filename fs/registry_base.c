/* registry_base.c - the registry's ground: the agent table, calls in flight,
 * shared texts, error lines (registry_base.h).
 */
#include "registry_base.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/log.h"
#include "cekurafs/text.h"

bool reg_cancelled(const struct api_cancel *c)
{
	return c && c->cancelled && c->cancelled(c->arg);
}

void reg_wait(struct registry *r, double seconds)
{
	struct timespec until = clock_timespec(clock_mono() + fmin(fmax(seconds, 0.001), WAIT_SLICE));

	pthread_cond_timedwait(&r->changed, &r->lock, &until);
}

int reg_flight_join(struct registry *r, struct flight *f, const struct api_cancel *c)
{
	unsigned gen = f->gen;

	while(f->busy && gen == f->gen) {
		if(reg_cancelled(c))
			return -EINTR;
		reg_wait(r, WAIT_SLICE);
	}
	return 0;
}

void reg_flight_end(struct registry *r, struct flight *f, int err)
{
	f->busy = false;
	f->gen++;
	f->err = err;
	pthread_cond_broadcast(&r->changed);
}

struct shared_text *reg_text_wrap(char *s, size_t len)
{
	struct shared_text *t = s ? malloc(sizeof(*t)) : NULL;

	if(!t) {
		free(s);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	t->len = len;
	t->s = s;
	return t;
}

struct shared_text *reg_text_ref(struct shared_text *t)
{
	if(t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void reg_text_unref(struct shared_text *t)
{
	if(t && atomic_fetch_sub(&t->refs, 1) == 1) {
		free(t->s);
		free(t);
	}
}

bool reg_text_same(const struct shared_text *a, const struct shared_text *b)
{
	return a && b && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* ---- the table of agents ---- */

static size_t slot_of(uint64_t id, size_t nslots)
{
	return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (nslots - 1);
}

struct agent *reg_agent_find(const struct registry *r, uint64_t id)
{
	if(r->nslots == 0)
		return NULL;
	for(size_t i = slot_of(id, r->nslots);; i = (i + 1) & (r->nslots - 1)) {
		if(!r->slots[i] || r->slots[i]->id == id)
			return r->slots[i];
	}
}

static void slots_put(struct agent **slots, size_t nslots, struct agent *a)
{
	size_t i = slot_of(a->id, nslots);

	while(slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = a;
}

struct agent *reg_agent_get(struct registry *r, uint64_t id)
{
	struct agent *a = reg_agent_find(r, id);

	if(a)
		return a;
	if((r->nagents + 1) * 4 > r->nslots * 3) {
		size_t nslots = r->nslots ? r->nslots * 2 : 64;
		struct agent **slots = calloc(nslots, sizeof(*slots));

		if(!slots)
			return NULL;
		for(size_t i = 0; i < r->nslots; i++)
			if(r->slots[i])
				slots_put(slots, nslots, r->slots[i]);
		free(r->slots);
		r->slots = slots;
		r->nslots = nslots;
	}
	a = calloc(1, sizeof(*a));
	if(!a)
		return NULL;
	a->id = id;
	slots_put(r->slots, r->nslots, a);
	r->nagents++;
	return a;
}

/* Backward-shift deletion, so that linear probing still finds every other agent. */
struct agent *reg_agent_take(struct registry *r, size_t i)
{
	struct agent *taken = r->slots[i];
	size_t mask = r->nslots - 1;

	r->slots[i] = NULL;
	for(size_t j = (i + 1) & mask; r->slots[j]; j = (j + 1) & mask) {
		size_t home = slot_of(r->slots[j]->id, r->nslots);

		/* the agent at j may move to i unless its home lies cyclically in (i, j] */
		if(i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			r->slots[i] = r->slots[j];
			r->slots[j] = NULL;
			i = j;
		}
	}
	r->nagents--;
	return taken;
}

/* ---- error lines ---- */

void reg_agent_error(struct agent *a, const char *op, const char *fmt, ...)
{
	char msg[600];
	char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text_scrub(msg); /* whatever the API put in it: one line, no escape sequences */
	if(asprintf(&line, "%s: %s", op, msg) < 0)
		line = NULL;
	log_warn("agent %llu: %s: %s", (unsigned long long)a->id, op, msg);
	if(line) {
		free(a->error);
		a->error = line;
		a->error_at = clock_wall();
	}
}

void reg_agent_clear_error(struct agent *a, const char *op)
{
	size_t n = op ? strlen(op) : 0;

	if(!a->error || (op && (strncmp(a->error, op, n) != 0 || strncmp(a->error + n, ": ", 2) != 0)))
		return;
	free(a->error);
	a->error = NULL;
	a->error_at = clock_wall();
}
