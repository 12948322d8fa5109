/* http.h -- the HTTP adapter: a second door onto the op table.
 *
 * Every /api route is one op (protocol.md, "HTTP adapter"): the request
 * becomes a request on a virtual connection (conn.h) and goes through
 * ops_dispatch, so roles, rate limits, validation and audit are the op's. */
#ifndef MF_HTTP_H
#define MF_HTTP_H

#include <stdint.h>

#include <jansson.h>

/* Serves HTTP on hostport ("HOST:0" picks a port); 0, or -1 and *cause. */
int	 http_listen(const char *hostport, char **cause);
/* The port the HTTP listener is bound to. */
int	 http_bound_port(void);
/* Closes every HTTP connection and the listener. */
void	 http_shutdown(void);

/* --- routes (http-route.c) --- */

enum http_render {
	RENDER_JSON,		/* the op's result as JSON */
	RENDER_LOGIN,		/* sets the session cookie, drops the token */
	RENDER_LOGOUT,		/* clears the session cookie */
	RENDER_ICS,		/* an appointment as text/calendar */
	RENDER_FHIR_PATIENT,	/* a FHIR R4 Patient */
	RENDER_FHIR_APPTS,	/* a FHIR R4 Bundle of Appointments */
	RENDER_EVENTS,		/* a Server-Sent Events stream */
	RENDER_FILE,		/* a stored file, fetched chunk by chunk */
};

#define ROUTE_BODY	0x1	/* the arguments come from a JSON body */
#define ROUTE_QUERY	0x2	/* the arguments come from the query string */
#define ROUTE_ACTION	0x4	/* the body's "action" names the op */
#define ROUTE_CREATED	0x8	/* success is 201 */

struct http_route {
	int		 method;	/* one EVHTTP_REQ_* */
	const char	*pattern;	/* "/api/appointments/:id/ics" */
	const char	*op;		/* NULL with ROUTE_ACTION */
	const char	*id_arg;	/* the op argument :id fills */
	int		 flags;
	enum http_render render;
};

/*
 * The route for method and path, with *id its :id (or 0). NULL when none:
 * *other_method says whether the path exists under another method.
 */
const struct http_route *http_route_find(int method, const char *path,
	    int64_t *id, int *other_method);
/* The op an ROUTE_ACTION body names (and removes from args), or NULL. */
const char	*http_route_action(const struct http_route *, json_t *args);
/* Query string to op arguments ("doctorId=3" -> {doctor_id: 3}); new reference. */
json_t		*http_query_args(const char *query);
/*
 * Whether an Accept-Encoding value (NULL: none sent) takes gzip (RFC 9110
 * 12.5.3): "gzip" or "x-gzip" with a q above 0, or, when neither is named,
 * "*" with one. No header gets the identity form, whatever the RFC allows:
 * a client that sends none may not decode gzip.
 */
int		 http_accepts_gzip(const char *accept_encoding);

/* An appointment as an RFC 5545 calendar (CRLF lines); allocated. */
char	*http_render_ics(json_t *appointment, int64_t now);
/* FHIR R4 resources built from op results; new references. */
json_t	*http_fhir_patient(json_t *patient);
json_t	*http_fhir_appointments(json_t *appointments);
/* A FHIR OperationOutcome for an error. */
json_t	*http_fhir_outcome(const char *code, const char *message);

#endif
