/* ratelimit.c -- GCRA limits in an open-addressing hash table. */
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "util.h"

struct rl_entry {
	char	*key;		/* NULL: empty slot; TOMBSTONE: deleted */
	double	 tat;		/* theoretical arrival time */
};

struct ratelimit {
	struct rl_entry	*slots;
	size_t		 cap;	/* a power of two */
	size_t		 used;	/* live + tombstones */
	size_t		 live;
};

static char	tombstone_marker;
#define TOMBSTONE (&tombstone_marker)

static uint64_t
hash_key(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit	*rl = xcalloc(1, sizeof *rl);

	rl->cap = 64;
	rl->slots = xcalloc(rl->cap, sizeof *rl->slots);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	size_t	i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->cap; i++) {
		if (rl->slots[i].key != NULL && rl->slots[i].key != TOMBSTONE)
			free(rl->slots[i].key);
	}
	free(rl->slots);
	free(rl);
}

static struct rl_entry *
rl_find(struct ratelimit *rl, const char *key)
{
	size_t	i, mask = rl->cap - 1, pos = hash_key(key) & mask;

	for (i = 0; i < rl->cap; i++, pos = (pos + 1) & mask) {
		struct rl_entry	*e = &rl->slots[pos];

		if (e->key == NULL)
			return NULL;
		if (e->key != TOMBSTONE && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

static void
rl_grow(struct ratelimit *rl, size_t cap)
{
	struct rl_entry	*old = rl->slots;
	size_t		 oldcap = rl->cap, i;

	rl->slots = xcalloc(cap, sizeof *rl->slots);
	rl->cap = cap;
	rl->used = rl->live = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key != NULL && old[i].key != TOMBSTONE) {
			size_t	mask = cap - 1, pos = hash_key(old[i].key) & mask;

			while (rl->slots[pos].key != NULL)
				pos = (pos + 1) & mask;
			rl->slots[pos] = old[i];
			rl->used++;
			rl->live++;
		}
	}
	free(old);
}

static struct rl_entry *
rl_insert(struct ratelimit *rl, const char *key, double tat)
{
	size_t	mask, pos;

	if ((rl->used + 1) * 4 >= rl->cap * 3)
		rl_grow(rl, rl->live * 4 >= rl->cap ? rl->cap * 2 : rl->cap);
	mask = rl->cap - 1;
	pos = hash_key(key) & mask;
	while (rl->slots[pos].key != NULL && rl->slots[pos].key != TOMBSTONE)
		pos = (pos + 1) & mask;
	if (rl->slots[pos].key == NULL)
		rl->used++;
	rl->slots[pos].key = xstrdup(key);
	rl->slots[pos].tat = tat;
	rl->live++;
	return &rl->slots[pos];
}

static int
rl_check(struct ratelimit *rl, const char *key, int limit, int window,
    double now, double *retry_after, int count)
{
	struct rl_entry	*e = rl_find(rl, key);
	double		 interval = (double)window / limit;
	double		 tolerance = window - interval;
	double		 tat = e != NULL && e->tat > now ? e->tat : now;

	if (tat - now > tolerance + 1e-9) {
		*retry_after = tat - tolerance - now;
		return -1;
	}
	*retry_after = 0;
	if (!count)
		return 0;
	if (e == NULL)
		rl_insert(rl, key, tat + interval);
	else
		e->tat = tat + interval;
	return 0;
}

int
ratelimit_hit(struct ratelimit *rl, const char *key, int limit, int window,
    double now, double *retry_after)
{
	return rl_check(rl, key, limit, window, now, retry_after, 1);
}

int
ratelimit_peek(struct ratelimit *rl, const char *key, int limit, int window,
    double now, double *retry_after)
{
	return rl_check(rl, key, limit, window, now, retry_after, 0);
}

void
ratelimit_reset(struct ratelimit *rl, const char *key)
{
	struct rl_entry	*e = rl_find(rl, key);

	if (e != NULL) {
		free(e->key);
		e->key = TOMBSTONE;
		rl->live--;
	}
}

size_t
ratelimit_sweep(struct ratelimit *rl, double now)
{
	size_t	i;

	for (i = 0; i < rl->cap; i++) {
		struct rl_entry	*e = &rl->slots[i];

		if (e->key != NULL && e->key != TOMBSTONE && e->tat <= now) {
			free(e->key);
			e->key = TOMBSTONE;
			rl->live--;
		}
	}
	/* Rebuild to clear tombstones. */
	rl_grow(rl, rl->cap);
	return rl->live;
}

size_t
ratelimit_size(const struct ratelimit *rl)
{
	return rl->live;
}
