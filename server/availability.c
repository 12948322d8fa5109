/* availability.c -- weekly hours, breaks, exceptions, and free slots. */
#include <stdlib.h>
#include <string.h>

#include "appointments.h"
#include "availability.h"
#include "db.h"
#include "util.h"

static const char *kind_names[] = { "leave", "holiday", "extra" };

static void	plans_changed(void);

const char *
exception_kind_name(enum exception_kind k)
{
	return (unsigned)k < nitems(kind_names) ? kind_names[k] : "unknown";
}

void
availability_template(int64_t doctor_id, struct avail_template *t)
{
	static const char *sessions_sql = "SELECT weekday, start_min, end_min, "
	    "slot_minutes FROM availability WHERE doctor_id = ? "
	    "ORDER BY weekday, start_min";
	static const char *breaks_sql = "SELECT weekday, start_min, end_min "
	    "FROM availability_breaks WHERE doctor_id = ? ORDER BY weekday, start_min";
	sqlite3_stmt	*st;

	memset(t, 0, sizeof *t);
	st = db_prepare(sessions_sql);
	sqlite3_bind_int64(st, 1, doctor_id);
	while (t->nsessions < AVAIL_MAX && sqlite3_step(st) == SQLITE_ROW) {
		struct avail_session *s = &t->sessions[t->nsessions++];

		s->weekday = sqlite3_column_int(st, 0);
		s->start_min = sqlite3_column_int(st, 1);
		s->end_min = sqlite3_column_int(st, 2);
		s->slot_minutes = sqlite3_column_int(st, 3);
	}
	sqlite3_reset(st);
	st = db_prepare(breaks_sql);
	sqlite3_bind_int64(st, 1, doctor_id);
	while (t->nbreaks < AVAIL_MAX && sqlite3_step(st) == SQLITE_ROW) {
		struct avail_session *b = &t->breaks[t->nbreaks++];

		b->weekday = sqlite3_column_int(st, 0);
		b->start_min = sqlite3_column_int(st, 1);
		b->end_min = sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
}

const char *
availability_template_error(const struct avail_template *t)
{
	int	i, j;

	for (i = 0; i < t->nsessions; i++) {
		const struct avail_session *a = &t->sessions[i];

		if (a->weekday < 1 || a->weekday > 7)
			return "weekday must be 1 (Monday) to 7 (Sunday)";
		if (a->start_min < 0 || a->end_min > 1440 || a->end_min <= a->start_min)
			return "a session must end after it starts, within the day";
		if (a->slot_minutes < 5 || a->slot_minutes > 240)
			return "slot_minutes must be between 5 and 240";
		if (a->end_min - a->start_min < a->slot_minutes)
			return "a session must be at least one slot long";
		for (j = 0; j < i; j++) {
			const struct avail_session *b = &t->sessions[j];

			if (a->weekday == b->weekday && a->start_min < b->end_min &&
			    b->start_min < a->end_min)
				return "two sessions on the same weekday overlap";
		}
	}
	for (i = 0; i < t->nbreaks; i++) {
		const struct avail_session *b = &t->breaks[i];

		if (b->weekday < 1 || b->weekday > 7)
			return "weekday must be 1 (Monday) to 7 (Sunday)";
		if (b->start_min < 0 || b->end_min > 1440 || b->end_min <= b->start_min)
			return "a break must end after it starts, within the day";
	}
	return NULL;
}

int
availability_replace(int64_t doctor_id, const struct avail_template *t)
{
	static const char *del_s = "DELETE FROM availability WHERE doctor_id = ?";
	static const char *del_b = "DELETE FROM availability_breaks WHERE doctor_id = ?";
	static const char *ins_s = "INSERT INTO availability (doctor_id, weekday, "
	    "start_min, end_min, slot_minutes) VALUES (?, ?, ?, ?, ?)";
	static const char *ins_b = "INSERT INTO availability_breaks (doctor_id, "
	    "weekday, start_min, end_min) VALUES (?, ?, ?, ?)";
	sqlite3_stmt	*st;
	int		 i;

	plans_changed();
	st = db_prepare(del_s);
	sqlite3_bind_int64(st, 1, doctor_id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	st = db_prepare(del_b);
	sqlite3_bind_int64(st, 1, doctor_id);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	for (i = 0; i < t->nsessions; i++) {
		st = db_prepare(ins_s);
		sqlite3_bind_int64(st, 1, doctor_id);
		sqlite3_bind_int(st, 2, t->sessions[i].weekday);
		sqlite3_bind_int(st, 3, t->sessions[i].start_min);
		sqlite3_bind_int(st, 4, t->sessions[i].end_min);
		sqlite3_bind_int(st, 5, t->sessions[i].slot_minutes);
		if (db_step_done(st) != SQLITE_DONE)
			return -1;
	}
	for (i = 0; i < t->nbreaks; i++) {
		st = db_prepare(ins_b);
		sqlite3_bind_int64(st, 1, doctor_id);
		sqlite3_bind_int(st, 2, t->breaks[i].weekday);
		sqlite3_bind_int(st, 3, t->breaks[i].start_min);
		sqlite3_bind_int(st, 4, t->breaks[i].end_min);
		if (db_step_done(st) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

#define EXC_COLUMNS "id, doctor_id, date, kind, start_min, end_min, " \
	"slot_minutes, reason, created_by, created_at"

static void
exception_from_row(sqlite3_stmt *st, struct avail_exception *e)
{
	const char	*kind = db_col_text(st, 3);
	size_t		 i;

	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	e->doctor_id = sqlite3_column_int64(st, 1);
	strlcpy_mf(e->date, db_col_text(st, 2), sizeof e->date);
	for (i = 0; i < nitems(kind_names); i++) {
		if (strcmp(kind, kind_names[i]) == 0)
			e->kind = (enum exception_kind)i;
	}
	e->start_min = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(st, 4);
	e->end_min = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(st, 5);
	e->slot_minutes = sqlite3_column_int(st, 6);
	strlcpy_mf(e->reason, db_col_text(st, 7), sizeof e->reason);
	e->created_by = sqlite3_column_int64(st, 8);
	e->created_at = sqlite3_column_int64(st, 9);
}

int
availability_exceptions(int64_t doctor_id, const char *from, const char *to,
    void (*fn)(const struct avail_exception *, void *), void *arg)
{
	static const char *sql = "SELECT " EXC_COLUMNS " FROM availability_exceptions "
	    "WHERE date >= ?2 AND date <= ?3 AND (doctor_id = ?1 OR doctor_id IS NULL) "
	    "ORDER BY date, start_min";
	sqlite3_stmt		*st = db_prepare(sql);
	struct avail_exception	 e;
	int			 n = 0;

	sqlite3_bind_int64(st, 1, doctor_id);
	db_bind_text(st, 2, from);
	db_bind_text(st, 3, to);
	while (sqlite3_step(st) == SQLITE_ROW) {
		exception_from_row(st, &e);
		fn(&e, arg);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int
availability_add_exception(struct avail_exception *e)
{
	static const char *sql = "INSERT INTO availability_exceptions (doctor_id, "
	    "date, kind, start_min, end_min, slot_minutes, reason, created_by, "
	    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);

	plans_changed();
	db_bind_opt_int(st, 1, e->doctor_id != 0, e->doctor_id);
	db_bind_text(st, 2, e->date);
	db_bind_text(st, 3, exception_kind_name(e->kind));
	db_bind_opt_int(st, 4, e->start_min >= 0, e->start_min);
	db_bind_opt_int(st, 5, e->start_min >= 0, e->end_min);
	db_bind_opt_int(st, 6, e->kind == EXC_EXTRA, e->slot_minutes);
	db_bind_text(st, 7, e->reason);
	db_bind_opt_int(st, 8, e->created_by != 0, e->created_by);
	sqlite3_bind_int64(st, 9, e->created_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	e->id = db_last_id();
	return 0;
}

int
availability_exception_by_id(int64_t id, struct avail_exception *e)
{
	static const char *sql = "SELECT " EXC_COLUMNS " FROM availability_exceptions "
	    "WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found = 0;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		exception_from_row(st, e);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

int
availability_remove_exception(int64_t id)
{
	static const char *sql = "DELETE FROM availability_exceptions WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	plans_changed();
	sqlite3_bind_int64(st, 1, id);
	return db_step_done(st) == SQLITE_DONE ? 0 : -1;
}

/* --- one day --- */

struct day_plan {
	struct avail_session	sessions[AVAIL_MAX];
	int			nsessions;
	struct avail_session	breaks[AVAIL_MAX * 2];
	int			nbreaks;
	int			closed;
};

/*
 * Days' plans kept, by doctor and date: every booking checks its time
 * against its day's plan inside its write transaction, where the read
 * cache serves nothing, and reading the plan was 12k instructions, a
 * twentieth of a booking; a kept one cost 2.5k, PRAGMA data_version most
 * of it, which db_data_version now reads once a write transaction.
 *
 * A kept plan is the committed one, always:
 * - this server changes the three tables only through the writers above,
 *   and each drops every plan first;
 * - a plan read after such a change, while its transaction is still open,
 *   might yet roll back, so none is kept until a lookup finds no write
 *   transaction open: the one that changed them has ended then;
 * - another process's commit (an operator's sqlite3 shell) moves PRAGMA
 *   data_version, which every lookup compares, and drops them all;
 * - a store opened anew (db_serial) has none: its handle may have the
 *   address, and its data_version the value, of the closed one's.
 */
#define PLANS_KEPT	1024	/* a power of two */
#define PLAN_KEPT_MAX	8	/* sessions, and breaks, of a plan kept */

struct kept_plan {
	int64_t			doctor_id;
	int64_t			days;
	int			set;
	int			closed;
	int			nsessions;
	int			nbreaks;
	struct avail_session	sessions[PLAN_KEPT_MAX];
	struct avail_session	breaks[PLAN_KEPT_MAX];
};

static struct kept_plan	*plans;
static struct db_seen	 plans_seen;	/* the store they are from */
static int		 plans_unsure;	/* changed in a transaction still open */

static void
plans_drop(void)
{
	if (plans != NULL)
		memset(plans, 0, PLANS_KEPT * sizeof *plans);
}

static void
plans_changed(void)
{
	plans_drop();
	plans_unsure = 1;
}

/* The place of a doctor's day among the kept plans, or NULL when no plan
 * may be kept or served now. */
static struct kept_plan *
plan_kept(int64_t doctor_id, int64_t days)
{
	sqlite3		*h = db_handle();
	uint64_t	 i;
	int		 moved;

	if (h == NULL)
		return NULL;
	if (sqlite3_txn_state(h, "main") != SQLITE_TXN_WRITE)
		plans_unsure = 0;
	if (plans_unsure)
		return NULL;
	if ((moved = db_seen_moved(&plans_seen)) < 0)
		return NULL;
	if (moved)
		plans_drop();
	if (plans == NULL)
		plans = xcalloc(PLANS_KEPT, sizeof *plans);
	i = ((uint64_t)doctor_id * 0x9e3779b97f4a7c15ULL + (uint64_t)days) &
	    (PLANS_KEPT - 1);
	return &plans[i];
}

/*
 * A day's plan in one statement: the weekly template's sessions and breaks
 * for its weekday (kinds 0 and 1), then the date's leave and holidays (2)
 * and extra sessions (3). Reading the whole week's template, its breaks and
 * the exceptions apart was three statements and every weekday's rows: 25k
 * instructions a day's plan, now 11k; the plan is read on every appt.slots
 * the read cache does not answer and on every booking.
 */
static void
day_plan(int64_t doctor_id, const struct civil_date *d, struct day_plan *p)
{
	static const char *sql = "SELECT 0, start_min, end_min, slot_minutes "
	    "FROM availability WHERE doctor_id = ?1 AND weekday = ?2 "
	    "UNION ALL SELECT 1, start_min, end_min, 0 FROM availability_breaks "
	    "WHERE doctor_id = ?1 AND weekday = ?2 "
	    "UNION ALL SELECT 2 + (kind = 'extra'), coalesce(start_min, -1), "
	    "coalesce(end_min, -1), coalesce(slot_minutes, 0) "
	    "FROM availability_exceptions WHERE date = ?3 AND "
	    "(doctor_id = ?1 OR doctor_id IS NULL)";
	sqlite3_stmt		*st;
	struct avail_session	*s;
	struct kept_plan	*k;
	char			 date[11];
	int64_t			 days = date_to_days(d);
	int			 kind, start_min, rc;

	memset(p, 0, sizeof *p);
	k = plan_kept(doctor_id, days);
	if (k != NULL && k->set && k->doctor_id == doctor_id && k->days == days) {
		p->closed = k->closed;
		p->nsessions = k->nsessions;
		p->nbreaks = k->nbreaks;
		memcpy(p->sessions, k->sessions, (size_t)k->nsessions *
		    sizeof p->sessions[0]);
		memcpy(p->breaks, k->breaks, (size_t)k->nbreaks *
		    sizeof p->breaks[0]);
		return;
	}
	st = db_prepare(sql);
	date_format(d, date);
	sqlite3_bind_int64(st, 1, doctor_id);
	sqlite3_bind_int(st, 2, date_weekday(d));
	db_bind_text(st, 3, date);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		kind = sqlite3_column_int(st, 0);
		start_min = sqlite3_column_int(st, 1);
		if (kind == 2 && start_min < 0) {
			p->closed = 1;	/* whole-day leave or holiday */
			continue;
		}
		if (kind == 0 || kind == 3) {
			if (p->nsessions == AVAIL_MAX)
				continue;
			s = &p->sessions[p->nsessions++];
		} else {
			if (p->nbreaks == (int)nitems(p->breaks))
				continue;
			s = &p->breaks[p->nbreaks++];
		}
		s->start_min = start_min;
		s->end_min = sqlite3_column_int(st, 2);
		s->slot_minutes = sqlite3_column_int(st, 3);
	}
	sqlite3_reset(st);
	/* Only a whole plan: a read cut short by an error is not kept. */
	if (k == NULL || rc != SQLITE_DONE || p->nsessions > PLAN_KEPT_MAX ||
	    p->nbreaks > PLAN_KEPT_MAX)
		return;
	k->doctor_id = doctor_id;
	k->days = days;
	k->closed = p->closed;
	k->nsessions = p->nsessions;
	k->nbreaks = p->nbreaks;
	memcpy(k->sessions, p->sessions, (size_t)p->nsessions * sizeof k->sessions[0]);
	memcpy(k->breaks, p->breaks, (size_t)p->nbreaks * sizeof k->breaks[0]);
	k->set = 1;
}

struct busy {
	struct slot	items[SLOTS_MAX];
	int		n;
};

static void
busy_add(int64_t starts_at, int64_t ends_at, void *arg)
{
	struct busy	*b = arg;

	if (b->n < SLOTS_MAX) {
		b->items[b->n].starts_at = starts_at;
		b->items[b->n].ends_at = ends_at;
		b->n++;
	}
}

static int
slot_cmp(const void *a, const void *b)
{
	const struct slot	*x = a, *y = b;

	return x->starts_at < y->starts_at ? -1 : x->starts_at > y->starts_at;
}

/* A day's breaks as instants. */
struct day_breaks {
	struct slot	items[AVAIL_MAX * 2];
	int		n;
};

/* Converts the breaks once per day: a local_to_utc costs four
 * localtime_r calls, and day_slots tests every piece of the day. */
static void
day_breaks(const struct day_plan *p, const struct civil_date *d,
    struct day_breaks *b)
{
	int	i;

	for (i = 0; i < p->nbreaks; i++) {
		b->items[i].starts_at = local_to_utc(d, p->breaks[i].start_min);
		b->items[i].ends_at = local_to_utc(d, p->breaks[i].end_min);
	}
	b->n = p->nbreaks;
}

static int
in_break(const struct day_breaks *b, int64_t s, int64_t e)
{
	int	i;

	for (i = 0; i < b->n; i++) {
		if (s < b->items[i].ends_at && b->items[i].starts_at < e)
			return 1;
	}
	return 0;
}

/*
 * Every slot of the day's plan, busy or not, sorted: the sessions' grid of
 * slot starts, each minutes long (0: the session's slot length) and kept
 * only when it fits before the session's end and touches no break.
 */
static int
day_slots(const struct day_plan *p, const struct civil_date *d, int minutes,
    struct slot *out, int max)
{
	struct day_breaks	 b;
	const struct avail_session *order[AVAIL_MAX];
	int			 i, j, n = 0, sorted = 1;

	if (p->closed)
		return 0;
	day_breaks(p, d, &b);
	/* Sessions by start, so that the slots come out in order unless two
	 * sessions overlap (an extra session may overlap the template's). */
	for (i = 0; i < p->nsessions; i++) {
		for (j = i; j > 0 && order[j - 1]->start_min >
		    p->sessions[i].start_min; j--)
			order[j] = order[j - 1];
		order[j] = &p->sessions[i];
	}
	for (i = 0; i < p->nsessions; i++) {
		int64_t	t = local_to_utc(d, order[i]->start_min);
		int64_t	end = local_to_utc(d, order[i]->end_min);
		int64_t	step = (int64_t)order[i]->slot_minutes * 60;
		int64_t	len = minutes > 0 ? (int64_t)minutes * 60 : step;

		/* Step in real seconds, so a DST change inside a session
		 * gives the hours that really pass. */
		for (; t + len <= end && n < max; t += step) {
			if (in_break(&b, t, t + len))
				continue;
			if (n > 0 && out[n - 1].starts_at > t)
				sorted = 0;
			out[n].starts_at = t;
			out[n].ends_at = t + len;
			n++;
		}
	}
	if (!sorted)
		qsort(out, (size_t)n, sizeof *out, slot_cmp);
	return n;
}

int
availability_slots(int64_t doctor_id, const struct civil_date *d, int64_t now,
    struct slot *out, int max)
{
	return availability_slots_len(doctor_id, d, now, 0, out, max);
}

int
availability_slots_len(int64_t doctor_id, const struct civil_date *d, int64_t now,
    int minutes, struct slot *out, int max)
{
	struct day_plan	 plan;
	struct busy	*busy;
	struct slot	*all;
	int64_t		 last;
	int		 n, i, j, kept = 0;

	day_plan(doctor_id, d, &plan);
	/*
	 * Not zeroed: day_slots fills all[0..n) and busy_add busy->items
	 * [0..busy->n), and only those are read. Clearing the 32 KiB of the
	 * two was a fifth of an appt.slots request's instructions.
	 */
	all = xmalloc(SLOTS_MAX * sizeof *all);
	n = day_slots(&plan, d, minutes, all, SLOTS_MAX);
	if (n == 0) {
		free(all);
		return 0;
	}
	/* Sorted by start; with a type's length a slot of an earlier session
	 * may end last. */
	for (i = 0, last = 0; i < n; i++) {
		if (all[i].ends_at > last)
			last = all[i].ends_at;
	}
	busy = xmalloc(sizeof *busy);
	busy->n = 0;
	appt_busy(doctor_id, all[0].starts_at, last, busy_add, busy);
	for (i = 0; i < n && kept < max; i++) {
		int	taken = 0;

		if (all[i].starts_at <= now)
			continue;
		for (j = 0; j < busy->n && !taken; j++) {
			taken = all[i].starts_at < busy->items[j].ends_at &&
			    busy->items[j].starts_at < all[i].ends_at;
		}
		if (!taken)
			out[kept++] = all[i];
	}
	free(busy);
	free(all);
	return kept;
}

int
availability_check(int64_t doctor_id, int64_t starts_at, int exact,
    int64_t *ends_at)
{
	return availability_check_len(doctor_id, starts_at, exact, 0, ends_at);
}

int
availability_check_len(int64_t doctor_id, int64_t starts_at, int exact,
    int minutes, int64_t *ends_at)
{
	struct day_plan		 plan;
	struct day_breaks	 b;
	struct civil_date	 d;
	struct slot		*all;
	int			 n, i, rc = -1;

	utc_to_local(starts_at, &d, NULL);
	day_plan(doctor_id, &d, &plan);
	if (plan.closed)
		return -1;
	if (exact) {
		all = xmalloc(SLOTS_MAX * sizeof *all);	/* [0..n) is read */
		n = day_slots(&plan, &d, minutes, all, SLOTS_MAX);
		for (i = 0; i < n; i++) {
			if (all[i].starts_at == starts_at) {
				*ends_at = all[i].ends_at;
				rc = 0;
				break;
			}
		}
		free(all);
		return rc;
	}
	day_breaks(&plan, &d, &b);
	for (i = 0; i < plan.nsessions; i++) {
		int64_t	s = local_to_utc(&d, plan.sessions[i].start_min);
		int64_t	e = local_to_utc(&d, plan.sessions[i].end_min);
		int64_t	len = minutes > 0 ? (int64_t)minutes * 60 :
			    (int64_t)plan.sessions[i].slot_minutes * 60;

		if (starts_at >= s && starts_at + len <= e &&
		    !in_break(&b, starts_at, starts_at + len)) {
			*ends_at = starts_at + len;
			return 0;
		}
	}
	return -1;
}
