/* test_ratelimit.c -- GCRA "N per window" limits, with the time passed in:
 * bursts, the even return of allowance, independent keys, peek, reset,
 * sweep, and a table grown past many thousands of keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

#define T0		1700000000.0
#define EPS		1e-6

static struct ratelimit	*rl;

static int	hit(const char *, int, int, double, double *);
static int	burst(const char *, int, int, double);

static int
setup(void **state)
{
	(void)state;
	rl = ratelimit_new();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ratelimit_free(rl);
	rl = NULL;
	return 0;
}

static int
hit(const char *key, int limit, int window, double now, double *retry)
{
	double	dummy;

	return ratelimit_hit(rl, key, limit, window, now, retry != NULL ?
	    retry : &dummy);
}

/* How many hits at one instant are allowed (stops at the first refusal). */
static int
burst(const char *key, int limit, int window, double now)
{
	int	n = 0;

	while (n <= limit && hit(key, limit, window, now, NULL) == 0)
		n++;
	return n;
}

static void
test_burst_allows_exactly_limit(void **state)
{
	double	retry = -1;
	int	i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_int_equal(hit("k", 5, 900, T0, &retry), 0);
		assert_true(retry == 0);
	}
	assert_int_equal(hit("k", 5, 900, T0, &retry), -1);
	assert_true(retry > 0);
	/* Another limit: 100 per 15 minutes. */
	assert_int_equal(burst("api", 100, 900, T0), 100);
	/* One per window. */
	assert_int_equal(burst("once", 1, 60, T0), 1);
}

static void
test_refusal_says_wait_one_interval(void **state)
{
	double	retry = 0;

	(void)state;
	assert_int_equal(burst("k", 5, 900, T0), 5);
	assert_int_equal(hit("k", 5, 900, T0, &retry), -1);
	/* window / limit = 180 s */
	assert_true(retry > 180 - EPS && retry < 180 + EPS);
	/* Later on, less to wait. */
	assert_int_equal(hit("k", 5, 900, T0 + 100, &retry), -1);
	assert_true(retry > 80 - EPS && retry < 80 + EPS);
	assert_int_equal(burst("m", 30, 60, T0), 30);
	assert_int_equal(hit("m", 30, 60, T0, &retry), -1);
	assert_true(retry > 2 - EPS && retry < 2 + EPS);
}

static void
test_refusals_do_not_count(void **state)
{
	double	retry = 0;
	int	i;

	(void)state;
	assert_int_equal(burst("k", 5, 900, T0), 5);
	for (i = 0; i < 50; i++)
		assert_int_equal(hit("k", 5, 900, T0 + 1, NULL), -1);
	/* Hammering did not push the wait further out. */
	assert_int_equal(hit("k", 5, 900, T0 + 1, &retry), -1);
	assert_true(retry > 179 - EPS && retry < 179 + EPS);
	assert_int_equal(hit("k", 5, 900, T0 + 180, NULL), 0);
}

static void
test_allowance_returns_evenly(void **state)
{
	(void)state;
	assert_int_equal(burst("k", 5, 900, T0), 5);
	/* Just before one interval: still nothing. */
	assert_int_equal(hit("k", 5, 900, T0 + 179, NULL), -1);
	/* One interval later exactly one more. */
	assert_int_equal(hit("k", 5, 900, T0 + 180, NULL), 0);
	assert_int_equal(hit("k", 5, 900, T0 + 180, NULL), -1);
	/* Two intervals on from there: two more. */
	assert_int_equal(burst("k", 5, 900, T0 + 540), 2);
	/* A whole idle window: the whole burst again, never more. */
	assert_int_equal(burst("k", 5, 900, T0 + 540 + 900), 5);
	assert_int_equal(burst("k", 5, 900, T0 + 540 + 900 + 10000), 5);
}

static void
test_sustained_rate_is_one_per_interval(void **state)
{
	double	t;
	int	allowed = 0;

	(void)state;
	/*
	 * One attempt a second: the burst of 5 first, then one each 180 s
	 * (at 180, 360, 540, 720). So a window may see up to 2 * limit - 1;
	 * over a long run the rate is limit per window.
	 */
	for (t = 0; t < 900; t += 1)
		if (hit("k", 5, 900, T0 + t, NULL) == 0)
			allowed++;
	assert_int_equal(allowed, 5 + 4);
	for (; t < 900 * 11; t += 1)
		if (hit("k", 5, 900, T0 + t, NULL) == 0)
			allowed++;
	/* 11 windows: 5 + 5 * 11 - 1 (the one due at 9900 is outside). */
	assert_int_equal(allowed, 5 + 5 * 11 - 1);
}

static void
test_keys_are_independent(void **state)
{
	(void)state;
	assert_int_equal(burst("api:u:1", 3, 60, T0), 3);
	assert_int_equal(hit("api:u:1", 3, 60, T0, NULL), -1);
	assert_int_equal(burst("api:u:2", 3, 60, T0), 3);
	assert_int_equal(burst("api:a:10.0.0.1", 3, 60, T0), 3);
	assert_int_equal(hit("api:u:1", 3, 60, T0, NULL), -1);
	assert_int_equal(ratelimit_size(rl), 3);
}

static void
test_peek_does_not_count(void **state)
{
	double	retry = -1;
	int	i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(ratelimit_peek(rl, "k", 5, 900, T0, &retry), 0);
	assert_true(retry == 0);
	/* An unknown key peeked is not stored. */
	assert_int_equal(ratelimit_size(rl), 0);
	assert_int_equal(burst("k", 5, 900, T0), 5);
	assert_int_equal(ratelimit_peek(rl, "k", 5, 900, T0, &retry), -1);
	assert_true(retry > 180 - EPS && retry < 180 + EPS);
	assert_int_equal(ratelimit_peek(rl, "k", 5, 900, T0 + 180, &retry), 0);
	assert_int_equal(ratelimit_peek(rl, "k", 5, 900, T0 + 180, &retry), 0);
	assert_int_equal(hit("k", 5, 900, T0 + 180, NULL), 0);
	assert_int_equal(ratelimit_peek(rl, "k", 5, 900, T0 + 180, &retry), -1);
}

static void
test_reset_forgets_a_key(void **state)
{
	(void)state;
	assert_int_equal(burst("a", 5, 900, T0), 5);
	assert_int_equal(burst("b", 5, 900, T0), 5);
	assert_int_equal(ratelimit_size(rl), 2);
	ratelimit_reset(rl, "a");
	assert_int_equal(ratelimit_size(rl), 1);
	assert_int_equal(burst("a", 5, 900, T0), 5);
	assert_int_equal(hit("b", 5, 900, T0, NULL), -1);
	/* Resetting an unknown key is harmless. */
	ratelimit_reset(rl, "nobody");
	assert_int_equal(ratelimit_size(rl), 2);
}

static void
test_sweep_drops_idle_keys(void **state)
{
	(void)state;
	assert_int_equal(hit("old", 5, 900, T0, NULL), 0);	/* owes 180 s */
	assert_int_equal(burst("busy", 5, 900, T0 + 800), 5);	/* owes 900 s */
	assert_int_equal(ratelimit_size(rl), 2);
	assert_int_equal(ratelimit_sweep(rl, T0 + 100), 2);
	/* "old" is back to a full allowance at T0 + 180. */
	assert_int_equal(ratelimit_sweep(rl, T0 + 180), 1);
	assert_int_equal(ratelimit_size(rl), 1);
	/* The key that stays keeps its state. */
	assert_int_equal(hit("busy", 5, 900, T0 + 900, NULL), -1);
	assert_int_equal(ratelimit_sweep(rl, T0 + 800 + 900), 0);
	assert_int_equal(ratelimit_size(rl), 0);
	/* A swept key starts afresh. */
	assert_int_equal(burst("busy", 5, 900, T0 + 2000), 5);
}

static void
test_table_grows_past_many_keys(void **state)
{
	enum { N = 50000 };
	char	key[32];
	double	retry;
	int	i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "api:a:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		assert_int_equal(hit(key, 2, 60, T0, NULL), 0);
	}
	assert_int_equal(ratelimit_size(rl), N);
	/* Every key kept its own state through the resizes. */
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "api:a:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		assert_int_equal(hit(key, 2, 60, T0, NULL), 0);
		assert_int_equal(hit(key, 2, 60, T0, NULL), -1);
	}
	assert_int_equal(ratelimit_size(rl), N);
	/* Reset every other one; the rest still refuse. */
	for (i = 0; i < N; i += 2) {
		snprintf(key, sizeof key, "api:a:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		ratelimit_reset(rl, key);
	}
	assert_int_equal(ratelimit_size(rl), N / 2);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "api:a:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		assert_int_equal(ratelimit_peek(rl, key, 2, 60, T0, &retry),
		    (i % 2 == 0) ? 0 : -1);
	}
	assert_int_equal(ratelimit_sweep(rl, T0 + 60), 0);
}

static void
test_churn_of_short_lived_keys_stays_small(void **state)
{
	char	key[32];
	int	i;

	(void)state;
	/* Insert and forget 200k keys: tombstones must not fill the table. */
	for (i = 0; i < 200000; i++) {
		snprintf(key, sizeof key, "authfail:a:%d", i);
		assert_int_equal(hit(key, 5, 900, T0, NULL), 0);
		ratelimit_reset(rl, key);
		if (i % 1000 == 0)
			assert_int_equal(hit("steady", 1000000, 900, T0, NULL), 0);
	}
	assert_int_equal(ratelimit_size(rl), 1);
	assert_int_equal(burst("fresh", 3, 60, T0), 3);
	assert_int_equal(ratelimit_size(rl), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_burst_allows_exactly_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_says_wait_one_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_do_not_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowance_returns_evenly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sustained_rate_is_one_per_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_are_independent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peek_does_not_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_forgets_a_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_drops_idle_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_grows_past_many_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn_of_short_lived_keys_stays_small, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
