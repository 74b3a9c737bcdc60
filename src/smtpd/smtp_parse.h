/*
 * smtp_parse.h — the SMTP receiver's command-line parsers: the verb split,
 * MAIL FROM / RCPT TO paths (RFC 5321 4.1.2, strictly), their ESMTP
 * parameters (SIZE, BODY, RET, ENVID, SMTPUTF8, NOTIFY, ORCPT; RFC 1870,
 * 6152, 3461, 6531) and xtext. Paths take UTF-8 (RFC 6531 3.3: well-formed
 * non-ASCII characters in the local part and in domain labels) and say so
 * in mb->utf8; whether they are allowed (only with SMTPUTF8) is the
 * session's decision.
 *
 * Pure: no I/O, no allocation, no clock. Every output lives in the caller's
 * structs (fixed arrays). Errors are negative SMTP_PE_* codes, each of
 * which maps to exactly one SMTP reply (smtp_parse_reply()).
 */
#ifndef SRC_SMTP_PARSE_H
#define SRC_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX                                                          \
	2048 /* command line with CRLF (RFC 5321 4.5.3.1.4
				 allows 512; ESMTP parameters add more) */
#define SMTP_VERB_MAX 16
#define SMTP_LOCAL_MAX 64   /* local part, RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255 /* domain, RFC 5321 4.5.3.1.2 */
#define SMTP_PATH_MAX 256   /* path with its brackets, 4.5.3.1.3 */
#define SMTP_ADDR_MAX 320   /* local@domain as stored */
#define SMTP_ENVID_MAX 100  /* decoded ENVID, RFC 3461 4.4 */
#define SMTP_ORCPT_MAX 500  /* decoded ORCPT, RFC 3461 4.2 */
#define SMTP_HELO_MAX 255

enum smtp_parse_err {
	SMTP_PE_SYNTAX = -1,	    /* command syntax: 501 5.5.2 */
	SMTP_PE_ADDR = -2,	    /* mailbox syntax: 553 5.1.3 */
	SMTP_PE_PARAM = -3,	    /* bad parameter value: 501 5.5.4 */
	SMTP_PE_UNKNOWN_PARAM = -4, /* unknown parameter: 555 5.5.4 */
};

/* A parsed path. The source route of "<@a,@b:user@c>" is dropped, as RFC
 * 5321 4.1.1.3 says servers SHOULD; only the final mailbox counts. */
struct smtp_mailbox {
	int null;	/* "<>" */
	int routed;	/* a source route was present (and ignored) */
	int postmaster; /* "<postmaster>" without a domain (4.1.1.3) */
	int literal;	/* the domain is an address literal "[...]" */
	int quoted;	/* the local part was a quoted string */
	int utf8;	/* non-ASCII (UTF-8, RFC 6531 3.3) in local or domain */
	char local[SMTP_LOCAL_MAX + 1];	      /* as sent (quotes kept) */
	char local_plain[SMTP_LOCAL_MAX + 1]; /* dequoted */
	char domain[SMTP_DOMAIN_MAX + 1];     /* one trailing dot removed */
	char addr[SMTP_ADDR_MAX + 1];	      /* local@domain, "" for <> */
};

enum { SMTP_BODY_UNSET = 0, SMTP_BODY_7BIT = 1, SMTP_BODY_8BITMIME = 2 };

struct smtp_mail_params {
	int has_size;
	uint64_t size; /* SIZE=n */
	int body;      /* SMTP_BODY_* */
	int smtputf8;  /* SMTPUTF8 (RFC 6531) */
	uint8_t ret;   /* DSN_RET_* (spool/codec/record.h) */
	char envid[SMTP_ENVID_MAX * 3 + 1]; /* xtext as sent, "" if none */
	int has_auth;			    /* AUTH= given (RFC 4954 5) */
	char auth[SMTP_ADDR_MAX * 3 + 1]; /* its value as sent: "<>" or xtext */
};

struct smtp_rcpt_params {
	uint8_t notify;			    /* DSN_NOTIFY_* bits, 0 = unset */
	char orcpt[SMTP_ORCPT_MAX * 3 + 1]; /* "type;xtext" as sent, or "" */
};

/* Split a command line (without CRLF) into its verb (upper-cased into verb,
 * at most SMTP_VERB_MAX) and arguments (*args points after the spaces
 * following the verb, "" when none). 0 or SMTP_PE_SYNTAX. */
int smtp_split_command(const char *line, char *verb, size_t vsize,
		       const char **args);

/* Arguments of MAIL: "FROM:<path> [params]". */
int smtp_parse_mail(const char *args, struct smtp_mailbox *mb,
		    struct smtp_mail_params *p);

/* Arguments of RCPT: "TO:<path> [params]". */
int smtp_parse_rcpt(const char *args, struct smtp_mailbox *mb,
		    struct smtp_rcpt_params *p);

/* Parse one path starting at *s ("<...>"); *s is advanced past '>'.
 * allow_null accepts "<>"; allow_postmaster accepts "<postmaster>". */
int smtp_parse_path(const char **s, struct smtp_mailbox *mb, int allow_null,
		    int allow_postmaster);

/* 1 if s[0..n) is a Domain of RFC 5321 (sub-domains of letters, digits
 * and inner hyphens, dot separated, at most 255 octets). */
int smtp_domain_ok(const char *s, size_t n);

/* 1 if s[0..n) is an address literal "[1.2.3.4]" or "[IPv6:...]". */
int smtp_literal_ok(const char *s, size_t n);

/* 1 if s is a valid xtext (RFC 3461 4) whose decoded form has at most max
 * octets and no NUL. */
int smtp_xtext_ok(const char *s, size_t max);

/* Decode xtext s into out (NUL-terminated). Decoded length or -1 when s is
 * not valid xtext or does not fit. */
int smtp_xtext_decode(const char *s, char *out, size_t size);

/* The reply text (with code and enhanced code) for a parse error, e.g.
 * "501 5.5.2 Syntax error". */
const char *smtp_parse_reply(int err);

#endif
