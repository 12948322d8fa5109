/* tui.c -- the terminal client's loop: the keyboard on fd 0 and the server
 * connection on one libevent base; a tab per screen of the user's role with
 * popups above it; the status bar, the help overlay, resizing, the
 * inactivity lock, and the session's start and end. */
#include <sys/ioctl.h>

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "client.h"
#include "mp.h"
#include "tui.h"
#include "util.h"

#define LOCK_AFTER_DEFAULT	600	/* seconds without a key */
#define MESSAGE_SECONDS		10
#define KEEPALIVE_SECONDS	240	/* well inside the server's idle timeout */
#define TABS_MAX		8
#define POPUPS_MAX		16
#define MIN_COLS		40
#define MIN_LINES		12

struct tab {
	const char	*title;
	struct view	*view;
};

static struct {
	struct event_base	*base;
	char			*server;
	int			 lock_after;
	struct event		*stdin_ev, *winch_ev, *int_ev, *term_ev, *hup_ev;
	struct event		*tick_ev, *redraw_ev, *reap_ev, *exit_ev;
	struct tab		 tabs[TABS_MAX];
	int			 ntabs, cur;
	struct view		*popups[POPUPS_MAX];
	int			 npopups;
	struct view		**dead;
	int			 ndead, dead_cap;
	struct view		*login;
	struct tui_me		 me;
	int			 logged_in;
	int			 fetching_me;
	char			 message[300];
	int			 message_error;
	time_t			 message_at;
	int			 cursor_y, cursor_x;
	int			 locked, lock_busy;
	struct field		 lock_field;
	char			 lock_error[200];
	time_t			 last_key;
	int			 empty_reads;
	int			 exiting;
	int			 curses;
	struct dialog		*trust_dialog;	/* "Trust this server?" */
	char			*key_warning;	/* the server's key changed */
} T;

static void	tui_draw(void);
static void	tui_key(int);
static void	tui_bury(struct view *);
static void	tui_begin_session(json_t *me);
static void	tui_end_session(const char *why);
static void	tui_fetch_me(void);
static void	tui_quit(void);
static void	tui_help(void);
static void	tui_lock(void);
static void	tui_lock_key(int);
static void	tui_reload_all(void);
static struct view *tui_top(void);

static void	hook_ready(json_t *);
static void	hook_session_end(const char *);
static void	hook_event(const char *, json_t *);
static void	hook_state(void);
static void	hook_key_unknown(const char *, const char *);
static void	hook_key_pinned(const char *, const char *, const char *);
static void	hook_key_refused(const char *, int);

static const struct tconn_hooks hooks = {
	.ready = hook_ready,
	.session_end = hook_session_end,
	.event = hook_event,
	.state = hook_state,
	.key_unknown = hook_key_unknown,
	.key_pinned = hook_key_pinned,
	.key_refused = hook_key_refused,
};

static const struct help_key global_help[] = {
	{ "1-9", "switch to the screen with that number" },
	{ "Tab", "move the focus" },
	{ "/", "search" },
	{ "? F1", "this help" },
	{ "q Esc", "back; on a screen, quit (or log out)" },
	{ "C-l", "redraw the screen" },
	{ NULL, NULL }
};

/* --- small accessors --- */

const struct tui_me *
tui_me(void)
{
	return &T.me;
}

const char *
tui_server(void)
{
	return T.server;
}

struct event_base *
tui_base(void)
{
	return T.base;
}

int64_t
tui_now(void)
{
	return (int64_t)time(NULL) + tconn_clock_skew();
}

int
tui_page(void)
{
	return LINES > 8 ? LINES - 7 : 1;
}

void
tui_redraw(void)
{
	if (T.redraw_ev != NULL && !event_pending(T.redraw_ev, EV_TIMEOUT, NULL))
		event_active(T.redraw_ev, 0, 0);
}

void
tui_set_cursor(int y, int x)
{
	T.cursor_y = y;
	T.cursor_x = x;
}

void
tui_message(int error, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(T.message, sizeof T.message, fmt, ap);
	va_end(ap);
	T.message_error = error;
	T.message_at = time(NULL);
	if (error && T.curses)
		beep();
	tui_redraw();
}

/* --- views --- */

int
tui_showing(struct view *v)
{
	return T.logged_in && !T.locked && T.npopups == 0 && T.ntabs > 0 &&
	    T.tabs[T.cur].view == v;
}

void
tui_set_title(struct view *v, const char *title)
{
	int	i;

	for (i = 0; i < T.ntabs; i++) {
		if (T.tabs[i].view == v)
			T.tabs[i].title = title;
	}
	tui_redraw();
}

void
tui_push(struct view *v)
{
	if (T.npopups == POPUPS_MAX) {
		tui_bury(v);
		return;
	}
	T.popups[T.npopups++] = v;
	tui_redraw();
}

void
tui_pop(struct view *v)
{
	int	i;

	for (i = 0; i < T.npopups; i++) {
		if (T.popups[i] == v) {
			memmove(&T.popups[i], &T.popups[i + 1],
			    (size_t)(T.npopups - i - 1) * sizeof T.popups[0]);
			T.npopups--;
			tui_bury(v);
			tui_redraw();
			return;
		}
	}
}

/* Views are freed from the loop, never inside their own callbacks; their
 * requests are forgotten now. */
static void
tui_bury(struct view *v)
{
	if (v == NULL || v->dead)
		return;
	v->dead = 1;
	tconn_cancel(v);
	if (T.ndead == T.dead_cap) {
		T.dead_cap = T.dead_cap ? T.dead_cap * 2 : 16;
		T.dead = xrealloc(T.dead, (size_t)T.dead_cap * sizeof *T.dead);
	}
	T.dead[T.ndead++] = v;
	if (T.reap_ev != NULL)
		event_active(T.reap_ev, 0, 0);
}

static void
tui_reap(void)
{
	struct view	*v;

	while (T.ndead > 0) {
		v = T.dead[--T.ndead];
		tconn_cancel(v);
		if (v->type->free != NULL)
			v->type->free(v);
	}
}

static void
tui_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	tui_reap();
}

static struct view *
tui_top(void)
{
	if (T.npopups > 0)
		return T.popups[T.npopups - 1];
	if (!T.logged_in)
		return T.login;
	if (T.ntabs > 0)
		return T.tabs[T.cur].view;
	return NULL;
}

static void
tui_clear_views(void)
{
	int	i;

	while (T.npopups > 0)
		tui_bury(T.popups[--T.npopups]);
	for (i = 0; i < T.ntabs; i++)
		tui_bury(T.tabs[i].view);
	T.ntabs = T.cur = 0;
}

/* --- the session --- */

static void
tui_add_tab(const char *title, struct view *v)
{
	if (T.ntabs == TABS_MAX) {
		tui_bury(v);
		return;
	}
	T.tabs[T.ntabs].title = title;
	T.tabs[T.ntabs].view = v;
	T.ntabs++;
}

/* The screens each role has; a role sees only screens that exist. */
static void
tui_begin_session(json_t *me)
{
	json_t	*user = json_object_get(me, "user");

	memset(&T.me, 0, sizeof T.me);
	T.me.user_id = jget_int(user, "id");
	strlcpy_mf(T.me.email, jget_str(user, "email"), sizeof T.me.email);
	strlcpy_mf(T.me.full_name, jget_str(user, "full_name"), sizeof T.me.full_name);
	strlcpy_mf(T.me.role, jget_str(user, "role"), sizeof T.me.role);
	T.me.doctor_id = jget_int(me, "doctor_id");
	T.me.patient_id = jget_int(me, "patient_id");
	tui_clear_views();
	if (T.login != NULL) {
		tui_bury(T.login);
		T.login = NULL;
	}
	T.logged_in = 1;
	T.locked = 0;
	T.last_key = time(NULL);
	if (strcmp(T.me.role, "receptionist") == 0)
		tui_add_tab("Day board", ui_board_new());
	else if (strcmp(T.me.role, "admin") == 0) {
		tui_add_tab("Day board", ui_board_new());
		tui_add_tab("Users", ui_admin_users_new());
		tui_add_tab("Stats", ui_admin_stats_new());
		tui_add_tab("Audit log", ui_admin_audit_new());
		tui_add_tab("Outbox", ui_admin_outbox_new());
	} else if (strcmp(T.me.role, "doctor") == 0) {
		tui_add_tab("My day", ui_doctor_day_new());
		tui_add_tab("Requests", ui_doctor_requests_new());
	} else if (strcmp(T.me.role, "patient") == 0) {
		tui_add_tab("My appointments", ui_patient_appts_new());
		tui_add_tab("Records & prescriptions", ui_chart_own_new());
	}
	if (T.ntabs > 0) {
		struct view	*chat = ui_chat_new();

		tui_add_tab(ui_chat_title(chat), chat);
	}
	tui_message(0, "Welcome, %s.", T.me.full_name);
}

static void
tui_end_session(const char *why)
{
	char	notice[300];

	tui_clear_views();
	T.logged_in = 0;
	T.locked = 0;
	memset(&T.me, 0, sizeof T.me);
	client_forget_token();
	snprintf(notice, sizeof notice, "%s%s", why != NULL ? why : "",
	    why != NULL ? "; please log in again." : "");
	if (T.login == NULL)
		T.login = ui_login_new(why != NULL ? notice : NULL);
	else
		ui_login_notice(T.login, why != NULL ? notice : NULL);
	tui_redraw();
}

static void
me_done(const struct tconn_reply *reply, void *arg)
{
	(void)arg;
	T.fetching_me = 0;
	if (!reply->ok) {
		if (strcmp(reply->code, "unauthenticated") == 0)
			tui_end_session(reply->message);
		else if (T.login != NULL)
			ui_login_notice(T.login, reply->message);
		return;
	}
	tui_begin_session(reply->result);
}

static void
tui_fetch_me(void)
{
	if (T.fetching_me)
		return;
	T.fetching_me = 1;
	tconn_call("auth.me", NULL, NULL, me_done, NULL);
}

void
tui_logged_in(json_t *result)
{
	const char	*token = jget_str(result, "token");

	tconn_set_token(token);
	client_save_token(T.server, token);
	tui_fetch_me();
}

static void
tui_reload_all(void)
{
	int	i;

	for (i = 0; i < T.ntabs; i++) {
		if (T.tabs[i].view->type->reload != NULL)
			T.tabs[i].view->type->reload(T.tabs[i].view);
	}
	tui_redraw();
}

static void
hook_ready(json_t *user)
{
	if (user == NULL)
		return;
	if (!T.logged_in) {
		/* The stored session from the last run, or `mediflow login`. */
		tui_fetch_me();
		return;
	}
	tui_message(0, "Reconnected; session restored.");
	tui_reload_all();
}

static void
hook_session_end(const char *why)
{
	if (T.logged_in)
		tui_end_session(why);
	else {
		client_forget_token();
		if (T.login != NULL)
			ui_login_notice(T.login, "Your saved session has ended; please log in.");
	}
}

static void
hook_event(const char *event, json_t *data)
{
	int	i;

	for (i = 0; i < T.ntabs; i++) {
		struct view	*v = T.tabs[i].view;

		if (v->type->event != NULL)
			v->type->event(v, event, data);
	}
	/* Popups that follow the server too (a patient's chart). */
	for (i = 0; i < T.npopups; i++) {
		struct view	*v = T.popups[i];

		if (v->type->event != NULL)
			v->type->event(v, event, data);
	}
	tui_redraw();
}

static void
hook_state(void)
{
	tui_redraw();
}

/* --- the server's key --- */

static int
trust_key(struct dialog *d, int key)
{
	if (key == 'y' || key == 'Y') {
		T.trust_dialog = NULL;
		dialog_close(d);
		tconn_trust_answer(1);
		return 1;
	}
	/* No is the default: Enter refuses too. */
	if (key == 'n' || key == 'N' || key == 'q' || key == K_ESC ||
	    K_IS_ENTER(key))
		dialog_close(d);
	return 1;
}

/* Closed without a yes (n, Esc, or the screens going away): refused. */
static void
trust_closed(struct dialog *d)
{
	if (T.trust_dialog != d)
		return;
	T.trust_dialog = NULL;
	if (!T.exiting)
		tconn_trust_answer(0);
}

static void
hook_key_unknown(const char *server, const char *fingerprint)
{
	struct dialog	*d = dialog_new("New server key", NULL, NULL);

	dialog_text(d, "This client has not connected to %s before.\n"
	    "The server's key fingerprint is\n%s\n\n"
	    "Compare it with what the clinic's administrator gives you "
	    "(mediflowd --fingerprint on the server).\n\n"
	    "Trust this server? y/N", server, fingerprint);
	d->width = 72;
	d->extra_key = trust_key;
	d->closed = trust_closed;
	d->dialog_hints = "y trust and pin it|n Esc refuse";
	T.trust_dialog = d;
	dialog_open(d);
}

static void
hook_key_pinned(const char *server, const char *fingerprint, const char *where)
{
	(void)where;
	tui_message(0, "Trusting %s's key %s from now on.", server, fingerprint);
}

static void
hook_key_refused(const char *text, int changed)
{
	if (changed) {
		/* Shown instead of every screen until the user quits. */
		free(T.key_warning);
		T.key_warning = xstrdup(text);
		if (T.curses)
			beep();
		tui_redraw();
		return;
	}
	if (!T.logged_in && T.login != NULL)
		ui_login_notice(T.login, text);
	else
		tui_message(1, "Not connected: the server's key is not trusted.");
	tui_redraw();
}

/* --- quitting --- */

static void
exit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopexit(T.base, NULL);
}

static void
logout_done(const struct tconn_reply *reply, void *arg)
{
	(void)reply;
	(void)arg;
	event_base_loopexit(T.base, NULL);
}

static void
quit_yes(struct dialog *d)
{
	(void)d;
	T.exiting = 1;
	event_base_loopexit(T.base, NULL);
}

static int
quit_key(struct dialog *d, int key)
{
	struct timeval	tv = { 2, 0 };

	if (key != 'l' && key != 'L')
		return 0;
	dialog_close(d);
	T.exiting = 1;
	client_forget_token();
	if (tconn_state() != TCONN_READY || tconn_token() == NULL) {
		event_base_loopexit(T.base, NULL);
		return 1;
	}
	tconn_call("auth.logout", NULL, NULL, logout_done, NULL);
	/* Leave anyway if the server does not answer soon. */
	evtimer_add(T.exit_ev, &tv);
	tui_message(0, "Logging out...");
	return 1;
}

static void
tui_quit(void)
{
	struct dialog	*d;

	if (!T.logged_in) {
		event_base_loopexit(T.base, NULL);
		return;
	}
	d = dialog_confirm("Quit", "Leave MediFlow? Your session is kept for next "
	    "time.\ny quit   l log out and quit   n stay", quit_yes, NULL);
	d->extra_key = quit_key;
	d->dialog_hints = "y quit|l log out|n stay";
}

/* --- help --- */

static int
help_key(struct dialog *d, int key)
{
	if (key == '?' || key == KF(KEY_F(1)) || K_IS_ENTER(key)) {
		dialog_close(d);
		return 1;
	}
	return 0;
}

static void
help_add(json_t *items, const struct help_key *keys)
{
	char	line[300];

	for (; keys != NULL && keys->keys != NULL; keys++) {
		snprintf(line, sizeof line, "%-14s %s", keys->keys, keys->what);
		json_array_append_new(items, json_string(line));
	}
}

static void
tui_help(void)
{
	struct view	*v = tui_top();
	struct dialog	*d;
	json_t		*items = json_array();
	char		 title[160];

	snprintf(title, sizeof title, "Keys: %s", v != NULL ? v->type->name : "MediFlow");
	if (v != NULL)
		help_add(items, v->type->help);
	json_array_append_new(items, json_string(""));
	json_array_append_new(items, json_string("Everywhere"));
	help_add(items, global_help);
	d = dialog_new(title, NULL, NULL);
	d->items = items;
	tlist_set_count(&d->list, (int)json_array_size(items));
	d->list_rows = (int)json_array_size(items);
	d->width = 78;
	d->extra_key = help_key;
	d->dialog_hints = "q close|j/k scroll";
	dialog_open(d);
}

/* --- the lock --- */

static void
tui_lock(void)
{
	T.locked = 1;
	T.lock_busy = 0;
	T.lock_error[0] = '\0';
	field_init(&T.lock_field, "password", "Password");
	T.lock_field.secret = 1;
	tui_redraw();
}

static void
unlock_done(const struct tconn_reply *reply, void *arg)
{
	(void)arg;
	T.lock_busy = 0;
	if (!reply->ok) {
		strlcpy_mf(T.lock_error, reply->message, sizeof T.lock_error);
		tui_redraw();
		return;
	}
	/* The login gave this connection a fresh session: keep its token. */
	tconn_set_token(jget_str(reply->result, "token"));
	client_save_token(T.server, jget_str(reply->result, "token"));
	T.locked = 0;
	T.last_key = time(NULL);
	tui_message(0, "Unlocked.");
	tui_reload_all();
}

static void
tui_unlock(void)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	if (T.lock_field.len == 0) {
		strlcpy_mf(T.lock_error, "type your password", sizeof T.lock_error);
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "email", T.me.email);
	mp_pack_kv_str(&pk, "password", T.lock_field.text);
	field_wipe(&T.lock_field);
	T.lock_busy = 1;
	T.lock_error[0] = '\0';
	tconn_call_packed("auth.login", sb.data, sb.size, &T.locked, unlock_done, NULL);
	sodium_memzero(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void
tui_lock_key(int key)
{
	if (T.lock_busy)
		return;
	if (K_IS_ENTER(key)) {
		tui_unlock();
		return;
	}
	if (key == KEY_CTL('l')) {
		clearok(curscr, TRUE);
		return;
	}
	T.lock_error[0] = '\0';
	field_key(&T.lock_field, key);
}

static void
tui_draw_lock(void)
{
	int	w = 56, h = 9, y, x;
	char	who[600];

	if (w > COLS - 2)
		w = COLS - 2;
	y = (LINES - h) / 2;
	x = (COLS - w) / 2;
	tui_box(y, x, h, w, "Screen locked");
	snprintf(who, sizeof who, "%s (%s)", T.me.full_name, T.me.email);
	tui_put(y + 2, x + 2, w - 4, A_BOLD, who);
	tui_put(y + 3, x + 2, w - 4, A_NORMAL,
	    "Type your password to unlock the screen.");
	tui_put(y + 5, x + 2, 10, A_NORMAL, "Password");
	field_draw(&T.lock_field, y + 5, x + 12, w - 14, !T.lock_busy);
	if (T.lock_error[0] != '\0')
		tui_put(y + 6, x + 2, w - 4, tui_attr(TC_ERROR), T.lock_error);
	else if (T.lock_busy)
		tui_put(y + 6, x + 2, w - 4, tui_attr(TC_DIM), "checking...");
	tui_hints(y + h - 2, x + 2, w - 4, tui_attr(TC_DIM), "Enter unlock");
}

/* --- drawing --- */

/*
 * The changed-key warning's lines from row top in COLS - 4 columns (above the
 * last two rows of the screen's middle), wrapped at
 * spaces or anywhere in a word too long (a fingerprint); returns the rows
 * they take. A banner of @ too wide is cut to its words; compact keeps only
 * the lines that matter when the screen is too small for all of them.
 */
static int
tui_key_warning_lines(int draw, int compact, int top, attr_t a)
{
	const char	*p, *nl, *s, *end, *brk;
	char		 line[1024], piece[1024];
	int		 w = COLS - 4, n = 0, cols;
	size_t		 len;

	for (p = T.key_warning; p != NULL && *p != '\0';
	    p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		snprintf(line, sizeof line, "%.*s", (int)len, p);
		if (compact && strstr(line, "WARNING") == NULL &&
		    strstr(line, "expected:") == NULL &&
		    strstr(line, "received:") == NULL)
			continue;
		s = line;
		if (*s == '@' && (compact || tui_text_width(line) > w)) {
			s += strspn(s, "@ ");
			len = strlen(s);
			while (len > 0 && (s[len - 1] == '@' || s[len - 1] == ' '))
				len--;
			line[(size_t)(s - line) + len] = '\0';
			if (*s == '\0')
				continue;
		} else if (compact)
			s += strspn(s, " ");
		do {
			for (end = s, brk = NULL, cols = 0; *end != '\0'; end++) {
				if (((unsigned char)*end & 0xc0) == 0x80)
					continue;
				if (cols == w)
					break;
				if (*end == ' ' && end > s)
					brk = end;
				cols++;
			}
			if (*end != '\0' && brk != NULL)
				end = brk;
			snprintf(piece, sizeof piece, "%.*s", (int)(end - s), s);
			if (draw && top + n < LINES - 2)
				tui_put(top + n, 2, w, a, piece);
			n++;
			s = end + strspn(end, " ");
		} while (*s != '\0');
	}
	return n;
}

/* Instead of every screen: loud, with both fingerprints, until q. */
static void
tui_draw_key_warning(void)
{
	attr_t	a = tui_has_color() ? tui_attr(TC_ERROR) | A_REVERSE :
		    A_REVERSE | A_BOLD;
	int	compact;

	tui_fill(1, 0, LINES - 2, COLS, a);
	compact = tui_key_warning_lines(0, 0, 2, a) > LINES - 4;
	tui_key_warning_lines(1, compact, compact ? 1 : 2, a);
	tui_put(LINES - 2, 2, COLS - 4, a, "Press q to quit.");
}

static void
tui_draw_tabbar(void)
{
	char	label[120], today[11], date[40];
	int	x = 0, i, w;

	tui_put(0, 0, COLS, tui_attr(TC_BAR), "");
	x += tui_put(0, 0, 10, tui_attr(TC_BAR) | A_BOLD, " MediFlow ");
	if (T.logged_in) {
		for (i = 0; i < T.ntabs && x < COLS - 4; i++) {
			snprintf(label, sizeof label, " %d %s ", i + 1, T.tabs[i].title);
			w = tui_text_width(label);
			if (x + 1 + w > COLS - 1)
				break;
			x += 1;
			x += tui_put(0, x, w, i == T.cur ? tui_attr(TC_BAR_ACTIVE) :
			    tui_attr(TC_BAR), label);
		}
		tui_today(today);
		fmt_date_label(today, date, sizeof date);
		/* The date only where the tabs left room for it. */
		if (x + tui_text_width(date) + 3 < COLS)
			tui_put_right(0, 0, COLS - 1, tui_attr(TC_BAR), date);
	}
}

static void
tui_draw_status(void)
{
	char		 left[700], conn[300], clock[6];
	attr_t		 bar = tui_attr(TC_BAR);
	int		 used;

	tconn_describe(conn, sizeof conn);
	if (T.logged_in)
		snprintf(left, sizeof left, " %s (%s)%s", T.me.full_name, T.me.role,
		    T.locked ? " - locked" : "");
	else
		snprintf(left, sizeof left, " not logged in");
	tui_put(LINES - 1, 0, COLS, bar, "");
	used = tui_put(LINES - 1, 0, COLS - 8, bar | A_BOLD, left);
	if (used + 5 < COLS - 8) {
		attr_t	a = tconn_state() == TCONN_READY || tconn_state() == TCONN_IDLE ?
		    bar : (tui_has_color() ? tui_attr(TC_ERROR) | A_REVERSE : bar | A_BOLD);

		tui_put(LINES - 1, used, 3, bar, " | ");
		tui_put(LINES - 1, used + 3, COLS - 8 - used - 3, a, conn);
	}
	fmt_hhmm(tui_now(), clock);
	tui_put_right(LINES - 1, 0, COLS - 1, bar, clock);
}

static void
tui_draw_message(void)
{
	struct view	*v = tui_top();
	const char	*hints;

	if (T.message[0] != '\0') {
		tui_put(LINES - 2, 0, COLS, tui_attr(T.message_error ? TC_ERROR : TC_OK),
		    T.message);
		return;
	}
	if (v == NULL)
		return;
	/* A dialog shows its own hints inside its box. */
	hints = T.npopups > 0 ? "? help" : v->hints != NULL ? v->hints : v->type->hints;
	if (hints != NULL)
		tui_hints(LINES - 2, 1, COLS - 2, tui_attr(TC_DIM), hints);
}

static void
tui_draw(void)
{
	struct view	*content;
	int		 i;

	if (!T.curses || T.exiting)
		return;
	erase();
	T.cursor_y = -1;
	if (LINES < MIN_LINES || COLS < MIN_COLS) {
		tui_putf(0, 0, COLS, A_BOLD, "Terminal too small: %dx%d, need %dx%d.",
		    COLS, LINES, MIN_COLS, MIN_LINES);
		curs_set(0);
		refresh();
		return;
	}
	tui_draw_tabbar();
	if (T.key_warning != NULL)
		tui_draw_key_warning();
	else if (T.locked) {
		tui_draw_lock();
		/* A question about the server's key comes before unlocking. */
		if (T.trust_dialog != NULL)
			T.trust_dialog->view.type->draw(&T.trust_dialog->view, 1, 0,
			    LINES - 3, COLS);
	} else {
		content = T.logged_in ? (T.ntabs > 0 ? T.tabs[T.cur].view : NULL) : T.login;
		if (content != NULL && content->type->draw != NULL)
			content->type->draw(content, 1, 0, LINES - 3, COLS);
		for (i = 0; i < T.npopups; i++) {
			T.cursor_y = -1;
			T.popups[i]->type->draw(T.popups[i], 1, 0, LINES - 3, COLS);
		}
		tui_draw_message();
	}
	tui_draw_status();
	if (T.cursor_y >= 0) {
		curs_set(1);
		move(T.cursor_y, T.cursor_x);
	} else
		curs_set(0);
	refresh();
}

static void
tui_redraw_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	tui_draw();
}

/* --- keys --- */

static void
tui_key(int key)
{
	struct view	*v;

	if (key == KF(KEY_RESIZE)) {
		clearok(curscr, TRUE);
		return;
	}
	T.last_key = time(NULL);
	if (T.key_warning != NULL) {
		if (key == 'q' || key == 'Q' || key == KF(KEY_F(10))) {
			T.exiting = 1;
			event_base_loopexit(T.base, NULL);
		} else if (key == KEY_CTL('l'))
			clearok(curscr, TRUE);
		return;
	}
	if (T.locked && T.trust_dialog != NULL) {
		T.trust_dialog->view.type->key(&T.trust_dialog->view, key);
		return;
	}
	if (T.locked) {
		tui_lock_key(key);
		return;
	}
	if (key == KEY_CTL('l')) {
		clearok(curscr, TRUE);
		return;
	}
	v = tui_top();
	if (v != NULL && v->type->key != NULL && v->type->key(v, key))
		return;
	if (key == KF(KEY_F(1)) || key == '?') {
		tui_help();
		return;
	}
	if (T.npopups > 0) {
		if (key == K_ESC || key == 'q')
			tui_pop(T.popups[T.npopups - 1]);
		return;
	}
	if (T.logged_in && key >= '1' && key <= '9' && key - '1' < T.ntabs) {
		if (T.cur != key - '1') {
			T.cur = key - '1';
			v = T.tabs[T.cur].view;
			if (v->type->shown != NULL)
				v->type->shown(v);
		}
		return;
	}
	if (key == 'q' || key == K_ESC || key == KF(KEY_F(10)))
		tui_quit();
}

static void
tui_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	wint_t	wc;
	int	rc, got = 0;

	(void)fd;
	(void)what;
	(void)arg;
	while (!T.exiting && (rc = get_wch(&wc)) != ERR) {
		got = 1;
		tui_key(rc == KEY_CODE_YES ? KF((int)wc) : (int)wc);
	}
	/* Readable but nothing to read, again and again: the terminal is gone. */
	if (!got && ++T.empty_reads > 1000)
		event_base_loopexit(T.base, NULL);
	else if (got)
		T.empty_reads = 0;
	tui_redraw();
}

static void
tui_resize(void)
{
	struct winsize	ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0)
		resize_term(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
	tui_redraw();
}

static void
tui_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGWINCH) {
		tui_resize();
		return;
	}
	T.exiting = 1;
	event_base_loopexit(T.base, NULL);
}

/* Every second: the clock, the reconnect countdown, old messages, the
 * inactivity lock, and a request now and then while someone is typing so
 * the server does not end an active session for idleness. */
static void
tui_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	time_t	now = time(NULL);

	(void)fd;
	(void)what;
	(void)arg;
	if (T.message[0] != '\0' && now - T.message_at >= MESSAGE_SECONDS)
		T.message[0] = '\0';
	if (T.logged_in && !T.locked && T.lock_after > 0 &&
	    now - T.last_key >= T.lock_after)
		tui_lock();
	if (T.logged_in && !T.locked && tconn_state() == TCONN_READY &&
	    T.last_key > tconn_last_sent() &&
	    now - tconn_last_sent() >= KEEPALIVE_SECONDS)
		tconn_call("auth.me", NULL, NULL, NULL, NULL);
	tui_redraw();
}

/* --- start and finish --- */

/* "600", "90s", "10m", "1h"; -1 when not a duration. */
static int
parse_seconds(const char *s)
{
	char	*end;
	long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v < 0 || v > 7 * 86400)
		return -1;
	if (*end == 'm')
		v *= 60;
	else if (*end == 'h')
		v *= 3600;
	else if (*end != '\0' && *end != 's')
		return -1;
	return (int)v;
}

/* Flag, then MEDIFLOW_LOCK_AFTER, then lock_after in client.conf; 0 never. */
static int
lock_after_setting(int flag)
{
	char	*conf;
	int	 v;

	if (flag >= 0)
		return flag;
	if ((v = parse_seconds(getenv("MEDIFLOW_LOCK_AFTER"))) >= 0)
		return v;
	conf = client_conf_value("client.conf", "lock_after");
	v = parse_seconds(conf);
	free(conf);
	return v >= 0 ? v : LOCK_AFTER_DEFAULT;
}

static void
tui_curses_start(void)
{
	initscr();
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(50);
	tui_colors_init();
	curs_set(0);
	T.curses = 1;
}

int
tui_main(const char *server, int lock_after)
{
	char		*saved_server, *token;
	struct timeval	 second = { 1, 0 };

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "mediflow: the screens need a terminal; "
		    "see 'mediflow --help' for the call mode\n");
		return 2;
	}
	memset(&T, 0, sizeof T);
	T.server = xstrdup(server);
	T.lock_after = lock_after_setting(lock_after);
	T.base = event_base_new();
	if (T.base == NULL) {
		fprintf(stderr, "mediflow: cannot start the event loop\n");
		return 2;
	}
	tconn_init(T.base, server, &hooks);

	tui_curses_start();
	T.redraw_ev = event_new(T.base, -1, 0, tui_redraw_cb, NULL);
	T.reap_ev = event_new(T.base, -1, 0, tui_reap_cb, NULL);
	T.exit_ev = evtimer_new(T.base, exit_cb, NULL);
	T.stdin_ev = event_new(T.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    tui_stdin_cb, NULL);
	T.winch_ev = evsignal_new(T.base, SIGWINCH, tui_signal_cb, NULL);
	T.int_ev = evsignal_new(T.base, SIGINT, tui_signal_cb, NULL);
	T.term_ev = evsignal_new(T.base, SIGTERM, tui_signal_cb, NULL);
	T.hup_ev = evsignal_new(T.base, SIGHUP, tui_signal_cb, NULL);
	T.tick_ev = event_new(T.base, -1, EV_PERSIST, tui_tick_cb, NULL);
	event_add(T.stdin_ev, NULL);
	event_add(T.winch_ev, NULL);
	event_add(T.int_ev, NULL);
	event_add(T.term_ev, NULL);
	event_add(T.hup_ev, NULL);
	event_add(T.tick_ev, &second);
	signal(SIGPIPE, SIG_IGN);

	/* The session `mediflow login` or the last run kept, if it is for
	 * this server; the login screen shows until it is restored. */
	saved_server = client_conf_value("session", "server");
	token = client_conf_value("session", "token");
	if (saved_server != NULL && token != NULL && strcmp(saved_server, server) == 0) {
		tconn_set_token(token);
		T.login = ui_login_new("Restoring your session...");
		tconn_connect();
	} else
		T.login = ui_login_new(NULL);
	if (token != NULL) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	free(saved_server);
	tui_draw();

	event_base_dispatch(T.base);

	T.exiting = 1;
	endwin();
	T.curses = 0;
	tui_clear_views();
	if (T.login != NULL)
		tui_bury(T.login);
	tui_reap();
	tconn_free();
	event_free(T.redraw_ev);
	event_free(T.reap_ev);
	event_free(T.exit_ev);
	event_free(T.stdin_ev);
	event_free(T.winch_ev);
	event_free(T.int_ev);
	event_free(T.term_ev);
	event_free(T.hup_ev);
	event_free(T.tick_ev);
	event_base_free(T.base);
	free(T.dead);
	free(T.server);
	free(T.key_warning);
	field_wipe(&T.lock_field);
	memset(&T, 0, sizeof T);
	return 0;
}
