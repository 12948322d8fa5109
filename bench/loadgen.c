/* loadgen.c -- a closed-loop load generator for mediflowd.
 *
 * One libevent loop drives every connection through non-blocking
 * bufferevents. Each connection says hello, gets a session (its own
 * auth.login, or auth.resume with the token of the first connection's
 * login), then keeps `depth` requests in flight: every reply sends the next
 * request. Latency is taken with CLOCK_MONOTONIC from the moment a request
 * is queued to the moment its reply is parsed, and recorded in a fixed
 * log-linear histogram (no allocation per request).
 *
 * Output: one human line, then one line starting with "RESULT" made of
 * key=value pairs for scripts. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include <msgpack.h>

#include "frame.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

#define MAX_OPS		16
#define MAX_DEPTH	64
#define TOKEN_MAX	128

/*
 * The histogram: values in nanoseconds, 64 linear sub-buckets per power of
 * two above 128 ns (HDR histogram with 2 significant digits), so any
 * recorded value is within 1/64 (1.6 %) of the truth. 2^40 ns (18 minutes)
 * is the ceiling; larger values land in the last bucket.
 */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_MAX_BITS	40
#define HIST_BUCKETS	((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB + HIST_SUB)

struct histogram {
	uint64_t	counts[HIST_BUCKETS];
	uint64_t	total;
	uint64_t	max;
	double		sum;
};

enum conn_state {
	CS_CONNECTING,
	CS_HELLO,	/* hello sent */
	CS_WAIT_TOKEN,	/* hello done; waiting for the leader's token */
	CS_AUTH,	/* auth.login or auth.resume sent */
	CS_READY,	/* waiting for the start signal */
	CS_RUN,
	CS_DEAD,
};

struct inflight {
	uint64_t	id;
	uint64_t	start_ns;
	int		op;
	int		counted;	/* sent after warm-up: recorded */
};

struct lg_conn {
	int			 index;
	struct bufferevent	*bev;
	enum conn_state		 state;
	uint64_t		 next_id;
	struct inflight		 ring[MAX_DEPTH];
	int			 head, count;
	msgpack_unpacked	 reply;
	unsigned char		*frame;		/* one reply, copied out */
	size_t			 frame_cap;
};

struct op_spec {
	char		name[64];
	int		weight;
	int		login;		/* the op is auth.login with the -e/-P args */
	uint64_t	sent, done, failed;
};

static struct {
	const char		*host;
	int			 port;
	int			 conns;
	double			 duration;
	uint64_t		 total;		/* -n: stop after this many measured requests */
	double			 warmup;
	const char		*email;
	const char		*password;
	int			 login_mode;	/* -L */
	int			 each_login;	/* -s: every connection logs in itself */
	int			 depth;
	const char		*label;
	const char		*ops_spec;
	int			 quiet;

	struct op_spec		 ops[MAX_OPS];
	int			 nops, weight_sum;

	struct event_base	*base;
	struct lg_conn		*c;
	int			 nready, ndead, nstarted;
	int			 nlost;		/* connections closed, in all */
	char			 token[TOKEN_MAX + 1];
	int			 have_token;

	int			 measuring;	/* past warm-up */
	int			 stopping;
	uint64_t		 measure_start_ns, measure_end_ns;
	uint64_t		 requests, errors;
	uint64_t		 err_by_code[ERR__COUNT + 1];	/* last: unknown code */
	uint64_t		 bad_replies;			/* wrong id, malformed */
	uint64_t		 conn_failures;
	struct histogram	 hist;
	msgpack_sbuffer		 sb;
	uint64_t		 rng;
	struct event		*warmup_ev, *stop_ev, *sigint_ev;
	int			 exit_code;
} lg;

static void	usage(void) __attribute__((noreturn));
static uint64_t	now_ns(void);
static int	hist_index(uint64_t);
static uint64_t	hist_value_at(int);
static void	hist_record(struct histogram *, uint64_t);
static uint64_t	hist_percentile(const struct histogram *, double);
static int	parse_ops(const char *);
static int	pick_op(void);
static void	send_request(struct lg_conn *, const char *, int, int);
static void	send_next(struct lg_conn *);
static void	send_hello(struct lg_conn *);
static void	send_auth(struct lg_conn *);
static void	conn_dead(struct lg_conn *, const char *);
static void	abandon_waiting(void);
static void	start_run(void);
static void	handle_reply(struct lg_conn *, const msgpack_object *);
static void	read_cb(struct bufferevent *, void *);
static void	event_cb(struct bufferevent *, short, void *);
static void	warmup_cb(evutil_socket_t, short, void *);
static void	stop_cb(evutil_socket_t, short, void *);
static void	sigint_cb(evutil_socket_t, short, void *);
static int	connect_all(void);
static void	report(void);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-h host] [-p port] [-c conns] [-d seconds | -n requests]\n"
	    "               [-o op[:weight],...] [-e email -P password] [-s] [-L]\n"
	    "               [-w warmup] [-q depth] [-l label] [-Q]\n"
	    "  -h HOST    server address (default 127.0.0.1)\n"
	    "  -p PORT    server port (default 7400)\n"
	    "  -c N       connections (default 50)\n"
	    "  -d SECS    measured duration (default 10)\n"
	    "  -n N       stop after N measured requests instead\n"
	    "  -o OPS     op or weighted mix, e.g. auth.me or auth.me:9,health:1\n"
	    "             (ops take no arguments; default health)\n"
	    "  -e EMAIL   log in as this account (needed by ops that need a login)\n"
	    "  -P PASS    its password\n"
	    "  -s         every connection runs its own auth.login (default: the\n"
	    "             first logs in, the others auth.resume its token)\n"
	    "  -L         login mode: every request is a full auth.login\n"
	    "  -w SECS    warm-up before measuring (default 1)\n"
	    "  -q N       requests in flight per connection (default 1, max %d)\n"
	    "  -l LABEL   a name for the RESULT line (default the op string)\n"
	    "  -Q         print only the RESULT line\n", MAX_DEPTH);
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- histogram --- */

static int
hist_index(uint64_t v)
{
	int	msb, shift, idx;

	if (v < 2 * HIST_SUB)
		return (int)v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	idx = shift * HIST_SUB + (int)(v >> shift);
	if (idx >= HIST_BUCKETS)
		idx = HIST_BUCKETS - 1;
	return idx;
}

/* The highest value that falls in bucket idx. */
static uint64_t
hist_value_at(int idx)
{
	int		shift;
	uint64_t	m;

	if (idx < 2 * HIST_SUB)
		return (uint64_t)idx;
	shift = idx / HIST_SUB - 1;
	m = (uint64_t)(idx % HIST_SUB + HIST_SUB);
	return ((m + 1) << shift) - 1;
}

static void
hist_record(struct histogram *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += (double)v;
	if (v > h->max)
		h->max = v;
}

static uint64_t
hist_percentile(const struct histogram *h, double pct)
{
	uint64_t	want, seen = 0;
	int		i;

	if (h->total == 0)
		return 0;
	/* The rank of the value at pct, rounded up (nearest-rank method). */
	want = (uint64_t)(pct / 100.0 * (double)h->total);
	if ((double)want < pct / 100.0 * (double)h->total)
		want++;
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			uint64_t v = hist_value_at(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* --- ops --- */

static int
parse_ops(const char *spec)
{
	char	*copy = xstrdup(spec), *save = NULL, *item, *colon, *end;
	long	 w;

	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		struct op_spec	*o;

		if (lg.nops == MAX_OPS) {
			fprintf(stderr, "loadgen: at most %d ops\n", MAX_OPS);
			goto bad;
		}
		o = &lg.ops[lg.nops];
		w = 1;
		if ((colon = strchr(item, ':')) != NULL) {
			*colon = '\0';
			errno = 0;
			w = strtol(colon + 1, &end, 10);
			if (errno != 0 || *end != '\0' || w <= 0 || w > 1000000) {
				fprintf(stderr, "loadgen: bad weight: %s\n", colon + 1);
				goto bad;
			}
		}
		if (*item == '\0' || strlen(item) >= sizeof o->name) {
			fprintf(stderr, "loadgen: bad op name\n");
			goto bad;
		}
		strlcpy_mf(o->name, item, sizeof o->name);
		o->weight = (int)w;
		o->login = strcmp(item, "auth.login") == 0;
		lg.weight_sum += o->weight;
		lg.nops++;
	}
	free(copy);
	return lg.nops > 0 ? 0 : -1;
bad:
	free(copy);
	return -1;
}

/* xorshift64*: cheap and good enough to pick ops by weight. */
static int
pick_op(void)
{
	uint64_t	x = lg.rng;
	int		r, i;

	if (lg.nops == 1)
		return 0;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	lg.rng = x;
	r = (int)((x * 2685821657736338717ULL >> 33) % (uint64_t)lg.weight_sum);
	for (i = 0; i < lg.nops; i++) {
		if (r < lg.ops[i].weight)
			return i;
		r -= lg.ops[i].weight;
	}
	return lg.nops - 1;
}

/* --- requests --- */

/*
 * Queues one request. op_index >= 0 is a measured op from the mix; -1 is a
 * set-up request (hello, login, resume), which is not recorded.
 */
static void
send_request(struct lg_conn *c, const char *op, int op_index, int with_login)
{
	msgpack_packer	 pk;
	unsigned char	 hdr[FRAME_HEADER_SIZE];
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct inflight	*f;

	if (c->count == MAX_DEPTH)
		abort();
	msgpack_sbuffer_clear(&lg.sb);
	msgpack_packer_init(&pk, &lg.sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", (int64_t)c->next_id);
	mp_pack_kv_str(&pk, "op", op);
	mp_pack_str(&pk, "args");
	if (strcmp(op, "hello") == 0) {
		msgpack_pack_map(&pk, 1);
		mp_pack_kv_int(&pk, "version", PROTO_VERSION);
	} else if (with_login) {
		msgpack_pack_map(&pk, 2);
		mp_pack_kv_str(&pk, "email", lg.email);
		mp_pack_kv_str(&pk, "password", lg.password);
	} else if (strcmp(op, "auth.resume") == 0) {
		msgpack_pack_map(&pk, 1);
		mp_pack_kv_str(&pk, "token", lg.token);
	} else
		msgpack_pack_map(&pk, 0);
	frame_header_write(hdr, (uint32_t)lg.sb.size);
	evbuffer_add(out, hdr, sizeof hdr);
	evbuffer_add(out, lg.sb.data, lg.sb.size);

	f = &c->ring[(c->head + c->count) % MAX_DEPTH];
	c->count++;
	f->id = c->next_id++;
	f->op = op_index;
	f->counted = op_index >= 0 && lg.measuring;
	f->start_ns = now_ns();
	if (op_index >= 0)
		lg.ops[op_index].sent++;
}

static void
send_next(struct lg_conn *c)
{
	int	i;

	if (lg.stopping || c->state != CS_RUN)
		return;
	if (lg.login_mode) {
		send_request(c, "auth.login", 0, 1);
		return;
	}
	i = pick_op();
	send_request(c, lg.ops[i].name, i, lg.ops[i].login);
}

static void
send_hello(struct lg_conn *c)
{
	c->state = CS_HELLO;
	send_request(c, "hello", -1, 0);
}

static void
send_auth(struct lg_conn *c)
{
	c->state = CS_AUTH;
	if (lg.have_token && !lg.each_login)
		send_request(c, "auth.resume", -1, 0);
	else
		send_request(c, "auth.login", -1, 1);
}

static void
conn_dead(struct lg_conn *c, const char *why)
{
	if (c->state == CS_DEAD)
		return;
	if (!lg.stopping) {
		fprintf(stderr, "loadgen: connection %d: %s\n", c->index, why);
		lg.conn_failures++;
	}
	if (c->state < CS_READY) {
		/* It never got going: count it so start-up does not wait forever. */
		lg.ndead++;
	}
	lg.nlost++;
	c->state = CS_DEAD;
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (lg.nready + lg.ndead == lg.conns && lg.nstarted == 0)
		start_run();
	if (lg.nlost == lg.conns && lg.nstarted && !lg.stopping) {
		/* Nobody left to send anything. */
		lg.exit_code = 1;
		stop_cb(-1, 0, NULL);
	}
}

/* Every connection is ready (or dead): start the clock and the load. */
static void
start_run(void)
{
	struct timeval	tv;
	int		i, j;

	if (lg.nready == 0) {
		fprintf(stderr, "loadgen: no connection got ready\n");
		lg.exit_code = 1;
		event_base_loopbreak(lg.base);
		return;
	}
	lg.nstarted = 1;
	if (lg.warmup > 0) {
		tv.tv_sec = (time_t)lg.warmup;
		tv.tv_usec = (suseconds_t)((lg.warmup - (double)tv.tv_sec) * 1e6);
		lg.warmup_ev = evtimer_new(lg.base, warmup_cb, NULL);
		evtimer_add(lg.warmup_ev, &tv);
	} else
		warmup_cb(-1, 0, NULL);
	for (i = 0; i < lg.conns; i++) {
		struct lg_conn	*c = &lg.c[i];

		if (c->state != CS_READY)
			continue;
		c->state = CS_RUN;
		for (j = 0; j < lg.depth; j++)
			send_next(c);
	}
}

static void
record_error(const msgpack_object *reply)
{
	const msgpack_object	*err, *code;
	char			 name[32];
	enum err_code		 e;

	err = mp_map_get(reply, "error");
	code = mp_map_get(err, "code");
	if (code == NULL || code->type != MSGPACK_OBJECT_STR ||
	    code->via.str.size >= sizeof name) {
		lg.err_by_code[ERR__COUNT]++;
		return;
	}
	memcpy(name, code->via.str.ptr, code->via.str.size);
	name[code->via.str.size] = '\0';
	e = err_code_from_name(name);
	lg.err_by_code[e == ERR_NONE ? ERR__COUNT : e]++;
}

static void
print_error(struct lg_conn *c, const char *what, const msgpack_object *reply)
{
	const msgpack_object	*err = mp_map_get(reply, "error");
	const msgpack_object	*code = mp_map_get(err, "code");
	const msgpack_object	*msg = mp_map_get(err, "message");

	fprintf(stderr, "loadgen: connection %d: %s failed: %.*s: %.*s\n",
	    c->index, what,
	    code != NULL && code->type == MSGPACK_OBJECT_STR ? (int)code->via.str.size : 1,
	    code != NULL && code->type == MSGPACK_OBJECT_STR ? code->via.str.ptr : "?",
	    msg != NULL && msg->type == MSGPACK_OBJECT_STR ? (int)msg->via.str.size : 0,
	    msg != NULL && msg->type == MSGPACK_OBJECT_STR ? msg->via.str.ptr : "");
}

/* A connection finished its set-up. */
static void
conn_ready(struct lg_conn *c)
{
	c->state = CS_READY;
	lg.nready++;
	if (lg.nready + lg.ndead == lg.conns)
		start_run();
}

/* The leader could not log in: nobody gets a token to resume with. */
static void
abandon_waiting(void)
{
	int	i;

	for (i = 0; i < lg.conns; i++) {
		if (lg.c[i].state == CS_WAIT_TOKEN || lg.c[i].state == CS_HELLO ||
		    lg.c[i].state == CS_CONNECTING)
			conn_dead(&lg.c[i], "no session to resume");
	}
}

/* The leader's token arrived: the waiting connections resume with it. */
static void
token_arrived(const msgpack_object *result)
{
	const msgpack_object	*tok = mp_map_get(result, "token");
	int			 i;

	if (tok == NULL || tok->type != MSGPACK_OBJECT_STR ||
	    tok->via.str.size == 0 || tok->via.str.size > TOKEN_MAX)
		return;
	memcpy(lg.token, tok->via.str.ptr, tok->via.str.size);
	lg.token[tok->via.str.size] = '\0';
	lg.have_token = 1;
	for (i = 0; i < lg.conns; i++) {
		if (lg.c[i].state == CS_WAIT_TOKEN)
			send_auth(&lg.c[i]);
	}
}

static void
handle_reply(struct lg_conn *c, const msgpack_object *reply)
{
	const msgpack_object	*id, *ok, *result;
	struct inflight		*f;
	uint64_t		 t = now_ns();
	int			 success;

	id = mp_map_get(reply, "id");
	ok = mp_map_get(reply, "ok");
	if (id == NULL || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		/* A push event ({event, data}) has no id: not ours to count. */
		if (mp_map_get(reply, "event") != NULL)
			return;
		lg.bad_replies++;
		conn_dead(c, "reply without an id");
		return;
	}
	if (id->via.u64 == 0) {
		print_error(c, "the connection", reply);
		conn_dead(c, "the server refused a frame");
		return;
	}
	if (c->count == 0 || c->ring[c->head].id != id->via.u64 ||
	    ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN) {
		lg.bad_replies++;
		conn_dead(c, "reply out of order or without ok");
		return;
	}
	f = &c->ring[c->head];
	c->head = (c->head + 1) % MAX_DEPTH;
	c->count--;
	success = ok->via.boolean;
	result = mp_map_get(reply, "result");

	switch (c->state) {
	case CS_HELLO:
		if (!success) {
			print_error(c, "hello", reply);
			conn_dead(c, "hello refused");
			return;
		}
		if (lg.email == NULL || lg.login_mode)
			conn_ready(c);
		else if (c->index == 0 || lg.have_token || lg.each_login)
			send_auth(c);
		else
			c->state = CS_WAIT_TOKEN;
		return;
	case CS_AUTH:
		if (!success) {
			print_error(c, "login", reply);
			conn_dead(c, "could not log in");
			if (!lg.have_token && !lg.each_login)
				abandon_waiting();
			return;
		}
		if (!lg.have_token)
			token_arrived(result);
		conn_ready(c);
		return;
	case CS_RUN:
		break;
	default:
		return;
	}

	if (f->op >= 0) {
		lg.ops[f->op].done++;
		if (!success)
			lg.ops[f->op].failed++;
	}
	if (f->counted && lg.measuring) {
		lg.requests++;
		hist_record(&lg.hist, t - f->start_ns);
		if (!success) {
			lg.errors++;
			record_error(reply);
		}
		if (lg.total > 0 && lg.requests >= lg.total) {
			stop_cb(-1, 0, NULL);
			return;
		}
	}
	send_next(c);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct lg_conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	unsigned char	 hdr[FRAME_HEADER_SIZE];
	struct frame_limits lim;
	const char	*cause;
	uint32_t	 len;

	frame_limits_default(&lim);
	lim.max_frame = 64 * 1024 * 1024;
	while (c->state != CS_DEAD && !lg.stopping) {
		if (evbuffer_get_length(in) < FRAME_HEADER_SIZE)
			return;
		evbuffer_copyout(in, hdr, sizeof hdr);
		len = frame_header_length(hdr);
		if (len == 0 || len > lim.max_frame) {
			conn_dead(c, "bad frame length from the server");
			return;
		}
		if (evbuffer_get_length(in) < FRAME_HEADER_SIZE + (size_t)len)
			return;
		if (c->frame_cap < len) {
			c->frame_cap = len < 4096 ? 4096 : len;
			c->frame = xrealloc(c->frame, c->frame_cap);
		}
		evbuffer_drain(in, FRAME_HEADER_SIZE);
		evbuffer_remove(in, c->frame, len);
		if (frame_decode(c->frame, len, &lim, &c->reply, &cause) != 0) {
			lg.bad_replies++;
			conn_dead(c, cause);
			return;
		}
		handle_reply(c, &c->reply.data);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lg_conn	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		send_hello(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		conn_dead(c, "server closed the connection");
	else if (what & BEV_EVENT_TIMEOUT)
		conn_dead(c, "timed out waiting for a reply");
	else if (what & BEV_EVENT_ERROR)
		conn_dead(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void
warmup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv;

	(void)fd;
	(void)what;
	(void)arg;
	lg.measuring = 1;
	lg.measure_start_ns = now_ns();
	if (lg.total == 0 || lg.duration > 0) {
		tv.tv_sec = (time_t)lg.duration;
		tv.tv_usec = (suseconds_t)((lg.duration - (double)tv.tv_sec) * 1e6);
		lg.stop_ev = evtimer_new(lg.base, stop_cb, NULL);
		evtimer_add(lg.stop_ev, &tv);
	}
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (lg.stopping)
		return;
	lg.stopping = 1;
	lg.measure_end_ns = now_ns();
	event_base_loopbreak(lg.base);
}

static void
sigint_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!lg.measuring)
		lg.measure_start_ns = now_ns();
	lg.measuring = 1;
	stop_cb(-1, 0, NULL);
}

static int
connect_all(void)
{
	struct sockaddr_storage	ss;
	int			sslen = sizeof ss, i, one = 1;
	char			addr[300];
	struct timeval		tv = { 30, 0 };

	if (strchr(lg.host, ':') != NULL)
		snprintf(addr, sizeof addr, "[%s]:%d", lg.host, lg.port);
	else
		snprintf(addr, sizeof addr, "%s:%d", lg.host, lg.port);
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		fprintf(stderr, "loadgen: bad address (want a numeric IP): %s\n", addr);
		return -1;
	}
	for (i = 0; i < lg.conns; i++) {
		struct lg_conn	*c = &lg.c[i];
		evutil_socket_t	 fd;

		c->index = i;
		c->next_id = 1;
		msgpack_unpacked_init(&c->reply);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
			return -1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		evutil_make_socket_nonblocking(fd);
		c->bev = bufferevent_socket_new(lg.base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			evutil_closesocket(fd);
			return -1;
		}
		bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
		bufferevent_set_timeouts(c->bev, &tv, NULL);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		c->state = CS_CONNECTING;
		if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss,
		    sslen) != 0) {
			fprintf(stderr, "loadgen: cannot connect to %s\n", addr);
			return -1;
		}
	}
	return 0;
}

static void
report(void)
{
	double		 secs, rps;
	uint64_t	 p50, p99, p999;
	char		 errs[512];
	size_t		 off = 0;
	int		 i;

	if (lg.measure_end_ns == 0)
		lg.measure_end_ns = now_ns();
	secs = lg.measuring ?
	    (double)(lg.measure_end_ns - lg.measure_start_ns) / 1e9 : 0;
	rps = secs > 0 ? (double)lg.requests / secs : 0;
	p50 = hist_percentile(&lg.hist, 50);
	p99 = hist_percentile(&lg.hist, 99);
	p999 = hist_percentile(&lg.hist, 99.9);

	errs[0] = '\0';
	for (i = 1; i <= ERR__COUNT; i++) {
		if (lg.err_by_code[i] == 0)
			continue;
		off += (size_t)snprintf(errs + off, sizeof errs - off, " err_%s=%llu",
		    i == ERR__COUNT ? "other" : err_code_name((enum err_code)i),
		    (unsigned long long)lg.err_by_code[i]);
		if (off >= sizeof errs)
			break;
	}
	if (!lg.quiet) {
		printf("%s: %d conns x depth %d, %.2f s: %llu requests, %llu errors, "
		    "%.0f req/s; latency ms p50 %.3f p99 %.3f p99.9 %.3f max %.3f "
		    "mean %.3f\n", lg.label, lg.nready, lg.depth, secs,
		    (unsigned long long)lg.requests, (unsigned long long)lg.errors,
		    rps, p50 / 1e6, p99 / 1e6, p999 / 1e6, lg.hist.max / 1e6,
		    lg.hist.total ? lg.hist.sum / (double)lg.hist.total / 1e6 : 0.0);
		if (lg.nops > 1 && !lg.login_mode) {
			for (i = 0; i < lg.nops; i++)
				printf("  %s: %llu sent, %llu done, %llu failed\n",
				    lg.ops[i].name,
				    (unsigned long long)lg.ops[i].sent,
				    (unsigned long long)lg.ops[i].done,
				    (unsigned long long)lg.ops[i].failed);
		}
	}
	printf("RESULT label=%s ops=%s login_mode=%d conns=%d ready=%d depth=%d "
	    "seconds=%.3f requests=%llu errors=%llu%s bad_replies=%llu "
	    "conn_failures=%llu rps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	    "max_ms=%.3f mean_ms=%.3f\n",
	    lg.label, lg.ops_spec,
	    lg.login_mode, lg.conns, lg.nready, lg.depth, secs,
	    (unsigned long long)lg.requests, (unsigned long long)lg.errors, errs,
	    (unsigned long long)lg.bad_replies,
	    (unsigned long long)lg.conn_failures, rps, p50 / 1e6, p99 / 1e6,
	    p999 / 1e6, lg.hist.max / 1e6,
	    lg.hist.total ? lg.hist.sum / (double)lg.hist.total / 1e6 : 0.0);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char	*ops = "health";
	char		*end;
	int		 ch, i;

	lg.host = "127.0.0.1";
	lg.port = 7400;
	lg.conns = 50;
	lg.duration = -1;
	lg.warmup = 1;
	lg.depth = 1;
	while ((ch = getopt(argc, argv, "h:p:c:d:n:o:e:P:sLw:q:l:Q")) != -1) {
		switch (ch) {
		case 'h':
			lg.host = optarg;
			break;
		case 'p':
			lg.port = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || lg.port <= 0 || lg.port > 65535)
				usage();
			break;
		case 'c':
			lg.conns = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || lg.conns <= 0 || lg.conns > 100000)
				usage();
			break;
		case 'd':
			lg.duration = strtod(optarg, &end);
			if (*end != '\0' || lg.duration <= 0)
				usage();
			break;
		case 'n':
			lg.total = strtoull(optarg, &end, 10);
			if (*end != '\0' || lg.total == 0)
				usage();
			break;
		case 'o':
			ops = optarg;
			break;
		case 'e':
			lg.email = optarg;
			break;
		case 'P':
			lg.password = optarg;
			break;
		case 's':
			lg.each_login = 1;
			break;
		case 'L':
			lg.login_mode = 1;
			break;
		case 'w':
			lg.warmup = strtod(optarg, &end);
			if (*end != '\0' || lg.warmup < 0)
				usage();
			break;
		case 'q':
			lg.depth = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || lg.depth < 1 || lg.depth > MAX_DEPTH)
				usage();
			break;
		case 'l':
			lg.label = optarg;
			break;
		case 'Q':
			lg.quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (lg.login_mode)
		ops = "auth.login";
	if (parse_ops(ops) != 0)
		usage();
	lg.ops_spec = ops;
	if (lg.label == NULL)
		lg.label = lg.login_mode ? "auth.login" : ops;
	if (lg.duration < 0 && lg.total == 0)
		lg.duration = 10;
	if ((lg.email == NULL) != (lg.password == NULL)) {
		fprintf(stderr, "loadgen: -e and -P go together\n");
		return 2;
	}
	if (lg.login_mode && lg.email == NULL) {
		fprintf(stderr, "loadgen: -L needs -e and -P\n");
		return 2;
	}
	for (i = 0; i < lg.nops; i++) {
		if (lg.ops[i].login && lg.email == NULL) {
			fprintf(stderr, "loadgen: auth.login needs -e and -P\n");
			return 2;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	lg.rng = (uint64_t)now_ns() | 1;
	msgpack_sbuffer_init(&lg.sb);
	if ((lg.base = event_base_new()) == NULL) {
		fprintf(stderr, "loadgen: cannot create the event loop\n");
		return 1;
	}
	lg.sigint_ev = evsignal_new(lg.base, SIGINT, sigint_cb, NULL);
	evsignal_add(lg.sigint_ev, NULL);
	lg.c = xcalloc((size_t)lg.conns, sizeof *lg.c);
	if (connect_all() != 0)
		return 1;
	event_base_dispatch(lg.base);
	report();
	if (lg.conn_failures > 0 || lg.bad_replies > 0)
		lg.exit_code = 1;

	for (i = 0; i < lg.conns; i++) {
		if (lg.c[i].bev != NULL)
			bufferevent_free(lg.c[i].bev);
		msgpack_unpacked_destroy(&lg.c[i].reply);
		free(lg.c[i].frame);
	}
	free(lg.c);
	if (lg.warmup_ev != NULL)
		event_free(lg.warmup_ev);
	if (lg.stop_ev != NULL)
		event_free(lg.stop_ev);
	event_free(lg.sigint_ev);
	event_base_free(lg.base);
	msgpack_sbuffer_destroy(&lg.sb);
	return lg.exit_code;
}
