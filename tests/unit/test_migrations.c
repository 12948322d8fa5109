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

#include <cmocka.h>
#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "util.h"

static sqlite3	*h;

static int	 exec(const char *, char **);
static int	 query_int(const char *);
static int	 table_exists(const char *);
static int	 last_version(void);
static void	 migrate_all(void);

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
	};

	/* Not the "applied migration" lines. */
	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
