/*
 * local.c — local delivery (see local.h): local-domain test, forward-table
 * resolution, the X-VMS-From: sender, the Maildir writer and the LMTP
 * address parser.
 *
 * Owns: nothing across calls. The Maildir writer owns the file it creates
 * until it is renamed into new/; on any failure the tmp/ file is removed.
 *
 * Durability: a Maildir delivery reports OUT_DELIVERED only after the
 * file's data is fsync'd, the rename into new/ is done and new/ itself is
 * fsync'd, so a crash afterwards cannot lose the message.
 */
#include "src/delivery/local.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "spool/codec/hostport.h"
#include "spool/codec/sender.h"
#include "spool/store/spool.h"
#include "src/base/clock.h"
#include "src/base/fsync_dir.h"
#include "src/delivery/local_headers.h"

/* ---- local domains ---- */

/* 1 if a and b are the same domain (case, one trailing dot ignored). */
static int domain_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

int local_domain_is_local(const struct local_env *e, const char *domain)
{
	int rc;

	if (domain == NULL || domain[0] == '\0')
		return 1; /* a bare local part */
	if (domain[0] == '[')
		return 0; /* an address literal is never local */
	if (e->node_domain != NULL && domain_eq(domain, e->node_domain))
		return 1;
	if (e->cluster_domain != NULL && domain_eq(domain, e->cluster_domain))
		return 1;
	if (e->node_domain_has != NULL) {
		rc = e->node_domain_has(e->arg, domain);
		if (rc != 0)
			return rc;
	}
	if (e->alias_has != NULL) {
		rc = e->alias_has(e->arg, domain);
		if (rc != 0)
			return rc;
	}
	if (e->node_alias_has != NULL) {
		rc = e->node_alias_has(e->arg, domain);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* spool_node_foreach state: the domain sought, and whether it was seen. */
struct node_dom_find {
	const char *domain;
	int found;
};

static int node_dom_visit(const struct spool_node *n, void *arg)
{
	struct node_dom_find *f = arg;

	if (domain_eq(f->domain, n->domain)) {
		f->found = 1;
		return 1; /* stop */
	}
	return 0;
}

int local_spool_node_domain_has(struct spool *sp, const char *domain)
{
	struct node_dom_find f = {domain, 0};
	int rc;

	if (sp == NULL || domain == NULL || domain[0] == '\0')
		return 0;
	rc = spool_node_foreach(sp, node_dom_visit, &f);
	if (f.found)
		return 1;
	return rc < 0 ? rc : 0;
}

/* ---- forwarding ---- */

/* Split addr at its last '@' into local (dequoted) and domain. */
static int split_addr(const char *addr, char *local, size_t lsize, char *domain,
		      size_t dsize)
{
	const char *at = strrchr(addr, '@');
	size_t ll = at != NULL ? (size_t)(at - addr) : strlen(addr);
	const char *lp = addr;

	if (ll >= 2 && lp[0] == '"' && lp[ll - 1] == '"') {
		lp++;
		ll -= 2;
	}
	if (ll == 0 || ll >= lsize)
		return -1;
	memcpy(local, lp, ll);
	local[ll] = '\0';
	if (at == NULL) {
		domain[0] = '\0';
		return 0;
	}
	if (strlen(at + 1) >= dsize)
		return -1;
	strcpy(domain, at + 1);
	return 0;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Trim a forward target: blanks, <...>, OpenVMS SMTP%"addr". */
static void clean_target(char *t)
{
	char *p = t, *pct;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	memmove(t, p, strlen(p) + 1);
	n = strlen(t);
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' ||
			 t[n - 1] == '\r' || t[n - 1] == '\n'))
		t[--n] = '\0';
	pct = strchr(t, '%');
	if (pct != NULL && pct[1] == '"' && n >= 2 && t[n - 1] == '"' &&
	    (size_t)(pct - t) + 2 <= n - 1) {
		size_t inner = n - 1 - (size_t)(pct - t) - 2;

		memmove(t, pct + 2, inner);
		t[inner] = '\0';
		n = inner;
	}
	if (n >= 2 && t[0] == '<' && t[n - 1] == '>') {
		memmove(t, t + 1, n - 2);
		t[n - 2] = '\0';
	}
}

/* Default forwards of seed 18.2.2. */
static int is_postmaster_name(const char *user)
{
	return strcmp(user, "postmaster") == 0 ||
	       strcmp(user, "tcpip$smtp") == 0 || strcmp(user, "ucx_smtp") == 0;
}

static void set_failed(struct local_target *t, int kind, const char *fmt,
		       const char *a, const char *b)
{
	t->kind = kind;
	/* a long reason is cut: the reply is one line of bounded size */
	if (snprintf(t->reply, sizeof(t->reply), fmt, a, b) < 0)
		t->reply[0] = '\0';
}

static void resolve(const struct local_env *e, const char *addr, int accepted,
		    struct local_target *t)
{
	char local[SPOOL_ADDR_MAX + 1], domain[SPOOL_ADDR_MAX + 1];
	char seen[LOCAL_FORWARD_HOPS + 1][LOCAL_USER_MAX + 1];
	char target[SPOOL_ADDR_MAX + 1], chain[200];
	const char *pm =
	    e->postmaster_alias != NULL && e->postmaster_alias[0] != '\0'
		? e->postmaster_alias
		: "system";
	const char *home; /* domain for the mailbox address */
	unsigned nseen = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	if (split_addr(addr, local, sizeof(local), domain, sizeof(domain)) !=
	    0) {
		set_failed(t, LOCAL_FAILED, "553 5.1.3 bad address %s%s", addr,
			   "");
		return;
	}
	rc = accepted ? 1 : local_domain_is_local(e, domain);
	if (rc < 0) {
		set_failed(t, LOCAL_TEMPFAIL,
			   "451 4.3.0 alias lookup failed for %s%s", domain,
			   "");
		return;
	}
	if (rc == 0) {
		t->kind = LOCAL_NOT_LOCAL;
		snprintf(t->addr, sizeof(t->addr), "%s", addr);
		return;
	}
	home = domain[0] != '\0' ? domain
	       : e->node_domain != NULL && e->node_domain[0] != '\0'
		   ? e->node_domain
		   : "localhost";
	lower(local);
	chain[0] = '\0';
	for (;;) {
		size_t cl = strlen(chain);

		if (strlen(local) > LOCAL_USER_MAX) {
			set_failed(t, LOCAL_FAILED,
				   "550 5.1.1 <%s>: user name too long%s", addr,
				   "");
			return;
		}
		for (unsigned i = 0; i < nseen; i++)
			if (strcmp(seen[i], local) == 0) {
				set_failed(
				    t, LOCAL_FAILED,
				    "550 5.4.6 forwarding loop: %s -> %s",
				    chain, local);
				return;
			}
		if (nseen > LOCAL_FORWARD_HOPS) {
			set_failed(t, LOCAL_FAILED,
				   "550 5.4.6 forwarding loop: more than 10 "
				   "forwards from %s%s",
				   addr, "");
			return;
		}
		strcpy(seen[nseen++], local);
		/* the chain is for the reason text only: cut when long */
		if (cl + 1 < sizeof(chain) &&
		    snprintf(chain + cl, sizeof(chain) - cl, "%s%s",
			     cl ? " -> " : "", local) < 0)
			chain[cl] = '\0';

		rc = e->forward_get != NULL
			 ? e->forward_get(e->arg, local, target, sizeof(target))
			 : SPOOL_E_NOTFOUND;
		if (rc == SPOOL_E_NOTFOUND) {
			if (is_postmaster_name(local) &&
			    strcasecmp(pm, local) != 0) {
				snprintf(target, sizeof(target), "%s", pm);
			} else {
				break; /* a mailbox */
			}
		} else if (rc != 0) {
			set_failed(t, LOCAL_TEMPFAIL,
				   "451 4.3.0 forward lookup failed for %s%s",
				   local, "");
			return;
		}
		clean_target(target);
		if (target[0] == '\0')
			break; /* an empty forward: none */
		{
			char tl[SPOOL_ADDR_MAX + 1], td[SPOOL_ADDR_MAX + 1];

			if (split_addr(target, tl, sizeof(tl), td,
				       sizeof(td)) != 0) {
				set_failed(t, LOCAL_FAILED,
					   "550 5.4.6 bad forward target for "
					   "%s: %s",
					   local, target);
				return;
			}
			/* the accepted domain itself stays local */
			rc = accepted && domain[0] != '\0' &&
				     strcasecmp(td, domain) == 0
				 ? 1
				 : local_domain_is_local(e, td);
			if (rc < 0) {
				set_failed(t, LOCAL_TEMPFAIL,
					   "451 4.3.0 alias lookup failed for "
					   "%s%s",
					   td, "");
				return;
			}
			if (rc == 0) {
				t->kind = LOCAL_REMOTE;
				t->hops = nseen;
				snprintf(t->addr, sizeof(t->addr), "%s",
					 target);
				return;
			}
			lower(tl);
			if (strcmp(tl, local) == 0)
				break; /* forwarded to itself */
			if (td[0] != '\0')
				home = domain[0] != '\0' ? domain : td;
			snprintf(local, sizeof(local), "%s", tl);
		}
	}
	t->kind = LOCAL_MAILBOX;
	t->hops = nseen - 1;
	memcpy(t->user, local, strlen(local) + 1); /* <= LOCAL_USER_MAX */
	if (snprintf(t->addr, sizeof(t->addr), "%s@%s", local, home) >=
	    (int)sizeof(t->addr))
		set_failed(t, LOCAL_FAILED, "553 5.1.3 address too long: %s%s",
			   local, "");
}

void local_resolve(const struct local_env *e, const char *addr,
		   struct local_target *t)
{
	resolve(e, addr, 0, t);
}

void local_resolve_accepted(const struct local_env *e, const char *addr,
			    struct local_target *t)
{
	resolve(e, addr, 1, t);
}

/* ---- the sender header ---- */

void local_vms_from(const void *msg, size_t len, const char *env_sender,
		    char *out, size_t size)
{
	if (size == 0)
		return;
	if (sender_from_headers(msg, len, out, size, NULL) < 0 ||
	    out[0] == '\0') {
		if (env_sender != NULL && env_sender[0] != '\0')
			snprintf(out, size, "%s", env_sender);
		else
			snprintf(out, size, "<>");
	}
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
}

/* ---- Maildir ---- */

static atomic_uint maildir_seq;

/* 1 if user is usable as a directory name. */
static int user_ok(const char *u)
{
	if (u == NULL || u[0] == '\0' || u[0] == '.' ||
	    strlen(u) > LOCAL_USER_MAX)
		return 0;
	for (; *u; u++)
		if (*u == '/' || (unsigned char)*u < 0x21 ||
		    (unsigned char)*u == 0x7f)
			return 0;
	return 1;
}

int local_maildir_exists(const char *root, const char *user)
{
	char path[4096];
	struct stat st;
	int n;

	if (root == NULL || root[0] == '\0' || !user_ok(user))
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s", root, user);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int local_rcpt_known(const struct local_env *e, const char *root,
		     const char *addr)
{
	struct local_target t;

	local_resolve(e, addr, &t);
	switch (t.kind) {
	case LOCAL_MAILBOX:
		return local_maildir_exists(root, t.user);
	case LOCAL_TEMPFAIL:
		return SPOOL_E_IO;
	default: /* remote, forwarded away, or failing for another reason */
		return 1;
	}
}

/* Write all of n bytes. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The message with CRLF made LF, without the header fields m->headers
 * leaves out, and the three headers first (X-VMS-From: alone under
 * NOHEADERS). */
static char *maildir_bytes(const struct maildir_req *m, size_t *outlen)
{
	size_t cap = m->len + strlen(m->delivered_to) + strlen(m->return_path) +
		     strlen(m->vms_from) + 64;
	char *b = malloc(cap);
	char *s;
	size_t o, n;

	if (b == NULL)
		return NULL;
	if (m->headers == CFG_HEADERS_NONE)
		o = (size_t)snprintf(b, cap, "X-VMS-From: %s\n", m->vms_from);
	else
		o = (size_t)snprintf(b, cap,
				     "Delivered-To: %s\nReturn-Path: <%s>\n"
				     "X-VMS-From: %s\n",
				     m->delivered_to, m->return_path,
				     m->vms_from);
	/* filtered into place, then CRLF made LF in place */
	s = b + o;
	n = local_headers_filter(m->msg, m->len, m->headers, s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		b[o++] = s[i];
	}
	*outlen = o;
	return b;
}

/* The node name with '/' and ':' escaped as the Maildir spec says. */
static void host_part(const char *node, char *out, size_t size)
{
	size_t o = 0;

	for (; node != NULL && *node && o + 5 < size; node++) {
		if (*node == '/')
			o += (size_t)snprintf(out + o, size - o, "\\057");
		else if (*node == ':')
			o += (size_t)snprintf(out + o, size - o, "\\072");
		else
			out[o++] = *node;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, size, "localhost");
}

int local_maildir_deliver(const struct maildir_req *m, char *reply, size_t size,
			  char *name_out, size_t name_size)
{
	char dir[4096], tmp[4700], dst[4700], name[512], host[256];
	struct stat st;
	char *bytes;
	size_t blen;
	int fd = -1, out = OUT_DEFERRED, err;

	if (!user_ok(m->user)) {
		snprintf(reply, size, "550 5.1.1 <%s>: unknown user",
			 m->delivered_to);
		return OUT_FAILED;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", m->root, m->user) >=
	    sizeof(dir)) {
		snprintf(reply, size, "451 4.3.0 mail root path too long");
		return OUT_DEFERRED;
	}
	if (stat(dir, &st) != 0 && errno != ENOENT && errno != ENOTDIR) {
		snprintf(reply, size,
			 "451 4.3.0 cannot reach mailbox of %s: %s", m->user,
			 strerror(errno));
		return OUT_DEFERRED;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(reply, size, "550 5.1.1 <%s>: unknown user",
			 m->delivered_to);
		return OUT_FAILED;
	}
	for (const char *sub = "tmp\0new\0cur\0"; *sub; sub += 4) {
		snprintf(tmp, sizeof(tmp), "%s/%s", dir, sub);
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			snprintf(reply, size, "451 4.3.0 cannot create %s: %s",
				 tmp, strerror(errno));
			return OUT_DEFERRED;
		}
	}
	bytes = maildir_bytes(m, &blen);
	if (bytes == NULL) {
		snprintf(reply, size, "452 4.3.1 out of memory");
		return OUT_DEFERRED;
	}
	host_part(m->node, host, sizeof(host));
	for (int tries = 0; tries < 100 && fd < 0; tries++) {
		snprintf(name, sizeof(name), "%lld.%d_%u.%s",
			 (long long)(clock_wall_ms() / 1000), (int)getpid(),
			 atomic_fetch_add(&maildir_seq, 1u), host);
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		snprintf(reply, size, "451 4.3.0 cannot create %s: %s", tmp,
			 strerror(errno));
		goto out_free;
	}
	if (write_all(fd, bytes, blen) != 0 || fsync(fd) != 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		snprintf(reply, size,
			 "%s 4.3.%d cannot write the mailbox of "
			 "%s: %s",
			 err == ENOSPC || err == EDQUOT ? "452" : "451",
			 err == ENOSPC || err == EDQUOT ? 1 : 0, m->user,
			 strerror(err));
		goto out_free;
	}
	if (close(fd) != 0) {
		err = errno;
		unlink(tmp);
		snprintf(reply, size, "451 4.3.0 close failed: %s",
			 strerror(err));
		goto out_free;
	}
	snprintf(dst, sizeof(dst), "%s/new/%s", dir, name);
	if (rename(tmp, dst) != 0) {
		err = errno;
		unlink(tmp);
		snprintf(reply, size, "451 4.3.0 rename into new/ failed: %s",
			 strerror(err));
		goto out_free;
	}
	snprintf(tmp, sizeof(tmp), "%s/new", dir);
	if (fsync_dir(tmp) != 0) {
		/* the file is there; only its durability is in doubt */
		snprintf(reply, size, "451 4.3.0 fsync of %s failed: %s", tmp,
			 strerror(errno));
		unlink(dst);
		goto out_free;
	}
	snprintf(reply, size, "250 2.0.0 delivered to maildir %s", m->user);
	if (name_out != NULL)
		snprintf(name_out, name_size, "%s", name);
	out = OUT_DELIVERED;
out_free:
	free(bytes);
	return out;
}

/* ---- LMTP address ---- */

int local_lmtp_parse(const char *address, char *ip, size_t ipsize,
		     unsigned *port, const char **path)
{
	char host[256];
	unsigned char bin[16];
	unsigned hp;

	*path = NULL;
	ip[0] = '\0';
	*port = 0;
	if (address == NULL || address[0] == '\0')
		return SPOOL_E_INVAL;
	if (strncmp(address, "unix:", 5) == 0) {
		if (address[5] == '\0')
			return SPOOL_E_INVAL;
		*path = address + 5;
		return 0;
	}
	/* HOST:PORT by the one parser (spool/codec/hostport.h) */
	if (hostport_split(address, host, sizeof(host), &hp) != 0)
		return SPOOL_E_INVAL;
	if (strcasecmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(strchr(host, ':') ? AF_INET6 : AF_INET, host, bin) != 1)
		return SPOOL_E_INVAL;
	if (strlen(host) >= ipsize)
		return SPOOL_E_INVAL;
	strcpy(ip, host);
	*port = hp;
	return 0;
}
