/* op-patients.c -- patient records: patients.create, patients.search,
 * patients.get, patients.update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appointments.h"
#include "audit.h"
#include "clinic-time.h"
#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "ops.h"
#include "patients.h"
#include "users.h"
#include "util.h"

#define SEARCH_TEXT_MAX_CHARS	100
#define SEARCH_LIMIT_DEFAULT	20

/* The fields a caller may set; NULL: not given. */
struct patient_fields {
	const char	*full_name;
	const char	*date_of_birth;
	const char	*phone;
	const char	*email;		/* normalised into email_buf */
	const char	*address;
	const char	*emergency_contact;
	char		 email_buf[EMAIL_MAX + 1];
};

static int	read_patient_fields(struct req *, int name_required,
		    struct patient_fields *);
static int	arg_given(struct req *, const char *);
static int	caller_patient(struct req *, int64_t id, int has_id, struct patient *);
static int	doctor_keeps_patient(int64_t, void *);
static int	read_search_phone(struct req *, const char *key, const char *,
		    char *digits, size_t);
static int	looks_like_date(const char *);
static int	looks_like_phone(const char *);
static void	pack_patient_result(struct req *, const struct patient *);
static void	apply_field(char *dst, size_t dstlen, const char *src,
		    const char *name, char *changed, size_t changedlen);

/* A patient with their no-show count and flag: the desk sees wherever the
 * patient shows who tends not to come. */
static void
pack_patient_no_shows(msgpack_packer *pk, const struct patient *p)
{
	int64_t	n = appt_no_show_count(p->id);

	patients_pack_open(pk, p, 2);
	mp_pack_kv_int(pk, "no_show_count", n);
	mp_pack_kv_bool(pk, "no_show_flagged", appt_no_show_flagged(n));
}

static void
pack_patient_result(struct req *r, const struct patient *p)
{
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "patient");
	pack_patient_no_shows(&r->pk, p);
}

/* 1 if the argument is present and not nil. */
static int
arg_given(struct req *r, const char *key)
{
	const msgpack_object	*o = mp_map_get(r->args, key);

	return o != NULL && o->type != MSGPACK_OBJECT_NIL;
}

/*
 * Reads and checks the record's fields. Optional fields may be "" to clear
 * them. 0, or -1 with the error set.
 */
static int
read_patient_fields(struct req *r, int name_required, struct patient_fields *f)
{
	struct patient_words	 words;
	const char		*problem;

	memset(f, 0, sizeof *f);
	if (arg_str(r, "full_name", name_required ? ARG_REQUIRED : ARG_NULLABLE,
	    1, NAME_MAX_CHARS, &f->full_name) != 0 ||
	    arg_str(r, "date_of_birth", ARG_NULLABLE, 0, 10, &f->date_of_birth) != 0 ||
	    arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &f->phone) != 0 ||
	    arg_str(r, "email", ARG_NULLABLE, 0, EMAIL_MAX, &f->email) != 0 ||
	    arg_str(r, "address", ARG_NULLABLE | ARG_MULTILINE, 0,
	    PATIENT_ADDRESS_MAX_CHARS, &f->address) != 0 ||
	    arg_str(r, "emergency_contact", ARG_NULLABLE, 0,
	    PATIENT_EMERGENCY_MAX_CHARS, &f->emergency_contact) != 0)
		return -1;
	if (f->full_name != NULL) {
		patient_name_words(f->full_name, &words);
		if (words.n == 0)
			return req_fail(r, ERR_BAD_REQUEST,
			    "full_name: must hold a letter or a digit");
	}
	if (f->date_of_birth != NULL && *f->date_of_birth != '\0' &&
	    (problem = patient_dob_problem(f->date_of_birth, r->now)) != NULL)
		return req_fail(r, ERR_BAD_REQUEST, "date_of_birth: %s", problem);
	if (f->phone != NULL && *f->phone != '\0' && !phone_valid(f->phone))
		return req_fail(r, ERR_BAD_REQUEST, "phone: not a valid phone number");
	if (f->email != NULL && *f->email != '\0') {
		if (email_normalize(f->email, f->email_buf, sizeof f->email_buf) != 0)
			return req_fail(r, ERR_BAD_REQUEST,
			    "email: not a valid e-mail address");
		f->email = f->email_buf;
	}
	return 0;
}

/* --- patients.create --- */

int
op_patients_create(struct req *r)
{
	struct patient_fields	f;
	struct patient		p;

	if (args_only(r, "full_name", "date_of_birth", "phone", "email", "address",
	    "emergency_contact", NULL) != 0 || read_patient_fields(r, 1, &f) != 0)
		return OP_FAIL;
	memset(&p, 0, sizeof p);
	strlcpy_mf(p.full_name, f.full_name, sizeof p.full_name);
	if (f.date_of_birth != NULL)
		strlcpy_mf(p.date_of_birth, f.date_of_birth, sizeof p.date_of_birth);
	if (f.phone != NULL)
		strlcpy_mf(p.phone, f.phone, sizeof p.phone);
	if (f.email != NULL)
		strlcpy_mf(p.email, f.email, sizeof p.email);
	if (f.address != NULL)
		strlcpy_mf(p.address, f.address, sizeof p.address);
	if (f.emergency_contact != NULL)
		strlcpy_mf(p.emergency_contact, f.emergency_contact,
		    sizeof p.emergency_contact);
	p.created_at = p.updated_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (patients_insert(&p) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "patients.create", p.id, NULL, "patient %lld", (long long)p.id);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_patient_result(r, &p);
	return OP_OK;
}

/* --- patients.search --- */

static int
doctor_keeps_patient(int64_t patient_id, void *arg)
{
	int64_t	doctor_id = *(const int64_t *)arg;

	return doctor_id != 0 && appt_doctor_has_patient(doctor_id, patient_id);
}

/* "YYYY-MM-DD" by its shape; the calendar is checked later. */
static int
looks_like_date(const char *s)
{
	int	i;

	if (strlen(s) != 10)
		return 0;
	for (i = 0; i < 10; i++) {
		if ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return 0;
	}
	return 1;
}

/* Digits with the punctuation people type in phone numbers, and a digit. */
static int
looks_like_phone(const char *s)
{
	int	digits = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (strchr(" +-()", *s) == NULL)
			return 0;
	}
	return digits > 0;
}

static int
read_search_phone(struct req *r, const char *key, const char *phone,
    char *digits, size_t len)
{
	if (!looks_like_phone(phone))
		return req_fail(r, ERR_BAD_REQUEST,
		    "%s: a phone number or its first digits", key);
	patient_phone_digits(phone, digits, len);
	return 0;
}

int
op_patients_search(struct req *r)
{
	const char		*q = NULL, *name = NULL, *phone = NULL, *dob = NULL;
	char			 digits[PHONE_MAX + 1], *detail;
	char			 q_trimmed[SEARCH_TEXT_MAX_CHARS * 4 + 1];
	struct patient_query	 query;
	struct civil_date	 date;
	struct patient		 p;
	int64_t			 limit = SEARCH_LIMIT_DEFAULT, doctor_id = 0;
	int64_t			 ids[PATIENT_SEARCH_MAX];
	size_t			 n, i, len;

	if (args_only(r, "q", "name", "phone", "date_of_birth", "limit", NULL) != 0 ||
	    arg_str(r, "q", ARG_NULLABLE, 1, SEARCH_TEXT_MAX_CHARS, &q) != 0 ||
	    arg_str(r, "name", ARG_NULLABLE, 1, SEARCH_TEXT_MAX_CHARS, &name) != 0 ||
	    arg_str(r, "phone", ARG_NULLABLE, 1, PHONE_MAX, &phone) != 0 ||
	    arg_str(r, "date_of_birth", ARG_NULLABLE, 1, 10, &dob) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, PATIENT_SEARCH_MAX, &limit, NULL) != 0)
		return OP_FAIL;
	memset(&query, 0, sizeof query);
	query.limit = (size_t)limit;
	if (q != NULL) {
		if (name != NULL || phone != NULL || dob != NULL)
			return req_fail(r, ERR_BAD_REQUEST,
			    "q: give either q or name, phone and date_of_birth");
		/* Stray spaces must not turn a date into a phone number. */
		while (*q == ' ')
			q++;
		len = strlcpy_mf(q_trimmed, q, sizeof q_trimmed);
		while (len > 0 && q_trimmed[len - 1] == ' ')
			q_trimmed[--len] = '\0';
		q = q_trimmed;
		if (looks_like_date(q))
			dob = q;
		else if (looks_like_phone(q))
			phone = q;
		else
			name = q;
	}
	if (name != NULL) {
		if (patient_name_words(name, &query.name) != 0)
			return req_fail(r, ERR_BAD_REQUEST, "%s: too many words (max %d)",
			    q != NULL ? "q" : "name", PATIENT_WORDS_MAX);
		if (query.name.n == 0)
			return req_fail(r, ERR_BAD_REQUEST,
			    "%s: must hold a letter or a digit", q != NULL ? "q" : "name");
	}
	if (phone != NULL) {
		if (read_search_phone(r, q != NULL ? "q" : "phone", phone, digits,
		    sizeof digits) != 0)
			return OP_FAIL;
		query.phone_digits = digits;
	}
	if (dob != NULL) {
		if (date_parse(dob, &date) != 0)
			return req_fail(r, ERR_BAD_REQUEST,
			    "%s: must be a real date, YYYY-MM-DD",
			    q != NULL ? "q" : "date_of_birth");
		query.date_of_birth = dob;
	}
	if (name == NULL && phone == NULL && dob == NULL)
		return req_fail(r, ERR_BAD_REQUEST,
		    "give q, name, phone or date_of_birth to search by");
	if (req_role(r) == ROLE_DOCTOR) {
		/* A doctor sees only patients they have or had an appointment
		 * with; without a profile, that is nobody. */
		if (doctors_id_for_user(req_user_id(r), &doctor_id) != 0)
			doctor_id = 0;
		query.keep = doctor_keeps_patient;
		query.keep_arg = &doctor_id;
	}

	n = query.keep != NULL && doctor_id == 0 ? 0 : patients_search(&query, ids);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "patients");
	msgpack_pack_array(&r->pk, n);
	for (i = 0; i < n; i++) {
		if (patients_by_id(ids[i], &p) == 0)
			pack_patient_no_shows(&r->pk, &p);
		else
			msgpack_pack_nil(&r->pk);
	}
	detail = xasprintf("%s%s%s%s%s%s", name != NULL ? " name=" : "",
	    name != NULL ? name : "", phone != NULL ? " phone=" : "",
	    phone != NULL ? phone : "", dob != NULL ? " date_of_birth=" : "",
	    dob != NULL ? dob : "");
	audit_req(r, "patients.search", 0, NULL, "%s; %zu found%s", detail + 1, n,
	    req_role(r) == ROLE_DOCTOR ? " among own patients" : "");
	free(detail);
	return OP_OK;
}

/* --- patients.get, patients.update --- */

/*
 * The record a request is about: a patient's own (the id may be left out),
 * any for the desk, a doctor's own patients. 0, or -1 with the error set.
 */
static int
caller_patient(struct req *r, int64_t id, int has_id, struct patient *p)
{
	int64_t	doctor_id;

	if (req_role(r) == ROLE_PATIENT) {
		if (patients_by_user(req_user_id(r), p) != 0) {
			if (has_id)
				audit_req(r, "access.denied", id, r->op->name,
				    "not the caller's record");
			return req_fail(r, has_id ? ERR_FORBIDDEN : ERR_NOT_FOUND,
			    "no patient record is linked to this account");
		}
		/* Whether another id exists is none of the caller's business. */
		if (has_id && id != p->id) {
			audit_req(r, "access.denied", id, r->op->name,
			    "not the caller's record");
			return req_fail(r, ERR_FORBIDDEN,
			    "patients may only see and change their own record");
		}
		return 0;
	}
	if (!has_id)
		return req_fail(r, ERR_BAD_REQUEST, "id: required");
	if (patients_by_id(id, p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)id);
	if (req_role(r) == ROLE_DOCTOR &&
	    (doctors_id_for_user(req_user_id(r), &doctor_id) != 0 ||
	    !appt_doctor_has_patient(doctor_id, p->id))) {
		audit_req(r, "access.denied", p->id, r->op->name, "not the doctor's patient");
		return req_fail(r, ERR_FORBIDDEN,
		    "doctors see only patients they have or had an appointment with");
	}
	return 0;
}

int
op_patients_get(struct req *r)
{
	struct patient	p;
	int64_t		id = 0;
	int		has_id = 0;

	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_NULLABLE, 1, INT64_MAX, &id, &has_id) != 0 ||
	    caller_patient(r, id, has_id, &p) != 0)
		return OP_FAIL;
	audit_req(r, "patients.get", p.id, NULL, NULL);
	pack_patient_result(r, &p);
	return OP_OK;
}

/* Copies src into dst when given and different, naming the field in changed. */
static void
apply_field(char *dst, size_t dstlen, const char *src, const char *name,
    char *changed, size_t changedlen)
{
	size_t	used = strlen(changed);

	if (src == NULL || strcmp(dst, src) == 0)
		return;
	strlcpy_mf(dst, src, dstlen);
	snprintf(changed + used, changedlen - used, " %s", name);
}

int
op_patients_update(struct req *r)
{
	struct patient_fields	f;
	struct patient		p;
	char			changed[128] = "";
	int64_t			id = 0;
	int			has_id = 0;

	if (args_only(r, "id", "full_name", "date_of_birth", "phone", "email",
	    "address", "emergency_contact", NULL) != 0 ||
	    arg_int(r, "id", ARG_NULLABLE, 1, INT64_MAX, &id, &has_id) != 0)
		return OP_FAIL;
	if (req_role(r) == ROLE_PATIENT) {
		if (arg_given(r, "full_name") || arg_given(r, "date_of_birth"))
			return req_fail(r, ERR_FORBIDDEN,
			    "patients may change only phone, email, address and "
			    "emergency_contact; ask the front desk to correct %s",
			    arg_given(r, "full_name") ? "full_name" : "date_of_birth");
	}
	if (read_patient_fields(r, 0, &f) != 0 || caller_patient(r, id, has_id, &p) != 0)
		return OP_FAIL;
	apply_field(p.full_name, sizeof p.full_name, f.full_name, "full_name",
	    changed, sizeof changed);
	apply_field(p.date_of_birth, sizeof p.date_of_birth, f.date_of_birth,
	    "date_of_birth", changed, sizeof changed);
	apply_field(p.phone, sizeof p.phone, f.phone, "phone", changed, sizeof changed);
	apply_field(p.email, sizeof p.email, f.email, "email", changed, sizeof changed);
	apply_field(p.address, sizeof p.address, f.address, "address",
	    changed, sizeof changed);
	apply_field(p.emergency_contact, sizeof p.emergency_contact,
	    f.emergency_contact, "emergency_contact", changed, sizeof changed);
	if (changed[0] == '\0') {
		/* Nothing to write; the caller still read the record. */
		audit_req(r, "patients.update", p.id, NULL, "no change");
		pack_patient_result(r, &p);
		return OP_OK;
	}
	p.updated_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (patients_save(&p) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "patients.update", p.id, NULL, "changed%s", changed);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_patient_result(r, &p);
	return OP_OK;
}
