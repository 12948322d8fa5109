/* fuzz_json.c -- libFuzzer: JSON input as the call mode and the HTTP
 * adapter take it (jansson, then json_to_msgpack), through the frame
 * validator the server applies, and back to JSON: whatever the validator
 * accepts must come back equal to what was sent. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>
#include <msgpack.h>

#include "frame.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_limits	 lim;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	msgpack_unpacked	 u;
	json_error_t		 jerr;
	json_t			*in, *back;
	const char		*cause;
	size_t			 off = 0;

	/* The HTTP adapter's flags; the call mode uses the same. */
	in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (in == NULL)
		return 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_to_msgpack(in, &pk);
	frame_limits_default(&lim);
	if (sb.size > 0 && frame_validate((const unsigned char *)sb.data,
	    sb.size, &lim, 0, &cause) == 0) {
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, sb.data, sb.size, &off) !=
		    MSGPACK_UNPACK_SUCCESS || off != sb.size)
			abort();
		back = msgpack_to_json(&u.data);
		if (back == NULL || !json_equal(in, back))
			abort();
		json_decref(back);
		msgpack_unpacked_destroy(&u);
	}
	msgpack_sbuffer_destroy(&sb);
	json_decref(in);
	return 0;
}
