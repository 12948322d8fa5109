/* bookfloor.c -- the store's floor for appt.book: the rate at which the
 * store alone books, with no server, no network and no protocol around it.
 *
 * usage: bookfloor DB --doctors FIRST:COUNT --patients N --from-day D
 *                  [--seconds S] [--batch B] [--sync-full 0|1]
 *
 * Each booking is what appt.book keeps in the store: appt_insert (the
 * doctor's and the patient's overlap checks, the row with its indexes, its
 * history row) and audit_append (the chained audit row), the server's own
 * functions on its own store settings (db_open: WAL, the page cache, mmap,
 * synchronous FULL unless --sync-full 0). B bookings share one transaction
 * and its fsync, as a busy server's group commit shares one (B = 1000 is
 * about what appt.book at saturation gets, 20 connections x 50 in flight).
 * Doctors FIRST.. in turn, each booking the doctor's next 20-minute slot of
 * 08:00-16:00 UTC from day D after today on (days D.. should be free: a
 * booking that conflicts is counted and skipped, as appt.book would refuse
 * it), and patients 1..N in turn. Prints
 *   RESULT label=store-floor bookings=N conflicts=C seconds=S rps=R
 *          cpu_us=U batch=B
 * cpu_us being the process's CPU time a booking, comparable with the
 * server's "srv us/req" for appt.book. */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appointments.h"
#include "audit.h"
#include "db.h"
#include "util.h"

#define SLOTS_A_DAY	24	/* 20 minutes, 08:00-16:00 */

static void
usage(void)
{
	fprintf(stderr, "usage: bookfloor DB --doctors FIRST:COUNT --patients N "
	    "--from-day D [--seconds S] [--batch B] [--sync-full 0|1]\n");
	exit(2);
}

static int64_t
number(const char *s, int64_t lo, int64_t hi)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static double
now_seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_seconds(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Books booking n; 0, 1 on a conflict (nothing written), or -1 on a store
 * error (said). */
static int
book(int64_t n, int64_t first_doctor, int64_t ndoctors, int64_t npatients,
    int64_t day0)
{
	struct appt		a;
	struct audit_entry	e;
	int64_t			k = n / ndoctors, conflict;
	char			detail[128];
	int			rc;

	memset(&a, 0, sizeof a);
	a.doctor_id = first_doctor + n % ndoctors;
	a.patient_id = 1 + n % npatients;
	a.starts_at = (day0 + k / SLOTS_A_DAY) * 86400 + 8 * 3600 +
	    (k % SLOTS_A_DAY) * 1200;
	a.ends_at = a.starts_at + 1200;
	a.status = APPT_APPROVED;
	strlcpy_mf(a.reason, "bench", sizeof a.reason);
	a.created_by = 1;
	a.created_at = a.updated_at = time(NULL);
	if ((rc = appt_insert(&a, &conflict)) == -1)
		return 1;
	if (rc != 0) {
		fprintf(stderr, "bookfloor: booking %" PRId64 ": store error\n", n);
		return -1;
	}
	snprintf(detail, sizeof detail, "appointment %" PRId64 " doctor %" PRId64
	    " at %" PRId64, a.id, a.doctor_id, a.starts_at);
	memset(&e, 0, sizeof e);
	e.ts = a.created_at;
	e.actor_id = 1;
	e.actor_role = "receptionist";
	e.action = "appt.book";
	e.patient_id = a.patient_id;
	e.detail = detail;
	e.addr = "127.0.0.1";
	if (audit_append(&e) != 0) {
		fprintf(stderr, "bookfloor: booking %" PRId64 ": audit: store "
		    "error\n", n);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "doctors", required_argument, NULL, 'd' },
		{ "patients", required_argument, NULL, 'p' },
		{ "from-day", required_argument, NULL, 'f' },
		{ "seconds", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "sync-full", required_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 }
	};
	int64_t		 first_doctor = 0, ndoctors = 0, npatients = 0, from_day = -1;
	int64_t		 seconds = 5, batch = 1000, sync_full = 1, n = 0, i, day0;
	int64_t		 conflicts = 0;
	double		 t0, t1, c0, c1;
	char		*cause = NULL, *colon;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if ((colon = strchr(optarg, ':')) == NULL)
				usage();
			*colon = '\0';
			first_doctor = number(optarg, 1, INT64_MAX / 2);
			ndoctors = number(colon + 1, 1, 100000);
			break;
		case 'p':
			npatients = number(optarg, 1, INT64_MAX / 2);
			break;
		case 'f':
			from_day = number(optarg, 0, 100000);
			break;
		case 's':
			seconds = number(optarg, 1, 3600);
			break;
		case 'b':
			batch = number(optarg, 1, 1000000);
			break;
		case 'y':
			sync_full = number(optarg, 0, 1);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || ndoctors == 0 || npatients == 0 || from_day < 0)
		usage();
	if (db_open(argv[optind], (int)sync_full, &cause) != 0) {
		fprintf(stderr, "bookfloor: %s\n", cause);
		return 1;
	}
	day0 = time(NULL) / 86400 + from_day;
	t0 = now_seconds();
	c0 = cpu_seconds();
	do {
		if (db_begin() != 0)
			return 1;
		for (i = 0; i < batch; i++, n++) {
			if ((rc = book(n, first_doctor, ndoctors, npatients,
			    day0)) < 0) {
				db_rollback();
				return 1;
			}
			conflicts += rc;
		}
		if (db_commit() != 0) {
			fprintf(stderr, "bookfloor: COMMIT failed\n");
			return 1;
		}
		t1 = now_seconds();
	} while (t1 - t0 < (double)seconds);
	c1 = cpu_seconds();
	db_close();
	n -= conflicts;
	printf("RESULT label=store-floor bookings=%" PRId64 " conflicts=%" PRId64
	    " seconds=%.3f rps=%.1f cpu_us=%.1f batch=%" PRId64 " sync_full=%"
	    PRId64 "\n", n, conflicts, t1 - t0, (double)n / (t1 - t0),
	    (c1 - c0) * 1e6 / (double)(n + conflicts), batch, sync_full);
	return 0;
}
