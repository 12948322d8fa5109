/* channel.c -- the secure channel's handshake, records and key file.
 * libsodium does every cryptographic step; this file only arranges them. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "util.h"

#define KEYFILE_LEN	(crypto_kx_SECRETKEYBYTES + CHANNEL_KEY_LEN)

/*
 * Domain separation: each handshake version, suite and direction has its
 * own label, so no key is ever used by two suites or both directions.
 */
static const char	label_v1_c2s[] = "MediFlow channel v1 client->server";
static const char	label_v1_s2c[] = "MediFlow channel v1 server->client";
static const char	label_xchacha_c2s[] =
			    "MediFlow channel v2 xchacha20poly1305 client->server";
static const char	label_xchacha_s2c[] =
			    "MediFlow channel v2 xchacha20poly1305 server->client";
static const char	label_aes_c2s[] = "MediFlow channel v2 aes256gcm client->server";
static const char	label_aes_s2c[] = "MediFlow channel v2 aes256gcm server->client";
static const char	label_aes_rekey[] = "MediFlow channel v2 aes256gcm rekey";

#define KEY_LEN			32
#define AES_ABYTES		crypto_aead_aes256gcm_ABYTES
#define XCHACHA_ABYTES		crypto_secretstream_xchacha20poly1305_ABYTES
#define SERVER_HELLO_V1_LEN	(CHANNEL_MAGIC_LEN + 2 * CHANNEL_KEY_LEN + \
				 CHANNEL_HEADER_LEN)

_Static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == KEY_LEN &&
    crypto_aead_aes256gcm_KEYBYTES == KEY_LEN, "one derived key fits both suites");
_Static_assert(_Alignof(struct channel) <= 16, "channel_new aligns to 16");

static void	derive_key(unsigned char *, const char *, const unsigned char *,
		    size_t, const unsigned char *, const unsigned char *);
static void	derive_keys(const struct channel *, unsigned char *,
		    unsigned char *, const unsigned char *, const unsigned char *,
		    const unsigned char *, const unsigned char *);
static int	aes_start(struct channel_aes *, const unsigned char *);
static int	aes_nonce(struct channel_aes *, unsigned char *);
static int	suite_is_one(unsigned);
static void	be32_write(unsigned char *, uint32_t);
static uint32_t	be32_read(const unsigned char *);

struct channel *
channel_new(void)
{
	struct channel	*ch;
	void		*p;

	/* crypto_aead_aes256gcm_state must be 16-byte aligned: more than
	 * malloc promises everywhere. */
	if (posix_memalign(&p, 16, sizeof *ch) != 0)
		abort();	/* out of memory */
	ch = memset(p, 0, sizeof *ch);
	ch->state = CHANNEL_NEW;
	return ch;
}

void
channel_free(struct channel *ch)
{
	if (ch == NULL)
		return;
	sodium_memzero(ch, sizeof *ch);
	free(ch);
}

unsigned
channel_suites_available(void)
{
	return CHANNEL_SUITE_XCHACHA20 |
	    (crypto_aead_aes256gcm_is_available() ? CHANNEL_SUITE_AES256GCM : 0);
}

unsigned
channel_suite(const struct channel *ch)
{
	return ch->suite;
}

const char *
channel_suite_name(unsigned suite)
{
	switch (suite) {
	case CHANNEL_SUITE_AES256GCM:
		return "AES-256-GCM";
	case CHANNEL_SUITE_XCHACHA20:
		return "XChaCha20-Poly1305";
	}
	return "none";
}

static void
be32_write(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
be32_read(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* A suite byte names exactly one known suite. */
static int
suite_is_one(unsigned s)
{
	return s == CHANNEL_SUITE_XCHACHA20 || s == CHANNEL_SUITE_AES256GCM;
}

/*
 * One direction's key: BLAKE2b over a label, what the handshake bound (in
 * "MFE2" the offer and the suite, so a changed offer ends in keys that do
 * not match) and both crypto_kx results.
 */
static void
derive_key(unsigned char *out, const char *label, const unsigned char *bind,
    size_t bindlen, const unsigned char *static_k,
    const unsigned char *ephemeral_k)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, NULL, 0, KEY_LEN);
	crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
	if (bindlen > 0)
		crypto_generichash_update(&st, bind, bindlen);
	crypto_generichash_update(&st, static_k, crypto_kx_SESSIONKEYBYTES);
	crypto_generichash_update(&st, ephemeral_k, crypto_kx_SESSIONKEYBYTES);
	crypto_generichash_final(&st, out, KEY_LEN);
	sodium_memzero(&st, sizeof st);
}

/* Both directions' keys for the channel's version and suite, from each
 * direction's crypto_kx keys (with S, with Se). */
static void
derive_keys(const struct channel *ch, unsigned char *k_c2s,
    unsigned char *k_s2c, const unsigned char *c2s_static,
    const unsigned char *c2s_eph, const unsigned char *s2c_static,
    const unsigned char *s2c_eph)
{
	unsigned char	bind[2];

	if (ch->v1) {
		derive_key(k_c2s, label_v1_c2s, NULL, 0, c2s_static, c2s_eph);
		derive_key(k_s2c, label_v1_s2c, NULL, 0, s2c_static, s2c_eph);
		return;
	}
	bind[0] = (unsigned char)ch->offer;
	bind[1] = (unsigned char)ch->suite;
	if (ch->suite == CHANNEL_SUITE_AES256GCM) {
		derive_key(k_c2s, label_aes_c2s, bind, 2, c2s_static, c2s_eph);
		derive_key(k_s2c, label_aes_s2c, bind, 2, s2c_static, s2c_eph);
	} else {
		derive_key(k_c2s, label_xchacha_c2s, bind, 2, c2s_static, c2s_eph);
		derive_key(k_s2c, label_xchacha_s2c, bind, 2, s2c_static, s2c_eph);
	}
}

/* One AES-256-GCM direction from its key: record 0 next. */
static int
aes_start(struct channel_aes *a, const unsigned char *key)
{
	memcpy(a->key, key, sizeof a->key);
	a->count = 0;
	return crypto_aead_aes256gcm_beforenm(&a->st, a->key);
}

/*
 * The next record's nonce: 4 zero bytes and the u64 big-endian record
 * number. Every CHANNEL_AES_REKEY_RECORDS records both ends move to the
 * next key (BLAKE2b of a label and the old one), well inside AES-GCM's
 * bound on the data one key may seal. -1 once 2^64 - 1 records are spent:
 * the counter never wraps, so no nonce is used twice.
 */
static int
aes_nonce(struct channel_aes *a, unsigned char *nonce)
{
	crypto_generichash_state	st;

	if (a->count == UINT64_MAX)
		return -1;
	if (a->count != 0 && a->count % CHANNEL_AES_REKEY_RECORDS == 0) {
		crypto_generichash_init(&st, NULL, 0, KEY_LEN);
		crypto_generichash_update(&st, (const unsigned char *)label_aes_rekey,
		    strlen(label_aes_rekey));
		crypto_generichash_update(&st, a->key, sizeof a->key);
		crypto_generichash_final(&st, a->key, KEY_LEN);
		sodium_memzero(&st, sizeof st);
		if (crypto_aead_aes256gcm_beforenm(&a->st, a->key) != 0)
			return -1;
	}
	memset(nonce, 0, 4);
	be32_write(nonce + 4, (uint32_t)(a->count >> 32));
	be32_write(nonce + 8, (uint32_t)a->count);
	a->count++;
	return 0;
}

size_t
channel_client_hello(struct channel *ch, unsigned offer,
    unsigned char out[CHANNEL_CLIENT_HELLO_MAX])
{
	unsigned char	*p = out;

	/* The caller's bug, never the peer's: an offer we could not keep. */
	if (ch->state != CHANNEL_NEW || (offer != CHANNEL_OFFER_V1 &&
	    ((offer & CHANNEL_SUITES_KNOWN) == 0 ||
	    (offer & ~channel_suites_available()) != 0)))
		abort();
	crypto_kx_keypair(ch->eph_pk, ch->eph_sk);
	if (offer == CHANNEL_OFFER_V1) {
		ch->v1 = 1;
		ch->offer = CHANNEL_SUITE_XCHACHA20;
		memcpy(p, CHANNEL_MAGIC_V1, CHANNEL_MAGIC_LEN);
		p += CHANNEL_MAGIC_LEN;
	} else {
		ch->offer = offer;
		memcpy(p, CHANNEL_MAGIC_V2, CHANNEL_MAGIC_LEN);
		p += CHANNEL_MAGIC_LEN;
		*p++ = (unsigned char)offer;
	}
	memcpy(p, ch->eph_pk, CHANNEL_KEY_LEN);
	p += CHANNEL_KEY_LEN;
	ch->state = CHANNEL_CLIENT_SENT;
	return (size_t)(p - out);
}

size_t
channel_server_hello_length(const struct channel *ch,
    const unsigned char in[CHANNEL_SERVER_HELLO_PEEK], const char **cause)
{
	const char	*magic = ch->v1 ? CHANNEL_MAGIC_V1 : CHANNEL_MAGIC_V2;
	unsigned	 suite;

	if (ch->state != CHANNEL_CLIENT_SENT) {
		*cause = "handshake out of order";
		return 0;
	}
	if (memcmp(in, magic, CHANNEL_MAGIC_LEN) != 0) {
		/* The other magic would be a server that ignored our version:
		 * a man in the middle steering the choice, or a bug. */
		*cause = channel_client_hello_length(in) != 0 ?
		    "the server answered another version of the handshake" :
		    "the server did not answer the encrypted handshake (an "
		    "older mediflowd, or not mediflowd at all)";
		return 0;
	}
	if (ch->v1)
		return SERVER_HELLO_V1_LEN;
	suite = in[CHANNEL_MAGIC_LEN];
	if (!suite_is_one(suite) || (suite & ch->offer) == 0) {
		*cause = "the server chose a cipher suite this client did not offer";
		return 0;
	}
	return CHANNEL_MAGIC_LEN + 1 + 2 * CHANNEL_KEY_LEN +
	    (suite == CHANNEL_SUITE_XCHACHA20 ? CHANNEL_HEADER_LEN : 0);
}

int
channel_client_finish(struct channel *ch, const unsigned char *in,
    size_t inlen, unsigned char server_pk[CHANNEL_KEY_LEN],
    unsigned char out[CHANNEL_CLIENT_FINISH_MAX], size_t *outlen,
    const char **cause)
{
	const unsigned char	*spk, *epk, *hdr;
	unsigned char		 rx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 rx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 k_c2s[KEY_LEN], k_s2c[KEY_LEN];
	size_t			 want;
	int			 rc = -1;

	*outlen = 0;
	if (ch->state != CHANNEL_CLIENT_SENT) {
		*cause = "handshake out of order";
		goto out;
	}
	if (inlen < CHANNEL_SERVER_HELLO_PEEK ||
	    (want = channel_server_hello_length(ch, in, cause)) == 0) {
		if (inlen < CHANNEL_SERVER_HELLO_PEEK)
			*cause = "the server's hello is cut short";
		goto out;
	}
	if (inlen != want) {
		*cause = "the server's hello has the wrong length";
		goto out;
	}
	ch->suite = ch->v1 ? CHANNEL_SUITE_XCHACHA20 : in[CHANNEL_MAGIC_LEN];
	spk = in + CHANNEL_MAGIC_LEN + (ch->v1 ? 0 : 1);
	epk = spk + CHANNEL_KEY_LEN;
	hdr = epk + CHANNEL_KEY_LEN;
	memcpy(server_pk, spk, CHANNEL_KEY_LEN);
	/* Both fail on a key of small order (an all-zero shared secret). */
	if (crypto_kx_client_session_keys(rx1, tx1, ch->eph_pk, ch->eph_sk,
	    spk) != 0 ||
	    crypto_kx_client_session_keys(rx2, tx2, ch->eph_pk, ch->eph_sk,
	    epk) != 0) {
		*cause = "the server sent an unusable key";
		goto out;
	}
	derive_keys(ch, k_c2s, k_s2c, tx1, tx2, rx1, rx2);
	if (ch->suite == CHANNEL_SUITE_AES256GCM) {
		if (aes_start(&ch->aes_tx, k_c2s) != 0 ||
		    aes_start(&ch->aes_rx, k_s2c) != 0) {
			*cause = "AES-256-GCM failed to start";
			goto out;
		}
	} else {
		if (crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, hdr,
		    k_s2c) != 0) {
			*cause = "bad stream header from the server";
			goto out;
		}
		crypto_secretstream_xchacha20poly1305_init_push(&ch->tx, out, k_c2s);
		*outlen = CHANNEL_HEADER_LEN;
	}
	ch->state = CHANNEL_READY;
	rc = 0;
out:
	sodium_memzero(rx1, sizeof rx1);
	sodium_memzero(tx1, sizeof tx1);
	sodium_memzero(rx2, sizeof rx2);
	sodium_memzero(tx2, sizeof tx2);
	sodium_memzero(k_c2s, sizeof k_c2s);
	sodium_memzero(k_s2c, sizeof k_s2c);
	sodium_memzero(ch->eph_sk, sizeof ch->eph_sk);
	if (rc != 0) {
		*outlen = 0;
		ch->state = CHANNEL_FAILED;
	}
	return rc;
}

size_t
channel_client_hello_length(const unsigned char magic[CHANNEL_MAGIC_LEN])
{
	if (memcmp(magic, CHANNEL_MAGIC_V1, CHANNEL_MAGIC_LEN) == 0)
		return CHANNEL_CLIENT_HELLO_V1_LEN;
	if (memcmp(magic, CHANNEL_MAGIC_V2, CHANNEL_MAGIC_LEN) == 0)
		return CHANNEL_CLIENT_HELLO_MAX;
	return 0;
}

int
channel_server_accept(struct channel *ch, const struct channel_keypair *kp,
    unsigned suites, const unsigned char *in, size_t inlen,
    unsigned char out[CHANNEL_SERVER_HELLO_MAX], size_t *outlen,
    const char **cause)
{
	const unsigned char	*cpk;
	unsigned char		 rx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 rx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 k_c2s[KEY_LEN], k_s2c[KEY_LEN];
	unsigned char		*p = out;
	unsigned		 common;
	int			 rc = -1;

	*outlen = 0;
	if (ch->state != CHANNEL_NEW) {
		*cause = "handshake out of order";
		goto out;
	}
	if (inlen < CHANNEL_MAGIC_LEN ||
	    channel_client_hello_length(in) != inlen) {
		*cause = "not an encrypted handshake";
		goto out;
	}
	ch->v1 = inlen == CHANNEL_CLIENT_HELLO_V1_LEN;
	/* Unknown bits in an offer are a later client's suites: ignored. */
	ch->offer = ch->v1 ? CHANNEL_SUITE_XCHACHA20 : in[CHANNEL_MAGIC_LEN];
	common = ch->offer & suites & channel_suites_available();
	if (common & CHANNEL_SUITE_AES256GCM)
		ch->suite = CHANNEL_SUITE_AES256GCM;
	else if (common & CHANNEL_SUITE_XCHACHA20)
		ch->suite = CHANNEL_SUITE_XCHACHA20;
	else {
		*cause = "the client offered no cipher suite this server runs";
		goto out;
	}
	cpk = in + (ch->v1 ? CHANNEL_MAGIC_LEN : CHANNEL_MAGIC_LEN + 1);
	crypto_kx_keypair(ch->eph_pk, ch->eph_sk);
	if (crypto_kx_server_session_keys(rx1, tx1, kp->pk, kp->sk, cpk) != 0 ||
	    crypto_kx_server_session_keys(rx2, tx2, ch->eph_pk, ch->eph_sk,
	    cpk) != 0) {
		*cause = "the client sent an unusable key";
		goto out;
	}
	/* The server's rx is the client's tx. */
	derive_keys(ch, k_c2s, k_s2c, rx1, rx2, tx1, tx2);
	memcpy(p, ch->v1 ? CHANNEL_MAGIC_V1 : CHANNEL_MAGIC_V2, CHANNEL_MAGIC_LEN);
	p += CHANNEL_MAGIC_LEN;
	if (!ch->v1)
		*p++ = (unsigned char)ch->suite;
	memcpy(p, kp->pk, CHANNEL_KEY_LEN);
	p += CHANNEL_KEY_LEN;
	memcpy(p, ch->eph_pk, CHANNEL_KEY_LEN);
	p += CHANNEL_KEY_LEN;
	if (ch->suite == CHANNEL_SUITE_AES256GCM) {
		if (aes_start(&ch->aes_tx, k_s2c) != 0 ||
		    aes_start(&ch->aes_rx, k_c2s) != 0) {
			*cause = "AES-256-GCM failed to start";
			goto out;
		}
	} else {
		crypto_secretstream_xchacha20poly1305_init_push(&ch->tx, p, k_s2c);
		p += CHANNEL_HEADER_LEN;
		memcpy(ch->rx_key, k_c2s, sizeof ch->rx_key);
	}
	*outlen = (size_t)(p - out);
	ch->state = CHANNEL_SERVER_SENT;
	rc = 0;
out:
	sodium_memzero(rx1, sizeof rx1);
	sodium_memzero(tx1, sizeof tx1);
	sodium_memzero(rx2, sizeof rx2);
	sodium_memzero(tx2, sizeof tx2);
	sodium_memzero(k_c2s, sizeof k_c2s);
	sodium_memzero(k_s2c, sizeof k_s2c);
	sodium_memzero(ch->eph_sk, sizeof ch->eph_sk);
	if (rc != 0) {
		*outlen = 0;
		ch->state = CHANNEL_FAILED;
	}
	return rc;
}

size_t
channel_client_finish_length(const struct channel *ch)
{
	return ch->suite == CHANNEL_SUITE_XCHACHA20 ? CHANNEL_HEADER_LEN : 0;
}

int
channel_server_finish(struct channel *ch, const unsigned char *in,
    const char **cause)
{
	int	rc = 0;

	if (ch->state != CHANNEL_SERVER_SENT) {
		*cause = "handshake out of order";
		rc = -1;
	} else if (ch->suite == CHANNEL_SUITE_XCHACHA20 &&
	    crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, in,
	    ch->rx_key) != 0) {
		*cause = "bad stream header from the client";
		rc = -1;
	}
	sodium_memzero(ch->rx_key, sizeof ch->rx_key);
	ch->state = rc == 0 ? CHANNEL_READY : CHANNEL_FAILED;
	return rc;
}

size_t
channel_overhead(const struct channel *ch)
{
	return CHANNEL_LENGTH_LEN + (ch->suite == CHANNEL_SUITE_AES256GCM ?
	    AES_ABYTES : XCHACHA_ABYTES);
}

size_t
channel_seal(struct channel *ch, const unsigned char *in, size_t len,
    unsigned char *out)
{
	unsigned char		nonce[crypto_aead_aes256gcm_NPUBBYTES];
	unsigned long long	clen;

	if (ch->state == CHANNEL_FAILED)
		return 0;
	if (ch->state != CHANNEL_READY || len == 0 || len > CHANNEL_RECORD_MAX)
		abort();	/* the caller's bug, never the peer's */
	/* The length is authenticated too, as additional data. */
	be32_write(out, (uint32_t)(len + channel_overhead(ch) -
	    CHANNEL_LENGTH_LEN));
	if (ch->suite == CHANNEL_SUITE_AES256GCM) {
		if (aes_nonce(&ch->aes_tx, nonce) != 0) {
			ch->state = CHANNEL_FAILED;
			return 0;
		}
		crypto_aead_aes256gcm_encrypt_afternm(out + CHANNEL_LENGTH_LEN,
		    &clen, in, len, out, CHANNEL_LENGTH_LEN, NULL, nonce,
		    &ch->aes_tx.st);
	} else
		crypto_secretstream_xchacha20poly1305_push(&ch->tx,
		    out + CHANNEL_LENGTH_LEN, &clen, in, len, out,
		    CHANNEL_LENGTH_LEN,
		    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	return CHANNEL_LENGTH_LEN + (size_t)clen;
}

size_t
channel_record_length(const struct channel *ch,
    const unsigned char hdr[CHANNEL_LENGTH_LEN], const char **cause)
{
	uint32_t	ctlen = be32_read(hdr);
	size_t		abytes = channel_overhead(ch) - CHANNEL_LENGTH_LEN;

	if (ctlen <= abytes || ctlen > CHANNEL_RECORD_MAX + abytes) {
		*cause = "encrypted record of impossible length";
		return 0;
	}
	return CHANNEL_LENGTH_LEN + (size_t)ctlen;
}

int
channel_open(struct channel *ch, const unsigned char *rec, size_t len,
    unsigned char *out, size_t *outlen, const char **cause)
{
	unsigned char		nonce[crypto_aead_aes256gcm_NPUBBYTES];
	unsigned long long	mlen;
	unsigned char		tag;

	if (ch->state != CHANNEL_READY) {
		*cause = "channel not ready";
		return -1;
	}
	if (len < CHANNEL_LENGTH_LEN ||
	    channel_record_length(ch, rec, cause) != len) {
		/* A cut record: its length says more than there is. */
		*cause = "encrypted record truncated or of the wrong length";
		goto fail;
	}
	if (ch->suite == CHANNEL_SUITE_AES256GCM) {
		if (aes_nonce(&ch->aes_rx, nonce) != 0) {
			*cause = "encrypted record counter spent";
			goto fail;
		}
		/* The implicit counter refuses a replayed, reordered or
		 * dropped record: its nonce is not the one expected. */
		if (crypto_aead_aes256gcm_decrypt_afternm(out, &mlen, NULL,
		    rec + CHANNEL_LENGTH_LEN, len - CHANNEL_LENGTH_LEN, rec,
		    CHANNEL_LENGTH_LEN, nonce, &ch->aes_rx.st) != 0) {
			*cause = "encrypted record failed authentication";
			goto fail;
		}
		*outlen = (size_t)mlen;
		return 0;
	}
	if (crypto_secretstream_xchacha20poly1305_pull(&ch->rx, out, &mlen, &tag,
	    rec + CHANNEL_LENGTH_LEN, len - CHANNEL_LENGTH_LEN, rec,
	    CHANNEL_LENGTH_LEN) != 0) {
		*cause = "encrypted record failed authentication";
		goto fail;
	}
	/* We only ever send TAG_MESSAGE: anything else is not ours. */
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
		*cause = "unexpected encrypted record tag";
		goto fail;
	}
	*outlen = (size_t)mlen;
	return 0;
fail:
	ch->state = CHANNEL_FAILED;
	return -1;
}

void
channel_fingerprint(const unsigned char pk[CHANNEL_KEY_LEN],
    char out[CHANNEL_FINGERPRINT_SIZE])
{
	unsigned char	digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, pk, CHANNEL_KEY_LEN);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, CHANNEL_FINGERPRINT_SIZE - 7, digest,
	    sizeof digest, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

static int
keypair_read(const char *path, struct channel_keypair *kp, char **cause)
{
	unsigned char	buf[KEYFILE_LEN + 1], check[CHANNEL_KEY_LEN];
	struct stat	st;
	ssize_t		n;
	size_t		got = 0;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		*cause = xasprintf("%s: the server's secret key is open to others "
		    "(mode %04o); chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	while (got < sizeof buf &&
	    (n = read(fd, buf + got, sizeof buf - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*cause = xasprintf("%s: %s", path, strerror(errno));
			close(fd);
			sodium_memzero(buf, sizeof buf);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got != KEYFILE_LEN) {
		*cause = xasprintf("%s: not a mediflowd key (want %d bytes)", path,
		    KEYFILE_LEN);
		sodium_memzero(buf, sizeof buf);
		return -1;
	}
	memcpy(kp->sk, buf, sizeof kp->sk);
	memcpy(kp->pk, buf + sizeof kp->sk, sizeof kp->pk);
	sodium_memzero(buf, sizeof buf);
	/* The public half must belong to the secret half. */
	if (crypto_scalarmult_base(check, kp->sk) != 0 ||
	    sodium_memcmp(check, kp->pk, sizeof check) != 0) {
		*cause = xasprintf("%s: damaged key (the halves do not match)", path);
		sodium_memzero(kp, sizeof *kp);
		return -1;
	}
	return 0;
}

static int
keypair_write(const char *path, struct channel_keypair *kp, char **cause)
{
	unsigned char	 buf[KEYFILE_LEN];
	char		*tmp;
	int		 fd, rc = -1;

	crypto_kx_keypair(kp->pk, kp->sk);
	memcpy(buf, kp->sk, sizeof kp->sk);
	memcpy(buf + sizeof kp->sk, kp->pk, sizeof kp->pk);
	/* Written aside and linked into place: a crash leaves no half key,
	 * and two starting servers cannot both win. */
	tmp = xasprintf("%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*cause = xasprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, buf, sizeof buf) !=
	    (ssize_t)sizeof buf || fsync(fd) != 0) {
		*cause = xasprintf("%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (link(tmp, path) != 0) {
		int	saved = errno;

		unlink(tmp);
		if (saved == EEXIST) {
			rc = 1;		/* someone else was first: use theirs */
			goto out;
		}
		*cause = xasprintf("%s: %s", path, strerror(saved));
		goto out;
	}
	unlink(tmp);
	rc = 0;
out:
	sodium_memzero(buf, sizeof buf);
	free(tmp);
	return rc;
}

int
channel_keypair_load(const char *path, int create, struct channel_keypair *kp,
    int *created, char **cause)
{
	int	rc;

	*created = 0;
	if (access(path, F_OK) != 0 && errno == ENOENT && create) {
		if ((rc = keypair_write(path, kp, cause)) < 0)
			return -1;
		if (rc == 0) {
			*created = 1;
			return 0;
		}
	}
	return keypair_read(path, kp, cause);
}
