/* test_state.c - the progress-ids file: round trip, mode 0600, atomic
 * replacement (no temporary file left, concurrent saves each whole), corrupt
 * files moved aside with their good lines kept (under names never reused),
 * the directory made with mode 0700, the check that files can be made in
 * it, and the lock that makes a directory one daemon's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cekurafs/state.h"

struct fixture {
	char dir[64];
	char file[128];
};

static int remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if(lstat(path, &st) != 0)
		return 0;
	if(!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if(!d)
		return -1;
	while((e = readdir(d))) {
		char *child = NULL;

		if(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if(asprintf(&child, "%s/%s", path, e->d_name) < 0)
			break;
		remove_tree(child);
		free(child);
	}
	closedir(d);
	return rmdir(path);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if(!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cekurafs-state-XXXXXX");
	if(!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->file, sizeof(fx->file), "%s/%s", fx->dir, STATE_FILE);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	remove_tree(fx->dir);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Counts the names in dir that start with prefix; copies the first one met into first. */
static size_t count_entries(const char *dir, const char *prefix, char *first, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while((e = readdir(d))) {
		if(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if(strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if(n == 0 && first)
			snprintf(first, size, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void test_saved_entries_load_back(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {
		{.agent_id = 42, .progress_id = (char *)"6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a"},
		{.agent_id = 7, .progress_id = (char *)"a.b_c~d-1"},
		{.agent_id = 9223372036854775807u, .progress_id = (char *)"x"},
	};
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = (char *)"untouched";

	assert_int_equal(state_save(fx->dir, in, 3), 0);
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_null(moved);
	assert_int_equal(n, 3);
	for(size_t i = 0; i < 3; i++) {
		assert_true(out[i].agent_id == in[i].agent_id);
		assert_string_equal(out[i].progress_id, in[i].progress_id);
	}
	state_free(out, n);
}

static void test_file_format_is_a_header_and_a_line_per_agent(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {{.agent_id = 42, .progress_id = (char *)"p-42"}};
	char *text;

	assert_int_equal(state_save(fx->dir, in, 1), 0);
	text = read_file(fx->file);
	assert_string_equal(text, "# cekurafs progress ids: <agent id> <progress id>\n42 p-42\n");
	free(text);
}

static void test_saved_file_is_mode_0600_whatever_the_umask(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {{.agent_id = 1, .progress_id = (char *)"p"}};
	struct stat st;
	mode_t old = umask(0);
	int rc = state_save(fx->dir, in, 1);

	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_saving_over_a_readable_file_makes_it_0600(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {{.agent_id = 1, .progress_id = (char *)"p"}};
	struct stat st;

	write_file(fx->file, "1 old\n");
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_int_equal(state_save(fx->dir, in, 1), 0);
	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_save_replaces_the_whole_file(void **state)
{
	struct fixture *fx = *state;
	struct state_entry two[] = {{.agent_id = 1, .progress_id = (char *)"a"},
				    {.agent_id = 2, .progress_id = (char *)"b"}};
	struct state_entry one[] = {{.agent_id = 2, .progress_id = (char *)"c"}};
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL;

	assert_int_equal(state_save(fx->dir, two, 2), 0);
	assert_int_equal(state_save(fx->dir, one, 1), 0);
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].agent_id, 2);
	assert_string_equal(out[0].progress_id, "c");
	state_free(out, n);
	assert_int_equal(state_save(fx->dir, NULL, 0), 0);
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_int_equal(n, 0);
	state_free(out, n);
}

static void test_save_leaves_no_temporary_file(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {{.agent_id = 1, .progress_id = (char *)"p"}};
	char first[256] = "";

	assert_int_equal(state_save(fx->dir, in, 1), 0);
	assert_int_equal(state_save(fx->dir, in, 1), 0);
	assert_int_equal(count_entries(fx->dir, "", first, sizeof(first)), 1);
	assert_string_equal(first, STATE_FILE);
}

static void test_save_into_a_missing_directory_fails(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {{.agent_id = 1, .progress_id = (char *)"p"}};
	char *missing = NULL;

	assert_true(asprintf(&missing, "%s/nope", fx->dir) > 0);
	assert_int_equal(state_save(missing, in, 1), -ENOENT);
	free(missing);
}

static void test_missing_file_is_no_entries(void **state)
{
	struct fixture *fx = *state;
	struct state_entry *out = (struct state_entry *)1;
	size_t n = 99;
	char *moved = (char *)"untouched";

	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_null(moved);
	assert_int_equal(count_entries(fx->dir, "", NULL, 0), 0); /* loading creates nothing */
}

static void test_comments_and_blank_lines_are_skipped(void **state)
{
	struct fixture *fx = *state;
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL;

	write_file(fx->file, "# a comment\n\n42 p-42\n# another\n7 p-7\n\n");
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_null(moved);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].agent_id, 42);
	assert_string_equal(out[1].progress_id, "p-7");
	state_free(out, n);
	assert_int_equal(access(fx->file, F_OK), 0); /* a good file stays where it is */
}

static void test_a_corrupt_file_is_moved_aside_keeping_good_lines(void **state)
{
	struct fixture *fx = *state;
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL;
	char first[256] = "";
	char *expect = NULL, *text;
	const char *content = "# header\n42 p-42\nthis is not a line\n7 p-7\n";

	write_file(fx->file, content);
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].agent_id, 42);
	assert_string_equal(out[0].progress_id, "p-42");
	assert_int_equal(out[1].agent_id, 7);
	assert_string_equal(out[1].progress_id, "p-7");
	state_free(out, n);
	/* the file is gone from its place, kept whole under the name reported */
	assert_int_equal(access(fx->file, F_OK), -1);
	assert_int_equal(count_entries(fx->dir, STATE_FILE ".corrupt-", first, sizeof(first)), 1);
	assert_true(asprintf(&expect, "%s/%s", fx->dir, first) > 0);
	assert_non_null(moved);
	assert_string_equal(moved, expect);
	text = read_file(moved);
	assert_string_equal(text, content);
	free(text);
	free(expect);
	free(moved);
}

static void test_every_kind_of_bad_line_counts_as_corrupt(void **state)
{
	static const char *const bad[] = {
		"42\n",
		"42 \n",
		"042 p\n",
		"0 p\n",
		"-1 p\n",
		"x p\n",
		"42 p q\n",
		"42 p/q\n",
		" 42 p\n",
		"42  p\n",
		"42\tp\n",
		"42 p\r\n",
		"9223372036854775808 p\n",
		"42 p%20\n",
		"42 \xc3\xa9\n",
		"42 p \n",
	};
	struct fixture *fx = *state;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct state_entry *out = NULL;
		size_t n = 0;
		char *moved = NULL;

		write_file(fx->file, bad[i]);
		assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
		if(!moved)
			fail_msg("line \"%s\" was accepted", bad[i]);
		assert_int_equal(n, 0);
		state_free(out, n);
		unlink(moved);
		free(moved);
	}
}

static void test_an_unreadable_state_is_an_error(void **state)
{
	struct fixture *fx = *state;
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL;

	assert_int_equal(mkdir(fx->file, 0700), 0); /* a directory where the file should be */
	assert_int_not_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_null(out);
	assert_null(moved);
}

static void test_prepare_makes_nested_directories_0700(void **state)
{
	struct fixture *fx = *state;
	char *a = NULL, *b = NULL, *c = NULL;
	struct stat st;
	mode_t old;
	int rc;

	assert_true(asprintf(&a, "%s/a", fx->dir) > 0);
	assert_true(asprintf(&b, "%s/a/b", fx->dir) > 0);
	assert_true(asprintf(&c, "%s/a/b/c", fx->dir) > 0);
	old = umask(0);
	rc = state_prepare(c);
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(stat(a, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(b, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(c, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* again: already there is fine */
	assert_int_equal(state_prepare(c), 0);
	free(a);
	free(b);
	free(c);
}

/* Two threads saving at once, each its own content, SAVES times. */
#define SAVES	     200
#define SAVE_ENTRIES 64

struct saver {
	const char *dir;
	struct state_entry entries[SAVE_ENTRIES];
	char ids[SAVE_ENTRIES][40];
	int failures, first_error;
};

static void *save_repeatedly(void *arg)
{
	struct saver *s = arg;

	for(int i = 0; i < SAVES; i++) {
		int rc = state_save(s->dir, s->entries, SAVE_ENTRIES);

		if(rc != 0 && s->failures++ == 0)
			s->first_error = rc;
	}
	return NULL;
}

/* The text state_save() writes for s's entries. */
static char *expected_text(const struct saver *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	assert_non_null(mem);
	fputs("# cekurafs progress ids: <agent id> <progress id>\n", mem);
	for(int i = 0; i < SAVE_ENTRIES; i++)
		fprintf(mem, "%llu %s\n", (unsigned long long)s->entries[i].agent_id,
			s->entries[i].progress_id);
	assert_int_equal(fclose(mem), 0);
	return text;
}

static void test_concurrent_saves_never_fail_and_each_file_is_whole(void **state)
{
	struct fixture *fx = *state;
	struct saver savers[2];
	char *texts[2];
	pthread_t threads[2];
	int reads = 0, torn = 0;
	bool joined[2] = {false, false};

	for(int t = 0; t < 2; t++) {
		savers[t] = (struct saver){.dir = fx->dir};
		for(int i = 0; i < SAVE_ENTRIES; i++) {
			/* different agents and lengths, so a mix of two writes shows */
			snprintf(savers[t].ids[i], sizeof(savers[t].ids[i]), "%s-%d",
				 t ? "second-writer" : "w1", i);
			savers[t].entries[i].agent_id = (uint64_t)(t * 1000 + i + 1);
			savers[t].entries[i].progress_id = savers[t].ids[i];
		}
		texts[t] = expected_text(&savers[t]);
	}
	assert_int_equal(state_save(fx->dir, savers[0].entries, SAVE_ENTRIES), 0);
	for(int t = 0; t < 2; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, save_repeatedly, &savers[t]), 0);
	/* Meanwhile every read finds one whole content or the other. */
	while(!joined[0] || !joined[1]) {
		char *text = read_file(fx->file);

		if(strcmp(text, texts[0]) != 0 && strcmp(text, texts[1]) != 0)
			torn++; /* told once both writers are done: they use this stack */
		free(text);
		reads++;
		for(int t = 0; t < 2; t++)
			if(!joined[t] && pthread_tryjoin_np(threads[t], NULL) == 0)
				joined[t] = true;
	}
	if(torn)
		fail_msg("%d of %d reads found a file that is neither content", torn, reads);
	for(int t = 0; t < 2; t++)
		if(savers[t].failures)
			fail_msg("writer %d: %d of %d saves failed, the first with %s", t, savers[t].failures,
				 SAVES, strerror(-savers[t].first_error));
	{
		char *text = read_file(fx->file);

		assert_true(strcmp(text, texts[0]) == 0 || strcmp(text, texts[1]) == 0);
		free(text);
	}
	assert_int_equal(count_entries(fx->dir, ".", NULL, 0), 0); /* no temporary file left */
	assert_int_equal(count_entries(fx->dir, "", NULL, 0), 1);
	free(texts[0]);
	free(texts[1]);
}

/* The text of the i-th corrupt file of the test below. */
static void corrupt_content(int i, char *buf, size_t size)
{
	snprintf(buf, size, "%d p-%d\nbad line %d\n", i + 1, i, i);
}

static void test_corrupt_files_moved_aside_in_one_second_all_keep_their_own_name(void **state)
{
	struct fixture *fx = *state;
	char *moved[5] = {0};
	char prefix[128], content[64];

	for(int i = 0; i < 5; i++) { /* well within one second */
		struct state_entry *out = NULL;
		size_t n = 0;

		corrupt_content(i, content, sizeof(content));
		write_file(fx->file, content);
		assert_int_equal(state_load(fx->dir, &out, &n, &moved[i]), 0);
		assert_int_equal(n, 1);
		state_free(out, n);
		assert_non_null(moved[i]);
	}
	/* each still holds what was moved: none was replaced by a later one */
	for(int i = 0; i < 5; i++) {
		char *text = read_file(moved[i]);

		corrupt_content(i, content, sizeof(content));
		assert_string_equal(text, content);
		free(text);
		for(int j = 0; j < i; j++)
			assert_string_not_equal(moved[i], moved[j]);
	}
	assert_int_equal(count_entries(fx->dir, STATE_FILE ".corrupt-", NULL, 0), 5);
	assert_int_equal(count_entries(fx->dir, "", NULL, 0), 5);
	/* named progress-ids.corrupt-<time>-XXXXXX */
	snprintf(prefix, sizeof(prefix), "%s/%s.corrupt-", fx->dir, STATE_FILE);
	for(int i = 0; i < 5; i++) {
		const char *p = moved[i] + strlen(prefix);

		assert_int_equal(strncmp(moved[i], prefix, strlen(prefix)), 0);
		assert_true(*p >= '1' && *p <= '9');
		p += strspn(p, "0123456789");
		assert_int_equal(*p, '-');
		assert_int_equal(strlen(p + 1), 6);
		free(moved[i]);
	}
}

static char *lock_path(const struct fixture *fx)
{
	char *path = NULL;

	assert_true(asprintf(&path, "%s/%s", fx->dir, STATE_LOCK_FILE) > 0);
	return path;
}

static void test_lock_refuses_a_second_holder_and_names_the_first(void **state)
{
	struct fixture *fx = *state;
	char *path = lock_path(fx), *text, pid[32];
	int fd = -1, fd2 = 12345;
	pid_t holder = 12345;
	struct stat st;

	assert_int_equal(state_lock(fx->dir, &fd, &holder), 0);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	text = read_file(path);
	assert_string_equal(text, pid);
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	/* A second open file is another holder, even in this process. */
	assert_int_equal(state_lock(fx->dir, &fd2, &holder), -EBUSY);
	assert_int_equal(fd2, -1);
	assert_int_equal(holder, getpid());
	/* Released, it can be taken again. */
	state_unlock(fd);
	assert_int_equal(state_lock(fx->dir, &fd, &holder), 0);
	assert_int_equal(state_lock(fx->dir, &fd2, &holder), -EBUSY);
	state_unlock(fd);
	state_unlock(-1); /* a no-op */
	free(path);
}

static void test_lock_writes_its_pid_over_a_stale_one(void **state)
{
	struct fixture *fx = *state;
	char *path = lock_path(fx), *text, pid[32];
	int fd = -1;
	pid_t holder;

	write_file(path, "2147483647\nleft by a daemon that died\n");
	assert_int_equal(state_lock(fx->dir, &fd, &holder), 0);
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	text = read_file(path);
	assert_string_equal(text, pid);
	free(text);
	state_unlock(fd);
	free(path);
}

static void test_lock_survives_a_fork_and_names_the_child(void **state)
{
	struct fixture *fx = *state;
	int fd = -1, fd2, status;
	pid_t holder, child;

	assert_int_equal(state_lock(fx->dir, &fd, &holder), 0);
	child = fork();
	assert_true(child >= 0);
	if(child == 0) /* what fuse_daemonize()'s child does */
		_exit(state_lock_update_pid(fd) == 0 ? 0 : 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the child is gone; the open file it shared is still locked, and names it */
	assert_int_equal(state_lock(fx->dir, &fd2, &holder), -EBUSY);
	assert_int_equal(holder, child);
	state_unlock(fd);
}

static void test_lock_refuses_a_symlink(void **state)
{
	struct fixture *fx = *state;
	char *path = lock_path(fx), *target = NULL;
	int fd = 12345;
	pid_t holder;

	assert_true(asprintf(&target, "%s/elsewhere", fx->dir) > 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(state_lock(fx->dir, &fd, &holder), -ELOOP);
	assert_int_equal(fd, -1);
	assert_int_equal(access(target, F_OK), -1); /* nothing made through the link */
	free(target);
	free(path);
}

static void test_lock_file_is_not_read_as_state(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {{.agent_id = 42, .progress_id = (char *)"p-42"}};
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL;
	int fd = -1;
	pid_t holder;

	assert_int_equal(state_lock(fx->dir, &fd, &holder), 0);
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0); /* no state file yet */
	assert_int_equal(n, 0);
	assert_null(moved);
	assert_int_equal(state_save(fx->dir, in, 1), 0);
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_null(moved);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].progress_id, "p-42");
	state_free(out, n);
	assert_int_equal(count_entries(fx->dir, "", NULL, 0), 2); /* lock, progress-ids */
	assert_int_equal(count_entries(fx->dir, STATE_LOCK_FILE, NULL, 0), 1);
	state_unlock(fd);
}

static void test_lock_removes_temporary_files_of_dead_writers(void **state)
{
	struct fixture *fx = *state;
	char *a = NULL, *b = NULL, *text;
	int fd = -1;
	pid_t holder;

	assert_true(asprintf(&a, "%s/.%s.tmp", fx->dir, STATE_FILE) > 0); /* an older daemon's name */
	assert_true(asprintf(&b, "%s/.%s.Xy12Zq", fx->dir, STATE_FILE) > 0);
	write_file(a, "# cekurafs progress ids\n99 half-writ");
	write_file(b, "1 p");
	write_file(fx->file, "7 p-7\n");
	assert_int_equal(state_lock(fx->dir, &fd, &holder), 0);
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(access(b, F_OK), -1);
	text = read_file(fx->file);
	assert_string_equal(text, "7 p-7\n");
	free(text);
	state_unlock(fd);
	free(a);
	free(b);
}

static void test_prepare_fails_below_a_file(void **state)
{
	struct fixture *fx = *state;
	char *below = NULL;

	write_file(fx->file, "");
	assert_true(asprintf(&below, "%s/x", fx->file) > 0);
	assert_int_equal(state_prepare(below), -ENOTDIR);
	free(below);
}

static void test_check_writable_leaves_nothing_behind(void **state)
{
	struct fixture *fx = *state;
	char *missing = NULL;

	assert_int_equal(state_check_writable(fx->dir), 0);
	assert_int_equal(count_entries(fx->dir, "", NULL, 0), 0);
	assert_true(asprintf(&missing, "%s/missing", fx->dir) > 0);
	assert_int_equal(state_check_writable(missing), -ENOENT);
	free(missing);
	/* Mode bits stop everyone but root; the integration tests try a
	 * read-only file system and an immutable directory, as root. */
	if(geteuid() != 0) {
		assert_int_equal(chmod(fx->dir, 0500), 0);
		assert_int_equal(state_check_writable(fx->dir), -EACCES);
		assert_int_equal(chmod(fx->dir, 0700), 0);
	}
}

/* A job of another kind than the agent import is a line of three words; the
 * agent import keeps its two, so a file of agent imports only reads as it always did. */
static void test_a_job_of_another_kind_is_a_line_of_three_words(void **state)
{
	struct fixture *fx = *state;
	struct state_entry in[] = {
		{.agent_id = 42, .progress_id = (char *)"p-42"},
		{.agent_id = 42, .kind = (char *)"tools-import", .progress_id = (char *)"t-1"}};
	const char *kinds[] = {"tools-import", NULL};
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL, *text;

	assert_int_equal(state_save(fx->dir, in, 2), 0);
	text = read_file(fx->file);
	assert_string_equal(
		text, "# cekurafs progress ids: <agent id> <progress id>\n42 p-42\n42 tools-import t-1\n");
	free(text);
	assert_int_equal(state_load_kinds(fx->dir, kinds, &out, &n, &moved), 0);
	assert_null(moved);
	assert_int_equal(n, 2);
	assert_null(out[0].kind);
	assert_string_equal(out[0].progress_id, "p-42");
	assert_string_equal(out[1].kind, "tools-import");
	assert_string_equal(out[1].progress_id, "t-1");
	state_free(out, n);
}

/* A kind this version does not follow makes the line bad: the file is moved
 * aside whole (the later version's ids stay in it) and the known lines kept. */
static void test_a_kind_not_known_moves_the_file_aside(void **state)
{
	struct fixture *fx = *state;
	const char *kinds[] = {"tools-import", NULL};
	struct state_entry *out = NULL;
	size_t n = 0;
	char *moved = NULL;

	write_file(fx->file, "42 p-42\n42 test-result r-9\n7 tools-import t-7\n");
	assert_int_equal(state_load_kinds(fx->dir, kinds, &out, &n, &moved), 0);
	assert_non_null(moved);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].progress_id, "p-42");
	assert_string_equal(out[1].kind, "tools-import");
	state_free(out, n);
	free(moved);
	/* and state_load() knows no kind at all: every three-word line is bad */
	write_file(fx->file, "42 p-42\n7 tools-import t-7\n");
	assert_int_equal(state_load(fx->dir, &out, &n, &moved), 0);
	assert_non_null(moved);
	assert_int_equal(n, 1);
	state_free(out, n);
	free(moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_saved_entries_load_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_job_of_another_kind_is_a_line_of_three_words, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_kind_not_known_moves_the_file_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_format_is_a_header_and_a_line_per_agent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_saved_file_is_mode_0600_whatever_the_umask, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_saving_over_a_readable_file_makes_it_0600, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_replaces_the_whole_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_leaves_no_temporary_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_into_a_missing_directory_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_no_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments_and_blank_lines_are_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_corrupt_file_is_moved_aside_keeping_good_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_every_kind_of_bad_line_counts_as_corrupt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_an_unreadable_state_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_makes_nested_directories_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_fails_below_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_writable_leaves_nothing_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_saves_never_fail_and_each_file_is_whole,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_corrupt_files_moved_aside_in_one_second_all_keep_their_own_name, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_lock_refuses_a_second_holder_and_names_the_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_writes_its_pid_over_a_stale_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_survives_a_fork_and_names_the_child, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_refuses_a_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_file_is_not_read_as_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_removes_temporary_files_of_dead_writers, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
