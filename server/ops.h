/* ops.h -- the op table, requests, and argument validation.
 *
 * Every op is one row: name, roles allowed, rate-limit class, flags, handler.
 * Dispatch reads auth, roles, rate limits and audit off that row, so a
 * handler can assume a caller who is allowed to call it. */
#ifndef MF_OPS_H
#define MF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto.h"

struct conn;
struct session;

enum rl_class { RL_NONE = 0, RL_AUTH, RL_API, RL_UPLOAD, RL_MSG };

#define OPF_TEST	0x1	/* registered only with --test-clock */
#define OPF_BEFORE_HELLO 0x2	/* may be sent before hello */

/* A handler's answer. */
#define OP_OK		0
#define OP_FAIL		-1
#define OP_PENDING	1	/* the handler finishes later with req_finish */

struct req;
typedef int (*op_handler)(struct req *);

struct op {
	const char	*name;
	int		 roles;		/* ROLE_NONE: no login needed */
	enum rl_class	 rl;
	int		 flags;
	op_handler	 handler;
};

struct req {
	struct conn		*conn;		/* referenced while the request lives */
	struct session		*session;	/* the caller's session, or NULL */
	uint64_t		 id;
	const struct op		*op;
	const msgpack_object	*args;		/* always a map (empty if absent) */
	msgpack_unpacked	 unpacked;
	unsigned char		*frame;		/* owns the bytes args point into */
	int64_t			 now;

	msgpack_sbuffer		 result;	/* the handler packs one object */
	msgpack_packer		 pk;
	size_t			 result_at;	/* where it starts: the reply's
						 * envelope is packed before it */

	enum err_code		 err;
	char			*errmsg;
	int64_t			 retry_after;	/* with ERR_RATE_LIMITED or ERR_LOCKED */
	int			 close_after;	/* close the connection after the reply */
	int			 audit_failed;	/* an audit row could not be written */
	void			*data;		/* handler state across OP_PENDING */
	void			(*free_data)(void *);
};

/* The op table. */
const struct op	*ops_find(const char *name, size_t len);
size_t		 ops_count(void);
const struct op	*ops_at(size_t);
void		 ops_init(int with_test_ops);

/* Handles one decoded frame from a connection. */
void	 ops_dispatch(struct conn *, unsigned char *frame, size_t len);

/* Sets the error; returns OP_FAIL so handlers can `return req_fail(...)`. */
int	 req_fail(struct req *, enum err_code, const char *, ...)
	     __attribute__((format(printf, 3, 4)));
/* Sends the reply (or error) of an OP_PENDING request and frees it. */
void	 req_finish(struct req *, int status);
/* The caller's user id and role, or 0 / ROLE_NONE. */
int64_t	 req_user_id(const struct req *);
enum role req_role(const struct req *);
const char *req_addr(const struct req *);

/*
 * Argument readers. Each returns 0 (the value in *out; absent optional
 * arguments leave *out untouched and *present 0) or -1 with bad_request set.
 * Strings are copied NUL-terminated into the request and must be valid UTF-8
 * without control characters (ARG_MULTILINE allows \t \n \r).
 */
#define ARG_REQUIRED	0x1
#define ARG_MULTILINE	0x2
#define ARG_NULLABLE	0x4	/* nil counts as absent */

int	 arg_str(struct req *, const char *key, int flags, size_t min_chars,
	     size_t max_chars, const char **out);
int	 arg_int(struct req *, const char *key, int flags, int64_t min,
	     int64_t max, int64_t *out, int *present);
int	 arg_bool(struct req *, const char *key, int flags, int *out, int *present);
/* The index of the matching name in a NULL-terminated list. */
int	 arg_enum(struct req *, const char *key, int flags,
	     const char *const *names, int *out, int *present);
/* Fails on any key not listed (NULL-terminated), naming it. */
int	 args_only(struct req *, ...) __attribute__((sentinel));

/* Handlers (one file per domain: op-auth.c, op-users.c, op-audit.c, op-misc.c). */
int	 op_hello(struct req *);
int	 op_health(struct req *);
int	 op_test_clock(struct req *);
int	 op_doctors_list(struct req *);
int	 op_doctors_get(struct req *);
int	 op_doctors_update(struct req *);
int	 op_availability_get(struct req *);
int	 op_availability_set(struct req *);
int	 op_availability_add_exception(struct req *);
int	 op_availability_remove_exception(struct req *);
int	 op_appt_slots(struct req *);
int	 op_appt_book(struct req *);
int	 op_appt_hold(struct req *);
int	 op_appt_release(struct req *);
int	 op_appt_walk_in(struct req *);
int	 op_appt_cancel_day(struct req *);
int	 op_appt_book_recurring(struct req *);
int	 op_appt_types_list(struct req *);
int	 op_appt_types_create(struct req *);
int	 op_appt_types_update(struct req *);
int	 op_daily_cap_get(struct req *);
int	 op_daily_cap_set(struct req *);
int	 op_waitlist_join(struct req *);
int	 op_waitlist_list(struct req *);
int	 op_waitlist_leave(struct req *);
int	 op_recall_add(struct req *);
int	 op_recall_due(struct req *);
int	 op_recall_done(struct req *);
int	 op_cancel_reasons_list(struct req *);
int	 op_cancel_reasons_set(struct req *);
int	 op_appt_approve(struct req *);
int	 op_appt_reject(struct req *);
int	 op_appt_reschedule(struct req *);
int	 op_appt_cancel(struct req *);
int	 op_appt_checkin(struct req *);
int	 op_appt_start(struct req *);
int	 op_appt_complete(struct req *);
int	 op_appt_no_show(struct req *);
int	 op_appt_get(struct req *);
int	 op_appt_list(struct req *);
int	 op_appt_history(struct req *);
int	 op_stats_appointments(struct req *);
int	 op_auth_register(struct req *);
int	 op_auth_login(struct req *);
int	 op_auth_logout(struct req *);
int	 op_auth_me(struct req *);
int	 op_auth_resume(struct req *);
int	 op_auth_change_password(struct req *);
int	 op_users_list(struct req *);
int	 op_users_get(struct req *);
int	 op_users_create(struct req *);
int	 op_users_update(struct req *);
int	 op_users_deactivate(struct req *);
int	 op_users_reset_password(struct req *);
int	 op_audit_list(struct req *);
int	 op_audit_verify(struct req *);
int	 op_admin_backup(struct req *);
int	 op_patients_create(struct req *);
int	 op_patients_search(struct req *);
int	 op_patients_get(struct req *);
int	 op_patients_update(struct req *);
int	 op_notify_send_reminder(struct req *);
int	 op_notify_outbox(struct req *);
int	 op_notify_retry(struct req *);
int	 op_patients_get_reminder_channels(struct req *);
int	 op_patients_set_reminder_channels(struct req *);
int	 op_chat_open(struct req *);
int	 op_chat_list(struct req *);
int	 op_chat_history(struct req *);
int	 op_chat_send(struct req *);
int	 op_chat_read(struct req *);
int	 op_chat_typing(struct req *);
int	 op_chat_unread(struct req *);
int	 op_chat_contacts(struct req *);
int	 op_notifications_list(struct req *);
int	 op_notifications_read(struct req *);
int	 op_notifications_read_all(struct req *);

int	 op_access_break_glass(struct req *);
int	 op_access_break_glass_list(struct req *);
int	 op_records_create(struct req *);
int	 op_records_amend(struct req *);
int	 op_records_get(struct req *);
int	 op_records_list(struct req *);
int	 op_records_versions(struct req *);
int	 op_rx_create(struct req *);
int	 op_rx_get(struct req *);
int	 op_rx_list(struct req *);
int	 op_rx_cancel(struct req *);
int	 op_rx_renew(struct req *);
int	 op_rx_print(struct req *);
int	 op_patients_history(struct req *);
int	 op_files_begin(struct req *);
int	 op_files_chunk(struct req *);
int	 op_files_commit(struct req *);
int	 op_files_abort(struct req *);
int	 op_files_get(struct req *);
int	 op_files_list(struct req *);

#endif
