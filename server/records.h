/* records.h -- medical records (tables records, record_versions).
 *
 * A record is never edited in place: an amendment adds a version, and every
 * version stays readable. */
#ifndef MF_RECORDS_H
#define MF_RECORDS_H

#include <stdint.h>

#include <msgpack.h>

#define RECORD_CODE_MAX_CHARS		8	/* "A00.0000" */
#define RECORD_DIAGNOSIS_MAX_CHARS	500
#define RECORD_TEXT_MAX_CHARS		4000
#define RECORD_REASON_MAX_CHARS		500
#define RECORD_DATE_BYTES		11

enum record_vital {
	VITAL_BP_SYSTOLIC = 0,
	VITAL_BP_DIASTOLIC,
	VITAL_PULSE,
	VITAL_TEMPERATURE_C,
	VITAL_WEIGHT_KG,
	VITAL_HEIGHT_CM,
	VITAL__COUNT
};

struct record_vital_spec {
	const char	*name;
	int		 whole;		/* an integer, not a decimal */
	double		 min, max;
};
extern const struct record_vital_spec record_vitals[VITAL__COUNT];

struct record {
	int64_t		id;
	int64_t		patient_id;
	int64_t		appointment_id;		/* 0: none */
	int64_t		doctor_id;
	int64_t		created_at;
	int		current_version;
	/* This version. */
	int		version;
	int64_t		author_id;
	int64_t		amended_at;		/* when this version was written */
	char		amend_reason[RECORD_REASON_MAX_CHARS * 4 + 1];
	char		diagnosis_code[RECORD_CODE_MAX_CHARS + 1];
	char		diagnosis[RECORD_DIAGNOSIS_MAX_CHARS * 4 + 1];
	char		symptoms[RECORD_TEXT_MAX_CHARS * 4 + 1];
	char		findings[RECORD_TEXT_MAX_CHARS * 4 + 1];
	char		notes[RECORD_TEXT_MAX_CHARS * 4 + 1];
	char		follow_up[RECORD_DATE_BYTES];	/* "" : none */
	int		has_vital[VITAL__COUNT];
	double		vital[VITAL__COUNT];
	/* Joined for display. */
	char		doctor_name[801];
	char		author_name[801];
};

/* NULL when code looks like an ICD-10 code ("J06.9"), else why not. */
const char *record_code_problem(const char *code);

/* Inserts the record and its version 1 (r->version, r->id set); inside the
 * caller's write transaction. 0 or -1. */
int	records_insert(struct record *);
/* Adds the next version of r->id from *r (r->version set); 0 or -1. */
int	records_amend(struct record *);
/* 0 and the version (0: the current one), or -1 when there is none. */
int	records_by_id(int64_t id, int version, struct record *);
/* A patient's records, current versions, newest first; returns how many. */
int64_t	records_list(int64_t patient_id, int64_t limit, int64_t offset,
	    void (*fn)(const struct record *, void *), void *arg, int64_t *total);
/* Every version of a record, oldest first; returns how many. */
int64_t	records_versions(int64_t id, void (*fn)(const struct record *, void *),
	    void *arg);
void	records_pack(msgpack_packer *, const struct record *);

#endif
