-- 015: every booking asks whether the doctor has an active appointment
-- overlapping the new one: a walk over the doctor's active appointments of
-- the day before its start, since one may last up to a day. Through
-- appointments_active_slot, which holds only (doctor_id, starts_at), each
-- appointment walked was a seek into the table for its end and status:
-- a tenth of a booking's instructions on a busy doctor's calendar. This
-- index holds them: the walk reads it alone. Only active appointments are
-- in it, so it stays the size of the calendar ahead, not of the history.
-- Its WHERE is word for word APPT_ACTIVE_SQL (server/appointments.h), which
-- the queries repeat, so SQLite can use it for them.
--
-- Building it reads the whole table once: 18 s on the full bench set (ten
-- million appointments, 3.75 million of them active; 014 took 1 s).

CREATE INDEX appointments_active_span ON appointments
    (doctor_id, starts_at, ends_at, status)
    WHERE (status = 'requested' OR status = 'approved' OR
    status = 'checked_in' OR status = 'in_progress');
