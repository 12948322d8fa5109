-- 014: status lists as chains of equalities. SQLite 3.40 evaluates
-- `x IN (three or more constants)` by building a temporary b-tree of the
-- constants each time a statement runs, and every booking ran three:
-- appointments' status CHECK, the WHERE of appointments_active_slot (both on
-- each insert and status change) and the overlap query; reminders' state
-- CHECK ran on each of its writes. `x = 'a' OR x = 'b' ...` is compared in
-- place. The queries that must use appointments_active_slot repeat its WHERE
-- word for word (APPT_ACTIVE_SQL in server/appointments.h): SQLite uses a
-- partial index only for a WHERE it can see implies the index's.
--
-- Neither change alters what is stored: the same values pass each CHECK and
-- the index holds the same rows. Such edits are made in sqlite_schema itself
-- (https://www.sqlite.org/lang_altertable.html, "making other kinds of table
-- schema changes"): rebuilding appointments, or only the index, would take
-- minutes on a big clinic's store. The text replaced is the one 002 and 003
-- wrote; a store whose text differs keeps its lists, which are as correct.

PRAGMA writable_schema = ON;

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''requested'', ''approved'', ''rejected'',
			    ''cancelled'', ''checked_in'', ''in_progress'', ''completed'', ''no_show'',
			    ''rescheduled''))',
    'CHECK (status = ''requested'' OR
			    status = ''approved'' OR status = ''rejected'' OR
			    status = ''cancelled'' OR status = ''checked_in'' OR
			    status = ''in_progress'' OR status = ''completed'' OR
			    status = ''no_show'' OR status = ''rescheduled'')')
    WHERE type = 'table' AND name = 'appointments';

UPDATE sqlite_schema SET sql = replace(sql,
    'WHERE status IN (''requested'', ''approved'', ''checked_in'', ''in_progress'')',
    'WHERE (status = ''requested'' OR status = ''approved'' OR
	    status = ''checked_in'' OR status = ''in_progress'')')
    WHERE type = 'index' AND name = 'appointments_active_slot';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (state IN (''pending'', ''sending'', ''sent'',
			    ''retry'', ''failed'', ''skipped''))',
    'CHECK (state = ''pending'' OR
			    state = ''sending'' OR state = ''sent'' OR
			    state = ''retry'' OR state = ''failed'' OR
			    state = ''skipped'')')
    WHERE type = 'table' AND name = 'reminders';

-- RESET re-reads the schema on this connection: the statements after this
-- one, and those the server prepares, parse the new text (and a typo in it
-- fails this migration, rolled back, instead of a later open).
PRAGMA writable_schema = RESET;

-- Connections already open elsewhere (an operator's sqlite3 shell) re-read
-- the schema when its cookie moves; any DDL moves it, while
-- PRAGMA schema_version would need the number written out.
CREATE TABLE migration_014_schema_cookie (x);
DROP TABLE migration_014_schema_cookie;
