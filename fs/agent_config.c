/* agent_config.c - an agent's configuration (AIAgentV2), or a version of it
 * (AIAgentHistory), as the texts of its files.
 *
 *   $ cat agents/42/name
 *   Front desk
 *   $ cat agents/42/dynamic_variables
 *   customer_name	Who is calling
 *   $ ls agents/42/tools/
 *   lookup_order.json  transfer_escalate.json
 *   $ ls agents/49/history/49901/tools/
 *   ls: reading directory 'agents/49/history/49901/tools/': Protocol error
 *
 * Everything is rendered once, at decode time, so reads only copy bytes.
 * The API's shape is taken leniently (a missing or odd scalar is an empty or
 * raw file) except for the lists the directories are built from, where a
 * wrong shape means the body cannot be trusted: -EPROTO for an agent. A
 * version's collections may come as strings holding JSON (the schema says
 * "string"): such a string is parsed as a document of its own and shown by
 * the same code as an array; one that cannot be shown fails that
 * collection's files alone.
 */
#include "cekurafs/agent_config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/json.h"
#include "cekurafs/text.h"

/* Where each field's value is, by shape: a key of the body, or a key of one
 * of its objects; no key: the field is always empty. */
static const struct {
	const char *parent; /* NULL: a key of the body itself */
	const char *key;    /* NULL: no value in this shape */
} field_path[][AGENT_CONFIG_NFIELDS] = {
	[AGENT_CONFIG_AGENT] =
		{
			[AGENT_CONFIG_NAME] = {NULL, "name"},
			[AGENT_CONFIG_SYSTEM_PROMPT] = {NULL, "description"},
			[AGENT_CONFIG_LANGUAGE] = {NULL, "language"},
			[AGENT_CONFIG_PROVIDER] = {"provider", "type"},
			[AGENT_CONFIG_PROVIDER_AGENT_ID] = {"provider", "agent_id"},
			[AGENT_CONFIG_PHONE_NUMBER] = {"telephony", "phone_number"},
			[AGENT_CONFIG_UPDATED_AT] = {NULL, "updated_at"},
		},
	[AGENT_CONFIG_VERSION] =
		{
			[AGENT_CONFIG_NAME] = {NULL, "agent_name"},
			[AGENT_CONFIG_SYSTEM_PROMPT] = {NULL, "description"},
			[AGENT_CONFIG_LANGUAGE] = {NULL, "language"},
		},
};

/* The key of each list's array, and the keys of an element's name and id. */
static const struct {
	const char *key, *name, *id;
} list_path[AGENT_CONFIG_NLISTS] = {
	[AGENT_CONFIG_TOOLS] = {"mock_tools", "name", "id"},
	[AGENT_CONFIG_KNOWLEDGE_BASE] = {"knowledge_base_files", "file_name", "id"},
};

static int text_copy(struct config_text *t, const char *s, size_t len)
{
	t->text = malloc(len + 1);
	if(!t->text)
		return -ENOMEM;
	memcpy(t->text, s, len);
	t->text[len] = '\0';
	t->len = len;
	return 0;
}

/* The text of a container (parsed: its strings end) without the whitespace
 * between its tokens; strings are copied as they are. */
static int compact_copy(struct config_text *t, const char *s, size_t len)
{
	size_t o = 0;

	t->text = malloc(len + 1);
	if(!t->text)
		return -ENOMEM;
	for(size_t i = 0; i < len;) {
		size_t end = i + 1;

		if(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++;
			continue;
		}
		if(s[i] == '"')
			end = json_string_end(s, len, i);
		if(end == 0) /* never in parsed text */
			end = len;
		memcpy(t->text + o, s + i, end - i);
		o += end - i;
		i = end;
	}
	t->text[o] = '\0';
	t->len = o;
	return 0;
}

/* Token tok as text without a newline: decoded for a string, as in the body
 * for a number or a boolean, compacted for an object or an array, and "" for
 * null or no token (tok < 0). */
static int value_text(const struct json_doc *d, int tok, struct config_text *t)
{
	size_t start, len;
	int rc;

	switch(json_type(d, tok)) {
	case JSON_STRING:
		rc = json_string(d, tok, &t->text);
		if(rc == 0)
			t->len = strlen(t->text);
		return rc;
	case JSON_NUMBER:
	case JSON_BOOL:
		json_span(d, tok, &start, &len);
		return text_copy(t, d->text + start, len);
	case JSON_OBJECT:
	case JSON_ARRAY:
		json_span(d, tok, &start, &len);
		return compact_copy(t, d->text + start, len);
	default:
		return text_copy(t, "", 0);
	}
}

/* value_text() and a newline, or "" for null or no token. */
static int line_text(const struct json_doc *d, int tok, struct config_text *t)
{
	enum json_type type = json_type(d, tok);
	struct config_text value = {NULL, 0};
	struct text_buf line = {0};
	int rc;

	if(type == JSON_NONE || type == JSON_NULL)
		return text_copy(t, "", 0);
	rc = value_text(d, tok, &value);
	if(rc != 0)
		return rc;
	text_buf_add(&line, value.text, value.len);
	text_buf_add(&line, "\n", 1);
	free(value.text);
	t->text = text_buf_take(&line, &t->len);
	return t->text ? 0 : -ENOMEM;
}

static int decode_fields(const struct json_doc *d, enum agent_config_shape shape, struct agent_config *c)
{
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++) {
		const char *parent = field_path[shape][f].parent, *key = field_path[shape][f].key;
		int obj = parent ? json_find(d, 0, parent) : 0;
		/* json_find() gives -1 for an absent, null or odd parent: no value */
		int tok = key ? json_find(d, obj, key) : -1;
		int rc = line_text(d, tok, &c->field[f]);

		if(rc != 0)
			return rc;
	}
	return 0;
}

/* Sets *arr to tok when it is an array of objects, or to -1 when tok is
 * absent (< 0) or null and null_ok. Returns 0, or -EPROTO when the value is
 * something else or the array holds something that is not an object. */
static int object_array(const struct json_doc *d, int tok, bool null_ok, int *arr)
{
	enum json_type type = json_type(d, tok);
	int n, el;

	*arr = -1;
	if(tok < 0 || (type == JSON_NULL && null_ok))
		return 0;
	if(type != JSON_ARRAY)
		return -EPROTO;
	n = json_size(d, tok);
	if(n > AGENT_CONFIG_MAX_ITEMS)
		return -EFBIG; /* bounds what one agent costs: names.c makes each name unique */
	el = tok + 1;
	for(int i = 0; i < n; i++, el = json_next(d, el)) {
		if(json_type(d, el) != JSON_OBJECT)
			return -EPROTO;
	}
	*arr = tok;
	return 0;
}

/* Appends "name<TAB>description\n" for variable el; bytes that would break
 * the line or the column become spaces. */
static int variable_line(const struct json_doc *d, int el, struct text_buf *b)
{
	struct config_text name = {NULL, 0}, desc = {NULL, 0};
	int rc = value_text(d, json_find(d, el, "name"), &name);

	if(rc == 0)
		rc = value_text(d, json_find(d, el, "description"), &desc);
	if(rc == 0) {
		text_scrub(name.text);
		text_scrub(desc.text);
		text_buf_printf(b, "%s\t%s\n", name.text, desc.text);
		rc = b->err;
	}
	free(name.text);
	free(desc.text);
	return rc;
}

/* One collection of the body (dynamic_variables, mock_tools,
 * knowledge_base_files) as an array of objects: arr in the body's document,
 * or, for a version's collection sent as a string, token 0 of a document of
 * its own parsed from the decoded string. Either way the same code reads it. */
struct collection {
	const struct json_doc *d; /* where arr is: the body's document, or &inner */
	int arr;		  /* the array, or -1: none (absent or null) */
	struct json_doc inner;	  /* the string's document, when text is not NULL */
	char *text;		  /* owned: the decoded string that inner borrows */
};

static void collection_close(struct collection *col)
{
	if(col->text) {
		json_free(&col->inner);
		free(col->text);
		col->text = NULL;
	}
}

/* Finds the collection of key in d (the body) for shape. Returns 0, -EPROTO
 * (not an array of objects, nor for a version a string holding one: a string
 * that holds null is no exception), -EFBIG (past AGENT_CONFIG_MAX_ITEMS) or
 * -ENOMEM; collection_close() it either way. */
static int collection_open(const struct json_doc *d, const char *key, enum agent_config_shape shape,
			   struct collection *col)
{
	int tok = json_find(d, 0, key);
	int rc;

	col->d = d;
	col->arr = -1;
	col->text = NULL;
	if(shape != AGENT_CONFIG_VERSION || json_type(d, tok) != JSON_STRING)
		return object_array(d, tok, true, &col->arr);
	rc = json_string(d, tok, &col->text);
	if(rc == 0)
		rc = json_parse(&col->inner, col->text, strlen(col->text));
	if(rc != 0) {
		free(col->text);
		col->text = NULL;
		return rc;
	}
	col->d = &col->inner;
	return object_array(col->d, 0, false, &col->arr);
}

static int decode_variables(const struct json_doc *body, enum agent_config_shape shape,
			    struct agent_config *c)
{
	struct text_buf b = {0};
	struct collection col;
	int n, el, rc = collection_open(body, "dynamic_variables", shape, &col);
	const struct json_doc *d = col.d;

	n = rc == 0 && col.arr >= 0 ? json_size(d, col.arr) : 0;
	el = col.arr + 1;
	for(int i = 0; i < n && rc == 0; i++, el = json_next(d, el))
		rc = variable_line(d, el, &b);
	collection_close(&col);
	if(rc != 0) {
		text_buf_free(&b);
		return rc;
	}
	c->variables.text = text_buf_take(&b, &c->variables.len);
	return c->variables.text ? 0 : -ENOMEM;
}

/* The id of list element el: its "id" when that is an integer >= 0, else its
 * position from 1 (the API always sends one). Ids may repeat (the same tool
 * twice, or a position equal to another's id): names_index() still gives
 * each element a name of its own. */
static uint64_t element_id(const struct json_doc *d, int el, const char *key, int i)
{
	int64_t id;

	if(json_int(d, json_find(d, el, key), &id) == 0 && id >= 0)
		return (uint64_t)id;
	return (uint64_t)i + 1;
}

/* Fills texts, raw names and ids for the n elements of array arr. */
static int decode_elements(const struct json_doc *d, int arr, enum config_list l, struct agent_config *c,
			   char **raw, uint64_t *ids)
{
	int el = arr + 1;

	for(size_t i = 0; i < c->list[l].n; i++, el = json_next(d, el)) {
		int name = json_find(d, el, list_path[l].name);
		size_t start, len;
		int rc;

		json_span(d, el, &start, &len);
		rc = json_pretty(d->text + start, len, &c->list[l].texts[i].text, &c->list[l].texts[i].len);
		if(rc == 0 && json_type(d, name) == JSON_STRING)
			rc = json_string(d, name, &raw[i]);
		if(rc != 0)
			return rc;
		ids[i] = element_id(d, el, list_path[l].id, (int)i);
	}
	return 0;
}

/* Fills list l from array arr of d (its n > 0 elements). */
static int decode_array(const struct json_doc *d, int arr, enum config_list l, struct agent_config *c)
{
	size_t n = (size_t)json_size(d, arr);
	char **raw;
	uint64_t *ids;
	int rc;

	c->list[l].texts = calloc(n, sizeof(*c->list[l].texts));
	raw = calloc(n, sizeof(*raw));
	ids = calloc(n, sizeof(*ids));
	rc = c->list[l].texts && raw && ids ? 0 : -ENOMEM;
	if(rc == 0) {
		c->list[l].n = n;
		rc = decode_elements(d, arr, l, c, raw, ids);
	}
	if(rc == 0)
		rc = names_index((const char *const *)raw, ids, n, ".json", &c->list[l].index);
	for(size_t i = 0; raw && i < n; i++)
		free(raw[i]);
	free(raw);
	free(ids);
	return rc;
}

static int decode_list(const struct json_doc *body, enum config_list l, enum agent_config_shape shape,
		       struct agent_config *c)
{
	struct collection col;
	int rc = collection_open(body, list_path[l].key, shape, &col);

	if(rc == 0 && col.arr >= 0 && json_size(col.d, col.arr) > 0)
		rc = decode_array(col.d, col.arr, l, c);
	collection_close(&col);
	return rc;
}

/* Empties list l (what a failed decode_list() left). */
static void list_clear(struct agent_config *c, enum config_list l)
{
	for(size_t i = 0; i < c->list[l].n; i++)
		free(c->list[l].texts[i].text);
	free(c->list[l].texts);
	names_index_free(&c->list[l].index);
	c->list[l].texts = NULL;
	c->list[l].n = 0;
}

/* What a collection's failure rc does: in a version, -EPROTO or -EFBIG stay
 * that collection's (*err, and 0 is returned, so the rest decodes); anything
 * else (an agent's, or -ENOMEM) fails the whole. */
static int collection_failed(enum agent_config_shape shape, int rc, int *err)
{
	if(shape == AGENT_CONFIG_VERSION && (rc == -EPROTO || rc == -EFBIG)) {
		*err = rc;
		return 0;
	}
	return rc;
}

static int decode_doc(const struct json_doc *d, const char *body, size_t len, enum agent_config_shape shape,
		      struct agent_config *c)
{
	int rc;

	if(json_type(d, 0) != JSON_OBJECT)
		return -EPROTO;
	rc = json_pretty(body, len, &c->json.text, &c->json.len);
	if(rc == 0)
		rc = decode_fields(d, shape, c);
	if(rc == 0) {
		int t = json_find(d, 0, "project");

		if(t < 0 || json_int(d, t, &c->project) != 0 || c->project < 0)
			c->project = 0; /* absent, null or not an integer: none known */
	}
	if(rc == 0) {
		rc = collection_failed(shape, decode_variables(d, shape, c), &c->variables_err);
		if(rc == 0 && c->variables_err != 0)
			rc = text_copy(&c->variables, "", 0);
	}
	for(int l = 0; l < AGENT_CONFIG_NLISTS && rc == 0; l++) {
		rc = collection_failed(shape, decode_list(d, (enum config_list)l, shape, c), &c->list[l].err);
		if(c->list[l].err != 0)
			list_clear(c, (enum config_list)l);
	}
	return rc;
}

int agent_config_decode_shape(const char *body, size_t len, enum agent_config_shape shape,
			      struct agent_config *out)
{
	struct json_doc d;
	int rc;

	memset(out, 0, sizeof(*out));
	if(shape != AGENT_CONFIG_AGENT && shape != AGENT_CONFIG_VERSION)
		return -EINVAL;
	rc = json_parse(&d, body, len);
	if(rc != 0)
		return rc;
	rc = decode_doc(&d, body, len, shape, out);
	json_free(&d);
	if(rc != 0)
		agent_config_free(out);
	return rc;
}

int agent_config_decode(const char *body, size_t len, struct agent_config *out)
{
	return agent_config_decode_shape(body, len, AGENT_CONFIG_AGENT, out);
}

void agent_config_free(struct agent_config *c)
{
	free(c->json.text);
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
		free(c->field[f].text);
	free(c->variables.text);
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++)
		list_clear(c, (enum config_list)l);
	memset(c, 0, sizeof(*c));
}

const struct config_text *agent_config_entry(const struct agent_config *c, enum config_list l,
					     const char *name)
{
	const struct name_entry *e;

	if((int)l < 0 || l >= AGENT_CONFIG_NLISTS)
		return NULL;
	e = names_find(&c->list[l].index, name);
	return e ? &c->list[l].texts[e->at] : NULL;
}
