/* clock.h - the daemon's one clock: seconds as doubles.
 *
 *   double deadline = clock_mono() + wait_timeout;
 *   struct timespec until = clock_timespec(clock_mono() + 0.1);   for pthread_cond_timedwait()
 *
 * Monotonic time measures durations and deadlines (condition variables are
 * made with CLOCK_MONOTONIC); wall-clock time is what files show (mtimes,
 * event times). Pure but for reading the clocks.
 *
 *   double t;
 *   clock_parse_iso("2026-01-05T09:00:00.5-05:30", &t);   t = 1767623400.5 (14:30:00.5 UTC)
 */
#ifndef CEKURAFS_CLOCK_H
#define CEKURAFS_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC, in seconds. */
double clock_mono(void);

/* CLOCK_REALTIME, in seconds since the epoch. */
double clock_wall(void);

/* t seconds as a timespec (for an absolute deadline on either clock). */
struct timespec clock_timespec(double t);

/* An ISO 8601 (RFC 3339) date and time, "YYYY-MM-DDTHH:MM:SS", then optional
 * fractional seconds (".123456"), then "Z", "+HH:MM" / "-HH:MM", or nothing
 * (read as UTC), into seconds since the epoch in *out. 't' or ' ' may stand
 * for 'T' and 'z' for 'Z'. Independent of the locale and of TZ. Returns 0, or
 * -EINVAL (anything else, a date that does not exist such as 2026-02-29, an
 * hour past 23, a second past 59, trailing bytes); *out is then untouched. */
int clock_parse_iso(const char *s, double *out);

#endif
