/* test_patients.c -- name words, phone digits, dates of birth, and the
 * patients module against a fresh store (search, claim by e-mail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clinic-time.h"
#include "db.h"
#include "patients.h"
#include "users.h"
#include "util.h"

static char	tmpdir[] = "/tmp/mf-test-patients-XXXXXX";
static char	db_path[sizeof tmpdir + 16];

/* Asserts the words, in order, of a name. */
static void
assert_words(const char *name, const char *const *want, size_t nwant)
{
	struct patient_words	w;
	size_t			i;

	assert_int_equal(patient_name_words(name, &w), 0);
	if (w.n != nwant) {
		for (i = 0; i < w.n; i++)
			print_error("got word %zu: \"%s\"\n", i, w.word[i]);
	}
	assert_int_equal(w.n, nwant);
	for (i = 0; i < nwant; i++)
		assert_string_equal(w.word[i], want[i]);
}

#define WORDS(name, ...) do {						\
	static const char *const want_[] = { __VA_ARGS__ };		\
	assert_words((name), want_, nitems(want_));			\
} while (0)

/* --- name words --- */

static void
test_name_words_split_on_spaces_and_lower_case(void **state)
{
	(void)state;
	WORDS("John Smith", "john", "smith");
	WORDS("  JOHN   smith  ", "john", "smith");
	WORDS("Dr. Sarah Chen", "dr", "sarah", "chen");
}

static void
test_name_words_fold_latin_accents(void **state)
{
	(void)state;
	WORDS("José García-López", "jose", "garcia", "lopez");
	WORDS("ÉMILE ZOLA", "emile", "zola");
	WORDS("Ørsted Æsir Straße", "orsted", "aesir", "strasse");
	WORDS("Łukasz Wałęsa Şahin Ștefan", "lukasz", "walesa", "sahin", "stefan");
	WORDS("Dvořák Œuvre", "dvorak", "oeuvre");
	/* Decomposed accents (a combining mark after the letter) fold too. */
	WORDS("Jose\xcc\x81 Garci\xcc\x81" "a", "jose", "garcia");
}

static void
test_name_words_lower_case_greek_and_cyrillic(void **state)
{
	(void)state;
	WORDS("ΣΩΚΡΆΤΗΣ", "σωκρατησ");
	WORDS("ИВАНОВ Ёлкин", "иванов", "елкин");
	/* Other scripts pass through unchanged. */
	WORDS("王 小明", "王", "小明");
}

static void
test_name_words_apostrophes_split_and_join(void **state)
{
	(void)state;
	WORDS("Conan O'Brien", "conan", "o", "brien", "obrien");
	WORDS("D\xe2\x80\x99" "Angelo", "d", "angelo", "dangelo");
}

static void
test_name_words_are_unique(void **state)
{
	(void)state;
	WORDS("Maria MARIA maría", "maria");
}

static void
test_name_words_blank_name_has_none(void **state)
{
	struct patient_words	w;

	(void)state;
	assert_int_equal(patient_name_words("", &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(patient_name_words(" - . , ", &w), 0);
	assert_int_equal(w.n, 0);
}

static void
test_name_words_too_many_keeps_the_first(void **state)
{
	struct patient_words	w;

	(void)state;
	assert_int_equal(patient_name_words("a b c d e f g h i j k l m n o p q r",
	    &w), -1);
	assert_int_equal(w.n, PATIENT_WORDS_MAX);
	assert_string_equal(w.word[0], "a");
	assert_string_equal(w.word[PATIENT_WORDS_MAX - 1], "p");
}

static void
test_name_words_long_word_truncates_on_a_character(void **state)
{
	struct patient_words	 w;
	char			*name = xmalloc(200 * 2 + 1);
	size_t			 i;

	(void)state;
	for (i = 0; i < 200; i++)
		memcpy(name + i * 2, "\xd0\x96", 2);	/* Ж, folds to ж */
	name[400] = '\0';
	assert_int_equal(patient_name_words(name, &w), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(strlen(w.word[0]), PATIENT_WORD_BYTES - 2);
	assert_true(utf8_valid(w.word[0], strlen(w.word[0])));
	assert_memory_equal(w.word[0], "\xd0\xb6", 2);
	free(name);
}

/* --- phone digits --- */

static void
test_phone_digits_keeps_only_digits(void **state)
{
	char	out[PHONE_MAX + 1];

	(void)state;
	assert_int_equal(patient_phone_digits("+1 (555) 010-0010", out, sizeof out), 11);
	assert_string_equal(out, "15550100010");
	assert_int_equal(patient_phone_digits("", out, sizeof out), 0);
	assert_string_equal(out, "");
	/* Never past the buffer. */
	assert_int_equal(patient_phone_digits("123456", out, 4), 3);
	assert_string_equal(out, "123");
}

/* --- dates of birth --- */

static void
test_dob_accepts_real_past_dates(void **state)
{
	int64_t	now = 1700000000;	/* 2023-11-14 */

	(void)state;
	assert_null(patient_dob_problem("1990-05-17", now));
	assert_null(patient_dob_problem("1900-01-01", now));
	assert_null(patient_dob_problem("2020-02-29", now));
	assert_null(patient_dob_problem("2023-11-14", now));
}

static void
test_dob_refuses_malformed_and_unreal_dates(void **state)
{
	int64_t	now = 1700000000;

	(void)state;
	assert_non_null(patient_dob_problem("1990-5-17", now));
	assert_non_null(patient_dob_problem("17/05/1990", now));
	assert_non_null(patient_dob_problem("1990-05-17x", now));
	assert_non_null(patient_dob_problem("", now));
	assert_non_null(strstr(patient_dob_problem("2021-02-29", now), "real"));
	assert_non_null(strstr(patient_dob_problem("1990-13-01", now), "real"));
	assert_non_null(strstr(patient_dob_problem("1990-04-31", now), "real"));
	assert_non_null(strstr(patient_dob_problem("1990-00-10", now), "real"));
}

static void
test_dob_refuses_future_and_before_1900(void **state)
{
	int64_t	now = 1700000000;

	(void)state;
	assert_non_null(strstr(patient_dob_problem("2023-11-15", now), "future"));
	assert_non_null(strstr(patient_dob_problem("2999-01-01", now), "future"));
	assert_non_null(strstr(patient_dob_problem("1899-12-31", now), "1900"));
	assert_non_null(strstr(patient_dob_problem("0001-01-01", now), "1900"));
}

/* --- the store --- */

static int
store_setup(void **state)
{
	char	*cause = NULL;

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(db_path, sizeof db_path, "%s/t.db", tmpdir);
	if (db_open(db_path, 0, &cause) != 0) {
		print_error("db_open: %s\n", cause);
		free(cause);
		return -1;
	}
	return 0;
}

static int
store_teardown(void **state)
{
	char	path[sizeof db_path + 8];

	(void)state;
	db_close();
	unlink(db_path);
	snprintf(path, sizeof path, "%s-wal", db_path);
	unlink(path);
	snprintf(path, sizeof path, "%s-shm", db_path);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static int64_t
add_patient(const char *name, const char *dob, const char *phone, const char *email)
{
	struct patient	p;

	memset(&p, 0, sizeof p);
	strlcpy_mf(p.full_name, name, sizeof p.full_name);
	strlcpy_mf(p.date_of_birth, dob, sizeof p.date_of_birth);
	strlcpy_mf(p.phone, phone, sizeof p.phone);
	strlcpy_mf(p.email, email, sizeof p.email);
	p.created_at = p.updated_at = 1700000000;
	assert_int_equal(db_begin(), 0);
	assert_int_equal(patients_insert(&p), 0);
	assert_int_equal(db_commit(), 0);
	assert_true(p.id > 0);
	return p.id;
}

/* A patient login for patients_attach_user to link. */
static int64_t
add_user(const char *email)
{
	struct user	u;

	memset(&u, 0, sizeof u);
	strlcpy_mf(u.email, email, sizeof u.email);
	strlcpy_mf(u.full_name, "Someone", sizeof u.full_name);
	strlcpy_mf(u.password_hash, "x", sizeof u.password_hash);
	u.role = ROLE_PATIENT;
	u.active = 1;
	u.created_at = u.updated_at = 1700000000;
	assert_int_equal(users_insert(&u), 0);
	return u.id;
}

/* Searches by name and returns how many; ids in out. */
static size_t
search_name(const char *name, int64_t *out)
{
	struct patient_query	q;

	memset(&q, 0, sizeof q);
	patient_name_words(name, &q.name);
	q.limit = PATIENT_SEARCH_MAX;
	return patients_search(&q, out);
}

static void
test_store_search_by_every_word_prefix(void **state)
{
	int64_t	john, johanna, garcia, ids[PATIENT_SEARCH_MAX];

	(void)state;
	john = add_patient("John Smith", "1980-01-02", "+1 555 0100", "");
	johanna = add_patient("Johanna Smithers", "1975-06-07", "+1 555 0199", "");
	garcia = add_patient("José García", "1990-05-17", "+34 600 123 456", "");
	add_patient("Mary Jones", "1980-01-02", "+44 20 7946 0000", "");

	/* Every typed word must start some word of the name. */
	assert_int_equal(search_name("smi jo", ids), 2);
	assert_int_equal(ids[0], johanna);	/* ordered by full_name */
	assert_int_equal(ids[1], john);
	assert_int_equal(search_name("SMITH JOHN", ids), 1);
	assert_int_equal(ids[0], john);
	assert_int_equal(search_name("smithers john", ids), 0);
	/* Case and accents do not matter, either way round. */
	assert_int_equal(search_name("garcia", ids), 1);
	assert_int_equal(ids[0], garcia);
	assert_int_equal(search_name("GARCÍA JOS", ids), 1);
	assert_int_equal(search_name("arc", ids), 0);	/* prefixes, not substrings */
}

static void
test_store_search_by_phone_prefix_and_date(void **state)
{
	struct patient_query	q;
	int64_t			ids[PATIENT_SEARCH_MAX];

	(void)state;
	memset(&q, 0, sizeof q);
	q.limit = PATIENT_SEARCH_MAX;
	q.phone_digits = "1555";
	assert_int_equal(patients_search(&q, ids), 2);
	q.phone_digits = "1555010";
	assert_int_equal(patients_search(&q, ids), 1);
	q.phone_digits = "99";
	assert_int_equal(patients_search(&q, ids), 0);

	q.phone_digits = NULL;
	q.date_of_birth = "1980-01-02";
	assert_int_equal(patients_search(&q, ids), 2);
	/* Criteria combine. */
	patient_name_words("jones", &q.name);
	assert_int_equal(patients_search(&q, ids), 1);
	q.phone_digits = "44";
	assert_int_equal(patients_search(&q, ids), 1);
	q.phone_digits = "1";
	assert_int_equal(patients_search(&q, ids), 0);

	/* No criterion: nothing, never every patient. */
	memset(&q, 0, sizeof q);
	q.limit = PATIENT_SEARCH_MAX;
	assert_int_equal(patients_search(&q, ids), 0);
}

static int
keep_even(int64_t id, void *arg)
{
	(*(int *)arg)++;
	return id % 2 == 0;
}

static void
test_store_search_limit_and_filter(void **state)
{
	struct patient_query	q;
	int64_t			ids[PATIENT_SEARCH_MAX];
	char			name[32];
	int			i, calls = 0;

	(void)state;
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof name, "Zed Number%02d", i);
		add_patient(name, "", "", "");
	}
	memset(&q, 0, sizeof q);
	patient_name_words("zed", &q.name);
	q.limit = 5;
	assert_int_equal(patients_search(&q, ids), 5);
	q.limit = PATIENT_SEARCH_MAX;
	assert_int_equal(patients_search(&q, ids), 30);
	/* A filter drops rows without shortening the page. */
	q.limit = 10;
	q.keep = keep_even;
	q.keep_arg = &calls;
	assert_int_equal(patients_search(&q, ids), 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(ids[i] % 2, 0);
	assert_true(calls >= 10);
}

/* Runs a query under each search plan; all must give the same page. */
static void
assert_plans_agree(struct patient_query *q, size_t want)
{
	static const struct {
		enum patient_search_plan plan;
		size_t			 scan_budget;
	} tunes[] = {
		{ SEARCH_PLAN_AUTO, 20000 },
		{ SEARCH_PLAN_CANDIDATES, 20000 },
		{ SEARCH_PLAN_NAME_ORDER, 1000000 },
		/* The walk runs out: candidates after all. */
		{ SEARCH_PLAN_NAME_ORDER, 3 },
	};
	int64_t	first[PATIENT_SEARCH_MAX], ids[PATIENT_SEARCH_MAX];
	size_t	i, n, n0 = 0;

	for (i = 0; i < nitems(tunes); i++) {
		patients_search_tune(tunes[i].plan, tunes[i].scan_budget);
		n = patients_search(q, i == 0 ? first : ids);
		if (i == 0)
			n0 = n;
		else {
			assert_int_equal(n, n0);
			assert_memory_equal(ids, first, n * sizeof *ids);
		}
	}
	patients_search_tune(SEARCH_PLAN_AUTO, 20000);
	assert_int_equal(n0, want);
}

static void
test_store_search_plans_agree(void **state)
{
	struct patient_query	q;
	int			calls = 0;

	(void)state;
	memset(&q, 0, sizeof q);
	q.limit = 20;
	patient_name_words("zed", &q.name);
	assert_plans_agree(&q, 20);
	patient_name_words("zed number1", &q.name);
	assert_plans_agree(&q, 10);
	patient_name_words("smi jo", &q.name);
	assert_plans_agree(&q, 2);
	q.phone_digits = "1555";
	assert_plans_agree(&q, 2);
	q.date_of_birth = "1980-01-02";
	assert_plans_agree(&q, 1);
	memset(&q.name, 0, sizeof q.name);
	q.phone_digits = NULL;
	assert_plans_agree(&q, 2);
	q.date_of_birth = NULL;
	q.phone_digits = "1";
	assert_plans_agree(&q, 2);
	q.phone_digits = NULL;
	patient_name_words("z", &q.name);
	q.keep = keep_even;
	q.keep_arg = &calls;
	q.limit = 7;
	assert_plans_agree(&q, 7);
}

/*
 * A prefix spanning several words merges their lists in name order, a chunk
 * at a time, and a patient under two of those words comes once.
 */
static void
test_store_search_walk_merges_words(void **state)
{
	struct patient_query	q;
	struct patient		a, b;
	int64_t			ids[PATIENT_SEARCH_MAX];
	char			name[32];
	size_t			i, n;

	(void)state;
	/* 35 a word, interleaved in name order: Quill 00 Kay, Quill 01 Kai, ... */
	for (i = 0; i < 70; i++) {
		snprintf(name, sizeof name, "Quill %02zu %s", i, i % 2 ? "Kai" : "Kay");
		add_patient(name, "", "", "");
	}
	add_patient("Kato Kawa", "", "", "");	/* two words in "ka" */
	memset(&q, 0, sizeof q);
	q.limit = PATIENT_SEARCH_MAX;
	patient_name_words("ka qu", &q.name);
	assert_int_equal(patients_search(&q, ids), 70);
	for (i = 1; i < 70; i++) {
		assert_int_equal(patients_by_id(ids[i - 1], &a), 0);
		assert_int_equal(patients_by_id(ids[i], &b), 0);
		assert_true(strcasecmp(a.full_name, b.full_name) < 0);
	}
	patient_name_words("ka", &q.name);
	n = patients_search(&q, ids);
	assert_int_equal(n, 71);
	assert_int_equal(patients_by_id(ids[0], &a), 0);
	assert_string_equal(a.full_name, "Kato Kawa");
	assert_plans_agree(&q, 71);
	q.limit = 40;
	patient_name_words("ka qu", &q.name);
	assert_plans_agree(&q, 40);
}

static void
test_store_save_rewrites_words(void **state)
{
	struct patient	p;
	int64_t		ids[PATIENT_SEARCH_MAX], id;

	(void)state;
	id = add_patient("Ann Oldname", "", "", "");
	assert_int_equal(patients_by_id(id, &p), 0);
	strlcpy_mf(p.full_name, "Ann Newname", sizeof p.full_name);
	strlcpy_mf(p.phone, "+49 30 1234567", sizeof p.phone);
	assert_int_equal(patients_save(&p), 0);
	assert_int_equal(search_name("oldname", ids), 0);
	assert_int_equal(search_name("newn ann", ids), 1);
	assert_int_equal(ids[0], id);
	assert_int_equal(patients_by_id(id, &p), 0);
	assert_string_equal(p.phone, "+49 30 1234567");
	assert_int_equal(p.user_id, 0);
	assert_int_equal(patients_by_id(999999, &p), -1);
}

static void
test_store_attach_user_claims_the_one_desk_record(void **state)
{
	struct patient	p;
	int64_t		desk, id, user = add_user("walkin@example.org");

	(void)state;
	desk = add_patient("Walk In", "1970-03-04", "", "walkin@example.org");
	assert_int_equal(db_begin(), 0);
	id = patients_attach_user(user, "  WalkIn@Example.org ", "Walk In Online",
	    "+1 555 0123", NULL, 1700000100);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(id, desk);
	assert_int_equal(patients_by_user(user, &p), 0);
	assert_int_equal(p.id, desk);
	/* The desk's name and date stay; a missing phone is filled in. */
	assert_string_equal(p.full_name, "Walk In");
	assert_string_equal(p.date_of_birth, "1970-03-04");
	assert_string_equal(p.phone, "+1 555 0123");
	assert_int_equal(p.updated_at, 1700000100);
	/* Asking again changes nothing. */
	assert_int_equal(patients_attach_user(user, "walkin@example.org", "x", NULL,
	    NULL, 1700000200), desk);
}

static void
test_store_attach_user_creates_when_none_or_ambiguous(void **state)
{
	struct patient	p;
	int64_t		a, b, id, u1, u2, u3, u4;

	(void)state;
	u1 = add_user("new@example.org");
	u2 = add_user("family@example.org");
	u3 = add_user("solo@example.org");
	u4 = add_user("solo-too@example.org");
	/* No desk record: a new one from the account. */
	assert_int_equal(db_begin(), 0);
	id = patients_attach_user(u1, "new@example.org", "New Person", "bad phone!",
	    NULL, 1700000000);
	assert_int_equal(db_commit(), 0);
	assert_true(id > 0);
	assert_int_equal(patients_by_id(id, &p), 0);
	assert_int_equal(p.user_id, u1);
	assert_string_equal(p.full_name, "New Person");
	assert_string_equal(p.email, "new@example.org");
	assert_string_equal(p.phone, "");

	/* Two desk records share an e-mail (a family): neither is taken. */
	a = add_patient("Parent One", "", "", "family@example.org");
	b = add_patient("Child One", "", "", "family@example.org");
	assert_int_equal(db_begin(), 0);
	id = patients_attach_user(u2, "family@example.org", "Parent One", NULL,
	    NULL, 1700000000);
	assert_int_equal(db_commit(), 0);
	assert_true(id != a && id != b && id > 0);
	assert_int_equal(patients_by_id(a, &p), 0);
	assert_int_equal(p.user_id, 0);

	/* A claimed record is not claimed twice. */
	add_patient("Solo", "", "", "solo@example.org");
	assert_int_equal(db_begin(), 0);
	a = patients_attach_user(u3, "solo@example.org", "Solo", NULL, NULL, 1700000000);
	b = patients_attach_user(u4, "solo@example.org", "Solo Too", NULL, NULL, 1700000000);
	assert_int_equal(db_commit(), 0);
	assert_true(a > 0 && b > 0 && a != b);
}

static void
test_store_pack_has_every_public_field(void **state)
{
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	msgpack_unpacked	 u;
	struct patient		 p;
	size_t			 off = 0;

	(void)state;
	memset(&p, 0, sizeof p);
	p.id = 7;
	strlcpy_mf(p.full_name, "A B", sizeof p.full_name);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	patients_pack(&pk, &p);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(u.data.via.map.size, 10);
	/* user_id 0 goes out as nil. */
	assert_int_equal(u.data.via.map.ptr[1].val.type, MSGPACK_OBJECT_NIL);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_words_split_on_spaces_and_lower_case),
		cmocka_unit_test(test_name_words_fold_latin_accents),
		cmocka_unit_test(test_name_words_lower_case_greek_and_cyrillic),
		cmocka_unit_test(test_name_words_apostrophes_split_and_join),
		cmocka_unit_test(test_name_words_are_unique),
		cmocka_unit_test(test_name_words_blank_name_has_none),
		cmocka_unit_test(test_name_words_too_many_keeps_the_first),
		cmocka_unit_test(test_name_words_long_word_truncates_on_a_character),
		cmocka_unit_test(test_phone_digits_keeps_only_digits),
		cmocka_unit_test(test_dob_accepts_real_past_dates),
		cmocka_unit_test(test_dob_refuses_malformed_and_unreal_dates),
		cmocka_unit_test(test_dob_refuses_future_and_before_1900),
		/* In order: each store test builds on the rows before it. */
		cmocka_unit_test(test_store_search_by_every_word_prefix),
		cmocka_unit_test(test_store_search_by_phone_prefix_and_date),
		cmocka_unit_test(test_store_search_limit_and_filter),
		cmocka_unit_test(test_store_search_plans_agree),
		cmocka_unit_test(test_store_search_walk_merges_words),
		cmocka_unit_test(test_store_save_rewrites_words),
		cmocka_unit_test(test_store_attach_user_claims_the_one_desk_record),
		cmocka_unit_test(test_store_attach_user_creates_when_none_or_ambiguous),
		cmocka_unit_test(test_store_pack_has_every_public_field),
	};

	/* Dates of birth are checked against the clinic's today. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, store_setup, store_teardown);
}
