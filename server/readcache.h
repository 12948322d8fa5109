/* readcache.h -- answers to repeated reads, kept until the store changes.
 *
 * A read op whose answer depends only on its (already access-checked)
 * arguments and the database may keep the packed answer here. Any change
 * to the database, by this server or by another process, drops every
 * entry: the key is checked against SQLite's data version and this
 * connection's change count on every lookup, and nothing is kept or served
 * while a write transaction is open (its rows are not committed yet). */
#ifndef MF_READCACHE_H
#define MF_READCACHE_H

#include <stddef.h>
#include <stdint.h>

#define READCACHE_KEY_MAX	64

/*
 * Looks a key up. Returns 1 with the packed answer in *val (valid until
 * the next readcache call) and the count stored with it, 0 on a miss.
 */
int	readcache_get(const void *key, size_t klen, const char **val,
	    size_t *vlen, int64_t *count);
/* Keeps an answer the caller just read under the state readcache_get saw. */
void	readcache_put(const void *key, size_t klen, const char *val,
	    size_t vlen, int64_t count);
/* Drops everything (tests, shutdown). */
void	readcache_clear(void);

#endif
