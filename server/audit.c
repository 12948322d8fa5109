/* audit.c -- the append-only, hash-chained audit log. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "db.h"
#include "log.h"
#include "ops.h"
#include "util.h"

static void
hash_int(crypto_generichash_state *st, int64_t v)
{
	unsigned char	b[8];
	int		i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	crypto_generichash_update(st, b, sizeof b);
}

static void
hash_text(crypto_generichash_state *st, const char *s)
{
	if (s == NULL) {
		hash_int(st, -1);
		return;
	}
	hash_int(st, (int64_t)strlen(s));
	crypto_generichash_update(st, (const unsigned char *)s, strlen(s));
}

void
audit_hash(const unsigned char *prev, int64_t id, const struct audit_entry *e,
    unsigned char *out)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, NULL, 0, AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, prev, AUDIT_HASH_BYTES);
	hash_int(&st, id);
	hash_int(&st, e->ts);
	hash_int(&st, e->actor_id);
	hash_text(&st, e->actor_role);
	hash_text(&st, e->action);
	hash_int(&st, e->patient_id);
	hash_text(&st, e->target);
	hash_text(&st, e->detail);
	hash_text(&st, e->addr);
	crypto_generichash_final(&st, out, AUDIT_HASH_BYTES);
}

int
audit_append(const struct audit_entry *e)
{
	static const char *last_sql = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1";
	static const char *ins_sql = "INSERT INTO audit (id, ts, actor_id, "
	    "actor_role, action, patient_id, target, detail, addr, prev_hash, hash) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	unsigned char	 prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	sqlite3_stmt	*st;
	int64_t		 id = 1;

	/* Read the head from the table, not memory: a rolled-back
	 * transaction must not leave the chain pointing at a ghost row. */
	memset(prev, 0, sizeof prev);
	st = db_prepare(last_sql);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0) + 1;
		if (sqlite3_column_bytes(st, 1) == AUDIT_HASH_BYTES)
			memcpy(prev, sqlite3_column_blob(st, 1), AUDIT_HASH_BYTES);
	}
	sqlite3_reset(st);
	audit_hash(prev, id, e, hash);

	st = db_prepare(ins_sql);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, e->ts);
	db_bind_opt_int(st, 3, e->actor_id != 0, e->actor_id);
	db_bind_text(st, 4, e->actor_role);
	db_bind_text(st, 5, e->action);
	db_bind_opt_int(st, 6, e->patient_id != 0, e->patient_id);
	db_bind_text(st, 7, e->target);
	db_bind_text(st, 8, e->detail);
	db_bind_text(st, 9, e->addr);
	sqlite3_bind_blob(st, 10, prev, sizeof prev, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 11, hash, sizeof hash, SQLITE_TRANSIENT);
	if (db_step_done(st) != SQLITE_DONE) {
		log_err("audit append failed for %s", e->action);
		return -1;
	}
	return 0;
}

/*
 * The walk itself, on the connection given, in the read transaction the
 * caller opened: one snapshot.
 */
static int
audit_verify_on(sqlite3 *h, int64_t *rows, int64_t *first_broken)
{
	static const char *sql = "SELECT id, ts, actor_id, actor_role, action, "
	    "patient_id, target, detail, addr, prev_hash, hash FROM audit ORDER BY id";
	unsigned char		 prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	struct audit_entry	 e;
	sqlite3_stmt		*st;
	int64_t			 id, expect_id = 0;
	int			 rc;

	*rows = 0;
	*first_broken = 0;
	memset(prev, 0, sizeof prev);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		e.ts = sqlite3_column_int64(st, 1);
		e.actor_id = sqlite3_column_int64(st, 2);
		e.actor_role = db_col_text(st, 3);
		e.action = db_col_text(st, 4);
		e.patient_id = sqlite3_column_int64(st, 5);
		e.target = db_col_text(st, 6);
		e.detail = db_col_text(st, 7);
		e.addr = db_col_text(st, 8);
		(*rows)++;
		/* A gap in the ids is a deleted row. */
		if (expect_id != 0 && id != expect_id) {
			*first_broken = id;
			break;
		}
		expect_id = id + 1;
		audit_hash(prev, id, &e, hash);
		if (sqlite3_column_bytes(st, 9) != AUDIT_HASH_BYTES ||
		    sodium_memcmp(sqlite3_column_blob(st, 9), prev, AUDIT_HASH_BYTES) != 0 ||
		    sqlite3_column_bytes(st, 10) != AUDIT_HASH_BYTES ||
		    sodium_memcmp(sqlite3_column_blob(st, 10), hash, AUDIT_HASH_BYTES) != 0) {
			*first_broken = id;
			break;
		}
		memcpy(prev, hash, sizeof prev);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return 0;
}

int
audit_verify_file(const char *db_path, int64_t *rows, int64_t *first_broken,
    char **cause)
{
	sqlite3	*h = NULL;
	int	 rc = -1;

	/* Read-write without CREATE, as the backup opens it: a WAL reader
	 * may need to set up the -shm; nothing is written. */
	if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", db_path,
		    h != NULL ? sqlite3_errmsg(h) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    audit_verify_on(h, rows, first_broken) != 0) {
		*cause = xasprintf("%s: %s", db_path, sqlite3_errmsg(h));
		goto out;
	}
	rc = 0;
out:
	if (h != NULL) {
		sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(h);
	}
	return rc;
}

void
audit_req(struct req *r, const char *action, int64_t patient_id,
    const char *target, const char *detail_fmt, ...)
{
	struct audit_entry	 e;
	char			*detail = NULL;
	va_list			 ap;
	int			 own, failed = 0;

	if (detail_fmt != NULL) {
		va_start(ap, detail_fmt);
		detail = xvasprintf(detail_fmt, ap);
		va_end(ap);
	}
	e.ts = r->now;
	e.actor_id = req_user_id(r);
	e.actor_role = e.actor_id != 0 ? role_name(req_role(r)) : NULL;
	e.action = action;
	e.patient_id = patient_id;
	e.target = target;
	e.detail = detail;
	e.addr = req_addr(r);
	/*
	 * The row goes in with the change it records, in the request's
	 * write: if it cannot, the change must not commit either. A read has
	 * no write of its own: the row gets one, so the reply waits for the
	 * row to be on disk (held with the batch) and says `unavailable` if
	 * it never gets there. Either way a failure fails the request: no
	 * data leaves and nothing changes unaudited.
	 */
	own = !db_in_write();
	if (own && db_begin() != 0)
		failed = 1;
	else if (audit_append(&e) != 0) {
		failed = 1;
		if (own)
			db_rollback();
		else
			db_doom();
	} else if (own && db_commit() != 0)
		failed = 1;
	if (failed)
		r->audit_failed = 1;
	free(detail);
}

/*
 * In the form (?N IS NULL OR column = ?N), which lets one statement serve
 * every combination, no index can serve a filter: audit.list walked the
 * table from its newest row until its page was full, the whole log (tens of
 * millions of rows in a big clinic) for a patient with a few. Each leading
 * filter is its own statement, on its own index, whose entries are (column,
 * id): walked from (value, ?6) down, newest first, no sort.
 */
#define AUDIT_LIST_COLUMNS "SELECT id, ts, actor_id, actor_role, action, " \
	"patient_id, target, detail, addr FROM audit "
#define AUDIT_LIST_REST "(?1 IS NULL OR actor_id = ?1) AND " \
	"(?2 IS NULL OR action = ?2) AND (?3 IS NULL OR patient_id = ?3) AND " \
	"(?4 IS NULL OR ts >= ?4) AND (?5 IS NULL OR ts < ?5) AND id < ?6 " \
	"ORDER BY id DESC LIMIT ?7"

const char *
audit_list_sql(int by_user, int by_action, int by_patient)
{
	static const char *const by_patient_sql = AUDIT_LIST_COLUMNS
	    "INDEXED BY audit_patient WHERE patient_id = ?3 AND " AUDIT_LIST_REST;
	static const char *const by_user_sql = AUDIT_LIST_COLUMNS
	    "INDEXED BY audit_actor WHERE actor_id = ?1 AND " AUDIT_LIST_REST;
	static const char *const by_action_sql = AUDIT_LIST_COLUMNS
	    "INDEXED BY audit_action WHERE action = ?2 AND " AUDIT_LIST_REST;
	static const char *const all_sql = AUDIT_LIST_COLUMNS
	    "WHERE " AUDIT_LIST_REST;

	/* A patient's rows are the fewest; then a user's; then an action's. */
	if (by_patient)
		return by_patient_sql;
	if (by_user)
		return by_user_sql;
	if (by_action)
		return by_action_sql;
	return all_sql;
}
