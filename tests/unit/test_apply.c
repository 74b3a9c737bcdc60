/*
 * test_apply.c — spool_apply() as a whole: determinism (a seeded random
 * stream of commands applied to two fresh spools gives byte-identical
 * snapshots, and a snapshot restored elsewhere continues identically) and
 * the rule that malformed input changes nothing.
 */
#include "spool_fixture.h"

#define NCMD 12000
#define POOL 64

struct gen {
	unsigned seed;
	uint64_t now;
	char names[POOL][64];
	uint64_t fence[POOL]; /* last fence seen granted, per name */
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
	return (uint32_t)rand_r(&g->seed) % n;
}

static const char *const domains[] = {"a.test", "B.test", "c.example",
				      "mail.d.test", "e.test."};

/*
 * Build the next random command into wb. Random but fully determined by
 * g's seed, so two generators with the same seed give the same stream.
 */
static void next_cmd(struct gen *g, struct wbuf *wb)
{
	struct spool_cmd c;
	struct spool_rcpt r[3];
	struct spool_outcome_item it[3];
	struct spool_cfg_item ci;
	const char *names[4];
	const char *addrs[2] = {"192.0.2.1", "2001:db8::1"};
	uint32_t i = rnd(g, POOL), k = rnd(g, 100);

	memset(&c, 0, sizeof(c));
	memset(r, 0, sizeof(r));
	g->now += rnd(g, 30000);
	c.stamp = g->now;
	c.node = 1 + rnd(g, 3);
	c.req = rnd(g, 1000000);
	if (k < 3) { /* random garbage */
		uint32_t len = rnd(g, 64);
		for (uint32_t b = 0; b < len; b++)
			wbuf_u8(wb, (uint8_t)rnd(g, 256));
		return;
	}
	if (k < 25) {
		uint32_t nr = 1 + rnd(g, 3);
		for (uint32_t j = 0; j < nr; j++) {
			r[j].addr = j == 0   ? "x@remote.test"
				    : j == 1 ? "y@other.test"
					     : "z@local.test";
			r[j].orcpt = "";
			r[j].reply = "";
		}
		c.type = CMD_ENQUEUE;
		c.u.enqueue.name = g->names[i];
		c.u.enqueue.rec.user = "TCPIP$SMTP";
		c.u.enqueue.rec.sender = "s@example.org";
		c.u.enqueue.rec.client = "127.0.0.9";
		c.u.enqueue.rec.helo = "h";
		c.u.enqueue.rec.envid = "";
		c.u.enqueue.rec.hops = rnd(g, 20);
		c.u.enqueue.rec.nrcpt = nr;
		c.u.enqueue.rec.rcpt = r;
		c.u.enqueue.body = "Subject: x\r\n\r\nbody\r\n";
		c.u.enqueue.body_len = 1 + rnd(g, 20);
	} else if (k < 50) {
		uint32_t n = 1 + rnd(g, 4);
		for (uint32_t j = 0; j < n; j++)
			names[j] = g->names[rnd(g, POOL)];
		c.type = CMD_CLAIM;
		c.u.claim.node = c.node;
		c.u.claim.lease_ms = 1000 + rnd(g, 120000);
		c.u.claim.n = n;
		c.u.claim.names = names;
	} else if (k < 55) {
		c.type = CMD_RENEW;
		c.u.renew.name = g->names[i];
		c.u.renew.node = c.node;
		c.u.renew.fence = 1 + rnd(g, 400);
		c.u.renew.lease_ms = 60000;
	} else if (k < 75) {
		uint32_t n = 1 + rnd(g, 3);
		for (uint32_t j = 0; j < n; j++) {
			it[j].rcpt = rnd(g, 3);
			it[j].outcome = (uint8_t)(1 + rnd(g, 3));
			it[j].reply = "2/4/5xx text";
		}
		c.type = CMD_COMPLETE;
		c.u.complete.name = g->names[i];
		c.u.complete.node = c.node;
		c.u.complete.fence = 1 + rnd(g, 400);
		c.u.complete.n = n;
		c.u.complete.items = it;
		c.u.complete.flags = rnd(g, 2);
	} else if (k < 80) {
		c.type = CMD_REMOVE;
		c.u.remove.name = g->names[i];
		c.u.remove.force = (uint8_t)rnd(g, 2);
	} else if (k < 84) {
		c.type = CMD_REQUEUE;
		c.u.requeue.name = g->names[i];
		c.u.requeue.after_ms = rnd(g, 2) ? 0 : g->now + 5000;
	} else if (k < 88) {
		c.type = rnd(g, 2) ? CMD_HOLD : CMD_RELEASE;
		c.u.hold.name = g->names[i];
	} else if (k < 90) {
		ci.key = (uint16_t)(rnd(g, 2) ? CFG_INTERVAL_INITIAL
					      : CFG_INTERVAL_MAXIMUM);
		ci.reset = (uint8_t)rnd(g, 2);
		ci.num = 1000 + rnd(g, 600000);
		ci.str = "";
		c.type = CMD_SET_CONFIG;
		c.u.set_config.n = 1;
		c.u.set_config.items = &ci;
	} else if (k < 93) {
		c.type = rnd(g, 2) ? CMD_ALIAS_ADD : CMD_ALIAS_REMOVE;
		c.u.alias.domain = domains[rnd(g, 5)];
	} else if (k < 95) {
		c.type = rnd(g, 2) ? CMD_MX_ADD : CMD_MX_REMOVE;
		c.u.mx.domain = domains[rnd(g, 5)];
		c.u.mx.pref = (uint16_t)rnd(g, 30);
		c.u.mx.gateway = rnd(g, 2) ? "gw.test" : "192.0.2.7";
	} else if (k < 96) {
		c.type = rnd(g, 2) ? CMD_HOST_ADD : CMD_HOST_REMOVE;
		c.u.host.name = domains[rnd(g, 5)];
		c.u.host.n = 1 + rnd(g, 2);
		c.u.host.addrs = addrs;
	} else if (k < 97) {
		c.type = rnd(g, 2) ? CMD_FORWARD_SET : CMD_FORWARD_CLEAR;
		c.u.forward.user = rnd(g, 2) ? "postmaster" : "Alice";
		c.u.forward.target = "system";
	} else if (k < 98) {
		c.type = CMD_NODE_SET;
		c.u.node_set.id = 1 + rnd(g, 3);
		c.u.node_set.mask = NODE_F_MAIL | NODE_F_NAME;
		c.u.node_set.name = "NODE";
		c.u.node_set.mail_started = (uint8_t)rnd(g, 2);
	} else if (k < 99) {
		c.type = CMD_REPAIR;
	} else {
		c.type = CMD_NOOP;
	}
	assert_int_equal(spool_cmd_encode(&c, wb), 0);
}

static void gen_init(struct gen *g, unsigned seed)
{
	memset(g, 0, sizeof(*g));
	g->seed = seed;
	g->now = T0;
	for (int i = 0; i < POOL; i++)
		assert_int_equal(ctlname_make(g->names[i], sizeof(g->names[i]),
					      T0 + (uint64_t)i * 10,
					      "TCPIP$SMTP", (uint32_t)i,
					      "NODE1"),
				 0);
}

/* Apply n commands of g to sp; count the outcomes. */
static void run_stream(struct spool *sp, struct gen *g, int n, int *ok)
{
	for (int i = 0; i < n; i++) {
		struct wbuf wb;
		struct spool_result res;

		wbuf_init(&wb);
		next_cmd(g, &wb);
		assert_int_equal(spool_apply(sp, wb.p, wb.len, &res), 0);
		if (res.status == 0)
			(*ok)++;
		spool_result_free(&res);
		wbuf_free(&wb);
	}
}

static void snap(struct spool *sp, struct wbuf *wb)
{
	wbuf_init(wb);
	assert_int_equal(spool_snapshot(sp, wb), 0);
}

static void test_same_stream_gives_identical_snapshots(void **state)
{
	struct fx a, b;
	struct gen ga, gb;
	struct wbuf sa, sb;
	int oka = 0, okb = 0;

	fx_open(&a);
	fx_open(&b);
	gen_init(&ga, 4242);
	gen_init(&gb, 4242);
	run_stream(a.sp, &ga, NCMD, &oka);
	run_stream(b.sp, &gb, NCMD, &okb);
	assert_int_equal(oka, okb);
	/* the stream really did things: a good share succeeded */
	assert_true(oka > NCMD / 5);
	snap(a.sp, &sa);
	snap(b.sp, &sb);
	assert_int_equal(sa.len, sb.len);
	assert_memory_equal(sa.p, sb.p, sa.len);
	assert_int_equal(spool_applied(a.sp), NCMD);
	wbuf_free(&sa);
	wbuf_free(&sb);
	fx_close(&a);
	fx_close(&b);
}

static void test_different_streams_give_different_snapshots(void **state)
{
	struct fx a, b;
	struct gen ga, gb;
	struct wbuf sa, sb;
	int ok = 0;

	fx_open(&a);
	fx_open(&b);
	gen_init(&ga, 1);
	gen_init(&gb, 2);
	run_stream(a.sp, &ga, 2000, &ok);
	run_stream(b.sp, &gb, 2000, &ok);
	snap(a.sp, &sa);
	snap(b.sp, &sb);
	assert_false(sa.len == sb.len && memcmp(sa.p, sb.p, sa.len) == 0);
	wbuf_free(&sa);
	wbuf_free(&sb);
	fx_close(&a);
	fx_close(&b);
}

/* Snapshot half way, restore into a fresh spool, continue both: the
 * restored one ends byte-identical to the one that never stopped. */
static void test_restore_then_continue_matches(void **state)
{
	struct fx a, b;
	struct gen ga, gb;
	struct wbuf mid, sa, sb;
	int ok = 0;

	fx_open(&a);
	fx_open(&b);
	gen_init(&ga, 777);
	run_stream(a.sp, &ga, NCMD / 2, &ok);
	snap(a.sp, &mid);
	assert_int_equal(spool_restore(b.sp, mid.p, mid.len), 0);
	gb = ga; /* same generator position */
	run_stream(a.sp, &ga, NCMD / 2, &ok);
	run_stream(b.sp, &gb, NCMD / 2, &ok);
	snap(a.sp, &sa);
	snap(b.sp, &sb);
	assert_int_equal(sa.len, sb.len);
	assert_memory_equal(sa.p, sb.p, sa.len);
	wbuf_free(&mid);
	wbuf_free(&sa);
	wbuf_free(&sb);
	fx_close(&a);
	fx_close(&b);
}

/* Truncated, oversized, wrong-version and random commands are refused
 * and leave the spool as it was. */
static void test_malformed_commands_change_nothing(void **state)
{
	struct fx f;
	struct gen g;
	struct wbuf before, after, cmd;
	struct spool_result res;
	unsigned seed = 99;
	int ok = 0;
	char n[64];

	fx_open(&f);
	gen_init(&g, 31337);
	run_stream(f.sp, &g, 500, &ok);
	snap(f.sp, &before);

	/* a valid ENQUEUE, then every truncation of it */
	fx_name(n, sizeof(n), 4000);
	struct spool_rcpt r = {.addr = "a@b.test", .orcpt = "", .reply = ""};
	struct spool_cmd c;
	memset(&c, 0, sizeof(c));
	c.type = CMD_ENQUEUE;
	c.stamp = T0;
	c.u.enqueue.name = n;
	c.u.enqueue.rec.user = "TCPIP$SMTP";
	c.u.enqueue.rec.sender = c.u.enqueue.rec.client = "";
	c.u.enqueue.rec.helo = c.u.enqueue.rec.envid = "";
	c.u.enqueue.rec.nrcpt = 1;
	c.u.enqueue.rec.rcpt = &r;
	c.u.enqueue.body = "x";
	c.u.enqueue.body_len = 1;
	wbuf_init(&cmd);
	assert_int_equal(spool_cmd_encode(&c, &cmd), 0);
	for (size_t len = 0; len < cmd.len; len++) {
		assert_int_equal(spool_apply(f.sp, cmd.p, len, &res), 0);
		assert_int_not_equal(res.status, 0);
		spool_result_free(&res);
	}
	/* one byte too many */
	wbuf_u8(&cmd, 0);
	assert_int_equal(spool_apply(f.sp, cmd.p, cmd.len, &res), 0);
	assert_int_equal(res.status, SPOOL_E_MALFORMED);
	spool_result_free(&res);
	cmd.len--;
	/* wrong version */
	cmd.p[0] = SPOOL_CMD_VERSION + 1;
	assert_int_equal(spool_apply(f.sp, cmd.p, cmd.len, &res), 0);
	assert_int_equal(res.status, SPOOL_E_VERSION);
	spool_result_free(&res);
	cmd.p[0] = SPOOL_CMD_VERSION;
	/* a body length field claiming 4 GiB */
	{
		size_t off = cmd.len - 1 - 4; /* u32 length before "x" */
		uint8_t save[4];
		memcpy(save, cmd.p + off, 4);
		memset(cmd.p + off, 0xff, 4);
		assert_int_equal(spool_apply(f.sp, cmd.p, cmd.len, &res), 0);
		assert_int_equal(res.status, SPOOL_E_MALFORMED);
		spool_result_free(&res);
		memcpy(cmd.p + off, save, 4);
	}
	/* random buffers (bounded) */
	for (int i = 0; i < 2000; i++) {
		uint8_t buf[96];
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);
		for (size_t b = 0; b < len; b++)
			buf[b] = (uint8_t)rand_r(&seed);
		if (len > 0 && rand_r(&seed) % 2)
			buf[0] = SPOOL_CMD_VERSION;
		assert_int_equal(spool_apply(f.sp, buf, len, &res), 0);
		spool_result_free(&res);
	}
	wbuf_free(&cmd);
	snap(f.sp, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.p, after.p, before.len);
	wbuf_free(&before);
	wbuf_free(&after);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_stream_gives_identical_snapshots),
	    cmocka_unit_test(test_different_streams_give_different_snapshots),
	    cmocka_unit_test(test_restore_then_continue_matches),
	    cmocka_unit_test(test_malformed_commands_change_nothing),
	};

	return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}
