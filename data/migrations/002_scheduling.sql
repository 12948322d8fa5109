-- 002: doctors, availability, patients, appointments.

-- A doctor's profile; one per user with role doctor.
CREATE TABLE doctors (
	id		INTEGER PRIMARY KEY,
	user_id		INTEGER NOT NULL UNIQUE REFERENCES users (id),
	qualifications	TEXT NOT NULL DEFAULT '',
	bio		TEXT NOT NULL DEFAULT '',
	room		TEXT NOT NULL DEFAULT '',
	consult_minutes	INTEGER NOT NULL DEFAULT 20 CHECK (consult_minutes BETWEEN 5 AND 240),
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL
);

CREATE TABLE doctor_specialties (
	doctor_id	INTEGER NOT NULL REFERENCES doctors (id),
	specialty	TEXT NOT NULL COLLATE NOCASE,
	PRIMARY KEY (doctor_id, specialty)
) WITHOUT ROWID;
CREATE INDEX doctor_specialties_by_name ON doctor_specialties (specialty, doctor_id);

-- The weekly template: sessions (several a day allowed) and breaks, in
-- minutes from local midnight; weekday 1 = Monday .. 7 = Sunday (ISO).
CREATE TABLE availability (
	id		INTEGER PRIMARY KEY,
	doctor_id	INTEGER NOT NULL REFERENCES doctors (id),
	weekday		INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
	start_min	INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
	end_min		INTEGER NOT NULL CHECK (end_min BETWEEN 1 AND 1440 AND end_min > start_min),
	slot_minutes	INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240)
);
CREATE INDEX availability_by_doctor ON availability (doctor_id, weekday);

CREATE TABLE availability_breaks (
	id		INTEGER PRIMARY KEY,
	doctor_id	INTEGER NOT NULL REFERENCES doctors (id),
	weekday		INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
	start_min	INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
	end_min		INTEGER NOT NULL CHECK (end_min BETWEEN 1 AND 1440 AND end_min > start_min)
);
CREATE INDEX availability_breaks_by_doctor ON availability_breaks (doctor_id, weekday);

-- Exceptions for one local date: leave (a doctor away, all day or part),
-- holiday (the whole clinic: doctor_id NULL), extra (an added session).
CREATE TABLE availability_exceptions (
	id		INTEGER PRIMARY KEY,
	doctor_id	INTEGER REFERENCES doctors (id),
	date		TEXT NOT NULL,
	kind		TEXT NOT NULL CHECK (kind IN ('leave', 'holiday', 'extra')),
	start_min	INTEGER,
	end_min		INTEGER,
	slot_minutes	INTEGER,
	reason		TEXT NOT NULL DEFAULT '',
	created_by	INTEGER,
	created_at	INTEGER NOT NULL,
	CHECK ((kind = 'holiday') = (doctor_id IS NULL)),
	CHECK ((start_min IS NULL) = (end_min IS NULL)),
	CHECK (kind != 'extra' OR (start_min IS NOT NULL AND slot_minutes IS NOT NULL))
);
CREATE INDEX availability_exceptions_by_date ON availability_exceptions (date, doctor_id);
CREATE INDEX availability_exceptions_by_doctor ON availability_exceptions (doctor_id, date);

-- A patient is a record; it may have a login (user_id) or not (registered
-- at the desk, claimed later by signing up with the same e-mail).
CREATE TABLE patients (
	id			INTEGER PRIMARY KEY,
	user_id			INTEGER UNIQUE REFERENCES users (id),
	full_name		TEXT NOT NULL,
	date_of_birth		TEXT,
	phone			TEXT,
	phone_digits		TEXT,
	email			TEXT,
	address			TEXT,
	emergency_contact	TEXT,
	created_at		INTEGER NOT NULL,
	updated_at		INTEGER NOT NULL
);
CREATE INDEX patients_by_phone ON patients (phone_digits);
CREATE INDEX patients_by_dob ON patients (date_of_birth);
CREATE INDEX patients_by_email ON patients (email);
-- Search results come in name order; broad searches walk this index.
CREATE INDEX patients_by_name ON patients (full_name COLLATE NOCASE);

-- Lower-cased words of each patient's name, for prefix search on any word.
CREATE TABLE patient_name_words (
	word		TEXT NOT NULL,
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	PRIMARY KEY (word, patient_id)
) WITHOUT ROWID;
CREATE INDEX patient_name_words_by_patient ON patient_name_words (patient_id);

CREATE TABLE appointments (
	id		INTEGER PRIMARY KEY,
	doctor_id	INTEGER NOT NULL REFERENCES doctors (id),
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	starts_at	INTEGER NOT NULL,
	ends_at		INTEGER NOT NULL CHECK (ends_at > starts_at),
	status		TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected',
			    'cancelled', 'checked_in', 'in_progress', 'completed', 'no_show',
			    'rescheduled')),
	reason		TEXT NOT NULL DEFAULT '',
	status_note	TEXT,
	created_by	INTEGER,
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL,
	checked_in_at	INTEGER,
	checked_in_by	INTEGER,
	started_at	INTEGER,
	completed_at	INTEGER,
	rescheduled_from INTEGER REFERENCES appointments (id),
	rescheduled_to	INTEGER REFERENCES appointments (id)
);
-- The store itself refuses a second active booking at a doctor's start time;
-- overlaps of different lengths are refused inside the booking transaction.
CREATE UNIQUE INDEX appointments_active_slot ON appointments (doctor_id, starts_at)
	WHERE status IN ('requested', 'approved', 'checked_in', 'in_progress');
CREATE INDEX appointments_by_doctor ON appointments (doctor_id, starts_at);
CREATE INDEX appointments_by_patient ON appointments (patient_id, starts_at);
CREATE INDEX appointments_by_time ON appointments (starts_at);

-- Every status change: who, when, why.
CREATE TABLE appointment_events (
	id		INTEGER PRIMARY KEY,
	appointment_id	INTEGER NOT NULL REFERENCES appointments (id),
	ts		INTEGER NOT NULL,
	actor_id	INTEGER,
	from_status	TEXT,
	to_status	TEXT NOT NULL,
	note		TEXT
);
CREATE INDEX appointment_events_by_appointment ON appointment_events (appointment_id, id);
