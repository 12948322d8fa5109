/* walbuf.h -- a SQLite VFS over the default one, gathering WAL writes.
 *
 * SQLite writes a WAL frame in two calls, its 24-byte header then its page:
 * a commit of a few hundred bookings makes some 1,000 pwrite calls into the
 * WAL. This VFS keeps a WAL file's contiguous writes in a buffer and hands
 * them on in pieces of up to WALBUF_CAP bytes. Everything else passes
 * through unchanged.
 *
 * The buffer is written out before anything could need its bytes on disk
 * or in the page cache: before a read, a size, a truncation or a sync of
 * the WAL, before its handle closes, and before any lock or memory barrier
 * on the database's shared WAL index (where a commit is published to
 * other connections, and where this connection's write lock ends, after
 * which another process may write the same part of the WAL). With
 * synchronous = FULL, which is the only mode the store uses it in, every
 * commit syncs the WAL before it is published, so a commit's frames are on
 * disk before any reader can look for them; a failed write out fails that
 * sync, and the commit with it.
 */
#ifndef MF_WALBUF_H
#define MF_WALBUF_H

#include <stdint.h>

#define WALBUF_VFS_NAME	"mf-walbuf"
/* Under 128 KiB: SQLite 3.40's unix VFS cannot write that much in one call
 * (seekAndWrite masks the length with 0x1ffff). */
#define WALBUF_CAP	(120 * 1024)

/* Registers the VFS (not as the default); 0, or an SQLite error code. */
int	walbuf_register(void);

/* What went through the VFS since it was registered, for the tests. */
struct walbuf_stats {
	uint64_t	wal_writes;	/* xWrite calls on WAL files */
	uint64_t	wal_flushes;	/* writes handed on to the file */
	uint64_t	wal_bytes_in;	/* bytes SQLite wrote to them */
	uint64_t	wal_bytes;	/* of them, handed on to the file */
};
void	walbuf_stats(struct walbuf_stats *);

#endif
