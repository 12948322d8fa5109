/* ui-command.c -- the day board's command line (`:` as in vim) for fast
 * hands, and the undo of this terminal's last actions.
 *
 *   b PATIENT[/YEAR] [DAY] [HH:MM] [DOCTOR]   book
 *   c [PATIENT]     check in the selection, or today's booked patient
 *   x [REASON]      cancel the selection (reject a request: reason needed)
 *   u               undo the last booking, cancellation or move made here
 *   d DAY           show that day
 *
 * DAY is today, tomorrow, a weekday (mon..sun: the nearest one, today
 * included), YYYY-MM-DD or D.M (the next such date). After the patient the
 * words come in any order: one that is neither a day nor a time names the
 * doctor. Names match loosely (word starts, then parts, then letters in
 * order); the command asks, with a small chooser, only when more than one
 * patient or doctor fits. Without a time the doctor's first free slot that
 * day is taken (without a day either, the first within two weeks). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tui.h"
#include "util.h"

#define HISTORY_MAX	20
#define UNDO_MAX	16
#define NEXT_FREE_DAYS	14
#define SEARCH_LIMIT	50

enum job_kind {
	JOB_BOOK,
	JOB_CHECKIN,
};

struct job {
	struct job	*next;
	enum job_kind	 kind;
	char		 line[FIELD_MAX];	/* as typed, for messages */
	char		 name[128];		/* the patient as typed */
	int		 year;			/* of birth; 0 when not given */
	int		 retried;		/* searched again on a shorter name */
	char		 date[11];
	int		 have_date;
	int		 hh, mm, have_time;
	char		 doctor_q[128];
	json_t		*patient;
	int64_t		 doctor_id;
	char		 doctor[128];
	int		 tries;			/* days looked at for a free slot */
	struct dialog	*chooser;
	void		(*picked)(struct job *, json_t *);
};

enum undo_kind {
	UNDO_BOOKED,
	UNDO_CANCELLED,
	UNDO_MOVED,
	UNDO_NONE,		/* done here, but not undoable (a check-in) */
};

struct undo {
	enum undo_kind	 kind;
	json_t		*appt;
	json_t		*previous;	/* UNDO_MOVED: where it was */
	char		 what[300];
};

static struct {
	struct command_host	 host;
	int			 have_host;
	struct job		*jobs;
	char			*history[HISTORY_MAX];
	int			 nhistory;
	struct undo		 undo[UNDO_MAX];
	int			 nundo;
	int			 undo_busy;
} C;

struct cmdline {
	struct view	 view;
	struct field	 field;
	int		 hist;		/* index while browsing the history */
};

static void	cmdline_draw(struct view *, int, int, int, int);
static int	cmdline_key(struct view *, int);
static void	cmdline_free(struct view *);
static void	job_free(struct job *);
static void	book_have_patient(struct job *);
static void	book_have_doctor(struct job *);
static void	book_next_slot(struct job *);

/* Appends s to buf (size len), cut when full. */
static void
append(char *buf, const char *s, size_t len)
{
	size_t	used = strlen(buf);

	if (used < len)
		strlcpy_mf(buf + used, s, len - used);
}

static const struct help_key cmdline_help[] = {
	{ "b P[/Y] D T DR", "book patient P (born in year Y) on day D at time T "
	    "with doctor DR, e.g. b smith/1962 tue 10:20 lee" },
	{ "c [NAME]", "check in the selection, or today's patient NAME" },
	{ "x [REASON]", "cancel the selection (a request: reject, reason needed)" },
	{ "u", "undo the last booking, cancellation or move made here" },
	{ "d DAY", "show a day: today, tomorrow, mon..sun, YYYY-MM-DD, D.M" },
	{ "Up Down", "earlier commands" },
	{ "Enter Esc", "run / close" },
	{ NULL, NULL }
};

static const struct view_type cmdline_type = {
	.name = "Command line",
	.draw = cmdline_draw,
	.key = cmdline_key,
	.free = cmdline_free,
	.help = cmdline_help,
};

/* --- matching names --- */

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* How well a query word fits a name: 3 a word of the name starts with it,
 * 2 it is part of the name, 1 its letters are in the name in order, 0 not
 * at all. ASCII case is ignored; other bytes compare as they are. */
static int
word_fit(const char *q, const char *name)
{
	const char	*p, *n;
	size_t		 len = strlen(q);

	if (len == 0)
		return 3;
	for (p = name; *p != '\0'; p++) {
		if ((p == name || p[-1] == ' ' || p[-1] == '-' || p[-1] == '.' ||
		    p[-1] == '\'') && strncasecmp(p, q, len) == 0)
			return 3;
	}
	if (strcasestr(name, q) != NULL)
		return 2;
	for (n = name, p = q; *p != '\0' && *n != '\0'; n++) {
		if (lower((unsigned char)*n) == lower((unsigned char)*p))
			p++;
	}
	return *p == '\0' ? 1 : 0;
}

/* The fit of every word of the query (the worst one counts). */
static int
name_fit(const char *query, const char *name)
{
	char	 buf[256], *w, *save = NULL;
	int	 best = 3, f;

	strlcpy_mf(buf, query, sizeof buf);
	for (w = strtok_r(buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		if ((f = word_fit(w, name)) < best)
			best = f;
	}
	return best;
}

/* The items of list that fit query best (a new array; empty for none). */
static json_t *
best_fits(json_t *list, const char *key, const char *query)
{
	json_t	*out = json_array(), *x;
	size_t	 i;
	int	 best = 0, f;

	json_array_foreach(list, i, x) {
		if ((f = name_fit(query, jget_str(x, key))) > best)
			best = f;
	}
	if (best == 0)
		return out;
	json_array_foreach(list, i, x) {
		if (name_fit(query, jget_str(x, key)) == best)
			json_array_append(out, x);
	}
	return out;
}

/* --- days and times --- */

static const char *const weekdays[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"
};

static int
weekday_of(const char *date)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	if (sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	tm.tm_hour = 12;
	if (timegm(&tm) == (time_t)-1)
		return -1;
	return tm.tm_wday;
}

static int
valid_date(const char *s)
{
	int	y, m, d;
	char	check[11], junk;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &junk) != 3)
		return 0;
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	/* date_shift normalises: a date that changes was not a real one. */
	snprintf(check, sizeof check, "%04d-%02d-%02d", y, m, d);
	date_shift(check, 0);
	return strcmp(check, s) == 0;
}

/* 1 when word is a day, put in date (YYYY-MM-DD). */
static int
parse_day(const char *word, char date[11])
{
	char	today[11], try[11];
	int	i, wd, d, m, y, n;
	size_t	len = strlen(word);

	tui_today(today);
	if (strcasecmp(word, "today") == 0 || strcasecmp(word, "tod") == 0) {
		strlcpy_mf(date, today, 11);
		return 1;
	}
	if (strcasecmp(word, "tomorrow") == 0 || strcasecmp(word, "tom") == 0 ||
	    strcasecmp(word, "tmr") == 0) {
		strlcpy_mf(date, today, 11);
		date_shift(date, 1);
		return 1;
	}
	if (len >= 2 && word[0] == '+' && (n = atoi(word + 1)) > 0 && n <= 730 &&
	    strspn(word + 1, "0123456789") == len - 1) {
		strlcpy_mf(date, today, 11);
		date_shift(date, n);
		return 1;
	}
	if (len >= 3) {
		for (i = 0; i < 7; i++) {
			if (len <= strlen(weekdays[i]) &&
			    strncasecmp(word, weekdays[i], len) == 0)
				break;
		}
		if (i < 7 && (wd = weekday_of(today)) >= 0) {
			strlcpy_mf(date, today, 11);
			date_shift(date, (i - wd + 7) % 7);
			return 1;
		}
	}
	if (valid_date(word)) {
		strlcpy_mf(date, word, 11);
		return 1;
	}
	/* D.M or D.M. : the next such date, today included. */
	if (sscanf(word, "%d.%d", &d, &m) == 2 && strspn(word, "0123456789.") == len &&
	    d >= 1 && d <= 31 && m >= 1 && m <= 12) {
		y = atoi(today);
		for (i = 0; i < 2; i++) {
			snprintf(try, sizeof try, "%04d-%02d-%02d", y + i, m, d);
			if (valid_date(try) && strcmp(try, today) >= 0) {
				strlcpy_mf(date, try, 11);
				return 1;
			}
		}
	}
	return 0;
}

/* 1 when word is H:MM or HH:MM. */
static int
parse_time(const char *word, int *hh, int *mm)
{
	int	h, m;
	char	junk;

	if (strchr(word, ':') == NULL ||
	    sscanf(word, "%2d:%2d%c", &h, &m, &junk) != 2 || h < 0 || h > 23 ||
	    m < 0 || m > 59 || strlen(word) > 5 || !isdigit((unsigned char)word[strlen(word) - 1]))
		return 0;
	*hh = h;
	*mm = m;
	return 1;
}

/* The local time of a date's wall-clock time, UTC seconds. */
static int64_t
local_time(const char *date, int hh, int mm)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	if (sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* --- jobs: a command waiting for the server or a choice --- */

static struct job *
job_new(enum job_kind kind, const char *line)
{
	struct job	*j = xcalloc(1, sizeof *j);

	j->kind = kind;
	strlcpy_mf(j->line, line, sizeof j->line);
	j->next = C.jobs;
	C.jobs = j;
	return j;
}

static void
job_free(struct job *j)
{
	struct job	**pp;

	for (pp = &C.jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	tconn_cancel(j);
	if (j->chooser != NULL)
		j->chooser->arg = NULL;
	json_decref(j->patient);
	free(j);
}

static void
job_fail(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
job_fail(struct job *j, const char *fmt, ...)
{
	char	msg[400];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	tui_message(1, "%s", msg);
	job_free(j);
}

/* --- the chooser: only when a name fits more than one --- */

static void
chooser_submit(struct dialog *d)
{
	struct job	*j = d->arg;
	json_t		*item = dialog_selected(d);

	if (j == NULL || item == NULL) {
		dialog_close(d);
		return;
	}
	json_incref(item);
	j->chooser = NULL;
	d->arg = NULL;
	dialog_close(d);
	j->picked(j, item);
	json_decref(item);
}

static void
chooser_closed(struct dialog *d)
{
	struct job	*j = d->arg;

	if (j == NULL)
		return;
	j->chooser = NULL;
	tui_message(0, "Nothing done: %s", j->line);
	job_free(j);
}

static void
choose(struct job *j, const char *title, json_t *items,
    void (*label)(struct dialog *, json_t *, char *, size_t, attr_t *),
    void (*picked)(struct job *, json_t *))
{
	struct dialog	*d = dialog_new(title, chooser_submit, j);

	d->items = items;
	tlist_set_count(&d->list, (int)json_array_size(items));
	d->item_label = label;
	d->list_rows = json_array_size(items) < 8 ? (int)json_array_size(items) : 8;
	d->width = 72;
	d->closed = chooser_closed;
	d->dialog_hints = "Enter pick|Up/Down choose|Esc do nothing";
	j->chooser = d;
	j->picked = picked;
	dialog_open(d);
}

static void
patient_label(struct dialog *d, json_t *p, char *buf, size_t len, attr_t *a)
{
	const char	*dob = jget_str(p, "date_of_birth");
	char		 name[300];

	(void)d;
	(void)a;
	text_pad(name, sizeof name, jget_str(p, "full_name"), 26);
	snprintf(buf, len, "%s %-10s  %s", name, *dob != '\0' ? dob : "-",
	    jget_str(p, "phone"));
}

static void
doctor_label(struct dialog *d, json_t *doc, char *buf, size_t len, attr_t *a)
{
	(void)d;
	(void)a;
	snprintf(buf, len, "%s", jget_str(doc, "full_name"));
}

static void
appt_label(struct dialog *d, json_t *ap, char *buf, size_t len, attr_t *a)
{
	char	hhmm[6], name[300];

	(void)d;
	(void)a;
	fmt_hhmm(jget_int(ap, "starts_at"), hhmm);
	text_pad(name, sizeof name, jget_str(ap, "patient_name"), 26);
	snprintf(buf, len, "%s  %s %s", hhmm, name, jget_str(ap, "doctor_name"));
}

/* --- the undo list --- */

static void
undo_push(enum undo_kind kind, json_t *appt, json_t *previous, const char *what)
{
	struct undo	*u;

	if (C.nundo == UNDO_MAX) {
		json_decref(C.undo[0].appt);
		json_decref(C.undo[0].previous);
		memmove(&C.undo[0], &C.undo[1], (UNDO_MAX - 1) * sizeof C.undo[0]);
		C.nundo--;
	}
	u = &C.undo[C.nundo++];
	memset(u, 0, sizeof *u);
	u->kind = kind;
	u->appt = json_incref(appt);
	u->previous = previous != NULL ? json_incref(previous) : NULL;
	strlcpy_mf(u->what, what, sizeof u->what);
}

static void
undo_drop_last(void)
{
	if (C.nundo == 0)
		return;
	C.nundo--;
	json_decref(C.undo[C.nundo].appt);
	json_decref(C.undo[C.nundo].previous);
	memset(&C.undo[C.nundo], 0, sizeof C.undo[0]);
}

static void
describe(json_t *a, char *out, size_t len)
{
	char	when[40];

	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	snprintf(out, len, "%s with %s, %s", jget_str(a, "patient_name"),
	    jget_str(a, "doctor_name"), when);
}

void
undo_note(const char *op, json_t *appt, json_t *previous)
{
	char	what[300];

	/* Only the desk undoes; other screens keep no list. */
	if (appt == NULL || !C.have_host)
		return;
	describe(appt, what, sizeof what);
	if (strcmp(op, "appt.book") == 0)
		undo_push(UNDO_BOOKED, appt, NULL, what);
	else if (strcmp(op, "appt.cancel") == 0 || strcmp(op, "appt.reject") == 0)
		undo_push(UNDO_CANCELLED, appt, NULL, what);
	else if (strcmp(op, "appt.reschedule") == 0 && previous != NULL)
		undo_push(UNDO_MOVED, appt, previous, what);
	else
		undo_push(UNDO_NONE, appt, NULL, op);
}

static void
undo_done(const struct tconn_reply *reply, void *arg)
{
	const char	*verb = arg;
	json_t		*a;
	char		 what[300];

	C.undo_busy = 0;
	if (!reply->ok) {
		tui_message(1, "Could not undo: %s", reply->message);
		return;
	}
	a = json_object_get(reply->result, "appointment");
	describe(a, what, sizeof what);
	tui_message(0, "Undone: %s %s.", verb, what);
	undo_drop_last();
	if (C.have_host && C.host.show != NULL) {
		char	date[11];

		fmt_date(jget_int(a, "starts_at"), date);
		C.host.show(C.host.arg, date, jget_int(a, "doctor_id"),
		    jget_int(a, "starts_at"));
	}
}

static const char *
action_noun(const char *op)
{
	static const struct {
		const char	*op, *noun;
	} nouns[] = {
		{ "appt.checkin", "the check-in" },
		{ "appt.approve", "the approval" },
		{ "appt.no_show", "the no-show" },
		{ "appt.start", "the start of the visit" },
		{ "appt.complete", "the end of the visit" },
	};
	size_t	i;

	for (i = 0; i < nitems(nouns); i++) {
		if (strcmp(nouns[i].op, op) == 0)
			return nouns[i].noun;
	}
	return op;
}

static void
undo_last(void)
{
	struct undo	*u;
	json_t		*args;

	if (C.undo_busy) {
		tui_message(1, "Still undoing the last one.");
		return;
	}
	if (C.nundo == 0) {
		tui_message(1, "Nothing to undo on this terminal.");
		return;
	}
	u = &C.undo[C.nundo - 1];
	switch (u->kind) {
	case UNDO_NONE:
		tui_message(1, "The last action here (%s of %s) cannot be undone; "
		    "u again undoes the one before.", action_noun(u->what),
		    jget_str(u->appt, "patient_name"));
		undo_drop_last();
		return;
	case UNDO_BOOKED:
		args = json_pack("{s:I, s:s}", "id", (json_int_t)jget_int(u->appt, "id"),
		    "reason", "booked by mistake (undone at the desk)");
		C.undo_busy = 1;
		tconn_call("appt.cancel", args, &C, undo_done, "cancelled the booking of");
		break;
	case UNDO_CANCELLED:
		args = json_pack("{s:I, s:I, s:I}", "doctor_id",
		    (json_int_t)jget_int(u->appt, "doctor_id"), "starts_at",
		    (json_int_t)jget_int(u->appt, "starts_at"), "patient_id",
		    (json_int_t)jget_int(u->appt, "patient_id"));
		if (*jget_str(u->appt, "reason") != '\0')
			json_object_set_new(args, "reason",
			    json_string(jget_str(u->appt, "reason")));
		C.undo_busy = 1;
		tconn_call("appt.book", args, &C, undo_done, "booked again");
		break;
	case UNDO_MOVED:
		args = json_pack("{s:I, s:I, s:I}", "id",
		    (json_int_t)jget_int(u->appt, "id"), "starts_at",
		    (json_int_t)jget_int(u->previous, "starts_at"), "doctor_id",
		    (json_int_t)jget_int(u->previous, "doctor_id"));
		C.undo_busy = 1;
		tconn_call("appt.reschedule", args, &C, undo_done, "moved back");
		break;
	}
	tui_message(0, "Undoing: %s...", u->what);
}

/* --- b: booking --- */

static void
book_done(const struct tconn_reply *reply, void *arg)
{
	struct job	*j = arg;
	json_t		*a;
	char		 what[300], date[11];

	if (!reply->ok) {
		job_fail(j, "Not booked: %s", reply->message);
		return;
	}
	a = json_object_get(reply->result, "appointment");
	describe(a, what, sizeof what);
	undo_note("appt.book", a, NULL);
	tui_message(0, "Booked %s. (:u undoes it)", what);
	if (C.have_host && C.host.show != NULL) {
		fmt_date(jget_int(a, "starts_at"), date);
		C.host.show(C.host.arg, date, jget_int(a, "doctor_id"),
		    jget_int(a, "starts_at"));
	}
	job_free(j);
}

static void
book_send(struct job *j, int64_t starts_at)
{
	tconn_call("appt.book", json_pack("{s:I, s:I, s:I}", "doctor_id",
	    (json_int_t)j->doctor_id, "starts_at", (json_int_t)starts_at,
	    "patient_id", (json_int_t)jget_int(j->patient, "id")), j, book_done, j);
	tui_message(0, "Booking %s with %s...", jget_str(j->patient, "full_name"),
	    j->doctor);
}

static void
book_slots_done(const struct tconn_reply *reply, void *arg)
{
	struct job	*j = arg;
	json_t		*slots;

	if (!reply->ok) {
		job_fail(j, "Not booked: %s", reply->message);
		return;
	}
	slots = jget_array(reply->result, "slots");
	if (json_array_size(slots) > 0) {
		book_send(j, jget_int(json_array_get(slots, 0), "starts_at"));
		return;
	}
	if (j->have_date || ++j->tries >= NEXT_FREE_DAYS) {
		if (j->have_date)
			job_fail(j, "Not booked: %s has no free slot on %s.", j->doctor,
			    j->date);
		else
			job_fail(j, "Not booked: %s has no free slot in the next %d days.",
			    j->doctor, NEXT_FREE_DAYS);
		return;
	}
	date_shift(j->date, 1);
	book_next_slot(j);
}

static void
book_next_slot(struct job *j)
{
	tconn_call("appt.slots", json_pack("{s:I, s:s}", "doctor_id",
	    (json_int_t)j->doctor_id, "date", j->date), j, book_slots_done, j);
}

static void
book_have_doctor(struct job *j)
{
	if (j->have_time) {
		book_send(j, local_time(j->date, j->hh, j->mm));
		return;
	}
	book_next_slot(j);
}

static void
doctor_picked(struct job *j, json_t *doc)
{
	j->doctor_id = jget_int(doc, "id");
	strlcpy_mf(j->doctor, jget_str(doc, "full_name"), sizeof j->doctor);
	book_have_doctor(j);
}

/* Every doctor of the board, the one under the cursor first. */
static json_t *
doctors_cursor_first(json_t *all)
{
	json_t	*out = json_array(), *d;
	int64_t	 cur = C.host.cursor_doctor != NULL ?
		    C.host.cursor_doctor(C.host.arg) : 0;
	size_t	 i;

	json_array_foreach(all, i, d) {
		if (jget_int(d, "id") == cur)
			json_array_append(out, d);
	}
	json_array_foreach(all, i, d) {
		if (jget_int(d, "id") != cur)
			json_array_append(out, d);
	}
	return out;
}

static void
book_have_patient(struct job *j)
{
	json_t	*all, *fits;
	char	 title[300];

	if (!C.have_host) {
		job_fail(j, "The board is gone.");
		return;
	}
	all = C.host.doctors(C.host.arg);
	if (j->doctor_q[0] != '\0')
		fits = best_fits(all, "full_name", j->doctor_q);
	else
		fits = doctors_cursor_first(all);
	json_decref(all);
	if (json_array_size(fits) == 1) {
		doctor_picked(j, json_array_get(fits, 0));
		json_decref(fits);
		return;
	}
	if (json_array_size(fits) == 0) {
		json_decref(fits);
		if (j->doctor_q[0] != '\0')
			job_fail(j, "Not booked: no doctor called \"%s\".", j->doctor_q);
		else
			job_fail(j, "Not booked: no doctors on the board.");
		return;
	}
	snprintf(title, sizeof title, "Which doctor for %s?",
	    jget_str(j->patient, "full_name"));
	choose(j, title, fits, doctor_label, doctor_picked);
}

static void
patient_picked(struct job *j, json_t *p)
{
	json_decref(j->patient);
	j->patient = json_incref(p);
	book_have_patient(j);
}

static void	patients_search(struct job *, const char *);

static void
patients_done(const struct tconn_reply *reply, void *arg)
{
	struct job	*j = arg;
	json_t		*found, *fits, *p;
	char		 year[8], title[300], prefix[8];
	size_t		 i;

	if (!reply->ok) {
		job_fail(j, "Not booked: %s", reply->message);
		return;
	}
	found = json_array();
	snprintf(year, sizeof year, "%04d-", j->year);
	json_array_foreach(jget_array(reply->result, "patients"), i, p) {
		if (j->year == 0 || strncmp(jget_str(p, "date_of_birth"), year, 5) == 0)
			json_array_append(found, p);
	}
	fits = best_fits(found, "full_name", j->name);
	json_decref(found);
	if (json_array_size(fits) == 0 && !j->retried && strlen(j->name) > 3) {
		/* Loosely: the first letters, then the letters in order. */
		json_decref(fits);
		j->retried = 1;
		snprintf(prefix, sizeof prefix, "%.3s", j->name);
		patients_search(j, prefix);
		return;
	}
	if (json_array_size(fits) == 0) {
		json_decref(fits);
		if (j->year != 0)
			job_fail(j, "Not booked: no patient \"%s\" born in %d.", j->name,
			    j->year);
		else
			job_fail(j, "Not booked: no patient \"%s\"; p registers one.",
			    j->name);
		return;
	}
	if (json_array_size(fits) == 1) {
		patient_picked(j, json_array_get(fits, 0));
		json_decref(fits);
		return;
	}
	snprintf(title, sizeof title, "Which patient \"%s\"?", j->name);
	choose(j, title, fits, patient_label, patient_picked);
}

static void
patients_search(struct job *j, const char *q)
{
	tconn_call("patients.search", json_pack("{s:s, s:i}", "q", q, "limit",
	    SEARCH_LIMIT), j, patients_done, j);
}

static void
command_book(const char *line, char **words, int n)
{
	struct job	*j;
	char		*slash, *p, date[11];
	int		 i, hh, mm;

	if (n < 2) {
		tui_message(1, "b PATIENT[/YEAR] [DAY] [HH:MM] [DOCTOR], "
		    "e.g. b smith/1962 tue 10:20 lee");
		return;
	}
	j = job_new(JOB_BOOK, line);
	strlcpy_mf(j->name, words[1], sizeof j->name);
	if ((slash = strchr(j->name, '/')) != NULL) {
		*slash++ = '\0';
		if (strlen(slash) != 4 || strspn(slash, "0123456789") != 4) {
			job_fail(j, "The year of birth goes after a /: smith/1962.");
			return;
		}
		j->year = atoi(slash);
	}
	/* john.smith or john_smith: the words of one name. */
	for (p = j->name; *p != '\0'; p++) {
		if (*p == '.' || *p == '_')
			*p = ' ';
	}
	if (j->name[0] == '\0') {
		job_fail(j, "Whom to book? b PATIENT ...");
		return;
	}
	for (i = 2; i < n; i++) {
		if (!j->have_date && parse_day(words[i], date)) {
			strlcpy_mf(j->date, date, sizeof j->date);
			j->have_date = 1;
		} else if (!j->have_time && parse_time(words[i], &hh, &mm)) {
			j->hh = hh;
			j->mm = mm;
			j->have_time = 1;
		} else {
			if (j->doctor_q[0] != '\0')
				append(j->doctor_q, " ", sizeof j->doctor_q);
			append(j->doctor_q, words[i], sizeof j->doctor_q);
		}
	}
	if (!j->have_date)
		strlcpy_mf(j->date, C.host.date(C.host.arg), sizeof j->date);
	/* Only the doctor's words are left: "dr" is no name. */
	if (strcasecmp(j->doctor_q, "dr") == 0 || strcasecmp(j->doctor_q, "dr.") == 0)
		j->doctor_q[0] = '\0';
	tui_message(0, "Looking for %s...", j->name);
	patients_search(j, j->name);
}

/* --- c, x: the selection --- */

static void
checkin_picked(struct job *j, json_t *a)
{
	ui_appt_action("appt.checkin", a, NULL);
	job_free(j);
}

static void
command_checkin(const char *line, char **words, int n)
{
	json_t		*sel, *waiting, *fits, *a;
	struct job	*j;
	char		 q[256];
	size_t		 i;
	int		 k;

	if (n < 2) {
		sel = C.host.selected(C.host.arg);
		if (sel == NULL) {
			tui_message(1, "Put the cursor on a booked appointment, or: c NAME");
			return;
		}
		if (strcmp(jget_str(sel, "status"), "approved") != 0) {
			tui_message(1, "Only a booked patient is checked in; this one is %s.",
			    tui_status_label(jget_str(sel, "status")));
			return;
		}
		ui_appt_action("appt.checkin", sel, NULL);
		return;
	}
	q[0] = '\0';
	for (k = 1; k < n; k++) {
		if (k > 1)
			append(q, " ", sizeof q);
		append(q, words[k], sizeof q);
	}
	waiting = json_array();
	json_array_foreach(C.host.appts(C.host.arg), i, a) {
		if (strcmp(jget_str(a, "status"), "approved") == 0)
			json_array_append(waiting, a);
	}
	fits = best_fits(waiting, "patient_name", q);
	json_decref(waiting);
	if (json_array_size(fits) == 0) {
		json_decref(fits);
		tui_message(1, "Nobody booked on this day is called \"%s\".", q);
		return;
	}
	if (json_array_size(fits) == 1) {
		ui_appt_action("appt.checkin", json_array_get(fits, 0), NULL);
		json_decref(fits);
		return;
	}
	j = job_new(JOB_CHECKIN, line);
	choose(j, "Check in whom?", fits, appt_label, checkin_picked);
}

struct cancel_ctx {
	char	op[32];
	json_t	*appt;
};

static void
cancel_done(const struct tconn_reply *reply, void *arg)
{
	struct cancel_ctx	*c = arg;
	char			 what[300];

	describe(c->appt, what, sizeof what);
	if (!reply->ok)
		tui_message(1, "Could not %s %s: %s", strcmp(c->op, "appt.reject") == 0 ?
		    "reject" : "cancel", what, reply->message);
	else {
		undo_note(c->op, json_object_get(reply->result, "appointment"), NULL);
		tui_message(0, "%s %s. (:u undoes it)", strcmp(c->op, "appt.reject") == 0 ?
		    "Rejected" : "Cancelled", what);
	}
	json_decref(c->appt);
	free(c);
}

static void
command_cancel(char **words, int n)
{
	json_t			*sel = C.host.selected(C.host.arg), *args;
	struct cancel_ctx	*c;
	const char		*st;
	char			 reason[FIELD_MAX];
	int			 k;

	if (sel == NULL) {
		tui_message(1, "Put the cursor on an appointment to cancel.");
		return;
	}
	st = jget_str(sel, "status");
	if (!tui_status_active(st)) {
		tui_message(1, "A %s appointment cannot be cancelled.", tui_status_label(st));
		return;
	}
	reason[0] = '\0';
	for (k = 1; k < n; k++) {
		if (k > 1)
			append(reason, " ", sizeof reason);
		append(reason, words[k], sizeof reason);
	}
	c = xcalloc(1, sizeof *c);
	strlcpy_mf(c->op, strcmp(st, "requested") == 0 ? "appt.reject" : "appt.cancel",
	    sizeof c->op);
	if (strcmp(c->op, "appt.reject") == 0 && reason[0] == '\0') {
		free(c);
		tui_message(1, "A request is rejected with a reason the patient sees: x REASON");
		return;
	}
	c->appt = json_incref(sel);
	args = json_pack("{s:I}", "id", (json_int_t)jget_int(sel, "id"));
	if (reason[0] != '\0')
		json_object_set_new(args, "reason", json_string(reason));
	tconn_call(c->op, args, NULL, cancel_done, c);
}

/* --- running a line --- */

static void
command_run(const char *line)
{
	char	 buf[FIELD_MAX], *words[32], *w, *save = NULL, date[11];
	int	 n = 0;

	strlcpy_mf(buf, line, sizeof buf);
	for (w = strtok_r(buf, " \t", &save); w != NULL && n < 32;
	    w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	if (n == 0)
		return;
	if (!C.have_host) {
		tui_message(1, "The command line works on the day board.");
		return;
	}
	if (strcmp(words[0], "b") == 0 || strcmp(words[0], "book") == 0)
		command_book(line, words, n);
	else if (strcmp(words[0], "u") == 0 || strcmp(words[0], "undo") == 0)
		undo_last();
	else if (strcmp(words[0], "c") == 0 || strcmp(words[0], "checkin") == 0)
		command_checkin(line, words, n);
	else if (strcmp(words[0], "x") == 0 || strcmp(words[0], "cancel") == 0)
		command_cancel(words, n);
	else if (strcmp(words[0], "d") == 0 || strcmp(words[0], "day") == 0) {
		if (n < 2 || !parse_day(words[1], date))
			tui_message(1, "d DAY: today, tomorrow, mon..sun, YYYY-MM-DD or D.M");
		else
			C.host.show(C.host.arg, date, 0, 0);
	} else
		tui_message(1, "Unknown command \"%s\": b book, c check in, x cancel, "
		    "u undo, d day (F1 explains).", words[0]);
}

/* --- the line itself, at the bottom of the board --- */

static void
history_add(const char *line)
{
	if (C.nhistory > 0 && strcmp(C.history[C.nhistory - 1], line) == 0)
		return;
	if (C.nhistory == HISTORY_MAX) {
		free(C.history[0]);
		memmove(&C.history[0], &C.history[1],
		    (HISTORY_MAX - 1) * sizeof C.history[0]);
		C.nhistory--;
	}
	C.history[C.nhistory++] = xstrdup(line);
}

static void
cmdline_draw(struct view *v, int y, int x, int h, int w)
{
	struct cmdline	*cl = v->data;

	(void)x;
	tui_put(y + h - 2, 0, w, tui_attr(TC_DIM),
	    " b PATIENT[/YEAR] [DAY] [HH:MM] [DOCTOR]  c [NAME]  x [REASON]  u undo"
	    "  d DAY");
	tui_put(y + h - 1, 0, 1, A_BOLD, ":");
	field_draw(&cl->field, y + h - 1, 1, w - 1, 1);
}

static int
cmdline_key(struct view *v, int key)
{
	struct cmdline	*cl = v->data;
	char		 line[FIELD_MAX];

	if (key == KF(KEY_F(1)))
		return 0;
	if (key == K_ESC || (K_IS_BACKSPACE(key) && cl->field.len == 0)) {
		tui_pop(v);
		return 1;
	}
	if (K_IS_ENTER(key)) {
		strlcpy_mf(line, cl->field.text, sizeof line);
		tui_pop(v);
		if (strspn(line, " ") != strlen(line)) {
			history_add(line);
			command_run(line);
		}
		return 1;
	}
	if (key == KF(KEY_UP) || key == KF(KEY_DOWN)) {
		if (C.nhistory == 0)
			return 1;
		cl->hist += key == KF(KEY_UP) ? -1 : 1;
		if (cl->hist < 0)
			cl->hist = 0;
		if (cl->hist >= C.nhistory) {
			cl->hist = C.nhistory;
			field_set(&cl->field, "");
		} else
			field_set(&cl->field, C.history[cl->hist]);
		return 1;
	}
	field_key(&cl->field, key);
	return 1;
}

static void
cmdline_free(struct view *v)
{
	struct cmdline	*cl = v->data;

	field_wipe(&cl->field);
	free(cl);
}

void
ui_command_attach(const struct command_host *host)
{
	ui_command_forget(NULL);
	C.host = *host;
	C.have_host = 1;
}

void
ui_command_open(void)
{
	struct cmdline	*cl = xcalloc(1, sizeof *cl);

	cl->view.type = &cmdline_type;
	cl->view.data = cl;
	field_init(&cl->field, "command", ":");
	cl->hist = C.nhistory;
	/* The line below the prompt is for what the command says. */
	tui_message(0, "%s", "");
	tui_push(&cl->view);
}

void
ui_command_forget(void *host_arg)
{
	int	i;

	if (host_arg != NULL && (!C.have_host || C.host.arg != host_arg))
		return;
	while (C.jobs != NULL)
		job_free(C.jobs);
	tconn_cancel(&C);
	C.undo_busy = 0;
	C.have_host = 0;
	memset(&C.host, 0, sizeof C.host);
	while (C.nundo > 0)
		undo_drop_last();
	for (i = 0; i < C.nhistory; i++)
		free(C.history[i]);
	C.nhistory = 0;
}
