/* sms.h -- text messages through Twilio's REST API (libcurl multi on the
 * event loop), and the pure helpers: E.164 numbers, GSM-7 / UCS-2 segment
 * counting, form encoding. */
#ifndef MF_SMS_H
#define MF_SMS_H

#include <stddef.h>

#include "mailer.h"	/* struct send_result, send_done_fn */

#define SMS_SEGMENTS_MAX	2

struct sms_config {
	const char	*base_url;	/* "https://api.twilio.com" */
	const char	*account_sid;
	const char	*auth_token;
	const char	*from;		/* E.164 */
	int		 timeout;	/* seconds */
};

/* 1 if s is "+" and 8 to 15 digits, the first not 0 (E.164). */
int	 sms_e164_valid(const char *);
/*
 * How many SMS segments the UTF-8 text takes: GSM-7 (160 septets, or 153 per
 * part; the extension table counts two) when every character is in the GSM
 * alphabet, else UCS-2 (70, or 67 per part). *ucs2 says which, if not NULL.
 */
int	 sms_segments(const char *, int *ucs2);
/* Cuts the text (at a character boundary) until it fits in max segments. */
void	 sms_fit(char *, int max_segments);
/* Appends "key=value" form-encoded (with '&' when buf is not empty):
 * returns the new allocated string and frees buf. */
char	*sms_form_add(char *buf, const char *key, const char *value);

/*
 * POSTs To, From, Body to {base}/2010-04-01/Accounts/{sid}/Messages.json
 * with basic auth. done is called exactly once from the loop; ref is the
 * message SID. Returns 0, or -1 when nothing was started.
 */
int	 sms_send(const struct sms_config *, const char *to, const char *body,
	     send_done_fn done, void *arg);

#endif
