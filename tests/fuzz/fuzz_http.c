/* fuzz_http.c -- libFuzzer: the HTTP adapter's request path short of the
 * socket (server/http-route.c): route lookup with :id, the query string
 * turned into op arguments, the JSON body and its "action", the arguments
 * packed for dispatch and checked as the server checks a frame, and the
 * renderings (.ics, FHIR) fed whatever JSON the input holds.
 *
 * Input: one byte picks the method, then "PATH[?QUERY]\n", then the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>
#include <msgpack.h>

#include "frame.h"
#include "http.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int	methods[] = {
	EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_PUT, EVHTTP_REQ_PATCH,
	EVHTTP_REQ_DELETE, EVHTTP_REQ_HEAD, EVHTTP_REQ_OPTIONS,
};

static void
pack_and_check(const char *op, json_t *args)
{
	struct frame_limits	 lim;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	const char		*cause;

	/* As http_dispatch builds the request. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "op", 2);
	msgpack_pack_str(&pk, strlen(op));
	msgpack_pack_str_body(&pk, op, strlen(op));
	msgpack_pack_str(&pk, 4);
	msgpack_pack_str_body(&pk, "args", 4);
	json_to_msgpack(args, &pk);
	frame_limits_default(&lim);
	(void)frame_validate((const unsigned char *)sb.data, sb.size, &lim, 1,
	    &cause);
	msgpack_sbuffer_destroy(&sb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct http_route	*rt;
	const char		*nl, *q, *op;
	char			*line, *ics;
	json_error_t		 jerr;
	json_t			*args = NULL, *body, *fhir;
	int64_t			 id;
	int			 other, method;
	size_t			 n;

	if (size < 2)
		return 0;
	method = methods[data[0] % (sizeof methods / sizeof methods[0])];
	data++;
	size--;
	nl = memchr(data, '\n', size);
	n = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	line = malloc(n + 1);
	memcpy(line, data, n);
	line[n] = '\0';
	if ((q = strchr(line, '?')) != NULL)
		line[q++ - line] = '\0';
	data += nl != NULL ? n + 1 : n;
	size -= nl != NULL ? n + 1 : n;

	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	rt = http_route_find(method, line, &id, &other);
	if (rt != NULL) {
		op = rt->op;
		if (rt->flags & ROUTE_BODY)
			args = json_is_object(body) ? json_deep_copy(body) : NULL;
		else if (rt->flags & ROUTE_QUERY)
			args = http_query_args(q);
		else
			args = json_object();
		if (args != NULL && (rt->flags & ROUTE_ACTION))
			op = http_route_action(rt, args);
		if (args != NULL && op != NULL) {
			if (rt->id_arg != NULL)
				json_object_set_new(args, rt->id_arg,
				    json_integer(id));
			pack_and_check(op, args);
		}
		json_decref(args);
	} else if (q != NULL)
		json_decref(http_query_args(q));

	/* The renderings take op results; here, anything at all. */
	if (json_is_object(body)) {
		ics = http_render_ics(body, 1700000000);
		free(ics);
		fhir = http_fhir_patient(body);
		json_decref(fhir);
	}
	if (body != NULL) {
		fhir = http_fhir_appointments(body);
		json_decref(fhir);
	}
	json_decref(body);
	free(line);
	return 0;
}
