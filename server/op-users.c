/* op-users.c -- admin user management: users.list, users.get, users.create,
 * users.update, users.deactivate, users.reset_password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "clock.h"
#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "ops.h"
#include "password.h"
#include "patients.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "util.h"

static const char *const role_names[] = {
	"patient", "doctor", "receptionist", "admin", NULL
};
static const enum role role_values[] = {
	ROLE_PATIENT, ROLE_DOCTOR, ROLE_RECEPTIONIST, ROLE_ADMIN
};

#define LIST_LIMIT_MAX	200

/* A doctor login gets a profile, a patient login a patient record. */
static int
users_ensure_profile(const struct user *u, int64_t now)
{
	if (u->role == ROLE_DOCTOR)
		return doctors_ensure(u->id, now) < 0 ? -1 : 0;
	if (u->role == ROLE_PATIENT) {
		struct patient	p;

		if (patients_by_user(u->id, &p) == 0)
			return 0;
		return patients_attach_user(u->id, u->email, u->full_name,
		    u->phone, NULL, now) < 0 ? -1 : 0;
	}
	return 0;
}

int
op_users_list(struct req *r)
{
	static const char *sql = "SELECT id FROM users WHERE "
	    "(?1 IS NULL OR role = ?1) AND (?2 IS NULL OR active = ?2) AND "
	    "(?3 IS NULL OR full_name LIKE ?3 ESCAPE '\\' OR email LIKE ?3 ESCAPE '\\') "
	    "ORDER BY full_name COLLATE NOCASE, id LIMIT ?4 OFFSET ?5";
	static const char *count_sql = "SELECT count(*) FROM users WHERE "
	    "(?1 IS NULL OR role = ?1) AND (?2 IS NULL OR active = ?2) AND "
	    "(?3 IS NULL OR full_name LIKE ?3 ESCAPE '\\' OR email LIKE ?3 ESCAPE '\\')";
	const char	*q = NULL;
	char		*pattern;
	int		 role = -1, has_role = 0, active = 0, has_active = 0;
	int64_t		 limit = 50, offset = 0, total = 0, ids[LIST_LIMIT_MAX];
	size_t		 n = 0, i;
	sqlite3_stmt	*st;
	struct user	 u;

	if (args_only(r, "role", "active", "q", "limit", "offset", NULL) != 0 ||
	    arg_enum(r, "role", ARG_NULLABLE, role_names, &role, &has_role) != 0 ||
	    arg_bool(r, "active", ARG_NULLABLE, &active, &has_active) != 0 ||
	    arg_str(r, "q", ARG_NULLABLE, 0, 100, &q) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, LIST_LIMIT_MAX, &limit, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT32_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	pattern = db_like_contains(q);
	st = db_prepare(count_sql);
	if (has_role)
		db_bind_text(st, 1, role_names[role]);
	if (has_active)
		sqlite3_bind_int(st, 2, active);
	db_bind_text(st, 3, pattern);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);

	st = db_prepare(sql);
	if (has_role)
		db_bind_text(st, 1, role_names[role]);
	if (has_active)
		sqlite3_bind_int(st, 2, active);
	db_bind_text(st, 3, pattern);
	sqlite3_bind_int64(st, 4, limit);
	sqlite3_bind_int64(st, 5, offset);
	while (n < LIST_LIMIT_MAX && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	free(pattern);

	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "users");
	msgpack_pack_array(&r->pk, n);
	for (i = 0; i < n; i++) {
		if (users_by_id(ids[i], &u) == 0)
			users_pack(&r->pk, &u);
		else
			msgpack_pack_nil(&r->pk);
	}
	mp_pack_kv_int(&r->pk, "total", total);
	return OP_OK;
}

static int
user_arg(struct req *r, struct user *u)
{
	int64_t	id;

	if (arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return -1;
	if (users_by_id(id, u) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no user with id %lld", (long long)id);
	return 0;
}

static void
pack_user_result(struct req *r, const struct user *u, const char *temp_password)
{
	msgpack_pack_map(&r->pk, temp_password != NULL ? 2 : 1);
	mp_pack_str(&r->pk, "user");
	users_pack(&r->pk, u);
	if (temp_password != NULL)
		mp_pack_kv_str(&r->pk, "temporary_password", temp_password);
}

int
op_users_get(struct req *r)
{
	struct user	u;

	if (args_only(r, "id", NULL) != 0 || user_arg(r, &u) != 0)
		return OP_FAIL;
	pack_user_result(r, &u, NULL);
	return OP_OK;
}

/* --- users.create --- */

static void
create_done(struct req *r, struct pw_job *j)
{
	struct user	 u;
	const char	*full_name, *phone = NULL;
	int		 role = 0, rc;

	r->now = clock_now();
	if (j->policy_error != NULL) {
		req_finish(r, req_fail(r, ERR_BAD_REQUEST, "password: %s", j->policy_error));
		return;
	}
	if (j->failed) {
		req_finish(r, req_fail(r, ERR_INTERNAL, "cannot hash the password"));
		return;
	}
	/* All validated before the job was queued. */
	arg_str(r, "full_name", ARG_REQUIRED, 1, NAME_MAX_CHARS, &full_name);
	arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &phone);
	arg_enum(r, "role", ARG_REQUIRED, role_names, &role, NULL);
	memset(&u, 0, sizeof u);
	strlcpy_mf(u.email, j->email, sizeof u.email);
	strlcpy_mf(u.full_name, full_name, sizeof u.full_name);
	if (phone != NULL)
		strlcpy_mf(u.phone, phone, sizeof u.phone);
	strlcpy_mf(u.password_hash, j->newhash, sizeof u.password_hash);
	u.role = role_values[role];
	u.active = 1;
	u.created_at = u.updated_at = r->now;
	if (db_begin() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	if ((rc = users_insert(&u)) != 0) {
		db_rollback();
		req_finish(r, rc == -1 ?
		    req_fail(r, ERR_CONFLICT, "an account with this e-mail already exists") :
		    req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	if (users_ensure_profile(&u, r->now) != 0) {
		db_rollback();
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	audit_req(r, "users.create", 0, u.email, "user %lld role %s",
	    (long long)u.id, role_name(u.role));
	if (db_commit() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	/* A generated password is shown once, to the admin who made it. */
	pack_user_result(r, &u, mp_map_get(r->args, "password") == NULL ||
	    mp_map_get(r->args, "password")->type == MSGPACK_OBJECT_NIL ?
	    j->new_password : NULL);
	req_finish(r, OP_OK);
}

int
op_users_create(struct req *r)
{
	const char	*email_arg, *password = NULL, *full_name, *phone = NULL;
	char		 email[EMAIL_MAX + 1];
	int		 role;
	struct user	 u;

	if (args_only(r, "email", "full_name", "role", "password", "phone", NULL) != 0 ||
	    arg_str(r, "email", ARG_REQUIRED, 1, EMAIL_MAX, &email_arg) != 0 ||
	    arg_str(r, "full_name", ARG_REQUIRED, 1, NAME_MAX_CHARS, &full_name) != 0 ||
	    arg_enum(r, "role", ARG_REQUIRED, role_names, &role, NULL) != 0 ||
	    arg_str(r, "password", ARG_NULLABLE, 1, 1024, &password) != 0 ||
	    arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &phone) != 0)
		return OP_FAIL;
	if (email_normalize(email_arg, email, sizeof email) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "email: not a valid e-mail address");
	if (phone != NULL && *phone != '\0' && !phone_valid(phone))
		return req_fail(r, ERR_BAD_REQUEST, "phone: not a valid phone number");
	if (users_by_email(email, &u) == 0)
		return req_fail(r, ERR_CONFLICT, "an account with this e-mail already exists");
	/* No password: the worker generates one (NULL new_password). */
	return pw_job_submit(r, pw_job_new(PW_NEW, NULL, password, NULL, email),
	    create_done);
}

/* --- users.update, users.deactivate --- */

int
op_users_update(struct req *r)
{
	const char	*email_arg = NULL, *full_name = NULL, *phone = NULL;
	char		 email[EMAIL_MAX + 1];
	int		 role = -1, has_role = 0, active = 1, has_active = 0, rc;
	struct user	 u, old;

	if (args_only(r, "id", "email", "full_name", "role", "phone", "active", NULL) != 0 ||
	    user_arg(r, &u) != 0 ||
	    arg_str(r, "email", ARG_NULLABLE, 1, EMAIL_MAX, &email_arg) != 0 ||
	    arg_str(r, "full_name", ARG_NULLABLE, 1, NAME_MAX_CHARS, &full_name) != 0 ||
	    arg_enum(r, "role", ARG_NULLABLE, role_names, &role, &has_role) != 0 ||
	    arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &phone) != 0 ||
	    arg_bool(r, "active", ARG_NULLABLE, &active, &has_active) != 0)
		return OP_FAIL;
	old = u;
	if (email_arg != NULL) {
		if (email_normalize(email_arg, email, sizeof email) != 0)
			return req_fail(r, ERR_BAD_REQUEST, "email: not a valid e-mail address");
		strlcpy_mf(u.email, email, sizeof u.email);
	}
	if (full_name != NULL)
		strlcpy_mf(u.full_name, full_name, sizeof u.full_name);
	if (phone != NULL) {
		if (*phone != '\0' && !phone_valid(phone))
			return req_fail(r, ERR_BAD_REQUEST, "phone: not a valid phone number");
		strlcpy_mf(u.phone, phone, sizeof u.phone);
	} else if (mp_map_get(r->args, "phone") != NULL)
		u.phone[0] = '\0';	/* phone: nil clears it */
	if (has_role)
		u.role = role_values[role];
	if (has_active)
		u.active = active;
	if (u.id == req_user_id(r) && (u.role != ROLE_ADMIN || !u.active))
		return req_fail(r, ERR_CONFLICT,
		    "you cannot remove your own admin role or deactivate yourself");
	u.updated_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if ((rc = users_save(&u)) != 0) {
		db_rollback();
		return rc == -1 ?
		    req_fail(r, ERR_CONFLICT, "an account with this e-mail already exists") :
		    req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (old.role != u.role && users_ensure_profile(&u, r->now) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	if (!u.active && old.active)
		session_revoke_user(u.id, r->now);
	audit_req(r, "users.update", 0, u.email, "user %lld%s%s%s%s%s",
	    (long long)u.id,
	    strcmp(old.email, u.email) != 0 ? " email" : "",
	    strcmp(old.full_name, u.full_name) != 0 ? " full_name" : "",
	    old.role != u.role ? " role" : "",
	    strcmp(old.phone, u.phone) != 0 ? " phone" : "",
	    old.active != u.active ? (u.active ? " activated" : " deactivated") : "");
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (old.role != u.role)
		session_set_user_role(u.id, u.role);
	pack_user_result(r, &u, NULL);
	return OP_OK;
}

int
op_users_deactivate(struct req *r)
{
	struct user	u;
	int		revoked;

	if (args_only(r, "id", NULL) != 0 || user_arg(r, &u) != 0)
		return OP_FAIL;
	if (u.id == req_user_id(r))
		return req_fail(r, ERR_CONFLICT, "you cannot deactivate yourself");
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	u.active = 0;
	u.updated_at = r->now;
	users_save(&u);
	revoked = session_revoke_user(u.id, r->now);
	audit_req(r, "users.deactivate", 0, u.email, "user %lld, %d sessions ended",
	    (long long)u.id, revoked);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_user_result(r, &u, NULL);
	return OP_OK;
}

/* --- users.reset_password --- */

static void
reset_done(struct req *r, struct pw_job *j)
{
	struct user	u;
	int64_t		id = 0;
	int		revoked;

	r->now = clock_now();
	if (j->policy_error != NULL) {
		req_finish(r, req_fail(r, ERR_BAD_REQUEST, "password: %s", j->policy_error));
		return;
	}
	arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL);
	if (j->failed || users_by_id(id, &u) != 0 || db_begin() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "cannot reset the password now"));
		return;
	}
	strlcpy_mf(u.password_hash, j->newhash, sizeof u.password_hash);
	u.failed_logins = 0;
	u.first_failed_at = 0;
	u.locked_until = 0;
	u.updated_at = r->now;
	users_save(&u);
	revoked = session_revoke_user(u.id, r->now);
	audit_req(r, "users.reset_password", 0, u.email,
	    "user %lld, %d sessions ended", (long long)u.id, revoked);
	if (db_commit() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	pack_user_result(r, &u, mp_map_get(r->args, "password") == NULL ||
	    mp_map_get(r->args, "password")->type == MSGPACK_OBJECT_NIL ?
	    j->new_password : NULL);
	req_finish(r, OP_OK);
}

int
op_users_reset_password(struct req *r)
{
	const char	*password = NULL;
	struct user	 u;

	if (args_only(r, "id", "password", NULL) != 0 || user_arg(r, &u) != 0 ||
	    arg_str(r, "password", ARG_NULLABLE, 1, 1024, &password) != 0)
		return OP_FAIL;
	/* No password: the worker generates one (NULL new_password). */
	return pw_job_submit(r, pw_job_new(PW_NEW, NULL, password, NULL, u.email),
	    reset_done);
}
