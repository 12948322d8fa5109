/* session.c -- login sessions. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "util.h"

/* last_seen is written back at most this often, not on every request. */
#define PERSIST_INTERVAL	60

static TAILQ_HEAD(, session) sessions = TAILQ_HEAD_INITIALIZER(sessions);

int
token_encode(const unsigned char *raw, char *text, size_t textlen)
{
	if (textlen < TOKEN_TEXT_SIZE)
		return -1;
	sodium_bin2base64(text, textlen, raw, TOKEN_BYTES,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int
token_decode(const char *text, unsigned char *raw)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t	len = 0;

	/* libsodium's decoder maps some bytes >= 0x80 (a signed char) to
	 * digits: check the alphabet first, so a token has one spelling. */
	if (strlen(text) != TOKEN_TEXT_SIZE - 1 ||
	    strspn(text, alphabet) != TOKEN_TEXT_SIZE - 1)
		return -1;
	if (sodium_base642bin(raw, TOKEN_BYTES, text, TOKEN_TEXT_SIZE - 1, NULL,
	    &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != TOKEN_BYTES)
		return -1;
	return 0;
}

void
token_hash(const unsigned char *raw, unsigned char *hash)
{
	crypto_generichash(hash, TOKEN_HASH_BYTES, raw, TOKEN_BYTES, NULL, 0);
}

static struct session *
session_cache_find(int64_t id)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->id == id)
			return s;
	}
	return NULL;
}

static struct session *
session_cache_add(int64_t id, int64_t user_id, enum role role,
    int64_t created_at, int64_t expires_at, int64_t last_seen)
{
	struct session	*s = xcalloc(1, sizeof *s);

	s->id = id;
	s->user_id = user_id;
	s->role = role;
	s->created_at = created_at;
	s->expires_at = expires_at;
	s->last_seen = last_seen;
	s->last_persisted = last_seen;
	/* The cache holds one reference until the session ends. */
	s->refs = 1;
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	return s;
}

void
session_ref(struct session *s)
{
	s->refs++;
}

void
session_unref(struct session *s)
{
	if (--s->refs == 0)
		free(s);
}

struct session *
session_create(int64_t user_id, enum role role, const char *addr, int64_t now,
    char *token)
{
	static const char *sql = "INSERT INTO sessions (user_id, token_hash, "
	    "created_at, last_seen, expires_at, addr) VALUES (?, ?, ?, ?, ?, ?)";
	unsigned char	 raw[TOKEN_BYTES], hash[TOKEN_HASH_BYTES];
	sqlite3_stmt	*st;
	int64_t		 expires = now + server.cfg.session_lifetime;

	randombytes_buf(raw, sizeof raw);
	token_hash(raw, hash);
	token_encode(raw, token, TOKEN_TEXT_SIZE);
	sodium_memzero(raw, sizeof raw);

	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_blob(st, 2, hash, sizeof hash, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, expires);
	db_bind_text(st, 6, addr);
	if (db_step_done(st) != SQLITE_DONE)
		return NULL;
	return session_cache_add(db_last_id(), user_id, role, now, expires, now);
}

static void
session_persist_seen(struct session *s)
{
	static const char *sql = "UPDATE sessions SET last_seen = ? WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	/* Inside the loop turn's batch, so it shares that turn's fsync. */
	if (db_begin() != 0)
		return;
	sqlite3_bind_int64(st, 1, s->last_seen);
	sqlite3_bind_int64(st, 2, s->id);
	db_step_done(st);
	db_commit();
	s->last_persisted = s->last_seen;
}

static int
session_expired(const struct session *s, int64_t now)
{
	return s->revoked || now >= s->expires_at ||
	    now - s->last_seen >= server.cfg.session_idle;
}

struct session *
session_resume(const char *token, int64_t now)
{
	static const char *sql = "SELECT s.id, s.user_id, u.role, s.created_at, "
	    "s.expires_at, s.last_seen FROM sessions s JOIN users u ON "
	    "u.id = s.user_id WHERE s.token_hash = ? AND s.revoked_at IS NULL "
	    "AND u.active = 1";
	unsigned char	 raw[TOKEN_BYTES], hash[TOKEN_HASH_BYTES];
	sqlite3_stmt	*st;
	struct session	*s;
	int64_t		 id;

	if (token_decode(token, raw) != 0)
		return NULL;
	token_hash(raw, hash);
	sodium_memzero(raw, sizeof raw);
	st = db_prepare(sql);
	sqlite3_bind_blob(st, 1, hash, sizeof hash, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return NULL;
	}
	id = sqlite3_column_int64(st, 0);
	if ((s = session_cache_find(id)) == NULL) {
		s = session_cache_add(id, sqlite3_column_int64(st, 1),
		    role_from_name(db_col_text(st, 2)),
		    sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
		    sqlite3_column_int64(st, 5));
	}
	sqlite3_reset(st);
	if (session_check(s, now) != 0)
		return NULL;
	return s;
}

int
session_check(struct session *s, int64_t now)
{
	if (session_expired(s, now)) {
		if (!s->revoked)
			session_revoke(s, now);
		return -1;
	}
	/* A clock stepped back (NTP, or the test clock after a restart) must
	 * not date the session back: the step forward again would idle it out. */
	if (now > s->last_seen)
		s->last_seen = now;
	if (now - s->last_persisted >= PERSIST_INTERVAL)
		session_persist_seen(s);
	return 0;
}

void
session_revoke(struct session *s, int64_t now)
{
	static const char *sql = "UPDATE sessions SET revoked_at = ? WHERE id = ? "
	    "AND revoked_at IS NULL";
	sqlite3_stmt	*st;

	if (s->revoked)
		return;
	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, s->id);
	db_step_done(st);
	s->revoked = 1;
	TAILQ_REMOVE(&sessions, s, entry);
	session_unref(s);
}

int
session_revoke_user(int64_t user_id, int64_t now)
{
	static const char *sql = "UPDATE sessions SET revoked_at = ? WHERE "
	    "user_id = ? AND revoked_at IS NULL";
	struct session	*s, *next;
	sqlite3_stmt	*st;
	int		 n;

	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, user_id);
	db_step_done(st);
	n = db_changes();
	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->user_id == user_id) {
			s->revoked = 1;
			TAILQ_REMOVE(&sessions, s, entry);
			session_unref(s);
		}
	}
	return n;
}

void
session_set_user_role(int64_t user_id, enum role role)
{
	struct session	*s;

	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->user_id == user_id)
			s->role = role;
	}
}
