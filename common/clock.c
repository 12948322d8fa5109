/* clock.c -- the wall clock, injectable for tests. */
#include <time.h>

#include "clock.h"

static int64_t	offset;

int64_t
clock_now(void)
{
	return (int64_t)time(NULL) + offset;
}

double
clock_now_precise(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9 + (double)offset;
}

void
clock_advance(int64_t seconds)
{
	offset += seconds;
}

int64_t
clock_offset(void)
{
	return offset;
}
