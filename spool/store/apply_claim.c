/*
 * apply_claim.c — the exactly-once machinery: CLAIM (grant leases with a
 * fencing number), RENEW (extend a live lease) and COMPLETE (record the
 * outcome of one delivery attempt, release the claim, schedule the retry,
 * fail recipients past /INTERVAL=MAXIMUM, enqueue the bounce in the same
 * transaction, delete a finished file).
 *
 * The rule (DESIGN.md "Claim"): a claim is granted only if the file
 * exists, is not held, is due (next attempt <= stamp) and is unclaimed or
 * its lease ended (lease_end <= stamp). Each grant takes the next fencing
 * number from meta "fence". RENEW and COMPLETE must name the holder and its
 * fencing number and arrive before the lease ends; otherwise they are
 * refused, and the symbiont logs a possible duplicate delivery.
 */
#include <stdlib.h>
#include <string.h>

#include "spool/store/spool_impl.h"

#define LEASE_MAX_MS (24ull * 3600 * 1000)

/* Take the next fencing number from meta. */
static int next_fence(struct spool *sp, MDB_txn *txn, uint64_t *out)
{
	MDB_val k = {5, (void *)"fence"}, v;
	uint8_t b[8];
	uint64_t f = 0;
	int rc = mdb_get(txn, sp->dbi[T_META], &k, &v);

	if (rc == 0 && v.mv_size == 8)
		f = be64_get(v.mv_data);
	else if (rc && rc != MDB_NOTFOUND)
		return spool_mdb_err(rc);
	f++;
	be64_put(b, f);
	v.mv_data = b;
	v.mv_size = 8;
	rc = mdb_put(txn, sp->dbi[T_META], &k, &v, 0);
	*out = f;
	return spool_mdb_err(rc);
}

/* Grant (or refuse) one name of a CLAIM batch. */
static int claim_one(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		     const char *name, struct spool_item_result *it)
{
	const struct spool_cmd_claim *cl = &c->u.claim;
	struct spool_ctl f;
	struct spool_rec rec;
	int rc = spool_ctl_load(sp, txn, name, &f);

	if (rc == SPOOL_E_NOTFOUND || rc == SPOOL_E_MALFORMED) {
		it->status = rc;
		return 0;
	}
	if (rc)
		return rc;
	rec = f.rec;
	if (f.rec.hold) {
		it->status = SPOOL_E_HELD;
	} else if (f.rec.claim.node != 0 && c->stamp < f.rec.claim.lease_end &&
		   f.rec.claim.node != cl->node) {
		it->status = SPOOL_E_CLAIMED;
	} else if (f.rec.claim.node == cl->node &&
		   c->stamp < f.rec.claim.lease_end) {
		/* a retried CLAIM of the same holder: same grant, longer */
		rec.claim.lease_end = c->stamp + cl->lease_ms;
		if (rec.claim.lease_end < f.rec.claim.lease_end)
			rec.claim.lease_end = f.rec.claim.lease_end;
		it->fence = rec.claim.fence;
		rc = spool_ctl_put(sp, txn, name, &f.rec, &rec);
	} else if (c->stamp < f.rec.next_ms) {
		it->status = SPOOL_E_NOTDUE;
	} else {
		rc = next_fence(sp, txn, &rec.claim.fence);
		if (rc == 0) {
			rec.claim.node = cl->node;
			rec.claim.lease_end = c->stamp + cl->lease_ms;
			it->fence = rec.claim.fence;
			rc = spool_ctl_put(sp, txn, name, &f.rec, &rec);
		}
	}
	spool_ctl_free(&f);
	return rc;
}

int apply_claim(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		struct spool_result *res)
{
	const struct spool_cmd_claim *cl = &c->u.claim;
	int rc;

	if (cl->node == 0 || cl->lease_ms == 0 || cl->lease_ms > LEASE_MAX_MS ||
	    cl->n == 0) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	res->items = calloc(cl->n, sizeof(*res->items));
	if (res->items == NULL)
		return SPOOL_E_NOMEM;
	res->n = cl->n;
	for (uint32_t i = 0; i < cl->n; i++) {
		rc = claim_one(sp, txn, c, cl->names[i], &res->items[i]);
		if (rc)
			return rc;
		if (res->items[i].status == 0)
			res->value++;
	}
	return 0;
}

/* Check that the command's holder owns a live claim on f. */
static int check_holder(const struct spool_rec *r, uint64_t node,
			uint64_t fence, uint64_t stamp)
{
	if (r->claim.node == 0)
		return SPOOL_E_NOCLAIM;
	if (r->claim.node != node || r->claim.fence != fence)
		return SPOOL_E_STALE;
	if (stamp >= r->claim.lease_end)
		return SPOOL_E_EXPIRED;
	return 0;
}

int apply_renew(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		struct spool_result *res)
{
	const struct spool_cmd_renew *rn = &c->u.renew;
	struct spool_ctl f;
	struct spool_rec rec;
	int rc;

	if (rn->lease_ms == 0 || rn->lease_ms > LEASE_MAX_MS) {
		res->status = SPOOL_E_INVAL;
		return 0;
	}
	rc = spool_ctl_load(sp, txn, rn->name, &f);
	if (rc == SPOOL_E_NOTFOUND || rc == SPOOL_E_MALFORMED) {
		res->status = rc;
		return 0;
	}
	if (rc)
		return rc;
	res->status = check_holder(&f.rec, rn->node, rn->fence, c->stamp);
	if (res->status == 0) {
		rec = f.rec;
		if (c->stamp + rn->lease_ms > rec.claim.lease_end)
			rec.claim.lease_end = c->stamp + rn->lease_ms;
		res->value = rec.claim.lease_end;
		rc = spool_ctl_put(sp, txn, rn->name, &f.rec, &rec);
	}
	spool_ctl_free(&f);
	return rc;
}

/* Record the outcomes into rec's recipient copy; 0 or SPOOL_E_INVAL. */
static int record_outcomes(struct spool_rec *rec,
			   const struct spool_cmd_complete *cp, uint64_t stamp,
			   uint8_t *explicit_fail)
{
	for (uint32_t i = 0; i < cp->n; i++) {
		const struct spool_outcome_item *o = &cp->items[i];
		struct spool_rcpt *r;

		if (o->rcpt >= rec->nrcpt)
			return SPOOL_E_INVAL;
		r = &rec->rcpt[o->rcpt];
		if (r->state != RCPT_PENDING)
			continue; /* already final: a repeated report */
		r->attempts++;
		r->last_ms = stamp;
		r->reply = o->reply;
		if (o->outcome == OUT_DELIVERED) {
			r->state = RCPT_DELIVERED;
		} else if (o->outcome == OUT_FAILED) {
			r->state = RCPT_FAILED;
			explicit_fail[o->rcpt] = 1;
		} else if (o->outcome == OUT_DEFERRED_WARNED &&
			   cp->has_bounce) {
			r->flags |= RCPT_F_DELAYED; /* warned once */
		}
	}
	return 0;
}

int apply_complete(struct spool *sp, MDB_txn *txn, const struct spool_cmd *c,
		   struct spool_result *res)
{
	const struct spool_cmd_complete *cp = &c->u.complete;
	struct spool_config cfg;
	struct spool_ctl f;
	struct spool_rec rec;
	struct spool_rcpt *rcpt = NULL;
	uint8_t *explicit_fail = NULL;
	int bounce_done = (cp->flags & COMPLETE_BOUNCE_DONE) || cp->has_bounce;
	uint32_t pending = 0, failed = 0;
	int rc;

	rc = spool_ctl_load(sp, txn, cp->name, &f);
	if (rc == SPOOL_E_NOTFOUND || rc == SPOOL_E_MALFORMED) {
		res->status = rc;
		return 0;
	}
	if (rc)
		return rc;
	if (f.rec.claim.node == 0 && f.rec.last_fence != 0 &&
	    f.rec.last_fence == cp->fence) {
		res->flags |= RES_F_DUPLICATE; /* a retried COMPLETE */
		goto out_free_ctl;
	}
	res->status = check_holder(&f.rec, cp->node, cp->fence, c->stamp);
	if (res->status)
		goto out_free_ctl;
	if (cp->flags & COMPLETE_UNTRIED) {
		/* the holder gives the claim back before any attempt */
		rec = f.rec;
		memset(&rec.claim, 0, sizeof(rec.claim));
		rec.last_fence = cp->fence;
		rec.next_ms = c->stamp;
		res->value = rec.next_ms;
		rc = spool_ctl_put(sp, txn, cp->name, &f.rec, &rec);
		goto out_free_ctl;
	}
	if ((rc = spool_config_read(sp, txn, &cfg)) != 0)
		goto out_free_ctl;

	rec = f.rec;
	rcpt = calloc(rec.nrcpt, sizeof(*rcpt));
	explicit_fail = calloc(rec.nrcpt, 1);
	if (rcpt == NULL || explicit_fail == NULL) {
		rc = SPOOL_E_NOMEM;
		goto out_free_all;
	}
	memcpy(rcpt, f.rec.rcpt, rec.nrcpt * sizeof(*rcpt));
	rec.rcpt = rcpt;
	res->status = record_outcomes(&rec, cp, c->stamp, explicit_fail);
	if (res->status)
		goto out_free_all;
	rec.attempts++;
	memset(&rec.claim, 0, sizeof(rec.claim));
	rec.last_fence = cp->fence;

	for (uint32_t i = 0; i < rec.nrcpt; i++)
		if (rec.rcpt[i].state == RCPT_PENDING)
			pending++;
	if (pending) {
		rec.next_ms = spool_retry_next(&cfg, rec.created_ms,
					       rec.attempts, c->stamp);
		if (rec.next_ms == 0) {
			/* past /INTERVAL=MAXIMUM: the recipients fail now;
			 * their bounce is still to be made */
			for (uint32_t i = 0; i < rec.nrcpt; i++) {
				if (rec.rcpt[i].state != RCPT_PENDING)
					continue;
				rec.rcpt[i].state = RCPT_FAILED;
				rec.rcpt[i].last_ms = c->stamp;
				rec.rcpt[i].reply = "retry time exceeded "
						    "(/INTERVAL=MAXIMUM)";
			}
			pending = 0;
		}
	}
	for (uint32_t i = 0; i < rec.nrcpt; i++) {
		if (rec.rcpt[i].state != RCPT_FAILED)
			continue;
		/* the bounce covers what the symbiont reported failed (now or
		 * before), not what the retry limit just failed */
		if (bounce_done &&
		    (explicit_fail[i] || f.rec.rcpt[i].state == RCPT_FAILED))
			rec.rcpt[i].state = RCPT_BOUNCED;
		else
			failed++;
	}
	if (failed)
		rec.next_ms = c->stamp; /* due now: make the bounce */

	if (cp->has_bounce) {
		rc = apply_enqueue(sp, txn, c, &cp->bounce, res);
		if (rc || res->status)
			goto out_free_all;
		res->flags &= ~(uint32_t)RES_F_DUPLICATE;
		res->flags |= RES_F_BOUNCED;
	}
	if (pending == 0 && failed == 0) {
		res->flags |= RES_F_DELETED;
		rc = spool_body_del(sp, txn, cp->name);
		if (rc == 0)
			rc = spool_ctl_delete(sp, txn, cp->name, &f.rec);
		if (rc == 0)
			rc = spool_tomb_put(sp, txn, cp->name, c->stamp);
	} else {
		res->value = rec.next_ms;
		rc = spool_ctl_put(sp, txn, cp->name, &f.rec, &rec);
	}

out_free_all:
	free(explicit_fail);
	free(rcpt);
out_free_ctl:
	spool_ctl_free(&f);
	return rc;
}
