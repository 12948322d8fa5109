/* db.h -- the store: one SQLite writer connection on the loop thread. */
#ifndef MF_DB_H
#define MF_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

/* Generated from data/migrations/NNN_*.sql at build time. */
extern const struct migration	migrations[];
extern const size_t		migrations_count;

/*
 * Bytes of a request's savepoint journal kept in memory (a booking writes
 * some 50,000); more goes to a temp file. The journal is then written in
 * one piece, and SQLite's unix VFS writes at most 128 KiB at a time: with a
 * larger limit the spill fails as "disk full" (tests/unit/test_db_batch.c).
 */
#define DB_SUBJOURNAL_SPILL	128000

/* Opens (creating) the database file and applies pending migrations. */
int	 db_open(const char *path, int synchronous_full, char **cause);
void	 db_close(void);
sqlite3	*db_handle(void);
/* Which db_open the handle is from: each call makes a new one. */
uint64_t db_serial(void);
/*
 * PRAGMA data_version, through the statement cache (so it also opens the
 * loop turn's read snapshot): it moves when another connection (an
 * operator's sqlite3 shell) commits. Read once a write transaction, which
 * no other commit can come into. -1 if it could not be read.
 */
int64_t	 db_data_version(void);
/* The store a cache of its rows was read from: which db_open, and its
 * data_version then. Zeroed, it matches no store. */
struct db_seen {
	uint64_t	serial;
	int64_t		version;
};
/*
 * Whether the store has moved since *seen (another process committed, or
 * another store was opened): 1, with *seen brought up to now; 0 if not; -1
 * if data_version could not be read.
 */
int	 db_seen_moved(struct db_seen *seen);

/* Applies pending migrations to any handle; used by db_open and the tests. */
int	 db_migrate(sqlite3 *, const struct migration *, size_t, char **cause);
int	 db_user_version(sqlite3 *);

/*
 * Returns a reset, cleared prepared statement for a static SQL string; the
 * statement is cached by the string's address, so pass literals only.
 */
sqlite3_stmt *db_prepare(const char *sql);

struct event_base;
/*
 * Turns on group commit: from now on db_begin/db_commit/db_rollback are
 * savepoints inside one transaction per loop turn, committed by a timer;
 * on_open runs when a batch opens, on_close(ok) after its COMMIT.
 */
void	 db_batch_start(struct event_base *, void (*on_open)(void),
	     void (*on_close)(int ok));
/* Commits the open batch now (also at shutdown); 0, or -1 if COMMIT failed. */
int	 db_batch_flush(void);
void	 db_batch_stop(void);

/* A write transaction (a savepoint in a batch); 0 or -1 (logged). */
int	 db_begin(void);
/*
 * The same without the savepoint, for a write whose checks all come before
 * its first change, so that once it changes rows only a store error stops
 * it: a savepoint copies every page the write changes first, a twentieth
 * of a booking's instructions. db_rollback before the first change leaves
 * the batch as it was; after it, it rolls the whole batch back and its
 * replies say unavailable.
 * Nested inside another write, or without group commit, it is db_begin.
 */
int	 db_begin_direct(void);
int	 db_commit(void);
void	 db_rollback(void);
/*
 * 1 with *gen when the loop turn's read transaction holds a snapshot: until
 * *gen moves, nothing another connection commits is visible, so what was
 * read under the same gen still stands (bar this connection's own writes,
 * which end the read transaction first). 0 when reads are not in one.
 */
int	 db_read_snapshot(uint64_t *gen);
/* Whether a write transaction (or a batch's savepoint) is open. */
int	 db_in_write(void);
/*
 * Dooms the open write: its db_commit rolls it back and fails, as for a
 * store error. For a row the change may not be committed without (its
 * audit row).
 */
void	 db_doom(void);

/* Runs a statement that returns no rows after binding; SQLITE_DONE or the error. */
int	 db_step_done(sqlite3_stmt *);
/* Logs the last store error with what failed (disk full, I/O error, ...). */
void	 db_log_error(const char *what);
int64_t	 db_last_id(void);
int	 db_changes(void);
/* Text column as a NUL-terminated string or NULL. */
const char *db_col_text(sqlite3_stmt *, int);
/* Binds a string or NULL. */
void	 db_bind_text(sqlite3_stmt *, int, const char *);
/* Binds an int64, or NULL when has is 0. */
void	 db_bind_opt_int(sqlite3_stmt *, int, int has, int64_t);

/* An allocated LIKE pattern matching q anywhere (ESCAPE '\\'), or NULL for empty q. */
char	*db_like_contains(const char *q);

#endif
