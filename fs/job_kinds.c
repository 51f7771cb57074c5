/* job_kinds.c - the table of job kinds (job_kinds.h): one row per kind.
 *
 * The agent import: POST .../auto-fetch/ answers a progress_id, and GET
 * .../auto-fetch-progress/ answers its staged status (render.c shows it).
 */
#include "cekurafs/job_kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/render.h"

/* ---- the agent import ---- */

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
			.start = api_auto_fetch,
			.poll = api_progress,
			.render = render_progress,
			.terminal = progress_terminal,
			.failed = import_failed,
			.failure = import_failure,
			.changes_agent = true,
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
