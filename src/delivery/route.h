/*
 * route.h — remote routing (seed 18.1.5): from a recipient domain to an
 * ordered list of at most /ADDRESS_RETRIES addresses to try.
 *
 * Order of the lookups:
 *   0. a domain that is an address literal ("[192.0.2.1]") is the address;
 *      outside /ZONE with /GATEWAY=ALTERNATE set, the target is the
 *      gateway instead of the domain (an IP gateway is used as it is);
 *   1. the local MX database (spool `mx` table) for the target;
 *   2. else DNS MX records (RFC 7505 null MX: fail 5.1.10 at once);
 *   3. else (no MX) the target's own A/AAAA records, as an implicit MX;
 *   4. a host name DNS cannot resolve is looked up in the local hosts
 *      database (spool `hosts` table) last.
 * MX hosts go by preference, lowest first; equal preferences are shuffled
 * with a PRNG seeded per delivery. An address that is one of this
 * cluster's own SMTP listeners ends the list there (RFC 5321 5.1: it and
 * every MX of the same or a higher preference are dropped); when nothing is
 * left the recipient fails 5.4.6 (a configuration error, not a loop).
 *
 * The decision logic is pure (the helpers below and the resolution
 * sequence); every lookup goes through struct route_resolver, so unit
 * tests answer with fakes, synchronously if they like.
 */
#ifndef SRC_ROUTE_H
#define SRC_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "src/delivery/dns.h"

#define ROUTE_ADDRS_MAX 1000 /* /ADDRESS_RETRIES upper bound */
#define ROUTE_SELF_MAX 64
#define ROUTE_REPLY_MAX 300

enum route_status {
	ROUTE_OK = 0,	 /* hops to try */
	ROUTE_DEFER = 1, /* temporary: DNS failure; retry later */
	ROUTE_FAIL = 2,	 /* permanent: bounce the recipient */
};

/* One address to try. */
struct route_hop {
	char host[DNS_NAME_MAX + 1]; /* MX host name, or the IP itself */
	char ip[DNS_IP_MAX];
	int family;
	unsigned pref; /* MX preference it came from (0 when none) */
};

struct route_result {
	int status;		       /* enum route_status */
	char reply[ROUTE_REPLY_MAX];   /* SMTP-style reason when not OK */
	char target[DNS_NAME_MAX + 1]; /* the name routed: domain/gateway */
	int via_gateway;	       /* the alternate gateway was used */
	uint32_t n;
	struct route_hop *hop; /* n hops, owned by the request */
};

/* This cluster's own SMTP listeners ("IP:PORT"; a wildcard IP matches
 * every local address) and the node's local interface addresses. */
struct route_self_addr {
	char ip[DNS_IP_MAX]; /* "" = wildcard (0.0.0.0 / ::) */
	unsigned port;
};
struct route_self {
	unsigned n;
	struct route_self_addr a[ROUTE_SELF_MAX];
	unsigned nlocal;
	char local[ROUTE_SELF_MAX][DNS_IP_MAX]; /* this host's addresses */
};

/* The lookups. mx/addr follow dns.h's rules (slot, maybe-synchronous
 * callback); cancel forgets a running one. local_mx fills at most max
 * entries of the local MX database for a domain and returns the count (or
 * a negative error); local_host gives the hosts database's addresses of a
 * name, space separated (0, or SPOOL_E_NOTFOUND). */
struct route_resolver {
	void *arg;
	int (*mx)(void *arg, const char *name, dns_mx_cb cb, void *cbarg,
		  struct dns_query **slot);
	int (*addr)(void *arg, const char *name, dns_addr_cb cb, void *cbarg,
		    struct dns_query **slot);
	void (*cancel)(void *arg, struct dns_query *q);
	int (*local_mx)(void *arg, const char *domain, struct dns_mx *out,
			size_t max);
	int (*local_host)(void *arg, const char *name, char *buf, size_t size);
};

struct route_params {
	const char *domain;  /* recipient domain (or literal "[...]") */
	const char *zone;    /* /ZONE, "" = none */
	const char *gateway; /* /GATEWAY=ALTERNATE, "" = none */
	unsigned max_addrs;  /* /ADDRESS_RETRIES */
	unsigned port;	     /* remote SMTP port, for the self check */
	const struct route_self *self; /* may be NULL */
	uint64_t seed;		       /* PRNG seed for the shuffle */
};

struct route_req;
typedef void (*route_cb)(void *arg, const struct route_result *res);

/* Start routing p->domain. The callback runs exactly once (maybe inside
 * this call), unless route_cancel() comes first; *slot holds the request
 * while it runs and is NULL when cb runs. The params' strings are copied.
 * 0 or SPOOL_E_NOMEM (no callback then). */
int route_start(const struct route_resolver *rv, const struct route_params *p,
		route_cb cb, void *arg, struct route_req **slot);
void route_cancel(struct route_req *r);

/* ---- pure helpers (exported for the unit tests) ---- */

/* 1 when domain equals zone or is a subdomain of it (case, one trailing
 * dot ignored); an empty zone contains nothing. */
int route_in_zone(const char *domain, const char *zone);

/* The name to route for domain: the gateway when it applies (zone and
 * gateway both set, domain outside the zone), else the domain. *via is
 * set to 1 for the gateway. */
const char *route_target(const char *domain, const char *zone,
			 const char *gateway, int *via);

/* The zone in effect (seed 18.1.5.2) for the /ZONE setting cfg_zone and
 * the local mail domain local: "" (not set) is the local domain itself;
 * "." (/ZONE given without a value) is one level above it ("a.b.c" ->
 * "b.c"; a one-label domain stays itself); anything else is the zone as
 * set. Written into buf (n bytes, truncated to fit); returns buf. */
const char *route_zone(const char *cfg_zone, const char *local, char *buf,
		       size_t n);

/* Parse an IP: "192.0.2.1", "[192.0.2.1]", "2001:db8::1",
 * "[IPv6:2001:db8::1]". Normalised text into ip; family into *family.
 * 1 if it is one, 0 if not. */
int route_parse_ip(const char *s, char *ip, size_t size, int *family);

/* 1 when the list is RFC 7505's null MX (a single record with host ""),
 * or when every record is "" (a broken zone treated the same). */
int route_mx_is_null(const struct dns_mx *mx, size_t n);

/* Drop null entries, sort by preference (then host name, so that the
 * same MX set in any DNS answer order is one list), shuffle each run of
 * equal preferences with the PRNG state *rng: the same set and seed give
 * the same order. Returns the new count. */
size_t route_mx_order(struct dns_mx *mx, size_t n, uint64_t *rng);

/* 1 when ip:port is one of self's listeners. */
int route_is_self(const struct route_self *self, const char *ip, unsigned port);

/* The PRNG (splitmix64). */
uint64_t route_rand(uint64_t *state);

#endif
