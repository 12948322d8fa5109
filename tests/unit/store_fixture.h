/* store_fixture.h -- a throwaway store for the unit tests that drive db.c:
 * a database file in a fresh temp dir, opened by db_open, with group commit
 * on an event base of its own. Included by one test program each, so its
 * functions are static inline. */
#ifndef MF_STORE_FIXTURE_H
#define MF_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "db.h"

struct store_fixture {
	char			 dir[64];
	char			 path[300];
	struct event_base	*base;
};

/* Removes a database file and the WAL and shared-memory files beside it. */
static inline void
store_fixture_remove(const char *path)
{
	char	p[320];

	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

/* 0, or -1 with the reason printed; name tells the temp dirs apart. */
static inline int
store_fixture_open(struct store_fixture *f, const char *name, int sync_full,
    void (*on_open)(void), void (*on_close)(int))
{
	char	*cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/mediflow-%s-XXXXXX", name);
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
	if ((f->base = event_base_new()) == NULL)
		return -1;
	if (db_open(f->path, sync_full, &cause) != 0) {
		fprintf(stderr, "db_open: %s\n", cause);
		free(cause);
		return -1;
	}
	db_batch_start(f->base, on_open, on_close);
	return 0;
}

static inline void
store_fixture_close(struct store_fixture *f)
{
	db_batch_stop();
	db_close();
	event_base_free(f->base);
	f->base = NULL;
	store_fixture_remove(f->path);
	rmdir(f->dir);
}

#endif
