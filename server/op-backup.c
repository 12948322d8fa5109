/* op-backup.c -- admin.backup: an online backup into DATA_DIR/backups.
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
	char			*db_path;
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

	free(j->db_path);
	free(j->path);
	free(j->cause);
	free(j);
}

static void
backup_job_work(void *arg)
{
	struct backup_job	*j = arg;

	j->failed = backup_take(j->db_path, j->path, &j->info, &j->cause) != 0;
}

static void
backup_job_done(void *arg)
{
	struct backup_job	*j = arg;
	struct req		*r = j->req;

	backup_running = 0;
	if (j->failed) {
		log_err("admin.backup failed: %s", j->cause);
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "cannot write the backup: %s",
		    j->cause));
		return;
	}
	log_info("backup %s: %lld bytes, %lld pages, sha256 %s", j->path,
	    (long long)j->info.bytes, (long long)j->info.pages, j->info.sha256);
	if (db_begin() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	audit_req(r, "admin.backup", 0, j->path, "%lld bytes, %lld pages, sha256 %s",
	    (long long)j->info.bytes, (long long)j->info.pages, j->info.sha256);
	if (db_commit() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	msgpack_pack_map(&r->pk, 4);
	mp_pack_kv_str(&r->pk, "path", j->path);
	mp_pack_kv_int(&r->pk, "bytes", j->info.bytes);
	mp_pack_kv_str(&r->pk, "sha256", j->info.sha256);
	mp_pack_kv_int(&r->pk, "pages", j->info.pages);
	req_finish(r, OP_OK);
}

int
op_admin_backup(struct req *r)
{
	struct backup_job	*j;
	struct tm		 tm;
	time_t			 t = (time_t)r->now;
	char			 stamp[32], *dir, *path = NULL;
	int			 n;

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
		if (access(path, F_OK) != 0)
			break;
	}
	free(dir);
	if (n == 100) {
		free(path);
		return req_fail(r, ERR_CONFLICT, "too many backups this second");
	}
	j = xcalloc(1, sizeof *j);
	j->req = r;
	j->db_path = xasprintf("%s/mediflow.db", server.cfg.data_dir);
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
