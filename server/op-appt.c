/* op-appt.c -- appointments: appt.slots, appt.book, appt.approve, appt.reject,
 * appt.reschedule, appt.cancel, appt.checkin, appt.start, appt.complete,
 * appt.no_show, appt.get, appt.list, appt.history; stats.appointments;
 * appt.hold, appt.release, appt.walk_in, appt.cancel_day, appt.book_recurring,
 * cancel_reasons.list, cancel_reasons.set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "appointments.h"
#include "audit.h"
#include "availability.h"
#include "cancel-reasons.h"
#include "clinic-time.h"
#include "conn.h"
#include "db.h"
#include "doctors.h"
#include "front-desk.h"
#include "holds.h"
#include "mp.h"
#include "notifications.h"
#include "ops.h"
#include "patients.h"
#include "readcache.h"
#include "reminders.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define BOOK_DAYS_AHEAD_MAX	730
#define LIST_LIMIT_MAX		500
#define LIST_RANGE_MAX		(366 * 86400)

/* --- who is asking --- */

/* Receptionists and admins see every appointment; a doctor their own; a
 * patient theirs. */
static int
appt_visible(struct req *r, const struct appt *a)
{
	switch (req_role(r)) {
	case ROLE_ADMIN:
	case ROLE_RECEPTIONIST:
		return 1;
	case ROLE_DOCTOR:
		return a->doctor_user_id == req_user_id(r);
	case ROLE_PATIENT:
		return a->patient_user_id != 0 && a->patient_user_id == req_user_id(r);
	default:
		return 0;
	}
}

/* --- live updates --- */

struct push_filter {
	int64_t	doctor_user_id;
	int64_t	patient_user_id;
};

static int
push_wants_appt(const struct session *s, void *arg)
{
	const struct push_filter	*f = arg;

	if (s->role == ROLE_ADMIN || s->role == ROLE_RECEPTIONIST)
		return 1;
	return s->user_id == f->doctor_user_id ||
	    (f->patient_user_id != 0 && s->user_id == f->patient_user_id);
}

/* Pushes appt.changed with a's map as appt_pack packed it (data, len). */
static void
push_appt_packed(const struct appt *a, const char *data, size_t len)
{
	struct push_filter	f = { a->doctor_user_id, a->patient_user_id };

	conn_push_event("appt.changed", data, len, push_wants_appt, &f);
}

static void
push_appt_changed(const struct appt *a)
{
	msgpack_sbuffer		sb;
	msgpack_packer		pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	appt_pack(&pk, a);
	push_appt_packed(a, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void
pack_appt_result(struct req *r, const struct appt *a)
{
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "appointment");
	appt_pack(&r->pk, a);
}

/* Loads the appointment named by `id` that the caller may see. */
static int
appt_arg(struct req *r, struct appt *a)
{
	int64_t	id;

	if (arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return -1;
	/* Patients and doctors, who see only their own, get the same answer
	 * for a missing id as for someone else's: ids reveal nothing. */
	if (appt_by_id(id, a) != 0) {
		if (req_role(r) == ROLE_PATIENT || req_role(r) == ROLE_DOCTOR)
			return req_fail(r, ERR_FORBIDDEN, "not your appointment");
		return req_fail(r, ERR_NOT_FOUND, "no appointment with id %lld", (long long)id);
	}
	if (!appt_visible(r, a))
		return req_fail(r, ERR_FORBIDDEN, "not your appointment");
	return 0;
}

/* --- types, caps, notifications, the wait list --- */

/* The optional `type_id`: an active appointment type, *minutes its length;
 * both 0 without one. */
static int
type_arg(struct req *r, int64_t *type_id, int *minutes)
{
	struct appt_type	t;
	int			has;

	*type_id = 0;
	*minutes = 0;
	if (arg_int(r, "type_id", ARG_NULLABLE, 1, INT64_MAX, type_id, &has) != 0)
		return -1;
	if (!has) {
		*type_id = 0;
		return 0;
	}
	if (appt_types_by_id(*type_id, &t) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no appointment type with id %lld",
		    (long long)*type_id);
	if (!t.active)
		return req_fail(r, ERR_CONFLICT, "appointment type \"%s\" is retired",
		    t.name);
	*minutes = t.minutes;
	return 0;
}

/* The optional `overbook`: staff only. */
static int
overbook_arg(struct req *r, int *overbook)
{
	*overbook = 0;
	if (arg_bool(r, "overbook", ARG_NULLABLE, overbook, NULL) != 0)
		return -1;
	if (*overbook && req_role(r) == ROLE_PATIENT)
		return req_fail(r, ERR_FORBIDDEN, "patients cannot overbook; "
		    "please call the clinic");
	return 0;
}

/*
 * The doctor's daily cap for the clinic day of starts_at, inside the write
 * transaction: below it anyone books; at it only an explicit overbook by
 * staff, while the day's overbook allowance lasts (*marked set). NULL, or
 * why not into why.
 */
static const char *
cap_problem(int64_t doctor_id, int64_t starts_at, int overbook, int *marked,
    char *why, size_t len)
{
	struct doctor_cap	c;
	struct civil_date	day;
	int64_t			total, overbooks, from, to;

	*marked = 0;
	doctor_cap_get(doctor_id, &c);
	if (c.daily_cap <= 0)
		return NULL;
	utc_to_local(starts_at, &day, NULL);
	local_day_bounds(&day, &from, &to);
	appt_day_load(doctor_id, from, to, &total, &overbooks);
	if (total < c.daily_cap)
		return NULL;
	if (!overbook) {
		snprintf(why, len, "the doctor's day is full (daily cap %d)%s",
		    c.daily_cap, c.overbooks > 0 ? "; staff may overbook" : "");
		return why;
	}
	if (overbooks >= c.overbooks) {
		snprintf(why, len, "the doctor's day is full (daily cap %d and "
		    "%d overbook%s, all used)", c.daily_cap, c.overbooks,
		    c.overbooks == 1 ? "" : "s");
		return why;
	}
	*marked = 1;
	return NULL;
}

static int
check_cap(struct req *r, int64_t doctor_id, int64_t starts_at, int overbook,
    int *marked)
{
	char	why[200];

	if (cap_problem(doctor_id, starts_at, overbook, marked, why, sizeof why) != NULL)
		return req_fail(r, ERR_CONFLICT, "%s", why);
	return 0;
}

/*
 * An appointment changed for its patient: they get an in-app notification
 * unless they did it themselves, and the doctor gets one when the patient
 * did it. In the caller's write transaction; 0 or -1.
 */
static int
notify_appt(struct req *r, const struct appt *a, const char *kind,
    const char *what, const char *note)
{
	struct civil_date	 day;
	char			 date[11], title[80], *body;
	int			 min, rc = 0;

	utc_to_local(a->starts_at, &day, &min);
	date_format(&day, date);
	snprintf(title, sizeof title, "Appointment %s", what);
	if (a->patient_user_id != 0 && a->patient_user_id != req_user_id(r)) {
		body = xasprintf("Your appointment with %s on %s at %02d:%02d was "
		    "%s%s%s.", a->doctor_name, date, min / 60, min % 60, what,
		    note != NULL && *note != '\0' ? ": " : "",
		    note != NULL ? note : "");
		rc = notifications_create(a->patient_user_id, kind, title, body,
		    a->id, r->now);
		free(body);
	}
	if (rc == 0 && a->patient_user_id != 0 &&
	    a->patient_user_id == req_user_id(r) && a->doctor_user_id != 0) {
		body = xasprintf("%s %s the appointment on %s at %02d:%02d%s%s.",
		    a->patient_name, what, date, min / 60, min % 60,
		    note != NULL && *note != '\0' ? ": " : "",
		    note != NULL ? note : "");
		rc = notifications_create(a->doctor_user_id, kind, title, body,
		    a->id, r->now);
		free(body);
	}
	return rc;
}

static void
busy_found(int64_t starts_at, int64_t ends_at, void *arg)
{
	(void)starts_at;
	(void)ends_at;
	*(int *)arg = 1;
}

/*
 * The time of a, no longer active, may have come free: offer it to the
 * first matching patient on the doctor's wait list. The offered entry's id,
 * 0, or -1 on a store error.
 */
static int64_t
offer_freed(struct req *r, const struct appt *a)
{
	int	busy = 0;

	appt_busy(a->doctor_id, a->starts_at, a->ends_at, busy_found, &busy);
	if (busy)
		return 0;
	return waitlist_offer_freed(a->doctor_id, a->starts_at, a->ends_at,
	    a->patient_id, r->now);
}

/* --- appt.slots --- */

#define SLOTS_KEY_WORDS	4

/*
 * A doctor's free slots on a date for visits minutes long, as the read
 * cache keeps them: every slot the calendar leaves free, past ones too
 * (each request cuts those before its own now), each also packed as its
 * {starts_at, ends_at} map, with the doctor's active flag as the entry's
 * count. Only stored data goes in: holds live in memory and are applied
 * to every request. A booking, a cancellation or a change of hours, here
 * or by another process, empties the cache, so the next request reads the
 * calendar again.
 *
 * The bytes: n (int64), the n slots, n + 1 offsets (uint32) of each
 * slot's map in the packed bytes that follow, then those. The cache keeps
 * its copy in memory from malloc, as ours is, so the slots are aligned.
 */
struct day_entry {
	const struct slot	*slots;
	const uint32_t		*offsets;
	const char		*packed;
	int			 n;
	int			 active;
};

static void
day_entry_parse(const char *p, int64_t count, struct day_entry *e)
{
	int64_t	n;

	memcpy(&n, p, sizeof n);
	e->n = (int)n;
	e->active = count != 0;
	e->slots = (const struct slot *)(const void *)(p + sizeof n);
	e->offsets = (const uint32_t *)(const void *)(e->slots + n);
	e->packed = (const char *)(e->offsets + n + 1);
}

/* The entry of n slots (allocated; the caller frees), its size in *len. */
static char *
day_entry_build(const struct slot *slots, int n, size_t *len)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	uint32_t	*offsets;
	size_t		 head;
	char		*p;
	int64_t		 n64 = n;
	int		 i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	offsets = xmalloc((size_t)(n + 1) * sizeof *offsets);
	for (i = 0; i < n; i++) {
		offsets[i] = (uint32_t)sb.size;
		msgpack_pack_map(&pk, 2);
		mp_pack_kv_int(&pk, "starts_at", slots[i].starts_at);
		mp_pack_kv_int(&pk, "ends_at", slots[i].ends_at);
	}
	offsets[n] = (uint32_t)sb.size;
	head = sizeof n64 + (size_t)n * sizeof *slots +
	    (size_t)(n + 1) * sizeof *offsets;
	*len = head + sb.size;
	p = xmalloc(*len);
	memcpy(p, &n64, sizeof n64);
	memcpy(p + sizeof n64, slots, (size_t)n * sizeof *slots);
	memcpy(p + sizeof n64 + (size_t)n * sizeof *slots, offsets,
	    (size_t)(n + 1) * sizeof *offsets);
	if (sb.size > 0)
		memcpy(p + head, sb.data, sb.size);
	free(offsets);
	msgpack_sbuffer_destroy(&sb);
	return p;
}

/*
 * The day's entry, from the read cache or read now and kept. A desk and the
 * patients' portal ask for the same few days over and over; reading the
 * hours, breaks, exceptions and bookings again for each was nine tenths of
 * a request. Without want only whether the doctor is there and active is
 * looked up (e->n is 0). -1 when the doctor is not there; otherwise 0 and
 * *e, valid until the next readcache call and until *owned, which the
 * caller frees, is freed.
 */
static int
day_entry_get(int64_t doctor_id, const struct civil_date *day, int minutes,
    int want, struct day_entry *e, char **owned)
{
	struct slot	*slots;
	int64_t		 key[SLOTS_KEY_WORDS], count;
	const char	*cached;
	size_t		 len;
	int		 n = 0, active;

	memset(e, 0, sizeof *e);
	*owned = NULL;
	key[0] = 'S';
	key[1] = doctor_id;
	key[2] = date_to_days(day);
	key[3] = minutes;
	if (want && readcache_get(key, sizeof key, &cached, &len, &count)) {
		day_entry_parse(cached, count, e);
		return 0;
	}
	if ((active = doctors_active(doctor_id)) < 0)
		return -1;
	e->active = active;
	if (!want)
		return 0;
	slots = xmalloc(SLOTS_MAX * sizeof *slots);	/* [0..n) is read */
	if (active)
		n = availability_slots_len(doctor_id, day, INT64_MIN, minutes,
		    slots, SLOTS_MAX);
	*owned = day_entry_build(slots, n, &len);
	free(slots);
	readcache_put(key, sizeof key, *owned, len, active);
	day_entry_parse(*owned, active, e);
	return 0;
}

int
op_appt_slots(struct req *r)
{
	const struct hold	**held;
	const struct hold	 *h;
	struct day_entry	  e;
	struct civil_date	  day, today;
	const char		 *date;
	char			 *owned;
	int64_t			  doctor_id, type_id;
	int			  i, first, shown, minutes, future, too_far, patient;

	if (args_only(r, "doctor_id", "date", "type_id", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_str(r, "date", ARG_REQUIRED, 10, 10, &date) != 0 ||
	    type_arg(r, &type_id, &minutes) != 0)
		return OP_FAIL;
	if (date_parse(date, &day) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "date: must be a date YYYY-MM-DD");
	utc_to_local(r->now, &today, NULL);
	/* A past day has no free slots; today has only those still ahead. */
	future = date_compare(&day, &today) >= 0;
	too_far = date_to_days(&day) - date_to_days(&today) > BOOK_DAYS_AHEAD_MAX;
	if (day_entry_get(doctor_id, &day, minutes, future && !too_far, &e,
	    &owned) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	if (too_far)
		return req_fail(r, ERR_BAD_REQUEST, "date: at most %d days ahead",
		    BOOK_DAYS_AHEAD_MAX);
	if (!e.active)
		e.n = 0;
	/* Sorted by start: those already begun come first. */
	for (first = 0; first < e.n && e.slots[first].starts_at <= r->now; first++)
		continue;
	msgpack_pack_map(&r->pk, 4);
	mp_pack_kv_int(&r->pk, "doctor_id", doctor_id);
	mp_pack_kv_str(&r->pk, "date", date);
	mp_pack_str(&r->pk, "type_id");
	if (type_id != 0)
		msgpack_pack_int64(&r->pk, type_id);
	else
		msgpack_pack_nil(&r->pk);
	mp_pack_str(&r->pk, "slots");
	/* No other connection holds any of the rest: the packed maps as kept. */
	if (first == e.n || holds_find(doctor_id, e.slots[first].starts_at,
	    INT64_MAX, r->conn->id) == NULL) {
		msgpack_pack_array(&r->pk, (size_t)(e.n - first));
		if (first < e.n)
			msgpack_sbuffer_write(&r->result, e.packed + e.offsets[first],
			    e.offsets[e.n] - e.offsets[first]);
		free(owned);
		return OP_OK;
	}
	/* Patients do not see slots the desk is holding; staff see who holds
	 * them. Not zeroed: the loop sets every held[i] it reads. */
	patient = req_role(r) == ROLE_PATIENT;
	held = xmalloc((size_t)(e.n - first) * sizeof *held);
	for (i = first, shown = 0; i < e.n; i++) {
		held[i - first] = holds_find(doctor_id, e.slots[i].starts_at,
		    e.slots[i].ends_at, r->conn->id);
		if (held[i - first] == NULL || !patient)
			shown++;
	}
	msgpack_pack_array(&r->pk, (size_t)shown);
	for (i = first; i < e.n; i++) {
		if ((h = held[i - first]) == NULL) {
			msgpack_sbuffer_write(&r->result, e.packed + e.offsets[i],
			    e.offsets[i + 1] - e.offsets[i]);
			continue;
		}
		if (patient)
			continue;
		msgpack_pack_map(&r->pk, 3);
		mp_pack_kv_int(&r->pk, "starts_at", e.slots[i].starts_at);
		mp_pack_kv_int(&r->pk, "ends_at", e.slots[i].ends_at);
		mp_pack_str(&r->pk, "held_by");
		msgpack_pack_map(&r->pk, 3);
		mp_pack_kv_int(&r->pk, "user_id", h->holder_user_id);
		mp_pack_kv_str(&r->pk, "name", h->holder_name);
		mp_pack_kv_int(&r->pk, "expires_at", h->expires_at);
	}
	free(held);
	free(owned);
	return OP_OK;
}

/* --- appt.book --- */

/*
 * Checks a start time for a booking by this caller: not in the past, not too
 * far ahead, within the doctor's hours (on a slot boundary for patients).
 */
static int
check_start(struct req *r, int64_t doctor_id, int64_t starts_at, int minutes,
    int64_t *ends_at)
{
	struct civil_date	day, today;

	if (starts_at <= r->now)
		return req_fail(r, ERR_BAD_REQUEST, "starts_at: must be in the future");
	if (starts_at - r->now > (int64_t)(BOOK_DAYS_AHEAD_MAX + 1) * 86400)
		return req_fail(r, ERR_BAD_REQUEST, "starts_at: at most %d days ahead",
		    BOOK_DAYS_AHEAD_MAX);
	/* Whole local days, as appt.slots counts them. */
	utc_to_local(r->now, &today, NULL);
	utc_to_local(starts_at, &day, NULL);
	if (date_to_days(&day) - date_to_days(&today) > BOOK_DAYS_AHEAD_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "starts_at: at most %d days ahead",
		    BOOK_DAYS_AHEAD_MAX);
	if (availability_check_len(doctor_id, starts_at, req_role(r) == ROLE_PATIENT,
	    minutes, ends_at) != 0) {
		if (minutes > 0)
			return req_fail(r, ERR_CONFLICT, "starts_at: a %d-minute visit "
			    "does not fit %s", minutes, req_role(r) == ROLE_PATIENT ?
			    "one of the doctor's free slots" : "the doctor's hours");
		return req_fail(r, ERR_CONFLICT, req_role(r) == ROLE_PATIENT ?
		    "starts_at: not one of the doctor's free slots" :
		    "starts_at: outside the doctor's hours");
	}
	return 0;
}

static int
conflict_reply(struct req *r, int64_t other_id)
{
	struct appt	other;

	if (other_id != 0 && appt_by_id(other_id, &other) == 0 &&
	    appt_visible(r, &other))
		return req_fail(r, ERR_CONFLICT, "that time is taken (appointment %lld)",
		    (long long)other_id);
	return req_fail(r, ERR_CONFLICT, "that time is taken");
}

/* Another connection's soft hold keeps the time from everyone else. */
static int
check_not_held(struct req *r, int64_t doctor_id, int64_t starts_at, int64_t ends_at)
{
	const struct hold	*h;

	if ((h = holds_find(doctor_id, starts_at, ends_at, r->conn->id)) != NULL)
		return req_fail(r, ERR_CONFLICT, "that time is held by %s until %lld",
		    h->holder_name, (long long)h->expires_at);
	return 0;
}

int
op_appt_book(struct req *r)
{
	const char		*reason = "";
	int64_t			 doctor_id, starts_at, patient_id = 0, conflict;
	int64_t			 mine, type_id;
	int			 has_patient, rc, minutes, overbook;
	size_t			 packed;
	struct doctor_brief	 d;
	struct patient_brief	 p;
	struct appt		 a;
	struct hold		*h;

	if (args_only(r, "doctor_id", "starts_at", "patient_id", "reason", "type_id",
	    "overbook", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_int(r, "starts_at", ARG_REQUIRED, 0, INT64_MAX / 2, &starts_at, NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id, &has_patient) != 0 ||
	    arg_str(r, "reason", ARG_NULLABLE | ARG_MULTILINE, 0, APPT_REASON_MAX_CHARS, &reason) != 0 ||
	    overbook_arg(r, &overbook) != 0 || type_arg(r, &type_id, &minutes) != 0)
		return OP_FAIL;
	if (doctors_brief_by_id(doctor_id, &d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	if (!d.active)
		return req_fail(r, ERR_CONFLICT, "this doctor is not taking appointments");
	switch (req_role(r)) {
	case ROLE_PATIENT:
		mine = access_own_patient(r);
		if (mine == 0)
			return req_fail(r, ERR_FORBIDDEN, "no patient record for this login");
		if (has_patient && patient_id != mine)
			return req_fail(r, ERR_FORBIDDEN, "patients book for themselves only");
		patient_id = mine;
		break;
	case ROLE_DOCTOR:
		mine = access_own_doctor(r);
		if (mine != doctor_id)
			return req_fail(r, ERR_FORBIDDEN, "doctors book with themselves only");
		if (!has_patient)
			return req_fail(r, ERR_BAD_REQUEST, "patient_id: required");
		if (!appt_doctor_has_patient(mine, patient_id))
			return req_fail(r, ERR_FORBIDDEN, "not one of your patients");
		break;
	default:
		if (!has_patient)
			return req_fail(r, ERR_BAD_REQUEST, "patient_id: required");
		break;
	}
	if (patients_brief_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)patient_id);

	memset(&a, 0, sizeof a);
	a.doctor_id = doctor_id;
	a.patient_id = patient_id;
	a.starts_at = starts_at;
	/* Patients ask; the desk and doctors confirm as they book. */
	a.status = req_role(r) == ROLE_PATIENT ? APPT_REQUESTED : APPT_APPROVED;
	strlcpy_mf(a.reason, reason != NULL ? reason : "", sizeof a.reason);
	a.created_by = req_user_id(r);
	a.created_at = a.updated_at = r->now;
	a.type_id = type_id;
	/* Every check comes before the first change (the overlap check is
	 * appt_insert's first step), and a failed INSERT undoes itself: no
	 * savepoint needed. */
	if (db_begin_direct() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	/* Hours, the cap and overlaps are checked inside the write transaction. */
	if (check_start(r, doctor_id, starts_at, minutes, &a.ends_at) != 0 ||
	    check_not_held(r, doctor_id, starts_at, a.ends_at) != 0 ||
	    check_cap(r, doctor_id, starts_at, overbook, &a.overbook) != 0) {
		db_rollback();
		return OP_FAIL;
	}
	if ((rc = appt_insert(&a, &conflict)) != 0) {
		db_rollback();
		if (rc == -1)
			return conflict_reply(r, conflict);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (reminders_appt_changed(&a, r->now) != 0 || waitlist_fulfil(&a, r->now) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "appt.book", patient_id, NULL, "appointment %lld doctor %lld at %lld%s",
	    (long long)a.id, (long long)doctor_id, (long long)starts_at,
	    a.overbook ? " (overbook)" : "");
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	/* The row as inserted, with the names read above: reading it back
	 * with its joins cost a twentieth of a booking. A type's name and
	 * colour are read back with it. */
	if (type_id != 0)
		appt_by_id(a.id, &a);
	else {
		strlcpy_mf(a.doctor_name, d.full_name, sizeof a.doctor_name);
		strlcpy_mf(a.patient_name, p.full_name, sizeof a.patient_name);
		a.doctor_user_id = d.user_id;
		a.patient_user_id = p.user_id;
		/* Kept by the appointments' triggers (migration 016); read
		 * before the insert, which, approved or requested, leaves it. */
		a.patient_no_shows = p.no_show_count;
	}
	/* The push carries the map the reply does: packed once (a booking
	 * packed it twice, a thirtieth of its instructions). */
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "appointment");
	packed = r->result.size;
	appt_pack(&r->pk, &a);
	push_appt_packed(&a, r->result.data + packed, r->result.size - packed);
	/* Booking the slot one held ends the hold. */
	if ((h = holds_mine(r->conn->id, doctor_id, starts_at)) != NULL)
		holds_release(h);
	return OP_OK;
}

/* --- appt.book_recurring --- */

#define RECUR_COUNT_MAX		52
#define RECUR_EVERY_MAX		52
#define RECUR_PROBLEMS_SHOWN	10

/*
 * Every N weeks, M times, all or nothing: each occurrence is checked (hours,
 * holds, the daily cap, overlaps) and inserted in one write transaction; if
 * any fails, none is kept and the error lists them.
 */
int
op_appt_book_recurring(struct req *r)
{
	const char		*reason = "";
	int64_t			 doctor_id, starts_at, patient_id, every, count, type_id;
	int64_t			 conflict, series = 0, ids[RECUR_COUNT_MAX];
	int			 minutes, overbook, min, i, nbad = 0, rc;
	struct civil_date	 day0, day;
	struct doctor		 d;
	struct patient		 p;
	struct appt		 a;
	const struct hold	*h;
	char			 why[900], *list = NULL, *more;

	if (args_only(r, "doctor_id", "patient_id", "starts_at", "every_weeks",
	    "count", "type_id", "reason", "overbook", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_REQUIRED, 1, INT64_MAX, &patient_id, NULL) != 0 ||
	    arg_int(r, "starts_at", ARG_REQUIRED, 0, INT64_MAX / 2, &starts_at, NULL) != 0 ||
	    arg_int(r, "every_weeks", ARG_REQUIRED, 1, RECUR_EVERY_MAX, &every, NULL) != 0 ||
	    arg_int(r, "count", ARG_REQUIRED, 2, RECUR_COUNT_MAX, &count, NULL) != 0 ||
	    arg_str(r, "reason", ARG_NULLABLE | ARG_MULTILINE, 0, APPT_REASON_MAX_CHARS,
	    &reason) != 0 ||
	    overbook_arg(r, &overbook) != 0 || type_arg(r, &type_id, &minutes) != 0)
		return OP_FAIL;
	if (doctors_by_id(doctor_id, &d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	doctors_clear(&d);
	if (req_role(r) == ROLE_DOCTOR) {
		if (access_own_doctor(r) != doctor_id)
			return req_fail(r, ERR_FORBIDDEN, "doctors book with themselves only");
		if (!appt_doctor_has_patient(doctor_id, patient_id))
			return req_fail(r, ERR_FORBIDDEN, "not one of your patients");
	}
	if (!d.active)
		return req_fail(r, ERR_CONFLICT, "this doctor is not taking appointments");
	if (patients_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)patient_id);
	if (starts_at <= r->now)
		return req_fail(r, ERR_BAD_REQUEST, "starts_at: must be in the future");

	/* The same local time of day each time, across DST changes. */
	utc_to_local(starts_at, &day0, &min);
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	for (i = 0; i < count; i++) {
		const char	*problem = NULL;
		char		 date[11];

		day = day0;
		date_add_days(&day, (int)(i * every * 7));
		memset(&a, 0, sizeof a);
		a.doctor_id = doctor_id;
		a.patient_id = patient_id;
		a.starts_at = local_to_utc(&day, min);
		a.status = APPT_APPROVED;
		strlcpy_mf(a.reason, reason != NULL ? reason : "", sizeof a.reason);
		a.created_by = req_user_id(r);
		a.created_at = a.updated_at = r->now;
		a.type_id = type_id;
		a.series_id = series;
		if (a.starts_at - r->now > (int64_t)(BOOK_DAYS_AHEAD_MAX + 1) * 86400)
			problem = "more than 730 days ahead";
		else if (availability_check_len(doctor_id, a.starts_at, 0, minutes,
		    &a.ends_at) != 0)
			problem = "outside the doctor's hours";
		else if ((h = holds_find(doctor_id, a.starts_at, a.ends_at,
		    r->conn->id)) != NULL) {
			snprintf(why, sizeof why, "held by %s", h->holder_name);
			problem = why;
		} else
			problem = cap_problem(doctor_id, a.starts_at, overbook,
			    &a.overbook, why, sizeof why);
		if (problem == NULL) {
			if ((rc = appt_insert(&a, &conflict)) == -2) {
				db_rollback();
				free(list);
				return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
			}
			if (rc == -1)
				problem = "that time is taken";
		}
		if (problem != NULL) {
			if (nbad++ < RECUR_PROBLEMS_SHOWN) {
				date_format(&day, date);
				more = xasprintf("%s%s#%d %s %02d:%02d (%lld): %s",
				    list != NULL ? list : "", list != NULL ? "; " : "",
				    i + 1, date, min / 60, min % 60,
				    (long long)a.starts_at, problem);
				free(list);
				list = more;
			}
			continue;
		}
		/* The first occurrence names the series. */
		if (series == 0) {
			series = a.id;
			if (appt_set_series(a.id, series) != 0) {
				db_rollback();
				free(list);
				return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
			}
		}
		if (reminders_appt_changed(&a, r->now) != 0 || waitlist_fulfil(&a, r->now) != 0) {
			db_rollback();
			free(list);
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
		ids[i] = a.id;
	}
	if (nbad > 0) {
		db_rollback();
		rc = req_fail(r, ERR_CONFLICT, "%d of %lld occurrences conflict, none "
		    "booked: %s%s", nbad, (long long)count, list,
		    nbad > RECUR_PROBLEMS_SHOWN ? "; ..." : "");
		free(list);
		return rc;
	}
	audit_req(r, "appt.book_recurring", patient_id, NULL, "series %lld: %lld "
	    "appointments doctor %lld every %lld weeks from %lld", (long long)series,
	    (long long)count, (long long)doctor_id, (long long)every,
	    (long long)starts_at);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 2);
	mp_pack_kv_int(&r->pk, "series_id", series);
	mp_pack_str(&r->pk, "appointments");
	msgpack_pack_array(&r->pk, (size_t)count);
	for (i = 0; i < count; i++) {
		appt_by_id(ids[i], &a);
		push_appt_changed(&a);
		appt_pack(&r->pk, &a);
	}
	return OP_OK;
}

/* --- appt.hold, appt.release --- */

int
op_appt_hold(struct req *r)
{
	const struct hold	*h;
	struct doctor		 d;
	struct user		 u;
	int64_t			 doctor_id, starts_at, ends_at, type_id;
	int			 busy = 0, minutes;

	if (args_only(r, "doctor_id", "starts_at", "type_id", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_int(r, "starts_at", ARG_REQUIRED, 0, INT64_MAX / 2, &starts_at, NULL) != 0 ||
	    type_arg(r, &type_id, &minutes) != 0)
		return OP_FAIL;
	if (doctors_by_id(doctor_id, &d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	doctors_clear(&d);
	if (req_role(r) == ROLE_DOCTOR && access_own_doctor(r) != doctor_id)
		return req_fail(r, ERR_FORBIDDEN, "doctors hold their own time only");
	if (!d.active)
		return req_fail(r, ERR_CONFLICT, "this doctor is not taking appointments");
	if (check_start(r, doctor_id, starts_at, minutes, &ends_at) != 0)
		return OP_FAIL;
	appt_busy(doctor_id, starts_at, ends_at, busy_found, &busy);
	if (busy)
		return req_fail(r, ERR_CONFLICT, "that time is taken");
	if (check_not_held(r, doctor_id, starts_at, ends_at) != 0)
		return OP_FAIL;
	if (holds_mine(r->conn->id, doctor_id, starts_at) == NULL &&
	    holds_count(r->conn->id) >= HOLDS_PER_CONN_MAX)
		return req_fail(r, ERR_CONFLICT, "at most %d holds per connection",
		    HOLDS_PER_CONN_MAX);
	if (users_by_id(req_user_id(r), &u) != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	h = holds_take(r->conn->id, doctor_id, d.user_id, starts_at, ends_at,
	    req_user_id(r), u.full_name);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "hold");
	holds_pack(&r->pk, h);
	return OP_OK;
}

int
op_appt_release(struct req *r)
{
	struct hold	*h;
	int64_t		 doctor_id, starts_at;

	if (args_only(r, "doctor_id", "starts_at", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_int(r, "starts_at", ARG_REQUIRED, 0, INT64_MAX / 2, &starts_at, NULL) != 0)
		return OP_FAIL;
	if ((h = holds_mine(r->conn->id, doctor_id, starts_at)) == NULL)
		return req_fail(r, ERR_NOT_FOUND, "this connection holds no such slot");
	holds_release(h);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_kv_bool(&r->pk, "released", 1);
	return OP_OK;
}

/* --- appt.walk_in --- */

#define WALK_IN_LOOKBACK	(4 * 3600)	/* longer than any slot */

/* Reads the new patient's fields from the `patient` map into *p. */
static int
walk_in_patient_fields(struct req *r, const msgpack_object *o, struct patient *p)
{
	const msgpack_object	*args = r->args;
	struct patient_words	 words;
	const char		*name = NULL, *dob = NULL, *phone = NULL, *email = NULL;
	const char		*problem;
	int			 rc;

	if (o->type != MSGPACK_OBJECT_MAP)
		return req_fail(r, ERR_BAD_REQUEST, "patient: must be a map");
	/* The argument readers read r->args: point them at the nested map. */
	r->args = o;
	rc = args_only(r, "full_name", "date_of_birth", "phone", "email", NULL) != 0 ||
	    arg_str(r, "full_name", ARG_REQUIRED, 1, NAME_MAX_CHARS, &name) != 0 ||
	    arg_str(r, "date_of_birth", ARG_NULLABLE, 0, 10, &dob) != 0 ||
	    arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &phone) != 0 ||
	    arg_str(r, "email", ARG_NULLABLE, 0, EMAIL_MAX, &email) != 0;
	r->args = args;
	if (rc)
		return -1;
	memset(p, 0, sizeof *p);
	patient_name_words(name, &words);
	if (words.n == 0)
		return req_fail(r, ERR_BAD_REQUEST, "full_name: must hold a letter or a digit");
	strlcpy_mf(p->full_name, name, sizeof p->full_name);
	if (dob != NULL && *dob != '\0') {
		if ((problem = patient_dob_problem(dob, r->now)) != NULL)
			return req_fail(r, ERR_BAD_REQUEST, "date_of_birth: %s", problem);
		strlcpy_mf(p->date_of_birth, dob, sizeof p->date_of_birth);
	}
	if (phone != NULL && *phone != '\0') {
		if (!phone_valid(phone))
			return req_fail(r, ERR_BAD_REQUEST, "phone: not a valid phone number");
		strlcpy_mf(p->phone, phone, sizeof p->phone);
	}
	if (email != NULL && *email != '\0' &&
	    email_normalize(email, p->email, sizeof p->email) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "email: not a valid e-mail address");
	p->created_at = p->updated_at = r->now;
	return 0;
}

/*
 * The doctor's current slot (started, not yet over) or the next one today,
 * free and not held by another connection; 0, or -1 when none is left.
 */
static int
walk_in_slot(struct req *r, int64_t doctor_id, int minutes, int64_t *starts_at,
    int64_t *ends_at)
{
	struct civil_date	 today;
	struct slot		*slots;
	int			 n, i, found = -1;

	utc_to_local(r->now, &today, NULL);
	slots = xmalloc(SLOTS_MAX * sizeof *slots);	/* [0..n) is read */
	n = availability_slots_len(doctor_id, &today, r->now - WALK_IN_LOOKBACK,
	    minutes, slots, SLOTS_MAX);
	for (i = 0; i < n; i++) {
		if (slots[i].ends_at <= r->now ||
		    holds_find(doctor_id, slots[i].starts_at, slots[i].ends_at,
		    r->conn->id) != NULL)
			continue;
		*starts_at = slots[i].starts_at;
		*ends_at = slots[i].ends_at;
		found = 0;
		break;
	}
	free(slots);
	return found;
}

int
op_appt_walk_in(struct req *r)
{
	const msgpack_object	*po;
	const char		*reason = "";
	int64_t			 doctor_id, patient_id = 0, conflict, type_id;
	int			 has_patient_id, rc, minutes, overbook;
	struct doctor		 d;
	struct patient		 p;
	struct appt		 a;
	struct hold		*h;

	if (args_only(r, "doctor_id", "patient_id", "patient", "reason", "type_id",
	    "overbook", NULL) != 0 ||
	    overbook_arg(r, &overbook) != 0 || type_arg(r, &type_id, &minutes) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient_id) != 0 ||
	    arg_str(r, "reason", ARG_NULLABLE | ARG_MULTILINE, 0, APPT_REASON_MAX_CHARS,
	    &reason) != 0)
		return OP_FAIL;
	po = mp_map_get(r->args, "patient");
	if (po != NULL && po->type == MSGPACK_OBJECT_NIL)
		po = NULL;
	if (has_patient_id == (po != NULL))
		return req_fail(r, ERR_BAD_REQUEST, "give exactly one of patient_id and patient");
	if (po != NULL) {
		if (walk_in_patient_fields(r, po, &p) != 0)
			return OP_FAIL;
	} else if (patients_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)patient_id);
	if (doctors_by_id(doctor_id, &d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	doctors_clear(&d);
	if (!d.active)
		return req_fail(r, ERR_CONFLICT, "this doctor is not taking appointments");

	memset(&a, 0, sizeof a);
	a.doctor_id = doctor_id;
	a.status = APPT_APPROVED;
	strlcpy_mf(a.reason, reason != NULL ? reason : "", sizeof a.reason);
	a.created_by = req_user_id(r);
	a.created_at = a.updated_at = r->now;
	a.type_id = type_id;
	/* Registered, booked and checked in together, or not at all. */
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (walk_in_slot(r, doctor_id, minutes, &a.starts_at, &a.ends_at) != 0) {
		db_rollback();
		return req_fail(r, ERR_CONFLICT, "no free slot left today with this doctor");
	}
	if (check_cap(r, doctor_id, a.starts_at, overbook, &a.overbook) != 0) {
		db_rollback();
		return OP_FAIL;
	}
	if (po != NULL && patients_insert(&p) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	a.patient_id = p.id;
	if ((rc = appt_insert(&a, &conflict)) != 0) {
		db_rollback();
		return rc == -1 ? conflict_reply(r, conflict) :
		    req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	a.checked_in_at = r->now;
	a.checked_in_by = req_user_id(r);
	if (appt_set_status(&a, APPT_CHECKED_IN, req_user_id(r), "walk-in", r->now) != 0 ||
	    appt_save_times(&a) != 0 || reminders_appt_changed(&a, r->now) != 0 ||
	    waitlist_fulfil(&a, r->now) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (po != NULL)
		audit_req(r, "patients.create", p.id, NULL, "patient %lld (walk-in)",
		    (long long)p.id);
	audit_req(r, "appt.walk_in", p.id, NULL, "appointment %lld doctor %lld at %lld",
	    (long long)a.id, (long long)doctor_id, (long long)a.starts_at);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	appt_by_id(a.id, &a);
	push_appt_changed(&a);
	if ((h = holds_mine(r->conn->id, doctor_id, a.starts_at)) != NULL)
		holds_release(h);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "appointment");
	appt_pack(&r->pk, &a);
	mp_pack_str(&r->pk, "patient");
	patients_pack(&r->pk, &p);
	return OP_OK;
}

/* --- status changes --- */

enum actor_rule {
	ACT_DESK = 1 << 0,		/* receptionist */
	ACT_ADMIN = 1 << 1,
	ACT_OWN_DOCTOR = 1 << 2,	/* the appointment's doctor */
	ACT_OWN_PATIENT = 1 << 3,	/* the appointment's patient */
};

static int
actor_allowed(struct req *r, const struct appt *a, int rules)
{
	switch (req_role(r)) {
	case ROLE_RECEPTIONIST:
		return (rules & ACT_DESK) != 0;
	case ROLE_ADMIN:
		return (rules & ACT_ADMIN) != 0;
	case ROLE_DOCTOR:
		return (rules & ACT_OWN_DOCTOR) && a->doctor_user_id == req_user_id(r);
	case ROLE_PATIENT:
		return (rules & ACT_OWN_PATIENT) && a->patient_user_id == req_user_id(r);
	default:
		return 0;
	}
}

/*
 * A cancellation's reason must be on the clinic's list when there is one;
 * the free-text `note` is kept after it ("reason: note").
 */
static int
cancel_note(struct req *r, const char **note)
{
	const char	*text = NULL;

	if (arg_str(r, "note", ARG_NULLABLE | ARG_MULTILINE, 0,
	    APPT_NOTE_MAX_CHARS - CANCEL_REASON_MAX_CHARS - 2, &text) != 0)
		return -1;
	if (cancel_reasons_list(NULL, NULL) > 0) {
		if (*note == NULL || **note == '\0')
			return req_fail(r, ERR_BAD_REQUEST, "reason: required "
			    "(one of cancel_reasons.list)");
		if (!cancel_reasons_has(*note))
			return req_fail(r, ERR_BAD_REQUEST, "reason: not one of the "
			    "clinic's cancellation reasons");
	}
	if (text != NULL && *text != '\0') {
		char	*both = msgpack_zone_malloc(r->unpacked.zone,
			    APPT_NOTE_MAX_CHARS * 4 + 1);

		if (*note != NULL && **note != '\0')
			snprintf(both, APPT_NOTE_MAX_CHARS * 4 + 1, "%s: %s", *note, text);
		else
			snprintf(both, APPT_NOTE_MAX_CHARS * 4 + 1, "%s", text);
		*note = both;
	}
	return 0;
}

/*
 * One status change: load, check visibility and actor, apply the per-op
 * check, move through the transition table, record, audit, push.
 */
static int
appt_transition(struct req *r, enum appt_status to, int rules, int note_required,
    int (*check)(struct req *, struct appt *))
{
	const char	*note = NULL;
	struct appt	 a;
	int64_t		 offered = 0;
	int		 rc;

	/* Only a cancellation takes a free-text note beside its reason. */
	if (args_only(r, "id", "reason", to == APPT_CANCELLED ? "note" : NULL,
	    NULL) != 0 || appt_arg(r, &a) != 0 ||
	    arg_str(r, "reason", (note_required ? ARG_REQUIRED : ARG_NULLABLE) |
	    ARG_MULTILINE, note_required ? 1 : 0, APPT_NOTE_MAX_CHARS, &note) != 0)
		return OP_FAIL;
	if (to == APPT_CANCELLED && cancel_note(r, &note) != 0)
		return OP_FAIL;
	if (!actor_allowed(r, &a, rules))
		return req_fail(r, ERR_FORBIDDEN, "%s is not allowed for you on this appointment",
		    r->op->name);
	if (!appt_transition_allowed(a.status, to))
		return req_fail(r, ERR_CONFLICT, "cannot go from %s to %s",
		    appt_status_name(a.status), appt_status_name(to));
	if (check != NULL && check(r, &a) != 0)
		return OP_FAIL;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	rc = appt_set_status(&a, to, req_user_id(r), note, r->now);
	if (rc == 0)
		rc = appt_save_times(&a);
	if (rc == 0 && (reminders_appt_changed(&a, r->now) != 0 ||
	    (to == APPT_APPROVED && waitlist_fulfil(&a, r->now) != 0)))
		rc = -2;
	/* The patient hears of a decision on their appointment, the doctor
	 * of a patient's cancellation. */
	if (rc == 0 && (to == APPT_APPROVED || to == APPT_REJECTED ||
	    to == APPT_CANCELLED) && notify_appt(r, &a, to == APPT_APPROVED ?
	    "appt.approved" : to == APPT_REJECTED ? "appt.rejected" :
	    "appt.cancelled", appt_status_name(to), note) != 0)
		rc = -2;
	/* A freed time goes to the first patient waiting for one like it. */
	if (rc == 0 && (to == APPT_REJECTED || to == APPT_CANCELLED) &&
	    (offered = offer_freed(r, &a)) < 0)
		rc = -2;
	if (rc != 0) {
		db_rollback();
		return rc == -1 ? req_fail(r, ERR_CONFLICT, "the appointment changed; reload it") :
		    req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, r->op->name, a.patient_id, NULL, "appointment %lld -> %s",
	    (long long)a.id, appt_status_name(to));
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	appt_by_id(a.id, &a);
	push_appt_changed(&a);
	if (offered > 0)
		waitlist_push_offer(offered);
	pack_appt_result(r, &a);
	return OP_OK;
}

int
op_appt_approve(struct req *r)
{
	return appt_transition(r, APPT_APPROVED, ACT_DESK | ACT_ADMIN | ACT_OWN_DOCTOR,
	    0, NULL);
}

int
op_appt_reject(struct req *r)
{
	return appt_transition(r, APPT_REJECTED, ACT_DESK | ACT_ADMIN | ACT_OWN_DOCTOR,
	    1, NULL);
}

static int
check_cancel(struct req *r, struct appt *a)
{
	if (req_role(r) == ROLE_PATIENT &&
	    a->starts_at - r->now < server.cfg.cancel_cutoff)
		return req_fail(r, ERR_CONFLICT, "too late to cancel online; "
		    "please call the clinic (cut-off %d min before)",
		    server.cfg.cancel_cutoff / 60);
	return 0;
}

int
op_appt_cancel(struct req *r)
{
	return appt_transition(r, APPT_CANCELLED, ACT_DESK | ACT_ADMIN |
	    ACT_OWN_DOCTOR | ACT_OWN_PATIENT, 0, check_cancel);
}

static int
check_checkin(struct req *r, struct appt *a)
{
	struct civil_date	today, day;

	utc_to_local(r->now, &today, NULL);
	utc_to_local(a->starts_at, &day, NULL);
	if (date_compare(&today, &day) != 0)
		return req_fail(r, ERR_CONFLICT, "check-in is only on the day of the appointment");
	a->checked_in_at = r->now;
	a->checked_in_by = req_user_id(r);
	return 0;
}

int
op_appt_checkin(struct req *r)
{
	return appt_transition(r, APPT_CHECKED_IN, ACT_DESK | ACT_ADMIN, 0, check_checkin);
}

static int
check_start_visit(struct req *r, struct appt *a)
{
	a->started_at = r->now;
	return 0;
}

int
op_appt_start(struct req *r)
{
	return appt_transition(r, APPT_IN_PROGRESS, ACT_OWN_DOCTOR | ACT_ADMIN, 0,
	    check_start_visit);
}

static int
check_complete(struct req *r, struct appt *a)
{
	a->completed_at = r->now;
	return 0;
}

int
op_appt_complete(struct req *r)
{
	return appt_transition(r, APPT_COMPLETED, ACT_OWN_DOCTOR | ACT_ADMIN, 0,
	    check_complete);
}

static int
check_no_show(struct req *r, struct appt *a)
{
	if (r->now < a->starts_at)
		return req_fail(r, ERR_CONFLICT, "no-show only after the start time");
	return 0;
}

int
op_appt_no_show(struct req *r)
{
	return appt_transition(r, APPT_NO_SHOW, ACT_DESK | ACT_ADMIN | ACT_OWN_DOCTOR,
	    0, check_no_show);
}

/* --- cancel_reasons.list, cancel_reasons.set --- */

static void
pack_reason_cb(const char *reason, void *arg)
{
	mp_pack_str(arg, reason);
}

static void
pack_cancel_reasons(struct req *r)
{
	int	n = cancel_reasons_list(NULL, NULL);

	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "reasons");
	msgpack_pack_array(&r->pk, (size_t)n);
	cancel_reasons_list(pack_reason_cb, &r->pk);
}

int
op_cancel_reasons_list(struct req *r)
{
	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	pack_cancel_reasons(r);
	return OP_OK;
}

int
op_cancel_reasons_set(struct req *r)
{
	const msgpack_object	*o;
	const char		*list[CANCEL_REASONS_MAX];
	uint32_t		 i, j, n;

	if (args_only(r, "reasons", NULL) != 0)
		return OP_FAIL;
	o = mp_map_get(r->args, "reasons");
	if (o == NULL)
		return req_fail(r, ERR_BAD_REQUEST, "reasons: required");
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return req_fail(r, ERR_BAD_REQUEST, "reasons: must be a list of strings");
	n = o->via.array.size;
	if (n > CANCEL_REASONS_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "reasons: at most %d", CANCEL_REASONS_MAX);
	for (i = 0; i < n; i++) {
		const msgpack_object	*e = &o->via.array.ptr[i];
		size_t			 len, chars;
		char			*copy;

		if (e->type != MSGPACK_OBJECT_STR)
			return req_fail(r, ERR_BAD_REQUEST, "reasons: must be a list of strings");
		len = e->via.str.size;
		if (!utf8_valid(e->via.str.ptr, len) ||
		    has_control_chars(e->via.str.ptr, len) ||
		    memchr(e->via.str.ptr, '\n', len) != NULL ||
		    memchr(e->via.str.ptr, '\r', len) != NULL ||
		    memchr(e->via.str.ptr, '\t', len) != NULL)
			return req_fail(r, ERR_BAD_REQUEST,
			    "reasons: each must be one line of valid UTF-8");
		chars = utf8_length(e->via.str.ptr, len);
		if (chars < 1 || chars > CANCEL_REASON_MAX_CHARS)
			return req_fail(r, ERR_BAD_REQUEST,
			    "reasons: each must be 1..%d characters", CANCEL_REASON_MAX_CHARS);
		copy = msgpack_zone_malloc(r->unpacked.zone, len + 1);
		memcpy(copy, e->via.str.ptr, len);
		copy[len] = '\0';
		for (j = 0; j < i; j++) {
			if (strcmp(list[j], copy) == 0)
				return req_fail(r, ERR_BAD_REQUEST, "reasons: \"%s\" twice", copy);
		}
		list[i] = copy;
	}
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (cancel_reasons_replace(list, n) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "cancel_reasons.set", 0, NULL, "%u reasons", (unsigned)n);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_cancel_reasons(r);
	return OP_OK;
}

/* --- appt.cancel_day --- */

#define CANCEL_DAY_MAX	LIST_LIMIT_MAX

struct day_ids {
	int64_t	ids[CANCEL_DAY_MAX];
	int	n;
};

static void
collect_cancellable(const struct appt *a, void *arg)
{
	struct day_ids	*d = arg;

	if (d->n < CANCEL_DAY_MAX && appt_status_active(a->status) &&
	    appt_transition_allowed(a->status, APPT_CANCELLED))
		d->ids[d->n++] = a->id;
}

int
op_appt_cancel_day(struct req *r)
{
	struct appt_filter	 f;
	struct civil_date	 day;
	struct day_ids		*d;
	struct doctor		 doc;
	struct patient		 p;
	struct appt		 a;
	const char		*date, *note = NULL;
	int64_t			 doctor_id;
	int			 i;

	if (args_only(r, "doctor_id", "date", "reason", "note", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_REQUIRED, 1, INT64_MAX, &doctor_id, NULL) != 0 ||
	    arg_str(r, "date", ARG_REQUIRED, 10, 10, &date) != 0 ||
	    arg_str(r, "reason", ARG_REQUIRED | ARG_MULTILINE, 1, APPT_NOTE_MAX_CHARS,
	    &note) != 0 || cancel_note(r, &note) != 0)
		return OP_FAIL;
	if (date_parse(date, &day) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "date: must be a date YYYY-MM-DD");
	if (doctors_by_id(doctor_id, &doc) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	doctors_clear(&doc);
	memset(&f, 0, sizeof f);
	f.doctor_id = doctor_id;
	local_day_bounds(&day, &f.from, &f.to);
	f.status = -1;
	f.limit = LIST_LIMIT_MAX;
	d = xcalloc(1, sizeof *d);
	appt_list(&f, collect_cancellable, d);
	/* Every one of them, or none. */
	if (db_begin() != 0) {
		free(d);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	/* Each patient is told; the day's times are not offered to the wait
	 * list, since the doctor is away. */
	for (i = 0; i < d->n; i++) {
		if (appt_by_id(d->ids[i], &a) != 0 ||
		    appt_set_status(&a, APPT_CANCELLED, req_user_id(r), note, r->now) != 0 ||
		    reminders_appt_changed(&a, r->now) != 0 ||
		    notify_appt(r, &a, "appt.cancelled", "cancelled", note) != 0) {
			db_rollback();
			free(d);
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
	}
	audit_req(r, "appt.cancel_day", 0, NULL, "doctor %lld on %s: %d cancelled",
	    (long long)doctor_id, date, d->n);
	if (db_commit() != 0) {
		free(d);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "rebook");
	msgpack_pack_array(&r->pk, (size_t)d->n);
	for (i = 0; i < d->n; i++) {
		appt_by_id(d->ids[i], &a);
		push_appt_changed(&a);
		if (patients_by_id(a.patient_id, &p) != 0)
			memset(&p, 0, sizeof p);
		msgpack_pack_map(&r->pk, 3);
		mp_pack_str(&r->pk, "appointment");
		appt_pack(&r->pk, &a);
		mp_pack_kv_str(&r->pk, "patient_name", a.patient_name);
		mp_pack_kv_str(&r->pk, "phone", p.phone[0] != '\0' ? p.phone : NULL);
	}
	free(d);
	return OP_OK;
}

/* --- appt.reschedule --- */

int
op_appt_reschedule(struct req *r)
{
	const char	*reason = NULL;
	int64_t		 starts_at, doctor_id = 0, conflict, type_id, offered = 0;
	int		 has_doctor, rc, minutes, overbook;
	struct appt	 old, next;
	struct appt_type t;
	struct doctor	 d;

	if (args_only(r, "id", "starts_at", "doctor_id", "reason", "type_id",
	    "overbook", NULL) != 0 ||
	    appt_arg(r, &old) != 0 || overbook_arg(r, &overbook) != 0 ||
	    type_arg(r, &type_id, &minutes) != 0 ||
	    arg_int(r, "starts_at", ARG_REQUIRED, 0, INT64_MAX / 2, &starts_at, NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_NULLABLE, 1, INT64_MAX, &doctor_id, &has_doctor) != 0 ||
	    arg_str(r, "reason", ARG_NULLABLE | ARG_MULTILINE, 0, APPT_NOTE_MAX_CHARS, &reason) != 0)
		return OP_FAIL;
	if (!actor_allowed(r, &old, ACT_DESK | ACT_ADMIN | ACT_OWN_DOCTOR | ACT_OWN_PATIENT))
		return req_fail(r, ERR_FORBIDDEN, "not allowed to reschedule this appointment");
	if (!appt_transition_allowed(old.status, APPT_RESCHEDULED))
		return req_fail(r, ERR_CONFLICT, "cannot reschedule a %s appointment",
		    appt_status_name(old.status));
	if (check_cancel(r, &old) != 0)
		return OP_FAIL;
	if (!has_doctor)
		doctor_id = old.doctor_id;
	if (doctor_id != old.doctor_id && req_role(r) == ROLE_DOCTOR)
		return req_fail(r, ERR_FORBIDDEN, "doctors reschedule with themselves only");
	if (doctors_by_id(doctor_id, &d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)doctor_id);
	doctors_clear(&d);
	if (!d.active)
		return req_fail(r, ERR_CONFLICT, "this doctor is not taking appointments");

	memset(&next, 0, sizeof next);
	next.doctor_id = doctor_id;
	next.patient_id = old.patient_id;
	next.starts_at = starts_at;
	next.status = req_role(r) == ROLE_PATIENT ? APPT_REQUESTED : APPT_APPROVED;
	strlcpy_mf(next.reason, old.reason, sizeof next.reason);
	next.created_by = req_user_id(r);
	next.created_at = next.updated_at = r->now;
	next.rescheduled_from = old.id;
	/* The visit keeps its kind (and length) unless a new one is given. */
	if (type_id == 0 && old.type_id != 0 && appt_types_by_id(old.type_id, &t) == 0) {
		type_id = t.id;
		minutes = t.minutes;
	}
	next.type_id = type_id;

	/* Old freed and new taken in one transaction, or nothing changes. */
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if ((rc = appt_set_status(&old, APPT_RESCHEDULED, req_user_id(r), reason,
	    r->now)) != 0) {
		db_rollback();
		return rc == -1 ? req_fail(r, ERR_CONFLICT, "the appointment changed; reload it") :
		    req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (check_start(r, doctor_id, starts_at, minutes, &next.ends_at) != 0 ||
	    check_not_held(r, doctor_id, starts_at, next.ends_at) != 0 ||
	    check_cap(r, doctor_id, starts_at, overbook, &next.overbook) != 0) {
		db_rollback();
		return OP_FAIL;
	}
	if ((rc = appt_insert(&next, &conflict)) != 0) {
		db_rollback();
		return rc == -1 ? conflict_reply(r, conflict) :
		    req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	old.rescheduled_to = next.id;
	if (appt_save_times(&old) != 0 || reminders_appt_changed(&old, r->now) != 0 ||
	    reminders_appt_changed(&next, r->now) != 0 || waitlist_fulfil(&next, r->now) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	/* Told of the new time: the patient (unless they moved it), the
	 * doctor when the patient did; the old time may go to the wait list. */
	{
		struct appt	moved = next;

		strlcpy_mf(moved.doctor_name, d.full_name, sizeof moved.doctor_name);
		strlcpy_mf(moved.patient_name, old.patient_name, sizeof moved.patient_name);
		moved.doctor_user_id = d.user_id;
		moved.patient_user_id = old.patient_user_id;
		if (notify_appt(r, &moved, "appt.rescheduled", "rescheduled", reason) != 0 ||
		    (req_user_id(r) == old.patient_user_id && old.doctor_id != doctor_id &&
		    notify_appt(r, &old, "appt.rescheduled", "rescheduled", reason) != 0) ||
		    (offered = offer_freed(r, &old)) < 0) {
			db_rollback();
			return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		}
	}
	audit_req(r, "appt.reschedule", old.patient_id, NULL,
	    "appointment %lld -> %lld at %lld", (long long)old.id, (long long)next.id,
	    (long long)starts_at);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	appt_by_id(old.id, &old);
	appt_by_id(next.id, &next);
	push_appt_changed(&old);
	push_appt_changed(&next);
	if (offered > 0)
		waitlist_push_offer(offered);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "appointment");
	appt_pack(&r->pk, &next);
	mp_pack_str(&r->pk, "previous");
	appt_pack(&r->pk, &old);
	return OP_OK;
}

/* --- reading --- */

int
op_appt_get(struct req *r)
{
	struct appt	a;

	if (args_only(r, "id", NULL) != 0 || appt_arg(r, &a) != 0)
		return OP_FAIL;
	pack_appt_result(r, &a);
	return OP_OK;
}

#define LIST_KEY_WORDS	8

static const char *const status_arg_names[] = {
	"requested", "approved", "rejected", "cancelled", "checked_in",
	"in_progress", "completed", "no_show", "rescheduled", NULL
};

/* The read cache's key of a list: every field of the filter, in order. */
static void
list_key(const struct appt_filter *f, int64_t key[LIST_KEY_WORDS])
{
	key[0] = 'L';
	key[1] = f->doctor_id;
	key[2] = f->patient_id;
	key[3] = f->from;
	key[4] = f->to;
	key[5] = f->status;
	key[6] = f->limit;
	key[7] = f->offset;
}

static void
pack_list_result(struct req *r, int64_t n, const char *packed, size_t len)
{
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "appointments");
	msgpack_pack_array(&r->pk, (size_t)n);
	if (len == 0)
		return;
	/* One allocation of the size needed, not a doubling or two. */
	if (r->result.alloc - r->result.size < len) {
		r->result.data = xrealloc(r->result.data, r->result.size + len);
		r->result.alloc = r->result.size + len;
	}
	msgpack_sbuffer_write(&r->result, packed, len);
}

int
op_appt_list(struct req *r)
{
	struct appt_filter	 f;
	struct civil_date	 day;
	msgpack_sbuffer		 sb;
	int64_t			 key[LIST_KEY_WORDS];
	const char		*cached;
	size_t			 cached_len;
	const char		*date = NULL;
	int64_t			 n, mine;
	int			 has_from, has_to, status = -1, has_doctor, has_patient;

	memset(&f, 0, sizeof f);
	f.limit = 100;
	if (args_only(r, "date", "from", "to", "doctor_id", "patient_id", "status",
	    "limit", "offset", NULL) != 0 ||
	    arg_str(r, "date", ARG_NULLABLE, 10, 10, &date) != 0 ||
	    arg_int(r, "from", ARG_NULLABLE, 0, INT64_MAX / 2, &f.from, &has_from) != 0 ||
	    arg_int(r, "to", ARG_NULLABLE, 0, INT64_MAX / 2, &f.to, &has_to) != 0 ||
	    arg_int(r, "doctor_id", ARG_NULLABLE, 1, INT64_MAX, &f.doctor_id, &has_doctor) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &f.patient_id, &has_patient) != 0 ||
	    arg_enum(r, "status", ARG_NULLABLE, status_arg_names, &status, NULL) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, LIST_LIMIT_MAX, &f.limit, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT32_MAX, &f.offset, NULL) != 0)
		return OP_FAIL;
	f.status = status;
	if (date != NULL) {
		if (has_from || has_to)
			return req_fail(r, ERR_BAD_REQUEST, "date: give either date or from/to");
		if (date_parse(date, &day) != 0)
			return req_fail(r, ERR_BAD_REQUEST, "date: must be a date YYYY-MM-DD");
		local_day_bounds(&day, &f.from, &f.to);
	} else {
		if (!has_from)
			f.from = r->now - 30 * 86400;
		if (!has_to)
			f.to = f.from + 60 * 86400;
		if (f.to <= f.from || f.to - f.from > LIST_RANGE_MAX)
			return req_fail(r, ERR_BAD_REQUEST,
			    "to: must be after from, within 366 days");
	}
	/* Each role sees only what it may. */
	switch (req_role(r)) {
	case ROLE_PATIENT:
		mine = access_own_patient(r);
		if (mine == 0 || (has_patient && f.patient_id != mine))
			return req_fail(r, ERR_FORBIDDEN, "patients see their own appointments only");
		if (has_doctor)
			return req_fail(r, ERR_FORBIDDEN, "patients see their own appointments only");
		f.patient_id = mine;
		break;
	case ROLE_DOCTOR:
		mine = access_own_doctor(r);
		if (mine == 0 || (has_doctor && f.doctor_id != mine))
			return req_fail(r, ERR_FORBIDDEN, "doctors see their own appointments only");
		f.doctor_id = mine;
		break;
	default:
		break;
	}
	/*
	 * The answer depends on the filter alone (the role has narrowed it
	 * above), so a desk asking for the same day again between two changes
	 * to the store gets the packed list it got before.
	 */
	list_key(&f, key);
	if (readcache_get(key, sizeof key, &cached, &cached_len, &n)) {
		pack_list_result(r, n, cached, cached_len);
		return OP_OK;
	}
	msgpack_sbuffer_init(&sb);
	n = appt_list_pack(&f, &sb);
	pack_list_result(r, n, sb.data, sb.size);
	readcache_put(key, sizeof key, sb.data, sb.size, n);
	msgpack_sbuffer_destroy(&sb);
	return OP_OK;
}

static void
history_pack_cb(const struct appt_event *e, void *arg)
{
	msgpack_packer	*pk = arg;

	msgpack_pack_map(pk, 7);
	mp_pack_kv_int(pk, "id", e->id);
	mp_pack_kv_int(pk, "ts", e->ts);
	mp_pack_str(pk, "actor_id");
	if (e->actor_id != 0)
		msgpack_pack_int64(pk, e->actor_id);
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_str(pk, "actor_name", e->actor_name);
	mp_pack_kv_str(pk, "from", e->from_status);
	mp_pack_kv_str(pk, "to", e->to_status);
	mp_pack_kv_str(pk, "note", e->note);
}

int
op_appt_history(struct req *r)
{
	struct appt	 a;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	int64_t		 n;

	if (args_only(r, "id", NULL) != 0 || appt_arg(r, &a) != 0)
		return OP_FAIL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	n = appt_events(a.id, history_pack_cb, &pk);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "appointment");
	appt_pack(&r->pk, &a);
	mp_pack_str(&r->pk, "events");
	msgpack_pack_array(&r->pk, (size_t)n);
	msgpack_sbuffer_write(&r->result, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return OP_OK;
}

/* --- stats.appointments --- */

#define STATS_DOCTORS_MAX	1000
#define STATS_RANGE_MAX		(366 * 86400)
#define STATS_DAYS_MAX		400	/* local dates in the longest range */

struct stats_acc {
	struct {
		int64_t	id;
		char	name[NAME_MAX_CHARS * 4 + 1];
		int64_t	total;
		int64_t	by_status[APPT__COUNT];
	}		doctors[STATS_DOCTORS_MAX];
	int		ndoctors;
	struct {
		char	date[11];
		int64_t	count;
	}		days[STATS_DAYS_MAX];
	int		ndays;
};

static void
stats_doctor_cb(int64_t doctor_id, const char *name, const char *status,
    int64_t count, void *arg)
{
	struct stats_acc	*acc = arg;
	int			 i = acc->ndoctors - 1, s;

	if (i < 0 || acc->doctors[i].id != doctor_id) {
		if (acc->ndoctors >= STATS_DOCTORS_MAX)
			return;
		i = acc->ndoctors++;
		acc->doctors[i].id = doctor_id;
		strlcpy_mf(acc->doctors[i].name, name, sizeof acc->doctors[i].name);
	}
	if ((s = appt_status_from_name(status)) >= 0)
		acc->doctors[i].by_status[s] += count;
	acc->doctors[i].total += count;
}

static void
stats_day_cb(int64_t starts_at, void *arg)
{
	struct stats_acc	*acc = arg;
	struct civil_date	 d;
	char			 date[11];

	utc_to_local(starts_at, &d, NULL);
	date_format(&d, date);
	if (acc->ndays > 0 && strcmp(acc->days[acc->ndays - 1].date, date) == 0) {
		acc->days[acc->ndays - 1].count++;
		return;
	}
	if (acc->ndays >= STATS_DAYS_MAX)
		return;
	strlcpy_mf(acc->days[acc->ndays].date, date, 11);
	acc->days[acc->ndays++].count = 1;
}

static void
pack_status_counts(msgpack_packer *pk, const int64_t *by_status)
{
	int	i;

	msgpack_pack_map(pk, APPT__COUNT);
	for (i = 0; i < APPT__COUNT; i++)
		mp_pack_kv_int(pk, appt_status_name((enum appt_status)i), by_status[i]);
}

int
op_stats_appointments(struct req *r)
{
	struct stats_acc	*acc;
	struct appt_stats	 s;
	int64_t			 from, to, concluded;
	int			 i;

	if (args_only(r, "from", "to", NULL) != 0 ||
	    arg_int(r, "from", ARG_REQUIRED, 0, INT64_MAX / 2, &from, NULL) != 0 ||
	    arg_int(r, "to", ARG_REQUIRED, 0, INT64_MAX / 2, &to, NULL) != 0)
		return OP_FAIL;
	if (to <= from || to - from > STATS_RANGE_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "to: must be after from, within 366 days");
	acc = xcalloc(1, sizeof *acc);
	appt_stats(from, to, &s, stats_doctor_cb, stats_day_cb, acc);
	concluded = s.by_status[APPT_COMPLETED] + s.by_status[APPT_NO_SHOW];
	msgpack_pack_map(&r->pk, 8);
	mp_pack_kv_int(&r->pk, "from", from);
	mp_pack_kv_int(&r->pk, "to", to);
	mp_pack_kv_int(&r->pk, "total", s.total);
	mp_pack_str(&r->pk, "by_status");
	pack_status_counts(&r->pk, s.by_status);
	mp_pack_str(&r->pk, "by_doctor");
	msgpack_pack_array(&r->pk, (size_t)acc->ndoctors);
	for (i = 0; i < acc->ndoctors; i++) {
		msgpack_pack_map(&r->pk, 4);
		mp_pack_kv_int(&r->pk, "doctor_id", acc->doctors[i].id);
		mp_pack_kv_str(&r->pk, "name", acc->doctors[i].name);
		mp_pack_kv_int(&r->pk, "total", acc->doctors[i].total);
		mp_pack_str(&r->pk, "by_status");
		pack_status_counts(&r->pk, acc->doctors[i].by_status);
	}
	mp_pack_str(&r->pk, "by_day");
	msgpack_pack_array(&r->pk, (size_t)acc->ndays);
	for (i = 0; i < acc->ndays; i++) {
		msgpack_pack_map(&r->pk, 2);
		mp_pack_kv_str(&r->pk, "date", acc->days[i].date);
		mp_pack_kv_int(&r->pk, "count", acc->days[i].count);
	}
	mp_pack_str(&r->pk, "no_show_rate");
	msgpack_pack_double(&r->pk, concluded > 0 ?
	    (double)s.by_status[APPT_NO_SHOW] / (double)concluded : 0.0);
	mp_pack_str(&r->pk, "avg_wait_seconds");
	if (s.waits > 0)
		msgpack_pack_double(&r->pk, s.avg_wait);
	else
		msgpack_pack_nil(&r->pk);
	free(acc);
	return OP_OK;
}
