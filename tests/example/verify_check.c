/* Verify a JWT from stdin with an RS256 public key, then ask revokd. */
#include <stdio.h>
#include <string.h>
#include <revokd.h>

int
main(int argc, char **argv)
{
	char			 token[8192];
	revokd_verifier_t	*v;
	revokd_t		*h;
	revokd_outcome_t	 out;

	if (argc != 2 || fgets(token, sizeof token, stdin) == NULL)
		return 2;
	token[strcspn(token, "\r\n")] = '\0';

	/* Once at start-up: pin the algorithm and its key. */
	v = revokd_verifier_new();
	if (v == NULL || revokd_verifier_set_key_file(v, "RS256", argv[1]) ||
	    revokd_verifier_set_issuer(v, "https://idp.example.com")) {
		fprintf(stderr, "key: %s\n", v ? revokd_verifier_errstr(v) : "oom");
		return 2;
	}
	/* One handle per thread; NULL means $REVOKD_SOCKET. */
	h = revokd_new(NULL, 100);

	/* On every request. */
	out = revokd_verify_check(h, v, token, strlen(token));
	printf("%s\n", revokd_outcome_str(out));
	if (out == REVOKD_UNAVAILABLE || out == REVOKD_PROTOCOL_ERROR)
		fprintf(stderr, "revokd: %s\n", revokd_errstr(h));

	revokd_free(h);
	revokd_verifier_free(v);
	return out == REVOKD_VALID ? 0 : 1;
}
