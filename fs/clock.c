/* clock.c - the daemon's one clock, and ISO 8601 dates read into it (clock.h). */
#include "cekurafs/clock.h"

#include <errno.h>
#include <stdbool.h>

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

/* ---- ISO 8601 ---- */

/* Reads exactly n decimal digits at *s into *v and moves *s past them. */
static bool digits(const char **s, int n, int *v)
{
	*v = 0;
	for(int i = 0; i < n; i++) {
		if((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		*v = *v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return true;
}

/* Reads c at *s and moves past it. */
static bool expect(const char **s, char c)
{
	if(**s != c)
		return false;
	(*s)++;
	return true;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): no timegm(), no TZ. */
static long days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Fractional seconds after the '.': at least one digit, all of them read
 * (only the first nine count). */
static bool fraction(const char **s, double *frac)
{
	long num = 0, den = 1;
	int n = 0;

	for(; **s >= '0' && **s <= '9'; (*s)++, n++) {
		if(n < 9) {
			num = num * 10 + (**s - '0');
			den *= 10;
		}
	}
	*frac = (double)num / (double)den;
	return n > 0;
}

/* The zone at *s in seconds east of UTC: "Z", "+HH:MM", "-HH:MM", or none. */
static bool zone(const char **s, long *east)
{
	int hh, mm;
	char sign = **s;

	*east = 0;
	if(sign == '\0')
		return true;
	if(sign == 'Z' || sign == 'z') {
		(*s)++;
		return true;
	}
	if(sign != '+' && sign != '-')
		return false;
	(*s)++;
	if(!digits(s, 2, &hh) || !expect(s, ':') || !digits(s, 2, &mm) || hh > 23 || mm > 59)
		return false;
	*east = (sign == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
	return true;
}

int clock_parse_iso(const char *s, double *out)
{
	int y, mo, d, h, mi, sec;
	double frac = 0;
	long east;

	if(!s || !digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) || !expect(&s, '-') ||
	   !digits(&s, 2, &d))
		return -EINVAL;
	if(*s != 'T' && *s != 't' && *s != ' ')
		return -EINVAL;
	s++;
	if(!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) || !expect(&s, ':') ||
	   !digits(&s, 2, &sec))
		return -EINVAL;
	if(*s == '.') {
		s++;
		if(!fraction(&s, &frac))
			return -EINVAL;
	}
	if(!zone(&s, &east) || *s != '\0')
		return -EINVAL;
	if(mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -EINVAL;
	*out = (double)(days_from_civil(y, mo, d) * 86400L + h * 3600L + mi * 60L + sec - east) + frac;
	return 0;
}
