/* api.h - the Cekura endpoints cekurafs uses, as typed calls.
 *
 * Each call returns 0 or -errno and, on failure, fills a struct api_error
 * whose msg is what the agent's `error` file shows after "<operation>: ".
 * The key lives here and goes only into the request header.
 */
#ifndef CEKURAFS_API_H
#define CEKURAFS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cekurafs/http.h"
#include "cekurafs/progress.h"

struct api;

struct api_error {
	int err;       /* positive errno */
	long status;   /* HTTP status when the API answered, else 0 */
	char msg[512]; /* "HTTP 400: <detail>", "timed out after 30 s", ... */
};

/* Lets a FUSE interrupt stop a call: polled during transfers and backoff. */
struct api_cancel {
	bool (*cancelled)(void *arg);
	void *arg;
};

/* Takes ownership of transport; copies base_url (no trailing '/') and key. */
struct api *api_new(struct http_transport *transport, const char *base_url, const char *key,
		    const struct http_policy *policy);
void api_free(struct api *api);

/* Budget of one call in seconds (for messages). */
double api_timeout(const struct api *api);

/* Every agent the key can see, each with its name from the short list. */
struct agent_list_item {
	uint64_t id;
	uint32_t name_at; /* offset of its name in names; AGENT_NO_NAME when it has none */
};

#define AGENT_NO_NAME UINT32_MAX

struct agent_list {
	struct agent_list_item *items; /* sorted by id, no id twice */
	size_t n, cap;
	char *names; /* the names, each NUL-terminated, one after the other */
	size_t names_len, names_cap;
};

/* The name of item i: its `agent_name`, or NULL when it had none. */
const char *agent_list_name(const struct agent_list *l, size_t i);
void agent_list_free(struct agent_list *l);

/* Lists every agent, following `next` over all pages, into *out (zeroed first;
 * agent_list_free() it, also after a failure). The first page's `count`
 * bounds the rest: a `next` to a URL already asked for, a page past
 * ceil(count / agents on the first page) + 1, more than count plus one first
 * page of agents, or a `next` with no `count` on the first page, is -EPROTO. */
int api_list_agents(struct api *api, const struct api_cancel *c, struct agent_list *out, struct api_error *e);

/* 0 when the agent exists, -ENOENT when the API says 404, else -errno. */
int api_get_agent(struct api *api, const struct api_cancel *c, uint64_t id, struct api_error *e);

/* The same request, keeping the agent as the API sent it: *body (NUL-terminated,
 * the caller frees it) and *len. */
int api_get_agent_body(struct api *api, const struct api_cancel *c, uint64_t id, char **body, size_t *len,
		       struct api_error *e);

/* Starts an auto-fetch; *progress_id is a new string the caller frees. The
 * POST is sent again only when it never reached the API or was answered 429;
 * when its answer was lost after it was sent (reset, timeout), the message
 * says that the API may have started an import and that a retry will tell. */
int api_auto_fetch(struct api *api, const struct api_cancel *c, uint64_t id, char **progress_id,
		   struct api_error *e);

/* Polls a progress id. On success fills *out (progress_free() it) and *raw,
 * a copy of the body as sent (the caller frees it). */
int api_progress(struct api *api, const struct api_cancel *c, uint64_t id, const char *progress_id,
		 struct progress *out, char **raw, struct api_error *e);

/* What a tools endpoint's 404 or 410 says: the API dropped the deprecated import. */
#define API_TOOLS_GONE "the API no longer offers a tools-only import"

/* Starts a tools-only import: POST /test_framework/v1/aiagents/{id}/tools/auto-fetch/
 * with body (one JSON object, NUL-terminated, sent unchanged as application/json;
 * never logged). Any 2xx with {"progress_id": "<valid job id>"}; *progress_id
 * is a new string the caller frees. Sent again only as api_auto_fetch() is
 * (never reached the API, or 429); a lost answer's message says the API may
 * have started a tools import. A 404 or 410 is -EOPNOTSUPP with msg
 * "HTTP 404: " API_TOOLS_GONE (410 likewise); a NULL body -EINVAL, nothing sent. */
int api_tools_fetch(struct api *api, const struct api_cancel *c, uint64_t id, const char *body,
		    char **progress_id, struct api_error *e);

/* Polls a tools-only import: GET /test_framework/v1/aiagents/{id}/tools/auto-fetch-progress/
 * ?progress_id=<id>. On success *out holds its status and error (NULL when
 * null), current_stage "" and no stages (progress_free() it), and *raw the
 * body as sent (the caller frees it; tools_progress_render() makes its text).
 * A 400 is -EREMOTEIO as for api_progress(); 404 or 410 -EOPNOTSUPP as for
 * api_tools_fetch(); an answer of another shape -EPROTO ("malformed response: ...");
 * an invalid progress_id -EINVAL, nothing sent. */
int api_tools_progress(struct api *api, const struct api_cancel *c, uint64_t id, const char *progress_id,
		       struct progress *out, char **raw, struct api_error *e);

/* One page of a listing, decoded by the caller (arg is its own): appends what
 * the page holds, gives its `next` (a new string, or NULL: the last page),
 * its `count` (-1 when absent or null) and how many items it held. 0, -EPROTO
 * (not a page: *next left NULL), -ENOMEM. */
typedef int api_page_fn(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);

/* An agent's versions: GET /test_framework/v2/aiagents/{id}/history/?page_size=1000
 * and every `next`, each page given to page(arg, ...) in turn. The bounds of
 * api_list_agents(): a `next` away from api_url, to a URL already asked for,
 * past the pages or items the first page's `count` allows, or with no
 * `count` on the first page, is -EPROTO. A 404 is -ENOENT. 0, or -errno with
 * e filled (what page() collected is the caller's to free either way). */
int api_history(struct api *api, const struct api_cancel *c, uint64_t id, api_page_fn *page, void *arg,
		struct api_error *e);

/* An agent's evaluators: GET /test_framework/v1/scenarios/?agent_id=<agent>&page_size=1000
 * and every `next`, each page given to page(arg, ...), within the bounds of
 * api_history(). 0, or -errno with e filled. */
int api_scenarios(struct api *api, const struct api_cancel *c, uint64_t agent, api_page_fn *page, void *arg,
		  struct api_error *e);

/* An agent's results: GET /test_framework/v2/results/?agent_id=<agent>&page_size=1000
 * and every `next`, as api_scenarios(). */
int api_results(struct api *api, const struct api_cancel *c, uint64_t agent, api_page_fn *page, void *arg,
		struct api_error *e);

/* Largest result detail accepted: details carry transcripts. */
#define API_RESULT_MAX_BODY (64u * 1024 * 1024)

/* One result's detail: GET /test_framework/v2/results/<result>/, its body up
 * to API_RESULT_MAX_BODY (past it EPROTO, "response larger than 64 MiB"), kept
 * as sent in *body (NUL-terminated, the caller frees it) and *len. A 404 is
 * -ENOENT. */
int api_result(struct api *api, const struct api_cancel *c, uint64_t result, char **body, size_t *len,
	       struct api_error *e);

/* Ends a result's active calls: POST /test_framework/v2/results/<result>/end_calls/
 * with no body; any 2xx is 0. Sent again only when it never reached the API
 * or was answered 429, as every POST. */
int api_end_calls(struct api *api, const struct api_cancel *c, uint64_t result, struct api_error *e);

/* Starts a run: POSTs body (one JSON object, NUL-terminated, never logged) to
 * path, the mode's endpoint ("/test_framework/v2/scenarios/run_scenarios_text/").
 * Never sent twice: sent again only when it never reached the API or was
 * answered 429. Its budget is budget seconds (run_timeout), not the policy's
 * timeout. Once the request is sent, c is no longer consulted: an interrupt
 * does not abandon it (before that, and in the backoff after a 429, it does:
 * -EINTR). A failure after it was sent (timeout, reset, 5xx) has the message
 * "<reason>; the run may have started: look in results/ before running again".
 * On a 2xx, *reply (NUL-terminated, the caller frees it) and *len hold the
 * body as sent (the new result, with its `id`). No path, no body or a budget
 * not > 0 is -EINVAL, nothing sent. */
int api_run(struct api *api, const struct api_cancel *c, const char *path, const char *body, double budget,
	    char **reply, size_t *len, struct api_error *e);

/* One cheap request to check the key at start-up. */
int api_check(struct api *api, struct api_error *e);

/* Stages one progress answer may bring: more is EPROTO. It bounds what a
 * poll costs the registry (README, "Sizes and caching"). */
#define API_MAX_STAGES 1000

/* The decoders, pure, for tests and fuzzing: 0 or -EPROTO (-ENOMEM);
 * api_decode_progress() is -EFBIG past API_MAX_STAGES. */
int api_decode_progress(const char *body, size_t len, struct progress *out);
int api_decode_auto_fetch(const char *body, size_t len, char **progress_id);
/* Appends a page's agents to *l (unsorted) and returns its `next` (new string,
 * or NULL) and its `count` (-1 when absent or null; not an integer >= 0 is -EPROTO). */
int api_decode_agent_page(const char *body, size_t len, struct agent_list *l, char **next, int64_t *count);
/* The one-line human text of an error body (DESIGN.md, "Jobs"), cut to size:
 * its `detail` when that is a string; else every "field: message" pair in
 * the order received, joined by "; " (a field's array of strings gives a
 * pair per string, a string one pair, any other value none; the field
 * `non_field_errors` gives the message alone); else, for an array, its
 * strings joined by "; "; else "(no detail)". Control bytes become spaces. */
void api_decode_detail(const char *body, size_t len, char *buf, size_t size);

#endif
