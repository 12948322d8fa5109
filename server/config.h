/* config.h -- settings: defaults < config file < MEDIFLOW_* environment < flags. */
#ifndef MF_CONFIG_H
#define MF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct rate_spec {
	int	limit;		/* requests */
	int	window;		/* seconds */
};

struct config {
	char		*listen;		/* HOST:PORT */
	char		*http;			/* HOST:PORT or NULL */
	char		*data_dir;
	char		*tz;
	int		 demo;
	int		 test_clock;

	size_t		 max_frame;
	int		 max_conns;
	int		 login_timeout;		/* seconds a connection may stay unauthenticated */
	int		 frame_timeout;		/* seconds one frame may take to arrive whole */
	size_t		 out_high_water;	/* bytes queued before a slow reader is cut off */
	int		 plain_loopback;	/* unencrypted connections from loopback and unix sockets */

	int		 session_idle;		/* seconds */
	int		 session_lifetime;	/* seconds */
	int		 lockout_failures;
	int		 lockout_window;	/* seconds */
	int		 lockout_duration;	/* seconds */

	struct rate_spec rl_auth;		/* failed logins / registrations per remote address */
	struct rate_spec rl_api;		/* patients */
	struct rate_spec rl_api_staff;
	struct rate_spec rl_upload;		/* files.begin per user */
	size_t		 max_file_bytes;	/* the largest attachment */
	struct rate_spec rl_msg;

	int		 workers;		/* password hashing threads */
	int		 hash_queue_max;
	int		 db_synchronous_full;
	int		 cancel_cutoff;		/* seconds before start a patient may still cancel */
	int		 break_glass_minutes;	/* how long a break-the-glass opens a chart */
	int		 no_show_flag_threshold;	/* no-shows that flag a patient; 0: never */

	/* Reminders (server/reminders.c): e-mail is off without smtp_url and
	 * mail_from, SMS without the three twilio_* credentials. */
	char		*smtp_url;		/* smtp://host:port (STARTTLS) or smtps:// */
	char		*smtp_user;
	char		*smtp_password;
	char		*mail_from;
	char		*twilio_account_sid;
	char		*twilio_auth_token;
	char		*twilio_from;		/* E.164 */
	char		*twilio_base_url;	/* default https://api.twilio.com */
	char		*reminder_offsets;	/* "24h,1h" */

	/* The HTTP adapter (server/http.c). */
	size_t		 http_max_body;		/* bytes of a request body */
	size_t		 http_max_header;	/* bytes of a request's headers */
	int		 http_max_conns;
	int		 http_request_deadline;	/* seconds to receive a whole request */
	char		*http_trusted_proxy;	/* the one address whose X-Forwarded-For counts */
	char		*http_cors_origins;	/* comma-separated origins, or NULL */
	int		 http_tls;		/* served behind a TLS proxy */
};

void	config_defaults(struct config *);
/* Sets one key; returns 0, or -1 with an allocated message in *cause. */
int	config_set(struct config *, const char *key, const char *value, char **cause);
/* Reads an INI-style file (key = value; [sections] and # comments ignored). */
int	config_load_file(struct config *, const char *path, char **cause);
/* Applies MEDIFLOW_<KEY> variables for every known key. */
int	config_load_env(struct config *, char **cause);
void	config_free(struct config *);

/* "5/15m" -> {5, 900}; returns -1 on a malformed spec. */
int	rate_spec_parse(const char *, struct rate_spec *);
/* "15m" "12h" "30s" "90" -> seconds; -1 on error. */
int64_t	duration_parse(const char *);

#endif
