/* clock.h - the daemon's one clock: seconds as doubles.
 *
 *   double deadline = clock_mono() + wait_timeout;
 *   struct timespec until = clock_timespec(clock_mono() + 0.1);   for pthread_cond_timedwait()
 *
 * Monotonic time measures durations and deadlines (condition variables are
 * made with CLOCK_MONOTONIC); wall-clock time is what files show (mtimes,
 * event times). Pure but for reading the clocks.
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

#endif
