/* cancel-reasons.c -- the cancellation reason list (see cancel-reasons.h). */
#include <sqlite3.h>

#include "cancel-reasons.h"
#include "db.h"

int
cancel_reasons_list(void (*fn)(const char *, void *), void *arg)
{
	static const char *sql = "SELECT reason FROM cancel_reasons ORDER BY position";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 n = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		if (fn != NULL)
			fn(db_col_text(st, 0), arg);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int
cancel_reasons_has(const char *reason)
{
	static const char *sql = "SELECT 1 FROM cancel_reasons WHERE reason = ?";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 yes;

	db_bind_text(st, 1, reason);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return yes;
}

int
cancel_reasons_replace(const char *const *reasons, size_t n)
{
	static const char *del = "DELETE FROM cancel_reasons";
	static const char *ins = "INSERT INTO cancel_reasons (position, reason) "
	    "VALUES (?, ?)";
	sqlite3_stmt	*st;
	size_t		 i;

	if (db_step_done(db_prepare(del)) != SQLITE_DONE)
		return -1;
	for (i = 0; i < n; i++) {
		st = db_prepare(ins);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(i + 1));
		db_bind_text(st, 2, reasons[i]);
		if (db_step_done(st) != SQLITE_DONE)
			return -1;
	}
	return 0;
}
