/* test_secure.c -- the secure channel against a real mediflowd: encrypted
 * requests end to end, key pinning in the client (trust on first use, a
 * changed key refused loudly with nothing sent), tampered, replayed and cut
 * records closing only their own connection, and plain clients refused
 * where encryption is required. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "channel.h"
#include "frame.h"
#include "harness.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

static struct tsrv	srv;
static char		home[256];
static char		known[PATH_MAX];	/* home's known_servers for the library tests */

/*
 * What sec_open offers: a test's initial state for the tests run once per
 * suite (mediflow's own offer, AES-256-GCM on a CPU with AES-NI; XChaCha20;
 * the "MFE1" hello of older clients), 0 (mediflow's) for the others.
 */
static unsigned		offer_default = 0;
static unsigned		offer_xchacha = CHANNEL_SUITE_XCHACHA20;
static unsigned		offer_v1 = CHANNEL_OFFER_V1;
static unsigned		sec_offer;

struct run {
	int	 status;
	char	*out;
	char	*err;
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

static int
setup_home(void **state)
{
	const char	*tmp = getenv("TMPDIR");

	sec_offer = *state != NULL ? *(unsigned *)*state : 0;
	snprintf(home, sizeof home, "%s/mediflow-home-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(home) == NULL)
		return -1;
	snprintf(known, sizeof known, "%s/.config/mediflow/known_servers", home);
	return 0;
}

static int
teardown_home(void **state)
{
	(void)state;
	rm_tree(home);
	return 0;
}

/* --- helpers --- */

static char *
read_file(const char *path)
{
	char	*buf = NULL;
	size_t	 len = 0, n;
	char	 chunk[4096];
	FILE	*f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (buf == NULL)
		buf = xstrdup("");
	else
		buf[len] = '\0';
	return buf;
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

/* Runs argv with the test's HOME and input (or /dev/null) on stdin. */
static void
run_argv(struct run *r, char **argv, const char *input)
{
	char		*bin = argv[0];
	int		 in[2], out[2], err[2], status, open_fds = 2;
	size_t		 outlen = 0, errlen = 0;
	pid_t		 pid;

	memset(r, 0, sizeof *r);
	r->out = xstrdup("");
	r->err = xstrdup("");
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
		unsetenv("MEDIFLOW_FINGERPRINT");
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
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (getenv("MF_TEST_LOG") != NULL)
		print_message("%s exit %d\nstdout: %s\nstderr: %s\n", bin,
		    r->status, r->out, r->err);
}

/* Runs "$O/PROGRAM ARGS..." (NULL-terminated) with stdin from /dev/null;
 * the caller frees r with run_free. */
static void
run(struct run *r, const char *program, ...)
{
	char		*argv[16];
	const char	*a;
	va_list		 ap;
	int		 argc = 0;

	argv[argc++] = xasprintf("%s/%s", test_build_dir(), program);
	va_start(ap, program);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	run_argv(r, argv, NULL);
	free(argv[0]);
}

/* Runs `mediflow --server ADDR call health` on a pseudo-terminal (util-linux
 * script), typing answer; 0 when script(1) is not there. */
static int
run_on_tty(struct run *r, const char *addr, const char *answer)
{
	char	*argv[6], *cmd;

	if (access("/usr/bin/script", X_OK) != 0)
		return 0;
	cmd = xasprintf("%s/mediflow --server %s call health", test_build_dir(),
	    addr);
	argv[0] = "/usr/bin/script";
	argv[1] = "-qec";
	argv[2] = cmd;
	argv[3] = "/dev/null";
	argv[4] = NULL;
	run_argv(r, argv, answer);
	free(cmd);
	return 1;
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

/* What `mediflowd --fingerprint` says about a server's data dir; allocated. */
static char *
server_fingerprint(const struct tsrv *s)
{
	struct run	 r;
	char		*fp;

	run(&r, "mediflowd", "--fingerprint", "--data-dir", s->dir, NULL);
	assert_int_equal(r.status, 0);
	r.out[strcspn(r.out, "\n")] = '\0';
	assert_int_equal(strncmp(r.out, "SHA256:", 7), 0);
	fp = xstrdup(r.out);
	run_free(&r);
	return fp;
}

/* Opens an encrypted connection, pinning into the test's known_servers. */
static int
sec_connect_to(struct tcli *c, const char *addr, const char *fingerprint,
    int trust_new, char **cause)
{
	struct mfc_trust	t;

	memset(&t, 0, sizeof t);
	t.known_servers = known;
	t.trust_new = trust_new;
	t.fingerprint = fingerprint;
	t.timeout_ms = CALL_TIMEOUT_MS;
	t.channel_offer = sec_offer;
	c->reply = NULL;
	return mfc_connect_secure(&c->mc, addr, &t, cause);
}

/* The suite a connection of this test must have settled on. */
static unsigned
sec_suite_expected(void)
{
	if (sec_offer == 0)
		return channel_suites_available() & CHANNEL_SUITE_AES256GCM ?
		    CHANNEL_SUITE_AES256GCM : CHANNEL_SUITE_XCHACHA20;
	return sec_offer == CHANNEL_SUITE_AES256GCM ? CHANNEL_SUITE_AES256GCM :
	    CHANNEL_SUITE_XCHACHA20;
}

static void
sec_open(struct tcli *c, const struct tsrv *s)
{
	char	*cause = NULL;

	if (sec_connect_to(c, s->addr, NULL, 1, &cause) != MFC_OK) {
		print_error("secure connect %s: %s\n", s->addr, cause);
		free(cause);
		fail();
	}
	assert_non_null(c->mc.chan);
	assert_int_equal(channel_suite(c->mc.chan), sec_suite_expected());
	assert_int_equal(c->mc.chan->v1, sec_offer == CHANNEL_OFFER_V1);
	call_ok(c, "hello", "{s:i}", "version", PROTO_VERSION);
}

static void
assert_closed(struct tcli *c)
{
	const msgpack_object	*o;

	assert_int_equal(mfc_read(&c->mc, CALL_TIMEOUT_MS, &o), -1);
}

/* A packed {id, op} request frame (header and body); allocated. */
static unsigned char *
request_frame(uint64_t id, const char *op, size_t *len)
{
	msgpack_sbuffer	 body, frame;
	msgpack_packer	 pk;
	unsigned char	*out;

	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, id);
	mp_pack_kv_str(&pk, "op", op);
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 0);
	msgpack_sbuffer_init(&frame);
	frame_wrap(&frame, body.data, body.size);
	out = xmalloc(frame.size);
	memcpy(out, frame.data, frame.size);
	*len = frame.size;
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&frame);
	return out;
}

/* Seals a health request as one record with the connection's own keys. */
static size_t
sealed_health(struct tcli *c, uint64_t id, unsigned char *rec, size_t cap)
{
	unsigned char	*frame;
	size_t		 len, rlen;

	frame = request_frame(id, "health", &len);
	assert_true(CHANNEL_SEALED_LEN(len) <= cap);
	rlen = channel_seal(c->mc.chan, frame, len, rec);
	free(frame);
	return rlen;
}

/* --- end to end --- */

static void
test_encrypted_session_works_end_to_end(void **state)
{
	struct tcli	 c;
	json_t		*res, *args;
	char		*fp, *big;

	(void)state;
	sec_open(&c, &srv);
	/* The key the client saw is the one the server's admin can print. */
	fp = server_fingerprint(&srv);
	assert_string_equal(c.mc.fingerprint, fp);
	assert_true(c.mc.key_new);
	free(cli_login(&c, DEMO_ADMIN, DEMO_PASSWORD));
	assert_jstr(call_ok(&c, "auth.me", NULL), "user.email", DEMO_ADMIN);
	res = call_ok(&c, "users.list", "{s:s}", "role", "doctor");
	assert_true(json_array_size(json_object_get(res, "users")) > 0);
	res = call_ok(&c, "appt.list", NULL);
	assert_non_null(res);
	/* A request several records long: refused for its content (an
	 * unknown argument), read whole, the connection kept. */
	big = repeat_char('x', 3 * CHANNEL_RECORD_MAX);
	args = json_pack("{s:s}", "verbose", big);
	assert_non_null(cli_call_json(&c, "health", args));
	reply_err(c.reply, "bad_request");
	assert_jstr(call_ok(&c, "health", NULL), "status", "ok");
	free(big);
	free(fp);
	cli_close(&c);
}

static void
test_pipelined_requests_are_answered_in_order(void **state)
{
	struct tcli		 c;
	unsigned char		*frame, *all = NULL;
	const msgpack_object	*o, *id;
	size_t			 len, total = 0;
	uint64_t		 i;

	(void)state;
	sec_open(&c, &srv);
	/* Twenty requests in one write (so in one record). */
	for (i = 100; i < 120; i++) {
		frame = request_frame(i, "health", &len);
		all = xrealloc(all, total + len);
		memcpy(all + total, frame, len);
		total += len;
		free(frame);
	}
	assert_int_equal(mfc_write(&c.mc, all, total), 0);
	for (i = 100; i < 120; i++) {
		assert_int_equal(mfc_read(&c.mc, CALL_TIMEOUT_MS, &o), 0);
		id = mp_map_get(o, "id");
		assert_non_null(id);
		assert_int_equal(id->via.u64, i);
	}
	free(all);
	cli_close(&c);
}

static void
test_a_reply_longer_than_a_record_arrives_whole(void **state)
{
	struct tcli		 desk, admin;
	const msgpack_object	*o;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	unsigned char		*frame, *all = NULL;
	size_t			 len, total = 0;
	uint64_t		 i;
	json_t			*res;

	(void)state;
	/* Every refused request is audited: 500 of them make a long log. */
	sec_open(&desk, &srv);
	free(cli_login(&desk, DEMO_RECEPTION, DEMO_PASSWORD));
	for (i = 1000; i < 1500; i++) {
		frame = request_frame(i, "users.reset_password", &len);
		all = xrealloc(all, total + len);
		memcpy(all + total, frame, len);
		total += len;
		free(frame);
	}
	assert_int_equal(mfc_write(&desk.mc, all, total), 0);
	for (i = 1000; i < 1500; i++)
		assert_int_equal(mfc_read(&desk.mc, CALL_TIMEOUT_MS, &o), 0);
	free(all);
	cli_close(&desk);

	sec_open(&admin, &srv);
	free(cli_login(&admin, DEMO_ADMIN, DEMO_PASSWORD));
	res = call_ok(&admin, "audit.list", "{s:i}", "limit", 500);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 500);
	/* As msgpack (about 66 KB) the reply took two records. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_to_msgpack(res, &pk);
	assert_true(sb.size > CHANNEL_RECORD_MAX);
	msgpack_sbuffer_destroy(&sb);
	cli_close(&admin);
}

static void
test_a_bad_frame_inside_the_channel_gets_an_encrypted_error(void **state)
{
	static const unsigned char	garbage[] = { 0, 0, 0, 3, 0xc1, 0xc1, 0xc1 };
	struct tcli			c;
	const msgpack_object		*o;
	json_t				*reply;

	(void)state;
	sec_open(&c, &srv);
	assert_int_equal(mfc_write(&c.mc, garbage, sizeof garbage), 0);
	assert_int_equal(mfc_read(&c.mc, CALL_TIMEOUT_MS, &o), 0);
	reply = msgpack_to_json(o);
	reply_err(reply, "bad_request");
	assert_int_equal(jint(reply, "id"), 0);
	json_decref(reply);
	assert_closed(&c);
	cli_close(&c);
}

/* --- pinning, through the mediflow binary --- */

static void
test_cli_trust_new_key_pins_the_servers_key(void **state)
{
	struct run	 r;
	struct stat	 st;
	char		*fp, *pins, *line;

	(void)state;
	fp = server_fingerprint(&srv);
	/* Without a terminal, a first key is not trusted unasked. */
	run(&r, "mediflow", "--server", srv.addr, "call", "health", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, fp));
	assert_non_null(strstr(r.err, "--trust-new-key"));
	assert_string_equal(r.out, "");
	run_free(&r);
	assert_int_not_equal(access(known, F_OK), 0);

	run(&r, "mediflow", "--server", srv.addr, "--trust-new-key", "call",
	    "health", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ok\": true"));
	assert_non_null(strstr(r.err, fp));
	run_free(&r);
	assert_int_equal(stat(known, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	pins = read_file(known);
	line = xasprintf("%s %s\n", srv.addr, fp);
	assert_string_equal(pins, line);
	free(line);
	free(pins);

	/* Pinned now: no flag needed, nothing added. */
	run(&r, "mediflow", "--server", srv.addr, "call", "health", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	run_free(&r);
	pins = read_file(known);
	assert_int_equal(strchr(pins, '\n') - pins + 1, (long)strlen(pins));
	free(pins);

	/* A fingerprint given on the command line pins without the file. */
	run(&r, "mediflow", "--server", srv.addr, "--fingerprint", fp, "call",
	    "health", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	free(fp);
}

static void
test_cli_asks_about_a_first_key_on_a_terminal(void **state)
{
	struct run	 r;
	char		*fp, *pins;

	(void)state;
	fp = server_fingerprint(&srv);
	if (!run_on_tty(&r, srv.addr, "n\n"))
		skip();
	/* script(1) puts the terminal's output, stderr included, on stdout. */
	assert_non_null(strstr(r.out, fp));
	assert_non_null(strstr(r.out, "Trust it? [y/N]"));
	assert_null(strstr(r.out, "\"ok\": true"));
	assert_int_not_equal(r.status, 0);
	run_free(&r);
	assert_int_not_equal(access(known, F_OK), 0);

	assert_true(run_on_tty(&r, srv.addr, "y\n"));
	assert_non_null(strstr(r.out, "Trust it? [y/N]"));
	assert_non_null(strstr(r.out, "\"ok\": true"));
	assert_int_equal(r.status, 0);
	run_free(&r);
	pins = read_file(known);
	assert_non_null(pins);
	assert_non_null(strstr(pins, fp));
	free(pins);

	/* Pinned: not asked again. */
	assert_true(run_on_tty(&r, srv.addr, ""));
	assert_null(strstr(r.out, "Trust it?"));
	assert_non_null(strstr(r.out, "\"ok\": true"));
	run_free(&r);
	free(fp);
}

static void
test_cli_refuses_a_fingerprint_that_does_not_match(void **state)
{
	struct run	 r;
	char		*fp, *conf, *dir;
	FILE		*f;

	(void)state;
	fp = server_fingerprint(&srv);
	run(&r, "mediflow", "--server", srv.addr, "--fingerprint",
	    "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU", "call",
	    "health", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "WARNING: THE SERVER'S KEY HAS CHANGED"));
	assert_non_null(strstr(r.err, fp));
	assert_string_equal(r.out, "");
	run_free(&r);

	/* The same from client.conf, for the server it names. */
	dir = xasprintf("%s/.config/mediflow", home);
	assert_int_equal(mkdir_p(dir, 0700), 0);
	conf = xasprintf("%s/client.conf", dir);
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, "server = %s\nfingerprint = SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	    srv.addr);
	fclose(f);
	run(&r, "mediflow", "call", "health", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "KEY HAS CHANGED"));
	run_free(&r);
	/* The right one, from client.conf, without the "SHA256:" prefix. */
	assert_non_null(f = fopen(conf, "w"));
	fprintf(f, "server = %s\nfingerprint = %s\n", srv.addr, fp + 7);
	fclose(f);
	run(&r, "mediflow", "call", "health", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* Nothing was pinned in known_servers by either. */
	assert_int_not_equal(access(known, F_OK), 0);
	free(conf);
	free(dir);
	free(fp);
}

static void
test_changed_server_key_is_refused_loudly_with_nothing_sent(void **state)
{
	static const char *const args_v[] = { "-v", NULL };
	struct tsrv		 first, second;
	struct tsrv_opts	 opts = { 0 };
	struct run		 r;
	const char		*args[4];
	char			 listen[64];
	char			*fp1, *fp2, *log;
	int			 waited;

	(void)state;
	opts.no_demo = 1;
	srv_start(&first, &opts);
	fp1 = server_fingerprint(&first);
	run(&r, "mediflow", "--server", first.addr, "--trust-new-key", "call",
	    "health", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
	srv_stop(&first);

	/* Another server, another key, at the same address. */
	snprintf(listen, sizeof listen, "127.0.0.1:%d", first.port);
	args[0] = "--listen";
	args[1] = listen;
	args[2] = args_v[0];
	args[3] = NULL;
	opts.args = args;
	srv_start(&second, &opts);
	assert_string_equal(second.addr, first.addr);
	fp2 = server_fingerprint(&second);
	assert_string_not_equal(fp1, fp2);

	run(&r, "mediflow", "--server", second.addr, "--trust-new-key", "call",
	    "auth.login", "{\"email\": \"admin@test.com\", \"password\": \"secret\"}",
	    NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "WARNING: THE SERVER'S KEY HAS CHANGED"));
	assert_non_null(strstr(r.err, fp1));
	assert_non_null(strstr(r.err, fp2));
	assert_non_null(strstr(r.err, "known_servers, line 1"));
	assert_non_null(strstr(r.err, "Nothing was sent"));
	run_free(&r);

	/* The server saw a handshake abandoned, never a request: its log
	 * says so once it has noticed the client go (later under valgrind). */
	assert_true(srv_alive(&second));
	for (waited = 0;; waited += 10) {
		log = read_file(second.log_path);
		assert_non_null(log);
		if (strstr(log, "left during the handshake") != NULL ||
		    waited >= CALL_TIMEOUT_MS)
			break;
		free(log);
		usleep(10000);
	}
	if (strstr(log, "left during the handshake") == NULL ||
	    strstr(log, "): encrypted") != NULL || strstr(log, "secret") != NULL) {
		print_error("server log:\n%s\n", log);
		fail();
	}
	free(log);
	srv_stop(&second);
	free(fp1);
	free(fp2);
}

/* --- an attacker on the wire --- */

static void
test_a_flipped_byte_closes_only_that_connection(void **state)
{
	struct tcli	victim, bystander;
	unsigned char	rec[512];
	size_t		len, i;

	(void)state;
	cli_open_as(&bystander, &srv, DEMO_RECEPTION);	/* plain, on loopback */
	for (i = 0; i < 3; i++) {
		sec_open(&victim, &srv);
		free(cli_login(&victim, DEMO_ADMIN, DEMO_PASSWORD));
		len = sealed_health(&victim, 7, rec, sizeof rec);
		/* In the length, in the encrypted body, in the tag. */
		rec[i == 0 ? 0 : i == 1 ? len / 2 : len - 1] ^= 0x20;
		assert_int_equal(mfc_write_raw(&victim.mc, rec, len), 0);
		assert_closed(&victim);
		cli_close(&victim);
		assert_jstr(call_ok(&bystander, "health", NULL), "status", "ok");
	}
	cli_close(&bystander);
}

static void
test_a_replayed_record_closes_the_connection(void **state)
{
	struct tcli		 c, other;
	const msgpack_object	*o;
	unsigned char		 rec[512];
	size_t			 len;

	(void)state;
	sec_open(&c, &srv);
	sec_open(&other, &srv);
	len = sealed_health(&c, 9, rec, sizeof rec);
	assert_int_equal(mfc_write_raw(&c.mc, rec, len), 0);
	assert_int_equal(mfc_read(&c.mc, CALL_TIMEOUT_MS, &o), 0);
	assert_int_equal(mp_map_get(o, "id")->via.u64, 9);
	/* The same bytes again, as an attacker would replay them. */
	assert_int_equal(mfc_write_raw(&c.mc, rec, len), 0);
	assert_closed(&c);
	/* Nor do they mean anything on another connection. */
	assert_int_equal(mfc_write_raw(&other.mc, rec, len), 0);
	assert_closed(&other);
	cli_close(&c);
	cli_close(&other);
}

static void
test_reordered_and_truncated_records_close_the_connection(void **state)
{
	struct tcli	c;
	unsigned char	r1[512], r2[512], both[1024];
	size_t		l1, l2;

	(void)state;
	/* Second record first. */
	sec_open(&c, &srv);
	l1 = sealed_health(&c, 11, r1, sizeof r1);
	l2 = sealed_health(&c, 12, r2, sizeof r2);
	assert_int_equal(mfc_write_raw(&c.mc, r2, l2), 0);
	assert_closed(&c);
	cli_close(&c);

	/* A record cut short, the next one right behind it. */
	sec_open(&c, &srv);
	l1 = sealed_health(&c, 13, r1, sizeof r1);
	l2 = sealed_health(&c, 14, r2, sizeof r2);
	memcpy(both, r1, l1 - 5);
	memcpy(both + l1 - 5, r2, l2);
	assert_int_equal(mfc_write_raw(&c.mc, both, l1 - 5 + l2), 0);
	assert_closed(&c);
	cli_close(&c);

	/* A length no record can have. */
	sec_open(&c, &srv);
	memset(r1, 0xff, 8);
	assert_int_equal(mfc_write_raw(&c.mc, r1, 8), 0);
	assert_closed(&c);
	cli_close(&c);
}

/* --- plain clients --- */

/* A non-loopback address of this host, or 0 when it has none. */
static int
external_address(char *out, size_t len)
{
	struct ifaddrs	*ifa, *i;
	int		 found = 0;

	if (getifaddrs(&ifa) != 0)
		return 0;
	for (i = ifa; i != NULL && !found; i = i->ifa_next) {
		const struct sockaddr_in	*in;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		in = (const struct sockaddr_in *)i->ifa_addr;
		if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
			continue;
		inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)len);
		found = 1;
	}
	freeifaddrs(ifa);
	return found;
}

/* A plain hello gets one error frame about encryption, then the close. */
static void
assert_plain_hello_refused(struct tcli *c)
{
	json_t	*reply;

	reply = cli_call(c, "hello", "{s:i}", "version", PROTO_VERSION);
	reply_err(reply, "bad_request");
	assert_int_equal(jint(reply, "id"), 0);
	assert_non_null(strstr(jstr(reply, "error.message"), "encrypt"));
	assert_closed(c);
}

static void
test_require_encryption_refuses_plain_hello_cleanly(void **state)
{
	static const char *const args[] = { "--require-encryption", NULL };
	struct tsrv_opts	 opts = { 0 };
	struct tsrv		 strict;
	struct tcli		 c;
	struct run		 r;

	(void)state;
	opts.args = args;
	opts.no_demo = 1;
	srv_start(&strict, &opts);
	/* An old client, speaking frames only: one clear error, then closed. */
	cli_connect(&c, &strict);
	assert_plain_hello_refused(&c);
	cli_close(&c);
	/* The same through `mediflow --plain`: exit 2 and the reason. */
	run(&r, "mediflow", "--server", strict.addr, "--plain", "call", "health",
	    NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "encrypt"));
	run_free(&r);
	/* Encrypted is fine. */
	sec_open(&c, &strict);
	assert_jstr(call_ok(&c, "health", NULL), "status", "ok");
	cli_close(&c);
	srv_stop(&strict);
}

static void
test_plain_from_another_host_is_refused_encrypted_is_not(void **state)
{
	static const char *const args[] = { "--listen", "0.0.0.0:0", NULL };
	struct tsrv_opts	 opts = { 0 };
	struct tsrv		 open_srv;
	struct tcli		 c;
	char			 ip[64], addr[96], *cause = NULL;

	(void)state;
	if (!external_address(ip, sizeof ip))
		skip();
	opts.args = args;
	opts.no_demo = 1;
	srv_start(&open_srv, &opts);
	snprintf(addr, sizeof addr, "%s:%d", ip, open_srv.port);
	c.reply = NULL;
	if (mfc_connect(&c.mc, addr, &cause) != 0) {
		print_error("connect %s: %s\n", addr, cause);
		fail();
	}
	assert_plain_hello_refused(&c);
	cli_close(&c);
	/* Loopback plain is still fine by default. */
	cli_open(&c, &open_srv);
	cli_close(&c);
	/* From the outside, encrypted. */
	assert_int_equal(sec_connect_to(&c, addr, NULL, 1, &cause), MFC_OK);
	call_ok(&c, "hello", "{s:i}", "version", PROTO_VERSION);
	assert_jstr(call_ok(&c, "health", NULL), "status", "ok");
	cli_close(&c);
	srv_stop(&open_srv);
}

/* A listener that answers like a server that predates the channel. */
static void
test_client_refuses_a_server_without_the_channel(void **state)
{
	struct sockaddr_in	 sa;
	socklen_t		 slen = sizeof sa;
	struct tcli		 c;
	char			 addr[64], *cause = NULL;
	int			 lfd, fd, status;
	pid_t			 pid;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const unsigned char	reply[] = {
			0, 0, 0, 4, 0x81, 0xa2, 'o', 'k',
		};
		unsigned char			buf[64];

		if ((fd = accept(lfd, NULL, NULL)) < 0)
			_exit(1);
		if (read(fd, buf, sizeof buf) <= 0)
			_exit(1);
		/* An old server reads "MFE1" as a too-large frame and says so. */
		if (write(fd, reply, sizeof reply) != (ssize_t)sizeof reply)
			_exit(1);
		usleep(200000);
		_exit(0);
	}
	close(lfd);
	assert_int_equal(sec_connect_to(&c, addr, NULL, 1, &cause), MFC_ERROR);
	assert_non_null(strstr(cause, "did not answer the encrypted handshake"));
	free(cause);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Nothing was pinned for it. */
	assert_int_not_equal(access(known, F_OK), 0);
}

/* --- the trust rules, as the TUI will call them --- */

static int
ask_yes(const char *hostport, const char *fp, void *arg)
{
	(void)hostport;
	(void)fp;
	++*(int *)arg;
	return 1;
}

static void
test_trust_check_pins_first_keys_and_refuses_changes(void **state)
{
	static const char	fp1[] = "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU";
	static const char	fp2[] = "SHA256:4oVaffuhrdnpwhYXgOzVImYfE4mPc6fAgLJChNLba5U";
	struct mfc_trust	t;
	struct stat		st;
	char			*cause = NULL, *pins;
	int			asked = 0;

	(void)state;
	memset(&t, 0, sizeof t);
	t.known_servers = known;
	/* Unknown, nobody to ask. */
	assert_int_equal(mfc_trust_check(&t, "clinic:7400", fp1, &cause),
	    MFC_KEY_UNTRUSTED);
	assert_non_null(strstr(cause, fp1));
	free(cause);
	cause = NULL;
	/* Asked and accepted: pinned (1), privately. */
	t.ask = ask_yes;
	t.ask_arg = &asked;
	assert_int_equal(mfc_trust_check(&t, "clinic:7400", fp1, &cause), 1);
	assert_int_equal(asked, 1);
	assert_int_equal(stat(known, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Known: not asked again. */
	assert_int_equal(mfc_trust_check(&t, "clinic:7400", fp1, &cause), MFC_OK);
	assert_int_equal(asked, 1);
	/* Another server is another pin. */
	t.trust_new = 1;
	assert_int_equal(mfc_trust_check(&t, "clinic:7401", fp2, &cause), 1);
	assert_int_equal(asked, 1);
	/* A changed key: refused whatever trust_new and ask say. */
	assert_int_equal(mfc_trust_check(&t, "clinic:7400", fp2, &cause),
	    MFC_KEY_CHANGED);
	assert_non_null(strstr(cause, "KEY HAS CHANGED"));
	assert_non_null(strstr(cause, "line 1"));
	free(cause);
	cause = NULL;
	pins = read_file(known);
	assert_non_null(strstr(pins, "clinic:7400 " "SHA256:Zmh6"));
	assert_non_null(strstr(pins, "clinic:7401 " "SHA256:4oVa"));
	free(pins);
	/* A fingerprint in the settings decides alone. */
	t.fingerprint = fp2;
	assert_int_equal(mfc_trust_check(&t, "clinic:7400", fp2, &cause), MFC_OK);
	assert_int_equal(mfc_trust_check(&t, "clinic:7401", fp1, &cause),
	    MFC_KEY_CHANGED);
	assert_non_null(strstr(cause, "client's settings"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup_home, teardown_home)
#define SUITES(f)							\
	{ #f " [default]", f, setup_home, teardown_home, &offer_default }, \
	{ #f " [XChaCha20]", f, setup_home, teardown_home, &offer_xchacha }, \
	{ #f " [MFE1]", f, setup_home, teardown_home, &offer_v1 }
		SUITES(test_encrypted_session_works_end_to_end),
		SUITES(test_pipelined_requests_are_answered_in_order),
		T(test_a_reply_longer_than_a_record_arrives_whole),
		T(test_a_bad_frame_inside_the_channel_gets_an_encrypted_error),
		T(test_cli_trust_new_key_pins_the_servers_key),
		T(test_cli_asks_about_a_first_key_on_a_terminal),
		T(test_cli_refuses_a_fingerprint_that_does_not_match),
		T(test_changed_server_key_is_refused_loudly_with_nothing_sent),
		SUITES(test_a_flipped_byte_closes_only_that_connection),
		SUITES(test_a_replayed_record_closes_the_connection),
		SUITES(test_reordered_and_truncated_records_close_the_connection),
		T(test_require_encryption_refuses_plain_hello_cleanly),
		T(test_plain_from_another_host_is_refused_encrypted_is_not),
		T(test_client_refuses_a_server_without_the_channel),
		T(test_trust_check_pins_first_keys_and_refuses_changes),
#undef SUITES
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
