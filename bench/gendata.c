/* gendata.c -- fills a MediFlow database with a big clinic's data for the
 * scheduling benchmarks: patients, doctors with weekly hours, appointments.
 *
 * usage: gendata DB [--patients N] [--doctors N] [--appointments N]
 *                   [--free-doctors N]
 * The file must not exist; it is created with the server's migrations.
 * Free doctors (ids after the others) have the same hours and no
 * appointments: the booking bench books into their empty calendars, since
 * the others' are mostly full for years ahead. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "db.h"
#include "patients.h"
#include "util.h"

static const char *first_names[] = {
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael",
	"Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan",
	"Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Wei", "Fatima",
	"José", "Aisha", "Lukas", "Grace", "Daniel", "Priya", "Kenji", "Olga",
	"Ahmed", "Sofia", "Noah", "Emma", "Liam", "Olivia", "Mateo", "Chloé",
	"Arjun", "Zanele",
};
static const char *last_names[] = {
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
	"Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez",
	"Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
	"Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
	"Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
	"Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
	"Roberts", "Okafor", "Chen", "Raman", "Novak", "Mensah", "Kim", "Zhang",
	"Al-Sayed", "O'Brien", "Müller",
};
static const char *specialties[] = {
	"General Practice", "Cardiology", "Pediatrics", "Dermatology",
	"Orthopedics", "Neurology", "Psychiatry", "Gynecology", "Ophthalmology",
	"ENT",
};

static uint64_t	rng = 88172645463325252ULL;

static uint64_t
next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
exec_or_die(sqlite3 *h, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "gendata: %s: %s\n", sql, err);
		exit(1);
	}
}

static sqlite3_stmt *
prep(sqlite3 *h, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "gendata: %s: %s\n", sql, sqlite3_errmsg(h));
		exit(1);
	}
	return st;
}

static void
step_or_die(sqlite3 *h, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "gendata: %s\n", sqlite3_errmsg(h));
		exit(1);
	}
	sqlite3_reset(st);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "patients", required_argument, NULL, 'p' },
		{ "doctors", required_argument, NULL, 'd' },
		{ "appointments", required_argument, NULL, 'a' },
		{ "free-doctors", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	long		 npatients = 1000000, ndoctors = 200, nappts = 10000000;
	long		 nfree = 0;
	sqlite3		*h;
	sqlite3_stmt	*ins_user, *ins_doc, *ins_spec, *ins_av, *ins_br, *ins_pat;
	sqlite3_stmt	*ins_word, *ins_appt;
	char		 hash[crypto_pwhash_STRBYTES], name[128], email[128], w[64];
	char		*cause = NULL;
	int64_t		 now = time(NULL), day0, per_doctor, t;
	long		 i, j, n;
	int		 ch, wd;
	double		 started;
	struct timespec	 ts;

	while ((ch = getopt_long(argc, argv, "p:d:a:f:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': npatients = atol(optarg); break;
		case 'd': ndoctors = atol(optarg); break;
		case 'a': nappts = atol(optarg); break;
		case 'f': nfree = atol(optarg); break;
		default:
			fprintf(stderr, "usage: gendata DB [--patients N] [--doctors N] "
			    "[--appointments N] [--free-doctors N]\n");
			return 2;
		}
	}
	if (optind + 1 != argc || npatients < 1 || ndoctors < 1 || nappts < 0 ||
	    nfree < 0) {
		fprintf(stderr, "usage: gendata DB [--patients N] [--doctors N] "
		    "[--appointments N] [--free-doctors N]\n");
		return 2;
	}
	if (access(argv[optind], F_OK) == 0) {
		fprintf(stderr, "gendata: %s exists\n", argv[optind]);
		return 1;
	}
	if (sodium_init() < 0 || sqlite3_open(argv[optind], &h) != SQLITE_OK)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	started = ts.tv_sec + ts.tv_nsec / 1e9;
	exec_or_die(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; "
	    "PRAGMA cache_size = -1000000; PRAGMA foreign_keys = OFF");
	if (db_migrate(h, migrations, migrations_count, &cause) != 0) {
		fprintf(stderr, "gendata: %s\n", cause);
		return 1;
	}
	/* One hash for every generated account: they are never logged into
	 * except the bench's admin, whose password is "password123". */
	if (crypto_pwhash_str(hash, "password123", 11,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return 1;
	exec_or_die(h, "BEGIN");
	ins_user = prep(h, "INSERT INTO users (email, full_name, role, password_hash, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)");
	ins_doc = prep(h, "INSERT INTO doctors (user_id, consult_minutes, room, "
	    "created_at, updated_at) VALUES (?, 20, ?, ?, ?)");
	ins_spec = prep(h, "INSERT INTO doctor_specialties VALUES (?, ?)");
	ins_av = prep(h, "INSERT INTO availability (doctor_id, weekday, start_min, "
	    "end_min, slot_minutes) VALUES (?, ?, ?, ?, 20)");
	ins_br = prep(h, "INSERT INTO availability_breaks (doctor_id, weekday, "
	    "start_min, end_min) VALUES (?, ?, 720, 780)");
	ins_pat = prep(h, "INSERT INTO patients (id, full_name, date_of_birth, phone, "
	    "phone_digits, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
	ins_word = prep(h, "INSERT OR IGNORE INTO patient_name_words (word, "
	    "full_name, patient_id) VALUES (?, ?, ?)");
	ins_appt = prep(h, "INSERT INTO appointments (doctor_id, patient_id, starts_at, "
	    "ends_at, status, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, "
	    "'Consultation', ?, ?)");

	sqlite3_bind_text(ins_user, 1, "admin@test.com", -1, SQLITE_STATIC);
	sqlite3_bind_text(ins_user, 2, "Bench Admin", -1, SQLITE_STATIC);
	sqlite3_bind_text(ins_user, 3, "admin", -1, SQLITE_STATIC);
	sqlite3_bind_text(ins_user, 4, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins_user, 5, now);
	sqlite3_bind_int64(ins_user, 6, now);
	step_or_die(h, ins_user);
	sqlite3_bind_text(ins_user, 1, "receptionist@test.com", -1, SQLITE_STATIC);
	sqlite3_bind_text(ins_user, 2, "Bench Desk", -1, SQLITE_STATIC);
	sqlite3_bind_text(ins_user, 3, "receptionist", -1, SQLITE_STATIC);
	step_or_die(h, ins_user);

	for (i = 1; i <= ndoctors + nfree; i++) {
		snprintf(email, sizeof email, "doctor%ld@bench.test", i);
		snprintf(name, sizeof name, "Dr. %s %s", first_names[i % nitems(first_names)],
		    last_names[(i / 7) % nitems(last_names)]);
		sqlite3_bind_text(ins_user, 1, email, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins_user, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins_user, 3, "doctor", -1, SQLITE_STATIC);
		step_or_die(h, ins_user);
		sqlite3_bind_int64(ins_doc, 1, sqlite3_last_insert_rowid(h));
		snprintf(w, sizeof w, "%ld", 100 + i);
		sqlite3_bind_text(ins_doc, 2, w, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins_doc, 3, now);
		sqlite3_bind_int64(ins_doc, 4, now);
		step_or_die(h, ins_doc);
		sqlite3_bind_int64(ins_spec, 1, i);
		sqlite3_bind_text(ins_spec, 2, specialties[i % nitems(specialties)], -1,
		    SQLITE_STATIC);
		step_or_die(h, ins_spec);
		for (wd = 1; wd <= 5; wd++) {
			sqlite3_bind_int64(ins_av, 1, i);
			sqlite3_bind_int(ins_av, 2, wd);
			sqlite3_bind_int(ins_av, 3, 8 * 60);
			sqlite3_bind_int(ins_av, 4, 17 * 60);
			step_or_die(h, ins_av);
			sqlite3_bind_int64(ins_br, 1, i);
			sqlite3_bind_int(ins_br, 2, wd);
			step_or_die(h, ins_br);
		}
	}

	for (i = 1; i <= npatients; i++) {
		const char	*fn = first_names[next_random() % nitems(first_names)];
		const char	*ln = last_names[next_random() % nitems(last_names)];
		char		 dob[16], phone[40], digits[32];
		struct patient_words words;
		size_t		 k;

		snprintf(name, sizeof name, "%s %s", fn, ln);
		snprintf(dob, sizeof dob, "%04d-%02d-%02d",
		    (int)(1930 + next_random() % 90), (int)(1 + next_random() % 12),
		    (int)(1 + next_random() % 28));
		snprintf(digits, sizeof digits, "1555%07ld", i);
		snprintf(phone, sizeof phone, "+%s", digits);
		sqlite3_bind_int64(ins_pat, 1, i);
		sqlite3_bind_text(ins_pat, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins_pat, 3, dob, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins_pat, 4, phone, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins_pat, 5, digits, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins_pat, 6, now);
		sqlite3_bind_int64(ins_pat, 7, now);
		step_or_die(h, ins_pat);
		/* The server's own words ("O'Brien": o, brien, obrien; "José":
		 * jose), so searches find what they would in a real clinic. */
		patient_name_words(name, &words);
		for (k = 0; k < words.n; k++) {
			sqlite3_bind_text(ins_word, 1, words.word[k], -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins_word, 2, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins_word, 3, i);
			step_or_die(h, ins_word);
		}
	}

	/* Each doctor's appointments fill 20-minute slots, 08:00-17:00 UTC on
	 * weekdays, back from about four years ago; most are in the past. */
	per_doctor = nappts / ndoctors;
	day0 = (now / 86400 - (per_doctor / 25) * 7 / 5 * 4 / 5) * 86400;
	n = 0;
	for (i = 1; i <= ndoctors && n < nappts; i++) {
		t = day0 + 8 * 3600;
		for (j = 0; j < per_doctor && n < nappts; j++, n++) {
			const char	*status;
			int64_t		 dow;

			for (;;) {
				dow = ((t / 86400) + 3) % 7;	/* 0 = Monday */
				if (dow >= 5)
					t = (t / 86400 + 1) * 86400 + 8 * 3600;
				else if (t % 86400 >= 17 * 3600)
					t = (t / 86400 + 1) * 86400 + 8 * 3600;
				else if (t % 86400 >= 12 * 3600 && t % 86400 < 13 * 3600)
					t = t / 86400 * 86400 + 13 * 3600;
				else
					break;
			}
			if (t < now)
				status = next_random() % 10 == 0 ? "no_show" :
				    next_random() % 10 == 0 ? "cancelled" : "completed";
			else
				status = next_random() % 3 == 0 ? "requested" : "approved";
			sqlite3_bind_int64(ins_appt, 1, i);
			sqlite3_bind_int64(ins_appt, 2, (int64_t)(1 + next_random() %
			    (uint64_t)npatients));
			sqlite3_bind_int64(ins_appt, 3, t);
			sqlite3_bind_int64(ins_appt, 4, t + 1200);
			sqlite3_bind_text(ins_appt, 5, status, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins_appt, 6, now);
			sqlite3_bind_int64(ins_appt, 7, now);
			if (sqlite3_step(ins_appt) != SQLITE_DONE) {
				fprintf(stderr, "gendata: %s\n", sqlite3_errmsg(h));
				return 1;
			}
			sqlite3_reset(ins_appt);
			/* Skip a slot now and then, so days have free slots. */
			t += next_random() % 4 == 0 ? 2400 : 1200;
		}
	}
	sqlite3_finalize(ins_user);
	sqlite3_finalize(ins_doc);
	sqlite3_finalize(ins_spec);
	sqlite3_finalize(ins_av);
	sqlite3_finalize(ins_br);
	sqlite3_finalize(ins_pat);
	sqlite3_finalize(ins_word);
	sqlite3_finalize(ins_appt);
	exec_or_die(h, "COMMIT");
	exec_or_die(h, "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE");
	sqlite3_close(h);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("gendata: %ld patients, %ld doctors (+%ld free), %ld appointments "
	    "in %.1f s\n", npatients, ndoctors, nfree, n,
	    ts.tv_sec + ts.tv_nsec / 1e9 - started);
	(void)errno;
	return 0;
}
