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
 * An op may take arguments from a JSON template (-a) whose placeholders are
 * filled in per request: the template is packed once into msgpack with
 * holes, and each request copies the packed bytes and packs only the holes.
 * With -E every connection runs the secure channel (common/channel.h): the
 * handshake without a pin check, then sealed records both ways; -S picks
 * what the hello offers, for A/B runs of the record ciphers.
 *
 * When the time is up no new request is sent, and the replies still in
 * flight are waited for (at most DRAIN_SECONDS), so the count of successful
 * replies is exact: what the server acknowledged, the loadgen saw.
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

#include <jansson.h>
#include <msgpack.h>

#include "channel.h"
#include "frame.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

#define MAX_OPS		16
#define MAX_DEPTH	64
#define TOKEN_MAX	128
#define MAX_HOLES	16	/* placeholders in one template */
/* Seconds without a byte from the server before a connection is given up. */
#define REPLY_TIMEOUT	30
/* -r: requests due on one connection that may wait for a place. */
#define PACE_BACKLOG	65536
#define DRAIN_SECONDS	10

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
	CS_CHANNEL,	/* -E: the channel's hello sent, waiting for the server's */
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
	struct bufferevent	*bev;		/* connects and writes what waits */
	struct event		*rd_ev;		/* reads, once connected */
	enum conn_state		 state;
	uint64_t		 next_id;
	struct inflight		 ring[MAX_DEPTH];
	int			 head, count;
	msgpack_unpacked	 reply;
	unsigned char		*frame;		/* one reply, copied out */
	size_t			 frame_cap;
	struct channel		*ch;		/* -E */
	struct evbuffer		*plain_in;	/* -E: opened records */
	uint64_t		*due;		/* -r: when the waiting ones were due */
	size_t			 due_head, due_count;
};

/*
 * An argument template: the args map packed once, with holes. A request
 * writes bytes [0, holes[0].at), hole 0's value, bytes [holes[0].at,
 * holes[1].at), hole 1's value, ... and the rest of the bytes.
 */
enum hole_kind {
	HOLE_RAND,	/* an integer in [lo, hi] */
	HOLE_SEQ,	/* lo + n */
	HOLE_SEQMOD,	/* lo + n % hi */
	HOLE_PICK,	/* one of count pre-packed strings (lists, dates) */
	HOLE_SLOT,	/* the (n / div)th slot of a working-day calendar */
};

struct hole {
	size_t		at;
	enum hole_kind	kind;
	int64_t		lo, hi;
	size_t		first, count;	/* PICK: values in lg.pool; SLOT: days in lg.ints */
	size_t		sfirst, scount;	/* SLOT: slot start offsets in lg.ints */
	int64_t		div;		/* SLOT */
};

struct arg_template {
	char		*bytes;
	size_t		 len;
	struct hole	 holes[MAX_HOLES];
	int		 nholes;
	int		 uses_seq;
};

/* A pre-packed value in lg.pool_bytes. */
struct pooled {
	size_t	off, len;
};

struct op_spec {
	char			 name[64];
	int			 weight;
	int			 login;		/* the op is auth.login with the -e/-P args */
	struct arg_template	*args;		/* NULL: an empty map */
	uint64_t		 sent, done, ok, failed;
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
	double			 rate;		/* -r: requests a second, open loop */
	struct event		*pace_ev;	/* -r */
	uint64_t		 pace_start_ns, paced;
	int			 pace_next;	/* -r: the next connection in turn */
	uint64_t		 max_backlog;	/* -r: most requests waiting at once */
	uint64_t		 backlog;
	const char		*label;
	const char		*ops_spec;
	int			 quiet;
	int			 encrypt;	/* -E */
	unsigned		 offer;		/* -S: the channel's offer, 0 all */
	unsigned		 suite;		/* the suite the server chose */
	const char		*templates[MAX_OPS];	/* -a, in op order */
	int			 ntemplates;

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
	pid_t			 cpu_pid;	/* -C: the server measured */
	long long		 cpu_start, cpu_end;	/* its clock ticks */
	uint64_t		 requests, errors;
	uint64_t		 err_by_code[ERR__COUNT + 1];	/* last: unknown code */
	uint64_t		 bad_replies;			/* wrong id, malformed */
	uint64_t		 pushes;			/* events, counted only */
	uint64_t		 conn_failures;
	struct histogram	 hist;
	msgpack_sbuffer		 sb;
	uint64_t		 rng;
	uint64_t		 seq;		/* $seq: one number per templated request */
	msgpack_sbuffer		 pool_bytes;	/* $pick and $date values */
	struct pooled		*pool;
	size_t			 npool;
	int64_t			*ints;		/* $slot days and offsets */
	size_t			 nints;
	uint64_t		 inflight;	/* requests sent, not answered */
	uint64_t		 unanswered;	/* lost with a connection, or not drained */
	uint64_t		 ok_total;	/* successes of mix ops, warm-up and drain too */
	struct event		*warmup_ev, *stop_ev, *sigint_ev, *drain_ev;
	int			 exit_code;
} lg;

/* -r: when the request being sent was due (0: now). */
static uint64_t	send_due_ns;

static void	usage(void) __attribute__((noreturn));
static uint64_t	now_ns(void);
static int	hist_index(uint64_t);
static uint64_t	hist_value_at(int);
static void	hist_record(struct histogram *, uint64_t);
static uint64_t	hist_percentile(const struct histogram *, double);
static int	parse_ops(const char *);
static uint64_t	random_below(uint64_t);
static int	pick_op(void);
static int	parse_int(const char **, int64_t *);
static size_t	pool_add(const char *, size_t);
static void	ints_add(int64_t);
static int	is_weekday(int64_t);
static const char *hole_parse_pick(const char *, struct hole *);
static const char *hole_parse_days(const char **, struct hole *, int);
static const char *hole_parse_sessions(const char *, struct hole *);
static const char *hole_parse(const char *, struct hole *, int *);
static const char *template_walk(struct arg_template *, msgpack_packer *,
		    msgpack_sbuffer *, json_t *);
static struct arg_template *template_parse(const char *);
static void	template_pack(const struct arg_template *, msgpack_packer *,
		    msgpack_sbuffer *);
static void	conn_write(struct lg_conn *, const void *, size_t);
static int	channel_handshake(struct lg_conn *, struct evbuffer *);
static void	send_request(struct lg_conn *, const char *, int, int);
static void	send_next(struct lg_conn *);
static void	send_hello(struct lg_conn *);
static void	send_auth(struct lg_conn *);
static void	conn_dead(struct lg_conn *, const char *);
static void	abandon_waiting(void);
static void	start_run(void);
static void	handle_reply(struct lg_conn *, const msgpack_object *);
static void	read_cb(struct bufferevent *, void *);
static void	sock_read_cb(evutil_socket_t, short, void *);
static void	conn_read_own(struct lg_conn *);
static void	conn_send(struct lg_conn *, const void *, size_t);
static void	pace_cb(evutil_socket_t, short, void *);
static void	send_due(struct lg_conn *, uint64_t);
static void	event_cb(struct bufferevent *, short, void *);
static void	warmup_cb(evutil_socket_t, short, void *);
static void	stop_cb(evutil_socket_t, short, void *);
static void	drain_timeout_cb(evutil_socket_t, short, void *);
static void	sigint_cb(evutil_socket_t, short, void *);
static int	connect_all(void);
static void	report(void);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-h host] [-p port] [-c conns] [-d seconds | -n requests]\n"
	    "               [-o op[:weight],...] [-a json-args]... [-e email -P password]\n"
	    "               [-s] [-L] [-E] [-S suite] [-w warmup] [-q depth] [-r rate]\n"
	    "               [-l label] [-Q] [-C pid]\n"
	    "  -h HOST    server address (default 127.0.0.1)\n"
	    "  -p PORT    server port (default 7400)\n"
	    "  -c N       connections (default 50)\n"
	    "  -d SECS    measured duration (default 10)\n"
	    "  -n N       stop after N measured requests instead\n"
	    "  -o OPS     op or weighted mix, e.g. auth.me or auth.me:9,health:1\n"
	    "             (default health)\n"
	    "  -a JSON    the args of the next op of -o (one -a per op, in order;\n"
	    "             '' for none), a JSON object whose string values may be\n"
	    "             placeholders, filled in per request:\n"
	    "               $rand:LO:HI     a random integer in [LO, HI]\n"
	    "               $seq[:BASE]     BASE + n, n the request's number (0, 1, ...)\n"
	    "               $seqmod:M[:BASE] BASE + n %% M\n"
	    "               $pick:A|B|...   one of the strings A, B, ...\n"
	    "               $date:FROM:TO   a random Monday-Friday date \"YYYY-MM-DD\",\n"
	    "                               today+FROM .. today+TO days (UTC)\n"
	    "               $slot:DIV:FROM:TO:HHMM-HHMM[+HHMM-HHMM...]:MIN\n"
	    "                               the (n / DIV)th MIN-minute slot of those\n"
	    "                               hours on the weekdays of FROM..TO (UTC), as\n"
	    "                               epoch seconds; wraps after the last\n"
	    "               $$...           a string starting with $\n"
	    "             n is shared by the placeholders of one request, e.g.\n"
	    "             {\"doctor_id\": \"$seqmod:50:1\",\n"
	    "              \"starts_at\": \"$slot:50:1:700:0800-1200+1300-1700:20\"}\n"
	    "  -e EMAIL   log in as this account (needed by ops that need a login)\n"
	    "  -P PASS    its password\n"
	    "  -s         every connection runs its own auth.login (default: the\n"
	    "             first logs in, the others auth.resume its token)\n"
	    "  -L         login mode: every request is a full auth.login\n"
	    "  -E         encrypt: the secure channel on every connection (the\n"
	    "             server's key is not checked)\n"
	    "  -S SUITE   with -E, offer only this record cipher: aes256gcm,\n"
	    "             xchacha20, or v1 (the \"MFE1\" hello of older clients);\n"
	    "             default: every suite this CPU runs\n"
	    "  -w SECS    warm-up before measuring (default 1)\n"
	    "  -q N       requests in flight per connection (default 1, max %d)\n"
	    "  -r RATE    open loop: RATE requests a second in all, due at even\n"
	    "             times in turn over the connections whatever the replies\n"
	    "             do (at most -q in flight on each, the rest wait); latency\n"
	    "             counts from when a request was due\n"
	    "  -l LABEL   a name for the RESULT line (default the op string)\n"
	    "  -Q         print only the RESULT line\n"
	    "  -C PID     the server's process: its CPU time over the measured\n"
	    "             window, per request, goes on the RESULT line\n"
	    "             (server_us)\n", MAX_DEPTH);
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

/* xorshift64*: cheap and good enough for picking ops and filling holes. */
static uint64_t
random_below(uint64_t n)
{
	uint64_t	x = lg.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	lg.rng = x;
	return n == 0 ? 0 : (x * 2685821657736338717ULL >> 11) % n;
}

static int
pick_op(void)
{
	int	r, i;

	if (lg.nops == 1)
		return 0;
	r = (int)random_below((uint64_t)lg.weight_sum);
	for (i = 0; i < lg.nops; i++) {
		if (r < lg.ops[i].weight)
			return i;
		r -= lg.ops[i].weight;
	}
	return lg.nops - 1;
}

/* --- argument templates (parsed once; allocation here is fine) --- */

/* Reads [+-]digits at *p, moving *p past them. */
static int
parse_int(const char **p, int64_t *out)
{
	const char	*s = *p;
	char		*end;
	long long	 v;

	if (*s == '+')
		s++;
	if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	*out = v;
	*p = end;
	return 0;
}

/* Adds one packed value to the pool; returns its index. */
static size_t
pool_add(const char *data, size_t len)
{
	lg.pool = xrealloc(lg.pool, (lg.npool + 1) * sizeof *lg.pool);
	lg.pool[lg.npool].off = lg.pool_bytes.size;
	lg.pool[lg.npool].len = len;
	msgpack_sbuffer_write(&lg.pool_bytes, data, len);
	return lg.npool++;
}

static void
ints_add(int64_t v)
{
	lg.ints = xrealloc(lg.ints, (lg.nints + 1) * sizeof *lg.ints);
	lg.ints[lg.nints++] = v;
}

/* Monday-Friday, for days since 1970-01-01 (a Thursday). */
static int
is_weekday(int64_t day)
{
	int64_t	dow = ((day % 7) + 7 + 3) % 7;	/* 0 = Monday */

	return dow < 5;
}

/* $pick:A|B|...: each string packed once. */
static const char *
hole_parse_pick(const char *p, struct hole *h)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	const char	*bar;
	char		 item[128];
	size_t		 n;

	h->kind = HOLE_PICK;
	h->first = lg.npool;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (;; p = bar + 1) {
		bar = strchr(p, '|');
		n = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (n >= sizeof item) {
			msgpack_sbuffer_destroy(&sb);
			return "a $pick value is too long";
		}
		memcpy(item, p, n);
		item[n] = '\0';
		msgpack_sbuffer_clear(&sb);
		mp_pack_str(&pk, item);
		pool_add(sb.data, sb.size);
		h->count++;
		if (bar == NULL)
			break;
	}
	msgpack_sbuffer_destroy(&sb);
	return NULL;
}

/*
 * FROM:TO at *p: the Monday-Fridays from today+FROM to today+TO (UTC), as
 * packed "YYYY-MM-DD" strings (a $date) or as midnights in lg.ints (a
 * $slot); h->first and h->count say where.
 */
static const char *
hole_parse_days(const char **p, struct hole *h, int as_dates)
{
	int64_t		 from, to, day, today = (int64_t)time(NULL) / 86400;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 date[16];
	time_t		 tt;
	struct tm	 tm;

	if (parse_int(p, &from) != 0 || *(*p)++ != ':' || parse_int(p, &to) != 0 ||
	    to < from || to - from > 100000)
		return "want FROM:TO days from today, FROM <= TO";
	h->first = as_dates ? lg.npool : lg.nints;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (day = today + from; day <= today + to; day++) {
		if (!is_weekday(day))
			continue;
		h->count++;
		if (!as_dates) {
			ints_add(day * 86400);
			continue;
		}
		tt = (time_t)(day * 86400);
		gmtime_r(&tt, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		msgpack_sbuffer_clear(&sb);
		mp_pack_str(&pk, date);
		pool_add(sb.data, sb.size);
	}
	msgpack_sbuffer_destroy(&sb);
	return h->count > 0 ? NULL : "no Monday-Friday in that range";
}

/* HHMM-HHMM[+HHMM-HHMM...]:MIN at p: each slot's start in a day, as
 * seconds after midnight in lg.ints; h->sfirst and h->scount say where. */
static const char *
hole_parse_sessions(const char *p, struct hole *h)
{
	const char	*colon = strrchr(p, ':'), *m;
	int64_t		 len, a, b, t;

	if (colon == NULL)
		return "want $slot:DIV:FROM:TO:HHMM-HHMM[+...]:MIN";
	m = colon + 1;
	if (parse_int(&m, &len) != 0 || *m != '\0' || len < 1 || len > 1440)
		return "want the slot length in minutes, 1..1440";
	h->sfirst = lg.nints;
	while (p < colon) {
		if (parse_int(&p, &a) != 0 || *p++ != '-' || parse_int(&p, &b) != 0 ||
		    (*p != '+' && p != colon) || a < 0 || a % 100 >= 60 ||
		    b > 2400 || b % 100 >= 60)
			return "want sessions as HHMM-HHMM joined by +";
		if (*p == '+')
			p++;
		a = a / 100 * 60 + a % 100;
		b = b / 100 * 60 + b % 100;
		for (t = a; t + len <= b; t += len) {
			ints_add(t * 60);
			h->scount++;
		}
	}
	return h->scount > 0 ? NULL : "no slot fits those hours";
}

/* Parses the placeholder s (after its '$') into h; NULL or what is wrong. */
static const char *
hole_parse(const char *s, struct hole *h, int *uses_seq)
{
	const char	*p, *why;

	memset(h, 0, sizeof *h);
	if (strncmp(s, "rand:", 5) == 0) {
		p = s + 5;
		h->kind = HOLE_RAND;
		if (parse_int(&p, &h->lo) != 0 || *p++ != ':' ||
		    parse_int(&p, &h->hi) != 0 || *p != '\0' || h->hi < h->lo)
			return "want $rand:LO:HI with LO <= HI";
		return NULL;
	}
	if (strcmp(s, "seq") == 0 || strncmp(s, "seq:", 4) == 0) {
		p = s + 3;
		h->kind = HOLE_SEQ;
		*uses_seq = 1;
		if (*p == ':' && (p++, parse_int(&p, &h->lo) != 0))
			return "want $seq or $seq:BASE";
		return *p == '\0' ? NULL : "want $seq or $seq:BASE";
	}
	if (strncmp(s, "seqmod:", 7) == 0) {
		p = s + 7;
		h->kind = HOLE_SEQMOD;
		*uses_seq = 1;
		if (parse_int(&p, &h->hi) != 0 || h->hi < 1)
			return "want $seqmod:M[:BASE] with M >= 1";
		if (*p == ':' && (p++, parse_int(&p, &h->lo) != 0))
			return "want $seqmod:M[:BASE]";
		return *p == '\0' ? NULL : "want $seqmod:M[:BASE]";
	}
	if (strncmp(s, "pick:", 5) == 0)
		return hole_parse_pick(s + 5, h);
	if (strncmp(s, "date:", 5) == 0) {
		p = s + 5;
		h->kind = HOLE_PICK;
		if ((why = hole_parse_days(&p, h, 1)) != NULL)
			return why;
		return *p == '\0' ? NULL : "want $date:FROM:TO";
	}
	if (strncmp(s, "slot:", 5) == 0) {
		p = s + 5;
		h->kind = HOLE_SLOT;
		*uses_seq = 1;
		if (parse_int(&p, &h->div) != 0 || h->div < 1 || *p++ != ':')
			return "want $slot:DIV:FROM:TO:HHMM-HHMM[+...]:MIN, DIV >= 1";
		if ((why = hole_parse_days(&p, h, 0)) != NULL)
			return why;
		if (*p++ != ':')
			return "want $slot:DIV:FROM:TO:HHMM-HHMM[+...]:MIN";
		return hole_parse_sessions(p, h);
	}
	return "unknown placeholder (want rand, seq, seqmod, pick, date or slot)";
}

/* Packs v into pk, cutting a hole for each placeholder string. */
static const char *
template_walk(struct arg_template *t, msgpack_packer *pk, msgpack_sbuffer *sb,
    json_t *v)
{
	const char	*key, *s, *why;
	json_t		*item;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach(v, key, item) {
			mp_pack_str(pk, key);
			if ((why = template_walk(t, pk, sb, item)) != NULL)
				return why;
		}
		return NULL;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, item) {
			if ((why = template_walk(t, pk, sb, item)) != NULL)
				return why;
		}
		return NULL;
	case JSON_STRING:
		s = json_string_value(v);
		if (s[0] != '$') {
			json_to_msgpack(v, pk);
			return NULL;
		}
		if (s[1] == '$') {
			mp_pack_str(pk, s + 1);
			return NULL;
		}
		if (t->nholes == MAX_HOLES)
			return "too many placeholders";
		if ((why = hole_parse(s + 1, &t->holes[t->nholes], &t->uses_seq)) != NULL)
			return why;
		t->holes[t->nholes++].at = sb->size;
		return NULL;
	default:
		json_to_msgpack(v, pk);
		return NULL;
	}
}

/* Parses one -a: NULL for '' (no args); exits on a bad template. */
static struct arg_template *
template_parse(const char *text)
{
	struct arg_template	*t;
	json_error_t		 jerr;
	json_t			*j;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	const char		*why;

	if (*text == '\0')
		return NULL;
	if ((j = json_loads(text, 0, &jerr)) == NULL || !json_is_object(j)) {
		fprintf(stderr, "loadgen: -a wants a JSON object: %s\n",
		    j == NULL ? jerr.text : text);
		exit(2);
	}
	t = xcalloc(1, sizeof *t);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if ((why = template_walk(t, &pk, &sb, j)) != NULL) {
		fprintf(stderr, "loadgen: -a %s: %s\n", text, why);
		exit(2);
	}
	t->len = sb.size;
	t->bytes = xmalloc(sb.size);
	memcpy(t->bytes, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	json_decref(j);
	return t;
}

/* Packs a template's args: its bytes, with each hole filled in. */
static void
template_pack(const struct arg_template *t, msgpack_packer *pk,
    msgpack_sbuffer *sb)
{
	uint64_t	 n = t->uses_seq ? lg.seq++ : 0, k;
	size_t		 at = 0;
	int		 i;

	for (i = 0; i < t->nholes; i++) {
		const struct hole	*h = &t->holes[i];
		const struct pooled	*v;

		msgpack_sbuffer_write(sb, t->bytes + at, h->at - at);
		at = h->at;
		switch (h->kind) {
		case HOLE_RAND:
			msgpack_pack_int64(pk, h->lo +
			    (int64_t)random_below((uint64_t)(h->hi - h->lo) + 1));
			break;
		case HOLE_SEQ:
			msgpack_pack_int64(pk, h->lo + (int64_t)n);
			break;
		case HOLE_SEQMOD:
			msgpack_pack_int64(pk, h->lo + (int64_t)(n % (uint64_t)h->hi));
			break;
		case HOLE_PICK:
			v = &lg.pool[h->first + random_below(h->count)];
			msgpack_sbuffer_write(sb, lg.pool_bytes.data + v->off, v->len);
			break;
		case HOLE_SLOT:
			k = n / (uint64_t)h->div;
			msgpack_pack_int64(pk, lg.ints[h->first + (k / h->scount) % h->count] +
			    lg.ints[h->sfirst + k % h->scount]);
			break;
		}
	}
	msgpack_sbuffer_write(sb, t->bytes + at, t->len - at);
}

/* --- requests --- */

/*
 * Queues one request. op_index >= 0 is a measured op from the mix; -1 is a
 * set-up request (hello, login, resume), which is not recorded.
 */
/* Sends bytes of the frame stream: as they are, or sealed in records. */
static void
conn_write(struct lg_conn *c, const void *data, size_t len)
{
	static unsigned char	 sealed[CHANNEL_SEALED_LEN(CHANNEL_RECORD_MAX)];
	const unsigned char	*p = data;
	size_t			 n, sl;

	if (c->ch == NULL) {
		conn_send(c, data, len);
		return;
	}
	while (len > 0) {
		n = len < CHANNEL_RECORD_MAX ? len : CHANNEL_RECORD_MAX;
		if ((sl = channel_seal(c->ch, p, n, sealed)) == 0)
			abort();	/* 2^64 records: not in a bench run */
		conn_send(c, sealed, sl);
		p += n;
		len -= n;
	}
}

/*
 * Sends what the socket takes now, the rest after what already waits in the
 * bufferevent's output. Going through the bufferevent for every request cost
 * two epoll_ctl calls (its write event on, then off) besides the write: the
 * load generator spent as much CPU per request as the server it measured.
 * A send error is left to the bufferevent's write to find and report.
 */
static void
conn_send(struct lg_conn *c, const void *data, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	ssize_t		 n = 0;

	if (evbuffer_get_length(out) == 0) {
		n = send(bufferevent_getfd(c->bev), data, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < len)
		evbuffer_add(out, (const char *)data + n, len - (size_t)n);
}

/*
 * Once connected, reading is this file's: bufferevent asks the kernel how
 * much is waiting (ioctl FIONREAD) before every read. The bytes go to the
 * bufferevent's input buffer all the same, for read_cb.
 */
static void
conn_read_own(struct lg_conn *c)
{
	struct timeval	tv = { REPLY_TIMEOUT, 0 };

	bufferevent_disable(c->bev, EV_READ);
	evbuffer_unfreeze(bufferevent_get_input(c->bev), 0);
	c->rd_ev = event_new(lg.base, bufferevent_getfd(c->bev),
	    EV_READ | EV_PERSIST, sock_read_cb, c);
	if (c->rd_ev == NULL || event_add(c->rd_ev, &tv) != 0)
		abort();	/* out of memory */
}

static void
sock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn	*c = arg;
	ssize_t		 n;

	if (what & EV_TIMEOUT) {
		conn_dead(c, "timed out waiting for a reply");
		return;
	}
	n = evbuffer_read_some(bufferevent_get_input(c->bev), fd, 65536);
	if (n <= 0) {
		if (n < 0 && errno == ENOMEM)
			abort();	/* out of memory */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		conn_dead(c, n == 0 ? "server closed the connection" :
		    strerror(errno));
		return;
	}
	read_cb(c->bev, c);
}

/*
 * -E: the server's hello has arrived (or not yet: 1). Finishes the
 * handshake without looking at the server's key (a bench trusts its own
 * server) and says hello inside the channel. -1: the connection is dead.
 */
static int
channel_handshake(struct lg_conn *c, struct evbuffer *raw)
{
	unsigned char	 in[CHANNEL_SERVER_HELLO_MAX], server_pk[CHANNEL_KEY_LEN];
	unsigned char	 finish[CHANNEL_CLIENT_FINISH_MAX];
	const char	*cause;
	size_t		 len, flen;

	if (evbuffer_copyout(raw, in, CHANNEL_SERVER_HELLO_PEEK) <
	    CHANNEL_SERVER_HELLO_PEEK)
		return 1;
	if ((len = channel_server_hello_length(c->ch, in, &cause)) == 0) {
		conn_dead(c, cause);
		return -1;
	}
	if (evbuffer_get_length(raw) < len)
		return 1;
	evbuffer_remove(raw, in, len);
	if (channel_client_finish(c->ch, in, len, server_pk, finish, &flen,
	    &cause) != 0) {
		conn_dead(c, cause);
		return -1;
	}
	lg.suite = channel_suite(c->ch);
	evbuffer_add(bufferevent_get_output(c->bev), finish, flen);
	send_hello(c);
	return 0;
}

static void
send_request(struct lg_conn *c, const char *op, int op_index, int with_login)
{
	const struct arg_template *t = op_index >= 0 ? lg.ops[op_index].args : NULL;
	msgpack_packer	 pk;
	struct inflight	*f;

	if (c->count == MAX_DEPTH)
		abort();
	msgpack_sbuffer_clear(&lg.sb);
	/* Room for the frame header, written once the length is known. */
	msgpack_sbuffer_write(&lg.sb, "\0\0\0\0", FRAME_HEADER_SIZE);
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
	} else if (t != NULL)
		template_pack(t, &pk, &lg.sb);
	else
		msgpack_pack_map(&pk, 0);
	frame_header_write((unsigned char *)lg.sb.data,
	    (uint32_t)(lg.sb.size - FRAME_HEADER_SIZE));
	conn_write(c, lg.sb.data, lg.sb.size);
	lg.inflight++;

	f = &c->ring[(c->head + c->count) % MAX_DEPTH];
	c->count++;
	f->id = c->next_id++;
	f->op = op_index;
	f->counted = op_index >= 0 && lg.measuring;
	/* Open loop: from when it was due, so a late send is not hidden. */
	f->start_ns = send_due_ns != 0 ? send_due_ns : now_ns();
	if (op_index >= 0)
		lg.ops[op_index].sent++;
}

/*
 * Open loop (-r): requests fall due at the rate, whatever the replies do,
 * in turn over the connections; one that has depth in flight keeps the
 * ones due for it until a reply frees a place. Latency counts from when a
 * request was due, so a server that falls behind cannot hide it (the
 * "coordinated omission" of closed-loop load).
 */
static void
pace_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	now = now_ns(), due;
	struct lg_conn	*c = NULL;
	int		i;

	(void)fd;
	(void)what;
	(void)arg;
	if (lg.stopping)
		return;
	for (;;) {
		due = lg.pace_start_ns + (uint64_t)((double)(lg.paced + 1) *
		    1e9 / lg.rate);
		if (due > now)
			break;
		lg.paced++;
		for (i = 0; i < lg.conns; i++) {
			c = &lg.c[lg.pace_next];
			lg.pace_next = (lg.pace_next + 1) % lg.conns;
			if (c->state == CS_RUN)
				break;
		}
		if (i == lg.conns || c == NULL)
			return;
		send_due(c, due);
	}
}

static void
send_due(struct lg_conn *c, uint64_t due)
{
	if (c->count < lg.depth && c->due_count == 0) {
		send_due_ns = due;
		send_next(c);
		send_due_ns = 0;
		return;
	}
	if (c->due == NULL)
		c->due = xcalloc(PACE_BACKLOG, sizeof *c->due);
	if (c->due_count == PACE_BACKLOG) {
		fprintf(stderr, "loadgen: more than %d requests behind on one "
		    "connection: the server cannot take -r %.0f\n", PACE_BACKLOG,
		    lg.rate);
		lg.exit_code = 1;
		stop_cb(-1, 0, NULL);
		return;
	}
	c->due[(c->due_head + c->due_count) % PACE_BACKLOG] = due;
	c->due_count++;
	if (++lg.backlog > lg.max_backlog)
		lg.max_backlog = lg.backlog;
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
	/* Their outcome is unknown: not counted as done, ok or failed. */
	lg.inflight -= (uint64_t)c->count;
	lg.unanswered += (uint64_t)c->count;
	c->count = 0;
	c->state = CS_DEAD;
	if (c->rd_ev != NULL) {
		/* Before the bufferevent, which closes the socket. */
		event_free(c->rd_ev);
		c->rd_ev = NULL;
	}
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
	} else if (lg.stopping && lg.inflight == 0)
		event_base_loopbreak(lg.base);
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
		for (j = 0; j < lg.depth && lg.rate == 0; j++)
			send_next(c);
	}
	if (lg.rate > 0) {
		/* Ticks well under a request's service time; the pace itself
		 * comes from the clock, not from the ticks. */
		tv.tv_sec = 0;
		tv.tv_usec = 100;
		lg.pace_start_ns = now_ns();
		lg.pace_ev = event_new(lg.base, -1, EV_PERSIST, pace_cb, NULL);
		event_add(lg.pace_ev, &tv);
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
		    lg.c[i].state == CS_CONNECTING || lg.c[i].state == CS_CHANNEL)
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
	lg.inflight--;
	success = ok->via.boolean;
	result = mp_map_get(reply, "result");
	if (lg.stopping && c->state != CS_RUN) {
		/* Time is up before this connection got going. */
		if (lg.inflight == 0)
			event_base_loopbreak(lg.base);
		return;
	}

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
		if (success) {
			lg.ops[f->op].ok++;
			lg.ok_total++;
		} else
			lg.ops[f->op].failed++;
	}
	/* Replies drained after the time is up are not measured. */
	if (f->counted && lg.measuring && !lg.stopping) {
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
	if (lg.stopping) {
		if (lg.inflight == 0)
			event_base_loopbreak(lg.base);
		return;
	}
	if (lg.rate == 0)
		send_next(c);
	else if (c->due_count > 0) {
		uint64_t	due = c->due[c->due_head];

		c->due_head = (c->due_head + 1) % PACE_BACKLOG;
		c->due_count--;
		lg.backlog--;
		send_due_ns = due;
		send_next(c);
		send_due_ns = 0;
	}
}

/*
 * Replies to the measured ops are only counted, so their results are not
 * unpacked: after frame_validate has walked the frame, the top-level map
 * is read for id and ok and everything else is stepped over. A server
 * answer of thousands of objects (a doctor's day) would otherwise cost the
 * loadgen more than it costs the server, on the same two cores; like
 * redis-benchmark, which reads a reply's length and skips its bytes. A
 * failure, a push or anything odd still takes the full decode.
 */
static uint32_t
be_read(const unsigned char *p, int n)
{
	uint32_t	v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* The end of the msgpack object at p (a frame_validate'd buffer). */
static const unsigned char *
mp_skip(const unsigned char *p)
{
	unsigned char	b = *p++;
	uint32_t	n;

	if (b <= 0x7f || b >= 0xe0)
		return p;
	if ((b & 0xf0) == 0x80) {
		n = (b & 0x0f) * 2u;
		goto items;
	}
	if ((b & 0xf0) == 0x90) {
		n = b & 0x0f;
		goto items;
	}
	if ((b & 0xe0) == 0xa0)
		return p + (b & 0x1f);
	switch (b) {
	case 0xc0: case 0xc2: case 0xc3:
		return p;
	case 0xc4: case 0xd9:
		return p + 1 + p[0];
	case 0xc5: case 0xda:
		return p + 2 + be_read(p, 2);
	case 0xc6: case 0xdb:
		return p + 4 + be_read(p, 4);
	case 0xc7:
		return p + 2 + p[0];
	case 0xc8:
		return p + 3 + be_read(p, 2);
	case 0xc9:
		return p + 5 + be_read(p, 4);
	case 0xcc: case 0xd0:
		return p + 1;
	case 0xcd: case 0xd1:
		return p + 2;
	case 0xca: case 0xce: case 0xd2:
		return p + 4;
	case 0xcb: case 0xcf: case 0xd3:
		return p + 8;
	case 0xd4:
		return p + 2;
	case 0xd5:
		return p + 3;
	case 0xd6:
		return p + 5;
	case 0xd7:
		return p + 9;
	case 0xd8:
		return p + 17;
	case 0xdc:
		n = be_read(p, 2);
		p += 2;
		goto items;
	case 0xdd:
		n = be_read(p, 4);
		p += 4;
		goto items;
	case 0xde:
		n = be_read(p, 2) * 2u;
		p += 2;
		goto items;
	case 0xdf:
		n = be_read(p, 4) * 2u;
		p += 4;
		goto items;
	}
	return NULL;
items:
	while (n-- > 0) {
		if ((p = mp_skip(p)) == NULL)
			return NULL;
	}
	return p;
}

/*
 * A push ({event, data}, packed in that order) is counted and stepped over
 * unread: it stands for what 20 desk screens, each on its own machine, do
 * with an appt.changed, and decoding 20 of them a booking cost the loadgen
 * 40 % of its time on the two cores it shares with the server.
 */
static int
is_push(const unsigned char *p, size_t len)
{
	return len > 7 && p[0] == 0x82 && p[1] == 0xa5 &&
	    memcmp(p + 2, "event", 5) == 0;
}

/* Counts a validated {id, ok: true, ...} reply; -1: take the full decode. */
static int
fast_reply(struct lg_conn *c, const unsigned char *p, size_t len)
{
	const unsigned char	*end = p + len, *k;
	msgpack_object_kv	 kv[2];
	msgpack_object		 reply;
	uint64_t		 id = 0;
	uint32_t		 n, klen;
	int			 have_id = 0, ok = 0;

	if ((*p & 0xf0) == 0x80)
		n = *p++ & 0x0f;
	else if (*p == 0xde) {
		n = be_read(p + 1, 2);
		p += 3;
	} else
		return -1;
	while (n-- > 0 && p < end) {
		if ((*p & 0xe0) != 0xa0)
			return -1;
		klen = *p & 0x1f;
		k = p + 1;
		p = k + klen;
		if (klen == 2 && memcmp(k, "id", 2) == 0) {
			if (*p <= 0x7f)
				id = *p++;
			else if (*p >= 0xcc && *p <= 0xcf) {
				int	w = 1 << (*p - 0xcc);

				id = w == 8 ? (uint64_t)be_read(p + 1, 4) << 32 |
				    be_read(p + 5, 4) : be_read(p + 1, w);
				p += 1 + w;
			} else
				return -1;
			have_id = 1;
			continue;
		}
		if (klen == 2 && memcmp(k, "ok", 2) == 0) {
			if (*p != 0xc3)
				return -1;
			ok = 1;
			p++;
			continue;
		}
		if ((p = mp_skip(p)) == NULL)
			return -1;
	}
	if (!have_id || !ok || id == 0)
		return -1;
	/* What handle_reply reads of a measured success. */
	memset(kv, 0, sizeof kv);
	kv[0].key.type = MSGPACK_OBJECT_STR;
	kv[0].key.via.str.ptr = "id";
	kv[0].key.via.str.size = 2;
	kv[0].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	kv[0].val.via.u64 = id;
	kv[1].key.type = MSGPACK_OBJECT_STR;
	kv[1].key.via.str.ptr = "ok";
	kv[1].key.via.str.size = 2;
	kv[1].val.type = MSGPACK_OBJECT_BOOLEAN;
	kv[1].val.via.boolean = true;
	memset(&reply, 0, sizeof reply);
	reply.type = MSGPACK_OBJECT_MAP;
	reply.via.map.size = 2;
	reply.via.map.ptr = kv;
	handle_reply(c, &reply);
	return 0;
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
	if (c->state == CS_CHANNEL && channel_handshake(c, in) != 0)
		return;
	if (c->ch != NULL) {
		if (channel_buffer_open(c->ch, in, c->plain_in, SIZE_MAX, &cause) < 0) {
			lg.bad_replies++;
			conn_dead(c, cause);
			return;
		}
		in = c->plain_in;
	}
	while (c->state != CS_DEAD) {
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
		if (c->state == CS_RUN && is_push(c->frame, len)) {
			lg.pushes++;
			continue;
		}
		if (c->state == CS_RUN && frame_validate(c->frame, len, &lim, 1,
		    &cause) == 0 && fast_reply(c, c->frame, len) == 0)
			continue;
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

	if (what & BEV_EVENT_CONNECTED) {
		conn_read_own(c);
		if (lg.encrypt) {
			unsigned char	hello[CHANNEL_CLIENT_HELLO_MAX];
			size_t		len;

			c->ch = channel_new();
			len = channel_client_hello(c->ch, lg.offer != 0 ? lg.offer :
			    channel_suites_available(), hello);
			evbuffer_add(bufferevent_get_output(bev), hello, len);
			c->state = CS_CHANNEL;
		} else
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

/* A process's user + system CPU in clock ticks, from /proc; -1 if gone. */
static long long
proc_ticks(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's closing parenthesis: state is field 3, utime
	 * and stime fields 14 and 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long long)ut + (long long)st;
}

/* The measured window opens or closes: the server's CPU then. */
static void
cpu_mark(long long *at)
{
	if (lg.cpu_pid > 0)
		*at = proc_ticks(lg.cpu_pid);
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
	cpu_mark(&lg.cpu_start);
	if (lg.total == 0 || lg.duration > 0) {
		tv.tv_sec = (time_t)lg.duration;
		tv.tv_usec = (suseconds_t)((lg.duration - (double)tv.tv_sec) * 1e6);
		lg.stop_ev = evtimer_new(lg.base, stop_cb, NULL);
		evtimer_add(lg.stop_ev, &tv);
	}
}

/* Time is up: nothing new is sent; the replies in flight are drained. */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { DRAIN_SECONDS, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	if (lg.stopping)
		return;
	lg.stopping = 1;
	lg.measure_end_ns = now_ns();
	cpu_mark(&lg.cpu_end);
	if (lg.inflight == 0) {
		event_base_loopbreak(lg.base);
		return;
	}
	lg.drain_ev = evtimer_new(lg.base, drain_timeout_cb, NULL);
	evtimer_add(lg.drain_ev, &tv);
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fprintf(stderr, "loadgen: %llu replies still missing after %d s\n",
	    (unsigned long long)lg.inflight, DRAIN_SECONDS);
	lg.unanswered += lg.inflight;
	event_base_loopbreak(lg.base);
}

static void
sigint_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (lg.stopping) {
		/* A second ^C: no more waiting for the drain. */
		lg.unanswered += lg.inflight;
		event_base_loopbreak(lg.base);
		return;
	}
	if (!lg.measuring) {
		lg.measure_start_ns = now_ns();
		cpu_mark(&lg.cpu_start);
	}
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
		if (lg.encrypt)
			c->plain_in = evbuffer_new();
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
	double		 secs, rps, ok_rps;
	uint64_t	 p50, p99, p999;
	char		 errs[512], srv[64];
	size_t		 off = 0;
	int		 i;

	if (lg.measure_end_ns == 0) {
		lg.measure_end_ns = now_ns();
		cpu_mark(&lg.cpu_end);
	}
	/* -C: the server's CPU in the measured window, a request. */
	srv[0] = '\0';
	if (lg.cpu_pid > 0 && lg.cpu_start >= 0 && lg.cpu_end >= lg.cpu_start &&
	    lg.requests > 0)
		snprintf(srv, sizeof srv, " server_us=%.1f",
		    (double)(lg.cpu_end - lg.cpu_start) * 1e6 /
		    (double)sysconf(_SC_CLK_TCK) / (double)lg.requests);
	secs = lg.measuring ?
	    (double)(lg.measure_end_ns - lg.measure_start_ns) / 1e9 : 0;
	rps = secs > 0 ? (double)lg.requests / secs : 0;
	ok_rps = secs > 0 ? (double)(lg.requests - lg.errors) / secs : 0;
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
		printf("%s: %d conns x depth %d%s, %.2f s: %llu requests, %llu errors, "
		    "%.0f req/s; latency ms p50 %.3f p99 %.3f p99.9 %.3f max %.3f "
		    "mean %.3f\n", lg.label, lg.nready, lg.depth,
		    !lg.encrypt ? "" : lg.suite == CHANNEL_SUITE_AES256GCM ?
		    ", encrypted (AES-256-GCM)" : ", encrypted (XChaCha20-Poly1305)",
		    secs,
		    (unsigned long long)lg.requests, (unsigned long long)lg.errors,
		    rps, p50 / 1e6, p99 / 1e6, p999 / 1e6, lg.hist.max / 1e6,
		    lg.hist.total ? lg.hist.sum / (double)lg.hist.total / 1e6 : 0.0);
		if (lg.nops > 1 && !lg.login_mode) {
			for (i = 0; i < lg.nops; i++)
				printf("  %s: %llu sent, %llu done, %llu ok, %llu failed\n",
				    lg.ops[i].name,
				    (unsigned long long)lg.ops[i].sent,
				    (unsigned long long)lg.ops[i].done,
				    (unsigned long long)lg.ops[i].ok,
				    (unsigned long long)lg.ops[i].failed);
		}
	}
	printf("RESULT label=%s ops=%s login_mode=%d conns=%d ready=%d depth=%d "
	    "seconds=%.3f requests=%llu errors=%llu%s bad_replies=%llu "
	    "conn_failures=%llu rps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	    "max_ms=%.3f mean_ms=%.3f ok_rps=%.1f ok_total=%llu unanswered=%llu "
	    "encrypted=%d offered_rps=%.1f max_backlog=%llu events=%llu%s\n",
	    lg.label, lg.ops_spec,
	    lg.login_mode, lg.conns, lg.nready, lg.depth, secs,
	    (unsigned long long)lg.requests, (unsigned long long)lg.errors, errs,
	    (unsigned long long)lg.bad_replies,
	    (unsigned long long)lg.conn_failures, rps, p50 / 1e6, p99 / 1e6,
	    p999 / 1e6, lg.hist.max / 1e6,
	    lg.hist.total ? lg.hist.sum / (double)lg.hist.total / 1e6 : 0.0,
	    ok_rps, (unsigned long long)lg.ok_total,
	    (unsigned long long)lg.unanswered, lg.encrypt, lg.rate,
	    (unsigned long long)lg.max_backlog,
	    (unsigned long long)lg.pushes, srv);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char		*ops = "health";
	struct event_config	*cfg;
	char			*end;
	int		 ch, i;

	lg.host = "127.0.0.1";
	lg.port = 7400;
	lg.conns = 50;
	lg.duration = -1;
	lg.warmup = 1;
	lg.depth = 1;
	while ((ch = getopt(argc, argv, "h:p:c:d:n:o:a:e:P:sLES:w:q:r:l:QC:")) != -1) {
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
		case 'a':
			if (lg.ntemplates == MAX_OPS)
				usage();
			lg.templates[lg.ntemplates++] = optarg;
			break;
		case 'E':
			lg.encrypt = 1;
			break;
		case 'S':
			if (strcmp(optarg, "aes256gcm") == 0)
				lg.offer = CHANNEL_SUITE_AES256GCM;
			else if (strcmp(optarg, "xchacha20") == 0)
				lg.offer = CHANNEL_SUITE_XCHACHA20;
			else if (strcmp(optarg, "v1") == 0)
				lg.offer = CHANNEL_OFFER_V1;
			else
				usage();
			lg.encrypt = 1;
			break;
		case 'r':
			lg.rate = strtod(optarg, &end);
			if (*end != '\0' || !(lg.rate > 0 && lg.rate <= 1e7))
				usage();
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
		case 'C':
			lg.cpu_pid = (pid_t)strtol(optarg, &end, 10);
			if (*end != '\0' || lg.cpu_pid <= 0)
				usage();
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
	if (lg.ntemplates > lg.nops) {
		fprintf(stderr, "loadgen: more -a than ops\n");
		return 2;
	}
	lg.rng = (uint64_t)now_ns() | 1;
	msgpack_sbuffer_init(&lg.pool_bytes);
	for (i = 0; i < lg.ntemplates; i++)
		lg.ops[i].args = template_parse(lg.templates[i]);
	if (lg.encrypt && sodium_init() < 0) {
		fprintf(stderr, "loadgen: libsodium would not start\n");
		return 1;
	}
	if (lg.offer == CHANNEL_SUITE_AES256GCM &&
	    !(channel_suites_available() & CHANNEL_SUITE_AES256GCM)) {
		fprintf(stderr, "loadgen: -S aes256gcm: this CPU has no AES-NI\n");
		return 2;
	}
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
	msgpack_sbuffer_init(&lg.sb);
	/* -r paces by 100 us ticks: libevent's default timer clock is the
	 * coarse one (4 ms steps here). */
	if ((cfg = event_config_new()) == NULL)
		return 1;
	if (lg.rate > 0)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	lg.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (lg.base == NULL) {
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
		if (lg.c[i].rd_ev != NULL)
			event_free(lg.c[i].rd_ev);
		free(lg.c[i].due);
		if (lg.c[i].bev != NULL)
			bufferevent_free(lg.c[i].bev);
		msgpack_unpacked_destroy(&lg.c[i].reply);
		free(lg.c[i].frame);
		if (lg.c[i].ch != NULL)
			channel_free(lg.c[i].ch);
		if (lg.c[i].plain_in != NULL)
			evbuffer_free(lg.c[i].plain_in);
	}
	free(lg.c);
	if (lg.pace_ev != NULL)
		event_free(lg.pace_ev);
	for (i = 0; i < lg.nops; i++) {
		if (lg.ops[i].args != NULL) {
			free(lg.ops[i].args->bytes);
			free(lg.ops[i].args);
		}
	}
	free(lg.pool);
	free(lg.ints);
	msgpack_sbuffer_destroy(&lg.pool_bytes);
	if (lg.warmup_ev != NULL)
		event_free(lg.warmup_ev);
	if (lg.stop_ev != NULL)
		event_free(lg.stop_ev);
	if (lg.drain_ev != NULL)
		event_free(lg.drain_ev);
	event_free(lg.sigint_ev);
	event_base_free(lg.base);
	msgpack_sbuffer_destroy(&lg.sb);
	return lg.exit_code;
}
