/* test_front_desk2.c -- front-desk depth against a real mediflowd in
 * America/New_York: appointment types and their lengths, daily caps and
 * overbooks, recurring series (all or nothing), the wait list and its
 * offers, the recall list, holds ending on logout, no-show counts on
 * patients, and the notifications appointment changes leave.
 *
 * One server for the file, with the demo clinic as its data; each test uses
 * weeks of its own (week W of the calendar ahead). Only the last test moves
 * the clock. */
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

#define EVENT_WAIT_MS	(5000 * test_time_scale())

/* --- types, slots and notifications --- */

/* The id of the demo type with this name. */
static int64_t
type_id(struct tcli *c, const char *name)
{
	json_t	*list, *t;
	size_t	 i;

	list = jpath(call_ok(c, "appt_types.list", "{}"), "types");
	json_array_foreach(list, i, t) {
		if (strcmp(jstr(t, "name"), name) == 0)
			return jint(t, "id");
	}
	fail_msg("no appointment type %s", name);
	return 0;
}

/* 1 if appt.slots (with type tid, 0: none) has a slot starting at t. */
static int
has_slot(struct tcli *c, int64_t doctor, const char *date, int64_t tid, int64_t t,
    int64_t *ends_at)
{
	json_t	*list, *e;
	size_t	 i;

	if (tid != 0)
		list = jpath(call_ok(c, "appt.slots", "{s:I, s:s, s:I}", "doctor_id",
		    (json_int_t)doctor, "date", date, "type_id", (json_int_t)tid), "slots");
	else
		list = jpath(call_ok(c, "appt.slots", "{s:I, s:s}", "doctor_id",
		    (json_int_t)doctor, "date", date), "slots");
	json_array_foreach(list, i, e) {
		if (jint(e, "starts_at") == t) {
			if (ends_at != NULL)
				*ends_at = jint(e, "ends_at");
			return 1;
		}
	}
	return 0;
}

/* How many of c's notifications are of kind about ref_id. */
static int
notifications_of(struct tcli *c, const char *kind, int64_t ref_id)
{
	json_t	*list, *n;
	size_t	 i;
	int	 count = 0;

	list = jpath(call_ok(c, "notifications.list", "{s:i}", "limit", 200),
	    "notifications");
	json_array_foreach(list, i, n) {
		if (strcmp(jstr(n, "kind"), kind) == 0 && jint(n, "ref_id") == ref_id)
			count++;
	}
	return count;
}

/* ================================================================== */

static void
test_appt_types_admin_edits_and_refusals(void **state)
{
	struct tcli	 a, r, p;
	json_t		*res, *list, *t;
	size_t		 i;
	int64_t		 id;
	char		*long_name;
	int		 seen = 0;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	open_as(&p, &john);
	/* The demo's three, with length and colour, for everyone. */
	list = jpath(call_ok(&p, "appt_types.list", NULL), "types");
	json_array_foreach(list, i, t) {
		if (strcmp(jstr(t, "name"), "Procedure") == 0) {
			assert_int_equal(jint(t, "minutes"), 45);
			assert_jstr(t, "colour", "#c0392b");
			seen++;
		} else if (strcmp(jstr(t, "name"), "New patient") == 0) {
			assert_int_equal(jint(t, "minutes"), 30);
			seen++;
		} else if (strcmp(jstr(t, "name"), "Follow-up") == 0) {
			assert_int_equal(jint(t, "minutes"), 15);
			seen++;
		}
	}
	assert_int_equal(seen, 3);

	res = call_ok(&a, "appt_types.create", "{s:s, s:i, s:s}", "name",
	    "Minor surgery", "minutes", 60, "colour", "#8E44AD");
	id = jint(res, "type.id");
	assert_true(id > 0);
	assert_jstr(res, "type.colour", "#8e44ad");
	assert_true(json_is_true(jpath(res, "type.active")));
	/* Refusals: roles, bad input, a name taken (any case). */
	call_err(&r, "appt_types.create", "forbidden", "{s:s, s:i, s:s}", "name",
	    "X", "minutes", 20, "colour", "#000000");
	call_err(&p, "appt_types.update", "forbidden", "{s:I, s:b}", "id",
	    (json_int_t)id, "active", 0);
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s}", "name",
	    "X", "minutes", 20, "colour", "red");
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s}", "name",
	    "X", "minutes", 20, "colour", "#12345g");
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s}", "name",
	    "X", "minutes", 4, "colour", "#000000");
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s}", "name",
	    "X", "minutes", 241, "colour", "#000000");
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:s}", "name", "X",
	    "colour", "#000000");
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s}", "name",
	    "", "minutes", 20, "colour", "#000000");
	long_name = repeat_char('n', 101);
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s}", "name",
	    long_name, "minutes", 20, "colour", "#000000");
	free(long_name);
	call_err(&a, "appt_types.create", "bad_request", "{s:s, s:i, s:s, s:i}",
	    "name", "X", "minutes", 20, "colour", "#000000", "extra", 1);
	call_err(&a, "appt_types.create", "conflict", "{s:s, s:i, s:s}", "name",
	    "minor SURGERY", "minutes", 20, "colour", "#000000");
	call_err(&a, "appt_types.update", "not_found", "{s:i, s:i}", "id", 999999,
	    "minutes", 20);
	call_err(&a, "appt_types.update", "conflict", "{s:I, s:s}", "id",
	    (json_int_t)id, "name", "Procedure");

	/* Retired: gone from the list and from booking, back with include_retired. */
	res = call_ok(&a, "appt_types.update", "{s:I, s:b, s:i}", "id", (json_int_t)id,
	    "active", 0, "minutes", 50);
	assert_true(json_is_false(jpath(res, "type.active")));
	assert_int_equal(jint(res, "type.minutes"), 50);
	assert_jstr(res, "type.name", "Minor surgery");
	list = jpath(call_ok(&r, "appt_types.list", NULL), "types");
	json_array_foreach(list, i, t)
		assert_int_not_equal(jint(t, "id"), id);
	list = jpath(call_ok(&r, "appt_types.list", "{s:b}", "include_retired", 1),
	    "types");
	seen = 0;
	json_array_foreach(list, i, t)
		seen += jint(t, "id") == id;
	assert_int_equal(seen, 1);
	res = call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)(server_now(&r) + 30 * 86400), "type_id", (json_int_t)id);
	assert_non_null(strstr(jstr(res, "message"), "retired"));
	call_err(&r, "appt.book", "not_found", "{s:I, s:I, s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)(server_now(&r) + 30 * 86400), "type_id", 999999);
	call_err(&r, "appt.slots", "bad_request", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", "2030-01-07", "type_id", "procedure");
	call_ok(&a, "appt_types.update", "{s:I, s:b}", "id", (json_int_t)id, "active", 1);
	cli_close(&p);
	cli_close(&r);
	cli_close(&a);
}

static void
test_type_length_decides_slots_and_booking(void **state)
{
	struct tcli	 r, p;
	json_t		*res, *list, *e;
	char		 mon[11];
	int64_t		 proc, follow, id, ends, t;
	size_t		 i;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	proc = type_id(&r, "Procedure");
	follow = type_id(&r, "Follow-up");
	week_day(&r, 3, 1, mon);

	/* On the 20-minute grid a 45-minute visit fits where 45 free minutes
	 * lie before the session's end: 11:00 yes, 11:20 no. */
	assert_true(has_slot(&r, chen.id, mon, proc, at(mon, 11, 0), &ends));
	assert_int_equal(ends, at(mon, 11, 45));
	assert_false(has_slot(&r, chen.id, mon, proc, at(mon, 11, 20), NULL));
	assert_true(has_slot(&r, chen.id, mon, 0, at(mon, 11, 20), NULL));
	res = call_ok(&r, "appt.slots", "{s:I, s:s, s:I}", "doctor_id",
	    (json_int_t)chen.id, "date", mon, "type_id", (json_int_t)proc);
	assert_int_equal(jint(res, "type_id"), proc);
	list = jpath(res, "slots");
	json_array_foreach(list, i, e)
		assert_int_equal(jint(e, "ends_at") - jint(e, "starts_at"), 45 * 60);

	/* Booked as a procedure: 45 minutes, named and coloured. */
	res = call_ok(&r, "appt.book", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)at(mon, 9, 0), "type_id", (json_int_t)proc);
	id = jint(res, "appointment.id");
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 9, 45));
	assert_int_equal(jint(res, "appointment.type_id"), proc);
	assert_jstr(res, "appointment.type_name", "Procedure");
	assert_jstr(res, "appointment.colour", "#c0392b");
	assert_true(json_is_false(jpath(res, "appointment.overbook")));
	/* The whole 45 minutes are taken: 9:40 too, 10:00 not. */
	assert_false(has_slot(&r, chen.id, mon, 0, at(mon, 9, 40), NULL));
	assert_true(has_slot(&r, chen.id, mon, 0, at(mon, 10, 0), NULL));
	res = call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 9, 40));
	assert_non_null(strstr(jstr(res, "message"), "taken"));
	/* A procedure that would run past the session's end is refused. */
	res = call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 11, 20), "type_id", (json_int_t)proc);
	assert_non_null(strstr(jstr(res, "message"), "45-minute"));
	/* Two procedures back to back would overlap the first by 5 minutes. */
	call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(mon, 9, 40), "type_id", (json_int_t)proc);
	/* A patient books a follow-up on the grid: 15 minutes. */
	res = call_ok(&p, "appt.book", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(mon, 11, 40), "type_id",
	    (json_int_t)follow);
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 11, 55));
	assert_jstr(res, "appointment.type_name", "Follow-up");
	/* The list shows type and colour to every board. */
	list = jpath(call_ok(&r, "appt.list", "{s:s, s:I}", "date", mon, "doctor_id",
	    (json_int_t)chen.id), "appointments");
	t = 0;
	json_array_foreach(list, i, e) {
		if (jint(e, "id") == id) {
			assert_jstr(e, "colour", "#c0392b");
			t = 1;
		}
	}
	assert_int_equal(t, 1);
	/* Rescheduled, the visit keeps its kind and length. */
	res = call_ok(&r, "appt.reschedule", "{s:I, s:I}", "id", (json_int_t)id,
	    "starts_at", (json_int_t)at(mon, 13, 0));
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 13, 45));
	assert_int_equal(jint(res, "appointment.type_id"), proc);
	cli_close(&p);
	cli_close(&r);
}

static void
test_daily_cap_and_overbooks(void **state)
{
	struct tcli	 a, r, p, d;
	json_t		*res, *list, *e;
	char		 tue[11];
	int64_t		 ob;
	size_t		 i;
	int		 marked = 0;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	open_as(&p, &john);
	open_as(&d, &chen);
	week_day(&r, 4, 2, tue);

	/* Only admins set caps; staff read them. */
	call_err(&r, "daily_cap.set", "forbidden", "{s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", 2);
	call_err(&p, "daily_cap.get", "forbidden", "{s:I}", "doctor_id",
	    (json_int_t)chen.id);
	call_err(&a, "daily_cap.set", "bad_request", "{s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", 0);
	call_err(&a, "daily_cap.set", "bad_request", "{s:I, s:i, s:i}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", 2, "overbooks", -1);
	call_err(&a, "daily_cap.set", "bad_request", "{s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "overbooks", 1);
	call_err(&a, "daily_cap.set", "not_found", "{s:i, s:i}", "doctor_id", 999999,
	    "daily_cap", 2);
	res = call_ok(&r, "daily_cap.get", "{s:I}", "doctor_id", (json_int_t)chen.id);
	assert_true(json_is_null(jpath(res, "cap.daily_cap")));
	res = call_ok(&d, "daily_cap.get", "{s:I}", "doctor_id", (json_int_t)okafor.id);
	assert_int_equal(jint(res, "cap.daily_cap"), 12);
	assert_int_equal(jint(res, "cap.overbooks"), 2);

	res = call_ok(&a, "daily_cap.set", "{s:I, s:i, s:i}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", 2, "overbooks", 1);
	assert_int_equal(jint(res, "cap.daily_cap"), 2);
	book(&r, chen.id, emily.id, at(tue, 9, 0));
	book(&r, chen.id, john.id, at(tue, 9, 20));
	/* Full: refused naming the cap, for staff and patients alike. */
	res = call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)at(tue, 10, 0));
	assert_non_null(strstr(jstr(res, "message"), "daily cap 2"));
	res = call_err(&p, "appt.book", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(tue, 10, 0));
	assert_non_null(strstr(jstr(res, "message"), "daily cap 2"));
	/* Patients never overbook. */
	res = call_err(&p, "appt.book", "forbidden", "{s:I, s:I, s:b}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(tue, 10, 0), "overbook", 1);
	assert_non_null(strstr(jstr(res, "message"), "overbook"));
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)at(tue, 10, 0), "overbook", "yes");
	/* Staff overbook once, marked; the allowance then runs out. */
	res = call_ok(&r, "appt.book", "{s:I, s:I, s:I, s:b}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)at(tue, 10, 0), "overbook", 1);
	ob = jint(res, "appointment.id");
	assert_true(json_is_true(jpath(res, "appointment.overbook")));
	res = call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I, s:b}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(tue, 11, 0), "overbook", 1);
	assert_non_null(strstr(jstr(res, "message"), "all used"));
	/* An overbook is no double booking: the time must still be free. */
	call_ok(&a, "daily_cap.set", "{s:I, s:i, s:i}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", 2, "overbooks", 5);
	res = call_err(&r, "appt.book", "conflict", "{s:I, s:I, s:I, s:b}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)at(tue, 9, 0), "overbook", 1);
	assert_non_null(strstr(jstr(res, "message"), "taken"));
	/* Every board sees the mark: the desk's list and the doctor's. */
	list = jpath(call_ok(&d, "appt.list", "{s:s}", "date", tue), "appointments");
	json_array_foreach(list, i, e) {
		if (json_is_true(jpath(e, "overbook"))) {
			assert_int_equal(jint(e, "id"), ob);
			marked++;
		}
	}
	assert_int_equal(marked, 1);
	/* Other days are not full. */
	book(&r, chen.id, emily.id, at(tue, 9, 0) + 86400);
	/* Removing the cap lifts it. */
	res = call_ok(&a, "daily_cap.set", "{s:I}", "doctor_id", (json_int_t)chen.id);
	assert_true(json_is_null(jpath(res, "cap.daily_cap")));
	book(&r, chen.id, john.id, at(tue, 11, 0));
	cli_close(&d);
	cli_close(&p);
	cli_close(&r);
	cli_close(&a);
}

static void
test_recurring_is_all_or_nothing(void **state)
{
	struct tcli	 r, p, d;
	json_t		*res, *list, *e;
	char		 tue[11], third[11];
	int64_t		 series, follow;
	size_t		 i;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	open_as(&d, &chen);
	follow = type_id(&r, "Follow-up");
	week_day(&r, 5, 2, tue);

	res = call_ok(&r, "appt.book_recurring", "{s:I, s:I, s:I, s:i, s:i, s:I, s:s}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)emily.id,
	    "starts_at", (json_int_t)at(tue, 9, 0), "every_weeks", 2, "count", 4,
	    "type_id", (json_int_t)follow, "reason", "Physio check");
	series = jint(res, "series_id");
	list = jpath(res, "appointments");
	assert_int_equal(json_array_size(list), 4);
	json_array_foreach(list, i, e) {
		char	date[11];
		time_t	t = (time_t)jint(e, "starts_at");
		struct tm tm;

		assert_int_equal(jint(e, "series_id"), series);
		assert_int_equal(jint(e, "ends_at") - jint(e, "starts_at"), 15 * 60);
		assert_jstr(e, "status", "approved");
		assert_jstr(e, "reason", "Physio check");
		/* Every two weeks at 09:00 clinic time. */
		localtime_r(&t, &tm);
		assert_int_equal(tm.tm_hour, 9);
		assert_int_equal(tm.tm_min, 0);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		assert_int_equal(jint(e, "starts_at"), at(date, 9, 0));
		if (i > 0)
			assert_true(jint(e, "starts_at") - jint(json_array_get(list,
			    i - 1), "starts_at") >= 14 * 86400 - 3600);
	}
	assert_int_equal(series, jint(json_array_get(list, 0), "id"));

	/* Across a DST change the clinic time stays and the UTC step is not
	 * a week (the zone changes within any 52 weeks). */
	for (i = 1; i < 53; i++) {
		char	w0[11], w1[11];

		week_day(&r, (int)i, 2, w0);
		week_day(&r, (int)i + 1, 2, w1);
		if (at(w1, 16, 30) - at(w0, 16, 30) == 7 * 86400)
			continue;
		res = call_ok(&r, "appt.book_recurring", "{s:I, s:I, s:I, s:i, s:i}",
		    "doctor_id", (json_int_t)okafor.id, "patient_id",
		    (json_int_t)emily.id, "starts_at", (json_int_t)at(w0, 16, 30),
		    "every_weeks", 1, "count", 2);
		assert_int_equal(jint(res, "appointments.1.starts_at"), at(w1, 16, 30));
		break;
	}
	assert_true(i < 53);

	/* One occurrence taken: none booked, and the conflict is named. */
	strcpy(third, tue);
	week_day(&r, 7, 2, third);
	book(&r, chen.id, emily.id, at(third, 10, 0));
	res = call_err(&r, "appt.book_recurring", "conflict",
	    "{s:I, s:I, s:I, s:i, s:i}", "doctor_id", (json_int_t)chen.id,
	    "patient_id", (json_int_t)john.id, "starts_at", (json_int_t)at(tue, 10, 0),
	    "every_weeks", 1, "count", 4);
	assert_non_null(strstr(jstr(res, "message"), "1 of 4"));
	assert_non_null(strstr(jstr(res, "message"), third));
	assert_non_null(strstr(jstr(res, "message"), "taken"));
	list = jpath(call_ok(&r, "appt.list", "{s:s, s:I}", "date", tue, "patient_id",
	    (json_int_t)john.id), "appointments");
	assert_int_equal(json_array_size(list), 0);
	/* Outside hours (a Sunday series) lists every occurrence. */
	res = call_err(&r, "appt.book_recurring", "conflict",
	    "{s:I, s:I, s:I, s:i, s:i}", "doctor_id", (json_int_t)chen.id,
	    "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)(at(tue, 10, 0) - 2 * 86400), "every_weeks", 1, "count", 3);
	assert_non_null(strstr(jstr(res, "message"), "3 of 3"));
	assert_non_null(strstr(jstr(res, "message"), "outside the doctor's hours"));

	/* Refusals: roles, bad input. */
	call_err(&p, "appt.book_recurring", "forbidden", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "starts_at", (json_int_t)at(tue, 11, 0), "every_weeks", 1, "count", 2);
	call_err(&d, "appt.book_recurring", "forbidden", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)okafor.id, "patient_id", (json_int_t)john.id,
	    "starts_at", (json_int_t)at(tue, 11, 0), "every_weeks", 1, "count", 2);
	call_err(&r, "appt.book_recurring", "bad_request", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "starts_at", (json_int_t)at(tue, 11, 0), "every_weeks", 0, "count", 2);
	call_err(&r, "appt.book_recurring", "bad_request", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "starts_at", (json_int_t)at(tue, 11, 0), "every_weeks", 1, "count", 1);
	call_err(&r, "appt.book_recurring", "bad_request", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "starts_at", (json_int_t)at(tue, 11, 0), "every_weeks", 1, "count", 53);
	call_err(&r, "appt.book_recurring", "bad_request", "{s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "every_weeks", 1, "count", 2);
	call_err(&r, "appt.book_recurring", "bad_request", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "starts_at", (json_int_t)(server_now(&r) - 60), "every_weeks", 1, "count", 2);
	call_err(&r, "appt.book_recurring", "not_found", "{s:I, s:i, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", 999999,
	    "starts_at", (json_int_t)at(tue, 11, 0), "every_weeks", 1, "count", 2);
	cli_close(&d);
	cli_close(&p);
	cli_close(&r);
}

/* The status of wait-list entry id as staff c sees it (closed ones too);
 * the entry in *out (borrowed from the reply) when out is not NULL. */
static const char *
entry_status(struct tcli *c, int64_t doctor, int64_t id, json_t **out)
{
	json_t	*list, *e;
	size_t	 i;

	list = jpath(call_ok(c, "waitlist.list", "{s:I, s:b}", "doctor_id",
	    (json_int_t)doctor, "include_closed", 1), "entries");
	json_array_foreach(list, i, e) {
		if (jint(e, "id") == id) {
			if (out != NULL)
				*out = e;
			return jstr(e, "status");
		}
	}
	fail_msg("no wait-list entry %lld", (long long)id);
	return NULL;
}

static void
test_waitlist_first_matching_patient_is_offered_a_freed_slot(void **state)
{
	struct tcli	 r, pj, pe, d, a;
	json_t		*res, *ev, *list;
	char		 mon[11];
	int64_t		 ej, ee, appt, far;

	(void)state;
	open_as(&r, &desk);
	open_as(&pj, &john);
	open_as(&pe, &emily);
	open_as(&d, &chen);
	open_as(&a, &admin);
	week_day(&r, 6, 1, mon);
	far = at(mon, 0, 0) + 14 * 86400;

	/* John joins for himself; Emily is added by the desk, after him. */
	res = call_ok(&pj, "waitlist.join", "{s:I, s:I, s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "earliest", (json_int_t)at(mon, 0, 0), "latest",
	    (json_int_t)far, "note", "Mornings please");
	ej = jint(res, "entry.id");
	assert_jstr(res, "entry.status", "waiting");
	assert_int_equal(jint(res, "entry.patient_id"), john.id);
	call_err(&pj, "waitlist.join", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "earliest", (json_int_t)at(mon, 0, 0), "latest",
	    (json_int_t)far);
	res = call_ok(&r, "waitlist.join", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)at(mon, 0, 0), "latest", (json_int_t)far);
	ee = jint(res, "entry.id");
	/* Refusals. */
	call_err(&pj, "waitlist.join", "forbidden", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)at(mon, 0, 0), "latest", (json_int_t)far);
	call_err(&r, "waitlist.join", "bad_request", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "earliest", (json_int_t)at(mon, 0, 0), "latest",
	    (json_int_t)far);
	call_err(&r, "waitlist.join", "bad_request", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)far, "latest", (json_int_t)at(mon, 0, 0));
	call_err(&r, "waitlist.join", "bad_request", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)0, "latest", (json_int_t)(server_now(&r) + 400 * 86400));
	call_err(&r, "waitlist.join", "not_found", "{s:i, s:I, s:I, s:I}", "doctor_id",
	    999999, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)at(mon, 0, 0), "latest", (json_int_t)far);
	call_err(&d, "waitlist.join", "forbidden", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)at(mon, 0, 0), "latest", (json_int_t)far);

	/* Each sees what they may: a patient their own, the doctor theirs. */
	list = jpath(call_ok(&pj, "waitlist.list", NULL), "entries");
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(jint(json_array_get(list, 0), "id"), ej);
	call_err(&pj, "waitlist.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)emily.id);
	call_err(&d, "waitlist.list", "forbidden", "{s:I}", "doctor_id",
	    (json_int_t)okafor.id);
	call_err(&pe, "waitlist.leave", "forbidden", "{s:I}", "id", (json_int_t)ej);

	/* A cancellation frees 10:00: John, first in line, is offered it. */
	appt = book(&r, chen.id, emily.id, at(mon, 10, 0));
	call_ok(&r, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)appt, "reason",
	    "Patient unwell");
	ev = read_event(&a, "waitlist.offer", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), ej);
	assert_int_equal(jint(ev, "data.patient_id"), john.id);
	assert_int_equal(jint(ev, "data.offered_starts_at"), at(mon, 10, 0));
	assert_jstr(ev, "data.status", "offered");
	json_decref(ev);
	ev = read_event(&d, "waitlist.offer", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(notifications_of(&pj, "waitlist.offer", ej), 1);
	assert_int_equal(notifications_of(&pe, "waitlist.offer", ee), 0);
	list = jpath(call_ok(&r, "waitlist.list", "{s:I}", "doctor_id",
	    (json_int_t)chen.id), "entries");
	assert_true(json_array_size(list) >= 2);

	/* The next freed time goes to the next in line: Emily's own
	 * cancellation is not offered back to her, so nobody gets it... (Being
	 * booked in her window closed her entry: she joins again first.) */
	appt = book(&r, chen.id, emily.id, at(mon, 11, 0));
	assert_string_equal(entry_status(&r, chen.id, ee, NULL), "booked");
	ee = jint(call_ok(&pe, "waitlist.join", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "earliest", (json_int_t)at(mon, 0, 0), "latest",
	    (json_int_t)far), "entry.id");
	call_ok(&pe, "appt.cancel", "{s:I}", "id", (json_int_t)appt);
	assert_int_equal(notifications_of(&pe, "waitlist.offer", ee), 0);
	/* ...while someone else's is. */
	appt = jint(call_ok(&pj, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(mon, 11, 20)),
	    "appointment.id");
	call_ok(&r, "appt.reject", "{s:I, s:s}", "id", (json_int_t)appt, "reason",
	    "Doctor unavailable");
	assert_int_equal(notifications_of(&pe, "waitlist.offer", ee), 1);
	res = call_ok(&pe, "waitlist.leave", "{s:I}", "id", (json_int_t)ee);
	assert_jstr(res, "entry.status", "left");
	call_err(&pe, "waitlist.leave", "conflict", "{s:I}", "id", (json_int_t)ee);
	call_err(&pe, "waitlist.leave", "forbidden", "{s:i}", "id", 999999);
	call_err(&r, "waitlist.leave", "not_found", "{s:i}", "id", 999999);
	call_ok(&r, "waitlist.leave", "{s:I}", "id", (json_int_t)ej);
	list = jpath(call_ok(&pj, "waitlist.list", NULL), "entries");
	assert_int_equal(json_array_size(list), 0);
	list = jpath(call_ok(&pj, "waitlist.list", "{s:b}", "include_closed", 1),
	    "entries");
	assert_int_equal(json_array_size(list), 1);
	cli_close(&a);
	cli_close(&d);
	cli_close(&pe);
	cli_close(&pj);
	cli_close(&r);
}

static void
test_waitlist_offer_on_reschedule_not_on_cancel_day(void **state)
{
	struct tcli	 r, a;
	json_t		*res, *ev, *list, *e;
	char		 mon[11], tue[11];
	int64_t		 entry, id;
	size_t		 i;
	int		 seen = 0;

	(void)state;
	open_as(&r, &desk);
	open_as(&a, &admin);
	week_day(&r, 10, 1, mon);
	week_day(&r, 10, 2, tue);
	entry = jint(call_ok(&r, "waitlist.join", "{s:I, s:I, s:I, s:I, s:s}",
	    "doctor_id", (json_int_t)okafor.id, "patient_id", (json_int_t)emily.id,
	    "earliest", (json_int_t)at(tue, 0, 0), "latest",
	    (json_int_t)at(tue, 0, 0) + 86400, "note", "Tuesday only"), "entry.id");
	/* A whole day cancelled: the doctor is away, nothing is offered. */
	id = book(&r, okafor.id, john.id, at(tue, 9, 0));
	call_ok(&r, "appt.cancel_day", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)okafor.id, "date", tue, "reason", "Conference");
	res = call_ok(&a, "appt.get", "{s:I}", "id", (json_int_t)id);
	assert_jstr(res, "appointment.status", "cancelled");
	list = jpath(call_ok(&r, "waitlist.list", "{s:I}", "doctor_id",
	    (json_int_t)okafor.id), "entries");
	json_array_foreach(list, i, e) {
		if (jint(e, "id") == entry) {
			assert_jstr(e, "status", "waiting");
			seen++;
		}
	}
	assert_int_equal(seen, 1);
	/* Moved away from a time in the window: that time is offered. Monday's
	 * times are outside it, and a time still taken is offered to no one. */
	id = book(&r, okafor.id, john.id, at(mon, 9, 0));
	call_ok(&r, "appt.reschedule", "{s:I, s:I}", "id", (json_int_t)id,
	    "starts_at", (json_int_t)at(mon, 10, 0));
	/* The cancelled day's doctor is back on Tuesday 14:00 after all. */
	id = book(&r, okafor.id, john.id, at(tue, 14, 0));
	call_ok(&r, "appt.reschedule", "{s:I, s:I}", "id", (json_int_t)id,
	    "starts_at", (json_int_t)at(tue, 16, 0));
	ev = read_event(&a, "waitlist.offer", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), entry);
	assert_int_equal(jint(ev, "data.offered_starts_at"), at(tue, 14, 0));
	assert_int_equal(jint(ev, "data.offered_ends_at"), at(tue, 14, 30));
	json_decref(ev);
	res = call_ok(&r, "waitlist.leave", "{s:I}", "id", (json_int_t)entry);
	assert_jstr(res, "entry.status", "left");
	cli_close(&a);
	cli_close(&r);
}

/*
 * Booking a patient with a doctor closes their open entry on that doctor's
 * wait list as booked, naming the appointment, when the time lies in the
 * entry's window or is the time offered to it: on appt.book, appt.approve
 * of the patient's own request, appt.reschedule and appt.book_recurring
 * (appt.walk_in: test_walk_in_takes_type_and_cap). A time outside the
 * window, another doctor, or a request still waiting for approval (or
 * rejected) leave the entry open, and a booked entry can neither be left
 * nor offered another time.
 */
static void
test_waitlist_entry_closes_when_its_patient_is_booked(void **state)
{
	struct tcli	 r, pj, pe;
	json_t		*res, *e;
	char		 wed[11], thu[11], fri[11], mon[11], later_mon[11];
	int64_t		 ej, ee, appt, later;

	(void)state;
	open_as(&r, &desk);
	open_as(&pj, &john);
	open_as(&pe, &emily);
	week_day(&r, 12, 3, wed);
	week_day(&r, 12, 4, thu);
	week_day(&r, 12, 5, fri);
	week_day(&r, 13, 1, mon);
	ej = jint(call_ok(&r, "waitlist.join", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "patient_id", (json_int_t)john.id, "earliest",
	    (json_int_t)at(wed, 0, 0), "latest", (json_int_t)at(thu, 0, 0)),
	    "entry.id");
	ee = jint(call_ok(&r, "waitlist.join", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)at(wed, 0, 0), "latest", (json_int_t)at(thu, 0, 0)),
	    "entry.id");
	/* The desk books Emily on Wednesday: her entry is closed with it. */
	appt = book(&r, raman.id, emily.id, at(wed, 10, 0));
	assert_string_equal(entry_status(&r, raman.id, ee, &e), "booked");
	assert_int_equal(jint(e, "appointment_id"), appt);
	assert_true(jint(e, "booked_at") > 0);
	assert_true(json_is_null(json_object_get(e, "left_at")));
	assert_string_equal(entry_status(&r, raman.id, ej, &e), "waiting");
	assert_true(json_is_null(json_object_get(e, "appointment_id")));
	res = call_ok(&pe, "waitlist.list", NULL);
	assert_int_equal(json_array_size(jpath(res, "entries")), 0);
	res = call_err(&pe, "waitlist.leave", "conflict", "{s:I}", "id",
	    (json_int_t)ee);
	assert_non_null(strstr(jstr(res, "message"), "booked"));

	/* Her cancellation offers 10:00 to John, not to her closed entry. */
	call_ok(&r, "appt.cancel", "{s:I}", "id", (json_int_t)appt);
	assert_string_equal(entry_status(&r, raman.id, ej, &e), "offered");
	assert_int_equal(jint(e, "offered_starts_at"), at(wed, 10, 0));
	assert_string_equal(entry_status(&r, raman.id, ee, NULL), "booked");
	/* John asks for the offered time himself: a request is no booking yet;
	 * the desk's approval closes his entry, naming that appointment. */
	appt = jint(call_ok(&pj, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "starts_at", (json_int_t)at(wed, 10, 0)),
	    "appointment.id");
	assert_string_equal(entry_status(&r, raman.id, ej, NULL), "offered");
	call_ok(&r, "appt.approve", "{s:I}", "id", (json_int_t)appt);
	assert_string_equal(entry_status(&r, raman.id, ej, &e), "booked");
	assert_int_equal(jint(e, "appointment_id"), appt);
	/* John sees it closed among his own. */
	res = jpath(call_ok(&pj, "waitlist.list", "{s:b}", "include_closed", 1),
	    "entries");
	e = json_array_get(res, json_array_size(res) - 1);
	assert_int_equal(jint(e, "id"), ej);
	assert_jstr(e, "status", "booked");

	/* Emily may wait again (for Thursday). Friday is outside the window,
	 * Dr. Okafor is another doctor: the entry stays open. */
	ee = jint(call_ok(&pe, "waitlist.join", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "earliest", (json_int_t)at(thu, 0, 0), "latest",
	    (json_int_t)at(fri, 0, 0)), "entry.id");
	later = book(&r, raman.id, emily.id, at(fri, 10, 0));
	book(&r, okafor.id, emily.id, at(thu, 9, 0));
	assert_string_equal(entry_status(&r, raman.id, ee, NULL), "waiting");
	/* Moved into the window: closed with the new appointment. */
	appt = jint(call_ok(&r, "appt.reschedule", "{s:I, s:I}", "id",
	    (json_int_t)later, "starts_at", (json_int_t)at(thu, 11, 0)),
	    "appointment.id");
	assert_string_equal(entry_status(&r, raman.id, ee, &e), "booked");
	assert_int_equal(jint(e, "appointment_id"), appt);

	/* A series books its first occurrence inside the window. */
	week_day(&r, 14, 1, later_mon);
	ee = jint(call_ok(&pe, "waitlist.join", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "earliest", (json_int_t)at(later_mon, 0, 0), "latest",
	    (json_int_t)at(later_mon, 0, 0) + 86400), "entry.id");
	appt = jint(call_ok(&r, "appt.book_recurring", "{s:I, s:I, s:I, s:i, s:i}",
	    "doctor_id", (json_int_t)raman.id, "patient_id", (json_int_t)emily.id,
	    "starts_at", (json_int_t)at(later_mon, 14, 0), "every_weeks", 1, "count", 2),
	    "appointments.0.id");
	assert_string_equal(entry_status(&r, raman.id, ee, &e), "booked");
	assert_int_equal(jint(e, "appointment_id"), appt);

	/* A request the desk rejects leaves her waiting in her place. */
	ee = jint(call_ok(&pe, "waitlist.join", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "earliest", (json_int_t)at(mon, 0, 0), "latest",
	    (json_int_t)at(mon, 0, 0) + 86400), "entry.id");
	appt = jint(call_ok(&pe, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)raman.id, "starts_at", (json_int_t)at(mon, 10, 0)),
	    "appointment.id");
	call_ok(&r, "appt.reject", "{s:I, s:s}", "id", (json_int_t)appt, "reason",
	    "Doctor unavailable");
	assert_string_equal(entry_status(&r, raman.id, ee, NULL), "waiting");
	res = call_ok(&pe, "waitlist.leave", "{s:I}", "id", (json_int_t)ee);
	assert_jstr(res, "entry.status", "left");
	cli_close(&pe);
	cli_close(&pj);
	cli_close(&r);
}

static void
test_recall_list(void **state)
{
	struct tcli	 r, p, d;
	json_t		*res, *list, *e;
	char		 today[11], soon[11], past[11];
	int64_t		 id;
	size_t		 i;
	int		 found = 0;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	open_as(&d, &chen);
	days_ahead(&r, 0, today);
	days_ahead(&r, 10, soon);
	days_ahead(&r, -1, past);

	res = call_ok(&r, "recall.add", "{s:I, s:s, s:s, s:I}", "patient_id",
	    (json_int_t)john.id, "due_by", soon, "reason", "Repeat blood test",
	    "doctor_id", (json_int_t)chen.id);
	id = jint(res, "recall.id");
	assert_jstr(res, "recall.due_by", soon);
	assert_jstr(res, "recall.patient_name", "John Smith");
	assert_jstr(res, "recall.doctor_name", "Dr. Sarah Chen");
	assert_true(json_is_null(jpath(res, "recall.done_at")));
	/* Due today: the demo's overdue ones, not this one yet. */
	res = call_ok(&r, "recall.due", NULL);
	assert_jstr(res, "before", today);
	list = jpath(res, "recalls");
	assert_true(json_array_size(list) >= 2);
	json_array_foreach(list, i, e) {
		assert_true(strcmp(jstr(e, "due_by"), today) <= 0);
		assert_int_not_equal(jint(e, "id"), id);
	}
	list = jpath(call_ok(&d, "recall.due", "{s:s}", "before", soon), "recalls");
	json_array_foreach(list, i, e)
		found += jint(e, "id") == id;
	assert_int_equal(found, 1);
	/* Done: it leaves the list, once. */
	res = call_ok(&r, "recall.done", "{s:I}", "id", (json_int_t)id);
	assert_true(jint(res, "recall.done_at") > 0);
	assert_int_equal(jint(res, "recall.done_by"), desk.user_id);
	call_err(&r, "recall.done", "conflict", "{s:I}", "id", (json_int_t)id);
	list = jpath(call_ok(&r, "recall.due", "{s:s}", "before", soon), "recalls");
	json_array_foreach(list, i, e)
		assert_int_not_equal(jint(e, "id"), id);
	/* Refusals: roles and bad input. */
	call_err(&p, "recall.add", "forbidden", "{s:I, s:s, s:s}", "patient_id",
	    (json_int_t)john.id, "due_by", soon, "reason", "x");
	call_err(&p, "recall.due", "forbidden", NULL);
	call_err(&p, "recall.done", "forbidden", "{s:I}", "id", (json_int_t)id);
	call_err(&d, "recall.add", "forbidden", "{s:I, s:s, s:s, s:I}", "patient_id",
	    (json_int_t)john.id, "due_by", soon, "reason", "x", "doctor_id",
	    (json_int_t)okafor.id);
	call_err(&r, "recall.add", "bad_request", "{s:I, s:s, s:s}", "patient_id",
	    (json_int_t)john.id, "due_by", past, "reason", "x");
	call_err(&r, "recall.add", "bad_request", "{s:I, s:s, s:s}", "patient_id",
	    (json_int_t)john.id, "due_by", "2026-02-30", "reason", "x");
	call_err(&r, "recall.add", "bad_request", "{s:I, s:s, s:s}", "patient_id",
	    (json_int_t)john.id, "due_by", soon, "reason", "");
	call_err(&r, "recall.add", "bad_request", "{s:I, s:s}", "patient_id",
	    (json_int_t)john.id, "due_by", soon);
	call_err(&r, "recall.add", "not_found", "{s:i, s:s, s:s}", "patient_id",
	    999999, "due_by", soon, "reason", "x");
	call_err(&r, "recall.due", "bad_request", "{s:s}", "before", "tomorrow!!");
	call_err(&r, "recall.due", "bad_request", "{s:i}", "limit", 0);
	call_err(&r, "recall.done", "not_found", "{s:i}", "id", 999999);
	call_err(&r, "recall.done", "bad_request", "{s:s}", "id", "1");
	call_err(&r, "recall.add", "bad_request", "{s:s, s:s, s:s}", "patient_id",
	    "john", "due_by", soon, "reason", "x");
	call_err(&r, "waitlist.join", "bad_request", "{s:I, s:I, s:s, s:I}",
	    "doctor_id", (json_int_t)chen.id, "patient_id", (json_int_t)john.id,
	    "earliest", "soon", "latest", (json_int_t)(server_now(&r) + 86400));
	call_err(&r, "daily_cap.set", "forbidden", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", "many");
	call_err(&r, "appt.book", "bad_request", "{s:I, s:I, s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "starts_at",
	    (json_int_t)(server_now(&r) + 86400), "type_id", 0);
	/* A doctor's recall is to themselves. */
	res = call_ok(&d, "recall.add", "{s:I, s:s, s:s}", "patient_id",
	    (json_int_t)john.id, "due_by", soon, "reason", "Check the new dose");
	assert_int_equal(jint(res, "recall.doctor_id"), chen.id);
	cli_close(&d);
	cli_close(&p);
	cli_close(&r);
}

static void
test_appointment_changes_notify_patient_and_doctor(void **state)
{
	struct tcli	 r, pj, d;
	json_t		*res;
	char		 wed[11];
	int64_t		 id, next;

	(void)state;
	open_as(&r, &desk);
	open_as(&pj, &john);
	open_as(&d, &chen);
	week_day(&r, 8, 3, wed);

	/* Approved by the doctor: the patient hears; the doctor does not. */
	id = jint(call_ok(&pj, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(wed, 9, 0)),
	    "appointment.id");
	call_ok(&d, "appt.approve", "{s:I}", "id", (json_int_t)id);
	assert_int_equal(notifications_of(&pj, "appt.approved", id), 1);
	assert_int_equal(notifications_of(&d, "appt.approved", id), 0);
	/* Moved by the desk: the patient hears of the new time. */
	res = call_ok(&r, "appt.reschedule", "{s:I, s:I}", "id", (json_int_t)id,
	    "starts_at", (json_int_t)at(wed, 10, 0));
	next = jint(res, "appointment.id");
	assert_int_equal(notifications_of(&pj, "appt.rescheduled", next), 1);
	assert_int_equal(notifications_of(&d, "appt.rescheduled", next), 0);
	/* Cancelled by the patient: the doctor hears, the patient does not. */
	call_ok(&pj, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)next, "reason",
	    "Feeling better");
	assert_int_equal(notifications_of(&d, "appt.cancelled", next), 1);
	assert_int_equal(notifications_of(&pj, "appt.cancelled", next), 0);
	/* Rejected by the desk, with its reason. */
	id = jint(call_ok(&pj, "appt.book", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(wed, 11, 0)),
	    "appointment.id");
	call_ok(&r, "appt.reject", "{s:I, s:s}", "id", (json_int_t)id, "reason",
	    "Needs a specialist");
	assert_int_equal(notifications_of(&pj, "appt.rejected", id), 1);
	res = call_ok(&pj, "notifications.list", "{s:i}", "limit", 1);
	assert_non_null(strstr(jstr(res, "notifications.0.body"), "Needs a specialist"));
	/* A whole day cancelled: each patient is told. */
	id = book(&r, chen.id, john.id, at(wed, 13, 0));
	call_ok(&r, "appt.cancel_day", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", wed, "reason", "Doctor ill");
	assert_int_equal(notifications_of(&pj, "appt.cancelled", id), 1);
	cli_close(&d);
	cli_close(&pj);
	cli_close(&r);
}

static void
test_hold_ends_on_logout(void **state)
{
	struct tcli	 r1, r2;
	json_t		*ev, *res;
	char		 mon[11], *token;
	int64_t		 t;

	(void)state;
	/* A session of its own: logging out revokes it. */
	cli_open(&r1, &clinic_srv);
	token = cli_login(&r1, DEMO_RECEPTION, DEMO_PASSWORD);
	free(token);
	open_as(&r2, &admin);
	week_day(&r1, 9, 1, mon);
	t = at(mon, 9, 0);
	/* A procedure's hold keeps its whole 45 minutes. */
	res = call_ok(&r1, "appt.hold", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t, "type_id",
	    (json_int_t)type_id(&r2, "Procedure"));
	assert_int_equal(jint(res, "hold.ends_at"), t + 45 * 60);
	ev = read_event(&r2, "appt.held", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	call_err(&r2, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)t);
	res = call_err(&r2, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "starts_at",
	    (json_int_t)(t + 40 * 60));
	assert_non_null(strstr(jstr(res, "message"), "held by"));
	/* The desk logs out but the terminal stays connected. */
	call_ok(&r1, "auth.logout", NULL);
	ev = read_event(&r2, "appt.released", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.starts_at"), t);
	json_decref(ev);
	call_ok(&r1, "health", NULL);
	book(&r2, chen.id, emily.id, t);
	cli_close(&r2);
	cli_close(&r1);
}

static void
test_no_shows_shown_on_patients(void **state)
{
	struct tcli	 r, p;
	json_t		*res, *list, *e;
	int64_t		 kim = 0;
	size_t		 i;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	/* The demo's Daniel Kim missed three visits: flagged in search. */
	list = jpath(call_ok(&r, "patients.search", "{s:s}", "name", "Daniel Kim"),
	    "patients");
	json_array_foreach(list, i, e) {
		if (strcmp(jstr(e, "full_name"), "Daniel Kim") == 0) {
			kim = jint(e, "id");
			assert_int_equal(jint(e, "no_show_count"), 3);
			assert_true(json_is_true(jpath(e, "no_show_flagged")));
		}
	}
	assert_true(kim > 0);
	res = call_ok(&r, "patients.get", "{s:I}", "id", (json_int_t)kim);
	assert_int_equal(jint(res, "patient.no_show_count"), 3);
	assert_true(json_is_true(jpath(res, "patient.no_show_flagged")));
	res = call_ok(&p, "patients.get", "{}");
	assert_true(jint(res, "patient.no_show_count") >= 0);
	assert_true(json_is_false(jpath(res, "patient.no_show_flagged")));
	cli_close(&p);
	cli_close(&r);
}

static void
test_demo_shows_front_desk_depth(void **state)
{
	struct tcli	 r;
	json_t		*list, *e;
	int64_t		 now;
	size_t		 i;
	int		 overbooks = 0;

	(void)state;
	open_as(&r, &desk);
	now = server_now(&r);
	list = jpath(call_ok(&r, "waitlist.list", NULL), "entries");
	assert_true(json_array_size(list) >= 1);
	list = jpath(call_ok(&r, "appt.list", "{s:I, s:I, s:I, s:i}", "doctor_id",
	    (json_int_t)okafor.id, "from", (json_int_t)(now - 60 * 86400), "to",
	    (json_int_t)(now - 30 * 86400), "limit", 500), "appointments");
	json_array_foreach(list, i, e)
		overbooks += json_is_true(jpath(e, "overbook"));
	assert_int_equal(overbooks, 1);
	cli_close(&r);
}

/* Last: moves the clock to a Monday morning in Dr. Chen's hours; a wait
 * list offer lapses on the way, and a walk-in closes the patient's entry. */
static void
test_walk_in_takes_type_and_cap(void **state)
{
	struct tcli	 r, a;
	json_t		*res;
	char		 mon[11];
	int64_t		 now, entry, id;

	(void)state;
	open_as(&r, &desk);
	open_as(&a, &admin);
	week_day(&r, 11, 1, mon);
	/* John is offered Dr. Okafor's 9:00, which then passes unused. */
	entry = jint(call_ok(&r, "waitlist.join", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)john.id, "earliest",
	    (json_int_t)at(mon, 0, 0), "latest", (json_int_t)at(mon, 0, 0) + 86400),
	    "entry.id");
	id = book(&r, okafor.id, emily.id, at(mon, 9, 0));
	call_ok(&r, "appt.cancel", "{s:I}", "id", (json_int_t)id);
	res = call_ok(&r, "waitlist.list", "{s:I}", "patient_id", (json_int_t)john.id);
	assert_jstr(res, "entries.0.status", "offered");
	assert_int_equal(jint(res, "entries.0.offered_starts_at"), at(mon, 9, 0));
	id = book(&r, okafor.id, emily.id, at(mon, 10, 0));
	now = server_now(&r);
	assert_true(at(mon, 9, 5) > now);
	clock_forward(&r, at(mon, 9, 5) - now);
	/* The offer lapsed: the next freed time goes to him again. */
	call_ok(&r, "appt.cancel", "{s:I}", "id", (json_int_t)id);
	res = call_ok(&r, "waitlist.list", "{s:I}", "patient_id", (json_int_t)john.id);
	assert_int_equal(jint(res, "entries.0.id"), entry);
	assert_jstr(res, "entries.0.status", "offered");
	assert_int_equal(jint(res, "entries.0.offered_starts_at"), at(mon, 10, 0));
	call_ok(&r, "waitlist.leave", "{s:I}", "id", (json_int_t)entry);

	/* Emily waits for Dr. Chen today; walking in closes her entry. */
	entry = jint(call_ok(&r, "waitlist.join", "{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "earliest",
	    (json_int_t)at(mon, 0, 0), "latest", (json_int_t)at(mon, 0, 0) + 86400),
	    "entry.id");
	res = call_ok(&r, "appt.walk_in", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)emily.id, "type_id",
	    (json_int_t)type_id(&r, "Follow-up"));
	id = jint(res, "appointment.id");
	{
		json_t	*e;

		assert_string_equal(entry_status(&a, chen.id, entry, &e), "booked");
		assert_int_equal(jint(e, "appointment_id"), id);
	}
	res = call_ok(&a, "appt.get", "{s:I}", "id", (json_int_t)id);
	assert_int_equal(jint(res, "appointment.starts_at"), at(mon, 9, 0));
	assert_int_equal(jint(res, "appointment.ends_at"), at(mon, 9, 15));
	assert_jstr(res, "appointment.status", "checked_in");
	assert_jstr(res, "appointment.type_name", "Follow-up");
	/* A cap of one: the day is full, and there is no overbook to spare. */
	call_ok(&a, "daily_cap.set", "{s:I, s:i}", "doctor_id", (json_int_t)chen.id,
	    "daily_cap", 1);
	res = call_err(&r, "appt.walk_in", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id);
	assert_non_null(strstr(jstr(res, "message"), "daily cap 1"));
	res = call_err(&r, "appt.walk_in", "conflict", "{s:I, s:I, s:b}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "overbook", 1);
	assert_non_null(strstr(jstr(res, "message"), "all used"));
	call_ok(&a, "daily_cap.set", "{s:I, s:i, s:i}", "doctor_id",
	    (json_int_t)chen.id, "daily_cap", 1, "overbooks", 1);
	res = call_ok(&r, "appt.walk_in", "{s:I, s:I, s:b}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "overbook", 1);
	assert_true(json_is_true(jpath(res, "appointment.overbook")));
	call_ok(&a, "daily_cap.set", "{s:I}", "doctor_id", (json_int_t)chen.id);
	cli_close(&a);
	cli_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_shows_front_desk_depth),
		cmocka_unit_test(test_appt_types_admin_edits_and_refusals),
		cmocka_unit_test(test_type_length_decides_slots_and_booking),
		cmocka_unit_test(test_daily_cap_and_overbooks),
		cmocka_unit_test(test_recurring_is_all_or_nothing),
		cmocka_unit_test(test_waitlist_first_matching_patient_is_offered_a_freed_slot),
		cmocka_unit_test(test_waitlist_offer_on_reschedule_not_on_cancel_day),
		cmocka_unit_test(test_waitlist_entry_closes_when_its_patient_is_booked),
		cmocka_unit_test(test_recall_list),
		cmocka_unit_test(test_appointment_changes_notify_patient_and_doctor),
		cmocka_unit_test(test_hold_ends_on_logout),
		cmocka_unit_test(test_no_shows_shown_on_patients),
		cmocka_unit_test(test_walk_in_takes_type_and_cap),
	};

	setenv("TZ", ":America/New_York", 1);
	tzset();
	return cmocka_run_group_tests_name("front desk depth", tests, clinic_setup_ny,
	    clinic_teardown);
}
