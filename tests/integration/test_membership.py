#!/usr/bin/env python3
"""test_membership.py — membership and leadership on real processes: a
fourth node joins (spare, then voter), a member is removed, leadership is
transferred, and SIGTERM on the leader hands leadership over; proposals
keep succeeding throughout.

Run: python3 tests/integration/test_membership.py (uses
build/smtpclusterd, or $SMTPCLUSTERD). Prints "N passed, N failed"."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_tests, wait_until  # noqa: E402

BASE = int(os.environ.get("IT_BASE_PORT", "27000")) + 300


class Stream:
    """Proposals (debug noop) through the given nodes, in a thread, until
    stopped; records every failure."""

    def __init__(self, c, nodes):
        self.c = c
        self.nodes = list(nodes)
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.stopping = threading.Event()
        self.t = threading.Thread(target=self.run)

    def set_nodes(self, nodes):
        with self.lock:
            self.nodes = list(nodes)

    def run(self):
        k = 0
        deadline = time.monotonic() + 120
        while not self.stopping.is_set() and time.monotonic() < deadline:
            with self.lock:
                node = self.nodes[k % len(self.nodes)]
            k += 1
            try:
                r = self.c.ctl(node, "debug noop", timeout=30)
            except OSError as e:
                r = {"ok": False, "error": str(e)}
            with self.lock:
                if r.get("ok"):
                    self.ok += 1
                else:
                    self.failures.append((node, r))
            time.sleep(0.02)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.t.join(60)
        return False


def member(st, i):
    for m in st["members"]:
        if m["id"] == i:
            return m
    return None


def node_ids(c, n):
    r = c.ctl(n, "show service smtp", {})
    assert r.get("ok"), r
    return [x["id"] for x in r["result"]["nodes"]]


def test_add_remove_transfer_while_proposing():
    with Cluster(n=3, base_port=BASE) as c:
        c.start()
        leader = c.wait_leader()
        followers = [i for i in (1, 2, 3) if i != leader]
        with Stream(c, (1, 2, 3)) as s:
            # a fourth node joins, asked through a follower
            c.add_node(4)
            r = c.ctl(followers[0], "cluster add",
                      {"id": 4, "address": c.raft_addr(4)}, timeout=60)
            assert r.get("ok"), r
            wait_until(lambda: (lambda st: st and member(st, 4) and
                                member(st, 4)["role"] == "voter" and
                                member(st, 4)["reachable"])(
                                    c.status(leader)),
                       timeout=20, what="node 4 a reachable voter")
            s.set_nodes((1, 2, 3, 4))
            r = c.ctl(4, "debug noop")
            assert r.get("ok"), r
            # remove a follower (not the one the stream favours last)
            gone = followers[1]
            s.set_nodes([i for i in (1, 2, 3, 4) if i != gone])
            r = c.ctl(leader, "cluster remove", {"id": gone}, timeout=30)
            assert r.get("ok"), r
            assert "node table" in r["result"].get("message", ""), r
            # defect 6 (issue #10): the node table forgets it too, so
            # placement stops waiting for it and SHOW SERVICE drops it
            for n in [i for i in (1, 2, 3, 4) if i != gone]:
                wait_until(lambda: gone not in node_ids(c, n), timeout=10,
                           what="node %d out of node %d's table" % (gone, n))
            wait_until(lambda: (lambda st: st and member(st, gone) is None)(
                c.status(leader)), timeout=10, what="node %d gone" % gone)
            c.kill(gone, signal.SIGTERM)
            # hand leadership to the new node, asked through it
            r = c.ctl(4, "cluster transfer", {"id": 4}, timeout=30)
            assert r.get("ok"), r
            assert c.wait_leader(timeout=30) == 4
            time.sleep(0.5)
        assert s.ok > 20, s.ok
        assert not s.failures, s.failures[:5]
        st = c.status(4)
        ids = sorted(m["id"] for m in st["members"])
        assert ids == sorted([i for i in (1, 2, 3, 4) if i != gone]), ids
        assert all(m["role"] == "voter" for m in st["members"]), st
        assert st["leader"]["id"] == 4
        assert member(st, 4)["name"] == "NODE4"


def test_sigterm_on_leader_hands_leadership_over():
    with Cluster(n=3, base_port=BASE + 100) as c:
        c.start()
        old = c.wait_leader()
        rest = [i for i in (1, 2, 3) if i != old]
        with Stream(c, rest) as s:
            time.sleep(0.3)
            code = c.kill(old, signal.SIGTERM)
            assert code == 0, code
            new = c.wait_leader(nodes=rest, timeout=30)
            assert new in rest
            time.sleep(0.5)
        assert not s.failures, s.failures[:5]
        log = c.log(old)
        assert "handing leadership to" in log, log[-2000:]
        assert "leadership moved to" in log, log[-2000:]
        # the old leader rejoins as a follower
        c.start_node(old)
        assert c.wait_leader() in rest
        r = c.ctl(old, "debug noop")
        assert r.get("ok"), r


def test_membership_errors_are_reported():
    with Cluster(n=3, base_port=BASE + 200) as c:
        c.start()
        leader = c.wait_leader()
        follower = [i for i in (1, 2, 3) if i != leader][0]
        r = c.ctl(follower, "cluster remove", {"id": 9})
        assert not r.get("ok") and "not a member" in r.get("error", ""), r
        r = c.ctl(follower, "cluster transfer", {"id": 9})
        assert not r.get("ok"), r
        r = c.ctl(leader, "cluster add", {"id": 2, "address": c.raft_addr(2)})
        assert r.get("ok") and "already a voter" in \
            r["result"].get("message", ""), r
        assert c.wait_leader() == leader


if __name__ == "__main__":
    run_tests([
        test_add_remove_transfer_while_proposing,
        test_sigterm_on_leader_hands_leadership_over,
        test_membership_errors_are_reported,
    ])
