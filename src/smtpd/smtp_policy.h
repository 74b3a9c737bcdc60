/*
 * smtp_policy.h — the receiver's acceptance policy: is a recipient ours (local
 * delivery), may it be relayed, or is it refused ("550 5.7.1 relaying
 * denied"); and the trusted-network list that allows relaying.
 *
 * A recipient is local when its domain (case-insensitive, one trailing dot
 * ignored) is the node's domain, the cluster domain or an alias (cluster-
 * wide table or node-local file, through the alias_has callback). It is
 * accepted when local, or when relaying is allowed (/OPTIONS=RELAY, or the
 * client is in a trusted network). Without relaying, a local part holding
 * '@', '%' or '!' is refused even for a local domain: those are the
 * classic ways to smuggle a second, remote address through a local one
 * (user%other@local, "user@other"@local, other!user@local). An address
 * literal is never local. A source route never matters: the parser has
 * dropped it and the final mailbox decides.
 *
 * Pure: no I/O; the alias lookup is the caller's callback.
 */
#ifndef SRC_SMTPD_SMTP_POLICY_H
#define SRC_SMTPD_SMTP_POLICY_H

#include <stddef.h>

#include "src/smtpd/smtp_parse.h"

enum policy_verdict {
	POLICY_TEMPFAIL = -1, /* the alias lookup failed: 451 4.3.0 */
	POLICY_DENIED = 0,    /* 550 5.7.1 relaying denied */
	POLICY_LOCAL = 1,     /* ours */
	POLICY_RELAY = 2,     /* someone else's, relaying allowed */
};

struct smtp_policy {
	const char *node_domain;    /* "" = none */
	const char *cluster_domain; /* "" = none */
	int policy_allowed;	    /* /OPTIONS=RELAY or a trusted client */
	/* 1 = domain is an alias, 0 = not, < 0 = lookup failed; NULL = no
	 * aliases */
	int (*alias_has)(void *arg, const char *domain);
	void *alias_arg;
};

/* Verdict for one parsed recipient. */
int policy_check(const struct smtp_policy *p, const struct smtp_mailbox *mb);

/* 1 if domain is local under p, 0 if not, POLICY_TEMPFAIL on lookup
 * failure. */
int policy_domain_local(const struct smtp_policy *p, const char *domain);

/* 1 if a and b name the same domain (case, one trailing dot ignored). */
int policy_domain_eq(const char *a, const char *b);

/* A network: "10.0.0.0/8", "::1/128", or a bare address (a host). */
struct policy_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

/* Parse one CIDR string. 0 or -1. */
int policy_net_parse(const char *cidr, struct policy_net *out);

/* 1 if the address text ip is in one of the n networks (an IPv4-mapped
 * IPv6 address matches IPv4 networks). */
int policy_net_match(const struct policy_net *nets, size_t n, const char *ip);

#endif
