/* ui-desk.c -- the reception desk's tools beside the day board: a walk-in
 * (booked into the doctor's time now and checked in at once), a doctor's
 * wait list, and the recall list of patients due back. Each starts from
 * the patient finder; the lists are popups over the board. Only one of
 * each is open at a time, so what a picker hands on waits here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

#define WAIT_DAYS	14	/* the wait list's default window */
#define RECALL_DAYS	14	/* a new recall's default due date */
#define RECALL_AHEAD	60	/* the recall list shows this far ahead */

/* --- walk-ins --- */

static int64_t	walkin_doctor;

static void
walkin_done(const struct tconn_reply *reply, void *arg)
{
	json_t	*a;
	char	 at[6];

	(void)arg;
	if (!reply->ok) {
		tui_message(1, "Walk-in not booked: %s", reply->message);
		return;
	}
	a = json_object_get(reply->result, "appointment");
	fmt_hhmm(jget_int(a, "starts_at"), at);
	tui_message(0, "Walk-in %s checked in with %s at %s.",
	    jget_str(a, "patient_name"), jget_str(a, "doctor_name"), at);
}

static void
walkin_picked(json_t *patient, void *arg)
{
	(void)arg;
	tconn_call("appt.walk_in", json_pack("{s:I, s:I}", "doctor_id",
	    (json_int_t)walkin_doctor, "patient_id",
	    (json_int_t)jget_int(patient, "id")), NULL, walkin_done, NULL);
}

void
ui_walk_in(int64_t doctor_id, const char *doctor)
{
	char	title[200];

	walkin_doctor = doctor_id;
	snprintf(title, sizeof title, "Walk-in with %s", doctor);
	ui_patient_find(title, "Booked into the doctor's time now (or the next "
	    "free slot today) and checked in.", walkin_picked, NULL);
}

/* --- dates typed in forms --- */

/* 1 for a YYYY-MM-DD that names a day. */
static int
date_ok(const char *s)
{
	int	i;

	if (strlen(s) != 10)
		return 0;
	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return date_start(s) != 0;
}

/* "11-24" of a time: a window's ends, short. */
static void
fmt_month_day(int64_t t, char out[6])
{
	char	date[11];

	fmt_date(t, date);
	memcpy(out, date + 5, 5);
	out[5] = '\0';
}

/* --- the wait list --- */

static struct {
	struct dialog	*list;		/* the open list, or NULL */
	int64_t		 doctor_id;
	char		 doctor[128];
	int64_t		 patient_id;	/* being added */
} wl;

static void	wl_refresh(void);

static void
wl_label(struct dialog *d, json_t *e, char *buf, size_t len, attr_t *a)
{
	char	name[200], from[6], to[6], state[64];

	(void)d;
	text_pad(name, sizeof name, jget_str(e, "patient_name"), 20);
	fmt_month_day(jget_int(e, "earliest"), from);
	fmt_month_day(jget_int(e, "latest"), to);
	if (strcmp(jget_str(e, "status"), "offered") == 0) {
		char	when[40];

		fmt_when(jget_int(e, "offered_starts_at"), when, sizeof when);
		snprintf(state, sizeof state, "offered %s", when);
		*a = tui_attr(TC_REQUESTED);
	} else
		strlcpy_mf(state, jget_str(e, "status"), sizeof state);
	snprintf(buf, len, "%s  %s..%s  %-20s  %s", name, from, to, state,
	    jget_str(e, "note"));
}

static void
wl_loaded(struct dialog *d, json_t *result)
{
	size_t	n = json_array_size(d->items);

	(void)result;
	if (n == 0)
		strlcpy_mf(d->note, "Nobody is waiting; a adds a patient.",
		    sizeof d->note);
	else
		snprintf(d->note, sizeof d->note, "%zu waiting, oldest first (the "
		    "order free times are offered in).", n);
}

static void
wl_refresh(void)
{
	if (wl.list != NULL)
		dialog_list_load(wl.list, json_pack("{s:I}", "doctor_id",
		    (json_int_t)wl.doctor_id));
}

static void
wl_joined(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	json_t		*e;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	e = json_object_get(reply->result, "entry");
	tui_message(0, "%s is on the wait list of %s.", jget_str(e, "patient_name"),
	    jget_str(e, "doctor_name"));
	dialog_close(d);
	wl_refresh();
}

static void
wl_join_submit(struct dialog *d)
{
	struct field	*from = dialog_get(d, "earliest");
	struct field	*to = dialog_get(d, "latest");
	const char	*note = field_value(dialog_get(d, "note"));
	json_t		*args;

	if (!date_ok(field_value(from))) {
		strlcpy_mf(from->error, "a date YYYY-MM-DD", sizeof from->error);
		d->focus = 0;
		return;
	}
	if (!date_ok(field_value(to))) {
		strlcpy_mf(to->error, "a date YYYY-MM-DD", sizeof to->error);
		d->focus = 1;
		return;
	}
	/* The window runs from the first day's start to the last day's end. */
	args = json_pack("{s:I, s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)wl.doctor_id, "patient_id", (json_int_t)wl.patient_id,
	    "earliest", (json_int_t)date_start(field_value(from)),
	    "latest", (json_int_t)(date_start(field_value(to)) + 86400));
	if (*note != '\0')
		json_object_set_new(args, "note", json_string(note));
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call("waitlist.join", args, d, wl_joined, d);
}

static void
wl_join_closed(struct dialog *d)
{
	tconn_cancel(d);
}

static void
wl_picked(json_t *patient, void *arg)
{
	struct dialog	*d;
	char		 title[300], date[11];

	(void)arg;
	wl.patient_id = jget_int(patient, "id");
	snprintf(title, sizeof title, "Wait list of %s: %s", wl.doctor,
	    jget_str(patient, "full_name"));
	d = dialog_new(title, wl_join_submit, NULL);
	d->closed = wl_join_closed;
	d->width = 70;
	tui_today(date);
	field_set(dialog_field(d, "earliest", "From (YYYY-MM-DD)"), date);
	date_shift(date, WAIT_DAYS);
	field_set(dialog_field(d, "latest", "Until (YYYY-MM-DD)"), date);
	dialog_field(d, "note", "Note");
	d->dialog_hints = "Enter next / add|Tab next field|Esc cancel";
	dialog_open(d);
}

static void
wl_left(const struct tconn_reply *reply, void *arg)
{
	json_t	*e;

	(void)arg;
	if (!reply->ok) {
		tui_message(1, "Not taken off the wait list: %s", reply->message);
		return;
	}
	e = json_object_get(reply->result, "entry");
	tui_message(0, "Took %s off the wait list of %s.",
	    jget_str(e, "patient_name"), jget_str(e, "doctor_name"));
	wl_refresh();
}

static void
wl_leave_yes(struct dialog *d)
{
	tconn_call("waitlist.leave", json_pack("{s:I}", "id",
	    (json_int_t)jget_int(d->arg, "id")), NULL, wl_left, NULL);
	dialog_close(d);
}

static void
wl_leave_closed(struct dialog *d)
{
	json_decref(d->arg);
}

static int
wl_key(struct dialog *d, int key)
{
	char	title[200], q[400];
	json_t	*e;

	switch (key) {
	case 'a':
		snprintf(title, sizeof title, "Add to the wait list of %s", wl.doctor);
		ui_patient_find(title, NULL, wl_picked, NULL);
		return 1;
	case 'x':
	case 'd':
		if ((e = dialog_selected(d)) == NULL) {
			tui_message(1, "Nobody to take off the wait list.");
			return 1;
		}
		snprintf(q, sizeof q, "Take %s off the wait list of %s?",
		    jget_str(e, "patient_name"), wl.doctor);
		dialog_confirm("Wait list", q, wl_leave_yes,
		    json_incref(e))->closed = wl_leave_closed;
		return 1;
	}
	return 0;
}

static void
wl_closed(struct dialog *d)
{
	if (wl.list == d)
		wl.list = NULL;
}

void
ui_waitlist(int64_t doctor_id, const char *doctor)
{
	struct dialog	*d;
	char		 title[200];

	if (wl.list != NULL)
		dialog_close(wl.list);
	wl.doctor_id = doctor_id;
	strlcpy_mf(wl.doctor, doctor, sizeof wl.doctor);
	snprintf(title, sizeof title, "Wait list of %s", doctor);
	d = dialog_list(title, "waitlist.list", "entries", wl_loaded);
	d->item_label = wl_label;
	d->extra_key = wl_key;
	d->closed = wl_closed;
	d->dialog_hints = "a add|x take off|R reload|Esc close";
	wl.list = d;
	wl_refresh();
}

/* --- the recall list --- */

static struct {
	struct dialog	*list;
	int64_t		 doctor_id;	/* the board's doctor, offered for new ones */
	char		 doctor[128];
	int64_t		 patient_id;
	const char	*choices[3];
} rc;

static void
rc_label(struct dialog *d, json_t *r, char *buf, size_t len, attr_t *a)
{
	char	name[200], doctor[200], today[11];
	const char *due = jget_str(r, "due_by");

	(void)d;
	tui_today(today);
	text_pad(name, sizeof name, jget_str(r, "patient_name"), 16);
	text_pad(doctor, sizeof doctor, json_is_string(json_object_get(r,
	    "doctor_name")) ? jget_str(r, "doctor_name") : "any doctor", 14);
	if (strcmp(due, today) < 0)
		*a = tui_attr(TC_ERROR);
	snprintf(buf, len, "%s %-7s  %s  %s  %s", due, strcmp(due, today) < 0 ?
	    "overdue" : strcmp(due, today) == 0 ? "today" : "", name, doctor,
	    jget_str(r, "reason"));
}

static void
rc_loaded(struct dialog *d, json_t *result)
{
	snprintf(d->note, sizeof d->note, "%zu due by %s, soonest first.",
	    json_array_size(d->items), jget_str(result, "before"));
}

static void
rc_refresh(void)
{
	char	before[11];

	if (rc.list == NULL)
		return;
	tui_today(before);
	date_shift(before, RECALL_AHEAD);
	dialog_list_load(rc.list, json_pack("{s:s}", "before", before));
}

static void
rc_added(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	json_t		*r;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	r = json_object_get(reply->result, "recall");
	tui_message(0, "%s is due back by %s.", jget_str(r, "patient_name"),
	    jget_str(r, "due_by"));
	dialog_close(d);
	rc_refresh();
}

static void
rc_add_submit(struct dialog *d)
{
	struct field	*due = dialog_get(d, "due_by");
	struct field	*who = dialog_get(d, "doctor_id");
	json_t		*args;

	if (!date_ok(field_value(due))) {
		strlcpy_mf(due->error, "a date YYYY-MM-DD", sizeof due->error);
		d->focus = 0;
		return;
	}
	args = json_pack("{s:I, s:s, s:s}", "patient_id", (json_int_t)rc.patient_id,
	    "due_by", field_value(due), "reason",
	    field_value(dialog_get(d, "reason")));
	if (who->choice == 0 && rc.doctor_id != 0)
		json_object_set_new(args, "doctor_id", json_integer(rc.doctor_id));
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call("recall.add", args, d, rc_added, d);
}

static void
rc_add_closed(struct dialog *d)
{
	tconn_cancel(d);
}

static void
rc_picked(json_t *patient, void *arg)
{
	struct dialog	*d;
	struct field	*f;
	char		 title[300], date[11];

	(void)arg;
	rc.patient_id = jget_int(patient, "id");
	snprintf(title, sizeof title, "Recall %s", jget_str(patient, "full_name"));
	d = dialog_new(title, rc_add_submit, NULL);
	d->closed = rc_add_closed;
	d->width = 70;
	tui_today(date);
	date_shift(date, RECALL_DAYS);
	field_set(dialog_field(d, "due_by", "Due by (YYYY-MM-DD)"), date);
	dialog_field(d, "reason", "Reason");
	f = dialog_field(d, "doctor_id", "With");
	rc.choices[0] = rc.doctor_id != 0 ? rc.doctor : "any doctor";
	rc.choices[1] = rc.doctor_id != 0 ? "any doctor" : NULL;
	rc.choices[2] = NULL;
	f->choices = rc.choices;
	d->dialog_hints = "Enter next / add|Tab next field|Left/Right choose|Esc cancel";
	dialog_open(d);
}

static void
rc_done(const struct tconn_reply *reply, void *arg)
{
	json_t	*r;

	(void)arg;
	if (!reply->ok) {
		tui_message(1, "Recall not marked done: %s", reply->message);
		return;
	}
	r = json_object_get(reply->result, "recall");
	tui_message(0, "Recall of %s marked done.", jget_str(r, "patient_name"));
	rc_refresh();
}

static int
rc_key(struct dialog *d, int key)
{
	json_t	*r;

	switch (key) {
	case 'a':
		ui_patient_find("Recall a patient", NULL, rc_picked, NULL);
		return 1;
	case 'd':
		if ((r = dialog_selected(d)) == NULL) {
			tui_message(1, "No recall to mark done.");
			return 1;
		}
		tconn_call("recall.done", json_pack("{s:I}", "id",
		    (json_int_t)jget_int(r, "id")), d, rc_done, NULL);
		return 1;
	case 'R':
		/* The list runs to a date from today, which may have moved. */
		rc_refresh();
		return 1;
	}
	return 0;
}

static void
rc_closed(struct dialog *d)
{
	if (rc.list == d)
		rc.list = NULL;
}

void
ui_recalls(int64_t doctor_id, const char *doctor)
{
	struct dialog	*d;

	if (rc.list != NULL)
		dialog_close(rc.list);
	rc.doctor_id = doctor_id;
	strlcpy_mf(rc.doctor, doctor != NULL ? doctor : "", sizeof rc.doctor);
	d = dialog_list("Recalls: patients due back", "recall.due", "recalls",
	    rc_loaded);
	d->item_label = rc_label;
	d->extra_key = rc_key;
	d->closed = rc_closed;
	d->dialog_hints = "a add|d done|R reload|Esc close";
	rc.list = d;
	rc_refresh();
}

/* Push events the desk's tools follow (the board hands them on). */
void
ui_desk_event(const char *event, json_t *e)
{
	const char	*status;
	char		 at[6];

	if (strcmp(event, "appt.changed") == 0) {
		/* Booking a patient with the doctor closes their entry on the
		 * server: the wait list on show follows. */
		status = jget_str(e, "status");
		if (wl.list != NULL && jget_int(e, "doctor_id") == wl.doctor_id &&
		    (strcmp(status, "approved") == 0 ||
		    strcmp(status, "checked_in") == 0))
			wl_refresh();
		return;
	}
	if (strcmp(event, "waitlist.offer") != 0)
		return;
	fmt_hhmm(jget_int(e, "offered_starts_at"), at);
	tui_message(0, "Slot %s with %s offered to %s (wait list).", at,
	    jget_str(e, "doctor_name"), jget_str(e, "patient_name"));
	wl_refresh();
}
