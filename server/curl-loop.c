/* curl-loop.c -- libcurl's multi interface driven by the libevent loop.
 *
 * One CURLM for the process. libcurl asks for a socket to be watched through
 * socket_cb and for a wake-up through timer_cb; the events call
 * curl_multi_socket_action, and finished transfers are collected with
 * curl_multi_info_read and handed to their done callbacks. */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "curl-loop.h"
#include "log.h"
#include "util.h"

struct curl_xfer {
	CURL			*easy;
	curl_loop_done_fn	 done;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
	TAILQ_ENTRY(curl_xfer)	 entry;
};
TAILQ_HEAD(curl_xfer_list, curl_xfer);

/* One per socket libcurl wants watched. */
struct curl_sock {
	curl_socket_t	 fd;
	struct event	*ev;
};

static struct event_base	*loop_base;
static CURLM			*multi;
static struct event		*timeout_ev;
static struct curl_xfer_list	 xfers = TAILQ_HEAD_INITIALIZER(xfers);
static size_t			 nactive;

static void	collect_done(void);
static void	sock_event_cb(evutil_socket_t, short, void *);
static void	timeout_event_cb(evutil_socket_t, short, void *);
static int	socket_cb(CURL *, curl_socket_t, int, void *, void *);
static int	timer_cb(CURLM *, long, void *);

static void
xfer_finish(struct curl_xfer *x, CURLcode rc)
{
	TAILQ_REMOVE(&xfers, x, entry);
	nactive--;
	/*
	 * Removing a transfer that is still running makes libcurl finish
	 * pingpong protocols (SMTP) with a blocking wait for the server's
	 * reply (curl issues #4015, #8555); an expired timeout cuts it short.
	 */
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, 1L);
	curl_multi_remove_handle(multi, x->easy);
	x->done(x->easy, rc, x->errbuf, x->arg);
	curl_easy_cleanup(x->easy);
	free(x);
}

static void
collect_done(void)
{
	struct curl_xfer	*x;
	CURLMsg			*msg;
	int			 left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL) {
			/* Not ours: cannot happen, but never leave it running. */
			curl_multi_remove_handle(multi, msg->easy_handle);
			continue;
		}
		xfer_finish(x, msg->data.result);
	}
}

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int	flags = 0, running;

	(void)arg;
	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	/* arg may be freed by socket_cb inside this call: do not touch it after. */
	curl_multi_socket_action(multi, fd, flags, &running);
	collect_done();
}

static void
timeout_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int	running;

	(void)fd;
	(void)what;
	(void)arg;
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_done();
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_sock	*cs = socketp;
	short			 kind = EV_PERSIST;

	(void)easy;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (cs != NULL) {
			event_free(cs->ev);
			free(cs);
		}
		curl_multi_assign(multi, fd, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (cs == NULL) {
		cs = xcalloc(1, sizeof *cs);
		cs->fd = fd;
		curl_multi_assign(multi, fd, cs);
	} else
		event_free(cs->ev);
	cs->ev = event_new(loop_base, fd, kind, sock_event_cb, cs);
	if (cs->ev == NULL) {
		log_err("curl: cannot watch socket %d", (int)fd);
		abort();
	}
	event_add(cs->ev, NULL);
	return 0;
}

static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct timeval	tv;

	(void)m;
	(void)userp;
	if (timeout_ms < 0) {
		evtimer_del(timeout_ev);
		return 0;
	}
	/* Never call socket_action from here: libcurl forbids the recursion. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(timeout_ev, &tv);
	return 0;
}

int
curl_loop_init(struct event_base *base, char **cause)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*cause = xstrdup("libcurl failed to initialise");
		return -1;
	}
	if ((multi = curl_multi_init()) == NULL) {
		curl_global_cleanup();
		*cause = xstrdup("libcurl: cannot create a multi handle");
		return -1;
	}
	loop_base = base;
	timeout_ev = evtimer_new(base, timeout_event_cb, NULL);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 16L);
	return 0;
}

void
curl_loop_free(void)
{
	struct curl_xfer	*x;

	if (multi == NULL)
		return;
	while ((x = TAILQ_FIRST(&xfers)) != NULL)
		xfer_finish(x, CURLE_ABORTED_BY_CALLBACK);
	curl_multi_cleanup(multi);
	multi = NULL;
	event_free(timeout_ev);
	timeout_ev = NULL;
	curl_global_cleanup();
}

int
curl_loop_add(CURL *easy, curl_loop_done_fn done, void *arg)
{
	struct curl_xfer	*x;

	x = xcalloc(1, sizeof *x);
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
		log_err("curl: cannot start a transfer");
		curl_easy_cleanup(easy);
		free(x);
		return -1;
	}
	TAILQ_INSERT_TAIL(&xfers, x, entry);
	nactive++;
	return 0;
}

size_t
curl_loop_active(void)
{
	return nactive;
}
