/* notifications.c -- in-app notifications. Other modules call these, not its SQL. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "db.h"
#include "mp.h"
#include "notifications.h"
#include "session.h"
#include "util.h"

#define NOTIF_COLUMNS "id, user_id, kind, title, body, ref_id, created_at, read_at"

static void	notif_load(sqlite3_stmt *, struct notification *);
static int	push_wants_user(const struct session *, void *);

static void
notif_load(sqlite3_stmt *st, struct notification *n)
{
	n->id = sqlite3_column_int64(st, 0);
	n->user_id = sqlite3_column_int64(st, 1);
	n->kind = xstrdup(db_col_text(st, 2));
	n->title = xstrdup(db_col_text(st, 3));
	n->body = xstrdup(db_col_text(st, 4));
	n->ref_id = sqlite3_column_int64(st, 5);
	n->created_at = sqlite3_column_int64(st, 6);
	n->read_at = sqlite3_column_int64(st, 7);
}

static int
push_wants_user(const struct session *s, void *arg)
{
	return s->user_id == *(const int64_t *)arg;
}

void
notification_clear(struct notification *n)
{
	free(n->kind);
	free(n->title);
	free(n->body);
	n->kind = n->title = n->body = NULL;
}

int
notifications_create(int64_t user_id, const char *kind, const char *title,
    const char *body, int64_t ref_id, int64_t now)
{
	static const char *sql = "INSERT INTO notifications (user_id, kind, "
	    "title, body, ref_id, created_at) VALUES (?, ?, ?, ?, ?, ?)";
	sqlite3_stmt		*st = db_prepare(sql);
	struct notification	 n;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	sqlite3_bind_int64(st, 1, user_id);
	db_bind_text(st, 2, kind);
	db_bind_text(st, 3, title);
	db_bind_text(st, 4, body != NULL ? body : "");
	db_bind_opt_int(st, 5, ref_id != 0, ref_id);
	sqlite3_bind_int64(st, 6, now);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	memset(&n, 0, sizeof n);
	n.id = db_last_id();
	n.user_id = user_id;
	n.kind = (char *)kind;
	n.title = (char *)title;
	n.body = (char *)(body != NULL ? body : "");
	n.ref_id = ref_id;
	n.created_at = now;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	notification_pack(&pk, &n);
	conn_push_event("notification", sb.data, sb.size, push_wants_user, &user_id);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

int
notifications_get(int64_t id, int64_t user_id, struct notification *n)
{
	static const char *sql = "SELECT " NOTIF_COLUMNS " FROM notifications "
	    "WHERE id = ? AND user_id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, user_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		notif_load(st, n);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
notifications_mark_read(int64_t id, int64_t user_id, int64_t now)
{
	static const char *sql = "UPDATE notifications SET read_at = ? "
	    "WHERE id = ? AND user_id = ? AND read_at IS NULL";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, user_id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	return db_changes();
}

int
notifications_mark_all_read(int64_t user_id, int64_t now)
{
	static const char *sql = "UPDATE notifications SET read_at = ? "
	    "WHERE user_id = ? AND read_at IS NULL";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, user_id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	return db_changes();
}

int64_t
notifications_unread(int64_t user_id)
{
	static const char *sql = "SELECT count(*) FROM notifications "
	    "WHERE user_id = ? AND read_at IS NULL";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 n = 0;

	sqlite3_bind_int64(st, 1, user_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int
notifications_list(int64_t user_id, int unread_only, int64_t before_id, int limit,
    void (*fn)(const struct notification *, void *), void *arg)
{
	static const char *sql = "SELECT " NOTIF_COLUMNS " FROM notifications "
	    "WHERE user_id = ?1 AND id < ?2 AND (?3 = 0 OR read_at IS NULL) "
	    "ORDER BY id DESC LIMIT ?4";
	sqlite3_stmt		*st = db_prepare(sql);
	struct notification	 n;
	int			 count = 0;

	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int(st, 3, unread_only);
	sqlite3_bind_int(st, 4, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		memset(&n, 0, sizeof n);
		notif_load(st, &n);
		fn(&n, arg);
		notification_clear(&n);
		count++;
	}
	sqlite3_reset(st);
	return count;
}

void
notification_pack(msgpack_packer *pk, const struct notification *n)
{
	msgpack_pack_map(pk, 7);
	mp_pack_kv_int(pk, "id", n->id);
	mp_pack_kv_str(pk, "kind", n->kind);
	mp_pack_kv_str(pk, "title", n->title);
	mp_pack_kv_str(pk, "body", n->body);
	if (n->ref_id != 0)
		mp_pack_kv_int(pk, "ref_id", n->ref_id);
	else
		mp_pack_kv_nil(pk, "ref_id");
	mp_pack_kv_int(pk, "created_at", n->created_at);
	if (n->read_at != 0)
		mp_pack_kv_int(pk, "read_at", n->read_at);
	else
		mp_pack_kv_nil(pk, "read_at");
}
