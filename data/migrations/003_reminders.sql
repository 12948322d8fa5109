-- 003: reminders and the outbox (owned by server/reminders.c).

-- One row per message: an appointment's scheduled reminder (kind "24h",
-- "1h", ... from reminder_offsets), a manual one, or the booking
-- confirmation, on one channel. Written in the same transaction as the
-- appointment change that causes it.
--
-- state: pending -> sending (persisted before the transfer starts)
--        -> sent | retry (due_at moved by the backoff) | failed;
--        skipped when it can no longer be useful (the appointment began,
--        changed status, or the channel has no address or is disabled).
CREATE TABLE reminders (
	id		INTEGER PRIMARY KEY,
	appointment_id	INTEGER NOT NULL REFERENCES appointments (id),
	kind		TEXT NOT NULL,
	channel		TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
	due_at		INTEGER NOT NULL,
	state		TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent',
			    'retry', 'failed', 'skipped')),
	attempts	INTEGER NOT NULL DEFAULT 0,
	last_error	TEXT,
	recipient	TEXT,
	provider_ref	TEXT,		-- Message-ID or Twilio message SID
	created_by	INTEGER,	-- the user of a manual reminder
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL,
	sent_at		INTEGER
);
-- The timer's question: the earliest row still to send.
CREATE INDEX reminders_due ON reminders (due_at)
	WHERE state IN ('pending', 'retry');
CREATE INDEX reminders_by_appointment ON reminders (appointment_id, kind);
CREATE INDEX reminders_by_state ON reminders (state, id);
-- A scheduled reminder exists once per appointment and channel.
CREATE UNIQUE INDEX reminders_once ON reminders (appointment_id, kind, channel)
	WHERE kind != 'manual';

-- A patient's choice of reminder channels; no row means "both" (each where
-- the patient has an address for it).
CREATE TABLE reminder_prefs (
	patient_id	INTEGER PRIMARY KEY REFERENCES patients (id),
	channels	TEXT NOT NULL CHECK (channels IN ('email', 'sms', 'both', 'none')),
	updated_at	INTEGER NOT NULL
);
