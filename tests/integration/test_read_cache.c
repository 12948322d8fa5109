/* test_read_cache.c -- appt.list answers from the read cache
 * (server/readcache.c) must never be stale: every change to the store, made
 * through the server or by another process on the database file, shows in
 * the next list of the same day.
 *
 * One server for the file, with the demo clinic as its data, in
 * America/New_York; each test uses days of its own. */
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

/* The day's list for a doctor, as c sees it; a new reference. */
static json_t *
day_list(struct tcli *c, int64_t doctor, const char *date)
{
	json_t	*res = call_ok(c, "appt.list", "{s:s, s:I}", "date", date,
	    "doctor_id", (json_int_t)doctor);
	json_t	*list = jpath(res, "appointments");

	assert_non_null(list);
	assert_true(json_is_array(list));
	return json_incref(list);
}

/* The entry for appointment id in a list, or NULL. */
static json_t *
find_appt(json_t *list, int64_t id)
{
	size_t	 i;
	json_t	*a;

	json_array_foreach(list, i, a) {
		if (jint(a, "id") == id)
			return a;
	}
	return NULL;
}

static void
test_list_follows_every_change_through_the_server(void **state)
{
	struct tcli	 r, r2, d;
	char		 day[11];
	json_t		*l0, *l1, *l2, *l3, *l4, *a;
	int64_t		 pat, id;

	(void)state;
	open_as(&r, &desk);
	open_as(&r2, &desk);
	open_as(&d, &chen);
	week_day(&r, 3, 3, day);
	pat = new_patient(&r, "Cache Tester");

	/* Asked twice, the second from the cache: the same list. */
	l0 = day_list(&r, chen.id, day);
	l1 = day_list(&r, chen.id, day);
	assert_true(json_equal(l0, l1));

	/* A booking from another connection shows at once. */
	id = book(&r2, chen.id, pat, at(day, 10, 0));
	l2 = day_list(&r, chen.id, day);
	assert_int_equal(json_array_size(l2), json_array_size(l0) + 1);
	assert_non_null(a = find_appt(l2, id));
	assert_string_equal(jstr(a, "patient_name"), "Cache Tester");

	/* So does a change to the patient, which no appointment row holds. */
	call_ok(&r, "patients.update", "{s:I, s:s}", "id", (json_int_t)pat,
	    "full_name", "Cache Renamed");
	l3 = day_list(&r, chen.id, day);
	assert_non_null(a = find_appt(l3, id));
	assert_string_equal(jstr(a, "patient_name"), "Cache Renamed");

	/* And a status change. */
	call_ok(&r2, "appt.cancel", "{s:I}", "id", (json_int_t)id);
	l4 = day_list(&r, chen.id, day);
	assert_non_null(a = find_appt(l4, id));
	assert_string_equal(jstr(a, "status"), "cancelled");

	/* Each role still sees only what it may: the doctor the same day. */
	json_decref(l1);
	l1 = day_list(&d, chen.id, day);
	assert_true(json_equal(l1, l4));
	call_err(&d, "appt.list", "forbidden", "{s:s, s:I}", "date", day,
	    "doctor_id", (json_int_t)okafor.id);

	json_decref(l0);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	json_decref(l4);
	cli_close(&d);
	cli_close(&r2);
	cli_close(&r);
}

static void
test_list_follows_a_change_made_outside_the_server(void **state)
{
	struct tcli	 r;
	char		 day[11], sql[256];
	json_t		*l0, *l1, *a;
	int64_t		 pat, id;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 4, 3, day);
	pat = new_patient(&r, "Outside Before");
	id = book(&r, okafor.id, pat, at(day, 14, 0));
	l0 = day_list(&r, okafor.id, day);
	assert_non_null(a = find_appt(l0, id));
	assert_string_equal(jstr(a, "patient_name"), "Outside Before");
	json_decref(day_list(&r, okafor.id, day));	/* now cached */

	/* An admin's sqlite3 shell, say: another connection commits. */
	snprintf(sql, sizeof sql, "UPDATE patients SET full_name = 'Outside After' "
	    "WHERE id = %lld", (long long)pat);
	outside_exec(sql);
	l1 = day_list(&r, okafor.id, day);
	assert_non_null(a = find_appt(l1, id));
	assert_string_equal(jstr(a, "patient_name"), "Outside After");

	json_decref(l0);
	json_decref(l1);
	cli_close(&r);
}

/* Every entry of the day's list equals what appt.get says of it. */
static void
assert_list_matches_get(struct tcli *c, json_t *list)
{
	size_t	 i;
	json_t	*a, *one;

	json_array_foreach(list, i, a) {
		one = jpath(call_ok(c, "appt.get", "{s:I}", "id",
		    (json_int_t)jint(a, "id")), "appointment");
		assert_non_null(one);
		if (!json_equal(a, one)) {
			char	*x = json_dumps(a, JSON_SORT_KEYS);
			char	*y = json_dumps(one, JSON_SORT_KEYS);

			fail_msg("appt.list: %s\nappt.get: %s", x, y);
		}
	}
}

/*
 * appt.list packs its rows itself (appt_list_pack), not through appt_pack
 * as appt.get does: every field, nil or not, every width of integer and of
 * string header, must come out the same, read fresh and from the cache.
 */
static void
test_list_packs_every_field_as_get_does(void **state)
{
	struct tcli	 r;
	char		 day[11], other[11], sql[1024], *longer;
	json_t		*l0, *l1, *a;
	int64_t		 pat, pat2, id[5], noshow;
	int		 i;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 5, 2, day);
	week_day(&r, 5, 3, other);
	pat = new_patient(&r, "Packing Tester With A Name Over Thirty-Two Bytes");
	pat2 = new_patient(&r, "Packing Other");
	for (i = 0; i < 5; i++)
		id[i] = book(&r, chen.id, i == 4 ? pat2 : pat,
		    at(day, 9 + i * 20 / 60, i * 20 % 60));
	noshow = book(&r, chen.id, pat, at(other, 9, 0));
	call_ok(&r, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)id[1],
	    "reason", "patient called: a note of more than 32 bytes");

	/* Values the ops would not write, for the encodings' edges. */
	outside_exec("INSERT INTO appointment_types (name, minutes, colour, "
	    "created_at, updated_at) VALUES ('Packing check', 20, '#12ab34', 1, 1)");
	snprintf(sql, sizeof sql, "UPDATE appointments SET checked_in_at = -5, "
	    "started_at = -100, completed_at = -200, rescheduled_from = -40000, "
	    "rescheduled_to = -3000000000, series_id = 5000000000, "
	    "created_by = NULL, overbook = 1, type_id = (SELECT id FROM "
	    "appointment_types WHERE name = 'Packing check') WHERE id = %lld",
	    (long long)id[0]);
	outside_exec(sql);
	snprintf(sql, sizeof sql, "UPDATE appointments SET checked_in_at = 127, "
	    "started_at = 128, completed_at = 255, rescheduled_from = 256, "
	    "rescheduled_to = 65535, series_id = 65536, reason = '%s' "
	    "WHERE id = %lld", "exactly thirty-one bytes long..", (long long)id[2]);
	outside_exec(sql);
	longer = repeat_char('r', 300);
	snprintf(sql, sizeof sql, "UPDATE appointments SET checked_in_at = -32, "
	    "started_at = -33, completed_at = -128, rescheduled_from = -129, "
	    "rescheduled_to = 4294967295, series_id = 4294967296, "
	    "reason = '%s', status_note = '' WHERE id = %lld", longer,
	    (long long)id[3]);
	free(longer);
	outside_exec(sql);
	snprintf(sql, sizeof sql, "UPDATE appointments SET status = 'no_show' "
	    "WHERE id = %lld", (long long)noshow);
	outside_exec(sql);

	l0 = day_list(&r, chen.id, day);
	assert_int_equal(json_array_size(l0), 5);
	assert_list_matches_get(&r, l0);
	assert_non_null(a = find_appt(l0, id[0]));
	assert_int_equal(jint(a, "rescheduled_to"), -3000000000LL);
	assert_int_equal(jint(a, "series_id"), 5000000000LL);
	assert_string_equal(jstr(a, "colour"), "#12ab34");
	assert_true(json_is_true(jpath(a, "overbook")));
	assert_true(json_is_null(jpath(a, "created_by")));
	assert_int_equal(jint(a, "no_show_count"), 1);
	assert_non_null(a = find_appt(l0, id[3]));
	assert_int_equal(strlen(jstr(a, "reason")), 300);
	assert_true(json_is_null(jpath(a, "status_note")));
	assert_true(json_is_null(jpath(a, "type_name")));
	assert_non_null(a = find_appt(l0, id[4]));
	assert_int_equal(jint(a, "no_show_count"), 0);

	/* The same from the cache. */
	l1 = day_list(&r, chen.id, day);
	assert_true(json_equal(l0, l1));
	assert_list_matches_get(&r, l1);

	json_decref(l0);
	json_decref(l1);
	cli_close(&r);
}

/* The no_show_count of appointment id in the day's list, checked against
 * appt.get's count (a live count of the no_show rows). */
static int64_t
listed_no_shows(struct tcli *c, int64_t doctor, const char *day, int64_t id)
{
	json_t	*l = day_list(c, doctor, day), *a;
	int64_t	 n;

	assert_list_matches_get(c, l);
	assert_non_null(a = find_appt(l, id));
	n = jint(a, "no_show_count");
	json_decref(l);
	return n;
}

/*
 * The list reads a patient's no-shows from patients.no_show_count, which
 * migration 016's triggers keep: any writer, here an outside connection,
 * moving an appointment into or out of no_show, to another patient, or
 * deleting it, moves the count in the next list.
 */
static void
test_no_show_count_follows_every_writer(void **state)
{
	struct tcli	 r;
	char		 day[11], other[11], sql[256];
	int64_t		 pat, pat2, a0, a1, x1, x2;

	(void)state;
	open_as(&r, &desk);
	week_day(&r, 6, 2, day);
	week_day(&r, 6, 3, other);
	pat = new_patient(&r, "No Show One");
	pat2 = new_patient(&r, "No Show Two");
	a0 = book(&r, chen.id, pat, at(day, 9, 0));
	a1 = book(&r, chen.id, pat2, at(day, 9, 20));
	x1 = book(&r, chen.id, pat, at(other, 9, 0));
	x2 = book(&r, chen.id, pat, at(other, 9, 20));
	assert_int_equal(listed_no_shows(&r, chen.id, day, a0), 0);

	snprintf(sql, sizeof sql, "UPDATE appointments SET status = 'no_show' "
	    "WHERE id IN (%lld, %lld)", (long long)x1, (long long)x2);
	outside_exec(sql);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a0), 2);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a1), 0);

	snprintf(sql, sizeof sql, "UPDATE appointments SET patient_id = %lld "
	    "WHERE id = %lld", (long long)pat2, (long long)x1);
	outside_exec(sql);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a0), 1);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a1), 1);

	snprintf(sql, sizeof sql, "UPDATE appointments SET status = 'completed' "
	    "WHERE id = %lld", (long long)x2);
	outside_exec(sql);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a0), 0);

	snprintf(sql, sizeof sql, "DELETE FROM appointments WHERE id = %lld",
	    (long long)x1);
	outside_exec(sql);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a1), 0);

	snprintf(sql, sizeof sql, "INSERT INTO appointments (doctor_id, "
	    "patient_id, starts_at, ends_at, status, created_at, updated_at) "
	    "VALUES (%lld, %lld, 1000, 2000, 'no_show', 1, 1)",
	    (long long)chen.id, (long long)pat2);
	outside_exec(sql);
	assert_int_equal(listed_no_shows(&r, chen.id, day, a1), 1);
	cli_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_follows_every_change_through_the_server),
		cmocka_unit_test(test_list_follows_a_change_made_outside_the_server),
		cmocka_unit_test(test_list_packs_every_field_as_get_does),
		cmocka_unit_test(test_no_show_count_follows_every_writer),
	};

	/* The calendar helpers work in the clinic's zone. */
	setenv("TZ", ":America/New_York", 1);
	tzset();
	return cmocka_run_group_tests(tests, clinic_setup_ny, clinic_teardown);
}
