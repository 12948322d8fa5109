/* clinic-time.c -- the clinic's local calendar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clinic-time.h"

#define DAY_BOUNDS_KEPT	512	/* a power of two */
#define LOCAL_TIMES_KEPT	4096	/* a power of two */

static struct {
	int64_t	days, from, to;
	int	set;
} day_bounds[DAY_BOUNDS_KEPT];

/*
 * local_to_utc's answers by wall time (seconds as if the zone were UTC):
 * each costs four localtime_r, and every booking converts its day's
 * session and break edges, the same few times of the same days. The
 * answer depends only on the wall time and the zone.
 */
static struct {
	int64_t	wall, t;
	int	set;
} local_times[LOCAL_TIMES_KEPT];

int
clinic_tz_set(const char *tz)
{
	char	buf[256];

	snprintf(buf, sizeof buf, ":%s", tz);
	if (setenv("TZ", buf, 1) != 0)
		return -1;
	tzset();
	/* Kept days and times were the old zone's. */
	memset(day_bounds, 0, sizeof day_bounds);
	memset(local_times, 0, sizeof local_times);
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int
date_parse(const char *s, struct civil_date *d)
{
	int	i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	}
	d->year = atoi(s);
	d->month = atoi(s + 5);
	d->day = atoi(s + 8);
	if (d->year < 1900 || d->year > 2200 || d->month < 1 || d->month > 12 ||
	    d->day < 1 || d->day > days_in_month(d->year, d->month))
		return -1;
	return 0;
}

void
date_format(const struct civil_date *d, char *out)
{
	unsigned	y = (unsigned)d->year % 10000, m = (unsigned)d->month % 100;
	unsigned	dd = (unsigned)d->day % 100;

	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + dd / 10);
	out[9] = (char)('0' + dd % 10);
	out[10] = '\0';
}

/* Howard Hinnant's days_from_civil. */
int64_t
date_to_days(const struct civil_date *d)
{
	int64_t		y = d->year - (d->month <= 2);
	int64_t		era = (y >= 0 ? y : y - 399) / 400;
	int64_t		yoe = y - era * 400;
	int64_t		m = d->month;
	int64_t		doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d->day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
date_from_days(int64_t z, struct civil_date *d)
{
	int64_t	era, doe, yoe, doy, mp, y;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	d->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	d->year = (int)(y + (d->month <= 2));
}

int
date_weekday(const struct civil_date *d)
{
	int64_t	days = date_to_days(d);
	/* 1970-01-01 was a Thursday (4). */
	int64_t	w = ((days % 7) + 7 + 3) % 7;

	return (int)w + 1;
}

void
date_add_days(struct civil_date *d, int n)
{
	date_from_days(date_to_days(d) + n, d);
}

int
date_compare(const struct civil_date *a, const struct civil_date *b)
{
	int64_t	x = date_to_days(a), y = date_to_days(b);

	return x < y ? -1 : x > y;
}

/* The zone's offset from UTC, in seconds, at an instant. */
static int64_t
utc_offset_at(int64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	return (int64_t)tm.tm_gmtoff;
}

/*
 * Not mktime: for a wall time that happens twice (the hour repeated when
 * clocks go back) glibc's mktime answers according to what it converted
 * before, so the same slot could get two instants. Here the answer is
 * always the first one, and a skipped time moves forward by the gap.
 */
static int64_t
wall_to_utc(int64_t wall)
{
	/* The offsets in force a day either side; a wall time lies at most
	 * one transition away from both. */
	int64_t	before = utc_offset_at(wall - 86400);
	int64_t	after = utc_offset_at(wall + 86400);
	int64_t	t_before = wall - before, t_after = wall - after;
	int	ok_before = utc_offset_at(t_before) == before;
	int	ok_after = utc_offset_at(t_after) == after;

	if (ok_before && ok_after)
		return t_before < t_after ? t_before : t_after;
	if (ok_after)
		return t_after;
	/* Valid with the earlier offset, or in the gap: the earlier offset
	 * carries a skipped time past the change. */
	return t_before;
}

int64_t
local_to_utc(const struct civil_date *d, int minutes)
{
	int64_t	wall = date_to_days(d) * 86400 + (int64_t)minutes * 60;
	size_t	i = (size_t)((uint64_t)wall / 60) & (LOCAL_TIMES_KEPT - 1);

	if (!local_times[i].set || local_times[i].wall != wall) {
		local_times[i].wall = wall;
		local_times[i].t = wall_to_utc(wall);
		local_times[i].set = 1;
	}
	return local_times[i].t;
}

void
utc_to_local(int64_t t, struct civil_date *d, int *minutes)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	d->year = tm.tm_year + 1900;
	d->month = tm.tm_mon + 1;
	d->day = tm.tm_mday;
	if (minutes != NULL)
		*minutes = tm.tm_hour * 60 + tm.tm_min;
}

int
hhmm_parse(const char *s)
{
	int	h, m;

	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' ||
	    s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '5' ||
	    s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

void
hhmm_format(int minutes, char *out)
{
	unsigned	h = (unsigned)(minutes / 60) % 100, m = (unsigned)minutes % 60;

	out[0] = (char)('0' + h / 10);
	out[1] = (char)('0' + h % 10);
	out[2] = ':';
	out[3] = (char)('0' + m / 10);
	out[4] = (char)('0' + m % 10);
	out[5] = '\0';
}

void
local_day_bounds(const struct civil_date *day, int64_t *from, int64_t *to)
{
	int64_t	days = date_to_days(day);
	size_t	i = (size_t)days & (DAY_BOUNDS_KEPT - 1);

	if (!day_bounds[i].set || day_bounds[i].days != days) {
		day_bounds[i].days = days;
		day_bounds[i].from = local_to_utc(day, 0);
		day_bounds[i].to = local_to_utc(day, 1440);
		day_bounds[i].set = 1;
	}
	*from = day_bounds[i].from;
	*to = day_bounds[i].to;
}
