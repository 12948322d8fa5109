/* conn.c -- the net layer: listener, bufferevents, framing, per-connection limits.
 *
 * Handlers never touch sockets: dispatch hands back packed replies and this
 * file frames and queues them. A connection is reference-counted, so a
 * request that finishes on a worker thread's behalf after its peer left
 * never touches freed memory. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "channel.h"
#include "chat.h"
#include "conn.h"
#include "files.h"
#include "holds.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "proto.h"
#include "server.h"
#include "session.h"
#include "util.h"

struct conn_list		 conns = TAILQ_HEAD_INITIALIZER(conns);
/* Bytes one read asks for. */
#define CONN_READ_SIZE	16384

static struct evconnlistener	*listener;
static int			 nconns;
static uint64_t			 next_conn_id = 1;
static int			 bound_port;
static struct channel_keypair	 server_key;
static int			 have_key;

static void	conn_sock_read_cb(evutil_socket_t, short, void *);
static void	conn_read_set(struct conn *, int);
static size_t	conn_input_max(void);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_login_timeout_cb(evutil_socket_t, short, void *);
static void	conn_frame_timeout_cb(evutil_socket_t, short, void *);
static void	conn_frame_deadline(struct conn *, int);
static void	conn_process(struct conn *);
static struct evbuffer *conn_input(struct conn *);
static void	conn_write_sealed(struct conn *, struct evbuffer *,
		    const unsigned char *,
		    const char *, size_t);
static void	conn_channel_free(struct conn *);
static size_t	frame_piece(unsigned char *, const unsigned char *,
		    const char *, size_t, size_t, size_t);
static void	conn_seal_into(struct conn *, struct evbuffer *,
		    const unsigned char *, size_t);
static size_t	conn_send_now(struct conn *, const unsigned char *, size_t);

int
conn_count(void)
{
	return nconns;
}

int
conn_bound_port(void)
{
	return bound_port;
}

void
conn_set_key(const struct channel_keypair *kp)
{
	server_key = *kp;
	have_key = 1;
}

static int
addr_is_local(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

static void
addr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		strlcpy_mf(out, host, len);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		strlcpy_mf(out, host, len);
	} else
		strlcpy_mf(out, "local", len);
}

static void
conn_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct conn	*c;
	struct timeval	 tv;

	(void)l;
	(void)salen;
	(void)arg;
	if (server.draining || nconns >= server.cfg.max_conns) {
		/* Over the limit: a plain close is cheaper than a reply. */
		log_warn("connection refused: %s", server.draining ?
		    "draining" : "too many connections");
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->id = next_conn_id++;
	c->refs = 1;
	addr_format(sa, c->addr, sizeof c->addr);
	c->is_local = addr_is_local(sa);
	c->bev = bufferevent_socket_new(server.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	/*
	 * bufferevent writes; reading is ours (conn_sock_read_cb) into its
	 * input buffer, whose end libevent keeps frozen outside its own reads.
	 */
	c->rd_ev = event_new(server.base, fd, EV_READ | EV_PERSIST,
	    conn_sock_read_cb, c);
	if (c->rd_ev == NULL) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	evbuffer_unfreeze(bufferevent_get_input(c->bev), 0);
	bufferevent_setcb(c->bev, NULL, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_WRITE);
	conn_read_set(c, 1);
	c->login_timer = evtimer_new(server.base, conn_login_timeout_cb, c);
	tv.tv_sec = server.cfg.login_timeout;
	tv.tv_usec = 0;
	evtimer_add(c->login_timer, &tv);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	log_debug("conn %llu from %s", (unsigned long long)c->id, c->addr);
}

struct conn *
conn_new_virtual(const char *addr, int is_local,
    void (*sink)(struct conn *, const char *, size_t), void *sink_arg,
    int listed)
{
	struct conn	*c;

	c = xcalloc(1, sizeof *c);
	c->id = next_conn_id++;
	c->refs = 1;
	strlcpy_mf(c->addr, addr, sizeof c->addr);
	c->is_local = is_local;
	c->hello_done = 1;
	c->wire = CONN_WIRE_PLAIN;
	c->sink = sink;
	c->sink_arg = sink_arg;
	c->listed = listed;
	if (listed)
		TAILQ_INSERT_TAIL(&conns, c, entry);
	return c;
}

static void
conn_accept_error_cb(struct evconnlistener *l, void *arg)
{
	int	err = EVUTIL_SOCKET_ERROR();

	(void)l;
	(void)arg;
	/* EMFILE and friends: log, keep listening. */
	log_warn("accept: %s", evutil_socket_error_to_string(err));
}

int
conn_listen(const char *hostport, char **cause)
{
	struct sockaddr_storage	ss;
	int			sslen = sizeof ss;
	struct sockaddr_storage	bound;
	socklen_t		slen = sizeof bound;

	char			*copy;
	size_t			 n = strlen(hostport);
	int			 any_port = 0, rc;

	/* libevent refuses port 0; we use it to let the kernel pick. */
	copy = xstrdup(hostport);
	if (n >= 2 && strcmp(hostport + n - 2, ":0") == 0) {
		copy[n - 1] = '1';
		any_port = 1;
	}
	memset(&ss, 0, sizeof ss);
	rc = evutil_parse_sockaddr_port(copy, (struct sockaddr *)&ss, &sslen);
	free(copy);
	if (rc != 0) {
		*cause = xasprintf("bad listen address: %s", hostport);
		return -1;
	}
	if (any_port) {
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	}
	listener = evconnlistener_new_bind(server.base, conn_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, sslen);
	if (listener == NULL) {
		*cause = xasprintf("cannot listen on %s: %s", hostport, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(listener, conn_accept_error_cb);
	if (getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound,
	    &slen) == 0)
		bound_port = ntohs(bound.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&bound)->sin6_port :
		    ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

static void
conn_channel_free(struct conn *c)
{
	channel_free(c->chan);
	c->chan = NULL;
	if (c->plain_in != NULL)
		evbuffer_free(c->plain_in);
	c->plain_in = NULL;
}

static void
conn_free(struct conn *c)
{
	if (c->rd_ev != NULL)
		event_free(c->rd_ev);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->login_timer != NULL)
		event_free(c->login_timer);
	if (c->frame_timer != NULL)
		event_free(c->frame_timer);
	conn_channel_free(c);
	if (c->cork != NULL)
		evbuffer_free(c->cork);
	free(c);
}

void
conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		conn_free(c);
}

void
conn_drop(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	log_debug("conn %llu (%s) closed: %s", (unsigned long long)c->id,
	    c->addr, why);
	c->dead = 1;
	if (c->sink == NULL) {
		TAILQ_REMOVE(&conns, c, entry);
		nconns--;
	} else if (c->listed)
		TAILQ_REMOVE(&conns, c, entry);
	holds_conn_dropped(c->id);
	files_conn_dropped(c->id);
	conn_set_session(c, NULL);
	if (c->rd_ev != NULL) {
		/* Before the bufferevent, which closes the socket. */
		event_free(c->rd_ev);
		c->rd_ev = NULL;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->login_timer != NULL) {
		event_free(c->login_timer);
		c->login_timer = NULL;
	}
	conn_channel_free(c);
	conn_unref(c);
}

void
conn_set_session(struct conn *c, struct session *s)
{
	if (c->session == s)
		return;
	/* An upload belongs to the session that began it on this connection. */
	if (c->session != NULL)
		files_conn_dropped(c->id);
	/*
	 * Presence: chat decides, later in the loop, who went on- or offline.
	 * An unlisted virtual connection (one HTTP request) never counts.
	 */
	if (c->session != NULL && (c->sink == NULL || c->listed))
		chat_presence_touch(c->session->user_id);
	if (s != NULL && (c->sink == NULL || c->listed))
		chat_presence_touch(s->user_id);
	if (s != NULL)
		session_ref(s);
	if (c->session != NULL)
		session_unref(c->session);
	c->session = s;
	if (c->login_timer == NULL || c->dead)
		return;
	if (s != NULL)
		evtimer_del(c->login_timer);
	else {
		/* Logged out (or expired): the pre-login limit applies again. */
		struct timeval	tv = { server.cfg.login_timeout, 0 };

		evtimer_add(c->login_timer, &tv);
	}
}

/*
 * Writes a frame straight to the socket; returns the bytes the kernel took
 * (0 on EAGAIN, or on an error libevent reports at its next write). Going
 * through the output buffer costs two epoll_ctl calls, a copy and a loop
 * turn per reply; with nothing queued there is no need to.
 */
static size_t
conn_write_now(struct conn *c, const unsigned char *hdr, const char *body,
    size_t len)
{
	struct iovec	iov[2];
	struct msghdr	msg;
	ssize_t		n;

	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = FRAME_HEADER_SIZE;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	do
		n = sendmsg(bufferevent_getfd(c->bev), &msg,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? 0 : (size_t)n;
}

/*
 * While a batch's held frames go out, each connection's frames gather in its
 * cork buffer and leave in one writev (conn_uncork): a booking that tells 50
 * desk screens, or a chat message to 1,000 sessions, costs one system call per
 * connection per batch instead of one per frame. Only what the kernel does not
 * take moves to the bufferevent, so a reader keeping up costs no epoll calls.
 */
static int		 corking;
static struct conn	**corked;
static size_t		 ncorked, corked_cap;

/* Where a frame's bytes go now: the output buffer, or the cork. */
static struct evbuffer *
conn_outbuf(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (!corking)
		return out;
	if (c->cork == NULL)
		c->cork = evbuffer_new();
	if (evbuffer_get_length(c->cork) == 0) {
		/* Bytes already waiting go first. */
		if (evbuffer_get_length(out) > 0)
			return out;
		if (ncorked == corked_cap) {
			corked_cap = corked_cap ? corked_cap * 2 : 64;
			corked = xrealloc(corked, corked_cap * sizeof *corked);
		}
		conn_ref(c);
		corked[ncorked++] = c;
	}
	return c->cork;
}

static void
conn_uncork(void)
{
	struct conn	*c;
	size_t		 i;

	corking = 0;
	for (i = 0; i < ncorked; i++) {
		c = corked[i];
		if (!c->dead && c->bev != NULL && c->cork != NULL) {
			while (evbuffer_get_length(c->cork) > 0 &&
			    evbuffer_write(c->cork, bufferevent_getfd(c->bev)) > 0)
				;
			/* The rest waits until the socket is writable. */
			if (evbuffer_get_length(c->cork) > 0) {
				struct evbuffer	*out = bufferevent_get_output(c->bev);

				evbuffer_add_buffer(out, c->cork);
				if (evbuffer_get_length(out) > server.cfg.out_high_water) {
					log_warn("conn %llu (%s): output over %zu bytes, "
					    "dropping slow reader", (unsigned long long)c->id,
					    c->addr, server.cfg.out_high_water);
					conn_drop(c, "slow reader");
				}
			}
		}
		if (c->cork != NULL)
			evbuffer_drain(c->cork, evbuffer_get_length(c->cork));
		conn_unref(c);
	}
	ncorked = 0;
}

static void
conn_write_frame(struct conn *c, const char *body, size_t len)
{
	unsigned char	 hdr[FRAME_HEADER_SIZE];
	struct evbuffer	*out;
	size_t		 sent = 0;

	if (c->sink != NULL) {
		if (!c->dead)
			c->sink(c, body, len);
		return;
	}
	if (c->dead || c->bev == NULL)
		return;
	/* Mid-handshake there are no keys yet: nothing can be said. */
	if (c->wire == CONN_WIRE_HANDSHAKE)
		return;
	out = conn_outbuf(c);
	frame_header_write(hdr, (uint32_t)len);
	if (c->wire == CONN_WIRE_SECURE) {
		conn_write_sealed(c, out, hdr, body, len);
		goto queued;
	}
	/*
	 * Bytes already queued go first. With more requests already read
	 * (a pipelining client), the replies are queued and leave together.
	 */
	if (!corking && evbuffer_get_length(out) == 0 && evbuffer_get_length(
	    bufferevent_get_input(c->bev)) < FRAME_HEADER_SIZE)
		sent = conn_write_now(c, hdr, body, len);
	if (sent == sizeof hdr + len)
		return;
	if (sent < sizeof hdr) {
		evbuffer_add(out, hdr + sent, sizeof hdr - sent);
		sent = 0;
	} else
		sent -= sizeof hdr;
	evbuffer_add(out, body + sent, len - sent);
queued:
	if (evbuffer_get_length(out) > server.cfg.out_high_water) {
		/* A peer that does not read is cut off, not buffered for. */
		log_warn("conn %llu (%s): output over %zu bytes, dropping slow reader",
		    (unsigned long long)c->id, c->addr, server.cfg.out_high_water);
		conn_drop(c, "slow reader");
	}
}

/*
 * While a write batch is open, replies and events wait here until its
 * COMMIT: nothing is acknowledged before it is durable. An event's bytes are
 * held once, shared by every connection it goes to (a booking tells every
 * desk screen).
 */
struct held_body {
	unsigned	refs;
	size_t		len;
	char		data[];
};

struct held {
	struct conn		*conn;
	uint64_t		 id;
	int			 is_reply;
	struct held_body	*body;
	STAILQ_ENTRY(held)	 entry;
};
STAILQ_HEAD(held_head, held);
static struct held_head	held_list = STAILQ_HEAD_INITIALIZER(held_list);
static int		holding;

/*
 * Spent entries are kept for the next batch: a booking holds one for every
 * desk it tells, and calloc and free for them were a twentieth of a
 * booking's instructions with 20 desks. The sanitizer build keeps none, so
 * a use after release is still caught.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HELD_SPARE_MAX	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HELD_SPARE_MAX	0
#endif
#endif
#ifndef HELD_SPARE_MAX
#define HELD_SPARE_MAX	16384
#endif
static struct held_head	held_spare = STAILQ_HEAD_INITIALIZER(held_spare);
static size_t		held_nspare;

static struct held_body *
held_body_new(const char *data, size_t len)
{
	struct held_body	*b = xmalloc(sizeof *b + len);

	b->refs = 1;
	b->len = len;
	memcpy(b->data, data, len);
	return b;
}

static void
held_body_unref(struct held_body *b)
{
	if (--b->refs == 0)
		free(b);
}

static void
held_free(struct held *h)
{
	conn_unref(h->conn);
	held_body_unref(h->body);
#if HELD_SPARE_MAX > 0
	if (held_nspare < HELD_SPARE_MAX) {
		STAILQ_INSERT_HEAD(&held_spare, h, entry);
		held_nspare++;
		return;
	}
#endif
	free(h);
}

static void
conn_queue_body(struct conn *c, uint64_t id, int is_reply, struct held_body *b)
{
	struct held	*h;

	if ((h = STAILQ_FIRST(&held_spare)) != NULL) {
		STAILQ_REMOVE_HEAD(&held_spare, entry);
		held_nspare--;
	} else
		h = xmalloc(sizeof *h);
	h->conn = c;
	conn_ref(c);
	h->id = id;
	h->is_reply = is_reply;
	h->body = b;
	b->refs++;
	STAILQ_INSERT_TAIL(&held_list, h, entry);
}

static void
conn_queue(struct conn *c, uint64_t id, int is_reply, const char *body, size_t len)
{
	struct held_body	*b;

	if (c->dead)
		return;
	if (!holding) {
		conn_write_frame(c, body, len);
		return;
	}
	b = held_body_new(body, len);
	conn_queue_body(c, id, is_reply, b);
	held_body_unref(b);
}

/*
 * A committed batch's frames for a connection with nothing else queued
 * leave in one system call: a plain connection's in one sendmsg straight
 * from the held bytes, an encrypted one's sealed into one buffer (several
 * frames to a record) and sent from there. No copy into a cork buffer, no
 * allocation per frame; only what the kernel does not take goes to the
 * bufferevent. HTTP sinks take the corked path in conn_release.
 */
struct direct {
	struct held	*h;
	size_t		 next;		/* the connection's next frame, or SIZE_MAX */
	unsigned char	 hdr[FRAME_HEADER_SIZE];
};
static struct direct	*directs;
static size_t		 directs_cap;

/* A record's plaintext, gathered from the frames it holds. */
static unsigned char	 record_plain[CHANNEL_RECORD_MAX];
/* An encrypted connection's sealed records, sent in one call when full. */
#define SEALED_BATCH_RECORDS	4
static unsigned char	*sealed_batch;

/* The batch's connections, first frame and last, found through a small
 * open-addressing table: grouping is linear in the frames. */
struct direct_group {
	struct conn	*conn;
	size_t		 first, last;
};
static struct direct_group	*dgroups;
static size_t			*dtable, dtable_cap, dgroups_cap;

static int
conn_direct_ok(const struct conn *c)
{
	return !c->dead && c->sink == NULL && c->bev != NULL &&
	    (c->wire == CONN_WIRE_PLAIN || c->wire == CONN_WIRE_SECURE) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    (c->cork == NULL || evbuffer_get_length(c->cork) == 0);
}

/* A connection's output over out_high_water: it is cut off. */
static void
conn_check_high_water(struct conn *c, struct evbuffer *out)
{
	if (evbuffer_get_length(out) > server.cfg.out_high_water) {
		log_warn("conn %llu (%s): output over %zu bytes, dropping "
		    "slow reader", (unsigned long long)c->id, c->addr,
		    server.cfg.out_high_water);
		conn_drop(c, "slow reader");
	}
}

/* Writes a connection's frames, v[first] and on along next, to its socket. */
static void
conn_send_direct(struct conn *c, size_t first)
{
	struct iovec	 iov[2 * 256];
	struct msghdr	 msg;
	struct evbuffer	*out;
	size_t		 i = first, k, niov, want, skip;
	ssize_t		 sent;

	while (i != SIZE_MAX && !c->dead) {
		/* Up to 256 frames a call, well under IOV_MAX. */
		niov = want = 0;
		for (k = i; k != SIZE_MAX && niov < nitems(iov); k = directs[k].next) {
			iov[niov].iov_base = directs[k].hdr;
			iov[niov++].iov_len = FRAME_HEADER_SIZE;
			iov[niov].iov_base = directs[k].h->body->data;
			iov[niov++].iov_len = directs[k].h->body->len;
			want += FRAME_HEADER_SIZE + directs[k].h->body->len;
		}
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		do
			sent = sendmsg(bufferevent_getfd(c->bev), &msg,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		while (sent < 0 && errno == EINTR);
		if (sent >= 0 && (size_t)sent == want) {
			i = k;
			continue;
		}
		/* The kernel took part: the rest waits in the output buffer. */
		skip = sent < 0 ? 0 : (size_t)sent;
		out = bufferevent_get_output(c->bev);
		for (i = 0; i < niov; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			evbuffer_add(out, (char *)iov[i].iov_base + skip,
			    iov[i].iov_len - skip);
			skip = 0;
		}
		for (; k != SIZE_MAX; k = directs[k].next) {
			evbuffer_add(out, directs[k].hdr, FRAME_HEADER_SIZE);
			evbuffer_add(out, directs[k].h->body->data,
			    directs[k].h->body->len);
		}
		conn_check_high_water(c, out);
		break;
	}
}

/*
 * The encrypted form of conn_send_direct. The frames are one stream cut
 * into records of up to CHANNEL_RECORD_MAX bytes: a record costs a fixed
 * share of crypto work whatever it holds, so a desk's reply and the events
 * of the same batch share one. Records are sealed into sealed_batch and
 * sent a few at a time; once the kernel leaves some behind, that rest goes
 * to the output buffer and the records after it are sealed straight into
 * it, in order.
 */
static void
conn_send_sealed(struct conn *c, size_t first)
{
	const size_t	 cap = SEALED_BATCH_RECORDS *
			    CHANNEL_SEALED_LEN(CHANNEL_RECORD_MAX);
	struct evbuffer	*out = NULL;	/* once the kernel left some behind */
	struct direct	*d;
	size_t		 k = first, off = 0, plen, n, slen = 0, sent;

	if (sealed_batch == NULL)
		sealed_batch = xmalloc(cap);
	while (k != SIZE_MAX) {
		/* The next record's plaintext, gathered across frames. */
		plen = 0;
		while (k != SIZE_MAX && plen < CHANNEL_RECORD_MAX) {
			d = &directs[k];
			n = frame_piece(record_plain + plen, d->hdr,
			    d->h->body->data, d->h->body->len, off,
			    CHANNEL_RECORD_MAX - plen);
			plen += n;
			off += n;
			if (off == FRAME_HEADER_SIZE + d->h->body->len) {
				k = d->next;
				off = 0;
			}
		}
		if (out != NULL) {
			conn_seal_into(c, out, record_plain, plen);
			continue;
		}
		slen += channel_seal(c->chan, record_plain, plen,
		    sealed_batch + slen);
		/* Sent when the next record might not fit, or at the end. */
		if (k != SIZE_MAX &&
		    slen + CHANNEL_SEALED_LEN(CHANNEL_RECORD_MAX) <= cap)
			continue;
		sent = conn_send_now(c, sealed_batch, slen);
		if (sent < slen) {
			out = bufferevent_get_output(c->bev);
			evbuffer_add(out, sealed_batch + sent, slen - sent);
		}
		slen = 0;
	}
	if (out != NULL)
		conn_check_high_water(c, out);
}

/* Sends what conn_send_direct and conn_send_sealed can take and leaves
 * the rest on held_list. */
static void
conn_release_direct(void)
{
	struct held_head	 rest = STAILQ_HEAD_INITIALIZER(rest);
	struct held		*h;
	size_t			 n = 0, ngroups = 0, i, slot, mask, g, gmax;

	/* At most one group a connection: the table stays at most half full. */
	for (mask = 64; mask < 2 * (size_t)nconns + 2; mask *= 2)
		;
	if (mask > dtable_cap) {
		dtable_cap = mask;
		dtable = xrealloc(dtable, dtable_cap * sizeof *dtable);
		dgroups_cap = dtable_cap / 2;
		dgroups = xrealloc(dgroups, dgroups_cap * sizeof *dgroups);
	}
	memset(dtable, 0xff, mask * sizeof *dtable);
	gmax = mask / 2;	/* a free slot always ends a probe */
	mask--;
	while ((h = STAILQ_FIRST(&held_list)) != NULL) {
		STAILQ_REMOVE_HEAD(&held_list, entry);
		if (ngroups == gmax || !conn_direct_ok(h->conn)) {
			STAILQ_INSERT_TAIL(&rest, h, entry);
			continue;
		}
		for (slot = ((uintptr_t)h->conn >> 4) & mask;
		    (g = dtable[slot]) != SIZE_MAX && dgroups[g].conn != h->conn;
		    slot = (slot + 1) & mask)
			;
		if (n == directs_cap) {
			directs_cap = directs_cap ? directs_cap * 2 : 256;
			directs = xrealloc(directs, directs_cap * sizeof *directs);
		}
		directs[n].h = h;
		directs[n].next = SIZE_MAX;
		frame_header_write(directs[n].hdr, (uint32_t)h->body->len);
		if (g == SIZE_MAX) {
			g = dtable[slot] = ngroups++;
			dgroups[g].conn = h->conn;
			dgroups[g].first = n;
		} else
			directs[dgroups[g].last].next = n;
		dgroups[g].last = n;
		n++;
	}
	STAILQ_CONCAT(&held_list, &rest);
	for (g = 0; g < ngroups; g++) {
		if (dgroups[g].conn->wire == CONN_WIRE_SECURE)
			conn_send_sealed(dgroups[g].conn, dgroups[g].first);
		else
			conn_send_direct(dgroups[g].conn, dgroups[g].first);
	}
	for (i = 0; i < n; i++)
		held_free(directs[i].h);
}

void
conn_hold(void)
{
	holding = 1;
}

void
conn_release(int committed)
{
	struct conn	*c, *next;
	struct held	*h;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;

	holding = 0;
	corking = 1;
	if (committed)
		conn_release_direct();
	while ((h = STAILQ_FIRST(&held_list)) != NULL) {
		STAILQ_REMOVE_HEAD(&held_list, entry);
		if (committed)
			conn_write_frame(h->conn, h->body->data, h->body->len);
		else if (h->is_reply) {
			/* The batch did not reach the disk: say so, never "ok". */
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			msgpack_pack_map(&pk, 3);
			mp_pack_str(&pk, "id");
			msgpack_pack_uint64(&pk, h->id);
			mp_pack_kv_bool(&pk, "ok", 0);
			mp_pack_str(&pk, "error");
			msgpack_pack_map(&pk, 2);
			mp_pack_kv_str(&pk, "code", "unavailable");
			mp_pack_kv_str(&pk, "message",
			    "the store could not save this; nothing was changed");
			conn_write_frame(h->conn, sb.data, sb.size);
			msgpack_sbuffer_destroy(&sb);
		}
		held_free(h);
	}
	conn_uncork();
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->close_pending) {
			c->close_pending = 0;
			conn_close_after_flush(c);
		}
	}
}

void
conn_send(struct conn *c, const char *body, size_t len)
{
	conn_queue(c, 0, 0, body, len);
}

void
conn_send_reply(struct conn *c, uint64_t id, const char *body, size_t len)
{
	conn_queue(c, id, 1, body, len);
}

void
conn_push_event(const char *event, const char *data, size_t len,
    int (*want)(const struct session *, void *), void *arg)
{
	struct conn		*c, *next;
	struct held_body	*b = NULL;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "event", event);
	mp_pack_str(&pk, "data");
	msgpack_sbuffer_write(&sb, data, len);
	/* Held for a batch, the recipients share one copy. */
	if (holding)
		b = held_body_new(sb.data, sb.size);
	/* conn_send may drop a slow reader: take the next one first. */
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->session == NULL || c->session->revoked || c->closing)
			continue;
		if (want != NULL && !want(c->session, arg))
			continue;
		if (b == NULL)
			conn_send(c, sb.data, sb.size);
		else if (!c->dead)
			conn_queue_body(c, 0, 0, b);
	}
	if (b != NULL)
		held_body_unref(b);
	msgpack_sbuffer_destroy(&sb);
}

void
conn_fail(struct conn *c, const char *code, const char *message)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, 0);
	mp_pack_kv_bool(&pk, "ok", 0);
	mp_pack_str(&pk, "error");
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "code", code);
	mp_pack_kv_str(&pk, "message", message);
	conn_write_frame(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	conn_close_after_flush(c);
}

void
conn_close_after_flush(struct conn *c)
{
	if (c->dead)
		return;
	c->closing = 1;
	if (c->sink != NULL) {
		/* The HTTP adapter ends a virtual one after its reply. */
		return;
	}
	c->rd_stop = 1;
	conn_read_set(c, 0);
	if (holding) {
		/* Its last reply may be held for the batch: close after it. */
		c->close_pending = 1;
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_drop(c, "closed by server");
}

/*
 * The secure channel, under the framing (protocol.md, "Secure channel").
 * A connection's first four bytes say which wire it speaks: "MFE2" (or
 * "MFE1", from older clients) starts the encrypted handshake, which also
 * picks the record cipher; anything else is a plain frame's length, taken
 * only from loopback or a unix socket while plain_loopback is on.
 */

/* Sends bytes now if the kernel takes them; returns how many it took. */
static size_t
conn_send_now(struct conn *c, const unsigned char *p, size_t len)
{
	ssize_t	n;

	do
		n = send(bufferevent_getfd(c->bev), p, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? 0 : (size_t)n;
}

/*
 * Copies at most n bytes of a frame, its header then its body, from byte
 * off on; returns how many.
 */
static size_t
frame_piece(unsigned char *dst, const unsigned char *hdr, const char *body,
    size_t len, size_t off, size_t n)
{
	size_t	k = 0;

	if (off + n > FRAME_HEADER_SIZE + len)
		n = FRAME_HEADER_SIZE + len - off;
	if (off < FRAME_HEADER_SIZE) {
		k = FRAME_HEADER_SIZE - off < n ? FRAME_HEADER_SIZE - off : n;
		memcpy(dst, hdr + off, k);
	}
	if (n > k)
		memcpy(dst + k, body + (off + k - FRAME_HEADER_SIZE), n - k);
	return n;
}

/* Seals len bytes as one record at the end of out, with no copy between. */
static void
conn_seal_into(struct conn *c, struct evbuffer *out, const unsigned char *p,
    size_t len)
{
	struct evbuffer_iovec	v;

	if (evbuffer_reserve_space(out, (ev_ssize_t)CHANNEL_SEALED_LEN(len),
	    &v, 1) != 1)
		abort();	/* out of memory */
	v.iov_len = channel_seal(c->chan, p, len, v.iov_base);
	if (evbuffer_commit_space(out, &v, 1) != 0)
		abort();
}

/* Seals a frame as records; like the plain path, straight to the socket
 * when nothing is queued and no further request is waiting. Queued, the
 * records are sealed in the output buffer itself. */
static void
conn_write_sealed(struct conn *c, struct evbuffer *out,
    const unsigned char *hdr, const char *body, size_t len)
{
	static unsigned char	 sealed[CHANNEL_SEALED_LEN(CHANNEL_RECORD_MAX)];
	size_t			 total = FRAME_HEADER_SIZE + len, done = 0;
	size_t			 n, slen, sent;
	int			 direct;

	direct = !corking && evbuffer_get_length(out) == 0 &&
	    evbuffer_get_length(c->plain_in) < FRAME_HEADER_SIZE &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) < CHANNEL_LENGTH_LEN;
	while (done < total) {
		n = frame_piece(record_plain, hdr, body, len, done,
		    CHANNEL_RECORD_MAX);
		done += n;
		if (!direct) {
			conn_seal_into(c, out, record_plain, n);
			continue;
		}
		slen = channel_seal(c->chan, record_plain, n, sealed);
		sent = conn_send_now(c, sealed, slen);
		if (sent < slen) {
			/* The rest waits, in order, behind what was not taken. */
			direct = 0;
			evbuffer_add(out, sealed + sent, slen - sent);
		}
	}
}

/* Refuses a plain connection from where only encrypted ones may come. */
static int
conn_plain_allowed(struct conn *c)
{
	if (c->is_local && server.cfg.plain_loopback)
		return 1;
	log_warn("conn %llu (%s): plain connection refused: %s",
	    (unsigned long long)c->id, c->addr, c->is_local ?
	    "encryption is required" : "not from loopback");
	conn_fail(c, "bad_request", c->is_local ?
	    "this server requires encryption: connect with an encrypting "
	    "client (mediflow without --plain)" :
	    "this server takes unencrypted connections only from its own host: "
	    "connect with an encrypting client (mediflow without --plain)");
	return 0;
}

/*
 * Works out the wire from the first bytes, runs the server's half of the
 * handshake and opens records. Returns the buffer frames are read from, or
 * NULL while more bytes are needed or after the connection was dropped.
 */
static struct evbuffer *
conn_input(struct conn *c)
{
	struct evbuffer	*raw = bufferevent_get_input(c->bev);
	unsigned char	 in[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char	 out[CHANNEL_SERVER_HELLO_MAX];
	const char	*cause;
	size_t		 n;

	switch (c->wire) {
	case CONN_WIRE_PLAIN:
		return raw;
	case CONN_WIRE_UNKNOWN:
		if (evbuffer_copyout(raw, in, CHANNEL_MAGIC_LEN) < CHANNEL_MAGIC_LEN)
			return NULL;
		if ((n = channel_client_hello_length(in)) == 0) {
			c->wire = CONN_WIRE_PLAIN;
			return conn_plain_allowed(c) ? raw : NULL;
		}
		if (evbuffer_get_length(raw) < n)
			return NULL;
		evbuffer_remove(raw, in, n);
		c->chan = channel_new();
		c->wire = CONN_WIRE_HANDSHAKE;
		if (!have_key) {
			conn_drop(c, "no server key");
			return NULL;
		}
		if (channel_server_accept(c->chan, &server_key,
		    channel_suites_available(), in, n, out, &n, &cause) != 0) {
			log_warn("conn %llu (%s): handshake: %s",
			    (unsigned long long)c->id, c->addr, cause);
			conn_drop(c, cause);
			return NULL;
		}
		evbuffer_add(bufferevent_get_output(c->bev), out, n);
		/* FALLTHROUGH */
	case CONN_WIRE_HANDSHAKE:
		/* Hc2s, or for AES-256-GCM (which has none) the first
		 * record: the client has checked our key once it speaks. */
		n = channel_client_finish_length(c->chan);
		if (evbuffer_get_length(raw) == 0 || evbuffer_get_length(raw) < n)
			return NULL;
		evbuffer_remove(raw, in, n);
		if (channel_server_finish(c->chan, in, &cause) != 0) {
			log_warn("conn %llu (%s): handshake: %s",
			    (unsigned long long)c->id, c->addr, cause);
			conn_drop(c, cause);
			return NULL;
		}
		c->plain_in = evbuffer_new();
		c->wire = CONN_WIRE_SECURE;
		log_debug("conn %llu (%s): encrypted, %s", (unsigned long long)c->id,
		    c->addr, channel_suite_name(channel_suite(c->chan)));
		/* FALLTHROUGH */
	case CONN_WIRE_SECURE:
		/* At most one whole frame ahead, as on the plain wire. */
		if (channel_buffer_open(c->chan, raw, c->plain_in,
		    server.cfg.max_frame + FRAME_HEADER_SIZE, &cause) < 0) {
			log_warn("conn %llu (%s): %s; closing",
			    (unsigned long long)c->id, c->addr, cause);
			conn_drop(c, cause);
			return NULL;
		}
		return c->plain_in;
	}
	return NULL;
}

static void
conn_process(struct conn *c)
{
	struct evbuffer	*in;
	unsigned char	 hdr[FRAME_HEADER_SIZE], *frame;
	uint32_t	 len;
	int		 whole = 0;

	conn_ref(c);
	while (!c->dead && !c->closing && !c->pending) {
		if ((in = conn_input(c)) == NULL)
			break;
		if (evbuffer_get_length(in) < FRAME_HEADER_SIZE)
			break;
		evbuffer_copyout(in, hdr, sizeof hdr);
		len = frame_header_length(hdr);
		if (len > server.cfg.max_frame) {
			log_warn("conn %llu (%s): frame of %u bytes refused",
			    (unsigned long long)c->id, c->addr, len);
			conn_fail(c, "too_large", "frame exceeds the maximum size");
			break;
		}
		if (len == 0) {
			conn_fail(c, "bad_request", "empty frame");
			break;
		}
		if (evbuffer_get_length(in) < FRAME_HEADER_SIZE + (size_t)len)
			break;
		evbuffer_drain(in, FRAME_HEADER_SIZE);
		frame = xmalloc(len);
		evbuffer_remove(in, frame, len);
		/* Dispatch owns frame from here on. */
		ops_dispatch(c, frame, len);
		whole = 1;
	}
	conn_frame_deadline(c, whole);
	/* Reading paused at the input bound starts again once it is parsed. */
	if (!c->dead && !c->rd_on && c->bev != NULL && evbuffer_get_length(
	    bufferevent_get_input(c->bev)) < conn_input_max())
		conn_read_set(c, 1);
	conn_unref(c);
}

/*
 * A frame that has begun must arrive whole within frame_timeout: the login
 * timer stops at login, and a client trickling a byte now and then would
 * otherwise hold its connection (and its buffered bytes) forever. Frames
 * that come in one read never start the timer. The deadline is the frame's,
 * not the connection's: a client with many requests in flight often ends a
 * read mid-frame, so each whole frame read (whole != 0) starts the clock
 * again for the next one.
 */
static void
conn_frame_deadline(struct conn *c, int whole)
{
	struct timeval	tv = { server.cfg.frame_timeout, 0 };
	int		partial;

	if (c->dead || c->bev == NULL || server.cfg.frame_timeout <= 0)
		return;
	/* Before login, the login timer bounds everything. */
	partial = c->session != NULL && !c->pending && !c->closing &&
	    (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 ||
	    (c->plain_in != NULL && evbuffer_get_length(c->plain_in) > 0));
	if (!partial) {
		if (c->frame_timer != NULL)
			evtimer_del(c->frame_timer);
		return;
	}
	if (c->frame_timer == NULL)
		c->frame_timer = evtimer_new(server.base, conn_frame_timeout_cb, c);
	if (whole || !evtimer_pending(c->frame_timer, NULL))
		evtimer_add(c->frame_timer, &tv);
}

void
conn_resume(struct conn *c)
{
	if (c->dead || c->sink != NULL)
		return;
	conn_process(c);
}

/* The input bound: at most one frame beyond what has been parsed. */
static size_t
conn_input_max(void)
{
	return server.cfg.max_frame + FRAME_HEADER_SIZE + 65536;
}

static void
conn_read_set(struct conn *c, int on)
{
	if (c->rd_ev == NULL || (on && c->rd_stop) || on == c->rd_on)
		return;
	if (on)
		event_add(c->rd_ev, NULL);
	else
		event_del(c->rd_ev);
	c->rd_on = on;
}

/*
 * Reads what the socket has into the input buffer with one readv, then
 * parses it. bufferevent's own read asks the kernel first how much is
 * waiting (an ioctl FIONREAD before every read): a third of the system
 * calls of a small request, for nothing a nonblocking read does not say.
 */
static void
conn_sock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	size_t		 have = evbuffer_get_length(in), want;
	ssize_t		 n;

	(void)what;
	if (have >= conn_input_max()) {
		conn_read_set(c, 0);
		return;
	}
	want = conn_input_max() - have;
	if (want > CONN_READ_SIZE)
		want = CONN_READ_SIZE;
	n = evbuffer_read_some(in, fd, want);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_drop(c, errno == ENOMEM ? "out of memory for input" :
		    evutil_socket_error_to_string(errno));
		return;
	}
	if (n == 0) {
		conn_drop(c, c->wire == CONN_WIRE_HANDSHAKE ?
		    "peer left during the handshake (our key refused?)" :
		    "peer closed");
		return;
	}
	conn_process(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_drop(c, "closed by server");
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	/* Only writes report here: reading, and so the peer's close, is
	 * conn_sock_read_cb's. */
	(void)bev;
	if (what & BEV_EVENT_ERROR)
		conn_drop(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void
conn_login_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->session == NULL && !c->dead)
		conn_fail(c, "unauthenticated", "login timeout");
}

static void
conn_frame_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->dead)
		return;
	log_warn("conn %llu (%s): a frame took over %d s to arrive, closing",
	    (unsigned long long)c->id, c->addr, server.cfg.frame_timeout);
	conn_fail(c, "bad_request", "frame timeout: a frame must arrive whole "
	    "within frame_timeout");
}

void
conn_shutdown(void)
{
	struct conn	*c, *next;
	struct held	*h;

	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_drop(c, "server shutting down");
	}
	while ((h = STAILQ_FIRST(&held_spare)) != NULL) {
		STAILQ_REMOVE_HEAD(&held_spare, entry);
		free(h);
	}
	held_nspare = 0;
}
