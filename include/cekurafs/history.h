/* history.h - an agent's versions (GET /aiagents/{id}/history/, AIAgentHistory
 * records) as the texts of their files. Pure: built once, then immutable.
 *
 *   agents/42/history/                 one directory per version, the newest HISTORY_MAX
 *   agents/42/history/42002/           name system_prompt language dynamic_variables tools/
 *                                      knowledge_base/ (agent_config.h), record.json, and:
 *   agents/42/history/42002/date       2026-06-12T10:30:00Z
 *   agents/42/history/42002/change     created, changed, deleted (+ ~ -), else as sent
 *   agents/42/history/42002/reason     history_change_reason
 *   agents/42/history/42002/user       history_user.email
 *   agents/42/history/42002/version    version_name, else version_id
 *
 * Pages go into a builder, which keeps the newest records only, so a long
 * history costs at most HISTORY_MAX records at a time; history_build() then
 * decodes what it kept.
 */
#ifndef CEKURAFS_HISTORY_H
#define CEKURAFS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "cekurafs/agent_config.h"

/* Most versions shown (and raw records held while the pages are read). */
#define HISTORY_MAX 200

/* The one-value files of a version besides its configuration's. */
enum history_field {
	HISTORY_DATE,
	HISTORY_CHANGE,
	HISTORY_REASON,
	HISTORY_USER,
	HISTORY_VERSION,
	HISTORY_NFIELDS
};

struct history_version {
	uint64_t id;				   /* history_id (> 0) */
	double date;				   /* history_date, epoch seconds (0 when unreadable) */
	struct agent_config config;		   /* VERSION shape; config.json is record.json */
	struct config_text field[HISTORY_NFIELDS]; /* "<value>\n" or "" */
};

/* Owns v and everything in it. */
struct history {
	struct history_version *v; /* newest first: date descending, ties larger id first */
	size_t n;		   /* at most HISTORY_MAX */
	size_t skipped;		   /* records without an integer history_id > 0 */
};

/* Collects pages; bounded: keeps at most HISTORY_MAX raw records at once (the
 * newest so far, by date then id) plus the ids seen (8 bytes or so each). */
struct history_builder;

/* A new, empty builder, or NULL when out of memory. */
struct history_builder *history_builder_new(void);

/* Frees b and every record it holds (NULL is fine). */
void history_builder_free(struct history_builder *b);

/* An api_page_fn (api.h): arg is the builder. A page is {"count": int or
 * null, "next": url or null, "results": [...]} (count and next may be
 * absent). A result that is not an object or has no integer history_id > 0
 * is skipped (counted); a history_id seen before, on this page or an earlier
 * one, is ignored (pages shift while they are read: the first seen wins).
 * Sets *next (a new string, or NULL when the page has none), *count (-1 when
 * absent or null) and *items (every result of the page, kept or not).
 * Returns 0, -EPROTO when the page is not that shape (nothing of it is then
 * kept), -ENOMEM (the records before the failing one are kept). */
int history_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);

/* How many raw records b holds now (at most HISTORY_MAX). */
size_t history_builder_held(const struct history_builder *b);

/* Decodes the records b kept into *out, newest first (history_free() it;
 * b is unchanged). Returns 0, -ENOMEM, or -EFBIG (a record whose
 * pretty-printed text would pass JSON_PRETTY_MAX); *out is then empty. */
int history_build(struct history_builder *b, struct history *out);

/* Frees what h holds and empties it (safe on a zeroed history, and twice). */
void history_free(struct history *h);

/* The version with this id, or NULL. */
const struct history_version *history_find(const struct history *h, uint64_t id);

/* About the bytes h holds (for the cache's bound). */
size_t history_bytes(const struct history *h);

#endif
