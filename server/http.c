/* http.c -- the HTTP adapter: evhttp in front of the op table.
 *
 * Each /api request runs as one request on a virtual connection (conn.h):
 * the route's op and JSON arguments are packed into an ordinary request
 * frame and handed to ops_dispatch, so auth, roles, rate limits, argument
 * checks and audit are exactly the TCP protocol's. The reply (held until
 * its batch commits, or sent later by an OP_PENDING handler) comes back
 * through the connection's sink and is turned into the HTTP response.
 *
 * evhttp's own limits stop at header and body sizes and an inactivity
 * timer, so this file adds a cap on connections and a total deadline per
 * request: a client trickling a header byte at a time is cut off. */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <sodium.h>

#include "clock.h"
#include "conn.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "server.h"
#include "session.h"
#include "util.h"
#include "web.h"

#define SSE_KEEPALIVE	15	/* seconds between ": keepalive" comments */
#define CSRF_BYTES	32
#define SESSION_SLOTS	1024	/* cookie -> session cache, direct-mapped */

static const char csp[] = "default-src 'self'; script-src 'self'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/* One HTTP connection, from accept to close. */
struct hconn {
	struct bufferevent		*bev;	/* made by us, owned by evhttp */
	struct evhttp_connection	*evcon;	/* once adopted */
	struct event			*adopt;
	struct event			*deadline;
	struct evbuffer_cb_entry	*out_cb;	/* hconn_out_cb */
	int				 refused;	/* over http_max_conns */
	int				 cut;		/* closing on our side */
	int				 answering;	/* our callback has the request */
	int				 page;		/* evhttp's own page at page_at */
	size_t				 page_at;
	TAILQ_ENTRY(hconn)		 entry;
};
TAILQ_HEAD(hconn_list, hconn);

/* One request being answered (or one event stream). */
struct hreq {
	struct evhttp_request	*req;		/* NULL once evhttp freed it */
	struct hconn		*hc;		/* NULL once the connection closed */
	const struct http_route	*route;
	struct conn		*conn;		/* the virtual connection */
	char			 addr[64];	/* the client (X-Forwarded-For from the proxy) */
	int			 is_local;
	int			 fhir;
	int			 stream;	/* an SSE stream or a download is running */
	struct event		*keepalive;
	struct session		*session;	/* a download's, for its next chunk */
	int64_t			 file_id;
	int64_t			 file_offset;	/* the next chunk's */
	TAILQ_ENTRY(hreq)	 entry;
};
TAILQ_HEAD(hreq_list, hreq);

static struct evhttp		*http;
static struct hconn_list	 hconns = TAILQ_HEAD_INITIALIZER(hconns);
static struct hreq_list		 hreqs = TAILQ_HEAD_INITIALIZER(hreqs);
static int			 nhconns;
static int			 bound_port;

/*
 * Cookies name sessions by token; looking one up costs a hash and a store
 * query, on every request. Live sessions are kept here by the hash of
 * their token (never the token itself); a revoked one is dropped on sight,
 * and expiry is still checked by dispatch, as for any connection.
 */
static struct {
	unsigned char	 key[crypto_generichash_BYTES];
	struct session	*s;
} session_slots[SESSION_SLOTS];

/* CSRF cookies come from a ChaCha20 stream under a random key: as good as
 * randombytes, without a system call per new visitor. */
static unsigned char	 csrf_key[crypto_stream_chacha20_ietf_KEYBYTES];
static uint64_t		 csrf_counter;

static int	hconn_adopt(struct hconn *);
static void	hconn_free(struct hconn *);
static void	hconn_close_cb(struct evhttp_connection *, void *);
static void	hreq_free(struct hreq *);
static void	http_api_sink(struct conn *, const char *, size_t);
static void	http_sse_sink(struct conn *, const char *, size_t);
static void	http_send_result(struct hreq *, const msgpack_object *);
static void	http_file_chunk(struct hreq *, const msgpack_object *);
static void	http_file_end(struct hreq *);
static void	http_stream_end(struct hreq *);
static int	security_header_list(int, const char **, const char **);
static const char *status_reason(int);

int
http_bound_port(void)
{
	return bound_port;
}

/* --- connections: cap, adoption, deadline --- */

static void
hconn_arm(struct hconn *hc, int seconds)
{
	struct timeval	tv = { seconds, 0 };

	evtimer_add(hc->deadline, &tv);
}

static void
hconn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hconn	*hc = arg, *other;
	struct hreq	*h;

	(void)fd;
	(void)what;
	if (hconn_adopt(hc) != 0)
		return;
	/*
	 * Should evhttp ever free a connection without its close callback,
	 * hc outlives it, and a newer connection may get the same address:
	 * never close that one on hc's behalf.
	 */
	for (other = TAILQ_NEXT(hc, entry); other != NULL;
	    other = TAILQ_NEXT(other, entry)) {
		if (other->evcon == hc->evcon) {
			log_debug("http: dropping a stale connection record");
			TAILQ_FOREACH(h, &hreqs, entry)
				if (h->hc == hc)
					h->hc = NULL;
			hconn_free(hc);
			return;
		}
	}
	/* A request being answered (an op, a stream) is not late. */
	TAILQ_FOREACH(h, &hreqs, entry)
		if (h->hc == hc && !hc->cut)
			return;
	if (!hc->cut)
		log_warn("http: request not received within %d s; closing",
		    server.cfg.http_request_deadline);
	/* hconn_close_cb frees hc. */
	evhttp_connection_free(hc->evcon);
}

static void
hconn_free(struct hconn *hc)
{
	TAILQ_REMOVE(&hconns, hc, entry);
	nhconns--;
	event_free(hc->adopt);
	event_free(hc->deadline);
	free(hc);
}

/*
 * evhttp makes the connection object after asking us for its bufferevent
 * and gives no hook in between, so we learn of the connection here, right
 * after the accept: the bufferevent's callback argument is the evhttp
 * connection. Our extra reference kept the bufferevent alive in case the
 * peer left at once, in which case evhttp already cleared its callbacks.
 * Returns -1 when that happened and hc is freed.
 */
static int
hconn_adopt(struct hconn *hc)
{
	void	*cbarg = NULL;

	if (hc->evcon != NULL)
		return 0;
	bufferevent_getcb(hc->bev, NULL, NULL, NULL, &cbarg);
	if (cbarg == NULL) {
		/* Gone before we saw it. */
		evbuffer_remove_cb_entry(bufferevent_get_output(hc->bev),
		    hc->out_cb);
		bufferevent_decref(hc->bev);
		hconn_free(hc);
		return -1;
	}
	hc->evcon = cbarg;
	evhttp_connection_set_closecb(hc->evcon, hconn_close_cb, hc);
	bufferevent_decref(hc->bev);
	if (hc->refused) {
		log_warn("http: connection refused: over http_max_conns (%d)",
		    server.cfg.http_max_conns);
		hc->cut = 1;
		hconn_arm(hc, 0);
	}
	return 0;
}

static void
hconn_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)hconn_adopt(arg);
}

/*
 * evhttp answers some requests itself, before any callback of ours: a body
 * over http_max_body or headers over http_max_header get a 413 HTML page,
 * a malformed request a 400, an unknown method a 501 (libevent 2.1 has no
 * hook for them). Such a page can only begin while no request of ours is
 * being answered, and it goes out through the connection's output buffer:
 * it is caught there as evhttp adds it, and replaced, before a byte of it
 * is sent, with the JSON error every other answer has.
 */
static const struct {
	int		 status;
	const char	*code;
	const char	*message;	/* then the limit, if any, in bytes */
	int		 limit;		/* 0: none, 1: headers, 2: body */
} evhttp_pages[] = {
	/* evhttp says 400 for headers over the limit too. */
	{ 400, "bad_request", "malformed HTTP request, or headers over", 1 },
	{ 413, "too_large", "request body over", 2 },
	{ 501, "bad_request", "method not supported", 0 },
};

static void
hconn_page_replace(struct hconn *hc, struct evbuffer *out)
{
	static const char	 html[] = "<HTML><HEAD>\n<TITLE>";
	struct evbuffer_ptr	 pos, end;
	struct evbuffer		*keep;
	const char		*names[8], *values[8], *cl;
	char			 head[1024], start[sizeof html - 1], *body;
	char			 message[128];
	size_t			 have, hlen, blen, k;
	int			 i, n, status;

	have = evbuffer_get_length(out) - hc->page_at;
	if (evbuffer_ptr_set(out, &pos, hc->page_at, EVBUFFER_PTR_SET) != 0)
		goto not_a_page;
	end = evbuffer_search(out, "\r\n\r\n", 4, &pos);
	if (end.pos < 0)
		return;		/* more headers to come */
	hlen = (size_t)end.pos + 4 - hc->page_at;
	if (hlen >= sizeof head ||
	    evbuffer_copyout_from(out, &pos, head, hlen) != (ev_ssize_t)hlen)
		goto not_a_page;
	head[hlen] = '\0';
	if ((cl = strstr(head, "\r\nContent-Length: ")) == NULL)
		goto not_a_page;
	blen = strtoul(cl + 18, NULL, 10);
	if (have < hlen + blen)
		return;		/* more body to come */
	if (blen < sizeof start ||
	    evbuffer_ptr_set(out, &pos, hc->page_at + hlen,
	    EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_copyout_from(out, &pos, start, sizeof start) !=
	    (ev_ssize_t)sizeof start ||
	    memcmp(start, html, sizeof start) != 0)
		goto not_a_page;
	status = atoi(head + 9);
	for (k = 0; k < nitems(evhttp_pages); k++)
		if (evhttp_pages[k].status == status)
			break;
	if (k == nitems(evhttp_pages))
		goto not_a_page;
	if (evhttp_pages[k].limit == 0)
		strlcpy_mf(message, evhttp_pages[k].message, sizeof message);
	else
		snprintf(message, sizeof message, "%s %zu bytes",
		    evhttp_pages[k].message, evhttp_pages[k].limit == 2 ?
		    server.cfg.http_max_body : server.cfg.http_max_header);
	body = xasprintf("{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
	    evhttp_pages[k].code, message);
	log_warn("http: answering %d %s: %s", status, evhttp_pages[k].code,
	    body);

	/* What was queued before the page stays; the page goes. */
	hc->page = 2;
	keep = evbuffer_new();
	evbuffer_remove_buffer(out, keep, hc->page_at);
	evbuffer_drain(out, evbuffer_get_length(out));
	evbuffer_add_buffer(out, keep);
	evbuffer_free(keep);
	evbuffer_add_printf(out, "%.8s %d %s\r\n", head, status,
	    status_reason(status));
	n = security_header_list(1, names, values);
	for (i = 0; i < n; i++)
		evbuffer_add_printf(out, "%s: %s\r\n", names[i], values[i]);
	/* evhttp closes the connection after its page, as it said. */
	evbuffer_add_printf(out, "Content-Type: application/json; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    strlen(body), body);
	free(body);
not_a_page:
	hc->page = 0;
}

static void
hconn_out_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct hconn		*hc = arg;
	struct evbuffer_ptr	 pos;
	char			 line[13];

	/* Our own answers, and our rewriting, pass untouched. */
	if (hc->answering || hc->page == 2)
		return;
	if (hc->page == 1) {
		/* Sending takes from the front. */
		hc->page_at -= info->n_deleted < hc->page_at ?
		    info->n_deleted : hc->page_at;
		if (info->n_added > 0)
			hconn_page_replace(hc, out);
		return;
	}
	/* A status line: evhttp adds it in one piece. */
	if (info->n_added < sizeof line || info->n_deleted > 0 ||
	    evbuffer_ptr_set(out, &pos, info->orig_size, EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_copyout_from(out, &pos, line, sizeof line) !=
	    (ev_ssize_t)sizeof line ||
	    memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' || line[12] != ' ')
		return;
	hc->page = 1;
	hc->page_at = info->orig_size;
	hconn_page_replace(hc, out);
}

static struct bufferevent *
http_bev_cb(struct event_base *base, void *arg)
{
	struct hconn	*hc;
	struct timeval	 zero = { 0, 0 };

	(void)arg;
	hc = xcalloc(1, sizeof *hc);
	/* Without BEV_OPT_CLOSE_ON_FREE evhttp closes the socket itself
	 * when it frees the connection, whatever our reference. */
	hc->bev = bufferevent_socket_new(base, -1, 0);
	if (hc->bev == NULL) {
		free(hc);
		return NULL;
	}
	bufferevent_incref(hc->bev);
	hc->out_cb = evbuffer_add_cb(bufferevent_get_output(hc->bev),
	    hconn_out_cb, hc);
	hc->refused = nhconns >= server.cfg.http_max_conns || server.draining;
	hc->adopt = evtimer_new(base, hconn_adopt_cb, hc);
	hc->deadline = evtimer_new(base, hconn_deadline_cb, hc);
	TAILQ_INSERT_TAIL(&hconns, hc, entry);
	nhconns++;
	evtimer_add(hc->adopt, &zero);
	hconn_arm(hc, server.cfg.http_request_deadline);
	return hc->bev;
}

static struct hconn *
hconn_find(struct evhttp_connection *evcon)
{
	struct bufferevent	*bev = evhttp_connection_get_bufferevent(evcon);
	struct hconn		*hc;

	/* Newest first: an address evhttp reused is the latest connection's. */
	TAILQ_FOREACH_REVERSE(hc, &hconns, hconn_list, entry) {
		if (hc->evcon == evcon)
			return hc;
		/* Its bufferevent's argument is evcon: adopting keeps hc. */
		if (hc->evcon == NULL && hc->bev == bev)
			return hconn_adopt(hc) == 0 && hc->evcon == evcon ? hc : NULL;
	}
	return NULL;
}

static void
hconn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hconn	*hc = arg;
	struct hreq	*h, *next;

	for (h = TAILQ_FIRST(&hreqs); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->hc != hc)
			continue;
		h->hc = NULL;
		/* Still on the connection: evhttp frees it with the connection.
		 * Detached (the peer left mid-request): ours to finish. */
		if (h->req != NULL && evhttp_request_get_connection(h->req) == evcon)
			h->req = NULL;
		if (h->stream) {
			if (h->req != NULL)
				evhttp_send_reply_end(h->req);
			h->req = NULL;
			hreq_free(h);
		}
	}
	evbuffer_remove_cb_entry(bufferevent_get_output(hc->bev), hc->out_cb);
	hconn_free(hc);
}

/* The reply went out: the next request on this connection has the whole
 * deadline again. */
static void
http_complete_cb(struct evhttp_request *req, void *arg)
{
	struct hconn	*hc = arg;

	(void)req;
	hc->answering = 0;
	if (!hc->cut)
		hconn_arm(hc, server.cfg.http_request_deadline);
}

/* --- requests --- */

static void
hreq_free(struct hreq *h)
{
	TAILQ_REMOVE(&hreqs, h, entry);
	if (h->keepalive != NULL)
		event_free(h->keepalive);
	if (h->session != NULL)
		session_unref(h->session);
	if (h->conn != NULL) {
		h->conn->sink_arg = NULL;
		conn_drop(h->conn, "http request done");
	}
	free(h);
}

static const char *
status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 423: return "Locked";
	case 429: return "Too Many Requests";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static int
status_for_code(const char *code)
{
	static const struct { const char *code; int status; } map[] = {
		{ "bad_request", 400 }, { "unauthenticated", 401 },
		{ "forbidden", 403 }, { "not_found", 404 }, { "conflict", 409 },
		{ "too_large", 413 }, { "locked", 423 }, { "rate_limited", 429 },
		{ "unavailable", 503 }, { "internal", 500 },
	};
	size_t	i;

	for (i = 0; i < nitems(map); i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	return 500;
}

/*
 * evhttp queues a reply and writes it when the socket next polls writable:
 * a loop turn and two epoll_ctl calls per request. Written here at once
 * (what the kernel takes), and evhttp told, from the deferred queue, that
 * its buffer drained, the changelist sees the write event come and go in
 * the same turn and nothing reaches epoll. What the kernel does not take
 * is left to the bufferevent as usual.
 */
static void
http_flush_now(struct evhttp_connection *evcon)
{
	struct bufferevent	*bev;
	struct evbuffer		*out;
	evutil_socket_t		 fd;

	if (evcon == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(evcon);
	out = bufferevent_get_output(bev);
	if ((fd = bufferevent_getfd(bev)) < 0)
		return;
	while (evbuffer_get_length(out) > 0)
		if (evbuffer_write(out, fd) <= 0)
			return;
	bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

/* evhttp_send_reply, then the write now. */
static void
http_reply(struct evhttp_request *req, int status, struct evbuffer *buf)
{
	struct evhttp_connection	*evcon = evhttp_request_get_connection(req);

	evhttp_send_reply(req, status, status_reason(status), buf);
	http_flush_now(evcon);
}

static void
http_send(struct hreq *h, int status, const char *type, const char *body,
    size_t len)
{
	struct evbuffer	*buf;

	if (h->req != NULL) {
		buf = evbuffer_new();
		evbuffer_add(buf, body, len);
		if (type != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(h->req),
			    "Content-Type", type);
		http_reply(h->req, status, buf);
		evbuffer_free(buf);
		h->req = NULL;
	}
	hreq_free(h);
}

/* Sends a JSON body (the reference is stolen) and ends the request. */
static void
http_send_json(struct hreq *h, int status, json_t *body)
{
	char	*text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (text == NULL) {
		text = xstrdup("{\"error\":{\"code\":\"internal\","
		    "\"message\":\"cannot encode the result\"}}");
		status = 500;
	}
	http_send(h, status, h->fhir ? "application/fhir+json; charset=utf-8" :
	    "application/json; charset=utf-8", text, strlen(text));
	free(text);
}

static void
http_send_error(struct hreq *h, const char *code, const char *message,
    int64_t retry_after)
{
	char	 num[32];
	int	 status = status_for_code(code);

	if (retry_after > 0 && h->req != NULL) {
		snprintf(num, sizeof num, "%lld", (long long)retry_after);
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Retry-After", num);
	}
	if (h->fhir)
		http_send_json(h, status, http_fhir_outcome(code, message));
	else
		http_send_json(h, status, json_pack("{s:{s:s,s:s}}", "error",
		    "code", code, "message", message));
}

/* --- headers, cookies, the client's address --- */

static const char *
cookie_name(const char *base)
{
	static char	 buf[2][32];
	static int	 i;

	if (!server.cfg.http_tls)
		return base;
	i = !i;
	snprintf(buf[i], sizeof buf[i], "__Host-%s", base);
	return buf[i];
}

/* The value of cookie name in the Cookie header, in place (*lenp bytes);
 * or NULL. */
static const char *
cookie_find(struct evhttp_request *req, const char *name, size_t *lenp)
{
	const char	*hdr, *p, *end;
	size_t		 n = strlen(name);

	hdr = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	if (hdr == NULL)
		return NULL;
	for (p = hdr; *p != '\0'; p = *end == ';' ? end + 1 : end) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			*lenp = end - p - n - 1;
			return p + n + 1;
		}
	}
	return NULL;
}

/* The value of cookie name in the Cookie header, copied; or NULL. */
static char *
cookie_get(struct evhttp_request *req, const char *name)
{
	const char	*v;
	size_t		 len;

	if ((v = cookie_find(req, name, &len)) == NULL)
		return NULL;
	return xstrndup(v, len);
}

static void
set_cookie(struct evhttp_request *req, const char *name, const char *value,
    int http_only, int64_t max_age)
{
	char	*v, age[40] = "";

	if (max_age >= 0)
		snprintf(age, sizeof age, "; Max-Age=%lld", (long long)max_age);
	v = xasprintf("%s=%s; Path=/; SameSite=Strict%s%s%s",
	    cookie_name(name), value, http_only ? "; HttpOnly" : "",
	    server.cfg.http_tls ? "; Secure" : "", age);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", v);
	free(v);
}

static int
addr_is_loopback(const char *addr)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

static int
addr_valid(const char *addr)
{
	unsigned char	buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, addr, buf) == 1 ||
	    inet_pton(AF_INET6, addr, buf) == 1;
}

/* The client: the peer, or the last X-Forwarded-For hop when the peer is
 * the trusted proxy (the hop that proxy itself appended). */
static void
client_addr(struct hreq *h)
{
	struct evhttp_connection	*evcon;
	const char			*xff, *last;
	char				*peer = NULL, hop[64];
	ev_uint16_t			 port;
	size_t				 n;

	strlcpy_mf(h->addr, "unknown", sizeof h->addr);
	if ((evcon = evhttp_request_get_connection(h->req)) == NULL)
		return;
	evhttp_connection_get_peer(evcon, &peer, &port);
	if (peer != NULL)
		strlcpy_mf(h->addr, peer, sizeof h->addr);
	if (strncmp(h->addr, "::ffff:", 7) == 0 && strchr(h->addr + 7, '.'))
		memmove(h->addr, h->addr + 7, strlen(h->addr + 7) + 1);
	if (server.cfg.http_trusted_proxy != NULL &&
	    strcmp(h->addr, server.cfg.http_trusted_proxy) == 0 &&
	    (xff = evhttp_find_header(evhttp_request_get_input_headers(h->req),
	    "X-Forwarded-For")) != NULL) {
		last = strrchr(xff, ',');
		last = last != NULL ? last + 1 : xff;
		while (*last == ' ' || *last == '\t')
			last++;
		n = strcspn(last, " \t");
		if (n > 0 && n < sizeof hop) {
			memcpy(hop, last, n);
			hop[n] = '\0';
			if (addr_valid(hop))
				strlcpy_mf(h->addr, hop, sizeof h->addr);
		}
	}
	h->is_local = addr_is_loopback(h->addr);
}

static int
origin_allowed(const char *origin)
{
	const char	*p = server.cfg.http_cors_origins;
	size_t		 n = strlen(origin), len;

	if (p == NULL)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len == n && len > 0 && strncmp(p, origin, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/*
 * The Date header, formatted once a second: evhttp would format it for
 * every response. Wall time (as evhttp's own), never the test clock.
 */
static const char *
http_date(void)
{
	static const char	 days[7][4] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char	 months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static char		 date[40];
	static time_t		 last = -1;
	time_t			 t = time(NULL);
	struct tm		 tm;

	if (t != last && gmtime_r(&t, &tm) != NULL) {
		snprintf(date, sizeof date, "%s, %02d %s %d %02d:%02d:%02d GMT",
		    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		last = t;
	}
	return date;
}

/* The headers every response carries; api: those of /api and /fhir too.
 * Returns how many it put in names and values (at most 7). */
static int
security_header_list(int api, const char **names, const char **values)
{
	int	n = 0;

	names[n] = "Date";
	values[n++] = http_date();
	names[n] = "Content-Security-Policy";
	values[n++] = csp;
	names[n] = "X-Content-Type-Options";
	values[n++] = "nosniff";
	names[n] = "Referrer-Policy";
	values[n++] = "no-referrer";
	names[n] = "X-Frame-Options";
	values[n++] = "DENY";
	if (api) {
		names[n] = "Cache-Control";
		values[n++] = "no-store";
	}
	if (server.cfg.http_tls) {
		names[n] = "Strict-Transport-Security";
		values[n++] = "max-age=31536000; includeSubDomains";
	}
	return n;
}

static void
security_headers(struct evhttp_request *req, int api)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	const char		*names[8], *values[8];
	int			 i, n;

	n = security_header_list(api, names, values);
	for (i = 0; i < n; i++)
		evhttp_add_header(out, names[i], values[i]);
}

static int
method_unsafe(enum evhttp_cmd_type m)
{
	return m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT ||
	    m == EVHTTP_REQ_PATCH || m == EVHTTP_REQ_DELETE;
}

/* --- static files --- */

static void
http_static(struct hreq *h, const char *path)
{
	const struct web_asset	*a = web_asset_find(path);
	const char		*inm, *etag;
	struct evkeyvalq	*in, *out;
	int			 gz;

	if (a == NULL) {
		http_send_error(h, "not_found", "no such page", 0);
		return;
	}
	in = evhttp_request_get_input_headers(h->req);
	out = evhttp_request_get_output_headers(h->req);
	/*
	 * The gzip form (made at build time) to clients that take it. The
	 * two forms are two representations: each has its own ETag, and
	 * Vary tells caches to keep them apart.
	 */
	gz = a->gz != NULL &&
	    http_accepts_gzip(evhttp_find_header(in, "Accept-Encoding"));
	etag = gz ? a->gz_etag : a->etag;
	if (a->gz != NULL)
		evhttp_add_header(out, "Vary", "Accept-Encoding");
	evhttp_add_header(out, "ETag", etag);
	evhttp_add_header(out, "Cache-Control", "no-cache");
	inm = evhttp_find_header(in, "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0) {
		evhttp_send_reply(h->req, 304, "Not Modified", NULL);
		h->req = NULL;
		hreq_free(h);
		return;
	}
	if (gz) {
		evhttp_add_header(out, "Content-Encoding", "gzip");
		http_send(h, 200, a->mime, (const char *)a->gz, a->gz_len);
	} else
		http_send(h, 200, a->mime, (const char *)a->data, a->len);
}

/* --- dispatch through the op table --- */

/* The live session a cookie names, or NULL; borrowed (the cache holds it). */
static struct session *
session_for_cookie(const char *token)
{
	unsigned char	 key[crypto_generichash_BYTES];
	struct session	*s;
	size_t		 i;

	crypto_generichash(key, sizeof key, (const unsigned char *)token,
	    strlen(token), NULL, 0);
	i = (key[0] | (size_t)key[1] << 8) % SESSION_SLOTS;
	if ((s = session_slots[i].s) != NULL &&
	    sodium_memcmp(session_slots[i].key, key, sizeof key) == 0) {
		if (!s->revoked)
			return s;
		session_slots[i].s = NULL;
		session_unref(s);
	}
	if ((s = session_resume(token, clock_now())) == NULL)
		return NULL;
	if (session_slots[i].s != NULL)
		session_unref(session_slots[i].s);
	memcpy(session_slots[i].key, key, sizeof key);
	session_slots[i].s = s;
	session_ref(s);
	return s;
}

static void
csrf_token(char *out, size_t len)
{
	unsigned char	raw[CSRF_BYTES];
	unsigned char	nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };
	uint64_t	n = ++csrf_counter;

	memcpy(nonce, &n, sizeof n);
	crypto_stream_chacha20_ietf(raw, sizeof raw, nonce, csrf_key);
	token_encode(raw, out, len);
}

/*
 * Reply text is built here, then handed to evhttp in one evbuffer_add: an
 * evbuffer_add per JSON token costs more than the formatting. The buffer
 * is kept between replies; each use starts and ends without calling out.
 */
struct jbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};
static struct jbuf	 jb;
static msgpack_sbuffer	 frame_sb;	/* http_dispatch's, kept likewise */

static void
jb_grow(struct jbuf *b, size_t n)
{
	while (b->cap - b->len < n)
		b->cap = b->cap != 0 ? b->cap * 2 : 4096;
	b->p = xrealloc(b->p, b->cap);
}

static inline void
jb_add(struct jbuf *b, const void *s, size_t n)
{
	if (b->cap - b->len < n)
		jb_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Decimal text, without printf's cost (ids and times on every reply). */
static void
jb_add_u64(struct jbuf *b, uint64_t v, int negative)
{
	char	 num[24], *p = num + sizeof num;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (negative)
		*--p = '-';
	jb_add(b, p, (size_t)(num + sizeof num - p));
}

/* Bytes a JSON string cannot carry as they are: controls, '"', '\\', and
 * (checked apart) those of multibyte UTF-8. */
static const unsigned char json_special[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 2,
};

/* A JSON string. Stored text is valid UTF-8; anything else is replaced. */
static void
jb_str(struct jbuf *b, const unsigned char *p, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, run;
	int			 valid = -1;	/* checked once, if ever needed */

	jb_add(b, "\"", 1);
	for (i = 0; i < n; i += run) {
		for (run = 0; i + run < n && json_special[p[i + run]] == 0; run++)
			;
		if (run > 0) {
			jb_add(b, p + i, run);
			continue;
		}
		if (json_special[p[i]] == 2) {
			if (valid < 0)
				valid = utf8_valid((const char *)p, n);
			if (valid) {
				for (run = 0; i + run < n && p[i + run] >= 0x80; run++)
					;
				jb_add(b, p + i, run);
			} else {
				jb_add(b, "\\ufffd", 6);
				run = 1;
			}
			continue;
		}
		run = 1;
		if (p[i] == '"')
			jb_add(b, "\\\"", 2);
		else if (p[i] == '\\')
			jb_add(b, "\\\\", 2);
		else if (p[i] == '\n')
			jb_add(b, "\\n", 2);
		else if (p[i] == '\t')
			jb_add(b, "\\t", 2);
		else if (p[i] == '\r')
			jb_add(b, "\\r", 2);
		else {
			char	esc[6] = { '\\', 'u', '0', '0',
			    hex[p[i] >> 4], hex[p[i] & 15] };

			jb_add(b, esc, sizeof esc);
		}
	}
	jb_add(b, "\"", 1);
}

/* Writes a msgpack object as JSON text: the reply's result goes out
 * without building a jansson tree first. */
static void
mp_write_json(struct jbuf *b, const msgpack_object *o)
{
	char		 num[32], *s;
	size_t		 n, run;
	uint32_t	 k;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		jb_add(b, "null", 4);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		if (o->via.boolean)
			jb_add(b, "true", 4);
		else
			jb_add(b, "false", 5);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		jb_add_u64(b, o->via.u64, 0);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		/* Negated as unsigned: INT64_MIN has no positive int64. */
		jb_add_u64(b, 0 - (uint64_t)o->via.i64, 1);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (o->via.f64 != o->via.f64 || o->via.f64 > 1e308 ||
		    o->via.f64 < -1e308)
			jb_add(b, "null", 4);
		else {
			n = (size_t)snprintf(num, sizeof num, "%.17g", o->via.f64);
			jb_add(b, num, n);
		}
		break;
	case MSGPACK_OBJECT_STR:
		jb_str(b, (const unsigned char *)o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		n = sodium_base64_encoded_len(o->via.bin.size,
		    sodium_base64_VARIANT_ORIGINAL);
		s = xmalloc(n);
		sodium_bin2base64(s, n, (const unsigned char *)o->via.bin.ptr,
		    o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
		jb_add(b, "\"", 1);
		jb_add(b, s, strlen(s));
		jb_add(b, "\"", 1);
		free(s);
		break;
	case MSGPACK_OBJECT_ARRAY:
		jb_add(b, "[", 1);
		for (k = 0; k < o->via.array.size; k++) {
			if (k > 0)
				jb_add(b, ",", 1);
			mp_write_json(b, &o->via.array.ptr[k]);
		}
		jb_add(b, "]", 1);
		break;
	case MSGPACK_OBJECT_MAP:
		jb_add(b, "{", 1);
		for (k = 0, run = 0; k < o->via.map.size; k++) {
			const msgpack_object_kv	*kv = &o->via.map.ptr[k];

			if (kv->key.type != MSGPACK_OBJECT_STR)
				continue;
			if (run++ > 0)
				jb_add(b, ",", 1);
			jb_str(b, (const unsigned char *)kv->key.via.str.ptr,
			    kv->key.via.str.size);
			jb_add(b, ":", 1);
			mp_write_json(b, &kv->val);
		}
		jb_add(b, "}", 1);
		break;
	default:
		jb_add(b, "null", 4);
		break;
	}
}

static void
http_dispatch(struct hreq *h, const char *op, json_t *args, struct session *s)
{
	msgpack_sbuffer	*sb = &frame_sb;
	msgpack_packer	 pk;
	char		*frame;

	h->conn = conn_new_virtual(h->addr, h->is_local, http_api_sink, h, 0);
	if (s != NULL)
		conn_set_session(h->conn, s);
	/* Packed in a buffer kept between requests and copied out at its
	 * size: a fresh sbuffer is an 8 KiB malloc for a frame of tens of
	 * bytes. Dispatch owns (and frees) the copy. */
	sb->size = 0;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, 1);
	mp_pack_kv_str(&pk, "op", op);
	mp_pack_str(&pk, "args");
	json_to_msgpack(args, &pk);
	frame = xmalloc(sb->size);
	memcpy(frame, sb->data, sb->size);
	/* h may be gone when this returns: the reply can come at once. */
	ops_dispatch(h->conn, (unsigned char *)frame, sb->size);
}

static void
http_render(struct hreq *h, json_t *result, struct session *s)
{
	const struct http_route	*rt = h->route;
	json_t			*token, *v;
	char			*ics;

	switch (rt->render) {
	case RENDER_LOGIN:
		token = json_object_get(result, "token");
		if (h->req != NULL && json_is_string(token) && s != NULL)
			set_cookie(h->req, "mf_session", json_string_value(token),
			    1, s->expires_at - clock_now());
		json_object_del(result, "token");
		break;
	case RENDER_LOGOUT:
		if (h->req != NULL)
			set_cookie(h->req, "mf_session", "", 1, 0);
		break;
	case RENDER_ICS:
		v = json_object_get(result, "appointment");
		ics = http_render_ics(v, clock_now());
		if (h->req != NULL) {
			char	*cd = xasprintf("attachment; filename="
			    "\"appointment-%lld.ics\"", (long long)json_integer_value(
			    json_object_get(v, "id")));

			evhttp_add_header(evhttp_request_get_output_headers(h->req),
			    "Content-Disposition", cd);
			free(cd);
		}
		http_send(h, 200, "text/calendar; charset=utf-8", ics, strlen(ics));
		free(ics);
		json_decref(result);
		return;
	case RENDER_FHIR_PATIENT:
		v = http_fhir_patient(json_object_get(result, "patient"));
		json_decref(result);
		http_send_json(h, 200, v);
		return;
	case RENDER_FHIR_APPTS:
		v = http_fhir_appointments(json_object_get(result, "appointments"));
		json_decref(result);
		http_send_json(h, 200, v);
		return;
	default:
		break;
	}
	http_send_json(h, (rt->flags & ROUTE_CREATED) ? 201 : 200, result);
}

static void
http_send_result(struct hreq *h, const msgpack_object *res)
{
	int		 status = (h->route->flags & ROUTE_CREATED) ? 201 : 200;

	if (h->req != NULL) {
		/* Straight into the request's own buffer: evhttp moves it
		 * to the connection without a copy. */
		jb.len = 0;
		if (res != NULL && res->type == MSGPACK_OBJECT_MAP)
			mp_write_json(&jb, res);
		else
			jb_add(&jb, "{}", 2);
		evbuffer_add(evhttp_request_get_output_buffer(h->req), jb.p, jb.len);
		evhttp_add_header(evhttp_request_get_output_headers(h->req),
		    "Content-Type", "application/json; charset=utf-8");
		http_reply(h->req, status, NULL);
		h->req = NULL;
	}
	hreq_free(h);
}

/* --- file downloads --- */

/* Ends a stream (a download or SSE) and frees h. */
static void
http_stream_end(struct hreq *h)
{
	struct evhttp_request	*req = h->req;

	/* Ending may close the connection at once: its close callback
	 * must not free h a second time. */
	h->hc = NULL;
	h->req = NULL;
	if (req != NULL)
		evhttp_send_reply_end(req);
	hreq_free(h);
}

static void
http_file_end(struct hreq *h)
{
	http_stream_end(h);
}

/* The last chunk left: fetch the next one. */
static void
http_file_more_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hreq	*h = arg;
	json_t		*args;

	(void)evcon;
	if (h->req == NULL || h->session == NULL) {
		http_file_end(h);
		return;
	}
	args = json_pack("{s:I, s:I}", "file_id", (json_int_t)h->file_id,
	    "offset", (json_int_t)h->file_offset);
	http_dispatch(h, "files.get", args, h->session);
	json_decref(args);
}

/* A quoted-string-safe file name for Content-Disposition: what is not
 * printable ASCII, or is a quote or backslash, becomes '_'. */
static char *
safe_filename(const msgpack_object *o)
{
	char	*s;
	size_t	 i, n = o != NULL && o->type == MSGPACK_OBJECT_STR ?
	    o->via.str.size : 0;

	if (n == 0)
		return xstrdup("download");
	s = xstrndup(o->via.str.ptr, n);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '"' || s[i] == '\\')
			s[i] = '_';
	return s;
}

static void
http_file_chunk(struct hreq *h, const msgpack_object *res)
{
	const msgpack_object	*bytes, *total, *mime;
	struct evkeyvalq	*out;
	struct evbuffer		*buf;
	int64_t			 size = 0;
	char			*v, *name;

	bytes = res != NULL ? mp_map_get(res, "bytes") : NULL;
	total = res != NULL ? mp_map_get(res, "total") : NULL;
	mime = res != NULL ? mp_map_get(res, "mime") : NULL;
	if (bytes == NULL || bytes->type != MSGPACK_OBJECT_BIN || total == NULL ||
	    mp_int(total, &size) != 0) {
		if (h->stream)
			http_file_end(h);
		else
			http_send_error(h, "internal", "bad files.get result", 0);
		return;
	}
	if (h->req == NULL) {
		hreq_free(h);
		return;
	}
	if (!h->stream) {
		out = evhttp_request_get_output_headers(h->req);
		if (mime != NULL && mime->type == MSGPACK_OBJECT_STR &&
		    mp_str_eq(mime, "text/plain"))
			evhttp_add_header(out, "Content-Type",
			    "text/plain; charset=utf-8");
		else if (mime != NULL && mime->type == MSGPACK_OBJECT_STR &&
		    (mp_str_eq(mime, "application/pdf") ||
		    mp_str_eq(mime, "image/png") || mp_str_eq(mime, "image/jpeg"))) {
			v = xstrndup(mime->via.str.ptr, mime->via.str.size);
			evhttp_add_header(out, "Content-Type", v);
			free(v);
		} else
			evhttp_add_header(out, "Content-Type",
			    "application/octet-stream");
		v = xasprintf("%lld", (long long)size);
		evhttp_add_header(out, "Content-Length", v);
		free(v);
		name = safe_filename(mp_map_get(res, "name"));
		v = xasprintf("attachment; filename=\"%s\"", name);
		evhttp_add_header(out, "Content-Disposition", v);
		free(v);
		free(name);
		h->stream = 1;
		evhttp_send_reply_start(h->req, 200, "OK");
	}
	h->file_offset += bytes->via.bin.size;
	if (bytes->via.bin.size == 0 || h->file_offset >= size) {
		if (bytes->via.bin.size > 0) {
			buf = evbuffer_new();
			evbuffer_add(buf, bytes->via.bin.ptr, bytes->via.bin.size);
			evhttp_send_reply_chunk(h->req, buf);
			evbuffer_free(buf);
		}
		http_file_end(h);
		return;
	}
	buf = evbuffer_new();
	evbuffer_add(buf, bytes->via.bin.ptr, bytes->via.bin.size);
	/* The next chunk is fetched once this one has left: a slow reader
	 * holds one chunk, not the file. */
	evhttp_send_reply_chunk_with_cb(h->req, buf, http_file_more_cb, h);
	evbuffer_free(buf);
}

/* --- Server-Sent Events --- */

static void
http_sse_write(struct hreq *h, const char *text, size_t len)
{
	struct evhttp_connection	*evcon;
	struct evbuffer			*buf;
	size_t				 queued;

	if (h->req == NULL || h->hc == NULL || h->hc->cut)
		return;
	buf = evbuffer_new();
	evbuffer_add(buf, text, len);
	evhttp_send_reply_chunk(h->req, buf);
	evbuffer_free(buf);
	if ((evcon = evhttp_request_get_connection(h->req)) == NULL)
		return;
	queued = evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evcon)));
	if (queued > server.cfg.out_high_water) {
		/* A reader that does not read is cut off, as on TCP. The
		 * connection is freed from a timer, not from inside a push. */
		log_warn("http: %s: event stream over %zu bytes, dropping slow "
		    "reader", h->addr, server.cfg.out_high_water);
		h->hc->cut = 1;
		h->conn->sink_arg = NULL;
		conn_drop(h->conn, "slow reader");
		h->conn = NULL;
		hconn_arm(h->hc, 0);
	}
}

static void
http_sse_sink(struct conn *c, const char *body, size_t len)
{
	struct hreq		*h = c->sink_arg;
	msgpack_unpacked	 u;
	const msgpack_object	*ev, *data;
	size_t			 off = 0;

	if (h == NULL)
		return;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    (ev = mp_map_get(&u.data, "event")) != NULL &&
	    ev->type == MSGPACK_OBJECT_STR &&
	    (data = mp_map_get(&u.data, "data")) != NULL) {
		/* JSON text has no raw newline: one data line. The text is
		 * copied out of jb before anything can call back here. */
		jb.len = 0;
		jb_add(&jb, "event: ", 7);
		jb_add(&jb, ev->via.str.ptr, ev->via.str.size);
		jb_add(&jb, "\ndata: ", 7);
		mp_write_json(&jb, data);
		jb_add(&jb, "\n\n", 2);
		http_sse_write(h, jb.p, jb.len);
	}
	msgpack_unpacked_destroy(&u);
}

static void
http_sse_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hreq	*h = arg;
	struct session	*s = h->conn != NULL ? h->conn->session : NULL;
	int64_t		 now = clock_now();
	static const char ka[] = ": keepalive\n\n";

	(void)fd;
	(void)what;
	/* The stream lives as long as its session, and no longer. */
	if (s == NULL || s->revoked || now >= s->expires_at ||
	    now - s->last_seen >= server.cfg.session_idle) {
		http_stream_end(h);
		return;
	}
	http_sse_write(h, ka, sizeof ka - 1);
}

static void
http_sse_start(struct hreq *h, struct session *s)
{
	struct evkeyvalq	*out;
	struct timeval		 tv = { SSE_KEEPALIVE, 0 };
	static const char	 hello[] = "retry: 3000\n: connected\n\n";

	if (h->req == NULL || h->hc == NULL || s == NULL) {
		hreq_free(h);
		return;
	}
	out = evhttp_request_get_output_headers(h->req);
	evhttp_add_header(out, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(out, "X-Accel-Buffering", "no");
	/* The request's own connection ends; a listed one gets the events. */
	h->conn->sink_arg = NULL;
	conn_drop(h->conn, "http request done");
	h->conn = conn_new_virtual(h->addr, h->is_local, http_sse_sink, h, 1);
	conn_set_session(h->conn, s);
	h->stream = 1;
	evhttp_send_reply_start(h->req, 200, "OK");
	h->keepalive = event_new(server.base, -1, EV_PERSIST,
	    http_sse_keepalive_cb, h);
	event_add(h->keepalive, &tv);
	http_sse_write(h, hello, sizeof hello - 1);
}

/*
 * Unpacking a reply into a fresh msgpack zone costs an 8 KiB malloc and
 * free per request; the API sink keeps one zone instead. A sink that runs
 * while it is in use (a push from inside a reply) gets a zone of its own.
 */
static msgpack_zone	*sink_zone;
static int		 sink_zone_busy;

static msgpack_zone *
sink_zone_take(void)
{
	msgpack_zone	*z;

	if (!sink_zone_busy && sink_zone != NULL) {
		sink_zone_busy = 1;
		return sink_zone;
	}
	if ((z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE)) == NULL) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	if (!sink_zone_busy) {
		sink_zone = z;
		sink_zone_busy = 1;
	}
	return z;
}

static void
sink_zone_give(msgpack_zone *z)
{
	if (z != sink_zone) {
		msgpack_zone_free(z);
		return;
	}
	msgpack_zone_clear(z);
	sink_zone_busy = 0;
}

/* The op's reply, from dispatch or later (a held batch, a worker). */
static void
http_api_sink(struct conn *c, const char *body, size_t len)
{
	struct hreq		*h = c->sink_arg;
	msgpack_zone		*zone;
	msgpack_object		 reply;
	msgpack_unpack_return	 rc;
	const msgpack_object	*ok, *res, *err, *code, *msg, *retry;
	json_t			*result;
	size_t			 off = 0;
	char			*codes = NULL, *msgs = NULL;
	int64_t			 retry_after = 0;

	if (h == NULL)
		return;
	zone = sink_zone_take();
	rc = msgpack_unpack(body, len, &off, zone, &reply);
	if ((rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES) ||
	    reply.type != MSGPACK_OBJECT_MAP ||
	    mp_map_get(&reply, "event") != NULL) {
		/* Events never reach an unlisted connection. */
		sink_zone_give(zone);
		return;
	}
	c->sink_arg = NULL;
	ok = mp_map_get(&reply, "ok");
	if (h->route->render == RENDER_FILE && h->stream) {
		/* A later chunk: the headers are out, an error can only cut
		 * the body short (its Content-Length tells the client). */
		h->conn = NULL;
		conn_drop(c, "http request done");
		if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN &&
		    ok->via.boolean)
			http_file_chunk(h, mp_map_get(&reply, "result"));
		else
			http_file_end(h);
	} else if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN &&
	    ok->via.boolean && h->route->render == RENDER_FILE) {
		h->conn = NULL;
		conn_drop(c, "http request done");
		http_file_chunk(h, mp_map_get(&reply, "result"));
	} else if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN &&
	    ok->via.boolean && h->route->render == RENDER_JSON) {
		/* Most routes: the result as it is, straight to JSON text. */
		res = mp_map_get(&reply, "result");
		http_send_result(h, res);
	} else if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN &&
	    ok->via.boolean) {
		res = mp_map_get(&reply, "result");
		result = res != NULL ? msgpack_to_json(res) : json_object();
		if (!json_is_object(result)) {
			json_decref(result);
			result = json_object();
		}
		if (h->route->render == RENDER_EVENTS) {
			struct session	*s = c->session;

			/* Dropping c lets go of the session: hold it. */
			if (s != NULL)
				session_ref(s);
			http_sse_start(h, s);
			if (s != NULL)
				session_unref(s);
		} else {
			http_render(h, result, c->session);
			result = NULL;
		}
		json_decref(result);
	} else {
		err = mp_map_get(&reply, "error");
		code = err != NULL ? mp_map_get(err, "code") : NULL;
		msg = err != NULL ? mp_map_get(err, "message") : NULL;
		retry = err != NULL ? mp_map_get(err, "retry_after") : NULL;
		/* msgpack-c gives "" a NULL pointer. */
		if (code != NULL && code->type == MSGPACK_OBJECT_STR &&
		    code->via.str.size > 0)
			codes = xstrndup(code->via.str.ptr, code->via.str.size);
		if (msg != NULL && msg->type == MSGPACK_OBJECT_STR &&
		    msg->via.str.size > 0)
			msgs = xstrndup(msg->via.str.ptr, msg->via.str.size);
		if (retry != NULL)
			mp_int(retry, &retry_after);
		if (h->route->render == RENDER_LOGOUT && h->req != NULL)
			set_cookie(h->req, "mf_session", "", 1, 0);
		http_send_error(h, codes != NULL ? codes : "internal",
		    msgs != NULL ? msgs : "", retry_after);
		free(codes);
		free(msgs);
	}
	sink_zone_give(zone);
}

/* Arguments for the route: the :id, then the body or the query string. */
static json_t *
route_args(struct hreq *h, int64_t id, const char **op, const char **cause)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(h->req);
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(h->req);
	const struct http_route	*rt = h->route;
	json_error_t		 jerr;
	json_t			*args = NULL;
	size_t			 len = evbuffer_get_length(in);

	*op = rt->op;
	*cause = NULL;
	if (rt->flags & ROUTE_BODY) {
		if (len == 0)
			args = json_object();
		else {
			args = json_loadb((const char *)evbuffer_pullup(in, -1), len,
			    JSON_REJECT_DUPLICATES, &jerr);
			if (args == NULL) {
				*cause = "bad JSON in the request body";
				return NULL;
			}
			if (!json_is_object(args)) {
				json_decref(args);
				*cause = "the request body must be a JSON object";
				return NULL;
			}
		}
	} else if (rt->flags & ROUTE_QUERY) {
		args = http_query_args(evhttp_uri_get_query(uri));
		if (args == NULL) {
			*cause = "malformed query string";
			return NULL;
		}
	} else
		args = json_object();
	if (rt->flags & ROUTE_ACTION) {
		if ((*op = http_route_action(rt, args)) == NULL) {
			json_decref(args);
			*cause = "action: must be \"cancel\" or \"reschedule\"";
			return NULL;
		}
	}
	if (rt->id_arg != NULL)
		json_object_set_new(args, rt->id_arg, json_integer(id));
	return args;
}

static void
http_api(struct hreq *h, const char *path)
{
	enum evhttp_cmd_type	 m = evhttp_request_get_command(h->req);
	const char		*op, *cause, *sent;
	char			*csrf, *token;
	struct session		*s;
	json_t			*args;
	int64_t			 id;
	int			 other;

	h->route = http_route_find(m, path, &id, &other);
	if (h->route == NULL) {
		if (other)
			http_send_json(h, 405, json_pack("{s:{s:s,s:s}}", "error",
			    "code", "bad_request", "message",
			    "method not allowed on this route"));
		else
			http_send_error(h, "not_found", "no such route", 0);
		return;
	}
	if (method_unsafe(m)) {
		/* Double submit: only our own pages can read mf_csrf. */
		csrf = cookie_get(h->req, cookie_name("mf_csrf"));
		sent = evhttp_find_header(evhttp_request_get_input_headers(h->req),
		    "X-CSRF-Token");
		if (csrf == NULL || sent == NULL || strlen(csrf) != strlen(sent) ||
		    strlen(csrf) == 0 ||
		    sodium_memcmp(csrf, sent, strlen(csrf)) != 0) {
			free(csrf);
			http_send_error(h, "forbidden", "missing or wrong CSRF token", 0);
			return;
		}
		free(csrf);
	}
	if ((args = route_args(h, id, &op, &cause)) == NULL) {
		http_send_error(h, "bad_request", cause, 0);
		return;
	}
	token = cookie_get(h->req, cookie_name("mf_session"));
	s = token != NULL ? session_for_cookie(token) : NULL;
	if (h->route->render == RENDER_FILE && s != NULL) {
		h->session = s;
		session_ref(s);
		h->file_id = id;
	}
	http_dispatch(h, op, args, s);
	json_decref(args);
	if (token != NULL) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
}

static void
http_preflight(struct hreq *h, const char *origin)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(h->req);

	if (origin == NULL || !origin_allowed(origin)) {
		http_send_error(h, "forbidden", "origin not allowed", 0);
		return;
	}
	evhttp_add_header(out, "Access-Control-Allow-Methods",
	    "GET, POST, PUT, PATCH, DELETE");
	evhttp_add_header(out, "Access-Control-Allow-Headers",
	    "Content-Type, X-CSRF-Token");
	evhttp_add_header(out, "Access-Control-Max-Age", "600");
	evhttp_send_reply(h->req, 204, "No Content", NULL);
	h->req = NULL;
	hreq_free(h);
}

static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection	*evcon = evhttp_request_get_connection(req);
	const struct evhttp_uri		*uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq		*out = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type		 m = evhttp_request_get_command(req);
	struct hconn			*hc;
	struct hreq			*h;
	const char			*path, *origin;
	char				 csrf[TOKEN_TEXT_SIZE];
	size_t				 have;
	int				 api;

	(void)arg;
	hc = evcon != NULL ? hconn_find(evcon) : NULL;
	if (hc != NULL) {
		evtimer_del(hc->deadline);
		evhttp_request_set_on_complete_cb(req, http_complete_cb, hc);
		hc->answering = 1;
	}
	h = xcalloc(1, sizeof *h);
	h->req = req;
	h->hc = hc;
	TAILQ_INSERT_TAIL(&hreqs, h, entry);
	client_addr(h);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";
	api = strncmp(path, "/api/", 5) == 0 || strncmp(path, "/fhir/", 6) == 0;
	h->fhir = strncmp(path, "/fhir/", 6) == 0;
	security_headers(req, api);
	if (hc == NULL || hc->refused || server.draining) {
		evhttp_add_header(out, "Connection", "close");
		http_send_error(h, "unavailable", "too many connections", 0);
		return;
	}
	origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
	if (origin != NULL && origin_allowed(origin)) {
		evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
		evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
		evhttp_add_header(out, "Vary", "Origin");
	}
	/*
	 * The CSRF cookie goes to a client without one that will need it:
	 * the page (any response off /api and /fhir: its script makes the
	 * unsafe calls), and an unsafe request, which is refused without it
	 * and can then try again. A GET or HEAD to the API never needs the
	 * token, so minting one there only costs cookieless clients.
	 */
	if ((!api || method_unsafe(m)) &&
	    cookie_find(req, cookie_name("mf_csrf"), &have) == NULL) {
		csrf_token(csrf, sizeof csrf);
		set_cookie(req, "mf_csrf", csrf, 0, -1);
	}
	if (m == EVHTTP_REQ_OPTIONS) {
		http_preflight(h, origin);
		return;
	}
	if (api) {
		http_api(h, path);
		return;
	}
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		http_send_json(h, 405, json_pack("{s:{s:s,s:s}}", "error", "code",
		    "bad_request", "message", "method not allowed"));
		return;
	}
	http_static(h, path);
}

/* --- listener --- */

int
http_listen(const char *hostport, char **cause)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_storage		 ss;
	socklen_t			 slen = sizeof ss;
	char				*host, *colon, *end;
	long				 port;

	host = xstrdup(hostport);
	if ((colon = strrchr(host, ':')) == NULL) {
		*cause = xasprintf("bad HTTP address: %s", hostport);
		free(host);
		return -1;
	}
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535 || end == colon + 1) {
		*cause = xasprintf("bad HTTP address: %s", hostport);
		free(host);
		return -1;
	}
	/* "[::1]:8080" */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	crypto_stream_chacha20_ietf_keygen(csrf_key);
	if ((http = evhttp_new(server.base)) == NULL) {
		*cause = xstrdup("cannot create the HTTP server");
		free(host);
		return -1;
	}
	evhttp_set_max_headers_size(http, (ev_ssize_t)server.cfg.http_max_header);
	evhttp_set_max_body_size(http, (ev_ssize_t)server.cfg.http_max_body);
	evhttp_set_timeout(http, server.cfg.http_request_deadline);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
	evhttp_set_bevcb(http, http_bev_cb, NULL);
	evhttp_set_gencb(http, http_request_cb, NULL);
	bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	free(host);
	if (bs == NULL) {
		*cause = xasprintf("cannot listen for HTTP on %s", hostport);
		evhttp_free(http);
		http = NULL;
		return -1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &slen) == 0)
		bound_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void
http_shutdown(void)
{
	struct hreq	*h;
	struct hconn	*hc, *next;
	size_t		 i;

	if (http == NULL)
		return;
	/* Connections not adopted yet: learn of them, so the close
	 * callbacks free them with evhttp's connections. */
	for (hc = TAILQ_FIRST(&hconns); hc != NULL; hc = next) {
		next = TAILQ_NEXT(hc, entry);
		(void)hconn_adopt(hc);
	}
	evhttp_free(http);
	http = NULL;
	while ((h = TAILQ_FIRST(&hreqs)) != NULL) {
		/* Detached requests (their peer left) are still ours. */
		if (h->req != NULL)
			evhttp_request_free(h->req);
		h->req = NULL;
		hreq_free(h);
	}
	for (i = 0; i < SESSION_SLOTS; i++) {
		if (session_slots[i].s != NULL)
			session_unref(session_slots[i].s);
		session_slots[i].s = NULL;
	}
	sodium_memzero(csrf_key, sizeof csrf_key);
	free(jb.p);
	memset(&jb, 0, sizeof jb);
	msgpack_sbuffer_destroy(&frame_sb);
	memset(&frame_sb, 0, sizeof frame_sb);
	if (sink_zone != NULL)
		msgpack_zone_free(sink_zone);
	sink_zone = NULL;
}
