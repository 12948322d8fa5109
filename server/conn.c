/* conn.c -- the net layer: listener, bufferevents, framing, per-connection limits.
 *
 * Handlers never touch sockets: dispatch hands back packed replies and this
 * file frames and queues them. A connection is reference-counted, so a
 * request that finishes on a worker thread's behalf after its peer left
 * never touches freed memory. */
#include <sys/types.h>
#include <sys/socket.h>
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

#include "conn.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "proto.h"
#include "server.h"
#include "session.h"
#include "util.h"

struct conn_list		 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct evconnlistener	*listener;
static int			 nconns;
static uint64_t			 next_conn_id = 1;
static int			 bound_port;

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_login_timeout_cb(evutil_socket_t, short, void *);
static void	conn_process(struct conn *);

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
	/* Bound the input: at most one frame beyond what we have parsed. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    server.cfg.max_frame + FRAME_HEADER_SIZE + 65536);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->login_timer = evtimer_new(server.base, conn_login_timeout_cb, c);
	tv.tv_sec = server.cfg.login_timeout;
	tv.tv_usec = 0;
	evtimer_add(c->login_timer, &tv);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	log_debug("conn %llu from %s", (unsigned long long)c->id, c->addr);
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
conn_free(struct conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->login_timer != NULL)
		event_free(c->login_timer);
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
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	conn_set_session(c, NULL);
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->login_timer != NULL) {
		event_free(c->login_timer);
		c->login_timer = NULL;
	}
	conn_unref(c);
}

void
conn_set_session(struct conn *c, struct session *s)
{
	if (c->session == s)
		return;
	if (s != NULL)
		session_ref(s);
	if (c->session != NULL)
		session_unref(c->session);
	c->session = s;
	if (s != NULL && c->login_timer != NULL)
		evtimer_del(c->login_timer);
}

static void
conn_write_frame(struct conn *c, const char *body, size_t len)
{
	unsigned char	 hdr[FRAME_HEADER_SIZE];
	struct evbuffer	*out;

	if (c->dead || c->bev == NULL)
		return;
	out = bufferevent_get_output(c->bev);
	frame_header_write(hdr, (uint32_t)len);
	evbuffer_add(out, hdr, sizeof hdr);
	evbuffer_add(out, body, len);
	if (evbuffer_get_length(out) > server.cfg.out_high_water) {
		/* A peer that does not read is cut off, not buffered for. */
		log_warn("conn %llu (%s): output over %zu bytes, dropping slow reader",
		    (unsigned long long)c->id, c->addr, server.cfg.out_high_water);
		conn_drop(c, "slow reader");
	}
}

/*
 * While a write batch is open, replies and events wait here until its
 * COMMIT: nothing is acknowledged before it is durable.
 */
struct held {
	struct conn		*conn;
	uint64_t		 id;
	int			 is_reply;
	char			*body;
	size_t			 len;
	STAILQ_ENTRY(held)	 entry;
};
static STAILQ_HEAD(, held)	held_list = STAILQ_HEAD_INITIALIZER(held_list);
static int			holding;

static void
conn_queue(struct conn *c, uint64_t id, int is_reply, const char *body, size_t len)
{
	struct held	*h;

	if (c->dead)
		return;
	if (!holding) {
		conn_write_frame(c, body, len);
		return;
	}
	h = xcalloc(1, sizeof *h);
	h->conn = c;
	conn_ref(c);
	h->id = id;
	h->is_reply = is_reply;
	h->body = xmalloc(len);
	memcpy(h->body, body, len);
	h->len = len;
	STAILQ_INSERT_TAIL(&held_list, h, entry);
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
	while ((h = STAILQ_FIRST(&held_list)) != NULL) {
		STAILQ_REMOVE_HEAD(&held_list, entry);
		if (committed)
			conn_write_frame(h->conn, h->body, h->len);
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
		conn_unref(h->conn);
		free(h->body);
		free(h);
	}
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
	struct conn	*c, *next;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "event", event);
	mp_pack_str(&pk, "data");
	msgpack_sbuffer_write(&sb, data, len);
	/* conn_send may drop a slow reader: take the next one first. */
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->session == NULL || c->session->revoked || c->closing)
			continue;
		if (want == NULL || want(c->session, arg))
			conn_send(c, sb.data, sb.size);
	}
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
	bufferevent_disable(c->bev, EV_READ);
	if (holding) {
		/* Its last reply may be held for the batch: close after it. */
		c->close_pending = 1;
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_drop(c, "closed by server");
}

static void
conn_process(struct conn *c)
{
	struct evbuffer	*in;
	unsigned char	 hdr[FRAME_HEADER_SIZE], *frame;
	uint32_t	 len;

	conn_ref(c);
	while (!c->dead && !c->closing && !c->pending) {
		in = bufferevent_get_input(c->bev);
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
	}
	conn_unref(c);
}

void
conn_resume(struct conn *c)
{
	if (c->dead)
		return;
	conn_process(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
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
	(void)bev;
	if (what & BEV_EVENT_EOF)
		conn_drop(arg, "peer closed");
	else if (what & BEV_EVENT_ERROR)
		conn_drop(arg, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
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

void
conn_shutdown(void)
{
	struct conn	*c, *next;

	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_drop(c, "server shutting down");
	}
}
