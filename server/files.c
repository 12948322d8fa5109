/* files.c -- record attachments: the files table, the bytes under
 * DATA_DIR/files/, uploads in progress under DATA_DIR/uploads/, and the
 * content check. */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "db.h"
#include "files.h"
#include "log.h"
#include "mp.h"
#include "server.h"
#include "util.h"

const char *const file_mimes[FILE__COUNT + 1] = {
	"application/pdf", "image/png", "image/jpeg", "text/plain", NULL
};

static struct upload	*uploads[FILE_UPLOADS_MAX];
static size_t		 nuploads;

static char	*files_dir(void);
static char	*uploads_dir(void);
static int	 is_hex_name(const char *, size_t len);
static void	 random_hex(char *, size_t hexlen);
static int	 fsync_dir(const char *);
static int	 clean_uploads(char **cause);
static int	 clean_orphans(char **cause);
static void	 file_from_row(sqlite3_stmt *, struct file_row *);

/* --- content check --- */

void
file_sniff_init(struct file_sniff *s)
{
	memset(s, 0, sizeof *s);
}

/*
 * UTF-8 is checked byte by byte (RFC 3629's table: no overlongs, no
 * surrogates, nothing above U+10FFFF), so a sequence split across two
 * chunks is judged as a whole.
 */
void
file_sniff_feed(struct file_sniff *s, const unsigned char *p, size_t n)
{
	size_t		i;
	unsigned char	c;

	for (i = 0; i < n && s->nhead < sizeof s->head; i++)
		s->head[s->nhead++] = p[i];
	for (i = 0; i < n && !s->not_text; i++) {
		c = p[i];
		if (s->utf8_need > 0) {
			if (c < s->utf8_lo || c > s->utf8_hi)
				s->not_text = 1;
			s->utf8_lo = 0x80;
			s->utf8_hi = 0xbf;
			s->utf8_need--;
			continue;
		}
		s->utf8_lo = 0x80;
		s->utf8_hi = 0xbf;
		if (c == 0)
			s->not_text = 1;
		else if (c < 0x80)
			continue;
		else if (c >= 0xc2 && c <= 0xdf)
			s->utf8_need = 1;
		else if (c == 0xe0) {
			s->utf8_need = 2;
			s->utf8_lo = 0xa0;
		} else if (c == 0xed) {
			s->utf8_need = 2;
			s->utf8_hi = 0x9f;
		} else if (c >= 0xe1 && c <= 0xef)
			s->utf8_need = 2;
		else if (c == 0xf0) {
			s->utf8_need = 3;
			s->utf8_lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3)
			s->utf8_need = 3;
		else if (c == 0xf4) {
			s->utf8_need = 3;
			s->utf8_hi = 0x8f;
		} else
			s->not_text = 1;
	}
}

int
file_sniff_type(const struct file_sniff *s)
{
	static const unsigned char png[8] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
	};

	if (s->nhead >= 5 && memcmp(s->head, "%PDF-", 5) == 0)
		return FILE_PDF;
	if (s->nhead >= 8 && memcmp(s->head, png, 8) == 0)
		return FILE_PNG;
	if (s->nhead >= 3 && s->head[0] == 0xff && s->head[1] == 0xd8 &&
	    s->head[2] == 0xff)
		return FILE_JPEG;
	if (s->nhead > 0 && !s->not_text && s->utf8_need == 0)
		return FILE_TEXT;
	return -1;
}

int
file_type_of_name(const char *name)
{
	static const struct {
		const char	*ext;
		int		 type;
	} exts[] = {
		{ "pdf", FILE_PDF }, { "png", FILE_PNG }, { "jpg", FILE_JPEG },
		{ "jpeg", FILE_JPEG }, { "jpe", FILE_JPEG }, { "txt", FILE_TEXT },
		{ "text", FILE_TEXT },
	};
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	if (dot == NULL || dot == name)
		return -1;
	for (i = 0; i < nitems(exts); i++)
		if (strcasecmp(dot + 1, exts[i].ext) == 0)
			return exts[i].type;
	return -1;
}

/* --- the directories --- */

static char *
files_dir(void)
{
	return xasprintf("%s/files", server.cfg.data_dir);
}

static char *
uploads_dir(void)
{
	return xasprintf("%s/uploads", server.cfg.data_dir);
}

static int
is_hex_name(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[len] == '\0';
}

static void
random_hex(char *out, size_t hexlen)
{
	unsigned char	rnd[64];

	randombytes_buf(rnd, hexlen / 2);
	sodium_bin2hex(out, hexlen + 1, rnd, hexlen / 2);
}

static int
fsync_dir(const char *path)
{
	int	fd, rv;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

/* Every upload in uploads/ belonged to a server that is gone. */
static int
clean_uploads(char **cause)
{
	char		*dir = uploads_dir(), *path;
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL) {
		*cause = xasprintf("%s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			n++;
		else
			log_warn("%s: %s", path, strerror(errno));
		free(path);
	}
	closedir(d);
	if (n > 0)
		log_info("removed %d unfinished upload%s", n, n == 1 ? "" : "s");
	free(dir);
	return 0;
}

/* A stored file no row names was renamed into place by a commit whose
 * transaction never made it to disk. */
static int
clean_orphans(char **cause)
{
	sqlite3_stmt	*st;
	char		*dir = files_dir(), *path;
	DIR		*d;
	struct dirent	*de;
	int		 n = 0, known;

	if ((d = opendir(dir)) == NULL) {
		*cause = xasprintf("%s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	st = db_prepare("SELECT 1 FROM files WHERE stored_name = ?");
	while ((de = readdir(d)) != NULL && st != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sqlite3_bind_text(st, 1, de->d_name, -1, SQLITE_TRANSIENT);
		known = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (known)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			n++;
		else
			log_warn("%s: %s", path, strerror(errno));
		free(path);
	}
	closedir(d);
	if (n > 0)
		log_info("removed %d stored file%s without a row", n,
		    n == 1 ? "" : "s");
	free(dir);
	if (st == NULL) {
		*cause = xstrdup("files: cannot query the store");
		return -1;
	}
	return 0;
}

int
files_start(char **cause)
{
	char	*fd = files_dir(), *ud = uploads_dir();
	int	 rv = 0;

	if (mkdir_p(fd, 0700) != 0) {
		*cause = xasprintf("%s: %s", fd, strerror(errno));
		rv = -1;
	} else if (mkdir_p(ud, 0700) != 0) {
		*cause = xasprintf("%s: %s", ud, strerror(errno));
		rv = -1;
	}
	free(fd);
	free(ud);
	if (rv == 0)
		rv = clean_uploads(cause);
	if (rv == 0)
		rv = clean_orphans(cause);
	return rv;
}

void
files_stop(void)
{
	while (nuploads > 0)
		uploads_drop(uploads[nuploads - 1]);
}

void
files_conn_dropped(uint64_t conn_id)
{
	size_t	i = 0;

	while (i < nuploads) {
		if (uploads[i]->conn_id == conn_id)
			uploads_drop(uploads[i]);	/* moves the last one here */
		else
			i++;
	}
}

void
files_expire(int64_t now)
{
	size_t	i = 0;

	while (i < nuploads) {
		if (uploads[i]->touched_at + FILE_UPLOAD_IDLE <= now)
			uploads_drop(uploads[i]);
		else
			i++;
	}
}

/* --- uploads --- */

struct upload *
uploads_begin(uint64_t conn_id, int64_t user_id, int64_t record_id,
    int64_t patient_id, const char *name, enum file_type type, int64_t size,
    int64_t now, const char **why)
{
	struct upload	*u;
	char		*dir;

	if (nuploads == FILE_UPLOADS_MAX) {
		*why = "too many uploads in progress; try again later";
		return NULL;
	}
	u = xcalloc(1, sizeof *u);
	random_hex(u->id, FILE_UPLOAD_ID_HEX);
	u->conn_id = conn_id;
	u->user_id = user_id;
	u->record_id = record_id;
	u->patient_id = patient_id;
	u->name = xstrdup(name);
	u->type = type;
	u->size = size;
	u->touched_at = now;
	dir = uploads_dir();
	u->tmp_path = xasprintf("%s/%s.part", dir, u->id);
	free(dir);
	u->fd = open(u->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (u->fd < 0) {
		log_warn("%s: %s", u->tmp_path, strerror(errno));
		free(u->tmp_path);
		free(u->name);
		free(u);
		*why = "store unavailable";
		return NULL;
	}
	uploads[nuploads++] = u;
	return u;
}

struct upload *
uploads_find(const char *id)
{
	size_t	i;

	if (strlen(id) != FILE_UPLOAD_ID_HEX)
		return NULL;
	for (i = 0; i < nuploads; i++)
		if (sodium_memcmp(uploads[i]->id, id, FILE_UPLOAD_ID_HEX) == 0)
			return uploads[i];
	return NULL;
}

int
uploads_count(int64_t user_id)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < nuploads; i++)
		if (uploads[i]->user_id == user_id)
			n++;
	return n;
}

int
uploads_write(struct upload *u, const void *p, size_t n, int64_t now)
{
	const char	*q = p;
	ssize_t		 w;

	while (n > 0) {
		w = pwrite(u->fd, q, n, (off_t)u->received);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("%s: %s", u->tmp_path, strerror(errno));
			return -1;
		}
		q += w;
		n -= (size_t)w;
		u->received += w;
	}
	u->touched_at = now;
	return 0;
}

/* Judged on what is on disk, not on what we think we wrote. */
int
uploads_verify(struct upload *u, char sha256[FILE_SHA256_HEX + 1], int *type)
{
	crypto_hash_sha256_state	 h;
	struct file_sniff		 sniff;
	unsigned char			 md[crypto_hash_sha256_BYTES];
	unsigned char			*buf;
	int64_t				 off = 0;
	ssize_t				 n;
	int				 fd;

	if ((fd = open(u->tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		log_warn("%s: %s", u->tmp_path, strerror(errno));
		return -1;
	}
	buf = xmalloc(64 * 1024);
	crypto_hash_sha256_init(&h);
	file_sniff_init(&sniff);
	for (;;) {
		n = pread(fd, buf, 64 * 1024, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		crypto_hash_sha256_update(&h, buf, (size_t)n);
		file_sniff_feed(&sniff, buf, (size_t)n);
		off += n;
	}
	free(buf);
	close(fd);
	if (n < 0 || off != u->received) {
		log_warn("%s: read back %lld of %lld bytes", u->tmp_path,
		    (long long)off, (long long)u->received);
		return -1;
	}
	crypto_hash_sha256_final(&h, md);
	sodium_bin2hex(sha256, FILE_SHA256_HEX + 1, md, sizeof md);
	*type = file_sniff_type(&sniff);
	return 0;
}

int
uploads_store(struct upload *u, char stored[FILE_STORED_HEX + 1])
{
	char	*dir = files_dir(), *path;
	int	 rv = -1;

	random_hex(stored, FILE_STORED_HEX);
	path = xasprintf("%s/%s", dir, stored);
	if (fsync(u->fd) != 0)
		log_warn("%s: fsync: %s", u->tmp_path, strerror(errno));
	else if (access(path, F_OK) == 0)
		log_warn("%s: exists", path);	/* 128 random bits collided */
	else if (rename(u->tmp_path, path) != 0)
		log_warn("%s -> %s: %s", u->tmp_path, path, strerror(errno));
	else if (fsync_dir(dir) != 0) {
		log_warn("%s: fsync: %s", dir, strerror(errno));
		unlink(path);
	} else
		rv = 0;
	free(path);
	free(dir);
	uploads_drop(u);	/* the temp file is gone when renamed */
	return rv;
}

void
uploads_drop(struct upload *u)
{
	size_t	i;

	for (i = 0; i < nuploads; i++) {
		if (uploads[i] == u) {
			uploads[i] = uploads[--nuploads];
			break;
		}
	}
	if (u->fd >= 0)
		close(u->fd);
	if (unlink(u->tmp_path) != 0 && errno != ENOENT)
		log_warn("%s: %s", u->tmp_path, strerror(errno));
	free(u->tmp_path);
	free(u->name);
	free(u);
}

void
files_unlink_stored(const char *stored)
{
	char	*dir, *path;

	if (!is_hex_name(stored, FILE_STORED_HEX))
		return;
	dir = files_dir();
	path = xasprintf("%s/%s", dir, stored);
	if (unlink(path) != 0)
		log_warn("%s: %s", path, strerror(errno));
	free(path);
	free(dir);
}

/* --- the table --- */

#define FILE_COLUMNS \
	"SELECT f.id, f.record_id, f.patient_id, f.size, f.uploaded_by, " \
	"f.created_at, f.name, f.mime, f.sha256, f.stored_name, u.full_name " \
	"FROM files f JOIN users u ON u.id = f.uploaded_by "

static void
file_from_row(sqlite3_stmt *st, struct file_row *f)
{
	memset(f, 0, sizeof *f);
	f->id = sqlite3_column_int64(st, 0);
	f->record_id = sqlite3_column_int64(st, 1);
	f->patient_id = sqlite3_column_int64(st, 2);
	f->size = sqlite3_column_int64(st, 3);
	f->uploaded_by = sqlite3_column_int64(st, 4);
	f->created_at = sqlite3_column_int64(st, 5);
	strlcpy_mf(f->name, db_col_text(st, 6), sizeof f->name);
	strlcpy_mf(f->mime, db_col_text(st, 7), sizeof f->mime);
	strlcpy_mf(f->sha256, db_col_text(st, 8), sizeof f->sha256);
	strlcpy_mf(f->stored, db_col_text(st, 9), sizeof f->stored);
	strlcpy_mf(f->uploader_name, db_col_text(st, 10), sizeof f->uploader_name);
}

int
files_insert(struct file_row *f)
{
	sqlite3_stmt	*st;

	st = db_prepare("INSERT INTO files (record_id, patient_id, name, mime, "
	    "size, sha256, stored_name, uploaded_by, created_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, f->record_id);
	sqlite3_bind_int64(st, 2, f->patient_id);
	db_bind_text(st, 3, f->name);
	db_bind_text(st, 4, f->mime);
	sqlite3_bind_int64(st, 5, f->size);
	db_bind_text(st, 6, f->sha256);
	db_bind_text(st, 7, f->stored);
	sqlite3_bind_int64(st, 8, f->uploaded_by);
	sqlite3_bind_int64(st, 9, f->created_at);
	if (db_step_done(st) != SQLITE_DONE)
		return -1;
	f->id = db_last_id();
	return 0;
}

int
files_by_id(int64_t id, struct file_row *f)
{
	sqlite3_stmt	*st;
	int		 rv = -1;

	st = db_prepare(FILE_COLUMNS "WHERE f.id = ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		file_from_row(st, f);
		rv = 0;
	}
	sqlite3_reset(st);
	return rv;
}

int64_t
files_list(int64_t record_id, int64_t patient_id, int64_t limit,
    void (*fn)(const struct file_row *, void *), void *arg)
{
	sqlite3_stmt	*st;
	struct file_row	*f;
	int64_t		 n = 0;

	st = db_prepare(FILE_COLUMNS "WHERE (?1 = 0 OR f.record_id = ?1) AND "
	    "(?2 = 0 OR f.patient_id = ?2) ORDER BY f.id DESC LIMIT ?3");
	if (st == NULL)
		return 0;
	f = xmalloc(sizeof *f);
	sqlite3_bind_int64(st, 1, record_id);
	sqlite3_bind_int64(st, 2, patient_id);
	sqlite3_bind_int64(st, 3, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (fn != NULL) {
			file_from_row(st, f);
			fn(f, arg);
		}
		n++;
	}
	sqlite3_reset(st);
	free(f);
	return n;
}

ssize_t
files_read(const struct file_row *f, int64_t offset, void *buf, size_t len)
{
	char	*dir, *path;
	size_t	 got = 0;
	ssize_t	 n;
	int	 fd;

	/* The name came from us, but a path is built from it: check anyway. */
	if (!is_hex_name(f->stored, FILE_STORED_HEX))
		return -1;
	dir = files_dir();
	path = xasprintf("%s/%s", dir, f->stored);
	free(dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_warn("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, (off_t)(offset + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

void
files_pack(msgpack_packer *pk, const struct file_row *f)
{
	msgpack_pack_map(pk, 10);
	mp_pack_kv_int(pk, "id", f->id);
	mp_pack_kv_int(pk, "record_id", f->record_id);
	mp_pack_kv_int(pk, "patient_id", f->patient_id);
	mp_pack_kv_str(pk, "name", f->name);
	mp_pack_kv_str(pk, "mime", f->mime);
	mp_pack_kv_int(pk, "size", f->size);
	mp_pack_kv_str(pk, "sha256", f->sha256);
	mp_pack_kv_int(pk, "uploaded_by", f->uploaded_by);
	mp_pack_kv_str(pk, "uploaded_by_name", f->uploader_name);
	mp_pack_kv_int(pk, "created_at", f->created_at);
}
