-- 009: attachments of medical records.

-- The bytes live in DATA_DIR/files/<stored_name>, a random hex name the server
-- chose; name is what the uploader called the file, for display only.
CREATE TABLE files (
	id		INTEGER PRIMARY KEY,
	record_id	INTEGER NOT NULL REFERENCES records (id),
	patient_id	INTEGER NOT NULL REFERENCES patients (id),
	name		TEXT NOT NULL,
	mime		TEXT NOT NULL CHECK (mime IN ('application/pdf', 'image/png',
			    'image/jpeg', 'text/plain')),
	size		INTEGER NOT NULL CHECK (size >= 1),
	sha256		TEXT NOT NULL CHECK (length(sha256) = 64),
	stored_name	TEXT NOT NULL UNIQUE CHECK (length(stored_name) = 32),
	uploaded_by	INTEGER NOT NULL REFERENCES users (id),
	created_at	INTEGER NOT NULL
);
CREATE INDEX files_by_record ON files (record_id, id);
CREATE INDEX files_by_patient ON files (patient_id, id);
