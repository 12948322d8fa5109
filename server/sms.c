/* sms.c -- text messages through Twilio's REST API. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "curl-loop.h"
#include "log.h"
#include "sms.h"
#include "util.h"

#define SMS_RESPONSE_MAX	(64 * 1024)

/* The GSM 03.38 basic alphabet (one septet each), as code points. */
static const unsigned gsm_basic[] = {
	'@', 0xa3, '$', 0xa5, 0xe8, 0xe9, 0xf9, 0xec, 0xf2, 0xc7, '\n', 0xd8,
	0xf8, '\r', 0xc5, 0xe5, 0x394, '_', 0x3a6, 0x393, 0x39b, 0x3a9, 0x3a0,
	0x3a8, 0x3a3, 0x398, 0x39e, 0xc6, 0xe6, 0xdf, 0xc9, ' ', '!', '"', '#',
	0xa4, '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', ':', ';',
	'<', '=', '>', '?', 0xa1, 0xc4, 0xd6, 0xd1, 0xdc, 0xa7, 0xbf, 0xe4, 0xf6,
	0xf1, 0xfc, 0xe0,
};
/* The extension table: an escape and a septet each. */
static const unsigned gsm_ext[] = {
	'^', '{', '}', '\\', '[', '~', ']', '|', 0x20ac, '\f',
};

static int
gsm_in(const unsigned *set, size_t n, unsigned cp)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (set[i] == cp)
			return 1;
	}
	return 0;
}

/* Decodes one code point; returns its byte length (1 for a stray byte). */
static size_t
utf8_decode(const unsigned char *p, unsigned *cp)
{
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
		*cp = (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		return 2;
	}
	if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
		*cp = (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 |
		    (p[2] & 0x3f);
		return 3;
	}
	if ((p[0] & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 &&
	    (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
		*cp = (unsigned)(p[0] & 0x07) << 18 | (unsigned)(p[1] & 0x3f) << 12 |
		    (unsigned)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
		return 4;
	}
	*cp = 0xfffd;
	return 1;
}

int
sms_e164_valid(const char *s)
{
	size_t	n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (n = 1; s[n] != '\0'; n++) {
		if (!isdigit((unsigned char)s[n]))
			return 0;
	}
	n--;
	return n >= 8 && n <= 15;
}

/* Septets (GSM) and UTF-16 units (UCS-2) of the text, and whether it is GSM. */
static void
sms_measure(const char *s, size_t *septets, size_t *units, int *gsm)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned		 cp;

	*septets = *units = 0;
	*gsm = 1;
	while (*p != '\0') {
		p += utf8_decode(p, &cp);
		*units += cp > 0xffff ? 2 : 1;
		if (cp < 0x80 && isalnum((int)cp))
			*septets += 1;
		else if (gsm_in(gsm_basic, nitems(gsm_basic), cp))
			*septets += 1;
		else if (gsm_in(gsm_ext, nitems(gsm_ext), cp))
			*septets += 2;
		else
			*gsm = 0;
	}
}

int
sms_segments(const char *s, int *ucs2)
{
	size_t	septets, units;
	int	gsm;

	sms_measure(s, &septets, &units, &gsm);
	if (ucs2 != NULL)
		*ucs2 = !gsm;
	if (gsm)
		return septets <= 160 ? 1 : (int)((septets + 152) / 153);
	return units <= 70 ? 1 : (int)((units + 66) / 67);
}

void
sms_fit(char *s, int max_segments)
{
	size_t	len = strlen(s);

	while (len > 0 && sms_segments(s, NULL) > max_segments) {
		/* Drop the last character (and any continuation bytes). */
		do
			len--;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80);
		s[len] = '\0';
	}
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
}

static void
form_escape(char **out, size_t *len, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)s;
	char			*buf = *out;
	size_t			 n = *len;

	buf = xrealloc(buf, n + strlen(s) * 3 + 1);
	for (; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '*')
			buf[n++] = (char)*p;
		else if (*p == ' ')
			buf[n++] = '+';
		else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
}

char *
sms_form_add(char *buf, const char *key, const char *value)
{
	size_t	len = buf != NULL ? strlen(buf) : 0;

	if (buf == NULL)
		buf = xstrdup("");
	if (len > 0) {
		buf = xrealloc(buf, len + 2);
		buf[len++] = '&';
		buf[len] = '\0';
	}
	form_escape(&buf, &len, key);
	buf = xrealloc(buf, len + 2);
	buf[len++] = '=';
	buf[len] = '\0';
	form_escape(&buf, &len, value);
	return buf;
}

/* --- delivery --- */

struct sms_xfer {
	char		*form;
	char		*response;
	size_t		 rlen;
	send_done_fn	 done;
	void		*arg;
};

static size_t
sms_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sms_xfer	*x = userp;
	size_t		 n = size * nmemb;

	if (x->rlen + n > SMS_RESPONSE_MAX)
		return 0;	/* aborts the transfer: no endless replies */
	x->response = xrealloc(x->response, x->rlen + n + 1);
	memcpy(x->response + x->rlen, data, n);
	x->rlen += n;
	x->response[x->rlen] = '\0';
	return n;
}

static void
sms_done_cb(CURL *easy, CURLcode rc, const char *errbuf, void *arg)
{
	struct sms_xfer		*x = arg;
	struct send_result	 res;
	json_t			*j = NULL;
	const char		*msg = NULL, *sid = NULL;
	long			 code = 0;

	memset(&res, 0, sizeof res);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	res.code = code;
	if (x->response != NULL)
		j = json_loads(x->response, 0, NULL);
	if (j != NULL) {
		sid = json_string_value(json_object_get(j, "sid"));
		msg = json_string_value(json_object_get(j, "message"));
	}
	if (rc != CURLE_OK) {
		snprintf(res.error, sizeof res.error, "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
	} else if (code >= 200 && code < 300) {
		res.ok = 1;
		snprintf(res.ref, sizeof res.ref, "%s", sid != NULL ? sid : "");
	} else {
		/* 4xx is a refusal (bad number, bad auth), except 429 Too Many. */
		res.permanent = code >= 400 && code < 500 && code != 429;
		snprintf(res.error, sizeof res.error, "HTTP %ld: %s", code,
		    msg != NULL ? msg : "error from the SMS provider");
	}
	json_decref(j);
	x->done(&res, x->arg);
	free(x->form);
	free(x->response);
	free(x);
}

int
sms_send(const struct sms_config *cfg, const char *to, const char *body,
    send_done_fn done, void *arg)
{
	struct sms_xfer	*x;
	CURL		*easy;
	char		*sid, *url;
	size_t		 n;

	if ((easy = curl_easy_init()) == NULL)
		return -1;
	x = xcalloc(1, sizeof *x);
	x->done = done;
	x->arg = arg;
	x->form = sms_form_add(NULL, "To", to);
	x->form = sms_form_add(x->form, "From", cfg->from);
	x->form = sms_form_add(x->form, "Body", body);

	/* The SID goes into the path: escape it, whatever the config says. */
	sid = curl_easy_escape(easy, cfg->account_sid, 0);
	n = strlen(cfg->base_url);
	while (n > 0 && cfg->base_url[n - 1] == '/')
		n--;
	url = xasprintf("%.*s/2010-04-01/Accounts/%s/Messages.json", (int)n,
	    cfg->base_url, sid != NULL ? sid : "");
	curl_free(sid);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(easy, CURLOPT_USERNAME, cfg->account_sid);
	curl_easy_setopt(easy, CURLOPT_PASSWORD, cfg->auth_token);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, x->form);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->form));
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, sms_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "mediflowd");
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, (long)(cfg->timeout > 0 ?
	    cfg->timeout : 60));
	if (curl_loop_add(easy, sms_done_cb, x) != 0) {
		free(x->form);
		free(x);
		return -1;
	}
	return 0;
}
