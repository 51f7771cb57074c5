/* tools_progress.c - a tools-only import's progress answer, decoded strictly
 * and made the text of `tools-progress` (tools_progress.h). Pure.
 *
 *   $ cat agents/42/tools-progress
 *   in_progress
 *   progress_id: 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 *   tools_created:
 *   tools_updated:
 *   message: Discovering tools
 */
#include "cekurafs/tools_progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cekurafs/json.h"
#include "cekurafs/render.h"
#include "cekurafs/text.h"

/* A count: absent or null leaves *has false; an integer sets it. 0 or -EPROTO. */
static int decode_count(const struct json_doc *d, int tok, bool *has, int64_t *value)
{
	*has = false;
	*value = 0;
	if(tok < 0 || json_type(d, tok) == JSON_NULL)
		return 0;
	if(json_int(d, tok, value) != 0)
		return -EPROTO;
	*has = true;
	return 0;
}

/* A string or null (absent counts as null: *out NULL). 0, -EPROTO, -ENOMEM. */
static int decode_text(const struct json_doc *d, int tok, char **out)
{
	*out = NULL;
	if(tok < 0 || json_type(d, tok) == JSON_NULL)
		return 0;
	if(json_type(d, tok) != JSON_STRING)
		return -EPROTO;
	return json_string(d, tok, out);
}

int tools_progress_decode(const char *body, size_t len, struct tools_progress *out)
{
	struct json_doc d;
	int rc, status;

	memset(out, 0, sizeof(*out));
	rc = json_parse(&d, body ? body : "", body ? len : 0);
	if(rc != 0)
		return rc;
	status = json_find(&d, 0, "status");
	rc = -EPROTO;
	if(json_type(&d, 0) != JSON_OBJECT || json_type(&d, status) != JSON_STRING)
		goto out;
	rc = json_string(&d, status, &out->status);
	if(rc == 0)
		rc = decode_count(&d, json_find(&d, 0, "tools_created"), &out->has_created, &out->created);
	if(rc == 0)
		rc = decode_count(&d, json_find(&d, 0, "tools_updated"), &out->has_updated, &out->updated);
	if(rc == 0)
		rc = decode_text(&d, json_find(&d, 0, "message"), &out->message);
	if(rc == 0)
		rc = decode_text(&d, json_find(&d, 0, "error"), &out->error);
out:
	json_free(&d);
	if(rc != 0)
		tools_progress_free(out);
	return rc;
}

void tools_progress_free(struct tools_progress *t)
{
	if(!t)
		return;
	free(t->status);
	free(t->message);
	free(t->error);
	memset(t, 0, sizeof(*t));
}

/* "name: <n>\n", or "name:\n" when the count was null. */
static void add_count(struct text_buf *b, const char *name, bool has, int64_t value)
{
	if(has)
		text_buf_printf(b, "%s: %lld\n", name, (long long)value);
	else
		text_buf_printf(b, "%s:\n", name);
}

/* "name: <text made one line>\n" when text is not NULL. */
static void add_line(struct text_buf *b, const char *name, const char *text)
{
	char *line;

	if(!text)
		return;
	line = strdup(text);
	if(!line) {
		b->err = -ENOMEM;
		return;
	}
	text_scrub(line);
	text_buf_printf(b, "%s: %s\n", name, line);
	free(line);
}

char *tools_progress_render(const char *json, const char *progress_id)
{
	struct tools_progress t;
	struct text_buf b = {0};
	char *status, *id;

	if(!json || tools_progress_decode(json, strlen(json), &t) != 0)
		return NULL;
	status = render_word(t.status);
	id = render_word(progress_id);
	if(!status || !id)
		b.err = -ENOMEM;
	text_buf_printf(&b, "%s\nprogress_id: %s\n", status, id);
	add_count(&b, "tools_created", t.has_created, t.created);
	add_count(&b, "tools_updated", t.has_updated, t.updated);
	add_line(&b, "message", t.message);
	add_line(&b, "error", t.error);
	free(status);
	free(id);
	tools_progress_free(&t);
	return text_buf_take(&b, NULL);
}
