/* test_db_batch.c -- group commit: each request's savepoint inside the batch.
 *
 * The requests of one loop turn share one write transaction; each runs in a
 * savepoint, so one that fails rolls back alone and the others still commit
 * with the batch. A savepoint keeps the pages it changes in a sub-journal:
 * in memory up to DB_SUBJOURNAL_SPILL bytes, in a temp file beyond (the
 * store sets that limit, and leaves temp_store at its default so the journal
 * is one chunk instead of a thousand small ones). Both kinds of rollback are
 * checked here, against the rows another connection reads after the commit.
 *
 * A booking runs without a savepoint (db_begin_direct): all its checks come
 * before its first change. Failing before that change leaves the batch as
 * it was; failing after it rolls the whole batch back, every reply so far
 * saying unavailable, and the turn's next write opens a new batch.
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

#include "db.h"
#include "store_fixture.h"

#define ROWS		3000	/* of 1 KiB: some 750 pages, 3 MiB */
#define ROW_BYTES	1024

static struct store_fixture fx;
static int		 closed_ok = -1;	/* what the batch's commit said */
static int		 closed_failed;	/* batches that ended rolled back */

static void
on_close(int ok)
{
	closed_ok = ok;
	if (!ok)
		closed_failed++;
}

static void
exec_ok(const char *sql)
{
	assert_int_equal(sqlite3_exec(db_handle(), sql, NULL, NULL, NULL),
	    SQLITE_OK);
}

/* Through the statement cache, as a handler writes. */
static void
store_exec(const char *sql)
{
	sqlite3_stmt	*st = db_prepare(sql);

	assert_int_equal(db_step_done(st), SQLITE_DONE);
}

/* What a separate connection reads once the batch is on disk: the first
 * column of the first row. */
static const char *
outside_text(const char *sql, char *buf, size_t len)
{
	sqlite3		*c;
	sqlite3_stmt	*st;

	snprintf(buf, len, "(no row)");
	assert_int_equal(sqlite3_open_v2(fx.path, &c, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(c);
	return buf;
}

static int64_t
outside_int(const char *sql)
{
	char	buf[64];

	return strtoll(outside_text(sql, buf, sizeof buf), NULL, 10);
}

static const char	 touch_all_sql[] = "UPDATE rows SET tag = tag + 1";
static const char	 touch_one_sql[] = "UPDATE rows SET tag = tag + 100 WHERE id = 1";
static const char	 touch_last_sql[] =
    "UPDATE rows SET tag = tag + 1000 WHERE id = (SELECT max(id) FROM rows)";
static const char	 add_sql[] = "INSERT INTO rows (tag, pad) VALUES (7, 'new')";

/* Runs cb as one loop turn, then the turn's commit. */
static void
run_turn(event_callback_fn cb)
{
	struct event	*ev = event_new(fx.base, -1, 0, cb, NULL);

	assert_non_null(ev);
	event_active(ev, EV_TIMEOUT, 0);
	assert_int_equal(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	event_free(ev);
	assert_int_equal(db_in_write(), 0);
}

/* A request that changes what sql changes and commits. */
static void
request_commits(int (*begin)(void), const char *sql)
{
	assert_int_equal(begin(), 0);
	store_exec(sql);
	assert_int_equal(db_commit(), 0);
}

/* A request that changes what sql changes, adds a row, then fails. */
static void
request_fails_late(int (*begin)(void), const char *sql)
{
	assert_int_equal(begin(), 0);
	if (sql != NULL)
		store_exec(sql);
	store_exec(add_sql);
	db_rollback();
}

/* The four requests of one turn: two commit, two fail after writing. */
static void
turn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;

	request_commits(db_begin, touch_one_sql);
	/* One that changes every page (its journal spills to a file). */
	request_fails_late(db_begin, touch_all_sql);
	/* One that changes a few pages (its journal stays in memory). */
	request_fails_late(db_begin, touch_last_sql);
	/* One more that commits, after both rollbacks. */
	request_commits(db_begin, touch_last_sql);
}

static void
test_failed_requests_roll_back_alone_in_memory_or_spilled(void **state)
{
	char	buf[64];

	(void)state;
	run_turn(turn);
	assert_int_equal(closed_ok, 1);

	/* Only the two committed requests' changes are on disk. */
	assert_int_equal(outside_int("SELECT count(*) FROM rows"), ROWS);
	assert_int_equal(outside_int("SELECT tag FROM rows WHERE id = 1"), 100);
	assert_int_equal(outside_int("SELECT tag FROM rows WHERE id = 2"), 0);
	assert_int_equal(outside_int("SELECT tag FROM rows WHERE id = "
	    "(SELECT max(id) FROM rows)"), 1000);
	assert_int_equal(outside_int("SELECT sum(tag) FROM rows"), 1100);
	assert_int_equal(outside_int("SELECT count(*) FROM rows WHERE "
	    "length(pad) != 1024"), 0);
	assert_string_equal(outside_text("PRAGMA integrity_check", buf,
	    sizeof buf), "ok");
}

static void
direct_turn_clean_failure(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	request_commits(db_begin, touch_one_sql);

	/* Its checks fail before it changes anything. */
	assert_int_equal(db_begin_direct(), 0);
	assert_int_equal(db_in_write(), 1);
	assert_int_equal(outside_int("SELECT count(*) FROM rows"), ROWS);
	db_rollback();

	/* A failed INSERT undoes itself: still nothing changed. */
	assert_int_equal(db_begin_direct(), 0);
	assert_int_equal(db_step_done(db_prepare("INSERT INTO rows (id, tag, pad) "
	    "VALUES (1, 0, 'taken')")) & 0xff, SQLITE_CONSTRAINT);
	db_rollback();

	/* One that commits, with a nested write that rolls back alone. */
	assert_int_equal(db_begin_direct(), 0);
	store_exec(touch_last_sql);
	assert_int_equal(db_begin(), 0);
	store_exec(add_sql);
	db_rollback();
	assert_int_equal(db_in_write(), 1);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(closed_failed, 0);
}

static void
test_direct_write_failing_before_its_first_change_leaves_the_batch(void **state)
{
	(void)state;
	run_turn(direct_turn_clean_failure);
	assert_int_equal(closed_ok, 1);
	assert_int_equal(closed_failed, 0);
	assert_int_equal(outside_int("SELECT count(*) FROM rows"), ROWS);
	assert_int_equal(outside_int("SELECT tag FROM rows WHERE id = 1"), 100);
	assert_int_equal(outside_int("SELECT sum(tag) FROM rows"), 1100);
}

static void
direct_turn_late_failure(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	request_commits(db_begin, touch_one_sql);

	/* Fails after a change: the batch, the first request's change
	 * included, is rolled back now. */
	request_fails_late(db_begin_direct, NULL);
	assert_int_equal(closed_failed, 1);
	assert_int_equal(closed_ok, 0);
	assert_int_equal(db_in_write(), 0);

	/* Doomed after a change (its audit row failed): the same. */
	assert_int_equal(db_begin_direct(), 0);
	store_exec(add_sql);
	db_doom();
	assert_int_equal(db_commit(), -1);
	assert_int_equal(closed_failed, 2);

	/* The turn's next write opens a new batch, which commits. */
	request_commits(db_begin_direct, touch_last_sql);
}

static void
test_direct_write_failing_after_a_change_rolls_the_batch_back(void **state)
{
	(void)state;
	run_turn(direct_turn_late_failure);
	assert_int_equal(closed_ok, 1);
	assert_int_equal(closed_failed, 2);
	assert_int_equal(outside_int("SELECT count(*) FROM rows"), ROWS);
	assert_int_equal(outside_int("SELECT tag FROM rows WHERE id = 1"), 0);
	assert_int_equal(outside_int("SELECT sum(tag) FROM rows"), 1000);
}

static int
setup(void **state)
{
	char	sql[200];
	int	i;

	(void)state;
	if (store_fixture_open(&fx, "batch", 0, NULL, on_close) != 0)
		return -1;
	exec_ok("CREATE TABLE rows (id INTEGER PRIMARY KEY, tag INTEGER NOT NULL, "
	    "pad TEXT NOT NULL)");
	exec_ok("BEGIN");
	for (i = 0; i < ROWS; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO rows (tag, pad) VALUES "
		    "(0, printf('%%.%dc', 'x'))", ROW_BYTES);
		exec_ok(sql);
	}
	exec_ok("COMMIT");
	/* Bigger than the sub-journal's memory: the second request spills. */
	assert_true((int64_t)ROWS * ROW_BYTES > 2 * DB_SUBJOURNAL_SPILL);
	closed_ok = -1;
	closed_failed = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_fixture_close(&fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_failed_requests_roll_back_alone_in_memory_or_spilled,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_direct_write_failing_before_its_first_change_leaves_the_batch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_direct_write_failing_after_a_change_rolls_the_batch_back,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
