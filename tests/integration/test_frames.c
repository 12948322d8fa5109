/* test_frames.c -- hostile and odd frames. A malformed frame gets one error
 * reply (id 0) and a close; a well-formed request that is wrong gets an
 * error and the connection stays. Throughout, a second, logged-in client
 * keeps asking for health, and at the end the server's memory is bounded. */
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "harness.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

/* Loose: the server idles at a few MB; a leak per hostile frame would not. */
#define RSS_BOUND_KB	(200 * 1024)

static struct tsrv	srv;
static struct tcli	observer;
static int		observed;

static int
group_setup(void **state)
{
	(void)state;
	srv_start(&srv, NULL);
	cli_open_as(&observer, &srv, DEMO_ADMIN);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	cli_close(&observer);
	srv_stop(&srv);
	return 0;
}

/* The bystander is still served, on its own long-lived connection. */
static void
observer_check(void)
{
	assert_jstr(call_ok(&observer, "health", NULL), "status", "ok");
	observed++;
}

static void
send_raw(struct tcli *c, const void *p, size_t n)
{
	assert_int_equal(mfc_write(&c->mc, p, n), 0);
}

/* Header and body in one write. */
static void
send_frame(struct tcli *c, const void *body, size_t n)
{
	msgpack_sbuffer	sb;

	msgpack_sbuffer_init(&sb);
	frame_wrap(&sb, body, n);
	send_raw(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* {id, op} or {op} when id is 0, as a frame appended to out. */
static void
append_request(msgpack_sbuffer *out, uint64_t id, const char *op)
{
	msgpack_sbuffer	body;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, id != 0 ? 2 : 1);
	if (id != 0) {
		mp_pack_str(&pk, "id");
		msgpack_pack_uint64(&pk, id);
	}
	mp_pack_kv_str(&pk, "op", op);
	frame_wrap(out, body.data, body.size);
	msgpack_sbuffer_destroy(&body);
}

/* The next frame from the server as JSON (owned), or NULL when it closed.
 * Waiting longer than the call timeout fails the test. */
static json_t *
next_reply(struct tcli *c)
{
	const msgpack_object	*o;
	int			 rc;

	rc = mfc_read(&c->mc, CALL_TIMEOUT_MS, &o);
	if (rc == -2) {
		print_error("no reply and no close within %d ms\n", CALL_TIMEOUT_MS);
		fail();
	}
	return rc == 0 ? msgpack_to_json(o) : NULL;
}

/* One error reply for the frame (id 0), then the server hangs up. */
static void
expect_error_then_close(struct tcli *c, const char *code)
{
	json_t	*reply = next_reply(c);

	reply_err(reply, code);
	assert_int_equal(jint(reply, "id"), 0);
	json_decref(reply);
	reply = next_reply(c);
	if (reply != NULL)
		print_error("expected a close, got another frame\n");
	assert_null(reply);
	json_decref(reply);
}

/* Opens a connection, sends body as one frame, expects error + close. */
static void
hostile_frame(const void *body, size_t n, const char *code)
{
	struct tcli	c;

	cli_open(&c, &srv);
	send_frame(&c, body, n);
	expect_error_then_close(&c, code);
	cli_close(&c);
	observer_check();
}

/* The connection still works. */
static void
still_served(struct tcli *c)
{
	assert_jstr(call_ok(c, "health", NULL), "status", "ok");
}

/* --- too large, not a map, truncated --- */

static void
test_length_header_of_two_gib_gets_too_large_and_close(void **state)
{
	static const unsigned char huge[] = { 0x80, 0x00, 0x00, 0x00, 0x81, 0xa2, 'i', 'd', 0x01 };
	unsigned char	 hdr[FRAME_HEADER_SIZE];
	struct tcli	 c;

	(void)state;
	cli_open(&c, &srv);
	send_raw(&c, huge, sizeof huge);
	expect_error_then_close(&c, "too_large");
	cli_close(&c);
	observer_check();

	/* Also before hello, and one byte over the default limit. */
	cli_connect(&c, &srv);
	frame_header_write(hdr, FRAME_MAX_DEFAULT + 1);
	send_raw(&c, hdr, sizeof hdr);
	expect_error_then_close(&c, "too_large");
	cli_close(&c);

	cli_connect(&c, &srv);
	frame_header_write(hdr, 0xffffffffu);
	send_raw(&c, hdr, sizeof hdr);
	expect_error_then_close(&c, "too_large");
	cli_close(&c);
	observer_check();
}

/* {id: 5, op: "health", args: {pad: "xxx..."}} with padlen x's. */
static void
pack_padded_health(msgpack_sbuffer *body, size_t padlen)
{
	msgpack_packer	 pk;
	char		*pad = repeat_char('x', padlen);

	msgpack_sbuffer_clear(body);
	msgpack_packer_init(&pk, body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", 5);
	mp_pack_kv_str(&pk, "op", "health");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "pad");
	msgpack_pack_str(&pk, padlen);
	msgpack_pack_str_body(&pk, pad, padlen);
	free(pad);
}

static void
test_largest_frame_is_read_and_answered(void **state)
{
	msgpack_sbuffer	 body;
	struct tcli	 c;
	json_t		*reply;
	size_t		 padlen = FRAME_MAX_DEFAULT - 64;

	(void)state;
	msgpack_sbuffer_init(&body);
	pack_padded_health(&body, padlen);
	padlen += FRAME_MAX_DEFAULT - body.size;
	pack_padded_health(&body, padlen);
	assert_int_equal(body.size, FRAME_MAX_DEFAULT);
	cli_open(&c, &srv);
	send_frame(&c, body.data, body.size);
	reply = next_reply(&c);
	/* Read in full and judged on its merits: health takes no arguments. */
	reply_err(reply, "bad_request");
	assert_int_equal(jint(reply, "id"), 5);
	json_decref(reply);
	still_served(&c);
	cli_close(&c);
	msgpack_sbuffer_destroy(&body);
	observer_check();
}

static void
test_non_map_frame_gets_error_and_close(void **state)
{
	static const unsigned char array[] = { 0x93, 0x01, 0x02, 0x03 };
	static const unsigned char string[] = { 0xa5, 'h', 'e', 'l', 'l', 'o' };
	static const unsigned char integer[] = { 0x2a };
	static const unsigned char nil[] = { 0xc0 };
	struct tcli	c;

	(void)state;
	hostile_frame(array, sizeof array, "bad_request");
	hostile_frame(string, sizeof string, "bad_request");
	hostile_frame(integer, sizeof integer, "bad_request");
	hostile_frame(nil, sizeof nil, "bad_request");

	/* An empty frame, too. */
	cli_open(&c, &srv);
	send_raw(&c, "\0\0\0\0", 4);
	expect_error_then_close(&c, "bad_request");
	cli_close(&c);
}

static void
test_truncated_msgpack_gets_error_and_close(void **state)
{
	/* A map of three pairs holding one. */
	static const unsigned char short_map[] = {
		0x83, 0xa2, 'i', 'd', 0x01,
	};
	/* A str8 announcing 200 bytes, holding 6. */
	static const unsigned char short_str[] = {
		0x82, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p', 0xd9, 200,
		'h', 'e', 'a', 'l', 't', 'h',
	};
	/* A uint64 cut after two bytes. */
	static const unsigned char short_int[] = {
		0x81, 0xa2, 'i', 'd', 0xcf, 0x00, 0x01,
	};
	/* A whole request followed by junk in the same frame. */
	static const unsigned char trailing[] = {
		0x82, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p',
		0xa6, 'h', 'e', 'a', 'l', 't', 'h', 0xc0, 0xc0,
	};
	/* 0xc1 is never valid; ext types are not part of the protocol. */
	static const unsigned char never_used[] = { 0x81, 0xa2, 'i', 'd', 0xc1 };
	static const unsigned char ext[] = {
		0x81, 0xa2, 'i', 'd', 0xd4, 0x01, 0x02,
	};
	struct tcli	c;

	(void)state;
	hostile_frame(short_map, sizeof short_map, "bad_request");
	hostile_frame(short_str, sizeof short_str, "bad_request");
	hostile_frame(short_int, sizeof short_int, "bad_request");
	hostile_frame(trailing, sizeof trailing, "bad_request");
	hostile_frame(never_used, sizeof never_used, "bad_request");
	hostile_frame(ext, sizeof ext, "bad_request");

	/* A header that promises more than ever comes: the peer leaves. */
	cli_open(&c, &srv);
	send_raw(&c, "\0\0\0\x40\x82\xa2id", 8);
	shutdown(c.mc.fd, SHUT_WR);
	assert_null(next_reply(&c));
	cli_close(&c);
	observer_check();
}

/* --- counts, depth and lengths that lie --- */

static void
test_array32_announcing_four_billion_items_is_refused(void **state)
{
	static const unsigned char array32[] = {
		0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p',
		0xa6, 'h', 'e', 'a', 'l', 't', 'h',
		0xa4, 'a', 'r', 'g', 's', 0xdd, 0xff, 0xff, 0xff, 0xff,
		0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
	};
	static const unsigned char map32[] = {
		0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 'i', 'd', 0x01,
		0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0,
	};
	static const unsigned char array16[] = {
		0x81, 0xa4, 'a', 'r', 'g', 's', 0xdc, 0xff, 0xff, 0xc0, 0xc0,
	};
	msgpack_sbuffer	 body;
	msgpack_packer	 pk;
	size_t		 i;

	(void)state;
	hostile_frame(array32, sizeof array32, "bad_request");
	hostile_frame(map32, sizeof map32, "bad_request");
	hostile_frame(array16, sizeof array16, "bad_request");

	/* Honest counts, but more elements than a frame may hold. */
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", 1);
	mp_pack_kv_str(&pk, "op", "health");
	mp_pack_str(&pk, "args");
	msgpack_pack_array(&pk, FRAME_ELEMENTS_MAX + 1);
	for (i = 0; i < FRAME_ELEMENTS_MAX + 1; i++)
		msgpack_pack_nil(&pk);
	hostile_frame(body.data, body.size, "bad_request");
	msgpack_sbuffer_destroy(&body);
}

static void
test_thousand_deep_nesting_is_refused(void **state)
{
	unsigned char	 deep[6 + 1000 + 1];
	unsigned char	 deep_maps[6 + 2000 + 1];
	msgpack_sbuffer	 body;
	msgpack_packer	 pk;
	struct tcli	 c;
	json_t		*reply;
	size_t		 i;

	(void)state;
	/* {args: [[[[ ... nil ... ]]]]} */
	memcpy(deep, "\x81\xa4" "args", 6);
	memset(deep + 6, 0x91, 1000);
	deep[6 + 1000] = 0xc0;
	hostile_frame(deep, sizeof deep, "bad_request");
	/* {args: {"": {"": ... }}} */
	memcpy(deep_maps, "\x81\xa4" "args", 6);
	for (i = 0; i < 1000; i++) {
		deep_maps[6 + 2 * i] = 0x81;
		deep_maps[6 + 2 * i + 1] = 0xa0;
	}
	deep_maps[6 + 2000] = 0xc0;
	hostile_frame(deep_maps, sizeof deep_maps, "bad_request");

	/* Modest nesting is fine: the request is judged, not the frame. */
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", 9);
	mp_pack_kv_str(&pk, "op", "health");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "nested");
	for (i = 0; i < 8; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	cli_open(&c, &srv);
	send_frame(&c, body.data, body.size);
	reply = next_reply(&c);
	reply_err(reply, "bad_request");
	assert_int_equal(jint(reply, "id"), 9);
	json_decref(reply);
	still_served(&c);
	cli_close(&c);
	msgpack_sbuffer_destroy(&body);
}

static void
test_str32_claiming_four_gigabytes_is_refused(void **state)
{
	static const unsigned char str32[] = {
		0x82, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p',
		0xdb, 0xff, 0xff, 0xff, 0xff, 'h', 'e', 'a', 'l', 't', 'h',
	};
	static const unsigned char bin32[] = {
		0x82, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p',
		0xc6, 0xff, 0xff, 0xff, 0xf0, 'h', 'e', 'a', 'l', 't', 'h',
	};
	/* A key, not a value, that lies. */
	static const unsigned char key32[] = {
		0x81, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'i', 'd', 0x01,
	};

	(void)state;
	hostile_frame(str32, sizeof str32, "bad_request");
	hostile_frame(bin32, sizeof bin32, "bad_request");
	hostile_frame(key32, sizeof key32, "bad_request");
}

/* --- garbage --- */

/* xorshift: the same garbage on every run. */
static uint32_t
next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_random_garbage_never_hangs_or_kills_the_server(void **state)
{
	unsigned char	 buf[65536];
	uint32_t	 seed = 0x5eed1234;
	struct tcli	 c;
	json_t		*reply;
	size_t		 i, n;
	int		 round, closed = 0, kept = 0;

	(void)state;
	/* Framed garbage: the right length, random bytes (often map-shaped). */
	for (round = 0; round < 200; round++) {
		n = 1 + next_random(&seed) % 300;
		for (i = 0; i < n; i++)
			buf[i] = (unsigned char)next_random(&seed);
		if (round % 2 == 0)
			buf[0] = (unsigned char)(0x80 | (buf[0] & 0x0f));
		cli_open(&c, &srv);
		send_frame(&c, buf, n);
		reply = next_reply(&c);
		/* Something came back, and it was an error (garbage is not a request). */
		assert_non_null(reply);
		assert_true(json_is_false(json_object_get(reply, "ok")));
		json_decref(reply);
		/* Either the server hung up, or the connection still works. */
		{
			const msgpack_object	*o;
			int			 rc = mfc_read(&c.mc, 200, &o);

			if (rc == -2) {
				still_served(&c);
				kept++;
			} else {
				assert_int_equal(rc, -1);
				closed++;
			}
		}
		cli_close(&c);
		if (round % 20 == 0)
			observer_check();
	}
	assert_true(closed > 0);

	/* Unframed garbage: whatever the first four bytes say. */
	for (round = 0; round < 10; round++) {
		n = sizeof buf / (size_t)(round + 1);
		for (i = 0; i < n; i++)
			buf[i] = (unsigned char)next_random(&seed);
		cli_connect(&c, &srv);
		/* The server may hang up mid-way; what matters is what follows. */
		mfc_write(&c.mc, buf, n);
		shutdown(c.mc.fd, SHUT_WR);
		while ((reply = next_reply(&c)) != NULL)
			json_decref(reply);
		cli_close(&c);
		observer_check();
	}
	print_message("garbage: %d connections closed, %d kept\n", closed, kept);
}

/* --- well-formed requests with random contents --- */

static const char *const fuzz_ops[] = {
	"health", "auth.register", "auth.login", "auth.resume", "auth.logout",
	"auth.me", "auth.change_password", "users.list", "users.get",
	"users.create", "users.update", "users.deactivate", "users.reset_password",
	"audit.list", "audit.verify", "no.such.op",
};
static const char *const fuzz_keys[] = {
	"email", "password", "full_name", "phone", "id", "role", "active", "q",
	"limit", "offset", "token", "current_password", "new_password", "action",
	"user_id", "patient_id", "from", "to", "before_id", "x",
};
/* With their lengths: some hold NULs. */
#define FUZZ_STR(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char	*s;
	size_t		 n;
} fuzz_strings[] = {
	FUZZ_STR(""), FUZZ_STR("a"), FUZZ_STR("admin"), FUZZ_STR("doctor"),
	FUZZ_STR("patient"), FUZZ_STR("receptionist"),
	FUZZ_STR("nobody@example.org"), FUZZ_STR("+1 555 0100"), FUZZ_STR("%"),
	FUZZ_STR("_"), FUZZ_STR("\\"), FUZZ_STR("Ren\xc3\xa9" "e"),
	FUZZ_STR("\xff\xfe"), FUZZ_STR("a\0b"), FUZZ_STR("tab\there"),
	FUZZ_STR("\x1b[31m"), FUZZ_STR("'; DROP TABLE users; --"),
	FUZZ_STR("auth.login"), FUZZ_STR("Vq7#mLp2@xNe9!kR"),
};

static void
fuzz_value(msgpack_packer *pk, uint32_t *seed, int depth)
{
	char		*big;
	uint32_t	 i, n;

	switch (next_random(seed) % (depth > 2 ? 7 : 9)) {
	case 0:
		msgpack_pack_nil(pk);
		break;
	case 1:
		if (next_random(seed) % 2)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case 2:
		/* Small ids, but never 1: this connection's own admin. */
		msgpack_pack_int64(pk, 2 + next_random(seed) % 20);
		break;
	case 3:
		switch (next_random(seed) % 5) {
		case 0: msgpack_pack_int64(pk, INT64_MIN); break;
		case 1: msgpack_pack_uint64(pk, UINT64_MAX); break;
		case 2: msgpack_pack_int64(pk, -1); break;
		case 3: msgpack_pack_int64(pk, (int64_t)INT32_MAX + 1); break;
		default: msgpack_pack_int64(pk, 0); break;
		}
		break;
	case 4:
		msgpack_pack_double(pk, next_random(seed) % 2 ? 1.5 : -0.0);
		break;
	case 5:
		/* Long enough to trip every length check. */
		big = repeat_char('a', 100 + next_random(seed) % 2000);
		mp_pack_str(pk, big);
		free(big);
		break;
	case 6:
		i = next_random(seed) % nitems(fuzz_strings);
		mp_pack_strn(pk, fuzz_strings[i].s, fuzz_strings[i].n);
		break;
	case 7:
		n = next_random(seed) % 4;
		msgpack_pack_array(pk, n);
		for (i = 0; i < n; i++)
			fuzz_value(pk, seed, depth + 1);
		break;
	default:
		n = next_random(seed) % 3;
		msgpack_pack_map(pk, n);
		for (i = 0; i < n; i++) {
			mp_pack_str(pk, fuzz_keys[next_random(seed) % nitems(fuzz_keys)]);
			fuzz_value(pk, seed, depth + 1);
		}
		break;
	}
}

static void
test_random_requests_get_one_reply_each(void **state)
{
	struct tsrv	 own;
	struct tcli	 c;
	msgpack_sbuffer	 body;
	msgpack_packer	 pk;
	json_t		*reply;
	uint32_t	 seed = 0xfeedf00d, nargs, i;
	uint64_t	 id;
	int		 round, valid_id, answered = 0, ok = 0;
	int64_t		 rows, want;

	(void)state;
	/* A server of its own: these requests change accounts at random. */
	srv_start(&own, NULL);
	cli_open_as(&c, &own, DEMO_ADMIN);
	msgpack_sbuffer_init(&body);
	for (round = 0; round < 600; round++) {
		if (round % 40 == 39)
			free(cli_login(&c, DEMO_ADMIN, DEMO_PASSWORD));
		msgpack_sbuffer_clear(&body);
		msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
		valid_id = next_random(&seed) % 10 != 0;
		id = 1000 + (uint64_t)round;
		msgpack_pack_map(&pk, valid_id ? 3 : 2);
		if (valid_id) {
			mp_pack_str(&pk, "id");
			msgpack_pack_uint64(&pk, id);
		}
		mp_pack_kv_str(&pk, "op",
		    fuzz_ops[next_random(&seed) % nitems(fuzz_ops)]);
		mp_pack_str(&pk, "args");
		if (next_random(&seed) % 8 == 0)
			fuzz_value(&pk, &seed, 2);
		else {
			nargs = next_random(&seed) % 4;
			msgpack_pack_map(&pk, nargs);
			for (i = 0; i < nargs; i++) {
				mp_pack_str(&pk,
				    fuzz_keys[next_random(&seed) % nitems(fuzz_keys)]);
				fuzz_value(&pk, &seed, 1);
			}
		}
		send_frame(&c, body.data, body.size);
		reply = next_reply(&c);
		assert_non_null(reply);
		want = valid_id ? (int64_t)id : 0;
		if (jint(reply, "id") != want)
			print_error("round %d: reply id %lld, want %lld\n", round,
			    (long long)jint(reply, "id"), (long long)want);
		assert_int_equal(jint(reply, "id"), want);
		assert_true(json_is_boolean(json_object_get(reply, "ok")));
		if (json_is_true(json_object_get(reply, "ok")))
			ok++;
		else
			assert_non_null(jstr(reply, "error.code"));
		json_decref(reply);
		answered++;
	}
	msgpack_sbuffer_destroy(&body);
	print_message("random requests: %d answered, %d ok\n", answered, ok);
	/* Still serving, and nothing it wrote broke the audit chain. */
	free(cli_login(&c, DEMO_ADMIN, DEMO_PASSWORD));
	assert_true(json_is_true(jpath(call_ok(&c, "audit.verify", NULL), "ok")));
	rows = jint(c.reply, "result.rows");
	assert_true(rows > 1);
	cli_close(&c);
	srv_stop(&own);
	observer_check();
}

/* --- framing that is odd but legal --- */

static void
test_frame_split_into_single_bytes_still_works(void **state)
{
	msgpack_sbuffer	 out;
	msgpack_packer	 pk;
	msgpack_sbuffer	 body;
	struct tcli	 c;
	json_t		*reply;
	size_t		 i;

	(void)state;
	msgpack_sbuffer_init(&out);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", 1);
	mp_pack_kv_str(&pk, "op", "hello");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 1);
	mp_pack_kv_int(&pk, "version", 1);
	frame_wrap(&out, body.data, body.size);
	append_request(&out, 2, "health");

	cli_connect(&c, &srv);
	for (i = 0; i < out.size; i++)
		send_raw(&c, out.data + i, 1);
	reply = next_reply(&c);
	reply_ok(reply);
	assert_int_equal(jint(reply, "id"), 1);
	assert_int_equal(jint(reply, "result.version"), 1);
	json_decref(reply);
	reply = next_reply(&c);
	reply_ok(reply);
	assert_int_equal(jint(reply, "id"), 2);
	json_decref(reply);
	still_served(&c);
	cli_close(&c);
	msgpack_sbuffer_destroy(&out);
	msgpack_sbuffer_destroy(&body);
	observer_check();
}

static void
test_frames_in_one_write_are_answered_in_order(void **state)
{
	msgpack_sbuffer	 out, body;
	msgpack_packer	 pk;
	struct tcli	 c;
	json_t		*reply;

	(void)state;
	cli_open(&c, &srv);
	msgpack_sbuffer_init(&out);
	append_request(&out, 10, "health");
	append_request(&out, 11, "health");
	send_raw(&c, out.data, out.size);
	reply = next_reply(&c);
	assert_int_equal(jint(reply, "id"), 10);
	json_decref(reply);
	reply = next_reply(&c);
	assert_int_equal(jint(reply, "id"), 11);
	json_decref(reply);

	/*
	 * A login runs on a worker thread; what follows it in the same write
	 * waits for it, and so sees its session.
	 */
	msgpack_sbuffer_clear(&out);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", 20);
	mp_pack_kv_str(&pk, "op", "auth.login");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "email", DEMO_DOCTOR);
	mp_pack_kv_str(&pk, "password", DEMO_PASSWORD);
	frame_wrap(&out, body.data, body.size);
	append_request(&out, 21, "auth.me");
	append_request(&out, 22, "no.such.op");
	append_request(&out, 23, "auth.me");
	send_raw(&c, out.data, out.size);
	reply = next_reply(&c);
	reply_ok(reply);
	assert_int_equal(jint(reply, "id"), 20);
	json_decref(reply);
	reply = next_reply(&c);
	assert_int_equal(jint(reply, "id"), 21);
	assert_jstr(reply_ok(reply), "user.email", DEMO_DOCTOR);
	json_decref(reply);
	reply = next_reply(&c);
	assert_int_equal(jint(reply, "id"), 22);
	reply_err(reply, "bad_request");
	json_decref(reply);
	reply = next_reply(&c);
	assert_int_equal(jint(reply, "id"), 23);
	reply_ok(reply);
	json_decref(reply);
	cli_close(&c);
	msgpack_sbuffer_destroy(&out);
	msgpack_sbuffer_destroy(&body);
	observer_check();
}

/* --- well-formed frames, bad requests: error, connection kept --- */

static void
expect_kept(struct tcli *c, const void *body, size_t n, uint64_t id,
    const char *code)
{
	json_t	*reply;

	send_frame(c, body, n);
	reply = next_reply(c);
	reply_err(reply, code);
	assert_int_equal(jint(reply, "id"), (int64_t)id);
	json_decref(reply);
	still_served(c);
}

static void
test_missing_or_bad_id_is_bad_request_but_connection_kept(void **state)
{
	static const unsigned char no_id[] = {
		0x81, 0xa2, 'o', 'p', 0xa6, 'h', 'e', 'a', 'l', 't', 'h',
	};
	static const unsigned char string_id[] = {
		0x82, 0xa2, 'i', 'd', 0xa1, '7',
		0xa2, 'o', 'p', 0xa6, 'h', 'e', 'a', 'l', 't', 'h',
	};
	static const unsigned char negative_id[] = {
		0x82, 0xa2, 'i', 'd', 0xff,
		0xa2, 'o', 'p', 0xa6, 'h', 'e', 'a', 'l', 't', 'h',
	};
	static const unsigned char float_id[] = {
		0x82, 0xa2, 'i', 'd', 0xca, 0x3f, 0x80, 0x00, 0x00,
		0xa2, 'o', 'p', 0xa6, 'h', 'e', 'a', 'l', 't', 'h',
	};
	static const unsigned char no_op[] = { 0x81, 0xa2, 'i', 'd', 0x07 };
	static const unsigned char int_op[] = {
		0x82, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p', 0x05,
	};
	static const unsigned char empty_op[] = {
		0x82, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p', 0xa0,
	};
	static const unsigned char array_args[] = {
		0x83, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p',
		0xa6, 'h', 'e', 'a', 'l', 't', 'h', 0xa4, 'a', 'r', 'g', 's', 0x90,
	};
	static const unsigned char int_key_args[] = {
		0x83, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p',
		0xa6, 'h', 'e', 'a', 'l', 't', 'h', 0xa4, 'a', 'r', 'g', 's',
		0x81, 0x01, 0x02,
	};
	static const unsigned char empty_map[] = { 0x80 };
	struct tcli	c;

	(void)state;
	cli_open(&c, &srv);
	expect_kept(&c, no_id, sizeof no_id, 0, "bad_request");
	expect_kept(&c, string_id, sizeof string_id, 0, "bad_request");
	expect_kept(&c, negative_id, sizeof negative_id, 0, "bad_request");
	expect_kept(&c, float_id, sizeof float_id, 0, "bad_request");
	expect_kept(&c, no_op, sizeof no_op, 7, "bad_request");
	expect_kept(&c, int_op, sizeof int_op, 7, "bad_request");
	expect_kept(&c, empty_op, sizeof empty_op, 7, "bad_request");
	expect_kept(&c, array_args, sizeof array_args, 7, "bad_request");
	expect_kept(&c, int_key_args, sizeof int_key_args, 7, "bad_request");
	expect_kept(&c, empty_map, sizeof empty_map, 0, "bad_request");
	cli_close(&c);
	observer_check();
}

static void
test_unknown_op_is_bad_request(void **state)
{
	/* "health" with a NUL after it is not health. */
	static const unsigned char nul_op[] = {
		0x82, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p',
		0xa7, 'h', 'e', 'a', 'l', 't', 'h', 0x00,
	};
	static const unsigned char nul_op_long[] = {
		0x82, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p',
		0xaa, 'h', 'e', 'l', 'l', 'o', 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const unsigned char bad_utf8_op[] = {
		0x82, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p',
		0xa4, 0xff, 0xfe, 0xc0, 0x80,
	};
	struct tcli	 c;
	json_t		*err;
	char		*long_op;

	(void)state;
	cli_open(&c, &srv);
	err = call_err(&c, "no.such.op", "bad_request", NULL);
	assert_non_null(strstr(jstr(err, "message"), "no.such.op"));
	call_err(&c, "auth", "bad_request", NULL);
	call_err(&c, "auth.logi", "bad_request", NULL);
	call_err(&c, "auth.loginx", "bad_request", NULL);
	call_err(&c, "HEALTH", "bad_request", NULL);
	call_err(&c, " health", "bad_request", NULL);
	long_op = repeat_char('a', 65);
	call_err(&c, long_op, "bad_request", NULL);
	free(long_op);
	long_op = repeat_char('z', 64);
	call_err(&c, long_op, "bad_request", NULL);
	free(long_op);
	expect_kept(&c, nul_op, sizeof nul_op, 7, "bad_request");
	expect_kept(&c, nul_op_long, sizeof nul_op_long, 7, "bad_request");
	expect_kept(&c, bad_utf8_op, sizeof bad_utf8_op, 7, "bad_request");
	cli_close(&c);
	observer_check();
}

/* --- peers that misbehave over time --- */

static void
test_peer_leaving_during_login_is_harmless(void **state)
{
	msgpack_sbuffer	 out, body;
	msgpack_packer	 pk;
	struct tcli	 c;
	int		 i;

	(void)state;
	msgpack_sbuffer_init(&out);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_int(&pk, "id", 1);
	mp_pack_kv_str(&pk, "op", "auth.login");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "email", DEMO_RECEPTION);
	mp_pack_kv_str(&pk, "password", DEMO_PASSWORD);
	frame_wrap(&out, body.data, body.size);
	/* More requests queued behind the login, never to be answered. */
	append_request(&out, 2, "auth.me");
	append_request(&out, 3, "health");
	for (i = 0; i < 5; i++) {
		cli_open(&c, &srv);
		send_raw(&c, out.data, out.size);
		cli_close(&c);
	}
	observer_check();
	/* Let the workers finish those logins, then look again. */
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	cli_close(&c);
	observer_check();
	msgpack_sbuffer_destroy(&out);
	msgpack_sbuffer_destroy(&body);
}

static void
test_unfinished_large_frames_stay_bounded(void **state)
{
	enum { NCONN = 32 };
	static struct tcli	 conns[NCONN];
	msgpack_sbuffer		 body;
	long			 rss;
	int			 i;

	(void)state;
	/* Each sends a whole 1 MiB frame but its last byte, and waits. */
	msgpack_sbuffer_init(&body);
	pack_padded_health(&body, FRAME_MAX_DEFAULT - 64);
	for (i = 0; i < NCONN; i++) {
		unsigned char	hdr[FRAME_HEADER_SIZE];

		cli_open(&conns[i], &srv);
		frame_header_write(hdr, (uint32_t)body.size);
		send_raw(&conns[i], hdr, sizeof hdr);
		send_raw(&conns[i], body.data, body.size - 1);
	}
	observer_check();
	rss = srv_rss_kb(&srv);
	print_message("VmRSS with %d unfinished 1 MiB frames: %ld kB\n", NCONN, rss);
	assert_true(rss > 0 && rss < RSS_BOUND_KB);
	/* The last byte arrives: each is answered. */
	for (i = 0; i < NCONN; i++) {
		json_t	*reply;

		send_raw(&conns[i], body.data + body.size - 1, 1);
		reply = next_reply(&conns[i]);
		reply_err(reply, "bad_request");
		assert_int_equal(jint(reply, "id"), 5);
		json_decref(reply);
		cli_close(&conns[i]);
	}
	msgpack_sbuffer_destroy(&body);
	observer_check();
}

static void
test_peer_that_never_reads_is_cut_off(void **state)
{
	msgpack_sbuffer	 out;
	struct tcli	 c;
	int		 i, cut = 0;

	(void)state;
	/* Health needs no login, so no rate limit stops this from loopback. */
	cli_open(&c, &srv);
	msgpack_sbuffer_init(&out);
	for (i = 0; i < 2000; i++)
		append_request(&out, (uint64_t)i + 1, "health");
	/* Never read: the replies pile up until the server gives up on us. */
	for (i = 0; i < 400 && !cut; i++)
		cut = mfc_write(&c.mc, out.data, out.size) != 0;
	assert_true(cut);
	cli_close(&c);
	msgpack_sbuffer_destroy(&out);
	observer_check();
}

static void
test_connections_over_the_limit_are_closed(void **state)
{
	static const struct tsrv_opts	opts = {
		.config = "# a tiny server\nmax_conns = 3\n", .no_demo = 1,
	};
	struct tsrv			small;
	struct tcli			c[3], extra;
	int				i, tries;

	(void)state;
	srv_start(&small, &opts);
	for (i = 0; i < 3; i++)
		cli_open(&c[i], &small);
	/* The kernel accepts; the server closes without a word. */
	cli_connect(&extra, &small);
	assert_null(cli_call(&extra, "hello", "{s:i}", "version", 1));
	cli_close(&extra);
	for (i = 0; i < 3; i++)
		still_served(&c[i]);
	/* A place frees up once the server has seen a peer leave. */
	cli_close(&c[0]);
	for (tries = 0; tries < 200 * test_time_scale(); tries++) {
		cli_connect(&extra, &small);
		if (cli_call(&extra, "hello", "{s:i}", "version", 1) != NULL)
			break;
		cli_close(&extra);
		usleep(10000);
	}
	assert_true(tries < 200 * test_time_scale());
	still_served(&extra);
	cli_close(&extra);
	cli_close(&c[1]);
	cli_close(&c[2]);
	srv_stop(&small);
	observer_check();
}

/* A connection left logged out is held to the pre-login limit again
 * (the limit runs on real time: one second here, times MF_TEST_TIME_SCALE,
 * as the connection must log in within it first). */
static void
test_logged_out_connection_is_closed_after_the_login_timeout(void **state)
{
	struct tsrv_opts		opts;
	struct tsrv			small;
	struct tcli			c;
	const msgpack_object		*o;
	char				*config;
	int				rc;

	(void)state;
	memset(&opts, 0, sizeof opts);
	config = xasprintf("login_timeout = %d\n", test_time_scale());
	opts.config = config;
	srv_start(&small, &opts);
	free(config);
	cli_open(&c, &small);
	free(cli_login(&c, DEMO_RECEPTION, DEMO_PASSWORD));
	call_ok(&c, "auth.logout", NULL);
	/* The server says why, then closes; nothing else arrives. */
	rc = mfc_read(&c.mc, 10000 * test_time_scale(), &o);
	assert_int_equal(rc, 0);
	assert_non_null(mp_map_get(o, "error"));
	assert_true(mp_str_eq(mp_map_get(mp_map_get(o, "error"), "code"),
	    "unauthenticated"));
	assert_int_equal(mfc_read(&c.mc, 10000 * test_time_scale(), &o), -1);
	cli_close(&c);
	srv_stop(&small);
	observer_check();
}

static void
test_memory_stays_bounded_and_bystander_was_served(void **state)
{
	long	rss = srv_rss_kb(&srv);

	(void)state;
	observer_check();
	print_message("VmRSS at the end: %ld kB; bystander answered %d times\n",
	    rss, observed);
	assert_true(rss > 0);
	assert_true(rss < RSS_BOUND_KB);
	assert_true(observed >= 20);
	assert_true(srv_alive(&srv));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_header_of_two_gib_gets_too_large_and_close),
		cmocka_unit_test(test_largest_frame_is_read_and_answered),
		cmocka_unit_test(test_non_map_frame_gets_error_and_close),
		cmocka_unit_test(test_truncated_msgpack_gets_error_and_close),
		cmocka_unit_test(test_array32_announcing_four_billion_items_is_refused),
		cmocka_unit_test(test_thousand_deep_nesting_is_refused),
		cmocka_unit_test(test_str32_claiming_four_gigabytes_is_refused),
		cmocka_unit_test(test_random_garbage_never_hangs_or_kills_the_server),
		cmocka_unit_test(test_random_requests_get_one_reply_each),
		cmocka_unit_test(test_frame_split_into_single_bytes_still_works),
		cmocka_unit_test(test_frames_in_one_write_are_answered_in_order),
		cmocka_unit_test(test_missing_or_bad_id_is_bad_request_but_connection_kept),
		cmocka_unit_test(test_unknown_op_is_bad_request),
		cmocka_unit_test(test_peer_leaving_during_login_is_harmless),
		cmocka_unit_test(test_unfinished_large_frames_stay_bounded),
		cmocka_unit_test(test_peer_that_never_reads_is_cut_off),
		cmocka_unit_test(test_connections_over_the_limit_are_closed),
		cmocka_unit_test(test_logged_out_connection_is_closed_after_the_login_timeout),
		cmocka_unit_test(test_memory_stays_bounded_and_bystander_was_served),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
