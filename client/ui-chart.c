/* ui-chart.c -- the doctor's patient chart: a screen over the doctor's own
 * with the patient's appointments, records, prescriptions and files (one
 * patients.history call), the record form (write, amend, versions), the
 * prescription form (write, cancel, renew, the printable text) and a
 * reminder for an appointment. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "mp.h"
#include "tui.h"
#include "util.h"

#define UPLOAD_MAX	(10 * 1024 * 1024)	/* the server's default limit */
#define UPLOAD_CHUNK	(64 * 1024)

enum chart_section {
	SEC_APPTS,
	SEC_RECORDS,
	SEC_RX,
	SEC_FILES,
	SEC__COUNT
};

static const char *const section_names[SEC__COUNT] = {
	"Appointments", "Records", "Prescriptions", "Files"
};
static const char *const section_keys[SEC__COUNT] = {
	"items", "items", "items", "items"
};
static const char *const section_fields[SEC__COUNT] = {
	"appointments", "records", "prescriptions", "files"
};

struct upload;

struct chart {
	struct view	 view;
	struct upload	*upload;		/* a file on its way, or NULL */
	int64_t		 patient_id;
	int64_t		 appointment_id;	/* opened from this visit, or 0 */
	char		 name[256];
	json_t		*history;		/* patients.history's result */
	int		 section;
	struct tlist	 lists[SEC__COUNT];
	int		 loading;
	int		 placed;
	int		 own;			/* a patient's own, as a tab: read only */
	int64_t		 print_id;		/* the prescription p prints */
	char		 error[300];
};

static void	chart_draw(struct view *, int, int, int, int);
static int	chart_key(struct view *, int);
static void	chart_event(struct view *, const char *, json_t *);
static void	chart_free(struct view *);
static void	chart_load(struct chart *);
static void	chart_shown(struct view *);
static void	chart_reload(struct view *);
static void	upload_end(struct upload *, int);
static void	upload_ask(struct chart *, json_t *);

static const struct help_key chart_help[] = {
	{ "Tab Left Right", "appointments, records, prescriptions, files" },
	{ "Up Down j k", "move" },
	{ "Enter", "read it: details, the record, the printable prescription" },
	{ "w", "write a record (linked to the visit the chart was opened from)" },
	{ "A", "amend the record (a new version; a reason is asked)" },
	{ "v", "the record's versions" },
	{ "N", "write a prescription" },
	{ "x", "cancel the prescription (a reason is asked)" },
	{ "e", "renew the prescription" },
	{ "p", "print the prescription: to a file, or lpr" },
	{ "m", "send the patient a reminder of the appointment" },
	{ "c", "chat with the patient (the Chat tab)" },
	{ "f", "attach a file (PDF, PNG, JPEG, text) from a local path to the record" },
	{ "R", "reload" },
	{ "q Esc", "close the chart" },
	{ NULL, NULL }
};

static const struct view_type chart_type = {
	.name = "Patient chart",
	.draw = chart_draw,
	.key = chart_key,
	.event = chart_event,
	.shown = chart_shown,
	.reload = chart_reload,
	.free = chart_free,
	.help = chart_help,
};

static const char *const rx_forms[] = {
	"tablet", "capsule", "syrup", "suspension", "solution", "injection", "cream",
	"ointment", "gel", "drops", "inhaler", "spray", "patch", "suppository",
	"powder", "other", NULL
};
static const char *const rx_routes[] = {
	"oral", "sublingual", "topical", "inhalation", "nasal", "ophthalmic", "otic",
	"intravenous", "intramuscular", "subcutaneous", "rectal", "vaginal",
	"transdermal", "other", NULL
};

/* --- data --- */

static json_t *
chart_items(struct chart *c, int section)
{
	json_t	*s;

	if (c->history == NULL)
		return NULL;
	s = json_object_get(c->history, section_fields[section]);
	return json_object_get(s, section_keys[section]);
}

static json_t *
chart_selected(struct chart *c)
{
	json_t	*items = chart_items(c, c->section);
	int	 cur = c->lists[c->section].cur;

	if (items == NULL || cur < 0 || (size_t)cur >= json_array_size(items))
		return NULL;
	return json_array_get(items, (size_t)cur);
}

static void
chart_loaded(const struct tconn_reply *reply, void *arg)
{
	struct chart	*c = arg;
	json_t		*p;
	int		 i;

	c->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(c->error, reply->message, sizeof c->error);
		tui_redraw();
		return;
	}
	c->error[0] = '\0';
	json_decref(c->history);
	c->history = json_incref(reply->result);
	p = json_object_get(c->history, "patient");
	if (*jget_str(p, "full_name") != '\0')
		strlcpy_mf(c->name, jget_str(p, "full_name"), sizeof c->name);
	for (i = 0; i < SEC__COUNT; i++)
		tlist_set_count(&c->lists[i], (int)json_array_size(chart_items(c, i)));
	/* First the visit the chart was opened from. */
	if (!c->placed) {
		json_t	*a;
		size_t	 k;

		c->placed = 1;
		json_array_foreach(chart_items(c, SEC_APPTS), k, a) {
			if (jget_int(a, "id") == c->appointment_id)
				c->lists[SEC_APPTS].cur = (int)k;
		}
	}
	tui_redraw();
}

static void
chart_load(struct chart *c)
{
	c->loading = 1;
	tconn_call("patients.history", c->own ? json_pack("{s:i}", "limit", 100) :
	    json_pack("{s:I, s:i}", "patient_id", (json_int_t)c->patient_id, "limit", 100),
	    c, chart_loaded, c);
	tui_redraw();
}

/* The patient's tab: what the doctors wrote since it was last looked at. */
static void
chart_shown(struct view *v)
{
	chart_load(v->data);
}

static void
chart_reload(struct view *v)
{
	chart_load(v->data);
}

static void
chart_event(struct view *v, const char *event, json_t *data)
{
	struct chart	*c = v->data;

	if (strcmp(event, "appt.changed") == 0 &&
	    jget_int(data, "patient_id") == c->patient_id)
		chart_load(c);
}

/* --- drawing --- */

static void
record_line(json_t *r, char *buf, size_t len)
{
	char	date[11];

	fmt_date(jget_int(r, "created_at"), date);
	snprintf(buf, len, "%s  v%d  %-7s %s  (%s)", date, (int)jget_int(r, "version"),
	    *jget_str(r, "diagnosis_code") ? jget_str(r, "diagnosis_code") : "-",
	    jget_str(r, "diagnosis"), jget_str(r, "doctor_name"));
}

static void
rx_line(json_t *rx, char *buf, size_t len)
{
	char	 date[11];
	json_t	*items = jget_array(rx, "items"), *first = json_array_get(items, 0);
	size_t	 n = json_array_size(items);
	char	 more[32] = "";

	fmt_date(jget_int(rx, "created_at"), date);
	if (n > 1)
		snprintf(more, sizeof more, " (+%zu more)", n - 1);
	snprintf(buf, len, "%s  Rx #%d  %-9s %s %s%s", date, (int)jget_int(rx, "id"),
	    jget_str(rx, "status"), jget_str(first, "drug"), jget_str(first, "strength"),
	    more);
}

static void
appt_line(json_t *a, char *buf, size_t len)
{
	char	when[40], doctor[300];

	fmt_when(jget_int(a, "starts_at"), when, sizeof when);
	text_pad(doctor, sizeof doctor, jget_str(a, "doctor_name"), 22);
	snprintf(buf, len, "%-13s %s %-10s %s", when, doctor,
	    tui_status_label(jget_str(a, "status")), jget_str(a, "reason"));
}

static void
file_line(json_t *f, char *buf, size_t len)
{
	char	date[11];

	fmt_date(jget_int(f, "created_at"), date);
	snprintf(buf, len, "%s  %-30s %-16s %8lld bytes  record #%lld", date,
	    jget_str(f, "name"), jget_str(f, "mime"), (long long)jget_int(f, "size"),
	    (long long)jget_int(f, "record_id"));
}

static const char *const section_hints[SEC__COUNT] = {
	"Enter details|m reminder|w write record|N prescription|Tab section|q close",
	"Enter read|w write|A amend|v versions|f attach file|N prescription|Tab|q close",
	"Enter printable text|p print|N new|x cancel|e renew|Tab section|q close",
	"Tab section|w record|N prescription|q close",
};

static void
chart_draw(struct view *v, int y, int x, int h, int w)
{
	struct chart	*c = v->data;
	json_t		*p = json_object_get(c->history, "patient"), *items, *it;
	char		 line[1200], tab[80];
	int		 i, col, rows;
	struct tlist	*l = &c->lists[c->section];
	attr_t		 a;

	tui_fill(y, x, h, w, A_NORMAL);
	snprintf(line, sizeof line, "Chart: %s%s%s%s%s", c->name,
	    *jget_str(p, "date_of_birth") ? "  born " : "", jget_str(p, "date_of_birth"),
	    *jget_str(p, "phone") ? "  " : "", jget_str(p, "phone"));
	tui_put(y, x, w, tui_attr(TC_TITLE) | A_BOLD, line);
	for (i = 0, col = x; i < SEC__COUNT; i++) {
		json_t	*s = json_object_get(c->history, section_fields[i]);

		snprintf(tab, sizeof tab, " %s %d ", section_names[i],
		    (int)jget_int(s, "total"));
		col += tui_put(y + 1, col, w - (col - x), i == c->section ?
		    tui_attr(TC_BAR_ACTIVE) : tui_attr(TC_BAR), tab) + 1;
	}
	if (c->error[0] != '\0') {
		tui_put(y + 3, x + 2, w - 4, tui_attr(TC_ERROR), c->error);
		tui_hints(y + h - 1, x + 1, w - 2, tui_attr(TC_DIM), "R reload|q close");
		return;
	}
	rows = h - 4;
	items = chart_items(c, c->section);
	if (c->loading && c->history == NULL)
		tui_put(y + 3, x + 2, w - 4, tui_attr(TC_DIM), "Loading...");
	else if (json_array_size(items) == 0)
		tui_put(y + 3, x + 2, w - 4, tui_attr(TC_DIM), "Nothing here yet.");
	tlist_fit(l, rows);
	for (i = 0; i < rows && l->top + i < l->n; i++) {
		it = json_array_get(items, (size_t)(l->top + i));
		a = A_NORMAL;
		switch (c->section) {
		case SEC_APPTS:
			appt_line(it, line, sizeof line);
			a = tui_attr(tui_status_color(jget_str(it, "status")));
			break;
		case SEC_RECORDS:
			record_line(it, line, sizeof line);
			break;
		case SEC_RX:
			rx_line(it, line, sizeof line);
			if (strcmp(jget_str(it, "status"), "active") != 0)
				a = tui_attr(TC_DIM);
			break;
		default:
			file_line(it, line, sizeof line);
			break;
		}
		if (l->top + i == l->cur)
			a = tui_attr(TC_SELECTED);
		tui_put(y + 3 + i, x, w, a, "");
		tui_put(y + 3 + i, x + 1, w - 2, a, line);
	}
	tui_hints(y + h - 1, x + 1, w - 2, tui_attr(TC_DIM), c->own ?
	    "Enter read it|v versions|p print a prescription|Tab section|? help" :
	    section_hints[c->section]);
}

/* --- reading --- */

static void
record_show(json_t *r)
{
	json_t		*vit = json_object_get(r, "vitals");
	char		 vitals[400] = "", date[40], amended[300] = "";
	const char	*keys[] = { "pulse", "temperature_c", "weight_kg", "height_cm" };
	const char	*labels[] = { "pulse", "temp", "weight", "height" };
	size_t		 i;
	char		 piece[80];

	if (json_is_number(json_object_get(vit, "bp_systolic"))) {
		snprintf(vitals, sizeof vitals, "BP %d/%d",
		    (int)json_number_value(json_object_get(vit, "bp_systolic")),
		    (int)json_number_value(json_object_get(vit, "bp_diastolic")));
	}
	for (i = 0; i < nitems(keys); i++) {
		json_t	*x = json_object_get(vit, keys[i]);

		if (!json_is_number(x))
			continue;
		snprintf(piece, sizeof piece, "%s%s %g", vitals[0] ? ", " : "", labels[i],
		    json_number_value(x));
		strlcpy_mf(vitals + strlen(vitals), piece, sizeof vitals - strlen(vitals));
	}
	fmt_when(jget_int(r, "created_at"), date, sizeof date);
	if (jget_int(r, "current_version") > 1 || *jget_str(r, "amend_reason"))
		snprintf(amended, sizeof amended, "\nVersion %d of %d%s%s",
		    (int)jget_int(r, "version"), (int)jget_int(r, "current_version"),
		    *jget_str(r, "amend_reason") ? "; amended: " : "",
		    jget_str(r, "amend_reason"));
	dialog_message("Record", "%s  %s\n%s (%s)%s\n\nSymptoms: %s\nFindings: %s\n"
	    "Vitals: %s\nNotes: %s\nFollow-up: %s",
	    date, jget_str(r, "author_name"), jget_str(r, "diagnosis"),
	    *jget_str(r, "diagnosis_code") ? jget_str(r, "diagnosis_code") : "no code",
	    amended,
	    *jget_str(r, "symptoms") ? jget_str(r, "symptoms") : "-",
	    *jget_str(r, "findings") ? jget_str(r, "findings") : "-",
	    vitals[0] ? vitals : "-",
	    *jget_str(r, "notes") ? jget_str(r, "notes") : "-",
	    *jget_str(r, "follow_up") ? jget_str(r, "follow_up") : "-");
}

static void
rx_printed(const struct tconn_reply *reply, void *arg)
{
	(void)arg;
	if (!reply->ok) {
		tui_message(1, "Cannot print it: %s", reply->message);
		return;
	}
	dialog_message("Prescription", "%s", jget_str(reply->result, "text"));
}

/* The same text to a file or lpr (p). */
static void
rx_printed_to(const struct tconn_reply *reply, void *arg)
{
	struct chart	*c = arg;
	char		 what[64], path[128];

	if (!reply->ok) {
		tui_message(1, "Cannot print it: %s", reply->message);
		return;
	}
	snprintf(what, sizeof what, "Prescription #%lld", (long long)c->print_id);
	snprintf(path, sizeof path, "~/mediflow-prescription-%lld.txt",
	    (long long)c->print_id);
	ui_print_text(what, path, jget_str(reply->result, "text"));
}

static void
rx_print_to(struct chart *c, json_t *rx)
{
	c->print_id = jget_int(rx, "id");
	tconn_call("rx.print", json_pack("{s:I}", "id", (json_int_t)c->print_id), c,
	    rx_printed_to, c);
}

static void
version_label(struct dialog *d, json_t *r, char *buf, size_t len, attr_t *a)
{
	char	when[40];

	(void)d;
	(void)a;
	fmt_when(jget_int(r, "amended_at") ? jget_int(r, "amended_at") :
	    jget_int(r, "created_at"), when, sizeof when);
	snprintf(buf, len, "v%d  %s  %s  %s", (int)jget_int(r, "version"), when,
	    jget_str(r, "diagnosis"), *jget_str(r, "amend_reason") ?
	    jget_str(r, "amend_reason") : "");
}

static void
version_pick(struct dialog *d)
{
	json_t	*r = dialog_selected(d);

	if (r != NULL)
		record_show(r);
}

static void
versions_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;

	if (!reply->ok) {
		strlcpy_mf(d->error, reply->message, sizeof d->error);
		tui_redraw();
		return;
	}
	d->note[0] = '\0';
	dialog_set_items(d, json_incref(jget_array(reply->result, "versions")));
}

static void
record_versions(json_t *r)
{
	struct dialog	*d = dialog_new("Versions of the record", version_pick, NULL);

	d->items = json_array();
	d->item_label = version_label;
	d->list_rows = 8;
	d->width = 76;
	d->dialog_hints = "Enter read it|Esc close";
	strlcpy_mf(d->note, "loading...", sizeof d->note);
	tconn_call("records.versions", json_pack("{s:I}", "id",
	    (json_int_t)jget_int(r, "id")), d, versions_loaded, d);
	dialog_open(d);
}

/* --- forms: shared pieces --- */

/* A form over the chart (which stays below it until the form closes). */
struct form {
	struct chart	*chart;
	json_t		*record;	/* amending this one */
	json_t		*rx;		/* cancelling this one */
	char		 vitals_was[FIELD_MAX];
};

static void
form_closed(struct dialog *d)
{
	struct form	*f = d->arg;

	json_decref(f->record);
	json_decref(f->rx);
	free(f);
}

/* Shows a refusal beside its field: "vitals.pulse: ..." beside vitals,
 * "items[0].route: ..." beside route. */
static void
form_fail(struct dialog *d, const struct tconn_reply *reply)
{
	struct tconn_reply	 r = *reply;
	char			 msg[600];

	if (strncmp(r.message, "items[0].", 9) == 0)
		r.message += 9;
	else if (strncmp(r.message, "vitals.", 7) == 0) {
		snprintf(msg, sizeof msg, "vitals: %s", r.message + 7);
		r.message = msg;
	}
	dialog_fail(d, &r);
}

static int
field_int(struct dialog *d, const char *name, int64_t *out)
{
	struct field	*f = dialog_get(d, name);
	char		*end;
	long long	 v;

	v = strtoll(field_value(f), &end, 10);
	if (field_value(f)[0] == '\0' || *end != '\0') {
		strlcpy_mf(f->error, "a whole number", sizeof f->error);
		d->focus = (int)(f - d->fields);
		return -1;
	}
	*out = v;
	return 0;
}

/* "bp=120/80 pulse=72 temp=37.2 weight=70 height=170" -> a vitals map;
 * NULL with the field's error set when a word is not one of these. */
static json_t *
parse_vitals(struct field *f)
{
	char	 buf[FIELD_MAX], *w, *save = NULL, *eq, *end;
	json_t	*v = json_object();
	double	 x;
	int	 sys, dia;

	strlcpy_mf(buf, field_value(f), sizeof buf);
	for (w = strtok_r(buf, " ,;", &save); w != NULL; w = strtok_r(NULL, " ,;", &save)) {
		if ((eq = strchr(w, '=')) == NULL)
			goto bad;
		*eq++ = '\0';
		if (strcmp(w, "bp") == 0) {
			if (sscanf(eq, "%d/%d", &sys, &dia) != 2)
				goto bad;
			json_object_set_new(v, "bp_systolic", json_integer(sys));
			json_object_set_new(v, "bp_diastolic", json_integer(dia));
			continue;
		}
		x = strtod(eq, &end);
		if (*eq == '\0' || *end != '\0')
			goto bad;
		if (strcmp(w, "pulse") == 0)
			json_object_set_new(v, "pulse", json_integer((json_int_t)x));
		else if (strcmp(w, "temp") == 0)
			json_object_set_new(v, "temperature_c", json_real(x));
		else if (strcmp(w, "weight") == 0)
			json_object_set_new(v, "weight_kg", json_real(x));
		else if (strcmp(w, "height") == 0)
			json_object_set_new(v, "height_cm", json_real(x));
		else
			goto bad;
	}
	return v;
bad:
	json_decref(v);
	strlcpy_mf(f->error, "as bp=120/80 pulse=72 temp=37.2 weight=70 height=170",
	    sizeof f->error);
	return NULL;
}

static void
vitals_text(json_t *vit, char *out, size_t len)
{
	char	piece[80];

	out[0] = '\0';
	if (json_is_number(json_object_get(vit, "bp_systolic"))) {
		snprintf(piece, sizeof piece, "bp=%d/%d ",
		    (int)json_number_value(json_object_get(vit, "bp_systolic")),
		    (int)json_number_value(json_object_get(vit, "bp_diastolic")));
		strlcpy_mf(out + strlen(out), piece, len - strlen(out));
	}
#define VITAL(key, name) do {							\
	if (json_is_number(json_object_get(vit, key))) {			\
		snprintf(piece, sizeof piece, "%s=%g ", name,			\
		    json_number_value(json_object_get(vit, key)));		\
		strlcpy_mf(out + strlen(out), piece, len - strlen(out));	\
	}									\
} while (0)
	VITAL("pulse", "pulse");
	VITAL("temperature_c", "temp");
	VITAL("weight_kg", "weight");
	VITAL("height_cm", "height");
#undef VITAL
	if (out[0] != '\0')
		out[strlen(out) - 1] = '\0';
}

/* --- the record form --- */

static void
record_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct form	*f = d->arg;
	json_t		*r;

	if (!reply->ok) {
		form_fail(d, reply);
		return;
	}
	r = json_object_get(reply->result, "record");
	tui_message(0, "%s the record \"%s\" (version %d).", f->record != NULL ?
	    "Amended" : "Wrote", jget_str(r, "diagnosis"), (int)jget_int(r, "version"));
	if (f->chart != NULL) {
		f->chart->section = SEC_RECORDS;
		chart_load(f->chart);
	}
	dialog_close(d);
}

static void
record_submit(struct dialog *d)
{
	struct form	*f = d->arg;
	static const char *const texts[] = {
		"diagnosis", "diagnosis_code", "symptoms", "findings", "notes", "follow_up"
	};
	struct field	*vf = dialog_get(d, "vitals");
	json_t		*args = json_object(), *vit;
	size_t		 i;
	const char	*v;

	for (i = 0; i < nitems(texts); i++) {
		v = field_value(dialog_get(d, texts[i]));
		/* On create, empty optional fields are left out; on amend ""
		 * clears them. */
		if (*v != '\0' || f->record != NULL)
			json_object_set_new(args, texts[i], json_string(v));
	}
	if (f->record != NULL && *field_value(dialog_get(d, "follow_up")) == '\0')
		json_object_set_new(args, "follow_up", json_null());
	if (strcmp(field_value(vf), f->vitals_was) != 0 || f->record == NULL) {
		if ((vit = parse_vitals(vf)) == NULL) {
			json_decref(args);
			d->focus = (int)(vf - d->fields);
			tui_redraw();
			return;
		}
		if (json_object_size(vit) > 0 || f->record != NULL)
			json_object_set_new(args, "vitals", vit);
		else
			json_decref(vit);
	}
	if (f->record != NULL) {
		json_object_set_new(args, "id", json_integer(jget_int(f->record, "id")));
		json_object_set_new(args, "reason",
		    json_string(field_value(dialog_get(d, "reason"))));
	} else {
		json_object_set_new(args, "patient_id",
		    json_integer(f->chart->patient_id));
		if (f->chart->appointment_id != 0)
			json_object_set_new(args, "appointment_id",
			    json_integer(f->chart->appointment_id));
	}
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call(f->record != NULL ? "records.amend" : "records.create", args, d,
	    record_done, d);
	tui_redraw();
}

static void
record_form(struct chart *c, json_t *record)
{
	struct form	*f = xcalloc(1, sizeof *f);
	struct dialog	*d;
	char		 title[400];

	f->chart = c;
	f->record = record != NULL ? json_incref(record) : NULL;
	if (record != NULL)
		snprintf(title, sizeof title, "Amend the record of %s", c->name);
	else
		snprintf(title, sizeof title, "New record for %s", c->name);
	d = dialog_new(title, record_submit, f);
	d->closed = form_closed;
	d->width = 78;
	field_set(dialog_field(d, "diagnosis", "Diagnosis"),
	    jget_str(record, "diagnosis"));
	field_set(dialog_field(d, "diagnosis_code", "ICD-10 code"),
	    jget_str(record, "diagnosis_code"));
	field_set(dialog_field(d, "symptoms", "Symptoms"), jget_str(record, "symptoms"));
	field_set(dialog_field(d, "findings", "Findings"), jget_str(record, "findings"));
	field_set(dialog_field(d, "vitals", "Vitals"), "");
	if (record != NULL) {
		vitals_text(json_object_get(record, "vitals"), f->vitals_was,
		    sizeof f->vitals_was);
		field_set(dialog_get(d, "vitals"), f->vitals_was);
	}
	field_set(dialog_field(d, "notes", "Notes"), jget_str(record, "notes"));
	field_set(dialog_field(d, "follow_up", "Follow-up date"),
	    jget_str(record, "follow_up"));
	if (record != NULL)
		dialog_field(d, "reason", "Why amended");
	dialog_text(d, "Vitals as bp=120/80 pulse=72 temp=37.2 weight=70 height=170; "
	    "the follow-up as YYYY-MM-DD.");
	d->dialog_hints = "Enter next / save|Tab next field|Esc cancel";
	dialog_open(d);
}

/* --- the prescription form --- */

static void
rx_done(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct form	*f = d->arg;
	json_t		*rx;

	if (!reply->ok) {
		form_fail(d, reply);
		return;
	}
	rx = json_object_get(reply->result, "prescription");
	tui_message(0, "Prescription #%d %s for %s.", (int)jget_int(rx, "id"),
	    f->rx != NULL ? "cancelled" : "written", jget_str(rx, "patient_name"));
	if (f->chart != NULL) {
		f->chart->section = SEC_RX;
		chart_load(f->chart);
	}
	dialog_close(d);
}

static void
rx_submit(struct dialog *d)
{
	struct form	*f = d->arg;
	json_t		*item = json_object(), *args;
	int64_t		 days, qty, refills;
	static const char *const texts[] = {
		"drug", "strength", "form", "dose", "route", "frequency"
	};
	size_t		 i;

	if (field_int(d, "duration_days", &days) != 0 ||
	    field_int(d, "quantity", &qty) != 0 ||
	    field_int(d, "refills", &refills) != 0) {
		json_decref(item);
		tui_redraw();
		return;
	}
	for (i = 0; i < nitems(texts); i++)
		json_object_set_new(item, texts[i],
		    json_string(field_value(dialog_get(d, texts[i]))));
	json_object_set_new(item, "duration_days", json_integer(days));
	json_object_set_new(item, "quantity", json_integer(qty));
	json_object_set_new(item, "refills", json_integer(refills));
	if (*field_value(dialog_get(d, "instructions")) != '\0')
		json_object_set_new(item, "instructions",
		    json_string(field_value(dialog_get(d, "instructions"))));
	args = json_pack("{s:I, s:[o]}", "patient_id", (json_int_t)f->chart->patient_id,
	    "items", item);
	if (*field_value(dialog_get(d, "notes")) != '\0')
		json_object_set_new(args, "notes",
		    json_string(field_value(dialog_get(d, "notes"))));
	if (f->chart->appointment_id != 0)
		json_object_set_new(args, "appointment_id",
		    json_integer(f->chart->appointment_id));
	d->busy = 1;
	d->error[0] = '\0';
	tconn_call("rx.create", args, d, rx_done, d);
	tui_redraw();
}

static void
rx_form(struct chart *c)
{
	struct form	*f = xcalloc(1, sizeof *f);
	struct dialog	*d;
	char		 title[400];
	struct field	*fl;

	f->chart = c;
	snprintf(title, sizeof title, "New prescription for %s", c->name);
	d = dialog_new(title, rx_submit, f);
	d->closed = form_closed;
	d->width = 72;
	dialog_field(d, "drug", "Drug");
	dialog_field(d, "strength", "Strength");
	fl = dialog_field(d, "form", "Form");
	fl->choices = rx_forms;
	dialog_field(d, "dose", "Dose");
	fl = dialog_field(d, "route", "Route");
	fl->choices = rx_routes;
	dialog_field(d, "frequency", "Frequency");
	dialog_field(d, "duration_days", "Days");
	dialog_field(d, "quantity", "Quantity");
	field_set(dialog_field(d, "refills", "Refills"), "0");
	dialog_field(d, "instructions", "Instructions");
	dialog_field(d, "notes", "Notes");
	d->dialog_hints = "Enter next / save|Left/Right choose|Esc cancel";
	dialog_open(d);
}

static void
rx_cancel_submit(struct dialog *d)
{
	struct form	*f = d->arg;

	d->busy = 1;
	tconn_call("rx.cancel", json_pack("{s:I, s:s}", "id",
	    (json_int_t)jget_int(f->rx, "id"), "reason",
	    field_value(dialog_get(d, "reason"))), d, rx_done, d);
	tui_redraw();
}

static void
rx_cancel(struct chart *c, json_t *rx)
{
	struct form	*f = xcalloc(1, sizeof *f);
	struct dialog	*d;

	f->chart = c;
	f->rx = json_incref(rx);
	d = dialog_new("Cancel the prescription", rx_cancel_submit, f);
	d->closed = form_closed;
	dialog_text(d, "Cancel Rx #%d (%s)? It can no longer be dispensed.",
	    (int)jget_int(rx, "id"), jget_str(json_array_get(jget_array(rx, "items"), 0),
	    "drug"));
	dialog_field(d, "reason", "Reason");
	d->dialog_hints = "Enter cancel it|Esc keep it";
	dialog_open(d);
}

static void
rx_renewed(const struct tconn_reply *reply, void *arg)
{
	struct chart	*c = arg;

	if (!reply->ok) {
		tui_message(1, "Not renewed: %s", reply->message);
		return;
	}
	tui_message(0, "Renewed as prescription #%d.", (int)jget_int(json_object_get(
	    reply->result, "prescription"), "id"));
	chart_load(c);
}

static void
reminder_sent(const struct tconn_reply *reply, void *arg)
{
	(void)arg;
	if (!reply->ok)
		tui_message(1, "No reminder sent: %s", reply->message);
	else
		tui_message(0, "Reminder queued (%zu channel%s); the outbox shows how it went.",
		    json_array_size(jget_array(reply->result, "reminders")),
		    json_array_size(jget_array(reply->result, "reminders")) == 1 ? "" : "s");
}

/* --- attaching a file --- */

struct upload {
	struct chart	*chart;
	int64_t		 record_id;
	unsigned char	*data;
	size_t		 size, off, chunk;
	char		 name[256];
	const char	*mime;
	char		 id[80];		/* the server's upload_id */
	char		 sha256[crypto_hash_sha256_BYTES * 2 + 1];
};

static void	upload_next(struct upload *);

/* Ends an upload; abort tells the server to drop what it has. */
static void
upload_end(struct upload *up, int abort_it)
{
	tconn_cancel(up);
	if (abort_it && up->id[0] != '\0' && tconn_state() == TCONN_READY)
		tconn_call("files.abort", json_pack("{s:s}", "upload_id", up->id),
		    NULL, NULL, NULL);
	if (up->chart != NULL && up->chart->upload == up)
		up->chart->upload = NULL;
	free(up->data);
	free(up);
}

/* The type the server will find in the bytes (it checks them at commit). */
static const char *
sniff_mime(const unsigned char *b, size_t n)
{
	if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return "image/jpeg";
	if (memchr(b, '\0', n) == NULL && utf8_valid((const char *)b, n))
		return "text/plain";
	return NULL;
}

static void
upload_committed(const struct tconn_reply *reply, void *arg)
{
	struct upload	*up = arg;
	json_t		*f;

	if (!reply->ok) {
		tui_message(1, "Not attached: %s", reply->message);
		up->id[0] = '\0';	/* a refused commit leaves nothing */
		upload_end(up, 0);
		return;
	}
	f = json_object_get(reply->result, "file");
	tui_message(0, "Attached %s (%lld bytes, %s).", jget_str(f, "name"),
	    (long long)jget_int(f, "size"), jget_str(f, "mime"));
	if (up->chart != NULL) {
		up->chart->section = SEC_FILES;
		chart_load(up->chart);
	}
	up->id[0] = '\0';
	upload_end(up, 0);
}

static void
upload_chunk_done(const struct tconn_reply *reply, void *arg)
{
	struct upload	*up = arg;

	if (!reply->ok) {
		tui_message(1, "Upload of %s failed: %s", up->name, reply->message);
		upload_end(up, 1);
		return;
	}
	up->off = (size_t)jget_int(reply->result, "received");
	upload_next(up);
}

static void
upload_next(struct upload *up)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	size_t		 n;

	if (up->off >= up->size) {
		tconn_call("files.commit", json_pack("{s:s, s:s}", "upload_id", up->id,
		    "sha256", up->sha256), up, upload_committed, up);
		return;
	}
	n = up->size - up->off < up->chunk ? up->size - up->off : up->chunk;
	/* The bytes go as msgpack bin, which JSON cannot say. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_str(&pk, "upload_id", up->id);
	mp_pack_kv_int(&pk, "offset", (int64_t)up->off);
	mp_pack_str(&pk, "bytes");
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, up->data + up->off, n);
	tconn_call_packed("files.chunk", sb.data, sb.size, up, upload_chunk_done, up);
	msgpack_sbuffer_destroy(&sb);
	tui_message(0, "Uploading %s: %d%%...", up->name,
	    (int)(up->off * 100 / (up->size > 0 ? up->size : 1)));
}

static void
upload_begun(const struct tconn_reply *reply, void *arg)
{
	struct upload	*up = arg;
	int64_t		 max;

	if (!reply->ok) {
		tui_message(1, "Not attached: %s", reply->message);
		upload_end(up, 0);
		return;
	}
	strlcpy_mf(up->id, jget_str(reply->result, "upload_id"), sizeof up->id);
	max = jget_int(reply->result, "chunk_max");
	up->chunk = max > 0 && max < UPLOAD_CHUNK ? (size_t)max : UPLOAD_CHUNK;
	upload_next(up);
}

/* Reads the whole file (at most UPLOAD_MAX bytes); NULL and err on failure. */
static unsigned char *
read_file(const char *path, size_t *size, char *err, size_t errlen)
{
	struct stat	 st;
	unsigned char	*buf;
	size_t		 off = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return NULL;
	}
	if (st.st_size == 0 || st.st_size > UPLOAD_MAX) {
		snprintf(err, errlen, st.st_size == 0 ? "the file is empty" :
		    "larger than %d MiB", UPLOAD_MAX / (1024 * 1024));
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size);
	while (off < (size_t)st.st_size) {
		if ((r = read(fd, buf + off, (size_t)st.st_size - off)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read it: %s",
			    r == 0 ? "it got shorter" : strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		off += (size_t)r;
	}
	close(fd);
	*size = off;
	return buf;
}

static void
upload_submit(struct dialog *d)
{
	struct form	*f = d->arg;
	struct field	*pf = dialog_get(d, "path");
	struct upload	*up;
	unsigned char	 hash[crypto_hash_sha256_BYTES];
	char		 path[FIELD_MAX + 256];
	const char	*p = field_value(pf), *base;

	if (f->chart->upload != NULL) {
		strlcpy_mf(d->error, "another file is still on its way", sizeof d->error);
		return;
	}
	if (p[0] == '~' && p[1] == '/' && getenv("HOME") != NULL)
		snprintf(path, sizeof path, "%s%s", getenv("HOME"), p + 1);
	else
		snprintf(path, sizeof path, "%s", p);
	up = xcalloc(1, sizeof *up);
	if ((up->data = read_file(path, &up->size, pf->error, sizeof pf->error)) == NULL) {
		free(up);
		tui_redraw();
		return;
	}
	if ((up->mime = sniff_mime(up->data, up->size)) == NULL) {
		strlcpy_mf(pf->error, "not a PDF, PNG, JPEG or UTF-8 text file",
		    sizeof pf->error);
		free(up->data);
		free(up);
		tui_redraw();
		return;
	}
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	strlcpy_mf(up->name, base, sizeof up->name);
	crypto_hash_sha256(hash, up->data, up->size);
	sodium_bin2hex(up->sha256, sizeof up->sha256, hash, sizeof hash);
	up->record_id = jget_int(f->record, "id");
	up->chart = f->chart;
	f->chart->upload = up;
	tconn_call("files.begin", json_pack("{s:I, s:s, s:s, s:I}", "record_id",
	    (json_int_t)up->record_id, "name", up->name, "mime", up->mime, "size",
	    (json_int_t)up->size), up, upload_begun, up);
	tui_message(0, "Uploading %s...", up->name);
	dialog_close(d);
}

static void
upload_ask(struct chart *c, json_t *record)
{
	struct form	*f = xcalloc(1, sizeof *f);
	struct dialog	*d;

	f->chart = c;
	f->record = json_incref(record);
	d = dialog_new("Attach a file", upload_submit, f);
	d->closed = form_closed;
	d->width = 76;
	dialog_text(d, "To the record \"%s\". A PDF, PNG, JPEG or plain text file of at "
	    "most %d MiB, from this machine.", jget_str(record, "diagnosis"),
	    UPLOAD_MAX / (1024 * 1024));
	dialog_field(d, "path", "Path");
	d->dialog_hints = "Enter attach it|Esc cancel";
	dialog_open(d);
}

/* --- keys --- */

static int
chart_key(struct view *v, int key)
{
	struct chart	*c = v->data;
	json_t		*sel = chart_selected(c);

	if (key == KF(KEY_F(1)) || key == '?')
		return 0;
	if (key == 'q' || key == K_ESC) {
		if (c->own)
			return 0;	/* a tab: q quits as on every screen */
		tui_pop(v);
		return 1;
	}
	if (key == K_TAB || key == KF(KEY_RIGHT) || key == 'l') {
		c->section = (c->section + 1) % SEC__COUNT;
		return 1;
	}
	if (key == KF(KEY_BTAB) || key == KF(KEY_LEFT) || key == 'h') {
		c->section = (c->section + SEC__COUNT - 1) % SEC__COUNT;
		return 1;
	}
	if (tlist_key(&c->lists[c->section], key, tui_page()))
		return 1;
	if (c->own) {
		/* The patient reads; the doctors write. */
		if (key == 'R')
			chart_load(c);
		else if (c->section == SEC_RECORDS && sel != NULL && K_IS_ENTER(key))
			record_show(sel);
		else if (c->section == SEC_RECORDS && sel != NULL && key == 'v')
			record_versions(sel);
		else if (c->section == SEC_RX && sel != NULL && K_IS_ENTER(key))
			tconn_call("rx.print", json_pack("{s:I}", "id",
			    (json_int_t)jget_int(sel, "id")), c, rx_printed, NULL);
		else if (c->section == SEC_RX && sel != NULL && key == 'p')
			rx_print_to(c, sel);
		else if (c->section == SEC_APPTS && sel != NULL && K_IS_ENTER(key))
			ui_appt_details(sel, NULL);
		else
			return 0;
		return 1;
	}
	switch (key) {
	case 'R':
		chart_load(c);
		return 1;
	case 'w':
		record_form(c, NULL);
		return 1;
	case 'N':
		rx_form(c);
		return 1;
	case 'c':
		if (jget_int(json_object_get(c->history, "patient"), "user_id") == 0)
			tui_message(1, "%s has no online account to chat with.", c->name);
		else
			ui_chat_with(jget_int(json_object_get(c->history, "patient"),
			    "user_id"));
		return 1;
	}
	if (c->section == SEC_RECORDS && sel != NULL) {
		if (K_IS_ENTER(key))
			record_show(sel);
		else if (key == 'A')
			record_form(c, sel);
		else if (key == 'v')
			record_versions(sel);
		else if (key == 'f')
			upload_ask(c, sel);
		return 1;
	}
	if (c->section == SEC_RX && sel != NULL) {
		if (K_IS_ENTER(key))
			tconn_call("rx.print", json_pack("{s:I}", "id",
			    (json_int_t)jget_int(sel, "id")), c, rx_printed, NULL);
		else if (key == 'x') {
			if (strcmp(jget_str(sel, "status"), "active") != 0)
				tui_message(1, "Only an active prescription is cancelled.");
			else
				rx_cancel(c, sel);
		} else if (key == 'e')
			tconn_call("rx.renew", json_pack("{s:I}", "id",
			    (json_int_t)jget_int(sel, "id")), c, rx_renewed, c);
		else if (key == 'p')
			rx_print_to(c, sel);
		return 1;
	}
	if (c->section == SEC_APPTS && sel != NULL) {
		if (K_IS_ENTER(key))
			ui_appt_details(sel, NULL);
		else if (key == 'm')
			tconn_call("notify.send_reminder", json_pack("{s:I}",
			    "appointment_id", (json_int_t)jget_int(sel, "id")), c,
			    reminder_sent, NULL);
		return 1;
	}
	return 1;
}

static void
chart_free(struct view *v)
{
	struct chart	*c = v->data;

	if (c->upload != NULL)
		upload_end(c->upload, 1);
	json_decref(c->history);
	free(c);
}

struct view *
ui_chart_own_new(void)
{
	struct chart	*c = xcalloc(1, sizeof *c);

	c->view.type = &chart_type;
	c->view.data = c;
	c->patient_id = tui_me()->patient_id;
	c->own = 1;
	c->section = SEC_RECORDS;
	strlcpy_mf(c->name, tui_me()->full_name, sizeof c->name);
	chart_load(c);
	return &c->view;
}

void
ui_chart_open(int64_t patient_id, const char *name, int64_t appointment_id)
{
	struct chart	*c = xcalloc(1, sizeof *c);

	c->view.type = &chart_type;
	c->view.data = c;
	c->patient_id = patient_id;
	c->appointment_id = appointment_id;
	strlcpy_mf(c->name, name, sizeof c->name);
	tui_push(&c->view);
	chart_load(c);
}
