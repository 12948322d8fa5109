/* records.c -- medical records and their versions (tables records,
 * record_versions). */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "mp.h"
#include "records.h"
#include "util.h"

const struct record_vital_spec record_vitals[VITAL__COUNT] = {
	{ "bp_systolic", 1, 50, 300 },
	{ "bp_diastolic", 1, 20, 200 },
	{ "pulse", 1, 20, 250 },
	{ "temperature_c", 0, 30, 45 },
	{ "weight_kg", 0, 0.3, 500 },
	{ "height_cm", 0, 20, 275 },
};

#define RECORD_COLUMNS \
	"SELECT r.id, r.patient_id, r.appointment_id, r.doctor_id, r.created_at, " \
	"r.version, v.version, v.author_id, v.created_at, v.amend_reason, " \
	"v.diagnosis_code, v.diagnosis, v.symptoms, v.findings, v.bp_systolic, " \
	"v.bp_diastolic, v.pulse, v.temperature_c, v.weight_kg, v.height_cm, " \
	"v.notes, v.follow_up, du.full_name, au.full_name " \
	"FROM records r JOIN record_versions v ON v.record_id = r.id " \
	"JOIN doctors d ON d.id = r.doctor_id JOIN users du ON du.id = d.user_id " \
	"JOIN users au ON au.id = v.author_id "

static void	record_from_row(sqlite3_stmt *, struct record *);
static void	copy_col(sqlite3_stmt *, int, char *, size_t);
static int	version_insert(const struct record *);

const char *
record_code_problem(const char *code)
{
	size_t	len = strlen(code), i;

	/* A letter, two digits (the third character may be a letter, as in
	 * C4A), then optionally a dot and one to four characters. */
	if (len < 3 || len > RECORD_CODE_MAX_CHARS ||
	    code[0] < 'A' || code[0] > 'Z' ||
	    code[1] < '0' || code[1] > '9' ||
	    !((code[2] >= '0' && code[2] <= '9') || (code[2] >= 'A' && code[2] <= 'Z')))
		return "must be an ICD-10 code such as J06.9 (capital letter, "
		    "two digits, optional dot and up to 4 more)";
	if (len == 3)
		return NULL;
	if (code[3] != '.' || len == 4)
		return "must be an ICD-10 code such as J06.9 (capital letter, "
		    "two digits, optional dot and up to 4 more)";
	for (i = 4; i < len; i++) {
		if (!((code[i] >= '0' && code[i] <= '9') ||
		    (code[i] >= 'A' && code[i] <= 'Z')))
			return "must be an ICD-10 code such as J06.9 (capital "
			    "letter, two digits, optional dot and up to 4 more)";
	}
	return NULL;
}

static void
copy_col(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const char	*s = db_col_text(st, col);

	strlcpy_mf(dst, s != NULL ? s : "", len);
}

static void
record_from_row(sqlite3_stmt *st, struct record *rec)
{
	int	i;

	memset(rec, 0, sizeof *rec);
	rec->id = sqlite3_column_int64(st, 0);
	rec->patient_id = sqlite3_column_int64(st, 1);
	rec->appointment_id = sqlite3_column_int64(st, 2);
	rec->doctor_id = sqlite3_column_int64(st, 3);
	rec->created_at = sqlite3_column_int64(st, 4);
	rec->current_version = sqlite3_column_int(st, 5);
	rec->version = sqlite3_column_int(st, 6);
	rec->author_id = sqlite3_column_int64(st, 7);
	rec->amended_at = sqlite3_column_int64(st, 8);
	copy_col(st, 9, rec->amend_reason, sizeof rec->amend_reason);
	copy_col(st, 10, rec->diagnosis_code, sizeof rec->diagnosis_code);
	copy_col(st, 11, rec->diagnosis, sizeof rec->diagnosis);
	copy_col(st, 12, rec->symptoms, sizeof rec->symptoms);
	copy_col(st, 13, rec->findings, sizeof rec->findings);
	for (i = 0; i < VITAL__COUNT; i++) {
		if (sqlite3_column_type(st, 14 + i) == SQLITE_NULL)
			continue;
		rec->has_vital[i] = 1;
		rec->vital[i] = sqlite3_column_double(st, 14 + i);
	}
	copy_col(st, 20, rec->notes, sizeof rec->notes);
	copy_col(st, 21, rec->follow_up, sizeof rec->follow_up);
	copy_col(st, 22, rec->doctor_name, sizeof rec->doctor_name);
	copy_col(st, 23, rec->author_name, sizeof rec->author_name);
}

static int
version_insert(const struct record *rec)
{
	sqlite3_stmt	*st;
	int		 i;

	st = db_prepare("INSERT INTO record_versions (record_id, version, "
	    "author_id, created_at, amend_reason, diagnosis_code, diagnosis, "
	    "symptoms, findings, bp_systolic, bp_diastolic, pulse, temperature_c, "
	    "weight_kg, height_cm, notes, follow_up) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, rec->id);
	sqlite3_bind_int(st, 2, rec->version);
	sqlite3_bind_int64(st, 3, rec->author_id);
	sqlite3_bind_int64(st, 4, rec->amended_at);
	db_bind_text(st, 5, rec->amend_reason);
	db_bind_text(st, 6, rec->diagnosis_code);
	db_bind_text(st, 7, rec->diagnosis);
	db_bind_text(st, 8, rec->symptoms);
	db_bind_text(st, 9, rec->findings);
	for (i = 0; i < VITAL__COUNT; i++) {
		if (!rec->has_vital[i])
			sqlite3_bind_null(st, 10 + i);
		else if (record_vitals[i].whole)
			sqlite3_bind_int64(st, 10 + i, (int64_t)rec->vital[i]);
		else
			sqlite3_bind_double(st, 10 + i, rec->vital[i]);
	}
	db_bind_text(st, 16, rec->notes);
	db_bind_text(st, 17, rec->follow_up[0] != '\0' ? rec->follow_up : NULL);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

int
records_insert(struct record *rec)
{
	sqlite3_stmt	*st;

	st = db_prepare("INSERT INTO records (patient_id, appointment_id, "
	    "doctor_id, created_at, version) VALUES (?, ?, ?, ?, 1)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, rec->patient_id);
	db_bind_opt_int(st, 2, rec->appointment_id != 0, rec->appointment_id);
	sqlite3_bind_int64(st, 3, rec->doctor_id);
	sqlite3_bind_int64(st, 4, rec->created_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	rec->id = db_last_id();
	rec->version = rec->current_version = 1;
	return version_insert(rec);
}

int
records_amend(struct record *rec)
{
	sqlite3_stmt	*st;

	/* The version number is taken inside the write transaction, so two
	 * amendments cannot both become version n + 1. */
	st = db_prepare("UPDATE records SET version = version + 1 WHERE id = ? "
	    "RETURNING version");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, rec->id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	rec->version = rec->current_version = sqlite3_column_int(st, 0);
	sqlite3_step(st);
	sqlite3_reset(st);
	return version_insert(rec);
}

int
records_by_id(int64_t id, int version, struct record *rec)
{
	sqlite3_stmt	*st;
	int		 found;

	st = db_prepare(RECORD_COLUMNS "WHERE r.id = ?1 AND "
	    "v.version = CASE WHEN ?2 = 0 THEN r.version ELSE ?2 END");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, version);
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		record_from_row(st, rec);
	sqlite3_reset(st);
	return found ? 0 : -1;
}

int64_t
records_list(int64_t patient_id, int64_t limit, int64_t offset,
    void (*fn)(const struct record *, void *), void *arg, int64_t *total)
{
	sqlite3_stmt	*st;
	struct record	*rec;
	int64_t		 n = 0;

	*total = 0;
	st = db_prepare("SELECT count(*) FROM records WHERE patient_id = ?");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, patient_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = db_prepare(RECORD_COLUMNS "WHERE r.patient_id = ? AND "
	    "v.version = r.version ORDER BY r.created_at DESC, r.id DESC "
	    "LIMIT ? OFFSET ?");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, patient_id);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	rec = xmalloc(sizeof *rec);
	while (sqlite3_step(st) == SQLITE_ROW) {
		record_from_row(st, rec);
		fn(rec, arg);
		n++;
	}
	sqlite3_reset(st);
	free(rec);
	return n;
}

int64_t
records_versions(int64_t id, void (*fn)(const struct record *, void *), void *arg)
{
	sqlite3_stmt	*st;
	struct record	*rec;
	int64_t		 n = 0;

	st = db_prepare(RECORD_COLUMNS "WHERE r.id = ? ORDER BY v.version");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	rec = xmalloc(sizeof *rec);
	while (sqlite3_step(st) == SQLITE_ROW) {
		record_from_row(st, rec);
		fn(rec, arg);
		n++;
	}
	sqlite3_reset(st);
	free(rec);
	return n;
}

void
records_pack(msgpack_packer *pk, const struct record *rec)
{
	int	i;

	msgpack_pack_map(pk, 20);
	mp_pack_kv_int(pk, "id", rec->id);
	mp_pack_kv_int(pk, "patient_id", rec->patient_id);
	if (rec->appointment_id != 0)
		mp_pack_kv_int(pk, "appointment_id", rec->appointment_id);
	else
		mp_pack_kv_nil(pk, "appointment_id");
	mp_pack_kv_int(pk, "doctor_id", rec->doctor_id);
	mp_pack_kv_str(pk, "doctor_name", rec->doctor_name);
	mp_pack_kv_int(pk, "created_at", rec->created_at);
	mp_pack_kv_int(pk, "version", rec->version);
	mp_pack_kv_int(pk, "current_version", rec->current_version);
	mp_pack_kv_int(pk, "author_id", rec->author_id);
	mp_pack_kv_str(pk, "author_name", rec->author_name);
	mp_pack_kv_int(pk, "amended_at", rec->amended_at);
	mp_pack_str(pk, "amend_reason");
	mp_pack_str_or_nil(pk, rec->amend_reason[0] != '\0' ? rec->amend_reason : NULL);
	mp_pack_str(pk, "diagnosis_code");
	mp_pack_str_or_nil(pk, rec->diagnosis_code[0] != '\0' ?
	    rec->diagnosis_code : NULL);
	mp_pack_kv_str(pk, "diagnosis", rec->diagnosis);
	mp_pack_kv_str(pk, "symptoms", rec->symptoms);
	mp_pack_kv_str(pk, "findings", rec->findings);
	mp_pack_kv_str(pk, "notes", rec->notes);
	mp_pack_str(pk, "follow_up");
	mp_pack_str_or_nil(pk, rec->follow_up[0] != '\0' ? rec->follow_up : NULL);
	mp_pack_str(pk, "vitals");
	msgpack_pack_map(pk, VITAL__COUNT);
	for (i = 0; i < VITAL__COUNT; i++) {
		mp_pack_str(pk, record_vitals[i].name);
		if (!rec->has_vital[i])
			msgpack_pack_nil(pk);
		else if (record_vitals[i].whole)
			msgpack_pack_int64(pk, (int64_t)rec->vital[i]);
		else
			msgpack_pack_double(pk, rec->vital[i]);
	}
	mp_pack_kv_bool(pk, "is_current", rec->version == rec->current_version);
}
