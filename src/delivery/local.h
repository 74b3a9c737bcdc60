/*
 * local.h — local delivery, OpenVMS Mail's role: which recipients are
 * ours, the forward table (MAIL SET FORWARD), and the two backends.
 *
 * Local: the recipient's domain is the node's domain, the domain of any
 * node registered in the spool's `nodes` table, the cluster domain, a
 * cluster-wide alias (spool `aliases`) or a node-local alias; a bare local
 * part ("postmaster") is local too.
 *
 * Forwarding, applied to the (lower-cased) local part:
 *   - an entry of the forward table wins;
 *   - else POSTMASTER, TCPIP$SMTP and UCX_SMTP go to the postmaster alias
 *     (CFG_POSTMASTER_ALIAS, default "system"), as seed 18.2.2 sets up;
 *   - a target "user" or "user@<local domain>" is followed; a target with
 *     another domain makes the recipient remote; OpenVMS's SMTP%"addr"
 *     form is accepted; a user forwarded to itself is its own mailbox;
 *   - at most LOCAL_FORWARD_HOPS hops; a user met twice is a loop
 *     ("550 5.4.6 forwarding loop"), as is a longer chain.
 *
 * Backends:
 *   maildir — <mail_root>/<user>/ must exist (else "550 5.1.1 unknown
 *     user"); tmp/ new/ cur/ are made when missing; the message is written
 *     to tmp/<time>.<pid>_<seq>.<node>, fsync'd, renamed into new/, and
 *     new/ is fsync'd. Headers prepended: Delivered-To:, Return-Path:,
 *     X-VMS-From: (the sender of seed 18.1.3). Lines end in LF.
 *   lmtp — the transport in smtp_client.h in LMTP mode, to "HOST:PORT"
 *     or "unix:/path"; only X-VMS-From: is prepended (the LMTP server
 *     adds Return-Path and Delivered-To itself).
 *
 * Pure except local_maildir_deliver() (file system; blocking: run it on a
 * worker thread).
 */
#ifndef SRC_LOCAL_H
#define SRC_LOCAL_H

#include <stddef.h>

#include "spool/codec/record.h"

#define LOCAL_FORWARD_HOPS 10
#define LOCAL_USER_MAX 64

struct local_env {
	const char *node_domain;      /* "" = none */
	const char *cluster_domain;   /* "" = none */
	const char *postmaster_alias; /* "" = "system" */
	void *arg;
	/* 1 / 0 / negative on failure; NULL = no such table */
	int (*alias_has)(void *arg, const char *domain);
	int (*node_alias_has)(void *arg, const char *domain);
	/* 0 found, SPOOL_E_NOTFOUND, or another negative on failure */
	int (*forward_get)(void *arg, const char *user, char *buf, size_t size);
	/* 1 when domain is some node's registered domain, 0 if not,
	 * negative on failure; NULL = only node_domain counts
	 * (local_spool_node_domain_has() does it for a spool) */
	int (*node_domain_has)(void *arg, const char *domain);
};

enum local_kind {
	LOCAL_NOT_LOCAL = 0, /* a remote domain: route it */
	LOCAL_MAILBOX = 1,   /* deliver to user */
	LOCAL_REMOTE = 2,    /* forwarded to a remote address (addr) */
	LOCAL_FAILED = 3,    /* reply says why (5.4.6 loop) */
	LOCAL_TEMPFAIL = 4,  /* a table lookup failed: defer */
};

struct local_target {
	int kind;
	char user[LOCAL_USER_MAX + 1]; /* LOCAL_MAILBOX: lower case */
	char addr[SPOOL_ADDR_MAX + 1]; /* mailbox as user@domain, or the
					   remote address */
	char reply[256];	       /* LOCAL_FAILED / LOCAL_TEMPFAIL */
	unsigned hops;		       /* forwards followed */
};

/* 1 when domain is local under e, 0 if not, negative when a lookup
 * failed. */
int local_domain_is_local(const struct local_env *e, const char *domain);

struct spool;

/* 1 when domain equals (case, one trailing dot ignored) the domain of a
 * node in sp's `nodes` table, 0 if none does, negative on failure. */
int local_spool_node_domain_has(struct spool *sp, const char *domain);

/* Classify one recipient address and follow its forwards. */
void local_resolve(const struct local_env *e, const char *addr,
		   struct local_target *t);

/* The same for a recipient the receiving node accepted as local
 * (RCPT_F_LOCAL): its domain counts as local here too, whatever e's
 * tables say (a node-local alias of the receiving node, issue #10
 * defect 8); forwards are followed by e's rules. */
void local_resolve_accepted(const struct local_env *e, const char *addr,
			    struct local_target *t);

/* The sender for the X-VMS-From: header (seed 18.1.3 rule, else the
 * envelope sender, else "<>"), one line. */
void local_vms_from(const void *msg, size_t len, const char *env_sender,
		    char *out, size_t size);

struct maildir_req {
	const char *root;	  /* mail root */
	const char *user;	  /* mailbox (lower case) */
	const char *node;	  /* node name for the file name */
	const char *delivered_to; /* Delivered-To: value */
	const char *return_path;  /* envelope sender, "" = <> */
	const char *vms_from;	  /* X-VMS-From: value */
	const void *msg;
	size_t len;
	int headers; /* /OPTIONS=...HEADERS (enum spool_cfg_headers): the
			fields kept (local_headers.h); NOHEADERS also leaves
			out Delivered-To: and Return-Path: */
};

/* Write one message into a Maildir. Returns OUT_DELIVERED, OUT_FAILED
 * (unknown user) or OUT_DEFERRED (I/O error); reply gets the text. The
 * file name written goes to name (may be NULL). */
int local_maildir_deliver(const struct maildir_req *m, char *reply, size_t size,
			  char *name, size_t name_size);

/* 1 when <root>/<user> is an existing directory and user a usable
 * mailbox name (what local_maildir_deliver() needs), else 0. Blocking. */
int local_maildir_exists(const char *root, const char *user);

/* The RCPT-time check of issue #4 with the maildir backend: resolve addr
 * (local rules, forwards) and look for its mailbox under root. 1 = the
 * mailbox exists, or the address is not local, forwards to a remote
 * address or fails for another reason (left to delivery); 0 = a local
 * mailbox that does not exist; negative when a table lookup failed.
 * Blocking (one stat). */
int local_rcpt_known(const struct local_env *e, const char *root,
		     const char *addr);

/* Split an lmtp_address: "unix:/path" (path set, ip "") or "HOST:PORT"
 * (HOST numeric or "localhost"; "[v6]:PORT" too). 0 or SPOOL_E_INVAL. */
int local_lmtp_parse(const char *address, char *ip, size_t ipsize,
		     unsigned *port, const char **path);

#endif
