/* harness.c -- a private mediflowd per test file and a blocking client. */
#include <sys/prctl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "util.h"

/* How long a start or a stop may take (ASan builds are slow), before
 * test_time_scale(). */
#define START_TIMEOUT_MS	(60000 * test_time_scale())
#define STOP_TIMEOUT_MS		(30000 * test_time_scale())

static void	srv_dump_log(const struct tsrv *);
static int	rm_entry(const char *, const struct stat *, int, struct FTW *);
static void	sleep_ms(int);
static void	srv_reap(struct tsrv *, int block);
static void	asan_tune(void);
static void	env_clear_settings(void);

int
test_time_scale(void)
{
	const char	*v = getenv("MF_TEST_TIME_SCALE");
	int		 n = v != NULL ? atoi(v) : 1;

	return n >= 1 && n <= 1000 ? n : 1;
}

int
test_weak_hashes(void)
{
	const char	*v = getenv("MF_TEST_WEAK_HASHES");

	return v != NULL && strcmp(v, "1") == 0;
}

const char *
test_build_dir(void)
{
	const char	*o = getenv("O");

	return o != NULL && *o != '\0' ? o : "build";
}

static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
srv_dump_log(const struct tsrv *s)
{
	char	 buf[4096];
	size_t	 n;
	FILE	*f = fopen(s->log_path, "r");

	if (f == NULL)
		return;
	fprintf(stderr, "--- mediflowd log (%s) ---\n", s->log_path);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "--- end of log ---\n");
	fclose(f);
}

static void
srv_reap(struct tsrv *s, int block)
{
	pid_t	rc;

	if (s->reaped || s->pid <= 0)
		return;
	do
		rc = waitpid(s->pid, &s->status, block ? 0 : WNOHANG);
	while (rc < 0 && errno == EINTR);
	if (rc == s->pid)
		s->reaped = 1;
}

/* Drops every MEDIFLOW_* variable (the server reads its settings there). */
static void
env_clear_settings(void)
{
	extern char	**environ;
	char		  name[256];
	size_t		  n;
	int		  i = 0;

	while (environ[i] != NULL) {
		const char	*entry = environ[i];

		n = strcspn(entry, "=");
		if (strncmp(entry, "MEDIFLOW_", 9) == 0 && n < sizeof name) {
			memcpy(name, entry, n);
			name[n] = '\0';
			unsetenv(name);
		}
		/* unsetenv moved the rest down, unless it found nothing. */
		if (environ[i] == entry)
			i++;
	}
}

/*
 * Under AddressSanitizer freed memory waits in a 256 MB quarantine, which
 * would dwarf what the memory tests measure; a smaller one still catches
 * use-after-free. (Ignored by builds without ASan.)
 */
static void
asan_tune(void)
{
	const char	*old = getenv("ASAN_OPTIONS");
	char		*opts;

	if (old != NULL && strstr(old, "quarantine_size_mb") != NULL)
		return;
	opts = xasprintf("%s%squarantine_size_mb=16", old != NULL ? old : "",
	    old != NULL && *old != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	free(opts);
}

/* Reads the server's stdout until the line that names the port. */
static int
srv_wait_port(struct tsrv *s)
{
	static const char	 prefix[] = "mediflowd listening on ";
	static const char	 http_prefix[] = "mediflowd http on ";
	char			 buf[1024], *line, *nl, *p;
	size_t			 len = 0;
	ssize_t			 n;
	int			 waited = 0;

	for (;;) {
		struct pollfd	pfd = { .fd = s->out_fd, .events = POLLIN };

		if (poll(&pfd, 1, 100) == 0) {
			waited += 100;
			if (waited >= START_TIMEOUT_MS)
				return -1;
			continue;
		}
		n = read(s->out_fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			/* With --http its line comes first. */
			if (strncmp(line, http_prefix, sizeof http_prefix - 1) == 0 &&
			    (p = strstr(line, " port ")) != NULL)
				s->http_port = atoi(p + 6);
			if (strncmp(line, prefix, sizeof prefix - 1) == 0 &&
			    (p = strstr(line, " port ")) != NULL) {
				s->port = atoi(p + 6);
				return s->port > 0 ? 0 : -1;
			}
			line = nl + 1;
		}
		len = strlen(line);
		memmove(buf, line, len + 1);
		if (len == sizeof buf - 1)
			len = 0;
	}
}

void
srv_start(struct tsrv *s, const struct tsrv_opts *opts)
{
	const char	*tmp = getenv("TMPDIR");
	char		*argv[64], *bin, *conf_path = NULL;
	char		*wrapper, *wrapper_copy = NULL, *word;
	int		 argc = 0, pipefd[2], logfd, i;
	pid_t		 parent;
	FILE		*f;

	memset(s, 0, sizeof *s);
	s->out_fd = -1;
	if (opts != NULL && opts->data_dir != NULL) {
		assert_true(strlen(opts->data_dir) < sizeof s->dir);
		strlcpy_mf(s->dir, opts->data_dir, sizeof s->dir);
		s->keep_dir = 1;
	} else {
		snprintf(s->dir, sizeof s->dir, "%s/mediflow-itest-XXXXXX",
		    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
		assert_non_null(mkdtemp(s->dir));
	}
	snprintf(s->db_path, sizeof s->db_path, "%s/mediflow.db", s->dir);
	snprintf(s->log_path, sizeof s->log_path, "%s/mediflowd.log", s->dir);
	if (opts != NULL && opts->config != NULL) {
		conf_path = xasprintf("%s/mediflowd.conf", s->dir);
		assert_non_null(f = fopen(conf_path, "w"));
		fputs(opts->config, f);
		assert_int_equal(fclose(f), 0);
	}

	bin = xasprintf("%s/mediflowd", test_build_dir());
	/* A make running alongside may be relinking it: wait a little. */
	for (i = 0; i < 50 && access(bin, X_OK) != 0; i++)
		sleep_ms(100);
	if (access(bin, X_OK) != 0) {
		print_error("%s: not built (run make all)\n", bin);
		fail();
	}
	/* MF_SERVER_WRAPPER ("valgrind --error-exitcode=99 ...") runs the
	 * server under another program; words split on spaces. */
	if ((wrapper = getenv("MF_SERVER_WRAPPER")) != NULL && *wrapper != '\0') {
		wrapper = wrapper_copy = xstrdup(wrapper);
		while ((word = strsep(&wrapper, " ")) != NULL) {
			if (*word != '\0' && argc < 16)
				argv[argc++] = word;
		}
	}
	argv[argc++] = bin;
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--data-dir";
	argv[argc++] = s->dir;
	if (opts == NULL || !opts->no_demo)
		argv[argc++] = "--demo";
	if (opts == NULL || !opts->no_test_clock) {
		argv[argc++] = "--test-clock";
		/* make valgrind: argon2id at 64 MiB takes seconds there. The
		 * server refuses the flag without --test-clock. */
		if (test_weak_hashes())
			argv[argc++] = "--test-weak-hashes";
	}
	if (opts != NULL && opts->http) {
		argv[argc++] = "--http";
		argv[argc++] = "127.0.0.1:0";
	}
	if (conf_path != NULL) {
		argv[argc++] = "--config";
		argv[argc++] = conf_path;
	}
	for (i = 0; opts != NULL && opts->args != NULL && opts->args[i] != NULL; i++) {
		assert_true(argc < (int)nitems(argv) - 1);
		argv[argc++] = (char *)opts->args[i];
	}
	argv[argc] = NULL;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	/* A restart on the caller's dir adds to the log of the runs before. */
	logfd = open(s->log_path, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (s->keep_dir ? O_APPEND : O_TRUNC), 0600);
	assert_true(logfd >= 0);
	fflush(NULL);
	parent = getpid();
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* A failed assertion longjmps past srv_stop: the server must
		 * not outlive the test program (it was left running). */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(127);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		/* Only the test's own settings: nothing from the caller's shell. */
		env_clear_settings();
		asan_tune();
		for (i = 0; opts != NULL && opts->env != NULL &&
		    opts->env[i] != NULL; i++)
			putenv((char *)opts->env[i]);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	close(logfd);
	s->out_fd = pipefd[0];
	free(bin);
	free(conf_path);
	free(wrapper_copy);

	if (srv_wait_port(s) != 0) {
		print_error("mediflowd did not report its port\n");
		kill(s->pid, SIGKILL);
		srv_reap(s, 1);
		srv_dump_log(s);
		if (!s->keep_dir)
			rm_tree(s->dir);
		fail();
	}
	snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
	if (s->http_port > 0)
		snprintf(s->http_url, sizeof s->http_url, "http://127.0.0.1:%d",
		    s->http_port);
}

int
srv_alive(struct tsrv *s)
{
	srv_reap(s, 0);
	return !s->reaped;
}

void
srv_stop(struct tsrv *s)
{
	int	waited = 0, early, clean;

	if (s->pid <= 0)
		return;
	/* Gone before we asked: a crash or a kill, never a pass. */
	if ((early = !srv_alive(s)))
		print_error("mediflowd (pid %d) exited before the end of the test\n",
		    (int)s->pid);
	else {
		kill(s->pid, SIGTERM);
		while (srv_alive(s) && waited < STOP_TIMEOUT_MS) {
			sleep_ms(10);
			waited += 10;
		}
		if (!s->reaped) {
			print_error("mediflowd did not stop on SIGTERM\n");
			kill(s->pid, SIGKILL);
			srv_reap(s, 1);
		}
	}
	clean = !early && s->reaped && WIFEXITED(s->status) &&
	    WEXITSTATUS(s->status) == 0;
	if (!clean) {
		if (WIFSIGNALED(s->status))
			print_error("mediflowd died of signal %d\n", WTERMSIG(s->status));
		else
			print_error("mediflowd exited with status %d\n",
			    WEXITSTATUS(s->status));
		srv_dump_log(s);
	} else if (getenv("MF_TEST_LOG") != NULL)
		srv_dump_log(s);
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
	if (!s->keep_dir)
		rm_tree(s->dir);
	s->pid = 0;
	assert_true(clean);
}

void
srv_kill(struct tsrv *s)
{
	if (s->pid <= 0)
		return;
	if (!s->reaped)
		kill(s->pid, SIGKILL);
	srv_reap(s, 1);
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
	s->pid = 0;
}

long
srv_rss_kb(const struct tsrv *s)
{
	char	 path[64], line[256];
	long	 kb = -1;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* --- the client --- */

void
cli_connect(struct tcli *c, const struct tsrv *s)
{
	char	*cause = NULL;

	c->reply = NULL;
	if (mfc_connect(&c->mc, s->addr, &cause) != 0) {
		print_error("connect %s: %s\n", s->addr, cause);
		free(cause);
		fail();
	}
}

void
cli_open(struct tcli *c, const struct tsrv *s)
{
	cli_connect(c, s);
	call_ok(c, "hello", "{s:i}", "version", 1);
}

void
cli_close(struct tcli *c)
{
	json_decref(c->reply);
	c->reply = NULL;
	mfc_close(&c->mc);
}

json_t *
cli_call_json(struct tcli *c, const char *op, json_t *args)
{
	json_decref(c->reply);
	c->reply = mfc_call_json(&c->mc, op, args, CALL_TIMEOUT_MS);
	json_decref(args);
	return c->reply;
}

json_t *
cli_vcall(struct tcli *c, const char *op, const char *fmt, va_list ap)
{
	json_error_t	 err;
	json_t		*args = NULL;

	if (fmt != NULL && (args = json_vpack_ex(&err, 0, fmt, ap)) == NULL) {
		print_error("json_pack(\"%s\") for %s: %s\n", fmt, op, err.text);
		fail();
	}
	return cli_call_json(c, op, args);
}

json_t *
cli_call(struct tcli *c, const char *op, const char *fmt, ...)
{
	json_t	*reply;
	va_list	 ap;

	va_start(ap, fmt);
	reply = cli_vcall(c, op, fmt, ap);
	va_end(ap);
	return reply;
}

static void
print_reply(const char *what, json_t *reply)
{
	char	*s = reply != NULL ? json_dumps(reply, JSON_COMPACT) : NULL;

	print_error("%s: %s\n", what, s != NULL ? s : "(connection closed)");
	free(s);
}

json_t *
h_reply_ok(const char *file, int line, json_t *reply)
{
	if (reply == NULL || !json_is_true(json_object_get(reply, "ok"))) {
		print_reply("expected ok", reply);
		_fail(file, line);
	}
	return json_object_get(reply, "result");
}

json_t *
h_reply_err(const char *file, int line, json_t *reply, const char *code)
{
	const char	*got;

	got = jstr(reply, "error.code");
	if (reply == NULL || !json_is_false(json_object_get(reply, "ok")) ||
	    got == NULL || strcmp(got, code) != 0) {
		print_error("expected error %s\n", code);
		print_reply("got", reply);
		_fail(file, line);
	}
	return json_object_get(reply, "error");
}

json_t *
h_call_ok(const char *file, int line, struct tcli *c, const char *op,
    const char *fmt, ...)
{
	json_t	*reply;
	va_list	 ap;

	va_start(ap, fmt);
	reply = cli_vcall(c, op, fmt, ap);
	va_end(ap);
	if (reply == NULL || !json_is_true(json_object_get(reply, "ok")))
		print_error("%s failed\n", op);
	return h_reply_ok(file, line, reply);
}

json_t *
h_call_err(const char *file, int line, struct tcli *c, const char *op,
    const char *code, const char *fmt, ...)
{
	json_t	*reply;
	va_list	 ap;

	va_start(ap, fmt);
	reply = cli_vcall(c, op, fmt, ap);
	va_end(ap);
	if (reply == NULL || !json_is_false(json_object_get(reply, "ok")))
		print_error("%s unexpectedly succeeded\n", op);
	return h_reply_err(file, line, reply, code);
}

char *
h_login(const char *file, int line, struct tcli *c, const char *email,
    const char *password)
{
	json_t		*result;
	const char	*token;

	result = h_call_ok(file, line, c, "auth.login", "{s:s, s:s}",
	    "email", email, "password", password);
	if ((token = jstr(result, "token")) == NULL) {
		print_reply("login without a token", c->reply);
		_fail(file, line);
	}
	return xstrdup(token);
}

void
cli_open_as(struct tcli *c, const struct tsrv *s, const char *email)
{
	cli_open(c, s);
	free(cli_login(c, email, DEMO_PASSWORD));
}

void
h_clock_forward(const char *file, int line, struct tcli *c, int64_t seconds)
{
	h_call_ok(file, line, c, "test.clock", "{s:I}", "advance",
	    (json_int_t)seconds);
}

/* --- JSON access --- */

json_t *
jpath(json_t *j, const char *path)
{
	char		 part[128];
	const char	*p = path, *dot;
	size_t		 n;

	while (j != NULL && *p != '\0') {
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof part)
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		if (json_is_array(j))
			j = json_array_get(j, strtoul(part, NULL, 10));
		else
			j = json_object_get(j, part);
		p += n;
		if (*p == '.')
			p++;
	}
	return j;
}

const char *
jstr(json_t *j, const char *path)
{
	return json_string_value(jpath(j, path));
}

int64_t
jint(json_t *j, const char *path)
{
	json_t	*v = jpath(j, path);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

void
h_assert_jstr(const char *file, int line, json_t *j, const char *path,
    const char *want)
{
	const char	*got = jstr(j, path);

	if (got == NULL || strcmp(got, want) != 0) {
		print_error("%s: expected \"%s\", got %s%s%s\n", path, want,
		    got != NULL ? "\"" : "", got != NULL ? got : "nothing",
		    got != NULL ? "\"" : "");
		_fail(file, line);
	}
}

char *
unique_email(const char *prefix)
{
	static int	n;

	return xasprintf("%s-%d-%d@example.org", prefix, (int)getpid(), ++n);
}

char *
repeat_char(char ch, size_t n)
{
	char	*s = xmalloc(n + 1);

	memset(s, ch, n);
	s[n] = '\0';
	return s;
}
