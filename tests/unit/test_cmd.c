/*
 * test_cmd.c — the replicated-command codec (spool/codec/cmd.c): a round trip of
 * every command type, every refusal of the decoder (truncation, leftover
 * bytes, version, type, reserved bits, counts, enums, strings), encode
 * refusing what decode would refuse, and seeded random input.
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
#include "spool/codec/config.h"
#include "spool/codec/err.h"
#include "spool/codec/tlspolicy.h"
#include "spool/codec/wire.h"

#define STAMP 1700000000123ull
#define NODE 0x0102030405060708ull
#define REQ 0xA1B2C3D4E5F60718ull

static const char *claim_names[] = {
    "23111412131415_TCPIP$SMTP_0000002a.TCPIP_alpha",
    "23111412131416_SYSTEM_0000002b.TCPIP_beta",
    "23111412131417_joe_0000002c.TCPIP_gamma",
};

static struct spool_rcpt enq_rcpt[2] = {
    {.addr = "x@example.org",
     .orcpt = "rfc822;x@example.org",
     .notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE},
    {.addr = "y@example.net",
     .orcpt = "",
     .notify = DSN_NOTIFY_NEVER,
     .flags = RCPT_F_LOCAL},
};

static struct spool_rcpt bounce_rcpt[1] = {
    {.addr = "sender@example.org", .orcpt = "", .notify = 0},
};

/* A body with an embedded NUL: bodies are blobs, not strings. */
static const char body[] = "Subject: hi\r\n\r\nhello\0world\r\n";
#define BODY_LEN (sizeof(body) - 1)

static struct spool_outcome_item outcomes[3] = {
    {.rcpt = 0, .outcome = OUT_DELIVERED, .reply = "250 2.0.0 ok"},
    {.rcpt = 1, .outcome = OUT_DEFERRED, .reply = "451 4.3.0 later"},
    {.rcpt = 9999, .outcome = OUT_FAILED, .reply = ""},
};

static const char *alias_domains[] = {"example.org", "mail.example.org",
				      "x.example"};
static const char *host_addrs[] = {"192.0.2.1", "2001:db8::1"};

static struct spool_cfg_item cfg_items[3];

/* First key of the given kind in the config table (the test needs one). */
static int key_of_kind(enum spool_cfg_kind kind)
{
	for (int k = 0; k < CFG__COUNT; k++)
		if (spool_cfg_defs[k].kind == kind)
			return k;
	fail_msg("no config key of kind %d", (int)kind);
	return -1;
}

/* An ENQUEUE payload with non-trivial values everywhere it has fields. */
static void fill_enqueue(struct spool_cmd_enqueue *q, const char *name,
			 struct spool_rcpt *r, uint32_t n)
{
	memset(q, 0, sizeof(*q));
	q->name = name;
	q->rec.user = "TCPIP$SMTP";
	q->rec.sender = "from@example.org";
	q->rec.client = "198.51.100.4";
	q->rec.helo = "client.example.org";
	q->rec.envid = "QQ314159";
	q->rec.ret = DSN_RET_FULL;
	q->rec.kind = KIND_POSTMASTER;
	q->rec.hops = 7;
	q->rec.origin_node = 0xFEEDFACEull;
	q->rec.nrcpt = n;
	q->rec.rcpt = r;
	q->body = body;
	q->body_len = BODY_LEN;
}

/* A command of the given type with non-trivial values. */
static void make_cmd(int type, struct spool_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->type = (uint8_t)type;
	c->stamp = STAMP + (uint64_t)type;
	c->node = NODE;
	c->req = REQ - (uint64_t)type;
	switch (type) {
	case CMD_NOOP:
		break;
	case CMD_ENQUEUE:
		fill_enqueue(&c->u.enqueue, claim_names[0], enq_rcpt, 2);
		break;
	case CMD_CLAIM:
		c->u.claim.node = 3;
		c->u.claim.lease_ms = 300000;
		c->u.claim.n = 3;
		c->u.claim.names = claim_names;
		break;
	case CMD_RENEW:
		c->u.renew.name = claim_names[1];
		c->u.renew.node = 2;
		c->u.renew.fence = 0x123456789ull;
		c->u.renew.lease_ms = 60000;
		break;
	case CMD_COMPLETE:
		c->u.complete.name = claim_names[2];
		c->u.complete.node = 5;
		c->u.complete.fence = 77;
		c->u.complete.flags = COMPLETE_BOUNCE_DONE;
		c->u.complete.n = 3;
		c->u.complete.items = outcomes;
		c->u.complete.has_bounce = 1;
		fill_enqueue(&c->u.complete.bounce, claim_names[1], bounce_rcpt,
			     1);
		c->u.complete.bounce.rec.user = "SYSTEM";
		c->u.complete.bounce.rec.sender = "";
		c->u.complete.bounce.rec.kind = KIND_BOUNCE;
		break;
	case CMD_REMOVE:
		c->u.remove.name = claim_names[0];
		c->u.remove.force = 1;
		break;
	case CMD_REQUEUE:
		c->u.requeue.name = claim_names[1];
		c->u.requeue.after_ms = STAMP + 3600000;
		break;
	case CMD_HOLD:
	case CMD_RELEASE:
		c->u.hold.name = claim_names[2];
		break;
	case CMD_SET_CONFIG:
		cfg_items[0] = (struct spool_cfg_item){
		    .key = (uint16_t)key_of_kind(CFG_KIND_NUM),
		    .num = 0x0102030405060708ull};
		cfg_items[1] = (struct spool_cfg_item){
		    .key = (uint16_t)key_of_kind(CFG_KIND_STR),
		    .str = "gw.example.org"};
		cfg_items[2] = (struct spool_cfg_item){
		    .key = (uint16_t)key_of_kind(CFG_KIND_STR),
		    .reset = 1,
		    .str = ""};
		c->u.set_config.n = 3;
		c->u.set_config.items = cfg_items;
		break;
	case CMD_ALIAS_ADD:
	case CMD_ALIAS_REMOVE:
		c->u.alias.domain = "alias.example.org";
		break;
	case CMD_ALIAS_REPLACE:
		c->u.alias.n = 3;
		c->u.alias.domains = alias_domains;
		break;
	case CMD_MX_ADD:
	case CMD_MX_REMOVE:
		c->u.mx.domain = "example.org";
		c->u.mx.pref = 0xBEEF;
		c->u.mx.gateway = "gw.example.net";
		break;
	case CMD_HOST_ADD:
		c->u.host.name = "relay.example.org";
		c->u.host.n = 2;
		c->u.host.addrs = host_addrs;
		break;
	case CMD_HOST_REMOVE:
		c->u.host.name = "relay.example.org";
		break;
	case CMD_FORWARD_SET:
		c->u.forward.user = "POSTMASTER";
		c->u.forward.target = "SYSTEM";
		break;
	case CMD_FORWARD_CLEAR:
		c->u.forward.user = "POSTMASTER";
		break;
	case CMD_NODE_SET:
		c->u.node_set.id = 0xABCDEF;
		c->u.node_set.mask =
		    NODE_F_NAME | NODE_F_SMTP | NODE_F_MAIL | NODE_F_DOMAIN;
		c->u.node_set.name = "alpha";
		c->u.node_set.smtp = "127.0.0.1:2525";
		c->u.node_set.cluster = "127.0.0.1:7001";
		c->u.node_set.mail_started = 1;
		c->u.node_set.service_enabled = 0;
		c->u.node_set.domain = "alpha.cluster.test";
		break;
	case CMD_NODE_REMOVE:
		c->u.node_set.id = 42;
		break;
	case CMD_REPAIR:
		c->u.repair.flags = 0;
		break;
	case CMD_TLSPOL_SET:
	case CMD_TLSPOL_REMOVE:
		c->u.tlspol.domain = ".Example.ORG";
		c->u.tlspol.level = type == CMD_TLSPOL_SET ? TLSPOL_VERIFY : 0;
		break;
	default:
		fail_msg("no sample for type %d", type);
	}
}

/* Encode into a fresh buffer (must succeed). */
static uint8_t *encode_ok(const struct spool_cmd *c, size_t *len)
{
	struct wbuf wb;

	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(c, &wb), 0);
	return wbuf_take(&wb, len);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static void assert_enqueue_equal(const struct spool_cmd_enqueue *a,
				 const struct spool_cmd_enqueue *b)
{
	assert_string_equal(nz(a->name), nz(b->name));
	assert_string_equal(nz(a->rec.user), nz(b->rec.user));
	assert_string_equal(nz(a->rec.sender), nz(b->rec.sender));
	assert_string_equal(nz(a->rec.client), nz(b->rec.client));
	assert_string_equal(nz(a->rec.helo), nz(b->rec.helo));
	assert_string_equal(nz(a->rec.envid), nz(b->rec.envid));
	assert_string_equal(nz(a->rec.login), nz(b->rec.login));
	assert_int_equal(a->rec.ret, b->rec.ret);
	assert_int_equal(a->rec.flags, b->rec.flags);
	assert_int_equal(a->rec.kind, b->rec.kind);
	assert_int_equal(a->rec.hops, b->rec.hops);
	assert_true(a->rec.origin_node == b->rec.origin_node);
	assert_int_equal(a->rec.nrcpt, b->rec.nrcpt);
	for (uint32_t i = 0; i < a->rec.nrcpt; i++) {
		assert_string_equal(a->rec.rcpt[i].addr, b->rec.rcpt[i].addr);
		assert_string_equal(nz(a->rec.rcpt[i].orcpt),
				    nz(b->rec.rcpt[i].orcpt));
		assert_int_equal(a->rec.rcpt[i].notify, b->rec.rcpt[i].notify);
		assert_int_equal(a->rec.rcpt[i].flags, b->rec.rcpt[i].flags);
	}
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body, b->body, a->body_len);
}

static void assert_strlist_equal(uint32_t n, const char *const *a,
				 const char *const *b)
{
	for (uint32_t i = 0; i < n; i++)
		assert_string_equal(a[i], b[i]);
}

/* The fields a command of a's type carries on the wire are equal. */
static void assert_cmd_equal(const struct spool_cmd *a,
			     const struct spool_cmd *b)
{
	assert_int_equal(a->type, b->type);
	assert_true(a->stamp == b->stamp);
	assert_true(a->node == b->node);
	assert_true(a->req == b->req);
	switch (a->type) {
	case CMD_ENQUEUE:
		assert_enqueue_equal(&a->u.enqueue, &b->u.enqueue);
		break;
	case CMD_CLAIM:
		assert_true(a->u.claim.node == b->u.claim.node);
		assert_true(a->u.claim.lease_ms == b->u.claim.lease_ms);
		assert_int_equal(a->u.claim.n, b->u.claim.n);
		assert_strlist_equal(a->u.claim.n, a->u.claim.names,
				     b->u.claim.names);
		break;
	case CMD_RENEW:
		assert_string_equal(a->u.renew.name, b->u.renew.name);
		assert_true(a->u.renew.node == b->u.renew.node);
		assert_true(a->u.renew.fence == b->u.renew.fence);
		assert_true(a->u.renew.lease_ms == b->u.renew.lease_ms);
		break;
	case CMD_COMPLETE: {
		const struct spool_cmd_complete *x = &a->u.complete;
		const struct spool_cmd_complete *y = &b->u.complete;

		assert_string_equal(x->name, y->name);
		assert_true(x->node == y->node);
		assert_true(x->fence == y->fence);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->n, y->n);
		for (uint32_t i = 0; i < x->n; i++) {
			assert_int_equal(x->items[i].rcpt, y->items[i].rcpt);
			assert_int_equal(x->items[i].outcome,
					 y->items[i].outcome);
			assert_string_equal(nz(x->items[i].reply),
					    nz(y->items[i].reply));
		}
		assert_int_equal(!!x->has_bounce, !!y->has_bounce);
		if (x->has_bounce)
			assert_enqueue_equal(&x->bounce, &y->bounce);
		break;
	}
	case CMD_REMOVE:
		assert_string_equal(a->u.remove.name, b->u.remove.name);
		assert_int_equal(a->u.remove.force, b->u.remove.force);
		break;
	case CMD_REQUEUE:
		assert_string_equal(a->u.requeue.name, b->u.requeue.name);
		assert_true(a->u.requeue.after_ms == b->u.requeue.after_ms);
		break;
	case CMD_HOLD:
	case CMD_RELEASE:
		assert_string_equal(a->u.hold.name, b->u.hold.name);
		break;
	case CMD_SET_CONFIG:
		assert_int_equal(a->u.set_config.n, b->u.set_config.n);
		for (uint32_t i = 0; i < a->u.set_config.n; i++) {
			const struct spool_cfg_item *x =
			    &a->u.set_config.items[i];
			const struct spool_cfg_item *y =
			    &b->u.set_config.items[i];

			assert_int_equal(x->key, y->key);
			assert_int_equal(x->reset, y->reset);
			if (spool_cfg_defs[x->key].kind == CFG_KIND_NUM)
				assert_true(x->num == y->num);
			else
				assert_string_equal(nz(x->str), nz(y->str));
		}
		break;
	case CMD_ALIAS_ADD:
	case CMD_ALIAS_REMOVE:
		assert_string_equal(a->u.alias.domain, b->u.alias.domain);
		break;
	case CMD_ALIAS_REPLACE:
		assert_int_equal(a->u.alias.n, b->u.alias.n);
		assert_strlist_equal(a->u.alias.n, a->u.alias.domains,
				     b->u.alias.domains);
		break;
	case CMD_MX_ADD:
	case CMD_MX_REMOVE:
		assert_string_equal(a->u.mx.domain, b->u.mx.domain);
		assert_int_equal(a->u.mx.pref, b->u.mx.pref);
		assert_string_equal(nz(a->u.mx.gateway), nz(b->u.mx.gateway));
		break;
	case CMD_HOST_ADD:
		assert_string_equal(a->u.host.name, b->u.host.name);
		assert_int_equal(a->u.host.n, b->u.host.n);
		assert_strlist_equal(a->u.host.n, a->u.host.addrs,
				     b->u.host.addrs);
		break;
	case CMD_HOST_REMOVE:
		assert_string_equal(a->u.host.name, b->u.host.name);
		break;
	case CMD_FORWARD_SET:
		assert_string_equal(a->u.forward.user, b->u.forward.user);
		assert_string_equal(a->u.forward.target, b->u.forward.target);
		break;
	case CMD_FORWARD_CLEAR:
		assert_string_equal(a->u.forward.user, b->u.forward.user);
		break;
	case CMD_NODE_SET:
		assert_true(a->u.node_set.id == b->u.node_set.id);
		assert_int_equal(a->u.node_set.mask, b->u.node_set.mask);
		assert_string_equal(nz(a->u.node_set.name),
				    nz(b->u.node_set.name));
		assert_string_equal(nz(a->u.node_set.smtp),
				    nz(b->u.node_set.smtp));
		assert_string_equal(nz(a->u.node_set.cluster),
				    nz(b->u.node_set.cluster));
		assert_int_equal(a->u.node_set.mail_started,
				 b->u.node_set.mail_started);
		assert_int_equal(a->u.node_set.service_enabled,
				 b->u.node_set.service_enabled);
		assert_string_equal(nz(a->u.node_set.domain),
				    nz(b->u.node_set.domain));
		break;
	case CMD_NODE_REMOVE:
		assert_true(a->u.node_set.id == b->u.node_set.id);
		break;
	case CMD_REPAIR:
		assert_int_equal(a->u.repair.flags, b->u.repair.flags);
		break;
	case CMD_TLSPOL_SET:
	case CMD_TLSPOL_REMOVE:
		assert_string_equal(a->u.tlspol.domain, b->u.tlspol.domain);
		assert_int_equal(a->u.tlspol.level, b->u.tlspol.level);
		break;
	default:
		break;
	}
}

/* 1 if every byte of cmd is zero (what a failed decode must leave). */
static int cmd_is_zero(const struct spool_cmd *cmd)
{
	static const struct spool_cmd zero;

	return memcmp(cmd, &zero, sizeof(zero)) == 0;
}

/* Decode a private copy of len bytes; checks the error contract. */
static int decode_copy(const uint8_t *buf, size_t len)
{
	struct spool_cmd out;
	uint8_t *cp = malloc(len ? len : 1);
	int rc;

	memcpy(cp, buf, len);
	memset(&out, 0x5A, sizeof(out));
	rc = spool_cmd_decode(&out, cp, len);
	if (rc == 0)
		spool_cmd_free(&out);
	assert_true(cmd_is_zero(&out));
	free(cp);
	return rc;
}

/* Decode buf with byte off replaced by v. */
static int decode_patched(const uint8_t *buf, size_t len, size_t off, uint8_t v)
{
	uint8_t *cp = malloc(len);
	int rc;

	assert_true(off < len);
	memcpy(cp, buf, len);
	cp[off] = v;
	rc = decode_copy(cp, len);
	free(cp);
	return rc;
}

/* Start a hand-made command of type t. */
static void raw_hdr(struct wbuf *wb, uint8_t t)
{
	wbuf_u8(wb, SPOOL_CMD_VERSION);
	wbuf_u8(wb, t);
	wbuf_u16(wb, 0);
	wbuf_u64(wb, STAMP);
	wbuf_u64(wb, NODE);
	wbuf_u64(wb, REQ);
}

static void test_header_is_28_bytes_big_endian(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;

	make_cmd(CMD_NOOP, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(len, SPOOL_CMD_HDR_LEN);
	assert_int_equal(buf[0], SPOOL_CMD_VERSION);
	assert_int_equal(buf[1], CMD_NOOP);
	assert_int_equal(buf[2], 0);
	assert_int_equal(buf[3], 0);
	assert_true(be64_get(buf + 4) == c.stamp);
	assert_true(be64_get(buf + 12) == NODE);
	assert_true(be64_get(buf + 20) == c.req);
	free(buf);
}

static void test_every_command_type_round_trips(void **state)
{
	for (int t = 0; t < CMD__COUNT; t++) {
		struct spool_cmd in, out;
		struct wbuf wb;
		size_t len;
		uint8_t *buf;

		make_cmd(t, &in);
		buf = encode_ok(&in, &len);
		assert_int_equal(buf[1], t);
		assert_int_equal(spool_cmd_decode(&out, buf, len), 0);
		assert_cmd_equal(&in, &out);
		/* canonical: re-encoding gives the same bytes */
		wbuf_init(&wb);
		assert_int_equal(spool_cmd_encode(&out, &wb), 0);
		assert_int_equal(wb.len, len);
		assert_memory_equal(wb.p, buf, len);
		wbuf_free(&wb);
		spool_cmd_free(&out);
		assert_true(cmd_is_zero(&out));
		free(buf);
	}
}

static void test_enqueue_decode_points_into_input_and_zeroes_state(void **state)
{
	struct spool_cmd in, out;
	size_t len;
	uint8_t *buf;
	const struct spool_cmd_enqueue *q = &out.u.enqueue;

	make_cmd(CMD_ENQUEUE, &in);
	buf = encode_ok(&in, &len);
	assert_int_equal(spool_cmd_decode(&out, buf, len), 0);
	assert_true((const uint8_t *)q->name > buf &&
		    (const uint8_t *)q->name < buf + len);
	assert_true((const uint8_t *)q->body > buf &&
		    (const uint8_t *)q->body + q->body_len == buf + len);
	assert_true(q->rec.created_ms == 0 && q->rec.next_ms == 0);
	assert_true(q->rec.claim.node == 0 && q->rec.hold == 0);
	assert_int_equal(q->rec.rcpt[1].state, RCPT_PENDING);
	assert_string_equal(q->rec.rcpt[1].reply, "");
	spool_cmd_free(&out);
	free(buf);
}

static void test_decode_refuses_every_truncation(void **state)
{
	for (int t = 0; t < CMD__COUNT; t++) {
		struct spool_cmd c;
		size_t len;
		uint8_t *buf;

		make_cmd(t, &c);
		buf = encode_ok(&c, &len);
		for (size_t n = 0; n < len; n++)
			assert_int_equal(decode_copy(buf, n),
					 SPOOL_E_MALFORMED);
		assert_int_equal(decode_copy(buf, len), 0);
		free(buf);
	}
}

static void test_decode_refuses_one_extra_byte(void **state)
{
	for (int t = 0; t < CMD__COUNT; t++) {
		struct spool_cmd c;
		size_t len;
		uint8_t *buf, *big;

		make_cmd(t, &c);
		buf = encode_ok(&c, &len);
		big = calloc(1, len + 1);
		memcpy(big, buf, len);
		assert_int_equal(decode_copy(big, len + 1), SPOOL_E_MALFORMED);
		free(big);
		free(buf);
	}
}

static void test_decode_refuses_other_version(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;

	make_cmd(CMD_RENEW, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(decode_patched(buf, len, 0, SPOOL_CMD_VERSION + 1),
			 SPOOL_E_VERSION);
	assert_int_equal(decode_patched(buf, len, 0, 0), SPOOL_E_VERSION);
	/* the version is checked before the rest is read */
	assert_int_equal(decode_patched(buf, 1, 0, 0xFF), SPOOL_E_VERSION);
	free(buf);
}

static void test_decode_refuses_unknown_type(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;

	make_cmd(CMD_NOOP, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(decode_patched(buf, len, 1, CMD__COUNT),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, 1, 0xFF), SPOOL_E_MALFORMED);
	free(buf);
}

static void test_decode_refuses_reserved_bits(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;

	make_cmd(CMD_HOLD, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(decode_patched(buf, len, 2, 0x80), SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, 3, 0x01), SPOOL_E_MALFORMED);
	free(buf);
}

/* A CLAIM of n names "n<i>" written by hand. */
static void raw_claim(struct wbuf *wb, uint32_t n)
{
	char name[16];

	raw_hdr(wb, CMD_CLAIM);
	wbuf_u64(wb, 1);
	wbuf_u64(wb, 1000);
	wbuf_u32(wb, n);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%u", (unsigned)i);
		wbuf_str(wb, name);
	}
}

static void test_decode_refuses_claim_over_limit(void **state)
{
	struct wbuf wb;

	wbuf_init(&wb);
	raw_claim(&wb, SPOOL_CLAIM_MAX);
	assert_int_equal(decode_copy(wb.p, wb.len), 0);
	wbuf_free(&wb);
	raw_claim(&wb, SPOOL_CLAIM_MAX + 1);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_decode_refuses_count_beyond_input(void **state)
{
	struct wbuf wb;

	/* a count the bytes cannot hold must fail before allocating */
	wbuf_init(&wb);
	raw_claim(&wb, 2);
	wb.p[SPOOL_CMD_HDR_LEN + 16 + 3] = 3;
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	memset(wb.p + SPOOL_CMD_HDR_LEN + 16, 0xFF, 4);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);

	raw_hdr(&wb, CMD_SET_CONFIG);
	wbuf_u32(&wb, SPOOL_LIST_MAX + 1);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);

	raw_hdr(&wb, CMD_ALIAS_REPLACE);
	wbuf_u32(&wb, UINT32_MAX);
	wbuf_str(&wb, "a.example");
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

/* Offset of the byte after the header and the ENQUEUE strings. */
static size_t enq_off_ret(const struct spool_cmd_enqueue *q)
{
	return SPOOL_CMD_HDR_LEN + 6 * 5 + strlen(q->name) +
	       strlen(q->rec.user) + strlen(q->rec.sender) +
	       strlen(q->rec.client) + strlen(q->rec.helo) +
	       strlen(q->rec.envid);
}

static void test_enqueue_decode_refuses_bad_values(void **state)
{
	struct spool_cmd c;
	size_t len, r, nr, notify;
	uint8_t *buf;

	make_cmd(CMD_ENQUEUE, &c);
	buf = encode_ok(&c, &len);
	r = enq_off_ret(&c.u.enqueue);
	assert_int_equal(buf[r], DSN_RET_FULL);
	assert_int_equal(decode_patched(buf, len, r, DSN_RET_FULL + 1),
			 SPOOL_E_MALFORMED);
	assert_int_equal(buf[r + 1], KIND_POSTMASTER);
	assert_int_equal(decode_patched(buf, len, r + 1, KIND_POSTMASTER + 1),
			 SPOOL_E_MALFORMED);
	/* u32 nrcpt after ret, kind, hops, origin_node */
	nr = r + 2 + 4 + 8;
	assert_int_equal(buf[nr + 3], 2);
	assert_int_equal(decode_patched(buf, len, nr + 3, 0),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, nr + 3, 3),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, nr + 1, 0xFF),
			 SPOOL_E_MALFORMED);
	/* the last recipient's notify precedes the body blob */
	notify = len - BODY_LEN - 4 - 1;
	assert_int_equal(buf[notify], DSN_NOTIFY_NEVER | RCPT_F_LOCAL << 4);
	assert_int_equal(decode_patched(buf, len, notify, 0x0F), 0);
	/* the high nibble is the recipient's flags (RCPT_F_DELAYED decodes;
	 * apply_enqueue clears it) */
	assert_int_equal(decode_patched(buf, len, notify, 0x1F), 0);
	assert_int_equal(decode_patched(buf, len, notify, 0x2F), 0);
	assert_int_equal(decode_patched(buf, len, notify, 0x40),
			 SPOOL_E_MALFORMED);
	free(buf);
}

static void test_enqueue_login_only_with_its_bit(void **state)
{
	struct spool_cmd c, out;
	size_t with_len, without_len, r;
	uint8_t *with, *without;

	make_cmd(CMD_ENQUEUE, &c);
	c.u.enqueue.rec.login = "bob@example.org";
	with = encode_ok(&c, &with_len);
	r = enq_off_ret(&c.u.enqueue);
	assert_int_equal(with[r], DSN_RET_FULL | SPOOL_RET_F_LOGIN);
	assert_int_equal(spool_cmd_decode(&out, with, with_len), 0);
	assert_cmd_equal(&c, &out);
	assert_int_equal(out.u.enqueue.rec.flags, 0);
	spool_cmd_free(&out);
	/* without a login: the bytes the old encoder wrote, no string */
	c.u.enqueue.rec.login = "";
	without = encode_ok(&c, &without_len);
	assert_int_equal(with_len,
			 without_len + 4 + strlen("bob@example.org") + 1);
	assert_int_equal(without[r], DSN_RET_FULL);
	assert_int_equal(spool_cmd_decode(&out, without, without_len), 0);
	assert_string_equal(nz(out.u.enqueue.rec.login), "");
	spool_cmd_free(&out);
	/* the bit without a string misparses what follows */
	without[r] |= SPOOL_RET_F_LOGIN;
	assert_int_equal(decode_copy(without, without_len), SPOOL_E_MALFORMED);
	free(without);
	/* the bit with an empty string is not canonical */
	{
		struct wbuf wb;

		wbuf_init(&wb);
		wbuf_raw(&wb, with, r + 1);
		wbuf_str(&wb, "");
		wbuf_raw(&wb, with + r + 1 + 4 + 16, with_len - r - 21);
		assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
		wbuf_free(&wb);
	}
	free(with);
}

static void test_enqueue_refuses_empty_name_and_address(void **state)
{
	struct spool_rcpt r[1] = {{.addr = "", .orcpt = ""}};
	struct spool_cmd c;
	struct wbuf wb;

	wbuf_init(&wb);
	make_cmd(CMD_ENQUEUE, &c);
	c.u.enqueue.name = "";
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_ENQUEUE, &c);
	c.u.enqueue.rec.rcpt = r;
	c.u.enqueue.rec.nrcpt = 1;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_ENQUEUE, &c);
	c.u.enqueue.rec.nrcpt = 0;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	assert_int_equal(wb.len, 0);

	/* the same by hand: an empty address does not decode */
	raw_hdr(&wb, CMD_ENQUEUE);
	wbuf_str(&wb, "n");
	for (int i = 0; i < 5; i++)
		wbuf_str(&wb, "");
	wbuf_raw(&wb, "\0\0", 2);
	wbuf_u32(&wb, 0);
	wbuf_u64(&wb, 0);
	wbuf_u32(&wb, 1);
	wbuf_str(&wb, "");
	wbuf_str(&wb, "");
	wbuf_u8(&wb, 0);
	wbuf_blob(&wb, NULL, 0);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	/* and with an address it does */
	wb.len -= 4 + 1 + 5 + 5;
	wbuf_str(&wb, "a@b");
	wbuf_str(&wb, "");
	wbuf_u8(&wb, 0);
	wbuf_blob(&wb, NULL, 0);
	assert_int_equal(decode_copy(wb.p, wb.len), 0);
	/* no recipient at all does not decode either */
	wb.len -= 4 + 1 + 5 + 8 + 4;
	wbuf_u32(&wb, 0);
	wbuf_blob(&wb, NULL, 0);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_complete_decode_refuses_bad_values(void **state)
{
	struct spool_cmd c;
	size_t len, f;
	uint8_t *buf;

	make_cmd(CMD_COMPLETE, &c);
	c.u.complete.has_bounce = 0;
	buf = encode_ok(&c, &len);
	/* name, node, fence, then u32 flags, u32 n, first item */
	f = SPOOL_CMD_HDR_LEN + 5 + strlen(c.u.complete.name) + 16;
	assert_int_equal(buf[f + 3], COMPLETE_BOUNCE_DONE);
	assert_int_equal(decode_patched(buf, len, f + 3, 0), 0);
	assert_int_equal(decode_patched(buf, len, f + 3, 2), SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, f, 0x80), SPOOL_E_MALFORMED);
	/* first item: u32 rcpt, u8 outcome */
	assert_int_equal(buf[f + 8 + 4], OUT_DELIVERED);
	assert_int_equal(decode_patched(buf, len, f + 12, OUT_FAILED), 0);
	assert_int_equal(decode_patched(buf, len, f + 12, 0),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, f + 12, OUT_DEFERRED_WARNED),
			 0);
	assert_int_equal(
	    decode_patched(buf, len, f + 12, OUT_DEFERRED_WARNED + 1),
	    SPOOL_E_MALFORMED);
	/* recipient index past the largest possible */
	assert_int_equal(decode_patched(buf, len, f + 8, 0x01),
			 SPOOL_E_MALFORMED);
	/* has_bounce is the last byte here */
	assert_int_equal(buf[len - 1], 0);
	assert_int_equal(decode_patched(buf, len, len - 1, 2),
			 SPOOL_E_MALFORMED);
	/* 1 without a bounce following is a truncation */
	assert_int_equal(decode_patched(buf, len, len - 1, 1),
			 SPOOL_E_MALFORMED);
	free(buf);
}

static void test_complete_without_bounce_round_trips(void **state)
{
	struct spool_cmd in, out;
	size_t len;
	uint8_t *buf;

	make_cmd(CMD_COMPLETE, &in);
	in.u.complete.has_bounce = 0;
	in.u.complete.n = 0;
	in.u.complete.items = NULL;
	buf = encode_ok(&in, &len);
	assert_int_equal(spool_cmd_decode(&out, buf, len), 0);
	assert_int_equal(out.u.complete.has_bounce, 0);
	assert_int_equal(out.u.complete.n, 0);
	assert_null(out.u.complete.bounce.rec.rcpt);
	spool_cmd_free(&out);
	free(buf);
}

static void test_set_config_decode_refuses_bad_items(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;
	const size_t key = SPOOL_CMD_HDR_LEN + 4;
	int kstr = key_of_kind(CFG_KIND_STR);

	make_cmd(CMD_SET_CONFIG, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(buf[key + 1], c.u.set_config.items[0].key);
	assert_int_equal(decode_patched(buf, len, key + 1, CFG__COUNT),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, key, 0x01),
			 SPOOL_E_MALFORMED);
	/* reset must be 0 or 1 */
	assert_int_equal(decode_patched(buf, len, key + 2, 1), 0);
	assert_int_equal(decode_patched(buf, len, key + 2, 2),
			 SPOOL_E_MALFORMED);
	/* the kind must be the key's */
	assert_int_equal(buf[key + 3], CFG_KIND_NUM);
	assert_int_equal(decode_patched(buf, len, key + 3, CFG_KIND_STR),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, key + 3, 7),
			 SPOOL_E_MALFORMED);
	/* a number item under a string key */
	assert_int_equal(decode_patched(buf, len, key + 1, (uint8_t)kstr),
			 SPOOL_E_MALFORMED);
	free(buf);
}

static void test_set_config_string_over_limit_refused(void **state)
{
	char s[SPOOL_CFG_STR_MAX + 2];
	struct spool_cfg_item it = {.key = (uint16_t)key_of_kind(CFG_KIND_STR),
				    .str = s};
	struct spool_cmd c;
	struct wbuf wb;

	memset(s, 'g', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	make_cmd(CMD_SET_CONFIG, &c);
	c.u.set_config.n = 1;
	c.u.set_config.items = &it;
	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	raw_hdr(&wb, CMD_SET_CONFIG);
	wbuf_u32(&wb, 1);
	wbuf_u16(&wb, it.key);
	wbuf_u8(&wb, 0);
	wbuf_u8(&wb, CFG_KIND_STR);
	wbuf_str(&wb, s);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
	s[SPOOL_CFG_STR_MAX] = '\0';
	assert_int_equal(spool_cmd_encode(&c, &wb), 0);
	assert_int_equal(decode_copy(wb.p, wb.len), 0);
	wbuf_free(&wb);
}

static void test_small_enums_refused(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;

	/* REMOVE force */
	make_cmd(CMD_REMOVE, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(decode_patched(buf, len, len - 1, 0), 0);
	assert_int_equal(decode_patched(buf, len, len - 1, 2),
			 SPOOL_E_MALFORMED);
	free(buf);
	/* NODE_SET: id, mask, flags (no domain: the flags end the payload) */
	make_cmd(CMD_NODE_SET, &c);
	c.u.node_set.mask &= ~(uint32_t)NODE_F_DOMAIN;
	buf = encode_ok(&c, &len);
	assert_int_equal(
	    decode_patched(buf, len, SPOOL_CMD_HDR_LEN + 8 + 3, NODE_F_SERVICE),
	    0);
	assert_int_equal(
	    decode_patched(buf, len, SPOOL_CMD_HDR_LEN + 8 + 3, 64),
	    SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, len - 2, 2),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, len - 1, 2),
			 SPOOL_E_MALFORMED);
	free(buf);
	/* NODE_REMOVE of id 0 */
	make_cmd(CMD_NODE_REMOVE, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(decode_patched(buf, len, len - 1, 0),
			 SPOOL_E_MALFORMED);
	free(buf);
	/* REPAIR flags are reserved */
	make_cmd(CMD_REPAIR, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(decode_patched(buf, len, len - 1, 1),
			 SPOOL_E_MALFORMED);
	free(buf);
}

static void test_string_with_embedded_nul_refused(void **state)
{
	struct wbuf wb;

	wbuf_init(&wb);
	raw_hdr(&wb, CMD_HOLD);
	wbuf_u32(&wb, 3);
	wbuf_raw(&wb, "a\0b", 3);
	wbuf_u8(&wb, 0);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wb.p[wb.len - 3] = 'x';
	assert_int_equal(decode_copy(wb.p, wb.len), 0);
	wbuf_free(&wb);
}

static void test_string_without_nul_refused(void **state)
{
	struct wbuf wb;

	wbuf_init(&wb);
	raw_hdr(&wb, CMD_HOLD);
	wbuf_u32(&wb, 3);
	wbuf_raw(&wb, "abcd", 4);
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_name_required(void **state)
{
	static const int types[] = {CMD_RENEW,	    CMD_COMPLETE, CMD_REMOVE,
				    CMD_REQUEUE,    CMD_HOLD,	  CMD_RELEASE,
				    CMD_ALIAS_ADD,  CMD_MX_ADD,	  CMD_HOST_ADD,
				    CMD_FORWARD_SET};
	struct wbuf wb;

	wbuf_init(&wb);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct spool_cmd c;

		make_cmd(types[i], &c);
		/* every one of these has its name first in the union */
		switch (types[i]) {
		case CMD_ALIAS_ADD:
			c.u.alias.domain = NULL;
			break;
		case CMD_MX_ADD:
			c.u.mx.domain = "";
			break;
		case CMD_HOST_ADD:
			c.u.host.name = "";
			break;
		case CMD_FORWARD_SET:
			c.u.forward.user = NULL;
			break;
		default:
			c.u.hold.name = "";
			break;
		}
		assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	}
	assert_int_equal(wb.len, 0);
	/* by hand: HOLD "" */
	raw_hdr(&wb, CMD_HOLD);
	wbuf_str(&wb, "");
	assert_int_equal(decode_copy(wb.p, wb.len), SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_encode_refuses_what_decode_refuses(void **state)
{
	static const char *toomany[SPOOL_CLAIM_MAX + 1];
	char longname[SPOOL_NAME_MAX + 2];
	struct spool_outcome_item bad_item = {.rcpt = 0, .outcome = 0};
	struct spool_cfg_item bad_cfg = {.key = CFG__COUNT};
	struct spool_cmd c;
	struct wbuf wb;

	for (size_t i = 0; i < SPOOL_CLAIM_MAX + 1; i++)
		toomany[i] = "n";
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	wbuf_init(&wb);
	wbuf_u8(&wb, 0xEE); /* encode appends: this byte must stay alone */

	make_cmd(CMD_NOOP, &c);
	c.type = CMD__COUNT;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_CLAIM, &c);
	c.u.claim.n = SPOOL_CLAIM_MAX + 1;
	c.u.claim.names = toomany;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	c.u.claim.n = 2;
	c.u.claim.names = NULL;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_HOLD, &c);
	c.u.hold.name = longname;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_ENQUEUE, &c);
	c.u.enqueue.body_len = (size_t)SPOOL_BODY_MAX + 1;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_ENQUEUE, &c);
	c.u.enqueue.body = NULL;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_COMPLETE, &c);
	c.u.complete.n = 1;
	c.u.complete.items = &bad_item;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_COMPLETE, &c);
	c.u.complete.bounce.rec.ret = 9;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_SET_CONFIG, &c);
	c.u.set_config.n = 1;
	c.u.set_config.items = &bad_cfg;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_REPAIR, &c);
	c.u.repair.flags = 1;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_NODE_SET, &c);
	c.u.node_set.id = 0;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_MX_ADD, &c);
	c.u.mx.gateway = "";
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_HOST_ADD, &c);
	c.u.host.n = 0;
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	make_cmd(CMD_FORWARD_SET, &c);
	c.u.forward.target = "";
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	assert_int_equal(wb.len, 1);
	assert_int_equal(wb.p[0], 0xEE);
	wbuf_free(&wb);
}

/* The domain is on the wire only with NODE_F_DOMAIN: an entry written
 * before the field existed (no bit, no domain) still decodes. */
static void test_node_set_domain_only_with_its_bit(void **state)
{
	struct spool_cmd c, out;
	struct wbuf wb;
	size_t with_len, without_len;
	uint8_t *with, *without;

	make_cmd(CMD_NODE_SET, &c);
	with = encode_ok(&c, &with_len);
	c.u.node_set.mask &= ~(uint32_t)NODE_F_DOMAIN;
	without = encode_ok(&c, &without_len);
	/* u32 length, the bytes, the NUL */
	assert_int_equal(with_len,
			 without_len + 4 + strlen("alpha.cluster.test") + 1);
	assert_int_equal(spool_cmd_decode(&out, without, without_len), 0);
	assert_string_equal(out.u.node_set.domain, "");
	spool_cmd_free(&out);
	/* the bit without the string is truncated */
	without[SPOOL_CMD_HDR_LEN + 8 + 3] |= NODE_F_DOMAIN;
	assert_int_equal(decode_copy(without, without_len), SPOOL_E_MALFORMED);
	free(without);
	free(with);

	/* hand-made, as the old encoder wrote it */
	wbuf_init(&wb);
	raw_hdr(&wb, CMD_NODE_SET);
	wbuf_u64(&wb, 3);
	wbuf_u32(&wb, NODE_F_NAME);
	wbuf_str(&wb, "n3");
	wbuf_str(&wb, "");
	wbuf_str(&wb, "");
	wbuf_u8(&wb, 1);
	wbuf_u8(&wb, 1);
	assert_int_equal(spool_cmd_decode(&out, wb.p, wb.len), 0);
	assert_string_equal(out.u.node_set.name, "n3");
	assert_string_equal(out.u.node_set.domain, "");
	spool_cmd_free(&out);
	wbuf_free(&wb);

	/* an over-long domain is not encoded */
	{
		char dom[SPOOL_NAME_MAX + 2];

		memset(dom, 'd', sizeof(dom) - 1);
		dom[sizeof(dom) - 1] = 0;
		make_cmd(CMD_NODE_SET, &c);
		c.u.node_set.domain = dom;
		wbuf_init(&wb);
		assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
		wbuf_free(&wb);
	}
}

static void test_mx_remove_allows_empty_gateway(void **state)
{
	struct spool_cmd c, out;
	size_t len;
	uint8_t *buf;

	make_cmd(CMD_MX_REMOVE, &c);
	c.u.mx.gateway = NULL;
	buf = encode_ok(&c, &len);
	assert_int_equal(spool_cmd_decode(&out, buf, len), 0);
	assert_string_equal(out.u.mx.gateway, "");
	spool_cmd_free(&out);
	free(buf);
}

/* TLSPOL_SET carries a level from NONE to VERIFY (encode and decode
 * refuse the rest); TLSPOL_REMOVE carries none, and both need a key. */
static void test_tlspol_level_range(void **state)
{
	struct spool_cmd c, out;
	struct wbuf wb;
	size_t len;
	uint8_t *buf;

	for (int lv = 0; lv <= TLSPOL_VERIFY + 1; lv++) {
		int ok = lv >= TLSPOL_NONE && lv <= TLSPOL_VERIFY;

		make_cmd(CMD_TLSPOL_SET, &c);
		c.u.tlspol.level = (uint8_t)lv;
		wbuf_init(&wb);
		assert_int_equal(spool_cmd_encode(&c, &wb),
				 ok ? 0 : SPOOL_E_INVAL);
		wbuf_free(&wb);
	}
	make_cmd(CMD_TLSPOL_SET, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(buf[len - 1], TLSPOL_VERIFY); /* the level is last */
	buf[len - 1] = TLSPOL_VERIFY + 1;
	assert_int_equal(spool_cmd_decode(&out, buf, len), SPOOL_E_MALFORMED);
	buf[len - 1] = 0;
	assert_int_equal(spool_cmd_decode(&out, buf, len), SPOOL_E_MALFORMED);
	buf[len - 1] = TLSPOL_NONE;
	assert_int_equal(spool_cmd_decode(&out, buf, len), 0);
	assert_int_equal(out.u.tlspol.level, TLSPOL_NONE);
	spool_cmd_free(&out);
	free(buf);
	make_cmd(CMD_TLSPOL_REMOVE, &c);
	c.u.tlspol.domain = "";
	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(&c, &wb), SPOOL_E_INVAL);
	wbuf_free(&wb);
}

static void test_command_names(void **state)
{
	assert_string_equal(spool_cmd_name(CMD_ENQUEUE), "ENQUEUE");
	assert_string_equal(spool_cmd_name(CMD_SET_CONFIG), "SET_CONFIG");
	assert_string_equal(spool_cmd_name(CMD_REPAIR), "REPAIR");
	assert_string_equal(spool_cmd_name(CMD__COUNT), "?");
	assert_string_equal(spool_cmd_name(-1), "?");
	for (int t = 0; t < CMD__COUNT; t++)
		assert_string_not_equal(spool_cmd_name(t), "?");
}

/* xorshift64: a fixed-seed generator so failures reproduce. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Decode; when it succeeds, re-encoding must give the same bytes. */
static int decode_check_canonical(const uint8_t *p, size_t len)
{
	struct spool_cmd out;
	struct wbuf wb;
	int rc = spool_cmd_decode(&out, p, len);

	if (rc != 0) {
		assert_true(rc == SPOOL_E_MALFORMED || rc == SPOOL_E_VERSION);
		assert_true(cmd_is_zero(&out));
		return rc;
	}
	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(&out, &wb), 0);
	assert_int_equal(wb.len, len);
	assert_memory_equal(wb.p, p, len);
	wbuf_free(&wb);
	spool_cmd_free(&out);
	return 0;
}

static void test_random_bytes_never_crash(void **state)
{
	uint64_t seed = 0x243F6A8885A308D3ull;
	uint8_t buf[256];

	for (int iter = 0; iter < 50000; iter++) {
		size_t len = (size_t)(rnd(&seed) % sizeof(buf));

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd(&seed);
		/* mostly a valid header, so the payload decoders run */
		if (len >= 4 && rnd(&seed) % 8 != 0) {
			buf[0] = SPOOL_CMD_VERSION;
			buf[1] = (uint8_t)(rnd(&seed) % (CMD__COUNT + 1));
			buf[2] = buf[3] = 0;
		}
		(void)decode_check_canonical(buf, len);
	}
}

static void test_mutated_commands_never_crash(void **state)
{
	uint64_t seed = 0x13198A2E03707344ull;
	int ok = 0;

	for (int t = 0; t < CMD__COUNT; t++) {
		struct spool_cmd c;
		size_t len;
		uint8_t *buf, *cp;

		make_cmd(t, &c);
		buf = encode_ok(&c, &len);
		cp = malloc(len);
		for (int iter = 0; iter < 3000; iter++) {
			size_t n = len;
			int flips = 1 + (int)(rnd(&seed) % 3);

			memcpy(cp, buf, len);
			for (int f = 0; f < flips; f++)
				cp[SPOOL_CMD_HDR_LEN / 2 +
				   rnd(&seed) % (len - SPOOL_CMD_HDR_LEN / 2)] =
				    (uint8_t)rnd(&seed);
			if (rnd(&seed) % 4 == 0)
				n -= (size_t)(rnd(&seed) % 4);
			if (decode_check_canonical(cp, n) == 0)
				ok++;
		}
		free(cp);
		free(buf);
	}
	/* stamps, ids and other free numbers survive mutation */
	assert_true(ok > 0);
}

/* ---- header fields set and read in place (proposer and leader) ---- */

static void test_set_origin_and_stamp_change_only_those_fields(void **state)
{
	struct spool_cmd c, out;
	uint64_t v, node, req;
	size_t len;
	uint8_t *buf;

	(void)state;
	make_cmd(CMD_REMOVE, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(
	    spool_cmd_set_origin(buf, len, 77, 0x1122334455667788ull), 0);
	assert_int_equal(spool_cmd_set_stamp(buf, len, 0x0102030405060708ull),
			 0);
	assert_int_equal(spool_cmd_get_stamp(buf, len, &v), 0);
	assert_true(v == 0x0102030405060708ull);
	assert_int_equal(spool_cmd_get_origin(buf, len, &node, &req), 0);
	assert_true(node == 77);
	assert_true(req == 0x1122334455667788ull);
	/* the wire positions of cmd.h's header */
	assert_true(be64_get(buf + 4) == 0x0102030405060708ull);
	assert_true(be64_get(buf + 12) == 77);
	assert_true(be64_get(buf + 20) == 0x1122334455667788ull);
	assert_int_equal(spool_cmd_decode(&out, buf, len), 0);
	assert_int_equal(out.type, CMD_REMOVE);
	assert_true(out.stamp == 0x0102030405060708ull);
	assert_true(out.node == 77);
	assert_true(out.req == 0x1122334455667788ull);
	assert_string_equal(out.u.remove.name, c.u.remove.name);
	spool_cmd_free(&out);
	free(buf);
}

static void test_header_fields_refuse_a_short_buffer(void **state)
{
	uint8_t buf[SPOOL_CMD_HDR_LEN];
	uint8_t copy[SPOOL_CMD_HDR_LEN];
	uint64_t v = 5, node = 6, req = 7;

	(void)state;
	memset(buf, 0xAB, sizeof(buf));
	memcpy(copy, buf, sizeof(buf));
	assert_int_equal(spool_cmd_set_stamp(buf, sizeof(buf) - 1, 1),
			 SPOOL_E_MALFORMED);
	assert_int_equal(spool_cmd_set_origin(buf, sizeof(buf) - 1, 1, 2),
			 SPOOL_E_MALFORMED);
	assert_memory_equal(buf, copy, sizeof(buf)); /* nothing written */
	assert_int_equal(spool_cmd_get_stamp(buf, 0, &v), SPOOL_E_MALFORMED);
	assert_int_equal(spool_cmd_get_origin(buf, 27, &node, &req),
			 SPOOL_E_MALFORMED);
	assert_true(v == 5 && node == 6 && req == 7); /* untouched */
	assert_int_equal(spool_cmd_set_stamp(NULL, 100, 1), SPOOL_E_MALFORMED);
	assert_int_equal(spool_cmd_get_stamp(NULL, 100, &v), SPOOL_E_MALFORMED);
	/* exactly a header is enough: only the header is looked at */
	assert_int_equal(spool_cmd_set_stamp(buf, sizeof(buf), 9), 0);
	assert_int_equal(spool_cmd_get_stamp(buf, sizeof(buf), &v), 0);
	assert_true(v == 9);
}

static void test_check_accepts_what_decodes_and_refuses_the_rest(void **state)
{
	struct spool_cmd c;
	size_t len;
	uint8_t *buf;

	(void)state;
	make_cmd(CMD_ENQUEUE, &c);
	buf = encode_ok(&c, &len);
	assert_int_equal(spool_cmd_check(buf, len), 0);
	assert_int_equal(spool_cmd_check(buf, len - 1), SPOOL_E_MALFORMED);
	assert_int_equal(spool_cmd_check(buf, SPOOL_CMD_HDR_LEN - 1),
			 SPOOL_E_MALFORMED);
	assert_int_equal(spool_cmd_check(NULL, len), SPOOL_E_MALFORMED);
	buf[0] = SPOOL_CMD_VERSION + 1;
	assert_int_equal(spool_cmd_check(buf, len), SPOOL_E_VERSION);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_is_28_bytes_big_endian),
	    cmocka_unit_test(test_every_command_type_round_trips),
	    cmocka_unit_test(
		test_enqueue_decode_points_into_input_and_zeroes_state),
	    cmocka_unit_test(test_decode_refuses_every_truncation),
	    cmocka_unit_test(test_decode_refuses_one_extra_byte),
	    cmocka_unit_test(test_decode_refuses_other_version),
	    cmocka_unit_test(test_decode_refuses_unknown_type),
	    cmocka_unit_test(test_decode_refuses_reserved_bits),
	    cmocka_unit_test(test_decode_refuses_claim_over_limit),
	    cmocka_unit_test(test_decode_refuses_count_beyond_input),
	    cmocka_unit_test(test_enqueue_decode_refuses_bad_values),
	    cmocka_unit_test(test_enqueue_login_only_with_its_bit),
	    cmocka_unit_test(test_enqueue_refuses_empty_name_and_address),
	    cmocka_unit_test(test_complete_decode_refuses_bad_values),
	    cmocka_unit_test(test_complete_without_bounce_round_trips),
	    cmocka_unit_test(test_set_config_decode_refuses_bad_items),
	    cmocka_unit_test(test_set_config_string_over_limit_refused),
	    cmocka_unit_test(test_small_enums_refused),
	    cmocka_unit_test(test_string_with_embedded_nul_refused),
	    cmocka_unit_test(test_string_without_nul_refused),
	    cmocka_unit_test(test_name_required),
	    cmocka_unit_test(test_encode_refuses_what_decode_refuses),
	    cmocka_unit_test(test_mx_remove_allows_empty_gateway),
	    cmocka_unit_test(test_node_set_domain_only_with_its_bit),
	    cmocka_unit_test(test_tlspol_level_range),
	    cmocka_unit_test(test_command_names),
	    cmocka_unit_test(test_random_bytes_never_crash),
	    cmocka_unit_test(test_mutated_commands_never_crash),
	    cmocka_unit_test(
		test_set_origin_and_stamp_change_only_those_fields),
	    cmocka_unit_test(test_header_fields_refuse_a_short_buffer),
	    cmocka_unit_test(
		test_check_accepts_what_decodes_and_refuses_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
