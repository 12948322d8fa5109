/* password.h -- argon2id hashing on the worker pool, and the password policy. */
#ifndef MF_PASSWORD_H
#define MF_PASSWORD_H

#include "users.h"

#define PASSWORD_MIN_CHARS	12
#define PASSWORD_MAX_CHARS	128

enum pw_kind {
	PW_VERIFY,	/* password against hash (rehash when the limits rose:
			 * password_needs_rehash) */
	PW_NEW,		/* check new_password against the policy, then hash it;
			 * a NULL new_password is generated (and kept in the job) */
	PW_CHANGE,	/* PW_VERIFY, then PW_NEW */
};

struct req;

struct pw_job {
	enum pw_kind	 kind;
	char		*password;
	char		*new_password;
	char		 hash[PW_HASH_MAX];	/* the stored hash to verify against */
	char		 email[EMAIL_MAX + 1];	/* for the policy's similarity check */

	/* Results, filled on the worker. */
	int		 verified;
	int		 rehashed;		/* newhash holds a fresh hash of password */
	char		*policy_error;		/* allocated; NULL when the policy passed */
	char		 newhash[PW_HASH_MAX];
	int		 failed;		/* out of memory while hashing */

	struct req	*req;
	void		(*then)(struct req *, struct pw_job *);
};

/* Allocates a job; the strings are copied. */
struct pw_job	*pw_job_new(enum pw_kind, const char *password,
		    const char *new_password, const char *hash, const char *email);
/*
 * Runs the job on a worker; then(req, job) runs on the loop and must finish
 * the request. Returns OP_PENDING, or OP_FAIL (unavailable) when the queue is
 * full. The request owns the job from here on.
 */
int		 pw_job_submit(struct req *, struct pw_job *,
		    void (*then)(struct req *, struct pw_job *));

/* Synchronous versions, for start-up (demo data) and tests. */
int		 password_hash(const char *, char *out);
/* NULL when acceptable, else an allocated reason. */
char		*password_policy(const char *password, const char *email);
/* A hash that no password matches, to spend the same time on unknown users. */
const char	*password_dummy_hash(void);
void		 password_init(void);
/*
 * --test-weak-hashes (tests only, and only with --test-clock): libsodium's
 * minimum argon2id cost for new hashes, and no rehash on login. Call before
 * password_init().
 */
void		 password_test_weak_hashes(void);
/* 1 when a hash that verified should be redone: weaker than the limits in
 * force, or not argon2id v1.3. Never under test_weak_hashes. */
int		 password_needs_rehash(const char *hash);
#define PASSWORD_GENERATED_SIZE	17
/* A random temporary password of 16 characters (out: 17 bytes). */
void		 password_generate(char *out);

#endif
