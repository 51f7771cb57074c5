/* nodes.c - one row per file of an agent directory.
 *
 *   $ ls agents/42
 *   agent.json  dynamic_variables  error  events  history  knowledge_base  language
 *   name  phone_number  progress  progress.json  provider  provider_agent_id  refetch
 *   system_prompt  tools  tools-progress  tools-progress.json  tools-refetch
 *   tools-wait  updated_at  wait
 *   $ ls agents/42/history/9001
 *   change  date  dynamic_variables  knowledge_base  language  name  reason
 *   record.json  system_prompt  tools  user  version
 *
 * Readable files serve a snapshot taken once per open file (at open, or at
 * the first read for `wait`), so one `cat` sees one consistent text; a read at
 * offset 0 after the end was served takes a new one. A stream (`events`) has
 * no snapshot: each read returns what is new for its reader. poll(2) tokens
 * wait on their handle until nodes_notify_round() sees it ready.
 */
#include "cekurafs/nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cekurafs/clock.h"
#include "cekurafs/ids.h"
#include "cekurafs/json.h"
#include "cekurafs/result.h"
#include "cekurafs/stats.h"

/* One open file. The kernel serialises nothing on it: FUSE workers read it
 * at once (pread on one fd from several threads), and the poll(2) notifier
 * looks at it meanwhile. So:
 *   - file is set at open and never changes;
 *   - lock owns every other field. It is held only to copy a snapshot in or
 *     out, never across making a text, an API call or a wait: a snapshot is made
 *     unlocked, then swapped in, and the text it replaces is freed under lock
 *     so that no reader can be copying it;
 *   - a stream has one reader at a time (reading), so that its cursor moves
 *     once per line; another reader of the same handle waits, interruptibly.
 * Lock order, the one place it is written: open_lock, then a handle's lock
 * or the registry's lock (never both: a handle's lock is released before the
 * registry is asked anything). */
struct node_handle {
	struct node_file file; /* file.entry owned; immutable */
	pthread_mutex_t lock;
	pthread_cond_t idle; /* streams: a read ended */
	char *text;	     /* owned snapshot, NULL until made */
	size_t len;
	unsigned version; /* the job's version of text (rows that notify) */
	bool served_end;
	/* A transaction file's reply (text) is installed: reads serve it from
	 * reply_at, the first read's offset (-1 until that read), never a new snapshot. */
	bool replied;
	off_t reply_at;
	size_t pos;			 /* streams: bytes of text already read */
	struct job_cursor cur;		 /* streams: where this reader is */
	bool reading;			 /* streams: a read is under way */
	void *token;			 /* poll(2): the kernel's handle to notify, or NULL */
	struct node_handle *prev, *next; /* in open_handles: open_lock */
};

static int text_of(const char *s, struct node_text *out);

/* How tokens reach the kernel (nodes_notify_setup()). */
static void (*token_notify)(void *token);
static void (*token_release)(void *token);

/* Every handle not yet released (for the notifier and nodes_release_all()). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node_handle *open_handles;

/* Size of a page: what stat shows for a text not known yet, so that readers
 * trusting st_size still read it all (reads do not depend on it: direct_io). */
#define UNKNOWN_SIZE 4096

/* ---- a job's files: progress, progress.json, wait, events (arg: the kind) ---- */

static enum job_kind kind_of(const struct node_file *f)
{
	return (enum job_kind)f->kind->arg;
}

static enum job_text which_of(const struct node_file *f)
{
	return f->kind->json ? JOB_JSON : JOB_TEXT;
}

/* Moves the row's text out of a view (the view is freed). */
static int text_of_view(int rc, struct job_view *v, const struct node_file *f, struct node_text *out)
{
	bool json = f->kind->json;

	if(rc == 0 || rc == -EREMOTEIO) {
		out->text = json ? v->json : v->text;
		out->len = json ? v->json_len : v->text_len;
		out->version = json ? v->json_version : v->text_version;
		if(json)
			v->json = NULL;
		else
			v->text = NULL;
	}
	job_view_free(v);
	return rc;
}

static int make_job(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	struct job_view v;

	return text_of_view(registry_job_view(ctx->reg, &ctx->cancel, f->id, kind_of(f), f->item, &v), &v, f,
			    out);
}

static int make_wait(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	struct job_view v;
	int rc = text_of_view(registry_job_wait(ctx->reg, &ctx->cancel, f->id, kind_of(f), f->item, &v), &v,
			      f, out);

	if(rc == -EREMOTEIO) {
		/* The job failed: the read fails too; the text is not served. */
		free(out->text);
		out->text = NULL;
	}
	return rc;
}

static int next_events(const struct node_ctx *ctx, const struct node_file *f, struct job_cursor *cur,
		       char **text, size_t *len)
{
	return registry_job_events(ctx->reg, &ctx->cancel, f->id, kind_of(f), f->item, cur, text, len);
}

static size_t size_job(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_job_size(ctx->reg, f->id, kind_of(f), f->item, which_of(f));
}

static double changed_job(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_job_changed_at(ctx->reg, f->id, kind_of(f), f->item, which_of(f));
}

/* ---- error ---- */

static int make_error(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	return registry_error(ctx->reg, f->id, &out->text, &out->len);
}

static size_t size_error(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_error_size(ctx->reg, f->id);
}

static double changed_error(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_error_changed_at(ctx->reg, f->id);
}

static double changed_config(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_agent_config_changed_at(ctx->reg, f->id);
}

static size_t size_none(const struct node_ctx *ctx, const struct node_file *f)
{
	(void)ctx;
	(void)f;
	return 0;
}

/* ---- the agent's configuration, and each version's in history/ ---- */

/* Row arguments of the configuration files that are not a one-value field. */
enum { AGENT_CONFIG_ARG_JSON = AGENT_CONFIG_NFIELDS, AGENT_CONFIG_ARG_VARIABLES };

/* A configuration a file reads: the agent's, or a version's (f->parent is
 * history/), with the reference that keeps it alive. */
struct config_ref {
	const struct agent_config *cfg;
	const struct history_version *version; /* a version's file: its version */
	struct agent_config *agent;	       /* the reference held: one of these */
	struct history *history;
};

static void config_put(struct config_ref *ref)
{
	registry_agent_config_put(ref->agent);
	registry_history_put(ref->history);
	memset(ref, 0, sizeof(*ref));
}

/* Finds f's version in a history held (NULL: none), -ENOENT when it is not there. */
static int version_in(struct config_ref *ref, const struct node_file *f)
{
	if(!ref->history)
		return -EAGAIN;
	ref->version = history_find(ref->history, f->item);
	if(!ref->version) {
		config_put(ref);
		return -ENOENT;
	}
	ref->cfg = &ref->version->config;
	return 0;
}

/* The configuration f reads, fetched when not fresh. 0 or -errno. */
static int config_get(const struct node_ctx *ctx, const struct node_file *f, struct config_ref *ref)
{
	int rc;

	memset(ref, 0, sizeof(*ref));
	if(f->parent) {
		rc = registry_history(ctx->reg, &ctx->cancel, f->id, &ref->history);
		return rc == 0 ? version_in(ref, f) : rc;
	}
	rc = registry_agent_config(ctx->reg, &ctx->cancel, f->id, &ref->agent);
	ref->cfg = ref->agent;
	return rc;
}

/* The same when it is held and fresh, never calling the API: -EAGAIN when not held. */
static int config_peek(const struct node_ctx *ctx, const struct node_file *f, struct config_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	if(f->parent) {
		ref->history = registry_history_cached(ctx->reg, f->id);
		return version_in(ref, f);
	}
	ref->agent = registry_agent_config_cached(ctx->reg, f->id);
	ref->cfg = ref->agent;
	return ref->agent ? 0 : -EAGAIN;
}

/* The text a configuration row shows: 0 with *t (NULL for an entry that
 * does not exist), or the -errno of the list it comes from (a version's
 * collection the API sent malformed). */
static int config_text_of(const struct agent_config *cfg, const struct node_file *f,
			  const struct config_text **t)
{
	*t = NULL;
	if(f->kind->dir) {
		if(cfg->list[f->kind->arg].err)
			return cfg->list[f->kind->arg].err;
		*t = f->entry ? agent_config_entry(cfg, (enum config_list)f->kind->arg, f->entry) : NULL;
	} else if(f->kind->arg == AGENT_CONFIG_ARG_JSON) {
		*t = &cfg->json;
	} else if(f->kind->arg == AGENT_CONFIG_ARG_VARIABLES) {
		if(cfg->variables_err)
			return cfg->variables_err;
		*t = &cfg->variables;
	} else {
		*t = &cfg->field[f->kind->arg];
	}
	return 0;
}

static int copy_text(const struct config_text *t, struct node_text *out)
{
	if(!t)
		return -ENOENT;
	out->text = malloc(t->len + 1);
	if(!out->text)
		return -ENOMEM;
	memcpy(out->text, t->text, t->len + 1);
	out->len = t->len;
	return 0;
}

static int make_config(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	const struct config_text *t = NULL;
	struct config_ref ref;
	int rc = config_get(ctx, f, &ref);

	if(rc == 0)
		rc = config_text_of(ref.cfg, f, &t);
	if(rc == 0)
		rc = copy_text(t, out);
	config_put(&ref);
	return rc;
}

static size_t size_config(const struct node_ctx *ctx, const struct node_file *f)
{
	const struct config_text *t = NULL;
	struct config_ref ref;
	size_t size = UNKNOWN_SIZE;

	if(config_peek(ctx, f, &ref) == 0 && config_text_of(ref.cfg, f, &t) == 0 && t)
		size = t->len;
	config_put(&ref);
	return size;
}

static int list_config(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	const struct name_index *x;
	struct config_ref ref;
	int rc = config_get(ctx, f, &ref);

	if(rc == 0)
		rc = ref.cfg->list[f->kind->arg].err;
	if(rc == 0) {
		x = &ref.cfg->list[f->kind->arg].index;
		for(size_t i = 0; i < x->n; i++)
			fill(arg, x->v[i].name);
	}
	config_put(&ref);
	return rc;
}

/* A version's own files (date, change, reason, user, version): arg is the field. */
static int make_version_field(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	struct config_ref ref;
	int rc = config_get(ctx, f, &ref);

	if(rc == 0)
		rc = copy_text(&ref.version->field[f->kind->arg], out);
	config_put(&ref);
	return rc;
}

static size_t size_version_field(const struct node_ctx *ctx, const struct node_file *f)
{
	struct config_ref ref;
	size_t size = config_peek(ctx, f, &ref) == 0 ? ref.version->field[f->kind->arg].len : UNKNOWN_SIZE;

	config_put(&ref);
	return size;
}

/* The mtime of a version's directory and files: its history_date. */
static double changed_version(const struct node_ctx *ctx, const struct node_file *f)
{
	struct config_ref ref;
	double at = config_peek(ctx, f, &ref) == 0 ? ref.version->date : 0;

	config_put(&ref);
	return at;
}

/* history/ itself, and each version's directory. */
static double changed_history(const struct node_ctx *ctx, const struct node_file *f)
{
	return f->item ? changed_version(ctx, f) : registry_history_changed_at(ctx->reg, f->id);
}

static int list_history(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	struct history *h;
	int rc = registry_history(ctx->reg, &ctx->cancel, f->id, &h);

	for(size_t i = 0; rc == 0 && i < h->n; i++) {
		char name[24];

		snprintf(name, sizeof(name), "%llu", (unsigned long long)h->v[i].id);
		fill(arg, name);
	}
	registry_history_put(h);
	return rc;
}

static int item_history(const struct node_ctx *ctx, const struct node_file *f)
{
	struct config_ref ref;
	int rc = config_get(ctx, f, &ref);

	config_put(&ref);
	return rc;
}

/* history/newest: the version with the latest date (the first: history.c sorts them so). */
static int link_history(const struct node_ctx *ctx, const struct node_file *f, const char *name, char *target,
			size_t size)
{
	struct history *h;
	int rc;

	if(strcmp(name, "newest") != 0)
		return -ENOENT;
	rc = registry_history(ctx->reg, &ctx->cancel, f->id, &h);
	if(rc == 0 && h->n == 0)
		rc = -ENOENT;
	if(rc == 0)
		snprintf(target, size, "%llu", (unsigned long long)h->v[0].id);
	registry_history_put(h);
	return rc;
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

int nodes_parse_start(const char *buf, size_t size, off_t off, bool bodies, char **body)
{
	struct json_doc d;
	bool object;

	*body = NULL;
	if(nodes_parse_trigger(buf, size, off) == 0)
		return 0;
	if(!bodies || off != 0 || size > NODES_MAX_BODY || memchr(buf, '\0', size))
		return -EINVAL;
	if(json_parse(&d, buf, size) != 0)
		return -EINVAL; /* json_parse() takes one value, whitespace around it */
	object = json_type(&d, 0) == JSON_OBJECT;
	json_free(&d);
	if(!object)
		return -EINVAL;
	*body = strndup(buf, size);
	return *body ? 0 : -ENOMEM;
}

/* Starts a job: "1" written at offset 0, or a request body for a kind that takes one. */
static int write_start(const struct node_ctx *ctx, const struct node_file *f, const char *buf, size_t size,
		       off_t off, struct node_text *reply)
{
	const struct job_type *type = job_type_of(kind_of(f));
	char *body = NULL;
	int rc = nodes_parse_start(buf, size, off, type->request != NULL, &body);

	(void)reply;
	if(rc == -EINVAL) {
		char why[160];

		if(off != 0)
			snprintf(why, sizeof(why), "invalid input: write \"1\" at the start of the file");
		else if(type->request && size > NODES_MAX_BODY)
			snprintf(why, sizeof(why), "invalid input: a request body is at most %d bytes",
				 NODES_MAX_BODY);
		else if(type->request)
			snprintf(why, sizeof(why),
				 "invalid input: write \"1\" or one JSON object to start %s", type->a_noun);
		else
			snprintf(why, sizeof(why), "invalid input: write \"1\" to start %s", type->a_noun);
		registry_note_error(ctx->reg, f->id, f->kind->name, why);
	}
	if(rc == 0)
		rc = registry_job_start(ctx->reg, &ctx->cancel, f->id, kind_of(f), body);
	free(body); /* never kept, logged or shown: it may hold a provider's key */
	return rc == 0 ? (int)size : rc;
}

/* ---- evaluators, run, results/ ---- */

static int make_evaluators(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	return registry_evaluators(ctx->reg, &ctx->cancel, f->id, &out->text, &out->len);
}

static size_t size_evaluators(const struct node_ctx *ctx, const struct node_file *f)
{
	struct node_text t = {0};
	size_t size = registry_evaluators(ctx->reg, NULL, f->id, &t.text, &t.len) == 0 ? t.len : UNKNOWN_SIZE;

	free(t.text);
	return size;
}

static double changed_evaluators(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_evaluators_changed_at(ctx->reg, f->id);
}

/* A read of `run` before a write: nothing (end of file). */
static int make_nothing(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	(void)ctx;
	(void)f;
	return text_of("", out);
}

/* `run`: the line starts a run; the reply is the new result id. */
static int write_run(const struct node_ctx *ctx, const struct node_file *f, const char *buf, size_t size,
		     off_t off, struct node_text *reply)
{
	uint64_t result = 0;
	int rc = registry_run(ctx->reg, &ctx->cancel, f->id, buf, size, off, &result);

	if(rc != 0)
		return rc;
	if(asprintf(&reply->text, "%llu\n", (unsigned long long)result) < 0) {
		reply->text = NULL;
		return -ENOMEM; /* started: results/last has it */
	}
	reply->len = strlen(reply->text);
	return (int)size;
}

/* The texts of a result's files other than summary and wait (arg). */
enum result_text { RESULT_STATUS, RESULT_ERROR, RESULT_JSON, RESULT_JUNIT, RESULT_RUN };

/* The bytes of one of a result's files, from a view of its job: a pointer
 * into the detail (result.json, a run's file), or a text made now (*made,
 * which the caller frees). 0, -ENOENT (no such run), -ENOMEM, -EIO. */
static int result_file_bytes(const struct node_file *f, const struct job_view *v, const char **s, size_t *len,
			     char **made)
{
	const struct result *res = v->detail ? v->detail->obj : NULL;
	const struct result_run *run;
	uint64_t run_id;
	size_t n;
	char *line;

	*made = NULL;
	if(!res)
		return -EIO; /* a view with an answer always has one */
	switch((enum result_text)f->kind->arg) {
	case RESULT_STATUS:
		*made = strndup(v->text, strcspn(v->text, "\n") + 1); /* the summary's first line */
		break;
	case RESULT_ERROR:
		line = result_error_line(res);
		if(line && *line && asprintf(made, "%s\n", line) < 0)
			*made = NULL;
		else if(line && !*line)
			*made = strdup("");
		free(line);
		break;
	case RESULT_JSON:
		*s = res->json;
		*len = res->json_len;
		return 0;
	case RESULT_JUNIT:
		*made = v->terminal ? result_junit(res) : strdup(""); /* written once terminal */
		break;
	case RESULT_RUN:
		n = f->entry ? strlen(f->entry) : 0;
		if(n <= 5 || strcmp(f->entry + n - 5, ".json") != 0 ||
		   !ids_parse_agent(f->entry, n - 5, &run_id) || !(run = result_find_run(res, run_id)))
			return -ENOENT;
		*s = run->json;
		*len = run->json_len;
		return 0;
	}
	if(!*made)
		return -ENOMEM;
	*s = *made;
	*len = strlen(*made);
	return 0;
}

/* The text of one of a result's files, from a view of its job. */
static int result_text(const struct node_file *f, const struct job_view *v, struct node_text *out)
{
	const char *s = NULL;
	size_t len = 0;
	char *made;
	int rc = result_file_bytes(f, v, &s, &len, &made);

	if(rc != 0)
		return rc;
	out->text = made ? made : strndup(s, len);
	if(!out->text)
		return -ENOMEM;
	out->len = len;
	return 0;
}

static int make_result(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	struct job_view v;
	int rc = registry_job_view(ctx->reg, &ctx->cancel, f->id, JOB_RESULT, f->item, &v);

	if(rc == 0)
		rc = result_text(f, &v, out);
	job_view_free(&v);
	return rc;
}

/* Measured without copying result.json or a run's file: stat of a large result copies nothing. */
static size_t size_result(const struct node_ctx *ctx, const struct node_file *f)
{
	const char *s = NULL;
	char *made = NULL;
	struct job_view v;
	size_t len = 0, size = UNKNOWN_SIZE;

	if(registry_job_peek(ctx->reg, f->id, JOB_RESULT, f->item, &v) == 0 &&
	   result_file_bytes(f, &v, &s, &len, &made) == 0)
		size = len;
	free(made);
	job_view_free(&v);
	return size;
}

/* A result's files change when its summary does (arg is not a job kind here). */
static double changed_result(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_job_changed_at(ctx->reg, f->id, JOB_RESULT, f->item, JOB_TEXT);
}

static int list_runs(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	const struct result *res;
	struct job_view v;
	int rc = registry_job_view(ctx->reg, &ctx->cancel, f->id, JOB_RESULT, f->item, &v);

	res = rc == 0 && v.detail ? v.detail->obj : NULL;
	if(rc == 0 && !res)
		rc = -EIO;
	for(size_t i = 0; rc == 0 && i < res->nruns; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%llu.json", (unsigned long long)res->runs[i].id);
		fill(arg, name);
	}
	job_view_free(&v);
	return rc;
}

/* end-calls: "1" stops the result's calls. */
static int write_end_calls(const struct node_ctx *ctx, const struct node_file *f, const char *buf,
			   size_t size, off_t off, struct node_text *reply)
{
	int rc = nodes_parse_trigger(buf, size, off);

	(void)reply;
	if(rc != 0) {
		registry_note_error(ctx->reg, f->id, "end-calls",
				    off != 0 ? "invalid input: write \"1\" at the start of the file"
					     : "invalid input: write \"1\" to end the result's calls");
		return rc;
	}
	rc = registry_end_calls(ctx->reg, &ctx->cancel, f->id, f->item);
	return rc == 0 ? (int)size : rc;
}

/* results/ itself: when its listing changed; a result's directory: its created_at. */
static double changed_results(const struct node_ctx *ctx, const struct node_file *f)
{
	return f->item ? registry_result_created_at(ctx->reg, f->id, f->item) : 0;
}

static int list_results(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	uint64_t *ids;
	size_t n;
	int rc = registry_results(ctx->reg, &ctx->cancel, f->id, &ids, &n);

	for(size_t i = 0; rc == 0 && i < n; i++) {
		char name[24];

		snprintf(name, sizeof(name), "%llu", (unsigned long long)ids[i]);
		fill(arg, name);
	}
	if(rc == 0)
		free(ids);
	return rc;
}

static int item_result(const struct node_ctx *ctx, const struct node_file *f)
{
	return registry_result_exists(ctx->reg, &ctx->cancel, f->id, f->item);
}

/* results/newest (the largest id) and results/last (the last started from this state_dir). */
static int link_results(const struct node_ctx *ctx, const struct node_file *f, const char *name, char *target,
			size_t size)
{
	uint64_t result = 0;
	int rc;

	if(strcmp(name, "newest") == 0)
		rc = registry_result_newest(ctx->reg, &ctx->cancel, f->id, &result);
	else if(strcmp(name, "last") == 0)
		rc = registry_result_last(ctx->reg, f->id, &result);
	else
		return -ENOENT;
	if(rc == 0)
		snprintf(target, size, "%llu", (unsigned long long)result);
	return rc;
}

#define RESULT_FILE(file, which, fn_size)                                                                    \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = which, .at_open = true, .owner_only = true,               \
		.make = make_result, .changed = changed_result, .size = fn_size                              \
	}

/* The files of one result in results/<result_id>/: every one private under
 * allow_other (transcripts and recording links). */
static const struct node_kind result_kinds[] = {
	RESULT_FILE("status", RESULT_STATUS, size_result),
	{.name = "summary",
	 .mode = 0444,
	 .arg = JOB_RESULT,
	 .at_open = true,
	 .notify = true,
	 .owner_only = true,
	 .make = make_job,
	 .changed = changed_job,
	 .size = size_job},
	RESULT_FILE("error", RESULT_ERROR, size_result),
	RESULT_FILE("result.json", RESULT_JSON, size_result),
	RESULT_FILE("junit.xml", RESULT_JUNIT, size_result),
	{.name = "runs",
	 .mode = 0555,
	 .dir = true,
	 .arg = RESULT_RUN,
	 .at_open = true,
	 .owner_only = true,
	 .make = make_result,
	 .changed = changed_result,
	 .size = size_result,
	 .list = list_runs},
	{.name = "wait",
	 .mode = 0444,
	 .arg = JOB_RESULT,
	 .owner_only = true,
	 .make = make_wait,
	 .changed = changed_job,
	 .size = size_job},
	{.name = "end-calls", .mode = 0200, .owner_only = true, .write = write_end_calls, .size = size_none},
};

#define AGENT_CONFIG_FILE(file, field)                                                                       \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = field, .at_open = true, .make = make_config,              \
		.changed = changed_config, .size = size_config                                               \
	}
#define AGENT_CONFIG_DIR(file, which)                                                                        \
	{                                                                                                    \
		.name = file, .mode = 0555, .dir = true, .arg = which, .at_open = true, .make = make_config, \
		.changed = changed_config, .size = size_config, .list = list_config                          \
	}

/* The files of one job kind: start it, its text, its answer as received, its events, wait for its end. */
#define JOB_START(file, k)                                                                                   \
	{                                                                                                    \
		.name = file, .mode = 0200, .arg = k, .write = write_start, .size = size_none                \
	}
#define JOB_TEXT_FILE(file, k, as_json)                                                                      \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = k, .json = as_json, .at_open = true, .notify = true,      \
		.make = make_job, .changed = changed_job, .size = size_job                                   \
	}
#define JOB_EVENTS(file, k)                                                                                  \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = k, .stream = true, .next = next_events,                   \
		.changed = changed_job, .size = size_none                                                    \
	}
#define JOB_WAIT(file, k)                                                                                    \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = k, .make = make_wait, .changed = changed_job,             \
		.size = size_job                                                                             \
	}

#define VERSION_FIELD(file, field)                                                                           \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = field, .at_open = true, .make = make_version_field,       \
		.changed = changed_version, .size = size_version_field                                       \
	}
#define VERSION_CONFIG_FILE(file, field)                                                                     \
	{                                                                                                    \
		.name = file, .mode = 0444, .arg = field, .at_open = true, .make = make_config,              \
		.changed = changed_version, .size = size_config                                              \
	}
#define VERSION_CONFIG_DIR(file, which)                                                                      \
	{                                                                                                    \
		.name = file, .mode = 0555, .dir = true, .arg = which, .at_open = true, .make = make_config, \
		.changed = changed_version, .size = size_config, .list = list_config                         \
	}

/* The files of one version in history/<history_id>/: the agent's own rows,
 * made by the same code, and what the record says of the change. */
static const struct node_kind version_kinds[] = {
	VERSION_CONFIG_FILE("name", AGENT_CONFIG_NAME),
	VERSION_CONFIG_FILE("language", AGENT_CONFIG_LANGUAGE),
	VERSION_CONFIG_FILE("system_prompt", AGENT_CONFIG_SYSTEM_PROMPT),
	VERSION_CONFIG_FILE("dynamic_variables", AGENT_CONFIG_ARG_VARIABLES),
	VERSION_CONFIG_DIR("tools", AGENT_CONFIG_TOOLS),
	VERSION_CONFIG_DIR("knowledge_base", AGENT_CONFIG_KNOWLEDGE_BASE),
	VERSION_FIELD("date", HISTORY_DATE),
	VERSION_FIELD("change", HISTORY_CHANGE),
	VERSION_FIELD("reason", HISTORY_REASON),
	VERSION_FIELD("user", HISTORY_USER),
	VERSION_FIELD("version", HISTORY_VERSION),
	VERSION_CONFIG_FILE("record.json", AGENT_CONFIG_ARG_JSON),
};

static const struct node_kind kinds[] = {
	JOB_START("refetch", JOB_AGENT_IMPORT),
	JOB_TEXT_FILE("progress", JOB_AGENT_IMPORT, false),
	JOB_TEXT_FILE("progress.json", JOB_AGENT_IMPORT, true),
	JOB_EVENTS("events", JOB_AGENT_IMPORT),
	JOB_WAIT("wait", JOB_AGENT_IMPORT),
	JOB_START("tools-refetch", JOB_TOOLS_IMPORT),
	JOB_TEXT_FILE("tools-progress", JOB_TOOLS_IMPORT, false),
	JOB_TEXT_FILE("tools-progress.json", JOB_TOOLS_IMPORT, true),
	JOB_WAIT("tools-wait", JOB_TOOLS_IMPORT),
	{.name = "error",
	 .mode = 0444,
	 .at_open = true,
	 .make = make_error,
	 .changed = changed_error,
	 .size = size_error},
	AGENT_CONFIG_FILE("agent.json", AGENT_CONFIG_ARG_JSON),
	AGENT_CONFIG_FILE("name", AGENT_CONFIG_NAME),
	AGENT_CONFIG_FILE("system_prompt", AGENT_CONFIG_SYSTEM_PROMPT),
	AGENT_CONFIG_FILE("language", AGENT_CONFIG_LANGUAGE),
	AGENT_CONFIG_FILE("provider", AGENT_CONFIG_PROVIDER),
	AGENT_CONFIG_FILE("provider_agent_id", AGENT_CONFIG_PROVIDER_AGENT_ID),
	AGENT_CONFIG_FILE("phone_number", AGENT_CONFIG_PHONE_NUMBER),
	AGENT_CONFIG_FILE("updated_at", AGENT_CONFIG_UPDATED_AT),
	AGENT_CONFIG_FILE("dynamic_variables", AGENT_CONFIG_ARG_VARIABLES),
	AGENT_CONFIG_DIR("tools", AGENT_CONFIG_TOOLS),
	AGENT_CONFIG_DIR("knowledge_base", AGENT_CONFIG_KNOWLEDGE_BASE),
	{.name = "history",
	 .mode = 0555,
	 .items = version_kinds,
	 .nitems = sizeof(version_kinds) / sizeof(version_kinds[0]),
	 .list = list_history,
	 .item = item_history,
	 .link = link_history,
	 .changed = changed_history,
	 .size = size_none},
	{.name = "evaluators",
	 .mode = 0444,
	 .at_open = true,
	 .make = make_evaluators,
	 .changed = changed_evaluators,
	 .size = size_evaluators},
	{.name = "run", .mode = 0600, .make = make_nothing, .write = write_run, .size = size_none},
	{.name = "results",
	 .mode = 0555,
	 .items = result_kinds,
	 .nitems = sizeof(result_kinds) / sizeof(result_kinds[0]),
	 .list = list_results,
	 .item = item_result,
	 .link = link_results,
	 .changed = changed_results,
	 .size = size_none},
};

/* ---- .cekurafs/ ---- */

static int text_of(const char *s, struct node_text *out)
{
	out->text = strdup(s ? s : "");
	if(!out->text)
		return -ENOMEM;
	out->len = strlen(out->text);
	return 0;
}

static int make_version(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	(void)ctx;
	(void)f;
	return text_of("cekurafs " CEKURAFS_VERSION "\n", out);
}

static int make_settings(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	(void)f;
	return text_of(ctx->settings, out);
}

static int make_stats(const struct node_ctx *ctx, const struct node_file *f, struct node_text *out)
{
	(void)ctx;
	(void)f;
	out->text = stats_render();
	if(!out->text)
		return -ENOMEM;
	out->len = strlen(out->text);
	return 0;
}

/* The size of a text made without calling the API: make it and measure. */
static size_t size_made(const struct node_ctx *ctx, const struct node_file *f)
{
	struct node_text t = {0};
	size_t len = UNKNOWN_SIZE;

	if(f->kind->make(ctx, f, &t) == 0)
		len = t.len;
	free(t.text);
	return len;
}

#define STATUS_FILE(file, fn, private)                                                                       \
	{                                                                                                    \
		.name = file, .mode = 0444, .owner_only = private, .at_open = true, .make = fn,              \
		.size = size_made                                                                            \
	}

static const struct node_kind status_kinds[] = {
	STATUS_FILE("version", make_version, false),
	/* the key file's path is not for other users' eyes */
	STATUS_FILE("config", make_settings, true),
	STATUS_FILE("stats", make_stats, false),
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

double nodes_changed(const struct node_ctx *ctx, const struct node_file *f)
{
	const struct node_kind *row =
		f->kind ? f->kind : f->parent; /* an item's directory: its collection's */

	return row && row->changed ? row->changed(ctx, f) : 0;
}

size_t nodes_size(const struct node_ctx *ctx, const struct node_file *f)
{
	return f->kind->size(ctx, f);
}

/* The item table's rows of a collection, else the agent's. */
static const struct node_kind *rows_of(const struct node_kind *collection, size_t *n)
{
	if(collection) {
		*n = collection->nitems;
		return collection->items;
	}
	return nodes_table(n);
}

int nodes_list(const struct node_ctx *ctx, const struct node_file *f, node_fill_fn *fill, void *arg)
{
	const struct node_kind *rows;
	size_t n;

	if(f->parent && !f->kind) {
		/* an item's directory: its rows */
		rows = rows_of(f->parent, &n);
		for(size_t i = 0; i < n; i++)
			fill(arg, rows[i].name);
		return 0;
	}
	return f->kind && f->kind->list ? f->kind->list(ctx, f, fill, arg) : -ENOTDIR;
}

/* 0 when entry f->entry exists in the directory row f->kind, else -errno. */
static int entry_exists(const struct node_ctx *ctx, const struct node_file *f)
{
	struct node_text t = {0};
	int rc = f->kind->make(ctx, f, &t);

	free(t.text);
	return rc;
}

/* The type of what row names, once the path ends at it. */
static enum node_type type_of(const struct node_kind *row)
{
	return row->dir || row->items ? NODE_DIR : NODE_FILE;
}

/* The components of path: at most max, each non-empty. Returns their count, or 0 when the path is not so. */
static size_t split(const char *path, const char **part, size_t *len, size_t max)
{
	size_t n = 0;

	for(const char *p = path;; p++) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);

		if(l == 0 || n == max)
			return 0;
		part[n] = p;
		len[n++] = l;
		if(!slash)
			return n;
		p = slash;
	}
}

/* What follows a row in the path: an entry of a directory row (parts[0]),
 * nothing more. f->kind is the row. */
static int resolve_entry(const struct node_ctx *ctx, const char *const *part, size_t n, struct node_ref *out)
{
	if(n == 0) {
		out->type = type_of(out->file.kind);
		return 0;
	}
	if(n > 1 || !out->file.kind->dir)
		return -ENOENT;
	out->file.entry = part[0]; /* the last component: NUL-terminated */
	out->type = NODE_FILE;
	return entry_exists(ctx, &out->file);
}

int nodes_resolve(const struct node_ctx *ctx, uint64_t id, const char *path, struct node_ref *out)
{
	const char *part[4];
	size_t len[4], n = split(path, part, len, 4);
	const struct node_kind *row = n ? nodes_find(part[0], len[0]) : NULL, *rows, *sub;
	size_t nrows;
	int rc;

	memset(out, 0, sizeof(*out));
	if(!row)
		return -ENOENT;
	out->file.id = id;
	out->file.kind = row;
	if(!row->items || n == 1)
		return resolve_entry(ctx, part + 1, n - 1, out);
	if(n == 2 && row->link) {
		rc = row->link(ctx, &out->file, part[1], out->target, sizeof(out->target));
		out->type = NODE_LINK;
		if(rc != -ENOENT)
			return rc; /* a link, or the -errno of finding out */
	}
	if(!ids_parse_agent(part[1], len[1], &out->file.item))
		return -ENOENT; /* an item's name is its canonical decimal id */
	out->file.parent = row;
	out->file.kind = NULL;
	rc = row->item(ctx, &out->file);
	if(rc != 0 || n == 2) {
		out->type = NODE_DIR;
		return rc;
	}
	rows = rows_of(row, &nrows);
	sub = find_row(rows, nrows, part[2], len[2]);
	if(!sub)
		return -ENOENT;
	out->file.kind = sub;
	return resolve_entry(ctx, part + 3, n - 3, out);
}

mode_t nodes_mode(const struct node_file *f)
{
	if(!f->kind)
		return 0555; /* an item's directory */
	return f->entry ? 0444 : f->kind->mode;
}

bool nodes_private(const struct node_file *f)
{
	if(f->kind)
		return f->kind->owner_only;
	/* an item's directory: private when its first row is (results/<id>/) */
	return f->parent && f->parent->nitems && f->parent->items[0].owner_only;
}

static bool caller_gave_up(const struct node_ctx *ctx)
{
	return ctx->cancel.cancelled && ctx->cancel.cancelled(ctx->cancel.arg);
}

/* Swaps a new snapshot in; the old text is freed under the lock, so no reader
 * is copying it. Takes t. */
static void install(struct node_handle *h, struct node_text *t)
{
	pthread_mutex_lock(&h->lock);
	free(h->text);
	h->text = t->text;
	h->len = t->len;
	h->version = t->version;
	h->served_end = false;
	pthread_mutex_unlock(&h->lock);
	memset(t, 0, sizeof(*t));
}

/* Renders a new snapshot (no lock held: it may call the API or block) and swaps it in. */
static int take_snapshot(const struct node_ctx *ctx, struct node_handle *h)
{
	struct node_text t = {0};
	int rc = h->file.kind->make(ctx, &h->file, &t);

	if(rc != 0) {
		free(t.text);
		return rc;
	}
	install(h, &t);
	return 0;
}

static void handle_free(struct node_handle *h)
{
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->lock);
	free((char *)h->file.entry);
	free(h->text);
	free(h);
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
	if((acc != O_WRONLY && !kind->make && !kind->next) || (acc != O_RDONLY && !kind->write))
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
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->idle, NULL);
	/* The first snapshot, before anyone else can see the handle. */
	if(kind->make && kind->at_open)
		rc = take_snapshot(ctx, h);
	if(rc != 0) {
		handle_free(h);
		return rc;
	}
	pthread_mutex_lock(&open_lock);
	h->next = open_handles;
	if(open_handles)
		open_handles->prev = h;
	open_handles = h;
	pthread_mutex_unlock(&open_lock);
	*out = h;
	return 0;
}

/* Copies what is left of a stream's text. Handle lock held. */
static int copy_stream(struct node_handle *h, char *buf, size_t size)
{
	if(size > h->len - h->pos)
		size = h->len - h->pos;
	if(size == 0)
		return 0; /* end of file: the text may be NULL */
	memcpy(buf, h->text + h->pos, size);
	h->pos += size;
	return (int)size;
}

/* A stream's read: what is left of the last text, else the next one (which
 * may block, with no lock held). One reader at a time: another waits. */
static int read_stream(const struct node_ctx *ctx, struct node_handle *h, char *buf, size_t size)
{
	struct job_cursor cur;
	char *text = NULL;
	size_t len = 0;
	int rc;

	pthread_mutex_lock(&h->lock);
	while(h->reading) {
		/* look at the caller again in 0.1 s (idle waits on the wall clock, as made by default) */
		struct timespec until = clock_timespec(clock_wall() + 0.1);

		if(caller_gave_up(ctx)) {
			pthread_mutex_unlock(&h->lock);
			return -EINTR;
		}
		pthread_cond_timedwait(&h->idle, &h->lock, &until);
	}
	if(h->pos < h->len) {
		rc = copy_stream(h, buf, size);
		pthread_mutex_unlock(&h->lock);
		return rc;
	}
	h->reading = true;
	cur = h->cur;
	pthread_mutex_unlock(&h->lock);
	rc = h->file.kind->next(ctx, &h->file, &cur, &text, &len);
	pthread_mutex_lock(&h->lock);
	h->reading = false;
	pthread_cond_broadcast(&h->idle);
	if(rc == 0) {
		h->cur = cur;
		free(h->text);
		h->text = text;
		h->len = len;
		h->pos = 0;
		rc = copy_stream(h, buf, size); /* 0 at end of file */
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int nodes_read(const struct node_ctx *ctx, struct node_handle *h, char *buf, size_t size, off_t off)
{
	bool fresh;
	int rc;

	if(h->file.kind->stream)
		return read_stream(ctx, h, buf, size);
	if(!h->file.kind->make)
		return -EACCES;
	if(off < 0)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if(h->replied) {
		/* a transaction's reply, wherever the write left the offset */
		if(h->reply_at < 0)
			h->reply_at = off;
		off = off >= h->reply_at ? off - h->reply_at : off;
	}
	fresh = !h->replied && (!h->text || (off == 0 && h->served_end));
	pthread_mutex_unlock(&h->lock);
	if(fresh) {
		rc = take_snapshot(ctx, h);
		if(rc != 0)
			return rc;
	}
	pthread_mutex_lock(&h->lock);
	if((size_t)off >= h->len) {
		size = 0;
	} else {
		if(size > h->len - (size_t)off)
			size = h->len - (size_t)off;
		memcpy(buf, h->text + off, size);
	}
	if((size_t)off + size >= h->len)
		h->served_end = true;
	pthread_mutex_unlock(&h->lock);
	return (int)size;
}

int nodes_write(const struct node_ctx *ctx, struct node_handle *h, const char *buf, size_t size, off_t off)
{
	struct node_text reply = {0};
	int rc;

	if(!h->file.kind->write)
		return -EACCES;
	rc = h->file.kind->write(ctx, &h->file, buf, size, off, &reply);
	if(reply.text) {
		install(h, &reply); /* what reads of this open file return from now on */
		pthread_mutex_lock(&h->lock);
		h->replied = true;
		h->reply_at = -1;
		pthread_mutex_unlock(&h->lock);
	}
	return rc;
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
	/* No request runs on h now (the kernel releases after the last), and the
	 * notifier cannot reach it any more. */
	if(h->token && token_release)
		token_release(h->token);
	handle_free(h);
}

bool nodes_is_stream(const struct node_handle *h)
{
	return h->file.kind->stream;
}

/* Whether a read of h would show something new at once. Never calls the API;
 * takes the handle's lock, then (after releasing it) the registry's. */
static bool ready(const struct node_ctx *ctx, struct node_handle *h)
{
	struct job_cursor cur;
	bool have, left;
	unsigned version;

	pthread_mutex_lock(&h->lock);
	have = h->text != NULL;
	left = h->pos < h->len;
	version = h->version;
	cur = h->cur;
	pthread_mutex_unlock(&h->lock);
	if(h->file.kind->stream)
		return left ||
		       registry_job_events_ready(ctx->reg, h->file.id, kind_of(&h->file), h->file.item, &cur);
	if(h->file.kind->notify)
		return !have || registry_job_differs(ctx->reg, h->file.id, kind_of(&h->file), h->file.item,
						     which_of(&h->file), version);
	return true;
}

bool nodes_notify_check(const struct node_ctx *ctx, struct node_handle *h, void *token)
{
	void *drop = NULL;
	bool now = ready(ctx, h);

	/* A change between ready() and keeping the token is not lost: the
	 * notifier looks at every kept token at each round. */
	pthread_mutex_lock(&h->lock);
	if(now) {
		drop = token; /* nothing to wait for: the kernel needs no notification */
	} else if(token) {
		drop = h->token; /* the newest token replaces the last one */
		h->token = token;
	}
	pthread_mutex_unlock(&h->lock);
	if(drop && token_release)
		token_release(drop);
	return now;
}

void nodes_notify_setup(void (*notify)(void *token), void (*release)(void *token))
{
	token_notify = notify;
	token_release = release;
}

/* A job that tokens wait on: an agent, a kind and an item. */
struct waited {
	uint64_t id;
	int kind;
	uint64_t item;
};

static int cmp_waited(const void *a, const void *b)
{
	const struct waited *x = a, *y = b;

	if(x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	if(x->kind != y->kind)
		return (x->kind > y->kind) - (x->kind < y->kind);
	return (x->item > y->item) - (x->item < y->item);
}

/* The jobs waited on now (by handles holding a token), sorted, each once: a
 * new array in *v. open_lock held. */
static int waited_jobs(struct waited **out, size_t *n)
{
	size_t cap = 0, count = 0, kept = 0;
	struct waited *v = NULL;

	for(struct node_handle *h = open_handles; h; h = h->next) {
		bool token;

		if(!h->file.kind->notify && !h->file.kind->stream)
			continue; /* not a job's file: always ready, never keeps a token */
		pthread_mutex_lock(&h->lock);
		token = h->token != NULL;
		pthread_mutex_unlock(&h->lock);
		if(!token)
			continue;
		if(count == cap) {
			struct waited *p = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if(!p) {
				free(v);
				return -ENOMEM;
			}
			v = p;
		}
		v[count].id = h->file.id;
		v[count].item = h->file.item;
		v[count++].kind = h->file.kind->arg;
	}
	if(count)
		qsort(v, count, sizeof(*v), cmp_waited);
	for(size_t i = 0; i < count; i++)
		if(kept == 0 || cmp_waited(&v[kept - 1], &v[i]) != 0)
			v[kept++] = v[i];
	*out = v;
	*n = kept;
	return 0;
}

/* The last job the notifier polled: the next round starts after it. Owned
 * by the notifier thread (nodes_notify_round() has one caller). */
static struct waited notify_last;

void nodes_notify_round(const struct node_ctx *ctx)
{
	struct waited *jobs = NULL;
	size_t n = 0, start = 0, take;

	pthread_mutex_lock(&open_lock);
	if(waited_jobs(&jobs, &n) != 0)
		n = 0;
	pthread_mutex_unlock(&open_lock);
	/* Round-robin: from the first job after the last one polled, wrapping. */
	while(start < n && cmp_waited(&jobs[start], &notify_last) <= 0)
		start++;
	take = n < NODES_NOTIFY_MAX ? n : NODES_NOTIFY_MAX;
	for(size_t i = 0; i < take; i++) {
		struct waited w = jobs[(start + i) % n];

		/* polls only when due, shared with readers */
		registry_job_refresh(ctx->reg, &ctx->cancel, w.id, (enum job_kind)w.kind, w.item);
		notify_last = w;
	}
	free(jobs);
	pthread_mutex_lock(&open_lock);
	for(struct node_handle *h = open_handles; h; h = h->next) {
		void *token;

		pthread_mutex_lock(&h->lock);
		token = h->token;
		pthread_mutex_unlock(&h->lock);
		if(!token || !ready(ctx, h))
			continue;
		pthread_mutex_lock(&h->lock);
		token = h->token; /* a check may have replaced it meanwhile */
		h->token = NULL;
		pthread_mutex_unlock(&h->lock);
		if(token) {
			token_notify(token);
			token_release(token);
		}
	}
	pthread_mutex_unlock(&open_lock);
}

void nodes_release_all(void)
{
	while(open_handles)
		nodes_release(open_handles);
}

/* ---- the agents, for ops.c ---- */

int nodes_agents(const struct node_ctx *ctx, uint64_t **ids, size_t *n)
{
	return registry_list(ctx->reg, &ctx->cancel, ids, n);
}

int nodes_agent_exists(const struct node_ctx *ctx, uint64_t id)
{
	return registry_lookup(ctx->reg, &ctx->cancel, id);
}

int nodes_byname(const struct node_ctx *ctx, node_fill_fn *fill, void *arg)
{
	return registry_each_name(ctx->reg, &ctx->cancel, fill, arg);
}

int nodes_byname_link(const struct node_ctx *ctx, const char *name, uint64_t *id)
{
	return registry_link(ctx->reg, &ctx->cancel, name, id);
}
