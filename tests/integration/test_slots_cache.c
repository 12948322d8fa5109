/* test_slots_cache.c -- appt.slots answers from the read cache
 * (server/readcache.c) must never be stale: a booking, a cancellation, a
 * change of hours or leave, made through the server or by another process
 * on the database file, shows in the next slots of that day; holds, which
 * live in memory only, and the passing of time apply to every request.
 *
 * One server for the file, with the demo clinic as its data, in
 * America/New_York (Chen: 20-minute slots, 09:00-12:00 and 13:00-17:00
 * on weekdays, a 15:00-15:15 break); each test uses days of its own. */
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

/* The day's slots as c sees them; a new reference. Asks twice, so the
 * second answer is the cached one, and checks both are the same. */
static json_t *
day_slots(struct tcli *c, int64_t doctor, const char *date)
{
	json_t	*res, *first;

	res = call_ok(c, "appt.slots", "{s:I, s:s}", "doctor_id",
	    (json_int_t)doctor, "date", date);
	first = json_incref(jpath(res, "slots"));
	assert_non_null(first);
	assert_true(json_is_array(first));
	res = call_ok(c, "appt.slots", "{s:I, s:s}", "doctor_id",
	    (json_int_t)doctor, "date", date);
	assert_true(json_equal(first, jpath(res, "slots")));
	return first;
}

/* The entry of list starting at t, or NULL. */
static json_t *
slot_at(json_t *list, int64_t t)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(list, i, e) {
		if (jint(e, "starts_at") == t)
			return e;
	}
	return NULL;
}

/* Whether the slot at t is among doctor's free slots of date for c. */
static int
is_free(struct tcli *c, int64_t doctor, const char *date, int64_t t)
{
	json_t	*list = day_slots(c, doctor, date);
	int	 found = slot_at(list, t) != NULL;

	json_decref(list);
	return found;
}

static size_t
count_free(struct tcli *c, int64_t doctor, const char *date)
{
	json_t	*list = day_slots(c, doctor, date);
	size_t	 n = json_array_size(list);

	json_decref(list);
	return n;
}

/* The id of the demo's appointment type named name. */
static int64_t
type_id_of(struct tcli *c, const char *name)
{
	json_t	*types, *t;
	size_t	 i;

	types = jpath(call_ok(c, "appt_types.list", NULL), "types");
	json_array_foreach(types, i, t) {
		if (strcmp(jstr(t, "name"), name) == 0)
			return jint(t, "id");
	}
	fail_msg("no appointment type %s", name);
	return -1;
}

static void
test_slots_follow_bookings_and_cancellations(void **state)
{
	struct tcli	 r, r2, p;
	char		 day[11];
	int64_t		 pat, id, t;
	size_t		 n;

	(void)state;
	open_as(&r, &desk);
	open_as(&r2, &desk);
	open_as(&p, &john);
	week_day(&r, 2, 2, day);
	t = at(day, 10, 0);
	pat = new_patient(&r, "Slots Tester");
	n = count_free(&r, chen.id, day);
	assert_int_equal(n, 20);	/* 9 + 12, less the one over the break */
	assert_true(is_free(&p, chen.id, day, t));

	/* Booked from another connection: gone at once, for everyone. */
	id = book(&r2, chen.id, pat, t);
	assert_false(is_free(&r, chen.id, day, t));
	assert_false(is_free(&p, chen.id, day, t));
	assert_int_equal(count_free(&r, chen.id, day), n - 1);

	/* Cancelled: back. */
	call_ok(&r2, "appt.cancel", "{s:I}", "id", (json_int_t)id);
	assert_true(is_free(&r, chen.id, day, t));
	assert_true(is_free(&p, chen.id, day, t));
	assert_int_equal(count_free(&r, chen.id, day), n);

	/* A patient's own request takes it the same way. */
	call_ok(&p, "appt.book", "{s:I, s:I}", "doctor_id", (json_int_t)chen.id,
	    "starts_at", (json_int_t)t);
	assert_false(is_free(&r, chen.id, day, t));
	cli_close(&p);
	cli_close(&r2);
	cli_close(&r);
}

static void
test_slots_follow_changes_of_hours(void **state)
{
	struct tcli	 r;
	char		 mon[11], tue[11], sun[11];
	json_t		*res, *weekly, *breaks, *changed, *session;
	int64_t		 exc;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 3, 1, mon);
	week_day(&r, 3, 2, tue);
	week_day(&r, 3, 7, sun);
	assert_int_equal(count_free(&r, chen.id, sun), 0);
	assert_int_equal(count_free(&r, chen.id, mon), 20);

	/* A Sunday morning added to the template: its slots appear. */
	res = call_ok(&r, "availability.get", "{s:I}", "doctor_id", (json_int_t)chen.id);
	weekly = json_incref(jpath(res, "weekly"));
	breaks = json_incref(jpath(res, "breaks"));
	changed = json_deep_copy(weekly);
	session = json_pack("{s:i, s:s, s:s, s:i}", "weekday", 7, "start", "09:00",
	    "end", "10:00", "slot_minutes", 20);
	json_array_append_new(changed, session);
	call_ok(&r, "availability.set", "{s:I, s:o, s:O}", "doctor_id",
	    (json_int_t)chen.id, "weekly", changed, "breaks", breaks);
	assert_int_equal(count_free(&r, chen.id, sun), 3);
	assert_true(is_free(&r, chen.id, sun, at(sun, 9, 40)));

	/* And gone again with the old template. */
	call_ok(&r, "availability.set", "{s:I, s:O, s:O}", "doctor_id",
	    (json_int_t)chen.id, "weekly", weekly, "breaks", breaks);
	assert_int_equal(count_free(&r, chen.id, sun), 0);

	/* Leave for the morning: its slots go; removed, they come back. */
	assert_true(is_free(&r, chen.id, mon, at(mon, 9, 0)));
	res = call_ok(&r, "availability.add_exception", "{s:s, s:s, s:I, s:s, s:s}",
	    "date", mon, "kind", "leave", "doctor_id", (json_int_t)chen.id,
	    "start", "09:00", "end", "12:00");
	exc = jint(res, "exception.id");
	assert_false(is_free(&r, chen.id, mon, at(mon, 9, 0)));
	assert_int_equal(count_free(&r, chen.id, mon), 20 - 9);
	/* Other days keep theirs. */
	assert_int_equal(count_free(&r, chen.id, tue), 20);
	call_ok(&r, "availability.remove_exception", "{s:I}", "id", (json_int_t)exc);
	assert_int_equal(count_free(&r, chen.id, mon), 20);

	/* An extra session on the Sunday. */
	call_ok(&r, "availability.add_exception", "{s:s, s:s, s:I, s:s, s:s, s:i}",
	    "date", sun, "kind", "extra", "doctor_id", (json_int_t)chen.id,
	    "start", "14:00", "end", "15:00", "slot_minutes", 30);
	assert_int_equal(count_free(&r, chen.id, sun), 2);

	json_decref(weekly);
	json_decref(breaks);
	cli_close(&r);
}

static void
test_slots_follow_a_change_made_outside_the_server(void **state)
{
	struct tcli	 r;
	char		 day[11], sql[256];
	int64_t		 pat, id, t;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 4, 3, day);
	t = at(day, 14, 0);
	pat = new_patient(&r, "Outside Slots");
	id = book(&r, chen.id, pat, t);
	assert_false(is_free(&r, chen.id, day, t));

	/* An admin's sqlite3 shell, say: another connection commits. */
	snprintf(sql, sizeof sql, "UPDATE appointments SET status = 'cancelled' "
	    "WHERE id = %lld", (long long)id);
	outside_exec(sql);
	assert_true(is_free(&r, chen.id, day, t));

	/* A whole day of leave written the same way. */
	snprintf(sql, sizeof sql, "INSERT INTO availability_exceptions (doctor_id, "
	    "date, kind, reason, created_at) VALUES (%lld, '%s', 'leave', '', 0)",
	    (long long)chen.id, day);
	outside_exec(sql);
	assert_int_equal(count_free(&r, chen.id, day), 0);
	cli_close(&r);
}

static void
test_slots_apply_holds_to_every_request(void **state)
{
	struct tcli	 r1, r2, p;
	char		 day[11];
	json_t		*list, *s;
	int64_t		 t;

	(void)state;
	open_as(&r1, &desk);
	open_as(&r2, &desk);
	open_as(&p, &john);
	week_day(&r1, 5, 4, day);
	t = at(day, 11, 0);
	/* Cached before the hold: a hold writes nothing to the store. */
	assert_true(is_free(&p, chen.id, day, t));
	assert_true(is_free(&r2, chen.id, day, t));

	call_ok(&r1, "appt.hold", "{s:I, s:I}", "doctor_id", (json_int_t)chen.id,
	    "starts_at", (json_int_t)t);
	/* Hidden from patients; staff see who holds it; the holder sees it plain. */
	assert_false(is_free(&p, chen.id, day, t));
	list = day_slots(&r2, chen.id, day);
	assert_non_null(s = slot_at(list, t));
	assert_int_equal(jint(s, "held_by.user_id"), desk.user_id);
	json_decref(list);
	list = day_slots(&r1, chen.id, day);
	assert_non_null(s = slot_at(list, t));
	assert_null(jpath(s, "held_by"));
	json_decref(list);

	/* Released: free for all again. */
	call_ok(&r1, "appt.release", "{s:I, s:I}", "doctor_id", (json_int_t)chen.id,
	    "starts_at", (json_int_t)t);
	assert_true(is_free(&p, chen.id, day, t));
	list = day_slots(&r2, chen.id, day);
	assert_non_null(s = slot_at(list, t));
	assert_null(jpath(s, "held_by"));
	json_decref(list);
	cli_close(&p);
	cli_close(&r2);
	cli_close(&r1);
}

static void
test_slots_of_a_type_are_kept_apart(void **state)
{
	struct tcli	 r, a;
	char		 day[11];
	json_t		*plain, *proc, *res;
	int64_t		 proc_id, pat;

	(void)state;
	open_as(&r, &desk);
	open_as(&a, &admin);
	week_day(&r, 6, 2, day);
	proc_id = type_id_of(&r, "Procedure");
	plain = day_slots(&r, chen.id, day);
	res = call_ok(&r, "appt.slots", "{s:I, s:s, s:I}", "doctor_id",
	    (json_int_t)chen.id, "date", day, "type_id", (json_int_t)proc_id);
	proc = json_incref(jpath(res, "slots"));
	assert_int_equal(jint(res, "type_id"), proc_id);
	/* 45 minutes on the 20-minute grid: 09:00, 09:20, ..., 11:00 fit the
	 * morning, each as long as the type. */
	assert_true(json_array_size(proc) < json_array_size(plain));
	assert_int_equal(jint(json_array_get(proc, 0), "ends_at") -
	    jint(json_array_get(proc, 0), "starts_at"), 45 * 60);
	assert_int_equal(jint(json_array_get(plain, 0), "ends_at") -
	    jint(json_array_get(plain, 0), "starts_at"), 20 * 60);

	/* A booking at 09:40 takes 09:00, 09:20 and 09:40 from the type's
	 * starts, and only 09:40 from the plain ones. */
	pat = new_patient(&r, "Type Tester");
	book(&r, chen.id, pat, at(day, 9, 40));
	res = call_ok(&r, "appt.slots", "{s:I, s:s, s:I}", "doctor_id",
	    (json_int_t)chen.id, "date", day, "type_id", (json_int_t)proc_id);
	assert_null(slot_at(jpath(res, "slots"), at(day, 9, 0)));
	assert_null(slot_at(jpath(res, "slots"), at(day, 9, 20)));
	assert_non_null(slot_at(jpath(res, "slots"), at(day, 10, 0)));
	assert_int_equal(json_array_size(jpath(res, "slots")),
	    json_array_size(proc) - 3);
	assert_int_equal(count_free(&r, chen.id, day), json_array_size(plain) - 1);

	/* A retired type is refused even when its answer was kept. */
	call_ok(&a, "appt_types.update", "{s:I, s:b}", "id", (json_int_t)proc_id,
	    "active", 0);
	call_err(&r, "appt.slots", "conflict", "{s:I, s:s, s:I}", "doctor_id",
	    (json_int_t)chen.id, "date", day, "type_id", (json_int_t)proc_id);
	call_ok(&a, "appt_types.update", "{s:I, s:b}", "id", (json_int_t)proc_id,
	    "active", 1);

	json_decref(plain);
	json_decref(proc);
	cli_close(&a);
	cli_close(&r);
}

/* Starts in order, each slot after the one before or with it. */
static void
assert_in_order(json_t *list)
{
	size_t	i;

	for (i = 1; i < json_array_size(list); i++)
		assert_true(jint(json_array_get(list, i), "starts_at") >=
		    jint(json_array_get(list, i - 1), "starts_at"));
}

static void
test_slots_of_extra_sessions_come_in_order(void **state)
{
	struct tcli	 r;
	char		 day[11];
	json_t		*list;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 7, 3, day);

	/* An early extra session, added after the template's: its slots
	 * come first. */
	call_ok(&r, "availability.add_exception", "{s:s, s:s, s:I, s:s, s:s, s:i}",
	    "date", day, "kind", "extra", "doctor_id", (json_int_t)chen.id,
	    "start", "07:00", "end", "08:00", "slot_minutes", 30);
	list = day_slots(&r, chen.id, day);
	assert_int_equal(json_array_size(list), 20 + 2);
	assert_int_equal(jint(json_array_get(list, 0), "starts_at"), at(day, 7, 0));
	assert_int_equal(jint(json_array_get(list, 2), "starts_at"), at(day, 9, 0));
	assert_in_order(list);
	json_decref(list);

	/* One across the end of the morning and the lunch hour: its slots
	 * fall among the template's. */
	call_ok(&r, "availability.add_exception", "{s:s, s:s, s:I, s:s, s:s, s:i}",
	    "date", day, "kind", "extra", "doctor_id", (json_int_t)chen.id,
	    "start", "11:30", "end", "13:30", "slot_minutes", 30);
	list = day_slots(&r, chen.id, day);
	assert_int_equal(json_array_size(list), 20 + 2 + 4);
	assert_in_order(list);
	assert_non_null(slot_at(list, at(day, 12, 30)));
	json_decref(list);
	cli_close(&r);
}

/* Last: it moves the server clock. */
static void
test_slots_drop_past_times_as_the_clock_moves(void **state)
{
	struct tcli	 r;
	char		 day[11];

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 8, 1, day);
	assert_int_equal(count_free(&r, chen.id, day), 20);

	/* That morning: the 09:00 and 09:20 slots have begun. */
	clock_to(&r, at(day, 9, 30));
	assert_false(is_free(&r, chen.id, day, at(day, 9, 20)));
	assert_true(is_free(&r, chen.id, day, at(day, 9, 40)));
	assert_int_equal(count_free(&r, chen.id, day), 18);
	/* Half a minute before 09:40, then 09:40 itself: a step too short
	 * for the session's last-seen to be written (server/session.c writes
	 * it once a minute), so nothing in the store changes and the answer
	 * kept at 09:39:30 is cut at the new now. */
	clock_to(&r, at(day, 9, 40) - 30);
	assert_true(is_free(&r, chen.id, day, at(day, 9, 40)));
	clock_forward(&r, 30);
	assert_false(is_free(&r, chen.id, day, at(day, 9, 40)));
	assert_int_equal(count_free(&r, chen.id, day), 17);
	/* Near the end of the day only the last two are left, then none. */
	clock_to(&r, at(day, 16, 0));
	assert_int_equal(count_free(&r, chen.id, day), 2);
	clock_to(&r, at(day, 16, 40));
	assert_int_equal(count_free(&r, chen.id, day), 0);
	cli_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_follow_bookings_and_cancellations),
		cmocka_unit_test(test_slots_follow_changes_of_hours),
		cmocka_unit_test(test_slots_follow_a_change_made_outside_the_server),
		cmocka_unit_test(test_slots_apply_holds_to_every_request),
		cmocka_unit_test(test_slots_of_a_type_are_kept_apart),
		cmocka_unit_test(test_slots_of_extra_sessions_come_in_order),
		cmocka_unit_test(test_slots_drop_past_times_as_the_clock_moves),
	};

	/* The calendar helpers work in the clinic's zone. */
	setenv("TZ", ":America/New_York", 1);
	tzset();
	return cmocka_run_group_tests(tests, clinic_setup_ny, clinic_teardown);
}
