/*
 * symbiont_place.h — the symbiont's placement policy: which node should
 * claim which due control file. Each file has one preferred node among the
 * nodes whose mail is started (rendezvous hashing, so the shares move as
 * little as possible when a node starts or stops); any node takes a file
 * that has waited past the grace period, so a dead or stopped node's share
 * is delivered by the others. A started node that the leader no longer
 * hears from (cluster_live_nodes()) is left out of the preference, so its
 * share is preferred by the others at once, without the grace period.
 * Only the preference changes: a file under a live lease is not in the
 * due index until that lease ends, whoever holds it.
 *
 * Owns: the preference hash, the grace rule, the choice of the names of
 * one CLAIM batch. Does not own: the CLAIM itself, the jobs, the clock
 * (callers pass "now"). Pure except symbiont_nodes_load() and
 * symbiont_pick(), which read the caller's spool; they fail only by
 * choosing nothing.
 */
#ifndef SRC_DELIVERY_SYMBIONT_PLACE_H
#define SRC_DELIVERY_SYMBIONT_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "spool/store/spool.h"

#define SYMBIONT_NODES_MAX 64 /* started nodes considered for preference */

/* Rendezvous (highest random weight) hash: the id of the node, among the
 * n started nodes, that prefers control file name; 0 when n == 0. */
uint64_t symbiont_preferred(const char *name, const uint64_t *nodes, size_t n);

/* 1 when this node should try to claim a file due at due_ms: it is the
 * preferred node, or the file has waited past the grace period (so a dead
 * or stopped node's share is taken by the others). */
int symbiont_should_claim(uint64_t self, uint64_t preferred, uint64_t due_ms,
			  uint64_t now_ms, uint64_t grace_ms);

/* The nodes whose mail is started, as the spool's nodes table says. A
 * node not registered yet counts itself as started. */
struct symbiont_nodes {
	uint64_t ids[SYMBIONT_NODES_MAX];
	size_t n;
	int self_started; /* 0: STOP MAIL on this node */
};

/* Fill out from sp for node self. 0, or the spool's negative error. */
int symbiont_nodes_load(struct spool *sp, uint64_t self,
			struct symbiont_nodes *out);

/* Leave out of n the nodes not in live[0..nlive) (the leader's view of the
 * members it hears from), never self; the ids left out go to gone (at
 * most max_gone, in n's order). Returns how many were left out. */
size_t symbiont_nodes_keep_live(struct symbiont_nodes *n, uint64_t self,
				const uint64_t *live, size_t nlive,
				uint64_t *gone, size_t max_gone);

/* What one choice of a CLAIM batch looks at. */
struct symbiont_pick_in {
	struct spool *sp;
	uint64_t self;
	uint64_t now_ms; /* cluster time (cluster_time_ms), as the due index */
	uint64_t grace_ms;
	const struct symbiont_nodes *nodes;
	/* 1 when this node already has a job for name */
	int (*held)(void *arg, const char *name);
	void *held_arg;
};

/* From due[0..ndue) (the due index, in due order), move to picked[] the
 * names this node should claim now, at most room: due[i] becomes NULL
 * for each name taken (the caller frees the rest), and prev[k] is the
 * holder of the expired lease of picked[k] (0 = none). Returns the count
 * picked. */
uint32_t symbiont_pick(const struct symbiont_pick_in *in, char **due, int ndue,
		       char **picked, uint64_t *prev, uint32_t room);

#endif
