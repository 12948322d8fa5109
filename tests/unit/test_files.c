/* test_files.c -- the attachment content check (server/files.c): magic
 * numbers, UTF-8 judged across chunk boundaries, and extensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "files.h"

/* The type of s fed in pieces of step bytes. */
static int
type_of(const char *s, size_t n, size_t step)
{
	struct file_sniff	sniff;
	size_t			off, len;

	file_sniff_init(&sniff);
	for (off = 0; off < n; off += len) {
		len = n - off < step ? n - off : step;
		file_sniff_feed(&sniff, (const unsigned char *)s + off, len);
	}
	return file_sniff_type(&sniff);
}

static void
test_magic_numbers_decide(void **state)
{
	(void)state;
	assert_int_equal(type_of("%PDF-1.7\n\xff\x00", 11, 1), FILE_PDF);
	assert_int_equal(type_of("\x89PNG\r\n\x1a\n\x00\x01", 10, 3), FILE_PNG);
	assert_int_equal(type_of("\xff\xd8\xff\xe0\x00", 5, 2), FILE_JPEG);
	/* Almost: one byte of the signature off, or cut short. */
	assert_int_equal(type_of("\x89PNG\r\n\x1a\x0b\x00", 9, 9), -1);
	assert_int_equal(type_of("\xff\xd8", 2, 2), -1);
	assert_int_equal(type_of("%PDF", 4, 4), FILE_TEXT);
	assert_int_equal(type_of("", 0, 1), -1);
}

static void
test_text_is_utf8_without_nul(void **state)
{
	(void)state;
	assert_int_equal(type_of("hello\n", 6, 6), FILE_TEXT);
	/* é, €, 😀 split across every boundary. */
	assert_int_equal(type_of("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 1),
	    FILE_TEXT);
	assert_int_equal(type_of("a\0b", 3, 3), -1);
	assert_int_equal(type_of("caf\xc3", 4, 4), -1);		/* cut short */
	assert_int_equal(type_of("\xc0\xaf", 2, 1), -1);		/* overlong / */
	assert_int_equal(type_of("\xe0\x80\xaf", 3, 1), -1);	/* overlong */
	assert_int_equal(type_of("\xed\xa0\x80", 3, 1), -1);	/* surrogate */
	assert_int_equal(type_of("\xf4\x90\x80\x80", 4, 2), -1);	/* > U+10FFFF */
	assert_int_equal(type_of("\xc3\x28", 2, 1), -1);		/* bad continuation */
	assert_int_equal(type_of("\x80", 1, 1), -1);
}

static void
test_extensions(void **state)
{
	(void)state;
	assert_int_equal(file_type_of_name("scan.PDF"), FILE_PDF);
	assert_int_equal(file_type_of_name("a.b.jpeg"), FILE_JPEG);
	assert_int_equal(file_type_of_name("notes.txt"), FILE_TEXT);
	assert_int_equal(file_type_of_name("report"), -1);
	assert_int_equal(file_type_of_name(".png"), -1);
	assert_int_equal(file_type_of_name("x.docx"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_magic_numbers_decide),
		cmocka_unit_test(test_text_is_utf8_without_nul),
		cmocka_unit_test(test_extensions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
