/* fuzz_ops.c -- libFuzzer: every op's argument validation, driven from the
 * op table, through the real dispatch path of an in-process server.
 *
 * LLVMFuzzerInitialize builds what main() builds (a data dir of its own,
 * the migrations, the demo clinic, group commit, the worker thread) and a
 * session for each demo role. Each input becomes one request on a virtual
 * connection (conn_new_virtual, as the HTTP adapter makes them), so the
 * frame validator, the envelope checks, auth, roles and the handler's own
 * checks all run as they do for a client.
 *
 * Input: byte 0 picks the caller (0 logged out, 1 patient, 2 doctor,
 * 3 receptionist, 4 admin; mod 5); with its high bit set the rest is a
 * whole frame body as a client would send it (the envelope path), else
 * byte 1 picks the op (mod ops_count) and the rest is the msgpack of its
 * args. Every request must get exactly one reply, and none may be
 * `internal` (a handler that failed without saying why). */
#include <sys/stat.h>

#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <msgpack.h>
#include <sodium.h>

#include "clinic-time.h"
#include "clock.h"
#include "conn.h"
#include "db.h"
#include "demo.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "password.h"
#include "reminders.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "util.h"
#include "worker.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define NROLES	5

static const char *const role_email[NROLES] = {
	NULL, "patient@test.com", "doctor@test.com", "receptionist@test.com",
	"admin@test.com",
};
static const enum role	role_of[NROLES] = {
	ROLE_NONE, ROLE_PATIENT, ROLE_DOCTOR, ROLE_RECEPTIONIST, ROLE_ADMIN,
};
static int64_t		user_id[NROLES];
static struct session	*sess[NROLES];
static int		replies;
static char		data_dir[64];

static void
sink(struct conn *c, const char *body, size_t len)
{
	msgpack_unpacked	 u;
	const msgpack_object	*err, *code, *msg;
	size_t			 off = 0;

	(void)c;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, body, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u.data.type != MSGPACK_OBJECT_MAP)
		abort();	/* the server sent something malformed */
	if (mp_map_get(&u.data, "event") == NULL) {
		replies++;
		err = mp_map_get(&u.data, "error");
		code = err != NULL ? mp_map_get(err, "code") : NULL;
		if (code != NULL && mp_str_eq(code, "internal")) {
			msg = mp_map_get(err, "message");
			fprintf(stderr, "fuzz_ops: internal error: %.*s\n",
			    msg != NULL && msg->type == MSGPACK_OBJECT_STR ?
			    (int)msg->via.str.size : 0,
			    msg != NULL && msg->type == MSGPACK_OBJECT_STR ?
			    msg->via.str.ptr : "");
			if (getenv("FUZZ_OPS_ALLOW_INTERNAL") == NULL)
				abort();
		}
	}
	msgpack_unpacked_destroy(&u);
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void
remove_data_dir(void)
{
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* admin.backup copies the whole store each time: keep none. */
static void
remove_backups(void)
{
	char	path[96];

	snprintf(path, sizeof path, "%s/backups", data_dir);
	if (access(path, F_OK) == 0)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The demo accounts as they were: a fuzzed users.update may have made
 * the admin a patient, users.deactivate switched one off. */
static void
restore_accounts(void)
{
	static const char *sql = "UPDATE users SET role = ?, active = 1, "
	    "locked_until = NULL, failed_logins = 0 WHERE id = ?";
	sqlite3_stmt	*st;
	char		 token[TOKEN_TEXT_SIZE];
	int64_t		 now = clock_now();
	int		 i;

	for (i = 1; i < NROLES; i++) {
		if (sess[i] == NULL || sess[i]->revoked || sess[i]->role !=
		    role_of[i] || session_check(sess[i], now) != 0) {
			if (db_begin() != 0)
				abort();
			st = db_prepare(sql);
			sqlite3_bind_text(st, 1, role_name(role_of[i]), -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, user_id[i]);
			if (db_step_done(st) != SQLITE_DONE || db_commit() != 0)
				abort();
			session_set_user_role(user_id[i], role_of[i]);
			if (sess[i] != NULL)
				session_unref(sess[i]);
			sess[i] = session_create(user_id[i], role_of[i],
			    "127.0.0.1", now, token);
			if (sess[i] == NULL)
				abort();
			session_ref(sess[i]);
		}
	}
	db_batch_flush();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		*dir = data_dir, *cause = NULL, *path;
	struct user	 u;
	int		 i;

	(void)argc;
	(void)argv;
	/* In memory when we can: the store's writes are not what we test. */
	snprintf(dir, sizeof data_dir, "%s/mediflow-fuzz-ops-XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(remove_data_dir);
	log_set_name("fuzz_ops");
	if (getenv("FUZZ_OPS_VERBOSE") == NULL)
		log_set_level(LOG_ERR);
	config_defaults(&server.cfg);
	free(server.cfg.data_dir);
	server.cfg.data_dir = xstrdup(dir);
	server.cfg.db_synchronous_full = 0;
	/* No rate limit may hide a handler from the fuzzer. */
	server.cfg.rl_auth = (struct rate_spec){ 1000000000, 1 };
	server.cfg.rl_api = (struct rate_spec){ 1000000000, 1 };
	server.cfg.rl_api_staff = (struct rate_spec){ 1000000000, 1 };
	server.cfg.rl_upload = (struct rate_spec){ 1000000000, 1 };
	server.cfg.rl_msg = (struct rate_spec){ 1000000000, 1 };
	server.cfg.lockout_failures = 1000000;
	if (clinic_tz_set("UTC") != 0 || sodium_init() < 0)
		abort();
	frame_limits_default(&server.limits);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	if ((server.base = event_base_new()) == NULL)
		abort();
	path = xasprintf("%s/mediflow.db", dir);
	if (db_open(path, 0, &cause) != 0) {
		fprintf(stderr, "fuzz_ops: %s\n", cause);
		abort();
	}
	free(path);
	ops_init(0);
	password_init();
	if (demo_seed() < 0)
		abort();
	server.started_at = clock_now();
	db_batch_start(server.base, conn_hold, conn_release);
	if (reminders_start(server.base, &cause) != 0 ||
	    worker_start(server.base, 1) != 0) {
		fprintf(stderr, "fuzz_ops: %s\n", cause != NULL ? cause : "workers");
		abort();
	}
	for (i = 1; i < NROLES; i++) {
		if (users_by_email(role_email[i], &u) != 0)
			abort();
		user_id[i] = u.id;
	}
	restore_accounts();
	fprintf(stderr, "fuzz_ops: %zu ops, data in %s\n", ops_count(), dir);
	return 0;
}

/* {id: 1, op: NAME, args: <the input's bytes>}, or the input as it is. */
static unsigned char *
make_frame(const uint8_t *data, size_t size, size_t *len)
{
	const struct op	*op;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	unsigned char	*raw;

	if (data[0] & 0x80) {
		if (size < 2)
			return NULL;
		*len = size - 1;
		raw = xmalloc(size - 1);
		memcpy(raw, data + 1, size - 1);
		return raw;
	}
	if (size < 2)
		return NULL;
	op = ops_at(data[1] % ops_count());
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, size > 2 ? 3 : 2);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, 1);
	mp_pack_kv_str(&pk, "op", op->name);
	if (size > 2) {
		mp_pack_str(&pk, "args");
		msgpack_sbuffer_write(&sb, (const char *)data + 2, size - 2);
	}
	*len = sb.size;
	return (unsigned char *)msgpack_sbuffer_release(&sb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn	*c;
	unsigned char	*frame;
	size_t		 len = 0;
	int		 role, turns;

	if (size < 1 || (frame = make_frame(data, size, &len)) == NULL)
		return 0;
	if (len > server.limits.max_frame) {
		/* conn_process refuses it before dispatch. */
		free(frame);
		return 0;
	}
	role = (data[0] & 0x7f) % NROLES;
	restore_accounts();
	c = conn_new_virtual("127.0.0.1", 1, sink, NULL, 0);
	if (role != 0)
		conn_set_session(c, sess[role]);
	replies = 0;
	ops_dispatch(c, frame, len);
	/* A hashing op finishes on the worker thread, then on the loop
	 * (a minute at most: fuzzing does not wait for real time). */
	for (turns = 0; c->pending && turns < 60000; turns++) {
		event_base_loop(server.base, EVLOOP_NONBLOCK);
		if (c->pending)
			usleep(1000);
	}
	if (c->pending)
		abort();	/* a request that never finishes */
	db_batch_flush();
	event_base_loop(server.base, EVLOOP_NONBLOCK);
	if (replies != 1) {
		fprintf(stderr, "fuzz_ops: %d replies to one request\n", replies);
		abort();
	}
	conn_drop(c, "request done");
	remove_backups();
	return 0;
}
