/* test_sms.c -- E.164 numbers, SMS segment counting (GSM-7 and UCS-2),
 * fitting a body into two segments, and the form encoding of a send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sms.h"
#include "util.h"

/* n copies of c; allocated. */
static char *
repeat(char c, size_t n)
{
	char	*s = xmalloc(n + 4);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_e164_numbers(void **state)
{
	(void)state;
	assert_true(sms_e164_valid("+15550100010"));
	assert_true(sms_e164_valid("+447911123456"));
	assert_true(sms_e164_valid("+4930123456"));
	assert_false(sms_e164_valid("15550100010"));		/* no + */
	assert_false(sms_e164_valid("+1 555 0100 010"));	/* spaces */
	assert_false(sms_e164_valid("+1-555-010-0010"));
	assert_false(sms_e164_valid("+05550100010"));		/* leading 0 */
	assert_false(sms_e164_valid("+1234567"));		/* too short */
	assert_false(sms_e164_valid("+1234567890123456"));	/* 16 digits */
	assert_false(sms_e164_valid("+"));
	assert_false(sms_e164_valid(""));
	assert_false(sms_e164_valid(NULL));
}

static void
test_gsm_segments(void **state)
{
	char	*s;
	int	 ucs2;

	(void)state;
	s = repeat('a', 160);
	assert_int_equal(sms_segments(s, &ucs2), 1);
	assert_false(ucs2);
	free(s);
	s = repeat('a', 161);
	assert_int_equal(sms_segments(s, NULL), 2);
	free(s);
	s = repeat('a', 306);
	assert_int_equal(sms_segments(s, NULL), 2);
	free(s);
	s = repeat('a', 307);
	assert_int_equal(sms_segments(s, NULL), 3);
	free(s);
	/* GSM has é, ü, Ä, £; the extension table (€ [ ] {) costs two septets. */
	assert_int_equal(sms_segments("Café Müller £5 Äpfel", &ucs2), 1);
	assert_false(ucs2);
	s = repeat('a', 159);
	strcat(s, "€");
	assert_int_equal(sms_segments(s, &ucs2), 2);
	assert_false(ucs2);
	s[158] = '\0';
	strcat(s, "€");
	assert_int_equal(sms_segments(s, NULL), 1);
	free(s);
}

static void
test_ucs2_segments(void **state)
{
	char	 buf[512] = "";
	int	 i, ucs2;

	(void)state;
	/* One character outside GSM turns the whole message into UCS-2. */
	for (i = 0; i < 70; i++)
		strcat(buf, i == 0 ? "ł" : "a");
	assert_int_equal(sms_segments(buf, &ucs2), 1);
	assert_true(ucs2);
	strcat(buf, "a");
	assert_int_equal(sms_segments(buf, NULL), 2);
	buf[0] = '\0';
	for (i = 0; i < 67; i++)
		strcat(buf, "漢");
	assert_int_equal(sms_segments(buf, NULL), 1);
	for (i = 0; i < 67; i++)
		strcat(buf, "漢");
	assert_int_equal(sms_segments(buf, NULL), 2);
	strcat(buf, "漢");
	assert_int_equal(sms_segments(buf, NULL), 3);
	/* Outside the BMP: two UTF-16 units each. */
	buf[0] = '\0';
	for (i = 0; i < 35; i++)
		strcat(buf, "😀");
	assert_int_equal(sms_segments(buf, NULL), 1);
	strcat(buf, "😀");
	assert_int_equal(sms_segments(buf, NULL), 2);
}

static void
test_fit_cuts_to_two_segments_at_a_character(void **state)
{
	char	 buf[2048] = "";
	int	 i;

	(void)state;
	for (i = 0; i < 100; i++)
		strcat(buf, "Łódź ");
	sms_fit(buf, 2);
	assert_int_equal(sms_segments(buf, NULL), 2);
	assert_true(utf8_valid(buf, strlen(buf)));
	assert_true(utf8_length(buf, strlen(buf)) <= 134);
	assert_true(utf8_length(buf, strlen(buf)) >= 130);

	buf[0] = '\0';
	for (i = 0; i < 50; i++)
		strcat(buf, "hello ");
	sms_fit(buf, 2);
	assert_true(strlen(buf) <= 306);
	assert_int_equal(sms_segments(buf, NULL), 2);

	strcpy(buf, "short message");
	sms_fit(buf, 2);
	assert_string_equal(buf, "short message");
}

static void
test_form_encoding(void **state)
{
	char	*f;

	(void)state;
	f = sms_form_add(NULL, "To", "+15550100010");
	f = sms_form_add(f, "From", "+15550199999");
	f = sms_form_add(f, "Body", "Hi José & co: a=b, 100% sure");
	assert_string_equal(f, "To=%2B15550100010&From=%2B15550199999&"
	    "Body=Hi+Jos%C3%A9+%26+co%3A+a%3Db%2C+100%25+sure");
	free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e164_numbers),
		cmocka_unit_test(test_gsm_segments),
		cmocka_unit_test(test_ucs2_segments),
		cmocka_unit_test(test_fit_cuts_to_two_segments_at_a_character),
		cmocka_unit_test(test_form_encoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
