/*
 * aliases.c — parser of the local alias file TCPIP$SMTP_LOCAL_ALIASES.TXT
 * (seed section 18.3) and the domain-name syntax check it uses.
 *
 * Owns: the file format and aliases_domain_ok(). Does not own: finding or
 * reading the file (the caller passes its bytes) or storing the list.
 * Format, as parsed here:
 *   - one domain a line; lines end in LF or CRLF; the last line may lack
 *     its line end;
 *   - '!' starts a comment that runs to the end of the line;
 *   - white space (space, tab, CR, VT, FF) around the name is trimmed and
 *     blank lines are ignored; white space inside a name is an error;
 *   - one trailing dot (the DNS root, "x.y.com.") is removed before any
 *     check, so "x.y.com." and "x.y.com" are the same alias;
 *   - a name is at most ALIASES_NAME_MAX (64) characters, counted after
 *     the trailing dot is removed;
 *   - names are folded to lower case; a repeated name is kept once and
 *     does not count again towards the ALIASES_COUNT_MAX (255) limit.
 * The first problem stops the parse: SPOOL_E_INVAL with err_line and err
 * ("line N: ...") set and no names kept.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/codec/aliases.h"
#include "spool/codec/err.h"
#include "spool/codec/hostname.h"

#define DOMAIN_MAX 253
#define LABEL_MAX HOSTNAME_LABEL_MAX

/* 1 for the white space trimmed around a name. */
static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Why the n bytes at s are not a valid domain name (written to why), or
 * 0 when they are one. The rule is hostname.h's; the texts are this
 * file's error messages. */
static int domain_problem(const char *s, size_t n, char *why, size_t wsize)
{
	size_t at = 0;
	unsigned char c;

	switch (hostname_domain_check(s, n, DOMAIN_MAX, &at)) {
	case HOSTNAME_OK:
		return 0;
	case HOSTNAME_P_EMPTY:
		snprintf(why, wsize, "empty domain name");
		break;
	case HOSTNAME_P_TOO_LONG:
		snprintf(why, wsize, "domain name longer than %d characters",
			 DOMAIN_MAX);
		break;
	case HOSTNAME_P_EMPTY_LABEL:
		snprintf(why, wsize, "empty label in domain");
		break;
	case HOSTNAME_P_HYPHEN:
		snprintf(why, wsize, "label starts or ends with '-'");
		break;
	case HOSTNAME_P_CHAR:
		c = (unsigned char)s[at];
		if (c >= 0x20 && c <= 0x7e)
			snprintf(why, wsize, "invalid character '%c' in domain",
				 c);
		else
			snprintf(why, wsize,
				 "invalid character 0x%02x in domain", c);
		break;
	default:
		snprintf(why, wsize, "label longer than %d characters",
			 LABEL_MAX);
		break;
	}
	return -1;
}

int aliases_domain_ok(const char *s)
{
	char why[80];

	if (s == NULL)
		return 0;
	return domain_problem(s, strnlen(s, DOMAIN_MAX + 1), why,
			      sizeof(why)) == 0;
}

void aliases_free(struct aliases *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->names[i]);
	free(a->names);
	a->names = NULL;
	a->n = 0;
}

/* Record a parse error for line ln; returns SPOOL_E_INVAL. */
__attribute__((format(printf, 3, 4))) static int
fail(struct aliases *out, int ln, const char *fmt, ...)
{
	va_list ap;
	int k;

	out->err_line = ln;
	k = snprintf(out->err, sizeof(out->err), "line %d: ", ln);
	if (k > 0 && (size_t)k < sizeof(out->err)) {
		va_start(ap, fmt);
		vsnprintf(out->err + k, sizeof(out->err) - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return SPOOL_E_INVAL;
}

/* 1 if the lower-case name is already in the list. */
static int have(const struct aliases *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return 1;
	return 0;
}

/* Check, fold and add the name of n bytes at s found on line ln. */
static int add_name(struct aliases *out, size_t *cap, int ln, const char *s,
		    size_t n)
{
	char name[ALIASES_NAME_MAX + 1], why[80];
	char **grown, *copy;

	if (n > 0 && s[n - 1] == '.')
		n--; /* the DNS root */
	if (n > ALIASES_NAME_MAX)
		return fail(out, ln, "name longer than %d characters",
			    ALIASES_NAME_MAX);
	if (domain_problem(s, n, why, sizeof(why)) < 0)
		return fail(out, ln, "%s", why);
	for (size_t i = 0; i < n; i++)
		name[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a'
							    : s[i]);
	name[n] = '\0';
	if (have(out, name))
		return 0;
	if (out->n >= ALIASES_COUNT_MAX)
		return fail(out, ln, "more than %d names", ALIASES_COUNT_MAX);
	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		grown = realloc(out->names, ncap * sizeof(*grown));
		if (grown == NULL)
			return SPOOL_E_NOMEM;
		out->names = grown;
		*cap = ncap;
	}
	copy = strdup(name);
	if (copy == NULL)
		return SPOOL_E_NOMEM;
	out->names[out->n++] = copy;
	return 0;
}

int aliases_parse(const char *text, size_t len, struct aliases *out)
{
	size_t pos = 0, cap = 0;
	int ln = 0, rc;

	if (out == NULL)
		return SPOOL_E_INVAL;
	memset(out, 0, sizeof(*out));
	if (text == NULL && len > 0)
		return SPOOL_E_INVAL;
	while (pos < len) {
		const char *line = text + pos, *nl, *bang;
		size_t n, b = 0;

		nl = memchr(line, '\n', len - pos);
		n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		ln++;
		bang = memchr(line, '!', n);
		if (bang != NULL)
			n = (size_t)(bang - line);
		while (n > 0 && is_space((unsigned char)line[n - 1]))
			n--;
		while (b < n && is_space((unsigned char)line[b]))
			b++;
		if (b == n)
			continue;
		rc = add_name(out, &cap, ln, line + b, n - b);
		if (rc < 0)
			goto err_after_names;
	}
	return 0;

err_after_names:
	aliases_free(out);
	return rc;
}
