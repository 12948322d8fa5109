/* op-rx.c -- prescriptions: rx.create, rx.get, rx.list, rx.cancel, rx.renew,
 * rx.print. Who may touch which patient is decided by access_clinical. */
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
#include "prescriptions.h"
#include "users.h"
#include "util.h"

#define RX_LIST_MAX	100
#define RX_LIST_DEFAULT	20

static int	read_item(struct req *, struct rx_item *);
static int	read_items(struct req *, struct rx *);
static int	copy_arg(struct req *, const char *key, int flags, size_t min,
		    size_t max, char *dst, size_t dstlen);
static int	rx_for_caller(struct req *, int64_t id, struct rx *);
static int	rx_write(struct req *, struct rx *, const char *what);
static void	pack_rx_result(struct req *, const struct rx *);
static void	pack_one(const struct rx *, void *);

static int
copy_arg(struct req *r, const char *key, int flags, size_t min, size_t max,
    char *dst, size_t dstlen)
{
	const char	*s = NULL;

	if (arg_str(r, key, flags, min, max, &s) != 0)
		return -1;
	strlcpy_mf(dst, s != NULL ? s : "", dstlen);
	return 0;
}

/* One item, read with the argument readers from the item's own map. */
static int
read_item(struct req *r, struct rx_item *it)
{
	int64_t	duration, quantity, refills = 0;

	if (args_only(r, "drug", "strength", "form", "dose", "route", "frequency",
	    "duration_days", "quantity", "refills", "instructions", NULL) != 0 ||
	    copy_arg(r, "drug", ARG_REQUIRED, 1, RX_DRUG_MAX_CHARS, it->drug,
	    sizeof it->drug) != 0 ||
	    copy_arg(r, "strength", ARG_REQUIRED, 1, RX_SHORT_MAX_CHARS,
	    it->strength, sizeof it->strength) != 0 ||
	    arg_enum(r, "form", ARG_REQUIRED, rx_forms, &it->form, NULL) != 0 ||
	    copy_arg(r, "dose", ARG_REQUIRED, 1, RX_SHORT_MAX_CHARS, it->dose,
	    sizeof it->dose) != 0 ||
	    arg_enum(r, "route", ARG_REQUIRED, rx_routes, &it->route, NULL) != 0 ||
	    copy_arg(r, "frequency", ARG_REQUIRED, 1, RX_SHORT_MAX_CHARS,
	    it->frequency, sizeof it->frequency) != 0 ||
	    arg_int(r, "duration_days", ARG_REQUIRED, 1, RX_DURATION_MAX_DAYS,
	    &duration, NULL) != 0 ||
	    arg_int(r, "quantity", ARG_REQUIRED, 1, RX_QUANTITY_MAX, &quantity,
	    NULL) != 0 ||
	    arg_int(r, "refills", ARG_NULLABLE, 0, RX_REFILLS_MAX, &refills,
	    NULL) != 0 ||
	    copy_arg(r, "instructions", ARG_NULLABLE | ARG_MULTILINE, 0,
	    RX_INSTRUCTIONS_MAX_CHARS, it->instructions, sizeof it->instructions) != 0)
		return -1;
	it->duration_days = (int)duration;
	it->quantity = (int)quantity;
	it->refills = (int)refills;
	return 0;
}

/* The items array; errors name the item: "items[1].route: ...". */
static int
read_items(struct req *r, struct rx *x)
{
	const msgpack_object	*o = mp_map_get(r->args, "items"), *saved;
	char			*msg;
	uint32_t		 i;
	int			 rc;

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return req_fail(r, ERR_BAD_REQUEST, "items: required");
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return req_fail(r, ERR_BAD_REQUEST, "items: must be a list");
	if (o->via.array.size < 1 || o->via.array.size > RX_ITEMS_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "items: must hold 1 to %d items",
		    RX_ITEMS_MAX);
	for (i = 0; i < o->via.array.size; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
			return req_fail(r, ERR_BAD_REQUEST, "items[%u]: must be a map",
			    i);
		saved = r->args;
		r->args = &o->via.array.ptr[i];
		rc = read_item(r, &x->items[i]);
		r->args = saved;
		if (rc != 0) {
			msg = xasprintf("items[%u].%s", i, r->errmsg);
			if (strncmp(r->errmsg, "unknown argument", 16) == 0) {
				free(msg);
				msg = xasprintf("items[%u]: %s", i, r->errmsg);
			}
			free(r->errmsg);
			r->errmsg = msg;
			return -1;
		}
	}
	x->nitems = (int)o->via.array.size;
	return 0;
}

static void
pack_rx_result(struct req *r, const struct rx *x)
{
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "prescription");
	rx_pack(&r->pk, x, r->now);
}

static void
pack_one(const struct rx *x, void *arg)
{
	struct req	*r = arg;

	rx_pack(&r->pk, x, r->now);
}

/* The prescription if the caller may see its patient (audited as the op). */
static int
rx_for_caller(struct req *r, int64_t id, struct rx *x)
{
	char	target[64];

	snprintf(target, sizeof target, "rx %lld", (long long)id);
	/* A missing id answers like someone else's prescription. */
	if (rx_by_id(id, x) != 0)
		return access_clinical_missing(r, r->op->name, target);
	return access_clinical(r, x->patient_id, r->op->name, target);
}

/* Inserts x as written by the caller and answers it; OP_OK or OP_FAIL. */
/* The patient (if they have a login) hears of a new prescription; inside
 * the caller's write transaction. 0 or -1. */
static int
rx_notify_patient(const struct rx *x, const char *what, int64_t now)
{
	struct patient	 p;
	struct user	 u;
	char		*body;
	int		 rc;

	if (patients_by_id(x->patient_id, &p) != 0 || p.user_id == 0)
		return 0;
	if (users_by_id(x->created_by, &u) != 0)
		return -1;
	body = xasprintf("%s %s a prescription for you: %s %s%s.", u.full_name,
	    strcmp(what, "renewed") == 0 ? "renewed" : "wrote", x->items[0].drug,
	    x->items[0].strength, x->nitems > 1 ? " and more" : "");
	rc = notifications_create(p.user_id, "rx.new", "New prescription", body,
	    x->id, now);
	free(body);
	return rc;
}

static int
rx_write(struct req *r, struct rx *x, const char *what)
{
	char	target[64];

	if (doctors_id_for_user(req_user_id(r), &x->doctor_id) != 0)
		return req_fail(r, ERR_FORBIDDEN, "%s: the caller has no doctor "
		    "profile", r->op->name);
	x->created_by = req_user_id(r);
	x->created_at = r->now;
	x->cancelled = 0;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (rx_insert(x) != 0 || rx_notify_patient(x, what, r->now) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	snprintf(target, sizeof target, "rx %lld", (long long)x->id);
	audit_req(r, "rx.written", x->patient_id, target, "%s, %d item%s", what,
	    x->nitems, x->nitems == 1 ? "" : "s");
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (rx_by_id(x->id, x) != 0)
		return req_fail(r, ERR_INTERNAL, "prescription vanished");
	pack_rx_result(r, x);
	return OP_OK;
}

int
op_rx_create(struct req *r)
{
	struct rx	*x;
	struct appt	 a;
	int64_t		 appointment_id = 0;
	int		 has_appt = 0, status = OP_FAIL;

	x = xcalloc(1, sizeof *x);
	if (args_only(r, "patient_id", "appointment_id", "items", "notes",
	    NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_REQUIRED, 1, INT64_MAX, &x->patient_id,
	    NULL) != 0 ||
	    arg_int(r, "appointment_id", ARG_NULLABLE, 1, INT64_MAX,
	    &appointment_id, &has_appt) != 0 ||
	    copy_arg(r, "notes", ARG_NULLABLE | ARG_MULTILINE, 0,
	    RX_NOTES_MAX_CHARS, x->notes, sizeof x->notes) != 0 ||
	    read_items(r, x) != 0)
		goto out;
	if (has_appt && (appt_by_id(appointment_id, &a) != 0 ||
	    a.patient_id != x->patient_id)) {
		req_fail(r, ERR_BAD_REQUEST, "appointment_id: no appointment %lld "
		    "of patient %lld", (long long)appointment_id,
		    (long long)x->patient_id);
		goto out;
	}
	x->appointment_id = has_appt ? appointment_id : 0;
	if (access_clinical(r, x->patient_id, "rx.create", NULL) != 0)
		goto out;
	status = rx_write(r, x, "created");
out:
	free(x);
	return status;
}

int
op_rx_renew(struct req *r)
{
	struct rx	*x;
	int64_t		 id;
	int		 status = OP_FAIL;

	x = xcalloc(1, sizeof *x);
	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0 ||
	    rx_for_caller(r, id, x) != 0)
		goto out;
	if (x->cancelled) {
		req_fail(r, ERR_CONFLICT, "prescription %lld was cancelled; write a "
		    "new one", (long long)id);
		goto out;
	}
	/* The same items from today, linked to the one renewed. */
	x->renewed_from = id;
	x->appointment_id = 0;
	status = rx_write(r, x, "renewed");
out:
	free(x);
	return status;
}

int
op_rx_get(struct req *r)
{
	struct rx	*x;
	int64_t		 id;
	int		 status = OP_FAIL;

	x = xcalloc(1, sizeof *x);
	if (args_only(r, "id", NULL) == 0 &&
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) == 0 &&
	    rx_for_caller(r, id, x) == 0) {
		pack_rx_result(r, x);
		status = OP_OK;
	}
	free(x);
	return status;
}

int
op_rx_print(struct req *r)
{
	struct rx	*x;
	char		*text;
	int64_t		 id;
	int		 status = OP_FAIL;

	x = xcalloc(1, sizeof *x);
	if (args_only(r, "id", NULL) == 0 &&
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) == 0 &&
	    rx_for_caller(r, id, x) == 0) {
		text = rx_print_text(x, r->now);
		msgpack_pack_map(&r->pk, 1);
		mp_pack_kv_str(&r->pk, "text", text);
		free(text);
		status = OP_OK;
	}
	free(x);
	return status;
}

int
op_rx_cancel(struct req *r)
{
	struct rx	*x;
	const char	*reason;
	char		 target[64];
	int64_t		 id;
	int		 status = OP_FAIL;

	x = xcalloc(1, sizeof *x);
	if (args_only(r, "id", "reason", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0 ||
	    arg_str(r, "reason", ARG_REQUIRED | ARG_MULTILINE, 1,
	    RX_REASON_MAX_CHARS, &reason) != 0 ||
	    rx_for_caller(r, id, x) != 0)
		goto out;
	if (strcmp(rx_status(x, r->now), "active") != 0) {
		req_fail(r, ERR_CONFLICT, "prescription %lld is %s", (long long)id,
		    rx_status(x, r->now));
		goto out;
	}
	if (db_begin() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	if (rx_cancel(x, req_user_id(r), reason, r->now) != 0) {
		db_rollback();
		req_fail(r, ERR_CONFLICT, "prescription %lld is not active",
		    (long long)id);
		goto out;
	}
	snprintf(target, sizeof target, "rx %lld", (long long)id);
	audit_req(r, "rx.written", x->patient_id, target, "cancelled: %s", reason);
	if (db_commit() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	pack_rx_result(r, x);
	status = OP_OK;
out:
	free(x);
	return status;
}

int
op_rx_list(struct req *r)
{
	int64_t	patient_id = 0, limit = RX_LIST_DEFAULT, offset = 0, total, n;
	int	has_patient = 0;
	char	target[64];

	if (args_only(r, "patient_id", "limit", "offset", NULL) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, RX_LIST_MAX, &limit, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT64_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	/* A patient may leave out their own id. */
	if (access_patient_or_own(r, has_patient, &patient_id, "patient_id") != 0)
		return OP_FAIL;
	snprintf(target, sizeof target, "offset %lld limit %lld",
	    (long long)offset, (long long)limit);
	if (access_clinical(r, patient_id, "rx.list", target) != 0)
		return OP_FAIL;
	rx_list(patient_id, 0, 0, NULL, NULL, &total);
	n = total - offset;
	if (n < 0)
		n = 0;
	if (n > limit)
		n = limit;
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "prescriptions");
	msgpack_pack_array(&r->pk, (uint32_t)n);
	rx_list(patient_id, limit, offset, pack_one, r, &total);
	mp_pack_kv_int(&r->pk, "total", total);
	return OP_OK;
}
