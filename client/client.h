/* client.h -- the mediflow binary's shared pieces. */
#ifndef MF_CLIENT_H
#define MF_CLIENT_H

#include "net.h"

#define CLIENT_TIMEOUT_MS	30000

/* Where the client keeps its files (~/.config/mediflow); allocated. */
char	*client_config_dir(void);
/* Server address: flag, then MEDIFLOW_SERVER, then client.conf, then default. */
char	*client_server_address(const char *flag);
/* Connects and says hello; 0 or -1 with a message printed. */
int	 client_open(struct mf_client *, const char *server);
/* Resumes the stored session for this server, if any; 1 resumed, 0 not. */
int	 client_resume(struct mf_client *, const char *server);
int	 client_save_token(const char *server, const char *token);
void	 client_forget_token(void);

int	 cmd_call(const char *server, int argc, char **argv);
int	 cmd_login(const char *server, int argc, char **argv);
int	 cmd_logout(const char *server);

#endif
