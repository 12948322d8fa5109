/* fanout.c -- one sender, N connected receivers: delivery latency from send
 * to receipt, and messages a second with all of them online.
 *
 *   fanout -m mediflow -p PORT [-n 1000] [-l 200] [-d 5] [-w 8]
 *   fanout -m redis    -p PORT [-n 1000] [-l 200] [-d 5] [-w 8]
 *
 * mediflow: the sender logs in as a doctor and chat.opens the conversation
 * with the receptionist; the N receivers are N sessions (connections) of
 * that receptionist, each resuming one token. A chat conversation has two
 * participants, and chat.message goes to every online session of both, so
 * this is the server's one real fan-out: one chat.send, N deliveries.
 * redis: N connections SUBSCRIBE one channel, the sender PUBLISHes to it.
 *
 * Both modes use the same loop, framing costs aside: every payload carries
 * the sender's CLOCK_MONOTONIC time, and each receiver records now minus
 * that. Phase 1 (latency): one message at a time, the next once all N have
 * it. Phase 2 (throughput): -w sends in flight for -d seconds; messages/s
 * counts acknowledged sends, deliveries/s what the receivers got. Prints one
 * RESULT line per phase. Loopback only. */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>

#include "mp.h"
#include "net.h"
#include "util.h"

#define MARK		"@T"		/* then 20 digits of nanoseconds */
#define MARK_DIGITS	20
#define HIST_BUCKETS	4096		/* 1 us ... ~4 ms linear, then log */

enum mode { M_MEDIFLOW, M_REDIS };

struct rconn {
	int		 fd;
	unsigned char	*buf;
	size_t		 len, cap;
	int		 subscribed;
};

struct hist {
	uint64_t	*v;
	size_t		 n, cap;
};

static enum mode	 mode = M_MEDIFLOW;
static int		 port;
static int		 nrecv = 1000;
static int		 nlatency = 200;
static int		 seconds = 5;
static int		 window = 8;
static const char	*sender_email = "doctor@test.com";
static const char	*recv_email = "receptionist@test.com";
static const char	*password = "password123";

static struct rconn	*recvs;
static int		 ep;
static uint64_t		 delivered;	/* in the current phase */
static struct hist	 lat;
static int		 sender_fd;
static unsigned char	*sbuf;
static size_t		 slen, scap;
static int64_t		 conv_id;
static uint64_t		 seq;

static void	usage(void) __attribute__((noreturn));
static uint64_t	now_ns(void);
static int	tcp_connect(void);
static void	hist_add(struct hist *, uint64_t);
static int	u64cmp(const void *, const void *);
static uint64_t	hist_pct(struct hist *, double);
static void	scan_payload(const unsigned char *, size_t);
static void	recv_frames(struct rconn *);
static void	pump(int timeout_ms);
static void	send_one(void);
static int	sender_acks(void);
static void	setup_mediflow(void);
static void	setup_redis(void);
static void	write_all(int fd, const void *, size_t);

static void
usage(void)
{
	fprintf(stderr, "usage: fanout -m mediflow|redis -p port [-n receivers] "
	    "[-l latency-messages] [-d seconds] [-w window]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
tcp_connect(void)
{
	struct sockaddr_in	sin;
	int			fd, one = 1;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		perror("fanout: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const char	*q = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, q, n);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0) {
			perror("fanout: write");
			exit(1);
		}
		q += w;
		n -= (size_t)w;
	}
}

static void
hist_add(struct hist *h, uint64_t v)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1 << 16;
		h->v = xrealloc(h->v, h->cap * sizeof *h->v);
	}
	h->v[h->n++] = v;
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
hist_pct(struct hist *h, double pct)
{
	size_t	i;

	if (h->n == 0)
		return 0;
	qsort(h->v, h->n, sizeof *h->v, u64cmp);
	i = (size_t)(pct / 100.0 * (double)(h->n - 1));
	return h->v[i];
}

/* Finds the send time in a delivered payload and records the latency. */
static void
scan_payload(const unsigned char *p, size_t n)
{
	const unsigned char	*m;
	uint64_t		 t = 0;
	int			 i;

	m = memmem(p, n, MARK, 2);
	if (m == NULL || (size_t)(m - p) + 2 + MARK_DIGITS > n)
		return;
	for (i = 0; i < MARK_DIGITS; i++)
		t = t * 10 + (uint64_t)(m[2 + i] - '0');
	hist_add(&lat, now_ns() - t);
	delivered++;
}

/* One RESP element at p (of n bytes): its length, or 0 if incomplete. */
static size_t
resp_element(const unsigned char *p, size_t n, const unsigned char **data,
    size_t *dlen)
{
	const unsigned char	*crlf = memmem(p, n, "\r\n", 2);
	long			 len;

	if (crlf == NULL)
		return 0;
	*data = NULL;
	*dlen = 0;
	if (p[0] == '$') {
		len = strtol((const char *)p + 1, NULL, 10);
		if ((size_t)(crlf - p) + 2 + (size_t)len + 2 > n)
			return 0;
		*data = crlf + 2;
		*dlen = (size_t)len;
		return (size_t)(crlf - p) + 2 + (size_t)len + 2;
	}
	return (size_t)(crlf - p) + 2;		/* :int, +simple */
}

/* Parses whole frames (or RESP arrays) in c's buffer. */
static void
recv_frames(struct rconn *c)
{
	size_t	off = 0;

	for (;;) {
		const unsigned char	*p = c->buf + off, *d = NULL;
		size_t			 n = c->len - off, used, e, dl;
		long			 items, i;

		if (mode == M_MEDIFLOW) {
			uint32_t	flen;

			if (n < 4)
				break;
			flen = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
			    ((uint32_t)p[2] << 8) | p[3];
			if (n < 4 + (size_t)flen)
				break;
			if (memmem(p + 4, flen, "chat.message", 12) != NULL)
				scan_payload(p + 4, flen);
			off += 4 + flen;
			continue;
		}
		/* *3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$N\r\npayload\r\n */
		if (n < 4 || p[0] != '*')
			break;
		if ((e = resp_element(p, n, &d, &dl)) == 0)
			break;
		items = strtol((const char *)p + 1, NULL, 10);
		used = e;
		for (i = 0; i < items; i++) {
			if ((e = resp_element(p + used, n - used, &d, &dl)) == 0)
				break;
			used += e;
		}
		if (i < items)
			break;
		if (d != NULL && dl > 2 && memmem(p, used, "message", 7) != NULL)
			scan_payload(d, dl);
		else
			c->subscribed = 1;
		off += used;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

/* Reads whatever the receivers have, for up to timeout_ms. */
static void
pump(int timeout_ms)
{
	struct epoll_event	evs[256];
	int			n, i;
	ssize_t			r;

	n = epoll_wait(ep, evs, 256, timeout_ms);
	for (i = 0; i < n; i++) {
		struct rconn	*c = evs[i].data.ptr;

		if (c == NULL)
			continue;	/* the sender: read in sender_acks */
		for (;;) {
			if (c->cap - c->len < 65536) {
				c->cap = c->cap ? c->cap * 2 : 262144;
				c->buf = xrealloc(c->buf, c->cap);
			}
			r = read(c->fd, c->buf + c->len, c->cap - c->len);
			if (r > 0) {
				c->len += (size_t)r;
				continue;
			}
			if (r == 0) {
				fprintf(stderr, "fanout: a receiver was disconnected\n");
				exit(1);
			}
			break;
		}
		recv_frames(c);
	}
}

/* Sends one message (chat.send or PUBLISH) carrying the time now. */
static void
send_one(void)
{
	char		body[96], cid[48], cmd[256];
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	unsigned char	hdr[4];
	int		n;

	seq++;
	snprintf(body, sizeof body, "fan-out %llu " MARK "%020llu",
	    (unsigned long long)seq, (unsigned long long)now_ns());
	if (mode == M_REDIS) {
		n = snprintf(cmd, sizeof cmd, "*3\r\n$7\r\nPUBLISH\r\n$6\r\nfanout"
		    "\r\n$%zu\r\n%s\r\n", strlen(body), body);
		write_all(sender_fd, cmd, (size_t)n);
		return;
	}
	snprintf(cid, sizeof cid, "fan-%d-%llu", (int)getpid(),
	    (unsigned long long)seq);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", (int64_t)seq);
	mp_pack_kv_str(&pk, "op", "chat.send");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "conversation_id", conv_id);
	mp_pack_kv_str(&pk, "body", body);
	mp_pack_kv_str(&pk, "client_msg_id", cid);
	hdr[0] = (unsigned char)(sb.size >> 24);
	hdr[1] = (unsigned char)(sb.size >> 16);
	hdr[2] = (unsigned char)(sb.size >> 8);
	hdr[3] = (unsigned char)sb.size;
	write_all(sender_fd, hdr, 4);
	write_all(sender_fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* Reads the sender's socket without blocking; returns the acks (replies,
 * or PUBLISH's integer answers) that came in. Errors end the run. */
static int
sender_acks(void)
{
	size_t	off = 0;
	ssize_t	r;
	int	acks = 0;

	for (;;) {
		if (scap - slen < 65536) {
			scap = scap ? scap * 2 : 262144;
			sbuf = xrealloc(sbuf, scap);
		}
		r = recv(sender_fd, sbuf + slen, scap - slen, MSG_DONTWAIT);
		if (r <= 0)
			break;
		slen += (size_t)r;
	}
	for (;;) {
		unsigned char	*p = sbuf + off;
		size_t		 n = slen - off;

		if (mode == M_REDIS) {
			unsigned char	*crlf = memmem(p, n, "\r\n", 2);

			if (crlf == NULL)
				break;
			if (p[0] != ':') {
				fprintf(stderr, "fanout: redis said %.*s\n",
				    (int)(crlf - p), p);
				exit(1);
			}
			acks++;
			off += (size_t)(crlf - p) + 2;
			continue;
		}
		if (n < 4)
			break;
		{
			uint32_t	flen = ((uint32_t)p[0] << 24) |
			    ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];

			if (n < 4 + (size_t)flen)
				break;
			/* A reply has an id; events (the sender's own copy of
			 * the message, presence) do not. */
			if (memmem(p + 4, flen, "\xa2id", 3) != NULL &&
			    memmem(p + 4, flen, "\xa5""event", 6) == NULL) {
				if (memmem(p + 4, flen, "\xa2ok\xc3", 4) == NULL) {
					fprintf(stderr, "fanout: chat.send failed: "
					    "%.*s\n", (int)flen, p + 4);
					exit(1);
				}
				acks++;
			}
			off += 4 + flen;
		}
	}
	memmove(sbuf, sbuf + off, slen - off);
	slen -= off;
	return acks;
}

static void
setup_mediflow(void)
{
	struct mf_client	 mc;
	json_t			*reply, *args;
	char			 hostport[32], *cause = NULL, *token;
	int64_t			 recv_user;
	int			 i;

	snprintf(hostport, sizeof hostport, "127.0.0.1:%d", port);
	/* The receivers' one session. */
	if (mfc_connect(&mc, hostport, &cause) != 0) {
		fprintf(stderr, "fanout: %s\n", cause);
		exit(1);
	}
	json_decref(mfc_call_json(&mc, "hello", args = json_pack("{s:i}",
	    "version", 1), 10000));
	json_decref(args);
	reply = mfc_call_json(&mc, "auth.login", args = json_pack("{s:s, s:s}",
	    "email", recv_email, "password", password), 30000);
	json_decref(args);
	if (reply == NULL || json_string_value(json_object_get(json_object_get(
	    reply, "result"), "token")) == NULL) {
		fprintf(stderr, "fanout: login as %s failed\n", recv_email);
		exit(1);
	}
	token = xstrdup(json_string_value(json_object_get(json_object_get(reply,
	    "result"), "token")));
	recv_user = json_integer_value(json_object_get(json_object_get(
	    json_object_get(reply, "result"), "user"), "id"));
	json_decref(reply);
	mfc_close(&mc);

	for (i = 0; i < nrecv; i++) {
		if (mfc_connect(&mc, hostport, &cause) != 0) {
			fprintf(stderr, "fanout: receiver %d: %s\n", i, cause);
			exit(1);
		}
		json_decref(mfc_call_json(&mc, "hello", args = json_pack("{s:i}",
		    "version", 1), 10000));
		json_decref(args);
		reply = mfc_call_json(&mc, "auth.resume", args = json_pack("{s:s}",
		    "token", token), 10000);
		json_decref(args);
		if (reply == NULL || !json_is_true(json_object_get(reply, "ok"))) {
			fprintf(stderr, "fanout: receiver %d could not resume\n", i);
			exit(1);
		}
		json_decref(reply);
		/* Take over the socket and whatever was read past the reply. */
		recvs[i].fd = mc.fd;
		recvs[i].cap = mc.len + 262144;
		recvs[i].buf = xmalloc(recvs[i].cap);
		memcpy(recvs[i].buf, mc.buf, mc.len);
		recvs[i].len = mc.len;
		mc.fd = -1;
		mfc_close(&mc);
	}
	free(token);

	/* The sender. */
	if (mfc_connect(&mc, hostport, &cause) != 0) {
		fprintf(stderr, "fanout: sender: %s\n", cause);
		exit(1);
	}
	json_decref(mfc_call_json(&mc, "hello", args = json_pack("{s:i}",
	    "version", 1), 10000));
	json_decref(args);
	json_decref(mfc_call_json(&mc, "auth.login", args = json_pack("{s:s, s:s}",
	    "email", sender_email, "password", password), 30000));
	json_decref(args);
	reply = mfc_call_json(&mc, "chat.open", args = json_pack("{s:I}",
	    "user_id", (json_int_t)recv_user), 10000);
	json_decref(args);
	conv_id = json_integer_value(json_object_get(json_object_get(
	    json_object_get(reply, "result"), "conversation"), "id"));
	json_decref(reply);
	if (conv_id <= 0) {
		fprintf(stderr, "fanout: chat.open failed\n");
		exit(1);
	}
	sender_fd = mc.fd;
	mc.fd = -1;
	mfc_close(&mc);
	seq = (uint64_t)now_ns() % 1000000000u * 1000;	/* fresh ids per run */
}

static void
setup_redis(void)
{
	static const char	sub[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nfanout\r\n";
	int			i, ready = 0, guard;

	for (i = 0; i < nrecv; i++) {
		recvs[i].fd = tcp_connect();
		write_all(recvs[i].fd, sub, sizeof sub - 1);
	}
	sender_fd = tcp_connect();
	for (i = 0; i < nrecv; i++) {
		fcntl(recvs[i].fd, F_SETFL, O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, recvs[i].fd, &(struct epoll_event){
		    .events = EPOLLIN, .data.ptr = &recvs[i] });
	}
	for (guard = 0; guard < 1000 && ready < nrecv; guard++) {
		pump(10);
		for (ready = 0, i = 0; i < nrecv; i++)
			ready += recvs[i].subscribed;
	}
	if (ready < nrecv) {
		fprintf(stderr, "fanout: only %d of %d subscribed\n", ready, nrecv);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct rlimit	rl;
	uint64_t	t0, t1, want, sent = 0, acked = 0;
	int		ch, i, inflight;

	while ((ch = getopt(argc, argv, "m:p:n:l:d:w:")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "mediflow") == 0)
				mode = M_MEDIFLOW;
			else if (strcmp(optarg, "redis") == 0)
				mode = M_REDIS;
			else
				usage();
			break;
		case 'p': port = atoi(optarg); break;
		case 'n': nrecv = atoi(optarg); break;
		case 'l': nlatency = atoi(optarg); break;
		case 'd': seconds = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || nrecv <= 0 || window <= 0)
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	recvs = xcalloc((size_t)nrecv, sizeof *recvs);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("fanout: epoll");
		return 1;
	}
	if (mode == M_REDIS)
		setup_redis();
	else {
		setup_mediflow();
		for (i = 0; i < nrecv; i++) {
			fcntl(recvs[i].fd, F_SETFL, O_NONBLOCK);
			epoll_ctl(ep, EPOLL_CTL_ADD, recvs[i].fd, &(struct epoll_event){
			    .events = EPOLLIN, .data.ptr = &recvs[i] });
		}
		/* Presence and the like from the set-up: read and forget. */
		for (i = 0; i < 20; i++)
			pump(5);
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, sender_fd, &(struct epoll_event){
	    .events = EPOLLIN, .data.ptr = NULL });

	/* Phase 1: one message at a time. */
	delivered = 0;
	lat.n = 0;
	for (i = 0; i < nlatency; i++) {
		uint64_t	deadline = now_ns() + 10000000000ull;

		want = delivered + (uint64_t)nrecv;
		send_one();
		while (delivered < want && now_ns() < deadline)
			pump(100);
		if (delivered < want) {
			fprintf(stderr, "fanout: message %d reached %llu of %d\n", i,
			    (unsigned long long)(delivered + nrecv - want), nrecv);
			return 1;
		}
		sender_acks();
	}
	printf("RESULT phase=latency mode=%s receivers=%d messages=%d "
	    "deliveries=%llu p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
	    mode == M_REDIS ? "redis" : "mediflow", nrecv, nlatency,
	    (unsigned long long)delivered, hist_pct(&lat, 50) / 1e3,
	    hist_pct(&lat, 99) / 1e3, hist_pct(&lat, 100) / 1e3);
	fflush(stdout);

	/* Phase 2: window sends in flight for the given seconds. */
	sender_acks();
	delivered = 0;
	lat.n = 0;
	t0 = now_ns();
	t1 = t0 + (uint64_t)seconds * 1000000000u;
	inflight = 0;
	while (now_ns() < t1) {
		while (inflight < window) {
			send_one();
			sent++;
			inflight++;
		}
		pump(1);
		i = sender_acks();
		acked += (uint64_t)i;
		inflight -= i;
	}
	t1 = now_ns();
	{
		uint64_t	deadline = t1 + 30000000000ull;
		uint64_t	in_window = delivered, acked_in_window = acked;

		/* Let the rest arrive, so none are lost unnoticed. */
		while (delivered < sent * (uint64_t)nrecv && now_ns() < deadline) {
			pump(50);
			acked += (uint64_t)sender_acks();
		}
		printf("RESULT phase=throughput mode=%s receivers=%d window=%d "
		    "seconds=%.2f sent=%llu msgs_per_s=%.0f deliveries_per_s=%.0f "
		    "p50_us=%.1f p99_us=%.1f complete=%s\n",
		    mode == M_REDIS ? "redis" : "mediflow", nrecv, window,
		    (t1 - t0) / 1e9, (unsigned long long)sent,
		    (double)acked_in_window / ((t1 - t0) / 1e9),
		    (double)in_window / ((t1 - t0) / 1e9),
		    hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 99) / 1e3,
		    delivered == sent * (uint64_t)nrecv ? "yes" : "NO");
	}
	return 0;
}
