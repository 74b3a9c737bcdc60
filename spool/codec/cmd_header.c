/*
 * cmd_header.c — an encoded spool command read without decoding it all:
 * the check-only decode (spool_cmd_check) and the header's stamp, node
 * and request fields read or written in place (see cmd.h for the wire
 * format). The proposer sets node and req, the leader the stamp; nothing
 * outside spool/codec knows their offsets.
 *
 * Owns nothing. Fails with SPOOL_E_MALFORMED for a NULL or too-short
 * buffer (the accessors look only at the header) and passes on
 * spool_cmd_decode's codes from spool_cmd_check.
 */
#include <stddef.h>
#include <stdint.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/wire.h"

/* Decode and throw the result away; see cmd.h. */
int spool_cmd_check(const void *p, size_t len)
{
	struct spool_cmd cmd;
	int rv;

	if (p == NULL || len < SPOOL_CMD_HDR_LEN)
		return SPOOL_E_MALFORMED;
	rv = spool_cmd_decode(&cmd, p, len);
	if (rv == 0)
		spool_cmd_free(&cmd);
	return rv;
}

/* Header offsets of the u64 fields (see the wire format in cmd.h). */
enum { HDR_STAMP_OFF = 4, HDR_NODE_OFF = 12, HDR_REQ_OFF = 20 };

int spool_cmd_get_stamp(const void *p, size_t len, uint64_t *stamp)
{
	if (p == NULL || len < SPOOL_CMD_HDR_LEN)
		return SPOOL_E_MALFORMED;
	*stamp = be64_get((const uint8_t *)p + HDR_STAMP_OFF);
	return 0;
}

int spool_cmd_set_stamp(void *p, size_t len, uint64_t stamp)
{
	if (p == NULL || len < SPOOL_CMD_HDR_LEN)
		return SPOOL_E_MALFORMED;
	be64_put((uint8_t *)p + HDR_STAMP_OFF, stamp);
	return 0;
}

int spool_cmd_get_origin(const void *p, size_t len, uint64_t *node,
			 uint64_t *req)
{
	if (p == NULL || len < SPOOL_CMD_HDR_LEN)
		return SPOOL_E_MALFORMED;
	*node = be64_get((const uint8_t *)p + HDR_NODE_OFF);
	*req = be64_get((const uint8_t *)p + HDR_REQ_OFF);
	return 0;
}

int spool_cmd_set_origin(void *p, size_t len, uint64_t node, uint64_t req)
{
	if (p == NULL || len < SPOOL_CMD_HDR_LEN)
		return SPOOL_E_MALFORMED;
	be64_put((uint8_t *)p + HDR_NODE_OFF, node);
	be64_put((uint8_t *)p + HDR_REQ_OFF, req);
	return 0;
}
