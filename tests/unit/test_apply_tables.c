/*
 * test_apply_tables.c — the spool's table appliers (spool/store/apply_tables.c):
 * SET_CONFIG (defaults, set, reset, all-or-nothing batches), local aliases,
 * the local MX and hosts databases, forwards, the node table, the
 * outbound TLS policy table, and NOOP.
 * Every refusal is checked to leave the spool byte-identical (snapshot
 * images before and after).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/codec/aliases.h"
#include "spool/codec/cmd.h"
#include "spool/codec/config.h"
#include "spool/codec/tlspolicy.h"
#include "spool/store/spool.h"
#include "spool/store/spool_impl.h"
#include "spool/codec/wire.h"
#include "tests/unit/spool_fixture.h"

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

/* A command of type with the common header fields set. */
static void cmd_init(struct spool_cmd *c, int type)
{
	memset(c, 0, sizeof(*c));
	c->type = (uint8_t)type;
	c->stamp = T0;
	c->node = 1;
	c->req = 42;
}

/* SET_CONFIG of n items; res_out (if given) gets the whole result. */
static int set_cfg(struct spool *sp, struct spool_cfg_item *items, uint32_t n,
		   struct spool_result *res_out)
{
	struct spool_cmd c;
	struct spool_result res;
	int st;

	cmd_init(&c, CMD_SET_CONFIG);
	c.u.set_config.n = n;
	c.u.set_config.items = items;
	fx_apply(sp, &c, &res);
	st = res.status;
	if (res_out)
		*res_out = res;
	else
		spool_result_free(&res);
	return st;
}

static int set_num(struct spool *sp, int key, uint64_t num)
{
	struct spool_cfg_item it = {.key = (uint16_t)key, .num = num};

	return set_cfg(sp, &it, 1, NULL);
}

static int set_str(struct spool *sp, int key, const char *s)
{
	struct spool_cfg_item it = {.key = (uint16_t)key, .str = s};

	return set_cfg(sp, &it, 1, NULL);
}

/* ALIAS_ADD / ALIAS_REMOVE of one domain; flags (if given) gets the
 * result flags. */
static int alias_cmd(struct spool *sp, int type, const char *domain,
		     uint32_t *flags)
{
	struct spool_cmd c;
	struct spool_result res;
	int st;

	cmd_init(&c, type);
	c.u.alias.domain = domain;
	fx_apply(sp, &c, &res);
	st = res.status;
	if (flags)
		*flags = res.flags;
	spool_result_free(&res);
	return st;
}

static int alias_replace(struct spool *sp, const char **names, uint32_t n)
{
	struct spool_cmd c;

	cmd_init(&c, CMD_ALIAS_REPLACE);
	c.u.alias.n = n;
	c.u.alias.domains = names;
	return fx_status(sp, &c);
}

/* A growing text of what a foreach visited. */
struct seen {
	char text[65536];
	int n;
};

static void seen_add(struct seen *s, const char *item)
{
	size_t used = strlen(s->text);

	assert_true(used + strlen(item) + 2 < sizeof(s->text));
	if (used)
		s->text[used++] = ',';
	strcpy(s->text + used, item);
	s->n++;
}

static int alias_cb(const char *a, const char *b, uint64_t n, void *arg)
{
	seen_add(arg, a);
	return 0;
}

/* Every alias, comma separated, in table order. */
static void aliases_seen(struct spool *sp, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(spool_alias_foreach(sp, alias_cb, s), 0);
}

static int mx_cmd(struct spool *sp, int type, const char *domain, uint16_t pref,
		  const char *gw, struct spool_result *res_out)
{
	struct spool_cmd c;
	struct spool_result res;
	int st;

	cmd_init(&c, type);
	c.u.mx.domain = domain;
	c.u.mx.pref = pref;
	c.u.mx.gateway = gw;
	fx_apply(sp, &c, &res);
	st = res.status;
	if (res_out)
		*res_out = res;
	else
		spool_result_free(&res);
	return st;
}

static int mx_cb(const char *a, const char *b, uint64_t n, void *arg)
{
	char item[600];

	snprintf(item, sizeof(item), "%s/%u/%s", a, (unsigned)n, b);
	seen_add(arg, item);
	return 0;
}

static void mx_seen(struct spool *sp, const char *domain, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(spool_mx_foreach(sp, domain, mx_cb, s), 0);
}

static int host_cmd(struct spool *sp, int type, const char *name,
		    const char **addrs, uint32_t n)
{
	struct spool_cmd c;

	cmd_init(&c, type);
	c.u.host.name = name;
	c.u.host.n = n;
	c.u.host.addrs = addrs;
	return fx_status(sp, &c);
}

static int host_cb(const char *a, const char *b, uint64_t n, void *arg)
{
	char item[600];

	snprintf(item, sizeof(item), "%s=%s", a, b);
	seen_add(arg, item);
	return 0;
}

static int peer_cmd(struct spool *sp, int type, const char *user,
		    const char *target)
{
	struct spool_cmd c;

	cmd_init(&c, type);
	c.u.forward.user = user;
	c.u.forward.target = target;
	return fx_status(sp, &c);
}

static int peer_cb(const char *a, const char *b, uint64_t n, void *arg)
{
	char item[1200];

	snprintf(item, sizeof(item), "%s>%s", a, b);
	seen_add(arg, item);
	return 0;
}

static int node_set(struct spool *sp, const struct spool_cmd_node *ns)
{
	struct spool_cmd c;

	cmd_init(&c, CMD_NODE_SET);
	c.u.node_set = *ns;
	if (c.u.node_set.name == NULL)
		c.u.node_set.name = "";
	if (c.u.node_set.smtp == NULL)
		c.u.node_set.smtp = "";
	if (c.u.node_set.cluster == NULL)
		c.u.node_set.cluster = "";
	return fx_status(sp, &c);
}

static int node_remove(struct spool *sp, uint64_t id)
{
	struct spool_cmd c;

	cmd_init(&c, CMD_NODE_REMOVE);
	c.u.node_set.id = id;
	return fx_status(sp, &c);
}

static int node_count_cb(const struct spool_node *n, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* Encode c, overwrite plen bytes at off with patch, apply the damaged
 * bytes; returns res.status. */
static int apply_edited(struct spool *sp, const struct spool_cmd *c, size_t off,
			const uint8_t *patch, size_t plen)
{
	struct spool_result res;
	struct wbuf wb;
	int st;

	wbuf_init(&wb);
	assert_int_equal(spool_cmd_encode(c, &wb), 0);
	assert_true(off + plen <= wb.len);
	memcpy(wb.p + off, patch, plen);
	assert_int_equal(spool_apply(sp, wb.p, wb.len, &res), 0);
	st = res.status;
	spool_result_free(&res);
	wbuf_free(&wb);
	return st;
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

/* ---- SET_CONFIG ---- */

static void test_config_load_gives_defaults_on_fresh_spool(void **st)
{
	struct fx *f = *st;
	struct spool_config got, def;

	assert_int_equal(spool_config_load(f->sp, &got), 0);
	spool_config_defaults(&def);
	for (int k = 0; k < CFG__COUNT; k++) {
		assert_int_equal(got.is_set[k], 0);
		if (spool_cfg_defs[k].kind == CFG_KIND_NUM)
			assert_int_equal(got.num[k], def.num[k]);
		else
			assert_string_equal(got.str[k], def.str[k]);
	}
	assert_int_equal(got.num[CFG_HOP_COUNT_MAXIMUM], 16);
	assert_int_equal(got.num[CFG_INTERVAL_INITIAL], 30ull * 60 * 1000);
	assert_string_equal(got.str[CFG_ZONE], "");
}

static void test_set_config_sets_numbers_and_strings(void **st)
{
	struct fx *f = *st;
	struct spool_cfg_item it[3] = {
	    {.key = CFG_INTERVAL_INITIAL, .num = 60000},
	    {.key = CFG_ZONE, .str = "example.org"},
	    {.key = CFG_GATEWAY_ALTERNATE, .str = "[192.0.2.7]"},
	};
	struct spool_result res;
	struct spool_config cfg;

	assert_int_equal(set_cfg(f->sp, it, 3, &res), 0);
	assert_int_equal(res.value, 3);
	spool_result_free(&res);
	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_INTERVAL_INITIAL], 60000);
	assert_int_equal(cfg.is_set[CFG_INTERVAL_INITIAL], 1);
	assert_string_equal(cfg.str[CFG_ZONE], "example.org");
	assert_int_equal(cfg.is_set[CFG_ZONE], 1);
	assert_string_equal(cfg.str[CFG_GATEWAY_ALTERNATE], "[192.0.2.7]");
	/* the others keep their defaults */
	assert_int_equal(cfg.num[CFG_HOP_COUNT_MAXIMUM], 16);
	assert_int_equal(cfg.is_set[CFG_HOP_COUNT_MAXIMUM], 0);

	/* a later SET overwrites */
	assert_int_equal(set_num(f->sp, CFG_INTERVAL_INITIAL, 120000), 0);
	assert_int_equal(set_str(f->sp, CFG_ZONE, "other.example"), 0);
	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_INTERVAL_INITIAL], 120000);
	assert_string_equal(cfg.str[CFG_ZONE], "other.example");
}

static void test_set_config_accepts_range_limits(void **st)
{
	struct fx *f = *st;
	struct spool_config cfg;

	assert_int_equal(set_num(f->sp, CFG_HOP_COUNT_MAXIMUM,
				 spool_cfg_defs[CFG_HOP_COUNT_MAXIMUM].min),
			 0);
	assert_int_equal(
	    set_num(f->sp, CFG_QUEUES, spool_cfg_defs[CFG_QUEUES].max), 0);
	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_HOP_COUNT_MAXIMUM],
			 spool_cfg_defs[CFG_HOP_COUNT_MAXIMUM].min);
	assert_int_equal(cfg.num[CFG_QUEUES], spool_cfg_defs[CFG_QUEUES].max);
}

static void test_set_config_reset_returns_key_to_default(void **st)
{
	struct fx *f = *st;
	struct spool_cfg_item reset[2] = {
	    {.key = CFG_QUEUES, .reset = 1},
	    {.key = CFG_ZONE, .reset = 1, .str = ""},
	};
	struct spool_config cfg;

	assert_int_equal(set_num(f->sp, CFG_QUEUES, 8), 0);
	assert_int_equal(set_str(f->sp, CFG_ZONE, "example.org"), 0);
	assert_int_equal(set_cfg(f->sp, reset, 2, NULL), 0);
	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_QUEUES], 20);
	assert_int_equal(cfg.is_set[CFG_QUEUES], 0);
	assert_string_equal(cfg.str[CFG_ZONE], "");
	assert_int_equal(cfg.is_set[CFG_ZONE], 0);
	/* resetting what is not set succeeds and changes nothing */
	{
		struct wbuf before;

		snap_take(f->sp, &before);
		assert_int_equal(set_cfg(f->sp, reset, 2, NULL), 0);
		assert_unchanged(f->sp, &before);
	}
}

static void test_set_config_out_of_range_refuses_whole_batch(void **st)
{
	struct fx *f = *st;
	struct spool_cfg_item batch[3] = {
	    {.key = CFG_QUEUES, .num = 4},
	    {.key = CFG_ZONE, .str = "example.org"},
	    {.key = CFG_HOP_COUNT_MAXIMUM, .num = 0}, /* below min 1 */
	};
	struct spool_config cfg;
	struct wbuf before;

	assert_int_equal(set_num(f->sp, CFG_ADDRESS_RETRIES, 5), 0);
	snap_take(f->sp, &before);
	assert_int_equal(set_cfg(f->sp, batch, 3, NULL), SPOOL_E_INVAL);
	batch[2].num = spool_cfg_defs[CFG_HOP_COUNT_MAXIMUM].max + 1;
	assert_int_equal(set_cfg(f->sp, batch, 3, NULL), SPOOL_E_INVAL);
	/* the bad item first: the good ones after it are not applied either */
	batch[2] = batch[0];
	batch[0].key = CFG_OPT_RELAY;
	batch[0].num = 2;
	assert_int_equal(set_cfg(f->sp, batch, 3, NULL), SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);

	assert_int_equal(spool_config_load(f->sp, &cfg), 0);
	assert_int_equal(cfg.num[CFG_QUEUES], 20);
	assert_int_equal(cfg.is_set[CFG_QUEUES], 0);
	assert_string_equal(cfg.str[CFG_ZONE], "");
	assert_int_equal(cfg.num[CFG_ADDRESS_RETRIES], 5);
}

static void test_set_config_bad_string_refuses_whole_batch(void **st)
{
	struct fx *f = *st;
	struct spool_cfg_item batch[2] = {
	    {.key = CFG_QUEUES, .num = 4},
	    {.key = CFG_ZONE, .str = "not a domain"},
	};
	struct wbuf before;

	snap_take(f->sp, &before);
	assert_int_equal(set_cfg(f->sp, batch, 2, NULL), SPOOL_E_INVAL);
	batch[1].key = CFG_GATEWAY_ALTERNATE;
	batch[1].str = "[300.1.1.1]";
	assert_int_equal(set_cfg(f->sp, batch, 2, NULL), SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
}

static void test_set_config_unknown_key_refused(void **st)
{
	struct fx *f = *st;
	struct spool_cfg_item it[2] = {
	    {.key = CFG_QUEUES, .num = 4},
	    {.key = CFG_QUEUES, .num = 5},
	};
	struct spool_cmd c;
	struct spool_result res;
	struct wbuf before;
	const uint8_t bad_key[2] = {0x00, 0xff};
	int st_raw;

	cmd_init(&c, CMD_SET_CONFIG);
	c.u.set_config.n = 2;
	c.u.set_config.items = it;
	snap_take(f->sp, &before);

	/* on the wire: the second item's u16 key (header, u32 n, first item
	 * of key u16, reset u8, kind u8, u64 num) is patched to 255 */
	st_raw =
	    apply_edited(f->sp, &c, SPOOL_CMD_HDR_LEN + 4 + 12, bad_key, 2);
	assert_true(st_raw == SPOOL_E_MALFORMED || st_raw == SPOOL_E_INVAL);

	/* handed to the applier decoded, past the codec */
	it[1].key = CFG__COUNT;
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_INVAL);
	spool_result_free(&res);
	it[1].key = 0xffff;
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_INVAL);
	spool_result_free(&res);
	assert_unchanged(f->sp, &before);
}

/* ---- aliases ---- */

static void test_alias_add_folds_case_and_drops_trailing_dot(void **st)
{
	struct fx *f = *st;
	struct seen s;
	uint32_t flags = 99;

	assert_int_equal(
	    alias_cmd(f->sp, CMD_ALIAS_ADD, "Mail.Example.COM.", &flags), 0);
	assert_int_equal(flags & RES_F_DUPLICATE, 0);
	aliases_seen(f->sp, &s);
	assert_string_equal(s.text, "mail.example.com");
	assert_int_equal(spool_alias_has(f->sp, "mail.example.com"), 1);
	assert_int_equal(spool_alias_has(f->sp, "MAIL.EXAMPLE.COM"), 1);
	assert_int_equal(spool_alias_has(f->sp, "mail.example.com."), 1);
	assert_int_equal(spool_alias_has(f->sp, "example.com"), 0);
	assert_int_equal(spool_alias_has(f->sp, "mail.example.co"), 0);
}

static void test_alias_add_existing_reports_duplicate(void **st)
{
	struct fx *f = *st;
	struct seen s;
	struct wbuf before;
	uint32_t flags = 0;

	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "a.example", NULL), 0);
	snap_take(f->sp, &before);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "A.EXAMPLE.", &flags),
			 0);
	assert_true(flags & RES_F_DUPLICATE);
	assert_unchanged(f->sp, &before);
	aliases_seen(f->sp, &s);
	assert_int_equal(s.n, 1);
}

static void test_alias_remove_deletes_and_missing_is_notfound(void **st)
{
	struct fx *f = *st;
	struct seen s;
	struct wbuf before;

	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "a.example", NULL), 0);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "b.example", NULL), 0);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_REMOVE, "A.Example", NULL),
			 0);
	aliases_seen(f->sp, &s);
	assert_string_equal(s.text, "b.example");
	assert_int_equal(spool_alias_has(f->sp, "a.example"), 0);

	snap_take(f->sp, &before);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_REMOVE, "a.example", NULL),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_REMOVE, "bad name", NULL),
			 SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
}

/* A valid domain of exactly len characters: a...a.com */
static void long_domain(char *buf, size_t len)
{
	assert_true(len > 4 && len - 4 <= 63);
	memset(buf, 'a', len - 4);
	memcpy(buf + len - 4, ".com", 5);
}

static void test_alias_name_over_64_chars_refused(void **st)
{
	struct fx *f = *st;
	char d64[80], d65[80], d64dot[96];
	struct wbuf before;

	long_domain(d64, 64);
	long_domain(d65, 65);
	snprintf(d64dot, sizeof(d64dot), "%s.", d64);
	assert_int_equal(strlen(d65), 65);

	snap_take(f->sp, &before);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, d65, NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "bad domain", NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "bad..example", NULL),
			 SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);

	/* 64 is allowed, and so is 64 plus the trailing dot */
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, d64dot, NULL), 0);
	assert_int_equal(spool_alias_has(f->sp, d64), 1);
}

static void test_alias_256th_refused_with_limit(void **st)
{
	struct fx *f = *st;
	char d[32];
	struct seen s;
	struct wbuf before;
	uint32_t flags = 0;

	for (int i = 0; i < ALIASES_COUNT_MAX; i++) {
		snprintf(d, sizeof(d), "host%03d.example", i);
		assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, d, NULL), 0);
	}
	aliases_seen(f->sp, &s);
	assert_int_equal(s.n, 255);

	snap_take(f->sp, &before);
	assert_int_equal(
	    alias_cmd(f->sp, CMD_ALIAS_ADD, "one-more.example", NULL),
	    SPOOL_E_LIMIT);
	/* a name already present is still a duplicate, not a new one */
	assert_int_equal(
	    alias_cmd(f->sp, CMD_ALIAS_ADD, "HOST000.example", &flags), 0);
	assert_true(flags & RES_F_DUPLICATE);
	assert_unchanged(f->sp, &before);
	assert_int_equal(spool_alias_has(f->sp, "one-more.example"), 0);

	/* after a removal there is room again */
	assert_int_equal(
	    alias_cmd(f->sp, CMD_ALIAS_REMOVE, "host100.example", NULL), 0);
	assert_int_equal(
	    alias_cmd(f->sp, CMD_ALIAS_ADD, "one-more.example", NULL), 0);
}

static void test_alias_replace_replaces_whole_list(void **st)
{
	struct fx *f = *st;
	const char *list[3] = {"New.Example", "other.example.", "x.test"};
	struct seen s;

	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "old.example", NULL),
			 0);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "x.test", NULL), 0);
	assert_int_equal(alias_replace(f->sp, list, 3), 0);
	aliases_seen(f->sp, &s);
	assert_string_equal(s.text, "new.example,other.example,x.test");
	assert_int_equal(spool_alias_has(f->sp, "old.example"), 0);

	/* an empty list clears the table */
	assert_int_equal(alias_replace(f->sp, NULL, 0), 0);
	aliases_seen(f->sp, &s);
	assert_int_equal(s.n, 0);
}

static void test_alias_replace_with_invalid_name_changes_nothing(void **st)
{
	struct fx *f = *st;
	char d65[80];
	const char *bad1[3] = {"a.example", "not valid!", "b.example"};
	const char *bad2[2] = {"a.example", d65};
	struct wbuf before;

	long_domain(d65, 65);
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "old.example", NULL),
			 0);
	snap_take(f->sp, &before);
	assert_int_equal(alias_replace(f->sp, bad1, 3), SPOOL_E_INVAL);
	assert_int_equal(alias_replace(f->sp, bad2, 2), SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
	assert_int_equal(spool_alias_has(f->sp, "old.example"), 1);
}

static void test_alias_replace_over_255_names_refused(void **st)
{
	struct fx *f = *st;
	char names[256][24];
	const char *list[256];
	struct wbuf before;

	for (int i = 0; i < 256; i++) {
		snprintf(names[i], sizeof(names[i]), "h%03d.example", i);
		list[i] = names[i];
	}
	assert_int_equal(alias_cmd(f->sp, CMD_ALIAS_ADD, "old.example", NULL),
			 0);
	snap_take(f->sp, &before);
	assert_int_equal(alias_replace(f->sp, list, 256), SPOOL_E_LIMIT);
	assert_unchanged(f->sp, &before);
	assert_int_equal(alias_replace(f->sp, list, 255), 0);
	assert_int_equal(spool_alias_has(f->sp, "old.example"), 0);
	assert_int_equal(spool_alias_has(f->sp, "h254.example"), 1);
}

/* ---- MX ---- */

static void test_mx_foreach_lists_gateways_by_preference(void **st)
{
	struct fx *f = *st;
	struct seen s;

	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 20,
				"mx2.example.net", NULL),
			 0);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "Example.ORG", 300,
				"mx3.example.net", NULL),
			 0);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 10,
				"MX1.example.net", NULL),
			 0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "other.org", 5, "mx.other.org", NULL), 0);
	/* "example.org" is a prefix of this one's key */
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org.uk", 1,
				"mx.example.org.uk", NULL),
			 0);

	mx_seen(f->sp, "example.org", &s);
	assert_string_equal(s.text, "example.org/10/mx1.example.net,"
				    "example.org/20/mx2.example.net,"
				    "example.org/300/mx3.example.net");
	mx_seen(f->sp, "EXAMPLE.org", &s);
	assert_int_equal(s.n, 3);
	mx_seen(f->sp, "other.org", &s);
	assert_string_equal(s.text, "other.org/5/mx.other.org");
	mx_seen(f->sp, NULL, &s);
	assert_int_equal(s.n, 5);
	mx_seen(f->sp, "none.example", &s);
	assert_int_equal(s.n, 0);
}

static void test_mx_remove_one_gateway_keeps_the_others(void **st)
{
	struct fx *f = *st;
	struct spool_result res;
	struct seen s;

	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 10,
				"mx1.example.net", NULL),
			 0);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 20,
				"mx2.example.net", NULL),
			 0);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 30,
				"mx3.example.net", NULL),
			 0);
	/* a gateway whose name starts with the removed one's stays */
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 40,
				"mx2.example.network", NULL),
			 0);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_REMOVE, "example.org", 0,
				"MX2.example.net", &res),
			 0);
	assert_int_equal(res.value, 1);
	spool_result_free(&res);
	mx_seen(f->sp, "example.org", &s);
	assert_string_equal(s.text, "example.org/10/mx1.example.net,"
				    "example.org/30/mx3.example.net,"
				    "example.org/40/mx2.example.network");
}

static void test_mx_remove_empty_gateway_removes_whole_domain(void **st)
{
	struct fx *f = *st;
	struct spool_result res;
	struct seen s;

	for (uint16_t p = 1; p <= 6; p++) {
		char gw[32];

		snprintf(gw, sizeof(gw), "mx%u.example.net", p);
		assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org",
					(uint16_t)(p * 10), gw, NULL),
				 0);
	}
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org.uk", 1,
				"mx.example.net", NULL),
			 0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "keep.org", 1, "mx.keep.org", NULL), 0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_REMOVE, "EXAMPLE.ORG", 0, "", &res), 0);
	assert_int_equal(res.value, 6);
	spool_result_free(&res);
	mx_seen(f->sp, "example.org", &s);
	assert_int_equal(s.n, 0);
	mx_seen(f->sp, NULL, &s);
	assert_string_equal(s.text, "example.org.uk/1/mx.example.net,"
				    "keep.org/1/mx.keep.org");
}

static void test_mx_remove_spanning_many_pages_removes_every_match(void **st)
{
	struct fx *f = *st;
	/* long gateway names so that the domain's keys fill several pages */
	static const char *const gw[2] = {
	    "first-gateway-with-a-rather-long-name.mail.example.net",
	    "second-gateway-with-a-rather-long-name.mail.example.net"};
	struct spool_result res;
	struct seen s;

	for (uint16_t p = 0; p < 600; p++)
		assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", p,
					gw[p % 2], NULL),
				 0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "example.org.uk", 1, gw[0], NULL), 0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_REMOVE, "example.org", 0, gw[0], &res), 0);
	assert_int_equal(res.value, 300);
	spool_result_free(&res);
	mx_seen(f->sp, "example.org", &s);
	assert_int_equal(s.n, 300);
	assert_null(strstr(s.text, gw[0]));

	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_REMOVE, "example.org", 0, "", &res), 0);
	assert_int_equal(res.value, 300);
	spool_result_free(&res);
	mx_seen(f->sp, NULL, &s);
	assert_int_equal(s.n, 1);
}

static void test_mx_remove_missing_is_notfound(void **st)
{
	struct fx *f = *st;
	struct wbuf before;

	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 10,
				"mx1.example.net", NULL),
			 0);
	snap_take(f->sp, &before);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_REMOVE, "none.example", 0, "", NULL),
	    SPOOL_E_NOTFOUND);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_REMOVE, "example.org", 0,
				"mx9.example.net", NULL),
			 SPOOL_E_NOTFOUND);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_REMOVE, "example", 0, "", NULL),
			 SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

static void test_mx_accepts_ip_literal_gateway(void **st)
{
	struct fx *f = *st;
	struct seen s;

	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "example.org", 10, "[192.0.2.1]", NULL),
	    0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "example.org", 20, "192.0.2.2", NULL), 0);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "example.org", 30, "[2001:db8::1]", NULL),
	    0);
	mx_seen(f->sp, "example.org", &s);
	assert_string_equal(s.text, "example.org/10/[192.0.2.1],"
				    "example.org/20/192.0.2.2,"
				    "example.org/30/[2001:db8::1]");
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_REMOVE, "example.org", 0, "[192.0.2.1]", NULL),
	    0);
	mx_seen(f->sp, "example.org", &s);
	assert_int_equal(s.n, 2);
}

static void test_mx_refuses_bad_domain_or_gateway(void **st)
{
	struct fx *f = *st;
	struct wbuf before;

	snap_take(f->sp, &before);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "bad domain", 10,
				"mx1.example.net", NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "bad..example", 10,
				"mx1.example.net", NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(mx_cmd(f->sp, CMD_MX_ADD, "example.org", 10,
				"mx one.example.net", NULL),
			 SPOOL_E_INVAL);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_ADD, "example.org", 10, "[300.1.1.1]", NULL),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    mx_cmd(f->sp, CMD_MX_REMOVE, "bad domain", 0, "", NULL),
	    SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
}

/* ---- hosts ---- */

static void test_host_add_stores_ipv4_and_ipv6(void **st)
{
	struct fx *f = *st;
	const char *addrs[2] = {"192.0.2.5", "2001:db8::5"};
	char buf[256];
	struct seen s;

	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "Relay.Example.ORG", addrs, 2), 0);
	assert_int_equal(
	    spool_host_get(f->sp, "relay.example.org", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "192.0.2.5 2001:db8::5");
	assert_int_equal(
	    spool_host_get(f->sp, "RELAY.example.org", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "192.0.2.5 2001:db8::5");
	memset(&s, 0, sizeof(s));
	assert_int_equal(spool_host_foreach(f->sp, host_cb, &s), 0);
	assert_string_equal(s.text, "relay.example.org=192.0.2.5 2001:db8::5");
	assert_int_equal(
	    spool_host_get(f->sp, "other.example.org", buf, sizeof(buf)),
	    SPOOL_E_NOTFOUND);
}

static void test_host_add_again_replaces_addresses(void **st)
{
	struct fx *f = *st;
	const char *a1[2] = {"192.0.2.5", "192.0.2.6"};
	const char *a2[1] = {"2001:db8::9"};
	char buf[256];

	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "relay.example.org", a1, 2), 0);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "RELAY.example.org", a2, 1), 0);
	assert_int_equal(
	    spool_host_get(f->sp, "relay.example.org", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2001:db8::9");
}

static void test_host_add_refuses_bad_address_or_name(void **st)
{
	struct fx *f = *st;
	const char *good[1] = {"192.0.2.5"};
	const char *bad1[2] = {"192.0.2.1", "999.1.1.1"};
	const char *bad2[1] = {"relay.example.org"};
	const char *bad3[1] = {"2001:db8::zz"};
	char buf[256];
	struct wbuf before;

	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "relay.example.org", good, 1), 0);
	snap_take(f->sp, &before);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "relay.example.org", bad1, 2),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "relay.example.org", bad2, 1),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "relay.example.org", bad3, 1),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_ADD, "bad host name", good, 1),
	    SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
	assert_int_equal(
	    spool_host_get(f->sp, "relay.example.org", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "192.0.2.5");
}

static void test_host_remove_deletes_and_missing_is_notfound(void **st)
{
	struct fx *f = *st;
	const char *a[1] = {"192.0.2.5"};
	char buf[64];
	struct wbuf before;

	assert_int_equal(host_cmd(f->sp, CMD_HOST_ADD, "a.example.org", a, 1),
			 0);
	assert_int_equal(host_cmd(f->sp, CMD_HOST_ADD, "b.example.org", a, 1),
			 0);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_REMOVE, "A.EXAMPLE.ORG", NULL, 0), 0);
	assert_int_equal(
	    spool_host_get(f->sp, "a.example.org", buf, sizeof(buf)),
	    SPOOL_E_NOTFOUND);
	assert_int_equal(
	    spool_host_get(f->sp, "b.example.org", buf, sizeof(buf)), 0);
	snap_take(f->sp, &before);
	assert_int_equal(
	    host_cmd(f->sp, CMD_HOST_REMOVE, "a.example.org", NULL, 0),
	    SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

/* ---- forward ---- */

static void test_forward_set_get_and_clear(void **st)
{
	struct fx *f = *st;
	char buf[256];
	struct wbuf before;

	assert_int_equal(
	    peer_cmd(f->sp, CMD_FORWARD_SET, "POSTMASTER", "SYSTEM"), 0);
	assert_int_equal(
	    spool_forward_get(f->sp, "POSTMASTER", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "SYSTEM");
	/* a new SET replaces the target */
	assert_int_equal(
	    peer_cmd(f->sp, CMD_FORWARD_SET, "postmaster", "root@example.org"),
	    0);
	assert_int_equal(
	    spool_forward_get(f->sp, "postmaster", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "root@example.org");

	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_CLEAR, "PostMaster", NULL),
			 0);
	assert_int_equal(
	    spool_forward_get(f->sp, "postmaster", buf, sizeof(buf)),
	    SPOOL_E_NOTFOUND);
	snap_take(f->sp, &before);
	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_CLEAR, "postmaster", NULL),
			 SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

static void test_forward_to_itself_refused(void **st)
{
	struct fx *f = *st;
	char buf[64];
	struct wbuf before;

	snap_take(f->sp, &before);
	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_SET, "alice", "alice"),
			 SPOOL_E_INVAL);
	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_SET, "Alice", "ALICE"),
			 SPOOL_E_INVAL);
	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_SET, "bad user", "bob"),
			 SPOOL_E_INVAL);
	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_SET, "alice", "b o b"),
			 SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
	assert_int_equal(spool_forward_get(f->sp, "alice", buf, sizeof(buf)),
			 SPOOL_E_NOTFOUND);
}

static void test_forward_user_is_case_folded(void **st)
{
	struct fx *f = *st;
	char buf[64];
	struct seen s;

	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_SET, "Bob", "Carol"), 0);
	assert_int_equal(peer_cmd(f->sp, CMD_FORWARD_SET, "BOB", "dave"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(spool_forward_foreach(f->sp, peer_cb, &s), 0);
	assert_string_equal(s.text, "bob>dave");
	assert_int_equal(spool_forward_get(f->sp, "bOb", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "dave");
}

/* ---- nodes ---- */

static void test_node_set_new_node_gets_mail_started_service_enabled(void **st)
{
	struct fx *f = *st;
	struct spool_cmd_node ns = {.id = 7,
				    .mask = NODE_F_NAME | NODE_F_SMTP,
				    .name = "node7",
				    .smtp = "127.0.0.7:25"};
	struct spool_node n;

	assert_int_equal(spool_node_get(f->sp, 7, &n), SPOOL_E_NOTFOUND);
	assert_int_equal(node_set(f->sp, &ns), 0);
	assert_int_equal(spool_node_get(f->sp, 7, &n), 0);
	assert_int_equal(n.id, 7);
	assert_string_equal(n.name, "node7");
	assert_string_equal(n.smtp, "127.0.0.7:25");
	assert_string_equal(n.cluster, "");
	assert_int_equal(n.mail_started, 1);
	assert_int_equal(n.service_enabled, 1);
}

static void test_node_set_updates_only_fields_in_mask(void **st)
{
	struct fx *f = *st;
	struct spool_cmd_node all = {.id = 3,
				     .mask = NODE_F_NAME | NODE_F_SMTP |
					     NODE_F_CLUSTER | NODE_F_MAIL |
					     NODE_F_SERVICE,
				     .name = "n3",
				     .smtp = "127.0.0.3:25",
				     .cluster = "127.0.0.3:7000",
				     .mail_started = 1,
				     .service_enabled = 0};
	struct spool_cmd_node stop = {.id = 3,
				      .mask = NODE_F_MAIL,
				      .name = "ignored",
				      .smtp = "ignored:1",
				      .mail_started = 0,
				      .service_enabled = 1};
	struct spool_cmd_node rename = {
	    .id = 3, .mask = NODE_F_NAME, .name = "third"};
	struct spool_node n;

	assert_int_equal(node_set(f->sp, &all), 0);
	assert_int_equal(node_set(f->sp, &stop), 0);
	assert_int_equal(spool_node_get(f->sp, 3, &n), 0);
	assert_string_equal(n.name, "n3");
	assert_string_equal(n.smtp, "127.0.0.3:25");
	assert_string_equal(n.cluster, "127.0.0.3:7000");
	assert_int_equal(n.mail_started, 0);
	assert_int_equal(n.service_enabled, 0);

	assert_int_equal(node_set(f->sp, &rename), 0);
	assert_int_equal(spool_node_get(f->sp, 3, &n), 0);
	assert_string_equal(n.name, "third");
	assert_string_equal(n.smtp, "127.0.0.3:25");
	assert_int_equal(n.mail_started, 0);
	assert_int_equal(n.service_enabled, 0);
}

static void test_node_remove_deletes_and_missing_is_notfound(void **st)
{
	struct fx *f = *st;
	struct spool_cmd_node a = {.id = 1, .mask = NODE_F_NAME, .name = "a"};
	struct spool_cmd_node b = {.id = 2, .mask = NODE_F_NAME, .name = "b"};
	struct spool_node n;
	struct wbuf before;
	int count = 0;

	assert_int_equal(node_set(f->sp, &a), 0);
	assert_int_equal(node_set(f->sp, &b), 0);
	assert_int_equal(node_remove(f->sp, 1), 0);
	assert_int_equal(spool_node_get(f->sp, 1, &n), SPOOL_E_NOTFOUND);
	assert_int_equal(spool_node_foreach(f->sp, node_count_cb, &count), 0);
	assert_int_equal(count, 1);
	snap_take(f->sp, &before);
	assert_int_equal(node_remove(f->sp, 1), SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
}

static void test_node_id_zero_refused(void **st)
{
	struct fx *f = *st;
	struct spool_cmd c;
	struct spool_result res;
	struct wbuf before;
	const uint8_t zero[8] = {0};
	int s;

	snap_take(f->sp, &before);
	/* decoded form, past the codec (which will not encode id 0) */
	cmd_init(&c, CMD_NODE_SET);
	c.u.node_set.id = 0;
	c.u.node_set.mask = NODE_F_NAME;
	c.u.node_set.name = "zero";
	c.u.node_set.smtp = "";
	c.u.node_set.cluster = "";
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_INVAL);
	spool_result_free(&res);
	c.type = CMD_NODE_REMOVE;
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_INVAL);
	spool_result_free(&res);

	/* on the wire: a valid NODE_SET with its id patched to 0 */
	c.type = CMD_NODE_SET;
	c.u.node_set.id = 9;
	s = apply_edited(f->sp, &c, SPOOL_CMD_HDR_LEN, zero, 8);
	assert_true(s == SPOOL_E_MALFORMED || s == SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
}

static void test_node_name_too_long_refused(void **st)
{
	struct fx *f = *st;
	char longname[100];
	struct spool_cmd_node ns = {.id = 4, .mask = NODE_F_NAME};
	struct wbuf before;

	memset(longname, 'n', 64);
	longname[64] = 0;
	ns.name = longname;
	snap_take(f->sp, &before);
	assert_int_equal(node_set(f->sp, &ns), SPOOL_E_INVAL);
	assert_unchanged(f->sp, &before);
	longname[63] = 0; /* 63 fits struct spool_node's name */
	assert_int_equal(node_set(f->sp, &ns), 0);
}

static void test_node_set_domain_kept_until_changed(void **st)
{
	struct fx *f = *st;
	struct spool_cmd_node reg = {.id = 5,
				     .mask = NODE_F_NAME | NODE_F_DOMAIN,
				     .name = "node5",
				     .domain = "node5.cluster.test"};
	struct spool_cmd_node stop = {.id = 5,
				      .mask = NODE_F_MAIL,
				      .domain = "ignored.test",
				      .mail_started = 0};
	struct spool_cmd_node clear = {
	    .id = 5, .mask = NODE_F_DOMAIN, .domain = ""};
	struct spool_node n;

	assert_int_equal(node_set(f->sp, &reg), 0);
	assert_int_equal(spool_node_get(f->sp, 5, &n), 0);
	assert_string_equal(n.domain, "node5.cluster.test");
	assert_int_equal(node_set(f->sp, &stop), 0);
	assert_int_equal(spool_node_get(f->sp, 5, &n), 0);
	assert_string_equal(n.domain, "node5.cluster.test");
	assert_int_equal(n.mail_started, 0);
	assert_int_equal(node_set(f->sp, &clear), 0);
	assert_int_equal(spool_node_get(f->sp, 5, &n), 0);
	assert_string_equal(n.domain, "");
	assert_string_equal(n.name, "node5");
}

static void test_node_domain_too_long_refused(void **st)
{
	struct fx *f = *st;
	char dom[300];
	struct spool_cmd c;
	struct spool_result res;
	struct spool_node n;
	struct wbuf before;

	memset(dom, 'd', 256);
	dom[256] = 0;
	/* decoded form, past the codec (which will not encode it) */
	cmd_init(&c, CMD_NODE_SET);
	c.u.node_set.id = 6;
	c.u.node_set.mask = NODE_F_DOMAIN;
	c.u.node_set.name = "";
	c.u.node_set.smtp = "";
	c.u.node_set.cluster = "";
	c.u.node_set.domain = dom;
	snap_take(f->sp, &before);
	assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
	assert_int_equal(res.status, SPOOL_E_INVAL);
	spool_result_free(&res);
	assert_unchanged(f->sp, &before);
	dom[255] = 0; /* 255 fits struct spool_node's domain */
	assert_int_equal(node_set(f->sp, &c.u.node_set), 0);
	assert_int_equal(spool_node_get(f->sp, 6, &n), 0);
	assert_int_equal(strlen(n.domain), 255);
}

static void test_node_record_version1_decodes_with_empty_domain(void **st)
{
	struct spool_node in, out;
	struct wbuf wb;

	/* a version 1 record, as written before the domain existed */
	wbuf_init(&wb);
	wbuf_u8(&wb, 1);
	wbuf_str(&wb, "old");
	wbuf_str(&wb, "127.0.0.1:25");
	wbuf_str(&wb, "127.0.0.1:7001");
	wbuf_u8(&wb, 1);
	wbuf_u8(&wb, 0);
	assert_int_equal(spool_node_decode(&out, 4, wb.p, wb.len), 0);
	assert_string_equal(out.name, "old");
	assert_string_equal(out.cluster, "127.0.0.1:7001");
	assert_int_equal(out.mail_started, 1);
	assert_int_equal(out.service_enabled, 0);
	assert_string_equal(out.domain, "");
	/* a version 1 record with a domain appended is malformed */
	wbuf_str(&wb, "x.test");
	assert_int_equal(spool_node_decode(&out, 4, wb.p, wb.len),
			 SPOOL_E_MALFORMED);
	wbuf_free(&wb);

	/* version 2 round trip; an unknown version is refused */
	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "n2");
	snprintf(in.domain, sizeof(in.domain), "n2.cluster.test");
	in.mail_started = 1;
	wbuf_init(&wb);
	assert_int_equal(spool_node_encode(&in, &wb), 0);
	assert_int_equal(((const uint8_t *)wb.p)[0], 2);
	assert_int_equal(spool_node_decode(&out, 8, wb.p, wb.len), 0);
	assert_string_equal(out.domain, "n2.cluster.test");
	assert_string_equal(out.name, "n2");
	((uint8_t *)wb.p)[0] = 3;
	assert_int_equal(spool_node_decode(&out, 8, wb.p, wb.len),
			 SPOOL_E_VERSION);
	wbuf_free(&wb);
}

/* ---- NOOP ---- */

/* NOOP changes nothing but the highest stamp applied (spool_max_stamp),
 * and not even that when its stamp is not higher. */
static void test_noop_changes_nothing_but_the_stamp(void **st)
{
	struct fx *f = *st;
	struct spool_cmd c;
	struct spool_result res;
	struct wbuf before;
	char name[SPOOL_NAME_MAX + 1];
	uint64_t stamp = 0;

	fx_name(name, sizeof(name), 1);
	assert_int_equal(fx_enqueue(f->sp, name, T0, 1), 0);
	assert_int_equal(set_num(f->sp, CFG_QUEUES, 3), 0);
	cmd_init(&c, CMD_NOOP);
	c.stamp = T0 + 999999;
	fx_apply(f->sp, &c, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.flags, 0);
	assert_int_equal(res.n, 0);
	spool_result_free(&res);
	assert_int_equal(spool_max_stamp(f->sp, &stamp), 0);
	assert_int_equal(stamp, T0 + 999999);
	snap_take(f->sp, &before);
	c.stamp = T0 + 5;
	assert_int_equal(fx_status(f->sp, &c), 0);
	assert_unchanged(f->sp, &before);
}

/* ---- the outbound TLS policy table ---- */

static int tlspol_cmd(struct spool *sp, int type, const char *domain, int level)
{
	struct spool_cmd c;

	cmd_init(&c, type);
	c.u.tlspol.domain = domain;
	c.u.tlspol.level = (uint8_t)level;
	return fx_status(sp, &c);
}

static int tlspol_cb(const char *a, const char *b, uint64_t n, void *arg)
{
	char item[600];

	snprintf(item, sizeof(item), "%s=%s/%u", a, b, (unsigned)n);
	seen_add(arg, item);
	return 0;
}

static void tlspol_seen(struct spool *sp, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(spool_tlspol_foreach(sp, tlspol_cb, s), 0);
}

static void test_tlspol_set_folds_replaces_and_lists(void **st)
{
	struct fx *f = *st;
	struct seen s;

	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "Secure.Example.", TLSPOL_VERIFY),
	    0);
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, ".example.ORG", TLSPOL_ENCRYPT),
	    0);
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "plain.test", TLSPOL_NONE), 0);
	tlspol_seen(f->sp, &s);
	assert_string_equal(s.text, ".example.org=encrypt/3,plain.test=none/1,"
				    "secure.example=verify/4");
	/* a second SET replaces the level */
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "secure.example", TLSPOL_MAY), 0);
	tlspol_seen(f->sp, &s);
	assert_int_equal(s.n, 3);
	assert_non_null(strstr(s.text, "secure.example=may/2"));
}

static void test_tlspol_lookup_exact_then_parents(void **st)
{
	struct fx *f = *st;
	char m[TLSPOL_KEY_MAX + 1];

	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "example.com", TLSPOL_VERIFY), 0);
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, ".example.com", TLSPOL_ENCRYPT),
	    0);
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, ".b.example.com", TLSPOL_NONE),
	    0);
	/* the exact key */
	assert_int_equal(
	    spool_tlspol_lookup(f->sp, "Example.COM.", m, sizeof(m)),
	    TLSPOL_VERIFY);
	assert_string_equal(m, "example.com");
	/* the nearest parent wins */
	assert_int_equal(
	    spool_tlspol_lookup(f->sp, "a.b.example.com", m, sizeof(m)),
	    TLSPOL_NONE);
	assert_string_equal(m, ".b.example.com");
	assert_int_equal(
	    spool_tlspol_lookup(f->sp, "b.example.com", m, sizeof(m)),
	    TLSPOL_ENCRYPT);
	assert_string_equal(m, ".example.com");
	/* ".example.com" is not example.com's own key, nor other domains' */
	assert_int_equal(tlspol_cmd(f->sp, CMD_TLSPOL_REMOVE, "example.com", 0),
			 0);
	assert_int_equal(
	    spool_tlspol_lookup(f->sp, "example.com", m, sizeof(m)),
	    TLSPOL_DEFAULT);
	assert_string_equal(m, "");
	assert_int_equal(
	    spool_tlspol_lookup(f->sp, "notexample.com", m, sizeof(m)),
	    TLSPOL_DEFAULT);
	assert_int_equal(spool_tlspol_lookup(f->sp, "", NULL, 0),
			 TLSPOL_DEFAULT);
}

static void test_tlspol_refusals_change_nothing(void **st)
{
	struct fx *f = *st;
	struct wbuf before;

	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "keep.test", TLSPOL_ENCRYPT), 0);
	snap_take(f->sp, &before);
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "bad..test", TLSPOL_MAY),
	    SPOOL_E_INVAL);
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_SET, "..test", TLSPOL_MAY),
	    SPOOL_E_INVAL);
	assert_int_equal(tlspol_cmd(f->sp, CMD_TLSPOL_SET, ".", TLSPOL_MAY),
			 SPOOL_E_INVAL);
	/* past the codec: levels it would not encode */
	for (int lv = 0; lv <= TLSPOL_VERIFY + 1; lv += TLSPOL_VERIFY + 1) {
		struct spool_cmd c;
		struct spool_result res;

		cmd_init(&c, CMD_TLSPOL_SET);
		c.u.tlspol.domain = "x.test";
		c.u.tlspol.level = (uint8_t)lv;
		assert_int_equal(spool_apply_cmd(f->sp, &c, &res), 0);
		assert_int_equal(res.status, SPOOL_E_INVAL);
		spool_result_free(&res);
	}
	assert_int_equal(
	    tlspol_cmd(f->sp, CMD_TLSPOL_REMOVE, "missing.test", 0),
	    SPOOL_E_NOTFOUND);
	assert_unchanged(f->sp, &before);
	assert_int_equal(tlspol_cmd(f->sp, CMD_TLSPOL_REMOVE, "KEEP.test", 0),
			 0);
	assert_int_equal(spool_tlspol_lookup(f->sp, "keep.test", NULL, 0),
			 TLSPOL_DEFAULT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_config_load_gives_defaults_on_fresh_spool),
	    T(test_set_config_sets_numbers_and_strings),
	    T(test_set_config_accepts_range_limits),
	    T(test_set_config_reset_returns_key_to_default),
	    T(test_set_config_out_of_range_refuses_whole_batch),
	    T(test_set_config_bad_string_refuses_whole_batch),
	    T(test_set_config_unknown_key_refused),
	    T(test_alias_add_folds_case_and_drops_trailing_dot),
	    T(test_alias_add_existing_reports_duplicate),
	    T(test_alias_remove_deletes_and_missing_is_notfound),
	    T(test_alias_name_over_64_chars_refused),
	    T(test_alias_256th_refused_with_limit),
	    T(test_alias_replace_replaces_whole_list),
	    T(test_alias_replace_with_invalid_name_changes_nothing),
	    T(test_alias_replace_over_255_names_refused),
	    T(test_mx_foreach_lists_gateways_by_preference),
	    T(test_mx_remove_one_gateway_keeps_the_others),
	    T(test_mx_remove_empty_gateway_removes_whole_domain),
	    T(test_mx_remove_spanning_many_pages_removes_every_match),
	    T(test_mx_remove_missing_is_notfound),
	    T(test_mx_accepts_ip_literal_gateway),
	    T(test_mx_refuses_bad_domain_or_gateway),
	    T(test_host_add_stores_ipv4_and_ipv6),
	    T(test_host_add_again_replaces_addresses),
	    T(test_host_add_refuses_bad_address_or_name),
	    T(test_host_remove_deletes_and_missing_is_notfound),
	    T(test_forward_set_get_and_clear),
	    T(test_forward_to_itself_refused),
	    T(test_forward_user_is_case_folded),
	    T(test_node_set_new_node_gets_mail_started_service_enabled),
	    T(test_node_set_updates_only_fields_in_mask),
	    T(test_node_remove_deletes_and_missing_is_notfound),
	    T(test_node_id_zero_refused),
	    T(test_node_name_too_long_refused),
	    T(test_node_set_domain_kept_until_changed),
	    T(test_node_domain_too_long_refused),
	    T(test_node_record_version1_decodes_with_empty_domain),
	    T(test_noop_changes_nothing_but_the_stamp),
	    T(test_tlspol_set_folds_replaces_and_lists),
	    T(test_tlspol_lookup_exact_then_parents),
	    T(test_tlspol_refusals_change_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
