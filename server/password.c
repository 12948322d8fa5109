/* password.c -- argon2id on the worker pool, and the password policy
 * (length, then libpwquality with the cracklib dictionary). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pwquality.h>
#include <sodium.h>

#include "ops.h"
#include "password.h"
#include "server.h"
#include "util.h"
#include "worker.h"

/*
 * argon2id's cost: libsodium's INTERACTIVE limits (64 MiB, 2 passes), or its
 * minimum under --test-weak-hashes, for valgrind runs where one hash at 64 MiB
 * takes seconds. Set once at start-up, before any worker runs.
 */
static unsigned long long	pw_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t			pw_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
static int			pw_weak;

static char		dummy_hash[PW_HASH_MAX];
/* cracklib keeps static state: one check at a time. */
static pthread_mutex_t	policy_lock = PTHREAD_MUTEX_INITIALIZER;

int
password_hash(const char *pw, char *out)
{
	return crypto_pwhash_str(out, pw, strlen(pw), pw_opslimit, pw_memlimit);
}

void
password_test_weak_hashes(void)
{
	pw_opslimit = crypto_pwhash_OPSLIMIT_MIN;
	pw_memlimit = crypto_pwhash_MEMLIMIT_MIN;
	pw_weak = 1;
}

/*
 * Only ever up: a hash made before the limits rose (or by a test server's
 * minimum cost) is redone at the limits in force; a stronger one is kept, and
 * a server on test hashes rewrites nothing, so a test run on a copy of real
 * data cannot weaken it. (libsodium's needs_rehash also fires on a stronger
 * hash, which would rewrite it weaker.)
 */
int
password_needs_rehash(const char *hash)
{
	unsigned int	v, m, t, p;

	if (pw_weak)
		return 0;
	if (strncmp(hash, "$argon2id$", 10) != 0 ||
	    sscanf(hash + 10, "v=%u$m=%u,t=%u,p=%u$", &v, &m, &t, &p) != 4)
		return 1;
	return v < 0x13 || (unsigned long long)m * 1024 < pw_memlimit ||
	    t < pw_opslimit;
}

void
password_init(void)
{
	char	junk[33];

	randombytes_buf(junk, 32);
	junk[32] = '\0';
	for (int i = 0; i < 32; i++)
		junk[i] = (char)('a' + (unsigned char)junk[i] % 26);
	if (password_hash(junk, dummy_hash) != 0)
		abort();
}

const char *
password_dummy_hash(void)
{
	return dummy_hash;
}

void
password_generate(char *out)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	int	i;

	for (i = 0; i < 16; i++)
		out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	out[16] = '\0';
}

/*
 * "passwordpassword", "monkeymonkey12": a word said again is no stronger
 * than the word. 1 if the letters left after trailing digits and symbols are
 * one piece repeated.
 */
static int
repeats_itself(const char *pw)
{
	size_t	n = strlen(pw), period, i;

	while (n > 0 && !((pw[n - 1] >= 'a' && pw[n - 1] <= 'z') ||
	    (pw[n - 1] >= 'A' && pw[n - 1] <= 'Z')))
		n--;
	for (period = 1; period <= n / 2; period++) {
		if (n % period != 0)
			continue;
		for (i = period; i < n && pw[i] == pw[i - period]; i++)
			;
		if (i == n)
			return 1;
	}
	return 0;
}

/*
 * cracklib lets "password1234" through: check the word left after trailing
 * digits and symbols are cut off, too.
 */
static int
dictionary_base(pwquality_settings_t *pwq, const char *pw)
{
	char	 base[PASSWORD_MAX_CHARS * 4 + 1];
	size_t	 n;
	void	*aux = NULL;

	strlcpy_mf(base, pw, sizeof base);
	n = strlen(base);
	while (n > 0 && !((base[n - 1] >= 'a' && base[n - 1] <= 'z') ||
	    (base[n - 1] >= 'A' && base[n - 1] <= 'Z')))
		base[--n] = '\0';
	if (n == strlen(pw) || n < 4)
		return 0;
	pwquality_set_int_value(pwq, PWQ_SETTING_MIN_LENGTH, 6);
	return pwquality_check(pwq, base, NULL, NULL, &aux) ==
	    PWQ_ERROR_CRACKLIB_CHECK;
}

char *
password_policy(const char *pw, const char *email)
{
	pwquality_settings_t	*pwq;
	void			*aux = NULL;
	char			 buf[PWQ_MAX_ERROR_MESSAGE_LEN], user[EMAIL_MAX + 1], *at;
	const char		*msg = NULL;
	size_t			 chars;
	int			 rc;

	if (!utf8_valid(pw, strlen(pw)))
		return xstrdup("password must be valid UTF-8");
	chars = utf8_length(pw, strlen(pw));
	if (chars < PASSWORD_MIN_CHARS)
		return xasprintf("password must have at least %d characters",
		    PASSWORD_MIN_CHARS);
	if (chars > PASSWORD_MAX_CHARS)
		return xasprintf("password must have at most %d characters",
		    PASSWORD_MAX_CHARS);
	strlcpy_mf(user, email != NULL ? email : "", sizeof user);
	if ((at = strchr(user, '@')) != NULL)
		*at = '\0';

	pthread_mutex_lock(&policy_lock);
	pwq = pwquality_default_settings();
	pwquality_set_int_value(pwq, PWQ_SETTING_MIN_LENGTH, PASSWORD_MIN_CHARS);
	pwquality_set_int_value(pwq, PWQ_SETTING_DICT_CHECK, 1);
	pwquality_set_int_value(pwq, PWQ_SETTING_USER_CHECK, 1);
	rc = pwquality_check(pwq, pw, NULL, user[0] != '\0' ? user : NULL, &aux);
	if (rc < 0)
		/* It may return a static string rather than fill buf. */
		msg = pwquality_strerror(buf, sizeof buf, rc, aux);
	else if (repeats_itself(pw)) {
		rc = PWQ_ERROR_CRACKLIB_CHECK;
		msg = "it repeats the same characters";
	} else if (dictionary_base(pwq, pw)) {
		rc = PWQ_ERROR_CRACKLIB_CHECK;
		msg = "it is a dictionary word with digits or symbols added";
	}
	pwquality_free_settings(pwq);
	pthread_mutex_unlock(&policy_lock);
	if (rc < 0)
		return xasprintf("password refused: %s", msg);
	return NULL;
}

struct pw_job *
pw_job_new(enum pw_kind kind, const char *password, const char *new_password,
    const char *hash, const char *email)
{
	struct pw_job	*j = xcalloc(1, sizeof *j);

	j->kind = kind;
	j->password = password != NULL ? xstrdup(password) : NULL;
	j->new_password = new_password != NULL ? xstrdup(new_password) : NULL;
	if (hash != NULL)
		strlcpy_mf(j->hash, hash, sizeof j->hash);
	if (email != NULL)
		strlcpy_mf(j->email, email, sizeof j->email);
	return j;
}

static void
pw_job_free(void *arg)
{
	struct pw_job	*j = arg;

	if (j->password != NULL) {
		sodium_memzero(j->password, strlen(j->password));
		free(j->password);
	}
	if (j->new_password != NULL) {
		sodium_memzero(j->new_password, strlen(j->new_password));
		free(j->new_password);
	}
	free(j->policy_error);
	free(j);
}

static void
pw_job_work(void *arg)
{
	struct pw_job	*j = arg;
	int		 i;

	if (j->kind == PW_VERIFY || j->kind == PW_CHANGE) {
		j->verified = crypto_pwhash_str_verify(j->hash, j->password,
		    strlen(j->password)) == 0;
		if (!j->verified)
			return;
		if (j->kind == PW_VERIFY && password_needs_rehash(j->hash)) {
			if (password_hash(j->password, j->newhash) == 0)
				j->rehashed = 1;
		}
		if (j->kind == PW_VERIFY)
			return;
	}
	if (j->new_password == NULL) {
		/*
		 * Generate one. cracklib calls about one random string in 700
		 * "systematic": draw again rather than refuse a password the
		 * caller never chose.
		 */
		j->new_password = xmalloc(PASSWORD_GENERATED_SIZE);
		for (i = 0; i < 16; i++) {
			free(j->policy_error);
			password_generate(j->new_password);
			if ((j->policy_error = password_policy(j->new_password,
			    j->email)) == NULL)
				break;
		}
	} else
		j->policy_error = password_policy(j->new_password, j->email);
	if (j->policy_error != NULL)
		return;
	if (password_hash(j->new_password, j->newhash) != 0)
		j->failed = 1;
}

static void
pw_job_done(void *arg)
{
	struct pw_job	*j = arg;

	j->then(j->req, j);
}

int
pw_job_submit(struct req *r, struct pw_job *j,
    void (*then)(struct req *, struct pw_job *))
{
	j->req = r;
	j->then = then;
	r->data = j;
	r->free_data = pw_job_free;
	if (worker_submit(pw_job_work, pw_job_done, j,
	    server.cfg.hash_queue_max) != 0) {
		r->retry_after = 1;
		return req_fail(r, ERR_UNAVAILABLE, "server busy; try again");
	}
	return OP_PENDING;
}
