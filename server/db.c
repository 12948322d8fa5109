/* db.c -- the store: one SQLite writer connection on the loop thread.
 *
 * Debian's SQLite 3.40 has a WAL-reset bug with concurrent writers, so all
 * writes go through this one connection, in BEGIN IMMEDIATE transactions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define STMT_CACHE_SIZE	512

static sqlite3	*db;
static struct {
	const char	*sql;
	sqlite3_stmt	*stmt;
} stmt_cache[STMT_CACHE_SIZE];

sqlite3 *
db_handle(void)
{
	return db;
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

int
db_open(const char *path, int synchronous_full, char **cause)
{
	char	*err = NULL, *pragmas;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	pragmas = xasprintf("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
	    "PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY;",
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

void
db_close(void)
{
	size_t	i;

	for (i = 0; i < STMT_CACHE_SIZE; i++) {
		if (stmt_cache[i].stmt != NULL)
			sqlite3_finalize(stmt_cache[i].stmt);
		stmt_cache[i].sql = NULL;
		stmt_cache[i].stmt = NULL;
	}
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
			return st;
		}
	}
	log_err("statement cache full");
	abort();
}

int
db_begin(void)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_err("BEGIN: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int
db_commit(void)
{
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_err("COMMIT: %s", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void
db_rollback(void)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int
db_step_done(sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW &&
	    rc != SQLITE_CONSTRAINT && (rc & 0xff) != SQLITE_CONSTRAINT)
		log_err("sqlite: %s", sqlite3_errmsg(db));
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
