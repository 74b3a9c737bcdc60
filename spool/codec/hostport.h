/*
 * hostport.h — the one "HOST:PORT" / "[V6]:PORT" splitter, for the node
 * configuration, the receiver's listen address, cluster membership,
 * LMTP addresses and smtpctl.
 *
 * Owns: the split and the port (decimal digits only, 1..65535). Not: what
 * a valid HOST is (hostname.h: each caller applies its rule to the host
 * it gets back), "unix:/path" (the LMTP caller checks that first), name
 * resolution. Pure; borrows the input.
 * Fails: SPOOL_E_INVAL for anything but HOST:PORT.
 */
#ifndef SPOOL_HOSTPORT_H
#define SPOOL_HOSTPORT_H

#include <stddef.h>

struct hostport {
	const char *host; /* into the input; not NUL-terminated */
	size_t host_len;  /* >= 1 */
	unsigned port;	  /* 1..65535 */
	int bracketed;	  /* it was "[host]:port" */
};

/* Split s. "[...]" runs to the first ']', which must be followed by ':';
 * otherwise HOST is everything before the last ':' and holds no ':'.
 * 0 or SPOOL_E_INVAL (empty host, no port, port not 1..65535). */
int hostport_parse(const char *s, struct hostport *out);

/* hostport_parse, then copy the host (NUL-terminated) into host, of size
 * bytes; SPOOL_E_INVAL also when it does not fit. port may be NULL. */
int hostport_split(const char *s, char *host, size_t size, unsigned *port);

#endif
