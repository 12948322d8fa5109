/* test_migrations.c -- the schema migrations against an in-memory SQLite:
 * versions, idempotence, the audit log's append-only triggers, CHECKs, and
 * a broken migration that must leave nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "appointments.h"
#include "db.h"
#include "log.h"
#include "util.h"

static sqlite3	*h;

static int	 exec(const char *, char **);
static int	 query_int(const char *);
static int	 table_exists(const char *);
static int	 last_version(void);
static void	 migrate_all(void);
static int	 uses_ephemeral_table(sqlite3 *, const char *);
static int	 prepares(const char *);
static int	 plan_says(const char *, const char *);
static char	*schema_sql(const char *);

static int
setup(void **state)
{
	(void)state;
	if (sqlite3_open(":memory:", &h) != SQLITE_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sqlite3_close(h);
	h = NULL;
	return 0;
}

/* A store in a file, for tests with a second connection to it. */
static char	dir[256], path[300];

static int
setup_file(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof dir, "%s/mediflow-migrations-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/store.db", dir);
	return sqlite3_open(path, &h) == SQLITE_OK ? 0 : -1;
}

static int
teardown_file(void **state)
{
	char	p[320];

	teardown(state);
	unlink(path);
	snprintf(p, sizeof p, "%s-journal", path);
	unlink(p);
	rmdir(dir);
	return 0;
}

/* Runs sql; 0 or the SQLite error, with its message in *msg (freed by the caller). */
static int
exec(const char *sql, char **msg)
{
	char	*err = NULL;
	int	 rc;

	rc = sqlite3_exec(h, sql, NULL, NULL, &err);
	if (msg != NULL)
		*msg = err != NULL ? xstrdup(err) : NULL;
	sqlite3_free(err);
	return rc == SQLITE_OK ? 0 : rc;
}

static int
query_int(const char *sql)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
table_exists(const char *name)
{
	sqlite3_stmt	*st;
	int		 found;

	assert_int_equal(sqlite3_prepare_v2(h, "SELECT 1 FROM sqlite_master "
	    "WHERE type = 'table' AND name = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static int
last_version(void)
{
	assert_true(migrations_count > 0);
	return migrations[migrations_count - 1].version;
}

static void
migrate_all(void)
{
	char	*cause = NULL;

	if (db_migrate(h, migrations, migrations_count, &cause) != 0) {
		print_error("migrate: %s\n", cause);
		free(cause);
		fail();
	}
}

/* 1 if SQLite's program for sql builds a temporary b-tree (OpenEphemeral). */
static int
uses_ephemeral_table(sqlite3 *conn, const char *sql)
{
	sqlite3_stmt	*st;
	char		*explain = xasprintf("EXPLAIN %s", sql);
	int		 found = 0;

	assert_int_equal(sqlite3_prepare_v2(conn, explain, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (strcmp((const char *)sqlite3_column_text(st, 1),
		    "OpenEphemeral") == 0)
			found = 1;
	}
	sqlite3_finalize(st);
	free(explain);
	return found;
}

/* 1 if sql prepares (INDEXED BY refuses a partial index the WHERE does not
 * show to apply). */
static int
prepares(const char *sql)
{
	sqlite3_stmt	*st = NULL;
	int		 rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);

	sqlite3_finalize(st);
	return rc == SQLITE_OK;
}

/* 1 if the query plan of sql says what. */
static int
plan_says(const char *sql, const char *what)
{
	sqlite3_stmt	*st;
	char		*explain = xasprintf("EXPLAIN QUERY PLAN %s", sql);
	int		 found = 0;

	assert_int_equal(sqlite3_prepare_v2(h, explain, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (strstr((const char *)sqlite3_column_text(st, 3), what) != NULL)
			found = 1;
	}
	sqlite3_finalize(st);
	free(explain);
	return found;
}

/* The CREATE statement of a table or index, as stored (the caller frees). */
static char *
schema_sql(const char *name)
{
	sqlite3_stmt	*st;
	char		*sql = NULL;

	assert_int_equal(sqlite3_prepare_v2(h, "SELECT sql FROM sqlite_schema "
	    "WHERE name = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		sql = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_non_null(sql);
	return sql;
}

static void
test_migrations_are_numbered_in_order(void **state)
{
	size_t	i;
	char	prefix[16];

	(void)state;
	for (i = 0; i < migrations_count; i++) {
		assert_true(migrations[i].version > 0);
		if (i > 0)
			assert_true(migrations[i].version > migrations[i - 1].version);
		/* The name is the file's: NNN_what. */
		snprintf(prefix, sizeof prefix, "%03d_", migrations[i].version);
		assert_int_equal(strncmp(migrations[i].name, prefix, strlen(prefix)), 0);
		assert_non_null(migrations[i].sql);
	}
}

static void
test_migrate_sets_user_version_to_the_last(void **state)
{
	(void)state;
	assert_int_equal(db_user_version(h), 0);
	migrate_all();
	assert_int_equal(db_user_version(h), last_version());
	assert_true(table_exists("users"));
	assert_true(table_exists("sessions"));
	assert_true(table_exists("audit"));
	/* Still in autocommit: no transaction left open. */
	assert_int_equal(sqlite3_get_autocommit(h), 1);
}

static void
test_migrate_twice_applies_nothing(void **state)
{
	int	schema;

	(void)state;
	migrate_all();
	schema = query_int("PRAGMA schema_version");
	migrate_all();
	assert_int_equal(query_int("PRAGMA schema_version"), schema);
	assert_int_equal(db_user_version(h), last_version());
}

static void
test_migrate_applies_only_the_pending(void **state)
{
	char	*cause = NULL;
	int	 schema;

	(void)state;
	if (migrations_count < 2)
		skip();
	/* An older store: only the first migration applied. */
	assert_int_equal(db_migrate(h, migrations, 1, &cause), 0);
	assert_int_equal(db_user_version(h), migrations[0].version);
	assert_true(table_exists("users"));
	assert_false(table_exists("appointments"));
	schema = query_int("PRAGMA schema_version");
	migrate_all();
	assert_true(query_int("PRAGMA schema_version") > schema);
	assert_int_equal(db_user_version(h), last_version());
	assert_true(table_exists("appointments"));
}

static void
test_audit_refuses_update_and_delete(void **state)
{
	char	*msg = NULL;

	(void)state;
	migrate_all();
	assert_int_equal(exec("INSERT INTO audit (id, ts, action, prev_hash, hash) "
	    "VALUES (1, 1000, 'test', x'00', x'01')", NULL), 0);
	assert_int_not_equal(exec("UPDATE audit SET action = 'forged' WHERE id = 1",
	    &msg), 0);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "append-only"));
	free(msg);
	assert_int_not_equal(exec("DELETE FROM audit WHERE id = 1", &msg), 0);
	assert_non_null(strstr(msg, "append-only"));
	free(msg);
	assert_int_not_equal(exec("DELETE FROM audit", NULL), 0);
	assert_int_equal(query_int("SELECT count(*) FROM audit"), 1);
	assert_int_equal(query_int("SELECT action = 'test' FROM audit"), 1);
	/* Appending still works. */
	assert_int_equal(exec("INSERT INTO audit (id, ts, action, prev_hash, hash) "
	    "VALUES (2, 1001, 'next', x'01', x'02')", NULL), 0);
}

static void
test_users_role_check_refuses_unknown_roles(void **state)
{
	static const char *const good[] = { "patient", "doctor", "receptionist", "admin" };
	char	 sql[256];
	size_t	 i;

	(void)state;
	migrate_all();
	for (i = 0; i < nitems(good); i++) {
		snprintf(sql, sizeof sql, "INSERT INTO users (email, full_name, role, "
		    "password_hash, created_at, updated_at) VALUES "
		    "('u%zu@example.com', 'U', '%s', 'x', 1, 1)", i, good[i]);
		assert_int_equal(exec(sql, NULL), 0);
	}
	assert_int_equal(exec("INSERT INTO users (email, full_name, role, "
	    "password_hash, created_at, updated_at) VALUES "
	    "('x@example.com', 'X', 'superuser', 'x', 1, 1)", NULL), SQLITE_CONSTRAINT);
	assert_int_equal(exec("INSERT INTO users (email, full_name, role, "
	    "password_hash, created_at, updated_at) VALUES "
	    "('y@example.com', 'Y', 'Admin', 'x', 1, 1)", NULL), SQLITE_CONSTRAINT);
	assert_int_equal(exec("UPDATE users SET role = 'root'", NULL), SQLITE_CONSTRAINT);
	/* And the e-mail is unique. */
	assert_int_equal(exec("INSERT INTO users (email, full_name, role, "
	    "password_hash, created_at, updated_at) VALUES "
	    "('u0@example.com', 'Z', 'patient', 'x', 1, 1)", NULL), SQLITE_CONSTRAINT);
	assert_int_equal(query_int("SELECT count(*) FROM users"), (int)nitems(good));
}

static void
test_broken_migration_rolls_back(void **state)
{
	struct migration	*list;
	char			*cause = NULL;
	int			 schema;

	(void)state;
	migrate_all();
	schema = query_int("PRAGMA schema_version");
	list = xcalloc(migrations_count + 1, sizeof *list);
	memcpy(list, migrations, migrations_count * sizeof *list);
	list[migrations_count].version = last_version() + 1;
	list[migrations_count].name = "999_broken";
	list[migrations_count].sql = "CREATE TABLE half_done (x INTEGER);\n"
	    "INSERT INTO half_done VALUES (1);\n"
	    "THIS IS NOT SQL;\n";
	assert_int_equal(db_migrate(h, list, migrations_count + 1, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "999_broken"));
	free(cause);
	assert_int_equal(db_user_version(h), last_version());
	assert_false(table_exists("half_done"));
	assert_int_equal(query_int("PRAGMA schema_version"), schema);
	assert_int_equal(sqlite3_get_autocommit(h), 1);
	free(list);
}

static void
test_broken_migration_keeps_the_good_ones_before_it(void **state)
{
	static const struct migration	list[] = {
		{ 1, "001_one", "CREATE TABLE one (x);" },
		{ 2, "002_two", "CREATE TABLE two (x); INSERT INTO nowhere VALUES (1);" },
		{ 3, "003_three", "CREATE TABLE three (x);" },
	};
	char				*cause = NULL;

	(void)state;
	assert_int_equal(db_migrate(h, list, nitems(list), &cause), -1);
	assert_non_null(strstr(cause, "002_two"));
	free(cause);
	assert_int_equal(db_user_version(h), 1);
	assert_true(table_exists("one"));
	assert_false(table_exists("two"));
	assert_false(table_exists("three"));
	/* Fixed, it resumes where it stopped. */
	{
		struct migration	fixed[3];

		memcpy(fixed, list, sizeof fixed);
		fixed[1].sql = "CREATE TABLE two (x);";
		assert_int_equal(db_migrate(h, fixed, nitems(fixed), &cause), 0);
		assert_int_equal(db_user_version(h), 3);
		assert_true(table_exists("two"));
		assert_true(table_exists("three"));
	}
}

#define APPT_INSERT(id, doctor, start, status) "INSERT INTO appointments " \
	"(id, doctor_id, patient_id, starts_at, ends_at, status, created_at, " \
	"updated_at) VALUES (" #id ", " #doctor ", 1, " #start ", " #start " + 1200, '" \
	status "', 1, 1)"

/*
 * 014: the status lists of appointments and reminders are equalities now,
 * which SQLite compares in place; they still refuse what they refused, and
 * the queries written with APPT_ACTIVE_SQL still use the partial index.
 */
static void
test_status_checks_refuse_bad_values_without_temporary_tables(void **state)
{
	static const char *const statuses[] = { "requested", "approved",
	    "rejected", "cancelled", "checked_in", "in_progress", "completed",
	    "no_show", "rescheduled" };
	static const char *const states[] = { "pending", "sending", "sent",
	    "retry", "failed", "skipped" };
	char	 sql[512], *text;
	size_t	 i;

	(void)state;
	migrate_all();
	text = schema_sql("appointments");
	assert_null(strstr(text, "status IN"));
	assert_non_null(strstr(text, "status = 'rescheduled'"));
	free(text);
	text = schema_sql("appointments_active_slot");
	assert_null(strstr(text, "IN ("));
	free(text);
	text = schema_sql("reminders");
	assert_null(strstr(text, "state IN"));
	free(text);
	assert_int_equal(query_int("PRAGMA writable_schema"), 0);

	/* A booking's insert, a status change, a reminder's: no b-tree of
	 * constants built at each run. */
	assert_false(uses_ephemeral_table(h, "INSERT INTO appointments (doctor_id, "
	    "patient_id, starts_at, ends_at, status, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)"));
	assert_false(uses_ephemeral_table(h, "UPDATE appointments SET status = ? "
	    "WHERE id = ? AND status = ?"));
	assert_false(uses_ephemeral_table(h, "INSERT INTO reminders (appointment_id, "
	    "kind, channel, due_at, state, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, 'pending', ?, ?)"));
	assert_false(uses_ephemeral_table(h, "UPDATE reminders SET state = ? "
	    "WHERE id = ?"));
	/* APPT_ACTIVE_SQL is the index's WHERE: SQLite may use the index
	 * for a query that says it (and for none that does not). */
	snprintf(sql, sizeof sql, "SELECT id FROM appointments INDEXED BY "
	    "appointments_active_slot WHERE doctor_id = ?1 AND starts_at > ?2 - "
	    "86400 AND starts_at < ?3 AND ends_at > ?2 AND %s LIMIT 1",
	    APPT_ACTIVE_SQL);
	assert_true(prepares(sql));
	assert_false(uses_ephemeral_table(h, sql));
	assert_false(prepares("SELECT id FROM appointments INDEXED BY "
	    "appointments_active_slot WHERE doctor_id = 1 AND status IN "
	    "('requested', 'approved', 'checked_in', 'in_progress')"));
	/* 015: the doctor's overlap walk reads appointments_active_span
	 * alone, never the table. */
	snprintf(sql, sizeof sql, "SELECT id FROM appointments WHERE doctor_id = "
	    "?1 AND starts_at > ?2 - 86400 AND starts_at < ?3 AND ends_at > ?2 "
	    "AND %s AND id != ?4 LIMIT 1", APPT_ACTIVE_SQL);
	assert_true(plan_says(sql, "COVERING INDEX appointments_active_span"));

	/* Every status passes, anything else is refused, in both ways in. */
	for (i = 0; i < nitems(statuses); i++) {
		snprintf(sql, sizeof sql, "INSERT INTO appointments (id, doctor_id, "
		    "patient_id, starts_at, ends_at, status, created_at, updated_at) "
		    "VALUES (%zu, 1, 1, %zu, %zu, '%s', 1, 1)", i + 1,
		    1000000 + i * 3600, 1000000 + i * 3600 + 1200, statuses[i]);
		assert_int_equal(exec(sql, NULL), 0);
	}
	assert_int_equal(exec(APPT_INSERT(100, 1, 5000000, "approve"), NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(exec(APPT_INSERT(100, 1, 5000000, "APPROVED"), NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(exec(APPT_INSERT(100, 1, 5000000, ""), NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(exec("UPDATE appointments SET status = 'done' WHERE id = 2",
	    NULL), SQLITE_CONSTRAINT);
	assert_int_equal(exec("UPDATE appointments SET status = NULL WHERE id = 2",
	    NULL), SQLITE_CONSTRAINT);
	assert_int_equal(query_int("SELECT count(*) FROM appointments"),
	    (int)nitems(statuses));

	/* The partial unique index: one active booking per doctor and start;
	 * an inactive one beside it is fine. */
	assert_int_equal(exec(APPT_INSERT(200, 2, 7000000, "approved"), NULL), 0);
	assert_int_equal(exec(APPT_INSERT(201, 2, 7000000, "requested"), NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(exec(APPT_INSERT(201, 2, 7000000, "cancelled"), NULL), 0);
	assert_int_equal(exec("UPDATE appointments SET status = 'checked_in' "
	    "WHERE id = 201", NULL), SQLITE_CONSTRAINT);
	assert_int_equal(exec("UPDATE appointments SET status = 'no_show' "
	    "WHERE id = 200", NULL), 0);
	assert_int_equal(exec("UPDATE appointments SET status = 'in_progress' "
	    "WHERE id = 201", NULL), 0);

	for (i = 0; i < nitems(states); i++) {
		snprintf(sql, sizeof sql, "INSERT INTO reminders (appointment_id, "
		    "kind, channel, due_at, state, created_at, updated_at) "
		    "VALUES (1, 'manual', 'email', 1, '%s', 1, 1)", states[i]);
		assert_int_equal(exec(sql, NULL), 0);
	}
	assert_int_equal(exec("INSERT INTO reminders (appointment_id, kind, "
	    "channel, due_at, state, created_at, updated_at) VALUES (1, 'manual', "
	    "'email', 1, 'queued', 1, 1)", NULL), SQLITE_CONSTRAINT);
	assert_int_equal(exec("UPDATE reminders SET state = 'lost'", NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(query_int("SELECT count(*) FROM reminders"),
	    (int)nitems(states));
}

/*
 * A store with bookings from before 014 keeps them, and its partial indexes
 * (the one 014 rewrote, the one 015 builds) hold exactly the active ones;
 * connections opened before see the schema change (its cookie moved).
 */
static void
test_014_and_015_on_a_store_with_bookings(void **state)
{
	sqlite3		*other;
	sqlite3_stmt	*st;
	char		*cause = NULL;
	size_t		 before = 0;
	int		 schema;

	(void)state;
	while (before < migrations_count && migrations[before].version < 14)
		before++;
	assert_true(before < migrations_count);
	assert_int_equal(migrations[before].version, 14);
	assert_int_equal(db_migrate(h, migrations, before, &cause), 0);
	assert_int_equal(exec(APPT_INSERT(1, 1, 1000000, "approved") ";"
	    APPT_INSERT(2, 1, 1000000, "cancelled") ";"
	    APPT_INSERT(3, 1, 1003600, "requested") ";"
	    APPT_INSERT(4, 1, 1007200, "completed") ";"
	    APPT_INSERT(5, 2, 1000000, "in_progress") ";"
	    APPT_INSERT(6, 2, 1003600, "checked_in") ";"
	    APPT_INSERT(7, 2, 1007200, "rescheduled"), NULL), 0);
	schema = query_int("PRAGMA schema_version");

	/* A second connection, the old schema read: it sees the change. */
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_true(uses_ephemeral_table(other, APPT_INSERT(9, 3, 1, "approved")));
	migrate_all();
	assert_true(query_int("PRAGMA schema_version") > schema);
	/* Its next statement finds the cookie moved and reads the schema. */
	assert_int_equal(sqlite3_exec(other, "SELECT count(*) FROM appointments",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_false(uses_ephemeral_table(other, APPT_INSERT(9, 3, 1, "approved")));
	sqlite3_close(other);
	assert_int_equal(db_user_version(h), last_version());
	assert_false(table_exists("migration_014_schema_cookie"));

	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(query_int("SELECT count(*) FROM appointments INDEXED BY "
	    "appointments_active_slot WHERE doctor_id IN (1, 2) AND "
	    APPT_ACTIVE_SQL), 4);
	/* 015's index, built over the rows there: the active ones, each with
	 * its end. */
	assert_int_equal(query_int("SELECT count(*) FROM appointments INDEXED BY "
	    "appointments_active_span WHERE doctor_id IN (1, 2) AND "
	    APPT_ACTIVE_SQL), 4);
	assert_int_equal(query_int("SELECT sum(ends_at) FROM appointments INDEXED BY "
	    "appointments_active_span WHERE doctor_id = 2 AND " APPT_ACTIVE_SQL),
	    1000000 + 1003600 + 2 * 1200);
	assert_int_equal(query_int("SELECT count(*) FROM appointments"), 7);
	/* And the index still refuses a second active booking at 1000000. */
	assert_int_equal(exec(APPT_INSERT(8, 1, 1000000, "requested"), NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(exec(APPT_INSERT(8, 1, 1010800, "requested"), NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations_are_numbered_in_order),
		cmocka_unit_test_setup_teardown(test_migrate_sets_user_version_to_the_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_twice_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_applies_only_the_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_refuses_update_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_role_check_refuses_unknown_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_migration_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_migration_keeps_the_good_ones_before_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_checks_refuse_bad_values_without_temporary_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_014_and_015_on_a_store_with_bookings, setup_file, teardown_file),
	};

	/* Not the "applied migration" lines. */
	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
