-- 001: accounts, sessions and the audit log.
CREATE TABLE users (
	id		INTEGER PRIMARY KEY,
	email		TEXT NOT NULL UNIQUE,
	full_name	TEXT NOT NULL,
	role		TEXT NOT NULL CHECK (role IN ('patient', 'doctor', 'receptionist', 'admin')),
	phone		TEXT,
	password_hash	TEXT NOT NULL,
	active		INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
	failed_logins	INTEGER NOT NULL DEFAULT 0,
	first_failed_at	INTEGER,
	locked_until	INTEGER,
	last_login_at	INTEGER,
	created_at	INTEGER NOT NULL,
	updated_at	INTEGER NOT NULL
);
CREATE INDEX users_role ON users (role, id);
CREATE INDEX users_name ON users (full_name COLLATE NOCASE);

-- Tokens are never stored, only their BLAKE2b hash.
CREATE TABLE sessions (
	id		INTEGER PRIMARY KEY,
	user_id		INTEGER NOT NULL REFERENCES users (id),
	token_hash	BLOB NOT NULL UNIQUE,
	created_at	INTEGER NOT NULL,
	last_seen	INTEGER NOT NULL,
	expires_at	INTEGER NOT NULL,
	revoked_at	INTEGER,
	addr		TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Append-only and hash-chained: hash = BLAKE2b(prev_hash || the row's fields).
CREATE TABLE audit (
	id		INTEGER PRIMARY KEY,
	ts		INTEGER NOT NULL,
	actor_id	INTEGER,
	actor_role	TEXT,
	action		TEXT NOT NULL,
	patient_id	INTEGER,
	target		TEXT,
	detail		TEXT,
	addr		TEXT,
	prev_hash	BLOB NOT NULL,
	hash		BLOB NOT NULL
);
CREATE INDEX audit_actor ON audit (actor_id, id);
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_patient ON audit (patient_id, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
