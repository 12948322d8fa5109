/* test_http_route.c -- the HTTP adapter's pure parts: route matching, query
 * strings to op arguments, the .ics rendering, the FHIR resources and
 * whether Accept-Encoding takes gzip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/http.h>

#include "http.h"

static void
test_routes_match_paths_methods_and_ids(void **state)
{
	const struct http_route	*rt;
	int64_t			 id;
	int			 other;

	(void)state;
	rt = http_route_find(EVHTTP_REQ_GET, "/api/appointments/available-slots",
	    &id, &other);
	assert_non_null(rt);
	assert_string_equal(rt->op, "appt.slots");
	rt = http_route_find(EVHTTP_REQ_GET, "/api/appointments/12", &id, &other);
	assert_non_null(rt);
	assert_string_equal(rt->op, "appt.get");
	assert_int_equal(id, 12);
	rt = http_route_find(EVHTTP_REQ_GET, "/api/appointments/12/ics", &id, &other);
	assert_non_null(rt);
	assert_int_equal(rt->render, RENDER_ICS);
	rt = http_route_find(EVHTTP_REQ_PATCH, "/api/appointments/7", &id, &other);
	assert_non_null(rt);
	assert_null(rt->op);
	assert_true(rt->flags & ROUTE_ACTION);
	rt = http_route_find(EVHTTP_REQ_POST, "/api/messages/5/read", &id, &other);
	assert_string_equal(rt->op, "chat.read");
	assert_string_equal(rt->id_arg, "conversation_id");
	assert_int_equal(id, 5);
	/* A word where chat.history takes an id is its own route. */
	rt = http_route_find(EVHTTP_REQ_GET, "/api/messages/contacts", &id, &other);
	assert_non_null(rt);
	assert_string_equal(rt->op, "chat.contacts");
	assert_true(rt->flags & ROUTE_QUERY);
	/* A trailing slash is the same route. */
	assert_non_null(http_route_find(EVHTTP_REQ_GET, "/api/doctors/", &id, &other));

	assert_null(http_route_find(EVHTTP_REQ_DELETE, "/api/health", &id, &other));
	assert_int_equal(other, 1);
	assert_null(http_route_find(EVHTTP_REQ_GET, "/api/nope", &id, &other));
	assert_int_equal(other, 0);
	assert_null(http_route_find(EVHTTP_REQ_GET, "/api/doctors/abc", &id, &other));
	assert_null(http_route_find(EVHTTP_REQ_GET, "/api/doctors/1x", &id, &other));
	assert_null(http_route_find(EVHTTP_REQ_GET,
	    "/api/doctors/12345678901234567890", &id, &other));
	assert_null(http_route_find(EVHTTP_REQ_GET, "/api/healthz", &id, &other));
}

static void
test_action_picks_the_op(void **state)
{
	const struct http_route	*rt;
	json_t			*args;
	int64_t			 id;
	int			 other;

	(void)state;
	rt = http_route_find(EVHTTP_REQ_PATCH, "/api/appointments/7", &id, &other);
	args = json_pack("{s:s, s:s}", "action", "cancel", "reason", "ill");
	assert_string_equal(http_route_action(rt, args), "appt.cancel");
	assert_null(json_object_get(args, "action"));
	json_decref(args);
	args = json_pack("{s:s}", "action", "delete");
	assert_null(http_route_action(rt, args));
	json_decref(args);
	args = json_pack("{s:i}", "action", 1);
	assert_null(http_route_action(rt, args));
	json_decref(args);
}

static void
test_query_strings_become_op_arguments(void **state)
{
	json_t	*a;

	(void)state;
	a = http_query_args("doctorId=3&date=2030-01-01&unreadOnly=true");
	assert_non_null(a);
	assert_int_equal(json_integer_value(json_object_get(a, "doctor_id")), 3);
	assert_string_equal(json_string_value(json_object_get(a, "date")),
	    "2030-01-01");
	assert_true(json_is_true(json_object_get(a, "unread_only")));
	json_decref(a);
	/* Not an integer: left as a string for the op to refuse by name. */
	a = http_query_args("limit=ten&q=a%20b");
	assert_string_equal(json_string_value(json_object_get(a, "limit")), "ten");
	assert_string_equal(json_string_value(json_object_get(a, "q")), "a b");
	json_decref(a);
	a = http_query_args("patient=Patient/7");
	assert_int_equal(json_integer_value(json_object_get(a, "patient_id")), 7);
	json_decref(a);
	/* The first of a repeated name counts. */
	a = http_query_args("limit=1&limit=2");
	assert_int_equal(json_integer_value(json_object_get(a, "limit")), 1);
	json_decref(a);
	a = http_query_args(NULL);
	assert_int_equal(json_object_size(a), 0);
	json_decref(a);
	/* Not UTF-8. */
	assert_null(http_query_args("q=%ff%fe"));
}

static void
test_ics_is_rfc5545(void **state)
{
	json_t	*a;
	char	*ics, *p;

	(void)state;
	a = json_pack("{s:i, s:i, s:i, s:s, s:s, s:s}", "id", 42,
	    "starts_at", 1893456000, "ends_at", 1893457800, "status", "requested",
	    "doctor_name", "Dr. Zoë Ångström-Łukasiewicz, the clinic's most "
	    "senior cardiologist; on call",
	    "reason", "line one\nline two, with; punctuation \\ here");
	ics = http_render_ics(a, 1893400000);
	assert_non_null(strstr(ics, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
	assert_non_null(strstr(ics, "\r\nUID:appointment-42@mediflow\r\n"));
	assert_non_null(strstr(ics, "\r\nDTSTAMP:20291231T082640Z\r\n"));
	assert_non_null(strstr(ics, "\r\nDTSTART:20300101T000000Z\r\n"));
	assert_non_null(strstr(ics, "\r\nDTEND:20300101T003000Z\r\n"));
	assert_non_null(strstr(ics, "\r\nSTATUS:TENTATIVE\r\n"));
	assert_non_null(strstr(ics, "DESCRIPTION:line one\\nline two\\, with\\; "
	    "punctuation \\\\ here\r\n"));
	assert_non_null(strstr(ics, "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"));
	/* The long SUMMARY is folded: no line over 75 octets, every line
	 * ends in CRLF, and no fold splits a UTF-8 sequence. */
	assert_non_null(strstr(ics, "\r\n "));
	for (p = ics; *p != '\0'; ) {
		char	*eol = strstr(p, "\r\n");

		assert_non_null(eol);
		assert_true(eol - p <= 75);
		assert_true(((unsigned char)eol[2] & 0xc0) != 0x80 ||
		    eol[2] == '\0');
		if (eol[2] == ' ')
			assert_true(((unsigned char)eol[3] & 0xc0) != 0x80);
		p = eol + 2;
	}
	free(ics);
	json_decref(a);
}

static void
test_fhir_resources(void **state)
{
	json_t	*p, *r, *list, *b;

	(void)state;
	p = json_pack("{s:i, s:s, s:s, s:s, s:n, s:s, s:i}", "id", 9, "full_name",
	    "Ann Lee", "date_of_birth", "1980-02-03", "phone", "+15550100",
	    "email", "address", "1 Main St", "updated_at", 1893456000);
	r = http_fhir_patient(p);
	assert_string_equal(json_string_value(json_object_get(r, "resourceType")),
	    "Patient");
	assert_string_equal(json_string_value(json_object_get(r, "id")), "9");
	assert_string_equal(json_string_value(json_object_get(r, "birthDate")),
	    "1980-02-03");
	assert_int_equal(json_array_size(json_object_get(r, "telecom")), 1);
	json_decref(r);
	json_decref(p);

	list = json_pack("[{s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:i, s:i}]",
	    "id", 3, "patient_id", 9, "doctor_id", 2, "starts_at", 1893456000,
	    "status", "no_show", "patient_name", "Ann Lee", "doctor_name",
	    "Dr. B", "ends_at", 1893457200, "created_at", 1893400000);
	b = http_fhir_appointments(list);
	assert_string_equal(json_string_value(json_object_get(b, "type")),
	    "searchset");
	assert_int_equal(json_integer_value(json_object_get(b, "total")), 1);
	r = json_object_get(json_array_get(json_object_get(b, "entry"), 0),
	    "resource");
	assert_string_equal(json_string_value(json_object_get(r, "status")),
	    "noshow");
	assert_string_equal(json_string_value(json_object_get(r, "start")),
	    "2030-01-01T00:00:00Z");
	assert_int_equal(json_integer_value(json_object_get(r, "minutesDuration")),
	    20);
	json_decref(b);
	json_decref(list);
	r = http_fhir_outcome("not_found", "no such thing");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "issue"), 0), "code")), "not-found");
	json_decref(r);
}

static void
test_accept_encoding_takes_gzip(void **state)
{
	static const char *const yes[] = {
		"gzip", "GZip", "x-gzip", "gzip, deflate, br", "br, gzip",
		"deflate,gzip;q=0.5", "gzip ; q=1", "gzip;q=1.000", "gzip;Q=0.001",
		"*", "br, *;q=0.1", " , gzip", "gzip;level=9", "identity;q=0, gzip",
	};
	static const char *const no[] = {
		"", "identity", "br, deflate", "gzip;q=0", "gzip;q=0.000",
		"gzip; q=0.0, *", "*;q=0", "gzip;q=", "gzip;q=abc", "gzip;q=0.0001",
		"gzip;q=2", "gzipx", "xgzip", "gz", "br;q=1, gzip;q=0",
		"gzip;q=0, gzip", "*, gzip;q=0",
	};
	size_t	i;

	(void)state;
	/* No header: the identity form, for clients that predate gzip. */
	assert_int_equal(http_accepts_gzip(NULL), 0);
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!http_accepts_gzip(yes[i]))
			fail_msg("\"%s\" should take gzip", yes[i]);
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		if (http_accepts_gzip(no[i]))
			fail_msg("\"%s\" should not take gzip", no[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_paths_methods_and_ids),
		cmocka_unit_test(test_action_picks_the_op),
		cmocka_unit_test(test_query_strings_become_op_arguments),
		cmocka_unit_test(test_ics_is_rfc5545),
		cmocka_unit_test(test_fhir_resources),
		cmocka_unit_test(test_accept_encoding_takes_gzip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
