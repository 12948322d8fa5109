/* patients.h -- patient records (tables patients, patient_name_words).
 *
 * A patient is a record; it may have a login (user_id, a user with role
 * patient) or not (registered at the desk, claimed later by signing up with
 * the same e-mail). Other modules call these functions, not the tables. */
#ifndef MF_PATIENTS_H
#define MF_PATIENTS_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "users.h"

#define PATIENT_ADDRESS_MAX_CHARS	500
#define PATIENT_EMERGENCY_MAX_CHARS	300
#define PATIENT_DATE_BYTES		11	/* "YYYY-MM-DD" and NUL */

/* Optional text fields are "" when not given. */
struct patient {
	int64_t		id;
	int64_t		user_id;	/* 0: no login */
	char		full_name[NAME_MAX_CHARS * 4 + 1];
	char		date_of_birth[PATIENT_DATE_BYTES];
	char		phone[PHONE_MAX + 1];
	char		email[EMAIL_MAX + 1];	/* normalised */
	char		address[PATIENT_ADDRESS_MAX_CHARS * 4 + 1];
	char		emergency_contact[PATIENT_EMERGENCY_MAX_CHARS * 4 + 1];
	int64_t		created_at;
	int64_t		updated_at;
};

/* What a booking shows of its patient, without the rest of the row. */
struct patient_brief {
	int64_t		id;
	int64_t		user_id;	/* 0: no login */
	char		full_name[NAME_MAX_CHARS * 4 + 1];
	int64_t		no_show_count;
};

/* 0 and the row, or -1 when there is none. */
int	patients_by_id(int64_t, struct patient *);
/* 0 and the patient's brief, or -1 when there is none. */
int	patients_brief_by_id(int64_t, struct patient_brief *);
int	patients_by_user(int64_t user_id, struct patient *);
/*
 * Inserts and sets p->id, with the name's search words and the phone's
 * digits. Call inside the caller's write transaction so the row and its
 * words land together. 0, -1 when user_id is already linked, -2 on error.
 */
int	patients_insert(struct patient *);
/* Writes every mutable column back and rewrites the search words; as above. */
int	patients_save(const struct patient *);
/* Packs the public fields as a map; empty fields and user_id 0 as nil. */
void	patients_pack(msgpack_packer *, const struct patient *);
/* The same map with room for extra more pairs the caller packs after it. */
void	patients_pack_open(msgpack_packer *, const struct patient *, int extra);
/*
 * For a new patient login: links the one unclaimed record (no user_id)
 * whose e-mail is this e-mail, or creates a record. proof_dob NULL means a
 * trusted caller (an admin, the demo); otherwise the record's date of birth
 * must equal it, or a new record is made. Returns the patient id
 * or -1. Call inside the caller's write transaction.
 */
int64_t	patients_attach_user(int64_t user_id, const char *email,
	    const char *full_name, const char *phone, const char *proof_dob,
	    int64_t now);

/* --- search --- */

#define PATIENT_WORDS_MAX	16	/* words a name or a query may hold */
#define PATIENT_WORD_BYTES	64	/* a folded word, truncated, with NUL */
#define PATIENT_SEARCH_MAX	100

struct patient_words {
	size_t	n;
	char	word[PATIENT_WORDS_MAX][PATIENT_WORD_BYTES];
};

struct patient_query {
	struct patient_words	 name;		/* n = 0: any name */
	const char		*phone_digits;	/* NULL: any phone */
	const char		*date_of_birth;	/* NULL: any date */
	size_t			 limit;		/* 1..PATIENT_SEARCH_MAX */
	/* NULL: every match; else only the patients it keeps (a doctor's own). */
	int			(*keep)(int64_t patient_id, void *arg);
	void			*keep_arg;
};

/*
 * Patients matching every part of the query, ordered by name, into ids (at
 * most q->limit). Each name word matches a patient having a name word that
 * starts with it. At least one of name, phone_digits or date_of_birth must
 * be set; every path is an index range scan. Returns the count.
 */
size_t	patients_search(const struct patient_query *, int64_t *ids);
/* Forces a search plan and sets the name-order walk's budget (see
 * patients.c); for the tests, which check that every plan agrees. */
enum patient_search_plan {
	SEARCH_PLAN_AUTO = 0,
	SEARCH_PLAN_CANDIDATES,
	SEARCH_PLAN_NAME_ORDER
};
void	patients_search_tune(enum patient_search_plan, size_t scan_budget);

/* --- pure helpers (exposed for the unit tests) --- */

/*
 * Splits a name into lower-cased words without Latin diacritics ("José
 * García-López" -> "jose", "garcia", "lopez"), each once. Apostrophes join as
 * well as split: "O'Brien" -> "o", "brien", "obrien". Returns 0, or -1 when
 * there were more than PATIENT_WORDS_MAX words (out holds the first ones).
 */
int	patient_name_words(const char *, struct patient_words *out);
/* Copies the digits of a phone number into out; returns how many. */
size_t	patient_phone_digits(const char *, char *out, size_t outlen);
/*
 * NULL when dob is a real calendar date "YYYY-MM-DD" from 1900-01-01 to the
 * clinic's today (at now), else why not ("must be a date YYYY-MM-DD", ...).
 */
const char *patient_dob_problem(const char *dob, int64_t now);

#endif
