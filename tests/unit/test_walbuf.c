/* test_walbuf.c -- the VFS that gathers the store's WAL writes (walbuf.c).
 *
 * The store opens its database through it when synchronous = FULL (the
 * default). What must hold, checked against a second connection that goes
 * through the plain VFS, as another process (a backup, an operator's
 * sqlite3 shell) would:
 *
 *  - a commit's frames leave in a few large writes, not two a frame;
 *  - every commit is readable by the other connection the moment it
 *    returns, and the file is intact;
 *  - frames of a transaction that rolled back, still waiting in the
 *    buffer, never land after the write lock is given up, on top of what
 *    another connection then wrote in the same part of the WAL;
 *  - a process killed right after its commits returned loses none of them.
 *
 * The I/O-error paths run through it as well: test_faults injects its
 * faults under it, and checks at every sync that nothing SQLite wrote
 * still waits in the buffer (the sync is what a commit's durability rests
 * on; a power cut is not something a test here can make).
 */
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
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
#include "walbuf.h"

static struct store_fixture fx;

static void
exec_on(sqlite3 *h, const char *sql)
{
	char	*err = NULL;
	int	 rc = sqlite3_exec(h, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		print_message("%s: %s\n", sql, err != NULL ? err : "?");
	sqlite3_free(err);
	assert_int_equal(rc, SQLITE_OK);
}

static int64_t
int_on(sqlite3 *h, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
assert_intact_on(sqlite3 *h)
{
	sqlite3_stmt	*st;

	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* Another connection on the same file, through the plain VFS. */
static sqlite3 *
other_open(const char *path)
{
	sqlite3	*h = NULL;

	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	return h;
}

/* n rows of about 500 bytes tagged tag, in one transaction. */
static void
insert_rows(sqlite3 *h, int n, const char *tag)
{
	char	sql[200];

	snprintf(sql, sizeof sql, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
	    "SELECT i + 1 FROM c WHERE i < %d) INSERT INTO rows (tag, pad) "
	    "SELECT '%s', hex(randomblob(250)) FROM c", n, tag);
	exec_on(h, sql);
}

/* The fixture's store opened again on its file, as after a restart. */
static void
store_reopen(void)
{
	char	*cause = NULL;

	if (db_open(fx.path, 1, &cause) != 0)
		fail_msg("db_open: %s", cause);
	db_batch_start(fx.base, NULL, NULL);
}

static int
setup(void **state)
{
	(void)state;
	if (store_fixture_open(&fx, "walbuf", 1, NULL, NULL) != 0)
		return -1;
	exec_on(db_handle(), "CREATE TABLE rows (id INTEGER PRIMARY KEY, "
	    "tag TEXT NOT NULL, pad TEXT NOT NULL)");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	store_fixture_close(&fx);
	return 0;
}

static void
test_commits_are_gathered_and_seen_at_once(void **state)
{
	struct walbuf_stats	 a, b;
	sqlite3			*o = other_open(fx.path);
	int			 i;

	(void)state;
	walbuf_stats(&a);
	for (i = 1; i <= 20; i++) {
		exec_on(db_handle(), "BEGIN IMMEDIATE");
		insert_rows(db_handle(), 200, "a");
		exec_on(db_handle(), "COMMIT");
		/* Published only once on disk (or at least in the kernel). */
		assert_int_equal(int_on(o, "SELECT count(*) FROM rows"),
		    200 * i);
	}
	walbuf_stats(&b);
	/* Some 30 pages a commit, each two writes: one write out of many. */
	assert_true(b.wal_writes - a.wal_writes > 1000);
	assert_true(b.wal_flushes - a.wal_flushes > 0);
	assert_true((b.wal_writes - a.wal_writes) >
	    10 * (b.wal_flushes - a.wal_flushes));
	print_message("%llu WAL writes went out in %llu\n",
	    (unsigned long long)(b.wal_writes - a.wal_writes),
	    (unsigned long long)(b.wal_flushes - a.wal_flushes));
	assert_intact_on(o);
	assert_intact_on(db_handle());
	sqlite3_close(o);
}

static void
test_rolled_back_frames_never_land_on_another_writer_s(void **state)
{
	struct walbuf_stats	 a, b;
	sqlite3			*o = other_open(fx.path);

	(void)state;
	/* A small cache: the transaction spills frames into the WAL before
	 * it ends, all of them still in the buffer when it rolls back. */
	/* An empty WAL: the rollback then reloads its pages from the
	 * database file and reads nothing of the WAL on the way. */
	exec_on(db_handle(), "PRAGMA wal_checkpoint(TRUNCATE)");
	exec_on(db_handle(), "PRAGMA cache_size = 10");
	walbuf_stats(&a);
	exec_on(db_handle(), "BEGIN IMMEDIATE");
	insert_rows(db_handle(), 150, "ghost");
	walbuf_stats(&b);
	assert_true(b.wal_writes - a.wal_writes > 4);
	/* Only the new WAL's header went out (it is synced at once). */
	assert_true(b.wal_flushes - a.wal_flushes <= 1);
	exec_on(db_handle(), "ROLLBACK");

	/* The other writer now writes where the ghost frames were. */
	exec_on(o, "BEGIN IMMEDIATE");
	insert_rows(o, 50, "b");
	exec_on(o, "COMMIT");

	/* The store reads that commit, then commits on top of it. */
	assert_int_equal(int_on(db_handle(),
	    "SELECT count(*) FROM rows WHERE tag = 'b'"), 50);
	exec_on(db_handle(), "BEGIN IMMEDIATE");
	insert_rows(db_handle(), 10, "c");
	exec_on(db_handle(), "COMMIT");

	assert_int_equal(int_on(o,
	    "SELECT count(*) FROM rows WHERE tag = 'b'"), 50);
	assert_int_equal(int_on(o,
	    "SELECT count(*) FROM rows WHERE tag = 'c'"), 10);
	assert_int_equal(int_on(o, "SELECT count(*) FROM rows"), 60);
	assert_intact_on(o);
	sqlite3_close(o);

	/* What a restart finds. */
	db_batch_stop();
	db_close();
	o = other_open(fx.path);
	assert_int_equal(int_on(o, "SELECT count(*) FROM rows"), 60);
	assert_intact_on(o);
	sqlite3_close(o);
	store_reopen();
}

static void
test_a_killed_process_keeps_every_commit_that_returned(void **state)
{
	char	 path[300];
	char	 c;
	int	 fds[2], status, done = 0, n;
	pid_t	 pid;
	sqlite3	*o;

	(void)state;
	snprintf(path, sizeof path, "%s/crash.db", fx.dir);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		sqlite3	*h = NULL;
		char	*cause = NULL;
		int	 i;

		close(fds[0]);
		/* A store of its own, not the parent's handle. */
		if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE, WALBUF_VFS_NAME) != SQLITE_OK ||
		    sqlite3_exec(h, "PRAGMA journal_mode = WAL; "
		    "PRAGMA synchronous = FULL; CREATE TABLE rows (id INTEGER "
		    "PRIMARY KEY, tag TEXT NOT NULL, pad TEXT NOT NULL)", NULL,
		    NULL, &cause) != SQLITE_OK)
			_exit(1);
		for (i = 1; i <= 30; i++) {
			if (sqlite3_exec(h, "BEGIN IMMEDIATE; WITH RECURSIVE "
			    "c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
			    "WHERE i < 100) INSERT INTO rows (tag, pad) SELECT "
			    "'k', hex(randomblob(250)) FROM c; COMMIT", NULL,
			    NULL, &cause) != SQLITE_OK)
				_exit(1);
			/* Acknowledged: the commit returned. */
			if (write(fds[1], "x", 1) != 1)
				_exit(1);
		}
		/* Killed with the WAL handle open and nothing closed. */
		raise(SIGKILL);
		_exit(1);
	}
	assert_true(pid > 0);
	close(fds[1]);
	while ((n = (int)read(fds[0], &c, 1)) == 1)
		done++;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(done, 30);

	snprintf(path, sizeof path, "%s/crash.db", fx.dir);
	o = other_open(path);
	assert_int_equal(int_on(o, "SELECT count(*) FROM rows"), 3000);
	assert_intact_on(o);
	sqlite3_close(o);
	store_fixture_remove(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_commits_are_gathered_and_seen_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rolled_back_frames_never_land_on_another_writer_s,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_killed_process_keeps_every_commit_that_returned,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
