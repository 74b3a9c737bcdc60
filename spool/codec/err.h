/*
 * err.h — the spool's error codes, shared by every module.
 *
 * Codes are negative; 0 is success. One table (err.c) maps each code to a
 * short text. Business outcomes of spool_apply() (a claim refused, a file
 * not found) travel in struct spool_result.status with these same codes;
 * only environment failures (LMDB I/O, out of memory) are returned by
 * functions themselves.
 */
#ifndef SPOOL_ERR_H
#define SPOOL_ERR_H

enum spool_err {
	SPOOL_OK = 0,
	SPOOL_E_MALFORMED = -1, /* command or record bytes do not decode */
	SPOOL_E_VERSION = -2,	/* unknown encoding version */
	SPOOL_E_NOTFOUND = -3,	/* no such control file / key */
	SPOOL_E_EXISTS = -4,	/* already present (where not idempotent) */
	SPOOL_E_HELD = -5,	/* control file is on hold */
	SPOOL_E_NOTDUE = -6,	/* next attempt is later than the stamp */
	SPOOL_E_CLAIMED = -7,	/* under a live claim of another holder */
	SPOOL_E_STALE = -8,	/* fencing number or holder does not match */
	SPOOL_E_EXPIRED = -9,	/* the holder's lease ended */
	SPOOL_E_INVAL = -10,	/* a value is out of range or unknown */
	SPOOL_E_LIMIT = -11,	/* a size or count limit was exceeded */
	SPOOL_E_HOPS = -12,	/* hop count over /HOP_COUNT_MAXIMUM */
	SPOOL_E_NOMEM = -13,	/* allocation failed */
	SPOOL_E_IO = -14,	/* LMDB or file system failure */
	SPOOL_E_FULL = -15,	/* LMDB map or disk full */
	SPOOL_E_CLAIM_STALE =
	    -16,	       /* REMOVE: expired claim present, needs force */
	SPOOL_E_NOCLAIM = -17, /* RENEW/COMPLETE on an unclaimed file */
	SPOOL_E_BADNAME = -18, /* not a valid control-file name */
	SPOOL_E__LAST = -19
};

/* Short, static, human-readable text for a code (never NULL). */
const char *spool_strerror(int code);

/* Stable lower-case identifier for a code, for JSON ("not_found"). */
const char *spool_errname(int code);

#endif
