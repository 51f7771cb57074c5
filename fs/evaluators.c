/* evaluators.c - an agent's evaluators (ScenarioList pages) collected and made
 * the text of `evaluators` (evaluators.h). Pure.
 *
 *   $ cut -f1,2 agents/42/evaluators
 *   101	Refund request
 *   102	Angry caller
 *   $ echo "text $(cut -f1 agents/42/evaluators | tr '\n' ' ')" > agents/42/run
 *
 * The collection is an array in ascending id. Each page's new records are
 * decoded aside, sorted, and merged in, so a page costs the collection's
 * length once and an id is found by bsearch.
 */
#include "cekurafs/evaluators.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/ids.h"
#include "cekurafs/json.h"
#include "cekurafs/text.h"

struct evaluators {
	struct evaluator *v; /* owned, ascending id, each id once */
	size_t n;
	size_t skipped;
};

static void evaluator_free(struct evaluator *ev)
{
	free(ev->name);
	free(ev->folder);
	for(size_t i = 0; i < ev->ntags; i++)
		free(ev->tags[i]);
	free(ev->tags);
	memset(ev, 0, sizeof(*ev));
}

struct evaluators *evaluators_new(void)
{
	return calloc(1, sizeof(struct evaluators));
}

void evaluators_free(struct evaluators *e)
{
	if(!e)
		return;
	for(size_t i = 0; i < e->n; i++)
		evaluator_free(&e->v[i]);
	free(e->v);
	free(e);
}

size_t evaluators_count(const struct evaluators *e)
{
	return e->n;
}

const struct evaluator *evaluators_at(const struct evaluators *e, size_t i)
{
	return i < e->n ? &e->v[i] : NULL;
}

const struct evaluator *evaluators_find(const struct evaluators *e, uint64_t id)
{
	size_t lo = 0, hi = e->n;

	while(lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if(e->v[mid].id == id)
			return &e->v[mid];
		if(e->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t evaluators_skipped(const struct evaluators *e)
{
	return e->skipped;
}

/* ---- a record ---- */

/* The string elements of array tok of d, appended to ev's tags. 0 or -ENOMEM. */
static int add_tags(const struct json_doc *d, int tok, struct evaluator *ev)
{
	int n = json_size(d, tok), el = tok + 1;

	if(n <= 0)
		return 0;
	ev->tags = calloc((size_t)n, sizeof(*ev->tags));
	if(!ev->tags)
		return -ENOMEM;
	for(int i = 0; i < n; i++, el = json_next(d, el)) {
		int rc = json_type(d, el) == JSON_STRING ? json_string(d, el, &ev->tags[ev->ntags]) : -EPROTO;

		if(rc == -ENOMEM)
			return rc;
		if(rc == 0)
			ev->ntags++;
	}
	return 0;
}

/* tags: an array, a string holding a JSON array, or anything else for none. 0 or -ENOMEM. */
static int decode_tags(const struct json_doc *d, int tok, struct evaluator *ev)
{
	struct json_doc inner;
	char *s = NULL;
	int rc;

	if(json_type(d, tok) == JSON_ARRAY)
		return add_tags(d, tok, ev);
	if(json_type(d, tok) != JSON_STRING)
		return 0;
	rc = json_string(d, tok, &s);
	if(rc != 0)
		return rc == -ENOMEM ? rc : 0;
	rc = json_parse(&inner, s, strlen(s));
	if(rc == 0) {
		rc = json_type(&inner, 0) == JSON_ARRAY ? add_tags(&inner, 0, ev) : 0;
		json_free(&inner);
	}
	free(s);
	return rc == -ENOMEM ? rc : 0;
}

/* A string value, or NULL for any other (fallback copied then, when given). 0 or -ENOMEM. */
static int decode_string(const struct json_doc *d, int tok, const char *fallback, char **out)
{
	int rc;

	*out = NULL;
	if(json_type(d, tok) == JSON_STRING) {
		rc = json_string(d, tok, out);
		if(rc != -EPROTO)
			return rc;
	}
	if(!fallback)
		return 0;
	*out = strdup(fallback);
	return *out ? 0 : -ENOMEM;
}

/* Record rec (an object with an integer id > 0) into *ev. 0 or -ENOMEM (*ev then empty). */
static int decode_record(const struct json_doc *d, int rec, uint64_t id, struct evaluator *ev)
{
	int rc;

	memset(ev, 0, sizeof(*ev));
	ev->id = id;
	rc = decode_string(d, json_find(d, rec, "name"), "", &ev->name);
	if(rc == 0)
		rc = decode_string(d, json_find(d, rec, "folder_path"), NULL, &ev->folder);
	if(rc == 0)
		rc = decode_tags(d, json_find(d, rec, "tags"), ev);
	if(rc != 0)
		evaluator_free(ev);
	return rc;
}

/* The integer id > 0 of record rec, or 0 when it has none (or is no object). */
static uint64_t record_id(const struct json_doc *d, int rec)
{
	int64_t id;

	if(json_type(d, rec) != JSON_OBJECT || json_int(d, json_find(d, rec, "id"), &id) != 0 || id <= 0)
		return 0;
	return (uint64_t)id;
}

/* ---- a page ---- */

static void drop_evaluator(void *x)
{
	evaluator_free(x);
}

/* Merges the page's new records add[0..k) (none of them in e) into e: each
 * id once, the first on the page kept, the others freed. Takes what add holds
 * either way. Returns 0 or -ENOMEM (e unchanged). */
static int merge(struct evaluators *e, struct evaluator *add, size_t k)
{
	return ids_merge((void **)&e->v, &e->n, add, k, sizeof(*add), offsetof(struct evaluator, id),
			 drop_evaluator);
}

int evaluators_page(void *arg, const char *body, size_t len, char **next, int64_t *count, size_t *items)
{
	struct evaluators *e = arg;
	struct evaluator *add = NULL;
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
		uint64_t id = record_id(&d, rec);

		if(id == 0)
			skipped++;
		else if(!evaluators_find(e, id))
			rc = decode_record(&d, rec, id, &add[k++]);
	}
	json_free(&d);
	if(rc == 0)
		rc = merge(e, add, k);
	else
		for(size_t a = 0; a < k; a++)
			evaluator_free(&add[a]);
	free(add);
	if(rc != 0) {
		free(*next);
		*next = NULL;
		*count = -1;
		return rc;
	}
	e->skipped += skipped;
	*items = (size_t)n;
	return 0;
}

/* ---- what it shows ---- */

int evaluators_ids(const struct evaluators *e, uint64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	if(e->n == 0)
		return 0;
	*ids = malloc(e->n * sizeof(**ids));
	if(!*ids)
		return -ENOMEM;
	for(size_t i = 0; i < e->n; i++)
		(*ids)[i] = e->v[i].id;
	*n = e->n;
	return 0;
}

char *evaluators_render(const struct evaluators *e, size_t *len)
{
	struct text_buf b = {0};

	for(size_t i = 0; i < e->n; i++) {
		const struct evaluator *ev = &e->v[i];

		text_buf_printf(&b, "%llu\t", (unsigned long long)ev->id);
		text_buf_add_line(&b, ev->name);
		text_buf_add(&b, "\t", 1);
		text_buf_add_line(&b, ev->folder && *ev->folder ? ev->folder : "-");
		text_buf_add(&b, "\t", 1);
		for(size_t t = 0; t < ev->ntags; t++) {
			if(t > 0)
				text_buf_add(&b, ",", 1);
			text_buf_add_line(&b, ev->tags[t]);
		}
		text_buf_add(&b, "\n", 1);
	}
	return text_buf_take(&b, len);
}

size_t evaluators_bytes(const struct evaluators *e)
{
	size_t bytes = sizeof(*e) + e->n * sizeof(*e->v);

	for(size_t i = 0; i < e->n; i++) {
		const struct evaluator *ev = &e->v[i];

		bytes += strlen(ev->name) + 1 + (ev->folder ? strlen(ev->folder) + 1 : 0);
		bytes += ev->ntags * sizeof(*ev->tags);
		for(size_t t = 0; t < ev->ntags; t++)
			bytes += strlen(ev->tags[t]) + 1;
	}
	return bytes;
}
