/* test_reminders.c -- the scheduler's pure parts: reminder_offsets parsing
 * and labels, the retry backoff, channel names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reminders.h"

static void
test_offsets_default(void **state)
{
	int64_t	off[REMINDER_OFFSETS_MAX];
	char	lab[REMINDER_OFFSETS_MAX][16];

	(void)state;
	assert_int_equal(reminder_offsets_parse("24h,1h", off, lab,
	    REMINDER_OFFSETS_MAX), 2);
	assert_int_equal(off[0], 86400);
	assert_int_equal(off[1], 3600);
	assert_string_equal(lab[0], "24h");
	assert_string_equal(lab[1], "1h");
}

static void
test_offsets_are_sorted_and_labelled_canonically(void **state)
{
	int64_t	off[REMINDER_OFFSETS_MAX];
	char	lab[REMINDER_OFFSETS_MAX][16];

	(void)state;
	assert_int_equal(reminder_offsets_parse(" 30m , 1d, 3d,90 ", off, lab,
	    REMINDER_OFFSETS_MAX), 4);
	assert_int_equal(off[0], 3 * 86400);
	assert_string_equal(lab[0], "3d");
	assert_int_equal(off[1], 86400);
	assert_string_equal(lab[1], "24h");
	assert_int_equal(off[2], 1800);
	assert_string_equal(lab[2], "30m");
	assert_int_equal(off[3], 90);
	assert_string_equal(lab[3], "90s");
}

static void
test_offsets_refuse_bad_specs(void **state)
{
	int64_t	off[REMINDER_OFFSETS_MAX];
	char	lab[REMINDER_OFFSETS_MAX][16];

	(void)state;
	assert_int_equal(reminder_offsets_parse("24x", off, lab, 4), -1);
	assert_int_equal(reminder_offsets_parse("1h,1h", off, lab, 4), -1);
	assert_int_equal(reminder_offsets_parse("1h,60m", off, lab, 4), -1);
	assert_int_equal(reminder_offsets_parse("1h,,2h", off, lab, 4), 2);
	assert_int_equal(reminder_offsets_parse("0", off, lab, 4), -1);
	assert_int_equal(reminder_offsets_parse("-1h", off, lab, 4), -1);
	assert_int_equal(reminder_offsets_parse("31d", off, lab, 4), -1);
	assert_int_equal(reminder_offsets_parse("1h,2h,3h,4h,5h", off, lab, 4), -1);
}

static void
test_backoff_doubles_up_to_an_hour(void **state)
{
	(void)state;
	assert_int_equal(reminder_backoff(1), REMINDER_BACKOFF_BASE);
	assert_int_equal(reminder_backoff(2), 2 * REMINDER_BACKOFF_BASE);
	assert_int_equal(reminder_backoff(3), 4 * REMINDER_BACKOFF_BASE);
	assert_int_equal(reminder_backoff(30), REMINDER_BACKOFF_MAX);
}

static void
test_channel_names(void **state)
{
	(void)state;
	assert_int_equal(reminder_channels_from_name("email"), RCH_EMAIL);
	assert_int_equal(reminder_channels_from_name("sms"), RCH_SMS);
	assert_int_equal(reminder_channels_from_name("both"), RCH_BOTH);
	assert_int_equal(reminder_channels_from_name("none"), RCH_NONE);
	assert_int_equal(reminder_channels_from_name("fax"), -1);
	assert_string_equal(reminder_channels_name(RCH_BOTH), "both");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_default),
		cmocka_unit_test(test_offsets_are_sorted_and_labelled_canonically),
		cmocka_unit_test(test_offsets_refuse_bad_specs),
		cmocka_unit_test(test_backoff_doubles_up_to_an_hour),
		cmocka_unit_test(test_channel_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
