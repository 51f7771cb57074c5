/* state.c - persist progress ids; atomic replace, mode 0600.
 *
 *   $ cat ~/.local/state/cekurafs/progress-ids
 *   # cekurafs progress ids: <agent id> <progress id>
 *   42 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 */
#include "cekurafs/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cekurafs/tree.h"

#define HEADER "# cekurafs progress ids: <agent id> <progress id>\n"

int state_valid_progress_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if(n == 0 || n > 128)
		return 0;
	for(size_t i = 0; i < n; i++) {
		char c = s[i];

		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		     c == '_' || c == '~' || c == '-'))
			return 0;
	}
	return 1;
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

void state_free(struct state_entry *entries, size_t n)
{
	for(size_t i = 0; i < n; i++)
		free(entries[i].progress_id);
	free(entries);
}

/* Parses "<id> <progress id>". Returns 0, or -1 for a bad line. */
static int parse_line(char *line, struct state_entry *e)
{
	char *sp = strchr(line, ' ');

	if(!sp || !tree_parse_id(line, (size_t)(sp - line), &e->agent_id))
		return -1;
	if(!state_valid_progress_id(sp + 1))
		return -1;
	e->progress_id = strdup(sp + 1);
	return e->progress_id ? 0 : -1;
}

static int move_aside(const char *dir, const char *path, char **moved_to)
{
	char *dest = NULL;

	if(asprintf(&dest, "%s/%s.corrupt-%lld", dir, STATE_FILE, (long long)time(NULL)) < 0)
		return -ENOMEM;
	if(rename(path, dest) != 0) {
		int err = -errno;

		free(dest);
		return err;
	}
	*moved_to = dest;
	return 0;
}

int state_load(const char *dir, struct state_entry **out, size_t *n, char **moved_to)
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
	if(asprintf(&path, "%s/%s", dir, STATE_FILE) < 0)
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
		if(parse_line(line, &e) != 0) {
			bad = true;
			continue;
		}
		if(count == cap) {
			struct state_entry *p = realloc(entries, (cap ? cap * 2 : 16) * sizeof(*p));

			if(!p) {
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
		fprintf(mem, "%llu %s\n", (unsigned long long)entries[i].agent_id, entries[i].progress_id);
	if(fclose(mem) != 0) {
		free(text);
		return -ENOMEM;
	}
	if(asprintf(&path, "%s/%s", dir, STATE_FILE) < 0 ||
	   asprintf(&tmp, "%s/.%s.tmp", dir, STATE_FILE) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
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
