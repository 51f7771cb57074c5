/* render.h - an auto-fetch progress, decoded, and its text. Pure.
 *
 *   in_progress
 *   progress_id: 6f1c0e7a-0b7d-4c41-9a59-3f2d1e0c9b8a
 *   current_stage: tools
 *   stages: 3/6
 *   stage system_prompt completed
 *   ...
 *
 * The format is a public interface (README, "`progress`"): scripts parse it.
 */
#ifndef CEKURAFS_RENDER_H
#define CEKURAFS_RENDER_H

#include <stdbool.h>
#include <stddef.h>

struct progress_stage {
	char *name;  /* owned; from name|key|stage|label|title, or NULL when none */
	char *state; /* owned; from status|state, or NULL when none */
};

/* A decoded progress response. Owns every string and the stages array. */
struct progress {
	char *status;	     /* as received */
	char *current_stage; /* as received, may be "" */
	char *error;	     /* NULL when the API sent null */
	struct progress_stage *stages;
	size_t nstages;
};

void progress_free(struct progress *p);

/* completed and failed are terminal; every other status is still running. */
bool progress_terminal(const char *status);

/* What the progress file shows while the agent has no import. */
#define RENDER_IDLE "idle\n"

/* The text of the progress file for p and its id, or RENDER_IDLE when p is NULL.
 * Returns a new string the caller frees, or NULL when out of memory. */
char *render_progress(const struct progress *p, const char *progress_id);

/* A stage's name as the progress file shows it (one word; "stage-<n>" when
 * it has none). A new string, or NULL when out of memory. */
char *render_stage_name(const struct progress_stage *s, size_t index);

/* A status or state as one word ("unknown" when NULL or empty). A new string, or NULL. */
char *render_word(const char *s);

#endif
