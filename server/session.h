/* session.h -- login sessions: random tokens stored only as hashes, idle and
 * absolute timeouts, revocation. Sessions live in the sessions table; the
 * ones in use are cached here so a request checks its session without I/O. */
#ifndef MF_SESSION_H
#define MF_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "proto.h"

#define TOKEN_BYTES		32
#define TOKEN_HASH_BYTES	32
/* base64url without padding of 32 bytes, plus NUL. */
#define TOKEN_TEXT_SIZE		44

struct session {
	int64_t			 id;
	int64_t			 user_id;
	enum role		 role;
	int64_t			 created_at;
	int64_t			 expires_at;	/* absolute lifetime */
	int64_t			 last_seen;
	int64_t			 last_persisted;
	int			 revoked;
	int			 refs;
	TAILQ_ENTRY(session)	 entry;
};

/* Creates a session row; writes the token text into token (TOKEN_TEXT_SIZE). */
struct session	*session_create(int64_t user_id, enum role, const char *addr,
		    int64_t now, char *token);
/* Finds a live session by token text, or NULL (unknown, expired, revoked). */
struct session	*session_resume(const char *token, int64_t now);
/* 0 if usable at now (and refreshes last_seen), -1 if expired or revoked. */
int		 session_check(struct session *, int64_t now);
void		 session_revoke(struct session *, int64_t now);
/* Revokes every session of a user; returns how many. */
int		 session_revoke_user(int64_t user_id, int64_t now);
/* Keeps cached sessions' role in step after an admin change. */
void		 session_set_user_role(int64_t user_id, enum role);
void		 session_ref(struct session *);
void		 session_unref(struct session *);

/* Pure helpers, unit-tested. */
int	 token_encode(const unsigned char *raw, char *text, size_t textlen);
/* 0 and raw bytes, or -1 if text is not a well-formed token. */
int	 token_decode(const char *text, unsigned char *raw);
void	 token_hash(const unsigned char *raw, unsigned char *hash);

#endif
