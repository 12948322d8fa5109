/* chat.c -- conversations and messages. Other modules call these, not its SQL. */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "db.h"
#include "mp.h"
#include "util.h"

#define CONV_COLUMNS "id, user_a, user_b, a_read_id, b_read_id, last_message_id, created_at"
#define MSG_COLUMNS "id, conversation_id, sender_id, client_msg_id, body, created_at"

static void	conv_load(sqlite3_stmt *, struct chat_conv *);
static void	msg_load(sqlite3_stmt *, struct chat_msg *);

static void
conv_load(sqlite3_stmt *st, struct chat_conv *cv)
{
	cv->id = sqlite3_column_int64(st, 0);
	cv->user_a = sqlite3_column_int64(st, 1);
	cv->user_b = sqlite3_column_int64(st, 2);
	cv->a_read_id = sqlite3_column_int64(st, 3);
	cv->b_read_id = sqlite3_column_int64(st, 4);
	cv->last_message_id = sqlite3_column_int64(st, 5);
	cv->created_at = sqlite3_column_int64(st, 6);
}

static void
msg_load(sqlite3_stmt *st, struct chat_msg *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->conversation_id = sqlite3_column_int64(st, 1);
	m->sender_id = sqlite3_column_int64(st, 2);
	m->client_msg_id = xstrdup(db_col_text(st, 3));
	m->body = xstrdup(db_col_text(st, 4));
	m->created_at = sqlite3_column_int64(st, 5);
}

int
chat_conv_get(int64_t id, struct chat_conv *cv)
{
	static const char *sql = "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		conv_load(st, cv);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
chat_conv_find(int64_t user1, int64_t user2, struct chat_conv *cv)
{
	static const char *sql = "SELECT " CONV_COLUMNS " FROM conversations "
	    "WHERE user_a = ? AND user_b = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, user1 < user2 ? user1 : user2);
	sqlite3_bind_int64(st, 2, user1 < user2 ? user2 : user1);
	if (sqlite3_step(st) == SQLITE_ROW) {
		conv_load(st, cv);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
chat_conv_create(int64_t user1, int64_t user2, int64_t now, struct chat_conv *cv)
{
	static const char *sql = "INSERT INTO conversations (user_a, user_b, "
	    "created_at) VALUES (?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);

	memset(cv, 0, sizeof *cv);
	cv->user_a = user1 < user2 ? user1 : user2;
	cv->user_b = user1 < user2 ? user2 : user1;
	cv->created_at = now;
	sqlite3_bind_int64(st, 1, cv->user_a);
	sqlite3_bind_int64(st, 2, cv->user_b);
	sqlite3_bind_int64(st, 3, now);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	cv->id = db_last_id();
	return 0;
}

int
chat_conv_has(const struct chat_conv *cv, int64_t user_id)
{
	return user_id != 0 && (cv->user_a == user_id || cv->user_b == user_id);
}

int64_t
chat_conv_peer(const struct chat_conv *cv, int64_t user_id)
{
	return cv->user_a == user_id ? cv->user_b : cv->user_a;
}

int64_t
chat_conv_read_id(const struct chat_conv *cv, int64_t user_id)
{
	return cv->user_a == user_id ? cv->a_read_id : cv->b_read_id;
}

void
chat_msg_clear(struct chat_msg *m)
{
	free(m->client_msg_id);
	free(m->body);
	m->client_msg_id = m->body = NULL;
}

int
chat_msg_get(int64_t id, struct chat_msg *m)
{
	static const char *sql = "SELECT " MSG_COLUMNS " FROM messages WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		msg_load(st, m);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
chat_msg_by_client_id(int64_t sender_id, const char *client_msg_id,
    struct chat_msg *m)
{
	static const char *sql = "SELECT " MSG_COLUMNS " FROM messages "
	    "WHERE sender_id = ? AND client_msg_id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, sender_id);
	db_bind_text(st, 2, client_msg_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		msg_load(st, m);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
chat_msg_insert(struct chat_msg *m)
{
	static const char *ins = "INSERT INTO messages (conversation_id, "
	    "sender_id, client_msg_id, body, created_at) VALUES (?, ?, ?, ?, ?)";
	static const char *upd = "UPDATE conversations SET last_message_id = ?1, "
	    "a_read_id = CASE WHEN user_a = ?2 THEN ?1 ELSE a_read_id END, "
	    "b_read_id = CASE WHEN user_b = ?2 THEN ?1 ELSE b_read_id END "
	    "WHERE id = ?3";
	sqlite3_stmt	*st = db_prepare(ins);

	sqlite3_bind_int64(st, 1, m->conversation_id);
	sqlite3_bind_int64(st, 2, m->sender_id);
	db_bind_text(st, 3, m->client_msg_id);
	db_bind_text(st, 4, m->body);
	sqlite3_bind_int64(st, 5, m->created_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	m->id = db_last_id();
	st = db_prepare(upd);
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, m->sender_id);
	sqlite3_bind_int64(st, 3, m->conversation_id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	return 0;
}

void
chat_msg_pack(msgpack_packer *pk, const struct chat_msg *m)
{
	msgpack_pack_map(pk, 6);
	mp_pack_kv_int(pk, "id", m->id);
	mp_pack_kv_int(pk, "conversation_id", m->conversation_id);
	mp_pack_kv_int(pk, "sender_id", m->sender_id);
	mp_pack_kv_str(pk, "body", m->body);
	mp_pack_kv_str(pk, "client_msg_id", m->client_msg_id);
	mp_pack_kv_int(pk, "created_at", m->created_at);
}

int
chat_mark_read(const struct chat_conv *cv, int64_t user_id, int64_t up_to,
    int64_t *read_id)
{
	static const char *sql_a = "UPDATE conversations SET a_read_id = ? WHERE id = ?";
	static const char *sql_b = "UPDATE conversations SET b_read_id = ? WHERE id = ?";
	int64_t		 cur = chat_conv_read_id(cv, user_id);
	sqlite3_stmt	*st;

	if (up_to > cv->last_message_id)
		up_to = cv->last_message_id;
	*read_id = cur;
	if (up_to <= cur)
		return 0;
	st = db_prepare(cv->user_a == user_id ? sql_a : sql_b);
	sqlite3_bind_int64(st, 1, up_to);
	sqlite3_bind_int64(st, 2, cv->id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	*read_id = up_to;
	return 1;
}

int64_t
chat_unread(const struct chat_conv *cv, int64_t user_id)
{
	static const char *sql = "SELECT count(*) FROM messages WHERE "
	    "conversation_id = ? AND sender_id != ? AND id > ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 n = 0;

	sqlite3_bind_int64(st, 1, cv->id);
	sqlite3_bind_int64(st, 2, user_id);
	sqlite3_bind_int64(st, 3, chat_conv_read_id(cv, user_id));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int64_t
chat_unread_total(int64_t user_id)
{
	static const char *sql = "SELECT count(*) FROM conversations c "
	    "JOIN messages m ON m.conversation_id = c.id AND m.sender_id != ?1 "
	    "AND m.id > (CASE WHEN c.user_a = ?1 THEN c.a_read_id ELSE c.b_read_id END) "
	    "WHERE (c.user_a = ?1 OR c.user_b = ?1) "
	    "AND c.last_message_id > (CASE WHEN c.user_a = ?1 THEN c.a_read_id "
	    "ELSE c.b_read_id END)";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 n = 0;

	sqlite3_bind_int64(st, 1, user_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

void
chat_list(int64_t user_id, void (*fn)(const struct chat_conv *, void *), void *arg)
{
	static const char *sql = "SELECT " CONV_COLUMNS " FROM conversations "
	    "WHERE user_a = ?1 OR user_b = ?1 ORDER BY last_message_id DESC, id DESC";
	sqlite3_stmt		*st = db_prepare(sql);
	struct chat_conv	*list = NULL;
	size_t			 n = 0, cap = 0, i;

	/* Collect first: fn runs other statements. */
	sqlite3_bind_int64(st, 1, user_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		conv_load(st, &list[n++]);
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		fn(&list[i], arg);
	free(list);
}

int
chat_history(int64_t conversation_id, int64_t before_id, int64_t after_id,
    int limit, void (*fn)(const struct chat_msg *, void *), void *arg)
{
	static const char *sql_before = "SELECT " MSG_COLUMNS " FROM messages "
	    "WHERE conversation_id = ? AND id < ? ORDER BY id DESC LIMIT ?";
	static const char *sql_after = "SELECT " MSG_COLUMNS " FROM messages "
	    "WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?";
	sqlite3_stmt	*st;
	struct chat_msg	*list;
	int		 n = 0, i, more = 0;

	if (after_id >= 0) {
		st = db_prepare(sql_after);
		sqlite3_bind_int64(st, 2, after_id);
	} else {
		st = db_prepare(sql_before);
		sqlite3_bind_int64(st, 2, before_id > 0 ? before_id : INT64_MAX);
	}
	sqlite3_bind_int64(st, 1, conversation_id);
	sqlite3_bind_int64(st, 3, (int64_t)limit + 1);
	list = xcalloc((size_t)limit + 1, sizeof *list);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == limit) {
			more = 1;
			break;
		}
		msg_load(st, &list[n++]);
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		fn(&list[after_id >= 0 ? i : n - 1 - i], arg);
	for (i = 0; i < n; i++)
		chat_msg_clear(&list[i]);
	free(list);
	return more;
}

void
chat_peers(int64_t user_id, void (*fn)(int64_t, void *), void *arg)
{
	static const char *sql = "SELECT CASE WHEN user_a = ?1 THEN user_b "
	    "ELSE user_a END FROM conversations WHERE user_a = ?1 OR user_b = ?1";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		*list = NULL;
	size_t		 n = 0, cap = 0, i;

	sqlite3_bind_int64(st, 1, user_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		list[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		fn(list[i], arg);
	free(list);
}

/*
 * Whom a user may message, as chat.open's rule allows (op-chat.c,
 * chat_allowed): every active staff member for staff; for a doctor also
 * the patients with a login they have or had an appointment with; for a
 * patient only the doctors they have or had one with. The pool is built
 * from the caller's own appointments, never by scanning every patient.
 */
#define CONTACTS_FROM "FROM users u WHERE u.active = 1 AND u.id != ?1 AND " \
	"(?2 = '' OR instr(lower(u.full_name), lower(?2)) > 0) AND u.id IN (" \
	"SELECT id FROM users WHERE ?3 AND role IN ('doctor', 'receptionist', " \
	"'admin') UNION SELECT p.user_id FROM appointments a JOIN patients p " \
	"ON p.id = a.patient_id WHERE ?4 != 0 AND a.doctor_id = ?4 AND " \
	"p.user_id IS NOT NULL UNION SELECT d.user_id FROM appointments a " \
	"JOIN doctors d ON d.id = a.doctor_id WHERE ?5 != 0 AND a.patient_id = ?5) "

static void
contacts_bind(sqlite3_stmt *st, const struct chat_contacts_query *q)
{
	sqlite3_bind_int64(st, 1, q->user_id);
	db_bind_text(st, 2, q->name != NULL ? q->name : "");
	sqlite3_bind_int(st, 3, q->staff != 0);
	sqlite3_bind_int64(st, 4, q->doctor_id);
	sqlite3_bind_int64(st, 5, q->patient_id);
}

int64_t
chat_contacts(const struct chat_contacts_query *q,
    void (*fn)(const struct chat_contact *, void *), void *arg)
{
	static const char *count_sql = "SELECT count(*) " CONTACTS_FROM;
	static const char *rows_sql = "SELECT u.id, u.full_name, u.role "
	    CONTACTS_FROM "ORDER BY u.full_name COLLATE NOCASE, u.id "
	    "LIMIT ?6 OFFSET ?7";
	struct chat_contact	 c;
	sqlite3_stmt		*st;
	const char		*s;
	int64_t			 total = 0;

	if ((st = db_prepare(count_sql)) == NULL)
		return -1;
	contacts_bind(st, q);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if ((st = db_prepare(rows_sql)) == NULL)
		return -1;
	contacts_bind(st, q);
	sqlite3_bind_int64(st, 6, q->limit);
	sqlite3_bind_int64(st, 7, q->offset);
	while (sqlite3_step(st) == SQLITE_ROW) {
		memset(&c, 0, sizeof c);
		c.user_id = sqlite3_column_int64(st, 0);
		s = db_col_text(st, 1);
		strlcpy_mf(c.full_name, s != NULL ? s : "", sizeof c.full_name);
		c.role = role_from_name(db_col_text(st, 2));
		fn(&c, arg);
	}
	sqlite3_reset(st);
	return total;
}
