/* op-misc.c -- hello, health, and the test clock. */
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "db.h"
#include "mp.h"
#include "ops.h"
#include "proto.h"
#include "reminders.h"
#include "server.h"
#include "worker.h"

int
op_hello(struct req *r)
{
	int64_t	version;

	if (arg_int(r, "version", ARG_REQUIRED, 0, INT32_MAX, &version, NULL) != 0) {
		r->close_after = 1;
		return OP_FAIL;
	}
	if (version != PROTO_VERSION) {
		r->close_after = 1;
		return req_fail(r, ERR_BAD_REQUEST,
		    "unsupported protocol version %lld; this server speaks %d",
		    (long long)version, PROTO_VERSION);
	}
	r->conn->hello_done = 1;
	msgpack_pack_map(&r->pk, 4);
	mp_pack_kv_int(&r->pk, "version", PROTO_VERSION);
	mp_pack_kv_str(&r->pk, "server", "mediflowd/" MEDIFLOWD_VERSION);
	/* Clients show times in the clinic's zone, not their own. */
	mp_pack_kv_str(&r->pk, "tz", server.cfg.tz);
	mp_pack_str(&r->pk, "limits");
	msgpack_pack_map(&r->pk, 4);
	mp_pack_kv_int(&r->pk, "max_frame", (int64_t)server.limits.max_frame);
	mp_pack_kv_int(&r->pk, "max_depth", server.limits.max_depth);
	mp_pack_kv_int(&r->pk, "max_string", (int64_t)server.limits.max_str);
	mp_pack_kv_int(&r->pk, "max_elements", (int64_t)server.limits.max_elements);
	return OP_OK;
}

int
op_health(struct req *r)
{
	static const char *sql = "SELECT 1";
	sqlite3_stmt	*st;
	int		 db_ok;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	st = db_prepare(sql);
	db_ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	msgpack_pack_map(&r->pk, 7);
	mp_pack_kv_str(&r->pk, "status", db_ok ? "ok" : "degraded");
	mp_pack_kv_str(&r->pk, "version", MEDIFLOWD_VERSION);
	mp_pack_kv_int(&r->pk, "protocol", PROTO_VERSION);
	mp_pack_kv_int(&r->pk, "time", r->now);
	mp_pack_kv_int(&r->pk, "uptime", r->now - server.started_at - clock_offset());
	mp_pack_kv_int(&r->pk, "connections", conn_count());
	mp_pack_kv_str(&r->pk, "db", db_ok ? "ok" : "error");
	return OP_OK;
}

int
op_test_clock(struct req *r)
{
	int64_t	advance = 0;

	if (args_only(r, "advance", NULL) != 0 ||
	    arg_int(r, "advance", 0, 0, 10LL * 365 * 86400, &advance, NULL) != 0)
		return OP_FAIL;
	clock_advance(advance);
	reminders_clock_moved();
	msgpack_pack_map(&r->pk, 1);
	mp_pack_kv_int(&r->pk, "now", clock_now());
	return OP_OK;
}
