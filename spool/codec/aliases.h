/*
 * aliases.h — parser of the seed's local alias file (section 18.3,
 * TCPIP$SMTP_LOCAL_ALIASES.TXT): one domain a line, '!' starts a comment
 * (to the end of the line), blank lines ignored, at most 64 characters a
 * name and 255 names. Leading/trailing white space is trimmed; names are
 * folded to lower case; duplicates are kept once.
 *
 * Pure: parses bytes the caller read. The result owns its strings; free
 * with aliases_free().
 */
#ifndef SPOOL_ALIASES_H
#define SPOOL_ALIASES_H

#include <stddef.h>

#define ALIASES_NAME_MAX 64
#define ALIASES_COUNT_MAX 255

struct aliases {
	size_t n;
	char **names;
	/* on error: */
	int err_line;  /* 1-based line number of the problem, 0 if none */
	char err[160]; /* human-readable reason */
};

/* 0, or SPOOL_E_INVAL with err_line/err set, or SPOOL_E_NOMEM. */
int aliases_parse(const char *text, size_t len, struct aliases *out);
void aliases_free(struct aliases *a);

/* 1 if s is a syntactically valid domain name for an alias. */
int aliases_domain_ok(const char *s);

#endif
