-- 004_front_desk.sql -- the clinic's closed list of cancellation reasons,
-- edited by admins (cancel_reasons.set); appt.cancel requires one of them
-- when the list is not empty.
CREATE TABLE cancel_reasons (
	position	INTEGER PRIMARY KEY CHECK (position >= 1),
	reason		TEXT NOT NULL UNIQUE CHECK (length(reason) BETWEEN 1 AND 200)
);
