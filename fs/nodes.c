/* nodes.c - one row per file of an agent directory.
 *
 *   $ ls -l agents/42
 *   -r--r--r-- error  -r--r--r-- progress  -r--r--r-- progress.json
 *   --w------- refetch  -r--r--r-- wait
 *
 * Readable files serve a snapshot taken once per open file (at open, or at
 * the first read for `wait`), so one `cat` sees one consistent text; a read at
 * offset 0 after the end was served takes a new one.
 */
#include "cekurafs/nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct node_handle {
	const struct node_kind *kind;
	uint64_t id;
	char *text; /* owned snapshot, NULL until rendered */
	size_t len;
	bool served_end;
	struct node_handle *prev, *next; /* in open_handles */
};

/* Every handle not yet released, for nodes_release_all(). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node_handle *open_handles;

static int view_text(int rc, struct registry_view *v, char **text, size_t *len, bool json)
{
	if(rc == 0 || rc == -EREMOTEIO) {
		*text = json ? v->json : v->text;
		*len = json ? v->json_len : v->text_len;
		if(json)
			v->json = NULL;
		else
			v->text = NULL;
	}
	registry_view_free(v);
	return rc;
}

static int render_progress_file(const struct node_ctx *ctx, uint64_t id, char **text, size_t *len)
{
	struct registry_view v;

	return view_text(registry_progress(ctx->reg, &ctx->cancel, id, &v), &v, text, len, false);
}

static int render_progress_json(const struct node_ctx *ctx, uint64_t id, char **text, size_t *len)
{
	struct registry_view v;

	return view_text(registry_progress(ctx->reg, &ctx->cancel, id, &v), &v, text, len, true);
}

static int render_wait(const struct node_ctx *ctx, uint64_t id, char **text, size_t *len)
{
	struct registry_view v;
	int rc = view_text(registry_wait(ctx->reg, &ctx->cancel, id, &v), &v, text, len, false);

	if(rc == -EREMOTEIO) {
		/* The import failed: the read fails too; the text is not served. */
		free(*text);
		*text = NULL;
	}
	return rc;
}

static int render_error(const struct node_ctx *ctx, uint64_t id, char **text, size_t *len)
{
	return registry_error(ctx->reg, id, text, len);
}

int nodes_parse_trigger(const char *buf, size_t size, off_t off)
{
	size_t i = 0, end = size;

	if(off != 0)
		return -EINVAL;
	while(i < end && strchr(" \t\r\n", buf[i]) && buf[i])
		i++;
	while(end > i && strchr(" \t\r\n", buf[end - 1]) && buf[end - 1])
		end--;
	return end - i == 1 && buf[i] == '1' ? 0 : -EINVAL;
}

static int write_refetch(const struct node_ctx *ctx, uint64_t id, const char *buf, size_t size, off_t off)
{
	int rc = nodes_parse_trigger(buf, size, off);

	if(rc != 0) {
		registry_note_error(ctx->reg, id, "refetch",
				    off != 0 ? "invalid input: write \"1\" at the start of the file"
					     : "invalid input: write \"1\" to start an auto-fetch");
		return rc;
	}
	rc = registry_refetch(ctx->reg, &ctx->cancel, id);
	return rc == 0 ? (int)size : rc;
}

static const struct node_kind kinds[] = {
	{.name = "refetch", .mode = 0200, .size_of = REGISTRY_ERROR, .write = write_refetch},
	{.name = "progress",
	 .mode = 0444,
	 .size_of = REGISTRY_PROGRESS,
	 .render_at_open = true,
	 .render = render_progress_file},
	{.name = "progress.json",
	 .mode = 0444,
	 .size_of = REGISTRY_PROGRESS_JSON,
	 .render_at_open = true,
	 .render = render_progress_json},
	{.name = "wait", .mode = 0444, .size_of = REGISTRY_PROGRESS, .render = render_wait},
	{.name = "error",
	 .mode = 0444,
	 .size_of = REGISTRY_ERROR,
	 .render_at_open = true,
	 .render = render_error},
};

const struct node_kind *nodes_find(const char *name)
{
	for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if(strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

const struct node_kind *nodes_table(size_t *n)
{
	*n = sizeof(kinds) / sizeof(kinds[0]);
	return kinds;
}

size_t nodes_size(const struct node_ctx *ctx, const struct node_kind *kind, uint64_t id)
{
	if(!kind->render)
		return 0;
	return registry_known_size(ctx->reg, id, kind->size_of);
}

static int take_snapshot(const struct node_ctx *ctx, struct node_handle *h)
{
	char *text = NULL;
	size_t len = 0;
	int rc = h->kind->render(ctx, h->id, &text, &len);

	if(rc != 0)
		return rc;
	free(h->text);
	h->text = text;
	h->len = len;
	h->served_end = false;
	return 0;
}

int nodes_open(const struct node_ctx *ctx, const struct node_kind *kind, uint64_t id, int flags,
	       struct node_handle **out)
{
	int acc = flags & O_ACCMODE;
	struct node_handle *h;
	int rc = 0;

	*out = NULL;
	if((acc != O_WRONLY && !kind->render) || (acc != O_RDONLY && !kind->write))
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if(!h)
		return -ENOMEM;
	h->kind = kind;
	h->id = id;
	pthread_mutex_lock(&open_lock);
	h->next = open_handles;
	if(open_handles)
		open_handles->prev = h;
	open_handles = h;
	pthread_mutex_unlock(&open_lock);
	if(kind->render && kind->render_at_open)
		rc = take_snapshot(ctx, h);
	if(rc != 0) {
		nodes_release(h);
		return rc;
	}
	*out = h;
	return 0;
}

int nodes_read(const struct node_ctx *ctx, struct node_handle *h, char *buf, size_t size, off_t off)
{
	int rc;

	if(!h->kind->render)
		return -EACCES;
	if(!h->text || (off == 0 && h->served_end)) {
		rc = take_snapshot(ctx, h);
		if(rc != 0)
			return rc;
	}
	if(off < 0)
		return -EINVAL;
	if((size_t)off >= h->len) {
		h->served_end = true;
		return 0;
	}
	if(size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->text + off, size);
	if((size_t)off + size >= h->len)
		h->served_end = true;
	return (int)size;
}

int nodes_write(const struct node_ctx *ctx, struct node_handle *h, const char *buf, size_t size, off_t off)
{
	if(!h->kind->write)
		return -EACCES;
	return h->kind->write(ctx, h->id, buf, size, off);
}

void nodes_release(struct node_handle *h)
{
	if(!h)
		return;
	pthread_mutex_lock(&open_lock);
	if(h->prev)
		h->prev->next = h->next;
	else
		open_handles = h->next;
	if(h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&open_lock);
	free(h->text);
	free(h);
}

void nodes_release_all(void)
{
	while(open_handles)
		nodes_release(open_handles);
}
