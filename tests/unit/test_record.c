/*
 * test_record.c — the control-file record codec and queries
 * (spool/codec/record.c): round trip, every refusal of the decoder, encode
 * refusing what would not decode, spool_rec_due and spool_rec_count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/err.h"
#include "spool/codec/record.h"
#include "spool/codec/wire.h"

static struct spool_rcpt sample_rcpt[3] = {
    {.addr = "alice@example.org",
     .orcpt = "rfc822;alice@example.org",
     .notify = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY,
     .state = RCPT_PENDING,
     .attempts = 2,
     .last_ms = 1700000000123ull,
     .reply = "451 4.7.1 try later"},
    {.addr = "bob@example.net",
     .orcpt = "",
     .notify = 0,
     .flags = RCPT_F_LOCAL,
     .state = RCPT_DELIVERED,
     .attempts = 1,
     .last_ms = 1700000000456ull,
     .reply = "250 ok"},
    {.addr = "carol@example.com",
     .orcpt = "",
     .notify = DSN_NOTIFY_NEVER,
     .state = RCPT_BOUNCED,
     .attempts = 7,
     .last_ms = UINT64_MAX,
     .reply = "550 5.1.1 no such user"},
};

/* A record with every field set to something other than zero. */
static struct spool_rec sample_rec(void)
{
	struct spool_rec r = {
	    .user = "TCPIP$SMTP",
	    .sender = "sender@example.org",
	    .client = "192.0.2.7",
	    .helo = "mail.example.org",
	    .envid = "ENV-42",
	    .ret = DSN_RET_HDRS,
	    .kind = KIND_BOUNCE,
	    .hold = 1,
	    .hops = 12,
	    .origin_node = 0x1122334455667788ull,
	    .created_ms = 1700000000000ull,
	    .next_ms = 1700000600000ull,
	    .attempts = 3,
	    .body_size = 123456789ull,
	    .claim = {.node = 3, .lease_end = 1700000700000ull, .fence = 99},
	    .last_fence = 98,
	    .nrcpt = 3,
	    .rcpt = sample_rcpt,
	};

	return r;
}

/* Encode rec into a fresh buffer (must succeed). */
static uint8_t *encode_ok(const struct spool_rec *rec, size_t *len)
{
	struct wbuf wb;

	wbuf_init(&wb);
	assert_int_equal(spool_rec_encode(rec, &wb), 0);
	return wbuf_take(&wb, len);
}

static void assert_rec_equal(const struct spool_rec *a,
			     const struct spool_rec *b)
{
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->sender, b->sender);
	assert_string_equal(a->client, b->client);
	assert_string_equal(a->helo, b->helo);
	assert_string_equal(a->envid, b->envid);
	assert_string_equal(a->login != NULL ? a->login : "",
			    b->login != NULL ? b->login : "");
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->hold, b->hold);
	assert_int_equal(a->hops, b->hops);
	assert_true(a->origin_node == b->origin_node);
	assert_true(a->created_ms == b->created_ms);
	assert_true(a->next_ms == b->next_ms);
	assert_int_equal(a->attempts, b->attempts);
	assert_true(a->body_size == b->body_size);
	assert_true(a->claim.node == b->claim.node);
	assert_true(a->claim.lease_end == b->claim.lease_end);
	assert_true(a->claim.fence == b->claim.fence);
	assert_true(a->last_fence == b->last_fence);
	assert_int_equal(a->nrcpt, b->nrcpt);
	for (uint32_t i = 0; i < a->nrcpt; i++) {
		const struct spool_rcpt *x = &a->rcpt[i], *y = &b->rcpt[i];

		assert_string_equal(x->addr, y->addr);
		assert_string_equal(x->orcpt, y->orcpt);
		assert_int_equal(x->notify, y->notify);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->attempts, y->attempts);
		assert_true(x->last_ms == y->last_ms);
		assert_string_equal(x->reply, y->reply);
	}
}

/* 1 if every byte of rec is zero (what a failed decode must leave). */
static int rec_is_zero(const struct spool_rec *rec)
{
	static const struct spool_rec zero;

	return memcmp(rec, &zero, sizeof(zero)) == 0;
}

static size_t off_ret(const struct spool_rec *r);

static void test_record_smtputf8_flag_round_trips(void **state)
{
	struct spool_rec in = sample_rec(), out;
	size_t len;
	uint8_t *buf;

	in.flags = MSG_F_SMTPUTF8;
	buf = encode_ok(&in, &len);
	assert_int_equal(buf[off_ret(&in)], DSN_RET_HDRS | 0x10);
	assert_int_equal(spool_rec_decode(&out, buf, len), 0);
	assert_rec_equal(&in, &out);
	spool_rec_free(&out);
	in.flags = 0x2;
	{
		struct wbuf wb;

		wbuf_init(&wb);
		assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
		wbuf_free(&wb);
	}
	free(buf);
}

static void test_record_login_round_trips_after_the_ret_byte(void **state)
{
	struct spool_rec in = sample_rec(), out;
	size_t len, r;
	uint8_t *buf;

	in.flags = MSG_F_SMTPUTF8;
	in.login = "alice@example.org";
	buf = encode_ok(&in, &len);
	r = off_ret(&in);
	assert_int_equal(buf[r], DSN_RET_HDRS | 0x10 | SPOOL_RET_F_LOGIN);
	/* str(NAME): u32 length, the bytes, the NUL */
	assert_int_equal(buf[r + 4], strlen("alice@example.org"));
	assert_memory_equal(buf + r + 5, "alice@example.org", 17);
	assert_int_equal(spool_rec_decode(&out, buf, len), 0);
	assert_rec_equal(&in, &out);
	assert_int_equal(out.flags, MSG_F_SMTPUTF8); /* the bit is wire only */
	spool_rec_free(&out);
	free(buf);
}

/* A record written before the login existed, byte for byte as the old
 * encoder wrote it: it decodes with no login and re-encodes the same. */
static void test_record_without_login_decodes_as_before(void **state)
{
	struct spool_rec in = sample_rec(), out;
	struct wbuf wb;
	size_t len;
	uint8_t *buf;

	in.nrcpt = 1;
	wbuf_init(&wb);
	wbuf_u8(&wb, 1); /* version 1: the field did not bump it */
	wbuf_str(&wb, in.user);
	wbuf_str(&wb, in.sender);
	wbuf_str(&wb, in.client);
	wbuf_str(&wb, in.helo);
	wbuf_str(&wb, in.envid);
	wbuf_u8(&wb, DSN_RET_HDRS);
	wbuf_u8(&wb, in.kind);
	wbuf_u8(&wb, in.hold);
	wbuf_u32(&wb, in.hops);
	wbuf_u64(&wb, in.origin_node);
	wbuf_u64(&wb, in.created_ms);
	wbuf_u64(&wb, in.next_ms);
	wbuf_u32(&wb, in.attempts);
	wbuf_u64(&wb, in.body_size);
	wbuf_u64(&wb, in.claim.node);
	wbuf_u64(&wb, in.claim.lease_end);
	wbuf_u64(&wb, in.claim.fence);
	wbuf_u64(&wb, in.last_fence);
	wbuf_u32(&wb, 1);
	wbuf_str(&wb, sample_rcpt[0].addr);
	wbuf_str(&wb, sample_rcpt[0].orcpt);
	wbuf_u8(&wb, sample_rcpt[0].notify);
	wbuf_u8(&wb, sample_rcpt[0].state);
	wbuf_u32(&wb, sample_rcpt[0].attempts);
	wbuf_u64(&wb, sample_rcpt[0].last_ms);
	wbuf_str(&wb, sample_rcpt[0].reply);
	assert_int_equal(wb.err, 0);
	assert_int_equal(spool_rec_decode(&out, wb.p, wb.len), 0);
	assert_true(out.login == NULL || out.login[0] == '\0');
	assert_rec_equal(&in, &out);
	spool_rec_free(&out);
	in.login = ""; /* no login: the old bytes */
	buf = encode_ok(&in, &len);
	assert_int_equal(len, wb.len);
	assert_memory_equal(buf, wb.p, len);
	free(buf);
	wbuf_free(&wb);
}

static void test_record_login_flag_needs_a_login(void **state)
{
	struct spool_rec in = sample_rec(), out;
	struct wbuf wb;
	size_t len, r;
	uint8_t *buf;
	char long_login[SPOOL_NAME_MAX + 2];

	/* the flag with an empty string after it is not canonical */
	in.login = "x";
	buf = encode_ok(&in, &len);
	r = off_ret(&in);
	assert_int_equal(buf[r + 4], 1);
	wbuf_init(&wb); /* the same bytes with str("") for str("x") */
	wbuf_raw(&wb, buf, r + 1);
	wbuf_str(&wb, "");
	wbuf_raw(&wb, buf + r + 1 + 6, len - r - 7);
	assert_int_equal(spool_rec_decode(&out, wb.p, wb.len),
			 SPOOL_E_MALFORMED);
	assert_true(rec_is_zero(&out));
	wbuf_free(&wb);
	free(buf);
	/* the flag without any string: the following fields misparse */
	in.login = NULL;
	buf = encode_ok(&in, &len);
	buf[r] |= SPOOL_RET_F_LOGIN;
	assert_int_equal(spool_rec_decode(&out, buf, len), SPOOL_E_MALFORMED);
	free(buf);
	/* a login over NAME is not encoded */
	memset(long_login, 'l', sizeof(long_login) - 1);
	long_login[sizeof(long_login) - 1] = '\0';
	in.login = long_login;
	wbuf_init(&wb);
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	assert_int_equal(wb.len, 0);
	wbuf_free(&wb);
}

static void test_record_round_trip_keeps_every_field(void **state)
{
	struct spool_rec in = sample_rec(), out;
	struct wbuf wb;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	assert_int_equal(buf[0], SPOOL_REC_VERSION);
	assert_int_equal(spool_rec_decode(&out, buf, len), 0);
	assert_rec_equal(&in, &out);
	/* strings point into the input buffer */
	assert_true((const uint8_t *)out.user > buf &&
		    (const uint8_t *)out.user < buf + len);
	/* re-encoding gives the same bytes */
	wbuf_init(&wb);
	assert_int_equal(spool_rec_encode(&out, &wb), 0);
	assert_int_equal(wb.len, len);
	assert_memory_equal(wb.p, buf, len);
	wbuf_free(&wb);
	spool_rec_free(&out);
	assert_true(rec_is_zero(&out));
	free(buf);
}

static void test_record_without_recipients_round_trips(void **state)
{
	struct spool_rec in = {0}, out;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	assert_int_equal(spool_rec_decode(&out, buf, len), 0);
	assert_int_equal(out.nrcpt, 0);
	assert_null(out.rcpt);
	assert_string_equal(out.user, "");
	spool_rec_free(&out);
	free(buf);
}

static void test_record_decode_refuses_every_truncation(void **state)
{
	struct spool_rec in = sample_rec(), out;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, buf, n);
		memset(&out, 0xA5, sizeof(out));
		assert_int_equal(spool_rec_decode(&out, cut, n),
				 SPOOL_E_MALFORMED);
		assert_true(rec_is_zero(&out));
		free(cut);
	}
	free(buf);
}

static void test_record_decode_refuses_extra_byte(void **state)
{
	struct spool_rec in = sample_rec(), out;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);
	uint8_t *big = malloc(len + 1);

	memcpy(big, buf, len);
	big[len] = 0;
	assert_int_equal(spool_rec_decode(&out, big, len + 1),
			 SPOOL_E_MALFORMED);
	assert_true(rec_is_zero(&out));
	free(big);
	free(buf);
}

static void test_record_decode_refuses_other_version(void **state)
{
	struct spool_rec in = sample_rec(), out;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);

	buf[0] = SPOOL_REC_VERSION + 1;
	assert_int_equal(spool_rec_decode(&out, buf, len), SPOOL_E_VERSION);
	buf[0] = 0;
	assert_int_equal(spool_rec_decode(&out, buf, len), SPOOL_E_VERSION);
	assert_true(rec_is_zero(&out));
	free(buf);
}

/* Offset of the ret byte: after the version and the five strings. */
static size_t off_ret(const struct spool_rec *r)
{
	return 1 + 5 * 5 + strlen(r->user) + strlen(r->sender) +
	       strlen(r->client) + strlen(r->helo) + strlen(r->envid);
}

/* Offset of the u32 nrcpt: ret, kind, hold, hops, 3 u64, attempts, 5 u64. */
static size_t off_nrcpt(const struct spool_rec *r)
{
	return off_ret(r) + 3 + 4 + 3 * 8 + 4 + 5 * 8;
}

/* Decode buf with byte off set to v; returns the decode status. */
static int decode_patched(const uint8_t *buf, size_t len, size_t off, uint8_t v)
{
	struct spool_rec out;
	uint8_t *cp = malloc(len);
	int rc;

	memcpy(cp, buf, len);
	cp[off] = v;
	rc = spool_rec_decode(&out, cp, len);
	if (rc == 0)
		spool_rec_free(&out);
	else
		assert_true(rec_is_zero(&out));
	free(cp);
	return rc;
}

static void test_record_decode_refuses_bad_enums(void **state)
{
	struct spool_rec in = sample_rec();
	size_t len, r, last;
	uint8_t *buf;
	const struct spool_rcpt *lr = &sample_rcpt[2];

	buf = encode_ok(&in, &len);
	r = off_ret(&in);
	assert_int_equal(buf[r], DSN_RET_HDRS);
	assert_int_equal(decode_patched(buf, len, r, DSN_RET_FULL), 0);
	assert_int_equal(decode_patched(buf, len, r, DSN_RET_FULL + 1),
			 SPOOL_E_MALFORMED);
	/* the high nibble: the message flags, only MSG_F_SMTPUTF8 */
	assert_int_equal(
	    decode_patched(buf, len, r, DSN_RET_HDRS | MSG_F_SMTPUTF8 << 4), 0);
	assert_int_equal(decode_patched(buf, len, r, DSN_RET_HDRS | 0x40),
			 SPOOL_E_MALFORMED);
	assert_int_equal(buf[r + 1], KIND_BOUNCE);
	assert_int_equal(decode_patched(buf, len, r + 1, KIND_POSTMASTER), 0);
	assert_int_equal(decode_patched(buf, len, r + 1, KIND_POSTMASTER + 1),
			 SPOOL_E_MALFORMED);
	assert_int_equal(buf[r + 2], 1);
	assert_int_equal(decode_patched(buf, len, r + 2, 0), 0);
	assert_int_equal(decode_patched(buf, len, r + 2, 2), SPOOL_E_MALFORMED);
	/* last recipient: ... notify, state, u32 attempts, u64 last, reply */
	last = len - (5 + strlen(lr->reply)) - 8 - 4 - 1;
	assert_int_equal(buf[last], RCPT_BOUNCED);
	assert_int_equal(decode_patched(buf, len, last, RCPT_FAILED), 0);
	assert_int_equal(decode_patched(buf, len, last, RCPT_BOUNCED + 1),
			 SPOOL_E_MALFORMED);
	assert_int_equal(buf[last - 1], DSN_NOTIFY_NEVER);
	assert_int_equal(decode_patched(buf, len, last - 1, 0x0F), 0);
	/* the high nibble: the flags, RCPT_F_LOCAL and RCPT_F_DELAYED */
	assert_int_equal(decode_patched(buf, len, last - 1, 0x11), 0);
	assert_int_equal(decode_patched(buf, len, last - 1, 0x31), 0);
	assert_int_equal(decode_patched(buf, len, last - 1, 0x40),
			 SPOOL_E_MALFORMED);
	free(buf);
}

static void test_record_decode_refuses_count_beyond_input(void **state)
{
	struct spool_rec in = sample_rec();
	size_t len, c;
	uint8_t *buf = encode_ok(&in, &len);

	c = off_nrcpt(&in);
	assert_int_equal(buf[c + 3], 3);
	/* more recipients than the bytes can hold, and more than the max */
	assert_int_equal(decode_patched(buf, len, c + 3, 200),
			 SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, c, 0xFF), SPOOL_E_MALFORMED);
	assert_int_equal(decode_patched(buf, len, c + 3, 2), SPOOL_E_MALFORMED);
	free(buf);
}

static void test_record_decode_refuses_too_many_recipients(void **state)
{
	struct spool_rec out;
	struct wbuf wb;
	size_t hdr;

	/* a well-formed record with SPOOL_RCPT_MAX + 1 empty recipients */
	wbuf_init(&wb);
	wbuf_u8(&wb, SPOOL_REC_VERSION);
	for (int i = 0; i < 5; i++)
		wbuf_str(&wb, "");
	wbuf_raw(&wb, "\0\0\0", 3);
	wbuf_u32(&wb, 0);
	for (int i = 0; i < 3; i++)
		wbuf_u64(&wb, 0);
	wbuf_u32(&wb, 0);
	for (int i = 0; i < 5; i++)
		wbuf_u64(&wb, 0);
	hdr = wb.len;
	wbuf_u32(&wb, SPOOL_RCPT_MAX + 1);
	for (uint32_t i = 0; i < SPOOL_RCPT_MAX + 1; i++) {
		wbuf_str(&wb, "");
		wbuf_str(&wb, "");
		wbuf_raw(&wb, "\0\0", 2);
		wbuf_u32(&wb, 0);
		wbuf_u64(&wb, 0);
		wbuf_str(&wb, "");
	}
	assert_int_equal(wb.err, 0);
	assert_int_equal(spool_rec_decode(&out, wb.p, wb.len),
			 SPOOL_E_MALFORMED);
	/* the same with exactly the maximum decodes */
	wb.p[hdr + 2] = (SPOOL_RCPT_MAX >> 8) & 0xFF;
	wb.p[hdr + 3] = SPOOL_RCPT_MAX & 0xFF;
	assert_int_equal(spool_rec_decode(&out, wb.p, wb.len - 29), 0);
	assert_int_equal(out.nrcpt, SPOOL_RCPT_MAX);
	spool_rec_free(&out);
	wbuf_free(&wb);
}

static void test_record_decode_refuses_long_user(void **state)
{
	char user[SPOOL_NAME_MAX + 2];
	struct spool_rec in = sample_rec(), out;
	struct wbuf wb;
	size_t len;
	uint8_t *buf;

	memset(user, 'u', sizeof(user) - 1);
	user[SPOOL_NAME_MAX] = '\0';
	in.user = user;
	buf = encode_ok(&in, &len);
	assert_int_equal(spool_rec_decode(&out, buf, len), 0);
	spool_rec_free(&out);
	free(buf);
	/* one byte over: encode refuses and appends nothing */
	user[SPOOL_NAME_MAX] = 'u';
	user[SPOOL_NAME_MAX + 1] = '\0';
	wbuf_init(&wb);
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	assert_int_equal(wb.len, 0);
	/* and a hand-written encoding of it is refused by decode */
	wbuf_u8(&wb, SPOOL_REC_VERSION);
	wbuf_str(&wb, user);
	assert_int_equal(spool_rec_decode(&out, wb.p, wb.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&wb);
}

static void test_record_encode_refuses_what_decode_refuses(void **state)
{
	struct spool_rcpt bad[1];
	struct spool_rec in;
	struct wbuf wb;

	wbuf_init(&wb);
	in = sample_rec();
	in.ret = DSN_RET_FULL + 1;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	in = sample_rec();
	in.kind = KIND_POSTMASTER + 1;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	in = sample_rec();
	in.hold = 2;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	in = sample_rec();
	in.rcpt = NULL;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	in = sample_rec();
	in.nrcpt = SPOOL_RCPT_MAX + 1;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	in = sample_rec();
	bad[0] = sample_rcpt[0];
	bad[0].state = RCPT_BOUNCED + 1;
	in.rcpt = bad;
	in.nrcpt = 1;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	bad[0] = sample_rcpt[0];
	bad[0].notify = 0x80;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	bad[0] = sample_rcpt[0];
	bad[0].flags = RCPT_F_ALL + 1;
	assert_int_equal(spool_rec_encode(&in, &wb), SPOOL_E_INVAL);
	assert_int_equal(wb.len, 0);
	wbuf_free(&wb);
}

static void test_record_decode_refuses_empty_input(void **state)
{
	struct spool_rec out;

	assert_int_equal(spool_rec_decode(&out, NULL, 0), SPOOL_E_MALFORMED);
	assert_int_equal(spool_rec_decode(&out, "", 0), SPOOL_E_MALFORMED);
}

static void test_due_is_next_attempt_when_unclaimed(void **state)
{
	struct spool_rec r = {0};

	r.next_ms = 5000;
	assert_true(spool_rec_due(&r) == 5000);
	/* a lease end without a holder does not count */
	r.claim.lease_end = 9000;
	assert_true(spool_rec_due(&r) == 5000);
}

static void test_due_is_lease_end_when_claim_outlasts_next(void **state)
{
	struct spool_rec r = {0};

	r.next_ms = 5000;
	r.claim.node = 2;
	r.claim.lease_end = 9000;
	assert_true(spool_rec_due(&r) == 9000);
	r.claim.lease_end = 4000;
	assert_true(spool_rec_due(&r) == 5000);
	/* hold does not change the answer */
	r.hold = 1;
	assert_true(spool_rec_due(&r) == 5000);
}

static void test_count_recipients_by_state(void **state)
{
	struct spool_rcpt r[4] = {{.state = RCPT_PENDING},
				  {.state = RCPT_FAILED},
				  {.state = RCPT_PENDING},
				  {.state = RCPT_DELIVERED}};
	struct spool_rec rec = {.nrcpt = 4, .rcpt = r};
	struct spool_rec none = {0};

	assert_int_equal(spool_rec_count(&rec, RCPT_PENDING), 2);
	assert_int_equal(spool_rec_count(&rec, RCPT_FAILED), 1);
	assert_int_equal(spool_rec_count(&rec, RCPT_DELIVERED), 1);
	assert_int_equal(spool_rec_count(&rec, RCPT_BOUNCED), 0);
	assert_int_equal(spool_rec_count(&none, RCPT_PENDING), 0);
}

/* xorshift64: a fixed-seed generator so failures reproduce. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_record_random_mutations_never_crash(void **state)
{
	struct spool_rec in = sample_rec(), out;
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	size_t len;
	uint8_t *buf = encode_ok(&in, &len);
	uint8_t *cp = malloc(len);
	int ok = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = len - (rnd(&seed) % 4 == 0 ? rnd(&seed) % 8 : 0);
		int flips = 1 + (int)(rnd(&seed) % 3);

		memcpy(cp, buf, len);
		for (int f = 0; f < flips; f++)
			cp[rnd(&seed) % len] = (uint8_t)rnd(&seed);
		if (spool_rec_decode(&out, cp, n) == 0) {
			struct wbuf wb;

			ok++;
			wbuf_init(&wb);
			assert_int_equal(spool_rec_encode(&out, &wb), 0);
			assert_int_equal(wb.len, n);
			assert_memory_equal(wb.p, cp, n);
			wbuf_free(&wb);
			spool_rec_free(&out);
		} else {
			assert_true(rec_is_zero(&out));
		}
	}
	/* flipping numeric fields keeps many inputs valid */
	assert_true(ok > 0);
	free(cp);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_round_trip_keeps_every_field),
	    cmocka_unit_test(test_record_smtputf8_flag_round_trips),
	    cmocka_unit_test(test_record_login_round_trips_after_the_ret_byte),
	    cmocka_unit_test(test_record_without_login_decodes_as_before),
	    cmocka_unit_test(test_record_login_flag_needs_a_login),
	    cmocka_unit_test(test_record_without_recipients_round_trips),
	    cmocka_unit_test(test_record_decode_refuses_every_truncation),
	    cmocka_unit_test(test_record_decode_refuses_extra_byte),
	    cmocka_unit_test(test_record_decode_refuses_other_version),
	    cmocka_unit_test(test_record_decode_refuses_bad_enums),
	    cmocka_unit_test(test_record_decode_refuses_count_beyond_input),
	    cmocka_unit_test(test_record_decode_refuses_too_many_recipients),
	    cmocka_unit_test(test_record_decode_refuses_long_user),
	    cmocka_unit_test(test_record_encode_refuses_what_decode_refuses),
	    cmocka_unit_test(test_record_decode_refuses_empty_input),
	    cmocka_unit_test(test_due_is_next_attempt_when_unclaimed),
	    cmocka_unit_test(test_due_is_lease_end_when_claim_outlasts_next),
	    cmocka_unit_test(test_count_recipients_by_state),
	    cmocka_unit_test(test_record_random_mutations_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
