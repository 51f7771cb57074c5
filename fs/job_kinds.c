/* job_kinds.c - the table of job kinds (job_kinds.h): one row per kind.
 *
 * The agent import: POST .../auto-fetch/ answers a progress_id, and GET
 * .../auto-fetch-progress/ answers its staged status (render.c shows it).
 * The tools import: POST .../tools/auto-fetch/ with the agent's provider
 *
 *   {"provider": "vapi", "assistant_id": "asst_123"}
 *
 * (or an object the user wrote) answers a progress_id, and GET
 * .../tools/auto-fetch-progress/ its counts (tools_progress.c shows them).
 * Either one excludes the other: one import of an agent at a time.
 * A test result: POST .../run_scenarios_text/ (or run_scenarios/ for a voice
 * run) answers the result, whose id is the job's; GET /results/{id}/ its
 * detail, kept decoded (result.c) for the files rendered from it. Results
 * are keyed: one job per result id, and runs exclude nothing.
 */
#include "cekurafs/job_kinds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/ids.h"
#include "cekurafs/json.h"
#include "cekurafs/render.h"
#include "cekurafs/result.h"
#include "cekurafs/text.h"
#include "cekurafs/tools_progress.h"

#define IMPORTS (JOB_KIND_BIT(JOB_AGENT_IMPORT) | JOB_KIND_BIT(JOB_TOOLS_IMPORT))

/* ---- the agent import ---- */

static int start_import(struct api *api, const struct api_cancel *c, uint64_t agent,
			const struct job_request *req, char **job_id, struct api_error *e)
{
	(void)req; /* the kind has no request(): the POST has no body */
	return api_auto_fetch(api, c, agent, job_id, e);
}

static int poll_import(struct api *api, const struct api_cancel *c, uint64_t agent, const char *job_id,
		       struct progress *out, char **raw, struct job_detail **detail, struct api_error *e)
{
	*detail = NULL;
	return api_progress(api, c, agent, job_id, out, raw, e);
}

static char *render_import(const struct progress *p, const char *json, const struct job_detail *detail,
			   const char *job_id)
{
	(void)json;
	(void)detail;
	return render_progress(p, job_id);
}

static bool import_failed(const struct progress *p, const struct job_detail *detail)
{
	(void)detail;
	return strcmp(p->status, "failed") == 0;
}

/* "failed at stage <the stage that failed, else the current one>: <error>" */
static void import_failure(const struct progress *p, const struct job_detail *detail, char *buf, size_t size)
{
	const char *stage = p->current_stage && *p->current_stage ? p->current_stage : "unknown";

	(void)detail;
	for(size_t i = 0; i < p->nstages; i++)
		if(p->stages[i].state && strcmp(p->stages[i].state, "failed") == 0 && p->stages[i].name) {
			stage = p->stages[i].name;
			break;
		}
	snprintf(buf, size, "failed at stage %s: %s", stage, p->error ? p->error : "no reason given");
}

/* ---- the tools import ---- */

/* A one-value field of the configuration without its newline: a new string, NULL when out of memory. */
static char *field_value(const struct agent_config *cfg, enum config_field f)
{
	const struct config_text *t = &cfg->field[f];
	size_t len = t->len && t->text[t->len - 1] == '\n' ? t->len - 1 : t->len;

	return strndup(t->text, len);
}

/* {"provider": <provider.type>, "assistant_id": <provider.agent_id>}, the
 * id left out when empty; -EOPNOTSUPP when the agent has no provider. */
static int tools_request(const struct agent_config *cfg, char **body, char *why, size_t why_size)
{
	char *provider = field_value(cfg, AGENT_CONFIG_PROVIDER);
	char *assistant = field_value(cfg, AGENT_CONFIG_PROVIDER_AGENT_ID);
	struct text_buf b = {0};
	int rc = 0;

	*body = NULL;
	if(!provider || !assistant) {
		rc = -ENOMEM;
	} else if(!*provider) {
		snprintf(why, why_size,
			 "the agent has no provider: write a JSON object with \"provider\" to choose one");
		rc = -EOPNOTSUPP;
	} else {
		text_buf_add(&b, "{\"provider\": ", strlen("{\"provider\": "));
		text_buf_json_string(&b, provider);
		if(*assistant) {
			text_buf_add(&b, ", \"assistant_id\": ", strlen(", \"assistant_id\": "));
			text_buf_json_string(&b, assistant);
		}
		text_buf_add(&b, "}", 1);
		*body = text_buf_take(&b, NULL);
		rc = *body ? 0 : -ENOMEM;
	}
	free(provider);
	free(assistant);
	return rc;
}

static int start_tools(struct api *api, const struct api_cancel *c, uint64_t agent,
		       const struct job_request *req, char **job_id, struct api_error *e)
{
	return api_tools_fetch(api, c, agent, req->body, job_id, e);
}

static int poll_tools(struct api *api, const struct api_cancel *c, uint64_t agent, const char *job_id,
		      struct progress *out, char **raw, struct job_detail **detail, struct api_error *e)
{
	*detail = NULL;
	return api_tools_progress(api, c, agent, job_id, out, raw, e);
}

static char *render_tools(const struct progress *p, const char *json, const struct job_detail *detail,
			  const char *job_id)
{
	(void)p; /* the counts and message are in the body only */
	(void)detail;
	return tools_progress_render(json, job_id);
}

/* "<error>", else "no reason given" */
static void tools_failure(const struct progress *p, const struct job_detail *detail, char *buf, size_t size)
{
	(void)detail;
	snprintf(buf, size, "%s", p->error ? p->error : "no reason given");
}

/* ---- the test result ---- */

/* POST of the run: the answer's integer id is the result's. */
static int start_run(struct api *api, const struct api_cancel *c, uint64_t agent,
		     const struct job_request *req, char **job_id, struct api_error *e)
{
	struct json_doc d;
	char *reply = NULL;
	size_t len = 0;
	int64_t id = 0;
	int rc, t;

	(void)agent; /* the body names it */
	*job_id = NULL;
	rc = api_run(api, c, req->path, req->body, req->budget, &reply, &len, e);
	if(rc != 0)
		return rc;
	rc = json_parse(&d, reply, len);
	if(rc == 0) {
		t = json_type(&d, 0) == JSON_OBJECT ? json_find(&d, 0, "id") : -1;
		if(t < 0 || json_int(&d, t, &id) != 0 || id <= 0)
			rc = -EPROTO;
		json_free(&d);
	}
	free(reply);
	if(rc == -EPROTO || rc == -EINVAL) {
		snprintf(e->msg, sizeof(e->msg),
			 "malformed response: the run's answer has no integer id; the run may have started: "
			 "look in results/ before running again");
		e->err = EPROTO;
		return -EPROTO;
	}
	if(rc == 0 && asprintf(job_id, "%lld", (long long)id) < 0) {
		*job_id = NULL;
		rc = -ENOMEM;
	}
	if(rc == -ENOMEM)
		snprintf(e->msg, sizeof(e->msg), "out of memory");
	return rc;
}

static void free_result(void *obj)
{
	result_free(obj);
	free(obj);
}

/* GET of the result's detail, decoded; a result of another agent is ENOENT. */
static int poll_result(struct api *api, const struct api_cancel *c, uint64_t agent, const char *job_id,
		       struct progress *out, char **raw, struct job_detail **detail, struct api_error *e)
{
	struct result *res = calloc(1, sizeof(*res));
	uint64_t rid = 0;
	char *body = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	*raw = NULL;
	*detail = NULL;
	if(!res)
		return -ENOMEM;
	if(!ids_parse_agent(job_id, strlen(job_id), &rid)) {
		free(res);
		snprintf(e->msg, sizeof(e->msg), "invalid result id");
		return -EINVAL;
	}
	rc = api_result(api, c, rid, &body, &len, e);
	if(rc == 0) {
		rc = result_decode(body, len, res);
		if(rc == -EPROTO || rc == -EFBIG) {
			snprintf(e->msg, sizeof(e->msg), "malformed response: result %s %s", job_id,
				 rc == -EPROTO ? "is not a ResultDetailV2 object"
					       : "is too large to show as files");
			rc = -EPROTO;
		} else if(rc == 0 && res->agent != agent) {
			snprintf(e->msg, sizeof(e->msg), "result %s is not one of this agent's", job_id);
			result_free(res);
			rc = -ENOENT;
		}
	}
	free(body);
	if(rc == 0) {
		out->status = strdup(res->status);
		out->current_stage = strdup("");
		*raw = strdup(""); /* result.json is the detail's own text */
		*detail = job_detail_new(res, free_result, result_bytes(res));
		res = NULL;
		if(!out->status || !out->current_stage || !*raw || !*detail) {
			progress_free(out);
			free(*raw);
			*raw = NULL;
			job_detail_unref(*detail);
			*detail = NULL;
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			rc = -ENOMEM;
		}
	}
	free(res);
	return rc;
}

static char *render_result(const struct progress *p, const char *json, const struct job_detail *detail,
			   const char *job_id)
{
	(void)p;
	(void)json;
	(void)job_id;
	return result_summary(detail->obj);
}

static bool result_failed(const struct progress *p, const struct job_detail *detail)
{
	(void)p;
	return result_verdict(detail->obj) == RESULT_FAILED;
}

/* result_error_line() after its "results/<id>: ", which the job layer writes. */
static void result_failure(const struct progress *p, const struct job_detail *detail, char *buf, size_t size)
{
	char *line = result_error_line(detail->obj);
	const char *msg = line ? strstr(line, ": ") : NULL;

	(void)p;
	snprintf(buf, size, "%s", msg ? msg + 2 : line ? line : "out of memory");
	free(line);
}

static double result_born(const struct job_detail *detail)
{
	return ((const struct result *)detail->obj)->created_at;
}

static double result_interval(const struct registry_options *opt)
{
	return opt->result_poll_interval;
}

static double result_patience(const struct registry_options *opt)
{
	return opt->result_wait_timeout;
}

static const struct job_type types[JOB_NKINDS] = {
	[JOB_AGENT_IMPORT] =
		{
			.name = NULL,
			.noun = "auto-fetch",
			.a_noun = "an auto-fetch",
			.id_label = "progress_id",
			.id_words = "progress id",
			.start_op = "refetch",
			.poll_op = "progress",
			.end_op = "auto-fetch",
			.wait_op = "wait",
			.events_op = "events",
			.idle = RENDER_IDLE,
			.start = start_import,
			.poll = poll_import,
			.render = render_import,
			.terminal = progress_terminal,
			.failed = import_failed,
			.failure = import_failure,
			.changes_agent = true,
			.excludes = IMPORTS,
			.expires = true,
		},
	[JOB_TOOLS_IMPORT] =
		{
			.name = "tools",
			.noun = "tools import",
			.a_noun = "a tools import",
			.id_label = "progress_id",
			.id_words = "progress id",
			.start_op = "tools-refetch",
			.poll_op = "tools-progress",
			.end_op = "tools-import",
			.wait_op = "tools-wait",
			.events_op = "tools-events",
			.idle = RENDER_IDLE,
			.start = start_tools,
			.request = tools_request,
			.poll = poll_tools,
			.render = render_tools,
			.terminal = progress_terminal,
			.failed = import_failed,
			.failure = tools_failure,
			.changes_agent = true,
			.excludes = IMPORTS,
			.expires = true,
		},
	[JOB_RESULT] =
		{
			.name = "result",
			.noun = "test run",
			.a_noun = "a test run",
			.id_label = "result_id",
			.id_words = "result id",
			.start_op = "run",
			.poll_op = "result",
			.end_op = "results",
			.wait_op = "wait",
			.events_op = "events",
			.idle = "",
			.start = start_run,
			.poll = poll_result,
			.render = render_result,
			.terminal = result_terminal,
			.failed = result_failed,
			.failure = result_failure,
			.interval = result_interval,
			.patience = result_patience,
			.keyed = true,
			.save_best_effort = true,
			.refresh_terminal = true,
			.born = result_born,
		},
};

const struct job_type *job_type_of(enum job_kind kind)
{
	return &types[kind];
}

int job_kind_named(const char *name)
{
	for(int k = 0; k < JOB_NKINDS; k++)
		if(name ? types[k].name && strcmp(types[k].name, name) == 0 : !types[k].name)
			return k;
	return -1;
}

void job_kind_names(const char *names[JOB_NKINDS + 1])
{
	int n = 0;

	for(int k = 0; k < JOB_NKINDS; k++)
		if(types[k].name)
			names[n++] = types[k].name;
	names[n] = NULL;
}

struct job_detail *job_detail_new(void *obj, void (*free_fn)(void *obj), size_t bytes)
{
	struct job_detail *d = obj ? malloc(sizeof(*d)) : NULL;

	if(!d) {
		if(obj)
			free_fn(obj);
		return NULL;
	}
	atomic_init(&d->refs, 1);
	d->obj = obj;
	d->free = free_fn;
	d->bytes = bytes;
	return d;
}

struct job_detail *job_detail_ref(struct job_detail *d)
{
	if(d)
		atomic_fetch_add(&d->refs, 1);
	return d;
}

void job_detail_unref(struct job_detail *d)
{
	if(d && atomic_fetch_sub(&d->refs, 1) == 1) {
		d->free(d->obj);
		free(d);
	}
}

void job_view_free(struct job_view *v)
{
	free(v->text);
	free(v->json);
	job_detail_unref(v->detail);
	memset(v, 0, sizeof(*v));
}
