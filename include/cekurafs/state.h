/* state.h - the progress ids that must survive a crash and a restart.
 *
 * One file, <state_dir>/progress-ids, mode 0600, a line per agent:
 *
 *   # cekurafs progress ids: <agent id> <progress id>
 *   42 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 *
 * Written whole and atomically (temporary file, fsync, rename, fsync of the
 * directory), so after a crash it is either the old or the new content.
 */
#ifndef CEKURAFS_STATE_H
#define CEKURAFS_STATE_H

#include <stddef.h>
#include <stdint.h>

#define STATE_FILE "progress-ids"

struct state_entry {
	uint64_t agent_id;
	char *progress_id; /* owned */
};

/* Creates dir (mode 0700) if missing. Returns 0 or -errno. */
int state_prepare(const char *dir);

/* Loads the entries into a new array (*out, *n; free with state_free()).
 * A missing file is no entries. A file with a bad line is moved aside to
 * progress-ids.corrupt-<time> (named in *moved_to, owned, else NULL), and its
 * good lines are kept. Returns 0 or -errno (the file cannot be read). */
int state_load(const char *dir, struct state_entry **out, size_t *n, char **moved_to);

/* Replaces the file with these entries, atomically. Returns 0 or -errno. */
int state_save(const char *dir, const struct state_entry *entries, size_t n);

void state_free(struct state_entry *entries, size_t n);

/* Whether s may be stored and sent as a progress id: 1 to 128 bytes of
 * [A-Za-z0-9._~-], so it needs no escaping in a URL or in the file. */
int state_valid_progress_id(const char *s);

#endif
