/* test_audit_list.c -- audit.list's queries (audit.c, audit_list_sql).
 *
 * The audit log is the store's biggest table. Each filter combination must
 * walk an index from its newest entry (a patient's rows down audit_patient,
 * a user's down audit_actor, an action's down audit_action, or the table
 * down from before_id), never scan the table: the plan is asserted with
 * EXPLAIN QUERY PLAN. And each must answer what the filters say, newest
 * first: checked against the rows as appended.
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

#include "audit.h"
#include "db.h"
#include "store_fixture.h"

#define NROWS	300

static struct store_fixture fx;

/* Row i (1-based, id i): its actor, action, patient and time. */
static int64_t	row_actor(int i) { return i % 3 == 0 ? 0 : 1 + i % 4; }
static const char *row_action(int i) { return i % 5 == 0 ? "auth.login" : "appt.book"; }
static int64_t	row_patient(int i) { return i % 7 == 0 ? 0 : 100 + i % 10; }
static int64_t	row_ts(int i) { return 1000 + (int64_t)i * 10; }

static int
setup(void **state)
{
	struct audit_entry	e;
	int			i;

	(void)state;
	if (store_fixture_open(&fx, "auditlist", 0, NULL, NULL) != 0)
		return -1;
	for (i = 1; i <= NROWS; i++) {
		memset(&e, 0, sizeof e);
		e.ts = row_ts(i);
		e.actor_id = row_actor(i);
		e.actor_role = e.actor_id != 0 ? "receptionist" : NULL;
		e.action = row_action(i);
		e.patient_id = row_patient(i);
		e.detail = "test";
		e.addr = "local";
		if (audit_append(&e) != 0)
			return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_fixture_close(&fx);
	return 0;
}

/* The plan's lines, joined. */
static void
plan_of(const char *sql, char *out, size_t len)
{
	sqlite3_stmt	*st;
	char		*q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);

	assert_int_equal(sqlite3_prepare_v2(db_handle(), q, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		strncat(out, (const char *)sqlite3_column_text(st, 3),
		    len - strlen(out) - 2);
		strncat(out, "\n", len - strlen(out) - 1);
	}
	sqlite3_finalize(st);
	sqlite3_free(q);
}

static void
test_every_filter_walks_an_index(void **state)
{
	static const struct {
		int		 user, action, patient;
		const char	*want;
	} cases[] = {
		{ 0, 0, 0, "SEARCH audit USING INTEGER PRIMARY KEY (rowid<?)" },
		{ 1, 0, 0, "SEARCH audit USING INDEX audit_actor (actor_id=? AND id<?)" },
		{ 0, 1, 0, "SEARCH audit USING INDEX audit_action (action=? AND id<?)" },
		{ 0, 0, 1, "SEARCH audit USING INDEX audit_patient (patient_id=? AND id<?)" },
		{ 1, 1, 0, "SEARCH audit USING INDEX audit_actor (actor_id=? AND id<?)" },
		{ 1, 0, 1, "SEARCH audit USING INDEX audit_patient (patient_id=? AND id<?)" },
		{ 0, 1, 1, "SEARCH audit USING INDEX audit_patient (patient_id=? AND id<?)" },
		{ 1, 1, 1, "SEARCH audit USING INDEX audit_patient (patient_id=? AND id<?)" },
	};
	char	plan[1000];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		plan_of(audit_list_sql(cases[i].user, cases[i].action,
		    cases[i].patient), plan, sizeof plan);
		if (strstr(plan, cases[i].want) == NULL)
			fail_msg("case %zu: plan\n%swants %s", i, plan, cases[i].want);
		/* Newest first straight off the index: no sort, no scan. */
		assert_null(strstr(plan, "TEMP B-TREE"));
		assert_null(strstr(plan, "SCAN"));
	}
}

/* Runs the query for the filters (0 / NULL: none) and checks its ids
 * against the rows appended, newest first. */
static void
check(int64_t user, const char *action, int64_t patient, int64_t from,
    int64_t to, int64_t before, int64_t limit)
{
	sqlite3_stmt	*st = db_prepare(audit_list_sql(user != 0, action != NULL,
			    patient != 0));
	int		 i, want = 0;

	if (user != 0)
		sqlite3_bind_int64(st, 1, user);
	if (action != NULL)
		sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	if (patient != 0)
		sqlite3_bind_int64(st, 3, patient);
	if (from != 0)
		sqlite3_bind_int64(st, 4, from);
	if (to != 0)
		sqlite3_bind_int64(st, 5, to);
	sqlite3_bind_int64(st, 6, before != 0 ? before : INT64_MAX);
	sqlite3_bind_int64(st, 7, limit);
	for (i = NROWS; i >= 1 && want < limit; i--) {
		if ((user != 0 && row_actor(i) != user) ||
		    (action != NULL && strcmp(row_action(i), action) != 0) ||
		    (patient != 0 && row_patient(i) != patient) ||
		    (from != 0 && row_ts(i) < from) || (to != 0 && row_ts(i) >= to) ||
		    (before != 0 && i >= before))
			continue;
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(st, 0), i);
		want++;
	}
	assert_true(want > 0);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_reset(st);
}

static void
test_every_filter_answers_what_it_says(void **state)
{
	(void)state;
	check(0, NULL, 0, 0, 0, 0, 500);
	check(0, NULL, 0, 0, 0, 150, 20);
	check(2, NULL, 0, 0, 0, 0, 500);
	check(2, NULL, 0, 0, 0, 77, 5);
	check(0, "auth.login", 0, 0, 0, 0, 500);
	check(0, "appt.book", 0, 1500, 2500, 0, 500);
	check(0, NULL, 105, 0, 0, 0, 500);
	check(0, NULL, 105, 0, 0, 200, 3);
	check(3, "appt.book", 0, 0, 0, 0, 500);
	check(1, NULL, 104, 0, 0, 0, 500);
	check(0, "auth.login", 100, 0, 0, 0, 500);
	check(4, "appt.book", 107, 1100, 3900, 290, 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_filter_walks_an_index),
		cmocka_unit_test(test_every_filter_answers_what_it_says),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
