/*
 * apply_tables.c — commands on the cluster-wide tables: SET CONFIGURATION
 * SMTP (config), local aliases (seed 18.3), the local MX and hosts
 * databases (seed 18.1.5), MAIL SET FORWARD (forward) and the node table
 * (START/STOP MAIL, ENABLE/DISABLE SERVICE, names and addresses).
 *
 * Names (domains, hosts, users) are stored folded to lower case. Every
 * value is checked before anything is written, so a refused command
 * changes nothing.
 */
#include <string.h>

#include "spool/codec/hostname.h"
#include "spool/codec/aliases.h"
#include "spool/store/spool_impl.h"

/* Fold s to lower case into out (size >= strlen(s)+1); returns the
 * length. */
static size_t lower_name(char *out, const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		out[n] = (s[n] >= 'A' && s[n] <= 'Z') ? (char)(s[n] - 'A' + 'a')
						      : s[n];
	out[n] = 0;
	return n;
}

/* Same for a domain or host name, which also loses one trailing dot. */
static size_t lower(char *out, const char *s)
{
	size_t n = lower_name(out, s);

	if (n > 1 && out[n - 1] == '.')
		out[--n] = 0;
	return n;
}

/* An IP address, bare or in brackets ("[::1]"), by spool/codec/hostname's
 * rule. */
static int is_ip(const char *s)
{
	char tmp[64];
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = 0;
		s = tmp;
	}
	return hostname_ip_ok(s);
}

static int put_kv(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl,
		  const void *v, size_t vl)
{
	MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};

	return spool_mdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

/* Delete k; SPOOL_E_NOTFOUND if absent. */
static int del_k(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl)
{
	MDB_val key = {kl, (void *)k};

	return spool_mdb_err(mdb_del(txn, dbi, &key, NULL));
}

static int table_count(MDB_txn *txn, MDB_dbi dbi, size_t *n)
{
	MDB_stat st;
	int rc = mdb_stat(txn, dbi, &st);

	*n = rc ? 0 : st.ms_entries;
	return spool_mdb_err(rc);
}

static int set_config(struct spool *sp, MDB_txn *txn,
		      const struct spool_cmd_set_config *sc,
		      struct spool_result *res)
{
	int rc;

	for (uint32_t i = 0; i < sc->n; i++) {
		const struct spool_cfg_item *it = &sc->items[i];

		if (it->key >= CFG__COUNT ||
		    (!it->reset &&
		     spool_cfg_check(it->key, it->num, it->str))) {
			res->status = SPOOL_E_INVAL;
			return 0;
		}
	}
	for (uint32_t i = 0; i < sc->n; i++) {
		const struct spool_cfg_item *it = &sc->items[i];
		const struct spool_cfg_def *d = &spool_cfg_defs[it->key];
		size_t kl = strlen(d->name);
		struct wbuf wb;

		if (it->reset) {
			rc = del_k(txn, sp->dbi[T_CONFIG], d->name, kl);
			if (rc && rc != SPOOL_E_NOTFOUND)
				return rc;
			continue;
		}
		wbuf_init(&wb);
		wbuf_u8(&wb, (uint8_t)d->kind);
		if (d->kind == CFG_KIND_NUM)
			wbuf_u64(&wb, it->num);
		else
			wbuf_str(&wb, it->str);
		rc = wb.err ? wb.err
			    : put_kv(txn, sp->dbi[T_CONFIG], d->name, kl, wb.p,
				     wb.len);
		wbuf_free(&wb);
		if (rc)
			return rc;
	}
	res->value = sc->n;
	return 0;
}

/* Valid alias name: a domain of at most 64 characters (seed 18.3). */
static int alias_ok(const char *low, size_t n)
{
	return n > 0 && n <= ALIASES_NAME_MAX && aliases_domain_ok(low);
}

static int alias_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		    struct spool_result *res)
{
	const struct spool_cmd_alias *a = &c->u.alias;
	char low[SPOOL_KEY_MAX + 1];
	size_t n, count;
	int rc;

	if (c->type == CMD_ALIAS_REPLACE) {
		if (a->n > ALIASES_COUNT_MAX) {
			res->status = SPOOL_E_LIMIT;
			return 0;
		}
		for (uint32_t i = 0; i < a->n; i++) {
			if (strlen(a->domains[i]) > SPOOL_KEY_MAX ||
			    !alias_ok(low, lower(low, a->domains[i]))) {
				res->status = SPOOL_E_INVAL;
				return 0;
			}
		}
		rc = spool_mdb_err(mdb_drop(txn, sp->dbi[T_ALIASES], 0));
		for (uint32_t i = 0; rc == 0 && i < a->n; i++) {
			n = lower(low, a->domains[i]);
			rc = put_kv(txn, sp->dbi[T_ALIASES], low, n, "", 0);
		}
		res->value = a->n;
		return rc;
	}
	if (strlen(a->domain) > SPOOL_KEY_MAX ||
	    !alias_ok(low, (n = lower(low, a->domain)))) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	if (c->type == CMD_ALIAS_REMOVE) {
		rc = del_k(txn, sp->dbi[T_ALIASES], low, n);
		if (rc == SPOOL_E_NOTFOUND) {
			res->status = rc;
			rc = 0;
		}
		return rc;
	}
	MDB_val key = {n, low}, val;
	if (mdb_get(txn, sp->dbi[T_ALIASES], &key, &val) == 0) {
		res->flags |= RES_F_DUPLICATE;
		return 0;
	}
	if ((rc = table_count(txn, sp->dbi[T_ALIASES], &count)) != 0)
		return rc;
	if (count >= ALIASES_COUNT_MAX) {
		res->status = SPOOL_E_LIMIT;
		return 0;
	}
	return put_kv(txn, sp->dbi[T_ALIASES], low, n, "", 0);
}

static int mx_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		 struct spool_result *res)
{
	const struct spool_cmd_mx *m = &c->u.mx;
	char dom[SPOOL_KEY_MAX + 1], gw[SPOOL_KEY_MAX + 1];
	uint8_t k[SPOOL_KEY_MAX];
	size_t dl, kl;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc, op, found = 0;

	if (strlen(m->domain) > 254 || strlen(m->gateway) > 254) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	dl = lower(dom, m->domain);
	lower(gw, m->gateway);
	if (!aliases_domain_ok(dom) ||
	    (gw[0] && !aliases_domain_ok(gw) && !is_ip(gw)) ||
	    (c->type == CMD_MX_ADD && gw[0] == 0)) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	if (c->type == CMD_MX_ADD) {
		kl = spool_key_mx(k, dom, m->pref, gw);
		return put_kv(txn, sp->dbi[T_MX], k, kl, "", 0);
	}
	/* MX_REMOVE: every entry of the domain, or those to one gateway */
	rc = mdb_cursor_open(txn, sp->dbi[T_MX], &cur);
	if (rc)
		return spool_mdb_err(rc);
	memcpy(k, dom, dl + 1);
	key.mv_data = k;
	key.mv_size = dl + 1;
	op = MDB_SET_RANGE;
	while ((rc = mdb_cursor_get(cur, &key, &val, op)) == 0) {
		const uint8_t *p = key.mv_data;

		op = MDB_NEXT;
		if (key.mv_size < dl + 3 || memcmp(p, dom, dl + 1) != 0)
			break;
		if (gw[0] && (key.mv_size - dl - 3 != strlen(gw) ||
			      memcmp(p + dl + 3, gw, strlen(gw)) != 0))
			continue;
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		found++;
		/* LMDB: MDB_NEXT after a delete yields the entry that
		 * followed the deleted one */
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	if (!found)
		res->status = SPOOL_E_NOTFOUND;
	res->value = (uint64_t)found;
	return 0;
}

static int host_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res)
{
	const struct spool_cmd_host *h = &c->u.host;
	char low[SPOOL_KEY_MAX + 1];
	struct wbuf wb;
	size_t n;
	int rc;

	if (strlen(h->name) > 254) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	n = lower(low, h->name);
	if (!aliases_domain_ok(low)) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	if (c->type == CMD_HOST_REMOVE) {
		rc = del_k(txn, sp->dbi[T_HOSTS], low, n);
		if (rc == SPOOL_E_NOTFOUND) {
			res->status = rc;
			rc = 0;
		}
		return rc;
	}
	if (h->n == 0 || h->n > 64) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	for (uint32_t i = 0; i < h->n; i++) {
		if (!is_ip(h->addrs[i])) {
			res->status = SPOOL_E_INVAL;
			return 0;
		}
	}
	wbuf_init(&wb);
	wbuf_u32(&wb, h->n);
	for (uint32_t i = 0; i < h->n; i++)
		wbuf_str(&wb, h->addrs[i]);
	rc = wb.err ? wb.err
		    : put_kv(txn, sp->dbi[T_HOSTS], low, n, wb.p, wb.len);
	wbuf_free(&wb);
	return rc;
}

/* A user name for the forward table: printable, no blanks, <= 64. */
static int user_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

static int forward_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		      struct spool_result *res)
{
	const struct spool_cmd_forward *f = &c->u.forward;
	char low[SPOOL_KEY_MAX + 1], tlow[SPOOL_ADDR_MAX + 1];
	size_t n, tl;
	int rc;

	if (!user_ok(f->user)) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	n = lower_name(low, f->user);
	if (c->type == CMD_FORWARD_CLEAR) {
		rc = del_k(txn, sp->dbi[T_FORWARD], low, n);
		if (rc == SPOOL_E_NOTFOUND) {
			res->status = rc;
			rc = 0;
		}
		return rc;
	}
	tl = strlen(f->target);
	if (tl == 0 || tl > 255 || !user_ok(f->target)) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	lower_name(tlow, f->target);
	if (strcmp(tlow, low) == 0) {
		res->status = SPOOL_E_INVAL; /* forwarding to itself */
		return 0;
	}
	return put_kv(txn, sp->dbi[T_FORWARD], low, n, f->target, tl);
}

static int node_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res)
{
	const struct spool_cmd_node *ns = &c->u.node_set;
	const char *dom = ns->domain != NULL ? ns->domain : "";
	struct spool_node node;
	uint8_t key[8];
	MDB_val k = {8, key}, v;
	struct wbuf wb;
	int rc;

	if (ns->id == 0) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	be64_put(key, ns->id);
	if (c->type == CMD_NODE_REMOVE) {
		rc = del_k(txn, sp->dbi[T_NODES], key, 8);
		if (rc == SPOOL_E_NOTFOUND) {
			res->status = rc;
			rc = 0;
		}
		return rc;
	}
	if (((ns->mask & NODE_F_NAME) &&
	     strlen(ns->name) >= sizeof(node.name)) ||
	    ((ns->mask & NODE_F_SMTP) &&
	     strlen(ns->smtp) >= sizeof(node.smtp)) ||
	    ((ns->mask & NODE_F_CLUSTER) &&
	     strlen(ns->cluster) >= sizeof(node.cluster)) ||
	    ((ns->mask & NODE_F_DOMAIN) &&
	     strlen(dom) >= sizeof(node.domain))) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	rc = mdb_get(txn, sp->dbi[T_NODES], &k, &v);
	if (rc == MDB_NOTFOUND) {
		memset(&node, 0, sizeof(node));
		node.id = ns->id;
		node.mail_started = 1;
		node.service_enabled = 1;
	} else if (rc) {
		return spool_mdb_err(rc);
	} else if (spool_node_decode(&node, ns->id, v.mv_data, v.mv_size)) {
		memset(&node, 0, sizeof(node)); /* damaged: rewrite */
		node.id = ns->id;
		node.mail_started = 1;
		node.service_enabled = 1;
	}
	if (ns->mask & NODE_F_NAME)
		memcpy(node.name, ns->name, strlen(ns->name) + 1);
	if (ns->mask & NODE_F_SMTP)
		memcpy(node.smtp, ns->smtp, strlen(ns->smtp) + 1);
	if (ns->mask & NODE_F_CLUSTER)
		memcpy(node.cluster, ns->cluster, strlen(ns->cluster) + 1);
	if (ns->mask & NODE_F_MAIL)
		node.mail_started = ns->mail_started ? 1 : 0;
	if (ns->mask & NODE_F_SERVICE)
		node.service_enabled = ns->service_enabled ? 1 : 0;
	if (ns->mask & NODE_F_DOMAIN)
		memcpy(node.domain, dom, strlen(dom) + 1);
	wbuf_init(&wb);
	rc = spool_node_encode(&node, &wb);
	if (rc == 0)
		rc = put_kv(txn, sp->dbi[T_NODES], key, 8, wb.p, wb.len);
	wbuf_free(&wb);
	return rc;
}

int apply_table_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res)
{
	switch (c->type) {
	case CMD_SET_CONFIG:
		return set_config(sp, txn, &c->u.set_config, res);
	case CMD_ALIAS_ADD:
	case CMD_ALIAS_REMOVE:
	case CMD_ALIAS_REPLACE:
		return alias_op(sp, txn, c, res);
	case CMD_MX_ADD:
	case CMD_MX_REMOVE:
		return mx_op(sp, txn, c, res);
	case CMD_HOST_ADD:
	case CMD_HOST_REMOVE:
		return host_op(sp, txn, c, res);
	case CMD_FORWARD_SET:
	case CMD_FORWARD_CLEAR:
		return forward_op(sp, txn, c, res);
	case CMD_NODE_SET:
	case CMD_NODE_REMOVE:
		return node_op(sp, txn, c, res);
	case CMD_TLSPOL_SET:
	case CMD_TLSPOL_REMOVE:
		return apply_tlspol(sp, txn, c, res);
	default:
		res->status = SPOOL_E_MALFORMED;
		return 0;
	}
}
