/* audit.h -- the append-only, hash-chained audit log.
 *
 * Each row's hash is BLAKE2b-256 over the previous row's hash and this row's
 * fields, so editing, inserting or deleting a row in the middle breaks every
 * link after it; audit_verify_file finds the first broken one. */
#ifndef MF_AUDIT_H
#define MF_AUDIT_H

#include <stdint.h>

#define AUDIT_HASH_BYTES	32

struct audit_entry {
	int64_t		 ts;
	int64_t		 actor_id;	/* 0: none (anonymous or system) */
	const char	*actor_role;
	const char	*action;
	int64_t		 patient_id;	/* 0: none */
	const char	*target;
	const char	*detail;
	const char	*addr;
};

/* Appends one row (inside the caller's transaction, if any); 0 or -1. */
int	audit_append(const struct audit_entry *);
/*
 * Walks the chain, on a connection of its own to the database file at
 * db_path, in one read transaction: for a worker thread, so the loop goes
 * on serving (and writing) while a big log is hashed. Returns 0 with *rows
 * checked and *first_broken = 0 when intact, or the id of the first row
 * whose link does not hold; -1 with *cause (the caller frees it) when the
 * log cannot be read.
 */
int	audit_verify_file(const char *db_path, int64_t *rows,
	    int64_t *first_broken, char **cause);

/*
 * audit.list's query for the filters given: ?1 actor_id, ?2 action, ?3
 * patient_id, ?4 ts from (inclusive), ?5 ts to (exclusive), ?6 rows below
 * this id (INT64_MAX: all), ?7 how many; newest first. A patient's, a
 * user's or an action's rows are walked down their own index (audit_patient,
 * audit_actor, audit_action: the first of them given), the others filtered
 * on the way; with none of those, the table from ?6 down.
 */
const char *audit_list_sql(int by_user, int by_action, int by_patient);

/* The row hash; exposed for the unit tests. */
void	audit_hash(const unsigned char *prev, int64_t id,
	    const struct audit_entry *, unsigned char *out);

struct req;
/* An audit row for the caller of a request. */
void	audit_req(struct req *, const char *action, int64_t patient_id,
	    const char *target, const char *detail_fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#endif
