/* agents.c - the agent registry: per-agent state, locking, poll coalescing.
 *
 *   $ echo 1 > agents/42/refetch     registry_refetch: fresh poll, POST, save id
 *   $ cat agents/42/progress         registry_progress: poll if older than poll_interval
 *   $ cat agents/42/wait             registry_wait: poll every poll_interval until terminal
 *
 * One mutex guards everything; it is never held across an API call. A poll in
 * flight is marked on its agent, and readers that arrive meanwhile wait on
 * the condition variable for its result instead of sending their own.
 * agents_config.c and agents_events.c make the rest of the registry, on the
 * same structures (agents_internal.h).
 */
#include "cekurafs/agents.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cekurafs/agent_config.h"
#include "cekurafs/events.h"
#include "cekurafs/log.h"
#include "cekurafs/render.h"
#include "cekurafs/stats.h"

#include "agents_internal.h"

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool cancelled(const struct api_cancel *c)
{
	return c && c->cancelled && c->cancelled(c->arg);
}

/* Waits on the registry's condition for at most seconds (and WAIT_SLICE). Lock held. */
void wait_changed(struct registry *r, double seconds)
{
	struct timespec ts;
	double t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + fmin(fmax(seconds, 0.001), WAIT_SLICE);
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&r->changed, &r->lock, &ts);
}

/* Waits for the call in flight to end. Returns 0, or -EINTR when our caller gave up. Lock held. */
int flight_join(struct registry *r, struct flight *f, const struct api_cancel *c)
{
	unsigned gen = f->gen;

	while(f->busy && gen == f->gen) {
		if(cancelled(c))
			return -EINTR;
		wait_changed(r, WAIT_SLICE);
	}
	return 0;
}

/* Records the end of a call and wakes the readers that joined it. Lock held. */
void flight_end(struct registry *r, struct flight *f, int err)
{
	f->busy = false;
	f->gen++;
	f->err = err;
	pthread_cond_broadcast(&r->changed);
}

static size_t slot_of(uint64_t id, size_t nslots)
{
	return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (nslots - 1);
}

/* The agent with this id, or NULL. Lock held. O(1). */
struct agent *agent_find(const struct registry *r, uint64_t id)
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

/* The agent with this id, created when missing. Lock held. NULL when out of memory. */
static struct agent *agent_get(struct registry *r, uint64_t id)
{
	struct agent *a = agent_find(r, id);

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

static void agent_free(struct registry *r, struct agent *a);

/* Removes the agent at slot i from the table (backward-shift deletion, so
 * that linear probing still finds every other agent). Lock held. */
static void slots_remove(struct registry *r, size_t i)
{
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
}

bool agent_idle(const struct registry *r, const struct agent *a)
{
	return !a->progress_id && !a->error && !a->events && !a->refetching && !a->poll.busy &&
	       a->users == 0 && (!a->cfg || (!a->cfg->config && !a->cfg->fetch.busy)) &&
	       (!a->known || now_seconds() - a->known_at >= r->cfg.list_ttl);
}

#define SWEEP_EVERY                                                                                          \
	30.0 /* seconds between two sweeps of agents that hold nothing (or list_ttl, if longer)              \
	      */

/* Frees the agents that hold nothing (agent_idle()), at most every
 * SWEEP_EVERY seconds: what lookups of many agents leave behind does not
 * stay. Linear in the agents, not in any answer. Lock held. */
static void sweep_agents(struct registry *r)
{
	double now = now_seconds();
	size_t freed = 0;

	if(now - r->swept_at < fmax(SWEEP_EVERY, r->cfg.list_ttl))
		return;
	r->swept_at = now;
	for(size_t i = 0; i < r->nslots; i++) {
		struct agent *a;

		/* a removal may shift another agent into slot i: look at it again */
		while((a = r->slots[i]) && agent_idle(r, a)) {
			slots_remove(r, i);
			agent_free(r, a);
			freed++;
		}
	}
	if(freed)
		log_debug("freed %zu agents that held nothing", freed);
}

/* Gives the agent a progress id (owned now). Lock held. Returns 0 or -ENOMEM (pid freed). */
static int agent_set_progress_id(struct registry *r, struct agent *a, char *pid)
{
	if(!a->progress_id) {
		if(r->nwith_id == r->with_id_cap) {
			size_t cap = r->with_id_cap ? r->with_id_cap * 2 : 16;
			struct agent **p = realloc(r->with_id, cap * sizeof(*p));

			if(!p) {
				free(pid);
				return -ENOMEM;
			}
			r->with_id = p;
			r->with_id_cap = cap;
		}
		r->with_id[r->nwith_id++] = a;
	}
	free(a->progress_id);
	a->progress_id = pid;
	return 0;
}

struct shared_text *shared_text_wrap(char *s, size_t len)
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

struct shared_text *shared_text_ref(struct shared_text *t)
{
	if(t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void shared_text_unref(struct shared_text *t)
{
	if(t && atomic_fetch_sub(&t->refs, 1) == 1) {
		free(t->s);
		free(t);
	}
}

static void agent_forget_progress(struct agent *a)
{
	progress_free(&a->progress);
	shared_text_unref(a->json);
	shared_text_unref(a->text);
	a->json = NULL;
	a->text = NULL;
	a->have_progress = false;
	a->expired = false;
}

static void agent_free(struct registry *r, struct agent *a)
{
	agent_forget_config(r, a);
	free(a->cfg);
	if(a->events)
		events_clear(a->events);
	free(a->events);
	agent_forget_progress(a);
	free(a->progress_id);
	free(a->error);
	free(a);
}

void agent_error(struct agent *a, const char *op, const char *fmt, ...)
{
	char msg[600];
	char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Whatever the API put in it: one line, no escape sequences. */
	for(char *p = msg; *p; p++)
		if((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if(asprintf(&line, "%s: %s", op, msg) < 0)
		line = NULL;
	log_warn("agent %llu: %s: %s", (unsigned long long)a->id, op, msg);
	if(line) {
		free(a->error);
		a->error = line;
		a->error_at = wall_seconds();
	}
}

/* Clears the error line (it no longer holds). Lock held. */
static void agent_clear_error(struct agent *a)
{
	if(a->error) {
		free(a->error);
		a->error = NULL;
		a->error_at = wall_seconds();
	}
}

struct registry *registry_new(struct api *api, const struct registry_options *cfg,
			      const struct state_entry *entries, size_t n)
{
	struct registry *r = calloc(1, sizeof(*r));
	pthread_condattr_t attr;

	if(!r)
		return NULL;
	r->api = api;
	r->cfg = *cfg;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->changed, &attr);
	pthread_condattr_destroy(&attr);
	r->state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL;
	r->cfg.state_dir = r->state_dir;
	if(cfg->state_dir && !r->state_dir)
		goto fail;
	for(size_t i = 0; i < n; i++) {
		struct agent *a = agent_get(r, entries[i].agent_id);

		char *pid = strdup(entries[i].progress_id);

		if(!a || !pid || agent_set_progress_id(r, a, pid) != 0) {
			if(!a)
				free(pid);
			goto fail;
		}
		a->known = true;
	}
	return r;
fail:
	registry_free(r);
	return NULL;
}

void registry_free(struct registry *r)
{
	if(!r)
		return;
	for(size_t i = 0; i < r->nslots; i++)
		if(r->slots[i])
			agent_free(r, r->slots[i]);
	free(r->slots);
	free(r->with_id);
	agent_list_free(&r->listing);
	names_index_free(&r->byname);
	free(r->state_dir);
	pthread_cond_destroy(&r->changed);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void registry_view_free(struct registry_view *v)
{
	free(v->text);
	free(v->json);
	memset(v, 0, sizeof(*v));
}

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = ((const struct state_entry *)a)->agent_id, y = ((const struct state_entry *)b)->agent_id;

	return (x > y) - (x < y);
}

/* Writes the state file from a copy of every stored progress id, the lock
 * released meanwhile. Lock held on entry and on return. */
static int write_state(struct registry *r)
{
	struct state_entry *entries = calloc(r->nwith_id ? r->nwith_id : 1, sizeof(*entries));
	size_t n;
	int rc = 0;

	if(!entries)
		return -ENOMEM;
	for(n = 0; n < r->nwith_id; n++) {
		entries[n].agent_id = r->with_id[n]->id;
		entries[n].progress_id = strdup(r->with_id[n]->progress_id);
		if(!entries[n].progress_id) {
			rc = -ENOMEM;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if(rc == 0) {
		qsort(entries, n, sizeof(*entries), cmp_entry);
		rc = state_save(r->state_dir, entries, n);
	}
	state_free(entries, n);
	pthread_mutex_lock(&r->lock);
	return rc;
}

/* Makes sure every progress id stored so far is on disk. Saves are batched:
 * one writer saves every id stored meanwhile, while the ids stored during its
 * write wait for the next one, so N refetches at once cost far fewer than N
 * fsyncs and none holds the lock across the disk. Lock held. */
static int save_state(struct registry *r)
{
	unsigned long mine = ++r->save.wanted;

	if(!r->state_dir)
		return 0;
	while(r->save.done < mine) {
		unsigned long covers;
		int rc;

		if(r->save.busy) {
			wait_changed(r, WAIT_SLICE); /* disk time: bounded, and the POST is already made */
			continue;
		}
		r->save.busy = true;
		covers = r->save.wanted;
		rc = write_state(r);
		r->save.busy = false;
		r->save.done = covers;
		r->save.rc = rc;
		pthread_cond_broadcast(&r->changed);
	}
	/* the save that covered ours, or a later one that covered it too */
	return r->save.rc;
}

/* ---- listing ---- */

static bool listing_has(const struct registry *r, uint64_t id)
{
	size_t lo = 0, hi = r->listing.n;

	while(lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if(r->listing.items[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->listing.n && r->listing.items[lo].id == id;
}

static bool listing_fresh(const struct registry *r)
{
	return r->have_listing && now_seconds() - r->listed_at < r->cfg.list_ttl;
}

/* Lock held. */
static void forget_listing(struct registry *r)
{
	agent_list_free(&r->listing);
	r->have_listing = false;
	names_index_free(&r->byname);
	r->have_byname = false;
}

/* Makes sure a fresh listing is held, sharing a listing in flight. Lock held. */
int refresh_listing(struct registry *r, const struct api_cancel *c)
{
	struct api_error e = {0};
	struct agent_list l;
	int rc;

	if(listing_fresh(r))
		stats_cache_hit(STATS_CACHE_LISTING);
	while(!listing_fresh(r)) {
		if(r->list.busy) {
			if(flight_join(r, &r->list, c) != 0)
				return -EINTR;
			if(r->list.err == -EINTR)
				continue; /* that reader gave up, not us */
			/* its result is ours, as fresh as can be whatever list_ttl is */
			return r->list.err;
		}
		r->list.busy = true;
		pthread_mutex_unlock(&r->lock);
		rc = api_list_agents(r->api, c, &l, &e);
		pthread_mutex_lock(&r->lock);
		flight_end(r, &r->list, rc);
		if(rc != 0) {
			log_warn("listing agents: %s", e.msg);
			return rc;
		}
		forget_listing(r);
		r->listing = l;
		r->have_listing = true;
		r->listed_at = now_seconds();
		return 0; /* just made: never fetch again here, even with list_ttl=0 */
	}
	return 0;
}

bool terminal(const struct agent *a)
{
	return a->expired || (a->have_progress && progress_terminal(a->progress.status));
}

void registry_drop_caches(struct registry *r)
{
	atomic_fetch_add(&r->drops_asked, 1);
}

/* Takes the lock, first forgetting what registry_drop_caches() asked to: the
 * listing, lookups, and when each running import was last polled. Progress
 * ids, terminal progress and error lines are state, not caches: they stay. */
void registry_lock(struct registry *r)
{
	unsigned asked;

	pthread_mutex_lock(&r->lock);
	asked = atomic_load(&r->drops_asked);
	if(asked != r->drops_done) {
		r->drops_done = asked;
		forget_listing(r);
		r->swept_at = 0; /* sweep now too */
		memset(r->absent, 0, sizeof(r->absent));
		for(size_t i = 0; i < r->nslots; i++) {
			struct agent *a = r->slots[i];

			if(!a)
				continue;
			if(!terminal(a))
				a->polled_at = 0;
			agent_forget_config(r, a);
			if(!a->progress_id)
				a->known = false;
		}
		log_info("caches dropped: the next reads ask the API again");
	}
	config_expire(r);
	sweep_agents(r);
}

int registry_list(struct registry *r, const struct api_cancel *c, uint64_t **ids, size_t *n)
{
	int rc;

	*ids = NULL;
	*n = 0;
	registry_lock(r);
	rc = refresh_listing(r, c);
	if(rc == 0) {
		*ids = malloc((r->listing.n ? r->listing.n : 1) * sizeof(**ids));
		if(*ids) {
			for(size_t i = 0; i < r->listing.n; i++)
				(*ids)[i] = r->listing.items[i].id;
			*n = r->listing.n;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static struct absent *absent_slot(struct registry *r, uint64_t id)
{
	return &r->absent[slot_of(id, ABSENT_SLOTS)];
}

int registry_lookup(struct registry *r, const struct api_cancel *c, uint64_t id)
{
	struct api_error e = {0};
	struct agent_config *cfg = NULL;
	struct absent *gone;
	struct agent *a;
	char *body = NULL;
	size_t len = 0;
	int rc;

	registry_lock(r);
	a = agent_find(r, id);
	if(a && a->known && (a->progress_id || now_seconds() - a->known_at < r->cfg.list_ttl)) {
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	if(listing_fresh(r)) {
		rc = listing_has(r, id) ? 0 : -ENOENT;
		if(rc == -ENOENT)
			stats_cache_hit(STATS_CACHE_NEGATIVE);
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	gone = absent_slot(r, id);
	if(gone->at > 0 && gone->id == id && now_seconds() - gone->at < r->cfg.list_ttl) {
		pthread_mutex_unlock(&r->lock);
		stats_cache_hit(STATS_CACHE_NEGATIVE);
		return -ENOENT; /* the API said 404 less than list_ttl ago */
	}
	pthread_mutex_unlock(&r->lock);
	/* No listing to trust: ask for this one agent. Its answer is the
	 * agent's configuration too: kept, so reading it sends no second GET. */
	rc = api_get_agent_body(r->api, c, id, &body, &len, &e);
	if(rc != 0 && rc != -ENOENT)
		log_warn("looking up agent %llu: %s", (unsigned long long)id, e.msg);
	if(rc == 0 && (cfg = calloc(1, sizeof(*cfg))) && agent_config_decode(body, len, cfg) != 0) {
		agent_config_free(cfg); /* shown as files it is not: its files fetch it again and say why */
		free(cfg);
		cfg = NULL;
	}
	free(body);
	registry_lock(r);
	if(rc == 0) {
		a = agent_get(r, id);
		if(a) {
			a->known = true;
			a->known_at = now_seconds();
			if(cfg && !a->cfg)
				a->cfg = calloc(1, sizeof(*a->cfg));
			if(cfg && a->cfg && !a->cfg->fetch.busy && !a->cfg->config)
				config_keep(r, a, cfg);
		} else {
			rc = -ENOMEM;
		}
	} else if(rc == -ENOENT) {
		gone->id = id;
		gone->at = now_seconds();
	}
	if(cfg && cfg->refs == 0) {
		agent_config_free(cfg); /* not kept */
		free(cfg);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- polling ---- */

static const char *failed_stage(const struct progress *p)
{
	for(size_t i = 0; i < p->nstages; i++)
		if(p->stages[i].state && strcmp(p->stages[i].state, "failed") == 0 && p->stages[i].name)
			return p->stages[i].name;
	return p->current_stage && *p->current_stage ? p->current_stage : "unknown";
}

/* Stores a successful poll of the agent's id. Returns 0 or -ENOMEM. Lock held. */
double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A poll's answer, made ready outside the lock: decoded, rendered, and
 * compared with the texts it replaces, so that storing it is cheap. */
struct answer {
	struct progress p;
	struct shared_text *text, *json;
	bool text_changed, json_changed;
};

static void answer_free(struct answer *ans)
{
	progress_free(&ans->p);
	shared_text_unref(ans->text);
	shared_text_unref(ans->json);
	memset(ans, 0, sizeof(*ans));
}

static bool same_text(const struct shared_text *a, const struct shared_text *b)
{
	return a && b && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Renders the answer to a poll of pid (json is the body, taken) and compares
 * it with the texts it would replace. No lock held. Returns 0 or -ENOMEM. */
static int prepare_answer(struct answer *ans, char *json, const char *pid, const struct shared_text *old_text,
			  const struct shared_text *old_json)
{
	char *text = render_progress(&ans->p, pid);

	ans->text = text ? shared_text_wrap(text, strlen(text)) : NULL;
	ans->json = shared_text_wrap(json, strlen(json));
	if(!ans->text || !ans->json) {
		answer_free(ans);
		return -ENOMEM;
	}
	ans->text_changed = !same_text(old_text, ans->text);
	ans->json_changed = !same_text(old_json, ans->json);
	return 0;
}

/* Stores a successful poll of the agent's id (the answer is taken). Work
 * under the lock is bounded by the stage cap (api.h). Returns 0 or -ENOMEM. Lock held. */
static int store_progress(struct registry *r, struct agent *a, struct answer *ans)
{
	struct progress *p = &ans->p;

	if(!a->events)
		a->events = calloc(1, sizeof(*a->events));
	if(!a->events ||
	   events_diff(a->events, a->have_progress ? &a->progress : NULL, p, wall_seconds()) != 0) {
		answer_free(ans);
		return -ENOMEM;
	}
	if(!a->have_progress || ans->text_changed) {
		a->version++;
		a->text_at = wall_seconds();
	}
	if(!a->have_progress || ans->json_changed) {
		a->json_version++;
		a->json_at = wall_seconds();
	}
	if(a->error && strncmp(a->error, "progress: ", 10) == 0)
		agent_clear_error(a); /* a poll's failure no longer holds */
	agent_forget_progress(a);
	a->progress = *p;
	a->json = ans->json;
	a->text = ans->text;
	memset(ans, 0, sizeof(*ans));
	a->have_progress = true;
	if(strcmp(a->progress.status, "completed") == 0)
		agent_forget_config(r, a); /* the import changed it: read it anew */
	if(strcmp(a->progress.status, "failed") == 0)
		agent_error(a, "auto-fetch", "failed at stage %s: %s", failed_stage(&a->progress),
			    a->progress.error ? a->progress.error : "no reason given");
	return 0;
}

/* The API answered 400 to the poll of the agent's id: it forgot the import
 * (expired or unknown), which is over with an unknown outcome. Returns 0 or
 * -ENOMEM. Lock held. */
static int expire(struct agent *a)
{
	char *text = NULL;
	struct shared_text *t, *j;

	if(asprintf(&text, "expired\nprogress_id: %s\n", a->progress_id) < 0)
		text = NULL;
	t = text ? shared_text_wrap(text, strlen(text)) : NULL;
	j = shared_text_wrap(strdup(""), 0);
	if(!a->events)
		a->events = calloc(1, sizeof(*a->events));
	if(!t || !j || !a->events) {
		shared_text_unref(t);
		shared_text_unref(j);
		return -ENOMEM;
	}
	agent_forget_progress(a);
	a->text = t;
	a->json = j;
	a->expired = true;
	a->version++;
	a->json_version++;
	a->text_at = a->json_at = wall_seconds();
	/* readers of events see it as the last line, then end of file */
	events_push_status(a->events, "expired", a->text_at);
	log_info("agent %llu: progress_id %s expired: the API no longer knows it", (unsigned long long)a->id,
		 a->progress_id);
	return 0;
}

/* Brings the agent's progress up to date: polls when the last attempt is older
 * than poll_interval (or always with force), or shares the poll in flight.
 * Returns 0 (progress current, or no progress id) or the poll's -errno. Lock held. */
int poll_agent(struct registry *r, struct agent *a, const struct api_cancel *c, bool force)
{
	struct api_error e = {0};
	struct shared_text *old_text, *old_json;
	struct answer ans;
	char *json, *pid;
	bool overtaken;
	int rc;

again:
	overtaken = false;
	for(;;) {
		if(!a->progress_id)
			return 0;
		if(terminal(a))
			return 0;
		if(a->poll.busy) {
			int joined;

			stats_coalesced();
			a->users++;
			joined = flight_join(r, &a->poll, c);
			a->users--;
			if(joined != 0)
				return -EINTR;
			/* That reader gave up, not us; or a refetch overtook its poll,
			 * so there is no answer for the current id yet. */
			if(a->poll.err == -EINTR || (a->poll.err == 0 && !a->have_progress))
				continue;
			return a->poll.err;
		}
		if(!force && a->polled_at > 0 && now_seconds() - a->polled_at < r->cfg.poll_interval)
			return a->poll.err;
		break;
	}
	a->poll.busy = true;
	pid = strdup(a->progress_id);
	old_text = a->have_progress ? shared_text_ref(a->text) : NULL;
	old_json = a->have_progress ? shared_text_ref(a->json) : NULL;
	memset(&ans, 0, sizeof(ans));
	pthread_mutex_unlock(&r->lock);
	/* Decoding, rendering and comparing happen here, outside the lock. */
	rc = pid ? api_progress(r->api, c, a->id, pid, &ans.p, &json, &e) : -ENOMEM;
	if(rc == 0)
		rc = prepare_answer(&ans, json, pid, old_text, old_json);
	shared_text_unref(old_text);
	shared_text_unref(old_json);
	pthread_mutex_lock(&r->lock);
	if(!pid || !a->progress_id || strcmp(pid, a->progress_id) != 0) {
		/* A refetch replaced the id meanwhile: this answer is of the old
		 * import, so poll the new one (unless our caller gave up). */
		if(rc == 0)
			answer_free(&ans);
		if(!pid)
			rc = -ENOMEM;
		else if(rc != -EINTR)
			overtaken = true;
		/* Readers that joined go round again: there is no answer for the new id yet. */
		flight_end(r, &a->poll, rc == -EINTR ? -EINTR : 0);
	} else {
		if(rc == 0)
			rc = store_progress(r, a, &ans);
		else if(rc != -EINTR && rc != -ENOMEM)
			agent_error(a, "progress", "%s", e.msg);
		else if(rc == -ENOMEM)
			agent_error(a, "progress", "out of memory");
		if(rc == -EREMOTEIO)
			rc = expire(a); /* 400: the API no longer knows the id */
		if(rc != -EINTR)
			a->polled_at = now_seconds(); /* an interrupted poll does not count */
		flight_end(r, &a->poll, rc);
	}
	free(pid);
	if(overtaken)
		goto again;
	return rc;
}

/* What a view copies: references taken under the lock, copied out after it. */
struct grab {
	struct shared_text *text, *json; /* NULL: idle (no progress known) */
	unsigned text_version, json_version;
};

/* Takes references to the agent's current progress texts. O(1). Lock held. */
static void grab_progress(const struct agent *a, struct grab *g)
{
	g->text = a->have_progress || a->expired ? shared_text_ref(a->text) : NULL;
	g->json = a->have_progress || a->expired ? shared_text_ref(a->json) : NULL;
	g->text_version = a->version;
	g->json_version = a->json_version;
}

/* Copies what g holds into v and gives g's references back. No lock needed. */
static int view_of(struct grab *g, struct registry_view *v)
{
	memset(v, 0, sizeof(*v));
	v->text = strdup(g->text ? g->text->s : "idle\n");
	v->json = strdup(g->json ? g->json->s : "");
	v->text_version = g->text_version;
	v->json_version = g->json_version;
	shared_text_unref(g->text);
	shared_text_unref(g->json);
	memset(g, 0, sizeof(*g));
	if(!v->text || !v->json) {
		registry_view_free(v);
		return -ENOMEM;
	}
	v->text_len = strlen(v->text);
	v->json_len = strlen(v->json);
	return 0;
}

/* The agent, created if needed, with the lock taken. NULL (unlocked) when out of memory. */
struct agent *lock_agent(struct registry *r, uint64_t id)
{
	struct agent *a;

	registry_lock(r);
	a = agent_get(r, id);
	if(!a)
		pthread_mutex_unlock(&r->lock);
	return a;
}

int registry_progress(struct registry *r, const struct api_cancel *c, uint64_t id, struct registry_view *v)
{
	struct agent *a = lock_agent(r, id);
	struct grab g = {0};
	unsigned polls;
	int rc;

	memset(v, 0, sizeof(*v));
	if(!a)
		return -ENOMEM;
	polls = a->poll.gen;
	rc = poll_agent(r, a, c, false);
	if(rc == 0 && a->progress_id && a->poll.gen == polls)
		stats_cache_hit(STATS_CACHE_PROGRESS); /* no poll ended meanwhile: served from memory */
	if(rc == 0)
		grab_progress(a, &g);
	pthread_mutex_unlock(&r->lock);
	return rc == 0 ? view_of(&g, v) : rc;
}

int registry_refresh(struct registry *r, const struct api_cancel *c, uint64_t id)
{
	struct agent *a = lock_agent(r, id);
	int rc;

	if(!a)
		return -ENOMEM;
	rc = poll_agent(r, a, c, false);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* Polls the agent every poll_interval, sharing each poll with every other
 * reader, until done() says this reader has its answer (anything but
 * -EAGAIN); at most wait_timeout. A poll seen by another reader wakes it too.
 * Lock held. */
/* Whether a failed poll may pass (5xx, 429, a timeout, a refused or reset
 * connection, a malformed body): a wait goes on polling through it. */
static bool passing(int rc)
{
	switch(-rc) {
	case EIO:
	case EAGAIN:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case EPROTO:
		return true;
	default:
		return false;
	}
}

#define WAIT_BACKOFF_MAX 16 /* a failing API is polled at most every 16 poll_intervals */

int watch_agent(struct registry *r, struct agent *a, const struct api_cancel *c, const char *op,
		int (*done)(struct agent *a, void *arg), void *arg)
{
	double deadline = now_seconds() + r->cfg.wait_timeout;
	unsigned backoff = 1; /* poll_intervals between polls: doubles while the API fails */
	bool blocking = false;
	int rc, failed = 0;

	a->users++;
	for(;;) {
		unsigned seen;
		double next;

		rc = poll_agent(r, a, c, false);
		if(rc != 0 && !passing(rc))
			break;
		if(rc != 0) {
			/* The API hiccuped: not the import's end. Keep polling, backing
			 * off, until the status is terminal or wait_timeout runs out. */
			failed = rc;
			if(now_seconds() >= deadline)
				break; /* the last such errno; the poll wrote its error line */
			backoff = backoff * 2 > WAIT_BACKOFF_MAX ? WAIT_BACKOFF_MAX : backoff * 2;
		} else {
			backoff = 1;
			rc = done(a, arg);
			if(rc != -EAGAIN)
				break;
		}
		if(now_seconds() >= deadline) {
			agent_error(a, op, "timed out after %g s", r->cfg.wait_timeout);
			rc = -ETIMEDOUT;
			break;
		}
		if(!blocking) {
			/* Each blocked reader holds a FUSE worker: past the cap, the
			 * workers left must serve everyone else and the interrupts. */
			if(r->cfg.max_blocked && r->blocked >= r->cfg.max_blocked) {
				agent_error(a, op,
					    "%u readers are blocked in wait or events already, the most this "
					    "mount serves at once: try again later",
					    r->blocked);
				rc = -EAGAIN;
				break;
			}
			r->blocked++;
			stats_blocked(1);
			blocking = true;
		}
		next = fmin(a->polled_at + r->cfg.poll_interval * backoff, deadline);
		if(failed && next <= now_seconds())
			next = fmin(now_seconds() + WAIT_SLICE,
				    deadline); /* poll_interval 0: not a busy loop */
		seen = a->version;
		while(now_seconds() < next && !cancelled(c) && a->version == seen)
			wait_changed(r, next - now_seconds());
		if(cancelled(c)) {
			rc = -EINTR;
			break;
		}
	}
	if(blocking) {
		r->blocked--;
		stats_blocked(-1);
	}
	a->users--;
	return rc;
}

/* registry_wait()'s answer: the final view, once the import ended. Lock held. */
static int wait_done(struct agent *a, void *arg)
{
	struct grab *g = arg;

	if(a->progress_id && !terminal(a))
		return -EAGAIN;
	if(a->expired)
		return -ESTALE; /* the outcome is unknown: the API forgot the id */
	grab_progress(a, g);
	if(terminal(a) && strcmp(a->progress.status, "failed") == 0)
		return -EREMOTEIO; /* the reason is in the error line, set by the poll */
	return 0;
}

int registry_wait(struct registry *r, const struct api_cancel *c, uint64_t id, struct registry_view *v)
{
	struct agent *a = lock_agent(r, id);
	struct grab g = {0};
	int rc;

	memset(v, 0, sizeof(*v));
	if(!a)
		return -ENOMEM;
	rc = watch_agent(r, a, c, "wait", wait_done, &g);
	pthread_mutex_unlock(&r->lock);
	if(rc == 0 || rc == -EREMOTEIO) {
		int copied = view_of(&g, v);

		if(copied != 0)
			rc = copied;
	}
	return rc;
}

int registry_refetch(struct registry *r, const struct api_cancel *c, uint64_t id)
{
	struct api_error e = {0};
	struct agent *a = lock_agent(r, id);
	char *pid = NULL;
	int rc;

	if(!a)
		return -ENOMEM;
	if(a->refetching) {
		agent_error(a, "refetch", "a refetch of this agent is already being sent");
		pthread_mutex_unlock(&r->lock);
		return -EBUSY;
	}
	a->refetching = true;
	/* A fresh poll, unless the stored import is known to be over. */
	rc = poll_agent(r, a, c, true);
	if(rc == -ENOENT) {
		rc = 0; /* the API does not know that import (any more): it is over */
	} else if(rc == 0 && a->progress_id && !terminal(a)) {
		agent_error(a, "refetch", "an auto-fetch is already running (progress_id %s)",
			    a->progress_id);
		rc = -EBUSY;
	}
	if(rc != 0)
		goto out;
	pthread_mutex_unlock(&r->lock);
	rc = api_auto_fetch(r->api, c, id, &pid, &e);
	pthread_mutex_lock(&r->lock);
	if(rc != 0) {
		if(rc != -EINTR)
			agent_error(a, "refetch", "%s", e.msg);
		goto out;
	}
	if(agent_set_progress_id(r, a, pid) != 0) {
		agent_error(a, "refetch", "started, but out of memory to keep its progress id");
		rc = -ENOMEM;
		goto out;
	}
	a->known = true;
	agent_forget_progress(a);
	if(a->events)
		events_clear(a->events);
	a->import_gen++;
	a->version++;
	a->json_version++;
	a->text_at = a->json_at = wall_seconds();
	a->polled_at = 0; /* the new import is polled at the next read */
	a->poll.err = 0;
	agent_clear_error(a);
	log_info("agent %llu: auto-fetch started, progress_id %s", (unsigned long long)id, pid);
	rc = save_state(r);
	if(rc != 0) {
		agent_error(a, "refetch", "started, but the progress id could not be saved in %s: %s",
			    r->state_dir, strerror(-rc));
		rc = -EIO;
	}
out:
	a->refetching = false;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
int registry_error(struct registry *r, uint64_t id, char **text, size_t *len)
{
	struct agent *a;
	int rc = 0;

	registry_lock(r);
	a = agent_find(r, id);
	if(a && a->error) {
		if(asprintf(text, "%s\n", a->error) < 0)
			rc = -ENOMEM;
	} else {
		*text = strdup("");
		if(!*text)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&r->lock);
	*len = rc == 0 ? strlen(*text) : 0;
	return rc;
}

void registry_note_error(struct registry *r, uint64_t id, const char *op, const char *message)
{
	struct agent *a = lock_agent(r, id);

	if(!a)
		return;
	agent_error(a, op, "%s", message);
	pthread_mutex_unlock(&r->lock);
}

size_t registry_known_size(struct registry *r, uint64_t id, enum registry_file f)
{
	const struct agent *a = NULL;
	size_t size = 0;

	registry_lock(r);
	a = agent_find(r, id);
	switch(f) {
	case REGISTRY_NONE:
		break;
	case REGISTRY_PROGRESS:
		/* Not polled yet: a page, so that readers trusting st_size still read it all. */
		size = !a || !a->progress_id		? strlen("idle\n")
		       : a->have_progress || a->expired ? a->text->len
							: 4096;
		break;
	case REGISTRY_PROGRESS_JSON:
		size = !a || !a->progress_id ? 0 : a->have_progress || a->expired ? a->json->len : 4096;
		break;
	case REGISTRY_ERROR:
		size = a && a->error ? strlen(a->error) + 1 : 0;
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return size;
}
