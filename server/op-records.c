/* op-records.c -- medical records: records.create, records.amend,
 * records.get, records.list, records.versions. Who may touch which patient
 * is decided by access_clinical. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "appointments.h"
#include "audit.h"
#include "clinic-time.h"
#include "db.h"
#include "doctors.h"
#include "files.h"
#include "mp.h"
#include "ops.h"
#include "patients.h"
#include "prescriptions.h"
#include "records.h"
#include "util.h"

#define RECORDS_LIST_MAX	100
#define RECORDS_LIST_DEFAULT	20
#define HISTORY_LIMIT_MAX	100
#define HISTORY_LIMIT_DEFAULT	50

struct records_list_state {
	msgpack_packer	*pk;
};

static int	read_record_fields(struct req *, int creating, struct record *);
static int	read_text(struct req *, const char *key, int flags, size_t min,
		    size_t max, char *dst, size_t dstlen);
static int	read_vitals(struct req *, struct record *);
static void	pack_one(const struct record *, void *);
static void	count_appt(const struct appt *, void *);
static void	pack_appt(const struct appt *, void *);
static void	pack_rx(const struct rx *, void *);
static void	pack_file(const struct file_row *, void *);
static int	record_for_caller(struct req *, int64_t id, int version,
		    struct record *);

/* Copies an optional string argument into dst when given. */
static int
read_text(struct req *r, const char *key, int flags, size_t min, size_t max,
    char *dst, size_t dstlen)
{
	const char	*s = NULL;

	if (arg_str(r, key, flags, min, max, &s) != 0)
		return -1;
	if (s != NULL)
		strlcpy_mf(dst, s, dstlen);
	return 0;
}

/* Reads the vitals map: each key replaces one value; nil clears it. */
static int
read_vitals(struct req *r, struct record *rec)
{
	const msgpack_object	*o = mp_map_get(r->args, "vitals");
	const msgpack_object	*k, *v;
	double			 d;
	uint32_t		 i;
	int			 j;

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (o->type != MSGPACK_OBJECT_MAP)
		return req_fail(r, ERR_BAD_REQUEST, "vitals: must be a map");
	for (i = 0; i < o->via.map.size; i++) {
		k = &o->via.map.ptr[i].key;
		v = &o->via.map.ptr[i].val;
		for (j = 0; j < VITAL__COUNT; j++) {
			if (k->type == MSGPACK_OBJECT_STR &&
			    mp_str_eq(k, record_vitals[j].name))
				break;
		}
		if (j == VITAL__COUNT)
			return req_fail(r, ERR_BAD_REQUEST, "vitals: unknown field; "
			    "allowed are bp_systolic, bp_diastolic, pulse, "
			    "temperature_c, weight_kg, height_cm");
		if (v->type == MSGPACK_OBJECT_NIL) {
			rec->has_vital[j] = 0;
			continue;
		}
		if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			d = (double)v->via.u64;
		else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			d = (double)v->via.i64;
		else if ((v->type == MSGPACK_OBJECT_FLOAT32 ||
		    v->type == MSGPACK_OBJECT_FLOAT64) && !record_vitals[j].whole)
			d = v->via.f64;
		else
			return req_fail(r, ERR_BAD_REQUEST, "vitals.%s: must be %s",
			    record_vitals[j].name, record_vitals[j].whole ?
			    "a whole number" : "a number");
		if (!(d >= record_vitals[j].min && d <= record_vitals[j].max))
			return req_fail(r, ERR_BAD_REQUEST,
			    "vitals.%s: must be from %g to %g", record_vitals[j].name,
			    record_vitals[j].min, record_vitals[j].max);
		rec->has_vital[j] = 1;
		rec->vital[j] = d;
	}
	if (rec->has_vital[VITAL_BP_SYSTOLIC] != rec->has_vital[VITAL_BP_DIASTOLIC])
		return req_fail(r, ERR_BAD_REQUEST,
		    "vitals: give bp_systolic and bp_diastolic together");
	if (rec->has_vital[VITAL_BP_SYSTOLIC] &&
	    rec->vital[VITAL_BP_DIASTOLIC] >= rec->vital[VITAL_BP_SYSTOLIC])
		return req_fail(r, ERR_BAD_REQUEST,
		    "vitals.bp_diastolic: must be below bp_systolic");
	return 0;
}

/*
 * Reads the clinical fields over *rec (an amendment starts from the current
 * version). Optional text may be "" to clear it. 0, or -1 with the error.
 */
static int
read_record_fields(struct req *r, int creating, struct record *rec)
{
	struct civil_date	 date;
	const char		*problem;

	if (read_text(r, "diagnosis_code", ARG_NULLABLE, 0, RECORD_CODE_MAX_CHARS,
	    rec->diagnosis_code, sizeof rec->diagnosis_code) != 0 ||
	    read_text(r, "diagnosis", creating ? ARG_REQUIRED : ARG_NULLABLE, 1,
	    RECORD_DIAGNOSIS_MAX_CHARS, rec->diagnosis, sizeof rec->diagnosis) != 0 ||
	    read_text(r, "symptoms", ARG_NULLABLE | ARG_MULTILINE, 0,
	    RECORD_TEXT_MAX_CHARS, rec->symptoms, sizeof rec->symptoms) != 0 ||
	    read_text(r, "findings", ARG_NULLABLE | ARG_MULTILINE, 0,
	    RECORD_TEXT_MAX_CHARS, rec->findings, sizeof rec->findings) != 0 ||
	    read_text(r, "notes", ARG_NULLABLE | ARG_MULTILINE, 0,
	    RECORD_TEXT_MAX_CHARS, rec->notes, sizeof rec->notes) != 0 ||
	    read_text(r, "follow_up", ARG_NULLABLE, 0, 10, rec->follow_up,
	    sizeof rec->follow_up) != 0 ||
	    read_vitals(r, rec) != 0)
		return -1;
	if (rec->diagnosis_code[0] != '\0' &&
	    (problem = record_code_problem(rec->diagnosis_code)) != NULL)
		return req_fail(r, ERR_BAD_REQUEST, "diagnosis_code: %s", problem);
	if (rec->follow_up[0] != '\0' && (strlen(rec->follow_up) != 10 ||
	    date_parse(rec->follow_up, &date) != 0))
		return req_fail(r, ERR_BAD_REQUEST,
		    "follow_up: must be a real date, YYYY-MM-DD");
	return 0;
}

static void
pack_one(const struct record *rec, void *arg)
{
	records_pack(arg, rec);
}

/* The record (a version, 0: current) if the caller may read its patient. */
static int
record_for_caller(struct req *r, int64_t id, int version, struct record *rec)
{
	char	target[64];

	if (req_role(r) == ROLE_RECEPTIONIST)
		return access_clinical(r, 0, r->op->name, NULL);
	if (records_by_id(id, version, rec) != 0) {
		/* Whether a record exists is itself clinical: a missing id
		 * gets the forbidden someone else's record gets. */
		snprintf(target, sizeof target, "record %lld", (long long)id);
		if (version == 0 || records_by_id(id, 0, rec) != 0)
			return access_clinical_missing(r, r->op->name, target);
		if (access_clinical(r, rec->patient_id, r->op->name, target) != 0)
			return -1;
		return req_fail(r, ERR_NOT_FOUND, "record %lld has no version %d",
		    (long long)id, version);
	}
	snprintf(target, sizeof target, "record %lld v%d", (long long)id, rec->version);
	return access_clinical(r, rec->patient_id, r->op->name, target);
}

/* --- records.create --- */

int
op_records_create(struct req *r)
{
	struct record	*rec;
	struct appt	 a;
	char		 target[64];
	int64_t		 patient_id, appointment_id = 0;
	int		 has_appt = 0, status = OP_FAIL;

	rec = xcalloc(1, sizeof *rec);
	if (args_only(r, "patient_id", "appointment_id", "diagnosis_code",
	    "diagnosis", "symptoms", "findings", "vitals", "notes", "follow_up",
	    NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_REQUIRED, 1, INT64_MAX, &patient_id,
	    NULL) != 0 ||
	    arg_int(r, "appointment_id", ARG_NULLABLE, 1, INT64_MAX,
	    &appointment_id, &has_appt) != 0 ||
	    read_record_fields(r, 1, rec) != 0)
		goto out;
	if (doctors_id_for_user(req_user_id(r), &rec->doctor_id) != 0) {
		req_fail(r, ERR_FORBIDDEN, "records.create: the caller has no "
		    "doctor profile");
		goto out;
	}
	if (has_appt && (appt_by_id(appointment_id, &a) != 0 ||
	    a.patient_id != patient_id)) {
		req_fail(r, ERR_BAD_REQUEST, "appointment_id: no appointment %lld "
		    "of patient %lld", (long long)appointment_id,
		    (long long)patient_id);
		goto out;
	}
	/* Decided (and audited) before the transaction, so a refusal's
	 * audit row is not rolled back with it. */
	if (access_clinical(r, patient_id, "records.create", NULL) != 0)
		goto out;
	if (db_begin() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	rec->patient_id = patient_id;
	rec->appointment_id = has_appt ? appointment_id : 0;
	rec->created_at = rec->amended_at = r->now;
	rec->author_id = req_user_id(r);
	if (records_insert(rec) != 0) {
		db_rollback();
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	snprintf(target, sizeof target, "record %lld v1", (long long)rec->id);
	audit_req(r, "records.written", patient_id, target, "created");
	if (db_commit() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	if (records_by_id(rec->id, 0, rec) != 0) {
		req_fail(r, ERR_INTERNAL, "record vanished");
		goto out;
	}
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "record");
	records_pack(&r->pk, rec);
	status = OP_OK;
out:
	free(rec);
	return status;
}

/* --- records.amend --- */

int
op_records_amend(struct req *r)
{
	struct record	*rec;
	char		 target[64];
	const char	*reason = NULL;
	int64_t		 id;
	int		 status = OP_FAIL;

	rec = xcalloc(1, sizeof *rec);
	if (args_only(r, "id", "reason", "diagnosis_code", "diagnosis",
	    "symptoms", "findings", "vitals", "notes", "follow_up", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0 ||
	    arg_str(r, "reason", ARG_REQUIRED | ARG_MULTILINE, 1,
	    RECORD_REASON_MAX_CHARS, &reason) != 0)
		goto out;
	/* Access before anything about the record's content or existence,
	 * and a missing id answered like someone else's record: an amend
	 * must not tell a doctor which ids exist. */
	snprintf(target, sizeof target, "record %lld", (long long)id);
	if (records_by_id(id, 0, rec) != 0) {
		access_clinical_missing(r, "records.amend", target);
		goto out;
	}
	if (access_clinical(r, rec->patient_id, "records.amend", target) != 0)
		goto out;
	if (read_record_fields(r, 0, rec) != 0)
		goto out;
	if (db_begin() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	strlcpy_mf(rec->amend_reason, reason, sizeof rec->amend_reason);
	rec->author_id = req_user_id(r);
	rec->amended_at = r->now;
	if (records_amend(rec) != 0) {
		db_rollback();
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	snprintf(target, sizeof target, "record %lld v%d", (long long)id,
	    rec->version);
	audit_req(r, "records.written", rec->patient_id, target, "amended: %s",
	    reason);
	if (db_commit() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	if (records_by_id(id, 0, rec) != 0) {
		req_fail(r, ERR_INTERNAL, "record vanished");
		goto out;
	}
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "record");
	records_pack(&r->pk, rec);
	status = OP_OK;
out:
	free(rec);
	return status;
}

/* --- records.get, records.versions, records.list --- */

int
op_records_get(struct req *r)
{
	struct record	*rec;
	int64_t		 id, version = 0;
	int		 status = OP_FAIL;

	rec = xcalloc(1, sizeof *rec);
	if (args_only(r, "id", "version", NULL) == 0 &&
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) == 0 &&
	    arg_int(r, "version", ARG_NULLABLE, 1, INT32_MAX, &version, NULL) == 0 &&
	    record_for_caller(r, id, (int)version, rec) == 0) {
		msgpack_pack_map(&r->pk, 1);
		mp_pack_str(&r->pk, "record");
		records_pack(&r->pk, rec);
		status = OP_OK;
	}
	free(rec);
	return status;
}

int
op_records_versions(struct req *r)
{
	struct record	*rec;
	int64_t		 id;
	int		 status = OP_FAIL;

	rec = xcalloc(1, sizeof *rec);
	if (args_only(r, "id", NULL) == 0 &&
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) == 0 &&
	    record_for_caller(r, id, 0, rec) == 0) {
		msgpack_pack_map(&r->pk, 1);
		mp_pack_str(&r->pk, "versions");
		msgpack_pack_array(&r->pk, (uint32_t)rec->current_version);
		if (records_versions(id, pack_one, &r->pk) != rec->current_version)
			abort();	/* versions are never deleted */
		status = OP_OK;
	}
	free(rec);
	return status;
}

int
op_records_list(struct req *r)
{
	int64_t	patient_id = 0, limit = RECORDS_LIST_DEFAULT, offset = 0, total, n;
	int	has_patient = 0;
	char	target[64];

	if (args_only(r, "patient_id", "limit", "offset", NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, RECORDS_LIST_MAX, &limit, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT64_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	/* A patient may leave out their own id. */
	if (access_patient_or_own(r, has_patient, &patient_id, "patient_id") != 0)
		return OP_FAIL;
	snprintf(target, sizeof target, "offset %lld limit %lld",
	    (long long)offset, (long long)limit);
	if (access_clinical(r, patient_id, "records.list", target) != 0)
		return OP_FAIL;
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "records");
	/* Count first so the array's length is known before packing. */
	records_list(patient_id, 0, 0, pack_one, NULL, &total);
	n = total - offset;
	if (n < 0)
		n = 0;
	if (n > limit)
		n = limit;
	msgpack_pack_array(&r->pk, (uint32_t)n);
	records_list(patient_id, limit, offset, pack_one, &r->pk, &total);
	mp_pack_kv_int(&r->pk, "total", total);
	return OP_OK;
}

/* --- patients.history --- */

static void
count_appt(const struct appt *a, void *arg)
{
	(void)a;
	(*(int64_t *)arg)++;
}

static void
pack_appt(const struct appt *a, void *arg)
{
	appt_pack(arg, a);
}

static void
pack_rx(const struct rx *x, void *arg)
{
	struct req	*r = arg;

	rx_pack(&r->pk, x, r->now);
}

static void
pack_file(const struct file_row *f, void *arg)
{
	files_pack(arg, f);
}

int
op_patients_history(struct req *r)
{
	struct appt_filter	f;
	struct patient		p;
	int64_t			patient_id = 0, limit = HISTORY_LIMIT_DEFAULT;
	int64_t			nappts = 0, total, n;
	int			has_patient = 0;

	if (args_only(r, "patient_id", "limit", NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, HISTORY_LIMIT_MAX, &limit,
	    NULL) != 0)
		return OP_FAIL;
	if (access_patient_or_own(r, has_patient, &patient_id, "patient_id") != 0)
		return OP_FAIL;
	if (access_clinical(r, patient_id, "patients.history", NULL) != 0)
		return OP_FAIL;
	if (patients_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld",
		    (long long)patient_id);
	msgpack_pack_map(&r->pk, 5);
	mp_pack_str(&r->pk, "patient");
	patients_pack(&r->pk, &p);

	/* The latest appointments, in time order. */
	memset(&f, 0, sizeof f);
	f.patient_id = patient_id;
	f.from = INT64_MIN;
	f.to = INT64_MAX;
	f.status = -1;
	f.limit = -1;
	appt_list(&f, count_appt, &nappts);
	f.limit = limit;
	f.offset = nappts > limit ? nappts - limit : 0;
	mp_pack_str(&r->pk, "appointments");
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "items");
	msgpack_pack_array(&r->pk, (uint32_t)(nappts - f.offset));
	appt_list(&f, pack_appt, &r->pk);
	mp_pack_kv_int(&r->pk, "total", nappts);

	mp_pack_str(&r->pk, "records");
	records_list(patient_id, 0, 0, pack_one, NULL, &total);
	n = total < limit ? total : limit;
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "items");
	msgpack_pack_array(&r->pk, (uint32_t)n);
	records_list(patient_id, limit, 0, pack_one, &r->pk, &total);
	mp_pack_kv_int(&r->pk, "total", total);

	mp_pack_str(&r->pk, "prescriptions");
	rx_list(patient_id, 0, 0, NULL, NULL, &total);
	n = total < limit ? total : limit;
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "items");
	msgpack_pack_array(&r->pk, (uint32_t)n);
	rx_list(patient_id, limit, 0, pack_rx, r, &total);
	mp_pack_kv_int(&r->pk, "total", total);

	mp_pack_str(&r->pk, "files");
	total = files_list(0, patient_id, INT64_MAX, NULL, NULL);
	n = total < limit ? total : limit;
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "items");
	msgpack_pack_array(&r->pk, (uint32_t)n);
	files_list(0, patient_id, limit, pack_file, &r->pk);
	mp_pack_kv_int(&r->pk, "total", total);
	return OP_OK;
}
