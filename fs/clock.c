/* clock.c - the daemon's one clock (clock.h). */
#include "cekurafs/clock.h"

static double seconds_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_mono(void)
{
	return seconds_of(CLOCK_MONOTONIC);
}

double clock_wall(void)
{
	return seconds_of(CLOCK_REALTIME);
}

struct timespec clock_timespec(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if(ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if(ts.tv_nsec < 0)
		ts.tv_nsec = 0;
	return ts;
}
