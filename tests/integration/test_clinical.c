/* test_clinical.c -- medical records and the clinical access rule against a
 * real mediflowd: every clinical op for every kind of caller, break-the-glass
 * and its expiry, amendments keeping every version, field validation, and
 * the audit rows each access leaves. One server for the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "util.h"

static const char *const demo_doctors[] = {
	DEMO_DOCTOR, "m.okafor@test.com", "p.raman@test.com"
};
#define OTHER_PATIENT	"emily.johnson@test.com"

static struct tsrv	srv;
static int64_t		john;			/* the demo patient's id */
static const char	*own_doctor;		/* had an appointment with john */
static const char	*other_doctor;		/* never had one */
static char		*glass_doctor;		/* a new doctor; breaks the glass */

/* The demo patient's id, and which demo doctors have had them. */
static int
group_setup(void **state)
{
	struct tcli	c;
	size_t		i;

	(void)state;
	srv_start(&srv, NULL);
	cli_open_as(&c, &srv, DEMO_PATIENT);
	john = jint(call_ok(&c, "patients.get", NULL), "patient.id");
	cli_close(&c);
	for (i = 0; i < nitems(demo_doctors); i++) {
		json_t	*reply;

		cli_open_as(&c, &srv, demo_doctors[i]);
		reply = cli_call(&c, "patients.get", "{s:I}", "id", (json_int_t)john);
		if (json_is_true(json_object_get(reply, "ok"))) {
			if (own_doctor == NULL)
				own_doctor = demo_doctors[i];
		} else if (other_doctor == NULL)
			other_doctor = demo_doctors[i];
		cli_close(&c);
	}
	if (own_doctor == NULL || other_doctor == NULL)
		return -1;
	glass_doctor = unique_email("glass");
	cli_open_as(&c, &srv, DEMO_ADMIN);
	call_ok(&c, "users.create", "{s:s, s:s, s:s, s:s}", "email", glass_doctor,
	    "full_name", "Dr. Glass Breaker", "role", "doctor", "password",
	    STRONG_PASSWORD);
	cli_close(&c);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	free(glass_doctor);
	return 0;
}

static int64_t
audit_count(struct tcli *admin, const char *action, int64_t patient_id)
{
	json_t	*res = call_ok(admin, "audit.list", "{s:s, s:I, s:i}", "action",
	    action, "patient_id", (json_int_t)patient_id, "limit", 500);

	return (int64_t)json_array_size(jpath(res, "entries"));
}

/* A record about john by the own doctor; returns its id. */
static int64_t
create_record(const char *diagnosis)
{
	struct tcli	 d;
	int64_t		 id;

	cli_open_as(&d, &srv, own_doctor);
	id = jint(call_ok(&d, "records.create", "{s:I, s:s, s:s, s:s, s:{s:i, s:i, "
	    "s:i, s:f}, s:s}", "patient_id", (json_int_t)john, "diagnosis_code",
	    "J06.9", "diagnosis", diagnosis, "symptoms", "Sore throat, 3 days",
	    "vitals", "bp_systolic", 128, "bp_diastolic", 82, "pulse", 76,
	    "temperature_c", 37.8, "follow_up", "2030-01-15"), "record.id");
	assert_true(id > 0);
	cli_close(&d);
	return id;
}

/* One prescription item as a JSON object. */
static json_t *
rx_item(const char *drug, int days)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:s}",
	    "drug", drug, "strength", "500 mg", "form", "capsule", "dose",
	    "1 capsule", "route", "oral", "frequency", "three times daily",
	    "duration_days", days, "quantity", 3 * days, "refills", 0,
	    "instructions", "Take with food.");
}

/* A prescription for john by the own doctor; returns its id. */
static int64_t
create_rx(const char *drug, int days)
{
	struct tcli	d;
	int64_t		id;

	cli_open_as(&d, &srv, own_doctor);
	id = jint(reply_ok(cli_call_json(&d, "rx.create", json_pack("{s:I, s:[o], "
	    "s:s}", "patient_id", (json_int_t)john, "items", rx_item(drug, days),
	    "notes", "Review in a week"))), "prescription.id");
	assert_true(id > 0);
	cli_close(&d);
	return id;
}

/*
 * One cell of the matrix: op with args (a JSON object, stolen) called by c
 * is allowed and leaves one more audit row of action op about john, or is
 * refused with forbidden and leaves none.
 */
static void
cell(struct tcli *c, struct tcli *admin, const char *op, json_t *args,
    int allowed, const char *who)
{
	int64_t	 before_op;
	json_t	*reply;

	before_op = audit_count(admin, op, john);
	reply = cli_call_json(c, op, args);
	if (allowed) {
		if (!json_is_true(json_object_get(reply, "ok")))
			print_error("%s %s: expected allowed\n", who, op);
		reply_ok(reply);
		assert_int_equal(audit_count(admin, op, john), before_op + 1);
	} else {
		if (json_is_true(json_object_get(reply, "ok")))
			print_error("%s %s: expected forbidden\n", who, op);
		reply_err(reply, "forbidden");
		assert_int_equal(audit_count(admin, op, john), before_op);
	}
}

/* The clinical ops about john's record rec and prescription rx, as fresh
 * argument objects; the reads first. */
#define N_OPS	12
static json_t *
op_args(int i, int64_t rec, int64_t rx, const char **op)
{
	switch (i) {
	case 0:
		*op = "records.get";
		return json_pack("{s:I}", "id", (json_int_t)rec);
	case 1:
		*op = "records.list";
		return json_pack("{s:I}", "patient_id", (json_int_t)john);
	case 2:
		*op = "records.versions";
		return json_pack("{s:I}", "id", (json_int_t)rec);
	case 3:
		*op = "rx.get";
		return json_pack("{s:I}", "id", (json_int_t)rx);
	case 4:
		*op = "rx.list";
		return json_pack("{s:I}", "patient_id", (json_int_t)john);
	case 5:
		*op = "rx.print";
		return json_pack("{s:I}", "id", (json_int_t)rx);
	case 6:
		*op = "patients.history";
		return json_pack("{s:I}", "patient_id", (json_int_t)john);
	case 7:
		*op = "records.create";
		return json_pack("{s:I, s:s}", "patient_id", (json_int_t)john,
		    "diagnosis", "Matrix visit");
	case 8:
		*op = "records.amend";
		return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)rec,
		    "reason", "matrix", "notes", "amended in the matrix");
	case 9:
		*op = "rx.create";
		return json_pack("{s:I, s:[o]}", "patient_id", (json_int_t)john,
		    "items", rx_item("Amoxicillin", 7));
	case 10:
		*op = "rx.renew";
		return json_pack("{s:I}", "id", (json_int_t)rx);
	default:
		/* A fresh prescription each time, so every cancel can succeed. */
		*op = "rx.cancel";
		return json_pack("{s:I, s:s}", "id", (json_int_t)create_rx(
		    "Ibuprofen", 5), "reason", "matrix");
	}
}

/* Runs every op as c; allowed[i] says whether op i is allowed. */
static void
row(struct tcli *c, struct tcli *admin, int64_t rec, int64_t rx,
    const int *allowed, const char *who)
{
	const char	*op;
	json_t		*args;
	int		 i;

	for (i = 0; i < N_OPS; i++) {
		args = op_args(i, rec, rx, &op);
		cell(c, admin, op, args, allowed[i], who);
	}
}

static void
test_every_clinical_op_for_every_caller(void **state)
{
	static const int	all[N_OPS] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const int	reads[N_OPS] = { 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0 };
	static const int	none[N_OPS] = { 0 };
	struct tcli		adm, c;
	int64_t			rec, rx;

	(void)state;
	rec = create_record("Acute upper respiratory infection");
	rx = create_rx("Amoxicillin", 7);
	cli_open_as(&adm, &srv, DEMO_ADMIN);

	cli_open_as(&c, &srv, DEMO_PATIENT);
	row(&c, &adm, rec, rx, reads, "patient own");
	/* A patient may leave out their own id. */
	assert_true(jint(call_ok(&c, "records.list", "{}"), "total") >= 1);
	{
		json_t	*h = call_ok(&c, "patients.history", "{}");

		assert_int_equal(jint(h, "patient.id"), john);
		assert_true(jint(h, "appointments.total") >= 1);
		assert_int_equal((int64_t)json_array_size(jpath(h,
		    "appointments.items")), jint(h, "appointments.total"));
		assert_true(jint(h, "records.total") >= 1);
		assert_true(jint(h, "prescriptions.total") >= 1);
		/* Newest first: the matrix's rx.cancel cell wrote a newer one. */
		assert_true(jint(h, "prescriptions.items.0.id") > rx);
		h = call_ok(&c, "patients.history", "{s:i}", "limit", 1);
		assert_int_equal(json_array_size(jpath(h, "appointments.items")), 1);
		assert_int_equal(json_array_size(jpath(h, "records.items")), 1);
	}
	call_err(&c, "access.break_glass", "forbidden", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "I want to see it");
	cli_close(&c);

	cli_open_as(&c, &srv, OTHER_PATIENT);
	row(&c, &adm, rec, rx, none, "patient other");
	cli_close(&c);

	cli_open_as(&c, &srv, own_doctor);
	row(&c, &adm, rec, rx, all, "doctor own patient");
	cli_close(&c);

	cli_open(&c, &srv);
	free(cli_login(&c, glass_doctor, STRONG_PASSWORD));
	row(&c, &adm, rec, rx, none, "doctor other patient");
	call_err(&c, "access.break_glass", "bad_request", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "short");
	call_err(&c, "access.break_glass", "bad_request", "{s:I}", "patient_id",
	    (json_int_t)john);
	call_err(&c, "access.break_glass", "not_found", "{s:I, s:s}", "patient_id",
	    (json_int_t)999999, "reason", "Unconscious patient in the ER");
	assert_true(jint(call_ok(&c, "access.break_glass", "{s:I, s:s}",
	    "patient_id", (json_int_t)john, "reason",
	    "Covering for the own doctor, urgent review"),
	    "break_glass.expires_at") > 0);
	row(&c, &adm, rec, rx, all, "doctor after break-the-glass");
	cli_close(&c);

	cli_open_as(&c, &srv, DEMO_RECEPTION);
	row(&c, &adm, rec, rx, none, "receptionist");
	call_err(&c, "access.break_glass", "forbidden", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Front desk wants to look");
	call_err(&c, "access.break_glass_list", "forbidden", NULL);
	cli_close(&c);

	cli_open_as(&c, &srv, DEMO_ADMIN);
	row(&c, &adm, rec, rx, none, "admin");
	call_ok(&c, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Legal request #4411, records review");
	/* Break-the-glass opens reading; only doctors write records. */
	row(&c, &adm, rec, rx, reads, "admin after break-the-glass");
	cli_close(&c);

	cli_close(&adm);
}

static void
test_refusals_and_break_glass_are_audited_and_listed(void **state)
{
	struct tcli	 adm, c;
	json_t		*res, *e;
	int64_t		 denied, glass;

	(void)state;
	cli_open_as(&adm, &srv, DEMO_ADMIN);
	denied = audit_count(&adm, "access.denied", john);
	glass = audit_count(&adm, "access.break_glass", john);

	cli_open_as(&c, &srv, other_doctor);
	call_err(&c, "records.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	assert_int_equal(audit_count(&adm, "access.denied", john), denied + 1);
	call_ok(&c, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Night cover: chest pain on the ward");
	assert_int_equal(audit_count(&adm, "access.break_glass", john), glass + 1);
	cli_close(&c);

	res = call_ok(&adm, "access.break_glass_list", "{s:I, s:b}", "patient_id",
	    (json_int_t)john, "active", 1);
	e = jpath(res, "entries.0");
	assert_non_null(e);
	assert_jstr(e, "reason", "Night cover: chest pain on the ward");
	assert_int_equal(jint(e, "patient_id"), john);
	assert_jstr(e, "role", "doctor");
	assert_true(json_is_true(jpath(e, "active")));
	assert_int_equal(jint(e, "expires_at") - jint(e, "created_at"), 60 * 60);
	call_err(&adm, "access.break_glass_list", "bad_request", "{s:i}", "limit", 0);
	cli_close(&adm);
}

static void
test_amendments_keep_every_version(void **state)
{
	struct tcli	 d, p;
	json_t		*res;
	int64_t		 rec;

	(void)state;
	rec = create_record("Pharyngitis");
	cli_open_as(&d, &srv, own_doctor);
	res = call_ok(&d, "records.amend", "{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)rec, "reason", "Swab came back positive", "diagnosis_code",
	    "J02.0", "diagnosis", "Streptococcal pharyngitis");
	assert_int_equal(jint(res, "record.version"), 2);
	assert_jstr(res, "record.diagnosis_code", "J02.0");
	/* Fields not given carry over from the version before. */
	assert_jstr(res, "record.symptoms", "Sore throat, 3 days");
	assert_int_equal(jint(res, "record.vitals.pulse"), 76);
	res = call_ok(&d, "records.amend", "{s:I, s:s, s:{s:n, s:i}}", "id",
	    (json_int_t)rec, "reason", "Pulse re-measured", "vitals",
	    "temperature_c", "pulse", 70);
	assert_int_equal(jint(res, "record.version"), 3);
	assert_true(json_is_null(jpath(res, "record.vitals.temperature_c")));
	call_err(&d, "records.amend", "bad_request", "{s:I, s:s}", "id",
	    (json_int_t)rec, "notes", "no reason given");
	call_err(&d, "records.amend", "forbidden", "{s:I, s:s}", "id",
	    (json_int_t)99999999, "reason", "x");
	cli_close(&d);

	cli_open_as(&p, &srv, DEMO_PATIENT);
	res = call_ok(&p, "records.versions", "{s:I}", "id", (json_int_t)rec);
	assert_int_equal(json_array_size(jpath(res, "versions")), 3);
	assert_jstr(res, "versions.0.diagnosis", "Pharyngitis");
	assert_jstr(res, "versions.0.diagnosis_code", "J06.9");
	assert_true(json_is_null(jpath(res, "versions.0.amend_reason")));
	assert_jstr(res, "versions.1.amend_reason", "Swab came back positive");
	assert_int_equal(jint(res, "versions.2.vitals.pulse"), 70);
	assert_true(json_is_true(jpath(res, "versions.2.is_current")));
	assert_true(json_is_false(jpath(res, "versions.0.is_current")));

	res = call_ok(&p, "records.get", "{s:I}", "id", (json_int_t)rec);
	assert_int_equal(jint(res, "record.version"), 3);
	assert_int_equal(jint(res, "record.current_version"), 3);
	res = call_ok(&p, "records.get", "{s:I, s:i}", "id", (json_int_t)rec,
	    "version", 1);
	assert_jstr(res, "record.diagnosis", "Pharyngitis");
	assert_true(jpath(res, "record.vitals.temperature_c") != NULL);
	call_err(&p, "records.get", "not_found", "{s:I, s:i}", "id", (json_int_t)rec,
	    "version", 9);
	call_err(&p, "records.get", "forbidden", "{s:I}", "id",
	    (json_int_t)99999999);

	/* The timeline shows each record once, at its current version. */
	res = call_ok(&p, "records.list", "{s:i}", "limit", 1);
	assert_int_equal(json_array_size(jpath(res, "records")), 1);
	assert_true(jint(res, "total") >= 2);
	assert_int_equal(jint(res, "records.0.id"), rec);
	assert_int_equal(jint(res, "records.0.version"), 3);
	res = call_ok(&p, "records.list", "{s:i, s:i}", "limit", 100, "offset", 1);
	assert_int_equal((int64_t)json_array_size(jpath(res, "records")),
	    jint(res, "total") - 1);
	cli_close(&p);
}

/* records.create with one bad field fails with bad_request naming it. */
static void
create_fails(struct tcli *c, const char *field, json_t *args)
{
	json_t	*err;

	if (json_object_get(args, "patient_id") == NULL)
		json_object_set_new(args, "patient_id", json_integer(john));
	if (json_object_get(args, "diagnosis") == NULL)
		json_object_set_new(args, "diagnosis", json_string("Test"));
	err = reply_err(cli_call_json(c, "records.create", args), "bad_request");
	if (strstr(jstr(err, "message"), field) == NULL) {
		print_error("message \"%s\" does not name %s\n", jstr(err, "message"),
		    field);
		fail();
	}
}

static void
test_create_validates_every_field(void **state)
{
	struct tcli	 d;
	char		*long_text = repeat_char('x', 4001), *long_diag;

	(void)state;
	long_diag = repeat_char('y', 501);
	cli_open_as(&d, &srv, own_doctor);
	create_fails(&d, "patient_id", json_pack("{s:s}", "patient_id", "1"));
	create_fails(&d, "diagnosis", json_pack("{s:s}", "diagnosis", ""));
	create_fails(&d, "diagnosis", json_pack("{s:s}", "diagnosis", long_diag));
	create_fails(&d, "diagnosis", json_pack("{s:i}", "diagnosis", 5));
	create_fails(&d, "diagnosis_code", json_pack("{s:s}", "diagnosis_code", "j06.9"));
	create_fails(&d, "diagnosis_code", json_pack("{s:s}", "diagnosis_code", "J6"));
	create_fails(&d, "diagnosis_code", json_pack("{s:s}", "diagnosis_code", "J06."));
	create_fails(&d, "diagnosis_code", json_pack("{s:s}", "diagnosis_code", "J06-9"));
	create_fails(&d, "symptoms", json_pack("{s:s}", "symptoms", long_text));
	create_fails(&d, "findings", json_pack("{s:s}", "findings", long_text));
	create_fails(&d, "notes", json_pack("{s:s}", "notes", long_text));
	create_fails(&d, "follow_up", json_pack("{s:s}", "follow_up", "2030-02-30"));
	create_fails(&d, "follow_up", json_pack("{s:s}", "follow_up", "soon"));
	create_fails(&d, "vitals", json_pack("{s:s}", "vitals", "120/80"));
	create_fails(&d, "vitals", json_pack("{s:{s:i}}", "vitals", "spo2", 98));
	create_fails(&d, "vitals.bp_systolic", json_pack("{s:{s:i, s:i}}", "vitals",
	    "bp_systolic", 400, "bp_diastolic", 80));
	create_fails(&d, "vitals.bp_systolic", json_pack("{s:{s:f, s:i}}", "vitals",
	    "bp_systolic", 120.5, "bp_diastolic", 80));
	create_fails(&d, "bp_diastolic", json_pack("{s:{s:i}}", "vitals",
	    "bp_systolic", 120));
	create_fails(&d, "vitals.bp_diastolic", json_pack("{s:{s:i, s:i}}", "vitals",
	    "bp_systolic", 80, "bp_diastolic", 90));
	create_fails(&d, "vitals.pulse", json_pack("{s:{s:i}}", "vitals", "pulse", 5));
	create_fails(&d, "vitals.temperature_c", json_pack("{s:{s:f}}", "vitals",
	    "temperature_c", 47.5));
	create_fails(&d, "vitals.temperature_c", json_pack("{s:{s:s}}", "vitals",
	    "temperature_c", "hot"));
	create_fails(&d, "vitals.weight_kg", json_pack("{s:{s:i}}", "vitals",
	    "weight_kg", -3));
	create_fails(&d, "vitals.height_cm", json_pack("{s:{s:i}}", "vitals",
	    "height_cm", 400));
	create_fails(&d, "appointment_id", json_pack("{s:i}", "appointment_id",
	    99999999));
	create_fails(&d, "unknown argument: colour", json_pack("{s:s}", "colour",
	    "red"));
	/* A well-formed minimal record is accepted. */
	call_ok(&d, "records.create", "{s:I, s:s, s:s}", "patient_id",
	    (json_int_t)john, "diagnosis", "Essential hypertension",
	    "diagnosis_code", "I10");
	/* A patient id that names nobody is refused like someone else's. */
	call_err(&d, "records.create", "forbidden", "{s:I, s:s}", "patient_id",
	    (json_int_t)99999999, "diagnosis", "Nobody");
	cli_close(&d);
	free(long_text);
	free(long_diag);
}

/* rx.create with one bad field fails with bad_request naming it; item
 * changes one key of a good item (value NULL: removed). */
static void
rx_fails(struct tcli *c, const char *field, const char *key, json_t *value)
{
	json_t	*item = rx_item("Amoxicillin", 7), *args, *err;

	if (value != NULL)
		json_object_set_new(item, key, value);
	else if (key != NULL)
		json_object_del(item, key);
	args = json_pack("{s:I, s:[o]}", "patient_id", (json_int_t)john, "items",
	    item);
	err = reply_err(cli_call_json(c, "rx.create", args), "bad_request");
	if (strstr(jstr(err, "message"), field) == NULL) {
		print_error("message \"%s\" does not name %s\n",
		    jstr(err, "message"), field);
		fail();
	}
}

static void
test_rx_validates_every_field(void **state)
{
	struct tcli	 d;
	json_t		*items, *err;
	char		*long_drug = repeat_char('d', 201), *long_short;
	char		*long_text = repeat_char('t', 1001);
	int		 i;

	(void)state;
	long_short = repeat_char('s', 51);
	cli_open_as(&d, &srv, own_doctor);
	rx_fails(&d, "items[0].drug", "drug", NULL);
	rx_fails(&d, "items[0].drug", "drug", json_string(""));
	rx_fails(&d, "items[0].drug", "drug", json_string(long_drug));
	rx_fails(&d, "items[0].drug", "drug", json_integer(3));
	rx_fails(&d, "items[0].strength", "strength", NULL);
	rx_fails(&d, "items[0].strength", "strength", json_string(long_short));
	rx_fails(&d, "items[0].form", "form", json_string("pill"));
	rx_fails(&d, "items[0].form", "form", NULL);
	rx_fails(&d, "items[0].dose", "dose", NULL);
	rx_fails(&d, "items[0].dose", "dose", json_string(long_short));
	rx_fails(&d, "items[0].route", "route", json_string("by mouth"));
	rx_fails(&d, "items[0].frequency", "frequency", NULL);
	rx_fails(&d, "items[0].frequency", "frequency", json_string(long_short));
	rx_fails(&d, "items[0].duration_days", "duration_days", json_integer(0));
	rx_fails(&d, "items[0].duration_days", "duration_days", json_integer(366));
	rx_fails(&d, "items[0].duration_days", "duration_days", json_string("7"));
	rx_fails(&d, "items[0].quantity", "quantity", json_integer(0));
	rx_fails(&d, "items[0].quantity", "quantity", json_integer(10001));
	rx_fails(&d, "items[0].quantity", "quantity", NULL);
	rx_fails(&d, "items[0].refills", "refills", json_integer(13));
	rx_fails(&d, "items[0].refills", "refills", json_integer(-1));
	rx_fails(&d, "items[0].instructions", "instructions",
	    json_string(long_text));
	rx_fails(&d, "items[0]: unknown argument: colour", "colour",
	    json_string("red"));

	err = call_err(&d, "rx.create", "bad_request", "{s:I}", "patient_id",
	    (json_int_t)john);
	assert_non_null(strstr(jstr(err, "message"), "items"));
	err = call_err(&d, "rx.create", "bad_request", "{s:I, s:[]}", "patient_id",
	    (json_int_t)john, "items");
	assert_non_null(strstr(jstr(err, "message"), "items"));
	err = call_err(&d, "rx.create", "bad_request", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "items", "amoxicillin");
	assert_non_null(strstr(jstr(err, "message"), "items"));
	err = call_err(&d, "rx.create", "bad_request", "{s:I, s:[o, s]}",
	    "patient_id", (json_int_t)john, "items", rx_item("A", 1), "B");
	assert_non_null(strstr(jstr(err, "message"), "items[1]"));
	items = json_array();
	for (i = 0; i < 21; i++)
		json_array_append_new(items, rx_item("Many", 1));
	err = reply_err(cli_call_json(&d, "rx.create", json_pack("{s:I, s:o}",
	    "patient_id", (json_int_t)john, "items", items)), "bad_request");
	assert_non_null(strstr(jstr(err, "message"), "items"));
	err = reply_err(cli_call_json(&d, "rx.create", json_pack("{s:I, s:[o], s:s}",
	    "patient_id", (json_int_t)john, "items", rx_item("A", 1), "notes",
	    long_text)), "bad_request");
	assert_non_null(strstr(jstr(err, "message"), "notes"));
	err = reply_err(cli_call_json(&d, "rx.create", json_pack("{s:I, s:I, s:[o]}",
	    "patient_id", (json_int_t)john, "appointment_id", (json_int_t)99999999,
	    "items", rx_item("A", 1))), "bad_request");
	assert_non_null(strstr(jstr(err, "message"), "appointment_id"));
	reply_err(cli_call_json(&d, "rx.create", json_pack("{s:I, s:[o]}",
	    "patient_id", (json_int_t)99999999, "items", rx_item("A", 1))),
	    "forbidden");
	cli_close(&d);
	free(long_drug);
	free(long_short);
	free(long_text);
}

static void
test_rx_cancel_renew_and_print(void **state)
{
	struct tcli	 d, p;
	json_t		*res;
	const char	*text;
	int64_t		 rx, renewed;
	char		 number[32];

	(void)state;
	rx = create_rx("Amoxicillin", 7);
	cli_open_as(&d, &srv, own_doctor);
	res = call_ok(&d, "rx.get", "{s:I}", "id", (json_int_t)rx);
	assert_jstr(res, "prescription.status", "active");
	assert_jstr(res, "prescription.items.0.drug", "Amoxicillin");
	assert_jstr(res, "prescription.items.0.route", "oral");
	assert_int_equal(jint(res, "prescription.items.0.quantity"), 21);
	assert_int_equal(jint(res, "prescription.ends_at") -
	    jint(res, "prescription.created_at"), 7 * 86400);

	res = call_ok(&d, "rx.renew", "{s:I}", "id", (json_int_t)rx);
	renewed = jint(res, "prescription.id");
	assert_true(renewed > rx);
	assert_int_equal(jint(res, "prescription.renewed_from"), rx);
	assert_jstr(res, "prescription.items.0.drug", "Amoxicillin");
	assert_jstr(res, "prescription.status", "active");

	call_err(&d, "rx.cancel", "bad_request", "{s:I}", "id", (json_int_t)rx);
	res = call_ok(&d, "rx.cancel", "{s:I, s:s}", "id", (json_int_t)rx,
	    "reason", "Allergic reaction reported");
	assert_jstr(res, "prescription.status", "cancelled");
	assert_jstr(res, "prescription.cancel_reason", "Allergic reaction reported");
	call_err(&d, "rx.cancel", "conflict", "{s:I, s:s}", "id", (json_int_t)rx,
	    "reason", "again");
	call_err(&d, "rx.renew", "conflict", "{s:I}", "id", (json_int_t)rx);
	call_err(&d, "rx.get", "forbidden", "{s:I}", "id", (json_int_t)99999999);
	cli_close(&d);

	cli_open_as(&p, &srv, DEMO_PATIENT);
	res = call_ok(&p, "rx.print", "{s:I}", "id", (json_int_t)renewed);
	text = jstr(res, "text");
	assert_non_null(text);
	snprintf(number, sizeof number, "Rx #%lld", (long long)renewed);
	assert_non_null(strstr(text, number));
	assert_non_null(strstr(text, "PRESCRIPTION"));
	assert_non_null(strstr(text, "John Smith"));
	assert_non_null(strstr(text, "1. Amoxicillin 500 mg capsule"));
	assert_non_null(strstr(text, "1 capsule oral, three times daily, for 7 days"));
	assert_non_null(strstr(text, "Quantity: 21   Refills: 0"));
	assert_non_null(strstr(text, "Signature"));
	assert_null(strstr(text, "CANCELLED"));
	res = call_ok(&p, "rx.print", "{s:I}", "id", (json_int_t)rx);
	assert_non_null(strstr(jstr(res, "text"), "CANCELLED"));

	res = call_ok(&p, "rx.list", "{s:i}", "limit", 2);
	assert_int_equal(json_array_size(jpath(res, "prescriptions")), 2);
	assert_int_equal(jint(res, "prescriptions.0.id"), renewed);
	assert_true(jint(res, "total") >= 2);
	cli_close(&p);
}

/* Last: moves the clock past every grant. */
/* The error (code and message) op gives c for id; allocated "code: message". */
static char *
error_of(struct tcli *c, const char *op, json_t *args)
{
	json_t	*reply = cli_call_json(c, op, args);

	assert_non_null(reply);
	if (!json_is_false(json_object_get(reply, "ok")))
		print_error("%s: expected an error\n", op);
	assert_true(json_is_false(json_object_get(reply, "ok")));
	return xasprintf("%s: %s", jstr(reply, "error.code"),
	    jstr(reply, "error.message"));
}

/*
 * A caller without access learns nothing from an id: a record or
 * prescription of someone else's and an id that names nothing get the same
 * code and the same message, for amend (which once answered not_found
 * before checking access) and for the reads.
 */
static void
test_ids_reveal_nothing(void **state)
{
	static const char *const callers[] = { NULL, OTHER_PATIENT };
	struct tcli	 c;
	int64_t		 rec, rx;
	size_t		 i;
	char		*a, *b, *probe;

	(void)state;
	rec = create_record("Otitis media");
	rx = create_rx("Paracetamol", 3);
	/* A new doctor: never saw john, never broke the glass. */
	probe = unique_email("probe");
	cli_open_as(&c, &srv, DEMO_ADMIN);
	call_ok(&c, "users.create", "{s:s, s:s, s:s, s:s}", "email", probe,
	    "full_name", "Dr. Id Prober", "role", "doctor", "password",
	    STRONG_PASSWORD);
	cli_close(&c);
	for (i = 0; i < nitems(callers); i++) {
		if (callers[i] == NULL) {
			cli_open(&c, &srv);
			free(cli_login(&c, probe, STRONG_PASSWORD));
			a = error_of(&c, "records.amend", json_pack("{s:I, s:s, s:s}",
			    "id", (json_int_t)rec, "reason", "probe", "notes", "x"));
			b = error_of(&c, "records.amend", json_pack("{s:I, s:s, s:s}",
			    "id", (json_int_t)rec + 1000000, "reason", "probe",
			    "notes", "x"));
			assert_string_equal(a, b);
			assert_true(strncmp(a, "forbidden: ", 11) == 0);
			free(a);
			free(b);
			/* Even a malformed amendment learns nothing first. */
			a = error_of(&c, "records.amend", json_pack("{s:I, s:s, s:s}",
			    "id", (json_int_t)rec, "reason", "probe", "follow_up",
			    "soon"));
			assert_true(strncmp(a, "forbidden: ", 11) == 0);
			free(a);
		} else
			cli_open_as(&c, &srv, callers[i]);
		a = error_of(&c, "records.get", json_pack("{s:I}", "id",
		    (json_int_t)rec));
		b = error_of(&c, "records.get", json_pack("{s:I}", "id",
		    (json_int_t)rec + 1000000));
		assert_string_equal(a, b);
		free(a);
		free(b);
		a = error_of(&c, "records.versions", json_pack("{s:I}", "id",
		    (json_int_t)rec));
		b = error_of(&c, "records.versions", json_pack("{s:I}", "id",
		    (json_int_t)rec + 1000000));
		assert_string_equal(a, b);
		free(a);
		free(b);
		a = error_of(&c, "rx.get", json_pack("{s:I}", "id", (json_int_t)rx));
		b = error_of(&c, "rx.get", json_pack("{s:I}", "id",
		    (json_int_t)rx + 1000000));
		assert_string_equal(a, b);
		assert_true(strncmp(a, "forbidden: ", 11) == 0);
		free(a);
		free(b);
		cli_close(&c);
	}
	free(probe);
}

/*
 * The same for patient ids: a chart the caller may not open and a patient id
 * that names nobody get the same code and message from every op that takes
 * a patient_id, for a doctor who never saw john, an admin without a grant
 * and another patient; the probe of a missing id is audited under no
 * patient, naming the id.
 */
static void
test_patient_ids_reveal_nothing(void **state)
{
	static const char *const ops[] = {
		"records.list", "rx.list", "patients.history", "files.list"
	};
	const int64_t	 missing = 98765432;
	struct tcli	 c, a;
	char		*callers[3], *x, *y;
	json_t		*rows, *row;
	size_t		 i, k;
	int		 seen;

	(void)state;
	callers[0] = unique_email("pid-doctor");
	callers[1] = unique_email("pid-admin");
	callers[2] = xstrdup(OTHER_PATIENT);
	cli_open_as(&a, &srv, DEMO_ADMIN);
	call_ok(&a, "users.create", "{s:s, s:s, s:s, s:s}", "email", callers[0],
	    "full_name", "Dr. Pid Prober", "role", "doctor", "password",
	    STRONG_PASSWORD);
	call_ok(&a, "users.create", "{s:s, s:s, s:s, s:s}", "email", callers[1],
	    "full_name", "Pid Admin", "role", "admin", "password",
	    STRONG_PASSWORD);
	for (i = 0; i < nitems(callers); i++) {
		if (i < 2) {
			cli_open(&c, &srv);
			free(cli_login(&c, callers[i], STRONG_PASSWORD));
		} else
			cli_open_as(&c, &srv, callers[i]);
		for (k = 0; k < nitems(ops); k++) {
			x = error_of(&c, ops[k], json_pack("{s:I}", "patient_id",
			    (json_int_t)john));
			y = error_of(&c, ops[k], json_pack("{s:I}", "patient_id",
			    (json_int_t)missing));
			if (strcmp(x, y) != 0)
				print_error("%s as %s: \"%s\" but \"%s\"\n", ops[k],
				    callers[i], x, y);
			assert_string_equal(x, y);
			assert_true(strncmp(x, "forbidden: ", 11) == 0);
			free(x);
			free(y);
		}
		if (i == 0) {
			/* The writes, too. */
			x = error_of(&c, "records.create", json_pack("{s:I, s:s}",
			    "patient_id", (json_int_t)john, "diagnosis", "Probe"));
			y = error_of(&c, "records.create", json_pack("{s:I, s:s}",
			    "patient_id", (json_int_t)missing, "diagnosis", "Probe"));
			assert_string_equal(x, y);
			free(x);
			free(y);
			x = error_of(&c, "rx.create", json_pack("{s:I, s:[o]}",
			    "patient_id", (json_int_t)john, "items",
			    rx_item("Ibuprofen", 5)));
			y = error_of(&c, "rx.create", json_pack("{s:I, s:[o]}",
			    "patient_id", (json_int_t)missing, "items",
			    rx_item("Ibuprofen", 5)));
			assert_string_equal(x, y);
			assert_true(strncmp(x, "forbidden: ", 11) == 0);
			free(x);
			free(y);
		}
		cli_close(&c);
	}
	/* Each probe of the missing id left a row under no patient. */
	rows = jpath(call_ok(&a, "audit.list", "{s:s, s:i}", "action",
	    "access.denied", "limit", 500), "entries");
	seen = 0;
	json_array_foreach(rows, i, row) {
		const char	*d = jstr(row, "detail");

		if (d != NULL && strstr(d, "no patient with id 98765432")) {
			assert_true(json_is_null(json_object_get(row, "patient_id")));
			seen++;
		}
	}
	assert_int_equal(seen, 3 * nitems(ops) + 2);
	cli_close(&a);
	for (i = 0; i < nitems(callers); i++)
		free(callers[i]);
}

/* The newest notification of c's user, borrowed; NULL when none. */
static json_t *
newest_notification(struct tcli *c)
{
	return jpath(call_ok(c, "notifications.list", "{s:i}", "limit", 1),
	    "notifications.0");
}

/*
 * A new or renewed prescription tells the patient; break-the-glass on a
 * chart tells the patient and every other admin (in the app, made in the
 * same transaction as the write).
 */
static void
test_patient_hears_of_prescriptions_and_break_glass(void **state)
{
	struct tcli	 p, d, adm;
	json_t		*n;
	int64_t		 rx, renewed, unread, grant;
	char		*breaker;

	(void)state;
	cli_open_as(&p, &srv, DEMO_PATIENT);
	unread = jint(call_ok(&p, "notifications.list", "{}"), "unread");
	rx = create_rx("Cetirizine", 10);
	n = newest_notification(&p);
	assert_non_null(n);
	assert_jstr(n, "kind", "rx.new");
	assert_int_equal(jint(n, "ref_id"), rx);
	assert_non_null(strstr(jstr(n, "body"), "Cetirizine 500 mg"));
	assert_int_equal(jint(call_ok(&p, "notifications.list", "{}"), "unread"),
	    unread + 1);
	cli_open_as(&d, &srv, own_doctor);
	renewed = jint(call_ok(&d, "rx.renew", "{s:I}", "id", (json_int_t)rx),
	    "prescription.id");
	cli_close(&d);
	n = newest_notification(&p);
	assert_int_equal(jint(n, "ref_id"), renewed);
	assert_non_null(strstr(jstr(n, "body"), "renewed"));
	/* A refused prescription tells nobody. */
	cli_open_as(&d, &srv, own_doctor);
	call_err(&d, "rx.create", "bad_request", "{s:I, s:[]}", "patient_id",
	    (json_int_t)john, "items");
	cli_close(&d);
	assert_int_equal(jint(newest_notification(&p), "id"), jint(n, "id"));

	/* Break-the-glass by a new doctor. */
	breaker = unique_email("breaker");
	cli_open_as(&adm, &srv, DEMO_ADMIN);
	call_ok(&adm, "users.create", "{s:s, s:s, s:s, s:s}", "email", breaker,
	    "full_name", "Dr. Night Shift", "role", "doctor", "password",
	    STRONG_PASSWORD);
	cli_open(&d, &srv);
	free(cli_login(&d, breaker, STRONG_PASSWORD));
	grant = jint(call_ok(&d, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Unresponsive on arrival, need history"),
	    "break_glass.id");
	cli_close(&d);
	n = newest_notification(&p);
	assert_jstr(n, "kind", "break_glass");
	assert_int_equal(jint(n, "ref_id"), grant);
	assert_non_null(strstr(jstr(n, "body"), "Dr. Night Shift"));
	assert_non_null(strstr(jstr(n, "body"), "Unresponsive on arrival"));
	n = newest_notification(&adm);
	assert_jstr(n, "kind", "break_glass");
	assert_int_equal(jint(n, "ref_id"), grant);
	/* The admin's own break-the-glass tells the patient, not the admin. */
	grant = jint(call_ok(&adm, "access.break_glass", "{s:I, s:s}",
	    "patient_id", (json_int_t)john, "reason", "Audit of the night shift"),
	    "break_glass.id");
	assert_int_equal(jint(newest_notification(&p), "ref_id"), grant);
	assert_true(jint(newest_notification(&adm), "ref_id") != grant);
	cli_close(&adm);
	cli_close(&p);
	free(breaker);
}

static void
test_break_glass_expires(void **state)
{
	struct tcli	c, t;
	int64_t		rx = create_rx("Paracetamol", 1);

	(void)state;
	cli_open_as(&c, &srv, other_doctor);
	call_ok(&c, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Reviewing an outside referral");
	call_ok(&c, "records.list", "{s:I}", "patient_id", (json_int_t)john);
	cli_close(&c);

	cli_open(&t, &srv);
	clock_forward(&t, 61 * 60);
	cli_close(&t);
	cli_open_as(&c, &srv, other_doctor);
	call_err(&c, "records.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	cli_close(&c);
	cli_open_as(&c, &srv, DEMO_ADMIN);
	call_err(&c, "records.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	assert_int_equal(json_array_size(jpath(call_ok(&c, "access.break_glass_list",
	    "{s:b}", "active", 1), "entries")), 0);
	cli_close(&c);

	/* A one-day course has run out a day later: completed, not cancellable. */
	cli_open(&t, &srv);
	clock_forward(&t, 86400);
	cli_close(&t);
	cli_open_as(&c, &srv, own_doctor);
	assert_jstr(call_ok(&c, "rx.get", "{s:I}", "id", (json_int_t)rx),
	    "prescription.status", "completed");
	call_err(&c, "rx.cancel", "conflict", "{s:I, s:s}", "id", (json_int_t)rx,
	    "reason", "too late");
	cli_close(&c);
}

/* break_glass_minutes sets how long a grant lasts. */
static void
test_break_glass_minutes_is_configurable(void **state)
{
	static const struct tsrv_opts	opts = {
		.config = "break_glass_minutes = 5\n"
	};
	struct tsrv	 s;
	struct tcli	 c;
	json_t		*res;

	(void)state;
	srv_start(&s, &opts);
	cli_open_as(&c, &s, DEMO_ADMIN);
	res = call_ok(&c, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)1, "reason", "Audit of a complaint, case 17");
	assert_int_equal(jint(res, "break_glass.expires_at") -
	    jint(res, "break_glass.created_at"), 5 * 60);
	cli_close(&c);
	srv_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_clinical_op_for_every_caller),
		cmocka_unit_test(test_refusals_and_break_glass_are_audited_and_listed),
		cmocka_unit_test(test_amendments_keep_every_version),
		cmocka_unit_test(test_create_validates_every_field),
		cmocka_unit_test(test_rx_validates_every_field),
		cmocka_unit_test(test_rx_cancel_renew_and_print),
		cmocka_unit_test(test_ids_reveal_nothing),
		cmocka_unit_test(test_patient_ids_reveal_nothing),
		cmocka_unit_test(test_patient_hears_of_prescriptions_and_break_glass),
		cmocka_unit_test(test_break_glass_expires),
		cmocka_unit_test(test_break_glass_minutes_is_configurable),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
