/* test_token.c -- session tokens: base64url text both ways, malformed text
 * refused, and the BLAKE2b hash that is all the store keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "session.h"
#include "util.h"

static const char	base64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void
test_encode_decode_round_trip(void **state)
{
	unsigned char	raw[TOKEN_BYTES], back[TOKEN_BYTES];
	char		text[TOKEN_TEXT_SIZE];
	int		i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		randombytes_buf(raw, sizeof raw);
		memset(text, '#', sizeof text);
		assert_int_equal(token_encode(raw, text, sizeof text), 0);
		assert_int_equal(strlen(text), TOKEN_TEXT_SIZE - 1);
		assert_int_equal(strspn(text, base64url), TOKEN_TEXT_SIZE - 1);
		memset(back, 0, sizeof back);
		assert_int_equal(token_decode(text, back), 0);
		assert_memory_equal(raw, back, TOKEN_BYTES);
	}
	/* The edges of the byte range. */
	memset(raw, 0, sizeof raw);
	assert_int_equal(token_encode(raw, text, sizeof text), 0);
	assert_string_equal(text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	memset(raw, 0xff, sizeof raw);
	assert_int_equal(token_encode(raw, text, sizeof text), 0);
	assert_int_equal(token_decode(text, back), 0);
	assert_memory_equal(raw, back, TOKEN_BYTES);
}

static void
test_encode_refuses_a_short_buffer(void **state)
{
	unsigned char	raw[TOKEN_BYTES] = { 0 };
	char		text[TOKEN_TEXT_SIZE];

	(void)state;
	assert_int_equal(token_encode(raw, text, TOKEN_TEXT_SIZE - 1), -1);
}

static void
test_decode_refuses_wrong_lengths(void **state)
{
	unsigned char	raw[TOKEN_BYTES], back[TOKEN_BYTES];
	char		text[TOKEN_TEXT_SIZE + 8];

	(void)state;
	assert_int_equal(token_decode("", back), -1);
	assert_int_equal(token_decode("abc", back), -1);
	randombytes_buf(raw, sizeof raw);
	token_encode(raw, text, TOKEN_TEXT_SIZE);
	/* one short */
	text[TOKEN_TEXT_SIZE - 2] = '\0';
	assert_int_equal(token_decode(text, back), -1);
	/* one long, and with padding */
	token_encode(raw, text, TOKEN_TEXT_SIZE);
	strcat(text, "A");
	assert_int_equal(token_decode(text, back), -1);
	token_encode(raw, text, TOKEN_TEXT_SIZE);
	strcat(text, "=");
	assert_int_equal(token_decode(text, back), -1);
}

static void
test_decode_refuses_bad_characters(void **state)
{
	static const char	bad[] = { '+', '/', '=', ' ', '.', '\n', '\x80', '~' };
	unsigned char		raw[TOKEN_BYTES], back[TOKEN_BYTES];
	char			text[TOKEN_TEXT_SIZE], good[TOKEN_TEXT_SIZE];
	size_t			i, pos;

	(void)state;
	randombytes_buf(raw, sizeof raw);
	token_encode(raw, good, sizeof good);
	for (i = 0; i < nitems(bad); i++) {
		for (pos = 0; pos < TOKEN_TEXT_SIZE - 1; pos += 7) {
			memcpy(text, good, sizeof text);
			text[pos] = bad[i];
			assert_int_equal(token_decode(text, back), -1);
		}
	}
	/* Bytes past ASCII, alone or as UTF-8 (libsodium alone takes some). */
	for (pos = 0; pos < TOKEN_TEXT_SIZE - 2; pos += 3) {
		memcpy(text, good, sizeof text);
		text[pos] = (char)0xc3;
		text[pos + 1] = (char)0xa9;	/* é */
		assert_int_equal(token_decode(text, back), -1);
	}
	/* The 43rd character carries 4 bits and 2 zero bits: non-zero
	 * padding bits would give a second spelling of the same token. */
	memset(raw, 0, sizeof raw);
	token_encode(raw, text, sizeof text);
	text[TOKEN_TEXT_SIZE - 2] = 'B';
	assert_int_equal(token_decode(text, back), -1);
}

static void
test_hash_is_deterministic_and_32_bytes(void **state)
{
	unsigned char	raw[TOKEN_BYTES], h1[TOKEN_HASH_BYTES + 8];
	unsigned char	h2[TOKEN_HASH_BYTES + 8], want[TOKEN_HASH_BYTES];

	(void)state;
	assert_int_equal(TOKEN_HASH_BYTES, 32);
	randombytes_buf(raw, sizeof raw);
	memset(h1, 0xaa, sizeof h1);
	memset(h2, 0x55, sizeof h2);
	token_hash(raw, h1);
	token_hash(raw, h2);
	assert_memory_equal(h1, h2, TOKEN_HASH_BYTES);
	/* Exactly 32 bytes written. */
	assert_int_equal(h1[TOKEN_HASH_BYTES], 0xaa);
	assert_int_equal(h2[TOKEN_HASH_BYTES], 0x55);
	/* Unkeyed BLAKE2b-256 of the raw bytes, as the store expects. */
	crypto_generichash(want, sizeof want, raw, sizeof raw, NULL, 0);
	assert_memory_equal(h1, want, sizeof want);
	/* Not the token itself. */
	assert_memory_not_equal(h1, raw, TOKEN_HASH_BYTES);
}

static void
test_distinct_tokens_hash_differently(void **state)
{
	enum { N = 512 };
	static unsigned char	hashes[N][TOKEN_HASH_BYTES];
	unsigned char		raw[TOKEN_BYTES];
	int			i, j;

	(void)state;
	for (i = 0; i < N; i++) {
		randombytes_buf(raw, sizeof raw);
		token_hash(raw, hashes[i]);
	}
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			assert_memory_not_equal(hashes[i], hashes[j], TOKEN_HASH_BYTES);
	/* One bit apart is enough. */
	memset(raw, 0, sizeof raw);
	token_hash(raw, hashes[0]);
	raw[TOKEN_BYTES - 1] ^= 1;
	token_hash(raw, hashes[1]);
	assert_memory_not_equal(hashes[0], hashes[1], TOKEN_HASH_BYTES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_encode_refuses_a_short_buffer),
		cmocka_unit_test(test_decode_refuses_wrong_lengths),
		cmocka_unit_test(test_decode_refuses_bad_characters),
		cmocka_unit_test(test_hash_is_deterministic_and_32_bytes),
		cmocka_unit_test(test_distinct_tokens_hash_differently),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
