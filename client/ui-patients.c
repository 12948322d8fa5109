/* ui-patients.c -- the desk's patient finder (type a name, phone or date of
 * birth; the list follows as you type), the registration form, and the
 * patient card. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tui.h"
#include "util.h"

#define SEARCH_DELAY_MS	120

struct finder {
	struct dialog	*d;
	struct event	*timer;
	void		(*pick)(json_t *, void *);
	void		*arg;
	unsigned	 sent, shown;	/* search numbers, so late replies lose */
};

static void
finder_label(struct dialog *d, json_t *p, char *buf, size_t len, attr_t *a)
{
	const char	*dob = jget_str(p, "date_of_birth");
	const char	*phone = jget_str(p, "phone");
	char		 name[300];

	(void)d;
	(void)a;
	/* Padded by columns, not bytes: names are UTF-8. */
	text_pad(name, sizeof name, jget_str(p, "full_name"), 24);
	snprintf(buf, len, "%s  %-10s  %s", name, *dob != '\0' ? dob : "-",
	    *phone != '\0' ? phone : "");
}

static void
finder_results(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct finder	*f = d->arg;

	/* Replies come in request order: only the latest search's counts. */
	if (++f->shown < f->sent)
		return;
	if (!reply->ok) {
		strlcpy_mf(d->error, reply->message, sizeof d->error);
		dialog_set_items(d, json_array());
		return;
	}
	d->error[0] = '\0';
	d->list.cur = 0;
	dialog_set_items(d, json_incref(jget_array(reply->result, "patients")));
	snprintf(d->note, sizeof d->note, "%zu found; Enter picks, C-n registers a new patient",
	    json_array_size(d->items));
}

static void
finder_search_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dialog	*d = arg;
	struct finder	*f = d->arg;
	const char	*q = field_value(&d->fields[0]);

	(void)fd;
	(void)what;
	while (*q == ' ')
		q++;
	if (*q == '\0') {
		dialog_set_items(d, json_array());
		strlcpy_mf(d->note, "Type a name, phone number or date of birth (YYYY-MM-DD).",
		    sizeof d->note);
		return;
	}
	f->sent++;
	tconn_call("patients.search", json_pack("{s:s, s:i}", "q", q, "limit", 20), d,
	    finder_results, d);
}

static void
finder_changed(struct dialog *d)
{
	struct finder	*f = d->arg;
	struct timeval	 tv = { 0, SEARCH_DELAY_MS * 1000 };

	strlcpy_mf(d->note, "searching...", sizeof d->note);
	evtimer_add(f->timer, &tv);
}

static void
finder_submit(struct dialog *d)
{
	struct finder	*f = d->arg;
	json_t		*p = dialog_selected(d);

	if (p == NULL) {
		strlcpy_mf(d->error, d->fields[0].len == 0 ? "type part of a name first" :
		    "nobody found; C-n registers a new patient", sizeof d->error);
		return;
	}
	json_incref(p);
	dialog_close(d);
	if (f->pick != NULL)
		f->pick(p, f->arg);
	json_decref(p);
}

static void
finder_registered(json_t *patient, void *arg)
{
	struct finder	*f = arg;

	if (f->pick != NULL)
		f->pick(patient, f->arg);
}

static int
finder_key(struct dialog *d, int key)
{
	struct finder	*f = d->arg;
	struct finder	*copy;

	if (key != KEY_CTL('n') && key != KF(KEY_F(2)))
		return 0;
	/* The registration form takes over, with the name typed so far. */
	copy = xcalloc(1, sizeof *copy);
	copy->pick = f->pick;
	copy->arg = f->arg;
	f->pick = NULL;
	ui_patient_register(field_value(&d->fields[0]), finder_registered, copy);
	dialog_close(d);
	return 1;
}

static void
finder_closed(struct dialog *d)
{
	struct finder	*f = d->arg;

	event_free(f->timer);
	free(f);
}

void
ui_patient_find(const char *title, const char *intro,
    void (*pick)(json_t *, void *), void *arg)
{
	struct finder	*f = xcalloc(1, sizeof *f);
	struct dialog	*d = dialog_new(title, finder_submit, f);

	f->d = d;
	f->pick = pick;
	f->arg = arg;
	f->timer = evtimer_new(tui_base(), finder_search_cb, d);
	if (intro != NULL)
		dialog_text(d, "%s", intro);
	dialog_field(d, "q", "Patient");
	d->items = json_array();
	d->item_label = finder_label;
	d->list_rows = 8;
	d->width = 72;
	d->changed = finder_changed;
	d->closed = finder_closed;
	d->extra_key = finder_key;
	d->dialog_hints = "Enter pick|Up/Down choose|C-n new patient|Esc cancel";
	strlcpy_mf(d->note, "Type a name, phone number or date of birth (YYYY-MM-DD).",
	    sizeof d->note);
	dialog_open(d);
}

/* --- registration --- */

struct registration {
	void	(*done)(json_t *, void *);
	void	*arg;	/* owned when it came from the finder: freed here */
};

static void
register_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog		*d = arg;
	struct registration	*r = d->arg;
	json_t			*p;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	p = json_incref(json_object_get(reply->result, "patient"));
	tui_message(0, "Registered %s.", jget_str(p, "full_name"));
	dialog_close(d);
	if (r->done != NULL)
		r->done(p, r->arg);
	json_decref(p);
}

static void
register_submit(struct dialog *d)
{
	json_t	*args = json_object();
	int	 i;

	for (i = 0; i < d->nfields; i++) {
		const char	*v = field_value(&d->fields[i]);

		if (*v != '\0' || i == 0)
			json_object_set_new(args, d->fields[i].name, json_string(v));
	}
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call("patients.create", args, d, register_done, d);
}

static void
register_closed(struct dialog *d)
{
	struct registration	*r = d->arg;

	if (r->done == finder_registered)
		free(r->arg);
	free(r);
}

void
ui_patient_register(const char *name, void (*done)(json_t *, void *), void *arg)
{
	struct registration	*r = xcalloc(1, sizeof *r);
	struct dialog		*d = dialog_new("Register a new patient", register_submit, r);

	r->done = done;
	r->arg = arg;
	d->closed = register_closed;
	d->width = 70;
	field_set(dialog_field(d, "full_name", "Full name"), name);
	dialog_field(d, "date_of_birth", "Born (YYYY-MM-DD)");
	dialog_field(d, "phone", "Phone");
	dialog_field(d, "email", "E-mail");
	dialog_field(d, "address", "Address");
	d->dialog_hints = "Enter next / register|Tab next field|Esc cancel";
	dialog_open(d);
}

/* --- the patient card --- */

static void
card_label(struct dialog *d, json_t *a, char *buf, size_t len, attr_t *attr)
{
	char	when[40];

	(void)d;
	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	snprintf(buf, len, "%s  %-22s %s", when, jget_str(a, "doctor_name"),
	    tui_status_label(jget_str(a, "status")));
	*attr = tui_attr(tui_status_color(jget_str(a, "status")));
}

static void
card_appts(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;

	if (!reply->ok) {
		strlcpy_mf(d->error, reply->message, sizeof d->error);
		tui_redraw();
		return;
	}
	d->note[0] = '\0';
	dialog_set_items(d, json_incref(jget_array(reply->result, "appointments")));
	if (json_array_size(d->items) == 0)
		strlcpy_mf(d->note, "No appointments from yesterday on.", sizeof d->note);
}

void
ui_patient_card(json_t *p)
{
	struct dialog	*d = dialog_new(jget_str(p, "full_name"), NULL, NULL);
	const char	*dob = jget_str(p, "date_of_birth"), *phone = jget_str(p, "phone");
	const char	*email = jget_str(p, "email"), *address = jget_str(p, "address");
	int64_t		 now = tui_now();

	dialog_text(d, "Born: %s\nPhone: %s\nE-mail: %s\nAddress: %s\n%s\nAppointments:",
	    *dob ? dob : "-", *phone ? phone : "-", *email ? email : "-",
	    *address ? address : "-", json_is_null(json_object_get(p, "user_id")) ||
	    json_object_get(p, "user_id") == NULL ? "No online account." :
	    "Has an online account.");
	d->items = json_array();
	d->item_label = card_label;
	d->list_rows = 6;
	d->width = 70;
	d->dialog_hints = "Esc close|Up/Down scroll";
	strlcpy_mf(d->note, "loading...", sizeof d->note);
	tconn_call("appt.list", json_pack("{s:I, s:I, s:I}", "patient_id",
	    (json_int_t)jget_int(p, "id"), "from", (json_int_t)(now - 86400), "to",
	    (json_int_t)(now + 365 * 86400)), d, card_appts, d);
	dialog_open(d);
}
