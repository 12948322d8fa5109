/* ui-board.c -- the reception desk's day board: a column per doctor, a row
 * per start time, each cell a patient and the visit's status in its colour,
 * or a free slot. Push events keep it current. From the board the desk
 * books, checks in, cancels, reschedules, approves and marks no-shows, and
 * opens the desk's walk-in, wait list and recall tools (ui-desk.c).
 *
 * Booking an existing patient: b (next free slot of the doctor under the
 * cursor), three letters of the name, Enter, Enter -- six keys. Checking
 * in: c on the appointment, or c Enter for the next expected patient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tui.h"
#include "util.h"

#define COL_MIN		18
#define TIME_W		6
#define SLOTS_DELAY_MS	150
#define NEXT_FREE_DAYS	14
#define REFRESH_SECONDS	300	/* today's passed slots drop off */

struct board_col {
	int64_t	 doctor_id;
	char	 name[128];
	json_t	*slots;		/* [{starts_at, ends_at}], NULL until loaded */
	int	 dirty;
};

struct board {
	struct view		 view;
	char			 date[11];
	struct board_col	*cols;
	int			 ncols;
	json_t			*appts;
	int64_t			*times;
	int			 ntimes;
	int			 row, col, top, left;
	int64_t			 cursor_time, cursor_doctor;
	int			 loading;
	int			 placed;
	char			 error[300];
	struct event		*slots_timer;
	struct event		*refresh_timer;
	json_t			*moving;	/* the appointment being rescheduled */
	char			 find[128];
	struct {
		int64_t		 doctor_id, starts_at, ends_at;
		char		 doctor[128];
		json_t		*patient;
	}			 book;
	struct {
		int64_t		 doctor_id, starts_at;
	}			 move_to;
	struct {
		int64_t		 doctor_id;
		char		 date[11];
		int		 tries;
	}			 next_free;
	int			 rows_shown;
	/* The soft hold this terminal has on a free slot it is offering. */
	struct {
		int		 state;		/* HOLD_NONE, HOLD_ASKING, HOLD_HELD */
		int64_t		 doctor_id, starts_at, expires_at;
	}			 hold;
};

#define HOLD_NONE	0
#define HOLD_ASKING	1
#define HOLD_HELD	2

static void	board_draw(struct view *, int, int, int, int);
static int	board_key(struct view *, int);
static void	board_event(struct view *, const char *, json_t *);
static void	board_reload(struct view *);
static void	board_free(struct view *);
static void	board_load_day(struct board *);
static void	board_rebuild(struct board *);
static void	board_book_start(struct board *, int64_t doctor_id,
		    int64_t starts_at, int64_t ends_at);
static void	board_hold_take(struct board *, int64_t doctor_id, int64_t starts_at);
static void	board_hold_follow(struct board *);
static void	board_hold_forget(struct board *);

static const struct help_key board_help[] = {
	{ "Up Down j k", "move between times" },
	{ "h l Tab", "move between doctors" },
	{ "Left Right", "previous / next day ([ ] too)" },
	{ "t", "today" },
	{ "Enter", "book a free slot; details of an appointment" },
	{ "b", "book the next free slot of this doctor" },
	{ "o", "offer a free slot: hold it for 2 minutes (again renews); "
	    "leaving the slot lets it go" },
	{ "c", "check in (on a booked patient, or pick who arrived)" },
	{ "x", "cancel (asks a reason); reject a request" },
	{ "n", "mark a no-show" },
	{ "r", "reschedule: pick a new free slot, Enter moves it" },
	{ "a", "approve a request" },
	{ "m", "send the patient a reminder of the appointment now" },
	{ "w", "walk-in: pick or register the patient, booked with this doctor "
	    "now and checked in" },
	{ "W", "this doctor's wait list: a adds, x takes off" },
	{ "C", "recalls: patients due back; a adds, d marks done" },
	{ "p", "find or register a patient" },
	{ "/", "find a patient on this day's board" },
	{ ":", "command line: b smith/1962 tue 10:20 lee books, u undoes, "
	    "c checks in, x cancels (F1 there)" },
	{ "P", "print the day sheet of this doctor (a file, or lpr)" },
	{ "H", "this doctor's weekly hours: view and change them" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type board_type = {
	.name = "Day board",
	.draw = board_draw,
	.key = board_key,
	.event = board_event,
	.reload = board_reload,
	.free = board_free,
	.hints = "Enter book/details|b book next|c check in|x cancel|n no-show|"
	    "r reschedule|a approve|w walk-in|W wait list|C recalls|p patients|"
	    ": command|Left/Right day|? help",
	.help = board_help,
};

/* Statuses shown on the board; the others free their slot. */
static int
board_shows(const char *status)
{
	return tui_status_active(status) || strcmp(status, "completed") == 0 ||
	    strcmp(status, "no_show") == 0;
}

static int
board_on_today(struct board *b)
{
	char	today[11];

	tui_today(today);
	return strcmp(today, b->date) == 0;
}

/* --- loading --- */

static struct board_col *
board_col_by_doctor(struct board *b, int64_t doctor_id)
{
	int	i;

	for (i = 0; i < b->ncols; i++) {
		if (b->cols[i].doctor_id == doctor_id)
			return &b->cols[i];
	}
	return NULL;
}

static void
board_free_cols(struct board *b)
{
	int	i;

	for (i = 0; i < b->ncols; i++)
		json_decref(b->cols[i].slots);
	free(b->cols);
	b->cols = NULL;
	b->ncols = 0;
}

static void
board_loaded(struct board *b)
{
	if (b->loading > 0)
		b->loading--;
	board_rebuild(b);
	tui_redraw();
}

static void
board_slots_done(const struct tconn_reply *reply, void *arg)
{
	struct board		*b = arg;
	struct board_col	*c;

	if (reply->ok && strcmp(jget_str(reply->result, "date"), b->date) == 0 &&
	    (c = board_col_by_doctor(b, jget_int(reply->result, "doctor_id"))) != NULL) {
		json_decref(c->slots);
		c->slots = json_incref(jget_array(reply->result, "slots"));
	} else if (!reply->ok)
		strlcpy_mf(b->error, reply->message, sizeof b->error);
	board_loaded(b);
}

static void
board_load_slots(struct board *b, struct board_col *c)
{
	b->loading++;
	c->dirty = 0;
	tconn_call("appt.slots", json_pack("{s:I, s:s}", "doctor_id",
	    (json_int_t)c->doctor_id, "date", b->date), b, board_slots_done, b);
}

static void
board_appts_done(const struct tconn_reply *reply, void *arg)
{
	struct board	*b = arg;

	if (reply->ok) {
		json_decref(b->appts);
		b->appts = json_incref(jget_array(reply->result, "appointments"));
	} else
		strlcpy_mf(b->error, reply->message, sizeof b->error);
	board_loaded(b);
}

static void
board_load_day(struct board *b)
{
	int	i;

	/* What was on its way for another day no longer matters. */
	tconn_cancel(b);
	b->loading = 1;
	b->error[0] = '\0';
	json_decref(b->appts);
	b->appts = NULL;
	for (i = 0; i < b->ncols; i++) {
		json_decref(b->cols[i].slots);
		b->cols[i].slots = NULL;
	}
	tconn_call("appt.list", json_pack("{s:s, s:i}", "date", b->date, "limit", 500),
	    b, board_appts_done, b);
	for (i = 0; i < b->ncols; i++)
		board_load_slots(b, &b->cols[i]);
	board_rebuild(b);
	tui_redraw();
}

static void
board_doctors_done(const struct tconn_reply *reply, void *arg)
{
	struct board	*b = arg;
	json_t		*docs, *d;
	size_t		 i;

	if (!reply->ok) {
		strlcpy_mf(b->error, reply->message, sizeof b->error);
		b->loading = 0;
		tui_redraw();
		return;
	}
	docs = jget_array(reply->result, "doctors");
	board_free_cols(b);
	b->cols = xcalloc(json_array_size(docs) + 1, sizeof *b->cols);
	json_array_foreach(docs, i, d) {
		struct board_col	*c = &b->cols[b->ncols++];

		c->doctor_id = jget_int(d, "id");
		strlcpy_mf(c->name, jget_str(d, "full_name"), sizeof c->name);
	}
	board_load_day(b);
}

static void
board_reload(struct view *v)
{
	struct board	*b = v->data;

	tconn_cancel(b);
	board_hold_forget(b);
	b->loading = 1;
	tconn_call("doctors.list", json_pack("{s:i}", "limit", 200), b,
	    board_doctors_done, b);
	tui_redraw();
}

static void
board_slots_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct board	*b = arg;
	int		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < b->ncols; i++) {
		if (b->cols[i].dirty)
			board_load_slots(b, &b->cols[i]);
	}
}

static void
board_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct board	*b = arg;
	int		 i;

	(void)fd;
	(void)what;
	if (b->loading > 0 || !board_on_today(b))
		return;
	for (i = 0; i < b->ncols; i++)
		board_load_slots(b, &b->cols[i]);
}

/* --- soft holds --- */

static int
board_hold_is(struct board *b, int64_t doctor_id, int64_t starts_at)
{
	if (b->hold.state == HOLD_HELD && b->hold.expires_at <= tui_now())
		b->hold.state = HOLD_NONE;
	return b->hold.state != HOLD_NONE && b->hold.doctor_id == doctor_id &&
	    b->hold.starts_at == starts_at;
}

static void
board_hold_done(const struct tconn_reply *reply, void *arg)
{
	struct board	*b = arg;
	json_t		*h;

	if (!reply->ok) {
		b->hold.state = HOLD_NONE;
		tui_message(1, "Not held: %s", reply->message);
		return;
	}
	h = json_object_get(reply->result, "hold");
	if (b->hold.state == HOLD_ASKING && b->hold.doctor_id == jget_int(h, "doctor_id") &&
	    b->hold.starts_at == jget_int(h, "starts_at")) {
		b->hold.state = HOLD_HELD;
		b->hold.expires_at = jget_int(h, "expires_at");
	}
	tui_redraw();
}

/* Holds (or renews the hold on) a free slot while the desk offers it. */
static void
board_hold_take(struct board *b, int64_t doctor_id, int64_t starts_at)
{
	if (b->hold.state != HOLD_NONE && !board_hold_is(b, doctor_id, starts_at))
		board_hold_forget(b);
	b->hold.state = b->hold.state == HOLD_HELD ? HOLD_HELD : HOLD_ASKING;
	b->hold.doctor_id = doctor_id;
	b->hold.starts_at = starts_at;
	/* Not the board's own requests: changing the day cancels those. */
	tconn_call("appt.hold", json_pack("{s:I, s:I}", "doctor_id",
	    (json_int_t)doctor_id, "starts_at", (json_int_t)starts_at), &b->hold,
	    board_hold_done, b);
}

/* Lets the hold go (the server ends it when the connection does too). */
static void
board_hold_forget(struct board *b)
{
	if (b->hold.state == HOLD_NONE)
		return;
	tconn_cancel(&b->hold);
	if (tconn_state() == TCONN_READY)
		tconn_call("appt.release", json_pack("{s:I, s:I}", "doctor_id",
		    (json_int_t)b->hold.doctor_id, "starts_at",
		    (json_int_t)b->hold.starts_at), NULL, NULL, NULL);
	b->hold.state = HOLD_NONE;
}

/* The cursor left the held slot (another slot, doctor or day). */
static void
board_hold_follow(struct board *b)
{
	if (b->hold.state == HOLD_NONE)
		return;
	if (b->hold.doctor_id != b->cursor_doctor || b->hold.starts_at != b->cursor_time ||
	    date_start(b->date) > b->hold.starts_at ||
	    date_start(b->date) + 86400 <= b->hold.starts_at)
		board_hold_forget(b);
}

/* Someone's hold started or ended: the doctor's slots say whose. */
static void
board_hold_event(struct board *b, const char *event, json_t *h)
{
	struct board_col	*c;
	struct timeval		 tv = { 0, SLOTS_DELAY_MS * 1000 };

	if (jget_int(h, "holder_user_id") == tui_me()->user_id &&
	    b->hold.state != HOLD_NONE && b->hold.doctor_id == jget_int(h, "doctor_id") &&
	    b->hold.starts_at == jget_int(h, "starts_at")) {
		if (strcmp(event, "appt.released") == 0 && b->hold.state == HOLD_HELD)
			b->hold.state = HOLD_NONE;
		else if (strcmp(event, "appt.held") == 0)
			b->hold.expires_at = jget_int(h, "expires_at");
	}
	if ((c = board_col_by_doctor(b, jget_int(h, "doctor_id"))) != NULL) {
		c->dirty = 1;
		evtimer_add(b->slots_timer, &tv);
	}
	tui_redraw();
}

static int
board_held_by_other(json_t *slot)
{
	json_t	*by = json_object_get(slot, "held_by");

	return by != NULL && jget_int(by, "expires_at") > tui_now();
}

static void
board_say_held(json_t *slot)
{
	json_t	*by = json_object_get(slot, "held_by");
	char	 until[6];

	fmt_hhmm(jget_int(by, "expires_at"), until);
	tui_message(1, "%s is offering this slot on another terminal (held until %s).",
	    jget_str(by, "name"), until);
}

static void
board_event(struct view *v, const char *event, json_t *a)
{
	struct board		*b = v->data;
	struct board_col	*c;
	struct timeval		 tv = { 0, SLOTS_DELAY_MS * 1000 };
	char			 date[11];
	json_t			*old;
	size_t			 i;
	int			 found = 0;

	if (strcmp(event, "appt.held") == 0 || strcmp(event, "appt.released") == 0) {
		board_hold_event(b, event, a);
		return;
	}
	if (strcmp(event, "waitlist.offer") == 0) {
		ui_desk_event(event, a);
		return;
	}
	if (strcmp(event, "appt.changed") != 0)
		return;
	/* A booking may have closed an entry of the wait list on show. */
	ui_desk_event(event, a);
	if (b->appts == NULL)
		return;
	fmt_date(jget_int(a, "starts_at"), date);
	if (strcmp(date, b->date) != 0)
		return;
	json_array_foreach(b->appts, i, old) {
		if (jget_int(old, "id") == jget_int(a, "id")) {
			json_array_set(b->appts, i, a);
			found = 1;
			break;
		}
	}
	if (!found)
		json_array_append(b->appts, a);
	/* A booking takes a slot, a cancellation gives one back. */
	if ((c = board_col_by_doctor(b, jget_int(a, "doctor_id"))) != NULL) {
		c->dirty = 1;
		evtimer_add(b->slots_timer, &tv);
	}
	if (b->moving != NULL && jget_int(b->moving, "id") == jget_int(a, "id")) {
		json_decref(b->moving);
		b->moving = tui_status_active(jget_str(a, "status")) ? json_incref(a) : NULL;
		if (b->moving == NULL)
			b->view.hints = NULL;
	}
	board_rebuild(b);
}

/* --- the grid --- */

static int
time_cmp(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static json_t *
board_appt_at(struct board *b, int64_t doctor_id, int64_t t)
{
	json_t	*a, *best = NULL;
	size_t	 i;

	json_array_foreach(b->appts, i, a) {
		if (jget_int(a, "doctor_id") != doctor_id || jget_int(a, "starts_at") != t ||
		    !board_shows(jget_str(a, "status")))
			continue;
		if (best == NULL || tui_status_active(jget_str(a, "status")))
			best = a;
	}
	return best;
}

static json_t *
board_covering(struct board *b, int64_t doctor_id, int64_t t)
{
	json_t	*a;
	size_t	 i;

	json_array_foreach(b->appts, i, a) {
		if (jget_int(a, "doctor_id") == doctor_id && jget_int(a, "starts_at") < t &&
		    jget_int(a, "ends_at") > t && board_shows(jget_str(a, "status")))
			return a;
	}
	return NULL;
}

static json_t *
board_slot_at(struct board_col *c, int64_t t)
{
	json_t	*s;
	size_t	 i;

	if (c->slots == NULL)
		return NULL;
	json_array_foreach(c->slots, i, s) {
		if (jget_int(s, "starts_at") == t)
			return s;
	}
	return NULL;
}

static void
board_cursor_cell(struct board *b, json_t **appt, json_t **slot)
{
	*appt = *slot = NULL;
	if (b->ntimes == 0 || b->ncols == 0)
		return;
	*appt = board_appt_at(b, b->cols[b->col].doctor_id, b->times[b->row]);
	if (*appt == NULL)
		*slot = board_slot_at(&b->cols[b->col], b->times[b->row]);
}

static void
board_remember_cursor(struct board *b)
{
	if (b->ntimes > 0)
		b->cursor_time = b->times[b->row];
	if (b->ncols > 0)
		b->cursor_doctor = b->cols[b->col].doctor_id;
	board_hold_follow(b);
}

/* Rows are the start times of every free slot and shown appointment. */
static void
board_rebuild(struct board *b)
{
	json_t	*x;
	size_t	 i, cap = 16, n = 0;
	int64_t	*t = xcalloc(cap, sizeof *t), now = tui_now();
	int	 c, r, out;

#define ADD_TIME(v) do {						\
	if (n == cap) {							\
		cap *= 2;						\
		t = xrealloc(t, cap * sizeof *t);			\
	}								\
	t[n++] = (v);							\
} while (0)
	if (b->appts != NULL) {
		json_array_foreach(b->appts, i, x) {
			if (board_shows(jget_str(x, "status")) &&
			    board_col_by_doctor(b, jget_int(x, "doctor_id")) != NULL)
				ADD_TIME(jget_int(x, "starts_at"));
		}
	}
	for (c = 0; c < b->ncols; c++) {
		if (b->cols[c].slots == NULL)
			continue;
		json_array_foreach(b->cols[c].slots, i, x)
			ADD_TIME(jget_int(x, "starts_at"));
	}
#undef ADD_TIME
	qsort(t, n, sizeof *t, time_cmp);
	for (i = 0, out = 0; i < n; i++) {
		if (out == 0 || t[out - 1] != t[i])
			t[out++] = t[i];
	}
	free(b->times);
	b->times = t;
	b->ntimes = out;

	/* The cursor stays on the same doctor and time when they remain. */
	b->col = 0;
	for (c = 0; c < b->ncols; c++) {
		if (b->cols[c].doctor_id == b->cursor_doctor)
			b->col = c;
	}
	b->row = 0;
	for (r = 0; r < b->ntimes; r++) {
		if (b->times[r] <= b->cursor_time)
			b->row = r;
	}
	/* Opening today's board: the cursor starts at the current time. */
	if (!b->placed && b->loading == 0 && b->ntimes > 0) {
		b->placed = 1;
		if (board_on_today(b)) {
			b->row = 0;
			for (r = 0; r < b->ntimes; r++) {
				if (b->times[r] <= now)
					b->row = r;
			}
			b->top = b->row > 2 ? b->row - 2 : 0;
		}
		board_remember_cursor(b);
	}
	tui_redraw();
}

static void
board_set_date(struct board *b, const char *date)
{
	strlcpy_mf(b->date, date, sizeof b->date);
	b->placed = 0;
	b->top = 0;
	b->cursor_time = 0;
	board_hold_follow(b);
	board_load_day(b);
}

/* --- drawing --- */

static const char *
short_label(const char *status)
{
	if (strcmp(status, "requested") == 0)
		return "req";
	if (strcmp(status, "approved") == 0)
		return "bkd";
	if (strcmp(status, "checked_in") == 0)
		return "arr";
	if (strcmp(status, "in_progress") == 0)
		return "in";
	if (strcmp(status, "completed") == 0)
		return "done";
	if (strcmp(status, "no_show") == 0)
		return "n/s";
	return "";
}

static void
board_draw_cell(struct board *b, int y, int x, int w, int c, int r, int selected)
{
	struct board_col	*col = &b->cols[c];
	int64_t			 t = b->times[r];
	json_t			*a, *s;
	const char		*status, *label;
	attr_t			 attr, sel = selected ? A_REVERSE : 0;
	int			 lw;

	if ((a = board_appt_at(b, col->doctor_id, t)) != NULL) {
		status = jget_str(a, "status");
		attr = tui_attr(tui_status_color(status)) | sel;
		label = w >= 22 ? tui_status_label(status) : short_label(status);
		lw = tui_text_width(label);
		tui_put(y, x, w, attr, "");
		/* "+" marks an overbook, "!" a patient flagged for no-shows:
		 * every board shows both (the detail line says them in words). */
		{
			char	name[300];

			snprintf(name, sizeof name, "%s%s%s",
			    json_is_true(json_object_get(a, "overbook")) ? "+" : "",
			    json_is_true(json_object_get(a, "no_show_flagged")) ?
			    "!" : "", jget_str(a, "patient_name"));
			tui_put(y, x + 1, w - lw - 3, attr, name);
		}
		tui_put(y, x + w - lw - 1, lw, attr, label);
		return;
	}
	if ((s = board_slot_at(col, t)) != NULL) {
		json_t	*by = json_object_get(s, "held_by");
		char	 text[300];

		if (board_hold_is(b, col->doctor_id, t)) {
			int64_t	left = b->hold.expires_at - tui_now();

			if (b->hold.state == HOLD_HELD && left > 0)
				snprintf(text, sizeof text, " held by you %d:%02d",
				    (int)(left / 60), (int)(left % 60));
			else
				snprintf(text, sizeof text, " holding...");
			tui_put(y, x, w, tui_attr(TC_OK) | A_BOLD | sel, text);
			return;
		}
		if (by != NULL && jget_int(by, "expires_at") > tui_now()) {
			snprintf(text, sizeof text, " held: %s", jget_str(by, "name"));
			tui_put(y, x, w, tui_attr(TC_REQUESTED) | sel, text);
			return;
		}
		attr = tui_attr(TC_FREE) | sel;
		tui_put(y, x, w, attr, " free");
		return;
	}
	if ((a = board_covering(b, col->doctor_id, t)) != NULL) {
		attr = tui_attr(tui_status_color(jget_str(a, "status"))) | sel;
		tui_put(y, x, w, attr, tui_utf8() ? " \u22ee" : " :");
		return;
	}
	tui_put(y, x, w, sel ? A_REVERSE : A_NORMAL, "");
}

static void
board_draw_detail(struct board *b, int y, int w)
{
	json_t	*a, *s;
	char	 line[600], from[6], to[6];

	board_cursor_cell(b, &a, &s);
	if (a != NULL) {
		fmt_hhmm(jget_int(a, "starts_at"), from);
		fmt_hhmm(jget_int(a, "ends_at"), to);
		char	 extra[200];

		snprintf(extra, sizeof extra, "%s%s%s%s",
		    *jget_str(a, "type_name") != '\0' ? " [" : "",
		    jget_str(a, "type_name"),
		    *jget_str(a, "type_name") != '\0' ? "]" : "",
		    json_is_true(json_object_get(a, "overbook")) ? " OVERBOOK" : "");
		if (json_is_true(json_object_get(a, "no_show_flagged")))
			snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			    " (%lld no-shows)", (long long)jget_int(a, "no_show_count"));
		snprintf(line, sizeof line, "%s-%s %s with %s: %s%s%s%s", from, to,
		    jget_str(a, "patient_name"), jget_str(a, "doctor_name"),
		    tui_status_label(jget_str(a, "status")), extra,
		    *jget_str(a, "reason") != '\0' ? " - " : "", jget_str(a, "reason"));
		tui_put(y, 0, w, tui_attr(TC_TITLE), line);
	} else if (s != NULL) {
		json_t	*by = json_object_get(s, "held_by");
		char	 until[6];

		fmt_hhmm(jget_int(s, "starts_at"), from);
		fmt_hhmm(jget_int(s, "ends_at"), to);
		if (board_hold_is(b, b->cols[b->col].doctor_id, jget_int(s, "starts_at")))
			snprintf(line, sizeof line, "%s-%s with %s: held for you while you "
			    "offer it; Enter books it, o renews, moving away lets it go.",
			    from, to, b->cols[b->col].name);
		else if (by != NULL && jget_int(by, "expires_at") > tui_now()) {
			fmt_hhmm(jget_int(by, "expires_at"), until);
			snprintf(line, sizeof line, "%s-%s with %s: held by %s (another "
			    "terminal) until %s.", from, to, b->cols[b->col].name,
			    jget_str(by, "name"), until);
		} else
			snprintf(line, sizeof line, "%s-%s free with %s. %s", from, to,
			    b->cols[b->col].name, b->moving != NULL ?
			    "Enter moves the appointment here." :
			    "Enter books it, o holds it while you offer it.");
		tui_put(y, 0, w, tui_attr(TC_DIM), line);
	} else
		tui_put(y, 0, w, A_NORMAL, "");
}

static void
board_draw(struct view *v, int y, int x, int h, int w)
{
	struct board	*b = v->data;
	char		 label[40], head[400], hhmm[6];
	int		 cw, nvis, rows, r, c, i, counts[4] = { 0, 0, 0, 0 };
	int64_t		 now = tui_now();
	json_t		*a;
	size_t		 k;

	(void)x;
	fmt_date_label(b->date, label, sizeof label);
	if (b->appts != NULL) {
		json_array_foreach(b->appts, k, a) {
			const char	*s = jget_str(a, "status");

			counts[0] += board_shows(s);
			counts[1] += strcmp(s, "checked_in") == 0;
			counts[2] += strcmp(s, "requested") == 0;
			counts[3] += strcmp(s, "in_progress") == 0;
		}
	}
	snprintf(head, sizeof head, "%s%s  %d appointments, %d waiting, %d in room, %d requested%s",
	    label, board_on_today(b) ? " (today)" : "", counts[0], counts[1], counts[3],
	    counts[2], b->loading > 0 ? "  loading..." : "");
	tui_put(y, 0, w, A_BOLD, head);
	if (b->moving != NULL) {
		snprintf(head, sizeof head, "Moving %s: pick a free slot (any day or doctor), "
		    "Enter moves it, Esc stops.", jget_str(b->moving, "patient_name"));
		tui_put(y, 0, w, tui_attr(TC_REQUESTED) | A_REVERSE, head);
	}
	if (b->error[0] != '\0' && b->ncols == 0) {
		tui_put(y + 2, 2, w - 4, tui_attr(TC_ERROR), b->error);
		return;
	}
	if (b->ncols == 0) {
		tui_put(y + 2, 2, w - 4, tui_attr(TC_DIM),
		    b->loading ? "Loading..." : "No doctors are taking appointments.");
		return;
	}
	nvis = (w - TIME_W) / COL_MIN;
	if (nvis < 1)
		nvis = 1;
	if (nvis > b->ncols)
		nvis = b->ncols;
	cw = (w - TIME_W) / nvis;
	if (b->col < b->left)
		b->left = b->col;
	if (b->col >= b->left + nvis)
		b->left = b->col - nvis + 1;
	if (b->left > b->ncols - nvis)
		b->left = b->ncols - nvis;
	/* Column heads. */
	tui_put(y + 1, 0, TIME_W, A_BOLD, b->left > 0 ? "<" : "Time");
	for (i = 0; i < nvis; i++) {
		c = b->left + i;
		tui_vbar(y + 1, TIME_W + i * cw);
		tui_put(y + 1, TIME_W + i * cw + 1, cw - 1, c == b->col ? A_BOLD | A_UNDERLINE :
		    A_BOLD, b->cols[c].name);
	}
	if (b->left + nvis < b->ncols)
		tui_put(y + 1, w - 1, 1, A_BOLD, ">");
	rows = h - 3;
	b->rows_shown = rows;
	if (b->ntimes == 0) {
		tui_put(y + 3, 2, w - 4, tui_attr(TC_DIM), b->loading ? "Loading..." :
		    "No hours and no appointments on this day.");
		return;
	}
	if (b->row < b->top)
		b->top = b->row;
	if (b->row >= b->top + rows)
		b->top = b->row - rows + 1;
	if (b->top > b->ntimes - rows)
		b->top = b->ntimes - rows;
	if (b->top < 0)
		b->top = 0;
	for (r = b->top; r < b->ntimes && r < b->top + rows; r++) {
		int	yy = y + 2 + r - b->top;
		int	is_now = board_on_today(b) && b->times[r] <= now &&
		    (r + 1 == b->ntimes || b->times[r + 1] > now);

		fmt_hhmm(b->times[r], hhmm);
		tui_put(yy, 0, TIME_W, is_now ? tui_attr(TC_REQUESTED) | A_BOLD :
		    (board_on_today(b) && b->times[r] < now ? tui_attr(TC_DIM) : A_NORMAL),
		    hhmm);
		for (i = 0; i < nvis; i++) {
			c = b->left + i;
			tui_vbar(yy, TIME_W + i * cw);
			board_draw_cell(b, yy, TIME_W + i * cw + 1, cw - 1, c, r,
			    r == b->row && c == b->col);
		}
	}
	board_draw_detail(b, y + h - 1, w);
}

/* --- actions --- */

static void
board_book_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct board	*b = d->arg;
	json_t		*a;
	char		 when[40];

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	a = json_object_get(reply->result, "appointment");
	undo_note("appt.book", a, NULL);
	if (board_hold_is(b, jget_int(a, "doctor_id"), jget_int(a, "starts_at"))) {
		tconn_cancel(&b->hold);
		b->hold.state = HOLD_NONE;
	}
	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	tui_message(0, "Booked %s with %s, %s.", jget_str(a, "patient_name"),
	    jget_str(a, "doctor_name"), when);
	b->cursor_time = jget_int(a, "starts_at");
	b->cursor_doctor = jget_int(a, "doctor_id");
	board_rebuild(b);
	dialog_close(d);
}

static void
board_book_submit(struct dialog *d)
{
	struct board	*b = d->arg;
	const char	*reason = field_value(dialog_get(d, "reason"));
	json_t		*args;

	args = json_pack("{s:I, s:I, s:I}", "doctor_id", (json_int_t)b->book.doctor_id,
	    "starts_at", (json_int_t)b->book.starts_at, "patient_id",
	    (json_int_t)jget_int(b->book.patient, "id"));
	if (*reason != '\0')
		json_object_set_new(args, "reason", json_string(reason));
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call("appt.book", args, d, board_book_done, d);
}

static void
board_book_pick(json_t *patient, void *arg)
{
	struct board	*b = arg;
	struct dialog	*d;
	char		 when[40], to[6];
	const char	*dob = jget_str(patient, "date_of_birth");

	json_decref(b->book.patient);
	b->book.patient = json_incref(patient);
	fmt_when(b->book.starts_at, when, sizeof when);
	fmt_hhmm(b->book.ends_at, to);
	d = dialog_new("Confirm the booking", board_book_submit, b);
	dialog_text(d, "%s%s%s%s\nwith %s\n%s-%s", jget_str(patient, "full_name"),
	    *dob ? " (born " : "", dob, *dob ? ")" : "", b->book.doctor, when, to);
	dialog_field(d, "reason", "Reason (optional)");
	d->dialog_hints = "Enter book it|Esc cancel";
	dialog_open(d);
}

static void
board_book_start(struct board *b, int64_t doctor_id, int64_t starts_at, int64_t ends_at)
{
	struct board_col	*c = board_col_by_doctor(b, doctor_id);
	char			 title[300], when[40];

	b->book.doctor_id = doctor_id;
	b->book.starts_at = starts_at;
	b->book.ends_at = ends_at;
	/* Nobody else offers it while the caller decides. */
	board_hold_take(b, doctor_id, starts_at);
	strlcpy_mf(b->book.doctor, c != NULL ? c->name : "the doctor", sizeof b->book.doctor);
	fmt_when(starts_at, when, sizeof when);
	snprintf(title, sizeof title, "Book %s, %s", b->book.doctor, when);
	ui_patient_find(title, NULL, board_book_pick, b);
}

static void
board_next_free_done(const struct tconn_reply *reply, void *arg)
{
	struct board	*b = arg;
	json_t		*slots, *s;

	if (!reply->ok) {
		tui_message(1, "Cannot look up free slots: %s", reply->message);
		return;
	}
	slots = jget_array(reply->result, "slots");
	if (json_array_size(slots) > 0) {
		s = json_array_get(slots, 0);
		board_book_start(b, b->next_free.doctor_id, jget_int(s, "starts_at"),
		    jget_int(s, "ends_at"));
		return;
	}
	if (++b->next_free.tries >= NEXT_FREE_DAYS) {
		tui_message(1, "No free slot in the next %d days.", NEXT_FREE_DAYS);
		return;
	}
	date_shift(b->next_free.date, 1);
	tconn_call("appt.slots", json_pack("{s:I, s:s}", "doctor_id",
	    (json_int_t)b->next_free.doctor_id, "date", b->next_free.date), b,
	    board_next_free_done, b);
}

/* The first free slot of the doctor under the cursor from the cursor's
 * time on; the following days when this one is full. */
static void
board_book_next(struct board *b)
{
	struct board_col	*c;
	json_t			*s;
	int			 r;

	if (b->ncols == 0)
		return;
	c = &b->cols[b->col];
	for (r = b->ntimes > 0 ? b->row : 0; r < b->ntimes; r++) {
		if (board_appt_at(b, c->doctor_id, b->times[r]) == NULL &&
		    (s = board_slot_at(c, b->times[r])) != NULL &&
		    !board_held_by_other(s)) {
			b->row = r;
			board_remember_cursor(b);
			board_book_start(b, c->doctor_id, jget_int(s, "starts_at"),
			    jget_int(s, "ends_at"));
			return;
		}
	}
	b->next_free.doctor_id = c->doctor_id;
	strlcpy_mf(b->next_free.date, b->date, sizeof b->next_free.date);
	b->next_free.tries = 0;
	date_shift(b->next_free.date, 1);
	tui_message(0, "No free slot left on this day; looking further...");
	tconn_call("appt.slots", json_pack("{s:I, s:s}", "doctor_id",
	    (json_int_t)c->doctor_id, "date", b->next_free.date), b,
	    board_next_free_done, b);
}

/* --- check-in: the expected arrivals, nearest to now first --- */

struct arrivals {
	json_t	*all;
};

static int64_t	arrivals_now;

static int
arrival_cmp(const void *x, const void *y)
{
	json_t	*a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int64_t	 da = jget_int(a, "starts_at") - arrivals_now;
	int64_t	 db = jget_int(b, "starts_at") - arrivals_now;

	if (da < 0)
		da = -da;
	if (db < 0)
		db = -db;
	return da < db ? -1 : da > db;
}

static void
arrivals_label(struct dialog *d, json_t *a, char *buf, size_t len, attr_t *attr)
{
	char	hhmm[6];

	(void)d;
	(void)attr;
	fmt_hhmm(jget_int(a, "starts_at"), hhmm);
	snprintf(buf, len, "%s  %-24s %s", hhmm, jget_str(a, "patient_name"),
	    jget_str(a, "doctor_name"));
}

static void
arrivals_filter(struct dialog *d)
{
	struct arrivals	*ar = d->arg;
	const char	*q = field_value(&d->fields[0]);
	json_t		*out = json_array(), *a;
	size_t		 i;

	json_array_foreach(ar->all, i, a) {
		if (*q == '\0' || strcasestr(jget_str(a, "patient_name"), q) != NULL)
			json_array_append(out, a);
	}
	d->list.cur = 0;
	dialog_set_items(d, out);
}

static void
arrivals_submit(struct dialog *d)
{
	json_t	*a = dialog_selected(d);

	if (a == NULL) {
		strlcpy_mf(d->error, "nobody to check in", sizeof d->error);
		return;
	}
	ui_appt_action("appt.checkin", a, NULL);
	dialog_close(d);
}

static void
arrivals_closed(struct dialog *d)
{
	struct arrivals	*ar = d->arg;

	json_decref(ar->all);
	free(ar);
}

static void
board_arrivals(struct board *b)
{
	struct arrivals	*ar;
	struct dialog	*d;
	json_t		*a, **v;
	size_t		 i, n = 0;

	if (!board_on_today(b)) {
		tui_message(1, "Check-in is for today's appointments; t shows today.");
		return;
	}
	v = xcalloc(json_array_size(b->appts) + 1, sizeof *v);
	json_array_foreach(b->appts, i, a) {
		if (strcmp(jget_str(a, "status"), "approved") == 0)
			v[n++] = a;
	}
	if (n == 0) {
		free(v);
		tui_message(1, "Nobody booked today is waiting to be checked in.");
		return;
	}
	arrivals_now = tui_now();
	qsort(v, n, sizeof *v, arrival_cmp);
	ar = xcalloc(1, sizeof *ar);
	ar->all = json_array();
	for (i = 0; i < n; i++)
		json_array_append(ar->all, v[i]);
	free(v);
	d = dialog_new("Check in", arrivals_submit, ar);
	dialog_field(d, "q", "Name");
	d->items = json_array();
	d->item_label = arrivals_label;
	d->changed = arrivals_filter;
	d->closed = arrivals_closed;
	d->list_rows = 8;
	d->dialog_hints = "Enter check in|Up/Down choose|type to filter|Esc cancel";
	arrivals_filter(d);
	dialog_open(d);
}

/* --- reschedule --- */

static void
board_move_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct board	*b = d->arg;
	json_t		*a;
	char		 when[40];

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	a = json_object_get(reply->result, "appointment");
	undo_note("appt.reschedule", a, json_object_get(reply->result, "previous"));
	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	tui_message(0, "Moved %s to %s with %s.", jget_str(a, "patient_name"), when,
	    jget_str(a, "doctor_name"));
	json_decref(b->moving);
	b->moving = NULL;
	b->view.hints = NULL;
	dialog_close(d);
}

static void
board_move_submit(struct dialog *d)
{
	struct board	*b = d->arg;

	if (b->moving == NULL) {
		dialog_close(d);
		return;
	}
	d->busy = 1;
	tconn_call("appt.reschedule", json_pack("{s:I, s:I, s:I}", "id",
	    (json_int_t)jget_int(b->moving, "id"), "starts_at",
	    (json_int_t)b->move_to.starts_at, "doctor_id",
	    (json_int_t)b->move_to.doctor_id), d, board_move_done, d);
}

static void
board_move_here(struct board *b, json_t *slot)
{
	struct dialog	*d;
	char		 from[40], to[40], text[800];

	b->move_to.doctor_id = b->cols[b->col].doctor_id;
	b->move_to.starts_at = jget_int(slot, "starts_at");
	fmt_when(jget_int(b->moving, "starts_at"), from, sizeof from);
	fmt_when(b->move_to.starts_at, to, sizeof to);
	snprintf(text, sizeof text, "Move %s\nfrom %s with %s\nto   %s with %s?",
	    jget_str(b->moving, "patient_name"), from, jget_str(b->moving, "doctor_name"),
	    to, b->cols[b->col].name);
	d = dialog_confirm("Reschedule", text, board_move_submit, b);
	d->dialog_hints = "y move it|n not yet";
}

/* --- find on the board --- */

static void
board_find_submit(struct dialog *d)
{
	struct board	*b = d->arg;
	const char	*q = field_value(&d->fields[0]);
	int		 total = b->ntimes * b->ncols, k, start, pos, r, c;
	json_t		*a;

	strlcpy_mf(b->find, q, sizeof b->find);
	if (*q == '\0' || total == 0) {
		dialog_close(d);
		return;
	}
	start = b->row * b->ncols + b->col;
	for (k = 1; k <= total; k++) {
		pos = (start + k) % total;
		r = pos / b->ncols;
		c = pos % b->ncols;
		a = board_appt_at(b, b->cols[c].doctor_id, b->times[r]);
		if (a != NULL && strcasestr(jget_str(a, "patient_name"), q) != NULL) {
			b->row = r;
			b->col = c;
			board_remember_cursor(b);
			dialog_close(d);
			return;
		}
	}
	snprintf(d->error, sizeof d->error, "nobody called \"%s\" on this day", q);
}

static void
board_find(struct board *b)
{
	struct dialog	*d = dialog_new("Find on the board", board_find_submit, b);

	dialog_text(d, "A patient's name, or part of it; again for the next one.");
	field_set(dialog_field(d, "q", "Name"), b->find);
	d->dialog_hints = "Enter find next|Esc close";
	dialog_open(d);
}

/* --- details --- */

static void
board_details(json_t *a)
{
	ui_appt_details(a, "c check in   x cancel   n no-show   r reschedule   a approve");
}

static void
board_no_show_yes(struct dialog *d)
{
	json_t	*a = d->arg;

	ui_appt_action("appt.no_show", a, NULL);
	dialog_close(d);
}

static void
board_no_show_closed(struct dialog *d)
{
	json_decref(d->arg);
}

static void
board_patient_picked(json_t *patient, void *arg)
{
	(void)arg;
	ui_patient_card(patient);
}

static void
board_reminder_sent(const struct tconn_reply *reply, void *arg)
{
	size_t	n;

	(void)arg;
	if (!reply->ok) {
		tui_message(1, "No reminder sent: %s", reply->message);
		return;
	}
	n = json_array_size(jget_array(reply->result, "reminders"));
	tui_message(0, "Reminder queued (%zu channel%s); the admin's outbox shows how "
	    "it went.", n, n == 1 ? "" : "s");
}

/* --- keys --- */

static void
board_move_cursor(struct board *b, int rows, int cols)
{
	if (b->ntimes > 0) {
		b->row += rows;
		if (b->row < 0)
			b->row = 0;
		if (b->row >= b->ntimes)
			b->row = b->ntimes - 1;
	}
	if (b->ncols > 0 && cols != 0)
		b->col = ((b->col + cols) % b->ncols + b->ncols) % b->ncols;
	board_remember_cursor(b);
}

static int
board_key(struct view *v, int key)
{
	struct board	*b = v->data;
	int		 page = b->rows_shown > 1 ? b->rows_shown - 1 : 1;
	json_t		*a, *s;
	char		 date[11];
	const char	*st;

	switch (key) {
	case 'j':
	case KF(KEY_DOWN):
		board_move_cursor(b, 1, 0);
		return 1;
	case 'k':
	case KF(KEY_UP):
		board_move_cursor(b, -1, 0);
		return 1;
	case KF(KEY_NPAGE):
	case KEY_CTL('f'):
		board_move_cursor(b, page, 0);
		return 1;
	case KF(KEY_PPAGE):
	case KEY_CTL('b'):
		board_move_cursor(b, -page, 0);
		return 1;
	case 'g':
	case KF(KEY_HOME):
		board_move_cursor(b, -b->ntimes, 0);
		return 1;
	case 'G':
	case KF(KEY_END):
		board_move_cursor(b, b->ntimes, 0);
		return 1;
	case 'l':
	case K_TAB:
		board_move_cursor(b, 0, 1);
		return 1;
	case 'h':
	case KF(KEY_BTAB):
		board_move_cursor(b, 0, -1);
		return 1;
	case KF(KEY_LEFT):
	case '[':
		strlcpy_mf(date, b->date, sizeof date);
		date_shift(date, -1);
		board_set_date(b, date);
		return 1;
	case KF(KEY_RIGHT):
	case ']':
		strlcpy_mf(date, b->date, sizeof date);
		date_shift(date, 1);
		board_set_date(b, date);
		return 1;
	case 't':
		tui_today(date);
		board_set_date(b, date);
		return 1;
	case 'R':
		board_reload(v);
		return 1;
	case 'p':
		ui_patient_find("Find or register a patient", NULL,
		    board_patient_picked, NULL);
		return 1;
	case '/':
		board_find(b);
		return 1;
	case ':':
		ui_command_open();
		return 1;
	case 'H':
		if (b->ncols > 0)
			ui_hours_edit(b->cols[b->col].doctor_id, b->cols[b->col].name);
		return 1;
	case 'w':
		if (b->ncols == 0)
			return 1;
		if (!board_on_today(b)) {
			tui_message(1, "A walk-in is seen today; t shows today.");
			return 1;
		}
		ui_walk_in(b->cols[b->col].doctor_id, b->cols[b->col].name);
		return 1;
	case 'W':
		if (b->ncols > 0)
			ui_waitlist(b->cols[b->col].doctor_id, b->cols[b->col].name);
		return 1;
	case 'C':
		if (b->ncols > 0)
			ui_recalls(b->cols[b->col].doctor_id, b->cols[b->col].name);
		else
			ui_recalls(0, NULL);
		return 1;
	case 'P':
		if (b->ncols > 0)
			ui_daysheet(b->cols[b->col].doctor_id, b->cols[b->col].name,
			    b->date);
		return 1;
	case K_ESC:
		if (b->moving != NULL) {
			json_decref(b->moving);
			b->moving = NULL;
			v->hints = NULL;
			tui_message(0, "Not moved.");
			return 1;
		}
		return 0;
	}
	board_cursor_cell(b, &a, &s);
	st = a != NULL ? jget_str(a, "status") : "";
	switch (key) {
	case 'b':
		board_book_next(b);
		return 1;
	case 'o':
		if (s == NULL) {
			tui_message(1, "Only a free slot is held while you offer it.");
			return 1;
		}
		if (board_held_by_other(s)) {
			board_say_held(s);
			return 1;
		}
		board_hold_take(b, b->cols[b->col].doctor_id, jget_int(s, "starts_at"));
		return 1;
	case 'c':
		if (a != NULL && strcmp(st, "approved") == 0)
			ui_appt_action("appt.checkin", a, NULL);
		else
			board_arrivals(b);
		return 1;
	}
	if (K_IS_ENTER(key)) {
		if (b->moving != NULL && s != NULL)
			board_move_here(b, s);
		else if (b->moving != NULL)
			tui_message(1, "Pick a free slot to move the appointment to.");
		else if (s != NULL && board_held_by_other(s))
			board_say_held(s);
		else if (s != NULL)
			board_book_start(b, b->cols[b->col].doctor_id,
			    jget_int(s, "starts_at"), jget_int(s, "ends_at"));
		else if (a != NULL)
			board_details(a);
		return 1;
	}
	if (a == NULL) {
		if (key == 'x' || key == 'n' || key == 'r' || key == 'a' || key == 'm') {
			tui_message(1, "Put the cursor on an appointment first.");
			return 1;
		}
		return 0;
	}
	switch (key) {
	case 'x':
		if (strcmp(st, "requested") == 0)
			ui_appt_ask_reason("appt.reject", a);
		else if (tui_status_active(st))
			ui_appt_ask_reason("appt.cancel", a);
		else
			tui_message(1, "A %s appointment cannot be cancelled.",
			    tui_status_label(st));
		return 1;
	case 'n':
		if (strcmp(st, "approved") != 0) {
			tui_message(1, "Only a booked patient who did not come is a no-show.");
			return 1;
		}
		{
			char	q[400];

			snprintf(q, sizeof q, "Mark %s as a no-show?",
			    jget_str(a, "patient_name"));
			dialog_confirm("No-show", q, board_no_show_yes,
			    json_incref(a))->closed = board_no_show_closed;
		}
		return 1;
	case 'r':
		if (strcmp(st, "requested") != 0 && strcmp(st, "approved") != 0) {
			tui_message(1, "Only requested and booked appointments move.");
			return 1;
		}
		json_decref(b->moving);
		b->moving = json_incref(a);
		v->hints = "Enter move here|Esc stop moving|Left/Right day|h/l doctor";
		return 1;
	case 'a':
		if (strcmp(st, "requested") != 0) {
			tui_message(1, "Only requests need approval.");
			return 1;
		}
		ui_appt_action("appt.approve", a, NULL);
		return 1;
	case 'm':
		tconn_call("notify.send_reminder", json_pack("{s:I}", "appointment_id",
		    (json_int_t)jget_int(a, "id")), NULL, board_reminder_sent, NULL);
		return 1;
	}
	return 0;
}

/* --- life --- */

static void
board_free(struct view *v)
{
	struct board	*b = v->data;

	ui_command_forget(b);
	tconn_cancel(&b->hold);
	event_free(b->slots_timer);
	event_free(b->refresh_timer);
	board_free_cols(b);
	json_decref(b->appts);
	json_decref(b->moving);
	json_decref(b->book.patient);
	free(b->times);
	free(b);
}

/* --- what the command line sees --- */

static json_t *
host_doctors(void *arg)
{
	struct board	*b = arg;
	json_t		*out = json_array();
	int		 i;

	for (i = 0; i < b->ncols; i++)
		json_array_append_new(out, json_pack("{s:I, s:s}", "id",
		    (json_int_t)b->cols[i].doctor_id, "full_name", b->cols[i].name));
	return out;
}

static json_t *
host_selected(void *arg)
{
	struct board	*b = arg;
	json_t		*a, *s;

	board_cursor_cell(b, &a, &s);
	return a;
}

static json_t *
host_appts(void *arg)
{
	struct board	*b = arg;

	return b->appts;
}

static const char *
host_date(void *arg)
{
	struct board	*b = arg;

	return b->date;
}

static int64_t
host_cursor_doctor(void *arg)
{
	struct board	*b = arg;

	return b->ncols > 0 ? b->cols[b->col].doctor_id : 0;
}

static void
host_show(void *arg, const char *date, int64_t doctor_id, int64_t starts_at)
{
	struct board	*b = arg;

	if (strcmp(date, b->date) != 0) {
		strlcpy_mf(b->date, date, sizeof b->date);
		b->top = 0;
		b->cursor_time = 0;
		/* Placed where asked, not at the current time. */
		b->placed = starts_at != 0;
		board_load_day(b);
	}
	if (doctor_id != 0)
		b->cursor_doctor = doctor_id;
	if (starts_at != 0)
		b->cursor_time = starts_at;
	board_hold_follow(b);
	board_rebuild(b);
}

struct view *
ui_board_new(void)
{
	struct board	*b = xcalloc(1, sizeof *b);
	struct timeval	 refresh = { REFRESH_SECONDS, 0 };
	struct command_host host = {
		.arg = b,
		.doctors = host_doctors,
		.selected = host_selected,
		.appts = host_appts,
		.date = host_date,
		.cursor_doctor = host_cursor_doctor,
		.show = host_show,
	};

	b->view.type = &board_type;
	b->view.data = b;
	tui_today(b->date);
	b->slots_timer = evtimer_new(tui_base(), board_slots_timer_cb, b);
	b->refresh_timer = event_new(tui_base(), -1, EV_PERSIST, board_refresh_cb, b);
	event_add(b->refresh_timer, &refresh);
	ui_command_attach(&host);
	board_reload(&b->view);
	return &b->view;
}
