/* test_reminders.c -- reminders end to end: a real SMTP server (aiosmtpd)
 * and a fake Twilio endpoint on loopback, the injectable clock, restarts
 * with SIGKILL in between, retries with backoff, the notify.* ops and the
 * patient's channel choice.
 *
 * The helpers run with /usr/bin/python3 (Debian's, which has aiosmtpd) and
 * write every message they get as JSON; the tests read those files. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
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
#include <sqlite3.h>

#include "harness.h"
#include "util.h"

#define PYTHON		"/usr/bin/python3"
#define SINK_SCRIPT	"tests/integration/smtp_sink.py"
#define TWILIO_SCRIPT	"tests/integration/fake_twilio.py"
#define MAIL_FROM	"clinic@example.org"
#define TWILIO_SID	"ACtest0123456789abcdef"
#define TWILIO_TOKEN	"s3cret-token"
#define TWILIO_FROM	"+15550199999"
#define WAIT_MS		(30000 * test_time_scale())	/* ASan and valgrind runs are
						 * slow; passing runs never wait
						 * this long */
#define QUIET_MS	700	/* how long "nothing more arrives" is watched */
#define DOCTOR_ID	1

/* A helper process: the SMTP sink or the fake Twilio. */
struct helper {
	pid_t	pid;
	int	port;
	char	dir[256];
};

/* One server with its helpers and its environment. */
struct rig {
	struct helper	 sink;
	struct helper	 twilio;
	char		 env_smtp[96];
	char		 env_twilio[96];
	const char	*env[8];
	char		 data_dir[256];	/* for restarts: our own data dir */
	const char	*args[8];
};

static struct rig	 shared;
static struct tsrv	 srv;
/* For the tests with servers of their own; own_teardown cleans up after a
 * failure, so no helper or server outlives the test. */
static struct rig	 own;
static struct tsrv	 own_srv;

/* --- small utilities --- */

static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
make_temp_dir(char *buf, size_t len, const char *what)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/mediflow-%s-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", what);
	assert_non_null(mkdtemp(buf));
}

/* --- helper processes --- */

static void
helper_start(struct helper *h, const char *script, const char *const *extra)
{
	char		 buf[256], *argv[16];
	size_t		 len = 0;
	ssize_t		 n;
	int		 pipefd[2], logfd, argc = 0, waited = 0, i;
	char		 log_path[PATH_MAX];

	if (access(PYTHON, X_OK) != 0 || access(script, R_OK) != 0) {
		print_error("%s or %s missing (make deps installs python3-aiosmtpd)\n",
		    PYTHON, script);
		fail();
	}
	memset(h, 0, sizeof *h);
	make_temp_dir(h->dir, sizeof h->dir, "helper");
	snprintf(log_path, sizeof log_path, "%s/helper.log", h->dir);
	argv[argc++] = PYTHON;
	argv[argc++] = (char *)script;
	argv[argc++] = h->dir;
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		argv[argc++] = (char *)extra[i];
	argv[argc] = NULL;
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(logfd >= 0);
	fflush(NULL);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execv(PYTHON, argv);
		_exit(127);
	}
	close(pipefd[1]);
	close(logfd);
	for (;;) {
		struct pollfd	pfd = { .fd = pipefd[0], .events = POLLIN };

		if (poll(&pfd, 1, 100) == 0) {
			waited += 100;
			if (waited > WAIT_MS)
				break;
			continue;
		}
		n = read(pipefd[0], buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strchr(buf, '\n') != NULL)
			break;
	}
	close(pipefd[0]);
	buf[len] = '\0';
	if (sscanf(buf, "READY %d", &h->port) != 1 || h->port <= 0) {
		print_error("%s did not start (see %s): %s\n", script, log_path, buf);
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		fail();
	}
}

static void
helper_stop(struct helper *h)
{
	if (h->pid <= 0)
		return;
	kill(h->pid, SIGTERM);
	waitpid(h->pid, NULL, 0);
	h->pid = 0;
	rm_tree(h->dir);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The helper's JSON records whose names start with prefix, in order. */
static json_t *
helper_records(const struct helper *h, const char *prefix)
{
	DIR		*d = opendir(h->dir);
	struct dirent	*e;
	char		*names[1024], *path;
	size_t		 n = 0, i;
	json_t		*all = json_array(), *j;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL && n < nitems(names)) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    strstr(e->d_name, ".json") != NULL)
			names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n; i++) {
		path = xasprintf("%s/%s", h->dir, names[i]);
		j = json_load_file(path, 0, NULL);
		assert_non_null(j);
		json_array_append_new(all, j);
		free(path);
		free(names[i]);
	}
	return all;
}

/* Mails the sink accepted for rcpt (kind NULL: any kind). */
static json_t *
mails_to(const struct helper *sink, const char *rcpt, const char *kind)
{
	json_t	*all = helper_records(sink, "msg-"), *out = json_array(), *m;
	size_t	 i;

	json_array_foreach(all, i, m) {
		if (strcmp(jstr(m, "rcpt_tos.0"), rcpt) != 0)
			continue;
		if (kind != NULL && strcmp(jstr(m, "kind"), kind) != 0)
			continue;
		json_array_append(out, m);
	}
	json_decref(all);
	return out;
}

/* Requests the fake Twilio got for a number. */
static json_t *
texts_to(const struct helper *twilio, const char *to)
{
	json_t	*all = helper_records(twilio, "req-"), *out = json_array(), *m;
	size_t	 i;

	json_array_foreach(all, i, m) {
		const char	*t = jstr(m, "form.To");

		if (t != NULL && strcmp(t, to) == 0)
			json_array_append(out, m);
	}
	json_decref(all);
	return out;
}

static size_t
count_mails(const struct helper *sink, const char *rcpt, const char *kind)
{
	json_t	*a = mails_to(sink, rcpt, kind);
	size_t	 n = json_array_size(a);

	json_decref(a);
	return n;
}

static size_t
count_texts(const struct helper *twilio, const char *to)
{
	json_t	*a = texts_to(twilio, to);
	size_t	 n = json_array_size(a);

	json_decref(a);
	return n;
}

/* Waits until at least want mails arrived; returns how many did. */
static size_t
wait_mails(const struct helper *sink, const char *rcpt, const char *kind,
    size_t want)
{
	size_t	n;
	int	waited = 0;

	while ((n = count_mails(sink, rcpt, kind)) < want && waited < WAIT_MS) {
		sleep_ms(50);
		waited += 50;
	}
	return n;
}

static size_t
wait_texts(const struct helper *twilio, const char *to, size_t want)
{
	size_t	n;
	int	waited = 0;

	while ((n = count_texts(twilio, to)) < want && waited < WAIT_MS) {
		sleep_ms(50);
		waited += 50;
	}
	return n;
}

/* Waits until the helper wrote at least want records named prefix*. */
static size_t
wait_records(const struct helper *h, const char *prefix, size_t want)
{
	json_t	*a;
	size_t	 n;
	int	 waited = 0;

	for (;;) {
		a = helper_records(h, prefix);
		n = json_array_size(a);
		json_decref(a);
		if (n >= want || waited >= WAIT_MS)
			return n;
		sleep_ms(50);
		waited += 50;
	}
}

/* --- the rig --- */

static void
rig_start_helpers(struct rig *g, const char *const *sink_args)
{
	memset(g, 0, sizeof *g);
	helper_start(&g->sink, SINK_SCRIPT, sink_args);
	helper_start(&g->twilio, TWILIO_SCRIPT, NULL);
	snprintf(g->env_smtp, sizeof g->env_smtp,
	    "MEDIFLOW_SMTP_URL=smtp://127.0.0.1:%d", g->sink.port);
	snprintf(g->env_twilio, sizeof g->env_twilio,
	    "MEDIFLOW_TWILIO_BASE_URL=http://127.0.0.1:%d", g->twilio.port);
	g->env[0] = g->env_smtp;
	g->env[1] = "MEDIFLOW_MAIL_FROM=" MAIL_FROM;
	g->env[2] = "MEDIFLOW_TWILIO_ACCOUNT_SID=" TWILIO_SID;
	g->env[3] = "MEDIFLOW_TWILIO_AUTH_TOKEN=" TWILIO_TOKEN;
	g->env[4] = "MEDIFLOW_TWILIO_FROM=" TWILIO_FROM;
	g->env[5] = g->env_twilio;
	g->env[6] = NULL;
}

static void
rig_stop_helpers(struct rig *g)
{
	helper_stop(&g->sink);
	helper_stop(&g->twilio);
}

/* Starts a server for the rig; with a data dir of our own when persistent
 * (so it survives a SIGKILL and a restart). */
static void
rig_server(struct rig *g, struct tsrv *s, int persistent, const char *tz)
{
	struct tsrv_opts	opts;
	int			n = 0;

	memset(&opts, 0, sizeof opts);
	if (persistent) {
		if (g->data_dir[0] == '\0')
			make_temp_dir(g->data_dir, sizeof g->data_dir, "remind");
		g->args[n++] = "--data-dir";
		g->args[n++] = g->data_dir;
	}
	if (tz != NULL) {
		g->args[n++] = "--tz";
		g->args[n++] = tz;
	}
	g->args[n] = NULL;
	opts.args = g->args;
	opts.env = g->env;
	srv_start(s, &opts);
}

/* Kills the server without a chance to clean up, as a crash would. */
static void
srv_crash(struct tsrv *s)
{
	assert_true(srv_alive(s));
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->out_fd);
	rm_tree(s->dir);	/* the harness's own dir; ours stays */
	s->pid = 0;
}

/* --- the clinic --- */

static int64_t
server_now(struct tcli *c)
{
	return jint(call_ok(c, "health", NULL), "time");
}

/* Advances the server clock to t (if ahead). */
static void
clock_to(struct tcli *c, int64_t t)
{
	int64_t	now = server_now(c);

	if (t > now)
		clock_forward(c, t - now);
}

/* A new patient with a unique e-mail and E.164 phone; returns its id. */
static int64_t
new_patient(struct tcli *desk, const char *name, char *email, size_t elen,
    char *phone, size_t plen)
{
	static int	seq;
	char		*e = unique_email("remind");
	json_t		*res;

	seq++;
	strlcpy_mf(email, e, elen);
	free(e);
	snprintf(phone, plen, "+1555%03d%04d", (int)(getpid() % 1000), seq * 10 + 1);
	res = call_ok(desk, "patients.create", "{s:s, s:s, s:s}", "full_name", name,
	    "email", email, "phone", phone);
	assert_true(jint(res, "patient.id") > 0);
	return jint(res, "patient.id");
}

/* The first free slot of the doctor starting at or after t (clinic in UTC). */
static int64_t
free_slot(struct tcli *c, int64_t t)
{
	char		date[16];
	time_t		day;
	struct tm	tm;
	json_t		*slots, *s;
	size_t		i;
	int		d;

	for (d = 0; d < 21; d++) {
		day = (time_t)(t + (int64_t)d * 86400);
		gmtime_r(&day, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		slots = jpath(call_ok(c, "appt.slots", "{s:i, s:s}", "doctor_id",
		    DOCTOR_ID, "date", date), "slots");
		json_array_foreach(slots, i, s) {
			if (jint(s, "starts_at") >= t)
				return jint(s, "starts_at");
		}
	}
	fail_msg("no free slot after %lld", (long long)t);
	return 0;
}

/* Books (approved, as the desk) and returns the appointment id. */
static int64_t
book(struct tcli *desk, int64_t patient_id, int64_t starts_at)
{
	json_t	*res = call_ok(desk, "appt.book", "{s:i, s:I, s:I, s:s}",
	    "doctor_id", DOCTOR_ID, "patient_id", (json_int_t)patient_id,
	    "starts_at", (json_int_t)starts_at, "reason", "Check-up, fever; cough");

	assert_jstr(res, "appointment.status", "approved");
	return jint(res, "appointment.id");
}

/* Logs in again on the same connection (clock jumps expire sessions). */
static void
relogin(struct tcli *c, const char *email)
{
	free(cli_login(c, email, DEMO_PASSWORD));
}

/* The outbox rows of an appointment, oldest first (admin). */
static json_t *
outbox_of(struct tcli *admin, int64_t appt_id)
{
	json_t	*res, *rows = json_array(), *m;
	size_t	 i, n;

	res = cli_call(admin, "notify.outbox", "{s:I, s:i}", "appointment_id",
	    (json_int_t)appt_id, "limit", 200);
	if (jstr(res, "error.code") != NULL &&
	    strcmp(jstr(res, "error.code"), "unauthenticated") == 0)
		relogin(admin, DEMO_ADMIN);
	res = call_ok(admin, "notify.outbox", "{s:I, s:i}", "appointment_id",
	    (json_int_t)appt_id, "limit", 200);
	n = json_array_size(json_object_get(res, "messages"));

	for (i = n; i > 0; i--) {
		m = json_array_get(json_object_get(res, "messages"), i - 1);
		json_array_append(rows, m);
	}
	return rows;
}

/* The row of an appointment by kind and channel (borrowed from rows), or NULL. */
static json_t *
row_of(json_t *rows, const char *kind, const char *channel)
{
	json_t	*m;
	size_t	 i;

	json_array_foreach(rows, i, m) {
		if (strcmp(jstr(m, "kind"), kind) == 0 &&
		    strcmp(jstr(m, "channel"), channel) == 0)
			return m;
	}
	return NULL;
}

/* Waits until the row (kind, channel) of the appointment reaches state. */
static json_t *
wait_row_state(struct tcli *admin, int64_t appt_id, const char *kind,
    const char *channel, const char *state)
{
	json_t	*rows = NULL, *m = NULL;
	int	 waited = 0;

	for (;;) {
		json_decref(rows);
		rows = outbox_of(admin, appt_id);
		m = row_of(rows, kind, channel);
		if ((m != NULL && strcmp(jstr(m, "state"), state) == 0) ||
		    waited >= WAIT_MS)
			break;
		sleep_ms(50);
		waited += 50;
	}
	if (m == NULL || strcmp(jstr(m, "state"), state) != 0) {
		char	*s = json_dumps(rows, JSON_COMPACT);

		print_error("%s/%s of appointment %lld never became %s: %s\n", kind,
		    channel, (long long)appt_id, state, s);
		free(s);
		fail();
	}
	json_incref(m);
	json_decref(rows);
	return m;
}

/* Nothing more arrives for rcpt within QUIET_MS. */
static void
assert_quiet(const struct rig *g, const char *email, size_t mails,
    const char *phone, size_t texts)
{
	sleep_ms(QUIET_MS);
	assert_int_equal(count_mails(&g->sink, email, NULL), mails);
	if (phone != NULL)
		assert_int_equal(count_texts(&g->twilio, phone), texts);
}

/*
 * The same, just before something falls due at due (server time). The
 * server's clock runs on in real time from where test.clock put it, so the
 * counts hold only if they were taken before it reached due: it is read
 * after them. A run slow enough to let it get there (valgrind, a loaded
 * machine) proves nothing either way and says so.
 */
static void
assert_quiet_before(const struct rig *g, struct tcli *c, int64_t due,
    const char *email, size_t mails, const char *phone, size_t texts)
{
	size_t	nmails, ntexts = 0;

	sleep_ms(QUIET_MS);
	nmails = count_mails(&g->sink, email, NULL);
	if (phone != NULL)
		ntexts = count_texts(&g->twilio, phone);
	if (server_now(c) >= due) {
		print_message("the server's clock reached %lld during the quiet "
		    "check: a slow run, nothing to conclude\n", (long long)due);
		return;
	}
	assert_int_equal(nmails, mails);
	if (phone != NULL)
		assert_int_equal(ntexts, texts);
}

static char *
ics_time(int64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;
	char		buf[32];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
	return xstrdup(buf);
}

/* Checks a reminder mail as the sink parsed it, and its .ics. */
static void
check_mail(json_t *m, const char *email, const char *kind, int64_t appt_uid,
    int64_t starts_at, int64_t ends_at)
{
	char	*want, *t;

	assert_jstr(m, "kind", kind);
	assert_jstr(m, "mail_from", MAIL_FROM);
	assert_jstr(m, "to_addr", email);
	assert_int_equal(json_array_size(json_object_get(m, "defects")), 0);
	assert_int_equal(json_array_size(json_object_get(m, "rcpt_tos")), 1);
	assert_true(strstr(jstr(m, "from"), MAIL_FROM) != NULL);
	assert_true(strstr(jstr(m, "message_id"), "@example.org>") != NULL);
	assert_true(strstr(jstr(m, "date"), "+0000") != NULL);
	assert_jstr(m, "content_type", "multipart/mixed");
	assert_true(strstr(jstr(m, "subject"), strcmp(kind, "confirmation") == 0 ?
	    "Appointment confirmed" : "Reminder") != NULL);
	assert_true(strstr(jstr(m, "text"), "Dr. Sarah Chen") != NULL);
	assert_non_null(jstr(m, "ics"));
	assert_true(strstr(jstr(m, "ics"), "BEGIN:VEVENT\r\n") != NULL);
	t = ics_time(starts_at);
	want = xasprintf("\r\nDTSTART:%s\r\n", t);
	assert_true(strstr(jstr(m, "ics"), want) != NULL);
	free(want);
	free(t);
	t = ics_time(ends_at);
	want = xasprintf("\r\nDTEND:%s\r\n", t);
	assert_true(strstr(jstr(m, "ics"), want) != NULL);
	free(want);
	free(t);
	want = xasprintf("\r\nUID:appointment-%lld@example.org\r\n", (long long)appt_uid);
	assert_true(strstr(jstr(m, "ics"), want) != NULL);
	free(want);
	/* The reason's comma and semicolon are escaped in the .ics. */
	assert_true(strstr(jstr(m, "ics"), "Check-up\\, fever\\; cough") != NULL);
}

static void
check_text(json_t *t, const char *phone)
{
	const char	*body = jstr(t, "form.Body");

	assert_jstr(t, "method", "POST");
	assert_jstr(t, "path", "/2010-04-01/Accounts/" TWILIO_SID "/Messages.json");
	assert_jstr(t, "user", TWILIO_SID);
	assert_jstr(t, "password", TWILIO_TOKEN);
	assert_true(strncmp(jstr(t, "content_type"),
	    "application/x-www-form-urlencoded", 33) == 0);
	assert_jstr(t, "form.To", phone);
	assert_jstr(t, "form.From", TWILIO_FROM);
	assert_non_null(body);
	assert_true(strstr(body, "Dr. Sarah Chen") != NULL);
	/* GSM-7 text: two segments are 306 characters at most. */
	assert_true(strlen(body) <= 306);
}

/* --- setup --- */

static int
group_setup(void **state)
{
	(void)state;
	rig_start_helpers(&shared, NULL);
	rig_server(&shared, &srv, 0, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	rig_stop_helpers(&shared);
	return 0;
}

static int
own_teardown(void **state)
{
	(void)state;
	if (own_srv.pid > 0) {
		kill(own_srv.pid, SIGKILL);
		waitpid(own_srv.pid, NULL, 0);
		if (own_srv.out_fd >= 0)
			close(own_srv.out_fd);
		rm_tree(own_srv.dir);
		own_srv.pid = 0;
	}
	if (own.data_dir[0] != '\0')
		rm_tree(own.data_dir);
	rig_stop_helpers(&own);
	memset(&own, 0, sizeof own);
	return 0;
}

/* --- the tests --- */

static void
test_approved_for_tomorrow_gets_24h_then_1h_reminders(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, end, now;
	json_t		*rows, *m, *texts;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Tomorrow Patient", email, sizeof email, phone,
	    sizeof phone);
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	end = jint(desk.reply, "result.appointment.ends_at");

	/* Planned in the booking's transaction: 24h and 1h on both channels. */
	rows = outbox_of(&admin, appt);
	assert_int_equal(jint(row_of(rows, "24h", "email"), "due_at"), start - 86400);
	assert_int_equal(jint(row_of(rows, "1h", "email"), "due_at"), start - 3600);
	assert_int_equal(jint(row_of(rows, "24h", "sms"), "due_at"), start - 86400);
	assert_int_equal(jint(row_of(rows, "1h", "sms"), "due_at"), start - 3600);
	assert_non_null(row_of(rows, "confirmation", "email"));
	json_decref(rows);

	/* The booking confirmation goes out at once, with the .ics. */
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);
	m = mails_to(&shared.sink, email, "confirmation");
	check_mail(json_array_get(m, 0), email, "confirmation", appt, start, end);
	assert_jstr(json_array_get(m, 0), "to_name", "Tomorrow Patient");
	json_decref(m);

	/* Not a second early. */
	clock_to(&desk, start - 86400 - 5);
	assert_quiet_before(&shared, &desk, start - 86400, email, 1, phone, 0);
	clock_forward(&desk, 10);
	assert_int_equal(wait_mails(&shared.sink, email, "24h", 1), 1);
	assert_int_equal(wait_texts(&shared.twilio, phone, 1), 1);
	m = mails_to(&shared.sink, email, "24h");
	check_mail(json_array_get(m, 0), email, "24h", appt, start, end);
	json_decref(m);
	texts = texts_to(&shared.twilio, phone);
	check_text(json_array_get(texts, 0), phone);
	json_decref(texts);
	m = wait_row_state(&admin, appt, "24h", "sms", "sent");
	assert_int_equal(jint(m, "attempts"), 1);
	assert_true(strncmp(jstr(m, "provider_ref"), "SM", 2) == 0);
	assert_jstr(m, "recipient", phone);
	json_decref(m);
	m = wait_row_state(&admin, appt, "24h", "email", "sent");
	assert_jstr(m, "recipient", email);
	json_decref(m);
	assert_quiet(&shared, email, 2, phone, 1);

	/* The 1 h reminder, later. */
	clock_to(&desk, start - 3600 - 5);
	assert_quiet_before(&shared, &desk, start - 3600, email, 2, phone, 1);
	clock_forward(&desk, 10);
	assert_int_equal(wait_mails(&shared.sink, email, "1h", 1), 1);
	assert_int_equal(wait_texts(&shared.twilio, phone, 2), 2);
	m = mails_to(&shared.sink, email, "1h");
	check_mail(json_array_get(m, 0), email, "1h", appt, start, end);
	json_decref(m);
	json_decref(wait_row_state(&admin, appt, "1h", "email", "sent"));
	json_decref(wait_row_state(&admin, appt, "1h", "sms", "sent"));

	/* And nothing else, ever: past the start too. */
	clock_to(&desk, start + 3600);
	assert_quiet(&shared, email, 3, phone, 2);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_patient_request_gets_reminders_once_approved(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 appt, start, now;
	json_t		*rows;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	/* The demo patient books for themself: a request, no reminders yet. */
	strlcpy_mf(email, DEMO_PATIENT, sizeof email);
	strlcpy_mf(phone, "+15550100010", sizeof phone);
	{
		struct tcli	pat;

		cli_open_as(&pat, &srv, DEMO_PATIENT);
		now = server_now(&pat);
		start = free_slot(&pat, now + 3 * 86400);
		appt = jint(call_ok(&pat, "appt.book", "{s:i, s:I}", "doctor_id",
		    DOCTOR_ID, "starts_at", (json_int_t)start), "appointment.id");
		assert_jstr(pat.reply, "result.appointment.status", "requested");
		cli_close(&pat);
	}
	rows = outbox_of(&admin, appt);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	call_ok(&desk, "appt.approve", "{s:I}", "id", (json_int_t)appt);
	rows = outbox_of(&admin, appt);
	assert_non_null(row_of(rows, "24h", "email"));
	assert_non_null(row_of(rows, "1h", "sms"));
	json_decref(rows);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);
	json_decref(wait_row_state(&admin, appt, "confirmation", "email", "sent"));

	/* A reminder sent tells the patient in the app too, made with the
	 * "sent" state; the confirmation did not (the approval told them). */
	{
		struct tcli	 pat;
		json_t		*list, *n;
		size_t		 i, found = 0;

		cli_open_as(&pat, &srv, DEMO_PATIENT);
		list = call_ok(&pat, "notifications.list", "{s:i}", "limit", 200);
		json_array_foreach(jpath(list, "notifications"), i, n)
			if (strcmp(jstr(n, "kind"), "reminder.sent") == 0 &&
			    jint(n, "ref_id") == appt)
				found++;
		assert_int_equal(found, 0);
		clock_to(&desk, start - 86400 + 5);
		assert_int_equal(wait_mails(&shared.sink, email, "24h", 1), 1);
		json_decref(wait_row_state(&admin, appt, "24h", "email", "sent"));
		/* Two days on: the sessions have expired. */
		relogin(&pat, DEMO_PATIENT);
		relogin(&desk, DEMO_RECEPTION);
		list = call_ok(&pat, "notifications.list", "{s:i}", "limit", 200);
		json_array_foreach(jpath(list, "notifications"), i, n) {
			if (strcmp(jstr(n, "kind"), "reminder.sent") == 0 &&
			    jint(n, "ref_id") == appt) {
				found++;
				assert_non_null(strstr(jstr(n, "body"), "reminder"));
			}
		}
		assert_true(found >= 1);
		cli_close(&pat);
	}
	/* Cancel it again so the demo patient's later days stay free. */
	call_ok(&desk, "appt.cancel", "{s:I}", "id", (json_int_t)appt);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_reschedule_moves_both_reminders(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, next, s1, s2, end2, now;
	json_t		*rows, *m;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Moving Patient", email, sizeof email, phone,
	    sizeof phone);
	now = server_now(&desk);
	s1 = free_slot(&desk, now + 30 * 3600);
	appt = book(&desk, pid, s1);
	s2 = free_slot(&desk, s1 + 2 * 86400);
	next = jint(call_ok(&desk, "appt.reschedule", "{s:I, s:I}", "id",
	    (json_int_t)appt, "starts_at", (json_int_t)s2), "appointment.id");
	end2 = jint(desk.reply, "result.appointment.ends_at");

	/* The old appointment keeps nothing to send; the new one has both. */
	rows = outbox_of(&admin, appt);
	assert_null(row_of(rows, "24h", "email"));
	assert_null(row_of(rows, "1h", "email"));
	assert_null(row_of(rows, "24h", "sms"));
	json_decref(rows);
	rows = outbox_of(&admin, next);
	assert_int_equal(jint(row_of(rows, "24h", "email"), "due_at"), s2 - 86400);
	assert_int_equal(jint(row_of(rows, "1h", "email"), "due_at"), s2 - 3600);
	assert_int_equal(jint(row_of(rows, "24h", "sms"), "due_at"), s2 - 86400);
	assert_int_equal(jint(row_of(rows, "1h", "sms"), "due_at"), s2 - 3600);
	json_decref(rows);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 2), 2);

	/* The old times pass in silence. */
	clock_to(&desk, s1 + 60);
	assert_quiet(&shared, email, 2, phone, 0);
	/* The new ones ring. */
	clock_to(&desk, s2 - 86400 + 5);
	assert_int_equal(wait_mails(&shared.sink, email, "24h", 1), 1);
	assert_int_equal(wait_texts(&shared.twilio, phone, 1), 1);
	m = mails_to(&shared.sink, email, "24h");
	/* The calendar entry keeps the first appointment's UID, one sequence on. */
	check_mail(json_array_get(m, 0), email, "24h", appt, s2, end2);
	assert_true(strstr(jstr(json_array_get(m, 0), "ics"), "\r\nSEQUENCE:1\r\n") != NULL);
	json_decref(m);
	clock_to(&desk, s2 - 3600 + 5);
	assert_int_equal(wait_mails(&shared.sink, email, "1h", 1), 1);
	assert_int_equal(wait_texts(&shared.twilio, phone, 2), 2);
	assert_quiet(&shared, email, 4, phone, 2);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_cancel_drops_reminders(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;
	json_t		*rows, *m;
	size_t		 i;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Cancelling Patient", email, sizeof email, phone,
	    sizeof phone);
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);
	call_ok(&desk, "appt.cancel", "{s:I, s:s}", "id", (json_int_t)appt,
	    "reason", "patient called");
	rows = outbox_of(&admin, appt);
	json_array_foreach(rows, i, m) {
		assert_string_not_equal(jstr(m, "state"), "pending");
		assert_string_not_equal(jstr(m, "state"), "retry");
	}
	assert_null(row_of(rows, "24h", "email"));
	json_decref(rows);
	clock_to(&desk, start + 60);
	assert_quiet(&shared, email, 1, phone, 0);
	cli_close(&desk);
	cli_close(&admin);
}

/*
 * The timer sleeps until the earliest row due (here another patient's
 * reminder, days ahead); a booking's confirmation is due at once and must
 * go out without the clock moving, whatever wakes the timer for it.
 */
static void
test_confirmation_goes_out_while_the_timer_waits(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32], email2[128], phone2[32];
	int64_t		 pid, pid2, appt, start, now;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Waiting Timer", email, sizeof email, phone,
	    sizeof phone);
	pid2 = new_patient(&desk, "Woken Timer", email2, sizeof email2, phone2,
	    sizeof phone2);
	now = server_now(&desk);
	start = free_slot(&desk, now + 3 * 86400);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);
	/* Sent and settled: the timer now waits days for the 24h rows. */
	json_decref(wait_row_state(&admin, appt, "confirmation", "email", "sent"));

	appt = book(&desk, pid2, free_slot(&desk, start + 3600));
	assert_int_equal(wait_mails(&shared.sink, email2, "confirmation", 1), 1);
	json_decref(wait_row_state(&admin, appt, "confirmation", "email", "sent"));
	/* Nothing else went out early for either. */
	assert_quiet(&shared, email, 1, phone, 0);
	assert_int_equal(count_mails(&shared.sink, email2, NULL), 1);
	assert_int_equal(count_texts(&shared.twilio, phone2), 0);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_appointment_that_began_is_skipped_not_sent(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;
	json_t		*m;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Late Patient", email, sizeof email, phone,
	    sizeof phone);
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "email");
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);
	/* Both moments and the start pass in one jump (a long downtime). */
	clock_to(&desk, start + 5);
	m = wait_row_state(&admin, appt, "24h", "email", "skipped");
	assert_true(strstr(jstr(m, "last_error"), "begun") != NULL);
	json_decref(m);
	json_decref(wait_row_state(&admin, appt, "1h", "email", "skipped"));
	assert_quiet(&shared, email, 1, phone, 0);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_both_due_at_once_sends_only_the_later(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;
	json_t		*m;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Catching Up", email, sizeof email, phone,
	    sizeof phone);
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "email");
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);
	/* Down through both moments, back before the start: one reminder. */
	clock_to(&desk, start - 1800);
	assert_int_equal(wait_mails(&shared.sink, email, "1h", 1), 1);
	m = wait_row_state(&admin, appt, "24h", "email", "skipped");
	assert_true(strstr(jstr(m, "last_error"), "superseded") != NULL);
	json_decref(m);
	assert_quiet(&shared, email, 2, NULL, 0);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_manual_reminder_roles_and_rate_limit(void **state)
{
	struct tcli	 desk, doc, other, pat, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;
	json_t		*res, *m;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Manual Patient", email, sizeof email, phone,
	    sizeof phone);
	now = server_now(&desk);
	start = free_slot(&desk, now + 5 * 86400);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&shared.sink, email, "confirmation", 1), 1);

	cli_open_as(&pat, &srv, DEMO_PATIENT);
	call_err(&pat, "notify.send_reminder", "forbidden", "{s:I}",
	    "appointment_id", (json_int_t)appt);
	cli_close(&pat);
	cli_open_as(&other, &srv, "m.okafor@test.com");
	call_err(&other, "notify.send_reminder", "forbidden", "{s:I}",
	    "appointment_id", (json_int_t)appt);
	cli_close(&other);
	call_err(&desk, "notify.send_reminder", "not_found", "{s:I}",
	    "appointment_id", (json_int_t)999999);
	call_err(&desk, "notify.send_reminder", "bad_request", "{s:s}",
	    "appointment_id", "x");

	/* The appointment's own doctor may. */
	cli_open_as(&doc, &srv, DEMO_DOCTOR);
	res = call_ok(&doc, "notify.send_reminder", "{s:I}", "appointment_id",
	    (json_int_t)appt);
	assert_int_equal(jint(res, "appointment_id"), appt);
	assert_int_equal(json_array_size(json_object_get(res, "reminders")), 2);
	assert_int_equal(wait_mails(&shared.sink, email, "manual", 1), 1);
	assert_int_equal(wait_texts(&shared.twilio, phone, 1), 1);
	m = mails_to(&shared.sink, email, "manual");
	assert_true(strstr(jstr(json_array_get(m, 0), "subject"), "Reminder") != NULL);
	json_decref(m);

	/* Rate-limited per appointment, for everyone. */
	m = call_err(&desk, "notify.send_reminder", "rate_limited", "{s:I}",
	    "appointment_id", (json_int_t)appt);
	assert_true(jint(m, "retry_after") > 0 && jint(m, "retry_after") <= 600);
	clock_forward(&desk, 601);
	call_ok(&desk, "notify.send_reminder", "{s:I}", "appointment_id",
	    (json_int_t)appt);
	assert_int_equal(wait_mails(&shared.sink, email, "manual", 2), 2);
	assert_int_equal(wait_texts(&shared.twilio, phone, 2), 2);

	/* Not for a cancelled appointment. */
	call_ok(&desk, "appt.cancel", "{s:I}", "id", (json_int_t)appt);
	clock_forward(&desk, 601);
	call_err(&desk, "notify.send_reminder", "conflict", "{s:I}",
	    "appointment_id", (json_int_t)appt);
	/* Audited. */
	relogin(&admin, DEMO_ADMIN);
	res = call_ok(&admin, "audit.list", "{s:s, s:I}", "action",
	    "notify.send_reminder", "patient_id", (json_int_t)pid);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 2);
	cli_close(&doc);
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_outbox_and_retry_are_admin_only_and_failures_notify(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now, id;
	json_t		*res, *m;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	call_err(&desk, "notify.outbox", "forbidden", NULL);
	call_err(&desk, "notify.retry", "forbidden", "{s:i}", "id", 1);

	/* A number the provider refuses (400): failed at once, admins told. */
	pid = new_patient(&desk, "Bad Number", email, sizeof email, phone,
	    sizeof phone);
	call_ok(&desk, "patients.update", "{s:I, s:s}", "id", (json_int_t)pid,
	    "phone", "+15550000400");
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "sms");
	now = server_now(&desk);
	start = free_slot(&desk, now + 3 * 86400);
	appt = book(&desk, pid, start);
	call_ok(&desk, "notify.send_reminder", "{s:I}", "appointment_id",
	    (json_int_t)appt);
	m = wait_row_state(&admin, appt, "manual", "sms", "failed");
	assert_int_equal(jint(m, "attempts"), 1);
	assert_true(strstr(jstr(m, "last_error"), "HTTP 400") != NULL);
	assert_true(strstr(jstr(m, "last_error"), "not a valid phone number") != NULL);
	id = jint(m, "id");
	json_decref(m);
	res = call_ok(&admin, "audit.list", "{s:s, s:I}", "action", "notify.failed",
	    "patient_id", (json_int_t)pid);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 1);
	/* And an in-app notification for the admins. */
	res = call_ok(&admin, "notifications.list", "{s:b}", "unread_only", 1);
	assert_jstr(res, "notifications.0.kind", "reminder.failed");
	assert_int_equal(jint(res, "notifications.0.ref_id"), appt);
	res = call_ok(&admin, "notify.outbox", "{s:s}", "state", "failed");
	assert_true(jint(res, "total") >= 1);
	assert_jstr(res, "messages.0.state", "failed");

	/* Retry: pending again, tried again (and refused again). */
	res = call_ok(&admin, "notify.retry", "{s:I}", "id", (json_int_t)id);
	assert_int_equal(jint(res, "message.id"), id);
	m = wait_row_state(&admin, appt, "manual", "sms", "failed");
	assert_int_equal(jint(m, "attempts"), 1);
	json_decref(m);
	assert_int_equal(count_texts(&shared.twilio, "+15550000400") >= 2, 1);

	/* A sent message is never sent again. */
	call_err(&admin, "notify.retry", "not_found", "{s:i}", "id", 99999999);
	pid = new_patient(&desk, "Good Number", email, sizeof email, phone,
	    sizeof phone);
	appt = book(&desk, pid, free_slot(&desk, now + 3 * 86400));
	m = wait_row_state(&admin, appt, "confirmation", "email", "sent");
	call_err(&admin, "notify.retry", "conflict", "{s:I}", "id",
	    (json_int_t)jint(m, "id"));
	json_decref(m);
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "sent",
	    "limit", 1);
	assert_jstr(res, "messages.0.state", "sent");
	assert_int_equal(json_array_size(json_object_get(res, "messages")), 1);
	call_err(&admin, "notify.outbox", "bad_request", "{s:s}", "state", "bogus");
	cli_close(&desk);
	cli_close(&admin);
}

static void
test_patient_channel_choice(void **state)
{
	struct tcli	 desk, admin, pat, doc;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;
	json_t		*rows, *res;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Choosy Patient", email, sizeof email, phone,
	    sizeof phone);
	res = call_ok(&desk, "patients.get_reminder_channels", "{s:I}", "patient_id",
	    (json_int_t)pid);
	assert_jstr(res, "channels", "both");
	assert_true(json_is_true(json_object_get(res, "default")));
	now = server_now(&desk);
	start = free_slot(&desk, now + 4 * 86400);
	appt = book(&desk, pid, start);
	rows = outbox_of(&admin, appt);
	assert_non_null(row_of(rows, "24h", "sms"));
	json_decref(rows);

	/* "none" drops what is pending; "sms" plans SMS only. */
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "none");
	rows = outbox_of(&admin, appt);
	assert_null(row_of(rows, "24h", "sms"));
	assert_null(row_of(rows, "24h", "email"));
	json_decref(rows);
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "sms");
	rows = outbox_of(&admin, appt);
	assert_non_null(row_of(rows, "24h", "sms"));
	assert_non_null(row_of(rows, "1h", "sms"));
	assert_null(row_of(rows, "24h", "email"));
	json_decref(rows);
	res = call_ok(&desk, "patients.get_reminder_channels", "{s:I}", "patient_id",
	    (json_int_t)pid);
	assert_jstr(res, "channels", "sms");
	assert_false(json_is_true(json_object_get(res, "default")));

	/* No SMS without an E.164 number. */
	call_ok(&desk, "patients.update", "{s:I, s:s}", "id", (json_int_t)pid,
	    "phone", "555-0100");
	call_err(&desk, "patients.set_reminder_channels", "conflict", "{s:I, s:s}",
	    "patient_id", (json_int_t)pid, "channels", "both");
	call_err(&desk, "patients.set_reminder_channels", "bad_request", "{s:I, s:s}",
	    "patient_id", (json_int_t)pid, "channels", "pigeon");
	call_err(&desk, "patients.set_reminder_channels", "bad_request", "{s:s}",
	    "channels", "email");

	/* Patients choose for themselves only; doctors do not choose. */
	cli_open_as(&pat, &srv, DEMO_PATIENT);
	res = call_ok(&pat, "patients.set_reminder_channels", "{s:s}", "channels",
	    "email");
	assert_jstr(res, "channels", "email");
	assert_jstr(call_ok(&pat, "patients.get_reminder_channels", NULL), "channels",
	    "email");
	call_err(&pat, "patients.set_reminder_channels", "forbidden", "{s:I, s:s}",
	    "patient_id", (json_int_t)pid, "channels", "none");
	call_err(&pat, "patients.get_reminder_channels", "forbidden", "{s:I}",
	    "patient_id", (json_int_t)pid);
	call_ok(&pat, "patients.set_reminder_channels", "{s:s}", "channels", "both");
	cli_close(&pat);
	cli_open_as(&doc, &srv, DEMO_DOCTOR);
	call_err(&doc, "patients.set_reminder_channels", "forbidden", "{s:I, s:s}",
	    "patient_id", (json_int_t)pid, "channels", "none");
	cli_close(&doc);
	cli_close(&desk);
	cli_close(&admin);
}

/* --- tests with their own servers --- */

static void
test_restart_between_planning_and_due_sends_each_once(void **state)
{
	struct tcli	 desk;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;

	(void)state;
	rig_start_helpers(&own, NULL);
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	pid = new_patient(&desk, "Crash Patient", email, sizeof email, phone,
	    sizeof phone);
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&own.sink, email, "confirmation", 1), 1);
	cli_close(&desk);
	/* Make sure the confirmation's outcome is on disk before the crash. */
	{
		struct tcli	admin;

		cli_open_as(&admin, &own_srv, DEMO_ADMIN);
		json_decref(wait_row_state(&admin, appt, "confirmation", "email", "sent"));
		cli_close(&admin);
	}
	srv_crash(&own_srv);

	/* Second life: the 24 h reminder. */
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	clock_to(&desk, start - 86400 + 5);
	assert_int_equal(wait_mails(&own.sink, email, "24h", 1), 1);
	assert_int_equal(wait_texts(&own.twilio, phone, 1), 1);
	{
		struct tcli	admin;

		cli_open_as(&admin, &own_srv, DEMO_ADMIN);
		json_decref(wait_row_state(&admin, appt, "24h", "email", "sent"));
		json_decref(wait_row_state(&admin, appt, "24h", "sms", "sent"));
		cli_close(&admin);
	}
	cli_close(&desk);
	srv_crash(&own_srv);

	/* Third life, its clock back at the real time: the 1 h reminder, and
	 * the 24 h one not again. */
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	assert_quiet(&own, email, 2, phone, 1);
	clock_to(&desk, start - 3600 + 5);
	assert_int_equal(wait_mails(&own.sink, email, "1h", 1), 1);
	assert_int_equal(wait_texts(&own.twilio, phone, 2), 2);
	assert_quiet(&own, email, 3, phone, 2);
	assert_int_equal(count_mails(&own.sink, email, "confirmation"), 1);
	assert_int_equal(count_mails(&own.sink, email, "24h"), 1);
	cli_close(&desk);
	srv_stop(&own_srv);
	rm_tree(own.data_dir);
	rig_stop_helpers(&own);
}

/* A zone where it is about noon now, so "in an hour" stays on today. */
static void
noon_zone(char *buf, size_t len)
{
	time_t		now = time(NULL);
	struct tm	tm;
	int		k;

	gmtime_r(&now, &tm);
	k = 12 - tm.tm_hour;	/* local = UTC + k, k in -11..12 */
	if (k >= 0)
		snprintf(buf, len, "Etc/GMT-%d", k);
	else
		snprintf(buf, len, "Etc/GMT+%d", -k);
}

static void
test_reminder_due_while_down_is_sent_after_restart(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32], tz[32];
	int64_t		 pid, appt, start, now;
	json_t		*week, *m;
	int		 wd, lead;

	(void)state;
	noon_zone(tz, sizeof tz);
	rig_start_helpers(&own, NULL);
	rig_server(&own, &own_srv, 1, tz);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	/* Open all day, every day, so "now + 1 h" is bookable. */
	week = json_array();
	for (wd = 1; wd <= 7; wd++)
		json_array_append_new(week, json_pack("{s:i, s:s, s:s, s:i}", "weekday",
		    wd, "start", "00:00", "end", "24:00", "slot_minutes", 20));
	reply_ok(cli_call_json(&desk, "availability.set", json_pack("{s:i, s:o}",
	    "doctor_id", DOCTOR_ID, "weekly", week)));
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	/*
	 * The 1 h reminder falls due `lead` seconds from now (real time: a
	 * restarted server's test clock starts again at the real time), and
	 * the crash must come first. A run too slow for the lead (valgrind, a
	 * loaded machine) cancels and books again with a longer one, for a new
	 * patient, so that nothing the first may have sent counts.
	 */
	for (lead = 10;; lead *= 3) {
		pid = new_patient(&desk, "Downtime Patient", email, sizeof email,
		    phone, sizeof phone);
		call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}",
		    "patient_id", (json_int_t)pid, "channels", "email");
		now = server_now(&desk);
		start = now + 3600 + lead;
		appt = book(&desk, pid, start);
		json_decref(wait_row_state(&admin, appt, "confirmation", "email",
		    "sent"));
		m = outbox_of(&admin, appt);
		/* Read before the due second (the server's timer never fires
		 * before it), with 2 s to spare for the crash. */
		if (time(NULL) + 2 <= start - 3600)
			break;
		json_decref(m);
		print_message("a lead of %d s was too short; again with %d s\n",
		    lead, lead * 3);
		if (lead * 3 > 270)
			fail_msg("even %d s were too short to book before the crash",
			    lead);
		call_ok(&desk, "appt.cancel", "{s:I}", "id", (json_int_t)appt);
	}
	assert_string_equal(jstr(row_of(m, "1h", "email"), "state"), "pending");
	assert_null(row_of(m, "24h", "email"));	/* its moment had passed */
	json_decref(m);
	cli_close(&admin);
	cli_close(&desk);
	srv_crash(&own_srv);

	/* Down while it falls due. */
	while (time(NULL) < start - 3600 + 1)
		sleep_ms(100);
	assert_int_equal(count_mails(&own.sink, email, "1h"), 0);
	rig_server(&own, &own_srv, 1, tz);
	assert_int_equal(wait_mails(&own.sink, email, "1h", 1), 1);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	m = wait_row_state(&admin, appt, "1h", "email", "sent");
	assert_int_equal(jint(m, "attempts"), 1);
	json_decref(m);
	cli_close(&admin);
	assert_quiet(&own, email, 2, NULL, 0);
	srv_stop(&own_srv);
	rm_tree(own.data_dir);
	rig_stop_helpers(&own);
}

static void
test_smtp_refusing_twice_then_accepting_delivers_once(void **state)
{
	static const char *const sink_args[] = { "--refuse", "2", "--refuse-kind",
	    "24h", NULL };
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now, due;
	json_t		*m, *refused, *rows;

	(void)state;
	rig_start_helpers(&own, sink_args);
	rig_server(&own, &own_srv, 0, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Patient Retry", email, sizeof email, phone,
	    sizeof phone);
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "email");
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	assert_int_equal(wait_mails(&own.sink, email, "confirmation", 1), 1);

	clock_to(&desk, start - 86400 + 1);
	m = wait_row_state(&admin, appt, "24h", "email", "retry");
	assert_int_equal(jint(m, "attempts"), 1);
	assert_true(strstr(jstr(m, "last_error"), "451") != NULL);
	due = jint(m, "due_at");
	assert_true(due > start - 86400);
	json_decref(m);

	/* The backoff: nothing before it ends. The server's clock runs on
	 * from due - 2 in real time: the row holds only if it was read before
	 * the clock reached due (read after it; see assert_quiet_before). */
	clock_to(&desk, due - 2);
	sleep_ms(QUIET_MS);
	rows = outbox_of(&admin, appt);
	m = row_of(rows, "24h", "email");
	assert_non_null(m);
	if (server_now(&desk) < due) {
		assert_string_equal(jstr(m, "state"), "retry");
		assert_int_equal(jint(m, "attempts"), 1);
	} else
		print_message("the server's clock reached the end of the backoff "
		    "during the check: a slow run, nothing to conclude\n");
	json_decref(rows);
	clock_to(&desk, due + 1);
	for (;;) {
		m = wait_row_state(&admin, appt, "24h", "email", "retry");
		if (jint(m, "attempts") == 2)
			break;
		json_decref(m);
		sleep_ms(50);
	}
	due = jint(m, "due_at");
	json_decref(m);
	clock_to(&desk, due + 1);
	m = wait_row_state(&admin, appt, "24h", "email", "sent");
	assert_int_equal(jint(m, "attempts"), 3);
	assert_null(jstr(m, "last_error"));
	json_decref(m);

	assert_int_equal(wait_mails(&own.sink, email, "24h", 1), 1);
	refused = helper_records(&own.sink, "refused-");
	assert_int_equal(json_array_size(refused), 2);
	json_decref(refused);
	assert_quiet(&own, email, 2, NULL, 0);
	cli_close(&desk);
	cli_close(&admin);
	srv_stop(&own_srv);
	rig_stop_helpers(&own);
}

/*
 * libcurl waits for the answer to the end of a message in a blocking loop;
 * that wait must never hold up the server: while a slow mail server sits on
 * the message, other requests keep being answered. The sink holds its
 * answer until the test releases it (10 s at most: the server's SMTP reply
 * timeout is 15 s).
 */
static void
test_slow_mail_server_does_not_stall_other_requests(void **state)
{
	static const char *const sink_args[] = { "--slow-data", "10", NULL };
	struct tcli	 desk, admin;
	char		 email[128], phone[32], *release;
	int64_t		 pid, appt, start, now;
	json_t		*m, *rows;
	FILE		*f;
	int		 i;

	(void)state;
	rig_start_helpers(&own, sink_args);
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Slow Mail Patient", email, sizeof email, phone,
	    sizeof phone);
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "email");
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	m = wait_row_state(&admin, appt, "confirmation", "email", "sending");
	json_decref(m);
	/* The whole message is at the sink, which sits on its answer:
	 * libcurl is in its wait now (`sending` alone comes before the first
	 * byte, and under valgrind long before the end of the message). */
	assert_int_equal(wait_records(&own.sink, "data-", 1), 1);
	for (i = 0; i < 20; i++)
		call_ok(&desk, "health", NULL);
	/* Answered while the mail is still in flight: the loop was free. */
	rows = outbox_of(&admin, appt);
	assert_non_null(row_of(rows, "confirmation", "email"));
	assert_string_equal(jstr(row_of(rows, "confirmation", "email"), "state"),
	    "sending");
	json_decref(rows);
	release = xasprintf("%s/release", own.sink.dir);
	assert_non_null(f = fopen(release, "w"));
	fclose(f);
	free(release);
	m = wait_row_state(&admin, appt, "confirmation", "email", "sent");
	json_decref(m);
	assert_int_equal(wait_mails(&own.sink, email, "confirmation", 1), 1);
	cli_close(&desk);
	cli_close(&admin);
	srv_stop(&own_srv);
	rm_tree(own.data_dir);
	rig_stop_helpers(&own);
}

static void
test_interrupted_sends_are_sent_again_after_stop_and_crash(void **state)
{
	static const char *const sink_args[] = { "--hang-mail", "2", NULL };
	struct tcli	 desk, admin;
	char		 email[128], phone[32];
	int64_t		 pid, appt, start, now;
	json_t		*m, *hung;

	(void)state;
	rig_start_helpers(&own, sink_args);
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Stalled Patient", email, sizeof email, phone,
	    sizeof phone);
	call_ok(&desk, "patients.set_reminder_channels", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "channels", "email");
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	/* The server stalls after the greeting: the row is on disk as
	 * `sending`, and the server keeps answering meanwhile. */
	m = wait_row_state(&admin, appt, "confirmation", "email", "sending");
	assert_int_equal(jint(m, "attempts"), 1);
	json_decref(m);
	/* `sending` is on disk before the first byte goes out: wait for the
	 * sink to hold the transfer, or the stop may come before it does. */
	assert_int_equal(wait_records(&own.sink, "hung-", 1), 1);
	call_ok(&desk, "health", NULL);
	cli_close(&desk);
	cli_close(&admin);
	/* A clean stop does not wait for the stalled transfer. */
	srv_stop(&own_srv);

	/* Second life: sent again, stalls again; this time we crash. */
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	for (;;) {
		m = wait_row_state(&admin, appt, "confirmation", "email", "sending");
		if (jint(m, "attempts") == 2)
			break;
		json_decref(m);
		sleep_ms(50);
	}
	json_decref(m);
	/* The crash comes while the sink holds the second transfer (under
	 * valgrind the gap from `sending` to MAIL FROM is long enough for a
	 * crash to fall in it, and the third life's send then hung). */
	assert_int_equal(wait_records(&own.sink, "hung-", 2), 2);
	cli_close(&admin);
	srv_crash(&own_srv);

	/* Third life: the row left in `sending` goes out again, and lands. */
	rig_server(&own, &own_srv, 1, NULL);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	m = wait_row_state(&admin, appt, "confirmation", "email", "sent");
	assert_int_equal(jint(m, "attempts"), 3);
	json_decref(m);
	assert_int_equal(wait_mails(&own.sink, email, "confirmation", 1), 1);
	hung = helper_records(&own.sink, "hung-");
	assert_int_equal(json_array_size(hung), 2);
	json_decref(hung);
	assert_quiet(&own, email, 1, NULL, 0);
	cli_close(&admin);
	srv_stop(&own_srv);
	rm_tree(own.data_dir);
	rig_stop_helpers(&own);
}

static void
test_without_settings_mail_and_sms_are_off_quietly(void **state)
{
	struct tcli	 desk, admin;
	char		 email[128], phone[32], line[512];
	int64_t		 pid, appt, start, now;
	json_t		*res;
	FILE		*f;
	int		 said_mail = 0, said_sms = 0, errors = 0;

	(void)state;
	srv_start(&own_srv, NULL);
	cli_open_as(&desk, &own_srv, DEMO_RECEPTION);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	pid = new_patient(&desk, "Offline Patient", email, sizeof email, phone,
	    sizeof phone);
	now = server_now(&desk);
	start = free_slot(&desk, now + 26 * 3600);
	appt = book(&desk, pid, start);
	res = call_ok(&admin, "notify.outbox", "{s:I}", "appointment_id",
	    (json_int_t)appt);
	assert_int_equal(jint(res, "total"), 0);
	call_err(&desk, "notify.send_reminder", "conflict", "{s:I}",
	    "appointment_id", (json_int_t)appt);
	clock_to(&desk, start - 1800);
	assert_non_null(f = fopen(own_srv.log_path, "r"));
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, "e-mail disabled") != NULL)
			said_mail++;
		if (strstr(line, "SMS disabled") != NULL)
			said_sms++;
		if ((strstr(line, "remind") != NULL || strstr(line, "mail") != NULL ||
		    strstr(line, "SMS") != NULL || strstr(line, "curl") != NULL) &&
		    (strstr(line, "error") != NULL || strstr(line, "failed") != NULL))
			errors++;
	}
	fclose(f);
	assert_int_equal(said_mail, 1);
	assert_int_equal(said_sms, 1);
	assert_int_equal(errors, 0);
	cli_close(&desk);
	cli_close(&admin);
	srv_stop(&own_srv);
}

/*
 * A clinic's outbox keeps every message ever planned: counting and paging
 * stop at the newest OUTBOX_REACH (10,000) matching rows and say so, and
 * every filter walks an index from its newest end. 10,040 sent rows and 10
 * failed ones go in with the store's own connection.
 */
static void
test_big_outbox_counts_and_pages_the_newest_10000(void **state)
{
	struct tcli	 admin;
	sqlite3		*db;
	json_t		*res, *msgs;
	int64_t		 prev;
	size_t		 i;

	(void)state;
	srv_start(&own_srv, NULL);
	cli_open_as(&admin, &own_srv, DEMO_ADMIN);
	assert_int_equal(sqlite3_open(own_srv.db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 "
	    "UNION ALL SELECT i + 1 FROM n WHERE i < 10050) "
	    "INSERT INTO reminders (appointment_id, kind, channel, due_at, state, "
	    "created_at, updated_at) SELECT 900000 + i, '24h', 'sms', 1000 + i, "
	    "CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'sent' END, 1, 1 FROM n",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	/* More than the reach: counted up to it, capped, newest first. */
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "sent",
	    "limit", 200);
	assert_int_equal(jint(res, "total"), 10000);
	assert_true(json_is_true(jpath(res, "total_capped")));
	msgs = jpath(res, "messages");
	assert_int_equal(json_array_size(msgs), 200);
	prev = INT64_MAX;
	for (i = 0; i < json_array_size(msgs); i++) {
		assert_jstr(json_array_get(msgs, i), "state", "sent");
		assert_true(jint(json_array_get(msgs, i), "id") < prev);
		prev = jint(json_array_get(msgs, i), "id");
	}
	assert_int_equal(jint(json_array_get(msgs, 0), "appointment_id"), 910050);
	/* Pages end at the reach: the last one short, then none. */
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i, s:i}", "state", "sent",
	    "offset", 9990, "limit", 50);
	assert_int_equal(json_array_size(jpath(res, "messages")), 10);
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "sent",
	    "offset", 10000);
	assert_int_equal(json_array_size(jpath(res, "messages")), 0);
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "all",
	    "offset", 2147483647);
	assert_int_equal(json_array_size(jpath(res, "messages")), 0);
	assert_int_equal(jint(res, "total"), 10000);
	assert_true(json_is_true(jpath(res, "total_capped")));

	/* Fewer than the reach: exact. */
	res = call_ok(&admin, "notify.outbox", "{s:s}", "state", "failed");
	assert_int_equal(jint(res, "total"), 10);
	assert_true(json_is_false(jpath(res, "total_capped")));
	msgs = jpath(res, "messages");
	assert_int_equal(json_array_size(msgs), 10);
	assert_int_equal(jint(json_array_get(msgs, 0), "appointment_id"), 910000);
	assert_int_equal(jint(json_array_get(msgs, 9), "appointment_id"), 901000);
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "failed",
	    "offset", 8);
	assert_int_equal(json_array_size(jpath(res, "messages")), 2);
	assert_int_equal(jint(json_array_get(jpath(res, "messages"), 1),
	    "appointment_id"), 901000);
	/* One appointment's rows, in any state or in its own. */
	res = call_ok(&admin, "notify.outbox", "{s:i}", "appointment_id", 905000);
	assert_int_equal(jint(res, "total"), 1);
	assert_true(json_is_false(jpath(res, "total_capped")));
	assert_jstr(json_array_get(jpath(res, "messages"), 0), "state", "failed");
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "sent",
	    "appointment_id", 905000);
	assert_int_equal(jint(res, "total"), 0);
	assert_int_equal(json_array_size(jpath(res, "messages")), 0);
	res = call_ok(&admin, "notify.outbox", "{s:s, s:i}", "state", "sent",
	    "appointment_id", 905001);
	assert_int_equal(jint(res, "total"), 1);
	res = call_ok(&admin, "notify.outbox", "{s:s}", "state", "pending");
	assert_true(json_is_false(jpath(res, "total_capped")));
	cli_close(&admin);
	srv_stop(&own_srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_approved_for_tomorrow_gets_24h_then_1h_reminders),
		cmocka_unit_test(test_patient_request_gets_reminders_once_approved),
		cmocka_unit_test(test_reschedule_moves_both_reminders),
		cmocka_unit_test(test_cancel_drops_reminders),
		cmocka_unit_test(test_confirmation_goes_out_while_the_timer_waits),
		cmocka_unit_test(test_appointment_that_began_is_skipped_not_sent),
		cmocka_unit_test(test_both_due_at_once_sends_only_the_later),
		cmocka_unit_test(test_manual_reminder_roles_and_rate_limit),
		cmocka_unit_test(test_outbox_and_retry_are_admin_only_and_failures_notify),
		cmocka_unit_test(test_patient_channel_choice),
		/* These start servers of their own. */
		cmocka_unit_test_teardown(test_restart_between_planning_and_due_sends_each_once,
		    own_teardown),
		cmocka_unit_test_teardown(test_reminder_due_while_down_is_sent_after_restart,
		    own_teardown),
		cmocka_unit_test_teardown(test_smtp_refusing_twice_then_accepting_delivers_once,
		    own_teardown),
		cmocka_unit_test_teardown(test_slow_mail_server_does_not_stall_other_requests,
		    own_teardown),
		cmocka_unit_test_teardown(test_interrupted_sends_are_sent_again_after_stop_and_crash,
		    own_teardown),
		cmocka_unit_test_teardown(test_without_settings_mail_and_sms_are_off_quietly,
		    own_teardown),
		cmocka_unit_test_teardown(test_big_outbox_counts_and_pages_the_newest_10000,
		    own_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
