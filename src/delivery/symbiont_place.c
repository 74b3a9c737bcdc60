/*
 * symbiont_place.c — the placement policy of the symbiont (see
 * symbiont_place.h): rendezvous hashing over the started nodes, the
 * leader's view of the live ones, the grace rule, and the choice of one
 * CLAIM batch from the due index.
 *
 * Owns: nothing beyond the call. Does not own: the spool (the caller's),
 * the names (moved to the caller's arrays). Fails: a spool read that fails
 * leaves the name out of the batch; the next scan looks again.
 */
#include "src/delivery/symbiont_place.h"

#include <string.h>

/* splitmix64 finalizer */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Weight of (name, node) for rendezvous hashing: FNV-1a of the name,
 * mixed with the node id. */
static uint64_t hrw_weight(const char *name, uint64_t node)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return mix64(h ^ mix64(node + 0x9e3779b97f4a7c15ull));
}

uint64_t symbiont_preferred(const char *name, const uint64_t *nodes, size_t n)
{
	uint64_t best = 0, best_w = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t w = hrw_weight(name, nodes[i]);
		if (best == 0 || w > best_w ||
		    (w == best_w && nodes[i] > best)) {
			best = nodes[i];
			best_w = w;
		}
	}
	return best;
}

int symbiont_should_claim(uint64_t self, uint64_t preferred, uint64_t due_ms,
			  uint64_t now_ms, uint64_t grace_ms)
{
	if (preferred == self || preferred == 0)
		return 1;
	return now_ms >= due_ms && now_ms - due_ms >= grace_ms;
}

struct node_visit {
	struct symbiont_nodes *out;
	uint64_t self;
	int self_seen;
};

static int node_visit(const struct spool_node *n, void *arg)
{
	struct node_visit *v = arg;
	struct symbiont_nodes *l = v->out;

	if (n->id == v->self) {
		v->self_seen = 1;
		l->self_started = n->mail_started != 0;
	}
	if (n->mail_started && l->n < SYMBIONT_NODES_MAX)
		l->ids[l->n++] = n->id;
	return 0;
}

int symbiont_nodes_load(struct spool *sp, uint64_t self,
			struct symbiont_nodes *out)
{
	struct node_visit v = {.out = out, .self = self};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = spool_node_foreach(sp, node_visit, &v);
	if (rc != 0)
		return rc;
	if (!v.self_seen) {
		out->self_started = 1; /* not registered yet: started */
		if (out->n < SYMBIONT_NODES_MAX)
			out->ids[out->n++] = self;
	}
	return 0;
}

size_t symbiont_nodes_keep_live(struct symbiont_nodes *n, uint64_t self,
				const uint64_t *live, size_t nlive,
				uint64_t *gone, size_t max_gone)
{
	size_t kept = 0, ngone = 0;

	for (size_t i = 0; i < n->n; i++) {
		uint64_t id = n->ids[i];
		int found = id == self;

		for (size_t k = 0; k < nlive && !found; k++)
			found = live[k] == id;
		if (found) {
			n->ids[kept++] = id;
			continue;
		}
		if (ngone < max_gone)
			gone[ngone] = id;
		ngone++;
	}
	n->n = kept;
	return ngone;
}

uint32_t symbiont_pick(const struct symbiont_pick_in *in, char **due, int ndue,
		       char **picked, uint64_t *prev, uint32_t room)
{
	uint32_t k = 0;
	int grace_open = 1;

	for (int i = 0; i < ndue && k < room; i++) {
		struct spool_ctl c;
		uint64_t pref =
		    symbiont_preferred(due[i], in->nodes->ids, in->nodes->n);
		int mine = pref == in->self;

		if (in->held(in->held_arg, due[i]))
			continue;
		if (!mine && !grace_open)
			continue;
		if (spool_ctl_get(in->sp, due[i], &c) != 0)
			continue;
		if (!mine && !symbiont_should_claim(in->self, pref,
						    spool_rec_due(&c.rec),
						    in->now_ms, in->grace_ms)) {
			/* the due index is in due order: no later file has
			 * waited longer */
			grace_open = 0;
			spool_ctl_free(&c);
			continue;
		}
		prev[k] = c.rec.claim.node; /* expired lease, or 0 */
		spool_ctl_free(&c);
		picked[k++] = due[i];
		due[i] = NULL;
	}
	return k;
}
