/* holds.h -- soft holds: a slot kept for one desk connection for a short
 * while, so two terminals do not offer the same time to two callers.
 *
 * Holds live in memory only: they are ephemeral by design (a restart ends
 * them, as a disconnect does), and the store stays the source of truth for
 * appointments. */
#ifndef MF_HOLDS_H
#define MF_HOLDS_H

#include <stdint.h>
#include <sys/queue.h>

#include <msgpack.h>

#include "users.h"

#define HOLD_SECONDS		120
#define HOLDS_PER_CONN_MAX	8

struct hold {
	int64_t			doctor_id;
	int64_t			doctor_user_id;
	int64_t			starts_at;
	int64_t			ends_at;
	int64_t			holder_user_id;
	char			holder_name[NAME_MAX_CHARS * 4 + 1];
	int64_t			expires_at;
	uint64_t		conn_id;	/* the holder's connection; 0 once dropped */
	TAILQ_ENTRY(hold)	entry;
};

/*
 * The live hold on a doctor's time overlapping [from, to) whose connection is
 * not except_conn (0: any), or NULL. Ends expired holds first.
 */
const struct hold *holds_find(int64_t doctor_id, int64_t from, int64_t to,
	    uint64_t except_conn);
/* The connection's own live hold on exactly (doctor_id, starts_at), or NULL. */
struct hold	*holds_mine(uint64_t conn_id, int64_t doctor_id, int64_t starts_at);
/* How many live holds the connection has. */
int		 holds_count(uint64_t conn_id);
/*
 * Holds (or, when the connection already holds it, renews) a slot until
 * now + HOLD_SECONDS; sends appt.held. Returns the hold.
 */
const struct hold *holds_take(uint64_t conn_id, int64_t doctor_id,
	    int64_t doctor_user_id, int64_t starts_at, int64_t ends_at,
	    int64_t holder_user_id, const char *holder_name);
/* Ends a hold and sends appt.released. */
void		 holds_release(struct hold *);
/* The connection went away: its holds end from the loop, soon (safe inside conn_drop). */
void		 holds_conn_dropped(uint64_t conn_id);
/* The connection logged out (it stays open): its holds end now, each
 * announced with appt.released. */
void		 holds_conn_logout(uint64_t conn_id);
/* {doctor_id, starts_at, ends_at, holder_user_id, holder_name, expires_at} */
void		 holds_pack(msgpack_packer *, const struct hold *);
/* Frees every hold and the timer (at shutdown; sends nothing). */
void		 holds_shutdown(void);

#endif
