/* channel.h -- the secure channel: a key-pinned handshake (crypto_kx) and
 * encrypted, authenticated records (crypto_secretstream_xchacha20poly1305)
 * under the frame layer. See "Secure channel" in protocol.md.
 *
 * This file is the pure codec, shared by mediflowd, mediflow and the tests:
 * no sockets, no event loop. channel_buffer_* (channel-ev.c) move records
 * between libevent buffers; the server's net layer and the TUI use those.
 *
 *   client                                 server
 *   "MFE1" Ce                      ->
 *                                  <-      "MFE1" S Se Hs2c
 *   (checks S against its pin)
 *   Hc2s, records                  ->
 *                                  <-      records
 *
 * Ce, Se are ephemeral crypto_kx public keys, S the server's long-term one,
 * H a secretstream header. The keys of each direction hash together the
 * crypto_kx results of Ce with S (only the holder of S's secret key can
 * compute it) and of Ce with Se (forgotten after the handshake, so a key
 * stolen later does not open recorded sessions). A record is a u32
 * big-endian ciphertext length, then one secretstream message holding a
 * piece of the frame stream (up to CHANNEL_RECORD_MAX bytes). */
#ifndef MF_CHANNEL_H
#define MF_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

/*
 * Read as a frame's u32 length, "MFE1" is 1,296,450,865 bytes, larger than
 * max_frame can ever be (64 MiB), so a connection's first four bytes tell
 * an encrypted client from a plain one.
 */
#define CHANNEL_MAGIC		"MFE1"
#define CHANNEL_MAGIC_LEN	4
#define CHANNEL_KEY_LEN		crypto_kx_PUBLICKEYBYTES
#define CHANNEL_HEADER_LEN	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define CHANNEL_CLIENT_HELLO_LEN (CHANNEL_MAGIC_LEN + CHANNEL_KEY_LEN)
#define CHANNEL_SERVER_HELLO_LEN (CHANNEL_MAGIC_LEN + 2 * CHANNEL_KEY_LEN + \
				  CHANNEL_HEADER_LEN)
#define CHANNEL_CLIENT_FINISH_LEN CHANNEL_HEADER_LEN

/* Plaintext bytes in one record, and what a record adds to them. */
#define CHANNEL_RECORD_MAX	65536
#define CHANNEL_LENGTH_LEN	4
#define CHANNEL_RECORD_OVERHEAD	(CHANNEL_LENGTH_LEN + \
				 crypto_secretstream_xchacha20poly1305_ABYTES)

/* "SHA256:" and 43 characters of unpadded base64, as ssh prints them. */
#define CHANNEL_FINGERPRINT_SIZE 64

struct channel_keypair {
	unsigned char	pk[CHANNEL_KEY_LEN];
	unsigned char	sk[crypto_kx_SECRETKEYBYTES];
};

enum channel_state {
	CHANNEL_NEW,
	CHANNEL_CLIENT_SENT,	/* client: hello sent, waiting for the server's */
	CHANNEL_SERVER_SENT,	/* server: hello sent, waiting for Hc2s */
	CHANNEL_READY,
	CHANNEL_FAILED,
};

struct channel {
	enum channel_state	state;
	unsigned char		eph_pk[CHANNEL_KEY_LEN];
	unsigned char		eph_sk[crypto_kx_SECRETKEYBYTES];
	unsigned char		rx_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	crypto_secretstream_xchacha20poly1305_state tx;
	crypto_secretstream_xchacha20poly1305_state rx;
};

/* Allocates a channel in state CHANNEL_NEW; channel_free wipes and frees it. */
struct channel	*channel_new(void);
void		 channel_free(struct channel *);

/* --- the handshake: 0, or -1 with a static reason in *cause --- */

/* Client, first: writes "MFE1" and a fresh ephemeral key to out. */
void	channel_client_hello(struct channel *,
	    unsigned char out[CHANNEL_CLIENT_HELLO_LEN]);
/*
 * Client, on the server's hello: copies the server's long-term key to
 * server_pk, derives the session keys and writes Hc2s to out. The caller
 * MUST check server_pk against its pin before it sends out or anything else;
 * a mismatch means dropping the connection with nothing sent.
 */
int	channel_client_finish(struct channel *,
	    const unsigned char in[CHANNEL_SERVER_HELLO_LEN],
	    unsigned char server_pk[CHANNEL_KEY_LEN],
	    unsigned char out[CHANNEL_CLIENT_FINISH_LEN], const char **cause);
/* Server, on the client's hello: writes the server's hello to out. */
int	channel_server_accept(struct channel *, const struct channel_keypair *,
	    const unsigned char in[CHANNEL_CLIENT_HELLO_LEN],
	    unsigned char out[CHANNEL_SERVER_HELLO_LEN], const char **cause);
/* Server, on Hc2s: the channel is ready. */
int	channel_server_finish(struct channel *,
	    const unsigned char in[CHANNEL_CLIENT_FINISH_LEN], const char **cause);

/* --- records (a ready channel) --- */

/* Bytes a record of len plaintext bytes takes (len <= CHANNEL_RECORD_MAX). */
#define CHANNEL_SEALED_LEN(len)	((len) + CHANNEL_RECORD_OVERHEAD)
/* Seals len (1..CHANNEL_RECORD_MAX) bytes as one record into out, which has
 * room for CHANNEL_SEALED_LEN(len); returns the bytes written. */
size_t	channel_seal(struct channel *, const unsigned char *, size_t len,
	    unsigned char *out);
/* From a record's first 4 bytes: its whole length, or 0 (and *cause) when
 * the length is out of bounds. */
size_t	channel_record_length(const unsigned char hdr[CHANNEL_LENGTH_LEN],
	    const char **cause);
/*
 * Opens one whole record of len bytes (as channel_record_length said) into
 * out, which has room for len - CHANNEL_RECORD_OVERHEAD bytes; *outlen is
 * the plaintext length. A record that was changed, replayed, reordered or
 * cut returns -1 and the channel fails for good.
 */
int	channel_open(struct channel *, const unsigned char *, size_t len,
	    unsigned char *out, size_t *outlen, const char **cause);

/* --- keys --- */

/* "SHA256:" + base64 of SHA-256 of the key, no padding. */
void	channel_fingerprint(const unsigned char pk[CHANNEL_KEY_LEN],
	    char out[CHANNEL_FINGERPRINT_SIZE]);
/*
 * Loads a key pair from path (the secret key, then the public key: 64 raw
 * bytes), refusing a file others can read. When the file does not exist and
 * create is set, makes a new pair and writes it with mode 0600 (*created is
 * set then). 0, or -1 with an allocated message in *cause.
 */
int	channel_keypair_load(const char *path, int create,
	    struct channel_keypair *, int *created, char **cause);

/* --- libevent buffers (channel-ev.c) --- */

struct evbuffer;

/* Seals everything in src as records appended to dst; src is drained. */
void	channel_buffer_seal(struct channel *, struct evbuffer *src,
	    struct evbuffer *dst);
/*
 * Opens whole records from src into dst while dst holds fewer than max
 * bytes. Returns the number of records opened, or -1 with *cause when a
 * record is bad (the peer must be dropped).
 */
int	channel_buffer_open(struct channel *, struct evbuffer *src,
	    struct evbuffer *dst, size_t max, const char **cause);

#endif
