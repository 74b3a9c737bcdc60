/*
 * test_route.c — unit tests of src/delivery/route.c: MX ordering and the shuffle of
 * equal preferences (fixed seeds), null MX, zone matching, the alternate
 * gateway by IP and by name, the local MX and hosts databases, the
 * /ADDRESS_RETRIES cap, DNS failures, routes back to this cluster, and
 * cancellation. DNS is a fake resolver answering from tables, at once or
 * when the test says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "spool/codec/err.h"
#include "src/delivery/route.h"

/* ---- the fake resolver ---- */

#define FAKE_MAX 32

struct fake_name {
	const char *name;
	int mx_status; /* DNS_* for MX; -1 = NXDOMAIN-like default */
	struct dns_mx mx[8];
	size_t nmx;
	int addr_status;
	const char *addrs[8];
	size_t naddr;
};

struct pending {
	int is_mx;
	char name[256];
	dns_mx_cb mcb;
	dns_addr_cb acb;
	void *arg;
	struct dns_query **slot;
	int cancelled;
};

struct fake {
	struct fake_name names[FAKE_MAX];
	size_t nnames;
	struct dns_mx local_mx[8];
	const char *local_mx_domain;
	size_t nlocal_mx;
	const char *hosts_name[4];
	const char *hosts_addrs[4];
	size_t nhosts;
	int async;
	struct pending pend[FAKE_MAX];
	size_t npend;
	char log[2048]; /* queries asked, "mx:a.test addr:b.test " */
	int cancels;
};

static struct fake F;

struct got {
	int called;
	struct route_result res;
	struct route_hop hop[64];
};

static struct fake_name *fname(const char *name)
{
	for (size_t i = 0; i < F.nnames; i++)
		if (strcasecmp(F.names[i].name, name) == 0)
			return &F.names[i];
	return NULL;
}

static struct fake_name *add_name(const char *name)
{
	struct fake_name *n = &F.names[F.nnames++];

	memset(n, 0, sizeof(*n));
	n->name = name;
	n->mx_status = DNS_NODATA;
	n->addr_status = DNS_NODATA;
	return n;
}

static void add_mx(const char *domain, unsigned pref, const char *host)
{
	struct fake_name *n = fname(domain);

	if (n == NULL)
		n = add_name(domain);
	n->mx_status = DNS_OK;
	n->mx[n->nmx].pref = pref;
	snprintf(n->mx[n->nmx].host, sizeof(n->mx[0].host), "%s", host);
	n->nmx++;
}

static void add_a(const char *name, const char *ip)
{
	struct fake_name *n = fname(name);

	if (n == NULL)
		n = add_name(name);
	n->addr_status = DNS_OK;
	n->addrs[n->naddr++] = ip;
}

static void answer(struct pending *p)
{
	struct fake_name *n = fname(p->name);

	if (p->slot != NULL)
		*p->slot = NULL;
	if (p->is_mx) {
		int st = n != NULL ? n->mx_status : DNS_NXDOMAIN;

		p->mcb(p->arg, st, n ? n->mx : NULL, st == DNS_OK ? n->nmx : 0);
	} else {
		struct dns_addr a[8];
		int st = n != NULL ? n->addr_status : DNS_NXDOMAIN;
		size_t k = 0;

		for (size_t i = 0; n != NULL && i < n->naddr; i++) {
			snprintf(a[k].ip, sizeof(a[k].ip), "%s", n->addrs[i]);
			a[k].family = strchr(n->addrs[i], ':') ? 10 : 2;
			k++;
		}
		p->acb(p->arg, st, a, st == DNS_OK ? k : 0);
	}
}

static int fake_query(int is_mx, const char *name, dns_mx_cb mcb,
		      dns_addr_cb acb, void *arg, struct dns_query **slot)
{
	struct pending *p = &F.pend[F.npend % FAKE_MAX];
	size_t l = strlen(F.log);

	snprintf(F.log + l, sizeof(F.log) - l, "%s:%s ", is_mx ? "mx" : "addr",
		 name);
	memset(p, 0, sizeof(*p));
	p->is_mx = is_mx;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->mcb = mcb;
	p->acb = acb;
	p->arg = arg;
	p->slot = slot;
	/* any non-NULL token: route.c never looks inside */
	if (slot != NULL)
		*slot = (struct dns_query *)(void *)p;
	if (!F.async) {
		answer(p);
		return 0;
	}
	F.npend++;
	return 0;
}

static int fake_mx(void *arg, const char *name, dns_mx_cb cb, void *cbarg,
		   struct dns_query **slot)
{
	return fake_query(1, name, cb, NULL, cbarg, slot);
}

static int fake_addr(void *arg, const char *name, dns_addr_cb cb, void *cbarg,
		     struct dns_query **slot)
{
	return fake_query(0, name, NULL, cb, cbarg, slot);
}

static void fake_cancel(void *arg, struct dns_query *q)
{
	struct pending *p = (struct pending *)(void *)q;

	p->cancelled = 1;
	F.cancels++;
}

static int fake_local_mx(void *arg, const char *domain, struct dns_mx *out,
			 size_t max)
{
	size_t n = 0;

	if (F.local_mx_domain == NULL ||
	    strcasecmp(F.local_mx_domain, domain) != 0)
		return 0;
	for (; n < F.nlocal_mx && n < max; n++)
		out[n] = F.local_mx[n];
	return (int)n;
}

static int fake_local_host(void *arg, const char *name, char *buf, size_t size)
{
	for (size_t i = 0; i < F.nhosts; i++)
		if (strcasecmp(F.hosts_name[i], name) == 0) {
			snprintf(buf, size, "%s", F.hosts_addrs[i]);
			return 0;
		}
	return SPOOL_E_NOTFOUND;
}

static const struct route_resolver RV = {
    NULL, fake_mx, fake_addr, fake_cancel, fake_local_mx, fake_local_host,
};

static void on_done(void *arg, const struct route_result *res)
{
	struct got *g = arg;

	g->called++;
	g->res = *res;
	for (uint32_t i = 0; i < res->n && i < 64; i++)
		g->hop[i] = res->hop[i];
	g->res.hop = g->hop;
}

static int setup(void **state)
{
	memset(&F, 0, sizeof(F));
	return 0;
}

/* Route domain with zone/gateway/max/self; the result in g. */
static void route(const char *domain, const char *zone, const char *gw,
		  unsigned max, const struct route_self *self, uint64_t seed,
		  struct got *g)
{
	struct route_params p;
	struct route_req *rq = NULL;

	memset(g, 0, sizeof(*g));
	memset(&p, 0, sizeof(p));
	p.domain = domain;
	p.zone = zone;
	p.gateway = gw;
	p.max_addrs = max;
	p.port = 25;
	p.self = self;
	p.seed = seed;
	assert_int_equal(route_start(&RV, &p, on_done, g, &rq), 0);
	if (!F.async) {
		assert_int_equal(g->called, 1);
		assert_null(rq);
	}
}

/* ---- pure helpers ---- */

static void test_mx_order_lowest_preference_first(void **state)
{
	struct dns_mx mx[4] = {
	    {30, "c.test"}, {10, "a.test"}, {20, "b.test"}, {5, "z.test"}};
	uint64_t rng = 1;

	assert_int_equal(route_mx_order(mx, 4, &rng), 4);
	assert_string_equal(mx[0].host, "z.test");
	assert_string_equal(mx[1].host, "a.test");
	assert_string_equal(mx[2].host, "b.test");
	assert_string_equal(mx[3].host, "c.test");
}

/* Order of a 6-host equal run under a seed, as a string. */
static void order_of(uint64_t seed, char *out, size_t size)
{
	struct dns_mx mx[7] = {{10, "a"}, {10, "b"}, {10, "c"},	  {10, "d"},
			       {10, "e"}, {10, "f"}, {5, "first"}};
	uint64_t rng = seed;
	size_t o = 0;

	route_mx_order(mx, 7, &rng);
	assert_string_equal(mx[0].host, "first");
	for (int i = 1; i < 7; i++)
		o += (size_t)snprintf(out + o, size - o, "%s", mx[i].host);
}

static void test_mx_order_equal_preferences_shuffled_by_seed(void **state)
{
	char a[16], b[16], c[16];
	int first_seen[6] = {0};

	order_of(42, a, sizeof(a));
	order_of(42, b, sizeof(b));
	assert_string_equal(a, b); /* same seed, same order */
	/* different seeds give different orders, and every host of the
	 * run comes first for some seed (load balancing) */
	int differs = 0;

	for (uint64_t s = 1; s <= 200; s++) {
		order_of(s, c, sizeof(c));
		if (strcmp(c, a) != 0)
			differs = 1;
		first_seen[c[0] - 'a'] = 1;
		/* a permutation: every host exactly once */
		for (char h = 'a'; h <= 'f'; h++)
			assert_non_null(strchr(c, h));
	}
	assert_true(differs);
	for (int i = 0; i < 6; i++)
		assert_true(first_seen[i]);
}

static void test_mx_order_never_mixes_preference_levels(void **state)
{
	for (uint64_t s = 0; s < 50; s++) {
		struct dns_mx mx[6] = {{20, "b1"}, {10, "a1"}, {20, "b2"},
				       {10, "a2"}, {30, "c1"}, {10, "a3"}};
		uint64_t rng = s;

		route_mx_order(mx, 6, &rng);
		for (int i = 0; i < 3; i++)
			assert_int_equal(mx[i].host[0], 'a');
		assert_int_equal(mx[3].host[0], 'b');
		assert_int_equal(mx[4].host[0], 'b');
		assert_string_equal(mx[5].host, "c1");
	}
}

/* The same MX set in any answer order and the same seed: the same list
 * (deliver.c merges domains whose lists are equal). */
static void test_mx_order_same_set_any_answer_order(void **state)
{
	for (uint64_t s = 0; s < 50; s++) {
		struct dns_mx a[4] = {{10, "mx1.test"},
				      {10, "MX2.test"},
				      {10, "mx3.test"},
				      {5, "p.test"}};
		struct dns_mx b[4] = {{10, "mx3.test"},
				      {5, "p.test"},
				      {10, "mx2.test"},
				      {10, "mx1.test"}};
		uint64_t ra = s, rb = s;

		assert_int_equal(route_mx_order(a, 4, &ra), 4);
		assert_int_equal(route_mx_order(b, 4, &rb), 4);
		for (int i = 0; i < 4; i++)
			assert_int_equal(strcasecmp(a[i].host, b[i].host), 0);
	}
}

static void test_null_mx_detection(void **state)
{
	struct dns_mx one_null[1] = {{0, ""}};
	struct dns_mx dot[1] = {{0, "."}};
	struct dns_mx mixed[2] = {{0, ""}, {10, "mx.test"}};

	assert_true(route_mx_is_null(one_null, 1));
	assert_true(route_mx_is_null(dot, 1));
	assert_false(route_mx_is_null(mixed, 2));
	assert_false(route_mx_is_null(mixed, 0));
}

static void test_mx_order_drops_null_entries(void **state)
{
	struct dns_mx mixed[3] = {{0, ""}, {10, "mx.test"}, {0, "."}};
	uint64_t rng = 3;

	assert_int_equal(route_mx_order(mixed, 3, &rng), 1);
	assert_string_equal(mixed[0].host, "mx.test");
}

static void test_zone_matching(void **state)
{
	assert_true(route_in_zone("abc.com", "abc.com"));
	assert_true(route_in_zone("mail.ABC.com", "abc.COM"));
	assert_true(route_in_zone("a.b.abc.com.", "abc.com"));
	assert_true(route_in_zone("abc.com", "abc.com."));
	assert_false(route_in_zone("xabc.com", "abc.com"));
	assert_false(route_in_zone("abc.com.evil", "abc.com"));
	assert_false(route_in_zone("com", "abc.com"));
	assert_false(route_in_zone("abc.com", ""));
}

static void test_target_gateway_only_outside_zone_with_both_set(void **state)
{
	int via;

	assert_string_equal(
	    route_target("x.abc.com", "abc.com", "relay.abc.com", &via),
	    "x.abc.com");
	assert_false(via);
	assert_string_equal(
	    route_target("other.org", "abc.com", "relay.abc.com", &via),
	    "relay.abc.com");
	assert_true(via);
	/* no zone or no gateway: plain MX routing everywhere */
	assert_string_equal(
	    route_target("other.org", "", "relay.abc.com", &via), "other.org");
	assert_false(via);
	assert_string_equal(route_target("other.org", "abc.com", "", &via),
			    "other.org");
	assert_false(via);
}

static void test_zone_in_effect_follows_the_seed(void **state)
{
	char b[256];

	(void)state;
	/* not set: the local domain (seed 18.1.5.2) */
	assert_string_equal(route_zone("", "mail.abc.com", b, sizeof(b)),
			    "mail.abc.com");
	/* /ZONE without a value: one level above the local domain */
	assert_string_equal(route_zone(".", "mail.abc.com", b, sizeof(b)),
			    "abc.com");
	assert_string_equal(route_zone(".", "localhost", b, sizeof(b)),
			    "localhost");
	/* set: as set */
	assert_string_equal(route_zone("xyz.org", "mail.abc.com", b, sizeof(b)),
			    "xyz.org");
}

static void test_parse_ip_forms(void **state)
{
	char ip[64];
	int fam;

	assert_true(route_parse_ip("1.2.3.4", ip, sizeof(ip), &fam));
	assert_string_equal(ip, "1.2.3.4");
	assert_int_equal(fam, AF_INET);
	assert_true(route_parse_ip("[10.0.0.1]", ip, sizeof(ip), &fam));
	assert_string_equal(ip, "10.0.0.1");
	assert_true(route_parse_ip("[IPv6:2001:DB8::1]", ip, sizeof(ip), &fam));
	assert_string_equal(ip, "2001:db8::1");
	assert_int_equal(fam, AF_INET6);
	assert_false(route_parse_ip("relay.abc.com", ip, sizeof(ip), &fam));
	assert_false(route_parse_ip("1.2.3", ip, sizeof(ip), &fam));
	assert_false(route_parse_ip("[]", ip, sizeof(ip), &fam));
}

static void test_self_matching_exact_and_wildcard(void **state)
{
	struct route_self self;

	memset(&self, 0, sizeof(self));
	self.n = 2;
	snprintf(self.a[0].ip, sizeof(self.a[0].ip), "127.0.0.1");
	self.a[0].port = 2525;
	self.a[1].ip[0] = '\0'; /* 0.0.0.0:25 */
	self.a[1].port = 25;
	self.nlocal = 1;
	snprintf(self.local[0], sizeof(self.local[0]), "192.0.2.7");

	assert_true(route_is_self(&self, "127.0.0.1", 2525));
	assert_false(route_is_self(&self, "127.0.0.1", 2526));
	assert_false(route_is_self(&self, "127.0.0.2", 2525));
	assert_true(route_is_self(&self, "127.0.0.9", 25)); /* loopback */
	assert_true(route_is_self(&self, "192.0.2.7", 25));
	assert_false(route_is_self(&self, "192.0.2.8", 25));
	assert_false(route_is_self(NULL, "127.0.0.1", 2525));
}

/* ---- sequences ---- */

static void test_mx_hosts_resolved_in_preference_order(void **state)
{
	struct got g;

	add_mx("dest.test", 20, "mx2.dest.test");
	add_mx("dest.test", 10, "mx1.dest.test");
	add_a("mx1.dest.test", "192.0.2.1");
	add_a("mx2.dest.test", "192.0.2.2");
	add_a("mx2.dest.test", "192.0.2.3");
	route("dest.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 3);
	assert_string_equal(g.hop[0].ip, "192.0.2.1");
	assert_string_equal(g.hop[0].host, "mx1.dest.test");
	assert_int_equal(g.hop[0].pref, 10);
	assert_string_equal(g.hop[1].ip, "192.0.2.2");
	assert_string_equal(g.hop[2].ip, "192.0.2.3");
	assert_string_equal(
	    F.log, "mx:dest.test addr:mx1.dest.test addr:mx2.dest.test ");
}

static void test_address_retries_cap_the_list(void **state)
{
	struct got g;
	static const char *ips[6] = {"192.0.2.1", "192.0.2.2", "192.0.2.3",
				     "192.0.2.4", "192.0.2.5", "192.0.2.6"};
	char host[6][32];

	for (int i = 0; i < 6; i++) {
		snprintf(host[i], sizeof(host[i]), "mx%d.big.test", i);
		add_mx("big.test", (unsigned)(10 * (i + 1)), host[i]);
		add_a(host[i], ips[i]);
	}
	route("big.test", "", "", 3, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 3);
	assert_string_equal(g.hop[2].ip, "192.0.2.3");
	/* no lookup past the cap */
	assert_null(strstr(F.log, "mx3.big.test"));
}

static void test_null_mx_fails_recipient_at_once(void **state)
{
	struct got g;

	add_mx("nomail.test", 0, "");
	route("nomail.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_FAIL);
	assert_non_null(strstr(g.res.reply, "5.1.10"));
	assert_int_equal(strncmp(g.res.reply, "550 5.1.10 null MX", 18), 0);
	assert_null(strstr(F.log, "addr:")); /* no address lookup */
}

static void test_no_mx_uses_address_records_as_implicit_mx(void **state)
{
	struct got g;

	add_a("plain.test", "192.0.2.9");
	route("plain.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 1);
	assert_string_equal(g.hop[0].ip, "192.0.2.9");
	assert_string_equal(g.hop[0].host, "plain.test");
	assert_string_equal(F.log, "mx:plain.test addr:plain.test ");
}

static void test_unknown_domain_fails_5_1_2(void **state)
{
	struct got g;

	route("nowhere.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_FAIL);
	assert_non_null(strstr(g.res.reply, "5.1.2"));
}

static void test_dns_failure_defers(void **state)
{
	struct got g;
	struct fake_name *n = add_name("sick.test");

	n->mx_status = DNS_TEMP;
	route("sick.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_DEFER);
	assert_int_equal(g.res.reply[0], '4');
}

static void test_mx_host_without_address_falls_through(void **state)
{
	struct got g;
	struct fake_name *n;

	add_mx("half.test", 10, "dead.half.test");
	add_mx("half.test", 20, "live.half.test");
	n = add_name("dead.half.test");
	n->addr_status = DNS_NXDOMAIN;
	add_a("live.half.test", "192.0.2.20");
	route("half.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 1);
	assert_string_equal(g.hop[0].host, "live.half.test");
}

static void test_hosts_database_is_used_last(void **state)
{
	struct got g;

	/* DNS knows nothing of the MX host; the hosts table does */
	add_mx("hdb.test", 10, "gw.hdb.test");
	F.hosts_name[0] = "gw.hdb.test";
	F.hosts_addrs[0] = "192.0.2.30 192.0.2.31";
	F.nhosts = 1;
	route("hdb.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 2);
	assert_string_equal(g.hop[0].ip, "192.0.2.30");
	assert_string_equal(g.hop[1].ip, "192.0.2.31");
	/* DNS was asked first */
	assert_non_null(strstr(F.log, "addr:gw.hdb.test"));
}

static void test_hosts_database_answers_when_dns_has_no_domain(void **state)
{
	struct got g;

	F.hosts_name[0] = "intranet";
	F.hosts_addrs[0] = "192.0.2.40";
	F.nhosts = 1;
	route("intranet", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_string_equal(g.hop[0].ip, "192.0.2.40");
}

static void test_local_mx_database_comes_before_dns(void **state)
{
	struct got g;

	add_mx("lmx.test", 10, "dns-mx.lmx.test");
	add_a("dns-mx.lmx.test", "192.0.2.50");
	add_a("local-gw.test", "192.0.2.51");
	F.local_mx_domain = "lmx.test";
	F.local_mx[0].pref = 5;
	snprintf(F.local_mx[0].host, sizeof(F.local_mx[0].host),
		 "local-gw.test");
	F.nlocal_mx = 1;
	route("lmx.test", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 1);
	assert_string_equal(g.hop[0].ip, "192.0.2.51");
	assert_null(strstr(F.log, "mx:lmx.test")); /* no DNS MX query */
}

static void test_gateway_by_ip_is_used_directly(void **state)
{
	struct got g;

	add_mx("far.org", 10, "mx.far.org");
	add_a("mx.far.org", "192.0.2.60");
	route("far.org", "abc.com", "1.2.3.4", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_true(g.res.via_gateway);
	assert_int_equal(g.res.n, 1);
	assert_string_equal(g.hop[0].ip, "1.2.3.4");
	assert_string_equal(F.log, ""); /* no lookup at all */
}

static void test_gateway_by_name_is_resolved_by_mx(void **state)
{
	struct got g;

	/* relay.abc.com has no A record: only MX records (the seed's
	 * example) */
	add_mx("relay.abc.com", 100, "mail11.abc.com");
	add_mx("relay.abc.com", 200, "mail2.abc.com");
	add_a("mail11.abc.com", "192.0.2.71");
	add_a("mail2.abc.com", "192.0.2.72");
	route("far.org", "abc.com", "relay.abc.com", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_true(g.res.via_gateway);
	assert_string_equal(g.res.target, "relay.abc.com");
	assert_int_equal(g.res.n, 2);
	assert_string_equal(g.hop[0].host, "mail11.abc.com");
	assert_null(strstr(F.log, "far.org"));
}

static void test_inside_zone_ignores_gateway(void **state)
{
	struct got g;

	add_mx("x.abc.com", 10, "mx.x.abc.com");
	add_a("mx.x.abc.com", "192.0.2.80");
	route("x.abc.com", "abc.com", "1.2.3.4", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_false(g.res.via_gateway);
	assert_string_equal(g.hop[0].ip, "192.0.2.80");
}

static void test_route_back_to_cluster_fails_5_4_6(void **state)
{
	struct got g;
	struct route_self self;

	memset(&self, 0, sizeof(self));
	self.n = 1;
	snprintf(self.a[0].ip, sizeof(self.a[0].ip), "127.0.0.1");
	self.a[0].port = 25;
	add_mx("loop.test", 10, "us.loop.test");
	add_a("us.loop.test", "127.0.0.1");
	route("loop.test", "", "", 16, &self, 1, &g);
	assert_int_equal(g.res.status, ROUTE_FAIL);
	assert_string_equal(g.res.reply,
			    "550 5.4.6 routing loop: mail for loop.test would "
			    "loop back to this cluster");
}

static void test_gateway_ip_of_our_own_fails_5_4_6(void **state)
{
	struct got g;
	struct route_self self;

	memset(&self, 0, sizeof(self));
	self.n = 1;
	snprintf(self.a[0].ip, sizeof(self.a[0].ip), "127.0.0.1");
	self.a[0].port = 25;
	route("far.org", "abc.com", "[127.0.0.1]", 16, &self, 1, &g);
	assert_int_equal(g.res.status, ROUTE_FAIL);
	assert_non_null(strstr(g.res.reply, "5.4.6"));
}

static void test_own_backup_mx_keeps_only_better_ones(void **state)
{
	struct got g;
	struct route_self self;

	memset(&self, 0, sizeof(self));
	self.n = 1;
	snprintf(self.a[0].ip, sizeof(self.a[0].ip), "127.0.0.1");
	self.a[0].port = 25;
	add_mx("backup.test", 10, "primary.backup.test");
	add_mx("backup.test", 20, "us.backup.test");
	add_mx("backup.test", 30, "worse.backup.test");
	add_a("primary.backup.test", "192.0.2.90");
	add_a("us.backup.test", "127.0.0.1");
	add_a("worse.backup.test", "192.0.2.91");
	route("backup.test", "", "", 16, &self, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 1);
	assert_string_equal(g.hop[0].ip, "192.0.2.90");
}

static void test_address_literal_domain_is_the_address(void **state)
{
	struct got g;

	route("[192.0.2.99]", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_OK);
	assert_int_equal(g.res.n, 1);
	assert_string_equal(g.hop[0].ip, "192.0.2.99");
	assert_string_equal(F.log, "");
	route("[not-an-ip]", "", "", 16, NULL, 1, &g);
	assert_int_equal(g.res.status, ROUTE_FAIL);
}

static void test_asynchronous_answers_and_cancel(void **state)
{
	struct got g;
	struct route_params p;
	struct route_req *rq = NULL;

	F.async = 1;
	add_mx("slow.test", 10, "mx.slow.test");
	add_a("mx.slow.test", "192.0.2.100");

	memset(&g, 0, sizeof(g));
	memset(&p, 0, sizeof(p));
	p.domain = "slow.test";
	p.zone = "";
	p.gateway = "";
	p.max_addrs = 16;
	p.port = 25;
	assert_int_equal(route_start(&RV, &p, on_done, &g, &rq), 0);
	assert_non_null(rq);
	assert_int_equal(g.called, 0);
	answer(&F.pend[0]); /* MX */
	assert_int_equal(g.called, 0);
	answer(&F.pend[1]); /* A */
	assert_int_equal(g.called, 1);
	assert_null(rq);
	assert_string_equal(g.hop[0].ip, "192.0.2.100");

	/* cancelled while its MX query runs: no callback, query cancelled */
	F.npend = 0;
	memset(&g, 0, sizeof(g));
	assert_int_equal(route_start(&RV, &p, on_done, &g, &rq), 0);
	assert_non_null(rq);
	route_cancel(rq);
	assert_int_equal(F.cancels, 1);
	assert_int_equal(g.called, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx_order_lowest_preference_first),
	    cmocka_unit_test(test_mx_order_equal_preferences_shuffled_by_seed),
	    cmocka_unit_test(test_mx_order_never_mixes_preference_levels),
	    cmocka_unit_test(test_mx_order_same_set_any_answer_order),
	    cmocka_unit_test(test_null_mx_detection),
	    cmocka_unit_test(test_mx_order_drops_null_entries),
	    cmocka_unit_test(test_zone_matching),
	    cmocka_unit_test(
		test_target_gateway_only_outside_zone_with_both_set),
	    cmocka_unit_test(test_zone_in_effect_follows_the_seed),
	    cmocka_unit_test(test_parse_ip_forms),
	    cmocka_unit_test(test_self_matching_exact_and_wildcard),
	    cmocka_unit_test_setup(test_mx_hosts_resolved_in_preference_order,
				   setup),
	    cmocka_unit_test_setup(test_address_retries_cap_the_list, setup),
	    cmocka_unit_test_setup(test_null_mx_fails_recipient_at_once, setup),
	    cmocka_unit_test_setup(
		test_no_mx_uses_address_records_as_implicit_mx, setup),
	    cmocka_unit_test_setup(test_unknown_domain_fails_5_1_2, setup),
	    cmocka_unit_test_setup(test_dns_failure_defers, setup),
	    cmocka_unit_test_setup(test_mx_host_without_address_falls_through,
				   setup),
	    cmocka_unit_test_setup(test_hosts_database_is_used_last, setup),
	    cmocka_unit_test_setup(
		test_hosts_database_answers_when_dns_has_no_domain, setup),
	    cmocka_unit_test_setup(test_local_mx_database_comes_before_dns,
				   setup),
	    cmocka_unit_test_setup(test_gateway_by_ip_is_used_directly, setup),
	    cmocka_unit_test_setup(test_gateway_by_name_is_resolved_by_mx,
				   setup),
	    cmocka_unit_test_setup(test_inside_zone_ignores_gateway, setup),
	    cmocka_unit_test_setup(test_route_back_to_cluster_fails_5_4_6,
				   setup),
	    cmocka_unit_test_setup(test_gateway_ip_of_our_own_fails_5_4_6,
				   setup),
	    cmocka_unit_test_setup(test_own_backup_mx_keeps_only_better_ones,
				   setup),
	    cmocka_unit_test_setup(test_address_literal_domain_is_the_address,
				   setup),
	    cmocka_unit_test_setup(test_asynchronous_answers_and_cancel, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
