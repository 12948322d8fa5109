/* clinic.h -- the demo clinic (server/demo.c) as integration tests use it:
 * its logins, its calendar and the events its boards hear.
 *
 * A test file runs its tests on one server, clinic_srv, started by
 * clinic_start (or the group fixtures clinic_setup_ny / clinic_teardown):
 * it logs the demo accounts in once, and open_as then opens connections as
 * them by resuming those sessions instead of logging in again (logins are
 * rate limited and each one is pushed as presence).
 *
 * The calendar helpers work in local time: a test that uses them runs the
 * server with --tz and sets the same TZ for its own process, so that a local
 * date here is the clinic's date. Every helper asserts through cmocka. */
#ifndef MF_CLINIC_H
#define MF_CLINIC_H

#include <stdint.h>

#include <jansson.h>

#include "harness.h"

struct account {
	const char	*email;
	char		*token;		/* the session's, allocated */
	int64_t		 user_id;
	int64_t		 id;		/* the doctor or patient record */
};

/* The demo clinic's logins; clinic_start fills them in. */
extern struct account	admin;		/* DEMO_ADMIN */
extern struct account	desk;		/* DEMO_RECEPTION, Maria Lopez */
extern struct account	chen;		/* DEMO_DOCTOR: 20-min slots, Sat too */
extern struct account	okafor;		/* 30-min slots */
extern struct account	raman;		/* 15-min slots; never saw John */
extern struct account	john;		/* DEMO_PATIENT */
extern struct account	emily;

/* The server clinic_start started. */
extern struct tsrv	clinic_srv;
/* For a clock that moves days ahead: the clinic in America/New_York (the
 * test process sets TZ=:America/New_York too), sessions and request budgets
 * that outlive it. */
extern const struct tsrv_opts	clinic_ny_opts;

/* --- the server and logins --- */

/* Starts clinic_srv with opts and logs in the accounts of the NULL-terminated
 * list (NULL: all seven above), with their ids. */
void	 clinic_start(const struct tsrv_opts *opts, struct account *const *accts);
/* Stops clinic_srv and frees the tokens. */
void	 clinic_stop(void);
/* cmocka group fixtures: clinic_start(&clinic_ny_opts, NULL), clinic_stop. */
int	 clinic_setup_ny(void **state);
int	 clinic_teardown(void **state);
/* Connects to clinic_srv and resumes a's session. */
void	 open_as(struct tcli *, const struct account *a);

/* Logs a in (replacing an older token) and sets its user_id. */
void	 clinic_login(const struct tsrv *, struct account *a);
/* Sets id of a logged-in account: a doctor's profile (as doctors.list shows
 * it), a patient's record (patients.get); 0 for staff. */
void	 clinic_find_id(const struct tsrv *, struct account *a);
/* Connects and resumes a's session. */
void	 clinic_open(struct tcli *, const struct tsrv *, const struct account *a);
/* The doctor profile of a doctor login, among those whose name holds name
 * (NULL: any); fails the test when there is none. */
int64_t	 doctor_id_of(struct tcli *, int64_t user_id, const char *name);
/* A new patient record named name (patients.create as c); its id. */
int64_t	 new_patient(struct tcli *c, const char *name);

/* --- the calendar (local time: the clinic's zone) --- */

/* The server's clock (test.clock). */
int64_t	 server_now(struct tcli *);
/* Moves the server clock to t (forward only). */
void	 clock_to(struct tcli *, int64_t t);
/* The instant of local HH:MM on a local date "YYYY-MM-DD". */
int64_t	 at(const char *date, int hour, int minute);
/* The local date d days after the server's today. */
void	 days_ahead(struct tcli *, int d, char out[11]);
/* The first date with ISO weekday wd (1 = Monday) at least min_days after
 * the server's today. */
void	 day_ahead(struct tcli *, int min_days, int wd, char out[11]);
/* Week w ahead: day_ahead(7 * w); tests of a file own disjoint weeks. */
#define week_day(c, w, wd, out)	day_ahead((c), 7 * (w), (wd), (out))

/* --- appointments and events --- */

/* Books (as c) and returns the appointment's id. */
int64_t	 book(struct tcli *, int64_t doctor, int64_t patient, int64_t starts_at);
/* Waits for the next event named name; a new reference, or NULL on timeout. */
json_t	*read_event(struct tcli *, const char *name, int timeout_ms);
/* Events named name (NULL: any) that reach c before the reply to a request
 * sent now. */
int	 events_pending(struct tcli *, const char *name);
/* Runs one statement on clinic_srv's database file from outside the server,
 * as an operator's sqlite3 shell would. */
void	 outside_exec(const char *sql);

#endif
