/* ui-patient.c -- a patient's screens: their appointments (cancel one) and
 * booking: a doctor, a day, a free slot, a reason; the clinic approves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

#define PAST_DAYS	30
#define AHEAD_DAYS	330	/* the list's range is at most 366 days */
#define SEARCH_DAYS	14	/* looking ahead for a day with free slots */

struct my_appts {
	struct view		 view;
	struct appt_list	 al;
	int			 loading;
	char			 error[300];
};

struct slot_pick {
	struct dialog	*d;
	int64_t		 doctor_id;
	char		 doctor[128];
	char		 date[11];
	int		 tries;		/* days skipped looking for free slots */
	int64_t		 starts_at;
};

static void	mine_draw(struct view *, int, int, int, int);
static int	mine_key(struct view *, int);
static void	mine_event(struct view *, const char *, json_t *);
static void	mine_reload(struct view *);
static void	mine_free(struct view *);
static void	book_doctors(void);
static void	book_slots(json_t *doctor);

static const struct help_key mine_help[] = {
	{ "Up Down j k", "move" },
	{ "b", "book an appointment" },
	{ "x", "cancel the appointment (asks a reason)" },
	{ "Enter", "details" },
	{ "/", "find a doctor or reason in the list" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type mine_type = {
	.name = "My appointments",
	.draw = mine_draw,
	.key = mine_key,
	.event = mine_event,
	.reload = mine_reload,
	.free = mine_free,
	.hints = "b book|x cancel|Enter details|R reload|? help",
	.help = mine_help,
};

/* --- my appointments --- */

static void
mine_loaded(const struct tconn_reply *reply, void *arg)
{
	struct my_appts	*m = arg;
	json_t		*a;
	size_t		 i;
	int64_t		 now = tui_now();

	m->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(m->error, reply->message, sizeof m->error);
		tui_redraw();
		return;
	}
	m->error[0] = '\0';
	appt_list_set(&m->al, json_incref(jget_array(reply->result, "appointments")));
	/* Start at the next one rather than last month's. */
	json_array_foreach(m->al.items, i, a) {
		if (jget_int(a, "ends_at") >= now) {
			m->al.list.cur = (int)i;
			break;
		}
	}
}

static void
mine_reload(struct view *v)
{
	struct my_appts	*m = v->data;
	int64_t		 now = tui_now();

	tconn_cancel(m);
	m->loading = 1;
	tconn_call("appt.list", json_pack("{s:I, s:I, s:i}", "from",
	    (json_int_t)(now - PAST_DAYS * 86400), "to",
	    (json_int_t)(now + AHEAD_DAYS * 86400), "limit", 500), m, mine_loaded, m);
	tui_redraw();
}

static void
mine_event(struct view *v, const char *event, json_t *a)
{
	struct my_appts	*m = v->data;

	if (strcmp(event, "appt.changed") != 0 ||
	    jget_int(a, "patient_id") != tui_me()->patient_id)
		return;
	appt_list_upsert(&m->al, a, 1);
}

static void
mine_draw(struct view *v, int y, int x, int h, int w)
{
	struct my_appts	*m = v->data;
	char		 head[400];
	json_t		*a;
	size_t		 i;
	int		 coming = 0;
	int64_t		 now = tui_now();

	json_array_foreach(m->al.items, i, a) {
		coming += jget_int(a, "starts_at") >= now &&
		    tui_status_active(jget_str(a, "status"));
	}
	snprintf(head, sizeof head, "%s: %d coming appointment%s%s", tui_me()->full_name,
	    coming, coming == 1 ? "" : "s", m->loading ? "  loading..." : "");
	tui_put(y, x, w, A_BOLD, head);
	if (m->error[0] != '\0')
		tui_put(y + 1, x, w, tui_attr(TC_ERROR), m->error);
	appt_list_draw(&m->al, y + 2, x, h - 2, w, m->loading ? "Loading..." :
	    "No appointments yet; b books one.");
}

static int
mine_key(struct view *v, int key)
{
	struct my_appts	*m = v->data;
	json_t		*a;

	if (tlist_key(&m->al.list, key, tui_page()))
		return 1;
	switch (key) {
	case 'b':
		book_doctors();
		return 1;
	case 'R':
		mine_reload(v);
		return 1;
	case '/':
		appt_list_find(&m->al);
		return 1;
	}
	a = appt_list_selected(&m->al);
	if (a == NULL)
		return 0;
	if (key == 'x') {
		if (!tui_status_active(jget_str(a, "status")) ||
		    strcmp(jget_str(a, "status"), "in_progress") == 0)
			tui_message(1, "This appointment cannot be cancelled.");
		else
			ui_appt_ask_reason("appt.cancel", a);
		return 1;
	}
	if (K_IS_ENTER(key)) {
		ui_appt_details(a, "x cancel");
		return 1;
	}
	return 0;
}

static void
mine_free(struct view *v)
{
	struct my_appts	*m = v->data;

	json_decref(m->al.items);
	free(m);
}

struct view *
ui_patient_appts_new(void)
{
	struct my_appts	*m = xcalloc(1, sizeof *m);

	m->view.type = &mine_type;
	m->view.data = m;
	m->al.items = json_array();
	m->al.show_date = 1;
	m->al.show_doctor = 1;
	mine_reload(&m->view);
	return &m->view;
}

/* --- booking: the doctor --- */

struct doctor_pick {
	json_t	*all;
};

static void
doctor_label(struct dialog *d, json_t *doc, char *buf, size_t len, attr_t *a)
{
	char	specs[300] = "";
	json_t	*s;
	size_t	 i;

	(void)d;
	(void)a;
	json_array_foreach(jget_array(doc, "specialties"), i, s) {
		if (i > 0)
			strlcpy_mf(specs + strlen(specs), ", ", sizeof specs - strlen(specs));
		strlcpy_mf(specs + strlen(specs), json_string_value(s) != NULL ?
		    json_string_value(s) : "", sizeof specs - strlen(specs));
	}
	snprintf(buf, len, "%-22s %s", jget_str(doc, "full_name"), specs);
}

static void
doctor_filter(struct dialog *d)
{
	struct doctor_pick	*dp = d->arg;
	const char		*q = field_value(&d->fields[0]);
	json_t			*out = json_array(), *doc;
	char			 label[600];
	attr_t			 a;
	size_t			 i;

	json_array_foreach(dp->all, i, doc) {
		doctor_label(d, doc, label, sizeof label, &a);
		if (*q == '\0' || strcasestr(label, q) != NULL)
			json_array_append(out, doc);
	}
	d->list.cur = 0;
	dialog_set_items(d, out);
}

static void
doctors_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog		*d = arg;
	struct doctor_pick	*dp = d->arg;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	d->note[0] = '\0';
	json_decref(dp->all);
	dp->all = json_incref(jget_array(reply->result, "doctors"));
	doctor_filter(d);
}

static void
doctor_submit(struct dialog *d)
{
	json_t	*doc = dialog_selected(d);

	if (doc == NULL)
		return;
	json_incref(doc);
	dialog_close(d);
	book_slots(doc);
	json_decref(doc);
}

static void
doctor_closed(struct dialog *d)
{
	struct doctor_pick	*dp = d->arg;

	json_decref(dp->all);
	free(dp);
}

static void
book_doctors(void)
{
	struct doctor_pick	*dp = xcalloc(1, sizeof *dp);
	struct dialog		*d = dialog_new("Book: choose a doctor", doctor_submit, dp);

	dp->all = json_array();
	dialog_field(d, "q", "Name or specialty");
	d->items = json_array();
	d->item_label = doctor_label;
	d->changed = doctor_filter;
	d->closed = doctor_closed;
	d->width = 72;
	d->dialog_hints = "Enter choose|Up/Down move|type to filter|Esc cancel";
	strlcpy_mf(d->note, "loading...", sizeof d->note);
	tconn_call("doctors.list", json_pack("{s:i}", "limit", 200), d, doctors_loaded, d);
	dialog_open(d);
}

/* --- booking: the day and the slot --- */

static void	slots_load(struct slot_pick *);

static void
slot_label(struct dialog *d, json_t *s, char *buf, size_t len, attr_t *a)
{
	char	from[6], to[6];

	(void)d;
	(void)a;
	fmt_hhmm(jget_int(s, "starts_at"), from);
	fmt_hhmm(jget_int(s, "ends_at"), to);
	snprintf(buf, len, "%s-%s", from, to);
}

static void
slots_text(struct slot_pick *sp)
{
	char	label[40];

	fmt_date_label(sp->date, label, sizeof label);
	dialog_text(sp->d, "%s\n%s   (Left/Right: another day)", sp->doctor, label);
}

static void
slots_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog		*d = arg;
	struct slot_pick	*sp = d->arg;
	json_t			*slots;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	slots = jget_array(reply->result, "slots");
	/* The first time, skip ahead to a day with room. */
	if (json_array_size(slots) == 0 && sp->tries > 0 && sp->tries < SEARCH_DAYS) {
		sp->tries++;
		date_shift(sp->date, 1);
		slots_load(sp);
		return;
	}
	sp->tries = 0;
	slots_text(sp);
	d->note[0] = '\0';
	d->list.cur = 0;
	dialog_set_items(d, json_incref(slots));
	if (json_array_size(slots) == 0)
		strlcpy_mf(d->note, "No free times on this day.", sizeof d->note);
}

static void
slots_load(struct slot_pick *sp)
{
	slots_text(sp);
	strlcpy_mf(sp->d->note, "loading...", sizeof sp->d->note);
	tconn_cancel(sp->d);
	tconn_call("appt.slots", json_pack("{s:I, s:s}", "doctor_id",
	    (json_int_t)sp->doctor_id, "date", sp->date), sp->d, slots_loaded, sp->d);
}

static int
slots_key(struct dialog *d, int key)
{
	struct slot_pick	*sp = d->arg;
	char			 today[11];

	if (key != KF(KEY_LEFT) && key != KF(KEY_RIGHT) && key != '[' && key != ']')
		return 0;
	tui_today(today);
	if ((key == KF(KEY_LEFT) || key == '[') && strcmp(sp->date, today) <= 0)
		return 1;
	date_shift(sp->date, key == KF(KEY_LEFT) || key == '[' ? -1 : 1);
	sp->tries = 0;
	slots_load(sp);
	return 1;
}

static void
request_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog		*d = arg;
	struct slot_pick	*sp = d->arg;
	json_t			*a;
	char			 when[40];

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	a = json_object_get(reply->result, "appointment");
	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	tui_message(0, "Requested %s with %s; the clinic will confirm it.", when,
	    jget_str(a, "doctor_name"));
	dialog_close(d);
	dialog_close(sp->d);
}

static void
request_submit(struct dialog *d)
{
	struct slot_pick	*sp = d->arg;
	const char		*reason = field_value(dialog_get(d, "reason"));
	json_t			*args;

	args = json_pack("{s:I, s:I}", "doctor_id", (json_int_t)sp->doctor_id,
	    "starts_at", (json_int_t)sp->starts_at);
	if (*reason != '\0')
		json_object_set_new(args, "reason", json_string(reason));
	d->busy = 1;
	tconn_call("appt.book", args, d, request_done, d);
}

static void
slot_submit(struct dialog *d)
{
	struct slot_pick	*sp = d->arg;
	json_t			*s = dialog_selected(d);
	struct dialog		*c;
	char			 when[40], to[6];

	if (s == NULL)
		return;
	sp->starts_at = jget_int(s, "starts_at");
	fmt_when(sp->starts_at, when, sizeof when);
	fmt_hhmm(jget_int(s, "ends_at"), to);
	c = dialog_new("Request this appointment", request_submit, sp);
	dialog_text(c, "%s\n%s-%s", sp->doctor, when, to);
	dialog_field(c, "reason", "Reason for the visit");
	c->dialog_hints = "Enter request|Esc back";
	dialog_open(c);
}

static void
slots_closed(struct dialog *d)
{
	free(d->arg);
}

static void
book_slots(json_t *doctor)
{
	struct slot_pick	*sp = xcalloc(1, sizeof *sp);
	struct dialog		*d = dialog_new("Book: choose a time", slot_submit, sp);

	sp->d = d;
	sp->doctor_id = jget_int(doctor, "id");
	strlcpy_mf(sp->doctor, jget_str(doctor, "full_name"), sizeof sp->doctor);
	tui_today(sp->date);
	sp->tries = 1;
	d->items = json_array();
	d->item_label = slot_label;
	d->extra_key = slots_key;
	d->closed = slots_closed;
	d->list_rows = 10;
	d->dialog_hints = "Enter choose|Up/Down move|Left/Right day|Esc cancel";
	slots_load(sp);
	dialog_open(d);
}
