/* demo.c -- demo data for a new, empty database (--demo).
 *
 * The original product's demo accounts keep their password123; that short
 * password exists in demo databases only, since the policy refuses it
 * everywhere else. */
#include <string.h>

#include "audit.h"
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
