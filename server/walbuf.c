/* walbuf.c -- a SQLite VFS over the default one, gathering WAL writes.
 *
 * See walbuf.h for what it does and when the buffer is written out. Each
 * file this VFS opens is a struct wb_file with the wrapped VFS's file behind
 * it; a WAL file gets a buffer only when it can be tied to the one main
 * database file of its name open through this VFS (its WAL index is that
 * file's shared memory, where the write-out points are).
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "walbuf.h"

struct wb_file {
	sqlite3_file	 base;		/* pMethods: wb_methods once open */
	sqlite3_file	*real;		/* the wrapped VFS's, after this */
	const char	*name;		/* valid until xClose (SQLite's word) */
	int		 is_main;
	struct wb_file	*next;		/* open main database files */
	struct wb_file	*wal;		/* a main file's open, buffered WAL */
	struct wb_file	*owner;		/* a buffered WAL's main file */
	unsigned char	*buf;		/* NULL: writes go straight through */
	size_t		 len;		/* bytes waiting, from off on */
	sqlite3_int64	 off;
};

static sqlite3_vfs		 wb_vfs;
static struct wb_file		*mains;
static struct walbuf_stats	 stats;	/* unlocked: one connection */
static int			 open_files;	/* for walbuf_register */

static const sqlite3_io_methods	wb_methods;

static sqlite3_mutex *
wb_mutex(void)
{
	return sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_VFS1);
}

/* Hands the waiting bytes on (none without a buffer); whatever happens,
 * the buffer is empty after. */
static int
wb_flush(struct wb_file *f)
{
	size_t	len = f->len;

	if (len == 0)
		return SQLITE_OK;
	f->len = 0;
	stats.wal_flushes++;
	stats.wal_bytes += len;
	return f->real->pMethods->xWrite(f->real, f->buf, (int)len, f->off);
}

/* Is wal the WAL of the main database file named main? */
static int
wb_wal_of(const char *wal, const char *main)
{
	size_t	n = strlen(main);

	return strncmp(wal, main, n) == 0 && strcmp(wal + n, "-wal") == 0;
}

static int
wb_close(sqlite3_file *file)
{
	struct wb_file	*f = (struct wb_file *)file, **pp;
	int		 rc, rc2;

	rc = wb_flush(f);
	sqlite3_mutex_enter(wb_mutex());
	open_files--;
	if (f->is_main) {
		for (pp = &mains; *pp != NULL; pp = &(*pp)->next)
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		if (f->wal != NULL)
			f->wal->owner = NULL;
	}
	if (f->owner != NULL)
		f->owner->wal = NULL;
	sqlite3_mutex_leave(wb_mutex());
	rc2 = f->real->pMethods->xClose(f->real);
	sqlite3_free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
wb_read(sqlite3_file *file, void *p, int n, sqlite3_int64 off)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if ((rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xRead(f->real, p, n, off);
}

static int
wb_write(sqlite3_file *file, const void *p, int n, sqlite3_int64 off)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if (f->buf == NULL)
		return f->real->pMethods->xWrite(f->real, p, n, off);
	stats.wal_writes++;
	stats.wal_bytes_in += (uint64_t)n;
	if (f->len > 0 && off == f->off + (sqlite3_int64)f->len &&
	    f->len + (size_t)n <= WALBUF_CAP) {
		memcpy(f->buf + f->len, p, (size_t)n);
		f->len += (size_t)n;
		return SQLITE_OK;
	}
	/* Not the next byte (a frame written again in place, a new WAL
	 * header) or no room: what waits goes first, in order. */
	if ((rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	if ((size_t)n > WALBUF_CAP) {
		stats.wal_flushes++;
		stats.wal_bytes += (uint64_t)n;
		return f->real->pMethods->xWrite(f->real, p, n, off);
	}
	memcpy(f->buf, p, (size_t)n);
	f->off = off;
	f->len = (size_t)n;
	return SQLITE_OK;
}

static int
wb_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if ((rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
wb_sync(sqlite3_file *file, int flags)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if ((rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int
wb_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if ((rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
wb_lock(sqlite3_file *file, int lock)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xLock(f->real, lock);
}

static int
wb_unlock(sqlite3_file *file, int lock)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xUnlock(f->real, lock);
}

static int
wb_check_reserved(sqlite3_file *file, int *out)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
wb_file_control(sqlite3_file *file, int op, void *arg)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if ((rc = wb_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
wb_sector_size(sqlite3_file *file)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
wb_device_characteristics(sqlite3_file *file)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/*
 * The WAL index. A main file's buffered WAL is written out before each of
 * these: a lock taken or given up (the end of a write transaction, after
 * which another connection may write the WAL), a barrier (a commit being
 * published), a mapping (recovery, growth of the index).
 */
static int
wb_wal_out(struct wb_file *f)
{
	return f->wal != NULL ? wb_flush(f->wal) : SQLITE_OK;
}

static int
wb_shm_map(sqlite3_file *file, int page, int size, int extend,
    void volatile **p)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	if ((rc = wb_wal_out(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xShmMap(f->real, page, size, extend, p);
}

static int
wb_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct wb_file	*f = (struct wb_file *)file;
	int		 rc;

	rc = wb_wal_out(f);
	/* Given up whatever happened: the bytes were written or are lost,
	 * and only a commit's sync (already past) could have needed them. */
	if (rc != SQLITE_OK && (flags & SQLITE_SHM_LOCK))
		return rc;
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
wb_shm_barrier(sqlite3_file *file)
{
	struct wb_file	*f = (struct wb_file *)file;

	/* Empty under synchronous = FULL: the commit's sync came first. */
	(void)wb_wal_out(f);
	f->real->pMethods->xShmBarrier(f->real);
}

static int
wb_shm_unmap(sqlite3_file *file, int delete_flag)
{
	struct wb_file	*f = (struct wb_file *)file;

	(void)wb_wal_out(f);
	return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int
wb_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **p)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xFetch(f->real, off, n, p);
}

static int
wb_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct wb_file	*f = (struct wb_file *)file;

	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods wb_methods = {
	3,
	wb_close,
	wb_read,
	wb_write,
	wb_truncate,
	wb_sync,
	wb_file_size,
	wb_lock,
	wb_unlock,
	wb_check_reserved,
	wb_file_control,
	wb_sector_size,
	wb_device_characteristics,
	wb_shm_map,
	wb_shm_lock,
	wb_shm_barrier,
	wb_shm_unmap,
	wb_fetch,
	wb_unfetch
};

static int
wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file,
    int flags, int *out_flags)
{
	sqlite3_vfs	*under = vfs->pAppData;
	struct wb_file	*f = (struct wb_file *)file, *m, *owner = NULL;
	int		 rc, matches = 0;

	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(f + 1);
	rc = under->xOpen(under, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || f->real->pMethods == NULL)
		return rc;
	/* The wrappers call xShm* and xFetch, which "unix" has. */
	if (f->real->pMethods->iVersion < 3) {
		f->real->pMethods->xClose(f->real);
		return SQLITE_CANTOPEN;
	}
	f->base.pMethods = &wb_methods;
	f->name = name;
	sqlite3_mutex_enter(wb_mutex());
	open_files++;
	if ((flags & SQLITE_OPEN_MAIN_DB) && name != NULL) {
		f->is_main = 1;
		f->next = mains;
		mains = f;
	} else if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
		for (m = mains; m != NULL; m = m->next)
			if (m->wal == NULL && wb_wal_of(name, m->name)) {
				owner = m;
				matches++;
			}
		/* Two connections on one file here: which index is whose is
		 * not known, so this WAL is written straight through. */
		if (matches == 1 &&
		    (f->buf = sqlite3_malloc(WALBUF_CAP)) != NULL) {
			f->owner = owner;
			owner->wal = f;
		}
	}
	sqlite3_mutex_leave(wb_mutex());
	return SQLITE_OK;
}

/*
 * Wraps the default VFS ("unix", or a test's shim registered as default
 * before the store opens); once no file is open through it, a later call
 * wraps whatever is the default then.
 */
int
walbuf_register(void)
{
	sqlite3_vfs	*under = sqlite3_vfs_find(NULL);

	if (under == NULL)
		return SQLITE_ERROR;
	if (wb_vfs.zName != NULL) {
		if (wb_vfs.pAppData == under || open_files > 0)
			return SQLITE_OK;
		sqlite3_vfs_unregister(&wb_vfs);
		wb_vfs.zName = NULL;
	}
	/* Everything but opening is the wrapped VFS's own; "unix" does not
	 * look at the vfs it is called with beyond mxPathname. */
	wb_vfs = *under;
	wb_vfs.szOsFile = (int)sizeof(struct wb_file) + under->szOsFile;
	wb_vfs.pNext = NULL;
	wb_vfs.zName = WALBUF_VFS_NAME;
	wb_vfs.pAppData = under;
	wb_vfs.xOpen = wb_open;
	if (sqlite3_vfs_register(&wb_vfs, 0) != SQLITE_OK) {
		wb_vfs.zName = NULL;
		return SQLITE_ERROR;
	}
	return SQLITE_OK;
}

void
walbuf_stats(struct walbuf_stats *out)
{
	*out = stats;
}
