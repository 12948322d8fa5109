/* ratelimit.h -- "N per window" limits by key (GCRA: one timestamp a key).
 *
 * A key may spend its whole allowance at once, then earns it back evenly
 * over the window (one event every window/limit seconds): "100 per 15 min"
 * allows a burst of 100, and 100 per 15 minutes sustained. (One window may
 * see up to 2 * limit - 1: the burst, then the allowance earned back.)
 * Times are passed in, so tests need no sleeping. */
#ifndef MF_RATELIMIT_H
#define MF_RATELIMIT_H

#include <stddef.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void	 ratelimit_free(struct ratelimit *);
/* Counts one event; 0 if allowed, else -1 with the seconds to wait in *retry_after. */
int	 ratelimit_hit(struct ratelimit *, const char *key, int limit, int window,
	     double now, double *retry_after);
/* Like hit, but counts nothing: would one more event be allowed? */
int	 ratelimit_peek(struct ratelimit *, const char *key, int limit, int window,
	     double now, double *retry_after);
/* Forgets a key (a successful login clears its failures). */
void	 ratelimit_reset(struct ratelimit *, const char *key);
/* Drops keys that are back to a full allowance; returns how many remain. */
size_t	 ratelimit_sweep(struct ratelimit *, double now);
size_t	 ratelimit_size(const struct ratelimit *);

#endif
