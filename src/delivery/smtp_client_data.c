/*
 * smtp_client_data.c — the data-phase bytes of a client session (see
 * smtp_client_data.h): CRLF normalisation, dot-stuffing, the final dot.
 *
 * Owns nothing past a call: the output buffer is handed to the caller.
 * Fails only when out of memory; the output is sized for the worst case
 * (every octet doubled) up front, so it never reallocates.
 */
#include "src/delivery/smtp_client_data.h"

#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"

/* Append src to the stuffed output; *bol tracks the start of a line. */
static size_t stuff(char *dst, const unsigned char *src, size_t n, int *bol,
		    int *eight)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = src[i];

		if (ch & 0x80)
			*eight = 1;
		if (ch == '\r') {
			/* CR LF stays; a bare CR becomes CR LF */
			dst[o++] = '\r';
			dst[o++] = '\n';
			if (i + 1 < n && src[i + 1] == '\n')
				i++;
			*bol = 1;
			continue;
		}
		if (ch == '\n') {
			dst[o++] = '\r';
			dst[o++] = '\n';
			*bol = 1;
			continue;
		}
		if (*bol && ch == '.')
			dst[o++] = '.';
		dst[o++] = (char)ch;
		*bol = 0;
	}
	return o;
}

int smtp_client_prepare(const void *prefix, size_t plen, const void *msg,
			size_t len, char **out, size_t *outlen, int *eightbit)
{
	/* worst case: every octet doubled, plus CRLF . CRLF */
	size_t cap = 2 * (plen + len) + 8;
	char *b = malloc(cap);
	size_t o = 0;
	int bol = 1, eight = 0;

	if (b == NULL)
		return SPOOL_E_NOMEM;
	if (prefix != NULL && plen > 0)
		o += stuff(b + o, prefix, plen, &bol, &eight);
	if (msg != NULL && len > 0)
		o += stuff(b + o, msg, len, &bol, &eight);
	if (!bol) {
		b[o++] = '\r';
		b[o++] = '\n';
	}
	memcpy(b + o, ".\r\n", 3);
	o += 3;
	*out = b;
	*outlen = o;
	if (eightbit != NULL)
		*eightbit = eight;
	return 0;
}
