/* progress.c - a decoded progress answer, freed and judged (progress.h). Pure. */
#include "cekurafs/progress.h"

#include <stdlib.h>
#include <string.h>

bool progress_terminal(const char *status)
{
	return status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0);
}

void progress_free(struct progress *p)
{
	if(!p)
		return;
	for(size_t i = 0; i < p->nstages; i++) {
		free(p->stages[i].name);
		free(p->stages[i].state);
	}
	free(p->stages);
	free(p->status);
	free(p->current_stage);
	free(p->error);
	memset(p, 0, sizeof(*p));
}
