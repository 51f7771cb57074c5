/* errmap.h - one function from a transport result to the errno a caller sees
 * (README, "Errors a caller sees"), and one for the words of the error file. Pure. */
#ifndef CEKURAFS_ERRMAP_H
#define CEKURAFS_ERRMAP_H

#include <stddef.h>

#include "cekurafs/http.h"

/* The positive errno for an outcome; for HTTP_DONE, for the status (0 for 2xx). */
int errmap_errno(enum http_outcome outcome, long status);

/* Describes a failed outcome for humans ("connection refused", "timed out
 * after 30 s"), with timeout the budget in seconds. Writes into buf. */
void errmap_describe(enum http_outcome outcome, double timeout, char *buf, size_t size);

#endif
