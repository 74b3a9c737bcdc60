/*
 * test_snapshot.c — spool snapshots and restore (spool/store/snapshot.c): the
 * image format, determinism, all-or-nothing restore, refusal of damaged
 * images, and writing a pinned snapshot from another thread.
 */
#include <pthread.h>
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
#include "spool/codec/tlspolicy.h"
#include "spool/store/spool.h"
#include "spool/codec/wire.h"

/* ctl body due byuser config aliases mx hosts forward nodes meta, since
 * schema 2 tomb tombexp, since schema 3 tlspolicy, since schema 4 bodyx */
#define NTABLES 15
#define HDR_LEN 20

/* ---- helpers ---- */

struct tspool {
	char dir[64];
	struct spool *sp;
};

static void ts_open(struct tspool *t)
{
	struct spool_opts o = {.map_size = 64u << 20, .keep = 0};

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_snapshot.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(spool_open(&t->sp, t->dir, &o), 0);
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

/* Independent CRC-32 (bitwise), to check the image's trailer. */
static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
	}
	return ~c;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Rewrite the CRC trailer of an image after an edit. */
static void fix_crc(uint8_t *p, size_t len)
{
	put32(p + len - 4, crc32_ref(p, len - 4));
}

/* Encode and apply one command; returns the business status. */
static int apply(struct spool *sp, const struct spool_cmd *c,
		 struct spool_result *res)
{
	struct wbuf wb;
	int st;

	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(c, &wb), 0);
	assert_int_equal(spool_apply(sp, wb.p, wb.len, res), 0);
	wbuf_free(&wb);
	st = res->status;
	return st;
}

/* ENQUEUE a file of user with n recipients, submitted by login (NULL =
 * none); name goes to out. */
static void enqueue_as(struct spool *sp, uint64_t stamp, const char *user,
		       uint32_t seq, uint32_t n, const char *body,
		       const char *login, char *out)
{
	struct spool_rcpt r[4];
	struct spool_cmd c;
	struct spool_result res;
	char name[SPOOL_NAME_MAX + 1];

	assert_true(n <= 4);
	assert_int_equal(
	    ctlname_make(name, sizeof(name), stamp, user, seq, "node1"), 0);
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
	c.u.enqueue.name = name;
	c.u.enqueue.rec.user = user;
	c.u.enqueue.rec.sender = "s@example.com";
	c.u.enqueue.rec.client = "127.0.0.1";
	c.u.enqueue.rec.helo = "client.example";
	c.u.enqueue.rec.envid = "";
	c.u.enqueue.rec.login = login;
	c.u.enqueue.rec.origin_node = 1;
	c.u.enqueue.rec.nrcpt = n;
	c.u.enqueue.rec.rcpt = r;
	c.u.enqueue.body = body;
	c.u.enqueue.body_len = strlen(body);
	assert_int_equal(apply(sp, &c, &res), 0);
	assert_int_equal(res.flags & RES_F_DUPLICATE, 0);
	spool_result_free(&res);
	if (out != NULL)
		strcpy(out, name);
}

static void enqueue(struct spool *sp, uint64_t stamp, const char *user,
		    uint32_t seq, uint32_t n, const char *body, char *out)
{
	enqueue_as(sp, stamp, user, seq, n, body, NULL, out);
}

/* CLAIM one name for node. */
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
	c.u.claim.lease_ms = 60000;
	c.u.claim.n = 1;
	c.u.claim.names = names;
	assert_int_equal(apply(sp, &c, &res), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.items[0].status, 0);
	spool_result_free(&res);
}

/* A spool with files, a claim and table entries. */
static void populate(struct spool *sp)
{
	char n1[SPOOL_NAME_MAX + 1];

	enqueue(sp, 1700000000000ull, "TCPIP$SMTP", 1, 2,
		"Subject: a\r\n\r\nx\r\n", n1);
	enqueue(sp, 1700000001000ull, "alice", 2, 1, "body two\r\n", NULL);
	enqueue(sp, 1700000002000ull, "TCPIP$SMTP", 3, 1, "", NULL);
	claim(sp, 1700000003000ull, 5, n1);
	assert_int_equal(spool_raw_put(sp, "aliases", "example.org", 11, "", 0),
			 0);
	assert_int_equal(
	    spool_raw_put(sp, "forward", "postmaster", 10, "system", 6), 0);
}

static void snap(struct spool *sp, struct wbuf *wb)
{
	wbuf_init(wb);
	assert_int_equal(spool_snapshot(sp, wb), 0);
	assert_true(wb->len >= HDR_LEN + 4);
}

static void assert_same_image(const struct wbuf *a, const struct wbuf *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->p, b->p, a->len);
}

/* The spool's current image equals want. */
static void assert_spool_image(struct spool *sp, const struct wbuf *want)
{
	struct wbuf now;

	snap(sp, &now);
	assert_same_image(&now, want);
	wbuf_free(&now);
}

/* ---- tests ---- */

static void test_empty_spool_image_has_header_every_table_and_crc(void **st)
{
	struct tspool a, b;
	struct wbuf img, img2;
	const uint8_t *p;
	size_t off;

	/* the reference is the standard CRC-32 (zlib's crc32) */
	assert_int_equal(crc32_ref((const uint8_t *)"123456789", 9),
			 0xCBF43926u);
	ts_open(&a);
	snap(a.sp, &img);
	p = img.p;
	assert_memory_equal(p, "SCSNAP\0\1", 8);
	assert_int_equal(get32(p + 8), 1);
	assert_int_equal(get32(p + 12), SPOOL_SCHEMA_VERSION);
	assert_int_equal(get32(p + 16), NTABLES);
	/* walk the tables: ids in order, each entry's lengths in bounds */
	off = HDR_LEN;
	for (int t = 0; t < NTABLES; t++) {
		uint64_t n;

		assert_true(off + 9 <= img.len - 4);
		assert_int_equal(p[off], t);
		n = be64_get(p + off + 1);
		off += 9;
		for (uint64_t i = 0; i < n && i < 1000; i++) {
			off += 4 + get32(p + off);
			off += 4 + get32(p + off);
			assert_true(off <= img.len - 4);
		}
	}
	assert_int_equal(off, img.len - 4);
	assert_int_equal(get32(p + off), crc32_ref(p, off));

	ts_open(&b);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	snap(b.sp, &img2);
	assert_same_image(&img, &img2);
	wbuf_free(&img);
	wbuf_free(&img2);
	ts_close(&a);
	ts_close(&b);
}

static void test_restore_into_other_spool_gives_identical_image(void **st)
{
	struct tspool a, b;
	struct wbuf img, img2;
	struct spool_ctl c;

	ts_open(&a);
	ts_open(&b);
	populate(a.sp);
	snap(a.sp, &img);
	/* a populated image's CRC (eight bytes a step and an odd tail in
	 * snapshot.c) is the standard CRC-32 of everything before it */
	assert_true(img.len > 64);
	assert_int_equal(get32((const uint8_t *)img.p + img.len - 4),
			 crc32_ref(img.p, img.len - 4));
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	snap(b.sp, &img2);
	assert_same_image(&img, &img2);
	/* the contents are usable, not just the same bytes */
	{
		char name[SPOOL_NAME_MAX + 1];

		assert_int_equal(ctlname_make(name, sizeof(name),
					      1700000001000ull, "alice", 2,
					      "node1"),
				 0);
		assert_int_equal(spool_ctl_get(b.sp, name, &c), 0);
		assert_string_equal(c.rec.user, "alice");
		spool_ctl_free(&c);
	}
	wbuf_free(&img);
	wbuf_free(&img2);
	ts_close(&a);
	ts_close(&b);
}

static void test_login_survives_snapshot_and_restore(void **st)
{
	struct tspool a, b;
	struct wbuf img;
	struct spool_ctl c;
	char name[SPOOL_NAME_MAX + 1], plain[SPOOL_NAME_MAX + 1];

	ts_open(&a);
	ts_open(&b);
	populate(a.sp);
	enqueue_as(a.sp, 1700000003000ull, "TCPIP$SMTP", 4, 1, "x\r\n",
		   "alice@example.org", name);
	enqueue_as(a.sp, 1700000004000ull, "TCPIP$SMTP", 5, 1, "y\r\n", NULL,
		   plain);
	snap(a.sp, &img);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	assert_int_equal(spool_ctl_get(b.sp, name, &c), 0);
	assert_string_equal(c.rec.login, "alice@example.org");
	spool_ctl_free(&c);
	assert_int_equal(spool_ctl_get(b.sp, plain, &c), 0);
	assert_true(c.rec.login == NULL || c.rec.login[0] == '\0');
	spool_ctl_free(&c);
	wbuf_free(&img);
	ts_close(&a);
	ts_close(&b);
}

static void test_same_commands_give_byte_identical_images(void **st)
{
	struct tspool a, b;
	struct wbuf ia, ib;

	ts_open(&a);
	ts_open(&b);
	populate(a.sp);
	populate(b.sp);
	snap(a.sp, &ia);
	snap(b.sp, &ib);
	assert_same_image(&ia, &ib);
	wbuf_free(&ia);
	wbuf_free(&ib);
	ts_close(&a);
	ts_close(&b);
}

static void test_restore_replaces_old_entries(void **st)
{
	struct tspool a, b;
	struct wbuf img;
	struct spool_ctl c;
	char old[SPOOL_NAME_MAX + 1], buf[64];
	void *body;
	size_t len;

	ts_open(&a);
	ts_open(&b);
	enqueue(a.sp, 1700000000000ull, "alice", 9, 1, "new\r\n", NULL);
	snap(a.sp, &img);

	enqueue(b.sp, 1600000000000ull, "bob", 1, 1, "old\r\n", old);
	assert_int_equal(spool_raw_put(b.sp, "forward", "bob", 3, "carol", 5),
			 0);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);

	assert_int_equal(spool_ctl_get(b.sp, old, &c), SPOOL_E_NOTFOUND);
	assert_int_equal(spool_body_get(b.sp, old, &body, &len),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(spool_forward_get(b.sp, "bob", buf, sizeof(buf)),
			 SPOOL_E_NOTFOUND);
	assert_spool_image(b.sp, &img);
	wbuf_free(&img);
	ts_close(&a);
	ts_close(&b);
}

static void test_restore_refuses_every_truncation(void **st)
{
	struct tspool a, b;
	struct wbuf img, before;

	ts_open(&a);
	ts_open(&b);
	assert_int_equal(spool_raw_put(a.sp, "aliases", "x.example", 9, "", 0),
			 0);
	snap(a.sp, &img);
	enqueue(b.sp, 1700000000000ull, "alice", 1, 1, "keep\r\n", NULL);
	snap(b.sp, &before);
	for (size_t n = 0; n < img.len; n++)
		assert_int_not_equal(spool_restore(b.sp, img.p, n), 0);
	/* one byte too many is refused as well */
	assert_int_equal(wbuf_reserve(&img, 1), 0);
	img.p[img.len] = 0;
	assert_int_not_equal(spool_restore(b.sp, img.p, img.len + 1), 0);
	assert_spool_image(b.sp, &before);
	wbuf_free(&img);
	wbuf_free(&before);
	ts_close(&a);
	ts_close(&b);
}

static void test_restore_refuses_any_flipped_byte(void **st)
{
	struct tspool a, b;
	struct wbuf img, before;

	ts_open(&a);
	ts_open(&b);
	populate(a.sp);
	snap(a.sp, &img);
	enqueue(b.sp, 1700000000000ull, "alice", 1, 1, "keep\r\n", NULL);
	snap(b.sp, &before);
	for (size_t i = 0; i < img.len; i++) {
		img.p[i] ^= 0x20;
		assert_int_equal(spool_restore(b.sp, img.p, img.len),
				 SPOOL_E_MALFORMED);
		img.p[i] ^= 0x20;
	}
	assert_spool_image(b.sp, &before);
	/* the undamaged image still restores */
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	wbuf_free(&img);
	wbuf_free(&before);
	ts_close(&a);
	ts_close(&b);
}

static void test_restore_refuses_wrong_magic_version_and_table_count(void **st)
{
	struct tspool a, b;
	struct wbuf img, before;

	ts_open(&a);
	ts_open(&b);
	populate(a.sp);
	snap(a.sp, &img);
	snap(b.sp, &before);

	img.p[0] = 'X';
	fix_crc(img.p, img.len);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	img.p[0] = 'S';

	put32(img.p + 8, 2);
	fix_crc(img.p, img.len);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), SPOOL_E_VERSION);
	put32(img.p + 8, 1);

	put32(img.p + 12, SPOOL_SCHEMA_VERSION + 1);
	fix_crc(img.p, img.len);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), SPOOL_E_VERSION);
	put32(img.p + 12, SPOOL_SCHEMA_VERSION);

	put32(img.p + 16, NTABLES - 1);
	fix_crc(img.p, img.len);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	put32(img.p + 16, NTABLES);

	assert_spool_image(b.sp, &before);
	fix_crc(img.p, img.len);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	wbuf_free(&img);
	wbuf_free(&before);
	ts_close(&a);
	ts_close(&b);
}

struct kv {
	const char *k;
	size_t klen;
	const char *v;
	size_t vlen;
};

/* Build an image by hand: every table empty except table t with the
 * entries given, in the order given; valid CRC. */
static void build_image(struct wbuf *wb, int t, const struct kv *e, int n)
{
	wbuf_init(wb);
	wbuf_raw(wb, "SCSNAP\0\1", 8);
	wbuf_u32(wb, 1);
	wbuf_u32(wb, SPOOL_SCHEMA_VERSION);
	wbuf_u32(wb, NTABLES);
	for (int i = 0; i < NTABLES; i++) {
		wbuf_u8(wb, (uint8_t)i);
		wbuf_u64(wb, i == t ? (uint64_t)n : 0);
		for (int j = 0; i == t && j < n; j++) {
			wbuf_u32(wb, (uint32_t)e[j].klen);
			wbuf_raw(wb, e[j].k, e[j].klen);
			wbuf_u32(wb, (uint32_t)e[j].vlen);
			wbuf_raw(wb, e[j].v, e[j].vlen);
		}
	}
	wbuf_u32(wb, crc32_ref(wb->p, wb->len));
	assert_int_equal(wb->err, 0);
}

#define T_ALIASES_ID 5
#define T_CTL_ID 0

static void test_restore_refuses_unsorted_or_duplicate_keys(void **st)
{
	struct tspool b;
	struct wbuf img, before;
	char buf[16];
	const struct kv sorted[] = {{"a.example", 9, "", 0},
				    {"a.example.", 10, "", 0},
				    {"b.example", 9, "", 0}};
	const struct kv unsorted[] = {{"b.example", 9, "", 0},
				      {"a.example", 9, "", 0}};
	const struct kv dup[] = {{"a.example", 9, "", 0},
				 {"a.example", 9, "", 0}};
	const struct kv prefix_after[] = {{"a.example.", 10, "", 0},
					  {"a.example", 9, "", 0}};

	ts_open(&b);
	assert_int_equal(spool_raw_put(b.sp, "forward", "bob", 3, "carol", 5),
			 0);
	snap(b.sp, &before);

	build_image(&img, T_ALIASES_ID, unsorted, 2);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);
	build_image(&img, T_ALIASES_ID, dup, 2);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);
	build_image(&img, T_ALIASES_ID, prefix_after, 2);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);
	assert_spool_image(b.sp, &before);

	/* the same builder with sorted keys is accepted: the refusals above
	 * are about the order only */
	build_image(&img, T_ALIASES_ID, sorted, 3);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	assert_int_equal(spool_alias_has(b.sp, "a.example"), 1);
	assert_int_equal(spool_alias_has(b.sp, "b.example"), 1);
	assert_int_equal(spool_forward_get(b.sp, "bob", buf, sizeof(buf)),
			 SPOOL_E_NOTFOUND);
	assert_spool_image(b.sp, &img);
	wbuf_free(&img);
	wbuf_free(&before);
	ts_close(&b);
}

static void test_restore_refuses_undecodable_ctl_and_bad_lengths(void **st)
{
	struct tspool b;
	struct wbuf img, before;
	static char big[600];
	const struct kv bad_ctl[] = {{"x", 1, "junk", 4}};
	const struct kv empty_key[] = {{"", 0, "", 0}};
	const struct kv long_key[] = {{big, sizeof(big), "", 0}};

	memset(big, 'k', sizeof(big));
	ts_open(&b);
	enqueue(b.sp, 1700000000000ull, "alice", 1, 1, "keep\r\n", NULL);
	snap(b.sp, &before);

	build_image(&img, T_CTL_ID, bad_ctl, 1);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);
	build_image(&img, T_ALIASES_ID, empty_key, 1);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);
	build_image(&img, T_ALIASES_ID, long_key, 1);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);

	/* an entry count larger than the entries present */
	build_image(&img, T_ALIASES_ID, NULL, 0);
	img.p[HDR_LEN + 9 * T_ALIASES_ID + 8] = 1;
	fix_crc(img.p, img.len);
	assert_int_equal(spool_restore(b.sp, img.p, img.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&img);

	assert_spool_image(b.sp, &before);
	wbuf_free(&before);
	ts_close(&b);
}

struct writer {
	struct spool_snap *snap;
	struct wbuf wb;
	int rc;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	wbuf_init(&w->wb);
	w->rc = spool_snapshot_write(w->snap, &w->wb);
	spool_snapshot_end(w->snap);
	return NULL;
}

static void test_snapshot_written_on_another_thread_sees_pinned_state(void **st)
{
	struct tspool a, b;
	struct wbuf want, after;
	struct writer w;
	pthread_t th;

	ts_open(&a);
	ts_open(&b);
	populate(a.sp);
	snap(a.sp, &want);
	assert_int_equal(spool_snapshot_begin(a.sp, &w.snap), 0);
	/* changes after begin are not in the snapshot */
	enqueue(a.sp, 1700000009000ull, "alice", 77, 1, "later\r\n", NULL);
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_same_image(&want, &w.wb);

	snap(a.sp, &after);
	assert_true(after.len > want.len);
	assert_int_equal(spool_restore(b.sp, w.wb.p, w.wb.len), 0);
	assert_spool_image(b.sp, &want);
	wbuf_free(&want);
	wbuf_free(&after);
	wbuf_free(&w.wb);
	ts_close(&a);
	ts_close(&b);
}

static void test_snapshot_appends_to_existing_buffer(void **st)
{
	struct tspool a;
	struct wbuf alone, wb;

	ts_open(&a);
	populate(a.sp);
	snap(a.sp, &alone);
	wbuf_init(&wb);
	wbuf_raw(&wb, "prefix", 6);
	assert_int_equal(spool_snapshot(a.sp, &wb), 0);
	assert_int_equal(wb.len, 6 + alone.len);
	assert_memory_equal(wb.p, "prefix", 6);
	assert_memory_equal(wb.p + 6, alone.p, alone.len);
	wbuf_free(&alone);
	wbuf_free(&wb);
	ts_close(&a);
}

/* The TLS policy table travels in the image (schema 3); an image of
 * schema 2 (13 tables, no tlspolicy) restores with an empty policy table
 * and the restored spool's image is that of a spool that never had one
 * (its meta says the current schema). */
static void test_tlspolicy_in_image_and_schema_2_image_restores(void **st)
{
	struct tspool a, b, plain;
	struct spool_cmd c;
	struct spool_result res;
	struct wbuf img, old, want;

	ts_open(&a);
	ts_open(&b);
	ts_open(&plain);
	populate(a.sp);
	populate(plain.sp);
	memset(&c, 0, sizeof(c));
	c.type = CMD_TLSPOL_SET;
	c.stamp = 1000;
	c.u.tlspol.domain = "secure.example";
	c.u.tlspol.level = TLSPOL_VERIFY;
	assert_int_equal(apply(a.sp, &c, &res), 0);
	spool_result_free(&res);
	snap(a.sp, &img);
	assert_int_equal(spool_restore(b.sp, img.p, img.len), 0);
	assert_int_equal(spool_tlspol_lookup(b.sp, "secure.example", NULL, 0),
			 TLSPOL_VERIFY);

	/* the same image cut before its last two tables (tlspolicy: 1 byte
	 * id, 8 bytes count, then the entry of 4 + 14 + 4 + 1 bytes; bodyx,
	 * empty: 9 bytes), schema 2 */
	wbuf_init(&old);
	wbuf_raw(&old, img.p, 12);
	wbuf_u32(&old, 2);
	wbuf_u32(&old, NTABLES - 2);
	wbuf_raw(&old, img.p + HDR_LEN, img.len - HDR_LEN - 4 - 9 - 23 - 9);
	wbuf_u32(&old, 0);
	fix_crc(old.p, old.len);
	assert_int_equal(old.err, 0);
	assert_int_equal(spool_restore(b.sp, old.p, old.len), 0);
	assert_int_equal(spool_tlspol_lookup(b.sp, "secure.example", NULL, 0),
			 TLSPOL_DEFAULT);
	snap(plain.sp, &want);
	assert_spool_image(b.sp, &want);
	/* schema 2 with the table count of schema 3 is malformed */
	put32(old.p + 16, NTABLES - 1);
	fix_crc(old.p, old.len);
	assert_int_not_equal(spool_restore(b.sp, old.p, old.len), 0);
	wbuf_free(&want);
	wbuf_free(&old);
	wbuf_free(&img);
	ts_close(&plain);
	ts_close(&b);
	ts_close(&a);
}

/* A body of n bytes, every byte known. */
static char *big_body(size_t n)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('!' + (i * 7 + 3) % 90);
	b[n] = '\0';
	return b;
}

static void assert_body(struct spool *sp, const char *name, const char *want)
{
	void *got;
	size_t len;

	assert_int_equal(spool_body_get(sp, name, &got, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

/* The key of piece i of name's body in the bodyx table. */
static size_t piece_key(uint8_t *k, const char *name, uint32_t i)
{
	size_t n = strlen(name);

	memcpy(k, name, n);
	put32(k + n, i);
	return n + 4;
}

/* Rewrite body name of sp as schema 3 stored it: whole, no pieces. */
static void store_whole(struct spool *sp, const char *name, const char *body)
{
	uint8_t k[SPOOL_NAME_MAX + 4];

	assert_int_equal(
	    spool_raw_put(sp, "body", name, strlen(name), body, strlen(body)),
	    0);
	for (uint32_t i = 1; i <= 3; i++)
		(void)spool_raw_del(sp, "bodyx", k, piece_key(k, name, i));
}

/* Bodies of any size come back as they went in: under, at and over one
 * piece (4080 bytes), and several pieces; removing the file removes every
 * piece. */
static void test_bodies_in_pieces_round_trip_and_go_with_the_file(void **st)
{
	static const size_t sizes[] = {0, 1, 4079, 4080, 4081, 8160, 12345};
	char names[7][SPOOL_NAME_MAX + 1];
	uint8_t k[SPOOL_NAME_MAX + 4];
	struct tspool a;
	struct spool_cmd c;
	struct spool_result res;

	ts_open(&a);
	populate(a.sp);
	for (uint32_t i = 0; i < 7; i++) {
		char *b = big_body(sizes[i]);

		enqueue(a.sp, 1700000010000ull + i, "bob", 10 + i, 1, b,
			names[i]);
		free(b);
	}
	for (uint32_t i = 0; i < 7; i++) {
		char *b = big_body(sizes[i]);

		assert_body(a.sp, names[i], b);
		free(b);
	}
	/* 12,345 bytes: the first piece and pieces 1-3 */
	assert_int_equal(
	    spool_raw_del(a.sp, "bodyx", k, piece_key(k, names[6], 4)),
	    SPOOL_E_NOTFOUND);
	for (uint32_t i = 0; i < 7; i++) {
		memset(&c, 0, sizeof(c));
		c.type = CMD_REMOVE;
		c.stamp = 1700000020000ull;
		c.u.remove.name = names[i];
		assert_int_equal(apply(a.sp, &c, &res), 0);
		spool_result_free(&res);
	}
	for (uint32_t i = 0; i < 7; i++) {
		void *got = NULL;
		size_t len;

		assert_int_equal(spool_body_get(a.sp, names[i], &got, &len),
				 SPOOL_E_NOTFOUND);
	}
	for (uint32_t i = 1; i <= 3; i++)
		assert_int_equal(
		    spool_raw_del(a.sp, "bodyx", k, piece_key(k, names[6], i)),
		    SPOOL_E_NOTFOUND);
	ts_close(&a);
}

/* An image of schema 3 (bodies whole, no bodyx table) restores with its
 * bodies split: the restored spool's image is byte for byte that of a
 * node that applied the same commands. A kept spool of schema 3 is split
 * when opened, with the same result. */
static void test_schema_3_bodies_are_split_on_restore_and_open(void **st)
{
	char name[SPOOL_NAME_MAX + 1];
	struct tspool a, b, c;
	struct wbuf want, img, old;
	struct spool_opts o = {.map_size = 64u << 20, .keep = 1};
	uint8_t three[4] = {0, 0, 0, 3};
	char *body = big_body(10000);

	ts_open(&a);
	ts_open(&b);
	ts_open(&c);
	populate(a.sp);
	enqueue(a.sp, 1700000010000ull, "bob", 10, 1, body, name);
	snap(a.sp, &want);

	populate(c.sp);
	enqueue(c.sp, 1700000010000ull, "bob", 10, 1, body, NULL);
	store_whole(c.sp, name, body);
	snap(c.sp, &img);
	/* as schema 3 wrote it: no bodyx table (empty now: its 9 bytes) */
	wbuf_init(&old);
	wbuf_raw(&old, img.p, 12);
	wbuf_u32(&old, 3);
	wbuf_u32(&old, NTABLES - 1);
	wbuf_raw(&old, img.p + HDR_LEN, img.len - HDR_LEN - 4 - 9);
	wbuf_u32(&old, 0);
	fix_crc(old.p, old.len);
	assert_int_equal(old.err, 0);
	assert_int_equal(spool_restore(b.sp, old.p, old.len), 0);
	assert_spool_image(b.sp, &want);
	assert_body(b.sp, name, body);

	/* the kept spool: schema 3 in its meta, the body whole */
	assert_int_equal(spool_raw_put(c.sp, "meta", "schema", 6, three, 4), 0);
	spool_close(c.sp);
	assert_int_equal(spool_open(&c.sp, c.dir, &o), 0);
	assert_spool_image(c.sp, &want);
	assert_body(c.sp, name, body);

	free(body);
	wbuf_free(&old);
	wbuf_free(&img);
	wbuf_free(&want);
	ts_close(&c);
	ts_close(&b);
	ts_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_empty_spool_image_has_header_every_table_and_crc),
	    cmocka_unit_test(
		test_restore_into_other_spool_gives_identical_image),
	    cmocka_unit_test(test_same_commands_give_byte_identical_images),
	    cmocka_unit_test(test_login_survives_snapshot_and_restore),
	    cmocka_unit_test(test_restore_replaces_old_entries),
	    cmocka_unit_test(test_restore_refuses_every_truncation),
	    cmocka_unit_test(test_restore_refuses_any_flipped_byte),
	    cmocka_unit_test(
		test_restore_refuses_wrong_magic_version_and_table_count),
	    cmocka_unit_test(test_restore_refuses_unsorted_or_duplicate_keys),
	    cmocka_unit_test(
		test_restore_refuses_undecodable_ctl_and_bad_lengths),
	    cmocka_unit_test(
		test_snapshot_written_on_another_thread_sees_pinned_state),
	    cmocka_unit_test(test_snapshot_appends_to_existing_buffer),
	    cmocka_unit_test(
		test_tlspolicy_in_image_and_schema_2_image_restores),
	    cmocka_unit_test(
		test_bodies_in_pieces_round_trip_and_go_with_the_file),
	    cmocka_unit_test(
		test_schema_3_bodies_are_split_on_restore_and_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
