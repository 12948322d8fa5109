/* client.h -- the mediflow binary's shared pieces. */
#ifndef MF_CLIENT_H
#define MF_CLIENT_H

#include "net.h"

#define CLIENT_TIMEOUT_MS	30000

/* How to reach the server: main.c's flags. */
struct client_opts {
	int		 plain;		/* --plain: no encryption (loopback only) */
	int		 trust_new_key;	/* --trust-new-key: pin a first key unasked */
	const char	*fingerprint;	/* --fingerprint: the only key to accept */
};
extern struct client_opts client_opts;

/* Where the client keeps its files (~/.config/mediflow); allocated. */
char	*client_config_dir(void);
/*
 * The value of "key = value" in file (client.conf, session) of the config
 * directory, blanks around it trimmed; allocated, or NULL when the file or
 * the key is missing.
 */
char	*client_conf_value(const char *file, const char *key);
/* Server address: flag, then MEDIFLOW_SERVER, then client.conf, then default. */
char	*client_server_address(const char *flag);
/*
 * The secure channel's trust settings for server: a pinned fingerprint
 * (--fingerprint, MEDIFLOW_FINGERPRINT, or client.conf's fingerprint when
 * its server is this one), else ~/.config/mediflow/known_servers with trust
 * on first use, asked on a terminal. client_trust_free frees what it set.
 */
void	 client_trust_init(struct mfc_trust *, const char *server);
void	 client_trust_free(struct mfc_trust *);
/* Connects (encrypted unless --plain) and says hello; 0 or -1 with a
 * message printed (for a changed server key, the loud warning). */
int	 client_open(struct mf_client *, const char *server);
/* Resumes the stored session for this server, if any; 1 resumed, 0 not. */
int	 client_resume(struct mf_client *, const char *server);
int	 client_save_token(const char *server, const char *token);
void	 client_forget_token(void);

int	 cmd_call(const char *server, int argc, char **argv);
int	 cmd_login(const char *server, int argc, char **argv);
int	 cmd_logout(const char *server);

#endif
