/*
 * test_apply_queue.c — the spool's whole-file appliers (spool/store/apply_queue.c):
 * ENQUEUE (state set from the stamp, idempotency on the name, refusals),
 * REMOVE (claims live, expired, forced), REQUEUE (SEND MAIL), HOLD and
 * RELEASE. Every refusal is checked to leave the spool byte-identical
 * (spool_snapshot images before and after), and index entries are counted
 * in the snapshot image so that an orphan `due` or `byuser` key would show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/ctlname.h"
#include "spool/store/spool.h"
#include "spool/codec/wire.h"
#include "tests/unit/spool_fixture.h"

/* Table order of the snapshot image (docs/spool-snapshot-and-analyze.md). */
enum { TB_CTL = 0, TB_BODY, TB_DUE, TB_BYUSER, TB__COUNT = 11 };
#define SNAP_HDR 20 /* magic 8, format 4, schema 4, table count 4 */

#define LEASE 60000ull			    /* a one-minute lease */
#define BODY1 "Subject: t\r\n\r\nhello\r\n" /* the fixture's body */

/* ---- local helpers ---- */

/* Take a snapshot image of sp into wb (initialised here). */
static void snap_take(struct spool *sp, struct wbuf *wb)
{
	wbuf_init(wb);
	assert_int_equal(spool_snapshot(sp, wb), 0);
}

/* Fail unless sp's image is byte-identical to before; frees before. */
static void assert_unchanged(struct spool *sp, struct wbuf *before)
{
	struct wbuf now;

	snap_take(sp, &now);
	assert_int_equal(now.len, before->len);
	assert_memory_equal(now.p, before->p, now.len);
	wbuf_free(&now);
	wbuf_free(before);
}

/* Entries of table t, read from sp's snapshot image. */
static uint64_t table_entries(struct spool *sp, int t)
{
	return fx_table_entries(sp, t, TB__COUNT);
}

/* Everything an ENQUEUE test may vary. */
struct enq {
	const char *name;
	const char *user;
	uint64_t stamp;
	uint32_t nrcpt;
	uint32_t hops;
	const char *body;
};

/* Build the ENQUEUE command of q (r and addrs hold the recipients). */
static void enq_build(struct spool_cmd *c, const struct enq *q,
		      struct spool_rcpt *r, char (*addrs)[32])
{
	memset(c, 0, sizeof(*c));
	for (uint32_t i = 0; i < q->nrcpt; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		snprintf(addrs[i], 32, "rcpt%u@remote.test", i);
		r[i].addr = addrs[i];
		r[i].orcpt = "";
		r[i].reply = "";
	}
	c->type = CMD_ENQUEUE;
	c->stamp = q->stamp;
	c->node = 1;
	c->u.enqueue.name = q->name;
	c->u.enqueue.rec.user = q->user ? q->user : "TCPIP$SMTP";
	c->u.enqueue.rec.sender = "alice@example.org";
	c->u.enqueue.rec.client = "127.0.0.9";
	c->u.enqueue.rec.helo = "client.example.org";
	c->u.enqueue.rec.envid = "";
	c->u.enqueue.rec.hops = q->hops;
	c->u.enqueue.rec.origin_node = 1;
	c->u.enqueue.rec.nrcpt = q->nrcpt;
	c->u.enqueue.rec.rcpt = q->nrcpt ? r : NULL;
	c->u.enqueue.body = q->body ? q->body : BODY1;
	c->u.enqueue.body_len = strlen(c->u.enqueue.body);
}

/* Apply the ENQUEUE of q through the codec; res gets the outcome. */
static void enq_apply(struct spool *sp, const struct enq *q,
		      struct spool_result *res)
{
	struct spool_rcpt r[8];
	char addrs[8][32];
	struct spool_cmd c;

	assert_true(q->nrcpt <= 8);
	enq_build(&c, q, r, addrs);
	fx_apply(sp, &c, res);
}

/* ENQUEUE status of q. */
static int enq_status(struct spool *sp, const struct enq *q)
{
	struct spool_result res;
	int st;

	enq_apply(sp, q, &res);
	st = res.status;
	spool_result_free(&res);
	return st;
}

/* REMOVE / REQUEUE / HOLD / RELEASE of name at stamp; arg is force or
 * after_ms. Returns the status, res_out (if given) the whole result. */
static int queue_op(struct spool *sp, int type, const char *name,
		    uint64_t stamp, uint64_t arg, struct spool_result *res_out)
{
	struct spool_cmd c;
	struct spool_result res;
	int st;

	memset(&c, 0, sizeof(c));
	c.type = (uint8_t)type;
	c.stamp = stamp;
	c.node = 1;
	switch (type) {
	case CMD_REMOVE:
		c.u.remove.name = name;
		c.u.remove.force = (uint8_t)arg;
		break;
	case CMD_REQUEUE:
		c.u.requeue.name = name;
		c.u.requeue.after_ms = arg;
		break;
	default:
		c.u.hold.name = name;
		break;
	}
	fx_apply(sp, &c, &res);
	st = res.status;
	if (res_out)
		*res_out = res;
	else
		spool_result_free(&res);
	return st;
}

/* SET_CONFIG of one number key. */
static int set_num(struct spool *sp, int key, uint64_t num)
{
	struct spool_cfg_item it = {.key = (uint16_t)key, .num = num};
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_SET_CONFIG;
	c.stamp = T0;
	c.node = 1;
	c.u.set_config.n = 1;
	c.u.set_config.items = &it;
	return fx_status(sp, &c);
}

static int count_cb(const struct spool_ctl *c, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* Number of control files spool_ctl_foreach visits for user. */
static int user_files(struct spool *sp, const char *user)
{
	int n = 0;

	assert_int_equal(spool_ctl_foreach(sp, user, count_cb, &n), 0);
	return n;
}

/* 1 if name has a control file. */
static int ctl_exists(struct spool *sp, const char *name)
{
	struct spool_ctl c;
	int rc = spool_ctl_get(sp, name, &c);

	if (rc == 0) {
		spool_ctl_free(&c);
		return 1;
	}
	assert_int_equal(rc, SPOOL_E_NOTFOUND);
	return 0;
}

/* Enqueue the fixture's file seq at T0 with one recipient; name out. */
static void one_file(struct fx *f, char *name, size_t size, uint32_t seq)
{
	fx_name(name, size, seq);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
}

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_open(f);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;

	fx_close(f);
	free(f);
	return 0;
}

/* ---- ENQUEUE ---- */

static void test_enqueue_creates_ctl_body_due_and_byuser(void **st)
{
	struct fx *f = *st;
	struct spool_ctl c;
	char name[SPOOL_NAME_MAX + 1];
	void *body;
	size_t len;

	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0 + 500, 2), 0);

	fx_get(f->sp, name, &c);
	assert_string_equal(c.name, name);
	assert_string_equal(c.rec.user, "TCPIP$SMTP");
	assert_string_equal(c.rec.sender, "alice@example.org");
	assert_int_equal(c.rec.nrcpt, 2);
	assert_string_equal(c.rec.rcpt[0].addr, "rcpt0@remote.test");
	assert_string_equal(c.rec.rcpt[1].addr, "rcpt1@remote.test");
	assert_int_equal(c.rec.body_size, strlen(BODY1));
	spool_ctl_free(&c);

	assert_int_equal(spool_body_get(f->sp, name, &body, &len), 0);
	assert_int_equal(len, strlen(BODY1));
	assert_memory_equal(body, BODY1, len);
	free(body);

	assert_true(fx_is_due(f->sp, name, T0 + 500));
	assert_false(fx_is_due(f->sp, name, T0 + 499));
	assert_int_equal(user_files(f->sp, "TCPIP$SMTP"), 1);
	assert_int_equal(user_files(f->sp, "SYSTEM"), 0);
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
	assert_int_equal(table_entries(f->sp, TB_BYUSER), 1);
}

/* Fail unless name's record has the state a fresh ENQUEUE at stamp of
 * three recipients gives it. */
static void check_fresh_state(struct spool *sp, const char *name,
			      uint64_t stamp)
{
	struct spool_ctl got;

	fx_get(sp, name, &got);
	assert_int_equal(got.rec.created_ms, stamp);
	assert_int_equal(got.rec.next_ms, stamp);
	assert_int_equal(got.rec.attempts, 0);
	assert_int_equal(got.rec.hold, 0);
	assert_int_equal(got.rec.claim.node, 0);
	assert_int_equal(got.rec.claim.lease_end, 0);
	assert_int_equal(got.rec.claim.fence, 0);
	assert_int_equal(got.rec.last_fence, 0);
	assert_int_equal(got.rec.nrcpt, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(got.rec.rcpt[i].state, RCPT_PENDING);
		assert_int_equal(got.rec.rcpt[i].attempts, 0);
		assert_int_equal(got.rec.rcpt[i].last_ms, 0);
		assert_string_equal(got.rec.rcpt[i].reply, "");
	}
	assert_int_equal(spool_rec_count(&got.rec, RCPT_PENDING), 3);
	spool_ctl_free(&got);
	assert_true(fx_is_due(sp, name, stamp));
	assert_false(fx_is_due(sp, name, stamp - 1));
}

static void test_enqueue_sets_created_next_and_pending_from_stamp(void **st)
{
	struct fx *f = *st;
	struct spool_rcpt r[8];
	char addrs[8][32], name[SPOOL_NAME_MAX + 1];
	struct enq q = {.stamp = T0 + 7000, .nrcpt = 3};
	struct spool_cmd c;
	struct spool_result res;

	fx_name(name, sizeof(name), 2);
	q.name = name;
	enq_build(&c, &q, r, addrs);
	/* state fields a proposer might fill in are the FSM's to set */
	c.u.enqueue.rec.created_ms = 5;
	c.u.enqueue.rec.next_ms = 6;
	c.u.enqueue.rec.attempts = 9;
	c.u.enqueue.rec.hold = 1;
	c.u.enqueue.rec.claim.node = 3;
	c.u.enqueue.rec.claim.lease_end = T0 * 2;
	c.u.enqueue.rec.claim.fence = 77;
	c.u.enqueue.rec.last_fence = 78;
	for (int i = 0; i < 3; i++) {
		r[i].state = RCPT_DELIVERED;
		r[i].attempts = 4;
		r[i].last_ms = 8;
		r[i].reply = "250 already";
	}
	assert_int_equal(fx_status(f->sp, &c), 0);
	check_fresh_state(f->sp, name, T0 + 7000);

	/* the same through spool_apply_cmd, where the state fields reach the
	 * applier (the codec does not carry them) */
	fx_name(name, sizeof(name), 102);
	q.stamp = T0 + 8000;
	c.stamp = q.stamp;
	c.u.enqueue.name = name;
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, 0);
	spool_result_free(&res);
	check_fresh_state(f->sp, name, T0 + 8000);
}

static void
test_enqueue_same_name_twice_is_duplicate_and_changes_nothing(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct enq q = {.stamp = T0, .nrcpt = 1};
	struct spool_result res;
	struct spool_ctl c;
	struct wbuf before;
	void *body;
	size_t len;

	fx_name(name, sizeof(name), 3);
	q.name = name;
	enq_apply(f->sp, &q, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.flags & RES_F_DUPLICATE, 0);
	spool_result_free(&res);

	/* (the retry's stamp is not above what was applied since: the
	 * highest stamp, which is in the image, stays too) */
	fx_stamp_floor(f->sp, T0 + 10000);
	snap_take(f->sp, &before);
	q.stamp = T0 + 10000; /* a retried proposal, different in every way */
	q.nrcpt = 4;
	q.hops = 2;
	q.body = "Subject: other\r\n\r\nanother body\r\n";
	enq_apply(f->sp, &q, &res);
	assert_int_equal(res.status, 0);
	assert_true(res.flags & RES_F_DUPLICATE);
	spool_result_free(&res);
	assert_unchanged(f->sp, &before);

	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.created_ms, T0);
	assert_int_equal(c.rec.nrcpt, 1);
	spool_ctl_free(&c);
	assert_int_equal(spool_body_get(f->sp, name, &body, &len), 0);
	assert_int_equal(len, strlen(BODY1));
	assert_memory_equal(body, BODY1, len);
	free(body);
}

static void test_enqueue_refuses_invalid_name_with_badname(void **st)
{
	struct fx *f = *st;
	static const char *const bad[] = {
	    "hello",
	    "2311142213200_TCPIP$SMTP_00000001.TCPIP_NODE1",  /* 13 digits */
	    "23111422132000_TCPIP$SMTP_0000001.TCPIP_NODE1",  /* 7 hex */
	    "23111422132000_TCPIP$SMTP_0000000G.TCPIP_NODE1", /* not hex */
	    "23111422132000_TCPIP$SMTP_00000001.TCPIP_",      /* no node */
	    "23111422132000_TCPIP$SMTP_00000001.tcpip_NODE1", /* tag case */
	    "23111422132000__00000001.TCPIP_NODE1",	      /* no user */
	};
	struct wbuf before;

	snap_take(f->sp, &before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct enq q = {.name = bad[i], .stamp = T0, .nrcpt = 1};

		assert_int_equal(enq_status(f->sp, &q), SPOOL_E_BADNAME);
	}
	assert_unchanged(f->sp, &before);
}

static void test_enqueue_refuses_user_not_matching_name(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct enq q = {.stamp = T0, .nrcpt = 1, .user = "SYSTEM"};
	struct wbuf before;

	fx_name(name, sizeof(name), 4); /* user TCPIP$SMTP in the name */
	q.name = name;
	snap_take(f->sp, &before);
	assert_int_equal(enq_status(f->sp, &q), SPOOL_E_INVAL);
	q.user = "tcpip$smtp"; /* user names are compared exactly */
	assert_int_equal(enq_status(f->sp, &q), SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
	assert_false(ctl_exists(f->sp, name));
}

static void test_enqueue_refuses_zero_recipients(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct enq q = {.stamp = T0, .nrcpt = 0};
	struct spool_rcpt r[1];
	char addrs[1][32];
	struct spool_cmd c;
	struct spool_result res;
	struct wbuf before, wb;

	fx_name(name, sizeof(name), 5);
	q.name = name;
	enq_build(&c, &q, r, addrs);
	/* the codec will not even encode it ... */
	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	wbuf_free(&wb);
	/* ... and the applier refuses it when handed the decoded form */
	snap_take(f->sp, &before);
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_INVAL);
	spool_result_free(&res);
	assert_unchanged(f->sp, &before);
	assert_false(ctl_exists(f->sp, name));
}

static void test_enqueue_refuses_hops_over_default_maximum(void **st)
{
	struct fx *f = *st;
	char n1[SPOOL_NAME_MAX + 1], n2[SPOOL_NAME_MAX + 1];
	struct enq q = {.stamp = T0, .nrcpt = 1};
	struct spool_config cfg;
	struct wbuf before;

	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_HOP_COUNT_MAXIMUM], 16);
	fx_name(n1, sizeof(n1), 6);
	fx_name(n2, sizeof(n2), 7);

	q.name = n1;
	q.hops = 17;
	snap_take(f->sp, &before);
	assert_int_equal(enq_status(f->sp, &q), SPOOL_E_HOPS);
	assert_unchanged(f->sp, &before);
	assert_false(ctl_exists(f->sp, n1));

	q.name = n2;
	q.hops = 16; /* at the maximum is still accepted */
	assert_int_equal(enq_status(f->sp, &q), 0);
	assert_true(ctl_exists(f->sp, n2));
}

static void test_enqueue_hop_limit_follows_set_config(void **st)
{
	struct fx *f = *st;
	char n1[SPOOL_NAME_MAX + 1], n2[SPOOL_NAME_MAX + 1];
	struct enq q = {.stamp = T0, .nrcpt = 1};
	struct wbuf before;

	assert_int_equal(set_num(f->sp, CFG_HOP_COUNT_MAXIMUM, 3), 0);
	fx_name(n1, sizeof(n1), 8);
	fx_name(n2, sizeof(n2), 9);

	q.name = n1;
	q.hops = 4;
	snap_take(f->sp, &before);
	assert_int_equal(enq_status(f->sp, &q), SPOOL_E_HOPS);
	assert_unchanged(f->sp, &before);

	q.name = n2;
	q.hops = 3;
	assert_int_equal(enq_status(f->sp, &q), 0);
	assert_true(ctl_exists(f->sp, n2));
}

/* ---- REMOVE ---- */

static void test_remove_missing_file_is_notfound(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1], other[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	one_file(f, other, sizeof(other), 10);
	fx_name(name, sizeof(name), 11);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0, 0, NULL),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0, 1, NULL),
			 SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

static void test_remove_refused_under_live_claim(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	one_file(f, name, sizeof(name), 12);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, LEASE, NULL), 0);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0 + 1000, 0, NULL),
			 SPOOL_E_CLAIMED);
	/* force does not override a live lease */
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0 + 1000, 1, NULL),
			 SPOOL_E_CLAIMED);
	/* the last millisecond of the lease is still live */
	assert_int_equal(
	    queue_op(f->sp, CMD_REMOVE, name, T0 + LEASE - 1, 1, NULL),
	    SPOOL_E_CLAIMED);
	assert_unchanged(f->sp, &before);
	assert_true(ctl_exists(f->sp, name));
}

static void test_remove_with_expired_claim_needs_force(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_result res;
	struct wbuf before;
	void *body;
	size_t len;

	one_file(f, name, sizeof(name), 13);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, 1000, NULL), 0);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0 + 1000, 0, NULL),
			 SPOOL_E_CLAIM_STALE);
	assert_unchanged(f->sp, &before);
	assert_true(ctl_exists(f->sp, name));

	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0 + 1000, 1, &res),
			 0);
	assert_true(res.flags & RES_F_DELETED);
	spool_result_free(&res);
	assert_false(ctl_exists(f->sp, name));
	assert_int_equal(spool_body_get(f->sp, name, &body, &len),
			 SPOOL_E_NOTFOUND);
	assert_null(body);
	assert_false(fx_is_due(f->sp, name, UINT64_MAX));
	assert_int_equal(user_files(f->sp, "TCPIP$SMTP"), 0);
	assert_int_equal(table_entries(f->sp, TB_CTL), 0);
	assert_int_equal(table_entries(f->sp, TB_BODY), 0);
	assert_int_equal(table_entries(f->sp, TB_DUE), 0);
	assert_int_equal(table_entries(f->sp, TB_BYUSER), 0);
}

static void test_remove_deletes_ctl_body_due_and_byuser(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1], keep[SPOOL_NAME_MAX + 1];
	void *body;
	size_t len;

	one_file(f, name, sizeof(name), 14);
	one_file(f, keep, sizeof(keep), 15);
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0 + 5, 0, NULL), 0);
	assert_false(ctl_exists(f->sp, name));
	assert_int_equal(spool_body_get(f->sp, name, &body, &len),
			 SPOOL_E_NOTFOUND);
	assert_false(fx_is_due(f->sp, name, UINT64_MAX));
	/* the other file is untouched */
	assert_true(ctl_exists(f->sp, keep));
	assert_true(fx_is_due(f->sp, keep, T0));
	assert_int_equal(user_files(f->sp, "TCPIP$SMTP"), 1);
	assert_int_equal(table_entries(f->sp, TB_CTL), 1);
	assert_int_equal(table_entries(f->sp, TB_BODY), 1);
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
	assert_int_equal(table_entries(f->sp, TB_BYUSER), 1);
	/* a second remove finds nothing */
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0 + 6, 0, NULL),
			 SPOOL_E_NOTFOUND);
}

static void test_remove_of_held_file_deletes_it(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];

	one_file(f, name, sizeof(name), 16);
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0, 0, NULL), 0);
	assert_int_equal(queue_op(f->sp, CMD_REMOVE, name, T0, 0, NULL), 0);
	assert_false(ctl_exists(f->sp, name));
	assert_int_equal(table_entries(f->sp, TB_DUE), 0);
	assert_int_equal(table_entries(f->sp, TB_BYUSER), 0);
	assert_int_equal(table_entries(f->sp, TB_BODY), 0);
}

/* ---- REQUEUE (SEND MAIL) ---- */

static void test_requeue_makes_deferred_file_due_at_stamp(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_result res;
	struct spool_ctl c;
	uint64_t fence, later;

	one_file(f, name, sizeof(name), 17);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, LEASE, &fence), 0);
	assert_int_equal(fx_complete(f->sp, name, 2, fence, T0 + 1000, 1,
				     OUT_DEFERRED, NULL),
			 0);
	fx_get(f->sp, name, &c);
	later = c.rec.next_ms;
	spool_ctl_free(&c);
	assert_true(later > T0 + 2000);
	assert_false(fx_is_due(f->sp, name, T0 + 2000));

	assert_int_equal(queue_op(f->sp, CMD_REQUEUE, name, T0 + 2000, 0, &res),
			 0);
	assert_int_equal(res.value, T0 + 2000);
	spool_result_free(&res);
	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.next_ms, T0 + 2000);
	spool_ctl_free(&c);
	assert_true(fx_is_due(f->sp, name, T0 + 2000));
	assert_false(fx_is_due(f->sp, name, T0 + 1999));
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
}

static void test_requeue_with_after_makes_file_due_then(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	const uint64_t at = T0 + 3600000;
	struct spool_result res;
	struct spool_ctl c;

	one_file(f, name, sizeof(name), 18);
	assert_int_equal(queue_op(f->sp, CMD_REQUEUE, name, T0 + 10, at, &res),
			 0);
	assert_int_equal(res.value, at);
	spool_result_free(&res);
	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.next_ms, at);
	spool_ctl_free(&c);
	assert_false(fx_is_due(f->sp, name, at - 1));
	assert_true(fx_is_due(f->sp, name, at));
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
}

static void test_requeue_releases_hold(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_ctl c;

	one_file(f, name, sizeof(name), 19);
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0, 0, NULL), 0);
	assert_false(fx_is_due(f->sp, name, UINT64_MAX));
	assert_int_equal(queue_op(f->sp, CMD_REQUEUE, name, T0 + 50, 0, NULL),
			 0);
	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.hold, 0);
	assert_int_equal(c.rec.next_ms, T0 + 50);
	spool_ctl_free(&c);
	assert_true(fx_is_due(f->sp, name, T0 + 50));
	assert_int_equal(fx_claim(f->sp, name, 2, T0 + 50, LEASE, NULL), 0);
}

static void test_requeue_refused_under_live_claim(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	one_file(f, name, sizeof(name), 20);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, LEASE, NULL), 0);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_REQUEUE, name, T0 + 1000, 0, NULL),
			 SPOOL_E_CLAIMED);
	assert_int_equal(
	    queue_op(f->sp, CMD_REQUEUE, name, T0 + 1000, T0 + 2000, NULL),
	    SPOOL_E_CLAIMED);
	assert_unchanged(f->sp, &before);
}

static void test_requeue_clears_expired_claim(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_ctl c;
	uint64_t fence;

	one_file(f, name, sizeof(name), 21);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, 1000, &fence), 0);
	assert_int_equal(queue_op(f->sp, CMD_REQUEUE, name, T0 + 5000, 0, NULL),
			 0);
	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.claim.node, 0);
	assert_int_equal(c.rec.claim.lease_end, 0);
	assert_int_equal(c.rec.next_ms, T0 + 5000);
	spool_ctl_free(&c);
	assert_true(fx_is_due(f->sp, name, T0 + 5000));
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
	/* the file is free: another node may claim it */
	assert_int_equal(fx_claim(f->sp, name, 3, T0 + 5000, LEASE, NULL), 0);
}

static void test_requeue_missing_file_is_notfound(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	fx_name(name, sizeof(name), 22);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_REQUEUE, name, T0, 0, NULL),
			 SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

/* ---- HOLD / RELEASE ---- */

static void test_hold_takes_file_off_due_list_and_blocks_claim(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_ctl c;
	struct wbuf before;

	one_file(f, name, sizeof(name), 23);
	assert_true(fx_is_due(f->sp, name, T0));
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0 + 1, 0, NULL), 0);
	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.hold, 1);
	spool_ctl_free(&c);
	assert_false(fx_is_due(f->sp, name, UINT64_MAX));
	assert_int_equal(table_entries(f->sp, TB_DUE), 0);
	assert_int_equal(user_files(f->sp, "TCPIP$SMTP"), 1);

	fx_stamp_floor(f->sp, T0 + 2); /* the image holds the highest stamp */
	snap_take(f->sp, &before);
	assert_int_equal(fx_claim(f->sp, name, 2, T0 + 2, LEASE, NULL),
			 SPOOL_E_HELD);
	assert_unchanged(f->sp, &before);
}

static void test_hold_refused_under_live_claim(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	one_file(f, name, sizeof(name), 24);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, LEASE, NULL), 0);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0 + 10, 0, NULL),
			 SPOOL_E_CLAIMED);
	assert_unchanged(f->sp, &before);
}

static void test_release_puts_held_file_back_on_due_list(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_ctl c;

	one_file(f, name, sizeof(name), 25);
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0 + 1, 0, NULL), 0);
	assert_int_equal(queue_op(f->sp, CMD_RELEASE, name, T0 + 2, 0, NULL),
			 0);
	fx_get(f->sp, name, &c);
	assert_int_equal(c.rec.hold, 0);
	assert_int_equal(c.rec.next_ms, T0); /* RELEASE keeps the schedule */
	spool_ctl_free(&c);
	assert_true(fx_is_due(f->sp, name, T0));
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
	assert_int_equal(fx_claim(f->sp, name, 2, T0 + 3, LEASE, NULL), 0);
}

static void test_hold_and_release_are_idempotent(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	one_file(f, name, sizeof(name), 26);
	/* (the image holds the highest stamp applied: take it past them) */
	fx_stamp_floor(f->sp, T0 + 5);
	/* RELEASE of a file that is not held: success, nothing changes */
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_RELEASE, name, T0 + 1, 0, NULL),
			 0);
	assert_unchanged(f->sp, &before);

	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0 + 2, 0, NULL), 0);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0 + 3, 0, NULL), 0);
	assert_unchanged(f->sp, &before);

	assert_int_equal(queue_op(f->sp, CMD_RELEASE, name, T0 + 4, 0, NULL),
			 0);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_RELEASE, name, T0 + 5, 0, NULL),
			 0);
	assert_unchanged(f->sp, &before);
	assert_true(fx_is_due(f->sp, name, T0));
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
}

static void test_hold_and_release_of_missing_file_are_notfound(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf before;

	fx_name(name, sizeof(name), 27);
	snap_take(f->sp, &before);
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0, 0, NULL),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(queue_op(f->sp, CMD_RELEASE, name, T0, 0, NULL),
			 SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

static void test_release_after_expired_claim_is_due_and_claimable(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];

	one_file(f, name, sizeof(name), 28);
	assert_int_equal(fx_claim(f->sp, name, 2, T0, 1000, NULL), 0);
	/* the lease has ended: HOLD is allowed */
	assert_int_equal(queue_op(f->sp, CMD_HOLD, name, T0 + 2000, 0, NULL),
			 0);
	assert_int_equal(table_entries(f->sp, TB_DUE), 0);
	assert_int_equal(queue_op(f->sp, CMD_RELEASE, name, T0 + 3000, 0, NULL),
			 0);
	assert_int_equal(table_entries(f->sp, TB_DUE), 1);
	assert_true(fx_is_due(f->sp, name, T0 + 3000));
	assert_int_equal(fx_claim(f->sp, name, 3, T0 + 3000, LEASE, NULL), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_enqueue_creates_ctl_body_due_and_byuser),
	    T(test_enqueue_sets_created_next_and_pending_from_stamp),
	    T(test_enqueue_same_name_twice_is_duplicate_and_changes_nothing),
	    T(test_enqueue_refuses_invalid_name_with_badname),
	    T(test_enqueue_refuses_user_not_matching_name),
	    T(test_enqueue_refuses_zero_recipients),
	    T(test_enqueue_refuses_hops_over_default_maximum),
	    T(test_enqueue_hop_limit_follows_set_config),
	    T(test_remove_missing_file_is_notfound),
	    T(test_remove_refused_under_live_claim),
	    T(test_remove_with_expired_claim_needs_force),
	    T(test_remove_deletes_ctl_body_due_and_byuser),
	    T(test_remove_of_held_file_deletes_it),
	    T(test_requeue_makes_deferred_file_due_at_stamp),
	    T(test_requeue_with_after_makes_file_due_then),
	    T(test_requeue_releases_hold),
	    T(test_requeue_refused_under_live_claim),
	    T(test_requeue_clears_expired_claim),
	    T(test_requeue_missing_file_is_notfound),
	    T(test_hold_takes_file_off_due_list_and_blocks_claim),
	    T(test_hold_refused_under_live_claim),
	    T(test_release_puts_held_file_back_on_due_list),
	    T(test_hold_and_release_are_idempotent),
	    T(test_hold_and_release_of_missing_file_are_notfound),
	    T(test_release_after_expired_claim_is_due_and_claimable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
