/*
 * hostport.c — HOST:PORT splitting (see hostport.h).
 */
#include "spool/codec/hostport.h"

#include <string.h>

#include "spool/codec/err.h"

/* A port: decimal digits only, 1..65535. 0 or -1. */
static int parse_port(const char *s, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int hostport_parse(const char *s, struct hostport *out)
{
	const char *colon;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return SPOOL_E_INVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return SPOOL_E_INVAL;
		out->host = s + 1;
		out->host_len = (size_t)(close - s - 1);
		out->bracketed = 1;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return SPOOL_E_INVAL;
		out->host = s;
		out->host_len = (size_t)(colon - s);
		if (memchr(s, ':', out->host_len) != NULL)
			return SPOOL_E_INVAL;
	}
	if (out->host_len == 0 || parse_port(colon + 1, &out->port) != 0)
		return SPOOL_E_INVAL;
	return 0;
}

int hostport_split(const char *s, char *host, size_t size, unsigned *port)
{
	struct hostport hp;
	int rc = hostport_parse(s, &hp);

	if (rc != 0)
		return rc;
	if (hp.host_len >= size)
		return SPOOL_E_INVAL;
	memcpy(host, hp.host, hp.host_len);
	host[hp.host_len] = '\0';
	if (port != NULL)
		*port = hp.port;
	return 0;
}
