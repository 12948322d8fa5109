/* users.h -- the users table (accounts of every role). */
#ifndef MF_USERS_H
#define MF_USERS_H

#include <stdint.h>

#include <msgpack.h>

#include "proto.h"

#define EMAIL_MAX	254
#define NAME_MAX_CHARS	200
#define PHONE_MAX	32
#define PW_HASH_MAX	128

struct user {
	int64_t		id;
	char		email[EMAIL_MAX + 1];
	char		full_name[NAME_MAX_CHARS * 4 + 1];
	enum role	role;
	char		phone[PHONE_MAX + 1];		/* "" when none */
	char		password_hash[PW_HASH_MAX];
	int		active;
	int		failed_logins;
	int64_t		first_failed_at;
	int64_t		locked_until;
	int64_t		last_login_at;
	int64_t		created_at;
	int64_t		updated_at;
};

/* 0 and the row, or -1 when there is none. */
int	users_by_id(int64_t, struct user *);
int	users_by_email(const char *, struct user *);
/* Inserts and sets u->id; -1 when the e-mail is taken, -2 on a store error. */
int	users_insert(struct user *);
/* Writes every mutable column back; -1 when the e-mail is taken, -2 on error. */
int	users_save(const struct user *);
/* Packs the public fields as a map (never the hash or lockout counters). */
void	users_pack(msgpack_packer *, const struct user *);
int64_t	users_count(void);
/* Calls fn for each active user of a role (at most 256); returns how many. */
int	users_each_active_in_role(enum role, void (*fn)(int64_t id, void *), void *arg);

/* Digits with an optional leading +, spaces, dashes and parentheses; 5-15 digits. */
int	phone_valid(const char *);
/* Trims and lower-cases an address into out; -1 if it is not an e-mail. */
int	email_normalize(const char *, char *out, size_t outlen);

#endif
