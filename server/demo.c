/* demo.c -- demo data for a new, empty database (--demo).
 *
 * The original product's demo accounts keep their password123; that short
 * password exists in demo databases only, since the policy refuses it
 * everywhere else. */
#include <stdlib.h>
#include <string.h>

#include "appointments.h"
#include "audit.h"
#include "availability.h"
#include "clinic-time.h"
#include "doctors.h"
#include "front-desk.h"
#include "patients.h"
#include "clock.h"
#include "db.h"
#include "demo.h"
#include "log.h"
#include "password.h"
#include "users.h"
#include "util.h"

static const struct {
	const char	*email;
	const char	*full_name;
	enum role	 role;
	const char	*phone;
} demo_users[] = {
	{ "admin@test.com", "Alex Morgan", ROLE_ADMIN, "+15550100001" },
	{ "receptionist@test.com", "Maria Lopez", ROLE_RECEPTIONIST, "+15550100002" },
	{ "doctor@test.com", "Dr. Sarah Chen", ROLE_DOCTOR, "+15550100003" },
	{ "m.okafor@test.com", "Dr. Michael Okafor", ROLE_DOCTOR, "+15550100004" },
	{ "p.raman@test.com", "Dr. Priya Raman", ROLE_DOCTOR, "+15550100005" },
	{ "patient@test.com", "John Smith", ROLE_PATIENT, "+15550100010" },
	{ "emily.johnson@test.com", "Emily Johnson", ROLE_PATIENT, "+15550100011" },
	{ "robert.williams@test.com", "Robert Williams", ROLE_PATIENT, "+15550100012" },
	{ "aisha.khan@test.com", "Aisha Khan", ROLE_PATIENT, "+15550100013" },
	{ "jose.garcia@test.com", "José García", ROLE_PATIENT, "+15550100014" },
};

static const struct {
	const char	*email;
	const char	*specialties[3];
	const char	*qualifications;
	const char	*room;
	int		 slot_minutes;
} demo_doctors[] = {
	{ "doctor@test.com", { "General Practice", "Family Medicine", NULL },
	    "MD, Board Certified in Family Medicine", "101", 20 },
	{ "m.okafor@test.com", { "Cardiology", NULL, NULL },
	    "MD, FACC; Fellowship in Interventional Cardiology", "204", 30 },
	{ "p.raman@test.com", { "Pediatrics", "Dermatology", NULL },
	    "MBBS, MD (Pediatrics)", "103", 15 },
};

/* Walk-ins registered at the desk, without a login. */
static const struct {
	const char	*full_name;
	const char	*dob;
	const char	*phone;
	const char	*email;
} demo_walkins[] = {
	{ "Margaret O'Brien", "1948-03-12", "+15550100020", "" },
	{ "Wei Zhang", "1985-11-02", "+15550100021", "wei.zhang@example.org" },
	{ "Fatima Al-Sayed", "1992-07-23", "+15550100022", "" },
	{ "Lukas Novak", "2015-05-30", "+15550100023", "" },
	{ "Grace Mensah", "1970-01-17", "+15550100024", "grace.mensah@example.org" },
	{ "Daniel Kim", "1962-09-08", "+15550100025", "" },
};

/* The clinic's kinds of visit; demo_schedule names them by index. */
static const struct {
	const char	*name;
	int		 minutes;
	const char	*colour;
} demo_types[] = {
	{ "New patient", 30, "#2e86de" },
	{ "Follow-up", 15, "#27ae60" },
	{ "Procedure", 45, "#c0392b" },
};

static int
demo_schedule(int64_t now, int64_t *doctor_ids, int64_t *patient_ids, int npatients,
    const int64_t *type_ids)
{
	/* A week around today: past visits completed or missed, today's
	 * patients arriving, the coming days requested and approved. */
	static const struct {
		int		 day;		/* relative to today */
		int		 minute;	/* local time */
		int		 doctor;
		enum appt_status status;
		const char	*reason;
		int		 type;		/* demo_types index + 1; 0: none */
	} plan[] = {
		{ -3, 9 * 60, 0, APPT_COMPLETED, "Annual check-up", 0 },
		{ -3, 10 * 60, 1, APPT_COMPLETED, "Chest pain follow-up", 0 },
		{ -2, 9 * 60 + 20, 0, APPT_NO_SHOW, "Flu symptoms", 0 },
		{ -2, 14 * 60, 2, APPT_COMPLETED, "Rash on forearm", 3 },
		{ -1, 11 * 60, 1, APPT_CANCELLED, "Blood pressure review", 0 },
		{ -1, 15 * 60, 0, APPT_COMPLETED, "Diabetes review", 0 },
		{ 0, 9 * 60, 0, APPT_IN_PROGRESS, "Sore throat", 0 },
		{ 0, 9 * 60 + 40, 0, APPT_CHECKED_IN, "Back pain", 0 },
		{ 0, 10 * 60 + 30, 1, APPT_APPROVED, "ECG results", 0 },
		{ 0, 15 * 60 + 15, 2, APPT_APPROVED, "Vaccination", 0 },
		{ 1, 9 * 60 + 20, 0, APPT_REQUESTED, "Persistent cough", 0 },
		{ 1, 11 * 60, 1, APPT_APPROVED, "Palpitations", 2 },
		{ 1, 13 * 60 + 30, 2, APPT_REJECTED, "Cosmetic consultation", 0 },
		{ 2, 10 * 60, 0, APPT_APPROVED, "Medication review", 2 },
		{ 2, 14 * 60, 2, APPT_REQUESTED, "Eczema follow-up", 0 },
		{ 3, 9 * 60, 1, APPT_REQUESTED, "New patient: hypertension", 1 },
		{ 4, 16 * 60, 0, APPT_APPROVED, "Travel vaccinations", 0 },
	};
	static const int lengths[] = { 20, 30, 15 };
	struct civil_date	today, day;
	struct appt		a;
	int64_t			conflict;
	size_t			i;

	utc_to_local(now, &today, NULL);
	for (i = 0; i < nitems(plan); i++) {
		day = today;
		date_add_days(&day, plan[i].day);
		memset(&a, 0, sizeof a);
		a.doctor_id = doctor_ids[plan[i].doctor];
		a.patient_id = patient_ids[i % (size_t)npatients];
		a.starts_at = local_to_utc(&day, plan[i].minute);
		a.ends_at = a.starts_at + lengths[plan[i].doctor] * 60;
		if (plan[i].type > 0) {
			a.type_id = type_ids[plan[i].type - 1];
			a.ends_at = a.starts_at + demo_types[plan[i].type - 1].minutes * 60;
		}
		a.status = plan[i].status;
		strlcpy_mf(a.reason, plan[i].reason, sizeof a.reason);
		a.created_at = a.updated_at = now;
		if (appt_insert(&a, &conflict) != 0)
			return -1;
		if (a.status == APPT_COMPLETED || a.status == APPT_IN_PROGRESS ||
		    a.status == APPT_CHECKED_IN) {
			a.checked_in_at = a.starts_at - 600;
			if (a.status != APPT_CHECKED_IN)
				a.started_at = a.starts_at + 120;
			if (a.status == APPT_COMPLETED)
				a.completed_at = a.ends_at;
			if (appt_save_times(&a) != 0)
				return -1;
		}
	}
	return 0;
}

/* A past appointment straight into the store (history, not bookings). */
static int
demo_past(int64_t doctor_id, int64_t patient_id, const struct civil_date *day,
    int minute, int minutes, enum appt_status status, int overbook,
    const char *reason, int64_t now)
{
	struct appt	a;
	int64_t		conflict;

	memset(&a, 0, sizeof a);
	a.doctor_id = doctor_id;
	a.patient_id = patient_id;
	a.starts_at = local_to_utc(day, minute);
	a.ends_at = a.starts_at + minutes * 60;
	a.status = status;
	a.overbook = overbook;
	strlcpy_mf(a.reason, reason, sizeof a.reason);
	a.created_at = a.updated_at = now;
	if (appt_insert(&a, &conflict) != 0)
		return -1;
	if (status == APPT_COMPLETED) {
		a.checked_in_at = a.starts_at - 600;
		a.started_at = a.starts_at + 120;
		a.completed_at = a.ends_at;
		if (appt_save_times(&a) != 0)
			return -1;
	}
	return 0;
}

/*
 * Front-desk depth, kept clear of the week around today that the
 * scheduling demo fills: Dr. Okafor's daily cap (12 and 2 overbooks) and a
 * full day six weeks ago with one overbook; a walk-in patient flagged after
 * three no-shows; two patients on wait lists; recalls due.
 */
static int
demo_front_desk(int64_t now, const int64_t *doctor_ids, const int64_t *patient_ids)
{
	/* Okafor's 30-minute grid: 13 slots a day. */
	static const int okafor_day[] = { 540, 570, 600, 630, 660, 690, 780, 810,
	    840, 870, 930, 960, 990 };
	struct civil_date	 today, day;
	struct doctor_cap	 cap;
	struct waitlist_entry	*w;
	struct recall		 rc;
	size_t			 i;
	char			 date[11];

	utc_to_local(now, &today, NULL);
	memset(&cap, 0, sizeof cap);
	cap.doctor_id = doctor_ids[1];
	cap.daily_cap = 12;
	cap.overbooks = 2;
	cap.updated_at = now;
	if (doctor_cap_set(&cap) != 0)
		return -1;
	/* A Tuesday six weeks back: twelve booked, a thirteenth squeezed in. */
	day = today;
	date_add_days(&day, -42);
	while (date_weekday(&day) != 2)
		date_add_days(&day, -1);
	for (i = 0; i < nitems(okafor_day); i++) {
		if (demo_past(doctor_ids[1], patient_ids[5 + i % 6], &day, okafor_day[i],
		    30, APPT_COMPLETED, i == nitems(okafor_day) - 1,
		    i == nitems(okafor_day) - 1 ? "Chest pain (fitted in)" :
		    "Cardiology review", now) != 0)
			return -1;
	}
	/* Daniel Kim missed three visits with Dr. Chen: flagged. */
	for (i = 0; i < 3; i++) {
		day = today;
		date_add_days(&day, -50 - 14 * (int)i);
		while (date_weekday(&day) > 5)
			date_add_days(&day, -1);
		if (demo_past(doctor_ids[0], patient_ids[10], &day, 10 * 60, 20,
		    APPT_NO_SHOW, 0, "Blood pressure check", now) != 0)
			return -1;
	}
	/* Waiting for an earlier time this week (walk-ins: the desk calls). */
	w = xcalloc(1, sizeof *w);
	w->doctor_id = doctor_ids[0];
	w->patient_id = patient_ids[6];
	w->earliest = now;
	w->latest = now + 4 * 86400;
	strlcpy_mf(w->note, "Any morning; can come at short notice", sizeof w->note);
	w->created_at = now;
	if (waitlist_insert(w) != 0)
		goto fail;
	memset(w, 0, sizeof *w);
	w->doctor_id = doctor_ids[1];
	w->patient_id = patient_ids[7];
	w->earliest = now + 86400;
	w->latest = now + 6 * 86400;
	strlcpy_mf(w->note, "Wants the ECG review sooner", sizeof w->note);
	w->created_at = now;
	if (waitlist_insert(w) != 0)
		goto fail;
	free(w);
	/* Recalls: one overdue, one due today, one next month. */
	for (i = 0; i < 3; i++) {
		static const struct {
			int		 days;
			int		 doctor;	/* -1: any */
			int		 patient;
			const char	*reason;
		} recalls[] = {
			{ -3, 0, 5, "Six-monthly diabetes review" },
			{ 0, 1, 9, "Repeat ECG after medication change" },
			{ 30, -1, 8, "Annual check-up" },
		};

		day = today;
		date_add_days(&day, recalls[i].days);
		date_format(&day, date);
		memset(&rc, 0, sizeof rc);
		rc.patient_id = patient_ids[recalls[i].patient];
		rc.doctor_id = recalls[i].doctor >= 0 ? doctor_ids[recalls[i].doctor] : 0;
		strlcpy_mf(rc.due_by, date, sizeof rc.due_by);
		strlcpy_mf(rc.reason, recalls[i].reason, sizeof rc.reason);
		rc.created_at = now;
		if (recall_insert(&rc) != 0)
			return -1;
	}
	return 0;
fail:
	free(w);
	return -1;
}

static int
demo_clinic(int64_t now)
{
	struct avail_template	 t;
	struct doctor		 d;
	struct patient		 p;
	struct user		 u;
	int64_t			 doctor_ids[nitems(demo_doctors)];
	int64_t			 patient_ids[16];
	int64_t			 type_ids[nitems(demo_types)];
	struct appt_type	 at;
	int			 np = 0, wd, k;
	size_t			 i;

	for (i = 0; i < nitems(demo_types); i++) {
		memset(&at, 0, sizeof at);
		strlcpy_mf(at.name, demo_types[i].name, sizeof at.name);
		at.minutes = demo_types[i].minutes;
		strlcpy_mf(at.colour, demo_types[i].colour, sizeof at.colour);
		at.active = 1;
		at.created_at = at.updated_at = now;
		if (appt_types_insert(&at) != 0)
			return -1;
		type_ids[i] = at.id;
	}

	for (i = 0; i < nitems(demo_doctors); i++) {
		if (users_by_email(demo_doctors[i].email, &u) != 0 ||
		    (doctor_ids[i] = doctors_ensure(u.id, now)) < 0 ||
		    doctors_by_id(doctor_ids[i], &d) != 0)
			return -1;
		for (k = 0; k < 3 && demo_doctors[i].specialties[k] != NULL; k++)
			strlcpy_mf(d.specialties[d.nspecialties++],
			    demo_doctors[i].specialties[k], sizeof d.specialties[0]);
		free(d.qualifications);
		d.qualifications = xstrdup(demo_doctors[i].qualifications);
		strlcpy_mf(d.room, demo_doctors[i].room, sizeof d.room);
		d.consult_minutes = demo_doctors[i].slot_minutes;
		k = doctors_save(&d);
		doctors_clear(&d);
		if (k != 0)
			return -1;
		/* Monday to Friday, 09:00-12:00 and 13:00-17:00, with a coffee break. */
		memset(&t, 0, sizeof t);
		for (wd = 1; wd <= 5; wd++) {
			t.sessions[t.nsessions++] = (struct avail_session){ wd, 9 * 60,
			    12 * 60, demo_doctors[i].slot_minutes };
			t.sessions[t.nsessions++] = (struct avail_session){ wd, 13 * 60,
			    17 * 60, demo_doctors[i].slot_minutes };
			t.breaks[t.nbreaks++] = (struct avail_session){ wd, 15 * 60,
			    15 * 60 + 15, 0 };
		}
		if (i == 0)	/* the GP also sees people on Saturday mornings */
			t.sessions[t.nsessions++] = (struct avail_session){ 6, 9 * 60,
			    12 * 60, demo_doctors[i].slot_minutes };
		if (availability_replace(doctor_ids[i], &t) != 0)
			return -1;
	}
	for (i = 0; i < nitems(demo_users); i++) {
		if (demo_users[i].role != ROLE_PATIENT ||
		    users_by_email(demo_users[i].email, &u) != 0)
			continue;
		if ((patient_ids[np++] = patients_attach_user(u.id, u.email,
		    u.full_name, u.phone, NULL, now)) < 0)
			return -1;
	}
	for (i = 0; i < nitems(demo_walkins); i++) {
		memset(&p, 0, sizeof p);
		strlcpy_mf(p.full_name, demo_walkins[i].full_name, sizeof p.full_name);
		strlcpy_mf(p.date_of_birth, demo_walkins[i].dob, sizeof p.date_of_birth);
		strlcpy_mf(p.phone, demo_walkins[i].phone, sizeof p.phone);
		strlcpy_mf(p.email, demo_walkins[i].email, sizeof p.email);
		p.created_at = p.updated_at = now;
		if (patients_insert(&p) != 0)
			return -1;
		patient_ids[np++] = p.id;
	}
	if (demo_front_desk(now, doctor_ids, patient_ids) != 0)
		return -1;
	return demo_schedule(now, doctor_ids, patient_ids, np, type_ids);
}

int
demo_seed(void)
{
	struct audit_entry	 e;
	struct user		 u;
	char			 hash[PW_HASH_MAX];
	int64_t			 now = clock_now();
	size_t			 i;

	if (users_count() > 0) {
		log_info("demo: database already has users; left as it is");
		return 0;
	}
	if (db_begin() != 0)
		return -1;
	for (i = 0; i < nitems(demo_users); i++) {
		if (password_hash("password123", hash) != 0)
			goto fail;
		memset(&u, 0, sizeof u);
		strlcpy_mf(u.email, demo_users[i].email, sizeof u.email);
		strlcpy_mf(u.full_name, demo_users[i].full_name, sizeof u.full_name);
		strlcpy_mf(u.phone, demo_users[i].phone, sizeof u.phone);
		strlcpy_mf(u.password_hash, hash, sizeof u.password_hash);
		u.role = demo_users[i].role;
		u.active = 1;
		u.created_at = u.updated_at = now;
		if (users_insert(&u) != 0)
			goto fail;
	}
	if (demo_clinic(now) != 0)
		goto fail;
	memset(&e, 0, sizeof e);
	e.ts = now;
	e.action = "demo.seed";
	e.detail = "demo accounts created";
	if (audit_append(&e) != 0 || db_commit() != 0)
		goto fail;
	log_info("demo: seeded %zu accounts (password: password123)",
	    nitems(demo_users));
	return 1;
fail:
	db_rollback();
	log_err("demo: seeding failed");
	return -1;
}
