/* result.h - a test result (GET /test_framework/v2/results/{id}/, ResultDetailV2)
 * decoded and made the texts of its files, and the pages of an agent's
 * results (GET /test_framework/v2/results/?agent_id=). Pure.
 *
 *   $ cat agents/42/results/812/summary
 *   completed
 *   result_id: 812
 *   name: Nightly smoke
 *   verdict: failed
 *   runs: 10/10
 *   passed: 8
 *   failed: 2
 *   success_rate: 80.0
 *   run 86360 101 completed passed Refund_request
 *   run 86367 102 timeout failed Angry_caller
 *   $ cat agents/42/results/812/error
 *   results/812: 2 of 10 runs did not pass: 86367 86369
 *
 * The rules (DESIGN.md section 7, "Results"): a result or a run is terminal
 * when its status is completed, failed, timeout or cancelled; a run passed
 * when it is completed and its success is JSON true; once the result is
 * terminal every run still not terminal counts as failed; the verdict is
 * passed when the result is completed, has at least one run, and every run
 * passed. The texts are a public interface (README, "`summary`"): scripts and
 * CI test reporters parse them.
 */
#ifndef CEKURAFS_RESULT_H
#define CEKURAFS_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One run of a result. Owned by the result. */
struct result_run {
	uint64_t id;	     /* > 0: its file is runs/<id>.json */
	char *evaluator;     /* scenario id as decimal text, or NULL (null, absent, not an integer) */
	char *name;	     /* scenario_name, or NULL (not a string) */
	char *status;	     /* as received, or NULL (not a string) */
	int success;	     /* 1 true, 0 false, -1 null, absent or not a boolean */
	char *error_message; /* or NULL (null, absent, not a string) */
	char *json;	     /* runs/<id>.json: the run pretty-printed (json_pretty()) */
	size_t json_len;
};

/* A decoded result. Owns everything it points to. */
struct result {
	uint64_t id, agent;
	char *name;	    /* or NULL (null, absent, not a string) */
	char *status;	    /* as received (a string: required) */
	char *success_rate; /* the number's text as received (a string's text), NULL when null or absent */
	int64_t total_runs; /* total_runs_count read as an integer (it is typed as a string), -1 when not */
	struct result_run *runs; /* ascending numeric id, each id once */
	size_t nruns;
	char *failed_reason; /* the first failed_reasons issue's description, or NULL */
	double created_at;   /* epoch seconds (clock_parse_iso), 0 when unreadable */
	char *json;	     /* result.json: the detail pretty-printed */
	size_t json_len;
};

/* Decodes a ResultDetailV2 into *out (zeroed first; result_free() it after a
 * success, nothing to free after a failure). The body must be an object with
 * an integer id > 0, an integer agent > 0 and a string status. runs is an
 * object keyed by run id (the detail), an array (the list), or null or absent
 * for none; each run must be an object, its id its integer "id" > 0, else its
 * key when that is a canonical decimal id; a run id seen twice keeps the
 * first. success_rate is a number, a string, or null. total_runs_count is a
 * string of digits or an integer >= 0 (else -1). failed_reasons is
 * {"issues": [...]}, or the array of issues itself; an issue is an object
 * with a string description, or a string. Other keys, and other types of the
 * optional ones, are ignored. Returns 0, -EPROTO (not JSON, not that shape),
 * -EFBIG (a pretty-printed text would pass JSON_PRETTY_MAX), -ENOMEM. */
int result_decode(const char *body, size_t len, struct result *out);

/* Frees what r owns and zeroes it; r may be NULL, or freed already. */
void result_free(struct result *r);

/* Whether status (NULL is not) is terminal: completed, failed, timeout or cancelled. */
bool result_terminal(const char *status);

enum result_verdict { RESULT_RUNNING, RESULT_PASSED, RESULT_FAILED };

/* running before the result is terminal; passed when it is completed, has at
 * least one run, and every run passed (as many as the larger of the runs
 * received and total_runs); failed otherwise. */
enum result_verdict result_verdict(const struct result *r);

/* What one run of r counts as. */
enum result_run_verdict { RESULT_RUN_PENDING, RESULT_RUN_PASSED, RESULT_RUN_FAILED };
enum result_run_verdict result_run_verdict(const struct result *r, const struct result_run *run);

/* The text of `summary` (and of `wait`), every line always there:
 *
 *   <status>                  one word (see below)
 *   result_id: <id>
 *   name: <name>              one line (control bytes become spaces); "name:" alone when empty
 *   verdict: <running|passed|failed>
 *   runs: <done>/<all>        all: the larger of the runs received and total_runs; done: terminal runs
 *   passed: <runs passed>
 *   failed: <n>               all - passed once terminal, else the terminal runs that did not pass
 *   success_rate: <as received>   "success_rate:" alone when null
 *   run <run_id> <evaluator id or -> <status> <passed|failed|pending> <name>   ascending id
 *
 * A status or a run's name is one word: each run of spaces or control bytes
 * becomes one '_', and an empty or missing one is "-". A new string the
 * caller frees, or NULL when out of memory. */
char *result_summary(const struct result *r);

/* The line of `error` for r, without a newline: "" while running or when
 * passed; for a result whose status is failed, timeout or cancelled
 * "results/<id>: result <status>: <failed_reason>" (": <failed_reason>" left
 * out when there is none); for a completed result with no runs
 * "results/<id>: no runs: nothing was tested"; else "results/<id>: <n> of
 * <all> runs did not pass: <ids>", the ids of the runs received that did not
 * pass, ascending, single spaces (": <ids>" left out when only runs not
 * received are missing). One line whatever the API sent. A new string the
 * caller frees, or NULL when out of memory. */
char *result_error_line(const struct result *r);

/* The text of `junit.xml`: one <testsuite> (name: the result's name, else
 * "result <id>"; tests, failures) with one <testcase> per run in ascending
 * id (name: the run's scenario name, else "-"; classname:
 * "cekura.agent<agent>"), a <failure message="<error_message, else the
 * status>" type="<status>">run <run_id></failure> in each run that did not
 * pass (result_run_verdict() not passed), and <system-err> with the error
 * line when there is one. Well-formed XML 1.0 in UTF-8 whatever the API sent:
 * & < > " ' escaped, control bytes made spaces, bytes that are not UTF-8 made
 * U+FFFD. The caller decides when to show it (DESIGN.md: once terminal). A
 * new string the caller frees, or NULL when out of memory. */
char *result_junit(const struct result *r);

/* The run with this id, or NULL. */
const struct result_run *result_find_run(const struct result *r, uint64_t id);

/* About the bytes r holds (for the cache's bound). */
size_t result_bytes(const struct result *r);

/* ---- an agent's results ---- */

/* What the listing keeps of one result. Owned by the list. */
struct result_entry {
	uint64_t id;	   /* > 0 */
	char *status;	   /* as received, or NULL (not a string) */
	char *name;	   /* or NULL (not a string) */
	double created_at; /* epoch seconds, 0 when unreadable */
};

/* The results of the pages read so far, each id once, in ascending id. */
struct result_list;

/* A new, empty list, or NULL when out of memory. */
struct result_list *result_list_new(void);

/* Frees l and every entry in it (NULL is fine). */
void result_list_free(struct result_list *l);

/* An api_page_fn (api.h): arg is the list. A page is {"count": int or null,
 * "next": url or null, "results": [...]} (count and next may be absent). Of
 * each result it keeps id, status, name and created_at. A result that is not
 * an object or has no integer id > 0 is skipped (counted); an id seen before,
 * on this page or an earlier one, is ignored (the first seen wins). Sets
 * *next (a new string, or NULL when the page has none), *count (-1 when
 * absent or null) and *items (every result of the page, kept or not).
 * Returns 0, -EPROTO when the page is not that shape (nothing of it is then
 * kept), -ENOMEM (what was kept before stays, whole). */
int result_list_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);

/* Adds the result id, or updates it when l has it (a result started here
 * joins the listing; a detail read later brings its status). status and name
 * are copied (NULL is fine). Returns 0 or -ENOMEM (l unchanged). */
int result_list_put(struct result_list *l, uint64_t id, const char *status, const char *name,
		    double created_at);

/* How many results l holds. */
size_t result_list_count(const struct result_list *l);

/* The i-th result in ascending id (i < result_list_count()), or NULL. The
 * last is the newest (results/newest). */
const struct result_entry *result_list_at(const struct result_list *l, size_t i);

/* The result with this id, or NULL. */
const struct result_entry *result_list_find(const struct result_list *l, uint64_t id);

/* Records skipped (not an object, or no integer id > 0). */
size_t result_list_skipped(const struct result_list *l);

/* About the bytes l holds (for the cache's bound). */
size_t result_list_bytes(const struct result_list *l);

#endif
