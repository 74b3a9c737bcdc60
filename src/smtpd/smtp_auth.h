/*
 * smtp_auth.h — the submission listeners' authentication service: Cyrus
 * SASL (libsasl2) on the server side, one sasl_conn_t per connection,
 * presented to the session as struct smtp_auth_ops (smtp_session.h).
 *
 * For main.c (once, before smtp_server_start):
 *     struct smtp_auth_conf ac = {.sasldb = conf.sub_sasldb, ...};
 *     smtp_auth_init(&ac, err, sizeof(err));  ...  smtp_auth_done();
 * and for smtp_inbound.c, per connection:
 *     a = smtp_auth_new(client_ip);
 *     sc.auth = smtp_auth_ops(a);  ...  smtp_auth_free(a);
 *
 * Configuration comes from the node (SASL's getopt callback), never from a
 * system-wide file when a sasldb is given: pwcheck_method auxprop, the
 * sasldb auxprop plugin and its file, the mechanism list. Without one,
 * the application's own SASL configuration ("smtpcluster.conf" in SASL's
 * configuration path) decides.
 */
#ifndef SRC_SMTPD_SMTP_AUTH_H
#define SRC_SMTPD_SMTP_AUTH_H

#include "src/smtpd/smtp_session.h"

struct smtp_auth_conf {
	const char *sasldb;	/* sasldb file; NULL/"" = SASL's own config */
	const char *mechanisms; /* mech_list; NULL/"" = "PLAIN LOGIN" */
	const char *hostname;	/* server FQDN (the node's domain) */
	const char *realm;	/* user realm; NULL/"" = hostname */
};

/* Start the library once per process. 0, or -1 with the reason in err. */
int smtp_auth_init(const struct smtp_auth_conf *c, char *err, unsigned errsize);

/* 1 once smtp_auth_init succeeded (and smtp_auth_done not yet called). */
int smtp_auth_ready(void);

/* Stop the library (after every connection was freed). */
void smtp_auth_done(void);

struct smtp_auth;

/* One connection's SASL state (remote: the client's address, for the
 * log). NULL when the library is not started, out of memory, or SASL
 * refused (logged). */
struct smtp_auth *smtp_auth_new(const char *remote);

/* The session's view of it; valid until smtp_auth_free. */
const struct smtp_auth_ops *smtp_auth_ops(struct smtp_auth *a);

void smtp_auth_free(struct smtp_auth *a);

#endif
