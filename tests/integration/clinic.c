/* clinic.c -- the demo clinic's logins, calendar and events for integration
 * tests (see clinic.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "clinic.h"
#include "json.h"
#include "mp.h"

struct account	admin = { DEMO_ADMIN, NULL, 0, 0 };
struct account	desk = { DEMO_RECEPTION, NULL, 0, 0 };
struct account	chen = { DEMO_DOCTOR, NULL, 0, 0 };
struct account	okafor = { "m.okafor@test.com", NULL, 0, 0 };
struct account	raman = { "p.raman@test.com", NULL, 0, 0 };
struct account	john = { DEMO_PATIENT, NULL, 0, 0 };
struct account	emily = { "emily.johnson@test.com", NULL, 0, 0 };

static struct account *const everyone[] = { &admin, &desk, &chen, &okafor,
    &raman, &john, &emily, NULL };

struct tsrv	clinic_srv;

static const char *const ny_args[] = { "--tz", "America/New_York", NULL };
const struct tsrv_opts clinic_ny_opts = {
	.args = ny_args,
	.config = "session_idle = 3650d\nsession_lifetime = 3650d\n"
	    "rl_api = 100000/15m\n",
};

/* --- the server and logins --- */

void
clinic_start(const struct tsrv_opts *opts, struct account *const *accts)
{
	struct account *const	*a;

	srv_start(&clinic_srv, opts);
	for (a = accts != NULL ? accts : everyone; *a != NULL; a++) {
		clinic_login(&clinic_srv, *a);
		clinic_find_id(&clinic_srv, *a);
	}
}

void
clinic_stop(void)
{
	struct account *const	*a;

	srv_stop(&clinic_srv);
	for (a = everyone; *a != NULL; a++) {
		free((*a)->token);
		(*a)->token = NULL;
	}
}

int
clinic_setup_ny(void **state)
{
	(void)state;
	clinic_start(&clinic_ny_opts, NULL);
	return 0;
}

int
clinic_teardown(void **state)
{
	(void)state;
	clinic_stop();
	return 0;
}

void
open_as(struct tcli *c, const struct account *a)
{
	clinic_open(c, &clinic_srv, a);
}

void
clinic_login(const struct tsrv *s, struct account *a)
{
	struct tcli	c;

	cli_open(&c, s);
	free(a->token);
	a->token = cli_login(&c, a->email, DEMO_PASSWORD);
	a->user_id = jint(call_ok(&c, "auth.me", NULL), "user.id");
	assert_true(a->user_id > 0);
	cli_close(&c);
}

void
clinic_find_id(const struct tsrv *s, struct account *a)
{
	struct tcli	 c;
	const char	*role;

	clinic_open(&c, s, a);
	role = jstr(call_ok(&c, "auth.me", NULL), "user.role");
	assert_non_null(role);
	if (strcmp(role, "doctor") == 0)
		a->id = doctor_id_of(&c, a->user_id, NULL);
	else if (strcmp(role, "patient") == 0) {
		a->id = jint(call_ok(&c, "patients.get", "{}"), "patient.id");
		assert_true(a->id > 0);
	} else
		a->id = 0;
	cli_close(&c);
}

void
clinic_open(struct tcli *c, const struct tsrv *s, const struct account *a)
{
	cli_open(c, s);
	call_ok(c, "auth.resume", "{s:s}", "token", a->token);
}

int64_t
new_patient(struct tcli *c, const char *name)
{
	int64_t	id = jint(call_ok(c, "patients.create", "{s:s}", "full_name", name),
	    "patient.id");

	assert_true(id > 0);
	return id;
}

int64_t
doctor_id_of(struct tcli *c, int64_t user_id, const char *name)
{
	json_t	*list, *d;
	size_t	 i;

	list = jpath(call_ok(c, "doctors.list", "{s:s?, s:i}", "q", name, "limit", 200),
	    "doctors");
	json_array_foreach(list, i, d) {
		if (jint(d, "user_id") == user_id)
			return jint(d, "id");
	}
	fail_msg("no doctor profile for user %lld", (long long)user_id);
	return 0;
}

/* --- the calendar --- */

int64_t
server_now(struct tcli *c)
{
	return jint(call_ok(c, "test.clock", "{s:i}", "advance", 0), "now");
}

void
clock_to(struct tcli *c, int64_t t)
{
	int64_t	now = server_now(c);

	assert_true(t >= now);
	clock_forward(c, t - now);
}

/* Never a DST-ambiguous time in these tests: mktime picks. */
int64_t
at(const char *date, int hour, int minute)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	assert_int_equal(sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday), 3);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* Noon of the server's today plus d days, normalized (noon keeps clear of
 * DST edges). */
static void
noon_ahead(struct tcli *c, int d, struct tm *tm)
{
	time_t	t = (time_t)server_now(c);

	localtime_r(&t, tm);
	tm->tm_hour = 12;
	tm->tm_min = tm->tm_sec = 0;
	tm->tm_isdst = -1;
	tm->tm_mday += d;
	mktime(tm);
}

void
days_ahead(struct tcli *c, int d, char out[11])
{
	struct tm	tm;

	noon_ahead(c, d, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

void
day_ahead(struct tcli *c, int min_days, int wd, char out[11])
{
	struct tm	tm;

	noon_ahead(c, min_days, &tm);
	while ((tm.tm_wday + 6) % 7 + 1 != wd) {
		tm.tm_mday++;
		tm.tm_isdst = -1;
		mktime(&tm);
	}
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* --- appointments and events --- */

int64_t
book(struct tcli *c, int64_t doctor, int64_t patient, int64_t starts_at)
{
	json_t	*res;

	res = call_ok(c, "appt.book", "{s:I, s:I, s:I}", "doctor_id", (json_int_t)doctor,
	    "patient_id", (json_int_t)patient, "starts_at", (json_int_t)starts_at);
	assert_true(jint(res, "appointment.id") > 0);
	assert_int_equal(jint(res, "appointment.starts_at"), starts_at);
	return jint(res, "appointment.id");
}

json_t *
read_event(struct tcli *c, const char *name, int timeout_ms)
{
	const msgpack_object	*o, *ev;
	struct timespec		 t0, t1;
	int			 left = timeout_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0) {
		if (mfc_read(&c->mc, left, &o) != 0)
			return NULL;
		ev = mp_map_get(o, "event");
		if (mp_map_get(o, "id") == NULL && ev != NULL && mp_str_eq(ev, name))
			return msgpack_to_json(o);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
	return NULL;
}

struct seen {
	const char	*name;
	int		 n;
};

static void
count_event(const msgpack_object *o, void *arg)
{
	struct seen	*s = arg;

	if (s->name == NULL || mp_str_eq(mp_map_get(o, "event"), s->name))
		s->n++;
}

int
events_pending(struct tcli *c, const char *name)
{
	struct seen	s = { name, 0 };

	c->mc.on_event = count_event;
	c->mc.on_event_arg = &s;
	call_ok(c, "health", NULL);
	c->mc.on_event = NULL;
	c->mc.on_event_arg = NULL;
	return s.n;
}

void
outside_exec(const char *sql)
{
	sqlite3	*db = NULL;
	char	*err = NULL;

	assert_int_equal(sqlite3_open(clinic_srv.db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}
