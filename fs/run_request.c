/* run_request.c - the `run` line: its grammar, the POST body made from it,
 * and the conversations it would start (run_request.h). Pure.
 *
 *   $ echo 'text 101 101 102 concurrency=5' > agents/42/run
 *     POST /test_framework/v2/scenarios/run_scenarios_text/
 *     {"agent_id": 42, "scenarios": [101, 102], "concurrency_limit": 5}
 *   $ printf 'text {\n  "scenarios": [7],\n  "personality_ids": [1, 2]\n}\n' > agents/42/run
 *     {"agent_id": 42,
 *       "scenarios": [7],
 *       "personality_ids": [1, 2]
 *     }
 */
#include "cekurafs/run_request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/ids.h"
#include "cekurafs/json.h"
#include "cekurafs/text.h"

/* The modes: a row more is a mode more. */
static const struct run_mode modes[] = {
	{"text", "/test_framework/v2/scenarios/run_scenarios_text/"},
	{"voice", "/test_framework/v2/scenarios/run_scenarios/"},
};

/* Most bytes of a word, or of a JSON value, an error shows. */
#define SHOWN 40

/* The word number of the JSON object, and of what follows it. */
#define JSON_WORD 2

static int fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets why; returns -EINVAL. */
static int fail(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if(why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* JSON's whitespace: what may surround the object. */
static bool is_space(char c)
{
	return is_blank(c) || c == '\r' || c == '\n';
}

static bool is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* How many of s[0..n)'s first bytes an error shows: all, or at most SHOWN
 * cut at a character's first byte. */
static size_t shown_len(const char *s, size_t n)
{
	size_t cut = n;

	if(cut > SHOWN) {
		cut = SHOWN;
		while(cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
	}
	return cut;
}

/* Sets why to "<what> \"<word>\" in word <n>", the word s[0..n) (no NUL in
 * it) escaped as a JSON string and cut, "..." after the quote when cut.
 * Returns -EINVAL, or -ENOMEM. */
static int fail_word(char *why, size_t why_size, const char *what, const char *s, size_t n, unsigned word)
{
	size_t cut = shown_len(s, n);
	struct text_buf b = {0};
	char *part = strndup(s, cut), *quoted;

	if(!part)
		return -ENOMEM;
	text_buf_json_string(&b, part);
	free(part);
	quoted = text_buf_take(&b, NULL);
	if(!quoted)
		return -ENOMEM;
	fail(why, why_size, "%s %s%s in word %u", what, quoted, cut < n ? "..." : "", word);
	free(quoted);
	return -EINVAL;
}

/* ---- the words ---- */

/* One parse under way. */
struct parser {
	const char *s;
	size_t end;    /* where the line ends: the input without its final newline */
	unsigned word; /* the word being read, the mode word being 1 */
	bool selected; /* whether a selector was read (r->selector says which) */
	size_t ids_room, tags_room;
	struct run_request *r;
	char *why;
	size_t why_size;
};

/* -EINVAL when s[0..n) holds a control byte (but a tab, when tabs), naming it. */
static int check_bytes(struct parser *p, const char *s, size_t n, bool tabs)
{
	for(size_t i = 0; i < n; i++) {
		if(!TEXT_IS_CONTROL(s[i]) || (tabs && s[i] == '\t'))
			continue;
		return fail(p->why, p->why_size, "%s in word %u",
			    s[i] == '\0'   ? "NUL byte"
			    : s[i] == '\n' ? "newline"
					   : "control character",
			    p->word);
	}
	return 0;
}

/* Takes a selector of kind: -EINVAL when one of another kind was read. */
static int select_kind(struct parser *p, enum run_selector kind)
{
	if(p->selected && p->r->selector != kind)
		return fail(p->why, p->why_size, "selectors of two kinds in word %u", p->word);
	p->selected = true;
	p->r->selector = kind;
	return 0;
}

static int push_id(struct parser *p, uint64_t id)
{
	struct run_request *r = p->r;

	if(r->nids == p->ids_room) {
		size_t room = p->ids_room ? p->ids_room * 2 : 8;
		uint64_t *grown = realloc(r->ids, room * sizeof(*grown));

		if(!grown)
			return -ENOMEM;
		r->ids = grown;
		p->ids_room = room;
	}
	r->ids[r->nids++] = id;
	return 0;
}

static int push_tag(struct parser *p, const char *s, size_t n)
{
	struct run_request *r = p->r;

	if(r->ntags == p->tags_room) {
		size_t room = p->tags_room ? p->tags_room * 2 : 8;
		char **grown = realloc(r->tags, room * sizeof(*grown));

		if(!grown)
			return -ENOMEM;
		r->tags = grown;
		p->tags_room = room;
	}
	r->tags[r->ntags] = strndup(s, n);
	if(!r->tags[r->ntags])
		return -ENOMEM;
	r->ntags++;
	return 0;
}

/* frequency= or concurrency=: once, 1 to RUN_MAX_OPTION. */
static int take_option(struct parser *p, const char *key, const char *v, size_t n, int64_t *field)
{
	uint64_t x;

	if(*field)
		return fail(p->why, p->why_size, "%s given twice in word %u", key, p->word);
	if(!ids_parse_agent(v, n, &x) || x > RUN_MAX_OPTION)
		return fail(p->why, p->why_size, "%s must be 1 to %d in word %u", key, RUN_MAX_OPTION,
			    p->word);
	*field = (int64_t)x;
	return 0;
}

/* A word that is not `name=`: an id, `all`, or key=value. */
static int take_word(struct parser *p, const char *w, size_t n)
{
	const char *eq = memchr(w, '=', n);
	const char *v = eq ? eq + 1 : NULL;
	size_t kn = eq ? (size_t)(eq - w) : n, vn = eq ? n - kn - 1 : 0;
	uint64_t id;
	int rc = check_bytes(p, w, n, false);

	if(rc != 0)
		return rc;
	if(!eq && is(w, n, "all")) {
		if(p->selected && p->r->selector == RUN_ALL)
			return fail(p->why, p->why_size, "all given twice in word %u", p->word);
		return select_kind(p, RUN_ALL);
	}
	if(!eq && ids_parse_agent(w, n, &id)) {
		rc = select_kind(p, RUN_IDS);
		return rc != 0 ? rc : push_id(p, id);
	}
	if(!eq ||
	   !(is(w, kn, "tag") || is(w, kn, "folder") || is(w, kn, "frequency") || is(w, kn, "concurrency")))
		return fail_word(p->why, p->why_size, "unknown word", w, n, p->word);
	if(vn == 0)
		return fail(p->why, p->why_size, "empty value in word %u", p->word);
	if(is(w, kn, "frequency"))
		return take_option(p, "frequency", v, vn, &p->r->frequency);
	if(is(w, kn, "concurrency"))
		return take_option(p, "concurrency", v, vn, &p->r->concurrency);
	if(is(w, kn, "tag")) {
		rc = select_kind(p, RUN_TAGS);
		return rc != 0 ? rc : push_tag(p, v, vn);
	}
	if(p->selected && p->r->selector == RUN_FOLDER)
		return fail(p->why, p->why_size, "folder given twice in word %u", p->word);
	rc = select_kind(p, RUN_FOLDER);
	if(rc != 0)
		return rc;
	p->r->folder = strndup(v, vn);
	return p->r->folder ? 0 : -ENOMEM;
}

/* `name=`: the rest of the line from i, trailing spaces and tabs removed. */
static int take_name(struct parser *p, size_t i)
{
	size_t end = p->end;
	int rc;

	while(end > i && is_blank(p->s[end - 1]))
		end--;
	if(end == i)
		return fail(p->why, p->why_size, "empty value in word %u", p->word);
	rc = check_bytes(p, p->s + i, end - i, true);
	if(rc != 0)
		return rc;
	p->r->name = strndup(p->s + i, end - i);
	return p->r->name ? 0 : -ENOMEM;
}

/* An id before its place in ids: sorted, the first written of equal ids comes first. */
struct id_at {
	uint64_t id;
	size_t at;
};

static int compare_id_at(const void *a, const void *b)
{
	const struct id_at *x = a, *y = b;

	if(x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Keeps the first of each id, in the order written: O(n log n), as a line
 * may hold ten thousand ids. */
static int dedupe_ids(struct run_request *r)
{
	struct id_at *sorted;
	bool *keep;
	size_t n = 0;

	if(r->nids < 2)
		return 0;
	sorted = malloc(r->nids * sizeof(*sorted));
	keep = calloc(r->nids, sizeof(*keep));
	if(!sorted || !keep) {
		free(sorted);
		free(keep);
		return -ENOMEM;
	}
	for(size_t i = 0; i < r->nids; i++)
		sorted[i] = (struct id_at){r->ids[i], i};
	qsort(sorted, r->nids, sizeof(*sorted), compare_id_at);
	for(size_t i = 0; i < r->nids; i++)
		if(i == 0 || sorted[i].id != sorted[i - 1].id)
			keep[sorted[i].at] = true;
	for(size_t i = 0; i < r->nids; i++)
		if(keep[i])
			r->ids[n++] = r->ids[i];
	r->nids = n;
	free(sorted);
	free(keep);
	return 0;
}

/* The words from i to the line's end. */
static int parse_words(struct parser *p, size_t i)
{
	const char *s = p->s;
	int rc;

	for(;;) {
		size_t w;

		while(i < p->end && is_blank(s[i]))
			i++;
		if(i == p->end)
			break;
		p->word++;
		w = i;
		while(i < p->end && !is_blank(s[i]))
			i++;
		if(i - w >= 5 && memcmp(s + w, "name=", 5) == 0) {
			rc = take_name(p, w + 5);
			if(rc != 0)
				return rc;
			break;
		}
		rc = take_word(p, s + w, i - w);
		if(rc != 0)
			return rc;
	}
	if(!p->selected)
		return fail(p->why, p->why_size, "no selector in word %u", p->word + 1);
	return dedupe_ids(p->r);
}

/* ---- the JSON form ---- */

/* The length of the JSON object that starts at s[0] (a '{'), brackets counted
 * outside strings, or 0 when it does not close. json_parse() checks it after. */
static size_t object_len(const char *s, size_t len)
{
	size_t depth = 0, i = 0;

	while(i < len) {
		if(s[i] == '"') {
			i = json_string_end(s, len, i);
			if(i == 0)
				return 0;
			continue;
		}
		if(s[i] == '{' || s[i] == '[')
			depth++;
		else if((s[i] == '}' || s[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return 0;
}

/* What the members of a JSON-form object say that this module reads, by
 * their names decoded, every repeat of a name seen: a value token, or -1. The
 * API's parser keeps the last of a repeated name, so the counts read the last;
 * an agent_id or assistant_id is refused wherever it is. */
struct members {
	int frequency, personality_ids, personality_id, test_profile_ids, test_profile_id, scenarios;
	int assistant_id;  /* the first */
	int foreign_agent; /* the first agent_id whose value is not agent */
	bool has_agent;	   /* whether any agent_id is there */
};

static bool is_agent(const struct json_doc *d, int tok, uint64_t agent)
{
	int64_t v;

	return json_type(d, tok) == JSON_NUMBER && json_int(d, tok, &v) == 0 && v > 0 && (uint64_t)v == agent;
}

/* The members of object 0 of d. 0, -EPROTO (a name that does not decode), -ENOMEM. */
static int read_members(const struct json_doc *d, uint64_t agent, struct members *m)
{
	int n = json_size(d, 0), tok = 1;

	*m = (struct members){-1, -1, -1, -1, -1, -1, -1, -1, false};
	for(int k = 0; k < n; k++) {
		int value = tok + 1;
		char *name;
		int rc = json_string(d, tok, &name);

		if(rc != 0)
			return rc;
		if(strcmp(name, "agent_id") == 0) {
			m->has_agent = true;
			if(m->foreign_agent < 0 && !is_agent(d, value, agent))
				m->foreign_agent = value;
		} else if(strcmp(name, "assistant_id") == 0 && m->assistant_id < 0) {
			m->assistant_id = value;
		} else if(strcmp(name, "frequency") == 0) {
			m->frequency = value;
		} else if(strcmp(name, "personality_ids") == 0) {
			m->personality_ids = value;
		} else if(strcmp(name, "personality_id") == 0) {
			m->personality_id = value;
		} else if(strcmp(name, "test_profile_ids") == 0) {
			m->test_profile_ids = value;
		} else if(strcmp(name, "test_profile_id") == 0) {
			m->test_profile_id = value;
		} else if(strcmp(name, "scenarios") == 0) {
			m->scenarios = value;
		}
		free(name);
		tok = json_next(d, value);
	}
	return 0;
}

/* Overrides of personality or test profile: the list's elements, and one for a single id. */
static size_t overrides(const struct json_doc *d, int list, int single)
{
	size_t n = json_type(d, list) == JSON_ARRAY ? (size_t)json_size(d, list) : 0;

	return n + (json_type(d, single) == JSON_NUMBER);
}

/* The elements of "scenarios" when all are numbers, else 0. */
static size_t scenario_count(const struct json_doc *d, int list)
{
	int n = json_size(d, list), tok = list + 1;

	if(json_type(d, list) != JSON_ARRAY)
		return 0;
	for(int k = 0; k < n; k++, tok = json_next(d, tok))
		if(json_type(d, tok) != JSON_NUMBER)
			return 0;
	return (size_t)n;
}

/* The object from start to the input's end. */
static int parse_json(struct parser *p, size_t start, size_t size)
{
	const char *o = p->s + start;
	size_t len = object_len(o, size - start);
	struct run_request *r = p->r;
	struct json_doc d;
	struct members m;
	int64_t frequency = 0;
	int rc;

	p->word = JSON_WORD;
	r->selector = RUN_JSON;
	for(size_t i = start + len; len && i < size; i++)
		if(!is_space(p->s[i]))
			return fail(p->why, p->why_size, "text after the JSON object in word %u",
				    JSON_WORD + 1);
	rc = len ? json_parse(&d, o, len) : -EPROTO;
	if(rc == -ENOMEM)
		return rc;
	if(rc != 0)
		return fail(p->why, p->why_size, "invalid JSON object in word %u", JSON_WORD);
	rc = read_members(&d, 0, &m);
	if(rc == -EPROTO)
		rc = fail(p->why, p->why_size, "invalid JSON object in word %u", JSON_WORD);
	else if(rc == 0 && m.assistant_id >= 0)
		rc = fail(p->why, p->why_size, "assistant_id not allowed in word %u", JSON_WORD);
	else if(rc == 0 && json_type(&d, m.frequency) != JSON_NONE &&
		json_type(&d, m.frequency) != JSON_NULL &&
		(json_int(&d, m.frequency, &frequency) != 0 || frequency < 1))
		rc = fail(p->why, p->why_size, "frequency must be a positive integer in word %u", JSON_WORD);
	if(rc == 0) {
		r->frequency = frequency;
		r->personalities = overrides(&d, m.personality_ids, m.personality_id);
		r->test_profiles = overrides(&d, m.test_profile_ids, m.test_profile_id);
		r->json_scenarios = scenario_count(&d, m.scenarios);
		r->json = strndup(o, len);
		if(!r->json)
			rc = -ENOMEM;
	}
	json_free(&d);
	return rc;
}

int run_request_parse(const char *buf, size_t size, off_t off, struct run_request *out, char *why,
		      size_t why_size)
{
	struct parser p = {.s = buf, .word = 1, .r = out, .why = why, .why_size = why_size};
	size_t i = 0, m, j;
	int rc;

	memset(out, 0, sizeof(*out));
	if(why_size)
		why[0] = '\0';
	if(off != 0)
		return fail(why, why_size, "write at offset %lld, not 0", (long long)off);
	if(size > RUN_MAX_WRITE)
		return fail(why, why_size, "more than %d bytes in one write", RUN_MAX_WRITE);
	p.end = size > 0 && buf[size - 1] == '\n' ? size - 1 : size;
	while(i < size && is_blank(buf[i]))
		i++;
	/* the mode word ends at JSON's whitespace: an object may follow on the next line */
	for(m = i; m < size && !is_space(buf[m]);)
		m++;
	if(m == i)
		return fail(why, why_size, "no mode in word 1");
	rc = check_bytes(&p, buf + i, m - i, false);
	if(rc != 0)
		return rc;
	for(size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++)
		if(is(buf + i, m - i, modes[k].word))
			out->mode = &modes[k];
	if(!out->mode)
		return fail_word(why, why_size, "unknown mode", buf + i, m - i, 1);
	for(j = m; j < size && is_space(buf[j]);)
		j++;
	if(j < size && buf[j] == '{')
		rc = parse_json(&p, j, size);
	else
		rc = parse_words(&p, m);
	if(rc != 0)
		run_request_free(out);
	return rc;
}

void run_request_free(struct run_request *r)
{
	if(!r)
		return;
	free(r->ids);
	for(size_t i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r->folder);
	free(r->name);
	free(r->json);
	memset(r, 0, sizeof(*r));
}

/* ---- the body ---- */

/* "agent_id <x> is not this agent's", x the value token's text as written
 * (a string with its quotes), cut and made one line. */
static int fail_agent(const struct json_doc *d, int tok, char *why, size_t why_size)
{
	char shown[SHOWN + 1];
	size_t start, len, cut;

	json_span(d, tok, &start, &len);
	if(json_type(d, tok) == JSON_STRING) {
		start--;
		len += 2;
	}
	cut = shown_len(d->text + start, len);
	memcpy(shown, d->text + start, cut);
	shown[cut] = '\0';
	text_scrub(shown);
	return fail(why, why_size, "agent_id %s%s is not this agent's in word %u", shown,
		    cut < len ? "..." : "", JSON_WORD);
}

/* RUN_JSON: the object as written, its agent_id checked or made its first member. */
static int json_body(const struct run_request *r, uint64_t agent, char **body, char *why, size_t why_size)
{
	struct json_doc d;
	struct members m;
	int rc = r->json ? json_parse(&d, r->json, strlen(r->json)) : -EPROTO;

	if(rc == -ENOMEM)
		return rc;
	if(rc == 0 && json_type(&d, 0) != JSON_OBJECT) {
		json_free(&d);
		rc = -EPROTO;
	}
	if(rc != 0)
		return fail(why, why_size, "invalid JSON object in word %u", JSON_WORD);
	rc = read_members(&d, agent, &m);
	if(rc == -EPROTO) {
		rc = fail(why, why_size, "invalid JSON object in word %u", JSON_WORD);
	} else if(rc == 0 && m.assistant_id >= 0) {
		rc = fail(why, why_size, "assistant_id not allowed in word %u", JSON_WORD);
	} else if(rc == 0 && m.foreign_agent >= 0) {
		rc = fail_agent(&d, m.foreign_agent, why, why_size);
	} else if(rc == 0 && m.has_agent) {
		*body = strdup(r->json);
		rc = *body ? 0 : -ENOMEM;
	} else if(rc == 0) {
		struct text_buf b = {0};
		size_t start, len;

		json_span(&d, 0, &start, &len); /* start: the '{' */
		text_buf_add(&b, r->json, start + 1);
		text_buf_printf(&b, "\"agent_id\": %llu", (unsigned long long)agent);
		if(json_size(&d, 0) > 0)
			text_buf_add(&b, ", ", is_space(r->json[start + 1]) ? 1 : 2);
		text_buf_add(&b, r->json + start + 1, strlen(r->json + start + 1));
		*body = text_buf_take(&b, NULL);
		rc = *body ? 0 : -ENOMEM;
	}
	json_free(&d);
	return rc;
}

static void add_ids(struct text_buf *b, const uint64_t *ids, size_t n)
{
	text_buf_printf(b, ", \"scenarios\": [");
	for(size_t i = 0; i < n; i++)
		text_buf_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)ids[i]);
	text_buf_add(b, "]", 1);
}

/* ", \"key\": " */
static void add_key(struct text_buf *b, const char *key)
{
	text_buf_printf(b, ", \"%s\": ", key);
}

int run_request_body(const struct run_request *r, uint64_t agent, int64_t project, const uint64_t *all_ids,
		     size_t nall, char **body, char *why, size_t why_size)
{
	struct text_buf b = {0};

	*body = NULL;
	if(why_size)
		why[0] = '\0';
	if(r->selector == RUN_JSON)
		return json_body(r, agent, body, why, why_size);
	if(r->selector == RUN_ALL && nall == 0)
		return fail(why, why_size, "no evaluators");
	text_buf_printf(&b, "{\"agent_id\": %llu", (unsigned long long)agent);
	switch(r->selector) {
	case RUN_IDS:
		add_ids(&b, r->ids, r->nids);
		break;
	case RUN_ALL:
		add_ids(&b, all_ids, nall);
		break;
	case RUN_TAGS:
		add_key(&b, "tags");
		text_buf_add(&b, "[", 1);
		for(size_t i = 0; i < r->ntags; i++) {
			if(i)
				text_buf_add(&b, ", ", 2);
			text_buf_json_string(&b, r->tags[i]);
		}
		text_buf_add(&b, "]", 1);
		break;
	case RUN_FOLDER:
		add_key(&b, "folder_path");
		text_buf_json_string(&b, r->folder);
		if(project > 0)
			text_buf_printf(&b, ", \"project_id\": %lld", (long long)project);
		break;
	case RUN_JSON:
		break;
	}
	if(r->frequency)
		text_buf_printf(&b, ", \"frequency\": %lld", (long long)r->frequency);
	if(r->concurrency)
		text_buf_printf(&b, ", \"concurrency_limit\": %lld", (long long)r->concurrency);
	if(r->name) {
		add_key(&b, "name");
		text_buf_json_string(&b, r->name);
	}
	text_buf_add(&b, "}", 1);
	*body = text_buf_take(&b, NULL);
	return *body ? 0 : -ENOMEM;
}

/* ---- the cost ---- */

static uint64_t times(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

uint64_t run_request_conversations(const struct run_request *r, uint64_t evaluators)
{
	uint64_t n = times(evaluators, r->frequency > 0 ? (uint64_t)r->frequency : 1);

	n = times(n, r->personalities ? r->personalities : 1);
	return times(n, r->test_profiles ? r->test_profiles : 1);
}
