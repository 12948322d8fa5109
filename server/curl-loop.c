/* curl-loop.c -- libcurl's multi interface driven by the libevent loop.
 *
 * One CURLM for the process. libcurl asks for a socket to be watched through
 * socket_cb and for a wake-up through timer_cb; the events call
 * curl_multi_socket_action, and finished transfers are collected with
 * curl_multi_info_read and handed to their done callbacks. */
#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
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
static void	lane_stop_all(void);

static size_t			 nthreaded;	/* transfers on the mail thread */

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
	lane_stop_all();
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
	return nactive + nthreaded;
}

/*
 * The threaded lane, for SMTP: libcurl finishes pingpong protocols with a
 * blocking wait for the server's last replies even under the multi
 * interface (curl issues #4015, #8555), so a slow mail server would hold up
 * every request. Those transfers run with curl_easy_perform on one thread of
 * their own; their done callbacks still run on the loop.
 */
struct lane_job {
	CURL			*easy;
	curl_loop_done_fn	 done;
	void			*arg;
	CURLcode		 rc;
	char			 errbuf[CURL_ERROR_SIZE];
	STAILQ_ENTRY(lane_job)	 entry;
};
STAILQ_HEAD(lane_queue, lane_job);

static pthread_mutex_t	 lane_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 lane_cond = PTHREAD_COND_INITIALIZER;
static struct lane_queue lane_todo = STAILQ_HEAD_INITIALIZER(lane_todo);
static struct lane_queue lane_done = STAILQ_HEAD_INITIALIZER(lane_done);
static pthread_t	 lane_thread;
static int		 lane_started;
static atomic_int	 lane_stop;
static struct event	*lane_ev;

/* Asked by libcurl during a transfer: non-zero aborts it (at shutdown). */
static int
lane_progress_cb(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	(void)p;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&lane_stop) ? 1 : 0;
}

static void *
lane_main(void *arg)
{
	struct lane_job	*j;

	(void)arg;
	pthread_mutex_lock(&lane_lock);
	for (;;) {
		while (STAILQ_EMPTY(&lane_todo) && !atomic_load(&lane_stop))
			pthread_cond_wait(&lane_cond, &lane_lock);
		if (atomic_load(&lane_stop))
			break;
		j = STAILQ_FIRST(&lane_todo);
		STAILQ_REMOVE_HEAD(&lane_todo, entry);
		pthread_mutex_unlock(&lane_lock);

		j->rc = curl_easy_perform(j->easy);

		pthread_mutex_lock(&lane_lock);
		STAILQ_INSERT_TAIL(&lane_done, j, entry);
		event_active(lane_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&lane_lock);
	return NULL;
}

static void
lane_finish(struct lane_job *j)
{
	nthreaded--;
	j->done(j->easy, j->rc, j->errbuf, j->arg);
	curl_easy_cleanup(j->easy);
	free(j);
}

static void
lane_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lane_queue	 list = STAILQ_HEAD_INITIALIZER(list);
	struct lane_job		*j;

	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&lane_lock);
	STAILQ_CONCAT(&list, &lane_done);
	pthread_mutex_unlock(&lane_lock);
	while ((j = STAILQ_FIRST(&list)) != NULL) {
		STAILQ_REMOVE_HEAD(&list, entry);
		lane_finish(j);
	}
}

int
curl_loop_add_threaded(CURL *easy, curl_loop_done_fn done, void *arg)
{
	struct lane_job	*j;

	if (!lane_started) {
		lane_ev = event_new(loop_base, -1, EV_PERSIST, lane_done_cb, NULL);
		atomic_store(&lane_stop, 0);
		if (lane_ev == NULL ||
		    pthread_create(&lane_thread, NULL, lane_main, NULL) != 0) {
			log_err("curl: cannot start the mail thread");
			if (lane_ev != NULL)
				event_free(lane_ev);
			lane_ev = NULL;
			curl_easy_cleanup(easy);
			return -1;
		}
		lane_started = 1;
	}
	j = xcalloc(1, sizeof *j);
	j->easy = easy;
	j->done = done;
	j->arg = arg;
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, lane_progress_cb);
	pthread_mutex_lock(&lane_lock);
	STAILQ_INSERT_TAIL(&lane_todo, j, entry);
	nthreaded++;
	pthread_cond_signal(&lane_cond);
	pthread_mutex_unlock(&lane_lock);
	return 0;
}

/* Stops the lane: the running transfer aborts, queued ones never start;
 * every done callback runs (on this, the loop's thread). */
static void
lane_stop_all(void)
{
	struct lane_job	*j;

	if (!lane_started)
		return;
	pthread_mutex_lock(&lane_lock);
	atomic_store(&lane_stop, 1);
	pthread_cond_broadcast(&lane_cond);
	pthread_mutex_unlock(&lane_lock);
	pthread_join(lane_thread, NULL);
	lane_started = 0;
	lane_done_cb(-1, 0, NULL);
	while ((j = STAILQ_FIRST(&lane_todo)) != NULL) {
		STAILQ_REMOVE_HEAD(&lane_todo, entry);
		j->rc = CURLE_ABORTED_BY_CALLBACK;
		lane_finish(j);
	}
	event_free(lane_ev);
	lane_ev = NULL;
}
