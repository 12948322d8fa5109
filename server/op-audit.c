/* op-audit.c -- audit.list and audit.verify (admin). */
#include <string.h>

#include "audit.h"
#include "db.h"
#include "mp.h"
#include "ops.h"
#include "util.h"

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

int
op_audit_verify(struct req *r)
{
	int64_t	rows, broken;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	if (audit_verify(&rows, &broken) != 0)
		return req_fail(r, ERR_UNAVAILABLE, "cannot read the audit log");
	msgpack_pack_map(&r->pk, 3);
	mp_pack_kv_bool(&r->pk, "ok", broken == 0);
	mp_pack_kv_int(&r->pk, "rows", rows);
	mp_pack_str(&r->pk, "first_broken_id");
	if (broken == 0)
		msgpack_pack_nil(&r->pk);
	else
		msgpack_pack_int64(&r->pk, broken);
	return OP_OK;
}
