/* test_protocol_doc.c -- the contract test: protocol.md documents every op
 * in the op table (test ops too) with a "### `name`" section holding
 * Roles:, Args:, Result: and Errors: lines, and names every error code.
 *
 * The file is $PROTOCOL_MD, or protocol.md in the directory the tests run
 * from (the repository root, under tests/run.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops.h"
#include "proto.h"
#include "util.h"

static const char *const required_lines[] = {
	"Roles:", "Args:", "Result:", "Errors:"
};

static char	*doc;

static char	*read_all(const char *);
static int	 doc_check_op(const char *, const char *, char **);
static int	 heading_level(const char *);

static int
setup(void **state)
{
	const char	*path = getenv("PROTOCOL_MD");

	(void)state;
	if (path == NULL || *path == '\0')
		path = "protocol.md";
	if ((doc = read_all(path)) == NULL) {
		fprintf(stderr, "cannot read %s (set PROTOCOL_MD, or run from "
		    "the repository root)\n", path);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(doc);
	return 0;
}

/* The whole file, NUL-terminated and allocated, or NULL. */
static char *
read_all(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* The level of a Markdown ATX heading ("## x" is 2), or 0. */
static int
heading_level(const char *line)
{
	int	n = 0;

	while (line[n] == '#')
		n++;
	return n > 0 && n <= 6 && line[n] == ' ' ? n : 0;
}

/*
 * Checks that text has a line exactly "### `name`" and that, before the
 * next heading of level 3 or higher, lines start with each of the
 * required words. Returns 0, or -1 with an allocated reason in *why.
 */
static int
doc_check_op(const char *text, const char *name, char **why)
{
	char		*heading;
	const char	*p, *line, *eol, *start = NULL;
	int		 found[nitems(required_lines)] = { 0 };
	size_t		 i, hlen;

	heading = xasprintf("### `%s`", name);
	hlen = strlen(heading);
	for (line = text; *line != '\0'; line = *eol != '\0' ? eol + 1 : eol) {
		eol = strchrnul(line, '\n');
		if ((size_t)(eol - line) == hlen && memcmp(line, heading, hlen) == 0) {
			if (start != NULL) {
				*why = xasprintf("%s: two sections", name);
				free(heading);
				return -1;
			}
			start = *eol != '\0' ? eol + 1 : eol;
		}
	}
	free(heading);
	if (start == NULL) {
		*why = xasprintf("%s: no \"### `%s`\" section", name, name);
		return -1;
	}
	for (p = start; *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		int	level = heading_level(p);

		eol = strchrnul(p, '\n');
		if (level > 0 && level <= 3)
			break;
		for (i = 0; i < nitems(required_lines); i++) {
			if (strncmp(p, required_lines[i], strlen(required_lines[i])) == 0)
				found[i] = 1;
		}
	}
	for (i = 0; i < nitems(required_lines); i++) {
		if (!found[i]) {
			*why = xasprintf("%s: no line starting with \"%s\"", name,
			    required_lines[i]);
			return -1;
		}
	}
	return 0;
}

/* --- the checker itself --- */

static void
test_checker_accepts_a_complete_section(void **state)
{
	static const char	text[] =
	    "# Doc\n\n### `a.b`\nRoles: any.\nArgs: none.\n"
	    "Result: `{}`.\nErrors: none.\n\n### `c.d`\nRoles: x\n";
	char			*why = NULL;

	(void)state;
	assert_int_equal(doc_check_op(text, "a.b", &why), 0);
	assert_null(why);
}

static void
test_checker_flags_a_missing_op(void **state)
{
	char	*why = NULL;

	(void)state;
	assert_int_equal(doc_check_op(doc, "no.such_op", &why), -1);
	assert_non_null(strstr(why, "no.such_op"));
	free(why);
	/* A prefix of a real heading is not the heading. */
	assert_int_equal(doc_check_op("### `auth.login_x`\nRoles:\nArgs:\n"
	    "Result:\nErrors:\n", "auth.login", &why), -1);
	free(why);
	/* Nor is the name without backquotes, or at another level. */
	assert_int_equal(doc_check_op("### auth.login\nRoles:\nArgs:\n"
	    "Result:\nErrors:\n", "auth.login", &why), -1);
	free(why);
	assert_int_equal(doc_check_op("#### `auth.login`\nRoles:\nArgs:\n"
	    "Result:\nErrors:\n", "auth.login", &why), -1);
	free(why);
}

static void
test_checker_flags_a_missing_line(void **state)
{
	char	*why = NULL;

	(void)state;
	assert_int_equal(doc_check_op("### `a.b`\nRoles: any.\nArgs: none.\n"
	    "Result: `{}`.\n", "a.b", &why), -1);
	assert_non_null(strstr(why, "Errors:"));
	free(why);
	/* The next op's lines do not count for this one. */
	assert_int_equal(doc_check_op("### `a.b`\nRoles: any.\nArgs: none.\n"
	    "### `c.d`\nResult: x\nErrors: y\n", "a.b", &why), -1);
	assert_non_null(strstr(why, "Result:"));
	free(why);
	/* Nor do those under a following level-2 heading. */
	assert_int_equal(doc_check_op("### `a.b`\nRoles: any.\nArgs: none.\n"
	    "Result: x\n## Appendix\nErrors: y\n", "a.b", &why), -1);
	free(why);
	/* A level-4 subheading stays inside the section. */
	assert_int_equal(doc_check_op("### `a.b`\nRoles: any.\nArgs: none.\n"
	    "#### Example\nResult: x\nErrors: y\n", "a.b", &why), 0);
	/* Indented or mid-line words do not count. */
	assert_int_equal(doc_check_op("### `a.b`\n Roles: any.\nArgs: none.\n"
	    "Result: x\nsee Errors: y\n", "a.b", &why), -1);
	free(why);
}

static void
test_checker_flags_a_duplicate_section(void **state)
{
	char	*why = NULL;

	(void)state;
	assert_int_equal(doc_check_op("### `a.b`\nRoles:\nArgs:\nResult:\nErrors:\n"
	    "### `a.b`\nRoles:\nArgs:\nResult:\nErrors:\n", "a.b", &why), -1);
	assert_non_null(strstr(why, "two sections"));
	free(why);
}

/* --- protocol.md --- */

static void
test_every_op_is_documented(void **state)
{
	const struct op	*op;
	char		*why;
	size_t		 i, missing = 0;

	(void)state;
	assert_true(ops_count() > 0);
	for (i = 0; i < ops_count(); i++) {
		op = ops_at(i);
		assert_non_null(op);
		why = NULL;
		if (doc_check_op(doc, op->name, &why) != 0) {
			print_error("protocol.md: %s\n", why);
			missing++;
		}
		free(why);
	}
	assert_null(ops_at(ops_count()));
	if (missing > 0) {
		print_error("%zu of %zu ops lack a complete section\n", missing,
		    ops_count());
		fail();
	}
}

static void
test_every_error_code_is_documented(void **state)
{
	char	*quoted;
	int	 code, missing = 0;

	(void)state;
	for (code = 1; code < ERR__COUNT; code++) {
		quoted = xasprintf("`%s`", err_code_name((enum err_code)code));
		if (strstr(doc, quoted) == NULL) {
			print_error("protocol.md does not name error code %s\n", quoted);
			missing++;
		}
		free(quoted);
	}
	assert_int_equal(missing, 0);
}

static void
test_every_role_is_documented(void **state)
{
	static const enum role	roles[] = {
		ROLE_PATIENT, ROLE_DOCTOR, ROLE_RECEPTIONIST, ROLE_ADMIN
	};
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(roles); i++)
		assert_non_null(strstr(doc, role_name(roles[i])));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_accepts_a_complete_section),
		cmocka_unit_test(test_checker_flags_a_missing_op),
		cmocka_unit_test(test_checker_flags_a_missing_line),
		cmocka_unit_test(test_checker_flags_a_duplicate_section),
		cmocka_unit_test(test_every_op_is_documented),
		cmocka_unit_test(test_every_error_code_is_documented),
		cmocka_unit_test(test_every_role_is_documented),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
