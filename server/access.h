/* access.h -- who may see and write a patient's clinical data (table
 * break_glass), decided in this one place.
 *
 * A patient: only their own chart. A doctor: patients they have or had an
 * appointment with, anyone else through break-the-glass. A receptionist:
 * never. An admin: only through break-the-glass. Every decision, allowed or
 * refused, leaves an audit row. */
#ifndef MF_ACCESS_H
#define MF_ACCESS_H

#include <stdint.h>

#include <msgpack.h>

#define BREAK_GLASS_REASON_MIN_CHARS	10
#define BREAK_GLASS_REASON_MAX_CHARS	500

struct req;

/*
 * 0 when the caller may touch patient_id's clinical data, with an audit row
 * of action `what` (e.g. "records.get") naming target and how access was
 * granted; else -1 with the request failed and an "access.denied" row:
 * forbidden, with the same message whether the patient is someone else's
 * or does not exist.
 */
int	access_clinical(struct req *, int64_t patient_id, const char *what,
	    const char *target);
/*
 * The answer for a clinical object (record, prescription, file) whose id
 * names nothing: the same forbidden, with the same message, that a chart
 * the caller may not open gets, so ids reveal nothing. Always -1.
 */
int	access_clinical_missing(struct req *, const char *what,
	    const char *target);
/* The patient id of a patient caller, or 0. */
int64_t	access_own_patient(struct req *);
/*
 * For ops whose patient_id a patient may leave out: without has_patient,
 * *patient_id becomes the patient caller's own; 0, or -1 with bad_request
 * ("<missing>: required") for other roles, or not_found for a patient
 * account without a record.
 */
int	access_patient_or_own(struct req *, int has_patient, int64_t *patient_id,
	    const char *missing);
/* The doctor profile id of a doctor caller, or 0. */
int64_t	access_own_doctor(struct req *);
/* 1 if the user holds an unexpired break-the-glass grant for the patient. */
int	access_break_glass_active(int64_t user_id, int64_t patient_id, int64_t now);
/* Records a grant; returns its id (and *expires_at) or -1. */
int64_t	access_break_glass_insert(int64_t user_id, int64_t patient_id,
	    const char *reason, const char *addr, int64_t now, int64_t *expires_at);
/* Packs grants, newest first, as an array; patient_id 0: all. */
void	access_break_glass_pack(msgpack_packer *, int64_t patient_id,
	    int active_only, int64_t now, int64_t limit, int64_t offset);

#endif
