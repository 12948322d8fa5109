/* patients.c -- patient records and their name-word index. Other modules
 * call these, not its SQL. */
#include <math.h>
#include <string.h>

#include "clinic-time.h"
#include "db.h"
#include "mp.h"
#include "patients.h"
#include "util.h"

#define PATIENT_COLUMNS "p.id, p.user_id, p.full_name, p.date_of_birth, p.phone, " \
	"p.email, p.address, p.emergency_contact, p.created_at, p.updated_at"

enum search_driver { DRIVE_WORD, DRIVE_PHONE, DRIVE_DATE };

struct walk_list;
struct walk_row;
struct walk_cursor;

struct search_plan {
	enum search_driver	 driver;
	size_t			 word;		/* with DRIVE_WORD */
	char			 bounds[PATIENT_WORDS_MAX][PATIENT_WORD_BYTES];
	char			 phone_hi[PHONE_MAX + 2];
};

static void	patient_from_row(sqlite3_stmt *, struct patient *);
static int	patients_fetch(sqlite3_stmt *, struct patient *);
static void	patients_bind(sqlite3_stmt *, const struct patient *);
static int	patients_result(int);
static int	patients_write_words(const struct patient *);
static void	copy_column(sqlite3_stmt *, int, char *, size_t);
static const char *empty_as_null(const char *);
static void	prefix_upper_bound(const char *, char *, size_t);
static size_t	search_count(enum search_driver, const char *, const char *,
		    size_t);
static void	search_bind_filters(sqlite3_stmt *, const struct patient_query *,
		    const struct search_plan *, int);
static size_t	search_collect(sqlite3_stmt *, const struct patient_query *,
		    size_t, int64_t *);
static size_t	search_by_candidates(const struct patient_query *,
		    const struct search_plan *, size_t, int64_t *);
static int	search_by_name_order(const struct patient_query *,
		    const struct search_plan *, size_t, size_t, int64_t *, size_t *);
static double	patients_estimate(void);
static size_t	search_plan_make(const struct patient_query *,
		    struct search_plan *, double *, size_t);
static int	name_cmp(const char *, int64_t, const char *, int64_t);
static int	walk_words(const char *, const char *, struct walk_list *,
		    size_t *, size_t);
static void	walk_list_clear(struct walk_list *);
static void	walk_fill(struct walk_list *, const char *, int64_t);
static struct walk_row *walk_list_seek(struct walk_list *, const char *, int64_t);
static struct walk_row *walk_seek(struct walk_cursor *, const char *, int64_t);
static int	search_by_word_walk(const struct patient_query *,
		    const struct search_plan *, size_t, int64_t *, size_t *);
static uint32_t	utf8_decode(const unsigned char **, const unsigned char *);
static size_t	utf8_encode(uint32_t, char *);
static const char *fold_latin(uint32_t);
static uint32_t	fold_other(uint32_t);
static int	is_separator(uint32_t);
static int	is_apostrophe(uint32_t);
static void	words_add(struct patient_words *, const char *, size_t, int *);
static void	fold_append(uint32_t, char *, size_t *, size_t);

/* --- rows --- */

static void
copy_column(sqlite3_stmt *st, int col, char *out, size_t outlen)
{
	const char	*s = db_col_text(st, col);

	strlcpy_mf(out, s != NULL ? s : "", outlen);
}

static void
patient_from_row(sqlite3_stmt *st, struct patient *p)
{
	memset(p, 0, sizeof *p);
	p->id = sqlite3_column_int64(st, 0);
	p->user_id = sqlite3_column_int64(st, 1);	/* NULL reads as 0 */
	copy_column(st, 2, p->full_name, sizeof p->full_name);
	copy_column(st, 3, p->date_of_birth, sizeof p->date_of_birth);
	copy_column(st, 4, p->phone, sizeof p->phone);
	copy_column(st, 5, p->email, sizeof p->email);
	copy_column(st, 6, p->address, sizeof p->address);
	copy_column(st, 7, p->emergency_contact, sizeof p->emergency_contact);
	p->created_at = sqlite3_column_int64(st, 8);
	p->updated_at = sqlite3_column_int64(st, 9);
}

static int
patients_fetch(sqlite3_stmt *st, struct patient *p)
{
	int	found = 0;

	if (sqlite3_step(st) == SQLITE_ROW) {
		patient_from_row(st, p);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

int
patients_by_id(int64_t id, struct patient *p)
{
	static const char *sql = "SELECT " PATIENT_COLUMNS " FROM patients p "
	    "WHERE p.id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, id);
	return patients_fetch(st, p);
}

/* Three columns, not ten copied into a struct of 4 KB cleared first. */
int
patients_brief_by_id(int64_t id, struct patient_brief *p)
{
	static const char *sql = "SELECT id, user_id, full_name, no_show_count "
	    "FROM patients WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found = 0;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		p->id = sqlite3_column_int64(st, 0);
		p->user_id = sqlite3_column_int64(st, 1);	/* NULL reads as 0 */
		copy_column(st, 2, p->full_name, sizeof p->full_name);
		p->no_show_count = sqlite3_column_int64(st, 3);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

int
patients_by_user(int64_t user_id, struct patient *p)
{
	static const char *sql = "SELECT " PATIENT_COLUMNS " FROM patients p "
	    "WHERE p.user_id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	if (user_id <= 0)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	return patients_fetch(st, p);
}

static const char *
empty_as_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static void
patients_bind(sqlite3_stmt *st, const struct patient *p)
{
	char	digits[PHONE_MAX + 1];

	patient_phone_digits(p->phone, digits, sizeof digits);
	db_bind_opt_int(st, 1, p->user_id != 0, p->user_id);
	db_bind_text(st, 2, p->full_name);
	db_bind_text(st, 3, empty_as_null(p->date_of_birth));
	db_bind_text(st, 4, empty_as_null(p->phone));
	db_bind_text(st, 5, empty_as_null(digits));
	db_bind_text(st, 6, empty_as_null(p->email));
	db_bind_text(st, 7, empty_as_null(p->address));
	db_bind_text(st, 8, empty_as_null(p->emergency_contact));
	sqlite3_bind_int64(st, 9, p->created_at);
	sqlite3_bind_int64(st, 10, p->updated_at);
}

static int
patients_result(int rc)
{
	if (rc == SQLITE_DONE)
		return 0;
	return (rc & 0xff) == SQLITE_CONSTRAINT ? -1 : -2;
}

static int
patients_write_words(const struct patient *p)
{
	static const char *delete_sql = "DELETE FROM patient_name_words "
	    "WHERE patient_id = ?";
	static const char *insert_sql = "INSERT OR IGNORE INTO patient_name_words "
	    "(word, full_name, patient_id) VALUES (?, ?, ?)";
	struct patient_words	 words;
	sqlite3_stmt		*st;
	size_t			 i;

	st = db_prepare(delete_sql);
	sqlite3_bind_int64(st, 1, p->id);
	if (db_step_done(st) != SQLITE_DONE)
		return -2;
	/* A name with more words than we keep is still found by its first ones. */
	patient_name_words(p->full_name, &words);
	for (i = 0; i < words.n; i++) {
		st = db_prepare(insert_sql);
		db_bind_text(st, 1, words.word[i]);
		/* The key orders a word's patients by name (migration 012). */
		db_bind_text(st, 2, p->full_name);
		sqlite3_bind_int64(st, 3, p->id);
		if (db_step_done(st) != SQLITE_DONE)
			return -2;
	}
	return 0;
}

int
patients_insert(struct patient *p)
{
	static const char *sql = "INSERT INTO patients (user_id, full_name, "
	    "date_of_birth, phone, phone_digits, email, address, emergency_contact, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc;

	patients_bind(st, p);
	if ((rc = patients_result(db_step_done(st))) != 0)
		return rc;
	p->id = db_last_id();
	return patients_write_words(p);
}

int
patients_save(const struct patient *p)
{
	static const char *sql = "UPDATE patients SET user_id = ?, full_name = ?, "
	    "date_of_birth = ?, phone = ?, phone_digits = ?, email = ?, address = ?, "
	    "emergency_contact = ?, created_at = ?, updated_at = ? WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc;

	patients_bind(st, p);
	sqlite3_bind_int64(st, 11, p->id);
	if ((rc = patients_result(db_step_done(st))) != 0)
		return rc;
	return patients_write_words(p);
}

void
patients_pack(msgpack_packer *pk, const struct patient *p)
{
	patients_pack_open(pk, p, 0);
}

void
patients_pack_open(msgpack_packer *pk, const struct patient *p, int extra)
{
	msgpack_pack_map(pk, (uint32_t)(10 + extra));
	mp_pack_kv_int(pk, "id", p->id);
	mp_pack_str(pk, "user_id");
	if (p->user_id != 0)
		msgpack_pack_int64(pk, p->user_id);
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_str(pk, "full_name", p->full_name);
	mp_pack_kv_str(pk, "date_of_birth", empty_as_null(p->date_of_birth));
	mp_pack_kv_str(pk, "phone", empty_as_null(p->phone));
	mp_pack_kv_str(pk, "email", empty_as_null(p->email));
	mp_pack_kv_str(pk, "address", empty_as_null(p->address));
	mp_pack_kv_str(pk, "emergency_contact", empty_as_null(p->emergency_contact));
	mp_pack_kv_int(pk, "created_at", p->created_at);
	mp_pack_kv_int(pk, "updated_at", p->updated_at);
}

int64_t
patients_attach_user(int64_t user_id, const char *email_arg,
    const char *full_name, const char *phone, const char *proof_dob, int64_t now)
{
	static const char *sql = "SELECT id FROM patients "
	    "WHERE email = ? AND user_id IS NULL LIMIT 2";
	char		 email[EMAIL_MAX + 1] = "";
	int64_t		 ids[2];
	size_t		 n = 0;
	sqlite3_stmt	*st;
	struct patient	 p;

	if (patients_by_user(user_id, &p) == 0)
		return p.id;
	if (email_arg == NULL || email_normalize(email_arg, email, sizeof email) != 0)
		email[0] = '\0';
	if (email[0] != '\0') {
		st = db_prepare(sql);
		db_bind_text(st, 1, email);
		while (n < nitems(ids) && sqlite3_step(st) == SQLITE_ROW)
			ids[n++] = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	/*
	 * Two desk records with one e-mail (a family): don't guess, start anew.
	 * An e-mail alone proves nothing about who signs up: a self-service
	 * sign-up (proof_dob non-NULL) claims a desk record only when it gives
	 * the date of birth the desk recorded; otherwise it gets a new record
	 * and the desk can link them after checking in person.
	 */
	if (n == 1 && patients_by_id(ids[0], &p) == 0 &&
	    (proof_dob == NULL || (p.date_of_birth[0] != '\0' &&
	    strcmp(p.date_of_birth, proof_dob) == 0))) {
		p.user_id = user_id;
		if (p.phone[0] == '\0' && phone != NULL && phone_valid(phone))
			strlcpy_mf(p.phone, phone, sizeof p.phone);
		p.updated_at = now;
		return patients_save(&p) == 0 ? p.id : -1;
	}
	memset(&p, 0, sizeof p);
	p.user_id = user_id;
	if (proof_dob != NULL && patient_dob_problem(proof_dob, now) == NULL)
		strlcpy_mf(p.date_of_birth, proof_dob, sizeof p.date_of_birth);
	strlcpy_mf(p.full_name, full_name != NULL ? full_name : "", sizeof p.full_name);
	strlcpy_mf(p.email, email, sizeof p.email);
	if (phone != NULL && phone_valid(phone))
		strlcpy_mf(p.phone, phone, sizeof p.phone);
	p.created_at = p.updated_at = now;
	return patients_insert(&p) == 0 ? p.id : -1;
}

/* --- search --- */

/* The least string greater than every string starting with prefix. */
static void
prefix_upper_bound(const char *prefix, char *out, size_t outlen)
{
	size_t	n = strlcpy_mf(out, prefix, outlen);

	if (n >= outlen)
		n = outlen - 1;
	/* Our words are UTF-8, which never holds 0xff, so this cannot carry. */
	while (n > 0 && (unsigned char)out[n - 1] == 0xff)
		out[--n] = '\0';
	if (n > 0)
		out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
}

/*
 * Search plans. Results are in name order, so the work depends on how many
 * patients match:
 *
 * - Candidates: the narrowest criterion's index range yields the
 *   candidates, the other criteria are checked on each, and the survivors
 *   are sorted. The cost grows with the narrowest criterion's rows.
 * - Name order: walk the name index and check each patient until a page is
 *   full. Cheap when matches are common ("s", or a phone prefix that every
 *   local number shares), hopeless when they are rare; it walks at most
 *   scan_budget patients and then hands over to the candidates.
 *
 * Each criterion's rows are counted first (up to a cap, on its index) and
 * the cheaper plan by that estimate runs. No plan reads every patient unless
 * the query matches nearly every patient.
 *
 * Both come after the word walk (below), which answers most name searches
 * by itself.
 *
 * The estimate takes the criteria to be spread evenly over the name order,
 * which a first name is not (full_name starts with it: every "Priya" sits
 * in one stretch). So the walk stops once it has cost what the candidates
 * would have: a wrong guess then costs at most twice the better plan.
 */
#define SEARCH_COUNT_CAP	50000
#define SEARCH_SCAN_BUDGET	20000
/* A walked row costs about twice a candidate row (a seek per criterion). */
#define SEARCH_SCAN_ROW_COST	2

static enum patient_search_plan	search_forced_plan = SEARCH_PLAN_AUTO;
static size_t			search_scan_budget = SEARCH_SCAN_BUDGET;

void
patients_search_tune(enum patient_search_plan plan, size_t scan_budget)
{
	search_forced_plan = plan;
	search_scan_budget = scan_budget;
}

/* Parameters ?1..?32: up to 16 word ranges; ?33..?34 phone; ?35 date. */
#define WORD_FILTER(lo, hi) " AND (?" #lo " IS NULL OR EXISTS (SELECT 1 " \
	"FROM patient_name_words w WHERE w.patient_id = p.id AND w.word >= ?" #lo \
	" AND w.word < ?" #hi "))"
#define SEARCH_FILTERS \
	WORD_FILTER(1, 2) WORD_FILTER(3, 4) WORD_FILTER(5, 6) WORD_FILTER(7, 8) \
	WORD_FILTER(9, 10) WORD_FILTER(11, 12) WORD_FILTER(13, 14) \
	WORD_FILTER(15, 16) WORD_FILTER(17, 18) WORD_FILTER(19, 20) \
	WORD_FILTER(21, 22) WORD_FILTER(23, 24) WORD_FILTER(25, 26) \
	WORD_FILTER(27, 28) WORD_FILTER(29, 30) WORD_FILTER(31, 32) \
	" AND (?33 IS NULL OR (p.phone_digits >= ?33 AND p.phone_digits < ?34))" \
	" AND (?35 IS NULL OR p.date_of_birth = ?35)"
#define PARAM_PHONE	33
#define PARAM_DATE	35
#define PARAM_DRIVER	36	/* ?36, ?37: the driving range or value */
#define PARAM_LIMIT	38
#define PARAM_BUDGET	39
#define SEARCH_ORDER	" ORDER BY p.full_name COLLATE NOCASE, p.id LIMIT ?38"

/* How many index entries a criterion has, counting no further than cap. */
static size_t
search_count(enum search_driver driver, const char *lo, const char *hi, size_t cap)
{
	static const char *word_sql = "SELECT count(*) FROM (SELECT 1 FROM "
	    "patient_name_words WHERE word >= ?1 AND word < ?2 LIMIT ?3)";
	static const char *phone_sql = "SELECT count(*) FROM (SELECT 1 FROM "
	    "patients WHERE phone_digits >= ?1 AND phone_digits < ?2 LIMIT ?3)";
	static const char *date_sql = "SELECT count(*) FROM (SELECT 1 FROM "
	    "patients WHERE date_of_birth = ?1 LIMIT ?3)";
	sqlite3_stmt	*st;
	size_t		 n = 0;

	st = db_prepare(driver == DRIVE_WORD ? word_sql :
	    driver == DRIVE_PHONE ? phone_sql : date_sql);
	db_bind_text(st, 1, lo);
	if (driver != DRIVE_DATE)
		db_bind_text(st, 2, hi);
	sqlite3_bind_int64(st, 3, (int64_t)cap);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/* Binds every criterion except the driver's own as a filter. */
static void
search_bind_filters(sqlite3_stmt *st, const struct patient_query *q,
    const struct search_plan *plan, int with_driver)
{
	size_t	i;

	for (i = 0; i < q->name.n; i++) {
		if (!with_driver && plan->driver == DRIVE_WORD && plan->word == i)
			continue;
		db_bind_text(st, (int)(2 * i + 1), q->name.word[i]);
		db_bind_text(st, (int)(2 * i + 2), plan->bounds[i]);
	}
	if (q->phone_digits != NULL &&
	    (with_driver || plan->driver != DRIVE_PHONE)) {
		db_bind_text(st, PARAM_PHONE, q->phone_digits);
		db_bind_text(st, PARAM_PHONE + 1, plan->phone_hi);
	}
	if (q->date_of_birth != NULL && (with_driver || plan->driver != DRIVE_DATE))
		db_bind_text(st, PARAM_DATE, q->date_of_birth);
}

/* Reads ids off a statement until limit are kept; returns how many. */
static size_t
search_collect(sqlite3_stmt *st, const struct patient_query *q, size_t limit,
    int64_t *ids)
{
	size_t	n = 0;

	while (n < limit && sqlite3_step(st) == SQLITE_ROW) {
		int64_t	id = sqlite3_column_int64(st, 0);

		if (q->keep == NULL || q->keep(id, q->keep_arg))
			ids[n++] = id;
	}
	sqlite3_reset(st);
	return n;
}

static size_t
search_by_candidates(const struct patient_query *q, const struct search_plan *plan,
    size_t limit, int64_t *ids)
{
	static const char *word_sql = "SELECT p.id FROM patients p WHERE p.id IN "
	    "(SELECT patient_id FROM patient_name_words WHERE word >= ?36 AND word < ?37)"
	    SEARCH_FILTERS SEARCH_ORDER;
	static const char *phone_sql = "SELECT p.id FROM patients p WHERE "
	    "p.phone_digits >= ?36 AND p.phone_digits < ?37" SEARCH_FILTERS SEARCH_ORDER;
	static const char *date_sql = "SELECT p.id FROM patients p WHERE "
	    "p.date_of_birth = ?36" SEARCH_FILTERS SEARCH_ORDER;
	sqlite3_stmt	*st;

	switch (plan->driver) {
	case DRIVE_WORD:
		st = db_prepare(word_sql);
		db_bind_text(st, PARAM_DRIVER, q->name.word[plan->word]);
		db_bind_text(st, PARAM_DRIVER + 1, plan->bounds[plan->word]);
		break;
	case DRIVE_PHONE:
		st = db_prepare(phone_sql);
		db_bind_text(st, PARAM_DRIVER, q->phone_digits);
		db_bind_text(st, PARAM_DRIVER + 1, plan->phone_hi);
		break;
	default:
		st = db_prepare(date_sql);
		db_bind_text(st, PARAM_DRIVER, q->date_of_birth);
		break;
	}
	search_bind_filters(st, q, plan, 0);
	/* With a filter, read on past the rows it drops. */
	sqlite3_bind_int64(st, PARAM_LIMIT, q->keep != NULL ? -1 : (int64_t)limit);
	return search_collect(st, q, limit, ids);
}

/* Walks at most budget patients in name order; 1 if it found limit. */
static int
search_by_name_order(const struct patient_query *q, const struct search_plan *plan,
    size_t limit, size_t budget, int64_t *ids, size_t *n)
{
	static const char *sql = "SELECT p.id FROM (SELECT id FROM patients "
	    "ORDER BY full_name COLLATE NOCASE, id LIMIT ?39) s "
	    "CROSS JOIN patients p ON p.id = s.id WHERE 1" SEARCH_FILTERS
	    " LIMIT ?38";
	sqlite3_stmt	*st = db_prepare(sql);

	search_bind_filters(st, q, plan, 1);
	sqlite3_bind_int64(st, PARAM_LIMIT, q->keep != NULL ? -1 : (int64_t)limit);
	sqlite3_bind_int64(st, PARAM_BUDGET, (int64_t)budget);
	*n = search_collect(st, q, limit, ids);
	return *n == limit;
}

/*
 * The word walk. The key (word, full_name, patient_id) lists each word's
 * patients in the order search answers in, so a query word's patients come
 * out of a few index ranges, one per distinct word in [prefix, bound) ("jo":
 * john, johnson, jones, jose, joseph), merged. Each query word is such a
 * cursor, and the cursors are joined leapfrog-style: the one that is behind
 * seeks to the others' (name, id), so "chen wei" jumps from "Ahmed Chen"
 * straight to "Wei Adams" and then to "Wei Chen" instead of reading every
 * Chen in between. No row of patients is read unless a phone, a date of
 * birth or a filter asks. Gives up (0) when the query's prefixes span more
 * than WALK_LISTS_MAX words; the older plans take those.
 */
#define WALK_COUNT_CAP	4096
#define WALK_LISTS_MAX	64
#define WALK_CHUNK	16

struct walk_row {
	char		*name;
	int64_t		 id;
};

struct walk_list {
	char		 word[PATIENT_WORD_BYTES];
	struct walk_row	 rows[WALK_CHUNK];
	size_t		 n, at;
	int		 loaded;
	int		 done;		/* nothing in the index after rows[n - 1] */
};

struct walk_cursor {
	struct walk_list	*lists;
	size_t			 nlists;
	struct walk_row		*head;	/* the least row of its lists, or NULL */
};

/* SQLite's NOCASE order (ASCII letters folded, then length), then id. */
static int
name_cmp(const char *a, int64_t aid, const char *b, int64_t bid)
{
	const unsigned char	*x = (const unsigned char *)a;
	const unsigned char	*y = (const unsigned char *)b;
	int			 cx, cy;

	for (;; x++, y++) {
		cx = *x >= 'A' && *x <= 'Z' ? *x + 32 : *x;
		cy = *y >= 'A' && *y <= 'Z' ? *y + 32 : *y;
		if (cx != cy || cx == 0)
			break;
	}
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return aid < bid ? -1 : aid > bid;
}

/* Adds the distinct words in [lo, hi) as lists, one seek each; -1 past max. */
static int
walk_words(const char *lo, const char *hi, struct walk_list *lists, size_t *n,
    size_t max)
{
	static const char *first_sql = "SELECT word FROM patient_name_words "
	    "WHERE word >= ?1 AND word < ?2 ORDER BY word LIMIT 1";
	static const char *next_sql = "SELECT word FROM patient_name_words "
	    "WHERE word > ?1 AND word < ?2 ORDER BY word LIMIT 1";
	char		 prev[PATIENT_WORD_BYTES];
	sqlite3_stmt	*st;
	const char	*w;
	int		 found, first = 1;

	strlcpy_mf(prev, lo, sizeof prev);
	for (;; first = 0) {
		st = db_prepare(first ? first_sql : next_sql);
		db_bind_text(st, 1, prev);
		db_bind_text(st, 2, hi);
		found = 0;
		if (sqlite3_step(st) == SQLITE_ROW && (w = db_col_text(st, 0)) != NULL) {
			strlcpy_mf(prev, w, sizeof prev);
			found = 1;
		}
		sqlite3_reset(st);
		if (!found)
			return 0;
		if (*n == max)
			return -1;
		strlcpy_mf(lists[*n].word, prev, sizeof lists[*n].word);
		(*n)++;
	}
}

static void
walk_list_clear(struct walk_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->rows[i].name);
	l->n = l->at = 0;
}

/* Reads a chunk of a word's list from the first row >= (name, id). */
static void
walk_fill(struct walk_list *l, const char *name, int64_t id)
{
	static const char *first_sql = "SELECT full_name, patient_id FROM "
	    "patient_name_words WHERE word = ?1 "
	    "ORDER BY full_name, patient_id LIMIT ?4";
	static const char *from_sql = "SELECT full_name, patient_id FROM "
	    "patient_name_words WHERE word = ?1 AND (full_name, patient_id) >= (?2, ?3) "
	    "ORDER BY full_name, patient_id LIMIT ?4";
	sqlite3_stmt	*st;
	const char	*s;
	char		*from;
	size_t		 n = 0;

	/* name may be one of this list's own rows. */
	from = name != NULL ? xstrdup(name) : NULL;
	walk_list_clear(l);
	st = db_prepare(from == NULL ? first_sql : from_sql);
	db_bind_text(st, 1, l->word);
	if (from != NULL) {
		db_bind_text(st, 2, from);
		sqlite3_bind_int64(st, 3, id);
	}
	sqlite3_bind_int64(st, 4, WALK_CHUNK);
	while (n < WALK_CHUNK && sqlite3_step(st) == SQLITE_ROW) {
		s = db_col_text(st, 0);
		l->rows[n].name = xstrdup(s != NULL ? s : "");
		l->rows[n].id = sqlite3_column_int64(st, 1);
		n++;
	}
	sqlite3_reset(st);
	free(from);
	l->n = n;
	l->loaded = 1;
	l->done = n < WALK_CHUNK;
}

/* Moves a list to its first row >= (name, id) (NULL name: its first row). */
static struct walk_row *
walk_list_seek(struct walk_list *l, const char *name, int64_t id)
{
	struct walk_row	*last;

	if (!l->loaded) {
		walk_fill(l, name, id);
		return l->n > 0 ? &l->rows[0] : NULL;
	}
	while (name != NULL && l->at < l->n &&
	    name_cmp(l->rows[l->at].name, l->rows[l->at].id, name, id) < 0)
		l->at++;
	if (l->at < l->n)
		return &l->rows[l->at];
	if (l->done || l->n == 0)
		return NULL;
	/* Past the chunk: seek, from the key or from just after the chunk. */
	last = &l->rows[l->n - 1];
	if (name == NULL || name_cmp(name, id, last->name, last->id) <= 0)
		walk_fill(l, last->name, last->id + 1);
	else
		walk_fill(l, name, id);
	return l->n > 0 ? &l->rows[0] : NULL;
}

/* Moves every list of a cursor to >= (name, id); its head, or NULL at the end. */
static struct walk_row *
walk_seek(struct walk_cursor *c, const char *name, int64_t id)
{
	struct walk_row	*r;
	size_t		 i;

	c->head = NULL;
	for (i = 0; i < c->nlists; i++) {
		if ((r = walk_list_seek(&c->lists[i], name, id)) == NULL)
			continue;
		if (c->head == NULL ||
		    name_cmp(r->name, r->id, c->head->name, c->head->id) < 0)
			c->head = r;
	}
	return c->head;
}

static int
search_by_word_walk(const struct patient_query *q, const struct search_plan *plan,
    size_t limit, int64_t *ids, size_t *n)
{
	static const char *filter_sql = "SELECT 1 FROM patients p WHERE p.id = ?36"
	    SEARCH_FILTERS;
	struct walk_cursor	 cur[PATIENT_WORDS_MAX];
	struct walk_list	*lists;
	struct walk_row		*r;
	struct search_plan	 only;
	sqlite3_stmt		*filter = NULL;
	char			*key = NULL;
	int64_t			 key_id = 0;
	size_t			 nlists = 0, i, j, first;
	int			 ok, behind;

	*n = 0;
	lists = xcalloc(WALK_LISTS_MAX, sizeof *lists);
	for (i = 0; i < q->name.n; i++) {
		first = nlists;
		if (walk_words(q->name.word[i], plan->bounds[i], lists, &nlists,
		    WALK_LISTS_MAX) != 0) {
			free(lists);
			return 0;
		}
		cur[i].lists = &lists[first];
		cur[i].nlists = nlists - first;
		cur[i].head = NULL;
		if (cur[i].nlists == 0) {
			free(lists);
			return 1;	/* a word nobody's name starts with */
		}
	}
	/* The words are joined here; only a phone or a date is left to check. */
	if (q->phone_digits != NULL || q->date_of_birth != NULL) {
		struct patient_query	rest = *q;

		rest.name.n = 0;
		memset(&only, 0, sizeof only);
		strlcpy_mf(only.phone_hi, plan->phone_hi, sizeof only.phone_hi);
		only.driver = DRIVE_WORD;
		filter = db_prepare(filter_sql);
		search_bind_filters(filter, &rest, &only, 1);
	}
	/* Leapfrog: every cursor moves to the greatest head until all agree. */
	while (*n < limit) {
		if ((r = walk_seek(&cur[0], key, key_id)) == NULL)
			break;
		free(key);
		key = xstrdup(r->name);
		key_id = r->id;
		behind = 0;
		for (j = 1; j < q->name.n; j++) {
			if ((r = walk_seek(&cur[j], key, key_id)) == NULL)
				goto done;
			if (name_cmp(r->name, r->id, key, key_id) > 0) {
				free(key);
				key = xstrdup(r->name);
				key_id = r->id;
				behind = 1;
				break;
			}
		}
		if (behind)
			continue;
		/* Every word has this patient. */
		ok = 1;
		if (filter != NULL) {
			sqlite3_bind_int64(filter, 36, key_id);
			ok = sqlite3_step(filter) == SQLITE_ROW;
			sqlite3_reset(filter);
		}
		if (ok && q->keep != NULL)
			ok = q->keep(key_id, q->keep_arg);
		if (ok)
			ids[(*n)++] = key_id;
		key_id++;	/* on to the next (name, id) */
	}
done:
	free(key);
	for (i = 0; i < nlists; i++)
		walk_list_clear(&lists[i]);
	free(lists);
	return 1;
}

/* About how many patients there are, without counting them all. */
static double
patients_estimate(void)
{
	static const char *sql = "SELECT max(id) FROM patients";
	sqlite3_stmt	*st = db_prepare(sql);
	double		 n = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = (double)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/* Picks the driving criterion; returns its row count counted up to cap (0: nothing
 * matches); cap 0 counts nothing and returns 1. */
static size_t
search_plan_make(const struct patient_query *q, struct search_plan *plan,
    double *match_share, size_t cap)
{
	size_t	i, count, best = SIZE_MAX;
	double	total = patients_estimate();

	memset(plan, 0, sizeof *plan);
	*match_share = 1;
	for (i = 0; i < q->name.n; i++) {
		prefix_upper_bound(q->name.word[i], plan->bounds[i], sizeof plan->bounds[i]);
		count = cap == 0 ? 1 : search_count(DRIVE_WORD, q->name.word[i], plan->bounds[i],
		    cap);
		*match_share *= total > 0 ? (double)count / total : 0;
		/* Among equals the longest word is likely the narrowest. */
		if (count < best || (count == best &&
		    strlen(q->name.word[i]) > strlen(q->name.word[plan->word]))) {
			best = count;
			plan->driver = DRIVE_WORD;
			plan->word = i;
		}
	}
	if (q->phone_digits != NULL) {
		prefix_upper_bound(q->phone_digits, plan->phone_hi, sizeof plan->phone_hi);
		count = cap == 0 ? 1 : search_count(DRIVE_PHONE, q->phone_digits, plan->phone_hi,
		    cap);
		*match_share *= total > 0 ? (double)count / total : 0;
		if (count < best) {
			best = count;
			plan->driver = DRIVE_PHONE;
		}
	}
	if (q->date_of_birth != NULL) {
		count = cap == 0 ? 1 : search_count(DRIVE_DATE, q->date_of_birth, NULL,
		    cap);
		*match_share *= total > 0 ? (double)count / total : 0;
		if (count < best) {
			best = count;
			plan->driver = DRIVE_DATE;
		}
	}
	return best;
}

size_t
patients_search(const struct patient_query *q, int64_t *ids)
{
	struct search_plan	plan;
	size_t			n, best = 0, limit = q->limit, budget, cap;
	double			share = 1, walk;
	int			by_name_order, recount = 1;

	if (limit == 0 || limit > PATIENT_SEARCH_MAX)
		limit = PATIENT_SEARCH_MAX;
	if (q->name.n == 0 && q->phone_digits == NULL && q->date_of_birth == NULL)
		return 0;	/* no criterion: never a list of every patient */
	/*
	 * The word walk answers whenever a name word is the narrowest
	 * criterion. Counts only pick between names and a phone or a date, so
	 * they stop at WALK_COUNT_CAP; the older plans recount only when a
	 * criterion reached it.
	 */
	if (search_forced_plan == SEARCH_PLAN_AUTO) {
		/* Names alone need no counts: the walk goes straight there. */
		cap = q->phone_digits == NULL && q->date_of_birth == NULL ? 0 :
		    WALK_COUNT_CAP;
		if ((best = search_plan_make(q, &plan, &share, cap)) == 0)
			return 0;
		if (plan.driver == DRIVE_WORD &&
		    search_by_word_walk(q, &plan, limit, ids, &n))
			return n;
		/*
		 * Every criterion is broad (a phone prefix most numbers share):
		 * a short walk in name order fills a page before a longer count
		 * would have finished.
		 */
		if (cap > 0 && best >= cap && q->keep == NULL &&
		    search_by_name_order(q, &plan, limit, cap / 2, ids, &n))
			return n;
		recount = cap == 0 || best >= cap;
	}
	if (recount && (best = search_plan_make(q, &plan, &share,
	    SEARCH_COUNT_CAP)) == 0)
		return 0;
	/* Independent criteria: a page needs about limit / share walked rows. */
	walk = share > 0 ? (double)limit / share : HUGE_VAL;
	budget = search_scan_budget;
	if (search_forced_plan != SEARCH_PLAN_AUTO)
		by_name_order = search_forced_plan == SEARCH_PLAN_NAME_ORDER;
	else if (q->keep != NULL)
		/* Whom the filter keeps is unknown; walk only when all else is worse. */
		by_name_order = best >= SEARCH_COUNT_CAP;
	else {
		by_name_order = walk * SEARCH_SCAN_ROW_COST < (double)best &&
		    walk <= (double)search_scan_budget / 2;
		/* No further than the candidates' cost (see above). */
		if (best / SEARCH_SCAN_ROW_COST < budget)
			budget = best / SEARCH_SCAN_ROW_COST;
	}
	if (by_name_order && search_by_name_order(q, &plan, limit, budget, ids, &n))
		return n;
	return search_by_candidates(q, &plan, limit, ids);
}

/* --- pure helpers --- */

size_t
patient_phone_digits(const char *phone, char *out, size_t outlen)
{
	size_t	n = 0;

	for (; *phone != '\0'; phone++) {
		if (*phone >= '0' && *phone <= '9' && n + 1 < outlen)
			out[n++] = *phone;
	}
	if (outlen > 0)
		out[n] = '\0';
	return n;
}

const char *
patient_dob_problem(const char *dob, int64_t now)
{
	struct civil_date	d, today;
	int			minutes, i;

	if (strlen(dob) != 10 || dob[4] != '-' || dob[7] != '-')
		return "must be a date, YYYY-MM-DD";
	for (i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (dob[i] < '0' || dob[i] > '9'))
			return "must be a date, YYYY-MM-DD";
	}
	if (strncmp(dob, "1900", 4) < 0)
		return "must not be before 1900-01-01";
	if (strncmp(dob, "2200", 4) > 0)
		return "must not be in the future";
	if (date_parse(dob, &d) != 0)
		return "is not a real calendar date";
	/* The clinic's today: a baby born this morning is no future patient. */
	utc_to_local(now, &today, &minutes);
	if (date_compare(&d, &today) > 0)
		return "must not be in the future";
	return NULL;
}

/* Reads one code point of valid UTF-8 and advances; U+FFFD on a bad byte. */
static uint32_t
utf8_decode(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char	*p = *pp;
	uint32_t		 c = *p++;
	size_t			 more, i;

	if (c < 0x80)
		more = 0;
	else if (c >= 0xc2 && c <= 0xdf) {
		more = 1;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		more = 2;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		more = 3;
		c &= 0x07;
	} else {
		*pp = p;
		return 0xfffd;
	}
	for (i = 0; i < more; i++) {
		if (p >= end || (*p & 0xc0) != 0x80) {
			*pp = p;
			return 0xfffd;
		}
		c = (c << 6) | (*p++ & 0x3f);
	}
	*pp = p;
	return c;
}

static size_t
utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * Latin letters lower-cased and without diacritics, so a desk keyboard
 * without accents finds "García" by "garcia". NULL: not a folded letter.
 */
static const char *
fold_latin(uint32_t c)
{
	/* U+00C0..U+00FF; '*' marks the letters spelled with two. */
	static const char latin1[] =
	    "aaaaaa*ceeeeiiiidnooooo*ouuuuy**"
	    "aaaaaa*ceeeeiiiidnooooo*ouuuuy*y";
	/* U+0100..U+017F (Latin Extended-A). */
	static const char extended_a[] =
	    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii**jjkkk"
	    "llllllllllnnnnnnnnnoooooo**rrrrrrsssssssstttttt"
	    "uuuuuuuuuuuuwwyyyzzzzzzs";
	_Static_assert(sizeof latin1 == 0x40 + 1, "latin1 covers U+00C0..U+00FF");
	_Static_assert(sizeof extended_a == 0x80 + 1, "extended_a covers U+0100..U+017F");
	static const char *const letters[] = {
		"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
		"n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
	};
	char	ch = 0;

	if (c >= 'A' && c <= 'Z')
		return letters[c - 'A'];
	if (c >= 'a' && c <= 'z')
		return letters[c - 'a'];
	if (c >= 0xc0 && c <= 0xff) {
		switch (c) {
		case 0xc6: case 0xe6: return "ae";
		case 0xd7: return NULL;		/* multiplication sign */
		case 0xde: case 0xfe: return "th";
		case 0xdf: return "ss";
		case 0xf7: return NULL;		/* division sign */
		}
		ch = latin1[c - 0xc0];
	} else if (c >= 0x100 && c <= 0x17f) {
		switch (c) {
		case 0x132: case 0x133: return "ij";
		case 0x152: case 0x153: return "oe";
		}
		ch = extended_a[c - 0x100];
	} else if (c >= 0x218 && c <= 0x21b)	/* Romanian S and T with comma */
		ch = c < 0x21a ? 's' : 't';
	if (ch >= 'a' && ch <= 'z')
		return letters[ch - 'a'];
	return NULL;
}

/* Simple lower-casing (and accent folding) of Greek and Cyrillic. */
static uint32_t
fold_other(uint32_t c)
{
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		c += 0x20;
	switch (c) {
	case 0x386: case 0x3ac: return 0x3b1;
	case 0x388: case 0x3ad: return 0x3b5;
	case 0x389: case 0x3ae: return 0x3b7;
	case 0x38a: case 0x3af: case 0x3ca: case 0x390: return 0x3b9;
	case 0x38c: case 0x3cc: return 0x3bf;
	case 0x38e: case 0x3cd: case 0x3cb: case 0x3b0: return 0x3c5;
	case 0x38f: case 0x3ce: return 0x3c9;
	case 0x3c2: return 0x3c3;		/* final sigma */
	case 0x401: case 0x451: return 0x435;	/* io reads as ie */
	}
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	/* Latin Extended Additional (Vietnamese): pairs, upper case even. */
	if (c >= 0x1e00 && c <= 0x1eff && (c < 0x1e96 || c > 0x1e9f) && c % 2 == 0)
		return c + 1;
	return c;
}

static int
is_separator(uint32_t c)
{
	switch (c) {
	case ' ': case ',': case '.': case '-': case ';': case ':': case '/':
	case '(': case ')': case '"': case '&': case '+': case '_':
	case 0xa0:			/* no-break space */
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x201c: case 0x201d:
		return 1;
	}
	return c < 0x20;
}

static int
is_apostrophe(uint32_t c)
{
	return c == '\'' || c == '`' || c == 0x2018 || c == 0x2019 || c == 0x2bc ||
	    c == 0xb4;
}

/* Appends the folded form of c to a word of PATIENT_WORD_BYTES, if it fits. */
static void
fold_append(uint32_t c, char *word, size_t *len, size_t cap)
{
	const char	*s;
	char		 buf[4];
	size_t		 n;

	/* Combining marks (decomposed accents) fold away. */
	if (c >= 0x300 && c <= 0x36f)
		return;
	if ((s = fold_latin(c)) != NULL)
		n = strlen(s);
	else {
		n = utf8_encode(fold_other(c), buf);
		s = buf;
	}
	/* Truncate at a character boundary: a long word keeps its prefix. */
	if (*len + n >= cap)
		return;
	memcpy(word + *len, s, n);
	*len += n;
	word[*len] = '\0';
}

static void
words_add(struct patient_words *out, const char *word, size_t len, int *overflow)
{
	size_t	i;

	if (len == 0)
		return;
	for (i = 0; i < out->n; i++) {
		if (strcmp(out->word[i], word) == 0)
			return;
	}
	if (out->n == PATIENT_WORDS_MAX) {
		*overflow = 1;
		return;
	}
	memcpy(out->word[out->n], word, len + 1);
	out->n++;
}

int
patient_name_words(const char *name, struct patient_words *out)
{
	const unsigned char	*p = (const unsigned char *)name;
	const unsigned char	*end = p + strlen(name);
	char			 part[PATIENT_WORD_BYTES], joined[PATIENT_WORD_BYTES];
	size_t			 part_len = 0, joined_len = 0;
	int			 parts = 0, overflow = 0;

	out->n = 0;
	part[0] = joined[0] = '\0';
	for (;;) {
		uint32_t	c = p < end ? utf8_decode(&p, end) : ' ';
		int		at_end = p >= end && c == ' ';

		if (is_separator(c) || is_apostrophe(c)) {
			if (part_len > 0) {
				words_add(out, part, part_len, &overflow);
				parts++;
			}
			part_len = 0;
			part[0] = '\0';
			if (is_separator(c)) {
				/* "O'Brien" is also found as "obrien". */
				if (parts > 1)
					words_add(out, joined, joined_len, &overflow);
				parts = 0;
				joined_len = 0;
				joined[0] = '\0';
			}
			if (at_end)
				break;
			continue;
		}
		fold_append(c, part, &part_len, sizeof part);
		fold_append(c, joined, &joined_len, sizeof joined);
	}
	return overflow ? -1 : 0;
}
