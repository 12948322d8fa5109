/* op-notifications.c -- notifications.list, notifications.read,
 * notifications.read_all. The rows are made by other modules through
 * notifications_create. */
#include <string.h>

#include "db.h"
#include "mp.h"
#include "notifications.h"
#include "ops.h"
#include "util.h"

#define NOTIF_LIST_DEFAULT	50
#define NOTIF_LIST_MAX		200

struct notif_list_ctx {
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

static void	list_pack_one(const struct notification *, void *);

static void
list_pack_one(const struct notification *n, void *arg)
{
	struct notif_list_ctx	*l = arg;

	notification_pack(&l->pk, n);
}

int
op_notifications_list(struct req *r)
{
	struct notif_list_ctx	l;
	int64_t			before = 0, limit = NOTIF_LIST_DEFAULT;
	int			unread_only = 0, n;

	if (args_only(r, "unread_only", "before_id", "limit", NULL) != 0 ||
	    arg_bool(r, "unread_only", ARG_NULLABLE, &unread_only, NULL) != 0 ||
	    arg_int(r, "before_id", ARG_NULLABLE, 1, INT64_MAX, &before, NULL) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, NOTIF_LIST_MAX, &limit, NULL) != 0)
		return OP_FAIL;
	msgpack_sbuffer_init(&l.sb);
	msgpack_packer_init(&l.pk, &l.sb, msgpack_sbuffer_write);
	n = notifications_list(req_user_id(r), unread_only, before, (int)limit,
	    list_pack_one, &l);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "notifications");
	msgpack_pack_array(&r->pk, (uint32_t)n);
	if (l.sb.size > 0)
		msgpack_sbuffer_write(&r->result, l.sb.data, l.sb.size);
	mp_pack_kv_int(&r->pk, "unread", notifications_unread(req_user_id(r)));
	msgpack_sbuffer_destroy(&l.sb);
	return OP_OK;
}

int
op_notifications_read(struct req *r)
{
	struct notification	n;
	int64_t			id, me = req_user_id(r);

	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	memset(&n, 0, sizeof n);
	if (notifications_get(id, me, &n) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no notification with id %lld",
		    (long long)id);
	if (n.read_at == 0) {
		if (db_begin() != 0) {
			notification_clear(&n);
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
		if (notifications_mark_read(id, me, r->now) < 0) {
			db_rollback();
			notification_clear(&n);
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
		if (db_commit() != 0) {
			notification_clear(&n);
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
		n.read_at = r->now;
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "notification");
	notification_pack(&r->pk, &n);
	mp_pack_kv_int(&r->pk, "unread", notifications_unread(me));
	notification_clear(&n);
	return OP_OK;
}

int
op_notifications_read_all(struct req *r)
{
	int	n;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if ((n = notifications_mark_all_read(req_user_id(r), r->now)) < 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 1);
	mp_pack_kv_int(&r->pk, "marked", n);
	return OP_OK;
}
