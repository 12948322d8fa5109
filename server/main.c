/* main.c -- mediflowd: flags, config, start-up and clean shutdown. */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sodium.h>

#include "backup.h"
#include "channel.h"
#include "clinic-time.h"
#include "clock.h"
#include "conn.h"
#include "db.h"
#include "demo.h"
#include "files.h"
#include "holds.h"
#include "http.h"
#include "log.h"
#include "ops.h"
#include "password.h"
#include "ratelimit.h"
#include "reminders.h"
#include "server.h"
#include "util.h"
#include "worker.h"


extern struct ratelimit	*api_limits;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mediflowd [options]\n"
	    "  -l, --listen HOST:PORT   protocol address (default 127.0.0.1:7400; port 0 picks one)\n"
	    "      --http HOST:PORT     also serve the patient web page and its API\n"
	    "  -d, --data-dir DIR       database and attachments (default ./data)\n"
	    "  -c, --config FILE        INI-style settings (key = value)\n"
	    "      --tz ZONE            the clinic's time zone (default UTC)\n"
	    "      --demo               seed demo data into a new, empty database\n"
	    "      --test-clock         enable the test.clock op (tests only)\n"
	    "      --test-weak-hashes   TESTS ONLY, never in production: hash passwords\n"
	    "                           at libsodium's minimum argon2id cost (for runs\n"
	    "                           under valgrind); refused without --test-clock\n"
	    "      --require-encryption refuse unencrypted clients, even on loopback\n"
	    "                           (sets plain_loopback = off)\n"
	    "      --fingerprint        print the server key's fingerprint and exit\n"
	    "      --backup FILE        copy DATA_DIR's database to FILE, and the\n"
	    "                           attachments it names to FILE's .files dir, and\n"
	    "                           exit (safe while a server runs on DATA_DIR)\n"
	    "      --restore FILE       replace DATA_DIR's database and attachments with\n"
	    "                           the backup FILE and its .files dir, and exit\n"
	    "                           (refused while a server runs on DATA_DIR)\n"
	    "  -v, --verbose            log debug lines\n"
	    "  -h, --help               this text\n"
	    "  -V, --version            print the version\n"
	    "Every setting can also come from MEDIFLOW_<KEY> in the environment.\n");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: draining", (int)sig);
	server.draining = 1;
	http_shutdown();
	conn_shutdown();
	event_base_loopexit(server.base, NULL);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ratelimit_sweep(api_limits, clock_now_precise());
	files_expire(clock_now());
}

/* DATA_DIR/server.key, the secure channel's long-term key; allocated. */
static char *
server_key_path(void)
{
	return xasprintf("%s/server.key", server.cfg.data_dir);
}

/* --fingerprint: what clients pin, for the admin to hand out. */
static int
print_fingerprint(void)
{
	struct channel_keypair	 kp;
	char			 fp[CHANNEL_FINGERPRINT_SIZE], *path, *cause = NULL;
	int			 created;

	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return 1;
	}
	path = server_key_path();
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		log_err("%s: no server key yet; mediflowd makes it on its first start",
		    path);
		free(path);
		return 1;
	}
	if (channel_keypair_load(path, 0, &kp, &created, &cause) != 0) {
		log_err("%s", cause);
		free(cause);
		free(path);
		return 1;
	}
	channel_fingerprint(kp.pk, fp);
	sodium_memzero(&kp, sizeof kp);
	printf("%s\n", fp);
	free(path);
	return 0;
}

/* Loads the server key, making it on the first start. */
static int
server_key_init(char **cause)
{
	struct channel_keypair	 kp;
	char			 fp[CHANNEL_FINGERPRINT_SIZE], *path;
	int			 created;

	path = server_key_path();
	if (channel_keypair_load(path, 1, &kp, &created, cause) != 0) {
		free(path);
		return -1;
	}
	channel_fingerprint(kp.pk, fp);
	conn_set_key(&kp);
	sodium_memzero(&kp, sizeof kp);
	if (created)
		log_info("made a new server key %s, fingerprint %s", path, fp);
	else
		log_info("server key fingerprint %s", fp);
	free(path);
	return 0;
}

/* --backup FILE: an online copy of DATA_DIR's database and of the
 * attachments it names; prints its facts. Exit 1 also when attachments
 * were missing: the backup is written, but --restore would refuse it. */
static int
backup_cli(const char *file)
{
	struct backup_info	 info;
	char			*db_path, *fdir, *cause = NULL;
	int			 rc;

	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return 1;
	}
	db_path = xasprintf("%s/mediflow.db", server.cfg.data_dir);
	if (access(db_path, F_OK) != 0) {
		log_err("%s: %s", db_path, strerror(errno));
		free(db_path);
		return 1;
	}
	free(db_path);
	rc = backup_take(server.cfg.data_dir, file, &info, &cause);
	if (rc != 0) {
		log_err("backup failed: %s", cause);
		free(cause);
		return 1;
	}
	fdir = backup_files_dir(file);
	printf("backup %s bytes %lld pages %lld sha256 %s files_dir %s files %lld "
	    "file_bytes %lld files_missing %lld\n", file, (long long)info.bytes,
	    (long long)info.pages, info.sha256, fdir, (long long)info.files,
	    (long long)info.file_bytes, (long long)info.files_missing);
	free(fdir);
	if (info.files_missing > 0) {
		log_err("backup %s lacks %lld attachment%s its database names (see "
		    "above): it cannot be restored as it is", file,
		    (long long)info.files_missing, info.files_missing == 1 ? "" : "s");
		return 1;
	}
	return 0;
}

/* --restore FILE: DATA_DIR's database and attachments become the backup's. */
static int
restore_cli(const char *file)
{
	char	*cause = NULL;
	int64_t	 files, file_bytes;

	if (backup_restore(file, server.cfg.data_dir, &files, &file_bytes,
	    &cause) != 0) {
		log_err("restore refused: %s", cause);
		free(cause);
		return 1;
	}
	log_info("restored %s into %s/mediflow.db, with %lld attachment%s "
	    "(%lld bytes)", file, server.cfg.data_dir, (long long)files,
	    files == 1 ? "" : "s", (long long)file_bytes);
	return 0;
}

static int
tz_valid(const char *tz)
{
	char	path[512];

	if (strcmp(tz, "UTC") == 0)
		return 1;
	if (strstr(tz, "..") != NULL || tz[0] == '/')
		return 0;
	snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
	return access(path, R_OK) == 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "http", required_argument, NULL, 'H' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "tz", required_argument, NULL, 'z' },
		{ "demo", no_argument, NULL, 'D' },
		{ "test-clock", no_argument, NULL, 'T' },
		{ "test-weak-hashes", no_argument, NULL, 'W' },
		{ "require-encryption", no_argument, NULL, 'E' },
		{ "fingerprint", no_argument, NULL, 'F' },
		{ "backup", required_argument, NULL, 'B' },
		{ "restore", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct event	*sigint_ev, *sigterm_ev, *sweep_ev;
	struct event_config *evcfg;
	struct timeval	 sweep_tv = { 60, 0 };
	const char	*config_path = getenv("MEDIFLOW_CONFIG");
	char		*cause = NULL, *db_path;
	const char	*backup_to = NULL, *restore_from = NULL;
	int		 ch, i, fingerprint = 0, lock_fd, weak_hashes = 0;

	log_set_name("mediflowd");
	config_defaults(&server.cfg);

	/* The config file comes first, so flags override it. */
	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0)
			config_path = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config_path = argv[i] + 9;
	}
	if (config_path != NULL &&
	    config_load_file(&server.cfg, config_path, &cause) != 0)
		goto fatal;
	if (config_load_env(&server.cfg, &cause) != 0)
		goto fatal;

	while ((ch = getopt_long(argc, argv, "l:d:c:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (config_set(&server.cfg, "listen", optarg, &cause) != 0)
				goto fatal;
			break;
		case 'H':
			if (config_set(&server.cfg, "http", optarg, &cause) != 0)
				goto fatal;
			break;
		case 'd':
			if (config_set(&server.cfg, "data_dir", optarg, &cause) != 0)
				goto fatal;
			break;
		case 'c':
			break;
		case 'z':
			if (config_set(&server.cfg, "tz", optarg, &cause) != 0)
				goto fatal;
			break;
		case 'D':
			server.cfg.demo = 1;
			break;
		case 'T':
			server.cfg.test_clock = 1;
			break;
		case 'W':
			weak_hashes = 1;
			break;
		case 'E':
			server.cfg.plain_loopback = 0;
			break;
		case 'F':
			fingerprint = 1;
			break;
		case 'B':
			backup_to = optarg;
			break;
		case 'R':
			restore_from = optarg;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mediflowd %s (protocol %d)\n", MEDIFLOWD_VERSION,
			    PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* A flag only (no config key, no MEDIFLOW_ variable), and only beside
	 * the other test-only one: a production server cannot get it by a
	 * stray setting. */
	if (weak_hashes && !server.cfg.test_clock) {
		cause = xstrdup("--test-weak-hashes is for tests only and needs "
		    "--test-clock");
		goto fatal;
	}
	if (fingerprint) {
		i = print_fingerprint();
		config_free(&server.cfg);
		return i;
	}
	if (backup_to != NULL || restore_from != NULL) {
		i = backup_to != NULL ? backup_cli(backup_to) : restore_cli(restore_from);
		config_free(&server.cfg);
		return i;
	}
	if (server.cfg.tz == NULL || !tz_valid(server.cfg.tz)) {
		cause = xasprintf("unknown time zone: %s",
		    server.cfg.tz ? server.cfg.tz : "");
		goto fatal;
	}
	if (server.cfg.http != NULL && (server.cfg.http_request_deadline < 1 ||
	    server.cfg.http_max_conns < 1 || server.cfg.http_max_body < 1024 ||
	    server.cfg.http_max_header < 1024)) {
		cause = xstrdup("http_request_deadline and http_max_conns must be "
		    "at least 1, http_max_body and http_max_header at least 1k");
		goto fatal;
	}
	if (server.cfg.max_frame < 64 || server.cfg.max_frame > 64 * 1024 * 1024) {
		cause = xstrdup("max_frame must be between 64 bytes and 64 MiB");
		goto fatal;
	}
	if (clinic_tz_set(server.cfg.tz) != 0) {
		cause = xasprintf("cannot set time zone %s", server.cfg.tz);
		goto fatal;
	}
	frame_limits_default(&server.limits);
	server.limits.max_frame = server.cfg.max_frame;
	if (server.limits.max_str > server.cfg.max_frame)
		server.limits.max_str = server.cfg.max_frame;

	if (sodium_init() < 0) {
		cause = xstrdup("libsodium failed to initialise");
		goto fatal;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (RLIMIT_FSIZE) is a full disk to SQLite: an error
	 * the request reports, not a reason to die. */
	signal(SIGXFSZ, SIG_IGN);
	evthread_use_pthreads();
	/*
	 * The changelist turns an event enabled and disabled again in one
	 * loop turn (an HTTP reply written at once) into no epoll_ctl at all.
	 */
	if ((evcfg = event_config_new()) != NULL)
		event_config_set_flag(evcfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	server.base = evcfg != NULL ? event_base_new_with_config(evcfg) : NULL;
	if (evcfg != NULL)
		event_config_free(evcfg);
	if (server.base == NULL) {
		cause = xstrdup("cannot create the event loop");
		goto fatal;
	}
	if (mkdir_p(server.cfg.data_dir, 0700) != 0) {
		cause = xasprintf("%s: %s", server.cfg.data_dir, strerror(errno));
		goto fatal;
	}
	/* One server per data dir, and none while --restore replaces it. */
	if ((lock_fd = datadir_lock(server.cfg.data_dir, &cause)) < 0)
		goto fatal;
	if (server_key_init(&cause) != 0)
		goto fatal;
	db_path = xasprintf("%s/mediflow.db", server.cfg.data_dir);
	if (db_open(db_path, server.cfg.db_synchronous_full, &cause) != 0) {
		free(db_path);
		goto fatal;
	}
	free(db_path);
	ops_init(server.cfg.test_clock);
	if (weak_hashes) {
		log_warn("--test-weak-hashes: passwords hashed at the minimum "
		    "argon2id cost (tests only)");
		password_test_weak_hashes();
	}
	password_init();
	if (server.cfg.demo && demo_seed() < 0) {
		cause = xstrdup("cannot seed demo data");
		goto fatal;
	}
	if (files_start(&cause) != 0)
		goto fatal;
	server.started_at = clock_now();
	db_batch_start(server.base, conn_hold, conn_release);
	if (reminders_start(server.base, &cause) != 0)
		goto fatal;
	if (worker_start(server.base, server.cfg.workers) != 0) {
		cause = xstrdup("cannot start worker threads");
		goto fatal;
	}
	if (conn_listen(server.cfg.listen, &cause) != 0)
		goto fatal;
	if (server.cfg.http != NULL && http_listen(server.cfg.http, &cause) != 0)
		goto fatal;

	sigint_ev = evsignal_new(server.base, SIGINT, signal_cb, NULL);
	sigterm_ev = evsignal_new(server.base, SIGTERM, signal_cb, NULL);
	evsignal_add(sigint_ev, NULL);
	evsignal_add(sigterm_ev, NULL);
	sweep_ev = event_new(server.base, -1, EV_PERSIST, sweep_cb, NULL);
	event_add(sweep_ev, &sweep_tv);

	/* Tests and scripts read these lines to learn the ports; the
	 * HTTP one comes first. */
	if (server.cfg.http != NULL)
		printf("mediflowd http on %s port %d\n", server.cfg.http,
		    http_bound_port());
	printf("mediflowd listening on %s port %d\n", server.cfg.listen,
	    conn_bound_port());
	fflush(stdout);
	log_info("mediflowd %s ready (data %s, tz %s)", MEDIFLOWD_VERSION,
	    server.cfg.data_dir, server.cfg.tz);

	event_base_dispatch(server.base);

	http_shutdown();
	conn_shutdown();
	holds_shutdown();
	worker_stop();
	reminders_stop();
	files_stop();
	db_batch_stop();
	event_free(sigint_ev);
	event_free(sigterm_ev);
	event_free(sweep_ev);
	ratelimit_free(api_limits);
	db_close();
	close(lock_fd);
	event_base_free(server.base);
	config_free(&server.cfg);
	log_info("stopped");
	return 0;

fatal:
	log_err("%s", cause != NULL ? cause : "start-up failed");
	free(cause);
	return 1;
}
