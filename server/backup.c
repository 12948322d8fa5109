/* backup.c -- online backups, restores and the data dir lock.
 *
 * A backup reads the live database on a connection of its own inside one
 * read transaction, so it is a single snapshot however many writes land
 * meanwhile (in WAL mode a reader never blocks the writer, nor the other
 * way round). Files appear whole or not at all: written as NAME.tmp,
 * fsynced, renamed, and the directory fsynced.
 *
 * Attachments are files under DATA_DIR/files/, written once under a random
 * name and never changed, that rows of the files table name. A backup takes
 * exactly those its snapshot names (later ones are not in it), into a
 * directory beside the database copy; a restore puts them back only after
 * checking each against its row's sha256. */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* Removes dir's entries (a flat directory: ours hold files only) and dir. */
static void
remove_flat_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		*p;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

static int
sync_dir(const char *dir)
{
	int	fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* A stored name is ours: 32 lower-case hex digits, never a path. */
static int
stored_name_ok(const char *s)
{
	size_t	i;

	if (s == NULL || strlen(s) != 32)
		return 0;
	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int	copy_file(const char *, const char *, char **);

/*
 * Puts src at dst (not there before): a hard link when both are on one
 * filesystem (the attachments never change once stored, so a link is as
 * consistent as a copy), else a copy, fsynced. *linked says which. The
 * caller fsyncs dst's directory. 0, or -1 with *cause.
 */
static int
link_or_copy(const char *src, const char *dst, int *linked, char **cause)
{
	*linked = 0;
	if (link(src, dst) == 0) {
		*linked = 1;
		return 0;
	}
	if (errno != EXDEV && errno != EPERM && errno != EMLINK &&
	    errno != EOPNOTSUPP && errno != ENOSYS) {
		*cause = xasprintf("%s -> %s: %s", src, dst, strerror(errno));
		return -1;
	}
	return copy_file(src, dst, cause);
}

/* 1 if the database open on h has the files table (migration 009). */
static int
has_files_table(sqlite3 *h)
{
	sqlite3_stmt	*st;
	int		 n = 0;

	if (sqlite3_prepare_v2(h, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND name = 'files'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n > 0;
}

static void
note_missing(struct backup_info *info, int64_t id, const char *path,
    const char *why)
{
	log_warn("backup: attachment %lld, %s, which the database names, %s: "
	    "it is not in the backup", (long long)id, path, why);
	if (info->files_missing < BACKUP_MISSING_IDS)
		info->missing_ids[info->files_missing] = id;
	info->files_missing++;
}

/*
 * Links or copies into dir every attachment the database on h (the
 * snapshot) names, from files_dir. Missing or torn ones are noted in info;
 * anything else that fails fails the backup. 0, or -1 with *cause.
 */
static int
backup_files(sqlite3 *h, const char *files_dir, const char *dir,
    struct backup_info *info, char **cause)
{
	sqlite3_stmt	*st;
	struct stat	 sb;
	const char	*name;
	char		*src, *dst, why[96];
	int64_t		 id, size;
	int		 rc, linked, ok = -1;

	if ((rc = has_files_table(h)) <= 0) {
		if (rc < 0)
			*cause = xasprintf("backup: %s", sqlite3_errmsg(h));
		return rc;
	}
	if (sqlite3_prepare_v2(h, "SELECT id, stored_name, size FROM files "
	    "ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		*cause = xasprintf("backup: %s", sqlite3_errmsg(h));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		name = (const char *)sqlite3_column_text(st, 1);
		size = sqlite3_column_int64(st, 2);
		if (!stored_name_ok(name)) {
			note_missing(info, id, "(no valid stored name)",
			    "cannot be found");
			continue;
		}
		src = xasprintf("%s/%s", files_dir, name);
		why[0] = '\0';
		if (lstat(src, &sb) != 0) {
			if (errno != ENOENT) {
				*cause = xasprintf("%s: %s", src, strerror(errno));
				free(src);
				goto out;
			}
			snprintf(why, sizeof why, "is missing");
		} else if (!S_ISREG(sb.st_mode))
			snprintf(why, sizeof why, "is not a regular file");
		else if (sb.st_size != size)
			snprintf(why, sizeof why, "is %lld bytes, its row says "
			    "%lld", (long long)sb.st_size, (long long)size);
		if (why[0] != '\0') {
			note_missing(info, id, src, why);
			free(src);
			continue;
		}
		dst = xasprintf("%s/%s", dir, name);
		rc = link_or_copy(src, dst, &linked, cause);
		free(src);
		free(dst);
		if (rc != 0)
			goto out;
		info->files++;
		info->file_bytes += size;
		info->files_linked += linked;
	}
	if (rc != SQLITE_DONE) {
		*cause = xasprintf("backup: %s", sqlite3_errmsg(h));
		goto out;
	}
	ok = 0;
out:
	sqlite3_finalize(st);
	return ok;
}

char *
backup_files_dir(const char *file)
{
	size_t	n = strlen(file);

	if (n > 3 && strcmp(file + n - 3, ".db") == 0)
		return xasprintf("%.*s.files", (int)(n - 3), file);
	return xasprintf("%s.files", file);
}

int
backup_take(const char *data_dir, const char *dst, struct backup_info *info,
    char **cause)
{
	sqlite3		*src = NULL, *out = NULL;
	sqlite3_backup	*b;
	char		*tmp, *db_path, *fdir, *fdir_tmp, *live_files;
	int		 rc, fdir_placed = 0;

	memset(info, 0, sizeof *info);
	fdir = backup_files_dir(dst);
	if (access(dst, F_OK) == 0 || access(fdir, F_OK) == 0) {
		*cause = xasprintf("%s: already exists", access(dst, F_OK) == 0 ?
		    dst : fdir);
		free(fdir);
		return -1;
	}
	db_path = xasprintf("%s/mediflow.db", data_dir);
	live_files = xasprintf("%s/files", data_dir);
	tmp = xasprintf("%s.tmp", dst);
	fdir_tmp = xasprintf("%s.tmp", fdir);
	remove_db_files(tmp);
	remove_flat_dir(fdir_tmp);
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
	/* The attachments the copy names, read from the copy itself: the
	 * snapshot's rows, whatever was uploaded since. */
	if (mkdir(fdir_tmp, 0700) != 0) {
		*cause = xasprintf("%s: %s", fdir_tmp, strerror(errno));
		goto fail;
	}
	if (backup_files(out, live_files, fdir_tmp, info, cause) != 0)
		goto fail;
	if (sqlite3_close(out) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", tmp, sqlite3_errmsg(out));
		goto fail;
	}
	out = NULL;
	/* The files dir first, the database last: a backup whose database
	 * is there has all its attachments. */
	if (sync_dir(fdir_tmp) != 0 || rename(fdir_tmp, fdir) != 0) {
		*cause = xasprintf("%s: %s", fdir, strerror(errno));
		goto fail;
	}
	fdir_placed = 1;
	if (sync_file(tmp) != 0 || rename(tmp, dst) != 0 ||
	    sync_parent(dst) != 0) {
		*cause = xasprintf("%s: %s", dst, strerror(errno));
		goto fail;
	}
	remove_db_files(tmp);
	rc = 0;
	if (file_digest(dst, &info->bytes, info->sha256) != 0) {
		*cause = xasprintf("%s: %s", dst, strerror(errno));
		rc = -1;
	}
	free(tmp);
	free(fdir_tmp);
	free(fdir);
	free(db_path);
	free(live_files);
	return rc;

fail:
	if (src != NULL) {
		sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(src);
	}
	if (out != NULL)
		sqlite3_close(out);
	remove_db_files(tmp);
	remove_flat_dir(fdir_tmp);
	if (fdir_placed)
		remove_flat_dir(fdir);
	free(tmp);
	free(fdir_tmp);
	free(fdir);
	free(db_path);
	free(live_files);
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

/* The stored names a restore brings back, sorted for the sweep. */
struct restored {
	char	(*names)[33];
	size_t	  n, cap;
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Puts into stage every attachment the database at db (the staged copy of
 * file) names, from fdir, each checked on arrival against its row's size
 * and sha256: what is checked is what goes into place. 0, or -1 with
 * *cause naming the first one missing or corrupt.
 */
static int
restore_files(const char *db, const char *file, const char *fdir,
    const char *stage, struct restored *rs, int64_t *bytes, char **cause)
{
	sqlite3		*h = NULL;
	sqlite3_stmt	*st = NULL;
	struct stat	 sb;
	const char	*name, *sha;
	char		*src = NULL, *dst = NULL, hex[BACKUP_SHA256_HEX];
	int64_t		 id, size, got;
	int		 rc, linked, ok = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", file,
		    h != NULL ? sqlite3_errmsg(h) : "cannot open");
		goto out;
	}
	if ((rc = has_files_table(h)) <= 0) {
		if (rc < 0)
			*cause = xasprintf("%s: %s", file, sqlite3_errmsg(h));
		else
			ok = 0;
		goto out;
	}
	if (sqlite3_prepare_v2(h, "SELECT id, stored_name, size, sha256 FROM "
	    "files ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", file, sqlite3_errmsg(h));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		name = (const char *)sqlite3_column_text(st, 1);
		size = sqlite3_column_int64(st, 2);
		sha = (const char *)sqlite3_column_text(st, 3);
		if (!stored_name_ok(name) || sha == NULL) {
			*cause = xasprintf("%s: attachment %lld: its row is not one "
			    "mediflowd wrote", file, (long long)id);
			goto out;
		}
		free(src);
		free(dst);
		src = xasprintf("%s/%s", fdir, name);
		dst = xasprintf("%s/%s", stage, name);
		if (lstat(src, &sb) != 0) {
			*cause = errno == ENOENT ? xasprintf("%s: attachment %lld, "
			    "%s, is missing", file, (long long)id, src) :
			    xasprintf("%s: %s", src, strerror(errno));
			goto out;
		}
		if (!S_ISREG(sb.st_mode)) {
			*cause = xasprintf("%s: attachment %lld, %s, is not a "
			    "regular file", file, (long long)id, src);
			goto out;
		}
		if (link_or_copy(src, dst, &linked, cause) != 0)
			goto out;
		if (file_digest(dst, &got, hex) != 0) {
			*cause = xasprintf("%s: %s", dst, strerror(errno));
			goto out;
		}
		if (got != size || strcasecmp(hex, sha) != 0) {
			*cause = xasprintf("%s: attachment %lld, %s, is corrupt: "
			    "%lld bytes, sha256 %s; its row says %lld bytes, "
			    "sha256 %s", file, (long long)id, src, (long long)got,
			    hex, (long long)size, sha);
			goto out;
		}
		if (rs->n == rs->cap) {
			rs->cap = rs->cap == 0 ? 64 : rs->cap * 2;
			rs->names = xrealloc(rs->names, rs->cap * sizeof *rs->names);
		}
		memcpy(rs->names[rs->n++], name, 33);
		*bytes += size;
	}
	if (rc != SQLITE_DONE) {
		*cause = xasprintf("%s: %s", file, sqlite3_errmsg(h));
		goto out;
	}
	if (sync_dir(stage) != 0) {
		*cause = xasprintf("%s: %s", stage, strerror(errno));
		goto out;
	}
	ok = 0;
out:
	free(src);
	free(dst);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return ok;
}

/* Deletes the attachments in dir that the restored database does not name:
 * the old store's. A failure only leaves them to the next start's sweep. */
static void
restore_sweep(const char *dir, const struct restored *rs)
{
	DIR		*d;
	struct dirent	*de;
	char		*p;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rs->n > 0 && bsearch(de->d_name, rs->names, rs->n,
		    sizeof *rs->names, name_cmp) != NULL)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(p) == 0)
			n++;
		else
			log_warn("%s: %s", p, strerror(errno));
		free(p);
	}
	closedir(d);
	if (n > 0) {
		sync_dir(dir);
		log_info("removed %d attachment%s the restored database does not "
		    "name", n, n == 1 ? "" : "s");
	}
}

/* Removes DATA_DIR/restore.tmp: a refused restore's, or a crashed one's. */
static void
remove_stage(const char *stage)
{
	char	*p;

	p = xasprintf("%s/mediflow.db", stage);
	remove_db_files(p);
	free(p);
	p = xasprintf("%s/files", stage);
	remove_flat_dir(p);
	free(p);
	rmdir(stage);
}

int
backup_restore(const char *file, const char *data_dir, int64_t *files,
    int64_t *file_bytes, char **cause)
{
	struct restored	 rs = { NULL, 0, 0 };
	char		*db_path = NULL, *stage = NULL, *tmp = NULL, *wal, *why = NULL;
	char		*fdir = NULL, *stage_files = NULL, *live_files = NULL;
	char		*from, *to;
	size_t		 i;
	int		 lock, rc = -1;

	*files = *file_bytes = 0;
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
	live_files = xasprintf("%s/files", data_dir);
	stage = xasprintf("%s/restore.tmp", data_dir);
	tmp = xasprintf("%s/mediflow.db", stage);
	stage_files = xasprintf("%s/files", stage);
	fdir = backup_files_dir(file);
	remove_stage(stage);
	if (mkdir(stage, 0700) != 0 || mkdir(stage_files, 0700) != 0) {
		*cause = xasprintf("%s: %s", stage, strerror(errno));
		goto out;
	}
	if (copy_file(file, tmp, cause) != 0)
		goto out;
	/* The copy is checked, not the original: what we check is what we
	 * rename into place. */
	if (restore_check(tmp, &why) != 0) {
		*cause = xasprintf("%s: %s", file, why);
		free(why);
		goto out;
	}
	if (restore_files(tmp, file, fdir, stage_files, &rs, file_bytes,
	    cause) != 0)
		goto out;
	if (sync_file(tmp) != 0) {
		*cause = xasprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	/*
	 * Into place: the attachments first, beside the old ones (their
	 * names are random, so a name in both is the same file), then the
	 * database. A crash before the database's rename leaves the old
	 * store whole, plus files no row names that the next start deletes;
	 * after it, the new store whole.
	 */
	if (mkdir_p(live_files, 0700) != 0) {
		*cause = xasprintf("%s: %s", live_files, strerror(errno));
		goto out;
	}
	for (i = 0; i < rs.n; i++) {
		from = xasprintf("%s/%s", stage_files, rs.names[i]);
		to = xasprintf("%s/%s", live_files, rs.names[i]);
		if (rename(from, to) != 0) {
			*cause = xasprintf("%s: %s", to, strerror(errno));
			free(from);
			free(to);
			goto out;
		}
		free(from);
		free(to);
	}
	if (sync_dir(live_files) != 0) {
		*cause = xasprintf("%s: %s", live_files, strerror(errno));
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
	if (rs.n > 0)
		qsort(rs.names, rs.n, sizeof *rs.names, name_cmp);
	restore_sweep(live_files, &rs);
	*files = (int64_t)rs.n;
	rc = 0;
out:
	remove_stage(stage);
	free(rs.names);
	free(db_path);
	free(live_files);
	free(stage);
	free(stage_files);
	free(tmp);
	free(fdir);
	close(lock);
	return rc;
}
