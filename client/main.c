/* main.c -- mediflow: the terminal screens, the one-shot call mode, login
 * and logout. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "proto.h"
#include "tui.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mediflow [--server HOST:PORT] [--plain | --trust-new-key |\n"
	    "                --fingerprint SHA256:...] [COMMAND]\n"
	    "  call OP ['JSON']   send one request and print the reply as JSON\n"
	    "  login [EMAIL]      log in and keep the session in ~/.config/mediflow\n"
	    "  logout             end the stored session\n"
	    "The server address comes from --server, MEDIFLOW_SERVER,\n"
	    "~/.config/mediflow/client.conf (server = HOST:PORT) or 127.0.0.1:7400.\n"
	    "The connection is encrypted and the server's key pinned: the first\n"
	    "time, you are asked to trust its fingerprint (ask the administrator:\n"
	    "mediflowd --fingerprint); it is kept in ~/.config/mediflow/known_servers.\n"
	    "  --fingerprint FP   accept only this key (also MEDIFLOW_FINGERPRINT,\n"
	    "                     or fingerprint = FP in client.conf)\n"
	    "  --trust-new-key    pin a first key without asking (scripts)\n"
	    "  --plain            no encryption (the server allows it on loopback only)\n"
	    "Without a COMMAND, the terminal screens open (desk, consulting room,\n"
	    "admin, patients). They lock after 10 minutes without a key:\n"
	    "  --lock-after SECONDS  (also MEDIFLOW_LOCK_AFTER, or lock_after in\n"
	    "                     client.conf; 0: never)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "lock-after", required_argument, NULL, 'L' },
		{ "plain", no_argument, NULL, 'P' },
		{ "trust-new-key", no_argument, NULL, 'N' },
		{ "fingerprint", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*server_flag = NULL;
	char		*server;
	int		 ch, rc, lock_after = -1;

	while ((ch = getopt_long(argc, argv, "+s:L:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			server_flag = optarg;
			break;
		case 'L':
			lock_after = atoi(optarg);
			if (lock_after < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'P':
			client_opts.plain = 1;
			break;
		case 'N':
			client_opts.trust_new_key = 1;
			break;
		case 'F':
			client_opts.fingerprint = optarg;
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
	if (sodium_init() < 0) {
		fprintf(stderr, "mediflow: libsodium failed to initialise\n");
		return 2;
	}
	server = client_server_address(server_flag);
	if (argc < 1) {
		setlocale(LC_ALL, "");
		rc = tui_main(server, lock_after);
	} else if (strcmp(argv[0], "call") == 0)
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
