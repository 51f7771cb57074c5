/* state.h - the progress ids that must survive a crash and a restart.
 *
 * One file, <state_dir>/progress-ids, mode 0600, a line per agent:
 *
 *   # cekurafs progress ids: <agent id> <progress id>
 *   42 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 *   42 <kind> <job id>                         a job of another kind (job_kinds.h)
 *
 * Written whole and atomically (a temporary file of a name unique to the
 * writer, .progress-ids.XXXXXX, fsync, rename, fsync of the directory), so
 * after a crash it is either the old or the new content.
 *
 * One daemon per directory: it holds <state_dir>/lock (flock, mode 0600, the
 * holder's pid as text) for its life.
 */
#ifndef CEKURAFS_STATE_H
#define CEKURAFS_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATE_FILE	"progress-ids"
#define STATE_LOCK_FILE "lock"

struct state_entry {
	uint64_t agent_id;
	/* The job's kind (owned): NULL for the agent import, whose lines are
	 * "<agent id> <progress id>" as they always were; any other kind's are
	 * "<agent id> <kind> <job id>". */
	char *kind;
	char *progress_id; /* owned: the job's id */
};

/* Creates dir (mode 0700) if missing. Returns 0 or -errno. */
int state_prepare(const char *dir);

/* Checks that files can be created and removed in dir, as every save does:
 * creates a file of a save's temporary name there (a leftover is removed by
 * the next state_lock()) and removes it. access(W_OK) is not enough: root
 * passes it on a read-only file system or an immutable directory.
 * Returns 0 or -errno (EROFS, EACCES, EPERM, ENOSPC...). */
int state_check_writable(const char *dir);

/* Makes dir this process's for as long as *lock_fd stays open: an exclusive,
 * non-blocking flock on <dir>/lock (created mode 0600, O_NOFOLLOW), which then
 * holds our pid. Having it, removes the temporary files of writers that died
 * mid-save (.progress-ids.*): no other writer can be at work in dir.
 * Returns 0 and *lock_fd (owned: state_unlock() it); -EBUSY when another open
 * file holds the lock, with its pid in *holder (0 when the file names none
 * yet); else -errno. The lock survives fork(): the child shares the open file. */
int state_lock(const char *dir, int *lock_fd, pid_t *holder);

/* Writes this process's pid into the held lock file (after fuse_daemonize()
 * forked). Returns 0 or -errno. */
int state_lock_update_pid(int lock_fd);

/* Releases the lock and closes lock_fd (the file stays; -1 is a no-op). */
void state_unlock(int lock_fd);

/* Loads the entries into a new array (*out, *n; free with state_free()).
 * Reads <dir>/progress-ids only. A missing file is no entries. A file with a
 * bad line is moved aside to progress-ids.corrupt-<time>-XXXXXX, a new name
 * that never replaces another file (named in *moved_to, owned, else NULL),
 * and its good lines are kept. Returns 0 or -errno (the file cannot be read). */
int state_load(const char *dir, struct state_entry **out, size_t *n, char **moved_to);

/* The same, also taking lines of three words whose kind is one of kinds (a
 * NULL-terminated list; NULL: none): a line of a kind not in the list is a
 * bad line, so a file a later version wrote is moved aside whole, not
 * rewritten without the lines this version cannot follow. */
int state_load_kinds(const char *dir, const char *const *kinds, struct state_entry **out, size_t *n,
		     char **moved_to);

/* Replaces the file with these entries, atomically; safe from many threads or
 * processes at once (the last rename wins, each content whole). Returns 0 or
 * -errno; on failure no temporary file is left. */
int state_save(const char *dir, const struct state_entry *entries, size_t n);

void state_free(struct state_entry *entries, size_t n);

#endif
