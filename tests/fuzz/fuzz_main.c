/*
 * A driver for fuzz targets in builds without libFuzzer: replay every file
 * of a corpus directory, then a fixed-seed series of mutations of them
 * (byte flips, truncations, splices, insertions, random bytes).  A failed
 * invariant aborts, so reaching the summary line means no crash.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RANDOM_RUNS 20000	/* mutated inputs after the corpus */
#define FUZZ_MAX_FILE (1 << 20)	/* corpus files above this are cut */
#define FUZZ_MAX_INPUT 8192	/* mutated inputs are kept under this */

/* One corpus file in memory. */
struct fuzz_file {
	uint8_t	*data;	/* contents */
	size_t	 len;	/* length */
};

static uint64_t	 fuzz_state = 0x9e3779b97f4a7c15ULL; /* xorshift state */

/* Return the next pseudo-random number (xorshift64*). */
static uint64_t
fuzz_rand(void)
{
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * 0x2545f4914f6cdd1dULL;
}

/* Return a pseudo-random number below n (n > 0). */
static size_t
fuzz_below(size_t n)
{
	return (size_t)(fuzz_rand() % n);
}

/* Read a whole file; return 0 or -1. */
static int
fuzz_read(const char *path, struct fuzz_file *f)
{
	FILE	*fp;
	size_t	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	f->data = malloc(FUZZ_MAX_FILE);
	if (f->data == NULL) {
		fclose(fp);
		return -1;
	}
	n = fread(f->data, 1, FUZZ_MAX_FILE, fp);
	fclose(fp);
	f->len = n;
	return 0;
}

/* Build a mutation of the corpus into buf; return its length. */
static size_t
fuzz_mutate(const struct fuzz_file *files, size_t nfiles, uint8_t *buf)
{
	const struct fuzz_file	*a, *b;
	size_t			 len, i, n, at, cut;

	if (nfiles == 0 || fuzz_below(16) == 0) {
		/* Random bytes of a random length. */
		len = fuzz_below(512);
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)fuzz_rand();
		return len;
	}
	a = &files[fuzz_below(nfiles)];
	len = a->len < FUZZ_MAX_INPUT / 2 ? a->len : FUZZ_MAX_INPUT / 2;
	if (len > 0)
		memcpy(buf, a->data, len);
	n = 1 + fuzz_below(4);
	while (n-- > 0) {
		switch (fuzz_below(6)) {
		case 0:		/* flip a byte */
			if (len > 0)
				buf[fuzz_below(len)] ^=
				    (uint8_t)(1 + fuzz_below(255));
			break;
		case 1:		/* truncate */
			if (len > 0)
				len = fuzz_below(len + 1);
			break;
		case 2:		/* splice another file's head or tail */
			b = &files[fuzz_below(nfiles)];
			at = len > 0 ? fuzz_below(len + 1) : 0;
			cut = b->len > 0 ? fuzz_below(b->len + 1) : 0;
			if (at + (b->len - cut) > FUZZ_MAX_INPUT)
				break;
			memcpy(buf + at, b->data + cut, b->len - cut);
			len = at + (b->len - cut);
			break;
		case 3:		/* insert protocol-ish bytes */
			if (len + 8 > FUZZ_MAX_INPUT)
				break;
			at = fuzz_below(len + 1);
			memmove(buf + at + 2, buf + at, len - at);
			memcpy(buf + at, fuzz_below(2) ? "\r\n" : "*$", 2);
			len += 2;
			break;
		case 4:		/* set the fragmentation and limit bytes */
			if (len >= 2) {
				buf[0] = (uint8_t)fuzz_rand();
				buf[1] = (uint8_t)fuzz_rand();
			}
			break;
		default:	/* overwrite a digit run with a random one */
			if (len > 0) {
				at = fuzz_below(len);
				buf[at] = (uint8_t)('0' + fuzz_below(10));
			}
			break;
		}
	}
	return len;
}

/* Replay a corpus directory, then random mutations of it. */
int
main(int argc, char *argv[])
{
	struct fuzz_file	*files = NULL, *nf;
	size_t			 nfiles = 0, i, len, runs = 0;
	DIR			*d;
	struct dirent		*de;
	char			 path[4096];
	const char		*name;
	uint8_t			*buf;

	if (argc != 2) {
		fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
		return 2;
	}
	if ((d = opendir(argv[1])) == NULL) {
		perror(argv[1]);
		return 2;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", argv[1],
		    de->d_name) >= sizeof path)
			continue;
		nf = realloc(files, (nfiles + 1) * sizeof *files);
		if (nf == NULL)
			return 2;
		files = nf;
		if (fuzz_read(path, &files[nfiles]) == -1) {
			perror(path);
			return 2;
		}
		LLVMFuzzerTestOneInput(files[nfiles].data, files[nfiles].len);
		nfiles++;
		runs++;
	}
	closedir(d);

	if ((buf = malloc(FUZZ_MAX_INPUT)) == NULL)
		return 2;
	for (i = 0; i < FUZZ_RANDOM_RUNS; i++) {
		len = fuzz_mutate(files, nfiles, buf);
		LLVMFuzzerTestOneInput(buf, len);
		runs++;
	}
	name = strrchr(argv[0], '/');
	printf("%s: %zu inputs, 0 crashes\n", name != NULL ? name + 1 :
	    argv[0], runs);
	free(buf);
	for (i = 0; i < nfiles; i++)
		free(files[i].data);
	free(files);
	return 0;
}
