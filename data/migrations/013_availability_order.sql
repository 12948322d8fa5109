-- 013: a doctor's weekly template is read in (weekday, start_min) order on
-- every appt.slots and every booking's availability check. The indexes of
-- 002 keyed (doctor_id, weekday) only, so each read sorted its rows; these
-- keep them in that order and cover the columns read, so the read is one
-- index range with no sort and no seek into the table.

DROP INDEX availability_by_doctor;
CREATE INDEX availability_by_doctor ON availability
    (doctor_id, weekday, start_min, end_min, slot_minutes);

DROP INDEX availability_breaks_by_doctor;
CREATE INDEX availability_breaks_by_doctor ON availability_breaks
    (doctor_id, weekday, start_min, end_min);
