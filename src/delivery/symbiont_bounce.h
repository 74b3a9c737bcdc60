/*
 * symbiont_bounce.h — the report (RFC 3464 DSN) a COMPLETE carries:
 * which recipients of a control file failed (in this attempt, or by the
 * retry limit before it), which were delivered or relayed and asked
 * NOTIFY=SUCCESS, which are still deferred past the delay warning time
 * and asked NOTIFY=DELAY (once: the COMPLETE marks them, see
 * OUT_DEFERRED_WARNED), where the notice goes (the sender, the postmaster,
 * or nowhere for a failed postmaster bounce), and the report's control
 * file itself (name, record, DSN body built by dsn.c) that the spool
 * enqueues in the same entry as the outcomes. One report per COMPLETE:
 * its recipients' blocks carry their own Action.
 *
 * Owns: the storage of one bounce (struct symbiont_bounce), which the
 * COMPLETE's bounce fields point into until symbiont_bounce_free. Does not
 * own: the spool, the original record and outcomes (read during the
 * calls). Fails: SPOOL_E_NOMEM and the codec's errors are returned; the
 * caller decides (the failed recipients stay FAILED and are retried).
 */
#ifndef SRC_DELIVERY_SYMBIONT_BOUNCE_H
#define SRC_DELIVERY_SYMBIONT_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "spool/store/spool.h"
#include "src/delivery/deliver.h"
#include "src/delivery/dsn.h"

/* ---- pure decisions (unit-tested) ---- */

/* Where the bounce of a control file goes (enum spool_kind of the bounce,
 * or -1: no bounce, log and drop). KIND_MAIL with a sender -> KIND_BOUNCE
 * to the sender; KIND_MAIL with sender "<>"/"" and KIND_BOUNCE ->
 * KIND_POSTMASTER to the postmaster; KIND_POSTMASTER -> -1. */
int symbiont_bounce_kind(int kind, const char *sender);

/* 1 when recipient r asked for no failure notice (NOTIFY given without
 * FAILURE, e.g. NOTIFY=NEVER). */
int symbiont_rcpt_wants_bounce(const struct spool_rcpt *r);

/* The report one outcome asks for besides a failure (enum dsn_action), or
 * -1 for none: DSN_ACT_DELIVERED / DSN_ACT_RELAYED for a delivered
 * recipient with NOTIFY=SUCCESS, unless the next hop took the request on
 * (DELIVER_DSN_PASSED); DSN_ACT_DELAYED for a deferred recipient with
 * NOTIFY=DELAY not yet warned (RCPT_F_DELAYED) once now >= arrival +
 * delay_ms (0: never). None for mail from <> or for bounces. */
int symbiont_rcpt_report(const struct spool_rec *rec,
			 const struct deliver_outcome *o, uint64_t delay_ms,
			 uint64_t now);

/* The postmaster address (seed 18.2.2), the From: of bounces and the
 * recipient of postmaster copies: the CFG_POSTMASTER_ALIAS when it holds
 * an '@'; else ALIAS or TCPIP$SMTP at the cluster domain, or at the node
 * domain when no cluster domain is set. */
void symbiont_postmaster(const char *alias, const char *cluster_domain,
			 const char *node_domain, char *buf, size_t size);

/* The recipient of a postmaster copy: the postmaster address, or only its
 * local part when its domain is this node's own domain (which the other
 * nodes do not take as local; a bare local part is local everywhere). */
void symbiont_postmaster_rcpt(const char *postmaster, const char *node_domain,
			      char *buf, size_t size);

/* ---- building one bounce ---- */

/* The node's side of every bounce (set once by the symbiont). */
struct symbiont_bounce_env {
	struct spool *sp;	 /* configuration, the original's body */
	uint64_t self;		 /* origin node of the bounce */
	const char *node_name;	 /* SCSNODE: the bounce's control-file name */
	const char *node_domain; /* Reporting-MTA, postmaster domain */
};

/* One bounce request: the original and this attempt's outcomes. */
struct symbiont_bounce_req {
	const struct symbiont_bounce_env *env;
	const char *name;		   /* the original control file */
	const struct spool_rec *rec;	   /* its record (as delivered) */
	const struct deliver_outcome *out; /* this attempt (may be empty) */
	uint32_t n;
	uint64_t max_body; /* the cluster's body limit per entry; 0 = none */
};

/* One report's storage; cp->bounce points into it once attached. */
struct symbiont_bounce {
	struct dsn_failure *fail; /* the recipients reported */
	char (*hosts)[256];	  /* their Remote-MTA */
	uint32_t nfail;
	struct spool_rcpt rcpt; /* the bounce's one recipient */
	char name[SPOOL_NAME_MAX + 1];
	char to[SPOOL_ADDR_MAX + 1];
	char postmaster[SPOOL_ADDR_MAX + 1];
	struct wbuf body;
	int dropped;		 /* a failed postmaster bounce was dropped */
	struct spool_config cfg; /* read at init */
	uint64_t now;		 /* wall clock at init */
};

/* Make room for the recipients of req and read the configuration (the
 * delay warning time, the postmaster). 0 or SPOOL_E_NOMEM (then
 * symbiont_bounce_free is still due). */
int symbiont_bounce_init(struct symbiont_bounce *b,
			 const struct symbiont_bounce_req *req);

/* Collect the recipients to report: failed in this attempt or already
 * FAILED in the record (the retry limit), and those symbiont_rcpt_report
 * picks. Returns their count. */
uint32_t symbiont_bounce_collect(struct symbiont_bounce *b,
				 const struct symbiont_bounce_req *req);

/* Build the report of the collected recipients into b and attach it to
 * cp (cp->has_bounce, cp->bounce). 1 when attached; 0 when none is due
 * (NOTIFY=NEVER, or b->dropped: the original was a postmaster bounce);
 * negative on error. b->nfail is then the count reported. */
int symbiont_bounce_attach(struct symbiont_bounce *b,
			   const struct symbiont_bounce_req *req,
			   struct spool_cmd_complete *cp);

/* After an attach that returned 1: the deferred items whose delay warning
 * the report carries become OUT_DEFERRED_WARNED. 0 or SPOOL_E_NOMEM. */
int symbiont_bounce_mark(const struct symbiont_bounce *b,
			 const struct spool_rec *rec,
			 struct spool_outcome_item *items, uint32_t n);

void symbiont_bounce_free(struct symbiont_bounce *b);

#endif
