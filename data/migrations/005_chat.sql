-- 005: chat between a patient and their doctor, and between staff.

-- One conversation per pair of users; user_a is the smaller id. Each side's
-- read position is the id of the last message they have read.
CREATE TABLE conversations (
	id		INTEGER PRIMARY KEY,
	user_a		INTEGER NOT NULL REFERENCES users (id),
	user_b		INTEGER NOT NULL REFERENCES users (id),
	a_read_id	INTEGER NOT NULL DEFAULT 0,
	b_read_id	INTEGER NOT NULL DEFAULT 0,
	last_message_id	INTEGER NOT NULL DEFAULT 0,
	created_at	INTEGER NOT NULL,
	CHECK (user_a < user_b),
	UNIQUE (user_a, user_b)
);
CREATE INDEX conversations_by_b ON conversations (user_b);

-- client_msg_id makes a resend idempotent: unique per sender.
CREATE TABLE messages (
	id		INTEGER PRIMARY KEY,
	conversation_id	INTEGER NOT NULL REFERENCES conversations (id),
	sender_id	INTEGER NOT NULL REFERENCES users (id),
	client_msg_id	TEXT NOT NULL,
	body		TEXT NOT NULL,
	created_at	INTEGER NOT NULL,
	UNIQUE (sender_id, client_msg_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_unread ON messages (conversation_id, sender_id, id);

-- In-app notifications (server/notifications.c); read_at NULL while unread.
CREATE TABLE notifications (
	id		INTEGER PRIMARY KEY,
	user_id		INTEGER NOT NULL REFERENCES users (id),
	kind		TEXT NOT NULL,
	title		TEXT NOT NULL,
	body		TEXT NOT NULL DEFAULT '',
	ref_id		INTEGER,
	created_at	INTEGER NOT NULL,
	read_at		INTEGER
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;
