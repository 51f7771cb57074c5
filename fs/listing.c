/* listing.c - the listing, the by-name index, the 404s remembered (listing.h). */
#include "listing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/log.h"
#include "cekurafs/names.h"
#include "cekurafs/stats.h"

/* A lookup the API answered 404: remembered for list_ttl, in a small table
 * indexed by the id's hash, so that probing many ids costs no memory. */
struct absent {
	uint64_t id;
	double at; /* monotonic time of the 404, 0 for an empty slot */
};

#define ABSENT_SLOTS 1024

struct listing {
	struct agent_list list; /* owned */
	bool have;
	double listed_at;	  /* monotonic */
	struct flight fetch;	  /* the listing in flight */
	struct name_index byname; /* made from the listing at the first use of by-name/ */
	bool have_byname;
	struct absent absent[ABSENT_SLOTS];
};

int listing_init(struct registry *r)
{
	r->listing = calloc(1, sizeof(*r->listing));
	return r->listing ? 0 : -ENOMEM;
}

void listing_fini(struct registry *r)
{
	if(!r->listing)
		return;
	agent_list_free(&r->listing->list);
	names_index_free(&r->listing->byname);
	free(r->listing);
	r->listing = NULL;
}

static int cmp_item(const void *key, const void *item)
{
	uint64_t x = *(const uint64_t *)key, y = ((const struct agent_list_item *)item)->id;

	return (x > y) - (x < y);
}

bool listing_has(const struct registry *r, uint64_t id)
{
	const struct agent_list *l = &r->listing->list;

	return l->n && bsearch(&id, l->items, l->n, sizeof(*l->items), cmp_item);
}

bool listing_fresh(const struct registry *r)
{
	return r->listing->have && clock_mono() - r->listing->listed_at < r->opt.list_ttl;
}

/* Forgets the listing and what is made from it. */
static void forget_list(struct listing *l)
{
	agent_list_free(&l->list);
	l->have = false;
	names_index_free(&l->byname);
	l->have_byname = false;
}

void listing_forget(struct registry *r)
{
	forget_list(r->listing);
	memset(r->listing->absent, 0, sizeof(r->listing->absent));
}

int listing_refresh(struct registry *r, const struct api_cancel *c)
{
	struct listing *l = r->listing;
	struct api_error e = {0};
	struct agent_list got;
	int rc;

	if(listing_fresh(r))
		stats_cache_hit(STATS_CACHE_LISTING);
	while(!listing_fresh(r)) {
		if(l->fetch.busy) {
			if(reg_flight_join(r, &l->fetch, c) != 0)
				return -EINTR;
			if(l->fetch.err == -EINTR)
				continue; /* that reader gave up, not us */
			/* its result is ours, as fresh as can be whatever list_ttl is */
			return l->fetch.err;
		}
		l->fetch.busy = true;
		pthread_mutex_unlock(&r->lock);
		rc = api_list_agents(r->api, c, &got, &e);
		pthread_mutex_lock(&r->lock);
		reg_flight_end(r, &l->fetch, rc);
		if(rc != 0) {
			log_warn("listing agents: %s", e.msg);
			return rc;
		}
		forget_list(l);
		l->list = got;
		l->have = true;
		l->listed_at = clock_mono();
		return 0; /* just made: never fetch again here, even with list_ttl=0 */
	}
	return 0;
}

int listing_ids(struct registry *r, const struct api_cancel *c, uint64_t **ids, size_t *n)
{
	const struct agent_list *l = &r->listing->list;
	int rc = listing_refresh(r, c);

	*ids = NULL;
	*n = 0;
	if(rc != 0)
		return rc;
	*ids = malloc((l->n ? l->n : 1) * sizeof(**ids));
	if(!*ids)
		return -ENOMEM;
	for(size_t i = 0; i < l->n; i++)
		(*ids)[i] = l->items[i].id;
	*n = l->n;
	return 0;
}

/* Makes the by-name index from a fresh listing. */
static int refresh_byname(struct registry *r, const struct api_cancel *c)
{
	struct listing *l = r->listing;
	const char **raw;
	uint64_t *ids;
	int rc = listing_refresh(r, c);

	if(rc != 0 || l->have_byname)
		return rc;
	raw = malloc((l->list.n ? l->list.n : 1) * sizeof(*raw));
	ids = malloc((l->list.n ? l->list.n : 1) * sizeof(*ids));
	rc = raw && ids ? 0 : -ENOMEM;
	for(size_t i = 0; rc == 0 && i < l->list.n; i++) {
		raw[i] = agent_list_name(&l->list, i);
		ids[i] = l->list.items[i].id;
	}
	if(rc == 0)
		rc = names_index(raw, ids, l->list.n, "", &l->byname);
	l->have_byname = rc == 0;
	free(raw);
	free(ids);
	return rc;
}

int listing_each_name(struct registry *r, const struct api_cancel *c, void (*fn)(void *arg, const char *name),
		      void *arg)
{
	int rc = refresh_byname(r, c);

	for(size_t i = 0; rc == 0 && i < r->listing->byname.n; i++)
		fn(arg, r->listing->byname.v[i].name);
	return rc;
}

int listing_link(struct registry *r, const struct api_cancel *c, const char *name, uint64_t *id)
{
	const struct name_entry *e;
	int rc = refresh_byname(r, c);

	if(rc != 0)
		return rc;
	e = names_find(&r->listing->byname, name);
	if(!e)
		return -ENOENT;
	*id = e->id;
	return 0;
}

static struct absent *absent_slot(struct registry *r, uint64_t id)
{
	return &r->listing->absent[(size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) % ABSENT_SLOTS];
}

bool listing_absent(struct registry *r, uint64_t id)
{
	const struct absent *gone = absent_slot(r, id);

	return gone->at > 0 && gone->id == id && clock_mono() - gone->at < r->opt.list_ttl;
}

void listing_note_absent(struct registry *r, uint64_t id)
{
	struct absent *gone = absent_slot(r, id);

	gone->id = id;
	gone->at = clock_mono();
}
