/*
 * deliver_self.c — which addresses and domains are this cluster's, as the
 * delivery engine needs to know them:
 *
 *  - its own SMTP listeners ("IP:PORT" from the options, and at each
 *    attempt those of the spool's `nodes` table) and this host's interface
 *    addresses (for wildcard listeners): route.c fails a route that leads
 *    back to one of them (5.4.6, a mail loop);
 *  - the local_env that local.c's local_resolve() asks which recipient
 *    domains are local (the node's domain, every registered node's domain,
 *    the cluster domain, the cluster-wide and node-local aliases) and
 *    where a local user is forwarded (the spool's forward table).
 *
 * Owns nothing beyond the route_self tables it fills. Does not classify
 * recipients (local.c and deliver_group.c do).
 *
 * Fails quietly: a listener that does not parse, or addresses beyond
 * ROUTE_SELF_MAX, are left out; getifaddrs() failing leaves the local
 * address list empty. Table lookups return local.h's 1 / 0 / negative.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/hostport.h"
#include "src/delivery/deliver_impl.h"

/* ---- own listeners and addresses ---- */

/* Add "IP:PORT" (or "[v6]:PORT", "localhost:PORT") to self. */
static void self_add(struct route_self *self, const char *hp)
{
	char host[DNS_IP_MAX + 8], any[64];
	unsigned port;
	struct route_self_addr *a;

	if (hp == NULL || self->n >= ROUTE_SELF_MAX)
		return;
	/* ":PORT" (an empty host) is every address of this host, like "*";
	 * anything else goes through the one HOST:PORT parser */
	if (hp[0] == ':') {
		snprintf(any, sizeof(any), "*%s", hp);
		hp = any;
	}
	if (hostport_split(hp, host, sizeof(host), &port) != 0)
		return;
	a = &self->a[self->n];
	a->port = port;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0 || strcmp(host, "*") == 0)
		a->ip[0] = '\0';
	else if (strcasecmp(host, "localhost") == 0)
		snprintf(a->ip, sizeof(a->ip), "127.0.0.1");
	else if (!route_parse_ip(host, a->ip, sizeof(a->ip), NULL))
		return;
	self->n++;
}

static int node_visit(const struct spool_node *n, void *arg)
{
	self_add(arg, n->smtp);
	return 0;
}

/* This host's interface addresses, for wildcard listeners. */
static void self_ifaddrs(struct route_self *self)
{
	struct ifaddrs *ifa, *p;

	if (getifaddrs(&ifa) != 0)
		return;
	for (p = ifa; p != NULL && self->nlocal < ROUTE_SELF_MAX;
	     p = p->ifa_next) {
		const void *src;

		if (p->ifa_addr == NULL)
			continue;
		if (p->ifa_addr->sa_family == AF_INET)
			src = &((struct sockaddr_in *)(void *)p->ifa_addr)
				   ->sin_addr;
		else if (p->ifa_addr->sa_family == AF_INET6)
			src = &((struct sockaddr_in6 *)(void *)p->ifa_addr)
				   ->sin6_addr;
		else
			continue;
		if (inet_ntop(p->ifa_addr->sa_family, src,
			      self->local[self->nlocal],
			      sizeof(self->local[0])) != NULL)
			self->nlocal++;
	}
	freeifaddrs(ifa);
}

void deliver_self_init(struct deliverer *d, const char *const *own, unsigned n)
{
	for (unsigned i = 0; i < n && own != NULL; i++)
		self_add(&d->self, own[i]);
	self_ifaddrs(&d->self);
}

void deliver_self_load(struct deliverer *d, struct route_self *self)
{
	*self = d->self;
	spool_node_foreach(d->sp, node_visit, self);
}

/* ---- local domains and forwards ---- */

static int env_alias(void *arg, const char *domain)
{
	struct deliverer *d = arg;

	return spool_alias_has(d->sp, domain);
}

static int env_node_alias(void *arg, const char *domain)
{
	struct deliverer *d = arg;

	return d->o.local_alias_has(d->o.local_alias_arg, domain);
}

/* Every registered node's domain is local: any node's symbiont may hold
 * mail received for another node's domain. */
static int env_node_domain(void *arg, const char *domain)
{
	struct deliverer *d = arg;

	return local_spool_node_domain_has(d->sp, domain);
}

static int env_forward(void *arg, const char *user, char *buf, size_t size)
{
	struct deliverer *d = arg;

	return spool_forward_get(d->sp, user, buf, size);
}

void deliver_self_env(struct deliverer *d, const struct spool_config *cfg,
		      struct local_env *env)
{
	memset(env, 0, sizeof(*env));
	env->node_domain = d->s_domain;
	env->cluster_domain = cfg->str[CFG_CLUSTER_DOMAIN];
	env->postmaster_alias = cfg->str[CFG_POSTMASTER_ALIAS];
	env->arg = d;
	env->alias_has = env_alias;
	env->node_alias_has = d->o.local_alias_has ? env_node_alias : NULL;
	env->forward_get = env_forward;
	env->node_domain_has = env_node_domain;
}
