/* ui-appt.c -- the appointment changes every screen shares: one-key status
 * changes reported on the message line, and the reason dialog for cancelling
 * and rejecting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

struct appt_action {
	char	op[32];
	char	what[300];
};

static const struct {
	const char	*op;
	const char	*done;
	const char	*verb;
} actions[] = {
	{ "appt.checkin", "Checked in", "check in" },
	{ "appt.approve", "Approved", "approve" },
	{ "appt.reject", "Rejected", "reject" },
	{ "appt.cancel", "Cancelled", "cancel" },
	{ "appt.no_show", "Marked as a no-show:", "mark as a no-show" },
	{ "appt.start", "Started the visit of", "start" },
	{ "appt.complete", "Completed the visit of", "complete" },
};

static const char *
action_done(const char *op)
{
	size_t	i;

	for (i = 0; i < nitems(actions); i++) {
		if (strcmp(actions[i].op, op) == 0)
			return actions[i].done;
	}
	return "Done:";
}

static const char *
action_verb(const char *op)
{
	size_t	i;

	for (i = 0; i < nitems(actions); i++) {
		if (strcmp(actions[i].op, op) == 0)
			return actions[i].verb;
	}
	return op;
}

static void
describe(json_t *appt, char *out, size_t len)
{
	char	when[40];

	fmt_when(jget_int(appt, "starts_at"), when, sizeof when);
	snprintf(out, len, "%s (%s, %s)", jget_str(appt, "patient_name"),
	    jget_str(appt, "doctor_name"), when);
}

static void
action_done_cb(const struct tconn_reply *reply, void *arg)
{
	struct appt_action	*a = arg;

	if (reply->ok) {
		undo_note(a->op, json_object_get(reply->result, "appointment"), NULL);
		tui_message(0, "%s %s.", action_done(a->op), a->what);
	}
	else
		tui_message(1, "Could not %s %s: %s", action_verb(a->op), a->what,
		    reply->message);
	free(a);
}

void
ui_appt_action(const char *op, json_t *appt, const char *reason)
{
	struct appt_action	*a = xcalloc(1, sizeof *a);
	json_t			*args;

	strlcpy_mf(a->op, op, sizeof a->op);
	describe(appt, a->what, sizeof a->what);
	args = json_pack("{s:I}", "id", (json_int_t)jget_int(appt, "id"));
	if (reason != NULL && *reason != '\0')
		json_object_set_new(args, "reason", json_string(reason));
	tconn_call(op, args, NULL, action_done_cb, a);
	tui_message(0, "Working: %s %s...", action_verb(op), a->what);
}

/* --- with a reason --- */

struct reason_ctx {
	char	op[32];
	json_t	*appt;
	char	what[300];
};

static void
reason_closed(struct dialog *d)
{
	struct reason_ctx	*c = d->arg;

	json_decref(c->appt);
	free(c);
}

static void
reason_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog		*d = arg;
	struct reason_ctx	*c = d->arg;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	undo_note(c->op, json_object_get(reply->result, "appointment"), NULL);
	tui_message(0, "%s %s.", action_done(c->op), c->what);
	dialog_close(d);
}

static void
reason_submit(struct dialog *d)
{
	struct reason_ctx	*c = d->arg;
	const char		*reason = field_value(dialog_get(d, "reason"));
	json_t			*args;

	args = json_pack("{s:I}", "id", (json_int_t)jget_int(c->appt, "id"));
	if (*reason != '\0')
		json_object_set_new(args, "reason", json_string(reason));
	d->busy = 1;
	tconn_call(c->op, args, d, reason_done, d);
	tui_redraw();
}

void
ui_appt_ask_reason(const char *op, json_t *appt)
{
	struct reason_ctx	*c = xcalloc(1, sizeof *c);
	struct dialog		*d;
	char			 title[64];
	int			 required = strcmp(op, "appt.reject") == 0;

	strlcpy_mf(c->op, op, sizeof c->op);
	c->appt = json_incref(appt);
	describe(appt, c->what, sizeof c->what);
	snprintf(title, sizeof title, "%s", required ? "Reject request" : "Cancel appointment");
	d = dialog_new(title, reason_submit, c);
	d->closed = reason_closed;
	dialog_text(d, "%s %s?%s", required ? "Reject" : "Cancel", c->what,
	    required ? "\nThe patient sees the reason." : "");
	dialog_field(d, "reason", required ? "Reason" : "Reason (optional)");
	d->dialog_hints = required ? "Enter reject|Esc keep it" : "Enter cancel it|Esc keep it";
	dialog_open(d);
}

/* --- a list of appointments --- */

static int
starts_cmp(const void *x, const void *y)
{
	json_t	*a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int64_t	 ta = jget_int(a, "starts_at"), tb = jget_int(b, "starts_at");

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return jget_int(a, "id") < jget_int(b, "id") ? -1 : 1;
}

static void
appt_list_sort(struct appt_list *l)
{
	json_t	**v, *sorted;
	size_t	  n = json_array_size(l->items), i;

	v = xcalloc(n + 1, sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = json_array_get(l->items, i);
	qsort(v, n, sizeof *v, starts_cmp);
	sorted = json_array();
	for (i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(l->items);
	l->items = sorted;
	tlist_set_count(&l->list, (int)n);
}

void
appt_list_set(struct appt_list *l, json_t *items)
{
	int64_t	keep = 0;
	json_t	*a;
	size_t	 i;

	if ((a = appt_list_selected(l)) != NULL)
		keep = jget_int(a, "id");
	json_decref(l->items);
	l->items = items;
	appt_list_sort(l);
	json_array_foreach(l->items, i, a) {
		if (jget_int(a, "id") == keep)
			l->list.cur = (int)i;
	}
	tlist_set_count(&l->list, (int)json_array_size(l->items));
	tui_redraw();
}

void
appt_list_upsert(struct appt_list *l, json_t *a, int keep)
{
	json_t	*items = json_array(), *old;
	size_t	 i;

	if (l->items != NULL) {
		json_array_foreach(l->items, i, old) {
			if (jget_int(old, "id") != jget_int(a, "id"))
				json_array_append(items, old);
		}
	}
	if (keep)
		json_array_append(items, a);
	appt_list_set(l, items);
}

json_t *
appt_list_selected(struct appt_list *l)
{
	if (l->items == NULL || l->list.cur < 0 ||
	    (size_t)l->list.cur >= json_array_size(l->items))
		return NULL;
	return json_array_get(l->items, (size_t)l->list.cur);
}

void
appt_list_draw(struct appt_list *l, int y, int x, int h, int w, const char *empty)
{
	char	 line[800], when[40], from[6], to[6];
	json_t	*a;
	int	 i, name_w;
	attr_t	 attr;

	if (l->items == NULL || json_array_size(l->items) == 0) {
		tui_put(y, x + 2, w - 4, tui_attr(TC_DIM), empty);
		return;
	}
	tlist_fit(&l->list, h);
	name_w = w > 100 ? 28 : 22;
	for (i = 0; i < h && l->list.top + i < l->list.n; i++) {
		a = json_array_get(l->items, (size_t)(l->list.top + i));
		fmt_hhmm(jget_int(a, "starts_at"), from);
		fmt_hhmm(jget_int(a, "ends_at"), to);
		if (l->show_date) {
			fmt_date(jget_int(a, "starts_at"), when);
			snprintf(line, sizeof line, "%s  %s-%s", when, from, to);
		} else
			snprintf(line, sizeof line, "%s-%s", from, to);
		attr = tui_attr(tui_status_color(jget_str(a, "status")));
		if (l->list.top + i == l->list.cur)
			attr = (attr & ~A_DIM) | A_REVERSE;
		tui_put(y + i, x, w, attr, "");
		tui_put(y + i, x + 1, l->show_date ? 24 : 12, attr, line);
		{
			int	col = x + 1 + (l->show_date ? 24 : 12);
			char	who[600];

			snprintf(who, sizeof who, "%s", l->show_doctor ?
			    jget_str(a, "doctor_name") : jget_str(a, "patient_name"));
			tui_put(y + i, col, name_w, attr, who);
			col += name_w + 1;
			tui_put(y + i, col, 10, attr, tui_status_label(jget_str(a, "status")));
			col += 11;
			if (col < x + w - 1)
				tui_put(y + i, col, x + w - 1 - col, attr,
				    *jget_str(a, "status_note") ? jget_str(a, "status_note") :
				    jget_str(a, "reason"));
		}
	}
}

void
ui_appt_details(json_t *a, const char *keys)
{
	char	when[40], to[6];

	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	fmt_hhmm(jget_int(a, "ends_at"), to);
	dialog_message(jget_str(a, "patient_name"),
	    "%s-%s with %s\nStatus: %s\nReason: %s%s%s%s%s",
	    when, to, jget_str(a, "doctor_name"), tui_status_label(jget_str(a, "status")),
	    *jget_str(a, "reason") ? jget_str(a, "reason") : "-",
	    *jget_str(a, "status_note") ? "\nNote: " : "", jget_str(a, "status_note"),
	    keys != NULL ? "\n\n" : "", keys != NULL ? keys : "");
}

static void
find_submit(struct dialog *d)
{
	struct appt_list	*l = d->arg;
	const char		*q = field_value(&d->fields[0]);
	json_t			*a;
	int			 n = (int)json_array_size(l->items), k, i;

	strlcpy_mf(l->find, q, sizeof l->find);
	if (*q == '\0' || n == 0) {
		dialog_close(d);
		return;
	}
	for (k = 1; k <= n; k++) {
		i = (l->list.cur + k) % n;
		a = json_array_get(l->items, (size_t)i);
		if (strcasestr(jget_str(a, "patient_name"), q) != NULL ||
		    strcasestr(jget_str(a, "doctor_name"), q) != NULL ||
		    strcasestr(jget_str(a, "reason"), q) != NULL) {
			l->list.cur = i;
			dialog_close(d);
			return;
		}
	}
	snprintf(d->error, sizeof d->error, "no appointment with \"%s\"", q);
}

void
appt_list_find(struct appt_list *l)
{
	struct dialog	*d = dialog_new("Find", find_submit, l);

	dialog_text(d, "A name or a reason, or part of it; again for the next one.");
	field_set(dialog_field(d, "q", "Find"), l->find);
	d->dialog_hints = "Enter find next|Esc close";
	dialog_open(d);
}
