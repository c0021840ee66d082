/* Numbers and durations on command lines: "42"; "900", "15m", "2h", "7d". */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "duration.h"

/* Parse a duration into seconds; -1 if invalid. */
long long
duration_parse(const char *s)
{
	char		*end;
	long long	 v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's':
			mul = 1;
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > LLONG_MAX / mul)
		return -1;
	return v * mul;
}

/* Parse plain decimal digits (no sign, no blanks); -1 if invalid. */
long long
number_parse(const char *s)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return v;
}
