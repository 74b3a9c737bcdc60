/*
 * smtp_client_conn.h — the delivery client's transport: connect to a
 * destination (TCP, or a Unix socket for LMTP), run one smtp_client
 * engine on it (src/base/conn.h: write queue, client-side STARTTLS over
 * memory BIOs, the certificate checked only with a verifying context:
 * the TLS policy verify; the phase timer), and call back once every handle is closed.
 *
 * Ownership: the transport allocates its struct smtp_conn and frees it
 * right after the callback; the TLS context, the recipients and the
 * configuration are the caller's and must outlive the callback.
 * Errors: smtp_conn_start returns 0 or a negative SPOOL_E_*; everything
 * after that is told to the engine, which records it per recipient.
 */
#ifndef SRC_DELIVERY_SMTP_CLIENT_CONN_H
#define SRC_DELIVERY_SMTP_CLIENT_CONN_H

#include <stdint.h>
#include <uv.h>

struct smtp_client;
struct smtp_client_cfg;
struct smtp_client_rcpt;
struct smtp_conn;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* A client TLS context for opportunistic STARTTLS (no verification).
 * NULL on failure. Free with smtp_client_tls_free. (tls_client_ctx_new
 * of src/base/tls.h under the name the delivery engine calls.) */
struct ssl_ctx_st *smtp_client_tls_ctx(void);
void smtp_client_tls_free(struct ssl_ctx_st *ctx);
/* A verifying one (the TLS policy "verify": tls_client_ctx_new_verify of
 * src/base/tls.h): chain checked against ca_file (NULL or "": the system
 * store), the name against the target's sni. NULL with err on failure. */
struct ssl_ctx_st *smtp_client_tls_ctx_verify(const char *ca_file, char *err,
					      size_t errsize);

struct smtp_conn_target {
	const char *ip; /* numeric address, or NULL for unix_path */
	unsigned port;
	const char *unix_path; /* "unix:" address of an LMTP server */
	const char *sni;       /* server name for TLS SNI, or NULL */
	int verify; /* the TLS context verifies (sni is the name checked) */
};

/* Called once the transaction is over; c is valid during the call only
 * (the rcpt array holds the outcomes). keep NULL: the connection is
 * closed and every handle with it. keep non-NULL (cfg->reuse > 1 and the
 * session is fine): the connection is open and idle, and the callee owns
 * it: smtp_conn_next() for another message, smtp_conn_park() to keep it
 * for later, or nothing (it is then QUIT and closed without a callback). */
typedef void (*smtp_conn_cb)(void *arg, const struct smtp_client *c,
			     struct smtp_conn *keep);

/* Connect to t and run one session. tls NULL disables STARTTLS. *slot
 * holds the connection until cb runs. 0 or a negative SPOOL_E_* (no
 * callback then). */
int smtp_conn_start(uv_loop_t *loop, const struct smtp_conn_target *t,
		    struct ssl_ctx_st *tls, const struct smtp_client_cfg *cfg,
		    struct smtp_client_rcpt *r, uint32_t n, smtp_conn_cb cb,
		    void *arg, struct smtp_conn **slot);

/* End the session now; unanswered recipients are deferred with why. The
 * callback still runs, once the handles are closed. */
void smtp_conn_abort(struct smtp_conn *c, const char *why);

/* What protects c now: 0 clear, 1 TLS, 2 TLS with the certificate
 * verified for the name *host (set when host is not NULL; "" unless 2). */
int smtp_conn_tls(const struct smtp_conn *c, const char **host);

/* 1 when c is open and idle between transactions (may take the next). */
int smtp_conn_ready(const struct smtp_conn *c);
/* The next message on an idle connection (cfg, r, n, cb, arg and slot as
 * for smtp_conn_start; smtp_client_next() sends RSET first). 0, or a
 * negative SPOOL_E_* with nothing sent: c is still the caller's. */
int smtp_conn_next(struct smtp_conn *c, const struct smtp_client_cfg *cfg,
		   struct smtp_client_rcpt *r, uint32_t n, smtp_conn_cb cb,
		   void *arg, struct smtp_conn **slot);
/* Keep an idle connection: cb (keep NULL) runs once it closes, after its
 * idle time (cfg->t_idle, then QUIT), the peer's close or an abort. */
void smtp_conn_park(struct smtp_conn *c, smtp_conn_cb cb, void *arg);
/* QUIT and close an idle connection; its parked callback, if any, runs
 * once it is closed. */
void smtp_conn_quit(struct smtp_conn *c);

#endif
