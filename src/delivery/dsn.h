/*
 * dsn.h — build the report of a control file: an RFC 3464
 * multipart/report delivery status notification (a bounce, a delay
 * warning, a success or relay report, or one report mixing them: one
 * per-recipient block each, with its own Action), with the original
 * headers (or the full message when RET=FULL), from the postmaster
 * address of the seed (TCPIP$SMTP@node.domain unless the postmaster alias
 * is set), ready to be enqueued as a control file of user-name SYSTEM with
 * envelope sender <> in the same COMPLETE that records the failure.
 *
 * Pure: the caller passes the time, the names and the message id seed.
 * Output: CRLF line ends throughout, no line over 998 octets in the parts
 * it writes itself (long values are cut); the original message is copied
 * with its line ends made CRLF.
 */
#ifndef SRC_DSN_H
#define SRC_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "spool/store/spool.h"

/* The most of the original message a bounce returns, in octets after its
 * line ends are made CRLF. A bounce travels inside the COMPLETE entry that
 * records the failure, and a RET=FULL copy of a message near the cluster's
 * frame limit would make that entry too big to propose: the file would be
 * retried forever. Over the cap, RET=FULL returns only the headers
 * (text/rfc822-headers), and headers over the cap are cut at a line end;
 * the human-readable part says so. */
#define DSN_RETURN_MAX (1024 * 1024)

/* The RFC 3464 Action of one per-recipient block. */
enum dsn_action {
	DSN_ACT_FAILED = 0,    /* a bounce (the default) */
	DSN_ACT_DELAYED = 1,   /* a delay warning (NOTIFY=DELAY) */
	DSN_ACT_DELIVERED = 2, /* delivered locally (NOTIFY=SUCCESS) */
	DSN_ACT_RELAYED = 3,   /* handed to a next hop without DSN */
};

/* One recipient the report is about (its name stays from the time every
 * report was a bounce). */
struct dsn_failure {
	uint32_t rcpt;		/* index into rec->rcpt */
	const char *reply;	/* the reason (remote reply) */
	const char *remote_mta; /* host it came from, "" if local */
	uint8_t action;		/* enum dsn_action */
};

struct dsn_in {
	const struct spool_rec *rec; /* the original control file */
	const char *orig_name;	     /* its control-file name */
	const void *body;	     /* original message */
	size_t body_len;
	const struct dsn_failure *fail;
	uint32_t nfail;
	const char *reporting_mta; /* node FQDN */
	const char *postmaster;	   /* From: address of the bounce */
	const char *to;		   /* To: of the bounce; NULL = rec->sender */
	uint64_t now_ms;
	const char *boundary_seed; /* unique text for the MIME boundary and
				      the Message-ID (characters a boundary
				      may not hold are replaced) */
	size_t return_max;	   /* cap on the returned original (octets after
			      CRLF conversion); 0 = DSN_RETURN_MAX */
};

/* Build the DSN message into wb (appends). The subject and the notice
 * follow the gravest action listed (failed, then delayed, then delivered
 * or relayed); RET=FULL returns the whole message only when a recipient
 * failed (RFC 3461 4.3), every other report returns the headers. 0,
 * SPOOL_E_INVAL (no recipient listed, or an index or action out of range)
 * or SPOOL_E_NOMEM. */
int dsn_build(const struct dsn_in *in, struct wbuf *wb);

/* The RFC 3463 status of a reply: its enhanced code ("550 5.1.1 ..." ->
 * "5.1.1"), else X.0.0 from its basic code, 4.4.7 for the retry limit
 * (/INTERVAL=MAXIMUM), else 5.0.0. buf must hold 16 bytes. */
void dsn_status(const char *reply, char *buf, size_t size);

#endif
