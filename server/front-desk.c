/* front-desk.c -- appointment types, daily caps, the wait list and the
 * recall list. Other modules call these, not their SQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinic-time.h"
#include "conn.h"
#include "db.h"
#include "front-desk.h"
#include "mp.h"
#include "notifications.h"
#include "session.h"
#include "util.h"

static void
copy_col(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const char	*s = db_col_text(st, col);

	strlcpy_mf(dst, s != NULL ? s : "", len);
}

/*
 * Each table here has one reader that fills its struct from a result row
 * (type_from_row, waitlist_from_row, recall_from_row); these two step a
 * bound statement for it.
 */
typedef void (*row_reader_fn)(sqlite3_stmt *, void *);

/* Reads the first row into row; 0, or -1 when there is none. Resets st. */
static int
row_first(sqlite3_stmt *st, row_reader_fn from_row, void *row)
{
	int	rc = -1;

	if (sqlite3_step(st) == SQLITE_ROW) {
		from_row(st, row);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* Reads the next row into row and returns 1; at the end resets st, 0. */
static int
row_next(sqlite3_stmt *st, row_reader_fn from_row, void *row)
{
	if (sqlite3_step(st) == SQLITE_ROW) {
		from_row(st, row);
		return 1;
	}
	sqlite3_reset(st);
	return 0;
}

/* --- appointment types --- */

#define TYPE_COLUMNS "id, name, minutes, colour, active, created_at, updated_at"

static void
type_from_row(sqlite3_stmt *st, void *row)
{
	struct appt_type	*t = row;

	memset(t, 0, sizeof *t);
	t->id = sqlite3_column_int64(st, 0);
	copy_col(st, 1, t->name, sizeof t->name);
	t->minutes = sqlite3_column_int(st, 2);
	copy_col(st, 3, t->colour, sizeof t->colour);
	t->active = sqlite3_column_int(st, 4) != 0;
	t->created_at = sqlite3_column_int64(st, 5);
	t->updated_at = sqlite3_column_int64(st, 6);
}

int
appt_types_by_id(int64_t id, struct appt_type *t)
{
	static const char *sql = "SELECT " TYPE_COLUMNS " FROM appointment_types "
	    "WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, id);
	return row_first(st, type_from_row, t);
}

int
appt_types_name_taken(const char *name, int64_t except_id)
{
	static const char *sql = "SELECT 1 FROM appointment_types "
	    "WHERE name = ? AND id != ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 taken;

	db_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, except_id);
	taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return taken;
}

int
appt_types_list(int all, void (*fn)(const struct appt_type *, void *), void *arg)
{
	static const char *sql = "SELECT " TYPE_COLUMNS " FROM appointment_types "
	    "WHERE ? OR active ORDER BY name, id";
	sqlite3_stmt		*st = db_prepare(sql);
	struct appt_type	 t;
	int			 n = 0;

	sqlite3_bind_int(st, 1, all != 0);
	while (row_next(st, type_from_row, &t)) {
		if (fn != NULL)
			fn(&t, arg);
		n++;
	}
	return n;
}

int
appt_types_count(void)
{
	return appt_types_list(1, NULL, NULL);
}

int
appt_types_insert(struct appt_type *t)
{
	static const char *sql = "INSERT INTO appointment_types (name, minutes, "
	    "colour, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);

	db_bind_text(st, 1, t->name);
	sqlite3_bind_int(st, 2, t->minutes);
	db_bind_text(st, 3, t->colour);
	sqlite3_bind_int(st, 4, t->active != 0);
	sqlite3_bind_int64(st, 5, t->created_at);
	sqlite3_bind_int64(st, 6, t->updated_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	t->id = db_last_id();
	return 0;
}

int
appt_types_update(const struct appt_type *t)
{
	static const char *sql = "UPDATE appointment_types SET name = ?, "
	    "minutes = ?, colour = ?, active = ?, updated_at = ? WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	db_bind_text(st, 1, t->name);
	sqlite3_bind_int(st, 2, t->minutes);
	db_bind_text(st, 3, t->colour);
	sqlite3_bind_int(st, 4, t->active != 0);
	sqlite3_bind_int64(st, 5, t->updated_at);
	sqlite3_bind_int64(st, 6, t->id);
	return db_step_done(st) == SQLITE_DONE && db_changes() == 1 ? 0 : -1;
}

void
appt_types_pack(msgpack_packer *pk, const struct appt_type *t)
{
	msgpack_pack_map(pk, 7);
	mp_pack_kv_int(pk, "id", t->id);
	mp_pack_kv_str(pk, "name", t->name);
	mp_pack_kv_int(pk, "minutes", t->minutes);
	mp_pack_kv_str(pk, "colour", t->colour);
	mp_pack_kv_bool(pk, "active", t->active);
	mp_pack_kv_int(pk, "created_at", t->created_at);
	mp_pack_kv_int(pk, "updated_at", t->updated_at);
}

int
appt_colour_normalize(const char *in, char out[8])
{
	int	i;

	if (strlen(in) != 7 || in[0] != '#')
		return -1;
	out[0] = '#';
	for (i = 1; i < 7; i++) {
		char	c = in[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[7] = '\0';
	return 0;
}

/* --- daily caps --- */

void
doctor_cap_get(int64_t doctor_id, struct doctor_cap *c)
{
	static const char *sql = "SELECT daily_cap, overbooks, updated_at "
	    "FROM doctor_caps WHERE doctor_id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	memset(c, 0, sizeof *c);
	c->doctor_id = doctor_id;
	sqlite3_bind_int64(st, 1, doctor_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		c->daily_cap = sqlite3_column_int(st, 0);
		c->overbooks = sqlite3_column_int(st, 1);
		c->updated_at = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
}

int
doctor_cap_set(const struct doctor_cap *c)
{
	static const char *set_sql = "INSERT INTO doctor_caps (doctor_id, "
	    "daily_cap, overbooks, updated_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (doctor_id) DO UPDATE SET daily_cap = ?2, "
	    "overbooks = ?3, updated_at = ?4";
	static const char *del_sql = "DELETE FROM doctor_caps WHERE doctor_id = ?";
	sqlite3_stmt	*st;

	if (c->daily_cap <= 0) {
		st = db_prepare(del_sql);
		sqlite3_bind_int64(st, 1, c->doctor_id);
		return db_step_done(st) == SQLITE_DONE ? 0 : -1;
	}
	st = db_prepare(set_sql);
	sqlite3_bind_int64(st, 1, c->doctor_id);
	sqlite3_bind_int(st, 2, c->daily_cap);
	sqlite3_bind_int(st, 3, c->overbooks);
	sqlite3_bind_int64(st, 4, c->updated_at);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

/* --- the wait list --- */

static const char *waitlist_status_names[] = { "waiting", "offered", "left",
    "booked" };

const char *
waitlist_status_name(enum waitlist_status s)
{
	return (unsigned)s < nitems(waitlist_status_names) ?
	    waitlist_status_names[s] : "unknown";
}

#define WAITLIST_SELECT "SELECT w.id, w.doctor_id, w.patient_id, w.earliest, " \
	"w.latest, w.note, w.status, w.created_by, w.created_at, w.offered_at, " \
	"w.offered_starts_at, w.offered_ends_at, w.left_at, w.booked_at, " \
	"w.appointment_id, du.full_name, " \
	"p.full_name, p.phone, d.user_id, p.user_id, (SELECT count(*) FROM " \
	"appointments n WHERE n.patient_id = w.patient_id AND n.status = 'no_show') " \
	"FROM waitlist w JOIN doctors d ON d.id = w.doctor_id " \
	"JOIN users du ON du.id = d.user_id JOIN patients p ON p.id = w.patient_id "

static void
waitlist_from_row(sqlite3_stmt *st, void *row)
{
	struct waitlist_entry	*w = row;
	const char		*s;
	size_t			 i;

	memset(w, 0, sizeof *w);
	w->id = sqlite3_column_int64(st, 0);
	w->doctor_id = sqlite3_column_int64(st, 1);
	w->patient_id = sqlite3_column_int64(st, 2);
	w->earliest = sqlite3_column_int64(st, 3);
	w->latest = sqlite3_column_int64(st, 4);
	copy_col(st, 5, w->note, sizeof w->note);
	s = db_col_text(st, 6);
	for (i = 0; i < nitems(waitlist_status_names); i++) {
		if (s != NULL && strcmp(s, waitlist_status_names[i]) == 0)
			w->status = (enum waitlist_status)i;
	}
	w->created_by = sqlite3_column_int64(st, 7);
	w->created_at = sqlite3_column_int64(st, 8);
	w->offered_at = sqlite3_column_int64(st, 9);
	w->offered_starts_at = sqlite3_column_int64(st, 10);
	w->offered_ends_at = sqlite3_column_int64(st, 11);
	w->left_at = sqlite3_column_int64(st, 12);
	w->booked_at = sqlite3_column_int64(st, 13);
	w->appointment_id = sqlite3_column_int64(st, 14);
	copy_col(st, 15, w->doctor_name, sizeof w->doctor_name);
	copy_col(st, 16, w->patient_name, sizeof w->patient_name);
	copy_col(st, 17, w->patient_phone, sizeof w->patient_phone);
	w->doctor_user_id = sqlite3_column_int64(st, 18);
	w->patient_user_id = sqlite3_column_int64(st, 19);
	w->patient_no_shows = sqlite3_column_int64(st, 20);
}

int
waitlist_by_id(int64_t id, struct waitlist_entry *w)
{
	static const char *sql = WAITLIST_SELECT "WHERE w.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, id);
	return row_first(st, waitlist_from_row, w);
}

int
waitlist_find_open(int64_t doctor_id, int64_t patient_id, struct waitlist_entry *w)
{
	static const char *sql = WAITLIST_SELECT "WHERE w.doctor_id = ? AND "
	    "w.patient_id = ? AND w.status IN ('waiting', 'offered') "
	    "ORDER BY w.id LIMIT 1";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, doctor_id);
	sqlite3_bind_int64(st, 2, patient_id);
	return row_first(st, waitlist_from_row, w);
}

int
waitlist_insert(struct waitlist_entry *w)
{
	static const char *sql = "INSERT INTO waitlist (doctor_id, patient_id, "
	    "earliest, latest, note, status, created_by, created_at) "
	    "VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, w->doctor_id);
	sqlite3_bind_int64(st, 2, w->patient_id);
	sqlite3_bind_int64(st, 3, w->earliest);
	sqlite3_bind_int64(st, 4, w->latest);
	db_bind_text(st, 5, w->note);
	db_bind_opt_int(st, 6, w->created_by != 0, w->created_by);
	sqlite3_bind_int64(st, 7, w->created_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	w->id = db_last_id();
	w->status = WL_WAITING;
	return 0;
}

int
waitlist_leave(int64_t id, int64_t now)
{
	static const char *sql = "UPDATE waitlist SET status = 'left', left_at = ? "
	    "WHERE id = ? AND status IN ('waiting', 'offered')";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	return db_step_done(st) == SQLITE_DONE && db_changes() == 1 ? 0 : -1;
}

int
waitlist_list(int64_t doctor_id, int64_t patient_id, int all,
    void (*fn)(const struct waitlist_entry *, void *), void *arg)
{
	static const char *sql = WAITLIST_SELECT "WHERE (?1 = 0 OR w.doctor_id = ?1) "
	    "AND (?2 = 0 OR w.patient_id = ?2) AND "
	    "(?3 OR w.status IN ('waiting', 'offered')) ORDER BY w.id LIMIT ?4";
	sqlite3_stmt		*st = db_prepare(sql);
	struct waitlist_entry	*w = xcalloc(1, sizeof *w);
	int			 n = 0;

	sqlite3_bind_int64(st, 1, doctor_id);
	sqlite3_bind_int64(st, 2, patient_id);
	sqlite3_bind_int(st, 3, all != 0);
	sqlite3_bind_int(st, 4, WAITLIST_LIST_MAX);
	while (row_next(st, waitlist_from_row, w)) {
		fn(w, arg);
		n++;
	}
	free(w);
	return n;
}

int64_t
waitlist_offer_freed(int64_t doctor_id, int64_t starts_at, int64_t ends_at,
    int64_t except_patient, int64_t now)
{
	/* An offer whose time has passed has lapsed: that patient waits again,
	 * in their old place. */
	static const char *find_sql = "SELECT id FROM waitlist WHERE doctor_id = ?1 "
	    "AND (status = 'waiting' OR (status = 'offered' AND "
	    "offered_starts_at <= ?5)) AND earliest <= ?2 AND latest >= ?3 "
	    "AND patient_id != ?4 ORDER BY id LIMIT 1";
	static const char *mark_sql = "UPDATE waitlist SET status = 'offered', "
	    "offered_at = ?, offered_starts_at = ?, offered_ends_at = ? "
	    "WHERE id = ? AND status IN ('waiting', 'offered')";
	struct waitlist_entry	*w;
	struct civil_date	 day;
	sqlite3_stmt		*st;
	char			 title[900], body[1200], date[11];
	int64_t			 id = 0;
	int			 min, rc = 0;

	/* A time already past (a no-show's) is offered to no one. */
	if (starts_at <= now)
		return 0;
	st = db_prepare(find_sql);
	sqlite3_bind_int64(st, 1, doctor_id);
	sqlite3_bind_int64(st, 2, starts_at);
	sqlite3_bind_int64(st, 3, ends_at);
	sqlite3_bind_int64(st, 4, except_patient);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (id == 0)
		return 0;
	st = db_prepare(mark_sql);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, starts_at);
	sqlite3_bind_int64(st, 3, ends_at);
	sqlite3_bind_int64(st, 4, id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	w = xcalloc(1, sizeof *w);
	if (waitlist_by_id(id, w) == 0 && w->patient_user_id != 0) {
		utc_to_local(starts_at, &day, &min);
		date_format(&day, date);
		snprintf(title, sizeof title, "A time with %s came free",
		    w->doctor_name);
		snprintf(body, sizeof body, "%s at %02d:%02d is free. Book it "
		    "or call the clinic; it goes to whoever books first.", date,
		    min / 60, min % 60);
		rc = notifications_create(w->patient_user_id, "waitlist.offer",
		    title, body, id, now);
	}
	free(w);
	return rc == 0 ? id : -1;
}

int
waitlist_fulfil(const struct appt *a, int64_t now)
{
	/* The window rule is waitlist_offer_freed's; an offer names its time
	 * exactly. At most one entry is open per doctor and patient. */
#define FULFIL_WHERE "patient_id = ?3 AND doctor_id = ?4 AND " \
	"status IN ('waiting', 'offered') AND ((earliest <= ?5 AND " \
	"latest >= ?6) OR (status = 'offered' AND offered_starts_at = ?5))"
	static const char *sql = "UPDATE waitlist SET status = 'booked', "
	    "booked_at = ?1, appointment_id = ?2 WHERE " FULFIL_WHERE;
	static const char *any_sql = "SELECT 1 FROM waitlist WHERE "
	    FULFIL_WHERE " LIMIT 1";
#undef FULFIL_WHERE
	sqlite3_stmt	*st;
	int		 rc;

	/* A patient's own request is not a booking until it is approved: a
	 * rejected one leaves them waiting where they were. */
	if (a->status != APPT_APPROVED && a->status != APPT_CHECKED_IN)
		return 0;
	/*
	 * Most bookings close no entry. Asking first, with the same WHERE,
	 * costs 3k instructions; the UPDATE cost 21k even when it matched
	 * nothing, most of it opening (and zeroing) the temporary b-tree
	 * SQLite collects the rowids in before it changes any row.
	 */
	st = db_prepare(any_sql);
	sqlite3_bind_int64(st, 3, a->patient_id);
	sqlite3_bind_int64(st, 4, a->doctor_id);
	sqlite3_bind_int64(st, 5, a->starts_at);
	sqlite3_bind_int64(st, 6, a->ends_at);
	if ((rc = db_step_done(st)) == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	if ((st = db_prepare(sql)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, a->id);
	sqlite3_bind_int64(st, 3, a->patient_id);
	sqlite3_bind_int64(st, 4, a->doctor_id);
	sqlite3_bind_int64(st, 5, a->starts_at);
	sqlite3_bind_int64(st, 6, a->ends_at);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

static int
waitlist_push_wants(const struct session *s, void *arg)
{
	const struct waitlist_entry	*w = arg;

	if (s->role == ROLE_ADMIN || s->role == ROLE_RECEPTIONIST)
		return 1;
	return s->user_id == w->doctor_user_id;
}

void
waitlist_push_offer(int64_t id)
{
	struct waitlist_entry	*w = xcalloc(1, sizeof *w);
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;

	if (waitlist_by_id(id, w) == 0) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		waitlist_pack(&pk, w);
		conn_push_event("waitlist.offer", sb.data, sb.size,
		    waitlist_push_wants, w);
		msgpack_sbuffer_destroy(&sb);
	}
	free(w);
}

void
waitlist_pack(msgpack_packer *pk, const struct waitlist_entry *w)
{
	msgpack_pack_map(pk, 19);
	mp_pack_kv_int(pk, "id", w->id);
	mp_pack_kv_int(pk, "doctor_id", w->doctor_id);
	mp_pack_kv_str(pk, "doctor_name", w->doctor_name);
	mp_pack_kv_int(pk, "patient_id", w->patient_id);
	mp_pack_kv_str(pk, "patient_name", w->patient_name);
	mp_pack_kv_str(pk, "phone", w->patient_phone[0] ? w->patient_phone : NULL);
	mp_pack_kv_int(pk, "earliest", w->earliest);
	mp_pack_kv_int(pk, "latest", w->latest);
	mp_pack_kv_str(pk, "note", w->note);
	mp_pack_kv_str(pk, "status", waitlist_status_name(w->status));
	mp_pack_kv_int(pk, "created_at", w->created_at);
	mp_pack_kv_opt_int(pk, "offered_at", w->offered_at);
	mp_pack_kv_opt_int(pk, "offered_starts_at", w->offered_starts_at);
	mp_pack_kv_opt_int(pk, "offered_ends_at", w->offered_ends_at);
	mp_pack_kv_opt_int(pk, "left_at", w->left_at);
	mp_pack_kv_opt_int(pk, "booked_at", w->booked_at);
	mp_pack_kv_opt_int(pk, "appointment_id", w->appointment_id);
	mp_pack_kv_int(pk, "no_show_count", w->patient_no_shows);
	mp_pack_kv_bool(pk, "no_show_flagged", appt_no_show_flagged(w->patient_no_shows));
}

/* --- the recall list --- */

#define RECALL_SELECT "SELECT r.id, r.patient_id, r.doctor_id, r.due_by, " \
	"r.reason, r.created_by, r.created_at, r.done_at, r.done_by, p.full_name, " \
	"p.phone, du.full_name, (SELECT count(*) FROM appointments n WHERE " \
	"n.patient_id = r.patient_id AND n.status = 'no_show') FROM recalls r " \
	"JOIN patients p ON p.id = r.patient_id " \
	"LEFT JOIN doctors d ON d.id = r.doctor_id " \
	"LEFT JOIN users du ON du.id = d.user_id "

static void
recall_from_row(sqlite3_stmt *st, void *row)
{
	struct recall	*c = row;

	memset(c, 0, sizeof *c);
	c->id = sqlite3_column_int64(st, 0);
	c->patient_id = sqlite3_column_int64(st, 1);
	c->doctor_id = sqlite3_column_int64(st, 2);
	copy_col(st, 3, c->due_by, sizeof c->due_by);
	copy_col(st, 4, c->reason, sizeof c->reason);
	c->created_by = sqlite3_column_int64(st, 5);
	c->created_at = sqlite3_column_int64(st, 6);
	c->done_at = sqlite3_column_int64(st, 7);
	c->done_by = sqlite3_column_int64(st, 8);
	copy_col(st, 9, c->patient_name, sizeof c->patient_name);
	copy_col(st, 10, c->patient_phone, sizeof c->patient_phone);
	copy_col(st, 11, c->doctor_name, sizeof c->doctor_name);
	c->patient_no_shows = sqlite3_column_int64(st, 12);
}

int
recall_by_id(int64_t id, struct recall *c)
{
	static const char *sql = RECALL_SELECT "WHERE r.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, id);
	return row_first(st, recall_from_row, c);
}

int
recall_insert(struct recall *c)
{
	static const char *sql = "INSERT INTO recalls (patient_id, doctor_id, "
	    "due_by, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, c->patient_id);
	db_bind_opt_int(st, 2, c->doctor_id != 0, c->doctor_id);
	db_bind_text(st, 3, c->due_by);
	db_bind_text(st, 4, c->reason);
	db_bind_opt_int(st, 5, c->created_by != 0, c->created_by);
	sqlite3_bind_int64(st, 6, c->created_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	c->id = db_last_id();
	return 0;
}

int
recall_done(int64_t id, int64_t by, int64_t now)
{
	static const char *sql = "UPDATE recalls SET done_at = ?, done_by = ? "
	    "WHERE id = ? AND done_at IS NULL";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, now);
	db_bind_opt_int(st, 2, by != 0, by);
	sqlite3_bind_int64(st, 3, id);
	return db_step_done(st) == SQLITE_DONE && db_changes() == 1 ? 0 : -1;
}

int
recall_due(const char *before, int limit, void (*fn)(const struct recall *, void *),
    void *arg)
{
	static const char *sql = RECALL_SELECT "WHERE r.done_at IS NULL AND "
	    "r.due_by <= ? ORDER BY r.due_by, r.id LIMIT ?";
	sqlite3_stmt	*st = db_prepare(sql);
	struct recall	*c = xcalloc(1, sizeof *c);
	int		 n = 0;

	db_bind_text(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	while (row_next(st, recall_from_row, c)) {
		fn(c, arg);
		n++;
	}
	free(c);
	return n;
}

void
recall_pack(msgpack_packer *pk, const struct recall *c)
{
	msgpack_pack_map(pk, 13);
	mp_pack_kv_int(pk, "id", c->id);
	mp_pack_kv_int(pk, "patient_id", c->patient_id);
	mp_pack_kv_str(pk, "patient_name", c->patient_name);
	mp_pack_kv_str(pk, "phone", c->patient_phone[0] ? c->patient_phone : NULL);
	mp_pack_kv_opt_int(pk, "doctor_id", c->doctor_id);
	mp_pack_kv_str(pk, "doctor_name", c->doctor_name[0] ? c->doctor_name : NULL);
	mp_pack_kv_str(pk, "due_by", c->due_by);
	mp_pack_kv_str(pk, "reason", c->reason);
	mp_pack_kv_int(pk, "created_at", c->created_at);
	mp_pack_kv_opt_int(pk, "done_at", c->done_at);
	mp_pack_kv_opt_int(pk, "done_by", c->done_by);
	mp_pack_kv_int(pk, "no_show_count", c->patient_no_shows);
	mp_pack_kv_bool(pk, "no_show_flagged", appt_no_show_flagged(c->patient_no_shows));
}
