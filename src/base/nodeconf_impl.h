/*
 * nodeconf_impl.h — what the configuration loader's files share (not for
 * other modules: they use nodeconf.h):
 *
 *   nodeconf.c        reading the file with libinih: lines, sections, the
 *                     first error; nodeconf_defaults(), nodeconf_load()
 *   nodeconf_keys.c   the key table and one value's check (owns
 *                     nodeconf_keys[], read-only)
 *   nodeconf_check.c  the checks that need the whole file
 *   nodeconf_override.c  the service override file (service.conf): its
 *                     keys, its path, writing it
 *
 * nodeconf.c calls the other two; nodeconf_check.c looks keys up in
 * nodeconf_keys.c; nothing calls back up.
 */
#ifndef SRC_BASE_NODECONF_IMPL_H
#define SRC_BASE_NODECONF_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "src/base/nodeconf.h"

#define NODECONF_KEYS_MAX 64 /* keys in nodeconf_keys[] at most */

enum nodeconf_key_type {
	KT_U64,	    /* decimal, within [min, max] */
	KT_UINT,    /* decimal, within [min, max], stored as unsigned */
	KT_BOOL,    /* true/false/yes/no/on/off/1/0 */
	KT_NAME,    /* [A-Za-z0-9_-], 1..64 */
	KT_PATH,    /* non-empty path */
	KT_FILE,    /* path or empty */
	KT_ADDR,    /* HOST:PORT */
	KT_DOMAIN,  /* host name */
	KT_GROUP,   /* Unix group name */
	KT_LEVEL,   /* debug|info|warn|error */
	KT_PEER,    /* "ID HOST:PORT", repeatable */
	KT_NETS,    /* CIDR list (digits, hex, '.', ':', '/', ',', ' ') or
		      "none" */
	KT_SERVERS, /* DNS servers "IP:PORT,..." or empty */
	KT_BACKEND, /* maildir|lmtp */
	KT_LMTP,    /* HOST:PORT, unix:/path, or empty */
};

struct nodeconf_key {
	const char *section;
	const char *key;
	enum nodeconf_key_type type;
	size_t off;  /* offset of the field in struct nodeconf */
	size_t size; /* size of a string field */
	uint64_t min, max;
};

/* Every key, in the order of nodeconf.h; nodeconf_nkeys of them. */
extern const struct nodeconf_key nodeconf_keys[];
extern const size_t nodeconf_nkeys;

/* Index of section/key in nodeconf_keys[], or -1. */
int nodeconf_key_find(const char *section, const char *key);

/* Check value v of key k and store it in its field of c (KT_PEER: append
 * to c's peers). 0, or -1 with the reason in why. */
int nodeconf_set_value(struct nodeconf *c, const struct nodeconf_key *k,
		       const char *v, char *why, size_t whysize);

/* Copy v into a string field of size n. 0, or -1 ("too long ...") in
 * why. */
int nodeconf_set_str(char *dst, size_t n, const char *v, char *why,
		     size_t whysize);

/* The NODECONF_OV_* bit of section/key, 0 when the override file may not
 * hold it (nodeconf_override.c). */
unsigned nodeconf_override_bit(const char *section, const char *key);

/* The checks after the whole file of path was read into c: required keys,
 * derived defaults, consistency. seen[i] is the line where nodeconf_keys[i]
 * was set (0: not set). 0, or -1 with a message in err. */
int nodeconf_check_whole(struct nodeconf *c, const char *path, const int *seen,
			 char *err, unsigned errsize);

#endif
