-- 016: each patient's no-shows, kept on the patient's row. A doctor's day
-- in appt.list showed each patient's count from a seek into
-- appointments_no_shows per appointment: on a big clinic's store (ten
-- million appointments) that seek was a third of the list's reading, and
-- its pages were one more random walk per row on top of the patient's own,
-- which the list reads anyway for the name.
--
-- Triggers keep it: every writer of appointments, this server or an
-- operator's sqlite3 shell, moves it in the same transaction, so it never
-- differs from the count of no_show rows (tests/integration/test_read_cache.c
-- compares the two). Status changes, inserts, deletes and a change of an
-- appointment's patient are all covered; no_show is a final status, but a
-- hand-made correction back is counted too.
--
-- Filling it reads appointments_no_shows once: seconds on the full bench set.

ALTER TABLE patients ADD COLUMN no_show_count INTEGER NOT NULL DEFAULT 0;

UPDATE patients SET no_show_count = n.c
    FROM (SELECT patient_id, count(*) AS c FROM appointments
    WHERE status = 'no_show' GROUP BY patient_id) AS n
    WHERE patients.id = n.patient_id;

CREATE TRIGGER appointments_no_show_insert AFTER INSERT ON appointments
    WHEN new.status = 'no_show'
BEGIN
	UPDATE patients SET no_show_count = no_show_count + 1
	    WHERE id = new.patient_id;
END;

CREATE TRIGGER appointments_no_show_delete AFTER DELETE ON appointments
    WHEN old.status = 'no_show'
BEGIN
	UPDATE patients SET no_show_count = no_show_count - 1
	    WHERE id = old.patient_id;
END;

CREATE TRIGGER appointments_no_show_update
    AFTER UPDATE OF status, patient_id ON appointments
    WHEN old.status = 'no_show' OR new.status = 'no_show'
BEGIN
	UPDATE patients SET no_show_count = no_show_count - 1
	    WHERE id = old.patient_id AND old.status = 'no_show';
	UPDATE patients SET no_show_count = no_show_count + 1
	    WHERE id = new.patient_id AND new.status = 'no_show';
END;
