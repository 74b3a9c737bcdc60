/*
 * nodeconf_check.c — the checks of the node's configuration that need the
 * whole file (nodeconf.h): the required keys, the values derived from
 * others when absent (name, domain, control socket, HELO name, activity
 * log) and the consistency between keys (log_dir not data_dir, heartbeat
 * below election timeout, bootstrap or peers, this node in its peer list,
 * an LMTP backend with its address, TLS certificate with its key, the
 * control socket's path length).
 *
 * Owns: those rules and their messages "FILE[:LINE]: [section] key: ...".
 * Does not own reading the file or one value's syntax (nodeconf.c,
 * nodeconf_keys.c). Fails with -1 and a message; never exits, never logs.
 */
#include "src/base/nodeconf.h"
#include "src/base/nodeconf_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* Line where section/key was set, 0 if it was not. */
static int seen_line(const int *seen, const char *section, const char *key)
{
	int i = nodeconf_key_find(section, key);

	return i >= 0 ? seen[i] : 0;
}

/* 1 if a and b name the same directory, trailing slashes aside. */
static int same_dir(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	while (na > 1 && a[na - 1] == '/')
		na--;
	while (nb > 1 && b[nb - 1] == '/')
		nb--;
	return na == nb && strncmp(a, b, na) == 0;
}

int nodeconf_check_whole(struct nodeconf *c, const char *path, const int *seen,
			 char *err, unsigned errsize)
{
	struct sockaddr_un sun;
	int self = 0;

	if (c->id == 0) {
		snprintf(err, errsize, "%s: [node] id: missing (required)",
			 path);
		return -1;
	}
	if (c->data_dir[0] == '\0') {
		snprintf(err, errsize,
			 "%s: [node] data_dir: missing (required)", path);
		return -1;
	}
	if (c->cluster_address[0] == '\0') {
		snprintf(err, errsize,
			 "%s: [cluster] address: missing (required)", path);
		return -1;
	}
	if (c->log_dir[0] != '\0' && same_dir(c->log_dir, c->data_dir)) {
		snprintf(err, errsize,
			 "%s:%d: [node] log_dir: must not be data_dir (/LOG "
			 "would reach the raft log and the spool)",
			 path, seen_line(seen, "node", "log_dir"));
		return -1;
	}
	if (c->group[0] != '\0' && c->user[0] == '\0') {
		snprintf(err, errsize, "%s:%d: [node] group: needs [node] user",
			 path, seen_line(seen, "node", "group"));
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
		int hb = seen_line(seen, "cluster", "heartbeat_timeout_ms");
		int el = seen_line(seen, "cluster", "election_timeout_ms");
		snprintf(err, errsize,
			 "%s:%d: [cluster] %s: heartbeat_timeout_ms (%u) must "
			 "be less than election_timeout_ms (%u)",
			 path, hb ? hb : el,
			 hb ? "heartbeat_timeout_ms" : "election_timeout_ms",
			 c->heartbeat_timeout_ms, c->election_timeout_ms);
		return -1;
	}
	if (c->bootstrap && c->npeers > 0) {
		snprintf(err, errsize,
			 "%s: [cluster] bootstrap: cannot be combined with "
			 "peer (a static member list)",
			 path);
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
				 path, (unsigned long long)c->id,
				 c->peers[i].address, c->cluster_address);
			return -1;
		}
	}
	if (c->npeers > 0 && !self) {
		snprintf(err, errsize,
			 "%s: [cluster] peer: this node (id %llu) is not in "
			 "the peer list",
			 path, (unsigned long long)c->id);
		return -1;
	}
	if (c->control_socket[0] == '\0') {
		int n = snprintf(c->control_socket, sizeof(c->control_socket),
				 "%s/control.sock", c->data_dir);
		if (n < 0 || (size_t)n >= sizeof(c->control_socket)) {
			snprintf(err, errsize,
				 "%s: [node] data_dir: too long for the "
				 "default control socket path",
				 path);
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
				 path);
			return -1;
		}
	}
	if (c->receive_log[0] == '\0') {
		int n = snprintf(c->receive_log, sizeof(c->receive_log),
				 "%s/receive.log", c->data_dir);
		if (n < 0 || (size_t)n >= sizeof(c->receive_log)) {
			snprintf(err, errsize,
				 "%s: [node] data_dir: too long for the "
				 "default receive log path",
				 path);
			return -1;
		}
	}
	if (strcmp(c->dlv_backend, "lmtp") == 0 && c->dlv_lmtp[0] == '\0') {
		snprintf(err, errsize,
			 "%s:%d: [delivery] backend: lmtp needs [delivery] "
			 "lmtp = HOST:PORT or unix:/path",
			 path, seen_line(seen, "delivery", "backend"));
		return -1;
	}
	if ((c->smtp_tls_cert[0] == '\0') != (c->smtp_tls_key[0] == '\0')) {
		snprintf(
		    err, errsize,
		    "%s: [smtp] tls_cert: tls_cert and tls_key must be set "
		    "together",
		    path);
		return -1;
	}
	{
		int n = (c->cluster_tls_ca[0] != '\0') +
			(c->cluster_tls_cert[0] != '\0') +
			(c->cluster_tls_key[0] != '\0');

		if (n != 0 && n != 3) {
			snprintf(err, errsize,
				 "%s: [cluster] tls_ca: tls_ca, tls_cert and "
				 "tls_key must be set together",
				 path);
			return -1;
		}
		if (n == 3 && c->cluster_insecure_plaintext) {
			snprintf(
			    err, errsize,
			    "%s:%d: [cluster] insecure_plaintext: true "
			    "with tls_ca, tls_cert and tls_key set; "
			    "choose one",
			    path,
			    seen_line(seen, "cluster", "insecure_plaintext"));
			return -1;
		}
		if (n == 0 && !c->cluster_insecure_plaintext) {
			snprintf(err, errsize,
				 "%s: [cluster] tls_ca, tls_cert and tls_key "
				 "are required (mutual TLS on the cluster "
				 "ports; deploy/cluster-ca.sh makes them), or "
				 "insecure_plaintext = true for a test setup",
				 path);
			return -1;
		}
	}
	if ((c->sub_listen[0] != '\0' || c->sub_tls_listen[0] != '\0') &&
	    c->smtp_tls_cert[0] == '\0') {
		snprintf(err, errsize,
			 "%s:%d: [submission] %s: submission needs [smtp] "
			 "tls_cert and tls_key (AUTH is offered only under "
			 "TLS)",
			 path,
			 seen_line(seen, "submission",
				   c->sub_listen[0] ? "listen" : "tls_listen"),
			 c->sub_listen[0] ? "listen" : "tls_listen");
		return -1;
	}
	if (strlen(c->control_socket) >= sizeof(sun.sun_path)) {
		snprintf(
		    err, errsize,
		    "%s: [control] socket: \"%.120s\" is longer than a Unix "
		    "socket path may be (%zu bytes)",
		    path, c->control_socket, sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
}
