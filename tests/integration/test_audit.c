/* test_audit.c -- what leaves audit rows, and that the hash chain catches
 * tampering done behind the server's back: the test opens the live database
 * (WAL mode, the server keeps running) with its own SQLite connection.
 * The tampering tests run last and in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "util.h"

static struct tsrv	srv;

static int
group_setup(void **state)
{
	(void)state;
	srv_start(&srv, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	return 0;
}

/* The entries of one action (newest first), borrowed from c's reply. */
static json_t *
entries_of(struct tcli *admin, const char *action)
{
	return json_object_get(call_ok(admin, "audit.list", "{s:s, s:i}",
	    "action", action, "limit", 500), "entries");
}

/* How many entries in the list have this target. */
static size_t
count_target(json_t *entries, const char *target)
{
	json_t	*e;
	size_t	 i, n = 0;

	json_array_foreach(entries, i, e) {
		if (jstr(e, "target") != NULL && strcmp(jstr(e, "target"), target) == 0)
			n++;
	}
	return n;
}

/* The first entry with this target (a copy the caller releases), or NULL. */
static json_t *
find_target(json_t *entries, const char *target)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(entries, i, e) {
		if (jstr(e, "target") != NULL && strcmp(jstr(e, "target"), target) == 0)
			return json_deep_copy(e);
	}
	return NULL;
}

static sqlite3 *
db_open_side(void)
{
	sqlite3	*db = NULL;

	assert_int_equal(sqlite3_open_v2(srv.db_path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		print_error("%s: %s\n", sql, err != NULL ? err : "?");
		sqlite3_free(err);
		fail();
	}
}

/* audit.verify: 1 if intact; *broken gets first_broken_id (0 for none). */
static int
verify(struct tcli *admin, int64_t *rows, int64_t *broken)
{
	json_t	*res = call_ok(admin, "audit.verify", NULL);

	*rows = jint(res, "rows");
	*broken = json_is_null(jpath(res, "first_broken_id")) ? 0 :
	    jint(res, "first_broken_id");
	assert_true(json_is_boolean(jpath(res, "ok")));
	if (json_is_true(jpath(res, "ok")))
		assert_int_equal(*broken, 0);
	return json_is_true(jpath(res, "ok"));
}

/* --- what gets audited --- */

static void
test_logins_failures_and_lockouts_leave_audit_rows(void **state)
{
	struct tcli	 admin, c;
	json_t		*row, *list;
	char		*email = unique_email("audited");
	int64_t		 uid;
	size_t		 j;
	int		 i;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	cli_open(&c, &srv);
	uid = jint(call_ok(&c, "auth.register", "{s:s, s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD, "full_name", "Audited Person"), "user.id");
	free(cli_login(&c, email, STRONG_PASSWORD));
	call_ok(&c, "auth.logout", NULL);
	for (i = 0; i < 5; i++)
		call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}",
		    "email", email, "password", "not-the-password");

	assert_int_equal(count_target(entries_of(&admin, "auth.register"), email), 1);
	row = find_target(entries_of(&admin, "auth.login"), email);
	assert_non_null(row);
	assert_int_equal(jint(row, "actor_id"), uid);
	assert_jstr(row, "actor_role", "patient");
	assert_jstr(row, "addr", "127.0.0.1");
	assert_true(jint(row, "ts") > 0);
	json_decref(row);
	assert_int_equal(count_target(entries_of(&admin, "auth.login"), email), 1);
	assert_int_equal(count_target(entries_of(&admin, "auth.login_failed"),
	    email), 5);
	row = find_target(entries_of(&admin, "auth.login_failed"), email);
	assert_true(json_is_null(jpath(row, "actor_id")));
	json_decref(row);
	row = find_target(entries_of(&admin, "auth.lockout"), email);
	assert_non_null(row);
	assert_non_null(strstr(jstr(row, "detail"), "900"));
	json_decref(row);
	/* The logout is the user's own. */
	list = entries_of(&admin, "auth.logout");
	json_array_foreach(list, j, row) {
		if (jint(row, "actor_id") == uid)
			break;
	}
	assert_true(j < json_array_size(list));

	/* Unknown addresses leave a failure row too. */
	{
		char	*nobody = unique_email("nobody");

		call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}",
		    "email", nobody, "password", "not-the-password");
		assert_int_equal(count_target(entries_of(&admin,
		    "auth.login_failed"), nobody), 1);
		free(nobody);
	}
	cli_close(&c);
	cli_close(&admin);
	free(email);
}

static void
test_user_changes_leave_audit_rows(void **state)
{
	struct tcli	 admin;
	json_t		*row;
	char		*email = unique_email("changed");
	int64_t		 id, admin_id;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	admin_id = jint(call_ok(&admin, "auth.me", NULL), "user.id");
	id = jint(call_ok(&admin, "users.create", "{s:s, s:s, s:s, s:s}",
	    "email", email, "full_name", "Changed", "role", "doctor",
	    "password", STRONG_PASSWORD), "user.id");
	call_ok(&admin, "users.update", "{s:I, s:s}", "id", (json_int_t)id,
	    "role", "receptionist");
	call_ok(&admin, "users.reset_password", "{s:I, s:s}", "id", (json_int_t)id,
	    "password", STRONG_PASSWORD2);
	call_ok(&admin, "users.deactivate", "{s:I}", "id", (json_int_t)id);

	row = find_target(entries_of(&admin, "users.create"), email);
	assert_non_null(row);
	assert_int_equal(jint(row, "actor_id"), admin_id);
	assert_jstr(row, "actor_role", "admin");
	assert_non_null(strstr(jstr(row, "detail"), "doctor"));
	json_decref(row);
	row = find_target(entries_of(&admin, "users.update"), email);
	assert_non_null(row);
	assert_non_null(strstr(jstr(row, "detail"), "role"));
	json_decref(row);
	assert_int_equal(count_target(entries_of(&admin, "users.reset_password"),
	    email), 1);
	assert_int_equal(count_target(entries_of(&admin, "users.deactivate"),
	    email), 1);
	/* Failed attempts write nothing. */
	call_err(&admin, "users.create", "conflict", "{s:s, s:s, s:s}",
	    "email", email, "full_name", "Again", "role", "doctor");
	assert_int_equal(count_target(entries_of(&admin, "users.create"), email), 1);
	cli_close(&admin);
	free(email);
}

static void
test_denied_access_leaves_audit_row(void **state)
{
	struct tcli	 admin, c;
	json_t		*e, *list;
	int64_t		 patient_id;
	size_t		 i, n = 0;

	(void)state;
	cli_open_as(&c, &srv, DEMO_PATIENT);
	patient_id = jint(call_ok(&c, "auth.me", NULL), "user.id");
	call_err(&c, "audit.verify", "forbidden", NULL);
	cli_close(&c);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	list = entries_of(&admin, "access.denied");
	json_array_foreach(list, i, e) {
		if (jint(e, "actor_id") == patient_id &&
		    strcmp(jstr(e, "target"), "audit.verify") == 0)
			n++;
	}
	assert_int_equal(n, 1);
	cli_close(&admin);
}

static void
test_audit_list_filters_by_user_and_pages(void **state)
{
	struct tcli	 admin;
	json_t		*res, *e;
	int64_t		 admin_id, first_id;
	size_t		 i;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	admin_id = jint(call_ok(&admin, "auth.me", NULL), "user.id");
	res = call_ok(&admin, "audit.list", "{s:I}", "user_id", (json_int_t)admin_id);
	assert_true(json_array_size(json_object_get(res, "entries")) > 0);
	json_array_foreach(json_object_get(res, "entries"), i, e)
		assert_int_equal(jint(e, "actor_id"), admin_id);

	/* Newest first; before_id continues below the last one seen. */
	res = call_ok(&admin, "audit.list", "{s:i}", "limit", 2);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 2);
	first_id = jint(res, "entries.0.id");
	assert_true(jint(res, "entries.1.id") < first_id);
	res = call_ok(&admin, "audit.list", "{s:I, s:i}", "before_id",
	    (json_int_t)first_id, "limit", 1);
	assert_int_equal(jint(res, "entries.0.id"), first_id - 1);
	res = call_ok(&admin, "audit.list", "{s:i}", "before_id", 1);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 0);
	/* The seed row is the first. */
	res = call_ok(&admin, "audit.list", "{s:i, s:s}", "before_id", 2,
	    "action", "demo.seed");
	assert_int_equal(jint(res, "entries.0.id"), 1);
	cli_close(&admin);
}

/* --- the hash chain --- */

static void
test_audit_verify_ok_on_fresh_chain(void **state)
{
	struct tcli	 admin;
	int64_t		 rows, broken, head;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	assert_true(verify(&admin, &rows, &broken));
	head = jint(call_ok(&admin, "audit.list", "{s:i}", "limit", 1),
	    "entries.0.id");
	assert_int_equal(rows, head);
	cli_close(&admin);
}

static void
test_audit_update_and_delete_fail_while_triggers_stand(void **state)
{
	sqlite3		*db = db_open_side();
	struct tcli	 admin;
	int64_t		 rows, broken;

	(void)state;
	assert_int_not_equal(sqlite3_exec(db,
	    "UPDATE audit SET detail = 'edited' WHERE id = 2", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE id = 2",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
	sqlite3_close(db);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	assert_true(verify(&admin, &rows, &broken));
	cli_close(&admin);
}

static void
test_audit_verify_finds_edited_row(void **state)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	struct tcli	 admin;
	char		*saved = NULL, *sql;
	int64_t		 rows, broken, mid;
	int		 was_null;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	assert_true(verify(&admin, &rows, &broken));
	assert_true(rows >= 10);
	mid = rows / 2;

	db = db_open_side();
	db_exec(db, "DROP TRIGGER audit_no_update");
	assert_int_equal(sqlite3_prepare_v2(db,
	    "SELECT detail FROM audit WHERE id = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, mid);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	was_null = sqlite3_column_type(st, 0) == SQLITE_NULL;
	if (!was_null)
		saved = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sql = xasprintf("UPDATE audit SET detail = 'nothing to see' WHERE id = %lld",
	    (long long)mid);
	db_exec(db, sql);
	free(sql);

	assert_false(verify(&admin, &rows, &broken));
	assert_int_equal(broken, mid);

	/* Put it back exactly and the chain holds again. */
	assert_int_equal(sqlite3_prepare_v2(db,
	    "UPDATE audit SET detail = ? WHERE id = ?", -1, &st, NULL), SQLITE_OK);
	if (was_null)
		sqlite3_bind_null(st, 1);
	else
		sqlite3_bind_text(st, 1, saved, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, mid);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_true(verify(&admin, &rows, &broken));

	/* Another field of another row: the time. */
	sql = xasprintf("UPDATE audit SET ts = ts - 3600 WHERE id = %lld",
	    (long long)(mid + 1));
	db_exec(db, sql);
	free(sql);
	assert_false(verify(&admin, &rows, &broken));
	assert_int_equal(broken, mid + 1);
	sql = xasprintf("UPDATE audit SET ts = ts + 3600 WHERE id = %lld",
	    (long long)(mid + 1));
	db_exec(db, sql);
	free(sql);
	assert_true(verify(&admin, &rows, &broken));
	db_exec(db, "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
	    "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END");
	sqlite3_close(db);
	cli_close(&admin);
	free(saved);
}

static void
test_audit_verify_finds_forged_and_deleted_rows(void **state)
{
	sqlite3		*db;
	struct tcli	 admin;
	char		*sql;
	int64_t		 rows, broken, last, mid;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	assert_true(verify(&admin, &rows, &broken));
	last = rows;
	mid = rows / 2;
	db = db_open_side();
	db_exec(db, "DROP TRIGGER audit_no_delete");

	/* A row appended by hand cannot carry a valid hash. */
	sql = xasprintf("INSERT INTO audit (id, ts, action, prev_hash, hash) "
	    "SELECT %lld, ts, 'auth.login', hash, randomblob(32) FROM audit "
	    "WHERE id = %lld", (long long)(last + 1), (long long)last);
	db_exec(db, sql);
	free(sql);
	assert_false(verify(&admin, &rows, &broken));
	assert_int_equal(broken, last + 1);
	sql = xasprintf("DELETE FROM audit WHERE id = %lld", (long long)(last + 1));
	db_exec(db, sql);
	free(sql);
	assert_true(verify(&admin, &rows, &broken));

	/* A row taken out of the middle breaks the link of the next one. */
	sql = xasprintf("DELETE FROM audit WHERE id = %lld", (long long)mid);
	db_exec(db, sql);
	free(sql);
	assert_false(verify(&admin, &rows, &broken));
	assert_int_equal(broken, mid + 1);
	sqlite3_close(db);

	/* The server keeps working, and keeps reporting the break. */
	call_ok(&admin, "users.update", "{s:i, s:s}", "id", 1, "full_name",
	    "Alex Morgan");
	assert_false(verify(&admin, &rows, &broken));
	assert_int_equal(broken, mid + 1);
	cli_close(&admin);
}

static int64_t
count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/*
 * No change commits and no patient data leaves without its audit row: with
 * the audit insert failing (a trigger on the live database refuses the rows
 * of patients.create and patients.get), patients.create answers
 * `unavailable` and leaves no patient behind, and patients.get answers
 * `unavailable` with no record in it. Once the audit takes rows again, both
 * work and the chain verifies. (Audit failures were once logged and ignored:
 * the change committed without its row.)
 */
static void
test_no_change_or_read_goes_unaudited(void **state)
{
	struct tcli	 desk, admin;
	sqlite3		*db = db_open_side();
	json_t		*res;
	int64_t		 patients, rows, broken;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	patients = count_rows(db, "SELECT count(*) FROM patients");
	db_exec(db, "CREATE TRIGGER audit_refuses BEFORE INSERT ON audit "
	    "WHEN NEW.action IN ('patients.create', 'patients.get') "
	    "BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END");
	call_err(&desk, "patients.create", "unavailable", "{s:s}",
	    "full_name", "Nobody Audited");
	assert_int_equal(count_rows(db, "SELECT count(*) FROM patients"), patients);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM patients "
	    "WHERE full_name = 'Nobody Audited'"), 0);
	res = call_err(&desk, "patients.get", "unavailable", "{s:I}", "id",
	    (json_int_t)1);
	assert_null(json_object_get(res, "patient"));
	db_exec(db, "DROP TRIGGER audit_refuses");
	call_ok(&desk, "patients.get", "{s:I}", "id", (json_int_t)1);
	call_ok(&desk, "patients.create", "{s:s}", "full_name",
	    "Somebody Audited");
	assert_int_equal(count_rows(db, "SELECT count(*) FROM patients"),
	    patients + 1);
	assert_true(verify(&admin, &rows, &broken));
	assert_int_equal(broken, 0);
	sqlite3_close(db);
	cli_close(&desk);
	cli_close(&admin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logins_failures_and_lockouts_leave_audit_rows),
		cmocka_unit_test(test_user_changes_leave_audit_rows),
		cmocka_unit_test(test_denied_access_leaves_audit_row),
		cmocka_unit_test(test_audit_list_filters_by_user_and_pages),
		cmocka_unit_test(test_audit_verify_ok_on_fresh_chain),
		cmocka_unit_test(test_audit_update_and_delete_fail_while_triggers_stand),
		cmocka_unit_test(test_no_change_or_read_goes_unaudited),
		/* These tamper with the database: keep them last, in this order. */
		cmocka_unit_test(test_audit_verify_finds_edited_row),
		cmocka_unit_test(test_audit_verify_finds_forged_and_deleted_rows),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
