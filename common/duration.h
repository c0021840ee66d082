/* Numbers and durations on command lines: "42"; "900", "15m", "2h", "7d". */
#ifndef REVOKD_DURATION_H
#define REVOKD_DURATION_H

/* Parse a duration into seconds: digits with an optional s, m, h or d
 * suffix. Returns -1 if s is not one or does not fit a long long. */
long long duration_parse(const char *s);
/* Parse plain decimal digits (no sign, no blanks) that fit a long long;
 * -1 if s is not that. */
long long number_parse(const char *s);

#endif
