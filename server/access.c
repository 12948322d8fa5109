/* access.c -- the clinical access rule, break-the-glass grants and the ops
 * access.break_glass and access.break_glass_list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "appointments.h"
#include "audit.h"
#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "notifications.h"
#include "ops.h"
#include "patients.h"
#include "server.h"
#include "users.h"
#include "util.h"

#define BREAK_GLASS_LIST_MAX	200
#define BREAK_GLASS_LIST_DEFAULT 50

static int	access_refuse(struct req *, int64_t patient_id, const char *what,
		    const char *target, const char *why);
static int	access_refuse_missing(struct req *, int64_t patient_id,
		    const char *what, const char *target);
static const char *access_refusal(enum role);
static int	break_glass_notify(struct req *, const struct patient *,
		    const char *reason, int64_t grant_id);
static void	note_admin(int64_t, void *);

int64_t
access_own_patient(struct req *r)
{
	struct patient	p;

	if (req_role(r) != ROLE_PATIENT || patients_by_user(req_user_id(r), &p) != 0)
		return 0;
	return p.id;
}

int
access_patient_or_own(struct req *r, int has_patient, int64_t *patient_id,
    const char *missing)
{
	if (has_patient)
		return 0;
	if (req_role(r) != ROLE_PATIENT)
		return req_fail(r, ERR_BAD_REQUEST, "%s: required", missing);
	if ((*patient_id = access_own_patient(r)) == 0)
		return req_fail(r, ERR_NOT_FOUND,
		    "no patient record is linked to this account");
	return 0;
}

int64_t
access_own_doctor(struct req *r)
{
	int64_t	id = 0;

	if (req_role(r) != ROLE_DOCTOR || doctors_id_for_user(req_user_id(r), &id) != 0)
		return 0;
	return id;
}

int
access_break_glass_active(int64_t user_id, int64_t patient_id, int64_t now)
{
	sqlite3_stmt	*st;
	int		 found;

	st = db_prepare("SELECT 1 FROM break_glass WHERE user_id = ? AND "
	    "patient_id = ? AND expires_at > ? LIMIT 1");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, patient_id);
	sqlite3_bind_int64(st, 3, now);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

int64_t
access_break_glass_insert(int64_t user_id, int64_t patient_id, const char *reason,
    const char *addr, int64_t now, int64_t *expires_at)
{
	sqlite3_stmt	*st;

	*expires_at = now + (int64_t)server.cfg.break_glass_minutes * 60;
	if (*expires_at <= now)
		*expires_at = now + 1;
	st = db_prepare("INSERT INTO break_glass (user_id, patient_id, reason, "
	    "addr, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, patient_id);
	db_bind_text(st, 3, reason);
	db_bind_text(st, 4, addr != NULL ? addr : "");
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, *expires_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	return db_last_id();
}

void
access_break_glass_pack(msgpack_packer *pk, int64_t patient_id, int active_only,
    int64_t now, int64_t limit, int64_t offset)
{
	sqlite3_stmt	*st;
	uint32_t	 n = 0;
	int		 pass;

	st = db_prepare("SELECT b.id, b.user_id, u.full_name, u.role, b.patient_id, "
	    "p.full_name, b.reason, b.addr, b.created_at, b.expires_at "
	    "FROM break_glass b JOIN users u ON u.id = b.user_id "
	    "JOIN patients p ON p.id = b.patient_id "
	    "WHERE (?1 = 0 OR b.patient_id = ?1) AND (?2 = 0 OR b.expires_at > ?3) "
	    "ORDER BY b.id DESC LIMIT ?4 OFFSET ?5");
	if (st == NULL) {
		msgpack_pack_array(pk, 0);
		return;
	}
	/* The first pass counts, the second packs. */
	for (pass = 0; pass < 2; pass++) {
		sqlite3_bind_int64(st, 1, patient_id);
		sqlite3_bind_int(st, 2, active_only);
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_int64(st, 4, limit);
		sqlite3_bind_int64(st, 5, offset);
		if (pass == 1)
			msgpack_pack_array(pk, n);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (pass == 0) {
				n++;
				continue;
			}
			msgpack_pack_map(pk, 11);
			mp_pack_kv_int(pk, "id", sqlite3_column_int64(st, 0));
			mp_pack_kv_int(pk, "user_id", sqlite3_column_int64(st, 1));
			mp_pack_kv_str(pk, "user_name", db_col_text(st, 2));
			mp_pack_kv_str(pk, "role", db_col_text(st, 3));
			mp_pack_kv_int(pk, "patient_id", sqlite3_column_int64(st, 4));
			mp_pack_kv_str(pk, "patient_name", db_col_text(st, 5));
			mp_pack_kv_str(pk, "reason", db_col_text(st, 6));
			mp_pack_kv_str(pk, "addr", db_col_text(st, 7));
			mp_pack_kv_int(pk, "created_at", sqlite3_column_int64(st, 8));
			mp_pack_kv_int(pk, "expires_at", sqlite3_column_int64(st, 9));
			mp_pack_kv_bool(pk, "active", sqlite3_column_int64(st, 9) > now);
		}
		sqlite3_reset(st);
	}
}

static int
access_refuse(struct req *r, int64_t patient_id, const char *what,
    const char *target, const char *why)
{
	audit_req(r, "access.denied", patient_id, what, "%s%s%s",
	    target != NULL ? target : "", target != NULL ? ": " : "", why);
	return req_fail(r, ERR_FORBIDDEN, "%s: %s", what, why);
}

/*
 * A patient id that names nobody gets the refusal someone else's chart gets,
 * so ids tell no one which patients exist (records and prescriptions answer
 * a missing id the same way). The audit row says what was probed, under no
 * patient: the id may be given to a patient later.
 */
static int
access_refuse_missing(struct req *r, int64_t patient_id, const char *what,
    const char *target)
{
	audit_req(r, "access.denied", 0, what, "%s%sno patient with id %lld",
	    target != NULL ? target : "", target != NULL ? ": " : "",
	    (long long)patient_id);
	return req_fail(r, ERR_FORBIDDEN, "%s: %s", what,
	    access_refusal(req_role(r)));
}

/* Why a caller of this role is refused a chart that is not theirs. */
static const char *
access_refusal(enum role role)
{
	switch (role) {
	case ROLE_PATIENT:
		return "patients may see only their own records";
	case ROLE_DOCTOR:
		return "not the doctor's patient; use access.break_glass with a "
		    "reason";
	case ROLE_ADMIN:
		return "admins see clinical data only through access.break_glass "
		    "with a reason";
	default:
		return "no clinical access for this role";
	}
}

int
access_clinical_missing(struct req *r, const char *what, const char *target)
{
	return access_refuse(r, 0, what, target, access_refusal(req_role(r)));
}

int
access_clinical(struct req *r, int64_t patient_id, const char *what,
    const char *target)
{
	struct patient	p;
	int64_t		doctor_id;
	const char	*basis = NULL;

	switch (req_role(r)) {
	case ROLE_PATIENT:
		if (patient_id == 0 || access_own_patient(r) != patient_id) {
			if (patient_id != 0 && patients_by_id(patient_id, &p) != 0)
				return access_refuse_missing(r, patient_id, what,
				    target);
			return access_refuse(r, patient_id, what, target,
			    access_refusal(ROLE_PATIENT));
		}
		basis = "own record";
		break;
	case ROLE_DOCTOR:
		if (patients_by_id(patient_id, &p) != 0)
			return access_refuse_missing(r, patient_id, what, target);
		if (doctors_id_for_user(req_user_id(r), &doctor_id) == 0 &&
		    appt_doctor_has_patient(doctor_id, patient_id))
			basis = "doctor's patient";
		else if (access_break_glass_active(req_user_id(r), patient_id, r->now))
			basis = "break-the-glass";
		else
			return access_refuse(r, patient_id, what, target,
			    access_refusal(ROLE_DOCTOR));
		break;
	case ROLE_ADMIN:
		if (patients_by_id(patient_id, &p) != 0)
			return access_refuse_missing(r, patient_id, what, target);
		if (!access_break_glass_active(req_user_id(r), patient_id, r->now))
			return access_refuse(r, patient_id, what, target,
			    access_refusal(ROLE_ADMIN));
		basis = "break-the-glass";
		break;
	default:
		return access_refuse(r, patient_id, what, target,
		    access_refusal(req_role(r)));
	}
	audit_req(r, what, patient_id, target, "via %s", basis);
	return 0;
}

/* --- access.break_glass, access.break_glass_list --- */

struct glass_note {
	int64_t		 actor_id;
	int64_t		 grant_id;
	int64_t		 now;
	const char	*title;
	const char	*body;
	int		 failed;
};

static void
note_admin(int64_t admin_id, void *arg)
{
	struct glass_note	*n = arg;

	if (admin_id != n->actor_id && notifications_create(admin_id,
	    "break_glass", n->title, n->body, n->grant_id, n->now) != 0)
		n->failed = 1;
}

/*
 * The patient whose chart was opened (if they have a login) and every other
 * admin hear of it in the app; inside the grant's transaction. 0 or -1.
 */
static int
break_glass_notify(struct req *r, const struct patient *p, const char *reason,
    int64_t grant_id)
{
	struct glass_note	 n;
	struct user		 u;
	char			*body;
	int			 rc = 0;

	if (users_by_id(req_user_id(r), &u) != 0)
		return -1;
	memset(&n, 0, sizeof n);
	n.actor_id = u.id;
	n.grant_id = grant_id;
	n.now = r->now;
	if (p->user_id != 0 && p->user_id != u.id) {
		body = xasprintf("%s (%s) opened your medical chart for %d minutes "
		    "through break-the-glass. Reason given: %s", u.full_name,
		    role_name(u.role), server.cfg.break_glass_minutes, reason);
		rc = notifications_create(p->user_id, "break_glass",
		    "Your chart was opened in an emergency", body, grant_id, r->now);
		free(body);
	}
	n.title = "Break-the-glass";
	n.body = body = xasprintf("%s (%s) opened the chart of %s (patient %lld): "
	    "%s", u.full_name, role_name(u.role), p->full_name, (long long)p->id,
	    reason);
	if (rc == 0)
		users_each_active_in_role(ROLE_ADMIN, note_admin, &n);
	free(body);
	return rc == 0 && !n.failed ? 0 : -1;
}

int
op_access_break_glass(struct req *r)
{
	struct patient	 p;
	const char	*reason;
	int64_t		 patient_id, id, expires_at;

	if (args_only(r, "patient_id", "reason", NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_REQUIRED, 1, INT64_MAX, &patient_id,
	    NULL) != 0 ||
	    arg_str(r, "reason", ARG_REQUIRED | ARG_MULTILINE,
	    BREAK_GLASS_REASON_MIN_CHARS, BREAK_GLASS_REASON_MAX_CHARS,
	    &reason) != 0)
		return OP_FAIL;
	if (patients_by_id(patient_id, &p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld",
		    (long long)patient_id);
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	id = access_break_glass_insert(req_user_id(r), patient_id, reason,
	    req_addr(r), r->now, &expires_at);
	if (id < 0 || break_glass_notify(r, &p, reason, id) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "access.break_glass", patient_id, NULL,
	    "grant %lld until %lld: %s", (long long)id, (long long)expires_at, reason);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "break_glass");
	msgpack_pack_map(&r->pk, 4);
	mp_pack_kv_int(&r->pk, "id", id);
	mp_pack_kv_int(&r->pk, "patient_id", patient_id);
	mp_pack_kv_int(&r->pk, "created_at", r->now);
	mp_pack_kv_int(&r->pk, "expires_at", expires_at);
	return OP_OK;
}

int
op_access_break_glass_list(struct req *r)
{
	int64_t	patient_id = 0, limit = BREAK_GLASS_LIST_DEFAULT, offset = 0;
	int	active_only = 0;

	if (args_only(r, "patient_id", "active", "limit", "offset", NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    NULL) != 0 ||
	    arg_bool(r, "active", ARG_NULLABLE, &active_only, NULL) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, BREAK_GLASS_LIST_MAX, &limit,
	    NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT64_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "entries");
	access_break_glass_pack(&r->pk, patient_id, active_only, r->now, limit,
	    offset);
	return OP_OK;
}
