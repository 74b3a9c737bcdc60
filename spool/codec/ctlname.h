/*
 * ctlname.h — control-file names: yymmddhhmmsscc_user-name_seq.TCPIP_scnode
 * (DESIGN.md, after the seed's yymmddmmshh_user-name_pid.TCPIP_scnode).
 *
 * yymmddhhmmsscc: UTC time to hundredths; user-name: [A-Za-z0-9$._-]+
 * (may contain '_'); seq: 8 lower-case hex digits (per-node sequence);
 * scnode: the node name, [A-Za-z0-9_-]+. At most SPOOL_NAME_MAX bytes.
 * Pure: the caller passes the time.
 */
#ifndef SPOOL_CTLNAME_H
#define SPOOL_CTLNAME_H

#include <stddef.h>
#include <stdint.h>

#define CTLNAME_USER_MAX 64
#define CTLNAME_NODE_MAX 64

struct ctlname {
	int year, month, day, hour, min, sec, centi; /* year is 2000 + yy */
	char user[CTLNAME_USER_MAX + 1];
	uint32_t seq;
	char node[CTLNAME_NODE_MAX + 1];
};

/* Write the name for time ms (ms since the epoch, UTC, years 2000..2099;
 * others give SPOOL_E_INVAL) into buf.
 * 0, or SPOOL_E_BADNAME for a bad user/node, SPOOL_E_LIMIT if size is too
 * small. */
int ctlname_make(char *buf, size_t size, uint64_t ms, const char *user,
		 uint32_t seq, const char *node);

/* Parse and validate. 0 or SPOOL_E_BADNAME. out may be NULL. */
int ctlname_parse(const char *name, struct ctlname *out);

/* 1 if s is a valid user-name / node name for a control file. */
int ctlname_user_ok(const char *s);
int ctlname_node_ok(const char *s);

#endif
