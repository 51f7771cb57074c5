/* floorfs.c - the floor of `make bench`: the least a FUSE file system can do.
 *
 *   build/bench/floorfs -f /tmp/floor
 *   stat /tmp/floor/agents/42/progress; cat /tmp/floor/agents/42/progress
 *
 * Serves the shape of path cekurafs serves (/agents/42/progress) with a fixed
 * text of the length of a completed progress, from memory, with nothing else:
 * no lookups, no locks, no allocation. It runs the way cekurafs does (the
 * high-level libfuse API, FUSE_USE_VERSION 312, the multi-threaded loop with
 * up to 64 threads, the same fuse_config: attribute timeout 0, entry timeout
 * 1 s, interrupts on SIGUSR1, and direct_io on the file), so that the time of
 * a cached `stat` or `cat` on cekurafs divided by the time of the same call
 * here is what cekurafs adds to FUSE itself. Only what those calls need is
 * implemented (getattr, readdir, open, read): any other operation is ENOSYS,
 * which the kernel remembers for flush, so a close costs no round trip here.
 *
 * Options: the usual FUSE ones (-f, -s, -o max_threads=N, ...).
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_lowlevel.h> /* fuse_parse_cmdline */

#define DEFAULT_MAX_THREADS 64 /* as cekurafs (fs/main.c) */
#define INTERRUPT_SIGNAL    SIGUSR1

/* What cekurafs shows for a completed import of agent 42 (the simulator's
 * stages, a uuid4 progress id): the same length, byte for byte. */
static const char PROGRESS[] = "completed\n"
			       "progress_id: 00000000-0000-4000-8000-000000000000\n"
			       "current_stage:\n"
			       "stages: 6/6\n"
			       "stage system_prompt completed\n"
			       "stage call_settings completed\n"
			       "stage phone_number completed\n"
			       "stage tools completed\n"
			       "stage dynamic_variables completed\n"
			       "stage knowledge_base completed\n";

enum kind { NONE, DIR_ROOT, DIR_AGENTS, DIR_AGENT, FILE_PROGRESS };

static struct timespec mounted;

static enum kind kind_of(const char *path)
{
	if(strcmp(path, "/") == 0)
		return DIR_ROOT;
	if(strcmp(path, "/agents") == 0)
		return DIR_AGENTS;
	if(strcmp(path, "/agents/42") == 0)
		return DIR_AGENT;
	if(strcmp(path, "/agents/42/progress") == 0)
		return FILE_PROGRESS;
	return NONE;
}

static int floor_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	enum kind k = kind_of(path);

	(void)fi;
	if(k == NONE)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_mode = k == FILE_PROGRESS ? S_IFREG | 0444 : S_IFDIR | 0555;
	st->st_nlink = k == FILE_PROGRESS ? 1 : 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = k == FILE_PROGRESS ? (off_t)(sizeof(PROGRESS) - 1) : 0;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = mounted;
	return 0;
}

static int floor_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
			 struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	static const char *const names[] = {
		[DIR_ROOT] = "agents", [DIR_AGENTS] = "42", [DIR_AGENT] = "progress"};
	enum kind k = kind_of(path);

	(void)off;
	(void)fi;
	(void)flags;
	if(k == NONE)
		return -ENOENT;
	if(k == FILE_PROGRESS)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, names[k], NULL, 0, 0);
	return 0;
}

static int floor_open(const char *path, struct fuse_file_info *fi)
{
	enum kind k = kind_of(path);

	if(k == NONE)
		return -ENOENT;
	if(k != FILE_PROGRESS)
		return -EISDIR;
	if((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fi->direct_io = 1; /* as cekurafs */
	return 0;
}

static int floor_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t len = sizeof(PROGRESS) - 1;

	(void)path;
	(void)fi;
	if(off < 0 || (size_t)off >= len)
		return 0;
	if(size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(buf, PROGRESS + off, size);
	return (int)size;
}

static void *floor_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* cekurafs's fuse_config (fs/ops.c), field by field */
	cfg->intr = 1;
	cfg->intr_signal = INTERRUPT_SIGNAL;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 1;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->nullpath_ok = 0;
	return NULL;
}

static const struct fuse_operations floor_ops = {
	.init = floor_init,
	.getattr = floor_getattr,
	.readdir = floor_readdir,
	.open = floor_open,
	.read = floor_read,
};

static void on_interrupt_signal(int sig)
{
	(void)sig;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct fuse_loop_config *loop;
	struct sigaction sa;
	struct fuse *fuse;
	int given_threads = 0;
	int ret = 1;

	for(int i = 1; i < argc; i++)
		if(strstr(argv[i], "max_threads="))
			given_threads = 1;
	/* fuse_opt_parse makes args its own copy, which fuse_opt_add_arg needs */
	if(fuse_opt_parse(&args, NULL, NULL, NULL) != 0 ||
	   fuse_opt_add_arg(&args, "-ofsname=floorfs,subtype=floorfs") != 0)
		goto out_args;
	if(fuse_parse_cmdline(&args, &cmd) != 0)
		goto out_args;
	if(cmd.show_help || cmd.show_version || !cmd.mountpoint) {
		printf("usage: %s [FUSE options] <mountpoint>\n", argv[0]);
		ret = cmd.mountpoint ? 0 : 1;
		goto out_args;
	}
	clock_gettime(CLOCK_REALTIME, &mounted);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt_signal;
	sigemptyset(&sa.sa_mask);
	if(sigaction(INTERRUPT_SIGNAL, &sa, NULL) != 0)
		goto out_args;
	fuse = fuse_new(&args, &floor_ops, sizeof(floor_ops), NULL);
	if(!fuse)
		goto out_args;
	if(fuse_mount(fuse, cmd.mountpoint) != 0)
		goto out_fuse;
	if(fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;
	if(fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	if(cmd.singlethread) {
		ret = fuse_loop(fuse);
	} else {
		loop = fuse_loop_cfg_create();
		if(!loop)
			goto out_signals;
		fuse_loop_cfg_set_clone_fd(loop, (unsigned)cmd.clone_fd);
		if(cmd.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop, cmd.max_idle_threads);
		fuse_loop_cfg_set_max_threads(loop, given_threads ? cmd.max_threads : DEFAULT_MAX_THREADS);
		ret = fuse_loop_mt(fuse, loop);
		fuse_loop_cfg_destroy(loop);
	}
	ret = ret >= 0 ? 0 : 1; /* the signal number after SIGTERM or SIGINT: a clean stop */
out_signals:
	fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
	fuse_unmount(fuse);
out_fuse:
	fuse_destroy(fuse);
out_args:
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
