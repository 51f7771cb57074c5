/* run_request.h - the line written to an agent's `run` file, parsed into a
 * request, and the POST body made from it. Pure.
 *
 *   $ echo 'voice 101 102 frequency=2 name=Release 7' > agents/42/run
 *     POST /test_framework/v2/scenarios/run_scenarios/
 *     {"agent_id": 42, "scenarios": [101, 102], "frequency": 2, "name": "Release 7"}
 *   $ echo 'text tag=smoke tag=a,b' > agents/42/run
 *     {"agent_id": 42, "tags": ["smoke", "a,b"]}
 *   $ echo 'text 042' > agents/42/run
 *   bash: echo: write error: Invalid argument
 *   $ cat agents/42/error
 *   run: unknown word "042" in word 2
 *
 * The grammar is DESIGN.md's "Evaluators and `run`": a mode word (a table:
 * `text`, `voice`), then either selector and option words or one JSON object.
 * An error's words are "<what> in word <n>", the mode word being word 1 and
 * a JSON object word 2 (whatever it holds); the caller shows them after
 * "run: ". The cost guard's count is here; max_runs is the caller's.
 */
#ifndef CEKURAFS_RUN_REQUEST_H
#define CEKURAFS_RUN_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most bytes the one write may have. */
#define RUN_MAX_WRITE 65536

/* Largest frequency= and concurrency= a line may give. */
#define RUN_MAX_OPTION 1000

/* A mode: its word, and the path of the endpoint it POSTs to. */
struct run_mode {
	const char *word;
	const char *path;
};

/* Which evaluators a request runs. */
enum run_selector {
	RUN_IDS,    /* evaluator ids written */
	RUN_ALL,    /* `all`: the agent's evaluators, listed by the caller */
	RUN_TAGS,   /* `tag=` words */
	RUN_FOLDER, /* `folder=` */
	RUN_JSON,   /* one JSON object: the body, agent_id aside */
};

/* A parsed line. Owns ids, tags (and each tag), folder, name and json. */
struct run_request {
	const struct run_mode *mode; /* a row of the table, never NULL after a success */
	enum run_selector selector;
	uint64_t *ids; /* RUN_IDS: canonical decimal ids, each once, in the order first written */
	size_t nids;
	char **tags; /* RUN_TAGS: verbatim (commas included), in the order written, repeats kept */
	size_t ntags;
	char *folder; /* RUN_FOLDER: verbatim */
	/* Words: 0 when not given, else 1 to RUN_MAX_OPTION. RUN_JSON: frequency
	 * is the object's (any positive integer; 0 when absent or null), for the
	 * count; concurrency is 0. */
	int64_t frequency, concurrency;
	char *name; /* `name=`: the rest of the line, trailing spaces and tabs removed; NULL: not given */
	char *json; /* RUN_JSON: the object's text as written, from '{' to its '}' */
	/* RUN_JSON, for the count: the elements of "personality_ids" (an array;
	 * else 0) plus one for an integer "personality_id" (merged into them by
	 * the API); the same of "test_profile_ids" and "test_profile_id"; and the
	 * elements of "scenarios" when it is an array of integers only (else 0:
	 * the object selects by tags, folder_path, or a folder path in
	 * "scenarios", and the caller counts as for those). 0 for words. */
	size_t personalities, test_profiles, json_scenarios;
};

/* Parses the one write buf[0..size) made at offset off (it need not end with
 * a NUL; NUL bytes in it are refused) into *out (zeroed first;
 * run_request_free() it after a success, nothing to free after a failure).
 *
 * The input: optional spaces or tabs, the mode word (up to a space, tab, CR or
 * LF), then either one JSON object (after any whitespace, newlines included;
 * it may span lines and only whitespace may follow it) or words separated by
 * spaces or tabs, and an optional final newline (a CR before it is a control
 * character). A word is a canonical decimal id (ids_parse_agent()),
 * `all`, or key=value split at the first '=': tag, folder, frequency,
 * concurrency, name. `name=` takes the rest of the line (tabs kept), so it is
 * the last word. Exactly one kind of selector (ids, all, tags, folder).
 *
 * Returns 0 (why set to ""), -EINVAL with why set to the reason (one line,
 * a word in it quoted and escaped as a JSON string, cut after 40 bytes):
 *   "write at offset <off>, not 0", "more than 65536 bytes in one write",
 *   "no mode in word 1", "unknown mode \"chat\" in word 1",
 *   "NUL byte in word <n>", "newline in word <n>", "control character in word <n>",
 *   "unknown word \"042\" in word <n>", "empty value in word <n>",
 *   "selectors of two kinds in word <n>", "no selector in word <n>" (n: the
 *   word after the last), "<all|folder|frequency|concurrency> given twice in word <n>",
 *   "<frequency|concurrency> must be 1 to 1000 in word <n>",
 *   "invalid JSON object in word 2", "text after the JSON object in word 3",
 *   "assistant_id not allowed in word 2",
 *   "frequency must be a positive integer in word 2";
 * or -ENOMEM. why may be NULL when why_size is 0. In the JSON form a member's
 * name is read decoded (\u escapes) and every repeat of it is seen, as the
 * API's parser would. */
int run_request_parse(const char *buf, size_t size, off_t off, struct run_request *out, char *why,
		      size_t why_size);

/* Frees what r owns and zeroes it; r may be NULL, or freed already. */
void run_request_free(struct run_request *r);

/* The POST body of r for agent, a new string in *body the caller frees:
 *
 *   {"agent_id": 42, "scenarios": [101, 102]}            RUN_IDS; RUN_ALL with all_ids
 *   {"agent_id": 42, "tags": ["smoke", "a,b"]}           RUN_TAGS
 *   {"agent_id": 42, "folder_path": "Sales", "project_id": 7}   RUN_FOLDER
 *
 * then ", \"frequency\": n", ", \"concurrency_limit\": n", ", \"name\": \"...\""
 * when given, and "}". project: the agent's project id, sent with folder_path
 * when positive (else left out, and the API says what it needs). all_ids[0..nall):
 * the agent's evaluators for RUN_ALL, in the order given.
 *
 * RUN_JSON: the object as written when every "agent_id" in it equals agent;
 * when it has none, the same text with "agent_id": <agent> made its first
 * member. Nothing else is read or changed.
 *
 * Returns 0 (why ""), -EINVAL with why: "no evaluators" (RUN_ALL, nall 0),
 * "agent_id <x> is not this agent's in word 2" (x as written, cut, made one
 * line), "assistant_id not allowed in word 2", "invalid JSON object in word
 * 2" (r->json not an object: only when r was not made by run_request_parse());
 * or -ENOMEM. */
int run_request_body(const struct run_request *r, uint64_t agent, int64_t project, const uint64_t *all_ids,
		     size_t nall, char **body, char *why, size_t why_size);

/* The conversations r would start: evaluators x frequency (1 when 0) x
 * max(1, personalities) x max(1, test_profiles), saturating at UINT64_MAX.
 * evaluators: what the caller knows; nids for RUN_IDS, nall for RUN_ALL,
 * json_scenarios for RUN_JSON when not 0, else the count of the agent's
 * evaluators the selection may take (the listing's). */
uint64_t run_request_conversations(const struct run_request *r, uint64_t evaluators);

#endif
