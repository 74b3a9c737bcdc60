/*
 * spool_fixture.h — helpers shared by the spool unit tests: a throw-away
 * spool in a temporary directory, and builders that encode a command and
 * apply it through spool_apply() exactly as the raft FSM does.
 * Header-only (static functions) so each test binary stays one file.
 */
#ifndef TESTS_SPOOL_FIXTURE_H
#define TESTS_SPOOL_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/codec/ctlname.h"
#include "spool/codec/wire.h"
#include "spool/store/spool.h"

#define T0 1700000000000ull /* a fixed stamp: 2023-11-14 */

struct fx {
	char dir[64];
	struct spool *sp;
};

static inline void fx_open(struct fx *f)
{
	struct spool_opts o = {.map_size = (size_t)256 << 20, .keep = 0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/spooltest.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spool_open(&f->sp, f->dir, &o), 0);
}

static inline void fx_close(struct fx *f)
{
	char p[128];

	spool_close(f->sp);
	f->sp = NULL;
	snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", f->dir);
	unlink(p);
	rmdir(f->dir);
}

/* Encode c and apply it; the environment must not fail. */
static inline void fx_apply(struct spool *sp, const struct spool_cmd *c,
			    struct spool_result *res)
{
	struct wbuf wb;

	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(c, &wb), 0);
	assert_int_equal(spool_apply(sp, wb.p, wb.len, res), 0);
	wbuf_free(&wb);
}

/* Apply and return only the status. */
static inline int fx_status(struct spool *sp, const struct spool_cmd *c)
{
	struct spool_result res;
	int st;

	fx_apply(sp, c, &res);
	st = res.status;
	spool_result_free(&res);
	return st;
}

/* Raise the spool's highest applied stamp to stamp (a NOOP at stamp), so
 * that a later command at or below it changes nothing at all: the stamp
 * is part of the image (spool_max_stamp). */
static inline void fx_stamp_floor(struct spool *sp, uint64_t stamp)
{
	struct spool_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = CMD_NOOP;
	c.stamp = stamp;
	c.node = 1;
	assert_int_equal(fx_status(sp, &c), 0);
}

/* A control-file name for sequence seq. */
static inline void fx_name(char *buf, size_t size, uint32_t seq)
{
	assert_int_equal(
	    ctlname_make(buf, size, T0, "TCPIP$SMTP", seq, "NODE1"), 0);
}

/* ENQUEUE name at stamp with nrcpt recipients rcptN@remote.test; the
 * result's flags in *flags when flags is not NULL. */
static inline int fx_enqueue_flags(struct spool *sp, const char *name,
				   uint64_t stamp, uint32_t nrcpt,
				   uint32_t *flags)
{
	struct spool_rcpt r[16];
	char addrs[16][32];
	struct spool_cmd c;

	assert_true(nrcpt <= 16);
	memset(&c, 0, sizeof(c));
	memset(r, 0, sizeof(r));
	for (uint32_t i = 0; i < nrcpt; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "rcpt%u@remote.test", i);
		r[i].addr = addrs[i];
		r[i].orcpt = "";
		r[i].reply = "";
	}
	c.type = CMD_ENQUEUE;
	c.stamp = stamp;
	c.node = 1;
	c.u.enqueue.name = name;
	c.u.enqueue.rec.user = "TCPIP$SMTP";
	c.u.enqueue.rec.sender = "alice@example.org";
	c.u.enqueue.rec.client = "127.0.0.9";
	c.u.enqueue.rec.helo = "client.example.org";
	c.u.enqueue.rec.envid = "";
	c.u.enqueue.rec.origin_node = 1;
	c.u.enqueue.rec.nrcpt = nrcpt;
	c.u.enqueue.rec.rcpt = r;
	c.u.enqueue.body = "Subject: t\r\n\r\nhello\r\n";
	c.u.enqueue.body_len = strlen(c.u.enqueue.body);
	if (flags == NULL)
		return fx_status(sp, &c);

	struct spool_result res;
	int st;

	fx_apply(sp, &c, &res);
	st = res.status;
	*flags = res.flags;
	spool_result_free(&res);
	return st;
}

/* ENQUEUE name at stamp with nrcpt recipients rcptN@remote.test. */
static inline int fx_enqueue(struct spool *sp, const char *name, uint64_t stamp,
			     uint32_t nrcpt)
{
	return fx_enqueue_flags(sp, name, stamp, nrcpt, NULL);
}

/* CLAIM one name for node at stamp; returns status, *fence on grant. */
static inline int fx_claim(struct spool *sp, const char *name, uint64_t node,
			   uint64_t stamp, uint64_t lease, uint64_t *fence)
{
	struct spool_cmd c;
	struct spool_result res;
	const char *names[1] = {name};
	int st;

	memset(&c, 0, sizeof(c));
	c.type = CMD_CLAIM;
	c.stamp = stamp;
	c.node = node;
	c.u.claim.node = node;
	c.u.claim.lease_ms = lease;
	c.u.claim.n = 1;
	c.u.claim.names = names;
	fx_apply(sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.n, 1);
	st = res.items[0].status;
	if (fence)
		*fence = res.items[0].fence;
	spool_result_free(&res);
	return st;
}

/* COMPLETE with one outcome for every recipient (all the same). */
static inline int fx_complete(struct spool *sp, const char *name, uint64_t node,
			      uint64_t fence, uint64_t stamp, uint32_t nrcpt,
			      int outcome, struct spool_result *res_out)
{
	struct spool_outcome_item it[16];
	struct spool_cmd c;
	struct spool_result res;
	int st;

	memset(&c, 0, sizeof(c));
	for (uint32_t i = 0; i < nrcpt; i++) {
		it[i].rcpt = i;
		it[i].outcome = (uint8_t)outcome;
		it[i].reply = outcome == OUT_DELIVERED ? "250 ok" : "451 later";
	}
	c.type = CMD_COMPLETE;
	c.stamp = stamp;
	c.node = node;
	c.u.complete.name = name;
	c.u.complete.node = node;
	c.u.complete.fence = fence;
	c.u.complete.n = nrcpt;
	c.u.complete.items = it;
	fx_apply(sp, &c, &res);
	st = res.status;
	if (res_out)
		*res_out = res;
	else
		spool_result_free(&res);
	return st;
}

/* Number of entries of table t (0-based, in the snapshot image's order,
 * among its first ntables tables), read from sp's snapshot image. */
static inline uint64_t fx_table_entries(struct spool *sp, int t, int ntables)
{
	struct wbuf wb;
	struct rbuf rb;
	uint64_t found = UINT64_MAX;

	wbuf_init(&wb);
	assert_int_equal(spool_snapshot(sp, &wb), 0);
	rbuf_init(&rb, wb.p, wb.len);
	assert_non_null(rbuf_raw(&rb, 20)); /* magic, format, schema, count */
	for (int i = 0; i < ntables && !rb.err; i++) {
		uint8_t id = rbuf_u8(&rb);
		uint64_t cnt = rbuf_u64(&rb);

		assert_int_equal(id, i);
		if (i == t)
			found = cnt;
		for (uint64_t j = 0; j < cnt && !rb.err; j++) {
			rbuf_raw(&rb, rbuf_u32(&rb));
			rbuf_raw(&rb, rbuf_u32(&rb));
		}
	}
	assert_int_equal(rb.err, 0);
	wbuf_free(&wb);
	assert_true(found != UINT64_MAX);
	return found;
}

/* Load a ctl record or fail the test. */
static inline void fx_get(struct spool *sp, const char *name,
			  struct spool_ctl *out)
{
	assert_int_equal(spool_ctl_get(sp, name, out), 0);
}

/* 1 if name is in the due list at now. */
static inline int fx_is_due(struct spool *sp, const char *name, uint64_t now)
{
	char *names[256];
	int n = spool_due_list(sp, now, names, 256), hit = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			hit = 1;
		free(names[i]);
	}
	return hit;
}

#endif
