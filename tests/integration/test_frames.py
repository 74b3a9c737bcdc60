#!/usr/bin/env python3
"""test_frames.py — malformed, oversized, truncated and random bytes on the
forwarding port (raft port + 1) and on the raft port: each connection is
dropped (closed), with a log line for the forwarding port, and the node
keeps answering, the cluster keeps its leader.

The cluster ports run mutual TLS (test_peer_tls.py tests who gets in):
here the bytes come from an authenticated peer, over TLS with a valid
cluster certificate of node 9 (not a member) and, on the forwarding port,
the hello naming node 9, so they reach the frame reader and libraft's
handshake check.

Run: python3 tests/integration/test_frames.py (uses build/smtpclusterd,
or $SMTPCLUSTERD). Prints "N passed, N failed"; exits 1 on failure."""

import os
import random
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_tests, wait_until  # noqa: E402

BASE = int(os.environ.get("IT_BASE_PORT", "27000")) + 600
MAGIC = 0x53434631  # "SCF1"
PROPOSE, RESULT, ADMIN, ADMIN_RESULT = 1, 2, 3, 4
MAX_FRAME = 1 << 20  # configured below; the node allows + 4 KiB


def hdr(ftype, length, req=1, version=1, reserved=0, magic=MAGIC):
    return struct.pack(">IBBHIQ", magic, ftype, version, reserved, length,
                       req)


def addr(a):
    host, port = a.rsplit(":", 1)
    return host, int(port)


PEER_ID = 9
CRED = {}  # the cluster in use: "ctx" (client context), its peer ports


def use_cluster(c):
    """TLS as node PEER_ID of c's cluster CA (made here)."""
    cert, key = c.node_cert(PEER_ID)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    CRED["ctx"] = ctx
    CRED["fwd"] = {c.peer_addr(i) for i in range(1, 10)}


def connect(a, timeout=10):
    """An authenticated connection to a cluster port: TLS as node
    PEER_ID, and on a forwarding port the hello."""
    raw = socket.create_connection(addr(a), timeout=timeout)
    s = CRED["ctx"].wrap_socket(raw)
    if a in CRED["fwd"]:
        s.sendall(struct.pack(">IIQ", 0x53434831, 1, PEER_ID))
    return s


def half_close(s):
    # TCP FIN without a TLS close_notify: the node sees end of stream
    socket.socket.shutdown(s, socket.SHUT_WR)


def closed_after(a, data, wait=5.0, shut=False):
    """Send data; True when the node closes the connection within wait
    seconds (EOF or reset), False if it stays open."""
    s = connect(a, timeout=wait)
    try:
        try:
            s.sendall(data)
            if shut:
                half_close(s)
        except OSError:
            return True  # reset while sending: dropped
        s.settimeout(wait)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not d:
                return True
        return False
    finally:
        s.close()


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def healthy(c, leader, term):
    for i in (1, 2, 3):
        r = c.ctl(i, "debug noop", timeout=15)
        assert r.get("ok"), (i, r)
    assert c.wait_leader(timeout=30) == leader
    st = c.status(leader)
    assert st["term"] == term, (st["term"], term)


CONF = {"cluster": {"max_frame": MAX_FRAME}}

BAD_FRAMES = {
    "bad magic": hdr(PROPOSE, 0, magic=0x58585858),
    "unknown version": hdr(PROPOSE, 0, version=9),
    "unknown type 0": hdr(0, 0),
    "unknown type 77": hdr(77, 0),
    "reserved not zero": hdr(PROPOSE, 0, reserved=5),
    "length 4 GiB": hdr(PROPOSE, 0xFFFFFFFF),
    "length just over the limit": hdr(PROPOSE, MAX_FRAME + 4096 + 1),
    "result sent to a server": hdr(RESULT, 4) + b"\0\0\0\0",
    "admin garbage": hdr(ADMIN, 10) + b"\xff" * 10,
    "propose garbage": hdr(PROPOSE, 40) + b"\xee" * 40,
    "text": b"GET / HTTP/1.0\r\n\r\n",
}


def test_malformed_frames_are_dropped():
    with Cluster(n=3, base_port=BASE, extra_conf=CONF) as c:
        c.start()
        use_cluster(c)
        leader = c.wait_leader()
        term = c.status(leader)["term"]
        follower = [i for i in (1, 2, 3) if i != leader][0]
        for node in (leader, follower):
            for name, data in BAD_FRAMES.items():
                assert closed_after(c.peer_addr(node), data), \
                    "%s to node %d: connection left open" % (name, node)
        healthy(c, leader, term)
        log = c.log(leader)
        for text in ("bad magic", "unknown frame version",
                     "unknown frame type", "reserved field not zero",
                     "frame larger than allowed", "malformed admin frame",
                     "does not decode", "to the server side"):
            assert text in log, text


def test_oversized_length_is_refused_before_allocation():
    with Cluster(n=3, base_port=BASE + 100, extra_conf=CONF) as c:
        c.start()
        use_cluster(c)
        leader = c.wait_leader()
        term = c.status(leader)["term"]
        pid = c.pid(leader)
        before = vmrss_kib(pid)
        socks = []
        try:
            # many connections each announcing a huge frame: none of them
            # may make the node allocate what they announce
            for _ in range(50):
                s = connect(c.peer_addr(leader))
                s.sendall(hdr(PROPOSE, 0xFFFFFF00) + b"x" * 100)
                socks.append(s)
            for s in socks:
                s.settimeout(5)
                try:
                    assert s.recv(10) == b""
                except (ConnectionResetError, ssl.SSLError):
                    pass
        finally:
            for s in socks:
                s.close()
        assert vmrss_kib(pid) - before < 32 * 1024, (before, vmrss_kib(pid))
        healthy(c, leader, term)


def test_truncated_frames_are_dropped():
    with Cluster(n=3, base_port=BASE + 200, extra_conf=CONF) as c:
        c.start()
        use_cluster(c)
        leader = c.wait_leader()
        term = c.status(leader)["term"]
        fa = c.peer_addr(leader)
        # a peer that goes away mid-frame
        assert closed_after(fa, hdr(PROPOSE, 1000)[:7], shut=True)
        assert closed_after(fa, hdr(PROPOSE, 1000) + b"abc", shut=True)
        # a peer that stops mid-frame and stays: dropped after a pause
        s = connect(fa)
        try:
            s.sendall(hdr(PROPOSE, 1000) + b"abc")
            s.settimeout(20)
            try:
                assert s.recv(10) == b""
            except (ConnectionResetError, ssl.SSLError):
                pass
        finally:
            s.close()
        assert "sent part of a frame" in c.log(leader)
        healthy(c, leader, term)


def test_random_bytes_on_both_ports():
    rnd = random.Random(1234)
    with Cluster(n=3, base_port=BASE + 300, extra_conf=CONF) as c:
        c.start()
        use_cluster(c)
        leader = c.wait_leader()
        term = c.status(leader)["term"]
        follower = [i for i in (1, 2, 3) if i != leader][0]
        for k in range(60):
            node = leader if k % 2 else follower
            blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(
                1, 4096)))
            if k % 3 == 0:
                # a valid header in front of random bytes
                blob = hdr(rnd.choice((PROPOSE, ADMIN)), len(blob)) + blob
            assert closed_after(c.peer_addr(node), blob, shut=True), k
            # the raft port: libraft drops what it cannot decode
            raft = c.raft_addr(node)
            for data in (blob, struct.pack("<QQQ", 1, 2**48, 2) + blob,
                         struct.pack("<QQQ", 1, 7, 16) + b"\xff" * 16,
                         b"\0" * 64):
                assert closed_after(raft, data, wait=3.0, shut=True), k
        healthy(c, leader, term)
        refused = c.status(leader)["stats"]["raft_handshakes_refused"]
        assert refused >= 30, refused
        assert "raft transport: dropping connection" in c.log(leader)


if __name__ == "__main__":
    run_tests([
        test_malformed_frames_are_dropped,
        test_oversized_length_is_refused_before_allocation,
        test_truncated_frames_are_dropped,
        test_random_bytes_on_both_ports,
    ])
