/*
 * librevokd: ask a revokd daemon whether a token is revoked, and verify a
 * JWT before asking (verify-then-check).
 *
 * Thread safety: a revokd_t handle is a single connection and must be used
 * by one thread at a time (one handle per thread is the intended use). A
 * revokd_verifier_t is read-only once configured: after the last
 * revokd_verifier_set_* call it may be shared by any number of threads.
 *
 * Signals: the library never raises SIGPIPE in the embedding process (it
 * sends with MSG_NOSIGNAL), so a daemon that goes away is an error return.
 */
#ifndef REVOKD_H
#define REVOKD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(REVOKD_BUILDING) && defined(__GNUC__)
#define REVOKD_API __attribute__((visibility("default")))
#else
#define REVOKD_API
#endif

#define REVOKD_VERSION_MAJOR 0
#define REVOKD_VERSION_MINOR 1
#define REVOKD_VERSION_PATCH 0

/* Default socket when neither the caller nor $REVOKD_SOCKET names one. */
#define REVOKD_DEFAULT_SOCKET "/run/revokd/revokd.sock"

/* Outcome of a verification or verify-then-check; stable across versions. */
typedef enum revokd_outcome {
	REVOKD_VALID = 0,		/* "valid": verified and not revoked */
	REVOKD_REVOKED,			/* "revoked" */
	REVOKD_BAD_SIGNATURE,		/* "bad_signature" */
	REVOKD_WRONG_ALGORITHM,		/* "wrong_algorithm" (incl. "none") */
	REVOKD_EXPIRED,			/* "expired" */
	REVOKD_NOT_YET_VALID,		/* "not_yet_valid" (nbf in future) */
	REVOKD_MALFORMED,		/* "malformed" */
	REVOKD_MISSING_JTI,		/* "missing_jti" */
	REVOKD_WRONG_ISSUER,		/* "wrong_issuer" */
	REVOKD_WRONG_AUDIENCE,		/* "wrong_audience" */
	REVOKD_UNAVAILABLE,		/* "daemon_unavailable" */
	REVOKD_PROTOCOL_ERROR		/* "protocol_error" */
} revokd_outcome_t;

/* Error kinds kept on a handle (sticky until the next call). */
typedef enum revokd_err {
	REVOKD_OK = 0,		/* no error */
	REVOKD_ERR_IO,		/* connect, send or receive failed */
	REVOKD_ERR_TIMEOUT,	/* connect, send or receive timed out */
	REVOKD_ERR_PROTOCOL,	/* the daemon's reply made no sense */
	REVOKD_ERR_SERVER,	/* the daemon answered with an error */
	REVOKD_ERR_ARG,		/* a bad argument from the caller */
	REVOKD_ERR_OOM		/* out of memory */
} revokd_err_t;

typedef struct revokd revokd_t;
typedef struct revokd_verifier revokd_verifier_t;

/* Return the stable string of an outcome ("valid", "revoked", ...). */
REVOKD_API const char *revokd_outcome_str(revokd_outcome_t);
/* Return the library version as "X.Y.Z". */
REVOKD_API const char *revokd_version(void);

/* --- Connection ------------------------------------------------------ */

/* Create a handle for the daemon at path (NULL: $REVOKD_SOCKET, then
 * REVOKD_DEFAULT_SOCKET) with a timeout in milliseconds for each of
 * connect, send and receive (<= 0: 1000). Connects lazily on first use.
 * Returns NULL only when out of memory. */
REVOKD_API revokd_t *revokd_new(const char *path, int timeout_ms);
/* Close the connection and free the handle. */
REVOKD_API void revokd_free(revokd_t *);
/* Connect now; 0 on success, -1 with the error on the handle. */
REVOKD_API int revokd_connect(revokd_t *);
/* Return the error kind of the last call. */
REVOKD_API revokd_err_t revokd_err(const revokd_t *);
/* Return the error message of the last call ("" when none). */
REVOKD_API const char *revokd_errstr(const revokd_t *);

/* Each call below clears the previous error first, and reconnects when
 * the previous call broke the connection. */

/* PING the daemon: 0 on PONG, -1 on error. */
REVOKD_API int revokd_ping(revokd_t *);
/* Ask whether (iss, jti) is revoked (iss NULL or "": no issuer).
 * Returns 1 revoked, 0 not revoked, -1 on error. */
REVOKD_API int revokd_check(revokd_t *, const char *iss, const char *jti);
/* After a check that returned 1: the rule that matched ("jti"). */
REVOKD_API const char *revokd_last_rule(const revokd_t *);
/* After a check that returned 1: the reason given when revoking, or "". */
REVOKD_API const char *revokd_last_reason(const revokd_t *);
/* After a check that returned 1: Unix seconds the revocation lasts until. */
REVOKD_API long long revokd_last_until(const revokd_t *);
/* Revoke (iss, jti) until exp (Unix seconds), with an optional reason.
 * Returns 0 when stored, 1 when exp is already past (nothing stored, the
 * token is refused anyway), -1 on error. */
REVOKD_API int revokd_revoke(revokd_t *, const char *iss, const char *jti,
    long long exp, const char *reason);
/* Lift a revocation. Returns 1 if one was removed, 0 if none, -1 on error. */
REVOKD_API int revokd_unrevoke(revokd_t *, const char *iss, const char *jti);
/* Fetch the daemon's STATS into buf as "name=value" pairs separated by
 * single spaces (NUL-terminated, truncated at a pair boundary to fit).
 * Returns 0 or -1 on error. */
REVOKD_API int revokd_stats(revokd_t *, char *buf, size_t size);

/* --- Verification ---------------------------------------------------- */

/* Create a verifier with no key (it refuses every token until one is
 * set), leeway 30 s. NULL only on OOM. */
REVOKD_API revokd_verifier_t *revokd_verifier_new(void);
/* Free a verifier. */
REVOKD_API void revokd_verifier_free(revokd_verifier_t *);
/* Pin the algorithm ("HS256", "HS384", "HS512", "RS256", "RS384",
 * "RS512", "ES256", "ES384", "ES512") and its key: the HMAC secret for
 * HS*, a PEM public key for RS* and ES*. Refuses an empty key, an HMAC
 * secret shorter than the hash output or that is a PEM key, and a PEM that
 * is not a public key of the algorithm's type. 0 or -1. */
REVOKD_API int revokd_verifier_set_key(revokd_verifier_t *, const char *alg,
    const unsigned char *key, size_t keylen);
/* Same as revokd_verifier_set_key() with the key read from a file. */
REVOKD_API int revokd_verifier_set_key_file(revokd_verifier_t *,
    const char *alg, const char *path);
/* Seconds of clock skew allowed on exp and nbf (at most 300). 0 or -1. */
REVOKD_API int revokd_verifier_set_leeway(revokd_verifier_t *, unsigned seconds);
/* Require this "iss" (NULL: any). 0 or -1. */
REVOKD_API int revokd_verifier_set_issuer(revokd_verifier_t *, const char *iss);
/* Require this audience in "aud" (string or array; NULL: any). 0 or -1. */
REVOKD_API int revokd_verifier_set_audience(revokd_verifier_t *, const char *aud);
/* Return the message of the last failed revokd_verifier_* call. */
REVOKD_API const char *revokd_verifier_errstr(const revokd_verifier_t *);

/* Verify a token locally (signature, algorithm, exp, nbf, iss, aud, jti)
 * without asking the daemon. Never returns REVOKED or UNAVAILABLE. */
REVOKD_API revokd_outcome_t revokd_verify(const revokd_verifier_t *,
    const char *token, size_t len);
/* Verify a token, then ask the daemon whether its (iss, jti) is revoked.
 * REVOKD_VALID only when both pass. When the daemon cannot be asked the
 * outcome is REVOKD_UNAVAILABLE or REVOKD_PROTOCOL_ERROR (fail closed),
 * with the detail on the handle. */
REVOKD_API revokd_outcome_t revokd_verify_check(revokd_t *,
    const revokd_verifier_t *, const char *token, size_t len);

#ifdef __cplusplus
}
#endif

#endif
