/* curl-loop.h -- libcurl's multi interface driven by the libevent loop.
 *
 * Transfers run inside the server's one event loop: libcurl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION), as kore's src/curl.c does, so no send ever
 * blocks the loop. */
#ifndef MF_CURL_LOOP_H
#define MF_CURL_LOOP_H

#include <stddef.h>

#include <curl/curl.h>

struct event_base;

/*
 * Called once per transfer, from the loop, when it ends: rc is libcurl's
 * result and errbuf its message (may be empty). The easy handle is still
 * valid for curl_easy_getinfo; curl-loop cleans it up after the call.
 */
typedef void (*curl_loop_done_fn)(CURL *, CURLcode rc, const char *errbuf,
    void *arg);

/* 0, or -1 with an allocated message in *cause. */
int	 curl_loop_init(struct event_base *, char **cause);
/* Aborts the transfers still running (each done callback gets
 * CURLE_ABORTED_BY_CALLBACK) and frees everything. */
void	 curl_loop_free(void);
/*
 * Starts a configured easy handle; curl-loop owns it from now on. Returns 0,
 * or -1 (the handle cleaned up, done not called).
 */
int	 curl_loop_add(CURL *, curl_loop_done_fn, void *arg);
/*
 * The same for protocols whose libcurl code blocks (SMTP): the transfer runs
 * on a thread of its own; done still runs on the loop.
 */
int	 curl_loop_add_threaded(CURL *, curl_loop_done_fn, void *arg);
/* Transfers running now. */
size_t	 curl_loop_active(void);

#endif
