/* backup.c -- online backups, restores and the data dir lock.
 *
 * A backup reads the live database on a connection of its own inside one
 * read transaction, so it is a single snapshot however many writes land
 * meanwhile (in WAL mode a reader never blocks the writer, nor the other
 * way round). Files appear whole or not at all: written as NAME.tmp,
 * fsynced, renamed, and the directory fsynced. */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "backup.h"
#include "db.h"
#include "log.h"
#include "util.h"

/* fsyncs the directory holding path, so a rename in it is durable. */
static int
sync_parent(const char *path)
{
	char	*copy = xstrdup(path);
	int	 fd, rc = -1;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

static int
sync_file(const char *path)
{
	int	fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The file's size and SHA-256 in hex; 0 or -1 (errno). */
static int
file_digest(const char *path, int64_t *bytes, char *hex)
{
	crypto_hash_sha256_state	 st;
	unsigned char			 buf[65536], md[crypto_hash_sha256_BYTES];
	ssize_t				 n;
	int				 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	crypto_hash_sha256_init(&st);
	*bytes = 0;
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		crypto_hash_sha256_update(&st, buf, (size_t)n);
		*bytes += n;
	}
	close(fd);
	crypto_hash_sha256_final(&st, md);
	sodium_bin2hex(hex, BACKUP_SHA256_HEX, md, sizeof md);
	return 0;
}

/* Removes path and its -journal, -wal and -shm companions. */
static void
remove_db_files(const char *path)
{
	static const char *const suffixes[] = { "", "-journal", "-wal", "-shm" };
	char	*p;
	size_t	 i;

	for (i = 0; i < nitems(suffixes); i++) {
		p = xasprintf("%s%s", path, suffixes[i]);
		unlink(p);
		free(p);
	}
}

int
backup_take(const char *db_path, const char *dst, struct backup_info *info,
    char **cause)
{
	sqlite3		*src = NULL, *out = NULL;
	sqlite3_backup	*b;
	char		*tmp;
	int		 rc;

	memset(info, 0, sizeof *info);
	if (access(dst, F_OK) == 0) {
		*cause = xasprintf("%s: already exists", dst);
		return -1;
	}
	tmp = xasprintf("%s.tmp", dst);
	remove_db_files(tmp);
	/* Read-write without CREATE: a WAL reader may need to set up the
	 * -shm, and a missing database is an error, not a new one. */
	if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", db_path,
		    src != NULL ? sqlite3_errmsg(src) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(src, 5000);
	/* One read transaction across the copy: one snapshot. */
	if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL,
	    NULL, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", db_path, sqlite3_errmsg(src));
		goto fail;
	}
	if (sqlite3_open_v2(tmp, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", tmp,
		    out != NULL ? sqlite3_errmsg(out) : "cannot create");
		goto fail;
	}
	if ((b = sqlite3_backup_init(out, "main", src, "main")) == NULL) {
		*cause = xasprintf("%s: %s", tmp, sqlite3_errmsg(out));
		goto fail;
	}
	/* Steps of 256 pages; the source cannot change under our snapshot,
	 * so the copy never restarts. */
	for (;;) {
		rc = sqlite3_backup_step(b, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(10);
		else if (rc != SQLITE_OK)
			break;
	}
	info->pages = sqlite3_backup_pagecount(b);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		*cause = xasprintf("backup to %s: %s", tmp, sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(src);
	src = NULL;
	/* The copy keeps the WAL flag in its header; fold everything into
	 * the one file so the backup needs no companions. */
	if (sqlite3_exec(out, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", tmp, sqlite3_errmsg(out));
		goto fail;
	}
	if (sqlite3_close(out) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", tmp, sqlite3_errmsg(out));
		goto fail;
	}
	out = NULL;
	if (sync_file(tmp) != 0 || rename(tmp, dst) != 0 ||
	    sync_parent(dst) != 0) {
		*cause = xasprintf("%s: %s", dst, strerror(errno));
		goto fail;
	}
	remove_db_files(tmp);
	if (file_digest(dst, &info->bytes, info->sha256) != 0) {
		*cause = xasprintf("%s: %s", dst, strerror(errno));
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;

fail:
	if (src != NULL) {
		sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(src);
	}
	if (out != NULL)
		sqlite3_close(out);
	remove_db_files(tmp);
	free(tmp);
	return -1;
}

int
datadir_lock(const char *data_dir, char **cause)
{
	char	*path, pid[32];
	int	 fd;

	path = xasprintf("%s/mediflowd.lock", data_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*cause = errno == EWOULDBLOCK ?
		    xasprintf("%s is in use by another mediflowd (or a restore): "
		    "%s is locked", data_dir, path) :
		    xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	/* For the operator only; the lock is the flock, not the pid. */
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, pid, strlen(pid)) < 0)
		log_warn("%s: cannot write the pid: %s", path, strerror(errno));
	free(path);
	return fd;
}

/* The first row of a one-column query as an allocated string, or NULL. */
static char *
query_text(sqlite3 *h, const char *sql)
{
	sqlite3_stmt	*st;
	char		*v = NULL;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* Checks the database at path is a whole MediFlow store we can open. */
static int
restore_check(const char *path, char **cause)
{
	sqlite3	*h = NULL;
	char	*ok = NULL, *tables = NULL;
	int	 version, newest, rc = -1;

	newest = migrations_count > 0 ? migrations[migrations_count - 1].version : 0;
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s", h != NULL ? sqlite3_errmsg(h) : "cannot open");
		goto out;
	}
	if ((ok = query_text(h, "PRAGMA integrity_check")) == NULL ||
	    strcmp(ok, "ok") != 0) {
		*cause = xasprintf("integrity check failed: %s",
		    ok != NULL ? ok : sqlite3_errmsg(h));
		goto out;
	}
	version = db_user_version(h);
	tables = query_text(h, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name IN ('users', 'audit')");
	if (version < 1 || tables == NULL || strcmp(tables, "2") != 0) {
		*cause = xstrdup("not a MediFlow database");
		goto out;
	}
	if (version > newest) {
		*cause = xasprintf("schema version %d is newer than this mediflowd's "
		    "(%d): restore with a newer mediflowd", version, newest);
		goto out;
	}
	rc = 0;
out:
	free(ok);
	free(tables);
	sqlite3_close(h);
	return rc;
}

/* Copies src to dst (created, not there before) and fsyncs it. */
static int
copy_file(const char *src, const char *dst, char **cause)
{
	char	 buf[65536];
	ssize_t	 n, w, off;
	int	 in, out;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		*cause = xasprintf("%s: %s", src, strerror(errno));
		return -1;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		*cause = xasprintf("%s: %s", dst, strerror(errno));
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_src;
		for (off = 0; off < n; off += w) {
			if ((w = write(out, buf + off, (size_t)(n - off))) < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				goto fail_dst;
			}
		}
	}
	if (fsync(out) != 0)
		goto fail_dst;
	close(in);
	if (close(out) != 0) {
		*cause = xasprintf("%s: %s", dst, strerror(errno));
		return -1;
	}
	return 0;

fail_src:
	*cause = xasprintf("%s: %s", src, strerror(errno));
	goto fail;
fail_dst:
	*cause = xasprintf("%s: %s", dst, strerror(errno));
fail:
	close(in);
	close(out);
	return -1;
}

int
backup_restore(const char *file, const char *data_dir, char **cause)
{
	char	*db_path = NULL, *tmp = NULL, *wal, *why = NULL;
	int	 lock, rc = -1;

	wal = xasprintf("%s-wal", file);
	if (access(wal, F_OK) == 0) {
		/* Its last transactions would be left behind by a copy. */
		*cause = xasprintf("%s has a %s beside it: open and close it with "
		    "sqlite3 first", file, wal);
		free(wal);
		return -1;
	}
	free(wal);
	if (mkdir_p(data_dir, 0700) != 0) {
		*cause = xasprintf("%s: %s", data_dir, strerror(errno));
		return -1;
	}
	if ((lock = datadir_lock(data_dir, cause)) < 0)
		return -1;
	db_path = xasprintf("%s/mediflow.db", data_dir);
	tmp = xasprintf("%s/mediflow.db.restore", data_dir);
	remove_db_files(tmp);
	if (copy_file(file, tmp, cause) != 0)
		goto out;
	/* The copy is checked, not the original: what we check is what we
	 * rename into place. */
	if (restore_check(tmp, &why) != 0) {
		*cause = xasprintf("%s: %s", file, why);
		free(why);
		goto out;
	}
	if (sync_file(tmp) != 0) {
		*cause = xasprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	/*
	 * The old log must go before the new file arrives: SQLite would
	 * replay a stale -wal into the restored database. A crash between
	 * the two leaves the old database without its log, which the
	 * restore was about to replace anyway.
	 */
	wal = xasprintf("%s-wal", db_path);
	unlink(wal);
	free(wal);
	wal = xasprintf("%s-shm", db_path);
	unlink(wal);
	free(wal);
	if (rename(tmp, db_path) != 0 || sync_parent(db_path) != 0) {
		*cause = xasprintf("%s: %s", db_path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		remove_db_files(tmp);
	free(db_path);
	free(tmp);
	close(lock);
	return rc;
}
