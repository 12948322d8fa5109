/* fuzz_channel.c -- libFuzzer: the secure channel's handshake and records.
 *
 * The first input byte picks who the fuzzer plays (byte % 3), and for the
 * genuine parties what the client offers (byte / 3 % 3: AES-256-GCM where
 * the CPU has it, XChaCha20, or the "MFE1" hello):
 *   0  a hostile client: its hello ("MFE1" or "MFE2" with any offer), its
 *      stream header if the suite has one, and its records are the input's
 *      bytes, fed to the server's half (channel_server_accept,
 *      channel_server_finish, channel_buffer_open) as conn_input does;
 *   1  a genuine client whose record stream the fuzzer cuts and splices:
 *      the rest of the input is a script of records to seal (of any size)
 *      and raw bytes to inject; the server must open every genuine record
 *      in order, bit for bit, and refuse the stream from the first injected
 *      byte on (a record it opens there would be a forgery);
 *   2  a hostile server answering a genuine client's hello.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sodium.h>

#include "channel.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static struct channel_keypair	server_kp;

static unsigned	offer_pick(unsigned);

/* A genuine client's offer: AES-256-GCM falls back to XChaCha20 on a CPU
 * without AES-NI. */
static unsigned
offer_pick(unsigned b)
{
	switch (b % 3) {
	case 0:
		return channel_suites_available() & CHANNEL_SUITE_AES256GCM ?
		    CHANNEL_SUITE_AES256GCM : CHANNEL_SUITE_XCHACHA20;
	case 1:
		return CHANNEL_SUITE_XCHACHA20;
	}
	return CHANNEL_OFFER_V1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char	seed[crypto_kx_SEEDBYTES];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, 7, sizeof seed);
	crypto_kx_seed_keypair(server_kp.pk, server_kp.sk, seed);
	return 0;
}

/* Opens what src holds, a few records at a time as a slow reader would. */
static int
drain(struct channel *ch, struct evbuffer *src, struct evbuffer *dst)
{
	const char	*cause = NULL;
	int		 n, total = 0;

	do {
		n = channel_buffer_open(ch, src, dst,
		    evbuffer_get_length(dst) + FRAME_HEADER_SIZE + 1, &cause);
		if (n < 0) {
			if (cause == NULL)
				abort();
			return -1;
		}
		total += n;
	} while (n > 0);
	return total;
}

static void
hostile_client(const uint8_t *data, size_t size)
{
	unsigned char	 out[CHANNEL_SERVER_HELLO_MAX];
	struct channel	*ch = channel_new();
	struct evbuffer	*src, *dst;
	const char	*cause;
	size_t		 n, olen;

	if (size < CHANNEL_MAGIC_LEN)
		goto out;
	/* Not a magic: the hello as far as it goes, which must be refused. */
	if ((n = channel_client_hello_length(data)) == 0)
		n = size < CHANNEL_CLIENT_HELLO_MAX ? size : CHANNEL_CLIENT_HELLO_MAX;
	if (size < n)
		goto out;
	if (channel_server_accept(ch, &server_kp, channel_suites_available(),
	    data, n, out, &olen, &cause) != 0) {
		if (cause == NULL || olen != 0)
			abort();
		goto out;
	}
	if (channel_client_hello_length(data) != n || olen == 0)
		abort();	/* accepted what is no hello */
	data += n;
	size -= n;
	n = channel_client_finish_length(ch);
	if (size < n || channel_server_finish(ch, data, &cause) != 0)
		goto out;
	data += n;
	size -= n;
	src = evbuffer_new();
	dst = evbuffer_new();
	evbuffer_add(src, data, size);
	/* Without the keys nothing can be opened. */
	if (drain(ch, src, dst) > 0)
		abort();
	evbuffer_free(src);
	evbuffer_free(dst);
out:
	channel_free(ch);
}

static void
spliced_stream(unsigned offer, const uint8_t *data, size_t size)
{
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char	 shello[CHANNEL_SERVER_HELLO_MAX];
	unsigned char	 fin[CHANNEL_CLIENT_FINISH_MAX], spk[CHANNEL_KEY_LEN];
	static unsigned char sealed[CHANNEL_SEALED_LEN(CHANNEL_RECORD_MAX)];
	static unsigned char plain[CHANNEL_RECORD_MAX];
	struct channel	*cli = channel_new(), *srv = channel_new();
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	struct evbuffer	*want = evbuffer_new();
	const char	*cause;
	size_t		 pos = 0, n, slen, wlen, sealed_total = 0, hlen, flen;
	int		 injected = 0, failed = 0;

	hlen = channel_client_hello(cli, offer, hello);
	if (channel_server_accept(srv, &server_kp, channel_suites_available(),
	    hello, hlen, shello, &hlen, &cause) != 0 ||
	    channel_client_finish(cli, shello, hlen, spk, fin, &flen,
	    &cause) != 0 ||
	    memcmp(spk, server_kp.pk, sizeof spk) != 0 ||
	    flen != channel_client_finish_length(srv) ||
	    channel_server_finish(srv, fin, &cause) != 0 ||
	    channel_suite(cli) != (offer == CHANNEL_SUITE_AES256GCM ?
	    CHANNEL_SUITE_AES256GCM : CHANNEL_SUITE_XCHACHA20))
		abort();
	/* At most 1 MiB sealed per input: the fuzzer is after the framing,
	 * not a benchmark of xchacha20. */
	while (pos < size && !failed && sealed_total < 1024 * 1024) {
		unsigned int	c = data[pos++];

		if (c & 0x80) {
			/* Raw bytes into the stream. */
			n = c & 0x7f;
			if (n > size - pos)
				n = size - pos;
			if (n == 0)
				continue;
			evbuffer_add(src, data + pos, n);
			pos += n;
			injected = 1;
		} else {
			/* A genuine record of some size: the input's bytes,
			 * padded with a pattern up to the length asked for. */
			n = (size_t)c << 9 | (pos < size ? data[pos++] : 0);
			if (n == 0 || n > CHANNEL_RECORD_MAX)
				n = n == 0 ? 1 : CHANNEL_RECORD_MAX;
			memset(plain, 0xa5, n);
			memcpy(plain, data + pos, size - pos < n ? size - pos : n);
			slen = channel_seal(cli, plain, n, sealed);
			sealed_total += n;
			if (slen != n + channel_overhead(cli) ||
			    slen > CHANNEL_SEALED_LEN(n))
				abort();
			evbuffer_add(src, sealed, slen);
			if (!injected)
				evbuffer_add(want, plain, n);
		}
		if (drain(srv, src, dst) < 0) {
			if (!injected)
				abort();	/* a genuine stream refused */
			failed = 1;
		}
	}
	/* What came out is exactly the genuine records before any splice. */
	wlen = evbuffer_get_length(want);
	if (evbuffer_get_length(dst) > wlen)
		abort();
	if (!injected && evbuffer_get_length(dst) != wlen)
		abort();
	n = evbuffer_get_length(dst);
	if (n > 0 && memcmp(evbuffer_pullup(dst, -1), evbuffer_pullup(want, -1),
	    n) != 0)
		abort();
	evbuffer_free(src);
	evbuffer_free(dst);
	evbuffer_free(want);
	channel_free(cli);
	channel_free(srv);
}

static void
hostile_server(unsigned offer, const uint8_t *data, size_t size)
{
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char	 fin[CHANNEL_CLIENT_FINISH_MAX], spk[CHANNEL_KEY_LEN];
	struct channel	*ch = channel_new();
	struct evbuffer	*src, *dst;
	const char	*cause;
	size_t		 n, flen;

	channel_client_hello(ch, offer, hello);
	if (size < CHANNEL_SERVER_HELLO_PEEK)
		goto out;
	/* A suite we did not offer, or another magic, ends it here; the
	 * length itself is tried too, one byte short. */
	if ((n = channel_server_hello_length(ch, data, &cause)) == 0)
		goto out;
	if (size > n && data[n] == 0xff) {
		if (channel_client_finish(ch, data, n - 1, spk, fin, &flen,
		    &cause) == 0)
			abort();
		goto out;
	}
	if (size < n || channel_client_finish(ch, data, n, spk, fin, &flen,
	    &cause) != 0)
		goto out;
	data += n;
	size -= n;
	src = evbuffer_new();
	dst = evbuffer_new();
	evbuffer_add(src, data, size);
	if (drain(ch, src, dst) > 0)
		abort();
	evbuffer_free(src);
	evbuffer_free(dst);
out:
	channel_free(ch);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		hostile_client(data + 1, size - 1);
		break;
	case 1:
		spliced_stream(offer_pick(data[0] / 3u), data + 1, size - 1);
		break;
	default:
		hostile_server(offer_pick(data[0] / 3u), data + 1, size - 1);
		break;
	}
	return 0;
}
