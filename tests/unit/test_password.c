/* test_password.c -- the password policy (length, cracklib, the e-mail's
 * local part) and argon2id hashing. Needs the cracklib dictionary
 * (cracklib-runtime; `make deps` installs it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "password.h"
#include "util.h"

#define EMAIL	"jsmith@example.com"

static void	assert_refused(const char *, const char *email, const char *want);
static void	assert_accepted(const char *, const char *email);

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/* Refused, with a reason containing want. */
static void
assert_refused(const char *pw, const char *email, const char *want)
{
	char	*why = password_policy(pw, email);

	if (why == NULL) {
		print_error("accepted: \"%s\"\n", pw);
		fail();
	}
	if (want != NULL && strstr(why, want) == NULL) {
		print_error("\"%s\": reason \"%s\" lacks \"%s\"\n", pw, why, want);
		free(why);
		fail();
	}
	free(why);
}

static void
assert_accepted(const char *pw, const char *email)
{
	char	*why = password_policy(pw, email);

	if (why != NULL) {
		print_error("refused: \"%s\": %s\n", pw, why);
		free(why);
		fail();
	}
}

static void
test_policy_refuses_short(void **state)
{
	(void)state;
	assert_refused("", EMAIL, "at least 12 characters");
	assert_refused("Xq7#vL2!pR9", EMAIL, "at least 12 characters");
	/* Characters, not bytes: 11 two-byte letters are still 11. */
	assert_refused("\xc3\xa9\xc3\xb8\xc3\xa5\xc3\xbc\xc3\xb1\xc3\xa7"
	    "\xc3\xa0\xc3\xae\xc3\xb4\xc3\xab\xc3\xbf", EMAIL, "at least 12");
}

static void
test_policy_refuses_long(void **state)
{
	char	pw[PASSWORD_MAX_CHARS + 2];
	size_t	i;

	(void)state;
	for (i = 0; i < PASSWORD_MAX_CHARS + 1; i++)
		pw[i] = "correct horse battery staple "[i % 29];
	pw[PASSWORD_MAX_CHARS + 1] = '\0';
	assert_refused(pw, EMAIL, "at most 128 characters");
}

static void
test_policy_refuses_invalid_utf8(void **state)
{
	(void)state;
	assert_refused("correct horse \xff battery", EMAIL, "UTF-8");
}

static void
test_policy_refuses_dictionary_words(void **state)
{
	(void)state;
	assert_refused("password1234", EMAIL, "dictionary");
	assert_refused("sunshine2024!", EMAIL, "dictionary");
	assert_refused("123456789012", EMAIL, NULL);
}

static void
test_policy_refuses_a_repeated_word(void **state)
{
	(void)state;
	assert_refused("passwordpassword", EMAIL, "repeats");
	assert_refused("monkeymonkey12", EMAIL, "repeats");
	assert_refused("abcabcabcabc!", EMAIL, NULL);
}

static void
test_policy_refuses_a_palindrome(void **state)
{
	(void)state;
	assert_refused("xq7-zw9!pl3kk3lp!9wz-7qx", EMAIL, "palindrome");
}

static void
test_policy_refuses_the_email_local_part(void **state)
{
	(void)state;
	assert_refused("jsmith-rocks-2024!", EMAIL, "user name");
	assert_refused("zyx-JSMITH-qwe91!", EMAIL, NULL);
	/* The same password is fine for somebody else. */
	assert_accepted("jsmith-rocks-2024!", "maria@example.com");
}

static void
test_policy_accepts_good_passphrases(void **state)
{
	(void)state;
	assert_accepted("correct horse battery staple", EMAIL);
	assert_accepted("mediflow-clinic-desk-7", EMAIL);
	assert_accepted("correct horse battery staple", NULL);
	/* Exactly at the limits. */
	assert_accepted("Xq7#vL2!pR9m", EMAIL);
}

static void
test_generated_passwords_are_16_unambiguous_characters(void **state)
{
	char	pw[PASSWORD_GENERATED_SIZE], other[PASSWORD_GENERATED_SIZE];
	int	i;

	(void)state;
	for (i = 0; i < 200; i++) {
		password_generate(pw);
		assert_int_equal(strlen(pw), 16);
		/* No 0/O, 1/l/I, i to misread off a screen. */
		assert_int_equal(strspn(pw, "abcdefghjkmnpqrstuvwxyz"
		    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 16);
	}
	password_generate(other);
	assert_string_not_equal(pw, other);
}

static void
test_hash_verifies(void **state)
{
	char	hash[PW_HASH_MAX], again[PW_HASH_MAX];
	const char *pw = "correct horse battery staple";

	(void)state;
	assert_true(crypto_pwhash_STRBYTES <= PW_HASH_MAX);
	assert_int_equal(password_hash(pw, hash), 0);
	assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
	assert_int_equal(crypto_pwhash_str_verify(hash, pw, strlen(pw)), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(hash, "correct horse battery stapler",
	    strlen("correct horse battery stapler")), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(hash, "", 0), 0);
	/* Salted: the same password hashes differently each time. */
	assert_int_equal(password_hash(pw, again), 0);
	assert_string_not_equal(hash, again);
	assert_int_equal(crypto_pwhash_str_verify(again, pw, strlen(pw)), 0);
	/* Fresh hashes need no rehash at the current limits. */
	assert_int_equal(crypto_pwhash_str_needs_rehash(hash,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE), 0);
}

static void
test_dummy_hash_matches_nothing_plausible(void **state)
{
	const char	*dummy;

	(void)state;
	password_init();
	dummy = password_dummy_hash();
	assert_int_equal(strncmp(dummy, "$argon2id$", 10), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(dummy, "", 0), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(dummy, "password1234", 12), 0);
}

/* A hash at other limits than the server's (the password is irrelevant). */
static void
hash_at(char *out, unsigned long long ops, size_t mem)
{
	assert_int_equal(crypto_pwhash_str(out, "correct horse battery staple",
	    28, ops, mem), 0);
}

static void
test_rehash_only_ever_upgrades(void **state)
{
	char	weak[PW_HASH_MAX], real[PW_HASH_MAX], more[PW_HASH_MAX];

	(void)state;
	hash_at(weak, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
	assert_int_equal(password_hash("correct horse battery staple", real), 0);
	hash_at(more, crypto_pwhash_OPSLIMIT_INTERACTIVE + 1,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE);
	/* Weaker than INTERACTIVE: redone. */
	assert_int_equal(password_needs_rehash(weak), 1);
	/* At the limits, or above them: kept (libsodium's needs_rehash would
	 * redo the stronger one at the lower cost). */
	assert_int_equal(password_needs_rehash(real), 0);
	assert_int_equal(password_needs_rehash(more), 0);
	assert_int_not_equal(crypto_pwhash_str_needs_rehash(more,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE), 0);
	/* Not argon2id v1.3: redone. */
	assert_int_equal(password_needs_rehash("$argon2i$v=19$m=65536,t=2,p=1$"
	    "c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"), 1);
	assert_int_equal(password_needs_rehash("$argon2id$v=16$m=65536,t=2,p=1$"
	    "c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"), 1);
}

/* Changes the process's limits for good: the last test in main(). */
static void
test_weak_hashes_make_cheap_hashes_and_rewrite_nothing(void **state)
{
	char	weak[PW_HASH_MAX], real[PW_HASH_MAX], mine[PW_HASH_MAX];

	(void)state;
	hash_at(weak, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
	assert_int_equal(password_hash("correct horse battery staple", real), 0);
	password_test_weak_hashes();
	assert_int_equal(password_hash("correct horse battery staple", mine), 0);
	assert_memory_equal(mine, "$argon2id$v=19$m=8,t=1,p=1$", 27);
	assert_int_equal(crypto_pwhash_str_verify(mine,
	    "correct horse battery staple", 28), 0);
	/* Neither its own hashes nor real ones are rewritten. */
	assert_int_equal(password_needs_rehash(weak), 0);
	assert_int_equal(password_needs_rehash(mine), 0);
	assert_int_equal(password_needs_rehash(real), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_refuses_short),
		cmocka_unit_test(test_policy_refuses_long),
		cmocka_unit_test(test_policy_refuses_invalid_utf8),
		cmocka_unit_test(test_policy_refuses_dictionary_words),
		cmocka_unit_test(test_policy_refuses_a_repeated_word),
		cmocka_unit_test(test_policy_refuses_a_palindrome),
		cmocka_unit_test(test_policy_refuses_the_email_local_part),
		cmocka_unit_test(test_policy_accepts_good_passphrases),
		cmocka_unit_test(test_generated_passwords_are_16_unambiguous_characters),
		cmocka_unit_test(test_hash_verifies),
		cmocka_unit_test(test_dummy_hash_matches_nothing_plausible),
		cmocka_unit_test(test_rehash_only_ever_upgrades),
		/* Last: it lowers the limits for the rest of the process. */
		cmocka_unit_test(test_weak_hashes_make_cheap_hashes_and_rewrite_nothing),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
