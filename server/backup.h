/* backup.h -- online backups (SQLite's backup API), restores, and the data
 * dir lock that keeps a restore and a running server apart. */
#ifndef MF_BACKUP_H
#define MF_BACKUP_H

#include <stdint.h>

#define BACKUP_SHA256_HEX	65

struct backup_info {
	int64_t	bytes;
	int64_t	pages;
	char	sha256[BACKUP_SHA256_HEX];	/* lower-case hex */
};

/*
 * Copies the database at db_path, as one consistent snapshot, to dst: on a
 * connection of its own (so it may run on a worker thread, or in another
 * process while mediflowd writes: WAL readers do not block the writer),
 * through dst.tmp, fsync and rename, so dst is either whole or absent.
 * Refuses to overwrite dst. 0, or -1 with *cause (allocated).
 */
int	backup_take(const char *db_path, const char *dst, struct backup_info *,
	    char **cause);

/*
 * Replaces DATA_DIR/mediflow.db with the backup in file: takes the data dir
 * lock (so no server runs on it), checks a copy (PRAGMA integrity_check, a
 * MediFlow schema not newer than this build's), removes the old -wal and
 * -shm and renames the copy into place. 0, or -1 with *cause (allocated).
 */
int	backup_restore(const char *file, const char *data_dir, char **cause);

/*
 * Locks DATA_DIR/mediflowd.lock (flock, exclusive, not waiting) and writes
 * our pid in it. Returns the descriptor, held until exit, or -1 with *cause
 * (allocated) when another mediflowd or a restore holds it.
 */
int	datadir_lock(const char *data_dir, char **cause);

#endif
