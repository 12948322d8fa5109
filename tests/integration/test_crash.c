/* test_crash.c -- kill -9 in the middle of a booking storm, restart, and
 * check the store kept its word.
 *
 * Eight desk connections book the demo doctors' free slots through the real
 * protocol, every slot wanted by two of them at once. The client that gets
 * the Kth "ok" of a round sends mediflowd SIGKILL at once (K pseudo-random,
 * seeded, so each run kills at the same counts, not the same instants); it
 * restarts on the same data dir and the store is read, read-only, with
 * SQLite. What must hold after each round:
 *
 *  - every booking a client saw "ok" for is there, as booked;
 *  - nothing is half there: every storm appointment has its "approved"
 *    event row and its appt.book audit row, and every appt.book audit row
 *    names an appointment that exists (a booking the kill cut off may be
 *    wholly there or wholly absent: its reply was lost, not its commit);
 *  - no doctor has two active appointments that overlap;
 *  - PRAGMA integrity_check says ok and audit.verify passes.
 *
 * This is what group commit promises (server/db.c): a reply is held until
 * the COMMIT of the batch it belongs to has returned. */
#include <sys/stat.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "util.h"

#define CLIENTS		8
#define ROUNDS		6
#define PER_ROUND	48	/* slots offered in a round */
#define SEED		20261124u
#define MAX_DOCTORS	3
#define MAX_PATIENTS	8
#define DAY_SLOTS	8	/* per doctor and day */

struct slot {
	int64_t	doctor_id;
	int64_t	starts_at;
	int64_t	patient_id;
};

struct ack {
	int64_t	id;
	int	slot;
};

struct storm_client {
	pthread_t	 thread;
	struct tcli	 c;
	int		 index;
	int		 round;
	struct ack	 acks[PER_ROUND];
	int		 nacks;
	int		 conflicts;
	int		 other_errors;	/* error codes a booking must never get */
	char		 other_what[200];
};

static struct tsrv	 srv;
static char		 dir[256];
static char		*desk_token, *admin_token;
static struct slot	 slots[ROUNDS * PER_ROUND];
static int		 nslots;
static int		 acked_total;	/* under ack_mtx */
static int		 kill_at;	/* the acknowledgement that kills */
static pthread_mutex_t	 ack_mtx = PTHREAD_MUTEX_INITIALIZER;

/* Every acknowledged booking so far, over all rounds. */
static struct ack	 all_acks[ROUNDS * PER_ROUND * 2];
static int		 nall;

static const struct tsrv_opts	*opts_for(int first);


static const struct tsrv_opts *
opts_for(int first)
{
	static struct tsrv_opts	o;

	memset(&o, 0, sizeof o);
	o.data_dir = dir;
	o.no_demo = !first;
	o.config = "rl_auth = 100000/15m\nrl_api = 100000/15m\n"
	    "rl_api_staff = 100000/15m\n";
	return &o;
}

static void
open_as(struct tcli *c, const char *token)
{
	cli_open(c, &srv);
	call_ok(c, "auth.resume", "{s:s}", "token", token);
}

static sqlite3 *
db_ro(void)
{
	sqlite3	*h = NULL;

	assert_int_equal(sqlite3_open_v2(srv.db_path, &h, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	return h;
}

static int64_t
q_int(sqlite3 *h, const char *sql, int64_t a)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Collects free slots of the demo doctors, today + 1 onwards. */
static void
collect_slots(void)
{
	struct tcli	 c;
	sqlite3		*h;
	sqlite3_stmt	*st;
	int64_t		 doctors[MAX_DOCTORS], patients[MAX_PATIENTS];
	int		 nd = 0, np = 0, day, d, k;
	time_t		 t;
	struct tm	 tm;
	char		 date[16];
	json_t		*list, *s;
	size_t		 i;

	h = db_ro();
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT id FROM doctors ORDER BY id",
	    -1, &st, NULL), SQLITE_OK);
	while (nd < MAX_DOCTORS && sqlite3_step(st) == SQLITE_ROW)
		doctors[nd++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT id FROM patients ORDER BY id",
	    -1, &st, NULL), SQLITE_OK);
	while (np < MAX_PATIENTS && sqlite3_step(st) == SQLITE_ROW)
		patients[np++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	assert_true(nd >= 2 && np >= 4);

	open_as(&c, desk_token);
	for (day = 1; day < 60 && nslots < (int)nitems(slots); day++) {
		t = time(NULL) + (time_t)day * 86400;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		for (d = 0; d < nd && nslots < (int)nitems(slots); d++) {
			list = jpath(call_ok(&c, "appt.slots", "{s:I, s:s}",
			    "doctor_id", (json_int_t)doctors[d], "date", date), "slots");
			json_array_foreach(list, i, s) {
				/* Under the demo doctors' daily caps. */
				if (nslots == (int)nitems(slots) || i >= DAY_SLOTS)
					break;
				k = nslots;
				slots[k].doctor_id = doctors[d];
				slots[k].starts_at = jint(s, "starts_at");
				/* The same patient at the same hour with two doctors:
				 * a second source of conflicts. */
				slots[k].patient_id = patients[k % np];
				nslots++;
			}
		}
	}
	cli_close(&c);
	assert_int_equal(nslots, (int)nitems(slots));
}

/* Slot j of the round is wanted by clients j % CLIENTS and the next one. */
static int
client_wants(int client, int j)
{
	return j % CLIENTS == client || (j + 1) % CLIENTS == client;
}

static void *
storm_run(void *arg)
{
	struct storm_client	*sc = arg;
	json_t			*args, *reply, *err;
	const char		*code;
	struct slot		*s;
	char			 reason[64];
	int			 j;

	for (j = 0; j < PER_ROUND; j++) {
		if (!client_wants(sc->index, j))
			continue;
		s = &slots[sc->round * PER_ROUND + j];
		snprintf(reason, sizeof reason, "crash r%d c%d s%d", sc->round,
		    sc->index, j);
		args = json_pack("{s:I, s:I, s:I, s:s}", "doctor_id",
		    (json_int_t)s->doctor_id, "starts_at", (json_int_t)s->starts_at,
		    "patient_id", (json_int_t)s->patient_id, "reason", reason);
		if ((reply = cli_call_json(&sc->c, "appt.book", args)) == NULL)
			break;		/* killed: the reply never came */
		if (json_is_true(json_object_get(reply, "ok"))) {
			sc->acks[sc->nacks].id = jint(reply, "result.appointment.id");
			sc->acks[sc->nacks].slot = sc->round * PER_ROUND + j;
			sc->nacks++;
			pthread_mutex_lock(&ack_mtx);
			/* Right after the reply: the commit it waited for
			 * must already be on disk. */
			if (++acked_total == kill_at)
				kill(srv.pid, SIGKILL);
			pthread_mutex_unlock(&ack_mtx);
			continue;
		}
		err = json_object_get(reply, "error");
		code = jstr(err, "code");
		if (code != NULL && strcmp(code, "conflict") == 0)
			sc->conflicts++;
		else if (sc->other_errors++ == 0)
			snprintf(sc->other_what, sizeof sc->other_what, "%s: %s",
			    code != NULL ? code : "?", jstr(err, "message") != NULL ?
			    jstr(err, "message") : "");
	}
	return NULL;
}

static int
acked_now(void)
{
	int	n;

	pthread_mutex_lock(&ack_mtx);
	n = acked_total;
	pthread_mutex_unlock(&ack_mtx);
	return n;
}

/* The checks after a restart; see the top of the file. */
static void
check_store(int round)
{
	struct tcli	 c;
	sqlite3		*h;
	sqlite3_stmt	*st;
	json_t		*v;
	char		*sql;
	int		 i, missing = 0, acked_in_store;
	int64_t		 n;

	h = db_ro();
	/* Whole file. */
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);

	/* Acknowledged means there, as booked. */
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT doctor_id, starts_at, "
	    "patient_id, status FROM appointments WHERE id = ?", -1, &st, NULL),
	    SQLITE_OK);
	for (i = 0; i < nall; i++) {
		const struct slot	*s = &slots[all_acks[i].slot];

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, all_acks[i].id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			print_error("round %d: acknowledged appointment %lld is gone\n",
			    round, (long long)all_acks[i].id);
			missing++;
			continue;
		}
		assert_int_equal(sqlite3_column_int64(st, 0), s->doctor_id);
		assert_int_equal(sqlite3_column_int64(st, 1), s->starts_at);
		assert_int_equal(sqlite3_column_int64(st, 2), s->patient_id);
		assert_string_equal((const char *)sqlite3_column_text(st, 3), "approved");
	}
	sqlite3_finalize(st);
	assert_int_equal(missing, 0);

	/* Nothing half there, either way round. */
	n = q_int(h, "SELECT count(*) FROM appointments a WHERE a.reason LIKE "
	    "'crash %' AND NOT EXISTS (SELECT 1 FROM appointment_events e "
	    "WHERE e.appointment_id = a.id AND e.to_status = 'approved')", 0);
	assert_int_equal(n, 0);
	n = q_int(h, "SELECT count(*) FROM appointments a WHERE a.reason LIKE "
	    "'crash %' AND NOT EXISTS (SELECT 1 FROM audit u WHERE "
	    "u.action = 'appt.book' AND u.detail LIKE 'appointment ' || a.id || "
	    "' doctor %')", 0);
	assert_int_equal(n, 0);
	n = q_int(h, "SELECT count(*) FROM audit u WHERE u.action = 'appt.book' "
	    "AND NOT EXISTS (SELECT 1 FROM appointments a WHERE u.detail LIKE "
	    "'appointment ' || a.id || ' doctor %')", 0);
	assert_int_equal(n, 0);

	/* No slot booked twice. */
	n = q_int(h, "SELECT count(*) FROM appointments a JOIN appointments b "
	    "ON a.doctor_id = b.doctor_id AND a.id < b.id AND "
	    "a.starts_at < b.ends_at AND b.starts_at < a.ends_at WHERE "
	    "a.status IN ('requested', 'approved', 'checked_in', 'in_progress') AND "
	    "b.status IN ('requested', 'approved', 'checked_in', 'in_progress')", 0);
	assert_int_equal(n, 0);

	sql = xasprintf("SELECT count(*) FROM appointments WHERE reason LIKE "
	    "'crash r%d %%'", round);
	n = q_int(h, sql, 0);
	free(sql);
	acked_in_store = 0;
	for (i = 0; i < nall; i++)
		if (all_acks[i].slot / PER_ROUND == round)
			acked_in_store++;
	/* Present but never acknowledged: committed, reply cut off. */
	print_message("round %d: %d acknowledged, %lld in the store\n", round,
	    acked_in_store, (long long)n);
	assert_true(n >= acked_in_store);
	sqlite3_close(h);

	open_as(&c, admin_token);
	v = call_ok(&c, "audit.verify", "{}");
	assert_true(json_is_true(json_object_get(v, "ok")));
	cli_close(&c);
}

static void
test_kill_during_storm(void **state)
{
	struct storm_client	 sc[CLIENTS];
	unsigned int		 seed = SEED;
	int			 round, i, target, killed_at;
	struct tcli		 c;

	(void)state;
	collect_slots();
	for (round = 0; round < ROUNDS; round++) {
		/* Kill after 1..PER_ROUND*3/4 acknowledgements. */
		target = 1 + (int)(rand_r(&seed) % (PER_ROUND * 3 / 4));
		pthread_mutex_lock(&ack_mtx);
		acked_total = 0;
		kill_at = target;
		pthread_mutex_unlock(&ack_mtx);
		memset(sc, 0, sizeof sc);
		for (i = 0; i < CLIENTS; i++) {
			sc[i].index = i;
			sc[i].round = round;
			open_as(&sc[i].c, desk_token);
		}
		for (i = 0; i < CLIENTS; i++)
			assert_int_equal(pthread_create(&sc[i].thread, NULL, storm_run,
			    &sc[i]), 0);
		/* The storm ends when the server dies (or the slots run out). */
		for (i = 0; i < CLIENTS; i++)
			pthread_join(sc[i].thread, NULL);
		killed_at = acked_now();
		srv_kill(&srv);
		for (i = 0; i < CLIENTS; i++)
			cli_close(&sc[i].c);
		for (i = 0; i < CLIENTS; i++) {
			if (sc[i].other_errors != 0)
				fail_msg("client %d got %d errors that are not conflicts, "
				    "first: %s", i, sc[i].other_errors, sc[i].other_what);
			memcpy(all_acks + nall, sc[i].acks, sc[i].nacks * sizeof sc[i].acks[0]);
			nall += sc[i].nacks;
		}
		print_message("round %d: killed at acknowledgement %d (%d came in "
		    "all)\n", round, target, killed_at);

		srv_start(&srv, opts_for(0));
		check_store(round);
	}
	/* The restarted server still books. */
	open_as(&c, desk_token);
	call_err(&c, "appt.book", "conflict", "{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)slots[all_acks[0].slot].doctor_id, "starts_at",
	    (json_int_t)slots[all_acks[0].slot].starts_at, "patient_id",
	    (json_int_t)slots[all_acks[0].slot].patient_id);
	cli_close(&c);
}

static int
group_setup(void **state)
{
	const char	*tmp = getenv("TMPDIR");
	struct tcli	 c;

	(void)state;
	snprintf(dir, sizeof dir, "%s/mediflow-crash-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	srv_start(&srv, opts_for(1));
	cli_open(&c, &srv);
	desk_token = cli_login(&c, DEMO_RECEPTION, DEMO_PASSWORD);
	cli_close(&c);
	cli_open(&c, &srv);
	admin_token = cli_login(&c, DEMO_ADMIN, DEMO_PASSWORD);
	cli_close(&c);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	rm_tree(dir);
	free(desk_token);
	free(admin_token);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_storm),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
