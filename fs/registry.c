/* registry.c - the registry's front (registry.h): takes the lock, finds the
 * agent, and asks the part that holds what is wanted:
 *
 *   $ ls agents                        registry_list        -> listing.c
 *   $ cd agents/42                     registry_lookup      -> listing.c, agent_cache.c
 *   $ cat agents/42/system_prompt      registry_agent_config -> agent_cache.c
 *   $ echo 1 > agents/42/refetch       registry_job_start   -> jobs.c
 *   $ cat agents/42/progress           registry_job_view    -> jobs.c
 *   $ cat agents/42/evaluators         registry_evaluators  -> agent_cache.c
 *   $ echo 'text all' > agents/42/run  registry_run         -> agent_cache.c, jobs.c
 *   $ cat agents/42/results/812/wait   registry_job_wait    -> jobs.c (a keyed job)
 *
 * It also owns the agents' lifetime: it makes them, drops what SIGHUP asks
 * to forget, and sweeps away those that hold nothing. The parts never call
 * each other nor this file (registry_base.h).
 */
#include "cekurafs/registry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/evaluators.h"
#include "cekurafs/log.h"
#include "cekurafs/result.h"
#include "cekurafs/run_request.h"
#include "cekurafs/stats.h"

#include "agent_cache.h"
#include "jobs.h"
#include "listing.h"
#include "registry_base.h"

/* Seconds between two sweeps of agents that hold nothing (or list_ttl, if longer). */
#define SWEEP_EVERY 30.0

static void agent_free(struct registry *r, struct agent *a)
{
	jobs_agent_free(r, a);
	agent_cache_agent_free(r, a);
	free(a->error);
	free(a);
}

/* Whether the agent holds nothing worth keeping and nobody uses it: no job,
 * error line, configuration or call in flight, and no confirmation younger
 * than list_ttl. The sweep frees such agents. Lock held. */
static bool agent_idle(const struct registry *r, const struct agent *a)
{
	return !a->error && a->users == 0 && jobs_agent_idle(a) && agent_cache_idle(a) &&
	       (!a->known || clock_mono() - a->known_at >= r->opt.list_ttl);
}

/* Frees the agents that hold nothing, at most every SWEEP_EVERY seconds:
 * what lookups of many agents leave behind does not stay. Linear in the
 * agents, not in any answer. Lock held. */
static void sweep(struct registry *r)
{
	double now = clock_mono();
	size_t freed = 0;

	if(now - r->swept_at < fmax(SWEEP_EVERY, r->opt.list_ttl))
		return;
	r->swept_at = now;
	for(size_t i = 0; i < r->nslots; i++) {
		if(r->slots[i])
			jobs_trim(r, r->slots[i]); /* results nobody read for list_ttl */
		/* a removal may shift another agent into slot i: look at it again */
		while(r->slots[i] && agent_idle(r, r->slots[i])) {
			agent_free(r, reg_agent_take(r, i));
			freed++;
		}
	}
	if(freed)
		log_debug("freed %zu agents that held nothing", freed);
}

void registry_drop_caches(struct registry *r)
{
	atomic_fetch_add(&r->drops_asked, 1);
}

/* Takes the lock, first forgetting what registry_drop_caches() asked to: the
 * listing, lookups, configurations, and when each running job was last
 * polled. Job ids, terminal answers and error lines are state, not caches:
 * they stay. Then expires and sweeps what is due. */
static void lock(struct registry *r)
{
	unsigned asked;

	pthread_mutex_lock(&r->lock);
	asked = atomic_load(&r->drops_asked);
	if(asked != r->drops_done) {
		r->drops_done = asked;
		listing_forget(r);
		r->swept_at = 0; /* sweep now too */
		for(size_t i = 0; i < r->nslots; i++) {
			struct agent *a = r->slots[i];

			if(!a)
				continue;
			jobs_drop_caches(a);
			agent_cache_forget(r, a);
			if(!jobs_agent_has_id(a))
				a->known = false;
		}
		log_info("caches dropped: the next reads ask the API again");
	}
	agent_cache_expire(r);
	sweep(r);
}

static void unlock(struct registry *r)
{
	pthread_mutex_unlock(&r->lock);
}

/* The agent, created if needed, with the lock taken. NULL (unlocked) when out of memory. */
static struct agent *lock_agent(struct registry *r, uint64_t id)
{
	struct agent *a;

	lock(r);
	a = reg_agent_get(r, id);
	if(!a)
		unlock(r);
	return a;
}

/* The agent if the registry has it, with the lock taken either way. */
static struct agent *lock_find(struct registry *r, uint64_t id)
{
	lock(r);
	return reg_agent_find(r, id);
}

struct registry *registry_new(struct api *api, const struct registry_options *opt,
			      const struct state_entry *entries, size_t n)
{
	struct registry *r = calloc(1, sizeof(*r));
	pthread_condattr_t attr;

	if(!r)
		return NULL;
	r->api = api;
	r->opt = *opt;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->changed, &attr);
	pthread_condattr_destroy(&attr);
	r->state_dir = opt->state_dir ? strdup(opt->state_dir) : NULL;
	r->opt.state_dir = r->state_dir;
	if((opt->state_dir && !r->state_dir) || jobs_init(r) != 0 || listing_init(r) != 0 ||
	   agent_cache_init(r) != 0)
		goto fail;
	for(size_t i = 0; i < n; i++) {
		struct agent *a = reg_agent_get(r, entries[i].agent_id);

		if(!a || jobs_seed(r, a, &entries[i]) != 0)
			goto fail;
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
	jobs_fini(r);
	listing_fini(r);
	agent_cache_fini(r);
	free(r->state_dir);
	pthread_cond_destroy(&r->changed);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- agents ---- */

int registry_list(struct registry *r, const struct api_cancel *c, uint64_t **ids, size_t *n)
{
	int rc;

	lock(r);
	rc = listing_ids(r, c, ids, n);
	unlock(r);
	return rc;
}

int registry_each_name(struct registry *r, const struct api_cancel *c,
		       void (*fn)(void *arg, const char *name), void *arg)
{
	int rc;

	lock(r);
	rc = listing_each_name(r, c, fn, arg);
	unlock(r);
	return rc;
}

int registry_link(struct registry *r, const struct api_cancel *c, const char *name, uint64_t *id)
{
	int rc;

	lock(r);
	rc = listing_link(r, c, name, id);
	unlock(r);
	return rc;
}

/* Whether the agent was confirmed recently enough, or has a job. Lock held. */
static bool confirmed(const struct registry *r, const struct agent *a)
{
	return a && a->known && (jobs_agent_has_id(a) || clock_mono() - a->known_at < r->opt.list_ttl);
}

int registry_lookup(struct registry *r, const struct api_cancel *c, uint64_t id)
{
	struct api_error e = {0};
	struct held *cfg = NULL;
	struct agent *a;
	unsigned gen;
	char *body = NULL;
	size_t len = 0;
	int rc;

	a = lock_find(r, id);
	gen = a ? a->content_gen : 0; /* a new agent starts at 0 too */
	if(confirmed(r, a)) {
		unlock(r);
		return 0;
	}
	if(listing_fresh(r)) {
		rc = listing_has(r, id) ? 0 : -ENOENT;
		unlock(r);
		if(rc == -ENOENT)
			stats_cache_hit(STATS_CACHE_NEGATIVE);
		return rc;
	}
	if(listing_absent(r, id)) {
		unlock(r);
		stats_cache_hit(STATS_CACHE_NEGATIVE);
		return -ENOENT; /* the API said 404 less than list_ttl ago */
	}
	unlock(r);
	/* No listing to trust: ask for this one agent. Its answer is the
	 * agent's configuration too: kept, so reading it sends no second GET. */
	rc = api_get_agent_body(r->api, c, id, &body, &len, &e);
	if(rc != 0 && rc != -ENOENT)
		log_warn("looking up agent %llu: %s", (unsigned long long)id, e.msg);
	if(rc == 0)
		cfg = agent_cache_decode(body, len); /* NULL: its files fetch it again and say why */
	free(body);
	lock(r);
	if(rc == 0) {
		a = reg_agent_get(r, id);
		if(a) {
			a->known = true;
			a->known_at = clock_mono();
		} else {
			rc = -ENOMEM;
		}
		/* an import that completed meanwhile made this answer stale: not kept */
		agent_cache_offer(r, a && a->content_gen == gen ? a : NULL, cfg);
	} else if(rc == -ENOENT) {
		listing_note_absent(r, id);
	}
	unlock(r);
	return rc;
}

int registry_agent_config(struct registry *r, const struct api_cancel *c, uint64_t id,
			  struct agent_config **out)
{
	struct agent *a = lock_agent(r, id);
	int rc;

	*out = NULL;
	if(!a)
		return -ENOMEM;
	rc = agent_cache_get(r, a, c, AGENT_CACHED_CONFIG, (void **)out);
	unlock(r);
	return rc;
}

struct agent_config *registry_agent_config_cached(struct registry *r, uint64_t id)
{
	struct agent_config *cfg = agent_cache_peek(r, lock_find(r, id), AGENT_CACHED_CONFIG);

	unlock(r);
	return cfg;
}

void registry_agent_config_put(struct agent_config *cfg)
{
	agent_cache_put(cfg);
}

double registry_agent_config_changed_at(struct registry *r, uint64_t id)
{
	double at = agent_cache_changed_at(lock_find(r, id), AGENT_CACHED_CONFIG);

	unlock(r);
	return at;
}

int registry_history(struct registry *r, const struct api_cancel *c, uint64_t id, struct history **out)
{
	struct agent *a = lock_agent(r, id);
	int rc;

	*out = NULL;
	if(!a)
		return -ENOMEM;
	rc = agent_cache_get(r, a, c, AGENT_CACHED_HISTORY, (void **)out);
	unlock(r);
	return rc;
}

struct history *registry_history_cached(struct registry *r, uint64_t id)
{
	struct history *h = agent_cache_peek(r, lock_find(r, id), AGENT_CACHED_HISTORY);

	unlock(r);
	return h;
}

void registry_history_put(struct history *h)
{
	agent_cache_put(h);
}

double registry_history_changed_at(struct registry *r, uint64_t id)
{
	double at = agent_cache_changed_at(lock_find(r, id), AGENT_CACHED_HISTORY);

	unlock(r);
	return at;
}

/* ---- jobs ---- */

/* The request body of a job whose user wrote "1": made from the agent's
 * configuration (fetched unless a copy younger than list_ttl is held), or
 * NULL for a kind whose POST has none. 0 or -errno (error line written). Lock
 * held; released while fetching. */
static int request_of(struct registry *r, struct agent *a, const struct api_cancel *c, enum job_kind kind,
		      char **body)
{
	const struct job_type *type = job_type_of(kind);
	struct agent_config *cfg = NULL;
	char why[160] = "";
	int rc;

	*body = NULL;
	if(!type->request)
		return 0;
	rc = agent_cache_get(r, a, c, AGENT_CACHED_CONFIG, (void **)&cfg);
	if(rc == 0)
		rc = type->request(cfg, body, why, sizeof(why));
	agent_cache_put(cfg);
	if(rc == -EOPNOTSUPP)
		reg_agent_error(a, type->start_op, "%s", why);
	else if(rc == -ENOMEM)
		reg_agent_error(a, type->start_op, "out of memory");
	return rc;
}

int registry_job_start(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
		       const char *body)
{
	struct agent *a = lock_agent(r, id);
	char *made = NULL;
	int rc = 0;

	if(!a)
		return -ENOMEM;
	if(body && !job_type_of(kind)->request) {
		reg_agent_error(a, job_type_of(kind)->start_op,
				"invalid input: %s takes no request body, write \"1\"",
				job_type_of(kind)->start_op);
		rc = -EINVAL;
	} else if(!body) {
		a->users++; /* the fetch releases the lock */
		rc = request_of(r, a, c, kind, &made);
		a->users--;
	}
	if(rc == 0) {
		struct job_request req = {.body = body ? body : made};

		rc = jobs_start(r, a, c, kind, &req, NULL);
	}
	unlock(r);
	free(made);
	return rc;
}

/* The agent a job of kind needs, with the lock taken: made for a keyed kind
 * (its jobs are made when read), else found (none: no job). lock_find()'s
 * NULL means no agent; *failed is set when making one ran out of memory (unlocked). */
static struct agent *lock_for_job(struct registry *r, uint64_t id, enum job_kind kind, bool *failed)
{
	struct agent *a;

	*failed = false;
	if(!job_type_of(kind)->keyed)
		return lock_find(r, id);
	a = lock_agent(r, id);
	*failed = a == NULL;
	return a;
}

int registry_job_view(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
		      uint64_t item, struct job_view *v)
{
	bool failed;
	struct agent *a = lock_for_job(r, id, kind, &failed);
	int rc;

	if(failed) {
		memset(v, 0, sizeof(*v));
		return -ENOMEM;
	}
	rc = jobs_view(r, a, c, kind, item, v);
	unlock(r);
	return rc;
}

int registry_job_peek(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item, struct job_view *v)
{
	int rc = jobs_peek(r, lock_find(r, id), kind, item, v);

	unlock(r);
	return rc;
}

int registry_job_refresh(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
			 uint64_t item)
{
	int rc = jobs_refresh(r, lock_find(r, id), c, kind, item);

	unlock(r);
	return rc;
}

int registry_job_wait(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
		      uint64_t item, struct job_view *v)
{
	bool failed;
	struct agent *a = lock_for_job(r, id, kind, &failed);
	int rc;

	if(failed) {
		memset(v, 0, sizeof(*v));
		return -ENOMEM;
	}
	rc = jobs_wait(r, a, c, kind, item, v);
	unlock(r);
	return rc;
}

int registry_job_events(struct registry *r, const struct api_cancel *c, uint64_t id, enum job_kind kind,
			uint64_t item, struct job_cursor *cur, char **text, size_t *len)
{
	int rc = jobs_events(r, lock_find(r, id), c, kind, item, cur, text, len);

	unlock(r);
	return rc;
}

bool registry_job_events_ready(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			       const struct job_cursor *cur)
{
	bool ready = jobs_events_ready(lock_find(r, id), kind, item, cur);

	unlock(r);
	return ready;
}

bool registry_job_differs(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			  enum job_text which, unsigned version)
{
	bool differs = jobs_differs(lock_find(r, id), kind, item, which, version);

	unlock(r);
	return differs;
}

size_t registry_job_size(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			 enum job_text which)
{
	size_t size = jobs_size(lock_find(r, id), kind, item, which);

	unlock(r);
	return size;
}

double registry_job_changed_at(struct registry *r, uint64_t id, enum job_kind kind, uint64_t item,
			       enum job_text which)
{
	double at = jobs_changed_at(lock_find(r, id), kind, item, which);

	unlock(r);
	return at;
}

/* ---- evaluators, runs and results ---- */

int registry_evaluators(struct registry *r, const struct api_cancel *c, uint64_t id, char **text, size_t *len)
{
	struct agent *a = lock_agent(r, id);
	struct evaluators **ev = NULL;
	int rc;

	*text = NULL;
	*len = 0;
	if(!a)
		return -ENOMEM;
	if(c) {
		rc = agent_cache_get(r, a, c, AGENT_CACHED_EVALUATORS, (void **)&ev);
	} else {
		ev = agent_cache_peek(r, a, AGENT_CACHED_EVALUATORS);
		rc = ev ? 0 : -EAGAIN;
	}
	unlock(r);
	if(rc == 0) {
		/* the collection is immutable: rendered with no lock held */
		*text = evaluators_render(*ev, len);
		rc = *text ? 0 : -ENOMEM;
	}
	agent_cache_put(ev);
	return rc;
}

double registry_evaluators_changed_at(struct registry *r, uint64_t id)
{
	double at = agent_cache_changed_at(lock_find(r, id), AGENT_CACHED_EVALUATORS);

	unlock(r);
	return at;
}

/* Whether a run by tags or folder may take the evaluator (the API's rule:
 * any tag equal; the folder itself or one under it, "Support" holding
 * "Support.Billing"). Every evaluator for the other selectors. */
static bool run_may_take(const struct run_request *req, const struct evaluator *ev)
{
	size_t n;

	switch(req->selector) {
	case RUN_TAGS:
		for(size_t t = 0; t < req->ntags; t++)
			for(size_t i = 0; i < ev->ntags; i++)
				if(strcmp(req->tags[t], ev->tags[i]) == 0)
					return true;
		return false;
	case RUN_FOLDER:
		n = strlen(req->folder);
		return ev->folder && strncmp(ev->folder, req->folder, n) == 0 &&
		       (ev->folder[n] == '\0' || ev->folder[n] == '.');
	default:
		return true;
	}
}

/* What a run line needs from the API before its POST: the evaluators (afresh
 * for `all`) when the line does not name them, and the project for `folder=`.
 * Lock held; released while fetching. */
struct run_plan {
	struct evaluators **ev; /* a reference, or NULL */
	uint64_t *all;		/* RUN_ALL: every evaluator id */
	size_t nall;
	uint64_t evaluators; /* how many the selection may take */
	int64_t project;
};

static int run_plan(struct registry *r, struct agent *a, const struct api_cancel *c,
		    const struct run_request *req, struct run_plan *p)
{
	bool named = req->selector == RUN_IDS || (req->selector == RUN_JSON && req->json_scenarios > 0);
	int rc = 0;

	if(!named) {
		if(req->selector == RUN_ALL)
			agent_cache_drop(r, a, AGENT_CACHED_EVALUATORS); /* listed afresh inside the write */
		rc = agent_cache_get(r, a, c, AGENT_CACHED_EVALUATORS, (void **)&p->ev);
	}
	if(rc == 0 && req->selector == RUN_ALL)
		rc = evaluators_ids(*p->ev, &p->all, &p->nall);
	if(rc == 0 && p->ev)
		for(size_t i = 0; i < evaluators_count(*p->ev); i++)
			p->evaluators += run_may_take(req, evaluators_at(*p->ev, i));
	if(req->selector == RUN_IDS)
		p->evaluators = req->nids;
	else if(req->selector == RUN_JSON && req->json_scenarios > 0)
		p->evaluators = req->json_scenarios;
	if(rc == 0 && req->selector == RUN_FOLDER) {
		struct agent_config *cfg = NULL;

		rc = agent_cache_get(r, a, c, AGENT_CACHED_CONFIG, (void **)&cfg);
		if(rc == 0)
			p->project = cfg->project;
		agent_cache_put(cfg);
	}
	return rc;
}

/* Adds a result started here to the cached listing (agent_cache_amend()). */
struct started {
	uint64_t id;
	const char *name;
};

static int add_started(void *obj, void *arg)
{
	struct result_list **l = obj;
	const struct started *st = arg;

	return result_list_put(*l, st->id, NULL, st->name, clock_wall());
}

int registry_run(struct registry *r, const struct api_cancel *c, uint64_t id, const char *buf, size_t size,
		 off_t off, uint64_t *result)
{
	struct run_request req;
	struct run_plan plan = {0};
	struct agent *a;
	char why[200], *body = NULL;
	uint64_t conversations;
	int rc = run_request_parse(buf, size, off, &req, why, sizeof(why));

	if(rc != 0) {
		registry_note_error(r, id, "run", rc == -EINVAL ? why : strerror(-rc));
		return rc;
	}
	a = lock_agent(r, id);
	if(!a) {
		run_request_free(&req);
		return -ENOMEM;
	}
	a->users++; /* fetches and the POST release the lock */
	rc = run_plan(r, a, c, &req, &plan);
	if(rc == 0) {
		rc = run_request_body(&req, id, plan.project, plan.all, plan.nall, &body, why, sizeof(why));
		if(rc == -EINVAL)
			reg_agent_error(a, "run", "%s", why);
	}
	if(rc == 0) {
		conversations = run_request_conversations(&req, plan.evaluators);
		if(conversations > r->opt.max_runs) {
			reg_agent_error(a, "run", "%llu conversations exceeds max_runs=%lu",
					(unsigned long long)conversations, r->opt.max_runs);
			rc = -E2BIG;
		}
	}
	if(rc == 0) {
		struct job_request jr = {.body = body, .path = req.mode->path, .budget = r->opt.run_timeout};

		rc = jobs_start(r, a, c, JOB_RESULT, &jr, result);
	}
	if(rc == 0) {
		struct started st = {.id = *result, .name = req.name};

		if(agent_cache_amend(r, a, AGENT_CACHED_RESULTS, add_started, &st) != 0)
			agent_cache_drop(r, a, AGENT_CACHED_RESULTS); /* no memory to add it: list anew */
	} else if(rc == -ENOMEM) {
		reg_agent_error(a, "run", "out of memory");
	}
	a->users--;
	unlock(r);
	agent_cache_put(plan.ev);
	free(plan.all);
	free(body); /* never kept, logged or shown: it may hold what the user put in it */
	run_request_free(&req);
	return rc;
}

int registry_results(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t **ids, size_t *n)
{
	struct agent *a = lock_agent(r, id);
	struct result_list **l = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	if(!a)
		return -ENOMEM;
	rc = agent_cache_get(r, a, c, AGENT_CACHED_RESULTS, (void **)&l);
	if(rc == 0 && result_list_count(*l)) {
		/* copied under the lock: a run started here amends the list */
		*ids = malloc(result_list_count(*l) * sizeof(**ids));
		if(*ids) {
			*n = result_list_count(*l);
			for(size_t i = 0; i < *n; i++)
				(*ids)[i] = result_list_at(*l, i)->id;
		} else {
			rc = -ENOMEM;
		}
	}
	unlock(r);
	agent_cache_put(l);
	return rc;
}

int registry_result_exists(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t result)
{
	struct agent *a = lock_agent(r, id);
	struct result_list **l;
	int rc;

	if(!a)
		return -ENOMEM;
	l = agent_cache_peek(r, a, AGENT_CACHED_RESULTS);
	if(l && result_list_find(*l, result)) {
		stats_cache_hit(STATS_CACHE_RESULTS);
		rc = 0; /* listed a moment ago: no GET needed */
	} else {
		rc = jobs_check(r, a, c, JOB_RESULT, result);
	}
	unlock(r);
	agent_cache_put(l);
	return rc;
}

double registry_result_created_at(struct registry *r, uint64_t id, uint64_t result)
{
	struct agent *a = lock_find(r, id);
	double at = jobs_born(a, JOB_RESULT, result);
	struct result_list **l = at > 0 ? NULL : agent_cache_peek(r, a, AGENT_CACHED_RESULTS);
	const struct result_entry *e = l ? result_list_find(*l, result) : NULL;

	if(e)
		at = e->created_at;
	unlock(r);
	agent_cache_put(l);
	return at;
}

int registry_result_newest(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t *result)
{
	struct agent *a = lock_agent(r, id);
	struct result_list **l = NULL;
	int rc;

	if(!a)
		return -ENOMEM;
	rc = agent_cache_get(r, a, c, AGENT_CACHED_RESULTS, (void **)&l);
	if(rc == 0 && result_list_count(*l) == 0)
		rc = -ENOENT;
	if(rc == 0)
		*result = result_list_at(*l, result_list_count(*l) - 1)->id;
	unlock(r);
	agent_cache_put(l);
	return rc;
}

int registry_result_last(struct registry *r, uint64_t id, uint64_t *result)
{
	int rc = jobs_last(lock_find(r, id), JOB_RESULT, result);

	unlock(r);
	return rc;
}

int registry_end_calls(struct registry *r, const struct api_cancel *c, uint64_t id, uint64_t result)
{
	struct agent *a = lock_agent(r, id);
	struct api_error e = {0};
	int rc;

	if(!a)
		return -ENOMEM;
	a->users++;
	unlock(r);
	rc = api_end_calls(r->api, c, result, &e);
	lock(r);
	a->users--;
	if(rc == 0) {
		log_info("agent %llu: result %llu: calls ended", (unsigned long long)id,
			 (unsigned long long)result);
		reg_agent_clear_error(a, "end-calls");
		jobs_outdated(a, JOB_RESULT, result); /* its next read asks: it is being cancelled */
	} else if(rc != -EINTR) {
		reg_agent_error(a, "end-calls", "%s", e.msg);
	}
	unlock(r);
	return rc;
}

/* ---- error lines ---- */

int registry_error(struct registry *r, uint64_t id, char **text, size_t *len)
{
	struct agent *a = lock_find(r, id);
	int rc = 0;

	if(a && a->error) {
		if(asprintf(text, "%s\n", a->error) < 0)
			rc = -ENOMEM;
	} else {
		*text = strdup("");
		if(!*text)
			rc = -ENOMEM;
	}
	unlock(r);
	*len = rc == 0 ? strlen(*text) : 0;
	return rc;
}

size_t registry_error_size(struct registry *r, uint64_t id)
{
	struct agent *a = lock_find(r, id);
	size_t size = a && a->error ? strlen(a->error) + 1 : 0;

	unlock(r);
	return size;
}

double registry_error_changed_at(struct registry *r, uint64_t id)
{
	struct agent *a = lock_find(r, id);
	double at = a ? a->error_at : 0;

	unlock(r);
	return at;
}

void registry_note_error(struct registry *r, uint64_t id, const char *op, const char *message)
{
	struct agent *a = lock_agent(r, id);

	if(!a)
		return;
	reg_agent_error(a, op, "%s", message);
	unlock(r);
}
