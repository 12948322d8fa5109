/* mailer.h -- e-mail: RFC 5322 messages with an iCalendar attachment, and
 * their delivery over SMTP through libcurl's multi interface.
 *
 * The builders are pure functions (the unit tests call them); mailer_send
 * starts a transfer on the event loop and reports back once.
 *
 * One libcurl limitation remains (curl issues #4015, #8555): after the
 * message body, libcurl waits for the server's final reply (and for the
 * reply to QUIT when it closes a connection) in a blocking loop even under
 * the multi interface. A normal server answers within milliseconds; the
 * wait is capped at MAILER_REPLY_TIMEOUT seconds in mailer.c. */
#ifndef MF_MAILER_H
#define MF_MAILER_H

#include <stddef.h>
#include <stdint.h>

#define MAIL_DATE_BYTES		40

struct mail_addr {
	const char	*name;		/* display name, UTF-8; NULL or "": none */
	const char	*addr;		/* local@domain, ASCII */
};

struct mail {
	struct mail_addr	 from;
	struct mail_addr	 to;
	const char		*subject;	/* UTF-8, one line */
	const char		*text;		/* UTF-8, \n line ends */
	int64_t			 date;		/* UTC seconds */
	const char		*message_id;	/* "<...@...>" */
	const char		*kind;		/* X-MediFlow-Kind, or NULL */
	const char		*ics;		/* text/calendar attachment, or NULL */
	const char		*ics_name;	/* its file name */
	const char		*boundary;	/* NULL: a random one */
};

/*
 * Builds the message with CRLF line ends: headers encoded and folded (names
 * and subject as RFC 2047 encoded words when not plain ASCII; control
 * characters never reach a header), a quoted-printable UTF-8 text part and
 * the .ics as a base64 part. Returns it allocated, or NULL with a static
 * reason in *cause when an address is unusable.
 */
char	*mail_build(const struct mail *, const char **cause);

/* 1 if addr is a plain local@domain address safe for SMTP and headers. */
int	 mail_addr_valid(const char *addr);
/* The part after '@' (points into addr), or "localhost". */
const char *mail_addr_domain(const char *addr);
/* "Tue, 25 Nov 2025 14:00:00 +0000" (RFC 5322 date-time, UTC). */
void	 mail_format_date(int64_t, char out[MAIL_DATE_BYTES]);
/* "<hex.hex@domain>": a unique Message-ID; allocated. */
char	*mail_message_id(const char *domain, int64_t now);
/* A display name as a header phrase: a quoted string, or encoded words for
 * non-ASCII; control characters become spaces. Allocated. */
char	*mail_encode_phrase(const char *name);
/* A whole header "Name: value\r\n", value encoded and folded to 78 columns. */
char	*mail_header_unstructured(const char *name, const char *value);
/* Quoted-printable, CRLF lines at most 76 characters. Allocated. */
char	*mail_qp_encode(const char *text);
/* Base64 in CRLF lines of 76 characters. Allocated. */
char	*mail_base64_lines(const char *data, size_t len);

/* One appointment as an iCalendar (RFC 5545) VEVENT in a VCALENDAR. */
struct ics_event {
	const char	*uid;		/* stable across reschedules */
	int		 sequence;	/* bumped on each reschedule */
	int64_t		 stamp;		/* DTSTAMP */
	int64_t		 start, end;	/* UTC seconds */
	const char	*summary;
	const char	*description;	/* may hold newlines */
	const char	*location;	/* NULL or "": none */
	int		 cancelled;
};
/* CRLF lines folded at 75 octets, TEXT escaped. Allocated. */
char	*ics_build(const struct ics_event *);
/* RFC 5545 TEXT escaping (\\ \; \, \n); allocated. */
char	*ics_escape_text(const char *);

/* --- delivery --- */

struct mailer_config {
	const char	*url;		/* smtp://host:port or smtps://host:port */
	const char	*user;		/* NULL: no AUTH */
	const char	*password;
	int		 timeout;	/* seconds for the whole transfer */
};

/*
 * The outcome of one send: ok, or why not; permanent when retrying cannot
 * help (an SMTP 5xx). code is the last SMTP reply code (0: none).
 */
struct send_result {
	int		 ok;
	int		 permanent;
	long		 code;
	char		 error[256];
	char		 ref[128];	/* provider reference: Message-ID, SID */
};
typedef void (*send_done_fn)(const struct send_result *, void *arg);

/*
 * Sends message (CRLF text, copied) from from_addr to to_addr on the event
 * loop; done is called exactly once, later, from the loop (also when the
 * transfer cannot start). STARTTLS is required for smtp:// except on
 * loopback. Returns 0, or -1 when nothing was started (done not called).
 */
int	 mailer_send(const struct mailer_config *, const char *from_addr,
	     const char *to_addr, const char *message, const char *message_id,
	     send_done_fn done, void *arg);
/* 1 when host is 127.0.0.0/8, ::1 or localhost (the URL's host part). */
int	 url_host_is_loopback(const char *url);

#endif
