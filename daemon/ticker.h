/*
 * Periodic callbacks on the event loop, each driven by a timerfd rather
 * than by a timeout in libevent's timer heap.
 */
#ifndef REVOKD_TICKER_H
#define REVOKD_TICKER_H

#include <sys/time.h>

#include <event2/event.h>

struct ticker;

/* Create a ticker on base that will call cb(-1, EV_TIMEOUT, arg) every
 * interval once started; NULL with errno set on failure. */
struct ticker *ticker_new(struct event_base *base, event_callback_fn cb,
    void *arg);
/* (Re)start t: the first call comes interval from now, then one every
 * interval (missed periods are not made up). 0, or -1 with errno set. */
int ticker_start(struct ticker *t, const struct timeval *interval);
/* Stop and free t (NULL is ignored). */
void ticker_free(struct ticker *t);

#endif
