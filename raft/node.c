/*
 * node.c — lifecycle of one libraft server on the libuv backend (node.h).
 * Owns struct raft, its raft_io, its TCP transport (transport.c) and the
 * snapshot guard (snapguard.c) and the install gate (installgate.c)
 * wrapped around the raft_io. Failures at start
 * are returned with libraft's message; nothing is left allocated.
 */
#include "raft/node.h"

#include "raft/installgate.h"
#include "raft/snapguard.h"
#include "raft/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rnode {
	struct raft raft;
	struct raft_io io;
	struct rtransport *transport;
	struct rsnapguard guard; /* libraft 0.22.1 install-while-taking */
	struct rigate gate;	 /* one image on its way at a time */
	uv_loop_t *loop;
	int bootstrapped;
	void (*close_cb)(void *arg);
	void *close_arg;
};

static void node_closed(struct raft *r);

/* Build the first-start configuration from the options; 0 when there is
 * nothing to bootstrap (a joiner), 1 when conf was filled, -1 on error. */
static int first_configuration(const struct rnode_opts *o,
			       struct raft_configuration *conf, char *err,
			       size_t errsize)
{
	int self_found = 0;

	raft_configuration_init(conf);
	if (o->bootstrap) {
		if (raft_configuration_add(conf, o->id, o->address,
					   RAFT_VOTER) != 0) {
			snprintf(err, errsize, "cannot build configuration");
			return -1;
		}
		return 1;
	}
	if (o->npeers == 0) {
		return 0;
	}
	for (unsigned i = 0; i < o->npeers; i++) {
		int rv = raft_configuration_add(
		    conf, o->peers[i].id, o->peers[i].address, RAFT_VOTER);
		if (rv != 0) {
			snprintf(err, errsize, "peer %llu %s: %s",
				 (unsigned long long)o->peers[i].id,
				 o->peers[i].address, raft_strerror(rv));
			raft_configuration_close(conf);
			return -1;
		}
		if (o->peers[i].id == o->id) {
			self_found = 1;
		}
	}
	if (!self_found) {
		snprintf(err, errsize,
			 "the static peer list does not include this node "
			 "(id %llu)",
			 (unsigned long long)o->id);
		raft_configuration_close(conf);
		return -1;
	}
	return 1;
}

/* libraft reports a busy address as a bare "I/O error" from raft_start:
 * try the bind first to say what is wrong. 0, or -1 with a message. */
static int check_bind(const char *address, char *err, size_t errsize)
{
	struct sockaddr_storage ss;
	char host[256];
	const char *colon = strrchr(address, ':');
	size_t hlen;
	int port, fd, one = 1, rv;

	if (colon == NULL || (hlen = (size_t)(colon - address)) == 0 ||
	    hlen >= sizeof(host)) {
		snprintf(err, errsize, "%s is not HOST:PORT", address);
		return -1;
	}
	memcpy(host, address, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	port = atoi(colon + 1);
	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
		return 0; /* a name: let libraft resolve it */
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rv = bind(fd, (struct sockaddr *)&ss,
		  ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
	if (rv != 0) {
		snprintf(err, errsize, "cannot listen on %s: %s", address,
			 strerror(errno));
	}
	close(fd);
	return rv == 0 ? 0 : -1;
}

int rnode_start(struct rnode **out, uv_loop_t *loop, const struct rnode_opts *o,
		struct raft_fsm *fsm, char *err, size_t errsize)
{
	struct raft_configuration conf;
	struct rnode *n;
	int have_conf;
	int rv;

	*out = NULL;
	if (o->mono_ms == NULL) {
		snprintf(err, errsize, "no clock given (rnode_opts.mono_ms)");
		return RAFT_INVALID;
	}
	if (check_bind(o->address, err, errsize) != 0) {
		return RAFT_IOERR;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		snprintf(err, errsize, "out of memory");
		return RAFT_NOMEM;
	}
	n->loop = loop;
	n->transport = rtransport_new(loop, o->wrap);
	if (n->transport == NULL) {
		snprintf(err, errsize, "raft transport: cannot initialize");
		rv = RAFT_NOMEM;
		goto err_after_alloc;
	}
	rv = raft_uv_init(&n->io, loop, o->dir, rtransport_iface(n->transport));
	if (rv != 0) {
		snprintf(err, errsize, "raft log in %s: %s", o->dir,
			 n->io.errmsg[0] ? n->io.errmsg : raft_strerror(rv));
		goto err_after_transport;
	}
	/* A corrupt tail must stop the node, not be moved aside silently:
	 * it may hold entries this node acknowledged. */
	raft_uv_set_auto_recovery(&n->io, false);
	rsnapguard_install(&n->guard, &n->io, &n->raft);
	if (o->snapshot_fill != NULL) {
		rsnapguard_set_fill(&n->guard, loop, o->snapshot_fill,
				    o->snapshot_fail, o->snapshot_arg);
		if (o->restore_run != NULL) {
			rsnapguard_set_restore(&n->guard, o->restore_begin,
					       o->restore_run, o->restore_end,
					       o->snapshot_arg);
		}
	}
	rigate_install(&n->gate, &n->io, loop, o->mono_ms);
	rv = raft_init(&n->raft, &n->io, fsm, o->id, o->address);
	if (rv != 0) {
		snprintf(err, errsize, "raft init: %s", raft_errmsg(&n->raft));
		goto err_after_io;
	}
	raft_set_election_timeout(&n->raft, o->election_timeout_ms);
	raft_set_heartbeat_timeout(&n->raft, o->heartbeat_timeout_ms);
	raft_set_pre_vote(&n->raft, true);
	if (o->snapshot_threshold > 0) {
		raft_set_snapshot_threshold(&n->raft, o->snapshot_threshold);
	}
	raft_set_snapshot_trailing(&n->raft, o->snapshot_trailing);
	raft_set_install_snapshot_timeout(&n->raft,
					  o->install_snapshot_timeout_ms);

	have_conf = first_configuration(o, &conf, err, errsize);
	if (have_conf < 0) {
		rv = RAFT_INVALID;
		goto err_after_init;
	}
	if (have_conf > 0) {
		rv = raft_bootstrap(&n->raft, &conf);
		raft_configuration_close(&conf);
		if (rv == 0) {
			n->bootstrapped = 1;
		} else if (rv != RAFT_CANTBOOTSTRAP) {
			snprintf(err, errsize, "raft bootstrap: %s",
				 raft_errmsg(&n->raft)[0]
				     ? raft_errmsg(&n->raft)
				     : raft_strerror(rv));
			goto err_after_init;
		}
	}
	rv = raft_start(&n->raft);
	if (rv != 0) {
		snprintf(err, errsize, "raft start: %s%s%s",
			 raft_errmsg(&n->raft)[0] ? raft_errmsg(&n->raft)
						  : raft_strerror(rv),
			 n->io.errmsg[0] ? ": " : "", n->io.errmsg);
		goto err_after_init;
	}
	*out = n;
	return 0;

err_after_init:
	/* raft_close is asynchronous: node_closed frees the node once the
	 * loop has run (the caller stops the process on this error). */
	n->close_cb = NULL;
	raft_close(&n->raft, node_closed);
	return rv;
err_after_io:
	rigate_remove(&n->gate);
	rsnapguard_remove(&n->guard);
	raft_uv_close(&n->io);
err_after_transport:
	rtransport_free(n->transport);
err_after_alloc:
	free(n);
	return rv;
}

struct raft *rnode_raft(struct rnode *n)
{
	return &n->raft;
}

unsigned long long rnode_refused_handshakes(const struct rnode *n)
{
	return rtransport_refused(n->transport);
}

int rnode_bootstrapped(const struct rnode *n)
{
	return n->bootstrapped;
}

/* raft is closed: release the backend, then tell the owner. */
static void node_closed(struct raft *r)
{
	struct rnode *n =
	    (struct rnode *)((char *)r - offsetof(struct rnode, raft));
	void (*cb)(void *) = n->close_cb;
	void *arg = n->close_arg;

	raft_uv_close(&n->io);
	rigate_remove(&n->gate);
	rsnapguard_remove(&n->guard);
	rtransport_free(n->transport);
	free(n);
	if (cb != NULL) {
		cb(arg);
	}
}

void rnode_close(struct rnode *n, void (*cb)(void *arg), void *arg)
{
	n->close_cb = cb;
	n->close_arg = arg;
	raft_close(&n->raft, node_closed);
}
