#!/usr/bin/env python3
"""bench_smtp.py — SMTP accept rate of a real 3-node cluster, measured the
same way as Postfix's (smtp-source: SESSIONS parallel sessions, SIZE-byte
messages, MSGS messages), plus the latency from the end of DATA to the 250
(p50/p99) seen by SESSIONS concurrent clients.

Prints lines the runner (tests/bench/run.sh) combines with Postfix's:
  cluster accept: N msg/s (...)
  cluster latency: p50 X ms, p99 Y ms (...)
Everything runs on loopback and stops by itself.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from cluster import Cluster  # noqa: E402

MSGS = int(os.environ.get("MSGS", "5000"))
SIZE = int(os.environ.get("SIZE", "4096"))
SESSIONS = int(os.environ.get("SESSIONS", "20"))
LAT_MSGS = int(os.environ.get("LAT_MSGS", "2000"))


def recv_reply(f):
    """Read one (possibly multi-line) SMTP reply; return its code."""
    while True:
        line = f.readline()
        if not line:
            raise IOError("connection closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


def latency_worker(host, port, count, body, out, errors):
    try:
        s = socket.create_connection((host, port), timeout=60)
        # no Nagle: the final ".\r\n" must not wait for a delayed ACK
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        recv_reply(f)
        s.sendall(b"EHLO bench.local\r\n")
        recv_reply(f)
        for _ in range(count):
            s.sendall(b"MAIL FROM:<bench@example.com>\r\n")
            if recv_reply(f) != 250:
                errors.append("mail")
                continue
            s.sendall(b"RCPT TO:<rcpt@remote.example>\r\n")
            if recv_reply(f) != 250:
                errors.append("rcpt")
                s.sendall(b"RSET\r\n")
                recv_reply(f)
                continue
            s.sendall(b"DATA\r\n")
            recv_reply(f)
            s.sendall(body)
            t0 = time.monotonic()
            s.sendall(b".\r\n")
            code = recv_reply(f)
            out.append(time.monotonic() - t0)
            if code != 250:
                errors.append(str(code))
        s.sendall(b"QUIT\r\n")
        s.close()
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        errors.append(repr(e))


def main():
    work = tempfile.mkdtemp(prefix="smtpbench.")
    body = (b"Subject: bench\r\n\r\n" + b"x" * 76 + b"\r\n") * (SIZE // 80)
    with Cluster(work, n=3, base_port=int(os.environ.get("BENCH_PORT", "19100"))) as c:
        c.start()
        c.wait_leader(timeout=30)
        # accept only: keep the symbionts from delivering during the run
        for i in (1, 2, 3):
            try:
                c.ctl(i, "stop mail", {"node": i})
            except Exception:  # noqa: BLE001 - older builds have no symbiont
                pass
        host, port = c.smtp_addr(1).rsplit(":", 1)
        port = int(port)
        t0 = time.monotonic()
        r = subprocess.run(["smtp-source", "-s", str(SESSIONS), "-m", str(MSGS),
                            "-l", str(SIZE), "-f", "bench@example.com",
                            "-t", "rcpt@remote.example", "%s:%d" % (host, port)],
                           capture_output=True, text=True, timeout=900)
        t1 = time.monotonic()
        if r.returncode != 0:
            print("cluster accept: smtp-source failed: %s" % r.stderr.strip())
            return 1
        print("cluster accept: %.0f msg/s  (%d msgs, %.2fs, %d sessions, %d bytes)"
              % (MSGS / (t1 - t0), MSGS, t1 - t0, SESSIONS, SIZE))
        lat, errors = [], []
        per = max(1, LAT_MSGS // SESSIONS)
        th = [threading.Thread(target=latency_worker,
                               args=(host, port, per, body, lat, errors))
              for _ in range(SESSIONS)]
        for t in th:
            t.start()
        for t in th:
            t.join(600)
        lat.sort()
        if lat:
            p50 = lat[len(lat) // 2] * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            print("cluster latency: p50 %.1f ms, p99 %.1f ms  (end of DATA to 250, %d msgs, %d errors)"
                  % (p50, p99, len(lat), len(errors)))
        rss = []
        for i in (1, 2, 3):
            try:
                with open("/proc/%d/status" % c.pid(i)) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss.append(int(line.split()[1]) // 1024)
            except OSError:
                pass
        print("cluster rss: %s MiB per node after the run" % rss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
