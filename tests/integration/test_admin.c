/* test_admin.c -- the admin ops (users.*, audit.*): who may call them, what
 * they do, and that bad input changes nothing. One server for the file;
 * every test makes its own accounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "util.h"

static struct tsrv	srv;

static const char *const admin_ops[] = {
	"users.list", "users.get", "users.create", "users.update",
	"users.deactivate", "users.reset_password", "audit.list", "audit.verify",
};

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

/* Arguments an admin could send, so only the role stands in the way. */
static json_t *
plausible_args(const char *op)
{
	if (strcmp(op, "users.get") == 0 || strcmp(op, "users.deactivate") == 0 ||
	    strcmp(op, "users.reset_password") == 0)
		return json_pack("{s:i}", "id", 1);
	if (strcmp(op, "users.update") == 0)
		return json_pack("{s:i, s:s}", "id", 1, "role", "patient");
	if (strcmp(op, "users.create") == 0)
		return json_pack("{s:s, s:s, s:s}", "email", "sneaky@example.org",
		    "full_name", "Sneaky", "role", "admin");
	return json_object();
}

/* Creates an account with STRONG_PASSWORD; returns its id. */
static int64_t
create_user(struct tcli *admin, const char *email, const char *role)
{
	json_t	*res;

	res = call_ok(admin, "users.create", "{s:s, s:s, s:s, s:s}", "email", email,
	    "full_name", "Created User", "role", role, "password", STRONG_PASSWORD);
	assert_true(jint(res, "user.id") > 0);
	return jint(res, "user.id");
}

/* The newest audit row's id (0 when there is none). */
static int64_t
audit_head(struct tcli *admin)
{
	json_t	*res = call_ok(admin, "audit.list", "{s:i}", "limit", 1);

	return json_array_size(json_object_get(res, "entries")) == 0 ? 0 :
	    jint(res, "entries.0.id");
}

/* --- roles --- */

static void
test_admin_ops_forbidden_for_patient_doctor_receptionist(void **state)
{
	static const char *const who[] = { DEMO_PATIENT, DEMO_DOCTOR, DEMO_RECEPTION };
	struct tcli	c, admin;
	size_t		i, j;

	(void)state;
	for (i = 0; i < sizeof who / sizeof who[0]; i++) {
		cli_open_as(&c, &srv, who[i]);
		for (j = 0; j < sizeof admin_ops / sizeof admin_ops[0]; j++) {
			json_t	*reply = cli_call_json(&c, admin_ops[j],
			    plausible_args(admin_ops[j]));

			if (jstr(reply, "error.code") == NULL ||
			    strcmp(jstr(reply, "error.code"), "forbidden") != 0)
				print_error("%s as %s\n", admin_ops[j], who[i]);
			reply_err(reply, "forbidden");
		}
		/* Refused, not disconnected. */
		call_ok(&c, "auth.me", NULL);
		cli_close(&c);
	}
	/* Nothing happened: user 1 is still the admin, no sneaky account. */
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	assert_jstr(call_ok(&admin, "users.get", "{s:i}", "id", 1), "user.role", "admin");
	assert_int_equal(jint(call_ok(&admin, "users.list", "{s:s}", "q", "sneaky"),
	    "total"), 0);
	cli_close(&admin);
}

static void
test_admin_ops_need_login(void **state)
{
	struct tcli	c;
	size_t		j;

	(void)state;
	cli_open(&c, &srv);
	for (j = 0; j < sizeof admin_ops / sizeof admin_ops[0]; j++) {
		json_t	*reply = cli_call_json(&c, admin_ops[j],
		    plausible_args(admin_ops[j]));

		if (jstr(reply, "error.code") == NULL ||
		    strcmp(jstr(reply, "error.code"), "unauthenticated") != 0)
			print_error("%s without login\n", admin_ops[j]);
		reply_err(reply, "unauthenticated");
	}
	cli_close(&c);
}

/* --- users.create --- */

static void
test_users_create_with_password(void **state)
{
	struct tcli	 admin, c;
	json_t		*res;
	char		*email = unique_email("created");

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	res = call_ok(&admin, "users.create", "{s:s, s:s, s:s, s:s, s:s}",
	    "email", email, "full_name", "Dr. Created", "role", "doctor",
	    "password", STRONG_PASSWORD, "phone", "+44 20 7946 0000");
	assert_jstr(res, "user.email", email);
	assert_jstr(res, "user.role", "doctor");
	assert_jstr(res, "user.phone", "+44 20 7946 0000");
	assert_true(json_is_true(jpath(res, "user.active")));
	assert_null(jpath(res, "temporary_password"));
	assert_null(jpath(res, "user.password_hash"));

	cli_open(&c, &srv);
	res = call_ok(&c, "auth.login", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD);
	assert_jstr(res, "user.role", "doctor");
	cli_close(&c);
	cli_close(&admin);
	free(email);
}

static void
test_users_create_without_password_returns_usable_temporary_one(void **state)
{
	struct tcli	 admin, c;
	json_t		*res;
	char		*email = unique_email("temp"), *temp;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	res = call_ok(&admin, "users.create", "{s:s, s:s, s:s}", "email", email,
	    "full_name", "Temp Receptionist", "role", "receptionist");
	assert_jstr(res, "user.role", "receptionist");
	assert_non_null(jstr(res, "temporary_password"));
	temp = xstrdup(jstr(res, "temporary_password"));
	assert_int_equal(strlen(temp), 16);

	cli_open(&c, &srv);
	assert_jstr(call_ok(&c, "auth.login", "{s:s, s:s}", "email", email,
	    "password", temp), "user.role", "receptionist");
	cli_close(&c);
	cli_close(&admin);
	free(temp);
	free(email);
}

static void
test_users_create_refuses_duplicate_and_weak_password(void **state)
{
	struct tcli	 admin;
	char		*email = unique_email("dup");

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	call_err(&admin, "users.create", "conflict", "{s:s, s:s, s:s}",
	    "email", "Doctor@Test.com", "full_name", "Twin", "role", "doctor");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s, s:s}",
	    "email", email, "full_name", "Weak", "role", "doctor",
	    "password", "password1234");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s, s:s}",
	    "email", email, "full_name", "Weak", "role", "doctor",
	    "password", "short");
	assert_int_equal(jint(call_ok(&admin, "users.list", "{s:s}", "q", email),
	    "total"), 0);
	cli_close(&admin);
	free(email);
}

/* --- users.list, users.get --- */

static void
test_users_list_filters_and_total(void **state)
{
	struct tcli	 admin;
	json_t		*res, *users, *u;
	char		*first, *second;
	int64_t		 total;
	size_t		 i;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	res = call_ok(&admin, "users.list", NULL);
	assert_true(jint(res, "total") >= 10);
	assert_int_equal(json_array_size(json_object_get(res, "users")),
	    jint(res, "total") < 50 ? jint(res, "total") : 50);

	/* role */
	res = call_ok(&admin, "users.list", "{s:s}", "role", "doctor");
	users = json_object_get(res, "users");
	assert_true(jint(res, "total") >= 3);
	assert_int_equal((int64_t)json_array_size(users), jint(res, "total"));
	json_array_foreach(users, i, u)
		assert_jstr(u, "role", "doctor");

	/* q: a case-insensitive substring of the name or the e-mail */
	res = call_ok(&admin, "users.list", "{s:s}", "q", "sarah CHEN");
	assert_int_equal(jint(res, "total"), 1);
	assert_jstr(res, "users.0.email", DEMO_DOCTOR);
	res = call_ok(&admin, "users.list", "{s:s}", "q", "receptionist@");
	assert_int_equal(jint(res, "total"), 1);
	assert_jstr(res, "users.0.email", DEMO_RECEPTION);
	/* LIKE's wildcards are plain characters here. */
	assert_int_equal(jint(call_ok(&admin, "users.list", "{s:s}", "q", "%"),
	    "total"), 0);
	assert_int_equal(jint(call_ok(&admin, "users.list", "{s:s}", "q", "_"),
	    "total"), 0);
	res = call_ok(&admin, "users.list", "{s:s, s:s}", "role", "admin",
	    "q", "Sarah");
	assert_int_equal(jint(res, "total"), 0);
	assert_int_equal(json_array_size(json_object_get(res, "users")), 0);

	/* limit and offset page through one ordering; total ignores them */
	res = call_ok(&admin, "users.list", "{s:s}", "role", "patient");
	total = jint(res, "total");
	assert_true(total >= 5);
	res = call_ok(&admin, "users.list", "{s:s, s:i, s:i}", "role", "patient",
	    "limit", 2, "offset", 0);
	assert_int_equal(jint(res, "total"), total);
	assert_int_equal(json_array_size(json_object_get(res, "users")), 2);
	first = xstrdup(jstr(res, "users.0.email"));
	second = xstrdup(jstr(res, "users.1.email"));
	assert_string_not_equal(first, second);
	res = call_ok(&admin, "users.list", "{s:s, s:i, s:i}", "role", "patient",
	    "limit", 1, "offset", 1);
	assert_int_equal(jint(res, "total"), total);
	assert_int_equal(json_array_size(json_object_get(res, "users")), 1);
	assert_jstr(res, "users.0.email", second);
	res = call_ok(&admin, "users.list", "{s:s, s:i}", "role", "patient",
	    "offset", (int)total);
	assert_int_equal(jint(res, "total"), total);
	assert_int_equal(json_array_size(json_object_get(res, "users")), 0);

	/* active */
	res = call_ok(&admin, "users.list", "{s:b}", "active", 1);
	json_array_foreach(json_object_get(res, "users"), i, u)
		assert_true(json_is_true(json_object_get(u, "active")));

	/* out of range or of the wrong type */
	call_err(&admin, "users.list", "bad_request", "{s:i}", "limit", 0);
	call_err(&admin, "users.list", "bad_request", "{s:i}", "limit", 201);
	call_err(&admin, "users.list", "bad_request", "{s:i}", "offset", -1);
	call_err(&admin, "users.list", "bad_request", "{s:s}", "role", "root");
	call_err(&admin, "users.list", "bad_request", "{s:s}", "active", "yes");
	call_err(&admin, "users.list", "bad_request", "{s:i}", "q", 5);
	call_err(&admin, "users.list", "bad_request", "{s:s}", "sort", "name");
	cli_close(&admin);
	free(first);
	free(second);
}

static void
test_users_get_returns_user_or_not_found(void **state)
{
	struct tcli	 admin;
	json_t		*res;
	int64_t		 id;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = jint(call_ok(&admin, "users.list", "{s:s}", "q", DEMO_PATIENT),
	    "users.0.id");
	assert_true(id > 0);
	res = call_ok(&admin, "users.get", "{s:I}", "id", (json_int_t)id);
	assert_jstr(res, "user.email", DEMO_PATIENT);
	assert_jstr(res, "user.full_name", "John Smith");
	assert_null(jpath(res, "user.password_hash"));
	call_err(&admin, "users.get", "not_found", "{s:i}", "id", 999999);
	call_err(&admin, "users.get", "bad_request", "{s:i}", "id", 0);
	call_err(&admin, "users.get", "bad_request", "{s:s}", "id", "1");
	call_err(&admin, "users.get", "bad_request", NULL);
	cli_close(&admin);
}

/* --- users.update --- */

static void
test_users_update_role_applies_to_live_session(void **state)
{
	struct tcli	 admin, c;
	json_t		*res;
	char		*email = unique_email("promote");
	int64_t		 id;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_user(&admin, email, "receptionist");
	cli_open(&c, &srv);
	free(cli_login(&c, email, STRONG_PASSWORD));
	call_err(&c, "users.list", "forbidden", NULL);

	res = call_ok(&admin, "users.update", "{s:I, s:s, s:s}", "id",
	    (json_int_t)id, "role", "admin", "full_name", "Promoted");
	assert_jstr(res, "user.role", "admin");
	assert_jstr(res, "user.full_name", "Promoted");
	/* No new login needed, either way. */
	call_ok(&c, "users.list", NULL);
	assert_jstr(call_ok(&c, "auth.me", NULL), "user.role", "admin");
	call_ok(&admin, "users.update", "{s:I, s:s}", "id", (json_int_t)id,
	    "role", "patient");
	call_err(&c, "users.list", "forbidden", NULL);
	assert_jstr(call_ok(&admin, "users.get", "{s:I}", "id", (json_int_t)id),
	    "user.role", "patient");
	cli_close(&c);
	cli_close(&admin);
	free(email);
}

static void
test_users_update_email_conflict(void **state)
{
	struct tcli	 admin;
	char		*email = unique_email("conflict"), *moved;
	int64_t		 id;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_user(&admin, email, "doctor");
	call_err(&admin, "users.update", "conflict", "{s:I, s:s}", "id",
	    (json_int_t)id, "email", "DOCTOR@test.com");
	assert_jstr(call_ok(&admin, "users.get", "{s:I}", "id", (json_int_t)id),
	    "user.email", email);
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "email", "not an e-mail");
	call_err(&admin, "users.update", "not_found", "{s:i, s:s}", "id", 999999,
	    "full_name", "Nobody");
	/* A free address is fine, and login follows it. */
	moved = unique_email("moved");
	assert_jstr(call_ok(&admin, "users.update", "{s:I, s:s}", "id",
	    (json_int_t)id, "email", moved), "user.email", moved);
	cli_close(&admin);
	free(email);
	free(moved);
}

static void
test_admin_cannot_demote_or_deactivate_self(void **state)
{
	struct tcli	 admin;
	int64_t		 self;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	self = jint(call_ok(&admin, "auth.me", NULL), "user.id");
	call_err(&admin, "users.update", "conflict", "{s:I, s:s}", "id",
	    (json_int_t)self, "role", "doctor");
	call_err(&admin, "users.update", "conflict", "{s:I, s:b}", "id",
	    (json_int_t)self, "active", 0);
	call_err(&admin, "users.deactivate", "conflict", "{s:I}", "id",
	    (json_int_t)self);
	/* Still an active admin with a working session. */
	assert_jstr(call_ok(&admin, "users.get", "{s:I}", "id", (json_int_t)self),
	    "user.role", "admin");
	assert_true(json_is_true(jpath(admin.reply, "result.user.active")));
	call_ok(&admin, "users.list", NULL);
	/* Editing one's own name is allowed. */
	assert_jstr(call_ok(&admin, "users.update", "{s:I, s:s}", "id",
	    (json_int_t)self, "full_name", "Alex Morgan"), "user.full_name",
	    "Alex Morgan");
	cli_close(&admin);
}

/* --- users.deactivate --- */

static void
test_users_deactivate_ends_sessions_and_blocks_login(void **state)
{
	struct tcli	 admin, c, other;
	json_t		*res;
	char		*email = unique_email("leaver"), *token;
	int64_t		 id;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_user(&admin, email, "doctor");
	cli_open(&c, &srv);
	token = cli_login(&c, email, STRONG_PASSWORD);
	call_ok(&c, "auth.me", NULL);

	res = call_ok(&admin, "users.deactivate", "{s:I}", "id", (json_int_t)id);
	assert_true(json_is_false(jpath(res, "user.active")));
	call_err(&c, "auth.me", "unauthenticated", NULL);
	call_err(&c, "auth.login", "forbidden", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD);
	/* The wrong password still says only "wrong". */
	call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD2);
	cli_open(&other, &srv);
	call_err(&other, "auth.resume", "unauthenticated", "{s:s}", "token", token);
	cli_close(&other);
	res = call_ok(&admin, "users.list", "{s:b, s:s}", "active", 0, "q", email);
	assert_int_equal(jint(res, "total"), 1);
	call_err(&admin, "users.deactivate", "not_found", "{s:i}", "id", 999999);

	/* Reactivated, the account works again. */
	call_ok(&admin, "users.update", "{s:I, s:b}", "id", (json_int_t)id,
	    "active", 1);
	free(cli_login(&c, email, STRONG_PASSWORD));
	cli_close(&c);
	cli_close(&admin);
	free(email);
	free(token);
}

static void
test_users_update_inactive_also_ends_sessions(void **state)
{
	struct tcli	 admin, c;
	char		*email = unique_email("paused");
	int64_t		 id;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_user(&admin, email, "receptionist");
	cli_open(&c, &srv);
	free(cli_login(&c, email, STRONG_PASSWORD));
	assert_true(json_is_false(jpath(call_ok(&admin, "users.update",
	    "{s:I, s:b}", "id", (json_int_t)id, "active", 0), "user.active")));
	call_err(&c, "auth.me", "unauthenticated", NULL);
	call_err(&c, "auth.login", "forbidden", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD);
	cli_close(&c);
	cli_close(&admin);
	free(email);
}

/* --- users.reset_password --- */

static void
test_users_reset_password_replaces_password_and_clears_lockout(void **state)
{
	struct tcli	 admin, c, live;
	json_t		*res;
	char		*email = unique_email("reset"), *temp;
	int64_t		 id;
	int		 i;

	(void)state;
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_user(&admin, email, "patient");
	cli_open(&live, &srv);
	free(cli_login(&live, email, STRONG_PASSWORD));
	cli_open(&c, &srv);
	for (i = 0; i < 5; i++)
		call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}",
		    "email", email, "password", "not-the-password");
	call_err(&c, "auth.login", "locked", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD);

	res = call_ok(&admin, "users.reset_password", "{s:I, s:s}", "id",
	    (json_int_t)id, "password", STRONG_PASSWORD2);
	assert_null(jpath(res, "temporary_password"));
	/* Sessions end; the old password fails as wrong, not as locked. */
	call_err(&live, "auth.me", "unauthenticated", NULL);
	call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD);
	free(cli_login(&c, email, STRONG_PASSWORD2));

	/* Without a password the server makes one up and shows it once. */
	res = call_ok(&admin, "users.reset_password", "{s:I}", "id", (json_int_t)id);
	assert_non_null(jstr(res, "temporary_password"));
	temp = xstrdup(jstr(res, "temporary_password"));
	call_err(&c, "auth.me", "unauthenticated", NULL);
	call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD2);
	free(cli_login(&c, email, temp));

	/* A weak one is refused and changes nothing. */
	call_err(&admin, "users.reset_password", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "password", "password1234");
	free(cli_login(&c, email, temp));
	call_err(&admin, "users.reset_password", "not_found", "{s:i}", "id", 999999);
	cli_close(&live);
	cli_close(&c);
	cli_close(&admin);
	free(temp);
	free(email);
}

/* --- bad input --- */

static void
test_bad_input_is_refused_and_writes_nothing(void **state)
{
	struct tcli	 admin;
	json_t		*before, *after;
	char		*email = unique_email("victim"), *fresh = unique_email("never");
	char		*huge = repeat_char('x', 10000), *long_email;
	int64_t		 id, head, total;

	(void)state;
	long_email = xasprintf("%s@example.org", huge);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_user(&admin, email, "doctor");
	before = json_deep_copy(call_ok(&admin, "users.get", "{s:I}", "id",
	    (json_int_t)id));
	total = jint(call_ok(&admin, "users.list", NULL), "total");
	head = audit_head(&admin);

	/* users.create */
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s}",
	    "email", fresh, "full_name", huge, "role", "doctor");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s}",
	    "email", long_email, "full_name", "Long", "role", "doctor");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:i}",
	    "email", fresh, "full_name", "Typed", "role", 4);
	call_err(&admin, "users.create", "bad_request", "{s:[s], s:s, s:s}",
	    "email", fresh, "full_name", "Typed", "role", "doctor");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s, s:s}",
	    "email", fresh, "full_name", "Typed", "role", "doctor", "phone", "call me");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s}",
	    "email", fresh, "full_name", "Line\nbreak", "role", "doctor");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s}",
	    "email", fresh, "full_name", "Bell\x07", "role", "doctor");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s, s:b}",
	    "email", fresh, "full_name", "Extra", "role", "doctor", "active", 1);
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s}",
	    "email", fresh, "full_name", "No role");
	call_err(&admin, "users.create", "bad_request", "{s:s, s:s, s:s}",
	    "email", fresh, "full_name", "", "role", "doctor");

	/* users.update */
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "full_name", huge);
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "email", long_email);
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "active", "no");
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "role", "root");
	call_err(&admin, "users.update", "bad_request", "{s:I, s:i}", "id",
	    (json_int_t)id, "phone", 5550100);
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "phone", "12");
	call_err(&admin, "users.update", "bad_request", "{s:I, s:s, s:s}", "id",
	    (json_int_t)id, "full_name", "Fine", "password", STRONG_PASSWORD2);
	call_err(&admin, "users.update", "bad_request", "{s:s, s:s}", "id", "1",
	    "full_name", "Fine");
	call_err(&admin, "users.update", "bad_request", "{s:f, s:s}", "id", 1.5,
	    "full_name", "Fine");

	/* the rest */
	call_err(&admin, "users.list", "bad_request", "{s:s}", "q", huge);
	call_err(&admin, "users.get", "bad_request", "{s:i}", "id", -1);
	call_err(&admin, "users.deactivate", "bad_request", "{s:b}", "id", 1);
	call_err(&admin, "users.reset_password", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "password", huge);
	call_err(&admin, "audit.list", "bad_request", "{s:s}", "action", huge);
	call_err(&admin, "audit.list", "bad_request", "{s:i}", "limit", 100000);
	call_err(&admin, "audit.verify", "bad_request", "{s:b}", "deep", 1);

	after = call_ok(&admin, "users.get", "{s:I}", "id", (json_int_t)id);
	assert_true(json_equal(before, after));
	assert_int_equal(jint(call_ok(&admin, "users.list", NULL), "total"), total);
	assert_int_equal(jint(call_ok(&admin, "users.list", "{s:s}", "q", fresh),
	    "total"), 0);
	assert_int_equal(audit_head(&admin), head);
	/* And the account's password is what it was. */
	{
		struct tcli	c;

		cli_open(&c, &srv);
		free(cli_login(&c, email, STRONG_PASSWORD));
		cli_close(&c);
	}
	json_decref(before);
	cli_close(&admin);
	free(email);
	free(fresh);
	free(huge);
	free(long_email);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_ops_forbidden_for_patient_doctor_receptionist),
		cmocka_unit_test(test_admin_ops_need_login),
		cmocka_unit_test(test_users_create_with_password),
		cmocka_unit_test(test_users_create_without_password_returns_usable_temporary_one),
		cmocka_unit_test(test_users_create_refuses_duplicate_and_weak_password),
		cmocka_unit_test(test_users_list_filters_and_total),
		cmocka_unit_test(test_users_get_returns_user_or_not_found),
		cmocka_unit_test(test_users_update_role_applies_to_live_session),
		cmocka_unit_test(test_users_update_email_conflict),
		cmocka_unit_test(test_admin_cannot_demote_or_deactivate_self),
		cmocka_unit_test(test_users_deactivate_ends_sessions_and_blocks_login),
		cmocka_unit_test(test_users_update_inactive_also_ends_sessions),
		cmocka_unit_test(test_users_reset_password_replaces_password_and_clears_lockout),
		cmocka_unit_test(test_bad_input_is_refused_and_writes_nothing),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
