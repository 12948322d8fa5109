-- 006: clinical data: break-the-glass grants, medical records and their versions.

-- A staff member's audited, time-limited opening of one patient's chart.
CREATE TABLE break_glass (
	id		INTEGER PRIMARY KEY,
	user_id		INTEGER NOT NULL REFERENCES users (id),
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	reason		TEXT NOT NULL,
	addr		TEXT NOT NULL DEFAULT '',
	created_at	INTEGER NOT NULL,
	expires_at	INTEGER NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX break_glass_by_user ON break_glass (user_id, patient_id, expires_at);
CREATE INDEX break_glass_by_time ON break_glass (created_at);

-- A record is never edited: each amendment adds a version; the newest is current.
CREATE TABLE records (
	id		INTEGER PRIMARY KEY,
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	appointment_id	INTEGER REFERENCES appointments (id),
	doctor_id	INTEGER NOT NULL REFERENCES doctors (id),
	created_at	INTEGER NOT NULL,
	version		INTEGER NOT NULL DEFAULT 1	-- the current version
);
CREATE INDEX records_by_patient ON records (patient_id, created_at);

CREATE TABLE record_versions (
	record_id	INTEGER NOT NULL REFERENCES records (id),
	version		INTEGER NOT NULL CHECK (version >= 1),
	author_id	INTEGER NOT NULL REFERENCES users (id),
	created_at	INTEGER NOT NULL,
	amend_reason	TEXT NOT NULL DEFAULT '',
	diagnosis_code	TEXT NOT NULL DEFAULT '',
	diagnosis	TEXT NOT NULL,
	symptoms	TEXT NOT NULL DEFAULT '',
	findings	TEXT NOT NULL DEFAULT '',
	bp_systolic	INTEGER,
	bp_diastolic	INTEGER,
	pulse		INTEGER,
	temperature_c	REAL,
	weight_kg	REAL,
	height_cm	REAL,
	notes		TEXT NOT NULL DEFAULT '',
	follow_up	TEXT,
	PRIMARY KEY (record_id, version)
) WITHOUT ROWID;

-- Prescriptions: status is 'active' or 'cancelled' here; an active one whose
-- longest item has run its course (with refills) is shown as completed.
CREATE TABLE prescriptions (
	id		INTEGER PRIMARY KEY,
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	doctor_id	INTEGER NOT NULL REFERENCES doctors (id),
	appointment_id	INTEGER REFERENCES appointments (id),
	status		TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
	notes		TEXT NOT NULL DEFAULT '',
	created_by	INTEGER NOT NULL REFERENCES users (id),
	created_at	INTEGER NOT NULL,
	ends_at		INTEGER NOT NULL,
	cancelled_at	INTEGER,
	cancelled_by	INTEGER REFERENCES users (id),
	cancel_reason	TEXT,
	renewed_from	INTEGER REFERENCES prescriptions (id)
);
CREATE INDEX prescriptions_by_patient ON prescriptions (patient_id, created_at);

CREATE TABLE prescription_items (
	prescription_id	INTEGER NOT NULL REFERENCES prescriptions (id),
	position	INTEGER NOT NULL,
	drug		TEXT NOT NULL,
	strength	TEXT NOT NULL,
	form		TEXT NOT NULL,
	dose		TEXT NOT NULL,
	route		TEXT NOT NULL,
	frequency	TEXT NOT NULL,
	duration_days	INTEGER NOT NULL CHECK (duration_days BETWEEN 1 AND 365),
	quantity	INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
	refills		INTEGER NOT NULL DEFAULT 0 CHECK (refills BETWEEN 0 AND 12),
	instructions	TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (prescription_id, position)
) WITHOUT ROWID;
