/*
 * apply_queue.c — commands on whole control files: ENQUEUE (the receiver's
 * and the symbiont's bounces), REMOVE MAIL, SEND MAIL (REQUEUE), HOLD and
 * RELEASE.
 *
 * ENQUEUE is idempotent on the control-file name: a proposal retried after
 * a leader change finds its file, or the tombstone the file left when it
 * was finished or removed (tomb.c), and reports RES_F_DUPLICATE. REMOVE is
 * refused while a claim is live (the seed: remove held mail, not mail being
 * processed); an expired claim needs force.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/codec/ctlname.h"
#include "spool/store/spool_impl.h"

/* 1 if the file has a claim whose lease is still running at stamp. */
static int claim_live(const struct spool_rec *r, uint64_t stamp)
{
	return r->claim.node != 0 && stamp < r->claim.lease_end;
}

int apply_enqueue(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		  const struct spool_cmd_enqueue *e, struct spool_result *res)
{
	struct ctlname cn;
	struct spool_config cfg;
	struct spool_rec rec;
	MDB_val k = {strlen(e->name), (void *)e->name}, v;
	int rc;

	if (ctlname_parse(e->name, &cn) != 0) {
		res->status = SPOOL_E_BADNAME;
		return 0;
	}
	if (strcmp(cn.user, e->rec.user) != 0 || e->rec.nrcpt == 0) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	for (uint32_t i = 0; i < e->rec.nrcpt; i++) {
		if (e->rec.rcpt[i].addr[0] == 0) {
			res->status = SPOOL_E_INVAL;
			return 0;
		}
	}
	rc = mdb_get(txn, sp->dbi[T_CTL], &k, &v);
	if (rc == 0) {
		res->flags |= RES_F_DUPLICATE;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	rc = spool_tomb_has(sp, txn, e->name);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		res->flags |= RES_F_DUPLICATE;
		return 0;
	}
	if ((rc = spool_config_read(sp, txn, &cfg)) != 0)
		return rc;
	if (e->rec.hops > cfg.num[CFG_HOP_COUNT_MAXIMUM]) {
		res->status = SPOOL_E_HOPS;
		return 0;
	}

	rec = e->rec; /* envelope; the state below is the FSM's */
	rec.created_ms = c->stamp;
	rec.next_ms = c->stamp;
	rec.attempts = 0;
	rec.hold = 0;
	rec.body_size = e->body_len;
	memset(&rec.claim, 0, sizeof(rec.claim));
	rec.last_fence = 0;
	/* recipients: reset the state fields in a private copy */
	struct spool_rcpt rc_buf[64];
	struct spool_rcpt *rcpt = rc_buf;
	if (rec.nrcpt > 64) {
		rcpt = calloc(rec.nrcpt, sizeof(*rcpt));
		if (rcpt == NULL)
			return SPOOL_E_NOMEM;
	}
	for (uint32_t i = 0; i < rec.nrcpt; i++) {
		rcpt[i] = e->rec.rcpt[i];
		rcpt[i].state = RCPT_PENDING;
		rcpt[i].flags &= (uint8_t)~RCPT_F_DELAYED;
		rcpt[i].attempts = 0;
		rcpt[i].last_ms = 0;
		rcpt[i].reply = "";
	}
	rec.rcpt = rcpt;

	rc = spool_body_put(sp, txn, e->name, e->body, e->body_len);
	if (rc == 0)
		rc = spool_ctl_put(sp, txn, e->name, NULL, &rec);
	if (rcpt != rc_buf)
		free(rcpt);
	return rc;
}

/* REMOVE MAIL */
static int do_remove(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		     struct spool_ctl *f, struct spool_result *res)
{
	int rc;

	if (claim_live(&f->rec, c->stamp)) {
		res->status = SPOOL_E_CLAIMED;
		return 0;
	}
	if (f->rec.claim.node != 0 && !c->u.remove.force) {
		res->status = SPOOL_E_CLAIM_STALE;
		return 0;
	}
	res->flags |= RES_F_DELETED;
	rc = spool_body_del(sp, txn, f->name);
	if (rc == 0)
		rc = spool_ctl_delete(sp, txn, f->name, &f->rec);
	return rc ? rc : spool_tomb_put(sp, txn, f->name, c->stamp);
}

/* SEND MAIL: due now (or at after_ms), released from hold. */
static int do_requeue(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		      struct spool_ctl *f, struct spool_result *res)
{
	struct spool_rec rec = f->rec;

	if (claim_live(&f->rec, c->stamp)) {
		res->status = SPOOL_E_CLAIMED;
		return 0;
	}
	rec.next_ms = c->u.requeue.after_ms ? c->u.requeue.after_ms : c->stamp;
	rec.hold = 0;
	memset(&rec.claim, 0, sizeof(rec.claim));
	res->value = rec.next_ms;
	return spool_ctl_put(sp, txn, f->name, &f->rec, &rec);
}

static int do_hold(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_ctl *f, struct spool_result *res, int hold)
{
	struct spool_rec rec = f->rec;

	if (hold && claim_live(&f->rec, c->stamp)) {
		res->status = SPOOL_E_CLAIMED;
		return 0;
	}
	if (f->rec.hold == hold)
		return 0; /* already so: idempotent */
	rec.hold = (uint8_t)hold;
	return spool_ctl_put(sp, txn, f->name, &f->rec, &rec);
}

int apply_queue_op(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res)
{
	const char *name;
	struct spool_ctl f;
	int rc;

	switch (c->type) {
	case CMD_REMOVE:
		name = c->u.remove.name;
		break;
	case CMD_REQUEUE:
		name = c->u.requeue.name;
		break;
	default:
		name = c->u.hold.name;
		break;
	}
	rc = spool_ctl_load(sp, txn, name, &f);
	if (rc == SPOOL_E_NOTFOUND || rc == SPOOL_E_MALFORMED) {
		res->status = rc;
		return 0;
	}
	if (rc)
		return rc;
	switch (c->type) {
	case CMD_REMOVE:
		rc = do_remove(sp, txn, c, &f, res);
		break;
	case CMD_REQUEUE:
		rc = do_requeue(sp, txn, c, &f, res);
		break;
	case CMD_HOLD:
		rc = do_hold(sp, txn, c, &f, res, 1);
		break;
	default:
		rc = do_hold(sp, txn, c, &f, res, 0);
		break;
	}
	spool_ctl_free(&f);
	return rc;
}
