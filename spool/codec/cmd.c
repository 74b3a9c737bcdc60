/*
 * cmd.c — the replicated-command codec (cmd.h): the 28-byte header and one
 * payload layout per command type (docs/spool-format.md), and the names of
 * the types.
 * Long because: one encoder and one decoder per command type (24), kept
 * side by side so a layout is read and written in one place.
 *
 * Owns: the wire layout and the structural validity rules of commands
 * (lengths, counts, enum ranges, required names). Does not own: what a
 * command means (spool.c applies it) or value ranges of settings
 * (config.c).
 * Failures: decode returns SPOOL_E_VERSION for another version,
 * SPOOL_E_MALFORMED for anything else it refuses, SPOOL_E_NOMEM when an
 * array cannot be allocated; *cmd is then zeroed and owns nothing. Encode
 * refuses with SPOOL_E_INVAL exactly what decode would refuse, appending
 * nothing, so decode(encode(cmd)) always succeeds. Decode never allocates
 * more than the remaining input can describe: it is fuzzed.
 */
#include "spool/codec/cmd.h"

#include <stdlib.h>
#include <string.h>

#include "spool/codec/config.h"
#include "spool/codec/err.h"
#include "spool/codec/tlspolicy.h"

/* Fewest bytes an empty wire string takes: u32 length and the NUL. */
#define STR_MIN 5
/* Fewest bytes of one item of each counted list. */
#define NAME_ITEM_MIN (STR_MIN + 1)		   /* non-empty string */
#define ENQ_RCPT_MIN (NAME_ITEM_MIN + STR_MIN + 1) /* addr, orcpt, notify */
#define OUTCOME_MIN (4 + 1 + STR_MIN)		   /* rcpt, outcome, reply */
#define CFG_ITEM_MIN (2 + 1 + 1 + STR_MIN)	   /* key, reset, kind, value */

#define NOTIFY_MASK                                                            \
	(DSN_NOTIFY_NEVER | DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE |          \
	 DSN_NOTIFY_DELAY)
#define NODE_F_ALL                                                             \
	(NODE_F_NAME | NODE_F_SMTP | NODE_F_CLUSTER | NODE_F_MAIL |            \
	 NODE_F_SERVICE | NODE_F_DOMAIN)

static const char *const cmd_names[CMD__COUNT] = {
    [CMD_NOOP] = "NOOP",
    [CMD_ENQUEUE] = "ENQUEUE",
    [CMD_CLAIM] = "CLAIM",
    [CMD_RENEW] = "RENEW",
    [CMD_COMPLETE] = "COMPLETE",
    [CMD_REMOVE] = "REMOVE",
    [CMD_REQUEUE] = "REQUEUE",
    [CMD_HOLD] = "HOLD",
    [CMD_RELEASE] = "RELEASE",
    [CMD_SET_CONFIG] = "SET_CONFIG",
    [CMD_ALIAS_ADD] = "ALIAS_ADD",
    [CMD_ALIAS_REMOVE] = "ALIAS_REMOVE",
    [CMD_ALIAS_REPLACE] = "ALIAS_REPLACE",
    [CMD_MX_ADD] = "MX_ADD",
    [CMD_MX_REMOVE] = "MX_REMOVE",
    [CMD_HOST_ADD] = "HOST_ADD",
    [CMD_HOST_REMOVE] = "HOST_REMOVE",
    [CMD_FORWARD_SET] = "FORWARD_SET",
    [CMD_FORWARD_CLEAR] = "FORWARD_CLEAR",
    [CMD_NODE_SET] = "NODE_SET",
    [CMD_NODE_REMOVE] = "NODE_REMOVE",
    [CMD_REPAIR] = "REPAIR",
    [CMD_TLSPOL_SET] = "TLSPOL_SET",
    [CMD_TLSPOL_REMOVE] = "TLSPOL_REMOVE",
};

const char *spool_cmd_name(int type)
{
	if (type < 0 || type >= CMD__COUNT)
		return "?";
	return cmd_names[type];
}

/* ---- encoding ---- */

/* Encoder state: the buffer and a sticky SPOOL_E_INVAL. */
struct enc {
	struct wbuf *wb;
	int err;
};

/* Mark the command as not encodable unless ok. */
static void e_check(struct enc *e, int ok)
{
	if (!ok)
		e->err = SPOOL_E_INVAL;
}

/* A string of at most max bytes, non-empty when need is set. */
static void e_str(struct enc *e, const char *s, size_t max, int need)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	e_check(e, n <= max && (n > 0 || !need));
	if (!e->err)
		wbuf_str(e->wb, s);
}

/* A u8 that must be at most max. */
static void e_u8(struct enc *e, uint8_t v, uint8_t max)
{
	e_check(e, v <= max);
	wbuf_u8(e->wb, v);
}

/* A count of at most max whose array must exist when n > 0; returns 1 when
 * the items may be written. */
static int e_count(struct enc *e, uint32_t n, uint32_t max, const void *arr)
{
	e_check(e, n <= max && (n == 0 || arr != NULL));
	wbuf_u32(e->wb, n);
	return !e->err;
}

/* A list of non-empty strings of at most max bytes each. */
static void e_strlist(struct enc *e, uint32_t n, const char *const *v,
		      uint32_t maxn, size_t max)
{
	if (!e_count(e, n, maxn, v))
		return;
	for (uint32_t i = 0; i < n && !e->err; i++)
		e_str(e, v[i], max, 1);
}

/* ENQUEUE payload: name, envelope, new recipients, body. */
static void enc_enqueue(struct enc *e, const struct spool_cmd_enqueue *q)
{
	const struct spool_rec *r = &q->rec;

	e_str(e, q->name, SPOOL_NAME_MAX, 1);
	e_str(e, r->user, SPOOL_NAME_MAX, 0);
	e_str(e, r->sender, SPOOL_ADDR_MAX, 0);
	e_str(e, r->client, SPOOL_ADDR_MAX, 0);
	e_str(e, r->helo, SPOOL_ADDR_MAX, 0);
	e_str(e, r->envid, SPOOL_ADDR_MAX, 0);
	e_check(e, r->ret <= DSN_RET_FULL && (r->flags & ~MSG_F_ALL) == 0);
	wbuf_u8(e->wb, spool_ret_byte(r));
	if (spool_ret_byte(r) & SPOOL_RET_F_LOGIN) /* a login follows */
		e_str(e, r->login, SPOOL_NAME_MAX, 1);
	e_u8(e, r->kind, KIND_POSTMASTER);
	wbuf_u32(e->wb, r->hops);
	wbuf_u64(e->wb, r->origin_node);
	e_check(e, r->nrcpt > 0);
	if (e_count(e, r->nrcpt, SPOOL_RCPT_MAX, r->rcpt)) {
		for (uint32_t i = 0; i < r->nrcpt && !e->err; i++) {
			const struct spool_rcpt *t = &r->rcpt[i];

			e_str(e, t->addr, SPOOL_ADDR_MAX, 1);
			e_str(e, t->orcpt, SPOOL_ADDR_MAX, 0);
			e_check(e, (t->notify & ~NOTIFY_MASK) == 0 &&
				       (t->flags & ~RCPT_F_ALL) == 0);
			wbuf_u8(e->wb, spool_rcpt_byte(t));
		}
	}
	e_check(e, q->body_len <= SPOOL_BODY_MAX &&
		       (q->body_len == 0 || q->body != NULL));
	if (!e->err)
		wbuf_blob(e->wb, q->body, q->body_len);
}

/* CLAIM payload: node, lease, names. */
static void enc_claim(struct enc *e, const struct spool_cmd_claim *c)
{
	wbuf_u64(e->wb, c->node);
	wbuf_u64(e->wb, c->lease_ms);
	e_strlist(e, c->n, c->names, SPOOL_CLAIM_MAX, SPOOL_NAME_MAX);
}

/* COMPLETE payload: name, holder, outcomes, optional bounce. */
static void enc_complete(struct enc *e, const struct spool_cmd_complete *c)
{
	e_str(e, c->name, SPOOL_NAME_MAX, 1);
	wbuf_u64(e->wb, c->node);
	wbuf_u64(e->wb, c->fence);
	e_check(e, (c->flags & ~(uint32_t)COMPLETE_F_ALL) == 0 &&
		       (!(c->flags & COMPLETE_UNTRIED) ||
			(c->n == 0 && !c->has_bounce)));
	wbuf_u32(e->wb, c->flags);
	if (e_count(e, c->n, SPOOL_RCPT_MAX, c->items)) {
		for (uint32_t i = 0; i < c->n && !e->err; i++) {
			const struct spool_outcome_item *it = &c->items[i];

			e_check(e, it->rcpt < SPOOL_RCPT_MAX);
			wbuf_u32(e->wb, it->rcpt);
			e_check(e, it->outcome >= OUT_DELIVERED);
			e_u8(e, it->outcome, OUT_DEFERRED_WARNED);
			e_str(e, it->reply, SPOOL_TEXT_MAX, 0);
		}
	}
	wbuf_u8(e->wb, c->has_bounce ? 1 : 0);
	if (c->has_bounce)
		enc_enqueue(e, &c->bounce);
}

/* SET_CONFIG payload: items of key, reset, kind and a value of that kind. */
static void enc_set_config(struct enc *e, const struct spool_cmd_set_config *s)
{
	if (!e_count(e, s->n, SPOOL_LIST_MAX, s->items))
		return;
	for (uint32_t i = 0; i < s->n && !e->err; i++) {
		const struct spool_cfg_item *it = &s->items[i];

		e_check(e, it->key < CFG__COUNT);
		if (e->err)
			return;
		wbuf_u16(e->wb, it->key);
		e_u8(e, it->reset, 1);
		wbuf_u8(e->wb, (uint8_t)spool_cfg_defs[it->key].kind);
		if (spool_cfg_defs[it->key].kind == CFG_KIND_NUM)
			wbuf_u64(e->wb, it->num);
		else
			e_str(e, it->str, SPOOL_CFG_STR_MAX, 0);
	}
}

/* NODE_SET payload (NODE_REMOVE carries the id only). */
static void enc_node(struct enc *e, int type, const struct spool_cmd_node *n)
{
	e_check(e, n->id != 0);
	wbuf_u64(e->wb, n->id);
	if (type == CMD_NODE_REMOVE)
		return;
	e_check(e, (n->mask & ~(uint32_t)NODE_F_ALL) == 0);
	wbuf_u32(e->wb, n->mask);
	e_str(e, n->name, SPOOL_NAME_MAX, 0);
	e_str(e, n->smtp, SPOOL_NAME_MAX, 0);
	e_str(e, n->cluster, SPOOL_NAME_MAX, 0);
	e_u8(e, n->mail_started, 1);
	e_u8(e, n->service_enabled, 1);
	if (n->mask & NODE_F_DOMAIN)
		e_str(e, n->domain, SPOOL_NAME_MAX, 0);
}

/* The payload of cmd->type. */
static void enc_payload(struct enc *e, const struct spool_cmd *cmd)
{
	const struct spool_cmd_alias *al = &cmd->u.alias;
	const struct spool_cmd_host *h = &cmd->u.host;

	switch (cmd->type) {
	case CMD_NOOP:
		break;
	case CMD_ENQUEUE:
		enc_enqueue(e, &cmd->u.enqueue);
		break;
	case CMD_CLAIM:
		enc_claim(e, &cmd->u.claim);
		break;
	case CMD_RENEW:
		e_str(e, cmd->u.renew.name, SPOOL_NAME_MAX, 1);
		wbuf_u64(e->wb, cmd->u.renew.node);
		wbuf_u64(e->wb, cmd->u.renew.fence);
		wbuf_u64(e->wb, cmd->u.renew.lease_ms);
		break;
	case CMD_COMPLETE:
		enc_complete(e, &cmd->u.complete);
		break;
	case CMD_REMOVE:
		e_str(e, cmd->u.remove.name, SPOOL_NAME_MAX, 1);
		e_u8(e, cmd->u.remove.force, 1);
		break;
	case CMD_REQUEUE:
		e_str(e, cmd->u.requeue.name, SPOOL_NAME_MAX, 1);
		wbuf_u64(e->wb, cmd->u.requeue.after_ms);
		break;
	case CMD_HOLD:
	case CMD_RELEASE:
		e_str(e, cmd->u.hold.name, SPOOL_NAME_MAX, 1);
		break;
	case CMD_SET_CONFIG:
		enc_set_config(e, &cmd->u.set_config);
		break;
	case CMD_ALIAS_ADD:
	case CMD_ALIAS_REMOVE:
		e_str(e, al->domain, SPOOL_NAME_MAX, 1);
		break;
	case CMD_ALIAS_REPLACE:
		e_strlist(e, al->n, al->domains, SPOOL_LIST_MAX,
			  SPOOL_NAME_MAX);
		break;
	case CMD_MX_ADD:
	case CMD_MX_REMOVE:
		e_str(e, cmd->u.mx.domain, SPOOL_NAME_MAX, 1);
		wbuf_u16(e->wb, cmd->u.mx.pref);
		e_str(e, cmd->u.mx.gateway, SPOOL_NAME_MAX,
		      cmd->type == CMD_MX_ADD);
		break;
	case CMD_HOST_ADD:
		e_str(e, h->name, SPOOL_NAME_MAX, 1);
		e_check(e, h->n > 0);
		e_strlist(e, h->n, h->addrs, SPOOL_LIST_MAX, SPOOL_NAME_MAX);
		break;
	case CMD_HOST_REMOVE:
		e_str(e, h->name, SPOOL_NAME_MAX, 1);
		break;
	case CMD_FORWARD_SET:
		e_str(e, cmd->u.forward.user, SPOOL_NAME_MAX, 1);
		e_str(e, cmd->u.forward.target, SPOOL_ADDR_MAX, 1);
		break;
	case CMD_FORWARD_CLEAR:
		e_str(e, cmd->u.forward.user, SPOOL_NAME_MAX, 1);
		break;
	case CMD_NODE_SET:
	case CMD_NODE_REMOVE:
		enc_node(e, cmd->type, &cmd->u.node_set);
		break;
	case CMD_REPAIR:
		e_check(e, cmd->u.repair.flags == 0);
		wbuf_u32(e->wb, cmd->u.repair.flags);
		break;
	case CMD_TLSPOL_SET:
	case CMD_TLSPOL_REMOVE:
		e_str(e, cmd->u.tlspol.domain, TLSPOL_KEY_MAX, 1);
		if (cmd->type == CMD_TLSPOL_SET) {
			e_check(e, cmd->u.tlspol.level >= TLSPOL_NONE);
			e_u8(e, cmd->u.tlspol.level, TLSPOL_VERIFY);
		}
		break;
	default:
		e->err = SPOOL_E_INVAL;
		break;
	}
}

/* Append the header and payload; on refusal wb is left as it was. */
int spool_cmd_encode(const struct spool_cmd *cmd, struct wbuf *wb)
{
	struct enc e = {.wb = wb, .err = 0};
	size_t start = wb->len;

	if (wb->err)
		return wb->err;
	wbuf_u8(wb, SPOOL_CMD_VERSION);
	wbuf_u8(wb, cmd->type);
	wbuf_u16(wb, 0);
	wbuf_u64(wb, cmd->stamp);
	wbuf_u64(wb, cmd->node);
	wbuf_u64(wb, cmd->req);
	enc_payload(&e, cmd);
	if (wb->err)
		return wb->err;
	if (e.err) {
		wb->len = start;
		return e.err;
	}
	return 0;
}

/* ---- decoding ---- */

/* Decoder state: the reader (rb.err is sticky) and an allocation failure,
 * kept apart because later reads turn rb.err back into MALFORMED. */
struct dec {
	struct rbuf rb;
	int nomem;
};

/* Mark the input malformed unless ok. */
static void d_check(struct dec *d, int ok)
{
	if (!ok)
		d->rb.err = SPOOL_E_MALFORMED;
}

/* A string of at most max bytes, non-empty when need is set. */
static const char *d_str(struct dec *d, size_t max, int need)
{
	const char *s = rbuf_str(&d->rb, max);

	d_check(d, !need || s[0] != '\0');
	return s;
}

/* A u8 that must be at most max. */
static uint8_t d_u8(struct dec *d, uint8_t max)
{
	uint8_t v = rbuf_u8(&d->rb);

	d_check(d, v <= max);
	return v;
}

/*
 * Zeroed array for a count just read: the count must be at most max and
 * the input must still hold n items of at least min bytes each, so a forged
 * count cannot drive a large allocation. NULL for n == 0 or on error.
 */
static void *d_array(struct dec *d, uint32_t n, uint32_t max, size_t min,
		     size_t size)
{
	void *a;

	d_check(d, n <= max && (size_t)n * min <= rbuf_left(&d->rb));
	if (d->rb.err || n == 0)
		return NULL;
	a = calloc(n, size);
	if (a == NULL) {
		d->nomem = 1;
		d->rb.err = SPOOL_E_MALFORMED;
	}
	return a;
}

/* A list of non-empty strings; *n gets the count, the array is owned. */
static const char **d_strlist(struct dec *d, uint32_t *n, uint32_t maxn,
			      size_t max)
{
	const char **v;

	*n = rbuf_u32(&d->rb);
	v = d_array(d, *n, maxn, NAME_ITEM_MIN, sizeof(*v));
	for (uint32_t i = 0; v != NULL && i < *n && !d->rb.err; i++)
		v[i] = d_str(d, max, 1);
	return v;
}

/* ENQUEUE payload into q; state fields of q->rec are left zero. */
static void dec_enqueue(struct dec *d, struct spool_cmd_enqueue *q)
{
	struct spool_rec *r = &q->rec;

	q->name = d_str(d, SPOOL_NAME_MAX, 1);
	r->user = d_str(d, SPOOL_NAME_MAX, 0);
	r->sender = d_str(d, SPOOL_ADDR_MAX, 0);
	r->client = d_str(d, SPOOL_ADDR_MAX, 0);
	r->helo = d_str(d, SPOOL_ADDR_MAX, 0);
	r->envid = d_str(d, SPOOL_ADDR_MAX, 0);
	switch (spool_ret_byte_get(r, rbuf_u8(&d->rb))) {
	case 0:
		break;
	case 1: /* a login follows, never empty */
		r->login = d_str(d, SPOOL_NAME_MAX, 1);
		break;
	default:
		d_check(d, 0);
	}
	r->kind = d_u8(d, KIND_POSTMASTER);
	r->hops = rbuf_u32(&d->rb);
	r->origin_node = rbuf_u64(&d->rb);
	r->nrcpt = rbuf_u32(&d->rb);
	d_check(d, r->nrcpt > 0);
	r->rcpt = d_array(d, r->nrcpt, SPOOL_RCPT_MAX, ENQ_RCPT_MIN,
			  sizeof(*r->rcpt));
	for (uint32_t i = 0; r->rcpt != NULL && i < r->nrcpt && !d->rb.err;
	     i++) {
		struct spool_rcpt *t = &r->rcpt[i];

		t->addr = d_str(d, SPOOL_ADDR_MAX, 1);
		t->orcpt = d_str(d, SPOOL_ADDR_MAX, 0);
		d_check(d, spool_rcpt_byte_get(t, rbuf_u8(&d->rb)) == 0);
		t->reply = "";
	}
	q->body = rbuf_blob(&d->rb, SPOOL_BODY_MAX, &q->body_len);
}

/* CLAIM payload. */
static void dec_claim(struct dec *d, struct spool_cmd_claim *c)
{
	c->node = rbuf_u64(&d->rb);
	c->lease_ms = rbuf_u64(&d->rb);
	c->names = d_strlist(d, &c->n, SPOOL_CLAIM_MAX, SPOOL_NAME_MAX);
}

/* COMPLETE payload, with the nested bounce ENQUEUE if present. */
static void dec_complete(struct dec *d, struct spool_cmd_complete *c)
{
	c->name = d_str(d, SPOOL_NAME_MAX, 1);
	c->node = rbuf_u64(&d->rb);
	c->fence = rbuf_u64(&d->rb);
	c->flags = rbuf_u32(&d->rb);
	d_check(d, (c->flags & ~(uint32_t)COMPLETE_F_ALL) == 0);
	c->n = rbuf_u32(&d->rb);
	c->items =
	    d_array(d, c->n, SPOOL_RCPT_MAX, OUTCOME_MIN, sizeof(*c->items));
	for (uint32_t i = 0; c->items != NULL && i < c->n && !d->rb.err; i++) {
		struct spool_outcome_item *it = &c->items[i];

		it->rcpt = rbuf_u32(&d->rb);
		d_check(d, it->rcpt < SPOOL_RCPT_MAX);
		it->outcome = rbuf_u8(&d->rb);
		d_check(d, it->outcome >= OUT_DELIVERED &&
			       it->outcome <= OUT_DEFERRED_WARNED);
		it->reply = d_str(d, SPOOL_TEXT_MAX, 0);
	}
	c->has_bounce = d_u8(d, 1);
	/* a claim given back carries no outcome and no bounce */
	d_check(d, !(c->flags & COMPLETE_UNTRIED) ||
		       (c->n == 0 && !c->has_bounce));
	if (c->has_bounce && !d->rb.err)
		dec_enqueue(d, &c->bounce);
}

/* SET_CONFIG payload: the value's kind must be the key's. */
static void dec_set_config(struct dec *d, struct spool_cmd_set_config *s)
{
	s->n = rbuf_u32(&d->rb);
	s->items =
	    d_array(d, s->n, SPOOL_LIST_MAX, CFG_ITEM_MIN, sizeof(*s->items));
	for (uint32_t i = 0; s->items != NULL && i < s->n && !d->rb.err; i++) {
		struct spool_cfg_item *it = &s->items[i];
		uint8_t kind;

		it->key = rbuf_u16(&d->rb);
		d_check(d, it->key < CFG__COUNT);
		it->reset = d_u8(d, 1);
		kind = rbuf_u8(&d->rb);
		if (d->rb.err)
			return;
		d_check(d, kind == (uint8_t)spool_cfg_defs[it->key].kind);
		if (kind == CFG_KIND_NUM)
			it->num = rbuf_u64(&d->rb);
		else
			it->str = d_str(d, SPOOL_CFG_STR_MAX, 0);
	}
}

/* NODE_SET / NODE_REMOVE payload. */
static void dec_node(struct dec *d, int type, struct spool_cmd_node *n)
{
	n->id = rbuf_u64(&d->rb);
	d_check(d, n->id != 0);
	if (type == CMD_NODE_REMOVE)
		return;
	n->mask = rbuf_u32(&d->rb);
	d_check(d, (n->mask & ~(uint32_t)NODE_F_ALL) == 0);
	n->name = d_str(d, SPOOL_NAME_MAX, 0);
	n->smtp = d_str(d, SPOOL_NAME_MAX, 0);
	n->cluster = d_str(d, SPOOL_NAME_MAX, 0);
	n->mail_started = d_u8(d, 1);
	n->service_enabled = d_u8(d, 1);
	n->domain = "";
	if ((n->mask & NODE_F_DOMAIN) && !d->rb.err)
		n->domain = d_str(d, SPOOL_NAME_MAX, 0);
}

/* The payload of cmd->type (already checked to be known). */
static void dec_payload(struct dec *d, struct spool_cmd *cmd)
{
	struct spool_cmd_alias *al = &cmd->u.alias;
	struct spool_cmd_host *h = &cmd->u.host;

	switch (cmd->type) {
	case CMD_NOOP:
		break;
	case CMD_ENQUEUE:
		dec_enqueue(d, &cmd->u.enqueue);
		break;
	case CMD_CLAIM:
		dec_claim(d, &cmd->u.claim);
		break;
	case CMD_RENEW:
		cmd->u.renew.name = d_str(d, SPOOL_NAME_MAX, 1);
		cmd->u.renew.node = rbuf_u64(&d->rb);
		cmd->u.renew.fence = rbuf_u64(&d->rb);
		cmd->u.renew.lease_ms = rbuf_u64(&d->rb);
		break;
	case CMD_COMPLETE:
		dec_complete(d, &cmd->u.complete);
		break;
	case CMD_REMOVE:
		cmd->u.remove.name = d_str(d, SPOOL_NAME_MAX, 1);
		cmd->u.remove.force = d_u8(d, 1);
		break;
	case CMD_REQUEUE:
		cmd->u.requeue.name = d_str(d, SPOOL_NAME_MAX, 1);
		cmd->u.requeue.after_ms = rbuf_u64(&d->rb);
		break;
	case CMD_HOLD:
	case CMD_RELEASE:
		cmd->u.hold.name = d_str(d, SPOOL_NAME_MAX, 1);
		break;
	case CMD_SET_CONFIG:
		dec_set_config(d, &cmd->u.set_config);
		break;
	case CMD_ALIAS_ADD:
	case CMD_ALIAS_REMOVE:
		al->domain = d_str(d, SPOOL_NAME_MAX, 1);
		break;
	case CMD_ALIAS_REPLACE:
		al->domain = "";
		al->domains =
		    d_strlist(d, &al->n, SPOOL_LIST_MAX, SPOOL_NAME_MAX);
		break;
	case CMD_MX_ADD:
	case CMD_MX_REMOVE:
		cmd->u.mx.domain = d_str(d, SPOOL_NAME_MAX, 1);
		cmd->u.mx.pref = rbuf_u16(&d->rb);
		cmd->u.mx.gateway =
		    d_str(d, SPOOL_NAME_MAX, cmd->type == CMD_MX_ADD);
		break;
	case CMD_HOST_ADD:
		h->name = d_str(d, SPOOL_NAME_MAX, 1);
		h->addrs = d_strlist(d, &h->n, SPOOL_LIST_MAX, SPOOL_NAME_MAX);
		d_check(d, h->n > 0);
		break;
	case CMD_HOST_REMOVE:
		h->name = d_str(d, SPOOL_NAME_MAX, 1);
		break;
	case CMD_FORWARD_SET:
		cmd->u.forward.user = d_str(d, SPOOL_NAME_MAX, 1);
		cmd->u.forward.target = d_str(d, SPOOL_ADDR_MAX, 1);
		break;
	case CMD_FORWARD_CLEAR:
		cmd->u.forward.user = d_str(d, SPOOL_NAME_MAX, 1);
		cmd->u.forward.target = "";
		break;
	case CMD_NODE_SET:
	case CMD_NODE_REMOVE:
		dec_node(d, cmd->type, &cmd->u.node_set);
		break;
	case CMD_REPAIR:
		cmd->u.repair.flags = rbuf_u32(&d->rb);
		d_check(d, cmd->u.repair.flags == 0);
		break;
	case CMD_TLSPOL_SET:
	case CMD_TLSPOL_REMOVE:
		cmd->u.tlspol.domain = d_str(d, TLSPOL_KEY_MAX, 1);
		if (cmd->type == CMD_TLSPOL_SET) {
			cmd->u.tlspol.level = d_u8(d, TLSPOL_VERIFY);
			d_check(d, cmd->u.tlspol.level >= TLSPOL_NONE);
		}
		break;
	default:
		d_check(d, 0);
		break;
	}
}

/* Decode header and payload; see cmd.h for ownership. */
int spool_cmd_decode(struct spool_cmd *cmd, const void *p, size_t len)
{
	struct dec d = {.nomem = 0};
	uint8_t ver, type;
	uint16_t reserved;

	memset(cmd, 0, sizeof(*cmd));
	rbuf_init(&d.rb, p, len);
	ver = rbuf_u8(&d.rb);
	if (d.rb.err)
		return SPOOL_E_MALFORMED;
	if (ver != SPOOL_CMD_VERSION)
		return SPOOL_E_VERSION;
	type = rbuf_u8(&d.rb);
	reserved = rbuf_u16(&d.rb);
	cmd->stamp = rbuf_u64(&d.rb);
	cmd->node = rbuf_u64(&d.rb);
	cmd->req = rbuf_u64(&d.rb);
	if (d.rb.err || reserved != 0 || type >= CMD__COUNT)
		goto err_zero;
	cmd->type = type;
	dec_payload(&d, cmd);
	if (rbuf_done(&d.rb) != 0)
		goto err_after_alloc;
	return 0;

err_after_alloc:
	spool_cmd_free(cmd);
err_zero:
	memset(cmd, 0, sizeof(*cmd));
	return d.nomem ? SPOOL_E_NOMEM : SPOOL_E_MALFORMED;
}

/* Free what decode allocated for one ENQUEUE payload. */
static void free_enqueue(struct spool_cmd_enqueue *q)
{
	free(q->rec.rcpt);
	q->rec.rcpt = NULL;
}

/* Free the arrays of a decoded command and zero it. */
void spool_cmd_free(struct spool_cmd *cmd)
{
	if (cmd == NULL)
		return;
	switch (cmd->type) {
	case CMD_ENQUEUE:
		free_enqueue(&cmd->u.enqueue);
		break;
	case CMD_CLAIM:
		free(cmd->u.claim.names);
		break;
	case CMD_COMPLETE:
		free(cmd->u.complete.items);
		free_enqueue(&cmd->u.complete.bounce);
		break;
	case CMD_SET_CONFIG:
		free(cmd->u.set_config.items);
		break;
	case CMD_ALIAS_REPLACE:
		free(cmd->u.alias.domains);
		break;
	case CMD_HOST_ADD:
		free(cmd->u.host.addrs);
		break;
	default:
		break;
	}
	memset(cmd, 0, sizeof(*cmd));
}
