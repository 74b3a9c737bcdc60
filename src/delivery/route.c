/*
 * route.c — remote routing (see route.h): the pure decision helpers and
 * the resolution sequence, target -> MX list -> addresses.
 *
 * Owns: one struct route_req per routing, with its MX list and the hops
 * found so far; the lookups it runs are the resolver's (cancelled on
 * route_cancel). Does not own: DNS, the spool tables, sockets.
 *
 * The sequence is a small loop (advance()) that issues one lookup at a
 * time; a lookup's callback stores the answer and calls advance() again,
 * so a resolver answering synchronously only nests one call deep per
 * lookup. Failure: a DNS failure that leaves no usable address defers
 * (4.4.3); a name that does not exist, a null MX, or a route back to this
 * cluster fails (5.1.2, 5.1.10, 5.4.6).
 */
#include "src/delivery/route.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/err.h"
#include "src/base/log.h"

/* Phases of one routing. */
enum rphase {
	RP_START, /* decide the target, literal, local MX */
	RP_MX,	  /* DNS MX query running */
	RP_HOSTS, /* resolving mx[cur] */
	RP_ADDR,  /* address query for mx[cur] running */
	RP_DONE,  /* result delivered */
};

struct route_req {
	struct route_resolver rv;
	route_cb cb;
	void *arg;
	struct route_req **slot;
	struct dns_query *q; /* running lookup */
	enum rphase phase;
	int busy; /* inside advance() */
	char domain[DNS_NAME_MAX + 3];
	unsigned max_addrs, port;
	struct route_self self;
	int has_self;
	uint64_t rng;

	struct dns_mx *mx; /* the MX list (real or implicit) */
	size_t nmx, cur;
	int implicit;  /* mx is the target itself */
	int mx_status; /* DNS status of the MX query */
	int any_temp;  /* a lookup failed temporarily */
	int self_cut;  /* an own address was met */

	struct route_result res;
};

/* ---- pure helpers ---- */

uint64_t route_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Length of name without one trailing dot. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		n--;
	return n;
}

int route_in_zone(const char *domain, const char *zone)
{
	size_t dl, zl;

	if (domain == NULL || zone == NULL || zone[0] == '\0')
		return 0;
	dl = name_len(domain);
	zl = name_len(zone);
	if (dl < zl)
		return 0;
	if (strncasecmp(domain + dl - zl, zone, zl) != 0)
		return 0;
	return dl == zl || domain[dl - zl - 1] == '.';
}

const char *route_target(const char *domain, const char *zone,
			 const char *gateway, int *via)
{
	*via = 0;
	if (zone == NULL || zone[0] == '\0' || gateway == NULL ||
	    gateway[0] == '\0')
		return domain;
	if (route_in_zone(domain, zone))
		return domain;
	*via = 1;
	return gateway;
}

const char *route_zone(const char *cfg_zone, const char *local, char *buf,
		       size_t n)
{
	const char *z = cfg_zone != NULL ? cfg_zone : "";
	const char *dot;

	if (local == NULL)
		local = "";
	if (z[0] == '\0') {
		z = local;
	} else if (strcmp(z, ".") == 0) {
		dot = strchr(local, '.');
		z = dot != NULL && dot[1] != '\0' ? dot + 1 : local;
	}
	snprintf(buf, n, "%s", z);
	return buf;
}

int route_parse_ip(const char *s, char *ip, size_t size, int *family)
{
	char inner[DNS_IP_MAX + 8];
	unsigned char bin[16];
	const char *p = s;
	size_t n = strlen(s);
	int fam;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		p = s + 1;
		n -= 2;
		if (n > 5 && strncasecmp(p, "IPv6:", 5) == 0) {
			p += 5;
			n -= 5;
		}
	}
	if (n == 0 || n >= sizeof(inner))
		return 0;
	memcpy(inner, p, n);
	inner[n] = '\0';
	fam = strchr(inner, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(fam, inner, bin) != 1)
		return 0;
	if (ip != NULL && inet_ntop(fam, bin, ip, (socklen_t)size) == NULL)
		return 0;
	if (family != NULL)
		*family = fam;
	return 1;
}

int route_mx_is_null(const struct dns_mx *mx, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (mx[i].host[0] != '\0' &&
		    !(mx[i].host[0] == '.' && mx[i].host[1] == '\0'))
			return 0;
	return 1;
}

size_t route_mx_order(struct dns_mx *mx, size_t n, uint64_t *rng)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (mx[i].host[0] != '\0' &&
		    !(mx[i].host[0] == '.' && mx[i].host[1] == '\0'))
			mx[k++] = mx[i];
	n = k;
	/* insertion sort by (preference, host): lists are short */
	for (size_t i = 1; i < n; i++) {
		struct dns_mx t = mx[i];
		size_t j = i;

		while (j > 0 && (mx[j - 1].pref > t.pref ||
				 (mx[j - 1].pref == t.pref &&
				  strcasecmp(mx[j - 1].host, t.host) > 0))) {
			mx[j] = mx[j - 1];
			j--;
		}
		mx[j] = t;
	}
	/* Fisher-Yates inside each run of equal preference */
	for (size_t lo = 0; lo < n;) {
		size_t hi = lo + 1;

		while (hi < n && mx[hi].pref == mx[lo].pref)
			hi++;
		for (size_t i = hi - 1; i > lo; i--) {
			size_t j =
			    lo + (size_t)(route_rand(rng) % (i - lo + 1));
			struct dns_mx t = mx[i];

			mx[i] = mx[j];
			mx[j] = t;
		}
		lo = hi;
	}
	return n;
}

/* 1 when a and b are the same address text (both normalised). */
static int ip_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* 1 for 127.0.0.0/8 and ::1. */
static int is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

int route_is_self(const struct route_self *self, const char *ip, unsigned port)
{
	if (self == NULL)
		return 0;
	for (unsigned i = 0; i < self->n && i < ROUTE_SELF_MAX; i++) {
		const struct route_self_addr *a = &self->a[i];

		if (a->port != port)
			continue;
		if (a->ip[0] != '\0') {
			if (ip_eq(a->ip, ip))
				return 1;
			continue;
		}
		/* wildcard listener: any address of this host */
		if (is_loopback(ip))
			return 1;
		for (unsigned j = 0; j < self->nlocal && j < ROUTE_SELF_MAX;
		     j++)
			if (ip_eq(self->local[j], ip))
				return 1;
	}
	return 0;
}

/* ---- the sequence ---- */

static void advance(struct route_req *r);

/* Finish with a result; the request is freed. */
static void finish(struct route_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(struct route_req *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->res.status = status;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r->res.reply, sizeof(r->res.reply), fmt, ap);
		va_end(ap);
	}
	r->phase = RP_DONE;
	if (r->slot != NULL && *r->slot == r)
		*r->slot = NULL;
	r->slot = NULL;
	r->cb(r->arg, &r->res);
	free(r->mx);
	free(r->res.hop);
	free(r);
}

/* Add one address of mx host h (pref) unless it is there already or the
 * list is full. Returns 1 when the list is full. */
static int add_hop(struct route_req *r, const char *host, const char *ip,
		   int family, unsigned pref)
{
	struct route_hop *hp;

	if (r->res.n >= r->max_addrs)
		return 1;
	for (uint32_t i = 0; i < r->res.n; i++)
		if (ip_eq(r->res.hop[i].ip, ip))
			return 0;
	if (r->has_self && route_is_self(&r->self, ip, r->port)) {
		/* RFC 5321 5.1: drop this and every MX not better */
		uint32_t k = 0;

		for (uint32_t i = 0; i < r->res.n; i++)
			if (r->res.hop[i].pref < pref)
				r->res.hop[k++] = r->res.hop[i];
		r->res.n = k;
		r->self_cut = 1;
		log_info("route: %s: %s [%s] is this cluster; dropping MX "
			 "preference >= %u",
			 r->domain, host, ip, pref);
		return 1;
	}
	hp = &r->res.hop[r->res.n++];
	snprintf(hp->host, sizeof(hp->host), "%s", host);
	snprintf(hp->ip, sizeof(hp->ip), "%s", ip);
	hp->family = family;
	hp->pref = pref;
	return r->res.n >= r->max_addrs;
}

/* Addresses of the local hosts database for name; 1 if any was added. */
static int hosts_db(struct route_req *r, const char *name, unsigned pref,
		    int *full)
{
	char buf[4096], *save = NULL, *tok;
	int added = 0;

	*full = 0;
	if (r->rv.local_host == NULL ||
	    r->rv.local_host(r->rv.arg, name, buf, sizeof(buf)) != 0)
		return 0;
	for (tok = strtok_r(buf, " ,\t", &save); tok != NULL && !*full;
	     tok = strtok_r(NULL, " ,\t", &save)) {
		char ip[DNS_IP_MAX];
		int fam;

		if (!route_parse_ip(tok, ip, sizeof(ip), &fam))
			continue;
		*full = add_hop(r, name, ip, fam, pref);
		added = 1;
	}
	return added;
}

/* Everything collected: turn it into the result. */
static void conclude(struct route_req *r)
{
	if (r->res.n > 0) {
		finish(r, ROUTE_OK, NULL);
		return;
	}
	if (r->self_cut) {
		finish(r, ROUTE_FAIL,
		       "550 5.4.6 routing loop: mail for %s would loop back "
		       "to this cluster",
		       r->domain);
		return;
	}
	if (r->any_temp) {
		finish(r, ROUTE_DEFER,
		       "451 4.4.3 DNS lookup failed for the mail hosts of %s",
		       r->res.target);
		return;
	}
	if (r->implicit && r->mx_status == DNS_NXDOMAIN) {
		finish(r, ROUTE_FAIL, "550 5.1.2 domain %s not found",
		       r->res.target);
		return;
	}
	if (r->implicit) {
		finish(r, ROUTE_FAIL,
		       "550 5.4.4 no MX or address records for %s",
		       r->res.target);
		return;
	}
	finish(r, ROUTE_FAIL, "550 5.4.4 no address for any mail host of %s",
	       r->res.target);
}

static void on_addr(void *arg, int status, const struct dns_addr *a, size_t n)
{
	struct route_req *r = arg;
	const struct dns_mx *m = &r->mx[r->cur];
	int full = 0;

	r->q = NULL;
	if (status == DNS_OK) {
		for (size_t i = 0; i < n && !full; i++)
			full =
			    add_hop(r, m->host, a[i].ip, a[i].family, m->pref);
	} else {
		int got = hosts_db(r, m->host, m->pref, &full);

		if (!got && status == DNS_TEMP)
			r->any_temp = 1;
		if (!got)
			log_debug("route: %s: no address for %s (%s)",
				  r->domain, m->host, dns_status_name(status));
	}
	r->cur++;
	if (full)
		r->cur = r->nmx;
	r->phase = RP_HOSTS;
	advance(r);
}

/* Set the implicit MX: the target itself. */
static int set_implicit(struct route_req *r)
{
	free(r->mx);
	r->mx = calloc(1, sizeof(*r->mx));
	if (r->mx == NULL)
		return -1;
	snprintf(r->mx[0].host, sizeof(r->mx[0].host), "%s", r->res.target);
	r->mx[0].pref = 0;
	r->nmx = 1;
	r->cur = 0;
	r->implicit = 1;
	return 0;
}

static void on_mx(void *arg, int status, const struct dns_mx *mx, size_t n)
{
	struct route_req *r = arg;

	r->q = NULL;
	r->mx_status = status;
	if (status == DNS_OK && route_mx_is_null(mx, n)) {
		finish(r, ROUTE_FAIL, "550 5.1.10 null MX: %s accepts no mail",
		       r->res.target);
		return;
	}
	if (status == DNS_OK) {
		r->mx = calloc(n, sizeof(*r->mx));
		if (r->mx == NULL) {
			finish(r, ROUTE_DEFER, "451 4.3.0 out of memory");
			return;
		}
		memcpy(r->mx, mx, n * sizeof(*mx));
		r->nmx = route_mx_order(r->mx, n, &r->rng);
		r->cur = 0;
	} else if (status == DNS_TEMP) {
		/* MX unknown: only the hosts database can still help */
		int full, got;

		r->any_temp = 1;
		got = hosts_db(r, r->res.target, 0, &full);
		(void)got;
		conclude(r);
		return;
	} else if (set_implicit(r) != 0) {
		finish(r, ROUTE_DEFER, "451 4.3.0 out of memory");
		return;
	}
	r->phase = RP_HOSTS;
	advance(r);
}

/* First step: literal, gateway, local MX database, else the DNS MX. */
static void start(struct route_req *r)
{
	char ip[DNS_IP_MAX];
	int fam;

	if (route_parse_ip(r->res.target, ip, sizeof(ip), &fam) &&
	    (r->res.via_gateway || r->res.target[0] == '[')) {
		add_hop(r, r->res.target, ip, fam, 0);
		conclude(r);
		return;
	}
	if (r->res.target[0] == '[') {
		finish(r, ROUTE_FAIL, "501 5.1.3 bad address literal %s",
		       r->res.target);
		return;
	}
	if (r->rv.local_mx != NULL) {
		struct dns_mx *m = calloc(DNS_ANSWERS_MAX, sizeof(*m));
		int n;

		if (m == NULL) {
			finish(r, ROUTE_DEFER, "451 4.3.0 out of memory");
			return;
		}
		n = r->rv.local_mx(r->rv.arg, r->res.target, m,
				   DNS_ANSWERS_MAX);
		if (n > 0) {
			r->mx = m;
			r->mx_status = DNS_OK;
			if (route_mx_is_null(m, (size_t)n)) {
				finish(r, ROUTE_FAIL,
				       "550 5.1.10 null MX: %s accepts no mail",
				       r->res.target);
				return;
			}
			r->nmx = route_mx_order(m, (size_t)n, &r->rng);
			r->cur = 0;
			r->phase = RP_HOSTS;
			advance(r);
			return;
		}
		free(m);
	}
	r->phase = RP_MX;
	if (r->rv.mx(r->rv.arg, r->res.target, on_mx, r, &r->q) != 0) {
		r->q = NULL;
		on_mx(r, DNS_TEMP, NULL, 0);
	}
}

/* Resolve the MX hosts one after the other. */
static void advance(struct route_req *r)
{
	while (r->phase == RP_HOSTS) {
		struct dns_mx *m;
		char ip[DNS_IP_MAX];
		int fam;

		if (r->cur >= r->nmx || r->res.n >= r->max_addrs ||
		    r->self_cut) {
			conclude(r);
			return;
		}
		m = &r->mx[r->cur];
		if (route_parse_ip(m->host, ip, sizeof(ip), &fam)) {
			int full = add_hop(r, m->host, ip, fam, m->pref);

			r->cur = full ? r->nmx : r->cur + 1;
			continue;
		}
		r->phase = RP_ADDR;
		if (r->rv.addr(r->rv.arg, m->host, on_addr, r, &r->q) != 0) {
			r->q = NULL;
			on_addr(r, DNS_TEMP, NULL, 0);
		}
		return; /* on_addr continues (maybe already did) */
	}
}

int route_start(const struct route_resolver *rv, const struct route_params *p,
		route_cb cb, void *arg, struct route_req **slot)
{
	struct route_req *r = calloc(1, sizeof(*r));
	const char *target;
	unsigned max = p->max_addrs;

	if (r == NULL)
		return SPOOL_E_NOMEM;
	if (max == 0)
		max = 1;
	if (max > ROUTE_ADDRS_MAX)
		max = ROUTE_ADDRS_MAX;
	r->res.hop = calloc(max, sizeof(*r->res.hop));
	if (r->res.hop == NULL) {
		free(r);
		return SPOOL_E_NOMEM;
	}
	r->rv = *rv;
	r->cb = cb;
	r->arg = arg;
	r->slot = slot;
	if (slot != NULL)
		*slot = r;
	r->max_addrs = max;
	r->port = p->port;
	r->rng = p->seed;
	if (p->self != NULL) {
		r->self = *p->self;
		r->has_self = 1;
	}
	snprintf(r->domain, sizeof(r->domain), "%s", p->domain);
	target =
	    route_target(p->domain, p->zone, p->gateway, &r->res.via_gateway);
	snprintf(r->res.target, sizeof(r->res.target), "%s", target);
	r->phase = RP_START;
	start(r);
	return 0;
}

void route_cancel(struct route_req *r)
{
	if (r == NULL || r->phase == RP_DONE)
		return;
	if (r->q != NULL && r->rv.cancel != NULL)
		r->rv.cancel(r->rv.arg, r->q);
	r->q = NULL;
	if (r->slot != NULL && *r->slot == r)
		*r->slot = NULL;
	free(r->mx);
	free(r->res.hop);
	free(r);
}
