/* progress.h - an auto-fetch progress as the API answered it, decoded. Pure.
 *
 *   {"status": "in_progress", "current_stage": "tools", "error": null,
 *    "stages": [{"name": "system_prompt", "status": "completed"}, ...]}
 *
 * api.c fills it (api_decode_progress()); render.c makes the `progress`
 * file's text of it and events.c the `events` lines.
 */
#ifndef CEKURAFS_PROGRESS_H
#define CEKURAFS_PROGRESS_H

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

/* Frees everything p owns and zeroes it; p may be NULL, or freed already. */
void progress_free(struct progress *p);

/* completed and failed are terminal; every other status is still running. */
bool progress_terminal(const char *status);

#endif
