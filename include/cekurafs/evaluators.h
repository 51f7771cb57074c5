/* evaluators.h - an agent's evaluators (GET /test_framework/v1/scenarios/?agent_id=,
 * ScenarioList records; the API calls them scenarios) collected from their
 * pages and made the text of `evaluators`. Pure.
 *
 *   $ cat agents/42/evaluators
 *   101	Refund request	Sales.Inbound	smoke,refunds
 *   102	Angry caller	-	smoke
 *   103	Silent caller	-
 *
 * One line per evaluator in ascending id: id<TAB>name<TAB>folder<TAB>tags.
 * The folder (folder_path) is `-` when null or empty; control bytes in the
 * name, the folder and each tag become spaces (a tab in a name cannot split
 * the line); the tags are joined with ',' in the API's order, and a line
 * with no tags ends with the tab before them. The text is a public interface
 * (README, "`evaluators`"): `cut -f1` gives the ids.
 */
#ifndef CEKURAFS_EVALUATORS_H
#define CEKURAFS_EVALUATORS_H

#include <stddef.h>
#include <stdint.h>

/* One evaluator as its record sent it. Owned by the collection. */
struct evaluator {
	uint64_t id;  /* > 0 */
	char *name;   /* "" when not a string */
	char *folder; /* folder_path; NULL when null, absent or not a string */
	char **tags;  /* the string elements of tags, in the API's order */
	size_t ntags;
};

/* The evaluators of the pages read so far, each id once, in ascending id. */
struct evaluators;

/* A new, empty collection, or NULL when out of memory. */
struct evaluators *evaluators_new(void);

/* Frees e and every evaluator in it (NULL is fine). */
void evaluators_free(struct evaluators *e);

/* An api_page_fn (api.h): arg is the collection. A page is {"count": int or
 * null, "next": url or null, "results": [...]} (count and next may be
 * absent). A result that is not an object or has no integer id > 0 is skipped
 * (counted); an id seen before, on this page or an earlier one, is ignored
 * (the first seen wins: pages shift while they are read). tags is an array
 * (its elements that are not strings are left out), a string holding a JSON
 * array (as the API sends some collections), or anything else for none.
 * Sets *next (a new string, or NULL when the page has none), *count (-1 when
 * absent or null) and *items (every result of the page, kept or not).
 * Returns 0, -EPROTO when the page is not that shape (nothing of it is then
 * kept), -ENOMEM (what was kept before stays, whole). */
int evaluators_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);

/* How many evaluators e holds. */
size_t evaluators_count(const struct evaluators *e);

/* The i-th evaluator in ascending id (i < evaluators_count()). */
const struct evaluator *evaluators_at(const struct evaluators *e, size_t i);

/* The evaluator with this id, or NULL. */
const struct evaluator *evaluators_find(const struct evaluators *e, uint64_t id);

/* Records skipped (not an object, or no integer id > 0). */
size_t evaluators_skipped(const struct evaluators *e);

/* The ids in ascending order (for `run all`): a new array in *ids (NULL when
 * there are none) and its length in *n. Returns 0 or -ENOMEM. */
int evaluators_ids(const struct evaluators *e, uint64_t **ids, size_t *n);

/* The text of `evaluators` (see the top of this file): a new string the
 * caller frees, its length in *len (may be NULL), or NULL when out of memory.
 * "" when there are none. */
char *evaluators_render(const struct evaluators *e, size_t *len);

/* About the bytes e holds (for the cache's bound). */
size_t evaluators_bytes(const struct evaluators *e);

#endif
