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

/* Domain separation for the two directions' keys. */
static const char	label_c2s[] = "MediFlow channel v1 client->server";
static const char	label_s2c[] = "MediFlow channel v1 server->client";

static void	derive_key(unsigned char *, const char *,
		    const unsigned char *, const unsigned char *);
static void	be32_write(unsigned char *, uint32_t);
static uint32_t	be32_read(const unsigned char *);

struct channel *
channel_new(void)
{
	struct channel	*ch = xcalloc(1, sizeof *ch);

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

/* One direction's key: BLAKE2b over a label and both crypto_kx results. */
static void
derive_key(unsigned char *out, const char *label, const unsigned char *static_k,
    const unsigned char *ephemeral_k)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, NULL, 0,
	    crypto_secretstream_xchacha20poly1305_KEYBYTES);
	crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
	crypto_generichash_update(&st, static_k, crypto_kx_SESSIONKEYBYTES);
	crypto_generichash_update(&st, ephemeral_k, crypto_kx_SESSIONKEYBYTES);
	crypto_generichash_final(&st, out,
	    crypto_secretstream_xchacha20poly1305_KEYBYTES);
	sodium_memzero(&st, sizeof st);
}

void
channel_client_hello(struct channel *ch, unsigned char out[CHANNEL_CLIENT_HELLO_LEN])
{
	crypto_kx_keypair(ch->eph_pk, ch->eph_sk);
	memcpy(out, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN);
	memcpy(out + CHANNEL_MAGIC_LEN, ch->eph_pk, CHANNEL_KEY_LEN);
	ch->state = CHANNEL_CLIENT_SENT;
}

int
channel_client_finish(struct channel *ch,
    const unsigned char in[CHANNEL_SERVER_HELLO_LEN],
    unsigned char server_pk[CHANNEL_KEY_LEN],
    unsigned char out[CHANNEL_CLIENT_FINISH_LEN], const char **cause)
{
	const unsigned char	*spk = in + CHANNEL_MAGIC_LEN;
	const unsigned char	*epk = spk + CHANNEL_KEY_LEN;
	const unsigned char	*hdr = epk + CHANNEL_KEY_LEN;
	unsigned char		 rx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 rx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 k_c2s[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	unsigned char		 k_s2c[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	int			 rc = -1;

	if (ch->state != CHANNEL_CLIENT_SENT) {
		*cause = "handshake out of order";
		goto out;
	}
	if (memcmp(in, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN) != 0) {
		*cause = "the server did not answer the encrypted handshake";
		goto out;
	}
	memcpy(server_pk, spk, CHANNEL_KEY_LEN);
	/* Both fail on a key of small order (an all-zero shared secret). */
	if (crypto_kx_client_session_keys(rx1, tx1, ch->eph_pk, ch->eph_sk,
	    spk) != 0 ||
	    crypto_kx_client_session_keys(rx2, tx2, ch->eph_pk, ch->eph_sk,
	    epk) != 0) {
		*cause = "the server sent an unusable key";
		goto out;
	}
	derive_key(k_c2s, label_c2s, tx1, tx2);
	derive_key(k_s2c, label_s2c, rx1, rx2);
	if (crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, hdr,
	    k_s2c) != 0) {
		*cause = "bad stream header from the server";
		goto out;
	}
	crypto_secretstream_xchacha20poly1305_init_push(&ch->tx, out, k_c2s);
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
	if (rc != 0)
		ch->state = CHANNEL_FAILED;
	return rc;
}

int
channel_server_accept(struct channel *ch, const struct channel_keypair *kp,
    const unsigned char in[CHANNEL_CLIENT_HELLO_LEN],
    unsigned char out[CHANNEL_SERVER_HELLO_LEN], const char **cause)
{
	const unsigned char	*cpk = in + CHANNEL_MAGIC_LEN;
	unsigned char		 rx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx1[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 rx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 tx2[crypto_kx_SESSIONKEYBYTES];
	unsigned char		 k_s2c[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	unsigned char		*p = out;
	int			 rc = -1;

	if (ch->state != CHANNEL_NEW) {
		*cause = "handshake out of order";
		goto out;
	}
	if (memcmp(in, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN) != 0) {
		*cause = "not an encrypted handshake";
		goto out;
	}
	crypto_kx_keypair(ch->eph_pk, ch->eph_sk);
	if (crypto_kx_server_session_keys(rx1, tx1, kp->pk, kp->sk, cpk) != 0 ||
	    crypto_kx_server_session_keys(rx2, tx2, ch->eph_pk, ch->eph_sk,
	    cpk) != 0) {
		*cause = "the client sent an unusable key";
		goto out;
	}
	/* The server's rx is the client's tx. */
	derive_key(ch->rx_key, label_c2s, rx1, rx2);
	derive_key(k_s2c, label_s2c, tx1, tx2);
	memcpy(p, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN);
	p += CHANNEL_MAGIC_LEN;
	memcpy(p, kp->pk, CHANNEL_KEY_LEN);
	p += CHANNEL_KEY_LEN;
	memcpy(p, ch->eph_pk, CHANNEL_KEY_LEN);
	p += CHANNEL_KEY_LEN;
	crypto_secretstream_xchacha20poly1305_init_push(&ch->tx, p, k_s2c);
	ch->state = CHANNEL_SERVER_SENT;
	rc = 0;
out:
	sodium_memzero(rx1, sizeof rx1);
	sodium_memzero(tx1, sizeof tx1);
	sodium_memzero(rx2, sizeof rx2);
	sodium_memzero(tx2, sizeof tx2);
	sodium_memzero(k_s2c, sizeof k_s2c);
	sodium_memzero(ch->eph_sk, sizeof ch->eph_sk);
	if (rc != 0)
		ch->state = CHANNEL_FAILED;
	return rc;
}

int
channel_server_finish(struct channel *ch,
    const unsigned char in[CHANNEL_CLIENT_FINISH_LEN], const char **cause)
{
	int	rc = 0;

	if (ch->state != CHANNEL_SERVER_SENT) {
		*cause = "handshake out of order";
		rc = -1;
	} else if (crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, in,
	    ch->rx_key) != 0) {
		*cause = "bad stream header from the client";
		rc = -1;
	}
	sodium_memzero(ch->rx_key, sizeof ch->rx_key);
	ch->state = rc == 0 ? CHANNEL_READY : CHANNEL_FAILED;
	return rc;
}

size_t
channel_seal(struct channel *ch, const unsigned char *in, size_t len,
    unsigned char *out)
{
	unsigned long long	clen;
	size_t			ctlen = len + crypto_secretstream_xchacha20poly1305_ABYTES;

	if (ch->state != CHANNEL_READY || len == 0 || len > CHANNEL_RECORD_MAX)
		abort();	/* the caller's bug, never the peer's */
	/* The length is authenticated too, as additional data. */
	be32_write(out, (uint32_t)ctlen);
	crypto_secretstream_xchacha20poly1305_push(&ch->tx,
	    out + CHANNEL_LENGTH_LEN, &clen, in, len, out, CHANNEL_LENGTH_LEN,
	    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	return CHANNEL_LENGTH_LEN + (size_t)clen;
}

size_t
channel_record_length(const unsigned char hdr[CHANNEL_LENGTH_LEN],
    const char **cause)
{
	uint32_t	ctlen = be32_read(hdr);

	if (ctlen <= crypto_secretstream_xchacha20poly1305_ABYTES ||
	    ctlen > CHANNEL_RECORD_MAX + crypto_secretstream_xchacha20poly1305_ABYTES) {
		*cause = "encrypted record of impossible length";
		return 0;
	}
	return CHANNEL_LENGTH_LEN + (size_t)ctlen;
}

int
channel_open(struct channel *ch, const unsigned char *rec, size_t len,
    unsigned char *out, size_t *outlen, const char **cause)
{
	unsigned long long	mlen;
	unsigned char		tag;

	if (ch->state != CHANNEL_READY) {
		*cause = "channel not ready";
		return -1;
	}
	if (len < CHANNEL_LENGTH_LEN || channel_record_length(rec, cause) != len) {
		/* A cut record: its length says more than there is. */
		*cause = "encrypted record truncated or of the wrong length";
		ch->state = CHANNEL_FAILED;
		return -1;
	}
	if (crypto_secretstream_xchacha20poly1305_pull(&ch->rx, out, &mlen, &tag,
	    rec + CHANNEL_LENGTH_LEN, len - CHANNEL_LENGTH_LEN, rec,
	    CHANNEL_LENGTH_LEN) != 0) {
		*cause = "encrypted record failed authentication";
		ch->state = CHANNEL_FAILED;
		return -1;
	}
	/* We only ever send TAG_MESSAGE: anything else is not ours. */
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
		*cause = "unexpected encrypted record tag";
		ch->state = CHANNEL_FAILED;
		return -1;
	}
	*outlen = (size_t)mlen;
	return 0;
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
