/*
 * test_nodeconf.c — the node config file (src/base/nodeconf.c): good files load
 * with their defaults, and every kind of mistake is refused with a message
 * naming the file, the line and the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/base/nodeconf.h"

static char tmpdir[64];
static char conf_path[128];

/* Write text to the test's config file. */
static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load text; return the result and leave the message in err. */
static int load_text(const char *text, struct nodeconf *c, char *err,
		     unsigned errsize)
{
	write_conf(text);
	nodeconf_defaults(c);
	err[0] = '\0';
	return nodeconf_load(c, conf_path, err, errsize);
}

/* Assert text is refused with a message starting "FILE:LINE: [sect] key:". */
static void assert_refused(const char *text, int line, const char *sect_key)
{
	struct nodeconf c;
	char err[512], want[300];

	assert_int_equal(load_text(text, &c, err, sizeof(err)), -1);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line,
			 sect_key);
	else
		snprintf(want, sizeof(want), "%s: %s", conf_path, sect_key);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
}

static const char *const good = "; node 2 of a static three-node cluster\n"
				"[node]\n"
				"id = 2\n"
				"name = NODE2\n"
				"data_dir = /var/lib/smtpcluster\n"
				"domain = node2.cluster.test\n"
				"\n"
				"[smtp]\n"
				"listen = 127.0.0.2:2525\n"
				"tls_cert = /etc/smtp/cert.pem\n"
				"tls_key = /etc/smtp/key.pem\n"
				"trusted = 127.0.0.0/8, 10.0.0.0/8\n"
				"max_sessions = 50\n"
				"max_per_ip = 5\n"
				"reply_timeout_ms = 15000\n"
				"aliases_file = /etc/smtp/aliases.txt\n"
				"[delivery]\n"
				"enabled = true\n"
				"backend = lmtp\n"
				"mail_root = /var/mail\n"
				"lmtp = unix:/run/dovecot/lmtp\n"
				"dns_servers = 127.0.0.1:5353,127.0.0.2\n"
				"helo = mx.cluster.test\n"
				"max_per_host = 3\n"
				"smtp_port = 2526\n"
				"lease_ms = 3000\n"
				"grace_ms = 2000\n"
				"scan_interval_ms = 100\n"
				"claim_batch = 8\n"
				"activity_log = /var/log/smtp-activity.log\n"
				"[cluster]\n"
				"address = 127.0.0.2:7001\n"
				"peer = 1 127.0.0.1:7001\n"
				"peer = 2 127.0.0.2:7001\n"
				"peer = 3 127.0.0.3:7001\n"
				"election_timeout_ms = 2000\n"
				"heartbeat_timeout_ms = 200\n"
				"snapshot_threshold = 1024\n"
				"snapshot_trailing = 2048\n"
				"propose_timeout_ms = 5000\n"
				"max_frame = 1048576\n"
				"tls_ca = /etc/smtpcluster/ca.pem\n"
				"tls_cert = /etc/smtpcluster/node-2.pem\n"
				"tls_key = /etc/smtpcluster/node-2.key\n"
				"[control]\n"
				"socket = /run/smtpcluster/control.sock\n"
				"admin_group = mailadm\n"
				"[log]\n"
				"level = debug\n"
				"file = /var/log/smtpclusterd.log\n";

static void test_good_config_sets_every_key(void **state)
{
	struct nodeconf c;
	char err[512];

	assert_int_equal(load_text(good, &c, err, sizeof(err)), 0);
	assert_string_equal(c.path, conf_path);
	assert_int_equal(c.id, 2);
	assert_string_equal(c.name, "NODE2");
	assert_string_equal(c.data_dir, "/var/lib/smtpcluster");
	assert_string_equal(c.domain, "node2.cluster.test");
	assert_string_equal(c.smtp_listen, "127.0.0.2:2525");
	assert_string_equal(c.cluster_address, "127.0.0.2:7001");
	assert_int_equal(c.bootstrap, 0);
	assert_int_equal(c.npeers, 3);
	assert_int_equal(c.peers[0].id, 1);
	assert_string_equal(c.peers[0].address, "127.0.0.1:7001");
	assert_int_equal(c.peers[2].id, 3);
	assert_string_equal(c.peers[2].address, "127.0.0.3:7001");
	assert_int_equal(c.election_timeout_ms, 2000);
	assert_int_equal(c.heartbeat_timeout_ms, 200);
	assert_int_equal(c.snapshot_threshold, 1024);
	assert_int_equal(c.snapshot_trailing, 2048);
	assert_int_equal(c.propose_timeout_ms, 5000);
	assert_int_equal(c.max_frame, 1048576);
	assert_string_equal(c.control_socket, "/run/smtpcluster/control.sock");
	assert_string_equal(c.admin_group, "mailadm");
	assert_string_equal(c.log_level, "debug");
	assert_string_equal(c.log_file, "/var/log/smtpclusterd.log");
	assert_string_equal(c.smtp_tls_cert, "/etc/smtp/cert.pem");
	assert_string_equal(c.smtp_tls_key, "/etc/smtp/key.pem");
	assert_string_equal(c.smtp_trusted, "127.0.0.0/8, 10.0.0.0/8");
	assert_int_equal(c.smtp_max_sessions, 50);
	assert_int_equal(c.smtp_max_per_ip, 5);
	assert_int_equal(c.smtp_reply_timeout_ms, 15000);
	assert_string_equal(c.smtp_aliases_file, "/etc/smtp/aliases.txt");
	assert_int_equal(c.dlv_enabled, 1);
	assert_string_equal(c.dlv_backend, "lmtp");
	assert_string_equal(c.dlv_mail_root, "/var/mail");
	assert_string_equal(c.dlv_lmtp, "unix:/run/dovecot/lmtp");
	assert_string_equal(c.dlv_dns_servers, "127.0.0.1:5353,127.0.0.2");
	assert_string_equal(c.dlv_helo, "mx.cluster.test");
	assert_int_equal(c.dlv_max_per_host, 3);
	assert_int_equal(c.dlv_smtp_port, 2526);
	assert_int_equal(c.dlv_lease_ms, 3000);
	assert_int_equal(c.dlv_grace_ms, 2000);
	assert_int_equal(c.dlv_scan_interval_ms, 100);
	assert_int_equal(c.dlv_claim_batch, 8);
	assert_string_equal(c.dlv_activity_log, "/var/log/smtp-activity.log");
}

static void test_absent_keys_take_their_defaults(void **state)
{
	struct nodeconf c;
	char err[512];

	assert_int_equal(
	    load_text("[node]\nid = 7\ndata_dir = d7\n"
		      "[cluster]\naddress = 127.0.0.1:7001\n"
		      "bootstrap = yes\ninsecure_plaintext = yes\n",
		      &c, err, sizeof(err)),
	    0);
	assert_int_equal(c.bootstrap, 1);
	assert_int_equal(c.npeers, 0);
	assert_string_equal(c.name, "NODE7");
	assert_string_equal(c.smtp_listen, "127.0.0.1:2525");
	assert_int_equal(c.election_timeout_ms, 1000);
	assert_int_equal(c.heartbeat_timeout_ms, 100);
	assert_int_equal(c.snapshot_threshold, 256);
	assert_int_equal(c.snapshot_trailing, 128);
	assert_int_equal(c.propose_timeout_ms, 10000);
	assert_int_equal(c.max_frame, 32u * 1024 * 1024 + 64 * 1024);
	assert_string_equal(c.control_socket, "d7/control.sock");
	assert_string_equal(c.admin_group, "smtpadm");
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.log_file, "");
	assert_true(c.domain[0] != '\0');
	assert_string_equal(c.smtp_tls_cert, "");
	assert_string_equal(c.smtp_trusted, "127.0.0.1/32");
	assert_int_equal(c.smtp_max_sessions, 100);
	assert_int_equal(c.smtp_max_per_ip, 20);
	assert_int_equal(c.smtp_reply_timeout_ms, 30000);
	assert_string_equal(c.smtp_aliases_file, "");
	assert_int_equal(c.dlv_enabled, 1);
	assert_string_equal(c.dlv_backend, "maildir");
	assert_string_equal(c.dlv_mail_root, "");
	assert_string_equal(c.dlv_dns_servers, "");
	assert_string_equal(c.dlv_helo, c.domain);
	assert_int_equal(c.dlv_max_per_host, 10);
	assert_int_equal(c.dlv_smtp_port, 25);
	assert_int_equal(c.dlv_lease_ms, 7000);
	assert_int_equal(c.dlv_grace_ms, 2000);
	assert_int_equal(c.dlv_scan_interval_ms, 500);
	assert_int_equal(c.dlv_claim_batch, 16);
	assert_string_equal(c.dlv_activity_log, "d7/activity.log");
	assert_string_equal(c.receive_log, "d7/receive.log");
	assert_string_equal(c.metrics_listen, "");
}

static void test_metrics_and_receive_log_keys(void **state)
{
	struct nodeconf c;
	char err[512];

	(void)state;
	assert_int_equal(
	    load_text("[node]\nid = 1\ndata_dir = d\nreceive_log = none\n"
		      "[cluster]\naddress = 127.0.0.1:7001\n"
		      "insecure_plaintext = yes\n"
		      "[metrics]\nlisten = 127.0.0.1:9100\n",
		      &c, err, sizeof(err)),
	    0);
	assert_string_equal(c.receive_log, "none");
	assert_string_equal(c.metrics_listen, "127.0.0.1:9100");
	assert_refused("[node]\nid = 1\n[metrics]\nlisten = 9100\n", 4,
		       "[metrics] listen:");
	assert_refused("[node]\nid = 1\n[metrics]\nport = 9100\n", 4,
		       "[metrics] port:");
}

#define MINIMAL                                                                \
	"[node]\nid = 1\ndata_dir = d\n[cluster]\naddress = 127.0.0.1:7001\n"

static void test_unknown_delivery_backend_is_refused(void **state)
{
	assert_refused(MINIMAL "[delivery]\nbackend = mbox\n", 7,
		       "[delivery] backend:");
}

static void test_lmtp_backend_needs_an_lmtp_address(void **state)
{
	assert_refused(MINIMAL "[delivery]\nbackend = lmtp\n", 7,
		       "[delivery] backend:");
	assert_refused(MINIMAL "[delivery]\nlmtp = nowhere\n", 7,
		       "[delivery] lmtp:");
}

static void test_tls_cert_without_key_is_refused(void **state)
{
	assert_refused(MINIMAL "[smtp]\ntls_cert = /c.pem\n", 0,
		       "[smtp] tls_cert:");
}

static void test_submission_keys(void **state)
{
	struct nodeconf c;
	char err[512];

	assert_int_equal(
	    load_text(MINIMAL "insecure_plaintext = yes\n"
			      "[smtp]\ntls_cert = /c.pem\ntls_key = /k.pem\n"
			      "[submission]\nlisten = 127.0.0.1:587\n"
			      "tls_listen = 127.0.0.1:465\n"
			      "sasldb = /etc/sasldb2\nrealm = example.org\n",
		      &c, err, sizeof(err)),
	    0);
	assert_string_equal(c.sub_listen, "127.0.0.1:587");
	assert_string_equal(c.sub_tls_listen, "127.0.0.1:465");
	assert_string_equal(c.sub_sasldb, "/etc/sasldb2");
	assert_string_equal(c.sub_realm, "example.org");
	assert_int_equal(load_text(MINIMAL "insecure_plaintext = yes\n", &c,
				   err, sizeof(err)),
			 0);
	assert_string_equal(c.sub_listen, "");
	assert_string_equal(c.sub_tls_listen, "");
	/* AUTH only under TLS: no certificate, no submission */
	assert_refused(MINIMAL "insecure_plaintext = yes\n"
			       "[submission]\nlisten = 127.0.0.1:587\n",
		       8,
		       "[submission] listen: submission needs [smtp] tls_cert");
	assert_refused(MINIMAL "insecure_plaintext = yes\n"
			       "[submission]\ntls_listen = 127.0.0.1:465\n",
		       8, "[submission] tls_listen:");
	assert_refused(MINIMAL "[submission]\nlisten = 587\n", 7,
		       "[submission] listen:");
}

static void test_bad_trusted_networks_are_refused(void **state)
{
	assert_refused(MINIMAL "[smtp]\ntrusted = everyone\n", 7,
		       "[smtp] trusted:");
	assert_refused(MINIMAL "[smtp]\ntrusted =\n", 7, "[smtp] trusted:");
}

static void test_lease_and_batch_out_of_range_are_refused(void **state)
{
	assert_refused(MINIMAL "[delivery]\nlease_ms = 10\n", 7,
		       "[delivery] lease_ms:");
	assert_refused(MINIMAL "[delivery]\nclaim_batch = 0\n", 7,
		       "[delivery] claim_batch:");
	assert_refused(MINIMAL "[delivery]\nsmtp_port = 70000\n", 7,
		       "[delivery] smtp_port:");
}

static void test_comments_and_indented_lines_are_accepted(void **state)
{
	struct nodeconf c;
	char err[512];

	assert_int_equal(load_text("# comment\n"
				   "[node]\n"
				   "   id = 3   ; inline comment\n"
				   "\tdata_dir = d3\n"
				   "[cluster]\n"
				   "  address = [::1]:7001\n"
				   "  insecure_plaintext = true\n",
				   &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.id, 3);
	assert_string_equal(c.data_dir, "d3");
	assert_string_equal(c.cluster_address, "[::1]:7001");
}

static void test_unknown_section_names_its_line(void **state)
{
	assert_refused("[node]\nid = 1\n[clsuter]\naddress = x:1\n", 3,
		       "[clsuter]: unknown section");
}

static void test_unknown_empty_section_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\ndata_dir = d\n[extra]\n", 4,
		       "[extra]: unknown section");
}

static void test_unknown_key_names_line_and_key(void **state)
{
	assert_refused("[node]\nid = 1\ndata_dri = d\n", 3,
		       "[node] data_dri: unknown key");
}

static void test_key_outside_section_is_refused(void **state)
{
	assert_refused("id = 1\n", 1, "[] id:");
}

static void test_bad_number_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\ndata_dir = d\n[cluster]\n"
		       "election_timeout_ms = 10x\n",
		       5, "[cluster] election_timeout_ms: not a number");
}

static void test_negative_number_is_refused(void **state)
{
	assert_refused("[node]\nid = -1\n", 2, "[node] id: not a number");
}

static void test_number_out_of_range_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\n[cluster]\nmax_frame = 1000\n", 4,
		       "[cluster] max_frame: 1000 is out of range");
	assert_refused("[node]\nid = 99999999999999999999999\n", 2,
		       "[node] id: not a number");
	/* libraft takes a trailing of 0 for an install: the whole log */
	assert_refused("[node]\nid = 1\n[cluster]\nsnapshot_trailing = 0\n", 4,
		       "[cluster] snapshot_trailing: 0 is out of range");
}

static void test_id_zero_is_refused(void **state)
{
	assert_refused("[node]\nid = 0\n", 2, "[node] id: 0 is out of range");
}

static void test_missing_id_is_refused(void **state)
{
	assert_refused("[node]\ndata_dir = d\n[cluster]\naddress = h:1\n", 0,
		       "[node] id: missing");
}

static void test_missing_data_dir_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\n[cluster]\naddress = h:1\n", 0,
		       "[node] data_dir: missing");
}

static void test_missing_cluster_address_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\ndata_dir = d\n", 0,
		       "[cluster] address: missing");
}

static void test_bad_host_port_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\n[smtp]\nlisten = 127.0.0.1\n", 4,
		       "[smtp] listen: \"127.0.0.1\" is not HOST:PORT");
	assert_refused("[node]\nid = 1\n[smtp]\nlisten = 127.0.0.1:0\n", 4,
		       "[smtp] listen:");
	assert_refused("[node]\nid = 1\n[smtp]\nlisten = h:65536\n", 4,
		       "[smtp] listen:");
	assert_refused("[node]\nid = 1\n[cluster]\naddress = ::1:7001\n", 4,
		       "[cluster] address:");
	assert_refused("[node]\nid = 1\n[cluster]\naddress = a b:7001\n", 4,
		       "[cluster] address:");
}

static void test_bad_node_name_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\nname = node.one\n", 3,
		       "[node] name: \"node.one\" is not a node name");
	assert_refused("[node]\nid = 1\nname = "
		       "A123456789012345678901234567890123456789012345678901234"
		       "5678901234\n",
		       3, "[node] name:");
}

static void test_bad_boolean_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\n[cluster]\nbootstrap = maybe\n", 4,
		       "[cluster] bootstrap: \"maybe\" is not a boolean");
}

static void test_bad_log_level_is_refused(void **state)
{
	assert_refused("[log]\nlevel = loud\n", 2, "[log] level:");
}

static void test_malformed_peer_is_refused(void **state)
{
	assert_refused("[cluster]\npeer = 127.0.0.1:7001\n", 2,
		       "[cluster] peer: expected \"ID HOST:PORT\"");
	assert_refused("[cluster]\npeer = 0 127.0.0.1:7001\n", 2,
		       "[cluster] peer: 0 is out of range");
	assert_refused("[cluster]\npeer = 1 nowhere\n", 2, "[cluster] peer:");
}

static void test_more_than_max_peers_is_refused(void **state)
{
	char text[4096];
	size_t off;

	off = (size_t)snprintf(text, sizeof(text), "[cluster]\n");
	for (int i = 1; i <= NODECONF_PEERS_MAX + 1; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"peer = %d 127.0.1.%d:7001\n", i, i);
	/* the 17th peer is on line 18 */
	assert_refused(text, NODECONF_PEERS_MAX + 2,
		       "[cluster] peer: more than 16 peers");
}

static void test_duplicate_peer_id_is_refused(void **state)
{
	assert_refused("[cluster]\npeer = 1 127.0.0.1:7001\n"
		       "peer = 2 127.0.0.2:7001\npeer = 1 127.0.0.3:7001\n",
		       4, "[cluster] peer: duplicate peer id 1");
}

static void test_duplicate_peer_address_is_refused(void **state)
{
	assert_refused("[cluster]\npeer = 1 127.0.0.1:7001\n"
		       "peer = 2 127.0.0.1:7001\n",
		       3, "[cluster] peer: duplicate peer address");
}

static void test_key_set_twice_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\n\nid = 2\n", 4,
		       "[node] id: set twice (first at line 2)");
}

static void test_syntax_error_names_its_line(void **state)
{
	assert_refused("[node]\nid = 1\nthis line has no equals sign\n", 3,
		       "syntax error");
}

static void test_overlong_line_is_refused(void **state)
{
	char text[600];

	snprintf(text, sizeof(text), "[node]\nid = 1\ndata_dir = %0300d\n", 0);
	assert_refused(text, 3, "line longer than");
}

static void test_node_missing_from_its_peer_list_is_refused(void **state)
{
	assert_refused("[node]\nid = 4\ndata_dir = d\n[cluster]\n"
		       "address = 127.0.0.4:7001\n"
		       "peer = 1 127.0.0.1:7001\npeer = 2 127.0.0.2:7001\n",
		       0, "[cluster] peer: this node (id 4) is not in");
}

static void test_own_peer_address_must_match_cluster_address(void **state)
{
	assert_refused("[node]\nid = 1\ndata_dir = d\n[cluster]\n"
		       "address = 127.0.0.1:7001\n"
		       "peer = 1 127.0.0.1:7999\n",
		       0, "[cluster] peer: this node (id 1) is listed at");
}

static void test_bootstrap_with_peers_is_refused(void **state)
{
	assert_refused("[node]\nid = 1\ndata_dir = d\n[cluster]\n"
		       "address = 127.0.0.1:7001\nbootstrap = true\n"
		       "peer = 1 127.0.0.1:7001\n",
		       0, "[cluster] bootstrap:");
}

static void test_heartbeat_not_below_election_is_refused(void **state)
{
	assert_refused(
	    "[node]\nid = 1\ndata_dir = d\n[cluster]\n"
	    "address = 127.0.0.1:7001\n"
	    "election_timeout_ms = 500\nheartbeat_timeout_ms = 500\n",
	    7, "[cluster] heartbeat_timeout_ms:");
}

#define TLSBASE "[node]\nid = 1\ndata_dir = d\n[cluster]\naddress = h:1\n"

/* The cluster ports run mutual TLS: all three files, or the explicit
 * insecure_plaintext test mode, never silently plaintext. */
static void test_cluster_tls_is_required(void **state)
{
	assert_refused(TLSBASE, 0,
		       "[cluster] tls_ca, tls_cert and tls_key "
		       "are required");
	assert_refused(TLSBASE "tls_ca = /ca.pem\ntls_cert = /n.pem\n", 0,
		       "[cluster] tls_ca: tls_ca, tls_cert and tls_key must "
		       "be set together");
	assert_refused(TLSBASE "tls_ca = /a\ntls_cert = /b\ntls_key = /c\n"
			       "insecure_plaintext = true\n",
		       9, "[cluster] insecure_plaintext:");
}

static void test_cluster_tls_keys_are_read(void **state)
{
	struct nodeconf c;
	char err[512];

	assert_int_equal(load_text(TLSBASE "tls_ca = /a\ntls_cert = /b\n"
					   "tls_key = /c\n",
				   &c, err, sizeof(err)),
			 0);
	assert_string_equal(c.cluster_tls_ca, "/a");
	assert_string_equal(c.cluster_tls_cert, "/b");
	assert_string_equal(c.cluster_tls_key, "/c");
	assert_int_equal(c.cluster_insecure_plaintext, 0);
}

static void test_overlong_socket_path_is_refused(void **state)
{
	char text[600];

	snprintf(text, sizeof(text),
		 "[node]\nid = 1\ndata_dir = d\n[cluster]\n"
		 "address = 127.0.0.1:7001\ninsecure_plaintext = true\n"
		 "[control]\nsocket = /%0150d\n",
		 0);
	assert_refused(text, 0, "[control] socket:");
}

static void test_missing_file_is_refused(void **state)
{
	struct nodeconf c;
	char err[512];

	nodeconf_defaults(&c);
	assert_int_equal(
	    nodeconf_load(&c, "/nonexistent/node.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/node.conf: cannot open"));
}

static void test_split_addr_accepts_ipv4_names_and_ipv6(void **state)
{
	char host[64];
	int port = 0;

	assert_int_equal(
	    nodeconf_split_addr("127.0.0.3:2525", host, sizeof(host), &port),
	    0);
	assert_string_equal(host, "127.0.0.3");
	assert_int_equal(port, 2525);
	assert_int_equal(
	    nodeconf_split_addr("mx.example.org:25", host, sizeof(host), &port),
	    0);
	assert_string_equal(host, "mx.example.org");
	assert_int_equal(
	    nodeconf_split_addr("[::1]:7001", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7001);
}

static void test_split_addr_refuses_bad_forms(void **state)
{
	char host[8];
	int port;

	assert_int_equal(
	    nodeconf_split_addr("nohost", host, sizeof(host), &port), -1);
	assert_int_equal(nodeconf_split_addr(":25", host, sizeof(host), &port),
			 -1);
	assert_int_equal(nodeconf_split_addr("h:", host, sizeof(host), &port),
			 -1);
	assert_int_equal(
	    nodeconf_split_addr("h:+25", host, sizeof(host), &port), -1);
	assert_int_equal(
	    nodeconf_split_addr("[::1]7001", host, sizeof(host), &port), -1);
	/* host does not fit the caller's buffer */
	assert_int_equal(
	    nodeconf_split_addr("longhostname:25", host, sizeof(host), &port),
	    -1);
}

/* ---- the service override, <data_dir>/service.conf (issue #14) ---- */

static char ov_path[160];

/* A conf whose data_dir is the test's directory, with [smtp] smtp. */
static void write_conf_in_tmpdir(const char *smtp)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[node]\nid = 1\ndata_dir = %s\n[smtp]\n%s"
		 "[cluster]\naddress = 127.0.0.1:7001\ninsecure_plaintext = "
		 "true\n",
		 tmpdir, smtp);
	write_conf(text);
	snprintf(ov_path, sizeof(ov_path), "%s/service.conf", tmpdir);
}

static void write_override(const char *text)
{
	FILE *f = fopen(ov_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int load_again(struct nodeconf *c, char *err, size_t errsize)
{
	nodeconf_defaults(c);
	err[0] = '\0';
	return nodeconf_load(c, conf_path, err, (unsigned)errsize);
}

static void test_override_file_wins_over_node_conf(void **state)
{
	struct nodeconf c;
	char err[512];

	write_conf_in_tmpdir("listen = 127.0.0.1:2525\nmax_sessions = 50\n");
	write_override("[smtp]\nlisten = 127.0.0.1:2600\nmax_per_ip = 3\n");
	assert_int_equal(load_again(&c, err, sizeof(err)), 0);
	assert_string_equal(c.smtp_listen, "127.0.0.1:2600");
	assert_int_equal(c.smtp_max_per_ip, 3);
	assert_int_equal(c.smtp_max_sessions, 50); /* node.conf's */
	assert_int_equal(c.smtp_override,
			 NODECONF_OV_LISTEN | NODECONF_OV_MAX_PER_IP);
	unlink(ov_path);
}

static void test_no_override_file_is_node_conf_alone(void **state)
{
	struct nodeconf c;
	char err[512];

	write_conf_in_tmpdir("listen = 127.0.0.1:2525\n");
	unlink(ov_path);
	assert_int_equal(load_again(&c, err, sizeof(err)), 0);
	assert_string_equal(c.smtp_listen, "127.0.0.1:2525");
	assert_int_equal(c.smtp_override, 0);
}

static void test_override_file_holds_only_service_keys(void **state)
{
	struct nodeconf c;
	char err[512], want[300];

	write_conf_in_tmpdir("");
	write_override("[smtp]\nmax_sessions = 5\n[node]\nid = 7\n");
	assert_int_equal(load_again(&c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: [node] id: not one of", ov_path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	write_override("[smtp]\nreply_timeout_ms = 500\n");
	assert_int_equal(load_again(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[smtp] reply_timeout_ms: not one of"));
	unlink(ov_path);
}

static void test_override_values_are_checked_like_node_conf(void **state)
{
	struct nodeconf c;
	char err[512], why[400];

	write_conf_in_tmpdir("");
	write_override("[smtp]\nmax_sessions = 0\n");
	assert_int_equal(load_again(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "service.conf:2: [smtp] max_sessions:"));
	unlink(ov_path);
	assert_int_equal(load_again(&c, err, sizeof(err)), 0);
	assert_int_equal(nodeconf_override_set(&c, NODECONF_OV_MAX_SESSIONS,
					       "0", why, sizeof(why)),
			 -1);
	assert_non_null(strstr(why, "[smtp] max_sessions: 0 is out of range"));
	assert_int_equal(c.smtp_max_sessions, 100); /* left as it was */
	assert_int_equal(nodeconf_override_set(&c, NODECONF_OV_LISTEN, "nohost",
					       why, sizeof(why)),
			 -1);
	assert_string_equal(c.smtp_listen, "127.0.0.1:2525");
}

static void test_override_write_round_trips_through_load(void **state)
{
	struct nodeconf c, back;
	char err[512], why[400], tmp[200];

	write_conf_in_tmpdir("listen = 127.0.0.1:2525\n");
	unlink(ov_path);
	assert_int_equal(load_again(&c, err, sizeof(err)), 0);
	assert_int_equal(nodeconf_override_set(&c, NODECONF_OV_LISTEN,
					       "[::1]:2700", why, sizeof(why)),
			 0);
	assert_int_equal(nodeconf_override_set(&c, NODECONF_OV_TRUSTED,
					       "10.0.0.0/8, 192.168.0.0/16",
					       why, sizeof(why)),
			 0);
	assert_int_equal(
	    nodeconf_override_write(
		&c, NODECONF_OV_LISTEN | NODECONF_OV_TRUSTED, err, sizeof(err)),
	    0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", ov_path);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
	assert_int_equal(load_again(&back, err, sizeof(err)), 0);
	assert_string_equal(back.smtp_listen, "[::1]:2700");
	assert_string_equal(back.smtp_trusted, "10.0.0.0/8, 192.168.0.0/16");
	assert_int_equal(back.smtp_override,
			 NODECONF_OV_LISTEN | NODECONF_OV_TRUSTED);
	unlink(ov_path);
}

static void test_override_write_refuses_a_line_too_long(void **state)
{
	struct nodeconf c, back;
	char err[512], why[400], longpath[240];

	write_conf_in_tmpdir("");
	write_override("[smtp]\nmax_sessions = 9\n");
	assert_int_equal(load_again(&c, err, sizeof(err)), 0);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(nodeconf_override_set(&c, NODECONF_OV_TLS_CERT,
					       longpath, why, sizeof(why)),
			 0);
	assert_int_equal(
	    nodeconf_override_write(&c, c.smtp_override | NODECONF_OV_TLS_CERT,
				    err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "too long for a line"));
	/* the old file is kept as it was */
	assert_int_equal(load_again(&back, err, sizeof(err)), 0);
	assert_int_equal(back.smtp_max_sessions, 9);
	assert_string_equal(back.smtp_tls_cert, "");
	unlink(ov_path);
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_nodeconf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/node.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	unlink(conf_path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_config_sets_every_key),
	    cmocka_unit_test(test_absent_keys_take_their_defaults),
	    cmocka_unit_test(test_metrics_and_receive_log_keys),
	    cmocka_unit_test(test_unknown_delivery_backend_is_refused),
	    cmocka_unit_test(test_lmtp_backend_needs_an_lmtp_address),
	    cmocka_unit_test(test_tls_cert_without_key_is_refused),
	    cmocka_unit_test(test_submission_keys),
	    cmocka_unit_test(test_bad_trusted_networks_are_refused),
	    cmocka_unit_test(test_lease_and_batch_out_of_range_are_refused),
	    cmocka_unit_test(test_comments_and_indented_lines_are_accepted),
	    cmocka_unit_test(test_unknown_section_names_its_line),
	    cmocka_unit_test(test_unknown_empty_section_is_refused),
	    cmocka_unit_test(test_unknown_key_names_line_and_key),
	    cmocka_unit_test(test_key_outside_section_is_refused),
	    cmocka_unit_test(test_bad_number_is_refused),
	    cmocka_unit_test(test_negative_number_is_refused),
	    cmocka_unit_test(test_number_out_of_range_is_refused),
	    cmocka_unit_test(test_id_zero_is_refused),
	    cmocka_unit_test(test_missing_id_is_refused),
	    cmocka_unit_test(test_missing_data_dir_is_refused),
	    cmocka_unit_test(test_missing_cluster_address_is_refused),
	    cmocka_unit_test(test_bad_host_port_is_refused),
	    cmocka_unit_test(test_bad_node_name_is_refused),
	    cmocka_unit_test(test_bad_boolean_is_refused),
	    cmocka_unit_test(test_bad_log_level_is_refused),
	    cmocka_unit_test(test_malformed_peer_is_refused),
	    cmocka_unit_test(test_more_than_max_peers_is_refused),
	    cmocka_unit_test(test_duplicate_peer_id_is_refused),
	    cmocka_unit_test(test_duplicate_peer_address_is_refused),
	    cmocka_unit_test(test_key_set_twice_is_refused),
	    cmocka_unit_test(test_syntax_error_names_its_line),
	    cmocka_unit_test(test_overlong_line_is_refused),
	    cmocka_unit_test(test_node_missing_from_its_peer_list_is_refused),
	    cmocka_unit_test(test_own_peer_address_must_match_cluster_address),
	    cmocka_unit_test(test_bootstrap_with_peers_is_refused),
	    cmocka_unit_test(test_heartbeat_not_below_election_is_refused),
	    cmocka_unit_test(test_overlong_socket_path_is_refused),
	    cmocka_unit_test(test_cluster_tls_is_required),
	    cmocka_unit_test(test_cluster_tls_keys_are_read),
	    cmocka_unit_test(test_missing_file_is_refused),
	    cmocka_unit_test(test_split_addr_accepts_ipv4_names_and_ipv6),
	    cmocka_unit_test(test_split_addr_refuses_bad_forms),
	    cmocka_unit_test(test_override_file_wins_over_node_conf),
	    cmocka_unit_test(test_no_override_file_is_node_conf_alone),
	    cmocka_unit_test(test_override_file_holds_only_service_keys),
	    cmocka_unit_test(test_override_values_are_checked_like_node_conf),
	    cmocka_unit_test(test_override_write_round_trips_through_load),
	    cmocka_unit_test(test_override_write_refuses_a_line_too_long),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
