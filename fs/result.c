/* result.c - a test result (ResultDetailV2) decoded and made the texts of
 * summary, error and junit.xml; an agent's results listing (result.h). Pure.
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
 *   $ cat agents/42/results/812/wait >/dev/null || cat agents/42/results/812/error
 *   results/812: 2 of 10 runs did not pass: 86367 86369
 *
 * The API's quirks met here: runs is an object keyed by run id in the detail
 * and an array in the list; the counts are strings; success may be null; ten
 * statuses, four of them terminal; a completed result can hold failed runs.
 * Every text is made one line per value whatever the API sent, and junit.xml
 * well-formed XML whatever bytes it sent.
 */
#include "cekurafs/result.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/ids.h"
#include "cekurafs/json.h"
#include "cekurafs/text.h"

/* Appends a string literal. */
#define ADD(b, literal) text_buf_add((b), (literal), sizeof(literal) - 1)

bool result_terminal(const char *status)
{
	static const char *const terminal[] = {"completed", "failed", "timeout", "cancelled"};

	for(size_t i = 0; status && i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if(strcmp(status, terminal[i]) == 0)
			return true;
	return false;
}

/* ---- decoding ---- */

static void run_free(struct result_run *run)
{
	free(run->evaluator);
	free(run->name);
	free(run->status);
	free(run->error_message);
	free(run->json);
	memset(run, 0, sizeof(*run));
}

void result_free(struct result *r)
{
	if(!r)
		return;
	for(size_t i = 0; i < r->nruns; i++)
		run_free(&r->runs[i]);
	free(r->runs);
	free(r->name);
	free(r->status);
	free(r->success_rate);
	free(r->failed_reason);
	free(r->json);
	memset(r, 0, sizeof(*r));
}

/* A string value into *out, NULL for any other. 0 or -ENOMEM. */
static int optional_string(const struct json_doc *d, int tok, char **out)
{
	int rc;

	*out = NULL;
	if(json_type(d, tok) != JSON_STRING)
		return 0;
	rc = json_string(d, tok, out);
	return rc == -EPROTO ? 0 : rc;
}

/* Token tok's text as sent (a string's without its quotes). 0 or -ENOMEM. */
static int span_copy(const struct json_doc *d, int tok, char **out)
{
	size_t start, len;

	json_span(d, tok, &start, &len);
	*out = strndup(d->text + start, len);
	return *out ? 0 : -ENOMEM;
}

/* The integer id > 0 of token tok, or 0. */
static uint64_t positive_int(const struct json_doc *d, int tok)
{
	int64_t v;

	return json_int(d, tok, &v) == 0 && v > 0 ? (uint64_t)v : 0;
}

/* A count sent as a string ("10") or a number: its value, -1 when it does
 * not read as an integer >= 0. 0 or -ENOMEM. */
static int decode_count(const struct json_doc *d, int tok, int64_t *out)
{
	char *s = NULL, *end;
	long long v;
	int64_t n;
	int rc;

	*out = -1;
	if(json_int(d, tok, &n) == 0) {
		*out = n >= 0 ? n : -1;
		return 0;
	}
	rc = optional_string(d, tok, &s);
	if(rc != 0 || !s)
		return rc;
	errno = 0;
	v = strtoll(s, &end, 10);
	if(s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0)
		*out = v;
	free(s);
	return 0;
}

/* success_rate: a number's text, a string's, or NULL. 0 or -ENOMEM. */
static int decode_rate(const struct json_doc *d, int tok, char **out)
{
	*out = NULL;
	if(json_type(d, tok) == JSON_NUMBER)
		return span_copy(d, tok, out);
	return optional_string(d, tok, out);
}

/* The description of the first issue of failed_reasons ({"issues": [...]} or
 * the array itself; an issue an object with a description, or a string). */
static int decode_reason(const struct json_doc *d, int tok, char **out)
{
	int issues = json_type(d, tok) == JSON_ARRAY ? tok : json_find(d, tok, "issues"), first;

	*out = NULL;
	if(json_type(d, issues) != JSON_ARRAY || json_size(d, issues) == 0)
		return 0;
	first = issues + 1;
	if(json_type(d, first) == JSON_OBJECT)
		first = json_find(d, first, "description");
	return optional_string(d, first, out);
}

/* The pretty-printed text of object tok. 0, -EFBIG, -ENOMEM. */
static int pretty(const struct json_doc *d, int tok, char **out, size_t *len)
{
	size_t start, n;

	json_span(d, tok, &start, &n);
	return json_pretty(d->text + start, n, out, len);
}

/* Run rec (key: its key in an object of runs, or -1) into *run. 0, -EPROTO,
 * -EFBIG, -ENOMEM (*run then empty). */
static int decode_run(const struct json_doc *d, int key, int rec, struct result_run *run)
{
	size_t start, len;
	int tok, rc;

	memset(run, 0, sizeof(*run));
	if(json_type(d, rec) != JSON_OBJECT)
		return -EPROTO;
	run->id = positive_int(d, json_find(d, rec, "id"));
	if(run->id == 0 && key >= 0) {
		json_span(d, key, &start, &len);
		if(!ids_parse_agent(d->text + start, len, &run->id))
			run->id = 0;
	}
	if(run->id == 0)
		return -EPROTO;
	run->success = -1;
	tok = json_find(d, rec, "success");
	if(json_type(d, tok) == JSON_BOOL) {
		json_span(d, tok, &start, &len);
		run->success = d->text[start] == 't';
	}
	tok = json_find(d, rec, "scenario");
	rc = positive_int(d, tok) ? span_copy(d, tok, &run->evaluator) : 0;
	if(rc == 0)
		rc = optional_string(d, json_find(d, rec, "scenario_name"), &run->name);
	if(rc == 0)
		rc = optional_string(d, json_find(d, rec, "status"), &run->status);
	if(rc == 0)
		rc = optional_string(d, json_find(d, rec, "error_message"), &run->error_message);
	if(rc == 0)
		rc = pretty(d, rec, &run->json, &run->json_len);
	if(rc != 0)
		run_free(run);
	return rc;
}

/* Ascending id; for one id, the one received first (lower address) first. */
static int by_id_then_place(const void *x, const void *y)
{
	const struct result_run *a = *(const struct result_run *const *)x;
	const struct result_run *b = *(const struct result_run *const *)y;

	if(a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a < b ? -1 : a > b ? 1 : 0;
}

/* r->runs[0..r->nruns) in ascending id, a repeated id's later runs freed. 0 or -ENOMEM. */
static int sort_runs(struct result *r)
{
	struct result_run **order, *runs;
	size_t n = 0;

	if(r->nruns < 2)
		return 0;
	order = calloc(r->nruns, sizeof(*order));
	runs = calloc(r->nruns, sizeof(*runs));
	if(!order || !runs) {
		free(order);
		free(runs);
		return -ENOMEM;
	}
	for(size_t i = 0; i < r->nruns; i++)
		order[i] = &r->runs[i];
	qsort(order, r->nruns, sizeof(*order), by_id_then_place);
	for(size_t i = 0; i < r->nruns; i++) {
		if(n > 0 && runs[n - 1].id == order[i]->id)
			run_free(order[i]);
		else
			runs[n++] = *order[i];
	}
	free(order);
	free(r->runs);
	r->runs = runs;
	r->nruns = n;
	return 0;
}

/* The runs (an object keyed by id, an array, null or absent) into r. 0,
 * -EPROTO, -EFBIG, -ENOMEM. */
static int decode_runs(const struct json_doc *d, int tok, struct result *r)
{
	enum json_type type = json_type(d, tok);
	int n, el = tok + 1, rc = 0;

	if(type == JSON_NONE || type == JSON_NULL)
		return 0;
	if(type != JSON_OBJECT && type != JSON_ARRAY)
		return -EPROTO;
	n = json_size(d, tok);
	if(n == 0)
		return 0;
	r->runs = calloc((size_t)n, sizeof(*r->runs));
	if(!r->runs)
		return -ENOMEM;
	for(int i = 0; i < n && rc == 0; i++) {
		int key = type == JSON_OBJECT ? el : -1, rec = type == JSON_OBJECT ? el + 1 : el;

		rc = decode_run(d, key, rec, &r->runs[i]);
		if(rc == 0)
			r->nruns++;
		el = json_next(d, rec);
	}
	return rc == 0 ? sort_runs(r) : rc;
}

int result_decode(const char *body, size_t len, struct result *out)
{
	struct json_doc d;
	char *created = NULL;
	int rc, status;

	memset(out, 0, sizeof(*out));
	out->total_runs = -1;
	rc = json_parse(&d, body ? body : "", body ? len : 0);
	if(rc != 0)
		return rc;
	out->id = positive_int(&d, json_find(&d, 0, "id"));
	out->agent = positive_int(&d, json_find(&d, 0, "agent"));
	status = json_find(&d, 0, "status");
	rc = -EPROTO;
	if(json_type(&d, 0) != JSON_OBJECT || !out->id || !out->agent || json_type(&d, status) != JSON_STRING)
		goto out;
	rc = json_string(&d, status, &out->status);
	if(rc == 0)
		rc = optional_string(&d, json_find(&d, 0, "name"), &out->name);
	if(rc == 0)
		rc = decode_rate(&d, json_find(&d, 0, "success_rate"), &out->success_rate);
	if(rc == 0)
		rc = decode_count(&d, json_find(&d, 0, "total_runs_count"), &out->total_runs);
	if(rc == 0)
		rc = decode_reason(&d, json_find(&d, 0, "failed_reasons"), &out->failed_reason);
	if(rc == 0)
		rc = optional_string(&d, json_find(&d, 0, "created_at"), &created);
	if(rc == 0 && created && clock_parse_iso(created, &out->created_at) != 0)
		out->created_at = 0;
	if(rc == 0)
		rc = decode_runs(&d, json_find(&d, 0, "runs"), out);
	if(rc == 0)
		rc = json_pretty(body, len, &out->json, &out->json_len);
out:
	free(created);
	json_free(&d);
	if(rc != 0)
		result_free(out);
	return rc;
}

const struct result_run *result_find_run(const struct result *r, uint64_t id)
{
	size_t lo = 0, hi = r->nruns;

	while(lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if(r->runs[mid].id == id)
			return &r->runs[mid];
		if(r->runs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t result_bytes(const struct result *r)
{
	size_t bytes = sizeof(*r) + r->nruns * sizeof(*r->runs) + r->json_len + 1;
	const char *texts[] = {r->name, r->status, r->success_rate, r->failed_reason};

	for(size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		bytes += texts[i] ? strlen(texts[i]) + 1 : 0;
	for(size_t i = 0; i < r->nruns; i++) {
		const struct result_run *run = &r->runs[i];
		const char *rt[] = {run->evaluator, run->name, run->status, run->error_message};

		bytes += run->json_len + 1;
		for(size_t t = 0; t < sizeof(rt) / sizeof(rt[0]); t++)
			bytes += rt[t] ? strlen(rt[t]) + 1 : 0;
	}
	return bytes;
}

/* ---- verdicts and counts ---- */

static bool run_passed(const struct result_run *run)
{
	return run->status && strcmp(run->status, "completed") == 0 && run->success == 1;
}

enum result_run_verdict result_run_verdict(const struct result *r, const struct result_run *run)
{
	if(run_passed(run))
		return RESULT_RUN_PASSED;
	if(result_terminal(run->status) || result_terminal(r->status))
		return RESULT_RUN_FAILED;
	return RESULT_RUN_PENDING;
}

struct counts {
	uint64_t all, done, passed, failed;
};

static struct counts tally(const struct result *r)
{
	struct counts c = {0};
	uint64_t not_passed_done = 0;

	c.all = r->nruns;
	if(r->total_runs >= 0 && (uint64_t)r->total_runs > c.all)
		c.all = (uint64_t)r->total_runs;
	for(size_t i = 0; i < r->nruns; i++) {
		bool done = result_terminal(r->runs[i].status), passed = run_passed(&r->runs[i]);

		c.done += done;
		c.passed += passed;
		not_passed_done += done && !passed;
	}
	c.failed = result_terminal(r->status) ? c.all - c.passed : not_passed_done;
	return c;
}

enum result_verdict result_verdict(const struct result *r)
{
	struct counts c;

	if(!result_terminal(r->status))
		return RESULT_RUNNING;
	c = tally(r);
	if(strcmp(r->status, "completed") == 0 && r->nruns > 0 && c.passed == c.all)
		return RESULT_PASSED;
	return RESULT_FAILED;
}

/* ---- the texts ---- */

static bool is_blank(char c)
{
	return c == ' ' || TEXT_IS_CONTROL(c);
}

/* Appends s as one word: each run of spaces or control bytes one '_', "-" when empty or NULL. */
static void add_word(struct text_buf *b, const char *s)
{
	if(!s || !*s) {
		ADD(b, "-");
		return;
	}
	while(*s) {
		size_t run = 0;

		while(s[run] && !is_blank(s[run]))
			run++;
		text_buf_add(b, s, run);
		s += run;
		if(*s) {
			ADD(b, "_");
			while(*s && is_blank(*s))
				s++;
		}
	}
}

static const char *const verdict_word[] = {
	[RESULT_RUNNING] = "running",
	[RESULT_PASSED] = "passed",
	[RESULT_FAILED] = "failed",
};

static const char *const run_verdict_word[] = {
	[RESULT_RUN_PENDING] = "pending",
	[RESULT_RUN_PASSED] = "passed",
	[RESULT_RUN_FAILED] = "failed",
};

char *result_summary(const struct result *r)
{
	struct text_buf b = {0};
	struct counts c = tally(r);

	add_word(&b, r->status);
	text_buf_printf(&b, "\nresult_id: %llu\nname:", (unsigned long long)r->id);
	if(r->name && *r->name)
		ADD(&b, " ");
	text_buf_add_line(&b, r->name);
	text_buf_printf(&b, "\nverdict: %s\nruns: %llu/%llu\npassed: %llu\nfailed: %llu\nsuccess_rate:",
			verdict_word[result_verdict(r)], (unsigned long long)c.done,
			(unsigned long long)c.all, (unsigned long long)c.passed,
			(unsigned long long)c.failed);
	if(r->success_rate && *r->success_rate)
		ADD(&b, " ");
	text_buf_add_line(&b, r->success_rate);
	ADD(&b, "\n");
	for(size_t i = 0; i < r->nruns; i++) {
		const struct result_run *run = &r->runs[i];

		text_buf_printf(&b, "run %llu %s ", (unsigned long long)run->id,
				run->evaluator ? run->evaluator : "-");
		add_word(&b, run->status);
		text_buf_printf(&b, " %s ", run_verdict_word[result_run_verdict(r, run)]);
		add_word(&b, run->name);
		ADD(&b, "\n");
	}
	return text_buf_take(&b, NULL);
}

char *result_error_line(const struct result *r)
{
	struct text_buf b = {0};
	enum result_verdict v = result_verdict(r);
	struct counts c;
	const char *sep = ": ";

	if(v != RESULT_FAILED)
		return strdup("");
	text_buf_printf(&b, "results/%llu: ", (unsigned long long)r->id);
	if(strcmp(r->status, "completed") != 0) {
		ADD(&b, "result ");
		add_word(&b, r->status);
		if(r->failed_reason && *r->failed_reason) {
			ADD(&b, ": ");
			text_buf_add_line(&b, r->failed_reason);
		}
	} else if(r->nruns == 0) {
		text_buf_printf(&b, "no runs: nothing was tested");
	} else {
		c = tally(r);
		text_buf_printf(&b, "%llu of %llu runs did not pass", (unsigned long long)(c.all - c.passed),
				(unsigned long long)c.all);
		for(size_t i = 0; i < r->nruns; i++) {
			if(run_passed(&r->runs[i]))
				continue;
			text_buf_printf(&b, "%s%llu", sep, (unsigned long long)r->runs[i].id);
			sep = " ";
		}
	}
	return text_buf_take(&b, NULL);
}

/* ---- junit.xml ---- */

/* The length of the UTF-8 sequence XML 1.0 allows at s (n bytes left), or 0
 * when it is not one (bad or overlong bytes, a surrogate, U+FFFE, U+FFFF). */
static size_t xml_char(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if(s[0] < 0x80)
		return 1;
	if(s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if(s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if(s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if(s[0] == 0xe0)
		lo = 0xa0;
	else if(s[0] == 0xed)
		hi = 0x9f;
	else if(s[0] == 0xf0)
		lo = 0x90;
	else if(s[0] == 0xf4)
		hi = 0x8f;
	if(n < len || s[1] < lo || s[1] > hi)
		return 0;
	for(size_t i = 2; i < len; i++)
		if(s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	if(len == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
		return 0;
	return len;
}

/* Appends s (NULL or empty: fallback) escaped for XML text and attribute values. */
static void add_xml(struct text_buf *b, const char *s, const char *fallback)
{
	const unsigned char *p;
	size_t n;

	if(!s || !*s)
		s = fallback;
	p = (const unsigned char *)s;
	n = strlen(s);
	while(n > 0) {
		size_t len = xml_char(p, n);

		if(len == 0) {
			ADD(b, "\xef\xbf\xbd");
			len = 1;
		} else if(TEXT_IS_CONTROL(*p)) {
			ADD(b, " ");
		} else if(*p == '&') {
			ADD(b, "&amp;");
		} else if(*p == '<') {
			ADD(b, "&lt;");
		} else if(*p == '>') {
			ADD(b, "&gt;");
		} else if(*p == '"') {
			ADD(b, "&quot;");
		} else if(*p == '\'') {
			ADD(b, "&apos;");
		} else {
			text_buf_add(b, (const char *)p, len);
		}
		p += len;
		n -= len;
	}
}

char *result_junit(const struct result *r)
{
	struct text_buf b = {0};
	char *error = result_error_line(r), fallback[40];
	size_t failures = 0;

	if(!error)
		return NULL;
	for(size_t i = 0; i < r->nruns; i++)
		failures += result_run_verdict(r, &r->runs[i]) != RESULT_RUN_PASSED;
	snprintf(fallback, sizeof(fallback), "result %llu", (unsigned long long)r->id);
	ADD(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"");
	add_xml(&b, r->name, fallback);
	text_buf_printf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n", r->nruns, failures);
	for(size_t i = 0; i < r->nruns; i++) {
		const struct result_run *run = &r->runs[i];
		bool passed = result_run_verdict(r, run) == RESULT_RUN_PASSED;

		ADD(&b, "  <testcase name=\"");
		add_xml(&b, run->name, "-");
		text_buf_printf(&b, "\" classname=\"cekura.agent%llu\"%s\n", (unsigned long long)r->agent,
				passed ? "/>" : ">");
		if(passed)
			continue;
		ADD(&b, "    <failure message=\"");
		add_xml(&b, run->error_message && *run->error_message ? run->error_message : run->status,
			"-");
		ADD(&b, "\" type=\"");
		add_xml(&b, run->status, "-");
		text_buf_printf(&b, "\">run %llu</failure>\n  </testcase>\n", (unsigned long long)run->id);
	}
	if(*error) {
		ADD(&b, "  <system-err>");
		add_xml(&b, error, "");
		ADD(&b, "</system-err>\n");
	}
	ADD(&b, "</testsuite>\n");
	free(error);
	return text_buf_take(&b, NULL);
}

/* ---- an agent's results ---- */

struct result_list {
	struct result_entry *v; /* owned, ascending id, each id once */
	size_t n;
	size_t skipped;
};

static void entry_free(struct result_entry *e)
{
	free(e->status);
	free(e->name);
	memset(e, 0, sizeof(*e));
}

struct result_list *result_list_new(void)
{
	return calloc(1, sizeof(struct result_list));
}

void result_list_free(struct result_list *l)
{
	if(!l)
		return;
	for(size_t i = 0; i < l->n; i++)
		entry_free(&l->v[i]);
	free(l->v);
	free(l);
}

size_t result_list_count(const struct result_list *l)
{
	return l->n;
}

const struct result_entry *result_list_at(const struct result_list *l, size_t i)
{
	return i < l->n ? &l->v[i] : NULL;
}

/* Where id is in l, or where it would go. */
static size_t list_slot(const struct result_list *l, uint64_t id)
{
	size_t lo = 0, hi = l->n;

	while(lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if(l->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct result_entry *result_list_find(const struct result_list *l, uint64_t id)
{
	size_t i = list_slot(l, id);

	return i < l->n && l->v[i].id == id ? &l->v[i] : NULL;
}

size_t result_list_skipped(const struct result_list *l)
{
	return l->skipped;
}

size_t result_list_bytes(const struct result_list *l)
{
	size_t bytes = sizeof(*l) + l->n * sizeof(*l->v);

	for(size_t i = 0; i < l->n; i++)
		bytes += (l->v[i].status ? strlen(l->v[i].status) + 1 : 0) +
			 (l->v[i].name ? strlen(l->v[i].name) + 1 : 0);
	return bytes;
}

/* A copy of s (NULL stays NULL) into *out. 0 or -ENOMEM. */
static int copy(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

int result_list_put(struct result_list *l, uint64_t id, const char *status, const char *name,
		    double created_at)
{
	struct result_entry e = {.id = id, .created_at = created_at}, *v;
	size_t i = list_slot(l, id);

	if(copy(status, &e.status) != 0 || copy(name, &e.name) != 0) {
		entry_free(&e);
		return -ENOMEM;
	}
	if(i < l->n && l->v[i].id == id) {
		struct result_entry *old = &l->v[i];

		if(!e.status) {
			e.status = old->status;
			old->status = NULL;
		}
		if(!e.name) {
			e.name = old->name;
			old->name = NULL;
		}
		if(e.created_at == 0)
			e.created_at = old->created_at;
		entry_free(old);
		*old = e;
		return 0;
	}
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if(!v) {
		entry_free(&e);
		return -ENOMEM;
	}
	l->v = v;
	memmove(&v[i + 1], &v[i], (l->n - i) * sizeof(*v));
	v[i] = e;
	l->n++;
	return 0;
}

/* Result rec of a page (an object with id > 0) into *e. 0 or -ENOMEM (*e then empty). */
static int decode_entry(const struct json_doc *d, int rec, uint64_t id, struct result_entry *e)
{
	char *created = NULL;
	int rc;

	memset(e, 0, sizeof(*e));
	e->id = id;
	rc = optional_string(d, json_find(d, rec, "status"), &e->status);
	if(rc == 0)
		rc = optional_string(d, json_find(d, rec, "name"), &e->name);
	if(rc == 0)
		rc = optional_string(d, json_find(d, rec, "created_at"), &created);
	if(rc == 0 && created && clock_parse_iso(created, &e->created_at) != 0)
		e->created_at = 0;
	free(created);
	if(rc != 0)
		entry_free(e);
	return rc;
}

static void drop_result_entry(void *x)
{
	entry_free(x);
}

/* Merges the page's new records add[0..k) (none of them in l) into l: each
 * id once, the first on the page kept, the others freed. Takes what add holds
 * either way. Returns 0 or -ENOMEM (l unchanged). */
static int merge(struct result_list *l, struct result_entry *add, size_t k)
{
	return ids_merge((void **)&l->v, &l->n, add, k, sizeof(*add), offsetof(struct result_entry, id),
			 drop_result_entry);
}

int result_list_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items)
{
	struct result_list *l = arg;
	struct result_entry *add = NULL;
	size_t k = 0, skipped = 0;
	struct json_doc d;
	int rc, results, n = 0, rec;

	*next = NULL;
	*count = -1;
	*items = 0;
	rc = json_parse(&d, body, len);
	if(rc != 0)
		return rc;
	rc = json_page(&d, &results, next, count);
	if(rc == 0)
		n = json_size(&d, results);
	if(rc == 0 && n > 0) {
		add = calloc((size_t)n, sizeof(*add));
		if(!add)
			rc = -ENOMEM;
	}
	rec = results + 1;
	for(int i = 0; i < n && rc == 0; i++, rec = json_next(&d, rec)) {
		uint64_t id =
			json_type(&d, rec) == JSON_OBJECT ? positive_int(&d, json_find(&d, rec, "id")) : 0;

		if(id == 0)
			skipped++;
		else if(!result_list_find(l, id))
			rc = decode_entry(&d, rec, id, &add[k++]);
	}
	json_free(&d);
	if(rc == 0)
		rc = merge(l, add, k);
	else
		for(size_t a = 0; a < k; a++)
			entry_free(&add[a]);
	free(add);
	if(rc != 0) {
		free(*next);
		*next = NULL;
		*count = -1;
		return rc;
	}
	l->skipped += skipped;
	*items = (size_t)n;
	return 0;
}
