/* ops.c - the fuse_operations table: path -> node -> handler, nothing more.
 *
 * There is no .flush: nothing is buffered, and the kernel stops sending FLUSH
 * (a round trip on every close) once it is told ENOSYS.
 *
 * Every operation that would change the tree is EPERM (never ENOSYS); the
 * truncate and utimens that `: > refetch` and `touch refetch` make succeed
 * and do nothing.
 */
#include "cekurafs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "cekurafs/memory.h"
#include "cekurafs/nodes.h"
#include "cekurafs/stats.h"
#include "cekurafs/tree.h"

#define INTERRUPT_SIGNAL SIGUSR1

static struct ops_context *context(void)
{
	return fuse_get_context()->private_data;
}

/* A reader's Ctrl-C, or the daemon stopping (SIGTERM, unmount): a blocked
 * `wait` or an API call in flight must end, or the loop would never join it. */
static bool interrupted(void *arg)
{
	struct fuse_session *se = fuse_get_session(fuse_get_context()->fuse);

	(void)arg;
	return fuse_interrupted() != 0 || fuse_session_exited(se) != 0;
}

/* Counts an error returned to a caller, for .cekurafs/stats. */
static int counted(int rc)
{
	if(rc < 0)
		stats_error(-rc);
	return rc;
}

static struct node_ctx node_ctx(void)
{
	struct node_ctx c = {
		.reg = context()->reg,
		.cancel = {.cancelled = interrupted},
		.settings = context()->settings,
	};

	return c;
}

/* What a path names, once it is known to exist. */
struct resolved {
	struct tree_path tp;
	struct node_ref node; /* TREE_IN_AGENT and TREE_STATUS_FILE */
	uint64_t link_to;     /* TREE_LINK */
};

/* Resolves a path: an agent must exist, and what follows its directory
 * (nodes_resolve()); a status file must be a row; a link must be in by-name/. */
static int resolve(const char *path, struct resolved *r)
{
	struct node_ctx c = node_ctx();
	int rc = tree_parse(path, &r->tp);

	memset(&r->node, 0, sizeof(r->node));
	r->node.type = NODE_DIR;
	if(rc != 0)
		return rc;
	switch(r->tp.kind) {
	case TREE_ROOT:
	case TREE_AGENTS:
	case TREE_BYNAME:
	case TREE_STATUS:
		return 0;
	case TREE_STATUS_FILE:
		r->node.type = NODE_FILE;
		r->node.file.kind = nodes_status_find(r->tp.name, r->tp.name_len);
		return r->node.file.kind ? 0 : -ENOENT;
	case TREE_LINK:
		return nodes_byname_link(&c, r->tp.name, &r->link_to);
	case TREE_AGENT:
		return nodes_agent_exists(&c, r->tp.agent_id);
	case TREE_IN_AGENT:
		rc = nodes_agent_exists(&c, r->tp.agent_id);
		return rc == 0 ? nodes_resolve(&c, r->tp.agent_id, r->tp.name, &r->node) : rc;
	}
	return -ENOENT;
}

/* Whether the path is a regular file. */
static bool is_file(const struct resolved *r)
{
	return r->tp.kind != TREE_LINK && r->node.type == NODE_FILE && r->node.file.kind;
}

/* Whether the path is a symbolic link, and its target. */
static bool is_link(const struct resolved *r, char *target, size_t size)
{
	if(r->tp.kind == TREE_LINK) {
		snprintf(target, size, "../%llu", (unsigned long long)r->link_to); /* by-name/<name> */
		return true;
	}
	if(r->tp.kind == TREE_IN_AGENT && r->node.type == NODE_LINK) {
		snprintf(target, size, "%s", r->node.target);
		return true;
	}
	return false;
}

/* The permission bits a file shows: its row's, less what allow_other hides. */
static mode_t file_mode(const struct resolved *r)
{
	mode_t mode = nodes_mode(&r->node.file);

	return context()->shared && nodes_private(&r->node.file) ? mode & 0700 : mode;
}

/* What default_permissions already checks, checked again: under allow_other
 * only the mounting user (or root) writes, and reads what is owner_only. */
static int permitted(const struct resolved *r, int flags)
{
	uid_t caller = fuse_get_context()->uid;
	bool writes = (flags & O_ACCMODE) != O_RDONLY;

	if(!context()->shared || caller == context()->uid || caller == 0)
		return 0;
	return writes || nodes_private(&r->node.file) ? -EACCES : 0;
}

static void fill_stat(struct stat *st, mode_t mode, off_t size, double changed)
{
	struct ops_context *ctx = context();

	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = ctx->uid;
	st->st_gid = ctx->gid;
	st->st_size = size;
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_atim = st->st_mtim = st->st_ctim = ctx->mounted;
	if(changed > 0) {
		/* mtime and ctime: when the text last changed, for ls -t and find -newer */
		st->st_mtim.tv_sec = (time_t)changed;
		st->st_mtim.tv_nsec = (long)((changed - (double)st->st_mtim.tv_sec) * 1e9);
		st->st_ctim = st->st_mtim;
	}
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct node_ctx c = node_ctx();
	struct resolved r;
	char target[32];
	int rc = resolve(path, &r);

	(void)fi;
	if(rc != 0)
		return counted(rc);
	if(is_link(&r, target, sizeof(target))) {
		fill_stat(st, S_IFLNK | 0777, (off_t)strlen(target), 0);
	} else if(is_file(&r)) {
		fill_stat(st, S_IFREG | file_mode(&r), (off_t)nodes_size(&c, &r.node.file),
			  nodes_changed(&c, &r.node.file));
	} else {
		bool in_agent = r.tp.kind == TREE_IN_AGENT;
		/* under allow_other a private directory (results/<id>/) is the mounting user's alone */
		mode_t mode = in_agent && context()->shared && nodes_private(&r.node.file) ? 0500 : 0555;

		fill_stat(st, S_IFDIR | mode, 0, in_agent ? nodes_changed(&c, &r.node.file) : 0);
	}
	return 0;
}

struct dir_filler {
	void *buf;
	fuse_fill_dir_t fill;
};

static void fill_one(void *arg, const char *name)
{
	struct dir_filler *d = arg;

	d->fill(d->buf, name, NULL, 0, 0);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct node_ctx c = node_ctx();
	struct dir_filler d = {.buf = buf, .fill = fill};
	const struct node_kind *rows;
	struct resolved r;
	uint64_t *ids;
	size_t n;
	int rc = resolve(path, &r);

	(void)off;
	(void)fi;
	(void)flags;
	if(rc != 0)
		return counted(rc);
	if(r.node.type != NODE_DIR || r.tp.kind == TREE_LINK)
		return counted(-ENOTDIR);
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	switch(r.tp.kind) {
	case TREE_ROOT:
		fill(buf, "agents", NULL, 0, 0);
		fill(buf, TREE_STATUS_DIR, NULL, 0, 0);
		break;
	case TREE_STATUS:
		rows = nodes_status_table(&n);
		for(size_t i = 0; i < n; i++)
			fill(buf, rows[i].name, NULL, 0, 0);
		break;
	case TREE_AGENTS:
		/* ids only: by-name/ is reachable but not listed, so that
		 * `ls agents | wc -l` counts agents and a glob of agents gets ids */
		rc = nodes_agents(&c, &ids, &n);
		for(size_t i = 0; rc == 0 && i < n; i++) {
			char name[24];

			snprintf(name, sizeof(name), "%llu", (unsigned long long)ids[i]);
			fill(buf, name, NULL, 0, 0);
		}
		if(rc == 0)
			free(ids);
		break;
	case TREE_BYNAME:
		rc = nodes_byname(&c, fill_one, &d);
		break;
	case TREE_AGENT:
		rows = nodes_table(&n);
		for(size_t i = 0; i < n; i++)
			fill(buf, rows[i].name, NULL, 0, 0);
		break;
	case TREE_IN_AGENT:
		rc = nodes_list(&c, &r.node.file, fill_one, &d);
		break;
	case TREE_LINK:
	case TREE_STATUS_FILE:
		break;
	}
	return counted(rc);
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	struct resolved r;
	int rc = resolve(path, &r);

	if(rc != 0)
		return counted(rc);
	if(!is_link(&r, buf, size))
		return counted(-EINVAL); /* not a symbolic link */
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct node_ctx c = node_ctx();
	struct node_handle *h;
	struct resolved r;
	int rc = resolve(path, &r);

	if(rc != 0)
		return counted(rc);
	if(r.tp.kind == TREE_LINK || r.node.type == NODE_LINK)
		return counted(-ELOOP); /* the kernel follows links itself: this is O_NOFOLLOW's answer */
	if(!is_file(&r))
		return counted(-EISDIR);
	rc = permitted(&r, fi->flags);
	if(rc == 0)
		rc = nodes_open(&c, &r.node.file, fi->flags, &h);
	if(rc != 0)
		return counted(rc);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* write results reach the caller unchanged; sizes are not trusted */
	fi->nonseekable = nodes_is_stream(h);
	return 0;
}

static struct node_handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct node_handle *)(uintptr_t)fi->fh;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct node_ctx c = node_ctx();

	(void)path;
	return counted(nodes_read(&c, handle_of(fi), buf, size, off));
}

static int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct node_ctx c = node_ctx();

	(void)path;
	return counted(nodes_write(&c, handle_of(fi), buf, size, off));
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	nodes_release(handle_of(fi));
	return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return 0;
}

/* poll(2) and select(2): readable once a read would show something new. */
static int op_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		   unsigned *reventsp)
{
	struct node_ctx c = node_ctx();

	(void)path;
	*reventsp = nodes_notify_check(&c, handle_of(fi), ph) ? POLLIN | POLLRDNORM : 0;
	return 0;
}

/* ---- the notifier: tells the kernel when a polled file becomes readable ---- */

#define NOTIFY_TICK_NS 100000000L /* 0.1 s between two rounds */

static pthread_t notifier;
static bool notifier_started;
static atomic_bool notifier_stop;

static bool notifier_stopping(void *arg)
{
	(void)arg;
	return atomic_load(&notifier_stop);
}

static void notify_token(void *token)
{
	fuse_notify_poll(token);
}

static void release_token(void *token)
{
	fuse_pollhandle_destroy(token);
}

/* Runs outside any request, as fuse_notify_poll() wants: it polls the jobs
 * that poll(2) waiters wait on, when their poll is due, and wakes them. */
static void *notifier_main(void *arg)
{
	struct ops_context *ctx = arg;
	struct node_ctx c = {
		.reg = ctx->reg, .cancel = {.cancelled = notifier_stopping}, .settings = ctx->settings};
	struct timespec tick = {0, NOTIFY_TICK_NS};

	while(!atomic_load(&notifier_stop)) {
		nodes_notify_round(&c);
		memory_give_back(); /* what the caches let go of, back to the system */
		nanosleep(&tick, NULL);
	}
	return NULL;
}

/* Truncate and utimens: a no-op on files that can be written (`: > refetch`, `touch refetch`). */
static int accept_on_writable(const char *path)
{
	struct resolved r;
	int rc = resolve(path, &r);

	if(rc != 0)
		return rc;
	if(!is_file(&r))
		return -EPERM;
	return r.node.file.kind->write && !r.node.file.entry ? 0 : -EACCES;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)size;
	(void)fi;
	return accept_on_writable(path);
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return accept_on_writable(path);
}

/* Everything that would change the tree. */
static int deny_path(const char *path)
{
	(void)path;
	return -EPERM;
}

static int op_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)mode;
	(void)dev;
	return deny_path(path);
}

static int op_mkdir(const char *path, mode_t mode)
{
	(void)mode;
	return deny_path(path);
}

static int op_unlink(const char *path)
{
	return deny_path(path);
}

static int op_rmdir(const char *path)
{
	return deny_path(path);
}

static int op_symlink(const char *target, const char *path)
{
	(void)target;
	return deny_path(path);
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	(void)to;
	(void)flags;
	return deny_path(from);
}

static int op_link(const char *from, const char *to)
{
	(void)to;
	return deny_path(from);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	return deny_path(path);
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return deny_path(path);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	return deny_path(path);
}

static int op_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return deny_path(path);
}

static int op_removexattr(const char *path, const char *name)
{
	(void)name;
	return deny_path(path);
}

static int op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	return -ENODATA;
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	(void)path;
	(void)list;
	(void)size;
	return 0;
}

static int op_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_frsize = 4096;
	st->f_namemax = 255;
	return 0;
}

/* The signal only has to interrupt a blocking call (curl's poll, a sleep);
 * the handler itself has nothing to do. */
static void on_interrupt_signal(int sig)
{
	(void)sig;
}

int ops_prepare_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the blocked call returns EINTR */
	return sigaction(INTERRUPT_SIGNAL, &sa, NULL);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* libfuse 3.14 accepts `intr` only here, after fuse_new() would have
	 * installed its signal handler: ops_prepare_interrupts() did that. */
	cfg->intr_signal = INTERRUPT_SIGNAL;
	cfg->intr = 1;	       /* Ctrl-C reaches a blocked read as fuse_interrupted() */
	cfg->attr_timeout = 0; /* sizes change with every poll */
	cfg->entry_timeout = 1;
	/* Missing agents are remembered by the registry (list_ttl), where SIGHUP
	 * can forget them; the kernel's own negative entries could not be dropped. */
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->nullpath_ok = 0;
	nodes_notify_setup(notify_token, release_token);
	atomic_store(&notifier_stop, false);
	notifier_started =
		pthread_create(&notifier, NULL, notifier_main, fuse_get_context()->private_data) == 0;
	return fuse_get_context()->private_data;
}

/* Files still open at unmount are never released by the kernel: free them. */
static void op_destroy(void *private_data)
{
	(void)private_data;
	if(notifier_started) {
		atomic_store(&notifier_stop, true);
		pthread_join(notifier, NULL);
		notifier_started = false;
	}
	nodes_release_all();
}

static const struct fuse_operations operations = {
	.init = op_init,
	.destroy = op_destroy,
	.getattr = op_getattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.release = op_release,
	.truncate = op_truncate,
	.utimens = op_utimens,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.create = op_create,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.readlink = op_readlink,
	.statfs = op_statfs,
	.poll = op_poll,
};

const struct fuse_operations *ops_table(void)
{
	return &operations;
}
