/* tui.h -- the terminal client: one libevent loop for the server connection
 * and the keyboard, a tab per screen of the user's role with popups above
 * it, and the pieces every screen shares (drawing, fields, dialogs, lists).
 *
 * tui.c        loop, keyboard, resize, tabs and popups, status bar, help, lock
 * tui-conn.c   the connection: secure channel, framing, requests, events,
 *              reconnect, resume
 * tui-draw.c   colours, UTF-8 text, times, lists, JSON helpers
 * tui-dialog.c text fields and the one dialog every popup is made of
 * ui-*.c       the screens */
#ifndef MF_TUI_H
#define MF_TUI_H

#include <stddef.h>
#include <stdint.h>

#include <curses.h>
#include <event2/event.h>
#include <jansson.h>

/* --- keys --- */

/* A key is a Unicode code point, or a curses function key with KEYF set. */
#define KEYF		0x1000000
#define KF(k)		((k) | KEYF)
#define KEY_CTL(c)	((c) & 0x1f)
#define K_ESC		27
#define K_TAB		'\t'
#define K_IS_ENTER(k)	((k) == '\n' || (k) == '\r' || (k) == KF(KEY_ENTER))
#define K_IS_BACKSPACE(k) ((k) == KF(KEY_BACKSPACE) || (k) == 127 || (k) == 8)

/* --- views: a tab's screen or a popup --- */

struct view;

struct help_key {
	const char	*keys;
	const char	*what;
};

struct view_type {
	const char		*name;
	void			(*draw)(struct view *, int y, int x, int h, int w);
	/* 1 when the key was used; unused keys go to the global bindings. */
	int			(*key)(struct view *, int key);
	/* A push event from the server ({event, data}). */
	void			(*event)(struct view *, const char *event, json_t *data);
	/* The connection came back or the screen was unlocked: fetch again. */
	void			(*reload)(struct view *);
	/* The tab was switched to (optional). */
	void			(*shown)(struct view *);
	void			(*free)(struct view *);
	/* Status bar hints; may be NULL to use the view's own `hints`. */
	const char		*hints;
	/* F1 / ? lists these, NULL-terminated. */
	const struct help_key	*help;
};

struct view {
	const struct view_type	*type;
	void			*data;
	const char		*hints;		/* overrides type->hints when set */
	int			 dead;		/* popped; freed from the loop */
};

/* --- the session and the loop (tui.c) --- */

struct tui_me {
	int64_t		 user_id;
	char		 email[256];
	char		 full_name[256];
	char		 role[16];	/* "receptionist", "doctor", ... */
	int64_t		 doctor_id;	/* 0 unless a doctor */
	int64_t		 patient_id;	/* 0 unless a patient */
};

int		 tui_main(const char *server, int lock_after);

const struct tui_me *tui_me(void);
const char	*tui_server(void);
struct event_base *tui_base(void);
/* Marks the screen for drawing before the loop sleeps. */
void		 tui_redraw(void);
/* A line above the status bar until the next key or a few seconds pass. */
void		 tui_message(int error, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
/* Puts a popup above everything; tui_pop removes it (freed from the loop). */
void		 tui_push(struct view *);
void		 tui_pop(struct view *);
/* Where the text cursor goes after drawing (a focused field); y < 0 hides it. */
void		 tui_set_cursor(int y, int x);
/* 1 when v is the screen in front (its tab, no popup above it). */
int		 tui_showing(struct view *v);
/* The tab's title changed (a count in it): the tab bar is drawn again. */
void		 tui_set_title(struct view *v, const char *title);
/* Called by the login screen once auth.login has answered. */
void		 tui_logged_in(json_t *login_result);
/* Rows a page key moves in a screen's list. */
int		 tui_page(void);
/* The server's clock (UTC seconds), from its health reply. */
int64_t		 tui_now(void);

/* --- the connection (tui-conn.c) --- */

enum tconn_state {
	TCONN_IDLE,		/* not connected and no reason to be */
	TCONN_CONNECTING,
	TCONN_KEYS,		/* the secure channel's handshake */
	TCONN_ASK,		/* a first server key: waiting for the user */
	TCONN_HANDSHAKE,	/* hello, clock, resume */
	TCONN_READY,
	TCONN_WAITING,		/* lost; retrying after a pause */
};

struct tconn_reply {
	int		 ok;
	json_t		*result;	/* borrowed; json_incref to keep */
	const char	*code;		/* error code, "" when ok */
	const char	*message;	/* error message, "" when ok */
};

typedef void	(*tconn_reply_fn)(const struct tconn_reply *, void *arg);

struct tconn_hooks {
	/* Connected and, with a token, the session resumed (user is the
	 * auth.resume result's user) or none (user NULL). */
	void	(*ready)(json_t *user);
	/* The stored session is gone: expired, revoked or unknown. */
	void	(*session_end)(const char *why);
	void	(*event)(const char *event, json_t *data);
	/* Anything the status bar shows changed. */
	void	(*state)(void);
	/* The server's key is one this client has not pinned: ask the user,
	 * who answers with tconn_trust_answer. Requests wait meanwhile. */
	void	(*key_unknown)(const char *server, const char *fingerprint);
	/* A first key was pinned in known_servers (where), now. */
	void	(*key_pinned)(const char *server, const char *fingerprint,
		    const char *where);
	/* Not connected because of the server's key; text says why. changed:
	 * not the pinned key (text is the loud warning, with both
	 * fingerprints), and the client will not connect again. */
	void	(*key_refused)(const char *text, int changed);
};

void		 tconn_init(struct event_base *, const char *server,
		     const struct tconn_hooks *);
void		 tconn_free(void);
/* Sends op with args (stolen; NULL for none). Requests made while the
 * connection is down wait for it; those in flight when it drops fail with
 * code "unavailable". fn runs unless tconn_cancel(owner) came first. */
void		 tconn_call(const char *op, json_t *args, void *owner,
		     tconn_reply_fn fn, void *arg);
/* The same with args already packed as a msgpack map (copied, and wiped
 * when sent: for passwords). */
void		 tconn_call_packed(const char *op, const char *args, size_t len,
		     void *owner, tconn_reply_fn fn, void *arg);
void		 tconn_cancel(void *owner);
/* The session token resumed after a reconnect; NULL forgets it. */
void		 tconn_set_token(const char *);
const char	*tconn_token(void);
/* The user's answer to key_unknown: 1 pins the key and goes on, 0 refuses
 * it (queued requests fail). */
void		 tconn_trust_answer(int yes);
/* Connects now if idle (with a token, the session is resumed). */
void		 tconn_connect(void);
enum tconn_state tconn_state(void);
/* A short description for the status bar. */
void		 tconn_describe(char *, size_t);
/* Server time minus local time, seconds. */
int64_t		 tconn_clock_skew(void);
/* When the last request went out (local seconds). */
int64_t		 tconn_last_sent(void);

/* --- drawing, text, time, lists (tui-draw.c) --- */

enum tui_color {
	TC_NORMAL,
	TC_BAR,
	TC_BAR_ACTIVE,
	TC_SELECTED,
	TC_DIM,
	TC_TITLE,
	TC_ERROR,
	TC_OK,
	TC_FREE,
	TC_REQUESTED,
	TC_APPROVED,
	TC_CHECKED_IN,
	TC_IN_PROGRESS,
	TC_COMPLETED,
	TC_NO_SHOW,
	TC_CLOSED,	/* cancelled, rejected, rescheduled */
	TC_BORDER,
	TC__COUNT
};

void		 tui_colors_init(void);
int		 tui_has_color(void);
int		 tui_utf8(void);
attr_t		 tui_attr(enum tui_color);
enum tui_color	 tui_status_color(const char *status);
/* "booked", "arrived", ... for an appointment status. */
const char	*tui_status_label(const char *status);
/* 1 for statuses that hold the slot (requested .. in_progress). */
int		 tui_status_active(const char *status);

/* Display columns of UTF-8 text. */
int		 tui_text_width(const char *);
/* Prints UTF-8 text at y,x in exactly w columns: cut with an ellipsis or
 * padded with spaces. Returns the columns the text itself used. */
int		 tui_put(int y, int x, int w, attr_t, const char *);
int		 tui_putf(int y, int x, int w, attr_t, const char *, ...)
		     __attribute__((format(printf, 5, 6)));
/* UTF-8 text cut or padded with spaces to exactly cols display columns
 * (for plain-text columns: labels, the day sheet). */
void		 text_pad(char *out, size_t len, const char *s, int cols);
/* The bytes of s's longest start that fits in cols columns. */
size_t		 text_fit(const char *s, int cols);
/* Text right-aligned in w columns ending at x + w. */
void		 tui_put_right(int y, int x, int w, attr_t, const char *);
void		 tui_fill(int y, int x, int h, int w, attr_t);
void		 tui_box(int y, int x, int h, int w, const char *title);
void		 tui_hline(int y, int x, int w);
/* One column of a vertical rule. */
void		 tui_vbar(int y, int x);
/* Status bar style "key what  key what" hints within w columns. */
void		 tui_hints(int y, int x, int w, attr_t, const char *);

/* Local times (the client's TZ, set from the clinic's when the server says). */
void		 fmt_hhmm(int64_t, char out[6]);
void		 fmt_date(int64_t, char out[11]);
/* "Tue 24 Nov 2026" for a YYYY-MM-DD. */
void		 fmt_date_label(const char *date, char *, size_t);
/* "24 Nov 15:20" */
void		 fmt_when(int64_t, char *, size_t);
void		 tui_today(char out[11]);
void		 date_shift(char date[11], int days);
/* Local midnight of a YYYY-MM-DD, UTC seconds. */
int64_t		 date_start(const char *date);

/* JSON fields: "" / 0 when missing or of another type. */
const char	*jget_str(json_t *, const char *key);
int64_t		 jget_int(json_t *, const char *key);
/* The array at key, or an empty array; borrowed. */
json_t		*jget_array(json_t *, const char *key);

/* A cursor over n rows, scrolled to keep it visible. */
struct tlist {
	int	cur, top, n;
};

/* Moves on j/k, arrows, PgUp/PgDn, g/G, Home/End; 1 when the key was one. */
int		 tlist_key(struct tlist *, int key, int page);
void		 tlist_set_count(struct tlist *, int n);
void		 tlist_fit(struct tlist *, int rows);

/* --- fields and dialogs (tui-dialog.c) --- */

#define FIELD_MAX	512

struct field {
	const char		*name;		/* the server's argument name */
	const char		*label;
	char			 text[FIELD_MAX];
	size_t			 len, pos;	/* bytes */
	int			 secret;
	const char *const	*choices;	/* NULL-terminated, or NULL */
	int			 choice;
	char			 error[200];
};

void		 field_init(struct field *, const char *name, const char *label);
void		 field_set(struct field *, const char *);
void		 field_wipe(struct field *);
/* 1 when the key edited or moved within the field. */
int		 field_key(struct field *, int key);
void		 field_draw(struct field *, int y, int x, int w, int focused);
const char	*field_value(const struct field *);

struct dialog;
typedef void	(*dialog_fn)(struct dialog *);

#define DIALOG_FIELDS	12

struct dialog {
	struct view	 view;
	char		 title[160];
	char		*text;			/* lines above the fields */
	struct field	 fields[DIALOG_FIELDS];
	int		 nfields;
	int		 focus;			/* a field, or nfields for the list */
	json_t		*items;			/* list rows, or NULL */
	void		(*item_label)(struct dialog *, json_t *, char *, size_t,
			    attr_t *);
	struct tlist	 list;
	int		 list_rows;
	char		 error[300];
	char		 note[200];
	int		 busy;			/* a request is in flight */
	int		 failed;		/* once refused, Enter resubmits */
	int		 confirm;		/* y/n question */
	int		 message;		/* any key closes */
	int		 width;
	dialog_fn	 submit;		/* Enter */
	dialog_fn	 changed;		/* a field's text changed */
	dialog_fn	 closed;		/* popped: free arg here */
	int		(*extra_key)(struct dialog *, int key);
	void		*arg;
	const char	*dialog_hints;
	struct dialog_source *source;		/* dialog_list's op, or NULL */
};

struct dialog	*dialog_new(const char *title, dialog_fn submit, void *arg);
struct field	*dialog_field(struct dialog *, const char *name, const char *label);
void		 dialog_text(struct dialog *, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
void		 dialog_open(struct dialog *);
void		 dialog_close(struct dialog *);
/* Takes a new list (stolen) and keeps the cursor when it can. */
void		 dialog_set_items(struct dialog *, json_t *);
json_t		*dialog_selected(struct dialog *);
/* Shows a failed reply in place: "field: message" beside that field. */
void		 dialog_fail(struct dialog *, const struct tconn_reply *);
struct field	*dialog_get(struct dialog *, const char *name);
/* A question answered with y/Enter (submit) or n/Esc. */
struct dialog	*dialog_confirm(const char *title, const char *text,
		     dialog_fn yes, void *arg);
/* Information the user must see (a temporary password): any key closes. */
void		 dialog_message(const char *title, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
/*
 * A popup list an op fills: dialog_list_load sends op with args (stolen,
 * kept for R) and the reply's array under key becomes the items; loaded,
 * when not NULL, then sets the note from the whole result. R reloads; the
 * caller's extra_key sees keys first; requests end with the dialog.
 * Opened at once with "Loading..." as its note.
 */
struct dialog	*dialog_list(const char *title, const char *op, const char *key,
		     void (*loaded)(struct dialog *, json_t *result));
void		 dialog_list_load(struct dialog *, json_t *args);

/* --- screens (ui-*.c) --- */

struct view	*ui_login_new(const char *notice);
/* Updates the login screen's notice line if it is showing. */
void		 ui_login_notice(struct view *, const char *);
struct view	*ui_board_new(void);
struct view	*ui_doctor_day_new(void);
struct view	*ui_doctor_requests_new(void);
struct view	*ui_admin_users_new(void);
struct view	*ui_admin_stats_new(void);
struct view	*ui_admin_audit_new(void);
struct view	*ui_admin_outbox_new(void);
struct view	*ui_patient_appts_new(void);
/* The chat pane; its tab title counts unread messages. */
struct view	*ui_chat_new(void);
const char	*ui_chat_title(struct view *);
/* Opens (or starts) the conversation with that user in the chat tab. */
void		 ui_chat_with(int64_t user_id);

/* The desk's patient finder: pick calls back with the patient (borrowed). */
void		 ui_patient_find(const char *title, const char *intro,
		     void (*pick)(json_t *patient, void *), void *arg);
/* The registration form; done gets the new patient (borrowed). */
void		 ui_patient_register(const char *name,
		     void (*done)(json_t *patient, void *), void *arg);
/* Details and coming appointments of a patient. */
void		 ui_patient_card(json_t *patient);
/* Cancel or reject with a reason, approve, and the other one-key changes
 * every appointment screen shares; the message line says how it went. */
void		 ui_appt_action(const char *op, json_t *appt, const char *reason);
void		 ui_appt_ask_reason(const char *op, json_t *appt);
/* A popup with an appointment's details and the keys that act on it. */
void		 ui_appt_details(json_t *appt, const char *keys);

/* The day board's command line (ui-command.c). The board says what it
 * shows through these; every pointer is borrowed but doctors' (a new array
 * of {id, full_name}). */
struct command_host {
	void	*arg;
	json_t	*(*doctors)(void *);
	json_t	*(*selected)(void *);		/* under the cursor, or NULL */
	json_t	*(*appts)(void *);		/* the day's appointments, or NULL */
	const char *(*date)(void *);		/* the day shown */
	int64_t	 (*cursor_doctor)(void *);
	/* Shows date with the cursor on that doctor and time (0: keep). */
	void	 (*show)(void *, const char *date, int64_t doctor_id,
		    int64_t starts_at);
};

void		 ui_command_attach(const struct command_host *);
/* The board is going (NULL: whatever it was): pending commands and the
 * undo list end with it. */
void		 ui_command_forget(void *host_arg);
/* `:` on the board. */
void		 ui_command_open(void);
/* A change this terminal made (op appt.book, appt.cancel, appt.reject,
 * appt.reschedule with previous, or one u cannot undo), for u. */
void		 undo_note(const char *op, json_t *appt, json_t *previous);

/* The patient chart over the current screen (ui-chart.c); records and
 * prescriptions written there link to appointment_id when not 0. */
void		 ui_chart_open(int64_t patient_id, const char *name,
		     int64_t appointment_id);
/* A patient's own chart as a tab: records, prescriptions, files (read). */
struct view	*ui_chart_own_new(void);
/* Text (copied) to a file (path proposed) or lpr; what names it. */
void		 ui_print_text(const char *what, const char *path, const char *text);
/* A doctor's weekly hours, edited as a line per weekday (ui-hours.c). */
void		 ui_hours_edit(int64_t doctor_id, const char *doctor);
/* A doctor's day as plain text, to a file or lpr (ui-daysheet.c). */
void		 ui_daysheet(int64_t doctor_id, const char *doctor, const char *date);
/* The desk's tools (ui-desk.c): a walk-in with the doctor now (the patient
 * finder, then booked and checked in), the doctor's wait list, and the
 * recall list (doctor: offered for new recalls; 0 none). */
void		 ui_walk_in(int64_t doctor_id, const char *doctor);
void		 ui_waitlist(int64_t doctor_id, const char *doctor);
void		 ui_recalls(int64_t doctor_id, const char *doctor);
/* Push events for them (waitlist.offer), from the board. */
void		 ui_desk_event(const char *event, json_t *data);

/* A scrolling list of appointments, kept sorted by start. */
struct appt_list {
	json_t		*items;
	struct tlist	 list;
	int		 show_date;
	int		 show_doctor;	/* the doctor's name, else the patient's */
	char		 find[128];	/* the last / search */
};

/* Takes items (stolen); the cursor stays on the same appointment. */
void		 appt_list_set(struct appt_list *, json_t *items);
/* Replaces or adds an appointment from an event; keep 0 removes it. */
void		 appt_list_upsert(struct appt_list *, json_t *appt, int keep);
json_t		*appt_list_selected(struct appt_list *);
/* `/`: asks for a name and moves to the next appointment that has it. */
void		 appt_list_find(struct appt_list *);
void		 appt_list_draw(struct appt_list *, int y, int x, int h, int w,
		     const char *empty);

#endif
