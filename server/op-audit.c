/* op-audit.c -- audit.list and audit.verify (admin). */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "server.h"
#include "util.h"
#include "worker.h"

#define AUDIT_LIMIT_MAX	500

int
op_audit_list(struct req *r)
{
	const char	*action = NULL;
	int64_t		 user_id = 0, patient_id = 0, from = 0, to = 0, before = 0;
	int64_t		 limit = 100;
	int		 has_user, has_patient, has_from, has_to, has_before;
	msgpack_sbuffer	 rows;
	msgpack_packer	 pk;
	sqlite3_stmt	*st;
	size_t		 n = 0;

	if (args_only(r, "user_id", "action", "patient_id", "from", "to",
	    "before_id", "limit", NULL) != 0 ||
	    arg_int(r, "user_id", ARG_NULLABLE, 1, INT64_MAX, &user_id, &has_user) != 0 ||
	    arg_str(r, "action", ARG_NULLABLE, 1, 64, &action) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id, &has_patient) != 0 ||
	    arg_int(r, "from", ARG_NULLABLE, 0, INT64_MAX, &from, &has_from) != 0 ||
	    arg_int(r, "to", ARG_NULLABLE, 0, INT64_MAX, &to, &has_to) != 0 ||
	    arg_int(r, "before_id", ARG_NULLABLE, 1, INT64_MAX, &before, &has_before) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, AUDIT_LIMIT_MAX, &limit, NULL) != 0)
		return OP_FAIL;
	st = db_prepare(audit_list_sql(has_user, action != NULL, has_patient));
	db_bind_opt_int(st, 1, has_user, user_id);
	db_bind_text(st, 2, action);
	db_bind_opt_int(st, 3, has_patient, patient_id);
	db_bind_opt_int(st, 4, has_from, from);
	db_bind_opt_int(st, 5, has_to, to);
	sqlite3_bind_int64(st, 6, has_before ? before : INT64_MAX);
	sqlite3_bind_int64(st, 7, limit);

	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&pk, &rows, msgpack_sbuffer_write);
	while (sqlite3_step(st) == SQLITE_ROW) {
		msgpack_pack_map(&pk, 9);
		mp_pack_kv_int(&pk, "id", sqlite3_column_int64(st, 0));
		mp_pack_kv_int(&pk, "ts", sqlite3_column_int64(st, 1));
		mp_pack_str(&pk, "actor_id");
		if (sqlite3_column_type(st, 2) == SQLITE_NULL)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_int64(&pk, sqlite3_column_int64(st, 2));
		mp_pack_kv_str(&pk, "actor_role", db_col_text(st, 3));
		mp_pack_kv_str(&pk, "action", db_col_text(st, 4));
		mp_pack_str(&pk, "patient_id");
		if (sqlite3_column_type(st, 5) == SQLITE_NULL)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_int64(&pk, sqlite3_column_int64(st, 5));
		mp_pack_kv_str(&pk, "target", db_col_text(st, 6));
		mp_pack_kv_str(&pk, "detail", db_col_text(st, 7));
		mp_pack_kv_str(&pk, "addr", db_col_text(st, 8));
		n++;
	}
	sqlite3_reset(st);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "entries");
	msgpack_pack_array(&r->pk, n);
	msgpack_sbuffer_write(&r->result, rows.data, rows.size);
	msgpack_sbuffer_destroy(&rows);
	return OP_OK;
}

/*
 * audit.verify hashes every row of the log: at tens of millions of rows,
 * seconds. It runs on a worker thread with a connection of its own (as the
 * backup does), so the loop goes on serving meanwhile; one at a time, so it
 * holds at most one of the workers the logins' hashing shares.
 */
struct verify_job {
	struct req	*req;
	char		*db_path;
	char		*cause;
	int64_t		 rows;
	int64_t		 broken;
	int		 failed;
};

static int	verify_running;

static void
verify_job_free(void *arg)
{
	struct verify_job	*j = arg;

	free(j->db_path);
	free(j->cause);
	free(j);
}

static void
verify_job_work(void *arg)
{
	struct verify_job	*j = arg;

	j->failed = audit_verify_file(j->db_path, &j->rows, &j->broken,
	    &j->cause) != 0;
}

static void
verify_job_done(void *arg)
{
	struct verify_job	*j = arg;
	struct req		*r = j->req;

	verify_running = 0;
	if (j->failed) {
		log_err("audit.verify: %s", j->cause);
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "cannot read the audit log"));
		return;
	}
	msgpack_pack_map(&r->pk, 3);
	mp_pack_kv_bool(&r->pk, "ok", j->broken == 0);
	mp_pack_kv_int(&r->pk, "rows", j->rows);
	mp_pack_str(&r->pk, "first_broken_id");
	if (j->broken == 0)
		msgpack_pack_nil(&r->pk);
	else
		msgpack_pack_int64(&r->pk, j->broken);
	req_finish(r, OP_OK);
}

int
op_audit_verify(struct req *r)
{
	struct verify_job	*j;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	if (verify_running)
		return req_fail(r, ERR_CONFLICT, "a verification is already running");
	j = xcalloc(1, sizeof *j);
	j->req = r;
	j->db_path = xasprintf("%s/mediflow.db", server.cfg.data_dir);
	r->data = j;
	r->free_data = verify_job_free;
	if (worker_submit(verify_job_work, verify_job_done, j,
	    server.cfg.hash_queue_max) != 0) {
		r->retry_after = 1;
		return req_fail(r, ERR_UNAVAILABLE, "server busy; try again");
	}
	verify_running = 1;
	return OP_PENDING;
}
