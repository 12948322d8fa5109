/* ops.c -- the op table and the one place that checks envelopes, auth,
 * roles and rate limits before any handler runs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "ops.h"
#include "ratelimit.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define ROLES_ALL	ROLES_ANY

static const struct op op_table[] = {
	{ "hello", ROLE_NONE, RL_NONE, OPF_BEFORE_HELLO, op_hello },
	{ "health", ROLE_NONE, RL_API, OPF_BEFORE_HELLO, op_health },
	{ "auth.register", ROLE_NONE, RL_AUTH, 0, op_auth_register },
	{ "auth.login", ROLE_NONE, RL_AUTH, 0, op_auth_login },
	{ "auth.resume", ROLE_NONE, RL_AUTH, 0, op_auth_resume },
	{ "auth.logout", ROLES_ALL, RL_API, 0, op_auth_logout },
	{ "auth.me", ROLES_ALL, RL_API, 0, op_auth_me },
	{ "auth.change_password", ROLES_ALL, RL_AUTH, 0, op_auth_change_password },
	{ "users.list", ROLE_ADMIN, RL_API, 0, op_users_list },
	{ "users.get", ROLE_ADMIN, RL_API, 0, op_users_get },
	{ "users.create", ROLE_ADMIN, RL_API, 0, op_users_create },
	{ "users.update", ROLE_ADMIN, RL_API, 0, op_users_update },
	{ "users.deactivate", ROLE_ADMIN, RL_API, 0, op_users_deactivate },
	{ "users.reset_password", ROLE_ADMIN, RL_API, 0, op_users_reset_password },
	{ "audit.list", ROLE_ADMIN, RL_API, 0, op_audit_list },
	{ "audit.verify", ROLE_ADMIN, RL_API, 0, op_audit_verify },
	{ "admin.backup", ROLE_ADMIN, RL_API, 0, op_admin_backup },
	{ "patients.create", ROLE_RECEPTIONIST | ROLE_ADMIN, RL_API, 0, op_patients_create },
	{ "patients.search", ROLES_STAFF, RL_API, 0, op_patients_search },
	{ "patients.get", ROLES_ANY, RL_API, 0, op_patients_get },
	{ "patients.update", ROLE_RECEPTIONIST | ROLE_ADMIN | ROLE_PATIENT, RL_API, 0, op_patients_update },
	{ "doctors.list", ROLES_ALL, RL_API, 0, op_doctors_list },
	{ "doctors.get", ROLES_ALL, RL_API, 0, op_doctors_get },
	{ "doctors.update", ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_doctors_update },
	{ "availability.get", ROLES_ALL, RL_API, 0, op_availability_get },
	{ "availability.set", ROLES_STAFF, RL_API, 0, op_availability_set },
	{ "availability.add_exception", ROLES_STAFF, RL_API, 0, op_availability_add_exception },
	{ "availability.remove_exception", ROLES_STAFF, RL_API, 0, op_availability_remove_exception },
	{ "appt.slots", ROLES_ALL, RL_API, 0, op_appt_slots },
	{ "appt.book", ROLES_ALL, RL_API, 0, op_appt_book },
	{ "appt.hold", ROLES_STAFF, RL_API, 0, op_appt_hold },
	{ "appt.release", ROLES_STAFF, RL_API, 0, op_appt_release },
	{ "appt.walk_in", ROLE_RECEPTIONIST | ROLE_ADMIN, RL_API, 0, op_appt_walk_in },
	{ "appt.cancel_day", ROLE_RECEPTIONIST | ROLE_ADMIN, RL_API, 0, op_appt_cancel_day },
	{ "appt.book_recurring", ROLES_STAFF, RL_API, 0, op_appt_book_recurring },
	{ "appt_types.list", ROLES_ALL, RL_API, 0, op_appt_types_list },
	{ "appt_types.create", ROLE_ADMIN, RL_API, 0, op_appt_types_create },
	{ "appt_types.update", ROLE_ADMIN, RL_API, 0, op_appt_types_update },
	{ "daily_cap.get", ROLES_STAFF, RL_API, 0, op_daily_cap_get },
	{ "daily_cap.set", ROLE_ADMIN, RL_API, 0, op_daily_cap_set },
	{ "waitlist.join", ROLES_ALL, RL_API, 0, op_waitlist_join },
	{ "waitlist.list", ROLES_ALL, RL_API, 0, op_waitlist_list },
	{ "waitlist.leave", ROLES_ALL, RL_API, 0, op_waitlist_leave },
	{ "recall.add", ROLES_STAFF, RL_API, 0, op_recall_add },
	{ "recall.due", ROLES_STAFF, RL_API, 0, op_recall_due },
	{ "recall.done", ROLES_STAFF, RL_API, 0, op_recall_done },
	{ "cancel_reasons.list", ROLES_ALL, RL_API, 0, op_cancel_reasons_list },
	{ "cancel_reasons.set", ROLE_ADMIN, RL_API, 0, op_cancel_reasons_set },
	{ "appt.approve", ROLES_STAFF, RL_API, 0, op_appt_approve },
	{ "appt.reject", ROLES_STAFF, RL_API, 0, op_appt_reject },
	{ "appt.reschedule", ROLES_ALL, RL_API, 0, op_appt_reschedule },
	{ "appt.cancel", ROLES_ALL, RL_API, 0, op_appt_cancel },
	{ "appt.checkin", ROLE_RECEPTIONIST | ROLE_ADMIN, RL_API, 0, op_appt_checkin },
	{ "appt.start", ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_appt_start },
	{ "appt.complete", ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_appt_complete },
	{ "appt.no_show", ROLES_STAFF, RL_API, 0, op_appt_no_show },
	{ "appt.get", ROLES_ALL, RL_API, 0, op_appt_get },
	{ "appt.list", ROLES_ALL, RL_API, 0, op_appt_list },
	{ "appt.history", ROLES_ALL, RL_API, 0, op_appt_history },
	{ "stats.appointments", ROLE_ADMIN, RL_API, 0, op_stats_appointments },
	{ "notify.send_reminder", ROLE_DOCTOR | ROLE_RECEPTIONIST | ROLE_ADMIN, RL_API, 0, op_notify_send_reminder },
	{ "notify.outbox", ROLE_ADMIN, RL_API, 0, op_notify_outbox },
	{ "notify.retry", ROLE_ADMIN, RL_API, 0, op_notify_retry },
	{ "patients.get_reminder_channels", ROLES_ANY, RL_API, 0, op_patients_get_reminder_channels },
	{ "patients.set_reminder_channels", ROLE_PATIENT | ROLE_RECEPTIONIST | ROLE_ADMIN, RL_API, 0, op_patients_set_reminder_channels },
	{ "chat.open", ROLES_ALL, RL_API, 0, op_chat_open },
	{ "chat.list", ROLES_ALL, RL_API, 0, op_chat_list },
	{ "chat.history", ROLES_ALL, RL_API, 0, op_chat_history },
	{ "chat.send", ROLES_ALL, RL_MSG, 0, op_chat_send },
	{ "chat.read", ROLES_ALL, RL_API, 0, op_chat_read },
	{ "chat.typing", ROLES_ALL, RL_API, 0, op_chat_typing },
	{ "chat.unread", ROLES_ALL, RL_API, 0, op_chat_unread },
	{ "chat.contacts", ROLES_ALL, RL_API, 0, op_chat_contacts },
	{ "notifications.list", ROLES_ALL, RL_API, 0, op_notifications_list },
	{ "notifications.read", ROLES_ALL, RL_API, 0, op_notifications_read },
	{ "notifications.read_all", ROLES_ALL, RL_API, 0, op_notifications_read_all },
	{ "access.break_glass", ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_access_break_glass },
	{ "access.break_glass_list", ROLE_ADMIN, RL_API, 0, op_access_break_glass_list },
	{ "records.create", ROLE_DOCTOR, RL_API, 0, op_records_create },
	{ "records.amend", ROLE_DOCTOR, RL_API, 0, op_records_amend },
	{ "records.get", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_records_get },
	{ "records.list", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_records_list },
	{ "records.versions", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_records_versions },
	{ "rx.create", ROLE_DOCTOR, RL_API, 0, op_rx_create },
	{ "rx.get", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_rx_get },
	{ "rx.list", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_rx_list },
	{ "rx.cancel", ROLE_DOCTOR, RL_API, 0, op_rx_cancel },
	{ "rx.renew", ROLE_DOCTOR, RL_API, 0, op_rx_renew },
	{ "rx.print", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_rx_print },
	{ "patients.history", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_patients_history },
	{ "files.begin", ROLE_DOCTOR, RL_UPLOAD, 0, op_files_begin },
	{ "files.chunk", ROLE_DOCTOR, RL_API, 0, op_files_chunk },
	{ "files.commit", ROLE_DOCTOR, RL_API, 0, op_files_commit },
	{ "files.abort", ROLE_DOCTOR, RL_API, 0, op_files_abort },
	{ "files.get", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_files_get },
	{ "files.list", ROLE_PATIENT | ROLE_DOCTOR | ROLE_ADMIN, RL_API, 0, op_files_list },
	{ "test.clock", ROLE_NONE, RL_NONE, OPF_TEST, op_test_clock },
};

static const struct op	**sorted;
static size_t		  nsorted;
struct ratelimit	 *api_limits;

static int
op_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct op *const *)a)->name,
	    (*(const struct op *const *)b)->name);
}

void
ops_init(int with_test_ops)
{
	size_t	i;

	free(sorted);
	sorted = xcalloc(nitems(op_table), sizeof *sorted);
	nsorted = 0;
	for (i = 0; i < nitems(op_table); i++) {
		if ((op_table[i].flags & OPF_TEST) && !with_test_ops)
			continue;
		sorted[nsorted++] = &op_table[i];
	}
	qsort(sorted, nsorted, sizeof *sorted, op_cmp);
	if (api_limits == NULL)
		api_limits = ratelimit_new();
}

size_t
ops_count(void)
{
	return nitems(op_table);
}

const struct op *
ops_at(size_t i)
{
	return i < nitems(op_table) ? &op_table[i] : NULL;
}

const struct op *
ops_find(const char *name, size_t len)
{
	size_t	lo = 0, hi = nsorted;

	while (lo < hi) {
		size_t	mid = (lo + hi) / 2;
		size_t	n = strlen(sorted[mid]->name);
		int	c = memcmp(sorted[mid]->name, name, n < len ? n : len);

		/* name is not NUL-terminated and may hold NULs: never read
		 * past the shorter of the two. */
		if (c == 0 && n != len)
			c = n < len ? -1 : 1;
		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* --- requests --- */

int
req_fail(struct req *r, enum err_code code, const char *fmt, ...)
{
	va_list	ap;

	r->err = code;
	free(r->errmsg);
	va_start(ap, fmt);
	r->errmsg = xvasprintf(fmt, ap);
	va_end(ap);
	return OP_FAIL;
}

int64_t
req_user_id(const struct req *r)
{
	return r->session != NULL ? r->session->user_id : 0;
}

enum role
req_role(const struct req *r)
{
	return r->session != NULL ? r->session->role : ROLE_NONE;
}

const char *
req_addr(const struct req *r)
{
	return r->conn->addr;
}

/*
 * Spent requests are kept with their buffers: the msgpack zone a frame is
 * unpacked into (handlers allocate from it too) and the result sbuffer are
 * each an 8 KiB malloc, which glibc serves from its large bins after a
 * malloc_consolidate, twice a request. A request owns both from
 * ops_dispatch to req_free, however long it is pending; only then may they
 * serve another. While REQ_SPARES are out at once, fresh ones are made; a
 * result grown past REQ_SPARE_RESULT_MAX is not kept.
 */
#define REQ_SPARES		16
#define REQ_SPARE_RESULT_MAX	(256 * 1024)
static struct req	*req_spares[REQ_SPARES];
static int		 nreq_spares;

static struct req *
req_new(void)
{
	struct req	*r;
	msgpack_zone	*zone;
	msgpack_sbuffer	 result;

	if (nreq_spares > 0) {
		r = req_spares[--nreq_spares];
		zone = r->unpacked.zone;
		result = r->result;
		memset(r, 0, sizeof *r);
		r->unpacked.zone = zone;
		r->result = result;
	} else {
		r = xcalloc(1, sizeof *r);
		r->unpacked.zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
		if (r->unpacked.zone == NULL) {
			fputs("fatal: out of memory\n", stderr);
			abort();
		}
		msgpack_sbuffer_init(&r->result);
	}
	msgpack_packer_init(&r->pk, &r->result, msgpack_sbuffer_write);
	return r;
}

static void
req_free(struct req *r)
{
	if (r->free_data != NULL && r->data != NULL)
		r->free_data(r->data);
	free(r->frame);
	free(r->errmsg);
	if (r->session != NULL)
		session_unref(r->session);
	conn_unref(r->conn);
	if (nreq_spares < REQ_SPARES &&
	    r->result.alloc <= REQ_SPARE_RESULT_MAX) {
		/* Keeps the zone's first chunk, frees any others. */
		msgpack_zone_clear(r->unpacked.zone);
		r->result.size = 0;
		req_spares[nreq_spares++] = r;
		return;
	}
	msgpack_zone_free(r->unpacked.zone);
	msgpack_sbuffer_destroy(&r->result);
	free(r);
}

static void
req_send_reply(struct req *r, int status)
{
	msgpack_sbuffer	sb, *out = &sb;
	msgpack_packer	pk;

	if (status == OP_OK && r->result_at > 0) {
		/* The envelope is already in front of the result: no copy. */
		if (r->result.size == r->result_at)
			msgpack_pack_map(&r->pk, 0);
		conn_send_reply(r->conn, r->id, r->result.data, r->result.size);
		if (r->close_after)
			conn_close_after_flush(r->conn);
		return;
	}
	if (status == OP_OK)
		msgpack_sbuffer_init(&sb);
	else {
		/* Nothing of a failed request's result is sent: the error
		 * reuses its buffer rather than take a fresh 8 KiB one. */
		out = &r->result;
		out->size = 0;
	}
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, r->id);
	if (status == OP_OK) {
		mp_pack_kv_bool(&pk, "ok", 1);
		mp_pack_str(&pk, "result");
		if (r->result.size == 0)
			msgpack_pack_map(&pk, 0);
		else
			msgpack_sbuffer_write(&sb, r->result.data, r->result.size);
	} else {
		int	extra = r->retry_after > 0 &&
		    (r->err == ERR_RATE_LIMITED || r->err == ERR_LOCKED);

		if (r->err == ERR_NONE)
			req_fail(r, ERR_INTERNAL, "internal error");
		mp_pack_kv_bool(&pk, "ok", 0);
		mp_pack_str(&pk, "error");
		msgpack_pack_map(&pk, extra ? 3 : 2);
		mp_pack_kv_str(&pk, "code", err_code_name(r->err));
		mp_pack_kv_str(&pk, "message", r->errmsg != NULL ? r->errmsg : "");
		if (extra)
			mp_pack_kv_int(&pk, "retry_after", r->retry_after);
	}
	conn_send_reply(r->conn, r->id, out->data, out->size);
	if (out == &sb)
		msgpack_sbuffer_destroy(&sb);
	if (r->close_after)
		conn_close_after_flush(r->conn);
}

void
req_finish(struct req *r, int status)
{
	struct conn	*c = r->conn;

	conn_ref(c);
	if (status == OP_OK && r->audit_failed)
		status = req_fail(r, ERR_UNAVAILABLE,
		    "the audit log could not be written; nothing was shown or changed");
	req_send_reply(r, status);
	req_free(r);
	c->pending = 0;
	conn_resume(c);
	conn_unref(c);
}

/* --- dispatch --- */

/*
 * "prefix" then the decimal id: the limiter's key for a user. Every request
 * makes one, and snprintf's format parsing was a twentieth of a cached read.
 */
static void
rl_user_key(char *key, size_t len, const char *prefix, int64_t id)
{
	char		 digits[24];
	size_t		 n = 0, plen = strlen(prefix);
	uint64_t	 u = id < 0 ? (uint64_t)0 - (uint64_t)id : (uint64_t)id;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (id < 0)
		digits[n++] = '-';
	if (plen + n + 1 > len) {
		key[0] = '\0';
		return;
	}
	memcpy(key, prefix, plen);
	while (n > 0)
		key[plen++] = digits[--n];
	key[plen] = '\0';
}

static int
ops_rate_check(struct req *r)
{
	const struct rate_spec	*spec;
	char			 key[96];
	double			 retry;

	switch (r->op->rl) {
	case RL_API:
		if (r->session != NULL) {
			spec = r->session->role == ROLE_PATIENT ?
			    &server.cfg.rl_api : &server.cfg.rl_api_staff;
			rl_user_key(key, sizeof key, "api:u:", r->session->user_id);
		} else if (!r->conn->is_local) {
			spec = &server.cfg.rl_api;
			snprintf(key, sizeof key, "api:a:%s", r->conn->addr);
		} else
			return 0;
		break;
	case RL_UPLOAD:
		spec = &server.cfg.rl_upload;
		rl_user_key(key, sizeof key, "upload:u:", req_user_id(r));
		break;
	case RL_MSG:
		spec = &server.cfg.rl_msg;
		rl_user_key(key, sizeof key, "msg:u:", req_user_id(r));
		break;
	default:
		/* RL_AUTH counts failures, in the handlers. */
		return 0;
	}
	if (ratelimit_hit(api_limits, key, spec->limit, spec->window,
	    clock_now_precise(), &retry) != 0) {
		r->retry_after = (int64_t)retry + 1;
		return req_fail(r, ERR_RATE_LIMITED,
		    "too many requests; retry in %lld s", (long long)r->retry_after);
	}
	return 0;
}

static int
ops_check_access(struct req *r)
{
	struct conn	*c = r->conn;

	if (!c->hello_done && !(r->op->flags & OPF_BEFORE_HELLO))
		return req_fail(r, ERR_BAD_REQUEST, "send hello first");
	if (c->session != NULL && session_check(c->session, r->now) != 0) {
		/* Expired or revoked since the last request. */
		conn_set_session(c, NULL);
		if (r->op->roles != ROLE_NONE)
			return req_fail(r, ERR_UNAUTHENTICATED, "session expired");
	}
	if (c->session != NULL) {
		r->session = c->session;
		session_ref(r->session);
	}
	if (r->op->roles != ROLE_NONE) {
		if (r->session == NULL)
			return req_fail(r, ERR_UNAUTHENTICATED, "log in first");
		if (!(r->op->roles & r->session->role)) {
			audit_req(r, "access.denied", 0, r->op->name, NULL);
			return req_fail(r, ERR_FORBIDDEN, "%s is not allowed for %s",
			    r->op->name, role_name(r->session->role));
		}
	}
	return ops_rate_check(r);
}

void
ops_dispatch(struct conn *c, unsigned char *frame, size_t len)
{
	const msgpack_object	*id, *op, *args;
	static msgpack_object	 empty_map = { .type = MSGPACK_OBJECT_MAP };
	const char		*cause;
	struct req		*r;
	int			 status;

	r = req_new();
	r->conn = c;
	conn_ref(c);
	r->frame = frame;
	r->now = clock_now();

	if (frame_decode_zone(frame, len, &server.limits, r->unpacked.zone,
	    &r->unpacked.data, &cause) != 0) {
		/* Not a well-formed msgpack map: the stream can't be trusted. */
		log_warn("conn %llu (%s): bad frame: %s", (unsigned long long)c->id,
		    c->addr, cause);
		conn_fail(c, strcmp(cause, "frame too large") == 0 ?
		    "too_large" : "bad_request", cause);
		req_free(r);
		return;
	}
	id = mp_map_get(&r->unpacked.data, "id");
	op = mp_map_get(&r->unpacked.data, "op");
	args = mp_map_get(&r->unpacked.data, "args");
	if (id != NULL && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		r->id = id->via.u64;
	if (id == NULL || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		status = req_fail(r, ERR_BAD_REQUEST, "id must be an unsigned integer");
		goto reply;
	}
	if (op == NULL || op->type != MSGPACK_OBJECT_STR || op->via.str.size == 0 ||
	    op->via.str.size > 64) {
		status = req_fail(r, ERR_BAD_REQUEST, "op must be a string");
		goto reply;
	}
	if (args != NULL && args->type == MSGPACK_OBJECT_NIL)
		args = NULL;
	if (args != NULL && args->type != MSGPACK_OBJECT_MAP) {
		status = req_fail(r, ERR_BAD_REQUEST, "args must be a map");
		goto reply;
	}
	r->args = args != NULL ? args : &empty_map;
	r->op = ops_find(op->via.str.ptr, op->via.str.size);
	if (r->op == NULL) {
		status = req_fail(r, ERR_BAD_REQUEST, "unknown op: %.*s",
		    (int)op->via.str.size, op->via.str.ptr);
		goto reply;
	}
	if ((status = ops_check_access(r)) != 0)
		goto reply;
	/*
	 * A success's envelope goes first, so the handler's result is packed
	 * straight behind it and the reply leaves without another copy (a
	 * doctor's day is 10 KB or more). A failure is packed anew.
	 */
	msgpack_pack_map(&r->pk, 3);
	mp_pack_str(&r->pk, "id");
	msgpack_pack_uint64(&r->pk, r->id);
	mp_pack_kv_bool(&r->pk, "ok", 1);
	mp_pack_str(&r->pk, "result");
	r->result_at = r->result.size;
	status = r->op->handler(r);
	if (status == OP_OK && r->audit_failed)
		status = req_fail(r, ERR_UNAVAILABLE,
		    "the audit log could not be written; nothing was shown or changed");
	if (status == OP_PENDING) {
		/* Replies stay in request order: read nothing more until done. */
		c->pending = 1;
		return;
	}
reply:
	req_send_reply(r, status);
	req_free(r);
}

/* --- argument readers --- */

static const msgpack_object *
arg_lookup(struct req *r, const char *key, int flags, int *present)
{
	const msgpack_object	*o = mp_map_get(r->args, key);

	if (o != NULL && o->type == MSGPACK_OBJECT_NIL && (flags & ARG_NULLABLE))
		o = NULL;
	if (present != NULL)
		*present = o != NULL;
	if (o == NULL && (flags & ARG_REQUIRED))
		req_fail(r, ERR_BAD_REQUEST, "%s: required", key);
	return o;
}

int
arg_str(struct req *r, const char *key, int flags, size_t min_chars,
    size_t max_chars, const char **out)
{
	const msgpack_object	*o = arg_lookup(r, key, flags, NULL);
	const char		*p;
	size_t			 n, chars;
	char			*copy;

	if (o == NULL)
		return (flags & ARG_REQUIRED) ? -1 : 0;
	if (o->type != MSGPACK_OBJECT_STR)
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be a string", key);
	p = o->via.str.ptr;
	n = o->via.str.size;
	if (!utf8_valid(p, n))
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be valid UTF-8", key);
	if (!(flags & ARG_MULTILINE) && (memchr(p, '\n', n) != NULL ||
	    memchr(p, '\r', n) != NULL || memchr(p, '\t', n) != NULL))
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be a single line", key);
	if (has_control_chars(p, n))
		return req_fail(r, ERR_BAD_REQUEST,
		    "%s: control characters are not allowed", key);
	chars = utf8_length(p, n);
	if (chars < min_chars)
		return req_fail(r, ERR_BAD_REQUEST, min_chars == 1 ?
		    "%s: must not be empty" : "%s: too short (min %zu characters)",
		    key, min_chars);
	if (chars > max_chars)
		return req_fail(r, ERR_BAD_REQUEST,
		    "%s: too long (max %zu characters)", key, max_chars);
	copy = msgpack_zone_malloc(r->unpacked.zone, n + 1);
	memcpy(copy, p, n);
	copy[n] = '\0';
	*out = copy;
	return 0;
}

int
arg_int(struct req *r, const char *key, int flags, int64_t min, int64_t max,
    int64_t *out, int *present)
{
	const msgpack_object	*o = arg_lookup(r, key, flags, present);
	int64_t			 v;

	if (o == NULL)
		return (flags & ARG_REQUIRED) ? -1 : 0;
	if (mp_int(o, &v) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be an integer", key);
	if (v < min || v > max)
		return req_fail(r, ERR_BAD_REQUEST, "%s: out of range (%lld..%lld)",
		    key, (long long)min, (long long)max);
	*out = v;
	return 0;
}

int
arg_bool(struct req *r, const char *key, int flags, int *out, int *present)
{
	const msgpack_object	*o = arg_lookup(r, key, flags, present);

	if (o == NULL)
		return (flags & ARG_REQUIRED) ? -1 : 0;
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be true or false", key);
	*out = o->via.boolean;
	return 0;
}

int
arg_enum(struct req *r, const char *key, int flags, const char *const *names,
    int *out, int *present)
{
	const msgpack_object	*o = arg_lookup(r, key, flags, present);
	int			 i;

	if (o == NULL)
		return (flags & ARG_REQUIRED) ? -1 : 0;
	if (o->type != MSGPACK_OBJECT_STR)
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be a string", key);
	for (i = 0; names[i] != NULL; i++) {
		if (mp_str_eq(o, names[i])) {
			*out = i;
			return 0;
		}
	}
	return req_fail(r, ERR_BAD_REQUEST, "%s: not one of the allowed values", key);
}

int
args_only(struct req *r, ...)
{
	const msgpack_object	*args = r->args;
	const char		*name;
	uint32_t		 i;
	va_list			 ap;

	for (i = 0; i < args->via.map.size; i++) {
		const msgpack_object	*k = &args->via.map.ptr[i].key;
		int			 known = 0;

		if (k->type != MSGPACK_OBJECT_STR)
			return req_fail(r, ERR_BAD_REQUEST, "argument names must be strings");
		va_start(ap, r);
		while ((name = va_arg(ap, const char *)) != NULL) {
			if (mp_str_eq(k, name)) {
				known = 1;
				break;
			}
		}
		va_end(ap);
		if (!known) {
			if (!utf8_valid(k->via.str.ptr, k->via.str.size) ||
			    k->via.str.size > 64)
				return req_fail(r, ERR_BAD_REQUEST, "unknown argument");
			return req_fail(r, ERR_BAD_REQUEST, "unknown argument: %.*s",
			    (int)k->via.str.size, k->via.str.ptr);
		}
	}
	return 0;
}
