/* test_audit_hash.c -- the audit chain's row hash: deterministic, and
 * changed by every field, by the row id and by the previous hash, with
 * NULL and "" told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit.h"
#include "util.h"

static unsigned char		base_prev[AUDIT_HASH_BYTES];
static unsigned char		base_hash[AUDIT_HASH_BYTES];
static const int64_t		base_id = 41;

static struct audit_entry	base_entry(void);
static void			assert_differs(const unsigned char *, int64_t,
				    const struct audit_entry *, const char *);

static int
setup(void **state)
{
	struct audit_entry	e;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	memset(base_prev, 0x5a, sizeof base_prev);
	e = base_entry();
	audit_hash(base_prev, base_id, &e, base_hash);
	return 0;
}

static struct audit_entry
base_entry(void)
{
	struct audit_entry	e;

	e.ts = 1700000000;
	e.actor_id = 7;
	e.actor_role = "admin";
	e.action = "users.update";
	e.patient_id = 12;
	e.target = "jane@example.com";
	e.detail = "user 9 role";
	e.addr = "10.0.0.5";
	return e;
}

static void
assert_differs(const unsigned char *prev, int64_t id,
    const struct audit_entry *e, const char *what)
{
	unsigned char	h[AUDIT_HASH_BYTES];

	audit_hash(prev, id, e, h);
	if (memcmp(h, base_hash, sizeof h) == 0) {
		print_error("changing %s did not change the hash\n", what);
		fail();
	}
}

static void
test_hash_is_deterministic(void **state)
{
	struct audit_entry	e = base_entry(), copy;
	unsigned char		h1[AUDIT_HASH_BYTES + 4], h2[AUDIT_HASH_BYTES];
	char			action[32];

	(void)state;
	memset(h1, 0xee, sizeof h1);
	audit_hash(base_prev, base_id, &e, h1);
	assert_memory_equal(h1, base_hash, AUDIT_HASH_BYTES);
	assert_int_equal(h1[AUDIT_HASH_BYTES], 0xee);	/* 32 bytes, no more */
	/* Equal strings at other addresses hash the same. */
	copy = e;
	strcpy(action, "users.update");
	copy.action = action;
	audit_hash(base_prev, base_id, &copy, h2);
	assert_memory_equal(h2, base_hash, AUDIT_HASH_BYTES);
}

static void
test_every_field_changes_the_hash(void **state)
{
	unsigned char		prev[AUDIT_HASH_BYTES];
	struct audit_entry	e;

	(void)state;
#define FIELD(name, value) do {						\
	e = base_entry();						\
	e.name = (value);						\
	assert_differs(base_prev, base_id, &e, #name);			\
} while (0)
	FIELD(ts, 1700000001);
	FIELD(actor_id, 8);
	FIELD(actor_id, 0);
	FIELD(actor_role, "doctor");
	FIELD(action, "users.create");
	FIELD(patient_id, 13);
	FIELD(patient_id, 0);
	FIELD(target, "jane@example.org");
	FIELD(detail, "user 9 email");
	FIELD(addr, "10.0.0.6");
#undef FIELD
	e = base_entry();
	assert_differs(base_prev, base_id + 1, &e, "id");
	memcpy(prev, base_prev, sizeof prev);
	prev[AUDIT_HASH_BYTES - 1] ^= 1;
	assert_differs(prev, base_id, &e, "prev");
}

static void
test_null_and_empty_differ(void **state)
{
	struct audit_entry	e;
	unsigned char		h_null[AUDIT_HASH_BYTES], h_empty[AUDIT_HASH_BYTES];

	(void)state;
#define NULL_VS_EMPTY(name) do {					\
	e = base_entry();						\
	e.name = NULL;							\
	audit_hash(base_prev, base_id, &e, h_null);			\
	e.name = "";							\
	audit_hash(base_prev, base_id, &e, h_empty);			\
	assert_memory_not_equal(h_null, h_empty, AUDIT_HASH_BYTES);	\
	assert_memory_not_equal(h_null, base_hash, AUDIT_HASH_BYTES);	\
	assert_memory_not_equal(h_empty, base_hash, AUDIT_HASH_BYTES);	\
} while (0)
	NULL_VS_EMPTY(actor_role);
	NULL_VS_EMPTY(action);
	NULL_VS_EMPTY(target);
	NULL_VS_EMPTY(detail);
	NULL_VS_EMPTY(addr);
#undef NULL_VS_EMPTY
}

static void
test_fields_do_not_run_together(void **state)
{
	struct audit_entry	a = base_entry(), b = base_entry();
	unsigned char		ha[AUDIT_HASH_BYTES], hb[AUDIT_HASH_BYTES];

	(void)state;
	/* Text moved from one field to the next must not hash the same. */
	a.target = "ab";
	a.detail = "c";
	b.target = "a";
	b.detail = "bc";
	audit_hash(base_prev, base_id, &a, ha);
	audit_hash(base_prev, base_id, &b, hb);
	assert_memory_not_equal(ha, hb, AUDIT_HASH_BYTES);
	a.detail = NULL;
	a.target = "x";
	b.target = NULL;
	b.detail = "x";
	audit_hash(base_prev, base_id, &a, ha);
	audit_hash(base_prev, base_id, &b, hb);
	assert_memory_not_equal(ha, hb, AUDIT_HASH_BYTES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_deterministic),
		cmocka_unit_test(test_every_field_changes_the_hash),
		cmocka_unit_test(test_null_and_empty_differ),
		cmocka_unit_test(test_fields_do_not_run_together),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
