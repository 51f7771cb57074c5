/* jobs.c - the job layer (jobs.h): ids, coalesced polls, snapshots, wait,
 * events and the state file, the same for every kind of job (job_kinds.h).
 *
 * A poll in flight is marked on its job, and readers that arrive meanwhile
 * wait on the registry's condition for its result instead of sending their
 * own. An answer is decoded, rendered and compared outside the lock; storing
 * it under the lock is a swap of references.
 */
#include "jobs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/events.h"
#include "cekurafs/ids.h"
#include "cekurafs/log.h"
#include "cekurafs/stats.h"

#define EVENTS_PER_READ	 256 /* lines one read of `events` copies at most */
#define WAIT_BACKOFF_MAX 16  /* a failing API is polled at most every 16 poll_intervals */
#define UNKNOWN_SIZE                                                                                         \
	4096 /* the size of a text not polled yet: a page, so readers trusting st_size read it all */

/* Most jobs of keyed kinds (results) the mount holds, and most bytes their
 * answers may hold: past either, those used longest ago that nobody uses are
 * let go (each is fetched again when read). A result's detail is at most 64
 * MiB as received, so the newest always fits. */
#define KEYED_MAX	4096
#define KEYED_BYTES_MAX ((size_t)256 << 20)

/* One job of an agent. Owned by its agent: agent->jobs[kind] for a kind
 * per agent, made at its first start or when the state file names it, freed
 * with the agent; for a keyed kind, in the agent's keyed list, made when its
 * item is first read or started, let go by jobs_trim() once nobody used it
 * for a while (it holds a cache of the API's answer, nothing else). */
struct job {
	struct agent *agent; /* the owner */
	const struct job_type *type;
	uint64_t item;			 /* a keyed kind's item (the result id), else 0 */
	struct job *next;		 /* in the agent's keyed list */
	struct job *lru_prev, *lru_next; /* a keyed job: in the store's list, least recently used first */
	bool in_lru;
	size_t answer_bytes;	   /* a keyed job: what its answer holds, counted in the store */
	unsigned users;		   /* threads using it with the lock released: trimming leaves it */
	double used_at;		   /* monotonic time of its last view or wait (keyed: for trimming) */
	struct job_detail *detail; /* the kind's decoded answer, or NULL */
	bool have_answer;	   /* progress, json and text hold the last poll of id */
	/* The API no longer knows id (400 on its poll): the job is over, outcome
	 * unknown; text is "expired\n<id_label>: <id>\n", json "". Cleared by the next start. */
	bool expired;
	bool starting;	 /* a start (the POST) is in flight */
	size_t store_at; /* where it is in the store's list of jobs with an id; SIZE_MAX: not there */
	char *id;	 /* NULL until the first start */
	struct progress progress;
	struct shared_text *json, *text;
	unsigned version;	  /* bumped whenever text changes: wakes followers; poll(2) compares it */
	unsigned json_version;	  /* bumped whenever json changes */
	unsigned gen;		  /* bumped when a start replaces the job */
	struct flight poll;	  /* the poll; poll.err is the last attempt's result */
	double text_at, json_at;  /* wall-clock time each last changed (0: not since start): the mtimes */
	double polled_at;	  /* monotonic time of the last poll attempt */
	struct event_log *events; /* the changes seen of the current job; NULL until the first */
};

/* The jobs that hold an id (borrowed from their agents), for the state file,
 * and the batches its saves are made in. */
struct job_store {
	struct job **with_id;
	size_t n, cap;
	struct job *lru_head, *lru_tail; /* every keyed job, least recently used first */
	size_t nkeyed, keyed_bytes;
	struct {
		unsigned long wanted; /* bumped each time an id is stored */
		unsigned long done;   /* the highest `wanted` a finished save covered */
		bool busy;	      /* a save is being written (lock released) */
		int rc;		      /* that save's result */
	} save;
};

int jobs_init(struct registry *r)
{
	r->jobs = calloc(1, sizeof(*r->jobs));
	return r->jobs ? 0 : -ENOMEM;
}

void jobs_fini(struct registry *r)
{
	if(!r->jobs)
		return;
	free(r->jobs->with_id);
	free(r->jobs);
	r->jobs = NULL;
}

/* The job of kind (and item, for a keyed kind) when the agent has it. */
static struct job *job_of(const struct agent *a, enum job_kind kind, uint64_t item)
{
	if(!a)
		return NULL;
	if(!job_type_of(kind)->keyed)
		return a->jobs[kind];
	for(struct job *j = a->keyed; j; j = j->next)
		if(j->item == item && j->type == job_type_of(kind))
			return j;
	return NULL;
}

static void job_free(struct job_store *s, struct job *j);

/* Whether nobody needs the job now: it may be let go. Lock held. */
static bool job_unused(const struct job *j)
{
	return j->users == 0 && !j->poll.busy && !j->starting;
}

static void lru_unlink(struct job_store *s, struct job *j)
{
	if(!j->in_lru)
		return;
	if(j->lru_prev)
		j->lru_prev->lru_next = j->lru_next;
	else
		s->lru_head = j->lru_next;
	if(j->lru_next)
		j->lru_next->lru_prev = j->lru_prev;
	else
		s->lru_tail = j->lru_prev;
	j->lru_prev = j->lru_next = NULL;
	j->in_lru = false;
	s->nkeyed--;
}

static void lru_append(struct job_store *s, struct job *j)
{
	j->lru_prev = s->lru_tail;
	j->lru_next = NULL;
	if(s->lru_tail)
		s->lru_tail->lru_next = j;
	else
		s->lru_head = j;
	s->lru_tail = j;
	j->in_lru = true;
	s->nkeyed++;
}

/* The job was used now: it goes to the end of the store's list. Lock held. */
static void touch(struct job_store *s, struct job *j)
{
	j->used_at = clock_mono();
	if(j->in_lru) {
		lru_unlink(s, j);
		lru_append(s, j);
	}
}

/* Takes a keyed job out of its agent's list and frees it. Lock held. */
static void let_go(struct job_store *s, struct job *j)
{
	for(struct job **p = &j->agent->keyed; *p; p = &(*p)->next)
		if(*p == j) {
			*p = j->next;
			break;
		}
	job_free(s, j);
}

/* Lets go of the keyed jobs used longest ago that nobody uses while the
 * store holds more than KEYED_MAX of them or KEYED_BYTES_MAX of answers. Lock held. */
static void evict(struct job_store *s)
{
	struct job *j = s->lru_head;

	while(j && (s->nkeyed > KEYED_MAX || s->keyed_bytes > KEYED_BYTES_MAX)) {
		struct job *next = j->lru_next;

		if(job_unused(j))
			let_go(s, j);
		j = next;
	}
}

void jobs_trim(struct registry *r, struct agent *a)
{
	double now = clock_mono();

	for(struct job **p = &a->keyed; *p;) {
		struct job *j = *p;

		if(job_unused(j) && now - j->used_at > r->opt.list_ttl) {
			*p = j->next;
			job_free(r->jobs, j);
		} else {
			p = &j->next;
		}
	}
}

/* The agent's own job of this kind (for a keyed kind, the one holding the
 * id last started), made when missing. NULL when out of memory. */
static struct job *job_get(struct agent *a, enum job_kind kind)
{
	struct job *j = a->jobs[kind];

	if(j)
		return j;
	j = calloc(1, sizeof(*j));
	if(!j)
		return NULL;
	j->agent = a;
	j->type = job_type_of(kind);
	j->store_at = SIZE_MAX;
	a->jobs[kind] = j;
	return j;
}

/* The keyed job of item, made when missing (its id is the item). NULL when out of memory. Lock held. */
static struct job *keyed_get(struct registry *r, struct agent *a, enum job_kind kind, uint64_t item)
{
	struct job *j = job_of(a, kind, item);

	if(j)
		return j;
	jobs_trim(r, a); /* what this agent's readers left unused for list_ttl */
	j = calloc(1, sizeof(*j));
	if(!j || asprintf(&j->id, "%llu", (unsigned long long)item) < 0) {
		free(j);
		return NULL;
	}
	j->agent = a;
	j->type = job_type_of(kind);
	j->item = item;
	j->store_at = SIZE_MAX;
	j->used_at = clock_mono();
	j->next = a->keyed;
	a->keyed = j;
	j->users++; /* not evicted as it is made */
	lru_append(r->jobs, j);
	evict(r->jobs);
	j->users--;
	return j;
}

static void forget_answer(struct job_store *s, struct job *j)
{
	s->keyed_bytes -= j->answer_bytes;
	j->answer_bytes = 0;
	progress_free(&j->progress);
	job_detail_unref(j->detail);
	j->detail = NULL;
	reg_text_unref(j->json);
	reg_text_unref(j->text);
	j->json = NULL;
	j->text = NULL;
	j->have_answer = false;
	j->expired = false;
}

/* Gives the job an id (owned now), listing it in the store. Returns 0 or
 * -ENOMEM (id freed). */
static int set_id(struct job_store *s, struct job *j, char *id)
{
	if(j->store_at == SIZE_MAX) {
		if(s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			struct job **p = realloc(s->with_id, cap * sizeof(*p));

			if(!p) {
				free(id);
				return -ENOMEM;
			}
			s->with_id = p;
			s->cap = cap;
		}
		j->store_at = s->n;
		s->with_id[s->n++] = j;
	}
	free(j->id);
	j->id = id;
	return 0;
}

static void job_free(struct job_store *s, struct job *j)
{
	if(!j)
		return;
	if(j->store_at != SIZE_MAX) {
		/* the last one takes its place in the list */
		s->with_id[j->store_at] = s->with_id[--s->n];
		s->with_id[j->store_at]->store_at = j->store_at;
	}
	if(j->events)
		events_clear(j->events);
	free(j->events);
	forget_answer(s, j);
	lru_unlink(s, j);
	free(j->id);
	free(j);
}

void jobs_agent_free(struct registry *r, struct agent *a)
{
	for(int k = 0; k < JOB_NKINDS; k++) {
		job_free(r->jobs, a->jobs[k]);
		a->jobs[k] = NULL;
	}
	while(a->keyed) {
		struct job *j = a->keyed;

		a->keyed = j->next;
		job_free(r->jobs, j);
	}
}

bool jobs_agent_idle(const struct agent *a)
{
	if(a->keyed)
		return false; /* jobs_trim() lets them go first */
	for(int k = 0; k < JOB_NKINDS; k++) {
		const struct job *j = a->jobs[k];

		if(j && (j->id || j->events || j->starting || j->poll.busy))
			return false;
	}
	return true;
}

bool jobs_agent_has_id(const struct agent *a)
{
	for(int k = 0; k < JOB_NKINDS; k++)
		if(a->jobs[k] && a->jobs[k]->id)
			return true;
	return false;
}

int jobs_seed(struct registry *r, struct agent *a, const struct state_entry *e)
{
	struct job_store *s = r->jobs;
	int kind = job_kind_named(e->kind);
	struct job *j;
	char *id;

	if(kind < 0)
		return 0; /* state_load_kinds() took only the kinds of job_kind_names() */
	j = job_get(a, (enum job_kind)kind);
	id = strdup(e->progress_id);
	if(!j || !id) {
		free(id);
		return -ENOMEM;
	}
	return set_id(s, j, id);
}

static bool terminal(const struct job *j)
{
	return j->expired || (j->have_answer && j->type->terminal(j->progress.status));
}

void jobs_drop_caches(struct agent *a)
{
	for(int k = 0; k < JOB_NKINDS; k++)
		if(a->jobs[k] && !terminal(a->jobs[k]))
			a->jobs[k]->polled_at = 0;
	for(struct job *j = a->keyed; j; j = j->next)
		j->polled_at = 0; /* a result's detail is a cache: all of it is asked again */
}

/* The kind's least time between two polls, and longest wait. */
static double interval_of(const struct registry *r, const struct job_type *type)
{
	return type->interval ? type->interval(&r->opt) : r->opt.poll_interval;
}

static double patience_of(const struct registry *r, const struct job_type *type)
{
	return type->patience ? type->patience(&r->opt) : r->opt.wait_timeout;
}

/* The operation of a job's error lines: op, after "<end_op>/<item>" for a keyed kind. */
static const char *op_of(const struct job *j, const char *op, char *buf, size_t size)
{
	if(!j->type->keyed)
		return op;
	if(op == j->type->end_op)
		snprintf(buf, size, "%s/%llu", j->type->end_op, (unsigned long long)j->item);
	else
		snprintf(buf, size, "%s/%llu/%s", j->type->end_op, (unsigned long long)j->item, op);
	return buf;
}

/* ---- the state file ---- */

static int cmp_entry(const void *a, const void *b)
{
	const struct state_entry *x = a, *y = b;

	if(x->agent_id != y->agent_id)
		return (x->agent_id > y->agent_id) - (x->agent_id < y->agent_id);
	if(!x->kind || !y->kind)
		return (x->kind != NULL) - (y->kind != NULL);
	return strcmp(x->kind, y->kind);
}

static int copy_entry(struct state_entry *to, uint64_t agent, const char *kind, const char *id)
{
	to->agent_id = agent;
	to->kind = kind ? strdup(kind) : NULL;
	to->progress_id = strdup(id);
	return to->progress_id && (!kind || to->kind) ? 0 : -ENOMEM;
}

/* Writes the state file from a copy of every id, the lock released meanwhile. Lock held. */
static int write_state(struct registry *r)
{
	struct job_store *s = r->jobs;
	size_t n = 0;
	struct state_entry *entries = calloc(s->n ? s->n : 1, sizeof(*entries));
	int rc = 0;

	if(!entries)
		return -ENOMEM;
	/* n counts a half-made entry too, so that state_free() frees it */
	for(size_t i = 0; rc == 0 && i < s->n; i++, n++)
		rc = copy_entry(&entries[n], s->with_id[i]->agent->id, s->with_id[i]->type->name,
				s->with_id[i]->id);
	pthread_mutex_unlock(&r->lock);
	if(rc == 0) {
		qsort(entries, n, sizeof(*entries), cmp_entry);
		rc = state_save(r->state_dir, entries, n);
	}
	state_free(entries, n);
	pthread_mutex_lock(&r->lock);
	return rc;
}

/* Makes sure every id stored so far is on disk. Saves are batched: one
 * writer saves every id stored meanwhile, while the ids stored during its
 * write wait for the next one, so N starts at once cost far fewer than N
 * fsyncs and none holds the lock across the disk. Lock held. */
static int save_state(struct registry *r)
{
	struct job_store *s = r->jobs;
	unsigned long mine = ++s->save.wanted;

	if(!r->state_dir)
		return 0;
	while(s->save.done < mine) {
		unsigned long covers;
		int rc;

		if(s->save.busy) {
			reg_wait(r, WAIT_SLICE); /* disk time: bounded, and the POST is already made */
			continue;
		}
		s->save.busy = true;
		covers = s->save.wanted;
		rc = write_state(r);
		s->save.busy = false;
		s->save.done = covers;
		s->save.rc = rc;
		pthread_cond_broadcast(&r->changed);
	}
	/* the save that covered ours, or a later one that covered it too */
	return s->save.rc;
}

/* ---- polling ---- */

/* A poll's answer, made ready outside the lock: decoded, rendered, and
 * compared with the texts it replaces, so that storing it is cheap. */
struct answer {
	struct progress p;
	struct job_detail *detail;
	struct shared_text *text, *json;
	bool text_changed, json_changed;
};

static void answer_free(struct answer *ans)
{
	progress_free(&ans->p);
	job_detail_unref(ans->detail);
	reg_text_unref(ans->text);
	reg_text_unref(ans->json);
	memset(ans, 0, sizeof(*ans));
}

/* Renders the answer to a poll of id (json is the body, taken) and compares
 * it with the texts it would replace. No lock held. Returns 0 or -ENOMEM. */
static int prepare_answer(const struct job_type *type, struct answer *ans, char *json, const char *id,
			  const struct shared_text *old_text, const struct shared_text *old_json)
{
	char *text = type->render(&ans->p, json, ans->detail, id);

	ans->text = text ? reg_text_wrap(text, strlen(text)) : NULL;
	ans->json = reg_text_wrap(json, strlen(json));
	if(!ans->text || !ans->json) {
		answer_free(ans);
		return -ENOMEM;
	}
	ans->text_changed = !reg_text_same(old_text, ans->text);
	ans->json_changed = !reg_text_same(old_json, ans->json);
	return 0;
}

/* Stores a successful poll of the job's id (the answer is taken). Work under
 * the lock is bounded by the stage cap (api.h). Returns 0 or -ENOMEM. Lock held. */
static int store_answer(struct job_store *s, struct job *j, struct answer *ans)
{
	const struct job_type *type = j->type;
	struct progress *p = &ans->p;

	if(!j->events)
		j->events = calloc(1, sizeof(*j->events));
	if(!j->events || events_diff(j->events, j->have_answer ? &j->progress : NULL, p, clock_wall()) != 0) {
		answer_free(ans);
		return -ENOMEM;
	}
	if(!j->have_answer || ans->text_changed) {
		j->version++;
		j->text_at = clock_wall();
	}
	if(!j->have_answer || ans->json_changed) {
		j->json_version++;
		j->json_at = clock_wall();
	}
	reg_agent_clear_error(j->agent, type->poll_op); /* a poll's failure no longer holds */
	forget_answer(s, j);
	j->progress = *p;
	j->detail = ans->detail;
	if(j->in_lru) {
		j->answer_bytes = (j->detail ? j->detail->bytes : 0) + ans->text->len + ans->json->len;
		s->keyed_bytes += j->answer_bytes;
	}
	j->json = ans->json;
	j->text = ans->text;
	memset(ans, 0, sizeof(*ans));
	j->have_answer = true;
	if(type->terminal(j->progress.status)) {
		if(type->failed(&j->progress, j->detail)) {
			char why[600], op[64];

			type->failure(&j->progress, j->detail, why, sizeof(why));
			reg_agent_error(j->agent, op_of(j, type->end_op, op, sizeof(op)), "%s", why);
		} else if(type->changes_agent) {
			j->agent->content_gen++; /* the job changed the agent: read it anew */
		}
	}
	return 0;
}

/* The API answered 400 to the poll of the job's id: it forgot the job
 * (expired or unknown), which is over with an unknown outcome. Returns 0 or
 * -ENOMEM. Lock held. */
static int expire(struct job_store *s, struct job *j)
{
	char *text = NULL;
	struct shared_text *t, *js;

	if(asprintf(&text, "expired\n%s: %s\n", j->type->id_label, j->id) < 0)
		text = NULL;
	t = text ? reg_text_wrap(text, strlen(text)) : NULL;
	js = reg_text_wrap(strdup(""), 0);
	if(!j->events)
		j->events = calloc(1, sizeof(*j->events));
	if(!t || !js || !j->events) {
		reg_text_unref(t);
		reg_text_unref(js);
		return -ENOMEM;
	}
	forget_answer(s, j);
	j->text = t;
	j->json = js;
	j->expired = true;
	j->version++;
	j->json_version++;
	j->text_at = j->json_at = clock_wall();
	/* readers of events see it as the last line, then end of file */
	events_push_status(j->events, "expired", j->text_at);
	log_info("agent %llu: %s %s expired: the API no longer knows it", (unsigned long long)j->agent->id,
		 j->type->id_label, j->id);
	return 0;
}

/* How a poll is asked for: only when due, always, or when due or the
 * terminal answer held is older than list_ttl (an open, for a kind that
 * refreshes terminal answers). */
enum poll_need { POLL_DUE, POLL_FORCE, POLL_OPEN };

/* Whether the answer held needs no poll now: none is due. Lock held. */
static bool answer_current(const struct registry *r, const struct job *j, enum poll_need need)
{
	double age = clock_mono() - j->polled_at;

	if(terminal(j))
		return !(need == POLL_OPEN && j->type->refresh_terminal && age >= r->opt.list_ttl);
	if(need == POLL_FORCE || j->polled_at <= 0)
		return false;
	if(j->poll.err == -ENOENT && j->type->keyed)
		return age < fmax(r->opt.list_ttl, interval_of(r, j->type)); /* remembered for list_ttl */
	return age < interval_of(r, j->type);
}

/* Brings the job's answer up to date: polls when the last attempt is older
 * than the kind's interval (or as need says), or shares the poll in flight.
 * Returns 0 (answer current, or no id) or the poll's -errno. Lock held. */
static int job_poll(struct registry *r, struct job *j, const struct api_cancel *c, enum poll_need need)
{
	struct api_error e = {0};
	struct shared_text *old_text, *old_json;
	struct answer ans;
	char *json, *id;
	bool overtaken;
	int rc;

again:
	overtaken = false;
	for(;;) {
		if(!j->id)
			return 0;
		if(j->poll.busy) {
			int joined;

			stats_coalesced();
			j->agent->users++;
			j->users++;
			joined = reg_flight_join(r, &j->poll, c);
			j->users--;
			j->agent->users--;
			if(joined != 0)
				return -EINTR;
			/* That reader gave up, not us; or a start overtook its poll,
			 * so there is no answer for the current id yet. */
			if(j->poll.err == -EINTR || (j->poll.err == 0 && !j->have_answer))
				continue;
			return j->poll.err;
		}
		if(answer_current(r, j, need))
			return terminal(j) ? 0 : j->poll.err;
		break;
	}
	j->poll.busy = true;
	id = strdup(j->id);
	old_text = j->have_answer ? reg_text_ref(j->text) : NULL;
	old_json = j->have_answer ? reg_text_ref(j->json) : NULL;
	memset(&ans, 0, sizeof(ans));
	pthread_mutex_unlock(&r->lock);
	/* Decoding, rendering and comparing happen here, outside the lock. */
	rc = id ? j->type->poll(r->api, c, j->agent->id, id, &ans.p, &json, &ans.detail, &e) : -ENOMEM;
	if(rc == 0)
		rc = prepare_answer(j->type, &ans, json, id, old_text, old_json);
	reg_text_unref(old_text);
	reg_text_unref(old_json);
	pthread_mutex_lock(&r->lock);
	if(!id || !j->id || strcmp(id, j->id) != 0) {
		/* A start replaced the id meanwhile: this answer is of the old
		 * job, so poll the new one (unless our caller gave up). */
		if(rc == 0)
			answer_free(&ans);
		if(!id)
			rc = -ENOMEM;
		else if(rc != -EINTR)
			overtaken = true;
		/* Readers that joined go round again: there is no answer for the new id yet. */
		reg_flight_end(r, &j->poll, rc == -EINTR ? -EINTR : 0);
	} else {
		if(rc == 0)
			rc = store_answer(r->jobs, j, &ans);
		else if(rc != -EINTR && rc != -ENOMEM)
			reg_agent_error(j->agent, j->type->poll_op, "%s", e.msg);
		else if(rc == -ENOMEM)
			reg_agent_error(j->agent, j->type->poll_op, "out of memory");
		if(rc == 0 && j->in_lru)
			evict(r->jobs); /* answers grew: j itself is busy, so stays */
		if(rc == -EREMOTEIO && j->type->expires)
			rc = expire(r->jobs, j); /* 400: the API no longer knows the id */
		if(rc != -EINTR)
			j->polled_at = clock_mono(); /* an interrupted poll does not count */
		reg_flight_end(r, &j->poll, rc);
	}
	free(id);
	if(overtaken)
		goto again;
	return rc;
}

/* ---- views: references taken under the lock, copied out with it released ---- */

/* What a view copies: references taken under the lock, copied out after it. */
struct grab {
	const char *idle;		 /* shown when text is NULL */
	struct shared_text *text, *json; /* NULL: no answer known */
	struct job_detail *detail;	 /* NULL: none */
	unsigned text_version, json_version;
	bool terminal;
};

/* Takes references to the job's current texts. O(1). Lock held. */
static void grab_answer(const struct job_type *type, struct job *j, struct grab *g)
{
	bool have = j && (j->have_answer || j->expired);

	g->idle = type->idle;
	g->text = have ? reg_text_ref(j->text) : NULL;
	g->json = have ? reg_text_ref(j->json) : NULL;
	g->detail = have ? job_detail_ref(j->detail) : NULL;
	g->text_version = j ? j->version : 0;
	g->json_version = j ? j->json_version : 0;
	g->terminal = j && terminal(j);
}

/* Copies what g holds into v and gives g's references back. No lock needed. */
static int view_of(struct grab *g, struct job_view *v)
{
	memset(v, 0, sizeof(*v));
	v->text = strdup(g->text ? g->text->s : g->idle);
	v->json = strdup(g->json ? g->json->s : "");
	v->text_version = g->text_version;
	v->json_version = g->json_version;
	v->detail = g->detail; /* the reference moves */
	v->terminal = g->terminal;
	reg_text_unref(g->text);
	reg_text_unref(g->json);
	memset(g, 0, sizeof(*g));
	if(!v->text || !v->json) {
		job_view_free(v);
		return -ENOMEM;
	}
	v->text_len = strlen(v->text);
	v->json_len = strlen(v->json);
	return 0;
}

/* The job of kind and item, made for a keyed kind (whose item is its id). NULL when out of memory, or no such
 * job. */
static struct job *find_or_make(struct registry *r, struct agent *a, enum job_kind kind, uint64_t item)
{
	if(!a)
		return NULL;
	if(job_type_of(kind)->keyed)
		return item ? keyed_get(r, a, kind, item) : NULL;
	return job_of(a, kind, 0);
}

int jobs_view(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	      uint64_t item, struct job_view *v)
{
	struct job *j = find_or_make(r, a, kind, item);
	struct grab g = {0};
	unsigned polls;
	int rc;

	memset(v, 0, sizeof(*v));
	if(!j && a && job_type_of(kind)->keyed && item)
		return -ENOMEM;
	if(j)
		touch(r->jobs, j);
	polls = j ? j->poll.gen : 0;
	rc = j ? job_poll(r, j, c, POLL_OPEN) : 0;
	if(rc == 0 && j && j->id && j->poll.gen == polls)
		stats_cache_hit(STATS_CACHE_PROGRESS); /* no poll ended meanwhile: served from memory */
	if(rc == 0)
		grab_answer(job_type_of(kind), j, &g);
	pthread_mutex_unlock(&r->lock);
	rc = rc == 0 ? view_of(&g, v) : rc;
	pthread_mutex_lock(&r->lock);
	return rc;
}

int jobs_refresh(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
		 uint64_t item)
{
	struct job *j = job_of(a, kind, item);

	return j ? job_poll(r, j, c, POLL_DUE) : 0;
}

/* ---- following a job: wait and events ---- */

/* Whether a failed poll may pass (5xx, 429, a timeout, a refused or reset
 * connection, a malformed body): a follower goes on polling through it. */
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

/* Polls the job every poll_interval, sharing each poll with every other
 * reader, until done() says this reader has its answer (anything but
 * -EAGAIN); at most wait_timeout. A poll seen by another reader wakes it too.
 * op names the file in error lines. Lock held. */
static int follow(struct registry *r, struct job *j, const struct api_cancel *c, const char *op_word,
		  int (*done)(struct job *j, void *arg), void *arg)
{
	double patience = patience_of(r, j->type), interval = interval_of(r, j->type);
	double deadline = clock_mono() + patience;
	unsigned backoff = 1; /* poll_intervals between polls: doubles while the API fails */
	bool blocking = false;
	int rc, failed = 0;
	char buf[64];
	const char *op = op_of(j, op_word, buf, sizeof(buf));

	j->agent->users++;
	j->users++;
	for(;;) {
		unsigned seen;
		double next;

		touch(r->jobs, j);
		rc = job_poll(r, j, c, POLL_DUE);
		if(rc != 0 && !passing(rc))
			break;
		if(rc != 0) {
			/* The API hiccuped: not the job's end. Keep polling, backing
			 * off, until the status is terminal or wait_timeout runs out. */
			failed = rc;
			if(clock_mono() >= deadline)
				break; /* the last such errno; the poll wrote its error line */
			backoff = backoff * 2 > WAIT_BACKOFF_MAX ? WAIT_BACKOFF_MAX : backoff * 2;
		} else {
			backoff = 1;
			rc = done(j, arg);
			if(rc != -EAGAIN)
				break;
		}
		if(clock_mono() >= deadline) {
			reg_agent_error(j->agent, op, "timed out after %g s", patience);
			rc = -ETIMEDOUT;
			break;
		}
		if(!blocking) {
			/* Each blocked reader holds a FUSE worker: past the cap, the
			 * workers left must serve everyone else and the interrupts. */
			if(r->opt.max_blocked && r->blocked >= r->opt.max_blocked) {
				reg_agent_error(
					j->agent, op,
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
		next = fmin(j->polled_at + interval * backoff, deadline);
		if(failed && next <= clock_mono())
			next = fmin(clock_mono() + WAIT_SLICE,
				    deadline); /* poll_interval 0: not a busy loop */
		seen = j->version;
		while(clock_mono() < next && !reg_cancelled(c) && j->version == seen)
			reg_wait(r, next - clock_mono());
		if(reg_cancelled(c)) {
			rc = -EINTR;
			break;
		}
	}
	if(blocking) {
		r->blocked--;
		stats_blocked(-1);
	}
	j->users--;
	j->agent->users--;
	return rc;
}

/* jobs_wait()'s answer: the final view, once the job ended. Lock held. */
static int wait_done(struct job *j, void *arg)
{
	struct grab *g = arg;

	if(j->id && !terminal(j))
		return -EAGAIN;
	if(j->expired)
		return -ESTALE; /* the outcome is unknown: the API forgot the id */
	grab_answer(j->type, j, g);
	if(terminal(j) && j->type->failed(&j->progress, j->detail))
		return -EREMOTEIO; /* the reason is in the error line, set by the poll */
	return 0;
}

int jobs_wait(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	      uint64_t item, struct job_view *v)
{
	struct job *j = find_or_make(r, a, kind, item);
	struct grab g = {0};
	int rc;

	memset(v, 0, sizeof(*v));
	if(!j && a && job_type_of(kind)->keyed && item)
		return -ENOMEM;
	if(j) {
		rc = follow(r, j, c, j->type->wait_op, wait_done, &g);
	} else {
		grab_answer(job_type_of(kind), NULL, &g); /* no job: idle at once */
		rc = 0;
	}
	if(rc == 0 || rc == -EREMOTEIO) {
		int copied;

		pthread_mutex_unlock(&r->lock);
		copied = view_of(&g, v);
		pthread_mutex_lock(&r->lock);
		if(copied != 0)
			rc = copied;
	}
	return rc;
}

/* What a reader at cur may read now without waiting. Lock held. */
static int events_now(struct job *j, struct job_cursor *cur, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	if(!cur->started) {
		if(!j || !j->id) {
			cur->done = true; /* no job known: end of file at once */
			return 0;
		}
		if(j->expired) {
			/* what was seen of it, ending with `status expired`, then end of file */
			cur->started = cur->done = true;
			cur->gen = j->gen;
			return events_lines(j->events, 0, j->events->n, text, len);
		}
		if(!j->have_answer)
			return -EAGAIN; /* not polled yet */
		cur->started = true;
		cur->gen = j->gen;
		cur->at = j->events ? j->events->n : 0;
		if(terminal(j))
			cur->done = true; /* the whole picture, then end of file */
		return events_picture(j->events ? j->events : &(struct event_log){0}, &j->progress,
				      clock_wall(), text, len);
	}
	if(cur->done || !j || cur->gen != j->gen)
		return 0;
	if(j->events && cur->at < j->events->n) {
		/* at most EVENTS_PER_READ lines under the lock: the rest at the next read */
		size_t to =
			j->events->n - cur->at > EVENTS_PER_READ ? cur->at + EVENTS_PER_READ : j->events->n;
		int rc = events_lines(j->events, cur->at, to, text, len);

		if(rc == 0)
			cur->at = to;
		return rc;
	}
	if(terminal(j)) {
		cur->done = true;
		return 0;
	}
	return -EAGAIN;
}

/* What jobs_events() reads into. */
struct events_read {
	struct job_cursor *cur;
	char **text;
	size_t *len;
};

static int events_done(struct job *j, void *arg)
{
	struct events_read *er = arg;

	return events_now(j, er->cur, er->text, er->len);
}

int jobs_events(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
		uint64_t item, struct job_cursor *cur, char **text, size_t *len)
{
	struct events_read er = {.cur = cur, .text = text, .len = len};
	struct job *j = job_of(a, kind, item);

	if(!j)
		return events_now(NULL, cur, text, len);
	return follow(r, j, c, j->type->events_op, events_done, &er);
}

bool jobs_events_ready(const struct agent *a, enum job_kind kind, uint64_t item, const struct job_cursor *cur)
{
	const struct job *j = job_of(a, kind, item);

	if(!j || !cur->started || cur->done || cur->gen != j->gen)
		return true; /* a first read, or end of file: neither waits for a change */
	return (j->events && cur->at < j->events->n) || terminal(j);
}

/* ---- starting a job ---- */

/* Whether a job of this kind may start: EBUSY (error line written) while one
 * of the kinds it excludes is being sent or still runs, checked with a fresh
 * poll (a job the API no longer knows is over). 0 or -errno. Lock held; j
 * (the job to start) is marked starting, so that a concurrent start of a kind
 * it excludes sees it. */
static int may_start(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind)
{
	const struct job_type *type = job_type_of(kind);

	for(int k = 0; k < JOB_NKINDS; k++) {
		struct job *o = a->jobs[k];
		int rc;

		if(!(type->excludes & JOB_KIND_BIT(k)) || !o)
			continue;
		if(o->starting && k != (int)kind) {
			reg_agent_error(a, type->start_op, "%s of this agent is being started",
					o->type->a_noun);
			return -EBUSY;
		}
		rc = job_poll(r, o, c, POLL_FORCE);
		if(rc == -ENOENT)
			continue; /* the API does not know that job (any more): it is over */
		if(rc != 0)
			return rc;
		if(o->id && !terminal(o)) {
			reg_agent_error(a, type->start_op, "%s is already running (%s %s)", o->type->a_noun,
					o->type->id_label, o->id);
			return -EBUSY;
		}
	}
	return 0;
}

/* A job begins anew with id (taken): its answer, events and poll forgotten. Lock held. */
static void restart(struct job_store *s, struct job *j)
{
	forget_answer(s, j);
	if(j->events)
		events_clear(j->events);
	j->gen++;
	j->version++;
	j->json_version++;
	j->text_at = j->json_at = clock_wall();
	j->polled_at = 0; /* the new job is polled at the next read */
	j->poll.err = 0;
}

/* Keeps a started job's id: the agent's own job of the kind holds it (and
 * the state file), and for a keyed kind the item's job begins. 0 or -ENOMEM
 * (id freed). Lock held. */
static int keep_started(struct registry *r, struct agent *a, enum job_kind kind, struct job *own, char *id,
			uint64_t *item)
{
	const struct job_type *type = own->type;
	uint64_t key = 0;
	struct job *k;

	if(!type->keyed) {
		if(set_id(r->jobs, own, id) != 0)
			return -ENOMEM;
		restart(r->jobs, own);
		return 0;
	}
	if(!ids_parse_agent(id, strlen(id), &key)) {
		free(id);
		return -EPROTO;
	}
	k = keyed_get(r, a, kind, key);
	if(!k || set_id(r->jobs, own, id) != 0)
		return -ENOMEM;
	restart(r->jobs, k);
	if(item)
		*item = key;
	return 0;
}

int jobs_start(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	       const struct job_request *req, uint64_t *item)
{
	const struct job_type *type = job_type_of(kind);
	struct api_error e = {0};
	struct job *j = job_get(a, kind);
	char *id = NULL;
	int rc;

	if(!j)
		return -ENOMEM;
	if(j->starting && !type->keyed) {
		reg_agent_error(a, type->start_op, "a %s of this agent is already being sent",
				type->start_op);
		return -EBUSY;
	}
	if(!type->keyed)
		j->starting = true; /* keyed starts (runs) do not exclude one another */
	a->users++;		    /* the checks and the POST release the lock */
	rc = may_start(r, a, c, kind);
	if(rc != 0)
		goto out;
	pthread_mutex_unlock(&r->lock);
	rc = type->start(r->api, c, a->id, req, &id, &e);
	pthread_mutex_lock(&r->lock);
	if(rc != 0) {
		if(rc != -EINTR)
			reg_agent_error(a, type->start_op, "%s", e.msg);
		goto out;
	}
	rc = keep_started(r, a, kind, j, id, item);
	if(rc != 0) {
		if(rc == -EPROTO)
			reg_agent_error(a, type->start_op, "malformed response: %s is not a %s", "the id",
					type->id_words);
		else
			reg_agent_error(a, type->start_op, "started, but out of memory to keep its %s",
					type->id_words);
		goto out;
	}
	a->known = true;
	reg_agent_clear_error(a, NULL);
	log_info("agent %llu: %s started, %s %s", (unsigned long long)a->id, type->noun, type->id_label,
		 j->id);
	rc = save_state(r);
	if(rc != 0) {
		reg_agent_error(a, type->start_op, "started, but the %s could not be saved in %s: %s",
				type->id_words, r->state_dir, strerror(-rc));
		rc = type->save_best_effort ? 0 : -EIO; /* a run's id is kept in memory: results/last */
	}
out:
	a->users--;
	if(!type->keyed)
		j->starting = false;
	pthread_cond_broadcast(&r->changed);
	return rc;
}

int jobs_last(const struct agent *a, enum job_kind kind, uint64_t *item)
{
	const struct job *j = a ? a->jobs[kind] : NULL;

	if(!j || !j->id || !ids_parse_agent(j->id, strlen(j->id), item))
		return -ENOENT;
	return 0;
}

/* ---- what stat and poll(2) ask, never calling the API ---- */

bool jobs_differs(const struct agent *a, enum job_kind kind, uint64_t item, enum job_text which,
		  unsigned version)
{
	const struct job *j = job_of(a, kind, item);

	if(!j)
		return version != 0;
	if(j->id && !j->have_answer && !j->expired)
		return true; /* not polled since a start: a re-read polls the new job */
	return (which == JOB_JSON ? j->json_version : j->version) != version;
}

size_t jobs_size(const struct agent *a, enum job_kind kind, uint64_t item, enum job_text which)
{
	const struct job *j = job_of(a, kind, item);

	if(!j && job_type_of(kind)->keyed)
		return UNKNOWN_SIZE; /* not read yet */
	if(!j || !j->id)
		return which == JOB_JSON ? 0 : strlen(job_type_of(kind)->idle);
	if(!j->have_answer && !j->expired)
		return UNKNOWN_SIZE;
	return which == JOB_JSON ? j->json->len : j->text->len;
}

double jobs_changed_at(const struct agent *a, enum job_kind kind, uint64_t item, enum job_text which)
{
	const struct job *j = job_of(a, kind, item);

	return !j ? 0 : which == JOB_JSON ? j->json_at : j->text_at;
}

double jobs_born(const struct agent *a, enum job_kind kind, uint64_t item)
{
	const struct job *j = job_of(a, kind, item);

	return j && j->detail && j->type->born ? j->type->born(j->detail) : 0;
}

int jobs_check(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
	       uint64_t item)
{
	struct job *j = find_or_make(r, a, kind, item);
	int rc;

	if(!j)
		return -ENOMEM;
	j->users++;
	rc = job_poll(r, j, c, POLL_DUE);
	j->users--;
	return rc;
}

void jobs_outdated(struct agent *a, enum job_kind kind, uint64_t item)
{
	struct job *j = job_of(a, kind, item);

	if(j && !terminal(j))
		j->polled_at = 0;
}

int jobs_peek(struct registry *r, struct agent *a, enum job_kind kind, uint64_t item, struct job_view *v)
{
	struct job *j = job_of(a, kind, item);
	struct grab g = {0};
	int rc;

	memset(v, 0, sizeof(*v));
	if(!j || !j->have_answer)
		return -EAGAIN;
	g.idle = j->type->idle;
	g.text = reg_text_ref(j->text);
	g.json = reg_text_ref(j->json);
	g.detail = job_detail_ref(j->detail);
	g.text_version = j->version;
	g.json_version = j->json_version;
	g.terminal = terminal(j);
	pthread_mutex_unlock(&r->lock);
	rc = view_of(&g, v);
	pthread_mutex_lock(&r->lock);
	return rc;
}
