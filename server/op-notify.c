/* op-notify.c -- reminders: notify.send_reminder, notify.outbox,
 * notify.retry; a patient's reminder channels:
 * patients.set_reminder_channels, patients.get_reminder_channels. */
#include <string.h>

#include "appointments.h"
#include "audit.h"
#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "ops.h"
#include "patients.h"
#include "reminders.h"
#include "sms.h"
#include "util.h"

#define OUTBOX_LIMIT_MAX	200

/* --- notify.send_reminder --- */

struct queued {
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

static void
queued_cb(int64_t id, const char *channel, int64_t due_at, void *arg)
{
	struct queued	*q = arg;

	msgpack_pack_map(&q->pk, 4);
	mp_pack_kv_int(&q->pk, "id", id);
	mp_pack_kv_str(&q->pk, "channel", channel);
	mp_pack_kv_str(&q->pk, "state", "pending");
	mp_pack_kv_int(&q->pk, "due_at", due_at);
}

int
op_notify_send_reminder(struct req *r)
{
	struct queued	 q;
	struct appt	 a;
	const char	*why = NULL;
	int64_t		 id, last;
	int		 n;

	if (args_only(r, "appointment_id", NULL) != 0 ||
	    arg_int(r, "appointment_id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	if (appt_by_id(id, &a) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no appointment with id %lld", (long long)id);
	if (req_role(r) == ROLE_DOCTOR && a.doctor_user_id != req_user_id(r))
		return req_fail(r, ERR_FORBIDDEN, "not your appointment");
	if (a.status != APPT_APPROVED)
		return req_fail(r, ERR_CONFLICT, "only approved appointments get "
		    "reminders (this one is %s)", appt_status_name(a.status));
	if (a.starts_at <= r->now)
		return req_fail(r, ERR_CONFLICT, "the appointment has already begun");
	last = reminders_last_manual(a.id);
	if (last != 0 && r->now - last < REMINDER_MANUAL_INTERVAL) {
		r->retry_after = REMINDER_MANUAL_INTERVAL - (r->now - last);
		return req_fail(r, ERR_RATE_LIMITED, "a reminder for this appointment "
		    "was sent recently; retry in %lld s", (long long)r->retry_after);
	}
	if (reminders_reachable(a.patient_id, &why) == 0)
		return req_fail(r, ERR_CONFLICT, "cannot reach the patient: %s", why);

	msgpack_sbuffer_init(&q.sb);
	msgpack_packer_init(&q.pk, &q.sb, msgpack_sbuffer_write);
	if (db_begin() != 0) {
		msgpack_sbuffer_destroy(&q.sb);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	n = reminders_manual(&a, req_user_id(r), r->now, queued_cb, &q);
	if (n <= 0) {
		db_rollback();
		msgpack_sbuffer_destroy(&q.sb);
		if (n == 0)
			return req_fail(r, ERR_CONFLICT, "the patient turned reminders "
			    "off on every channel they can be reached on");
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "notify.send_reminder", a.patient_id, NULL,
	    "appointment %lld: %d message%s", (long long)a.id, n, n == 1 ? "" : "s");
	if (db_commit() != 0) {
		msgpack_sbuffer_destroy(&q.sb);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_kv_int(&r->pk, "appointment_id", a.id);
	mp_pack_str(&r->pk, "reminders");
	msgpack_pack_array(&r->pk, (size_t)n);
	msgpack_sbuffer_write(&r->result, q.sb.data, q.sb.size);
	msgpack_sbuffer_destroy(&q.sb);
	return OP_OK;
}

/* --- notify.outbox --- */

static const char *const outbox_state_names[] = {
	"all", "pending", "sent", "failed", "skipped", NULL
};

int
op_notify_outbox(struct req *r)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	int64_t		appointment_id = 0, limit = 50, offset = 0, total;
	int		state = OUTBOX_ALL, capped;

	if (args_only(r, "state", "appointment_id", "limit", "offset", NULL) != 0 ||
	    arg_enum(r, "state", ARG_NULLABLE, outbox_state_names, &state, NULL) != 0 ||
	    arg_int(r, "appointment_id", ARG_NULLABLE, 1, INT64_MAX, &appointment_id,
	    NULL) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, OUTBOX_LIMIT_MAX, &limit, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT32_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	reminders_outbox((enum outbox_filter)state, appointment_id, limit, offset,
	    &pk, &total, &capped);
	msgpack_pack_map(&r->pk, 3);
	mp_pack_kv_int(&r->pk, "total", total);
	mp_pack_kv_bool(&r->pk, "total_capped", capped);
	mp_pack_str(&r->pk, "messages");
	msgpack_sbuffer_write(&r->result, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return OP_OK;
}

/* --- notify.retry --- */

int
op_notify_retry(struct req *r)
{
	const char	*state = "";
	int64_t		 id, appointment_id = 0;
	int		 rc;

	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	rc = reminders_retry(id, r->now, &appointment_id, &state);
	if (rc != 0) {
		db_rollback();
		if (rc == -1)
			return req_fail(r, ERR_NOT_FOUND, "no message with id %lld",
			    (long long)id);
		if (rc == -2)
			return req_fail(r, ERR_CONFLICT, strcmp(state, "sent") == 0 ?
			    "this message was sent; it is never sent twice" :
			    "this message is %s; only failed, skipped or retrying "
			    "messages can be retried", state);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "notify.retry", 0, NULL, "message %lld (appointment %lld)",
	    (long long)id, (long long)appointment_id);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "message");
	if (reminders_pack_one(id, &r->pk) != 0)
		msgpack_pack_nil(&r->pk);
	return OP_OK;
}

/* --- patients.set_reminder_channels, patients.get_reminder_channels --- */

static const char *const channel_arg_names[] = {
	[RCH_NONE] = "none", [RCH_EMAIL] = "email", [RCH_SMS] = "sms",
	[RCH_BOTH] = "both", NULL
};

/* The patient named by patient_id (required for staff), or the caller's own. */
static int
channels_patient(struct req *r, struct patient *p)
{
	int64_t	id = 0, doctor_id;
	int	has;

	if (arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &id, &has) != 0)
		return -1;
	if (req_role(r) == ROLE_PATIENT) {
		if (patients_by_user(req_user_id(r), p) != 0)
			return req_fail(r, ERR_FORBIDDEN, "no patient record for this login");
		if (has && id != p->id)
			return req_fail(r, ERR_FORBIDDEN, "patients see their own settings only");
		return 0;
	}
	if (!has)
		return req_fail(r, ERR_BAD_REQUEST, "patient_id: required");
	if (patients_by_id(id, p) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no patient with id %lld", (long long)id);
	if (req_role(r) == ROLE_DOCTOR &&
	    (doctors_id_for_user(req_user_id(r), &doctor_id) != 0 ||
	    !appt_doctor_has_patient(doctor_id, p->id)))
		return req_fail(r, ERR_FORBIDDEN, "not one of your patients");
	return 0;
}

static void
pack_channels(struct req *r, const struct patient *p, int channels, int explicit_choice)
{
	msgpack_pack_map(&r->pk, 5);
	mp_pack_kv_int(&r->pk, "patient_id", p->id);
	mp_pack_kv_str(&r->pk, "channels", reminder_channels_name(channels));
	mp_pack_kv_bool(&r->pk, "default", !explicit_choice);
	mp_pack_kv_bool(&r->pk, "email_address", p->email[0] != '\0');
	mp_pack_kv_bool(&r->pk, "sms_number", sms_e164_valid(p->phone));
}

int
op_patients_get_reminder_channels(struct req *r)
{
	struct patient	p;
	int		channels, explicit_choice;

	if (args_only(r, "patient_id", NULL) != 0 || channels_patient(r, &p) != 0)
		return OP_FAIL;
	channels = reminders_prefs_get(p.id, &explicit_choice);
	pack_channels(r, &p, channels, explicit_choice);
	return OP_OK;
}

int
op_patients_set_reminder_channels(struct req *r)
{
	struct patient	p;
	int		channels;

	if (args_only(r, "patient_id", "channels", NULL) != 0 ||
	    channels_patient(r, &p) != 0 ||
	    arg_enum(r, "channels", ARG_REQUIRED, channel_arg_names, &channels,
	    NULL) != 0)
		return OP_FAIL;
	if ((channels & RCH_SMS) && !sms_e164_valid(p.phone))
		return req_fail(r, ERR_CONFLICT, "SMS needs a phone number in E.164 "
		    "form (like +15551234567); the patient's phone is %s",
		    p.phone[0] != '\0' ? "not in that form" : "not on file");
	if ((channels & RCH_EMAIL) && p.email[0] == '\0')
		return req_fail(r, ERR_CONFLICT, "e-mail needs an e-mail address; "
		    "the patient has none on file");
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (reminders_prefs_set(p.id, channels, r->now) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "patients.set_reminder_channels", p.id, NULL, "channels %s",
	    reminder_channels_name(channels));
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	pack_channels(r, &p, channels, 1);
	return OP_OK;
}
