/* ui-hours.c -- a doctor's weekly hours as one line per weekday
 * ("09:00-12:00/20 13:00-17:00/20": sessions and their slot minutes),
 * read with availability.get and saved whole with availability.set. The
 * breaks are kept as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "util.h"

#define SESSIONS_MAX	64

static const char *const day_names[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
};
static const char *const day_keys[7] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"
};

struct hours {
	int64_t		 doctor_id;
	char		 doctor[128];
	json_t		*breaks;
	int		 slot;			/* slot minutes when a session omits it */
	int		 weekday_of[SESSIONS_MAX];	/* weekly[i]'s weekday */
};

static void
hours_closed(struct dialog *d)
{
	struct hours	*h = d->arg;

	json_decref(h->breaks);
	free(h);
}

static void
hours_saved(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct hours	*h = d->arg;
	int		 i;

	if (!reply->ok) {
		/* "weekly[I]...": beside the weekday of that session. */
		if (sscanf(reply->message, "weekly[%d]", &i) == 1 && i >= 0 &&
		    i < SESSIONS_MAX && h->weekday_of[i] >= 1) {
			struct field	*f = &d->fields[h->weekday_of[i] - 1];

			d->busy = 0;
			strlcpy_mf(f->error, strchr(reply->message, ':') != NULL ?
			    strchr(reply->message, ':') + 2 : reply->message, sizeof f->error);
			d->focus = h->weekday_of[i] - 1;
			tui_redraw();
			return;
		}
		dialog_fail(d, reply);
		return;
	}
	tui_message(0, "Saved the weekly hours of %s; booked appointments stay as they are.",
	    h->doctor);
	dialog_close(d);
}

/* One weekday's line into sessions; 0, or -1 with the field's error. */
static int
parse_day(struct hours *h, struct field *f, int weekday, json_t *weekly)
{
	char	 buf[FIELD_MAX], *w, *save = NULL, start[6], end[6];
	int	 sh, sm, eh, em, slot, n;

	strlcpy_mf(buf, field_value(f), sizeof buf);
	for (w = strtok_r(buf, " ,;", &save); w != NULL; w = strtok_r(NULL, " ,;", &save)) {
		slot = h->slot;
		n = 0;
		if (sscanf(w, "%d:%d-%d:%d%n", &sh, &sm, &eh, &em, &n) != 4 ||
		    (w[n] != '\0' && (w[n] != '/' || sscanf(w + n + 1, "%d", &slot) != 1)) ||
		    sh < 0 || sh > 24 || sm < 0 || sm > 59 || eh < 0 || eh > 24 ||
		    em < 0 || em > 59) {
			snprintf(f->error, sizeof f->error, "\"%s\": as 09:00-12:00/20 "
			    "(start-end/slot minutes)", w);
			return -1;
		}
		if (eh * 60 + em <= sh * 60 + sm || eh * 60 + em > 24 * 60) {
			snprintf(f->error, sizeof f->error, "\"%s\": must end after it "
			    "starts, within the day", w);
			return -1;
		}
		if (json_array_size(weekly) >= SESSIONS_MAX) {
			strlcpy_mf(f->error, "too many sessions", sizeof f->error);
			return -1;
		}
		h->weekday_of[json_array_size(weekly)] = weekday;
		snprintf(start, sizeof start, "%02d:%02d", sh, sm);
		snprintf(end, sizeof end, "%02d:%02d", eh, em);
		json_array_append_new(weekly, json_pack("{s:i, s:s, s:s, s:i}", "weekday",
		    weekday, "start", start, "end", end, "slot_minutes", slot));
	}
	return 0;
}

static void
hours_submit(struct dialog *d)
{
	struct hours	*h = d->arg;
	json_t		*weekly = json_array();
	int		 i;

	for (i = 0; i < 7; i++) {
		d->fields[i].error[0] = '\0';
		if (parse_day(h, &d->fields[i], i + 1, weekly) != 0) {
			json_decref(weekly);
			d->focus = i;
			tui_redraw();
			return;
		}
	}
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call("availability.set", json_pack("{s:I, s:o, s:O}", "doctor_id",
	    (json_int_t)h->doctor_id, "weekly", weekly, "breaks", h->breaks), d,
	    hours_saved, d);
	tui_redraw();
}

static void
hours_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct hours	*h = d->arg;
	json_t		*s;
	size_t		 i;
	char		 piece[64];
	int		 wd;

	d->busy = 0;
	if (!reply->ok) {
		strlcpy_mf(d->error, reply->message, sizeof d->error);
		tui_redraw();
		return;
	}
	d->note[0] = '\0';
	json_decref(h->breaks);
	h->breaks = json_incref(jget_array(reply->result, "breaks"));
	json_array_foreach(jget_array(reply->result, "weekly"), i, s) {
		struct field	*f;

		wd = (int)jget_int(s, "weekday");
		if (wd < 1 || wd > 7)
			continue;
		f = &d->fields[wd - 1];
		h->slot = (int)jget_int(s, "slot_minutes");
		snprintf(piece, sizeof piece, "%s%s-%s/%d", f->len > 0 ? " " : "",
		    jget_str(s, "start"), jget_str(s, "end"), h->slot);
		strlcpy_mf(f->text + f->len, piece, sizeof f->text - f->len);
		f->len = f->pos = strlen(f->text);
	}
	if (h->slot <= 0)
		h->slot = 15;
	if (json_array_size(h->breaks) > 0) {
		snprintf(d->note, sizeof d->note, "%zu break(s) are kept as they are.",
		    json_array_size(h->breaks));
	}
	tui_redraw();
}

void
ui_hours_edit(int64_t doctor_id, const char *doctor)
{
	struct hours	*h = xcalloc(1, sizeof *h);
	struct dialog	*d;
	char		 title[300];
	int		 i;

	h->doctor_id = doctor_id;
	h->breaks = json_array();
	strlcpy_mf(h->doctor, doctor, sizeof h->doctor);
	snprintf(title, sizeof title, "Weekly hours of %s", doctor);
	d = dialog_new(title, hours_submit, h);
	d->closed = hours_closed;
	d->width = 76;
	dialog_text(d, "Sessions as start-end/slot minutes, e.g. 09:00-12:00/20 "
	    "13:00-17:00/20; an empty day has no hours. Appointments already booked "
	    "stay.");
	for (i = 0; i < 7; i++)
		dialog_field(d, day_keys[i], day_names[i]);
	d->failed = 1;		/* Enter saves from any field */
	d->busy = 1;
	d->dialog_hints = "Enter save|Tab next day|Esc cancel";
	strlcpy_mf(d->note, "loading...", sizeof d->note);
	tconn_call("availability.get", json_pack("{s:I}", "doctor_id",
	    (json_int_t)doctor_id), d, hours_loaded, d);
	dialog_open(d);
}
