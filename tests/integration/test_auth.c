/* test_auth.c -- hello, registration, login, lockout, sessions and password
 * changes against a real mediflowd. One server for the file: every test
 * opens its own connections and logs in afresh, so moving the clock in one
 * test leaves nothing behind for the next. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The server answers nothing more and closes the connection. */
static void
assert_closed(struct tcli *c)
{
	const msgpack_object	*o;

	assert_int_equal(mfc_read(&c->mc, CALL_TIMEOUT_MS, &o), -1);
}

/* Registers a fresh patient with STRONG_PASSWORD; returns the e-mail
 * (allocated) and leaves the connection logged in. */
static char *
register_patient(struct tcli *c, const char *prefix)
{
	char	*email = unique_email(prefix);

	call_ok(c, "auth.register", "{s:s, s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD, "full_name", "Test Patient");
	return email;
}

static void
login_fails(struct tcli *c, const char *email, const char *password)
{
	call_err(c, "auth.login", "unauthenticated", "{s:s, s:s}",
	    "email", email, "password", password);
}

/* --- hello --- */

static void
test_request_before_hello_is_bad_request(void **state)
{
	struct tcli	c;
	json_t		*err;

	(void)state;
	cli_connect(&c, &srv);
	err = call_err(&c, "auth.login", "bad_request", "{s:s, s:s}",
	    "email", DEMO_ADMIN, "password", DEMO_PASSWORD);
	assert_non_null(strstr(jstr(err, "message"), "hello"));
	call_err(&c, "auth.me", "bad_request", NULL);
	/* The connection is kept, health needs no hello, and hello then works. */
	assert_jstr(call_ok(&c, "health", NULL), "status", "ok");
	assert_int_equal(jint(call_ok(&c, "hello", "{s:i}", "version", 1),
	    "version"), 1);
	call_err(&c, "auth.me", "unauthenticated", NULL);
	cli_close(&c);
}

static void
test_hello_wrong_version_errors_and_closes(void **state)
{
	struct tcli	c;
	json_t		*err;

	(void)state;
	cli_connect(&c, &srv);
	err = call_err(&c, "hello", "bad_request", "{s:i}", "version", 2);
	assert_non_null(strstr(jstr(err, "message"), "version"));
	assert_closed(&c);
	cli_close(&c);

	cli_connect(&c, &srv);
	call_err(&c, "hello", "bad_request", "{s:s}", "version", "1");
	assert_closed(&c);
	cli_close(&c);

	cli_connect(&c, &srv);
	call_err(&c, "hello", "bad_request", NULL);
	assert_closed(&c);
	cli_close(&c);
}

/* --- auth.register --- */

static void
test_register_returns_token_and_patient_user(void **state)
{
	struct tcli	 c;
	json_t		*res;
	char		*email = unique_email("reg"), *upper;
	size_t		 i;

	(void)state;
	/* The address is stored trimmed and lower-cased. */
	upper = xasprintf("  %s ", email);
	for (i = 0; upper[i] != '\0'; i++) {
		if (upper[i] >= 'a' && upper[i] <= 'z')
			upper[i] = (char)(upper[i] - 'a' + 'A');
	}
	cli_open(&c, &srv);
	res = call_ok(&c, "auth.register", "{s:s, s:s, s:s, s:s}", "email", upper,
	    "password", STRONG_PASSWORD, "full_name", "Regina Register",
	    "phone", "+1 555 0100");
	assert_int_equal(strlen(jstr(res, "token")), 43);
	assert_true(jint(res, "expires_at") > 0);
	assert_jstr(res, "user.role", "patient");
	assert_jstr(res, "user.email", email);
	assert_jstr(res, "user.full_name", "Regina Register");
	assert_true(jint(res, "user.id") > 0);
	assert_null(jpath(res, "user.password_hash"));
	/* Registering logs the connection in. */
	assert_jstr(call_ok(&c, "auth.me", NULL), "user.email", email);
	cli_close(&c);

	cli_open(&c, &srv);
	free(cli_login(&c, email, STRONG_PASSWORD));
	cli_close(&c);
	free(upper);
	free(email);
}

static void
test_register_weak_password_is_bad_request(void **state)
{
	struct tcli	 c;
	json_t		*err;
	char		*email = unique_email("weak");

	(void)state;
	cli_open(&c, &srv);
	err = call_err(&c, "auth.register", "bad_request", "{s:s, s:s, s:s}",
	    "email", email, "password", "password1234", "full_name", "Weak");
	assert_non_null(strstr(jstr(err, "message"), "password"));
	err = call_err(&c, "auth.register", "bad_request", "{s:s, s:s, s:s}",
	    "email", email, "password", "aaaaaaaaaaaaaaaa", "full_name", "Weak");
	assert_non_null(strstr(jstr(err, "message"), "password"));
	/* Nothing was stored: no session, and the address is still free. */
	call_err(&c, "auth.me", "unauthenticated", NULL);
	login_fails(&c, email, "password1234");
	call_ok(&c, "auth.register", "{s:s, s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD, "full_name", "Strong");
	cli_close(&c);
	free(email);
}

static void
test_register_short_password_is_bad_request(void **state)
{
	struct tcli	 c;
	json_t		*err;
	char		*email = unique_email("short");

	(void)state;
	cli_open(&c, &srv);
	err = call_err(&c, "auth.register", "bad_request", "{s:s, s:s, s:s}",
	    "email", email, "password", "Qz7#kL2!", "full_name", "Short");
	assert_non_null(strstr(jstr(err, "message"), "12"));
	call_err(&c, "auth.register", "bad_request", "{s:s, s:s, s:s}",
	    "email", email, "password", "", "full_name", "Short");
	call_err(&c, "auth.me", "unauthenticated", NULL);
	cli_close(&c);
	free(email);
}

static void
test_register_duplicate_email_conflicts(void **state)
{
	struct tcli	 c;
	char		*email;
	size_t		 i;

	(void)state;
	cli_open(&c, &srv);
	email = register_patient(&c, "dup");
	call_err(&c, "auth.register", "conflict", "{s:s, s:s, s:s}",
	    "email", email, "password", STRONG_PASSWORD2, "full_name", "Again");
	/* Case does not make a different address. */
	for (i = 0; email[i] != '\0'; i++) {
		if (email[i] >= 'a' && email[i] <= 'z')
			email[i] = (char)(email[i] - 'a' + 'A');
	}
	call_err(&c, "auth.register", "conflict", "{s:s, s:s, s:s}",
	    "email", email, "password", STRONG_PASSWORD2, "full_name", "Again");
	call_err(&c, "auth.register", "conflict", "{s:s, s:s, s:s}",
	    "email", DEMO_ADMIN, "password", STRONG_PASSWORD2, "full_name", "Admin?");
	cli_close(&c);
	free(email);
}

static void
test_register_malformed_email_is_bad_request(void **state)
{
	static const char *const bad[] = {
		"not-an-email", "a@b", "x@@example.org", "user@.org", "user@example.",
		"user@exa..mple.org", "@example.org", "us er@example.org",
		"user@example.org\nBcc: x@y.z", "",
	};
	struct tcli	c;
	size_t		i;

	(void)state;
	cli_open(&c, &srv);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		call_err(&c, "auth.register", "bad_request", "{s:s, s:s, s:s}",
		    "email", bad[i], "password", STRONG_PASSWORD, "full_name", "Bad");
	}
	call_err(&c, "auth.register", "bad_request", "{s:i, s:s, s:s}",
	    "email", 42, "password", STRONG_PASSWORD, "full_name", "Bad");
	call_err(&c, "auth.register", "bad_request", "{s:s, s:s}",
	    "password", STRONG_PASSWORD, "full_name", "No e-mail");
	call_err(&c, "auth.me", "unauthenticated", NULL);
	cli_close(&c);
}

static void
test_register_unknown_argument_is_bad_request(void **state)
{
	struct tcli	 c;
	json_t		*err;
	char		*email = unique_email("unknown");

	(void)state;
	cli_open(&c, &srv);
	/* No way to pick one's own role. */
	err = call_err(&c, "auth.register", "bad_request", "{s:s, s:s, s:s, s:s}",
	    "email", email, "password", STRONG_PASSWORD, "full_name", "Eve",
	    "role", "admin");
	assert_non_null(strstr(jstr(err, "message"), "role"));
	call_err(&c, "auth.me", "unauthenticated", NULL);
	/* The address was not taken. */
	assert_jstr(call_ok(&c, "auth.register", "{s:s, s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD, "full_name", "Eve"), "user.role", "patient");
	cli_close(&c);
	free(email);
}

/* --- auth.login --- */

static void
test_login_returns_token_and_user(void **state)
{
	struct tcli	 c;
	json_t		*res;

	(void)state;
	cli_open(&c, &srv);
	res = call_ok(&c, "auth.login", "{s:s, s:s}", "email", "Admin@Test.com",
	    "password", DEMO_PASSWORD);
	assert_int_equal(strlen(jstr(res, "token")), 43);
	assert_jstr(res, "user.email", DEMO_ADMIN);
	assert_jstr(res, "user.role", "admin");
	assert_true(jint(res, "expires_at") > 0);
	assert_jstr(call_ok(&c, "auth.me", NULL), "user.role", "admin");
	cli_close(&c);
}

static void
test_login_wrong_password_is_unauthenticated(void **state)
{
	struct tcli	c;

	(void)state;
	cli_open(&c, &srv);
	login_fails(&c, DEMO_RECEPTION, "password124");
	login_fails(&c, DEMO_RECEPTION, "PASSWORD123");
	call_err(&c, "auth.me", "unauthenticated", NULL);
	/* One or two failures do not lock anything. */
	free(cli_login(&c, DEMO_RECEPTION, DEMO_PASSWORD));
	cli_close(&c);
}

static void
test_login_unknown_email_is_unauthenticated_with_same_message(void **state)
{
	struct tcli	 c;
	char		*known, *unknown = unique_email("nobody");

	(void)state;
	cli_open(&c, &srv);
	known = xstrdup(jstr(call_err(&c, "auth.login", "unauthenticated",
	    "{s:s, s:s}", "email", DEMO_DOCTOR, "password", "wrong-password"),
	    "message"));
	assert_string_equal(jstr(call_err(&c, "auth.login", "unauthenticated",
	    "{s:s, s:s}", "email", unknown, "password", "wrong-password"),
	    "message"), known);
	cli_close(&c);
	free(known);
	free(unknown);
}

static void
test_login_locks_account_after_five_failures(void **state)
{
	struct tcli	 c;
	json_t		*err;
	char		*email;
	int		 i;

	(void)state;
	cli_open(&c, &srv);
	email = register_patient(&c, "lock");
	for (i = 0; i < 5; i++)
		login_fails(&c, email, "not-the-password");
	/* Even the right password is refused while locked. */
	err = call_err(&c, "auth.login", "locked", "{s:s, s:s}",
	    "email", email, "password", STRONG_PASSWORD);
	assert_true(jint(err, "retry_after") > 0);
	assert_true(jint(err, "retry_after") <= 15 * 60);
	clock_forward(&c, 14 * 60);
	call_err(&c, "auth.login", "locked", "{s:s, s:s}",
	    "email", email, "password", STRONG_PASSWORD);
	clock_forward(&c, 60 + 1);
	free(cli_login(&c, email, STRONG_PASSWORD));
	cli_close(&c);
	free(email);
}

static void
test_lockout_spares_other_accounts_from_same_address(void **state)
{
	struct tcli	 c, other;
	char		*locked, *spared;
	int		 i;

	(void)state;
	cli_open(&c, &srv);
	locked = register_patient(&c, "locked");
	spared = register_patient(&c, "spared");
	for (i = 0; i < 5; i++)
		login_fails(&c, locked, "not-the-password");
	call_err(&c, "auth.login", "locked", "{s:s, s:s}",
	    "email", locked, "password", STRONG_PASSWORD);
	free(cli_login(&c, spared, STRONG_PASSWORD));
	cli_open(&other, &srv);
	free(cli_login(&other, spared, STRONG_PASSWORD));
	call_err(&other, "auth.login", "locked", "{s:s, s:s}",
	    "email", locked, "password", STRONG_PASSWORD);
	cli_close(&other);
	cli_close(&c);
	free(locked);
	free(spared);
}

static void
test_failures_outside_the_window_do_not_lock(void **state)
{
	struct tcli	 c;
	char		*email;
	int		 i;

	(void)state;
	cli_open(&c, &srv);
	email = register_patient(&c, "window");
	for (i = 0; i < 4; i++)
		login_fails(&c, email, "not-the-password");
	clock_forward(&c, 15 * 60 + 1);
	/* The window restarted: four more failures still leave it open. */
	for (i = 0; i < 4; i++)
		login_fails(&c, email, "not-the-password");
	free(cli_login(&c, email, STRONG_PASSWORD));
	cli_close(&c);
	free(email);
}

/* The 6th attempt's error: locked, with retry_after. */
static int64_t
locked_for(struct tcli *c, const char *email)
{
	json_t	*err;

	err = call_err(c, "auth.login", "locked", "{s:s, s:s}",
	    "email", email, "password", "not-the-password");
	assert_true(jint(err, "retry_after") > 0);
	return jint(err, "retry_after");
}

static void
test_unknown_email_locks_exactly_like_a_real_one(void **state)
{
	struct tcli	 c;
	char		*real, *ghost = unique_email("ghost");
	int64_t		 real_wait, ghost_wait;
	int		 i;

	(void)state;
	cli_open(&c, &srv);
	real = register_patient(&c, "real");
	for (i = 0; i < 5; i++) {
		login_fails(&c, real, "not-the-password");
		login_fails(&c, ghost, "not-the-password");
	}
	/* Same code, same wait: the answer must not tell who has an account. */
	real_wait = locked_for(&c, real);
	ghost_wait = locked_for(&c, ghost);
	assert_in_range(ghost_wait, real_wait - 2, real_wait + 2);
	clock_forward(&c, 14 * 60);
	real_wait = locked_for(&c, real);
	ghost_wait = locked_for(&c, ghost);
	assert_in_range(ghost_wait, real_wait - 2, real_wait + 2);
	/* Both open again at the same time. */
	clock_forward(&c, 60 + 2);
	login_fails(&c, real, "not-the-password");
	login_fails(&c, ghost, "not-the-password");
	cli_close(&c);
	free(real);
	free(ghost);
}

/* --- sessions --- */

static void
test_resume_on_second_connection(void **state)
{
	struct tcli	 c1, c2;
	json_t		*res;
	char		*token;

	(void)state;
	cli_open(&c1, &srv);
	token = cli_login(&c1, DEMO_DOCTOR, DEMO_PASSWORD);
	cli_open(&c2, &srv);
	call_err(&c2, "auth.me", "unauthenticated", NULL);
	res = call_ok(&c2, "auth.resume", "{s:s}", "token", token);
	assert_jstr(res, "user.email", DEMO_DOCTOR);
	assert_true(jint(res, "expires_at") > 0);
	assert_jstr(call_ok(&c2, "auth.me", NULL), "user.role", "doctor");
	/* Both connections share the session. */
	assert_jstr(call_ok(&c1, "auth.me", NULL), "user.role", "doctor");
	cli_close(&c1);
	cli_close(&c2);
	free(token);
}

static void
test_resume_bad_token_is_unauthenticated(void **state)
{
	struct tcli	 c;
	char		*token;

	(void)state;
	cli_open(&c, &srv);
	call_err(&c, "auth.resume", "unauthenticated", "{s:s}", "token", "nope");
	call_err(&c, "auth.resume", "unauthenticated", "{s:s}", "token",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	call_err(&c, "auth.resume", "bad_request", "{s:i}", "token", 7);
	call_err(&c, "auth.resume", "bad_request", NULL);
	token = cli_login(&c, DEMO_DOCTOR, DEMO_PASSWORD);
	/* One changed character is another (unknown) token. */
	token[5] = token[5] == 'A' ? 'B' : 'A';
	cli_close(&c);
	cli_open(&c, &srv);
	call_err(&c, "auth.resume", "unauthenticated", "{s:s}", "token", token);
	call_err(&c, "auth.me", "unauthenticated", NULL);
	cli_close(&c);
	free(token);
}

static void
test_me_returns_user_and_session_expiry(void **state)
{
	struct tcli	 c;
	json_t		*res;
	int64_t		 expires;

	(void)state;
	cli_open(&c, &srv);
	call_err(&c, "auth.me", "unauthenticated", NULL);
	res = call_ok(&c, "auth.login", "{s:s, s:s}", "email", DEMO_PATIENT,
	    "password", DEMO_PASSWORD);
	expires = jint(res, "expires_at");
	res = call_ok(&c, "auth.me", NULL);
	assert_jstr(res, "user.email", DEMO_PATIENT);
	assert_jstr(res, "user.role", "patient");
	assert_jstr(res, "user.full_name", "John Smith");
	assert_int_equal(jint(res, "session_expires_at"), expires);
	assert_null(jpath(res, "user.password_hash"));
	call_err(&c, "auth.me", "bad_request", "{s:b}", "verbose", 1);
	cli_close(&c);
}

static void
test_logout_revokes_the_token(void **state)
{
	struct tcli	 c1, c2;
	char		*token;

	(void)state;
	cli_open(&c1, &srv);
	token = cli_login(&c1, DEMO_RECEPTION, DEMO_PASSWORD);
	cli_open(&c2, &srv);
	call_ok(&c2, "auth.resume", "{s:s}", "token", token);
	call_ok(&c1, "auth.logout", NULL);
	call_err(&c1, "auth.me", "unauthenticated", NULL);
	call_err(&c1, "auth.logout", "unauthenticated", NULL);
	/* The other connection on that session is out too. */
	call_err(&c2, "auth.me", "unauthenticated", NULL);
	cli_close(&c2);
	cli_open(&c2, &srv);
	call_err(&c2, "auth.resume", "unauthenticated", "{s:s}", "token", token);
	cli_close(&c1);
	cli_close(&c2);
	free(token);
}

static void
test_session_idle_timeout(void **state)
{
	struct tcli	 c, other;
	char		*token;

	(void)state;
	cli_open(&c, &srv);
	token = cli_login(&c, DEMO_DOCTOR, DEMO_PASSWORD);
	/* Activity keeps it alive... */
	clock_forward(&c, 14 * 60);
	call_ok(&c, "auth.me", NULL);
	clock_forward(&c, 14 * 60);
	call_ok(&c, "auth.me", NULL);
	/* ...and 15 minutes without any ends it. */
	clock_forward(&c, 15 * 60 + 1);
	call_err(&c, "auth.me", "unauthenticated", NULL);
	cli_open(&other, &srv);
	call_err(&other, "auth.resume", "unauthenticated", "{s:s}", "token", token);
	cli_close(&other);
	cli_close(&c);
	free(token);
}

static void
test_session_absolute_lifetime_is_twelve_hours(void **state)
{
	struct tcli	 c, other;
	char		*token;
	int		 i;

	(void)state;
	cli_open(&c, &srv);
	token = cli_login(&c, DEMO_RECEPTION, DEMO_PASSWORD);
	/* 71 x 10 min = 11 h 50 min, never idle for long. */
	for (i = 0; i < 71; i++) {
		clock_forward(&c, 10 * 60);
		call_ok(&c, "auth.me", NULL);
	}
	clock_forward(&c, 10 * 60);
	call_err(&c, "auth.me", "unauthenticated", NULL);
	cli_open(&other, &srv);
	call_err(&other, "auth.resume", "unauthenticated", "{s:s}", "token", token);
	cli_close(&other);
	cli_close(&c);
	free(token);
}

/* --- auth.change_password --- */

static void
test_change_password_wrong_current_is_unauthenticated(void **state)
{
	struct tcli	 c;
	char		*email;

	(void)state;
	cli_open(&c, &srv);
	email = register_patient(&c, "chpw-wrong");
	call_err(&c, "auth.change_password", "unauthenticated", "{s:s, s:s}",
	    "current_password", "not-the-password",
	    "new_password", STRONG_PASSWORD2);
	/* Still logged in, and the password did not change. */
	call_ok(&c, "auth.me", NULL);
	login_fails(&c, email, STRONG_PASSWORD2);
	free(cli_login(&c, email, STRONG_PASSWORD));
	cli_close(&c);
	free(email);
}

static void
test_change_password_weak_new_is_bad_request(void **state)
{
	struct tcli	 c;
	char		*email;

	(void)state;
	cli_open(&c, &srv);
	email = register_patient(&c, "chpw-weak");
	call_err(&c, "auth.change_password", "bad_request", "{s:s, s:s}",
	    "current_password", STRONG_PASSWORD, "new_password", "password1234");
	call_err(&c, "auth.change_password", "bad_request", "{s:s, s:s}",
	    "current_password", STRONG_PASSWORD, "new_password", "short");
	call_err(&c, "auth.change_password", "bad_request", "{s:s, s:s}",
	    "current_password", STRONG_PASSWORD, "new_password", STRONG_PASSWORD);
	call_err(&c, "auth.change_password", "bad_request", "{s:s}",
	    "current_password", STRONG_PASSWORD);
	call_ok(&c, "auth.me", NULL);
	login_fails(&c, email, "password1234");
	free(cli_login(&c, email, STRONG_PASSWORD));
	cli_close(&c);
	free(email);
}

static void
test_change_password_rotates_token_and_ends_other_sessions(void **state)
{
	struct tcli	 c, second, third;
	json_t		*res;
	char		*email, *old_token, *other_token, *new_token;

	(void)state;
	cli_open(&c, &srv);
	email = register_patient(&c, "chpw");
	old_token = cli_login(&c, email, STRONG_PASSWORD);
	cli_open(&second, &srv);
	other_token = cli_login(&second, email, STRONG_PASSWORD);
	cli_open(&third, &srv);
	call_ok(&third, "auth.resume", "{s:s}", "token", old_token);

	res = call_ok(&c, "auth.change_password", "{s:s, s:s}",
	    "current_password", STRONG_PASSWORD, "new_password", STRONG_PASSWORD2);
	new_token = xstrdup(jstr(res, "token"));
	assert_int_equal(strlen(new_token), 43);
	assert_string_not_equal(new_token, old_token);
	assert_jstr(res, "user.email", email);
	/* This connection carries on with the new session... */
	call_ok(&c, "auth.me", NULL);
	/* ...every other one is out on its next request. */
	call_err(&second, "auth.me", "unauthenticated", NULL);
	call_err(&third, "auth.me", "unauthenticated", NULL);
	call_err(&third, "auth.resume", "unauthenticated", "{s:s}", "token", old_token);
	call_err(&third, "auth.resume", "unauthenticated", "{s:s}", "token",
	    other_token);
	assert_jstr(call_ok(&third, "auth.resume", "{s:s}", "token", new_token),
	    "user.email", email);
	login_fails(&second, email, STRONG_PASSWORD);
	free(cli_login(&second, email, STRONG_PASSWORD2));
	cli_close(&c);
	cli_close(&second);
	cli_close(&third);
	free(email);
	free(old_token);
	free(other_token);
	free(new_token);
}

/* --- servers of their own --- */

static void
test_test_clock_is_absent_without_the_flag(void **state)
{
	static const char *const	args[] = { "--tz", "Europe/Paris", NULL };
	static const struct tsrv_opts	opts = {
		.args = args, .no_demo = 1, .no_test_clock = 1,
	};
	struct tsrv			prod;
	struct tcli			c;

	(void)state;
	srv_start(&prod, &opts);
	cli_open(&c, &prod);
	call_err(&c, "test.clock", "bad_request", "{s:i}", "advance", 86400);
	call_err(&c, "test.clock", "bad_request", NULL);
	assert_jstr(call_ok(&c, "health", NULL), "status", "ok");
	/* No demo accounts either. */
	call_err(&c, "auth.login", "unauthenticated", "{s:s, s:s}",
	    "email", DEMO_ADMIN, "password", DEMO_PASSWORD);
	cli_close(&c);
	srv_stop(&prod);
}

/* --- --test-weak-hashes --- */

/* libsodium's minimum argon2id cost, and its INTERACTIVE one (the server's). */
#define WEAK_HASH_PREFIX	"$argon2id$v=19$m=8,t=1,p=1$"
#define REAL_HASH_PREFIX	"$argon2id$v=19$m=65536,t=2,p=1$"


/* The stored password hash of email, read from the (stopped) server's
 * database; allocated. */
static char *
stored_hash(const char *db_path, const char *email)
{
	sqlite3		*h;
	sqlite3_stmt	*st;
	char		*hash;

	assert_int_equal(sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h,
	    "SELECT password_hash FROM users WHERE email = ?", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	hash = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return hash;
}

/* Logs in as the demo admin on a server of its own on dir, and stops it. */
static void
login_once(const char *dir, const char *const *args, int production)
{
	struct tsrv_opts	o;
	struct tsrv		t;
	struct tcli		c;

	memset(&o, 0, sizeof o);
	o.data_dir = dir;
	o.args = args;
	o.no_demo = production;
	o.no_test_clock = production;
	srv_start(&t, &o);
	cli_open(&c, &t);
	free(cli_login(&c, DEMO_ADMIN, DEMO_PASSWORD));
	cli_close(&c);
	srv_stop(&t);
}

static void
test_weak_hashes_are_refused_without_the_test_clock(void **state)
{
	char	 tmpl[] = "/tmp/mediflow-weak-XXXXXX", *data, *bin, *log;
	pid_t	 pid;
	int	 st, fd, waited;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	data = xasprintf("%s/data", tmpl);
	log = xasprintf("%s/run.log", tmpl);
	bin = xasprintf("%s/mediflowd", test_build_dir());
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT, 0600)) >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(bin, bin, "--test-weak-hashes", "--demo", "--listen",
		    "127.0.0.1:0", "--data-dir", data, (char *)NULL);
		_exit(127);
	}
	/* Bounded: a server that took the flag would run until killed. */
	for (waited = 0; waitpid(pid, &st, WNOHANG) == 0; waited += 10) {
		if (waited > 30000 * test_time_scale()) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("mediflowd started with --test-weak-hashes alone");
		}
		usleep(10000);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	/* Refused before it made anything. */
	assert_int_not_equal(access(data, F_OK), 0);
	rm_tree(tmpl);
	free(data);
	free(log);
	free(bin);
}

/*
 * A test server's cheap hashes are redone at full cost by the first login
 * on a production server, and a test server leaves real hashes alone: a
 * data dir passed between them ends with real hashes, never weaker ones.
 */
static void
test_weak_hashes_only_ever_get_stronger(void **state)
{
	static const char *const	weak[] = { "--test-weak-hashes", NULL };
	char				tmpl[] = "/tmp/mediflow-weak-XXXXXX";
	char				*db, *h1, *h2, *h3, *h4;

	(void)state;
	/* Its production servers hash at full cost, minutes under valgrind
	 * (make valgrind): make test runs it. */
	if (test_weak_hashes())
		skip();
	assert_non_null(mkdtemp(tmpl));
	db = xasprintf("%s/mediflow.db", tmpl);

	/* Demo accounts seeded and logged into under --test-weak-hashes. */
	login_once(tmpl, weak, 0);
	h1 = stored_hash(db, DEMO_ADMIN);
	assert_memory_equal(h1, WEAK_HASH_PREFIX, strlen(WEAK_HASH_PREFIX));
	/* No test flags: the login upgrades the hash... */
	login_once(tmpl, NULL, 1);
	h2 = stored_hash(db, DEMO_ADMIN);
	assert_memory_equal(h2, REAL_HASH_PREFIX, strlen(REAL_HASH_PREFIX));
	/* ...once: the next login keeps it. */
	login_once(tmpl, NULL, 1);
	h3 = stored_hash(db, DEMO_ADMIN);
	assert_string_equal(h3, h2);
	/* A test server verifies the real hash and rewrites nothing. */
	login_once(tmpl, weak, 0);
	h4 = stored_hash(db, DEMO_ADMIN);
	assert_string_equal(h4, h2);

	rm_tree(tmpl);
	free(db);
	free(h1);
	free(h2);
	free(h3);
	free(h4);
}

static void
test_patient_api_rate_limit_recovers_with_time(void **state)
{
	static const char *const env[] = { "MEDIFLOW_RL_API=5/15m", NULL };
	static const struct tsrv_opts	opts = { .env = env, .no_demo = 1 };
	struct tsrv			limited;
	struct tcli			patient, other, anon;
	json_t				*err;
	char				*email;
	int				i;

	(void)state;
	srv_start(&limited, &opts);
	cli_open(&patient, &limited);
	free(register_patient(&patient, "limited"));
	cli_open(&other, &limited);
	email = register_patient(&other, "unlimited");
	cli_open(&anon, &limited);
	for (i = 0; i < 5; i++)
		call_ok(&patient, "auth.me", NULL);
	err = call_err(&patient, "auth.me", "rate_limited", NULL);
	/* 5 per 15 minutes: one more every 3 minutes. */
	assert_in_range(jint(err, "retry_after"), 1, 181);
	/* The limit is each patient's own, and loopback without a login has none. */
	for (i = 0; i < 5; i++)
		call_ok(&other, "auth.me", NULL);
	for (i = 0; i < 20; i++)
		call_ok(&anon, "health", NULL);
	/* Logging in is not an API call. */
	free(cli_login(&other, email, STRONG_PASSWORD));
	clock_forward(&anon, 181);
	call_ok(&patient, "auth.me", NULL);
	call_err(&patient, "auth.me", "rate_limited", NULL);
	cli_close(&patient);
	cli_close(&other);
	cli_close(&anon);
	srv_stop(&limited);
	free(email);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_before_hello_is_bad_request),
		cmocka_unit_test(test_hello_wrong_version_errors_and_closes),
		cmocka_unit_test(test_register_returns_token_and_patient_user),
		cmocka_unit_test(test_register_weak_password_is_bad_request),
		cmocka_unit_test(test_register_short_password_is_bad_request),
		cmocka_unit_test(test_register_duplicate_email_conflicts),
		cmocka_unit_test(test_register_malformed_email_is_bad_request),
		cmocka_unit_test(test_register_unknown_argument_is_bad_request),
		cmocka_unit_test(test_login_returns_token_and_user),
		cmocka_unit_test(test_login_wrong_password_is_unauthenticated),
		cmocka_unit_test(test_login_unknown_email_is_unauthenticated_with_same_message),
		cmocka_unit_test(test_login_locks_account_after_five_failures),
		cmocka_unit_test(test_lockout_spares_other_accounts_from_same_address),
		cmocka_unit_test(test_failures_outside_the_window_do_not_lock),
		cmocka_unit_test(test_unknown_email_locks_exactly_like_a_real_one),
		cmocka_unit_test(test_resume_on_second_connection),
		cmocka_unit_test(test_resume_bad_token_is_unauthenticated),
		cmocka_unit_test(test_me_returns_user_and_session_expiry),
		cmocka_unit_test(test_logout_revokes_the_token),
		cmocka_unit_test(test_session_idle_timeout),
		cmocka_unit_test(test_session_absolute_lifetime_is_twelve_hours),
		cmocka_unit_test(test_change_password_wrong_current_is_unauthenticated),
		cmocka_unit_test(test_change_password_weak_new_is_bad_request),
		cmocka_unit_test(test_change_password_rotates_token_and_ends_other_sessions),
		cmocka_unit_test(test_test_clock_is_absent_without_the_flag),
		cmocka_unit_test(test_weak_hashes_are_refused_without_the_test_clock),
		cmocka_unit_test(test_weak_hashes_only_ever_get_stronger),
		cmocka_unit_test(test_patient_api_rate_limit_recovers_with_time),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
