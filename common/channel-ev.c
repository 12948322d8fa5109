/* channel-ev.c -- the secure channel's records to and from libevent buffers.
 *
 * Not a bufferevent filter: libevent 2.1 ignores an input filter's
 * BEV_ERROR, so a forged record would stall the connection instead of
 * closing it, and a filter's output drains into the socket's buffer where
 * the net layer's high-water and flush-then-close checks no longer see it.
 * The read path calls channel_buffer_open before framing instead. */
#include <stdlib.h>

#include <event2/buffer.h>

#include "channel.h"

int
channel_buffer_seal(struct channel *ch, struct evbuffer *src,
    struct evbuffer *dst)
{
	struct evbuffer_iovec	 v;
	unsigned char		*p;
	size_t			 len, n;

	while ((len = evbuffer_get_length(src)) > 0) {
		n = len < CHANNEL_RECORD_MAX ? len : CHANNEL_RECORD_MAX;
		if ((p = evbuffer_pullup(src, (ev_ssize_t)n)) == NULL ||
		    evbuffer_reserve_space(dst, (ev_ssize_t)CHANNEL_SEALED_LEN(n),
		    &v, 1) != 1)
			abort();	/* out of memory */
		if ((v.iov_len = channel_seal(ch, p, n, v.iov_base)) == 0)
			return -1;	/* the channel is spent */
		if (evbuffer_commit_space(dst, &v, 1) != 0)
			abort();
		evbuffer_drain(src, n);
	}
	return 0;
}

int
channel_buffer_open(struct channel *ch, struct evbuffer *src,
    struct evbuffer *dst, size_t max, const char **cause)
{
	struct evbuffer_iovec	 v;
	unsigned char		 hdr[CHANNEL_LENGTH_LEN], *rec;
	size_t			 rlen, plen;
	int			 opened = 0;

	while (evbuffer_get_length(dst) < max) {
		if (evbuffer_copyout(src, hdr, sizeof hdr) < (ev_ssize_t)sizeof hdr)
			break;
		if ((rlen = channel_record_length(ch, hdr, cause)) == 0)
			return -1;
		if (evbuffer_get_length(src) < rlen)
			break;
		if ((rec = evbuffer_pullup(src, (ev_ssize_t)rlen)) == NULL ||
		    evbuffer_reserve_space(dst,
		    (ev_ssize_t)(rlen - channel_overhead(ch)), &v, 1) != 1)
			abort();
		if (channel_open(ch, rec, rlen, v.iov_base, &plen, cause) != 0)
			return -1;
		v.iov_len = plen;
		if (evbuffer_commit_space(dst, &v, 1) != 0)
			abort();
		evbuffer_drain(src, rlen);
		opened++;
	}
	return opened;
}
