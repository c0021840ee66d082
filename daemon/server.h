/* The Unix socket listener and client connections (the only module that
 * touches client sockets). */
#ifndef REVOKD_SERVER_H
#define REVOKD_SERVER_H

#include <sys/types.h>

#include <stdint.h>

struct event_base;

/* Create, bind and listen on the Unix socket at path with mode (0660 for
 * the services' socket, 0600 for the admins'); a stale socket is
 * replaced, a live one or a non-socket file is not. Returns the fd, or -1
 * with errno set and a message logged. */
int server_listen(const char *path, mode_t mode);
/* Start accepting clients on listening socket fd (at most two: the
 * services' socket, and the admins' one with admin set); owned: we bound
 * it and unlink it at exit (not one passed by the service manager). */
int server_start(struct event_base *, int fd, const char *path, int admin,
    int owned);
/* Stop accepting, unlink the socket, flush pending replies, then end the
 * event loop (after shutdown_grace seconds at the latest). */
void server_shutdown(void);
/* Send the replies that waited for writes now durable (journal sequence
 * up to durable) and either confirmed by Redis (up to confirmed) or
 * settled without it (up to settled: Redis cannot confirm them now, so
 * they are answered +PENDING), and resume those clients. */
void server_release(uint64_t durable, uint64_t confirmed, uint64_t settled);
/* Free every connection and the server's events (after the loop ends). */
void server_free(void);

#endif
