/*
 * tls.h — TLS (OpenSSL 3) over memory BIOs, server side for the SMTP
 * receiver's STARTTLS and client side for the delivery client's
 * opportunistic STARTTLS. The caller (normally src/base/conn.c) moves the
 * bytes: ciphertext from the
 * socket goes in with tls_conn_feed(), plaintext comes out of
 * tls_conn_read(); plaintext goes in with tls_conn_write() and the
 * ciphertext to send comes out of tls_conn_take(). So TLS runs on the
 * libuv stream without OpenSSL ever touching a file descriptor.
 *
 * Ownership: a tls_ctx holds the certificate and key and outlives its
 * connections; a client context is a bare SSL_CTX (the delivery engine
 * keeps it as such) and likewise outlives its connections; each tls_conn
 * owns its SSL and both BIOs. None is
 * thread-safe; use them on the loop thread.
 * Errors: negative TLS_E_*; tls_conn_error() gives OpenSSL's reason.
 */
#ifndef SRC_BASE_TLS_H
#define SRC_BASE_TLS_H

#include <stddef.h>

enum tls_err {
	TLS_E_FAILED = -1, /* handshake or protocol failure: close */
	TLS_E_CLOSED = -2, /* the peer sent close_notify */
	TLS_E_NOMEM = -3,
	TLS_E_CONFIG = -4, /* certificate or key could not be loaded */
};

struct tls_ctx;
struct tls_conn;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* A server context from PEM files (cert may hold the chain). TLS 1.2 or
 * later, no renegotiation, no compression. On failure err gets the
 * reason. */
int tls_ctx_new_server(struct tls_ctx **out, const char *cert_file,
		       const char *key_file, char *err, size_t errsize);
void tls_ctx_free(struct tls_ctx *ctx);

/* A client context for opportunistic TLS (RFC 7435): TLS 1.2 or later,
 * no certificate verification, partial writes. NULL on failure. */
struct ssl_ctx_st *tls_client_ctx_new(void);
void tls_client_ctx_free(struct ssl_ctx_st *ctx);

/* A client context that authenticates the server (the TLS policy
 * "verify"): the chain must verify against ca_file (PEM, NULL or "": the
 * system's default CA store) and each connection's sni must match the
 * certificate's names (RFC 6125 via X509_VERIFY_PARAM_set1_host, no
 * partial wildcards); a mismatch fails the handshake. NULL on failure,
 * with the reason in err. Free with tls_client_ctx_free. */
struct ssl_ctx_st *tls_client_ctx_new_verify(const char *ca_file, char *err,
					     size_t errsize);

/* Mutual TLS between the nodes of a cluster (src/cluster/cluster_tls.c):
 * TLS 1.3 only, both sides present a certificate issued by the cluster CA
 * (ca_file) and verify the other's; a handshake without a certificate, or
 * with one the CA did not issue, fails. *server gets the accepting side,
 * *client the connecting side (hand it to tls_conn_new_client). On failure
 * err gets the reason and nothing is allocated. */
int tls_ctx_new_mutual(struct tls_ctx **server, struct ssl_ctx_st **client,
		       const char *ca_file, const char *cert_file,
		       const char *key_file, char *err, size_t errsize);

/* The node id the verified peer certificate names: its subject CN is
 * "node-<id>" (decimal, 1..2^63). 0 and *id, or -1 when there is no
 * verified peer certificate or its CN is not of that form. */
int tls_conn_peer_node(const struct tls_conn *c, unsigned long long *id);
/* The same for the first certificate of a PEM file: 0 and *id, or -1. */
int tls_cert_file_node(const char *cert_file, unsigned long long *id);

/* A server connection in the handshake state; NULL when out of memory. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx);

/* A client connection in the handshake state, sending sni (NULL or "":
 * none) as the server name; on a tls_client_ctx_new_verify() context sni
 * is also the name the certificate must carry (required there). The first tls_conn_read() produces
 * the ClientHello. A handshake failure without an OpenSSL reason reads
 * "handshake refused"; a certificate that does not verify reads
 * "certificate not verified: <X509 reason>". NULL when out of memory. */
struct tls_conn *tls_conn_new_client(struct ssl_ctx_st *ctx, const char *sni);
void tls_conn_free(struct tls_conn *c);

/* Ciphertext received from the peer. 0 or TLS_E_NOMEM. */
int tls_conn_feed(struct tls_conn *c, const void *p, size_t n);

/* Advance the handshake, then decrypt: > 0 plaintext octets in buf, 0 when
 * more input is needed, TLS_E_FAILED or TLS_E_CLOSED. Check
 * tls_conn_take() for output after every call (handshake messages). */
int tls_conn_read(struct tls_conn *c, void *buf, size_t size);

/* 1 once the handshake has completed. */
int tls_conn_established(const struct tls_conn *c);

/* Encrypt n octets of plaintext (after the handshake). 0 or TLS_E_*. */
int tls_conn_write(struct tls_conn *c, const void *p, size_t n);

/* Send close_notify (queued as output). */
void tls_conn_close_notify(struct tls_conn *c);

/* Octets of ciphertext waiting to be sent. */
size_t tls_conn_pending(const struct tls_conn *c);

/* Move up to size octets of waiting ciphertext into buf; returns how
 * many. */
size_t tls_conn_take(struct tls_conn *c, void *buf, size_t size);

/* Negotiated protocol and cipher ("TLSv1.3", ...), or "" before the
 * handshake. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_cipher(const struct tls_conn *c);

/* The last failure's reason (never NULL). */
const char *tls_conn_error(const struct tls_conn *c);

#endif
