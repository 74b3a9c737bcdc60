/*
 * smtp_client_data.h — the bytes of an SMTP/LMTP data phase, built from a
 * message before a client session starts: line ends made CRLF, leading
 * dots doubled (RFC 5321 4.5.2), the terminating ".\r\n" added.
 *
 * Ownership: the output is malloc'd and the caller's. Pure: no I/O, no
 * state. Fails only when out of memory (SPOOL_E_NOMEM).
 */
#ifndef SRC_DELIVERY_SMTP_CLIENT_DATA_H
#define SRC_DELIVERY_SMTP_CLIENT_DATA_H

#include <stddef.h>

/* Build the bytes of the data phase: prefix (may be NULL) then msg,
 * bare LF and bare CR made CRLF, leading dots doubled, a final CRLF added
 * when missing, then ".\r\n". *out is malloc'd. *eightbit tells whether
 * an octet > 127 was seen. 0 or SPOOL_E_NOMEM. */
int smtp_client_prepare(const void *prefix, size_t plen, const void *msg,
			size_t len, char **out, size_t *outlen, int *eightbit);

#endif
