/*
 * deliver.h — the delivery engine: take one claimed control file and try
 * each of its PENDING recipients once, locally (Maildir or LMTP) or
 * remotely (SMTP with the seed's routing), and report one outcome per
 * recipient. It does not claim, renew or complete: the symbiont does
 * (src/delivery/symbiont.c), and it writes no spool state.
 *
 * Runs on the loop thread; the callback is called exactly once (also on
 * deliver_cancel, with every unfinished recipient deferred "cancelled").
 * The engine's own files, one concern each, are listed in deliver_impl.h.
 */
#ifndef SRC_DELIVER_H
#define SRC_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "spool/store/spool.h"

struct deliver_opts {
	const char *node_name;	   /* SCSNODE, used in Received/EHLO */
	const char *node_domain;   /* the node's own mail domain */
	const char *helo_name;	   /* EHLO name for remote delivery */
	const char *local_backend; /* "maildir" or "lmtp" */
	const char *mail_root;	   /* maildir: <root>/<user>/{tmp,new,cur} */
	const char *lmtp_address;  /* lmtp: "HOST:PORT" or "unix:/path" */
	const char *dns_servers;   /* c-ares "IP:PORT,..."; "" = system */
	unsigned max_per_host;	   /* concurrent connections per host */
	unsigned smtp_port;	   /* remote port, 25 (tests use others) */
	const char *tls_ca_file;   /* TLS policy verify: PEM CA file; NULL
				      or "" = the system's CA store */
	/* Added by the delivery engine (all optional, zero = none): */
	const char *const *own_smtp; /* this cluster's SMTP listeners,
					"IP:PORT" ("0.0.0.0:25" = any local
					address); a route to one of them fails
					5.4.6. The `nodes` table's listeners are
					added at each deliver_start. */
	unsigned n_own_smtp;
	/* node-local aliases (the node's alias file): 1 / 0 / negative */
	int (*local_alias_has)(void *arg, const char *domain);
	void *local_alias_arg;
};

/* Where a delivered recipient went, for its NOTIFY=SUCCESS report
 * (RFC 3461 section 5.2). */
enum deliver_dsn {
	DELIVER_DSN_LOCAL = 0, /* final delivery (Maildir, LMTP): "delivered" */
	DELIVER_DSN_RELAYED = 1, /* to a next hop without the DSN extension:
				    "relayed" */
	DELIVER_DSN_PASSED = 2,	 /* to a next hop with DSN: NOTIFY and ORCPT
				    went on with it, no report of ours */
};

/* One recipient's outcome of one attempt. */
struct deliver_outcome {
	uint32_t rcpt;	 /* index in the control file */
	uint8_t outcome; /* OUT_DELIVERED / OUT_DEFERRED / OUT_FAILED */
	uint8_t dsn;	 /* enum deliver_dsn, when OUT_DELIVERED */
	char reply[512]; /* remote reply or local reason, one line */
	char relay[300]; /* "host[ip]:port" or "local" / "lmtp" */
};

struct deliverer;
struct delivery; /* one running delivery */

typedef void (*deliver_cb)(void *arg, const struct deliver_outcome *out,
			   uint32_t n);

int deliverer_init(struct deliverer **out, uv_loop_t *loop,
		   const struct deliver_opts *o, struct spool *sp);
void deliverer_close(struct deliverer *d, void (*cb)(void *), void *arg);

/* Start delivering the PENDING recipients of ctl. The spool's
 * configuration (zone, gateway, send timeouts, address retries, aliases,
 * MX and hosts tables, forward table) is read at start.
 *
 * ctl is copied: the caller may free it after the call.
 *
 * body (len bytes, the message as stored) is taken over, not copied: it
 * must come from malloc() (spool_body_get() gives such a buffer), and from
 * the call on the engine owns it, whether deliver_start() succeeds or
 * fails: the caller neither frees nor touches it again. The engine reads
 * it until the delivery ends (Maildir writers on the thread pool too) and
 * frees it with the delivery, after the callback has run. The SMTP/LMTP
 * data phase (dots doubled) is made from it only when a group sends over
 * SMTP or LMTP, once per attempt.
 *
 * 0 (cb will run, never from inside this call; *handle is the delivery
 * until then) or a negative SPOOL_E_* (no callback). */
int deliver_start(struct deliverer *d, const struct spool_ctl *ctl, void *body,
		  size_t len, deliver_cb cb, void *arg,
		  struct delivery **handle);
void deliver_cancel(struct delivery *h);

#endif
