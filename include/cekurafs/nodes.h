/* nodes.h - the files of an agent directory: one table row per kind.
 *
 * A row gives a file's name, its mode, how its text is made (a snapshot per
 * open file) and what a write does. Adding a file is one row and one function;
 * ops.c only finds the row and calls through it. A row can also be a
 * directory of entries (tools/, knowledge_base/): its entries are files made
 * by the same row, told apart by their names.
 */
#ifndef CEKURAFS_NODES_H
#define CEKURAFS_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cekurafs/registry.h"

/* What a handler needs: the registry, and how to notice the caller gave up. */
struct node_ctx {
	struct registry *reg;
	struct api_cancel cancel;
	const char *settings; /* for .cekurafs/config: the options in force, `name value` lines */
};

struct node_handle;
struct node_kind;

/* Which file: the agent, the row, and for a directory's entry its name
 * (else NULL); inside a collection's item, the collection's row and the
 * item's id (else NULL and 0). An item's directory itself has kind NULL. */
struct node_file {
	uint64_t id;
	const struct node_kind *kind;
	const char *entry;
	const struct node_kind *parent;
	uint64_t item;
};

/* What a path inside an agent directory names. */
enum node_type { NODE_FILE, NODE_DIR, NODE_LINK };

struct node_ref {
	enum node_type type;
	struct node_file file; /* file.entry points into the path resolved */
	char target[24];       /* NODE_LINK: what it points to */
};

/* A text an open file serves, as a row makes it: owned (free()), and for
 * rows that notify the job's version of it (registry_job_differs()). */
struct node_text {
	char *text;
	size_t len;
	unsigned version;
};

/* Called once per name when a directory is listed. */
typedef void node_fill_fn(void *arg, const char *name);

struct node_kind {
	const char *name;
	mode_t mode;	 /* permission bits: 0444 to read, 0200 to write; 0555 for a directory */
	bool dir;	 /* a directory of entries, listed by list() */
	int arg;	 /* the row's own parameter (which field, which list, which job kind) */
	bool json;	 /* a job's row: it shows the answer as received (JOB_JSON), not the text */
	bool at_open;	 /* make the text at open; else at the first read (wait: open never blocks) */
	bool stream;	 /* not seekable: each read returns what is new since the last (events) */
	bool owner_only; /* under allow_other, only the mounting user may read it (0400; a directory 0500) */
	/* A job's row (arg is its kind): poll(2) says readable once a re-read
	 * would show another text than the one served. Else always readable. */
	bool notify;
	/* Makes the text one open file serves; NULL for write-only files. */
	int (*make)(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out);
	/* Handles a write; NULL for read-only files. Returns size or -errno. A
	 * transaction file (`run`) sets *reply: what reads of the same open file
	 * return from then on, whatever their offset (the first read's offset is
	 * the reply's start). */
	int (*write)(const struct node_ctx *ctx, const struct node_file *f, const char *buf, size_t size,
		     off_t off, struct node_text *reply);
	/* mtime and ctime: when the text last changed (wall-clock seconds, 0:
	 * not since the mount, which then shows the mount time); NULL: the mount time. */
	double (*changed)(const struct node_ctx *ctx, const struct node_file *f);
	/* The size stat shows, without calling the API. */
	size_t (*size)(const struct node_ctx *ctx, const struct node_file *f);
	/* A directory: lists its entries. */
	int (*list)(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg);
	/* A stream: the next text for the reader at cur; "" is end of file. */
	int (*next)(const struct node_ctx *ctx, const struct node_file *f, struct job_cursor *cur,
		    char **text, size_t *len);
	/* A collection: the rows of each item (items, nitems); list() lists the
	 * items, item() says whether f->item exists (0 or -errno), link() what
	 * the link name points to (-ENOENT: no such link), changed() takes f with
	 * an item for the item's directory. */
	const struct node_kind *items;
	size_t nitems;
	int (*item)(const struct node_ctx *ctx, const struct node_file *f);
	int (*link)(const struct node_ctx *ctx, const struct node_file *f, const char *name, char *target,
		    size_t size);
};

/* The row named by the len bytes at name, or NULL. */
const struct node_kind *nodes_find(const char *name, size_t len);

/* What path, inside the directory of agent id, names: "progress",
 * "tools/a.json", "history/9001/name", "history/newest". 0 (*out filled,
 * pointing into path), -ENOENT when nothing is there, or the -errno of
 * finding out (the API asked whether an entry or item exists). */
int nodes_resolve(const struct node_ctx *ctx, uint64_t id, const char *path, struct node_ref *out);

/* The permission bits a file shows: its row's, 0444 for an entry, 0555 for a directory. */
mode_t nodes_mode(const struct node_file *f);

/* Whether, under allow_other, only the mounting user may read it: its row
 * says so, or it is an item of a collection whose rows all do (results/<id>/). */
bool nodes_private(const struct node_file *f);

/* The rows, for listing an agent directory. */
const struct node_kind *nodes_table(size_t *n);

/* The files of .cekurafs/ (version, config, stats): rows of the same kind,
 * about the daemon rather than an agent (their node_file.id is 0). */
const struct node_kind *nodes_status_find(const char *name, size_t len);
const struct node_kind *nodes_status_table(size_t *n);

/* When a file's text last changed (0: at the mount, as far as is known). Never calls the API. */
double nodes_changed(const struct node_ctx *ctx, const struct node_file *f);

/* The size stat reports for a file, without calling the API. */
size_t nodes_size(const struct node_ctx *ctx, const struct node_file *f);

/* Lists a directory: a row's entries, a collection's items, an item's rows. */
int nodes_list(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg);

/* Opens a file: checks the access mode against the row (-EACCES), makes its
 * text now when the row says so. *h is owned by the caller until nodes_release(). */
int nodes_open(const struct node_ctx *ctx, const struct node_file *f, int flags, struct node_handle **h);
int nodes_read(const struct node_ctx *ctx, struct node_handle *h, char *buf, size_t size, off_t off);
int nodes_write(const struct node_ctx *ctx, struct node_handle *h, const char *buf, size_t size, off_t off);
void nodes_release(struct node_handle *h);

/* Whether the row's files are streams (open them non-seekable). */
bool nodes_is_stream(const struct node_handle *h);

/* Notification, what poll(2) and select(2) need: whether a read of h would
 * return at once with something new. When not, token (may be NULL) is kept,
 * replacing the handle's last one, until nodes_notify_round() sees the handle
 * ready and hands the token to notify. */
bool nodes_notify_check(const struct node_ctx *ctx, struct node_handle *h, void *token);

/* How tokens reach the kernel: notify (it is ready) and release (forget it).
 * Set once, before the first nodes_notify_check(). */
void nodes_notify_setup(void (*notify)(void *token), void (*release)(void *token));

/* One round of the notifier: polls the jobs that tokens wait on (when their
 * poll is due, shared with readers), at most NODES_NOTIFY_MAX of them per
 * round, taking turns (round-robin on agent and kind) so that every one is
 * polled in turn however many there are; then notifies each token whose
 * handle became ready. Call from one thread that serves no request. */
#define NODES_NOTIFY_MAX 256
void nodes_notify_round(const struct node_ctx *ctx);

/* Frees every handle still open: the kernel sends no release for files that
 * are open when the daemon stops. Only once no request runs (at destroy). */
void nodes_release_all(void);

/* The agents, for ops.c: every id from the listing; whether one exists; the
 * by-name links and where one points. Each asks the registry. */
int nodes_agents(const struct node_ctx *ctx, uint64_t **ids, size_t *n);
int nodes_agent_exists(const struct node_ctx *ctx, uint64_t id);
int nodes_byname(const struct node_ctx *ctx, node_fill_fn *fill, void *arg);
int nodes_byname_link(const struct node_ctx *ctx, const char *name, uint64_t *id);

/* Parses a write to a trigger file: "1", with optional surrounding
 * whitespace, at offset 0. Returns 0 or -EINVAL. Pure. */
int nodes_parse_trigger(const char *buf, size_t size, off_t off);

/* The most bytes a request body written to a start file may have. */
#define NODES_MAX_BODY 65536

/* Parses a write to a start file: the trigger (0, *body NULL) or, when
 * bodies is true, one JSON object with any whitespace around it, in one
 * write at offset 0 of at most NODES_MAX_BODY bytes (0, *body a new
 * NUL-terminated copy of the write). -EINVAL otherwise, or -ENOMEM. Pure. */
int nodes_parse_start(const char *buf, size_t size, off_t off, bool bodies, char **body);

#endif
