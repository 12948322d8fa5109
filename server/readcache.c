/* readcache.c -- answers to repeated reads, kept until the store changes.
 *
 * A front desk asks for the same doctor's day again and again between two
 * changes to the calendar; each answer costs a join per appointment. This
 * keeps packed answers in a table of 4-way sets (a full set gives up its
 * slots in turn), all of them belonging to one state of the store.
 *
 * The state is (PRAGMA data_version, sqlite3_total_changes64): the first
 * moves when another connection commits (the backup worker reads only, but
 * an admin's sqlite3 shell might write), the second on every row this
 * connection inserts, updates or deletes, committed or not. When it moves,
 * every entry goes. While a write transaction is open its rows are visible
 * to our reads but may still roll back, so then nothing is served or kept.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "readcache.h"
#include "util.h"

/*
 * Sized for a big clinic's working set: 200 doctors' weekdays from two
 * months back to two months ahead are 17,000 lists of about 20
 * appointments, 7 KB each, 125 MB in all. With fewer slots, or a cap below that, a desk
 * paging through the calendar keeps pushing out what it will ask for
 * next, and every such miss costs a join per appointment again. The slots
 * themselves are 7 MB, taken on the first answer kept; the answers only
 * as they come.
 */
#define READCACHE_SLOTS		65536
#define READCACHE_WAYS		4
#define READCACHE_BYTES		(256u << 20)	/* answers kept, in all */

struct rc_slot {
	uint64_t	 hash;
	size_t		 klen;
	unsigned char	 key[READCACHE_KEY_MAX];
	char		*val;
	size_t		 vlen;
	int64_t		 count;
	uint32_t	 used_at;	/* its index in used[] */
};

/*
 * used[] lists the slots holding an answer, so that dropping everything,
 * which every write to the store causes, costs what is held rather than a
 * walk over every slot.
 */
static struct rc_slot	*slots;
static uint32_t		*used;
static size_t		 nused;
static size_t		 bytes;
static struct db_seen	 state_seen;	/* the store checked */
static int64_t		 state_changes = -1;
static uint64_t		 state_gen = UINT64_MAX;	/* the snapshot checked */
static int		 usable;	/* the last get saw a state we may use */
static unsigned		 victim;	/* the next way a full set gives up */

static uint64_t
rc_hash(const unsigned char *p, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;	/* FNV-1a */

	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The first slot of the set a hash falls in. */
static struct rc_slot *
rc_set(uint64_t h)
{
	return &slots[(h % (READCACHE_SLOTS / READCACHE_WAYS)) * READCACHE_WAYS];
}

static void
rc_slot_free(struct rc_slot *s)
{
	uint32_t	last = used[--nused];

	used[s->used_at] = last;
	slots[last].used_at = s->used_at;
	bytes -= s->vlen;
	free(s->val);
	memset(s, 0, sizeof *s);
}

void
readcache_clear(void)
{
	while (nused > 0)
		rc_slot_free(&slots[used[nused - 1]]);
}

/* Checks the store's state; 0 when entries of this state may be used. */
static int
rc_check_state(void)
{
	sqlite3		*h = db_handle();
	int64_t		 changes;
	uint64_t	 gen;
	int		 moved;

	if (h == NULL || sqlite3_txn_state(h, "main") == SQLITE_TXN_WRITE)
		return -1;
	/* The loop turn's snapshot we checked already: no other process's
	 * commit can show in it, and our own rows would move the count. */
	changes = sqlite3_total_changes64(h);
	if (db_read_snapshot(&gen) && gen == state_gen &&
	    db_serial() == state_seen.serial && changes == state_changes)
		return 0;
	/* Reading data_version also takes the read snapshot the op then
	 * reads from. */
	if ((moved = db_seen_moved(&state_seen)) < 0)
		return -1;
	if (moved || changes != state_changes) {
		readcache_clear();
		state_changes = changes;
	}
	if (!db_read_snapshot(&state_gen))
		state_gen = UINT64_MAX;
	return 0;
}

int
readcache_get(const void *key, size_t klen, const char **val, size_t *vlen,
    int64_t *count)
{
	struct rc_slot	*s;
	uint64_t	 h;
	size_t		 i;

	usable = 0;
	if (klen > READCACHE_KEY_MAX || rc_check_state() != 0)
		return 0;
	usable = 1;
	if (slots == NULL)
		return 0;
	h = rc_hash(key, klen);
	s = rc_set(h);
	for (i = 0; i < READCACHE_WAYS; i++, s++) {
		if (s->val != NULL && s->hash == h && s->klen == klen &&
		    memcmp(s->key, key, klen) == 0) {
			*val = s->val;
			*vlen = s->vlen;
			*count = s->count;
			return 1;
		}
	}
	return 0;
}

void
readcache_put(const void *key, size_t klen, const char *val, size_t vlen,
    int64_t count)
{
	struct rc_slot	*s, *set;
	sqlite3		*h = db_handle();
	uint64_t	 hash;
	size_t		 i;

	/* Only what was read under the state the last get checked. */
	if (!usable || klen > READCACHE_KEY_MAX ||
	    db_serial() != state_seen.serial ||
	    sqlite3_txn_state(h, "main") == SQLITE_TXN_WRITE ||
	    sqlite3_total_changes64(h) != state_changes)
		return;
	usable = 0;
	if (slots == NULL) {
		slots = xcalloc(READCACHE_SLOTS, sizeof *slots);
		used = xcalloc(READCACHE_SLOTS, sizeof *used);
	}
	hash = rc_hash(key, klen);
	set = rc_set(hash);
	s = &set[victim++ % READCACHE_WAYS];
	for (i = 0; i < READCACHE_WAYS; i++) {
		if (set[i].val == NULL) {
			s = &set[i];
			break;
		}
	}
	if (s->val != NULL)
		rc_slot_free(s);
	if (bytes + vlen > READCACHE_BYTES)
		return;
	s->hash = hash;
	s->klen = klen;
	memcpy(s->key, key, klen);
	s->val = xmalloc(vlen > 0 ? vlen : 1);
	if (vlen > 0)
		memcpy(s->val, val, vlen);
	s->vlen = vlen;
	s->count = count;
	s->used_at = (uint32_t)nused;
	used[nused++] = (uint32_t)(s - slots);
	bytes += vlen;
}
