#!/usr/bin/env python3
"""bench_smtp.py — SMTP accept rate of a real 3-node cluster, measured the
same way as Postfix's (smtp-source: SESSIONS parallel sessions, SIZE-byte
messages, MSGS messages), plus the latency from the end of DATA to the 250
(p50/p99) seen by SESSIONS concurrent clients.

Then the end-to-end rate: a second 3-node cluster with delivery on and
every setting at its default, relaying through its alternate gateway (an
IP) to a counting smtp-sink, timed from the first message sent until the
sink has counted them all; with the raft entries the run took per message
(commit index before and after).

Prints lines the runner (tests/bench/run.sh) combines with Postfix's:
  cluster accept: N msg/s (...)
  cluster latency: p50 X ms, p99 Y ms (...)
  cluster end-to-end: N msg/s (...)
With --latency HOST:PORT LABEL it only runs the latency probe against
that server (run.sh uses it for Postfix). Everything runs on loopback
and stops by itself; the end-to-end wait is bounded by E2E_TIMEOUT (s).
"""
import os
import re
import shutil
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
E2E_TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "300"))
SINK_IP = "127.0.0.9"  # not a node's address (nodes are 127.0.0.1-3)
SINK_PORT = int(os.environ.get("E2E_SINK_PORT", "19390"))


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


def body_bytes():
    return (b"Subject: bench\r\n\r\n" + b"x" * 76 + b"\r\n") * (SIZE // 80)


def latency(host, port, label, msgs=None):
    """SESSIONS clients, msgs (LAT_MSGS) messages: print p50/p99 end of
    DATA to 250; return (p50, p99) in ms, or None."""
    lat, errors = [], []
    per = max(1, (msgs or LAT_MSGS) // SESSIONS)
    th = [threading.Thread(target=latency_worker,
                           args=(host, port, per, body_bytes(), lat, errors))
          for _ in range(SESSIONS)]
    for t in th:
        t.start()
    for t in th:
        t.join(600)
    lat.sort()
    if lat:
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        print("%s latency: p50 %.1f ms, p99 %.1f ms  (end of DATA to 250, "
              "%d msgs, %d errors)" % (label, p50, p99, len(lat), len(errors)))
        return p50, p99
    return None


def commit_index(c):
    try:
        r = c.ctl(c.wait_leader(timeout=10), "cluster status", {})
        return int(r["result"]["commit_index"])
    except Exception:  # noqa: BLE001 - the figure is left out, not made up
        return None


def sink_counts(path):
    """(messages, sessions) smtp-sink -c has counted so far."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 256))
            tail = f.read().decode("ascii", "replace")
    except OSError:
        return 0, 0
    m = re.findall(r"sess=(\d+) quit=\d+ mesg=(\d+)", tail)
    return (int(m[-1][1]), int(m[-1][0])) if m else (0, 0)


def end_to_end():
    """A cluster with defaults delivering to smtp-sink: the rate at which
    every message reaches the far end."""
    work = tempfile.mkdtemp(prefix="smtpbench-e2e.")
    sink_out = os.path.join(work, "sink.out")
    argv = ["smtp-sink", "-c", "%s:%d" % (SINK_IP, SINK_PORT), "1000"]
    if os.geteuid() == 0:
        argv[1:1] = ["-u", "nobody"]
    with open(sink_out, "wb") as out:
        sink = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        with Cluster(os.path.join(work, "e2e"), n=3,
                     base_port=int(os.environ.get("BENCH_PORT", "19100")) + 200,
                     delivery={"smtp_port": SINK_PORT},
                     cluster_domain="cluster.test") as c:
            c.start()
            leader = c.wait_leader(timeout=30)
            c.set_config(leader, zone="cluster.test", gateway_alternate=SINK_IP)
            time.sleep(1)  # every node's symbiont reads it at its next scan
            host, port = c.smtp_addr(1).rsplit(":", 1)
            idx0 = commit_index(c)
            t0 = time.monotonic()
            r = subprocess.run(["smtp-source", "-s", str(SESSIONS), "-m",
                                str(MSGS), "-l", str(SIZE), "-f",
                                "bench@example.com", "-t",
                                "rcpt@remote.example", "%s:%s" % (host, port)],
                               capture_output=True, text=True, timeout=900)
            t1 = time.monotonic()
            if r.returncode != 0:
                print("cluster end-to-end: smtp-source failed: %s"
                      % r.stderr.strip())
                return
            deadline = t0 + E2E_TIMEOUT
            got = 0
            while time.monotonic() < deadline:
                got, _ = sink_counts(sink_out)
                if got >= MSGS:
                    break
                time.sleep(0.05)
            t2 = time.monotonic()
            idx1 = commit_index(c)
            # reused connections end after their idle time (2 s): then
            # the sink has counted every session
            time.sleep(3)
            got, sess = sink_counts(sink_out)
            if got < MSGS:
                print("cluster end-to-end: only %d of %d at the far end after "
                      "%.0f s" % (got, MSGS, E2E_TIMEOUT))
                return
            per = ("%.2f raft entries per message" % ((idx1 - idx0) / MSGS)
                   if idx0 is not None and idx1 is not None else
                   "raft entries not known")
            print("cluster end-to-end: %.0f msg/s  (%d msgs, accept %.2fs, "
                  "total %.2fs, %d sessions at the far end, %s)"
                  % (MSGS / (t2 - t0), MSGS, t1 - t0, t2 - t0, sess, per))
    finally:
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--latency":
        host, port = sys.argv[2].rsplit(":", 1)
        latency(host, int(port), sys.argv[3])
        return 0
    if sys.argv[1:] == ["--e2e-only"]:
        end_to_end()
        return 0
    work = tempfile.mkdtemp(prefix="smtpbench.")
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
        latency(host, port, "cluster")
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
    end_to_end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
