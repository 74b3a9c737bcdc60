#!/usr/bin/env python3
"""sim_groups.py — checks the multi-group design of docs/scale-out.md with
a small model fed by what `bench_backlog.py saturate` measured on one
group. Pure computation, no daemons; runs in about a second.

Model. N nodes, each with CORES cores; G raft groups of 3 replicas each,
placed round-robin (group g on nodes g, g+1, g+2 mod N) and with its
leader on node g mod N. Every accepted message costs
  - SMTP_MS of CPU on the node whose SMTP server took it,
  - LEADER_MS on its group's leader (append, replicate, apply, answer),
  - FOLLOWER_MS on each of the two other replicas (append, apply),
  - FORWARD_MS more on the receiving node and on the leader when the
    receiving node is not the group's leader (one forwarded proposal),
and each group's leader runs one libuv loop, so a group's rate is also
bounded by 1000 / (LEADER_MS + its share of SMTP and forwarding) msg/s,
and by GROUP_MAX, the most one group was measured to take (its pipeline:
one entry in flight, a round trip per entry).
Clients are spread evenly over the N nodes' SMTP servers.

Placement policies compared (what the receiving node does with a new
control file name):
  hash   the group is a hash of the name (rendezvous over the groups);
  local  two candidate names are drawn and the one whose group this
         node leads is kept, else the one with the shorter queue
         (the power of two choices);
For each it prints the aggregate accept rate the model allows (the first
resource to saturate decides), the most loaded node's CPU, the share of
proposals forwarded, and the spread of queued files over the groups
(max/mean after MSGS names). Then what adding one group moves:
rendezvous hashing re-maps about 1/(G+1) of the names, the design writes
the group into the name at creation so no queued file ever moves (0).
Then the cost of a cross-group SHOW MAIL: G parallel reads merged by name,
its time the slowest group's.

Defaults are the figures measured in docs/scale-out.md; override with the
environment (LEADER_MS, FOLLOWER_MS, SMTP_MS, FORWARD_MS, GROUP_MAX,
CORES, MSGS).
"""
import hashlib
import os
import random
import sys

LEADER_MS = float(os.environ.get("LEADER_MS", "0.18"))
FOLLOWER_MS = float(os.environ.get("FOLLOWER_MS", "0.085"))
SMTP_MS = float(os.environ.get("SMTP_MS", "0.06"))
FORWARD_MS = float(os.environ.get("FORWARD_MS", "0.03"))
GROUP_MAX = float(os.environ.get("GROUP_MAX", "1490"))
MSGS_PER_ENTRY = float(os.environ.get("MSGS_PER_ENTRY", "15.4"))
CORES = int(os.environ.get("CORES", "2"))
MSGS = int(os.environ.get("MSGS", "30000"))
REPLICAS = 3


def h(name, g):
    return int.from_bytes(hashlib.blake2b(("%s/%d" % (name, g)).encode(),
                                          digest_size=8).digest(), "big")


def rendezvous(name, groups):
    return max(groups, key=lambda g: h(name, g))


def layout(n, g):
    """{group: (leader, [replicas])}"""
    out = {}
    for k in range(g):
        reps = [(k + j) % n for j in range(REPLICAS)]
        out[k] = (k % n, reps)
    return out


def place(policy, n, g, msgs, rng):
    """Per message (receiving node, group); the queue per group."""
    lay = layout(n, g)
    groups = list(range(g))
    queue = [0] * g
    out = []
    for m in range(msgs):
        node = m % n
        a = rendezvous("n%d.%d.a" % (node, m), groups)
        if policy == "hash":
            k = a
        else:
            b = rendezvous("n%d.%d.b" % (node, m), groups)
            la, lb = lay[a][0] == node, lay[b][0] == node
            if la != lb:
                k = a if la else b
            else:
                k = a if queue[a] <= queue[b] else b
        queue[k] += 1
        out.append((node, k))
    return out, queue


def capacity(n, g, assign):
    """Aggregate msg/s the model allows, the most loaded node's CPU share
    at that rate, the forwarded share."""
    lay = layout(n, g)
    node_ms = [0.0] * n  # CPU ms per message of the offered mix
    loop_ms = [0.0] * g  # a group leader's loop ms per message of the mix
    fwd = 0
    total = len(assign)
    per_group = [0] * g
    for node, k in assign:
        leader, reps = lay[k]
        per_group[k] += 1
        node_ms[node] += SMTP_MS
        node_ms[leader] += LEADER_MS
        loop_ms[k] += LEADER_MS
        if leader == node:
            loop_ms[k] += SMTP_MS  # the SMTP server shares the loop
        else:
            fwd += 1
            node_ms[node] += FORWARD_MS
            node_ms[leader] += FORWARD_MS
            loop_ms[k] += FORWARD_MS
        for r in reps:
            if r != leader:
                node_ms[r] += FOLLOWER_MS
    # rate R (msg/s of the whole mix): node i uses R*node_ms[i]/total ms/s
    limits = [CORES * 1000.0 * total / ms for ms in node_ms if ms > 0]
    limits += [1000.0 * total / ms for ms in loop_ms if ms > 0]
    limits += [GROUP_MAX * total / c for c in per_group if c > 0]
    rate = min(limits)
    busiest = max(node_ms) * rate / total / (CORES * 1000.0)
    # durable appends per second on the busiest node: one per entry of
    # every group it is a replica of
    syncs = [0.0] * n
    for k in range(g):
        for r in lay[k][1]:
            syncs[r] += rate * per_group[k] / total / MSGS_PER_ENTRY
    return rate, busiest, fwd / total, max(syncs)


def main():
    rng = random.Random(12)
    print("model: leader %.3f ms, follower %.3f ms, smtp %.3f ms, forward "
          "%.3f ms per message; at most %.0f msg/s per group; %d cores per "
          "node; %d names per run"
          % (LEADER_MS, FOLLOWER_MS, SMTP_MS, FORWARD_MS, GROUP_MAX, CORES,
             MSGS))
    base = None
    for n, g in ((3, 1), (3, 3), (3, 6), (3, 9), (6, 2), (6, 6), (9, 3),
                 (9, 9), (12, 12)):
        for policy in ("hash", "local"):
            assign, queue = place(policy, n, g, MSGS, rng)
            rate, busiest, fwd, syncs = capacity(n, g, assign)
            if base is None:
                base = rate
            spread = max(queue) / (sum(queue) / len(queue))
            print("nodes %2d groups %2d %-5s: %6.0f msg/s (x%.1f), busiest "
                  "node %3.0f%% CPU %4.0f syncs/s, %2.0f%% forwarded, queue "
                  "max/mean %.2f"
                  % (n, g, policy, rate, rate / base, 100 * busiest, syncs,
                     100 * fwd, spread))
    # adding a group: what moves
    for g in (3, 6, 9):
        names = ["n%d.%d" % (i % 3, i) for i in range(20000)]
        before = [rendezvous(x, list(range(g))) for x in names]
        after = [rendezvous(x, list(range(g + 1))) for x in names]
        moved = sum(1 for a, b in zip(before, after) if a != b)
        print("groups %d -> %d: rendezvous re-maps %.1f%% of queued names "
              "(1/(G+1) = %.1f%%); with the group in the name: 0%%"
              % (g, g + 1, 100.0 * moved / len(names), 100.0 / (g + 1)))
    # cross-group SHOW MAIL: G parallel reads, the slowest decides
    for g in (1, 3, 9):
        t = []
        for _ in range(2000):
            t.append(max(rng.lognormvariate(0.0, 0.5) for _ in range(g)))
        t.sort()
        print("SHOW MAIL over %d groups: p50 %.2f, p99 %.2f (one group's "
              "read = 1.00 median)" % (g, t[len(t) // 2], t[int(len(t) * .99)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
