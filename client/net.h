/* net.h -- a blocking protocol connection, for the one-shot call mode, the
 * tests and the benchmarks' set-up. (The TUI drives its socket from libevent.) */
#ifndef MF_NET_H
#define MF_NET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "frame.h"

struct mf_client {
	int			 fd;
	uint64_t		 next_id;
	unsigned char		*buf;		/* bytes read, not yet framed */
	size_t			 len, cap;
	unsigned char		*frame;		/* the last frame's bytes */
	msgpack_unpacked	 last;
	struct frame_limits	 limits;
	void			(*on_event)(const msgpack_object *, void *);
	void			*on_event_arg;
};

/* "HOST:PORT" (IPv4 or [IPv6]); 0 or -1 with an allocated *cause. */
int	mfc_connect(struct mf_client *, const char *hostport, char **cause);
void	mfc_close(struct mf_client *);
/* Writes all bytes; 0 or -1. */
int	mfc_write(struct mf_client *, const void *, size_t);
/* Sends {id, op, args}; args is a packed msgpack map or NULL for none. */
int	mfc_send(struct mf_client *, const char *op, const char *args,
	    size_t argslen, uint64_t *id);
/* Reads the next whole frame; 0 and *obj (valid until the next read), -1 on
 * EOF or error, -2 on timeout. timeout_ms < 0 waits forever. */
int	mfc_read(struct mf_client *, int timeout_ms, const msgpack_object **obj);
/* Sends and waits for the reply with the same id; events go to on_event. */
int	mfc_call(struct mf_client *, const char *op, const char *args,
	    size_t argslen, int timeout_ms, const msgpack_object **reply);
/* The same with JSON in and out: args may be NULL; returns a new reference
 * to the reply object, or NULL when the connection failed. */
json_t	*mfc_call_json(struct mf_client *, const char *op, const json_t *args,
	    int timeout_ms);

#endif
