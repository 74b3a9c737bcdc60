/*
 * symbiont_actlog.h — the symbiont's activity log (the seed's
 * TCPIP$SMTP_LOGFILE, Postfix style): one line per recipient outcome,
 * appended to a file with one write(2) each, e.g.
 *
 *   2023-11-14T22:13:20.123Z NODE1 <name>: to=<a@b>, relay=host[ip]:25,
 *   delay=1.2s, attempts=1, status=sent (250 ok)
 *
 * The file is the node config's activity_log, or the one SET
 * CONFIGURATION SMTP /LOG=file names (followed at each scan), which must
 * be directly inside the node's [node] log_dir and is opened without
 * following links (src/base/logdir.h); refused, the node's own file is
 * used and a warning logged once.
 *
 * Owns: the file descriptor. Does not own: the records and outcomes
 * (read during the call). Fails: a file that cannot be opened is warned
 * about and there is no log; a failed write is logged at debug level and
 * dropped. Nothing here stops a delivery.
 */
#ifndef SRC_DELIVERY_SYMBIONT_ACTLOG_H
#define SRC_DELIVERY_SYMBIONT_ACTLOG_H

#include "spool/store/spool.h"
#include "src/delivery/deliver.h"

struct symbiont_actlog {
	int fd;		/* -1 = no log */
	char node[256]; /* the node config's activity log */
	char dir[256];	/* the node's log_dir ("" = /LOG refused) */
	char cur[256];	/* the /LOG value followed ("" = the node's) */
};

/* Open the node's log at path (NULL, "" or "none": no log); /LOG files
 * must be in dir (NULL or "": none is allowed). */
void symbiont_actlog_open(struct symbiont_actlog *l, const char *path,
			  const char *dir);

/* Follow SET CONFIGURATION SMTP /LOG=file: a set CFG_LOG overrides the
 * node's file; reset, the node's own file is used again. */
void symbiont_actlog_follow(struct symbiont_actlog *l,
			    const struct spool_config *c);

/* One line for the outcome o of a recipient of control file name (record
 * rec, o->rcpt < rec->nrcpt), written by node node_name under the claim
 * with fencing number fence: the seed's fields, then from=, size= (as
 * Postfix's), fence= and lease=held, or lease=lost when the node already
 * knew its lease was gone when the outcome came back (the fault harness
 * matches copies to claims and looks for two live leases). */
void symbiont_actlog_write(struct symbiont_actlog *l, const char *node_name,
			   const char *name, const struct spool_rec *rec,
			   uint64_t fence, int lease_held,
			   const struct deliver_outcome *o);

/* Open the file in use again (SIGHUP, after logrotate moved it). */
void symbiont_actlog_reopen(struct symbiont_actlog *l);

void symbiont_actlog_close(struct symbiont_actlog *l);

#endif
