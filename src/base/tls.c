/*
 * tls.c — TLS over memory BIOs, server and client side (see tls.h). Owns
 * the SSL_CTX (server: certificate, key, protocol floor; client: protocol
 * floor, no verification) and, per connection, the SSL with its two memory
 * BIOs: rbio holds what the peer sent, wbio what we must send.
 *
 * A verifying client context (the TLS policy "verify") adds the CA store
 * and, per connection, the expected host name.
 *
 * Does not own sockets, timers or the SMTP session. Fails soft: every
 * OpenSSL failure becomes TLS_E_FAILED with the reason kept for the log;
 * OpenSSL's error queue is cleared before each operation so one
 * connection's leftovers never show up as another's error.
 */
#include "src/base/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct tls_ctx {
	SSL_CTX *ssl_ctx;
};

struct tls_conn {
	SSL *ssl;
	BIO *rbio; /* network -> SSL */
	BIO *wbio; /* SSL -> network */
	int established;
	const char
	    *hs_fail;	/* reason of a handshake failure OpenSSL left none */
	int check_name; /* on a tls_client_ctx_new_verify() context */
	char err[256];
};

/* OpenSSL's queued reason (or fallback) into buf; clears the queue. */
static void take_error(char *buf, size_t size, const char *fallback)
{
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, buf, size);
	else
		snprintf(buf, size, "%s", fallback);
	ERR_clear_error();
}

/* Load a certificate chain and its key into ssl_ctx; 0 or -1 with the
 * reason in err. */
static int load_pair(SSL_CTX *ssl_ctx, const char *cert_file,
		     const char *key_file, char *err, size_t errsize)
{
	char why[256];

	if (SSL_CTX_use_certificate_chain_file(ssl_ctx, cert_file) != 1) {
		take_error(why, sizeof(why), "bad certificate");
		snprintf(err, errsize, "certificate %s: %s", cert_file, why);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ssl_ctx, key_file, SSL_FILETYPE_PEM) !=
	    1) {
		take_error(why, sizeof(why), "bad key");
		snprintf(err, errsize, "key %s: %s", key_file, why);
		return -1;
	}
	if (SSL_CTX_check_private_key(ssl_ctx) != 1) {
		take_error(why, sizeof(why), "key does not match");
		snprintf(err, errsize,
			 "key %s does not match certificate %s: %s", key_file,
			 cert_file, why);
		return -1;
	}
	return 0;
}

int tls_ctx_new_server(struct tls_ctx **out, const char *cert_file,
		       const char *key_file, char *err, size_t errsize)
{
	struct tls_ctx *ctx;
	char why[256];

	*out = NULL;
	ERR_clear_error();
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		snprintf(err, errsize, "out of memory");
		return TLS_E_NOMEM;
	}
	ctx->ssl_ctx = SSL_CTX_new(TLS_server_method());
	if (ctx->ssl_ctx == NULL) {
		take_error(why, sizeof(why), "SSL_CTX_new failed");
		snprintf(err, errsize, "%s", why);
		goto err_after_alloc;
	}
	SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_COMPRESSION |
					      SSL_OP_NO_RENEGOTIATION |
					      SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (load_pair(ctx->ssl_ctx, cert_file, key_file, err, errsize) != 0)
		goto err_after_ctx;
	*out = ctx;
	return 0;

err_after_ctx:
	SSL_CTX_free(ctx->ssl_ctx);
err_after_alloc:
	free(ctx);
	return TLS_E_CONFIG;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

/* One side of the cluster's mutual TLS: TLS 1.3, own pair, the CA as the
 * only trust anchor, the peer's certificate required. NULL on failure. */
static SSL_CTX *mutual_side(const SSL_METHOD *method, const char *ca_file,
			    const char *cert_file, const char *key_file,
			    char *err, size_t errsize)
{
	SSL_CTX *ctx = SSL_CTX_new(method);
	char why[256];

	if (ctx == NULL) {
		take_error(why, sizeof(why), "SSL_CTX_new failed");
		snprintf(err, errsize, "%s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
				     SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		take_error(why, sizeof(why), "bad CA file");
		snprintf(err, errsize, "CA %s: %s", ca_file, why);
		goto err_after_ctx;
	}
	if (load_pair(ctx, cert_file, key_file, err, errsize) != 0)
		goto err_after_ctx;
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	return ctx;

err_after_ctx:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_ctx_new_mutual(struct tls_ctx **server, struct ssl_ctx_st **client,
		       const char *ca_file, const char *cert_file,
		       const char *key_file, char *err, size_t errsize)
{
	struct tls_ctx *ctx;

	*server = NULL;
	*client = NULL;
	ERR_clear_error();
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		snprintf(err, errsize, "out of memory");
		return TLS_E_NOMEM;
	}
	ctx->ssl_ctx = mutual_side(TLS_server_method(), ca_file, cert_file,
				   key_file, err, errsize);
	if (ctx->ssl_ctx == NULL)
		goto err_after_alloc;
	*client = mutual_side(TLS_client_method(), ca_file, cert_file, key_file,
			      err, errsize);
	if (*client == NULL)
		goto err_after_server;
	*server = ctx;
	return 0;

err_after_server:
	SSL_CTX_free(ctx->ssl_ctx);
err_after_alloc:
	free(ctx);
	ERR_clear_error();
	return TLS_E_CONFIG;
}

/* The node id of cert's subject CN "node-<id>"; 0 or -1. */
static int cert_node(X509 *cert, unsigned long long *id)
{
	char cn[64], *end;
	unsigned long long v;
	int n;

	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
				      NID_commonName, cn, sizeof(cn));
	if (n <= 5 || (size_t)n >= sizeof(cn) || strncmp(cn, "node-", 5) != 0 ||
	    cn[5] < '1' || cn[5] > '9')
		return -1;
	errno = 0;
	v = strtoull(cn + 5, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > (1ull << 63))
		return -1;
	*id = v;
	return 0;
}

int tls_conn_peer_node(const struct tls_conn *c, unsigned long long *id)
{
	X509 *cert = SSL_get0_peer_certificate(c->ssl);

	if (cert == NULL || SSL_get_verify_result(c->ssl) != X509_V_OK)
		return -1;
	return cert_node(cert, id);
}

int tls_cert_file_node(const char *cert_file, unsigned long long *id)
{
	FILE *f = fopen(cert_file, "r");
	X509 *cert;
	int rc;

	if (f == NULL)
		return -1;
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (cert == NULL)
		return -1;
	rc = cert_node(cert, id);
	X509_free(cert);
	return rc;
}

/* A connection on ssl_ctx with both memory BIOs; NULL on failure. */
static struct tls_conn *conn_new(SSL_CTX *ssl_ctx)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	ERR_clear_error();
	c->ssl = SSL_new(ssl_ctx);
	if (c->ssl == NULL)
		goto err_after_alloc;
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->rbio == NULL || c->wbio == NULL)
		goto err_after_ssl;
	/* an empty read BIO means "retry later", not end of file */
	BIO_set_mem_eof_return(c->rbio, -1);
	BIO_set_mem_eof_return(c->wbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns both now */
	return c;

err_after_ssl:
	BIO_free(c->rbio);
	BIO_free(c->wbio);
	SSL_free(c->ssl);
err_after_alloc:
	ERR_clear_error();
	free(c);
	return NULL;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx)
{
	struct tls_conn *c = conn_new(ctx->ssl_ctx);

	if (c == NULL)
		return NULL;
	c->hs_fail = "TLS handshake failed";
	SSL_set_accept_state(c->ssl);
	return c;
}

struct ssl_ctx_st *tls_client_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	/* opportunistic TLS (RFC 7435): encrypt, do not authenticate */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

void tls_client_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

/* The mark of a tls_client_ctx_new_verify() context (its app data):
 * only those check the server's name against the sni; other verifying
 * contexts (the cluster's mutual TLS) are left as they are. */
static const char verify_mark[] = "smtpcluster tls-policy verify";

struct ssl_ctx_st *tls_client_ctx_new_verify(const char *ca_file, char *err,
					     size_t errsize)
{
	SSL_CTX *ctx;
	char why[256];
	int ok;

	ERR_clear_error();
	ctx = tls_client_ctx_new();
	if (ctx == NULL) {
		take_error(err, errsize, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_app_data(ctx, (void *)verify_mark);
	if (ca_file != NULL && ca_file[0] != '\0')
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		take_error(why, sizeof(why), "cannot load the CA store");
		snprintf(err, errsize, "CA %s: %s",
			 ca_file && ca_file[0] ? ca_file : "(system default)",
			 why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_conn *tls_conn_new_client(struct ssl_ctx_st *ctx, const char *sni)
{
	struct tls_conn *c = conn_new(ctx);
	int named = sni != NULL && sni[0] != '\0';

	if (c == NULL)
		return NULL;
	c->hs_fail = "handshake refused";
	SSL_set_connect_state(c->ssl);
	if (named)
		SSL_set_tlsext_host_name(c->ssl, sni);
	if (SSL_CTX_get_app_data(ctx) == verify_mark) {
		/* the name the certificate must carry; without one the
		 * handshake cannot succeed (the caller names the host) */
		c->check_name = 1;
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!named || SSL_set1_host(c->ssl, sni) != 1) {
			tls_conn_free(c);
			return NULL;
		}
	}
	return c;
}

void tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl); /* frees the BIOs */
	free(c);
}

int tls_conn_feed(struct tls_conn *c, const void *p, size_t n)
{
	while (n > 0) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
		int w = BIO_write(c->rbio, p, chunk);

		if (w <= 0) {
			snprintf(c->err, sizeof(c->err), "BIO_write failed");
			return TLS_E_NOMEM;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* Map an SSL_get_error() result: 0 = try later, else TLS_E_*. */
static int ssl_result(struct tls_conn *c, int ret, const char *what)
{
	int e = SSL_get_error(c->ssl, ret);

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(c->err, sizeof(c->err), "peer closed the TLS session");
		return TLS_E_CLOSED;
	default:
		take_error(c->err, sizeof(c->err), what);
		if (!c->established && c->check_name &&
		    SSL_get_verify_result(c->ssl) != X509_V_OK)
			snprintf(c->err, sizeof(c->err),
				 "certificate not verified: %s",
				 X509_verify_cert_error_string(
				     SSL_get_verify_result(c->ssl)));
		return TLS_E_FAILED;
	}
}

int tls_conn_read(struct tls_conn *c, void *buf, size_t size)
{
	int r;

	ERR_clear_error();
	if (!c->established) {
		r = SSL_do_handshake(c->ssl);
		if (r != 1)
			return ssl_result(c, r, c->hs_fail);
		c->established = 1;
	}
	if (size > (1u << 30))
		size = 1u << 30;
	r = SSL_read(c->ssl, buf, (int)size);
	if (r > 0)
		return r;
	return ssl_result(c, r, "TLS read failed");
}

int tls_conn_established(const struct tls_conn *c)
{
	return c->established;
}

int tls_conn_write(struct tls_conn *c, const void *p, size_t n)
{
	ERR_clear_error();
	while (n > 0) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
		int w = SSL_write(c->ssl, p, chunk);

		if (w <= 0) {
			int rc = ssl_result(c, w, "TLS write failed");

			return rc == 0 ? TLS_E_FAILED : rc;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

void tls_conn_close_notify(struct tls_conn *c)
{
	ERR_clear_error();
	if (c->established)
		(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

size_t tls_conn_pending(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->wbio);
}

size_t tls_conn_take(struct tls_conn *c, void *buf, size_t size)
{
	int chunk = size > (1u << 30) ? (1 << 30) : (int)size;
	int r = BIO_read(c->wbio, buf, chunk);

	return r > 0 ? (size_t)r : 0;
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return c->established ? SSL_get_version(c->ssl) : "";
}

const char *tls_conn_cipher(const struct tls_conn *c)
{
	const char *name = c->established ? SSL_get_cipher_name(c->ssl) : NULL;

	return name ? name : "";
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->err[0] ? c->err : "unknown TLS error";
}
