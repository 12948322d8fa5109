/* test_hostile.c -- hostile clients against a real mediflowd, while a
 * well-behaved one keeps working.
 *
 * A bystander thread, logged in as a doctor, calls auth.me in a loop from
 * the first test to the last and records every latency. Meanwhile: slowloris
 * on the protocol port and on the HTTP port, a frame announcing 4 GiB,
 * msgpack nested a hundred thousand deep, a flood of connections beyond
 * max_conns, a client that never reads while events are pushed to it, and
 * (issue #6) a client that never reads while 10,000 chat messages are sent
 * to it, which is cut off and then catches up with chat.history, losing
 * nothing. The last test asserts, loosely, that the bystander never failed,
 * that its p99 stayed under half a second (only a stall would break that),
 * and that the server's RSS grew by less than 64 MiB beyond what the store
 * grew by (10 MB of messages, which its page cache and mmap may hold).
 *
 * Real-time limits (login_timeout, frame_timeout, http_request_deadline)
 * are the server's own timers: they are set to 2 s here. Under valgrind
 * (MF_TEST_TIME_SCALE) the server is slow, and all three are scaled by a
 * quarter of it (limit_s()): only a login, a request or a single frame must
 * beat them, as frame_timeout is each frame's (a whole frame read restarts
 * it), so the slow consumer's sender, which keeps 100 frames in flight,
 * never races it with a whole stream. The waits allow for the scale. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "harness.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

#define MAX_CONNS		48
#define OUT_HIGH_WATER		(256 * 1024)
#define CHAT_MESSAGES		10000
/* Loose: these catch a stall or a leak, they measure nothing. */
#define P99_BOUND_MS		500
#define RSS_GROWTH_BOUND_KB	(64 * 1024)

/* login_timeout, frame_timeout and http_request_deadline, in seconds (at
 * MF_TEST_TIME_SCALE 1; limit_s() gives them scaled). */
#define LIMIT_S			2
/* The rest of the config, after the scaled limits. */
#define SRV_CONFIG \
	"max_conns = 48\n" \
	"out_high_water = 262144\n" \
	"rl_api = 1000000/15m\n" \
	"rl_api_staff = 1000000/15m\n" \
	"rl_msg = 1000000/1m\n"

static struct tsrv	srv;
static long		rss_start_kb;
static long		store_start_kb;

/* --- the bystander --- */

#define MAX_SAMPLES	200000

static struct tcli	bystander;
static pthread_t	bystander_thread;
static volatile int	bystander_stop;
static int		bystander_failures;
static int		nsamples;
static double		samples_ms[MAX_SAMPLES];

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* No cmocka here (not thread-safe): failures are counted for the last test. */
static void *
bystander_main(void *arg)
{
	const msgpack_object	*reply, *ok;
	struct timespec		 pause = { 0, 2 * 1000 * 1000 };
	double			 t0;

	(void)arg;
	while (!bystander_stop) {
		t0 = now_ms();
		if (mfc_call(&bystander.mc, "auth.me", NULL, 0,
		    CALL_TIMEOUT_MS, &reply) != 0 ||
		    (ok = mp_map_get(reply, "ok")) == NULL ||
		    ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean) {
			bystander_failures++;
			break;
		}
		if (nsamples < MAX_SAMPLES)
			samples_ms[nsamples++] = now_ms() - t0;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* --- raw sockets --- */

static int
raw_connect(int port, int rcvbuf)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	/* Set before connect, so the window is small from the start. */
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

/* Reads and discards until EOF or error (1), or timeout_ms passes (0). */
static int
wait_closed(int fd, int timeout_ms, size_t *got)
{
	char		buf[65536];
	double		end = now_ms() + timeout_ms;
	ssize_t		n;

	for (;;) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		int		left = (int)(end - now_ms());

		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			print_message("closed with %s\n", strerror(errno));
		if (n <= 0)
			return 1;
		if (got != NULL)
			*got += (size_t)n;
	}
}

/* Writes one byte; 0, or -1 once the server has closed. */
static int
trickle_byte(int fd, char ch)
{
	return send(fd, &ch, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/*
 * Sends a 4 KiB frame's header, then body bytes, a byte every 300 ms, until
 * the server speaks (it is closing), the peer is gone or end_ms passes;
 * returns the bytes sent.
 */
static int
trickle_frame(int fd, double end_ms)
{
	static const unsigned char	 hdr[] = { 0x00, 0x00, 0x10, 0x00 };
	struct timespec			 pause = { 0, 300 * 1000 * 1000 };
	int				 i;

	for (i = 0; now_ms() < end_ms; i++) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };

		if (trickle_byte(fd, i < 4 ? (char)hdr[i] : 'x') != 0)
			break;
		if (poll(&pfd, 1, 0) > 0)
			break;
		nanosleep(&pause, NULL);
	}
	return i;
}

/* The frames in buf[0..len) with their error codes; returns how many. */
static int
count_frames(const unsigned char *buf, size_t len, const char *want_code,
    int *with_code)
{
	struct frame_limits	 lim;
	msgpack_unpacked	 u;
	const char		*cause;
	size_t			 pos = 0;
	uint32_t		 flen;
	int			 n = 0;

	frame_limits_default(&lim);
	while (len - pos >= FRAME_HEADER_SIZE) {
		flen = frame_header_length(buf + pos);
		if (len - pos - FRAME_HEADER_SIZE < flen)
			break;
		msgpack_unpacked_init(&u);
		if (frame_decode(buf + pos + FRAME_HEADER_SIZE, flen, &lim, &u,
		    &cause) == 0) {
			const msgpack_object *err = mp_map_get(&u.data, "error");

			/* want_code "*": any error at all. */
			if (want_code != NULL && err != NULL &&
			    (strcmp(want_code, "*") == 0 ||
			    mp_str_eq(mp_map_get(err, "code"), want_code)))
				(*with_code)++;
		}
		msgpack_unpacked_destroy(&u);
		pos += FRAME_HEADER_SIZE + flen;
		n++;
	}
	return n;
}

/* Everything the server sends until it closes (asserts it does). */
static unsigned char *
read_until_closed(int fd, size_t *len)
{
	unsigned char	*buf = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	double		 end = now_ms() + 10000.0 * test_time_scale();

	*len = 0;
	for (;;) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };

		assert_true(now_ms() < end);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (*len + 65536 > cap) {
			cap = cap * 2 + 65536;
			buf = xrealloc(buf, cap);
		}
		n = recv(fd, buf + *len, cap - *len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return buf;
		*len += (size_t)n;
	}
}

/*
 * The store's size in KiB (database and WAL). The server's page cache and
 * its mmap reads may hold the whole store in RSS, so what 10,000 stored
 * messages add to the store is allowed on top of the memory bound.
 */
static long
store_kb(void)
{
	struct stat	st;
	char		path[PATH_MAX + 8];
	long		kb = 0;

	if (stat(srv.db_path, &st) == 0)
		kb += (long)(st.st_size / 1024);
	snprintf(path, sizeof path, "%s-wal", srv.db_path);
	if (stat(path, &st) == 0)
		kb += (long)(st.st_size / 1024);
	return kb;
}

static int
log_mentions(const char *what)
{
	char	 line[1024];
	int	 found = 0;
	FILE	*f = fopen(srv.log_path, "r");

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* --- setup --- */

/* The real-time limits the server runs with, in seconds. */
static int
limit_s(void)
{
	return LIMIT_S * (test_time_scale() >= 4 ? test_time_scale() / 4 : 1);
}

static int
group_setup(void **state)
{
	struct tsrv_opts	 opts = { .http = 1 };
	char			*config;
	int			 limit = limit_s();

	(void)state;
	config = xasprintf("login_timeout = %d\nframe_timeout = %d\n"
	    "http_request_deadline = %d\n" SRV_CONFIG, limit, limit, limit);
	opts.config = config;
	srv_start(&srv, &opts);
	free(config);
	cli_open_as(&bystander, &srv, DEMO_DOCTOR);
	/* Warm up before the baseline: the first queries fill caches. */
	call_ok(&bystander, "auth.me", NULL);
	rss_start_kb = srv_rss_kb(&srv);
	store_start_kb = store_kb();
	assert_true(rss_start_kb > 0);
	bystander_stop = 0;
	assert_int_equal(pthread_create(&bystander_thread, NULL, bystander_main,
	    NULL), 0);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (!bystander_stop) {
		bystander_stop = 1;
		pthread_join(bystander_thread, NULL);
	}
	cli_close(&bystander);
	srv_stop(&srv);
	return 0;
}

/* --- slowloris --- */

static void	raw_login(int, const char *);

/*
 * A peer that sends a frame header a byte at a time, a byte every 300 ms,
 * never finishing a request: the login timeout (2 s) cuts it, with an
 * `unauthenticated` error, however busy it keeps the socket.
 */
static void
test_slowloris_on_the_protocol_port_is_cut_by_the_login_timeout(void **state)
{
	unsigned char			*got;
	size_t				 len;
	double				 t0 = now_ms(), limit;
	int				 fd, i, coded = 0;

	(void)state;
	fd = raw_connect(srv.port, 0);
	limit = 15000.0 * test_time_scale();
	i = trickle_frame(fd, t0 + limit);
	got = read_until_closed(fd, &len);
	print_message("slowloris: cut after %.1f s, %d bytes sent\n",
	    (now_ms() - t0) / 1000, i);
	assert_true(now_ms() - t0 < limit);
	assert_int_equal(count_frames(got, len, "unauthenticated", &coded), 1);
	assert_int_equal(coded, 1);
	free(got);
	close(fd);
}

/*
 * After login the login timer is gone: a logged-in peer trickling one
 * frame a byte every 300 ms is cut by frame_timeout (2 s here), with a
 * `bad_request` error naming the frame timeout.
 */
static void
test_logged_in_trickle_is_cut_by_the_frame_timeout(void **state)
{
	unsigned char			*got;
	size_t				 len;
	double				 t0, limit;
	int				 fd, i, coded = 0;

	(void)state;
	fd = raw_connect(srv.port, 0);
	raw_login(fd, DEMO_RECEPTION);
	t0 = now_ms();
	limit = 15000.0 * test_time_scale();
	i = trickle_frame(fd, t0 + limit);
	got = read_until_closed(fd, &len);
	print_message("logged-in trickle: cut after %.1f s, %d bytes sent\n",
	    (now_ms() - t0) / 1000, i);
	assert_true(now_ms() - t0 < limit);
	assert_int_equal(count_frames(got, len, "bad_request", &coded), 1);
	assert_int_equal(coded, 1);
	free(got);
	close(fd);
}

/*
 * The frame timeout is each frame's, not the connection's: a logged-in peer
 * pipelining requests whose every send ends mid-frame (the rest of one
 * frame and half of the next, every 150 ms) always leaves a partial frame
 * in the server's buffer, yet every frame arrives whole well within
 * frame_timeout. It must keep being served for longer than the timeout, and
 * every request answered. (The server once ran one timer from the first
 * partial frame and cut such a peer off after frame_timeout.)
 */
static void
test_whole_frames_mid_read_are_never_cut_by_the_frame_timeout(void **state)
{
	struct timespec	 pause = { 0, 150 * 1000 * 1000 };
	msgpack_sbuffer	 body, out;
	msgpack_packer	 pk;
	size_t		*ends, sent = 0, len = 0, cap = 0;
	unsigned char	*got = NULL;
	double		 t0, run_ms, end;
	int		 fd, i, nframes, answered, errors = 0;

	(void)state;
	/* Long enough to outlast frame_timeout by half again. */
	run_ms = 1500.0 * limit_s();
	nframes = (int)(run_ms / 150) + 2;
	ends = xcalloc((size_t)nframes, sizeof *ends);
	msgpack_sbuffer_init(&out);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	for (i = 0; i < nframes; i++) {
		msgpack_sbuffer_clear(&body);
		msgpack_pack_map(&pk, 3);
		mp_pack_str(&pk, "id");
		msgpack_pack_uint64(&pk, 100 + (uint64_t)i);
		mp_pack_kv_str(&pk, "op", "auth.me");
		mp_pack_str(&pk, "args");
		msgpack_pack_map(&pk, 0);
		frame_wrap(&out, body.data, body.size);
		ends[i] = out.size;
	}
	fd = raw_connect(srv.port, 0);
	raw_login(fd, DEMO_RECEPTION);
	t0 = now_ms();
	for (i = 0; i < nframes; i++) {
		/* Up to the middle of frame i + 1 (the last: its end). */
		size_t	to = i + 1 < nframes ?
		    ends[i] + (ends[i + 1] - ends[i]) / 2 : ends[i];

		assert_int_equal(send(fd, out.data + sent, to - sent,
		    MSG_NOSIGNAL), (ssize_t)(to - sent));
		sent = to;
		nanosleep(&pause, NULL);
	}
	print_message("whole frames mid-read: %d frames over %.1f s\n",
	    nframes, (now_ms() - t0) / 1000);
	assert_true(now_ms() - t0 > 1000.0 * limit_s());
	/* Every request answered, none refused, the connection still open. */
	end = now_ms() + 10000.0 * test_time_scale();
	for (;;) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		n;

		answered = count_frames(got, len, "*", &errors);
		if (answered >= nframes || now_ms() > end)
			break;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (len + 65536 > cap) {
			cap = cap * 2 + 65536;
			got = xrealloc(got, cap);
		}
		n = recv(fd, got + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);	/* not closed on us */
		len += (size_t)n;
	}
	assert_int_equal(answered, nframes);
	assert_int_equal(errors, 0);
	free(got);
	free(ends);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&out);
	close(fd);
}

/* The same on the HTTP port: the request deadline (2 s) cuts a request
 * whose headers never end. */
static void
test_slowloris_on_the_http_port_is_cut_by_the_request_deadline(void **state)
{
	static const char	 start[] = "GET /api/health HTTP/1.1\r\nHost: x\r\n";
	struct timespec		 pause = { 0, 300 * 1000 * 1000 };
	double			 t0 = now_ms(), limit;
	int			 fd, i, cut = 0;

	(void)state;
	assert_true(srv.http_port > 0);
	fd = raw_connect(srv.http_port, 0);
	assert_int_equal(send(fd, start, sizeof start - 1, MSG_NOSIGNAL),
	    (ssize_t)(sizeof start - 1));
	limit = 15000.0 * test_time_scale();
	for (i = 0; now_ms() - t0 < limit; i++) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };

		/* "X-a: b\r\n"-ish headers, one byte at a time, never the blank line. */
		if (trickle_byte(fd, "X-Slow: y\r\n"[i % 11]) != 0) {
			cut = 1;
			break;
		}
		if (poll(&pfd, 1, 0) > 0) {
			cut = wait_closed(fd, 5000 * test_time_scale(), NULL);
			break;
		}
		nanosleep(&pause, NULL);
	}
	print_message("http slowloris: cut after %.1f s\n",
	    (now_ms() - t0) / 1000);
	assert_true(cut);
	close(fd);
}

/* --- frames --- */

/* A header announcing 4 GiB - 1: refused as too_large from the header
 * alone, and the server allocates nothing for it. */
static void
test_frame_announcing_four_gib_is_refused_without_allocating(void **state)
{
	static const unsigned char	 hdr[] = { 0xff, 0xff, 0xff, 0xff };
	unsigned char			*got;
	size_t				 len;
	long				 before, after;
	int				 fd, i, coded = 0;

	(void)state;
	before = srv_rss_kb(&srv);
	for (i = 0; i < 8; i++) {
		fd = raw_connect(srv.port, 0);
		assert_int_equal(send(fd, hdr, sizeof hdr, MSG_NOSIGNAL), 4);
		/* Some of the body it promised, as a real attacker would. */
		send(fd, "\x81\xa2id\x01", 5, MSG_NOSIGNAL);
		got = read_until_closed(fd, &len);
		coded = 0;
		assert_int_equal(count_frames(got, len, "too_large", &coded), 1);
		assert_int_equal(coded, 1);
		free(got);
		close(fd);
	}
	after = srv_rss_kb(&srv);
	print_message("RSS around eight 4 GiB headers: %ld -> %ld kB\n", before,
	    after);
	assert_true(after - before < 16 * 1024);
}

/* A request whose args nest 100,000 arrays deep (in a 100 kB frame):
 * refused before msgpack-c unpacks it, the peer dropped. */
static void
test_deeply_nested_msgpack_is_refused(void **state)
{
	enum { DEPTH = 100000 };
	msgpack_sbuffer	 body, out;
	msgpack_packer	 pk;
	unsigned char	*got, *nest;
	size_t		 len;
	int		 fd, coded = 0;

	(void)state;
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, 7);
	mp_pack_kv_str(&pk, "op", "auth.me");
	mp_pack_str(&pk, "args");
	nest = xmalloc(DEPTH + 1);
	memset(nest, 0x91, DEPTH);	/* fixarray of one, a hundred thousand times */
	nest[DEPTH] = 0xc0;
	msgpack_sbuffer_write(&body, (const char *)nest, DEPTH + 1);
	free(nest);
	msgpack_sbuffer_init(&out);
	frame_wrap(&out, body.data, body.size);
	fd = raw_connect(srv.port, 0);
	assert_int_equal(send(fd, out.data, out.size, MSG_NOSIGNAL),
	    (ssize_t)out.size);
	got = read_until_closed(fd, &len);
	assert_int_equal(count_frames(got, len, "bad_request", &coded), 1);
	assert_int_equal(coded, 1);
	free(got);
	close(fd);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&out);
	assert_true(log_mentions("nesting too deep"));
}

/* --- a flood of connections --- */

/*
 * Twice max_conns connections at once: those beyond the limit are closed
 * at once, those within it (and the bystander's) keep working, and once
 * the flood leaves the server takes new clients again.
 */
static void
test_connection_flood_beyond_the_limit_is_refused_cleanly(void **state)
{
	enum { FLOOD = 2 * MAX_CONNS };
	int		fds[FLOOD], i, refused = 0, open_ok = 0, tries;
	double		deadline;
	struct tcli	late;

	(void)state;
	for (i = 0; i < FLOOD; i++)
		fds[i] = raw_connect(srv.port, 0);
	/*
	 * Those over the limit are closed at once, without a word; the rest
	 * stay open (until the login timeout, which says why first). Counted
	 * until enough are closed: the server takes its time under valgrind.
	 */
	deadline = now_ms() + 10000.0 * test_time_scale();
	do {
		refused = open_ok = 0;
		for (i = 0; i < FLOOD; i++) {
			struct pollfd	pfd = { .fd = fds[i], .events = POLLIN };
			char		ch;

			if (poll(&pfd, 1, 0) > 0 && recv(fds[i], &ch, 1,
			    MSG_DONTWAIT | MSG_PEEK) <= 0)
				refused++;
			else
				open_ok++;
		}
	} while (refused < FLOOD - MAX_CONNS + 1 && now_ms() < deadline &&
	    poll(NULL, 0, 20) == 0);
	print_message("flood: %d connections, %d refused, %d held\n", FLOOD,
	    refused, open_ok);
	/* The bystander holds one place. */
	assert_true(refused >= FLOOD - MAX_CONNS + 1);
	assert_true(open_ok >= MAX_CONNS - 1);
	assert_true(log_mentions("too many connections"));
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	/* Places free up once the server has seen them go. */
	for (tries = 0; tries < 200 * test_time_scale(); tries++) {
		cli_connect(&late, &srv);
		if (cli_call(&late, "hello", "{s:i}", "version", 1) != NULL)
			break;
		cli_close(&late);
		usleep(10000);
	}
	assert_true(tries < 200 * test_time_scale());
	assert_jstr(call_ok(&late, "health", NULL), "status", "ok");
	cli_close(&late);
}

/* --- clients that never read --- */

static int64_t
user_id_of(struct tcli *c)
{
	int64_t	id = jint(call_ok(c, "auth.me", NULL), "user.id");

	assert_true(id > 0);
	return id;
}

/* Logs fd in as email over the raw socket (hello + auth.login), reading
 * the two replies. */
static void
raw_login(int fd, const char *email)
{
	msgpack_sbuffer	 body, out;
	msgpack_packer	 pk;
	unsigned char	 buf[4096];
	size_t		 have = 0;
	int		 replies = 0, errors = 0;
	double		 end = now_ms() + CALL_TIMEOUT_MS;

	msgpack_sbuffer_init(&out);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, 1);
	mp_pack_kv_str(&pk, "op", "hello");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 1);
	mp_pack_kv_int(&pk, "version", PROTO_VERSION);
	frame_wrap(&out, body.data, body.size);
	msgpack_sbuffer_clear(&body);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, 2);
	mp_pack_kv_str(&pk, "op", "auth.login");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "email", email);
	mp_pack_kv_str(&pk, "password", DEMO_PASSWORD);
	frame_wrap(&out, body.data, body.size);
	assert_int_equal(send(fd, out.data, out.size, MSG_NOSIGNAL),
	    (ssize_t)out.size);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&out);
	while (replies < 2) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		n;

		assert_true(now_ms() < end);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(fd, buf + have, sizeof buf - have, 0);
		assert_true(n > 0);
		have += (size_t)n;
		errors = 0;
		replies = count_frames(buf, have, "*", &errors);
	}
	assert_int_equal(replies, 2);
	/* hello and auth.login both answered ok: it is logged in. */
	assert_int_equal(errors, 0);
}

/*
 * Message n: long enough that 10,000 of them are more than twice what the
 * kernel may buffer for a socket (net.ipv4.tcp_wmem's maximum, 4 MB on
 * most systems), so the server's own output limit is what stops them: at
 * least 1000 bytes, at most chat's 4000.
 */
#define MESSAGE_BYTES_MAX	4000

static size_t	message_bytes = 1000;

static void
message_size_init(void)
{
	long	lo, def, max = 0;
	FILE	*f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld %ld", &lo, &def, &max) != 3)
			max = 0;
		fclose(f);
	}
	if (max > 0 && (size_t)(2 * max / CHAT_MESSAGES + 200) > message_bytes)
		message_bytes = (size_t)(2 * max / CHAT_MESSAGES + 200);
	if (message_bytes > MESSAGE_BYTES_MAX)
		message_bytes = MESSAGE_BYTES_MAX;
}

static void
message_body(char *out, int n)
{
	int	len;

	len = snprintf(out, message_bytes + 1, "slow consumer message %05d ", n);
	memset(out + len, 'a' + n % 26, message_bytes - (size_t)len);
	out[message_bytes] = '\0';
}

/*
 * A staff member logged in on a socket it never reads, with a small
 * receive window, while a colleague sends chat messages to it: the server
 * queues at most out_high_water for it, then drops it; the sender and the
 * bystander notice nothing. Then (issue #6) it logs in again and pages
 * through chat.history: every message is there, in order, once.
 */
static void
test_slow_consumer_is_cut_off_and_catches_up_losing_nothing(void **state)
{
	struct tcli		 sender, desk;
	const msgpack_object	*o, *id, *ok;
	msgpack_sbuffer		 args;
	msgpack_packer		 pk;
	char			 body[MESSAGE_BYTES_MAX + 1], cid[32];
	int64_t			 conv, desk_id, after = 0, msg_id;
	long			 rss_peak = 0, rss;
	size_t			 got = 0;
	int			 fd, sent = 0, acked = 0, closed, seen = 0;
	int			 more = 1;
	json_t			*res, *msgs, *m;
	size_t			 k;

	(void)state;
	message_size_init();
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	desk_id = user_id_of(&desk);
	cli_close(&desk);
	cli_open_as(&sender, &srv, DEMO_ADMIN);
	conv = jint(call_ok(&sender, "chat.open", "{s:I}", "user_id",
	    (json_int_t)desk_id), "conversation.id");
	assert_true(conv > 0);

	/* The slow reader: logged in, then never reads again. */
	fd = raw_connect(srv.port, 4096);
	raw_login(fd, DEMO_RECEPTION);

	/*
	 * 10,000 messages, up to 100 in flight (group commit batches
	 * them), the next sent as each is answered; the sender reads its
	 * replies and its own chat events.
	 */
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	while (acked < CHAT_MESSAGES) {
		while (sent < CHAT_MESSAGES && sent - acked < 100) {
			uint64_t	rid;

			message_body(body, sent);
			snprintf(cid, sizeof cid, "slow-%d-%d", (int)getpid(), sent);
			msgpack_sbuffer_clear(&args);
			msgpack_pack_map(&pk, 3);
			mp_pack_str(&pk, "conversation_id");
			msgpack_pack_int64(&pk, conv);
			mp_pack_kv_str(&pk, "body", body);
			mp_pack_kv_str(&pk, "client_msg_id", cid);
			assert_int_equal(mfc_send(&sender.mc, "chat.send", args.data,
			    args.size, &rid), 0);
			sent++;
		}
		assert_int_equal(mfc_read(&sender.mc,
		    CALL_TIMEOUT_MS, &o), 0);
		if ((id = mp_map_get(o, "id")) == NULL)
			continue;	/* a chat.message event */
		ok = mp_map_get(o, "ok");
		if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN ||
		    !ok->via.boolean) {
			json_t	*j = msgpack_to_json(o);
			char	*s = json_dumps(j, JSON_COMPACT);

			print_error("chat.send failed: %s\n", s);
			free(s);
			json_decref(j);
			fail();
		}
		acked++;
		if (acked % 1000 == 0 && (rss = srv_rss_kb(&srv)) > rss_peak)
			rss_peak = rss;
	}
	msgpack_sbuffer_destroy(&args);
	rss = srv_rss_kb(&srv);
	if (rss > rss_peak)
		rss_peak = rss;

	/* It was cut off: what it finally reads ends in EOF, and holds far
	 * fewer than the 10,000 events. */
	closed = wait_closed(fd, 10000 * test_time_scale(), &got);
	close(fd);
	print_message("slow consumer: %d messages of %zu bytes sent, %zu bytes "
	    "reached it before the cut; server RSS start %ld kB, peak %ld kB\n",
	    CHAT_MESSAGES, message_bytes, got, rss_start_kb, rss_peak);
	assert_true(closed);
	assert_true(got < (size_t)CHAT_MESSAGES * message_bytes / 2);
	assert_true(log_mentions("dropping slow reader"));
	assert_true(rss_peak - rss_start_kb < RSS_GROWTH_BOUND_KB +
	    2 * (store_kb() - store_start_kb));

	/* The sender is still served. */
	assert_jstr(call_ok(&sender, "health", NULL), "status", "ok");
	cli_close(&sender);

	/* Back again, it catches up from the start: all there, in order. */
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	while (more) {
		res = call_ok(&desk, "chat.history", "{s:I, s:I, s:i}",
		    "conversation_id", (json_int_t)conv, "after_id",
		    (json_int_t)after, "limit", 200);
		msgs = json_object_get(res, "messages");
		more = json_is_true(json_object_get(res, "more"));
		assert_true(json_array_size(msgs) > 0 || !more);
		json_array_foreach(msgs, k, m) {
			message_body(body, seen);
			msg_id = jint(m, "id");
			assert_true(msg_id > after);
			after = msg_id;
			assert_jstr(m, "body", body);
			seen++;
		}
	}
	assert_int_equal(seen, CHAT_MESSAGES);
	cli_close(&desk);
}

/* --- the bystander's verdict --- */

static void
test_bystander_kept_its_latency_and_memory_stayed_bounded(void **state)
{
	double	p50, p99, max;
	long	rss;
	int	bound = P99_BOUND_MS * test_time_scale();

	(void)state;
	bystander_stop = 1;
	pthread_join(bystander_thread, NULL);
	assert_int_equal(bystander_failures, 0);
	assert_true(nsamples >= 100);
	qsort(samples_ms, (size_t)nsamples, sizeof samples_ms[0], cmp_double);
	p50 = samples_ms[nsamples / 2];
	p99 = samples_ms[(nsamples * 99) / 100];
	max = samples_ms[nsamples - 1];
	rss = srv_rss_kb(&srv);
	print_message("bystander: %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
	    "RSS %ld -> %ld kB, store %ld -> %ld kB\n", nsamples, p50, p99, max,
	    rss_start_kb, rss, store_start_kb, store_kb());
	assert_true(p99 < bound);
	assert_true(rss - rss_start_kb < RSS_GROWTH_BOUND_KB +
	    2 * (store_kb() - store_start_kb));
	/* Still answering, on the same connection. */
	assert_jstr(call_ok(&bystander, "health", NULL), "status", "ok");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slowloris_on_the_protocol_port_is_cut_by_the_login_timeout),
		cmocka_unit_test(test_logged_in_trickle_is_cut_by_the_frame_timeout),
		cmocka_unit_test(test_whole_frames_mid_read_are_never_cut_by_the_frame_timeout),
		cmocka_unit_test(test_slowloris_on_the_http_port_is_cut_by_the_request_deadline),
		cmocka_unit_test(test_frame_announcing_four_gib_is_refused_without_allocating),
		cmocka_unit_test(test_deeply_nested_msgpack_is_refused),
		cmocka_unit_test(test_connection_flood_beyond_the_limit_is_refused_cleanly),
		cmocka_unit_test(test_slow_consumer_is_cut_off_and_catches_up_losing_nothing),
		cmocka_unit_test(test_bystander_kept_its_latency_and_memory_stayed_bounded),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
