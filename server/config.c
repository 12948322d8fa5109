/* config.c -- settings: defaults < config file < MEDIFLOW_* environment < flags. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"
#include "util.h"

enum key_type { K_STR, K_INT, K_SIZE, K_DURATION, K_RATE, K_BOOL };

static const struct config_key {
	const char	*name;
	enum key_type	 type;
	size_t		 offset;
} config_keys[] = {
	{ "listen", K_STR, offsetof(struct config, listen) },
	{ "http", K_STR, offsetof(struct config, http) },
	{ "data_dir", K_STR, offsetof(struct config, data_dir) },
	{ "tz", K_STR, offsetof(struct config, tz) },
	{ "max_frame", K_SIZE, offsetof(struct config, max_frame) },
	{ "max_conns", K_INT, offsetof(struct config, max_conns) },
	{ "login_timeout", K_DURATION, offsetof(struct config, login_timeout) },
	{ "frame_timeout", K_DURATION, offsetof(struct config, frame_timeout) },
	{ "out_high_water", K_SIZE, offsetof(struct config, out_high_water) },
	{ "plain_loopback", K_BOOL, offsetof(struct config, plain_loopback) },
	{ "session_idle", K_DURATION, offsetof(struct config, session_idle) },
	{ "session_lifetime", K_DURATION, offsetof(struct config, session_lifetime) },
	{ "lockout_failures", K_INT, offsetof(struct config, lockout_failures) },
	{ "lockout_window", K_DURATION, offsetof(struct config, lockout_window) },
	{ "lockout_duration", K_DURATION, offsetof(struct config, lockout_duration) },
	{ "rl_auth", K_RATE, offsetof(struct config, rl_auth) },
	{ "rl_api", K_RATE, offsetof(struct config, rl_api) },
	{ "rl_api_staff", K_RATE, offsetof(struct config, rl_api_staff) },
	{ "rl_upload", K_RATE, offsetof(struct config, rl_upload) },
	{ "max_file_bytes", K_SIZE, offsetof(struct config, max_file_bytes) },
	{ "rl_msg", K_RATE, offsetof(struct config, rl_msg) },
	{ "workers", K_INT, offsetof(struct config, workers) },
	{ "hash_queue_max", K_INT, offsetof(struct config, hash_queue_max) },
	{ "db_synchronous_full", K_BOOL, offsetof(struct config, db_synchronous_full) },
	{ "cancel_cutoff", K_DURATION, offsetof(struct config, cancel_cutoff) },
	{ "break_glass_minutes", K_INT, offsetof(struct config, break_glass_minutes) },
	{ "no_show_flag_threshold", K_INT, offsetof(struct config, no_show_flag_threshold) },
	{ "smtp_url", K_STR, offsetof(struct config, smtp_url) },
	{ "smtp_user", K_STR, offsetof(struct config, smtp_user) },
	{ "smtp_password", K_STR, offsetof(struct config, smtp_password) },
	{ "mail_from", K_STR, offsetof(struct config, mail_from) },
	{ "twilio_account_sid", K_STR, offsetof(struct config, twilio_account_sid) },
	{ "twilio_auth_token", K_STR, offsetof(struct config, twilio_auth_token) },
	{ "twilio_from", K_STR, offsetof(struct config, twilio_from) },
	{ "twilio_base_url", K_STR, offsetof(struct config, twilio_base_url) },
	{ "reminder_offsets", K_STR, offsetof(struct config, reminder_offsets) },
	{ "http_max_body", K_SIZE, offsetof(struct config, http_max_body) },
	{ "http_max_header", K_SIZE, offsetof(struct config, http_max_header) },
	{ "http_max_conns", K_INT, offsetof(struct config, http_max_conns) },
	{ "http_request_deadline", K_DURATION, offsetof(struct config, http_request_deadline) },
	{ "http_trusted_proxy", K_STR, offsetof(struct config, http_trusted_proxy) },
	{ "http_cors_origins", K_STR, offsetof(struct config, http_cors_origins) },
	{ "http_tls", K_BOOL, offsetof(struct config, http_tls) },
};

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->listen = xstrdup("127.0.0.1:7400");
	c->data_dir = xstrdup("data");
	c->tz = xstrdup("UTC");
	c->max_frame = FRAME_MAX_DEFAULT;
	c->max_conns = 1024;
	c->login_timeout = 60;
	c->frame_timeout = 30;
	c->out_high_water = 8 * 1024 * 1024;
	c->plain_loopback = 1;
	c->session_idle = 15 * 60;
	c->session_lifetime = 12 * 3600;
	c->lockout_failures = 5;
	c->lockout_window = 15 * 60;
	c->lockout_duration = 15 * 60;
	c->rl_auth = (struct rate_spec){ 50, 15 * 60 };
	c->rl_api = (struct rate_spec){ 100, 15 * 60 };
	c->rl_api_staff = (struct rate_spec){ 20000, 15 * 60 };
	c->rl_upload = (struct rate_spec){ 20, 3600 };
	c->max_file_bytes = 10 * 1024 * 1024;
	c->rl_msg = (struct rate_spec){ 30, 60 };
	c->workers = 1;
	c->hash_queue_max = 256;
	c->db_synchronous_full = 1;
	c->cancel_cutoff = 2 * 3600;
	c->break_glass_minutes = 60;
	c->no_show_flag_threshold = 3;
	c->twilio_base_url = xstrdup("https://api.twilio.com");
	c->reminder_offsets = xstrdup("24h,1h");
	c->http_max_body = 64 * 1024;
	c->http_max_header = 16 * 1024;
	c->http_max_conns = 512;
	c->http_request_deadline = 30;
}

void
config_free(struct config *c)
{
	free(c->listen);
	free(c->http);
	free(c->data_dir);
	free(c->tz);
	free(c->smtp_url);
	free(c->smtp_user);
	free(c->smtp_password);
	free(c->mail_from);
	free(c->twilio_account_sid);
	free(c->twilio_auth_token);
	free(c->twilio_from);
	free(c->twilio_base_url);
	free(c->reminder_offsets);
	free(c->http_trusted_proxy);
	free(c->http_cors_origins);
	memset(c, 0, sizeof *c);
}

int64_t
duration_parse(const char *s)
{
	char		*end;
	long long	 v, unit;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	/* Checked before multiplying: "9223372036854775807d" must not overflow. */
	if (v > INT32_MAX / unit)
		return -1;
	return v * unit;
}

int
rate_spec_parse(const char *s, struct rate_spec *rs)
{
	char		*end;
	long		 limit;
	int64_t		 window;

	errno = 0;
	limit = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '/' || limit <= 0 ||
	    limit > 100000000)
		return -1;
	window = duration_parse(end + 1);
	if (window <= 0)
		return -1;
	rs->limit = (int)limit;
	rs->window = (int)window;
	return 0;
}

int
config_set(struct config *c, const char *key, const char *value, char **cause)
{
	const struct config_key	*k = NULL;
	char			*end, *p;
	long long		 v;
	int64_t			 d;
	size_t			 i;

	for (i = 0; i < nitems(config_keys); i++) {
		if (strcmp(config_keys[i].name, key) == 0) {
			k = &config_keys[i];
			break;
		}
	}
	if (k == NULL) {
		*cause = xasprintf("unknown setting: %s", key);
		return -1;
	}
	p = (char *)c + k->offset;
	switch (k->type) {
	case K_STR:
		free(*(char **)p);
		*(char **)p = *value == '\0' ? NULL : xstrdup(value);
		return 0;
	case K_INT:
	case K_SIZE:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || v < 0 || v > INT32_MAX)
			goto bad;
		if (*end == 'k' || *end == 'K')
			v *= 1024, end++;
		else if (*end == 'm' || *end == 'M')
			v *= 1024 * 1024, end++;
		if (*end != '\0')
			goto bad;
		/* "3000m" passed the check above but does not fit an int. */
		if (k->type == K_INT && v > INT32_MAX)
			goto bad;
		if (k->type == K_INT)
			*(int *)p = (int)v;
		else
			*(size_t *)p = (size_t)v;
		return 0;
	case K_DURATION:
		if ((d = duration_parse(value)) < 0)
			goto bad;
		*(int *)p = (int)d;
		return 0;
	case K_RATE:
		if (rate_spec_parse(value, (struct rate_spec *)p) != 0)
			goto bad;
		return 0;
	case K_BOOL:
		if (strcmp(value, "1") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "true") == 0 || strcmp(value, "on") == 0)
			*(int *)p = 1;
		else if (strcmp(value, "0") == 0 || strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0 || strcmp(value, "off") == 0)
			*(int *)p = 0;
		else
			goto bad;
		return 0;
	}
bad:
	*cause = xasprintf("bad value for %s: %s", key, value);
	return -1;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load_file(struct config *c, const char *path, char **cause)
{
	FILE	*f;
	char	 line[1024], *s, *eq, *msg;
	int	 lineno = 0;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';' || *s == '[')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			*cause = xasprintf("%s:%d: expected key = value", path, lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		if (config_set(c, trim(s), trim(eq + 1), &msg) != 0) {
			*cause = xasprintf("%s:%d: %s", path, lineno, msg);
			free(msg);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int
config_load_env(struct config *c, char **cause)
{
	char		 name[64];
	const char	*v;
	size_t		 i, j;

	for (i = 0; i < nitems(config_keys); i++) {
		snprintf(name, sizeof name, "MEDIFLOW_%s", config_keys[i].name);
		for (j = 9; name[j] != '\0'; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		if ((v = getenv(name)) != NULL &&
		    config_set(c, config_keys[i].name, v, cause) != 0)
			return -1;
	}
	return 0;
}
