/*
 * tlspolicy.h — the outbound TLS policy levels and the keys of the
 * replicated `tlspolicy` table (docs/delivery.md, "Outbound TLS policy").
 *
 * A key is a domain ("example.com": that domain only) or a domain with a
 * leading dot (".example.com": every domain below it, not itself), stored
 * folded to lower case without a trailing dot. The lookup of a recipient
 * domain tries the domain itself, then ".parent" for each parent from the
 * nearest ("a.b.example.com": ".b.example.com", ".example.com", ".com");
 * no entry means TLSPOL_MAY (opportunistic STARTTLS).
 *
 * Pure: names, parsing and folding; shared by the spool (apply, lookup),
 * the control handlers, smtpctl's grammar and the delivery engine.
 */
#ifndef SPOOL_TLSPOLICY_H
#define SPOOL_TLSPOLICY_H

#include <stddef.h>

#define TLSPOL_KEY_MAX 254 /* a leading dot and a 253-octet domain */

enum tlspol_level {
	TLSPOL_DEFAULT = 0, /* no entry: behaves as TLSPOL_MAY */
	TLSPOL_NONE = 1,    /* never STARTTLS */
	TLSPOL_MAY = 2,	    /* STARTTLS when offered, else clear */
	TLSPOL_ENCRYPT = 3, /* STARTTLS required, certificate not checked */
	TLSPOL_VERIFY = 4,  /* STARTTLS required, chain and name checked */
	TLSPOL__COUNT
};

/* "none", "may", "encrypt", "verify"; "default" for TLSPOL_DEFAULT, "?"
 * for anything else. */
const char *tlspol_level_name(int level);

/* The level named s (case-insensitive), or -1 (also for "default"). */
int tlspol_level_parse(const char *s);

/* 1 when s is a valid key ("example.com" or ".example.com"; case and one
 * trailing dot do not matter), else 0. */
int tlspol_key_ok(const char *s);

/* s folded to lower case without a trailing dot into out (size >=
 * TLSPOL_KEY_MAX + 1); returns its length, 0 when s does not fit. */
size_t tlspol_fold(char *out, size_t size, const char *s);

#endif
