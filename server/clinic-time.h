/* clinic-time.h -- the clinic's local calendar. Times are UTC seconds on the
 * wire and in the store; the clinic's zone (config tz) turns local dates and
 * wall-clock minutes into UTC, DST included. */
#ifndef MF_CLINIC_TIME_H
#define MF_CLINIC_TIME_H

#include <stdint.h>

struct civil_date {
	int	year;
	int	month;	/* 1..12 */
	int	day;	/* 1..31 */
};

/* Sets the process's zone (TZ) for every local conversion; 0 or -1. */
int	clinic_tz_set(const char *tz);
/* "YYYY-MM-DD" with a real calendar date in 1900..2200; 0 or -1. */
int	date_parse(const char *, struct civil_date *);
/* Writes "YYYY-MM-DD" (11 bytes with NUL). */
void	date_format(const struct civil_date *, char *out);
/* Days since 1970-01-01 (may be negative), and back. */
int64_t	date_to_days(const struct civil_date *);
void	date_from_days(int64_t, struct civil_date *);
/* ISO weekday: 1 = Monday .. 7 = Sunday. */
int	date_weekday(const struct civil_date *);
void	date_add_days(struct civil_date *, int);
int	date_compare(const struct civil_date *, const struct civil_date *);
/* The UTC instant of a local wall-clock time (minutes past local midnight,
 * 0..1440) on a local date. Times skipped by DST move forward; a time
 * that happens twice is its first occurrence. */
int64_t	local_to_utc(const struct civil_date *, int minutes);
/* The instants a local day starts and ends (the next day's start). A
 * day's pair is kept until the zone changes: a list asks for the same few
 * days again and again, and each pair is eight localtime_r. */
void	local_day_bounds(const struct civil_date *, int64_t *from, int64_t *to);
/* The local date and minutes past midnight of a UTC instant. */
void	utc_to_local(int64_t, struct civil_date *, int *minutes);
/* "HH:MM" -> minutes (0..1440, "24:00" allowed); -1 if malformed. */
int	hhmm_parse(const char *);
void	hhmm_format(int minutes, char *out);	/* 6 bytes */

#endif
