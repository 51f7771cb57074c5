/* test_history.c - an agent's versions as files: the pages of GET
 * /aiagents/{id}/history/ through the bounded builder (ids deduplicated across
 * pages, records without an integer history_id skipped, the newest
 * HISTORY_MAX kept while no more are ever held), the order (date descending,
 * ties the larger id first), the five texts of a version (date, change,
 * reason, user, version), its configuration by the VERSION shape whatever
 * form its collections came in, and the ISO 8601 dates the order is made of
 * (clock_parse_iso).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cekurafs/clock.h"
#include "cekurafs/history.h"

/* api.h's api_page_fn, as the spec writes it: history_page() must be one
 * (history is below api, so it cannot include api.h to say so). */
typedef int spec_page_fn(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items);
static spec_page_fn *const history_page_is_a_page_fn = history_page;

/* ---- helpers ---- */

static void assert_text(const struct config_text *t, const char *want)
{
	assert_non_null(t);
	assert_non_null(t->text);
	if(strcmp(t->text, want) != 0)
		fail_msg("text is\n'%s'\nwant\n'%s'", t->text, want);
	assert_int_equal(t->len, strlen(want));
}

/* history_page() of a page whose results are the given text (a JSON array's
 * inside), with count and next; asserts it takes it. */
static void page(struct history_builder *b, const char *results)
{
	char *body, *next = (char *)"unset";
	int64_t count = -2;
	size_t items = 12345;
	int rc;

	assert_true(asprintf(&body, "{\"count\": 3, \"next\": null, \"previous\": null, \"results\": [%s]}",
			     results) > 0);
	rc = history_page(b, body, strlen(body), &next, &count, &items);
	if(rc != 0)
		fail_msg("history_page(%s) = %d, want 0", body, rc);
	assert_null(next);
	assert_int_equal(count, 3);
	free(body);
}

static void build(struct history_builder *b, struct history *h)
{
	int rc = history_build(b, h);

	if(rc != 0)
		fail_msg("history_build() = %d, want 0", rc);
}

/* The history of one page of results. */
static void history_of(const char *results, struct history *h)
{
	struct history_builder *b = history_builder_new();

	assert_non_null(b);
	page(b, results);
	build(b, h);
	history_builder_free(b);
}

/* A record: history_id id, history_date date (a JSON value, or NULL: none). */
static char *record(long long id, const char *date)
{
	char *s;

	if(date)
		assert_true(asprintf(&s,
				     "{\"history_id\": %lld, \"history_date\": %s, \"history_type\": \"~\", "
				     "\"agent_name\": \"v%lld\"}",
				     id, date, id) > 0);
	else
		assert_true(asprintf(&s, "{\"history_id\": %lld, \"agent_name\": \"v%lld\"}", id, id) > 0);
	return s;
}

/* A date n seconds after 2026-01-01T00:00:00Z, as a JSON string. */
static const char *date_at(long n, char *buf, size_t size)
{
	time_t t = 1767225600 + n;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	return buf;
}

/* The ids of h, newest first, as "a b c". */
static char *ids_of(const struct history *h)
{
	size_t len = 0;
	char *s = malloc(h->n * 24 + 1);

	assert_non_null(s);
	s[0] = '\0';
	for(size_t i = 0; i < h->n; i++)
		len += (size_t)sprintf(s + len, "%s%llu", i ? " " : "", (unsigned long long)h->v[i].id);
	return s;
}

static void assert_ids(const struct history *h, const char *want)
{
	char *got = ids_of(h);

	if(strcmp(got, want) != 0)
		fail_msg("versions are '%s', want '%s'", got, want);
	free(got);
}

/* ---- the five texts of a version ---- */

/* A record of AIAgentHistory with every key, its collections as arrays. */
#define FULL_RECORD                                                                                          \
	"{\"history_id\": 42001, \"history_date\": \"2026-05-01T09:00:00.123456Z\", \"history_type\": "      \
	"\"+\", "                                                                                            \
	"\"history_change_reason\": \"Created\", "                                                           \
	"\"history_user\": {\"id\": 7, \"name\": \"Ada Admin\", \"email\": \"ada@example.com\"}, "           \
	"\"version_id\": \"1\", \"version_name\": \"v1\", \"id\": 42, \"agent_name\": \"Front desk\", "      \
	"\"language\": \"en\", \"description\": \"You are the front desk.\", "                               \
	"\"mock_tools\": [{\"id\": 11, \"name\": \"lookup_order\", \"mock_data\": []}], "                    \
	"\"dynamic_variables\": [{\"name\": \"customer_name\", \"description\": \"Who is calling\"}], "      \
	"\"knowledge_base_files\": []}"

static void test_a_version_s_files(void **state)
{
	struct history h;
	const struct history_version *v;

	(void)state;
	history_of(FULL_RECORD, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.skipped, 0);
	v = &h.v[0];
	assert_int_equal(v->id, 42001);
	assert_true(v->date > 1777626000.12 && v->date < 1777626000.13);
	assert_text(&v->field[HISTORY_DATE], "2026-05-01T09:00:00.123456Z\n");
	assert_text(&v->field[HISTORY_CHANGE], "created\n");
	assert_text(&v->field[HISTORY_REASON], "Created\n");
	assert_text(&v->field[HISTORY_USER], "ada@example.com\n");
	assert_text(&v->field[HISTORY_VERSION], "v1\n");
	assert_text(&v->config.field[AGENT_CONFIG_NAME], "Front desk\n");
	assert_text(&v->config.field[AGENT_CONFIG_SYSTEM_PROMPT], "You are the front desk.\n");
	assert_text(&v->config.field[AGENT_CONFIG_LANGUAGE], "en\n");
	assert_text(&v->config.field[AGENT_CONFIG_PROVIDER], "");
	assert_text(&v->config.variables, "customer_name\tWho is calling\n");
	assert_text(agent_config_entry(&v->config, AGENT_CONFIG_TOOLS, "lookup_order.json"),
		    "{\n  \"id\": 11,\n  \"name\": \"lookup_order\",\n  \"mock_data\": []\n}\n");
	assert_int_equal(v->config.list[AGENT_CONFIG_KNOWLEDGE_BASE].n, 0);
	/* record.json: the record as sent, pretty-printed */
	assert_non_null(strstr(v->config.json.text, "{\n  \"history_id\": 42001,\n  \"history_date\": "
						    "\"2026-05-01T09:00:00.123456Z\",\n"));
	assert_non_null(strstr(v->config.json.text, "  \"history_user\": {\n    \"id\": 7,\n"));
	history_free(&h);
}

static void test_null_reason_user_and_version_are_empty_files(void **state)
{
	static const char *const records[] = {
		"{\"history_id\": 1, \"history_date\": null, \"history_type\": null, "
		"\"history_change_reason\": null, \"history_user\": null, \"version_id\": null, "
		"\"version_name\": null}",
		"{\"history_id\": 1}",
		"{\"history_id\": 1, \"history_user\": {\"id\": 7, \"name\": \"Ada\"}}",
		"{\"history_id\": 1, \"history_user\": {\"email\": null}}",
		"{\"history_id\": 1, \"history_user\": \"ada@example.com\"}",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		struct history h;

		history_of(records[i], &h);
		assert_int_equal(h.n, 1);
		for(int f = 0; f < HISTORY_NFIELDS; f++)
			assert_text(&h.v[0].field[f], "");
		assert_true(h.v[0].date == 0);
		history_free(&h);
	}
}

static void assert_version_text(const char *record_text, const char *want)
{
	struct history h;

	history_of(record_text, &h);
	assert_int_equal(h.n, 1);
	assert_text(&h.v[0].field[HISTORY_VERSION], want);
	history_free(&h);
}

static void test_version_is_the_name_else_the_id(void **state)
{
	(void)state;
	assert_version_text("{\"history_id\": 1, \"version_id\": \"12\", \"version_name\": \"spring\"}",
			    "spring\n");
	assert_version_text("{\"history_id\": 1, \"version_id\": \"12\", \"version_name\": null}", "12\n");
	assert_version_text("{\"history_id\": 1, \"version_id\": \"12\"}", "12\n");
	assert_version_text("{\"history_id\": 1, \"version_id\": 7, \"version_name\": null}", "7\n");
	assert_version_text("{\"history_id\": 1, \"version_id\": null, \"version_name\": null}", "");
	assert_version_text("{\"history_id\": 1, \"version_name\": \"two\\nlines\\u0007\"}", "two lines \n");
}

static void assert_change(const char *type, const char *want)
{
	char *rec;
	struct history h;

	assert_true(asprintf(&rec, "{\"history_id\": 1, \"history_type\": %s}", type) > 0);
	history_of(rec, &h);
	assert_int_equal(h.n, 1);
	assert_text(&h.v[0].field[HISTORY_CHANGE], want);
	history_free(&h);
	free(rec);
}

static void test_each_change_type_has_its_word(void **state)
{
	(void)state;
	assert_change("\"+\"", "created\n");
	assert_change("\"~\"", "changed\n");
	assert_change("\"-\"", "deleted\n");
	/* anything else as sent, one line */
	assert_change("\"?\"", "?\n");
	assert_change("\"restored\\r\\nby hand\"", "restored  by hand\n");
	assert_change("\"++\"", "++\n");
	assert_change("\"\"", "\n");
	assert_change("5", "5\n");
	assert_change("null", "");
}

static void test_reason_and_user_are_one_line(void **state)
{
	struct history h;

	(void)state;
	history_of("{\"history_id\": 1, \"history_change_reason\": \"Tools\\nauto-fetch\\t\\u001b[31m\", "
		   "\"history_user\": {\"email\": \"a\\u00e9@example.com\"}}",
		   &h);
	assert_text(&h.v[0].field[HISTORY_REASON], "Tools auto-fetch  [31m\n");
	assert_text(&h.v[0].field[HISTORY_USER], "a\xc3\xa9@example.com\n");
	history_free(&h);
}

/* ---- collections ---- */

static void test_both_collection_shapes_give_identical_files(void **state)
{
	struct history h;
	const struct history_version *a, *s;

	(void)state;
	history_of(
		"{\"history_id\": 2, \"history_date\": \"2026-01-02T00:00:00Z\", "
		"\"mock_tools\": [{\"id\": 11, \"name\": \"caf\\u00e9\", \"mock_data\": [{\"x\": 1}]}, "
		"{\"id\": 12, \"name\": \"a/b\"}], "
		"\"knowledge_base_files\": [{\"id\": 5, \"file_name\": \"faq.md\"}], "
		"\"dynamic_variables\": [{\"name\": \"n\", \"description\": \"d\\te\"}]}, "
		"{\"history_id\": 1, \"history_date\": \"2026-01-01T00:00:00Z\", "
		"\"mock_tools\": \"[{\\\"id\\\": 11, \\\"name\\\": \\\"caf\\\\u00e9\\\", \\\"mock_data\\\": "
		"[{\\\"x\\\": 1}]}, {\\\"id\\\": 12, \\\"name\\\": \\\"a/b\\\"}]\", "
		"\"knowledge_base_files\": \"[{\\\"id\\\": 5, \\\"file_name\\\": \\\"faq.md\\\"}]\", "
		"\"dynamic_variables\": \"[{\\\"name\\\": \\\"n\\\", \\\"description\\\": "
		"\\\"d\\\\te\\\"}]\"}",
		&h);
	assert_ids(&h, "2 1");
	a = &h.v[0];
	s = &h.v[1];
	assert_int_equal(s->config.variables_err, 0);
	assert_text(&s->config.variables, "n\td e\n");
	assert_text(&a->config.variables, "n\td e\n");
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++) {
		const struct name_index *x = &a->config.list[l].index;

		assert_int_equal(s->config.list[l].err, 0);
		assert_int_equal(a->config.list[l].err, 0);
		assert_int_equal(s->config.list[l].index.n, x->n);
		for(size_t i = 0; i < x->n; i++)
			assert_text(agent_config_entry(&s->config, (enum config_list)l, x->v[i].name),
				    agent_config_entry(&a->config, (enum config_list)l, x->v[i].name)->text);
	}
	assert_text(
		agent_config_entry(&s->config, AGENT_CONFIG_TOOLS, "caf\xc3\xa9.json"),
		"{\n  \"id\": 11,\n  \"name\": \"caf\\u00e9\",\n  \"mock_data\": [\n    {\n      \"x\": 1\n"
		"    }\n  ]\n}\n");
	assert_non_null(agent_config_entry(&s->config, AGENT_CONFIG_TOOLS, "a_b.json"));
	assert_non_null(agent_config_entry(&s->config, AGENT_CONFIG_KNOWLEDGE_BASE, "faq.md.json"));
	history_free(&h);
}

static void test_a_string_that_is_not_a_json_array_fails_that_list_only(void **state)
{
	struct history h;
	const struct history_version *v;

	(void)state;
	history_of(
		"{\"history_id\": 49901, \"history_date\": \"2026-01-01T00:00:00Z\", \"agent_name\": \"A\", "
		"\"mock_tools\": \"not json\", "
		"\"knowledge_base_files\": \"[{\\\"id\\\": 5, \\\"file_name\\\": \\\"faq.md\\\"}]\", "
		"\"dynamic_variables\": [{\"name\": \"n\", \"description\": \"d\"}]}",
		&h);
	assert_int_equal(h.n, 1);
	v = history_find(&h, 49901);
	assert_non_null(v);
	assert_int_equal(v->config.list[AGENT_CONFIG_TOOLS].err, -EPROTO);
	assert_int_equal(v->config.list[AGENT_CONFIG_TOOLS].n, 0);
	assert_int_equal(v->config.list[AGENT_CONFIG_KNOWLEDGE_BASE].err, 0);
	assert_int_equal(v->config.list[AGENT_CONFIG_KNOWLEDGE_BASE].n, 1);
	assert_int_equal(v->config.variables_err, 0);
	assert_text(&v->config.variables, "n\td\n");
	assert_text(&v->config.field[AGENT_CONFIG_NAME], "A\n");
	assert_text(&v->field[HISTORY_DATE], "2026-01-01T00:00:00Z\n");
	assert_non_null(strstr(v->config.json.text, "\"mock_tools\": \"not json\""));
	history_free(&h);
}

/* ---- pages ---- */

static void test_an_id_seen_on_an_earlier_page_is_ignored(void **state)
{
	struct history_builder *b = history_builder_new();
	struct history h;

	(void)state;
	assert_non_null(b);
	/* newest first, as the API sends them; page 2 shifted by one (a record added meanwhile) */
	page(b, "{\"history_id\": 3, \"history_date\": \"2026-01-03T00:00:00Z\", \"agent_name\": \"three\"}, "
		"{\"history_id\": 2, \"history_date\": \"2026-01-02T00:00:00Z\", \"agent_name\": \"two\"}");
	page(b, "{\"history_id\": 2, \"history_date\": \"2026-01-09T00:00:00Z\", \"agent_name\": \"two "
		"again\"}, "
		"{\"history_id\": 1, \"history_date\": \"2026-01-01T00:00:00Z\", \"agent_name\": \"one\"}, "
		"{\"history_id\": 1, \"history_date\": \"2026-01-01T00:00:00Z\", \"agent_name\": \"one "
		"again\"}");
	assert_int_equal(history_builder_held(b), 3);
	build(b, &h);
	assert_ids(&h, "3 2 1");
	assert_int_equal(h.skipped, 0);
	/* the first seen wins */
	assert_text(&history_find(&h, 2)->config.field[AGENT_CONFIG_NAME], "two\n");
	assert_text(&history_find(&h, 2)->field[HISTORY_DATE], "2026-01-02T00:00:00Z\n");
	assert_text(&history_find(&h, 1)->config.field[AGENT_CONFIG_NAME], "one\n");
	history_free(&h);
	history_builder_free(b);
}

static void test_records_without_an_integer_history_id_are_skipped_and_counted(void **state)
{
	struct history_builder *b = history_builder_new();
	static const char body[] =
		"{\"count\": 12, \"next\": null, \"results\": ["
		"{\"history_id\": \"x\", \"agent_name\": \"string id\"}, "
		"{\"history_id\": \"5\"}, {\"agent_name\": \"no id\"}, {\"history_id\": null}, "
		"{\"history_id\": 0}, {\"history_id\": -3}, {\"history_id\": 1.5}, {\"history_id\": 2e3}, "
		"{\"history_id\": 99999999999999999999}, 5, \"record\", null, [], "
		"{\"history_id\": 7, \"history_date\": \"2026-01-01T00:00:00Z\"}]}";
	char *next;
	int64_t count;
	size_t items;
	struct history h;

	(void)state;
	assert_non_null(b);
	assert_int_equal(history_page(b, body, strlen(body), &next, &count, &items), 0);
	assert_int_equal(items, 14); /* every result of the page, kept or not */
	assert_int_equal(count, 12);
	assert_int_equal(history_builder_held(b), 1);
	build(b, &h);
	assert_ids(&h, "7");
	assert_int_equal(h.skipped, 13);
	history_free(&h);
	history_builder_free(b);
}

/* 1000 records, history_id i at date i seconds after the base, given in
 * pages of 37 in a shuffled order: the newest 200 are kept, and no more than
 * HISTORY_MAX records are ever held. */
static void test_the_newest_200_are_kept_and_no_more_held(void **state)
{
	enum { N = 1000, PER_PAGE = 37 };
	int order[N];
	struct history_builder *b = history_builder_new();
	struct history h;
	unsigned seed = 12345;
	char buf[64];

	(void)state;
	assert_non_null(b);
	for(int i = 0; i < N; i++)
		order[i] = i + 1;
	for(int i = N - 1; i > 0; i--) {
		int j, t;

		seed = seed * 1103515245u + 12345u;
		j = (int)((seed >> 8) % (unsigned)(i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for(int at = 0; at < N; at += PER_PAGE) {
		char *results = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&results, &len);

		assert_non_null(f);
		for(int i = at; i < at + PER_PAGE && i < N; i++) {
			char *r = record(order[i], date_at(order[i], buf, sizeof(buf)));

			fprintf(f, "%s%s", i > at ? ", " : "", r);
			free(r);
		}
		fclose(f);
		page(b, results);
		free(results);
		assert_true(history_builder_held(b) <= HISTORY_MAX);
		assert_int_equal(history_builder_held(b),
				 (size_t)(at + PER_PAGE < N ? at + PER_PAGE : N) < HISTORY_MAX
					 ? (size_t)(at + PER_PAGE < N ? at + PER_PAGE : N)
					 : HISTORY_MAX);
	}
	build(b, &h);
	assert_int_equal(h.n, HISTORY_MAX);
	for(size_t i = 0; i < h.n; i++) {
		assert_int_equal(h.v[i].id, (uint64_t)(N - i));
		assert_true(h.v[i].date == 1767225600.0 + (double)(N - i));
	}
	assert_null(history_find(&h, N - HISTORY_MAX));
	assert_non_null(history_find(&h, N - HISTORY_MAX + 1));
	history_free(&h);
	/* an id seen but not kept is still seen: a copy later is ignored */
	{
		char *r = record(N - HISTORY_MAX, date_at(10 * N, buf, sizeof(buf)));

		page(b, r);
		free(r);
	}
	build(b, &h);
	assert_int_equal(h.v[0].id, (uint64_t)N);
	assert_null(history_find(&h, N - HISTORY_MAX));
	history_free(&h);
	history_builder_free(b);
}

static void test_ties_on_date_go_to_the_larger_id(void **state)
{
	struct history h;

	(void)state;
	history_of("{\"history_id\": 5, \"history_date\": \"2026-01-01T00:00:00Z\"}, "
		   "{\"history_id\": 9, \"history_date\": \"2026-01-01T00:00:00Z\"}, "
		   "{\"history_id\": 2, \"history_date\": \"2026-01-01T00:00:01Z\"}, "
		   "{\"history_id\": 7, \"history_date\": \"2026-01-01T00:00:00.000Z\"}, "
		   /* an unreadable date counts as the oldest */
		   "{\"history_id\": 100, \"history_date\": \"yesterday\"}, "
		   "{\"history_id\": 101, \"history_date\": 1767225600}, "
		   "{\"history_id\": 99}, "
		   /* 13:30 at -05:00 is after 18:00 UTC */
		   "{\"history_id\": 3, \"history_date\": \"2026-01-01T13:30:00-05:00\"}, "
		   "{\"history_id\": 4, \"history_date\": \"2026-01-01T18:00:00+00:00\"}",
		   &h);
	assert_ids(&h, "3 4 2 9 7 5 101 100 99");
	assert_true(h.v[6].date == 0);
	history_free(&h);
}

static void test_a_full_builder_keeps_the_larger_id_of_a_tie(void **state)
{
	struct history_builder *b = history_builder_new();
	struct history h;

	(void)state;
	assert_non_null(b);
	/* HISTORY_MAX records of one date, ids 2, 4, ..., then ids 1 and 1001 of that date */
	for(int i = 1; i <= HISTORY_MAX; i++) {
		char *r = record(2 * i, "\"2026-01-01T00:00:00Z\"");

		page(b, r);
		free(r);
	}
	page(b, "{\"history_id\": 1, \"history_date\": \"2026-01-01T00:00:00Z\"}, "
		"{\"history_id\": 1001, \"history_date\": \"2026-01-01T00:00:00Z\"}");
	assert_int_equal(history_builder_held(b), HISTORY_MAX);
	build(b, &h);
	assert_int_equal(h.v[0].id, 1001);
	assert_int_equal(h.v[1].id, 2 * HISTORY_MAX);
	assert_int_equal(h.v[HISTORY_MAX - 1].id, 4);
	assert_null(history_find(&h, 1));
	assert_null(history_find(&h, 2));
	history_free(&h);
	history_builder_free(b);
}

static void test_history_find(void **state)
{
	struct history h;

	(void)state;
	assert_true(history_page_is_a_page_fn == history_page);
	history_of("{\"history_id\": 11}, {\"history_id\": 12}, {\"history_id\": 13}", &h);
	for(uint64_t id = 11; id <= 13; id++) {
		const struct history_version *v = history_find(&h, id);

		assert_non_null(v);
		assert_int_equal(v->id, id);
	}
	assert_null(history_find(&h, 0));
	assert_null(history_find(&h, 14));
	assert_null(history_find(&h, UINT64_MAX));
	history_free(&h);
	assert_null(history_find(&h, 11));
}

static void test_malformed_pages_are_eproto_and_keep_nothing(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"[{\"history_id\": 1}]",
		"{}",
		"{\"count\": 1}",
		"{\"results\": {\"history_id\": 1}}",
		"{\"results\": null}",
		"{\"results\": \"[]\"}",
		"{\"results\": [{\"history_id\": 1}], \"next\": 5}",
		"{\"results\": [{\"history_id\": 1}], \"next\": {}}",
		"{\"results\": [{\"history_id\": 1}], \"count\": \"3\"}",
		"{\"results\": [{\"history_id\": 1}], \"count\": -1}",
		"{\"results\": [{\"history_id\": 1}], \"count\": 1.5}",
		"{\"results\": [{\"history_id\": 1}], \"next\": \"https://x/?page=2\"",
		"{\"results\": [{\"history_id\": 1}]} {}",
	};
	struct history_builder *b = history_builder_new();
	struct history h;

	(void)state;
	assert_non_null(b);
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *next = (char *)"unset";
		int64_t count = 7;
		size_t items = 7;
		int rc = history_page(b, bad[i], strlen(bad[i]), &next, &count, &items);

		if(rc != -EPROTO)
			fail_msg("history_page(%s) = %d, want -EPROTO", bad[i], rc);
		assert_null(next);
		assert_int_equal(count, -1);
		assert_int_equal(items, 0);
		assert_int_equal(history_builder_held(b), 0);
	}
	build(b, &h);
	assert_int_equal(h.n, 0);
	assert_int_equal(h.skipped, 0);
	history_free(&h);
	history_builder_free(b);
}

static void assert_page(const char *body, int64_t want_count, const char *want_next, size_t want_items)
{
	struct history_builder *b = history_builder_new();
	char *next = (char *)"unset";
	int64_t count = 7;
	size_t items = 7;

	assert_non_null(b);
	assert_int_equal(history_page(b, body, strlen(body), &next, &count, &items), 0);
	assert_int_equal(count, want_count);
	assert_int_equal(items, want_items);
	if(want_next)
		assert_string_equal(next, want_next);
	else
		assert_null(next);
	free(next);
	history_builder_free(b);
}

static void test_next_and_count_are_returned_as_for_the_agent_listing(void **state)
{
	(void)state;
	assert_page(
		"{\"count\": 1234, \"next\": \"https://api.cekura.ai/test_framework/v2/aiagents/42/history/"
		"?page=2&page_size=1000\", \"previous\": null, \"results\": [{\"history_id\": 1}]}",
		1234, "https://api.cekura.ai/test_framework/v2/aiagents/42/history/?page=2&page_size=1000",
		1);
	assert_page("{\"count\": null, \"next\": null, \"results\": []}", -1, NULL, 0);
	assert_page("{\"results\": [{\"history_id\": 1}, {\"history_id\": 2}]}", -1, NULL, 2);
	assert_page("{\"count\": 0, \"results\": []}", 0, NULL, 0);
	assert_page("{\"next\": \"https:\\/\\/x\\/?page=3\", \"results\": []}", -1, "https://x/?page=3", 0);
}

static void test_an_empty_history(void **state)
{
	struct history_builder *b = history_builder_new();
	struct history h;

	(void)state;
	assert_non_null(b);
	assert_int_equal(history_builder_held(b), 0);
	build(b, &h);
	assert_int_equal(h.n, 0);
	assert_null(h.v);
	assert_null(history_find(&h, 1));
	assert_int_equal(history_bytes(&h), sizeof(h));
	history_free(&h);
	history_builder_free(b);
	history_builder_free(NULL);
}

static void test_building_twice_gives_the_same_and_free_is_safe(void **state)
{
	struct history_builder *b = history_builder_new();
	struct history h1, h2;

	(void)state;
	assert_non_null(b);
	page(b, FULL_RECORD
	     ", {\"history_id\": 2, \"history_date\": \"2027-01-01T00:00:00Z\"}, {\"history_id\": "
	     "\"x\"}");
	build(b, &h1);
	build(b, &h2);
	assert_ids(&h1, "2 42001");
	assert_ids(&h2, "2 42001");
	assert_int_equal(h1.skipped, 1);
	assert_int_equal(h2.skipped, 1);
	assert_string_equal(h1.v[1].config.json.text, h2.v[1].config.json.text);
	history_builder_free(b);
	/* the history outlives its builder */
	assert_text(&h1.v[1].field[HISTORY_USER], "ada@example.com\n");
	history_free(&h1);
	history_free(&h1);
	history_free(&h2);
}

static void test_history_bytes_counts_what_it_holds(void **state)
{
	struct history small, big;
	char *rec;
	char desc[20001];

	(void)state;
	memset(desc, 'x', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	assert_true(
		asprintf(&rec,
			 "{\"history_id\": 1, \"description\": \"%s\", \"mock_tools\": [{\"name\": \"%s\"}]}",
			 desc, desc) > 0);
	history_of("{\"history_id\": 1}", &small);
	history_of(rec, &big);
	assert_true(history_bytes(&small) > sizeof(small) + sizeof(*small.v));
	/* the prompt, the tool and record.json each hold the 20,000 bytes */
	assert_true(history_bytes(&big) > history_bytes(&small) + 3 * 20000);
	assert_true(history_bytes(&big) < history_bytes(&small) + 5 * 20000);
	history_free(&small);
	history_free(&big);
	free(rec);
}

/* ---- clock_parse_iso ---- */

static void assert_iso(const char *s, double want)
{
	double t = -12345;
	int rc = clock_parse_iso(s, &t);

	if(rc != 0 || t != want)
		fail_msg("clock_parse_iso(%s) = %d, %.6f, want 0, %.6f", s, rc, t, want);
}

static void assert_iso_einval(const char *s)
{
	double t = -12345;
	int rc = clock_parse_iso(s, &t);

	if(rc != -EINVAL)
		fail_msg("clock_parse_iso(%s) = %d (%.6f), want -EINVAL", s ? s : "NULL", rc, t);
	assert_true(t == -12345);
}

static void test_iso_dates_zulu_offsets_and_no_zone(void **state)
{
	(void)state;
	assert_iso("2026-01-05T09:00:00Z", 1767603600);
	assert_iso("2026-01-05T09:00:00z", 1767603600);
	assert_iso("2026-01-05t09:00:00Z", 1767603600);
	assert_iso("2026-01-05 09:00:00Z", 1767603600);
	assert_iso("2026-01-05T09:00:00", 1767603600); /* no zone: UTC */
	assert_iso("2026-01-05T09:00:00+00:00", 1767603600);
	assert_iso("2026-01-05T09:00:00-00:00", 1767603600);
	assert_iso("2026-01-05T09:00:00-05:30", 1767623400);
	assert_iso("2026-01-05T09:00:00+05:30", 1767583800);
	assert_iso("2026-01-05T03:30:00-05:30", 1767603600);
	assert_iso("1970-01-01T00:00:00Z", 0);
	assert_iso("1969-12-31T23:59:59Z", -1);
	assert_iso("0001-01-01T00:00:00Z", -62135596800.0);
	assert_iso("9999-12-31T23:59:59Z", 253402300799.0);
	assert_iso("2026-01-05T23:59:59+23:59", 1767657599 - 86340);
}

static void test_iso_fractional_seconds(void **state)
{
	double t;

	(void)state;
	assert_iso("2026-01-05T09:00:00.5Z", 1767603600.5);
	assert_iso("2026-01-05T09:00:00.25+01:00", 1767600000.25);
	assert_iso("2026-01-05T09:00:00.000", 1767603600);
	assert_int_equal(clock_parse_iso("2026-06-12T10:30:00.123456Z", &t), 0);
	assert_true(t > 1781260200.123455 && t < 1781260200.123457);
	/* digits past the ninth are read and ignored */
	assert_int_equal(clock_parse_iso("2026-06-12T10:30:00.1234567891234Z", &t), 0);
	assert_true(t > 1781260200.123456 && t < 1781260200.123457);
}

static void test_iso_leap_years(void **state)
{
	(void)state;
	assert_iso("2024-02-29T12:00:00Z", 1709208000);
	assert_iso("2024-03-01T00:00:00Z", 1709251200);
	assert_iso("2000-02-29T00:00:00Z", 951782400);
	assert_iso("2023-12-31T00:00:00Z", 1703980800);
	assert_iso("2024-12-31T00:00:00Z", 1735603200);
	assert_iso_einval("2026-02-29T00:00:00Z");
	assert_iso_einval("1900-02-29T00:00:00Z");
	assert_iso_einval("2100-02-29T00:00:00Z");
	assert_iso_einval("2024-02-30T00:00:00Z");
}

static void test_iso_garbage_is_einval(void **state)
{
	static const char *const bad[] = {
		"",
		"yesterday",
		"2026-01-05",
		"2026-01-05T",
		"2026-01-05T09:00",
		"2026-01-05T09:00:0",
		"2026-1-05T09:00:00Z",
		"26-01-05T09:00:00Z",
		"2026/01/05T09:00:00Z",
		"2026-01-05X09:00:00Z",
		"2026-01-05T09:00:00.Z",
		"2026-01-05T09:00:00.",
		"2026-01-05T09:00:00,5Z",
		"2026-01-05T09:00:00ZZ",
		"2026-01-05T09:00:00Z ",
		" 2026-01-05T09:00:00Z",
		"2026-01-05T09:00:00+05",
		"2026-01-05T09:00:00+0530",
		"2026-01-05T09:00:00+5:30",
		"2026-01-05T09:00:00+24:00",
		"2026-01-05T09:00:00+05:60",
		"2026-01-05T09:00:00 +05:00",
		"2026-00-05T09:00:00Z",
		"2026-13-05T09:00:00Z",
		"2026-01-00T09:00:00Z",
		"2026-01-32T09:00:00Z",
		"2026-04-31T09:00:00Z",
		"2026-01-05T24:00:00Z",
		"2026-01-05T09:60:00Z",
		"2026-01-05T09:00:60Z",
		"2026-01-05T-9:00:00Z",
		"+2026-01-05T09:00:00Z",
		"2026-01-05T09:00:00\n",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_iso_einval(bad[i]);
	assert_iso_einval(NULL);
}

static void test_iso_does_not_depend_on_tz(void **state)
{
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;

	(void)state;
	setenv("TZ", "America/St_Johns", 1); /* -03:30, with summer time */
	tzset();
	assert_iso("2026-07-05T09:00:00Z", 1783242000);
	assert_iso("2026-01-05T09:00:00", 1767603600);
	if(saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_version_s_files),
		cmocka_unit_test(test_null_reason_user_and_version_are_empty_files),
		cmocka_unit_test(test_version_is_the_name_else_the_id),
		cmocka_unit_test(test_each_change_type_has_its_word),
		cmocka_unit_test(test_reason_and_user_are_one_line),
		cmocka_unit_test(test_both_collection_shapes_give_identical_files),
		cmocka_unit_test(test_a_string_that_is_not_a_json_array_fails_that_list_only),
		cmocka_unit_test(test_an_id_seen_on_an_earlier_page_is_ignored),
		cmocka_unit_test(test_records_without_an_integer_history_id_are_skipped_and_counted),
		cmocka_unit_test(test_the_newest_200_are_kept_and_no_more_held),
		cmocka_unit_test(test_ties_on_date_go_to_the_larger_id),
		cmocka_unit_test(test_a_full_builder_keeps_the_larger_id_of_a_tie),
		cmocka_unit_test(test_history_find),
		cmocka_unit_test(test_malformed_pages_are_eproto_and_keep_nothing),
		cmocka_unit_test(test_next_and_count_are_returned_as_for_the_agent_listing),
		cmocka_unit_test(test_an_empty_history),
		cmocka_unit_test(test_building_twice_gives_the_same_and_free_is_safe),
		cmocka_unit_test(test_history_bytes_counts_what_it_holds),
		cmocka_unit_test(test_iso_dates_zulu_offsets_and_no_zone),
		cmocka_unit_test(test_iso_fractional_seconds),
		cmocka_unit_test(test_iso_leap_years),
		cmocka_unit_test(test_iso_garbage_is_einval),
		cmocka_unit_test(test_iso_does_not_depend_on_tz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
