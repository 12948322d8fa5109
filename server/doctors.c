/* doctors.c -- doctor profiles. Other modules call these, not its SQL. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "util.h"

#define DOCTOR_COLUMNS "d.id, d.user_id, u.full_name, u.email, u.active, " \
	"d.qualifications, d.bio, d.room, d.consult_minutes, d.created_at, d.updated_at"

void
doctors_clear(struct doctor *d)
{
	free(d->qualifications);
	free(d->bio);
	d->qualifications = d->bio = NULL;
}

static void
doctor_load_specialties(struct doctor *d)
{
	static const char *sql = "SELECT specialty FROM doctor_specialties "
	    "WHERE doctor_id = ? ORDER BY specialty";
	sqlite3_stmt	*st = db_prepare(sql);

	d->nspecialties = 0;
	sqlite3_bind_int64(st, 1, d->id);
	while (d->nspecialties < SPECIALTIES_MAX && sqlite3_step(st) == SQLITE_ROW)
		strlcpy_mf(d->specialties[d->nspecialties++], db_col_text(st, 0),
		    sizeof d->specialties[0]);
	sqlite3_reset(st);
}

int
doctors_by_id(int64_t id, struct doctor *d)
{
	static const char *sql = "SELECT " DOCTOR_COLUMNS " FROM doctors d "
	    "JOIN users u ON u.id = d.user_id WHERE d.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found = 0;

	memset(d, 0, sizeof *d);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		d->id = sqlite3_column_int64(st, 0);
		d->user_id = sqlite3_column_int64(st, 1);
		strlcpy_mf(d->full_name, db_col_text(st, 2), sizeof d->full_name);
		strlcpy_mf(d->email, db_col_text(st, 3), sizeof d->email);
		d->active = sqlite3_column_int(st, 4);
		d->qualifications = xstrdup(db_col_text(st, 5));
		d->bio = xstrdup(db_col_text(st, 6));
		strlcpy_mf(d->room, db_col_text(st, 7), sizeof d->room);
		d->consult_minutes = sqlite3_column_int(st, 8);
		d->created_at = sqlite3_column_int64(st, 9);
		d->updated_at = sqlite3_column_int64(st, 10);
		found = 1;
	}
	sqlite3_reset(st);
	if (!found)
		return -1;
	doctor_load_specialties(d);
	return 0;
}

/*
 * One row, four columns: a booking needs the doctor's name and state, and
 * the whole profile (its texts copied, the specialties a second statement)
 * was a sixteenth of a booking's instructions.
 */
int
doctors_brief_by_id(int64_t id, struct doctor_brief *d)
{
	static const char *sql = "SELECT d.id, d.user_id, u.full_name, u.active "
	    "FROM doctors d JOIN users u ON u.id = d.user_id WHERE d.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found = 0;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		d->id = sqlite3_column_int64(st, 0);
		d->user_id = sqlite3_column_int64(st, 1);
		strlcpy_mf(d->full_name, db_col_text(st, 2), sizeof d->full_name);
		d->active = sqlite3_column_int(st, 3);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

int
doctors_id_for_user(int64_t user_id, int64_t *doctor_id)
{
	static const char *sql = "SELECT id FROM doctors WHERE user_id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, user_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*doctor_id = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int64_t
doctors_user_id(int64_t doctor_id)
{
	static const char *sql = "SELECT user_id FROM doctors WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 uid = 0;

	sqlite3_bind_int64(st, 1, doctor_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		uid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return uid;
}

int
doctors_active(int64_t doctor_id)
{
	static const char *sql = "SELECT u.active FROM doctors d "
	    "JOIN users u ON u.id = d.user_id WHERE d.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 active = -1;

	sqlite3_bind_int64(st, 1, doctor_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		active = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	return active;
}

int64_t
doctors_ensure(int64_t user_id, int64_t now)
{
	static const char *sql = "INSERT INTO doctors (user_id, created_at, "
	    "updated_at) VALUES (?, ?, ?)";
	sqlite3_stmt	*st;
	int64_t		 id;

	if (doctors_id_for_user(user_id, &id) == 0)
		return id;
	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	return db_last_id();
}

int
doctors_save(const struct doctor *d)
{
	static const char *upd = "UPDATE doctors SET qualifications = ?, bio = ?, "
	    "room = ?, consult_minutes = ?, updated_at = ? WHERE id = ?";
	static const char *del = "DELETE FROM doctor_specialties WHERE doctor_id = ?";
	static const char *ins = "INSERT OR IGNORE INTO doctor_specialties "
	    "(doctor_id, specialty) VALUES (?, ?)";
	sqlite3_stmt	*st;
	int		 i;

	st = db_prepare(upd);
	db_bind_text(st, 1, d->qualifications != NULL ? d->qualifications : "");
	db_bind_text(st, 2, d->bio != NULL ? d->bio : "");
	db_bind_text(st, 3, d->room);
	sqlite3_bind_int(st, 4, d->consult_minutes);
	sqlite3_bind_int64(st, 5, d->updated_at);
	sqlite3_bind_int64(st, 6, d->id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	st = db_prepare(del);
	sqlite3_bind_int64(st, 1, d->id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	for (i = 0; i < d->nspecialties; i++) {
		st = db_prepare(ins);
		sqlite3_bind_int64(st, 1, d->id);
		db_bind_text(st, 2, d->specialties[i]);
		if (db_step_done(st) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

void
doctors_pack(msgpack_packer *pk, const struct doctor *d)
{
	int	i;

	msgpack_pack_map(pk, 11);
	mp_pack_kv_int(pk, "id", d->id);
	mp_pack_kv_int(pk, "user_id", d->user_id);
	mp_pack_kv_str(pk, "full_name", d->full_name);
	mp_pack_kv_str(pk, "email", d->email);
	mp_pack_kv_bool(pk, "active", d->active);
	mp_pack_str(pk, "specialties");
	msgpack_pack_array(pk, (size_t)d->nspecialties);
	for (i = 0; i < d->nspecialties; i++)
		mp_pack_str(pk, d->specialties[i]);
	mp_pack_kv_str(pk, "qualifications", d->qualifications ? d->qualifications : "");
	mp_pack_kv_str(pk, "bio", d->bio ? d->bio : "");
	mp_pack_kv_str(pk, "room", d->room);
	mp_pack_kv_int(pk, "consult_minutes", d->consult_minutes);
	mp_pack_kv_int(pk, "updated_at", d->updated_at);
}

int64_t
doctors_list(const char *specialty, const char *name_pattern, int64_t limit,
    int64_t offset, void (*fn)(const struct doctor *, void *), void *arg,
    int64_t *total)
{
	static const char *sql = "SELECT d.id FROM doctors d JOIN users u ON "
	    "u.id = d.user_id WHERE u.active = 1 AND (?1 IS NULL OR EXISTS "
	    "(SELECT 1 FROM doctor_specialties s WHERE s.doctor_id = d.id AND "
	    "s.specialty = ?1)) AND (?2 IS NULL OR u.full_name LIKE ?2 ESCAPE '\\') "
	    "ORDER BY u.full_name COLLATE NOCASE, d.id LIMIT ?3 OFFSET ?4";
	static const char *count_sql = "SELECT count(*) FROM doctors d JOIN users u ON "
	    "u.id = d.user_id WHERE u.active = 1 AND (?1 IS NULL OR EXISTS "
	    "(SELECT 1 FROM doctor_specialties s WHERE s.doctor_id = d.id AND "
	    "s.specialty = ?1)) AND (?2 IS NULL OR u.full_name LIKE ?2 ESCAPE '\\')";
	sqlite3_stmt	*st;
	int64_t		*ids, n = 0, i;
	struct doctor	 d;

	st = db_prepare(count_sql);
	db_bind_text(st, 1, specialty);
	db_bind_text(st, 2, name_pattern);
	*total = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);

	ids = xcalloc((size_t)limit, sizeof *ids);
	st = db_prepare(sql);
	db_bind_text(st, 1, specialty);
	db_bind_text(st, 2, name_pattern);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, offset);
	while (n < limit && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if (doctors_by_id(ids[i], &d) == 0) {
			fn(&d, arg);
			doctors_clear(&d);
		}
	}
	free(ids);
	return n;
}
