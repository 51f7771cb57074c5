/* job_kinds.h - the API's background jobs cekurafs follows: one table row per kind.
 *
 *   kind          started by                                      polled with
 *   agent import  POST /test_framework/v2/aiagents/{id}/auto-fetch/        GET .../auto-fetch-progress/
 *   tools import  POST /test_framework/v1/aiagents/{id}/tools/auto-fetch/  GET .../tools/auto-fetch-progress/
 *   test result   POST /test_framework/v2/scenarios/run_scenarios[_text]/  GET
 * /test_framework/v2/results/{id}/
 *
 * A job is started by a POST that answers an id, then polled with that id
 * until its status is terminal. A row says how to start and poll one, how its
 * answer reads as a file, which statuses end it, what its failure says and
 * what completing it changes. Everything else (keeping the id on disk,
 * coalesced polls, snapshots, `wait`, `events`, poll(2) readiness) is the job
 * layer's (fs/jobs.c), the same for every kind: a new kind is a new row.
 */
#ifndef CEKURAFS_JOB_KINDS_H
#define CEKURAFS_JOB_KINDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cekurafs/agent_config.h"
#include "cekurafs/api.h"
#include "cekurafs/progress.h"
#include "cekurafs/registry_options.h"

enum job_kind { JOB_AGENT_IMPORT, JOB_TOOLS_IMPORT, JOB_RESULT, JOB_NKINDS };

/* What a start sends: the body (NULL: none), the endpoint for a kind that
 * has several (a run's mode; NULL: the kind's own) and the budget for a kind
 * with its own (run_timeout; 0: the policy's). */
struct job_request {
	const char *body;
	const char *path;
	double budget;
};

/* A decoded answer a kind keeps beside its texts (a test result, struct
 * result), for the files rendered from it at open. Immutable once made,
 * shared by the job and the views holding a reference; freed by the last. */
struct job_detail {
	atomic_uint refs;
	void *obj;
	void (*free)(void *obj); /* frees obj */
	size_t bytes;		 /* about what it holds */
};

/* A detail owning obj (freed with free_fn), one reference; NULL (obj freed) when out of memory. */
struct job_detail *job_detail_new(void *obj, void (*free_fn)(void *obj), size_t bytes);
struct job_detail *job_detail_ref(struct job_detail *d);
void job_detail_unref(struct job_detail *d); /* NULL is fine */

/* A set of kinds, for job_type.excludes. */
#define JOB_KIND_BIT(kind) (1u << (kind))

/* The two texts a job shows: the rendered one (`progress`) and the answer as received (`progress.json`). */
enum job_text { JOB_TEXT, JOB_JSON };

struct job_type {
	/* The kind's word in the state file ("<agent> <name> <id>"); NULL for
	 * the agent import, whose lines are "<agent> <id>" as they always were. */
	const char *name;
	const char *noun;      /* in log and error lines: "auto-fetch" */
	const char *a_noun;    /* with its article: "an auto-fetch" */
	const char *id_label;  /* the id's key in the text: "progress_id" */
	const char *id_words;  /* the id in a sentence: "progress id" */
	const char *start_op;  /* the error line of a failed start: "refetch: ..." */
	const char *poll_op;   /* of a failed poll: "progress: ..." */
	const char *end_op;    /* of a job that failed: "auto-fetch: failed at ..." */
	const char *wait_op;   /* of a wait that gave up: "wait: timed out after 30 s" */
	const char *events_op; /* of a reader of its events that gave up: "events: ..." */
	const char *idle;      /* the text while the agent has no job of this kind */
	/* The POST of req (body NULL: none, for a kind with no request()):
	 * *job_id is a new string. 0 or -errno, e filled. */
	int (*start)(struct api *api, const struct api_cancel *c, uint64_t agent,
		     const struct job_request *req, char **job_id, struct api_error *e);
	/* The request body made from the agent's configuration when the user
	 * wrote "1": a new string in *body, or -EOPNOTSUPP when the agent lacks
	 * what the body needs (why says what, for the error line), -ENOMEM. NULL:
	 * the kind's POST has no body, and a written body is refused (EINVAL). */
	int (*request)(const struct agent_config *cfg, char **body, char *why, size_t why_size);
	/* One GET of job_id: *out decoded (its status at least), *raw the body
	 * as received (new), *detail what the kind keeps of it (a new reference,
	 * or NULL for a kind that keeps nothing more). */
	int (*poll)(struct api *api, const struct api_cancel *c, uint64_t agent, const char *job_id,
		    struct progress *out, char **raw, struct job_detail **detail, struct api_error *e);
	/* The text of the job's file, from the decoded answer, the body as
	 * received and the detail (NULL for kinds without): a new string, NULL
	 * when out of memory. */
	char *(*render)(const struct progress *p, const char *json, const struct job_detail *detail,
			const char *job_id);
	bool (*terminal)(const char *status);
	/* Whether a terminal job failed (wait's EREMOTEIO). */
	bool (*failed)(const struct progress *p, const struct job_detail *detail);
	/* What the error line says of a failed job, after "<end_op>: " (a keyed
	 * kind's operation is "<end_op>/<item>"). */
	void (*failure)(const struct progress *p, const struct job_detail *detail, char *buf, size_t size);
	/* Least seconds between two polls of one job, and longest a wait blocks;
	 * NULL: poll_interval and wait_timeout. */
	double (*interval)(const struct registry_options *opt);
	double (*patience)(const struct registry_options *opt);
	/* One job per item (a result id) rather than per agent: the item is the
	 * job's id, found without a start, and the agent's own job of the kind
	 * holds only the id last started here (the one persisted). Starts do not
	 * exclude one another. */
	bool keyed;
	/* A 400 on its poll means the API forgot the id (`expired`, ESTALE). */
	bool expires;
	/* A start whose id could not be saved still succeeds (error line written). */
	bool save_best_effort;
	/* A terminal answer is fetched again by an open once older than list_ttl. */
	bool refresh_terminal;
	/* When the detail says the job was made (wall-clock seconds, 0: unknown); NULL: never known. */
	double (*born)(const struct job_detail *detail);
	/* Completing it changes the agent: its configuration and history are read anew. */
	bool changes_agent;
	/* The kinds that must not run when one of this kind starts (EBUSY),
	 * itself included: JOB_KIND_BIT()s. */
	unsigned excludes;
};

/* The row of a kind. */
const struct job_type *job_type_of(enum job_kind kind);

/* The kind a state file line names (NULL: the agent import), or -1. */
int job_kind_named(const char *name);

/* Fills names with the kinds' names in the state file, NULL-terminated (for state_load_kinds()). */
void job_kind_names(const char *names[JOB_NKINDS + 1]);

/* What one read sees: a job's text and raw answer at one moment, with the
 * version of each (to tell whether a re-read would differ), and the kind's
 * detail (a reference, or NULL). Owned. */
struct job_view {
	char *text;
	size_t text_len;
	char *json;
	size_t json_len;
	unsigned text_version, json_version;
	struct job_detail *detail;
	bool terminal; /* the job had ended */
};

void job_view_free(struct job_view *v);

/* Where one reader of a job's `events` is. Zero it before the first read. */
struct job_cursor {
	bool started; /* the first read (the whole picture) was made */
	bool done;    /* end of file: the job ended, or none was known */
	unsigned gen; /* the job it reads */
	size_t at;    /* events read so far */
};

#endif
