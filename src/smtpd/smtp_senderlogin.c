/*
 * smtp_senderlogin.c — the sender-login map (smtp_senderlogin.h): its
 * parser and the one lookup MAIL FROM makes on a submission listener.
 *
 * Owns: the file's syntax, the order of the lookup (the address, then
 * its @domain), the rule without a map. Does not own: reading the file
 * or when it is read again (smtp_server.c), the 553 reply (smtp_verbs.c).
 * Pure: no I/O. A refused line is SPOOL_E_INVAL with its number and the
 * reason; nothing stays allocated after an error.
 */
#include "src/smtpd/smtp_senderlogin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/err.h"

/* Parse state: the entries so far and the line being read. */
struct parse {
	struct senderlogin_map *m;
	size_t cap;
	int line;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Refuse the current line with a reason. */
static int refuse(struct parse *p, const char *fmt, const char *what)
{
	p->m->err_line = p->line;
	snprintf(p->m->err, sizeof(p->m->err), fmt, what);
	return SPOOL_E_INVAL;
}

/* 1 if the n bytes at d are a domain: labels of letters, digits, '-' (or
 * UTF-8 octets), separated by single dots. */
static int domain_ok(const char *d, size_t n)
{
	size_t label = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* 1 if the n bytes at k are an address (local@domain) or @domain: no
 * control octet, the domain after the last '@'. */
static int key_ok(const char *k, size_t n)
{
	const char *at = NULL;

	if (n == 0 || n > SENDERLOGIN_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)k[i] < 33 || k[i] == 127 || k[i] == ',')
			return 0;
		if (k[i] == '@')
			at = k + i;
	}
	return at != NULL && domain_ok(at + 1, n - (size_t)(at + 1 - k));
}

/* A copy of n bytes at s, folded to lower case when fold. */
static char *copy(const char *s, size_t n, int fold)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = fold ? lower(s[i]) : s[i];
	d[n] = '\0';
	return d;
}

static void entry_free(struct senderlogin_entry *e)
{
	for (size_t i = 0; i < e->nlogins; i++)
		free(e->logins[i]);
	free(e->logins);
	free(e->key);
}

/* Room for one more entry. */
static int grow(struct parse *p)
{
	size_t cap = p->cap ? p->cap * 2 : 16;
	struct senderlogin_entry *e;

	if (p->m->n < p->cap)
		return 0;
	e = realloc(p->m->e, cap * sizeof(*e));
	if (e == NULL)
		return SPOOL_E_NOMEM;
	p->m->e = e;
	p->cap = cap;
	return 0;
}

/* One line (its comment already cut): nothing, or key and logins. */
static int parse_line(struct parse *p, const char *s, const char *end)
{
	struct senderlogin_entry e = {0};
	const char *k;
	char **v;
	int rc;

	while (s < end && is_space(*s))
		s++;
	if (s == end)
		return 0;
	for (k = s; s < end && !is_space(*s);)
		s++;
	if (!key_ok(k, (size_t)(s - k))) {
		char shown[48];

		snprintf(shown, sizeof(shown), "%.*s", (int)(s - k), k);
		return refuse(p,
			      "\"%s\" is not an address or @domain (at most "
			      "254 octets)",
			      shown);
	}
	if ((rc = grow(p)) != 0)
		return rc;
	e.key = copy(k, (size_t)(s - k), 1);
	if (e.key == NULL)
		return SPOOL_E_NOMEM;
	for (;;) {
		const char *l;

		while (s < end && (is_space(*s) || *s == ','))
			s++;
		if (s == end)
			break;
		for (l = s; s < end && !is_space(*s) && *s != ',';)
			s++;
		if ((size_t)(s - l) > SENDERLOGIN_LOGIN_MAX) {
			entry_free(&e);
			return refuse(p, "%s", "a login over 255 octets");
		}
		if (e.nlogins == SENDERLOGIN_LOGINS_MAX) {
			entry_free(&e);
			return refuse(p, "%s", "more than 64 logins on a line");
		}
		v = realloc(e.logins, (e.nlogins + 1) * sizeof(*v));
		if (v == NULL) {
			entry_free(&e);
			return SPOOL_E_NOMEM;
		}
		e.logins = v;
		e.logins[e.nlogins] = copy(l, (size_t)(s - l), 0);
		if (e.logins[e.nlogins] == NULL) {
			entry_free(&e);
			return SPOOL_E_NOMEM;
		}
		e.nlogins++;
	}
	if (e.nlogins == 0) {
		rc = refuse(p, "no login for %s", e.key);
		entry_free(&e);
		return rc;
	}
	e.line = p->line;
	p->m->e[p->m->n++] = e;
	return 0;
}

/* By key; equal keys in the order of their lines. */
static int by_key(const void *a, const void *b)
{
	const struct senderlogin_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sort p's entries; a key listed twice is refused at its second line. */
static int sort_entries(struct parse *p)
{
	struct senderlogin_map *m = p->m;

	if (m->n < 2)
		return 0;
	qsort(m->e, m->n, sizeof(*m->e), by_key);
	for (size_t i = 1; i < m->n; i++) {
		if (strcmp(m->e[i - 1].key, m->e[i].key) == 0) {
			p->line = m->e[i].line;
			return refuse(p, "%s is listed twice", m->e[i].key);
		}
	}
	return 0;
}

int senderlogin_parse(const char *text, size_t len, struct senderlogin_map *out)
{
	struct parse p = {.m = out};
	const char *s = text, *end = text + len;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	while (s < end && rc == 0) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl != NULL ? nl : end;
		const char *hash = memchr(s, '#', (size_t)(eol - s));

		p.line++;
		if (memchr(s, '\0', (size_t)(eol - s)) != NULL)
			rc = refuse(&p, "%s", "a NUL octet");
		else
			rc = parse_line(&p, s, hash != NULL ? hash : eol);
		s = nl != NULL ? nl + 1 : end;
	}
	if (rc == 0)
		rc = sort_entries(&p);
	if (rc != 0) {
		int line = out->err_line;
		char err[sizeof(out->err)];

		memcpy(err, out->err, sizeof(err));
		senderlogin_free(out);
		out->err_line = line;
		memcpy(out->err, err, sizeof(err));
	}
	return rc;
}

void senderlogin_free(struct senderlogin_map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		entry_free(&m->e[i]);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* The entry of key (already folded), or NULL. */
static const struct senderlogin_entry *find(const struct senderlogin_map *m,
					    const char *key)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, m->e[mid].key);

		if (c == 0)
			return &m->e[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* 1 if e lists login. */
static int lists(const struct senderlogin_entry *e, const char *login)
{
	for (size_t i = 0; i < e->nlogins; i++)
		if (strcasecmp(e->logins[i], login) == 0)
			return 1;
	return 0;
}

int senderlogin_owns(const struct senderlogin_map *m, const char *login,
		     const char *sender)
{
	char key[SENDERLOGIN_KEY_MAX + 1];
	const struct senderlogin_entry *e;
	const char *at = strrchr(sender, '@'), *lat;
	size_t n = strlen(sender);

	if (sender[0] == '\0')
		return 1; /* <>: bounces and reports */
	if (m == NULL) {
		lat = strrchr(login, '@');
		if (lat == NULL)
			return 1;
		return at != NULL && at - sender == lat - login &&
		       strncmp(sender, login, (size_t)(at - sender)) == 0 &&
		       strcasecmp(at, lat) == 0;
	}
	if (n > SENDERLOGIN_KEY_MAX)
		return 0; /* longer than any key */
	for (size_t i = 0; i <= n; i++)
		key[i] = lower(sender[i]);
	if ((e = find(m, key)) != NULL)
		return lists(e, login);
	if (at != NULL && (e = find(m, key + (at - sender))) != NULL)
		return lists(e, login);
	return 0;
}
