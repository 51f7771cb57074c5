/* state.c - persist progress ids; atomic replace, mode 0600; one daemon per
 * directory.
 *
 *   $ cat ~/.local/state/cekurafs/progress-ids
 *   # cekurafs progress ids: <agent id> <progress id>
 *   42 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 *   $ cat ~/.local/state/cekurafs/lock       # flock-ed by the daemon using the directory
 *   1234
 */
#include "cekurafs/state.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cekurafs/ids.h"

#define HEADER "# cekurafs progress ids: <agent id> <progress id>\n"
/* Every temporary file of a save starts so (the rest is mkostemp's). */
#define TEMP_PREFIX "." STATE_FILE "."

/* "<dir>/<name>", owned; NULL when out of memory. */
static char *path_in(const char *dir, const char *name)
{
	char *path = NULL;

	return asprintf(&path, "%s/%s", dir, name) < 0 ? NULL : path;
}

int state_prepare(const char *dir)
{
	char *copy = strdup(dir);
	int rc = 0;

	if(!copy)
		return -ENOMEM;
	/* mkdir -p, each missing level 0700 */
	for(char *p = copy + 1;; p++) {
		char c = *p;

		if(c != '/' && c != '\0')
			continue;
		*p = '\0';
		if(mkdir(copy, 0700) != 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = c;
		if(c == '\0')
			break;
	}
	free(copy);
	return rc;
}

int state_check_writable(const char *dir)
{
	char *tmp = path_in(dir, TEMP_PREFIX "XXXXXX");
	int fd, rc = 0;

	if(!tmp)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if(fd < 0) {
		rc = -errno;
	} else {
		close(fd);
		if(unlink(tmp) != 0)
			rc = -errno;
	}
	free(tmp);
	return rc;
}

void state_free(struct state_entry *entries, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		free(entries[i].kind);
		free(entries[i].progress_id);
	}
	free(entries);
}

/* Whether the len bytes at s are one of kinds. */
static bool known_kind(const char *const *kinds, const char *s, size_t len)
{
	for(; kinds && *kinds; kinds++)
		if(strlen(*kinds) == len && memcmp(*kinds, s, len) == 0)
			return true;
	return false;
}

/* Parses "<id> <progress id>" or "<id> <kind> <job id>". Returns 0, or -1 for a bad line. */
static int parse_line(char *line, const char *const *kinds, struct state_entry *e)
{
	char *sp = strchr(line, ' '), *id, *sp2;

	if(!sp || !ids_parse_agent(line, (size_t)(sp - line), &e->agent_id))
		return -1;
	id = sp + 1;
	sp2 = strchr(id, ' ');
	if(sp2) {
		if(!known_kind(kinds, id, (size_t)(sp2 - id)))
			return -1;
		e->kind = strndup(id, (size_t)(sp2 - id));
		if(!e->kind)
			return -1;
		id = sp2 + 1;
	}
	if(!ids_valid_job(id) || !(e->progress_id = strdup(id))) {
		free(e->kind);
		e->kind = NULL;
		return -1;
	}
	return 0;
}

/* Renames path to progress-ids.corrupt-<time>-XXXXXX: mkostemp makes that name
 * ours (O_EXCL), so the rename replaces our empty file and never another one,
 * however many files are moved aside in one second. */
static int move_aside(const char *dir, const char *path, char **moved_to)
{
	char *dest = NULL;
	int fd, err;

	if(asprintf(&dest, "%s/%s.corrupt-%lld-XXXXXX", dir, STATE_FILE, (long long)time(NULL)) < 0)
		return -ENOMEM;
	fd = mkostemp(dest, O_CLOEXEC);
	if(fd < 0) {
		err = -errno;
		free(dest);
		return err;
	}
	close(fd);
	if(rename(path, dest) != 0) {
		err = -errno;
		unlink(dest);
		free(dest);
		return err;
	}
	*moved_to = dest;
	return 0;
}

int state_load(const char *dir, struct state_entry **out, size_t *n, char **moved_to)
{
	return state_load_kinds(dir, NULL, out, n, moved_to);
}

int state_load_kinds(const char *dir, const char *const *kinds, struct state_entry **out, size_t *n,
		     char **moved_to)
{
	char *path = NULL, *line = NULL;
	size_t cap = 0, count = 0, lcap = 0;
	struct state_entry *entries = NULL;
	bool bad = false;
	FILE *f;
	ssize_t len;
	int rc = 0;

	*out = NULL;
	*n = 0;
	*moved_to = NULL;
	path = path_in(dir, STATE_FILE);
	if(!path)
		return -ENOMEM;
	f = fopen(path, "re");
	if(!f) {
		rc = errno == ENOENT ? 0 : -errno;
		free(path);
		return rc;
	}
	errno = 0;
	while((len = getline(&line, &lcap, f)) >= 0) {
		struct state_entry e = {0};

		if(len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if(len == 0 || line[0] == '#')
			continue;
		if(parse_line(line, kinds, &e) != 0) {
			bad = true;
			continue;
		}
		if(count == cap) {
			struct state_entry *p = realloc(entries, (cap ? cap * 2 : 16) * sizeof(*p));

			if(!p) {
				free(e.kind);
				free(e.progress_id);
				rc = -ENOMEM;
				break;
			}
			entries = p;
			cap = cap ? cap * 2 : 16;
		}
		entries[count++] = e;
	}
	if(ferror(f) && rc == 0)
		rc = errno ? -errno : -EIO; /* EISDIR for a directory, say */
	fclose(f);
	free(line);
	if(rc == 0 && bad)
		rc = move_aside(dir, path, moved_to);
	free(path);
	if(rc != 0) {
		state_free(entries, count);
		return rc;
	}
	*out = entries;
	*n = count;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while(len > 0) {
		ssize_t w = write(fd, buf, len);

		if(w < 0) {
			if(errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if(fd < 0)
		return -errno;
	if(fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int state_save(const char *dir, const struct state_entry *entries, size_t n)
{
	char *path = NULL, *tmp = NULL, *text = NULL;
	size_t len = 0;
	FILE *mem;
	int fd = -1, rc;

	mem = open_memstream(&text, &len);
	if(!mem)
		return -ENOMEM;
	fputs(HEADER, mem);
	for(size_t i = 0; i < n; i++)
		fprintf(mem, "%llu %s%s%s\n", (unsigned long long)entries[i].agent_id,
			entries[i].kind ? entries[i].kind : "", entries[i].kind ? " " : "",
			entries[i].progress_id);
	if(fclose(mem) != 0) {
		free(text);
		return -ENOMEM;
	}
	path = path_in(dir, STATE_FILE);
	tmp = path_in(dir, TEMP_PREFIX "XXXXXX");
	if(!path || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	/* A name of this writer's own (O_EXCL): two saves at once, from two
	 * threads or two processes, never write into one file. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if(fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = fchmod(fd, 0600) == 0 ? 0 : -errno;
	if(rc == 0)
		rc = write_all(fd, text, len);
	if(rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if(close(fd) != 0 && rc == 0)
		rc = -errno;
	if(rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if(rc == 0)
		rc = fsync_dir(dir);
	else
		unlink(tmp);
out:
	free(text);
	free(path);
	free(tmp);
	return rc;
}

/* The pid written in a lock file, 0 when it holds none. */
static pid_t read_pid(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long long pid = 0;

	if(n <= 0)
		return 0;
	buf[n] = '\0';
	for(char *p = buf; *p >= '0' && *p <= '9'; p++) {
		pid = pid * 10 + (*p - '0');
		if(pid > INT32_MAX)
			return 0;
	}
	return (pid_t)pid;
}

/* The holder's pid. It writes it just after taking the lock, so a lock file
 * still empty is read again for a while (at most 0.5 s). */
static pid_t holder_pid(int fd)
{
	const struct timespec step = {.tv_nsec = 10 * 1000 * 1000};

	for(int i = 0; i < 50; i++) {
		pid_t pid = read_pid(fd);

		if(pid > 0)
			return pid;
		nanosleep(&step, NULL);
	}
	return 0;
}

int state_lock_update_pid(int lock_fd)
{
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	/* Overwrite, then cut: a reader never finds the file empty. */
	errno = 0;
	if(pwrite(lock_fd, buf, (size_t)len, 0) != len)
		return errno ? -errno : -EIO;
	return ftruncate(lock_fd, len) == 0 ? 0 : -errno;
}

/* Removes the temporary files of saves that never reached their rename. */
static void remove_dead_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if(!d)
		return;
	while((e = readdir(d)))
		if(strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

int state_lock(const char *dir, int *lock_fd, pid_t *holder)
{
	char *path = path_in(dir, STATE_LOCK_FILE);
	int fd, rc;

	*lock_fd = -1;
	*holder = 0;
	if(!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if(fd < 0)
		return -errno;
	if(flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if(rc == -EBUSY)
			*holder = holder_pid(fd);
		close(fd);
		return rc;
	}
	rc = state_lock_update_pid(fd);
	if(rc != 0) {
		close(fd);
		return rc;
	}
	remove_dead_temps(dir);
	*lock_fd = fd;
	return 0;
}

void state_unlock(int lock_fd)
{
	if(lock_fd < 0)
		return;
	flock(lock_fd, LOCK_UN);
	close(lock_fd);
}
