/* fuzz_result.c - libFuzzer: a result detail (ResultDetailV2) -> decoder ->
 * summary, error line and junit.xml; the same bytes as a page of the results
 * listing (twice: the second changes nothing) and as a page of evaluators ->
 * the `evaluators` text. Nothing the API sends may crash the daemon, and
 * every text keeps its shape whatever it sends: the summary's lines in their
 * order with one-word fields, the error line one line, junit.xml valid UTF-8
 * with no control byte but its newlines and no '<' or '&' that is not markup
 * or an entity, evaluators four fields a line in ascending id. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/evaluators.h"
#include "cekurafs/result.h"
#include "cekurafs/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The summary: 8 lines that start with their keys, then one line per run of
 * six fields "run <id> <evaluator> <status> <verdict> <name>". */
static void check_summary(const struct result *r, const char *text)
{
	static const char *const keys[] = {
		"", "result_id: ", "name:", "verdict: ", "runs: ", "passed: ", "failed: ", "success_rate:"};
	const char *line = text;
	size_t n = 0;

	while(*line) {
		const char *end = strchr(line, '\n');
		size_t spaces = 0;

		if(!end)
			abort();
		for(const char *p = line; p < end; p++) {
			if(TEXT_IS_CONTROL(*p))
				abort();
			spaces += *p == ' ';
		}
		if(n < 8 && strncmp(line, keys[n], strlen(keys[n])) != 0)
			abort();
		if(n == 0 && (spaces != 0 || end == line))
			abort();
		if(n >= 8 && (strncmp(line, "run ", 4) != 0 || spaces != 5))
			abort();
		n++;
		line = end + 1;
	}
	if(n != 8 + r->nruns)
		abort();
}

/* The length of the UTF-8 sequence at s (n bytes left) XML allows, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80		    ? 1
		     : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		     : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		     : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
						    : 0;
	uint32_t cp;

	if(len == 0 || n < len)
		return 0;
	if(len == 1)
		return 1;
	cp = s[0] & (0x7f >> len);
	for(size_t i = 1; i < len; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	   (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/* junit.xml: valid UTF-8, no control byte but '\n', every '&' an entity, and
 * between quotes or between tags no '<' (markup only where this module put it). */
static void check_junit(const char *text)
{
	static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
	static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite ";
	const unsigned char *p = (const unsigned char *)text;
	size_t n = strlen(text);
	bool quoted = false;

	if(strncmp(text, head, sizeof(head) - 1) != 0)
		abort();
	if(n < 13 || strcmp(text + n - 13, "</testsuite>\n") != 0)
		abort();
	while(n > 0) {
		size_t len = utf8_len(p, n);
		bool entity = false;

		if(len == 0 || (TEXT_IS_CONTROL(*p) && *p != '\n'))
			abort();
		if(*p == '&') {
			for(size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
				entity |= strncmp((const char *)p, entities[i], strlen(entities[i])) == 0;
			if(!entity)
				abort();
		}
		if(*p == '"')
			quoted = !quoted;
		if(quoted && *p == '<')
			abort();
		p += len;
		n -= len;
	}
	if(quoted)
		abort();
}

static void check_result(const struct result *r)
{
	char *summary, *error, *junit;

	for(size_t i = 0; i < r->nruns; i++) {
		if(r->runs[i].id == 0 || (i > 0 && r->runs[i].id <= r->runs[i - 1].id))
			abort();
		if(result_find_run(r, r->runs[i].id) != &r->runs[i] || !r->runs[i].json)
			abort();
	}
	summary = result_summary(r);
	error = result_error_line(r);
	junit = result_junit(r);
	if(summary)
		check_summary(r, summary);
	if(error) {
		for(const char *p = error; *p; p++)
			if(TEXT_IS_CONTROL(*p))
				abort();
		if((result_verdict(r) == RESULT_FAILED) != (*error != '\0'))
			abort();
	}
	if(junit)
		check_junit(junit);
	free(summary);
	free(error);
	free(junit);
}

static void check_list(const char *body, size_t size)
{
	struct result_list *l = result_list_new();
	char *next = NULL;
	int64_t count;
	size_t items, n;

	if(!l)
		return;
	if(result_list_page(l, body, size, &next, &count, &items) == 0) {
		free(next);
		n = result_list_count(l);
		if(n > items)
			abort();
		if(result_list_page(l, body, size, &next, &count, &items) != 0 || result_list_count(l) != n)
			abort();
		free(next);
		for(size_t i = 0; i < n; i++)
			if(result_list_find(l, result_list_at(l, i)->id) != result_list_at(l, i) ||
			   (i > 0 && result_list_at(l, i)->id <= result_list_at(l, i - 1)->id))
				abort();
	}
	result_list_free(l);
}

static void check_evaluators(const char *body, size_t size)
{
	struct evaluators *e = evaluators_new();
	char *next = NULL, *text;
	int64_t count;
	size_t items, lines = 0, tabs = 0;

	if(!e)
		return;
	if(evaluators_page(e, body, size, &next, &count, &items) == 0) {
		free(next);
		text = evaluators_render(e, NULL);
		for(const char *p = text; p && *p; p++) {
			if(*p == '\n') {
				if(tabs != 3)
					abort();
				lines++;
				tabs = 0;
			} else if(*p == '\t') {
				tabs++;
			} else if(TEXT_IS_CONTROL(*p)) {
				abort();
			}
		}
		if(text && (tabs != 0 || lines != evaluators_count(e)))
			abort();
		free(text);
	}
	evaluators_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result r;

	if(result_decode((const char *)data, size, &r) == 0) {
		check_result(&r);
		result_free(&r);
	}
	check_list((const char *)data, size);
	check_evaluators((const char *)data, size);
	return 0;
}
