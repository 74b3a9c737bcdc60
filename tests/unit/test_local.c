/*
 * test_local.c — unit tests of src/delivery/local.c: which domains are local, the
 * forward table (POSTMASTER's default forward, chains, loops, remote
 * targets, OpenVMS SMTP%"..." targets), the X-VMS-From: sender, Maildir
 * delivery into a temporary directory (headers, LF line ends, tmp/ left
 * empty, unknown users) and the LMTP address forms.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/err.h"
#include "src/delivery/local.h"
#include "tests/unit/spool_fixture.h"

/* ---- a fake forward table and alias table ---- */

struct fwd {
	const char *user, *target;
};

static struct fwd FWD[16];
static int NFWD;
static int ALIAS_FAIL;

static int fake_alias(void *arg, const char *domain)
{
	if (ALIAS_FAIL)
		return SPOOL_E_IO;
	return strcasecmp(domain, "alias.test") == 0;
}

static int fake_node_alias(void *arg, const char *domain)
{
	return strcasecmp(domain, "nodealias.test") == 0;
}

static int fake_forward(void *arg, const char *user, char *buf, size_t size)
{
	for (int i = 0; i < NFWD; i++)
		if (strcasecmp(FWD[i].user, user) == 0) {
			snprintf(buf, size, "%s", FWD[i].target);
			return 0;
		}
	return SPOOL_E_NOTFOUND;
}

static struct local_env ENV;

static int setup(void **state)
{
	NFWD = 0;
	ALIAS_FAIL = 0;
	memset(&ENV, 0, sizeof(ENV));
	ENV.node_domain = "node1.cluster.test";
	ENV.cluster_domain = "cluster.test";
	ENV.postmaster_alias = "";
	ENV.alias_has = fake_alias;
	ENV.node_alias_has = fake_node_alias;
	ENV.forward_get = fake_forward;
	return 0;
}

static void fwd(const char *user, const char *target)
{
	FWD[NFWD].user = user;
	FWD[NFWD].target = target;
	NFWD++;
}

/* ---- local domains ---- */

static int fake_node_domain(void *arg, const char *domain)
{
	return strcasecmp(domain, "node2.cluster.test") == 0;
}

static void test_local_domains(void **state)
{
	assert_int_equal(local_domain_is_local(&ENV, "node1.cluster.test"), 1);
	assert_int_equal(local_domain_is_local(&ENV, "CLUSTER.test."), 1);
	assert_int_equal(local_domain_is_local(&ENV, "alias.test"), 1);
	assert_int_equal(local_domain_is_local(&ENV, "nodealias.test"), 1);
	assert_int_equal(local_domain_is_local(&ENV, ""), 1);
	assert_int_equal(local_domain_is_local(&ENV, "example.org"), 0);
	assert_int_equal(local_domain_is_local(&ENV, "x.cluster.test"), 0);
	assert_int_equal(local_domain_is_local(&ENV, "[127.0.0.1]"), 0);
	ALIAS_FAIL = 1;
	assert_true(local_domain_is_local(&ENV, "other.test") < 0);
}

static void test_other_nodes_domain_is_local(void **state)
{
	struct local_target t;

	local_resolve(&ENV, "Alice@node2.cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_NOT_LOCAL);
	ENV.node_domain_has = fake_node_domain;
	local_resolve(&ENV, "Alice@node2.cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "alice");
	assert_int_equal(local_domain_is_local(&ENV, "node3.cluster.test"), 0);
}

/* NODE_SET with a domain, applied as the raft FSM would. */
static void node_set_domain(struct spool *sp, uint64_t id, const char *dom)
{
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_NODE_SET;
	c.stamp = T0;
	c.node = id;
	c.u.node_set.id = id;
	c.u.node_set.mask = NODE_F_DOMAIN;
	c.u.node_set.domain = dom;
	assert_int_equal(fx_status(sp, &c), 0);
}

static void test_spool_node_domains_are_local(void **state)
{
	struct fx f = {.sp = NULL};

	fx_open(&f);
	assert_int_equal(local_spool_node_domain_has(f.sp, "node2.test"), 0);
	node_set_domain(f.sp, 1, "node1.test");
	node_set_domain(f.sp, 2, "Node2.Test");
	node_set_domain(f.sp, 3, ""); /* registered without a domain */
	assert_int_equal(local_spool_node_domain_has(f.sp, "node2.test."), 1);
	assert_int_equal(local_spool_node_domain_has(f.sp, "NODE1.TEST"), 1);
	assert_int_equal(local_spool_node_domain_has(f.sp, "node3.test"), 0);
	assert_int_equal(local_spool_node_domain_has(f.sp, ""), 0);
	assert_int_equal(local_spool_node_domain_has(f.sp, "x.node2.test"), 0);
	fx_close(&f);
}

static void test_remote_domain_is_not_local(void **state)
{
	struct local_target t;

	local_resolve(&ENV, "bob@example.org", &t);
	assert_int_equal(t.kind, LOCAL_NOT_LOCAL);
	assert_string_equal(t.addr, "bob@example.org");
}

/* Issue #10 defect 8: a recipient the receiving node accepted as local
 * (its node-local alias, unknown here) is a mailbox here too; its own
 * domain stays local along a forward; a forward elsewhere is remote. */
static void test_accepted_local_recipient_is_local_here(void **state)
{
	struct local_target t;

	local_resolve(&ENV, "Bob@other-node-alias.test", &t);
	assert_int_equal(t.kind, LOCAL_NOT_LOCAL);
	local_resolve_accepted(&ENV, "Bob@other-node-alias.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "bob");
	assert_string_equal(t.addr, "bob@other-node-alias.test");
	fwd("carol", "dave@other-node-alias.test");
	local_resolve_accepted(&ENV, "carol@other-node-alias.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "dave");
	fwd("erin", "erin@example.org");
	local_resolve_accepted(&ENV, "erin@other-node-alias.test", &t);
	assert_int_equal(t.kind, LOCAL_REMOTE);
	assert_string_equal(t.addr, "erin@example.org");
}

static void test_local_user_is_its_mailbox_lower_case(void **state)
{
	struct local_target t;

	local_resolve(&ENV, "Alice@Cluster.Test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "alice");
	assert_string_equal(t.addr, "alice@Cluster.Test");
	assert_int_equal(t.hops, 0);
}

static void test_postmaster_forwards_to_system_by_default(void **state)
{
	static const char *const names[] = {
	    "POSTMASTER@cluster.test", "postmaster", "TCPIP$SMTP@alias.test",
	    "ucx_smtp@node1.cluster.test"};
	struct local_target t;

	for (size_t i = 0; i < 4; i++) {
		local_resolve(&ENV, names[i], &t);
		assert_int_equal(t.kind, LOCAL_MAILBOX);
		assert_string_equal(t.user, "system");
		assert_int_equal(t.hops, 1);
	}
}

static void test_postmaster_alias_setting_changes_the_default(void **state)
{
	struct local_target t;

	ENV.postmaster_alias = "Operator";
	local_resolve(&ENV, "postmaster@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "operator");
	/* the alias may be the postmaster account itself */
	ENV.postmaster_alias = "postmaster";
	local_resolve(&ENV, "postmaster@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "postmaster");
}

static void test_explicit_forward_wins_over_default(void **state)
{
	struct local_target t;

	fwd("postmaster", "bob");
	local_resolve(&ENV, "postmaster@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "bob");
}

static void test_forward_chain_is_followed(void **state)
{
	struct local_target t;

	fwd("a", "b");
	fwd("b", "c@cluster.test");
	fwd("c", "SMTP%\"d@alias.test\"");
	local_resolve(&ENV, "a@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "d");
	assert_int_equal(t.hops, 3);
}

static void test_forward_to_remote_address_makes_it_remote(void **state)
{
	struct local_target t;

	fwd("carol", "<carol@elsewhere.example>");
	local_resolve(&ENV, "carol@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_REMOTE);
	assert_string_equal(t.addr, "carol@elsewhere.example");
	/* the OpenVMS form */
	NFWD = 0;
	fwd("carol", "SMTP%\"carol@far.example\"");
	local_resolve(&ENV, "carol@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_REMOTE);
	assert_string_equal(t.addr, "carol@far.example");
}

static void test_forwarding_loop_fails_5_4_6(void **state)
{
	struct local_target t;

	fwd("a", "b");
	fwd("b", "c");
	fwd("c", "a@cluster.test");
	local_resolve(&ENV, "a@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_FAILED);
	assert_int_equal(strncmp(t.reply, "550 5.4.6 forwarding loop", 25), 0);
	assert_non_null(strstr(t.reply, "a -> b -> c -> a"));
}

static void test_postmaster_default_loop_is_detected(void **state)
{
	struct local_target t;

	/* system forwards back to postmaster, which defaults to system */
	fwd("system", "postmaster");
	local_resolve(&ENV, "postmaster@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_FAILED);
	assert_non_null(strstr(t.reply, "5.4.6"));
}

static void test_forward_chain_longer_than_ten_fails(void **state)
{
	static char names[12][16], targets[12][16];
	struct local_target t;

	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d", i);
		snprintf(targets[i], sizeof(targets[i]), "u%d", i + 1);
		fwd(names[i], targets[i]);
	}
	local_resolve(&ENV, "u0@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_FAILED);
	assert_non_null(strstr(t.reply, "5.4.6"));

	/* ten hops exactly are fine */
	NFWD = 0;
	for (int i = 0; i < 10; i++)
		fwd(names[i], targets[i]);
	local_resolve(&ENV, "u0@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "u10");
	assert_int_equal(t.hops, 10);
}

static void test_forward_to_self_is_the_mailbox(void **state)
{
	struct local_target t;

	fwd("dave", "DAVE");
	local_resolve(&ENV, "dave@cluster.test", &t);
	assert_int_equal(t.kind, LOCAL_MAILBOX);
	assert_string_equal(t.user, "dave");
}

static void test_failed_lookup_defers(void **state)
{
	struct local_target t;

	ALIAS_FAIL = 1;
	local_resolve(&ENV, "x@unknown.example", &t);
	assert_int_equal(t.kind, LOCAL_TEMPFAIL);
	assert_int_equal(t.reply[0], '4');
}

/* ---- the sender header ---- */

static void test_vms_from_follows_the_seed_rule(void **state)
{
	static const char m1[] = "From: a@x\r\nSender: s@x\r\n"
				 "Reply-To: r@x\r\n\r\nbody";
	static const char m2[] = "Subject: none\r\n\r\nFrom: not@header\r\n";
	char out[256];

	local_vms_from(m1, sizeof(m1) - 1, "env@x", out, sizeof(out));
	assert_string_equal(out, "r@x");
	local_vms_from(m2, sizeof(m2) - 1, "env@x", out, sizeof(out));
	assert_string_equal(out, "env@x");
	local_vms_from(m2, sizeof(m2) - 1, "", out, sizeof(out));
	assert_string_equal(out, "<>");
}

/* ---- Maildir ---- */

static char ROOT[64];

static int maildir_setup(void **state)
{
	char p[128];

	setup(state);
	snprintf(ROOT, sizeof(ROOT), "/tmp/test_local_XXXXXX");
	assert_non_null(mkdtemp(ROOT));
	snprintf(p, sizeof(p), "%s/alice", ROOT);
	assert_int_equal(mkdir(p, 0700), 0);
	return 0;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[512];

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		rm_rf(p);
	}
	closedir(d);
	rmdir(path);
}

static int maildir_teardown(void **state)
{
	rm_rf(ROOT);
	return 0;
}

/* Number of entries in dir (not . and ..). */
static int count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static struct maildir_req req(const char *user, const char *msg)
{
	struct maildir_req m;

	m.root = ROOT;
	m.user = user;
	m.node = "NODE1";
	m.delivered_to = "alice@cluster.test";
	m.return_path = "bob@example.org";
	m.vms_from = "Bob <bob@example.org>";
	m.msg = msg;
	m.len = strlen(msg);
	m.headers = CFG_HEADERS_ALL;
	return m;
}

static void test_maildir_delivery_writes_into_new(void **state)
{
	struct maildir_req m = req("alice", "Subject: hi\r\n\r\nline1\r\n");
	char reply[256], name[256], path[512], buf[512];
	FILE *f;
	size_t n;

	assert_int_equal(
	    local_maildir_deliver(&m, reply, sizeof(reply), name, sizeof(name)),
	    OUT_DELIVERED);
	assert_int_equal(strncmp(reply, "250 ", 4), 0);
	/* time.pid_seq.node */
	assert_non_null(strstr(name, ".NODE1"));
	assert_non_null(strchr(name, '_'));
	snprintf(path, sizeof(path), "%s/alice/new/%s", ROOT, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, "Delivered-To: alice@cluster.test\n"
				 "Return-Path: <bob@example.org>\n"
				 "X-VMS-From: Bob <bob@example.org>\n"
				 "Subject: hi\n\nline1\n");
	snprintf(path, sizeof(path), "%s/alice/tmp", ROOT);
	assert_int_equal(count(path), 0);
	snprintf(path, sizeof(path), "%s/alice/cur", ROOT);
	assert_int_equal(count(path), 0);
}

/* NOHEADERS: OpenVMS Mail's own fields and X-VMS-From: only (no
 * Delivered-To:, Return-Path:, Received:); TOP_HEADERS keeps the reader's
 * fields and the two local delivery adds. */
static void test_maildir_headers_option_chooses_the_fields(void **state)
{
	static const char msg[] = "Received: from a by b\r\n"
				  "\tid 1; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
				  "From: Bob <bob@example.org>\r\n"
				  "Message-ID: <1@example.org>\r\n"
				  "X-Spam: no\r\n"
				  "Subject: hi\r\n\r\nReceived: body text\r\n";
	struct maildir_req m = req("alice", msg);
	char reply[256], name[256], path[512], buf[1024];
	FILE *f;
	size_t n;

	m.headers = CFG_HEADERS_NONE;
	assert_int_equal(
	    local_maildir_deliver(&m, reply, sizeof(reply), name, sizeof(name)),
	    OUT_DELIVERED);
	snprintf(path, sizeof(path), "%s/alice/new/%s", ROOT, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, "X-VMS-From: Bob <bob@example.org>\n"
				 "From: Bob <bob@example.org>\n"
				 "Subject: hi\n\nReceived: body text\n");
	unlink(path);

	m.headers = CFG_HEADERS_TOP;
	assert_int_equal(
	    local_maildir_deliver(&m, reply, sizeof(reply), name, sizeof(name)),
	    OUT_DELIVERED);
	snprintf(path, sizeof(path), "%s/alice/new/%s", ROOT, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, "Delivered-To: alice@cluster.test\n"
				 "Return-Path: <bob@example.org>\n"
				 "X-VMS-From: Bob <bob@example.org>\n"
				 "From: Bob <bob@example.org>\n"
				 "Message-ID: <1@example.org>\n"
				 "Subject: hi\n\nReceived: body text\n");
	unlink(path);
}

static void test_maildir_names_are_unique(void **state)
{
	struct maildir_req m = req("alice", "x\r\n");
	char reply[256], path[512];

	for (int i = 0; i < 20; i++)
		assert_int_equal(
		    local_maildir_deliver(&m, reply, sizeof(reply), NULL, 0),
		    OUT_DELIVERED);
	snprintf(path, sizeof(path), "%s/alice/new", ROOT);
	assert_int_equal(count(path), 20);
}

static void test_maildir_unknown_user_fails_5_1_1(void **state)
{
	static const char *const bad[] = {"nobody", "../alice", "a/b", ".hid",
					  ""};
	char reply[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct maildir_req m = req(bad[i], "x\r\n");

		assert_int_equal(
		    local_maildir_deliver(&m, reply, sizeof(reply), NULL, 0),
		    OUT_FAILED);
		assert_int_equal(strncmp(reply, "550 5.1.1", 9), 0);
	}
}

static void test_maildir_missing_root_defers_or_fails_clearly(void **state)
{
	struct maildir_req m = req("alice", "x\r\n");
	char reply[256], file[128];
	FILE *f;

	/* a file where the user's directory should be: unknown user */
	snprintf(file, sizeof(file), "%s/carl", ROOT);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	m.user = "carl";
	assert_int_equal(
	    local_maildir_deliver(&m, reply, sizeof(reply), NULL, 0),
	    OUT_FAILED);
}

/* ---- LMTP addresses ---- */

static void test_rcpt_known_follows_forwards_to_the_mailbox(void **state)
{
	char p[128];
	FILE *fp;

	assert_int_equal(local_rcpt_known(&ENV, ROOT, "alice@cluster.test"), 1);
	assert_int_equal(
	    local_rcpt_known(&ENV, ROOT, "ALICE@Node1.Cluster.Test"), 1);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "nobody@cluster.test"),
			 0);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, ".hidden@cluster.test"),
			 0);
	/* postmaster goes to "system": known only once that mailbox exists */
	assert_int_equal(
	    local_rcpt_known(&ENV, ROOT, "postmaster@cluster.test"), 0);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "TCPIP$SMTP"), 0);
	snprintf(p, sizeof(p), "%s/system", ROOT);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(
	    local_rcpt_known(&ENV, ROOT, "postmaster@cluster.test"), 1);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "TCPIP$SMTP"), 1);
	/* a forward to an existing mailbox, or to a remote address */
	fwd("carol", "Alice");
	fwd("dave", "dave@example.org");
	fwd("erin", "nobody");
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "Carol@cluster.test"), 1);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "dave@cluster.test"), 1);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "erin@cluster.test"), 0);
	/* not local: not ours to judge */
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "bob@example.org"), 1);
	/* a plain file is not a mailbox */
	snprintf(p, sizeof(p), "%s/frank", ROOT);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(local_rcpt_known(&ENV, ROOT, "frank@cluster.test"), 0);
	assert_int_equal(local_maildir_exists(ROOT, "alice"), 1);
	assert_int_equal(local_maildir_exists("", "alice"), 0);
	/* a failed lookup is neither yes nor no */
	ALIAS_FAIL = 1;
	assert_true(local_rcpt_known(&ENV, ROOT, "x@other.test") < 0);
}

static void test_lmtp_address_forms(void **state)
{
	char ip[64];
	unsigned port;
	const char *path;

	assert_int_equal(
	    local_lmtp_parse("127.0.0.1:24", ip, sizeof(ip), &port, &path), 0);
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(port, 24);
	assert_null(path);
	assert_int_equal(local_lmtp_parse("unix:/run/dovecot/lmtp", ip,
					  sizeof(ip), &port, &path),
			 0);
	assert_string_equal(path, "/run/dovecot/lmtp");
	assert_int_equal(
	    local_lmtp_parse("[::1]:2424", ip, sizeof(ip), &port, &path), 0);
	assert_string_equal(ip, "::1");
	assert_int_equal(
	    local_lmtp_parse("localhost:24", ip, sizeof(ip), &port, &path), 0);
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(
	    local_lmtp_parse("127.0.0.1", ip, sizeof(ip), &port, &path),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    local_lmtp_parse("127.0.0.1:0", ip, sizeof(ip), &port, &path),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    local_lmtp_parse("mail.example:24", ip, sizeof(ip), &port, &path),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    local_lmtp_parse("unix:", ip, sizeof(ip), &port, &path),
	    SPOOL_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_local_domains, setup),
	    cmocka_unit_test_setup(test_remote_domain_is_not_local, setup),
	    cmocka_unit_test_setup(test_accepted_local_recipient_is_local_here,
				   setup),
	    cmocka_unit_test_setup(test_other_nodes_domain_is_local, setup),
	    cmocka_unit_test_setup(test_spool_node_domains_are_local, setup),
	    cmocka_unit_test_setup(test_local_user_is_its_mailbox_lower_case,
				   setup),
	    cmocka_unit_test_setup(
		test_postmaster_forwards_to_system_by_default, setup),
	    cmocka_unit_test_setup(
		test_postmaster_alias_setting_changes_the_default, setup),
	    cmocka_unit_test_setup(test_explicit_forward_wins_over_default,
				   setup),
	    cmocka_unit_test_setup(test_forward_chain_is_followed, setup),
	    cmocka_unit_test_setup(
		test_forward_to_remote_address_makes_it_remote, setup),
	    cmocka_unit_test_setup(test_forwarding_loop_fails_5_4_6, setup),
	    cmocka_unit_test_setup(test_postmaster_default_loop_is_detected,
				   setup),
	    cmocka_unit_test_setup(test_forward_chain_longer_than_ten_fails,
				   setup),
	    cmocka_unit_test_setup(test_forward_to_self_is_the_mailbox, setup),
	    cmocka_unit_test_setup(test_failed_lookup_defers, setup),
	    cmocka_unit_test_setup(test_vms_from_follows_the_seed_rule, setup),
	    cmocka_unit_test_setup_teardown(
		test_maildir_delivery_writes_into_new, maildir_setup,
		maildir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_maildir_headers_option_chooses_the_fields, maildir_setup,
		maildir_teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_names_are_unique,
					    maildir_setup, maildir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_maildir_unknown_user_fails_5_1_1, maildir_setup,
		maildir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_maildir_missing_root_defers_or_fails_clearly,
		maildir_setup, maildir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_rcpt_known_follows_forwards_to_the_mailbox, maildir_setup,
		maildir_teardown),
	    cmocka_unit_test_setup(test_lmtp_address_forms, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
