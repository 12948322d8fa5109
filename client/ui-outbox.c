/* ui-outbox.c -- the admin's reminder outbox: every e-mail and SMS reminder
 * with its state, attempts and last error, filtered by state; a failed or
 * skipped one is sent again with r. A failure pushed by the server
 * (notify.failed) reloads the list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

#define OUTBOX_LIMIT	200

static const char *const outbox_states[] = {
	"all", "pending", "sent", "failed", "skipped", NULL
};

struct outbox {
	struct view	 view;
	json_t		*messages;
	int64_t		 total;
	int		 total_capped;	/* more than the server counts */
	struct tlist	 list;
	int		 state;		/* index into outbox_states */
	int		 loading;
	char		 error[300];
};

static void	outbox_draw(struct view *, int, int, int, int);
static int	outbox_key(struct view *, int);
static void	outbox_event(struct view *, const char *, json_t *);
static void	outbox_reload(struct view *);
static void	outbox_free(struct view *);

static const struct help_key outbox_help[] = {
	{ "Up Down j k", "move" },
	{ "f", "filter by state: all, pending, sent, failed, skipped" },
	{ "r", "send a failed, skipped or waiting reminder again now" },
	{ "Enter", "the whole row: recipient, provider reference, error" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type outbox_type = {
	.name = "Reminders",
	.draw = outbox_draw,
	.key = outbox_key,
	.event = outbox_event,
	.reload = outbox_reload,
	.shown = outbox_reload,
	.free = outbox_free,
	.hints = "f state|r retry|Enter details|R reload|? help",
	.help = outbox_help,
};

static enum tui_color
state_color(const char *state)
{
	if (strcmp(state, "sent") == 0)
		return TC_OK;
	if (strcmp(state, "failed") == 0)
		return TC_ERROR;
	if (strcmp(state, "skipped") == 0)
		return TC_CLOSED;
	return TC_REQUESTED;
}

static void
outbox_loaded(const struct tconn_reply *reply, void *arg)
{
	struct outbox	*o = arg;

	o->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(o->error, reply->message, sizeof o->error);
		tui_redraw();
		return;
	}
	o->error[0] = '\0';
	json_decref(o->messages);
	o->messages = json_incref(jget_array(reply->result, "messages"));
	o->total = jget_int(reply->result, "total");
	o->total_capped = json_is_true(json_object_get(reply->result, "total_capped"));
	tlist_set_count(&o->list, (int)json_array_size(o->messages));
	tui_redraw();
}

static void
outbox_reload(struct view *v)
{
	struct outbox	*o = v->data;

	tconn_cancel(o);
	o->loading = 1;
	tconn_call("notify.outbox", json_pack("{s:s, s:i}", "state",
	    outbox_states[o->state], "limit", OUTBOX_LIMIT), o, outbox_loaded, o);
	tui_redraw();
}

static void
outbox_event(struct view *v, const char *event, json_t *data)
{
	(void)data;
	if (strcmp(event, "notify.failed") == 0)
		outbox_reload(v);
}

static void
outbox_draw(struct view *v, int y, int x, int h, int w)
{
	struct outbox	*o = v->data;
	char		 line[1200], due[40], when[40], name[300];
	json_t		*m;
	int		 i;
	attr_t		 a;

	snprintf(line, sizeof line, "Reminder outbox: %zu shown of %lld%s   state: %s%s",
	    json_array_size(o->messages), (long long)o->total,
	    o->total_capped ? "+" : "", outbox_states[o->state],
	    o->loading ? "   loading..." : "");
	tui_put(y, x, w, A_BOLD, line);
	if (o->error[0] != '\0') {
		tui_put(y + 2, x + 2, w - 4, tui_attr(TC_ERROR), o->error);
		return;
	}
	text_pad(name, sizeof name, "Patient", 20);
	snprintf(line, sizeof line, " %-16s %-8s %-12s %-5s %s %-16s %s", "Due", "State",
	    "Kind", "Via", name, "Visit", "Tries  Last error");
	tui_put(y + 1, x, w, tui_attr(TC_DIM) | A_BOLD, line);
	if (json_array_size(o->messages) == 0) {
		tui_put(y + 3, x + 2, w - 4, tui_attr(TC_DIM),
		    o->loading ? "Loading..." : "No reminders in this state.");
		return;
	}
	tlist_fit(&o->list, h - 2);
	for (i = 0; i < h - 2 && o->list.top + i < o->list.n; i++) {
		m = json_array_get(o->messages, (size_t)(o->list.top + i));
		fmt_when(jget_int(m, "due_at"), due, sizeof due);
		fmt_when(jget_int(m, "starts_at"), when, sizeof when);
		text_pad(name, sizeof name, jget_str(m, "patient_name"), 20);
		snprintf(line, sizeof line, "%-16s %-8s %-12s %-5s %s %-16s %5d  %s", due,
		    jget_str(m, "state"), jget_str(m, "kind"), jget_str(m, "channel"), name,
		    when, (int)jget_int(m, "attempts"), jget_str(m, "last_error"));
		a = tui_attr(state_color(jget_str(m, "state")));
		if (o->list.top + i == o->list.cur)
			a = tui_attr(TC_SELECTED);
		tui_put(y + 2 + i, x, w, a, "");
		tui_put(y + 2 + i, x + 1, w - 2, a, line);
	}
}

static void
outbox_retried(const struct tconn_reply *reply, void *arg)
{
	struct outbox	*o = arg;

	if (!reply->ok) {
		tui_message(1, "Not retried: %s", reply->message);
		return;
	}
	tui_message(0, "Reminder #%lld is pending again, due now.",
	    (long long)jget_int(json_object_get(reply->result, "message"), "id"));
	outbox_reload(&o->view);
}

static int
outbox_key(struct view *v, int key)
{
	struct outbox	*o = v->data;
	json_t		*m;
	char		 due[40], sent[40];

	if (tlist_key(&o->list, key, tui_page()))
		return 1;
	switch (key) {
	case 'f':
		o->state = outbox_states[o->state + 1] != NULL ? o->state + 1 : 0;
		o->list.cur = 0;
		outbox_reload(v);
		return 1;
	case 'R':
		outbox_reload(v);
		return 1;
	}
	if ((m = json_array_get(o->messages, (size_t)o->list.cur)) == NULL)
		return 0;
	if (key == 'r') {
		tconn_call("notify.retry", json_pack("{s:I}", "id",
		    (json_int_t)jget_int(m, "id")), o, outbox_retried, o);
		return 1;
	}
	if (K_IS_ENTER(key)) {
		fmt_when(jget_int(m, "due_at"), due, sizeof due);
		if (jget_int(m, "sent_at") != 0)
			fmt_when(jget_int(m, "sent_at"), sent, sizeof sent);
		else
			strlcpy_mf(sent, "-", sizeof sent);
		dialog_message("Reminder", "#%lld %s by %s for %s (appointment #%lld)\n"
		    "State: %s after %d attempt(s)\nDue: %s   Sent: %s\nTo: %s\n"
		    "Provider reference: %s\nLast error: %s",
		    (long long)jget_int(m, "id"), jget_str(m, "kind"),
		    jget_str(m, "channel"), jget_str(m, "patient_name"),
		    (long long)jget_int(m, "appointment_id"), jget_str(m, "state"),
		    (int)jget_int(m, "attempts"), due, sent,
		    *jget_str(m, "recipient") ? jget_str(m, "recipient") : "-",
		    *jget_str(m, "provider_ref") ? jget_str(m, "provider_ref") : "-",
		    *jget_str(m, "last_error") ? jget_str(m, "last_error") : "-");
		return 1;
	}
	return 0;
}

static void
outbox_free(struct view *v)
{
	struct outbox	*o = v->data;

	json_decref(o->messages);
	free(o);
}

struct view *
ui_admin_outbox_new(void)
{
	struct outbox	*o = xcalloc(1, sizeof *o);

	o->view.type = &outbox_type;
	o->view.data = o;
	outbox_reload(&o->view);
	return &o->view;
}
