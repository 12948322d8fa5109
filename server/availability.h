/* availability.h -- doctors' weekly hours, breaks and dated exceptions
 * (tables availability, availability_breaks, availability_exceptions), and
 * the free slots they leave. */
#ifndef MF_AVAILABILITY_H
#define MF_AVAILABILITY_H

#include <stdint.h>

#include "clinic-time.h"

#define AVAIL_MAX		64	/* sessions or breaks in a week / a day */
#define SLOTS_MAX		1024
#define EXCEPTION_REASON_MAX	300

struct avail_session {
	int	weekday;	/* 1..7; unused in a day's list */
	int	start_min;
	int	end_min;
	int	slot_minutes;	/* 0 for a break */
};

struct avail_template {
	struct avail_session	sessions[AVAIL_MAX];
	int			nsessions;
	struct avail_session	breaks[AVAIL_MAX];
	int			nbreaks;
};

enum exception_kind { EXC_LEAVE = 0, EXC_HOLIDAY, EXC_EXTRA };

struct avail_exception {
	int64_t			id;
	int64_t			doctor_id;	/* 0 for a clinic holiday */
	char			date[11];
	enum exception_kind	kind;
	int			start_min;	/* -1: the whole day */
	int			end_min;
	int			slot_minutes;
	char			reason[EXCEPTION_REASON_MAX * 4 + 1];
	int64_t			created_by;
	int64_t			created_at;
};

struct slot {
	int64_t	starts_at;
	int64_t	ends_at;
};

const char *exception_kind_name(enum exception_kind);

void	availability_template(int64_t doctor_id, struct avail_template *);
/* Replaces the whole weekly template in the caller's transaction; 0 or -1. */
int	availability_replace(int64_t doctor_id, const struct avail_template *);
/*
 * Checks a template: sessions within a day, end after start, no two sessions
 * of a weekday overlapping, slot lengths 5..240 min. NULL or a static reason.
 */
const char *availability_template_error(const struct avail_template *);

/* Exceptions of a doctor (and clinic holidays) with dates in [from, to]. */
int	availability_exceptions(int64_t doctor_id, const char *from, const char *to,
	    void (*fn)(const struct avail_exception *, void *), void *arg);
int	availability_add_exception(struct avail_exception *);
int	availability_exception_by_id(int64_t, struct avail_exception *);
int	availability_remove_exception(int64_t);

/* The free slots of a doctor on a local date, after now; returns how many. */
int	availability_slots(int64_t doctor_id, const struct civil_date *,
	    int64_t now, struct slot *out, int max);
/* The same for visits minutes long (0: the session's slot length): slot
 * starts on the sessions' grid where that long a visit fits, free. */
int	availability_slots_len(int64_t doctor_id, const struct civil_date *,
	    int64_t now, int minutes, struct slot *out, int max);
/*
 * Whether [starts_at, starts_at + slot) lies within the doctor's hours on its
 * local date, outside breaks and leave. With exact, starts_at must also be
 * the start of one of the day's slots. 0 and *ends_at, or -1.
 */
int	availability_check(int64_t doctor_id, int64_t starts_at, int exact,
	    int64_t *ends_at);
/* The same for a visit minutes long (0: the session's slot length). */
int	availability_check_len(int64_t doctor_id, int64_t starts_at, int exact,
	    int minutes, int64_t *ends_at);

#endif
