/* test_mailer.c -- RFC 5322 messages and iCalendar attachments: header
 * encoding and folding, injection through names and subjects, RFC 2047
 * encoded words, quoted-printable bodies, Date and Message-ID, the .ics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <sodium.h>

#include "mailer.h"
#include "util.h"

/* --- helpers --- */

/* The decoded text of one "=?UTF-8?B?...?=" word (allocated), or NULL. */
static char *
decode_word(const char *w, size_t len)
{
	unsigned char	 out[256];
	size_t		 n;
	char		*b64, *res;

	if (len < 12 || strncmp(w, "=?UTF-8?B?", 10) != 0 ||
	    strncmp(w + len - 2, "?=", 2) != 0)
		return NULL;
	b64 = xstrndup(w + 10, len - 12);
	if (sodium_base642bin(out, sizeof out, b64, strlen(b64), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(b64);
		return NULL;
	}
	free(b64);
	res = xstrndup((const char *)out, n);
	return res;
}

/* Decodes every encoded word of s, joined (whitespace between words dropped). */
static char *
decode_words(const char *s)
{
	char		*out = xstrdup(""), *w, *tmp;
	const char	*p = s, *e;

	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		e = strstr(p + 10, "?=");
		assert_non_null(e);
		assert_true(e - p + 2 <= 75);	/* RFC 2047: 75 characters at most */
		w = decode_word(p, (size_t)(e - p + 2));
		assert_non_null(w);
		assert_true(utf8_valid(w, strlen(w)));
		tmp = xasprintf("%s%s", out, w);
		free(out);
		free(w);
		out = tmp;
		p = e + 2;
	}
	return out;
}

/* Every line ends in CRLF and none is longer than max (without CRLF). */
static void
assert_crlf_lines(const char *s, size_t max)
{
	const char	*p = s, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl > p && nl[-1] == '\r');
		if ((size_t)(nl - p - 1) > max)
			print_error("line too long (%zu): %.*s\n", (size_t)(nl - p - 1),
			    (int)(nl - p - 1), p);
		assert_true((size_t)(nl - p - 1) <= max);
		assert_null(memchr(p, '\r', (size_t)(nl - p - 1)));
		p = nl + 1;
	}
}

/* The header section (up to the blank line), allocated. */
static char *
header_section(const char *msg)
{
	const char	*end = strstr(msg, "\r\n\r\n");

	assert_non_null(end);
	return xstrndup(msg, (size_t)(end - msg + 2));
}

/* The unfolded value of header name in msg (allocated), or NULL. */
static char *
header_value(const char *msg, const char *name)
{
	char		*hdr = header_section(msg), *out = NULL, *p, *q;
	size_t		 n = strlen(name);

	for (p = hdr; *p != '\0'; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			struct { char *s; size_t len; } v = { xstrdup(""), 0 };
			char	*line = p + n + 1;

			for (;;) {
				char	*eol = strstr(line, "\r\n");

				v.s = xrealloc(v.s, v.len + (size_t)(eol - line) + 1);
				memcpy(v.s + v.len, line, (size_t)(eol - line));
				v.len += (size_t)(eol - line);
				v.s[v.len] = '\0';
				if (eol[2] != ' ' && eol[2] != '\t')
					break;
				line = eol + 2;
			}
			q = v.s;
			while (*q == ' ')
				q++;
			out = xstrdup(q);
			free(v.s);
			break;
		}
	}
	free(hdr);
	return out;
}

/* A decoder for quoted-printable (soft breaks removed, CRLF kept as \n). */
static char *
qp_decode(const char *s)
{
	char	*out = xmalloc(strlen(s) + 1), *o = out;

	while (*s != '\0') {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n')
			s += 3;
		else if (s[0] == '=') {
			unsigned int	c;

			assert_int_equal(sscanf(s + 1, "%2X", &c), 1);
			*o++ = (char)c;
			s += 3;
		} else if (s[0] == '\r' && s[1] == '\n') {
			*o++ = '\n';
			s += 2;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static const struct mail *
sample_mail(void)
{
	static struct mail	m;

	memset(&m, 0, sizeof m);
	m.from.name = "MediFlow";
	m.from.addr = "clinic@example.org";
	m.to.name = "John Smith";
	m.to.addr = "john@example.org";
	m.subject = "Reminder: your appointment";
	m.text = "Hello John,\n\nSee you tomorrow.\n";
	m.date = 1764079200;
	m.message_id = "<1.abc@example.org>";
	m.kind = "24h";
	return &m;
}

/* --- Date and Message-ID --- */

static void
test_date_is_rfc5322_in_utc(void **state)
{
	char	d[MAIL_DATE_BYTES];

	(void)state;
	mail_format_date(1764079200, d);
	assert_string_equal(d, "Tue, 25 Nov 2025 14:00:00 +0000");
	mail_format_date(0, d);
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void
test_message_id_is_unique_and_well_formed(void **state)
{
	char		*a, *b;
	const char	*at;
	size_t		 i;

	(void)state;
	a = mail_message_id("example.org", 1764079200);
	b = mail_message_id("example.org", 1764079200);
	assert_string_not_equal(a, b);
	assert_true(a[0] == '<' && a[strlen(a) - 1] == '>');
	at = strchr(a, '@');
	assert_non_null(at);
	assert_string_equal(at, "@example.org>");
	for (i = 1; a + i < at; i++)
		assert_true(strchr("0123456789abcdef.", a[i]) != NULL);
	assert_int_equal(strncmp(a, "<1764079200.", 12), 0);
	free(a);
	free(b);
}

/* --- names and subjects --- */

static void
test_ascii_name_is_a_quoted_string(void **state)
{
	char	*s;

	(void)state;
	s = mail_encode_phrase("John Smith");
	assert_string_equal(s, "\"John Smith\"");
	free(s);
	s = mail_encode_phrase("Bobby \"Tables\" O\\Brien");
	assert_string_equal(s, "\"Bobby \\\"Tables\\\" O\\\\Brien\"");
	free(s);
	s = mail_encode_phrase("Doe, Jane <jane@evil.example>");
	assert_string_equal(s, "\"Doe, Jane <jane@evil.example>\"");
	free(s);
}

static void
test_non_ascii_name_is_rfc2047_encoded(void **state)
{
	char	*s, *d;

	(void)state;
	s = mail_encode_phrase("José García");
	assert_string_equal(s, "=?UTF-8?B?Sm9zw6kgR2FyY8OtYQ==?=");
	d = decode_words(s);
	assert_string_equal(d, "José García");
	free(s);
	free(d);
}

static void
test_long_non_ascii_name_splits_at_character_boundaries(void **state)
{
	char	 name[512] = "", *s, *d;
	int	 i;

	(void)state;
	/* 2-, 3- and 4-byte sequences, so a split at any byte would show. */
	for (i = 0; i < 30; i++)
		strcat(name, i % 3 == 0 ? "é" : i % 3 == 1 ? "漢" : "😀");
	s = mail_encode_phrase(name);
	assert_true(strstr(s, "?= =?UTF-8?B?") != NULL);	/* several words */
	d = decode_words(s);
	assert_string_equal(d, name);
	free(s);
	free(d);
}

static void
test_crlf_in_name_cannot_add_a_header(void **state)
{
	struct mail	 m = *sample_mail();
	const char	*cause = NULL;
	char		*msg, *hdr, *to, *p;

	(void)state;
	m.to.name = "Evil\r\nBcc: victim@example.net\r\n\r\nInjected body";
	m.from.name = "Clinic\nX-Spam: yes";
	msg = mail_build(&m, &cause);
	assert_non_null(msg);
	hdr = header_section(msg);
	for (p = hdr; *p != '\0'; p = strstr(p, "\r\n") + 2) {
		assert_true(strncasecmp(p, "Bcc:", 4) != 0);
		assert_true(strncasecmp(p, "X-Spam:", 7) != 0);
	}
	to = header_value(msg, "To");
	assert_string_equal(to, "\"Evil Bcc: victim@example.net Injected body\" "
	    "<john@example.org>");
	assert_crlf_lines(hdr, 78);
	free(to);
	free(hdr);
	free(msg);
}

static void
test_crlf_in_subject_cannot_add_a_header(void **state)
{
	struct mail	 m = *sample_mail();
	const char	*cause = NULL;
	char		*msg, *hdr, *subject, *p;

	(void)state;
	m.subject = "Hello\r\nBcc: victim@example.net";
	msg = mail_build(&m, &cause);
	assert_non_null(msg);
	hdr = header_section(msg);
	for (p = hdr; *p != '\0'; p = strstr(p, "\r\n") + 2)
		assert_true(strncasecmp(p, "Bcc:", 4) != 0);
	subject = header_value(msg, "Subject");
	assert_string_equal(subject, "Hello Bcc: victim@example.net");
	free(subject);
	free(hdr);
	free(msg);
}

static void
test_long_subject_is_folded_below_78_columns(void **state)
{
	char	*h, *v, *want;
	struct mail m = *sample_mail();
	const char *cause;
	char	*msg;

	(void)state;
	want = xstrdup("Reminder: your appointment on Tuesday 25 November 2025, "
	    "09:00 with Dr. Sarah Chen, General Practice, Room 2B, second floor, "
	    "east wing of the building");
	h = mail_header_unstructured("Subject", want);
	assert_crlf_lines(h, 78);
	assert_non_null(strstr(h, "\r\n "));	/* folded at least once */
	m.subject = want;
	msg = mail_build(&m, &cause);
	v = header_value(msg, "Subject");
	/* Unfolding gives back the words (folding only at spaces). */
	assert_string_equal(v, want);
	free(v);
	free(msg);
	free(h);

	/* Non-ASCII subjects are encoded words, each line short too. */
	m.subject = "Rappel : rendez-vous avec le Dr. Élodie Lefèvre, mardi 25 "
	    "novembre 2025 à 09 h 00, salle 2B, deuxième étage, aile est";
	msg = mail_build(&m, &cause);
	h = header_section(msg);
	assert_crlf_lines(h, 78);
	v = header_value(msg, "Subject");
	free(h);
	h = decode_words(v);
	assert_string_equal(h, m.subject);
	free(h);
	free(v);
	free(msg);
	free(want);
}

/* --- addresses --- */

static void
test_addresses_are_checked(void **state)
{
	struct mail	 m = *sample_mail();
	const char	*cause = NULL;

	(void)state;
	assert_true(mail_addr_valid("john.smith+tag@example.org"));
	assert_true(mail_addr_valid("a@localhost"));
	assert_false(mail_addr_valid("john@example.org\r\nRCPT TO:<x@y>"));
	assert_false(mail_addr_valid("<john@example.org>"));
	assert_false(mail_addr_valid("john smith@example.org"));
	assert_false(mail_addr_valid("john@@example.org"));
	assert_false(mail_addr_valid("john@"));
	assert_false(mail_addr_valid("@example.org"));
	assert_false(mail_addr_valid(".john@example.org"));
	assert_false(mail_addr_valid("jo..hn@example.org"));
	assert_false(mail_addr_valid("\"john\"@example.org"));
	assert_string_equal(mail_addr_domain("a@b.example"), "b.example");

	m.to.addr = "john@example.org>\r\nBcc: x@y";
	assert_null(mail_build(&m, &cause));
	assert_string_equal(cause, "invalid recipient address");
	m = *sample_mail();
	m.from.addr = "not an address";
	assert_null(mail_build(&m, &cause));
	assert_string_equal(cause, "invalid sender address");
	m = *sample_mail();
	m.message_id = "<a@b>\r\nBcc: x@y";
	assert_null(mail_build(&m, &cause));
}

/* --- bodies --- */

static void
test_quoted_printable_keeps_lines_short_and_round_trips(void **state)
{
	char	*text, *qp, *back;
	size_t	 i;

	(void)state;
	text = xmalloc(2000);
	strcpy(text, "Grüße aus der Praxis — ");
	for (i = 0; i < 40; i++)
		strcat(text, "très long line ");
	strcat(text, "end   \n.leading dot\nFrom here\nnormal = sign\ttab\n");
	qp = mail_qp_encode(text);
	assert_crlf_lines(qp, 76);
	assert_non_null(strstr(qp, "=2Eleading dot"));
	assert_non_null(strstr(qp, "end  =20\r\n"));
	assert_non_null(strstr(qp, "=3D sign"));
	for (i = 0; qp[i] != '\0'; i++)
		assert_true((unsigned char)qp[i] < 0x80);
	back = qp_decode(qp);
	assert_string_equal(back, text);
	free(back);
	free(qp);
	free(text);
}

static void
test_message_has_all_headers_and_mime_parts(void **state)
{
	struct mail	 m = *sample_mail();
	const char	*cause = NULL;
	char		*msg, *v, *part, *ics_b64, *end;
	unsigned char	 ics[2048];
	size_t		 n;

	(void)state;
	m.ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
	m.ics_name = "appointment.ics";
	m.boundary = "=_mf_test";
	msg = mail_build(&m, &cause);
	assert_non_null(msg);
	assert_crlf_lines(msg, 998);
	v = header_value(msg, "Date");
	assert_string_equal(v, "Tue, 25 Nov 2025 14:00:00 +0000");
	free(v);
	v = header_value(msg, "From");
	assert_string_equal(v, "\"MediFlow\" <clinic@example.org>");
	free(v);
	v = header_value(msg, "To");
	assert_string_equal(v, "\"John Smith\" <john@example.org>");
	free(v);
	v = header_value(msg, "Message-ID");
	assert_string_equal(v, "<1.abc@example.org>");
	free(v);
	v = header_value(msg, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = header_value(msg, "X-MediFlow-Kind");
	assert_string_equal(v, "24h");
	free(v);
	v = header_value(msg, "Content-Type");
	assert_string_equal(v, "multipart/mixed; boundary=\"=_mf_test\"");
	free(v);

	assert_non_null(strstr(msg, "\r\n--=_mf_test\r\nContent-Type: text/plain; "
	    "charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Hello John,\r\n"));
	part = strstr(msg, "Content-Type: text/calendar; charset=UTF-8; method=PUBLISH;");
	assert_non_null(part);
	assert_non_null(strstr(part, "Content-Disposition: attachment; "
	    "filename=\"appointment.ics\"\r\n"));
	ics_b64 = strstr(part, "\r\n\r\n") + 4;
	end = strstr(ics_b64, "\r\n--=_mf_test--\r\n");
	assert_non_null(end);
	assert_int_equal(sodium_base642bin(ics, sizeof ics - 1, ics_b64,
	    (size_t)(end - ics_b64), "\r\n", &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	ics[n] = '\0';
	assert_string_equal((char *)ics, m.ics);
	/* Ends with the closing boundary. */
	assert_string_equal(end, "\r\n--=_mf_test--\r\n");
	free(msg);
}

static void
test_message_without_attachment_is_single_part(void **state)
{
	const char	*cause = NULL;
	char		*msg, *v;

	(void)state;
	msg = mail_build(sample_mail(), &cause);
	assert_non_null(msg);
	v = header_value(msg, "Content-Type");
	assert_string_equal(v, "text/plain; charset=UTF-8");
	free(v);
	assert_null(strstr(msg, "multipart"));
	free(msg);
}

/* --- iCalendar --- */

static struct ics_event
sample_event(void)
{
	struct ics_event	e;

	memset(&e, 0, sizeof e);
	e.uid = "appointment-42@example.org";
	e.sequence = 1;
	e.stamp = 1764079200;			/* 2025-11-25 14:00:00 UTC */
	e.start = 1764147600;			/* 2025-11-26 09:00:00 UTC */
	e.end = 1764147600 + 20 * 60;
	e.summary = "Appointment with Dr. Sarah Chen";
	e.description = "Reason: cough, fever; see notes\\ok\nsecond line";
	e.location = "Room 2B";
	return e;
}

static void
test_ics_has_utc_times_uid_and_escaped_text(void **state)
{
	struct ics_event	 e = sample_event();
	char			*ics;

	(void)state;
	ics = ics_build(&e);
	assert_crlf_lines(ics, 75);
	assert_int_equal(strncmp(ics, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", 30), 0);
	assert_non_null(strstr(ics, "\r\nBEGIN:VEVENT\r\n"));
	assert_non_null(strstr(ics, "\r\nUID:appointment-42@example.org\r\n"));
	assert_non_null(strstr(ics, "\r\nSEQUENCE:1\r\n"));
	assert_non_null(strstr(ics, "\r\nDTSTAMP:20251125T140000Z\r\n"));
	assert_non_null(strstr(ics, "\r\nDTSTART:20251126T090000Z\r\n"));
	assert_non_null(strstr(ics, "\r\nDTEND:20251126T092000Z\r\n"));
	assert_non_null(strstr(ics, "\r\nSUMMARY:Appointment with Dr. Sarah Chen\r\n"));
	assert_non_null(strstr(ics, "\r\nLOCATION:Room 2B\r\n"));
	assert_non_null(strstr(ics, "\r\nDESCRIPTION:Reason: cough\\, fever\\; "
	    "see notes\\\\ok\\nsecond line\r\n"));
	assert_non_null(strstr(ics, "\r\nSTATUS:CONFIRMED\r\n"));
	assert_non_null(strstr(ics, "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"));
	free(ics);
}

static void
test_ics_folds_long_lines_without_splitting_characters(void **state)
{
	struct ics_event	 e = sample_event();
	char			 desc[1024] = "", *ics, *p, *unfolded, *o;
	int			 i;

	(void)state;
	for (i = 0; i < 60; i++)
		strcat(desc, i % 2 ? "é" : "漢");
	e.description = desc;
	ics = ics_build(&e);
	assert_crlf_lines(ics, 75);
	/* No continuation line starts inside a UTF-8 sequence. */
	for (p = ics; (p = strstr(p, "\r\n ")) != NULL; p += 3)
		assert_true(((unsigned char)p[3] & 0xc0) != 0x80);
	/* Unfolding gives back the text. */
	unfolded = xmalloc(strlen(ics) + 1);
	for (p = ics, o = unfolded; *p != '\0'; ) {
		if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ')
			p += 3;
		else
			*o++ = *p++;
	}
	*o = '\0';
	p = xasprintf("\r\nDESCRIPTION:%s\r\n", desc);
	assert_non_null(strstr(unfolded, p));
	free(p);
	free(unfolded);
	free(ics);
}

static void
test_ics_escape_text(void **state)
{
	char	*s;

	(void)state;
	s = ics_escape_text("a,b;c\\d\r\ne\x01" "f");
	assert_string_equal(s, "a\\,b\\;c\\\\d\\ne f");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_is_rfc5322_in_utc),
		cmocka_unit_test(test_message_id_is_unique_and_well_formed),
		cmocka_unit_test(test_ascii_name_is_a_quoted_string),
		cmocka_unit_test(test_non_ascii_name_is_rfc2047_encoded),
		cmocka_unit_test(test_long_non_ascii_name_splits_at_character_boundaries),
		cmocka_unit_test(test_crlf_in_name_cannot_add_a_header),
		cmocka_unit_test(test_crlf_in_subject_cannot_add_a_header),
		cmocka_unit_test(test_long_subject_is_folded_below_78_columns),
		cmocka_unit_test(test_addresses_are_checked),
		cmocka_unit_test(test_quoted_printable_keeps_lines_short_and_round_trips),
		cmocka_unit_test(test_message_has_all_headers_and_mime_parts),
		cmocka_unit_test(test_message_without_attachment_is_single_part),
		cmocka_unit_test(test_ics_has_utc_times_uid_and_escaped_text),
		cmocka_unit_test(test_ics_folds_long_lines_without_splitting_characters),
		cmocka_unit_test(test_ics_escape_text),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
