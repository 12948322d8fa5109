/* db.c -- the store: one SQLite writer connection on the loop thread.
 *
 * Debian's SQLite 3.40 has a WAL-reset bug with concurrent writers, so all
 * writes go through this one connection, in BEGIN IMMEDIATE transactions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"
#include "util.h"
#include "walbuf.h"

#define STMT_CACHE_SIZE	512


static sqlite3	*db;
/* Counts db_open calls: a cache of what one store held names the store by
 * it, since a later handle may have the address of a closed one. */
static uint64_t	 open_serial;
/* Transactions ended, committed or rolled back (the hooks count them). */
static uint64_t	 txn_ends;
static uint64_t	 dv_ends = UINT64_MAX;	/* txn_ends when dv_value was read */
static int64_t	 dv_value;
static int	 txn_open;	/* between db_begin and its end, outside batches */
static int	 own_commit;	/* our COMMIT is running */
static int	 batch_open;
static int	 read_open;	/* a loop turn's read transaction (see db_prepare) */
static uint64_t	 read_gen;	/* moves each time such a transaction ends */

static void	 db_read_begin(void);
static void	 db_read_end(void);
static int	 db_savepoint(int);
static struct {
	const char	*sql;
	sqlite3_stmt	*stmt;
} stmt_cache[STMT_CACHE_SIZE];

/*
 * A batch's savepoints and the transactions' BEGIN and COMMIT, prepared
 * once: every write request runs SAVEPOINT and RELEASE, every loop turn
 * with a read BEGIN and COMMIT, and sqlite3_exec would parse them each time
 * (a third of an auth.me's instructions).
 */
enum { SP_BEGIN, SP_RELEASE, SP_ROLLBACK, SP_BEGIN_READ, SP_BEGIN_WRITE,
	SP_COMMIT, SP__COUNT };
static const char	*sp_sql[SP__COUNT] = {
	"SAVEPOINT w", "RELEASE w", "ROLLBACK TO w", "BEGIN", "BEGIN IMMEDIATE",
	"COMMIT"
};
static sqlite3_stmt	*sp_stmt[SP__COUNT];

sqlite3 *
db_handle(void)
{
	return db;
}

uint64_t
db_serial(void)
{
	return open_serial;
}

int64_t
db_data_version(void)
{
	static const char *sql = "PRAGMA data_version";
	sqlite3_stmt	*st;
	int64_t		 v = -1;
	int		 writing;

	if (db == NULL)
		return -1;
	/* No other connection commits while this one holds the write lock:
	 * what the write transaction read first stands until it ends. */
	writing = sqlite3_txn_state(db, "main") == SQLITE_TXN_WRITE;
	if (writing && dv_ends == txn_ends)
		return dv_value;
	st = db_prepare(sql);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (writing && v >= 0) {
		dv_ends = txn_ends;
		dv_value = v;
	}
	return v;
}

int
db_seen_moved(struct db_seen *seen)
{
	int64_t	version;

	if ((version = db_data_version()) < 0)
		return -1;
	if (seen->serial == open_serial && seen->version == version)
		return 0;
	seen->serial = open_serial;
	seen->version = version;
	return 1;
}

int
db_user_version(sqlite3 *h)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
db_migrate(sqlite3 *h, const struct migration *list, size_t count, char **cause)
{
	char	*err = NULL, *sql;
	int	 current;
	size_t	 i;

	if ((current = db_user_version(h)) < 0) {
		*cause = xasprintf("cannot read user_version: %s", sqlite3_errmsg(h));
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (list[i].version <= current)
			continue;
		sql = xasprintf("BEGIN IMMEDIATE;\n%s\nPRAGMA user_version = %d;\nCOMMIT;",
		    list[i].sql, list[i].version);
		if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK) {
			*cause = xasprintf("migration %s: %s", list[i].name,
			    err ? err : sqlite3_errmsg(h));
			sqlite3_free(err);
			sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
			free(sql);
			return -1;
		}
		free(sql);
		log_info("applied migration %s", list[i].name);
		current = list[i].version;
	}
	return 0;
}

/*
 * Logs a failed store call so an operator can tell a full disk or a failing
 * one from a bug; the request that met it answers `unavailable`.
 */
void
db_log_error(const char *what)
{
	int	ext = sqlite3_extended_errcode(db);

	switch (ext & 0xff) {
	case SQLITE_FULL:
		log_err("store: %s: %s: the disk is full; writes fail (clients get "
		    "unavailable) until space is freed", what, sqlite3_errmsg(db));
		break;
	case SQLITE_IOERR:
		log_err("store: %s: I/O error in %s (SQLite code %d); clients "
		    "get unavailable", what, ext == SQLITE_IOERR_READ ||
		    ext == SQLITE_IOERR_SHORT_READ ? "a read" :
		    ext == SQLITE_IOERR_WRITE ? "a write" :
		    ext == SQLITE_IOERR_FSYNC ? "fsync" :
		    ext == SQLITE_IOERR_TRUNCATE ? "a truncate" :
		    ext == SQLITE_IOERR_FSTAT ? "fstat" : "the store's files", ext);
		break;
	default:
		log_err("store: %s: %s", what, sqlite3_errmsg(db));
		break;
	}
}

/*
 * After an I/O error or a full disk SQLite may roll the whole transaction
 * back by itself. The statements a handler runs next would then each commit
 * on their own: half an operation, committed. So while we hold a
 * transaction open, any commit that is not our COMMIT is refused (the
 * statement fails instead, and the batch reports the failure).
 */
static int
commit_hook(void *arg)
{
	(void)arg;
	txn_ends++;
	if (own_commit || !(batch_open || txn_open))
		return 0;
	log_err("store: a statement would commit outside its transaction (rolled "
	    "back by an earlier error); refused");
	return 1;
}

static void
rollback_hook(void *arg)
{
	(void)arg;
	txn_ends++;
}

/* Our COMMIT, the only one the hook lets through mid-transaction. */
static int
db_exec_commit(void)
{
	int	rc;

	own_commit = 1;
	rc = db_savepoint(SP_COMMIT);
	own_commit = 0;
	return rc;
}

int
db_open(const char *path, int synchronous_full, char **cause)
{
	char	*err = NULL, *pragmas;

	/*
	 * Before the first connection opens: SQLite's memory statistics take
	 * a global mutex around every allocation (a booking makes some 200),
	 * and nothing here reads them. Refused, harmlessly, once SQLite is
	 * initialized (a second db_open, the tests).
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/*
	 * Each request runs in a savepoint, which first copies every page it
	 * changes into the sub-journal. Kept in memory by temp_store = MEMORY,
	 * that journal grows in 1 KiB chunks, each a malloc, all freed at the
	 * release: some 50 mallocs and frees a booking, a sixth of its
	 * instructions. With the default temp_store it is one chunk of the
	 * spill size instead, in memory unless a request changes more than
	 * that (31 pages; then a temp file).
	 */
	sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, DB_SUBJOURNAL_SPILL);
	/*
	 * A commit's WAL frames leave in a few large writes instead of two
	 * system calls each (walbuf.h). Only with synchronous = FULL, where
	 * every commit syncs the WAL before it is published.
	 */
	if (synchronous_full && walbuf_register() != SQLITE_OK) {
		*cause = xstrdup("cannot register the WAL-buffering VFS");
		return -1;
	}
	open_serial++;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, synchronous_full ? WALBUF_VFS_NAME : NULL) !=
	    SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		db = NULL;
		return -1;
	}
	/* More lookaside slots: a statement's small allocations come from the
	 * connection's own memory instead of malloc. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 1200, 400);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_commit_hook(db, commit_hook, NULL);
	sqlite3_rollback_hook(db, rollback_hook, NULL);
	txn_open = own_commit = 0;
	/* A 128 MiB page cache and reads through mmap: with SQLite's 2 MiB
	 * default, lists and searches on a big clinic's data spend half
	 * their time in pread. A checkpoint every 4,000 WAL pages (16 MiB)
	 * instead of 1,000: it writes a page changed by many commits once,
	 * and its database fsync (some 10 ms) comes a quarter as often; with
	 * the WAL written in large pieces (walbuf.h), sustained bookings ran
	 * 6 to 65 % faster in five paired runs. */
	pragmas = xasprintf("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
	    "PRAGMA synchronous = %s; PRAGMA wal_autocheckpoint = 4000; "
	    "PRAGMA cache_size = -131072; PRAGMA mmap_size = 4294967296;",
	    synchronous_full ? "FULL" : "NORMAL");
	if (sqlite3_exec(db, pragmas, NULL, NULL, &err) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, err);
		sqlite3_free(err);
		free(pragmas);
		db_close();
		return -1;
	}
	free(pragmas);
	if (db_migrate(db, migrations, migrations_count, cause) != 0) {
		db_close();
		return -1;
	}
	return 0;
}

/* Runs one of the savepoint statements; SQLITE_OK or the error. */
static int
db_savepoint(int which)
{
	int	rc;

	if (sp_stmt[which] == NULL && (rc = sqlite3_prepare_v3(db, sp_sql[which],
	    -1, SQLITE_PREPARE_PERSISTENT, &sp_stmt[which], NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(sp_stmt[which]);
	sqlite3_reset(sp_stmt[which]);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void
db_close(void)
{
	size_t	i;

	for (i = 0; i < SP__COUNT; i++) {
		if (sp_stmt[i] != NULL)
			sqlite3_finalize(sp_stmt[i]);
		sp_stmt[i] = NULL;
	}
	for (i = 0; i < STMT_CACHE_SIZE; i++) {
		if (stmt_cache[i].stmt != NULL)
			sqlite3_finalize(stmt_cache[i].stmt);
		stmt_cache[i].sql = NULL;
		stmt_cache[i].stmt = NULL;
	}
	read_open = 0;
	read_gen++;
	if (db != NULL) {
		sqlite3_close(db);
		db = NULL;
	}
}

sqlite3_stmt *
db_prepare(const char *sql)
{
	size_t		 i, h = ((uintptr_t)sql >> 3) % STMT_CACHE_SIZE;
	sqlite3_stmt	*st;

	for (i = 0; i < STMT_CACHE_SIZE; i++) {
		size_t	slot = (h + i) % STMT_CACHE_SIZE;

		if (stmt_cache[slot].sql == sql) {
			db_read_begin();
			st = stmt_cache[slot].stmt;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
		if (stmt_cache[slot].sql == NULL) {
			if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			    &st, NULL) != SQLITE_OK) {
				/* Our SQL is static: a failure is a bug, not input. */
				log_err("prepare failed: %s: %s", sqlite3_errmsg(db), sql);
				abort();
			}
			stmt_cache[slot].sql = sql;
			stmt_cache[slot].stmt = st;
			db_read_begin();
			return st;
		}
	}
	log_err("statement cache full");
	abort();
}

/*
 * Group commit. Once db_batch_start has been called, the first db_begin of a
 * loop turn opens one BEGIN IMMEDIATE; every db_begin/db_commit pair inside
 * it is a savepoint; a zero-timeout timer commits the whole batch after the
 * turn's requests have run, so many writes share one fsync. Replies are held
 * (through the hooks) until that commit, so nothing is acknowledged before
 * it is durable.
 */
static struct event	*batch_ev;
static struct event	*turn_ev;	/* runs after the read's turn */
static int		 savepoints;
static int		 doomed;	/* the open write must not commit */
static int		 direct;	/* it runs without a savepoint */
static int64_t		 direct_changes;	/* rows changed before it began */
static int		 read_turn_over;	/* the read's loop turn has ended */
static void		(*batch_on_open)(void);
static void		(*batch_on_close)(int ok);

/*
 * The reads of one loop turn share one read transaction, ended by the same
 * zero-timeout timer as the batch: in autocommit mode every statement takes
 * and drops SQLite's WAL read lock itself (a dozen fcntl calls for one
 * appt.slots), and that was a third of a read request's cost. A write
 * ends it first (db_begin), so writes still start from the newest data.
 * A request of the next turn may run before that timer (libevent runs the
 * turn's I/O callbacks first): it ends the old one, so it never reads a
 * snapshot older than its own arrival (another process, an admin's sqlite3
 * shell, may have written in between). The turn's end is told by turn_ev,
 * made active when the read begins: libevent runs it after the callbacks
 * already queued, in the same iteration (it has the most urgent priority),
 * so any read after it begins a new snapshot. Not by libevent's cached
 * time: that comes from CLOCK_MONOTONIC_COARSE, the same for every turn of
 * a 4 ms tick (tests/unit/test_db_snapshot.c).
 */
static void
db_read_begin(void)
{
	const struct timeval	now = { 0, 0 };

	if (read_open && read_turn_over)
		db_read_end();
	if (batch_ev == NULL || batch_open || read_open || txn_open ||
	    !sqlite3_get_autocommit(db))
		return;
	if (db_savepoint(SP_BEGIN_READ) != SQLITE_OK)
		return;		/* the statement runs on its own, as before */
	read_open = 1;
	read_turn_over = 0;
	event_active(turn_ev, EV_TIMEOUT, 0);
	evtimer_add(batch_ev, &now);
}

static void
turn_end_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	read_turn_over = 1;
}

static void
db_read_end(void)
{
	if (!read_open)
		return;
	read_open = 0;
	read_gen++;
	if (!sqlite3_get_autocommit(db) && db_exec_commit() != SQLITE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int
db_read_snapshot(uint64_t *gen)
{
	/* An older turn's snapshot is not this turn's: db_read_begin ends it
	 * on the next statement. */
	if (db == NULL || !read_open || read_turn_over || batch_ev == NULL ||
	    sqlite3_txn_state(db, "main") != SQLITE_TXN_READ)
		return 0;
	*gen = read_gen;
	return 1;
}

static void
batch_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	db_batch_flush();
}

void
db_batch_start(struct event_base *base, void (*on_open)(void),
    void (*on_close)(int ok))
{
	batch_ev = evtimer_new(base, batch_commit_cb, NULL);
	turn_ev = event_new(base, -1, 0, turn_end_cb, NULL);
	/* Were it less urgent than the read's callback, it could run only
	 * after the next iteration's I/O callbacks. */
	event_priority_set(turn_ev, 0);
	batch_on_open = on_open;
	batch_on_close = on_close;
}

/* The batch is over, committed (ok) or not: its replies go out. */
static void
batch_end(int ok)
{
	batch_open = 0;
	if (batch_ev != NULL)
		evtimer_del(batch_ev);
	if (batch_on_close != NULL)
		batch_on_close(ok);
}

int
db_batch_flush(void)
{
	int	ok = 1;

	if (!batch_open) {
		db_read_end();
		return 0;
	}
	if (savepoints != 0 || direct) {
		/* A handler returned inside its transaction: a bug. */
		log_err("batch commit with %d open savepoints%s", savepoints,
		    direct ? " and a write without one" : "");
		abort();
	}
	if (sqlite3_get_autocommit(db)) {
		/* An I/O error rolled the batch back under us. */
		log_err("store: batch commit: the transaction was rolled back by "
		    "an earlier error; its replies say unavailable");
		ok = 0;
	} else if (db_exec_commit() != SQLITE_OK) {
		db_log_error("batch COMMIT");
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		ok = 0;
	}
	batch_end(ok);
	return ok ? 0 : -1;
}

void
db_batch_stop(void)
{
	db_batch_flush();
	if (batch_ev != NULL) {
		event_free(batch_ev);
		batch_ev = NULL;
		event_free(turn_ev);
		turn_ev = NULL;
	}
}

/* Joins the loop turn's batch, opening it first if need be; 0 or -1. */
static int
batch_join(void)
{
	const struct timeval	now = { 0, 0 };

	if (batch_open && sqlite3_get_autocommit(db)) {
		/* A SAVEPOINT now would start a transaction of its own. */
		log_err("store: the batch was rolled back by an earlier error; "
		    "refusing writes until it ends");
		return -1;
	}
	if (!batch_open) {
		db_read_end();
		if (db_savepoint(SP_BEGIN_WRITE) != SQLITE_OK) {
			db_log_error("BEGIN");
			return -1;
		}
		batch_open = 1;
		evtimer_add(batch_ev, &now);
		if (batch_on_open != NULL)
			batch_on_open();
	}
	return 0;
}

/*
 * Rolls the whole batch back now: a write without a savepoint failed after
 * it changed rows. Every request of the batch so far is told "unavailable"
 * (on_close(0)); the turn's next write opens a new batch.
 */
static void
batch_abort(void)
{
	log_err("store: a write failed part-way outside a savepoint; its batch "
	    "is rolled back and its replies say unavailable");
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	batch_end(0);
}

int
db_begin(void)
{
	if (batch_ev == NULL) {
		if (db_savepoint(SP_BEGIN_WRITE) != SQLITE_OK) {
			db_log_error("BEGIN");
			return -1;
		}
		txn_open = 1;
		return 0;
	}
	if (batch_join() != 0)
		return -1;
	if (db_savepoint(SP_BEGIN) != SQLITE_OK) {
		db_log_error("SAVEPOINT");
		return -1;
	}
	savepoints++;
	return 0;
}

int
db_begin_direct(void)
{
	if (batch_ev == NULL || direct || savepoints > 0)
		return db_begin();
	if (batch_join() != 0)
		return -1;
	direct = 1;
	direct_changes = sqlite3_total_changes64(db);
	return 0;
}

int
db_in_write(void)
{
	return batch_ev == NULL ? txn_open : savepoints > 0 || direct;
}

void
db_doom(void)
{
	if (db_in_write())
		doomed = 1;
}

int
db_commit(void)
{
	if (doomed) {
		log_err("a write failed part-way; rolled back");
		db_rollback();
		return -1;
	}
	if (batch_ev == NULL) {
		txn_open = 0;
		if (db_exec_commit() != SQLITE_OK) {
			db_log_error("COMMIT");
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		return 0;
	}
	if (direct && savepoints == 0) {
		direct = 0;
		return 0;
	}
	if (savepoints == 0)
		return -1;
	if (db_savepoint(SP_RELEASE) != SQLITE_OK) {
		db_log_error("RELEASE");
		db_rollback();
		return -1;
	}
	savepoints--;
	return 0;
}

void
db_rollback(void)
{
	doomed = 0;
	if (batch_ev == NULL) {
		txn_open = 0;
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	if (direct && savepoints == 0) {
		direct = 0;
		/* Nothing written yet (a failed statement undoes itself):
		 * the batch goes on. */
		if (sqlite3_total_changes64(db) != direct_changes)
			batch_abort();
		return;
	}
	if (savepoints == 0)
		return;
	db_savepoint(SP_ROLLBACK);
	db_savepoint(SP_RELEASE);
	savepoints--;
}

int
db_step_done(sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW &&
	    rc != SQLITE_CONSTRAINT && (rc & 0xff) != SQLITE_CONSTRAINT)
		db_log_error("statement");
	sqlite3_reset(st);
	return rc;
}

int64_t
db_last_id(void)
{
	return sqlite3_last_insert_rowid(db);
}

int
db_changes(void)
{
	return sqlite3_changes(db);
}

const char *
db_col_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

void
db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

void
db_bind_opt_int(sqlite3_stmt *st, int idx, int has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, idx, v);
	else
		sqlite3_bind_null(st, idx);
}

char *
db_like_contains(const char *q)
{
	char	*pattern, *p;

	if (q == NULL || *q == '\0')
		return NULL;
	pattern = xmalloc(strlen(q) * 2 + 3);
	p = pattern;
	*p++ = '%';
	for (; *q != '\0'; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			*p++ = '\\';
		*p++ = *q;
	}
	*p++ = '%';
	*p = '\0';
	return pattern;
}
