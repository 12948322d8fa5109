/* test_fuzz_regressions.c -- every input the fuzzers (tests/fuzz/) crashed
 * on, kept as a test. Run under the sanitizer build (make asan) these fail
 * without their fixes: UBSan for undefined behaviour, LeakSanitizer for
 * leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>

#include "frame.h"
#include "http.h"
#include "json.h"

/* Unpacks msgpack bytes and converts them to JSON (a new reference). */
static json_t *
unpack_to_json(const char *buf, size_t len)
{
	struct frame_limits	 lim;
	msgpack_unpacked	 u;
	const char		*cause;
	json_t			*j;

	frame_limits_default(&lim);
	msgpack_unpacked_init(&u);
	assert_int_equal(frame_decode((const unsigned char *)buf, len, &lim, &u,
	    &cause), 0);
	j = msgpack_to_json(&u.data);
	msgpack_unpacked_destroy(&u);
	return j;
}

/*
 * fuzz_json and fuzz_frame: msgpack-c hands an empty str a NULL pointer,
 * and msgpack_to_json copied an empty map key with memcpy(p, NULL, 0)
 * (xstrndup): undefined behaviour, fatal under UBSan. {"": 7}
 */
static void
test_empty_map_key_converts_to_json(void **state)
{
	static const char	buf[] = "\x81\xa0\x07";
	json_t			*j;

	(void)state;
	j = unpack_to_json(buf, sizeof buf - 1);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "")), 7);
	json_decref(j);
}

/*
 * fuzz_json: jansson refuses json_stringn_nocheck(NULL, 0), so every empty
 * string (a patient's empty phone in an HTTP reply, in `mediflow call`
 * output) vanished from the JSON, its key with it.
 */
static void
test_empty_key_and_value_round_trip_through_msgpack(void **state)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	json_error_t	 err;
	json_t		*in, *back;

	(void)state;
	in = json_loads("{\"\": \"\", \"a\": {\"\": []}}", 0, &err);
	assert_non_null(in);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_to_msgpack(in, &pk);
	back = unpack_to_json(sb.data, sb.size);
	assert_true(json_equal(in, back));
	json_decref(back);
	json_decref(in);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * fuzz_http: a query string libevent cannot parse ("GET /api/doctors?pat")
 * leaked the arguments object made before parsing, on every request.
 */
static void
test_unparsable_query_string_leaks_nothing(void **state)
{
	int	i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_null(http_query_args("pat"));
	/* A good one still parses. */
	{
		json_t	*a = http_query_args("doctorId=3&unreadOnly=true");

		assert_non_null(a);
		assert_int_equal(json_integer_value(json_object_get(a,
		    "doctor_id")), 3);
		assert_true(json_is_true(json_object_get(a, "unread_only")));
		json_decref(a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_map_key_converts_to_json),
		cmocka_unit_test(test_empty_key_and_value_round_trip_through_msgpack),
		cmocka_unit_test(test_unparsable_query_string_leaks_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
