/* op-doctors.c -- doctors.list, doctors.get, doctors.update, availability.get,
 * availability.set, availability.add_exception, availability.remove_exception. */
#include <stdlib.h>
#include <string.h>

#include "appointments.h"
#include "audit.h"
#include "availability.h"
#include "clinic-time.h"
#include "db.h"
#include "doctors.h"
#include "mp.h"
#include "ops.h"
#include "session.h"
#include "util.h"

#define DOCTORS_LIMIT_MAX	200
#define EXCEPTION_DAYS_MAX	731

static void
pack_doctor_cb(const struct doctor *d, void *arg)
{
	doctors_pack(arg, d);
}

int
op_doctors_list(struct req *r)
{
	const char	*specialty = NULL, *q = NULL;
	char		*pattern;
	int64_t		 limit = 50, offset = 0, total = 0, n;
	msgpack_sbuffer	 rows;
	msgpack_packer	 pk;

	if (args_only(r, "specialty", "q", "limit", "offset", NULL) != 0 ||
	    arg_str(r, "specialty", ARG_NULLABLE, 1, SPECIALTY_MAX_CHARS, &specialty) != 0 ||
	    arg_str(r, "q", ARG_NULLABLE, 0, 100, &q) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, DOCTORS_LIMIT_MAX, &limit, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT32_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	pattern = db_like_contains(q);
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&pk, &rows, msgpack_sbuffer_write);
	n = doctors_list(specialty, pattern, limit, offset, pack_doctor_cb, &pk, &total);
	free(pattern);
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "doctors");
	msgpack_pack_array(&r->pk, (size_t)n);
	msgpack_sbuffer_write(&r->result, rows.data, rows.size);
	msgpack_sbuffer_destroy(&rows);
	mp_pack_kv_int(&r->pk, "total", total);
	return OP_OK;
}

/* Reads doctor_id (or `key`) and loads the profile; not_found when none. */
static int
doctor_arg(struct req *r, const char *key, struct doctor *d)
{
	int64_t	id;

	if (arg_int(r, key, ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return -1;
	if (doctors_by_id(id, d) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld", (long long)id);
	return 0;
}

/* The doctor themself, or the roles given. */
static int
may_manage_doctor(struct req *r, const struct doctor *d, int roles)
{
	if (req_role(r) & roles)
		return 1;
	return req_role(r) == ROLE_DOCTOR && d->user_id == req_user_id(r);
}

int
op_doctors_get(struct req *r)
{
	struct doctor	d;

	if (args_only(r, "id", NULL) != 0 || doctor_arg(r, "id", &d) != 0)
		return OP_FAIL;
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "doctor");
	doctors_pack(&r->pk, &d);
	doctors_clear(&d);
	return OP_OK;
}

int
op_doctors_update(struct req *r)
{
	const msgpack_object	*specs;
	const char		*qualifications = NULL, *bio = NULL, *room = NULL;
	int64_t			 consult = 0;
	int			 has_consult = 0, status = OP_FAIL;
	uint32_t		 i;
	struct doctor		 d;

	if (args_only(r, "id", "specialties", "qualifications", "bio", "room",
	    "consult_minutes", NULL) != 0 || doctor_arg(r, "id", &d) != 0)
		return OP_FAIL;
	if (!may_manage_doctor(r, &d, ROLE_ADMIN)) {
		doctors_clear(&d);
		return req_fail(r, ERR_FORBIDDEN, "only the doctor or an admin may edit this profile");
	}
	if (arg_str(r, "qualifications", ARG_NULLABLE | ARG_MULTILINE, 0,
	    DOCTOR_TEXT_MAX_CHARS, &qualifications) != 0 ||
	    arg_str(r, "bio", ARG_NULLABLE | ARG_MULTILINE, 0, DOCTOR_TEXT_MAX_CHARS, &bio) != 0 ||
	    arg_str(r, "room", ARG_NULLABLE, 0, 64, &room) != 0 ||
	    arg_int(r, "consult_minutes", ARG_NULLABLE, 5, 240, &consult, &has_consult) != 0)
		goto out;
	specs = mp_map_get(r->args, "specialties");
	if (specs != NULL && specs->type != MSGPACK_OBJECT_NIL) {
		if (specs->type != MSGPACK_OBJECT_ARRAY) {
			req_fail(r, ERR_BAD_REQUEST, "specialties: must be an array of strings");
			goto out;
		}
		if (specs->via.array.size > SPECIALTIES_MAX) {
			req_fail(r, ERR_BAD_REQUEST, "specialties: at most %d", SPECIALTIES_MAX);
			goto out;
		}
		d.nspecialties = 0;
		for (i = 0; i < specs->via.array.size; i++) {
			const msgpack_object *s = &specs->via.array.ptr[i];

			if (s->type != MSGPACK_OBJECT_STR || s->via.str.size == 0 ||
			    !utf8_valid(s->via.str.ptr, s->via.str.size) ||
			    has_control_chars(s->via.str.ptr, s->via.str.size) ||
			    utf8_length(s->via.str.ptr, s->via.str.size) > SPECIALTY_MAX_CHARS) {
				req_fail(r, ERR_BAD_REQUEST, "specialties: each must be "
				    "a non-empty string of at most %d characters",
				    SPECIALTY_MAX_CHARS);
				goto out;
			}
			memcpy(d.specialties[d.nspecialties], s->via.str.ptr, s->via.str.size);
			d.specialties[d.nspecialties][s->via.str.size] = '\0';
			d.nspecialties++;
		}
	}
	if (qualifications != NULL) {
		free(d.qualifications);
		d.qualifications = xstrdup(qualifications);
	}
	if (bio != NULL) {
		free(d.bio);
		d.bio = xstrdup(bio);
	}
	if (room != NULL)
		strlcpy_mf(d.room, room, sizeof d.room);
	if (has_consult)
		d.consult_minutes = (int)consult;
	d.updated_at = r->now;
	if (db_begin() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	if (doctors_save(&d) != 0) {
		db_rollback();
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	audit_req(r, "doctors.update", 0, NULL, "doctor %lld", (long long)d.id);
	if (db_commit() != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	doctors_clear(&d);
	doctors_by_id(d.id, &d);
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "doctor");
	doctors_pack(&r->pk, &d);
	status = OP_OK;
out:
	doctors_clear(&d);
	return status;
}

/* --- availability --- */

static void
pack_session(msgpack_packer *pk, const struct avail_session *s, int with_slot)
{
	char	start[6], end[6];

	hhmm_format(s->start_min, start);
	hhmm_format(s->end_min, end);
	msgpack_pack_map(pk, with_slot ? 4 : 3);
	mp_pack_kv_int(pk, "weekday", s->weekday);
	mp_pack_kv_str(pk, "start", start);
	mp_pack_kv_str(pk, "end", end);
	if (with_slot)
		mp_pack_kv_int(pk, "slot_minutes", s->slot_minutes);
}

static void
pack_exception(msgpack_packer *pk, const struct avail_exception *e)
{
	char	start[6], end[6];

	msgpack_pack_map(pk, 8);
	mp_pack_kv_int(pk, "id", e->id);
	mp_pack_str(pk, "doctor_id");
	if (e->doctor_id != 0)
		msgpack_pack_int64(pk, e->doctor_id);
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_str(pk, "date", e->date);
	mp_pack_kv_str(pk, "kind", exception_kind_name(e->kind));
	if (e->start_min >= 0) {
		hhmm_format(e->start_min, start);
		hhmm_format(e->end_min, end);
	}
	mp_pack_kv_str(pk, "start", e->start_min >= 0 ? start : NULL);
	mp_pack_kv_str(pk, "end", e->start_min >= 0 ? end : NULL);
	mp_pack_str(pk, "slot_minutes");
	if (e->kind == EXC_EXTRA)
		msgpack_pack_int64(pk, e->slot_minutes);
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_str(pk, "reason", e->reason);
}

struct exc_pack {
	msgpack_packer	pk;
	size_t		n;
};

static void
pack_exception_cb(const struct avail_exception *e, void *arg)
{
	struct exc_pack	*p = arg;

	pack_exception(&p->pk, e);
	p->n++;
}

/* Optional date argument: into out (YYYY-MM-DD), or a default. */
static int
date_arg(struct req *r, const char *key, int flags, struct civil_date *d)
{
	const char	*s = NULL;

	if (arg_str(r, key, flags, 10, 10, &s) != 0)
		return -1;
	if (s != NULL && date_parse(s, d) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be a date YYYY-MM-DD", key);
	return 0;
}

int
op_availability_get(struct req *r)
{
	struct avail_template	 t;
	struct civil_date	 from, to;
	struct exc_pack		 ex;
	msgpack_sbuffer		 sb;
	struct doctor		 d;
	char			 f[11], e[11];
	int			 i;

	utc_to_local(r->now, &from, NULL);
	if (args_only(r, "doctor_id", "from", "to", NULL) != 0 ||
	    doctor_arg(r, "doctor_id", &d) != 0)
		return OP_FAIL;
	doctors_clear(&d);
	if (date_arg(r, "from", ARG_NULLABLE, &from) != 0)
		return OP_FAIL;
	/* 90 days from whichever from applies. */
	to = from;
	date_add_days(&to, 90);
	if (date_arg(r, "to", ARG_NULLABLE, &to) != 0)
		return OP_FAIL;
	if (date_compare(&to, &from) < 0 ||
	    date_to_days(&to) - date_to_days(&from) > EXCEPTION_DAYS_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "to: must be after from, within two years");
	availability_template(d.id, &t);
	msgpack_pack_map(&r->pk, 4);
	mp_pack_kv_int(&r->pk, "doctor_id", d.id);
	mp_pack_str(&r->pk, "weekly");
	msgpack_pack_array(&r->pk, (size_t)t.nsessions);
	for (i = 0; i < t.nsessions; i++)
		pack_session(&r->pk, &t.sessions[i], 1);
	mp_pack_str(&r->pk, "breaks");
	msgpack_pack_array(&r->pk, (size_t)t.nbreaks);
	for (i = 0; i < t.nbreaks; i++)
		pack_session(&r->pk, &t.breaks[i], 0);
	date_format(&from, f);
	date_format(&to, e);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&ex.pk, &sb, msgpack_sbuffer_write);
	ex.n = 0;
	availability_exceptions(d.id, f, e, pack_exception_cb, &ex);
	mp_pack_str(&r->pk, "exceptions");
	msgpack_pack_array(&r->pk, ex.n);
	msgpack_sbuffer_write(&r->result, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return OP_OK;
}

/* Reads [{weekday, start, end, slot_minutes?}] into sessions. */
static int
parse_sessions(struct req *r, const char *key, int with_slot,
    struct avail_session *out, int *n)
{
	const msgpack_object	*list = mp_map_get(r->args, key);
	uint32_t		 i;

	*n = 0;
	if (list == NULL || list->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (list->type != MSGPACK_OBJECT_ARRAY)
		return req_fail(r, ERR_BAD_REQUEST, "%s: must be an array", key);
	if (list->via.array.size > AVAIL_MAX)
		return req_fail(r, ERR_BAD_REQUEST, "%s: at most %d entries", key, AVAIL_MAX);
	for (i = 0; i < list->via.array.size; i++) {
		const msgpack_object	*o = &list->via.array.ptr[i];
		const msgpack_object	*wd, *st, *en, *sl;
		int64_t			 weekday, slot = 0;
		char			 buf[8];

		if (o->type != MSGPACK_OBJECT_MAP)
			return req_fail(r, ERR_BAD_REQUEST, "%s[%u]: must be a map", key, i);
		wd = mp_map_get(o, "weekday");
		st = mp_map_get(o, "start");
		en = mp_map_get(o, "end");
		sl = mp_map_get(o, "slot_minutes");
		if (mp_int(wd, &weekday) != 0 || weekday < 1 || weekday > 7)
			return req_fail(r, ERR_BAD_REQUEST,
			    "%s[%u].weekday: must be 1 (Monday) to 7 (Sunday)", key, i);
		if (st == NULL || st->type != MSGPACK_OBJECT_STR || st->via.str.size != 5 ||
		    en == NULL || en->type != MSGPACK_OBJECT_STR || en->via.str.size != 5)
			return req_fail(r, ERR_BAD_REQUEST,
			    "%s[%u]: start and end must be \"HH:MM\"", key, i);
		memcpy(buf, st->via.str.ptr, 5);
		buf[5] = '\0';
		out[*n].start_min = hhmm_parse(buf);
		memcpy(buf, en->via.str.ptr, 5);
		out[*n].end_min = hhmm_parse(buf);
		if (out[*n].start_min < 0 || out[*n].end_min < 0)
			return req_fail(r, ERR_BAD_REQUEST,
			    "%s[%u]: start and end must be \"HH:MM\"", key, i);
		if (with_slot && (mp_int(sl, &slot) != 0 || slot < 5 || slot > 240))
			return req_fail(r, ERR_BAD_REQUEST,
			    "%s[%u].slot_minutes: must be 5 to 240", key, i);
		out[*n].weekday = (int)weekday;
		out[*n].slot_minutes = (int)slot;
		(*n)++;
	}
	return 0;
}

int
op_availability_set(struct req *r)
{
	struct avail_template	 t;
	struct doctor		 d;
	const char		*err;

	memset(&t, 0, sizeof t);
	if (args_only(r, "doctor_id", "weekly", "breaks", NULL) != 0 ||
	    doctor_arg(r, "doctor_id", &d) != 0)
		return OP_FAIL;
	doctors_clear(&d);
	if (!may_manage_doctor(r, &d, ROLE_ADMIN | ROLE_RECEPTIONIST))
		return req_fail(r, ERR_FORBIDDEN, "only the doctor, reception or an admin may set hours");
	if (mp_map_get(r->args, "weekly") == NULL)
		return req_fail(r, ERR_BAD_REQUEST, "weekly: required");
	if (parse_sessions(r, "weekly", 1, t.sessions, &t.nsessions) != 0 ||
	    parse_sessions(r, "breaks", 0, t.breaks, &t.nbreaks) != 0)
		return OP_FAIL;
	if ((err = availability_template_error(&t)) != NULL)
		return req_fail(r, ERR_BAD_REQUEST, "weekly: %s", err);
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (availability_replace(d.id, &t) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "availability.set", 0, NULL, "doctor %lld: %d sessions, %d breaks",
	    (long long)d.id, t.nsessions, t.nbreaks);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	/* Answer with what is stored now. */
	{
		int	i;

		availability_template(d.id, &t);
		msgpack_pack_map(&r->pk, 3);
		mp_pack_kv_int(&r->pk, "doctor_id", d.id);
		mp_pack_str(&r->pk, "weekly");
		msgpack_pack_array(&r->pk, (size_t)t.nsessions);
		for (i = 0; i < t.nsessions; i++)
			pack_session(&r->pk, &t.sessions[i], 1);
		mp_pack_str(&r->pk, "breaks");
		msgpack_pack_array(&r->pk, (size_t)t.nbreaks);
		for (i = 0; i < t.nbreaks; i++)
			pack_session(&r->pk, &t.breaks[i], 0);
	}
	return OP_OK;
}

struct affected {
	msgpack_packer	pk;
	size_t		n;
	int64_t		from, to;
};

static void
affected_cb(const struct appt *a, void *arg)
{
	struct affected	*af = arg;

	if (appt_status_active(a->status) && a->starts_at < af->to &&
	    a->ends_at > af->from) {
		msgpack_pack_int64(&af->pk, a->id);
		af->n++;
	}
}

static const char *const kind_names[] = { "leave", "holiday", "extra", NULL };

int
op_availability_add_exception(struct req *r)
{
	struct avail_exception	 e;
	struct civil_date	 day;
	struct doctor		 d;
	struct appt_filter	 f;
	struct affected		 af;
	msgpack_sbuffer		 sb;
	const char		*date, *start = NULL, *end = NULL, *reason = NULL;
	int64_t			 doctor_id = 0, slot = 0;
	int			 kind, has_doctor, has_slot;

	memset(&e, 0, sizeof e);
	memset(&d, 0, sizeof d);
	if (args_only(r, "doctor_id", "date", "kind", "start", "end", "slot_minutes",
	    "reason", NULL) != 0 ||
	    arg_int(r, "doctor_id", ARG_NULLABLE, 1, INT64_MAX, &doctor_id, &has_doctor) != 0 ||
	    arg_str(r, "date", ARG_REQUIRED, 10, 10, &date) != 0 ||
	    arg_enum(r, "kind", ARG_REQUIRED, kind_names, &kind, NULL) != 0 ||
	    arg_str(r, "start", ARG_NULLABLE, 5, 5, &start) != 0 ||
	    arg_str(r, "end", ARG_NULLABLE, 5, 5, &end) != 0 ||
	    arg_int(r, "slot_minutes", ARG_NULLABLE, 5, 240, &slot, &has_slot) != 0 ||
	    arg_str(r, "reason", ARG_NULLABLE, 0, EXCEPTION_REASON_MAX, &reason) != 0)
		return OP_FAIL;
	if (date_parse(date, &day) != 0)
		return req_fail(r, ERR_BAD_REQUEST, "date: must be a date YYYY-MM-DD");
	e.kind = (enum exception_kind)kind;
	if (e.kind == EXC_HOLIDAY) {
		if (has_doctor)
			return req_fail(r, ERR_BAD_REQUEST,
			    "doctor_id: a holiday closes the whole clinic; use kind leave for one doctor");
		if (req_role(r) != ROLE_ADMIN)
			return req_fail(r, ERR_FORBIDDEN, "only an admin may add clinic holidays");
	} else {
		if (!has_doctor)
			return req_fail(r, ERR_BAD_REQUEST, "doctor_id: required for %s",
			    kind_names[kind]);
		if (doctors_by_id(doctor_id, &d) != 0)
			return req_fail(r, ERR_NOT_FOUND, "no doctor with id %lld",
			    (long long)doctor_id);
		doctors_clear(&d);
		if (!may_manage_doctor(r, &d, ROLE_ADMIN | ROLE_RECEPTIONIST))
			return req_fail(r, ERR_FORBIDDEN,
			    "only the doctor, reception or an admin may change these hours");
	}
	if ((start == NULL) != (end == NULL))
		return req_fail(r, ERR_BAD_REQUEST, "start and end go together");
	e.start_min = e.end_min = -1;
	if (start != NULL) {
		e.start_min = hhmm_parse(start);
		e.end_min = hhmm_parse(end);
		if (e.start_min < 0 || e.end_min < 0 || e.end_min <= e.start_min)
			return req_fail(r, ERR_BAD_REQUEST,
			    "start, end: \"HH:MM\", end after start");
	}
	if (e.kind == EXC_EXTRA) {
		if (start == NULL || !has_slot)
			return req_fail(r, ERR_BAD_REQUEST,
			    "an extra session needs start, end and slot_minutes");
		if (e.end_min - e.start_min < slot)
			return req_fail(r, ERR_BAD_REQUEST, "an extra session must be at least one slot long");
		e.slot_minutes = (int)slot;
	} else if (has_slot)
		return req_fail(r, ERR_BAD_REQUEST, "slot_minutes: only for kind extra");
	e.doctor_id = e.kind == EXC_HOLIDAY ? 0 : doctor_id;
	date_format(&day, e.date);
	strlcpy_mf(e.reason, reason != NULL ? reason : "", sizeof e.reason);
	e.created_by = req_user_id(r);
	e.created_at = r->now;
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (availability_add_exception(&e) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "availability.add_exception", 0, NULL, "%s %s doctor %lld",
	    exception_kind_name(e.kind), e.date, (long long)e.doctor_id);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");

	/* The desk needs to know who must be rebooked. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&af.pk, &sb, msgpack_sbuffer_write);
	af.n = 0;
	af.from = local_to_utc(&day, e.start_min >= 0 ? e.start_min : 0);
	af.to = local_to_utc(&day, e.start_min >= 0 ? e.end_min : 1440);
	if (e.kind != EXC_EXTRA) {
		memset(&f, 0, sizeof f);
		f.doctor_id = e.doctor_id;
		f.from = af.from - 86400;
		f.to = af.to;
		f.status = -1;
		f.limit = 10000;
		appt_list(&f, affected_cb, &af);
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "exception");
	pack_exception(&r->pk, &e);
	mp_pack_str(&r->pk, "affected_appointments");
	msgpack_pack_array(&r->pk, af.n);
	msgpack_sbuffer_write(&r->result, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return OP_OK;
}

int
op_availability_remove_exception(struct req *r)
{
	struct avail_exception	e;
	struct doctor		d;
	int64_t			id;

	if (args_only(r, "id", NULL) != 0 ||
	    arg_int(r, "id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0)
		return OP_FAIL;
	if (availability_exception_by_id(id, &e) != 0)
		return req_fail(r, ERR_NOT_FOUND, "no exception with id %lld", (long long)id);
	memset(&d, 0, sizeof d);
	d.id = e.doctor_id;
	d.user_id = e.doctor_id != 0 ? doctors_user_id(e.doctor_id) : 0;
	if (e.kind == EXC_HOLIDAY ? req_role(r) != ROLE_ADMIN :
	    !may_manage_doctor(r, &d, ROLE_ADMIN | ROLE_RECEPTIONIST))
		return req_fail(r, ERR_FORBIDDEN, "not allowed to change these hours");
	if (db_begin() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	if (availability_remove_exception(id) != 0) {
		db_rollback();
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	}
	audit_req(r, "availability.remove_exception", 0, NULL, "%s %s doctor %lld",
	    exception_kind_name(e.kind), e.date, (long long)e.doctor_id);
	if (db_commit() != 0)
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable");
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "exception");
	pack_exception(&r->pk, &e);
	return OP_OK;
}
