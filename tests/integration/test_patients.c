/* test_patients.c -- patients.create, patients.search, patients.get and
 * patients.update against a real mediflowd: roles, validation, prefix
 * search, ownership and the audit rows they leave. One server for the
 * file; each test makes patients with names of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "util.h"

static struct tsrv	srv;

static int
group_setup(void **state)
{
	(void)state;
	srv_start(&srv, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	return 0;
}

/* Creates a patient as the receptionist on c; returns its id. */
static int64_t
create_patient(struct tcli *c, const char *name, const char *dob, const char *phone)
{
	json_t	*res;

	res = call_ok(c, "patients.create", "{s:s, s:s?, s:s?}", "full_name", name,
	    "date_of_birth", dob, "phone", phone);
	assert_true(jint(res, "patient.id") > 0);
	return jint(res, "patient.id");
}

/* The ids of a search's patients, in order, as "id,id,..." (allocated). */
static char *
result_ids(json_t *res)
{
	json_t	*list = jpath(res, "patients"), *p;
	char	*s = xstrdup(""), *t;
	size_t	 i;

	assert_true(json_is_array(list));
	json_array_foreach(list, i, p) {
		t = xasprintf("%s%s%lld", s, i > 0 ? "," : "",
		    (long long)jint(p, "id"));
		free(s);
		s = t;
	}
	return s;
}

/* Asserts that a search returns exactly these ids, in this order. */
#define assert_found(res, ...) do {					\
	int64_t	 want_[] = { __VA_ARGS__ };				\
	char	*got_ = result_ids(res), *exp_ = xstrdup(""), *t_;	\
	size_t	 i_;							\
									\
	for (i_ = 0; i_ < nitems(want_); i_++) {			\
		t_ = xasprintf("%s%s%lld", exp_, i_ > 0 ? "," : "",	\
		    (long long)want_[i_]);				\
		free(exp_);						\
		exp_ = t_;						\
	}								\
	assert_string_equal(got_, exp_);				\
	free(got_);							\
	free(exp_);							\
} while (0)

#define assert_none_found(res) \
	assert_int_equal(json_array_size(jpath((res), "patients")), 0)

/* The newest audit row of an action about a patient, via audit.list. */
static json_t *
last_audit(struct tcli *admin, const char *action, int64_t patient_id)
{
	json_t	*res;

	if (patient_id > 0)
		res = call_ok(admin, "audit.list", "{s:s, s:I, s:i}", "action", action,
		    "patient_id", (json_int_t)patient_id, "limit", 1);
	else
		res = call_ok(admin, "audit.list", "{s:s, s:i}", "action", action,
		    "limit", 1);
	return jpath(res, "entries.0");
}

static int64_t
audit_count(struct tcli *admin, const char *action, int64_t patient_id)
{
	json_t	*res = call_ok(admin, "audit.list", "{s:s, s:I, s:i}", "action",
	    action, "patient_id", (json_int_t)patient_id, "limit", 500);

	return (int64_t)json_array_size(jpath(res, "entries"));
}

/* --- patients.create --- */

static void
test_create_as_receptionist_returns_the_record(void **state)
{
	struct tcli	 c;
	json_t		*res;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	res = call_ok(&c, "patients.create", "{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "full_name", "Henrietta Quarles", "date_of_birth", "1961-04-09",
	    "phone", "+44 20 7946 0101", "email", "  H.Quarles@Example.ORG ",
	    "address", "12 Mill Lane\nLittle Hadham", "emergency_contact",
	    "Tom Quarles (son) +44 20 7946 0102");
	assert_true(jint(res, "patient.id") > 0);
	assert_jstr(res, "patient.full_name", "Henrietta Quarles");
	assert_jstr(res, "patient.date_of_birth", "1961-04-09");
	assert_jstr(res, "patient.phone", "+44 20 7946 0101");
	assert_jstr(res, "patient.email", "h.quarles@example.org");
	assert_jstr(res, "patient.address", "12 Mill Lane\nLittle Hadham");
	assert_jstr(res, "patient.emergency_contact", "Tom Quarles (son) +44 20 7946 0102");
	/* A desk registration has no login. */
	assert_true(json_is_null(jpath(res, "patient.user_id")));
	assert_true(jint(res, "patient.created_at") > 0);

	/* Only the name is required; the rest come back as null. */
	res = call_ok(&c, "patients.create", "{s:s}", "full_name", "Ignatius Quarles");
	assert_true(json_is_null(jpath(res, "patient.date_of_birth")));
	assert_true(json_is_null(jpath(res, "patient.phone")));
	assert_true(json_is_null(jpath(res, "patient.email")));
	cli_close(&c);

	cli_open_as(&c, &srv, DEMO_ADMIN);
	call_ok(&c, "patients.create", "{s:s}", "full_name", "Admin Made Quarles");
	cli_close(&c);
}

static void
test_create_as_patient_or_doctor_is_forbidden(void **state)
{
	struct tcli	c;

	(void)state;
	cli_open_as(&c, &srv, DEMO_PATIENT);
	call_err(&c, "patients.create", "forbidden", "{s:s}", "full_name", "Not Allowed");
	cli_close(&c);
	cli_open_as(&c, &srv, DEMO_DOCTOR);
	call_err(&c, "patients.create", "forbidden", "{s:s}", "full_name", "Not Allowed");
	cli_close(&c);
	cli_open(&c, &srv);
	call_err(&c, "patients.create", "unauthenticated", "{s:s}", "full_name",
	    "Not Allowed");
	cli_close(&c);
}

/* Creating with one bad field fails with bad_request naming the field. */
static void
create_fails(struct tcli *c, const char *field, const char *fmt, ...)
{
	json_t		*reply, *err;
	va_list		 ap;

	va_start(ap, fmt);
	reply = cli_vcall(c, "patients.create", fmt, ap);
	va_end(ap);
	err = reply_err(reply, "bad_request");
	if (strstr(jstr(err, "message"), field) == NULL) {
		print_error("message \"%s\" does not name %s\n", jstr(err, "message"),
		    field);
		fail();
	}
}

static void
test_create_refuses_bad_fields(void **state)
{
	struct tcli	 c;
	char		*long_name = repeat_char('a', 201), *long_address;
	char		*long_contact, *long_email, *long_phone, *local;

	(void)state;
	long_address = repeat_char('b', 501);
	long_contact = repeat_char('c', 301);
	local = repeat_char('d', 250);
	long_email = xasprintf("%s@x.org", local);	/* 256 characters */
	long_phone = repeat_char('1', 33);
	cli_open_as(&c, &srv, DEMO_RECEPTION);

	create_fails(&c, "full_name", "{s:s}", "phone", "+44 20 7946 0000");
	create_fails(&c, "full_name", "{s:s}", "full_name", "");
	create_fails(&c, "full_name", "{s:s}", "full_name", " - . ");
	create_fails(&c, "full_name", "{s:s}", "full_name", long_name);
	create_fails(&c, "full_name", "{s:i}", "full_name", 42);
	create_fails(&c, "full_name", "{s:s}", "full_name", "Two\nLines");

	create_fails(&c, "date_of_birth", "{s:s, s:s}", "full_name", "Bad Date",
	    "date_of_birth", "1990-02-30");
	create_fails(&c, "date_of_birth", "{s:s, s:s}", "full_name", "Bad Date",
	    "date_of_birth", "17/05/1990");
	create_fails(&c, "date_of_birth", "{s:s, s:s}", "full_name", "Bad Date",
	    "date_of_birth", "1899-12-31");
	create_fails(&c, "date_of_birth", "{s:s, s:s}", "full_name", "Future Date",
	    "date_of_birth", "2150-01-01");

	create_fails(&c, "phone", "{s:s, s:s}", "full_name", "Bad Phone",
	    "phone", "call me maybe");
	create_fails(&c, "phone", "{s:s, s:s}", "full_name", "Bad Phone",
	    "phone", "12");
	create_fails(&c, "phone", "{s:s, s:s}", "full_name", "Long Phone",
	    "phone", long_phone);
	create_fails(&c, "email", "{s:s, s:s}", "full_name", "Bad Email",
	    "email", "not-an-address");
	create_fails(&c, "email", "{s:s, s:s}", "full_name", "Long Email",
	    "email", long_email);
	create_fails(&c, "address", "{s:s, s:s}", "full_name", "Long Address",
	    "address", long_address);
	create_fails(&c, "emergency_contact", "{s:s, s:s}", "full_name",
	    "Long Contact", "emergency_contact", long_contact);
	create_fails(&c, "user_id", "{s:s, s:i}", "full_name", "Sneaky",
	    "user_id", 1);

	/* The limits themselves are allowed. */
	long_address[500] = '\0';
	long_contact[300] = '\0';
	long_name[200] = '\0';
	call_ok(&c, "patients.create", "{s:s, s:s, s:s}", "full_name", long_name,
	    "address", long_address, "emergency_contact", long_contact);
	cli_close(&c);
	free(long_name);
	free(long_address);
	free(long_contact);
	free(local);
	free(long_email);
	free(long_phone);
}

/* --- patients.search --- */

static void
test_search_matches_every_word_by_prefix(void **state)
{
	struct tcli	 c;
	int64_t		 quentin, quincy, other;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	quentin = create_patient(&c, "Quentin Xylander", NULL, NULL);
	quincy = create_patient(&c, "Quincy Xylander-Brook", NULL, NULL);
	other = create_patient(&c, "Xylia Moss", NULL, NULL);

	/* Every typed word starts some word of the name; order by name. */
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "xyl qu"),
	    quentin, quincy);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "xyl"),
	    quentin, quincy, other);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "XYLANDER QUENTIN"),
	    quentin);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "brook xyl"),
	    quincy);
	/* Prefixes, not substrings. */
	assert_none_found(call_ok(&c, "patients.search", "{s:s}", "name", "lander"));
	assert_none_found(call_ok(&c, "patients.search", "{s:s}", "name", "xyl zz"));
	cli_close(&c);
}

static void
test_search_folds_case_and_accents_of_utf8_names(void **state)
{
	struct tcli	 c;
	int64_t		 zoe, jose;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	zoe = create_patient(&c, "Zoë Ångström-Øvergaard", NULL, NULL);
	jose = create_patient(&c, "José Ñúñez Vélezquintana", NULL, NULL);

	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "ångström zoë"), zoe);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "ANGSTROM"), zoe);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "øverg"), zoe);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "overg zo"), zoe);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "VÉLEZQ JOSÉ"), jose);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "nunez velezq"), jose);
	assert_jstr(call_ok(&c, "patients.search", "{s:s}", "name", "velezquintana"),
	    "patients.0.full_name", "José Ñúñez Vélezquintana");
	cli_close(&c);
}

static void
test_search_by_phone_prefix(void **state)
{
	struct tcli	 c;
	int64_t		 a, b;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	a = create_patient(&c, "Phoebe Callaghan", NULL, "+353 (1) 555-7301");
	b = create_patient(&c, "Philip Callaghan", NULL, "+353 1 555 7399");

	/* Typed punctuation does not matter; digits match from the start. */
	assert_found(call_ok(&c, "patients.search", "{s:s}", "phone", "3531555"), b, a);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "phone", "+353 1 555-73"),
	    b, a);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "phone", "353155573 01"), a);
	assert_none_found(call_ok(&c, "patients.search", "{s:s}", "phone", "5557301"));
	call_err(&c, "patients.search", "bad_request", "{s:s}", "phone", "abc");
	cli_close(&c);
}

static void
test_search_by_date_of_birth(void **state)
{
	struct tcli	 c;
	int64_t		 a, b;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	a = create_patient(&c, "Ottilie Brandauer", "1911-11-11", NULL);
	b = create_patient(&c, "Konrad Brandauer", "1911-11-11", NULL);
	create_patient(&c, "Ottilie Brandauer", "1911-11-12", NULL);

	assert_found(call_ok(&c, "patients.search", "{s:s}", "date_of_birth",
	    "1911-11-11"), b, a);
	/* Criteria combine. */
	assert_found(call_ok(&c, "patients.search", "{s:s, s:s}", "date_of_birth",
	    "1911-11-11", "name", "ott"), a);
	call_err(&c, "patients.search", "bad_request", "{s:s}", "date_of_birth",
	    "1911-02-30");
	call_err(&c, "patients.search", "bad_request", "{s:s}", "date_of_birth",
	    "11.11.1911");
	cli_close(&c);
}

static void
test_search_q_picks_phone_date_or_name(void **state)
{
	struct tcli	 c;
	int64_t		 a;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	a = create_patient(&c, "Wilhelmina Quasthoff", "1922-02-22", "+49 30 555 2222");

	assert_found(call_ok(&c, "patients.search", "{s:s}", "q", "quasth wil"), a);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "q", "1922-02-22"), a);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "q", " 1922-02-22  "), a);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "q", "4930555"), a);
	assert_found(call_ok(&c, "patients.search", "{s:s}", "q", "+49 30 555 22"), a);
	call_err(&c, "patients.search", "bad_request", "{s:s}", "q", "1922-02-30");
	call_err(&c, "patients.search", "bad_request", "{s:s}", "q", " . - ");
	call_err(&c, "patients.search", "bad_request", "{s:s, s:s}", "q", "quasth",
	    "name", "wil");
	cli_close(&c);
}

static void
test_search_limit_and_bad_arguments(void **state)
{
	struct tcli	 c;
	json_t		*res;
	char		 name[64];
	int		 i;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "Vasco Limitov%d", i);
		create_patient(&c, name, NULL, NULL);
	}
	res = call_ok(&c, "patients.search", "{s:s, s:i}", "name", "limitov", "limit", 3);
	assert_int_equal(json_array_size(jpath(res, "patients")), 3);
	assert_jstr(res, "patients.0.full_name", "Vasco Limitov0");
	res = call_ok(&c, "patients.search", "{s:s}", "name", "limitov");
	assert_int_equal(json_array_size(jpath(res, "patients")), 5);

	call_err(&c, "patients.search", "bad_request", "{s:s, s:i}", "name", "x",
	    "limit", 0);
	call_err(&c, "patients.search", "bad_request", "{s:s, s:i}", "name", "x",
	    "limit", 101);
	/* No criterion would list every patient. */
	call_err(&c, "patients.search", "bad_request", "{}");
	call_err(&c, "patients.search", "bad_request", "{s:s}", "email", "a@b.org");
	call_err(&c, "patients.search", "bad_request", "{s:s}", "name",
	    "a b c d e f g h i j k l m n o p q");
	cli_close(&c);

	cli_open_as(&c, &srv, DEMO_PATIENT);
	call_err(&c, "patients.search", "forbidden", "{s:s}", "name", "limitov");
	cli_close(&c);
}

static void
test_search_writes_one_audit_row(void **state)
{
	struct tcli	 c, admin;
	json_t		*row;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	create_patient(&c, "Audita Searchling", NULL, NULL);
	call_ok(&c, "patients.search", "{s:s}", "name", "searchling aud");
	row = last_audit(&admin, "patients.search", 0);
	assert_non_null(row);
	assert_jstr(row, "actor_role", "receptionist");
	assert_non_null(strstr(jstr(row, "detail"), "searchling aud"));
	assert_non_null(strstr(jstr(row, "detail"), "1 found"));
	cli_close(&c);
	cli_close(&admin);
}

/* --- patients.get --- */

static void
test_get_by_desk_and_unknown_id(void **state)
{
	struct tcli	 c;
	int64_t		 id;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	id = create_patient(&c, "Gertrude Getter", "1950-05-05", NULL);
	assert_jstr(call_ok(&c, "patients.get", "{s:I}", "id", (json_int_t)id),
	    "patient.full_name", "Gertrude Getter");
	call_err(&c, "patients.get", "not_found", "{s:I}", "id", (json_int_t)9999999);
	call_err(&c, "patients.get", "bad_request", "{}");
	call_err(&c, "patients.get", "bad_request", "{s:s}", "id", "1");
	call_err(&c, "patients.get", "bad_request", "{s:I, s:b}", "id",
	    (json_int_t)id, "full", 1);
	cli_close(&c);
	cli_open_as(&c, &srv, DEMO_ADMIN);
	call_ok(&c, "patients.get", "{s:I}", "id", (json_int_t)id);
	cli_close(&c);
}

static void
test_get_patient_sees_only_own_record(void **state)
{
	struct tcli	 c;
	json_t		*me;
	int64_t		 own, other;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	other = create_patient(&c, "Someone Else Entirely", NULL, NULL);
	cli_close(&c);

	/* The demo patient's login is linked to its record. */
	cli_open_as(&c, &srv, DEMO_PATIENT);
	me = call_ok(&c, "auth.me", NULL);
	own = jint(me, "patient_id");
	assert_true(own > 0);
	assert_int_equal(jint(call_ok(&c, "patients.get", "{s:I}", "id",
	    (json_int_t)own), "patient.id"), own);
	/* The id may be left out. */
	assert_int_equal(jint(call_ok(&c, "patients.get", "{}"), "patient.id"), own);
	call_err(&c, "patients.get", "forbidden", "{s:I}", "id", (json_int_t)other);
	/* Whether an id exists is not given away. */
	call_err(&c, "patients.get", "forbidden", "{s:I}", "id", (json_int_t)9999999);
	cli_close(&c);
}

static void
test_get_writes_an_audit_row_each_time(void **state)
{
	struct tcli	 c, admin;
	json_t		*row;
	int64_t		 id, before;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_patient(&c, "Audrey Audited", NULL, NULL);
	before = audit_count(&admin, "patients.get", id);
	call_ok(&c, "patients.get", "{s:I}", "id", (json_int_t)id);
	call_ok(&c, "patients.get", "{s:I}", "id", (json_int_t)id);
	assert_int_equal(audit_count(&admin, "patients.get", id), before + 2);
	row = last_audit(&admin, "patients.get", id);
	assert_jstr(row, "actor_role", "receptionist");
	assert_int_equal(jint(row, "patient_id"), id);
	/* A refused read leaves no patients.get row, but an access.denied one. */
	cli_close(&c);
	cli_open_as(&c, &srv, DEMO_PATIENT);
	call_err(&c, "patients.get", "forbidden", "{s:I}", "id", (json_int_t)id);
	assert_int_equal(audit_count(&admin, "patients.get", id), before + 2);
	assert_int_equal(audit_count(&admin, "access.denied", id), 1);
	cli_close(&c);
	cli_close(&admin);
}

/* --- doctors: only their own patients --- */

/* Books the first free slot of the doctor in the coming days, as the desk. */
static void
book_with_doctor(struct tcli *desk, int64_t doctor_id, int64_t patient_id)
{
	json_t		*res;
	time_t		 t = time(NULL);
	struct tm	 tm;
	char		 date[16];
	int		 day;

	for (day = 1; day <= 14; day++) {
		t += 86400;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		res = call_ok(desk, "appt.slots", "{s:I, s:s}", "doctor_id",
		    (json_int_t)doctor_id, "date", date);
		if (json_array_size(jpath(res, "slots")) == 0)
			continue;
		call_ok(desk, "appt.book", "{s:I, s:I, s:I, s:s}", "doctor_id",
		    (json_int_t)doctor_id, "patient_id", (json_int_t)patient_id,
		    "starts_at", (json_int_t)jint(res, "slots.0.starts_at"),
		    "reason", "Check-up");
		return;
	}
	fail_msg("no free slot for doctor %lld", (long long)doctor_id);
}

static void
test_doctor_sees_only_patients_with_an_appointment(void **state)
{
	struct tcli	 desk, doc;
	int64_t		 id, doctor_id;

	(void)state;
	cli_open_as(&desk, &srv, DEMO_RECEPTION);
	cli_open_as(&doc, &srv, DEMO_DOCTOR);
	doctor_id = jint(call_ok(&doc, "auth.me", NULL), "doctor_id");
	assert_true(doctor_id > 0);
	id = create_patient(&desk, "Dorothea Docsearch", NULL, "+61 2 5550 1234");

	assert_none_found(call_ok(&doc, "patients.search", "{s:s}", "name", "docsearch"));
	assert_none_found(call_ok(&doc, "patients.search", "{s:s}", "phone", "61255501"));
	call_err(&doc, "patients.get", "forbidden", "{s:I}", "id", (json_int_t)id);
	call_err(&doc, "patients.update", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)id, "phone", "+61 2 5550 9999");

	book_with_doctor(&desk, doctor_id, id);
	assert_found(call_ok(&doc, "patients.search", "{s:s}", "name", "docsearch"), id);
	assert_found(call_ok(&doc, "patients.search", "{s:s}", "phone", "61255501"), id);
	assert_jstr(call_ok(&doc, "patients.get", "{s:I}", "id", (json_int_t)id),
	    "patient.full_name", "Dorothea Docsearch");
	cli_close(&desk);
	cli_close(&doc);
}

/* --- patients.update --- */

static void
test_update_by_desk_changes_fields_and_search_words(void **state)
{
	struct tcli	 c, admin;
	json_t		*res, *row;
	int64_t		 id;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	cli_open_as(&admin, &srv, DEMO_ADMIN);
	id = create_patient(&c, "Ursula Oldsurname", "1980-08-08", "+1 202 555 0140");

	res = call_ok(&c, "patients.update", "{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)id, "full_name", "Ursula Newsurname", "date_of_birth",
	    "1980-08-09", "email", "URSULA@example.org");
	assert_jstr(res, "patient.full_name", "Ursula Newsurname");
	assert_jstr(res, "patient.date_of_birth", "1980-08-09");
	assert_jstr(res, "patient.email", "ursula@example.org");
	assert_jstr(res, "patient.phone", "+1 202 555 0140");
	assert_none_found(call_ok(&c, "patients.search", "{s:s}", "name", "oldsurname"));
	assert_found(call_ok(&c, "patients.search", "{s:s}", "name", "newsurn urs"), id);

	row = last_audit(&admin, "patients.update", id);
	assert_non_null(strstr(jstr(row, "detail"), "full_name"));
	assert_non_null(strstr(jstr(row, "detail"), "date_of_birth"));
	assert_non_null(strstr(jstr(row, "detail"), "email"));
	assert_null(strstr(jstr(row, "detail"), "phone"));

	/* "" clears an optional field. */
	res = call_ok(&c, "patients.update", "{s:I, s:s}", "id", (json_int_t)id,
	    "phone", "");
	assert_true(json_is_null(jpath(res, "patient.phone")));
	assert_none_found(call_ok(&c, "patients.search", "{s:s}", "phone", "1202555"));

	call_err(&c, "patients.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "date_of_birth", "2150-01-01");
	call_err(&c, "patients.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "phone", "nope");
	call_err(&c, "patients.update", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)id, "full_name", "");
	call_err(&c, "patients.update", "bad_request", "{s:I, s:I}", "id",
	    (json_int_t)id, "user_id", (json_int_t)1);
	call_err(&c, "patients.update", "not_found", "{s:I, s:s}", "id",
	    (json_int_t)9999999, "phone", "+1 202 555 0141");
	cli_close(&c);
	cli_close(&admin);
}

static void
test_update_by_patient_only_own_contact_fields(void **state)
{
	struct tcli	 c;
	json_t		*res, *err;
	int64_t		 own, other;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	other = create_patient(&c, "Not Yours", NULL, NULL);
	cli_close(&c);

	cli_open_as(&c, &srv, DEMO_PATIENT);
	own = jint(call_ok(&c, "auth.me", NULL), "patient_id");
	res = call_ok(&c, "patients.update", "{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)own, "phone", "+1 555 010 0099", "address", "1 New Street",
	    "emergency_contact", "Jane Smith +1 555 010 0098");
	assert_jstr(res, "patient.phone", "+1 555 010 0099");
	assert_jstr(res, "patient.address", "1 New Street");
	/* The id may be left out. */
	res = call_ok(&c, "patients.update", "{s:s}", "email", "john.new@example.org");
	assert_jstr(res, "patient.email", "john.new@example.org");
	assert_int_equal(jint(res, "patient.id"), own);

	err = call_err(&c, "patients.update", "forbidden", "{s:s}", "full_name",
	    "Johnny Smith");
	assert_non_null(strstr(jstr(err, "message"), "full_name"));
	err = call_err(&c, "patients.update", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)own, "date_of_birth", "1970-01-01");
	assert_non_null(strstr(jstr(err, "message"), "date_of_birth"));
	call_err(&c, "patients.update", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)other, "phone", "+1 555 010 0097");
	cli_close(&c);
}

/* --- claiming a desk record --- */

static void
test_register_with_desk_email_claims_the_record(void **state)
{
	struct tcli	 c;
	char		*email = unique_email("walkin");
	int64_t		 desk;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	desk = jint(call_ok(&c, "patients.create", "{s:s, s:s, s:s}", "full_name",
	    "Wanda Walkin", "email", email, "date_of_birth", "1977-07-07"),
	    "patient.id");
	cli_close(&c);

	cli_open(&c, &srv);
	call_ok(&c, "auth.register", "{s:s, s:s, s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD, "full_name", "Wanda W.",
	    "date_of_birth", "1977-07-07");
	assert_int_equal(jint(call_ok(&c, "auth.me", NULL), "patient_id"), desk);
	/* The desk's record, now with a login. */
	assert_jstr(call_ok(&c, "patients.get", "{}"), "patient.full_name",
	    "Wanda Walkin");
	assert_true(jint(c.reply, "result.patient.user_id") > 0);
	cli_close(&c);
	free(email);
}

/* An e-mail alone proves nothing: without the recorded date of birth a
 * sign-up gets a record of its own and cannot read the desk's. */
static void
test_register_with_desk_email_but_wrong_birth_date_gets_a_new_record(void **state)
{
	struct tcli	 c;
	char		*email = unique_email("squatter");
	int64_t		 desk, mine;

	(void)state;
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	desk = jint(call_ok(&c, "patients.create", "{s:s, s:s, s:s}", "full_name",
	    "Vera Victim", "email", email, "date_of_birth", "1960-01-02"),
	    "patient.id");
	cli_close(&c);

	cli_open(&c, &srv);
	call_ok(&c, "auth.register", "{s:s, s:s, s:s, s:s}", "email", email,
	    "password", STRONG_PASSWORD, "full_name", "Not Vera",
	    "date_of_birth", "1990-05-05");
	mine = jint(call_ok(&c, "auth.me", NULL), "patient_id");
	assert_true(mine != desk);
	call_err(&c, "patients.get", "forbidden", "{s:I}", "id", (json_int_t)desk);
	cli_close(&c);
	free(email);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_as_receptionist_returns_the_record),
		cmocka_unit_test(test_create_as_patient_or_doctor_is_forbidden),
		cmocka_unit_test(test_create_refuses_bad_fields),
		cmocka_unit_test(test_search_matches_every_word_by_prefix),
		cmocka_unit_test(test_search_folds_case_and_accents_of_utf8_names),
		cmocka_unit_test(test_search_by_phone_prefix),
		cmocka_unit_test(test_search_by_date_of_birth),
		cmocka_unit_test(test_search_q_picks_phone_date_or_name),
		cmocka_unit_test(test_search_limit_and_bad_arguments),
		cmocka_unit_test(test_search_writes_one_audit_row),
		cmocka_unit_test(test_get_by_desk_and_unknown_id),
		cmocka_unit_test(test_get_patient_sees_only_own_record),
		cmocka_unit_test(test_get_writes_an_audit_row_each_time),
		cmocka_unit_test(test_doctor_sees_only_patients_with_an_appointment),
		cmocka_unit_test(test_update_by_desk_changes_fields_and_search_words),
		cmocka_unit_test(test_update_by_patient_only_own_contact_fields),
		cmocka_unit_test(test_register_with_desk_email_claims_the_record),
		cmocka_unit_test(test_register_with_desk_email_but_wrong_birth_date_gets_a_new_record),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
