/* clock.h -- the wall clock, injectable for tests. */
#ifndef MF_CLOCK_H
#define MF_CLOCK_H

#include <stdint.h>

/* UTC seconds, plus the test offset. */
int64_t	clock_now(void);
/* UTC seconds with sub-second precision, plus the test offset. */
double	clock_now_precise(void);
/* Moves the clock forward (tests only; the server exposes it behind --test-clock). */
void	clock_advance(int64_t);
int64_t	clock_offset(void);

#endif
