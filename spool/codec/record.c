/*
 * record.c — the control-file record codec (record.h): the versioned binary
 * encoding of struct spool_rec kept in the `ctl` table, and two small
 * queries on a record (when it is due, how many recipients are in a state).
 *
 * Owns: the field order and the validity rules of the record encoding
 * (docs/spool-format.md). Does not own: storage (spool.c) or what the
 * recipient states mean for delivery.
 * Failures: encode returns SPOOL_E_INVAL for a record that would not decode
 * (so no undecodable record is ever stored) and SPOOL_E_NOMEM when the
 * buffer cannot grow; decode returns SPOOL_E_VERSION, SPOOL_E_MALFORMED or
 * SPOOL_E_NOMEM and then leaves nothing allocated and *rec zeroed.
 */
#include "spool/codec/record.h"

#include <stdlib.h>
#include <string.h>

#include "spool/codec/err.h"

/* Every DSN NOTIFY bit record.h defines. */
#define REC_NOTIFY_MASK                                                        \
	(DSN_NOTIFY_NEVER | DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE |          \
	 DSN_NOTIFY_DELAY)

/* Fewest bytes one encoded recipient takes: three empty strings (u32 length
 * and NUL each), notify, state, attempts, last_ms. */
#define REC_RCPT_MIN (3 * 5 + 1 + 1 + 4 + 8)

/* 1 if s (NULL counts as "") is at most max bytes long. */
static int str_fits(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

/* 1 if one recipient would decode. */
static int rcpt_valid(const struct spool_rcpt *r)
{
	return str_fits(r->addr, SPOOL_ADDR_MAX) &&
	       str_fits(r->orcpt, SPOOL_ADDR_MAX) &&
	       str_fits(r->reply, SPOOL_TEXT_MAX) &&
	       (r->notify & ~REC_NOTIFY_MASK) == 0 &&
	       (r->flags & ~RCPT_F_ALL) == 0 && r->state <= RCPT_BOUNCED;
}

uint8_t spool_rcpt_byte(const struct spool_rcpt *r)
{
	return (uint8_t)((r->notify & 0x0F) | (r->flags << 4));
}

int spool_rcpt_byte_get(struct spool_rcpt *r, uint8_t b)
{
	r->notify = b & 0x0F;
	r->flags = b >> 4;
	return (r->notify & ~REC_NOTIFY_MASK) == 0 &&
		       (r->flags & ~RCPT_F_ALL) == 0
		   ? 0
		   : SPOOL_E_MALFORMED;
}

uint8_t spool_ret_byte(const struct spool_rec *r)
{
	uint8_t login =
	    r->login != NULL && r->login[0] != '\0' ? SPOOL_RET_F_LOGIN : 0;

	return (uint8_t)((r->ret & 0x0F) | (r->flags << 4) | login);
}

int spool_ret_byte_get(struct spool_rec *r, uint8_t b)
{
	r->ret = b & 0x0F;
	r->flags = (b & ~SPOOL_RET_F_LOGIN) >> 4;
	if (r->ret > DSN_RET_FULL || (r->flags & ~MSG_F_ALL) != 0)
		return SPOOL_E_MALFORMED;
	return (b & SPOOL_RET_F_LOGIN) != 0;
}

/* 1 if the whole record would decode (the rules of spool_rec_decode). */
static int rec_valid(const struct spool_rec *rec)
{
	if (!str_fits(rec->user, SPOOL_NAME_MAX) ||
	    !str_fits(rec->sender, SPOOL_ADDR_MAX) ||
	    !str_fits(rec->client, SPOOL_ADDR_MAX) ||
	    !str_fits(rec->helo, SPOOL_ADDR_MAX) ||
	    !str_fits(rec->envid, SPOOL_ADDR_MAX) ||
	    !str_fits(rec->login, SPOOL_NAME_MAX))
		return 0;
	if (rec->ret > DSN_RET_FULL || (rec->flags & ~MSG_F_ALL) != 0 ||
	    rec->kind > KIND_POSTMASTER || rec->hold > 1)
		return 0;
	if (rec->nrcpt > SPOOL_RCPT_MAX ||
	    (rec->nrcpt > 0 && rec->rcpt == NULL))
		return 0;
	for (uint32_t i = 0; i < rec->nrcpt; i++)
		if (!rcpt_valid(&rec->rcpt[i]))
			return 0;
	return 1;
}

/* Append the encoding of rec; nothing is appended when it is invalid. */
int spool_rec_encode(const struct spool_rec *rec, struct wbuf *wb)
{
	if (!rec_valid(rec))
		return SPOOL_E_INVAL;
	wbuf_u8(wb, SPOOL_REC_VERSION);
	wbuf_str(wb, rec->user);
	wbuf_str(wb, rec->sender);
	wbuf_str(wb, rec->client);
	wbuf_str(wb, rec->helo);
	wbuf_str(wb, rec->envid);
	wbuf_u8(wb, spool_ret_byte(rec));
	if (spool_ret_byte(rec) & SPOOL_RET_F_LOGIN)
		wbuf_str(wb, rec->login);
	wbuf_u8(wb, rec->kind);
	wbuf_u8(wb, rec->hold);
	wbuf_u32(wb, rec->hops);
	wbuf_u64(wb, rec->origin_node);
	wbuf_u64(wb, rec->created_ms);
	wbuf_u64(wb, rec->next_ms);
	wbuf_u32(wb, rec->attempts);
	wbuf_u64(wb, rec->body_size);
	wbuf_u64(wb, rec->claim.node);
	wbuf_u64(wb, rec->claim.lease_end);
	wbuf_u64(wb, rec->claim.fence);
	wbuf_u64(wb, rec->last_fence);
	wbuf_u32(wb, rec->nrcpt);
	for (uint32_t i = 0; i < rec->nrcpt; i++) {
		const struct spool_rcpt *r = &rec->rcpt[i];

		wbuf_str(wb, r->addr);
		wbuf_str(wb, r->orcpt);
		wbuf_u8(wb, spool_rcpt_byte(r));
		wbuf_u8(wb, r->state);
		wbuf_u32(wb, r->attempts);
		wbuf_u64(wb, r->last_ms);
		wbuf_str(wb, r->reply);
	}
	return wb->err;
}

/* Read one recipient; errors are left in rb->err. */
static void rcpt_decode(struct rbuf *rb, struct spool_rcpt *r)
{
	r->addr = rbuf_str(rb, SPOOL_ADDR_MAX);
	r->orcpt = rbuf_str(rb, SPOOL_ADDR_MAX);
	if (spool_rcpt_byte_get(r, rbuf_u8(rb)) != 0)
		rb->err = SPOOL_E_MALFORMED;
	r->state = rbuf_u8(rb);
	r->attempts = rbuf_u32(rb);
	r->last_ms = rbuf_u64(rb);
	r->reply = rbuf_str(rb, SPOOL_TEXT_MAX);
}

/* Decode a whole record; every byte must be used and every field valid. */
int spool_rec_decode(struct spool_rec *rec, const void *p, size_t len)
{
	struct rbuf rb;
	uint8_t ver;
	int rc = SPOOL_E_MALFORMED;

	memset(rec, 0, sizeof(*rec));
	rbuf_init(&rb, p, len);
	ver = rbuf_u8(&rb);
	if (rb.err)
		return SPOOL_E_MALFORMED;
	if (ver != SPOOL_REC_VERSION)
		return SPOOL_E_VERSION;
	rec->user = rbuf_str(&rb, SPOOL_NAME_MAX);
	rec->sender = rbuf_str(&rb, SPOOL_ADDR_MAX);
	rec->client = rbuf_str(&rb, SPOOL_ADDR_MAX);
	rec->helo = rbuf_str(&rb, SPOOL_ADDR_MAX);
	rec->envid = rbuf_str(&rb, SPOOL_ADDR_MAX);
	/* rec_valid checks ret and flags; a login follows when flagged, and
	 * then it is not empty (the encoding is canonical) */
	if (spool_ret_byte_get(rec, rbuf_u8(&rb)) == 1) {
		rec->login = rbuf_str(&rb, SPOOL_NAME_MAX);
		if (rec->login != NULL && rec->login[0] == '\0')
			rb.err = SPOOL_E_MALFORMED;
	}
	rec->kind = rbuf_u8(&rb);
	rec->hold = rbuf_u8(&rb);
	rec->hops = rbuf_u32(&rb);
	rec->origin_node = rbuf_u64(&rb);
	rec->created_ms = rbuf_u64(&rb);
	rec->next_ms = rbuf_u64(&rb);
	rec->attempts = rbuf_u32(&rb);
	rec->body_size = rbuf_u64(&rb);
	rec->claim.node = rbuf_u64(&rb);
	rec->claim.lease_end = rbuf_u64(&rb);
	rec->claim.fence = rbuf_u64(&rb);
	rec->last_fence = rbuf_u64(&rb);
	rec->nrcpt = rbuf_u32(&rb);
	/* Bound the allocation by what the input can hold before making it. */
	if (rb.err || rec->nrcpt > SPOOL_RCPT_MAX ||
	    (size_t)rec->nrcpt * REC_RCPT_MIN > rbuf_left(&rb))
		goto err_zero;
	if (rec->nrcpt > 0) {
		rec->rcpt = calloc(rec->nrcpt, sizeof(*rec->rcpt));
		if (rec->rcpt == NULL) {
			rc = SPOOL_E_NOMEM;
			goto err_zero;
		}
	}
	for (uint32_t i = 0; i < rec->nrcpt && !rb.err; i++)
		rcpt_decode(&rb, &rec->rcpt[i]);
	if (rbuf_done(&rb) != 0 || !rec_valid(rec))
		goto err_after_alloc;
	return 0;

err_after_alloc:
	free(rec->rcpt);
err_zero:
	memset(rec, 0, sizeof(*rec));
	return rc;
}

void spool_rec_free(struct spool_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->rcpt);
	memset(rec, 0, sizeof(*rec));
}

/* Claimable from the next attempt, or from the end of a claim's lease. */
uint64_t spool_rec_due(const struct spool_rec *rec)
{
	uint64_t lease = rec->claim.node ? rec->claim.lease_end : 0;

	return rec->next_ms > lease ? rec->next_ms : lease;
}

uint32_t spool_rec_count(const struct spool_rec *rec, int st)
{
	uint32_t n = 0;

	if (rec->rcpt == NULL)
		return 0;
	for (uint32_t i = 0; i < rec->nrcpt; i++)
		if (rec->rcpt[i].state == st)
			n++;
	return n;
}
