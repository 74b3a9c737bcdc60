/*
 * smtp_policy.c — the receiver's acceptance policy and trusted networks (see
 * smtp_policy.h for the rules). Owns the verdict for one recipient; owns nothing
 * of the session or the reply text.
 *
 * Fails closed: anything not positively local and not covered by an
 * explicit relay permission is POLICY_DENIED; a failed alias lookup is a
 * temporary failure, never an acceptance.
 */
#include "src/smtpd/smtp_policy.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Length of a domain without one trailing dot. */
static size_t dom_len(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		n--;
	return n;
}

static int low(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int policy_domain_eq(const char *a, const char *b)
{
	size_t na, nb;

	if (a == NULL || b == NULL)
		return 0;
	na = dom_len(a);
	nb = dom_len(b);
	if (na == 0 || na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		if (low((unsigned char)a[i]) != low((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

int policy_domain_local(const struct smtp_policy *p, const char *domain)
{
	char d[SMTP_DOMAIN_MAX + 1];
	size_t n = dom_len(domain);
	int rc;

	if (n == 0 || n > SMTP_DOMAIN_MAX || domain[0] == '[')
		return 0;
	if (policy_domain_eq(domain, p->node_domain) ||
	    policy_domain_eq(domain, p->cluster_domain))
		return 1;
	if (p->alias_has == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		d[i] = (char)low((unsigned char)domain[i]);
	d[n] = '\0';
	rc = p->alias_has(p->alias_arg, d);
	if (rc < 0)
		return POLICY_TEMPFAIL;
	return rc > 0;
}

int policy_check(const struct smtp_policy *p, const struct smtp_mailbox *mb)
{
	int local;

	if (mb->null)
		return POLICY_DENIED;
	if (mb->postmaster)
		return POLICY_LOCAL; /* RFC 5321 4.5.1: always accepted */
	if (mb->literal || mb->domain[0] == '\0')
		return p->policy_allowed ? POLICY_RELAY : POLICY_DENIED;
	local = policy_domain_local(p, mb->domain);
	if (local < 0)
		return POLICY_TEMPFAIL;
	if (p->policy_allowed)
		return local ? POLICY_LOCAL : POLICY_RELAY;
	if (!local)
		return POLICY_DENIED;
	/* a local domain hiding a second address in its local part */
	if (strpbrk(mb->local_plain, "@%!") != NULL)
		return POLICY_DENIED;
	return POLICY_LOCAL;
}

int policy_net_parse(const char *cidr, struct policy_net *out)
{
	char ip[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned max;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(ip))
		return -1;
	memcpy(ip, cidr, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	out->bits = max;
	if (slash != NULL) {
		char *end;
		unsigned long b;

		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		b = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || b > max)
			return -1;
		out->bits = (unsigned)b;
	}
	return 0;
}

/* 1 if the first bits of a and b agree. */
static int prefix_eq(const unsigned char *a, const unsigned char *b,
		     unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xffu << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int policy_net_match(const struct policy_net *nets, size_t n, const char *ip)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff};
	unsigned char a6[16], a4[4];
	int has4 = 0, has6 = 0;

	if (inet_pton(AF_INET, ip, a4) == 1) {
		has4 = 1;
	} else if (inet_pton(AF_INET6, ip, a6) == 1) {
		has6 = 1;
		if (memcmp(a6, mapped, 12) == 0) {
			memcpy(a4, a6 + 12, 4);
			has4 = 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (nets[i].family == AF_INET && has4 &&
		    prefix_eq(nets[i].addr, a4, nets[i].bits))
			return 1;
		if (nets[i].family == AF_INET6 && has6 &&
		    prefix_eq(nets[i].addr, a6, nets[i].bits))
			return 1;
	}
	return 0;
}
