/* test_http.c -- the HTTP adapter over real HTTP (libcurl) against a real
 * mediflowd: every route's success and its refusals, cookies and CSRF,
 * security headers, limits (body size, rate, slowloris deadline, conns),
 * Server-Sent Events fed by the TCP protocol (messages, presence), .ics
 * and FHIR. */
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <msgpack.h>
#include <sodium.h>

#include "harness.h"
#include "json.h"
#include "mp.h"
#include "util.h"

#define MAX_CONNS	12

static struct tsrv	srv;
static struct tsrv	tls_srv;	/* test_tls_mode_cookies_and_hsts's */

/* An HTTP client with its own cookie jar and the last response. */
struct hcli {
	CURL	*curl;
	long	 status;
	char	*body;
	size_t	 len;
	char	*headers;
	size_t	 hlen;
	json_t	*json;
	int	 csrf;		/* 1: send the right X-CSRF-Token, 0: none, 2: a wrong one */
	const char *xff;	/* X-Forwarded-For to send, or NULL */
	const char *accept_encoding;	/* Accept-Encoding to send, or NULL */
	const char *if_none_match;	/* If-None-Match to send, or NULL */
	const char *iface;	/* local address to connect from, or NULL */
	const char *base;	/* the server's URL; NULL: srv's */
};

struct sink {
	char	*s;
	size_t	 n;
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct sink	*k = arg;
	size_t		 add = size * n;

	k->s = xrealloc(k->s, k->n + add + 1);
	memcpy(k->s + k->n, p, add);
	k->n += add;
	k->s[k->n] = '\0';
	return add;
}

static size_t
body_cb(char *p, size_t size, size_t n, void *arg)
{
	struct hcli	*c = arg;
	struct sink	 k = { c->body, c->len };
	size_t		 r = collect(p, size, n, &k);

	c->body = k.s;
	c->len = k.n;
	return r;
}

static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct hcli	*c = arg;
	struct sink	 k = { c->headers, c->hlen };
	size_t		 r = collect(p, size, n, &k);

	c->headers = k.s;
	c->hlen = k.n;
	return r;
}

static void
hc_open(struct hcli *c)
{
	memset(c, 0, sizeof *c);
	assert_non_null(c->curl = curl_easy_init());
	curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, "");
	c->csrf = 1;
}

static void
hc_reset(struct hcli *c)
{
	free(c->body);
	free(c->headers);
	json_decref(c->json);
	c->body = c->headers = NULL;
	c->len = c->hlen = 0;
	c->json = NULL;
}

static void
hc_close(struct hcli *c)
{
	hc_reset(c);
	curl_easy_cleanup(c->curl);
}

/* The value of cookie name in the jar (allocated), or NULL. */
static char *
hc_cookie(struct hcli *c, const char *name)
{
	struct curl_slist	*list = NULL, *l;
	char			*v = NULL, *tab;

	curl_easy_getinfo(c->curl, CURLINFO_COOKIELIST, &list);
	for (l = list; l != NULL && v == NULL; l = l->next) {
		/* domain flag path secure expiry name value */
		char	*line = l->data;
		int	 i;

		for (i = 0, tab = line; i < 5 && tab != NULL; i++) {
			tab = strchr(tab, '\t');
			if (tab != NULL)
				tab++;
		}
		if (tab != NULL && strncmp(tab, name, strlen(name)) == 0 &&
		    tab[strlen(name)] == '\t')
			v = xstrdup(tab + strlen(name) + 1);
	}
	curl_slist_free_all(list);
	return v;
}

/* The first response header named name whose value starts with prefix
 * (NULL: any), as a copy of the value; or NULL. */
static char *
hc_header(struct hcli *c, const char *name, const char *prefix)
{
	char	*line, *save = NULL, *copy, *v = NULL;
	size_t	 n = strlen(name);

	if (c->headers == NULL)
		return NULL;
	copy = xstrdup(c->headers);
	for (line = strtok_r(copy, "\r\n", &save); line != NULL && v == NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (strncasecmp(line, name, n) != 0 || line[n] != ':')
			continue;
		line += n + 1;
		while (*line == ' ')
			line++;
		if (prefix == NULL || strncmp(line, prefix, strlen(prefix)) == 0)
			v = xstrdup(line);
	}
	free(copy);
	return v;
}

/* Sends a request; returns the status. body is JSON text or NULL. */
static long
hc_req(struct hcli *c, const char *method, const char *path, const char *body)
{
	struct curl_slist	*hdrs = NULL;
	char			*url, *h, *csrf;
	json_error_t		 err;
	CURLcode		 rc;

	hc_reset(c);
	url = xasprintf("%s%s", c->base != NULL ? c->base : srv.http_url, path);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)CALL_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_INTERFACE, c->iface);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	} else {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
		if (strcmp(method, "GET") != 0) {
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, 0L);
		}
	}
	csrf = hc_cookie(c, "mf_csrf");
	if (c->csrf == 1 && csrf != NULL) {
		h = xasprintf("X-CSRF-Token: %s", csrf);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	} else if (c->csrf == 2)
		hdrs = curl_slist_append(hdrs, "X-CSRF-Token: not-the-cookie");
	free(csrf);
	if (c->xff != NULL) {
		h = xasprintf("X-Forwarded-For: %s", c->xff);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (c->accept_encoding != NULL) {
		h = xasprintf("Accept-Encoding: %s", c->accept_encoding);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (c->if_none_match != NULL) {
		h = xasprintf("If-None-Match: %s", c->if_none_match);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	free(url);
	if (rc != CURLE_OK) {
		print_error("%s %s: %s\n", method, path, curl_easy_strerror(rc));
		fail();
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->body != NULL && (c->body[0] == '{' || c->body[0] == '['))
		c->json = json_loads(c->body, 0, &err);
	return c->status;
}

#define expect(c, want, method, path, body) \
	h_expect(__FILE__, __LINE__, (c), (want), (method), (path), (body))

/* Asserts the status; returns the JSON body (borrowed). */
static json_t *
h_expect(const char *file, int line, struct hcli *c, long want,
    const char *method, const char *path, const char *body)
{
	hc_req(c, method, path, body);
	if (c->status != want) {
		print_error("%s %s: status %ld, expected %ld: %s\n", method, path,
		    c->status, want, c->body != NULL ? c->body : "");
		_fail(file, line);
	}
	return c->json;
}

#define assert_error(c, code) \
	assert_jstr((c)->json, "error.code", (code))

/* A fresh client that has loaded the page (so it holds mf_csrf) and logged
 * in as email. */
static void
hc_login(struct hcli *c, const char *email, const char *password)
{
	char	*body;

	hc_open(c);
	expect(c, 200, "GET", "/", NULL);
	body = xasprintf("{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
	expect(c, 200, "POST", "/api/auth/login", body);
	free(body);
}

/* The clinic day (UTC here) n days from the server's now, "YYYY-MM-DD". */
static void
day_after(int64_t now, int n, char *out, size_t len)
{
	time_t		t = (time_t)(now + (int64_t)n * 86400);
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d", &tm);
}

/* --- tests --- */

static void
test_health_headers_static_and_unknown_routes(void **state)
{
	struct hcli	 c;
	char		*v, *etag;
	struct curl_slist *extra;

	(void)state;
	hc_open(&c);
	expect(&c, 200, "GET", "/api/health", NULL);
	assert_jstr(c.json, "status", "ok");
	assert_non_null(v = hc_header(&c, "Content-Security-Policy",
	    "default-src 'self'; script-src 'self'; style-src 'self'; "
	    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
	    "base-uri 'none'; form-action 'self'"));
	free(v);
	assert_non_null(v = hc_header(&c, "X-Content-Type-Options", "nosniff"));
	free(v);
	assert_non_null(v = hc_header(&c, "Referrer-Policy", "no-referrer"));
	free(v);
	assert_non_null(v = hc_header(&c, "X-Frame-Options", "DENY"));
	free(v);
	assert_non_null(v = hc_header(&c, "Cache-Control", "no-store"));
	free(v);
	/* No TLS configured: no HSTS. */
	assert_null(hc_header(&c, "Strict-Transport-Security", NULL));
	assert_non_null(v = hc_header(&c, "Date", NULL));
	assert_non_null(strstr(v, " GMT"));
	free(v);
	/* An API GET needs no CSRF token, so it hands out none... */
	assert_null(hc_header(&c, "Set-Cookie", NULL));
	assert_null(hc_cookie(&c, "mf_csrf"));

	/* ...the page does: readable by its script, strict. */
	expect(&c, 200, "GET", "/", NULL);
	assert_non_null(v = hc_header(&c, "Set-Cookie", "mf_csrf="));
	assert_non_null(strstr(v, "SameSite=Strict"));
	assert_non_null(strstr(v, "Path=/"));
	assert_null(strstr(v, "HttpOnly"));
	free(v);
	assert_non_null(v = hc_header(&c, "Content-Type", "text/html"));
	free(v);
	/* Once the client has it, it is not handed out again. */
	expect(&c, 200, "GET", "/", NULL);
	assert_null(hc_header(&c, "Set-Cookie", "mf_csrf="));
	expect(&c, 200, "GET", "/api/health", NULL);
	assert_null(hc_header(&c, "Set-Cookie", "mf_csrf="));

	/* The page, with its ETag. */
	expect(&c, 200, "GET", "/", NULL);
	assert_non_null(strstr(c.body, "<html"));
	assert_non_null(etag = hc_header(&c, "ETag", "\""));
	assert_non_null(v = hc_header(&c, "Content-Security-Policy", NULL));
	free(v);
	v = xasprintf("If-None-Match: %s", etag);
	extra = curl_slist_append(NULL, v);
	free(v);
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, extra);
	hc_reset(&c);
	{
		char	*url = xasprintf("%s/", srv.http_url);

		curl_easy_setopt(c.curl, CURLOPT_URL, url);
		curl_easy_setopt(c.curl, CURLOPT_CUSTOMREQUEST, "GET");
		assert_int_equal(curl_easy_perform(c.curl), CURLE_OK);
		curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &c.status);
		assert_int_equal(c.status, 304);
		free(url);
	}
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(extra);
	free(etag);

	expect(&c, 404, "GET", "/no-such-page.html", NULL);
	expect(&c, 404, "GET", "/api/nope", NULL);
	assert_error(&c, "not_found");
	expect(&c, 404, "GET", "/api/doctors/abc", NULL);
	assert_error(&c, "not_found");
	expect(&c, 405, "DELETE", "/api/health", NULL);
	assert_error(&c, "bad_request");
	hc_close(&c);
}

static void
test_login_cookie_csrf_and_logout(void **state)
{
	struct hcli	 c;
	char		*v;
	const char	*login = "{\"email\":\"" DEMO_PATIENT "\",\"password\":\""
	    DEMO_PASSWORD "\"}";

	(void)state;
	hc_open(&c);
	/* No mf_csrf cookie yet: refused even with a header. */
	c.csrf = 2;
	expect(&c, 403, "POST", "/api/auth/login", login);
	assert_error(&c, "forbidden");
	assert_jstr(c.json, "error.message", "missing or wrong CSRF token");
	/* That answer handed out the cookie; a wrong header is still refused. */
	expect(&c, 403, "POST", "/api/auth/login", login);
	c.csrf = 0;
	expect(&c, 403, "POST", "/api/auth/login", login);
	c.csrf = 1;

	expect(&c, 400, "POST", "/api/auth/login", "{\"email\": ");
	assert_error(&c, "bad_request");
	expect(&c, 400, "POST", "/api/auth/login", "[1,2]");
	assert_error(&c, "bad_request");
	/* Wrong types: the op's own message. */
	expect(&c, 400, "POST", "/api/auth/login",
	    "{\"email\": 5, \"password\": \"x\"}");
	assert_jstr(c.json, "error.message", "email: must be a string");
	expect(&c, 400, "POST", "/api/auth/login",
	    "{\"email\": \"a@b.org\", \"password\": \"x\", \"extra\": 1}");
	assert_jstr(c.json, "error.message", "unknown argument: extra");
	expect(&c, 401, "POST", "/api/auth/login",
	    "{\"email\":\"" DEMO_PATIENT "\",\"password\":\"wrong-password\"}");
	assert_error(&c, "unauthenticated");
	expect(&c, 401, "GET", "/api/auth/me", NULL);
	assert_error(&c, "unauthenticated");

	expect(&c, 200, "POST", "/api/auth/login", login);
	assert_null(json_object_get(c.json, "token"));
	assert_jstr(c.json, "user.email", DEMO_PATIENT);
	assert_non_null(v = hc_header(&c, "Set-Cookie", "mf_session="));
	assert_non_null(strstr(v, "HttpOnly"));
	assert_non_null(strstr(v, "SameSite=Strict"));
	assert_non_null(strstr(v, "Path=/"));
	assert_null(strstr(v, "Secure"));
	free(v);
	assert_non_null(v = hc_cookie(&c, "mf_session"));
	assert_int_equal(strlen(v), 43);
	free(v);
	expect(&c, 200, "GET", "/api/auth/me", NULL);
	assert_jstr(c.json, "user.role", "patient");
	assert_true(jint(c.json, "patient_id") > 0);

	/* Logout clears the cookie and ends the session. */
	c.csrf = 0;
	expect(&c, 403, "POST", "/api/auth/logout", NULL);
	c.csrf = 1;
	expect(&c, 200, "POST", "/api/auth/logout", NULL);
	assert_non_null(v = hc_header(&c, "Set-Cookie", "mf_session=;"));
	assert_non_null(strstr(v, "Max-Age=0"));
	free(v);
	expect(&c, 401, "GET", "/api/auth/me", NULL);
	hc_close(&c);
}

/* Finds a day with free slots of doctor 1; fills slots (a borrowed array
 * in c's last response) and date. */
static json_t *
free_slots(struct hcli *c, char *date, size_t len)
{
	json_t	*now_j, *slots;
	char	*path;
	int64_t	 now;
	int	 d;

	expect(c, 200, "GET", "/api/health", NULL);
	now_j = json_object_get(c->json, "time");
	now = json_integer_value(now_j);
	for (d = 1; d < 15; d++) {
		day_after(now, d, date, len);
		path = xasprintf("/api/appointments/available-slots?doctorId=1&date=%s",
		    date);
		expect(c, 200, "GET", path, NULL);
		free(path);
		slots = json_object_get(c->json, "slots");
		if (json_array_size(slots) >= 3)
			return slots;
	}
	fail_msg("no free slots for doctor 1 within two weeks");
	return NULL;
}

static void
test_register_book_reschedule_cancel_ics(void **state)
{
	struct hcli	 c, other;
	char		*email, *body, *path, *v, date[16], dtstart[32];
	json_t		*slots;
	int64_t		 s0, s1, id, id2;
	time_t		 t;
	struct tm	 tm;

	(void)state;
	hc_open(&c);
	expect(&c, 200, "GET", "/", NULL);
	email = unique_email("web");
	body = xasprintf("{\"email\":\"%s\",\"password\":\"%s\","
	    "\"full_name\":\"Web Patient\"}", email, STRONG_PASSWORD);
	expect(&c, 201, "POST", "/api/auth/register", body);
	free(body);
	assert_null(json_object_get(c.json, "token"));
	assert_jstr(c.json, "user.role", "patient");
	assert_non_null(v = hc_header(&c, "Set-Cookie", "mf_session="));
	free(v);
	/* The same e-mail again: the op's conflict. */
	body = xasprintf("{\"email\":\"%s\",\"password\":\"%s\","
	    "\"full_name\":\"Web Patient\"}", email, STRONG_PASSWORD);
	expect(&c, 409, "POST", "/api/auth/register", body);
	free(body);
	free(email);

	expect(&c, 200, "GET", "/api/doctors", NULL);
	assert_true(json_array_size(json_object_get(c.json, "doctors")) > 0);
	expect(&c, 200, "GET", "/api/doctors?specialty=Cardiology", NULL);
	expect(&c, 200, "GET", "/api/doctors/1", NULL);
	assert_int_equal(jint(c.json, "doctor.id"), 1);
	expect(&c, 404, "GET", "/api/doctors/999999", NULL);
	assert_error(&c, "not_found");
	expect(&c, 400, "GET",
	    "/api/appointments/available-slots?doctorId=abc&date=2030-01-01", NULL);
	assert_jstr(c.json, "error.message", "doctor_id: must be an integer");
	expect(&c, 400, "GET", "/api/doctors?bogus=1", NULL);
	assert_jstr(c.json, "error.message", "unknown argument: bogus");

	slots = free_slots(&c, date, sizeof date);
	s0 = jint(json_array_get(slots, 0), "starts_at");
	s1 = jint(json_array_get(slots, 2), "starts_at");

	expect(&c, 400, "POST", "/api/appointments",
	    "{\"doctor_id\":\"one\",\"starts_at\":1}");
	assert_jstr(c.json, "error.message", "doctor_id: must be an integer");
	body = xasprintf("{\"doctor_id\":1,\"starts_at\":%lld,\"reason\":"
	    "\"Check-up; bring notes, please\"}", (long long)s0);
	expect(&c, 201, "POST", "/api/appointments", body);
	free(body);
	assert_jstr(c.json, "appointment.status", "requested");
	id = jint(c.json, "appointment.id");
	assert_true(id > 0);

	expect(&c, 200, "GET", "/api/appointments", NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "appointments")), 1);
	expect(&c, 200, "GET", "/api/appointments?status=requested&limit=5", NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "appointments")), 1);
	path = xasprintf("/api/appointments/%lld", (long long)id);
	expect(&c, 200, "GET", path, NULL);
	assert_int_equal(jint(c.json, "appointment.id"), id);

	/* The calendar file. */
	free(path);
	path = xasprintf("/api/appointments/%lld/ics", (long long)id);
	expect(&c, 200, "GET", path, NULL);
	assert_non_null(v = hc_header(&c, "Content-Type", "text/calendar"));
	free(v);
	assert_true(strncmp(c.body, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", 30) == 0);
	assert_non_null(strstr(c.body, "\r\nBEGIN:VEVENT\r\n"));
	v = xasprintf("\r\nUID:appointment-%lld@mediflow\r\n", (long long)id);
	assert_non_null(strstr(c.body, v));
	free(v);
	assert_non_null(strstr(c.body, "\r\nDTSTAMP:"));
	t = (time_t)s0;
	gmtime_r(&t, &tm);
	strftime(dtstart, sizeof dtstart, "\r\nDTSTART:%Y%m%dT%H%M%SZ\r\n", &tm);
	assert_non_null(strstr(c.body, dtstart));
	assert_non_null(strstr(c.body, "\r\nDTEND:"));
	assert_non_null(strstr(c.body, "\r\nSUMMARY:Appointment with Dr. "));
	/* RFC 5545 text escaping. */
	assert_non_null(strstr(c.body,
	    "\r\nDESCRIPTION:Check-up\\; bring notes\\, please\r\n"));
	assert_non_null(strstr(c.body, "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"));
	/* Every line ends in CRLF. */
	for (v = c.body; (v = strchr(v, '\n')) != NULL; v++)
		assert_true(v > c.body && v[-1] == '\r');

	/* Someone else's appointment: as the op answers a patient. */
	hc_login(&other, DEMO_PATIENT, DEMO_PASSWORD);
	free(path);
	path = xasprintf("/api/appointments/%lld", (long long)id);
	expect(&other, 403, "GET", path, NULL);
	assert_error(&other, "forbidden");
	free(path);
	path = xasprintf("/api/appointments/%lld/ics", (long long)id);
	expect(&other, 403, "GET", path, NULL);
	free(path);
	path = xasprintf("/api/appointments/%lld", (long long)id);
	expect(&other, 403, "PATCH", path, "{\"action\":\"cancel\"}");
	hc_close(&other);

	/* Reschedule, then cancel, through PATCH. */
	expect(&c, 400, "PATCH", path, "{\"action\":\"delete\"}");
	assert_error(&c, "bad_request");
	body = xasprintf("{\"action\":\"reschedule\",\"starts_at\":%lld}",
	    (long long)s1);
	expect(&c, 200, "PATCH", path, body);
	free(body);
	assert_jstr(c.json, "previous.status", "rescheduled");
	id2 = jint(c.json, "appointment.id");
	assert_int_equal(jint(c.json, "appointment.starts_at"), s1);
	free(path);
	path = xasprintf("/api/appointments/%lld", (long long)id2);
	c.csrf = 0;
	expect(&c, 403, "PATCH", path, "{\"action\":\"cancel\"}");
	c.csrf = 1;
	expect(&c, 200, "PATCH", path,
	    "{\"action\":\"cancel\",\"reason\":\"cannot come\"}");
	assert_jstr(c.json, "appointment.status", "cancelled");
	free(path);

	/* A creation conflicts like the op: the slot is taken by another. */
	hc_close(&c);
}

static void
test_records_rx_notifications_reminders(void **state)
{
	struct hcli	c;

	(void)state;
	hc_login(&c, DEMO_PATIENT, DEMO_PASSWORD);
	expect(&c, 200, "GET", "/api/prescriptions", NULL);
	assert_true(json_is_array(json_object_get(c.json, "prescriptions")));
	expect(&c, 200, "GET", "/api/medical-records", NULL);
	assert_true(json_is_array(json_object_get(c.json, "records")));
	/* The access rule is the op's: a patient names only themselves. */
	expect(&c, 403, "GET", "/api/medical-records?patientId=2", NULL);
	expect(&c, 200, "GET", "/api/notifications?unreadOnly=true", NULL);
	assert_true(json_is_array(json_object_get(c.json, "notifications")));
	expect(&c, 200, "POST", "/api/notifications/read-all", NULL);
	assert_true(json_is_integer(json_object_get(c.json, "marked")));
	expect(&c, 404, "POST", "/api/notifications/999999/read", NULL);
	assert_error(&c, "not_found");
	/* What a cancel's `reason` must be one of, when the clinic has a list. */
	expect(&c, 200, "GET", "/api/cancel-reasons", NULL);
	assert_true(json_is_array(json_object_get(c.json, "reasons")));
	expect(&c, 200, "GET", "/api/me/reminder-channels", NULL);
	assert_non_null(jstr(c.json, "channels"));
	expect(&c, 200, "PUT", "/api/me/reminder-channels",
	    "{\"channels\":\"email\"}");
	assert_jstr(c.json, "channels", "email");
	expect(&c, 400, "PUT", "/api/me/reminder-channels",
	    "{\"channels\":\"pigeon\"}");
	assert_error(&c, "bad_request");
	hc_close(&c);
}

/*
 * GET /api/messages/contacts is chat.contacts: a patient is offered only
 * the doctors they have an appointment with, a GET needs no CSRF token,
 * and without a login it is 401.
 */
static void
test_messages_contacts(void **state)
{
	struct hcli	 c, anon;
	char		*email, *body, date[16];
	json_t		*slots, *list, *one;
	int64_t		 doc_user;

	(void)state;
	hc_open(&c);
	expect(&c, 200, "GET", "/", NULL);
	email = unique_email("contacts");
	body = xasprintf("{\"email\":\"%s\",\"password\":\"%s\","
	    "\"full_name\":\"Contact Patient\"}", email, STRONG_PASSWORD);
	expect(&c, 201, "POST", "/api/auth/register", body);
	free(body);
	free(email);

	/* No appointment yet: nobody to write to. */
	c.csrf = 0;
	expect(&c, 200, "GET", "/api/messages/contacts", NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "contacts")), 0);
	assert_int_equal(jint(c.json, "total"), 0);
	c.csrf = 1;

	expect(&c, 200, "GET", "/api/doctors?limit=200", NULL);
	assert_true(json_array_size(json_object_get(c.json, "doctors")) > 1);
	expect(&c, 200, "GET", "/api/doctors/1", NULL);
	doc_user = jint(c.json, "doctor.user_id");
	assert_true(doc_user > 0);
	slots = free_slots(&c, date, sizeof date);
	body = xasprintf("{\"doctor_id\":1,\"starts_at\":%lld}",
	    (long long)jint(json_array_get(slots, 0), "starts_at"));
	expect(&c, 201, "POST", "/api/appointments", body);
	free(body);

	/* Now exactly that doctor, out of all of them; no CSRF token. */
	c.csrf = 0;
	expect(&c, 200, "GET", "/api/messages/contacts?limit=200", NULL);
	list = json_object_get(c.json, "contacts");
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(jint(c.json, "total"), 1);
	one = json_array_get(list, 0);
	assert_int_equal(jint(one, "user_id"), doc_user);
	assert_jstr(one, "role", "doctor");
	assert_true(json_is_boolean(json_object_get(one, "online")));
	assert_true(json_is_null(json_object_get(one, "conversation_id")));
	/* The query string reaches the op: a name that matches nobody, a
	 * page past the end, and the op's own checks. */
	expect(&c, 200, "GET", "/api/messages/contacts?name=zzqx", NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "contacts")), 0);
	expect(&c, 200, "GET", "/api/messages/contacts?offset=1", NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "contacts")), 0);
	assert_int_equal(jint(c.json, "total"), 1);
	expect(&c, 400, "GET", "/api/messages/contacts?limit=0", NULL);
	assert_error(&c, "bad_request");
	expect(&c, 400, "GET", "/api/messages/contacts?limit=x", NULL);
	assert_jstr(c.json, "error.message", "limit: must be an integer");
	expect(&c, 400, "GET", "/api/messages/contacts?bogus=1", NULL);
	assert_jstr(c.json, "error.message", "unknown argument: bogus");
	expect(&c, 405, "POST", "/api/messages/contacts", "{}");
	c.csrf = 1;
	hc_close(&c);

	/* Without a login. */
	hc_open(&anon);
	expect(&anon, 401, "GET", "/api/messages/contacts", NULL);
	assert_error(&anon, "unauthenticated");
	hc_close(&anon);
}

static void
test_fhir_patient_and_appointments(void **state)
{
	struct hcli	 c;
	char		*path, *v;
	int64_t		 pid;
	json_t		*entry;

	(void)state;
	hc_login(&c, DEMO_PATIENT, DEMO_PASSWORD);
	expect(&c, 200, "GET", "/api/auth/me", NULL);
	pid = jint(c.json, "patient_id");
	path = xasprintf("/fhir/Patient/%lld", (long long)pid);
	expect(&c, 200, "GET", path, NULL);
	free(path);
	assert_non_null(v = hc_header(&c, "Content-Type", "application/fhir+json"));
	free(v);
	assert_jstr(c.json, "resourceType", "Patient");
	v = xasprintf("%lld", (long long)pid);
	assert_jstr(c.json, "id", v);
	free(v);
	assert_non_null(jstr(json_array_get(json_object_get(c.json, "name"), 0),
	    "text"));
	/* Another patient's record: the op's refusal, as an OperationOutcome. */
	path = xasprintf("/fhir/Patient/%lld", (long long)pid + 1);
	expect(&c, 403, "GET", path, NULL);
	free(path);
	assert_jstr(c.json, "resourceType", "OperationOutcome");
	assert_jstr(json_array_get(json_object_get(c.json, "issue"), 0), "code",
	    "forbidden");

	path = xasprintf("/fhir/Appointment?patient=Patient/%lld", (long long)pid);
	expect(&c, 200, "GET", path, NULL);
	free(path);
	assert_jstr(c.json, "resourceType", "Bundle");
	assert_jstr(c.json, "type", "searchset");
	assert_true(jint(c.json, "total") >= 1);
	entry = json_array_get(json_object_get(c.json, "entry"), 0);
	assert_jstr(entry, "resource.resourceType", "Appointment");
	assert_non_null(jstr(entry, "resource.start"));
	assert_non_null(jstr(entry, "resource.status"));
	v = xasprintf("Patient/%lld", (long long)pid);
	assert_jstr(json_array_get(jpath(entry, "resource.participant"), 0),
	    "actor.reference", v);
	free(v);
	path = xasprintf("/fhir/Appointment?patient=%lld", (long long)pid + 1);
	expect(&c, 403, "GET", path, NULL);
	free(path);
	hc_close(&c);
}

/* --- the page's files --- */

/* Each file in its gzip form (made at build time) to a client that takes
 * gzip, else as it is; the two forms have their own ETags and revalidate
 * each to its own, and Vary says the answer depends on Accept-Encoding. */
static void
test_static_files_gzip_when_accepted(void **state)
{
	static const char *const paths[] = { "/", "/app.js", "/app.css" };
	struct hcli	 c;
	char		*plain, *etag, *gz_etag, *v;
	size_t		 plain_len, i;

	(void)state;
	hc_open(&c);
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		/* No Accept-Encoding: as it is. */
		expect(&c, 200, "GET", paths[i], NULL);
		assert_null(hc_header(&c, "Content-Encoding", NULL));
		assert_non_null(v = hc_header(&c, "Vary", "Accept-Encoding"));
		free(v);
		assert_non_null(etag = hc_header(&c, "ETag", "\""));
		assert_true(c.len > 0);
		plain = xmalloc(c.len);
		memcpy(plain, c.body, c.len);
		plain_len = c.len;
		if (i == 0)
			assert_non_null(memmem(plain, plain_len, "<html", 5));

		/* A browser's: the gzip bytes themselves, smaller. */
		c.accept_encoding = "gzip, deflate, br";
		expect(&c, 200, "GET", paths[i], NULL);
		assert_non_null(v = hc_header(&c, "Content-Encoding", "gzip"));
		free(v);
		assert_non_null(v = hc_header(&c, "Vary", "Accept-Encoding"));
		free(v);
		assert_non_null(gz_etag = hc_header(&c, "ETag", "\""));
		assert_string_not_equal(gz_etag, etag);
		assert_true(c.len >= 18 && c.len < plain_len);
		assert_int_equal((unsigned char)c.body[0], 0x1f);
		assert_int_equal((unsigned char)c.body[1], 0x8b);
		assert_non_null(v = hc_header(&c, "Content-Type", NULL));
		assert_non_null(strstr(v, "charset=utf-8"));
		free(v);

		/* Decoded (by libcurl's zlib): the very same file. */
		c.accept_encoding = NULL;
		curl_easy_setopt(c.curl, CURLOPT_ACCEPT_ENCODING, "gzip");
		expect(&c, 200, "GET", paths[i], NULL);
		curl_easy_setopt(c.curl, CURLOPT_ACCEPT_ENCODING, NULL);
		assert_int_equal(c.len, plain_len);
		assert_memory_equal(c.body, plain, plain_len);

		/* gzip refused (q=0), or only other codings: as it is. */
		c.accept_encoding = "gzip;q=0, identity";
		expect(&c, 200, "GET", paths[i], NULL);
		assert_null(hc_header(&c, "Content-Encoding", NULL));
		assert_int_equal(c.len, plain_len);
		c.accept_encoding = "br";
		expect(&c, 200, "GET", paths[i], NULL);
		assert_null(hc_header(&c, "Content-Encoding", NULL));
		assert_int_equal(c.len, plain_len);

		/* Revalidation: each form's ETag is 304 for that form only. */
		c.accept_encoding = "gzip";
		c.if_none_match = gz_etag;
		expect(&c, 304, "GET", paths[i], NULL);
		assert_int_equal(c.len, 0);
		assert_non_null(v = hc_header(&c, "ETag", gz_etag));
		free(v);
		c.if_none_match = etag;
		expect(&c, 200, "GET", paths[i], NULL);
		assert_non_null(v = hc_header(&c, "Content-Encoding", "gzip"));
		free(v);
		c.accept_encoding = NULL;
		expect(&c, 304, "GET", paths[i], NULL);
		c.if_none_match = gz_etag;
		expect(&c, 200, "GET", paths[i], NULL);
		assert_int_equal(c.len, plain_len);
		c.if_none_match = NULL;

		free(plain);
		free(etag);
		free(gz_etag);
	}
	hc_close(&c);
}

/* --- Server-Sent Events --- */

static size_t
stream_cb(char *p, size_t size, size_t n, void *arg)
{
	return collect(p, size, n, arg);
}

/* Runs the transfer until want appears in the stream (1) or it ends (0). */
static int
pump_until(CURLM *m, struct sink *st, const char *want)
{
	int	running = 1, i;

	for (i = 0; i < CALL_TIMEOUT_MS / 50 && running; i++) {
		if (st->s != NULL && strstr(st->s, want) != NULL)
			return 1;
		curl_multi_perform(m, &running);
		if (st->s != NULL && strstr(st->s, want) != NULL)
			return 1;
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	return st->s != NULL && strstr(st->s, want) != NULL;
}

static void
test_sse_gets_a_chat_message_sent_over_tcp(void **state)
{
	struct hcli	 c;
	struct tcli	 doc;
	struct sink	 st = { NULL, 0 };
	CURL		*e;
	CURLM		*m;
	char		*url, *session, *cookie, *path, *body, *want;
	int64_t		 uid, conv, doc_uid;
	json_t		*res;

	(void)state;
	hc_login(&c, DEMO_PATIENT, DEMO_PASSWORD);
	expect(&c, 200, "GET", "/api/auth/me", NULL);
	uid = jint(c.json, "user.id");

	/* Without a session: refused. */
	{
		struct hcli	anon;

		hc_open(&anon);
		expect(&anon, 401, "GET", "/api/events", NULL);
		hc_close(&anon);
	}

	session = hc_cookie(&c, "mf_session");
	assert_non_null(session);
	cookie = xasprintf("mf_session=%s", session);
	url = xasprintf("%s/api/events", srv.http_url);
	e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_COOKIE, cookie);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &st);
	m = curl_multi_init();
	curl_multi_add_handle(m, e);
	assert_true(pump_until(m, &st, ": connected"));

	cli_open_as(&doc, &srv, DEMO_DOCTOR);
	res = call_ok(&doc, "chat.open", "{s:I}", "user_id", (json_int_t)uid);
	conv = jint(res, "conversation.id");
	call_ok(&doc, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)conv, "body", "Your results are in", "client_msg_id",
	    "http-test-1");
	assert_true(pump_until(m, &st, "Your results are in"));
	assert_non_null(strstr(st.s, "event: chat.message\ndata: {"));

	/* The patient answers over HTTP; the history has both. */
	expect(&c, 200, "GET", "/api/messages", NULL);
	assert_true(json_array_size(json_object_get(c.json, "conversations")) >= 1);
	path = xasprintf("/api/messages/%lld", (long long)conv);
	body = xasprintf("{\"body\":\"Thank you\",\"client_msg_id\":\"web-1\"}");
	expect(&c, 200, "POST", path, body);
	assert_jstr(c.json, "message.body", "Thank you");
	free(body);
	/* Text with quotes, backslashes, newlines and non-ASCII comes back
	 * exactly (the adapter writes JSON itself). */
	expect(&c, 200, "POST", path, "{\"body\":\"Line 1\\n\\\"quoted\\\" "
	    "\\\\ back\\ttab \\u00e9 \\u2713 </script>\",\"client_msg_id\":\"web-3\"}");
	assert_jstr(c.json, "message.body",
	    "Line 1\n\"quoted\" \\ back\ttab \xc3\xa9 \xe2\x9c\x93 </script>");
	expect(&c, 400, "POST", path, "{\"body\":\"\",\"client_msg_id\":\"web-2\"}");
	assert_jstr(c.json, "error.message", "body: must not be empty");
	expect(&c, 200, "GET", path, NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "messages")), 3);
	free(path);
	path = xasprintf("/api/messages/%lld?limit=1", (long long)conv);
	expect(&c, 200, "GET", path, NULL);
	assert_int_equal(json_array_size(json_object_get(c.json, "messages")), 1);
	free(path);
	path = xasprintf("/api/messages/%lld/read", (long long)conv);
	body = xasprintf("{\"up_to_id\":%lld}", (long long)jint(json_array_get(
	    json_object_get(c.json, "messages"), 0), "id"));
	expect(&c, 200, "POST", path, body);
	free(body);
	free(path);
	path = xasprintf("/api/messages/%lld/typing", (long long)conv);
	expect(&c, 200, "POST", path, NULL);
	free(path);
	expect(&c, 404, "GET", "/api/messages/999999", NULL);
	/* The patient's own message comes back on the stream too. */
	assert_true(pump_until(m, &st, "Thank you"));

	/* Presence: the doctor's terminal goes and comes back, and the
	 * stream (which shares a conversation with them) is told each time. */
	doc_uid = jint(call_ok(&doc, "auth.me", NULL), "user.id");
	cli_close(&doc);
	want = xasprintf("event: presence\ndata: {\"user_id\":%lld,"
	    "\"online\":false,\"last_seen\":", (long long)doc_uid);
	assert_true(pump_until(m, &st, want));
	free(want);
	/* Only what comes from here on counts. */
	free(st.s);
	st.s = NULL;
	st.n = 0;
	cli_open_as(&doc, &srv, DEMO_DOCTOR);
	want = xasprintf("event: presence\ndata: {\"user_id\":%lld,"
	    "\"online\":true,\"last_seen\":", (long long)doc_uid);
	assert_true(pump_until(m, &st, want));
	free(want);

	/* Logging out ends the session the stream belongs to. */
	expect(&c, 200, "POST", "/api/auth/logout", NULL);

	cli_close(&doc);
	curl_multi_remove_handle(m, e);
	curl_easy_cleanup(e);
	curl_multi_cleanup(m);
	free(st.s);
	free(url);
	free(cookie);
	free(session);
	hc_close(&c);
}

/* --- file downloads --- */

/* Sends op with a ready msgpack args map; the reply as JSON in c->reply. */
static json_t *
call_packed(struct tcli *c, const char *op, msgpack_sbuffer *sb)
{
	const msgpack_object	*reply;

	json_decref(c->reply);
	c->reply = NULL;
	if (mfc_call(&c->mc, op, sb->data, sb->size, CALL_TIMEOUT_MS, &reply) == 0)
		c->reply = msgpack_to_json(reply);
	msgpack_sbuffer_destroy(sb);
	return c->reply;
}

static void
test_file_download_streams_files_get(void **state)
{
	enum { SIZE = 300 * 1024, CHUNK = 256 * 1024 };
	struct tcli	 doc;
	struct hcli	 c, other;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	unsigned char	*data, md[crypto_hash_sha256_BYTES];
	char		 hex[65], *upload, *path, *v;
	int64_t		 pid, rec, file_id;
	size_t		 off, n;

	(void)state;
	hc_login(&c, DEMO_PATIENT, DEMO_PASSWORD);
	expect(&c, 200, "GET", "/api/auth/me", NULL);
	pid = jint(c.json, "patient_id");

	/* The doctor attaches a text file (two chunks) over TCP. */
	data = xmalloc(SIZE);
	for (off = 0; off < SIZE; off++)
		data[off] = (unsigned char)('a' + off % 26);
	data[SIZE - 1] = '\n';
	cli_open_as(&doc, &srv, DEMO_DOCTOR);
	rec = jint(call_ok(&doc, "records.create", "{s:I, s:s}", "patient_id",
	    (json_int_t)pid, "diagnosis", "Lab results attached"), "record.id");
	upload = xstrdup(jstr(call_ok(&doc, "files.begin", "{s:I, s:s, s:s, s:I}",
	    "record_id", (json_int_t)rec, "name", "lab \"results\".txt", "mime",
	    "text/plain", "size", (json_int_t)SIZE), "upload_id"));
	for (off = 0; off < SIZE; off += n) {
		n = SIZE - off < CHUNK ? SIZE - off : CHUNK;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		mp_pack_kv_str(&pk, "upload_id", upload);
		mp_pack_kv_int(&pk, "offset", (int64_t)off);
		mp_pack_str(&pk, "bytes");
		msgpack_pack_bin(&pk, n);
		msgpack_pack_bin_body(&pk, data + off, n);
		reply_ok(call_packed(&doc, "files.chunk", &sb));
	}
	crypto_hash_sha256(md, data, SIZE);
	sodium_bin2hex(hex, sizeof hex, md, sizeof md);
	file_id = jint(call_ok(&doc, "files.commit", "{s:s, s:s}", "upload_id",
	    upload, "sha256", hex), "file.id");
	free(upload);
	cli_close(&doc);

	path = xasprintf("/api/files?recordId=%lld", (long long)rec);
	expect(&c, 200, "GET", path, NULL);
	free(path);
	assert_int_equal(jint(json_array_get(json_object_get(c.json, "files"), 0),
	    "id"), file_id);
	path = xasprintf("/api/files/%lld", (long long)file_id);
	expect(&c, 200, "GET", path, NULL);
	assert_int_equal(c.len, SIZE);
	assert_memory_equal(c.body, data, SIZE);
	assert_non_null(v = hc_header(&c, "Content-Type", "text/plain"));
	free(v);
	assert_non_null(v = hc_header(&c, "Content-Disposition",
	    "attachment; filename=\"lab _results_.txt\""));
	free(v);
	assert_non_null(v = hc_header(&c, "Content-Length", "307200"));
	free(v);
	/* Someone else's file, and no file at all: as files.get answers. */
	hc_login(&other, "emily.johnson@test.com", DEMO_PASSWORD);
	expect(&other, 403, "GET", path, NULL);
	assert_error(&other, "forbidden");
	hc_close(&other);
	expect(&c, 403, "GET", "/api/files/999999", NULL);
	free(path);
	free(data);
	hc_close(&c);
}

/* --- CORS and TLS --- */

static void
test_cors_only_for_configured_origins(void **state)
{
	struct hcli		 c;
	struct curl_slist	*h = NULL;
	char			*v;

	(void)state;
	hc_open(&c);
	h = curl_slist_append(h, "Origin: https://clinic.example");
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, h);
	{
		char	*url = xasprintf("%s/api/health", srv.http_url);

		curl_easy_setopt(c.curl, CURLOPT_URL, url);
		curl_easy_setopt(c.curl, CURLOPT_CUSTOMREQUEST, "OPTIONS");
		curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, body_cb);
		curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &c);
		curl_easy_setopt(c.curl, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(c.curl, CURLOPT_HEADERDATA, &c);
		assert_int_equal(curl_easy_perform(c.curl), CURLE_OK);
		curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &c.status);
		assert_int_equal(c.status, 204);
		assert_non_null(v = hc_header(&c, "Access-Control-Allow-Origin",
		    "https://clinic.example"));
		free(v);
		assert_non_null(v = hc_header(&c, "Access-Control-Allow-Headers",
		    NULL));
		assert_non_null(strstr(v, "X-CSRF-Token"));
		free(v);
		free(url);
	}
	curl_slist_free_all(h);
	/* A preflight from any other origin: refused, without CORS headers. */
	hc_reset(&c);
	h = curl_slist_append(NULL, "Origin: https://evil.example");
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c.curl), CURLE_OK);
	curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &c.status);
	assert_int_equal(c.status, 403);
	assert_null(hc_header(&c, "Access-Control-Allow-Origin", NULL));
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	hc_close(&c);
}

static void
test_tls_mode_cookies_and_hsts(void **state)
{
	struct tsrv_opts	 opts = { 0 };
	struct hcli		 c;
	struct curl_slist	*h = NULL;
	char			*v, *csrf, *hdr, *url, *login;

	(void)state;
	/* No demo data: a second server should start fast. */
	opts.http = 1;
	opts.no_demo = 1;
	opts.config = "http_tls = on\n";
	srv_start(&tls_srv, &opts);
	hc_open(&c);
	c.base = tls_srv.http_url;
	expect(&c, 200, "GET", "/api/health", NULL);
	assert_non_null(v = hc_header(&c, "Strict-Transport-Security",
	    "max-age="));
	free(v);
	expect(&c, 200, "GET", "/", NULL);
	assert_non_null(v = hc_header(&c, "Strict-Transport-Security",
	    "max-age="));
	free(v);
	assert_non_null(v = hc_header(&c, "Set-Cookie", "__Host-mf_csrf="));
	assert_non_null(strstr(v, "; Secure"));
	assert_non_null(strstr(v, "Path=/"));
	csrf = xstrndup(v + 15, strcspn(v + 15, ";"));
	free(v);
	/* curl keeps Secure cookies for https only: send them by hand. */
	hdr = xasprintf("Cookie: __Host-mf_csrf=%s", csrf);
	h = curl_slist_append(h, hdr);
	free(hdr);
	hdr = xasprintf("X-CSRF-Token: %s", csrf);
	h = curl_slist_append(h, hdr);
	free(hdr);
	h = curl_slist_append(h, "Content-Type: application/json");
	hc_reset(&c);
	url = xasprintf("%s/api/auth/register", tls_srv.http_url);
	login = xasprintf("{\"email\":\"tls@example.org\",\"password\":\"%s\","
	    "\"full_name\":\"Tess Ellis\"}", STRONG_PASSWORD);
	curl_easy_setopt(c.curl, CURLOPT_URL, url);
	curl_easy_setopt(c.curl, CURLOPT_CUSTOMREQUEST, "POST");
	curl_easy_setopt(c.curl, CURLOPT_POSTFIELDS, login);
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c.curl), CURLE_OK);
	curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &c.status);
	assert_int_equal(c.status, 201);
	assert_non_null(v = hc_header(&c, "Set-Cookie", "__Host-mf_session="));
	assert_non_null(strstr(v, "; HttpOnly"));
	assert_non_null(strstr(v, "; Secure"));
	assert_non_null(strstr(v, "SameSite=Strict"));
	free(v);
	/* The unprefixed name means nothing here: CSRF is refused. */
	curl_slist_free_all(h);
	h = curl_slist_append(NULL, "Cookie: mf_csrf=abc");
	h = curl_slist_append(h, "X-CSRF-Token: abc");
	hc_reset(&c);
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c.curl), CURLE_OK);
	curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &c.status);
	assert_int_equal(c.status, 403);
	curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	free(url);
	free(csrf);
	free(login);
	hc_close(&c);
	srv_stop(&tls_srv);
}

/* --- limits --- */

static void
test_oversize_body_is_413(void **state)
{
	struct hcli	 c;
	char		*big, *body, *v;

	(void)state;
	hc_open(&c);
	expect(&c, 200, "GET", "/api/health", NULL);
	big = repeat_char('a', 70 * 1024);
	body = xasprintf("{\"email\":\"%s\",\"password\":\"x\"}", big);
	expect(&c, 413, "POST", "/api/auth/login", body);
	/* The API's JSON error, with the headers every answer has; the
	 * connection then closes, as evhttp's own page did. */
	assert_error(&c, "too_large");
	assert_jstr(c.json, "error.message", "request body over 65536 bytes");
	assert_non_null(v = hc_header(&c, "Content-Type", "application/json"));
	free(v);
	assert_non_null(v = hc_header(&c, "Content-Security-Policy", NULL));
	free(v);
	assert_non_null(v = hc_header(&c, "Cache-Control", "no-store"));
	free(v);
	assert_non_null(v = hc_header(&c, "Connection", "close"));
	free(v);
	free(body);
	free(big);
	/* The server is fine afterwards. */
	hc_close(&c);
	hc_open(&c);
	expect(&c, 200, "GET", "/api/health", NULL);
	hc_close(&c);
}

static void
test_rate_limit_429_by_forwarded_address(void **state)
{
	struct hcli	 c;
	char		*v;
	int		 i;

	(void)state;
	hc_open(&c);
	/* From the trusted proxy: the forwarded client is counted (it is not
	 * loopback), rl_api's 100 per window. */
	c.xff = "198.51.100.1, 203.0.113.7";
	for (i = 0; i < 150; i++) {
		hc_req(&c, "GET", "/api/health", NULL);
		if (c.status != 200)
			break;
	}
	assert_int_equal(c.status, 429);
	assert_true(i >= 100);
	assert_error(&c, "rate_limited");
	assert_non_null(v = hc_header(&c, "Retry-After", NULL));
	assert_true(atoi(v) > 0);
	free(v);
	/* Another forwarded address has its own allowance. */
	c.xff = "203.0.113.8";
	expect(&c, 200, "GET", "/api/health", NULL);
	hc_close(&c);

	/* From anywhere else X-Forwarded-For means nothing: 127.0.0.2 is
	 * loopback, never limited without a login. */
	hc_open(&c);
	c.iface = "127.0.0.2";
	c.xff = "203.0.113.7";
	expect(&c, 200, "GET", "/api/health", NULL);
	hc_close(&c);
}

static int
tcp_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

/* 1 when the peer closed (or reset) the connection within ms. */
static int
peer_closed(int fd, int ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	char		buf[512];

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	for (;;) {
		ssize_t	n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
		if (n < 0)
			return 0;
	}
}

static void
test_slowloris_is_cut_at_the_deadline(void **state)
{
	static const char	 start[] = "GET /api/health HTTP/1.1\r\n"
	    "Host: localhost\r\nX-Slow: ";
	int			 fd, sent, closed = 0;

	(void)state;
	fd = tcp_connect(srv.http_port);
	assert_int_equal(send(fd, start, sizeof start - 1, MSG_NOSIGNAL),
	    (ssize_t)(sizeof start - 1));
	/* One byte every 200 ms: never idle, never done. The deadline here
	 * is 1 s; give it 50 bytes (10 s) to happen. */
	for (sent = 0; sent < 50 && !closed; sent++) {
		if (peer_closed(fd, 200))
			closed = 1;
		else if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
			closed = 1;
	}
	assert_true(closed);
	close(fd);
	assert_true(srv_alive(&srv));
}

/* Sends req on a new connection; reads the answer until the server closes
 * it (evhttp's errors close), into out (NUL-terminated). */
static void
raw_exchange(const char *req, char *out, size_t len)
{
	size_t	have = 0;
	ssize_t	n;
	int	fd;

	fd = tcp_connect(srv.http_port);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
	    (ssize_t)strlen(req));
	for (;;) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };

		assert_true(poll(&pfd, 1, CALL_TIMEOUT_MS) == 1);
		n = recv(fd, out + have, len - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		assert_true(have < len - 1);
	}
	out[have] = '\0';
	close(fd);
}

/* The errors evhttp makes before any route runs are the API's JSON too. */
static void
test_evhttp_own_errors_are_json(void **state)
{
	char		 buf[8192], *p, *big, *req;
	json_t		*j;
	json_error_t	 err;

	(void)state;
	/* Pipelined: the first answer is left whole, the second is the
	 * 413 (Content-Length over the limit: refused before the body). */
	raw_exchange("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /api/auth/login HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 999999\r\n\r\n",
	    buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(buf, "\"status\":\"ok\""));
	assert_non_null(p = strstr(buf, "HTTP/1.1 413 Payload Too Large\r\n"));
	assert_non_null(strstr(p, "\r\nContent-Type: application/json"));
	assert_non_null(strstr(p, "\r\nContent-Security-Policy: default-src"));
	assert_non_null(strstr(p, "\r\nX-Frame-Options: DENY\r\n"));
	assert_non_null(strstr(p, "\r\nConnection: close\r\n"));
	assert_null(strstr(buf, "<HTML>"));
	assert_non_null(j = json_loads(strstr(p, "\r\n\r\n") + 4, 0, &err));
	assert_jstr(j, "error.code", "too_large");
	json_decref(j);

	/* Headers over http_max_header (evhttp calls that malformed). */
	big = repeat_char('b', 20 * 1024);
	req = xasprintf("GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n",
	    big);
	raw_exchange(req, buf, sizeof buf);
	free(req);
	free(big);
	assert_true(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	assert_non_null(j = json_loads(strstr(buf, "\r\n\r\n") + 4, 0, &err));
	assert_jstr(j, "error.code", "bad_request");
	assert_jstr(j, "error.message",
	    "malformed HTTP request, or headers over 16384 bytes");
	json_decref(j);

	/* Not HTTP at all; a method evhttp does not know. */
	raw_exchange("GARBAGE\r\n\r\n", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0);
	assert_non_null(strstr(buf, "\"code\":\"bad_request\""));
	raw_exchange("BREW /api/health HTTP/1.1\r\nHost: x\r\n\r\n", buf,
	    sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 501 ", 13) == 0);
	assert_non_null(strstr(buf, "\"message\":\"method not supported\""));
	assert_null(strstr(buf, "<HTML>"));
	assert_true(srv_alive(&srv));
}

static void
test_connection_cap(void **state)
{
	int	fds[MAX_CONNS + 1], i, refused = 0;
	static const char req[] = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
	char	buf[1024];
	ssize_t	n;

	(void)state;
	for (i = 0; i < MAX_CONNS + 1; i++)
		fds[i] = tcp_connect(srv.http_port);
	/* The connection over the cap is closed (or told 503), never served. */
	send(fds[MAX_CONNS], req, sizeof req - 1, MSG_NOSIGNAL);
	{
		struct pollfd	pfd = { .fd = fds[MAX_CONNS], .events = POLLIN };

		assert_true(poll(&pfd, 1, CALL_TIMEOUT_MS) == 1);
		n = recv(fds[MAX_CONNS], buf, sizeof buf - 1, 0);
		if (n <= 0)
			refused = 1;
		else {
			buf[n] = '\0';
			refused = strstr(buf, " 503 ") != NULL;
		}
	}
	assert_true(refused);
	for (i = 0; i < MAX_CONNS + 1; i++)
		close(fds[i]);
	assert_true(srv_alive(&srv));
}

static int
group_setup(void **state)
{
	struct tsrv_opts	opts = { 0 };

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	opts.http = 1;
	opts.config =
	    "http_request_deadline = 1\n"
	    "http_trusted_proxy = 127.0.0.1\n"
	    "http_max_conns = 12\n"
	    "http_cors_origins = https://other.example, https://clinic.example\n";
	srv_start(&srv, &opts);
	assert_true(srv.http_port > 0);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (tls_srv.pid > 0)
		srv_stop(&tls_srv);
	srv_stop(&srv);
	curl_global_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_headers_static_and_unknown_routes),
		cmocka_unit_test(test_static_files_gzip_when_accepted),
		cmocka_unit_test(test_login_cookie_csrf_and_logout),
		cmocka_unit_test(test_register_book_reschedule_cancel_ics),
		cmocka_unit_test(test_records_rx_notifications_reminders),
		cmocka_unit_test(test_messages_contacts),
		cmocka_unit_test(test_fhir_patient_and_appointments),
		cmocka_unit_test(test_sse_gets_a_chat_message_sent_over_tcp),
		cmocka_unit_test(test_file_download_streams_files_get),
		cmocka_unit_test(test_cors_only_for_configured_origins),
		cmocka_unit_test(test_oversize_body_is_413),
		cmocka_unit_test(test_rate_limit_429_by_forwarded_address),
		cmocka_unit_test(test_slowloris_is_cut_at_the_deadline),
		cmocka_unit_test(test_evhttp_own_errors_are_json),
		cmocka_unit_test(test_connection_cap),
		cmocka_unit_test(test_tls_mode_cookies_and_hsts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
