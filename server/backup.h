/* backup.h -- online backups (SQLite's backup API, and the attachments the
 * snapshot names), restores, and the data dir lock that keeps a restore and
 * a running server apart. */
#ifndef MF_BACKUP_H
#define MF_BACKUP_H

#include <stdint.h>

#define BACKUP_SHA256_HEX	65
#define BACKUP_MISSING_IDS	20	/* missing attachments named in a result */

struct backup_info {
	int64_t	bytes;
	int64_t	pages;
	char	sha256[BACKUP_SHA256_HEX];	/* lower-case hex */
	int64_t	files;		/* attachments in the backup */
	int64_t	file_bytes;	/* and their bytes */
	int64_t	files_linked;	/* of them hard links, not copies */
	int64_t	files_missing;	/* named by the snapshot, absent or torn */
	int64_t	missing_ids[BACKUP_MISSING_IDS];	/* the first of those */
};

/*
 * The directory that holds a backup's attachments, beside it: X.db has
 * X.files/, any other name X has X.files/. Allocated.
 */
char	*backup_files_dir(const char *file);

/*
 * Copies DATA_DIR/mediflow.db, as one consistent snapshot, to dst: on a
 * connection of its own (so it may run on a worker thread, or in another
 * process while mediflowd writes: WAL readers do not block the writer),
 * through dst.tmp, fsync and rename, so dst is either whole or absent.
 * Then every attachment the snapshot names goes from DATA_DIR/files/ into
 * backup_files_dir(dst) (a hard link when it can: the files never change
 * once stored), before dst appears: a backup whose dst exists is complete.
 * An attachment that is absent, or not of its row's size, is counted in
 * info->files_missing and logged; the rest of the backup is still made.
 * Refuses to overwrite dst or its files dir. 0, or -1 with *cause
 * (allocated).
 */
int	backup_take(const char *data_dir, const char *dst, struct backup_info *,
	    char **cause);

/*
 * Replaces DATA_DIR/mediflow.db and the attachments in DATA_DIR/files with
 * the backup in file and its backup_files_dir(file): takes the data dir
 * lock (so no server runs on it), builds the restore in DATA_DIR/restore.tmp
 * and checks it there (PRAGMA integrity_check, a MediFlow schema not newer
 * than this build's, every attachment the database names present with its
 * row's size and sha256), then moves the attachments into files/, removes
 * the old -wal and -shm, renames the database into place and deletes the
 * attachments it does not name. *files and *file_bytes say what came back.
 * 0, or -1 with *cause (allocated) naming the first thing wrong.
 */
int	backup_restore(const char *file, const char *data_dir, int64_t *files,
	    int64_t *file_bytes, char **cause);

/*
 * Locks DATA_DIR/mediflowd.lock (flock, exclusive, not waiting) and writes
 * our pid in it. Returns the descriptor, held until exit, or -1 with *cause
 * (allocated) when another mediflowd or a restore holds it.
 */
int	datadir_lock(const char *data_dir, char **cause);

#endif
