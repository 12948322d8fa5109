/* test_channel.c -- the secure channel's codec between two peers in memory:
 * the handshake and its choice of suite, key agreement, records, and
 * everything an active attacker can do to them (flip, replay, reorder, cut,
 * swap the server's key, change the offer). The record tests run once per
 * suite: AES-256-GCM, XChaCha20 offered in "MFE2", and the "MFE1" hello of
 * older clients. */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "channel.h"
#include "frame.h"
#include "proto.h"
#include "util.h"

struct pair {
	struct channel_keypair	 server_key;
	struct channel		*client;
	struct channel		*server;
	unsigned char		 seen_pk[CHANNEL_KEY_LEN];	/* as the client saw it */
};

static char	tmpdir[] = "/tmp/mf-test-channel-XXXXXX";

/* What the client offers, as each test's initial state. */
static unsigned	offer_aes = CHANNEL_SUITE_AES256GCM;
static unsigned	offer_xchacha = CHANNEL_SUITE_XCHACHA20;
static unsigned	offer_v1 = CHANNEL_OFFER_V1;

#define SUITE_TESTS(f)							\
	{ #f " [AES-256-GCM]", f, NULL, NULL, &offer_aes },		\
	{ #f " [XChaCha20]", f, NULL, NULL, &offer_xchacha },		\
	{ #f " [MFE1]", f, NULL, NULL, &offer_v1 }

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char	path[256];

	(void)state;
	snprintf(path, sizeof path, "%s/server.key", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static int
have_aes(void)
{
	return (channel_suites_available() & CHANNEL_SUITE_AES256GCM) != 0;
}

/* The test's offer; AES-256-GCM is skipped on a CPU without AES-NI. */
static unsigned
test_offer(void **state)
{
	unsigned	offer = *(unsigned *)*state;

	if (offer == CHANNEL_SUITE_AES256GCM && !have_aes())
		skip();
	return offer;
}

/* Runs the whole handshake with a server that runs suites, asserting each
 * step; returns the suite both settled on. */
static unsigned
pair_open_full(struct pair *p, const struct channel_keypair *kp,
    unsigned offer, unsigned suites)
{
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char	 reply[CHANNEL_SERVER_HELLO_MAX];
	unsigned char	 finish[CHANNEL_CLIENT_FINISH_MAX];
	const char	*cause = NULL;
	size_t		 hlen, rlen, flen;

	p->server_key = *kp;
	p->client = channel_new();
	p->server = channel_new();
	hlen = channel_client_hello(p->client, offer, hello);
	assert_int_equal(hlen, channel_client_hello_length(hello));
	assert_memory_equal(hello, offer == CHANNEL_OFFER_V1 ? CHANNEL_MAGIC_V1 :
	    CHANNEL_MAGIC_V2, CHANNEL_MAGIC_LEN);
	if (channel_server_accept(p->server, kp, suites, hello, hlen, reply,
	    &rlen, &cause) != 0) {
		print_error("accept: %s\n", cause);
		fail();
	}
	assert_int_equal(channel_server_hello_length(p->client, reply, &cause),
	    rlen);
	assert_int_equal(channel_client_finish(p->client, reply, rlen,
	    p->seen_pk, finish, &flen, &cause), 0);
	assert_int_equal(flen, channel_client_finish_length(p->server));
	assert_int_equal(channel_server_finish(p->server, finish, &cause), 0);
	assert_int_equal(p->client->state, CHANNEL_READY);
	assert_int_equal(p->server->state, CHANNEL_READY);
	assert_int_equal(channel_suite(p->client), channel_suite(p->server));
	/* The AES state's alignment, as libsodium requires. */
	assert_int_equal((uintptr_t)&p->client->aes_tx.st % 16, 0);
	return channel_suite(p->client);
}

static void
pair_open_with(struct pair *p, const struct channel_keypair *kp,
    unsigned offer)
{
	unsigned	suite;

	suite = pair_open_full(p, kp, offer, channel_suites_available());
	assert_int_equal(suite, offer == CHANNEL_SUITE_AES256GCM ?
	    CHANNEL_SUITE_AES256GCM : CHANNEL_SUITE_XCHACHA20);
}

static void
pair_open(struct pair *p, unsigned offer)
{
	struct channel_keypair	kp;

	crypto_kx_keypair(kp.pk, kp.sk);
	pair_open_with(p, &kp, offer);
}

static void
pair_close(struct pair *p)
{
	channel_free(p->client);
	channel_free(p->server);
}

/* Seals msg on from and opens it on to; asserts the round trip. */
static void
assert_round_trip(struct channel *from, struct channel *to, const void *msg,
    size_t len)
{
	unsigned char	*rec = xmalloc(CHANNEL_SEALED_LEN(len)), *out;
	const char	*cause = NULL;
	size_t		 rlen, olen = 0;

	rlen = channel_seal(from, msg, len, rec);
	assert_int_equal(rlen, len + channel_overhead(from));
	assert_true(rlen <= CHANNEL_SEALED_LEN(len));
	assert_int_equal(channel_record_length(to, rec, &cause), rlen);
	out = xmalloc(len);
	if (channel_open(to, rec, rlen, out, &olen, &cause) != 0) {
		print_error("open: %s\n", cause);
		fail();
	}
	assert_int_equal(olen, len);
	assert_memory_equal(out, msg, len);
	free(rec);
	free(out);
}

static int
open_fails(struct channel *to, const unsigned char *rec, size_t len)
{
	unsigned char	 out[CHANNEL_RECORD_MAX];
	const char	*cause = NULL;
	size_t		 olen;
	int		 rc;

	rc = channel_open(to, rec, len, out, &olen, &cause);
	if (rc != 0)
		assert_non_null(cause);
	return rc != 0;
}

/* --- the handshake --- */

static void
test_handshake_agrees_on_keys_in_both_directions(void **state)
{
	struct pair	p;
	const char	req[] = "\x00\x00\x00\x05\x81\xa2id\x01";

	pair_open(&p, test_offer(state));
	assert_memory_equal(p.seen_pk, p.server_key.pk, CHANNEL_KEY_LEN);
	assert_round_trip(p.client, p.server, req, sizeof req - 1);
	assert_round_trip(p.server, p.client, "reply", 5);
	/* Many in a row: each side's counter moves in step. */
	for (int i = 0; i < 100; i++) {
		assert_round_trip(p.client, p.server, "ping", 4);
		assert_round_trip(p.server, p.client, "pong", 4);
	}
	pair_close(&p);
}

static void
test_negotiation_picks_aes_when_offered_and_available(void **state)
{
	struct channel_keypair	kp;
	struct pair		p;

	(void)state;
	if (!have_aes())
		skip();
	crypto_kx_keypair(kp.pk, kp.sk);
	/* What mediflow offers on this CPU: both, and AES wins. */
	assert_int_equal(pair_open_full(&p, &kp, channel_suites_available(),
	    channel_suites_available()), CHANNEL_SUITE_AES256GCM);
	assert_int_equal(channel_overhead(p.client), CHANNEL_LENGTH_LEN +
	    crypto_aead_aes256gcm_ABYTES);
	assert_round_trip(p.client, p.server, "aes", 3);
	assert_round_trip(p.server, p.client, "gcm", 3);
	pair_close(&p);
}

static void
test_negotiation_falls_back_to_xchacha_otherwise(void **state)
{
	struct channel_keypair	kp;
	struct pair		p;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	/* A server without AES-NI, offered both. */
	assert_int_equal(pair_open_full(&p, &kp, channel_suites_available(),
	    CHANNEL_SUITE_XCHACHA20), CHANNEL_SUITE_XCHACHA20);
	assert_round_trip(p.client, p.server, "x", 1);
	assert_round_trip(p.server, p.client, "y", 1);
	pair_close(&p);
	/* A client without AES-NI, at a server with it. */
	assert_int_equal(pair_open_full(&p, &kp, CHANNEL_SUITE_XCHACHA20,
	    channel_suites_available()), CHANNEL_SUITE_XCHACHA20);
	assert_round_trip(p.client, p.server, "x", 1);
	pair_close(&p);
	/* An "MFE1" client: XChaCha20, whatever the server runs. */
	assert_int_equal(pair_open_full(&p, &kp, CHANNEL_OFFER_V1,
	    channel_suites_available()), CHANNEL_SUITE_XCHACHA20);
	assert_round_trip(p.client, p.server, "x", 1);
	pair_close(&p);
}

static void
test_mfe1_client_gets_the_mfe1_handshake_unchanged(void **state)
{
	struct channel_keypair	 kp;
	struct channel		*c = channel_new(), *s = channel_new();
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_MAX];
	unsigned char		 finish[CHANNEL_CLIENT_FINISH_MAX];
	unsigned char		 pk[CHANNEL_KEY_LEN];
	const char		*cause = NULL;
	size_t			 hlen, rlen, flen;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	/* The wire of clients that predate suites: 36, 92 and 24 bytes. */
	hlen = channel_client_hello(c, CHANNEL_OFFER_V1, hello);
	assert_int_equal(hlen, 36);
	assert_memory_equal(hello, "MFE1", 4);
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	assert_int_equal(rlen, 92);
	assert_memory_equal(reply, "MFE1", 4);
	assert_memory_equal(reply + 4, kp.pk, CHANNEL_KEY_LEN);
	assert_int_equal(channel_client_finish_length(s), 24);
	assert_int_equal(channel_client_finish(c, reply, rlen, pk, finish, &flen,
	    &cause), 0);
	assert_int_equal(flen, 24);
	assert_int_equal(channel_server_finish(s, finish, &cause), 0);
	assert_int_equal(channel_suite(s), CHANNEL_SUITE_XCHACHA20);
	assert_round_trip(c, s, "old", 3);
	assert_round_trip(s, c, "client", 6);
	channel_free(c);
	channel_free(s);
}

static void
test_mfe2_hello_lengths_and_suite_byte(void **state)
{
	struct channel_keypair	 kp;
	struct channel		*c, *s;
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_MAX];
	const char		*cause = NULL;
	size_t			 hlen, rlen;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	c = channel_new();
	s = channel_new();
	hlen = channel_client_hello(c, CHANNEL_SUITE_XCHACHA20, hello);
	assert_int_equal(hlen, 37);
	assert_memory_equal(hello, "MFE2\x01", 5);
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	assert_int_equal(rlen, 93);
	assert_memory_equal(reply, "MFE2\x01", 5);
	assert_memory_equal(reply + 5, kp.pk, CHANNEL_KEY_LEN);
	assert_int_equal(channel_client_finish_length(s), 24);
	channel_free(c);
	channel_free(s);
	if (!have_aes())
		return;
	c = channel_new();
	s = channel_new();
	hlen = channel_client_hello(c, CHANNEL_SUITES_KNOWN, hello);
	assert_memory_equal(hello, "MFE2\x03", 5);
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	/* AES-256-GCM has no stream headers, and no finish from the client. */
	assert_int_equal(rlen, 69);
	assert_memory_equal(reply, "MFE2\x02", 5);
	assert_int_equal(channel_client_finish_length(s), 0);
	assert_int_equal(channel_server_finish(s, NULL, &cause), 0);
	channel_free(c);
	channel_free(s);
}

static void
test_a_hello_offering_only_unknown_suites_is_refused(void **state)
{
	static const unsigned char	 offers[] = { 0x00, 0x04, 0x80, 0xfc };
	struct channel_keypair		 kp;
	struct channel			*c, *s;
	unsigned char			 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char			 reply[CHANNEL_SERVER_HELLO_MAX];
	const char			*cause;
	size_t				 hlen, rlen, i;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	c = channel_new();
	hlen = channel_client_hello(c, CHANNEL_SUITE_XCHACHA20, hello);
	channel_free(c);
	for (i = 0; i < nitems(offers); i++) {
		s = channel_new();
		hello[CHANNEL_MAGIC_LEN] = offers[i];
		cause = NULL;
		rlen = 99;
		assert_int_equal(channel_server_accept(s, &kp,
		    channel_suites_available(), hello, hlen, reply, &rlen,
		    &cause), -1);
		assert_non_null(strstr(cause, "cipher suite"));
		assert_int_equal(rlen, 0);
		assert_int_equal(s->state, CHANNEL_FAILED);
		channel_free(s);
	}
	/* Unknown bits beside a known suite: a later client's; ignored. */
	s = channel_new();
	hello[CHANNEL_MAGIC_LEN] = 0xf0 | CHANNEL_SUITE_XCHACHA20;
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	assert_int_equal(reply[CHANNEL_MAGIC_LEN], CHANNEL_SUITE_XCHACHA20);
	channel_free(s);
	/* AES-256-GCM only, at a server without it. */
	s = channel_new();
	hello[CHANNEL_MAGIC_LEN] = CHANNEL_SUITE_AES256GCM;
	cause = NULL;
	assert_int_equal(channel_server_accept(s, &kp, CHANNEL_SUITE_XCHACHA20,
	    hello, hlen, reply, &rlen, &cause), -1);
	assert_non_null(strstr(cause, "cipher suite"));
	channel_free(s);
}

static void
test_client_refuses_a_suite_or_version_it_did_not_offer(void **state)
{
	struct channel_keypair	 kp;
	struct channel		*c, *s;
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_MAX];
	unsigned char		 finish[CHANNEL_CLIENT_FINISH_MAX];
	unsigned char		 pk[CHANNEL_KEY_LEN];
	const char		*cause;
	size_t			 hlen, rlen, flen;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	/* Offered XChaCha20; the answer names AES-256-GCM, or nothing. */
	c = channel_new();
	s = channel_new();
	hlen = channel_client_hello(c, CHANNEL_SUITE_XCHACHA20, hello);
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	reply[CHANNEL_MAGIC_LEN] = CHANNEL_SUITE_AES256GCM;
	cause = NULL;
	assert_int_equal(channel_server_hello_length(c, reply, &cause), 0);
	assert_non_null(strstr(cause, "did not offer"));
	reply[CHANNEL_MAGIC_LEN] = CHANNEL_SUITES_KNOWN;
	assert_int_equal(channel_server_hello_length(c, reply, &cause), 0);
	assert_int_equal(channel_client_finish(c, reply, rlen, pk, finish, &flen,
	    &cause), -1);
	assert_int_equal(c->state, CHANNEL_FAILED);
	channel_free(c);
	channel_free(s);

	/* Sent "MFE2", answered "MFE1" (a hello rewritten on the way). */
	c = channel_new();
	s = channel_new();
	hlen = channel_client_hello(c, CHANNEL_SUITE_XCHACHA20, hello);
	memmove(hello + 4, hello + 5, CHANNEL_KEY_LEN);
	memcpy(hello, CHANNEL_MAGIC_V1, CHANNEL_MAGIC_LEN);
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen - 1, reply, &rlen, &cause), 0);
	cause = NULL;
	assert_int_equal(channel_server_hello_length(c, reply, &cause), 0);
	assert_non_null(strstr(cause, "another version"));
	channel_free(c);
	channel_free(s);

	/* The right hello at the wrong length. */
	c = channel_new();
	s = channel_new();
	hlen = channel_client_hello(c, CHANNEL_SUITE_XCHACHA20, hello);
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	assert_int_equal(channel_client_finish(c, reply, rlen - 1, pk, finish,
	    &flen, &cause), -1);
	channel_free(c);
	channel_free(s);
}

static void
test_a_changed_offer_ends_in_keys_that_do_not_match(void **state)
{
	struct channel_keypair	 kp;
	struct channel		*c = channel_new(), *s = channel_new();
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_MAX];
	unsigned char		 finish[CHANNEL_CLIENT_FINISH_MAX];
	unsigned char		 pk[CHANNEL_KEY_LEN], rec[CHANNEL_SEALED_LEN(4)];
	const char		*cause = NULL;
	size_t			 hlen, rlen, flen, len;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	/* A man in the middle strips an offer down (here: adds a bit the
	 * server ignores, which works on any CPU); the handshake completes,
	 * but the offer is in the keys, so nothing opens. */
	hlen = channel_client_hello(c, CHANNEL_SUITE_XCHACHA20, hello);
	hello[CHANNEL_MAGIC_LEN] |= 0x40;
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), 0);
	assert_int_equal(channel_client_finish(c, reply, rlen, pk, finish, &flen,
	    &cause), 0);
	assert_int_equal(channel_server_finish(s, finish, &cause), 0);
	len = channel_seal(c, (const unsigned char *)"ping", 4, rec);
	assert_true(open_fails(s, rec, len));
	channel_free(c);
	channel_free(s);
}

static void
test_two_sessions_with_one_server_key_differ(void **state)
{
	struct pair		 a, b;
	struct channel_keypair	 kp;
	unsigned char		 ra[CHANNEL_SEALED_LEN(5)], rb[CHANNEL_SEALED_LEN(5)];
	unsigned		 offer = test_offer(state);
	size_t			 la, lb;

	crypto_kx_keypair(kp.pk, kp.sk);
	pair_open_with(&a, &kp, offer);
	pair_open_with(&b, &kp, offer);
	la = channel_seal(a.client, (const unsigned char *)"hello", 5, ra);
	lb = channel_seal(b.client, (const unsigned char *)"hello", 5, rb);
	assert_int_equal(la, lb);
	assert_memory_not_equal(ra, rb, la);
	/* A record of one session means nothing in another. */
	assert_true(open_fails(b.server, ra, la));
	pair_close(&a);
	pair_close(&b);
}

static void
test_records_up_to_the_maximum_size_round_trip(void **state)
{
	static const size_t	 sizes[] = { 1, 2, 4, 16, 17, 1000, 65535,
				     CHANNEL_RECORD_MAX };
	unsigned char		*msg = xmalloc(CHANNEL_RECORD_MAX);
	struct pair		 p;
	size_t			 i;

	randombytes_buf(msg, CHANNEL_RECORD_MAX);
	pair_open(&p, test_offer(state));
	for (i = 0; i < nitems(sizes); i++) {
		assert_round_trip(p.client, p.server, msg, sizes[i]);
		assert_round_trip(p.server, p.client, msg, sizes[i]);
	}
	pair_close(&p);
	free(msg);
}

static void
test_a_record_does_not_show_its_plaintext(void **state)
{
	static const char	 secret[] = "patient: Jane Doe, diagnosis: flu";
	unsigned char		 rec[CHANNEL_SEALED_LEN(sizeof secret)];
	unsigned char		 again[CHANNEL_SEALED_LEN(sizeof secret)];
	struct pair		 p;
	size_t			 len;

	pair_open(&p, test_offer(state));
	len = channel_seal(p.client, (const unsigned char *)secret,
	    sizeof secret, rec);
	assert_null(memmem(rec, len, "Jane", 4));
	assert_null(memmem(rec, len, "flu", 3));
	/* The same plaintext again seals differently: the nonce moved. */
	assert_int_equal(channel_seal(p.client, (const unsigned char *)secret,
	    sizeof secret, again), len);
	assert_memory_not_equal(rec + CHANNEL_LENGTH_LEN,
	    again + CHANNEL_LENGTH_LEN, len - CHANNEL_LENGTH_LEN);
	pair_close(&p);
}

static void
test_magic_can_never_be_a_plain_frame_length(void **state)
{
	(void)state;
	/* main.c caps max_frame at 64 MiB. */
	assert_true(frame_header_length((const unsigned char *)CHANNEL_MAGIC_V1) >
	    64u * 1024 * 1024);
	assert_true(frame_header_length((const unsigned char *)CHANNEL_MAGIC_V2) >
	    64u * 1024 * 1024);
	assert_int_equal(channel_client_hello_length((const unsigned char *)
	    "\x00\x00\x00\x10"), 0);
}

static void
test_server_refuses_a_hello_without_magic_or_with_a_weak_key(void **state)
{
	struct channel_keypair	 kp;
	struct channel		*s, *c = channel_new();
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_MAX];
	const char		*cause = NULL;
	unsigned		 offer = test_offer(state);
	size_t			 hlen, rlen, keyat;

	crypto_kx_keypair(kp.pk, kp.sk);
	s = channel_new();
	hlen = channel_client_hello(c, offer, hello);
	channel_free(c);
	hello[0] = 'X';
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), -1);
	assert_non_null(cause);
	channel_free(s);
	/* A hello cut short, or with a byte too many. */
	hello[0] = 'M';
	s = channel_new();
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen - 1, reply, &rlen, &cause), -1);
	channel_free(s);
	s = channel_new();
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen + 1, reply, &rlen, &cause), -1);
	channel_free(s);

	/* An all-zero key has small order: the shared secret would be zero. */
	s = channel_new();
	keyat = hlen - CHANNEL_KEY_LEN;
	memset(hello + keyat, 0, CHANNEL_KEY_LEN);
	cause = NULL;
	assert_int_equal(channel_server_accept(s, &kp, channel_suites_available(),
	    hello, hlen, reply, &rlen, &cause), -1);
	assert_non_null(cause);
	assert_int_equal(s->state, CHANNEL_FAILED);
	channel_free(s);
}

static void
test_client_refuses_an_answer_that_is_not_the_handshake(void **state)
{
	struct channel	*c = channel_new();
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char	 reply[CHANNEL_SERVER_HELLO_MAX];
	unsigned char	 pk[CHANNEL_KEY_LEN], finish[CHANNEL_CLIENT_FINISH_MAX];
	const char	*cause = NULL;
	unsigned	 offer = test_offer(state);
	size_t		 flen, rlen;

	channel_client_hello(c, offer, hello);
	/* An old server's plain error frame: a length, then msgpack. */
	memset(reply, 0x83, sizeof reply);
	frame_header_write(reply, 60);
	assert_int_equal(channel_server_hello_length(c, reply, &cause), 0);
	assert_non_null(strstr(cause, "handshake"));
	assert_int_equal(channel_client_finish(c, reply, sizeof reply, pk, finish,
	    &flen, &cause), -1);
	assert_non_null(strstr(cause, "handshake"));
	channel_free(c);

	/* The magic with small-order keys. */
	c = channel_new();
	channel_client_hello(c, offer, hello);
	memset(reply, 0, sizeof reply);
	memcpy(reply, offer == CHANNEL_OFFER_V1 ? CHANNEL_MAGIC_V1 :
	    CHANNEL_MAGIC_V2, CHANNEL_MAGIC_LEN);
	if (offer != CHANNEL_OFFER_V1)
		reply[CHANNEL_MAGIC_LEN] = (unsigned char)offer;
	rlen = channel_server_hello_length(c, reply, &cause);
	assert_true(rlen > 0);
	cause = NULL;
	assert_int_equal(channel_client_finish(c, reply, rlen, pk, finish, &flen,
	    &cause), -1);
	assert_non_null(cause);
	channel_free(c);
}

/* --- an attacker in the middle --- */

static void
test_client_sees_a_substituted_server_key(void **state)
{
	struct pair		p;
	struct channel_keypair	real, fake;

	crypto_kx_keypair(real.pk, real.sk);
	crypto_kx_keypair(fake.pk, fake.sk);
	/* The attacker answers with its own key: the handshake itself works,
	 * and the key the client sees is the attacker's, not the pinned one. */
	pair_open_with(&p, &fake, test_offer(state));
	assert_memory_not_equal(p.seen_pk, real.pk, CHANNEL_KEY_LEN);
	assert_memory_equal(p.seen_pk, fake.pk, CHANNEL_KEY_LEN);
	pair_close(&p);
}

static void
test_announcing_the_real_key_without_its_secret_gets_nowhere(void **state)
{
	struct channel_keypair	 real, fake;
	struct channel		*client = channel_new(), *mitm = channel_new();
	struct channel		 saved;
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_MAX];
	unsigned char		 finish[CHANNEL_CLIENT_FINISH_MAX];
	unsigned char		 pk[CHANNEL_KEY_LEN];
	unsigned char		 rec[CHANNEL_SEALED_LEN(8)];
	const char		*cause = NULL;
	unsigned		 offer = test_offer(state);
	size_t			 hlen, rlen, flen, len;

	crypto_kx_keypair(real.pk, real.sk);
	crypto_kx_keypair(fake.pk, fake.sk);
	hlen = channel_client_hello(client, offer, hello);
	assert_int_equal(channel_server_accept(mitm, &fake,
	    channel_suites_available(), hello, hlen, reply, &rlen, &cause), 0);
	/* It puts the real server's public key where its own was. */
	memcpy(reply + (offer == CHANNEL_OFFER_V1 ? 4 : 5), real.pk,
	    CHANNEL_KEY_LEN);
	assert_int_equal(channel_client_finish(client, reply, rlen, pk, finish,
	    &flen, &cause), 0);
	assert_memory_equal(pk, real.pk, CHANNEL_KEY_LEN);	/* the pin matches */
	assert_int_equal(channel_server_finish(mitm, finish, &cause), 0);
	/* ...but without the real secret key it cannot speak for the server, */
	saved = *client;
	len = channel_seal(mitm, (const unsigned char *)"you're ok", 8, rec);
	assert_true(open_fails(client, rec, len));
	/* nor read the client. */
	*client = saved;
	len = channel_seal(client, (const unsigned char *)"password", 8, rec);
	assert_true(open_fails(mitm, rec, len));
	channel_free(client);
	channel_free(mitm);
}

static void
test_a_flipped_bit_anywhere_in_a_record_is_refused(void **state)
{
	static const char	 msg[] = "\x00\x00\x00\x0b{appt.list}";
	unsigned char		 rec[CHANNEL_SEALED_LEN(sizeof msg - 1)];
	struct channel		 saved;
	struct pair		 p;
	size_t			 i, len;
	int			 bit;

	pair_open(&p, test_offer(state));
	len = channel_seal(p.client, (const unsigned char *)msg, sizeof msg - 1, rec);
	saved = *p.server;
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			rec[i] ^= (unsigned char)(1 << bit);
			*p.server = saved;
			if (!open_fails(p.server, rec, len)) {
				print_error("byte %zu bit %d flipped was accepted\n",
				    i, bit);
				fail();
			}
			assert_int_equal(p.server->state, CHANNEL_FAILED);
			rec[i] ^= (unsigned char)(1 << bit);
		}
	}
	/* Unchanged, it still opens. */
	*p.server = saved;
	assert_false(open_fails(p.server, rec, len));
	pair_close(&p);
}

static void
test_a_replayed_record_is_refused(void **state)
{
	unsigned char	rec[CHANNEL_SEALED_LEN(4)];
	struct pair	p;
	size_t		len;

	pair_open(&p, test_offer(state));
	len = channel_seal(p.client, (const unsigned char *)"once", 4, rec);
	assert_false(open_fails(p.server, rec, len));
	assert_true(open_fails(p.server, rec, len));
	/* A failed channel stays failed: nothing opens after. */
	len = channel_seal(p.client, (const unsigned char *)"next", 4, rec);
	assert_true(open_fails(p.server, rec, len));
	pair_close(&p);
}

static void
test_reordered_and_dropped_records_are_refused(void **state)
{
	unsigned char	r1[CHANNEL_SEALED_LEN(5)], r2[CHANNEL_SEALED_LEN(5)];
	unsigned char	r3[CHANNEL_SEALED_LEN(5)];
	struct channel	saved;
	struct pair	p;
	size_t		l1, l2, l3;

	pair_open(&p, test_offer(state));
	l1 = channel_seal(p.client, (const unsigned char *)"first", 5, r1);
	l2 = channel_seal(p.client, (const unsigned char *)"secnd", 5, r2);
	l3 = channel_seal(p.client, (const unsigned char *)"third", 5, r3);
	saved = *p.server;
	/* Second before first: also what a dropped first record looks like. */
	assert_true(open_fails(p.server, r2, l2));
	*p.server = saved;
	assert_false(open_fails(p.server, r1, l1));
	/* The second dropped. */
	saved = *p.server;
	assert_true(open_fails(p.server, r3, l3));
	*p.server = saved;
	assert_false(open_fails(p.server, r2, l2));
	assert_false(open_fails(p.server, r3, l3));
	pair_close(&p);
}

static void
test_a_reflected_record_is_refused(void **state)
{
	unsigned char	rec[CHANNEL_SEALED_LEN(4)];
	struct pair	p;
	size_t		len;

	pair_open(&p, test_offer(state));
	/* The server's own record sent back to it: each direction has its key. */
	len = channel_seal(p.server, (const unsigned char *)"echo", 4, rec);
	assert_true(open_fails(p.server, rec, len));
	pair_close(&p);
}

static void
test_a_truncated_record_is_refused(void **state)
{
	unsigned char	rec[CHANNEL_SEALED_LEN(32)], msg[32];
	struct channel	saved;
	struct pair	p;
	size_t		len, cut;

	randombytes_buf(msg, sizeof msg);
	pair_open(&p, test_offer(state));
	len = channel_seal(p.client, msg, sizeof msg, rec);
	saved = *p.server;
	for (cut = 0; cut < len; cut++) {
		*p.server = saved;
		assert_true(open_fails(p.server, rec, cut));
	}
	/* Cut, with the length rewritten to match: the tag no longer fits. */
	for (cut = channel_overhead(p.server) + 1; cut < len; cut++) {
		unsigned char	copy[sizeof rec];

		memcpy(copy, rec, len);
		frame_header_write(copy, (uint32_t)(cut - CHANNEL_LENGTH_LEN));
		*p.server = saved;
		assert_true(open_fails(p.server, copy, cut));
	}
	*p.server = saved;
	assert_false(open_fails(p.server, rec, len));
	pair_close(&p);
}

static void
test_record_lengths_out_of_bounds_are_refused(void **state)
{
	unsigned char		hdr[4];
	const char		*cause;
	struct pair		p;
	size_t			i, abytes;
	uint32_t		bad[6];

	pair_open(&p, test_offer(state));
	abytes = channel_overhead(p.server) - CHANNEL_LENGTH_LEN;
	bad[0] = 0;
	bad[1] = 1;
	bad[2] = (uint32_t)abytes;		/* an empty record */
	bad[3] = (uint32_t)(CHANNEL_RECORD_MAX + abytes + 1);
	bad[4] = 0x4D464531;
	bad[5] = UINT32_MAX;
	for (i = 0; i < nitems(bad); i++) {
		cause = NULL;
		frame_header_write(hdr, bad[i]);
		assert_int_equal(channel_record_length(p.server, hdr, &cause), 0);
		assert_non_null(cause);
	}
	frame_header_write(hdr, (uint32_t)abytes + 1);
	assert_int_equal(channel_record_length(p.server, hdr, &cause),
	    CHANNEL_LENGTH_LEN + abytes + 1);
	frame_header_write(hdr, (uint32_t)(CHANNEL_RECORD_MAX + abytes));
	assert_int_equal(channel_record_length(p.server, hdr, &cause),
	    CHANNEL_LENGTH_LEN + CHANNEL_RECORD_MAX + abytes);
	pair_close(&p);
}

/* --- AES-256-GCM's counters --- */

static void
test_aes_keys_move_on_in_step_every_rekey_interval(void **state)
{
	unsigned char	before[crypto_aead_aes256gcm_KEYBYTES];
	struct pair	p;
	int		i;

	(void)state;
	if (!have_aes())
		skip();
	pair_open(&p, CHANNEL_SUITE_AES256GCM);
	/* Just short of the interval on both ends of one direction. */
	p.client->aes_tx.count = p.server->aes_rx.count =
	    CHANNEL_AES_REKEY_RECORDS - 2;
	memcpy(before, p.client->aes_tx.key, sizeof before);
	for (i = 0; i < 4; i++)
		assert_round_trip(p.client, p.server, "tick", 4);
	assert_memory_not_equal(before, p.client->aes_tx.key, sizeof before);
	assert_memory_equal(p.client->aes_tx.key, p.server->aes_rx.key,
	    sizeof before);
	/* The other direction kept its key. */
	assert_memory_not_equal(p.server->aes_tx.key, p.client->aes_tx.key,
	    sizeof before);
	assert_round_trip(p.server, p.client, "tock", 4);
	pair_close(&p);
}

static void
test_aes_counter_fails_the_channel_instead_of_wrapping(void **state)
{
	unsigned char	 rec[CHANNEL_SEALED_LEN(4)];
	struct pair	 p;
	size_t		 len;

	(void)state;
	if (!have_aes())
		skip();
	pair_open(&p, CHANNEL_SUITE_AES256GCM);
	p.client->aes_tx.count = p.server->aes_rx.count = UINT64_MAX - 1;
	/* The last record a key direction may seal still goes through, */
	assert_round_trip(p.client, p.server, "last", 4);
	/* then sealing stops, for good, rather than reuse nonce 0. */
	assert_int_equal(channel_seal(p.client, (const unsigned char *)"more", 4,
	    rec), 0);
	assert_int_equal(p.client->state, CHANNEL_FAILED);
	assert_int_equal(channel_seal(p.client, (const unsigned char *)"more", 4,
	    rec), 0);
	/* The reader refuses past the end too. */
	p.client->state = CHANNEL_READY;
	p.client->aes_tx.count = 0;
	len = channel_seal(p.client, (const unsigned char *)"wrap", 4, rec);
	assert_true(len > 0);
	assert_true(open_fails(p.server, rec, len));
	assert_int_equal(p.server->state, CHANNEL_FAILED);
	pair_close(&p);
}

/* --- libevent buffers --- */

static void
test_buffers_carry_a_large_stream_in_records(void **state)
{
	struct evbuffer	*plain = evbuffer_new(), *wire = evbuffer_new();
	struct evbuffer	*got = evbuffer_new(), *trickle = evbuffer_new();
	unsigned char	*msg, *back, byte;
	const char	*cause = NULL;
	size_t		 len = 3 * CHANNEL_RECORD_MAX + 123;
	struct pair	 p;
	int		 n, total = 0;

	msg = xmalloc(len);
	randombytes_buf(msg, len);
	pair_open(&p, test_offer(state));
	evbuffer_add(plain, msg, len);
	assert_int_equal(channel_buffer_seal(p.client, plain, wire), 0);
	assert_int_equal(evbuffer_get_length(plain), 0);
	assert_int_equal(evbuffer_get_length(wire),
	    len + 4 * channel_overhead(p.client));

	/* A byte at a time: nothing opens before a record is whole. */
	while (evbuffer_remove(wire, &byte, 1) == 1) {
		evbuffer_add(trickle, &byte, 1);
		n = channel_buffer_open(p.server, trickle, got, SIZE_MAX, &cause);
		assert_true(n >= 0);
		total += n;
	}
	assert_int_equal(total, 4);
	assert_int_equal(evbuffer_get_length(trickle), 0);
	assert_int_equal(evbuffer_get_length(got), len);
	back = evbuffer_pullup(got, -1);
	assert_memory_equal(back, msg, len);

	/* The reader's bound: it stops once dst holds max bytes. */
	evbuffer_drain(got, len);
	evbuffer_add(plain, msg, len);
	assert_int_equal(channel_buffer_seal(p.client, plain, wire), 0);
	n = channel_buffer_open(p.server, wire, got, 10, &cause);
	assert_int_equal(n, 1);
	assert_int_equal(evbuffer_get_length(got), CHANNEL_RECORD_MAX);
	n = channel_buffer_open(p.server, wire, got, SIZE_MAX, &cause);
	assert_int_equal(n, 3);

	/* A flipped byte in the stream: -1 and a reason. */
	evbuffer_add(plain, "x", 1);
	assert_int_equal(channel_buffer_seal(p.client, plain, wire), 0);
	back = evbuffer_pullup(wire, -1);
	back[6] ^= 1;
	cause = NULL;
	assert_int_equal(channel_buffer_open(p.server, wire, got, SIZE_MAX,
	    &cause), -1);
	assert_non_null(cause);

	/* A spent channel seals nothing more, and says so. */
	evbuffer_add(plain, "y", 1);
	p.client->state = CHANNEL_FAILED;
	assert_int_equal(channel_buffer_seal(p.client, plain, wire), -1);

	pair_close(&p);
	free(msg);
	evbuffer_free(plain);
	evbuffer_free(wire);
	evbuffer_free(got);
	evbuffer_free(trickle);
}

/* --- keys --- */

static void
test_fingerprint_is_sha256_base64_like_ssh(void **state)
{
	unsigned char	pk[CHANNEL_KEY_LEN] = { 0 };
	char		fp[CHANNEL_FINGERPRINT_SIZE], again[CHANNEL_FINGERPRINT_SIZE];

	(void)state;
	channel_fingerprint(pk, fp);
	assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
	assert_int_equal(strlen(fp), 7 + 43);
	/* SHA-256 of 32 zero bytes, base64 without padding (from Python's hashlib). */
	assert_string_equal(fp, "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU");
	channel_fingerprint(pk, again);
	assert_string_equal(fp, again);
	pk[31] = 1;
	channel_fingerprint(pk, again);
	assert_string_not_equal(fp, again);
}

static void
test_key_file_is_made_private_once_and_reloaded(void **state)
{
	struct channel_keypair	a, b;
	struct stat		st;
	char			path[256], *cause = NULL;
	int			created, fd;
	unsigned char		junk[64];

	(void)state;
	snprintf(path, sizeof path, "%s/server.key", tmpdir);
	unlink(path);
	/* Without create, a missing file is an error. */
	assert_int_equal(channel_keypair_load(path, 0, &a, &created, &cause), -1);
	free(cause);
	cause = NULL;

	assert_int_equal(channel_keypair_load(path, 1, &a, &created, &cause), 0);
	assert_int_equal(created, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 64);
	assert_int_equal(channel_keypair_load(path, 1, &b, &created, &cause), 0);
	assert_int_equal(created, 0);
	assert_memory_equal(a.pk, b.pk, sizeof a.pk);
	assert_memory_equal(a.sk, b.sk, sizeof a.sk);

	/* Readable by others: refused, not used. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(channel_keypair_load(path, 1, &b, &created, &cause), -1);
	assert_non_null(strstr(cause, "chmod 600"));
	free(cause);
	cause = NULL;
	assert_int_equal(chmod(path, 0600), 0);

	/* Halves that do not belong together: refused. */
	memcpy(junk, a.sk, 32);
	randombytes_buf(junk + 32, 32);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	assert_int_equal(channel_keypair_load(path, 1, &b, &created, &cause), -1);
	assert_non_null(strstr(cause, "damaged"));
	free(cause);
	cause = NULL;

	/* Short: refused. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, junk, 10), 10);
	close(fd);
	assert_int_equal(channel_keypair_load(path, 1, &b, &created, &cause), -1);
	free(cause);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TESTS(test_handshake_agrees_on_keys_in_both_directions),
		cmocka_unit_test(test_negotiation_picks_aes_when_offered_and_available),
		cmocka_unit_test(test_negotiation_falls_back_to_xchacha_otherwise),
		cmocka_unit_test(test_mfe1_client_gets_the_mfe1_handshake_unchanged),
		cmocka_unit_test(test_mfe2_hello_lengths_and_suite_byte),
		cmocka_unit_test(test_a_hello_offering_only_unknown_suites_is_refused),
		cmocka_unit_test(test_client_refuses_a_suite_or_version_it_did_not_offer),
		cmocka_unit_test(test_a_changed_offer_ends_in_keys_that_do_not_match),
		SUITE_TESTS(test_two_sessions_with_one_server_key_differ),
		SUITE_TESTS(test_records_up_to_the_maximum_size_round_trip),
		SUITE_TESTS(test_a_record_does_not_show_its_plaintext),
		cmocka_unit_test(test_magic_can_never_be_a_plain_frame_length),
		SUITE_TESTS(test_server_refuses_a_hello_without_magic_or_with_a_weak_key),
		SUITE_TESTS(test_client_refuses_an_answer_that_is_not_the_handshake),
		SUITE_TESTS(test_client_sees_a_substituted_server_key),
		SUITE_TESTS(test_announcing_the_real_key_without_its_secret_gets_nowhere),
		SUITE_TESTS(test_a_flipped_bit_anywhere_in_a_record_is_refused),
		SUITE_TESTS(test_a_replayed_record_is_refused),
		SUITE_TESTS(test_reordered_and_dropped_records_are_refused),
		SUITE_TESTS(test_a_reflected_record_is_refused),
		SUITE_TESTS(test_a_truncated_record_is_refused),
		SUITE_TESTS(test_record_lengths_out_of_bounds_are_refused),
		cmocka_unit_test(test_aes_keys_move_on_in_step_every_rekey_interval),
		cmocka_unit_test(test_aes_counter_fails_the_channel_instead_of_wrapping),
		SUITE_TESTS(test_buffers_carry_a_large_stream_in_records),
		cmocka_unit_test(test_fingerprint_is_sha256_base64_like_ssh),
		cmocka_unit_test(test_key_file_is_made_private_once_and_reloaded),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
