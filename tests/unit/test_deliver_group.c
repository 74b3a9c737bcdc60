/*
 * test_deliver_group.c — unit tests of the delivery engine's pure parts,
 * driven without a loop: the group state machine (src/delivery/
 * deliver_group.c: the legal moves, the paths a group takes, an illegal
 * move asserting, group_done() once), the grouping of recipients
 * (group_classify() with a fake local environment), the per-host
 * connection cap (deliver_hostcap.c) and the data phase made once per
 * attempt (deliver_data_prepare() in deliver.c).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/tlspolicy.h"
#include "src/delivery/deliver_impl.h"
#include "tests/unit/spool_fixture.h"

/* ---- a delivery without a loop ---- */

struct fixture {
	struct fx spool; /* the tables group_classify() reads */
	struct deliverer d;
	struct delivery dv;
	struct item items[8];
	struct deliver_outcome out[8];
	struct spool_rcpt rcpt[8];
};

static struct fixture *fixture_new(uint32_t n, const char *const *addrs)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_open(&f->spool);
	f->d.sp = f->spool.sp;
	f->d.s_backend = "maildir";
	f->d.s_domain = "node1.cluster.test";
	f->dv.d = &f->d;
	snprintf(f->dv.name, sizeof(f->dv.name), "TEST$1");
	f->dv.items = f->items;
	f->dv.out = f->out;
	f->dv.rec.rcpt = f->rcpt;
	f->dv.rec.nrcpt = n;
	f->dv.n = n;
	f->dv.busy = 100; /* never reaches the completion timer */
	for (uint32_t i = 0; i < n; i++) {
		f->rcpt[i].addr = addrs[i];
		f->rcpt[i].orcpt = "";
		f->out[i].rcpt = i;
		f->out[i].outcome = OUT_DEFERRED;
		f->items[i].oi = i;
		f->items[i].orig = addrs[i];
		snprintf(f->items[i].addr, sizeof(f->items[i].addr), "%s",
			 addrs[i]);
		f->items[i].dup_of = -1;
		f->items[i].hard_all = 1;
	}
	return f;
}

static void fixture_free(struct fixture *f)
{
	struct group *g, *gn;

	for (g = SLIST_FIRST(&f->dv.groups); g != NULL; g = gn) {
		gn = SLIST_NEXT(g, next);
		group_free(g);
	}
	fx_close(&f->spool);
	free(f);
}

static int fake_node_domain(void *arg, const char *domain)
{
	return strcasecmp(domain, "node2.cluster.test") == 0;
}

static void fake_env(struct local_env *env)
{
	memset(env, 0, sizeof(*env));
	env->node_domain = "node1.cluster.test";
	env->cluster_domain = "cluster.test";
	env->postmaster_alias = "";
	env->node_domain_has = fake_node_domain;
}

/* ---- the legal moves ---- */

static void test_legal_moves_are_the_drawn_ones(void **state)
{
	static const struct {
		enum group_state from, to;
	} ok[] = {
	    {GS_NEW, GS_ROUTING},	{GS_NEW, GS_SENDING},
	    {GS_NEW, GS_DONE},		{GS_ROUTING, GS_PARKED},
	    {GS_ROUTING, GS_DONE},	{GS_PARKED, GS_WAIT_HOST},
	    {GS_PARKED, GS_SENDING},	{GS_PARKED, GS_DONE},
	    {GS_WAIT_HOST, GS_SENDING}, {GS_WAIT_HOST, GS_DONE},
	    {GS_SENDING, GS_WAIT_HOST}, {GS_SENDING, GS_SENDING},
	    {GS_SENDING, GS_DONE},
	};
	unsigned nlegal = 0;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(group_move_legal(ok[i].from, ok[i].to));
	for (int a = 0; a < GS__COUNT; a++)
		for (int b = 0; b < GS__COUNT; b++)
			nlegal += (unsigned)group_move_legal(
			    (enum group_state)a, (enum group_state)b);
	assert_int_equal(nlegal, sizeof(ok) / sizeof(ok[0]));
}

static void test_illegal_moves_are_refused(void **state)
{
	/* a local group is never routed; nothing leaves DONE; no way back */
	assert_false(group_move_legal(GS_NEW, GS_PARKED));
	assert_false(group_move_legal(GS_NEW, GS_WAIT_HOST));
	assert_false(group_move_legal(GS_ROUTING, GS_SENDING));
	assert_false(group_move_legal(GS_ROUTING, GS_WAIT_HOST));
	assert_false(group_move_legal(GS_PARKED, GS_ROUTING));
	assert_false(group_move_legal(GS_WAIT_HOST, GS_WAIT_HOST));
	assert_false(group_move_legal(GS_SENDING, GS_PARKED));
	for (int s = 0; s < GS__COUNT; s++)
		assert_false(group_move_legal(GS_DONE, (enum group_state)s));
	assert_false(group_move_legal(GS__COUNT, GS_DONE));
	assert_false(group_move_legal(GS_NEW, GS__COUNT));
	assert_string_equal(group_state_name(GS_WAIT_HOST), "WAIT_HOST");
	assert_string_equal(group_state_name(GS__COUNT), "?");
}

/* ---- paths through group_enter() ---- */

static void test_remote_group_path(void **state)
{
	static const char *const a[] = {"bob@example.org"};
	struct fixture *f = fixture_new(1, a);
	struct group *g = group_for(&f->dv, G_REMOTE, "Example.ORG", 0);

	assert_non_null(g);
	assert_int_equal(g->state, GS_NEW);
	assert_string_equal(g->key, "example.org");
	group_enter(g, GS_ROUTING);
	group_enter(g, GS_PARKED);
	group_enter(g, GS_WAIT_HOST); /* over the host cap */
	group_enter(g, GS_SENDING);   /* a place was handed over */
	group_enter(g, GS_SENDING);   /* the next address */
	group_enter(g, GS_WAIT_HOST);
	group_enter(g, GS_SENDING);
	group_done(g);
	assert_int_equal(g->state, GS_DONE);
	fixture_free(f);
}

static void test_local_group_path(void **state)
{
	static const char *const a[] = {"alice@node1.cluster.test"};
	struct fixture *f = fixture_new(1, a);
	struct group *g = group_for(&f->dv, G_MAILDIR, "maildir", 0);

	assert_non_null(g);
	group_enter(g, GS_SENDING);
	group_done(g);
	assert_int_equal(g->state, GS_DONE);
	fixture_free(f);
}

static void test_illegal_move_asserts(void **state)
{
	static const char *const a[] = {"alice@node1.cluster.test"};
	struct fixture *f = fixture_new(1, a);
	struct group *g = group_for(&f->dv, G_MAILDIR, "maildir", 0);
	int status = 0;
	pid_t pid;

	assert_non_null(g);
	group_done(g);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* quiet: the assertion's message is expected */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(2);
		group_enter(g, GS_SENDING); /* DONE -> SENDING: a bug */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	fixture_free(f);
}

static void test_group_done_once(void **state)
{
	static const char *const a[] = {"bob@example.org"};
	struct fixture *f = fixture_new(1, a);
	struct group *g = group_for(&f->dv, G_REMOTE, "example.org", 0);
	unsigned busy = f->dv.busy;

	group_enter(g, GS_ROUTING);
	group_done(g);
	assert_int_equal(f->dv.busy, busy - 1);
	group_done(g); /* a second end counts nothing */
	group_settle_all(g, OUT_FAILED, "550 no", "none");
	assert_int_equal(f->dv.busy, busy - 1);
	assert_int_equal(g->state, GS_DONE);
	fixture_free(f);
}

/* ---- grouping ---- */

static void test_classify_groups_by_backend_and_target(void **state)
{
	static const char *const a[] = {
	    "alice@node1.cluster.test", "bob@Example.org",
	    "Alice@node2.cluster.test", "carol@example.ORG",
	    "dave@other.test",		"Eve@CLUSTER.test",
	};
	struct fixture *f = fixture_new(6, a);
	struct local_env env;
	struct group *g;
	unsigned nremote = 0, nlocal = 0;

	fake_env(&env);
	for (uint32_t i = 0; i < 6; i++)
		group_classify(&f->dv, i, &env);
	/* the same mailbox named twice is written once */
	assert_int_equal(f->items[2].dup_of, 0);
	SLIST_FOREACH (g, &f->dv.groups, next) {
		assert_int_equal(g->state, GS_NEW);
		if (g->kind == G_MAILDIR) {
			nlocal++;
			assert_int_equal(g->nit, 2);
			assert_int_equal(g->it[0], 0);
			assert_int_equal(g->it[1], 5);
		} else if (strcmp(g->key, "example.org") == 0) {
			nremote++;
			assert_int_equal(g->kind, G_REMOTE);
			assert_int_equal(g->nit, 2);
		} else {
			nremote++;
			assert_string_equal(g->key, "other.test");
			assert_int_equal(g->nit, 1);
		}
	}
	assert_int_equal(nlocal, 1);
	assert_int_equal(nremote, 2);
	fixture_free(f);
}

static void set_tlspol(struct spool *sp, const char *domain, int level)
{
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_TLSPOL_SET;
	c.stamp = T0;
	c.u.tlspol.domain = domain;
	c.u.tlspol.level = (uint8_t)level;
	assert_int_equal(fx_status(sp, &c), 0);
}

/* Each remote group carries its recipients' TLS policy level (the
 * table's, "may" without an entry); recipients bound for one route
 * target but of other levels are kept in separate groups. */
static void test_remote_groups_carry_the_tls_policy(void **state)
{
	static const char *const a[] = {
	    "a@secure.test", "b@plain.test",  "c@mx.secure.test",
	    "d@other.test",  "e@SECURE.test",
	};
	struct fixture *f = fixture_new(5, a);
	struct local_env env;
	struct group *g;
	unsigned n = 0;

	set_tlspol(f->d.sp, "secure.test", TLSPOL_VERIFY);
	set_tlspol(f->d.sp, ".secure.test", TLSPOL_ENCRYPT);
	set_tlspol(f->d.sp, "plain.test", TLSPOL_NONE);
	fake_env(&env);
	for (uint32_t i = 0; i < 5; i++)
		group_classify(&f->dv, i, &env);
	for (g = SLIST_FIRST(&f->dv.groups); g != NULL;
	     g = SLIST_NEXT(g, next), n++) {
		assert_int_equal(g->kind, G_REMOTE);
		if (strcmp(g->key, "secure.test") == 0) {
			assert_int_equal(g->tls_level, TLSPOL_VERIFY);
			assert_int_equal(g->nit, 2);
		} else if (strcmp(g->key, "plain.test") == 0) {
			assert_int_equal(g->tls_level, TLSPOL_NONE);
		} else if (strcmp(g->key, "mx.secure.test") == 0) {
			assert_int_equal(g->tls_level, TLSPOL_ENCRYPT);
		} else {
			assert_string_equal(g->key, "other.test");
			assert_int_equal(g->tls_level, TLSPOL_MAY);
		}
	}
	assert_int_equal(n, 4);
	/* same key, other level: another group */
	g = group_for(&f->dv, G_REMOTE, "secure.test", TLSPOL_MAY);
	assert_non_null(g);
	assert_int_equal(g->tls_level, TLSPOL_MAY);
	assert_int_equal(g->nit, 0);
	g = group_for(&f->dv, G_REMOTE, "secure.test", TLSPOL_VERIFY);
	assert_int_equal(g->nit, 2);
	fixture_free(f);
}

static void test_local_duplicate_takes_the_mailbox_outcome(void **state)
{
	static const char *const a[] = {"alice@node1.cluster.test",
					"Alice@node2.cluster.test"};
	struct fixture *f = fixture_new(2, a);
	struct local_env env;
	struct group *g;

	fake_env(&env);
	group_classify(&f->dv, 0, &env);
	group_classify(&f->dv, 1, &env);
	g = SLIST_FIRST(&f->dv.groups);
	assert_non_null(g);
	assert_null(SLIST_NEXT(g, next));
	group_enter(g, GS_SENDING);
	delivery_settle(&f->dv, 0, OUT_DELIVERED, "250 ok", "local");
	group_done(g);
	assert_true(f->items[1].settled);
	assert_int_equal(f->out[1].outcome, OUT_DELIVERED);
	assert_string_equal(f->out[1].reply, "250 ok");
	fixture_free(f);
}

static void test_no_backend_defers(void **state)
{
	static const char *const a[] = {"alice@node1.cluster.test"};
	struct fixture *f = fixture_new(1, a);
	struct local_env env;

	f->d.s_backend = "";
	fake_env(&env);
	group_classify(&f->dv, 0, &env);
	assert_true(SLIST_EMPTY(&f->dv.groups));
	assert_true(f->items[0].settled);
	assert_int_equal(f->out[0].outcome, OUT_DEFERRED);
	fixture_free(f);
}

/* ---- the per-host cap ---- */

static struct host_wait *GRANTED[4];
static int NGRANTED;

static void on_granted(struct host_wait *w, struct host_slot *h)
{
	GRANTED[NGRANTED++] = w;
}

static void test_hostcap_queues_over_the_cap(void **state)
{
	struct hostcap hc;
	struct host_wait a = {0}, b = {0}, c = {0};
	struct host_slot *h, *other;

	NGRANTED = 0;
	hostcap_init(&hc, 1);
	h = hostcap_get(&hc, "192.0.2.1", 25);
	assert_non_null(h);
	assert_ptr_equal(hostcap_get(&hc, "192.0.2.1", 25), h);
	other = hostcap_get(&hc, "192.0.2.1", 2525);
	assert_true(other != h);
	assert_int_equal(hostcap_acquire(&hc, h, &a, on_granted), 1);
	assert_int_equal(hostcap_acquire(&hc, other, &a, on_granted), 1);
	assert_int_equal(hostcap_acquire(&hc, h, &b, on_granted), 0);
	assert_int_equal(hostcap_acquire(&hc, h, &c, on_granted), 0);
	assert_ptr_equal(b.slot, h);
	assert_int_equal(h->active, 1);
	/* first come, first served */
	hostcap_release(&hc, h);
	assert_int_equal(NGRANTED, 1);
	assert_ptr_equal(GRANTED[0], &b);
	assert_null(b.slot);
	assert_int_equal(h->active, 1);
	/* who left the queue is not served */
	hostcap_unwait(&c);
	assert_null(c.slot);
	hostcap_unwait(&c); /* not waiting: nothing */
	hostcap_release(&hc, h);
	assert_int_equal(NGRANTED, 1);
	assert_int_equal(h->active, 0);
	hostcap_release(&hc, h); /* never below zero */
	assert_int_equal(h->active, 0);
	hostcap_free(&hc);
}

static void test_hostcap_zero_is_no_cap(void **state)
{
	struct hostcap hc;
	struct host_wait w[5];
	struct host_slot *h;

	hostcap_init(&hc, 0);
	h = hostcap_get(&hc, "2001:db8::1", 25);
	for (int i = 0; i < 5; i++)
		assert_int_equal(hostcap_acquire(&hc, h, &w[i], on_granted), 1);
	assert_int_equal(h->active, 5);
	hostcap_free(&hc);
}

/* ---- the data phase ---- */

static const char BODY[] = "Subject: t\r\n\r\n.dot\nbare LF\r\n..two\r\nend";

static void test_data_not_made_for_maildir_only(void **state)
{
	struct deliver_data dd;

	assert_int_equal(
	    deliver_data_prepare(&dd, BODY, sizeof(BODY) - 1, 0, 0, "x"), 0);
	assert_null(dd.buf);
	assert_int_equal(dd.len, 0);
	deliver_data_free(&dd);
}

static void test_data_for_smtp_is_the_stuffed_body(void **state)
{
	struct deliver_data dd;
	char *want;
	size_t wlen;

	assert_int_equal(smtp_client_prepare(NULL, 0, BODY, sizeof(BODY) - 1,
					     &want, &wlen, NULL),
			 0);
	assert_int_equal(
	    deliver_data_prepare(&dd, BODY, sizeof(BODY) - 1, 1, 0, "x"), 0);
	assert_int_equal(dd.smtp_off, 0);
	assert_int_equal(dd.len, wlen);
	assert_memory_equal(dd.buf, want, wlen);
	assert_false(dd.eightbit);
	deliver_data_free(&dd);
	free(want);
}

static void test_data_shared_by_smtp_and_lmtp(void **state)
{
	static const char hdr[] = "X-VMS-From: \"J\xc3\xa9r\" <j@x.test>\r\n";
	struct deliver_data dd;
	char *smtp, *lmtp;
	size_t slen, llen;

	assert_int_equal(smtp_client_prepare(NULL, 0, BODY, sizeof(BODY) - 1,
					     &smtp, &slen, NULL),
			 0);
	assert_int_equal(smtp_client_prepare(hdr, sizeof(hdr) - 1, BODY,
					     sizeof(BODY) - 1, &lmtp, &llen,
					     NULL),
			 0);
	assert_int_equal(deliver_data_prepare(&dd, BODY, sizeof(BODY) - 1, 1, 1,
					      "\"J\xc3\xa9r\" <j@x.test>"),
			 0);
	/* LMTP: the whole buffer, as the old separate copy was */
	assert_int_equal(dd.len, llen);
	assert_memory_equal(dd.buf, lmtp, llen);
	/* SMTP: after the prefix, as the old SMTP copy was */
	assert_int_equal(dd.smtp_off, sizeof(hdr) - 1);
	assert_int_equal(dd.len - dd.smtp_off, slen);
	assert_memory_equal(dd.buf + dd.smtp_off, smtp, slen);
	/* the prefix's 8-bit octets are not the body's */
	assert_false(dd.eightbit);
	deliver_data_free(&dd);
	free(smtp);
	free(lmtp);
}

static void test_data_eightbit_from_the_body(void **state)
{
	static const char body[] = "Subject: caf\xc3\xa9\r\n\r\nx\r\n";
	struct deliver_data dd;

	assert_int_equal(
	    deliver_data_prepare(&dd, body, sizeof(body) - 1, 0, 1, "<>"), 0);
	assert_true(dd.eightbit);
	assert_true(dd.lmtp);
	deliver_data_free(&dd);
}

/* /OPTIONS=NOHEADERS: LMTP gets its own copy without the fields left out;
 * SMTP still sends the message as it is; HEADERS makes no copy. */
static void test_data_for_lmtp_apart_without_left_out_fields(void **state)
{
	static const char body[] = "Received: from a by b\r\n"
				   "Subject: s\r\n\r\nReceived: text\r\n";
	static const char want[] = "X-VMS-From: <>\r\nSubject: s\r\n\r\n"
				   "Received: text\r\n.\r\n";
	struct deliver_data dd;

	assert_int_equal(
	    deliver_data_prepare(&dd, body, sizeof(body) - 1, 1, 1, "<>"), 0);
	assert_int_equal(deliver_data_local(&dd, body, sizeof(body) - 1,
					    CFG_HEADERS_ALL, "<>"),
			 0);
	assert_null(dd.lbuf);
	assert_int_equal(deliver_data_local(&dd, body, sizeof(body) - 1,
					    CFG_HEADERS_NONE, "<>"),
			 0);
	assert_non_null(dd.lbuf);
	assert_int_equal(dd.llen, sizeof(want) - 1);
	assert_memory_equal(dd.lbuf, want, dd.llen);
	/* SMTP: the whole message (and the final dot) after the shared
	 * buffer's prefix */
	assert_int_equal(dd.len - dd.smtp_off, sizeof(body) - 1 + 3);
	assert_memory_equal(dd.buf + dd.smtp_off, body, sizeof(body) - 1);
	deliver_data_free(&dd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_legal_moves_are_the_drawn_ones),
	    cmocka_unit_test(test_illegal_moves_are_refused),
	    cmocka_unit_test(test_remote_group_path),
	    cmocka_unit_test(test_local_group_path),
	    cmocka_unit_test(test_illegal_move_asserts),
	    cmocka_unit_test(test_group_done_once),
	    cmocka_unit_test(test_classify_groups_by_backend_and_target),
	    cmocka_unit_test(test_local_duplicate_takes_the_mailbox_outcome),
	    cmocka_unit_test(test_remote_groups_carry_the_tls_policy),
	    cmocka_unit_test(test_no_backend_defers),
	    cmocka_unit_test(test_hostcap_queues_over_the_cap),
	    cmocka_unit_test(test_hostcap_zero_is_no_cap),
	    cmocka_unit_test(test_data_not_made_for_maildir_only),
	    cmocka_unit_test(test_data_for_smtp_is_the_stuffed_body),
	    cmocka_unit_test(test_data_shared_by_smtp_and_lmtp),
	    cmocka_unit_test(test_data_eightbit_from_the_body),
	    cmocka_unit_test(test_data_for_lmtp_apart_without_left_out_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
