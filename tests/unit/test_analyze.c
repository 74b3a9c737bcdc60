/*
 * test_analyze.c — ANALYZE MAIL and REPAIR (spool/store/analyze.c): a clean spool
 * is clean, each kind of damage injected with spool_raw_put/del is found
 * under the right kind and name, one replicated REPAIR fixes everything,
 * and a repair is deterministic (same damage, same snapshot).
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

#include "spool/codec/cmd.h"
#include "spool/codec/ctlname.h"
#include "spool/store/spool.h"
#include "spool/codec/wire.h"

#define T0 1700000000000ull
#define LEASE_MS 60000ull
#define CLAIM_AT (T0 + 10000)
#define HOLDER 5

/* ---- helpers ---- */

struct tspool {
	char dir[64];
	struct spool *sp;
	/* the fixture's files */
	char
	    f1[SPOOL_NAME_MAX + 1]; /* TCPIP$SMTP, 2 rcpts, claimed by HOLDER */
	char f2[SPOOL_NAME_MAX + 1]; /* alice */
	char f3[SPOOL_NAME_MAX + 1]; /* TCPIP$SMTP, held */
	char f4[SPOOL_NAME_MAX + 1]; /* bob */
};

/* Encode and apply one command; returns the business status. */
static int apply(struct spool *sp, const struct spool_cmd *c,
		 struct spool_result *res)
{
	struct wbuf wb;

	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(c, &wb), 0);
	assert_int_equal(spool_apply(sp, wb.p, wb.len, res), 0);
	wbuf_free(&wb);
	return res->status;
}

static void enqueue(struct spool *sp, uint64_t stamp, const char *user,
		    uint32_t seq, uint32_t n, const char *body, char *out)
{
	struct spool_rcpt r[2];
	struct spool_cmd c;
	struct spool_result res;

	assert_true(n >= 1 && n <= 2);
	assert_int_equal(
	    ctlname_make(out, SPOOL_NAME_MAX + 1, stamp, user, seq, "node1"),
	    0);
	memset(r, 0, sizeof(r));
	for (uint32_t i = 0; i < n; i++) {
		r[i].addr = i == 0 ? "a@example.org" : "b@example.org";
		r[i].orcpt = "";
		r[i].reply = "";
	}
	memset(&c, 0, sizeof(c));
	c.type = CMD_ENQUEUE;
	c.stamp = stamp;
	c.node = 1;
	c.req = seq;
	c.u.enqueue.name = out;
	c.u.enqueue.rec.user = user;
	c.u.enqueue.rec.sender = "s@example.com";
	c.u.enqueue.rec.client = "127.0.0.1";
	c.u.enqueue.rec.helo = "client.example";
	c.u.enqueue.rec.envid = "";
	c.u.enqueue.rec.origin_node = 1;
	c.u.enqueue.rec.nrcpt = n;
	c.u.enqueue.rec.rcpt = r;
	c.u.enqueue.body = body;
	c.u.enqueue.body_len = strlen(body);
	assert_int_equal(apply(sp, &c, &res), 0);
	assert_int_equal(res.flags & RES_F_DUPLICATE, 0);
	spool_result_free(&res);
}

static void node_cmd(struct spool *sp, int type, uint64_t id)
{
	struct spool_cmd c;
	struct spool_result res;

	memset(&c, 0, sizeof(c));
	c.type = (uint8_t)type;
	c.stamp = T0;
	c.node = 1;
	c.u.node_set.id = id;
	c.u.node_set.mask = type == CMD_NODE_SET ? NODE_F_NAME : 0;
	c.u.node_set.name = "node5";
	c.u.node_set.smtp = "";
	c.u.node_set.cluster = "";
	assert_int_equal(apply(sp, &c, &res), 0);
	spool_result_free(&res);
}

static void name_cmd(struct spool *sp, int type, uint64_t stamp,
		     const char *name)
{
	struct spool_cmd c;
	struct spool_result res;

	memset(&c, 0, sizeof(c));
	c.type = (uint8_t)type;
	c.stamp = stamp;
	c.node = 1;
	c.u.hold.name = name;
	assert_int_equal(apply(sp, &c, &res), 0);
	spool_result_free(&res);
}

static void claim(struct spool *sp, uint64_t stamp, uint64_t node,
		  const char *name)
{
	struct spool_cmd c;
	struct spool_result res;
	const char *names[1] = {name};

	memset(&c, 0, sizeof(c));
	c.type = CMD_CLAIM;
	c.stamp = stamp;
	c.node = node;
	c.u.claim.node = node;
	c.u.claim.lease_ms = LEASE_MS;
	c.u.claim.n = 1;
	c.u.claim.names = names;
	assert_int_equal(apply(sp, &c, &res), 0);
	assert_int_equal(res.items[0].status, 0);
	spool_result_free(&res);
}

/* A REPAIR through the replicated path; returns the number fixed. */
static uint64_t repair(struct spool *sp)
{
	struct spool_cmd c;
	struct spool_result res;
	uint64_t n;

	memset(&c, 0, sizeof(c));
	c.type = CMD_REPAIR;
	c.stamp = T0 + 100000;
	c.node = 1;
	assert_int_equal(apply(sp, &c, &res), 0);
	n = res.value;
	spool_result_free(&res);
	return n;
}

/* Open a spool holding the fixture: a claim, a held file, two users. */
static void ts_open(struct tspool *t)
{
	struct spool_opts o = {.map_size = 64u << 20, .keep = 0};

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_analyze.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(spool_open(&t->sp, t->dir, &o), 0);
	node_cmd(t->sp, CMD_NODE_SET, HOLDER);
	enqueue(t->sp, T0 + 1000, "TCPIP$SMTP", 1, 2, "Subject: 1\r\n\r\n1\r\n",
		t->f1);
	enqueue(t->sp, T0 + 2000, "alice", 2, 1, "two\r\n", t->f2);
	enqueue(t->sp, T0 + 3000, "TCPIP$SMTP", 3, 1, "three\r\n", t->f3);
	enqueue(t->sp, T0 + 4000, "bob", 4, 1, "four\r\n", t->f4);
	claim(t->sp, CLAIM_AT, HOLDER, t->f1);
	name_cmd(t->sp, CMD_HOLD, T0 + 5000, t->f3);
}

static void ts_close(struct tspool *t)
{
	char p[128];

	spool_close(t->sp);
	snprintf(p, sizeof(p), "%s/data.mdb", t->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", t->dir);
	unlink(p);
	rmdir(t->dir);
}

static size_t due_key(uint8_t *k, uint64_t t, const char *name)
{
	size_t n = strlen(name);

	be64_put(k, t);
	memcpy(k + 8, name, n);
	return 8 + n;
}

static size_t byuser_key(uint8_t *k, const char *user, const char *name)
{
	size_t u = strlen(user), n = strlen(name);

	memcpy(k, user, u);
	k[u] = 0;
	memcpy(k + u + 1, name, n);
	return u + 1 + n;
}

/* The due time the spool's record of name asks for. */
static uint64_t due_of(struct spool *sp, const char *name)
{
	struct spool_ctl c;
	uint64_t t;

	assert_int_equal(spool_ctl_get(sp, name, &c), 0);
	t = spool_rec_due(&c.rec);
	spool_ctl_free(&c);
	return t;
}

/* Number of due entries of name claimable at now. */
static int due_count(struct spool *sp, uint64_t now, const char *name)
{
	char *names[64];
	int n = spool_due_list(sp, now, names, 64), hits = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		hits += strcmp(names[i], name) == 0;
		free(names[i]);
	}
	return hits;
}

static int has_problem(const struct spool_report *rep, int kind,
		       const char *name)
{
	for (uint32_t i = 0; i < rep->n; i++)
		if (rep->list[i].kind == kind &&
		    strcmp(rep->list[i].name, name) == 0)
			return 1;
	return 0;
}

static void analyze(struct spool *sp, struct spool_report *rep)
{
	assert_int_equal(spool_analyze(sp, rep), 0);
	assert_int_equal(rep->n, spool_report_total(rep) < 1000
				     ? spool_report_total(rep)
				     : 1000);
}

/* ANALYZE is clean and has seen every file. */
static void assert_clean(struct spool *sp, uint64_t files)
{
	struct spool_report rep;

	analyze(sp, &rep);
	for (uint32_t i = 0; i < rep.n; i++)
		fprintf(stderr, "left: %s %s\n",
			spool_problem_name(rep.list[i].kind), rep.list[i].name);
	assert_int_equal(spool_report_total(&rep), 0);
	assert_int_equal(rep.files_checked, files);
	spool_report_free(&rep);
}

/* Repair fixes exactly what ANALYZE reported, and then all is clean. */
static void repair_and_check(struct spool *sp, uint64_t reported,
			     uint64_t files_after)
{
	assert_int_equal(repair(sp), reported);
	assert_clean(sp, files_after);
	assert_int_equal(repair(sp), 0);
}

static void snap(struct spool *sp, struct wbuf *wb)
{
	wbuf_init(wb);
	assert_int_equal(spool_snapshot(sp, wb), 0);
}

/* Rewrite the record of name with every recipient DELIVERED. */
static void make_done(struct spool *sp, const char *name)
{
	struct spool_ctl c;
	struct wbuf wb;

	assert_int_equal(spool_ctl_get(sp, name, &c), 0);
	for (uint32_t i = 0; i < c.rec.nrcpt; i++)
		c.rec.rcpt[i].state = RCPT_DELIVERED;
	wbuf_init(&wb);
	assert_int_equal(spool_rec_encode(&c.rec, &wb), 0);
	assert_int_equal(
	    spool_raw_put(sp, "ctl", name, strlen(name), wb.p, wb.len), 0);
	wbuf_free(&wb);
	spool_ctl_free(&c);
}

/* ---- tests ---- */

static void test_clean_spool_analyzes_clean(void **st)
{
	struct tspool t;

	ts_open(&t);
	assert_clean(t.sp, 4);
	assert_int_equal(repair(t.sp), 0);
	ts_close(&t);
}

static void test_empty_spool_analyzes_clean(void **st)
{
	struct spool_opts o = {.map_size = 16u << 20, .keep = 0};
	struct tspool t;

	snprintf(t.dir, sizeof(t.dir), "/tmp/test_analyze.XXXXXX");
	assert_non_null(mkdtemp(t.dir));
	assert_int_equal(spool_open(&t.sp, t.dir, &o), 0);
	assert_clean(t.sp, 0);
	ts_close(&t);
}

static void test_missing_due_entry_is_found_and_re_added(void **st)
{
	struct tspool t;
	struct spool_report rep;
	uint8_t k[300];

	ts_open(&t);
	assert_int_equal(
	    spool_raw_del(t.sp, "due", k, due_key(k, due_of(t.sp, t.f2), t.f2)),
	    0);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f2), 0);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_int_equal(rep.counts[PROB_DUE_MISSING], 1);
	assert_true(has_problem(&rep, PROB_DUE_MISSING, t.f2));
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f2), 1);
	ts_close(&t);
}

static void test_due_entry_at_wrong_time_is_an_orphan(void **st)
{
	struct tspool t;
	struct spool_report rep;
	uint8_t k[300];
	uint64_t due;

	ts_open(&t);
	due = due_of(t.sp, t.f2);
	assert_int_equal(
	    spool_raw_put(t.sp, "due", k, due_key(k, due + 1000, t.f2), "", 0),
	    0);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f2), 2);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_true(has_problem(&rep, PROB_DUE_ORPHAN, t.f2));
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f2), 1);
	assert_int_equal(due_count(t.sp, due, t.f2), 1);
	ts_close(&t);
}

static void test_due_entry_without_ctl_or_of_held_file_is_an_orphan(void **st)
{
	struct tspool t;
	struct spool_report rep;
	uint8_t k[300];

	ts_open(&t);
	assert_int_equal(spool_raw_put(t.sp, "due", k,
				       due_key(k, T0, "no_such_file"), "", 0),
			 0);
	assert_int_equal(spool_raw_put(t.sp, "due", k,
				       due_key(k, due_of(t.sp, t.f3), t.f3), "",
				       0),
			 0);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 2);
	assert_int_equal(rep.counts[PROB_DUE_ORPHAN], 2);
	assert_true(has_problem(&rep, PROB_DUE_ORPHAN, "no_such_file"));
	assert_true(has_problem(&rep, PROB_DUE_ORPHAN, t.f3));
	spool_report_free(&rep);
	repair_and_check(t.sp, 2, 4);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f3), 0);
	ts_close(&t);
}

static int count_cb(const struct spool_ctl *c, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_missing_byuser_entry_is_found_and_re_added(void **st)
{
	struct tspool t;
	struct spool_report rep;
	uint8_t k[600];
	int n = 0;

	ts_open(&t);
	assert_int_equal(
	    spool_raw_del(t.sp, "byuser", k, byuser_key(k, "alice", t.f2)), 0);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_true(has_problem(&rep, PROB_BYUSER_MISSING, t.f2));
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	assert_int_equal(spool_ctl_foreach(t.sp, "alice", count_cb, &n), 0);
	assert_int_equal(n, 1);
	ts_close(&t);
}

static void
test_byuser_entry_of_other_user_or_without_ctl_is_an_orphan(void **st)
{
	struct tspool t;
	struct spool_report rep;
	uint8_t k[600];
	int n = 0;

	ts_open(&t);
	assert_int_equal(spool_raw_put(t.sp, "byuser", k,
				       byuser_key(k, "mallory", t.f2), "", 0),
			 0);
	assert_int_equal(spool_raw_put(t.sp, "byuser", k,
				       byuser_key(k, "alice", "gone_file"), "",
				       0),
			 0);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 2);
	assert_int_equal(rep.counts[PROB_BYUSER_ORPHAN], 2);
	assert_true(has_problem(&rep, PROB_BYUSER_ORPHAN, t.f2));
	assert_true(has_problem(&rep, PROB_BYUSER_ORPHAN, "gone_file"));
	spool_report_free(&rep);
	repair_and_check(t.sp, 2, 4);
	assert_int_equal(spool_ctl_foreach(t.sp, "mallory", count_cb, &n), 0);
	assert_int_equal(n, 0);
	ts_close(&t);
}

static void test_missing_body_is_found_and_its_file_deleted(void **st)
{
	struct tspool t;
	struct spool_report rep;
	struct spool_ctl c;

	ts_open(&t);
	assert_int_equal(spool_raw_del(t.sp, "body", t.f2, strlen(t.f2)), 0);
	analyze(t.sp, &rep);
	assert_int_equal(rep.counts[PROB_BODY_MISSING], 1);
	assert_true(has_problem(&rep, PROB_BODY_MISSING, t.f2));
	/* its index entries go with it */
	assert_true(has_problem(&rep, PROB_DUE_ORPHAN, t.f2));
	assert_true(has_problem(&rep, PROB_BYUSER_ORPHAN, t.f2));
	assert_int_equal(spool_report_total(&rep), 3);
	spool_report_free(&rep);
	repair_and_check(t.sp, 3, 3);
	assert_int_equal(spool_ctl_get(t.sp, t.f2, &c), SPOOL_E_NOTFOUND);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f2), 0);
	ts_close(&t);
}

static void test_body_of_wrong_size_counts_as_missing(void **st)
{
	struct tspool t;
	struct spool_report rep;
	struct spool_ctl c;
	void *body;
	size_t len;

	ts_open(&t);
	assert_int_equal(
	    spool_raw_put(t.sp, "body", t.f4, strlen(t.f4), "x", 1), 0);
	analyze(t.sp, &rep);
	assert_true(has_problem(&rep, PROB_BODY_MISSING, t.f4));
	assert_true(has_problem(&rep, PROB_BODY_ORPHAN, t.f4));
	assert_int_equal(spool_report_total(&rep), 4); /* + due, byuser */
	spool_report_free(&rep);
	repair_and_check(t.sp, 4, 3);
	assert_int_equal(spool_ctl_get(t.sp, t.f4, &c), SPOOL_E_NOTFOUND);
	assert_int_equal(spool_body_get(t.sp, t.f4, &body, &len),
			 SPOOL_E_NOTFOUND);
	ts_close(&t);
}

static void test_body_without_ctl_is_an_orphan(void **st)
{
	struct tspool t;
	struct spool_report rep;
	void *body;
	size_t len;

	ts_open(&t);
	assert_int_equal(spool_raw_put(t.sp, "body", "lost_body", 9, "data", 4),
			 0);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_true(has_problem(&rep, PROB_BODY_ORPHAN, "lost_body"));
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	assert_int_equal(spool_body_get(t.sp, "lost_body", &body, &len),
			 SPOOL_E_NOTFOUND);
	ts_close(&t);
}

/* The key of piece i (>= 1) of name's body in the bodyx table. */
static size_t piece_key(uint8_t *k, const char *name, uint32_t i)
{
	size_t n = strlen(name);

	memcpy(k, name, n);
	k[n] = (uint8_t)(i >> 24);
	k[n + 1] = (uint8_t)(i >> 16);
	k[n + 2] = (uint8_t)(i >> 8);
	k[n + 3] = (uint8_t)i;
	return n + 4;
}

/* A body in pieces (10,000 bytes: the first piece and pieces 1-2) whose
 * control file is gone is one orphan, and the repair removes every piece;
 * a piece missing from a live file's body makes the body missing. */
static void test_body_in_pieces_is_one_problem(void **st)
{
	char big[10001], name[SPOOL_NAME_MAX + 1], other[SPOOL_NAME_MAX + 1];
	uint8_t k[SPOOL_NAME_MAX + 4];
	struct tspool t;
	struct spool_report rep;

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ts_open(&t);
	enqueue(t.sp, T0 + 6000, "carol", 6, 1, big, name);
	enqueue(t.sp, T0 + 7000, "carol", 7, 1, big, other);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 0);
	spool_report_free(&rep);

	assert_int_equal(spool_raw_del(t.sp, "ctl", name, strlen(name)), 0);
	assert_int_equal(
	    spool_raw_del(t.sp, "bodyx", k, piece_key(k, other, 1)), 0);
	analyze(t.sp, &rep);
	/* name's body once, not once a piece; other's as a body of the
	 * wrong size is (missing, and its first piece an orphan) */
	assert_int_equal(rep.counts[PROB_BODY_ORPHAN], 2);
	assert_true(has_problem(&rep, PROB_BODY_ORPHAN, name));
	assert_true(has_problem(&rep, PROB_BODY_ORPHAN, other));
	assert_int_equal(rep.counts[PROB_BODY_MISSING], 1);
	assert_true(has_problem(&rep, PROB_BODY_MISSING, other));
	spool_report_free(&rep);
	/* name: body, due, byuser; other: missing body, body, due, byuser
	 * (its piece 2 goes with it, not counted) */
	repair_and_check(t.sp, 7, 4);
	for (uint32_t i = 1; i <= 2; i++) {
		assert_int_equal(
		    spool_raw_del(t.sp, "bodyx", k, piece_key(k, name, i)),
		    SPOOL_E_NOTFOUND);
		assert_int_equal(
		    spool_raw_del(t.sp, "bodyx", k, piece_key(k, other, i)),
		    SPOOL_E_NOTFOUND);
	}
	ts_close(&t);
}

static void
test_undecodable_ctl_is_corrupt_and_removed_with_its_entries(void **st)
{
	struct tspool t;
	struct spool_report rep;
	void *body;
	size_t len;
	int n = 0;

	ts_open(&t);
	assert_int_equal(
	    spool_raw_put(t.sp, "ctl", t.f2, strlen(t.f2), "\x01junk", 5), 0);
	analyze(t.sp, &rep);
	assert_int_equal(rep.counts[PROB_CTL_CORRUPT], 1);
	assert_true(has_problem(&rep, PROB_CTL_CORRUPT, t.f2));
	assert_true(has_problem(&rep, PROB_BODY_ORPHAN, t.f2));
	assert_true(has_problem(&rep, PROB_DUE_ORPHAN, t.f2));
	assert_true(has_problem(&rep, PROB_BYUSER_ORPHAN, t.f2));
	assert_int_equal(spool_report_total(&rep), 4);
	assert_int_equal(rep.files_checked, 4);
	spool_report_free(&rep);
	repair_and_check(t.sp, 4, 3);
	assert_int_equal(spool_body_get(t.sp, t.f2, &body, &len),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(spool_ctl_foreach(t.sp, "alice", count_cb, &n), 0);
	assert_int_equal(n, 0);
	ts_close(&t);
}

static void test_ctl_with_impossible_name_is_corrupt(void **st)
{
	struct tspool t;
	struct spool_report rep;
	char name[300];

	ts_open(&t);
	memset(name, 'n', sizeof(name)); /* longer than SPOOL_NAME_MAX */
	assert_int_equal(spool_raw_put(t.sp, "ctl", name, sizeof(name), "x", 1),
			 0);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_int_equal(rep.counts[PROB_CTL_CORRUPT], 1);
	assert_int_equal(strlen(rep.list[0].name), SPOOL_NAME_MAX);
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	ts_close(&t);
}

static void test_claim_by_removed_node_is_cleared(void **st)
{
	struct tspool t;
	struct spool_report rep;
	struct spool_ctl c;

	ts_open(&t);
	/* while the lease runs the file is not due */
	assert_int_equal(due_count(t.sp, CLAIM_AT, t.f1), 0);
	node_cmd(t.sp, CMD_NODE_REMOVE, HOLDER);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_true(has_problem(&rep, PROB_CLAIM_UNKNOWN_NODE, t.f1));
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	assert_int_equal(spool_ctl_get(t.sp, t.f1, &c), 0);
	assert_int_equal(c.rec.claim.node, 0);
	assert_int_equal(c.rec.claim.lease_end, 0);
	assert_int_equal(c.rec.nrcpt, 2);
	spool_ctl_free(&c);
	/* the due entry moved from the lease end to the next attempt */
	assert_int_equal(due_count(t.sp, CLAIM_AT, t.f1), 1);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f1), 1);
	ts_close(&t);
}

static void test_claim_on_held_file_by_removed_node_is_cleared(void **st)
{
	struct tspool t;
	struct spool_report rep;
	struct spool_ctl c;

	ts_open(&t);
	name_cmd(t.sp, CMD_HOLD, CLAIM_AT + 2 * LEASE_MS, t.f1);
	assert_int_equal(spool_ctl_get(t.sp, t.f1, &c), 0);
	assert_int_equal(c.rec.hold, 1);
	assert_int_equal(c.rec.claim.node, HOLDER);
	spool_ctl_free(&c);
	node_cmd(t.sp, CMD_NODE_REMOVE, HOLDER);
	analyze(t.sp, &rep);
	assert_int_equal(spool_report_total(&rep), 1);
	assert_true(has_problem(&rep, PROB_CLAIM_UNKNOWN_NODE, t.f1));
	spool_report_free(&rep);
	repair_and_check(t.sp, 1, 4);
	assert_int_equal(due_count(t.sp, UINT64_MAX, t.f1), 0);
	ts_close(&t);
}

static void test_finished_ctl_is_done_and_deleted(void **st)
{
	struct tspool t;
	struct spool_report rep;
	struct spool_ctl c;

	ts_open(&t);
	make_done(t.sp, t.f2);
	analyze(t.sp, &rep);
	assert_int_equal(rep.counts[PROB_CTL_DONE], 1);
	assert_true(has_problem(&rep, PROB_CTL_DONE, t.f2));
	assert_int_equal(spool_report_total(&rep), 4); /* + body, due, byuser */
	spool_report_free(&rep);
	repair_and_check(t.sp, 4, 3);
	assert_int_equal(spool_ctl_get(t.sp, t.f2, &c), SPOOL_E_NOTFOUND);
	ts_close(&t);
}

/* Every kind of damage at once, on the fixture of t. */
static void damage_all(struct tspool *t)
{
	uint8_t k[600];
	struct spool *sp = t->sp;

	assert_int_equal(
	    spool_raw_del(sp, "due", k, due_key(k, due_of(sp, t->f4), t->f4)),
	    0);
	assert_int_equal(
	    spool_raw_put(sp, "due", k, due_key(k, 7, "ghost"), "", 0), 0);
	assert_int_equal(
	    spool_raw_del(sp, "byuser", k, byuser_key(k, "bob", t->f4)), 0);
	assert_int_equal(
	    spool_raw_put(sp, "byuser", k, byuser_key(k, "eve", t->f3), "", 0),
	    0);
	assert_int_equal(spool_raw_put(sp, "body", "ghost", 5, "boo", 3), 0);
	assert_int_equal(spool_raw_del(sp, "body", t->f3, strlen(t->f3)), 0);
	make_done(sp, t->f2);
	node_cmd(sp, CMD_NODE_REMOVE, HOLDER);
	assert_int_equal(spool_raw_put(sp, "ctl", "zz_corrupt", 10, "", 0), 0);
}

static void test_one_repair_fixes_every_kind_at_once(void **st)
{
	struct tspool t;
	struct spool_report rep;
	uint64_t total;

	ts_open(&t);
	damage_all(&t);
	analyze(t.sp, &rep);
	for (int kind = PROB_DUE_MISSING; kind <= PROB_CTL_DONE; kind++)
		assert_true(rep.counts[kind] >= 1);
	assert_true(has_problem(&rep, PROB_DUE_MISSING, t.f4));
	assert_true(has_problem(&rep, PROB_DUE_ORPHAN, "ghost"));
	assert_true(has_problem(&rep, PROB_BYUSER_MISSING, t.f4));
	assert_true(has_problem(&rep, PROB_BYUSER_ORPHAN, t.f3));
	assert_true(has_problem(&rep, PROB_BODY_MISSING, t.f3));
	assert_true(has_problem(&rep, PROB_BODY_ORPHAN, "ghost"));
	assert_true(has_problem(&rep, PROB_CTL_CORRUPT, "zz_corrupt"));
	assert_true(has_problem(&rep, PROB_CLAIM_UNKNOWN_NODE, t.f1));
	assert_true(has_problem(&rep, PROB_CTL_DONE, t.f2));
	assert_int_equal(rep.files_checked, 5);
	total = spool_report_total(&rep);
	spool_report_free(&rep);
	/* f1 and f4 survive */
	repair_and_check(t.sp, total, 2);
	ts_close(&t);
}

static void test_analyze_changes_nothing(void **st)
{
	struct tspool t;
	struct spool_report rep;
	struct wbuf before, after;

	ts_open(&t);
	damage_all(&t);
	snap(t.sp, &before);
	analyze(t.sp, &rep);
	assert_true(spool_report_total(&rep) > 0);
	spool_report_free(&rep);
	snap(t.sp, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.p, after.p, before.len);
	wbuf_free(&before);
	wbuf_free(&after);
	ts_close(&t);
}

static void test_repair_of_same_damage_gives_identical_snapshots(void **st)
{
	struct tspool a, b;
	struct wbuf ia, ib, damaged;

	ts_open(&a);
	ts_open(&b);
	damage_all(&a);
	damage_all(&b);
	snap(a.sp, &damaged);
	assert_true(repair(a.sp) > 0);
	assert_true(repair(b.sp) > 0);
	snap(a.sp, &ia);
	snap(b.sp, &ib);
	assert_int_equal(ia.len, ib.len);
	assert_memory_equal(ia.p, ib.p, ia.len);
	/* and the repair did change something */
	assert_true(ia.len != damaged.len ||
		    memcmp(ia.p, damaged.p, ia.len) != 0);
	wbuf_free(&ia);
	wbuf_free(&ib);
	wbuf_free(&damaged);
	ts_close(&a);
	ts_close(&b);
}

static void test_report_lists_at_most_1000_problems_but_counts_all(void **st)
{
	struct tspool t;
	struct spool_report rep;
	char name[32];

	ts_open(&t);
	for (int i = 0; i < 1005; i++) {
		int n = snprintf(name, sizeof(name), "orphan_%04d", i);

		assert_int_equal(
		    spool_raw_put(t.sp, "body", name, (size_t)n, "b", 1), 0);
	}
	analyze(t.sp, &rep);
	assert_int_equal(rep.counts[PROB_BODY_ORPHAN], 1005);
	assert_int_equal(spool_report_total(&rep), 1005);
	assert_int_equal(rep.n, 1000);
	assert_string_equal(rep.list[0].name, "orphan_0000");
	assert_string_equal(rep.list[999].name, "orphan_0999");
	spool_report_free(&rep);
	repair_and_check(t.sp, 1005, 4);
	ts_close(&t);
}

static void test_raw_access_refuses_unknown_table_and_missing_key(void **st)
{
	struct tspool t;

	ts_open(&t);
	assert_int_equal(spool_raw_put(t.sp, "nosuch", "k", 1, "", 0),
			 SPOOL_E_INVAL);
	assert_int_equal(spool_raw_del(t.sp, "body", "absent", 6),
			 SPOOL_E_NOTFOUND);
	ts_close(&t);
}

static void test_problem_names_are_distinct(void **st)
{
	for (int a = PROB_DUE_MISSING; a <= PROB_CTL_DONE; a++) {
		assert_string_not_equal(spool_problem_name(a), "?");
		for (int b = a + 1; b <= PROB_CTL_DONE; b++)
			assert_string_not_equal(spool_problem_name(a),
						spool_problem_name(b));
	}
	assert_string_equal(spool_problem_name(0), "?");
	assert_string_equal(spool_problem_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean_spool_analyzes_clean),
	    cmocka_unit_test(test_empty_spool_analyzes_clean),
	    cmocka_unit_test(test_missing_due_entry_is_found_and_re_added),
	    cmocka_unit_test(test_due_entry_at_wrong_time_is_an_orphan),
	    cmocka_unit_test(
		test_due_entry_without_ctl_or_of_held_file_is_an_orphan),
	    cmocka_unit_test(test_missing_byuser_entry_is_found_and_re_added),
	    cmocka_unit_test(
		test_byuser_entry_of_other_user_or_without_ctl_is_an_orphan),
	    cmocka_unit_test(test_missing_body_is_found_and_its_file_deleted),
	    cmocka_unit_test(test_body_of_wrong_size_counts_as_missing),
	    cmocka_unit_test(test_body_without_ctl_is_an_orphan),
	    cmocka_unit_test(test_body_in_pieces_is_one_problem),
	    cmocka_unit_test(
		test_undecodable_ctl_is_corrupt_and_removed_with_its_entries),
	    cmocka_unit_test(test_ctl_with_impossible_name_is_corrupt),
	    cmocka_unit_test(test_claim_by_removed_node_is_cleared),
	    cmocka_unit_test(
		test_claim_on_held_file_by_removed_node_is_cleared),
	    cmocka_unit_test(test_finished_ctl_is_done_and_deleted),
	    cmocka_unit_test(test_one_repair_fixes_every_kind_at_once),
	    cmocka_unit_test(test_analyze_changes_nothing),
	    cmocka_unit_test(
		test_repair_of_same_damage_gives_identical_snapshots),
	    cmocka_unit_test(
		test_report_lists_at_most_1000_problems_but_counts_all),
	    cmocka_unit_test(
		test_raw_access_refuses_unknown_table_and_missing_key),
	    cmocka_unit_test(test_problem_names_are_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
