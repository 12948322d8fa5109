/* channel.h -- the secure channel: a key-pinned handshake (crypto_kx) and
 * encrypted, authenticated records under the frame layer, sealed with
 * AES-256-GCM where both ends have AES-NI and with
 * crypto_secretstream_xchacha20poly1305 otherwise. See "Secure channel" in
 * protocol.md.
 *
 * This file is the pure codec, shared by mediflowd, mediflow and the tests:
 * no sockets, no event loop. channel_buffer_* (channel-ev.c) move records
 * between libevent buffers; the server's net layer and the TUI use those.
 *
 *   client                                 server
 *   "MFE2" offer Ce                ->
 *                                  <-      "MFE2" suite S Se [Hs2c]
 *   (checks S against its pin)
 *   [Hc2s], records                ->
 *                                  <-      records
 *
 * Ce, Se are ephemeral crypto_kx public keys, S the server's long-term one.
 * The offer is a mask of CHANNEL_SUITE_*, the suite is the one the server
 * chose; only the XChaCha20 suite has the secretstream headers H. Clients
 * from before suites send "MFE1" Ce, and get "MFE1" S Se Hs2c: that
 * handshake is served unchanged. The keys of each direction hash together
 * the crypto_kx results of Ce with S (only the holder of S's secret key can
 * compute it) and of Ce with Se (forgotten after the handshake, so a key
 * stolen later does not open recorded sessions), and in "MFE2" the offer
 * and the suite. A record is a u32 big-endian ciphertext length, then that
 * ciphertext: a piece of the frame stream (up to CHANNEL_RECORD_MAX bytes)
 * sealed with the length as additional data. */
#ifndef MF_CHANNEL_H
#define MF_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

/*
 * Read as a frame's u32 length, "MFE1" and "MFE2" are about 1.3 billion
 * bytes, larger than max_frame can ever be (64 MiB), so a connection's
 * first four bytes tell an encrypted client from a plain one.
 */
#define CHANNEL_MAGIC_V1	"MFE1"	/* XChaCha20 only, no offer */
#define CHANNEL_MAGIC_V2	"MFE2"	/* an offer of suites */
#define CHANNEL_MAGIC_LEN	4

/* The record ciphers: an offer is a mask of them, the server's choice one. */
#define CHANNEL_SUITE_XCHACHA20	0x01	/* crypto_secretstream_xchacha20poly1305 */
#define CHANNEL_SUITE_AES256GCM	0x02	/* crypto_aead_aes256gcm (AES-NI, CLMUL) */
#define CHANNEL_SUITES_KNOWN	(CHANNEL_SUITE_XCHACHA20 | CHANNEL_SUITE_AES256GCM)
/* Not a suite: channel_client_hello sends the "MFE1" hello of clients that
 * predate suites. For tests and the bench's A/B. */
#define CHANNEL_OFFER_V1	0x100

#define CHANNEL_KEY_LEN		crypto_kx_PUBLICKEYBYTES
#define CHANNEL_HEADER_LEN	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define CHANNEL_CLIENT_HELLO_V1_LEN (CHANNEL_MAGIC_LEN + CHANNEL_KEY_LEN)
#define CHANNEL_CLIENT_HELLO_MAX (CHANNEL_MAGIC_LEN + 1 + CHANNEL_KEY_LEN)
/* A client learns the length of the server's hello from its first bytes. */
#define CHANNEL_SERVER_HELLO_PEEK (CHANNEL_MAGIC_LEN + 1)
#define CHANNEL_SERVER_HELLO_MAX (CHANNEL_MAGIC_LEN + 1 + 2 * CHANNEL_KEY_LEN + \
				  CHANNEL_HEADER_LEN)
#define CHANNEL_CLIENT_FINISH_MAX CHANNEL_HEADER_LEN

/* Plaintext bytes in one record, and the most a record adds to them (the
 * XChaCha20 suite; AES-256-GCM adds one byte less, channel_overhead). */
#define CHANNEL_RECORD_MAX	65536
#define CHANNEL_LENGTH_LEN	4
#define CHANNEL_RECORD_OVERHEAD	(CHANNEL_LENGTH_LEN + \
				 crypto_secretstream_xchacha20poly1305_ABYTES)

/* AES-256-GCM: records under one key before both ends move to the next. */
#define CHANNEL_AES_REKEY_RECORDS ((uint64_t)1 << 20)

/* "SHA256:" and 43 characters of unpadded base64, as ssh prints them. */
#define CHANNEL_FINGERPRINT_SIZE 64

struct channel_keypair {
	unsigned char	pk[CHANNEL_KEY_LEN];
	unsigned char	sk[crypto_kx_SECRETKEYBYTES];
};

enum channel_state {
	CHANNEL_NEW,
	CHANNEL_CLIENT_SENT,	/* client: hello sent, waiting for the server's */
	CHANNEL_SERVER_SENT,	/* server: hello sent, waiting for Hc2s (if any) */
	CHANNEL_READY,
	CHANNEL_FAILED,
};

/* One direction of the AES-256-GCM suite. The nonce is the record counter,
 * never sent; the key is kept to derive the next one at a rekey. */
struct channel_aes {
	crypto_aead_aes256gcm_state	st;	/* 16-byte aligned by its type */
	unsigned char			key[crypto_aead_aes256gcm_KEYBYTES];
	uint64_t			count;	/* the next record's number */
};

struct channel {
	enum channel_state	state;
	unsigned		offer;		/* client: what its hello offered */
	unsigned		suite;		/* CHANNEL_SUITE_*, once chosen */
	int			v1;		/* an "MFE1" handshake */
	unsigned char		eph_pk[CHANNEL_KEY_LEN];
	unsigned char		eph_sk[crypto_kx_SECRETKEYBYTES];
	unsigned char		rx_key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	crypto_secretstream_xchacha20poly1305_state tx;
	crypto_secretstream_xchacha20poly1305_state rx;
	struct channel_aes	aes_tx;
	struct channel_aes	aes_rx;
};

/* The suites this process can run: XChaCha20 always, AES-256-GCM where the
 * CPU has AES-NI and CLMUL (after sodium_init). */
unsigned	channel_suites_available(void);

/* Allocates a channel in state CHANNEL_NEW; channel_free wipes and frees it. */
struct channel	*channel_new(void);
void		 channel_free(struct channel *);

/* --- the handshake: 0, or -1 with a static reason in *cause --- */

/*
 * Client, first: writes its hello to out and returns its length. offer is
 * a mask of suites this process runs (channel_suites_available), or
 * CHANNEL_OFFER_V1 for an "MFE1" hello.
 */
size_t	channel_client_hello(struct channel *, unsigned offer,
	    unsigned char out[CHANNEL_CLIENT_HELLO_MAX]);
/*
 * Client, on the first CHANNEL_SERVER_HELLO_PEEK bytes of the answer: the
 * length of the server's whole hello, or 0 and *cause when this is not a
 * hello that answers ours (another magic, a suite we did not offer).
 */
size_t	channel_server_hello_length(const struct channel *,
	    const unsigned char in[CHANNEL_SERVER_HELLO_PEEK], const char **cause);
/*
 * Client, on the server's whole hello (inlen bytes): copies the server's
 * long-term key to server_pk, derives the session keys and writes what the
 * client sends next to out, *outlen bytes (Hc2s, or none for AES-256-GCM).
 * The caller MUST check server_pk against its pin before it sends out or
 * anything else; a mismatch means dropping the connection with nothing
 * sent.
 */
int	channel_client_finish(struct channel *, const unsigned char *in,
	    size_t inlen, unsigned char server_pk[CHANNEL_KEY_LEN],
	    unsigned char out[CHANNEL_CLIENT_FINISH_MAX], size_t *outlen,
	    const char **cause);
/* Server, on a connection's first four bytes: the length of the client's
 * hello they start, or 0 when they are no channel magic (a plain frame). */
size_t	channel_client_hello_length(const unsigned char magic[CHANNEL_MAGIC_LEN]);
/*
 * Server, on the client's whole hello (inlen bytes): picks AES-256-GCM
 * when it is offered and in suites (what this server runs), else XChaCha20,
 * and writes the server's hello to out, *outlen bytes. An offer with no
 * suite in common is refused.
 */
int	channel_server_accept(struct channel *, const struct channel_keypair *,
	    unsigned suites, const unsigned char *in, size_t inlen,
	    unsigned char out[CHANNEL_SERVER_HELLO_MAX], size_t *outlen,
	    const char **cause);
/* Server, after its hello: the bytes channel_server_finish wants next. */
size_t	channel_client_finish_length(const struct channel *);
/* Server, on those bytes (Hc2s, or none): the channel is ready. */
int	channel_server_finish(struct channel *, const unsigned char *in,
	    const char **cause);
/* The suite a handshake settled on (CHANNEL_SUITE_*), 0 before. */
unsigned channel_suite(const struct channel *);
/* A suite's name for logs: "AES-256-GCM", "XChaCha20-Poly1305", "none". */
const char *channel_suite_name(unsigned);

/* --- records (a ready channel) --- */

/* At most the bytes a record of len plaintext bytes takes
 * (len <= CHANNEL_RECORD_MAX): room to give channel_seal. */
#define CHANNEL_SEALED_LEN(len)	((len) + CHANNEL_RECORD_OVERHEAD)
/* What a record adds to its plaintext in this channel's suite. */
size_t	channel_overhead(const struct channel *);
/*
 * Seals len (1..CHANNEL_RECORD_MAX) bytes as one record into out, which has
 * room for CHANNEL_SEALED_LEN(len); returns the bytes written. 0 when the
 * channel can seal no more (its record counter is spent: 2^64 records):
 * it has failed for good and the connection must be dropped.
 */
size_t	channel_seal(struct channel *, const unsigned char *, size_t len,
	    unsigned char *out);
/* From a record's first 4 bytes: its whole length, or 0 (and *cause) when
 * the length is out of bounds for the channel's suite. */
size_t	channel_record_length(const struct channel *,
	    const unsigned char hdr[CHANNEL_LENGTH_LEN], const char **cause);
/*
 * Opens one whole record of len bytes (as channel_record_length said) into
 * out, which has room for len - channel_overhead() bytes; *outlen is the
 * plaintext length. A record that was changed, replayed, reordered or cut
 * returns -1 and the channel fails for good.
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

/* Seals everything in src as records appended to dst; src is drained.
 * 0, or -1 when the channel can seal no more (see channel_seal). */
int	channel_buffer_seal(struct channel *, struct evbuffer *src,
	    struct evbuffer *dst);
/*
 * Opens whole records from src into dst while dst holds fewer than max
 * bytes. Returns the number of records opened, or -1 with *cause when a
 * record is bad (the peer must be dropped).
 */
int	channel_buffer_open(struct channel *, struct evbuffer *src,
	    struct evbuffer *dst, size_t max, const char **cause);

#endif
