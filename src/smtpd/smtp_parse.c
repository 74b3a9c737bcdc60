/*
 * smtp_parse.c — the receiver's command-line parsers (see smtp_parse.h):
 * verb split, strict RFC 5321 4.1.2 paths, the ESMTP parameters of MAIL
 * and RCPT, xtext.
 *
 * Owns the grammar only. What a parsed address may do (local delivery,
 * relaying) is smtp_policy.c's business; what reply follows is the session's.
 * Rules chosen here (docs/smtp-receiver.md):
 *   - spaces between "FROM:"/"TO:" and '<' are tolerated (common clients
 *     send them); everything inside the brackets is strict;
 *   - one trailing dot of a domain is tolerated and removed;
 *   - a source route is parsed, validated and dropped;
 *   - non-ASCII in a path must be well-formed UTF-8 (RFC 3629) and is
 *     flagged (mb->utf8); the session refuses it without SMTPUTF8;
 *   - address literals must be a real IPv4 or IPv6 address.
 * Fails with SMTP_PE_*; never reads past the NUL or writes past a buffer.
 */
#include "src/smtpd/smtp_parse.h"

#include <arpa/inet.h>
#include <string.h>

#include "spool/codec/hostname.h"
#include "spool/codec/record.h"

static int is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int to_upper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

static int hex_val(int c)
{
	if (is_digit(c))
		return c - '0';
	c = to_upper(c);
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* atext of RFC 5322 3.2.3. */
static int is_atext(int c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Octets of the well-formed non-ASCII UTF-8 character at s (RFC 3629: no
 * overlong form, no surrogate, at most U+10FFFF), or 0. Stops at a NUL. */
static size_t utf8_len(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned cp, min;
	size_t n;

	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2, cp = s[0] & 0x1Fu, min = 0x80;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3, cp = s[0] & 0x0Fu, min = 0x800;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4, cp = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3Fu);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Case-insensitive prefix test. */
static int has_prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (to_upper((unsigned char)*s) !=
		    to_upper((unsigned char)*prefix))
			return 0;
	}
	return 1;
}

/* Case-insensitive equality of s[0..n) and a NUL-terminated word. */
static int eq_ci(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && has_prefix_ci(s, word);
}

int smtp_split_command(const char *line, char *verb, size_t vsize,
		       const char **args)
{
	size_t n = 0;

	while (line[n] != '\0' && line[n] != ' ') {
		if (!is_alpha((unsigned char)line[n]) || n >= SMTP_VERB_MAX ||
		    n + 1 >= vsize)
			return SMTP_PE_SYNTAX;
		verb[n] = (char)to_upper((unsigned char)line[n]);
		n++;
	}
	if (n == 0)
		return SMTP_PE_SYNTAX;
	verb[n] = '\0';
	line += n;
	while (*line == ' ')
		line++;
	*args = line;
	return 0;
}

int smtp_domain_ok(const char *s, size_t n)
{
	return hostname_domain_ok(s, n, SMTP_DOMAIN_MAX);
}

int smtp_literal_ok(const char *s, size_t n)
{
	return hostname_literal_ok(s, n, 0);
}

/* Decode (out != NULL) or just measure xtext; decoded length or -1. */
static int xtext_walk(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		int c = (unsigned char)*s;

		if (c == '+') {
			int hi = hex_val((unsigned char)s[1]);
			int lo = hi < 0 ? -1 : hex_val((unsigned char)s[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi * 16 + lo;
			s += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		if (out != NULL) {
			if (n + 1 >= size)
				return -1;
			out[n] = (char)c;
		}
		n++;
	}
	if (out != NULL)
		out[n] = '\0';
	return (int)n;
}

int smtp_xtext_ok(const char *s, size_t max)
{
	int n = xtext_walk(s, NULL, 0);

	return n > 0 && (size_t)n <= max;
}

int smtp_xtext_decode(const char *s, char *out, size_t size)
{
	if (size == 0)
		return -1;
	return xtext_walk(s, out, size);
}

/* Local part at *s (dot-string or quoted string) into mb. */
static int parse_local(const char **sp, struct smtp_mailbox *mb)
{
	const char *s = *sp;
	size_t raw = 0, plain = 0;

	if (*s == '"') {
		mb->quoted = 1;
		mb->local[raw++] = *s++;
		for (;;) {
			int c = (unsigned char)*s;

			if (c == '"')
				break;
			if (c == '\\') {
				int d = (unsigned char)s[1];

				if (d < 32 || d > 126 ||
				    raw + 2 > SMTP_LOCAL_MAX)
					return SMTP_PE_ADDR;
				mb->local[raw++] = (char)c;
				mb->local[raw++] = (char)d;
				mb->local_plain[plain++] = (char)d;
				s += 2;
				continue;
			}
			if (c >= 0x80) { /* qtextSMTP =/ UTF8-non-ascii */
				size_t u = utf8_len(s);

				if (u == 0 || raw + u > SMTP_LOCAL_MAX)
					return SMTP_PE_ADDR;
				memcpy(mb->local + raw, s, u);
				memcpy(mb->local_plain + plain, s, u);
				raw += u;
				plain += u;
				s += u;
				mb->utf8 = 1;
				continue;
			}
			if (c < 32 || c > 126 || raw + 1 > SMTP_LOCAL_MAX)
				return SMTP_PE_ADDR;
			mb->local[raw++] = (char)c;
			mb->local_plain[plain++] = (char)c;
			s++;
		}
		if (raw + 1 > SMTP_LOCAL_MAX || plain == 0)
			return SMTP_PE_ADDR;
		mb->local[raw++] = *s++;
	} else {
		int prev_dot = 1; /* no leading dot */

		for (;;) {
			/* atext =/ UTF8-non-ascii (RFC 6531 3.3) */
			size_t u = utf8_len(s);
			size_t k = u ? u
				   : (is_atext((unsigned char)*s) || *s == '.')
				       ? 1
				       : 0;

			if (k == 0)
				break;
			if (*s == '.' && prev_dot)
				return SMTP_PE_ADDR;
			prev_dot = *s == '.';
			if (raw + k > SMTP_LOCAL_MAX)
				return SMTP_PE_ADDR;
			memcpy(mb->local + raw, s, k);
			memcpy(mb->local_plain + plain, s, k);
			raw += k;
			plain += k;
			s += k;
			mb->utf8 |= u != 0;
		}
		if (raw == 0 || prev_dot)
			return SMTP_PE_ADDR;
	}
	mb->local[raw] = '\0';
	mb->local_plain[plain] = '\0';
	*sp = s;
	return 0;
}

/* A domain with U-labels: the rules of an ASCII domain, each non-ASCII
 * character counted as one letter (the A-label is not computed). */
static int utf8_domain_ok(const char *s, size_t n)
{
	char t[SMTP_DOMAIN_MAX + 1];
	size_t k = 0;

	for (size_t i = 0; i < n && k < sizeof(t);) {
		size_t u = utf8_len(s + i);

		t[k++] = u ? 'x' : s[i];
		i += u ? u : 1;
	}
	return k <= SMTP_DOMAIN_MAX && smtp_domain_ok(t, k);
}

/* Domain or address literal at *s into mb->domain. */
static int parse_domain(const char **sp, struct smtp_mailbox *mb)
{
	const char *s = *sp;
	size_t n = 0;

	if (*s == '[') {
		while (s[n] != '\0' && s[n] != ']' && n < SMTP_DOMAIN_MAX)
			n++;
		if (s[n] != ']')
			return SMTP_PE_ADDR;
		n++;
		if (!smtp_literal_ok(s, n))
			return SMTP_PE_ADDR;
		mb->literal = 1;
		memcpy(mb->domain, s, n);
		mb->domain[n] = '\0';
		*sp = s + n;
		return 0;
	}
	for (;;) {
		size_t u = utf8_len(s + n); /* a U-label's character */

		if (u > 0)
			mb->utf8 = 1;
		else if (is_alnum((unsigned char)s[n]) || s[n] == '-' ||
			 s[n] == '.')
			u = 1;
		else
			break;
		n += u;
		if (n > SMTP_DOMAIN_MAX + 1)
			return SMTP_PE_ADDR;
	}
	*sp = s + n;
	if (n > 1 && s[n - 1] == '.')
		n--; /* one trailing dot: the root, tolerated */
	if (!(mb->utf8 ? utf8_domain_ok(s, n) : smtp_domain_ok(s, n)))
		return SMTP_PE_ADDR;
	memcpy(mb->domain, s, n);
	mb->domain[n] = '\0';
	return 0;
}

/* Source route "@d1,@d2:" at *s: validated, then dropped. */
static int parse_route(const char **sp)
{
	const char *s = *sp;

	for (;;) {
		size_t n = 0;

		if (*s != '@')
			return SMTP_PE_ADDR;
		s++;
		while (is_alnum((unsigned char)s[n]) || s[n] == '-' ||
		       s[n] == '.')
			n++;
		if (!smtp_domain_ok(s, n))
			return SMTP_PE_ADDR;
		s += n;
		if (*s == ':')
			break;
		if (*s != ',')
			return SMTP_PE_ADDR;
		s++;
	}
	*sp = s + 1;
	return 0;
}

int smtp_parse_path(const char **sp, struct smtp_mailbox *mb, int allow_null,
		    int allow_postmaster)
{
	const char *start = *sp, *s = *sp;
	int rc;

	memset(mb, 0, sizeof(*mb));
	if (*s != '<')
		return SMTP_PE_SYNTAX;
	s++;
	if (*s == '>') {
		if (!allow_null)
			return SMTP_PE_ADDR;
		mb->null = 1;
		*sp = s + 1;
		return 0;
	}
	if (*s == '@') {
		if ((rc = parse_route(&s)) != 0)
			return rc;
		mb->routed = 1;
	}
	if (allow_postmaster && !mb->routed &&
	    has_prefix_ci(s, "postmaster>")) {
		mb->postmaster = 1;
		memcpy(mb->local, s, 10);
		memcpy(mb->local_plain, s, 10);
		memcpy(mb->addr, s, 10);
		*sp = s + 11;
		return 0;
	}
	if ((rc = parse_local(&s, mb)) != 0)
		return rc;
	if (*s++ != '@')
		return SMTP_PE_ADDR;
	if ((rc = parse_domain(&s, mb)) != 0)
		return rc;
	if (*s != '>' || (size_t)(s + 1 - start) > SMTP_PATH_MAX)
		return SMTP_PE_ADDR;
	/* both parts are bounded, so this always fits */
	strcpy(mb->addr, mb->local);
	strcat(mb->addr, "@");
	strcat(mb->addr, mb->domain);
	*sp = s + 1;
	return 0;
}

/* One "KEYWORD[=value]" parameter cut out of the argument string. */
struct param {
	char key[32];
	char value[SMTP_ORCPT_MAX * 3 + 1];
	int has_value;
};

/* Next parameter at *sp (after spaces); 1 = got one, 0 = end, <0 error. */
static int next_param(const char **sp, struct param *p)
{
	const char *s = *sp;
	size_t k = 0, v = 0;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	if (!is_alnum((unsigned char)*s))
		return SMTP_PE_SYNTAX;
	while (is_alnum((unsigned char)*s) || *s == '-') {
		if (k + 1 >= sizeof(p->key))
			return SMTP_PE_UNKNOWN_PARAM;
		p->key[k++] = (char)to_upper((unsigned char)*s++);
	}
	p->key[k] = '\0';
	p->has_value = 0;
	if (*s == '=') {
		s++;
		p->has_value = 1;
		while (*s != '\0' && *s != ' ') {
			int c = (unsigned char)*s;

			if (c < 33 || c > 126 || c == '=' ||
			    v + 1 >= sizeof(p->value))
				return SMTP_PE_PARAM;
			p->value[v++] = *s++;
		}
		if (v == 0)
			return SMTP_PE_PARAM;
	}
	p->value[v] = '\0';
	if (*s != '\0' && *s != ' ')
		return SMTP_PE_SYNTAX;
	*sp = s;
	return 1;
}

/* SIZE=n: 1 to 20 digits without overflow. */
static int parse_size(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; v[i] != '\0'; i++) {
		if (!is_digit((unsigned char)v[i]) || i >= 20)
			return SMTP_PE_PARAM;
		if (n > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return SMTP_PE_PARAM;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0)
		return SMTP_PE_PARAM;
	*out = n;
	return 0;
}

#define MAIL_SEEN_AUTH (1u << 8)

/* AUTH=<> or AUTH=xtext-mailbox (RFC 4954 5): kept as sent. */
static int auth_param(const struct param *p, struct smtp_mail_params *mp,
		      unsigned *seen)
{
	size_t vlen = strlen(p->value);

	if ((*seen & MAIL_SEEN_AUTH) || !p->has_value || vlen == 0 ||
	    vlen >= sizeof(mp->auth))
		return SMTP_PE_PARAM;
	*seen |= MAIL_SEEN_AUTH;
	if (strcmp(p->value, "<>") != 0 &&
	    !smtp_xtext_ok(p->value, SMTP_ADDR_MAX))
		return SMTP_PE_PARAM;
	memcpy(mp->auth, p->value, vlen + 1);
	mp->has_auth = 1;
	return 0;
}

/* The parameters of MAIL. */
static int mail_param(const struct param *p, struct smtp_mail_params *mp,
		      unsigned *seen)
{
	static const char *const known[] = {"SIZE", "BODY", "RET", "ENVID",
					    "SMTPUTF8"};
	size_t vlen = strlen(p->value);
	unsigned bit = 0;

	if (strcmp(p->key, "AUTH") == 0)
		return auth_param(p, mp, seen);

	for (unsigned i = 0; i < 5; i++) {
		if (strcmp(p->key, known[i]) == 0)
			bit = 1u << i;
	}
	if (bit == 0)
		return SMTP_PE_UNKNOWN_PARAM;
	/* SMTPUTF8 takes no value (RFC 6531 3.4), the others need one */
	if ((*seen & bit) || p->has_value != (bit != 16))
		return SMTP_PE_PARAM;
	*seen |= bit;
	switch (bit) {
	case 16:
		mp->smtputf8 = 1;
		return 0;
	case 1:
		mp->has_size = 1;
		return parse_size(p->value, &mp->size);
	case 2:
		if (eq_ci(p->value, vlen, "7BIT"))
			mp->body = SMTP_BODY_7BIT;
		else if (eq_ci(p->value, vlen, "8BITMIME"))
			mp->body = SMTP_BODY_8BITMIME;
		else
			return SMTP_PE_PARAM;
		return 0;
	case 4:
		if (eq_ci(p->value, vlen, "FULL"))
			mp->ret = DSN_RET_FULL;
		else if (eq_ci(p->value, vlen, "HDRS"))
			mp->ret = DSN_RET_HDRS;
		else
			return SMTP_PE_PARAM;
		return 0;
	default:
		if (!smtp_xtext_ok(p->value, SMTP_ENVID_MAX) ||
		    vlen >= sizeof(mp->envid))
			return SMTP_PE_PARAM;
		memcpy(mp->envid, p->value, vlen + 1);
		return 0;
	}
}

int smtp_parse_mail(const char *args, struct smtp_mailbox *mb,
		    struct smtp_mail_params *p)
{
	struct param prm;
	unsigned seen = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!has_prefix_ci(args, "FROM:"))
		return SMTP_PE_SYNTAX;
	args += 5;
	while (*args == ' ')
		args++;
	if ((rc = smtp_parse_path(&args, mb, 1, 0)) != 0)
		return rc;
	if (*args != '\0' && *args != ' ')
		return SMTP_PE_SYNTAX;
	while ((rc = next_param(&args, &prm)) == 1) {
		if ((rc = mail_param(&prm, p, &seen)) != 0)
			return rc;
	}
	return rc;
}

/* NOTIFY=NEVER | SUCCESS,FAILURE,DELAY (each once). */
static int parse_notify(const char *v, uint8_t *out)
{
	static const struct {
		const char *word;
		uint8_t bit;
	} words[] = {{"NEVER", DSN_NOTIFY_NEVER},
		     {"SUCCESS", DSN_NOTIFY_SUCCESS},
		     {"FAILURE", DSN_NOTIFY_FAILURE},
		     {"DELAY", DSN_NOTIFY_DELAY}};
	uint8_t bits = 0;

	for (;;) {
		size_t n = strcspn(v, ",");
		uint8_t bit = 0;

		for (unsigned i = 0; i < 4; i++) {
			if (eq_ci(v, n, words[i].word))
				bit = words[i].bit;
		}
		if (bit == 0 || (bits & bit))
			return SMTP_PE_PARAM;
		bits |= bit;
		if (v[n] == '\0')
			break;
		v += n + 1;
	}
	if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER)
		return SMTP_PE_PARAM;
	*out = bits;
	return 0;
}

/* ORCPT=addr-type;xtext */
static int parse_orcpt(const char *v, char *out, size_t size)
{
	size_t n = 0, len = strlen(v);

	while (is_atext((unsigned char)v[n]) && v[n] != ';')
		n++;
	if (n == 0 || v[n] != ';' || !smtp_xtext_ok(v + n + 1, SMTP_ORCPT_MAX))
		return SMTP_PE_PARAM;
	if (len >= size)
		return SMTP_PE_PARAM;
	memcpy(out, v, len + 1);
	return 0;
}

int smtp_parse_rcpt(const char *args, struct smtp_mailbox *mb,
		    struct smtp_rcpt_params *p)
{
	struct param prm;
	unsigned seen = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!has_prefix_ci(args, "TO:"))
		return SMTP_PE_SYNTAX;
	args += 3;
	while (*args == ' ')
		args++;
	if ((rc = smtp_parse_path(&args, mb, 0, 1)) != 0)
		return rc;
	if (*args != '\0' && *args != ' ')
		return SMTP_PE_SYNTAX;
	while ((rc = next_param(&args, &prm)) == 1) {
		unsigned bit;

		if (strcmp(prm.key, "NOTIFY") == 0)
			bit = 1;
		else if (strcmp(prm.key, "ORCPT") == 0)
			bit = 2;
		else
			return SMTP_PE_UNKNOWN_PARAM;
		if ((seen & bit) || !prm.has_value)
			return SMTP_PE_PARAM;
		seen |= bit;
		rc = bit == 1
			 ? parse_notify(prm.value, &p->notify)
			 : parse_orcpt(prm.value, p->orcpt, sizeof(p->orcpt));
		if (rc != 0)
			return rc;
	}
	return rc;
}

const char *smtp_parse_reply(int err)
{
	switch (err) {
	case SMTP_PE_ADDR:
		return "553 5.1.3 Bad address syntax";
	case SMTP_PE_PARAM:
		return "501 5.5.4 Invalid parameter value";
	case SMTP_PE_UNKNOWN_PARAM:
		return "555 5.5.4 Unsupported parameter";
	default:
		return "501 5.5.2 Syntax error in parameters or arguments";
	}
}
