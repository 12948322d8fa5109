/* test_overlap_span.c -- the doctor's overlap walk looks back only as far
 * as the doctor's longest active appointment (appointments.c, span_bound).
 *
 * The bound is kept between bookings, so each test first makes it short
 * (a doctor with 20-minute visits only), then brings in a long appointment
 * by every way one can arrive, and books inside it: each must be refused
 * as an overlap. A bound kept too short would let it through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "appointments.h"
#include "db.h"
#include "store_fixture.h"

#define DAY	((int64_t)86400)
#define T0	((int64_t)2000000000)	/* in May 2033 */
#define H	((int64_t)3600)
#define MIN	((int64_t)60)

static struct store_fixture fx;

static void
exec_ok(sqlite3 *h, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* Three doctors and three patients, ids 1-3. */
static void
seed(void)
{
	exec_ok(db_handle(),
	    "INSERT INTO users (id, email, full_name, role, password_hash, "
	    "created_at, updated_at) VALUES "
	    "(1, 'a@x', 'Dr A', 'doctor', 'x', 0, 0), "
	    "(2, 'b@x', 'Dr B', 'doctor', 'x', 0, 0), "
	    "(3, 'c@x', 'Dr C', 'doctor', 'x', 0, 0);"
	    "INSERT INTO doctors (id, user_id, created_at, updated_at) VALUES "
	    "(1, 1, 0, 0), (2, 2, 0, 0), (3, 3, 0, 0);"
	    "INSERT INTO patients (id, full_name, created_at, updated_at) VALUES "
	    "(1, 'P One', 0, 0), (2, 'P Two', 0, 0), (3, 'P Three', 0, 0);");
}

static int
setup(void **state)
{
	(void)state;
	if (store_fixture_open(&fx, "span", 0, NULL, NULL) != 0)
		return -1;
	seed();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_fixture_close(&fx);
	return 0;
}

/* appt_insert in a write transaction of its own, committed: 0, -1 on a
 * conflict (*conflict set), -2 on an error. */
static int
book(int64_t doctor, int64_t patient, int64_t start, int64_t len,
    int64_t *conflict, int64_t *id)
{
	struct appt	a;
	int		rc;

	memset(&a, 0, sizeof a);
	a.doctor_id = doctor;
	a.patient_id = patient;
	a.starts_at = start;
	a.ends_at = start + len;
	a.status = APPT_APPROVED;
	a.created_at = a.updated_at = 1;
	snprintf(a.reason, sizeof a.reason, "test");
	assert_int_equal(db_begin_direct(), 0);
	rc = appt_insert(&a, conflict);
	if (rc == 0)
		assert_int_equal(db_commit(), 0);
	else
		db_rollback();
	assert_int_equal(db_batch_flush(), 0);
	if (id != NULL)
		*id = a.id;
	return rc;
}

/* The bound is kept short: the doctor has 20-minute visits only. */
static void
short_bound(int64_t doctor)
{
	int64_t	c;

	assert_int_equal(book(doctor, 1, T0 + 8 * H, 20 * MIN, &c, NULL), 0);
	assert_int_equal(book(doctor, 1, T0 + 8 * H + 20 * MIN, 20 * MIN, &c,
	    NULL), 0);
	/* A short one right after them is free: the walk works at all. */
	assert_int_equal(book(doctor, 2, T0 + 9 * H, 20 * MIN, &c, NULL), 0);
}

static void
test_a_long_booking_lengthens_the_walk(void **state)
{
	int64_t	c = 0, long_id = 0;

	(void)state;
	short_bound(1);
	/* Six hours from 10:00; then 20 minutes at 15:00, inside it. */
	assert_int_equal(book(1, 2, T0 + 10 * H, 6 * H, &c, &long_id), 0);
	assert_int_equal(book(1, 3, T0 + 15 * H, 20 * MIN, &c, NULL), -1);
	assert_int_equal(c, long_id);
	/* Just past its end is free. */
	assert_int_equal(book(1, 3, T0 + 16 * H, 20 * MIN, &c, NULL), 0);
}

static void
test_another_process_s_long_booking_is_seen(void **state)
{
	sqlite3	*other;
	int64_t	 c = 0;

	(void)state;
	short_bound(2);
	/* An operator's shell: another connection, committed. */
	assert_int_equal(sqlite3_open(fx.path, &other), SQLITE_OK);
	sqlite3_busy_timeout(other, 5000);
	exec_ok(other, "INSERT INTO appointments (id, doctor_id, patient_id, "
	    "starts_at, ends_at, status, created_at, updated_at) VALUES "
	    "(900, 2, 3, 2000036000, 2000057600, 'approved', 1, 1)");
	sqlite3_close(other);
	/* 10:00-16:00 on day T0; book 15:00 for another patient. */
	assert_int_equal(book(2, 1, T0 + 15 * H, 20 * MIN, &c, NULL), -1);
	assert_int_equal(c, 900);
}

static void
test_a_cancelled_long_one_frees_its_time(void **state)
{
	int64_t	c = 0, long_id = 0;

	(void)state;
	short_bound(1);
	assert_int_equal(book(1, 2, T0 + 10 * H, 6 * H, &c, &long_id), 0);
	assert_int_equal(db_begin(), 0);
	assert_int_equal(sqlite3_exec(db_handle(), "UPDATE appointments SET "
	    "status = 'cancelled' WHERE status = 'approved' AND ends_at - "
	    "starts_at > 3600", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(db_batch_flush(), 0);
	assert_int_equal(book(1, 3, T0 + 15 * H, 20 * MIN, &c, NULL), 0);
}

/* A rolled-back long booking leaves the bound long (a longer walk), and
 * the time free. */
static void
test_a_rolled_back_long_booking_leaves_the_time_free(void **state)
{
	struct appt	a;
	int64_t		c = 0;

	(void)state;
	short_bound(1);
	memset(&a, 0, sizeof a);
	a.doctor_id = 1;
	a.patient_id = 2;
	a.starts_at = T0 + 10 * H;
	a.ends_at = T0 + 16 * H;
	a.status = APPT_APPROVED;
	a.created_at = a.updated_at = 1;
	assert_int_equal(db_begin(), 0);
	assert_int_equal(appt_insert(&a, &c), 0);
	db_rollback();
	assert_int_equal(db_batch_flush(), 0);
	assert_int_equal(book(1, 3, T0 + 15 * H, 20 * MIN, &c, NULL), 0);
	/* And overlaps are still found through the long bound. */
	assert_int_equal(book(1, 2, T0 + 15 * H + 10 * MIN, 20 * MIN, &c, NULL),
	    -1);
}

/* A bound kept for one store says nothing of the next one opened, even
 * when its handle has the address of the closed one. */
static void
test_a_store_opened_anew_forgets_the_bounds(void **state)
{
	int64_t	c = 0;

	(void)state;
	/* Doctor 3, whom no other test gives a long appointment. */
	short_bound(3);
	store_fixture_close(&fx);
	assert_int_equal(store_fixture_open(&fx, "span2", 0, NULL, NULL), 0);
	seed();
	/* Written on our own connection without appt_insert: no raise, and
	 * data_version is where the closed store's was. */
	exec_ok(db_handle(), "INSERT INTO appointments (id, doctor_id, "
	    "patient_id, starts_at, ends_at, status, created_at, updated_at) "
	    "VALUES (901, 3, 3, 2000036000, 2000057600, 'approved', 1, 1)");
	assert_int_equal(book(3, 1, T0 + 15 * H, 20 * MIN, &c, NULL), -1);
	assert_int_equal(c, 901);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_long_booking_lengthens_the_walk,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_process_s_long_booking_is_seen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_cancelled_long_one_frees_its_time,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_rolled_back_long_booking_leaves_the_time_free, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_a_store_opened_anew_forgets_the_bounds,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
