/*
 * librevokd: ask a revokd daemon whether a token is revoked, and verify a
 * JWT before asking (verify-then-check).
 *
 * Thread safety: a revokd_t handle is a single connection and must be used
 * by one thread at a time (one handle per thread is the intended use). A
 * revokd_verifier_t is configured first (revokd_verifier_set_*, _add_key,
 * _load_*), then shared by any number of threads: verification only reads
 * its configuration, its cache is locked internally, and
 * revokd_verifier_reload() may run concurrently with verification.
 *
 * Signals: the library never raises SIGPIPE in the embedding process (it
 * sends with MSG_NOSIGNAL), so a daemon that goes away is an error return.
 */
#ifndef REVOKD_H
#define REVOKD_H

#include <limits.h>
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
#define REVOKD_VERSION_MINOR 2
#define REVOKD_VERSION_PATCH 0

/* Default socket when neither the caller nor $REVOKD_SOCKET names one. */
#define REVOKD_DEFAULT_SOCKET "/run/revokd/revokd.sock"

/* The iat of revokd_check_claims() for a token without an "iat" claim: the
 * daemon takes it as issued at the beginning of time, so every subject
 * (revokd_revoke_sub) and issuer (revokd_revoke_all) not-before rule that
 * applies to it refuses it. */
#define REVOKD_NO_IAT LLONG_MIN

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
	REVOKD_PROTOCOL_ERROR,		/* "protocol_error" */
	REVOKD_UNKNOWN_KEY,		/* "unknown_key": no key for its kid */
	REVOKD_VALID_UNCHECKED		/* "valid_unchecked": verified, but the
					 * daemon could not be asked and the
					 * verifier is set to fail open */
} revokd_outcome_t;

/* Error kinds kept on a handle (sticky until the next call). */
typedef enum revokd_err {
	REVOKD_OK = 0,		/* no error */
	REVOKD_ERR_IO,		/* connect, send or receive failed */
	REVOKD_ERR_TIMEOUT,	/* connect, send or receive timed out */
	REVOKD_ERR_PROTOCOL,	/* the daemon's reply made no sense */
	REVOKD_ERR_SERVER,	/* the daemon answered with another error
				 * (-ERR ...: it refused the request) */
	REVOKD_ERR_ARG,		/* a bad argument from the caller */
	REVOKD_ERR_OOM,		/* out of memory */
	REVOKD_ERR_UNAVAILABLE	/* the daemon is up but cannot answer
				 * authoritatively now: still loading its
				 * blocklist (-LOADING) or out of touch with
				 * Redis too long (-STALE); the message is
				 * the daemon's text. The connection stays
				 * usable: try again later. */
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
/* Return the error message of the last call ("" when none); for
 * REVOKD_ERR_SERVER and REVOKD_ERR_UNAVAILABLE the daemon's error text,
 * e.g. "LOADING ...". */
REVOKD_API const char *revokd_errstr(const revokd_t *);

/* Each call below clears the previous error first, and reconnects when
 * the previous call broke the connection. */

/* PING the daemon: 0 on PONG, -1 on error. */
REVOKD_API int revokd_ping(revokd_t *);
/* Ask whether (iss, jti) is revoked (iss NULL or "": no issuer).
 * Returns 1 revoked, 0 not revoked, -1 on error (REVOKD_ERR_UNAVAILABLE
 * while the daemon is loading or stale: it does not know). The same as
 * revokd_check_claims(h, iss, jti, NULL, NULL, REVOKD_NO_IAT): besides
 * the jti rule, an issuer rule (revokd_revoke_all) of iss refuses it. */
REVOKD_API int revokd_check(revokd_t *, const char *iss, const char *jti);
/* Ask whether a token with these claims is revoked: the daemon evaluates
 * every rule in one call, the jti rule of (iss, jti), the subject rules
 * (revokd_revoke_sub, revokd_ban) of (iss, sub), the session rule
 * (revokd_revoke_session) of (iss, sid) and the issuer rule
 * (revokd_revoke_all) of iss. sub and sid NULL or "": the token has none
 * (at most 256 bytes each, as jti and iss). iat is the token's "iat" claim
 * (Unix seconds), or REVOKD_NO_IAT when it has none: such a token is
 * refused by every not-before rule of its subject and issuer, since it
 * cannot be shown to be issued after it. Returns as revokd_check(). A
 * daemon of protocol 2, which holds jti rules only, refuses SUB, SID and
 * IAT: the check is then repeated without them (the complete answer
 * there) and the handle keeps sending plain checks until it reconnects.
 * revokd_verify_check() calls this with the verified token's claims. */
REVOKD_API int revokd_check_claims(revokd_t *, const char *iss,
    const char *jti, const char *sub, const char *sid, long long iat);
/* After a check that returned 1: the rule that matched, "jti", "sub",
 * "ban", "sid" or "iss" (the first of these that matches is reported), or
 * a name this library does not know, verbatim (up to 63 bytes): the token
 * is revoked all the same. "" after a check that did not return 1. */
REVOKD_API const char *revokd_last_rule(const revokd_t *);
/* After a check that returned 1: the reason given when revoking, or "". */
REVOKD_API const char *revokd_last_reason(const revokd_t *);
/* After a check that returned 1: the rule's time, by revokd_last_rule():
 * "jti", "sid": the exp given to revokd_revoke() or
 * revokd_revoke_session() (the daemon keeps it revoked exp-grace seconds
 * longer); "sub", "iss": the rule's before (tokens issued at or before it
 * are refused); "ban": the ban's end, 0 for a ban without one. */
REVOKD_API long long revokd_last_until(const revokd_t *);
/* Revoke (iss, jti) until exp (Unix seconds), with an optional reason; the
 * daemon keeps it revoked until exp plus its exp-grace. Returns
 *   0  stored (+OK);
 *   1  exp plus the grace is already past: nothing stored, the token is
 *      refused anyway (+EXPIRED);
 *   2  stored, replication pending (+PENDING): applied and fsync'd by
 *      this daemon, which enforces it from now on, but not yet committed
 *      to Redis (unreachable); the daemon delivers it, in order, when Redis
 *      returns. A success: there is nothing to repeat. Other daemons that
 *      replicate through Redis learn of it only then;
 *  -1  error (REVOKD_ERR_UNAVAILABLE while the daemon is loading). */
REVOKD_API int revokd_revoke(revokd_t *, const char *iss, const char *jti,
    long long exp, const char *reason);
/* Lift a revocation. Returns
 *   1  one was removed (:1);
 *   0  there was none (:0);
 *   2  one was removed, replication pending (+PENDING): removed and
 *      fsync'd by this daemon, not yet committed to Redis (unreachable);
 *      delivered, in order, when Redis returns. A success; other daemons
 *      that replicate through Redis keep refusing the token until then
 *      (the safe side);
 *  -1  error (REVOKD_ERR_UNAVAILABLE while the daemon is loading). */
REVOKD_API int revokd_unrevoke(revokd_t *, const char *iss, const char *jti);
/* The same as revokd_unrevoke(), with a reason recorded in the daemon's
 * audit trail (NULL or "": none). */
REVOKD_API int revokd_unrevoke_reason(revokd_t *, const char *iss,
    const char *jti, const char *reason);

/* --- Subject, session and issuer rules (protocol 3) ------------------ */

/* The writes below need an administrator, as revokd_revoke() does; iss
 * NULL or "" is the empty issuer; sub and sid are 1 to 256 bytes; reason
 * (NULL or "": none) is kept with the rule and in the audit trail. A
 * store returns 0 stored (+OK), 1 nothing stored because every token the
 * rule could refuse has expired anyway (+EXPIRED), 2 stored with
 * replication pending (+PENDING, a success: see revokd_revoke()), -1 on
 * error (REVOKD_ERR_SERVER with the daemon's text when it refuses, e.g.
 * "ERR BEFORE is in the future" or "NOPERM ..."; REVOKD_ERR_UNAVAILABLE
 * while it loads). */

/* Log the subject out everywhere: refuse every token of (iss, sub)
 * issued at or before before (Unix seconds; 0: the daemon's clock now).
 * A later call moves the point forward, never back. The daemon refuses a
 * before in its future. */
REVOKD_API int revokd_revoke_sub(revokd_t *, const char *iss,
    const char *sub, long long before, const char *reason);
/* Ban the subject: refuse every token of (iss, sub), whatever its iat,
 * until until (Unix seconds; 0: no end, until revokd_unban()). An
 * existing ban keeps the later end. */
REVOKD_API int revokd_ban(revokd_t *, const char *iss, const char *sub,
    long long until, const char *reason);
/* Lift a ban of (iss, sub); a revokd_revoke_sub() rule stays. Returns as
 * revokd_unrevoke(): 1 lifted, 0 there was none, 2 lifted with
 * replication pending, -1 on error. */
REVOKD_API int revokd_unban(revokd_t *, const char *iss, const char *sub,
    const char *reason);
/* Revoke the session: refuse every token of iss whose "sid" claim is sid,
 * until exp (Unix seconds, > 0: the session's end, normally the exp of
 * its refresh token), with the checks of revokd_revoke() on exp. */
REVOKD_API int revokd_revoke_session(revokd_t *, const char *iss,
    const char *sid, long long exp, const char *reason);
/* Refuse every token of the issuer issued at or before before (Unix
 * seconds, > 0: required, there is no "now" default for this one), e.g.
 * when its signing key leaked. A later call moves the point forward. */
REVOKD_API int revokd_revoke_all(revokd_t *, const char *iss,
    long long before, const char *reason);

/* Fetch the daemon's STATS into buf as "name=value" pairs separated by
 * single spaces (NUL-terminated, truncated at a pair boundary to fit).
 * Returns 0 or -1 on error. */
REVOKD_API int revokd_stats(revokd_t *, char *buf, size_t size);

/* --- Verification ---------------------------------------------------- */

/* Create a verifier with no key (it refuses every token until one is
 * set), leeway 30 s, max length 8192, typ "JWT,at+jwt", a cache of 4096
 * verified tokens, fail closed. NULL only on OOM. */
REVOKD_API revokd_verifier_t *revokd_verifier_new(void);
/* Free a verifier. */
REVOKD_API void revokd_verifier_free(revokd_verifier_t *);
/* Pin the algorithm ("HS256", "HS384", "HS512", "RS256", "RS384",
 * "RS512", "ES256", "ES384", "ES512") and its key: the HMAC secret for
 * HS*, a PEM public key for RS* and ES*. Refuses an empty key, an HMAC
 * secret shorter than the hash output or that is a PEM key, and a PEM that
 * is not a public key of the algorithm's type (RSA under 2048 bits, EC on
 * another curve, a private key). This is the key for tokens without
 * "kid"; while it is the only key, it verifies tokens with any kid too.
 * 0, or -1: then that no-kid key is removed (a caller ignoring a failed
 * rotation fails closed), other keys stay. */
REVOKD_API int revokd_verifier_set_key(revokd_verifier_t *, const char *alg,
    const unsigned char *key, size_t keylen);
/* Same as revokd_verifier_set_key() with the key read from a file (at
 * most 64 KiB; empty or missing is an error, never "no verification"). */
REVOKD_API int revokd_verifier_set_key_file(revokd_verifier_t *,
    const char *alg, const char *path);
/* Add a key to the key set under kid, pinned to alg (same checks as
 * revokd_verifier_set_key()). kid NULL is the key for tokens that carry no
 * "kid" (what revokd_verifier_set_key() sets). A key already under that
 * kid is replaced. A token's kid is only ever looked up in this set: never
 * a path, never fetched ("jku", "x5u", "jwk" headers are ignored); an
 * unknown kid is refused as REVOKD_UNKNOWN_KEY (except while the only key
 * is the no-kid key, see above). Such keys stay across
 * revokd_verifier_reload() and win over a file key of the same kid.
 * 0, or -1 (then the key set is unchanged). */
REVOKD_API int revokd_verifier_add_key(revokd_verifier_t *, const char *kid,
    const char *alg, const unsigned char *key, size_t keylen);
/* Load every key in directory dir: a file "KID.ALG.pem" holds the PEM
 * public key for RS* and ES*, a file "KID.ALG" the secret for HS* (its
 * exact bytes: a trailing newline is part of it); hidden files are
 * skipped. Any other name, a non-regular file, an empty or bad key, a
 * duplicate kid, over 1024 files or none is an error naming the file.
 * Replaces the keys of a directory loaded before; remembered for
 * revokd_verifier_reload(). 0 or -1 (then the key set is unchanged). */
REVOKD_API int revokd_verifier_load_key_dir(revokd_verifier_t *,
    const char *dir);
/* Load a JWK Set file (RFC 7517, at most 1 MiB): "RSA", "EC" (P-256,
 * P-384, P-521, matching the alg) and "oct" keys, each of which must carry
 * "kid" and one of the nine "alg" above; keys whose "use" is not "sig" are
 * skipped. A key with private members ("d", "p", ...), a short RSA key or
 * secret, a duplicate kid or a kid also in the key directory refuses the
 * whole file. Replaces the keys of a JWKS loaded before; remembered for
 * revokd_verifier_reload(). 0 or -1 (then the key set is unchanged). */
REVOKD_API int revokd_verifier_load_jwks(revokd_verifier_t *,
    const char *path);
/* Re-read the key directory and JWK Set file loaded before and swap the
 * new key set in atomically; safe while other threads verify with v (the
 * one setter that is). Empties the verified-token cache. On failure the
 * old key set stays in use. 0 or -1. */
REVOKD_API int revokd_verifier_reload(revokd_verifier_t *);
/* Refuse tokens whose exp - iat exceeds seconds (0: no limit, default);
 * with a limit set, iat is required. Either failure is REVOKD_MALFORMED
 * (a token this verifier never accepts, like one without exp). 0 or -1. */
REVOKD_API int revokd_verifier_set_max_lifetime(revokd_verifier_t *,
    long long seconds);
/* Refuse (as REVOKD_MALFORMED) tokens whose exp is more than seconds
 * ahead of now, or past 2106 (default 2592000, 30 days: the daemon's
 * default --max-ttl, beyond which it refuses to revoke; keep the two
 * equal). A token that could not be revoked is not accepted. 0 or -1. */
REVOKD_API int revokd_verifier_set_max_ttl(revokd_verifier_t *,
    long long seconds);
/* Refuse tokens longer than bytes before decoding anything (default
 * 8192, at most 65536). 0 or -1. */
REVOKD_API int revokd_verifier_set_max_length(revokd_verifier_t *,
    size_t bytes);
/* Set the accepted "typ" header values, comma-separated, compared without
 * regard to case and to an "application/" prefix (NULL: the default
 * "JWT,at+jwt"; at most 16 entries). A token without typ is accepted; one
 * with another typ is REVOKD_MALFORMED. 0 or -1. */
REVOKD_API int revokd_verifier_set_typs(revokd_verifier_t *, const char *csv);
/* When on, a verified token whose revocation cannot be checked (daemon
 * unavailable, loading, stale or a protocol error) is
 * REVOKD_VALID_UNCHECKED instead of REVOKD_UNAVAILABLE /
 * REVOKD_PROTOCOL_ERROR. Off (fail closed) by default. 0 or -1. */
REVOKD_API int revokd_verifier_set_fail_open(revokd_verifier_t *, int on);
/* Keep up to max_entries verified tokens (keyed by the SHA-256 of the exact
 * token bytes, each until its exp plus leeway) so a token seen before is
 * not verified again (0 disables; default 4096). Only the signature and
 * claim checks are cached, with the claims the daemon is asked about (jti,
 * iss, sub, sid, iat): every verify-then-check still asks the daemon, with
 * the same claims on a hit as on a miss, so a cached token is never held
 * back from a new rule of any kind.
 * The cache is shared by all threads using the verifier and locked
 * internally; this call itself is configuration (not concurrent with
 * verification). At most 1048576 entries. 0 or -1. */
REVOKD_API int revokd_verifier_set_cache(revokd_verifier_t *,
    size_t max_entries);
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
/* Verify a token, then ask the daemon whether it is revoked: by
 * revokd_check_claims() with its iss, jti, sub, sid (the "sid" claim) and
 * iat, REVOKD_NO_IAT when it has no iat (then every not-before rule of its
 * subject and issuer refuses it: a token without iat cannot be cleared
 * against "log out everywhere"). A token whose iss, sub or sid is over 256
 * bytes is REVOKD_MALFORMED: no rule could be made for it, so it could not
 * be revoked. REVOKD_VALID only when both pass. When the daemon cannot be
 * asked the outcome is REVOKD_UNAVAILABLE (unreachable, timed out, or
 * answering -LOADING / -STALE: REVOKD_ERR_UNAVAILABLE on the handle) or
 * REVOKD_PROTOCOL_ERROR (fail closed), or REVOKD_VALID_UNCHECKED when the
 * verifier is set to fail open; the detail is on the handle. The daemon is
 * asked on every call, also for a token the verifier's cache answered: no
 * check result is cached, so a new rule of any kind applies to the very
 * next call. */
REVOKD_API revokd_outcome_t revokd_verify_check(revokd_t *,
    const revokd_verifier_t *, const char *token, size_t len);

#ifdef __cplusplus
}
#endif

#endif
