/* test_plans_kept.c -- the day plans availability.c keeps are the store's
 * they were read from: a store opened anew, even at the address of the
 * closed one's handle and at the same data_version, starts with none. */
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

#include "availability.h"
#include "clinic-time.h"
#include "db.h"
#include "store_fixture.h"

#define T0	((int64_t)2000000000 / 86400 * 86400)	/* a midnight, UTC */
#define H	((int64_t)3600)

static struct store_fixture fx;

/* Doctor 1, working from..to (minutes) every day. */
static void
seed(int from, int to)
{
	char	sql[1024];
	int	wd;

	assert_int_equal(sqlite3_exec(db_handle(),
	    "INSERT INTO users (id, email, full_name, role, password_hash, "
	    "created_at, updated_at) VALUES (1, 'a@x', 'Dr A', 'doctor', 'x', 0, 0);"
	    "INSERT INTO doctors (id, user_id, created_at, updated_at) VALUES "
	    "(1, 1, 0, 0);", NULL, NULL, NULL), SQLITE_OK);
	for (wd = 1; wd <= 7; wd++) {
		snprintf(sql, sizeof sql, "INSERT INTO availability (doctor_id, "
		    "weekday, start_min, end_min, slot_minutes) VALUES "
		    "(1, %d, %d, %d, 20)", wd, from, to);
		assert_int_equal(sqlite3_exec(db_handle(), sql, NULL, NULL, NULL),
		    SQLITE_OK);
	}
}

static void
test_a_store_opened_anew_keeps_no_plan_of_the_last(void **state)
{
	int64_t	end;

	(void)state;
	assert_int_equal(clinic_tz_set("UTC"), 0);
	assert_int_equal(store_fixture_open(&fx, "plans1", 0, NULL, NULL), 0);
	seed(8 * 60, 12 * 60);
	/* Read, and kept: no write transaction is open. */
	assert_int_equal(availability_check(1, T0 + 9 * H, 0, &end), 0);
	assert_int_equal(availability_check(1, T0 + 9 * H, 0, &end), 0);
	assert_int_equal(availability_check(1, T0 + 14 * H, 0, &end), -1);
	store_fixture_close(&fx);

	assert_int_equal(store_fixture_open(&fx, "plans2", 0, NULL, NULL), 0);
	seed(14 * 60, 16 * 60);
	assert_int_equal(availability_check(1, T0 + 9 * H, 0, &end), -1);
	assert_int_equal(availability_check(1, T0 + 14 * H, 0, &end), 0);
	assert_int_equal(end, T0 + 14 * H + 20 * 60);
	store_fixture_close(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_store_opened_anew_keeps_no_plan_of_the_last),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
