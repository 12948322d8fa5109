/* test_appt.c -- scheduling against a real mediflowd in America/New_York:
 * doctors and their hours, free slots (breaks, leave, holidays, extra
 * sessions, DST nights), double-booking races, the appointment workflow,
 * rescheduling, ownership, bad input, live updates and stats.
 *
 * One server for the file, with the demo clinic as its data. The tests run
 * in order: the first counts the untouched demo week, the last ones move the
 * server clock forward. Each test books on days of its own (week W of the
 * calendar ahead), so no test sees another's appointments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clinic.h"
#include "harness.h"
#include "json.h"
#include "mp.h"
#include "util.h"

#define RACERS		100
#define EVENT_WAIT_MS	(5000 * test_time_scale())

/* --- the clinic's calendar (this process runs in the clinic's zone) --- */

static void
local_date(int64_t t, char out[11])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

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

/* The local date days after date (noon avoids DST edges). */
static void
date_plus(const char *date, int days, char out[11])
{
	local_date(at(date, 12, 0) + (int64_t)days * 86400, out);
}

/* --- slots and appointments --- */

struct day_slots {
	size_t	n;
	int64_t	start[256];
	int64_t	end[256];
};

static void
get_slots(struct tcli *c, int64_t doctor, const char *date, struct day_slots *s)
{
	json_t	*res, *list, *e;
	size_t	 i;

	res = call_ok(c, "appt.slots", "{s:I, s:s}", "doctor_id", (json_int_t)doctor,
	    "date", date);
	assert_int_equal(jint(res, "doctor_id"), doctor);
	assert_jstr(res, "date", date);
	list = jpath(res, "slots");
	assert_true(json_is_array(list));
	s->n = 0;
	json_array_foreach(list, i, e) {
		assert_true(s->n < nitems(s->start));
		s->start[s->n] = jint(e, "starts_at");
		s->end[s->n] = jint(e, "ends_at");
		assert_true(s->end[s->n] > s->start[s->n]);
		if (s->n > 0)
			assert_true(s->start[s->n] > s->start[s->n - 1]);
		s->n++;
	}
}

static size_t
count_slots(struct tcli *c, int64_t doctor, const char *date)
{
	struct day_slots	s;

	get_slots(c, doctor, date, &s);
	return s.n;
}

static int
slot_free(struct tcli *c, int64_t doctor, const char *date, int64_t t)
{
	struct day_slots	s;
	size_t			i;

	get_slots(c, doctor, date, &s);
	for (i = 0; i < s.n; i++) {
		if (s.start[i] == t)
			return 1;
	}
	return 0;
}

/* A new doctor login with no hours yet; returns the doctor id. */
static int64_t
new_doctor(struct tcli *adm, const char *name)
{
	char	*email = unique_email("doctor");
	int64_t	 uid, id;

	uid = jint(call_ok(adm, "users.create", "{s:s, s:s, s:s, s:s}", "email", email,
	    "full_name", name, "role", "doctor", "password", STRONG_PASSWORD), "user.id");
	free(email);
	id = doctor_id_of(adm, uid, NULL);
	assert_int_equal(json_array_size(jpath(call_ok(adm, "availability.get",
	    "{s:I}", "doctor_id", (json_int_t)id), "weekly")), 0);
	return id;
}

/* A patient books for themselves; returns the id. */
static int64_t
book_self(struct tcli *c, int64_t doctor, int64_t starts_at)
{
	json_t	*res;

	res = call_ok(c, "appt.book", "{s:I, s:I}", "doctor_id", (json_int_t)doctor,
	    "starts_at", (json_int_t)starts_at);
	assert_jstr(res, "appointment.status", "requested");
	return jint(res, "appointment.id");
}

#define assert_status(c, id, want) \
	assert_jstr(call_ok((c), "appt.get", "{s:I}", "id", (json_int_t)(id)), \
	    "appointment.status", (want))

/* How many appointments of any status appt.list gives c over a year from a
 * month ago. */
static size_t
count_all(struct tcli *c)
{
	int64_t	from = server_now(c) - 30 * 86400;
	json_t	*list;

	list = jpath(call_ok(c, "appt.list", "{s:I, s:I, s:i}", "from", (json_int_t)from,
	    "to", (json_int_t)(from + 366 * 86400), "limit", 500), "appointments");
	assert_true(json_array_size(list) < 500);
	return json_array_size(list);
}

/* Active appointments of a doctor starting in [from, to). */
static size_t
count_active(struct tcli *c, int64_t doctor, const char *date, int64_t from,
    int64_t to)
{
	static const char *const active[] = { "requested", "approved", "checked_in",
	    "in_progress" };
	json_t	*list, *a;
	size_t	 i, j, n = 0;

	list = jpath(call_ok(c, "appt.list", "{s:s, s:I}", "date", date, "doctor_id",
	    (json_int_t)doctor), "appointments");
	json_array_foreach(list, i, a) {
		if (jint(a, "starts_at") < from || jint(a, "starts_at") >= to)
			continue;
		for (j = 0; j < nitems(active); j++)
			n += strcmp(jstr(a, "status"), active[j]) == 0;
	}
	return n;
}

/* --- raw frames: many requests in flight, and events --- */

/* Sends a request without waiting; steals args. */
static void
send_json(struct tcli *c, const char *op, json_t *args)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint64_t	id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_to_msgpack(args, &pk);
	assert_int_equal(mfc_send(&c->mc, op, sb.data, sb.size, &id), 0);
	msgpack_sbuffer_destroy(&sb);
	json_decref(args);
}

/* Counts every event (an on_event hook). */
static void
count_event(const msgpack_object *o, void *arg)
{
	(void)o;
	(*(int *)arg)++;
}

/* The next reply on c, skipping events; a new reference. */
static json_t *
read_reply(struct tcli *c)
{
	const msgpack_object	*o;

	for (;;) {
		assert_int_equal(mfc_read(&c->mc, CALL_TIMEOUT_MS, &o), 0);
		if (mp_map_get(o, "id") != NULL)
			return msgpack_to_json(o);
	}
}

/* ================================================================== */

/* --- stats.appointments (first: the demo week is untouched) --- */

static void
test_stats_count_the_demo_week(void **state)
{
	static const struct {
		const char	*status;
		int64_t		 n;
	} want[] = {
		{ "requested", 3 }, { "approved", 5 }, { "rejected", 1 },
		{ "cancelled", 1 }, { "checked_in", 1 }, { "in_progress", 1 },
		{ "completed", 4 }, { "no_show", 1 }, { "rescheduled", 0 },
	};
	static const int64_t	per_day[] = { 2, 2, 2, 4, 3, 2, 1, 1 };
	struct tcli		 a, c;
	json_t			*res, *d;
	int64_t			 now, sum = 0;
	size_t			 i;

	(void)state;
	open_as(&a, &admin);
	now = server_now(&a);
	res = call_ok(&a, "stats.appointments", "{s:I, s:I}", "from",
	    (json_int_t)(now - 8 * 86400), "to", (json_int_t)(now + 8 * 86400));
	assert_int_equal(jint(res, "total"), 17);
	for (i = 0; i < nitems(want); i++) {
		char	path[64];

		snprintf(path, sizeof path, "by_status.%s", want[i].status);
		assert_int_equal(jint(res, path), want[i].n);
	}
	/* Per doctor: Chen 8, Okafor 5, Raman 4; by doctor id. */
	assert_int_equal(json_array_size(jpath(res, "by_doctor")), 3);
	json_array_foreach(jpath(res, "by_doctor"), i, d) {
		int64_t	id = jint(d, "doctor_id");

		if (id == chen.id) {
			assert_int_equal(jint(d, "total"), 8);
			assert_jstr(d, "name", "Dr. Sarah Chen");
			assert_int_equal(jint(d, "by_status.completed"), 2);
			assert_int_equal(jint(d, "by_status.no_show"), 1);
		} else if (id == okafor.id) {
			assert_int_equal(jint(d, "total"), 5);
			assert_int_equal(jint(d, "by_status.cancelled"), 1);
		} else {
			assert_int_equal(id, raman.id);
			assert_int_equal(jint(d, "total"), 4);
			assert_int_equal(jint(d, "by_status.rejected"), 1);
		}
		sum += jint(d, "total");
	}
	assert_int_equal(sum, 17);
	/* Eight clinic days, from three days ago to four ahead. */
	assert_int_equal(json_array_size(jpath(res, "by_day")), nitems(per_day));
	json_array_foreach(jpath(res, "by_day"), i, d) {
		assert_int_equal(jint(d, "count"), per_day[i]);
		assert_int_equal(strlen(jstr(d, "date")), 10);
	}
	/* One no-show among five concluded; five waits of 12 minutes. */
	assert_true(json_real_value(jpath(res, "no_show_rate")) > 0.199 &&
	    json_real_value(jpath(res, "no_show_rate")) < 0.201);
	assert_true(json_real_value(jpath(res, "avg_wait_seconds")) > 719.9 &&
	    json_real_value(jpath(res, "avg_wait_seconds")) < 720.1);

	/* An empty range. */
	res = call_ok(&a, "stats.appointments", "{s:I, s:I}", "from",
	    (json_int_t)(now + 400 * 86400), "to", (json_int_t)(now + 401 * 86400));
	assert_int_equal(jint(res, "total"), 0);
	assert_true(json_is_null(jpath(res, "avg_wait_seconds")));

	call_err(&a, "stats.appointments", "bad_request", "{s:I, s:I}", "from",
	    (json_int_t)now, "to", (json_int_t)now);
	call_err(&a, "stats.appointments", "bad_request", "{s:I, s:I}", "from",
	    (json_int_t)now, "to", (json_int_t)(now + 367 * 86400));
	call_err(&a, "stats.appointments", "bad_request", "{s:I}", "from", (json_int_t)now);
	call_err(&a, "stats.appointments", "bad_request", "{s:I, s:I, s:b}", "from",
	    (json_int_t)now, "to", (json_int_t)(now + 86400), "by_room", 1);
	call_ok(&a, "stats.appointments", "{s:I, s:I}", "from", (json_int_t)now, "to",
	    (json_int_t)(now + 366 * 86400));
	cli_close(&a);

	open_as(&c, &desk);
	call_err(&c, "stats.appointments", "forbidden", "{s:I, s:I}", "from",
	    (json_int_t)now, "to", (json_int_t)(now + 86400));
	cli_close(&c);
	open_as(&c, &chen);
	call_err(&c, "stats.appointments", "forbidden", "{s:I, s:I}", "from",
	    (json_int_t)now, "to", (json_int_t)(now + 86400));
	cli_close(&c);
	open_as(&c, &john);
	call_err(&c, "stats.appointments", "forbidden", "{s:I, s:I}", "from",
	    (json_int_t)now, "to", (json_int_t)(now + 86400));
	cli_close(&c);
}

/* A doctor's whole name, however long, in every row of the stats. */
static void
test_stats_keep_long_doctor_names(void **state)
{
	struct tcli	 a, r;
	char		 name[2 * 200 + 8], tue[11], wed[11];
	int64_t		 doc;
	json_t		*res;
	int		 i;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	/* 200 characters, 400 bytes of UTF-8. */
	name[0] = '\0';
	for (i = 0; i < 200; i++)
		strcat(name, i % 10 == 5 ? " " : "\xc3\xa9");
	doc = new_doctor(&a, name);
	call_ok(&r, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}]}", "doctor_id",
	    (json_int_t)doc, "weekly", "weekday", 2, "start", "09:00", "end", "12:00",
	    "slot_minutes", 30);
	week_day(&r, 9, 2, tue);
	date_plus(tue, 1, wed);
	book(&r, doc, new_patient(&r, "Long Name Fan"), at(tue, 9, 0));
	res = call_ok(&a, "stats.appointments", "{s:I, s:I}", "from",
	    (json_int_t)at(tue, 0, 0), "to", (json_int_t)at(wed, 0, 0));
	assert_int_equal(jint(res, "total"), 1);
	assert_int_equal(jint(res, "by_doctor.0.doctor_id"), doc);
	assert_jstr(res, "by_doctor.0.name", name);
	assert_jstr(res, "by_day.0.date", tue);
	cli_close(&r);
	cli_close(&a);
}

/*
 * A booking checks its time against its day's plan, which the server
 * keeps between bookings: every change to the hours, by any of the
 * three ops or by another process, is seen by the next booking of the
 * same day.
 */
static void
test_bookings_follow_every_change_to_the_hours(void **state)
{
	struct tcli	 a, r;
	char		 tue[11], sql[256];
	int64_t		 doc, pat, leave;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	doc = new_doctor(&a, "Dr. Kept Plan");
	pat = new_patient(&r, "Kept Plan Patient");
	week_day(&r, 15, 2, tue);
#define BOOK_AT(h, m) cli_call(&r, "appt.book", "{s:I, s:I, s:I}", \
	"doctor_id", (json_int_t)doc, "patient_id", (json_int_t)pat, \
	"starts_at", (json_int_t)at(tue, (h), (m)))
	call_ok(&r, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}]}", "doctor_id",
	    (json_int_t)doc, "weekly", "weekday", 2, "start", "09:00", "end", "12:00",
	    "slot_minutes", 30);
	reply_ok(BOOK_AT(9, 0));
	reply_err(BOOK_AT(13, 0), "conflict");

	/* New hours: the morning is gone, the afternoon is there. */
	call_ok(&r, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}]}", "doctor_id",
	    (json_int_t)doc, "weekly", "weekday", 2, "start", "13:00", "end", "17:00",
	    "slot_minutes", 30);
	reply_err(BOOK_AT(10, 0), "conflict");
	reply_ok(BOOK_AT(13, 0));

	/* A day of leave closes it; taking the leave back opens it. */
	leave = jint(call_ok(&r, "availability.add_exception", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)doc, "date", tue, "kind", "leave"), "exception.id");
	reply_err(BOOK_AT(14, 0), "conflict");
	call_ok(&r, "availability.remove_exception", "{s:I}", "id", (json_int_t)leave);
	reply_ok(BOOK_AT(14, 0));

	/* Another process's writes, both ways. */
	snprintf(sql, sizeof sql, "DELETE FROM availability WHERE doctor_id = %lld",
	    (long long)doc);
	outside_exec(sql);
	reply_err(BOOK_AT(15, 0), "conflict");
	snprintf(sql, sizeof sql, "INSERT INTO availability (doctor_id, weekday, "
	    "start_min, end_min, slot_minutes) VALUES (%lld, 2, 540, 600, 30)",
	    (long long)doc);
	outside_exec(sql);
	reply_ok(BOOK_AT(9, 30));
	reply_err(BOOK_AT(15, 0), "conflict");
#undef BOOK_AT
	cli_close(&r);
	cli_close(&a);
}

/* --- doctors --- */

static void
test_doctors_list_get_update(void **state)
{
	struct tcli	 p, d, d2, a, r;
	json_t		*res, *specs;
	char		*long_text;

	(void)state;
	open_as(&p, &john);
	res = call_ok(&p, "doctors.list", NULL);
	assert_int_equal(jint(res, "total"), 3);
	assert_int_equal(json_array_size(jpath(res, "doctors")), 3);
	/* By name. */
	assert_jstr(res, "doctors.0.full_name", "Dr. Michael Okafor");
	assert_jstr(res, "doctors.1.full_name", "Dr. Priya Raman");
	assert_jstr(res, "doctors.2.full_name", "Dr. Sarah Chen");
	res = call_ok(&p, "doctors.list", "{s:s}", "specialty", "cardiology");
	assert_int_equal(jint(res, "total"), 1);
	assert_int_equal(jint(res, "doctors.0.id"), okafor.id);
	res = call_ok(&p, "doctors.list", "{s:s}", "q", "CHEN");
	assert_int_equal(jint(res, "total"), 1);
	assert_int_equal(jint(res, "doctors.0.id"), chen.id);
	res = call_ok(&p, "doctors.list", "{s:i, s:i}", "limit", 1, "offset", 1);
	assert_int_equal(jint(res, "total"), 3);
	assert_int_equal(json_array_size(jpath(res, "doctors")), 1);
	assert_int_equal(jint(res, "doctors.0.id"), raman.id);
	assert_int_equal(jint(call_ok(&p, "doctors.list", "{s:s}", "q", "%"), "total"), 0);
	call_err(&p, "doctors.list", "bad_request", "{s:i}", "limit", 0);
	call_err(&p, "doctors.list", "bad_request", "{s:i}", "limit", 201);
	call_err(&p, "doctors.list", "bad_request", "{s:s}", "specialty", "");
	call_err(&p, "doctors.list", "bad_request", "{s:s}", "name", "Chen");

	res = call_ok(&p, "doctors.get", "{s:I}", "id", (json_int_t)chen.id);
	assert_jstr(res, "doctor.full_name", "Dr. Sarah Chen");
	assert_jstr(res, "doctor.email", DEMO_DOCTOR);
	assert_jstr(res, "doctor.room", "101");
	assert_int_equal(jint(res, "doctor.consult_minutes"), 20);
	assert_int_equal(jint(res, "doctor.user_id"), chen.user_id);
	assert_true(json_is_true(jpath(res, "doctor.active")));
	assert_int_equal(json_array_size(jpath(res, "doctor.specialties")), 2);
	call_err(&p, "doctors.get", "not_found", "{s:i}", "id", 99999);
	call_err(&p, "doctors.get", "bad_request", "{s:s}", "id", "1");
	call_err(&p, "doctors.get", "bad_request", "{}");
	/* Patients may not edit a profile. */
	call_err(&p, "doctors.update", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "room", "999");
	cli_close(&p);

	/* The doctor edits their own profile. */
	open_as(&d, &chen);
	res = call_ok(&d, "doctors.update", "{s:I, s:s, s:s, s:[s, s, s]}", "id",
	    (json_int_t)chen.id, "room", "105", "bio", "Twenty years in family practice.\n"
	    "Speaks Mandarin.", "specialties", "General Practice", "Family Medicine",
	    "Travel Medicine");
	assert_jstr(res, "doctor.room", "105");
	specs = jpath(res, "doctor.specialties");
	assert_int_equal(json_array_size(specs), 3);
	res = call_ok(&d, "doctors.get", "{s:I}", "id", (json_int_t)chen.id);
	assert_jstr(res, "doctor.room", "105");
	assert_jstr(res, "doctor.bio", "Twenty years in family practice.\nSpeaks Mandarin.");
	assert_jstr(res, "doctor.qualifications", "MD, Board Certified in Family Medicine");
	assert_int_equal(jint(call_ok(&d, "doctors.list", "{s:s}", "specialty",
	    "Travel Medicine"), "total"), 1);
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:i}", "id",
	    (json_int_t)chen.id, "consult_minutes", 4);
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:i}", "id",
	    (json_int_t)chen.id, "consult_minutes", 241);
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "specialties", "Cardiology");
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:[s, i]}", "id",
	    (json_int_t)chen.id, "specialties", "Cardiology", 7);
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:[s, s, s, s, s, s, s, s, s]}",
	    "id", (json_int_t)chen.id, "specialties", "a", "b", "c", "d", "e", "f", "g",
	    "h", "i");
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "room", "1\n2");
	long_text = repeat_char('q', 2001);
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "bio", long_text);
	free(long_text);
	call_err(&d, "doctors.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "full_name", "Dr. Who");
	call_err(&d, "doctors.update", "not_found", "{s:i, s:s}", "id", 99999, "room", "1");
	/* Nothing of the refused edits landed. */
	assert_jstr(call_ok(&d, "doctors.get", "{s:I}", "id", (json_int_t)chen.id),
	    "doctor.room", "105");
	cli_close(&d);

	open_as(&d2, &okafor);
	call_err(&d2, "doctors.update", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "room", "666");
	cli_close(&d2);
	open_as(&r, &desk);
	call_err(&r, "doctors.update", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)chen.id, "room", "666");
	cli_close(&r);
	open_as(&a, &admin);
	assert_int_equal(jint(call_ok(&a, "doctors.update", "{s:I, s:i}", "id",
	    (json_int_t)okafor.id, "consult_minutes", 45), "doctor.consult_minutes"), 45);
	/* Specialties are a set (ASCII case ignored), listed in order. */
	res = call_ok(&a, "doctors.update", "{s:I, s:[s, s, s]}", "id",
	    (json_int_t)okafor.id, "specialties", "Internal Medicine", "Cardiology",
	    "cardiology");
	assert_int_equal(json_array_size(jpath(res, "doctor.specialties")), 2);
	assert_jstr(res, "doctor.specialties.0", "Cardiology");
	assert_jstr(res, "doctor.specialties.1", "Internal Medicine");
	assert_int_equal(jint(res, "doctor.consult_minutes"), 45);
	assert_jstr(call_ok(&a, "doctors.get", "{s:I}", "id", (json_int_t)chen.id),
	    "doctor.room", "105");
	cli_close(&a);
}

/* --- availability and free slots --- */

static void
test_availability_get_shows_the_demo_hours(void **state)
{
	struct tcli	 p;
	json_t		*res, *s;
	char		 from[11];
	size_t		 i;
	int		 sat = 0;

	(void)state;
	open_as(&p, &john);
	res = call_ok(&p, "availability.get", "{s:I}", "doctor_id", (json_int_t)chen.id);
	assert_int_equal(jint(res, "doctor_id"), chen.id);
	/* Monday to Friday twice a day, and Saturday morning. */
	assert_int_equal(json_array_size(jpath(res, "weekly")), 11);
	assert_int_equal(jint(res, "weekly.0.weekday"), 1);
	assert_jstr(res, "weekly.0.start", "09:00");
	assert_jstr(res, "weekly.0.end", "12:00");
	assert_int_equal(jint(res, "weekly.0.slot_minutes"), 20);
	assert_jstr(res, "weekly.1.start", "13:00");
	assert_jstr(res, "weekly.1.end", "17:00");
	json_array_foreach(jpath(res, "weekly"), i, s) {
		if (jint(s, "weekday") == 6) {
			sat++;
			assert_jstr(s, "start", "09:00");
			assert_jstr(s, "end", "12:00");
		}
		assert_true(jint(s, "weekday") != 7);
	}
	assert_int_equal(sat, 1);
	assert_int_equal(json_array_size(jpath(res, "breaks")), 5);
	assert_jstr(res, "breaks.0.start", "15:00");
	assert_jstr(res, "breaks.0.end", "15:15");
	assert_null(jpath(res, "breaks.0.slot_minutes"));
	assert_int_equal(json_array_size(jpath(res, "exceptions")), 0);
	res = call_ok(&p, "availability.get", "{s:I}", "doctor_id", (json_int_t)okafor.id);
	assert_int_equal(jint(res, "weekly.0.slot_minutes"), 30);
	assert_int_equal(json_array_size(jpath(res, "weekly")), 10);
	/* Exceptions from a date far ahead: 90 days from there by default. */
	local_date(server_now(&p) + 200 * 86400, from);
	call_ok(&p, "availability.get", "{s:I, s:s}", "doctor_id", (json_int_t)chen.id,
	    "from", from);
	call_err(&p, "availability.get", "not_found", "{s:i}", "doctor_id", 99999);
	call_err(&p, "availability.get", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "from", "2026-02-30");
	call_err(&p, "availability.get", "bad_request", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "from", "2027-01-10", "to", "2027-01-09");
	call_err(&p, "availability.get", "bad_request", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "from", "2027-01-01", "to", "2029-01-02");
	cli_close(&p);
}

static void
test_slots_of_a_future_weekday(void **state)
{
	struct tcli		p;
	struct day_slots	s;
	char			mon[11], sat[11], sun[11];
	size_t			i;

	(void)state;
	open_as(&p, &john);
	week_day(&p, 2, 1, mon);
	week_day(&p, 2, 6, sat);
	week_day(&p, 2, 7, sun);

	/* Chen, 20 minutes: 09:00-12:00 is 9 slots; 13:00-17:00 is 12, less
	 * the one the 15:00-15:15 break touches. */
	get_slots(&p, chen.id, mon, &s);
	assert_int_equal(s.n, 20);
	for (i = 0; i < 9; i++) {
		assert_int_equal(s.start[i], at(mon, 9, 0) + (int64_t)i * 1200);
		assert_int_equal(s.end[i], s.start[i] + 1200);
	}
	assert_int_equal(s.start[9], at(mon, 13, 0));
	assert_int_equal(s.start[14], at(mon, 14, 40));
	assert_int_equal(s.start[15], at(mon, 15, 20));	/* 15:00 is in the break */
	assert_int_equal(s.start[19], at(mon, 16, 40));
	assert_int_equal(s.end[19], at(mon, 17, 0));
	for (i = 0; i < s.n; i++)
		assert_true(s.start[i] != at(mon, 15, 0));

	/* Okafor, 30 minutes: 6 + 8 - 1. Raman, 15 minutes: 12 + 16 - 1. */
	get_slots(&p, okafor.id, mon, &s);
	assert_int_equal(s.n, 13);
	assert_int_equal(s.start[8], at(mon, 14, 0));
	assert_int_equal(s.start[10], at(mon, 15, 30));
	assert_int_equal(count_slots(&p, raman.id, mon), 27);

	/* Saturday: only Chen, mornings; Sunday: nobody. */
	assert_int_equal(count_slots(&p, chen.id, sat), 9);
	assert_int_equal(count_slots(&p, okafor.id, sat), 0);
	assert_int_equal(count_slots(&p, chen.id, sun), 0);
	assert_int_equal(count_slots(&p, raman.id, sun), 0);
	cli_close(&p);
}

static void
test_booked_slot_leaves_the_free_slots(void **state)
{
	struct tcli	r, p;
	char		wed[11];
	int64_t		pat, a, b;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	week_day(&r, 2, 3, wed);
	pat = new_patient(&r, "Slot Taker");

	a = book(&r, chen.id, pat, at(wed, 10, 0));
	assert_false(slot_free(&p, chen.id, wed, at(wed, 10, 0)));
	assert_true(slot_free(&p, chen.id, wed, at(wed, 9, 40)));
	assert_true(slot_free(&p, chen.id, wed, at(wed, 10, 20)));
	assert_int_equal(count_slots(&p, chen.id, wed), 19);

	/* The desk may start anywhere within hours: 10:15 for 30 minutes
	 * takes both of Okafor's 10:00 and 10:30 slots. */
	b = book(&r, okafor.id, new_patient(&r, "Odd Start"), at(wed, 10, 15));
	assert_int_equal(jint(call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)b),
	    "appointment.ends_at"), at(wed, 10, 45));
	assert_false(slot_free(&p, okafor.id, wed, at(wed, 10, 0)));
	assert_false(slot_free(&p, okafor.id, wed, at(wed, 10, 30)));
	assert_true(slot_free(&p, okafor.id, wed, at(wed, 11, 0)));
	assert_int_equal(count_slots(&p, okafor.id, wed), 11);

	/* A cancelled booking gives its slot back. */
	call_ok(&r, "appt.cancel", "{s:I}", "id", (json_int_t)a);
	assert_true(slot_free(&p, chen.id, wed, at(wed, 10, 0)));
	assert_int_equal(count_slots(&p, chen.id, wed), 20);
	cli_close(&p);
	cli_close(&r);
}

/* --- double booking --- */

/* Opens n desk connections with one login (auth.resume of its token). */
static struct tcli *
open_racers(size_t n)
{
	struct tcli	*c = xcalloc(n, sizeof *c);
	size_t		 i;

	for (i = 0; i < n; i++)
		open_as(&c[i], &desk);
	return c;
}

static void
close_racers(struct tcli *c, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		cli_close(&c[i]);
	free(c);
}

/*
 * Every racer sends its appt.book before any reply is read; returns how many
 * succeeded (won[] gets their indexes) and asserts the rest are conflicts.
 */
static size_t
race(struct tcli *c, size_t n, const int64_t *doctor, const int64_t *patient,
    const int64_t *starts_at, size_t *won)
{
	json_t	*reply;
	size_t	 i, ok = 0;

	for (i = 0; i < n; i++)
		send_json(&c[i], "appt.book", json_pack("{s:I, s:I, s:I}", "doctor_id",
		    (json_int_t)doctor[i], "patient_id", (json_int_t)patient[i],
		    "starts_at", (json_int_t)starts_at[i]));
	for (i = 0; i < n; i++) {
		reply = read_reply(&c[i]);
		if (json_is_true(json_object_get(reply, "ok")))
			won[ok++] = i;
		else
			reply_err(reply, "conflict");
		json_decref(reply);
	}
	return ok;
}

static void
test_race_hundred_bookings_of_one_slot_one_wins(void **state)
{
	struct tcli	*c, r;
	int64_t		 doctor[RACERS], patient[RACERS], starts[RACERS], t;
	size_t		 won[RACERS], i;
	char		 mon[11], name[64];
	json_t		*res;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 3, 1, mon);
	t = at(mon, 10, 0);
	for (i = 0; i < RACERS; i++) {
		snprintf(name, sizeof name, "Racer Number %zu", i);
		doctor[i] = chen.id;
		patient[i] = new_patient(&r, name);
		starts[i] = t;
	}
	c = open_racers(RACERS);
	assert_int_equal(race(c, RACERS, doctor, patient, starts, won), 1);
	close_racers(c, RACERS);

	assert_int_equal(count_active(&r, chen.id, mon, t, t + 1), 1);
	res = call_ok(&r, "appt.list", "{s:s, s:I}", "date", mon, "doctor_id",
	    (json_int_t)chen.id);
	assert_int_equal(json_array_size(jpath(res, "appointments")), 1);
	assert_int_equal(jint(res, "appointments.0.patient_id"), patient[won[0]]);
	assert_jstr(res, "appointments.0.status", "approved");
	assert_false(slot_free(&r, chen.id, mon, t));
	cli_close(&r);
}

static void
test_race_overlapping_lengths_one_wins(void **state)
{
	struct tcli	*c, a, r;
	int64_t		 doc, doctor[60], patient[60], starts[60], t;
	size_t		 won[60], i;
	char		 tue[11], name[64];
	json_t		*res;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	doc = new_doctor(&a, "Dr. Thirty Minutes");
	call_ok(&r, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}, "
	    "{s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}]}", "doctor_id", (json_int_t)doc,
	    "weekly", "weekday", 1, "start", "09:00", "end", "17:00", "slot_minutes", 30,
	    "weekday", 2, "start", "09:00", "end", "17:00", "slot_minutes", 30,
	    "weekday", 3, "start", "09:00", "end", "17:00", "slot_minutes", 30);
	week_day(&r, 3, 2, tue);
	t = at(tue, 10, 0);
	assert_int_equal(count_slots(&r, doc, tue), 16);

	/* 10:00, 10:05 ... 10:25, thirty minutes each: every pair overlaps. */
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof name, "Overlap Racer %zu", i);
		doctor[i] = doc;
		patient[i] = new_patient(&r, name);
		starts[i] = t + (int64_t)(i % 6) * 300;
	}
	c = open_racers(60);
	assert_int_equal(race(c, 60, doctor, patient, starts, won), 1);
	close_racers(c, 60);
	assert_int_equal(count_active(&r, doc, tue, t, t + 1800), 1);
	res = call_ok(&r, "appt.list", "{s:s, s:I}", "date", tue, "doctor_id",
	    (json_int_t)doc);
	assert_int_equal(json_array_size(jpath(res, "appointments")), 1);
	assert_int_equal(jint(res, "appointments.0.starts_at"), starts[won[0]]);
	assert_int_equal(jint(res, "appointments.0.ends_at"), starts[won[0]] + 1800);

	/* One after the winner's end still fits; one ending inside it does not. */
	book(&r, doc, new_patient(&r, "After The Winner"), starts[won[0]] + 1800);
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)doc, "patient_id", (json_int_t)patient[0], "starts_at",
	    (json_int_t)(starts[won[0]] - 600));
	cli_close(&r);
	cli_close(&a);
}

static void
test_patient_cannot_hold_overlapping_appointments(void **state)
{
	struct tcli	 r, p, *c;
	char		 wed[11], thu[11];
	int64_t		 pat, t, doctor[3], patient[3], starts[3];
	size_t		 won[3], before;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	week_day(&r, 3, 3, wed);
	week_day(&r, 3, 4, thu);
	pat = new_patient(&r, "Double Booker");
	t = at(wed, 10, 0);

	book(&r, chen.id, pat, t);
	before = count_all(&r);
	/* Another doctor, the same or an overlapping time: refused. */
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)pat, "starts_at", (json_int_t)t);
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)(t + 15 * 60));
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)(t - 10 * 60));
	assert_int_equal(count_all(&r), before);
	/* Back to back is fine. */
	book(&r, raman.id, pat, t + 20 * 60);

	/* The same for a patient booking themselves. */
	book_self(&p, chen.id, at(wed, 11, 0));
	call_err(&p, "appt.book", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "starts_at", (json_int_t)at(wed, 11, 15));
	call_err(&p, "appt.book", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "starts_at", (json_int_t)at(wed, 11, 0));
	book_self(&p, raman.id, at(wed, 11, 30));

	/* And when the three doctors are asked at once. */
	pat = new_patient(&r, "Triple Booker");
	doctor[0] = chen.id;
	doctor[1] = okafor.id;
	doctor[2] = raman.id;
	patient[0] = patient[1] = patient[2] = pat;
	starts[0] = starts[1] = starts[2] = at(thu, 14, 0);
	c = open_racers(3);
	assert_int_equal(race(c, 3, doctor, patient, starts, won), 1);
	close_racers(c, 3);
	cli_close(&p);
	cli_close(&r);
}

/* --- exceptions: leave, clinic holidays, extra sessions --- */

static void
assert_affected(json_t *res, int64_t want)
{
	json_t	*list = jpath(res, "affected_appointments");

	assert_true(json_is_array(list));
	if (want == 0) {
		assert_int_equal(json_array_size(list), 0);
		return;
	}
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(json_integer_value(json_array_get(list, 0)), want);
}

static void
test_exceptions_leave_holiday_and_extra_sessions(void **state)
{
	struct tcli	 r, a, p, d;
	char		 mon[11], tue[11], wed[11], sun[11];
	int64_t		 pat, on_leave, partly, untouched, holiday, leave_id,
			 partial_id, holiday_id, extra_id;
	json_t		*res;
	size_t		 i;

	(void)state;
	open_as(&r, &desk);
	open_as(&a, &admin);
	open_as(&p, &john);
	open_as(&d, &raman);
	week_day(&r, 4, 1, mon);
	week_day(&r, 4, 2, tue);
	week_day(&r, 4, 3, wed);
	week_day(&r, 4, 7, sun);
	pat = new_patient(&r, "Exception Patient");
	on_leave = book(&r, raman.id, pat, at(mon, 10, 0));
	partly = book(&r, raman.id, pat, at(tue, 11, 0));
	untouched = book(&r, raman.id, pat, at(tue, 14, 0));
	holiday = book(&r, chen.id, pat, at(wed, 9, 0));

	/* A whole day of leave: no slots, no bookings, and the desk learns
	 * whom to call. */
	res = call_ok(&r, "availability.add_exception", "{s:I, s:s, s:s, s:s}",
	    "doctor_id", (json_int_t)raman.id, "date", mon, "kind", "leave", "reason",
	    "Conference");
	leave_id = jint(res, "exception.id");
	assert_true(leave_id > 0);
	assert_jstr(res, "exception.kind", "leave");
	assert_jstr(res, "exception.date", mon);
	assert_true(json_is_null(jpath(res, "exception.start")));
	assert_jstr(res, "exception.reason", "Conference");
	assert_affected(res, on_leave);
	assert_int_equal(count_slots(&p, raman.id, mon), 0);
	assert_int_equal(count_slots(&p, chen.id, mon), 20);
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)at(mon, 14, 0));
	/* The appointment itself stays until someone moves it. */
	assert_status(&r, on_leave, "approved");

	/* Part of a day, added by the doctor: 10:30-12:00 is six slots. */
	res = call_ok(&d, "availability.add_exception", "{s:I, s:s, s:s, s:s, s:s}",
	    "doctor_id", (json_int_t)raman.id, "date", tue, "kind", "leave", "start",
	    "10:30", "end", "12:00");
	partial_id = jint(res, "exception.id");
	assert_jstr(res, "exception.start", "10:30");
	assert_jstr(res, "exception.end", "12:00");
	assert_affected(res, partly);
	assert_int_equal(count_slots(&p, raman.id, tue), 27 - 6 - 1);
	assert_true(slot_free(&p, raman.id, tue, at(tue, 10, 15)));
	assert_false(slot_free(&p, raman.id, tue, at(tue, 10, 30)));
	assert_false(slot_free(&p, raman.id, tue, at(tue, 11, 45)));
	call_err(&p, "appt.book", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "starts_at", (json_int_t)at(tue, 10, 45));
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "patient_id", (json_int_t)new_patient(&r, "Late"),
	    "starts_at", (json_int_t)at(tue, 10, 20));
	assert_status(&r, untouched, "approved");

	/* A clinic holiday closes every doctor; only an admin declares one. */
	call_err(&r, "availability.add_exception", "forbidden", "{s:s, s:s}", "date",
	    wed, "kind", "holiday");
	call_err(&a, "availability.add_exception", "bad_request", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", wed, "kind", "holiday");
	res = call_ok(&a, "availability.add_exception", "{s:s, s:s, s:s}", "date", wed,
	    "kind", "holiday", "reason", "Clinic closed");
	holiday_id = jint(res, "exception.id");
	assert_true(json_is_null(jpath(res, "exception.doctor_id")));
	assert_affected(res, holiday);
	assert_int_equal(count_slots(&p, chen.id, wed), 0);
	assert_int_equal(count_slots(&p, okafor.id, wed), 0);
	assert_int_equal(count_slots(&p, raman.id, wed), 0);
	/* Every doctor's availability.get lists it (from today, 90 days). */
	res = call_ok(&p, "availability.get", "{s:I}", "doctor_id", (json_int_t)okafor.id);
	assert_int_equal(json_array_size(jpath(res, "exceptions")), 1);
	assert_jstr(res, "exceptions.0.kind", "holiday");

	/* An extra session on a Sunday. */
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)raman.id, "date", sun, "kind", "extra");
	call_err(&r, "availability.add_exception", "bad_request",
	    "{s:I, s:s, s:s, s:s, s:s, s:i}", "doctor_id", (json_int_t)raman.id,
	    "date", sun, "kind", "extra", "start", "10:00", "end", "10:20",
	    "slot_minutes", 30);
	res = call_ok(&r, "availability.add_exception", "{s:I, s:s, s:s, s:s, s:s, s:i}",
	    "doctor_id", (json_int_t)raman.id, "date", sun, "kind", "extra", "start",
	    "10:00", "end", "12:00", "slot_minutes", 30);
	extra_id = jint(res, "exception.id");
	assert_int_equal(jint(res, "exception.slot_minutes"), 30);
	assert_affected(res, 0);
	assert_int_equal(count_slots(&p, raman.id, sun), 4);
	assert_true(slot_free(&p, raman.id, sun, at(sun, 11, 30)));
	assert_int_equal(count_slots(&p, chen.id, sun), 0);
	res = call_ok(&d, "availability.get", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)raman.id, "from", mon, "to", mon);
	assert_int_equal(json_array_size(jpath(res, "exceptions")), 1);
	assert_int_equal(jint(res, "exceptions.0.id"), leave_id);
	assert_int_equal(jint(res, "exceptions.0.doctor_id"), raman.id);
	res = call_ok(&d, "availability.get", "{s:I}", "doctor_id", (json_int_t)raman.id);
	assert_int_equal(json_array_size(jpath(res, "exceptions")), 4);
	/* By date. */
	for (i = 1; i < 4; i++)
		assert_true(strcmp(jstr(json_array_get(jpath(res, "exceptions"), i - 1),
		    "date"), jstr(json_array_get(jpath(res, "exceptions"), i), "date")) < 0);

	/* Who may remove what. */
	call_err(&r, "availability.remove_exception", "forbidden", "{s:I}", "id",
	    (json_int_t)holiday_id);
	call_err(&p, "availability.remove_exception", "forbidden", "{s:I}", "id",
	    (json_int_t)leave_id);
	call_err(&r, "availability.remove_exception", "not_found", "{s:i}", "id", 999999);

	/* Removing each gives the slots back. */
	assert_int_equal(jint(call_ok(&r, "availability.remove_exception", "{s:I}", "id",
	    (json_int_t)leave_id), "exception.id"), leave_id);
	assert_int_equal(count_slots(&p, raman.id, mon), 27 - 1);
	call_ok(&d, "availability.remove_exception", "{s:I}", "id", (json_int_t)partial_id);
	assert_int_equal(count_slots(&p, raman.id, tue), 27 - 2);
	call_ok(&a, "availability.remove_exception", "{s:I}", "id", (json_int_t)holiday_id);
	assert_int_equal(count_slots(&p, chen.id, wed), 20 - 1);
	assert_int_equal(count_slots(&p, okafor.id, wed), 13);
	call_ok(&r, "availability.remove_exception", "{s:I}", "id", (json_int_t)extra_id);
	assert_int_equal(count_slots(&p, raman.id, sun), 0);
	call_err(&r, "availability.remove_exception", "not_found", "{s:I}", "id",
	    (json_int_t)extra_id);
	assert_int_equal(json_array_size(jpath(call_ok(&p, "availability.get",
	    "{s:I}", "doctor_id", (json_int_t)raman.id), "exceptions")), 0);
	cli_close(&d);
	cli_close(&p);
	cli_close(&a);
	cli_close(&r);
}

/* --- DST --- */

/* The UTC midnight of the n-th Sunday (1-based) of a month. */
static int64_t
nth_sunday(int year, int month, int n)
{
	int64_t		t = utc_at(year, month, 1, 0, 0);
	time_t		tt;
	struct tm	tm;

	for (;;) {
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		if (tm.tm_wday == 0 && --n == 0)
			return t;
		t += 86400;
	}
}

static void
utc_date(int64_t t, char out[11])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The one slot of the 09:00-10:00 weekday session on a date. */
static int64_t
nine_oclock(struct tcli *c, int64_t doctor, const char *date)
{
	struct day_slots	s;

	get_slots(c, doctor, date, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.end[0] - s.start[0], 3600);
	return s.start[0];
}

/*
 * US clocks spring forward on the second Sunday of March (2027-03-14 for a
 * server started in late 2026) and fall back on the first Sunday of
 * November (2027-11-07). A 00:00-06:00 night session of one-hour slots has
 * five slots on the first and seven on the second.
 */
static void
test_dst_days_have_the_hours_that_really_pass(void **state)
{
	struct tcli		 a, r, p;
	struct day_slots	 s;
	char			 spring[11], fall[11], d[11], today[11];
	int64_t			 doc, now, sp, fa, t;
	int			 year;
	size_t			 i;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	open_as(&p, &john);
	now = server_now(&r);
	local_date(now, today);
	year = atoi(today);
	/* The next spring and fall changes, with their Friday before still ahead. */
	sp = nth_sunday(year, 3, 2);
	if (sp < now + 7 * 86400)
		sp = nth_sunday(year + 1, 3, 2);
	fa = nth_sunday(year, 11, 1);
	if (fa < now + 7 * 86400)
		fa = nth_sunday(year + 1, 11, 1);
	utc_date(sp, spring);
	utc_date(fa, fall);

	doc = new_doctor(&a, "Dr. Night Shift");
	call_ok(&r, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}, "
	    "{s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}, "
	    "{s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}]}", "doctor_id", (json_int_t)doc,
	    "weekly",
	    "weekday", 7, "start", "00:00", "end", "06:00", "slot_minutes", 60,
	    "weekday", 1, "start", "09:00", "end", "10:00", "slot_minutes", 60,
	    "weekday", 2, "start", "09:00", "end", "10:00", "slot_minutes", 60,
	    "weekday", 3, "start", "09:00", "end", "10:00", "slot_minutes", 60,
	    "weekday", 4, "start", "09:00", "end", "10:00", "slot_minutes", 60,
	    "weekday", 5, "start", "09:00", "end", "10:00", "slot_minutes", 60);

	/* Spring: midnight EST is 05:00Z; 02:00-03:00 never happens. */
	get_slots(&p, doc, spring, &s);
	assert_int_equal(s.n, 5);
	for (i = 0; i < s.n; i++) {
		assert_int_equal(s.start[i], sp + (int64_t)(5 + i) * 3600);
		assert_int_equal(s.end[i], s.start[i] + 3600);
	}
	/* Fall: midnight EDT is 04:00Z; 01:00-02:00 happens twice. */
	get_slots(&p, doc, fall, &s);
	assert_int_equal(s.n, 7);
	for (i = 0; i < s.n; i++) {
		assert_int_equal(s.start[i], fa + (int64_t)(4 + i) * 3600);
		assert_int_equal(s.end[i], s.start[i] + 3600);
	}

	/* 09:00 local: 14:00Z in winter time, 13:00Z in summer time. */
	utc_date(sp - 2 * 86400, d);		/* the Friday before */
	assert_int_equal(nine_oclock(&p, doc, d), sp - 2 * 86400 + 14 * 3600);
	utc_date(sp + 86400, d);		/* the Monday after */
	assert_int_equal(nine_oclock(&p, doc, d), sp + 86400 + 13 * 3600);
	utc_date(fa - 2 * 86400, d);
	assert_int_equal(nine_oclock(&p, doc, d), fa - 2 * 86400 + 13 * 3600);
	utc_date(fa + 86400, d);
	assert_int_equal(nine_oclock(&p, doc, d), fa + 86400 + 14 * 3600);

	/* The hour after the jump and the second 01:00 can be booked. */
	t = sp + 7 * 3600;			/* 03:00 EDT */
	book(&r, doc, new_patient(&r, "Spring Sleeper"), t);
	assert_int_equal(count_slots(&p, doc, spring), 4);
	assert_false(slot_free(&p, doc, spring, t));
	t = fa + 6 * 3600;			/* 01:00 EST, the second one */
	assert_int_equal(jint(call_ok(&p, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)doc, "starts_at", (json_int_t)t), "appointment.ends_at"), t + 3600);
	assert_int_equal(count_slots(&p, doc, fall), 6);
	assert_true(slot_free(&p, doc, fall, t - 3600));	/* the first 01:00 */
	assert_false(slot_free(&p, doc, fall, t));
	cli_close(&p);
	cli_close(&r);
	cli_close(&a);
}

/* --- how far ahead --- */

/* The last day appt.slots shows can be booked, to its last slot. */
static void
test_booking_horizon_matches_the_slots(void **state)
{
	struct tcli		 a, r, p;
	struct day_slots	 s;
	char			 today[11], last[11], beyond[11];
	int64_t			 doc;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	open_as(&p, &john);
	doc = new_doctor(&a, "Dr. Every Day");
	call_ok(&r, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}, "
	    "{s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}, "
	    "{s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)doc, "weekly",
	    "weekday", 1, "start", "00:00", "end", "24:00", "slot_minutes", 60,
	    "weekday", 2, "start", "00:00", "end", "24:00", "slot_minutes", 60,
	    "weekday", 3, "start", "00:00", "end", "24:00", "slot_minutes", 60,
	    "weekday", 4, "start", "00:00", "end", "24:00", "slot_minutes", 60,
	    "weekday", 5, "start", "00:00", "end", "24:00", "slot_minutes", 60,
	    "weekday", 6, "start", "00:00", "end", "24:00", "slot_minutes", 60,
	    "weekday", 7, "start", "00:00", "end", "24:00", "slot_minutes", 60);
	local_date(server_now(&r), today);
	date_plus(today, 730, last);
	date_plus(today, 731, beyond);
	get_slots(&p, doc, last, &s);
	assert_true(s.n >= 23);
	assert_int_equal(s.start[s.n - 1], at(last, 23, 0));
	/* A patient takes the last slot of the last day; the desk the one before. */
	assert_int_equal(jint(call_ok(&p, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)doc, "starts_at", (json_int_t)s.start[s.n - 1]),
	    "appointment.starts_at"), s.start[s.n - 1]);
	book(&r, doc, new_patient(&r, "Planner Ahead"), s.start[s.n - 2]);
	/* The day after is too far, for slots and bookings alike. */
	call_err(&p, "appt.slots", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)doc, "date", beyond);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)doc, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)at(beyond, 0, 0));
	call_err(&p, "appt.book", "bad_request", "{s:I, s:I}", "doctor_id",
	    (json_int_t)doc, "starts_at", (json_int_t)at(beyond, 1, 0));
	cli_close(&p);
	cli_close(&r);
	cli_close(&a);
}

/* --- reschedule --- */

static void
test_reschedule_is_atomic(void **state)
{
	struct tcli	 r, p;
	char		 mon[11];
	int64_t		 p1, p2, a, b, n, m, j, before;
	json_t		*res;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	week_day(&r, 5, 1, mon);
	p1 = new_patient(&r, "Moving Patient");
	p2 = new_patient(&r, "Staying Patient");
	a = book(&r, chen.id, p1, at(mon, 9, 0));
	b = book(&r, chen.id, p2, at(mon, 10, 0));

	/* Success: the old one is rescheduled, linked both ways, its slot free. */
	res = call_ok(&r, "appt.reschedule", "{s:I, s:I, s:s}", "id", (json_int_t)a,
	    "starts_at", (json_int_t)at(mon, 9, 20), "reason", "Patient asked");
	n = jint(res, "appointment.id");
	assert_true(n > 0 && n != a);
	assert_jstr(res, "appointment.status", "approved");
	assert_int_equal(jint(res, "appointment.starts_at"), at(mon, 9, 20));
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 9, 40));
	assert_int_equal(jint(res, "appointment.rescheduled_from"), a);
	assert_int_equal(jint(res, "appointment.patient_id"), p1);
	assert_int_equal(jint(res, "previous.id"), a);
	assert_jstr(res, "previous.status", "rescheduled");
	assert_int_equal(jint(res, "previous.rescheduled_to"), n);
	assert_jstr(res, "previous.status_note", "Patient asked");
	res = call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)a);
	assert_jstr(res, "appointment.status", "rescheduled");
	assert_int_equal(jint(res, "appointment.rescheduled_to"), n);
	assert_true(slot_free(&p, chen.id, mon, at(mon, 9, 0)));
	assert_false(slot_free(&p, chen.id, mon, at(mon, 9, 20)));
	assert_int_equal(count_slots(&p, chen.id, mon), 18);

	/* Onto a taken slot: nothing changes at all. */
	before = (int64_t)count_all(&r);
	call_err(&r, "appt.reschedule", "conflict", "{s:I, s:I}", "id", (json_int_t)n,
	    "starts_at", (json_int_t)at(mon, 10, 0));
	call_err(&r, "appt.reschedule", "conflict", "{s:I, s:I}", "id", (json_int_t)n,
	    "starts_at", (json_int_t)at(mon, 9, 50));
	/* Outside hours, or in the past: nothing changes either. */
	call_err(&r, "appt.reschedule", "conflict", "{s:I, s:I}", "id", (json_int_t)n,
	    "starts_at", (json_int_t)at(mon, 12, 30));
	call_err(&r, "appt.reschedule", "bad_request", "{s:I, s:I}", "id", (json_int_t)n,
	    "starts_at", (json_int_t)(server_now(&p) - 3600));
	assert_int_equal((int64_t)count_all(&r), before);
	res = call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)n);
	assert_jstr(res, "appointment.status", "approved");
	assert_true(json_is_null(jpath(res, "appointment.rescheduled_to")));
	assert_int_equal(jint(res, "appointment.starts_at"), at(mon, 9, 20));
	assert_status(&r, b, "approved");
	assert_int_equal(count_slots(&p, chen.id, mon), 18);
	assert_int_equal(json_array_size(jpath(call_ok(&r, "appt.history", "{s:I}",
	    "id", (json_int_t)n), "events")), 1);

	/* A rescheduled appointment is final. */
	call_err(&r, "appt.reschedule", "conflict", "{s:I, s:I}", "id", (json_int_t)a,
	    "starts_at", (json_int_t)at(mon, 11, 0));

	/* Onto a time that overlaps its own old one (the patient's, now with
	 * another doctor): the old one is freed first, so no conflict. */
	res = call_ok(&r, "appt.reschedule", "{s:I, s:I, s:I}", "id", (json_int_t)n,
	    "doctor_id", (json_int_t)okafor.id, "starts_at", (json_int_t)at(mon, 9, 0));
	n = jint(res, "appointment.id");
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 9, 30));
	assert_int_equal(jint(res, "appointment.patient_id"), p1);

	/* To another doctor. */
	res = call_ok(&r, "appt.reschedule", "{s:I, s:I, s:I}", "id", (json_int_t)n,
	    "doctor_id", (json_int_t)okafor.id, "starts_at", (json_int_t)at(mon, 14, 0));
	m = jint(res, "appointment.id");
	assert_int_equal(jint(res, "appointment.doctor_id"), okafor.id);
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 14, 30));
	assert_true(slot_free(&p, chen.id, mon, at(mon, 9, 20)));
	assert_false(slot_free(&p, okafor.id, mon, at(mon, 14, 0)));
	call_err(&r, "appt.reschedule", "not_found", "{s:I, s:i, s:I}", "id", (json_int_t)m,
	    "doctor_id", 99999, "starts_at", (json_int_t)at(mon, 14, 0));

	/* A patient moves their own request, onto slots only. */
	j = book_self(&p, chen.id, at(mon, 11, 0));
	res = call_ok(&p, "appt.reschedule", "{s:I, s:I}", "id", (json_int_t)j,
	    "starts_at", (json_int_t)at(mon, 11, 20));
	assert_jstr(res, "appointment.status", "requested");
	j = jint(res, "appointment.id");
	call_err(&p, "appt.reschedule", "conflict", "{s:I, s:I}", "id", (json_int_t)j,
	    "starts_at", (json_int_t)at(mon, 11, 25));
	assert_status(&p, j, "requested");
	cli_close(&p);
	cli_close(&r);
}

/* --- roles and ownership --- */

static void
test_roles_and_ownership(void **state)
{
	struct tcli	 r, pj, pe, d1, d2, a;
	char		 mon[11];
	int64_t		 mine, theirs, stranger, own;
	json_t		*list, *e;
	size_t		 i;

	(void)state;
	open_as(&r, &desk);
	open_as(&pj, &john);
	open_as(&pe, &emily);
	open_as(&d1, &chen);
	open_as(&d2, &okafor);
	open_as(&a, &admin);
	week_day(&r, 6, 1, mon);
	mine = book_self(&pj, chen.id, at(mon, 9, 0));
	theirs = book_self(&pe, chen.id, at(mon, 9, 20));
	stranger = new_patient(&r, "Never Seen Before");

	/* Another patient sees none of it and touches none of it. */
	call_err(&pe, "appt.get", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pe, "appt.history", "forbidden", "{s:I}", "id", (json_int_t)mine);
	/* A missing id answers the same, so ids reveal nothing. */
	call_err(&pe, "appt.get", "forbidden", "{s:i}", "id", 999999);
	call_err(&pe, "appt.history", "forbidden", "{s:i}", "id", 999999);
	call_err(&pe, "appt.list", "forbidden", "{s:I}", "patient_id", (json_int_t)john.id);
	call_err(&pe, "appt.list", "forbidden", "{s:I}", "doctor_id", (json_int_t)chen.id);
	call_err(&pe, "appt.book", "forbidden", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 9, 40));
	call_err(&pe, "appt.cancel", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pe, "appt.reschedule", "forbidden", "{s:I, s:I}", "id",
	    (json_int_t)mine, "starts_at", (json_int_t)at(mon, 10, 0));
	assert_status(&pj, mine, "requested");
	/* Each patient's list holds their own only. */
	list = jpath(call_ok(&pe, "appt.list", "{s:s}", "date", mon), "appointments");
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(jint(list, "0.id"), theirs);
	list = jpath(call_ok(&pe, "appt.list", NULL), "appointments");
	json_array_foreach(list, i, e)
		assert_int_equal(jint(e, "patient_id"), emily.id);
	list = jpath(call_ok(&pj, "appt.list", "{s:s}", "date", mon), "appointments");
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(jint(list, "0.id"), mine);

	/* Patients run no part of the workflow but their own cancel. */
	call_err(&pj, "appt.approve", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pj, "appt.reject", "forbidden", "{s:I, s:s}", "id", (json_int_t)mine,
	    "reason", "no");
	call_err(&pj, "appt.checkin", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pj, "appt.start", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pj, "appt.complete", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pj, "appt.no_show", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&pj, "availability.set", "forbidden", "{s:I, s:[]}", "doctor_id",
	    (json_int_t)chen.id, "weekly");
	call_err(&pj, "availability.add_exception", "forbidden", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", mon, "kind", "leave");

	/* Another doctor neither sees nor moves Chen's appointments. */
	call_err(&d2, "appt.get", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&d2, "appt.approve", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&d2, "appt.list", "forbidden", "{s:I}", "doctor_id", (json_int_t)chen.id);
	list = jpath(call_ok(&d2, "appt.list", NULL), "appointments");
	json_array_foreach(list, i, e)
		assert_int_equal(jint(e, "doctor_id"), okafor.id);
	call_err(&d2, "availability.set", "forbidden", "{s:I, s:[]}", "doctor_id",
	    (json_int_t)chen.id, "weekly");
	call_err(&d2, "availability.add_exception", "forbidden", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", mon, "kind", "leave");
	call_err(&d2, "appt.book", "forbidden", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 10, 0));

	/* Chen approves her own; then Okafor can neither start nor end it. */
	assert_jstr(call_ok(&d1, "appt.approve", "{s:I}", "id", (json_int_t)mine),
	    "appointment.status", "approved");
	call_err(&d2, "appt.start", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&d2, "appt.complete", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&d2, "appt.no_show", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&d2, "appt.cancel", "forbidden", "{s:I}", "id", (json_int_t)mine);
	/* The desk runs the front of the workflow, not the visit. */
	call_err(&r, "appt.start", "forbidden", "{s:I}", "id", (json_int_t)mine);
	call_err(&r, "appt.complete", "forbidden", "{s:I}", "id", (json_int_t)mine);
	/* Doctors check nobody in. */
	call_err(&d1, "appt.checkin", "forbidden", "{s:I}", "id", (json_int_t)mine);
	assert_status(&r, mine, "approved");

	/* Doctors book with themselves, for their own patients. */
	call_err(&d1, "appt.book", "forbidden", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 14, 0));
	call_err(&d1, "appt.book", "forbidden", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)stranger, "starts_at",
	    (json_int_t)at(mon, 14, 0));
	call_err(&d1, "appt.book", "bad_request", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(mon, 14, 0));
	own = book(&d1, chen.id, john.id, at(mon, 14, 0));
	assert_status(&d1, own, "approved");
	/* ...and see only their own. */
	list = jpath(call_ok(&d1, "appt.list", "{s:s}", "date", mon), "appointments");
	assert_int_equal(json_array_size(list), 3);
	json_array_foreach(list, i, e)
		assert_int_equal(jint(e, "doctor_id"), chen.id);

	/* The desk and the admin see everything. */
	call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)theirs);
	call_ok(&a, "appt.history", "{s:I}", "id", (json_int_t)theirs);
	assert_int_equal(json_array_size(jpath(call_ok(&r, "appt.list", "{s:s}", "date",
	    mon), "appointments")), 3);
	assert_int_equal(json_array_size(jpath(call_ok(&r, "appt.list",
	    "{s:s, s:I}", "date", mon, "patient_id", (json_int_t)john.id),
	    "appointments")), 2);
	assert_int_equal(json_array_size(jpath(call_ok(&r, "appt.list",
	    "{s:s, s:s}", "date", mon, "status", "requested"), "appointments")), 1);
	cli_close(&a);
	cli_close(&d2);
	cli_close(&d1);
	cli_close(&pe);
	cli_close(&pj);
	cli_close(&r);
}

/* --- bad input --- */

static void
test_bad_input_is_refused_and_writes_nothing(void **state)
{
	struct tcli	 r, p;
	char		 mon[11], today[11], far[11], farther[11];
	char		*huge;
	int64_t		 pat, t, now;
	size_t		 before;
	json_t		*tmpl;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	week_day(&r, 8, 1, mon);
	pat = new_patient(&r, "Careful Patient");
	t = at(mon, 10, 0);
	now = server_now(&r);
	local_date(now, today);
	date_plus(today, 730, far);
	date_plus(today, 731, farther);
	before = count_all(&r);
	tmpl = json_deep_copy(call_ok(&r, "availability.get", "{s:I}", "doctor_id",
	    (json_int_t)chen.id));

	/* Unknown ids. */
	call_err(&r, "appt.get", "not_found", "{s:i}", "id", 999999);
	call_err(&r, "appt.history", "not_found", "{s:i}", "id", 999999);
	call_err(&r, "appt.approve", "not_found", "{s:i}", "id", 999999);
	call_err(&r, "appt.cancel", "not_found", "{s:i}", "id", 999999);
	call_err(&r, "appt.reschedule", "not_found", "{s:i, s:I}", "id", 999999,
	    "starts_at", (json_int_t)t);
	call_err(&r, "appt.book", "not_found", "{s:i, s:I, s:I}", "doctor_id", 99999,
	    "patient_id", (json_int_t)pat, "starts_at", (json_int_t)t);
	call_err(&r, "appt.book", "not_found", "{s:I, s:i, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", 999999, "starts_at", (json_int_t)t);
	call_err(&r, "appt.slots", "not_found", "{s:i, s:s}", "doctor_id", 99999,
	    "date", mon);
	call_err(&r, "availability.set", "not_found", "{s:i, s:[]}", "doctor_id", 99999,
	    "weekly");
	call_err(&r, "availability.add_exception", "not_found", "{s:i, s:s, s:s}",
	    "doctor_id", 99999, "date", mon, "kind", "leave");

	/* Wrong types and missing arguments. */
	call_err(&r, "appt.book", "bad_request", "{s:s, s:I, s:I}", "doctor_id", "1",
	    "patient_id", (json_int_t)pat, "starts_at", (json_int_t)t);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at", "tomorrow");
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:f}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at", (double)t);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)t, "reason", 5);
	call_err(&r, "appt.get", "bad_request", "{s:i}", "id", 0);
	call_err(&r, "appt.get", "bad_request", "{s:i}", "id", -4);
	call_err(&r, "appt.get", "bad_request", "{s:b}", "id", 1);
	call_err(&r, "appt.get", "bad_request", "{}");
	call_err(&r, "appt.slots", "bad_request", "{s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "date", 20261130);
	call_err(&r, "appt.slots", "bad_request", "{s:I}", "doctor_id", (json_int_t)chen.id);
	call_err(&r, "appt.list", "bad_request", "{s:s}", "status", "done");
	call_err(&r, "appt.list", "bad_request", "{s:i}", "limit", 0);
	call_err(&r, "appt.list", "bad_request", "{s:i}", "limit", 501);
	call_err(&r, "appt.list", "bad_request", "{s:s, s:I}", "date", mon, "from",
	    (json_int_t)t);
	call_err(&r, "appt.list", "bad_request", "{s:I, s:I}", "from", (json_int_t)t,
	    "to", (json_int_t)t);
	call_err(&r, "appt.list", "bad_request", "{s:I, s:I}", "from", (json_int_t)t,
	    "to", (json_int_t)(t + 367 * 86400));
	call_err(&r, "appt.reject", "bad_request", "{s:I}", "id", (json_int_t)1);

	/* Hours that make no sense. */
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "12:00",
	    "end", "09:00", "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00",
	    "end", "09:00", "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 8, "start", "09:00",
	    "end", "12:00", "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "9:00",
	    "end", "12:00", "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00",
	    "end", "25:00", "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00",
	    "end", "12:00", "slot_minutes", 4);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00",
	    "end", "09:15", "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:[{s:i, s:s, s:s}]}",
	    "doctor_id", (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00",
	    "end", "12:00");
	call_err(&r, "availability.set", "bad_request",
	    "{s:I, s:[{s:i, s:s, s:s, s:i}, {s:i, s:s, s:s, s:i}]}", "doctor_id",
	    (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00", "end", "12:00",
	    "slot_minutes", 20, "weekday", 1, "start", "11:00", "end", "13:00",
	    "slot_minutes", 20);
	call_err(&r, "availability.set", "bad_request",
	    "{s:I, s:[{s:i, s:s, s:s, s:i}], s:[{s:i, s:s, s:s}]}", "doctor_id",
	    (json_int_t)chen.id, "weekly", "weekday", 1, "start", "09:00", "end", "12:00",
	    "slot_minutes", 20, "breaks", "weekday", 1, "start", "11:00", "end", "10:00");
	call_err(&r, "availability.set", "bad_request", "{s:I}", "doctor_id",
	    (json_int_t)chen.id);
	call_err(&r, "availability.set", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "weekly", "Mon-Fri");
	call_err(&r, "availability.add_exception", "bad_request",
	    "{s:I, s:s, s:s, s:s, s:s}", "doctor_id", (json_int_t)chen.id, "date", mon,
	    "kind", "leave", "start", "12:00", "end", "10:00");
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", mon, "kind", "leave", "start",
	    "12:00");
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", mon, "kind", "vacation");
	call_err(&r, "availability.add_exception", "bad_request", "{s:s, s:s}", "date",
	    mon, "kind", "leave");
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "doctor_id", (json_int_t)chen.id, "date", mon, "kind", "leave",
	    "slot_minutes", 20);

	/* Dates that are no dates, or out of range. */
	call_err(&p, "appt.slots", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", "2026-02-30");
	call_err(&p, "appt.slots", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", "1800-01-01");
	call_err(&p, "appt.slots", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", "2026-1-5");
	call_err(&p, "appt.slots", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", farther);
	call_ok(&p, "appt.slots", "{s:I, s:s}", "doctor_id", (json_int_t)chen.id,
	    "date", far);
	call_err(&r, "appt.list", "bad_request", "{s:s}", "date", "2026-02-30");
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", "2026-02-30", "kind", "leave");
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", "1800-01-01", "kind", "leave");
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)(now + 731 * 86400));
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)(now - 86400));
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)INT64_MAX);

	/* Huge strings. */
	huge = repeat_char('x', 100000);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)t, "reason", huge);
	call_err(&p, "appt.book", "bad_request", "{s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t, "reason", huge);
	call_err(&r, "availability.add_exception", "bad_request", "{s:I, s:s, s:s, s:s}",
	    "doctor_id", (json_int_t)chen.id, "date", mon, "kind", "leave", "reason", huge);
	call_err(&r, "doctors.list", "bad_request", "{s:s}", "q", huge);
	free(huge);
	huge = repeat_char('y', 501);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)t, "reason", huge);
	free(huge);
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)t, "reason", "bell\a");

	/* Unknown arguments. */
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pat, "starts_at",
	    (json_int_t)t, "room", "7");
	call_err(&r, "appt.slots", "bad_request", "{s:I, s:s, s:i}", "doctor_id",
	    (json_int_t)chen.id, "date", mon, "days", 7);
	call_err(&r, "appt.list", "bad_request", "{s:s}", "sort", "name");
	call_err(&r, "appt.get", "bad_request", "{s:i, s:b}", "id", 1, "full", 1);
	call_err(&r, "appt.cancel", "bad_request", "{s:i, s:b}", "id", 1, "notify", 1);
	call_err(&r, "appt.reschedule", "bad_request", "{s:i, s:I, s:b}", "id", 1,
	    "starts_at", (json_int_t)t, "force", 1);
	call_err(&r, "availability.get", "bad_request", "{s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "week", 1);
	call_err(&r, "availability.remove_exception", "bad_request", "{s:i, s:b}", "id",
	    1, "all", 1);

	/* Nothing was written: no appointments, the same hours. */
	assert_int_equal(count_all(&r), before);
	assert_int_equal(count_slots(&p, chen.id, mon), 20);
	assert_true(json_equal(tmpl, call_ok(&r, "availability.get", "{s:I}",
	    "doctor_id", (json_int_t)chen.id)));
	json_decref(tmpl);
	cli_close(&p);
	cli_close(&r);
}

/* --- live updates --- */

/*
 * appt.book packs the appointment once, for its reply and its push: the
 * two must agree field for field, for the desk's booking and a patient's.
 */
static void
test_booking_push_is_the_reply(void **state)
{
	struct tcli	 r, r2, pj;
	char		 mon[11];
	json_t		*res, *mine, *ev;

	(void)state;
	open_as(&r, &desk);
	open_as(&r2, &desk);
	open_as(&pj, &john);
	week_day(&r, 11, 1, mon);

	res = call_ok(&r, "appt.book", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 9, 0), "reason", "Follow-up, \"knee\"");
	mine = json_deep_copy(jpath(res, "appointment"));
	assert_non_null(mine);
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_true(json_equal(jpath(ev, "data"), mine));
	assert_jstr(ev, "data.reason", "Follow-up, \"knee\"");
	json_decref(ev);
	json_decref(mine);
	/* john heard of it too; nothing else is pending for him. */
	ev = read_event(&pj, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);

	res = call_ok(&pj, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(mon, 10, 0));
	mine = json_deep_copy(jpath(res, "appointment"));
	assert_non_null(mine);
	assert_jstr(mine, "status", "requested");
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_true(json_equal(jpath(ev, "data"), mine));
	json_decref(ev);
	json_decref(mine);
	cli_close(&pj);
	cli_close(&r2);
	cli_close(&r);
}

static void
test_changes_are_pushed_to_the_right_sessions(void **state)
{
	struct tcli	 r, r2, pj, pe, d1, d2, a;
	char		 mon[11];
	int64_t		 id;
	json_t		*ev;
	int		 heard = 0;

	(void)state;
	open_as(&r, &desk);
	open_as(&r2, &desk);
	open_as(&pj, &john);
	open_as(&pe, &emily);
	open_as(&d1, &chen);
	open_as(&d2, &okafor);
	open_as(&a, &admin);
	week_day(&r, 7, 1, mon);

	id = book(&r, chen.id, john.id, at(mon, 9, 0));
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_jstr(ev, "event", "appt.changed");
	assert_int_equal(jint(ev, "data.id"), id);
	assert_jstr(ev, "data.status", "approved");
	assert_int_equal(jint(ev, "data.patient_id"), john.id);
	assert_int_equal(jint(ev, "data.doctor_id"), chen.id);
	assert_jstr(ev, "data.doctor_name", "Dr. Sarah Chen");
	assert_jstr(ev, "data.patient_name", "John Smith");
	json_decref(ev);
	ev = read_event(&pj, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), id);
	json_decref(ev);
	ev = read_event(&d1, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), id);
	json_decref(ev);
	ev = read_event(&a, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	/* Not another patient, not another doctor. (They do hear presence:
	 * the doctors and patients of one another who logged in above.) */
	assert_int_equal(events_pending(&pe, "appt.changed"), 0);
	assert_int_equal(events_pending(&d2, "appt.changed"), 0);

	/* Every change, by anyone; the one who made it hears of it too (the
	 * event comes ahead of the reply). */
	pj.mc.on_event = count_event;
	pj.mc.on_event_arg = &heard;
	call_ok(&pj, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)id, "reason",
	    "Feeling better");
	pj.mc.on_event = NULL;
	assert_int_equal(heard, 1);
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), id);
	assert_jstr(ev, "data.status", "cancelled");
	assert_jstr(ev, "data.status_note", "Feeling better");
	json_decref(ev);
	ev = read_event(&d1, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_jstr(ev, "data.status", "cancelled");
	json_decref(ev);
	assert_int_equal(events_pending(&pe, "appt.changed"), 0);
	assert_int_equal(events_pending(&d2, "appt.changed"), 0);

	/* A refused change pushes nothing. */
	call_err(&r, "appt.approve", "conflict", "{s:I}", "id", (json_int_t)id);
	assert_int_equal(events_pending(&r2, "appt.changed"), 0);
	assert_int_equal(events_pending(&pj, "appt.changed"), 0);

	/* A reschedule pushes both halves. */
	id = book(&r, okafor.id, emily.id, at(mon, 10, 0));
	ev = read_event(&pe, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	call_ok(&r, "appt.reschedule", "{s:I, s:I}", "id", (json_int_t)id, "starts_at",
	    (json_int_t)at(mon, 11, 0));
	ev = read_event(&pe, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), id);
	assert_jstr(ev, "data.status", "rescheduled");
	json_decref(ev);
	ev = read_event(&pe, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.rescheduled_from"), id);
	json_decref(ev);
	assert_int_equal(events_pending(&pj, "appt.changed"), 0);
	assert_int_equal(events_pending(&d1, "appt.changed"), 0);
	cli_close(&a);
	cli_close(&d2);
	cli_close(&d1);
	cli_close(&pe);
	cli_close(&pj);
	cli_close(&r2);
	cli_close(&r);
}

#define BATCH_BOOKINGS	30
#define BATCH_DESKS	4

/*
 * Bookings pipelined on one connection commit together (group commit) and
 * their events leave in one write per connection: every desk hears of each
 * booking, whole and in booking order, and the booker gets its replies in
 * order and an event for each.
 */
static void
test_a_batch_of_bookings_reaches_every_desk_in_order(void **state)
{
	const msgpack_object	*o;
	struct tcli		 a, b, w[BATCH_DESKS];
	int64_t			 doc, patient, ids[BATCH_BOOKINGS], t0;
	char			 wed[11];
	json_t			*reply, *ev;
	size_t			 i, k, replies = 0, own_events = 0;

	(void)state;
	open_as(&a, &admin);
	open_as(&b, &desk);
	for (k = 0; k < BATCH_DESKS; k++)
		open_as(&w[k], &desk);
	doc = new_doctor(&a, "Dr. Batch Of Thirty");
	call_ok(&b, "availability.set", "{s:I, s:[{s:i, s:s, s:s, s:i}]}",
	    "doctor_id", (json_int_t)doc, "weekly", "weekday", 3, "start", "08:00",
	    "end", "18:00", "slot_minutes", 20);
	week_day(&b, 10, 3, wed);
	patient = new_patient(&b, "Batch Patient");
	t0 = at(wed, 8, 0);
	for (i = 0; i < BATCH_BOOKINGS; i++)
		send_json(&b, "appt.book", json_pack("{s:I, s:I, s:I}", "doctor_id",
		    (json_int_t)doc, "patient_id", (json_int_t)patient, "starts_at",
		    (json_int_t)(t0 + (int64_t)i * 1200)));
	while (replies < BATCH_BOOKINGS) {
		assert_int_equal(mfc_read(&b.mc, CALL_TIMEOUT_MS, &o), 0);
		if (mp_map_get(o, "id") == NULL) {
			if (mp_str_eq(mp_map_get(o, "event"), "appt.changed"))
				own_events++;
			continue;
		}
		reply = msgpack_to_json(o);
		i = replies++;
		ids[i] = jint(reply_ok(reply), "appointment.id");
		assert_int_equal(jint(reply, "result.appointment.starts_at"),
		    t0 + (int64_t)i * 1200);
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]);
		json_decref(reply);
	}
	/* Each event comes ahead of its booking's reply. */
	assert_int_equal(own_events, BATCH_BOOKINGS);
	for (k = 0; k < BATCH_DESKS; k++) {
		for (i = 0; i < BATCH_BOOKINGS; i++) {
			ev = read_event(&w[k], "appt.changed", EVENT_WAIT_MS);
			assert_non_null(ev);
			assert_int_equal(jint(ev, "data.id"), ids[i]);
			assert_int_equal(jint(ev, "data.starts_at"), t0 + (int64_t)i * 1200);
			assert_jstr(ev, "data.status", "approved");
			assert_jstr(ev, "data.patient_name", "Batch Patient");
			json_decref(ev);
		}
		assert_int_equal(events_pending(&w[k], "appt.changed"), 0);
		cli_close(&w[k]);
	}
	assert_int_equal(count_active(&b, doc, wed, t0, t0 + BATCH_BOOKINGS * 1200),
	    BATCH_BOOKINGS);
	cli_close(&b);
	cli_close(&a);
}

/* --- the clock moves from here on --- */

static int
iso_weekday(const char *date)
{
	time_t		t = (time_t)at(date, 12, 0);
	struct tm	tm;

	localtime_r(&t, &tm);
	return (tm.tm_wday + 6) % 7 + 1;
}

/* The first Monday-to-Friday date at least min_days after the server's today. */
static void
workday_ahead(struct tcli *c, int min_days, char out[11])
{
	char	today[11];

	local_date(server_now(c), today);
	date_plus(today, min_days, out);
	while (iso_weekday(out) > 5)
		date_plus(out, 1, out);
}

static void
test_slots_today_only_ahead_and_none_on_past_days(void **state)
{
	struct tcli		 p, r;
	struct day_slots	 s;
	char			 day[11], yesterday[11], week_ago[11];
	int64_t			 now;
	size_t			 i;

	(void)state;
	open_as(&p, &john);
	open_as(&r, &desk);
	/* Past the demo week, so the day is empty. */
	workday_ahead(&p, 5, day);
	date_plus(day, -1, yesterday);
	date_plus(day, -7, week_ago);
	clock_to(&p, at(day, 10, 5));
	now = server_now(&p);

	/* Raman's 15-minute slots from 10:15: 7 in the morning, 15 after. */
	get_slots(&p, raman.id, day, &s);
	assert_int_equal(s.n, 7 + 15);
	assert_int_equal(s.start[0], at(day, 10, 15));
	for (i = 0; i < s.n; i++)
		assert_true(s.start[i] > now);
	assert_int_equal(count_slots(&p, chen.id, day), 5 + 11);
	/* Yesterday and last week are over. */
	assert_int_equal(count_slots(&p, raman.id, week_ago), 0);
	assert_int_equal(count_slots(&p, chen.id, week_ago), 0);
	assert_int_equal(count_slots(&p, chen.id, yesterday), 0);
	/* A slot that has begun cannot be booked. */
	call_err(&p, "appt.book", "bad_request", "{s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "starts_at", (json_int_t)at(day, 10, 0));
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)at(day, 10, 0));

	clock_to(&p, at(day, 16, 35));
	get_slots(&p, raman.id, day, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.start[0], at(day, 16, 45));
	get_slots(&p, chen.id, day, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.start[0], at(day, 16, 40));
	clock_to(&p, at(day, 16, 50));
	assert_int_equal(count_slots(&p, raman.id, day), 0);
	assert_int_equal(count_slots(&p, chen.id, day), 0);
	cli_close(&r);
	cli_close(&p);
}

/* One event of appt.history: from, to, and who. */
static void
assert_event(json_t *ev, const char *from, const char *to, const struct account *who,
    const char *name)
{
	if (from == NULL)
		assert_true(json_is_null(jpath(ev, "from")));
	else
		assert_jstr(ev, "from", from);
	assert_jstr(ev, "to", to);
	assert_int_equal(jint(ev, "actor_id"), who->user_id);
	assert_jstr(ev, "actor_name", name);
	assert_true(jint(ev, "ts") > 0);
}

static void
test_workflow_from_request_to_completed(void **state)
{
	struct tcli	 pj, r, d, d2;
	char		 day[11];
	int64_t		 a, b, now;
	json_t		*res, *evs;
	char		*huge;

	(void)state;
	open_as(&pj, &john);
	open_as(&r, &desk);
	open_as(&d, &chen);
	open_as(&d2, &okafor);
	workday_ahead(&r, 1, day);

	/* A patient asks for an exact free slot. */
	call_err(&pj, "appt.book", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(day, 9, 5));
	call_err(&pj, "appt.book", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(day, 12, 0));
	res = call_ok(&pj, "appt.book", "{s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(day, 9, 0), "reason",
	    "Follow-up\non blood tests");
	a = jint(res, "appointment.id");
	assert_jstr(res, "appointment.status", "requested");
	assert_jstr(res, "appointment.reason", "Follow-up\non blood tests");
	assert_int_equal(jint(res, "appointment.patient_id"), john.id);
	assert_int_equal(jint(res, "appointment.created_by"), john.user_id);
	assert_int_equal(jint(res, "appointment.ends_at"), at(day, 9, 20));
	assert_true(json_is_null(jpath(res, "appointment.checked_in_at")));

	/* Out of order: conflict, every time. */
	call_err(&d, "appt.start", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&d, "appt.complete", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.checkin", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.no_show", "conflict", "{s:I}", "id", (json_int_t)a);
	assert_jstr(call_ok(&r, "appt.approve", "{s:I}", "id", (json_int_t)a),
	    "appointment.status", "approved");
	call_err(&r, "appt.approve", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.reject", "conflict", "{s:I, s:s}", "id", (json_int_t)a,
	    "reason", "Too late");
	call_err(&d, "appt.complete", "conflict", "{s:I}", "id", (json_int_t)a);
	/* Check-in waits for the day. */
	call_err(&r, "appt.checkin", "conflict", "{s:I}", "id", (json_int_t)a);
	assert_status(&r, a, "approved");

	clock_to(&r, at(day, 8, 50));
	now = server_now(&r);
	res = call_ok(&r, "appt.checkin", "{s:I}", "id", (json_int_t)a);
	assert_jstr(res, "appointment.status", "checked_in");
	assert_true(jint(res, "appointment.checked_in_at") >= now);
	call_err(&r, "appt.checkin", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.no_show", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&d, "appt.complete", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&d2, "appt.start", "forbidden", "{s:I}", "id", (json_int_t)a);
	res = call_ok(&d, "appt.start", "{s:I}", "id", (json_int_t)a);
	assert_jstr(res, "appointment.status", "in_progress");
	assert_true(jint(res, "appointment.started_at") >= now);
	call_err(&d, "appt.start", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.cancel", "conflict", "{s:I}", "id", (json_int_t)a);
	res = call_ok(&d, "appt.complete", "{s:I}", "id", (json_int_t)a);
	assert_jstr(res, "appointment.status", "completed");
	assert_true(jint(res, "appointment.completed_at") >= now);
	assert_true(jint(res, "appointment.checked_in_at") >= now);

	/* Completed is final. */
	call_err(&d, "appt.complete", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.cancel", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.no_show", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.checkin", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.approve", "conflict", "{s:I}", "id", (json_int_t)a);
	call_err(&r, "appt.reschedule", "conflict", "{s:I, s:I}", "id", (json_int_t)a,
	    "starts_at", (json_int_t)at(day, 14, 0));
	call_err(&pj, "appt.cancel", "conflict", "{s:I}", "id", (json_int_t)a);

	/* The history: each change, who made it. */
	res = call_ok(&pj, "appt.history", "{s:I}", "id", (json_int_t)a);
	assert_jstr(res, "appointment.status", "completed");
	evs = jpath(res, "events");
	assert_int_equal(json_array_size(evs), 5);
	assert_event(json_array_get(evs, 0), NULL, "requested", &john, "John Smith");
	assert_event(json_array_get(evs, 1), "requested", "approved", &desk, "Maria Lopez");
	assert_event(json_array_get(evs, 2), "approved", "checked_in", &desk, "Maria Lopez");
	assert_event(json_array_get(evs, 3), "checked_in", "in_progress", &chen,
	    "Dr. Sarah Chen");
	assert_event(json_array_get(evs, 4), "in_progress", "completed", &chen,
	    "Dr. Sarah Chen");
	assert_true(jint(json_array_get(evs, 4), "ts") >= jint(json_array_get(evs, 0), "ts"));

	/* A rejection needs a reason, kept as the status note. */
	b = book_self(&pj, chen.id, at(day, 10, 0));
	call_err(&r, "appt.reject", "bad_request", "{s:I}", "id", (json_int_t)b);
	call_err(&r, "appt.reject", "bad_request", "{s:I, s:s}", "id", (json_int_t)b,
	    "reason", "");
	huge = repeat_char('r', 100000);
	call_err(&r, "appt.reject", "bad_request", "{s:I, s:s}", "id", (json_int_t)b,
	    "reason", huge);
	free(huge);
	assert_status(&r, b, "requested");
	res = call_ok(&d, "appt.reject", "{s:I, s:s}", "id", (json_int_t)b, "reason",
	    "Please see the nurse first");
	assert_jstr(res, "appointment.status", "rejected");
	assert_jstr(res, "appointment.status_note", "Please see the nurse first");
	evs = jpath(call_ok(&pj, "appt.history", "{s:I}", "id", (json_int_t)b), "events");
	assert_int_equal(json_array_size(evs), 2);
	assert_event(json_array_get(evs, 1), "requested", "rejected", &chen,
	    "Dr. Sarah Chen");
	assert_jstr(json_array_get(evs, 1), "note", "Please see the nurse first");
	assert_true(json_is_null(jpath(json_array_get(evs, 0), "note")));
	call_err(&r, "appt.approve", "conflict", "{s:I}", "id", (json_int_t)b);
	/* The slot is free again. */
	assert_true(slot_free(&pj, chen.id, day, at(day, 10, 0)));
	cli_close(&d2);
	cli_close(&d);
	cli_close(&r);
	cli_close(&pj);
}

static void
test_cancel_cutoff_and_no_show_timing(void **state)
{
	struct tcli	 pj, r;
	char		 day[11];
	int64_t		 near, later, walkin, n;
	json_t		*res;

	(void)state;
	open_as(&pj, &john);
	open_as(&r, &desk);
	workday_ahead(&r, 1, day);
	clock_to(&r, at(day, 8, 50));

	/* 90 minutes ahead: inside the 2-hour cut-off for the patient. */
	near = book_self(&pj, chen.id, at(day, 10, 20));
	call_err(&pj, "appt.cancel", "conflict", "{s:I}", "id", (json_int_t)near);
	call_err(&pj, "appt.reschedule", "conflict", "{s:I, s:I}", "id",
	    (json_int_t)near, "starts_at", (json_int_t)at(day, 16, 0));
	assert_status(&pj, near, "requested");
	/* The desk may still cancel it. */
	assert_jstr(call_ok(&r, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)near,
	    "reason", "Called in"), "appointment.status", "cancelled");
	/* 150 minutes ahead: the patient may. */
	later = book_self(&pj, chen.id, at(day, 11, 20));
	res = call_ok(&pj, "appt.cancel", "{s:I}", "id", (json_int_t)later);
	assert_jstr(res, "appointment.status", "cancelled");
	call_err(&pj, "appt.cancel", "conflict", "{s:I}", "id", (json_int_t)later);

	/* No-show: only once the start has passed. */
	walkin = new_patient(&r, "Often Late");
	n = book(&r, chen.id, walkin, at(day, 11, 40));
	call_err(&r, "appt.no_show", "conflict", "{s:I}", "id", (json_int_t)n);
	assert_status(&r, n, "approved");
	clock_to(&r, at(day, 11, 45));
	assert_jstr(call_ok(&r, "appt.no_show", "{s:I}", "id", (json_int_t)n),
	    "appointment.status", "no_show");
	call_err(&r, "appt.no_show", "conflict", "{s:I}", "id", (json_int_t)n);
	call_err(&r, "appt.checkin", "conflict", "{s:I}", "id", (json_int_t)n);
	call_err(&r, "appt.cancel", "conflict", "{s:I}", "id", (json_int_t)n);
	cli_close(&r);
	cli_close(&pj);
}

/* The appointment a booking replies with (c's last reply) is the one
 * appt.get reads back. */
static void
assert_reply_is_stored(struct tcli *c, json_t *reply)
{
	json_t	*booked = json_deep_copy(json_object_get(reply, "appointment")), *got;
	char	*a, *b;

	assert_non_null(booked);
	got = json_object_get(call_ok(c, "appt.get", "{s:I}", "id",
	    (json_int_t)jint(booked, "id")), "appointment");
	if (!json_equal(booked, got)) {
		a = json_dumps(booked, JSON_SORT_KEYS | JSON_COMPACT);
		b = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		print_error("booked %s\nstored %s\n", a, b);
		free(a);
		free(b);
		json_decref(booked);
		fail();
	}
	json_decref(booked);
}

/*
 * appt.book answers from what it inserted and read on the way, not from a
 * read-back: every field must still be what the store holds, the patient's
 * no-show count and a type's name and colour included.
 */
static void
test_book_reply_is_the_stored_appointment(void **state)
{
	struct tcli	 pj, r, a;
	char		 day[11];
	int64_t		 pid, type, n;
	json_t		*res;

	(void)state;
	open_as(&pj, &john);
	open_as(&r, &desk);
	open_as(&a, &admin);
	workday_ahead(&r, 1, day);
	clock_to(&r, at(day, 8, 50));
	pid = new_patient(&r, "Reply Check");
	n = book(&r, chen.id, pid, at(day, 9, 0));
	clock_to(&r, at(day, 9, 5));
	call_ok(&r, "appt.no_show", "{s:I}", "id", (json_int_t)n);

	res = call_ok(&r, "appt.book", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pid, "starts_at",
	    (json_int_t)at(day, 14, 0), "reason", "Follow-up");
	assert_int_equal(jint(res, "appointment.no_show_count"), 1);
	assert_jstr(res, "appointment.patient_name", "Reply Check");
	assert_reply_is_stored(&r, res);

	/* A patient's own request. */
	res = call_ok(&pj, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(day, 14, 40));
	assert_jstr(res, "appointment.status", "requested");
	assert_reply_is_stored(&pj, res);

	/* With a type: its name and colour. */
	type = jint(call_ok(&a, "appt_types.create", "{s:s, s:i, s:s}", "name",
	    "Reply check visit", "minutes", 60, "colour", "#2e86c1"), "type.id");
	res = call_ok(&r, "appt.book", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)pid, "starts_at",
	    (json_int_t)at(day, 10, 0), "type_id", (json_int_t)type);
	assert_jstr(res, "appointment.type_name", "Reply check visit");
	assert_jstr(res, "appointment.colour", "#2e86c1");
	assert_reply_is_stored(&r, res);
	cli_close(&a);
	cli_close(&r);
	cli_close(&pj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: the demo week as seeded. */
		cmocka_unit_test(test_stats_count_the_demo_week),
		cmocka_unit_test(test_doctors_list_get_update),
		cmocka_unit_test(test_availability_get_shows_the_demo_hours),
		cmocka_unit_test(test_slots_of_a_future_weekday),
		cmocka_unit_test(test_booked_slot_leaves_the_free_slots),
		cmocka_unit_test(test_race_hundred_bookings_of_one_slot_one_wins),
		cmocka_unit_test(test_race_overlapping_lengths_one_wins),
		cmocka_unit_test(test_patient_cannot_hold_overlapping_appointments),
		cmocka_unit_test(test_stats_keep_long_doctor_names),
		cmocka_unit_test(test_exceptions_leave_holiday_and_extra_sessions),
		cmocka_unit_test(test_dst_days_have_the_hours_that_really_pass),
		cmocka_unit_test(test_booking_horizon_matches_the_slots),
		cmocka_unit_test(test_reschedule_is_atomic),
		cmocka_unit_test(test_roles_and_ownership),
		cmocka_unit_test(test_bad_input_is_refused_and_writes_nothing),
		cmocka_unit_test(test_changes_are_pushed_to_the_right_sessions),
		cmocka_unit_test(test_a_batch_of_bookings_reaches_every_desk_in_order),
		/* Last: these move the server clock forward. */
		cmocka_unit_test(test_slots_today_only_ahead_and_none_on_past_days),
		cmocka_unit_test(test_workflow_from_request_to_completed),
		cmocka_unit_test(test_cancel_cutoff_and_no_show_timing),
		cmocka_unit_test(test_book_reply_is_the_stored_appointment),
		cmocka_unit_test(test_booking_push_is_the_reply),
		cmocka_unit_test(test_bookings_follow_every_change_to_the_hours),
	};

	/* Dates and wall-clock times here are the clinic's. */
	setenv("TZ", ":America/New_York", 1);
	tzset();
	return cmocka_run_group_tests(tests, clinic_setup_ny, clinic_teardown);
}
