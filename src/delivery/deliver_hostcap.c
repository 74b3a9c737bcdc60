/*
 * deliver_hostcap.c — the per-host connection cap of the delivery engine
 * (deliver_impl.h): at most max connections to one destination address
 * (IP and port) across every running delivery; who comes over the cap
 * waits in that host's queue, first come first served, and is handed the
 * place of the next connection that ends.
 *
 * Owns: the host slots (one per address ever connected to, kept until the
 * deliverer closes) and their queues of waiters. Does not own the waiters
 * (the engine's groups embed them) and opens no connection: a waiter's
 * granted callback does. Pure: no loop, no clock.
 *
 * Fails: hostcap_get() returns NULL when out of memory (the caller defers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/delivery/deliver_impl.h"

void hostcap_init(struct hostcap *hc, unsigned max)
{
	SLIST_INIT(&hc->hosts);
	hc->max = max;
}

void hostcap_free(struct hostcap *hc)
{
	struct host_slot *h;

	while ((h = SLIST_FIRST(&hc->hosts)) != NULL) {
		SLIST_REMOVE_HEAD(&hc->hosts, next);
		free(h);
	}
}

struct host_slot *hostcap_get(struct hostcap *hc, const char *ip, unsigned port)
{
	struct host_slot *h;

	for (h = SLIST_FIRST(&hc->hosts); h != NULL; h = SLIST_NEXT(h, next))
		if (h->port == port && strcmp(h->ip, ip) == 0)
			return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	snprintf(h->ip, sizeof(h->ip), "%s", ip);
	h->port = port;
	TAILQ_INIT(&h->waiters);
	TAILQ_INIT(&h->idle);
	SLIST_INSERT_HEAD(&hc->hosts, h, next);
	return h;
}

/* 1 when h has room for one more connection. */
static int has_room(const struct hostcap *hc, const struct host_slot *h)
{
	return hc->max == 0 || h->active < hc->max;
}

int hostcap_acquire(struct hostcap *hc, struct host_slot *h,
		    struct host_wait *w,
		    void (*granted)(struct host_wait *, struct host_slot *))
{
	if (!has_room(hc, h)) {
		w->slot = h;
		w->granted = granted;
		TAILQ_INSERT_TAIL(&h->waiters, w, q);
		return 0;
	}
	h->active++;
	return 1;
}

void hostcap_release(struct hostcap *hc, struct host_slot *h)
{
	struct host_wait *w;

	if (h->active > 0)
		h->active--;
	while ((w = TAILQ_FIRST(&h->waiters)) != NULL && has_room(hc, h)) {
		TAILQ_REMOVE(&h->waiters, w, q);
		w->slot = NULL;
		w->conn = NULL;
		h->active++;
		w->granted(w, h);
	}
}

void hostcap_unwait(struct host_wait *w)
{
	if (w->slot == NULL)
		return;
	TAILQ_REMOVE(&w->slot->waiters, w, q);
	w->slot = NULL;
}
