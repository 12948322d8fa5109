/* test_presence.c -- a user's last-seen time is kept in the store, so the
 * presence shown in chat.list (and the next presence event) still knows it
 * after the server restarts, cleanly or killed. */
#include <sys/types.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "json.h"
#include "mp.h"
#include "util.h"

#define EVENT_WAIT_MS	(5000 * test_time_scale())

/* The next presence event about user_id; a new reference (asserts). */
static json_t *
read_presence(struct tcli *c, int64_t user_id)
{
	const msgpack_object	*o, *ev;
	json_t			*j;
	struct timespec		 t0, t1;
	int			 left = EVENT_WAIT_MS;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0) {
		assert_int_equal(mfc_read(&c->mc, left, &o), 0);
		ev = mp_map_get(o, "event");
		if (mp_map_get(o, "id") == NULL && ev != NULL &&
		    mp_str_eq(ev, "presence")) {
			j = msgpack_to_json(o);
			if (jint(j, "data.user_id") == user_id)
				return j;
			json_decref(j);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = EVENT_WAIT_MS - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
	fail_msg("no presence event for user %lld", (long long)user_id);
	return NULL;
}

static int64_t
user_id_of(struct tcli *c)
{
	return jint(call_ok(c, "auth.me", NULL), "user.id");
}

/* The doctor's conversation with the patient, as chat.list shows it. */
static json_t *
conv_with(struct tcli *c, int64_t peer)
{
	json_t	*list, *cv;
	size_t	 i;

	list = call_ok(c, "chat.list", NULL);
	json_array_foreach(jpath(list, "conversations"), i, cv)
		if (jint(cv, "peer.user_id") == peer)
			return cv;
	fail_msg("no conversation with user %lld", (long long)peer);
	return NULL;
}

static void
test_last_seen_survives_restarts(void **state)
{
	struct tsrv_opts	 opts;
	struct tsrv		 s;
	struct tcli		 d, p;
	const char		*args[3];
	char			 dir[] = "/tmp/mediflow-presence-XXXXXX";
	char			 cmd[300];
	int64_t			 doctor, patient, seen, online_at;
	json_t			*ev, *cv;

	(void)state;
	assert_non_null(mkdtemp(dir));
	args[0] = "--data-dir";
	args[1] = dir;
	args[2] = NULL;
	memset(&opts, 0, sizeof opts);
	opts.args = args;
	srv_start(&s, &opts);

	cli_open_as(&d, &s, DEMO_DOCTOR);
	doctor = user_id_of(&d);
	cli_open_as(&p, &s, DEMO_PATIENT);
	patient = user_id_of(&p);
	call_ok(&p, "chat.open", "{s:I}", "user_id", (json_int_t)doctor);
	clock_forward(&d, 600);
	cli_close(&p);
	ev = read_presence(&d, patient);
	assert_true(json_is_false(jpath(ev, "data.online")));
	seen = jint(ev, "data.last_seen");
	assert_true(seen > 0);
	json_decref(ev);
	assert_int_equal(jint(conv_with(&d, patient), "peer.last_seen"), seen);
	cli_close(&d);

	/* A clean restart: chat.list still knows when the patient left. */
	srv_stop(&s);
	srv_start(&s, &opts);
	cli_open_as(&d, &s, DEMO_DOCTOR);
	cv = conv_with(&d, patient);
	assert_int_equal(jint(cv, "peer.last_seen"), seen);
	assert_true(json_is_false(jpath(cv, "peer.online")));

	/* The patient comes back: the event carries the new time, and a kill
	 * right after loses nothing (the event went out after the COMMIT). */
	clock_forward(&d, 700);
	cli_open_as(&p, &s, DEMO_PATIENT);
	ev = read_presence(&d, patient);
	assert_true(json_is_true(jpath(ev, "data.online")));
	online_at = jint(ev, "data.last_seen");
	assert_true(online_at > seen);
	json_decref(ev);
	cli_close(&d);
	kill(s.pid, SIGKILL);
	waitpid(s.pid, NULL, 0);
	close(s.out_fd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", s.dir);
	assert_int_equal(system(cmd), 0);
	s.pid = 0;
	cli_close(&p);

	srv_start(&s, &opts);
	cli_open_as(&d, &s, DEMO_DOCTOR);
	cv = conv_with(&d, patient);
	assert_true(jint(cv, "peer.last_seen") >= online_at);
	cli_close(&d);
	srv_stop(&s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_seen_survives_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
