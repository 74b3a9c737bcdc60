/*
 * cluster_tls.c — the cluster's mutual TLS credentials: the contexts both
 * cluster ports use (struct peer_tls: the forwarding port, peer_conn.c,
 * and the raft port's proxy, cluster_rafttls.c), loaded from [cluster]
 * tls_ca, tls_cert and tls_key at start and again on SIGHUP, and the
 * refusal counters of SHOW SERVICE.
 *
 * A node's certificate names its node id as its subject CN, "node-<id>"
 * (deploy/cluster-ca.sh issues them); a certificate that names another
 * node than [node] id is refused at start and at reload. A reload that
 * fails keeps the contexts in use; connections already open keep the
 * session they have (an SSL holds a reference to its SSL_CTX), new ones
 * use the new certificates.
 *
 * Does not own any connection. Fails with CLUSTER_E_FAILED and a log line.
 */
#include "src/cluster/cluster_impl.h"

#include <json-c/json.h>
#include <stdio.h>

#include "src/base/log.h"
#include "src/base/tls.h"

/* New contexts from the configured files into *t; 0 or -1 (logged). */
static int load(const struct nodeconf *conf, struct peer_tls *t)
{
	unsigned long long id = 0;
	char err[512];

	if (tls_cert_file_node(conf->cluster_tls_cert, &id) != 0) {
		log_error("cluster tls: %s: no certificate naming a node "
			  "(subject CN=node-<id>)",
			  conf->cluster_tls_cert);
		return -1;
	}
	if (id != conf->id) {
		log_error("cluster tls: %s names node %llu, this is node %llu",
			  conf->cluster_tls_cert, id,
			  (unsigned long long)conf->id);
		return -1;
	}
	if (tls_ctx_new_mutual(&t->server, &t->client, conf->cluster_tls_ca,
			       conf->cluster_tls_cert, conf->cluster_tls_key,
			       err, sizeof(err)) != 0) {
		log_error("cluster tls: %s", err);
		return -1;
	}
	return 0;
}

int ctls_start(struct cluster *c)
{
	c->ptls.self_id = c->conf.id;
	if (c->conf.cluster_insecure_plaintext) {
		log_warn("cluster: [cluster] insecure_plaintext = true: the "
			 "raft and forwarding ports take anyone who can "
			 "connect (no TLS, no peer authentication)");
		return 0;
	}
	if (load(&c->conf, &c->ptls) != 0)
		return CLUSTER_E_FAILED;
	c->rtls = rtls_new(c->loop, &c->ptls);
	if (c->rtls == NULL) {
		ctls_free(c);
		return CLUSTER_E_FAILED;
	}
	log_info("cluster: mutual TLS 1.3 on the cluster ports (CA %s, "
		 "certificate %s)",
		 c->conf.cluster_tls_ca, c->conf.cluster_tls_cert);
	return 0;
}

int cluster_tls_reload(struct cluster *c)
{
	struct peer_tls fresh = {0};

	if (c == NULL || c->ptls.server == NULL)
		return 0; /* plaintext: nothing to reload */
	if (load(&c->conf, &fresh) != 0) {
		log_error("cluster tls: reload failed; keeping the "
			  "certificates in use");
		return CLUSTER_E_FAILED;
	}
	tls_ctx_free(c->ptls.server);
	tls_client_ctx_free(c->ptls.client);
	c->ptls.server = fresh.server;
	c->ptls.client = fresh.client;
	log_info("cluster tls: certificates reloaded from %s",
		 c->conf.cluster_tls_cert);
	return 0;
}

void ctls_free(struct cluster *c)
{
	rtls_free(c->rtls);
	c->rtls = NULL;
	tls_ctx_free(c->ptls.server);
	tls_client_ctx_free(c->ptls.client);
	c->ptls.server = NULL;
	c->ptls.client = NULL;
}

int cluster_peer_stats(void *arg, struct json_object *o)
{
	struct cluster *c = arg;
	unsigned long long raft = rtls_refused(c->rtls);

	if (c->node != NULL)
		raft += rnode_refused_handshakes(c->node);
	json_object_object_add(
	    o, "tls",
	    json_object_new_string(c->ptls.server != NULL ? "mutual" : "off"));
	json_object_object_add(o, "peer_refused",
			       json_object_new_int64((int64_t)c->ptls.refused));
	json_object_object_add(o, "raft_refused",
			       json_object_new_int64((int64_t)raft));
	return 0;
}
