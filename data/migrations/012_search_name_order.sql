-- 012: each name word carries its patient's full name, and the key is
-- (word, full_name, patient_id): one word's patients come out of a single
-- index range already in the order patients.search answers in (name, then
-- id), with no seek into patients per candidate. A common word at a big
-- clinic ("smith" among a million patients) was tens of thousands of seeks.
-- patients.c rewrites a patient's words (and so this name) on every save.

CREATE TABLE patient_name_words_next (
	word		TEXT NOT NULL,
	full_name	TEXT NOT NULL COLLATE NOCASE,
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	PRIMARY KEY (word, full_name, patient_id)
) WITHOUT ROWID;
INSERT INTO patient_name_words_next (word, full_name, patient_id)
    SELECT w.word, p.full_name, w.patient_id FROM patient_name_words w
    JOIN patients p ON p.id = w.patient_id
    ORDER BY w.word, p.full_name COLLATE NOCASE, w.patient_id;
DROP TABLE patient_name_words;
ALTER TABLE patient_name_words_next RENAME TO patient_name_words;
-- Holds (patient_id, word, full_name): a patient's words, for the filters
-- and for rewriting them.
CREATE INDEX patient_name_words_by_patient ON patient_name_words (patient_id);
