/* front-desk.h -- appointment types, doctors' daily caps, the wait list and
 * the recall list (tables appointment_types, doctor_caps, waitlist, recalls;
 * migration 008). */
#ifndef MF_FRONT_DESK_H
#define MF_FRONT_DESK_H

#include <stdint.h>

#include <msgpack.h>

#include "appointments.h"

/* --- appointment types --- */

#define APPT_TYPES_MAX		100
#define APPT_TYPE_MINUTES_MIN	5
#define APPT_TYPE_MINUTES_MAX	240

struct appt_type {
	int64_t	id;
	char	name[APPT_TYPE_NAME_MAX_CHARS * 4 + 1];
	int	minutes;
	char	colour[8];	/* "#rrggbb", lower case */
	int	active;
	int64_t	created_at;
	int64_t	updated_at;
};

int	 appt_types_by_id(int64_t, struct appt_type *);
/* 1 if another type (not except_id) has this name, case-insensitively. */
int	 appt_types_name_taken(const char *name, int64_t except_id);
/* Calls fn for each type (active ones only unless all), by name; how many. */
int	 appt_types_list(int all, void (*fn)(const struct appt_type *, void *),
	     void *arg);
int	 appt_types_count(void);
/* Inserts (t->id set) or updates by t->id; 0 or -1. */
int	 appt_types_insert(struct appt_type *);
int	 appt_types_update(const struct appt_type *);
void	 appt_types_pack(msgpack_packer *, const struct appt_type *);
/* "#rrggbb" (any case) into lower case out[8]; 0, or -1 when malformed. */
int	 appt_colour_normalize(const char *in, char out[8]);

/* --- daily caps --- */

struct doctor_cap {
	int64_t	doctor_id;
	int	daily_cap;	/* 0: no cap */
	int	overbooks;
	int64_t	updated_at;
};

/* The doctor's cap; daily_cap 0 when none is set. */
void	 doctor_cap_get(int64_t doctor_id, struct doctor_cap *);
/* Sets (daily_cap > 0) or removes (0) the cap; 0 or -1. */
int	 doctor_cap_set(const struct doctor_cap *);

/* --- the wait list --- */

#define WAITLIST_NOTE_MAX_CHARS	500
#define WAITLIST_LIST_MAX	500

enum waitlist_status { WL_WAITING = 0, WL_OFFERED, WL_LEFT, WL_BOOKED };

struct waitlist_entry {
	int64_t			id;
	int64_t			doctor_id;
	int64_t			patient_id;
	int64_t			earliest, latest;
	char			note[WAITLIST_NOTE_MAX_CHARS * 4 + 1];
	enum waitlist_status	status;
	int64_t			created_by, created_at;
	int64_t			offered_at, offered_starts_at, offered_ends_at;
	int64_t			left_at;
	int64_t			booked_at;
	int64_t			appointment_id;	/* WL_BOOKED: the booking */
	/* Joined for display and pushes. */
	char			doctor_name[801];
	char			patient_name[801];
	char			patient_phone[81];
	int64_t			doctor_user_id;
	int64_t			patient_user_id;
	int64_t			patient_no_shows;
};

const char *waitlist_status_name(enum waitlist_status);
int	 waitlist_by_id(int64_t, struct waitlist_entry *);
/* The patient's waiting or offered entry with the doctor; 0 or -1. */
int	 waitlist_find_open(int64_t doctor_id, int64_t patient_id,
	     struct waitlist_entry *);
int	 waitlist_insert(struct waitlist_entry *);
/* Closes an open (waiting or offered) entry as left; 0, or -1 when it was
 * not open or on a store error. */
int	 waitlist_leave(int64_t id, int64_t now);
/*
 * a was just booked or approved (approved or checked in; a request does
 * nothing until approved), in the caller's write transaction: its
 * patient's open entry on the wait list of a's doctor whose window holds
 * a's time, or that was offered exactly that time, is closed as booked and
 * names a, in the same transaction, so the wait list offers no more times
 * to someone already booked. 0 (whether or not an entry was closed), or -1
 * on a store error.
 */
int	 waitlist_fulfil(const struct appt *a, int64_t now);
/*
 * Entries by doctor (0: any) and patient (0: any), open ones (waiting or
 * offered) unless all, oldest first; how many.
 */
int	 waitlist_list(int64_t doctor_id, int64_t patient_id, int all,
	     void (*fn)(const struct waitlist_entry *, void *), void *arg);
/*
 * A doctor's time [starts_at, ends_at) came free: the first waiting entry
 * (oldest; an offered one whose offered time has passed waits again) of
 * another patient than except_patient whose window holds it is
 * marked offered, and its patient (if they have a login) gets a
 * waitlist.offer notification, in the caller's write transaction. Returns
 * the entry's id, 0 when nobody matched, -1 on a store error.
 */
int64_t	 waitlist_offer_freed(int64_t doctor_id, int64_t starts_at, int64_t ends_at,
	     int64_t except_patient, int64_t now);
/* After the COMMIT: the waitlist.offer event to the desks and the doctor. */
void	 waitlist_push_offer(int64_t id);
void	 waitlist_pack(msgpack_packer *, const struct waitlist_entry *);

/* --- the recall list --- */

#define RECALL_REASON_MAX_CHARS	500
#define RECALL_LIST_MAX		500

struct recall {
	int64_t	id;
	int64_t	patient_id;
	int64_t	doctor_id;	/* 0: any doctor */
	char	due_by[11];
	char	reason[RECALL_REASON_MAX_CHARS * 4 + 1];
	int64_t	created_by, created_at;
	int64_t	done_at, done_by;
	/* Joined. */
	char	patient_name[801];
	char	patient_phone[81];
	char	doctor_name[801];
	int64_t	patient_no_shows;
};

int	 recall_by_id(int64_t, struct recall *);
int	 recall_insert(struct recall *);
/* Marks one done; 0, or -1 when it already was or on a store error. */
int	 recall_done(int64_t id, int64_t by, int64_t now);
/* Open recalls due on or before date (YYYY-MM-DD), soonest first; how many. */
int	 recall_due(const char *before, int limit,
	     void (*fn)(const struct recall *, void *), void *arg);
void	 recall_pack(msgpack_packer *, const struct recall *);

#endif
