/*
 * sender.c — the sender-header rule of seed section 18.1.3: which header
 * of an SMTP message becomes the OpenVMS Mail From: line.
 *
 * Owns: reading the header section and choosing the header. Does not own
 * address parsing (the value is copied as it stands, unfolded and
 * trimmed).
 * Rules chosen here:
 *   - the header section ends at the first empty line (LF or CRLF); a
 *     message without one is all header section;
 *   - field names match case-insensitively and exactly ("Sender" never
 *     matches "Resent-Sender"); white space between the name and ':' is
 *     allowed (RFC 5322 obsolete syntax); a line that is neither a field
 *     nor a continuation is ignored, with any continuation lines after it;
 *   - a line starting with space or tab continues the previous field;
 *     unfolding removes the line break and keeps the white space;
 *   - the seed spells the last header "ReturnPath:"; it is accepted as
 *     Return-Path;
 *   - a header whose value is empty after trimming counts as absent; of
 *     repeated headers the first non-empty one is used;
 *   - CR, LF and NUL bytes never reach the output; a value longer than the
 *     output is cut at a UTF-8 character boundary and re-trimmed.
 */
#include <string.h>
#include <strings.h>

#include "spool/codec/err.h"
#include "spool/codec/sender.h"

#define RULE_N 7 /* six sender headers of the seed, then From: */

static const char *const rule[RULE_N] = {
    "Resent-Reply-To", "Resent-From", "Reply-To", "Resent-Sender",
    "Sender",	       "Return-Path", "From",
};

/* A header value's raw bytes: after the ':' to the end of the field. */
struct span {
	size_t start, end;
	int have;
};

/* 1 for the white space that folds and trims. */
static int wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* 1 for bytes dropped from a value (line breaks and NUL). */
static int dropped(int c)
{
	return c == '\r' || c == '\n' || c == '\0';
}

/* Index in rule[] of the field name of n bytes at s, or -1. */
static int rule_index(const char *s, size_t n)
{
	if (n == 10 && strncasecmp(s, "ReturnPath", 10) == 0)
		return 5;
	for (int i = 0; i < RULE_N; i++)
		if (strlen(rule[i]) == n && strncasecmp(s, rule[i], n) == 0)
			return i;
	return -1;
}

/* The rule index of the field line of n bytes at s and where its value
 * starts (*vstart, offset in s), or -1 when the line is not a field of
 * interest. */
static int field_of_line(const char *s, size_t n, size_t *vstart)
{
	const char *colon = memchr(s, ':', n);
	size_t name_n;

	if (colon == NULL)
		return -1;
	name_n = (size_t)(colon - s);
	while (name_n > 0 && wsp((unsigned char)s[name_n - 1]))
		name_n--;
	if (name_n == 0)
		return -1;
	for (size_t i = 0; i < name_n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return -1;
	*vstart = (size_t)(colon - s) + 1;
	return rule_index(s, name_n);
}

/* Narrow [*a, *b) of msg to its trimmed value; 1 if anything is left. */
static int trim_value(const char *msg, size_t *a, size_t *b)
{
	while (*a < *b &&
	       (wsp((unsigned char)msg[*a]) || dropped((unsigned char)msg[*a])))
		(*a)++;
	while (*b > *a && (wsp((unsigned char)msg[*b - 1]) ||
			   dropped((unsigned char)msg[*b - 1])))
		(*b)--;
	return *b > *a;
}

/* Copy msg[a, b) without dropped bytes into out (size > 0), cutting at a
 * UTF-8 boundary when it does not fit. */
static void copy_value(const char *msg, size_t a, size_t b, char *out,
		       size_t size)
{
	size_t k = 0, i;

	for (i = a; i < b; i++) {
		if (dropped((unsigned char)msg[i]))
			continue;
		if (k + 1 >= size)
			break;
		out[k++] = msg[i];
	}
	while (i < b && dropped((unsigned char)msg[i]))
		i++;
	if (i < b) { /* truncated */
		if (((unsigned char)msg[i] & 0xC0) == 0x80) {
			while (k > 0 &&
			       ((unsigned char)out[k - 1] & 0xC0) == 0x80)
				k--;
			if (k > 0 && (unsigned char)out[k - 1] >= 0xC0)
				k--;
		}
		while (k > 0 && wsp((unsigned char)out[k - 1]))
			k--;
	}
	out[k] = '\0';
}

/* Close the field [vstart, end) of rule index cur: keep it when it is the
 * first non-empty one of its kind. */
static void close_field(const char *msg, int cur, size_t vstart, size_t end,
			struct span *found)
{
	size_t a = vstart, b = end;

	if (cur < 0 || found[cur].have)
		return;
	if (trim_value(msg, &a, &b)) {
		found[cur].start = a;
		found[cur].end = b;
		found[cur].have = 1;
	}
}

int sender_from_headers(const char *msg, size_t len, char *out, size_t size,
			const char **which)
{
	struct span found[RULE_N];
	size_t pos = 0, vstart = 0, fend = 0;
	int cur = -1;

	memset(found, 0, sizeof(found));
	if (out != NULL && size > 0)
		out[0] = '\0';
	if (which != NULL)
		*which = NULL;
	if (msg == NULL)
		len = 0;
	while (pos < len) {
		const char *line = msg + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		size_t next = pos + n + (nl ? 1 : 0);
		size_t content = n;

		if (content > 0 && line[content - 1] == '\r')
			content--;
		if (content == 0)
			break; /* the empty line ends the header section */
		if (wsp((unsigned char)line[0])) {
			fend = next; /* continuation of the current field */
		} else {
			size_t v = 0;

			close_field(msg, cur, vstart, fend, found);
			cur = field_of_line(line, content, &v);
			vstart = pos + v;
			fend = next;
		}
		pos = next;
	}
	close_field(msg, cur, vstart, fend, found);

	for (int i = 0; i < RULE_N; i++) {
		if (!found[i].have)
			continue;
		if (out != NULL && size > 0)
			copy_value(msg, found[i].start, found[i].end, out,
				   size);
		if (which != NULL)
			*which = rule[i];
		return i;
	}
	return SPOOL_E_NOTFOUND;
}
