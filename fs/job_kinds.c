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
 */
#include "cekurafs/job_kinds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/render.h"
#include "cekurafs/text.h"
#include "cekurafs/tools_progress.h"

#define IMPORTS (JOB_KIND_BIT(JOB_AGENT_IMPORT) | JOB_KIND_BIT(JOB_TOOLS_IMPORT))

/* ---- the agent import ---- */

static int start_import(struct api *api, const struct api_cancel *c, uint64_t agent, const char *body,
			char **job_id, struct api_error *e)
{
	(void)body; /* the kind has no request(): the POST has no body */
	return api_auto_fetch(api, c, agent, job_id, e);
}

static char *render_import(const struct progress *p, const char *json, const char *job_id)
{
	(void)json;
	return render_progress(p, job_id);
}

static bool import_failed(const char *status)
{
	return strcmp(status, "failed") == 0;
}

/* "failed at stage <the stage that failed, else the current one>: <error>" */
static void import_failure(const struct progress *p, char *buf, size_t size)
{
	const char *stage = p->current_stage && *p->current_stage ? p->current_stage : "unknown";

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

static char *render_tools(const struct progress *p, const char *json, const char *job_id)
{
	(void)p; /* the counts and message are in the body only */
	return tools_progress_render(json, job_id);
}

/* "<error>", else "no reason given" */
static void tools_failure(const struct progress *p, char *buf, size_t size)
{
	snprintf(buf, size, "%s", p->error ? p->error : "no reason given");
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
			.poll = api_progress,
			.render = render_import,
			.terminal = progress_terminal,
			.failed = import_failed,
			.failure = import_failure,
			.changes_agent = true,
			.excludes = IMPORTS,
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
			.start = api_tools_fetch,
			.request = tools_request,
			.poll = api_tools_progress,
			.render = render_tools,
			.terminal = progress_terminal,
			.failed = import_failed,
			.failure = tools_failure,
			.changes_agent = true,
			.excludes = IMPORTS,
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

void job_view_free(struct job_view *v)
{
	free(v->text);
	free(v->json);
	memset(v, 0, sizeof(*v));
}
