/* main.c -- mediflow: the one-shot call mode, login and logout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "proto.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mediflow [--server HOST:PORT] COMMAND\n"
	    "  call OP ['JSON']   send one request and print the reply as JSON\n"
	    "  login [EMAIL]      log in and keep the session in ~/.config/mediflow\n"
	    "  logout             end the stored session\n"
	    "The server address comes from --server, MEDIFLOW_SERVER,\n"
	    "~/.config/mediflow/client.conf (server = HOST:PORT) or 127.0.0.1:7400.\n"
	    "The terminal screens are not part of this build yet.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*server_flag = NULL;
	char		*server;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			server_flag = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mediflow (protocol %d)\n", PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "mediflow: libsodium failed to initialise\n");
		return 2;
	}
	server = client_server_address(server_flag);
	if (strcmp(argv[0], "call") == 0)
		rc = cmd_call(server, argc - 1, argv + 1);
	else if (strcmp(argv[0], "login") == 0)
		rc = cmd_login(server, argc - 1, argv + 1);
	else if (strcmp(argv[0], "logout") == 0)
		rc = cmd_logout(server);
	else {
		usage(stderr);
		rc = 2;
	}
	free(server);
	return rc;
}
