/*
 * test_spool.c — the spool environment and its readers (spool/store/spool.c,
 * spool/store/apply.c, spool/codec/err.c): open on a fresh directory, reopen with and
 * without keep, the applied counter, refusal of malformed or foreign-version
 * buffers without any change, an allocation failure while decoding
 * (injected through a calloc of this binary), the due list (now, max,
 * order), visiting a user's control files, the highest applied stamp
 * (kept across a reopen and in snapshot images), and the error-code
 * tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/codec/cmd.h"
#include "spool/codec/ctlname.h"
#include "spool/codec/err.h"
#include "spool/store/spool.h"
#include "spool/codec/wire.h"
#include "tests/unit/spool_fixture.h"

/* ---- fault injection: calloc that fails on demand ----
 * The test binary's calloc takes precedence over the C library's (and
 * AddressSanitizer's); it forwards to the real one unless calloc_fail is
 * set, and counts the calls it refused. */
extern void *__interceptor_calloc(size_t n, size_t size) __attribute__((weak));
extern void *__libc_calloc(size_t n, size_t size);
static int calloc_fail;
static int calloc_refused;

void *calloc(size_t n, size_t size)
{
	if (calloc_fail) {
		calloc_refused++;
		return NULL;
	}
	if (__interceptor_calloc)
		return __interceptor_calloc(n, size);
	return __libc_calloc(n, size);
}

/* ---- local helpers ---- */

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

/* Control-file name of user for sequence seq (time T0, node NODE1). */
static void user_name(char *buf, size_t size, const char *user, uint32_t seq)
{
	assert_int_equal(ctlname_make(buf, size, T0, user, seq, "NODE1"), 0);
}

/* Build an ENQUEUE of name for user at stamp with one recipient. */
static void enq_build(struct spool_cmd *c, struct spool_rcpt *r,
		      const char *name, const char *user, uint64_t stamp)
{
	memset(c, 0, sizeof(*c));
	memset(r, 0, sizeof(*r));
	r->addr = "rcpt@remote.test";
	r->orcpt = "";
	r->reply = "";
	c->type = CMD_ENQUEUE;
	c->stamp = stamp;
	c->node = 1;
	c->u.enqueue.name = name;
	c->u.enqueue.rec.user = user;
	c->u.enqueue.rec.sender = "sender@example.org";
	c->u.enqueue.rec.client = "127.0.0.9";
	c->u.enqueue.rec.helo = "client.example.org";
	c->u.enqueue.rec.envid = "";
	c->u.enqueue.rec.origin_node = 1;
	c->u.enqueue.rec.nrcpt = 1;
	c->u.enqueue.rec.rcpt = r;
	c->u.enqueue.body = "Subject: x\r\n\r\nbody\r\n";
	c->u.enqueue.body_len = strlen(c->u.enqueue.body);
}

/* ENQUEUE name for user at stamp; returns the status. */
static int enq_user(struct spool *sp, const char *name, const char *user,
		    uint64_t stamp)
{
	struct spool_rcpt r;
	struct spool_cmd c;

	enq_build(&c, &r, name, user, stamp);
	return fx_status(sp, &c);
}

/* Apply raw bytes; the environment must not fail. Returns res.status and
 * checks that a refused buffer yields an empty result. */
static int apply_raw(struct spool *sp, const void *p, size_t len)
{
	struct spool_result res;
	int st;

	memset(&res, 0x5a, sizeof(res));
	assert_int_equal(spool_apply(sp, p, len, &res), 0);
	st = res.status;
	if (st == SPOOL_E_MALFORMED || st == SPOOL_E_VERSION) {
		assert_int_equal(res.flags, 0);
		assert_int_equal(res.value, 0);
		assert_int_equal(res.n, 0);
		assert_null(res.items);
	}
	spool_result_free(&res);
	return st;
}

/* Encode c into wb (initialised here). */
static void encode(const struct spool_cmd *c, struct wbuf *wb)
{
	wbuf_init(wb);
	assert_int_equal(spool_cmd_encode(c, wb), 0);
}

/* Deterministic pseudo-random numbers (xorshift64). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Names visited by spool_ctl_foreach, with a stop after max visits. */
struct visit {
	int n;
	int max;
	char names[16][SPOOL_NAME_MAX + 1];
	char users[16][CTLNAME_USER_MAX + 1];
};

static int visit_cb(const struct spool_ctl *c, void *arg)
{
	struct visit *v = arg;

	assert_true(v->n < 16);
	snprintf(v->names[v->n], sizeof(v->names[v->n]), "%s", c->name);
	snprintf(v->users[v->n], sizeof(v->users[v->n]), "%s", c->rec.user);
	v->n++;
	return v->max && v->n >= v->max;
}

static void visit(struct spool *sp, const char *user, int max, struct visit *v)
{
	memset(v, 0, sizeof(*v));
	v->max = max;
	assert_int_equal(spool_ctl_foreach(sp, user, visit_cb, v), 0);
}

/* The due list at now (at most max), names joined by ','. */
static int due_text(struct spool *sp, uint64_t now, int max, char *out,
		    size_t size)
{
	char *names[32];
	int n;

	assert_true(max <= 32);
	n = spool_due_list(sp, now, names, max);
	assert_true(n >= 0 && n <= max);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		size_t used = strlen(out);

		assert_true(used + strlen(names[i]) + 2 < size);
		snprintf(out + used, size - used, "%s%s", i ? "," : "",
			 names[i]);
		free(names[i]);
	}
	return n;
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

/* ---- open / reopen ---- */

static void test_open_creates_missing_directory_with_empty_spool(void **st)
{
	char parent[64], dir[128], p[192];
	struct spool_opts o = {.map_size = (size_t)64 << 20, .keep = 0};
	struct spool_config cfg;
	struct visit v;
	struct stat sb;
	struct spool *sp;
	char out[64];

	snprintf(parent, sizeof(parent), "/tmp/test_spool.XXXXXX");
	assert_non_null(mkdtemp(parent));
	snprintf(dir, sizeof(dir), "%s/spool", parent);
	assert_int_equal(spool_open(&sp, dir, &o), 0);
	assert_non_null(sp);
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));

	assert_int_equal(spool_applied(sp), 0);
	visit(sp, NULL, 0, &v);
	assert_int_equal(v.n, 0);
	assert_int_equal(due_text(sp, UINT64_MAX, 8, out, sizeof(out)), 0);
	assert_int_equal(spool_config_load(sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_HOP_COUNT_MAXIMUM], 16);
	assert_int_equal(spool_alias_has(sp, "example.org"), 0);

	spool_close(sp);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rmdir(parent), 0);
}

static void test_reopen_with_keep_keeps_contents(void **st)
{
	struct fx *f = *st;
	struct spool_opts keep = {.map_size = (size_t)64 << 20, .keep = 1};
	char name[SPOOL_NAME_MAX + 1];
	struct spool_config cfg;
	struct spool_cmd c;
	struct spool_cfg_item it = {.key = CFG_QUEUES, .num = 5};
	struct wbuf before;

	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 2), 0);
	memset(&c, 0, sizeof(c));
	c.type = CMD_SET_CONFIG;
	c.stamp = T0;
	c.u.set_config.n = 1;
	c.u.set_config.items = &it;
	assert_int_equal(fx_status(f->sp, &c), 0);
	snap_take(f->sp, &before);

	spool_close(f->sp);
	f->sp = NULL;
	assert_int_equal(spool_open(&f->sp, f->dir, &keep), 0);
	assert_unchanged(f->sp, &before);
	assert_int_equal(spool_applied(f->sp), 0); /* counted since open */
	assert_true(fx_is_due(f->sp, name, T0));
	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_QUEUES], 5);
	/* and it is still writable */
	fx_name(name, sizeof(name), 2);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
}

static void test_reopen_without_keep_starts_empty(void **st)
{
	struct fx *f = *st;
	struct spool_opts fresh = {.map_size = (size_t)64 << 20, .keep = 0};
	char name[SPOOL_NAME_MAX + 1];
	struct spool_ctl c;
	struct visit v;
	struct wbuf empty;
	struct spool *other;
	char dir2[64];

	/* the image of a spool that never saw a command */
	snprintf(dir2, sizeof(dir2), "/tmp/test_spool.XXXXXX");
	assert_non_null(mkdtemp(dir2));
	assert_int_equal(spool_open(&other, dir2, &fresh), 0);
	snap_take(other, &empty);
	spool_close(other);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/data.mdb", dir2);
		unlink(p);
		snprintf(p, sizeof(p), "%s/lock.mdb", dir2);
		unlink(p);
		rmdir(dir2);
	}

	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	spool_close(f->sp);
	f->sp = NULL;
	assert_int_equal(spool_open(&f->sp, f->dir, &fresh), 0);
	assert_int_equal(spool_ctl_get(f->sp, name, &c), SPOOL_E_NOTFOUND);
	visit(f->sp, NULL, 0, &v);
	assert_int_equal(v.n, 0);
	assert_false(fx_is_due(f->sp, name, UINT64_MAX));
	assert_unchanged(f->sp, &empty);
}

/* ---- the highest applied stamp ---- */

static uint64_t max_stamp(struct spool *sp)
{
	uint64_t st = 1;

	assert_int_equal(spool_max_stamp(sp, &st), 0);
	return st;
}

static void test_max_stamp_is_the_highest_stamp_applied(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_cmd rm;

	assert_int_equal(max_stamp(f->sp), 0); /* nothing applied */
	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0 + 5000, 1), 0);
	assert_int_equal(max_stamp(f->sp), T0 + 5000);
	/* a lower stamp (an older leader's entry) never lowers it */
	fx_name(name, sizeof(name), 2);
	assert_int_equal(fx_enqueue(f->sp, name, T0 + 1000, 1), 0);
	assert_int_equal(max_stamp(f->sp), T0 + 5000);
	/* a refused command changes nothing, its stamp included */
	fx_name(name, sizeof(name), 3);
	memset(&rm, 0, sizeof(rm));
	rm.type = CMD_REMOVE;
	rm.stamp = T0 + 9000;
	rm.node = 1;
	rm.u.remove.name = name;
	assert_int_equal(fx_status(f->sp, &rm), SPOOL_E_NOTFOUND);
	assert_int_equal(max_stamp(f->sp), T0 + 5000);
}

static void test_max_stamp_survives_reopen_and_snapshot_restore(void **st)
{
	struct fx *f = *st;
	struct fx g = {.sp = NULL};
	struct spool_opts keep = {.map_size = (size_t)64 << 20, .keep = 1};
	char name[SPOOL_NAME_MAX + 1];
	struct wbuf img;

	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0 + 7000, 1), 0);
	spool_close(f->sp);
	f->sp = NULL;
	assert_int_equal(spool_open(&f->sp, f->dir, &keep), 0);
	assert_int_equal(max_stamp(f->sp), T0 + 7000);

	/* a node that starts from (or installs) a snapshot gets it too */
	snap_take(f->sp, &img);
	fx_open(&g);
	assert_int_equal(max_stamp(g.sp), 0);
	assert_int_equal(spool_restore(g.sp, img.p, img.len), 0);
	assert_int_equal(max_stamp(g.sp), T0 + 7000);
	wbuf_free(&img);
	fx_close(&g);
}

/* ---- the applied counter ---- */

static void test_applied_counts_every_command_including_refused(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_cmd c;
	struct spool_result res;
	struct wbuf wb;
	const uint8_t junk[3] = {1, 2, 3};

	assert_int_equal(spool_applied(f->sp), 0);
	memset(&c, 0, sizeof(c));
	c.type = CMD_NOOP;
	c.stamp = T0;
	assert_int_equal(fx_status(f->sp, &c), 0);
	assert_int_equal(spool_applied(f->sp), 1);

	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	assert_int_equal(spool_applied(f->sp), 2);
	/* a duplicate, then a business refusal */
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	assert_int_equal(fx_enqueue(f->sp, "no-such-name", T0, 1),
			 SPOOL_E_BADNAME);
	assert_int_equal(spool_applied(f->sp), 4);

	/* malformed and foreign-version buffers count too */
	assert_int_equal(apply_raw(f->sp, junk, sizeof(junk)),
			 SPOOL_E_MALFORMED);
	assert_int_equal(spool_applied(f->sp), 5);
	encode(&c, &wb);
	wb.p[0] = SPOOL_CMD_VERSION + 1;
	assert_int_equal(apply_raw(f->sp, wb.p, wb.len), SPOOL_E_VERSION);
	wbuf_free(&wb);
	assert_int_equal(spool_applied(f->sp), 6);

	/* and so do decoded commands */
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	spool_result_free(&res);
	c.type = CMD_REMOVE;
	c.u.remove.name = "missing";
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_NOTFOUND);
	spool_result_free(&res);
	assert_int_equal(spool_applied(f->sp), 8);
}

/* ---- malformed buffers ---- */

static void test_every_truncation_is_malformed_and_changes_nothing(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1], other[SPOOL_NAME_MAX + 1];
	struct spool_rcpt r;
	struct spool_cmd c;
	struct wbuf wb, before;
	uint64_t applied;

	fx_name(other, sizeof(other), 1);
	assert_int_equal(fx_enqueue(f->sp, other, T0, 1), 0);
	fx_name(name, sizeof(name), 2);
	enq_build(&c, &r, name, "TCPIP$SMTP", T0);
	encode(&c, &wb);
	snap_take(f->sp, &before);
	applied = spool_applied(f->sp);
	for (size_t len = 1; len < wb.len; len++) {
		void *copy = malloc(len); /* exact size: ASan sees overreads */

		assert_non_null(copy);
		memcpy(copy, wb.p, len);
		assert_int_equal(apply_raw(f->sp, copy, len),
				 SPOOL_E_MALFORMED);
		free(copy);
	}
	{
		int s = apply_raw(f->sp, wb.p, 0);

		assert_true(s == SPOOL_E_MALFORMED || s == SPOOL_E_VERSION);
	}
	assert_int_equal(spool_applied(f->sp), applied + wb.len);
	assert_unchanged(f->sp, &before);
	/* the whole buffer still applies */
	assert_int_equal(apply_raw(f->sp, wb.p, wb.len), 0);
	assert_true(fx_is_due(f->sp, name, T0));
	wbuf_free(&wb);
}

static void test_trailing_byte_is_malformed_and_changes_nothing(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_rcpt r;
	struct spool_cmd c;
	struct wbuf wb, before;

	fx_name(name, sizeof(name), 3);
	enq_build(&c, &r, name, "TCPIP$SMTP", T0);
	encode(&c, &wb);
	wbuf_u8(&wb, 0);
	snap_take(f->sp, &before);
	assert_int_equal(apply_raw(f->sp, wb.p, wb.len), SPOOL_E_MALFORMED);
	assert_unchanged(f->sp, &before);
	wbuf_free(&wb);
}

static void test_unknown_type_is_malformed(void **st)
{
	struct fx *f = *st;
	struct spool_cmd c;
	struct wbuf wb, before;

	memset(&c, 0, sizeof(c));
	c.type = CMD_NOOP;
	c.stamp = T0;
	encode(&c, &wb);
	snap_take(f->sp, &before);
	wb.p[1] = CMD__COUNT;
	assert_int_equal(apply_raw(f->sp, wb.p, wb.len), SPOOL_E_MALFORMED);
	wb.p[1] = 0xff;
	assert_int_equal(apply_raw(f->sp, wb.p, wb.len), SPOOL_E_MALFORMED);
	assert_unchanged(f->sp, &before);
	wbuf_free(&wb);
}

static void test_random_bytes_are_refused_and_change_nothing(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	uint8_t buf[400];
	struct wbuf before;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	fx_name(name, sizeof(name), 4);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	snap_take(f->sp, &before);
	for (int i = 0; i < 2000; i++) {
		size_t len = 1 + rnd(&seed) % sizeof(buf);
		int s;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rnd(&seed);
		if (i % 2 && len > SPOOL_CMD_HDR_LEN) {
			/* a plausible header, random payload */
			buf[0] = SPOOL_CMD_VERSION;
			buf[1] = (uint8_t)(rnd(&seed) % CMD__COUNT);
			buf[2] = buf[3] = 0;
		}
		s = apply_raw(f->sp, buf, len);
		if (buf[0] == SPOOL_CMD_VERSION)
			assert_int_equal(s, SPOOL_E_MALFORMED);
		else
			assert_int_equal(s, SPOOL_E_VERSION);
	}
	assert_unchanged(f->sp, &before);
}

static void test_wrong_version_is_version_error_and_changes_nothing(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	static const uint8_t versions[] = {0, SPOOL_CMD_VERSION + 1, 0xff};
	struct spool_rcpt r;
	struct spool_cmd c;
	struct wbuf wb, before;

	fx_name(name, sizeof(name), 5);
	enq_build(&c, &r, name, "TCPIP$SMTP", T0);
	encode(&c, &wb);
	snap_take(f->sp, &before);
	for (size_t i = 0; i < sizeof(versions); i++) {
		wb.p[0] = versions[i];
		assert_int_equal(apply_raw(f->sp, wb.p, wb.len),
				 SPOOL_E_VERSION);
	}
	assert_unchanged(f->sp, &before);
	assert_false(fx_is_due(f->sp, name, UINT64_MAX));
	wbuf_free(&wb);
}

/* Buffers of the out-of-memory test, freed by its teardown even when an
 * assertion fails. */
static struct wbuf oom_cmd, oom_before;

static int teardown_oom(void **st)
{
	calloc_fail = 0;
	wbuf_free(&oom_cmd);
	wbuf_free(&oom_before);
	return teardown(st);
}

static void test_out_of_memory_in_decode_is_an_environment_failure(void **st)
{
	struct fx *f = *st;
	char name[SPOOL_NAME_MAX + 1];
	struct spool_rcpt r;
	struct spool_cmd c;
	struct spool_result res;
	uint64_t applied;
	int rc;

	fx_name(name, sizeof(name), 6);
	enq_build(&c, &r, name, "TCPIP$SMTP", T0);
	encode(&c, &oom_cmd);
	snap_take(f->sp, &oom_before);
	applied = spool_applied(f->sp);

	/* decoding the recipients needs an array: make it fail */
	calloc_refused = 0;
	calloc_fail = 1;
	rc = spool_apply(f->sp, oom_cmd.p, oom_cmd.len, &res);
	calloc_fail = 0;
	spool_result_free(&res);
	if (calloc_refused == 0)
		skip(); /* calloc could not be interposed in this build */
	/* Every other node decodes this command and applies it: this node
	 * must not report it as malformed and carry on (its spool would
	 * diverge), but fail like any environment failure (spool.h: negative
	 * return, nothing changed, not counted as applied). */
	assert_int_equal(rc, SPOOL_E_NOMEM);
	assert_int_equal(spool_applied(f->sp), applied);
	assert_unchanged(f->sp, &oom_before);

	/* with memory the same bytes apply */
	assert_int_equal(apply_raw(f->sp, oom_cmd.p, oom_cmd.len), 0);
	assert_true(fx_is_due(f->sp, name, T0));
}

/* ---- due list ---- */

static void test_due_list_respects_now_max_and_due_order(void **st)
{
	struct fx *f = *st;
	char n[5][SPOOL_NAME_MAX + 1], want[1200], got[1200];

	for (uint32_t i = 1; i <= 4; i++)
		fx_name(n[i], sizeof(n[i]), i);
	/* name order 1 2 3 4; due order 2 4 3 1 (2 and 4 tie: name order) */
	assert_int_equal(fx_enqueue(f->sp, n[1], T0 + 3000, 1), 0);
	assert_int_equal(fx_enqueue(f->sp, n[2], T0 + 1000, 1), 0);
	assert_int_equal(fx_enqueue(f->sp, n[3], T0 + 2000, 1), 0);
	assert_int_equal(fx_enqueue(f->sp, n[4], T0 + 1000, 1), 0);

	assert_int_equal(due_text(f->sp, T0 + 999, 32, got, sizeof(got)), 0);
	assert_int_equal(due_text(f->sp, T0 + 1000, 32, got, sizeof(got)), 2);
	snprintf(want, sizeof(want), "%s,%s", n[2], n[4]);
	assert_string_equal(got, want);
	assert_int_equal(due_text(f->sp, T0 + 2500, 32, got, sizeof(got)), 3);
	snprintf(want, sizeof(want), "%s,%s,%s", n[2], n[4], n[3]);
	assert_string_equal(got, want);
	assert_int_equal(due_text(f->sp, T0 + 5000, 32, got, sizeof(got)), 4);
	snprintf(want, sizeof(want), "%s,%s,%s,%s", n[2], n[4], n[3], n[1]);
	assert_string_equal(got, want);
	/* max caps the count, keeping the earliest */
	assert_int_equal(due_text(f->sp, T0 + 5000, 2, got, sizeof(got)), 2);
	snprintf(want, sizeof(want), "%s,%s", n[2], n[4]);
	assert_string_equal(got, want);
	assert_int_equal(due_text(f->sp, T0 + 5000, 0, got, sizeof(got)), 0);
}

static void test_due_list_leaves_out_claimed_until_lease_end(void **st)
{
	struct fx *f = *st;
	char a[SPOOL_NAME_MAX + 1], b[SPOOL_NAME_MAX + 1], want[600], got[600];

	fx_name(a, sizeof(a), 1);
	fx_name(b, sizeof(b), 2);
	assert_int_equal(fx_enqueue(f->sp, a, T0, 1), 0);
	assert_int_equal(fx_enqueue(f->sp, b, T0 + 10, 1), 0);
	assert_int_equal(fx_claim(f->sp, a, 2, T0 + 100, 5000, NULL), 0);
	assert_int_equal(due_text(f->sp, T0 + 5099, 32, got, sizeof(got)), 1);
	assert_string_equal(got, b);
	/* at the lease end it is claimable again, ordered by that time */
	assert_int_equal(due_text(f->sp, T0 + 5100, 32, got, sizeof(got)), 2);
	snprintf(want, sizeof(want), "%s,%s", b, a);
	assert_string_equal(got, want);
}

/* ---- visiting by user ---- */

static void test_ctl_foreach_by_user_visits_only_that_users_files(void **st)
{
	struct fx *f = *st;
	static const char *const users[] = {"SYSTEM", "alice",	    "al",
					    "alice2", "TCPIP$SMTP", "alice"};
	char n[6][SPOOL_NAME_MAX + 1];
	struct visit v;

	for (uint32_t i = 0; i < 6; i++) {
		user_name(n[i], sizeof(n[i]), users[i], i + 1);
		assert_int_equal(enq_user(f->sp, n[i], users[i], T0), 0);
	}

	visit(f->sp, "alice", 0, &v);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.names[0], n[1]); /* key order: seq 2, seq 6 */
	assert_string_equal(v.names[1], n[5]);
	assert_string_equal(v.users[0], "alice");
	assert_string_equal(v.users[1], "alice");

	visit(f->sp, "al", 0, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.names[0], n[2]);
	visit(f->sp, "alice2", 0, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.names[0], n[3]);
	visit(f->sp, "SYSTEM", 0, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.names[0], n[0]);
	visit(f->sp, "TCPIP$SMTP", 0, &v);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.users[0], "TCPIP$SMTP");
	visit(f->sp, "system", 0, &v); /* users are case-sensitive */
	assert_int_equal(v.n, 0);
	visit(f->sp, "bob", 0, &v);
	assert_int_equal(v.n, 0);
	visit(f->sp, "alic", 0, &v);
	assert_int_equal(v.n, 0);

	visit(f->sp, NULL, 0, &v);
	assert_int_equal(v.n, 6);
}

static void test_ctl_foreach_stops_when_callback_returns_nonzero(void **st)
{
	struct fx *f = *st;
	char n[4][SPOOL_NAME_MAX + 1];
	struct visit v;

	for (uint32_t i = 0; i < 4; i++) {
		user_name(n[i], sizeof(n[i]), "alice", i + 1);
		assert_int_equal(enq_user(f->sp, n[i], "alice", T0), 0);
	}
	visit(f->sp, "alice", 2, &v);
	assert_int_equal(v.n, 2);
	visit(f->sp, NULL, 3, &v);
	assert_int_equal(v.n, 3);
}

/* ---- error codes ---- */

static void test_every_error_code_has_text_and_distinct_name(void **st)
{
	static const int odd[] = {SPOOL_E__LAST, SPOOL_E__LAST - 1, 1, 1000,
				  -1000};

	for (int a = 0; a > SPOOL_E__LAST; a--) {
		const char *text = spool_strerror(a), *name = spool_errname(a);

		assert_non_null(text);
		assert_non_null(name);
		assert_true(text[0] != 0);
		assert_true(name[0] != 0);
		assert_string_not_equal(name, spool_errname(SPOOL_E__LAST));
		for (int b = a - 1; b > SPOOL_E__LAST; b--) {
			assert_string_not_equal(name, spool_errname(b));
			assert_string_not_equal(text, spool_strerror(b));
		}
	}
	assert_string_equal(spool_errname(SPOOL_E_NOTFOUND), "not_found");
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		assert_non_null(spool_strerror(odd[i]));
		assert_non_null(spool_errname(odd[i]));
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_open_creates_missing_directory_with_empty_spool),
	    T(test_reopen_with_keep_keeps_contents),
	    T(test_reopen_without_keep_starts_empty),
	    T(test_max_stamp_is_the_highest_stamp_applied),
	    T(test_max_stamp_survives_reopen_and_snapshot_restore),
	    T(test_applied_counts_every_command_including_refused),
	    T(test_every_truncation_is_malformed_and_changes_nothing),
	    T(test_trailing_byte_is_malformed_and_changes_nothing),
	    T(test_unknown_type_is_malformed),
	    T(test_random_bytes_are_refused_and_change_nothing),
	    T(test_wrong_version_is_version_error_and_changes_nothing),
	    cmocka_unit_test_setup_teardown(
		test_out_of_memory_in_decode_is_an_environment_failure, setup,
		teardown_oom),
	    T(test_due_list_respects_now_max_and_due_order),
	    T(test_due_list_leaves_out_claimed_until_lease_end),
	    T(test_ctl_foreach_by_user_visits_only_that_users_files),
	    T(test_ctl_foreach_stops_when_callback_returns_nonzero),
	    T(test_every_error_code_has_text_and_distinct_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
