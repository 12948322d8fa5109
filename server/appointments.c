/* appointments.c -- appointments and their status workflow. Other modules
 * call these, not its SQL. */
#include <string.h>

#include "appointments.h"
#include "db.h"
#include "mp.h"
#include "server.h"
#include "util.h"

static const char *status_names[APPT__COUNT] = {
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

/* The workflow: transitions[from] is the set of statuses it may move to. */
#define T(s)	(1u << (s))
static const unsigned transitions[APPT__COUNT] = {
	[APPT_REQUESTED] = T(APPT_APPROVED) | T(APPT_REJECTED) | T(APPT_CANCELLED) |
	    T(APPT_RESCHEDULED),
	[APPT_APPROVED] = T(APPT_CHECKED_IN) | T(APPT_CANCELLED) | T(APPT_NO_SHOW) |
	    T(APPT_RESCHEDULED),
	[APPT_CHECKED_IN] = T(APPT_IN_PROGRESS) | T(APPT_CANCELLED),
	[APPT_IN_PROGRESS] = T(APPT_COMPLETED),
	/* rejected, cancelled, completed, no_show and rescheduled are final. */
};
#undef T

const char *
appt_status_name(enum appt_status s)
{
	return (unsigned)s < APPT__COUNT ? status_names[s] : "unknown";
}

int
appt_status_from_name(const char *name)
{
	int	i;

	for (i = 0; i < APPT__COUNT; i++) {
		if (strcmp(status_names[i], name) == 0)
			return i;
	}
	return -1;
}

int
appt_status_active(enum appt_status s)
{
	return s == APPT_REQUESTED || s == APPT_APPROVED || s == APPT_CHECKED_IN ||
	    s == APPT_IN_PROGRESS;
}

int
appt_transition_allowed(enum appt_status from, enum appt_status to)
{
	if ((unsigned)from >= APPT__COUNT || (unsigned)to >= APPT__COUNT)
		return 0;
	return (transitions[from] & (1u << to)) != 0;
}

#define APPT_SELECT "SELECT a.id, a.doctor_id, a.patient_id, a.starts_at, " \
	"a.ends_at, a.status, a.reason, a.status_note, a.created_by, a.created_at, " \
	"a.updated_at, a.checked_in_at, a.checked_in_by, a.started_at, " \
	"a.completed_at, a.rescheduled_from, a.rescheduled_to, du.full_name, " \
	"p.full_name, d.user_id, p.user_id, (SELECT count(*) FROM appointments n " \
	"WHERE n.patient_id = a.patient_id AND n.status = 'no_show'), " \
	"a.type_id, t.name, t.colour, a.overbook, a.series_id " \
	"FROM appointments a " \
	"LEFT JOIN appointment_types t ON t.id = a.type_id " \
	"JOIN doctors d ON d.id = a.doctor_id JOIN users du ON du.id = d.user_id " \
	"JOIN patients p ON p.id = a.patient_id "

static void
appt_from_row(sqlite3_stmt *st, struct appt *a)
{
	const char	*s;

	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, 0);
	a->doctor_id = sqlite3_column_int64(st, 1);
	a->patient_id = sqlite3_column_int64(st, 2);
	a->starts_at = sqlite3_column_int64(st, 3);
	a->ends_at = sqlite3_column_int64(st, 4);
	a->status = (enum appt_status)appt_status_from_name(db_col_text(st, 5));
	strlcpy_mf(a->reason, db_col_text(st, 6), sizeof a->reason);
	if ((s = db_col_text(st, 7)) != NULL)
		strlcpy_mf(a->status_note, s, sizeof a->status_note);
	a->created_by = sqlite3_column_int64(st, 8);
	a->created_at = sqlite3_column_int64(st, 9);
	a->updated_at = sqlite3_column_int64(st, 10);
	a->checked_in_at = sqlite3_column_int64(st, 11);
	a->checked_in_by = sqlite3_column_int64(st, 12);
	a->started_at = sqlite3_column_int64(st, 13);
	a->completed_at = sqlite3_column_int64(st, 14);
	a->rescheduled_from = sqlite3_column_int64(st, 15);
	a->rescheduled_to = sqlite3_column_int64(st, 16);
	strlcpy_mf(a->doctor_name, db_col_text(st, 17), sizeof a->doctor_name);
	strlcpy_mf(a->patient_name, db_col_text(st, 18), sizeof a->patient_name);
	a->doctor_user_id = sqlite3_column_int64(st, 19);
	a->patient_user_id = sqlite3_column_int64(st, 20);
	a->patient_no_shows = sqlite3_column_int64(st, 21);
	a->type_id = sqlite3_column_int64(st, 22);
	if ((s = db_col_text(st, 23)) != NULL)
		strlcpy_mf(a->type_name, s, sizeof a->type_name);
	if ((s = db_col_text(st, 24)) != NULL)
		strlcpy_mf(a->colour, s, sizeof a->colour);
	a->overbook = sqlite3_column_int(st, 25) != 0;
	a->series_id = sqlite3_column_int64(st, 26);
}

int
appt_by_id(int64_t id, struct appt *a)
{
	static const char *sql = APPT_SELECT "WHERE a.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found = 0;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		appt_from_row(st, a);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

/* The first active appointment overlapping [from, to) and starting after
 * from - back, by the doctor's or the patient's index; 0 when none, -1 when
 * the read failed. (A reschedule frees the old slot before it books the
 * new one, so no appointment needs leaving out.) */
static int64_t
overlap_find(const char *sql, int64_t key, int64_t from, int64_t to,
    int64_t back)
{
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 id = 0;

	sqlite3_bind_int64(st, 1, key);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	sqlite3_bind_int64(st, 4, back);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		id = sqlite3_column_int64(st, 0);
		break;
	case SQLITE_DONE:
		break;
	default:
		/* A read that failed must not pass for "no overlap". */
		db_log_error("overlap check");
		id = -1;
	}
	sqlite3_reset(st);
	return id;
}

/*
 * A patient's appointments last at most a day (the longest visit type or
 * slot is hours), so a day's look-back finds every overlap of theirs; they
 * have few. A doctor's day is full of them: the look-back is span_bound's,
 * and appointments_active_span (migration 015) holds their ends and
 * statuses, so the walk never seeks into the table.
 */
static const char *overlap_doctor_sql = "SELECT id FROM appointments "
    "INDEXED BY appointments_active_span "
    "WHERE doctor_id = ?1 AND starts_at > ?2 - ?4 AND starts_at < ?3 "
    "AND ends_at > ?2 AND " APPT_ACTIVE_SQL " LIMIT 1";
static const char *overlap_patient_sql = "SELECT id FROM appointments "
    "WHERE patient_id = ?1 AND starts_at > ?2 - ?4 AND starts_at < ?3 "
    "AND ends_at > ?2 AND " APPT_ACTIVE_SQL " LIMIT 1";
#define PATIENT_LOOK_BACK	86400

/*
 * The doctor's walk looks back from a booking's start as far as the
 * doctor's longest active appointment, not a whole day: on a full calendar
 * the day before a start holds some 25 appointments, and walking them was a
 * fifteenth of a booking's instructions (11k of 160k, callgrind, 20
 * connections x 50 in flight). An active appointment starting at s and
 * lasting L overlaps [from, to) exactly when s < to and s > from - L, so any
 * bound at least as long as every L finds them all.
 *
 * The bound kept for a doctor is never shorter than the truth:
 * - it is read from appointments_active_span, whose rows are the active
 *   appointments, with their ends, in the caller's write transaction;
 * - an appointment is active only from its insert (the workflow never moves
 *   one back into an active status) and its times never change, so
 *   appt_insert raising the bound keeps it; a rolled-back insert leaves it
 *   longer than need be, which costs a longer walk, never a missed overlap;
 * - another process's commit (an operator's sqlite3 shell) moves PRAGMA
 *   data_version, which every lookup compares, and drops them all; a store
 *   opened anew (db_serial) starts empty.
 */
#define SPANS_KEPT	512	/* a power of two, above the clinic's doctors */

struct kept_span {
	int64_t	doctor_id;	/* 0: nothing kept here */
	int64_t	span;		/* seconds, at least the longest active one */
};

static struct kept_span	*spans;
static struct db_seen	 spans_seen;

static struct kept_span *
span_slot(int64_t doctor_id)
{
	return &spans[((uint64_t)doctor_id * 0x9e3779b97f4a7c15ULL >> 32) &
	    (SPANS_KEPT - 1)];
}

/* The look-back of the doctor's overlap walk, in seconds; -1 if the store
 * could not be read. */
static int64_t
span_bound(int64_t doctor_id)
{
	static const char *max_sql = "SELECT max(ends_at - starts_at) "
	    "FROM appointments INDEXED BY appointments_active_span "
	    "WHERE doctor_id = ? AND " APPT_ACTIVE_SQL;
	struct kept_span	*k;
	sqlite3_stmt		*st;
	int64_t			 span = -1;
	int			 moved;

	if ((moved = db_seen_moved(&spans_seen)) < 0)
		return -1;
	if (spans == NULL)
		spans = xcalloc(SPANS_KEPT, sizeof *spans);
	else if (moved)
		memset(spans, 0, SPANS_KEPT * sizeof *spans);
	k = span_slot(doctor_id);
	if (k->doctor_id == doctor_id)
		return k->span;
	st = db_prepare(max_sql);
	sqlite3_bind_int64(st, 1, doctor_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		span = sqlite3_column_int64(st, 0);	/* NULL, none: 0 */
	if (sqlite3_reset(st) != SQLITE_OK || span < 0)
		return -1;
	k->doctor_id = doctor_id;
	k->span = span;
	return span;
}

/* An active appointment of span seconds is in: the doctor's bound, if kept,
 * grows to it. */
static void
span_raise(int64_t doctor_id, int64_t span)
{
	struct kept_span	*k;

	if (spans == NULL || spans_seen.serial != db_serial())
		return;
	k = span_slot(doctor_id);
	if (k->doctor_id == doctor_id && k->span < span)
		k->span = span;
}

static int
appt_record_event(int64_t appt_id, int64_t now, int64_t actor_id,
    const char *from, const char *to, const char *note)
{
	static const char *sql = "INSERT INTO appointment_events (appointment_id, "
	    "ts, actor_id, from_status, to_status, note) VALUES (?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, appt_id);
	sqlite3_bind_int64(st, 2, now);
	db_bind_opt_int(st, 3, actor_id != 0, actor_id);
	db_bind_text(st, 4, from);
	db_bind_text(st, 5, to);
	db_bind_text(st, 6, note != NULL && *note != '\0' ? note : NULL);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

int
appt_insert(struct appt *a, int64_t *conflict_id)
{
	static const char *sql = "INSERT INTO appointments (doctor_id, patient_id, "
	    "starts_at, ends_at, status, reason, created_by, created_at, updated_at, "
	    "rescheduled_from, type_id, overbook, series_id) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st;
	int64_t		 back;
	int		 rc;

	*conflict_id = 0;
	if (appt_status_active(a->status)) {
		if ((back = span_bound(a->doctor_id)) < 0)
			*conflict_id = -1;
		else if ((*conflict_id = overlap_find(overlap_doctor_sql,
		    a->doctor_id, a->starts_at, a->ends_at, back)) == 0)
			*conflict_id = overlap_find(overlap_patient_sql,
			    a->patient_id, a->starts_at, a->ends_at,
			    PATIENT_LOOK_BACK);
		if (*conflict_id < 0) {
			*conflict_id = 0;
			return -2;
		}
		if (*conflict_id != 0)
			return -1;
	}
	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, a->doctor_id);
	sqlite3_bind_int64(st, 2, a->patient_id);
	sqlite3_bind_int64(st, 3, a->starts_at);
	sqlite3_bind_int64(st, 4, a->ends_at);
	db_bind_text(st, 5, appt_status_name(a->status));
	db_bind_text(st, 6, a->reason);
	db_bind_opt_int(st, 7, a->created_by != 0, a->created_by);
	sqlite3_bind_int64(st, 8, a->created_at);
	sqlite3_bind_int64(st, 9, a->updated_at);
	db_bind_opt_int(st, 10, a->rescheduled_from != 0, a->rescheduled_from);
	db_bind_opt_int(st, 11, a->type_id != 0, a->type_id);
	sqlite3_bind_int(st, 12, a->overbook != 0);
	db_bind_opt_int(st, 13, a->series_id != 0, a->series_id);
	rc = db_step_done(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -1;	/* the partial unique index: same doctor, same start */
	if (rc != SQLITE_DONE)
		return -2;
	a->id = db_last_id();
	if (appt_status_active(a->status))
		span_raise(a->doctor_id, a->ends_at - a->starts_at);
	if (appt_record_event(a->id, a->created_at, a->created_by, NULL,
	    appt_status_name(a->status), NULL) != 0)
		return -2;
	return 0;
}

int
appt_set_status(struct appt *a, enum appt_status to, int64_t actor_id,
    const char *note, int64_t now)
{
	static const char *sql = "UPDATE appointments SET status = ?, "
	    "status_note = ?, updated_at = ? WHERE id = ? AND status = ?";
	sqlite3_stmt	*st;
	enum appt_status from = a->status;

	if (!appt_transition_allowed(from, to))
		return -1;
	st = db_prepare(sql);
	db_bind_text(st, 1, appt_status_name(to));
	db_bind_text(st, 2, note != NULL && *note != '\0' ? note : NULL);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, a->id);
	db_bind_text(st, 5, appt_status_name(from));
	if (db_step_done(st) != SQLITE_DONE)
		return -2;
	if (db_changes() != 1)
		return -1;	/* moved on under us */
	if (appt_record_event(a->id, now, actor_id, appt_status_name(from),
	    appt_status_name(to), note) != 0)
		return -2;
	a->status = to;
	a->updated_at = now;
	strlcpy_mf(a->status_note, note != NULL ? note : "", sizeof a->status_note);
	return 0;
}

int
appt_save_times(const struct appt *a)
{
	static const char *sql = "UPDATE appointments SET checked_in_at = ?, "
	    "checked_in_by = ?, started_at = ?, completed_at = ?, "
	    "rescheduled_to = ? WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	db_bind_opt_int(st, 1, a->checked_in_at != 0, a->checked_in_at);
	db_bind_opt_int(st, 2, a->checked_in_by != 0, a->checked_in_by);
	db_bind_opt_int(st, 3, a->started_at != 0, a->started_at);
	db_bind_opt_int(st, 4, a->completed_at != 0, a->completed_at);
	db_bind_opt_int(st, 5, a->rescheduled_to != 0, a->rescheduled_to);
	sqlite3_bind_int64(st, 6, a->id);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

int
appt_set_series(int64_t id, int64_t series_id)
{
	static const char *sql = "UPDATE appointments SET series_id = ? WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, series_id);
	sqlite3_bind_int64(st, 2, id);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

void
appt_pack(msgpack_packer *pk, const struct appt *a)
{
	msgpack_pack_map(pk, 25);
	mp_pack_kv_int(pk, "id", a->id);
	mp_pack_kv_int(pk, "doctor_id", a->doctor_id);
	mp_pack_kv_str(pk, "doctor_name", a->doctor_name);
	mp_pack_kv_int(pk, "patient_id", a->patient_id);
	mp_pack_kv_str(pk, "patient_name", a->patient_name);
	mp_pack_kv_int(pk, "starts_at", a->starts_at);
	mp_pack_kv_int(pk, "ends_at", a->ends_at);
	mp_pack_kv_str(pk, "status", appt_status_name(a->status));
	mp_pack_kv_str(pk, "reason", a->reason);
	mp_pack_kv_str(pk, "status_note", a->status_note[0] ? a->status_note : NULL);
	mp_pack_kv_opt_int(pk, "created_by", a->created_by);
	mp_pack_kv_int(pk, "created_at", a->created_at);
	mp_pack_kv_int(pk, "updated_at", a->updated_at);
	mp_pack_kv_opt_int(pk, "checked_in_at", a->checked_in_at);
	mp_pack_kv_opt_int(pk, "started_at", a->started_at);
	mp_pack_kv_opt_int(pk, "completed_at", a->completed_at);
	mp_pack_kv_opt_int(pk, "rescheduled_from", a->rescheduled_from);
	mp_pack_kv_opt_int(pk, "rescheduled_to", a->rescheduled_to);
	/* The desk sees at a glance who tends not to come. */
	mp_pack_kv_int(pk, "no_show_count", a->patient_no_shows);
	mp_pack_kv_bool(pk, "no_show_flagged", appt_no_show_flagged(a->patient_no_shows));
	/* The kind of visit and its board colour; overbooks stand out. */
	mp_pack_kv_opt_int(pk, "type_id", a->type_id);
	mp_pack_kv_str(pk, "type_name", a->type_name[0] ? a->type_name : NULL);
	mp_pack_kv_str(pk, "colour", a->colour[0] ? a->colour : NULL);
	mp_pack_kv_bool(pk, "overbook", a->overbook);
	mp_pack_kv_opt_int(pk, "series_id", a->series_id);
}

int
appt_no_show_flagged(int64_t no_shows)
{
	return server.cfg.no_show_flag_threshold > 0 &&
	    no_shows >= server.cfg.no_show_flag_threshold;
}

int64_t
appt_no_show_count(int64_t patient_id)
{
	static const char *sql = "SELECT count(*) FROM appointments "
	    "WHERE patient_id = ? AND status = 'no_show'";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 n = 0;

	sqlite3_bind_int64(st, 1, patient_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

void
appt_day_load(int64_t doctor_id, int64_t from, int64_t to, int64_t *total,
    int64_t *overbooks)
{
	static const char *sql = "SELECT count(*), coalesce(sum(overbook), 0) "
	    "FROM appointments WHERE doctor_id = ? AND starts_at >= ? AND "
	    "starts_at < ? AND status != 'rejected' AND status != 'cancelled' AND "
	    "status != 'rescheduled'";
	sqlite3_stmt	*st = db_prepare(sql);

	*total = *overbooks = 0;
	sqlite3_bind_int64(st, 1, doctor_id);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*total = sqlite3_column_int64(st, 0);
		*overbooks = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
}

void
appt_busy(int64_t doctor_id, int64_t from, int64_t to,
    void (*fn)(int64_t, int64_t, void *), void *arg)
{
	static const char *sql = "SELECT starts_at, ends_at FROM appointments "
	    "INDEXED BY appointments_active_span "
	    "WHERE doctor_id = ?1 AND starts_at > ?2 - 86400 AND starts_at < ?3 "
	    "AND ends_at > ?2 AND " APPT_ACTIVE_SQL;
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, doctor_id);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	while (sqlite3_step(st) == SQLITE_ROW)
		fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), arg);
	sqlite3_reset(st);
}

int
appt_doctor_has_patient(int64_t doctor_id, int64_t patient_id)
{
	static const char *sql = "SELECT 1 FROM appointments WHERE patient_id = ? "
	    "AND doctor_id = ? LIMIT 1";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 yes;

	sqlite3_bind_int64(st, 1, patient_id);
	sqlite3_bind_int64(st, 2, doctor_id);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return yes;
}

static void
appt_list_bind(sqlite3_stmt *st, const struct appt_filter *f, int64_t key)
{
	sqlite3_bind_int64(st, 1, key);
	sqlite3_bind_int64(st, 2, f->from);
	sqlite3_bind_int64(st, 3, f->to);
	if (f->status >= 0)
		db_bind_text(st, 4, appt_status_name((enum appt_status)f->status));
}

/* A list's WHERE, one per access path, so each uses its own index. */
#define LIST_BY_DOCTOR "WHERE a.doctor_id = ?1 AND a.starts_at >= ?2 AND " \
	"a.starts_at < ?3 AND (?4 IS NULL OR a.status = ?4) " \
	"AND (?7 IS NULL OR a.patient_id = ?7) " \
	"ORDER BY a.starts_at, a.id LIMIT ?5 OFFSET ?6"
#define LIST_BY_PATIENT "WHERE a.patient_id = ?1 AND a.starts_at >= ?2 AND " \
	"a.starts_at < ?3 AND (?4 IS NULL OR a.status = ?4) " \
	"ORDER BY a.starts_at, a.id LIMIT ?5 OFFSET ?6"
#define LIST_BY_TIME "WHERE ?1 = 0 AND a.starts_at >= ?2 AND " \
	"a.starts_at < ?3 AND (?4 IS NULL OR a.status = ?4) " \
	"ORDER BY a.starts_at, a.id LIMIT ?5 OFFSET ?6"

/*
 * APPT_SELECT's columns for appt_list_pack, at the same places, without
 * what is the same for many rows: the doctor's name (NULL at 17) and the
 * type's name and colour (23, 24), which appt_list_pack looks up once per
 * doctor and type; and the patient's no-shows from the count migration 016
 * keeps on the patient's row instead of a seek into appointments_no_shows.
 * What appt_pack does not show (checked_in_by, the user ids) is NULL too.
 */
#define APPT_LIST_SELECT "SELECT a.id, a.doctor_id, a.patient_id, a.starts_at, " \
	"a.ends_at, a.status, a.reason, a.status_note, a.created_by, a.created_at, " \
	"a.updated_at, a.checked_in_at, NULL, a.started_at, " \
	"a.completed_at, a.rescheduled_from, a.rescheduled_to, NULL, " \
	"p.full_name, NULL, NULL, p.no_show_count, " \
	"a.type_id, NULL, NULL, a.overbook, a.series_id " \
	"FROM appointments a JOIN patients p ON p.id = a.patient_id "

/* The statement of a list, bound and ready to step; the caller resets it.
 * packed: APPT_LIST_SELECT's columns, else APPT_SELECT's. */
static sqlite3_stmt *
appt_list_stmt(const struct appt_filter *f, int packed)
{
	static const char *by_doctor = APPT_SELECT LIST_BY_DOCTOR;
	static const char *by_patient = APPT_SELECT LIST_BY_PATIENT;
	static const char *by_time = APPT_SELECT LIST_BY_TIME;
	static const char *packed_by_doctor = APPT_LIST_SELECT LIST_BY_DOCTOR;
	static const char *packed_by_patient = APPT_LIST_SELECT LIST_BY_PATIENT;
	static const char *packed_by_time = APPT_LIST_SELECT LIST_BY_TIME;
	sqlite3_stmt	*st;

	if (f->doctor_id != 0) {
		st = db_prepare(packed ? packed_by_doctor : by_doctor);
		appt_list_bind(st, f, f->doctor_id);
		db_bind_opt_int(st, 7, f->patient_id != 0, f->patient_id);
	} else if (f->patient_id != 0) {
		st = db_prepare(packed ? packed_by_patient : by_patient);
		appt_list_bind(st, f, f->patient_id);
	} else {
		st = db_prepare(packed ? packed_by_time : by_time);
		appt_list_bind(st, f, 0);
	}
	sqlite3_bind_int64(st, 5, f->limit);
	sqlite3_bind_int64(st, 6, f->offset);
	return st;
}

int64_t
appt_list(const struct appt_filter *f, void (*fn)(const struct appt *, void *),
    void *arg)
{
	sqlite3_stmt	*st = appt_list_stmt(f, 0);
	struct appt	 a;
	int64_t		 n = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		appt_from_row(st, &a);
		fn(&a, arg);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/*
 * The list's own packer: for the row st is on, the bytes appt_pack writes
 * for appt_from_row's struct, straight from the statement into *sb. A
 * doctor's day is some twenty rows of 25 keys; through struct appt and a
 * writer call for each key and each value, packing cost as much as the
 * query (test_read_cache compares the two on every field).
 */

/* Room a row may take besides its six strings: the map header, 25 keys
 * (290 bytes), 25 values of at most 9 bytes, the status (12 at most) and
 * a string header of 5 bytes for each of the six, with room to spare. */
#define ROW_FIXED_MAX	(512 + 25 * 9 + 6 * 5)

#define PUT_KEY(p, k) do {						\
	*(p)++ = (char)(0xa0 | (sizeof(k) - 1));			\
	memcpy((p), (k), sizeof(k) - 1);				\
	(p) += sizeof(k) - 1;						\
} while (0)

static char *
put_be(char *p, uint64_t v, int bytes)
{
	while (bytes-- > 0)
		*p++ = (char)(v >> (8 * bytes));
	return p;
}

/* msgpack_pack_int64's encoding, the smallest that holds v. */
static char *
put_int(char *p, int64_t v)
{
	if (v < -(1LL << 5)) {
		if (v < -(1LL << 15)) {
			if (v < -(1LL << 31)) {
				*p++ = (char)0xd3;
				return put_be(p, (uint64_t)v, 8);
			}
			*p++ = (char)0xd2;
			return put_be(p, (uint64_t)v, 4);
		}
		if (v < -(1 << 7)) {
			*p++ = (char)0xd1;
			return put_be(p, (uint64_t)v, 2);
		}
		*p++ = (char)0xd0;
		return put_be(p, (uint64_t)v, 1);
	}
	if (v < (1 << 7)) {
		*p++ = (char)v;
		return p;
	}
	if (v < (1LL << 16)) {
		if (v < (1 << 8)) {
			*p++ = (char)0xcc;
			return put_be(p, (uint64_t)v, 1);
		}
		*p++ = (char)0xcd;
		return put_be(p, (uint64_t)v, 2);
	}
	if (v < (1LL << 32)) {
		*p++ = (char)0xce;
		return put_be(p, (uint64_t)v, 4);
	}
	*p++ = (char)0xcf;
	return put_be(p, (uint64_t)v, 8);
}

/* mp_pack_kv_opt_int's value: nil for 0. */
static char *
put_opt_int(char *p, int64_t v)
{
	if (v == 0) {
		*p++ = (char)0xc0;
		return p;
	}
	return put_int(p, v);
}

/* A string of len bytes (msgpack_pack_str's header), or nil for NULL. */
static char *
put_str(char *p, const char *s, size_t len)
{
	if (s == NULL) {
		*p++ = (char)0xc0;
		return p;
	}
	if (len < 32)
		*p++ = (char)(0xa0 | len);
	else if (len < 256) {
		*p++ = (char)0xd9;
		p = put_be(p, len, 1);
	} else if (len < 65536) {
		*p++ = (char)0xda;
		p = put_be(p, len, 2);
	} else {
		*p++ = (char)0xdb;
		p = put_be(p, len, 4);
	}
	memcpy(p, s, len);
	return p + len;
}

/* A text column as appt_from_row keeps it: cut to a field of size bytes,
 * "" for NULL. */
static const char *
row_text(sqlite3_stmt *st, int col, size_t size, size_t *len)
{
	const char	*s = db_col_text(st, col);

	if (s == NULL)
		s = "";
	*len = strlen(s);
	if (*len > size - 1)
		*len = size - 1;
	return s;
}

/*
 * The doctor's name and the type's name and colour of the rows a list packs,
 * looked up when they change from one row to the next (a doctor's day: once)
 * rather than joined into every row; kept in a struct appt's fields, as
 * appt_from_row keeps them.
 */
struct list_names {
	int64_t		 doctor_id;	/* whose name names.doctor_name is */
	int		 doctor_found;
	int64_t		 type_id;	/* whose names.type_name and colour */
	struct appt	 names;
};

/* 0 with the row's doctor's name in ln, -1 when the doctor is not there
 * (APPT_SELECT's inner join would leave the row out). */
static int
list_doctor(struct list_names *ln, int64_t doctor_id)
{
	static const char *sql = "SELECT u.full_name FROM doctors d "
	    "JOIN users u ON u.id = d.user_id WHERE d.id = ?";
	sqlite3_stmt	*st;
	const char	*name;

	if (ln->doctor_id == doctor_id && ln->doctor_found)
		return 0;
	ln->doctor_id = doctor_id;
	ln->doctor_found = 0;
	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, doctor_id);
	if (sqlite3_step(st) == SQLITE_ROW && (name = db_col_text(st, 0)) != NULL) {
		strlcpy_mf(ln->names.doctor_name, name, sizeof ln->names.doctor_name);
		ln->doctor_found = 1;
	}
	sqlite3_reset(st);
	return ln->doctor_found ? 0 : -1;
}

/* The row's type's name and colour in ln: "" for none (a LEFT JOIN's NULL). */
static void
list_type(struct list_names *ln, int64_t type_id)
{
	static const char *sql = "SELECT name, colour FROM appointment_types "
	    "WHERE id = ?";
	sqlite3_stmt	*st;
	const char	*s;

	if (ln->type_id == type_id)
		return;
	ln->type_id = type_id;
	ln->names.type_name[0] = ln->names.colour[0] = '\0';
	if (type_id == 0)
		return;
	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, type_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if ((s = db_col_text(st, 0)) != NULL)
			strlcpy_mf(ln->names.type_name, s, sizeof ln->names.type_name);
		if ((s = db_col_text(st, 1)) != NULL)
			strlcpy_mf(ln->names.colour, s, sizeof ln->names.colour);
	}
	sqlite3_reset(st);
}

/* Packs the row st is on (APPT_LIST_SELECT's columns); -1, nothing packed,
 * when its doctor is not there. */
static int
appt_pack_row(sqlite3_stmt *st, struct list_names *ln, msgpack_sbuffer *sb)
{
	struct appt	*a = &ln->names;
	const char	*doctor, *patient, *reason, *note, *type, *colour, *status;
	size_t		 doctor_len, patient_len, reason_len, note_len, type_len;
	size_t		 colour_len, need;
	int64_t		 no_shows;
	char		*p;

	if (list_doctor(ln, sqlite3_column_int64(st, 1)) != 0)
		return -1;
	list_type(ln, sqlite3_column_int64(st, 22));
	doctor = a->doctor_name;
	doctor_len = strlen(doctor);
	type = a->type_name;
	type_len = strlen(type);
	colour = a->colour;
	colour_len = strlen(colour);
	patient = row_text(st, 18, sizeof a->patient_name, &patient_len);
	reason = row_text(st, 6, sizeof a->reason, &reason_len);
	note = row_text(st, 7, sizeof a->status_note, &note_len);
	need = ROW_FIXED_MAX + doctor_len + patient_len + reason_len + note_len +
	    type_len + colour_len;
	if (sb->alloc - sb->size < need) {
		size_t	alloc = sb->alloc > 0 ? sb->alloc * 2 : 8192;

		while (alloc - sb->size < need)
			alloc *= 2;
		sb->data = xrealloc(sb->data, alloc);
		sb->alloc = alloc;
	}
	p = sb->data + sb->size;
	status = appt_status_name((enum appt_status)appt_status_from_name(
	    db_col_text(st, 5)));
	no_shows = sqlite3_column_int64(st, 21);

	*p++ = (char)0xde;	/* map 16: 25 keys */
	p = put_be(p, 25, 2);
	PUT_KEY(p, "id");
	p = put_int(p, sqlite3_column_int64(st, 0));
	PUT_KEY(p, "doctor_id");
	p = put_int(p, sqlite3_column_int64(st, 1));
	PUT_KEY(p, "doctor_name");
	p = put_str(p, doctor, doctor_len);
	PUT_KEY(p, "patient_id");
	p = put_int(p, sqlite3_column_int64(st, 2));
	PUT_KEY(p, "patient_name");
	p = put_str(p, patient, patient_len);
	PUT_KEY(p, "starts_at");
	p = put_int(p, sqlite3_column_int64(st, 3));
	PUT_KEY(p, "ends_at");
	p = put_int(p, sqlite3_column_int64(st, 4));
	PUT_KEY(p, "status");
	p = put_str(p, status, strlen(status));
	PUT_KEY(p, "reason");
	p = put_str(p, reason, reason_len);
	PUT_KEY(p, "status_note");
	p = put_str(p, note_len > 0 ? note : NULL, note_len);
	PUT_KEY(p, "created_by");
	p = put_opt_int(p, sqlite3_column_int64(st, 8));
	PUT_KEY(p, "created_at");
	p = put_int(p, sqlite3_column_int64(st, 9));
	PUT_KEY(p, "updated_at");
	p = put_int(p, sqlite3_column_int64(st, 10));
	PUT_KEY(p, "checked_in_at");
	p = put_opt_int(p, sqlite3_column_int64(st, 11));
	PUT_KEY(p, "started_at");
	p = put_opt_int(p, sqlite3_column_int64(st, 13));
	PUT_KEY(p, "completed_at");
	p = put_opt_int(p, sqlite3_column_int64(st, 14));
	PUT_KEY(p, "rescheduled_from");
	p = put_opt_int(p, sqlite3_column_int64(st, 15));
	PUT_KEY(p, "rescheduled_to");
	p = put_opt_int(p, sqlite3_column_int64(st, 16));
	PUT_KEY(p, "no_show_count");
	p = put_int(p, no_shows);
	PUT_KEY(p, "no_show_flagged");
	*p++ = (char)(appt_no_show_flagged(no_shows) ? 0xc3 : 0xc2);
	PUT_KEY(p, "type_id");
	p = put_opt_int(p, sqlite3_column_int64(st, 22));
	PUT_KEY(p, "type_name");
	p = put_str(p, type_len > 0 ? type : NULL, type_len);
	PUT_KEY(p, "colour");
	p = put_str(p, colour_len > 0 ? colour : NULL, colour_len);
	PUT_KEY(p, "overbook");
	*p++ = (char)(sqlite3_column_int(st, 25) != 0 ? 0xc3 : 0xc2);
	PUT_KEY(p, "series_id");
	p = put_opt_int(p, sqlite3_column_int64(st, 26));
	sb->size = (size_t)(p - sb->data);
	return 0;
}

int64_t
appt_list_pack(const struct appt_filter *f, msgpack_sbuffer *sb)
{
	sqlite3_stmt		*st = appt_list_stmt(f, 1);
	struct list_names	 ln;
	int64_t			 n = 0;

	ln.doctor_id = 0;
	ln.doctor_found = 0;
	ln.type_id = -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (appt_pack_row(st, &ln, sb) == 0)
			n++;
	}
	sqlite3_reset(st);
	return n;
}

int64_t
appt_events(int64_t appt_id, void (*fn)(const struct appt_event *, void *),
    void *arg)
{
	static const char *sql = "SELECT e.id, e.ts, e.actor_id, u.full_name, "
	    "e.from_status, e.to_status, e.note FROM appointment_events e "
	    "LEFT JOIN users u ON u.id = e.actor_id WHERE e.appointment_id = ? "
	    "ORDER BY e.id";
	sqlite3_stmt		*st = db_prepare(sql);
	struct appt_event	 ev;
	int64_t			 n = 0;

	sqlite3_bind_int64(st, 1, appt_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		ev.id = sqlite3_column_int64(st, 0);
		ev.ts = sqlite3_column_int64(st, 1);
		ev.actor_id = sqlite3_column_int64(st, 2);
		ev.actor_name = db_col_text(st, 3);
		ev.from_status = db_col_text(st, 4);
		ev.to_status = db_col_text(st, 5);
		ev.note = db_col_text(st, 6);
		fn(&ev, arg);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

void
appt_stats(int64_t from, int64_t to, struct appt_stats *s,
    void (*per_doctor)(int64_t doctor_id, const char *name, const char *status,
    int64_t count, void *), void (*per_day)(int64_t starts_at, void *), void *arg)
{
	static const char *by_status = "SELECT status, count(*) FROM appointments "
	    "WHERE starts_at >= ? AND starts_at < ? GROUP BY status";
	static const char *by_doctor = "SELECT a.doctor_id, u.full_name, a.status, "
	    "count(*) FROM appointments a JOIN doctors d ON d.id = a.doctor_id "
	    "JOIN users u ON u.id = d.user_id WHERE a.starts_at >= ? AND "
	    "a.starts_at < ? GROUP BY a.doctor_id, a.status ORDER BY a.doctor_id";
	static const char *starts = "SELECT starts_at FROM appointments "
	    "WHERE starts_at >= ? AND starts_at < ? ORDER BY starts_at";
	static const char *wait = "SELECT avg(started_at - checked_in_at), count(*) "
	    "FROM appointments WHERE starts_at >= ? AND starts_at < ? AND "
	    "started_at IS NOT NULL AND checked_in_at IS NOT NULL";
	sqlite3_stmt	*st;
	int		 i;

	memset(s, 0, sizeof *s);
	st = db_prepare(by_status);
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((i = appt_status_from_name(db_col_text(st, 0))) >= 0) {
			s->by_status[i] = sqlite3_column_int64(st, 1);
			s->total += s->by_status[i];
		}
	}
	sqlite3_reset(st);
	st = db_prepare(by_doctor);
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while (sqlite3_step(st) == SQLITE_ROW)
		per_doctor(sqlite3_column_int64(st, 0), db_col_text(st, 1),
		    db_col_text(st, 2), sqlite3_column_int64(st, 3), arg);
	sqlite3_reset(st);
	st = db_prepare(starts);
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while (sqlite3_step(st) == SQLITE_ROW)
		per_day(sqlite3_column_int64(st, 0), arg);
	sqlite3_reset(st);
	st = db_prepare(wait);
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 1) > 0) {
		s->avg_wait = sqlite3_column_double(st, 0);
		s->waits = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
}
