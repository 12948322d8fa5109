/* mailer.c -- RFC 5322 messages, iCalendar attachments, SMTP delivery.
 *
 * Everything a header carries passes through one of two doors: a phrase
 * (display names) or unstructured text (the subject). Both drop control
 * characters first, so a name holding "\r\nBcc: ..." stays inside its own
 * header; non-ASCII text becomes RFC 2047 encoded words. Lines are folded
 * below 78 columns; bodies are quoted-printable or base64, never raw 8-bit. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "curl-loop.h"
#include "log.h"
#include "mailer.h"
#include "util.h"

#define HEADER_FOLD_COL		78
#define QP_LINE_MAX		76
#define EW_BYTES_MAX		39	/* 52 base64 chars: 64-char encoded words */
#define ICS_FOLD_OCTETS		75
#define MAILER_REPLY_TIMEOUT	15	/* seconds for any one SMTP reply */

/* A growable string. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

/* Tokens of a header value: folding happens only between them. */
struct toks {
	char	**v;
	size_t	  n, cap;
};

static void	sb_addn(struct sbuf *, const char *, size_t);
static void	sb_add(struct sbuf *, const char *);
static void	sb_addf(struct sbuf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static char	*sb_take(struct sbuf *);
static void	toks_add(struct toks *, char *);
static void	toks_free(struct toks *);
static size_t	utf8_seq_len(const unsigned char *);
static char	*sanitize_line(const char *);
static int	is_plain_ascii(const char *);
static void	encoded_words(const char *, struct toks *);
static void	phrase_tokens(const char *, struct toks *);
static void	header_emit(struct sbuf *, const char *, const struct toks *);
static void	address_header(struct sbuf *, const char *, const struct mail_addr *);
static void	ics_line(struct sbuf *, const char *, const char *);
static void	ics_time(int64_t, char out[17]);

static void
sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2 + 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void
sb_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	sb_add(b, s);
	free(s);
}

static char *
sb_take(struct sbuf *b)
{
	char	*p = b->p != NULL ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

static void
toks_add(struct toks *t, char *s)
{
	if (t->n == t->cap) {
		t->cap = t->cap * 2 + 8;
		t->v = xrealloc(t->v, t->cap * sizeof *t->v);
	}
	t->v[t->n++] = s;
}

static void
toks_free(struct toks *t)
{
	size_t	i;

	for (i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

/* The length of the UTF-8 sequence starting at p (1 for a stray byte). */
static size_t
utf8_seq_len(const unsigned char *p)
{
	size_t	n, i;

	if (*p < 0x80)
		return 1;
	if ((*p & 0xe0) == 0xc0)
		n = 2;
	else if ((*p & 0xf0) == 0xe0)
		n = 3;
	else if ((*p & 0xf8) == 0xf0)
		n = 4;
	else
		return 1;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	}
	return n;
}

/*
 * One line of text for a header: C0 and C1 controls and DEL become spaces
 * (so CR and LF can never end the header), bytes that are not UTF-8 become
 * '?', runs of spaces collapse, ends are trimmed.
 */
static char *
sanitize_line(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	struct sbuf		 b = { 0 };
	int			 space = 1;

	while (*p != '\0') {
		size_t	n = utf8_seq_len(p);
		int	ctl = 0;

		if (n == 1 && (*p < 0x20 || *p == 0x7f))
			ctl = 1;
		else if (n == 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			ctl = 1;
		if (ctl || *p == ' ') {
			if (!space)
				sb_add(&b, " ");
			space = 1;
		} else if (n == 1 && *p >= 0x80) {
			sb_add(&b, "?");
			space = 0;
		} else {
			sb_addn(&b, (const char *)p, n);
			space = 0;
		}
		p += n;
	}
	if (b.len > 0 && b.p[b.len - 1] == ' ')
		b.p[--b.len] = '\0';
	return sb_take(&b);
}

static int
is_plain_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

/* RFC 2047 B encoding, never splitting a UTF-8 sequence across words. */
static void
encoded_words(const char *s, struct toks *t)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 b64[sodium_base64_ENCODED_LEN(EW_BYTES_MAX,
				     sodium_base64_VARIANT_ORIGINAL)];

	while (*p != '\0') {
		size_t	n = 0, k, after_space = 0;

		while (p[n] != '\0' && n + (k = utf8_seq_len(p + n)) <= EW_BYTES_MAX) {
			n += k;
			if (p[n - 1] == ' ')
				after_space = n;
		}
		/*
		 * Decoders should drop the folding between encoded words, but
		 * some (Python's email parser in display names) keep it as a
		 * space: cutting after a space keeps their words whole.
		 */
		if (p[n] != '\0' && after_space >= EW_BYTES_MAX / 2)
			n = after_space;
		sodium_bin2base64(b64, sizeof b64, p, n,
		    sodium_base64_VARIANT_ORIGINAL);
		toks_add(t, xasprintf("=?UTF-8?B?%s?=", b64));
		p += n;
	}
}

static void
phrase_tokens(const char *name, struct toks *t)
{
	struct sbuf	 b = { 0 };
	char		*clean = sanitize_line(name != NULL ? name : "");
	const char	*p;

	if (*clean == '\0') {
		free(clean);
		return;
	}
	if (!is_plain_ascii(clean)) {
		encoded_words(clean, t);
		free(clean);
		return;
	}
	sb_add(&b, "\"");
	for (p = clean; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			sb_add(&b, "\\");
		sb_addn(&b, p, 1);
	}
	sb_add(&b, "\"");
	toks_add(t, sb_take(&b));
	free(clean);
}

/* "Name: tok tok ...\r\n", folded before a token that would pass column 78. */
static void
header_emit(struct sbuf *b, const char *name, const struct toks *t)
{
	size_t	col = strlen(name) + 1, i, n;

	sb_add(b, name);
	sb_add(b, ":");
	for (i = 0; i < t->n; i++) {
		n = strlen(t->v[i]);
		if (i > 0 && col + 1 + n > HEADER_FOLD_COL) {
			sb_add(b, "\r\n");
			col = 0;
		}
		sb_add(b, " ");
		sb_add(b, t->v[i]);
		col += 1 + n;
	}
	sb_add(b, "\r\n");
}

char *
mail_encode_phrase(const char *name)
{
	struct toks	t = { 0 };
	struct sbuf	b = { 0 };
	size_t		i;

	phrase_tokens(name, &t);
	for (i = 0; i < t.n; i++) {
		if (i > 0)
			sb_add(&b, " ");
		sb_add(&b, t.v[i]);
	}
	toks_free(&t);
	return sb_take(&b);
}

char *
mail_header_unstructured(const char *name, const char *value)
{
	struct toks	 t = { 0 };
	struct sbuf	 b = { 0 };
	char		*clean = sanitize_line(value != NULL ? value : "");
	char		*p, *word, *save = NULL;

	if (is_plain_ascii(clean)) {
		for (p = clean; (word = strtok_r(p, " ", &save)) != NULL; p = NULL)
			toks_add(&t, xstrdup(word));
	} else
		encoded_words(clean, &t);
	header_emit(&b, name, &t);
	toks_free(&t);
	free(clean);
	return sb_take(&b);
}

static void
address_header(struct sbuf *b, const char *name, const struct mail_addr *a)
{
	struct toks	t = { 0 };

	phrase_tokens(a->name, &t);
	toks_add(&t, xasprintf("<%s>", a->addr));
	header_emit(b, name, &t);
	toks_free(&t);
}

int
mail_addr_valid(const char *addr)
{
	static const char	 atext[] = "!#$%&'*+/=?^_`{|}~-.";
	const char		*at, *p;
	size_t			 len;

	if (addr == NULL || (len = strlen(addr)) < 3 || len > 254)
		return 0;
	if ((at = strchr(addr, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	if (at == addr || at - addr > 64 || at[1] == '\0')
		return 0;
	if (addr[0] == '.' || at[-1] == '.' || strstr(addr, "..") != NULL)
		return 0;
	for (p = addr; p < at; p++) {
		if (!isalnum((unsigned char)*p) && strchr(atext, *p) == NULL)
			return 0;
	}
	if (at[1] == '.' || at[1] == '-' || addr[len - 1] == '.' ||
	    addr[len - 1] == '-')
		return 0;
	for (p = at + 1; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return 0;
	}
	return 1;
}

const char *
mail_addr_domain(const char *addr)
{
	const char	*at = addr != NULL ? strchr(addr, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : "localhost";
}

void
mail_format_date(int64_t t, char out[MAIL_DATE_BYTES])
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
		"Oct", "Nov", "Dec"
	};
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof tm);	/* past year 2^31: never from our data */
	snprintf(out, MAIL_DATE_BYTES, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *
mail_message_id(const char *domain, int64_t now)
{
	unsigned char	rnd[12];
	char		hex[sizeof rnd * 2 + 1];

	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
	return xasprintf("<%lld.%s@%s>", (long long)now, hex, domain);
}

char *
mail_qp_encode(const char *text)
{
	const unsigned char	*p = (const unsigned char *)text;
	struct sbuf		 b = { 0 };
	size_t			 col = 0;
	char			 tok[4];

	while (*p != '\0') {
		unsigned char	c = *p;
		int		eol;

		if (c == '\r' && p[1] == '\n') {
			p++;
			continue;
		}
		if (c == '\n') {
			sb_add(&b, "\r\n");
			col = 0;
			p++;
			continue;
		}
		eol = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');
		if ((c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
		    ((c == ' ' || c == '\t') && !eol)) {
			tok[0] = (char)c;
			tok[1] = '\0';
		} else
			snprintf(tok, sizeof tok, "=%02X", c);
		if (col + strlen(tok) > QP_LINE_MAX - 1) {
			sb_add(&b, "=\r\n");
			col = 0;
			if (c == '.') {
				/* A soft break put the dot at a line start. */
				snprintf(tok, sizeof tok, "=%02X", c);
			}
		}
		sb_add(&b, tok);
		col += strlen(tok);
		p++;
	}
	if (b.len < 2 || strcmp(b.p + b.len - 2, "\r\n") != 0)
		sb_add(&b, "\r\n");
	return sb_take(&b);
}

char *
mail_base64_lines(const char *data, size_t len)
{
	struct sbuf	 b = { 0 };
	size_t		 elen = sodium_base64_ENCODED_LEN(len,
			     sodium_base64_VARIANT_ORIGINAL), i, n;
	char		*enc = xmalloc(elen);

	sodium_bin2base64(enc, elen, (const unsigned char *)data, len,
	    sodium_base64_VARIANT_ORIGINAL);
	n = strlen(enc);
	for (i = 0; i < n; i += 76) {
		sb_addn(&b, enc + i, n - i < 76 ? n - i : 76);
		sb_add(&b, "\r\n");
	}
	free(enc);
	return sb_take(&b);
}

/* Keeps [A-Za-z0-9._-] of a file name or header token; "attachment" when
 * nothing is left. Allocated. */
static char *
safe_token(const char *s)
{
	struct sbuf	b = { 0 };

	for (; s != NULL && *s != '\0'; s++) {
		if (isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-')
			sb_addn(&b, s, 1);
	}
	if (b.len == 0)
		sb_add(&b, "attachment");
	return sb_take(&b);
}

char *
mail_build(const struct mail *m, const char **cause)
{
	struct sbuf	 b = { 0 };
	char		 date[MAIL_DATE_BYTES], boundary[40], *s, *kind;
	unsigned char	 rnd[12];
	size_t		 i;

	if (!mail_addr_valid(m->from.addr)) {
		*cause = "invalid sender address";
		return NULL;
	}
	if (!mail_addr_valid(m->to.addr)) {
		*cause = "invalid recipient address";
		return NULL;
	}
	if (m->message_id == NULL || m->message_id[0] != '<' ||
	    strchr(m->message_id, '>') != m->message_id + strlen(m->message_id) - 1 ||
	    !is_plain_ascii(m->message_id) || strchr(m->message_id, ' ') != NULL) {
		*cause = "invalid Message-ID";
		return NULL;
	}
	mail_format_date(m->date, date);
	sb_addf(&b, "Date: %s\r\n", date);
	address_header(&b, "From", &m->from);
	address_header(&b, "To", &m->to);
	s = mail_header_unstructured("Subject", m->subject);
	sb_add(&b, s);
	free(s);
	sb_addf(&b, "Message-ID: %s\r\n", m->message_id);
	sb_add(&b, "MIME-Version: 1.0\r\n");
	sb_add(&b, "Auto-Submitted: auto-generated\r\n");
	if (m->kind != NULL) {
		kind = safe_token(m->kind);
		sb_addf(&b, "X-MediFlow-Kind: %s\r\n", kind);
		free(kind);
	}
	if (m->ics == NULL) {
		sb_add(&b, "Content-Type: text/plain; charset=UTF-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		s = mail_qp_encode(m->text != NULL ? m->text : "");
		sb_add(&b, s);
		free(s);
		return sb_take(&b);
	}
	if (m->boundary != NULL)
		snprintf(boundary, sizeof boundary, "%s", m->boundary);
	else {
		randombytes_buf(rnd, sizeof rnd);
		memcpy(boundary, "=_mf_", 5);
		for (i = 0; i < sizeof rnd; i++)
			snprintf(boundary + 5 + i * 2, 3, "%02x", rnd[i]);
	}
	sb_addf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
	    boundary);
	sb_add(&b, "This is a multi-part message in MIME format.\r\n");
	sb_addf(&b, "--%s\r\n", boundary);
	sb_add(&b, "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	s = mail_qp_encode(m->text != NULL ? m->text : "");
	sb_add(&b, s);
	free(s);
	kind = safe_token(m->ics_name != NULL ? m->ics_name : "appointment.ics");
	sb_addf(&b, "--%s\r\n", boundary);
	sb_addf(&b, "Content-Type: text/calendar; charset=UTF-8; method=PUBLISH;\r\n"
	    " name=\"%s\"\r\n", kind);
	sb_addf(&b, "Content-Disposition: attachment; filename=\"%s\"\r\n", kind);
	sb_add(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
	free(kind);
	s = mail_base64_lines(m->ics, strlen(m->ics));
	sb_add(&b, s);
	free(s);
	sb_addf(&b, "--%s--\r\n", boundary);
	return sb_take(&b);
}

/* --- iCalendar --- */

char *
ics_escape_text(const char *s)
{
	struct sbuf	b = { 0 };

	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '\\': sb_add(&b, "\\\\"); break;
		case ';': sb_add(&b, "\\;"); break;
		case ',': sb_add(&b, "\\,"); break;
		case '\n': sb_add(&b, "\\n"); break;
		case '\r': break;
		default:
			if ((unsigned char)*s < 0x20 || *s == 0x7f)
				sb_add(&b, " ");
			else
				sb_addn(&b, s, 1);
		}
	}
	return sb_take(&b);
}

/* "NAME:value" folded at 75 octets, never inside a UTF-8 sequence. */
static void
ics_line(struct sbuf *b, const char *name, const char *value)
{
	char		*line = xasprintf("%s:%s", name, value);
	const unsigned char *p = (const unsigned char *)line;
	size_t		 col = 0, n;

	while (*p != '\0') {
		n = utf8_seq_len(p);
		if (col + n > ICS_FOLD_OCTETS) {
			sb_add(b, "\r\n ");
			col = 1;
		}
		sb_addn(b, (const char *)p, n);
		col += n;
		p += n;
	}
	sb_add(b, "\r\n");
	free(line);
}

static void
ics_time(int64_t t, char out[17])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof tm);	/* past year 2^31: never from our data */
	if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 0)
		out[0] = '\0';
}

char *
ics_build(const struct ics_event *e)
{
	struct sbuf	 b = { 0 };
	char		 t[17], seq[16], *s;

	sb_add(&b, "BEGIN:VCALENDAR\r\n");
	sb_add(&b, "VERSION:2.0\r\n");
	sb_add(&b, "PRODID:-//MediFlow//mediflowd//EN\r\n");
	sb_add(&b, "CALSCALE:GREGORIAN\r\n");
	sb_add(&b, "METHOD:PUBLISH\r\n");
	sb_add(&b, "BEGIN:VEVENT\r\n");
	s = ics_escape_text(e->uid);
	ics_line(&b, "UID", s);
	free(s);
	snprintf(seq, sizeof seq, "%d", e->sequence);
	ics_line(&b, "SEQUENCE", seq);
	ics_time(e->stamp, t);
	ics_line(&b, "DTSTAMP", t);
	ics_time(e->start, t);
	ics_line(&b, "DTSTART", t);
	ics_time(e->end, t);
	ics_line(&b, "DTEND", t);
	s = ics_escape_text(e->summary);
	ics_line(&b, "SUMMARY", s);
	free(s);
	if (e->location != NULL && *e->location != '\0') {
		s = ics_escape_text(e->location);
		ics_line(&b, "LOCATION", s);
		free(s);
	}
	if (e->description != NULL && *e->description != '\0') {
		s = ics_escape_text(e->description);
		ics_line(&b, "DESCRIPTION", s);
		free(s);
	}
	ics_line(&b, "STATUS", e->cancelled ? "CANCELLED" : "CONFIRMED");
	ics_line(&b, "TRANSP", "OPAQUE");
	sb_add(&b, "END:VEVENT\r\n");
	sb_add(&b, "END:VCALENDAR\r\n");
	return sb_take(&b);
}

/* --- delivery --- */

struct mail_xfer {
	char			*data;
	size_t			 len, off;
	struct curl_slist	*rcpt;
	char			*message_id;
	send_done_fn		 done;
	void			*arg;
};

static size_t
mail_read_cb(char *buf, size_t size, size_t nitems, void *userp)
{
	struct mail_xfer	*x = userp;
	size_t			 n = size * nitems;

	if (n > x->len - x->off)
		n = x->len - x->off;
	memcpy(buf, x->data + x->off, n);
	x->off += n;
	return n;
}

static void
mail_done_cb(CURL *easy, CURLcode rc, const char *errbuf, void *arg)
{
	struct mail_xfer	*x = arg;
	struct send_result	 res;
	long			 code = 0;

	memset(&res, 0, sizeof res);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	res.code = code;
	res.ok = rc == CURLE_OK;
	if (res.ok)
		snprintf(res.ref, sizeof res.ref, "%s", x->message_id);
	else {
		/* A 5xx reply is the server's final word; anything else may pass. */
		res.permanent = code >= 500 && code < 600;
		if (code > 0)
			snprintf(res.error, sizeof res.error, "SMTP %ld: %s", code,
			    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		else
			snprintf(res.error, sizeof res.error, "%s",
			    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
	}
	x->done(&res, x->arg);
	curl_slist_free_all(x->rcpt);
	free(x->data);
	free(x->message_id);
	free(x);
}

int
url_host_is_loopback(const char *url)
{
	const char	*p = strstr(url, "://");
	char		 host[256];
	size_t		 n;

	p = p != NULL ? p + 3 : url;
	if (strchr(p, '@') != NULL && strchr(p, '@') < p + strcspn(p, "/"))
		p = strchr(p, '@') + 1;
	if (*p == '[') {
		n = strcspn(p + 1, "]");
		if (n >= sizeof host)
			return 0;
		memcpy(host, p + 1, n);
	} else {
		n = strcspn(p, ":/?#");
		if (n >= sizeof host)
			return 0;
		memcpy(host, p, n);
	}
	host[n] = '\0';
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	    strcasecmp(host, "localhost") == 0;
}

int
mailer_send(const struct mailer_config *cfg, const char *from_addr,
    const char *to_addr, const char *message, const char *message_id,
    send_done_fn done, void *arg)
{
	struct mail_xfer	*x;
	CURL			*easy;
	char			*s;

	if ((easy = curl_easy_init()) == NULL)
		return -1;
	x = xcalloc(1, sizeof *x);
	x->data = xstrdup(message);
	x->len = strlen(message);
	x->message_id = xstrdup(message_id);
	x->done = done;
	x->arg = arg;
	s = xasprintf("<%s>", to_addr);
	x->rcpt = curl_slist_append(NULL, s);
	free(s);

	curl_easy_setopt(easy, CURLOPT_URL, cfg->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (strncasecmp(cfg->url, "smtp://", 7) == 0)
		curl_easy_setopt(easy, CURLOPT_USE_SSL, url_host_is_loopback(cfg->url) ?
		    (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
	if (cfg->user != NULL) {
		curl_easy_setopt(easy, CURLOPT_USERNAME, cfg->user);
		curl_easy_setopt(easy, CURLOPT_PASSWORD,
		    cfg->password != NULL ? cfg->password : "");
	}
	s = xasprintf("<%s>", from_addr);
	curl_easy_setopt(easy, CURLOPT_MAIL_FROM, s);
	free(s);
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, x->rcpt);
	curl_easy_setopt(easy, CURLOPT_READFUNCTION, mail_read_cb);
	curl_easy_setopt(easy, CURLOPT_READDATA, x);
	curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, (long)(cfg->timeout > 0 ?
	    cfg->timeout : 120));
	/*
	 * libcurl waits for the reply to the end of the message (and to QUIT)
	 * in a blocking loop even under the multi interface (curl issue
	 * #8555), so SMTP runs on curl-loop's own thread; bound that wait
	 * all the same, so a stuck server cannot hold the queue forever.
	 */
	curl_easy_setopt(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT,
	    (long)MAILER_REPLY_TIMEOUT);
	if (curl_loop_add_threaded(easy, mail_done_cb, x) != 0) {
		curl_slist_free_all(x->rcpt);
		free(x->data);
		free(x->message_id);
		free(x);
		return -1;
	}
	return 0;
}
