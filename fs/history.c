/* history.c - an agent's versions (AIAgentHistory records) as the texts of their files.
 *
 *   $ ls agents/42/history/
 *   42001  42002  42003
 *   $ cat agents/42/history/42002/change agents/42/history/42002/reason agents/42/history/42002/user
 *   changed
 *   Auto-fetch from provider
 *
 *   $ diff agents/42/history/newest/system_prompt agents/42/system_prompt
 *
 * The pages of a listing go through a builder that holds the newest
 * HISTORY_MAX records so far (a min-heap on date and id: the oldest kept is
 * the one a newer record replaces) and the set of every id seen, so pages
 * that shift while they are read bring no version twice and a history of any
 * length costs HISTORY_MAX records. history_build() decodes what was kept,
 * once: each record's configuration by agent_config's VERSION shape, and the
 * five texts of its own (date, change, reason, user, version).
 */
#include "cekurafs/history.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/json.h"
#include "cekurafs/text.h"

/* A record as its page sent it, kept until history_build(). */
struct raw_record {
	uint64_t id;
	double date;
	char *text; /* owned: the record's JSON text, copied from the page */
	size_t len;
};

struct history_builder {
	/* The newest records so far, a min-heap on (date, id): heap[0] is the
	 * oldest kept, the one a newer record replaces once the heap is full. */
	struct raw_record heap[HISTORY_MAX];
	size_t n;
	/* Every history_id seen, kept or not: open addressing, 0 a free slot. */
	uint64_t *seen;
	size_t nseen, cap; /* cap 0 or a power of two, at least twice nseen */
	size_t skipped;
};

/* ---- the ids seen ---- */

/* Where id is in slot[cap], or the free slot where it would go. */
static size_t seen_slot(const uint64_t *slot, size_t cap, uint64_t id)
{
	size_t i = (size_t)((id * 0x9e3779b97f4a7c15u) >> 17) & (cap - 1);

	while(slot[i] && slot[i] != id)
		i = (i + 1) & (cap - 1);
	return i;
}

static bool seen_has(const struct history_builder *b, uint64_t id)
{
	return b->cap && b->seen[seen_slot(b->seen, b->cap, id)] == id;
}

/* Makes room for one more id. Returns 0 or -ENOMEM. */
static int seen_reserve(struct history_builder *b)
{
	size_t cap;
	uint64_t *slot;

	if(2 * (b->nseen + 1) <= b->cap)
		return 0;
	cap = b->cap ? 2 * b->cap : 256;
	slot = calloc(cap, sizeof(*slot));
	if(!slot)
		return -ENOMEM;
	for(size_t k = 0; k < b->cap; k++)
		if(b->seen[k])
			slot[seen_slot(slot, cap, b->seen[k])] = b->seen[k];
	free(b->seen);
	b->seen = slot;
	b->cap = cap;
	return 0;
}

/* Adds id (not there, room reserved). */
static void seen_add(struct history_builder *b, uint64_t id)
{
	b->seen[seen_slot(b->seen, b->cap, id)] = id;
	b->nseen++;
}

/* ---- the newest records ---- */

/* Whether a is older than b: an earlier date, or the same date and a smaller id. */
static bool older(const struct raw_record *a, const struct raw_record *b)
{
	return a->date < b->date || (a->date == b->date && a->id < b->id);
}

static void heap_swap(struct history_builder *b, size_t i, size_t j)
{
	struct raw_record t = b->heap[i];

	b->heap[i] = b->heap[j];
	b->heap[j] = t;
}

static void heap_up(struct history_builder *b, size_t i)
{
	while(i > 0 && older(&b->heap[i], &b->heap[(i - 1) / 2])) {
		heap_swap(b, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct history_builder *b, size_t i)
{
	for(;;) {
		size_t least = i, l = 2 * i + 1, r = 2 * i + 2;

		if(l < b->n && older(&b->heap[l], &b->heap[least]))
			least = l;
		if(r < b->n && older(&b->heap[r], &b->heap[least]))
			least = r;
		if(least == i)
			return;
		heap_swap(b, i, least);
		i = least;
	}
}

/* history_date as epoch seconds, 0 when it is not a date. Returns 0 or -ENOMEM. */
static int record_date(const struct json_doc *d, int rec, double *date)
{
	int tok = json_find(d, rec, "history_date");
	char *s = NULL;
	int rc;

	*date = 0;
	if(json_type(d, tok) != JSON_STRING)
		return 0;
	rc = json_string(d, tok, &s);
	if(rc == -ENOMEM)
		return rc;
	if(rc == 0 && clock_parse_iso(s, date) != 0)
		*date = 0;
	free(s);
	return 0;
}

/* Takes result rec of a page: skipped, ignored (seen), or kept when it is
 * among the newest so far. Returns 0 or -ENOMEM (b unchanged). */
static int add_record(struct history_builder *b, const struct json_doc *d, int rec)
{
	struct raw_record r = {0};
	size_t start;
	int64_t id;
	bool keep;
	int rc;

	if(json_type(d, rec) != JSON_OBJECT || json_int(d, json_find(d, rec, "history_id"), &id) != 0 ||
	   id <= 0) {
		b->skipped++;
		return 0;
	}
	r.id = (uint64_t)id;
	if(seen_has(b, r.id))
		return 0;
	rc = record_date(d, rec, &r.date);
	if(rc == 0)
		rc = seen_reserve(b);
	if(rc != 0)
		return rc;
	keep = b->n < HISTORY_MAX || older(&b->heap[0], &r);
	if(keep) {
		json_span(d, rec, &start, &r.len);
		r.text = malloc(r.len + 1);
		if(!r.text)
			return -ENOMEM;
		memcpy(r.text, d->text + start, r.len);
		r.text[r.len] = '\0';
	}
	seen_add(b, r.id);
	if(!keep)
		return 0;
	if(b->n < HISTORY_MAX) {
		b->heap[b->n++] = r;
		heap_up(b, b->n - 1);
	} else {
		free(b->heap[0].text);
		b->heap[0] = r;
		heap_down(b, 0);
	}
	return 0;
}

struct history_builder *history_builder_new(void)
{
	return calloc(1, sizeof(struct history_builder));
}

void history_builder_free(struct history_builder *b)
{
	if(!b)
		return;
	for(size_t i = 0; i < b->n; i++)
		free(b->heap[i].text);
	free(b->seen);
	free(b);
}

size_t history_builder_held(const struct history_builder *b)
{
	return b->n;
}

int history_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items)
{
	struct history_builder *b = arg;
	struct json_doc d;
	int rc, results, n, rec;

	*next = NULL;
	*count = -1;
	*items = 0;
	rc = json_parse(&d, body, len);
	if(rc != 0)
		return rc;
	rc = json_page(&d, &results, next, count);
	n = rc == 0 ? json_size(&d, results) : 0;
	rec = results + 1;
	for(int i = 0; i < n && rc == 0; i++, rec = json_next(&d, rec))
		rc = add_record(b, &d, rec);
	json_free(&d);
	if(rc != 0) {
		free(*next);
		*next = NULL;
		*count = -1;
		return rc;
	}
	*items = (size_t)n;
	return 0;
}

/* ---- the versions ---- */

/* Newest first: date descending, ties the larger id first. */
static int newest_first(const void *x, const void *y)
{
	const struct raw_record *a = *(const struct raw_record *const *)x;
	const struct raw_record *b = *(const struct raw_record *const *)y;

	return older(b, a) ? -1 : older(a, b) ? 1 : 0;
}

/* "<value>\n" for token tok, one line (control bytes made spaces), or ""
 * for null or no token. The value is a string decoded, or else the JSON
 * text as sent; words (NULL, or pairs ending with {NULL, NULL}) give another
 * text for a string: the change's words for its symbols. */
static int field_line(const struct json_doc *d, int tok, const char *const (*words)[2], struct config_text *t)
{
	enum json_type type = json_type(d, tok);
	struct text_buf line = {0};
	char *value = NULL;
	size_t start, len;
	int rc = 0;

	if(type == JSON_NONE || type == JSON_NULL) {
		t->text = strdup("");
		t->len = 0;
		return t->text ? 0 : -ENOMEM;
	}
	if(type == JSON_STRING) {
		rc = json_string(d, tok, &value);
	} else {
		json_span(d, tok, &start, &len);
		value = strndup(d->text + start, len);
		rc = value ? 0 : -ENOMEM;
	}
	if(rc != 0)
		return rc;
	for(size_t i = 0; words && words[i][0]; i++) {
		if(type == JSON_STRING && strcmp(value, words[i][0]) == 0) {
			free(value);
			value = strdup(words[i][1]);
			if(!value)
				return -ENOMEM;
			break;
		}
	}
	text_scrub(value);
	text_buf_printf(&line, "%s\n", value);
	free(value);
	t->text = text_buf_take(&line, &t->len);
	return t->text ? 0 : -ENOMEM;
}

/* history_type's words. */
static const char *const change_words[][2] = {
	{"+", "created"},
	{"~", "changed"},
	{"-", "deleted"},
	{NULL, NULL},
};

/* The five texts of a version from its record (an object). */
static int decode_fields(const char *text, size_t len, struct history_version *v)
{
	struct json_doc d;
	int tok[HISTORY_NFIELDS];
	int rc = json_parse(&d, text, len);

	if(rc != 0)
		return rc;
	tok[HISTORY_DATE] = json_find(&d, 0, "history_date");
	tok[HISTORY_CHANGE] = json_find(&d, 0, "history_type");
	tok[HISTORY_REASON] = json_find(&d, 0, "history_change_reason");
	tok[HISTORY_USER] = json_find(&d, json_find(&d, 0, "history_user"), "email");
	tok[HISTORY_VERSION] = json_find(&d, 0, "version_name");
	if(json_type(&d, tok[HISTORY_VERSION]) == JSON_NONE ||
	   json_type(&d, tok[HISTORY_VERSION]) == JSON_NULL)
		tok[HISTORY_VERSION] = json_find(&d, 0, "version_id");
	for(int f = 0; f < HISTORY_NFIELDS && rc == 0; f++)
		rc = field_line(&d, tok[f], f == HISTORY_CHANGE ? change_words : NULL, &v->field[f]);
	json_free(&d);
	return rc;
}

static int decode_version(const struct raw_record *r, struct history_version *v)
{
	int rc;

	v->id = r->id;
	v->date = r->date;
	rc = agent_config_decode_shape(r->text, r->len, AGENT_CONFIG_VERSION, &v->config);
	if(rc == 0)
		rc = decode_fields(r->text, r->len, v);
	return rc;
}

int history_build(struct history_builder *b, struct history *out)
{
	const struct raw_record **order;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->skipped = b->skipped;
	if(b->n == 0)
		return 0;
	order = calloc(b->n, sizeof(*order));
	out->v = calloc(b->n, sizeof(*out->v));
	if(!order || !out->v) {
		free(order);
		free(out->v);
		out->v = NULL;
		return -ENOMEM;
	}
	for(size_t i = 0; i < b->n; i++)
		order[i] = &b->heap[i];
	qsort(order, b->n, sizeof(*order), newest_first);
	for(size_t i = 0; i < b->n && rc == 0; i++) {
		out->n = i + 1; /* what history_free() frees, should this one fail */
		rc = decode_version(order[i], &out->v[i]);
	}
	free(order);
	if(rc != 0)
		history_free(out);
	return rc;
}

void history_free(struct history *h)
{
	for(size_t i = 0; i < h->n; i++) {
		agent_config_free(&h->v[i].config);
		for(int f = 0; f < HISTORY_NFIELDS; f++)
			free(h->v[i].field[f].text);
	}
	free(h->v);
	memset(h, 0, sizeof(*h));
}

const struct history_version *history_find(const struct history *h, uint64_t id)
{
	for(size_t i = 0; i < h->n; i++)
		if(h->v[i].id == id)
			return &h->v[i];
	return NULL;
}

size_t history_bytes(const struct history *h)
{
	size_t n = sizeof(*h) + h->n * sizeof(*h->v);

	for(size_t i = 0; i < h->n; i++) {
		const struct agent_config *c = &h->v[i].config;

		n += c->json.len + c->variables.len;
		for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
			n += c->field[f].len;
		for(int l = 0; l < AGENT_CONFIG_NLISTS; l++)
			for(size_t k = 0; k < c->list[l].n; k++)
				n += c->list[l].texts[k].len + 64; /* and its name */
		for(int f = 0; f < HISTORY_NFIELDS; f++)
			n += h->v[i].field[f].len;
	}
	return n;
}
