/* fuzz_run_request.c - libFuzzer: what a user writes to `run` -> the request
 * -> its POST body. Whatever is written: EINVAL with one line of words, or a
 * request whose body is one JSON object with this agent's agent_id; a write
 * not at offset 0 is always refused. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/json.h"
#include "cekurafs/run_request.h"
#include "cekurafs/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AGENT 42

/* One line, not empty, no control byte. */
static void check_why(const char *why)
{
	if(!*why)
		abort();
	for(const char *p = why; *p; p++)
		if(TEXT_IS_CONTROL(*p))
			abort();
}

/* What a request made from words holds. */
static void check_words(const struct run_request *r)
{
	if(r->frequency < 0 || r->frequency > RUN_MAX_OPTION || r->concurrency < 0 ||
	   r->concurrency > RUN_MAX_OPTION || r->json)
		abort();
	if(r->selector == RUN_IDS && r->nids == 0)
		abort();
	for(size_t i = 0; i < r->nids; i++)
		for(size_t j = i + 1; j < r->nids && j < i + 64; j++)
			if(r->ids[i] == r->ids[j] || r->ids[i] == 0)
				abort();
	if(r->selector == RUN_TAGS && r->ntags == 0)
		abort();
	for(size_t i = 0; i < r->ntags; i++)
		if(!*r->tags[i] || strpbrk(r->tags[i], " \t\n"))
			abort();
	if(r->selector == RUN_FOLDER && (!r->folder || !*r->folder || strpbrk(r->folder, " \t\n")))
		abort();
	if(r->name && (!*r->name || strchr(r->name, '\n') || strchr(" \t", r->name[strlen(r->name) - 1])))
		abort();
}

/* The body is one JSON object whose first agent_id is AGENT. */
static void check_body(const char *body)
{
	struct json_doc d;
	int64_t agent;

	if(json_parse(&d, body, strlen(body)) != 0)
		abort();
	if(json_type(&d, 0) != JSON_OBJECT || json_int(&d, json_find(&d, 0, "agent_id"), &agent) != 0 ||
	   agent != AGENT)
		abort();
	json_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t all[] = {5, 3};
	const char *buf = (const char *)data;
	struct run_request r;
	char why[200], *body = NULL;
	int rc;

	if(run_request_parse(buf, size, 1, &r, why, sizeof(why)) != -EINVAL)
		abort();
	rc = run_request_parse(buf, size, 0, &r, why, sizeof(why));
	if(rc == -EINVAL) {
		check_why(why);
		return 0;
	}
	if(rc != 0 || !r.mode || *why)
		abort();
	if(r.selector == RUN_JSON) {
		if(!r.json || r.json[0] != '{')
			abort();
	} else {
		check_words(&r);
	}
	rc = run_request_body(&r, AGENT, 7, all, 2, &body, why, sizeof(why));
	if(rc == 0)
		check_body(body);
	else if(rc != -EINVAL || r.selector != RUN_JSON || body)
		abort(); /* only an object's agent_id may refuse it */
	else
		check_why(why);
	if(run_request_conversations(&r, 3) < 3)
		abort();
	free(body);
	run_request_free(&r);
	return 0;
}
