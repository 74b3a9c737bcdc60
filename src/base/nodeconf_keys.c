/*
 * nodeconf_keys.c — the keys of the node's configuration file
 * (nodeconf.h): the table of sections and keys with the field each fills
 * and its range, and how one value of each type is checked and stored
 * (numbers, booleans, names, paths, HOST:PORT, domains, groups, levels,
 * peers, network and server lists, the delivery backend, the LMTP
 * address).
 *
 * Owns: nodeconf_keys[] and the per-value reasons ("not a number: ...",
 * "... is out of range ..."). Does not own reading the file, line numbers
 * or the "FILE:LINE: [section] key:" prefix (nodeconf.c), or the checks
 * that need the whole file (nodeconf_check.c).
 *
 * Fails with -1 and the reason in the caller's buffer; never exits, never
 * logs.
 */
#include "src/base/nodeconf.h"
#include "src/base/nodeconf_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spool/codec/hostname.h"
#include "spool/codec/hostport.h"

#define MAX_FRAME_MIN (128u * 1024)
#define MAX_FRAME_MAX (1024ull * 1024 * 1024)
#define ID_MAX (1ull << 63)

#define STR(f) offsetof(struct nodeconf, f), sizeof(((struct nodeconf *)0)->f)
#define NUM(f) offsetof(struct nodeconf, f), 0

const struct nodeconf_key nodeconf_keys[] = {
    {"node", "id", KT_U64, NUM(id), 1, ID_MAX},
    {"node", "name", KT_NAME, STR(name), 0, 0},
    {"node", "data_dir", KT_PATH, STR(data_dir), 0, 0},
    {"node", "domain", KT_DOMAIN, STR(domain), 0, 0},
    /* the disk reserve (src/base/diskguard.h), MiB; 0 = no reserve */
    {"node", "min_free_mb", KT_U64, NUM(min_free_mb), 0, 1048576},
    /* the directory SET CONFIGURATION SMTP /LOG files must be in */
    {"node", "log_dir", KT_FILE, STR(log_dir), 0, 0},
    /* least privilege (src/base/privdrop.h) */
    {"node", "user", KT_GROUP, STR(user), 0, 0},
    {"node", "group", KT_GROUP, STR(group), 0, 0},
    {"smtp", "listen", KT_ADDR, STR(smtp_listen), 0, 0},
    {"smtp", "tls_cert", KT_FILE, STR(smtp_tls_cert), 0, 0},
    {"smtp", "tls_key", KT_FILE, STR(smtp_tls_key), 0, 0},
    {"smtp", "trusted", KT_NETS, STR(smtp_trusted), 0, 0},
    {"smtp", "max_sessions", KT_UINT, NUM(smtp_max_sessions), 1, 100000},
    {"smtp", "max_per_ip", KT_UINT, NUM(smtp_max_per_ip), 1, 100000},
    {"smtp", "reply_timeout_ms", KT_UINT, NUM(smtp_reply_timeout_ms), 100,
     3600000},
    {"smtp", "aliases_file", KT_FILE, STR(smtp_aliases_file), 0, 0},
    /* submission with AUTH (src/smtpd/smtp_auth.h): 587 and 465 */
    {"submission", "listen", KT_ADDR, STR(sub_listen), 0, 0},
    {"submission", "tls_listen", KT_ADDR, STR(sub_tls_listen), 0, 0},
    {"submission", "sasldb", KT_FILE, STR(sub_sasldb), 0, 0},
    {"submission", "realm", KT_DOMAIN, STR(sub_realm), 0, 0},
    {"submission", "sender_logins", KT_FILE, STR(sub_sender_logins), 0, 0},
    {"delivery", "enabled", KT_BOOL, NUM(dlv_enabled), 0, 0},
    {"delivery", "backend", KT_BACKEND, STR(dlv_backend), 0, 0},
    {"delivery", "mail_root", KT_FILE, STR(dlv_mail_root), 0, 0},
    {"delivery", "lmtp", KT_LMTP, STR(dlv_lmtp), 0, 0},
    {"delivery", "dns_servers", KT_SERVERS, STR(dlv_dns_servers), 0, 0},
    {"delivery", "helo", KT_DOMAIN, STR(dlv_helo), 0, 0},
    {"delivery", "max_per_host", KT_UINT, NUM(dlv_max_per_host), 0, 100000},
    {"delivery", "smtp_port", KT_UINT, NUM(dlv_smtp_port), 1, 65535},
    {"delivery", "tls_ca_file", KT_FILE, STR(dlv_tls_ca_file), 0, 0},
    {"delivery", "lease_ms", KT_UINT, NUM(dlv_lease_ms), 1000, 86400000},
    {"delivery", "grace_ms", KT_UINT, NUM(dlv_grace_ms), 0, 86400000},
    {"delivery", "scan_interval_ms", KT_UINT, NUM(dlv_scan_interval_ms), 10,
     600000},
    {"delivery", "claim_batch", KT_UINT, NUM(dlv_claim_batch), 1, 1024},
    {"delivery", "activity_log", KT_FILE, STR(dlv_activity_log), 0, 0},
    /* the receive log (src/smtpd/smtp_recvlog.h); "none" = no log */
    {"node", "receive_log", KT_FILE, STR(receive_log), 0, 0},
    /* the Prometheus endpoint (src/metrics/metrics_http.h); empty = off */
    {"metrics", "listen", KT_ADDR, STR(metrics_listen), 0, 0},
    {"cluster", "address", KT_ADDR, STR(cluster_address), 0, 0},
    {"cluster", "bootstrap", KT_BOOL, NUM(bootstrap), 0, 0},
    {"cluster", "peer", KT_PEER, 0, 0, 0, 0},
    {"cluster", "election_timeout_ms", KT_UINT, NUM(election_timeout_ms), 50,
     600000},
    {"cluster", "heartbeat_timeout_ms", KT_UINT, NUM(heartbeat_timeout_ms), 10,
     60000},
    {"cluster", "snapshot_threshold", KT_UINT, NUM(snapshot_threshold), 1,
     100000000},
    /* at least 1: libraft 0.22 stores a snapshot put with trailing 0 as
     * an install and deletes the whole log, entries newer than the
     * snapshot included (seen: a barrier appended while the take ran was
     * gone after a restart) */
    {"cluster", "snapshot_trailing", KT_UINT, NUM(snapshot_trailing), 1,
     100000000},
    /* at most 10 min: a retried proposal must land while the spool keeps
     * the tombstone of its name (SPOOL_TOMB_KEEP_MS, 30 min) */
    {"cluster", "propose_timeout_ms", KT_UINT, NUM(propose_timeout_ms), 100,
     600000},
    {"cluster", "max_frame", KT_U64, NUM(max_frame), MAX_FRAME_MIN,
     MAX_FRAME_MAX},
    /* mutual TLS on the raft and forwarding ports (docs/node.conf.5) */
    {"cluster", "tls_ca", KT_FILE, STR(cluster_tls_ca), 0, 0},
    {"cluster", "tls_cert", KT_FILE, STR(cluster_tls_cert), 0, 0},
    {"cluster", "tls_key", KT_FILE, STR(cluster_tls_key), 0, 0},
    {"cluster", "insecure_plaintext", KT_BOOL, NUM(cluster_insecure_plaintext),
     0, 0},
    {"control", "socket", KT_PATH, STR(control_socket), 0, 0},
    {"control", "admin_group", KT_GROUP, STR(admin_group), 0, 0},
    {"control", "idle_timeout_s", KT_UINT, NUM(ctl_idle_timeout_s), 0, 86400},
    /* below the server's 256 minus the 16 kept for admins */
    {"control", "max_per_user", KT_UINT, NUM(ctl_max_per_user), 1, 240},
    {"log", "level", KT_LEVEL, STR(log_level), 0, 0},
    {"log", "file", KT_FILE, STR(log_file), 0, 0},
};

const size_t nodeconf_nkeys = sizeof(nodeconf_keys) / sizeof(nodeconf_keys[0]);

_Static_assert(sizeof(nodeconf_keys) / sizeof(nodeconf_keys[0]) <=
		   NODECONF_KEYS_MAX,
	       "raise NODECONF_KEYS_MAX (nodeconf_impl.h)");

int nodeconf_key_find(const char *section, const char *key)
{
	for (size_t i = 0; i < nodeconf_nkeys; i++)
		if (!strcmp(nodeconf_keys[i].section, section) &&
		    !strcmp(nodeconf_keys[i].key, key))
			return (int)i;
	return -1;
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
int nodeconf_set_str(char *dst, size_t n, const char *v, char *why,
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
static int add_peer(struct nodeconf *c, const char *v, char *why,
		    size_t whysize)
{
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
	if (nodeconf_set_str(addr, sizeof(addr), sp, why, whysize) != 0)
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

/* Parse one value into its field according to the key's type (see
 * nodeconf_impl.h). */
int nodeconf_set_value(struct nodeconf *c, const struct nodeconf_key *k,
		       const char *v, char *why, size_t whysize)
{
	char *base = (char *)c;
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
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_PATH:
		if (*v == '\0') {
			snprintf(why, whysize, "empty path");
			return -1;
		}
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_FILE:
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_ADDR:
		if (check_addr(v, why, whysize) != 0)
			return -1;
		return nodeconf_set_str(s, k->size, v, why, whysize);
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
		return nodeconf_set_str(s, k->size, v, why, whysize);
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
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_LEVEL:
		if (strcmp(v, "debug") && strcmp(v, "info") &&
		    strcmp(v, "warn") && strcmp(v, "error")) {
			snprintf(why, whysize,
				 "\"%.120s\" is not one of debug, info, warn, "
				 "error",
				 v);
			return -1;
		}
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_PEER:
		return add_peer(c, v, why, whysize);
	case KT_NETS:
	case KT_SERVERS:
		if (k->type == KT_NETS && strcmp(v, "none") == 0)
			return nodeconf_set_str(s, k->size, v, why, whysize);
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
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_BACKEND:
		if (strcmp(v, "maildir") && strcmp(v, "lmtp")) {
			snprintf(why, whysize,
				 "\"%.120s\" is not one of maildir, lmtp", v);
			return -1;
		}
		return nodeconf_set_str(s, k->size, v, why, whysize);
	case KT_LMTP:
		if (*v != '\0' && strncmp(v, "unix:/", 6) != 0 &&
		    check_addr(v, why, whysize) != 0) {
			snprintf(why, whysize,
				 "\"%.120s\" is not HOST:PORT or unix:/path",
				 v);
			return -1;
		}
		return nodeconf_set_str(s, k->size, v, why, whysize);
	}
	snprintf(why, whysize, "internal: unknown key type");
	return -1;
}
