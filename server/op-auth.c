/* op-auth.c -- auth.register, auth.login, auth.resume, auth.logout, auth.me,
 * auth.change_password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "clock.h"
#include "conn.h"
#include "db.h"
#include "doctors.h"
#include "holds.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "password.h"
#include "patients.h"
#include "ratelimit.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "util.h"

extern struct ratelimit	*api_limits;

/* Failed attempts from a remote address (never loopback: doctors over SSH
 * and the desk behind one NAT must not lock each other out). */
static int
auth_addr_blocked(struct req *r)
{
	char	key[96];
	double	retry;

	if (r->conn->is_local)
		return 0;
	snprintf(key, sizeof key, "authfail:a:%s", r->conn->addr);
	if (ratelimit_peek(api_limits, key, server.cfg.rl_auth.limit,
	    server.cfg.rl_auth.window, clock_now_precise(), &retry) != 0) {
		r->retry_after = (int64_t)retry + 1;
		req_fail(r, ERR_RATE_LIMITED, "too many attempts; retry in %lld s",
		    (long long)r->retry_after);
		return 1;
	}
	return 0;
}

static void
auth_addr_failed(struct req *r)
{
	char	key[96];
	double	retry;

	if (r->conn->is_local)
		return;
	snprintf(key, sizeof key, "authfail:a:%s", r->conn->addr);
	ratelimit_hit(api_limits, key, server.cfg.rl_auth.limit,
	    server.cfg.rl_auth.window, clock_now_precise(), &retry);
}

/* Unknown addresses get the same lockout as real ones, so the answers do
 * not tell which e-mails have accounts. */
static void
ghost_key(const char *email, char *key, size_t len)
{
	snprintf(key, len, "authfail:e:%s", email);
}

/* Set, like locked_until, when an unknown address reaches the failure limit. */
static void
ghost_lock_key(const char *email, char *key, size_t len)
{
	snprintf(key, len, "authlock:e:%s", email);
}

static void
pack_login_result(struct req *r, const char *token, const struct session *s,
    const struct user *u)
{
	msgpack_pack_map(&r->pk, 3);
	mp_pack_kv_str(&r->pk, "token", token);
	mp_pack_kv_int(&r->pk, "expires_at", s->expires_at);
	mp_pack_str(&r->pk, "user");
	users_pack(&r->pk, u);
}

/* Starts a session on the request's connection; OP_OK or OP_FAIL. */
static int
auth_start_session(struct req *r, const struct user *u)
{
	char		 token[TOKEN_TEXT_SIZE];
	struct session	*s;

	if (r->conn->dead)
		return req_fail(r, ERR_UNAVAILABLE, "connection closed");
	s = session_create(u->id, u->role, r->conn->addr, r->now, token);
	if (s == NULL)
		return req_fail(r, ERR_UNAVAILABLE, "cannot store the session");
	conn_set_session(r->conn, s);
	if (r->session != NULL)
		session_unref(r->session);
	r->session = s;
	session_ref(s);
	pack_login_result(r, token, s, u);
	sodium_memzero(token, sizeof token);
	return OP_OK;
}

/*
 * Ends a login-like op inside its write transaction: a session on this
 * connection, the audit row, COMMIT (or ROLLBACK), and the reply.
 */
static void
auth_commit_session(struct req *r, const struct user *u, const char *action)
{
	int	status = auth_start_session(r, u);

	if (status == OP_OK) {
		audit_req(r, action, 0, u->email, "user %lld", (long long)u->id);
		if (db_commit() != 0)
			status = req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	} else
		db_rollback();
	req_finish(r, status);
}

/* --- auth.login --- */

static void
login_done(struct req *r, struct pw_job *j)
{
	struct user	u;
	char		key[EMAIL_MAX + 32];
	double		retry;
	int		found;

	r->now = clock_now();
	found = users_by_email(j->email, &u) == 0;
	if (!j->verified || !found) {
		auth_addr_failed(r);
		if (db_begin() == 0) {
			if (found) {
				if (u.first_failed_at == 0 ||
				    r->now - u.first_failed_at >= server.cfg.lockout_window) {
					u.failed_logins = 0;
					u.first_failed_at = r->now;
				}
				u.failed_logins++;
				if (u.failed_logins >= server.cfg.lockout_failures) {
					u.locked_until = r->now + server.cfg.lockout_duration;
					u.failed_logins = 0;
					u.first_failed_at = 0;
					audit_req(r, "auth.lockout", 0, u.email,
					    "locked for %d s", server.cfg.lockout_duration);
				}
				users_save(&u);
			} else {
				ghost_key(j->email, key, sizeof key);
				ratelimit_hit(api_limits, key, server.cfg.lockout_failures,
				    server.cfg.lockout_window, clock_now_precise(), &retry);
				if (ratelimit_peek(api_limits, key,
				    server.cfg.lockout_failures, server.cfg.lockout_window,
				    clock_now_precise(), &retry) != 0) {
					/* Locked for lockout_duration, as a real one is. */
					ratelimit_reset(api_limits, key);
					ghost_lock_key(j->email, key, sizeof key);
					ratelimit_hit(api_limits, key, 1,
					    server.cfg.lockout_duration,
					    clock_now_precise(), &retry);
				}
			}
			audit_req(r, "auth.login_failed", 0, j->email, NULL);
			db_commit();
		}
		req_finish(r, req_fail(r, ERR_UNAUTHENTICATED,
		    "wrong e-mail or password"));
		return;
	}
	if (!u.active) {
		audit_req(r, "auth.login_refused", 0, u.email, "account deactivated");
		req_finish(r, req_fail(r, ERR_FORBIDDEN, "this account is deactivated"));
		return;
	}
	if (db_begin() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	u.failed_logins = 0;
	u.first_failed_at = 0;
	u.locked_until = 0;
	u.last_login_at = r->now;
	if (j->rehashed)
		strlcpy_mf(u.password_hash, j->newhash, sizeof u.password_hash);
	users_save(&u);
	auth_commit_session(r, &u, "auth.login");
}

int
op_auth_login(struct req *r)
{
	const char	*email_arg, *password;
	char		 email[EMAIL_MAX + 1], key[EMAIL_MAX + 32];
	struct user	 u;
	double		 retry;
	const char	*hash;

	if (args_only(r, "email", "password", NULL) != 0 ||
	    arg_str(r, "email", ARG_REQUIRED, 1, EMAIL_MAX, &email_arg) != 0 ||
	    arg_str(r, "password", ARG_REQUIRED, 1, 1024, &password) != 0)
		return OP_FAIL;
	if (email_normalize(email_arg, email, sizeof email) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "email: not a valid e-mail address");
	if (auth_addr_blocked(r))
		return OP_FAIL;
	if (users_by_email(email, &u) == 0) {
		if (u.locked_until > r->now) {
			r->retry_after = u.locked_until - r->now;
			return req_fail(r, ERR_LOCKED,
			    "too many failed logins; account locked for %lld s",
			    (long long)r->retry_after);
		}
		hash = u.password_hash;
	} else {
		ghost_lock_key(email, key, sizeof key);
		if (ratelimit_peek(api_limits, key, 1, server.cfg.lockout_duration,
		    clock_now_precise(), &retry) != 0) {
			r->retry_after = (int64_t)retry + 1;
			return req_fail(r, ERR_LOCKED,
			    "too many failed logins; account locked for %lld s",
			    (long long)r->retry_after);
		}
		hash = password_dummy_hash();
	}
	return pw_job_submit(r, pw_job_new(PW_VERIFY, password, NULL, hash, email),
	    login_done);
}

/* --- auth.register --- */

static void
register_done(struct req *r, struct pw_job *j)
{
	struct user	 u;
	const char	*full_name, *phone = NULL, *dob;
	int		 rc;

	r->now = clock_now();
	if (j->policy_error != NULL) {
		req_finish(r, req_fail(r, ERR_BAD_REQUEST, "password: %s",
		    j->policy_error));
		return;
	}
	if (j->failed) {
		req_finish(r, req_fail(r, ERR_INTERNAL, "cannot hash the password"));
		return;
	}
	/* Validated before the job was queued. */
	arg_str(r, "full_name", ARG_REQUIRED, 1, NAME_MAX_CHARS, &full_name);
	arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &phone);
	memset(&u, 0, sizeof u);
	strlcpy_mf(u.email, j->email, sizeof u.email);
	strlcpy_mf(u.full_name, full_name, sizeof u.full_name);
	if (phone != NULL)
		strlcpy_mf(u.phone, phone, sizeof u.phone);
	strlcpy_mf(u.password_hash, j->newhash, sizeof u.password_hash);
	u.role = ROLE_PATIENT;
	u.active = 1;
	u.created_at = u.updated_at = r->now;
	u.last_login_at = r->now;
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
	/* A record made at the desk with this e-mail is claimed, or one is made. */
	dob = NULL;
	arg_str(r, "date_of_birth", ARG_NULLABLE, 0, 10, &dob);
	if (patients_attach_user(u.id, u.email, u.full_name, u.phone,
	    dob != NULL ? dob : "", r->now) < 0) {
		db_rollback();
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "store unavailable"));
		return;
	}
	auth_commit_session(r, &u, "auth.register");
}

int
op_auth_register(struct req *r)
{
	const char	*email_arg, *password, *full_name, *phone = NULL, *dob = NULL;
	char		 email[EMAIL_MAX + 1];
	struct user	 u;

	if (args_only(r, "email", "password", "full_name", "phone",
	    "date_of_birth", NULL) != 0 ||
	    arg_str(r, "date_of_birth", ARG_NULLABLE, 0, 10, &dob) != 0 ||
	    arg_str(r, "email", ARG_REQUIRED, 1, EMAIL_MAX, &email_arg) != 0 ||
	    arg_str(r, "password", ARG_REQUIRED, 1, 1024, &password) != 0 ||
	    arg_str(r, "full_name", ARG_REQUIRED, 1, NAME_MAX_CHARS, &full_name) != 0 ||
	    arg_str(r, "phone", ARG_NULLABLE, 0, PHONE_MAX, &phone) != 0)
		return OP_FAIL;
	if (email_normalize(email_arg, email, sizeof email) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "email: not a valid e-mail address");
	if (phone != NULL && *phone != '\0' && !phone_valid(phone))
		return req_fail(r, ERR_BAD_REQUEST, "phone: not a valid phone number");
	if (dob != NULL && *dob != '\0' && patient_dob_problem(dob, r->now) != NULL)
		return req_fail(r, ERR_BAD_REQUEST, "date_of_birth: %s",
		    patient_dob_problem(dob, r->now));
	if (auth_addr_blocked(r))
		return OP_FAIL;
	/* Sign-ups count against the address like failures do. */
	auth_addr_failed(r);
	if (users_by_email(email, &u) == 0)
		return req_fail(r, ERR_CONFLICT, "an account with this e-mail already exists");
	return pw_job_submit(r, pw_job_new(PW_NEW, NULL, password, NULL, email),
	    register_done);
}

/* --- auth.resume, auth.logout, auth.me --- */

int
op_auth_resume(struct req *r)
{
	const char	*token;
	struct session	*s;
	struct user	 u;

	if (args_only(r, "token", NULL) != 0 ||
	    arg_str(r, "token", ARG_REQUIRED, 1, 128, &token) != 0)
		return OP_FAIL;
	if (auth_addr_blocked(r))
		return OP_FAIL;
	if ((s = session_resume(token, r->now)) == NULL ||
	    users_by_id(s->user_id, &u) != 0 || !u.active) {
		auth_addr_failed(r);
		return req_fail(r, ERR_UNAUTHENTICATED, "session expired or unknown");
	}
	conn_set_session(r->conn, s);
	if (r->session != NULL)
		session_unref(r->session);
	r->session = s;
	session_ref(s);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_kv_int(&r->pk, "expires_at", s->expires_at);
	mp_pack_str(&r->pk, "user");
	users_pack(&r->pk, &u);
	return OP_OK;
}

int
op_auth_logout(struct req *r)
{
	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	audit_req(r, "auth.logout", 0, NULL, NULL);
	/* Soft holds belong to the person at the desk, not the socket. */
	holds_conn_logout(r->conn->id);
	session_revoke(r->session, r->now);
	conn_set_session(r->conn, NULL);
	msgpack_pack_map(&r->pk, 0);
	return OP_OK;
}

int
op_auth_me(struct req *r)
{
	struct user	u;
	struct patient	p;
	int64_t		doctor_id;

	if (args_only(r, NULL) != 0)
		return OP_FAIL;
	if (users_by_id(req_user_id(r), &u) != 0)
		return req_fail(r, ERR_NOT_FOUND, "user not found");
	msgpack_pack_map(&r->pk, 5);
	mp_pack_str(&r->pk, "user");
	users_pack(&r->pk, &u);
	mp_pack_kv_int(&r->pk, "session_expires_at", r->session->expires_at);
	/* The web page has no hello: it shows times in this zone from here. */
	mp_pack_kv_str(&r->pk, "tz", server.cfg.tz);
	/* A patient's login names its record; a doctor's, its profile. */
	mp_pack_str(&r->pk, "patient_id");
	if (u.role == ROLE_PATIENT && patients_by_user(u.id, &p) == 0)
		msgpack_pack_int64(&r->pk, p.id);
	else
		msgpack_pack_nil(&r->pk);
	mp_pack_str(&r->pk, "doctor_id");
	if (u.role == ROLE_DOCTOR && doctors_id_for_user(u.id, &doctor_id) == 0)
		msgpack_pack_int64(&r->pk, doctor_id);
	else
		msgpack_pack_nil(&r->pk);
	return OP_OK;
}

/* --- auth.change_password --- */

/*
 * Wrong current passwords count per account (lockout_failures per
 * lockout_window) and per remote address, as failed logins do: a session
 * left open at a desk must not be a free password-guessing oracle.
 */
static int
change_password_blocked(struct req *r)
{
	char	key[64];
	double	retry;

	if (auth_addr_blocked(r))
		return 1;
	snprintf(key, sizeof key, "pwfail:u:%lld", (long long)req_user_id(r));
	if (ratelimit_peek(api_limits, key, server.cfg.lockout_failures,
	    server.cfg.lockout_window, clock_now_precise(), &retry) != 0) {
		r->retry_after = (int64_t)retry + 1;
		req_fail(r, ERR_RATE_LIMITED, "too many attempts; retry in %lld s",
		    (long long)r->retry_after);
		return 1;
	}
	return 0;
}

static void
change_password_failed(struct req *r)
{
	char	key[64];
	double	retry;

	auth_addr_failed(r);
	snprintf(key, sizeof key, "pwfail:u:%lld", (long long)req_user_id(r));
	ratelimit_hit(api_limits, key, server.cfg.lockout_failures,
	    server.cfg.lockout_window, clock_now_precise(), &retry);
}

static void
change_password_done(struct req *r, struct pw_job *j)
{
	struct user	u;

	r->now = clock_now();
	if (users_by_id(req_user_id(r), &u) != 0) {
		req_finish(r, req_fail(r, ERR_NOT_FOUND, "user not found"));
		return;
	}
	if (!j->verified) {
		change_password_failed(r);
		audit_req(r, "auth.change_password_failed", 0, u.email, NULL);
		req_finish(r, req_fail(r, ERR_UNAUTHENTICATED,
		    "current_password: wrong password"));
		return;
	}
	if (j->policy_error != NULL) {
		req_finish(r, req_fail(r, ERR_BAD_REQUEST, "new_password: %s",
		    j->policy_error));
		return;
	}
	if (j->failed || db_begin() != 0) {
		req_finish(r, req_fail(r, ERR_UNAVAILABLE, "cannot change the password now"));
		return;
	}
	strlcpy_mf(u.password_hash, j->newhash, sizeof u.password_hash);
	u.updated_at = r->now;
	users_save(&u);
	/* Every session of this user ends; this connection gets a new one. */
	session_revoke_user(u.id, r->now);
	conn_set_session(r->conn, NULL);
	auth_commit_session(r, &u, "auth.change_password");
}

int
op_auth_change_password(struct req *r)
{
	const char	*current, *next;
	struct user	 u;

	if (args_only(r, "current_password", "new_password", NULL) != 0 ||
	    arg_str(r, "current_password", ARG_REQUIRED, 1, 1024, &current) != 0 ||
	    arg_str(r, "new_password", ARG_REQUIRED, 1, 1024, &next) != 0)
		return OP_FAIL;
	if (users_by_id(req_user_id(r), &u) != 0)
		return req_fail(r, ERR_NOT_FOUND, "user not found");
	if (strcmp(current, next) == 0)
		return req_fail(r, ERR_BAD_REQUEST,
		    "new_password: must differ from the current password");
	if (change_password_blocked(r))
		return OP_FAIL;
	return pw_job_submit(r, pw_job_new(PW_CHANGE, current, next,
	    u.password_hash, u.email), change_password_done);
}
