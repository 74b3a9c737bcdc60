/*
 * nodeconf.h — the node's own configuration file (INI, read with libinih).
 *
 *   [node]     id = 1               (required, 1..2^63)
 *              name = NODE1         (the seed's SCSNODE; [A-Za-z0-9_-], <= 64)
 *              data_dir = run/node1 (raft log, snapshots, LMDB)
 *              domain = node1.cluster.test (the node's own mail domain)
 *              min_free_mb = 128    (disk reserve under data_dir: below it
 *                                    new mail gets 452 4.3.1; 0 = none)
 *              user = (empty: no change)  (started as root: become this
 *                                    user, keep CAP_NET_BIND_SERVICE only;
 *                                    src/base/privdrop.h)
 *              group = (empty: the user's own group)
 *              log_dir = (empty: SET CONFIGURATION SMTP /LOG refused)
 *              receive_log = data_dir/receive.log (seed's
 *                           TCPIP$SMTP_RECV_RUN.LOG; "none" = no log)
 *                                   (the one directory /LOG files may be
 *                                    in, src/base/logdir.h; not data_dir)
 *   [smtp]     listen = 127.0.0.1:2525
 *              tls_cert = (empty: no STARTTLS)   PEM certificate chain
 *              tls_key = (empty)                 PEM private key
 *              trusted = 127.0.0.1/32    (CIDRs allowed to relay, "none")
 *              max_sessions = 100        (concurrent sessions per node)
 *              max_per_ip = 20           (concurrent sessions per client)
 *              reply_timeout_ms = 30000  (wait for the quorum before 451)
 *              aliases_file = (empty)    (node-local alias file, seed 18.3)
 *   [submission] listen = (empty: none)  HOST:PORT, STARTTLS then AUTH (587)
 *              tls_listen = (empty: none) HOST:PORT, implicit TLS (465)
 *                          (both use [smtp] tls_cert and tls_key)
 *              sasldb = (empty: SASL's smtpcluster.conf) sasldb2 file
 *              realm = (empty: the node's domain)  SASL user realm
 *              sender_logins = (empty: no map)  who may use which MAIL
 *                          FROM (src/smtpd/smtp_senderlogin.h; SIGHUP)
 *   [delivery] enabled = true            (false: no symbiont on this node)
 *              backend = maildir         (maildir|lmtp: local delivery)
 *              mail_root = (empty: local delivery disabled, local
 *                           recipients deferred)   <root>/<user>/new ...
 *              lmtp = (empty)            (HOST:PORT or unix:/path)
 *              dns_servers = (empty: resolv.conf)  IP:PORT,IP:PORT
 *              helo = (node domain)      (EHLO name for remote delivery)
 *              max_per_host = 10         (connections per destination)
 *              smtp_port = 25            (port of remote MX hosts)
 *              tls_ca_file = (empty: the system CA store)  PEM CAs the
 *                           TLS policy verify checks certificates with
 *              lease_ms = 7000           (claim lease, renewed every half)
 *              grace_ms = 2000           (take any due file after this)
 *              scan_interval_ms = 500    (due scan period)
 *              claim_batch = 16          (names in one CLAIM at most)
 *              activity_log = data_dir/activity.log (seed's
 *                           TCPIP$SMTP_LOGFILE; "none" = no log)
 *   [cluster]  address = 127.0.0.1:7001  (raft transport; forwarding
 *                                          listens on the same host, port+1)
 *              bootstrap = false         (one-node cluster on first start)
 *              peer = 1 127.0.0.1:7001   (repeatable: static initial members,
 *                                          identical on every node)
 *              election_timeout_ms = 1000
 *              heartbeat_timeout_ms = 100
 *              snapshot_threshold = 256
 *              snapshot_trailing = 128
 *              propose_timeout_ms = 10000
 *              max_frame = 33554432
 *              tls_ca = (required)       PEM: the cluster CA
 *              tls_cert = (required)     PEM: this node's certificate,
 *                                          subject CN=node-<id>
 *              tls_key = (required)      PEM: its key
 *              insecure_plaintext = false (true: no TLS on the raft and
 *                                          forwarding ports, only without
 *                                          the three keys; logged loudly)
 *   [control]  socket = run/node1/control.sock
 *              admin_group = smtpadm
 *              idle_timeout_s = 300   (a connection with no request and no
 *                                      bytes that long is closed; 0 = never)
 *              max_per_user = 16      (connections of one non-root uid)
 *   [metrics]  listen = (empty: no endpoint)  HOST:PORT of the Prometheus
 *                                    text endpoint (GET /metrics)
 *   [log]      level = info              (debug|info|warn|error)
 *              file = (empty: stderr)
 *
 * The service override: after the file, nodeconf_load() reads
 * <data_dir>/service.conf when it exists. It may hold only the [smtp] keys
 * SET SERVICE SMTP changes (listen, tls_cert, tls_key, trusted,
 * max_sessions, max_per_ip); each one there wins over node.conf. smtpctl
 * set service smtp writes it (nodeconf_override_write, atomically); it is
 * node-local, never replicated. Delete a line (or the file) to go back to
 * node.conf's value.
 *
 * Errors name the file, line and key: "node.conf:7: [cluster] peer: ...".
 * Ownership: strings are fixed arrays inside the struct.
 */
#ifndef SRC_NODECONF_H
#define SRC_NODECONF_H

#include <stddef.h>
#include <stdint.h>

#define NODECONF_PEERS_MAX 16
#define NODECONF_STR 256

struct nodeconf_peer {
	uint64_t id;
	char address[NODECONF_STR]; /* HOST:PORT of its raft transport */
};

struct nodeconf {
	char path[NODECONF_STR];
	uint64_t id;
	char name[65];
	char data_dir[NODECONF_STR];
	uint64_t min_free_mb;	    /* disk reserve under data_dir, MiB */
	char log_dir[NODECONF_STR]; /* where /LOG files may be ("" = none) */
	char user[64];		    /* run as this user ("" = as started) */
	char group[64];		    /* its group ("" = the user's own) */
	char domain[NODECONF_STR];
	char smtp_listen[NODECONF_STR];
	char smtp_tls_cert[NODECONF_STR];
	char smtp_tls_key[NODECONF_STR];
	char smtp_trusted[NODECONF_STR];
	unsigned smtp_max_sessions;
	unsigned smtp_max_per_ip;
	unsigned smtp_reply_timeout_ms;
	unsigned smtp_override; /* NODECONF_OV_* set by service.conf */
	char smtp_aliases_file[NODECONF_STR];
	char sub_listen[NODECONF_STR];	   /* [submission] listen, "" = none */
	char sub_tls_listen[NODECONF_STR]; /* [submission] tls_listen */
	char sub_sasldb[NODECONF_STR];	   /* "" = SASL's own configuration */
	char sub_realm[NODECONF_STR];	   /* "" = the node's domain */
	char
	    sub_sender_logins[NODECONF_STR]; /* the sender-login map, "" none */
	int dlv_enabled;
	char dlv_backend[16]; /* "maildir" or "lmtp" */
	char dlv_mail_root[NODECONF_STR];
	char dlv_lmtp[NODECONF_STR];
	char dlv_dns_servers[NODECONF_STR];
	char dlv_helo[NODECONF_STR];
	unsigned dlv_max_per_host;
	unsigned dlv_smtp_port;
	char dlv_tls_ca_file[NODECONF_STR];
	unsigned dlv_lease_ms;
	unsigned dlv_grace_ms;
	unsigned dlv_scan_interval_ms;
	unsigned dlv_claim_batch;
	char dlv_activity_log[NODECONF_STR];
	char receive_log[NODECONF_STR];	   /* "" until defaulted, "none" */
	char metrics_listen[NODECONF_STR]; /* HOST:PORT, "" = no endpoint */
	char cluster_address[NODECONF_STR];
	int bootstrap;
	unsigned npeers;
	struct nodeconf_peer peers[NODECONF_PEERS_MAX];
	unsigned election_timeout_ms;
	unsigned heartbeat_timeout_ms;
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	unsigned propose_timeout_ms;
	uint64_t max_frame;
	char cluster_tls_ca[NODECONF_STR];   /* the cluster CA (PEM) */
	char cluster_tls_cert[NODECONF_STR]; /* this node's, CN=node-<id> */
	char cluster_tls_key[NODECONF_STR];
	int cluster_insecure_plaintext; /* no TLS on the cluster ports */
	char control_socket[NODECONF_STR];
	char admin_group[64];
	unsigned ctl_idle_timeout_s; /* [control] idle_timeout_s, 0 = none */
	unsigned ctl_max_per_user;   /* [control] max_per_user */
	char log_level[16];
	char log_file[NODECONF_STR];
};

/* Defaults for every field (id 0 = not set). */
void nodeconf_defaults(struct nodeconf *c);

/* Load path into c (after defaults). 0, or -1 with a message "FILE:LINE:
 * [section] key: reason" in err. */
int nodeconf_load(struct nodeconf *c, const char *path, char *err,
		  unsigned errsize);

/* The keys of the service override (service.conf), as bits. */
#define NODECONF_OV_LISTEN 0x01u       /* [smtp] listen */
#define NODECONF_OV_TLS_CERT 0x02u     /* [smtp] tls_cert */
#define NODECONF_OV_TLS_KEY 0x04u      /* [smtp] tls_key */
#define NODECONF_OV_TRUSTED 0x08u      /* [smtp] trusted */
#define NODECONF_OV_MAX_SESSIONS 0x10u /* [smtp] max_sessions */
#define NODECONF_OV_MAX_PER_IP 0x20u   /* [smtp] max_per_ip */

/* The override file's path, <data_dir>/service.conf, into buf. 0, or -1
 * when it does not fit. */
int nodeconf_override_path(const struct nodeconf *c, char *buf, size_t size);

/* Set the override key of bit (one NODECONF_OV_*) in c from its text
 * value, checked as node.conf checks it (a number for max_sessions). 0, or
 * -1 with the reason in why ("[smtp] listen: ..."); c is left as it was. */
int nodeconf_override_set(struct nodeconf *c, unsigned bit, const char *value,
			  char *why, size_t whysize);

/* The node.conf name of the key of bit ("listen"), or NULL. */
const char *nodeconf_override_key(unsigned bit);

/* Copy the values of the keys of mask, and mask itself into
 * smtp_override, from src to dst. */
void nodeconf_override_copy(struct nodeconf *dst, const struct nodeconf *src,
			    unsigned mask);

/* Write the keys of mask, with c's values, to <data_dir>/service.conf:
 * a temporary file in data_dir, fsync, rename over the old one, fsync of
 * the directory. A value too long for a line is refused before anything
 * is written. 0, or -1 with a message in err (the old file is kept). */
int nodeconf_override_write(const struct nodeconf *c, unsigned mask, char *err,
			    size_t errsize);

/* Split "HOST:PORT" ("[v6]:PORT" too). 0 or -1. */
int nodeconf_split_addr(const char *addr, char *host, unsigned hostsize,
			int *port);

#endif
