/* appointments.h -- appointments and their status workflow (tables
 * appointments, appointment_events). */
#ifndef MF_APPOINTMENTS_H
#define MF_APPOINTMENTS_H

#include <stdint.h>

#include <msgpack.h>

enum appt_status {
	APPT_REQUESTED = 0,
	APPT_APPROVED,
	APPT_REJECTED,
	APPT_CANCELLED,
	APPT_CHECKED_IN,
	APPT_IN_PROGRESS,
	APPT_COMPLETED,
	APPT_NO_SHOW,
	APPT_RESCHEDULED,
	APPT__COUNT
};

#define APPT_REASON_MAX_CHARS	500
#define APPT_NOTE_MAX_CHARS	500
#define APPT_TYPE_NAME_MAX_CHARS	100

struct appt {
	int64_t			id;
	int64_t			doctor_id;
	int64_t			patient_id;
	int64_t			starts_at;
	int64_t			ends_at;
	enum appt_status	status;
	char			reason[APPT_REASON_MAX_CHARS * 4 + 1];
	char			status_note[APPT_NOTE_MAX_CHARS * 4 + 1];
	int64_t			created_by;
	int64_t			created_at;
	int64_t			updated_at;
	int64_t			checked_in_at;
	int64_t			checked_in_by;
	int64_t			started_at;
	int64_t			completed_at;
	int64_t			rescheduled_from;
	int64_t			rescheduled_to;
	/* Joined for display and for pushes. */
	char			doctor_name[801];
	char			patient_name[801];
	int64_t			doctor_user_id;
	int64_t			patient_user_id;
	int64_t			patient_no_shows;	/* the patient's no-shows, all doctors */
	/* Front-desk depth (migration 008). */
	int64_t			type_id;	/* 0: none */
	char			type_name[APPT_TYPE_NAME_MAX_CHARS * 4 + 1];
	char			colour[8];	/* "#rrggbb" of the type, or "" */
	int			overbook;	/* booked beyond the daily cap */
	int64_t			series_id;	/* 0: not recurring */
};

const char	*appt_status_name(enum appt_status);
/* -1 when the name is no status. */
int		 appt_status_from_name(const char *);
/* 1 if the status holds its time slot. */
int		 appt_status_active(enum appt_status);
/*
 * The same in SQL, word for word the WHERE of the partial indexes
 * appointments_active_slot and appointments_active_span (migrations 014,
 * 015): SQLite uses a partial index only for a query whose WHERE shows it
 * applies. Equalities, not IN: SQLite 3.40 builds a temporary b-tree for an
 * IN list of more than two constants each time a statement runs.
 */
#define APPT_ACTIVE_SQL	"(status = 'requested' OR status = 'approved' OR " \
	"status = 'checked_in' OR status = 'in_progress')"
/* The one table of allowed transitions. */
int		 appt_transition_allowed(enum appt_status from, enum appt_status to);

int	 appt_by_id(int64_t, struct appt *);
/*
 * Inserts a new appointment after checking, in the caller's write
 * transaction, that neither the doctor nor the patient has an active
 * appointment overlapping it. Returns 0 (a->id set), -1 on a conflict with
 * *conflict_id naming the other appointment, -2 on a store error.
 */
int	 appt_insert(struct appt *, int64_t *conflict_id);
/*
 * Moves an appointment to a new status, checked against the transition
 * table, and records who, when and why. Returns 0, -1 when the transition is
 * not allowed, -2 on a store error. Updates *a.
 */
int	 appt_set_status(struct appt *, enum appt_status to, int64_t actor_id,
	     const char *note, int64_t now);
/* Puts an appointment in a recurring series; 0 or -1. */
int	 appt_set_series(int64_t id, int64_t series_id);
/* Writes the time-stamp columns of *a back (check-in, start, completion, links). */
int	 appt_save_times(const struct appt *);
void	 appt_pack(msgpack_packer *, const struct appt *);

struct appt_filter {
	int64_t		doctor_id;	/* 0: any */
	int64_t		patient_id;	/* 0: any */
	int64_t		from, to;	/* starts_at in [from, to) */
	int		status;		/* -1: any */
	int64_t		limit, offset;
};
/* Calls fn for each appointment matching, by start time; returns how many. */
int64_t	 appt_list(const struct appt_filter *,
	     void (*fn)(const struct appt *, void *), void *arg);
/* The same list packed into *sb, each appointment as appt_pack packs it;
 * returns how many. */
int64_t	 appt_list_pack(const struct appt_filter *, msgpack_sbuffer *);

struct appt_event {
	int64_t		 id, ts, actor_id;
	const char	*actor_name, *from_status, *to_status, *note;
};
int64_t	 appt_events(int64_t appt_id,
	     void (*fn)(const struct appt_event *, void *), void *arg);

struct appt_stats {
	int64_t		total;
	int64_t		by_status[APPT__COUNT];
	double		avg_wait;	/* seconds from check-in to start */
	int64_t		waits;		/* appointments that had both */
};
/* Counts for appointments starting in [from, to). */
void	 appt_stats(int64_t from, int64_t to, struct appt_stats *,
	     void (*per_doctor)(int64_t doctor_id, const char *name,
	     const char *status, int64_t count, void *),
	     void (*per_day)(int64_t starts_at, void *), void *arg);

/* Calls fn for each active appointment of a doctor overlapping [from, to). */
void	 appt_busy(int64_t doctor_id, int64_t from, int64_t to,
	     void (*fn)(int64_t starts_at, int64_t ends_at, void *), void *arg);
/*
 * Appointments of a doctor starting in [from, to) that take or took up the
 * doctor's day (not rejected, cancelled or rescheduled), and how many of them
 * are overbooks.
 */
void	 appt_day_load(int64_t doctor_id, int64_t from, int64_t to,
	     int64_t *total, int64_t *overbooks);
/* The patient's no-shows with any doctor. */
int64_t	 appt_no_show_count(int64_t patient_id);
/* 1 if that many no-shows flag a patient (config no_show_flag_threshold). */
int	 appt_no_show_flagged(int64_t no_shows);
/* 1 if the doctor has, or had, an appointment with the patient. */
int	 appt_doctor_has_patient(int64_t doctor_id, int64_t patient_id);

#endif
