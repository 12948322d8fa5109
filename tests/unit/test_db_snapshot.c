/* test_db_snapshot.c -- the store's per-loop-turn read snapshot.
 *
 * The reads of one loop turn share one read transaction, which a
 * zero-timeout timer ends after the turn. libevent runs a turn's I/O
 * callbacks before its timers, so a request of the next turn may run while
 * the last turn's snapshot is still open: it must end that one and read
 * from a new one, or it would miss what another process (an admin's sqlite3
 * shell, mediflowd --restore) committed before the request arrived. The
 * read cache, which checks the store's state once per snapshot, relies on
 * the same rule.
 *
 * These tests drive a real event_base one iteration at a time: turn 1 is an
 * active event's callback; turn 2 is a socket's read callback in the
 * iteration where the zero-timeout timer is due too, so it runs before it
 * (each test checks that turn 1's snapshot is still open when it starts;
 * test_the_timer_runs_after_the_io_callbacks_of_its_iteration, that the
 * timer then ends it in the same iteration). The other process is a second
 * SQLite connection to the same file, committing without fsync so the
 * turns come microseconds apart, as on a busy server: within one tick of
 * the coarse clock libevent's cached time comes from, which therefore
 * cannot tell the turns apart (the store told them by it once; these
 * tests failed then). */
#include <sys/socket.h>

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
#include "readcache.h"
#include "store_fixture.h"

static struct store_fixture fx;
static sqlite3		*other;		/* another process's connection */
static int		 sv[2];		/* turn 2's "client" socket */

static const char	 count_sql[] = "SELECT count(*) FROM snap_rows";
static const char	 rc_key[] = "snap:list";

/* What turn 1 saw, checked by turn 2. */
static uint64_t		 turn1_gen;
static int		 turn2_ran;

/* The store's SELECT, through the statement cache as handlers run it. */
static int64_t
store_count(void)
{
	sqlite3_stmt	*st = db_prepare(count_sql);
	int64_t		 n = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

static void
outside_insert(const char *note)
{
	char	*sql = sqlite3_mprintf("INSERT INTO snap_rows (note) VALUES (%Q)",
	    note);

	assert_int_equal(sqlite3_exec(other, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
}

static int
store_txn_state(void)
{
	return sqlite3_txn_state(db_handle(), "main");
}

/* Runs cb as the only callback of one loop iteration. */
static void
run_turn(event_callback_fn cb)
{
	struct event	*ev = event_new(fx.base, -1, 0, cb, NULL);

	assert_non_null(ev);
	event_active(ev, EV_TIMEOUT, 0);
	assert_int_equal(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	event_free(ev);
}

/*
 * Runs cb as a socket's read callback in one iteration, with the
 * zero-timeout timer the last turn's read armed due in the same one.
 */
static void
run_io_iteration(event_callback_fn cb)
{
	struct event	*ev = event_new(fx.base, sv[0], EV_READ, cb, NULL);
	char		 c = 'x';

	assert_non_null(ev);
	assert_int_equal(event_add(ev, NULL), 0);
	assert_int_equal(write(sv[1], &c, 1), 1);
	turn2_ran = 0;
	assert_int_equal(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(turn2_ran, 1);
	assert_int_equal(read(sv[0], &c, 1), 1);
	event_free(ev);
}

/* As run_io_iteration; cb reads, so the turn's snapshot ends one later. */
static void
run_io_turn(event_callback_fn cb)
{
	run_io_iteration(cb);
	/* Its read armed the timer again; the next iteration ends its
	 * snapshot. */
	assert_int_equal(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(store_txn_state(), SQLITE_TXN_NONE);
}

/* --- one read, an outside write, a read in the next turn --- */

static void
next_turn_sees_one(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	assert_int_equal(store_count(), 1);
}

static void
turn1_read(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	gen;

	(void)fd;
	(void)what;
	(void)arg;
	assert_int_equal(db_read_snapshot(&gen), 0);
	assert_int_equal(store_count(), 0);
	assert_int_equal(db_read_snapshot(&turn1_gen), 1);
	assert_int_equal(store_txn_state(), SQLITE_TXN_READ);

	/* The same turn's reads share it: another connection's commit
	 * does not show, and the snapshot is the same one. */
	outside_insert("during turn 1");
	assert_int_equal(store_count(), 0);
	assert_int_equal(db_read_snapshot(&gen), 1);
	assert_int_equal(gen, turn1_gen);
}

static void
turn2_read(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	gen;

	(void)fd;
	(void)what;
	(void)arg;
	turn2_ran = 1;
	/* Before the timer: turn 1's snapshot is still open... */
	assert_int_equal(store_txn_state(), SQLITE_TXN_READ);
	/* ...but it is not this turn's. */
	assert_int_equal(db_read_snapshot(&gen), 0);
	/* This turn's read sees both rows committed before it ran. */
	assert_int_equal(store_count(), 2);
	assert_int_equal(db_read_snapshot(&gen), 1);
	assert_int_not_equal(gen, turn1_gen);
}

static void
test_next_turn_read_before_the_timer_sees_an_outside_write(void **state)
{
	(void)state;
	run_turn(turn1_read);
	/* Between the turns: the timer is still pending, the snapshot open. */
	assert_int_equal(store_txn_state(), SQLITE_TXN_READ);
	outside_insert("between the turns");
	run_io_turn(turn2_read);
}

/* --- what the tests above build on: libevent's order --- */

static void
turn2_no_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	turn2_ran = 1;
	assert_int_equal(store_txn_state(), SQLITE_TXN_READ);
}

static void
test_the_timer_runs_after_the_io_callbacks_of_its_iteration(void **state)
{
	(void)state;
	run_turn(turn1_read);
	/* One iteration: the read callback finds turn 1's snapshot open,
	 * then the timer, due in the same iteration, ends it. */
	run_io_iteration(turn2_no_read);
	assert_int_equal(store_txn_state(), SQLITE_TXN_NONE);
}

/* --- two requests of one turn share its snapshot --- */

static int	shared_calls;
static uint64_t	shared_gen;

static void
shared_read(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	gen;
	char		c;

	(void)what;
	(void)arg;
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(store_count(), 0);
	assert_int_equal(db_read_snapshot(&gen), 1);
	if (shared_calls++ == 0) {
		shared_gen = gen;
		outside_insert("between the requests");
	} else
		assert_int_equal(gen, shared_gen);
}

static void
test_requests_of_one_turn_share_its_snapshot(void **state)
{
	struct event	*ev[2];
	int		 sv2[2], i;
	char		 c = 'x';

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	ev[0] = event_new(fx.base, sv[0], EV_READ, shared_read, NULL);
	ev[1] = event_new(fx.base, sv2[0], EV_READ, shared_read, NULL);
	for (i = 0; i < 2; i++) {
		assert_non_null(ev[i]);
		assert_int_equal(event_add(ev[i], NULL), 0);
	}
	assert_int_equal(write(sv[1], &c, 1), 1);
	assert_int_equal(write(sv2[1], &c, 1), 1);
	shared_calls = 0;
	assert_int_equal(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	assert_int_equal(shared_calls, 2);
	for (i = 0; i < 2; i++)
		event_free(ev[i]);
	close(sv2[0]);
	close(sv2[1]);
	/* The next turn's request sees the row. */
	run_turn(next_turn_sees_one);
}

/* --- the read cache: an answer kept in turn 1 is not served in turn 2 --- */

static void
turn1_cache(evutil_socket_t fd, short what, void *arg)
{
	const char	*val;
	size_t		 vlen;
	int64_t		 count, n;
	char		 answer[32];

	(void)fd;
	(void)what;
	(void)arg;
	assert_int_equal(readcache_get(rc_key, sizeof rc_key, &val, &vlen,
	    &count), 0);
	n = store_count();
	assert_int_equal(n, 0);
	snprintf(answer, sizeof answer, "%lld rows", (long long)n);
	readcache_put(rc_key, sizeof rc_key, answer, strlen(answer), n);
	/* Served while the store is unchanged. */
	assert_int_equal(readcache_get(rc_key, sizeof rc_key, &val, &vlen,
	    &count), 1);
	assert_int_equal(count, 0);
	assert_int_equal(vlen, strlen("0 rows"));
	assert_memory_equal(val, "0 rows", vlen);
}

static void
turn2_cache(evutil_socket_t fd, short what, void *arg)
{
	const char	*val;
	size_t		 vlen;
	int64_t		 count;

	(void)fd;
	(void)what;
	(void)arg;
	turn2_ran = 1;
	assert_int_equal(store_txn_state(), SQLITE_TXN_READ);
	/* The outside row dropped the answer; this turn reads it anew. */
	assert_int_equal(readcache_get(rc_key, sizeof rc_key, &val, &vlen,
	    &count), 0);
	assert_int_equal(store_count(), 1);
}

static void
test_next_turn_cache_lookup_before_the_timer_misses_after_an_outside_write(
    void **state)
{
	(void)state;
	run_turn(turn1_cache);
	assert_int_equal(store_txn_state(), SQLITE_TXN_READ);
	outside_insert("between the turns");
	run_io_turn(turn2_cache);
}

static int
setup(void **state)
{
	(void)state;
	if (store_fixture_open(&fx, "snapshot", 0, NULL, NULL) != 0)
		return -1;
	if (sqlite3_exec(db_handle(), "CREATE TABLE snap_rows (id INTEGER "
	    "PRIMARY KEY, note TEXT NOT NULL)", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_open_v2(fx.path, &other, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(other, 5000);
	/* No fsync: the turns come microseconds apart, as on a busy server. */
	if (sqlite3_exec(other, "PRAGMA synchronous = OFF", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	readcache_clear();
	close(sv[0]);
	close(sv[1]);
	sqlite3_close(other);
	other = NULL;
	store_fixture_close(&fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_next_turn_read_before_the_timer_sees_an_outside_write,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_the_timer_runs_after_the_io_callbacks_of_its_iteration,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_requests_of_one_turn_share_its_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_next_turn_cache_lookup_before_the_timer_misses_after_an_outside_write,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
