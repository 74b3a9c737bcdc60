/*
 * record.h — the control-file record stored in the `ctl` table, and its
 * versioned binary encoding.
 *
 * A control file is one message with its envelope and per-recipient state
 * (seed 18.1.2). The body lives apart in the `body` table under the same
 * name. Recipient states move PENDING -> DELIVERED | FAILED -> BOUNCED; a
 * control file with no PENDING and no FAILED recipient is deleted.
 *
 * Ownership: spool_rec_decode() makes pointers into the input bytes (which
 * must outlive the record) and allocates only the recipient array; release
 * it with spool_rec_free(). A record built by hand for encoding owns
 * nothing: spool_rec_encode() only reads it.
 */
#ifndef SPOOL_RECORD_H
#define SPOOL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "spool/codec/wire.h"

#define SPOOL_REC_VERSION 1
#define SPOOL_NAME_MAX 255   /* control-file name */
#define SPOOL_ADDR_MAX 1024  /* envelope address, reply text */
#define SPOOL_TEXT_MAX 4096  /* remote reply, DSN text */
#define SPOOL_RCPT_MAX 10000 /* recipients in one control file */
#define SPOOL_BODY_MAX (256u * 1024 * 1024)

enum spool_rcpt_state {
	RCPT_PENDING = 0,   /* not delivered yet (new or deferred) */
	RCPT_DELIVERED = 1, /* done */
	RCPT_FAILED = 2,    /* permanent failure, bounce not yet enqueued */
	RCPT_BOUNCED = 3,   /* failed and its bounce is enqueued (or dropped) */
};

/* DSN NOTIFY bits (RFC 3461); 0 = not given (default behaviour). */
enum {
	DSN_NOTIFY_NEVER = 1,
	DSN_NOTIFY_SUCCESS = 2,
	DSN_NOTIFY_FAILURE = 4,
	DSN_NOTIFY_DELAY = 8
};
/* DSN RET (RFC 3461). */
enum { DSN_RET_NONE = 0, DSN_RET_HDRS = 1, DSN_RET_FULL = 2 };

/* What the control file is, for bounce rules. */
enum spool_kind {
	KIND_MAIL = 0,	     /* ordinary mail */
	KIND_BOUNCE = 1,     /* a DSN to the original sender (user SYSTEM) */
	KIND_POSTMASTER = 2, /* a failed bounce sent on to the postmaster */
};

/* Recipient flags (struct spool_rcpt.flags). */
enum {
	/* accepted as local by the receiving node (its domain, a registered
	 * node's, an alias, a node-local alias of that node): the claiming
	 * node delivers it locally whatever its own tables say */
	RCPT_F_LOCAL = 1,
	/* its delay warning (NOTIFY=DELAY, RFC 3461) is sent: set by the
	 * COMPLETE whose report carries it (OUT_DEFERRED_WARNED), so it is
	 * sent once whichever node holds the next claim; an ENQUEUE's is
	 * ignored (state, like the recipient's attempts) */
	RCPT_F_DELAYED = 2,
};
#define RCPT_F_ALL (RCPT_F_LOCAL | RCPT_F_DELAYED)

/* Message flags (struct spool_rec.flags), in the high nibble of the byte
 * that carries ret (spool_ret_byte). */
enum {
	/* received with MAIL FROM ... SMTPUTF8 (RFC 6531): UTF-8 addresses
	 * and header fields; relayed only to a next hop offering SMTPUTF8 */
	MSG_F_SMTPUTF8 = 1,
};
#define MSG_F_ALL MSG_F_SMTPUTF8

/* In the byte ret and the flags share on the wire only (never in struct
 * spool_rec.flags): set when the record has a login, whose str(NAME)
 * then follows that byte. Set exactly when the login is not "", so the
 * encoding stays canonical and a record without a login is the bytes it
 * always was. */
#define SPOOL_RET_F_LOGIN 0x20

struct spool_rcpt {
	const char *addr;  /* forward-path, without angle brackets */
	const char *orcpt; /* DSN ORCPT or "" */
	uint8_t notify;	   /* DSN_NOTIFY_* bits */
	uint8_t flags;	   /* RCPT_F_* */
	uint8_t state;	   /* enum spool_rcpt_state */
	uint32_t attempts; /* delivery attempts for this recipient */
	uint64_t last_ms;  /* stamp of the last outcome, 0 if none */
	const char *reply; /* last remote reply or reason, "" if none */
};

struct spool_claim {
	uint64_t node;	    /* holder node id, 0 = unclaimed */
	uint64_t lease_end; /* ms; the lease is live while stamp < lease_end */
	uint64_t fence;	    /* fencing number of this grant */
};

struct spool_rec {
	const char
	    *user; /* control-file user-name: TCPIP$SMTP, SYSTEM, unix user */
	const char *sender; /* MAIL FROM reverse-path, "" for <> */
	const char *client; /* client address the message came from */
	const char *helo;   /* HELO/EHLO name given by the client */
	const char *envid;  /* DSN ENVID or "" */
	const char *login;  /* SMTP AUTH login of the submitter, NULL/"" none */
	uint8_t ret;	    /* DSN_RET_* */
	uint8_t flags;	    /* MSG_F_* */
	uint8_t kind;	    /* enum spool_kind */
	uint8_t hold;	    /* 1 = on hold (not claimable, not in `due`) */
	uint32_t hops;	    /* Received: headers counted at receipt */
	uint64_t origin_node; /* node that received or created it */
	uint64_t created_ms;  /* stamp of the ENQUEUE */
	uint64_t next_ms;     /* next attempt, ms */
	uint32_t attempts;    /* delivery attempts of the whole file */
	uint64_t body_size;   /* bytes in the `body` table */
	struct spool_claim claim;
	uint64_t last_fence; /* fence of the last accepted COMPLETE */
	uint32_t nrcpt;
	struct spool_rcpt *rcpt;
};

/* The one byte a recipient's notify and flags share on the wire (in the
 * ENQUEUE command and in the record): notify in the low nibble, flags in
 * the high one. spool_rcpt_byte_get() returns 0, or SPOOL_E_MALFORMED
 * for a bit neither defines. */
uint8_t spool_rcpt_byte(const struct spool_rcpt *r);
int spool_rcpt_byte_get(struct spool_rcpt *r, uint8_t b);

/* The byte ret and the message flags share on the wire (in ENQUEUE and in
 * the record): ret in the low nibble, flags in the high one, so a record
 * without flags is the byte it always was; SPOOL_RET_F_LOGIN when r has a
 * login. spool_ret_byte_get() returns 0, 1 when a login follows the byte
 * (rec->login is then the caller's to read), or SPOOL_E_MALFORMED for a
 * value neither defines. */
uint8_t spool_ret_byte(const struct spool_rec *r);
int spool_ret_byte_get(struct spool_rec *r, uint8_t b);

/* Encode rec into wb (appends). Returns 0 or SPOOL_E_NOMEM. */
int spool_rec_encode(const struct spool_rec *rec, struct wbuf *wb);

/* Decode len bytes at p into rec. 0, SPOOL_E_VERSION or SPOOL_E_MALFORMED;
 * on error nothing needs freeing. */
int spool_rec_decode(struct spool_rec *rec, const void *p, size_t len);

void spool_rec_free(struct spool_rec *rec);

/* The time from which the file may be claimed: next attempt, or the end of
 * a lease if later. Meaningless for a held file. */
uint64_t spool_rec_due(const struct spool_rec *rec);

/* Number of recipients in state st. */
uint32_t spool_rec_count(const struct spool_rec *rec, int st);

#endif
