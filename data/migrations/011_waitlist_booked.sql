-- 011_waitlist_booked.sql -- a wait-list entry is closed as 'booked' when its
-- patient is booked with its doctor at a time its window holds (or at the
-- time offered to it), in the booking's own transaction, naming the
-- appointment. SQLite cannot widen a CHECK in place, so the table is rebuilt
-- (nothing references it).

CREATE TABLE waitlist_next (
	id			INTEGER PRIMARY KEY,
	doctor_id		INTEGER NOT NULL REFERENCES doctors (id),
	patient_id		INTEGER NOT NULL REFERENCES patients (id),
	earliest		INTEGER NOT NULL,
	latest			INTEGER NOT NULL CHECK (latest > earliest),
	note			TEXT NOT NULL DEFAULT '',
	status			TEXT NOT NULL DEFAULT 'waiting'
				    CHECK (status IN ('waiting', 'offered', 'left',
				    'booked')),
	created_by		INTEGER,
	created_at		INTEGER NOT NULL,
	offered_at		INTEGER,
	offered_starts_at	INTEGER,
	offered_ends_at		INTEGER,
	left_at			INTEGER,
	booked_at		INTEGER,
	appointment_id		INTEGER REFERENCES appointments (id),
	CHECK ((status = 'booked') = (appointment_id IS NOT NULL))
);
INSERT INTO waitlist_next (id, doctor_id, patient_id, earliest, latest, note,
    status, created_by, created_at, offered_at, offered_starts_at,
    offered_ends_at, left_at)
    SELECT id, doctor_id, patient_id, earliest, latest, note, status,
    created_by, created_at, offered_at, offered_starts_at, offered_ends_at,
    left_at FROM waitlist;
DROP TABLE waitlist;
ALTER TABLE waitlist_next RENAME TO waitlist;
CREATE INDEX waitlist_by_doctor ON waitlist (doctor_id, status, id);
CREATE INDEX waitlist_by_patient ON waitlist (patient_id, id);
