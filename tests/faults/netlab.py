"""netlab.py — the fault harness's network: one network namespace per node,
linked to a bridge, so that a partition can cut one node off (on plain
loopback every node's outgoing connections come from 127.0.0.1, and no
address rule can separate them).

    scf-sw      a namespace holding the bridge br0
    scf-nN      node N: eth0 = 10.231.0.N/24, a veth into br0
    root ns     scf-host = 10.231.0.254/24, a veth into br0: the test
                process (SMTP clients, the recording far end) lives here

Every address is on these links, which the harness creates and removes
(also after a failure or Ctrl-C: create() first removes leftovers of an
earlier run, and destroy() is called from the harness's finally block and
its signal handler). Nothing is routed anywhere else.

Partitions are blackhole routes inside the node namespaces: a packet from
node A to node B is dropped when A's namespace has "blackhole B"; both
directions cut = a symmetric partition, one = an asymmetric one. heal()
removes every blackhole route. Needs root (ip netns).
"""

import subprocess

PREFIX = "10.231.0."
HOST_IP = PREFIX + "254"
SW = "scf-sw"


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def ns(i):
    return "scf-n%d" % i


def addr(i):
    return PREFIX + str(i)


class NetLab:
    def __init__(self, n):
        self.n = n
        self.up = False

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", ns(i)]

    def create(self):
        self.destroy()
        _ip("netns", "add", SW)
        _ip("-n", SW, "link", "set", "lo", "up")
        _ip("-n", SW, "link", "add", "br0", "type", "bridge")
        _ip("-n", SW, "link", "set", "br0", "up")
        for i in range(1, self.n + 1):
            self._add_node(i)
        _ip("link", "add", "scf-host", "type", "veth", "peer", "name", "vh",
            "netns", SW)
        _ip("-n", SW, "link", "set", "vh", "master", "br0", "up")
        _ip("addr", "add", HOST_IP + "/24", "dev", "scf-host")
        _ip("link", "set", "scf-host", "up")
        self.up = True

    def _add_node(self, i):
        _ip("netns", "add", ns(i))
        _ip("-n", ns(i), "link", "set", "lo", "up")
        _ip("-n", ns(i), "link", "add", "eth0", "type", "veth", "peer",
            "name", "v%d" % i, "netns", SW)
        _ip("-n", SW, "link", "set", "v%d" % i, "master", "br0", "up")
        _ip("-n", ns(i), "addr", "add", addr(i) + "/24", "dev", "eth0")
        _ip("-n", ns(i), "link", "set", "eth0", "up")

    def destroy(self):
        _ip("link", "del", "scf-host", check=False)
        out = _ip("netns", "list", check=False).stdout
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            if name == SW or name.startswith("scf-n"):
                _ip("netns", "del", name, check=False)
        self.up = False

    # ---- faults ----

    def cut(self, a, b):
        """Drop what node a sends to node b (one direction)."""
        _ip("-n", ns(a), "route", "add", "blackhole", addr(b) + "/32")

    def partition(self, side_a, side_b):
        """Cut both directions between every node of side_a and of
        side_b."""
        for a in side_a:
            for b in side_b:
                if a != b:
                    self.cut(a, b)
                    self.cut(b, a)

    def heal(self):
        for i in range(1, self.n + 1):
            _ip("-n", ns(i), "route", "flush", "type", "blackhole",
                check=False)
