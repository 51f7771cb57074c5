/* nodes.c - one row per file of an agent directory.
 *
 *   $ ls agents/42
 *   agent.json  dynamic_variables  error  events  knowledge_base  language  name
 *   phone_number  progress  progress.json  provider  provider_agent_id  refetch
 *   system_prompt  tools  updated_at  wait
 *
 * Readable files serve a snapshot taken once per open file (at open, or at
 * the first read for `wait`), so one `cat` sees one consistent text; a read at
 * offset 0 after the end was served takes a new one. A stream (`events`) has
 * no snapshot: each read returns what is new for its reader. poll(2) tokens
 * wait on their handle until nodes_watch() sees it ready.
 */
#include "cekurafs/nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/stats.h"

struct node_handle {
	struct node_file file; /* file.entry owned */
	char *text;	       /* owned snapshot, NULL until rendered */
	size_t len;
	bool served_end;
	size_t pos;			 /* streams: bytes of text already read */
	struct registry_cursor cur;	 /* streams: where this reader is */
	void *token;			 /* poll(2): the kernel's handle to notify, or NULL */
	struct node_handle *prev, *next; /* in open_handles */
};

/* How tokens reach the kernel (nodes_watch_setup()). */
static void (*token_notify)(void *token);
static void (*token_release)(void *token);

/* Every handle not yet released, for nodes_release_all(). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node_handle *open_handles;

/* Size of a page: what stat shows for a text not known yet, so that readers
 * trusting st_size still read it all (reads do not depend on it: direct_io). */
#define UNKNOWN_SIZE 4096

/* ---- progress, wait, error ---- */

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

static int render_progress_file(const struct node_ctx *ctx, const struct node_file *f, char **text,
				size_t *len)
{
	struct registry_view v;

	return view_text(registry_progress(ctx->reg, &ctx->cancel, f->id, &v), &v, text, len, false);
}

static int render_progress_json(const struct node_ctx *ctx, const struct node_file *f, char **text,
				size_t *len)
{
	struct registry_view v;

	return view_text(registry_progress(ctx->reg, &ctx->cancel, f->id, &v), &v, text, len, true);
}

static int render_wait(const struct node_ctx *ctx, const struct node_file *f, char **text, size_t *len)
{
	struct registry_view v;
	int rc = view_text(registry_wait(ctx->reg, &ctx->cancel, f->id, &v), &v, text, len, false);

	if(rc == -EREMOTEIO) {
		/* The import failed: the read fails too; the text is not served. */
		free(*text);
		*text = NULL;
	}
	return rc;
}

static int next_events(const struct node_ctx *ctx, const struct node_file *f, struct registry_cursor *cur,
		       char **text, size_t *len)
{
	return registry_events(ctx->reg, &ctx->cancel, f->id, cur, text, len);
}

static int render_error(const struct node_ctx *ctx, const struct node_file *f, char **text, size_t *len)
{
	return registry_error(ctx->reg, f->id, text, len);
}

static size_t size_progress(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_known_size(ctx->reg, f->id, REGISTRY_PROGRESS);
}

static size_t size_progress_json(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_known_size(ctx->reg, f->id, REGISTRY_PROGRESS_JSON);
}

static size_t size_error(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_known_size(ctx->reg, f->id, REGISTRY_ERROR);
}

static size_t size_none(const struct node_ctx *ctx, const struct node_file *f)
{
	(void)ctx;
	(void)f;
	return 0;
}

/* ---- the agent's configuration ---- */

/* Row arguments of the configuration files that are not a one-value field. */
enum { CONFIG_ARG_JSON = CONFIG_NFIELDS, CONFIG_ARG_VARIABLES };

/* The text a configuration row shows, or NULL for an entry that does not exist. */
static const struct config_text *config_text_of(const struct agent_config *cfg, const struct node_file *f)
{
	if(f->kind->dir)
		return f->entry ? config_entry(cfg, (enum config_list)f->kind->arg, f->entry) : NULL;
	if(f->kind->arg == CONFIG_ARG_JSON)
		return &cfg->json;
	if(f->kind->arg == CONFIG_ARG_VARIABLES)
		return &cfg->variables;
	return &cfg->field[f->kind->arg];
}

static int render_config(const struct node_ctx *ctx, const struct node_file *f, char **text, size_t *len)
{
	const struct config_text *t;
	struct agent_config *cfg;
	int rc = registry_config(ctx->reg, &ctx->cancel, f->id, &cfg);

	if(rc != 0)
		return rc;
	t = config_text_of(cfg, f);
	if(!t)
		rc = -ENOENT;
	else if(!(*text = malloc(t->len + 1)))
		rc = -ENOMEM;
	else {
		memcpy(*text, t->text, t->len + 1);
		*len = t->len;
	}
	registry_config_put(ctx->reg, cfg);
	return rc;
}

static size_t size_config(const struct node_ctx *ctx, const struct node_file *f)
{
	struct agent_config *cfg = registry_config_cached(ctx->reg, f->id);
	const struct config_text *t = cfg ? config_text_of(cfg, f) : NULL;
	size_t size = t ? t->len : UNKNOWN_SIZE;

	registry_config_put(ctx->reg, cfg);
	return size;
}

static int list_config(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	const struct name_index *x;
	struct agent_config *cfg;
	int rc = registry_config(ctx->reg, &ctx->cancel, f->id, &cfg);

	if(rc != 0)
		return rc;
	x = &cfg->list[f->kind->arg].index;
	for(size_t i = 0; i < x->n; i++)
		fill(arg, x->v[i].name);
	registry_config_put(ctx->reg, cfg);
	return 0;
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

static int write_refetch(const struct node_ctx *ctx, const struct node_file *f, const char *buf, size_t size,
			 off_t off)
{
	uint64_t id = f->id;

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

#define CONFIG_FILE(file, field)                                                                             \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = field, .at_open = true, .render = render_config,          \
		.size = size_config                                                                          \
	}
#define CONFIG_DIR(file, which)                                                                              \
	{                                                                                                    \
		.name = file, .mode = 0555, .dir = true, .arg = which, .at_open = true,                      \
		.render = render_config, .size = size_config, .list = list_config                            \
	}

static const struct node_kind kinds[] = {
	{.name = "refetch", .mode = 0200, .write = write_refetch, .size = size_none},
	{.name = "progress",
	 .mode = 0444,
	 .at_open = true,
	 .watched = REGISTRY_PROGRESS,
	 .render = render_progress_file,
	 .size = size_progress},
	{.name = "progress.json",
	 .mode = 0444,
	 .at_open = true,
	 .watched = REGISTRY_PROGRESS_JSON,
	 .render = render_progress_json,
	 .size = size_progress_json},
	{.name = "events", .mode = 0444, .stream = true, .next = next_events, .size = size_none},
	{.name = "wait", .mode = 0444, .render = render_wait, .size = size_progress},
	{.name = "error", .mode = 0444, .at_open = true, .render = render_error, .size = size_error},
	CONFIG_FILE("agent.json", CONFIG_ARG_JSON),
	CONFIG_FILE("name", CONFIG_NAME),
	CONFIG_FILE("system_prompt", CONFIG_SYSTEM_PROMPT),
	CONFIG_FILE("language", CONFIG_LANGUAGE),
	CONFIG_FILE("provider", CONFIG_PROVIDER),
	CONFIG_FILE("provider_agent_id", CONFIG_PROVIDER_AGENT_ID),
	CONFIG_FILE("phone_number", CONFIG_PHONE_NUMBER),
	CONFIG_FILE("updated_at", CONFIG_UPDATED_AT),
	CONFIG_FILE("dynamic_variables", CONFIG_ARG_VARIABLES),
	CONFIG_DIR("tools", CONFIG_TOOLS),
	CONFIG_DIR("knowledge_base", CONFIG_KNOWLEDGE_BASE),
};

/* ---- .cekurafs/ ---- */

static int text_of(const char *s, char **text, size_t *len)
{
	*text = strdup(s ? s : "");
	if(!*text)
		return -ENOMEM;
	*len = strlen(*text);
	return 0;
}

static int render_version(const struct node_ctx *ctx, const struct node_file *f, char **text, size_t *len)
{
	(void)ctx;
	(void)f;
	return text_of("cekurafs " CEKURAFS_VERSION "\n", text, len);
}

static int render_settings(const struct node_ctx *ctx, const struct node_file *f, char **text, size_t *len)
{
	(void)f;
	return text_of(ctx->settings, text, len);
}

static int render_stats(const struct node_ctx *ctx, const struct node_file *f, char **text, size_t *len)
{
	(void)ctx;
	(void)f;
	*text = stats_render();
	if(!*text)
		return -ENOMEM;
	*len = strlen(*text);
	return 0;
}

/* The size of a text made without calling the API: make it and measure. */
static size_t size_rendered(const struct node_ctx *ctx, const struct node_file *f)
{
	char *text = NULL;
	size_t len = 0;

	if(f->kind->render(ctx, f, &text, &len) != 0)
		len = UNKNOWN_SIZE;
	free(text);
	return len;
}

#define STATUS_FILE(file, fn)                                                                                \
	{                                                                                                    \
		.name = file, .mode = 0444, .at_open = true, .render = fn, .size = size_rendered             \
	}

static const struct node_kind status_kinds[] = {
	STATUS_FILE("version", render_version),
	STATUS_FILE("config", render_settings),
	STATUS_FILE("stats", render_stats),
};

static const struct node_kind *find_row(const struct node_kind *rows, size_t n, const char *name, size_t len)
{
	for(size_t i = 0; i < n; i++)
		if(strlen(rows[i].name) == len && memcmp(rows[i].name, name, len) == 0)
			return &rows[i];
	return NULL;
}

const struct node_kind *nodes_find(const char *name, size_t len)
{
	return find_row(kinds, sizeof(kinds) / sizeof(kinds[0]), name, len);
}

const struct node_kind *nodes_table(size_t *n)
{
	*n = sizeof(kinds) / sizeof(kinds[0]);
	return kinds;
}

const struct node_kind *nodes_status_find(const char *name, size_t len)
{
	return find_row(status_kinds, sizeof(status_kinds) / sizeof(status_kinds[0]), name, len);
}

const struct node_kind *nodes_status_table(size_t *n)
{
	*n = sizeof(status_kinds) / sizeof(status_kinds[0]);
	return status_kinds;
}

size_t nodes_size(const struct node_ctx *ctx, const struct node_file *f)
{
	return f->kind->size(ctx, f);
}

int nodes_list(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	return f->kind->list ? f->kind->list(ctx, f, fill, arg) : -ENOTDIR;
}

int nodes_entry(const struct node_ctx *ctx, const struct node_file *f)
{
	char *text = NULL;
	size_t len;
	int rc;

	if(!f->kind->dir)
		return -ENOTDIR;
	rc = f->kind->render(ctx, f, &text, &len);
	free(text);
	return rc;
}

static int take_snapshot(const struct node_ctx *ctx, struct node_handle *h)
{
	char *text = NULL;
	size_t len = 0;
	int rc = h->file.kind->render(ctx, &h->file, &text, &len);

	if(rc != 0)
		return rc;
	free(h->text);
	h->text = text;
	h->len = len;
	h->served_end = false;
	return 0;
}

int nodes_open(const struct node_ctx *ctx, const struct node_file *f, int flags, struct node_handle **out)
{
	const struct node_kind *kind = f->kind;
	int acc = flags & O_ACCMODE;
	struct node_handle *h;
	int rc = 0;

	*out = NULL;
	if(kind->dir && !f->entry)
		return -EISDIR;
	if((acc != O_WRONLY && !kind->render && !kind->next) || (acc != O_RDONLY && !kind->write))
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if(!h)
		return -ENOMEM;
	h->file = *f;
	h->file.entry = f->entry ? strdup(f->entry) : NULL;
	if(f->entry && !h->file.entry) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_lock(&open_lock);
	h->next = open_handles;
	if(open_handles)
		open_handles->prev = h;
	open_handles = h;
	pthread_mutex_unlock(&open_lock);
	if(kind->render && kind->at_open)
		rc = take_snapshot(ctx, h);
	if(rc != 0) {
		nodes_release(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* A stream's read: what is left of the last text, else the next one (which may block). */
static int read_stream(const struct node_ctx *ctx, struct node_handle *h, char *buf, size_t size)
{
	if(h->pos >= h->len) {
		char *text = NULL;
		size_t len = 0;
		int rc = h->file.kind->next(ctx, &h->file, &h->cur, &text, &len);

		if(rc != 0)
			return rc;
		free(h->text);
		h->text = text;
		h->len = len;
		h->pos = 0;
		if(len == 0)
			return 0; /* end of file */
	}
	if(size > h->len - h->pos)
		size = h->len - h->pos;
	memcpy(buf, h->text + h->pos, size);
	h->pos += size;
	return (int)size;
}

int nodes_read(const struct node_ctx *ctx, struct node_handle *h, char *buf, size_t size, off_t off)
{
	int rc;

	if(h->file.kind->stream)
		return read_stream(ctx, h, buf, size);
	if(!h->file.kind->render)
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
	if(!h->file.kind->write)
		return -EACCES;
	return h->file.kind->write(ctx, &h->file, buf, size, off);
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
	if(h->token && token_release)
		token_release(h->token);
	free((char *)h->file.entry);
	free(h->text);
	free(h);
}

bool nodes_is_stream(const struct node_handle *h)
{
	return h->file.kind->stream;
}

/* Whether a read of h would show something new at once. Never calls the API. */
static bool ready(const struct node_ctx *ctx, const struct node_handle *h)
{
	if(h->file.kind->stream)
		return h->pos < h->len || registry_events_ready(ctx->reg, h->file.id, &h->cur);
	if(h->file.kind->watched)
		return registry_differs(ctx->reg, h->file.id, h->file.kind->watched, h->text);
	return true;
}

bool nodes_poll(const struct node_ctx *ctx, struct node_handle *h, void *token)
{
	void *drop = NULL;
	bool now;

	pthread_mutex_lock(&open_lock);
	now = ready(ctx, h);
	if(now) {
		drop = token; /* nothing to wait for: the kernel needs no notification */
	} else if(token) {
		drop = h->token; /* the newest token replaces the last one */
		h->token = token;
	}
	pthread_mutex_unlock(&open_lock);
	if(drop && token_release)
		token_release(drop);
	return now;
}

void nodes_watch_setup(void (*notify)(void *token), void (*release)(void *token))
{
	token_notify = notify;
	token_release = release;
}

#define WATCH_MAX 256 /* agents asked about per round; the others wait for the next */

void nodes_watch(const struct node_ctx *ctx)
{
	uint64_t ids[WATCH_MAX];
	size_t n = 0;

	pthread_mutex_lock(&open_lock);
	for(struct node_handle *h = open_handles; h && n < WATCH_MAX; h = h->next) {
		bool listed = false;

		for(size_t i = 0; h->token && i < n && !listed; i++)
			listed = ids[i] == h->file.id;
		if(h->token && !listed)
			ids[n++] = h->file.id;
	}
	pthread_mutex_unlock(&open_lock);
	for(size_t i = 0; i < n; i++)
		registry_refresh(ctx->reg, &ctx->cancel,
				 ids[i]); /* polls only when due, shared with readers */
	pthread_mutex_lock(&open_lock);
	for(struct node_handle *h = open_handles; h; h = h->next) {
		if(h->token && ready(ctx, h)) {
			token_notify(h->token);
			token_release(h->token);
			h->token = NULL;
		}
	}
	pthread_mutex_unlock(&open_lock);
}

void nodes_release_all(void)
{
	while(open_handles)
		nodes_release(open_handles);
}
