/* prescriptions.h -- prescriptions and their items (tables prescriptions,
 * prescription_items). */
#ifndef MF_PRESCRIPTIONS_H
#define MF_PRESCRIPTIONS_H

#include <stdint.h>

#include <msgpack.h>

#define RX_ITEMS_MAX		20
#define RX_DRUG_MAX_CHARS	200
#define RX_SHORT_MAX_CHARS	50	/* strength, dose, frequency */
#define RX_INSTRUCTIONS_MAX_CHARS 500
#define RX_NOTES_MAX_CHARS	1000
#define RX_REASON_MAX_CHARS	500
#define RX_DURATION_MAX_DAYS	365
#define RX_QUANTITY_MAX		10000
#define RX_REFILLS_MAX		12

extern const char *const rx_forms[];	/* NULL-terminated */
extern const char *const rx_routes[];	/* NULL-terminated */

struct rx_item {
	char	drug[RX_DRUG_MAX_CHARS * 4 + 1];
	char	strength[RX_SHORT_MAX_CHARS * 4 + 1];
	int	form;		/* index in rx_forms */
	char	dose[RX_SHORT_MAX_CHARS * 4 + 1];
	int	route;		/* index in rx_routes */
	char	frequency[RX_SHORT_MAX_CHARS * 4 + 1];
	int	duration_days;
	int	quantity;
	int	refills;
	char	instructions[RX_INSTRUCTIONS_MAX_CHARS * 4 + 1];
};

struct rx {
	int64_t		id;
	int64_t		patient_id;
	int64_t		doctor_id;
	int64_t		appointment_id;		/* 0: none */
	int		cancelled;
	char		notes[RX_NOTES_MAX_CHARS * 4 + 1];
	int64_t		created_by;
	int64_t		created_at;
	int64_t		ends_at;
	int64_t		cancelled_at;
	int64_t		cancelled_by;
	char		cancel_reason[RX_REASON_MAX_CHARS * 4 + 1];
	int64_t		renewed_from;		/* 0: none */
	int		nitems;
	struct rx_item	items[RX_ITEMS_MAX];
	/* Joined for display. */
	char		doctor_name[801];
	char		patient_name[801];
	char		patient_dob[11];
};

/* "active", "completed" (ran its course) or "cancelled" at now. */
const char *rx_status(const struct rx *, int64_t now);
/* The end of the longest item's course, refills included. */
int64_t	rx_course_end(const struct rx *);

/* Inserts rx and its items (rx->id set) in the caller's transaction; 0 or -1. */
int	rx_insert(struct rx *);
/* Marks an active prescription cancelled; 0, or -1 when it was not active. */
int	rx_cancel(struct rx *, int64_t actor_id, const char *reason, int64_t now);
/* 0 and the prescription with its items, or -1. */
int	rx_by_id(int64_t, struct rx *);
/* A patient's prescriptions, newest first; returns how many, *total all. */
int64_t	rx_list(int64_t patient_id, int64_t limit, int64_t offset,
	    void (*fn)(const struct rx *, void *), void *arg, int64_t *total);
void	rx_pack(msgpack_packer *, const struct rx *, int64_t now);
/* The plain-text print layout (allocated; the caller frees). */
char	*rx_print_text(const struct rx *, int64_t now);

#endif
