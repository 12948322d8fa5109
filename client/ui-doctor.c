/* ui-doctor.c -- the consulting room: the doctor's own day (start and
 * complete visits, mark no-shows) and the patients' pending requests
 * (approve or reject with a reason). Push events keep both current. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

#define REQUESTS_DAYS	180

struct doctor_day {
	struct view		 view;
	char			 date[11];
	struct appt_list	 al;
	int			 loading;
	char			 error[300];
};

struct requests {
	struct view		 view;
	struct appt_list	 al;
	int			 loading;
	char			 error[300];
};

static void	day_draw(struct view *, int, int, int, int);
static int	day_key(struct view *, int);
static void	day_event(struct view *, const char *, json_t *);
static void	day_reload(struct view *);
static void	day_free(struct view *);
static void	req_draw(struct view *, int, int, int, int);
static int	req_key(struct view *, int);
static void	req_event(struct view *, const char *, json_t *);
static void	req_reload(struct view *);
static void	req_free(struct view *);

static const struct help_key day_help[] = {
	{ "Up Down j k", "move" },
	{ "Left Right", "previous / next day ([ ] too)" },
	{ "t", "today" },
	{ "s", "start the visit of a patient who has arrived" },
	{ "d", "done: complete the visit" },
	{ "n", "mark a no-show" },
	{ "a", "approve a request" },
	{ "x", "reject a request / cancel (asks a reason)" },
	{ "Enter", "details" },
	{ "o", "open the patient's chart: history, records, prescriptions" },
	{ "/", "find a patient in the list" },
	{ "P", "print this day's sheet (a file, or lpr)" },
	{ "H", "my weekly hours: view and change them" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type day_type = {
	.name = "My day",
	.draw = day_draw,
	.key = day_key,
	.event = day_event,
	.reload = day_reload,
	.free = day_free,
	.hints = "s start|d complete|o chart|n no-show|a approve|x reject/cancel|"
	    "Left/Right day|Enter details|? help",
	.help = day_help,
};

static const struct help_key req_help[] = {
	{ "Up Down j k", "move" },
	{ "a", "approve the request" },
	{ "x", "reject it (asks a reason the patient sees)" },
	{ "Enter", "details" },
	{ "o", "open the patient's chart" },
	{ "/", "find a patient in the list" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type req_type = {
	.name = "Requests",
	.draw = req_draw,
	.key = req_key,
	.event = req_event,
	.reload = req_reload,
	.free = req_free,
	.hints = "a approve|x reject|Enter details|R reload|? help",
	.help = req_help,
};

/* The keys both screens share; 1 when used. */
static int
doctor_act(json_t *a, int key)
{
	const char	*st;

	if (a == NULL)
		return 0;
	st = jget_str(a, "status");
	switch (key) {
	case 'a':
		if (strcmp(st, "requested") != 0)
			tui_message(1, "Only requests need approval.");
		else
			ui_appt_action("appt.approve", a, NULL);
		return 1;
	case 'x':
		if (strcmp(st, "requested") == 0)
			ui_appt_ask_reason("appt.reject", a);
		else if (tui_status_active(st))
			ui_appt_ask_reason("appt.cancel", a);
		else
			tui_message(1, "A %s appointment cannot be cancelled.",
			    tui_status_label(st));
		return 1;
	case 's':
		if (strcmp(st, "checked_in") != 0)
			tui_message(1, "Start a visit once the desk has checked the patient in.");
		else
			ui_appt_action("appt.start", a, NULL);
		return 1;
	case 'd':
		if (strcmp(st, "in_progress") != 0)
			tui_message(1, "Only a visit in progress can be completed.");
		else
			ui_appt_action("appt.complete", a, NULL);
		return 1;
	case 'n':
		if (strcmp(st, "approved") != 0)
			tui_message(1, "Only a booked patient who did not come is a no-show.");
		else
			ui_appt_action("appt.no_show", a, NULL);
		return 1;
	case 'o':
		ui_chart_open(jget_int(a, "patient_id"), jget_str(a, "patient_name"),
		    jget_int(a, "id"));
		return 1;
	}
	if (K_IS_ENTER(key)) {
		ui_appt_details(a, "s start   d complete   n no-show   a approve   x reject/cancel");
		return 1;
	}
	return 0;
}

/* --- my day --- */

static void
day_loaded(const struct tconn_reply *reply, void *arg)
{
	struct doctor_day	*dd = arg;

	dd->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(dd->error, reply->message, sizeof dd->error);
		tui_redraw();
		return;
	}
	dd->error[0] = '\0';
	appt_list_set(&dd->al, json_incref(jget_array(reply->result, "appointments")));
}

static void
day_reload(struct view *v)
{
	struct doctor_day	*dd = v->data;

	tconn_cancel(dd);
	dd->loading = 1;
	tconn_call("appt.list", json_pack("{s:s, s:i}", "date", dd->date, "limit", 500),
	    dd, day_loaded, dd);
	tui_redraw();
}

static void
day_set_date(struct doctor_day *dd, const char *date)
{
	strlcpy_mf(dd->date, date, sizeof dd->date);
	appt_list_set(&dd->al, json_array());
	dd->al.list.cur = 0;
	day_reload(&dd->view);
}

static void
day_event(struct view *v, const char *event, json_t *a)
{
	struct doctor_day	*dd = v->data;
	char			 date[11];

	if (strcmp(event, "appt.changed") != 0 ||
	    jget_int(a, "doctor_id") != tui_me()->doctor_id)
		return;
	fmt_date(jget_int(a, "starts_at"), date);
	if (strcmp(date, dd->date) == 0)
		appt_list_upsert(&dd->al, a, 1);
}

static void
day_draw(struct view *v, int y, int x, int h, int w)
{
	struct doctor_day	*dd = v->data;
	char			 label[40], head[700];
	json_t			*a;
	size_t			 i;
	int			 waiting = 0, left = 0;

	fmt_date_label(dd->date, label, sizeof label);
	json_array_foreach(dd->al.items, i, a) {
		waiting += strcmp(jget_str(a, "status"), "checked_in") == 0;
		left += strcmp(jget_str(a, "status"), "approved") == 0;
	}
	snprintf(head, sizeof head, "%s - %s: %zu appointments, %d waiting, %d still to come%s",
	    tui_me()->full_name, label, dd->al.items != NULL ?
	    json_array_size(dd->al.items) : 0, waiting, left,
	    dd->loading ? "  loading..." : "");
	tui_put(y, x, w, A_BOLD, head);
	if (dd->error[0] != '\0')
		tui_put(y + 1, x, w, tui_attr(TC_ERROR), dd->error);
	appt_list_draw(&dd->al, y + 2, x, h - 2, w, dd->loading ? "Loading..." :
	    "No appointments on this day.");
}

static int
day_key(struct view *v, int key)
{
	struct doctor_day	*dd = v->data;
	char			 date[11];

	if (tlist_key(&dd->al.list, key, tui_page()))
		return 1;
	switch (key) {
	case KF(KEY_LEFT):
	case '[':
		strlcpy_mf(date, dd->date, sizeof date);
		date_shift(date, -1);
		day_set_date(dd, date);
		return 1;
	case KF(KEY_RIGHT):
	case ']':
		strlcpy_mf(date, dd->date, sizeof date);
		date_shift(date, 1);
		day_set_date(dd, date);
		return 1;
	case 't':
		tui_today(date);
		day_set_date(dd, date);
		return 1;
	case 'R':
		day_reload(v);
		return 1;
	case '/':
		appt_list_find(&dd->al);
		return 1;
	case 'P':
		ui_daysheet(tui_me()->doctor_id, tui_me()->full_name, dd->date);
		return 1;
	case 'H':
		ui_hours_edit(tui_me()->doctor_id, tui_me()->full_name);
		return 1;
	}
	return doctor_act(appt_list_selected(&dd->al), key);
}

static void
day_free(struct view *v)
{
	struct doctor_day	*dd = v->data;

	json_decref(dd->al.items);
	free(dd);
}

struct view *
ui_doctor_day_new(void)
{
	struct doctor_day	*dd = xcalloc(1, sizeof *dd);

	dd->view.type = &day_type;
	dd->view.data = dd;
	tui_today(dd->date);
	dd->al.items = json_array();
	day_reload(&dd->view);
	return &dd->view;
}

/* --- pending requests --- */

static void
req_loaded(const struct tconn_reply *reply, void *arg)
{
	struct requests	*rq = arg;

	rq->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(rq->error, reply->message, sizeof rq->error);
		tui_redraw();
		return;
	}
	rq->error[0] = '\0';
	appt_list_set(&rq->al, json_incref(jget_array(reply->result, "appointments")));
}

static void
req_reload(struct view *v)
{
	struct requests	*rq = v->data;
	int64_t		 now = tui_now();

	tconn_cancel(rq);
	rq->loading = 1;
	tconn_call("appt.list", json_pack("{s:s, s:I, s:I, s:i}", "status", "requested",
	    "from", (json_int_t)(now - 86400), "to",
	    (json_int_t)(now + REQUESTS_DAYS * 86400), "limit", 500), rq, req_loaded, rq);
	tui_redraw();
}

/* A request appears when made and leaves when answered. */
static void
req_event(struct view *v, const char *event, json_t *a)
{
	struct requests	*rq = v->data;

	if (strcmp(event, "appt.changed") != 0 ||
	    jget_int(a, "doctor_id") != tui_me()->doctor_id)
		return;
	appt_list_upsert(&rq->al, a, strcmp(jget_str(a, "status"), "requested") == 0);
	if (strcmp(jget_str(a, "status"), "requested") == 0)
		tui_message(0, "New request: %s.", jget_str(a, "patient_name"));
}

static void
req_draw(struct view *v, int y, int x, int h, int w)
{
	struct requests	*rq = v->data;
	char		 head[200];

	snprintf(head, sizeof head, "Pending requests: %zu%s",
	    rq->al.items != NULL ? json_array_size(rq->al.items) : 0,
	    rq->loading ? "  loading..." : "");
	tui_put(y, x, w, A_BOLD, head);
	if (rq->error[0] != '\0')
		tui_put(y + 1, x, w, tui_attr(TC_ERROR), rq->error);
	appt_list_draw(&rq->al, y + 2, x, h - 2, w, rq->loading ? "Loading..." :
	    "No requests are waiting for you.");
}

static int
req_key(struct view *v, int key)
{
	struct requests	*rq = v->data;

	if (tlist_key(&rq->al.list, key, tui_page()))
		return 1;
	if (key == 'R') {
		req_reload(v);
		return 1;
	}
	if (key == '/') {
		appt_list_find(&rq->al);
		return 1;
	}
	return doctor_act(appt_list_selected(&rq->al), key);
}

static void
req_free(struct view *v)
{
	struct requests	*rq = v->data;

	json_decref(rq->al.items);
	free(rq);
}

struct view *
ui_doctor_requests_new(void)
{
	struct requests	*rq = xcalloc(1, sizeof *rq);

	rq->view.type = &req_type;
	rq->view.data = rq;
	rq->al.items = json_array();
	rq->al.show_date = 1;
	req_reload(&rq->view);
	return &rq->view;
}
