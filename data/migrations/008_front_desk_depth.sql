-- 008_front_desk_depth.sql -- appointment types, daily caps and overbooks,
-- recurring series, the wait list and the recall list.

-- Kinds of visit with their own length and board colour, edited by admins;
-- retired types stay (old appointments name them) but take no new bookings.
CREATE TABLE appointment_types (
	id		INTEGER PRIMARY KEY,
	name		TEXT NOT NULL UNIQUE COLLATE NOCASE
			    CHECK (length(name) BETWEEN 1 AND 100),
	minutes		INTEGER NOT NULL CHECK (minutes BETWEEN 5 AND 240),
	colour		TEXT NOT NULL CHECK (length(colour) = 7),
	active		INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL
);

ALTER TABLE appointments ADD COLUMN type_id INTEGER REFERENCES appointment_types (id);
-- Booked by staff beyond the doctor's daily cap.
ALTER TABLE appointments ADD COLUMN overbook INTEGER NOT NULL DEFAULT 0;
-- The first appointment of a recurring series names it; NULL: no series.
ALTER TABLE appointments ADD COLUMN series_id INTEGER;
CREATE INDEX appointments_by_series ON appointments (series_id) WHERE series_id IS NOT NULL;

-- At most daily_cap appointments a clinic day, plus up to overbooks more
-- booked by staff. No row: no cap.
CREATE TABLE doctor_caps (
	doctor_id	INTEGER PRIMARY KEY REFERENCES doctors (id),
	daily_cap	INTEGER NOT NULL CHECK (daily_cap BETWEEN 1 AND 1000),
	overbooks	INTEGER NOT NULL DEFAULT 0 CHECK (overbooks BETWEEN 0 AND 100),
	updated_at	INTEGER NOT NULL
);

-- Patients waiting for a time with a doctor within [earliest, latest); the
-- first waiting entry whose window holds a freed slot is offered it.
CREATE TABLE waitlist (
	id			INTEGER PRIMARY KEY,
	doctor_id		INTEGER NOT NULL REFERENCES doctors (id),
	patient_id		INTEGER NOT NULL REFERENCES patients (id),
	earliest		INTEGER NOT NULL,
	latest			INTEGER NOT NULL CHECK (latest > earliest),
	note			TEXT NOT NULL DEFAULT '',
	status			TEXT NOT NULL DEFAULT 'waiting'
				    CHECK (status IN ('waiting', 'offered', 'left')),
	created_by		INTEGER,
	created_at		INTEGER NOT NULL,
	offered_at		INTEGER,
	offered_starts_at	INTEGER,
	offered_ends_at		INTEGER,
	left_at			INTEGER
);
CREATE INDEX waitlist_by_doctor ON waitlist (doctor_id, status, id);
CREATE INDEX waitlist_by_patient ON waitlist (patient_id, id);

-- Patients due back by a date, so the desk can call them in.
CREATE TABLE recalls (
	id		INTEGER PRIMARY KEY,
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	doctor_id	INTEGER REFERENCES doctors (id),
	due_by		TEXT NOT NULL,
	reason		TEXT NOT NULL,
	created_by	INTEGER,
	created_at	INTEGER NOT NULL,
	done_at		INTEGER,
	done_by		INTEGER
);
CREATE INDEX recalls_due ON recalls (due_by) WHERE done_at IS NULL;
CREATE INDEX recalls_by_patient ON recalls (patient_id);
