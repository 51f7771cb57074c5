/* fuzz_history.c - libFuzzer: history pages (GET /aiagents/{id}/history/) -> versions.
 * Nothing the API sends may crash the daemon or make it hold more than
 * HISTORY_MAX records; the versions come out newest first, each id once and
 * found by history_find(), every text one line and a newline (or empty), and
 * a version's lists found by their names. The input is one page, then the
 * same bytes again as a second page (every id already seen: nothing changes),
 * and, alone, an AIAgentHistory record for agent_config's VERSION shape; its
 * first NUL-terminated part is also a date for clock_parse_iso(). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/clock.h"
#include "cekurafs/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const struct config_text *t)
{
	if(!t->text || strlen(t->text) != t->len)
		abort();
	for(size_t i = 0; i + 1 < t->len; i++)
		if((unsigned char)t->text[i] < 0x20 || t->text[i] == 0x7f)
			abort();
	if(t->len > 0 && t->text[t->len - 1] != '\n')
		abort();
}

static void check_config(const struct agent_config *c)
{
	for(int l = 0; l < AGENT_CONFIG_NLISTS; l++) {
		const struct name_index *x = &c->list[l].index;

		if(c->list[l].err != 0 && (c->list[l].n != 0 || x->n != 0))
			abort();
		for(size_t i = 0; i < x->n; i++)
			if(!agent_config_entry(c, (enum config_list)l, x->v[i].name))
				abort();
	}
	if(c->variables_err != 0 && c->variables.len != 0)
		abort();
	for(int f = 0; f < AGENT_CONFIG_NFIELDS; f++)
		if(strlen(c->field[f].text) != c->field[f].len)
			abort();
}

static void check_history(const struct history *h)
{
	if(h->n > HISTORY_MAX)
		abort();
	for(size_t i = 0; i < h->n; i++) {
		const struct history_version *v = &h->v[i];

		if(v->id == 0 || history_find(h, v->id) != v)
			abort();
		if(i > 0 &&
		   (v->date > h->v[i - 1].date || (v->date == h->v[i - 1].date && v->id >= h->v[i - 1].id)))
			abort();
		for(int f = 0; f < HISTORY_NFIELDS; f++)
			check_text(&v->field[f]);
		check_config(&v->config);
	}
	if(history_bytes(h) < sizeof(*h))
		abort();
}

static void pages(const char *body, size_t size)
{
	struct history_builder *b = history_builder_new();
	struct history h;
	char *next = NULL;
	int64_t count;
	size_t items, held;

	if(!b)
		return;
	if(history_page(b, body, size, &next, &count, &items) == 0) {
		free(next);
		held = history_builder_held(b);
		if(held > HISTORY_MAX || held > items)
			abort();
		if(history_page(b, body, size, &next, &count, &items) != 0 || history_builder_held(b) != held)
			abort();
		free(next);
		if(history_build(b, &h) == 0) {
			if(h.n != held)
				abort();
			check_history(&h);
			history_free(&h);
		}
	}
	history_builder_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c;
	char *s = malloc(size + 1);
	double t;

	pages((const char *)data, size);
	if(agent_config_decode_shape((const char *)data, size, AGENT_CONFIG_VERSION, &c) == 0)
		check_config(&c);
	agent_config_free(&c);
	if(s) {
		memcpy(s, data, size);
		s[size] = '\0';
		clock_parse_iso(s, &t);
		free(s);
	}
	return 0;
}
