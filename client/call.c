/* call.c -- one-shot requests, login and logout, and the stored session. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

struct client_opts	client_opts;

static char	*prompt_line(const char *, int);

char *
client_config_dir(void)
{
	const char	*xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg != NULL && *xdg != '\0')
		return xasprintf("%s/mediflow", xdg);
	return xasprintf("%s/.config/mediflow", home != NULL ? home : ".");
}

char *
client_conf_value(const char *file, const char *key)
{
	char	*dir = client_config_dir(), *path, line[1024], *s, *eq, *v = NULL;
	FILE	*f;
	size_t	 n;

	path = xasprintf("%s/%s", dir, file);
	free(dir);
	f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return NULL;
	while (v == NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		if ((eq = strchr(s, '=')) == NULL)
			continue;
		n = (size_t)(eq - s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n != strlen(key) || strncmp(s, key, n) != 0)
			continue;
		for (eq++; *eq == ' ' || *eq == '\t'; eq++)
			;
		v = xstrdup(eq);
	}
	/* The session file holds a token. */
	sodium_memzero(line, sizeof line);
	fclose(f);
	return v;
}

char *
client_server_address(const char *flag)
{
	const char	*env = getenv("MEDIFLOW_SERVER");
	char		*v;

	if (flag != NULL)
		return xstrdup(flag);
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	v = client_conf_value("client.conf", "server");
	return v != NULL ? v : xstrdup("127.0.0.1:7400");
}

static void
print_error(json_t *reply)
{
	json_t	*err = json_object_get(reply, "error");

	fprintf(stderr, "mediflow: %s: %s\n",
	    json_string_value(json_object_get(err, "code")),
	    json_string_value(json_object_get(err, "message")));
}

/* Trust on first use, on a terminal only: scripts get a clear refusal. */
static int
ask_trust(const char *server, const char *fingerprint, void *arg)
{
	char	*answer, prompt[512];
	int	 yes;

	(void)arg;
	if (!isatty(STDIN_FILENO))
		return 0;
	snprintf(prompt, sizeof prompt,
	    "This client has not connected to %s before.\n"
	    "The server's key fingerprint is %s.\n"
	    "Compare it with what the clinic's administrator gives you\n"
	    "(mediflowd --fingerprint). Trust it? [y/N] ", server, fingerprint);
	answer = prompt_line(prompt, 0);
	yes = strcmp(answer, "y") == 0 || strcmp(answer, "Y") == 0 ||
	    strcmp(answer, "yes") == 0;
	free(answer);
	return yes;
}

void
client_trust_init(struct mfc_trust *t, const char *server)
{
	const char	*env = getenv("MEDIFLOW_FINGERPRINT");
	char		*dir, *conf_server;

	memset(t, 0, sizeof *t);
	dir = client_config_dir();
	t->known_servers = xasprintf("%s/known_servers", dir);
	free(dir);
	if (client_opts.fingerprint != NULL)
		t->fingerprint = xstrdup(client_opts.fingerprint);
	else if (env != NULL && *env != '\0')
		t->fingerprint = xstrdup(env);
	else {
		/* client.conf's key belongs to client.conf's server. */
		conf_server = client_conf_value("client.conf", "server");
		if (conf_server == NULL || strcmp(conf_server, server) == 0)
			t->fingerprint = client_conf_value("client.conf",
			    "fingerprint");
		free(conf_server);
	}
	t->trust_new = client_opts.trust_new_key;
	t->ask = ask_trust;
	t->timeout_ms = CLIENT_TIMEOUT_MS;
}

void
client_trust_free(struct mfc_trust *t)
{
	free((char *)t->fingerprint);
	free((char *)t->known_servers);
	memset(t, 0, sizeof *t);
}

int
client_open(struct mf_client *c, const char *server)
{
	struct mfc_trust	 trust;
	json_t			*args, *reply;
	char			*cause;
	int			 ok;

	if (client_opts.plain) {
		if (mfc_connect(c, server, &cause) != 0) {
			fprintf(stderr, "mediflow: %s\n", cause);
			free(cause);
			return -1;
		}
	} else {
		client_trust_init(&trust, server);
		ok = mfc_connect_secure(c, server, &trust, &cause);
		if (ok == MFC_KEY_CHANGED)
			fprintf(stderr, "%s\n", cause);
		else if (ok != MFC_OK)
			fprintf(stderr, "mediflow: %s\n", cause);
		else if (c->key_new && trust.known_servers != NULL)
			fprintf(stderr, "mediflow: trusting %s's key %s from now on "
			    "(pinned in %s)\n", server, c->fingerprint,
			    trust.known_servers);
		client_trust_free(&trust);
		if (ok != MFC_OK) {
			free(cause);
			return -1;
		}
	}
	args = json_pack("{s:i}", "version", PROTO_VERSION);
	reply = mfc_call_json(c, "hello", args, CLIENT_TIMEOUT_MS);
	json_decref(args);
	if (reply == NULL) {
		fprintf(stderr, "mediflow: %s closed the connection\n", server);
		mfc_close(c);
		return -1;
	}
	ok = json_is_true(json_object_get(reply, "ok"));
	if (!ok)
		print_error(reply);
	json_decref(reply);
	if (!ok) {
		mfc_close(c);
		return -1;
	}
	return 0;
}

static char *
session_path(void)
{
	char	*dir = client_config_dir(), *path;

	path = xasprintf("%s/session", dir);
	free(dir);
	return path;
}

int
client_save_token(const char *server, const char *token)
{
	char	*dir = client_config_dir(), *path, *tmp;
	FILE	*f;
	int	 fd;

	if (mkdir_p(dir, 0700) != 0) {
		fprintf(stderr, "mediflow: %s: %s\n", dir, strerror(errno));
		free(dir);
		return -1;
	}
	path = session_path();
	tmp = xasprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "mediflow: %s: %s\n", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(dir);
		free(path);
		free(tmp);
		return -1;
	}
	fchmod(fd, 0600);
	fprintf(f, "server = %s\ntoken = %s\n", server, token);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "mediflow: cannot save the session: %s\n", strerror(errno));
		unlink(tmp);
		free(dir);
		free(path);
		free(tmp);
		return -1;
	}
	free(dir);
	free(path);
	free(tmp);
	return 0;
}

void
client_forget_token(void)
{
	char	*path = session_path();

	unlink(path);
	free(path);
}

int
client_resume(struct mf_client *c, const char *server)
{
	char	*saved_server, *token;
	json_t	*args, *reply;
	int	 ok = 0;

	saved_server = client_conf_value("session", "server");
	token = client_conf_value("session", "token");
	if (saved_server != NULL && token != NULL &&
	    strcmp(saved_server, server) == 0) {
		args = json_pack("{s:s}", "token", token);
		reply = mfc_call_json(c, "auth.resume", args, CLIENT_TIMEOUT_MS);
		json_decref(args);
		ok = reply != NULL && json_is_true(json_object_get(reply, "ok"));
		json_decref(reply);
	}
	if (token != NULL) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	free(saved_server);
	return ok;
}

int
cmd_call(const char *server, int argc, char **argv)
{
	struct mf_client	 c;
	json_t			*args = NULL, *reply;
	json_error_t		 jerr;
	char			*out;
	int			 ok;

	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: mediflow call OP ['JSON args']\n");
		return 2;
	}
	if (argc == 2) {
		args = json_loads(argv[1], JSON_REJECT_DUPLICATES, &jerr);
		if (args == NULL || !json_is_object(args)) {
			fprintf(stderr, "mediflow: args must be a JSON object%s%s\n",
			    args == NULL ? ": " : "", args == NULL ? jerr.text : "");
			json_decref(args);
			return 2;
		}
	}
	if (client_open(&c, server) != 0) {
		json_decref(args);
		return 2;
	}
	client_resume(&c, server);
	reply = mfc_call_json(&c, argv[0], args, CLIENT_TIMEOUT_MS);
	json_decref(args);
	mfc_close(&c);
	if (reply == NULL) {
		fprintf(stderr, "mediflow: connection lost\n");
		return 2;
	}
	json_object_del(reply, "id");
	ok = json_is_true(json_object_get(reply, "ok"));
	out = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", out);
	free(out);
	json_decref(reply);
	return ok ? 0 : 1;
}

static char *
prompt_line(const char *prompt, int secret)
{
	struct termios	 old, quiet;
	char		 buf[1100];
	int		 tty = isatty(STDIN_FILENO);

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
	}
	if (tty && secret && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else
		secret = 0;
	if (fgets(buf, sizeof buf, stdin) == NULL)
		buf[0] = '\0';
	if (secret) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return xstrdup(buf);
}

int
cmd_login(const char *server, int argc, char **argv)
{
	struct mf_client	 c;
	json_t			*args, *reply, *result;
	char			*email, *password;
	int			 rc = 1;

	if (argc > 1) {
		fprintf(stderr, "usage: mediflow login [EMAIL]\n");
		return 2;
	}
	email = argc == 1 ? xstrdup(argv[0]) : prompt_line("E-mail: ", 0);
	password = prompt_line("Password: ", 1);
	if (client_open(&c, server) != 0) {
		free(email);
		free(password);
		return 2;
	}
	args = json_pack("{s:s, s:s}", "email", email, "password", password);
	sodium_memzero(password, strlen(password));
	free(password);
	reply = mfc_call_json(&c, "auth.login", args, CLIENT_TIMEOUT_MS);
	json_decref(args);
	mfc_close(&c);
	if (reply == NULL) {
		fprintf(stderr, "mediflow: connection lost\n");
		free(email);
		return 2;
	}
	if (!json_is_true(json_object_get(reply, "ok")))
		print_error(reply);
	else {
		result = json_object_get(reply, "result");
		if (client_save_token(server,
		    json_string_value(json_object_get(result, "token"))) == 0) {
			printf("Logged in as %s (%s).\n",
			    json_string_value(json_object_get(
			    json_object_get(result, "user"), "full_name")),
			    json_string_value(json_object_get(
			    json_object_get(result, "user"), "role")));
			rc = 0;
		}
	}
	json_decref(reply);
	free(email);
	return rc;
}

int
cmd_logout(const char *server)
{
	struct mf_client	 c;
	json_t			*reply;

	if (client_open(&c, server) != 0)
		return 2;
	if (client_resume(&c, server)) {
		reply = mfc_call_json(&c, "auth.logout", NULL, CLIENT_TIMEOUT_MS);
		json_decref(reply);
	}
	mfc_close(&c);
	client_forget_token();
	printf("Logged out.\n");
	return 0;
}
