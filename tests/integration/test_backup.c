/* test_backup.c -- online backups while bookings run, and restores.
 *
 * A desk client books without pause while `mediflowd --backup` (another
 * process) and admin.backup (a worker thread in the server) copy the live
 * store. Each backup is restored into a fresh data dir with --restore and a
 * server started on it: every booking acknowledged before the backup began
 * is there, every appointment in it is the live one, and the audit chain
 * verifies. A restore is refused while a server runs on the dir, and for a
 * file that is not a whole MediFlow store of a schema we know.
 *
 * Attachments travel with the backup: those the snapshot names (and no
 * later ones) land in the .files dir beside it and come back, byte for
 * byte, through a restore; a missing one is reported by the backup, and a
 * missing or corrupted one makes --restore refuse. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "harness.h"
#include "json.h"
#include "mp.h"
#include "util.h"

#define MAX_SLOTS	400
#define DAY_SLOTS	8	/* per doctor and day */

struct slot {
	int64_t	doctor_id;
	int64_t	starts_at;
	int64_t	patient_id;
};

static struct tsrv	 srv;
static char		 work[256];	/* backups, restored dirs */
static char		*desk_token, *admin_token;
static struct slot	 slots[MAX_SLOTS];
static int		 nslots;

/* The traffic: acknowledged appointment ids, in order. */
static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t		 acked[MAX_SLOTS];
static int		 nacked;
static int		 stop_traffic;
static int		 traffic_errors;
static char		 traffic_error[512];	/* the first */


static void
open_as(struct tcli *c, const struct tsrv *s, const char *token)
{
	cli_open(c, s);
	call_ok(c, "auth.resume", "{s:s}", "token", token);
}

/* Runs mediflowd with args; its exit status (-1: not exited normally).
 * Its output goes to work/run.log. */
static int
run_mediflowd(const char *const *args)
{
	char	*argv[16], *bin, *log;
	pid_t	 pid;
	int	 i, n = 0, st, fd;

	bin = xasprintf("%s/mediflowd", test_build_dir());
	log = xasprintf("%s/run.log", work);
	argv[n++] = bin;
	for (i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(bin, argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	free(bin);
	free(log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 1 if work/run.log holds s. */
static int
run_log_has(const char *s)
{
	char	 buf[65536], *path;
	size_t	 n;
	FILE	*f;

	path = xasprintf("%s/run.log", work);
	f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, s) != NULL;
}

/* Empties work/run.log, so run_log_has sees the next runs only. */
static void
run_log_clear(void)
{
	char	*path = xasprintf("%s/run.log", work);

	unlink(path);
	free(path);
}

static void
sha256_file(const char *path, char *hex, int64_t *bytes)
{
	crypto_hash_sha256_state	 st;
	unsigned char			 buf[65536], md[crypto_hash_sha256_BYTES];
	size_t				 n;
	FILE				*f;

	assert_non_null(f = fopen(path, "rb"));
	crypto_hash_sha256_init(&st);
	*bytes = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		crypto_hash_sha256_update(&st, buf, n);
		*bytes += (int64_t)n;
	}
	fclose(f);
	crypto_hash_sha256_final(&st, md);
	sodium_bin2hex(hex, 65, md, sizeof md);
}

static void
collect_slots(void)
{
	struct tcli	 c;
	json_t		*list, *s, *docs, *d;
	int64_t		 patients[4];
	sqlite3		*h;
	sqlite3_stmt	*st;
	size_t		 i, k;
	int		 day;
	time_t		 t;
	struct tm	 tm;
	char		 date[16];

	assert_int_equal(sqlite3_open_v2(srv.db_path, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT id FROM patients ORDER BY id",
	    -1, &st, NULL), SQLITE_OK);
	for (k = 0; k < nitems(patients); k++) {
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		patients[k] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	open_as(&c, &srv, desk_token);
	docs = json_incref(jpath(call_ok(&c, "doctors.list", "{}"), "doctors"));
	for (day = 1; day < 60 && nslots < MAX_SLOTS; day++) {
		t = time(NULL) + (time_t)day * 86400;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		json_array_foreach(docs, k, d) {
			list = jpath(call_ok(&c, "appt.slots", "{s:I, s:s}", "doctor_id",
			    (json_int_t)jint(d, "id"), "date", date), "slots");
			json_array_foreach(list, i, s) {
				/* Under the demo doctors' daily caps. */
				if (nslots == MAX_SLOTS || i >= DAY_SLOTS)
					break;
				slots[nslots].doctor_id = jint(d, "id");
				slots[nslots].starts_at = jint(s, "starts_at");
				/* One patient per doctor: never a patient clash. */
				slots[nslots].patient_id = patients[k % nitems(patients)];
				nslots++;
			}
		}
	}
	json_decref(docs);
	cli_close(&c);
	assert_int_equal(nslots, MAX_SLOTS);
}

static void *
traffic_run(void *arg)
{
	struct tcli	*c = arg;
	json_t		*reply;
	int		 j, stop;

	for (j = 0; j < nslots; j++) {
		pthread_mutex_lock(&mtx);
		stop = stop_traffic;
		pthread_mutex_unlock(&mtx);
		if (stop)
			break;
		reply = cli_call_json(c, "appt.book", json_pack("{s:I, s:I, s:I, s:s}",
		    "doctor_id", (json_int_t)slots[j].doctor_id, "starts_at",
		    (json_int_t)slots[j].starts_at, "patient_id",
		    (json_int_t)slots[j].patient_id, "reason", "backup traffic"));
		pthread_mutex_lock(&mtx);
		if (reply != NULL && json_is_true(json_object_get(reply, "ok")))
			acked[nacked++] = jint(reply, "result.appointment.id");
		else if (traffic_errors++ == 0) {
			char	*dump = reply != NULL ? json_dumps(reply, 0) : NULL;

			snprintf(traffic_error, sizeof traffic_error, "%s",
			    dump != NULL ? dump : "(connection closed)");
			free(dump);
		}
		pthread_mutex_unlock(&mtx);
	}
	return NULL;
}

static int
acked_count(void)
{
	int	n;

	pthread_mutex_lock(&mtx);
	n = nacked;
	pthread_mutex_unlock(&mtx);
	return n;
}

static void
wait_acked(int n)
{
	struct timespec	ts = { 0, 1000000L };
	int		i;

	for (i = 0; i < 20000 * test_time_scale() && acked_count() < n; i++)
		nanosleep(&ts, NULL);
	assert_true(acked_count() >= n);
}

/* Every appointment in the restored store at db is the live one. */
static void
check_subset_of_live(const char *db)
{
	sqlite3		*a, *live;
	sqlite3_stmt	*sa, *sl;
	int		 rows = 0;

	assert_int_equal(sqlite3_open_v2(db, &a, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_open_v2(srv.db_path, &live, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(live, 10000);
	assert_int_equal(sqlite3_prepare_v2(a, "SELECT id, doctor_id, patient_id, "
	    "starts_at, ends_at, reason FROM appointments", -1, &sa, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(live, "SELECT count(*) FROM appointments "
	    "WHERE id = ? AND doctor_id = ? AND patient_id = ? AND starts_at = ? AND "
	    "ends_at = ? AND reason = ?", -1, &sl, NULL), SQLITE_OK);
	while (sqlite3_step(sa) == SQLITE_ROW) {
		int	i;

		sqlite3_reset(sl);
		for (i = 0; i < 5; i++)
			sqlite3_bind_int64(sl, i + 1, sqlite3_column_int64(sa, i));
		sqlite3_bind_text(sl, 6, (const char *)sqlite3_column_text(sa, 5), -1,
		    SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(sl), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(sl, 0), 1);
		rows++;
	}
	sqlite3_finalize(sa);
	sqlite3_finalize(sl);
	sqlite3_close(a);
	sqlite3_close(live);
	assert_true(rows > 0);
}

/* Restores file into a fresh dir, starts a server there, and checks that
 * the first `before` acknowledged bookings are in it. */
static void
restore_and_check(const char *file, int before)
{
	struct tsrv	 r;
	struct tsrv_opts o;
	struct tcli	 c;
	char		*d;
	json_t		*v;
	int		 i;

	d = xasprintf("%s/restored-%d", work, before);
	{
		const char *const args[] = { "--data-dir", d, "--restore", file, NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	memset(&o, 0, sizeof o);
	o.data_dir = d;
	o.no_demo = 1;
	srv_start(&r, &o);
	check_subset_of_live(r.db_path);
	open_as(&c, &r, admin_token);
	for (i = 0; i < before; i++) {
		v = call_ok(&c, "appt.get", "{s:I}", "id", (json_int_t)acked[i]);
		assert_int_equal(jint(v, "appointment.id"), acked[i]);
	}
	v = call_ok(&c, "audit.verify", "{}");
	assert_true(json_is_true(json_object_get(v, "ok")));
	cli_close(&c);
	srv_stop(&r);
	rm_tree(d);
	free(d);
}

static void
test_backup_under_traffic(void **state)
{
	pthread_t	 thread;
	struct tcli	 traffic, admin;
	json_t		*v;
	char		*cli_file, hex[65], *path1, *prefix;
	int		 before_cli, before_op;
	int64_t		 bytes;
	struct stat	 st;

	(void)state;
	collect_slots();
	open_as(&traffic, &srv, desk_token);
	open_as(&admin, &srv, admin_token);
	assert_int_equal(pthread_create(&thread, NULL, traffic_run, &traffic), 0);

	/* mediflowd --backup, another process, mid-traffic. */
	wait_acked(20);
	before_cli = acked_count();
	cli_file = xasprintf("%s/cli.db", work);
	{
		const char *const args[] = { "--data-dir", srv.dir, "--backup",
		    cli_file, NULL };

		assert_int_equal(run_mediflowd(args), 0);
		/* Never over an existing file. */
		assert_int_equal(run_mediflowd(args), 1);
	}

	/* admin.backup, a worker thread in the server, mid-traffic. */
	wait_acked(before_cli + 20);
	before_op = acked_count();
	v = call_ok(&admin, "admin.backup", "{}");
	path1 = xstrdup(jstr(v, "path"));
	prefix = xasprintf("%s/backups/mediflow-", srv.dir);
	assert_memory_equal(path1, prefix, strlen(prefix));
	assert_true(strlen(path1) > 3 && strcmp(path1 + strlen(path1) - 3, ".db") == 0);
	assert_int_equal(stat(path1, &st), 0);
	sha256_file(path1, hex, &bytes);
	assert_int_equal(jint(v, "bytes"), bytes);
	assert_int_equal(st.st_size, bytes);
	assert_string_equal(jstr(v, "sha256"), hex);
	assert_true(jint(v, "pages") > 0);
	assert_int_equal(bytes % jint(v, "pages"), 0);
	/* A second one in the same second gets its own name. */
	v = call_ok(&admin, "admin.backup", "{}");
	assert_string_not_equal(jstr(v, "path"), path1);

	pthread_mutex_lock(&mtx);
	stop_traffic = 1;
	pthread_mutex_unlock(&mtx);
	pthread_join(thread, NULL);
	cli_close(&traffic);
	if (traffic_errors != 0)
		fail_msg("%d bookings failed, first: %s", traffic_errors, traffic_error);
	print_message("%d bookings; %d before --backup, %d before admin.backup\n",
	    nacked, before_cli, before_op);

	/* Audited, with the path and the digest. */
	v = call_ok(&admin, "audit.list", "{s:s}", "action", "admin.backup");
	assert_int_equal(json_array_size(jpath(v, "entries")), 2);
	assert_string_equal(jstr(json_array_get(jpath(v, "entries"), 1), "target"),
	    path1);
	assert_non_null(strstr(jstr(json_array_get(jpath(v, "entries"), 1), "detail"),
	    hex));
	call_err(&admin, "admin.backup", "bad_request", "{s:s}", "path", "/etc/x");
	cli_close(&admin);
	{
		struct tcli	desk;

		open_as(&desk, &srv, desk_token);
		call_err(&desk, "admin.backup", "forbidden", "{}");
		cli_close(&desk);
	}

	restore_and_check(cli_file, before_cli);
	restore_and_check(path1, before_op);
	free(cli_file);
	free(path1);
	free(prefix);
}

static void
test_restore_refusals(void **state)
{
	char	*file, *bad, *newer, *garbage;
	sqlite3	*h;
	FILE	*f;
	struct tcli c;

	(void)state;
	file = xasprintf("%s/refuse.db", work);
	{
		const char *const args[] = { "--data-dir", srv.dir, "--backup", file,
		    NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	/* A server runs on srv.dir: its lock says no. */
	{
		const char *const args[] = { "--data-dir", srv.dir, "--restore", file,
		    NULL };

		assert_int_equal(run_mediflowd(args), 1);
		assert_true(run_log_has("mediflowd.lock is locked"));
	}
	/* Nor can a second server start on it. */
	{
		const char *const args[] = { "--data-dir", srv.dir, "--listen",
		    "127.0.0.1:0", NULL };

		assert_int_equal(run_mediflowd(args), 1);
	}
	open_as(&c, &srv, admin_token);
	call_ok(&c, "audit.verify", "{}");
	/* Nowhere to write: unavailable, and nothing audited as done. */
	{
		char	*dir = xasprintf("%s/backups", srv.dir);
		char	*moved = xasprintf("%s/backups.moved", srv.dir);
		json_t	*v;
		size_t	 before;

		v = call_ok(&c, "audit.list", "{s:s}", "action", "admin.backup");
		before = json_array_size(jpath(v, "entries"));
		mkdir(dir, 0700);	/* when this test runs alone */
		assert_int_equal(rename(dir, moved), 0);
		assert_non_null(f = fopen(dir, "w"));
		fclose(f);
		call_err(&c, "admin.backup", "unavailable", "{}");
		v = call_ok(&c, "audit.list", "{s:s}", "action", "admin.backup");
		assert_int_equal(json_array_size(jpath(v, "entries")), before);
		assert_int_equal(unlink(dir), 0);
		assert_int_equal(rename(moved, dir), 0);
		free(dir);
		free(moved);
	}
	cli_close(&c);

	/* Not a database at all. */
	garbage = xasprintf("%s/garbage.db", work);
	assert_non_null(f = fopen(garbage, "w"));
	fputs("this is not an SQLite database, whatever its name says\n", f);
	fclose(f);
	bad = xasprintf("%s/fresh-bad", work);
	{
		const char *const args[] = { "--data-dir", bad, "--restore", garbage,
		    NULL };

		assert_int_equal(run_mediflowd(args), 1);
	}
	/* Nothing was put in place. */
	{
		char	*p = xasprintf("%s/mediflow.db", bad);

		assert_int_not_equal(access(p, F_OK), 0);
		free(p);
	}

	/* A schema from a newer mediflowd. */
	newer = xasprintf("%s/newer.db", work);
	{
		const char *const args[] = { "--data-dir", srv.dir, "--backup", newer,
		    NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	assert_int_equal(sqlite3_open(newer, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(h);
	{
		const char *const args[] = { "--data-dir", bad, "--restore", newer,
		    NULL };

		assert_int_equal(run_mediflowd(args), 1);
		assert_true(run_log_has("is newer than this mediflowd's"));
	}

	/* A torn file: the first half of a good one. */
	assert_int_equal(truncate(file, 8192), 0);
	{
		const char *const args[] = { "--data-dir", bad, "--restore", file,
		    NULL };

		assert_int_equal(run_mediflowd(args), 1);
	}
	rm_tree(bad);
	free(file);
	free(bad);
	free(newer);
	free(garbage);
}

/*
 * A restore over a store whose server died by kill -9: its -wal still holds
 * transactions. They belong to the old database; replayed into the restored
 * one they would corrupt it, so the restore must drop them.
 */
static struct tsrv	 x;	/* a second server; killed by the teardown if a test fails */

static void
test_restore_over_stale_wal(void **state)
{
	struct tsrv_opts o;
	struct tcli	 c;
	char		*file, *d, *wal;
	json_t		*v;
	struct stat	 st;
	int64_t		 stale_id;
	int		 i;

	(void)state;
	file = xasprintf("%s/for-stale.db", work);
	{
		const char *const args[] = { "--data-dir", srv.dir, "--backup", file,
		    NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	d = xasprintf("%s/stale", work);
	assert_int_equal(mkdir(d, 0700), 0);
	memset(&o, 0, sizeof o);
	o.data_dir = d;
	o.config = "rl_api_staff = 100000/15m\n";
	srv_start(&x, &o);
	cli_open_as(&c, &x, DEMO_RECEPTION);
	v = json_incref(jpath(call_ok(&c, "doctors.list", "{}"), "doctors"));
	stale_id = 0;
	/* Some write that lands in the -wal: a booking on a free slot. */
	for (i = 1; i < 30 && stale_id == 0; i++) {
		time_t		 t = time(NULL) + (time_t)i * 86400;
		struct tm	 tm;
		char		 date[16];
		json_t		*sl, *r;

		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		sl = jpath(call_ok(&c, "appt.slots", "{s:I, s:s}", "doctor_id",
		    (json_int_t)jint(json_array_get(v, 0), "id"), "date", date), "slots");
		if (json_array_size(sl) == 0)
			continue;
		r = cli_call(&c, "appt.book", "{s:I, s:I, s:I, s:s}",
		    "doctor_id", (json_int_t)jint(json_array_get(v, 0), "id"),
		    "starts_at", (json_int_t)jint(json_array_get(sl, 0), "starts_at"),
		    "patient_id", (json_int_t)slots[0].patient_id,
		    "reason", "only in the stale wal");
		assert_non_null(r);
		if (json_is_true(json_object_get(r, "ok")))
			stale_id = jint(r, "result.appointment.id");
	}
	json_decref(v);
	assert_true(stale_id > 0);
	cli_close(&c);
	srv_kill(&x);
	wal = xasprintf("%s/mediflow.db-wal", d);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 0);

	{
		const char *const args[] = { "--data-dir", d, "--restore", file, NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	assert_int_not_equal(access(wal, F_OK), 0);
	memset(&o, 0, sizeof o);
	o.data_dir = d;
	o.no_demo = 1;
	srv_start(&x, &o);
	check_subset_of_live(x.db_path);
	open_as(&c, &x, admin_token);
	v = call_ok(&c, "audit.verify", "{}");
	assert_true(json_is_true(json_object_get(v, "ok")));
	cli_close(&c);
	srv_stop(&x);
	{
		sqlite3	*h;

		assert_int_equal(sqlite3_open_v2(x.db_path, &h, SQLITE_OPEN_READONLY,
		    NULL), SQLITE_OK);
		assert_int_equal(sqlite3_exec(h, "SELECT 1", NULL, NULL, NULL), SQLITE_OK);
		{
			sqlite3_stmt	*st2;

			assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM "
			    "appointments WHERE reason = 'only in the stale wal'", -1,
			    &st2, NULL), SQLITE_OK);
			assert_int_equal(sqlite3_step(st2), SQLITE_ROW);
			assert_int_equal(sqlite3_column_int(st2, 0), 0);
			sqlite3_finalize(st2);
		}
		sqlite3_close(h);
	}
	rm_tree(d);
	free(wal);
	free(d);
	free(file);
}


/* --- attachments --- */

static const char *const demo_doctors[] = {
	DEMO_DOCTOR, "m.okafor@test.com", "p.raman@test.com"
};

struct att {
	int64_t		 id;
	unsigned char	*data;
	size_t		 n;
};

/* files.chunk with the bytes as msgpack bin. */
static json_t *
att_chunk(struct tcli *c, const char *upload_id, int64_t offset,
    const unsigned char *p, size_t n)
{
	const msgpack_object	*reply;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_str(&pk, "upload_id", upload_id);
	mp_pack_kv_int(&pk, "offset", offset);
	mp_pack_str(&pk, "bytes");
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, p, n);
	json_decref(c->reply);
	c->reply = NULL;
	if (mfc_call(&c->mc, "files.chunk", sb.data, sb.size, CALL_TIMEOUT_MS,
	    &reply) == 0)
		c->reply = msgpack_to_json(reply);
	msgpack_sbuffer_destroy(&sb);
	return c->reply;
}

/* Uploads n random bytes that start like a PNG to record rec, in two
 * chunks; fills a. */
static void
att_upload(struct tcli *c, int64_t rec, size_t n, struct att *a)
{
	static const unsigned char png[8] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
	};
	unsigned char	 md[crypto_hash_sha256_BYTES];
	char		 hex[65], *id;
	size_t		 half = n / 2;
	json_t		*res;

	a->n = n;
	a->data = xmalloc(n);
	randombytes_buf(a->data, n);
	memcpy(a->data, png, sizeof png);
	res = call_ok(c, "files.begin", "{s:I, s:s, s:s, s:I}", "record_id",
	    (json_int_t)rec, "name", "scan.png", "mime", "image/png", "size",
	    (json_int_t)n);
	id = xstrdup(jstr(res, "upload_id"));
	reply_ok(att_chunk(c, id, 0, a->data, half));
	reply_ok(att_chunk(c, id, (int64_t)half, a->data + half, n - half));
	crypto_hash_sha256(md, a->data, n);
	sodium_bin2hex(hex, sizeof hex, md, sizeof md);
	res = call_ok(c, "files.commit", "{s:s, s:s}", "upload_id", id, "sha256",
	    hex);
	a->id = jint(res, "file.id");
	assert_true(a->id > 0);
	free(id);
}

/* files.get in pieces until the whole file is read; it must be a's bytes. */
static void
att_check_download(struct tcli *c, const struct att *a)
{
	unsigned char	*buf = xmalloc(a->n + 1);
	size_t		 len = 0, got;
	const char	*b64;
	json_t		*res;

	do {
		res = call_ok(c, "files.get", "{s:I, s:I, s:I}", "file_id",
		    (json_int_t)a->id, "offset", (json_int_t)len, "length",
		    (json_int_t)50000);
		assert_int_equal(jint(res, "total"), (int64_t)a->n);
		b64 = jstr(res, "bytes");
		assert_non_null(b64);
		assert_int_equal(sodium_base642bin(buf + len, a->n - len + 1, b64,
		    strlen(b64), NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		assert_true(got > 0);
		len += got;
	} while (len < a->n);
	assert_int_equal(len, a->n);
	assert_memory_equal(buf, a->data, a->n);
	free(buf);
}

static int
count_entries(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The stored name of file id in the store at db (allocated). */
static char *
stored_name(const char *db, int64_t id)
{
	sqlite3		*h;
	sqlite3_stmt	*st;
	char		*name;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT stored_name FROM files "
	    "WHERE id = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	name = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return name;
}

/*
 * Restores file into a fresh dir, starts a server there, and reads back
 * every attachment in want as the doctor (whose session came back with the
 * database); late, uploaded after the backup, is not there.
 */
static void
restore_and_download(const char *file, const char *doctor_token,
    const struct att *want, size_t nwant, const struct att *late)
{
	struct tsrv	 r;
	struct tsrv_opts o;
	struct tcli	 c;
	char		*d, *p;
	size_t		 i;

	d = xasprintf("%s/restored-att", work);
	{
		const char *const args[] = { "--data-dir", d, "--restore", file, NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	p = xasprintf("%s/files", d);
	assert_int_equal(count_entries(p), (int)nwant);
	free(p);
	p = xasprintf("%s/restore.tmp", d);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	memset(&o, 0, sizeof o);
	o.data_dir = d;
	o.no_demo = 1;
	srv_start(&r, &o);
	open_as(&c, &r, doctor_token);
	for (i = 0; i < nwant; i++)
		att_check_download(&c, &want[i]);
	if (late != NULL)
		call_err(&c, "files.get", "forbidden", "{s:I}", "file_id",
		    (json_int_t)late->id);
	cli_close(&c);
	srv_stop(&r);
	rm_tree(d);
	free(d);
}

/* Replaces path by a file of the same size with one byte changed: a new
 * inode, so a hard-linked original elsewhere stays as it was. */
static void
corrupt_copy(const char *path)
{
	unsigned char	 buf[200000];
	char		*tmp = xasprintf("%s.new", path);
	size_t		 n;
	FILE		*f;

	assert_non_null(f = fopen(path, "rb"));
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	assert_true(n > 100);
	buf[n / 2] ^= 0x40;
	assert_non_null(f = fopen(tmp, "wb"));
	assert_int_equal(fwrite(buf, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
	free(tmp);
}

/* A dir for backups on another filesystem than dir's (so they are copies,
 * not links), or NULL when there is none to hand. */
static char	 other_fs[64];

static const char *
other_fs_dir(const char *dir)
{
	struct stat	a, b;

	if (stat(dir, &a) != 0 || stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev)
		return NULL;
	snprintf(other_fs, sizeof other_fs, "/dev/shm/mediflow-backup-XXXXXX");
	if (mkdtemp(other_fs) == NULL) {
		other_fs[0] = '\0';
		return NULL;
	}
	return other_fs;
}

static void
test_backup_carries_attachments(void **state)
{
	struct tcli	 doc, admin;
	struct att	 a[3];		/* a[2] comes after the first backup */
	const char	*doctor = NULL, *dir;
	char		*doctor_token, *fdir, *op_file, *cli_file, *cli_fdir, *name;
	char		*live, *moved, *p, *bad;
	int64_t		 john, rec;
	json_t		*v;
	size_t		 i;

	(void)state;
	cli_open_as(&doc, &srv, DEMO_PATIENT);
	john = jint(call_ok(&doc, "patients.get", NULL), "patient.id");
	cli_close(&doc);
	for (i = 0; i < nitems(demo_doctors) && doctor == NULL; i++) {
		cli_open_as(&doc, &srv, demo_doctors[i]);
		v = cli_call(&doc, "patients.get", "{s:I}", "id", (json_int_t)john);
		if (json_is_true(json_object_get(v, "ok")))
			doctor = demo_doctors[i];
		cli_close(&doc);
	}
	assert_non_null(doctor);
	cli_open(&doc, &srv);
	doctor_token = cli_login(&doc, doctor, DEMO_PASSWORD);
	rec = jint(call_ok(&doc, "records.create", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "diagnosis", "Backed-up fracture"), "record.id");
	att_upload(&doc, rec, 70001, &a[0]);
	att_upload(&doc, rec, 123, &a[1]);

	/* admin.backup: both attachments, hard-linked (DATA_DIR/backups is
	 * on the data dir's filesystem), in X.files beside X.db. */
	open_as(&admin, &srv, admin_token);
	v = call_ok(&admin, "admin.backup", "{}");
	assert_int_equal(jint(v, "files"), 2);
	assert_int_equal(jint(v, "file_bytes"), 70001 + 123);
	assert_int_equal(jint(v, "files_linked"), 2);
	assert_int_equal(jint(v, "files_missing"), 0);
	assert_int_equal(json_array_size(jpath(v, "missing")), 0);
	op_file = xstrdup(jstr(v, "path"));
	fdir = xstrdup(jstr(v, "files_dir"));
	assert_int_equal(strlen(fdir), strlen(op_file) - 3 + 6);
	assert_memory_equal(fdir, op_file, strlen(op_file) - 3);
	assert_string_equal(fdir + strlen(fdir) - 6, ".files");
	assert_int_equal(count_entries(fdir), 2);

	/* Uploaded after that snapshot: not in it. */
	att_upload(&doc, rec, 999, &a[2]);
	assert_int_equal(count_entries(fdir), 2);

	/* --backup, another process; on another filesystem when there is one,
	 * so the attachments are copied. */
	dir = other_fs_dir(srv.dir);
	cli_file = xasprintf("%s/att.db", dir != NULL ? dir : work);
	cli_fdir = xasprintf("%s/att.files", dir != NULL ? dir : work);
	{
		const char *const args[] = { "--data-dir", srv.dir, "--backup",
		    cli_file, NULL };

		assert_int_equal(run_mediflowd(args), 0);
	}
	assert_int_equal(count_entries(cli_fdir), 3);

	/* Both come back whole, each with what its snapshot named. */
	restore_and_download(op_file, doctor_token, a, 2, &a[2]);
	restore_and_download(cli_file, doctor_token, a, 3, NULL);

	/* One byte changed in the backup's copy of an attachment: refused,
	 * naming it, and nothing put in place. */
	name = stored_name(srv.db_path, a[0].id);
	p = xasprintf("%s/%s", cli_fdir, name);
	corrupt_copy(p);
	free(p);
	bad = xasprintf("%s/restored-bad", work);
	{
		const char *const args[] = { "--data-dir", bad, "--restore", cli_file,
		    NULL };

		run_log_clear();
		assert_int_equal(run_mediflowd(args), 1);
		assert_true(run_log_has("is corrupt"));
		assert_true(run_log_has(name));
	}
	p = xasprintf("%s/mediflow.db", bad);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	p = xasprintf("%s/restore.tmp", bad);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	/* The live file (the op backup's link to it too) is untouched. */
	att_check_download(&doc, &a[0]);
	free(name);

	/* An attachment gone from the live store: the backup says which, and
	 * a restore of it is refused. */
	name = stored_name(srv.db_path, a[1].id);
	live = xasprintf("%s/files/%s", srv.dir, name);
	moved = xasprintf("%s/moved-attachment", work);
	assert_int_equal(rename(live, moved), 0);
	v = call_ok(&admin, "admin.backup", "{}");
	assert_int_equal(jint(v, "files"), 2);
	assert_int_equal(jint(v, "files_missing"), 1);
	assert_int_equal(json_array_size(jpath(v, "missing")), 1);
	assert_int_equal(json_integer_value(json_array_get(jpath(v, "missing"), 0)),
	    a[1].id);
	free(op_file);
	op_file = xstrdup(jstr(v, "path"));
	{
		char		*f2 = xasprintf("%s/missing.db", work);
		const char *const args[] = { "--data-dir", srv.dir, "--backup", f2,
		    NULL };

		/* Written, but the exit status says it is not restorable. */
		run_log_clear();
		assert_int_equal(run_mediflowd(args), 1);
		assert_true(run_log_has("lacks 1 attachment"));
		assert_int_equal(access(f2, F_OK), 0);
		free(f2);
	}
	{
		const char *const args[] = { "--data-dir", bad, "--restore", op_file,
		    NULL };

		run_log_clear();
		assert_int_equal(run_mediflowd(args), 1);
		assert_true(run_log_has("restore refused"));
		assert_true(run_log_has("is missing"));
		assert_true(run_log_has(name));
	}
	assert_int_equal(rename(moved, live), 0);
	att_check_download(&doc, &a[1]);

	rm_tree(bad);
	if (dir != NULL) {
		rm_tree(dir);
		other_fs[0] = '\0';
	}
	cli_close(&doc);
	cli_close(&admin);
	for (i = 0; i < nitems(a); i++)
		free(a[i].data);
	free(name);
	free(live);
	free(moved);
	free(bad);
	free(op_file);
	free(fdir);
	free(cli_file);
	free(cli_fdir);
	free(doctor_token);
}

static int
group_setup(void **state)
{
	const char		*tmp = getenv("TMPDIR");
	static const struct tsrv_opts	o = {
		.config = "rl_api = 100000/15m\nrl_api_staff = 100000/15m\n",
	};
	struct tcli		 c;

	(void)state;
	assert_true(sodium_init() >= 0);
	snprintf(work, sizeof work, "%s/mediflow-backup-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(work));
	srv_start(&srv, &o);
	cli_open(&c, &srv);
	desk_token = cli_login(&c, DEMO_RECEPTION, DEMO_PASSWORD);
	cli_close(&c);
	cli_open(&c, &srv);
	admin_token = cli_login(&c, DEMO_ADMIN, DEMO_PASSWORD);
	cli_close(&c);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_kill(&x);
	srv_stop(&srv);
	if (other_fs[0] != '\0')
		rm_tree(other_fs);
	if (getenv("MF_TEST_KEEP") == NULL)
		rm_tree(work);
	free(desk_token);
	free(admin_token);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_under_traffic),
		cmocka_unit_test(test_restore_refusals),
		cmocka_unit_test(test_restore_over_stale_wal),
		cmocka_unit_test(test_backup_carries_attachments),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
