/* ui-admin.c -- the admin panel: users (filter, create, edit and change the
 * role, deactivate, reset a password), appointment statistics with text bar
 * charts, and the audit log with the state of its hash chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

static const char *const role_choices[] = {
	"receptionist", "doctor", "admin", "patient", NULL
};
static const char *const role_filters[] = {
	"all roles", "receptionist", "doctor", "admin", "patient", NULL
};

/* ===================================================================== */
/* --- users --- */

struct users {
	struct view	 view;
	json_t		*items;
	struct tlist	 list;
	char		 q[128];
	int		 role;		/* index into role_filters */
	int64_t		 total;
	int		 loading;
	char		 error[300];
};

static void	users_draw(struct view *, int, int, int, int);
static int	users_key(struct view *, int);
static void	users_reload(struct view *);
static void	users_free(struct view *);

static const struct help_key users_help[] = {
	{ "Up Down j k", "move" },
	{ "/", "filter by name or e-mail" },
	{ "f", "filter by role (cycles)" },
	{ "n", "new user" },
	{ "e Enter", "edit: name, e-mail, phone, role" },
	{ "x", "deactivate (ends their sessions)" },
	{ "A", "activate again" },
	{ "p", "reset the password (shows a temporary one)" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type users_type = {
	.name = "Users",
	.draw = users_draw,
	.key = users_key,
	.reload = users_reload,
	.shown = users_reload,
	.free = users_free,
	.hints = "n new|e edit|x deactivate|p reset password|/ filter|f role|? help",
	.help = users_help,
};

static void
users_loaded(const struct tconn_reply *reply, void *arg)
{
	struct users	*u = arg;

	u->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(u->error, reply->message, sizeof u->error);
		tui_redraw();
		return;
	}
	u->error[0] = '\0';
	json_decref(u->items);
	u->items = json_incref(jget_array(reply->result, "users"));
	u->total = jget_int(reply->result, "total");
	tlist_set_count(&u->list, (int)json_array_size(u->items));
	tui_redraw();
}

static void
users_reload(struct view *v)
{
	struct users	*u = v->data;
	json_t		*args = json_pack("{s:i}", "limit", 200);

	if (u->q[0] != '\0')
		json_object_set_new(args, "q", json_string(u->q));
	if (u->role > 0)
		json_object_set_new(args, "role", json_string(role_filters[u->role]));
	tconn_cancel(u);
	u->loading = 1;
	tconn_call("users.list", args, u, users_loaded, u);
	tui_redraw();
}

static void
users_draw(struct view *v, int y, int x, int h, int w)
{
	struct users	*u = v->data;
	char		 line[1200], when[40];
	json_t		*usr;
	int		 i, login_w = w >= 110 ? 16 : 10, rest, name_w, mail_w, col;
	attr_t		 a;

	/* Role, active and last login are narrow; name and e-mail share the rest. */
	rest = w - 1 - 13 - 7 - login_w - 2;
	name_w = rest * 45 / 100 > 30 ? 30 : rest * 45 / 100;
	mail_w = rest - name_w > 40 ? 40 : rest - name_w;
	snprintf(line, sizeof line, "Users: %zu shown of %lld   filter: %s%s%s   role: %s%s",
	    json_array_size(u->items), (long long)u->total, u->q[0] ? "\"" : "",
	    u->q[0] ? u->q : "none", u->q[0] ? "\"" : "", role_filters[u->role],
	    u->loading ? "  loading..." : "");
	tui_put(y, x, w, A_BOLD, line);
	if (u->error[0] != '\0')
		tui_put(y + 1, x, w, tui_attr(TC_ERROR), u->error);
	snprintf(line, sizeof line, " %-*s %-*s %-12s %-6s %s", name_w, "Name", mail_w,
	    "E-mail", "Role", "Active", "Last login");
	tui_put(y + 2, x, w, A_UNDERLINE, line);
	if (u->items == NULL || json_array_size(u->items) == 0) {
		tui_put(y + 3, x + 2, w - 4, tui_attr(TC_DIM), u->loading ? "Loading..." :
		    "No users match.");
		return;
	}
	tlist_fit(&u->list, h - 3);
	for (i = 0; i < h - 3 && u->list.top + i < u->list.n; i++) {
		usr = json_array_get(u->items, (size_t)(u->list.top + i));
		if (jget_int(usr, "last_login_at") == 0)
			strlcpy_mf(when, "never", sizeof when);
		else if (login_w >= 16)
			fmt_when(jget_int(usr, "last_login_at"), when, sizeof when);
		else
			fmt_date(jget_int(usr, "last_login_at"), when);
		a = json_is_true(json_object_get(usr, "active")) ? A_NORMAL : tui_attr(TC_DIM);
		if (u->list.top + i == u->list.cur)
			a = tui_attr(TC_SELECTED);
		tui_put(y + 3 + i, x, w, a, "");
		col = x + 1;
		tui_put(y + 3 + i, col, name_w, a, jget_str(usr, "full_name"));
		col += name_w + 1;
		tui_put(y + 3 + i, col, mail_w, a, jget_str(usr, "email"));
		col += mail_w + 1;
		tui_put(y + 3 + i, col, 12, a, jget_str(usr, "role"));
		col += 13;
		tui_put(y + 3 + i, col, 6, a,
		    json_is_true(json_object_get(usr, "active")) ? "yes" : "no");
		col += 7;
		if (col < x + w)
			tui_put(y + 3 + i, col, x + w - col, a, when);
	}
}

static json_t *
users_selected(struct users *u)
{
	if (u->items == NULL || u->list.cur < 0 ||
	    (size_t)u->list.cur >= json_array_size(u->items))
		return NULL;
	return json_array_get(u->items, (size_t)u->list.cur);
}

/* The forms: new user and edit. */
struct user_form {
	struct users	*u;
	int64_t		 id;	/* 0: a new user */
};

static void
user_form_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog		*d = arg;
	struct user_form	*uf = d->arg;
	json_t			*usr;
	const char		*temp;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	usr = json_object_get(reply->result, "user");
	temp = jget_str(reply->result, "temporary_password");
	if (*temp != '\0')
		dialog_message("Temporary password", "%s (%s) can log in with\n\n    %s\n\n"
		    "It is shown only now. They should change it after logging in.",
		    jget_str(usr, "full_name"), jget_str(usr, "email"), temp);
	tui_message(0, "%s %s (%s).", uf->id == 0 ? "Created" : "Saved",
	    jget_str(usr, "full_name"), jget_str(usr, "role"));
	users_reload(&uf->u->view);
	dialog_close(d);
}

static void
user_form_submit(struct dialog *d)
{
	struct user_form	*uf = d->arg;
	json_t			*args = json_object();
	int			 i;

	if (uf->id != 0)
		json_object_set_new(args, "id", json_integer(uf->id));
	for (i = 0; i < d->nfields; i++) {
		struct field	*f = &d->fields[i];
		const char	*v = field_value(f);

		if (strcmp(f->name, "password") == 0 && *v == '\0')
			continue;	/* the server generates one */
		if (uf->id == 0 && strcmp(f->name, "phone") == 0 && *v == '\0')
			continue;
		json_object_set_new(args, f->name, json_string(v));
	}
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call(uf->id == 0 ? "users.create" : "users.update", args, d,
	    user_form_done, d);
}

static void
user_form_closed(struct dialog *d)
{
	free(d->arg);
}

static void
user_form(struct users *u, json_t *usr)
{
	struct user_form	*uf = xcalloc(1, sizeof *uf);
	struct dialog		*d;
	struct field		*role;
	int			 i;

	uf->u = u;
	uf->id = usr != NULL ? jget_int(usr, "id") : 0;
	d = dialog_new(usr != NULL ? "Edit user" : "New user", user_form_submit, uf);
	d->closed = user_form_closed;
	d->width = 72;
	field_set(dialog_field(d, "email", "E-mail"), usr != NULL ? jget_str(usr, "email") : "");
	field_set(dialog_field(d, "full_name", "Full name"),
	    usr != NULL ? jget_str(usr, "full_name") : "");
	role = dialog_field(d, "role", "Role");
	role->choices = role_choices;
	for (i = 0; usr != NULL && role_choices[i] != NULL; i++) {
		if (strcmp(role_choices[i], jget_str(usr, "role")) == 0)
			role->choice = i;
	}
	field_set(dialog_field(d, "phone", "Phone"), usr != NULL ? jget_str(usr, "phone") : "");
	if (usr == NULL) {
		dialog_field(d, "password", "Password");
		dialog_text(d, "Leave the password empty to generate a temporary one. "
		    "Left/Right or Space change the role.");
	}
	d->dialog_hints = usr != NULL ? "Enter next / save|Tab next field|Esc cancel" :
	    "Enter next / create|Tab next field|Esc cancel";
	dialog_open(d);
}

/* Deactivate, activate, reset password: a question, then the call. */
struct user_act {
	struct users	*u;
	int64_t		 id;
	char		 op[32];
	char		 name[300];
};

static void
user_act_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct user_act	*ua = d->arg;
	const char	*temp;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	temp = jget_str(reply->result, "temporary_password");
	if (*temp != '\0')
		dialog_message("Temporary password", "%s can now log in with\n\n    %s\n\n"
		    "It is shown only now; their other sessions have ended.", ua->name, temp);
	else
		tui_message(0, "%s: done.", ua->name);
	users_reload(&ua->u->view);
	dialog_close(d);
}

static void
user_act_yes(struct dialog *d)
{
	struct user_act	*ua = d->arg;
	json_t		*args = json_pack("{s:I}", "id", (json_int_t)ua->id);

	if (strcmp(ua->op, "activate") == 0)
		json_object_set_new(args, "active", json_true());
	d->busy = 1;
	tconn_call(strcmp(ua->op, "activate") == 0 ? "users.update" : ua->op, args, d,
	    user_act_done, d);
}

static void
user_act_closed(struct dialog *d)
{
	free(d->arg);
}

static void
user_act(struct users *u, json_t *usr, const char *op, const char *question)
{
	struct user_act	*ua = xcalloc(1, sizeof *ua);
	struct dialog	*d;
	char		 text[600];

	ua->u = u;
	ua->id = jget_int(usr, "id");
	strlcpy_mf(ua->op, op, sizeof ua->op);
	snprintf(ua->name, sizeof ua->name, "%s (%s)", jget_str(usr, "full_name"),
	    jget_str(usr, "email"));
	snprintf(text, sizeof text, "%s %s?", question, ua->name);
	d = dialog_confirm("Users", text, user_act_yes, ua);
	d->closed = user_act_closed;
}

static void
users_filter_submit(struct dialog *d)
{
	struct users	*u = d->arg;

	strlcpy_mf(u->q, field_value(&d->fields[0]), sizeof u->q);
	u->list.cur = 0;
	users_reload(&u->view);
	dialog_close(d);
}

static int
users_key(struct view *v, int key)
{
	struct users	*u = v->data;
	json_t		*usr;
	struct dialog	*d;

	if (tlist_key(&u->list, key, tui_page()))
		return 1;
	switch (key) {
	case '/':
		d = dialog_new("Filter users", users_filter_submit, u);
		field_set(dialog_field(d, "q", "Name or e-mail"), u->q);
		d->dialog_hints = "Enter filter|C-u clear|Esc cancel";
		dialog_open(d);
		return 1;
	case 'f':
		u->role = role_filters[u->role + 1] != NULL ? u->role + 1 : 0;
		u->list.cur = 0;
		users_reload(v);
		return 1;
	case 'n':
		user_form(u, NULL);
		return 1;
	case 'R':
		users_reload(v);
		return 1;
	}
	if ((usr = users_selected(u)) == NULL)
		return 0;
	if (key == 'e' || K_IS_ENTER(key)) {
		user_form(u, usr);
		return 1;
	}
	switch (key) {
	case 'x':
		if (!json_is_true(json_object_get(usr, "active")))
			tui_message(1, "Already inactive; A activates again.");
		else
			user_act(u, usr, "users.deactivate", "Deactivate");
		return 1;
	case 'A':
		user_act(u, usr, "activate", "Activate");
		return 1;
	case 'p':
		user_act(u, usr, "users.reset_password",
		    "Reset the password (ending their sessions) of");
		return 1;
	}
	return 0;
}

static void
users_free(struct view *v)
{
	struct users	*u = v->data;

	json_decref(u->items);
	free(u);
}

struct view *
ui_admin_users_new(void)
{
	struct users	*u = xcalloc(1, sizeof *u);

	u->view.type = &users_type;
	u->view.data = u;
	users_reload(&u->view);
	return &u->view;
}

/* ===================================================================== */
/* --- statistics --- */

static const struct {
	const char	*name;
	int		 days;	/* 0: today */
} periods[] = {
	{ "today", 0 },
	{ "the last 7 days", 7 },
	{ "the last 30 days", 30 },
	{ "the last 90 days", 90 },
	{ "the last 365 days", 365 },
};

static const char *const stat_statuses[] = {
	"requested", "approved", "checked_in", "in_progress", "completed", "no_show",
	"cancelled", "rejected", "rescheduled", NULL
};

struct stats {
	struct view	 view;
	int		 period;
	json_t		*result;
	int		 loading;
	char		 error[300];
	int		 top;
	int		 rows_shown;
};

static void	stats_draw(struct view *, int, int, int, int);
static int	stats_key(struct view *, int);
static void	stats_reload(struct view *);
static void	stats_free(struct view *);

static const struct help_key stats_help[] = {
	{ "Left Right", "another period (today, 7, 30, 90, 365 days)" },
	{ "Up Down j k", "scroll" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type stats_type = {
	.name = "Statistics",
	.draw = stats_draw,
	.key = stats_key,
	.reload = stats_reload,
	.shown = stats_reload,
	.free = stats_free,
	.hints = "Left/Right period|j/k scroll|R reload|? help",
	.help = stats_help,
};

static void
stats_loaded(const struct tconn_reply *reply, void *arg)
{
	struct stats	*s = arg;

	s->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(s->error, reply->message, sizeof s->error);
		tui_redraw();
		return;
	}
	s->error[0] = '\0';
	json_decref(s->result);
	s->result = json_incref(reply->result);
	tui_redraw();
}

static void
stats_reload(struct view *v)
{
	struct stats	*s = v->data;
	char		 today[11];
	int64_t		 from, to;

	tui_today(today);
	to = date_start(today) + 86400;
	from = periods[s->period].days == 0 ? date_start(today) :
	    to - (int64_t)periods[s->period].days * 86400;
	tconn_cancel(s);
	s->loading = 1;
	tconn_call("stats.appointments", json_pack("{s:I, s:I}", "from", (json_int_t)from,
	    "to", (json_int_t)to), s, stats_loaded, s);
	tui_redraw();
}

/* One line of the report: a label, a bar scaled to max, the figure. */
static void
stats_bar(int y, int x, int w, const char *label, int64_t n, int64_t max,
    const char *extra, attr_t a)
{
	char	bar[800], figure[120];
	int	bw = w - 24 - 16, len, i;
	size_t	off = 0;

	if (bw < 5)
		bw = 5;
	if (bw > 60)
		bw = 60;
	len = max > 0 ? (int)((n * bw + max - 1) / max) : 0;
	for (i = 0; i < bw && off + 4 < sizeof bar; i++) {
		const char	*cell = i < len ? (tui_utf8() ? "\u2588" : "#") :
		    (tui_utf8() ? "\u00b7" : ".");

		memcpy(bar + off, cell, strlen(cell));
		off += strlen(cell);
	}
	bar[off] = '\0';
	snprintf(figure, sizeof figure, " %lld%s", (long long)n, extra);
	tui_put(y, x, 22, A_NORMAL, label);
	tui_put(y, x + 23, bw, a, bar);
	tui_put(y, x + 23 + bw, w - 23 - bw, A_NORMAL, figure);
}

static void
stats_draw(struct view *v, int y, int x, int h, int w)
{
	struct stats	*s = v->data;
	json_t		*r = s->result, *by, *d;
	char		 line[600], extra[80], today[11], label[40];
	int64_t		 max, total;
	int		 row = 0, rows = h - 2, i;
	size_t		 k;
	double		 rate, wait;

	tui_today(today);
	snprintf(line, sizeof line, "Appointments in %s%s", periods[s->period].name,
	    s->loading ? "  loading..." : "");
	tui_put(y, x, w, A_BOLD, line);
	if (s->error[0] != '\0') {
		tui_put(y + 1, x, w, tui_attr(TC_ERROR), s->error);
		return;
	}
	if (r == NULL)
		return;
	s->rows_shown = rows;
	if (s->top < 0)
		s->top = 0;
	total = jget_int(r, "total");
	rate = json_real_value(json_object_get(r, "no_show_rate"));
	wait = json_real_value(json_object_get(r, "avg_wait_seconds"));
#define LINE(...) do {							\
	if (row >= s->top && row - s->top < rows)			\
		{ __VA_ARGS__; }					\
	row++;								\
} while (0)
#define YY	(y + 2 + row - s->top)
	snprintf(line, sizeof line, "%lld in all   no-show rate %.1f%%   average wait %s",
	    (long long)total, rate * 100.0, json_is_null(json_object_get(r,
	    "avg_wait_seconds")) ? "-" : "");
	if (!json_is_null(json_object_get(r, "avg_wait_seconds")))
		snprintf(line + strlen(line), sizeof line - strlen(line), "%.0f min",
		    wait / 60.0);
	LINE(tui_put(YY, x, w, A_NORMAL, line));
	LINE((void)0);
	LINE(tui_put(YY, x, w, A_BOLD | A_UNDERLINE, "By status"));
	by = json_object_get(r, "by_status");
	max = 0;
	for (i = 0; stat_statuses[i] != NULL; i++) {
		if (jget_int(by, stat_statuses[i]) > max)
			max = jget_int(by, stat_statuses[i]);
	}
	for (i = 0; stat_statuses[i] != NULL; i++) {
		LINE(stats_bar(YY, x + 2, w - 2, tui_status_label(stat_statuses[i]),
		    jget_int(by, stat_statuses[i]), max, "",
		    tui_attr(tui_status_color(stat_statuses[i])) & ~A_DIM));
	}
	LINE((void)0);
	LINE(tui_put(YY, x, w, A_BOLD | A_UNDERLINE, "By doctor"));
	max = 0;
	json_array_foreach(jget_array(r, "by_doctor"), k, d) {
		if (jget_int(d, "total") > max)
			max = jget_int(d, "total");
	}
	json_array_foreach(jget_array(r, "by_doctor"), k, d) {
		int64_t	 missed = jget_int(json_object_get(d, "by_status"), "no_show");

		snprintf(extra, sizeof extra, "  (%lld no-show%s)", (long long)missed,
		    missed == 1 ? "" : "s");
		LINE(stats_bar(YY, x + 2, w - 2, jget_str(d, "name"), jget_int(d, "total"),
		    max, extra, tui_attr(TC_APPROVED)));
	}
	if (json_array_size(jget_array(r, "by_doctor")) == 0)
		LINE(tui_put(YY, x + 2, w - 2, tui_attr(TC_DIM), "(none)"));
	LINE((void)0);
	LINE(tui_put(YY, x, w, A_BOLD | A_UNDERLINE, "By day"));
	max = 0;
	json_array_foreach(jget_array(r, "by_day"), k, d) {
		if (jget_int(d, "count") > max)
			max = jget_int(d, "count");
	}
	json_array_foreach(jget_array(r, "by_day"), k, d) {
		fmt_date_label(jget_str(d, "date"), label, sizeof label);
		LINE(stats_bar(YY, x + 2, w - 2, label, jget_int(d, "count"), max,
		    strcmp(jget_str(d, "date"), today) == 0 ? "  today" : "",
		    tui_attr(TC_OK)));
	}
	if (json_array_size(jget_array(r, "by_day")) == 0)
		LINE(tui_put(YY, x + 2, w - 2, tui_attr(TC_DIM), "(none)"));
#undef LINE
#undef YY
	if (s->top > row - rows)
		s->top = row - rows > 0 ? row - rows : 0;
}

static int
stats_key(struct view *v, int key)
{
	struct stats	*s = v->data;

	switch (key) {
	case KF(KEY_LEFT):
		s->period = (s->period + (int)nitems(periods) - 1) % (int)nitems(periods);
		s->top = 0;
		stats_reload(v);
		return 1;
	case KF(KEY_RIGHT):
		s->period = (s->period + 1) % (int)nitems(periods);
		s->top = 0;
		stats_reload(v);
		return 1;
	case 'j':
	case KF(KEY_DOWN):
		s->top++;
		return 1;
	case 'k':
	case KF(KEY_UP):
		if (s->top > 0)
			s->top--;
		return 1;
	case KF(KEY_NPAGE):
		s->top += s->rows_shown > 1 ? s->rows_shown - 1 : 1;
		return 1;
	case KF(KEY_PPAGE):
		s->top -= s->rows_shown > 1 ? s->rows_shown - 1 : 1;
		if (s->top < 0)
			s->top = 0;
		return 1;
	case 'R':
		stats_reload(v);
		return 1;
	}
	return 0;
}

static void
stats_free(struct view *v)
{
	struct stats	*s = v->data;

	json_decref(s->result);
	free(s);
}

struct view *
ui_admin_stats_new(void)
{
	struct stats	*s = xcalloc(1, sizeof *s);

	s->view.type = &stats_type;
	s->view.data = s;
	s->period = 1;
	stats_reload(&s->view);
	return &s->view;
}

/* ===================================================================== */
/* --- the audit log --- */

#define AUDIT_PAGE	200

struct audit {
	struct view	 view;
	json_t		*all;		/* newest first, as loaded */
	json_t		*shown;		/* all, filtered */
	struct tlist	 list;
	char		 q[128];
	json_t		*where;		/* the server's filters (F), or {} */
	char		 where_text[400];
	json_t		*verify;
	int		 loading;
	int		 more;		/* older entries may exist */
	char		 error[300];
};

static void	audit_draw(struct view *, int, int, int, int);
static int	audit_key(struct view *, int);
static void	audit_reload(struct view *);
static void	audit_free(struct view *);

static const struct help_key audit_help[] = {
	{ "Up Down j k", "move" },
	{ "/", "filter the loaded entries by any text" },
	{ "F", "ask the server: by user, patient, action, dates" },
	{ "m", "load older entries" },
	{ "v", "verify the hash chain again" },
	{ "Enter", "the whole entry" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type audit_type = {
	.name = "Audit log",
	.draw = audit_draw,
	.key = audit_key,
	.reload = audit_reload,
	.shown = audit_reload,
	.free = audit_free,
	.hints = "/ filter|F user, patient, action, dates|m older|v verify|Enter details|"
	    "? help",
	.help = audit_help,
};

static void
audit_refilter(struct audit *au)
{
	json_t	*e;
	size_t	 i;
	char	 hay[1200];

	json_decref(au->shown);
	au->shown = json_array();
	json_array_foreach(au->all, i, e) {
		snprintf(hay, sizeof hay, "%s %s %s %s %s", jget_str(e, "action"),
		    jget_str(e, "actor_role"), jget_str(e, "target"), jget_str(e, "detail"),
		    jget_str(e, "addr"));
		if (au->q[0] == '\0' || strcasestr(hay, au->q) != NULL)
			json_array_append(au->shown, e);
	}
	tlist_set_count(&au->list, (int)json_array_size(au->shown));
	tui_redraw();
}

static void
audit_loaded(const struct tconn_reply *reply, void *arg)
{
	struct audit	*au = arg;
	json_t		*entries;

	au->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(au->error, reply->message, sizeof au->error);
		tui_redraw();
		return;
	}
	au->error[0] = '\0';
	entries = jget_array(reply->result, "entries");
	au->more = json_array_size(entries) == AUDIT_PAGE;
	json_array_extend(au->all, entries);
	audit_refilter(au);
}

static void
audit_verified(const struct tconn_reply *reply, void *arg)
{
	struct audit	*au = arg;

	json_decref(au->verify);
	au->verify = reply->ok ? json_incref(reply->result) :
	    json_pack("{s:s}", "error", reply->message);
	tui_redraw();
}

static void
audit_load(struct audit *au, int64_t before)
{
	json_t	*args = json_pack("{s:i}", "limit", AUDIT_PAGE);

	if (au->where != NULL)
		json_object_update(args, au->where);
	if (before > 0)
		json_object_set_new(args, "before_id", json_integer(before));
	au->loading = 1;
	tconn_call("audit.list", args, au, audit_loaded, au);
}

static void
audit_reload(struct view *v)
{
	struct audit	*au = v->data;

	tconn_cancel(au);
	/* Nothing of the last answer stays on screen under the new one's
	 * header: no rows (the list is redrawn from au->shown) and no chain
	 * state until the server answers again. */
	json_array_clear(au->all);
	audit_refilter(au);
	json_decref(au->verify);
	au->verify = NULL;
	audit_load(au, 0);
	tconn_call("audit.verify", NULL, au, audit_verified, au);
	tui_redraw();
}

static void
audit_draw(struct view *v, int y, int x, int h, int w)
{
	struct audit	*au = v->data;
	char		 line[1500], when[40];
	json_t		*e;
	int		 i, wide;
	attr_t		 a;

	if (au->verify == NULL)
		tui_put(y, x, w, tui_attr(TC_DIM), "Hash chain: checking...");
	else if (*jget_str(au->verify, "error") != '\0') {
		snprintf(line, sizeof line, "Hash chain: cannot check: %s",
		    jget_str(au->verify, "error"));
		tui_put(y, x, w, tui_attr(TC_ERROR), line);
	} else if (json_is_true(json_object_get(au->verify, "ok"))) {
		snprintf(line, sizeof line, "Hash chain: intact, %lld entries verified.",
		    (long long)jget_int(au->verify, "rows"));
		tui_put(y, x, w, tui_attr(TC_OK) | A_BOLD, line);
	} else {
		snprintf(line, sizeof line, "Hash chain: BROKEN at entry %lld of %lld: the "
		    "log was altered.", (long long)jget_int(au->verify, "first_broken_id"),
		    (long long)jget_int(au->verify, "rows"));
		tui_put(y, x, w, tui_attr(TC_ERROR) | A_REVERSE, line);
	}
	snprintf(line, sizeof line, "%zu entries loaded%s%s%s%s%s%s", json_array_size(au->all),
	    au->more ? " (m for older)" : "", au->where_text, au->q[0] ? ", filter \"" : "",
	    au->q, au->q[0] ? "\"" : "", au->loading ? "  loading..." : "");
	tui_put(y + 1, x, w, au->error[0] ? tui_attr(TC_ERROR) : A_NORMAL,
	    au->error[0] ? au->error : line);
	wide = w >= 110;
	snprintf(line, sizeof line, " %-6s %-*s %-16s %-*s %s", "Id", wide ? 16 : 11, "When",
	    "Who", wide ? 24 : 20, "Action", "Detail");
	tui_put(y + 2, x, w, A_UNDERLINE, line);
	tlist_fit(&au->list, h - 3);
	for (i = 0; i < h - 3 && au->list.top + i < au->list.n; i++) {
		char	who[64];

		e = json_array_get(au->shown, (size_t)(au->list.top + i));
		if (wide)
			fmt_when(jget_int(e, "ts"), when, sizeof when);
		else {
			/* MM-DD HH:MM */
			fmt_date(jget_int(e, "ts"), when);
			memmove(when, when + 5, 6);
			when[5] = ' ';
			fmt_hhmm(jget_int(e, "ts"), when + 6);
		}
		if (jget_int(e, "actor_id") > 0)
			snprintf(who, sizeof who, "%s #%lld", jget_str(e, "actor_role"),
			    (long long)jget_int(e, "actor_id"));
		else
			snprintf(who, sizeof who, "-");
		snprintf(line, sizeof line, " %-6lld %-*.*s %-16.16s %-*.*s %s%s%s",
		    (long long)jget_int(e, "id"), wide ? 16 : 11, wide ? 16 : 11, when, who,
		    wide ? 24 : 20, wide ? 24 : 20, jget_str(e, "action"),
		    jget_str(e, "target"), *jget_str(e, "target") ? " " : "",
		    jget_str(e, "detail"));
		a = strstr(jget_str(e, "action"), "denied") != NULL ||
		    strstr(jget_str(e, "action"), "failed") != NULL ||
		    strstr(jget_str(e, "action"), "lockout") != NULL ?
		    tui_attr(TC_ERROR) & ~A_BOLD : A_NORMAL;
		if (au->list.top + i == au->list.cur)
			a = tui_attr(TC_SELECTED);
		tui_put(y + 3 + i, x, w, a, line);
	}
}

static void
audit_filter_submit(struct dialog *d)
{
	struct audit	*au = d->arg;

	strlcpy_mf(au->q, field_value(&d->fields[0]), sizeof au->q);
	au->list.cur = 0;
	audit_refilter(au);
	dialog_close(d);
}

/* F: the filters audit.list takes; empty fields are left out. */
static void
audit_where_submit(struct dialog *d)
{
	struct audit	*au = d->arg;
	json_t		*where = json_object();
	const char	*v;
	char		*end, piece[200];
	long long	 n;
	int		 i;
	static const char *const ids[] = { "user_id", "patient_id" };

	au->where_text[0] = '\0';
	for (i = 0; i < 2; i++) {
		v = field_value(dialog_get(d, ids[i]));
		if (*v == '\0')
			continue;
		n = strtoll(v, &end, 10);
		if (*end != '\0' || n < 1) {
			strlcpy_mf(dialog_get(d, ids[i])->error, "a number (an id)",
			    sizeof dialog_get(d, ids[i])->error);
			json_decref(where);
			return;
		}
		json_object_set_new(where, ids[i], json_integer(n));
		snprintf(piece, sizeof piece, ", %s %lld", i == 0 ? "user" : "patient", n);
		strlcpy_mf(au->where_text + strlen(au->where_text), piece,
		    sizeof au->where_text - strlen(au->where_text));
	}
	if (*(v = field_value(dialog_get(d, "action"))) != '\0') {
		json_object_set_new(where, "action", json_string(v));
		snprintf(piece, sizeof piece, ", action %.100s", v);
		strlcpy_mf(au->where_text + strlen(au->where_text), piece,
		    sizeof au->where_text - strlen(au->where_text));
	}
	for (i = 0; i < 2; i++) {
		const char	*name = i == 0 ? "from" : "to";
		int64_t		 t;

		v = field_value(dialog_get(d, name));
		if (*v == '\0')
			continue;
		if (strlen(v) != 10 || (t = date_start(v)) == 0) {
			strlcpy_mf(dialog_get(d, name)->error, "a date, YYYY-MM-DD",
			    sizeof dialog_get(d, name)->error);
			json_decref(where);
			return;
		}
		/* "to" includes its whole day. */
		json_object_set_new(where, name, json_integer(i == 0 ? t : t + 86400));
		snprintf(piece, sizeof piece, ", %s %s", name, v);
		strlcpy_mf(au->where_text + strlen(au->where_text), piece,
		    sizeof au->where_text - strlen(au->where_text));
	}
	json_decref(au->where);
	au->where = where;
	au->list.cur = 0;
	dialog_close(d);
	audit_reload(&au->view);
}

static void
audit_where(struct audit *au)
{
	struct dialog	*d = dialog_new("Audit log: ask the server for", audit_where_submit, au);
	const char	*keys[] = { "user_id", "patient_id", "action", "from", "to" };
	const char	*labels[] = { "User id", "Patient id", "Action", "From date",
			    "To date" };
	char		 num[32];
	size_t		 i;
	json_t		*x;

	dialog_text(d, "Empty fields match everything. Action is exact, e.g. "
	    "auth.login_failed or records.get.");
	for (i = 0; i < nitems(keys); i++) {
		struct field	*f = dialog_field(d, keys[i], labels[i]);

		if ((x = json_object_get(au->where, keys[i])) == NULL)
			continue;
		if (json_is_string(x))
			field_set(f, json_string_value(x));
		else if (i < 2) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(x));
			field_set(f, num);
		} else {
			char	date[11];

			fmt_date(json_integer_value(x) - (i == 4 ? 86400 : 0), date);
			field_set(f, date);
		}
	}
	d->failed = 1;		/* Enter asks from any field */
	d->dialog_hints = "Enter ask|Tab next field|Esc cancel";
	dialog_open(d);
}

static int
audit_key(struct view *v, int key)
{
	struct audit	*au = v->data;
	struct dialog	*d;
	json_t		*e;
	char		 when[40];

	if (tlist_key(&au->list, key, tui_page()))
		return 1;
	switch (key) {
	case 'F':
		audit_where(au);
		return 1;
	case '/':
		d = dialog_new("Filter the audit log", audit_filter_submit, au);
		field_set(dialog_field(d, "q", "Text"), au->q);
		d->dialog_hints = "Enter filter|C-u clear|Esc cancel";
		dialog_open(d);
		return 1;
	case 'm':
		if (!au->more || au->loading)
			tui_message(0, "No older entries.");
		else
			audit_load(au, jget_int(json_array_get(au->all,
			    json_array_size(au->all) - 1), "id"));
		return 1;
	case 'v':
		json_decref(au->verify);
		au->verify = NULL;
		tconn_call("audit.verify", NULL, au, audit_verified, au);
		return 1;
	case 'R':
		audit_reload(v);
		return 1;
	}
	if (K_IS_ENTER(key) && (e = json_array_get(au->shown, (size_t)au->list.cur)) != NULL) {
		fmt_when(jget_int(e, "ts"), when, sizeof when);
		dialog_message("Audit entry", "Entry %lld, %s\nBy: %s #%lld from %s\n"
		    "Action: %s\nPatient: %lld\nTarget: %s\nDetail: %s",
		    (long long)jget_int(e, "id"), when, jget_str(e, "actor_role"),
		    (long long)jget_int(e, "actor_id"), jget_str(e, "addr"),
		    jget_str(e, "action"), (long long)jget_int(e, "patient_id"),
		    jget_str(e, "target"), jget_str(e, "detail"));
		return 1;
	}
	return 0;
}

static void
audit_free(struct view *v)
{
	struct audit	*au = v->data;

	json_decref(au->all);
	json_decref(au->shown);
	json_decref(au->verify);
	json_decref(au->where);
	free(au);
}

struct view *
ui_admin_audit_new(void)
{
	struct audit	*au = xcalloc(1, sizeof *au);

	au->view.type = &audit_type;
	au->view.data = au;
	au->all = json_array();
	au->shown = json_array();
	audit_reload(&au->view);
	return &au->view;
}
