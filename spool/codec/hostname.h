/*
 * hostname.h — the one rule set for host names, domains and IP addresses
 * (RFC 1035 2.3.1 / RFC 1123 2.1 LDH labels, RFC 5321 4.1.3 address
 * literals), for the receiver, the configuration checks and smtpctl.
 *
 * Owns: syntax only. Not: resolution (src/delivery/dns.c), case folding,
 * the trailing root dot (each caller decides whether to strip it), the
 * HOST:PORT split (hostport.h). Pure: no allocation, no state; every
 * function takes a length so it can check a slice of a longer line.
 * Fails: never; each check answers 1 (valid) or 0.
 */
#ifndef SPOOL_HOSTNAME_H
#define SPOOL_HOSTNAME_H

#include <stddef.h>

#define HOSTNAME_LABEL_MAX 63
#define HOSTNAME_DNS_MAX 253 /* a name as the DNS carries it */

/* Why a domain is not valid: the first problem, scanning left to right. */
enum hostname_problem {
	HOSTNAME_OK = 0,
	HOSTNAME_P_EMPTY = -1,	     /* no characters */
	HOSTNAME_P_TOO_LONG = -2,    /* longer than max */
	HOSTNAME_P_EMPTY_LABEL = -3, /* "a..b", ".a", "a." */
	HOSTNAME_P_HYPHEN = -4,	     /* a label starts or ends with '-' */
	HOSTNAME_P_CHAR = -5,	     /* a character other than [A-Za-z0-9-.] */
	HOSTNAME_P_LABEL_LONG = -6,  /* a label over HOSTNAME_LABEL_MAX */
};

/* The first problem of the n bytes at s as a domain of at most max
 * characters, or HOSTNAME_OK. *where (may be NULL) gets the index of the
 * offending character for HOSTNAME_P_CHAR. */
int hostname_domain_check(const char *s, size_t n, size_t max, size_t *where);

/* 1 if the n bytes at s are a domain of at most max characters. */
int hostname_domain_ok(const char *s, size_t n, size_t max);

enum {
	/* accept "[::1]" as well as "[IPv6:::1]" (configuration values) */
	HOSTNAME_V6_UNTAGGED = 1,
	/* accept decimal fields with leading zeros, "010.1.1.1" (RFC 5321
	 * Snum; the configuration's rule) instead of inet_pton's form */
	HOSTNAME_V4_LEADING_ZERO = 2,
};

/* 1 for a dotted quad (four fields 0..255). flags: HOSTNAME_V4_*. */
int hostname_ipv4_ok(const char *s, size_t n, int flags);

/* 1 for a textual IPv6 address (inet_pton). */
int hostname_ipv6_ok(const char *s, size_t n);

/* 1 for a textual IPv4 (canonical) or IPv6 address, NUL-terminated. */
int hostname_ip_ok(const char *s);

/* 1 for an address literal "[1.2.3.4]" or "[IPv6:2001:db8::1]" (the tag
 * case-insensitive), of n bytes including the brackets. flags:
 * HOSTNAME_V6_UNTAGGED, HOSTNAME_V4_LEADING_ZERO. */
int hostname_literal_ok(const char *s, size_t n, int flags);

/* The loose rule of configured addresses: 1 or more characters of
 * [A-Za-z0-9._-], no label structure and no length limit (the caller
 * adds its own): kept because node configurations and smtpctl accept
 * names such as "node_1" that the LDH rule refuses. */
int hostname_loose_ok(const char *s, size_t n);

/* The loose rule for the inside of "[...]" in HOST:PORT: 1 or more of
 * hex digits, ':' and '.'. */
int hostname_loose6_ok(const char *s, size_t n);

#endif
