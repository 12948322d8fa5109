-- 010: when each user was last seen going on- or offline, kept across restarts
-- (chat presence; server/op-chat.c).
CREATE TABLE presence (
	user_id		INTEGER PRIMARY KEY REFERENCES users (id),
	last_seen	INTEGER NOT NULL
) WITHOUT ROWID;
