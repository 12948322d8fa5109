/* files.h -- attachments of medical records (table files) and the uploads
 * in progress that become them.
 *
 * A file's bytes live in DATA_DIR/files/ under a random hex name the server
 * chose; an upload writes DATA_DIR/uploads/<random>.part and is fsync'ed and
 * renamed into files/ only when complete, checked (size, sha256, content
 * type) and about to get its row. Nothing a client sends ever becomes part
 * of a path. An upload that is aborted, abandoned, cut off with its
 * connection or killed with the server leaves no row and (after the next
 * start at the latest) no bytes. */
#ifndef MF_FILES_H
#define MF_FILES_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define FILE_CHUNK_MAX		(256 * 1024)	/* bytes per files.chunk / files.get */
#define FILE_NAME_MAX_CHARS	255
#define FILE_SHA256_HEX		64
#define FILE_STORED_HEX		32		/* a stored file's random name */
#define FILE_UPLOAD_ID_HEX	32
#define FILE_UPLOADS_PER_USER	4		/* open at once */
#define FILE_UPLOADS_MAX	64		/* open at once, server-wide */
#define FILE_UPLOAD_IDLE	(10 * 60)	/* seconds before an idle upload is dropped */

/* The content types we take, recognised by their bytes. */
enum file_type {
	FILE_PDF = 0,
	FILE_PNG,
	FILE_JPEG,
	FILE_TEXT,
	FILE__COUNT
};

/* "application/pdf" ...; the index is the enum file_type. */
extern const char *const file_mimes[FILE__COUNT + 1];

struct file_row {
	int64_t	id;
	int64_t	record_id;
	int64_t	patient_id;
	int64_t	size;
	int64_t	uploaded_by;
	int64_t	created_at;
	char	name[FILE_NAME_MAX_CHARS * 4 + 1];
	char	mime[32];
	char	sha256[FILE_SHA256_HEX + 1];
	char	stored[FILE_STORED_HEX + 1];
	char	uploader_name[801];
};

/* An upload in progress, owned by files.c. */
struct upload {
	char		 id[FILE_UPLOAD_ID_HEX + 1];
	uint64_t	 conn_id;	/* dropped with this connection */
	int64_t		 user_id;
	int64_t		 record_id;
	int64_t		 patient_id;
	char		*name;
	enum file_type	 type;
	int64_t		 size;		/* declared */
	int64_t		 received;
	int64_t		 touched_at;	/* clock_now() of the last step */
	int		 fd;
	char		*tmp_path;
};

/*
 * Incremental content check: feed the whole file in pieces, then ask.
 * Recognises PDF, PNG and JPEG by their magic numbers and plain text as
 * valid UTF-8 without NULs.
 */
struct file_sniff {
	unsigned char	head[8];
	size_t		nhead;
	int		utf8_need;	/* continuation bytes still expected */
	unsigned char	utf8_lo, utf8_hi;
	int		not_text;
};
void	file_sniff_init(struct file_sniff *);
void	file_sniff_feed(struct file_sniff *, const unsigned char *, size_t);
/* The type, or -1 when the bytes are none of ours. */
int	file_sniff_type(const struct file_sniff *);
/* The type a name's extension claims (".pdf" ...), or -1 for none of ours. */
int	file_type_of_name(const char *);

/* Creates files/ and uploads/, deletes leftover uploads and stored files
 * no row names (a crash between the rename and the COMMIT); 0 or -1. */
int	files_start(char **cause);
/* Drops every open upload (their temp files too). */
void	files_stop(void);
/* Drops the uploads of a connection that went away. */
void	files_conn_dropped(uint64_t conn_id);
/* Drops uploads idle since before now - FILE_UPLOAD_IDLE. */
void	files_expire(int64_t now);

/* A new upload (temp file created) or NULL with *why (static text). */
struct upload *uploads_begin(uint64_t conn_id, int64_t user_id, int64_t record_id,
	    int64_t patient_id, const char *name, enum file_type, int64_t size,
	    int64_t now, const char **why);
struct upload *uploads_find(const char *id);
/* How many uploads user_id has open. */
int	uploads_count(int64_t user_id);
/* Appends bytes at u->received; 0 or -1 (the disk). */
int	uploads_write(struct upload *, const void *, size_t, int64_t now);
/* Reads the temp file back: its sha256 (hex) and content type; 0 or -1. */
int	uploads_verify(struct upload *, char sha256[FILE_SHA256_HEX + 1], int *type);
/*
 * Makes the upload a stored file: fsync, rename into files/ under a new
 * random name (written to stored), fsync the directory. The upload is
 * freed either way. 0 or -1.
 */
int	uploads_store(struct upload *, char stored[FILE_STORED_HEX + 1]);
/* Deletes the upload and its temp file. */
void	uploads_drop(struct upload *);
/* Deletes a stored file (a row that did not commit). */
void	files_unlink_stored(const char *stored);

/* Inserts the row (f->id set); inside the caller's transaction. 0 or -1. */
int	files_insert(struct file_row *);
int	files_by_id(int64_t id, struct file_row *);
/* A record's (record_id) or a patient's files, newest first; returns how
 * many (fn NULL: only counts). */
int64_t	files_list(int64_t record_id, int64_t patient_id, int64_t limit,
	    void (*fn)(const struct file_row *, void *), void *arg);
/* Reads up to len bytes of a stored file at offset; bytes read or -1. */
ssize_t	files_read(const struct file_row *, int64_t offset, void *, size_t len);
void	files_pack(msgpack_packer *, const struct file_row *);

#endif
