/*
 * smtp_senderlogin.h — the sender-login map of the submission listeners
 * ([submission] sender_logins, like Postfix's smtpd_sender_login_maps
 * with reject_sender_login_mismatch): which MAIL FROM addresses a login
 * owns, and the rule without a map.
 *
 * The file: one entry a line, `address-or-@domain  login[, login...]`
 * (the logins separated by commas and/or white space), '#' starts a
 * comment to the end of the line, blank lines ignored. Keys are folded to
 * lower case; a key appears once.
 *
 * Pure: parses bytes the caller read, looks up in memory. The map owns
 * its strings; free it with senderlogin_free(). Fails with
 * SPOOL_E_INVAL (err_line and err say where and why) or SPOOL_E_NOMEM.
 */
#ifndef SRC_SMTPD_SMTP_SENDERLOGIN_H
#define SRC_SMTPD_SMTP_SENDERLOGIN_H

#include <stddef.h>

#define SENDERLOGIN_FILE_MAX (4u * 1024 * 1024) /* bytes read of the file */
#define SENDERLOGIN_KEY_MAX 254			/* an address or @domain */
#define SENDERLOGIN_LOGIN_MAX 255		/* as SMTP_AUTH_USER_MAX */
#define SENDERLOGIN_LOGINS_MAX 64		/* logins on one line */

struct senderlogin_entry {
	char *key;	/* "user@example.org" or "@example.org", lower case */
	size_t nlogins; /* at least one */
	char **logins;
	int line; /* where the file lists it */
};

struct senderlogin_map {
	size_t n;
	struct senderlogin_entry *e; /* sorted by key (strcmp) */
	/* on error: */
	int err_line;  /* 1-based line of the problem, 0 if none */
	char err[160]; /* the reason */
};

/* Parse len bytes of text into out (wholly overwritten). 0, or
 * SPOOL_E_INVAL with err_line/err set (nothing else stays allocated), or
 * SPOOL_E_NOMEM. */
int senderlogin_parse(const char *text, size_t len,
		      struct senderlogin_map *out);

void senderlogin_free(struct senderlogin_map *m);

/* May login use sender ("" = the null sender <>) as its MAIL FROM?
 * With a map (m not NULL): only if the map lists login (compared without
 * regard to case) for sender's own entry or, when it has none, for its
 * @domain entry; an address with neither is owned by nobody. Without a
 * map (m NULL): a login with an '@' owns that address only (local part
 * exact, domain without regard to case); a login without one, any
 * sender. The null sender is always allowed. 1 = yes, 0 = no. */
int senderlogin_owns(const struct senderlogin_map *m, const char *login,
		     const char *sender);

#endif
