/* Helpers the benchmark programs share: a clock and a sort order. */
#ifndef REVOKD_BENCH_H
#define REVOKD_BENCH_H

#include <time.h>

/* Return a monotonic time in nanoseconds. */
static inline double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Compare two doubles for qsort. */
static inline int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif
