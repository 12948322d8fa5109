/* reminders.c -- appointment reminders and the outbox.
 *
 * Planning writes rows in the caller's transaction. One evtimer waits for
 * the earliest row due; its tick claims due rows one by one (state
 * `sending`, committed and flushed before any byte goes out), builds the
 * message from the appointment as it is now, and hands it to the mailer or
 * the SMS sender, which run on libcurl's multi interface in this same loop.
 * Each outcome is committed before the timer is re-armed. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "appointments.h"
#include "audit.h"
#include "clinic-time.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "curl-loop.h"
#include "db.h"
#include "doctors.h"
#include "log.h"
#include "mailer.h"
#include "mp.h"
#include "patients.h"
#include "notifications.h"
#include "reminders.h"
#include "users.h"
#include "server.h"
#include "session.h"
#include "sms.h"
#include "util.h"

#define INFLIGHT_MAX		8
#define REARM_MAX		3600	/* re-reads the clock at least hourly */
#define STORE_RETRY		5	/* seconds after a store error */
#define REPLAN_DAYS		800
#define REPLAN_MAX		500
#define KIND_BYTES		16
#define MAIL_FROM_NAME		"MediFlow"
#define DEFAULT_TWILIO_BASE	"https://api.twilio.com"

struct reminder {
	int64_t	id;
	int64_t	appointment_id;
	char	kind[KIND_BYTES];
	char	channel[8];
	int64_t	due_at;
	char	state[10];
	int	attempts;
};

/* A transfer on its way. */
struct flight {
	int64_t	id;
	int64_t	appointment_id;
	int64_t	patient_id;
	int	attempts;
	char	kind[KIND_BYTES];
	char	channel[8];
};

struct replan_item {
	int64_t	id, patient_id, starts_at;
};

struct replan_list {
	struct replan_item	*v;
	size_t			 n;
};

static struct event	*timer_ev;
static int		 stopping;
static int		 nflight;
static int64_t		 offsets[REMINDER_OFFSETS_MAX];
static char		 labels[REMINDER_OFFSETS_MAX][KIND_BYTES];
static int		 noffsets;
static int		 mail_on, sms_on;
static struct mailer_config mail_cfg;
static struct sms_config sms_cfg;

static void	tick_cb(evutil_socket_t, short, void *);
static void	schedule_soon(void);
static void	rearm(void);
static void	sent_cb(const struct send_result *, void *);

static const char *const channels_names[] = {
	[RCH_NONE] = "none", [RCH_EMAIL] = "email", [RCH_SMS] = "sms",
	[RCH_BOTH] = "both",
};

int
reminder_channels_from_name(const char *s)
{
	int	i;

	for (i = 0; i < (int)nitems(channels_names); i++) {
		if (strcmp(channels_names[i], s) == 0)
			return i;
	}
	return -1;
}

const char *
reminder_channels_name(int c)
{
	return c >= 0 && c < (int)nitems(channels_names) ? channels_names[c] : "none";
}

/* --- pure helpers --- */

int
reminder_offsets_parse(const char *spec, int64_t *out, char lab[][16], int max)
{
	char	*copy = xstrdup(spec), *p, *tok, *save = NULL, *e;
	int	 n = 0, i, j;
	int64_t	 v;

	for (p = copy; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0' || n == max)
			goto bad;
		v = duration_parse(tok);
		if (v <= 0 || v > 30 * 86400)
			goto bad;
		for (i = 0; i < n; i++) {
			if (out[i] == v)
				goto bad;
		}
		out[n] = v;
		if (v % 86400 == 0 && v >= 2 * 86400)
			snprintf(lab[n], 16, "%lldd", (long long)(v / 86400));
		else if (v % 3600 == 0)
			snprintf(lab[n], 16, "%lldh", (long long)(v / 3600));
		else if (v % 60 == 0)
			snprintf(lab[n], 16, "%lldm", (long long)(v / 60));
		else
			snprintf(lab[n], 16, "%llds", (long long)v);
		n++;
	}
	free(copy);
	/* Earliest reminder (largest offset) first. */
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && out[j - 1] < out[j]; j--) {
			char	tmp[16];

			v = out[j];
			out[j] = out[j - 1];
			out[j - 1] = v;
			memcpy(tmp, lab[j], 16);
			memcpy(lab[j], lab[j - 1], 16);
			memcpy(lab[j - 1], tmp, 16);
		}
	}
	return n;
bad:
	free(copy);
	return -1;
}

int64_t
reminder_backoff(int attempts)
{
	int64_t	d = REMINDER_BACKOFF_BASE;

	while (--attempts > 0 && d < REMINDER_BACKOFF_MAX)
		d *= 2;
	return d < REMINDER_BACKOFF_MAX ? d : REMINDER_BACKOFF_MAX;
}

static int
kind_scheduled(const char *kind)
{
	return strcmp(kind, "manual") != 0 && strcmp(kind, "confirmation") != 0;
}

/* --- preferences and reachability --- */

int
reminders_prefs_get(int64_t patient_id, int *explicit_choice)
{
	static const char *sql = "SELECT channels FROM reminder_prefs WHERE patient_id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 c = RCH_BOTH, found = 0;

	sqlite3_bind_int64(st, 1, patient_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		c = reminder_channels_from_name(db_col_text(st, 0));
		if (c < 0)
			c = RCH_BOTH;
		found = 1;
	}
	sqlite3_reset(st);
	if (explicit_choice != NULL)
		*explicit_choice = found;
	return c;
}

/* The channels on which p can be reached now. */
static int
reachable(const struct patient *p, const char **why_not)
{
	int	c = RCH_NONE;

	if (mail_on && p->email[0] != '\0' && mail_addr_valid(p->email))
		c |= RCH_EMAIL;
	if (sms_on && sms_e164_valid(p->phone))
		c |= RCH_SMS;
	if (why_not != NULL) {
		if (c != RCH_NONE)
			*why_not = NULL;
		else if (!mail_on && !sms_on)
			*why_not = "neither e-mail nor SMS is configured on this server";
		else if (!sms_on)
			*why_not = "the patient has no e-mail address (SMS is not configured)";
		else if (!mail_on)
			*why_not = "the patient has no phone number in E.164 form "
			    "(e-mail is not configured)";
		else
			*why_not = "the patient has neither an e-mail address nor a "
			    "phone number in E.164 form";
	}
	return c;
}

int
reminders_reachable(int64_t patient_id, const char **why_not)
{
	struct patient	p;

	if (patients_by_id(patient_id, &p) != 0) {
		if (why_not != NULL)
			*why_not = "no such patient";
		return RCH_NONE;
	}
	return reachable(&p, why_not);
}

/* --- planning --- */

static int
insert_row(int64_t appt_id, const char *kind, const char *channel,
    int64_t due_at, int64_t created_by, int64_t now, int64_t *id)
{
	static const char *sql = "INSERT INTO reminders (appointment_id, kind, "
	    "channel, due_at, state, created_by, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, appt_id);
	db_bind_text(st, 2, kind);
	db_bind_text(st, 3, channel);
	sqlite3_bind_int64(st, 4, due_at);
	db_bind_opt_int(st, 5, created_by != 0, created_by);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, now);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	if (id != NULL)
		*id = db_changes() == 1 ? db_last_id() : 0;
	return 0;
}

/* The channels an approved appointment's reminders go out on. */
static int
plan_channels(int64_t patient_id)
{
	struct patient	p;

	/* Neither configured: no patient is reachable, and every booking
	 * would read the patient and their choice again to learn that. */
	if (!mail_on && !sms_on)
		return RCH_NONE;
	if (patients_by_id(patient_id, &p) != 0)
		return RCH_NONE;
	return reminders_prefs_get(patient_id, NULL) & reachable(&p, NULL);
}

static int
plan(int64_t appt_id, int64_t patient_id, int64_t starts_at, int64_t now,
    int with_confirmation)
{
	static const char *const chan_names[] = { "email", "sms" };
	int	chans, c, i;

	if (starts_at <= now)
		return 0;
	chans = plan_channels(patient_id);
	for (c = 0; c < 2; c++) {
		if (!(chans & (1 << c)))
			continue;
		/* Only moments still ahead: a booking for this afternoon gets no
		 * "24 hours before" reminder. */
		for (i = 0; i < noffsets; i++) {
			if (starts_at - offsets[i] > now &&
			    insert_row(appt_id, labels[i], chan_names[c],
			    starts_at - offsets[i], 0, now, NULL) != 0)
				return -1;
		}
		if (with_confirmation && (1 << c) == RCH_EMAIL &&
		    insert_row(appt_id, "confirmation", "email", now, 0, now, NULL) != 0)
			return -1;
	}
	schedule_soon();
	return 0;
}

static int
drop(int64_t appt_id, int scheduled_only)
{
	static const char *all_sql = "DELETE FROM reminders WHERE appointment_id = ? "
	    "AND state IN ('pending', 'retry')";
	static const char *sched_sql = "DELETE FROM reminders WHERE appointment_id = ? "
	    "AND state IN ('pending', 'retry') AND kind NOT IN ('manual', 'confirmation')";
	sqlite3_stmt	*st = db_prepare(scheduled_only ? sched_sql : all_sql);

	sqlite3_bind_int64(st, 1, appt_id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	schedule_soon();
	return 0;
}

int
reminders_appt_changed(const struct appt *a, int64_t now)
{
	if (a->status == APPT_APPROVED)
		return plan(a->id, a->patient_id, a->starts_at, now, 1);
	return drop(a->id, 0);
}

static void
replan_collect(const struct appt *a, void *arg)
{
	struct replan_list	*l = arg;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n].id = a->id;
	l->v[l->n].patient_id = a->patient_id;
	l->v[l->n].starts_at = a->starts_at;
	l->n++;
}

int
reminders_prefs_set(int64_t patient_id, int channels, int64_t now)
{
	static const char *sql = "INSERT INTO reminder_prefs (patient_id, channels, "
	    "updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (patient_id) DO UPDATE "
	    "SET channels = ?2, updated_at = ?3";
	sqlite3_stmt		*st = db_prepare(sql);
	struct appt_filter	 f;
	struct replan_list	 l = { NULL, 0 };
	size_t			 i;
	int			 rc = 0;

	sqlite3_bind_int64(st, 1, patient_id);
	db_bind_text(st, 2, reminder_channels_name(channels));
	sqlite3_bind_int64(st, 3, now);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	/* The reminders still to come follow the new choice. */
	memset(&f, 0, sizeof f);
	f.patient_id = patient_id;
	f.from = now;
	f.to = now + (int64_t)REPLAN_DAYS * 86400;
	f.status = APPT_APPROVED;
	f.limit = REPLAN_MAX;
	appt_list(&f, replan_collect, &l);
	for (i = 0; i < l.n && rc == 0; i++) {
		if (drop(l.v[i].id, 1) != 0 ||
		    plan(l.v[i].id, l.v[i].patient_id, l.v[i].starts_at, now, 0) != 0)
			rc = -1;
	}
	free(l.v);
	return rc;
}

int
reminders_manual(const struct appt *a, int64_t user_id, int64_t now,
    void (*fn)(int64_t, const char *, int64_t, void *), void *arg)
{
	static const char *const chan_names[] = { "email", "sms" };
	int	chans = plan_channels(a->patient_id), c, n = 0;
	int64_t	id;

	for (c = 0; c < 2; c++) {
		if (!(chans & (1 << c)))
			continue;
		if (insert_row(a->id, "manual", chan_names[c], now, user_id, now, &id) != 0)
			return -1;
		if (fn != NULL)
			fn(id, chan_names[c], now, arg);
		n++;
	}
	schedule_soon();
	return n;
}

int64_t
reminders_last_manual(int64_t appointment_id)
{
	static const char *sql = "SELECT MAX(created_at) FROM reminders WHERE "
	    "appointment_id = ? AND kind = 'manual'";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 t = 0;

	sqlite3_bind_int64(st, 1, appointment_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t;
}

/* --- state changes --- */

static int
write_begin(void)
{
	return db_begin();
}

static int
write_end(int ok)
{
	if (!ok) {
		db_rollback();
		return -1;
	}
	return db_commit();
}

/* pending/retry -> skipped or failed. */
static int
mark_final(int64_t id, const char *state, const char *error, int64_t now)
{
	static const char *sql = "UPDATE reminders SET state = ?, last_error = ?, "
	    "updated_at = ? WHERE id = ? AND state IN ('pending', 'retry')";
	sqlite3_stmt	*st;

	if (write_begin() != 0)
		return -1;
	st = db_prepare(sql);
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, id);
	return write_end(db_step_done(st) == SQLITE_DONE);
}

static int
mark_sending(int64_t id, const char *recipient, int64_t now)
{
	static const char *sql = "UPDATE reminders SET state = 'sending', "
	    "attempts = attempts + 1, recipient = ?, updated_at = ? "
	    "WHERE id = ? AND state IN ('pending', 'retry')";
	sqlite3_stmt	*st;
	int		 ok;

	if (write_begin() != 0)
		return -1;
	st = db_prepare(sql);
	db_bind_text(st, 1, recipient);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	ok = db_step_done(st) == SQLITE_DONE && db_changes() == 1;
	return write_end(ok);
}

/* sending -> sent | retry | failed. */
static int
mark_outcome(int64_t id, const char *state, const char *error, const char *ref,
    int64_t due_at, int64_t now)
{
	static const char *sql = "UPDATE reminders SET state = ?1, last_error = ?2, "
	    "provider_ref = coalesce(?3, provider_ref), due_at = coalesce(?4, due_at), "
	    "sent_at = CASE WHEN ?1 = 'sent' THEN ?5 ELSE sent_at END, "
	    "updated_at = ?5 WHERE id = ?6 AND state = 'sending'";
	sqlite3_stmt	*st;

	if (write_begin() != 0)
		return -1;
	st = db_prepare(sql);
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, error);
	db_bind_text(st, 3, ref != NULL && *ref != '\0' ? ref : NULL);
	db_bind_opt_int(st, 4, due_at != 0, due_at);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, id);
	return write_end(db_step_done(st) == SQLITE_DONE);
}

static int
push_wants_admin(const struct session *s, void *arg)
{
	(void)arg;
	return s->role == ROLE_ADMIN;
}

struct failure_note {
	const char	*title;
	const char	*body;
	int64_t		 appointment_id;
	int64_t		 now;
	int		 failed;
};

static void
note_admin(int64_t admin_id, void *arg)
{
	struct failure_note	*n = arg;

	if (notifications_create(admin_id, "reminder.failed", n->title, n->body,
	    n->appointment_id, n->now) != 0)
		n->failed = 1;
}

/* A reminder gave up: the log, the audit trail, an in-app notification for
 * every admin, and a push to every admin online. */
static void
notify_admins(const struct flight *f, const char *error, int64_t now)
{
	struct audit_entry	 e;
	struct failure_note	 note;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	char			 target[64], *body;

	log_warn("reminder %lld (%s %s, appointment %lld) failed after %d "
	    "attempt%s: %s", (long long)f->id, f->kind, f->channel,
	    (long long)f->appointment_id, f->attempts, f->attempts == 1 ? "" : "s",
	    error);
	snprintf(target, sizeof target, "reminder %lld", (long long)f->id);
	memset(&e, 0, sizeof e);
	e.ts = now;
	e.actor_role = "system";
	e.action = "notify.failed";
	e.patient_id = f->patient_id;
	e.target = target;
	e.detail = error;
	note.title = "A reminder could not be sent";
	note.body = body = xasprintf("%s %s reminder for appointment %lld failed "
	    "after %d attempt%s: %s", f->kind, f->channel,
	    (long long)f->appointment_id, f->attempts, f->attempts == 1 ? "" : "s",
	    error);
	note.appointment_id = f->appointment_id;
	note.now = now;
	note.failed = 0;
	if (write_begin() == 0) {
		int	ok = audit_append(&e) == 0;

		users_each_active_in_role(ROLE_ADMIN, note_admin, &note);
		write_end(ok && !note.failed);
	}
	free(body);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	mp_pack_kv_int(&pk, "id", f->id);
	mp_pack_kv_int(&pk, "appointment_id", f->appointment_id);
	mp_pack_kv_str(&pk, "kind", f->kind);
	mp_pack_kv_str(&pk, "channel", f->channel);
	mp_pack_kv_int(&pk, "attempts", f->attempts);
	mp_pack_kv_str(&pk, "error", error);
	conn_push_event("notify.failed", sb.data, sb.size, push_wants_admin, NULL);
	msgpack_sbuffer_destroy(&sb);
}

/* --- composing --- */

static const char *const day_names[] = {
	"", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday"
};
static const char *const month_names[] = {
	"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};

/* "Tuesday 25 November 2025, 09:00" or, short, "Tue 25 Nov 09:00". */
static void
format_when(int64_t t, int short_form, char *out, size_t len)
{
	struct civil_date	d;
	int			min, wd;

	utc_to_local(t, &d, &min);
	wd = date_weekday(&d);
	if (short_form)
		snprintf(out, len, "%.3s %d %.3s %02d:%02d", day_names[wd], d.day,
		    month_names[d.month], min / 60, min % 60);
	else
		snprintf(out, len, "%s %d %s %d, %02d:%02d", day_names[wd], d.day,
		    month_names[d.month], d.year, min / 60, min % 60);
}

static void
format_hhmm(int64_t t, char out[6])
{
	struct civil_date	d;
	int			min;

	utc_to_local(t, &d, &min);
	hhmm_format(min, out);
}

/* A copy of text with every line after the first indented by prefix. */
static char *
indent_lines(const char *text, const char *prefix)
{
	size_t		 n = 1, plen = strlen(prefix);
	const char	*p;
	char		*out, *o;

	for (p = text; *p != '\0'; p++)
		n += *p == '\n' ? plen + 1 : 1;
	out = o = xmalloc(n);
	for (p = text; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		*o++ = *p;
		if (*p == '\n') {
			memcpy(o, prefix, plen);
			o += plen;
		}
	}
	*o = '\0';
	return out;
}

/* The first appointment of a reschedule chain, for a stable calendar UID. */
static int64_t
chain_root(const struct appt *a, int *sequence)
{
	struct appt	cur;
	int64_t		root = a->id, from = a->rescheduled_from;

	*sequence = 0;
	while (from != 0 && *sequence < 100 && appt_by_id(from, &cur) == 0) {
		root = cur.id;
		from = cur.rescheduled_from;
		(*sequence)++;
	}
	return root;
}

static char *
compose_mail(const struct reminder *r, const struct appt *a,
    const struct patient *p, int64_t now, char **message_id, const char **cause)
{
	struct ics_event	 ev;
	struct doctor		 d;
	struct mail		 m;
	char			 when[96], end[6], *subject, *text, *ics, *uid;
	char			*summary, *desc, *msg, *reason, room[sizeof d.room] = "";
	const char		*domain = mail_addr_domain(server.cfg.mail_from);
	int			 confirm = strcmp(r->kind, "confirmation") == 0;
	int			 seq;

	if (doctors_by_id(a->doctor_id, &d) == 0) {
		strlcpy_mf(room, d.room, sizeof room);
		doctors_clear(&d);
	}
	format_when(a->starts_at, 0, when, sizeof when);
	format_hhmm(a->ends_at, end);
	reason = indent_lines(a->reason, "           ");
	if (confirm)
		subject = xasprintf("Appointment confirmed: %s with %s", when,
		    a->doctor_name);
	else
		subject = xasprintf("Reminder: your appointment on %s with %s", when,
		    a->doctor_name);
	text = xasprintf("Hello %s,\n\n%s\n\n"
	    "  When:    %s-%s (%s time)\n"
	    "  Doctor:  %s\n"
	    "%s%s%s"
	    "%s%s%s"
	    "\nThe attached calendar file (appointment.ics) adds it to your calendar.\n"
	    "If you cannot come, please cancel or reschedule as early as you can.\n\n"
	    "-- \nMediFlow\n",
	    p->full_name, confirm ? "Your appointment is confirmed:" :
	    "This is a reminder of your appointment:", when, end, server.cfg.tz,
	    a->doctor_name,
	    room[0] != '\0' ? "  Room:    " : "", room, room[0] != '\0' ? "\n" : "",
	    a->reason[0] != '\0' ? "  Reason:  " : "", reason,
	    a->reason[0] != '\0' ? "\n" : "");
	free(reason);

	uid = xasprintf("appointment-%lld@%s", (long long)chain_root(a, &seq), domain);
	summary = xasprintf("Appointment with %s", a->doctor_name);
	desc = xasprintf("%s%s", a->reason[0] != '\0' ? "Reason: " : "", a->reason);
	memset(&ev, 0, sizeof ev);
	ev.uid = uid;
	ev.sequence = seq;
	ev.stamp = now;
	ev.start = a->starts_at;
	ev.end = a->ends_at;
	ev.summary = summary;
	ev.description = desc;
	ev.location = room;
	ics = ics_build(&ev);

	*message_id = mail_message_id(domain, now);
	memset(&m, 0, sizeof m);
	m.from.name = MAIL_FROM_NAME;
	m.from.addr = server.cfg.mail_from;
	m.to.name = p->full_name;
	m.to.addr = p->email;
	m.subject = subject;
	m.text = text;
	m.date = now;
	m.message_id = *message_id;
	m.kind = r->kind;
	m.ics = ics;
	m.ics_name = "appointment.ics";
	msg = mail_build(&m, cause);
	free(subject);
	free(text);
	free(uid);
	free(summary);
	free(desc);
	free(ics);
	if (msg == NULL) {
		free(*message_id);
		*message_id = NULL;
	}
	return msg;
}

static char *
compose_sms(const struct appt *a)
{
	char	when[64], doctor[128], *body;

	format_when(a->starts_at, 1, when, sizeof when);
	/* A long name must not push the useful part out of two segments. */
	strlcpy_mf(doctor, a->doctor_name, sizeof doctor);
	if (utf8_length(doctor, strlen(doctor)) > 40) {
		size_t	n = 0, chars = 0;

		while (doctor[n] != '\0' && chars < 40) {
			n++;
			while (((unsigned char)doctor[n] & 0xc0) == 0x80)
				n++;
			chars++;
		}
		doctor[n] = '\0';
	}
	body = xasprintf("MediFlow reminder: your appointment with %s is on %s "
	    "(%s time). If you cannot come, please cancel or call the clinic.",
	    doctor, when, server.cfg.tz);
	sms_fit(body, SMS_SEGMENTS_MAX);
	return body;
}

/* --- the timer --- */

static int
row_from(sqlite3_stmt *st, struct reminder *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	r->appointment_id = sqlite3_column_int64(st, 1);
	strlcpy_mf(r->kind, db_col_text(st, 2), sizeof r->kind);
	strlcpy_mf(r->channel, db_col_text(st, 3), sizeof r->channel);
	r->due_at = sqlite3_column_int64(st, 4);
	strlcpy_mf(r->state, db_col_text(st, 5), sizeof r->state);
	r->attempts = sqlite3_column_int(st, 6);
	return 0;
}

static int
next_due(int64_t now, struct reminder *r)
{
	/* Named: without statistics the planner walks reminders_by_state
	 * through every pending row, a clinic's whole future, seeking each
	 * in the table (and sorts): with 150,000 pending rows rearm's MIN
	 * took 57 ms that way, 0.3 ms through reminders_due, and both run
	 * after every booking. */
	static const char *sql = "SELECT id, appointment_id, kind, channel, due_at, "
	    "state, attempts FROM reminders INDEXED BY reminders_due "
	    "WHERE state IN ('pending', 'retry') AND due_at <= ? "
	    "ORDER BY due_at, id LIMIT 1";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = row_from(st, r);
	sqlite3_reset(st);
	return rc;
}

/* A later scheduled reminder on the same channel is also due: this one is stale. */
static int
superseded(const struct reminder *r, int64_t now)
{
	static const char *sql = "SELECT 1 FROM reminders WHERE appointment_id = ? "
	    "AND channel = ? AND kind NOT IN ('manual', 'confirmation') "
	    "AND state IN ('pending', 'retry') AND due_at > ? AND due_at <= ? LIMIT 1";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found;

	sqlite3_bind_int64(st, 1, r->appointment_id);
	db_bind_text(st, 2, r->channel);
	sqlite3_bind_int64(st, 3, r->due_at);
	sqlite3_bind_int64(st, 4, now);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

/* Why a due row should not go out, or NULL. */
static const char *
skip_reason(const struct reminder *r, const struct appt *a,
    const struct patient *p, int64_t now, char *buf, size_t len)
{
	int	email = strcmp(r->channel, "email") == 0;

	if (a->status != APPT_APPROVED) {
		snprintf(buf, len, "the appointment is %s", appt_status_name(a->status));
		return buf;
	}
	if (a->starts_at <= now)
		return "the appointment had already begun";
	if (kind_scheduled(r->kind) && superseded(r, now))
		return "superseded by a later reminder that is also due";
	if (email && !mail_on)
		return "e-mail is off (smtp_url and mail_from not set)";
	if (!email && !sms_on)
		return "SMS is off (twilio settings not set)";
	if (!(reminders_prefs_get(p->id, NULL) & (email ? RCH_EMAIL : RCH_SMS)))
		return "the patient turned this channel off";
	if (email && (p->email[0] == '\0' || !mail_addr_valid(p->email)))
		return "the patient has no usable e-mail address";
	if (!email && !sms_e164_valid(p->phone))
		return "the patient has no phone number in E.164 form";
	return NULL;
}

/*
 * Sends or settles one due row. 0 when done with it; -1 on a store error
 * (nothing was sent; the caller backs off).
 */
static int
process(const struct reminder *r, int64_t now)
{
	struct send_result	 res;
	struct flight		*f;
	struct patient		 p;
	struct appt		 a;
	const char		*skip = NULL, *cause = NULL;
	char			 why[128], *msg = NULL, *message_id = NULL;
	int			 email = strcmp(r->channel, "email") == 0, rc;

	if (appt_by_id(r->appointment_id, &a) != 0)
		skip = "the appointment no longer exists";
	else if (patients_by_id(a.patient_id, &p) != 0)
		skip = "no patient record";
	else
		skip = skip_reason(r, &a, &p, now, why, sizeof why);
	if (skip != NULL) {
		log_info("reminder %lld (%s %s, appointment %lld) skipped: %s",
		    (long long)r->id, r->kind, r->channel,
		    (long long)r->appointment_id, skip);
		return mark_final(r->id, "skipped", skip, now);
	}

	f = xcalloc(1, sizeof *f);
	f->id = r->id;
	f->appointment_id = r->appointment_id;
	f->patient_id = a.patient_id;
	f->attempts = r->attempts + 1;
	strlcpy_mf(f->kind, r->kind, sizeof f->kind);
	strlcpy_mf(f->channel, r->channel, sizeof f->channel);
	if (email) {
		if ((msg = compose_mail(r, &a, &p, now, &message_id, &cause)) == NULL) {
			rc = mark_final(r->id, "failed", cause, now);
			notify_admins(f, cause, now);
			free(f);
			return rc;
		}
	} else
		msg = compose_sms(&a);

	/* Durable before the first byte leaves: a crash from here on finds
	 * the row in `sending`. */
	if (mark_sending(r->id, email ? p.email : p.phone, now) != 0 ||
	    db_batch_flush() != 0) {
		free(msg);
		free(message_id);
		free(f);
		return -1;
	}
	nflight++;
	if (email)
		rc = mailer_send(&mail_cfg, server.cfg.mail_from, p.email, msg,
		    message_id, sent_cb, f);
	else
		rc = sms_send(&sms_cfg, p.phone, msg, sent_cb, f);
	free(msg);
	free(message_id);
	if (rc != 0) {
		memset(&res, 0, sizeof res);
		snprintf(res.error, sizeof res.error, "could not start the transfer");
		sent_cb(&res, f);
	}
	return 0;
}

/*
 * sending -> sent; the patient, if they have a login, gets an in-app
 * notification in the same transaction, so one is never without the other.
 */
static int
mark_sent(const struct flight *f, const char *ref, int64_t now)
{
	static const char *sql = "UPDATE reminders SET state = 'sent', "
	    "last_error = NULL, provider_ref = coalesce(?1, provider_ref), "
	    "sent_at = ?2, updated_at = ?2 WHERE id = ?3 AND state = 'sending'";
	struct patient	 p;
	struct appt	 a;
	sqlite3_stmt	*st;
	char		 when[64], *body;
	int		 ok;

	if (write_begin() != 0)
		return -1;
	st = db_prepare(sql);
	db_bind_text(st, 1, ref != NULL && *ref != '\0' ? ref : NULL);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, f->id);
	ok = db_step_done(st) == SQLITE_DONE;
	/* A confirmation is no reminder, and the approval told them already. */
	if (ok && db_changes() == 1 && strcmp(f->kind, "confirmation") != 0 &&
	    patients_by_id(f->patient_id, &p) == 0 &&
	    p.user_id != 0 && appt_by_id(f->appointment_id, &a) == 0) {
		format_when(a.starts_at, 0, when, sizeof when);
		body = xasprintf("We sent you a reminder by %s for your appointment "
		    "with %s on %s.", strcmp(f->channel, "sms") == 0 ? "SMS" :
		    "e-mail", a.doctor_name, when);
		ok = notifications_create(p.user_id, "reminder.sent",
		    "Appointment reminder sent", body, f->appointment_id, now) == 0;
		free(body);
	}
	return write_end(ok);
}

static void
sent_cb(const struct send_result *res, void *arg)
{
	struct flight	*f = arg;
	int64_t		 now = clock_now();

	nflight--;
	if (res->ok) {
		mark_sent(f, res->ref, now);
		log_info("reminder %lld (%s %s, appointment %lld) sent%s%s",
		    (long long)f->id, f->kind, f->channel, (long long)f->appointment_id,
		    res->ref[0] != '\0' ? ": " : "", res->ref);
	} else if (stopping) {
		mark_outcome(f->id, "retry", "interrupted by a shutdown; will send again",
		    NULL, now, now);
	} else if (res->permanent || f->attempts >= REMINDER_ATTEMPTS_MAX) {
		mark_outcome(f->id, "failed", res->error, NULL, 0, now);
		notify_admins(f, res->error, now);
	} else {
		int64_t	due = now + reminder_backoff(f->attempts);

		mark_outcome(f->id, "retry", res->error, NULL, due, now);
		log_info("reminder %lld (%s %s) attempt %d failed: %s; next at +%llds",
		    (long long)f->id, f->kind, f->channel, f->attempts, res->error,
		    (long long)(due - now));
	}
	db_batch_flush();
	free(f);
	schedule_soon();
}

static void
tick(void)
{
	struct reminder	r;
	struct timeval	tv = { STORE_RETRY, 0 };
	int64_t		now = clock_now();
	int		guard;

	for (guard = 0; nflight < INFLIGHT_MAX && guard < 256; guard++) {
		if (next_due(now, &r) != 0)
			break;
		if (process(&r, now) != 0) {
			log_warn("reminders: store error; trying again in %d s",
			    STORE_RETRY);
			evtimer_add(timer_ev, &tv);
			return;
		}
	}
	rearm();
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	tick();
}

/* Arms the one timer for the earliest row still to send. */
static void
rearm(void)
{
	/* Named, as in next_due. */
	static const char *sql = "SELECT MIN(due_at) FROM reminders "
	    "INDEXED BY reminders_due WHERE state IN ('pending', 'retry')";
	sqlite3_stmt	*st;
	struct timeval	 tv = { 0, 0 };
	int64_t		 due = 0, wait;
	int		 any = 0;

	if (timer_ev == NULL || stopping)
		return;
	if (nflight >= INFLIGHT_MAX) {
		/* A finishing transfer calls schedule_soon. */
		evtimer_del(timer_ev);
		return;
	}
	st = db_prepare(sql);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		due = sqlite3_column_int64(st, 0);
		any = 1;
	}
	sqlite3_reset(st);
	if (!any) {
		evtimer_del(timer_ev);
		return;
	}
	/* From the (injectable) clock each time: test.clock re-arms us. */
	wait = due - clock_now();
	if (wait < 0)
		wait = 0;
	if (wait > REARM_MAX)
		wait = REARM_MAX;
	tv.tv_sec = (time_t)wait;
	evtimer_add(timer_ev, &tv);
}

static void
schedule_soon(void)
{
	struct timeval	tv = { 0, 0 };

	if (timer_ev != NULL && !stopping)
		evtimer_add(timer_ev, &tv);
}

void
reminders_clock_moved(void)
{
	schedule_soon();
}

/* --- start and stop --- */

static int
url_scheme_is(const char *url, const char *scheme)
{
	size_t	n = strlen(scheme);

	return strncasecmp(url, scheme, n) == 0 && url[n] != '\0';
}

/* The URL without any user:password@ part, for the log. */
static void
url_for_log(const char *url, char *out, size_t len)
{
	const char	*auth = strstr(url, "://"), *at, *end;

	auth = auth != NULL ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at == NULL)
		snprintf(out, len, "%s", url);
	else
		snprintf(out, len, "%.*s%s", (int)(auth - url), url, at + 1);
}

static int
configure(char **cause)
{
	struct config	*c = &server.cfg;
	char		 shown[256];

	noffsets = reminder_offsets_parse(c->reminder_offsets != NULL ?
	    c->reminder_offsets : "24h,1h", offsets, labels, REMINDER_OFFSETS_MAX);
	if (noffsets < 0) {
		*cause = xasprintf("reminder_offsets: expected up to %d durations "
		    "like \"24h,1h\"", REMINDER_OFFSETS_MAX);
		return -1;
	}

	mail_on = c->smtp_url != NULL && c->mail_from != NULL;
	if (c->smtp_url != NULL && !url_scheme_is(c->smtp_url, "smtp://") &&
	    !url_scheme_is(c->smtp_url, "smtps://")) {
		*cause = xstrdup("smtp_url: must start with smtp:// (STARTTLS) or smtps://");
		return -1;
	}
	if (c->mail_from != NULL && !mail_addr_valid(c->mail_from)) {
		*cause = xasprintf("mail_from: not an e-mail address: %s", c->mail_from);
		return -1;
	}
	mail_cfg.url = c->smtp_url;
	mail_cfg.user = c->smtp_user;
	mail_cfg.password = c->smtp_password;
	mail_cfg.timeout = 120;
	if (mail_on) {
		url_for_log(c->smtp_url, shown, sizeof shown);
		log_info("reminders: e-mail through %s as %s", shown, c->mail_from);
	}
	else
		log_info("reminders: e-mail disabled (%s not set)",
		    c->smtp_url == NULL && c->mail_from == NULL ?
		    "smtp_url and mail_from" : c->smtp_url == NULL ? "smtp_url" :
		    "mail_from");

	sms_on = c->twilio_account_sid != NULL && c->twilio_auth_token != NULL &&
	    c->twilio_from != NULL;
	sms_cfg.base_url = c->twilio_base_url != NULL ? c->twilio_base_url :
	    DEFAULT_TWILIO_BASE;
	if (!url_scheme_is(sms_cfg.base_url, "https://") &&
	    !url_scheme_is(sms_cfg.base_url, "http://")) {
		*cause = xstrdup("twilio_base_url: must start with https:// or http://");
		return -1;
	}
	if (c->twilio_from != NULL && !sms_e164_valid(c->twilio_from)) {
		*cause = xasprintf("twilio_from: not a number in E.164 form: %s",
		    c->twilio_from);
		return -1;
	}
	sms_cfg.account_sid = c->twilio_account_sid;
	sms_cfg.auth_token = c->twilio_auth_token;
	sms_cfg.from = c->twilio_from;
	sms_cfg.timeout = 60;
	if (sms_on) {
		url_for_log(sms_cfg.base_url, shown, sizeof shown);
		log_info("reminders: SMS through %s as %s", shown, c->twilio_from);
	}
	else
		log_info("reminders: SMS disabled (twilio_account_sid, "
		    "twilio_auth_token and twilio_from not all set)");
	return 0;
}

/* Rows a crash left in `sending` go out again: the crash may have come
 * before the server took the message, and a late duplicate beats silence. */
static int
recover_sending(int64_t now)
{
	static const char *sql = "UPDATE reminders SET state = 'retry', due_at = ?1, "
	    "last_error = 'interrupted: the server stopped during the send', "
	    "updated_at = ?1 WHERE state = 'sending'";
	sqlite3_stmt	*st;
	int		 n;

	if (write_begin() != 0)
		return -1;
	st = db_prepare(sql);
	sqlite3_bind_int64(st, 1, now);
	if (write_end(db_step_done(st) == SQLITE_DONE) != 0)
		return -1;
	if ((n = db_changes()) > 0)
		log_warn("reminders: %d message%s interrupted by the last stop will "
		    "be sent again", n, n == 1 ? "" : "s");
	return db_batch_flush();
}

int
reminders_start(struct event_base *base, char **cause)
{
	if (configure(cause) != 0)
		return -1;
	if (curl_loop_init(base, cause) != 0)
		return -1;
	stopping = 0;
	nflight = 0;
	if (recover_sending(clock_now()) != 0) {
		curl_loop_free();
		*cause = xstrdup("reminders: cannot update the store");
		return -1;
	}
	timer_ev = evtimer_new(base, tick_cb, NULL);
	/* Catches up at once with whatever fell due while we were down. */
	schedule_soon();
	return 0;
}

void
reminders_stop(void)
{
	if (timer_ev == NULL)
		return;
	stopping = 1;
	evtimer_del(timer_ev);
	curl_loop_free();
	db_batch_flush();
	event_free(timer_ev);
	timer_ev = NULL;
}

/* --- the outbox --- */

#define OUTBOX_COLUMNS "r.id, r.appointment_id, r.kind, r.channel, r.due_at, " \
	"r.state, r.attempts, r.last_error, r.recipient, r.provider_ref, " \
	"r.created_by, r.created_at, r.updated_at, r.sent_at "

static void
pack_row(msgpack_packer *pk, sqlite3_stmt *st)
{
	struct appt	a;
	int		have = appt_by_id(sqlite3_column_int64(st, 1), &a) == 0;

	msgpack_pack_map(pk, 17);
	mp_pack_kv_int(pk, "id", sqlite3_column_int64(st, 0));
	mp_pack_kv_int(pk, "appointment_id", sqlite3_column_int64(st, 1));
	mp_pack_str(pk, "patient_id");
	if (have)
		msgpack_pack_int64(pk, a.patient_id);
	else
		msgpack_pack_nil(pk);
	mp_pack_str(pk, "patient_name");
	mp_pack_str_or_nil(pk, have ? a.patient_name : NULL);
	mp_pack_str(pk, "starts_at");
	if (have)
		msgpack_pack_int64(pk, a.starts_at);
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_str(pk, "kind", db_col_text(st, 2));
	mp_pack_kv_str(pk, "channel", db_col_text(st, 3));
	mp_pack_kv_int(pk, "due_at", sqlite3_column_int64(st, 4));
	mp_pack_kv_str(pk, "state", db_col_text(st, 5));
	mp_pack_kv_int(pk, "attempts", sqlite3_column_int64(st, 6));
	mp_pack_str(pk, "last_error");
	mp_pack_str_or_nil(pk, db_col_text(st, 7));
	mp_pack_str(pk, "recipient");
	mp_pack_str_or_nil(pk, db_col_text(st, 8));
	mp_pack_str(pk, "provider_ref");
	mp_pack_str_or_nil(pk, db_col_text(st, 9));
	mp_pack_str(pk, "created_by");
	if (sqlite3_column_type(st, 10) != SQLITE_NULL)
		msgpack_pack_int64(pk, sqlite3_column_int64(st, 10));
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_int(pk, "created_at", sqlite3_column_int64(st, 11));
	mp_pack_kv_int(pk, "updated_at", sqlite3_column_int64(st, 12));
	mp_pack_str(pk, "sent_at");
	if (sqlite3_column_type(st, 13) != SQLITE_NULL)
		msgpack_pack_int64(pk, sqlite3_column_int64(st, 13));
	else
		msgpack_pack_nil(pk);
}

/* The states each filter covers; NULL: any. */
static const char *const *
outbox_states(enum outbox_filter f)
{
	static const char *const pending[] = { "pending", "sending", "retry", NULL };
	static const char *const sent[] = { "sent", NULL };
	static const char *const failed[] = { "failed", NULL };
	static const char *const skipped[] = { "skipped", NULL };

	switch (f) {
	case OUTBOX_PENDING:
		return pending;
	case OUTBOX_SENT:
		return sent;
	case OUTBOX_FAILED:
		return failed;
	case OUTBOX_SKIPPED:
		return skipped;
	default:
		return NULL;
	}
}

static int
id_desc(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Appends to v (room for n more) the ids of the newest n rows of state
 * (NULL: any) and of appointment_id (0: any); returns how many. Each is a
 * walk down an index from its newest end: reminders_by_state (state, id)
 * for a state, the table itself for any, reminders_by_appointment for an
 * appointment's few rows.
 */
static size_t
outbox_ids(const char *state, int64_t appointment_id, size_t n, int64_t *v)
{
	static const char *any_sql = "SELECT id FROM reminders "
	    "ORDER BY id DESC LIMIT ?1";
	static const char *state_sql = "SELECT id FROM reminders "
	    "INDEXED BY reminders_by_state WHERE state = ?2 "
	    "ORDER BY id DESC LIMIT ?1";
	static const char *appt_sql = "SELECT id FROM reminders "
	    "INDEXED BY reminders_by_appointment WHERE appointment_id = ?3 "
	    "AND (?2 IS NULL OR state = ?2) ORDER BY id DESC LIMIT ?1";
	sqlite3_stmt	*st;
	size_t		 k = 0;

	st = db_prepare(appointment_id != 0 ? appt_sql : state != NULL ?
	    state_sql : any_sql);
	sqlite3_bind_int64(st, 1, (int64_t)n);
	if (appointment_id != 0 || state != NULL)
		db_bind_text(st, 2, state);
	if (appointment_id != 0)
		sqlite3_bind_int64(st, 3, appointment_id);
	while (k < n && sqlite3_step(st) == SQLITE_ROW)
		v[k++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return k;
}

int64_t
reminders_outbox(enum outbox_filter f, int64_t appointment_id, int64_t limit,
    int64_t offset, msgpack_packer *pk, int64_t *total, int *capped)
{
	const char *const	*states = outbox_states(f);
	size_t			 nstates = 1, i, n = 0, want = OUTBOX_REACH + 1;
	int64_t			*ids, first, last, k;

	if (states != NULL)
		for (nstates = 0; states[nstates] != NULL; nstates++)
			;
	/* The newest OUTBOX_REACH + 1 of each state, then of them all: as
	 * many as tell whether there are more than OUTBOX_REACH. */
	ids = xcalloc(nstates * want, sizeof *ids);
	for (i = 0; i < nstates; i++)
		n += outbox_ids(states != NULL ? states[i] : NULL, appointment_id,
		    want, ids + n);
	qsort(ids, n, sizeof *ids, id_desc);
	*capped = n > OUTBOX_REACH;
	*total = (int64_t)(n > OUTBOX_REACH ? OUTBOX_REACH : n);
	first = offset < *total ? offset : *total;
	last = first + limit < *total ? first + limit : *total;
	msgpack_pack_array(pk, (size_t)(last - first));
	for (k = first; k < last; k++) {
		/* The turn's reads share one snapshot (db.c), so the row is
		 * there; were it not, nil keeps the array its announced size. */
		if (reminders_pack_one(ids[k], pk) != 0)
			msgpack_pack_nil(pk);
	}
	free(ids);
	return last - first;
}

int
reminders_pack_one(int64_t id, msgpack_packer *pk)
{
	static const char *sql = "SELECT " OUTBOX_COLUMNS "FROM reminders r WHERE r.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc = -1;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pack_row(pk, st);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
reminders_retry(int64_t id, int64_t now, int64_t *appointment_id,
    const char **state)
{
	static const char *get_sql = "SELECT appointment_id, state FROM reminders "
	    "WHERE id = ?";
	static const char *set_sql = "UPDATE reminders SET state = 'pending', "
	    "due_at = ?1, attempts = 0, updated_at = ?1 WHERE id = ?2 "
	    "AND state IN ('failed', 'skipped', 'retry')";
	static char	 seen[10];
	sqlite3_stmt	*st = db_prepare(get_sql);
	int		 found = 0;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*appointment_id = sqlite3_column_int64(st, 0);
		strlcpy_mf(seen, db_col_text(st, 1), sizeof seen);
		found = 1;
	}
	sqlite3_reset(st);
	if (!found)
		return -1;
	*state = seen;
	if (strcmp(seen, "failed") != 0 && strcmp(seen, "skipped") != 0 &&
	    strcmp(seen, "retry") != 0)
		return -2;
	st = db_prepare(set_sql);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	if (db_step_done(st) != SQLITE_DONE)
		return -3;
	schedule_soon();
	return 0;
}
