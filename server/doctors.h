/* doctors.h -- doctor profiles (table doctors, doctor_specialties). */
#ifndef MF_DOCTORS_H
#define MF_DOCTORS_H

#include <stdint.h>

#include <msgpack.h>

#include "users.h"

#define SPECIALTIES_MAX		8
#define SPECIALTY_MAX_CHARS	60
#define DOCTOR_TEXT_MAX_CHARS	2000

struct doctor {
	int64_t		id;
	int64_t		user_id;
	char		full_name[NAME_MAX_CHARS * 4 + 1];
	char		email[EMAIL_MAX + 1];
	int		active;
	char		specialties[SPECIALTIES_MAX][SPECIALTY_MAX_CHARS * 4 + 1];
	int		nspecialties;
	char		*qualifications;	/* allocated */
	char		*bio;			/* allocated */
	char		room[64 * 4 + 1];
	int		consult_minutes;
	int64_t		created_at;
	int64_t		updated_at;
};

/* What a booking shows of its doctor, without the rest of the profile. */
struct doctor_brief {
	int64_t		id;
	int64_t		user_id;
	char		full_name[NAME_MAX_CHARS * 4 + 1];
	int		active;
};

/* 0 and the profile (free with doctors_clear), or -1 when none. */
int	doctors_by_id(int64_t, struct doctor *);
/* 0 and the doctor's brief (nothing to free), or -1 when none. */
int	doctors_brief_by_id(int64_t, struct doctor_brief *);
/* The doctor id of a user; 0 and *id, or -1 when the user is no doctor. */
int	doctors_id_for_user(int64_t user_id, int64_t *doctor_id);
/* Creates the profile of a doctor user if it has none; returns its id or -1. */
int64_t	doctors_ensure(int64_t user_id, int64_t now);
/* Writes profile fields and the specialties; 0 or -1. */
int	doctors_save(const struct doctor *);
void	doctors_pack(msgpack_packer *, const struct doctor *);
/* Frees the allocated fields; the ids and names stay readable. */
void	doctors_clear(struct doctor *);
/* The user id behind a doctor id (for pushes); 0 when unknown. */
int64_t	doctors_user_id(int64_t doctor_id);
/* Whether a doctor's login is active (1) or not (0), without the profile;
 * -1 when there is no such doctor. */
int	doctors_active(int64_t doctor_id);

/* Active doctors, by name; name_pattern is a LIKE pattern (escaped with \\). */
int64_t	doctors_list(const char *specialty, const char *name_pattern, int64_t limit,
	    int64_t offset, void (*fn)(const struct doctor *, void *), void *arg,
	    int64_t *total);

#endif
