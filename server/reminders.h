/* reminders.h -- appointment reminders and the outbox (tables reminders,
 * reminder_prefs): planning in the appointment's own transaction, one timer
 * for the next due row, delivery by e-mail and SMS on the event loop.
 *
 * A row's state: pending -> sending (persisted before the transfer starts)
 * -> sent | retry (due again after an exponential backoff) | failed (after
 * REMINDER_ATTEMPTS_MAX, or a permanent refusal; admins are told); skipped
 * when it can no longer help (the appointment began or changed, the patient
 * has no address for the channel, the channel is off). A sent row is never
 * sent again. Rows found in `sending` at start-up (the process died during
 * a transfer) go back to retry: at least once, never silently lost. */
#ifndef MF_REMINDERS_H
#define MF_REMINDERS_H

#include <stdint.h>

#include <msgpack.h>

struct appt;
struct event_base;

#define REMINDER_OFFSETS_MAX	4
#define REMINDER_ATTEMPTS_MAX	5
#define REMINDER_BACKOFF_BASE	60	/* seconds before the 2nd attempt; doubles */
#define REMINDER_BACKOFF_MAX	3600
#define REMINDER_MANUAL_INTERVAL 600	/* one manual reminder per appointment per 10 min */

/* Channel sets (reminder_prefs.channels). */
#define RCH_NONE	0
#define RCH_EMAIL	1
#define RCH_SMS		2
#define RCH_BOTH	(RCH_EMAIL | RCH_SMS)

/* Checks the settings, starts libcurl on the loop, resolves rows a crash
 * left in `sending`, arms the timer. 0, or -1 with an allocated *cause. */
int	 reminders_start(struct event_base *, char **cause);
/* Aborts transfers in flight (their rows go back to retry) and stops. */
void	 reminders_stop(void);

/*
 * In the caller's write transaction, after an appointment was created or
 * changed status: an approved appointment gets its reminders (and a booking
 * confirmation e-mail) planned; any other status drops those not yet sent.
 * 0, or -1 on a store error (the caller rolls back).
 */
int	 reminders_appt_changed(const struct appt *, int64_t now);
/* The clock moved (test.clock): re-arm the timer from clock_now(). */
void	 reminders_clock_moved(void);

/* "email" "sms" "both" "none" <-> RCH_*; -1 for an unknown name. */
int		 reminder_channels_from_name(const char *);
const char	*reminder_channels_name(int);
/* The patient's choice (RCH_BOTH when never set); *explicit says if set. */
int	 reminders_prefs_get(int64_t patient_id, int *explicit_choice);
/* Stores the choice and re-plans the patient's pending reminders; in the
 * caller's write transaction. 0 or -1. */
int	 reminders_prefs_set(int64_t patient_id, int channels, int64_t now);
/* Which channels can reach the patient now (configured, with an address). */
int	 reminders_reachable(int64_t patient_id, const char **why_not);

/*
 * Queues a manual reminder on every channel the patient chose and can be
 * reached on; in the caller's write transaction. Calls fn per row queued.
 * Returns how many rows (0: no channel), or -1 on a store error.
 */
int	 reminders_manual(const struct appt *, int64_t user_id, int64_t now,
	     void (*fn)(int64_t id, const char *channel, int64_t due_at, void *),
	     void *arg);
/* When the last manual reminder of an appointment was queued, or 0. */
int64_t	 reminders_last_manual(int64_t appointment_id);

/* Outbox filters: which states. */
enum outbox_filter {
	OUTBOX_ALL = 0,
	OUTBOX_PENDING,		/* pending, sending, retry */
	OUTBOX_SENT,
	OUTBOX_FAILED,
	OUTBOX_SKIPPED,
};
/*
 * How deep the outbox counts and pages: a clinic's outbox keeps a row for
 * every message ever planned (tens of millions at the bench's scale), and
 * counting or paging through them all held the loop for seconds. The
 * newest OUTBOX_REACH matching rows are reachable; past them, the count
 * stops and says so.
 */
#define OUTBOX_REACH	10000
/* Packs matching rows (newest first; those of the newest OUTBOX_REACH from
 * offset on, at most limit) into pk as an array of maps; returns how many.
 * *total is the count of matching rows up to OUTBOX_REACH, *capped 1 when
 * there are more. */
int64_t	 reminders_outbox(enum outbox_filter, int64_t appointment_id,
	     int64_t limit, int64_t offset, msgpack_packer *pk, int64_t *total,
	     int *capped);
/* Packs one row as a map; -1 when there is none. */
int	 reminders_pack_one(int64_t id, msgpack_packer *pk);
/*
 * Sends a failed, skipped or retrying row again now, with a fresh round of
 * attempts; in the caller's transaction. 0, -1 when there is no such row,
 * -2 when its state does not allow it (*state says which), -3 on a store error.
 */
int	 reminders_retry(int64_t id, int64_t now, int64_t *appointment_id,
	     const char **state);

/* --- pure helpers (exposed for the unit tests) --- */

/*
 * Parses "24h,1h" into offsets (seconds, descending) and labels ("24h",
 * "1h"; canonical: "1d" -> "24h", "90m" -> "90m"). Returns how many, or -1.
 */
int	 reminder_offsets_parse(const char *, int64_t *offsets,
	     char labels[][16], int max);
/* Backoff before attempt n+1 after n failed attempts. */
int64_t	 reminder_backoff(int attempts);

#endif
