/* test_clinic_time.c -- the clinic's calendar: dates, weekdays, "HH:MM", and
 * local wall-clock times to UTC and back, across DST changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clinic-time.h"
#include "util.h"

/* The UTC instant of a UTC calendar time, independent of the code under
 * test (timegm ignores TZ). */
static int64_t
utc_at(int y, int mo, int d, int h, int mi)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

static struct civil_date
cd(int y, int m, int d)
{
	struct civil_date	c = { y, m, d };

	return c;
}

static int64_t
local(int y, int m, int d, int h, int mi)
{
	struct civil_date	c = cd(y, m, d);

	return local_to_utc(&c, h * 60 + mi);
}

static void
assert_local(int64_t t, int y, int m, int d, int minutes)
{
	struct civil_date	c;
	int			mins = -1;

	utc_to_local(t, &c, &mins);
	assert_int_equal(c.year, y);
	assert_int_equal(c.month, m);
	assert_int_equal(c.day, d);
	assert_int_equal(mins, minutes);
}

/* --- dates --- */

static void
test_date_parse_valid(void **state)
{
	struct civil_date	d;

	(void)state;
	assert_int_equal(date_parse("2026-11-24", &d), 0);
	assert_int_equal(d.year, 2026);
	assert_int_equal(d.month, 11);
	assert_int_equal(d.day, 24);
	assert_int_equal(date_parse("1900-01-01", &d), 0);
	assert_int_equal(date_parse("2200-12-31", &d), 0);
	assert_int_equal(date_parse("2027-01-31", &d), 0);
	assert_int_equal(date_parse("2027-04-30", &d), 0);
	assert_int_equal(date_parse("2027-12-31", &d), 0);
}

static void
test_date_parse_feb_29_only_in_leap_years(void **state)
{
	struct civil_date	d;

	(void)state;
	assert_int_equal(date_parse("2024-02-29", &d), 0);
	assert_int_equal(d.day, 29);
	assert_int_equal(date_parse("2000-02-29", &d), 0);	/* divisible by 400 */
	assert_int_equal(date_parse("2028-02-29", &d), 0);
	assert_int_equal(date_parse("2026-02-29", &d), -1);
	assert_int_equal(date_parse("1900-02-29", &d), -1);	/* divisible by 100 */
	assert_int_equal(date_parse("2100-02-29", &d), -1);
	assert_int_equal(date_parse("2026-02-28", &d), 0);
	assert_int_equal(date_parse("2024-02-30", &d), -1);
}

static void
test_date_parse_refuses_bad_formats(void **state)
{
	static const char *const bad[] = {
		"", "2026", "2026-11", "2026-1-24", "2026-11-4", "26-11-24",
		"2026/11/24", "2026-11-24 ", " 2026-11-24", "2026-11-24T00:00",
		"2026-13-01", "2026-00-10", "2026-11-00", "2026-11-31", "2026-02-30",
		"2026-04-31", "abcd-ef-gh", "2026-1a-24", "+026-11-24", "-026-11-24",
		"2026-+1-24", "2026-11--4", "1899-12-31", "1800-01-01", "2201-01-01",
		"9999-12-31", "0000-01-01", "20261124xx",
	};
	struct civil_date	d;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		if (date_parse(bad[i], &d) != -1) {
			print_error("date_parse accepted \"%s\"\n", bad[i]);
			fail();
		}
	}
}

static void
test_date_format_pads(void **state)
{
	struct civil_date	d = cd(2027, 3, 4);
	char			buf[11];

	(void)state;
	date_format(&d, buf);
	assert_string_equal(buf, "2027-03-04");
	d = cd(1900, 1, 1);
	date_format(&d, buf);
	assert_string_equal(buf, "1900-01-01");
}

static void
test_date_days_known_values(void **state)
{
	struct civil_date	d;

	(void)state;
	d = cd(1970, 1, 1);
	assert_int_equal(date_to_days(&d), 0);
	d = cd(1969, 12, 31);
	assert_int_equal(date_to_days(&d), -1);
	d = cd(2000, 2, 29);
	assert_int_equal(date_to_days(&d) * 86400, utc_at(2000, 2, 29, 0, 0));
	d = cd(2026, 11, 24);
	assert_int_equal(date_to_days(&d) * 86400, utc_at(2026, 11, 24, 0, 0));
	d = cd(1900, 1, 1);
	assert_int_equal(date_to_days(&d), -25567);
	d = cd(2200, 12, 31);
	assert_int_equal(date_to_days(&d) * 86400, utc_at(2200, 12, 31, 0, 0));
}

/* Every day from year 1 to 4000 maps back to itself and follows the one
 * before it on the calendar. */
static void
test_date_days_round_trip_over_a_wide_range(void **state)
{
	struct civil_date	d, prev;
	int64_t			z, first, last;

	(void)state;
	d = cd(1, 1, 1);
	first = date_to_days(&d);
	d = cd(4000, 12, 31);
	last = date_to_days(&d);
	date_from_days(first, &prev);
	assert_int_equal(prev.year, 1);
	assert_int_equal(prev.month, 1);
	assert_int_equal(prev.day, 1);
	for (z = first + 1; z <= last; z++) {
		date_from_days(z, &d);
		assert_int_equal(date_to_days(&d), z);
		if (d.day == prev.day + 1)
			assert_true(d.month == prev.month && d.year == prev.year);
		else {
			/* prev was the last day of its month. */
			assert_int_equal(d.day, 1);
			assert_true(prev.day >= 28);
			assert_int_equal(d.month, prev.month % 12 + 1);
			assert_int_equal(d.year, prev.year + (prev.month == 12));
		}
		prev = d;
	}
	/* And a few far outside the clinic's range, both ways. */
	for (z = -3000000; z <= 3000000; z += 997) {
		date_from_days(z, &d);
		assert_int_equal(date_to_days(&d), z);
	}
}

static void
test_date_weekday_of_known_dates(void **state)
{
	static const struct {
		int	y, m, d, wd;
	} known[] = {
		{ 1970, 1, 1, 4 },	/* Thursday */
		{ 1969, 12, 28, 7 },	/* Sunday */
		{ 1900, 1, 1, 1 },	/* Monday */
		{ 2000, 1, 1, 6 },	/* Saturday */
		{ 2024, 2, 29, 4 },
		{ 2026, 11, 24, 2 },	/* Tuesday */
		{ 2026, 11, 28, 6 },
		{ 2026, 11, 29, 7 },
		{ 2026, 11, 30, 1 },
		{ 2027, 3, 14, 7 },	/* US spring forward: a Sunday */
		{ 2027, 11, 7, 7 },	/* US fall back: a Sunday */
		{ 2200, 12, 31, 3 },
	};
	struct civil_date	d;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(known); i++) {
		d = cd(known[i].y, known[i].m, known[i].d);
		if (date_weekday(&d) != known[i].wd) {
			print_error("%d-%02d-%02d: weekday %d, want %d\n", known[i].y,
			    known[i].m, known[i].d, date_weekday(&d), known[i].wd);
			fail();
		}
	}
}

static void
test_date_add_and_compare(void **state)
{
	struct civil_date	a = cd(2026, 12, 31), b;

	(void)state;
	b = a;
	date_add_days(&b, 1);
	assert_int_equal(b.year, 2027);
	assert_int_equal(b.month, 1);
	assert_int_equal(b.day, 1);
	assert_int_equal(date_compare(&a, &b), -1);
	assert_int_equal(date_compare(&b, &a), 1);
	assert_int_equal(date_compare(&a, &a), 0);
	date_add_days(&b, -366);
	assert_int_equal(b.year, 2025);
	assert_int_equal(b.month, 12);
	assert_int_equal(b.day, 31);
	b = cd(2028, 2, 28);
	date_add_days(&b, 1);
	assert_int_equal(b.month, 2);
	assert_int_equal(b.day, 29);
}

/* --- HH:MM --- */

static void
test_hhmm_parse(void **state)
{
	static const char *const bad[] = {
		"", "9:00", "09:0", "0900", "09-00", "09:60", "09:99", "24:01", "25:00",
		"99:00", "09:0a", "a9:00", " 9:00", "09:00 ", "09:000", "-1:00", "09.00",
	};
	size_t	i;

	(void)state;
	assert_int_equal(hhmm_parse("00:00"), 0);
	assert_int_equal(hhmm_parse("09:00"), 540);
	assert_int_equal(hhmm_parse("09:15"), 555);
	assert_int_equal(hhmm_parse("12:30"), 750);
	assert_int_equal(hhmm_parse("23:59"), 1439);
	assert_int_equal(hhmm_parse("24:00"), 1440);
	for (i = 0; i < nitems(bad); i++) {
		if (hhmm_parse(bad[i]) != -1) {
			print_error("hhmm_parse accepted \"%s\"\n", bad[i]);
			fail();
		}
	}
}

static void
test_hhmm_format_round_trips(void **state)
{
	char	buf[6];
	int	m;

	(void)state;
	hhmm_format(0, buf);
	assert_string_equal(buf, "00:00");
	hhmm_format(555, buf);
	assert_string_equal(buf, "09:15");
	hhmm_format(1440, buf);
	assert_string_equal(buf, "24:00");
	for (m = 0; m <= 1440; m++) {
		hhmm_format(m, buf);
		assert_int_equal(hhmm_parse(buf), m);
	}
}

/* --- local time and UTC --- */

static void
test_new_york_ordinary_days(void **state)
{
	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	/* Winter: UTC-5; summer: UTC-4. */
	assert_int_equal(local(2026, 11, 24, 9, 0), utc_at(2026, 11, 24, 14, 0));
	assert_int_equal(local(2026, 7, 1, 9, 0), utc_at(2026, 7, 1, 13, 0));
	assert_int_equal(local(2026, 11, 24, 0, 0), utc_at(2026, 11, 24, 5, 0));
	/* 24:00 is the next day's midnight. */
	assert_int_equal(local(2026, 11, 24, 24, 0), utc_at(2026, 11, 25, 5, 0));
	assert_int_equal(local(2026, 12, 31, 24, 0), utc_at(2027, 1, 1, 5, 0));
}

static void
test_new_york_spring_forward(void **state)
{
	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	/* 2026-03-08: 02:00 EST becomes 03:00 EDT. */
	assert_int_equal(local(2026, 3, 8, 9, 0), 1772974800);	/* 13:00Z */
	assert_int_equal(local(2026, 3, 8, 9, 0), utc_at(2026, 3, 8, 13, 0));
	assert_int_equal(local(2026, 3, 7, 9, 0), utc_at(2026, 3, 7, 14, 0));
	assert_int_equal(local(2026, 3, 8, 0, 0), utc_at(2026, 3, 8, 5, 0));
	assert_int_equal(local(2026, 3, 8, 1, 0), utc_at(2026, 3, 8, 6, 0));
	assert_int_equal(local(2026, 3, 8, 1, 59), utc_at(2026, 3, 8, 6, 59));
	assert_int_equal(local(2026, 3, 8, 3, 0), utc_at(2026, 3, 8, 7, 0));
	assert_int_equal(local(2026, 3, 8, 3, 0), 1772953200);
	/* A skipped time moves forward by the gap: 02:30 is 03:30 EDT. */
	assert_int_equal(local(2026, 3, 8, 2, 30), utc_at(2026, 3, 8, 7, 30));
	assert_int_equal(local(2026, 3, 8, 2, 0), utc_at(2026, 3, 8, 7, 0));
	/* The day is 23 hours long. */
	assert_int_equal(local(2026, 3, 8, 24, 0) - local(2026, 3, 8, 0, 0), 23 * 3600);
}

static void
test_new_york_fall_back(void **state)
{
	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	/* 2026-11-01: 02:00 EDT becomes 01:00 EST. */
	assert_int_equal(local(2026, 11, 1, 9, 0), 1793541600);	/* 14:00Z */
	assert_int_equal(local(2026, 11, 1, 9, 0), utc_at(2026, 11, 1, 14, 0));
	assert_int_equal(local(2026, 10, 31, 9, 0), utc_at(2026, 10, 31, 13, 0));
	assert_int_equal(local(2026, 11, 1, 0, 0), utc_at(2026, 11, 1, 4, 0));
	/* 01:00-02:00 happens twice; the first (EDT) is meant. */
	assert_int_equal(local(2026, 11, 1, 1, 0), 1793509200);	/* 05:00Z */
	assert_int_equal(local(2026, 11, 1, 1, 30), utc_at(2026, 11, 1, 5, 30));
	assert_int_equal(local(2026, 11, 1, 3, 0), utc_at(2026, 11, 1, 8, 0));
	assert_int_equal(local(2026, 11, 1, 3, 0), 1793520000);
	assert_int_equal(local(2026, 11, 1, 2, 0), utc_at(2026, 11, 1, 7, 0));
	/* The day is 25 hours long. */
	assert_int_equal(local(2026, 11, 1, 24, 0) - local(2026, 11, 1, 0, 0), 25 * 3600);
}

/* The answer for a repeated hour must not depend on what was converted
 * before it. */
static void
test_repeated_hour_is_the_same_whatever_came_before(void **state)
{
	static const int before[][4] = {
		{ 2026, 11, 1, 180 }, { 2026, 11, 1, 0 }, { 2026, 10, 31, 60 },
		{ 2026, 11, 2, 60 }, { 2026, 7, 1, 600 }, { 2027, 1, 15, 90 },
	};
	struct civil_date	d;
	size_t			i;

	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	for (i = 0; i < nitems(before); i++) {
		d = cd(before[i][0], before[i][1], before[i][2]);
		(void)local_to_utc(&d, before[i][3]);
		assert_int_equal(local(2026, 11, 1, 1, 0), utc_at(2026, 11, 1, 5, 0));
		(void)local_to_utc(&d, before[i][3]);
		assert_int_equal(local(2026, 11, 1, 1, 45), utc_at(2026, 11, 1, 5, 45));
		(void)local_to_utc(&d, before[i][3]);
		assert_int_equal(local(2026, 3, 8, 2, 30), utc_at(2026, 3, 8, 7, 30));
	}
}

static void
test_new_york_utc_to_local(void **state)
{
	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	assert_local(utc_at(2026, 3, 8, 6, 59), 2026, 3, 8, 1 * 60 + 59);
	assert_local(utc_at(2026, 3, 8, 7, 0), 2026, 3, 8, 3 * 60);
	assert_local(utc_at(2026, 3, 8, 13, 0), 2026, 3, 8, 9 * 60);
	assert_local(utc_at(2026, 11, 1, 5, 30), 2026, 11, 1, 90);	/* EDT */
	assert_local(utc_at(2026, 11, 1, 6, 30), 2026, 11, 1, 90);	/* EST */
	assert_local(utc_at(2026, 11, 1, 14, 0), 2026, 11, 1, 9 * 60);
	/* Late evening local is the next day in UTC. */
	assert_local(utc_at(2026, 11, 25, 4, 59), 2026, 11, 24, 23 * 60 + 59);
	assert_local(utc_at(2026, 11, 25, 5, 0), 2026, 11, 25, 0);
}

/* Every quarter hour across both DST days maps back to itself, except the
 * second pass through the repeated hour, which maps to the first. */
static void
test_local_to_utc_inverts_utc_to_local(void **state)
{
	static const int64_t	days[][2] = {
		{ 1772946000, 1773028800 },	/* 2026-03-08 local */
		{ 1793505600, 1793595600 },	/* 2026-11-01 local */
	};
	struct civil_date	d;
	int64_t			t, back;
	int			mins;
	size_t			i;

	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	assert_int_equal(days[0][0], utc_at(2026, 3, 8, 5, 0));
	assert_int_equal(days[1][1], utc_at(2026, 11, 2, 5, 0));
	for (i = 0; i < nitems(days); i++) {
		for (t = days[i][0]; t < days[i][1]; t += 900) {
			utc_to_local(t, &d, &mins);
			back = local_to_utc(&d, mins);
			if (t >= utc_at(2026, 11, 1, 6, 0) && t < utc_at(2026, 11, 1, 7, 0))
				assert_int_equal(back, t - 3600);
			else
				assert_int_equal(back, t);
		}
	}
}

static void
test_london(void **state)
{
	(void)state;
	assert_int_equal(clinic_tz_set("Europe/London"), 0);
	assert_int_equal(local(2026, 1, 15, 9, 0), utc_at(2026, 1, 15, 9, 0));
	assert_int_equal(local(2026, 7, 15, 9, 0), utc_at(2026, 7, 15, 8, 0));
	/* 2026-03-29: 01:00 GMT becomes 02:00 BST. */
	assert_int_equal(local(2026, 3, 29, 0, 30), utc_at(2026, 3, 29, 0, 30));
	assert_int_equal(local(2026, 3, 29, 1, 30), utc_at(2026, 3, 29, 1, 30));
	assert_int_equal(local(2026, 3, 29, 2, 0), utc_at(2026, 3, 29, 1, 0));
	assert_int_equal(local(2026, 3, 29, 9, 0), utc_at(2026, 3, 29, 8, 0));
	assert_int_equal(local(2026, 3, 28, 9, 0), utc_at(2026, 3, 28, 9, 0));
	/* 2026-10-25: 02:00 BST becomes 01:00 GMT; 01:30 is first BST. */
	assert_int_equal(local(2026, 10, 25, 1, 30), utc_at(2026, 10, 25, 0, 30));
	assert_int_equal(local(2026, 10, 25, 2, 0), utc_at(2026, 10, 25, 2, 0));
	assert_int_equal(local(2026, 10, 25, 9, 0), utc_at(2026, 10, 25, 9, 0));
	assert_int_equal(local(2026, 10, 25, 24, 0) - local(2026, 10, 25, 0, 0), 25 * 3600);
	assert_local(utc_at(2026, 10, 25, 0, 30), 2026, 10, 25, 90);
	assert_local(utc_at(2026, 10, 25, 1, 30), 2026, 10, 25, 90);
	assert_local(utc_at(2026, 3, 29, 1, 0), 2026, 3, 29, 120);
}

/* The kept bounds are local_to_utc's, and a new zone is not answered from
 * the old zone's. */
static void
test_day_bounds_follow_the_zone(void **state)
{
	struct civil_date	d = { 2026, 3, 8 };	/* DST starts in New York */
	int64_t			from, to;

	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	local_day_bounds(&d, &from, &to);
	assert_int_equal(from, local_to_utc(&d, 0));
	assert_int_equal(to, local_to_utc(&d, 1440));
	assert_int_equal(to - from, 23 * 3600);
	local_day_bounds(&d, &from, &to);	/* kept */
	assert_int_equal(to - from, 23 * 3600);
	assert_int_equal(clinic_tz_set("UTC"), 0);
	local_day_bounds(&d, &from, &to);
	assert_int_equal(from, utc_at(2026, 3, 8, 0, 0));
	assert_int_equal(to - from, 86400);
}

/* local_to_utc keeps its answers: asked again they are the same, across
 * the DST change too, and a new zone is not answered from the old one's. */
static void
test_kept_local_times_follow_the_zone(void **state)
{
	int	round;

	(void)state;
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	for (round = 0; round < 2; round++) {
		assert_int_equal(local(2026, 3, 8, 9, 0), utc_at(2026, 3, 8, 13, 0));
		assert_int_equal(local(2026, 3, 8, 2, 30), utc_at(2026, 3, 8, 7, 30));
		assert_int_equal(local(2026, 11, 1, 1, 30), utc_at(2026, 11, 1, 5, 30));
		assert_int_equal(local(2026, 3, 7, 9, 0), utc_at(2026, 3, 7, 14, 0));
	}
	assert_int_equal(clinic_tz_set("Europe/London"), 0);
	assert_int_equal(local(2026, 3, 8, 9, 0), utc_at(2026, 3, 8, 9, 0));
	assert_int_equal(local(2026, 3, 7, 9, 0), utc_at(2026, 3, 7, 9, 0));
	assert_int_equal(local(2026, 11, 1, 1, 30), utc_at(2026, 11, 1, 1, 30));
	assert_int_equal(clinic_tz_set("America/New_York"), 0);
	assert_int_equal(local(2026, 3, 8, 9, 0), utc_at(2026, 3, 8, 13, 0));
}

static void
test_utc_zone_is_identity(void **state)
{
	struct tm	tm;
	time_t		tt;
	int64_t		t;

	(void)state;
	assert_int_equal(clinic_tz_set("UTC"), 0);
	assert_int_equal(local(2026, 3, 8, 2, 30), utc_at(2026, 3, 8, 2, 30));
	assert_int_equal(local(2026, 11, 1, 1, 30), utc_at(2026, 11, 1, 1, 30));
	for (t = utc_at(2026, 1, 1, 0, 0); t < utc_at(2027, 1, 1, 0, 0); t += 86400 + 1860) {
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		assert_local(t, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour * 60 + tm.tm_min);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_parse_valid),
		cmocka_unit_test(test_date_parse_feb_29_only_in_leap_years),
		cmocka_unit_test(test_date_parse_refuses_bad_formats),
		cmocka_unit_test(test_date_format_pads),
		cmocka_unit_test(test_date_days_known_values),
		cmocka_unit_test(test_date_days_round_trip_over_a_wide_range),
		cmocka_unit_test(test_date_weekday_of_known_dates),
		cmocka_unit_test(test_date_add_and_compare),
		cmocka_unit_test(test_hhmm_parse),
		cmocka_unit_test(test_hhmm_format_round_trips),
		cmocka_unit_test(test_new_york_ordinary_days),
		cmocka_unit_test(test_new_york_spring_forward),
		cmocka_unit_test(test_new_york_fall_back),
		cmocka_unit_test(test_repeated_hour_is_the_same_whatever_came_before),
		cmocka_unit_test(test_new_york_utc_to_local),
		cmocka_unit_test(test_local_to_utc_inverts_utc_to_local),
		cmocka_unit_test(test_london),
		cmocka_unit_test(test_day_bounds_follow_the_zone),
		cmocka_unit_test(test_kept_local_times_follow_the_zone),
		cmocka_unit_test(test_utc_zone_is_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
