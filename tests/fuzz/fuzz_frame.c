/* fuzz_frame.c -- libFuzzer: the frame codec as the server reads it.
 *
 * The input is a byte stream from a peer: frames (u32 big-endian length,
 * then msgpack) read one after another with the server's limits, as
 * conn_process does. Each frame goes through frame_decode; what it accepts
 * must be one msgpack map that msgpack-c unpacks whole, that packs again
 * into something the validator accepts, and that converts to JSON (the
 * adapter and the client do). Then the envelope's fields are read the way
 * dispatch reads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "frame.h"
#include "json.h"
#include "mp.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The envelope checks of ops_dispatch; returns 0 when it would reach lookup. */
static int
envelope_ok(const msgpack_object *o)
{
	const msgpack_object	*id, *op, *args;

	id = mp_map_get(o, "id");
	op = mp_map_get(o, "op");
	args = mp_map_get(o, "args");
	if (id == NULL || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	if (op == NULL || op->type != MSGPACK_OBJECT_STR || op->via.str.size == 0 ||
	    op->via.str.size > 64)
		return -1;
	if (args != NULL && args->type != MSGPACK_OBJECT_NIL &&
	    args->type != MSGPACK_OBJECT_MAP)
		return -1;
	return 0;
}

static void
check_frame(const unsigned char *body, size_t len, const struct frame_limits *lim)
{
	struct frame_limits	 loose;
	msgpack_unpacked	 u;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	const char		*cause = NULL;
	json_t			*j;

	msgpack_unpacked_init(&u);
	if (frame_decode(body, len, lim, &u, &cause) != 0) {
		if (cause == NULL)
			abort();	/* every refusal names its reason */
		msgpack_unpacked_destroy(&u);
		return;
	}
	if (u.data.type != MSGPACK_OBJECT_MAP)
		abort();
	/* Packed again, the object is no bigger and still valid. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, u.data);
	loose = *lim;
	loose.max_frame = len > sb.size ? len : sb.size;
	if (frame_validate((const unsigned char *)sb.data, sb.size, &loose, 1,
	    &cause) != 0)
		abort();
	msgpack_sbuffer_destroy(&sb);
	j = msgpack_to_json(&u.data);
	json_decref(j);
	(void)envelope_ok(&u.data);
	msgpack_unpacked_destroy(&u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_limits	lim;
	size_t			pos = 0;
	uint32_t		len;

	frame_limits_default(&lim);
	/* Small enough that the fuzzer reaches the size checks. */
	lim.max_frame = 4096;
	lim.max_str = 1024;
	lim.max_elements = 512;
	while (size - pos >= FRAME_HEADER_SIZE) {
		len = frame_header_length(data + pos);
		pos += FRAME_HEADER_SIZE;
		/* conn_process refuses these before reading the body. */
		if (len == 0 || len > lim.max_frame)
			break;
		if (size - pos < len) {
			/* A truncated last frame is validated as it stands. */
			check_frame(data + pos, size - pos, &lim);
			break;
		}
		check_frame(data + pos, len, &lim);
		pos += len;
	}
	return 0;
}
