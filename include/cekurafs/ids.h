/* ids.h - the ids that go into a path, a URL and the state file, checked. Pure.
 *
 *   agents/42                      an agent id: "42" is one; "042", "+42", "4 2" and "0" are not
 *   ?progress_id=6f1c0e7a-0b7d-... a job's progress id: 1 to 128 bytes of [A-Za-z0-9._~-]
 *
 * Only canonical agent ids exist, so every agent has exactly one path, and
 * ids reach URLs already validated. A progress id passing ids_valid_job()
 * needs no escaping in a URL's query or in the state file.
 */
#ifndef CEKURAFS_IDS_H
#define CEKURAFS_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest agent id accepted: ids are positive and fit a signed 64-bit integer. */
#define IDS_AGENT_MAX INT64_MAX

/* Longest progress id accepted, in bytes. */
#define IDS_JOB_MAX 128

/* Parses a canonical decimal agent id of exactly len bytes (s need not end
 * there): no sign, no leading zero, not 0, at most IDS_AGENT_MAX. Sets *id
 * only when it returns true. */
bool ids_parse_agent(const char *s, size_t len, uint64_t *id);

/* Whether s (NUL-terminated, or NULL) may be stored and sent as a progress id:
 * 1 to IDS_JOB_MAX bytes of [A-Za-z0-9._~-]. */
bool ids_valid_job(const char *s);

/* Merges k records add[0..k) into the array *v of *n records kept in
 * ascending id: each record is size bytes with its uint64_t id at offset
 * id_at, and no id of add is in *v already. Each id is kept once: of records
 * of add sharing an id, the first (lowest index) is kept and the others are
 * given to drop(). Records are moved, not copied: add's storage stays the
 * caller's. Returns 0, or -ENOMEM with *v unchanged and every record of add
 * given to drop(). O((n + k) + k log k). */
int ids_merge(void **v, size_t *n, void *add, size_t k, size_t size, size_t id_at, void (*drop)(void *));

#endif
