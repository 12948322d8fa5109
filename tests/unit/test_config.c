/* test_config.c -- settings: durations, rate specs, every key type, the
 * INI-style file and the MEDIFLOW_* environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "proto.h"
#include "util.h"

static struct config	cfg;
static char		path[] = "/tmp/mf-test-config-XXXXXX";
static int		have_path;

static void	write_file(const char *);
static void	set_ok(const char *, const char *);
static void	set_bad(const char *, const char *, const char *);

static int
setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	if (have_path) {
		unlink(path);
		strcpy(path + strlen(path) - 6, "XXXXXX");
		have_path = 0;
	}
	return 0;
}

static void
write_file(const char *text)
{
	int	fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	have_path = 1;
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
set_ok(const char *key, const char *value)
{
	char	*cause = NULL;

	if (config_set(&cfg, key, value, &cause) != 0) {
		print_error("%s = %s: %s\n", key, value, cause);
		free(cause);
		fail();
	}
	assert_null(cause);
}

/* Refused, with an allocated message that contains want. */
static void
set_bad(const char *key, const char *value, const char *want)
{
	char	*cause = NULL;

	assert_int_equal(config_set(&cfg, key, value, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL) {
		print_error("cause \"%s\" lacks \"%s\"\n", cause, want);
		free(cause);
		fail();
	}
	free(cause);
}

/* --- durations and rate specs --- */

static void
test_duration_parse_units(void **state)
{
	(void)state;
	assert_int_equal(duration_parse("90"), 90);
	assert_int_equal(duration_parse("0"), 0);
	assert_int_equal(duration_parse("30s"), 30);
	assert_int_equal(duration_parse("15m"), 900);
	assert_int_equal(duration_parse("12h"), 43200);
	assert_int_equal(duration_parse("2d"), 172800);
	assert_int_equal(duration_parse("2147483647"), INT32_MAX);
}

static void
test_duration_parse_refuses_malformed(void **state)
{
	(void)state;
	assert_int_equal(duration_parse(""), -1);
	assert_int_equal(duration_parse("-1"), -1);
	assert_int_equal(duration_parse("-5m"), -1);
	assert_int_equal(duration_parse("5x"), -1);
	assert_int_equal(duration_parse("1mm"), -1);
	assert_int_equal(duration_parse("1 m"), -1);
	assert_int_equal(duration_parse("m"), -1);
	assert_int_equal(duration_parse("1.5h"), -1);
	/* Past an int's seconds, and far past a long long once multiplied. */
	assert_int_equal(duration_parse("2147483648"), -1);
	assert_int_equal(duration_parse("24856d"), -1);
	assert_int_equal(duration_parse("9223372036854775807d"), -1);
	assert_int_equal(duration_parse("99999999999999999999"), -1);
}

static void
test_rate_spec_parse(void **state)
{
	struct rate_spec	rs;

	(void)state;
	assert_int_equal(rate_spec_parse("5/15m", &rs), 0);
	assert_int_equal(rs.limit, 5);
	assert_int_equal(rs.window, 900);
	assert_int_equal(rate_spec_parse("100/15m", &rs), 0);
	assert_int_equal(rs.limit, 100);
	assert_int_equal(rs.window, 900);
	assert_int_equal(rate_spec_parse("30/1m", &rs), 0);
	assert_int_equal(rs.limit, 30);
	assert_int_equal(rs.window, 60);
	assert_int_equal(rate_spec_parse("20/1h", &rs), 0);
	assert_int_equal(rs.window, 3600);
	assert_int_equal(rate_spec_parse("7/45", &rs), 0);
	assert_int_equal(rs.window, 45);
}

static void
test_rate_spec_parse_refuses_malformed(void **state)
{
	struct rate_spec	rs = { 11, 22 };

	(void)state;
	assert_int_equal(rate_spec_parse("0/1m", &rs), -1);
	assert_int_equal(rate_spec_parse("-3/1m", &rs), -1);
	assert_int_equal(rate_spec_parse("5", &rs), -1);
	assert_int_equal(rate_spec_parse("5/", &rs), -1);
	assert_int_equal(rate_spec_parse("a/1m", &rs), -1);
	assert_int_equal(rate_spec_parse("/1m", &rs), -1);
	assert_int_equal(rate_spec_parse("5/0", &rs), -1);
	assert_int_equal(rate_spec_parse("5/1x", &rs), -1);
	assert_int_equal(rate_spec_parse("5 /1m", &rs), -1);
	assert_int_equal(rate_spec_parse("100000001/1m", &rs), -1);
	assert_int_equal(rate_spec_parse("", &rs), -1);
	/* A refusal leaves the spec alone. */
	assert_int_equal(rs.limit, 11);
	assert_int_equal(rs.window, 22);
}

/* --- config_set --- */

static void
test_defaults(void **state)
{
	(void)state;
	assert_string_equal(cfg.listen, "127.0.0.1:7400");
	assert_null(cfg.http);
	assert_int_equal(cfg.max_frame, FRAME_MAX_DEFAULT);
	assert_int_equal(cfg.session_idle, 15 * 60);
	assert_int_equal(cfg.session_lifetime, 12 * 3600);
	assert_int_equal(cfg.rl_api.limit, 100);
	assert_int_equal(cfg.rl_api.window, 900);
	assert_true(cfg.rl_api_staff.limit > cfg.rl_api.limit);
	assert_int_equal(cfg.rl_upload.limit, 20);
	assert_int_equal(cfg.rl_upload.window, 3600);
	assert_int_equal(cfg.rl_msg.limit, 30);
	assert_int_equal(cfg.rl_msg.window, 60);
}

static void
test_set_strings(void **state)
{
	(void)state;
	set_ok("listen", "0.0.0.0:7500");
	assert_string_equal(cfg.listen, "0.0.0.0:7500");
	set_ok("tz", "Europe/Paris");
	assert_string_equal(cfg.tz, "Europe/Paris");
	/* An empty value unsets. */
	set_ok("http", "127.0.0.1:8080");
	assert_string_equal(cfg.http, "127.0.0.1:8080");
	set_ok("http", "");
	assert_null(cfg.http);
}

static void
test_set_ints_and_sizes(void **state)
{
	(void)state;
	set_ok("max_conns", "10");
	assert_int_equal(cfg.max_conns, 10);
	set_ok("lockout_failures", "0");
	assert_int_equal(cfg.lockout_failures, 0);
	set_ok("max_conns", "4k");
	assert_int_equal(cfg.max_conns, 4096);
	set_ok("max_frame", "2m");
	assert_int_equal(cfg.max_frame, 2 * 1024 * 1024);
	set_ok("max_frame", "65536");
	assert_int_equal(cfg.max_frame, 65536);
	set_ok("out_high_water", "16M");
	assert_int_equal(cfg.out_high_water, 16 * 1024 * 1024);
	set_ok("out_high_water", "3000m");
	assert_int_equal(cfg.out_high_water, (size_t)3000 * 1024 * 1024);

	set_bad("max_conns", "-1", "bad value for max_conns: -1");
	set_bad("max_conns", "", "bad value");
	set_bad("max_conns", "ten", "bad value");
	set_bad("max_conns", "10x", "bad value");
	set_bad("max_conns", "10kk", "bad value");
	set_bad("max_conns", "2147483648", "bad value");
	/* Fits before the suffix, not after it. */
	set_bad("max_conns", "3000m", "bad value");
	set_bad("max_frame", "1g", "bad value");
	assert_int_equal(cfg.max_conns, 4096);
}

static void
test_set_durations(void **state)
{
	(void)state;
	set_ok("session_idle", "30m");
	assert_int_equal(cfg.session_idle, 1800);
	set_ok("session_lifetime", "1d");
	assert_int_equal(cfg.session_lifetime, 86400);
	set_ok("login_timeout", "45");
	assert_int_equal(cfg.login_timeout, 45);
	set_bad("lockout_window", "soon", "bad value for lockout_window");
	set_bad("lockout_window", "-1m", "bad value");
	assert_int_equal(cfg.lockout_window, 15 * 60);
}

static void
test_set_rates(void **state)
{
	(void)state;
	set_ok("rl_api", "200/15m");
	assert_int_equal(cfg.rl_api.limit, 200);
	assert_int_equal(cfg.rl_api.window, 900);
	set_ok("rl_auth", "5/15m");
	assert_int_equal(cfg.rl_auth.limit, 5);
	set_ok("rl_msg", "10/1m");
	assert_int_equal(cfg.rl_msg.limit, 10);
	set_bad("rl_upload", "0/1h", "bad value for rl_upload: 0/1h");
	set_bad("rl_upload", "20", "bad value");
	assert_int_equal(cfg.rl_upload.limit, 20);
}

static void
test_set_bools(void **state)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(yes); i++) {
		cfg.db_synchronous_full = 0;
		set_ok("db_synchronous_full", yes[i]);
		assert_int_equal(cfg.db_synchronous_full, 1);
	}
	for (i = 0; i < nitems(no); i++) {
		cfg.db_synchronous_full = 1;
		set_ok("db_synchronous_full", no[i]);
		assert_int_equal(cfg.db_synchronous_full, 0);
	}
	set_bad("db_synchronous_full", "maybe", "bad value for db_synchronous_full");
	set_bad("db_synchronous_full", "", "bad value");
	set_bad("db_synchronous_full", "YES", "bad value");
}

static void
test_set_unknown_key(void **state)
{
	(void)state;
	set_bad("no_such_setting", "1", "unknown setting: no_such_setting");
	set_bad("", "1", "unknown setting");
	/* Names are exact. */
	set_bad("MAX_CONNS", "1", "unknown setting");
}

/* --- the file --- */

static void
test_load_file_ignores_sections_and_comments(void **state)
{
	char	*cause = NULL;

	(void)state;
	write_file("# MediFlow settings\n"
	    "; another comment\n"
	    "\n"
	    "[server]\n"
	    "listen = 0.0.0.0:9000\n"
	    "  max_conns=12  \n"
	    "\t[limits]\n"
	    "rl_api = 50/5m\n"
	    "session_idle = 10m\n"
	    "db_synchronous_full = off\n"
	    "tz = America/New_York\n");
	assert_int_equal(config_load_file(&cfg, path, &cause), 0);
	assert_null(cause);
	assert_string_equal(cfg.listen, "0.0.0.0:9000");
	assert_int_equal(cfg.max_conns, 12);
	assert_int_equal(cfg.rl_api.limit, 50);
	assert_int_equal(cfg.rl_api.window, 300);
	assert_int_equal(cfg.session_idle, 600);
	assert_int_equal(cfg.db_synchronous_full, 0);
	assert_string_equal(cfg.tz, "America/New_York");
}

static void
test_load_file_reports_the_bad_line(void **state)
{
	char	*cause = NULL, want[128];

	(void)state;
	write_file("# ok\nmax_conns = 5\n\nthis line has no equals sign\nmax_conns = 6\n");
	assert_int_equal(config_load_file(&cfg, path, &cause), -1);
	snprintf(want, sizeof want, "%s:4: expected key = value", path);
	assert_string_equal(cause, want);
	free(cause);
	/* Lines before it were applied, lines after it not. */
	assert_int_equal(cfg.max_conns, 5);
}

static void
test_load_file_reports_a_bad_value_with_its_line(void **state)
{
	char	*cause = NULL, want[160];

	(void)state;
	write_file("[a]\nsession_idle = 5m\nrl_msg = lots\n");
	assert_int_equal(config_load_file(&cfg, path, &cause), -1);
	snprintf(want, sizeof want, "%s:3: bad value for rl_msg: lots", path);
	assert_string_equal(cause, want);
	free(cause);
	teardown(NULL);
	setup(NULL);
	write_file("\n\nbogus = 1\n");
	assert_int_equal(config_load_file(&cfg, path, &cause), -1);
	snprintf(want, sizeof want, "%s:3: unknown setting: bogus", path);
	assert_string_equal(cause, want);
	free(cause);
}

static void
test_load_file_missing(void **state)
{
	char	*cause = NULL;

	(void)state;
	assert_int_equal(config_load_file(&cfg, "/nonexistent/mediflow.conf",
	    &cause), -1);
	assert_non_null(strstr(cause, "/nonexistent/mediflow.conf"));
	free(cause);
}

/* --- the environment --- */

static void
test_load_env(void **state)
{
	char	*cause = NULL;

	(void)state;
	setenv("MEDIFLOW_MAX_CONNS", "77", 1);
	setenv("MEDIFLOW_RL_API", "5/1m", 1);
	setenv("MEDIFLOW_SESSION_LIFETIME", "8h", 1);
	setenv("MEDIFLOW_DATA_DIR", "/var/lib/mediflow", 1);
	/* Lower case is not ours. */
	setenv("mediflow_max_frame", "1k", 1);
	assert_int_equal(config_load_env(&cfg, &cause), 0);
	unsetenv("MEDIFLOW_MAX_CONNS");
	unsetenv("MEDIFLOW_RL_API");
	unsetenv("MEDIFLOW_SESSION_LIFETIME");
	unsetenv("MEDIFLOW_DATA_DIR");
	unsetenv("mediflow_max_frame");
	assert_null(cause);
	assert_int_equal(cfg.max_conns, 77);
	assert_int_equal(cfg.rl_api.limit, 5);
	assert_int_equal(cfg.rl_api.window, 60);
	assert_int_equal(cfg.session_lifetime, 8 * 3600);
	assert_string_equal(cfg.data_dir, "/var/lib/mediflow");
	assert_int_equal(cfg.max_frame, FRAME_MAX_DEFAULT);
}

static void
test_load_env_bad_value(void **state)
{
	char	*cause = NULL;

	(void)state;
	setenv("MEDIFLOW_LOCKOUT_DURATION", "forever", 1);
	assert_int_equal(config_load_env(&cfg, &cause), -1);
	unsetenv("MEDIFLOW_LOCKOUT_DURATION");
	assert_non_null(cause);
	assert_non_null(strstr(cause, "lockout_duration"));
	free(cause);
	/* Nothing set: nothing changes. */
	assert_int_equal(config_load_env(&cfg, &cause), 0);
	assert_int_equal(cfg.lockout_duration, 15 * 60);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse_units),
		cmocka_unit_test(test_duration_parse_refuses_malformed),
		cmocka_unit_test(test_rate_spec_parse),
		cmocka_unit_test(test_rate_spec_parse_refuses_malformed),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_ints_and_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_durations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_rates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_bools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_ignores_sections_and_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_reports_the_bad_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_reports_a_bad_value_with_its_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_env_bad_value, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
