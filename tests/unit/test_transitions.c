/* test_transitions.c -- the appointment workflow's one transition table:
 * every (from, to) pair of statuses, names both ways, and which statuses
 * hold their time slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "appointments.h"
#include "util.h"

/* The workflow as the issue states it; everything else is refused. */
static const struct {
	enum appt_status	from;
	enum appt_status	to;
} allowed[] = {
	{ APPT_REQUESTED, APPT_APPROVED },
	{ APPT_REQUESTED, APPT_REJECTED },
	{ APPT_REQUESTED, APPT_CANCELLED },
	{ APPT_REQUESTED, APPT_RESCHEDULED },
	{ APPT_APPROVED, APPT_CHECKED_IN },
	{ APPT_APPROVED, APPT_CANCELLED },
	{ APPT_APPROVED, APPT_NO_SHOW },
	{ APPT_APPROVED, APPT_RESCHEDULED },
	{ APPT_CHECKED_IN, APPT_IN_PROGRESS },
	{ APPT_CHECKED_IN, APPT_CANCELLED },
	{ APPT_IN_PROGRESS, APPT_COMPLETED },
};

static const char *const names[APPT__COUNT] = {
	[APPT_REQUESTED] = "requested",
	[APPT_APPROVED] = "approved",
	[APPT_REJECTED] = "rejected",
	[APPT_CANCELLED] = "cancelled",
	[APPT_CHECKED_IN] = "checked_in",
	[APPT_IN_PROGRESS] = "in_progress",
	[APPT_COMPLETED] = "completed",
	[APPT_NO_SHOW] = "no_show",
	[APPT_RESCHEDULED] = "rescheduled",
};

static int
in_allowed(enum appt_status from, enum appt_status to)
{
	size_t	i;

	for (i = 0; i < nitems(allowed); i++) {
		if (allowed[i].from == from && allowed[i].to == to)
			return 1;
	}
	return 0;
}

static void
test_every_pair_matches_the_workflow(void **state)
{
	int	from, to, bad = 0, yes = 0;

	(void)state;
	assert_int_equal(APPT__COUNT, 9);
	for (from = 0; from < APPT__COUNT; from++) {
		for (to = 0; to < APPT__COUNT; to++) {
			int	want = in_allowed((enum appt_status)from,
			    (enum appt_status)to);
			int	got = appt_transition_allowed((enum appt_status)from,
			    (enum appt_status)to);

			if ((got != 0) != want) {
				print_error("%s -> %s: want %s, got %s\n", names[from],
				    names[to], want ? "allowed" : "refused",
				    got ? "allowed" : "refused");
				bad++;
			}
			yes += got != 0;
		}
	}
	assert_int_equal(bad, 0);
	assert_int_equal(yes, (int)nitems(allowed));
}

static void
test_final_statuses_go_nowhere(void **state)
{
	static const enum appt_status finals[] = { APPT_REJECTED, APPT_CANCELLED,
	    APPT_COMPLETED, APPT_NO_SHOW, APPT_RESCHEDULED };
	size_t	i;
	int	to;

	(void)state;
	for (i = 0; i < nitems(finals); i++) {
		for (to = 0; to < APPT__COUNT; to++)
			assert_false(appt_transition_allowed(finals[i],
			    (enum appt_status)to));
	}
}

static void
test_no_status_moves_to_itself(void **state)
{
	int	s;

	(void)state;
	for (s = 0; s < APPT__COUNT; s++)
		assert_false(appt_transition_allowed((enum appt_status)s,
		    (enum appt_status)s));
}

static void
test_out_of_range_statuses_are_refused(void **state)
{
	(void)state;
	assert_false(appt_transition_allowed(APPT__COUNT, APPT_APPROVED));
	assert_false(appt_transition_allowed(APPT_REQUESTED, APPT__COUNT));
	assert_false(appt_transition_allowed((enum appt_status)-1, APPT_APPROVED));
	assert_false(appt_transition_allowed(APPT_REQUESTED, (enum appt_status)-1));
	assert_false(appt_transition_allowed((enum appt_status)1000,
	    (enum appt_status)1000));
}

static void
test_status_names_round_trip(void **state)
{
	int	s;

	(void)state;
	for (s = 0; s < APPT__COUNT; s++) {
		assert_string_equal(appt_status_name((enum appt_status)s), names[s]);
		assert_int_equal(appt_status_from_name(names[s]), s);
	}
}

static void
test_unknown_status_names(void **state)
{
	(void)state;
	assert_string_equal(appt_status_name(APPT__COUNT), "unknown");
	assert_string_equal(appt_status_name((enum appt_status)-1), "unknown");
	assert_int_equal(appt_status_from_name("unknown"), -1);
	assert_int_equal(appt_status_from_name(""), -1);
	assert_int_equal(appt_status_from_name("Approved"), -1);
	assert_int_equal(appt_status_from_name("approved "), -1);
	assert_int_equal(appt_status_from_name("checked-in"), -1);
}

static void
test_active_statuses_hold_the_slot(void **state)
{
	int	s;

	(void)state;
	for (s = 0; s < APPT__COUNT; s++) {
		int	want = s == APPT_REQUESTED || s == APPT_APPROVED ||
		    s == APPT_CHECKED_IN || s == APPT_IN_PROGRESS;

		if ((appt_status_active((enum appt_status)s) != 0) != want) {
			print_error("%s: want %s\n", names[s], want ? "active" : "inactive");
			fail();
		}
	}
	assert_false(appt_status_active(APPT__COUNT));
}

/* Every status an active one may move to is either active or final, and no
 * final status can become active again: a freed slot stays free. */
static void
test_freed_slot_never_comes_back(void **state)
{
	int	from, to;

	(void)state;
	for (from = 0; from < APPT__COUNT; from++) {
		if (appt_status_active((enum appt_status)from))
			continue;
		for (to = 0; to < APPT__COUNT; to++)
			assert_false(appt_transition_allowed((enum appt_status)from,
			    (enum appt_status)to) &&
			    appt_status_active((enum appt_status)to));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair_matches_the_workflow),
		cmocka_unit_test(test_final_statuses_go_nowhere),
		cmocka_unit_test(test_no_status_moves_to_itself),
		cmocka_unit_test(test_out_of_range_statuses_are_refused),
		cmocka_unit_test(test_status_names_round_trip),
		cmocka_unit_test(test_unknown_status_names),
		cmocka_unit_test(test_active_statuses_hold_the_slot),
		cmocka_unit_test(test_freed_slot_never_comes_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
