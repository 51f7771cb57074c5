/* render.h - the text of an auto-fetch progress (progress.h). Pure.
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

#include <stddef.h>

#include "cekurafs/progress.h"

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
