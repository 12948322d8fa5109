/* net.h -- a blocking protocol connection, for the one-shot call mode, the
 * tests and the benchmarks' set-up. (The TUI drives its socket from libevent.) */
#ifndef MF_NET_H
#define MF_NET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "channel.h"
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
	struct channel		*chan;		/* the secure channel; NULL when plain */
	unsigned char		*raw;		/* records read, not yet opened */
	size_t			 rawlen, rawcap;
	char			 fingerprint[CHANNEL_FINGERPRINT_SIZE]; /* the server's key */
	int			 key_new;	/* that key was trusted on first use now */
};

/*
 * How a client decides whether a server's key is the right one (see
 * "Secure channel" in protocol.md). A fingerprint given in the client's
 * settings wins; otherwise the known_servers file pins each HOST:PORT to
 * the key it had the first time ("HOST:PORT SHA256:..." lines, mode 0600).
 */
struct mfc_trust {
	const char	*fingerprint;	/* "SHA256:...": only this key, or NULL */
	const char	*known_servers;	/* the pin file, or NULL for none */
	int		 trust_new;	/* pin a first key without asking */
	/* Asked about a first key unless trust_new; 1 trusts and pins it.
	 * NULL refuses every key not already pinned. */
	int		(*ask)(const char *hostport, const char *fingerprint,
			    void *arg);
	void		*ask_arg;
	int		 timeout_ms;	/* for the handshake; 0: 30 seconds */
	/* The channel's offer (CHANNEL_SUITE_* or CHANNEL_OFFER_V1); 0: every
	 * suite this CPU runs. Other values are for tests. */
	unsigned	 channel_offer;
};

/* What mfc_connect_secure and mfc_trust_check return. */
#define MFC_OK			0
#define MFC_ERROR		(-1)	/* could not connect or handshake */
#define MFC_KEY_CHANGED		(-2)	/* not the pinned key: nothing was sent */
#define MFC_KEY_UNTRUSTED	(-3)	/* a first key nobody accepted */

/* "HOST:PORT" (IPv4 or [IPv6]), unencrypted; 0 or -1 with an allocated
 * *cause. (The server takes these only from loopback by default.) */
int	mfc_connect(struct mf_client *, const char *hostport, char **cause);
/*
 * The same over the secure channel: connects, runs the handshake, and checks
 * the server's key with mfc_trust_check before anything else is sent.
 * Returns MFC_OK or a negative MFC_* with an allocated *cause (for
 * MFC_KEY_CHANGED, a loud multi-line warning meant to be shown as it is).
 */
int	mfc_connect_secure(struct mf_client *, const char *hostport,
	    const struct mfc_trust *, char **cause);
/*
 * Decides about a server's key fingerprint as mfc_connect_secure does, for
 * a caller that runs the handshake on its own loop (the TUI): MFC_OK, or
 * 1 when a first key was trusted and pinned now, or MFC_KEY_CHANGED or
 * MFC_KEY_UNTRUSTED (or MFC_ERROR: the pin file cannot be written) with an
 * allocated *cause.
 */
int	mfc_trust_check(const struct mfc_trust *, const char *hostport,
	    const char *fingerprint, char **cause);
void	mfc_close(struct mf_client *);
/* Writes all bytes of the frame stream (sealed on a secure channel); 0 or -1. */
int	mfc_write(struct mf_client *, const void *, size_t);
/* Writes bytes to the socket as they are, around any channel (tests). */
int	mfc_write_raw(struct mf_client *, const void *, size_t);
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
