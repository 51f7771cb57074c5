/* render.c - progress -> the text of the `progress` and `wait` files. Pure.
 *
 * Every value is forced onto its line: a status or stage name is one word
 * (whitespace becomes '_'), other text one line (control bytes become ' '),
 * so `read state < progress` and `awk '$1 == "stage"'` keep working whatever
 * the API sends.
 */
#include "cekurafs/render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/text.h"

/* A copy of s as one line (control bytes become ' ') or as one word (control
 * bytes and spaces become '_'); of fallback when s is NULL, or "" for a word. */
static char *clean(const char *s, bool word, const char *fallback)
{
	char *c;

	if(!s || (word && !*s))
		s = fallback;
	c = strdup(s);
	if(!c)
		return NULL;
	if(!word) {
		text_scrub(c);
		return c;
	}
	for(char *p = c; *p; p++)
		if(TEXT_IS_CONTROL(*p) || *p == ' ')
			*p = '_';
	return c;
}

static bool stage_done(const struct progress_stage *s)
{
	return s->state && (strcmp(s->state, "completed") == 0 || strcmp(s->state, "skipped") == 0);
}

char *render_stage_name(const struct progress_stage *s, size_t index)
{
	char fallback[32];

	snprintf(fallback, sizeof(fallback), "stage-%zu", index + 1);
	return clean(s->name, true, fallback);
}

char *render_word(const char *s)
{
	return clean(s, true, "unknown");
}

static void add_stage(struct text_buf *t, const struct progress_stage *s, size_t index)
{
	char *name = render_stage_name(s, index), *state = render_word(s->state);

	if(!name || !state)
		t->err = -ENOMEM;
	else
		text_buf_printf(t, "stage %s %s\n", name, state);
	free(name);
	free(state);
}

char *render_progress(const struct progress *p, const char *progress_id)
{
	struct text_buf t = {0};
	char *status, *stage, *error = NULL, *id;
	size_t done = 0;

	if(!p)
		return strdup(RENDER_IDLE);
	status = clean(p->status, true, "unknown");
	stage = clean(p->current_stage, false, "");
	id = clean(progress_id, true, "unknown");
	if(p->error)
		error = clean(p->error, false, "");
	if(!status || !stage || !id || (p->error && !error))
		t.err = -ENOMEM;
	for(size_t i = 0; i < p->nstages; i++)
		done += stage_done(&p->stages[i]);
	text_buf_printf(&t, "%s\nprogress_id: %s\n", status, id);
	text_buf_printf(&t, *stage ? "current_stage: %s\n" : "current_stage:%s\n", stage);
	text_buf_printf(&t, "stages: %zu/%zu\n", done, p->nstages);
	if(error)
		text_buf_printf(&t, "error: %s\n", error);
	for(size_t i = 0; i < p->nstages; i++)
		add_stage(&t, &p->stages[i], i);
	free(status);
	free(stage);
	free(error);
	free(id);
	return text_buf_take(&t, NULL);
}
