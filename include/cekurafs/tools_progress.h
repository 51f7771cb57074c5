/* tools_progress.h - a tools-only import's progress (AutoFetchProgressResponse),
 * decoded and rendered. Pure.
 *
 *   $ cat agents/42/tools-progress
 *   completed
 *   progress_id: 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 *   tools_created: 1
 *   tools_updated: 2
 *   message: Imported 1 tool, updated 2
 *
 * The answer is {"status", "tools_created", "tools_updated", "message",
 * "error"}: no stages, unlike the agent import's (progress.h). The text is a
 * public interface (README, "`tools-progress`"), made by the rules of
 * render.c: a status is one word, other text one line.
 */
#ifndef CEKURAFS_TOOLS_PROGRESS_H
#define CEKURAFS_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A decoded answer. Owns its strings. */
struct tools_progress {
	char *status; /* as received */
	bool has_created, has_updated;
	int64_t created, updated; /* tools_created, tools_updated when not null */
	char *message, *error;	  /* NULL when null or absent */
};

/* AutoFetchProgressResponse into *out (zeroed first; tools_progress_free() it
 * after a success, nothing to free after a failure). 0, -EPROTO (not JSON or
 * not an object; status not a string; a count not an integer or null;
 * message/error not a string or null), -ENOMEM. Absent keys count as null;
 * other keys are ignored. */
int tools_progress_decode(const char *body, size_t len, struct tools_progress *out);

/* Frees what t owns and zeroes it; t may be NULL, or freed already. */
void tools_progress_free(struct tools_progress *t);

/* The text of `tools-progress` for an answer (json: the body as received,
 * NUL-terminated) and its id:
 *
 *   <status>\nprogress_id: <id>\ntools_created: 3\ntools_updated: 0\nmessage: <m>\nerror: <e>\n
 *
 * The status and the id one word each (whitespace and control bytes become
 * '_'; "unknown" when empty or NULL); a count that is null leaves its line
 * "tools_created:" alone (no space); the message and error lines only when
 * not null, each made one line (control bytes become ' ', as text_scrub()).
 * A new string the caller frees, or NULL when out of memory or when json does
 * not decode (tools_progress_decode()). */
char *tools_progress_render(const char *json, const char *progress_id);

#endif
