/*
 * err.c — the one table that maps spool error codes to text.
 */
#include "spool/codec/err.h"

static const struct {
	const char *name;
	const char *text;
} errtab[] = {
    [0] = {"ok", "success"},
    [1] = {"malformed", "malformed command or record"},
    [2] = {"version", "unsupported encoding version"},
    [3] = {"not_found", "no such control file or entry"},
    [4] = {"exists", "already exists"},
    [5] = {"held", "control file is on hold"},
    [6] = {"not_due", "control file is not due yet"},
    [7] = {"claimed", "control file is being processed (live claim)"},
    [8] = {"stale", "stale holder or fencing number"},
    [9] = {"expired", "lease has ended"},
    [10] = {"invalid", "invalid value"},
    [11] = {"limit", "size or count limit exceeded"},
    [12] = {"hops", "hop count exceeds HOP_COUNT_MAXIMUM"},
    [13] = {"no_memory", "out of memory"},
    [14] = {"io", "spool I/O error"},
    [15] = {"full", "spool is full"},
    [16] = {"claim_expired", "control file has an expired claim; use force"},
    [17] = {"not_claimed", "control file is not claimed"},
    [18] = {"bad_name", "invalid control-file name"},
};

const char *spool_strerror(int code)
{
	if (code > 0 || code <= SPOOL_E__LAST)
		return "unknown error";
	return errtab[-code].text;
}

const char *spool_errname(int code)
{
	if (code > 0 || code <= SPOOL_E__LAST)
		return "unknown";
	return errtab[-code].name;
}
