/* op-front-desk.c -- appt_types.list, appt_types.create, appt_types.update,
 * daily_cap.get, daily_cap.set, waitlist.join, waitlist.list,
 * waitlist.leave, recall.add, recall.due, recall.done. */
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "audit.h"
#include "clinic-time.h"
#include "db.h"
#include "doctors.h"
#include "front-desk.h"
#include "mp.h"
#include "ops.h"
#include "patients.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define WAITLIST_WINDOW_MAX	(366 * 86400)
#define RECALL_DAYS_AHEAD_MAX	(5 * 366)

/* --- who is asking --- */

/* An existing doctor named by key; 0 or -1 (reply set). */
static int
doctor_arg(struct req *r, const char *key, int flags, int64_t *id, int *present)
{
	struct doctor	d;
	int		has = 0;

	if (arg_int(r, key, flags, 1, INT64_MAX, id, &has) != 0)
		return -1;
	if (present != NULL)
		*present = has;
	if (!has && !(flags & ARG_REQUIRED))
		return 0;
	if (doctors_by_id(*id, &d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)*id);
	doctors_clear(&d);
	return 0;
}

/*
 * A list packed row by row: the array's length comes first on the wire but
 * is known only once the store has handed over every row, so the rows go to
 * a side buffer (rows.pk, the callbacks' argument) and rows_end appends them.
 */
struct rows {
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

static void
rows_start(struct rows *rw)
{
	msgpack_sbuffer_init(&rw->sb);
	msgpack_packer_init(&rw->pk, &rw->sb, msgpack_sbuffer_write);
}

/* Packs key: [the n rows] into the result. */
static void
rows_end(struct req *r, struct rows *rw, const char *key, int n)
{
	mp_pack_str(&r->pk, key);
	msgpack_pack_array(&r->pk, (size_t)n);
	msgpack_sbuffer_write(&r->result, rw->sb.data, rw->sb.size);
	msgpack_sbuffer_destroy(&rw->sb);
}

/* --- appt_types.list, appt_types.create, appt_types.update --- */

static void
pack_type_cb(const struct appt_type *t, void *arg)
{
	appt_types_pack(arg, t);
}

int
op_appt_types_list(struct req *r)
{
	int	all = 0, n;

	if (args_only(r, "include_retired", NULL) != 0 ||
	    arg_bool(r, "include_retired", ARG_NULLABLE, &all, NULL) != 0)
		return OP_FAIL;
	n = appt_types_list(all, NULL, NULL);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "types");
	msgpack_pack_array(&r->pk, (size_t)n);
	appt_types_list(all, pack_type_cb, &r->pk);
	return OP_OK;
}

/* Reads name, minutes, colour and active into t, each optional unless
 * required; 0 or -1. */
static int
type_fields(struct req *r, int required, struct appt_type *t)
{
	const char	*name = NULL, *colour = NULL;
	int64_t		 minutes = 0;
	int		 has_minutes = 0, active = 1, has_active = 0;
	int		 flags = required ? ARG_REQUIRED : ARG_NULLABLE;

	if (arg_str(r, "name", flags, 1, APPT_TYPE_NAME_MAX_CHARS, &name) != 0 ||
	    arg_int(r, "minutes", flags, APPT_TYPE_MINUTES_MIN, APPT_TYPE_MINUTES_MAX,
	    &minutes, &has_minutes) != 0 ||
	    arg_str(r, "colour", flags, 7, 7, &colour) != 0 ||
	    arg_bool(r, "active", ARG_NULLABLE, &active, &has_active) != 0)
		return -1;
	if (name != NULL) {
		if (appt_types_name_taken(name, t->id))
			return req_fail(r, ERR_CONFLICT, "an appointment type named "
			    "\"%s\" exists", name);
		strlcpy_mf(t->name, name, sizeof t->name);
	}
	if (has_minutes)
		t->minutes = (int)minutes;
	if (colour != NULL && appt_colour_normalize(colour, t->colour) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "colour: must be #rrggbb");
	if (has_active)
		t->active = active;
	return 0;
}

int
op_appt_types_create(struct req *r)
{
	struct appt_type	t;

	memset(&t, 0, sizeof t);
	t.active = 1;
	if (args_only(r, "name", "minutes", "colour", "active", NULL) != 0 ||
	    type_fields(r, 1, &t) != 0)
		return OP_FAIL;
	if (appt_types_count() >= APPT_TYPES_MAX)
		return req_fail(r, ERR_CONFLICT, "at most %d appointment types",
		    APPT_TYPES_MAX);
	t.created_at = t.updated_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (appt_types_insert(&t) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "appt_types.create", 0, NULL, "type %lld \"%s\" %d min %s",
	    (long long)t.id, t.name, t.minutes, t.colour);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "type");
	appt_types_pack(&r->pk, &t);
	return OP_OK;
}

int
op_appt_types_update(struct req *r)
{
	struct appt_type	t;
	int64_t			id;

	if (args_only(r, "id", "name", "minutes", "colour", "active", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	if (appt_types_by_id(id, &t) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no appointment type with id %lld",
		    (long long)id);
	if (type_fields(r, 0, &t) != 0)
		return OP_FAIL;
	t.updated_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (appt_types_update(&t) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "appt_types.update", 0, NULL, "type %lld \"%s\" %d min %s%s",
	    (long long)t.id, t.name, t.minutes, t.colour, t.active ? "" : " retired");
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "type");
	appt_types_pack(&r->pk, &t);
	return OP_OK;
}

/* --- daily_cap.get, daily_cap.set --- */

static void
pack_cap(struct req *r, const struct doctor_cap *c)
{
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "cap");
	msgpack_pack_map(&r->pk, 3);
	mp_pack_kv_int(&r->pk, "doctor_id", c->doctor_id);
	mp_pack_str(&r->pk, "daily_cap");
	if (c->daily_cap > 0)
		msgpack_pack_int(&r->pk, c->daily_cap);
	else
		msgpack_pack_nil(&r->pk);
	mp_pack_kv_int(&r->pk, "overbooks", c->daily_cap > 0 ? c->overbooks : 0);
}

int
op_daily_cap_get(struct req *r)
{
	struct doctor_cap	c;
	int64_t			doctor_id;

	if (args_only(r, "doctor_id", NULL) != 0 ||
	    doctor_arg(r, "doctor_id", ARG_REQUIRED, &doctor_id, NULL) != 0)
		return OP_FAIL;
	doctor_cap_get(doctor_id, &c);
	pack_cap(r, &c);
	return OP_OK;
}

int
op_daily_cap_set(struct req *r)
{
	struct doctor_cap	c;
	int64_t			doctor_id, cap = 0, overbooks = 0;
	int			has_cap;

	if (args_only(r, "doctor_id", "daily_cap", "overbooks", NULL) != 0 ||
	    doctor_arg(r, "doctor_id", ARG_REQUIRED, &doctor_id, NULL) != 0 ||
	    arg_int(r, "daily_cap", ARG_NULLABLE, 1, 1000, &cap, &has_cap) != 0 ||
	    arg_int(r, "overbooks", ARG_NULLABLE, 0, 100, &overbooks, NULL) != 0)
		return OP_FAIL;
	if (!has_cap && overbooks > 0)
		return req_fail(r, ERR_BAD_REQUEST, "overbooks: only with a daily_cap");
	memset(&c, 0, sizeof c);
	c.doctor_id = doctor_id;
	c.daily_cap = has_cap ? (int)cap : 0;
	c.overbooks = (int)overbooks;
	c.updated_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (doctor_cap_set(&c) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "daily_cap.set", 0, NULL, "doctor %lld: cap %d, %d overbooks",
	    (long long)doctor_id, c.daily_cap, c.overbooks);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_cap(r, &c);
	return OP_OK;
}

/* --- waitlist.join, waitlist.list, waitlist.leave --- */

static void
pack_waitlist_result(struct req *r, int64_t id)
{
	struct waitlist_entry	*w = xcalloc(1, sizeof *w);

	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "entry");
	if (waitlist_by_id(id, w) == 0)
		waitlist_pack(&r->pk, w);
	else
		msgpack_pack_nil(&r->pk);
	free(w);
}

int
op_waitlist_join(struct req *r)
{
	struct waitlist_entry	*w, *open;
	struct patient		 p;
	const char		*note = "";
	int64_t			 doctor_id, patient_id = 0, earliest, latest, mine;
	int			 has_patient;

	if (args_only(r, "doctor_id", "patient_id", "earliest", "latest", "note",
	    NULL) != 0 ||
	    doctor_arg(r, "doctor_id", ARG_REQUIRED, &doctor_id, NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient) != 0 ||
	    arg_int(r, "earliest", ARG_REQUIRED, 0, INT64_MAX / 2, &earliest, NULL) != 0 ||
	    arg_int(r, "latest", ARG_REQUIRED, 0, INT64_MAX / 2, &latest, NULL) != 0 ||
	    arg_str(r, "note", ARG_NULLABLE | ARG_MULTILINE, 0, WAITLIST_NOTE_MAX_CHARS,
	    &note) != 0)
		return OP_FAIL;
	switch (req_role(r)) {
	case ROLE_PATIENT:
		if ((mine = access_own_patient(r)) == 0)
			return req_fail(r, ERR_FORBIDDEN, "no patient record for this login");
		if (has_patient && patient_id != mine)
			return req_fail(r, ERR_FORBIDDEN, "patients join for themselves only");
		patient_id = mine;
		break;
	case ROLE_DOCTOR:
		if (access_own_doctor(r) != doctor_id)
			return req_fail(r, ERR_FORBIDDEN, "doctors keep their own wait list only");
		/* FALLTHROUGH */
	default:
		if (!has_patient)
			return req_fail(r, ERR_BAD_REQUEST, "patient_id: required");
		break;
	}
	if (latest <= earliest)
		return req_fail(r, ERR_BAD_REQUEST, "latest: must be after earliest");
	if (latest <= r->now)
		return req_fail(r, ERR_BAD_REQUEST, "latest: must be in the future");
	if (latest - earliest > WAITLIST_WINDOW_MAX || latest - r->now > WAITLIST_WINDOW_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "latest: at most 366 days ahead");
	if (patients_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)patient_id);
	open = xcalloc(1, sizeof *open);
	if (waitlist_find_open(doctor_id, patient_id, open) == 0) {
		int64_t	id = open->id;

		free(open);
		return req_fail(r, ERR_CONFLICT, "already on this doctor's wait list "
		    "(entry %lld)", (long long)id);
	}
	free(open);
	w = xcalloc(1, sizeof *w);
	w->doctor_id = doctor_id;
	w->patient_id = patient_id;
	w->earliest = earliest;
	w->latest = latest;
	strlcpy_mf(w->note, note != NULL ? note : "", sizeof w->note);
	w->created_by = req_user_id(r);
	w->created_at = r->now;
	if (db_begin() != 0) {
		free(w);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (waitlist_insert(w) != 0) {
		db_rollback();
		free(w);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "waitlist.join", patient_id, NULL, "entry %lld doctor %lld "
	    "[%lld, %lld)", (long long)w->id, (long long)doctor_id,
	    (long long)earliest, (long long)latest);
	if (db_commit() != 0) {
		free(w);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	pack_waitlist_result(r, w->id);
	free(w);
	return OP_OK;
}

static void
pack_waitlist_cb(const struct waitlist_entry *w, void *arg)
{
	waitlist_pack(arg, w);
}

int
op_waitlist_list(struct req *r)
{
	struct rows	rw;
	int64_t		doctor_id = 0, patient_id = 0, mine;
	int		has_doctor, has_patient, all = 0, n;

	if (args_only(r, "doctor_id", "patient_id", "include_closed", NULL) != 0 ||
	    doctor_arg(r, "doctor_id", ARG_NULLABLE, &doctor_id, &has_doctor) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient) != 0 ||
	    arg_bool(r, "include_closed", ARG_NULLABLE, &all, NULL) != 0)
		return OP_FAIL;
	switch (req_role(r)) {
	case ROLE_PATIENT:
		mine = access_own_patient(r);
		if (mine == 0 || (has_patient && patient_id != mine))
			return req_fail(r, ERR_FORBIDDEN, "patients see their own entries only");
		patient_id = mine;
		break;
	case ROLE_DOCTOR:
		mine = access_own_doctor(r);
		if (mine == 0 || (has_doctor && doctor_id != mine))
			return req_fail(r, ERR_FORBIDDEN, "doctors see their own wait list only");
		doctor_id = mine;
		break;
	default:
		break;
	}
	rows_start(&rw);
	n = waitlist_list(doctor_id, patient_id, all, pack_waitlist_cb, &rw.pk);
	msgpack_pack_map(&r->pk, 1);
	rows_end(r, &rw, "entries", n);
	return OP_OK;
}

int
op_waitlist_leave(struct req *r)
{
	struct waitlist_entry	*w;
	int64_t			 id;
	int			 allowed;

	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	w = xcalloc(1, sizeof *w);
	if (waitlist_by_id(id, w) != 0) {
		free(w);
		/* Patients and doctors learn nothing from ids. */
		if (req_role(r) == ROLE_PATIENT || req_role(r) == ROLE_DOCTOR)
			return req_fail(r, ERR_FORBIDDEN, "not your wait list entry");
		return req_fail(r, ERR_NOT_FOUND, "no wait list entry with id %lld",
		    (long long)id);
	}
	switch (req_role(r)) {
	case ROLE_PATIENT:
		allowed = w->patient_user_id != 0 && w->patient_user_id == req_user_id(r);
		break;
	case ROLE_DOCTOR:
		allowed = w->doctor_user_id == req_user_id(r);
		break;
	default:
		allowed = 1;
		break;
	}
	if (!allowed) {
		free(w);
		return req_fail(r, ERR_FORBIDDEN, "not your wait list entry");
	}
	if (w->status == WL_LEFT) {
		free(w);
		return req_fail(r, ERR_CONFLICT, "already left the wait list");
	}
	if (w->status == WL_BOOKED) {
		int64_t	appt_id = w->appointment_id;

		free(w);
		return req_fail(r, ERR_CONFLICT, "already booked off the wait list "
		    "(appointment %lld)", (long long)appt_id);
	}
	if (db_begin() != 0) {
		free(w);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (waitlist_leave(id, r->now) != 0) {
		db_rollback();
		free(w);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "waitlist.leave", w->patient_id, NULL, "entry %lld", (long long)id);
	free(w);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_waitlist_result(r, id);
	return OP_OK;
}

/* --- recall.add, recall.due, recall.done --- */

static void
pack_recall_result(struct req *r, int64_t id)
{
	struct recall	*c = xcalloc(1, sizeof *c);

	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "recall");
	if (recall_by_id(id, c) == 0)
		recall_pack(&r->pk, c);
	else
		msgpack_pack_nil(&r->pk);
	free(c);
}

int
op_recall_add(struct req *r)
{
	struct civil_date	 due, today;
	struct patient		 p;
	struct recall		*c;
	const char		*due_by, *reason;
	int64_t			 patient_id, doctor_id = 0;
	int			 has_doctor;

	if (args_only(r, "patient_id", "due_by", "reason", "doctor_id", NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_REQUIRED, 1, INT64_MAX, &patient_id, NULL) != 0 ||
	    arg_str(r, "due_by", ARG_REQUIRED, 10, 10, &due_by) != 0 ||
	    arg_str(r, "reason", ARG_REQUIRED | ARG_MULTILINE, 1, RECALL_REASON_MAX_CHARS,
	    &reason) != 0 ||
	    doctor_arg(r, "doctor_id", ARG_NULLABLE, &doctor_id, &has_doctor) != 0)
		return OP_FAIL;
	if (date_parse(due_by, &due) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "due_by: must be a date YYYY-MM-DD");
	utc_to_local(r->now, &today, NULL);
	if (date_compare(&due, &today) < 0)
		return req_fail(r, ERR_BAD_REQUEST, "due_by: must not be in the past");
	if (date_to_days(&due) - date_to_days(&today) > RECALL_DAYS_AHEAD_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "due_by: at most %d days ahead",
		    RECALL_DAYS_AHEAD_MAX);
	if (req_role(r) == ROLE_DOCTOR) {
		if (has_doctor && doctor_id != access_own_doctor(r))
			return req_fail(r, ERR_FORBIDDEN, "doctors recall to themselves only");
		doctor_id = access_own_doctor(r);
	}
	if (patients_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)patient_id);
	c = xcalloc(1, sizeof *c);
	c->patient_id = patient_id;
	c->doctor_id = doctor_id;
	date_format(&due, c->due_by);
	strlcpy_mf(c->reason, reason, sizeof c->reason);
	c->created_by = req_user_id(r);
	c->created_at = r->now;
	if (db_begin() != 0) {
		free(c);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (recall_insert(c) != 0) {
		db_rollback();
		free(c);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "recall.add", patient_id, NULL, "recall %lld due by %s",
	    (long long)c->id, c->due_by);
	if (db_commit() != 0) {
		free(c);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	pack_recall_result(r, c->id);
	free(c);
	return OP_OK;
}

static void
pack_recall_cb(const struct recall *c, void *arg)
{
	recall_pack(arg, c);
}

int
op_recall_due(struct req *r)
{
	struct rows		 rw;
	struct civil_date	 before;
	const char		*arg = NULL;
	char			 date[11];
	int64_t			 limit = 100;
	int			 n;

	if (args_only(r, "before", "limit", NULL) != 0 ||
	    arg_str(r, "before", ARG_NULLABLE, 10, 10, &arg) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, RECALL_LIST_MAX, &limit, NULL) != 0)
		return OP_FAIL;
	if (arg != NULL) {
		if (date_parse(arg, &before) != 0)
			return req_fail(r, ERR_BAD_REQUEST, "before: must be a date YYYY-MM-DD");
	} else
		utc_to_local(r->now, &before, NULL);
	date_format(&before, date);
	rows_start(&rw);
	n = recall_due(date, (int)limit, pack_recall_cb, &rw.pk);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_kv_str(&r->pk, "before", date);
	rows_end(r, &rw, "recalls", n);
	return OP_OK;
}

int
op_recall_done(struct req *r)
{
	struct recall	*c;
	int64_t		 id;

	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	c = xcalloc(1, sizeof *c);
	if (recall_by_id(id, c) != 0) {
		free(c);
		return req_fail(r, ERR_NOT_FOUND, "no recall with id %lld", (long long)id);
	}
	if (c->done_at != 0) {
		free(c);
		return req_fail(r, ERR_CONFLICT, "recall %lld is already done", (long long)id);
	}
	if (db_begin() != 0) {
		free(c);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (recall_done(id, req_user_id(r), r->now) != 0) {
		db_rollback();
		free(c);
		return req_fail(r, ERR_CONFLICT, "recall %lld is already done", (long long)id);
	}
	audit_req(r, "recall.done", c->patient_id, NULL, "recall %lld", (long long)id);
	free(c);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_recall_result(r, id);
	return OP_OK;
}
