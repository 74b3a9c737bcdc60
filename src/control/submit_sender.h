/*
 * submit_sender.h — who a locally submitted message says it is from: the
 * rules of local submission's sender (smtpctl submit, sendmail -f/-F) and
 * /SUBSTITUTE_DOMAIN=NAME.
 *
 * Owns: the own-address rule (a user who is not an admin may give only an
 * address of their own as the envelope sender), the From: field built for
 * a message without one (with -F's full name), and the substitution of
 * the sender domain in the envelope and in the From: and Sender: fields.
 * Pure: no I/O, no clock; the caller (control_submit.c) passes the local
 * domains it knows. Does not own the rest of the message (control_submit.c).
 */
#ifndef SRC_CONTROL_SUBMIT_SENDER_H
#define SRC_CONTROL_SUBMIT_SENDER_H

#include <stddef.h>

#include "spool/codec/wire.h"

/* The local mail domains of this node, for the rules below: the node's
 * domain, the cluster domain and the substitute domain ("" or NULL entries
 * are skipped). */
struct submit_domains {
	const char *node;
	const char *cluster;
	const char *substitute;
};

/* 1 when domain (len bytes) is one of the local domains (case ignored). */
int submit_domain_local(const struct submit_domains *d, const char *domain,
			size_t len);

/* 1 when addr is user's own address: "user" alone, or "user@D" with D a
 * local domain (the local part compared exactly, as a Unix name is). */
int submit_sender_own(const char *addr, const char *user,
		      const struct submit_domains *d);

/* The envelope sender after /SUBSTITUTE_DOMAIN: addr with a local domain
 * replaced by the substitute domain when one is set; other addresses
 * unchanged. Written to out (n bytes); 0, or -1 when it does not fit. */
int submit_sender_substitute(const char *addr, const struct submit_domains *d,
			     char *out, size_t n);

/* 1 when a -F full name is acceptable: at most 200 bytes, printable
 * (UTF-8 allowed), no CR, LF or other control characters. */
int submit_fullname_ok(const char *name);

/* The From: field for a message without one: "From: <addr>" or, with a
 * full name, "From: "Name" <addr>" (quotes and backslashes escaped).
 * CRLF-terminated, into out (n bytes); 0, or -1 when it does not fit. */
int submit_from_field(const char *fullname, const char *addr, char *out,
		      size_t n);

/* Copy the CRLF message msg (len bytes) into out with the domain of every
 * address in its From: and Sender: fields (continuation lines included)
 * that is a local domain replaced by the substitute domain. Without a
 * substitute domain the message is copied unchanged. Only the header
 * section is looked at; the body is copied as it is. */
void submit_rewrite_headers(struct wbuf *out, const char *msg, size_t len,
			    const struct submit_domains *d);

#endif
