/* op-files.c -- record attachments: files.begin, files.chunk, files.commit,
 * files.abort, files.get, files.list. Who may touch which patient's files is
 * decided by access_clinical, as for the record they belong to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "audit.h"
#include "conn.h"
#include "db.h"
#include "files.h"
#include "mp.h"
#include "ops.h"
#include "records.h"
#include "server.h"
#include "util.h"

#define FILES_LIST_MAX		200
#define FILES_LIST_DEFAULT	100

static int	read_upload(struct req *, struct upload **);
static int	read_sha256(struct req *, char out[FILE_SHA256_HEX + 1]);
static int	file_for_caller(struct req *, int64_t id, struct file_row *);
static void	pack_file(const struct file_row *, void *);
static int64_t	chunk_max(void);

/* A chunk and its envelope must fit a frame of the configured size. */
static int64_t
chunk_max(void)
{
	int64_t	fit = (int64_t)server.cfg.max_frame - 1024;

	return fit < FILE_CHUNK_MAX ? (fit > 0 ? fit : 1) : FILE_CHUNK_MAX;
}

/* The caller's upload named by upload_id: another user's, or one that is
 * gone, is not found alike. */
static int
read_upload(struct req *r, struct upload **u)
{
	const char	*id;

	if (arg_str(r, "upload_id", ARG_REQUIRED, FILE_UPLOAD_ID_HEX,
	    FILE_UPLOAD_ID_HEX, &id) != 0)
		return -1;
	files_expire(r->now);
	*u = uploads_find(id);
	if (*u == NULL || (*u)->user_id != req_user_id(r) ||
	    (*u)->conn_id != r->conn->id)
		return req_fail(r, ERR_NOT_FOUND, "no upload %s on this "
		    "connection (finished, aborted or idle for %d minutes)", id,
		    FILE_UPLOAD_IDLE / 60);
	return 0;
}

/* sha256 as 64 hex digits, either case; stored lower-case. */
static int
read_sha256(struct req *r, char out[FILE_SHA256_HEX + 1])
{
	const char	*s;
	size_t		 i;

	if (arg_str(r, "sha256", ARG_REQUIRED, FILE_SHA256_HEX, FILE_SHA256_HEX,
	    &s) != 0)
		return -1;
	for (i = 0; i < FILE_SHA256_HEX; i++) {
		char	c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return req_fail(r, ERR_BAD_REQUEST,
			    "sha256: must be 64 hexadecimal digits");
		out[i] = c;
	}
	out[FILE_SHA256_HEX] = '\0';
	return 0;
}

/* The file if the caller may see its patient (audited as the op); a
 * missing id answers like someone else's file. */
static int
file_for_caller(struct req *r, int64_t id, struct file_row *f)
{
	char	target[64];

	snprintf(target, sizeof target, "file %lld", (long long)id);
	if (files_by_id(id, f) != 0)
		return access_clinical_missing(r, r->op->name, target);
	return access_clinical(r, f->patient_id, r->op->name, target);
}

static void
pack_file(const struct file_row *f, void *arg)
{
	files_pack(arg, f);
}

/* --- files.begin --- */

int
op_files_begin(struct req *r)
{
	struct record	*rec;
	struct upload	*u;
	const char	*name, *why;
	char		 target[64];
	int64_t		 record_id, size;
	int		 mime, named, status = OP_FAIL;

	if (args_only(r, "record_id", "name", "mime", "size", NULL) != 0 ||
	    arg_int(r, "record_id", ARG_REQUIRED, 1, INT64_MAX, &record_id,
	    NULL) != 0 ||
	    arg_str(r, "name", ARG_REQUIRED, 1, FILE_NAME_MAX_CHARS, &name) != 0 ||
	    arg_enum(r, "mime", ARG_REQUIRED, file_mimes, &mime, NULL) != 0 ||
	    arg_int(r, "size", ARG_REQUIRED, 1, INT64_MAX, &size, NULL) != 0)
		return OP_FAIL;
	if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return req_fail(r, ERR_BAD_REQUEST,
		    "name: a file name, not a path (no / or \\)");
	if ((uint64_t)size > (uint64_t)server.cfg.max_file_bytes)
		return req_fail(r, ERR_TOO_LARGE, "size: %lld bytes is over the "
		    "limit of %zu", (long long)size, server.cfg.max_file_bytes);
	/* A name that claims another of our types is a mistake or a trick. */
	if ((named = file_type_of_name(name)) >= 0 && named != mime)
		return req_fail(r, ERR_BAD_REQUEST, "name: its extension says %s, "
		    "not %s", file_mimes[named], file_mimes[mime]);
	files_expire(r->now);

	rec = xcalloc(1, sizeof *rec);
	snprintf(target, sizeof target, "record %lld", (long long)record_id);
	if (records_by_id(record_id, 0, rec) != 0) {
		access_clinical_missing(r, "files.begin", target);
		goto out;
	}
	if (access_clinical(r, rec->patient_id, "files.begin", target) != 0)
		goto out;
	if (uploads_count(req_user_id(r)) >= FILE_UPLOADS_PER_USER) {
		req_fail(r, ERR_CONFLICT, "%d uploads are already in progress; "
		    "commit or abort one first", FILE_UPLOADS_PER_USER);
		goto out;
	}
	u = uploads_begin(r->conn->id, req_user_id(r), record_id,
	    rec->patient_id, name, (enum file_type)mime, size, r->now, &why);
	if (u == NULL) {
		req_fail(r, ERR_UNAVAILABLE, "%s", why);
		goto out;
	}
	msgpack_pack_map(&r->pk, 3);
	mp_pack_kv_str(&r->pk, "upload_id", u->id);
	mp_pack_kv_int(&r->pk, "chunk_max", chunk_max());
	mp_pack_kv_int(&r->pk, "expires_after", FILE_UPLOAD_IDLE);
	status = OP_OK;
out:
	free(rec);
	return status;
}

/* --- files.chunk --- */

int
op_files_chunk(struct req *r)
{
	const msgpack_object	*bytes;
	struct upload		*u;
	int64_t			 offset;

	if (args_only(r, "upload_id", "offset", "bytes", NULL) != 0 ||
	    arg_int(r, "offset", ARG_REQUIRED, 0, INT64_MAX, &offset, NULL) != 0)
		return OP_FAIL;
	bytes = mp_map_get(r->args, "bytes");
	if (bytes == NULL)
		return req_fail(r, ERR_BAD_REQUEST, "bytes: required");
	if (bytes->type != MSGPACK_OBJECT_BIN)
		return req_fail(r, ERR_BAD_REQUEST, "bytes: must be binary "
		    "(msgpack bin)");
	if (bytes->via.bin.size == 0)
		return req_fail(r, ERR_BAD_REQUEST, "bytes: must not be empty");
	if ((int64_t)bytes->via.bin.size > chunk_max())
		return req_fail(r, ERR_TOO_LARGE, "bytes: at most %lld per chunk",
		    (long long)chunk_max());
	if (read_upload(r, &u) != 0)
		return OP_FAIL;
	if (offset != u->received)
		return req_fail(r, ERR_CONFLICT, "offset: must be %lld, the bytes "
		    "received so far", (long long)u->received);
	if ((int64_t)bytes->via.bin.size > u->size - u->received)
		return req_fail(r, ERR_TOO_LARGE, "bytes: %lld more than the "
		    "declared size of %lld", (long long)(u->received +
		    (int64_t)bytes->via.bin.size - u->size), (long long)u->size);
	if (uploads_write(u, bytes->via.bin.ptr, bytes->via.bin.size,
	    r->now) != 0) {
		uploads_drop(u);
		return req_fail(r, ERR_UNAVAILABLE, "store unavailable; the upload "
		    "was discarded");
	}
	msgpack_pack_map(&r->pk, 2);
	mp_pack_kv_int(&r->pk, "received", u->received);
	mp_pack_kv_int(&r->pk, "size", u->size);
	return OP_OK;
}

/* --- files.commit, files.abort --- */

int
op_files_commit(struct req *r)
{
	struct file_row	*f;
	struct upload	*u;
	char		 want[FILE_SHA256_HEX + 1], target[64];
	int		 type, status = OP_FAIL;

	if (args_only(r, "upload_id", "sha256", NULL) != 0 ||
	    read_sha256(r, want) != 0 || read_upload(r, &u) != 0)
		return OP_FAIL;
	if (u->received != u->size)
		return req_fail(r, ERR_BAD_REQUEST, "incomplete: %lld of %lld "
		    "bytes received", (long long)u->received, (long long)u->size);
	snprintf(target, sizeof target, "record %lld", (long long)u->record_id);
	/* A break-the-glass grant may have run out since files.begin. */
	if (access_clinical(r, u->patient_id, "files.commit", target) != 0) {
		uploads_drop(u);
		return OP_FAIL;
	}
	f = xcalloc(1, sizeof *f);
	if (uploads_verify(u, f->sha256, &type) != 0) {
		uploads_drop(u);
		req_fail(r, ERR_UNAVAILABLE, "store unavailable; the upload was "
		    "discarded");
		goto out;
	}
	if (strcmp(f->sha256, want) != 0) {
		audit_req(r, "files.refused", u->patient_id, target,
		    "sha256 mismatch: got %s", f->sha256);
		uploads_drop(u);
		req_fail(r, ERR_BAD_REQUEST, "sha256: does not match the bytes "
		    "received; the upload was discarded");
		goto out;
	}
	if (type != (int)u->type) {
		audit_req(r, "files.refused", u->patient_id, target,
		    "declared %s, content %s", file_mimes[u->type],
		    type >= 0 ? file_mimes[type] : "unknown");
		if (type >= 0)
			req_fail(r, ERR_BAD_REQUEST, "mime: the content is %s, "
			    "not %s; the upload was discarded", file_mimes[type],
			    file_mimes[u->type]);
		else
			req_fail(r, ERR_BAD_REQUEST, "mime: the content is none "
			    "of PDF, PNG, JPEG or UTF-8 text; the upload was "
			    "discarded");
		uploads_drop(u);
		goto out;
	}
	f->record_id = u->record_id;
	f->patient_id = u->patient_id;
	f->size = u->size;
	f->uploaded_by = u->user_id;
	f->created_at = r->now;
	strlcpy_mf(f->name, u->name, sizeof f->name);
	strlcpy_mf(f->mime, file_mimes[u->type], sizeof f->mime);
	/* On disk under its final name before the row exists: a crash in
	 * between leaves an orphan that the next start deletes, never a row
	 * without its bytes. */
	if (uploads_store(u, f->stored) != 0) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable; the upload was "
		    "discarded");
		goto out;
	}
	if (db_begin() != 0) {
		files_unlink_stored(f->stored);
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	if (files_insert(f) != 0) {
		db_rollback();
		files_unlink_stored(f->stored);
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	snprintf(target, sizeof target, "file %lld", (long long)f->id);
	audit_req(r, "files.written", f->patient_id, target,
	    "record %lld, %s, %lld bytes, sha256 %s", (long long)f->record_id,
	    f->mime, (long long)f->size, f->sha256);
	if (db_commit() != 0) {
		files_unlink_stored(f->stored);
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	if (files_by_id(f->id, f) != 0) {
		req_fail(r, ERR_INTERNAL, "file vanished");
		goto out;
	}
	msgpack_pack_map(&r->pk, 1);
	mp_pack_str(&r->pk, "file");
	files_pack(&r->pk, f);
	status = OP_OK;
out:
	free(f);
	return status;
}

int
op_files_abort(struct req *r)
{
	struct upload	*u;
	char		 target[64];

	if (args_only(r, "upload_id", NULL) != 0 || read_upload(r, &u) != 0)
		return OP_FAIL;
	snprintf(target, sizeof target, "record %lld", (long long)u->record_id);
	audit_req(r, "files.aborted", u->patient_id, target, "%lld of %lld bytes",
	    (long long)u->received, (long long)u->size);
	uploads_drop(u);
	msgpack_pack_map(&r->pk, 0);
	return OP_OK;
}

/* --- files.get, files.list --- */

int
op_files_get(struct req *r)
{
	struct file_row	*f;
	unsigned char	*buf = NULL;
	int64_t		 id, offset = 0, length = chunk_max();
	ssize_t		 n;
	int		 status = OP_FAIL;

	if (args_only(r, "file_id", "offset", "length", NULL) != 0 ||
	    arg_int(r, "file_id", ARG_REQUIRED, 1, INT64_MAX, &id, NULL) != 0 ||
	    arg_int(r, "offset", ARG_NULLABLE, 0, INT64_MAX, &offset, NULL) != 0 ||
	    arg_int(r, "length", ARG_NULLABLE, 1, chunk_max(), &length,
	    NULL) != 0)
		return OP_FAIL;
	f = xcalloc(1, sizeof *f);
	if (file_for_caller(r, id, f) != 0)
		goto out;
	if (offset > f->size) {
		req_fail(r, ERR_BAD_REQUEST, "offset: past the end (%lld bytes)",
		    (long long)f->size);
		goto out;
	}
	if (length > f->size - offset)
		length = f->size - offset;
	buf = xmalloc(length > 0 ? (size_t)length : 1);
	if ((n = files_read(f, offset, buf, (size_t)length)) != length) {
		req_fail(r, ERR_UNAVAILABLE, "store unavailable");
		goto out;
	}
	msgpack_pack_map(&r->pk, 6);
	mp_pack_str(&r->pk, "bytes");
	msgpack_pack_bin(&r->pk, (size_t)n);
	msgpack_pack_bin_body(&r->pk, buf, (size_t)n);
	mp_pack_kv_int(&r->pk, "offset", offset);
	mp_pack_kv_int(&r->pk, "total", f->size);
	mp_pack_kv_str(&r->pk, "sha256", f->sha256);
	mp_pack_kv_str(&r->pk, "name", f->name);
	mp_pack_kv_str(&r->pk, "mime", f->mime);
	status = OP_OK;
out:
	free(buf);
	free(f);
	return status;
}

int
op_files_list(struct req *r)
{
	struct record	*rec = NULL;
	char		 target[64];
	int64_t		 record_id = 0, patient_id = 0, limit = FILES_LIST_DEFAULT;
	int64_t		 total, n;
	int		 has_record = 0, has_patient = 0, status = OP_FAIL;

	if (args_only(r, "record_id", "patient_id", "limit", NULL) != 0 ||
	    arg_int(r, "record_id", ARG_NULLABLE, 1, INT64_MAX, &record_id,
	    &has_record) != 0 ||
	    arg_int(r, "patient_id", ARG_NULLABLE, 1, INT64_MAX, &patient_id,
	    &has_patient) != 0 ||
	    arg_int(r, "limit", ARG_NULLABLE, 1, FILES_LIST_MAX, &limit, NULL) != 0)
		return OP_FAIL;
	if (has_record && has_patient)
		return req_fail(r, ERR_BAD_REQUEST,
		    "give record_id or patient_id, not both");
	if (has_record) {
		rec = xcalloc(1, sizeof *rec);
		snprintf(target, sizeof target, "record %lld", (long long)record_id);
		if (records_by_id(record_id, 0, rec) != 0) {
			access_clinical_missing(r, "files.list", target);
			goto out;
		}
		patient_id = rec->patient_id;
	} else if (!has_patient) {
		/* A patient may leave out their own id. */
		if (access_patient_or_own(r, 0, &patient_id,
		    "record_id or patient_id") != 0)
			goto out;
		snprintf(target, sizeof target, "patient %lld", (long long)patient_id);
	} else
		snprintf(target, sizeof target, "patient %lld", (long long)patient_id);
	if (access_clinical(r, patient_id, "files.list", target) != 0)
		goto out;
	total = files_list(record_id, patient_id, INT64_MAX, NULL, NULL);
	n = total < limit ? total : limit;
	msgpack_pack_map(&r->pk, 2);
	mp_pack_str(&r->pk, "files");
	msgpack_pack_array(&r->pk, (uint32_t)n);
	files_list(record_id, patient_id, limit, pack_file, &r->pk);
	mp_pack_kv_int(&r->pk, "total", total);
	status = OP_OK;
out:
	free(rec);
	return status;
}
