/* test_faults.c -- I/O error injection, the way SQLite tests itself.
 *
 * A VFS shim wraps the default one and fails the Nth I/O operation (read,
 * write, truncate, sync, size) with the SQLITE_IOERR_* code SQLite's own
 * unix VFS would return. For N = 1, 2, 3, … a booking (appt_insert, its
 * event row, its audit row) and a record write (records_insert, its first
 * version, its audit row) run through the domain functions inside the
 * server's group commit (db_begin/db_commit as savepoints, one COMMIT per
 * batch); after each run, with the faults off:
 *
 *  - PRAGMA integrity_check is ok, on the same connection and after a
 *    reopen (what a restart would find);
 *  - the operation happened whole or not at all, and whole whenever it
 *    reported success;
 *  - the same connection then does the operation again (service resumes).
 *
 * Each N runs twice: the fault once (a transient error), and the fault from
 * the Nth operation on (a disk that went away). The loop for an operation
 * ends at the first N the operation no longer reaches. */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "appointments.h"
#include "audit.h"
#include "db.h"
#include "records.h"
#include "store_fixture.h"
#include "util.h"
#include "walbuf.h"

#define N_MAX	2000	/* a bound, far above what one operation needs */

/* --- the shim --- */

static struct {
	int	armed;
	int	at;		/* fail the at-th operation (1-based) */
	int	persist;	/* and every one after it */
	int	count;		/* operations seen while armed */
	int	hit;		/* faults injected */
} fault;

struct fault_file {
	sqlite3_file	 base;
	sqlite3_file	*real;		/* follows this struct in the same block */
};

static sqlite3_vfs	*real_vfs;
static sqlite3_vfs	 fault_vfs;

/* 1 when this operation must fail. */
static int
fault_now(void)
{
	if (!fault.armed)
		return 0;
	fault.count++;
	if (fault.count == fault.at || (fault.persist && fault.count > fault.at)) {
		fault.hit++;
		return 1;
	}
	return 0;
}

#define REAL(f)	(((struct fault_file *)(f))->real)

static int
f_close(sqlite3_file *f)
{
	int	rc = REAL(f)->pMethods->xClose(REAL(f));

	return rc;
}

static int
f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	if (fault_now())
		return SQLITE_IOERR_READ;
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fault_now())
		return SQLITE_IOERR_WRITE;
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fault_now())
		return SQLITE_IOERR_TRUNCATE;
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
f_sync(sqlite3_file *f, int flags)
{
	struct walbuf_stats	s;

	/* The store's WAL buffer (walbuf.c) is empty at every sync: what
	 * SQLite wrote before it is in the file the sync is for. */
	walbuf_stats(&s);
	assert_true(s.wal_bytes_in == s.wal_bytes);
	if (fault_now())
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	if (fault_now())
		return SQLITE_IOERR_FSTAT;
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
f_check_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
f_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}

static int
f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
f_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
f_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* No memory-mapped reads: every page read goes through f_read. */
static int
f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	(void)f;
	(void)off;
	(void)n;
	*pp = NULL;
	return SQLITE_OK;
}

static int
f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	(void)f;
	(void)off;
	(void)p;
	return SQLITE_OK;
}

static const sqlite3_io_methods fault_io = {
	3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock,
	f_unlock, f_check_lock, f_control, f_sector, f_device, f_shm_map,
	f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch
};

static int
v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct fault_file	*ff = (struct fault_file *)f;
	int			 rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	/* SQLite calls xClose only when pMethods is set. */
	ff->base.pMethods = ff->real->pMethods != NULL ? &fault_io : NULL;
	return rc;
}

static int
v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs;
	return real_vfs->xDelete(real_vfs, name, sync);
}

static int
v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int
v_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return real_vfs->xDlOpen(real_vfs, name);
}

static void
v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	real_vfs->xDlError(real_vfs, n, msg);
}

static void
(*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return real_vfs->xDlSym(real_vfs, h, sym);
}

static void
v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	real_vfs->xDlClose(real_vfs, h);
}

static int
v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int
v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}

static int
v_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int
v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, out);
}

static int
v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

/* Registers the shim as the default VFS, so db_open uses it. */
static void
fault_vfs_install(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	fault_vfs.iVersion = 2;
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
	fault_vfs.mxPathname = real_vfs->mxPathname;
	fault_vfs.zName = "mediflow-fault";
	fault_vfs.xOpen = v_open;
	fault_vfs.xDelete = v_delete;
	fault_vfs.xAccess = v_access;
	fault_vfs.xFullPathname = v_full;
	fault_vfs.xDlOpen = v_dlopen;
	fault_vfs.xDlError = v_dlerror;
	fault_vfs.xDlSym = v_dlsym;
	fault_vfs.xDlClose = v_dlclose;
	fault_vfs.xRandomness = v_random;
	fault_vfs.xSleep = v_sleep;
	fault_vfs.xCurrentTime = v_time;
	fault_vfs.xGetLastError = v_last_error;
	fault_vfs.xCurrentTimeInt64 = v_time64;
	assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

/* --- the store under test --- */

static char	tmpdir[64];
static char	template_path[300], db_path[300];
static int64_t	doctor_id, patient_id, user_id;
static struct event_base *base;
static int	batch_ok;		/* the last batch's COMMIT went through */

static void
on_open(void)
{
}

static void
on_close(int ok)
{
	batch_ok = ok;
}

static void
copy_file(const char *from, const char *to)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 in, out;

	assert_true((in = open(from, O_RDONLY)) >= 0);
	assert_true((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* The first column of the first row; ?1, if any, bound to text. */
static int64_t
q_int(const char *sql, const char *text)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_prepare_v2(db_handle(), sql, -1, &st, NULL),
	    SQLITE_OK);
	if (text != NULL)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
assert_intact(void)
{
	sqlite3_stmt	*st;

	assert_int_equal(sqlite3_prepare_v2(db_handle(), "PRAGMA integrity_check",
	    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* Opens db_path (faults off) as the server does, with group commit. */
static void
store_open(void)
{
	char	*cause = NULL;

	if (db_open(db_path, 1, &cause) != 0)
		fail_msg("db_open: %s", cause);
	/* Page reads through xRead, where the shim can fail them. */
	assert_int_equal(sqlite3_exec(db_handle(), "PRAGMA mmap_size = 0", NULL,
	    NULL, NULL), SQLITE_OK);
	db_batch_start(base, on_open, on_close);
}

static void
store_close(void)
{
	db_batch_stop();
	db_close();
}

/* --- the operations: each one write transaction, as its op does it --- */

struct op_case {
	const char	*name;
	int		(*run)(int tag);
	/* The rows the operation writes with tag, counted: all or none. */
	const char	*count_sql[3];
};

static int
run_booking(int tag)
{
	struct audit_entry	 e;
	struct appt		 a;
	int64_t			 conflict;
	char			 detail[64];

	memset(&a, 0, sizeof a);
	a.doctor_id = doctor_id;
	a.patient_id = patient_id;
	a.starts_at = 2000000000 + (int64_t)tag * 3600;
	a.ends_at = a.starts_at + 1200;
	a.status = APPT_APPROVED;
	snprintf(a.reason, sizeof a.reason, "fault %d", tag);
	a.created_by = user_id;
	a.created_at = a.updated_at = 1700000000;
	if (db_begin() != 0)
		return -1;
	if (appt_insert(&a, &conflict) != 0) {
		db_rollback();
		return -1;
	}
	memset(&e, 0, sizeof e);
	e.ts = a.created_at;
	e.actor_id = user_id;
	e.actor_role = "receptionist";
	e.action = "appt.book";
	e.patient_id = patient_id;
	snprintf(detail, sizeof detail, "fault %d", tag);
	e.detail = detail;
	if (audit_append(&e) != 0) {
		db_rollback();
		return -1;
	}
	if (db_commit() != 0)
		return -1;
	return db_batch_flush();
}

static int
run_record(int tag)
{
	struct audit_entry	 e;
	struct record		*r;
	char			 detail[64];
	int			 rc = -1;

	r = xcalloc(1, sizeof *r);
	r->patient_id = patient_id;
	r->doctor_id = doctor_id;
	r->author_id = user_id;
	r->created_at = r->amended_at = 1700000000;
	snprintf(r->diagnosis, sizeof r->diagnosis, "fault %d", tag);
	strlcpy_mf(r->diagnosis_code, "J06.9", sizeof r->diagnosis_code);
	strlcpy_mf(r->notes, "written under injected I/O errors", sizeof r->notes);
	if (db_begin() != 0)
		goto out;
	if (records_insert(r) != 0) {
		db_rollback();
		goto out;
	}
	memset(&e, 0, sizeof e);
	e.ts = r->created_at;
	e.actor_id = user_id;
	e.actor_role = "doctor";
	e.action = "records.create";
	e.patient_id = patient_id;
	snprintf(detail, sizeof detail, "fault %d", tag);
	e.detail = detail;
	if (audit_append(&e) != 0) {
		db_rollback();
		goto out;
	}
	if (db_commit() != 0)
		goto out;
	rc = db_batch_flush();
out:
	free(r);
	return rc;
}

static const struct op_case cases[] = {
	{ "booking", run_booking, {
		"SELECT count(*) FROM appointments WHERE reason = ?1",
		"SELECT count(*) FROM appointment_events e JOIN appointments a ON "
		    "a.id = e.appointment_id WHERE a.reason = ?1",
		"SELECT count(*) FROM audit WHERE detail = ?1" } },
	{ "record", run_record, {
		"SELECT count(*) FROM record_versions WHERE diagnosis = ?1",
		"SELECT count(*) FROM records r JOIN record_versions v ON "
		    "v.record_id = r.id WHERE v.diagnosis = ?1",
		"SELECT count(*) FROM audit WHERE detail = ?1" } },
};

/* 1 when every row of the operation tagged tag is there, 0 when none is;
 * fails on anything in between. */
static int
rows_there(const struct op_case *c, int tag)
{
	char	 tagtext[32];
	int64_t	 n[3];
	size_t	 i;

	snprintf(tagtext, sizeof tagtext, "fault %d", tag);
	for (i = 0; i < 3; i++)
		n[i] = q_int(c->count_sql[i], tagtext);
	if (n[0] != n[1] || n[1] != n[2] || n[0] > 1)
		fail_msg("%s %d is half there: %lld, %lld, %lld rows", c->name, tag,
		    (long long)n[0], (long long)n[1], (long long)n[2]);
	return (int)n[0];
}

static void
fault_loop(const struct op_case *c, int persist)
{
	int	n, rc, hit, there, ops_needed = 0, failures = 0;
	int	committed_despite_error = 0;

	for (n = 1; n <= N_MAX; n++) {
		store_fixture_remove(db_path);
		copy_file(template_path, db_path);
		store_open();

		memset(&fault, 0, sizeof fault);
		fault.at = n;
		fault.persist = persist;
		fault.armed = 1;
		rc = c->run(n);
		fault.armed = 0;
		hit = fault.hit;
		ops_needed = fault.count;

		/* The same connection, as the server would go on using it. */
		db_rollback();
		db_batch_flush();
		assert_intact();
		there = rows_there(c, n);
		if (rc == 0)
			assert_int_equal(there, 1);
		else {
			failures++;
			committed_despite_error += there;
		}
		/* Service resumes: the same operation goes through now. */
		assert_int_equal(c->run(N_MAX + n), 0);
		assert_int_equal(rows_there(c, N_MAX + n), 1);
		store_close();

		/* What a restart finds. */
		store_open();
		assert_intact();
		assert_int_equal(rows_there(c, n), there);
		assert_int_equal(rows_there(c, N_MAX + n), 1);
		store_close();

		if (!hit)
			break;
		/* A fault the operation reached must not pass silently. */
		if (rc == 0 && hit)
			print_message("%s: fault %d of %d was absorbed by SQLite\n",
			    c->name, n, ops_needed);
	}
	assert_true(n <= N_MAX);
	assert_true(n > 1);
	print_message("%s (%s faults): %d I/O operations; %d runs failed cleanly, "
	    "%d committed though they reported an error\n", c->name,
	    persist ? "persistent" : "one-shot", ops_needed, failures,
	    committed_despite_error);
}

static void
test_booking_one_shot(void **state)
{
	(void)state;
	fault_loop(&cases[0], 0);
}

static void
test_booking_persistent(void **state)
{
	(void)state;
	fault_loop(&cases[0], 1);
}

static void
test_record_one_shot(void **state)
{
	(void)state;
	fault_loop(&cases[1], 0);
}

static void
test_record_persistent(void **state)
{
	(void)state;
	fault_loop(&cases[1], 1);
}

static int
group_setup(void **state)
{
	char	*cause = NULL;

	(void)state;
	/* Hundreds of opens and fsyncs: in memory when there is a tmpfs. */
	snprintf(tmpdir, sizeof tmpdir, "%s/mediflow-faults-XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(template_path, sizeof template_path, "%s/template.db", tmpdir);
	snprintf(db_path, sizeof db_path, "%s/t.db", tmpdir);
	fault_vfs_install();
	base = event_base_new();
	/* The template: the schema and one doctor and patient, closed clean
	 * (no -wal) so each run starts from the same bytes. */
	if (db_open(template_path, 1, &cause) != 0) {
		print_error("db_open: %s\n", cause);
		return -1;
	}
	if (sqlite3_exec(db_handle(),
	    "INSERT INTO users (email, full_name, role, password_hash, created_at, "
	    "updated_at) VALUES ('d@x.org', 'Dr. Fault', 'doctor', 'x', 1, 1);"
	    "INSERT INTO doctors (user_id, created_at, updated_at) VALUES "
	    "(last_insert_rowid(), 1, 1);"
	    "INSERT INTO patients (full_name, created_at, updated_at) VALUES "
	    "('Pat Fault', 1, 1);", NULL, NULL, NULL) != SQLITE_OK) {
		print_error("seed: %s\n", sqlite3_errmsg(db_handle()));
		return -1;
	}
	user_id = 1;
	doctor_id = 1;
	patient_id = 1;
	db_close();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	store_fixture_remove(db_path);
	store_fixture_remove(template_path);
	rmdir(tmpdir);
	event_base_free(base);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_booking_one_shot),
		cmocka_unit_test(test_booking_persistent),
		cmocka_unit_test(test_record_one_shot),
		cmocka_unit_test(test_record_persistent),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
