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
#include <sqlite3.h>

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

/* Runs one statement on the database file from outside the server. */
static void
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_follows_every_change_through_the_server),
		cmocka_unit_test(test_list_follows_a_change_made_outside_the_server),
	};

	/* The calendar helpers work in the clinic's zone. */
	setenv("TZ", ":America/New_York", 1);
	tzset();
	return cmocka_run_group_tests(tests, clinic_setup_ny, clinic_teardown);
}
