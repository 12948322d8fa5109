/* test_text.c -- the text checks every argument goes through: UTF-8
 * validity and length, control characters, e-mail addresses and phones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "users.h"
#include "util.h"

#define VALID(s)	utf8_valid((s), sizeof(s) - 1)
#define LENGTH(s)	utf8_length((s), sizeof(s) - 1)
#define CONTROL(s)	has_control_chars((s), sizeof(s) - 1)

static void	assert_email(const char *, const char *);
static void	assert_not_email(const char *);

static void
assert_email(const char *in, const char *want)
{
	char	out[EMAIL_MAX + 1];

	memset(out, '#', sizeof out);
	if (email_normalize(in, out, sizeof out) != 0) {
		print_error("refused: \"%s\"\n", in);
		fail();
	}
	assert_string_equal(out, want);
}

static void
assert_not_email(const char *in)
{
	char	out[EMAIL_MAX + 1];

	if (email_normalize(in, out, sizeof out) == 0) {
		print_error("accepted: \"%s\" as \"%s\"\n", in, out);
		fail();
	}
}

/* --- UTF-8 --- */

static void
test_utf8_accepts_well_formed(void **state)
{
	(void)state;
	assert_true(utf8_valid("", 0));
	assert_true(VALID("plain ASCII ~"));
	assert_true(VALID("caf\xc3\xa9"));			/* é */
	assert_true(VALID("\xe2\x82\xac"));			/* € */
	assert_true(VALID("\xf0\x9f\x98\x80"));			/* 😀 */
	assert_true(VALID("\xc2\x80"));				/* U+0080 */
	assert_true(VALID("\xdf\xbf"));				/* U+07FF */
	assert_true(VALID("\xe0\xa0\x80"));			/* U+0800 */
	assert_true(VALID("\xed\x9f\xbf"));			/* U+D7FF */
	assert_true(VALID("\xee\x80\x80"));			/* U+E000 */
	assert_true(VALID("\xef\xbf\xbf"));			/* U+FFFF */
	assert_true(VALID("\xf0\x90\x80\x80"));			/* U+10000 */
	assert_true(VALID("\xf4\x8f\xbf\xbf"));			/* U+10FFFF */
	assert_true(VALID("\x7f"));
}

static void
test_utf8_refuses_overlong_forms(void **state)
{
	(void)state;
	assert_false(VALID("\xc0\x80"));		/* NUL, overlong */
	assert_false(VALID("\xc0\xaf"));		/* '/' */
	assert_false(VALID("\xc1\xbf"));
	assert_false(VALID("\xe0\x80\xaf"));
	assert_false(VALID("\xe0\x9f\xbf"));		/* U+07FF in 3 bytes */
	assert_false(VALID("\xf0\x80\x80\xaf"));
	assert_false(VALID("\xf0\x8f\xbf\xbf"));	/* U+FFFF in 4 bytes */
}

static void
test_utf8_refuses_surrogates_and_past_10ffff(void **state)
{
	(void)state;
	assert_false(VALID("\xed\xa0\x80"));		/* U+D800 */
	assert_false(VALID("\xed\xbf\xbf"));		/* U+DFFF */
	assert_false(VALID("\xed\xa0\xbd\xed\xb8\x80"));	/* a CESU-8 pair */
	assert_false(VALID("\xf4\x90\x80\x80"));	/* U+110000 */
	assert_false(VALID("\xf5\x80\x80\x80"));
	assert_false(VALID("\xf7\xbf\xbf\xbf"));
	assert_false(VALID("\xf8\x88\x80\x80\x80"));	/* 5-byte form */
	assert_false(VALID("\xfc\x84\x80\x80\x80\x80"));
	assert_false(VALID("\xfe"));
	assert_false(VALID("\xff"));
}

static void
test_utf8_refuses_truncated_and_stray_bytes(void **state)
{
	(void)state;
	assert_false(VALID("\xc3"));
	assert_false(VALID("abc\xc3"));
	assert_false(VALID("\xe2\x82"));
	assert_false(VALID("\xf0\x9f\x98"));
	assert_false(VALID("\x80"));			/* a lone continuation */
	assert_false(VALID("a\xbf" "b"));
	assert_false(VALID("\xc3" "A"));		/* lead byte, no continuation */
	assert_false(VALID("\xe2\x28\xa1"));
	/* The length is honoured: a valid prefix of a longer buffer. */
	assert_true(utf8_valid("caf\xc3\xa9", 3));
	assert_false(utf8_valid("caf\xc3\xa9", 4));
}

static void
test_utf8_refuses_nul(void **state)
{
	(void)state;
	assert_false(VALID("\0"));
	assert_false(VALID("abc\0def"));
	assert_false(VALID("\xc3\xa9\0"));
}

static void
test_utf8_length_counts_code_points(void **state)
{
	(void)state;
	assert_int_equal(utf8_length("", 0), 0);
	assert_int_equal(LENGTH("abc"), 3);
	assert_int_equal(LENGTH("caf\xc3\xa9"), 4);
	assert_int_equal(LENGTH("\xe2\x82\xac\xe2\x82\xac"), 2);
	assert_int_equal(LENGTH("\xf0\x9f\x98\x80!"), 2);
	assert_int_equal(LENGTH("Jos\xc3\xa9 Garc\xc3\xad" "a"), 11);
	/* Decomposed: e + combining acute are two code points. */
	assert_int_equal(LENGTH("e\xcc\x81"), 2);
}

/* --- control characters --- */

static void
test_control_chars_c0_and_del(void **state)
{
	char	buf[4];
	int	c;

	(void)state;
	for (c = 0; c < 0x20; c++) {
		buf[0] = 'a';
		buf[1] = (char)c;
		buf[2] = 'b';
		if (c == '\t' || c == '\n' || c == '\r')
			assert_false(has_control_chars(buf, 3));
		else
			assert_true(has_control_chars(buf, 3));
	}
	assert_true(CONTROL("a\x7f"));
	assert_true(CONTROL("\x1b[31mred"));
	assert_true(CONTROL("\0"));
	assert_false(CONTROL("line one\r\nline two\ttab"));
	assert_false(CONTROL("plain ~ text"));
	assert_false(has_control_chars("", 0));
}

static void
test_control_chars_c1(void **state)
{
	char	buf[3];
	int	c;

	(void)state;
	for (c = 0x80; c <= 0xbf; c++) {
		buf[0] = (char)0xc2;
		buf[1] = (char)c;
		if (c <= 0x9f)
			assert_true(has_control_chars(buf, 2));
		else
			assert_false(has_control_chars(buf, 2));	/* U+00A0.. */
	}
	assert_true(CONTROL("abc\xc2\x85"));		/* NEL */
	assert_false(CONTROL("caf\xc3\xa9"));
	assert_false(CONTROL("\xe2\x80\x8b"));	/* U+200B is not C0/C1 */
	/* A C2 at the very end has no second byte to look at. */
	assert_false(has_control_chars("\xc2\x85", 1));
}

/* --- e-mail --- */

static void
test_email_normalize_trims_and_lowercases(void **state)
{
	(void)state;
	assert_email("user@example.com", "user@example.com");
	assert_email("  Jane.Doe@Example.COM \t\n", "jane.doe@example.com");
	assert_email("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk");
	assert_email("x@y.z", "x@y.z");
	assert_email("o'brien@example.ie", "o'brien@example.ie");
}

static void
test_email_normalize_refuses_malformed(void **state)
{
	(void)state;
	assert_not_email("");
	assert_not_email("   ");
	assert_not_email("user.example.com");		/* no @ */
	assert_not_email("a@b@example.com");		/* two @ */
	assert_not_email("@example.com");		/* no local part */
	assert_not_email("user@");
	assert_not_email("user@localhost");		/* no dot in the domain */
	assert_not_email("user@.example.com");		/* leading dot */
	assert_not_email("user@example.com.");		/* trailing dot */
	assert_not_email("user@example..com");		/* empty label */
	assert_not_email("us er@example.com");		/* space */
	assert_not_email("user@exa mple.com");
	assert_not_email("user@example.com\x01");
	assert_not_email("\"user\"@example.com");
	assert_not_email("user@[127.0.0.1]");
	assert_not_email("user<x>@example.com");
	assert_not_email("us\xc3\xa9r@example.com");	/* non-ASCII */
	assert_not_email("u@b.");
	assert_not_email(".john@example.com");		/* local part's dots */
	assert_not_email("john.@example.com");
	assert_not_email("jo..hn@example.com");
}

static void
test_email_normalize_refuses_long(void **state)
{
	char	addr[400], out[EMAIL_MAX + 1];
	size_t	n;

	(void)state;
	/* Local part: 64 allowed, 65 not. */
	memset(addr, 'a', 64);
	strcpy(addr + 64, "@example.com");
	assert_int_equal(email_normalize(addr, out, sizeof out), 0);
	memset(addr, 'a', 65);
	strcpy(addr + 65, "@example.com");
	assert_int_equal(email_normalize(addr, out, sizeof out), -1);
	/* Whole address: 254 allowed, 255 not. */
	strcpy(addr, "a@");
	n = strlen(addr);
	memset(addr + n, 'b', EMAIL_MAX - n - 4);
	strcpy(addr + EMAIL_MAX - 4, ".com");
	assert_int_equal(strlen(addr), EMAIL_MAX);
	assert_int_equal(email_normalize(addr, out, sizeof out), 0);
	memmove(addr + 1, addr, strlen(addr) + 1);
	addr[0] = 'a';
	assert_int_equal(strlen(addr), EMAIL_MAX + 1);
	assert_int_equal(email_normalize(addr, out, sizeof out), -1);
	/* Spaces around do not count toward the length. */
	snprintf(out, sizeof out, "%s", "   a@b.co   ");
	assert_int_equal(email_normalize(out, addr, sizeof addr), 0);
	assert_string_equal(addr, "a@b.co");
	/* Never past the output buffer. */
	assert_int_equal(email_normalize("user@example.com", out, 8), -1);
}

/* --- phone --- */

static void
test_phone_valid(void **state)
{
	(void)state;
	assert_true(phone_valid("5550100"));
	assert_true(phone_valid("+1 (555) 010-0100"));
	assert_true(phone_valid("+44 20 7946 0958"));
	assert_true(phone_valid("12345"));			/* 5 digits */
	assert_true(phone_valid("123456789012345"));		/* 15 digits */
	assert_false(phone_valid(""));
	assert_false(phone_valid("1234"));			/* 4 digits */
	assert_false(phone_valid("1234567890123456"));		/* 16 digits */
	assert_false(phone_valid("555-CALL-NOW"));
	assert_false(phone_valid("1+5550100"));		/* + only first */
	assert_false(phone_valid("++15550100"));
	assert_false(phone_valid("555.010.0100"));
	assert_false(phone_valid("5550100 ext 2"));
	assert_false(phone_valid("+ - ( )"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_accepts_well_formed),
		cmocka_unit_test(test_utf8_refuses_overlong_forms),
		cmocka_unit_test(test_utf8_refuses_surrogates_and_past_10ffff),
		cmocka_unit_test(test_utf8_refuses_truncated_and_stray_bytes),
		cmocka_unit_test(test_utf8_refuses_nul),
		cmocka_unit_test(test_utf8_length_counts_code_points),
		cmocka_unit_test(test_control_chars_c0_and_del),
		cmocka_unit_test(test_control_chars_c1),
		cmocka_unit_test(test_email_normalize_trims_and_lowercases),
		cmocka_unit_test(test_email_normalize_refuses_malformed),
		cmocka_unit_test(test_email_normalize_refuses_long),
		cmocka_unit_test(test_phone_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
