/*
 * Benchmark of the blocklist: N random UUID v4 jtis (default 1,000,000,
 * argv[1] overrides). Prints insert and lookup times, bytes per entry as
 * the blocklist counts them and as the process's resident set grew, and
 * the time the sweep takes to expire everything.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "blocklist.h"

#define UUID_LEN	36		/* bytes of a UUID string */
#define NOW		1700000000	/* the benchmark's "now" */
#define ISS		"https://issuer.example"
#define ISS_MISS	"https://other.example"

/* Return the next value of a splitmix64 generator. */
static uint64_t
rnd(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Write a random UUID v4 string (UUID_LEN bytes, no NUL) into out. */
static void
mkuuid(uint64_t *state, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	uint64_t		 a = rnd(state), b = rnd(state);
	uint8_t			 u[16];
	int			 i, j;

	for (i = 0; i < 8; i++) {
		u[i] = (uint8_t)(a >> (8 * i));
		u[8 + i] = (uint8_t)(b >> (8 * i));
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);	/* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	for (i = 0, j = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[u[i] >> 4];
		out[j++] = hex[u[i] & 0xf];
	}
}

/* Return the resident set size of the process in bytes. */
static size_t
rss_bytes(void)
{
	FILE		*f;
	unsigned long	 size, resident;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Print one row of the results table. */
static void
row(const char *what, double value, const char *unit)
{
	printf("  %-28s %12.1f  %s\n", what, value, unit);
}

/* Run the benchmark. */
int
main(int argc, char *argv[])
{
	struct blocklist	*bl;
	uint8_t			 key[BLOCKLIST_KEY_LEN];
	uint64_t		 seed = 0x5eed;
	char			*jtis, *p;
	size_t			 n = 1000000, i, hits, rss0, rss1, mem, calls;
	double			 t0, t_ins, t_hit, t_miss, t_exp;
	int64_t			*exps;

	if (argc > 1 && (n = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: %s [entries]\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rnd(&seed);
	/* Make the inputs (and touch them) before measuring RSS. */
	if ((jtis = malloc(n * UUID_LEN)) == NULL ||
	    (exps = malloc(n * sizeof(*exps))) == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (i = 0, p = jtis; i < n; i++, p += UUID_LEN) {
		mkuuid(&seed, p);
		exps[i] = NOW + 60 + (int64_t)(rnd(&seed) % 86400);
	}

	rss0 = rss_bytes();
	if ((bl = blocklist_new(key)) == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	t0 = now_ns();
	for (i = 0, p = jtis; i < n; i++, p += UUID_LEN) {
		if (blocklist_add(bl, ISS, strlen(ISS), p, UUID_LEN, exps[i],
		    i % 8 == 0 ? "logout" : NULL, i % 8 == 0 ? 6 : 0,
		    NOW) != 1) {
			fprintf(stderr, "add %zu failed\n", i);
			return 1;
		}
	}
	t_ins = now_ns() - t0;
	rss1 = rss_bytes();
	mem = blocklist_memory(bl);

	t0 = now_ns();
	for (i = 0, hits = 0, p = jtis; i < n; i++, p += UUID_LEN)
		hits += (size_t)blocklist_lookup(bl, ISS, strlen(ISS), p,
		    UUID_LEN, NOW, NULL);
	t_hit = now_ns() - t0;
	if (hits != n) {
		fprintf(stderr, "lookup found %zu of %zu\n", hits, n);
		return 1;
	}
	t0 = now_ns();
	for (i = 0, hits = 0, p = jtis; i < n; i++, p += UUID_LEN)
		hits += (size_t)blocklist_lookup(bl, ISS_MISS,
		    strlen(ISS_MISS), p, UUID_LEN, NOW, NULL);
	t_miss = now_ns() - t0;
	if (hits != 0) {
		fprintf(stderr, "lookup miss found %zu\n", hits);
		return 1;
	}

	printf("blocklist: %zu UUID v4 jtis, capacity %zu (load %.3f)\n", n,
	    blocklist_capacity(bl), (double)n / blocklist_capacity(bl));
	row("insert", t_ins / n, "ns/op");
	row("lookup hit", t_hit / n, "ns/op");
	row("lookup miss", t_miss / n, "ns/op");
	row("blocklist_memory per entry", (double)mem / n, "bytes");
	row("RSS delta per entry", ((double)rss1 - (double)rss0) / n,
	    "bytes");

	/* Expire all as the daemon would: a tenth of the table a call. */
	t0 = now_ns();
	for (calls = 0; blocklist_count(bl) > 0; calls++)
		(void)blocklist_expire(bl, NOW + 86400 + 60,
		    blocklist_capacity(bl) / 10 + 1);
	t_exp = now_ns() - t0;
	row("expire all (sweep)", t_exp / 1e6, "ms");
	row("  sweep calls", (double)calls, "calls");
	row("memory after expiry", (double)blocklist_memory(bl), "bytes");

	blocklist_free(bl);
	free(jtis);
	free(exps);
	return 0;
}
