/* listing.h - the registry's part for what the listing of agents says: the
 * listing itself (GET /aiagents/, all pages, kept list_ttl, one fetch shared),
 * the by-name index made from it, and the 404s of lookups remembered for
 * list_ttl. Private to the registry; every function takes the lock held
 * (registry_base.h), and those that fetch release it meanwhile.
 */
#ifndef CEKURAFS_LISTING_H
#define CEKURAFS_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry_base.h"

/* Makes r->listing. 0 or -ENOMEM. */
int listing_init(struct registry *r);
void listing_fini(struct registry *r);

/* Makes sure a listing at most list_ttl old is held, sharing one in flight. */
int listing_refresh(struct registry *r, const struct api_cancel *c);

/* Whether a listing younger than list_ttl is held. */
bool listing_fresh(const struct registry *r);

/* Whether the listing held has the agent. O(log n). */
bool listing_has(const struct registry *r, uint64_t id);

/* Every id of a fresh listing, sorted: *ids is a new array. */
int listing_ids(struct registry *r, const struct api_cancel *c, uint64_t **ids, size_t *n);

/* Calls fn with every by-name link name, sorted, from a fresh listing. */
int listing_each_name(struct registry *r, const struct api_cancel *c, void (*fn)(void *arg, const char *name),
		      void *arg);

/* The agent a by-name link points to, or -ENOENT. */
int listing_link(struct registry *r, const struct api_cancel *c, const char *name, uint64_t *id);

/* Whether the API said 404 for the agent less than list_ttl ago; note_absent remembers one. */
bool listing_absent(struct registry *r, uint64_t id);
void listing_note_absent(struct registry *r, uint64_t id);

/* Forgets the listing, the by-name index and the 404s (SIGHUP). */
void listing_forget(struct registry *r);

#endif
