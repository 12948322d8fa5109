/* test_channel.c -- the secure channel's codec between two peers in memory:
 * the handshake, key agreement, records, and everything an active attacker
 * can do to them (flip, replay, reorder, cut, swap the server's key). */
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

/* Runs the whole handshake, asserting each step. */
static void
pair_open_with(struct pair *p, const struct channel_keypair *kp)
{
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_LEN];
	unsigned char	 reply[CHANNEL_SERVER_HELLO_LEN];
	unsigned char	 finish[CHANNEL_CLIENT_FINISH_LEN];
	const char	*cause = NULL;

	p->server_key = *kp;
	p->client = channel_new();
	p->server = channel_new();
	channel_client_hello(p->client, hello);
	assert_memory_equal(hello, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN);
	assert_int_equal(channel_server_accept(p->server, kp, hello, reply,
	    &cause), 0);
	assert_int_equal(channel_client_finish(p->client, reply, p->seen_pk,
	    finish, &cause), 0);
	assert_int_equal(channel_server_finish(p->server, finish, &cause), 0);
	assert_int_equal(p->client->state, CHANNEL_READY);
	assert_int_equal(p->server->state, CHANNEL_READY);
}

static void
pair_open(struct pair *p)
{
	struct channel_keypair	kp;

	crypto_kx_keypair(kp.pk, kp.sk);
	pair_open_with(p, &kp);
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
	assert_int_equal(rlen, CHANNEL_SEALED_LEN(len));
	assert_int_equal(channel_record_length(rec, &cause), rlen);
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

	(void)state;
	pair_open(&p);
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
test_two_sessions_with_one_server_key_differ(void **state)
{
	struct pair		 a, b;
	struct channel_keypair	 kp;
	unsigned char		 ra[CHANNEL_SEALED_LEN(5)], rb[CHANNEL_SEALED_LEN(5)];

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	pair_open_with(&a, &kp);
	pair_open_with(&b, &kp);
	channel_seal(a.client, (const unsigned char *)"hello", 5, ra);
	channel_seal(b.client, (const unsigned char *)"hello", 5, rb);
	assert_memory_not_equal(ra, rb, sizeof ra);
	/* A record of one session means nothing in another. */
	assert_true(open_fails(b.server, ra, sizeof ra));
	pair_close(&a);
	pair_close(&b);
}

static void
test_records_up_to_the_maximum_size_round_trip(void **state)
{
	static const size_t	 sizes[] = { 1, 2, 4, 17, 1000, 65535, CHANNEL_RECORD_MAX };
	unsigned char		*msg = xmalloc(CHANNEL_RECORD_MAX);
	struct pair		 p;
	size_t			 i;

	(void)state;
	randombytes_buf(msg, CHANNEL_RECORD_MAX);
	pair_open(&p);
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
	struct pair		 p;

	(void)state;
	pair_open(&p);
	channel_seal(p.client, (const unsigned char *)secret, sizeof secret, rec);
	assert_null(memmem(rec, sizeof rec, "Jane", 4));
	assert_null(memmem(rec, sizeof rec, "flu", 3));
	pair_close(&p);
}

static void
test_magic_can_never_be_a_plain_frame_length(void **state)
{
	(void)state;
	/* main.c caps max_frame at 64 MiB. */
	assert_true(frame_header_length((const unsigned char *)CHANNEL_MAGIC) >
	    64u * 1024 * 1024);
}

static void
test_server_refuses_a_hello_without_magic_or_with_a_weak_key(void **state)
{
	struct channel_keypair	 kp;
	struct channel		*s, *c = channel_new();
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_LEN];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_LEN];
	const char		*cause = NULL;

	(void)state;
	crypto_kx_keypair(kp.pk, kp.sk);
	s = channel_new();
	channel_client_hello(c, hello);
	channel_free(c);
	hello[0] = 'X';
	assert_int_equal(channel_server_accept(s, &kp, hello, reply, &cause), -1);
	assert_non_null(cause);
	channel_free(s);

	/* An all-zero key has small order: the shared secret would be zero. */
	s = channel_new();
	memcpy(hello, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN);
	memset(hello + CHANNEL_MAGIC_LEN, 0, CHANNEL_KEY_LEN);
	cause = NULL;
	assert_int_equal(channel_server_accept(s, &kp, hello, reply, &cause), -1);
	assert_non_null(cause);
	assert_int_equal(s->state, CHANNEL_FAILED);
	channel_free(s);
}

static void
test_client_refuses_an_answer_that_is_not_the_handshake(void **state)
{
	struct channel	*c = channel_new();
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_LEN];
	unsigned char	 reply[CHANNEL_SERVER_HELLO_LEN];
	unsigned char	 pk[CHANNEL_KEY_LEN], finish[CHANNEL_CLIENT_FINISH_LEN];
	const char	*cause = NULL;

	(void)state;
	channel_client_hello(c, hello);
	/* An old server's plain error frame: a length, then msgpack. */
	memset(reply, 0x83, sizeof reply);
	frame_header_write(reply, 60);
	assert_int_equal(channel_client_finish(c, reply, pk, finish, &cause), -1);
	assert_non_null(strstr(cause, "handshake"));
	channel_free(c);

	/* The magic with small-order keys. */
	c = channel_new();
	channel_client_hello(c, hello);
	memset(reply, 0, sizeof reply);
	memcpy(reply, CHANNEL_MAGIC, CHANNEL_MAGIC_LEN);
	cause = NULL;
	assert_int_equal(channel_client_finish(c, reply, pk, finish, &cause), -1);
	assert_non_null(cause);
	channel_free(c);
}

/* --- an attacker in the middle --- */

static void
test_client_sees_a_substituted_server_key(void **state)
{
	struct pair		p;
	struct channel_keypair	real, fake;

	(void)state;
	crypto_kx_keypair(real.pk, real.sk);
	crypto_kx_keypair(fake.pk, fake.sk);
	/* The attacker answers with its own key: the handshake itself works,
	 * and the key the client sees is the attacker's, not the pinned one. */
	pair_open_with(&p, &fake);
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
	unsigned char		 hello[CHANNEL_CLIENT_HELLO_LEN];
	unsigned char		 reply[CHANNEL_SERVER_HELLO_LEN];
	unsigned char		 finish[CHANNEL_CLIENT_FINISH_LEN];
	unsigned char		 pk[CHANNEL_KEY_LEN];
	unsigned char		 rec[CHANNEL_SEALED_LEN(8)];
	const char		*cause = NULL;

	(void)state;
	crypto_kx_keypair(real.pk, real.sk);
	crypto_kx_keypair(fake.pk, fake.sk);
	channel_client_hello(client, hello);
	assert_int_equal(channel_server_accept(mitm, &fake, hello, reply, &cause), 0);
	/* It puts the real server's public key where its own was. */
	memcpy(reply + CHANNEL_MAGIC_LEN, real.pk, CHANNEL_KEY_LEN);
	assert_int_equal(channel_client_finish(client, reply, pk, finish, &cause), 0);
	assert_memory_equal(pk, real.pk, CHANNEL_KEY_LEN);	/* the pin matches */
	assert_int_equal(channel_server_finish(mitm, finish, &cause), 0);
	/* ...but without the real secret key it cannot speak for the server, */
	saved = *client;
	channel_seal(mitm, (const unsigned char *)"you're ok", 8, rec);
	assert_true(open_fails(client, rec, sizeof rec));
	/* nor read the client. */
	*client = saved;
	channel_seal(client, (const unsigned char *)"password", 8, rec);
	assert_true(open_fails(mitm, rec, sizeof rec));
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

	(void)state;
	pair_open(&p);
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

	(void)state;
	pair_open(&p);
	channel_seal(p.client, (const unsigned char *)"once", 4, rec);
	assert_false(open_fails(p.server, rec, sizeof rec));
	assert_true(open_fails(p.server, rec, sizeof rec));
	/* A failed channel stays failed: nothing opens after. */
	channel_seal(p.client, (const unsigned char *)"next", 4, rec);
	assert_true(open_fails(p.server, rec, sizeof rec));
	pair_close(&p);
}

static void
test_reordered_and_dropped_records_are_refused(void **state)
{
	unsigned char	r1[CHANNEL_SEALED_LEN(5)], r2[CHANNEL_SEALED_LEN(5)];
	struct channel	saved;
	struct pair	p;

	(void)state;
	pair_open(&p);
	channel_seal(p.client, (const unsigned char *)"first", 5, r1);
	channel_seal(p.client, (const unsigned char *)"secnd", 5, r2);
	saved = *p.server;
	/* Second before first: also what a dropped first record looks like. */
	assert_true(open_fails(p.server, r2, sizeof r2));
	*p.server = saved;
	assert_false(open_fails(p.server, r1, sizeof r1));
	assert_false(open_fails(p.server, r2, sizeof r2));
	pair_close(&p);
}

static void
test_a_reflected_record_is_refused(void **state)
{
	unsigned char	rec[CHANNEL_SEALED_LEN(4)];
	struct pair	p;

	(void)state;
	pair_open(&p);
	/* The server's own record sent back to it: each direction has its key. */
	channel_seal(p.server, (const unsigned char *)"echo", 4, rec);
	assert_true(open_fails(p.server, rec, sizeof rec));
	pair_close(&p);
}

static void
test_a_truncated_record_is_refused(void **state)
{
	unsigned char	rec[CHANNEL_SEALED_LEN(32)], msg[32];
	struct channel	saved;
	struct pair	p;
	size_t		len, cut;

	(void)state;
	randombytes_buf(msg, sizeof msg);
	pair_open(&p);
	len = channel_seal(p.client, msg, sizeof msg, rec);
	saved = *p.server;
	for (cut = 0; cut < len; cut++) {
		*p.server = saved;
		assert_true(open_fails(p.server, rec, cut));
	}
	/* Cut, with the length rewritten to match: the tag no longer fits. */
	for (cut = CHANNEL_RECORD_OVERHEAD + 1; cut < len; cut++) {
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
	static const uint32_t	bad[] = {
		0, 1, crypto_secretstream_xchacha20poly1305_ABYTES,
		CHANNEL_RECORD_MAX + crypto_secretstream_xchacha20poly1305_ABYTES + 1,
		0x4D464531, UINT32_MAX,
	};
	unsigned char		hdr[4];
	const char		*cause;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		cause = NULL;
		frame_header_write(hdr, bad[i]);
		assert_int_equal(channel_record_length(hdr, &cause), 0);
		assert_non_null(cause);
	}
	frame_header_write(hdr, crypto_secretstream_xchacha20poly1305_ABYTES + 1);
	assert_int_equal(channel_record_length(hdr, &cause),
	    CHANNEL_SEALED_LEN(1));
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

	(void)state;
	msg = xmalloc(len);
	randombytes_buf(msg, len);
	pair_open(&p);
	evbuffer_add(plain, msg, len);
	channel_buffer_seal(p.client, plain, wire);
	assert_int_equal(evbuffer_get_length(plain), 0);
	assert_int_equal(evbuffer_get_length(wire), len + 4 * CHANNEL_RECORD_OVERHEAD);

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
	channel_buffer_seal(p.client, plain, wire);
	n = channel_buffer_open(p.server, wire, got, 10, &cause);
	assert_int_equal(n, 1);
	assert_int_equal(evbuffer_get_length(got), CHANNEL_RECORD_MAX);
	n = channel_buffer_open(p.server, wire, got, SIZE_MAX, &cause);
	assert_int_equal(n, 3);

	/* A flipped byte in the stream: -1 and a reason. */
	evbuffer_add(plain, "x", 1);
	channel_buffer_seal(p.client, plain, wire);
	back = evbuffer_pullup(wire, -1);
	back[6] ^= 1;
	cause = NULL;
	assert_int_equal(channel_buffer_open(p.server, wire, got, SIZE_MAX,
	    &cause), -1);
	assert_non_null(cause);

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
		cmocka_unit_test(test_handshake_agrees_on_keys_in_both_directions),
		cmocka_unit_test(test_two_sessions_with_one_server_key_differ),
		cmocka_unit_test(test_records_up_to_the_maximum_size_round_trip),
		cmocka_unit_test(test_a_record_does_not_show_its_plaintext),
		cmocka_unit_test(test_magic_can_never_be_a_plain_frame_length),
		cmocka_unit_test(test_server_refuses_a_hello_without_magic_or_with_a_weak_key),
		cmocka_unit_test(test_client_refuses_an_answer_that_is_not_the_handshake),
		cmocka_unit_test(test_client_sees_a_substituted_server_key),
		cmocka_unit_test(test_announcing_the_real_key_without_its_secret_gets_nowhere),
		cmocka_unit_test(test_a_flipped_bit_anywhere_in_a_record_is_refused),
		cmocka_unit_test(test_a_replayed_record_is_refused),
		cmocka_unit_test(test_reordered_and_dropped_records_are_refused),
		cmocka_unit_test(test_a_reflected_record_is_refused),
		cmocka_unit_test(test_a_truncated_record_is_refused),
		cmocka_unit_test(test_record_lengths_out_of_bounds_are_refused),
		cmocka_unit_test(test_buffers_carry_a_large_stream_in_records),
		cmocka_unit_test(test_fingerprint_is_sha256_base64_like_ssh),
		cmocka_unit_test(test_key_file_is_made_private_once_and_reloaded),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
