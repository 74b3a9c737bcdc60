/*
 * smtp_auth.c — the submission listeners' authentication service (see
 * smtp_auth.h) over Cyrus SASL: the library's one-time start with the
 * node's options (getopt callback), its log messages into ours, and per
 * connection a sasl_conn_t behind struct smtp_auth_ops — base64 decoding
 * of the client's responses, encoding of the challenges, the login once
 * the exchange succeeds.
 *
 * Owns the SASL library state of the process and each connection's
 * sasl_conn_t. Does not own the SMTP side of AUTH (smtp_verb_auth.c:
 * replies, when AUTH is allowed, the error count) nor the credentials
 * (the sasldb file, made with saslpasswd2, or whatever SASL's own
 * configuration names).
 *
 * Blocking: the checks run on the loop. With the sasldb auxprop they are
 * reads of a local file (what the tests and the documented setup use);
 * a SASL configuration that points at a network service (saslauthd,
 * LDAP) would stall the node's loop while it answers, which
 * docs/security.md says.
 *
 * Fails: the library refusing to start is a configuration error
 * (smtp_auth_init returns -1 and says why); a connection whose SASL
 * state cannot be made gets no AUTH (NULL, logged); an exchange that
 * fails is one of the SMTP_AUTH_E_* results, never a crash.
 */
#include "src/smtpd/smtp_auth.h"

#include <sasl/sasl.h>
#include <sasl/saslutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/log.h"

#define AUTH_SERVICE "smtp"    /* the SASL service name (RFC 4954) */
#define AUTH_APP "smtpcluster" /* SASL's application name */
#define AUTH_BUF 4096	       /* decoded responses, encoded challenges */
#define AUTH_DEFAULT_MECHS "PLAIN LOGIN"

static struct {
	int ready;
	int own_db; /* the node names its sasldb: no system config */
	char sasldb[1024];
	char mechs[256];
	char hostname[256];
	char realm[256];
} g;

struct smtp_auth {
	sasl_conn_t *conn;
	struct smtp_auth_ops ops;
	char remote[64]; /* the client's address, for the log */
	char mechs[256]; /* what sasl_listmech says is offered */
	char out[AUTH_BUF];
};

/* ---- the library ---- */

/* SASL asks for an option: the node's, else SASL's own configuration. */
static int cb_getopt(void *context, const char *plugin, const char *option,
		     const char **result, unsigned *len)
{
	const char *v = NULL;

	if (strcmp(option, "mech_list") == 0)
		v = g.mechs;
	else if (g.own_db && strcmp(option, "pwcheck_method") == 0)
		v = "auxprop";
	else if (g.own_db && strcmp(option, "auxprop_plugin") == 0)
		v = "sasldb";
	else if (g.own_db && strcmp(option, "sasldb_path") == 0)
		v = g.sasldb;
	if (v == NULL)
		return SASL_FAIL; /* not ours: the config file may say */
	*result = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

static int cb_log(void *context, int level, const char *message)
{
	if (level <= SASL_LOG_ERR)
		log_error("sasl: %s", message);
	else if (level <= SASL_LOG_WARN)
		log_warn("sasl: %s", message);
	else if (level <= SASL_LOG_NOTE)
		log_info("sasl: %s", message);
	else
		log_debug("sasl: %s", message);
	return SASL_OK;
}

static const sasl_callback_t callbacks[] = {
    {SASL_CB_GETOPT, (int (*)(void))(void (*)(void))cb_getopt, NULL},
    {SASL_CB_LOG, (int (*)(void))(void (*)(void))cb_log, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

int smtp_auth_init(const struct smtp_auth_conf *c, char *err, unsigned errsize)
{
	FILE *f;
	int rc;

	if (g.ready)
		return 0;
	memset(&g, 0, sizeof(g));
	if (c->sasldb != NULL && c->sasldb[0] != '\0') {
		/* a missing file would make every login fail; say so now */
		f = fopen(c->sasldb, "r");
		if (f == NULL) {
			snprintf(err, errsize, "sasldb %s cannot be read",
				 c->sasldb);
			return -1;
		}
		fclose(f);
		g.own_db = 1;
		snprintf(g.sasldb, sizeof(g.sasldb), "%s", c->sasldb);
	}
	snprintf(g.mechs, sizeof(g.mechs), "%s",
		 c->mechanisms && c->mechanisms[0] ? c->mechanisms
						   : AUTH_DEFAULT_MECHS);
	snprintf(g.hostname, sizeof(g.hostname), "%s",
		 c->hostname ? c->hostname : "");
	snprintf(g.realm, sizeof(g.realm), "%s",
		 c->realm && c->realm[0] ? c->realm : g.hostname);
	rc = sasl_server_init(callbacks, AUTH_APP);
	if (rc != SASL_OK) {
		snprintf(err, errsize, "SASL does not start: %s",
			 sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	g.ready = 1;
	log_info("smtp: SASL ready (%s, %s%s)", g.mechs,
		 g.own_db ? "sasldb " : "SASL's own configuration",
		 g.own_db ? g.sasldb : "");
	return 0;
}

int smtp_auth_ready(void)
{
	return g.ready;
}

void smtp_auth_done(void)
{
	if (!g.ready)
		return;
	sasl_server_done();
	g.ready = 0;
}

/* ---- one connection ---- */

/* A fresh sasl_conn_t (at start, and after an exchange that ended). */
static int conn_open(struct smtp_auth *a)
{
	sasl_security_properties_t sp;
	int rc;

	/* no IP;port pair: PLAIN and LOGIN do not use one */
	rc = sasl_server_new(AUTH_SERVICE, g.hostname, g.realm, NULL, NULL,
			     NULL, 0, &a->conn);
	if (rc != SASL_OK) {
		log_error("smtp [%s]: SASL: %s", a->remote,
			  sasl_errstring(rc, NULL, NULL));
		a->conn = NULL;
		return -1;
	}
	/* PLAIN and LOGIN send the password: smtp_verb_auth.c offers AUTH
	 * only under TLS, so no SASL security layer is wanted */
	memset(&sp, 0, sizeof(sp));
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	sasl_setprop(a->conn, SASL_SEC_PROPS, &sp);
	return 0;
}

static void conn_drop(struct smtp_auth *a)
{
	if (a->conn != NULL)
		sasl_dispose(&a->conn);
	a->conn = NULL;
}

/* Map a SASL result; a challenge is encoded into a->out. */
static int result(struct smtp_auth *a, int rc, const char *sout,
		  unsigned soutlen, const char **out)
{
	unsigned n = 0;

	*out = NULL;
	switch (rc) {
	case SASL_OK:
		return SMTP_AUTH_OK;
	case SASL_CONTINUE:
		if (sasl_encode64(sout, soutlen, a->out, sizeof(a->out), &n) !=
		    SASL_OK)
			return SMTP_AUTH_E_TEMP;
		a->out[n] = '\0';
		*out = a->out;
		return SMTP_AUTH_CONTINUE;
	case SASL_NOMECH:
	case SASL_TOOWEAK:
	case SASL_ENCRYPT:
		return SMTP_AUTH_E_MECH;
	case SASL_BADPROT:
	case SASL_BADPARAM:
		return SMTP_AUTH_E_SYNTAX;
	case SASL_NOMEM:
	case SASL_TRYAGAIN:
	case SASL_UNAVAIL:
		log_warn("smtp [%s]: SASL: %s", a->remote,
			 sasl_errdetail(a->conn));
		return SMTP_AUTH_E_TEMP;
	default: /* SASL_BADAUTH, SASL_NOUSER, SASL_NOAUTHZ, ... */
		log_debug("smtp [%s]: SASL: %s", a->remote,
			  sasl_errdetail(a->conn));
		return SMTP_AUTH_E_FAIL;
	}
}

/* Decode base64 text into buf (NUL-terminated). len or -1. */
static int decode(const char *in, char *buf, unsigned size, unsigned *len)
{
	if (sasl_decode64(in, (unsigned)strlen(in), buf, size - 1, len) !=
	    SASL_OK)
		return -1;
	buf[*len] = '\0';
	return 0;
}

static const char *op_mechs(void *arg)
{
	struct smtp_auth *a = arg;

	return a->mechs;
}

static int op_start(void *arg, const char *mech, const char *initial,
		    const char **out)
{
	struct smtp_auth *a = arg;
	char buf[AUTH_BUF];
	const char *sout = NULL;
	unsigned len = 0, soutlen = 0;
	int rc;

	*out = NULL;
	if (a->conn == NULL && conn_open(a) != 0)
		return SMTP_AUTH_E_TEMP;
	buf[0] = '\0'; /* "=": an empty initial response */
	if (initial != NULL && strcmp(initial, "=") != 0 &&
	    decode(initial, buf, sizeof(buf), &len) != 0)
		return SMTP_AUTH_E_SYNTAX;
	rc = sasl_server_start(a->conn, mech, initial != NULL ? buf : NULL,
			       initial != NULL ? len : 0, &sout, &soutlen);
	return result(a, rc, sout, soutlen, out);
}

static int op_step(void *arg, const char *response, const char **out)
{
	struct smtp_auth *a = arg;
	char buf[AUTH_BUF];
	const char *sout = NULL;
	unsigned len = 0, soutlen = 0;
	int rc;

	*out = NULL;
	if (a->conn == NULL)
		return SMTP_AUTH_E_TEMP;
	if (decode(response, buf, sizeof(buf), &len) != 0)
		return SMTP_AUTH_E_SYNTAX;
	rc = sasl_server_step(a->conn, buf, len, &sout, &soutlen);
	return result(a, rc, sout, soutlen, out);
}

static const char *op_user(void *arg)
{
	struct smtp_auth *a = arg;
	const void *v = NULL;

	if (a->conn == NULL ||
	    sasl_getprop(a->conn, SASL_USERNAME, &v) != SASL_OK)
		return NULL;
	return v;
}

/* An exchange ended without a login: start the next from scratch. */
static void op_abort(void *arg)
{
	struct smtp_auth *a = arg;

	conn_drop(a);
}

struct smtp_auth *smtp_auth_new(const char *remote)
{
	struct smtp_auth *a;
	const char *list = NULL;
	unsigned len = 0;
	int count = 0;

	if (!g.ready)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		log_error("smtp [%s]: out of memory for SASL", remote);
		return NULL;
	}
	snprintf(a->remote, sizeof(a->remote), "%s", remote);
	if (conn_open(a) != 0)
		goto err_free;
	if (sasl_listmech(a->conn, NULL, "", " ", "", &list, &len, &count) !=
		SASL_OK ||
	    count == 0) {
		log_error("smtp [%s]: SASL offers none of \"%s\" (are the "
			  "libsasl2-modules installed?)",
			  remote, g.mechs);
		goto err_conn;
	}
	snprintf(a->mechs, sizeof(a->mechs), "%.*s", (int)len, list);
	a->ops = (struct smtp_auth_ops){
	    .arg = a,
	    .mechs = op_mechs,
	    .start = op_start,
	    .step = op_step,
	    .user = op_user,
	    .abort = op_abort,
	};
	return a;

err_conn:
	conn_drop(a);
err_free:
	free(a);
	return NULL;
}

const struct smtp_auth_ops *smtp_auth_ops(struct smtp_auth *a)
{
	return a != NULL ? &a->ops : NULL;
}

void smtp_auth_free(struct smtp_auth *a)
{
	if (a == NULL)
		return;
	conn_drop(a);
	free(a);
}
