/* test_frame.c -- the frame codec: the length header, the pre-unpack
 * validator (every refusal it promises), frame_decode, and a fuzz loop
 * that must never crash (run it under ASan too: make SAN=1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "frame.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

#define FUZZ_ROUNDS	100000

struct packed {
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

static struct frame_limits	limits;
static struct packed		packed;
static uint64_t			prng_state;
static msgpack_zone		*zone;		/* frame_decode_zone's, cleared after each use */

static void	 packed_reset(void);
static int	 check(const void *, size_t, int want_map, const char **);
static void	 assert_refused(const void *, size_t, int want_map, const char *);
static uint64_t	 prng(void);
static void	 fuzz_one(const unsigned char *, size_t, size_t *);

static int
setup(void **state)
{
	(void)state;
	frame_limits_default(&limits);
	msgpack_sbuffer_init(&packed.sb);
	msgpack_packer_init(&packed.pk, &packed.sb, msgpack_sbuffer_write);
	zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	return zone != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	msgpack_sbuffer_destroy(&packed.sb);
	msgpack_zone_free(zone);
	return 0;
}

static void
packed_reset(void)
{
	msgpack_sbuffer_clear(&packed.sb);
}

static int
check(const void *buf, size_t len, int want_map, const char **cause)
{
	*cause = NULL;
	return frame_validate(buf, len, &limits, want_map, cause);
}

/* Refused, and (when want is not NULL) for the reason named. */
static void
assert_refused(const void *buf, size_t len, int want_map, const char *want)
{
	const char	*cause;

	assert_int_equal(check(buf, len, want_map, &cause), -1);
	assert_non_null(cause);
	if (want != NULL && strcmp(cause, want) != 0) {
		print_error("cause \"%s\", expected \"%s\"\n", cause, want);
		fail();
	}
}

#define ACCEPT(buf, len, want_map) do {					\
	const char *cause_;						\
	if (check((buf), (len), (want_map), &cause_) != 0) {		\
		print_error("refused: %s\n", cause_);			\
		fail();							\
	}								\
} while (0)

#define BYTES(...) ((const unsigned char[]){ __VA_ARGS__ })
#define REFUSE(want_map, why, ...)					\
	assert_refused(BYTES(__VA_ARGS__),				\
	    sizeof(BYTES(__VA_ARGS__)), (want_map), (why))

/* xorshift64*: the same sequence on every run. */
static uint64_t
prng(void)
{
	prng_state ^= prng_state >> 12;
	prng_state ^= prng_state << 25;
	prng_state ^= prng_state >> 27;
	return prng_state * 2685821657736338717ULL;
}

/* --- the header --- */

static void
test_header_round_trips_big_endian(void **state)
{
	static const uint32_t	values[] = {
		0, 1, 0xff, 0x100, 0x01020304, FRAME_MAX_DEFAULT, 0x7fffffff,
		0x80000000, 0xffffffff
	};
	unsigned char		hdr[FRAME_HEADER_SIZE];
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(values); i++) {
		frame_header_write(hdr, values[i]);
		assert_int_equal(frame_header_length(hdr), values[i]);
	}
	frame_header_write(hdr, 0x01020304);
	assert_memory_equal(hdr, BYTES(0x01, 0x02, 0x03, 0x04), 4);
}

static void
test_wrap_prefixes_the_length(void **state)
{
	msgpack_sbuffer	out;

	(void)state;
	msgpack_sbuffer_init(&out);
	frame_wrap(&out, "\x80", 1);
	assert_int_equal(out.size, 5);
	assert_memory_equal(out.data, "\0\0\0\1\x80", 5);
	msgpack_sbuffer_destroy(&out);
}

/* --- well-formed frames --- */

static void
test_validate_accepts_every_scalar_type(void **state)
{
	msgpack_packer	*pk = &packed.pk;
	char		*big;

	(void)state;
	big = xmalloc(70000);
	memset(big, 'x', 70000);
	packed_reset();
	msgpack_pack_map(pk, 22);
	mp_pack_kv_nil(pk, "nil");
	mp_pack_kv_bool(pk, "true", 1);
	mp_pack_kv_bool(pk, "false", 0);
	mp_pack_kv_int(pk, "fixint", 7);
	mp_pack_kv_int(pk, "negfixint", -5);
	mp_pack_str(pk, "u8");
	msgpack_pack_uint8(pk, 200);
	mp_pack_str(pk, "u16");
	msgpack_pack_uint16(pk, 60000);
	mp_pack_str(pk, "u32");
	msgpack_pack_uint32(pk, 4000000000u);
	mp_pack_str(pk, "u64");
	msgpack_pack_uint64(pk, UINT64_MAX);
	mp_pack_kv_int(pk, "i8", -100);
	mp_pack_kv_int(pk, "i16", -30000);
	mp_pack_kv_int(pk, "i32", -2000000000);
	mp_pack_kv_int(pk, "i64", INT64_MIN);
	mp_pack_str(pk, "f32");
	msgpack_pack_float(pk, 1.5f);
	mp_pack_str(pk, "f64");
	msgpack_pack_double(pk, -2.25);
	mp_pack_kv_str(pk, "fixstr", "hello");
	mp_pack_str(pk, "str8");
	mp_pack_strn(pk, big, 200);
	mp_pack_str(pk, "str16");
	mp_pack_strn(pk, big, 1000);
	mp_pack_str(pk, "str32");
	mp_pack_strn(pk, big, 70000);
	mp_pack_str(pk, "bin8");
	msgpack_pack_bin(pk, 3);
	msgpack_pack_bin_body(pk, "\0\1\2", 3);
	mp_pack_str(pk, "bin16");
	msgpack_pack_bin(pk, 300);
	msgpack_pack_bin_body(pk, big, 300);
	mp_pack_str(pk, "bin32");
	msgpack_pack_bin(pk, 70000);
	msgpack_pack_bin_body(pk, big, 70000);
	ACCEPT(packed.sb.data, packed.sb.size, 1);
	free(big);
}

static void
test_validate_accepts_nested_containers(void **state)
{
	msgpack_packer	*pk = &packed.pk;
	int		 i;

	(void)state;
	packed_reset();
	msgpack_pack_map(pk, 3);
	mp_pack_kv_int(pk, "id", 1);
	mp_pack_kv_str(pk, "op", "x.y");
	mp_pack_str(pk, "args");
	msgpack_pack_map(pk, 3);
	mp_pack_str(pk, "list");
	msgpack_pack_array(pk, 20);		/* array16 */
	for (i = 0; i < 20; i++)
		msgpack_pack_int(pk, i);
	mp_pack_str(pk, "wide");
	msgpack_pack_map(pk, 17);		/* map16 */
	for (i = 0; i < 17; i++) {
		msgpack_pack_int(pk, i);
		msgpack_pack_array(pk, 0);
	}
	mp_pack_str(pk, "empty");
	msgpack_pack_map(pk, 0);
	ACCEPT(packed.sb.data, packed.sb.size, 1);
}

static void
test_validate_accepts_32_bit_headers_with_small_counts(void **state)
{
	(void)state;
	/* {"a": [1]} with map32 and array32 headers. */
	ACCEPT(BYTES(0xdf, 0, 0, 0, 1, 0xa1, 'a', 0xdd, 0, 0, 0, 1, 0x01), 13, 1);
	/* A str32 and bin32 of 2 bytes. */
	ACCEPT(BYTES(0x82, 0xa1, 's', 0xdb, 0, 0, 0, 2, 'h', 'i',
	    0xa1, 'b', 0xc6, 0, 0, 0, 2, 0, 1), 19, 1);
}

static void
test_validate_any_object_when_no_map_wanted(void **state)
{
	(void)state;
	ACCEPT(BYTES(0x01), 1, 0);
	ACCEPT(BYTES(0x92, 0xc0, 0xc3), 3, 0);
	ACCEPT(BYTES(0xa2, 'h', 'i'), 3, 0);
	ACCEPT(BYTES(0xcb, 0, 0, 0, 0, 0, 0, 0, 0), 9, 0);
}

static void
test_validate_accepts_depth_up_to_the_limit(void **state)
{
	unsigned char	buf[64];
	int		i, depth = FRAME_DEPTH_MAX;

	(void)state;
	/* {"a": {"a": ... {}}} nested depth times in all. */
	for (i = 0; i < depth - 1; i++) {
		buf[i * 3] = 0x81;
		buf[i * 3 + 1] = 0xa1;
		buf[i * 3 + 2] = 'a';
	}
	buf[(depth - 1) * 3] = 0x80;
	ACCEPT(buf, (size_t)(depth - 1) * 3 + 1, 1);
}

/* --- refusals --- */

static void
test_validate_refuses_empty(void **state)
{
	const char	*cause;

	(void)state;
	assert_int_equal(check("", 0, 1, &cause), -1);
	assert_string_equal(cause, "empty frame");
	assert_int_equal(check("", 0, 0, &cause), -1);
}

static void
test_validate_refuses_non_maps_when_a_map_is_wanted(void **state)
{
	(void)state;
	REFUSE(1, "frame is not a map", 0x01);
	REFUSE(1, "frame is not a map", 0x90);
	REFUSE(1, "frame is not a map", 0xdc, 0, 0);
	REFUSE(1, "frame is not a map", 0xa1, 'x');
	REFUSE(1, "frame is not a map", 0xc0);
	REFUSE(1, "frame is not a map", 0xcb, 0, 0, 0, 0, 0, 0, 0, 0);
}

static void
test_validate_refuses_truncated_scalars(void **state)
{
	static const unsigned char	types[] = {
		0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb
	};
	static const size_t		sizes[] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8 };
	unsigned char			buf[16];
	size_t				i, n;

	(void)state;
	for (i = 0; i < nitems(types); i++) {
		/* {"k": <type> with one payload byte missing} */
		buf[0] = 0x81;
		buf[1] = 0xa1;
		buf[2] = 'k';
		buf[3] = types[i];
		memset(buf + 4, 0x11, sizes[i]);
		n = 4 + sizes[i];
		ACCEPT(buf, n, 1);
		assert_refused(buf, n - 1, 1, "truncated msgpack");
		/* and bare, at the top */
		assert_refused(buf + 3, 1, 0, "truncated msgpack");
	}
}

static void
test_validate_refuses_truncated_strings(void **state)
{
	(void)state;
	/* fixstr of 5 with 2 bytes */
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xa5, 'a', 'b');
	/* str8 without its length byte, and with too few bytes */
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xd9);
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xd9, 3, 'a');
	/* str16, str32 with partial length */
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xda, 0);
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xdb, 0, 0, 0);
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xdb, 0, 0, 0, 9, 'a');
	/* bin8/16/32 */
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xc4, 2, 0);
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xc5, 0, 2, 0);
	REFUSE(1, "truncated msgpack", 0x81, 0xa1, 'k', 0xc6, 0, 0, 0, 2, 0);
	/* a key without its value */
	REFUSE(1, "truncated msgpack", 0x82, 0xa1, 'a', 0x01, 0xa1, 'b');
}

static void
test_validate_refuses_truncated_containers(void **state)
{
	(void)state;
	/* map16 / map32 / array16 / array32 headers cut short */
	REFUSE(1, "truncated msgpack", 0xde, 0);
	REFUSE(1, "truncated msgpack", 0xdf, 0, 0, 0);
	REFUSE(0, "truncated msgpack", 0xdc, 0);
	REFUSE(0, "truncated msgpack", 0xdd, 0, 0);
	/* a map announcing 2 pairs holding 1 */
	REFUSE(1, NULL, 0x82, 0xa1, 'a', 0x01);
	/* an array of 3 holding 2, inside a map */
	REFUSE(1, NULL, 0x81, 0xa1, 'a', 0x93, 0x01, 0x02);
}

static void
test_validate_refuses_counts_beyond_the_bytes_left(void **state)
{
	(void)state;
	/* The msgpack-c #1013 shape: four billion entries in a 10-byte frame. */
	REFUSE(1, "declared count exceeds frame",
	    0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00);
	REFUSE(1, "declared count exceeds frame",
	    0x81, 0xa1, 'a', 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00);
	REFUSE(0, "declared count exceeds frame", 0xdd, 0xff, 0x00, 0x00, 0x00);
	REFUSE(1, "declared count exceeds frame", 0xdf, 0x7f, 0xff, 0xff, 0xff);
	REFUSE(1, "declared count exceeds frame", 0xde, 0x01, 0x00, 0x00);
	/* A map of 3 pairs needs 6 bytes, not 5. */
	REFUSE(1, "declared count exceeds frame", 0x83, 1, 2, 3, 4, 5);
}

static void
test_validate_refuses_nesting_deeper_than_the_limit(void **state)
{
	unsigned char	buf[128];
	int		i, depth = FRAME_DEPTH_MAX + 1;

	(void)state;
	for (i = 0; i < depth - 1; i++) {
		buf[i * 3] = 0x81;
		buf[i * 3 + 1] = 0xa1;
		buf[i * 3 + 2] = 'a';
	}
	buf[(depth - 1) * 3] = 0x80;
	assert_refused(buf, (size_t)(depth - 1) * 3 + 1, 1, "nesting too deep");

	/* Arrays count as well as maps; a lower limit is honoured. */
	limits.max_depth = 3;
	ACCEPT(BYTES(0x81, 0xa1, 'a', 0x91, 0x90), 5, 1);
	REFUSE(1, "nesting too deep", 0x81, 0xa1, 'a', 0x91, 0x91, 0x90);
	/* A limit above the compiled maximum is capped. */
	limits.max_depth = 1000;
	assert_refused(buf, (size_t)(depth - 1) * 3 + 1, 1, "nesting too deep");
	frame_limits_default(&limits);
}

static void
test_validate_refuses_strings_longer_than_the_limit(void **state)
{
	(void)state;
	limits.max_str = 4;
	ACCEPT(BYTES(0x81, 0xa1, 'k', 0xa4, 'a', 'b', 'c', 'd'), 8, 1);
	REFUSE(1, "string too long", 0x81, 0xa1, 'k', 0xa5, 'a', 'b', 'c', 'd', 'e');
	REFUSE(1, "string too long", 0x81, 0xa1, 'k', 0xd9, 5, 'a', 'b', 'c', 'd', 'e');
	REFUSE(1, "string too long", 0x81, 0xa1, 'k', 0xc4, 5, 1, 2, 3, 4, 5);
	/* Keys are strings too. */
	REFUSE(1, "string too long", 0x81, 0xa5, 'a', 'b', 'c', 'd', 'e', 0x01);
	/* Checked before the bytes: a huge str32 is "too long", not read. */
	REFUSE(1, "string too long", 0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff);
	frame_limits_default(&limits);
}

static void
test_validate_refuses_too_many_elements(void **state)
{
	unsigned char	*buf;
	size_t		 n, len, i;

	(void)state;
	limits.max_elements = 6;
	/* {"a": [1, 2, 3, 4]}: 2 + 4 = 6 */
	ACCEPT(BYTES(0x81, 0xa1, 'a', 0x94, 1, 2, 3, 4), 8, 1);
	REFUSE(1, "too many elements", 0x81, 0xa1, 'a', 0x95, 1, 2, 3, 4, 5);
	/* Map keys and values both count. */
	REFUSE(1, "too many elements", 0x84, 1, 1, 2, 2, 3, 3, 4, 4);
	frame_limits_default(&limits);

	/*
	 * The default: {"a": array32 of n nils} holds 2 + n elements, so
	 * n = 65534 is the most allowed.
	 */
	n = FRAME_ELEMENTS_MAX - 2;
	len = 3 + 5 + n + 1;
	buf = xmalloc(len);
	buf[0] = 0x81;
	buf[1] = 0xa1;
	buf[2] = 'a';
	buf[3] = 0xdd;
	for (i = 8; i < len; i++)
		buf[i] = 0xc0;
	frame_header_write(buf + 4, (uint32_t)n);
	ACCEPT(buf, len - 1, 1);
	frame_header_write(buf + 4, (uint32_t)n + 1);
	assert_refused(buf, len, 1, "too many elements");
	free(buf);
}

static void
test_validate_refuses_ext_types_and_c1(void **state)
{
	static const unsigned char	bad[] = {
		0xc1, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8
	};
	unsigned char			buf[32];
	size_t				i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		memset(buf, 0, sizeof buf);
		buf[0] = 0x81;
		buf[1] = 0xa1;
		buf[2] = 'k';
		buf[3] = bad[i];
		assert_refused(buf, sizeof buf, 1, "unsupported msgpack type");
		assert_refused(buf + 3, sizeof buf - 3, 0, "unsupported msgpack type");
	}
}

static void
test_validate_refuses_trailing_bytes(void **state)
{
	(void)state;
	REFUSE(1, "trailing bytes after msgpack object", 0x80, 0x00);
	REFUSE(1, "trailing bytes after msgpack object", 0x81, 0xa1, 'a', 1, 0x80);
	REFUSE(0, "trailing bytes after msgpack object", 0x01, 0x02);
}

static void
test_validate_refuses_frames_over_max_frame(void **state)
{
	(void)state;
	limits.max_frame = 4;
	ACCEPT(BYTES(0x81, 0xa1, 'a', 1), 4, 1);
	REFUSE(1, "frame too large", 0x81, 0xa1, 'a', 0xa1, 'b');
	frame_limits_default(&limits);
}

/* --- decode --- */

static void
test_decode_yields_the_object(void **state)
{
	msgpack_packer		*pk = &packed.pk;
	msgpack_unpacked	 u;
	const msgpack_object	*args, *o;
	const char		*cause = NULL;
	int64_t			 v;

	(void)state;
	packed_reset();
	msgpack_pack_map(pk, 3);
	mp_pack_kv_int(pk, "id", 42);
	mp_pack_kv_str(pk, "op", "auth.login");
	mp_pack_str(pk, "args");
	msgpack_pack_map(pk, 4);
	mp_pack_kv_str(pk, "email", "a@b.co");
	mp_pack_kv_int(pk, "n", -7);
	mp_pack_str(pk, "f");
	msgpack_pack_double(pk, 0.5);
	mp_pack_str(pk, "list");
	msgpack_pack_array(pk, 2);
	msgpack_pack_true(pk);
	msgpack_pack_nil(pk);

	msgpack_unpacked_init(&u);
	assert_int_equal(frame_decode((const unsigned char *)packed.sb.data,
	    packed.sb.size, &limits, &u, &cause), 0);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(u.data.via.map.size, 3);
	assert_int_equal(mp_int(mp_map_get(&u.data, "id"), &v), 0);
	assert_int_equal(v, 42);
	assert_true(mp_str_eq(mp_map_get(&u.data, "op"), "auth.login"));
	args = mp_map_get(&u.data, "args");
	assert_non_null(args);
	assert_true(mp_str_eq(mp_map_get(args, "email"), "a@b.co"));
	assert_int_equal(mp_int(mp_map_get(args, "n"), &v), 0);
	assert_int_equal(v, -7);
	o = mp_map_get(args, "f");
	assert_int_equal(o->type, MSGPACK_OBJECT_FLOAT64);
	assert_true(o->via.f64 == 0.5);
	o = mp_map_get(args, "list");
	assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(o->via.array.size, 2);
	assert_int_equal(o->via.array.ptr[0].type, MSGPACK_OBJECT_BOOLEAN);
	assert_int_equal(o->via.array.ptr[1].type, MSGPACK_OBJECT_NIL);
	assert_null(mp_map_get(args, "missing"));
	msgpack_unpacked_destroy(&u);
}

static void
test_decode_refuses_what_validate_refuses(void **state)
{
	msgpack_unpacked	 u;
	const char		*cause = NULL;

	(void)state;
	msgpack_unpacked_init(&u);
	assert_int_equal(frame_decode(BYTES(0x92, 1, 2), 3, &limits, &u, &cause), -1);
	assert_string_equal(cause, "frame is not a map");
	assert_int_equal(frame_decode(BYTES(0x81, 0xa1, 'a', 0xdd, 0xff, 0xff,
	    0xff, 0xff, 0, 0), 10, &limits, &u, &cause), -1);
	assert_string_equal(cause, "declared count exceeds frame");
	msgpack_unpacked_destroy(&u);
}

/* A frame of n ints in args.list, id id: 24 bytes of zone an int. */
static void
pack_list_frame(uint64_t id, int n)
{
	msgpack_packer	*pk = &packed.pk;
	int		 i;

	packed_reset();
	msgpack_pack_map(pk, 3);
	mp_pack_kv_int(pk, "id", (int64_t)id);
	mp_pack_kv_str(pk, "op", "appt.list");
	mp_pack_str(pk, "args");
	msgpack_pack_map(pk, 1);
	mp_pack_str(pk, "list");
	msgpack_pack_array(pk, (size_t)n);
	for (i = 0; i < n; i++)
		msgpack_pack_int(pk, i);
}

static void
assert_list_frame(const msgpack_object *o, uint64_t id, int n)
{
	const msgpack_object	*list;
	int64_t			 v;
	int			 i;

	assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(mp_int(mp_map_get(o, "id"), &v), 0);
	assert_int_equal(v, (int64_t)id);
	assert_true(mp_str_eq(mp_map_get(o, "op"), "appt.list"));
	list = mp_map_get(mp_map_get(o, "args"), "list");
	assert_non_null(list);
	assert_int_equal(list->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(list->via.array.size, (uint32_t)n);
	for (i = 0; i < n; i++) {
		assert_int_equal(mp_int(&list->via.array.ptr[i], &v), 0);
		assert_int_equal(v, i);
	}
}

/* One zone serves frame after frame, cleared between them, including a
 * frame that needs more than its first chunk and refused ones. */
static void
test_decode_zone_reuses_one_zone(void **state)
{
	msgpack_object	 o;
	const char	*cause = NULL;

	(void)state;
	pack_list_frame(7, 3);
	assert_int_equal(frame_decode_zone((const unsigned char *)packed.sb.data,
	    packed.sb.size, &limits, zone, &o, &cause), 0);
	assert_list_frame(&o, 7, 3);
	msgpack_zone_clear(zone);

	/* 2,000 objects: about 48 KiB, several chunks past the first 8 KiB. */
	pack_list_frame(8, 2000);
	assert_int_equal(frame_decode_zone((const unsigned char *)packed.sb.data,
	    packed.sb.size, &limits, zone, &o, &cause), 0);
	assert_list_frame(&o, 8, 2000);
	msgpack_zone_clear(zone);

	assert_int_equal(frame_decode_zone(BYTES(0x92, 1, 2), 3, &limits, zone,
	    &o, &cause), -1);
	assert_string_equal(cause, "frame is not a map");
	assert_int_equal(frame_decode_zone(BYTES(0x81, 0xa1, 'a', 0xdd, 0xff,
	    0xff, 0xff, 0xff, 0, 0), 10, &limits, zone, &o, &cause), -1);
	assert_string_equal(cause, "declared count exceeds frame");
	msgpack_zone_clear(zone);

	pack_list_frame(9, 1);
	assert_int_equal(frame_decode_zone((const unsigned char *)packed.sb.data,
	    packed.sb.size, &limits, zone, &o, &cause), 0);
	assert_list_frame(&o, 9, 1);
	msgpack_zone_clear(zone);
}

/* --- fuzz --- */

/* Whatever validates must unpack, exactly, with msgpack-c. */
static void
fuzz_one(const unsigned char *buf, size_t len, size_t *accepted)
{
	msgpack_unpacked	 u;
	msgpack_object		 o;
	const char		*cause;
	size_t			 off = 0;
	int			 decoded;

	msgpack_unpacked_init(&u);
	if (frame_validate(buf, len, &limits, 0, &cause) == 0) {
		(*accepted)++;
		assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, len,
		    &off), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, len);
	} else
		assert_non_null(cause);
	msgpack_unpacked_destroy(&u);
	msgpack_unpacked_init(&u);
	decoded = frame_decode(buf, len, &limits, &u, &cause) == 0;
	if (decoded)
		assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	msgpack_unpacked_destroy(&u);
	/* The kept-zone decoder takes exactly what frame_decode takes. */
	assert_int_equal(frame_decode_zone(buf, len, &limits, zone, &o,
	    &cause) == 0, decoded);
	if (decoded)
		assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
	msgpack_zone_clear(zone);
}

static void
test_fuzz_random_bytes_never_crash(void **state)
{
	unsigned char	buf[96];
	size_t		round, len, i, accepted = 0;

	(void)state;
	prng_state = 0x9e3779b97f4a7c15ULL;
	for (round = 0; round < FUZZ_ROUNDS; round++) {
		uint64_t	r = prng();

		len = 1 + (size_t)(r % sizeof buf);
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)(prng() >> 56);
		/* Half the time start like a map, to get past the first check. */
		if (r & (1ULL << 40))
			buf[0] = (unsigned char)(0x80 | ((r >> 41) & 0x0f));
		fuzz_one(buf, len, &accepted);
	}
	/* The loop must reach some valid frames, or it tests nothing deep. */
	assert_true(accepted > 0);
}

static void
test_fuzz_mutated_frames_never_crash(void **state)
{
	msgpack_packer	*pk = &packed.pk;
	unsigned char	*seed, *buf;
	size_t		 len, round, k, accepted = 0;

	(void)state;
	packed_reset();
	msgpack_pack_map(pk, 3);
	mp_pack_kv_int(pk, "id", 1234);
	mp_pack_kv_str(pk, "op", "users.list");
	mp_pack_str(pk, "args");
	msgpack_pack_map(pk, 4);
	mp_pack_kv_str(pk, "q", "smith");
	mp_pack_kv_int(pk, "limit", -70000);
	mp_pack_str(pk, "tags");
	msgpack_pack_array(pk, 3);
	msgpack_pack_double(pk, 1.25);
	msgpack_pack_bin(pk, 2);
	msgpack_pack_bin_body(pk, "\xff\x00", 2);
	msgpack_pack_map(pk, 1);
	msgpack_pack_nil(pk);
	msgpack_pack_uint32(pk, 70000);
	mp_pack_kv_bool(pk, "active", 1);
	len = packed.sb.size;
	seed = xmalloc(len);
	buf = xmalloc(len);
	memcpy(seed, packed.sb.data, len);
	fuzz_one(seed, len, &accepted);
	assert_int_equal(accepted, 1);

	prng_state = 0x2545f4914f6cdd1dULL;
	for (round = 0; round < FUZZ_ROUNDS; round++) {
		size_t	n = len, flips = 1 + prng() % 4;

		memcpy(buf, seed, len);
		for (k = 0; k < flips; k++)
			buf[prng() % len] = (unsigned char)(prng() >> 56);
		/* Sometimes cut it short. */
		if (prng() % 4 == 0)
			n = 1 + prng() % len;
		fuzz_one(buf, n, &accepted);
	}
	assert_true(accepted > 1);
	free(seed);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_round_trips_big_endian),
		cmocka_unit_test(test_wrap_prefixes_the_length),
		cmocka_unit_test(test_validate_accepts_every_scalar_type),
		cmocka_unit_test(test_validate_accepts_nested_containers),
		cmocka_unit_test(test_validate_accepts_32_bit_headers_with_small_counts),
		cmocka_unit_test(test_validate_any_object_when_no_map_wanted),
		cmocka_unit_test(test_validate_accepts_depth_up_to_the_limit),
		cmocka_unit_test(test_validate_refuses_empty),
		cmocka_unit_test(test_validate_refuses_non_maps_when_a_map_is_wanted),
		cmocka_unit_test(test_validate_refuses_truncated_scalars),
		cmocka_unit_test(test_validate_refuses_truncated_strings),
		cmocka_unit_test(test_validate_refuses_truncated_containers),
		cmocka_unit_test(test_validate_refuses_counts_beyond_the_bytes_left),
		cmocka_unit_test(test_validate_refuses_nesting_deeper_than_the_limit),
		cmocka_unit_test(test_validate_refuses_strings_longer_than_the_limit),
		cmocka_unit_test(test_validate_refuses_too_many_elements),
		cmocka_unit_test(test_validate_refuses_ext_types_and_c1),
		cmocka_unit_test(test_validate_refuses_trailing_bytes),
		cmocka_unit_test(test_validate_refuses_frames_over_max_frame),
		cmocka_unit_test(test_decode_yields_the_object),
		cmocka_unit_test(test_decode_refuses_what_validate_refuses),
		cmocka_unit_test(test_decode_zone_reuses_one_zone),
		cmocka_unit_test(test_fuzz_random_bytes_never_crash),
		cmocka_unit_test(test_fuzz_mutated_frames_never_crash),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
