/*
 * nodeconf.c — reading the node's own configuration file (see nodeconf.h)
 * with libinih.
 *
 * Owns: the table of sections and keys, their defaults, how each value is
 * checked, and the error text "FILE:LINE: [section] key: reason". Does not
 * own: what the values mean to raft, the receiver or the control server.
 *
 * Line numbers: Debian's libinih is built without INI_HANDLER_LINENO, so
 * the file is fed to ini_parse_stream() through our own line reader, which
 * counts lines; the handler reads the current line from the loader. The
 * reader also strips leading white space (so an indented line is never
 * taken as a continuation of the previous value) and refuses lines longer
 * than libinih's buffer instead of letting it split them.
 *
 * Fails with -1 and a message; never exits, never logs.
 */
#include "src/base/nodeconf.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "spool/codec/hostname.h"
#include "spool/codec/hostport.h"

#define LINE_MAX_LEN 196 /* libinih's default 200-byte buffer, minus EOL */
#define MAX_FRAME_MIN (128u * 1024)
#define MAX_FRAME_MAX (1024ull * 1024 * 1024)
#define ID_MAX (1ull << 63)

enum key_type {
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

struct key_def {
	const char *section;
	const char *key;
	enum key_type type;
	size_t off;  /* offset of the field in struct nodeconf */
	size_t size; /* size of a string field */
	uint64_t min, max;
};

#define STR(f) offsetof(struct nodeconf, f), sizeof(((struct nodeconf *)0)->f)
#define NUM(f) offsetof(struct nodeconf, f), 0

static const struct key_def keys[] = {
    {"node", "id", KT_U64, NUM(id), 1, ID_MAX},
    {"node", "name", KT_NAME, STR(name), 0, 0},
    {"node", "data_dir", KT_PATH, STR(data_dir), 0, 0},
    {"node", "domain", KT_DOMAIN, STR(domain), 0, 0},
    /* the disk reserve (src/base/diskguard.h), MiB; 0 = no reserve */
    {"node", "min_free_mb", KT_U64, NUM(min_free_mb), 0, 1048576},
    {"smtp", "listen", KT_ADDR, STR(smtp_listen), 0, 0},
    {"smtp", "tls_cert", KT_FILE, STR(smtp_tls_cert), 0, 0},
    {"smtp", "tls_key", KT_FILE, STR(smtp_tls_key), 0, 0},
    {"smtp", "trusted", KT_NETS, STR(smtp_trusted), 0, 0},
    {"smtp", "max_sessions", KT_UINT, NUM(smtp_max_sessions), 1, 100000},
    {"smtp", "max_per_ip", KT_UINT, NUM(smtp_max_per_ip), 1, 100000},
    {"smtp", "reply_timeout_ms", KT_UINT, NUM(smtp_reply_timeout_ms), 100,
     3600000},
    {"smtp", "aliases_file", KT_FILE, STR(smtp_aliases_file), 0, 0},
    {"delivery", "enabled", KT_BOOL, NUM(dlv_enabled), 0, 0},
    {"delivery", "backend", KT_BACKEND, STR(dlv_backend), 0, 0},
    {"delivery", "mail_root", KT_FILE, STR(dlv_mail_root), 0, 0},
    {"delivery", "lmtp", KT_LMTP, STR(dlv_lmtp), 0, 0},
    {"delivery", "dns_servers", KT_SERVERS, STR(dlv_dns_servers), 0, 0},
    {"delivery", "helo", KT_DOMAIN, STR(dlv_helo), 0, 0},
    {"delivery", "max_per_host", KT_UINT, NUM(dlv_max_per_host), 0, 100000},
    {"delivery", "smtp_port", KT_UINT, NUM(dlv_smtp_port), 1, 65535},
    {"delivery", "lease_ms", KT_UINT, NUM(dlv_lease_ms), 1000, 86400000},
    {"delivery", "grace_ms", KT_UINT, NUM(dlv_grace_ms), 0, 86400000},
    {"delivery", "scan_interval_ms", KT_UINT, NUM(dlv_scan_interval_ms), 10,
     600000},
    {"delivery", "claim_batch", KT_UINT, NUM(dlv_claim_batch), 1, 1024},
    {"delivery", "activity_log", KT_FILE, STR(dlv_activity_log), 0, 0},
    {"cluster", "address", KT_ADDR, STR(cluster_address), 0, 0},
    {"cluster", "bootstrap", KT_BOOL, NUM(bootstrap), 0, 0},
    {"cluster", "peer", KT_PEER, 0, 0, 0, 0},
    {"cluster", "election_timeout_ms", KT_UINT, NUM(election_timeout_ms), 50,
     600000},
    {"cluster", "heartbeat_timeout_ms", KT_UINT, NUM(heartbeat_timeout_ms), 10,
     60000},
    {"cluster", "snapshot_threshold", KT_UINT, NUM(snapshot_threshold), 1,
     100000000},
    {"cluster", "snapshot_trailing", KT_UINT, NUM(snapshot_trailing), 0,
     100000000},
    /* at most 10 min: a retried proposal must land while the spool keeps
     * the tombstone of its name (SPOOL_TOMB_KEEP_MS, 30 min) */
    {"cluster", "propose_timeout_ms", KT_UINT, NUM(propose_timeout_ms), 100,
     600000},
    {"cluster", "max_frame", KT_U64, NUM(max_frame), MAX_FRAME_MIN,
     MAX_FRAME_MAX},
    {"control", "socket", KT_PATH, STR(control_socket), 0, 0},
    {"control", "admin_group", KT_GROUP, STR(admin_group), 0, 0},
    {"log", "level", KT_LEVEL, STR(log_level), 0, 0},
    {"log", "file", KT_FILE, STR(log_file), 0, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* State of one load: the file, the current line and the first error. */
struct loader {
	struct nodeconf *c;
	FILE *f;
	const char *path;
	int line;	 /* line being parsed (1-based) */
	int err_line;	 /* line of the first error, 0 = none yet */
	char err[512];	 /* first error, already formatted */
	int seen[NKEYS]; /* line where each key was set, 0 = not set */
	char *buf;	 /* getline buffer */
	size_t bufsize;
};

/* Record the first error at the current line, for section/key. */
static void fail(struct loader *ld, const char *section, const char *key,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail(struct loader *ld, const char *section, const char *key,
		 const char *fmt, ...)
{
	char why[300];
	va_list ap;

	if (ld->err_line != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ld->err_line = ld->line;
	if (key != NULL)
		snprintf(ld->err, sizeof(ld->err), "%s:%d: [%s] %s: %s",
			 ld->path, ld->line, section, key, why);
	else
		snprintf(ld->err, sizeof(ld->err), "%s:%d: [%s]: %s", ld->path,
			 ld->line, section, why);
}

/* Parse a decimal unsigned number (no sign, no spaces) in [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		     char *why, size_t whysize)
{
	char *end;
	unsigned long long v;

	if (*s == '\0' || !isdigit((unsigned char)*s)) {
		snprintf(why, whysize, "not a number: \"%.120s\"", s);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		snprintf(why, whysize, "not a number: \"%.120s\"", s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(why, whysize, "%llu is out of range %llu..%llu", v,
			 (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* 1 if s is a node name: [A-Za-z0-9_-], 1..64 characters. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '_' && ch != '-')
			return 0;
	}
	return 1;
}

int nodeconf_split_addr(const char *addr, char *host, unsigned hostsize,
			int *port)
{
	struct hostport hp;

	if (addr == NULL || host == NULL || hostsize == 0)
		return -1;
	if (hostport_parse(addr, &hp) != 0 || hp.host_len >= hostsize)
		return -1;
	if (hp.bracketed ? hp.host_len > 45 || /* an IPv6 literal's inside */
			       !hostname_loose6_ok(hp.host, hp.host_len)
			 : hp.host_len > HOSTNAME_DNS_MAX ||
			       !hostname_loose_ok(hp.host, hp.host_len))
		return -1;
	memcpy(host, hp.host, hp.host_len);
	host[hp.host_len] = '\0';
	if (port != NULL)
		*port = (int)hp.port;
	return 0;
}

/* Check an address value; 0 or -1 with a reason. */
static int check_addr(const char *v, char *why, size_t whysize)
{
	char host[NODECONF_STR];
	int port;

	if (nodeconf_split_addr(v, host, sizeof(host), &port) != 0) {
		snprintf(why, whysize,
			 "\"%.120s\" is not HOST:PORT (port 1..65535, IPv6 as "
			 "[ADDR]:PORT)",
			 v);
		return -1;
	}
	return 0;
}

/* 1 if s is made of hex digits and the characters of extra only. */
static int list_ok(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isxdigit((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

/* Copy v into a string field of size n; -1 if too long. */
static int set_str(char *dst, size_t n, const char *v, char *why,
		   size_t whysize)
{
	size_t len = strlen(v);

	if (len >= n) {
		snprintf(why, whysize, "too long (%zu bytes, at most %zu)", len,
			 n - 1);
		return -1;
	}
	memcpy(dst, v, len + 1);
	return 0;
}

/* A "peer = ID HOST:PORT" line: append to the peer list. */
static int add_peer(struct loader *ld, const char *v, char *why, size_t whysize)
{
	struct nodeconf *c = ld->c;
	char idbuf[32], addr[NODECONF_STR];
	const char *sp;
	size_t idlen;
	uint64_t id;

	sp = strpbrk(v, " \t");
	if (sp == NULL) {
		snprintf(why, whysize,
			 "expected \"ID HOST:PORT\", got \"%.120s\"", v);
		return -1;
	}
	idlen = (size_t)(sp - v);
	if (idlen >= sizeof(idbuf)) {
		snprintf(why, whysize, "peer id too long");
		return -1;
	}
	memcpy(idbuf, v, idlen);
	idbuf[idlen] = '\0';
	if (parse_u64(idbuf, 1, ID_MAX, &id, why, whysize) != 0)
		return -1;
	while (*sp == ' ' || *sp == '\t')
		sp++;
	if (set_str(addr, sizeof(addr), sp, why, whysize) != 0)
		return -1;
	if (check_addr(addr, why, whysize) != 0)
		return -1;
	if (c->npeers >= NODECONF_PEERS_MAX) {
		snprintf(why, whysize, "more than %d peers",
			 NODECONF_PEERS_MAX);
		return -1;
	}
	for (unsigned i = 0; i < c->npeers; i++) {
		if (c->peers[i].id == id) {
			snprintf(why, whysize, "duplicate peer id %llu",
				 (unsigned long long)id);
			return -1;
		}
		if (strcmp(c->peers[i].address, addr) == 0) {
			snprintf(why, whysize, "duplicate peer address %s",
				 addr);
			return -1;
		}
	}
	c->peers[c->npeers].id = id;
	memcpy(c->peers[c->npeers].address, addr, strlen(addr) + 1);
	c->npeers++;
	return 0;
}

/* Parse one value into its field according to the key's type. */
static int set_value(struct loader *ld, const struct key_def *k, const char *v,
		     char *why, size_t whysize)
{
	char *base = (char *)ld->c;
	char *s = base + k->off;
	uint64_t n;

	switch (k->type) {
	case KT_U64:
		if (parse_u64(v, k->min, k->max, &n, why, whysize) != 0)
			return -1;
		memcpy(base + k->off, &n, sizeof(n));
		return 0;
	case KT_UINT: {
		unsigned u;
		if (parse_u64(v, k->min, k->max, &n, why, whysize) != 0)
			return -1;
		u = (unsigned)n;
		memcpy(base + k->off, &u, sizeof(u));
		return 0;
	}
	case KT_BOOL: {
		int b;
		if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
		    !strcasecmp(v, "on") || !strcmp(v, "1"))
			b = 1;
		else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
			 !strcasecmp(v, "off") || !strcmp(v, "0"))
			b = 0;
		else {
			snprintf(why, whysize,
				 "\"%.120s\" is not a boolean (true or false)",
				 v);
			return -1;
		}
		memcpy(base + k->off, &b, sizeof(b));
		return 0;
	}
	case KT_NAME:
		if (!name_ok(v)) {
			snprintf(
			    why, whysize,
			    "\"%.120s\" is not a node name ([A-Za-z0-9_-], "
			    "1..64 characters)",
			    v);
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_PATH:
		if (*v == '\0') {
			snprintf(why, whysize, "empty path");
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_FILE:
		return set_str(s, k->size, v, why, whysize);
	case KT_ADDR:
		if (check_addr(v, why, whysize) != 0)
			return -1;
		return set_str(s, k->size, v, why, whysize);
	case KT_DOMAIN:
		/* loose (no label structure), kept as it was; note the
		 * common LDH rule (hostname_domain_ok) would refuse "a..b" */
		if (strlen(v) > HOSTNAME_DNS_MAX ||
		    !hostname_loose_ok(v, strlen(v)) ||
		    strchr(v, '_') != NULL) {
			snprintf(why, whysize,
				 "\"%.120s\" is not a domain name", v);
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_GROUP:
		for (const char *p = v; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			if (!isalnum(ch) && ch != '_' && ch != '-' &&
			    ch != '.') {
				snprintf(why, whysize,
					 "\"%.120s\" is not a group name", v);
				return -1;
			}
		}
		if (*v == '\0') {
			snprintf(why, whysize, "empty group name");
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_LEVEL:
		if (strcmp(v, "debug") && strcmp(v, "info") &&
		    strcmp(v, "warn") && strcmp(v, "error")) {
			snprintf(why, whysize,
				 "\"%.120s\" is not one of debug, info, warn, "
				 "error",
				 v);
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_PEER:
		return add_peer(ld, v, why, whysize);
	case KT_NETS:
	case KT_SERVERS:
		if (k->type == KT_NETS && strcmp(v, "none") == 0)
			return set_str(s, k->size, v, why, whysize);
		if (!list_ok(v, k->type == KT_NETS ? "./:, \t" : ".:[], ")) {
			snprintf(why, whysize,
				 k->type == KT_NETS
				     ? "\"%.120s\" is not a list of networks "
				       "(ADDR/BITS, separated by commas)"
				     : "\"%.120s\" is not a list of servers "
				       "(IP or IP:PORT, separated by commas)",
				 v);
			return -1;
		}
		if (k->type == KT_NETS && *v == '\0') {
			snprintf(why, whysize,
				 "empty (use \"none\" for no network)");
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_BACKEND:
		if (strcmp(v, "maildir") && strcmp(v, "lmtp")) {
			snprintf(why, whysize,
				 "\"%.120s\" is not one of maildir, lmtp", v);
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	case KT_LMTP:
		if (*v != '\0' && strncmp(v, "unix:/", 6) != 0 &&
		    check_addr(v, why, whysize) != 0) {
			snprintf(why, whysize,
				 "\"%.120s\" is not HOST:PORT or unix:/path",
				 v);
			return -1;
		}
		return set_str(s, k->size, v, why, whysize);
	}
	snprintf(why, whysize, "internal: unknown key type");
	return -1;
}

/* libinih handler: one "key = value" of section. Nonzero = ok. */
static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct loader *ld = user;
	char why[300];
	int known_section = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];
		if (strcmp(k->section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(k->key, key) != 0)
			continue;
		if (k->type != KT_PEER && ld->seen[i] != 0) {
			fail(ld, section, key, "set twice (first at line %d)",
			     ld->seen[i]);
			return 0;
		}
		ld->seen[i] = ld->line;
		if (set_value(ld, k, value, why, sizeof(why)) != 0) {
			fail(ld, section, key, "%s", why);
			return 0;
		}
		return 1;
	}
	if (!known_section) {
		if (*section == '\0')
			fail(ld, "", key, "key outside of any [section]");
		else
			fail(ld, section, NULL, "unknown section");
	} else {
		fail(ld, section, key, "unknown key");
	}
	return 0;
}

/* 1 if section is one of the table's sections. */
static int section_known(const char *section, size_t n)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].section) == n &&
		    strncmp(keys[i].section, section, n) == 0)
			return 1;
	return 0;
}

/* Line where section/key was set, 0 if it was not. */
static int seen_line(const struct loader *ld, const char *section,
		     const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) &&
		    !strcmp(keys[i].key, key))
			return ld->seen[i];
	return 0;
}

/* libinih reader: the next line, with leading white space removed; counts
 * lines, refuses those that do not fit libinih's buffer and reports an
 * unknown "[section]" even when it holds no key. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	ssize_t n;
	char *p;
	size_t len;

	n = getline(&ld->buf, &ld->bufsize, ld->f);
	if (n < 0)
		return NULL;
	ld->line++;
	p = ld->buf;
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	if (len > LINE_MAX_LEN || (int)len >= num - 1) {
		if (ld->err_line == 0) {
			ld->err_line = ld->line;
			snprintf(ld->err, sizeof(ld->err),
				 "%s:%d: line longer than %d characters",
				 ld->path, ld->line, LINE_MAX_LEN);
		}
		return NULL; /* stop: libinih would split the line */
	}
	if (p[0] == '[') {
		const char *close = strchr(p, ']');
		if (close != NULL &&
		    !section_known(p + 1, (size_t)(close - p - 1))) {
			char sect[LINE_MAX_LEN + 1];
			size_t sl = (size_t)(close - p - 1);
			memcpy(sect, p + 1, sl);
			sect[sl] = '\0';
			fail(ld, sect, NULL, "unknown section");
		}
	}
	memcpy(str, p, len + 1);
	return str;
}

void nodeconf_defaults(struct nodeconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->smtp_listen, sizeof(c->smtp_listen), "127.0.0.1:2525");
	c->election_timeout_ms = 1000;
	c->heartbeat_timeout_ms = 100;
	c->snapshot_threshold = 256;
	c->snapshot_trailing = 128;
	c->propose_timeout_ms = 10000;
	c->max_frame = 32ull * 1024 * 1024 + 64 * 1024;
	c->min_free_mb = 128;
	snprintf(c->admin_group, sizeof(c->admin_group), "smtpadm");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->smtp_trusted, sizeof(c->smtp_trusted), "127.0.0.1/32");
	c->smtp_max_sessions = 100;
	c->smtp_max_per_ip = 20;
	c->smtp_reply_timeout_ms = 30000;
	c->dlv_enabled = 1;
	snprintf(c->dlv_backend, sizeof(c->dlv_backend), "maildir");
	c->dlv_max_per_host = 10;
	c->dlv_smtp_port = 25;
	c->dlv_lease_ms = 120000;
	c->dlv_grace_ms = 30000;
	c->dlv_scan_interval_ms = 500;
	c->dlv_claim_batch = 16;
}

/* Checks that need the whole file: required keys and consistency. */
static int check_whole(struct loader *ld, char *err, unsigned errsize)
{
	struct nodeconf *c = ld->c;
	struct sockaddr_un sun;
	int self = 0;

	if (c->id == 0) {
		snprintf(err, errsize, "%s: [node] id: missing (required)",
			 ld->path);
		return -1;
	}
	if (c->data_dir[0] == '\0') {
		snprintf(err, errsize,
			 "%s: [node] data_dir: missing (required)", ld->path);
		return -1;
	}
	if (c->cluster_address[0] == '\0') {
		snprintf(err, errsize,
			 "%s: [cluster] address: missing (required)", ld->path);
		return -1;
	}
	if (c->name[0] == '\0')
		snprintf(c->name, sizeof(c->name), "NODE%llu",
			 (unsigned long long)c->id);
	if (c->domain[0] == '\0') {
		size_t i;
		for (i = 0; c->name[i] != '\0' && i + 1 < sizeof(c->domain);
		     i++)
			c->domain[i] =
			    (char)(c->name[i] == '_'
				       ? '-'
				       : tolower((unsigned char)c->name[i]));
		c->domain[i] = '\0';
		strncat(c->domain, ".localdomain",
			sizeof(c->domain) - strlen(c->domain) - 1);
	}
	if (c->heartbeat_timeout_ms >= c->election_timeout_ms) {
		int hb = seen_line(ld, "cluster", "heartbeat_timeout_ms");
		int el = seen_line(ld, "cluster", "election_timeout_ms");
		snprintf(err, errsize,
			 "%s:%d: [cluster] %s: heartbeat_timeout_ms (%u) must "
			 "be less than election_timeout_ms (%u)",
			 ld->path, hb ? hb : el,
			 hb ? "heartbeat_timeout_ms" : "election_timeout_ms",
			 c->heartbeat_timeout_ms, c->election_timeout_ms);
		return -1;
	}
	if (c->bootstrap && c->npeers > 0) {
		snprintf(err, errsize,
			 "%s: [cluster] bootstrap: cannot be combined with "
			 "peer (a static member list)",
			 ld->path);
		return -1;
	}
	for (unsigned i = 0; i < c->npeers; i++) {
		if (c->peers[i].id != c->id)
			continue;
		self = 1;
		if (strcmp(c->peers[i].address, c->cluster_address) != 0) {
			snprintf(err, errsize,
				 "%s: [cluster] peer: this node (id %llu) is "
				 "listed at %s but its address is %s",
				 ld->path, (unsigned long long)c->id,
				 c->peers[i].address, c->cluster_address);
			return -1;
		}
	}
	if (c->npeers > 0 && !self) {
		snprintf(err, errsize,
			 "%s: [cluster] peer: this node (id %llu) is not in "
			 "the peer list",
			 ld->path, (unsigned long long)c->id);
		return -1;
	}
	if (c->control_socket[0] == '\0') {
		int n = snprintf(c->control_socket, sizeof(c->control_socket),
				 "%s/control.sock", c->data_dir);
		if (n < 0 || (size_t)n >= sizeof(c->control_socket)) {
			snprintf(err, errsize,
				 "%s: [node] data_dir: too long for the "
				 "default control socket path",
				 ld->path);
			return -1;
		}
	}
	if (c->dlv_helo[0] == '\0')
		memcpy(c->dlv_helo, c->domain, strlen(c->domain) + 1);
	if (c->dlv_activity_log[0] == '\0') {
		int n =
		    snprintf(c->dlv_activity_log, sizeof(c->dlv_activity_log),
			     "%s/activity.log", c->data_dir);
		if (n < 0 || (size_t)n >= sizeof(c->dlv_activity_log)) {
			snprintf(err, errsize,
				 "%s: [node] data_dir: too long for the "
				 "default activity log path",
				 ld->path);
			return -1;
		}
	}
	if (strcmp(c->dlv_backend, "lmtp") == 0 && c->dlv_lmtp[0] == '\0') {
		snprintf(err, errsize,
			 "%s:%d: [delivery] backend: lmtp needs [delivery] "
			 "lmtp = HOST:PORT or unix:/path",
			 ld->path, seen_line(ld, "delivery", "backend"));
		return -1;
	}
	if ((c->smtp_tls_cert[0] == '\0') != (c->smtp_tls_key[0] == '\0')) {
		snprintf(
		    err, errsize,
		    "%s: [smtp] tls_cert: tls_cert and tls_key must be set "
		    "together",
		    ld->path);
		return -1;
	}
	if (strlen(c->control_socket) >= sizeof(sun.sun_path)) {
		snprintf(
		    err, errsize,
		    "%s: [control] socket: \"%.120s\" is longer than a Unix "
		    "socket path may be (%zu bytes)",
		    ld->path, c->control_socket, sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
}

int nodeconf_load(struct nodeconf *c, const char *path, char *err,
		  unsigned errsize)
{
	struct loader ld;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.c = c;
	ld.path = path;
	if (set_str(c->path, sizeof(c->path), path, ld.err, sizeof(ld.err))) {
		snprintf(err, errsize, "%s: path too long", path);
		return -1;
	}
	ld.f = fopen(path, "r");
	if (ld.f == NULL) {
		snprintf(err, errsize, "%s: cannot open: %s", path,
			 strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(reader, &ld, handler, &ld);
	if (ferror(ld.f) && ld.err_line == 0) {
		snprintf(err, errsize, "%s: read error", path);
		goto err_after_open;
	}
	if (rc > 0 && (ld.err_line == 0 || rc < ld.err_line)) {
		/* libinih's own syntax error, before any of ours */
		snprintf(err, errsize,
			 "%s:%d: syntax error (expected \"[section]\" or "
			 "\"key = value\")",
			 path, rc);
		goto err_after_open;
	}
	if (ld.err_line != 0) {
		snprintf(err, errsize, "%s", ld.err);
		goto err_after_open;
	}
	if (rc < 0) {
		snprintf(err, errsize, "%s: cannot parse (libinih error %d)",
			 path, rc);
		goto err_after_open;
	}
	fclose(ld.f);
	free(ld.buf);
	return check_whole(&ld, err, errsize);

err_after_open:
	fclose(ld.f);
	free(ld.buf);
	return -1;
}
