/* op-chat.c -- chat ops, their push events (chat.message, chat.read,
 * chat.typing) and presence (online/offline to those who share a
 * conversation with the user or have them among their contacts), and
 * chat.contacts: whom one may message. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "appointments.h"
#include "chat.h"
#include "clock.h"
#include "conn.h"
#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "notifications.h"
#include "ops.h"
#include "patients.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "util.h"

#define HISTORY_DEFAULT	50
#define HISTORY_MAX	200
#define TYPING_INTERVAL	1.0	/* seconds between typing events per sender */

/* What was last said about a user's presence; sorted by user_id. */
struct presence {
	int64_t	user_id;
	int	online;
	int64_t	last_seen;
	double	last_typing;
};

/* The users a push goes to. */
struct push_users {
	const int64_t	*ids;
	size_t		 n;
};

static struct presence	*presence;
static size_t		 npresence, presence_cap;
static int64_t		*touched;
static size_t		 ntouched, touched_cap;
static int		 presence_scheduled;

static struct presence	*presence_get(int64_t user_id);
static int64_t	 presence_load(int64_t user_id);
static void	 presence_store(int64_t user_id, int64_t last_seen);
static int	 user_online(int64_t user_id);
static void	 presence_run(evutil_socket_t, short, void *);
static int	 push_wants_users(const struct session *, void *);
static void	 push_to_users(const char *event, msgpack_sbuffer *,
		     const int64_t *ids, size_t n);
static void	 pack_peer(msgpack_packer *, int64_t user_id);
static void	 pack_conv(msgpack_packer *, const struct chat_conv *, int64_t me);
static int	 chat_allowed(struct req *, const struct user *peer);
static int	 conv_arg(struct req *, struct chat_conv *);
static void	 list_one(const struct chat_conv *, void *);
static void	 history_one(const struct chat_msg *, void *);
static void	 collect_peer(int64_t, void *);
static void	 count_one(const struct chat_conv *, void *);
static int	 notify_offline_peer(struct req *, const struct chat_conv *,
		     const struct chat_msg *);

/* --- presence --- */

/*
 * What the store knows of when a user was last seen: the last presence
 * change written, or a session's last activity if later (that one survives
 * a crash while the user was online). 0: never.
 */
static int64_t
presence_load(int64_t user_id)
{
	sqlite3_stmt	*st;
	int64_t		 t = 0;

	st = db_prepare("SELECT max(coalesce((SELECT last_seen FROM presence "
	    "WHERE user_id = ?1), 0), coalesce((SELECT max(last_seen) FROM "
	    "sessions WHERE user_id = ?1), 0))");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, user_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t;
}

/* Joins the loop turn's write batch; a failure costs only a stale time. */
static void
presence_store(int64_t user_id, int64_t last_seen)
{
	sqlite3_stmt	*st;

	if (db_begin() != 0)
		return;
	st = db_prepare("INSERT INTO presence (user_id, last_seen) VALUES (?, ?) "
	    "ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen");
	if (st == NULL) {
		db_rollback();
		return;
	}
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, last_seen);
	if (db_step_done(st) != SQLITE_DONE) {
		db_rollback();
		return;
	}
	db_commit();
}

static struct presence *
presence_get(int64_t user_id)
{
	size_t	lo = 0, hi = npresence;

	while (lo < hi) {
		size_t	mid = (lo + hi) / 2;

		if (presence[mid].user_id == user_id)
			return &presence[mid];
		if (presence[mid].user_id < user_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (npresence == presence_cap) {
		presence_cap = presence_cap ? presence_cap * 2 : 64;
		presence = xrealloc(presence, presence_cap * sizeof *presence);
	}
	memmove(&presence[lo + 1], &presence[lo],
	    (npresence - lo) * sizeof *presence);
	npresence++;
	memset(&presence[lo], 0, sizeof *presence);
	presence[lo].user_id = user_id;
	presence[lo].last_seen = presence_load(user_id);
	return &presence[lo];
}

static int
user_online(int64_t user_id)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &conns, entry) {
		if (c->session != NULL && !c->session->revoked && !c->closing &&
		    !c->dead && c->session->user_id == user_id)
			return 1;
	}
	return 0;
}

void
chat_presence_touch(int64_t user_id)
{
	struct timeval	tv = { 0, 0 };

	if (server.base == NULL || user_id == 0)
		return;
	if (ntouched == touched_cap) {
		touched_cap = touched_cap ? touched_cap * 2 : 16;
		touched = xrealloc(touched, touched_cap * sizeof *touched);
	}
	touched[ntouched++] = user_id;
	/* Never push from inside conn.c: a push may drop a slow reader. */
	if (!presence_scheduled &&
	    event_base_once(server.base, -1, EV_TIMEOUT, presence_run, NULL, &tv) == 0)
		presence_scheduled = 1;
}

static void
collect_peer(int64_t peer, void *arg)
{
	struct push_users	*u = arg;
	int64_t			*ids = (int64_t *)u->ids;

	ids = xrealloc(ids, (u->n + 1) * sizeof *ids);
	ids[u->n++] = peer;
	u->ids = ids;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Whether a connected user, of role, has who among their contacts (the rule
 * of chat.contacts and chat_allowed): staff with staff, and a patient with
 * the doctors they have or had an appointment with. who_patient and
 * who_doctor are who's own ids (0 if none).
 */
static int
presence_is_contact(const struct user *who, int64_t who_patient,
    int64_t who_doctor, int64_t user_id, enum role role)
{
	struct patient	p;
	int64_t		doctor_id;

	if ((who->role & ROLES_STAFF) && (role & ROLES_STAFF))
		return 1;
	if (who->role == ROLE_DOCTOR && role == ROLE_PATIENT)
		return who_doctor != 0 && patients_by_user(user_id, &p) == 0 &&
		    appt_doctor_has_patient(who_doctor, p.id);
	if (who->role == ROLE_PATIENT && role == ROLE_DOCTOR)
		return who_patient != 0 &&
		    doctors_id_for_user(user_id, &doctor_id) == 0 &&
		    appt_doctor_has_patient(doctor_id, who_patient);
	return 0;
}

/*
 * Whom a change in user_id's presence goes to, sorted and without repeats:
 * those who share a conversation with them, and the connected users who
 * have them among their contacts (a picker of whom to write to shows the
 * online mark too). The contact rule is checked for the connected users
 * only, never by listing, say, every patient of a doctor.
 */
static void
presence_audience(int64_t user_id, struct push_users *out)
{
	struct conn	*c;
	struct user	 who;
	struct patient	 p;
	int64_t		*ids = NULL, who_patient = 0, who_doctor = 0;
	size_t		 n = 0, cap = 0, i, k;

	out->ids = NULL;
	out->n = 0;
	chat_peers(user_id, collect_peer, out);
	if (users_by_id(user_id, &who) == 0) {
		if (who.role == ROLE_PATIENT && patients_by_user(user_id, &p) == 0)
			who_patient = p.id;
		if (who.role == ROLE_DOCTOR &&
		    doctors_id_for_user(user_id, &who_doctor) != 0)
			who_doctor = 0;
		/* Each connected user once, sorted, then the rule per user. */
		TAILQ_FOREACH(c, &conns, entry) {
			if (c->session == NULL || c->dead ||
			    c->session->user_id == user_id)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				ids = xrealloc(ids, cap * 2 * sizeof *ids);
			}
			ids[2 * n] = c->session->user_id;
			ids[2 * n + 1] = c->session->role;
			n++;
		}
		if (n > 1)
			qsort(ids, n, 2 * sizeof *ids, cmp_id);
		for (i = 0; i < n; i++) {
			if (i > 0 && ids[2 * i] == ids[2 * (i - 1)])
				continue;
			if (presence_is_contact(&who, who_patient, who_doctor,
			    ids[2 * i], (enum role)ids[2 * i + 1]))
				collect_peer(ids[2 * i], out);
		}
		free(ids);
	}
	if (out->n > 1) {
		int64_t	*all = (int64_t *)out->ids;

		qsort(all, out->n, sizeof *all, cmp_id);
		for (i = 1, k = 1; i < out->n; i++)
			if (all[i] != all[k - 1])
				all[k++] = all[i];
		out->n = k;
	}
}

static void
presence_run(evutil_socket_t fd, short what, void *arg)
{
	size_t		 i;

	(void)fd;
	(void)what;
	(void)arg;
	presence_scheduled = 0;
	for (i = 0; i < ntouched; i++) {
		int64_t			 uid = touched[i];
		struct presence		*p = presence_get(uid);
		int			 online = user_online(uid);
		struct push_users	 peers = { NULL, 0 };
		msgpack_sbuffer		 sb;
		msgpack_packer		 pk;

		if (p->online == online)
			continue;
		p->online = online;
		p->last_seen = clock_now();
		presence_store(uid, p->last_seen);
		presence_audience(uid, &peers);
		if (peers.n > 0) {
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			msgpack_pack_map(&pk, 3);
			mp_pack_kv_int(&pk, "user_id", uid);
			mp_pack_kv_bool(&pk, "online", online);
			mp_pack_kv_int(&pk, "last_seen", p->last_seen);
			push_to_users("presence", &sb, peers.ids, peers.n);
			msgpack_sbuffer_destroy(&sb);
		}
		free((void *)peers.ids);
	}
	ntouched = 0;
}

/* --- pushes --- */

static int
push_wants_users(const struct session *s, void *arg)
{
	const struct push_users	*u = arg;
	size_t			 i;

	for (i = 0; i < u->n; i++)
		if (u->ids[i] == s->user_id)
			return 1;
	return 0;
}

static void
push_to_users(const char *event, msgpack_sbuffer *sb, const int64_t *ids, size_t n)
{
	struct push_users	u = { ids, n };

	conn_push_event(event, sb->data, sb->size, push_wants_users, &u);
}

/* --- packing --- */

static void
pack_peer(msgpack_packer *pk, int64_t user_id)
{
	struct user	 u;
	struct presence	*p = presence_get(user_id);

	if (users_by_id(user_id, &u) != 0)
		memset(&u, 0, sizeof u);
	msgpack_pack_map(pk, 5);
	mp_pack_kv_int(pk, "user_id", user_id);
	mp_pack_kv_str(pk, "full_name", u.full_name);
	mp_pack_kv_str(pk, "role", role_name(u.role));
	mp_pack_kv_bool(pk, "online", user_online(user_id));
	if (p->last_seen > 0)
		mp_pack_kv_int(pk, "last_seen", p->last_seen);
	else
		mp_pack_kv_nil(pk, "last_seen");
}

static void
pack_conv(msgpack_packer *pk, const struct chat_conv *cv, int64_t me)
{
	struct chat_msg	m;
	int64_t		peer = chat_conv_peer(cv, me);

	msgpack_pack_map(pk, 6);
	mp_pack_kv_int(pk, "id", cv->id);
	mp_pack_str(pk, "peer");
	pack_peer(pk, peer);
	mp_pack_str(pk, "last_message");
	memset(&m, 0, sizeof m);
	if (cv->last_message_id > 0 && chat_msg_get(cv->last_message_id, &m) == 0) {
		chat_msg_pack(pk, &m);
		chat_msg_clear(&m);
	} else
		msgpack_pack_nil(pk);
	mp_pack_kv_int(pk, "unread", chat_unread(cv, me));
	mp_pack_kv_int(pk, "read_id", chat_conv_read_id(cv, me));
	mp_pack_kv_int(pk, "peer_read_id", chat_conv_read_id(cv, peer));
}

/* --- checks --- */

/* A patient chats with a doctor they have (had) an appointment with, and
 * the other way round; staff chat with staff. */
static int
chat_allowed(struct req *r, const struct user *peer)
{
	enum role	me = req_role(r);
	int64_t		patient_user, doctor_user, doctor_id;
	struct patient	p;

	if ((me & ROLES_STAFF) && (peer->role & ROLES_STAFF))
		return 0;
	if (me == ROLE_PATIENT && peer->role == ROLE_DOCTOR) {
		patient_user = req_user_id(r);
		doctor_user = peer->id;
	} else if (me == ROLE_DOCTOR && peer->role == ROLE_PATIENT) {
		patient_user = peer->id;
		doctor_user = req_user_id(r);
	} else
		return req_fail(r, ERR_FORBIDDEN, "%s cannot chat with %s",
		    role_name(me), role_name(peer->role));
	if (patients_by_user(patient_user, &p) != 0 ||
	    doctors_id_for_user(doctor_user, &doctor_id) != 0 ||
	    !appt_doctor_has_patient(doctor_id, p.id))
		return req_fail(r, ERR_FORBIDDEN,
		    "chat is open between a patient and their own doctors only");
	return 0;
}

/* Reads conversation_id and loads it; not_found unless the caller is in it. */
static int
conv_arg(struct req *r, struct chat_conv *cv)
{
	int64_t	id;

	if (arg_int(r, "conversation_id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return -1;
	if (chat_conv_get(id, cv) != 0 || !chat_conv_has(cv, req_user_id(r)))
		return req_fail(r, ERR_NOT_FOUND, "no conversation with id %lld",
		    (long long)id);
	return 0;
}

/* --- chat.open --- */

int
op_chat_open(struct req *r)
{
	struct chat_conv	cv;
	struct user		peer;
	int64_t			uid, me = req_user_id(r);
	int			created = 0;

	if (args_only(r, "user_id", NULL) != 0 ||
	    arg_int(r, "user_id", ARG_REQUIRED, 1, INT64_MAX, &uid, NULL) != 0)
		return OP_FAIL;
	if (uid == me)
		return req_fail(r, ERR_BAD_REQUEST, "user_id: cannot chat with yourself");
	if (users_by_id(uid, &peer) != 0 || !peer.active)
		return req_fail(r, ERR_NOT_FOUND, "no user with id %lld", (long long)uid);
	if (chat_conv_find(me, uid, &cv) != 0) {
		if (chat_allowed(r, &peer) != 0)
			return OP_FAIL;
		if (db_begin() != 0)
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		if (chat_conv_create(me, uid, r->now, &cv) != 0) {
			db_rollback();
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
		if (db_commit() != 0)
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		created = 1;
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "conversation");
	pack_conv(&r->pk, &cv, me);
	mp_pack_kv_bool(&r->pk, "created", created);
	return OP_OK;
}

/* --- chat.list --- */

struct list_ctx {
	struct req	*r;
	int64_t		 me;
};

static void
list_one(const struct chat_conv *cv, void *arg)
{
	struct list_ctx	*l = arg;

	pack_conv(&l->r->pk, cv, l->me);
}

static void
count_one(const struct chat_conv *cv, void *arg)
{
	(void)cv;
	(*(uint32_t *)arg)++;
}

int
op_chat_list(struct req *r)
{
	struct list_ctx	l = { r, req_user_id(r) };
	uint32_t	n = 0;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	chat_list(l.me, count_one, &n);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "conversations");
	msgpack_pack_array(&r->pk, n);
	chat_list(l.me, list_one, &l);
	return OP_OK;
}

/* --- chat.history --- */

struct history_ctx {
	struct req	*r;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	uint32_t	 n;
};

static void
history_one(const struct chat_msg *m, void *arg)
{
	struct history_ctx	*h = arg;

	chat_msg_pack(&h->pk, m);
	h->n++;
}

int
op_chat_history(struct req *r)
{
	struct chat_conv	cv;
	struct history_ctx	h;
	int64_t			before = 0, after = 0, limit = HISTORY_DEFAULT;
	int			has_before = 0, has_after = 0, more;

	if (args_only(r, "conversation_id", "before_id", "after_id", "limit",
	    NULL) != 0 || conv_arg(r, &cv) != 0 ||
	    arg_int(r, "before_id", ARG_NULLABLE, 1, INT64_MAX, &before,
	    &has_before) != 0 ||
	    arg_int(r, "after_id", ARG_NULLABLE, 0, INT64_MAX, &after,
	    &has_after) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, HISTORY_MAX, &limit, NULL) != 0)
		return OP_FAIL;
	if (has_before && has_after)
		return req_fail(r, ERR_BAD_REQUEST,
		    "after_id: give either before_id or after_id");
	memset(&h, 0, sizeof h);
	h.r = r;
	msgpack_sbuffer_init(&h.sb);
	msgpack_packer_init(&h.pk, &h.sb, msgpack_sbuffer_write);
	more = chat_history(cv.id, before, has_after ? after : -1, (int)limit,
	    history_one, &h);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "messages");
	msgpack_pack_array(&r->pk, h.n);
	if (h.sb.size > 0)
		msgpack_sbuffer_write(&r->result, h.sb.data, h.sb.size);
	mp_pack_kv_bool(&r->pk, "more", more);
	msgpack_sbuffer_destroy(&h.sb);
	return OP_OK;
}

/* --- chat.send --- */

#define EXCERPT_BYTES	140

/* A peer with no session online finds a notification when they come back. */
static int
notify_offline_peer(struct req *r, const struct chat_conv *cv,
    const struct chat_msg *m)
{
	int64_t		 peer = chat_conv_peer(cv, m->sender_id);
	struct user	 me;
	char		 excerpt[EXCERPT_BYTES + 4], *title;
	size_t		 n = strlen(m->body);
	int		 rc;

	if (user_online(peer))
		return 0;
	if (users_by_id(m->sender_id, &me) != 0)
		me.full_name[0] = '\0';
	if (n > EXCERPT_BYTES) {
		/* Cut on a character boundary. */
		n = EXCERPT_BYTES;
		while (n > 0 && ((unsigned char)m->body[n] & 0xc0) == 0x80)
			n--;
		memcpy(excerpt, m->body, n);
		memcpy(excerpt + n, "\xe2\x80\xa6", 4);	/* an ellipsis and NUL */
	} else
		memcpy(excerpt, m->body, n + 1);
	title = xasprintf("New message from %s", me.full_name);
	rc = notifications_create(peer, "chat.message", title, excerpt, cv->id,
	    r->now);
	free(title);
	return rc;
}

int
op_chat_send(struct req *r)
{
	struct chat_conv	 cv;
	struct chat_msg		 m;
	const char		*body, *cid;
	int64_t			 me = req_user_id(r), ids[2];
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	if (args_only(r, "conversation_id", "body", "client_msg_id", NULL) != 0 ||
	    conv_arg(r, &cv) != 0 ||
	    arg_str(r, "body", ARG_REQUIRED | ARG_MULTILINE, 1, CHAT_BODY_MAX,
	    &body) != 0 ||
	    arg_str(r, "client_msg_id", ARG_REQUIRED, 1, CHAT_CLIENT_ID_MAX,
	    &cid) != 0)
		return OP_FAIL;
	memset(&m, 0, sizeof m);
	if (chat_msg_by_client_id(me, cid, &m) == 0) {
		/* A resend: the original, stored once and pushed once. */
		if (m.conversation_id != cv.id) {
			chat_msg_clear(&m);
			return req_fail(r, ERR_CONFLICT,
			    "client_msg_id: already used in another conversation");
		}
		msgpack_pack_map(&r->pk, 2);
		mp_pack_str(&r->pk, "message");
		chat_msg_pack(&r->pk, &m);
		mp_pack_kv_bool(&r->pk, "duplicate", 1);
		chat_msg_clear(&m);
		return OP_OK;
	}
	m.conversation_id = cv.id;
	m.sender_id = me;
	m.created_at = r->now;
	m.client_msg_id = xstrdup(cid);
	m.body = xstrdup(body);
	if (db_begin() != 0) {
		chat_msg_clear(&m);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (chat_msg_insert(&m) != 0 || notify_offline_peer(r, &cv, &m) != 0) {
		db_rollback();
		chat_msg_clear(&m);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (db_commit() != 0) {
		chat_msg_clear(&m);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	chat_msg_pack(&pk, &m);
	ids[0] = cv.user_a;
	ids[1] = cv.user_b;
	push_to_users("chat.message", &sb, ids, 2);
	msgpack_sbuffer_destroy(&sb);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "message");
	chat_msg_pack(&r->pk, &m);
	mp_pack_kv_bool(&r->pk, "duplicate", 0);
	chat_msg_clear(&m);
	return OP_OK;
}

/* --- chat.read --- */

int
op_chat_read(struct req *r)
{
	struct chat_conv	cv;
	int64_t			up_to, read_id, me = req_user_id(r), ids[2];
	int			moved;
	msgpack_sbuffer		sb;
	msgpack_packer		pk;

	if (args_only(r, "conversation_id", "up_to_id", NULL) != 0 ||
	    conv_arg(r, &cv) != 0 ||
	    arg_int(r, "up_to_id", ARG_REQUIRED, 1, INT64_MAX, &up_to, NULL) != 0)
		return OP_FAIL;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if ((moved = chat_mark_read(&cv, me, up_to, &read_id)) < 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (me == cv.user_a)
		cv.a_read_id = read_id;
	else
		cv.b_read_id = read_id;
	if (moved) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		mp_pack_kv_int(&pk, "conversation_id", cv.id);
		mp_pack_kv_int(&pk, "user_id", me);
		mp_pack_kv_int(&pk, "read_id", read_id);
		ids[0] = cv.user_a;
		ids[1] = cv.user_b;
		push_to_users("chat.read", &sb, ids, 2);
		msgpack_sbuffer_destroy(&sb);
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_kv_int(&r->pk, "read_id", read_id);
	mp_pack_kv_int(&r->pk, "unread", chat_unread(&cv, me));
	return OP_OK;
}

/* --- chat.typing --- */

int
op_chat_typing(struct req *r)
{
	struct chat_conv	 cv;
	struct presence		*p;
	int64_t			 me = req_user_id(r), peer;
	double			 now = clock_now_precise();
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	int			 sent = 0;

	if (args_only(r, "conversation_id", NULL) != 0 || conv_arg(r, &cv) != 0)
		return OP_FAIL;
	p = presence_get(me);
	/* Ephemeral and throttled: never stored, at most one a second. */
	if (p->last_typing == 0 || now - p->last_typing >= TYPING_INTERVAL ||
	    now < p->last_typing) {
		p->last_typing = now;
		peer = chat_conv_peer(&cv, me);
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		mp_pack_kv_int(&pk, "conversation_id", cv.id);
		mp_pack_kv_int(&pk, "user_id", me);
		push_to_users("chat.typing", &sb, &peer, 1);
		msgpack_sbuffer_destroy(&sb);
		sent = 1;
	}
	msgpack_pack_map(&r->pk, 1);
	mp_pack_kv_bool(&r->pk, "sent", sent);
	return OP_OK;
}

/* --- chat.contacts --- */

#define CONTACTS_DEFAULT	50
#define CONTACTS_MAX		200
#define CONTACTS_NAME_MAX	100	/* characters */

struct contacts_ctx {
	int64_t		 me;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	uint32_t	 n;
};

/* When user was last seen, without adding them to the presence cache: a
 * page of contacts may name many users who never chat. */
static int64_t
last_seen_of(int64_t user_id)
{
	size_t	lo = 0, hi = npresence;

	while (lo < hi) {
		size_t	mid = (lo + hi) / 2;

		if (presence[mid].user_id == user_id)
			return presence[mid].last_seen;
		if (presence[mid].user_id < user_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return presence_load(user_id);
}

static void
contact_one(const struct chat_contact *c, void *arg)
{
	struct contacts_ctx	*x = arg;
	struct chat_conv	 cv;
	int64_t			 seen = last_seen_of(c->user_id);

	msgpack_pack_map(&x->pk, 6);
	mp_pack_kv_int(&x->pk, "user_id", c->user_id);
	mp_pack_kv_str(&x->pk, "full_name", c->full_name);
	mp_pack_kv_str(&x->pk, "role", role_name(c->role));
	mp_pack_kv_bool(&x->pk, "online", user_online(c->user_id));
	mp_pack_kv_opt_int(&x->pk, "last_seen", seen);
	mp_pack_kv_opt_int(&x->pk, "conversation_id",
	    chat_conv_find(x->me, c->user_id, &cv) == 0 ? cv.id : 0);
	x->n++;
}

int
op_chat_contacts(struct req *r)
{
	struct chat_contacts_query	 q;
	struct contacts_ctx		 x;
	struct patient			 p;
	const char			*name = NULL;
	int64_t				 total;

	memset(&q, 0, sizeof q);
	q.limit = CONTACTS_DEFAULT;
	if (args_only(r, "name", "limit", "offset", NULL) != 0 ||
	    arg_str(r, "name", ARG_NULLABLE, 0, CONTACTS_NAME_MAX, &name) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, CONTACTS_MAX, &q.limit,
	    NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT64_MAX, &q.offset, NULL) != 0)
		return OP_FAIL;
	/* The pool chat_allowed opens: staff with staff, a doctor with their
	 * patients, a patient with their doctors. */
	q.user_id = req_user_id(r);
	q.staff = (req_role(r) & ROLES_STAFF) != 0;
	q.name = name != NULL ? name : "";
	if (req_role(r) == ROLE_DOCTOR &&
	    doctors_id_for_user(q.user_id, &q.doctor_id) != 0)
		q.doctor_id = 0;
	if (req_role(r) == ROLE_PATIENT) {
		if (patients_by_user(q.user_id, &p) != 0)
			return req_fail(r, ERR_NOT_FOUND,
			    "no patient record is linked to this account");
		q.patient_id = p.id;
	}
	memset(&x, 0, sizeof x);
	x.me = q.user_id;
	msgpack_sbuffer_init(&x.sb);
	msgpack_packer_init(&x.pk, &x.sb, msgpack_sbuffer_write);
	if ((total = chat_contacts(&q, contact_one, &x)) < 0) {
		msgpack_sbuffer_destroy(&x.sb);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "contacts");
	msgpack_pack_array(&r->pk, x.n);
	if (x.sb.size > 0)
		msgpack_sbuffer_write(&r->result, x.sb.data, x.sb.size);
	mp_pack_kv_int(&r->pk, "total", total);
	msgpack_sbuffer_destroy(&x.sb);
	return OP_OK;
}

/* --- chat.unread --- */

int
op_chat_unread(struct req *r)
{
	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	msgpack_pack_map(&r->pk, 1);
	mp_pack_kv_int(&r->pk, "unread", chat_unread_total(req_user_id(r)));
	return OP_OK;
}
