/* test_cli.c -- the real mediflow binary against a real server: call mode,
 * exit codes, and the stored session under a throw-away HOME. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "util.h"

static struct tsrv	srv;
static char		home[256];

struct run {
	int	 status;	/* exit code, or 128 + signal */
	char	*out;
	char	*err;
	json_t	*json;		/* stdout parsed, when it is JSON */
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


/* Each test gets an empty HOME. */
static int
setup_home(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	snprintf(home, sizeof home, "%s/mediflow-home-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	return mkdtemp(home) != NULL ? 0 : -1;
}

static int
teardown_home(void **state)
{
	(void)state;
	rm_tree(home);
	return 0;
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* Appends what fd has to *buf; 0 at EOF. */
static int
drain(int fd, char **buf, size_t *len)
{
	char	chunk[4096];
	ssize_t	n = read(fd, chunk, sizeof chunk);

	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	*buf = xrealloc(*buf, *len + (size_t)n + 1);
	memcpy(*buf + *len, chunk, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return 1;
}

/*
 * Runs "$O/mediflow ARGS..." (NULL-terminated) with HOME set to the test's
 * home and input on stdin; the caller frees r with run_free.
 */
static void
run_cli(struct run *r, const char *input, ...)
{
	char		*argv[16], *bin;
	int		 in[2], out[2], err[2], argc = 0, status, open_fds;
	size_t		 outlen = 0, errlen = 0;
	const char	*a;
	va_list		 ap;
	pid_t		 pid;

	memset(r, 0, sizeof *r);
	r->out = xstrdup("");
	r->err = xstrdup("");
	bin = xasprintf("%s/mediflow", test_build_dir());
	argv[argc++] = bin;
	/* Encrypted, as by default; each test's fresh HOME pins the key anew. */
	argv[argc++] = "--trust-new-key";
	va_start(ap, input);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		setenv("HOME", home, 1);
		unsetenv("XDG_CONFIG_HOME");
		unsetenv("MEDIFLOW_SERVER");
		execv(bin, argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	if (input != NULL && write(in[1], input, strlen(input)) < 0)
		print_message("stdin: %s\n", strerror(errno));
	close(in[1]);
	open_fds = 2;
	while (open_fds > 0) {
		struct pollfd	pfd[2] = {
			{ .fd = out[0], .events = POLLIN },
			{ .fd = err[0], .events = POLLIN },
		};

		if (poll(pfd, 2, CALL_TIMEOUT_MS) <= 0) {
			kill(pid, SIGKILL);
			print_error("%s did not finish\n", bin);
			fail();
		}
		if (pfd[0].revents != 0 && out[0] >= 0 &&
		    !drain(out[0], &r->out, &outlen)) {
			close(out[0]);
			out[0] = -1;
			open_fds--;
		}
		if (pfd[1].revents != 0 && err[0] >= 0 &&
		    !drain(err[0], &r->err, &errlen)) {
			close(err[0]);
			err[0] = -1;
			open_fds--;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	r->json = json_loads(r->out, 0, NULL);
	if (getenv("MF_TEST_LOG") != NULL || (r->status != 0 && r->status != 1 &&
	    r->status != 2))
		print_message("mediflow exit %d\nstdout: %s\nstderr: %s\n",
		    r->status, r->out, r->err);
	free(bin);
}

static char *
session_file(void)
{
	return xasprintf("%s/.config/mediflow/session", home);
}

/* --- call --- */

static void
test_call_health_prints_ok_json_and_exits_0(void **state)
{
	struct run	r;

	(void)state;
	run_cli(&r, NULL, "--server", srv.addr, "call", "health", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ok\": true"));
	assert_non_null(r.json);
	assert_true(json_is_true(jpath(r.json, "ok")));
	assert_jstr(r.json, "result.status", "ok");
	assert_int_equal(jint(r.json, "result.protocol"), 1);
	/* The envelope's id is the client's business, not the reader's. */
	assert_null(jpath(r.json, "id"));
	run_free(&r);

	/* Arguments go through as JSON. */
	run_cli(&r, NULL, "--server", srv.addr, "call", "health", "{}", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
}

static void
test_call_error_reply_exits_1(void **state)
{
	struct run	r;

	(void)state;
	run_cli(&r, NULL, "--server", srv.addr, "call", "users.list", NULL);
	assert_int_equal(r.status, 1);
	assert_true(json_is_false(jpath(r.json, "ok")));
	assert_jstr(r.json, "error.code", "unauthenticated");
	run_free(&r);

	run_cli(&r, NULL, "--server", srv.addr, "call", "health",
	    "{\"verbose\": true}", NULL);
	assert_int_equal(r.status, 1);
	assert_jstr(r.json, "error.code", "bad_request");
	run_free(&r);

	run_cli(&r, NULL, "--server", srv.addr, "call", "no.such.op", NULL);
	assert_int_equal(r.status, 1);
	assert_jstr(r.json, "error.code", "bad_request");
	run_free(&r);
}

static void
test_call_bad_json_args_exits_2(void **state)
{
	static const char *const bad[] = {
		"{bad", "[1, 2]", "42", "\"text\"", "{\"a\": 1, \"a\": 2}", "",
	};
	struct run	r;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		run_cli(&r, NULL, "--server", srv.addr, "call", "health", bad[i],
		    NULL);
		if (r.status != 2)
			print_error("args %s: exit %d\n", bad[i], r.status);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "JSON"));
		assert_string_equal(r.out, "");
		run_free(&r);
	}
	/* Usage errors are 2 as well. */
	run_cli(&r, NULL, "--server", srv.addr, "call", NULL);
	assert_int_equal(r.status, 2);
	run_free(&r);
	run_cli(&r, NULL, "--server", srv.addr, "frobnicate", NULL);
	assert_int_equal(r.status, 2);
	run_free(&r);
}

static void
test_call_unreachable_server_exits_2(void **state)
{
	struct run	r;

	(void)state;
	/* Port 1 on loopback: nobody listens there. */
	run_cli(&r, NULL, "--server", "127.0.0.1:1", "call", "health", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "127.0.0.1:1"));
	run_free(&r);
	run_cli(&r, NULL, "--server", "no-port-here", "call", "health", NULL);
	assert_int_equal(r.status, 2);
	run_free(&r);
}

/* --- login, the stored session, logout --- */

static void
test_login_stores_private_session_used_by_call(void **state)
{
	struct run	 r;
	struct stat	 st;
	char		*path = session_file(), *dir, buf[512];
	FILE		*f;
	size_t		 n;

	(void)state;
	run_cli(&r, DEMO_PASSWORD "\n", "--server", srv.addr, "login", DEMO_ADMIN,
	    NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "Alex Morgan"));
	assert_non_null(strstr(r.out, "admin"));
	run_free(&r);

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	dir = xasprintf("%s/.config/mediflow", home);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	free(dir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, srv.addr));
	assert_non_null(strstr(buf, "token = "));
	/* The password itself is never written down. */
	assert_null(strstr(buf, DEMO_PASSWORD));

	run_cli(&r, NULL, "--server", srv.addr, "call", "auth.me", NULL);
	assert_int_equal(r.status, 0);
	assert_jstr(r.json, "result.user.email", DEMO_ADMIN);
	assert_jstr(r.json, "result.user.role", "admin");
	run_free(&r);
	run_cli(&r, NULL, "--server", srv.addr, "call", "users.list",
	    "{\"role\": \"doctor\", \"limit\": 1}", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(json_array_size(jpath(r.json, "result.users")), 1);
	run_free(&r);
	free(path);
}

static void
test_login_wrong_password_exits_1_and_stores_nothing(void **state)
{
	struct run	 r;
	char		*path = session_file();

	(void)state;
	run_cli(&r, "wrong-password\n", "--server", srv.addr, "login", DEMO_ADMIN,
	    NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "unauthenticated"));
	run_free(&r);
	assert_int_not_equal(access(path, F_OK), 0);
	free(path);
}

static void
test_session_is_only_used_for_its_own_server(void **state)
{
	struct run	 r;
	char		*other;

	(void)state;
	run_cli(&r, DEMO_PASSWORD "\n", "--server", srv.addr, "login", DEMO_DOCTOR,
	    NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* The same server under another name is another server to the client. */
	other = xasprintf("localhost:%d", srv.port);
	run_cli(&r, NULL, "--server", other, "call", "auth.me", NULL);
	assert_int_equal(r.status, 1);
	assert_jstr(r.json, "error.code", "unauthenticated");
	run_free(&r);
	free(other);
}

static void
test_logout_removes_session_and_revokes_token(void **state)
{
	struct run	 r;
	struct tcli	 c;
	char		*path = session_file(), line[512], *token = NULL;
	FILE		*f;

	(void)state;
	run_cli(&r, DEMO_PASSWORD "\n", "--server", srv.addr, "login",
	    DEMO_RECEPTION, NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "token = ", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			token = xstrdup(line + 8);
		}
	}
	fclose(f);
	assert_non_null(token);

	run_cli(&r, NULL, "--server", srv.addr, "logout", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_int_not_equal(access(path, F_OK), 0);
	run_cli(&r, NULL, "--server", srv.addr, "call", "auth.me", NULL);
	assert_int_equal(r.status, 1);
	assert_jstr(r.json, "error.code", "unauthenticated");
	run_free(&r);
	/* Not just forgotten here: ended on the server. */
	cli_open(&c, &srv);
	call_err(&c, "auth.resume", "unauthenticated", "{s:s}", "token", token);
	cli_close(&c);

	/* Logging out with nothing stored is fine too. */
	run_cli(&r, NULL, "--server", srv.addr, "logout", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	free(token);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_health_prints_ok_json_and_exits_0,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_call_error_reply_exits_1,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_call_bad_json_args_exits_2,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_call_unreachable_server_exits_2,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_login_stores_private_session_used_by_call,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_login_wrong_password_exits_1_and_stores_nothing,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_session_is_only_used_for_its_own_server,
		    setup_home, teardown_home),
		cmocka_unit_test_setup_teardown(test_logout_removes_session_and_revokes_token,
		    setup_home, teardown_home),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
