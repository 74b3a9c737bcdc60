/*
 * hostname.c — host name, domain and IP address syntax (see hostname.h).
 */
#include "spool/codec/hostname.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* 1 for a character allowed in an LDH label. */
static int ldh(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

static int hexdigit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

int hostname_domain_check(const char *s, size_t n, size_t max, size_t *where)
{
	size_t label = 0;

	if (n == 0)
		return HOSTNAME_P_EMPTY;
	if (n > max)
		return HOSTNAME_P_TOO_LONG;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (label == 0)
				return HOSTNAME_P_EMPTY_LABEL;
			if (s[i - label] == '-' || s[i - 1] == '-')
				return HOSTNAME_P_HYPHEN;
			label = 0;
			continue;
		}
		if (!ldh(c)) {
			if (where != NULL)
				*where = i;
			return HOSTNAME_P_CHAR;
		}
		if (++label > HOSTNAME_LABEL_MAX)
			return HOSTNAME_P_LABEL_LONG;
	}
	return HOSTNAME_OK;
}

int hostname_domain_ok(const char *s, size_t n, size_t max)
{
	return s != NULL &&
	       hostname_domain_check(s, n, max, NULL) == HOSTNAME_OK;
}

/* Copy n bytes of s into buf (size bytes) with a NUL; 0 if too long. */
static int copy_z(char *buf, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 1;
}

int hostname_ipv4_ok(const char *s, size_t n, int flags)
{
	char buf[INET_ADDRSTRLEN];
	unsigned char bin[4];
	size_t i = 0;

	if (!(flags & HOSTNAME_V4_LEADING_ZERO)) {
		if (!copy_z(buf, sizeof(buf), s, n))
			return 0;
		return inet_pton(AF_INET, buf, bin) == 1;
	}
	for (int field = 0; field < 4; field++) {
		unsigned v = 0;
		int digits = 0;

		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
		if (field < 3) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == n;
}

int hostname_ipv6_ok(const char *s, size_t n)
{
	char buf[64];
	unsigned char bin[16];

	if (!copy_z(buf, sizeof(buf), s, n))
		return 0;
	return inet_pton(AF_INET6, buf, bin) == 1;
}

int hostname_ip_ok(const char *s)
{
	size_t n = strlen(s);

	return hostname_ipv4_ok(s, n, 0) || hostname_ipv6_ok(s, n);
}

int hostname_literal_ok(const char *s, size_t n, int flags)
{
	const char *in;
	size_t inn;

	if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= 64)
		return 0;
	in = s + 1;
	inn = n - 2;
	if (memchr(in, '\0', inn) != NULL)
		return 0;
	if (inn >= 5 && strncasecmp(in, "IPv6:", 5) == 0)
		return hostname_ipv6_ok(in + 5, inn - 5);
	if ((flags & HOSTNAME_V6_UNTAGGED) && memchr(in, ':', inn) != NULL)
		return hostname_ipv6_ok(in, inn);
	return hostname_ipv4_ok(in, inn, flags);
}

int hostname_loose_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!ldh(c) && c != '.' && c != '_')
			return 0;
	}
	return 1;
}

int hostname_loose6_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!hexdigit(c) && c != ':' && c != '.')
			return 0;
	}
	return 1;
}
