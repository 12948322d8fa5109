/* users.c -- the users table. Other modules call these, not its SQL. */
#include <ctype.h>
#include <string.h>

#include "db.h"
#include "mp.h"
#include "users.h"
#include "util.h"

#define USER_COLUMNS "id, email, full_name, role, phone, password_hash, active, " \
	"failed_logins, first_failed_at, locked_until, last_login_at, created_at, " \
	"updated_at"

static void
user_from_row(sqlite3_stmt *st, struct user *u)
{
	const char	*s;

	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(st, 0);
	strlcpy_mf(u->email, db_col_text(st, 1), sizeof u->email);
	strlcpy_mf(u->full_name, db_col_text(st, 2), sizeof u->full_name);
	u->role = role_from_name(db_col_text(st, 3));
	if ((s = db_col_text(st, 4)) != NULL)
		strlcpy_mf(u->phone, s, sizeof u->phone);
	strlcpy_mf(u->password_hash, db_col_text(st, 5), sizeof u->password_hash);
	u->active = sqlite3_column_int(st, 6);
	u->failed_logins = sqlite3_column_int(st, 7);
	u->first_failed_at = sqlite3_column_int64(st, 8);
	u->locked_until = sqlite3_column_int64(st, 9);
	u->last_login_at = sqlite3_column_int64(st, 10);
	u->created_at = sqlite3_column_int64(st, 11);
	u->updated_at = sqlite3_column_int64(st, 12);
}

static int
users_fetch(sqlite3_stmt *st, struct user *u)
{
	int	found = 0;

	if (sqlite3_step(st) == SQLITE_ROW) {
		user_from_row(st, u);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

int
users_by_id(int64_t id, struct user *u)
{
	static const char *sql = "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	sqlite3_bind_int64(st, 1, id);
	return users_fetch(st, u);
}

int
users_by_email(const char *email, struct user *u)
{
	static const char *sql = "SELECT " USER_COLUMNS " FROM users WHERE email = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	db_bind_text(st, 1, email);
	return users_fetch(st, u);
}

static void
users_bind(sqlite3_stmt *st, const struct user *u)
{
	db_bind_text(st, 1, u->email);
	db_bind_text(st, 2, u->full_name);
	db_bind_text(st, 3, role_name(u->role));
	db_bind_text(st, 4, u->phone[0] != '\0' ? u->phone : NULL);
	db_bind_text(st, 5, u->password_hash);
	sqlite3_bind_int(st, 6, u->active);
	sqlite3_bind_int(st, 7, u->failed_logins);
	db_bind_opt_int(st, 8, u->first_failed_at != 0, u->first_failed_at);
	db_bind_opt_int(st, 9, u->locked_until != 0, u->locked_until);
	db_bind_opt_int(st, 10, u->last_login_at != 0, u->last_login_at);
	sqlite3_bind_int64(st, 11, u->created_at);
	sqlite3_bind_int64(st, 12, u->updated_at);
}

static int
users_result(int rc)
{
	if (rc == SQLITE_DONE)
		return 0;
	return (rc & 0xff) == SQLITE_CONSTRAINT ? -1 : -2;
}

int
users_insert(struct user *u)
{
	static const char *sql = "INSERT INTO users (email, full_name, role, phone, "
	    "password_hash, active, failed_logins, first_failed_at, locked_until, "
	    "last_login_at, created_at, updated_at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt	*st = db_prepare(sql);
	int		 rc;

	users_bind(st, u);
	if ((rc = users_result(db_step_done(st))) == 0)
		u->id = db_last_id();
	return rc;
}

int
users_save(const struct user *u)
{
	static const char *sql = "UPDATE users SET email = ?, full_name = ?, "
	    "role = ?, phone = ?, password_hash = ?, active = ?, failed_logins = ?, "
	    "first_failed_at = ?, locked_until = ?, last_login_at = ?, "
	    "created_at = ?, updated_at = ? WHERE id = ?";
	sqlite3_stmt	*st = db_prepare(sql);

	users_bind(st, u);
	sqlite3_bind_int64(st, 13, u->id);
	return users_result(db_step_done(st));
}

int64_t
users_count(void)
{
	static const char *sql = "SELECT count(*) FROM users";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 n = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

void
users_pack(msgpack_packer *pk, const struct user *u)
{
	msgpack_pack_map(pk, 9);
	mp_pack_kv_int(pk, "id", u->id);
	mp_pack_kv_str(pk, "email", u->email);
	mp_pack_kv_str(pk, "full_name", u->full_name);
	mp_pack_kv_str(pk, "role", role_name(u->role));
	mp_pack_kv_str(pk, "phone", u->phone[0] != '\0' ? u->phone : NULL);
	mp_pack_kv_bool(pk, "active", u->active);
	mp_pack_str(pk, "last_login_at");
	if (u->last_login_at != 0)
		msgpack_pack_int64(pk, u->last_login_at);
	else
		msgpack_pack_nil(pk);
	mp_pack_kv_int(pk, "created_at", u->created_at);
	mp_pack_kv_int(pk, "updated_at", u->updated_at);
}

int
email_normalize(const char *in, char *out, size_t outlen)
{
	const char	*start = in, *end, *at = NULL, *p;
	size_t		 len, i;

	while (isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - start);
	if (len < 3 || len > EMAIL_MAX || len + 1 > outlen)
		return -1;
	for (p = start; p < end; p++) {
		unsigned char	c = (unsigned char)*p;

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '(' || c == ')' ||
		    c == ',' || c == ':' || c == ';' || c == '<' || c == '>' ||
		    c == '[' || c == ']' || c == '\\')
			return -1;
		if (c == '@') {
			if (at != NULL)
				return -1;
			at = p;
		}
	}
	if (at == NULL || at == start || at - start > 64 || end - at < 4)
		return -1;
	/* The local part: no dot at either end, no two in a row. */
	if (start[0] == '.' || at[-1] == '.')
		return -1;
	for (p = start; p + 1 < at; p++) {
		if (p[0] == '.' && p[1] == '.')
			return -1;
	}
	/* The domain needs a dot, not at either end, and no empty labels. */
	if (at[1] == '.' || end[-1] == '.' || memchr(at, '.', (size_t)(end - at)) == NULL)
		return -1;
	for (p = at + 1; p + 1 < end; p++) {
		if (p[0] == '.' && p[1] == '.')
			return -1;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)start[i]);
	out[len] = '\0';
	return 0;
}

int
phone_valid(const char *p)
{
	size_t	i, digits = 0;

	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			digits++;
		else if (!(p[i] == '+' && i == 0) && p[i] != ' ' && p[i] != '-' &&
		    p[i] != '(' && p[i] != ')')
			return 0;
	}
	return digits >= 5 && digits <= 15;
}

int
users_each_active_in_role(enum role role, void (*fn)(int64_t id, void *), void *arg)
{
	static const char *sql = "SELECT id FROM users WHERE role = ? AND active = 1 "
	    "ORDER BY id";
	sqlite3_stmt	*st = db_prepare(sql);
	int64_t		 ids[256];
	int		 n = 0, i;

	/* Collected first, so fn may use the store. */
	db_bind_text(st, 1, role_name(role));
	while (n < (int)nitems(ids) && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		fn(ids[i], arg);
	return n;
}
