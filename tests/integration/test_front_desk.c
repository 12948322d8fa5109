/* test_front_desk.c -- front-desk depth against a real mediflowd in
 * America/New_York: soft holds on slots (appt.hold, appt.release, the
 * appt.held and appt.released events, expiry and disconnects), walk-ins
 * (appt.walk_in) and the closed list of cancellation reasons.
 *
 * One server for the file, with the demo clinic as its data; each test uses
 * days of its own (week W of the calendar ahead). The last test moves the
 * server clock forward. */
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

/* --- holds, bookings and slots --- */

static json_t *
hold(struct tcli *c, int64_t doctor, int64_t starts_at)
{
	return call_ok(c, "appt.hold", "{s:I, s:I}", "doctor_id", (json_int_t)doctor,
	    "starts_at", (json_int_t)starts_at);
}

static json_t *
book_err(struct tcli *c, const char *code, int64_t doctor, int64_t patient,
    int64_t starts_at)
{
	return call_err(c, "appt.book", code, "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)doctor, "patient_id", (json_int_t)patient, "starts_at",
	    (json_int_t)starts_at);
}

/* The slot of a day starting at t in appt.slots as c sees it, or NULL. */
static json_t *
slot_at(struct tcli *c, int64_t doctor, const char *date, int64_t t)
{
	json_t	*list, *e;
	size_t	 i;

	list = jpath(call_ok(c, "appt.slots", "{s:I, s:s}", "doctor_id",
	    (json_int_t)doctor, "date", date), "slots");
	json_array_foreach(list, i, e) {
		if (jint(e, "starts_at") == t)
			return e;
	}
	return NULL;
}

/* ================================================================== */

static void
test_hold_keeps_slot_from_other_terminals(void **state)
{
	struct tcli	 r1, r2, a, d, p;
	json_t		*res, *ev, *s;
	char		 mon[11];
	int64_t		 t, now;

	(void)state;
	open_as(&r1, &desk);
	open_as(&r2, &desk);
	open_as(&a, &admin);
	open_as(&d, &chen);
	open_as(&p, &john);
	week_day(&r1, 2, 1, mon);
	t = at(mon, 9, 0);

	now = server_now(&r1);
	res = hold(&r1, chen.id, t);
	assert_true(jint(res, "hold.expires_at") >= now + 120);
	assert_int_equal(jint(res, "hold.doctor_id"), chen.id);
	assert_int_equal(jint(res, "hold.starts_at"), t);
	assert_int_equal(jint(res, "hold.ends_at"), t + 20 * 60);
	assert_int_equal(jint(res, "hold.holder_user_id"), desk.user_id);
	assert_jstr(res, "hold.holder_name", "Maria Lopez");

	/* Every board hears of it: the other desk, admins, the doctor. */
	ev = read_event(&r2, "appt.held", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.starts_at"), t);
	assert_jstr(ev, "data.holder_name", "Maria Lopez");
	json_decref(ev);
	ev = read_event(&a, "appt.held", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	ev = read_event(&d, "appt.held", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(events_pending(&p, NULL), 0);

	/* Another terminal, even the same login, cannot book it or overlap it. */
	res = book_err(&a, "conflict", chen.id, emily.id, t);
	assert_non_null(strstr(jstr(res, "message"), "held by Maria Lopez"));
	book_err(&r2, "conflict", chen.id, emily.id, t + 10 * 60);
	call_err(&a, "appt.hold", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	/* Nor can a patient: the slot is hidden from them. */
	assert_null(slot_at(&p, chen.id, mon, t));
	assert_non_null(slot_at(&p, chen.id, mon, t + 20 * 60));
	book_err(&p, "conflict", chen.id, john.id, t);
	/* Staff see who holds it; the holder sees a plain free slot. */
	s = slot_at(&a, chen.id, mon, t);
	assert_non_null(s);
	assert_int_equal(jint(s, "held_by.user_id"), desk.user_id);
	assert_jstr(s, "held_by.name", "Maria Lopez");
	s = slot_at(&r1, chen.id, mon, t);
	assert_non_null(s);
	assert_null(jpath(s, "held_by"));
	/* Other times stay free to all. */
	book(&a, chen.id, emily.id, t + 20 * 60);
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	json_decref(ev);

	/* The holder books it: the hold ends and the boards are told. */
	book(&r1, chen.id, john.id, t);
	ev = read_event(&r2, "appt.released", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.starts_at"), t);
	assert_int_equal(jint(ev, "data.holder_user_id"), desk.user_id);
	json_decref(ev);
	call_err(&r1, "appt.release", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	/* A taken time cannot be held. */
	call_err(&r2, "appt.hold", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	cli_close(&p);
	cli_close(&d);
	cli_close(&a);
	cli_close(&r2);
	cli_close(&r1);
}

static void
test_hold_refusals(void **state)
{
	struct tcli	 r, p, d, a;
	json_t		*res;
	char		 mon[11];
	int64_t		 t;

	(void)state;
	open_as(&r, &desk);
	open_as(&p, &john);
	open_as(&d, &chen);
	open_as(&a, &admin);
	week_day(&r, 3, 1, mon);
	t = at(mon, 9, 0);

	/* Wrong role; a doctor holding another doctor's time. */
	call_err(&p, "appt.hold", "forbidden", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	call_err(&p, "appt.release", "forbidden", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	call_err(&d, "appt.hold", "forbidden", "{s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "starts_at", (json_int_t)t);
	/* Bad input. */
	call_err(&r, "appt.hold", "bad_request", "{s:I}", "doctor_id",
	    (json_int_t)chen.id);
	call_err(&r, "appt.hold", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", "nine");
	call_err(&r, "appt.hold", "bad_request", "{s:I, s:I, s:i}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t, "minutes", 5);
	call_err(&r, "appt.hold", "bad_request", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)(server_now(&r) - 3600));
	call_err(&r, "appt.hold", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)999999, "starts_at", (json_int_t)t);
	call_err(&r, "appt.hold", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)at(mon, 3, 0));

	/* A doctor holds their own time; only that connection releases it. */
	hold(&d, chen.id, t);
	call_err(&r, "appt.release", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	call_err(&a, "appt.release", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	book_err(&r, "conflict", chen.id, john.id, t);
	res = call_ok(&d, "appt.release", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	assert_true(json_is_true(jpath(res, "released")));
	book(&r, chen.id, john.id, t);
	cli_close(&a);
	cli_close(&d);
	cli_close(&p);
	cli_close(&r);
}

static void
test_hold_ends_when_holder_disconnects(void **state)
{
	struct tcli	 r1, r2;
	json_t		*ev;
	char		 mon[11];
	int64_t		 t;

	(void)state;
	open_as(&r1, &desk);
	open_as(&r2, &admin);
	week_day(&r1, 4, 1, mon);
	t = at(mon, 9, 0);
	hold(&r1, chen.id, t);
	ev = read_event(&r2, "appt.held", EVENT_WAIT_MS);
	json_decref(ev);
	cli_close(&r1);
	ev = read_event(&r2, "appt.released", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.starts_at"), t);
	json_decref(ev);
	book(&r2, chen.id, emily.id, t);
	cli_close(&r2);
}

/* Last: moves the clock. */
static void
test_hold_expires_after_two_minutes(void **state)
{
	struct tcli	 r1, r2;
	json_t		*ev;
	char		 mon[11];
	int64_t		 t;

	(void)state;
	open_as(&r1, &desk);
	open_as(&r2, &admin);
	week_day(&r1, 5, 1, mon);
	t = at(mon, 9, 0);
	hold(&r1, chen.id, t);
	ev = read_event(&r2, "appt.held", EVENT_WAIT_MS);
	json_decref(ev);
	clock_forward(&r2, 60);
	book_err(&r2, "conflict", chen.id, emily.id, t);
	/* Renewing restarts the two minutes. */
	hold(&r1, chen.id, t);
	ev = read_event(&r2, "appt.held", EVENT_WAIT_MS);
	json_decref(ev);
	clock_forward(&r2, 90);
	book_err(&r2, "conflict", chen.id, emily.id, t);
	clock_forward(&r2, 31);
	book(&r2, chen.id, emily.id, t);
	ev = read_event(&r1, "appt.released", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.starts_at"), t);
	json_decref(ev);
	call_err(&r1, "appt.release", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "starts_at", (json_int_t)t);
	cli_close(&r2);
	cli_close(&r1);
}

static void
test_cancel_reasons_closed_list(void **state)
{
	struct tcli	 a, r, pj, pe;
	json_t		*res;
	char		 mon[11], *many;
	int64_t		 id, id2;
	int		 i;

	(void)state;
	open_as(&a, &admin);
	open_as(&r, &desk);
	open_as(&pj, &john);
	open_as(&pe, &emily);
	week_day(&r, 7, 1, mon);
	assert_int_equal(json_array_size(jpath(call_ok(&a, "cancel_reasons.list", NULL),
	    "reasons")), 0);

	/* Only admins edit it; bad lists are refused whole. */
	call_err(&r, "cancel_reasons.set", "forbidden", "{s:[s]}", "reasons", "Weather");
	call_err(&pj, "cancel_reasons.set", "forbidden", "{s:[s]}", "reasons", "Weather");
	call_err(&a, "cancel_reasons.set", "bad_request", "{}");
	call_err(&a, "cancel_reasons.set", "bad_request", "{s:s}", "reasons", "Weather");
	call_err(&a, "cancel_reasons.set", "bad_request", "{s:[s,i]}", "reasons",
	    "Weather", 3);
	call_err(&a, "cancel_reasons.set", "bad_request", "{s:[s]}", "reasons", "");
	call_err(&a, "cancel_reasons.set", "bad_request", "{s:[s,s]}", "reasons",
	    "Weather", "Weather");
	call_err(&a, "cancel_reasons.set", "bad_request", "{s:[s]}", "reasons",
	    "two\nlines");
	many = repeat_char('x', 201);
	call_err(&a, "cancel_reasons.set", "bad_request", "{s:[s]}", "reasons", many);
	free(many);
	res = json_array();
	for (i = 0; i < 51; i++)
		json_array_append_new(res, json_sprintf("reason %d", i));
	reply_err(cli_call_json(&a, "cancel_reasons.set", json_pack("{s:o}", "reasons",
	    res)), "bad_request");
	assert_int_equal(json_array_size(jpath(call_ok(&a, "cancel_reasons.list", NULL),
	    "reasons")), 0);

	res = call_ok(&a, "cancel_reasons.set", "{s:[s,s,s]}", "reasons",
	    "Patient request", "Doctor unavailable", "Weather");
	assert_int_equal(json_array_size(jpath(res, "reasons")), 3);
	res = call_ok(&pj, "cancel_reasons.list", NULL);
	assert_int_equal(json_array_size(jpath(res, "reasons")), 3);
	assert_string_equal(json_string_value(json_array_get(jpath(res, "reasons"), 0)),
	    "Patient request");
	assert_string_equal(json_string_value(json_array_get(jpath(res, "reasons"), 2)),
	    "Weather");

	/* With a list, appt.cancel takes one of it, and free text as a note. */
	id = book(&r, chen.id, john.id, at(mon, 9, 0));
	id2 = book(&r, chen.id, emily.id, at(mon, 9, 20));
	call_err(&r, "appt.cancel", "bad_request", "{s:I, s:s}", "id", (json_int_t)id,
	    "reason", "Feeling better");
	call_err(&r, "appt.cancel", "bad_request", "{s:I}", "id", (json_int_t)id);
	call_err(&r, "appt.cancel", "bad_request", "{s:I, s:s}", "id", (json_int_t)id,
	    "note", "Snow storm");
	call_err(&pe, "appt.cancel", "forbidden", "{s:I, s:s}", "id", (json_int_t)id,
	    "reason", "Weather");
	res = call_ok(&r, "appt.cancel", "{s:I, s:s, s:s}", "id", (json_int_t)id,
	    "reason", "Weather", "note", "Snow storm");
	assert_jstr(res, "appointment.status", "cancelled");
	assert_jstr(res, "appointment.status_note", "Weather: Snow storm");
	res = call_ok(&pe, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)id2,
	    "reason", "Patient request");
	assert_jstr(res, "appointment.status_note", "Patient request");
	/* Other status changes take no note argument. */
	id = book(&r, chen.id, john.id, at(mon, 10, 0));
	call_err(&r, "appt.approve", "bad_request", "{s:I, s:s}", "id", (json_int_t)id,
	    "note", "x");

	/* An empty list turns the rule off. */
	call_ok(&a, "cancel_reasons.set", "{s:[]}", "reasons");
	res = call_ok(&r, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)id, "reason",
	    "Feeling better");
	assert_jstr(res, "appointment.status_note", "Feeling better");
	cli_close(&pe);
	cli_close(&pj);
	cli_close(&r);
	cli_close(&a);
}

/* Last too: moves the clock to a Monday morning in Dr. Chen's hours. */
static void
test_walk_in_registers_books_now_and_checks_in(void **state)
{
	struct tcli	 r, r2, a, p, d;
	json_t		*res, *ev;
	char		 mon[11];
	int64_t		 id, pid;

	(void)state;
	open_as(&r, &desk);
	open_as(&r2, &desk);
	open_as(&a, &admin);
	open_as(&p, &john);
	open_as(&d, &chen);
	week_day(&r, 6, 1, mon);
	clock_to(&r, at(mon, 9, 5));

	/* A new patient: registered, in the current slot, checked in. */
	res = call_ok(&r, "appt.walk_in", "{s:I, s:{s:s, s:s, s:s}, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient", "full_name", "Walter Inn", "date_of_birth",
	    "1970-02-03", "phone", "+1 555 010 0999", "reason", "Sprained wrist");
	assert_int_equal(jint(res, "appointment.starts_at"), at(mon, 9, 0));
	assert_jstr(res, "appointment.status", "checked_in");
	assert_jstr(res, "appointment.patient_name", "Walter Inn");
	assert_jstr(res, "appointment.reason", "Sprained wrist");
	assert_jstr(res, "patient.full_name", "Walter Inn");
	assert_jstr(res, "patient.date_of_birth", "1970-02-03");
	pid = jint(res, "patient.id");
	id = jint(res, "appointment.id");
	assert_true(pid > 0 && id > 0);
	assert_int_equal(jint(res, "appointment.patient_id"), pid);
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), id);
	assert_jstr(ev, "data.status", "checked_in");
	json_decref(ev);
	assert_jstr(call_ok(&a, "patients.get", "{s:I}", "id", (json_int_t)pid),
	    "patient.full_name", "Walter Inn");
	assert_true(json_array_size(jpath(call_ok(&a, "appt.history", "{s:I}", "id",
	    (json_int_t)id), "events")) >= 2);

	/* A known patient gets the next free slot; held slots are skipped. */
	hold(&r2, chen.id, at(mon, 9, 40));
	res = call_ok(&r, "appt.walk_in", "{s:I, s:I}", "doctor_id", (json_int_t)chen.id,
	    "patient_id", (json_int_t)john.id);
	assert_int_equal(jint(res, "appointment.starts_at"), at(mon, 9, 20));
	assert_jstr(res, "appointment.status", "checked_in");
	assert_int_equal(jint(res, "patient.id"), john.id);
	res = call_ok(&a, "appt.walk_in", "{s:I, s:I}", "doctor_id", (json_int_t)chen.id,
	    "patient_id", (json_int_t)emily.id);
	assert_int_equal(jint(res, "appointment.starts_at"), at(mon, 10, 0));

	/* Wrong roles. */
	call_err(&p, "appt.walk_in", "forbidden", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id);
	call_err(&d, "appt.walk_in", "forbidden", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id);
	/* Bad input, and nothing registered for it. */
	call_err(&r, "appt.walk_in", "bad_request", "{s:I}", "doctor_id",
	    (json_int_t)chen.id);
	call_err(&r, "appt.walk_in", "bad_request", "{s:I, s:I, s:{s:s}}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)john.id, "patient",
	    "full_name", "Two Ways");
	call_err(&r, "appt.walk_in", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "patient", "Walter");
	call_err(&r, "appt.walk_in", "bad_request", "{s:I, s:{s:s}}", "doctor_id",
	    (json_int_t)chen.id, "patient", "phone", "+15550100998");
	call_err(&r, "appt.walk_in", "bad_request", "{s:I, s:{s:s, s:s}}", "doctor_id",
	    (json_int_t)chen.id, "patient", "full_name", "Bad Date", "date_of_birth",
	    "1970-13-40");
	call_err(&r, "appt.walk_in", "bad_request", "{s:I, s:{s:s, s:i}}", "doctor_id",
	    (json_int_t)chen.id, "patient", "full_name", "Extra Key", "ssn", 1);
	call_err(&r, "appt.walk_in", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)chen.id, "patient_id", (json_int_t)999999);
	call_err(&r, "appt.walk_in", "not_found", "{s:I, s:I}", "doctor_id",
	    (json_int_t)999999, "patient_id", (json_int_t)john.id);
	assert_int_equal(json_array_size(jpath(call_ok(&r, "patients.search", "{s:s}",
	    "q", "Bad Date"), "patients")), 0);
	/* John already has his visit now: a second one overlapping is refused. */
	clock_to(&r, at(mon, 9, 25));
	call_err(&r, "appt.walk_in", "conflict", "{s:I, s:I}", "doctor_id",
	    (json_int_t)okafor.id, "patient_id", (json_int_t)john.id);
	cli_close(&d);
	cli_close(&p);
	cli_close(&a);
	cli_close(&r2);
	cli_close(&r);
}

/* Last: moves the clock to a later Monday. */
static void
test_no_shows_are_counted_and_flagged(void **state)
{
	struct tcli	 r, pj;
	json_t		*res;
	char		 mon[11];
	int64_t		 pid, ids[3], later;
	int		 i;

	(void)state;
	open_as(&r, &desk);
	open_as(&pj, &john);
	week_day(&r, 8, 1, mon);
	pid = jint(call_ok(&r, "patients.create", "{s:s}", "full_name", "Nora Show"),
	    "patient.id");
	for (i = 0; i < 3; i++)
		ids[i] = book(&r, chen.id, pid, at(mon, 9, 20 * i));
	later = book(&r, chen.id, pid, at(mon, 11, 0));
	res = call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)later);
	assert_int_equal(jint(res, "appointment.no_show_count"), 0);
	assert_true(json_is_false(jpath(res, "appointment.no_show_flagged")));
	clock_to(&r, at(mon, 10, 5));
	for (i = 0; i < 3; i++) {
		res = call_ok(&r, "appt.no_show", "{s:I}", "id", (json_int_t)ids[i]);
		assert_int_equal(jint(res, "appointment.no_show_count"), i + 1);
		if (i < 2)
			assert_true(json_is_false(jpath(res, "appointment.no_show_flagged")));
		else
			assert_true(json_is_true(jpath(res, "appointment.no_show_flagged")));
	}
	res = call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)later);
	assert_int_equal(jint(res, "appointment.no_show_count"), 3);
	assert_true(json_is_true(jpath(res, "appointment.no_show_flagged")));
	/* Another patient's record is untouched, and stays theirs to see. */
	res = call_ok(&r, "appt.list", "{s:s, s:I}", "date", mon, "patient_id",
	    (json_int_t)pid);
	assert_int_equal(json_array_size(jpath(res, "appointments")), 4);
	call_err(&pj, "appt.get", "forbidden", "{s:I}", "id", (json_int_t)later);
	cli_close(&pj);
	cli_close(&r);
}

static void
test_cancel_day_cancels_all_and_lists_whom_to_call(void **state)
{
	struct tcli	 r, r2, pj, d;
	json_t		*res, *list, *ev;
	char		 mon[11];
	int64_t		 a1, a2, a3, other;

	(void)state;
	open_as(&r, &desk);
	open_as(&r2, &admin);
	open_as(&pj, &john);
	open_as(&d, &chen);
	week_day(&r, 9, 1, mon);
	a1 = book(&r, chen.id, john.id, at(mon, 9, 0));
	a2 = book(&r, chen.id, emily.id, at(mon, 9, 20));
	a3 = book(&r, chen.id, john.id, at(mon, 10, 0));
	call_ok(&r, "appt.cancel", "{s:I}", "id", (json_int_t)a3);
	other = book(&r, okafor.id, emily.id, at(mon, 10, 0));

	/* Wrong roles and bad input change nothing. */
	call_err(&pj, "appt.cancel_day", "forbidden", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", mon, "reason", "Doctor ill");
	call_err(&d, "appt.cancel_day", "forbidden", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", mon, "reason", "Doctor ill");
	call_err(&r, "appt.cancel_day", "bad_request", "{s:I, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", mon);
	call_err(&r, "appt.cancel_day", "bad_request", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", "2026-02-31", "reason", "Doctor ill");
	call_err(&r, "appt.cancel_day", "not_found", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)999999, "date", mon, "reason", "Doctor ill");
	assert_jstr(call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)a1),
	    "appointment.status", "approved");

	res = call_ok(&r, "appt.cancel_day", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)chen.id, "date", mon, "reason", "Doctor ill");
	list = jpath(res, "rebook");
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(jint(json_array_get(list, 0), "appointment.id"), a1);
	assert_jstr(json_array_get(list, 0), "appointment.status", "cancelled");
	assert_jstr(json_array_get(list, 0), "appointment.status_note", "Doctor ill");
	assert_jstr(json_array_get(list, 0), "patient_name", "John Smith");
	assert_jstr(json_array_get(list, 0), "phone", "+15550100010");
	assert_int_equal(jint(json_array_get(list, 1), "appointment.id"), a2);
	assert_jstr(json_array_get(list, 1), "patient_name", "Emily Johnson");
	/* Each board hears of each. */
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	while (ev != NULL && jint(ev, "data.id") != a1) {
		json_decref(ev);
		ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	}
	assert_non_null(ev);
	json_decref(ev);
	ev = read_event(&r2, "appt.changed", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), a2);
	json_decref(ev);
	/* The other doctor's day is untouched; the freed time is bookable. */
	assert_jstr(call_ok(&r, "appt.get", "{s:I}", "id", (json_int_t)other),
	    "appointment.status", "approved");
	book(&r, chen.id, john.id, at(mon, 9, 0));
	/* Nothing left to cancel is not an error. */
	res = call_ok(&r, "appt.cancel_day", "{s:I, s:s, s:s}", "doctor_id",
	    (json_int_t)okafor.id, "date", mon, "reason", "Doctor ill");
	assert_int_equal(json_array_size(jpath(res, "rebook")), 1);
	cli_close(&d);
	cli_close(&pj);
	cli_close(&r2);
	cli_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_keeps_slot_from_other_terminals),
		cmocka_unit_test(test_hold_refusals),
		cmocka_unit_test(test_hold_ends_when_holder_disconnects),
		cmocka_unit_test(test_hold_expires_after_two_minutes),
		cmocka_unit_test(test_cancel_reasons_closed_list),
		cmocka_unit_test(test_walk_in_registers_books_now_and_checks_in),
		cmocka_unit_test(test_no_shows_are_counted_and_flagged),
		cmocka_unit_test(test_cancel_day_cancels_all_and_lists_whom_to_call),
	};

	setenv("TZ", ":America/New_York", 1);
	tzset();
	return cmocka_run_group_tests_name("front desk", tests, clinic_setup_ny,
	    clinic_teardown);
}
