/*
 * deliver_conncache.c — the delivery engine's connection cache (like
 * Postfix's scache): an SMTP connection whose message is done stays open
 * for the next message to the same destination address (IP and port),
 * across deliveries. A connection carries DELIVER_REUSE_MAX messages at
 * most (smtp_client's cfg.reuse) and waits DELIVER_IDLE_MS idle before it
 * QUITs; each next message starts with RSET (smtp_client_next()).
 *
 * A connection holds its place of the per-host cap (deliver_hostcap.c)
 * while it is open, busy or idle: a finished one goes first to the
 * host's next waiter (with the place), else into the host's idle list;
 * a group looking for a place takes an idle one before it opens a new
 * one (deliver_remote.c). The place is given back when the idle
 * connection closes. A connection is only taken for mail whose TLS
 * policy it meets (conncache_fits: encrypt needs TLS, verify TLS whose
 * certificate was verified for the same MX host name), so a clear or
 * unverified connection never carries mail that needs more.
 *
 * Owns: the idle entries (struct idle_conn) and the parked connections.
 * Does not own the host slots (deliver_hostcap.c) nor the busy
 * connections (their groups). Pure bookkeeping over smtp_client_conn.h:
 * no timer of its own (the engine's idle timeout closes a connection).
 *
 * Fails soft: out of memory for an entry closes the connection (QUIT) and
 * gives its place back; a parked connection the far end closed is only
 * counted off.
 */
#include <stdlib.h>
#include <strings.h>

#include "spool/codec/tlspolicy.h"
#include "src/base/log.h"
#include "src/delivery/deliver_impl.h"

/* A parked connection closed (idle time over, the peer, an abort). */
static void on_idle_closed(void *arg, const struct smtp_client *c,
			   struct smtp_conn *keep)
{
	struct idle_conn *e = arg;
	struct deliverer *d = e->d;
	struct host_slot *h = e->h;

	(void)c;
	(void)keep; /* always NULL: a parked connection ends closed */
	TAILQ_REMOVE(&h->idle, e, q);
	free(e);
	d->nidle--;
	hostcap_release(&d->hc, h);
	d->idle_closed(d);
}

int conncache_fits(const struct smtp_conn *c, int level, const char *host)
{
	const char *vhost;
	int tls = smtp_conn_tls(c, &vhost);

	if (level == TLSPOL_ENCRYPT)
		return tls >= 1;
	if (level == TLSPOL_VERIFY)
		return tls == 2 && host != NULL && strcasecmp(vhost, host) == 0;
	return 1; /* none, may: whatever the connection has */
}

struct smtp_conn *conncache_take(struct deliverer *d, struct host_slot *h,
				 int level, const char *host)
{
	struct idle_conn *e;

	for (e = TAILQ_FIRST(&h->idle); e != NULL; e = TAILQ_NEXT(e, q)) {
		struct smtp_conn *conn = e->conn;

		if (!smtp_conn_ready(conn))
			continue; /* QUIT on its way: its close counts it off */
		if (!conncache_fits(conn, level, host))
			continue; /* less protected than this mail needs */
		TAILQ_REMOVE(&h->idle, e, q);
		free(e);
		d->nidle--;
		smtp_conn_park(conn, NULL, NULL); /* the taker sets its own */
		return conn;
	}
	return NULL;
}

void conncache_put(struct deliverer *d, struct host_slot *h,
		   struct smtp_conn *keep)
{
	struct host_wait *w = TAILQ_FIRST(&h->waiters);
	struct idle_conn *e;

	if (d->closing) {
		/* not parked: QUIT by the transport, the place back now */
		hostcap_release(&d->hc, h);
		return;
	}
	if (w != NULL) {
		/* the place goes with the connection: active is unchanged */
		TAILQ_REMOVE(&h->waiters, w, q);
		w->slot = NULL;
		w->conn = keep;
		w->granted(w, h);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		log_warn("deliver: out of memory; closing an idle connection");
		hostcap_release(&d->hc, h);
		return; /* nobody takes keep: the transport QUITs it */
	}
	e->d = d;
	e->h = h;
	e->conn = keep;
	TAILQ_INSERT_TAIL(&h->idle, e, q);
	d->nidle++;
	smtp_conn_park(keep, on_idle_closed, e);
}

void conncache_close_all(struct deliverer *d)
{
	struct host_slot *h;
	struct idle_conn *e;

	for (h = SLIST_FIRST(&d->hc.hosts); h != NULL; h = SLIST_NEXT(h, next))
		for (e = TAILQ_FIRST(&h->idle); e != NULL; e = TAILQ_NEXT(e, q))
			/* on_idle_closed runs later, from the close */
			smtp_conn_abort(e->conn, "the deliverer closes");
}
