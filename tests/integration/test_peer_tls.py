#!/usr/bin/env python3
"""test_peer_tls.py — mutual TLS on the cluster ports (issue #11).

Each kind of peer traffic (raft handshake + append on the raft port;
PROPOSE, ADMIN and ADMIN STATUS frames on the forwarding port) is sent
from clients that must be refused: plaintext, TLS without a certificate,
a self-signed certificate, a certificate from another CA that names a
cluster node, and a valid cluster certificate of another node id (node 4,
claiming to be node 2). Each connection is closed before any frame is
parsed (no frame-decoding log line, no answer byte), the refusals are
logged with the peer address and counted in SHOW SERVICE (statistics
cluster: peer_refused, raft_refused), the spool does not change (the
applied index and the term stay) and the cluster keeps serving.

SIGHUP loads the certificates again: after a rotation both ports present
the new certificate; a reload with a bad file keeps the old one.

The positive control: node 2's own certificate, with a hello naming node
2, gets an answer to an ADMIN STATUS frame (so the refusals above are the
certificate check, not a broken forwarding port).

Run: python3 tests/integration/test_peer_tls.py. Prints "N passed, N
failed"; exits 1 on failure."""

import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import CLUSTER_CA, Cluster, run_tests  # noqa: E402

BASE = int(os.environ.get("IT_BASE_PORT", "27000")) + 700
MAGIC = 0x53434631  # "SCF1"
HELLO_MAGIC = 0x53434831  # "SCH1"
PROPOSE, RESULT, ADMIN, ADMIN_RESULT = 1, 2, 3, 4
OP_STATUS = 4


def hdr(ftype, length, req=1):
    return struct.pack(">IBBHIQ", MAGIC, ftype, 1, 0, length, req)


def hello(node_id):
    return struct.pack(">IIQ", HELLO_MAGIC, 1, node_id)


def admin_status():
    body = (struct.pack(">BQ", OP_STATUS, 0) + struct.pack(">I", 0) + b"\0"
            + struct.pack(">QQQ", 0, 0, 0))
    return hdr(ADMIN, len(body)) + body


def propose_garbage():
    body = b"\xee" * 40
    return hdr(PROPOSE, len(body)) + body


def admin_add():
    addr = b"127.0.0.9:1"
    body = (struct.pack(">BQ", 1, 9) + struct.pack(">I", len(addr)) + addr
            + b"\0" + struct.pack(">QQQ", 0, 0, 0))
    return hdr(ADMIN, len(body)) + body


def raft_handshake_append(claim_id, addr):
    a = addr.encode() + b"\0"
    a += b"\0" * (-len(a) % 8)
    hs = struct.pack("<QQQ", 1, claim_id, len(a)) + a
    # an AppendEntries-shaped message header (type 3) with a body
    return hs + struct.pack("<QQ", 3, 64) + b"\x01" * 64


def addr_of(a):
    host, port = a.rsplit(":", 1)
    return host, int(port)


def make_creds(c):
    """The client credentials to try: name -> (cert, key) or None."""
    d = os.path.join(c.workdir, "foreign")
    os.makedirs(d, exist_ok=True)
    c.node_cert(1)  # makes the cluster CA
    subprocess.run([CLUSTER_CA, "node", c.ca_dir(), "4"], check=True,
                   stdout=subprocess.DEVNULL)
    other = os.path.join(d, "otherca")
    subprocess.run([CLUSTER_CA, "ca", other], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([CLUSTER_CA, "node", other, "2"], check=True,
                   stdout=subprocess.DEVNULL)
    self_pem = os.path.join(d, "self.pem")
    self_key = os.path.join(d, "self.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", self_key,
                    "-out", self_pem, "-days", "2", "-subj", "/CN=node-2"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return {
        "plaintext": "plain",
        "no certificate": None,
        "self-signed": (self_pem, self_key),
        "another CA": (os.path.join(other, "node-2.pem"),
                       os.path.join(other, "node-2.key")),
        "valid cert of node 4": (os.path.join(c.ca_dir(), "node-4.pem"),
                                 os.path.join(c.ca_dir(), "node-4.key")),
    }


def tls_context(cred):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the server's cert is not the point
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cred is not None:
        ctx.load_cert_chain(cred[0], cred[1])
    return ctx


def refused(a, cred, data, wait=5.0):
    """Connect with cred, send data; True when the node closes the
    connection without sending a byte of answer after the handshake."""
    raw = socket.create_connection(addr_of(a), timeout=wait)
    s = raw
    try:
        if cred != "plain":
            try:
                s = tls_context(cred).wrap_socket(raw)
            except (ssl.SSLError, OSError):
                return True  # refused in the handshake
        try:
            s.sendall(data)
        except (ssl.SSLError, OSError):
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                return False
            except (ssl.SSLError, OSError):
                return True
            if not d:
                return True
            return False  # an answer: not refused
        return False
    finally:
        s.close()


def answered(a, cred, data, wait=10.0):
    """The first bytes of the answer to data (b"" if none)."""
    raw = socket.create_connection(addr_of(a), timeout=wait)
    s = tls_context(cred).wrap_socket(raw)
    try:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + wait
        while len(got) < 20 and time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got
    finally:
        s.close()


def cluster_stats(c, i):
    r = c.ctl(i, "show service smtp", {})
    assert r.get("ok"), r
    return r["result"]["statistics"]["cluster"]


def test_bad_peers_are_refused_before_any_frame():
    with Cluster(n=3, base_port=BASE) as c:
        c.start()
        leader = c.wait_leader()
        r = c.ctl(leader, "debug noop", timeout=15)
        assert r.get("ok"), r
        h0 = c.wait_converged()
        term = c.status(leader)["term"]
        creds = make_creds(c)
        st0 = {i: cluster_stats(c, i) for i in (1, 2, 3)}
        assert st0[leader]["tls"] == "mutual", st0
        follower = [i for i in (1, 2, 3) if i != leader][0]
        fwd = {
            "PROPOSE": propose_garbage(),
            "ADMIN add": admin_add(),
            "STATUS": admin_status(),
        }
        tries = {i: [0, 0] for i in (1, 2, 3)}  # forwarding, raft
        for node in (leader, follower):
            for cname, cred in creds.items():
                for fname, frame in fwd.items():
                    assert refused(c.peer_addr(node), cred,
                                   hello(2) + frame), \
                        "%s %s to node %d: answered" % (cname, fname, node)
                    tries[node][0] += 1
                assert refused(c.raft_addr(node), cred,
                               raft_handshake_append(2, c.raft_addr(2))), \
                    "%s raft to node %d: answered" % (cname, node)
                tries[node][1] += 1
        # nothing changed in the spool, the cluster keeps serving
        assert c.wait_converged() == h0
        for i in (1, 2, 3):
            r = c.ctl(i, "debug noop", timeout=15)
            assert r.get("ok"), (i, r)
        assert c.wait_leader(timeout=30) == leader
        assert c.status(leader)["term"] == term
        c.wait_converged()
        members = c.status(leader).get("members") or c.status(leader).get(
            "servers")
        if members is not None:
            assert "127.0.0.9" not in str(members), members
        # counted and logged
        for node in (leader, follower):
            st = cluster_stats(c, node)
            dp = st["peer_refused"] - st0[node]["peer_refused"]
            dr = st["raft_refused"] - st0[node]["raft_refused"]
            assert dp >= tries[node][0], (node, dp, tries[node])
            assert dr >= tries[node][1], (node, dr, tries[node])
            log = c.log(node)
            assert "forward: refused 127.0.0.1:" in log, node
            assert "raft tls: refused 127.0.0.1:" in log, node
            # node 4's valid certificate claiming node 2, on both ports
            assert ("the hello claims node 2, its certificate names "
                    "node 4") in log, node
            assert ("the handshake names server 2, its certificate "
                    "node 4") in log, node
            # refused before any frame was parsed
            for text in ("bad magic", "does not decode",
                         "malformed admin frame", "unknown frame type"):
                assert text not in log, (node, text)


def test_valid_node_certificate_gets_an_answer():
    with Cluster(n=3, base_port=BASE) as c:
        c.start()
        leader = c.wait_leader()
        cert = c.node_cert(2)
        got = answered(c.peer_addr(leader), cert, hello(2) + admin_status())
        assert len(got) >= 20, got
        magic, ftype = struct.unpack(">IB", got[:5])
        assert magic == MAGIC and ftype == ADMIN_RESULT, got[:20]
        # and a hello naming another node than the certificate: refused
        assert refused(c.peer_addr(leader), cert, hello(3) + admin_status())
        assert "forward: refused" in c.log(leader)


def server_cert_der(a, cred):
    raw = socket.create_connection(addr_of(a), timeout=10)
    s = tls_context(cred).wrap_socket(raw)
    try:
        return s.getpeercert(binary_form=True)
    finally:
        s.close()


def pem_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_sighup_reloads_the_certificates():
    with Cluster(n=3, base_port=BASE) as c:
        c.start()
        leader = c.wait_leader()
        peer = c.node_cert(2)
        cert1, key1 = c.node_cert(1)
        old = pem_der(cert1)
        assert server_cert_der(c.peer_addr(1), peer) == old
        # rotation: a new pair for node 1, then SIGHUP
        subprocess.run([CLUSTER_CA, "node", c.ca_dir(), "1"], check=True,
                       stdout=subprocess.DEVNULL)
        new = pem_der(cert1)
        assert new != old
        os.kill(c.pid(1), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "certificates reloaded" in c.log(1):
                break
            time.sleep(0.1)
        assert "certificates reloaded" in c.log(1), c.log_tail(1)
        assert server_cert_der(c.peer_addr(1), peer) == new
        assert server_cert_der(c.raft_addr(1), peer) == new
        # a bad reload (the certificate of another node) keeps the pair
        # in use
        with open(os.path.join(c.ca_dir(), "node-2.pem")) as f:
            other = f.read()
        with open(cert1, "w") as f:
            f.write(other)
        os.kill(c.pid(1), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "reload failed" in c.log(1):
                break
            time.sleep(0.1)
        assert "reload failed; keeping" in c.log(1), c.log_tail(1)
        assert server_cert_der(c.peer_addr(1), peer) == new
        for i in (1, 2, 3):
            r = c.ctl(i, "debug noop", timeout=15)
            assert r.get("ok"), (i, r)
        assert c.wait_leader(timeout=30) == leader


if __name__ == "__main__":
    run_tests([
        test_bad_peers_are_refused_before_any_frame,
        test_valid_node_certificate_gets_an_answer,
        test_sighup_reloads_the_certificates,
    ])
