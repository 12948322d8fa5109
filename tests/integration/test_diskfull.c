/* test_diskfull.c -- a full disk under the data dir.
 *
 * As root the data dir is a 4 MiB tmpfs mounted for the test, filled with a
 * filler file; otherwise (or when the mount is refused) the server gets an
 * RLIMIT_FSIZE at the current size of its files, with SIGXFSZ ignored, which
 * SQLite sees the same way (the test prints which it used). Then:
 *
 *  - bookings answer `unavailable`, and the log says the disk is full;
 *  - reads still answer, and nothing is corrupted (integrity_check);
 *  - every booking acknowledged before or during the full spell is there;
 *  - when space returns (the filler deleted, or the limit lifted) bookings
 *    go through again and the audit chain verifies.
 *
 * The mount is undone in the teardown, whatever happened. */
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "util.h"

#define MAX_SLOTS	300
#define DAY_SLOTS	8	/* per doctor and day */

struct slot {
	int64_t	doctor_id;
	int64_t	starts_at;
};

static struct tsrv	 srv;
static char		 top[256];		/* the harness dir: the log lives here */
static char		 data[300];		/* the data dir: top/data */
static char		 db_path[320], filler[320];
static int		 mounted;
static struct slot	 slots[MAX_SLOTS];
static int		 nslots, next_slot;
static int64_t		 patient_id;
static int64_t		 acked[MAX_SLOTS];
static int		 nacked;


/* 1 if the server's log holds s. */
static int
log_has(const char *s)
{
	char	*buf;
	size_t	 n;
	FILE	*f;
	int	 found;

	if ((f = fopen(srv.log_path, "r")) == NULL)
		return 0;
	buf = xmalloc(1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	found = strstr(buf, s) != NULL;
	free(buf);
	return found;
}

static void
collect_slots(struct tcli *c)
{
	json_t		*docs, *d, *list, *s;
	size_t		 i, k;
	int		 day;
	time_t		 t;
	struct tm	 tm;
	char		 date[16];

	docs = json_incref(jpath(call_ok(c, "doctors.list", "{}"), "doctors"));
	for (day = 1; day < 60 && nslots < MAX_SLOTS; day++) {
		t = time(NULL) + (time_t)day * 86400;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		json_array_foreach(docs, k, d) {
			list = jpath(call_ok(c, "appt.slots", "{s:I, s:s}", "doctor_id",
			    (json_int_t)jint(d, "id"), "date", date), "slots");
			json_array_foreach(list, i, s) {
				/* Under the demo doctors' daily caps. */
				if (nslots == MAX_SLOTS || i >= DAY_SLOTS)
					break;
				/* One patient: keep doctors' slots apart in time. */
				if (k != (size_t)(day % (int)json_array_size(docs)))
					continue;
				slots[nslots].doctor_id = jint(d, "id");
				slots[nslots].starts_at = jint(s, "starts_at");
				nslots++;
			}
		}
	}
	json_decref(docs);
	assert_true(nslots >= 100);
}

/* Books the next slot: the reply, borrowed. */
static json_t *
book(struct tcli *c)
{
	json_t	*reply;

	/* A demo appointment of the patient's may clash: the next slot. */
	do {
		assert_true(next_slot < nslots);
		reply = cli_call(c, "appt.book", "{s:I, s:I, s:I, s:s}", "doctor_id",
		    (json_int_t)slots[next_slot].doctor_id, "starts_at",
		    (json_int_t)slots[next_slot].starts_at, "patient_id",
		    (json_int_t)patient_id, "reason", "disk full test");
		next_slot++;
		assert_non_null(reply);
	} while (json_is_false(json_object_get(reply, "ok")) &&
	    jstr(reply, "error.code") != NULL &&
	    strcmp(jstr(reply, "error.code"), "conflict") == 0);
	if (json_is_true(json_object_get(reply, "ok")))
		acked[nacked++] = jint(reply, "result.appointment.id");
	return reply;
}

static void
assert_intact(void)
{
	sqlite3		*h;
	sqlite3_stmt	*st;

	assert_int_equal(sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* Fills the tmpfs to the last byte. */
static void
fill_disk(void)
{
	char	 buf[65536];
	ssize_t	 w;
	int	 fd;

	memset(buf, 0x5a, sizeof buf);
	assert_true((fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	for (;;) {
		if ((w = write(fd, buf, sizeof buf)) > 0)
			continue;
		if (w < 0 && errno == EINTR)
			continue;
		break;
	}
	/* Down to the last small write. */
	while (write(fd, buf, 1) == 1)
		;
	assert_int_equal(errno, ENOSPC);
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Without a tmpfs: the server's files may not grow past their size now. */
static void
limit_files(int on)
{
	struct rlimit	rl;
	char		wal[340];
	off_t		a, b;

	snprintf(wal, sizeof wal, "%s-wal", db_path);
	a = file_size(db_path);
	b = file_size(wal);
	rl.rlim_cur = on ? (rlim_t)(a > b ? a : b) : RLIM_INFINITY;
	rl.rlim_max = RLIM_INFINITY;
	assert_int_equal(prlimit(srv.pid, RLIMIT_FSIZE, &rl, NULL), 0);
}

static void
test_disk_full(void **state)
{
	struct tcli	 desk, admin;
	json_t		*r, *v;
	int		 i, unavailable = 0, ok_while_full = 0;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	collect_slots(&desk);
	v = jpath(call_ok(&desk, "patients.search", "{s:s}", "name", "John Smith"),
	    "patients");
	assert_true(json_array_size(v) > 0);
	patient_id = jint(json_array_get(v, 0), "id");
	for (i = 0; i < 5; i++)
		reply_ok(book(&desk));

	if (mounted)
		fill_disk();
	else
		limit_files(1);
	print_message("disk full by %s\n", mounted ? "a filled 4 MiB tmpfs" :
	    "RLIMIT_FSIZE on mediflowd (no tmpfs mount)");

	/* Whatever still fits in the log's free space may go through; the
	 * first booking that needs new space must not. */
	for (i = 0; i < 200 && unavailable == 0; i++) {
		r = book(&desk);
		if (json_is_true(json_object_get(r, "ok")))
			ok_while_full++;
		else {
			reply_err(r, "unavailable");
			unavailable++;
		}
	}
	assert_int_equal(unavailable, 1);
	/* It stays that way while the disk is full, and says so. */
	for (i = 0; i < 3; i++)
		reply_err(book(&desk), "unavailable");
	/* EFBIG is an I/O error to SQLite, ENOSPC a full disk. */
	assert_true(log_has(mounted ? "the disk is full" : "I/O error"));
	print_message("%d bookings fitted before the first unavailable\n",
	    ok_while_full);
	/* Reads still work; nothing is corrupted. */
	v = call_ok(&desk, "appt.get", "{s:I}", "id", (json_int_t)acked[0]);
	assert_int_equal(jint(v, "appointment.id"), acked[0]);
	assert_intact();

	/* Space returns: service resumes. */
	if (mounted)
		assert_int_equal(unlink(filler), 0);
	else
		limit_files(0);
	for (i = 0; i < 5; i++)
		reply_ok(book(&desk));
	for (i = 0; i < nacked; i++) {
		v = call_ok(&desk, "appt.get", "{s:I}", "id", (json_int_t)acked[i]);
		assert_int_equal(jint(v, "appointment.id"), acked[i]);
	}
	v = call_ok(&admin, "audit.verify", "{}");
	assert_true(json_is_true(json_object_get(v, "ok")));
	cli_close(&desk);
	cli_close(&admin);
	assert_intact();
}

/* Even when a failed assertion ends the run early. */
static void
unmount_at_exit(void)
{
	if (mounted)
		umount2(data, MNT_DETACH);
	mounted = 0;
}

static int
setup(void **state)
{
	const char		*tmp = getenv("TMPDIR");
	static const char	*args[3];
	struct tsrv_opts	 o;

	(void)state;
	/* Inherited through exec: the limit makes errors, not a dead server. */
	signal(SIGXFSZ, SIG_IGN);
	snprintf(top, sizeof top, "%s/mediflow-full-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(top));
	snprintf(data, sizeof data, "%s/data", top);
	snprintf(db_path, sizeof db_path, "%s/mediflow.db", data);
	snprintf(filler, sizeof filler, "%s/filler", data);
	assert_int_equal(mkdir(data, 0700), 0);
	mounted = getenv("MF_TEST_NO_MOUNT") == NULL &&
	    mount("tmpfs", data, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=4m,mode=0700") == 0;
	if (mounted)
		atexit(unmount_at_exit);
	/* The harness dir keeps the log (off the full disk); the server's
	 * last --data-dir wins. */
	args[0] = "--data-dir";
	args[1] = data;
	args[2] = NULL;
	memset(&o, 0, sizeof o);
	o.data_dir = top;
	o.args = args;
	o.config = "rl_api = 100000/15m\nrl_api_staff = 100000/15m\n";
	srv_start(&srv, &o);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (srv.pid > 0 && srv_alive(&srv))
		srv_stop(&srv);
	else
		srv_kill(&srv);
	if (mounted && umount2(data, MNT_DETACH) != 0)
		print_error("umount %s: %s\n", data, strerror(errno));
	mounted = 0;
	rm_tree(top);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
