/*
 * deliver_resolve.c — the lookups route.c asks of the delivery engine
 * (struct route_resolver): MX and address queries go to the deliverer's
 * c-ares resolver (dns.c); the local MX and hosts databases are the
 * spool's `mx` and `hosts` tables. Also the TLS policy of a recipient
 * domain (the spool's `tlspolicy` table) for the groups.
 *
 * Owns nothing: adapters over the deliverer's resolver and spool. Does not
 * decide the route (route.c does) nor cache answers.
 *
 * Fails: as dns.c and the spool do (negative SPOOL_E_* codes, passed on).
 */
#include <stdio.h>

#include "spool/codec/tlspolicy.h"
#include "src/delivery/deliver_impl.h"

static int rv_mx(void *arg, const char *name, dns_mx_cb cb, void *cbarg,
		 struct dns_query **slot)
{
	struct deliverer *d = arg;

	return dns_mx(d->dns, name, cb, cbarg, slot);
}

static int rv_addr(void *arg, const char *name, dns_addr_cb cb, void *cbarg,
		   struct dns_query **slot)
{
	struct deliverer *d = arg;

	return dns_addr(d->dns, name, cb, cbarg, slot);
}

static void rv_cancel(void *arg, struct dns_query *q)
{
	dns_cancel(q);
}

struct mx_collect {
	struct dns_mx *out;
	size_t max, n;
};

static int mx_visit(const char *a, const char *b, uint64_t pref, void *arg)
{
	struct mx_collect *m = arg;

	if (m->n >= m->max)
		return 1;
	snprintf(m->out[m->n].host, sizeof(m->out[0].host), "%s", b);
	m->out[m->n].pref = pref > 65535 ? 65535 : (unsigned)pref;
	m->n++;
	return 0;
}

/* The spool's MX table for domain: at most max entries, their count. */
static int rv_local_mx(void *arg, const char *domain, struct dns_mx *out,
		       size_t max)
{
	struct deliverer *d = arg;
	struct mx_collect m = {out, max, 0};
	int rc = spool_mx_foreach(d->sp, domain, mx_visit, &m);

	return rc < 0 ? rc : (int)m.n;
}

static int rv_local_host(void *arg, const char *name, char *buf, size_t size)
{
	struct deliverer *d = arg;

	return spool_host_get(d->sp, name, buf, size);
}

int deliver_tls_level(struct deliverer *d, const char *domain)
{
	int lv = spool_tlspol_lookup(d->sp, domain, NULL, 0);

	return lv == TLSPOL_DEFAULT ? TLSPOL_MAY : lv;
}

void deliver_resolver_init(struct deliverer *d)
{
	d->rv.arg = d;
	d->rv.mx = rv_mx;
	d->rv.addr = rv_addr;
	d->rv.cancel = rv_cancel;
	d->rv.local_mx = rv_local_mx;
	d->rv.local_host = rv_local_host;
}
