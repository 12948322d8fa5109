/* cancel-reasons.h -- the clinic's closed list of cancellation reasons
 * (table cancel_reasons). */
#ifndef MF_CANCEL_REASONS_H
#define MF_CANCEL_REASONS_H

#include <stddef.h>

#define CANCEL_REASONS_MAX		50
#define CANCEL_REASON_MAX_CHARS		200

/* Calls fn for each reason, in the list's order; returns how many. */
int	cancel_reasons_list(void (*fn)(const char *, void *), void *arg);
/* 1 if reason is on the list. */
int	cancel_reasons_has(const char *reason);
/* Replaces the whole list in the caller's write transaction; 0 or -1. */
int	cancel_reasons_replace(const char *const *reasons, size_t n);

#endif
