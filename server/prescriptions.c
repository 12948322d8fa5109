/* prescriptions.c -- prescriptions and their items (tables prescriptions,
 * prescription_items), their status and their print layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinic-time.h"
#include "db.h"
#include "mp.h"
#include "prescriptions.h"
#include "util.h"

#define DAY	86400

const char *const rx_forms[] = {
	"tablet", "capsule", "syrup", "suspension", "solution", "injection",
	"cream", "ointment", "gel", "drops", "inhaler", "spray", "patch",
	"suppository", "powder", "other", NULL
};

const char *const rx_routes[] = {
	"oral", "sublingual", "topical", "inhalation", "nasal", "ophthalmic",
	"otic", "intravenous", "intramuscular", "subcutaneous", "rectal",
	"vaginal", "transdermal", "other", NULL
};

#define RX_COLUMNS \
	"SELECT x.id, x.patient_id, x.doctor_id, x.appointment_id, x.status, " \
	"x.notes, x.created_by, x.created_at, x.ends_at, x.cancelled_at, " \
	"x.cancelled_by, x.cancel_reason, x.renewed_from, du.full_name, " \
	"p.full_name, p.date_of_birth FROM prescriptions x " \
	"JOIN doctors d ON d.id = x.doctor_id JOIN users du ON du.id = d.user_id " \
	"JOIN patients p ON p.id = x.patient_id "

static void	copy_col(sqlite3_stmt *, int, char *, size_t);
static int	name_index(const char *const *, const char *);
static void	rx_from_row(sqlite3_stmt *, struct rx *);
static int	rx_load_items(struct rx *);

static void
copy_col(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const char	*s = db_col_text(st, col);

	strlcpy_mf(dst, s != NULL ? s : "", len);
}

static int
name_index(const char *const *names, const char *s)
{
	int	i;

	for (i = 0; s != NULL && names[i] != NULL; i++) {
		if (strcmp(names[i], s) == 0)
			return i;
	}
	return i - 1;	/* "other" is last */
}

int64_t
rx_course_end(const struct rx *x)
{
	int64_t	longest = 0, days;
	int	i;

	for (i = 0; i < x->nitems; i++) {
		days = (int64_t)x->items[i].duration_days * (x->items[i].refills + 1);
		if (days > longest)
			longest = days;
	}
	return x->created_at + longest * DAY;
}

const char *
rx_status(const struct rx *x, int64_t now)
{
	if (x->cancelled)
		return "cancelled";
	return now >= x->ends_at ? "completed" : "active";
}

static void
rx_from_row(sqlite3_stmt *st, struct rx *x)
{
	const char	*status;

	memset(x, 0, sizeof *x);
	x->id = sqlite3_column_int64(st, 0);
	x->patient_id = sqlite3_column_int64(st, 1);
	x->doctor_id = sqlite3_column_int64(st, 2);
	x->appointment_id = sqlite3_column_int64(st, 3);
	status = db_col_text(st, 4);
	x->cancelled = status != NULL && strcmp(status, "cancelled") == 0;
	copy_col(st, 5, x->notes, sizeof x->notes);
	x->created_by = sqlite3_column_int64(st, 6);
	x->created_at = sqlite3_column_int64(st, 7);
	x->ends_at = sqlite3_column_int64(st, 8);
	x->cancelled_at = sqlite3_column_int64(st, 9);
	x->cancelled_by = sqlite3_column_int64(st, 10);
	copy_col(st, 11, x->cancel_reason, sizeof x->cancel_reason);
	x->renewed_from = sqlite3_column_int64(st, 12);
	copy_col(st, 13, x->doctor_name, sizeof x->doctor_name);
	copy_col(st, 14, x->patient_name, sizeof x->patient_name);
	copy_col(st, 15, x->patient_dob, sizeof x->patient_dob);
}

static int
rx_load_items(struct rx *x)
{
	sqlite3_stmt	*st;
	struct rx_item	*it;

	st = db_prepare("SELECT drug, strength, form, dose, route, frequency, "
	    "duration_days, quantity, refills, instructions FROM prescription_items "
	    "WHERE prescription_id = ? ORDER BY position");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, x->id);
	x->nitems = 0;
	while (x->nitems < RX_ITEMS_MAX && sqlite3_step(st) == SQLITE_ROW) {
		it = &x->items[x->nitems++];
		copy_col(st, 0, it->drug, sizeof it->drug);
		copy_col(st, 1, it->strength, sizeof it->strength);
		it->form = name_index(rx_forms, db_col_text(st, 2));
		copy_col(st, 3, it->dose, sizeof it->dose);
		it->route = name_index(rx_routes, db_col_text(st, 4));
		copy_col(st, 5, it->frequency, sizeof it->frequency);
		it->duration_days = sqlite3_column_int(st, 6);
		it->quantity = sqlite3_column_int(st, 7);
		it->refills = sqlite3_column_int(st, 8);
		copy_col(st, 9, it->instructions, sizeof it->instructions);
	}
	sqlite3_reset(st);
	return 0;
}

int
rx_insert(struct rx *x)
{
	sqlite3_stmt	*st;
	struct rx_item	*it;
	int		 i;

	x->ends_at = rx_course_end(x);
	st = db_prepare("INSERT INTO prescriptions (patient_id, doctor_id, "
	    "appointment_id, notes, created_by, created_at, ends_at, renewed_from) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, x->patient_id);
	sqlite3_bind_int64(st, 2, x->doctor_id);
	db_bind_opt_int(st, 3, x->appointment_id != 0, x->appointment_id);
	db_bind_text(st, 4, x->notes);
	sqlite3_bind_int64(st, 5, x->created_by);
	sqlite3_bind_int64(st, 6, x->created_at);
	sqlite3_bind_int64(st, 7, x->ends_at);
	db_bind_opt_int(st, 8, x->renewed_from != 0, x->renewed_from);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	x->id = db_last_id();
	for (i = 0; i < x->nitems; i++) {
		it = &x->items[i];
		st = db_prepare("INSERT INTO prescription_items (prescription_id, "
		    "position, drug, strength, form, dose, route, frequency, "
		    "duration_days, quantity, refills, instructions) "
		    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, x->id);
		sqlite3_bind_int(st, 2, i + 1);
		db_bind_text(st, 3, it->drug);
		db_bind_text(st, 4, it->strength);
		db_bind_text(st, 5, rx_forms[it->form]);
		db_bind_text(st, 6, it->dose);
		db_bind_text(st, 7, rx_routes[it->route]);
		db_bind_text(st, 8, it->frequency);
		sqlite3_bind_int(st, 9, it->duration_days);
		sqlite3_bind_int(st, 10, it->quantity);
		sqlite3_bind_int(st, 11, it->refills);
		db_bind_text(st, 12, it->instructions);
		if (db_step_done(st) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

int
rx_cancel(struct rx *x, int64_t actor_id, const char *reason, int64_t now)
{
	sqlite3_stmt	*st;

	st = db_prepare("UPDATE prescriptions SET status = 'cancelled', "
	    "cancelled_at = ?, cancelled_by = ?, cancel_reason = ? "
	    "WHERE id = ? AND status = 'active'");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, actor_id);
	db_bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, x->id);
	if (db_step_done(st) != SQLITE_DONE || db_changes() != 1)
		return -1;
	x->cancelled = 1;
	x->cancelled_at = now;
	x->cancelled_by = actor_id;
	strlcpy_mf(x->cancel_reason, reason, sizeof x->cancel_reason);
	return 0;
}

int
rx_by_id(int64_t id, struct rx *x)
{
	sqlite3_stmt	*st;
	int		 found;

	st = db_prepare(RX_COLUMNS "WHERE x.id = ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		rx_from_row(st, x);
	sqlite3_reset(st);
	if (!found)
		return -1;
	return rx_load_items(x);
}

int64_t
rx_list(int64_t patient_id, int64_t limit, int64_t offset,
    void (*fn)(const struct rx *, void *), void *arg, int64_t *total)
{
	sqlite3_stmt	*st;
	int64_t		*ids, n = 0, i;
	struct rx	*x;

	*total = 0;
	st = db_prepare("SELECT count(*) FROM prescriptions WHERE patient_id = ?");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, patient_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = db_prepare("SELECT id FROM prescriptions WHERE patient_id = ? "
	    "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?");
	if (st == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, patient_id);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	ids = xcalloc((size_t)limit + 1, sizeof *ids);
	while (n < limit && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	/* Each by id: rx_by_id reuses statements a running walk would reset. */
	x = xmalloc(sizeof *x);
	for (i = 0; i < n; i++) {
		if (rx_by_id(ids[i], x) == 0)
			fn(x, arg);
	}
	free(x);
	free(ids);
	return n;
}

void
rx_pack(msgpack_packer *pk, const struct rx *x, int64_t now)
{
	const struct rx_item	*it;
	int			 i;

	msgpack_pack_map(pk, 15);
	mp_pack_kv_int(pk, "id", x->id);
	mp_pack_kv_int(pk, "patient_id", x->patient_id);
	mp_pack_kv_str(pk, "patient_name", x->patient_name);
	mp_pack_kv_int(pk, "doctor_id", x->doctor_id);
	mp_pack_kv_str(pk, "doctor_name", x->doctor_name);
	if (x->appointment_id != 0)
		mp_pack_kv_int(pk, "appointment_id", x->appointment_id);
	else
		mp_pack_kv_nil(pk, "appointment_id");
	mp_pack_kv_str(pk, "status", rx_status(x, now));
	mp_pack_kv_str(pk, "notes", x->notes);
	mp_pack_kv_int(pk, "created_at", x->created_at);
	mp_pack_kv_int(pk, "ends_at", x->ends_at);
	if (x->cancelled) {
		mp_pack_kv_int(pk, "cancelled_at", x->cancelled_at);
		mp_pack_kv_str(pk, "cancel_reason", x->cancel_reason);
	} else {
		mp_pack_kv_nil(pk, "cancelled_at");
		mp_pack_kv_nil(pk, "cancel_reason");
	}
	if (x->renewed_from != 0)
		mp_pack_kv_int(pk, "renewed_from", x->renewed_from);
	else
		mp_pack_kv_nil(pk, "renewed_from");
	mp_pack_kv_int(pk, "created_by", x->created_by);
	mp_pack_str(pk, "items");
	msgpack_pack_array(pk, (uint32_t)x->nitems);
	for (i = 0; i < x->nitems; i++) {
		it = &x->items[i];
		msgpack_pack_map(pk, 10);
		mp_pack_kv_str(pk, "drug", it->drug);
		mp_pack_kv_str(pk, "strength", it->strength);
		mp_pack_kv_str(pk, "form", rx_forms[it->form]);
		mp_pack_kv_str(pk, "dose", it->dose);
		mp_pack_kv_str(pk, "route", rx_routes[it->route]);
		mp_pack_kv_str(pk, "frequency", it->frequency);
		mp_pack_kv_int(pk, "duration_days", it->duration_days);
		mp_pack_kv_int(pk, "quantity", it->quantity);
		mp_pack_kv_int(pk, "refills", it->refills);
		mp_pack_kv_str(pk, "instructions", it->instructions);
	}
}

char *
rx_print_text(const struct rx *x, int64_t now)
{
	static const char	 rule[] =
	    "------------------------------------------------\n";
	struct civil_date	 d;
	char			 date[11], number[32], *s, *t;
	const struct rx_item	*it;
	int			 i;

	utc_to_local(x->created_at, &d, NULL);
	date_format(&d, date);
	snprintf(number, sizeof number, "Rx #%lld", (long long)x->id);
	/* The number right-aligned to the rule's width. */
	s = xasprintf("PRESCRIPTION%*s\n%s"
	    "Date:    %s\nStatus:  %s\nPatient: %s%s%s\nDoctor:  %s\n%s",
	    (int)(sizeof rule - 2 - strlen("PRESCRIPTION")), number, rule, date,
	    rx_status(x, now), x->patient_name,
	    x->patient_dob[0] != '\0' ? "  DOB " : "", x->patient_dob,
	    x->doctor_name, rule);
	for (i = 0; i < x->nitems; i++) {
		it = &x->items[i];
		t = xasprintf("%s%d. %s %s %s\n   %s %s, %s, for %d day%s\n"
		    "   Quantity: %d   Refills: %d\n%s%s%s", s, i + 1, it->drug,
		    it->strength, rx_forms[it->form], it->dose, rx_routes[it->route],
		    it->frequency, it->duration_days, it->duration_days == 1 ? "" : "s",
		    it->quantity, it->refills, it->instructions[0] != '\0' ?
		    "   " : "", it->instructions, it->instructions[0] != '\0' ?
		    "\n" : "");
		free(s);
		s = t;
	}
	t = xasprintf("%s%s%s%s%s%s\n\nSignature: ______________________\n", s, rule,
	    x->notes[0] != '\0' ? "Notes: " : "", x->notes,
	    x->notes[0] != '\0' ? "\n" : "", x->cancelled ?
	    "CANCELLED - NOT VALID FOR DISPENSING" : "");
	free(s);
	return t;
}
