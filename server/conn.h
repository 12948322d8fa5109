/* conn.h -- the net layer: listener, bufferevents, framing, per-connection limits. */
#ifndef MF_CONN_H
#define MF_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>

struct channel;
struct channel_keypair;
struct evbuffer;
struct session;

/* What a connection's first bytes said it speaks. */
enum conn_wire {
	CONN_WIRE_UNKNOWN,	/* nothing read yet */
	CONN_WIRE_PLAIN,	/* frames as they are (loopback only, by default) */
	CONN_WIRE_HANDSHAKE,	/* encrypted: our hello sent, waiting for the client's header */
	CONN_WIRE_SECURE,	/* encrypted records around the frames */
};

struct conn {
	uint64_t		 id;
	struct bufferevent	*bev;		/* its writes and its input buffer */
	struct event		*rd_ev;		/* reading (conn.c: conn_sock_read_cb) */
	int			 rd_on;		/* rd_ev is added */
	int			 rd_stop;	/* reading ended for good (closing) */
	char			 addr[64];
	int			 is_local;	/* loopback or unix socket */
	int			 refs;
	int			 dead;		/* closed; freed when refs drop */
	int			 closing;	/* flush then close */
	int			 close_pending;	/* close once held replies are out */
	int			 hello_done;
	int			 pending;	/* an OP_PENDING request is running */
	struct session		*session;
	struct event		*login_timer;
	struct event		*frame_timer;	/* a frame begun but not whole */
	enum conn_wire		 wire;
	struct channel		*chan;		/* the secure channel, or NULL */
	struct evbuffer		*plain_in;	/* opened records, not yet framed */
	struct evbuffer		*cork;		/* a batch's frames, written together */
	/*
	 * A virtual connection (the HTTP adapter) has no socket: what would
	 * be framed and written goes to sink. Only listed ones (an SSE
	 * stream) are in conns, so only they get events and count as online.
	 */
	void			(*sink)(struct conn *, const char *, size_t);
	void			*sink_arg;
	int			 listed;
	TAILQ_ENTRY(conn)	 entry;
};
TAILQ_HEAD(conn_list, conn);

extern struct conn_list	conns;

/* The server's long-term key for the secure channel (copied). */
void	conn_set_key(const struct channel_keypair *);
int	conn_listen(const char *hostport, char **cause);
/* The port the listener is bound to (after listening on port 0). */
int	conn_bound_port(void);
/* Stops accepting and closes every connection. */
void	conn_shutdown(void);
int	conn_count(void);

/*
 * A virtual connection for the HTTP adapter (one reference, the caller's,
 * released by conn_drop): hello is taken as done, replies and events go to
 * sink. listed: in conns, so events reach it once it has a session.
 */
struct conn *conn_new_virtual(const char *addr, int is_local,
	    void (*sink)(struct conn *, const char *, size_t), void *sink_arg,
	    int listed);

void	conn_ref(struct conn *);
void	conn_unref(struct conn *);
/* Frames and queues a packed msgpack body; cuts off a peer over the high-water mark. */
void	conn_send(struct conn *, const char *body, size_t len);
/* The same for the reply to request id (so a failed batch can answer it). */
void	conn_send_reply(struct conn *, uint64_t id, const char *body, size_t len);
/* Group commit hooks: hold replies and events until the batch is durable. */
void	conn_hold(void);
void	conn_release(int committed);
/* Sends an error reply with a zero id (for frames that had none) then closes. */
void	conn_fail(struct conn *, const char *code, const char *message);
/* Flushes what is queued, then closes. */
void	conn_close_after_flush(struct conn *);
/* Drops the peer now. */
void	conn_drop(struct conn *, const char *why);
/*
 * Sends {event, data} to every logged-in connection whose session `want`
 * accepts; data is one packed msgpack object.
 */
void	conn_push_event(const char *event, const char *data, size_t len,
	    int (*want)(const struct session *, void *), void *arg);
/* Called by dispatch when a pending request finished: resumes reading. */
void	conn_resume(struct conn *);
/* Called when the connection logs in or out. */
void	conn_set_session(struct conn *, struct session *);

#endif
