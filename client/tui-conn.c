/* tui-conn.c -- the screens' connection to mediflowd on the libevent loop:
 * the secure channel and its key pin, frames, request ids with a callback
 * each, push events, reconnecting with backoff and resuming the session
 * with its token.
 *
 * Every byte the screens send or receive passes through here. Unless
 * --plain, each connection first runs the channel's handshake (see "Secure
 * channel" in protocol.md) without blocking: our hello out; the server's
 * answer in; its key checked against the pin (asking the user about a
 * first key); only then our Hc2s and the first request. Records are opened
 * into tc.opened before framing and frames sealed on their way out. */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "channel.h"
#include "client.h"
#include "frame.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "tui.h"
#include "util.h"

/* Pauses between attempts after the connection drops, in milliseconds. */
static const int retry_ms[] = { 300, 1000, 2000, 3000, 5000 };

struct tconn_req {
	uint64_t		 id;
	char			*op;
	char			*args;		/* packed msgpack map, or NULL */
	size_t			 argslen;
	void			*owner;
	tconn_reply_fn		 fn;
	void			*arg;
	TAILQ_ENTRY(tconn_req)	 entry;
};
TAILQ_HEAD(tconn_reqs, tconn_req);

static struct {
	struct event_base		*base;
	const struct tconn_hooks	*hooks;
	char				*server;
	struct bufferevent		*bev;
	enum tconn_state		 state;
	uint64_t			 next_id;
	struct tconn_reqs		 sent;		/* awaiting replies, in order */
	struct tconn_reqs		 queued;	/* waiting for the connection */
	struct event			*retry_timer;
	struct event			*session_end_ev;
	int				 attempts;
	int64_t				 retry_at;
	char				*token;
	char				*last_error;
	int64_t				 skew;
	int64_t				 last_sent;
	int				 handshake_left;
	struct frame_limits		 limits;
	uint64_t			 generation;	/* one per connection */
	/* The secure channel; chan is NULL on the plain wire. */
	struct mfc_trust		 trust;
	struct channel			*chan;
	struct evbuffer			*opened;	/* records opened, not framed */
	unsigned char			 finish[CHANNEL_CLIENT_FINISH_MAX];
	size_t				 finish_len;	/* 0 for AES-256-GCM */
	char				 fingerprint[CHANNEL_FINGERPRINT_SIZE];
	int				 key_changed;	/* refused for good */
} tc;

static void	tconn_start(void);
static void	tconn_close(void);
static void	tconn_lost(const char *why);
static void	tconn_write(const void *, size_t);
static void	tconn_keys_begin(struct bufferevent *);
static void	tconn_keys_read(struct evbuffer *);
static void	tconn_key_verdict(int, const char *);
static void	tconn_key_refused(const char *, int);
static void	tconn_fail_all(const char *, const char *);
static int	tconn_read_frames(struct evbuffer *, uint64_t);
static void	tconn_send(struct tconn_req *);
static void	tconn_flush(void);
static void	tconn_req_free(struct tconn_req *);
static void	tconn_read_cb(struct bufferevent *, void *);
static void	tconn_event_cb(struct bufferevent *, short, void *);
static void	tconn_retry_cb(evutil_socket_t, short, void *);
static void	tconn_session_end_cb(evutil_socket_t, short, void *);
static void	tconn_dispatch(json_t *);
static void	tconn_handshake(void);
static void	tconn_hello_done(const struct tconn_reply *, void *);
static void	tconn_health_done(const struct tconn_reply *, void *);
static void	tconn_resume_done(const struct tconn_reply *, void *);
static void	tconn_handshake_step(void);
static void	tconn_set_error(const char *);

void
tconn_init(struct event_base *base, const char *server,
    const struct tconn_hooks *hooks)
{
	memset(&tc, 0, sizeof tc);
	tc.base = base;
	tc.hooks = hooks;
	tc.server = xstrdup(server);
	tc.next_id = 1;
	TAILQ_INIT(&tc.sent);
	TAILQ_INIT(&tc.queued);
	frame_limits_default(&tc.limits);
	tc.limits.max_frame = 64 * 1024 * 1024;
	tc.retry_timer = evtimer_new(base, tconn_retry_cb, NULL);
	tc.session_end_ev = event_new(base, -1, 0, tconn_session_end_cb, NULL);
	if ((tc.opened = evbuffer_new()) == NULL)
		abort();
	/* --fingerprint, MEDIFLOW_FINGERPRINT, client.conf or known_servers,
	 * as `mediflow call` decides; a first key is asked about in a dialog
	 * (key_unknown), not on the terminal curses owns. */
	client_trust_init(&tc.trust, server);
	tc.trust.ask = NULL;
}

void
tconn_free(void)
{
	struct tconn_req	*r;

	while ((r = TAILQ_FIRST(&tc.sent)) != NULL) {
		TAILQ_REMOVE(&tc.sent, r, entry);
		tconn_req_free(r);
	}
	while ((r = TAILQ_FIRST(&tc.queued)) != NULL) {
		TAILQ_REMOVE(&tc.queued, r, entry);
		tconn_req_free(r);
	}
	tconn_close();
	if (tc.opened != NULL)
		evbuffer_free(tc.opened);
	client_trust_free(&tc.trust);
	if (tc.retry_timer != NULL)
		event_free(tc.retry_timer);
	if (tc.session_end_ev != NULL)
		event_free(tc.session_end_ev);
	tconn_set_token(NULL);
	free(tc.server);
	free(tc.last_error);
	memset(&tc, 0, sizeof tc);
}

static void
tconn_req_free(struct tconn_req *r)
{
	if (r->args != NULL) {
		sodium_memzero(r->args, r->argslen);
		free(r->args);
	}
	free(r->op);
	free(r);
}

static void
tconn_set_error(const char *why)
{
	free(tc.last_error);
	tc.last_error = why != NULL ? xstrdup(why) : NULL;
}

static void
tconn_changed(void)
{
	if (tc.hooks->state != NULL)
		tc.hooks->state();
}

/* --- requests --- */

static struct tconn_req *
tconn_req_new(const char *op, void *owner, tconn_reply_fn fn, void *arg)
{
	struct tconn_req	*r = xcalloc(1, sizeof *r);

	r->op = xstrdup(op);
	r->owner = owner;
	r->fn = fn;
	r->arg = arg;
	return r;
}

static void
tconn_submit(struct tconn_req *r)
{
	if (tc.state == TCONN_READY) {
		tconn_send(r);
		return;
	}
	TAILQ_INSERT_TAIL(&tc.queued, r, entry);
	if (tc.state == TCONN_IDLE)
		tconn_start();
}

void
tconn_call(const char *op, json_t *args, void *owner, tconn_reply_fn fn, void *arg)
{
	struct tconn_req	*r = tconn_req_new(op, owner, fn, arg);
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	if (args != NULL) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		json_to_msgpack(args, &pk);
		r->args = xmalloc(sb.size ? sb.size : 1);
		memcpy(r->args, sb.data, sb.size);
		r->argslen = sb.size;
		msgpack_sbuffer_destroy(&sb);
		json_decref(args);
	}
	tconn_submit(r);
}

void
tconn_call_packed(const char *op, const char *args, size_t len, void *owner,
    tconn_reply_fn fn, void *arg)
{
	struct tconn_req	*r = tconn_req_new(op, owner, fn, arg);

	if (args != NULL && len > 0) {
		r->args = xmalloc(len);
		memcpy(r->args, args, len);
		r->argslen = len;
	}
	tconn_submit(r);
}

/* Requests already sent stay listed, without a callback, so their replies
 * still match up. */
void
tconn_cancel(void *owner)
{
	struct tconn_req	*r, *next;

	if (owner == NULL)
		return;
	TAILQ_FOREACH(r, &tc.sent, entry) {
		if (r->owner == owner) {
			r->fn = NULL;
			r->owner = NULL;
		}
	}
	for (r = TAILQ_FIRST(&tc.queued); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->owner == owner) {
			TAILQ_REMOVE(&tc.queued, r, entry);
			tconn_req_free(r);
		}
	}
}

static void
tconn_send(struct tconn_req *r)
{
	msgpack_sbuffer	 body, frame;
	msgpack_packer	 pk;

	r->id = tc.next_id++;
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, r->id);
	mp_pack_kv_str(&pk, "op", r->op);
	mp_pack_str(&pk, "args");
	if (r->args != NULL)
		msgpack_sbuffer_write(&body, r->args, r->argslen);
	else
		msgpack_pack_map(&pk, 0);
	msgpack_sbuffer_init(&frame);
	frame_wrap(&frame, body.data, body.size);
	tconn_write(frame.data, frame.size);
	sodium_memzero(body.data, body.size);
	sodium_memzero(frame.data, frame.size);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&frame);
	if (r->args != NULL) {
		sodium_memzero(r->args, r->argslen);
		free(r->args);
		r->args = NULL;
	}
	tc.last_sent = time(NULL);
	TAILQ_INSERT_TAIL(&tc.sent, r, entry);
}

/* Frame stream bytes out: sealed as records on the secure channel. */
static void
tconn_write(const void *data, size_t len)
{
	struct evbuffer	*plain;

	if (tc.chan == NULL) {
		bufferevent_write(tc.bev, data, len);
		return;
	}
	/* A reference, not a copy: the caller wipes data afterwards. */
	if ((plain = evbuffer_new()) == NULL ||
	    evbuffer_add_reference(plain, data, len, NULL, NULL) != 0)
		abort();
	/* A spent channel (2^64 records) can send no more: the socket is
	 * shut so the loop loses the connection the usual way. */
	if (channel_buffer_seal(tc.chan, plain,
	    bufferevent_get_output(tc.bev)) != 0)
		shutdown(bufferevent_getfd(tc.bev), SHUT_RDWR);
	evbuffer_free(plain);
}

static void
tconn_flush(void)
{
	struct tconn_req	*r;

	while (tc.state == TCONN_READY && (r = TAILQ_FIRST(&tc.queued)) != NULL) {
		TAILQ_REMOVE(&tc.queued, r, entry);
		tconn_send(r);
	}
}

/* --- connecting --- */

static void
tconn_start(void)
{
	struct bufferevent	*bev;
	char			*host, *port;

	if (tc.bev != NULL || tc.state == TCONN_ASK)
		return;
	evtimer_del(tc.retry_timer);
	/* After a changed key nothing is sent again: what waits, waits. */
	if (tc.key_changed) {
		tc.state = TCONN_IDLE;
		return;
	}
	host = xstrdup(tc.server);
	if ((port = strrchr(host, ':')) == NULL) {
		free(host);
		tconn_set_error("bad server address (want HOST:PORT)");
		tc.state = TCONN_IDLE;
		tconn_changed();
		return;
	}
	*port++ = '\0';
	if (host[0] == '[' && port - host >= 3 && port[-2] == ']') {
		port[-2] = '\0';
		memmove(host, host + 1, strlen(host + 1) + 1);
	}
	tc.state = TCONN_CONNECTING;
	tc.generation++;
	tc.bev = bufferevent_socket_new(tc.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(tc.bev, tconn_read_cb, NULL, tconn_event_cb, NULL);
	bufferevent_enable(tc.bev, EV_READ | EV_WRITE);
	tconn_changed();
	/* With no DNS base the name is resolved here, at once; addresses and
	 * /etc/hosts names are what a clinic's desk uses. */
	bev = tc.bev;
	if (bufferevent_socket_connect_hostname(bev, NULL, AF_UNSPEC, host,
	    atoi(port)) != 0 && tc.bev == bev)
		tconn_lost("cannot connect");
	free(host);
}

/* Frees the socket and the channel; the state is the caller's to set. */
static void
tconn_close(void)
{
	if (tc.bev != NULL) {
		bufferevent_free(tc.bev);
		tc.bev = NULL;
	}
	channel_free(tc.chan);
	tc.chan = NULL;
	if (tc.opened != NULL)
		evbuffer_drain(tc.opened, evbuffer_get_length(tc.opened));
	sodium_memzero(tc.finish, sizeof tc.finish);
	tc.finish_len = 0;
}

void
tconn_connect(void)
{
	if (tc.state == TCONN_IDLE || tc.state == TCONN_WAITING)
		tconn_start();
}

static void
tconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	int	fd, one = 1;

	(void)arg;
	if (what & BEV_EVENT_CONNECTED) {
		fd = (int)bufferevent_getfd(bev);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (!client_opts.plain) {
			tconn_keys_begin(bev);
			return;
		}
		tc.state = TCONN_HANDSHAKE;
		tconn_handshake();
		tconn_changed();
		return;
	}
	if (tc.state == TCONN_ASK) {
		/* The server gave up waiting for the user (its login timeout):
		 * the question stays, and the answer connects again. */
		tconn_close();
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		tconn_set_error("the server did not answer the encrypted handshake");
		tconn_lost("the server did not answer the encrypted handshake");
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		const char	*why = "connection lost";
		char		 buf[160];

		if (what & BEV_EVENT_ERROR) {
			int	err = EVUTIL_SOCKET_ERROR();

			if (tc.state == TCONN_CONNECTING) {
				snprintf(buf, sizeof buf, "cannot connect: %s",
				    evutil_socket_error_to_string(err));
				why = buf;
			}
		}
		tconn_lost(why);
	}
}

/*
 * Fails what was in flight, keeps what was queued, and tries again after a
 * pause while there is a session to restore or a request waiting.
 */
static void
tconn_lost(const char *why)
{
	struct tconn_reqs	 failed;
	struct tconn_req	*r;
	struct tconn_reply	 reply;
	struct timeval		 tv;
	int			 ms;

	tconn_close();
	if (tc.last_error == NULL || tc.state == TCONN_READY)
		tconn_set_error(why);
	TAILQ_INIT(&failed);
	TAILQ_CONCAT(&failed, &tc.sent, entry);
	/* Nobody logged in (the login screen): say so now rather than retry. */
	if (tc.token == NULL)
		TAILQ_CONCAT(&failed, &tc.queued, entry);
	if (tc.token != NULL) {
		ms = retry_ms[tc.attempts < (int)nitems(retry_ms) ?
		    tc.attempts : (int)nitems(retry_ms) - 1];
		tc.attempts++;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		tc.retry_at = (int64_t)time(NULL) + (ms + 999) / 1000;
		tc.state = TCONN_WAITING;
		evtimer_add(tc.retry_timer, &tv);
	} else {
		tc.state = TCONN_IDLE;
		tc.attempts = 0;
		/* The server closes idle connections nobody logged in on; the
		 * next request reconnects, so that is no news. */
		if (TAILQ_EMPTY(&failed))
			tconn_set_error(NULL);
	}
	memset(&reply, 0, sizeof reply);
	reply.code = "unavailable";
	reply.message = "connection lost; try again";
	reply.result = NULL;
	while ((r = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, r, entry);
		if (r->fn != NULL)
			r->fn(&reply, r->arg);
		tconn_req_free(r);
	}
	tconn_changed();
}

static void
tconn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	tconn_start();
}

/* --- the secure channel's handshake --- */

#define KEYS_TIMEOUT_SECONDS	(CLIENT_TIMEOUT_MS / 1000)

/* Connected: our hello goes out, and the server has a while to answer. */
static void
tconn_keys_begin(struct bufferevent *bev)
{
	unsigned char	hello[CHANNEL_CLIENT_HELLO_MAX];
	struct timeval	tv = { KEYS_TIMEOUT_SECONDS, 0 };
	size_t		len;

	tc.chan = channel_new();
	len = channel_client_hello(tc.chan, tc.trust.channel_offer != 0 ?
	    tc.trust.channel_offer : channel_suites_available(), hello);
	bufferevent_write(bev, hello, len);
	bufferevent_set_timeouts(bev, &tv, NULL);
	tc.state = TCONN_KEYS;
	tconn_changed();
}

/* The server's hello (69 bytes for AES-256-GCM, 93 for XChaCha20): its
 * key, checked against the pin before anything else is sent. Fails
 * closed: whatever answers, only the right key goes further. */
static void
tconn_keys_read(struct evbuffer *in)
{
	unsigned char	 hello[CHANNEL_SERVER_HELLO_MAX];
	unsigned char	 server_pk[CHANNEL_KEY_LEN];
	const char	*why;
	char		*cause = NULL;
	size_t		 len;
	int		 rc;

	if (evbuffer_copyout(in, hello, CHANNEL_SERVER_HELLO_PEEK) <
	    CHANNEL_SERVER_HELLO_PEEK)
		return;
	if ((len = channel_server_hello_length(tc.chan, hello, &why)) == 0) {
		tconn_set_error(why);
		tconn_lost(why);
		return;
	}
	if (evbuffer_get_length(in) < len)
		return;
	evbuffer_remove(in, hello, len);
	if (channel_client_finish(tc.chan, hello, len, server_pk, tc.finish,
	    &tc.finish_len, &why) != 0) {
		tconn_set_error(why);
		tconn_lost(why);
		return;
	}
	bufferevent_set_timeouts(tc.bev, NULL, NULL);
	channel_fingerprint(server_pk, tc.fingerprint);
	rc = mfc_trust_check(&tc.trust, tc.server, tc.fingerprint, &cause);
	tconn_key_verdict(rc, cause);
	free(cause);
}

/* Acts on mfc_trust_check's answer about tc.fingerprint. */
static void
tconn_key_verdict(int rc, const char *cause)
{
	switch (rc) {
	case MFC_OK:
	case 1:
		if (rc == 1 && tc.hooks->key_pinned != NULL)
			tc.hooks->key_pinned(tc.server, tc.fingerprint,
			    tc.trust.known_servers);
		if (tc.bev == NULL) {
			/* Closed while the user decided: again, pinned now. */
			tc.state = TCONN_IDLE;
			tconn_start();
			return;
		}
		if (tc.finish_len > 0)
			bufferevent_write(tc.bev, tc.finish, tc.finish_len);
		sodium_memzero(tc.finish, sizeof tc.finish);
		tc.finish_len = 0;
		tc.state = TCONN_HANDSHAKE;
		tconn_handshake();
		tconn_changed();
		break;
	case MFC_KEY_UNTRUSTED:
		if (tc.hooks->key_unknown == NULL) {
			tconn_key_refused(cause, 0);
			break;
		}
		tc.state = TCONN_ASK;
		tc.hooks->key_unknown(tc.server, tc.fingerprint);
		tconn_changed();
		break;
	case MFC_KEY_CHANGED:
		tc.key_changed = 1;
		tconn_key_refused(cause, 1);
		break;
	default:
		tconn_key_refused(cause, 0);
		break;
	}
}

void
tconn_trust_answer(int yes)
{
	struct mfc_trust	 t;
	char			*cause = NULL;
	int			 rc;

	if (tc.state != TCONN_ASK)
		return;
	if (!yes) {
		cause = xasprintf("Not connected: you did not trust the key "
		    "of %s\n%s\nCheck it with the clinic's administrator "
		    "(mediflowd --fingerprint); logging in asks again.",
		    tc.server, tc.fingerprint);
		tconn_key_refused(cause, 0);
		free(cause);
		return;
	}
	t = tc.trust;
	t.trust_new = 1;
	rc = mfc_trust_check(&t, tc.server, tc.fingerprint, &cause);
	tconn_key_verdict(rc, cause);
	free(cause);
}

/* Not connected over the server's key: nothing more is sent on this
 * connection, what waited fails, and no retry follows. */
static void
tconn_key_refused(const char *text, int changed)
{
	const char	*why = changed ? "the server's key has changed" :
			    "the server's key is not trusted";

	tconn_close();
	evtimer_del(tc.retry_timer);
	tc.state = TCONN_IDLE;
	tc.attempts = 0;
	tconn_set_error(why);
	tconn_fail_all("untrusted_key", why);
	if (tc.hooks->key_refused != NULL)
		tc.hooks->key_refused(text != NULL ? text : why, changed);
	tconn_changed();
}

/* Fails every request sent or waiting. */
static void
tconn_fail_all(const char *code, const char *message)
{
	struct tconn_reqs	 failed;
	struct tconn_req	*r;
	struct tconn_reply	 reply;

	TAILQ_INIT(&failed);
	TAILQ_CONCAT(&failed, &tc.sent, entry);
	TAILQ_CONCAT(&failed, &tc.queued, entry);
	memset(&reply, 0, sizeof reply);
	reply.code = code;
	reply.message = message;
	while ((r = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, r, entry);
		if (r->fn != NULL)
			r->fn(&reply, r->arg);
		tconn_req_free(r);
	}
}

/* hello, the server's clock, then the session; queued requests wait. */
static void
tconn_handshake(void)
{
	struct tconn_req	*r;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_pack_kv_int(&pk, "version", PROTO_VERSION);
	r = tconn_req_new("hello", NULL, tconn_hello_done, NULL);
	r->args = xmalloc(sb.size);
	memcpy(r->args, sb.data, sb.size);
	r->argslen = sb.size;
	msgpack_sbuffer_destroy(&sb);
	tconn_send(r);
	tconn_send(tconn_req_new("health", NULL, tconn_health_done, NULL));
	tc.handshake_left = 2;
	if (tc.token != NULL) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 1);
		mp_pack_kv_str(&pk, "token", tc.token);
		r = tconn_req_new("auth.resume", NULL, tconn_resume_done, NULL);
		r->args = xmalloc(sb.size);
		memcpy(r->args, sb.data, sb.size);
		r->argslen = sb.size;
		sodium_memzero(sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
		tconn_send(r);
		tc.handshake_left++;
	}
}

static void
tconn_hello_done(const struct tconn_reply *reply, void *arg)
{
	const char	*tz;
	char		 why[300];

	(void)arg;
	if (!reply->ok) {
		/* The server closes after a refused hello; say why. */
		snprintf(why, sizeof why, "server refused: %s", reply->message);
		tconn_set_error(why);
		return;
	}
	/* Times are the clinic's, when the server says where it is. */
	tz = jget_str(reply->result, "tz");
	if (*tz != '\0' && strlen(tz) < 64) {
		setenv("TZ", tz, 1);
		tzset();
	}
	tconn_handshake_step();
}

static void
tconn_health_done(const struct tconn_reply *reply, void *arg)
{
	(void)arg;
	if (reply->ok && jget_int(reply->result, "time") > 0)
		tc.skew = jget_int(reply->result, "time") - (int64_t)time(NULL);
	tconn_handshake_step();
}

static void
tconn_resume_done(const struct tconn_reply *reply, void *arg)
{
	(void)arg;
	if (tc.state != TCONN_HANDSHAKE)
		return;
	tc.handshake_left--;
	tc.state = TCONN_READY;
	tc.attempts = 0;
	tconn_set_error(NULL);
	if (reply->ok) {
		tc.hooks->ready(json_object_get(reply->result, "user"));
	} else if (strcmp(reply->code, "unauthenticated") == 0) {
		tconn_set_token(NULL);
		tc.hooks->session_end(reply->message);
	} else {
		/* Busy or rate limited: try again later rather than log out. */
		tconn_set_error(reply->message);
		tc.state = TCONN_HANDSHAKE;
		tconn_lost(reply->message);
		return;
	}
	tconn_flush();
	tconn_changed();
}

static void
tconn_handshake_step(void)
{
	if (tc.state != TCONN_HANDSHAKE || --tc.handshake_left > 0)
		return;
	/* Without a token: connected, nobody logged in. */
	tc.state = TCONN_READY;
	tc.attempts = 0;
	tconn_set_error(NULL);
	tc.hooks->ready(NULL);
	tconn_flush();
	tconn_changed();
}

/* --- reading --- */

static void
tconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	const char	*cause;
	uint64_t	 gen = tc.generation;
	int		 opened;

	(void)arg;
	if (tc.state == TCONN_KEYS)
		tconn_keys_read(in);
	/* Nothing is read while the user decides about the key. */
	if (tc.generation != gen || tc.bev != bev || tc.state == TCONN_KEYS ||
	    tc.state == TCONN_ASK)
		return;
	if (tc.chan == NULL) {
		tconn_read_frames(in, gen);
		return;
	}
	/* Opened bytes are bounded by one whole frame, as on the server. */
	do {
		opened = channel_buffer_open(tc.chan, in, tc.opened,
		    FRAME_HEADER_SIZE + (size_t)tc.limits.max_frame, &cause);
		if (opened < 0) {
			tconn_set_error("the server sent a bad record");
			tconn_lost("the server sent a bad record");
			return;
		}
		if (tconn_read_frames(tc.opened, gen) != 0)
			return;
	} while (opened > 0);
}

/* Cuts whole frames out of src and dispatches them; -1 when the connection
 * went away meanwhile (a callback, or a bad frame). */
static int
tconn_read_frames(struct evbuffer *src, uint64_t gen)
{
	unsigned char		 hdr[FRAME_HEADER_SIZE], *body;
	msgpack_unpacked	 u;
	const char		*cause;
	json_t			*msg;
	uint32_t		 len;

	while (evbuffer_get_length(src) >= FRAME_HEADER_SIZE) {
		evbuffer_copyout(src, hdr, sizeof hdr);
		len = frame_header_length(hdr);
		if (len > tc.limits.max_frame) {
			tconn_lost("the server sent a frame too large");
			return -1;
		}
		if (evbuffer_get_length(src) < FRAME_HEADER_SIZE + (size_t)len)
			return 0;
		evbuffer_drain(src, FRAME_HEADER_SIZE);
		body = xmalloc(len ? len : 1);
		evbuffer_remove(src, body, len);
		msgpack_unpacked_init(&u);
		if (frame_decode(body, len, &tc.limits, &u, &cause) != 0) {
			msgpack_unpacked_destroy(&u);
			free(body);
			tconn_lost("the server sent a bad frame");
			return -1;
		}
		msg = msgpack_to_json(&u.data);
		msgpack_unpacked_destroy(&u);
		sodium_memzero(body, len);
		free(body);
		if (msg != NULL)
			tconn_dispatch(msg);
		json_decref(msg);
		if (tc.generation != gen || tc.bev == NULL)
			return -1;
	}
	return 0;
}

static void
tconn_dispatch(json_t *msg)
{
	struct tconn_req	*r;
	struct tconn_reply	 reply;
	json_t			*id = json_object_get(msg, "id"), *err;
	uint64_t		 want;

	if (id == NULL) {
		const char	*event = jget_str(msg, "event");

		if (*event != '\0' && tc.hooks->event != NULL)
			tc.hooks->event(event, json_object_get(msg, "data"));
		return;
	}
	want = (uint64_t)json_integer_value(id);
	if (want == 0) {
		/* The server gives up on this connection and says why. */
		err = json_object_get(msg, "error");
		tconn_set_error(jget_str(err, "message"));
		return;
	}
	TAILQ_FOREACH(r, &tc.sent, entry) {
		if (r->id == want)
			break;
	}
	if (r == NULL)
		return;
	TAILQ_REMOVE(&tc.sent, r, entry);
	memset(&reply, 0, sizeof reply);
	reply.ok = json_is_true(json_object_get(msg, "ok"));
	reply.code = reply.message = "";
	if (reply.ok)
		reply.result = json_object_get(msg, "result");
	else {
		err = json_object_get(msg, "error");
		reply.code = jget_str(err, "code");
		reply.message = jget_str(err, "message");
	}
	if (r->fn != NULL)
		r->fn(&reply, r->arg);
	/* A session that ended under us: back to the login screen, from the
	 * loop rather than inside the caller's callback. */
	if (!reply.ok && strcmp(reply.code, "unauthenticated") == 0 &&
	    tc.token != NULL && strcmp(r->op, "auth.login") != 0 &&
	    strcmp(r->op, "auth.resume") != 0)
		event_active(tc.session_end_ev, 0, 0);
	tconn_req_free(r);
}

static void
tconn_session_end_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (tc.token == NULL)
		return;
	tconn_set_token(NULL);
	tc.hooks->session_end("your session has ended");
}

/* --- state --- */

void
tconn_set_token(const char *token)
{
	if (tc.token != NULL) {
		sodium_memzero(tc.token, strlen(tc.token));
		free(tc.token);
	}
	tc.token = token != NULL ? xstrdup(token) : NULL;
}

const char *
tconn_token(void)
{
	return tc.token;
}

enum tconn_state
tconn_state(void)
{
	return tc.state;
}

int64_t
tconn_clock_skew(void)
{
	return tc.skew;
}

int64_t
tconn_last_sent(void)
{
	return tc.last_sent;
}

void
tconn_describe(char *buf, size_t len)
{
	int64_t	left;

	switch (tc.state) {
	case TCONN_IDLE:
		snprintf(buf, len, "%s%s", tc.last_error != NULL ? "offline: " : "not connected",
		    tc.last_error != NULL ? tc.last_error : "");
		break;
	case TCONN_CONNECTING:
	case TCONN_KEYS:
	case TCONN_HANDSHAKE:
		snprintf(buf, len, tc.attempts > 0 ? "reconnecting to %s..." :
		    "connecting to %s...", tc.server);
		break;
	case TCONN_ASK:
		snprintf(buf, len, "waiting: trust %s's new key?", tc.server);
		break;
	case TCONN_READY:
		snprintf(buf, len, "connected%s", tc.chan != NULL ? "" :
		    " (not encrypted)");
		break;
	case TCONN_WAITING:
		left = tc.retry_at - (int64_t)time(NULL);
		snprintf(buf, len, "%s; reconnecting in %llds",
		    tc.last_error != NULL ? tc.last_error : "connection lost",
		    (long long)(left > 0 ? left : 0));
		break;
	}
}
