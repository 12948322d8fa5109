/* http-route.c -- the HTTP adapter's routes, query strings, and the
 * renderings that are not plain JSON: .ics calendars and FHIR R4. */
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http.h"
#include "server.h"
#include "util.h"

static const struct http_route routes[] = {
	{ EVHTTP_REQ_GET, "/api/health", "health", NULL, 0, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/auth/register", "auth.register", NULL,
	    ROUTE_BODY | ROUTE_CREATED, RENDER_LOGIN },
	{ EVHTTP_REQ_POST, "/api/auth/login", "auth.login", NULL, ROUTE_BODY,
	    RENDER_LOGIN },
	{ EVHTTP_REQ_POST, "/api/auth/logout", "auth.logout", NULL, ROUTE_BODY,
	    RENDER_LOGOUT },
	{ EVHTTP_REQ_GET, "/api/auth/me", "auth.me", NULL, 0, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/auth/change-password", "auth.change_password",
	    NULL, ROUTE_BODY, RENDER_LOGIN },
	{ EVHTTP_REQ_GET, "/api/doctors", "doctors.list", NULL, ROUTE_QUERY,
	    RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/doctors/:id", "doctors.get", "id", 0, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/appointments/available-slots", "appt.slots", NULL,
	    ROUTE_QUERY, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/appointments", "appt.list", NULL, ROUTE_QUERY,
	    RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/appointments", "appt.book", NULL,
	    ROUTE_BODY | ROUTE_CREATED, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/appointments/:id", "appt.get", "id", 0,
	    RENDER_JSON },
	{ EVHTTP_REQ_PATCH, "/api/appointments/:id", NULL, "id",
	    ROUTE_BODY | ROUTE_ACTION, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/appointments/:id/ics", "appt.get", "id", 0,
	    RENDER_ICS },
	{ EVHTTP_REQ_GET, "/api/cancel-reasons", "cancel_reasons.list", NULL, 0,
	    RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/prescriptions", "rx.list", NULL, ROUTE_QUERY,
	    RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/medical-records", "records.list", NULL,
	    ROUTE_QUERY, RENDER_JSON },
	/* A download is files.get again and again, each chunk once the last
	 * one is on its way. */
	{ EVHTTP_REQ_GET, "/api/files", "files.list", NULL, ROUTE_QUERY,
	    RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/files/:id", "files.get", "file_id", 0,
	    RENDER_FILE },
	{ EVHTTP_REQ_GET, "/api/messages", "chat.list", NULL, 0, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/messages/unread", "chat.unread", NULL, 0,
	    RENDER_JSON },
	/* Whom the caller may write to: the page's picker for chat.open. */
	{ EVHTTP_REQ_GET, "/api/messages/contacts", "chat.contacts", NULL,
	    ROUTE_QUERY, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/messages/open", "chat.open", NULL, ROUTE_BODY,
	    RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/messages/:id", "chat.history", "conversation_id",
	    ROUTE_QUERY, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/messages/:id", "chat.send", "conversation_id",
	    ROUTE_BODY, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/messages/:id/read", "chat.read",
	    "conversation_id", ROUTE_BODY, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/messages/:id/typing", "chat.typing",
	    "conversation_id", ROUTE_BODY, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/notifications", "notifications.list", NULL,
	    ROUTE_QUERY, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/notifications/read-all",
	    "notifications.read_all", NULL, ROUTE_BODY, RENDER_JSON },
	{ EVHTTP_REQ_POST, "/api/notifications/:id/read", "notifications.read",
	    "id", ROUTE_BODY, RENDER_JSON },
	{ EVHTTP_REQ_GET, "/api/me/reminder-channels",
	    "patients.get_reminder_channels", NULL, 0, RENDER_JSON },
	{ EVHTTP_REQ_PUT, "/api/me/reminder-channels",
	    "patients.set_reminder_channels", NULL, ROUTE_BODY, RENDER_JSON },
	/* The stream starts once auth.me says the cookie's session is live. */
	{ EVHTTP_REQ_GET, "/api/events", "auth.me", NULL, 0, RENDER_EVENTS },
	{ EVHTTP_REQ_GET, "/fhir/Patient/:id", "patients.get", "id", 0,
	    RENDER_FHIR_PATIENT },
	{ EVHTTP_REQ_GET, "/fhir/Appointment", "appt.list", NULL, ROUTE_QUERY,
	    RENDER_FHIR_APPTS },
};

/* Query arguments that are integers or booleans on the op's side. */
static const char *const int_args[] = {
	"id", "doctor_id", "patient_id", "from", "to", "limit", "offset",
	"before_id", "after_id", "conversation_id", "up_to_id", "user_id",
	"record_id", "file_id", NULL
};
static const char *const bool_args[] = { "unread_only", NULL };

/* Matches one pattern; 1 and *id on a match. */
static int
route_match(const char *pattern, const char *path, int64_t *id)
{
	const char	*p = pattern, *s = path;
	char		*end;
	long long	 v;

	while (*p != '\0' && *s != '\0') {
		if (strncmp(p, ":id", 3) == 0) {
			if (!isdigit((unsigned char)*s))
				return 0;
			errno = 0;
			v = strtoll(s, &end, 10);
			if (errno != 0 || end - s > 18)
				return 0;
			*id = v;
			s = end;
			p += 3;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'));
}

const struct http_route *
http_route_find(int method, const char *path, int64_t *id, int *other_method)
{
	size_t	i;
	int64_t	v;

	*id = 0;
	*other_method = 0;
	for (i = 0; i < nitems(routes); i++) {
		v = 0;
		if (!route_match(routes[i].pattern, path, &v))
			continue;
		if (routes[i].method != method) {
			*other_method = 1;
			continue;
		}
		*id = v;
		return &routes[i];
	}
	return NULL;
}

const char *
http_route_action(const struct http_route *rt, json_t *args)
{
	const char	*action, *op = NULL;
	json_t		*a;

	(void)rt;
	if ((a = json_object_get(args, "action")) == NULL || !json_is_string(a))
		return NULL;
	action = json_string_value(a);
	if (strcmp(action, "cancel") == 0)
		op = "appt.cancel";
	else if (strcmp(action, "reschedule") == 0)
		op = "appt.reschedule";
	if (op != NULL)
		json_object_del(args, "action");
	return op;
}

static int
name_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* "doctorId" -> "doctor_id"; allocated. */
static char *
snake_case(const char *name)
{
	size_t	 n = strlen(name), i, j = 0;
	char	*out = xmalloc(2 * n + 1);

	for (i = 0; i < n; i++) {
		if (isupper((unsigned char)name[i])) {
			if (j > 0)
				out[j++] = '_';
			out[j++] = (char)tolower((unsigned char)name[i]);
		} else
			out[j++] = name[i];
	}
	out[j] = '\0';
	return out;
}

json_t *
http_query_args(const char *query)
{
	struct evkeyvalq	 q;
	struct evkeyval		*kv;
	json_t			*args = json_object(), *v;
	char			*name, *end;
	long long		 n;

	if (query == NULL || *query == '\0')
		return args;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0) {
		evhttp_clear_headers(&q);
		json_decref(args);
		return NULL;
	}
	TAILQ_FOREACH(kv, &q, next) {
		name = snake_case(kv->key);
		/* A FHIR search names the patient "patient" or "Patient/7". */
		if (strcmp(name, "patient") == 0) {
			free(name);
			name = xstrdup("patient_id");
			if (strncmp(kv->value, "Patient/", 8) == 0)
				memmove(kv->value, kv->value + 8,
				    strlen(kv->value + 8) + 1);
		}
		v = NULL;
		/* What is not well-formed goes as a string, so the op's own
		 * check answers ("doctor_id: must be an integer"). */
		if (name_in(name, int_args) && kv->value[0] != '\0') {
			errno = 0;
			n = strtoll(kv->value, &end, 10);
			if (errno == 0 && *end == '\0')
				v = json_integer(n);
		} else if (name_in(name, bool_args)) {
			if (strcmp(kv->value, "true") == 0 ||
			    strcmp(kv->value, "1") == 0)
				v = json_true();
			else if (strcmp(kv->value, "false") == 0 ||
			    strcmp(kv->value, "0") == 0)
				v = json_false();
		}
		if (v == NULL)
			v = json_string(kv->value);
		if (v == NULL) {
			/* Not UTF-8: jansson refuses it, and so would the op. */
			free(name);
			evhttp_clear_headers(&q);
			json_decref(args);
			return NULL;
		}
		if (json_object_get(args, name) == NULL)
			json_object_set_new(args, name, v);
		else
			json_decref(v);
		free(name);
	}
	evhttp_clear_headers(&q);
	return args;
}

/* --- content codings --- */

/* A qvalue ("0", "0.5", "1.000") above zero; n its length. Anything that
 * is not a qvalue counts as zero: a coding is sent only when surely asked. */
static int
qvalue_positive(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || (s[0] != '0' && s[0] != '1') || (n > 1 && s[1] != '.') ||
	    n > 5)
		return 0;
	for (i = 2; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	for (i = 0; i < n; i++)
		if (s[i] >= '1' && s[i] <= '9')
			return 1;
	return 0;
}

int
http_accepts_gzip(const char *v)
{
	const char	*p = v, *name;
	size_t		 len, n;
	int		 gzip = -1, star = -1, ok;	/* -1: not named */

	if (v == NULL)
		return 0;
	while (*p != '\0') {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		name = p;
		len = strcspn(p, ";, \t");
		p += len;
		ok = 1;
		for (;;) {
			p += strspn(p, " \t");
			if (*p != ';')
				break;
			p++;
			p += strspn(p, " \t");
			n = strcspn(p, ";, \t");
			if (n >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
				ok = qvalue_positive(p + 2, n - 2);
			p += n;
		}
		p += strcspn(p, ",");
		if ((len == 4 && strncasecmp(name, "gzip", 4) == 0) ||
		    (len == 6 && strncasecmp(name, "x-gzip", 6) == 0))
			gzip = gzip == 0 ? 0 : ok;
		else if (len == 1 && *name == '*')
			star = ok;
	}
	return gzip != -1 ? gzip : star == 1;
}

/* --- iCalendar (RFC 5545) --- */

static void
ics_time(char *out, size_t len, int64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof tm);	/* past year 2^31: never from our data */
	strftime(out, len, "%Y%m%dT%H%M%SZ", &tm);
}

/* TEXT values escape backslash, ';', ',' and newlines (3.3.11). */
static void
ics_escape(char **buf, size_t *len, size_t *cap, const char *s)
{
	for (; *s != '\0'; s++) {
		const char	*add;
		char		 one[2] = { *s, '\0' };

		switch (*s) {
		case '\\': add = "\\\\"; break;
		case ';': add = "\\;"; break;
		case ',': add = "\\,"; break;
		case '\n': add = "\\n"; break;
		case '\r': continue;
		default: add = one; break;
		}
		while (*len + strlen(add) + 1 > *cap) {
			*cap *= 2;
			*buf = xrealloc(*buf, *cap);
		}
		memcpy(*buf + *len, add, strlen(add));
		*len += strlen(add);
		(*buf)[*len] = '\0';
	}
}

struct textbuf {
	char	*s;
	size_t	 len, cap;
};

static void
shim_add(struct textbuf *b, const char *p, size_t n)
{
	while (b->len + n + 1 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 1024;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Appends one content line, folded at 75 octets without splitting a
 * UTF-8 sequence (3.1), and its CRLF. */
static void
ics_line(struct textbuf *b, const char *line)
{
	size_t	n = strlen(line), done = 0, take, limit = 75;

	while (n - done > limit) {
		take = limit;
		/* Back up to the start of a UTF-8 sequence. */
		while (take > 0 && ((unsigned char)line[done + take] & 0xc0) == 0x80)
			take--;
		shim_add(b, line + done, take);
		shim_add(b, "\r\n ", 3);
		done += take;
		limit = 74;	/* the leading space counts */
	}
	shim_add(b, line + done, n - done);
	shim_add(b, "\r\n", 2);
}

static const char *
jtext(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static int64_t
jnum(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

char *
http_render_ics(json_t *a, int64_t now)
{
	struct textbuf	 b = { NULL, 0, 0 };
	const char		*status = jtext(a, "status"), *ics_status;
	char			 t[32], *line, *text;
	size_t			 tlen = 0, tcap = 256;

	if (strcmp(status, "requested") == 0)
		ics_status = "TENTATIVE";
	else if (strcmp(status, "cancelled") == 0 ||
	    strcmp(status, "rejected") == 0 ||
	    strcmp(status, "rescheduled") == 0 || strcmp(status, "no_show") == 0)
		ics_status = "CANCELLED";
	else
		ics_status = "CONFIRMED";
	ics_line(&b, "BEGIN:VCALENDAR");
	ics_line(&b, "VERSION:2.0");
	ics_line(&b, "PRODID:-//MediFlow//mediflowd " MEDIFLOWD_VERSION "//EN");
	ics_line(&b, "CALSCALE:GREGORIAN");
	ics_line(&b, "METHOD:PUBLISH");
	ics_line(&b, "BEGIN:VEVENT");
	line = xasprintf("UID:appointment-%lld@mediflow", (long long)jnum(a, "id"));
	ics_line(&b, line);
	free(line);
	ics_time(t, sizeof t, now);
	line = xasprintf("DTSTAMP:%s", t);
	ics_line(&b, line);
	free(line);
	ics_time(t, sizeof t, jnum(a, "starts_at"));
	line = xasprintf("DTSTART:%s", t);
	ics_line(&b, line);
	free(line);
	ics_time(t, sizeof t, jnum(a, "ends_at"));
	line = xasprintf("DTEND:%s", t);
	ics_line(&b, line);
	free(line);

	text = xmalloc(tcap);
	text[0] = '\0';
	ics_escape(&text, &tlen, &tcap, "Appointment with ");
	ics_escape(&text, &tlen, &tcap, jtext(a, "doctor_name"));
	line = xasprintf("SUMMARY:%s", text);
	ics_line(&b, line);
	free(line);
	if (*jtext(a, "reason") != '\0') {
		tlen = 0;
		text[0] = '\0';
		ics_escape(&text, &tlen, &tcap, jtext(a, "reason"));
		line = xasprintf("DESCRIPTION:%s", text);
		ics_line(&b, line);
		free(line);
	}
	free(text);
	line = xasprintf("STATUS:%s", ics_status);
	ics_line(&b, line);
	free(line);
	ics_line(&b, "END:VEVENT");
	ics_line(&b, "END:VCALENDAR");
	return b.s;
}

/* --- FHIR R4 --- */

static json_t *
fhir_instant(int64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;
	char		buf[32];

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof tm);	/* past year 2^31: never from our data */
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *
fhir_id(int64_t id)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "%lld", (long long)id);
	return json_string(buf);
}

json_t *
http_fhir_patient(json_t *p)
{
	json_t	*r = json_object(), *telecom = json_array(), *v;
	char	 id[32];

	snprintf(id, sizeof id, "%lld", (long long)jnum(p, "id"));
	json_object_set_new(r, "resourceType", json_string("Patient"));
	json_object_set_new(r, "id", json_string(id));
	json_object_set_new(r, "meta", json_pack("{s:o}", "lastUpdated",
	    fhir_instant(jnum(p, "updated_at"))));
	json_object_set_new(r, "identifier", json_pack("[{s:s,s:s}]",
	    "system", "urn:mediflow:patient", "value", id));
	json_object_set_new(r, "active", json_true());
	json_object_set_new(r, "name", json_pack("[{s:s,s:s}]", "use", "official",
	    "text", jtext(p, "full_name")));
	if (*jtext(p, "phone") != '\0')
		json_array_append_new(telecom, json_pack("{s:s,s:s}", "system",
		    "phone", "value", jtext(p, "phone")));
	if (*jtext(p, "email") != '\0')
		json_array_append_new(telecom, json_pack("{s:s,s:s}", "system",
		    "email", "value", jtext(p, "email")));
	if (json_array_size(telecom) > 0)
		json_object_set_new(r, "telecom", telecom);
	else
		json_decref(telecom);
	if ((v = json_object_get(p, "date_of_birth")) != NULL && json_is_string(v))
		json_object_set(r, "birthDate", v);
	if (*jtext(p, "address") != '\0')
		json_object_set_new(r, "address", json_pack("[{s:s}]", "text",
		    jtext(p, "address")));
	return r;
}

/* Our nine statuses onto FHIR's Appointment.status codes. */
static const char *
fhir_appt_status(const char *s)
{
	static const char *const map[][2] = {
		{ "requested", "pending" }, { "approved", "booked" },
		{ "rejected", "cancelled" }, { "cancelled", "cancelled" },
		{ "checked_in", "checked-in" }, { "in_progress", "arrived" },
		{ "completed", "fulfilled" }, { "no_show", "noshow" },
		{ "rescheduled", "cancelled" },
	};
	size_t	i;

	for (i = 0; i < nitems(map); i++)
		if (strcmp(map[i][0], s) == 0)
			return map[i][1];
	return "entered-in-error";
}

static json_t *
fhir_appointment(json_t *a)
{
	json_t		*r = json_object();
	char		 ref[48];
	int64_t		 starts = jnum(a, "starts_at"), ends = jnum(a, "ends_at");
	const char	*pstatus = strcmp(jtext(a, "status"), "requested") == 0 ?
	    "needs-action" : "accepted";

	json_object_set_new(r, "resourceType", json_string("Appointment"));
	json_object_set_new(r, "id", fhir_id(jnum(a, "id")));
	json_object_set_new(r, "meta", json_pack("{s:o}", "lastUpdated",
	    fhir_instant(jnum(a, "updated_at"))));
	json_object_set_new(r, "status",
	    json_string(fhir_appt_status(jtext(a, "status"))));
	if (*jtext(a, "reason") != '\0')
		json_object_set_new(r, "description", json_string(jtext(a, "reason")));
	json_object_set_new(r, "start", fhir_instant(starts));
	json_object_set_new(r, "end", fhir_instant(ends));
	if (ends > starts)
		json_object_set_new(r, "minutesDuration",
		    json_integer((ends - starts) / 60));
	json_object_set_new(r, "created", fhir_instant(jnum(a, "created_at")));
	json_object_set_new(r, "participant", json_array());
	snprintf(ref, sizeof ref, "Patient/%lld", (long long)jnum(a, "patient_id"));
	json_array_append_new(json_object_get(r, "participant"),
	    json_pack("{s:{s:s,s:s},s:s,s:s}", "actor", "reference", ref,
	    "display", jtext(a, "patient_name"), "required", "required",
	    "status", pstatus));
	snprintf(ref, sizeof ref, "Practitioner/%lld",
	    (long long)jnum(a, "doctor_id"));
	json_array_append_new(json_object_get(r, "participant"),
	    json_pack("{s:{s:s,s:s},s:s,s:s}", "actor", "reference", ref,
	    "display", jtext(a, "doctor_name"), "required", "required",
	    "status", "accepted"));
	return r;
}

json_t *
http_fhir_appointments(json_t *list)
{
	json_t	*b = json_object(), *entries = json_array(), *a;
	size_t	 i;
	char	 url[48];

	json_array_foreach(list, i, a) {
		snprintf(url, sizeof url, "Appointment/%lld",
		    (long long)jnum(a, "id"));
		json_array_append_new(entries, json_pack("{s:s,s:o,s:{s:s}}",
		    "fullUrl", url, "resource", fhir_appointment(a),
		    "search", "mode", "match"));
	}
	json_object_set_new(b, "resourceType", json_string("Bundle"));
	json_object_set_new(b, "type", json_string("searchset"));
	json_object_set_new(b, "total", json_integer((json_int_t)i));
	json_object_set_new(b, "entry", entries);
	return b;
}

json_t *
http_fhir_outcome(const char *code, const char *message)
{
	static const char *const map[][2] = {
		{ "bad_request", "invalid" }, { "unauthenticated", "login" },
		{ "forbidden", "forbidden" }, { "not_found", "not-found" },
		{ "conflict", "conflict" }, { "rate_limited", "throttled" },
		{ "locked", "security" }, { "too_large", "too-costly" },
		{ "unavailable", "transient" },
	};
	const char	*fcode = "exception";
	size_t		 i;

	for (i = 0; i < nitems(map); i++)
		if (strcmp(map[i][0], code) == 0)
			fcode = map[i][1];
	return json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "resourceType",
	    "OperationOutcome", "issue", "severity", "error", "code", fcode,
	    "diagnostics", message);
}
