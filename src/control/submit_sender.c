/*
 * submit_sender.c — the sender rules of local submission (submit_sender.h):
 * the own-address rule of sendmail -f, the From: field with -F's full
 * name, and /SUBSTITUTE_DOMAIN=NAME in the envelope and the From: and
 * Sender: fields.
 *
 * Pure functions over strings; a message is written into a struct wbuf,
 * whose err flag tells a failed growth (nothing else can fail here).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "src/control/submit_sender.h"

#include "spool/codec/msghdr.h"

#define FULLNAME_MAX 200

static int is_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static int same_domain(const char *want, const char *domain, size_t len)
{
	return is_set(want) && strlen(want) == len &&
	       strncasecmp(want, domain, len) == 0;
}

int submit_domain_local(const struct submit_domains *d, const char *domain,
			size_t len)
{
	if (len > 1 && domain[len - 1] == '.')
		len--; /* one trailing dot: the same name */
	return same_domain(d->node, domain, len) ||
	       same_domain(d->cluster, domain, len) ||
	       same_domain(d->substitute, domain, len);
}

int submit_sender_own(const char *addr, const char *user,
		      const struct submit_domains *d)
{
	const char *at = strrchr(addr, '@');
	size_t ul = strlen(user);

	if (ul == 0)
		return 0;
	if (at == NULL)
		return strcmp(addr, user) == 0;
	return (size_t)(at - addr) == ul && strncmp(addr, user, ul) == 0 &&
	       submit_domain_local(d, at + 1, strlen(at + 1));
}

int submit_sender_substitute(const char *addr, const struct submit_domains *d,
			     char *out, size_t n)
{
	const char *at = strrchr(addr, '@');
	int w;

	if (is_set(d->substitute) && at != NULL &&
	    submit_domain_local(d, at + 1, strlen(at + 1)))
		w = snprintf(out, n, "%.*s@%s", (int)(at - addr), addr,
			     d->substitute);
	else
		w = snprintf(out, n, "%s", addr);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

int submit_fullname_ok(const char *name)
{
	size_t n = strlen(name);

	if (n > FULLNAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] == 0x7f)
			return 0;
	return 1;
}

int submit_from_field(const char *fullname, const char *addr, char *out,
		      size_t n)
{
	size_t o = 0;
	int w;

	if (!is_set(fullname)) {
		w = snprintf(out, n, "From: <%s>\r\n", addr);
		return w < 0 || (size_t)w >= n ? -1 : 0;
	}
	w = snprintf(out, n, "From: \"");
	if (w < 0 || (size_t)w >= n)
		return -1;
	o = (size_t)w;
	for (const char *p = fullname; *p != '\0'; p++) {
		if (o + 3 >= n)
			return -1;
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	w = snprintf(out + o, n - o, "\" <%s>\r\n", addr);
	return w < 0 || (size_t)w >= n - o ? -1 : 0;
}

/* ---- the From: and Sender: fields ---- */

static int domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Copy ll bytes of a header field, each "@local-domain" written as
 * "@substitute". */
static void rewrite_line(struct wbuf *out, const char *p, size_t ll,
			 const struct submit_domains *d)
{
	size_t start = 0, i = 0;

	while (i < ll) {
		size_t j;
		if (p[i] != '@') {
			i++;
			continue;
		}
		for (j = i + 1; j < ll && domain_char(p[j]); j++)
			;
		if (j > i + 1 && submit_domain_local(d, p + i + 1, j - i - 1)) {
			wbuf_raw(out, p + start, i + 1 - start);
			wbuf_raw(out, d->substitute, strlen(d->substitute));
			start = j;
		}
		i = j;
	}
	wbuf_raw(out, p + start, ll - start);
}

void submit_rewrite_headers(struct wbuf *out, const char *msg, size_t len,
			    const struct submit_domains *d)
{
	struct msghdr_iter it;
	struct msghdr_field f;
	size_t body;

	if (!is_set(d->substitute)) {
		wbuf_raw(out, msg, len);
		return;
	}
	msghdr_iter_init(&it, msg, len);
	while (msghdr_iter_next(&it, &f)) {
		/* a field with its line ends: CR and LF end a domain too */
		if (msghdr_field_is(&f, "from") ||
		    msghdr_field_is(&f, "sender"))
			rewrite_line(out, f.p, f.len, d);
		else
			wbuf_raw(out, f.p, f.len);
	}
	body = msghdr_iter_pos(&it);
	wbuf_raw(out, msg + body, len - body);
}
