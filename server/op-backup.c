/* op-backup.c -- admin.backup: an online backup into DATA_DIR/backups, the
 * database and, beside it, the attachments its snapshot names.
 *
 * The copy runs on a worker thread with its own connection, so the loop
 * keeps serving (and writing) while it reads its snapshot. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "backup.h"
#include "db.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "server.h"
#include "util.h"
#include "worker.h"

struct backup_job {
	struct req		*req;
	char			*data_dir;
	char			*path;
	struct backup_info	 info;
	char			*cause;
	int			 failed;
};

/* One backup at a time: they would only compete for the disk. */
static int	backup_running;

static void
backup_job_free(void *arg)
{
	struct backup_job	*j = arg;

	free(j->data_dir);
	free(j->path);
	free(j->cause);
	free(j);
}

static void
backup_job_work(void *arg)
{
	struct backup_job	*j = arg;

	j->failed = backup_take(j->data_dir, j->path, &j->info, &j->cause) != 0;
}

static void
backup_job_done(void *arg)
{
	struct backup_job	*j = arg;
	struct req		*r = j->req;
	struct backup_info	*in = &j->info;
	char			*fdir;
	int64_t			 i, nids;

	backup_running = 0;
	if (j->failed) {
		log_err("admin.backup failed: %s", j->cause);
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "cannot write the backup: %s",
		    j->cause));
		return;
	}
	fdir = backup_files_dir(j->path);
	log_info("backup %s: %lld bytes, %lld pages, sha256 %s; %lld attachments "
	    "(%lld bytes, %lld linked) in %s, %lld missing", j->path,
	    (long long)in->bytes, (long long)in->pages, in->sha256,
	    (long long)in->files, (long long)in->file_bytes,
	    (long long)in->files_linked, fdir, (long long)in->files_missing);
	if (in->files_missing > 0)
		log_err("backup %s lacks %lld attachment%s its database names: "
		    "it cannot be restored as it is", j->path,
		    (long long)in->files_missing, in->files_missing == 1 ? "" : "s");
	if (db_begin() != 0) {
		free(fdir);
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	audit_req(r, "admin.backup", 0, j->path, "%lld bytes, %lld pages, sha256 "
	    "%s; %lld attachments, %lld bytes, %lld missing", (long long)in->bytes,
	    (long long)in->pages, in->sha256, (long long)in->files,
	    (long long)in->file_bytes, (long long)in->files_missing);
	if (db_commit() != 0) {
		free(fdir);
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	msgpack_pack_map(&r->pk, 10);
	mp_pack_kv_str(&r->pk, "path", j->path);
	mp_pack_kv_int(&r->pk, "bytes", in->bytes);
	mp_pack_kv_str(&r->pk, "sha256", in->sha256);
	mp_pack_kv_int(&r->pk, "pages", in->pages);
	mp_pack_kv_str(&r->pk, "files_dir", fdir);
	mp_pack_kv_int(&r->pk, "files", in->files);
	mp_pack_kv_int(&r->pk, "file_bytes", in->file_bytes);
	mp_pack_kv_int(&r->pk, "files_linked", in->files_linked);
	mp_pack_kv_int(&r->pk, "files_missing", in->files_missing);
	nids = in->files_missing < BACKUP_MISSING_IDS ? in->files_missing :
	    BACKUP_MISSING_IDS;
	mp_pack_str(&r->pk, "missing");
	msgpack_pack_array(&r->pk, (size_t)nids);
	for (i = 0; i < nids; i++)
		msgpack_pack_int64(&r->pk, in->missing_ids[i]);
	free(fdir);
	req_finish(r, OP_OK);
}

int
op_admin_backup(struct req *r)
{
	struct backup_job	*j;
	struct tm		 tm;
	time_t			 t = (time_t)r->now;
	char			 stamp[32], *dir, *path = NULL, *fdir;
	int			 n, taken;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	if (backup_running)
		return req_fail(r, ERR_CONFLICT, "a backup is already running");
	dir = xasprintf("%s/backups", server.cfg.data_dir);
	if (mkdir_p(dir, 0700) != 0) {
		log_err("admin.backup: cannot make %s", dir);
		free(dir);
		return req_fail(r, ERR_UNAVAILABLE, "cannot make the backups directory");
	}
	/* The name is ours, never the caller's: the server's UTC time, and
	 * a counter when two backups share a second. */
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (n = 0; n < 100; n++) {
		free(path);
		path = n == 0 ? xasprintf("%s/mediflow-%s.db", dir, stamp) :
		    xasprintf("%s/mediflow-%s-%d.db", dir, stamp, n);
		fdir = backup_files_dir(path);
		taken = access(path, F_OK) == 0 || access(fdir, F_OK) == 0;
		free(fdir);
		if (!taken)
			break;
	}
	free(dir);
	if (n == 100) {
		free(path);
		return req_fail(r, ERR_CONFLICT, "too many backups this second");
	}
	j = xcalloc(1, sizeof *j);
	j->req = r;
	j->data_dir = xstrdup(server.cfg.data_dir);
	j->path = path;
	r->data = j;
	r->free_data = backup_job_free;
	if (worker_submit(backup_job_work, backup_job_done, j,
	    server.cfg.hash_queue_max) != 0) {
		r->retry_after = 1;
		return req_fail(r, ERR_UNAVAILABLE, "server busy; try again");
	}
	backup_running = 1;
	return OP_PENDING;
}
