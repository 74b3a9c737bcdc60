#!/usr/bin/env python3
"""bench_backlog.py — what a backlog costs (issue #12), on a real 3-node
cluster on loopback, one fresh cluster per step.

sweep (the default): for each backlog size N in BENCH_BACKLOG (default
2000,20000,100000; sizes above BENCH_BACKLOG_MAX, default 100000, are
left out) a fresh cluster with its symbionts stopped; one follower is
stopped first ("down"); N SIZE-byte messages are queued through the
leader with smtp-source (SESSIONS sessions) and timed (accept rate);
then the latency probe (LAT_MSGS messages, end of DATA -> 250, p50/p99);
the RSS of every running node; the snapshots every node took (count,
largest image, longest serialization, from the "FSM: snapshot" log
lines); then the down node is started again and the time until it has
applied the leader's commit index is its catch-up time, with the latency
probe running against the leader meanwhile (p99 during catch-up).
Prints one line per step:
  backlog N: accept R msg/s, p50/p99 X/Y ms, rss [..] MiB, snapshots
  K (largest B MiB, longest S ms), catch-up C s (restored: yes/no),
  p99 during catch-up Z ms

drain: a fresh cluster with delivery on (defaults) to a counting
smtp-sink; mail stopped on every node while DRAIN_MSGS messages queue;
then mail started on every node and timed until the sink has them all:
  drain: R msg/s (N msgs, T s, E raft entries per delivered message)
The raft entries are the commit index before and after the drain: every
CLAIM, RENEW and COMPLETE entry, nothing of the ENQUEUEs.

saturate: where one raft group saturates (docs/scale-out.md). A fresh
cluster, symbionts stopped; for each session count in SAT_SESSIONS
(default 5,20,50,100) SAT_MSGS messages through the leader, with the CPU
of every node (utime+stime from /proc, in % of one core), the raft
entries per second (commit index), the leader's disk writes (write_bytes
of /proc/PID/io) and the loopback traffic (/proc/net/dev "lo", both
directions: SMTP in, replication out):
  saturate S sessions: R msg/s, cpu leader L% followers [..]%, E
  entries/s (M msgs per entry), leader writes W MiB/s, lo X MiB/s,
  machine B% busy (all CPUs: the nodes, smtp-source, anything else)

profile: SAT_MSGS messages through the leader with `perf record -g` on
the leader for the run; prints the top of `perf report` (by symbol,
children excluded), i.e. what the leader's CPU goes to.

Everything is bounded: smtp-source by its timeout, every wait by
STEP_TIMEOUT (s). Run under the integration lock (fixed ports).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import bench_smtp  # noqa: E402
from cluster import Cluster  # noqa: E402

SIZE = int(os.environ.get("SIZE", "4096"))
SESSIONS = int(os.environ.get("SESSIONS", "20"))
LAT_MSGS = int(os.environ.get("LAT_MSGS", "2000"))
STEP_TIMEOUT = float(os.environ.get("STEP_TIMEOUT", "600"))
BACKLOG_MAX = int(os.environ.get("BENCH_BACKLOG_MAX", "100000"))
BACKLOG = [int(x) for x in
           os.environ.get("BENCH_BACKLOG", "2000,20000,100000").split(",")
           if x.strip()]
DRAIN_MSGS = int(os.environ.get("DRAIN_MSGS", "5000"))
BASE_PORT = int(os.environ.get("BENCH_PORT", "19100")) + 400
SINK_IP = "127.0.0.9"
SINK_PORT = int(os.environ.get("E2E_SINK_PORT", "19390"))
SNAP_RE = re.compile(rb"FSM: snapshot of (\d+) bytes: serialized in (\d+) "
                     rb"ms, stored in (\d+) ms")


def smtp_source(addr, n):
    """Queue n messages through addr (host:port); seconds taken."""
    t0 = time.monotonic()
    r = subprocess.run(["smtp-source", "-s", str(SESSIONS), "-m", str(n),
                        "-l", str(SIZE), "-f", "bench@example.com",
                        "-t", "rcpt@remote.example", addr],
                       capture_output=True, text=True, timeout=STEP_TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError("smtp-source failed: %s" % r.stderr.strip())
    return time.monotonic() - t0


def rss_mib(c, ids, field="VmRSS"):
    """The resident size (MiB) of each node in ids: VmRSS, or one of its
    parts, RssAnon (heap: raft's log in memory, buffers) and RssFile
    (mapped file pages: LMDB's)."""
    out = []
    for i in ids:
        try:
            with open("/proc/%d/status" % c.pid(i)) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        out.append(int(line.split()[1]) // 1024)
        except (OSError, KeyError, TypeError):
            pass
    return out


def snapshots(c):
    """(count, largest bytes, longest serialize ms, longest stored ms)
    over every node's log."""
    n, big, ser, sto = 0, 0, 0, 0
    for i in c.members:
        try:
            with open(c.log_path(i), "rb") as f:
                text = f.read()
        except OSError:
            continue
        for m in SNAP_RE.finditer(text):
            n += 1
            big = max(big, int(m.group(1)))
            ser = max(ser, int(m.group(2)))
            sto = max(sto, int(m.group(3)))
    return n, big, ser, sto


BLOCK_RE = re.compile(rb"event loop: blocked for about (\d+) ms")


def loop_blocks(c, since=None):
    """{node: (blocks >= 100 ms, worst ms)} from every node's log, the
    lines after byte offset since[node] when given."""
    out = {}
    for i in c.members:
        try:
            with open(c.log_path(i), "rb") as f:
                if since:
                    f.seek(since.get(i, 0))
                text = f.read()
        except OSError:
            continue
        ms = [int(m.group(1)) for m in BLOCK_RE.finditer(text)]
        out[i] = (len(ms), max(ms) if ms else 0)
    return out


def log_sizes(c):
    sizes = {}
    for i in c.members:
        try:
            sizes[i] = os.path.getsize(c.log_path(i))
        except OSError:
            sizes[i] = 0
    return sizes


def fmt_blocks(b):
    return " ".join("n%d %d/%d" % (i, b[i][0], b[i][1]) for i in sorted(b))


def applied(c, i):
    st = c.status(i, timeout=3)
    try:
        return int(st["applied_index"])
    except (TypeError, KeyError, ValueError):
        return None


def commit(c, i):
    st = c.status(i, timeout=5)
    try:
        return int(st["commit_index"])
    except (TypeError, KeyError, ValueError):
        return None


def restored(c, i):
    try:
        with open(c.log_path(i), "rb") as f:
            return b"FSM: restored a snapshot" in f.read()
    except OSError:
        return False


def step(n):
    work = tempfile.mkdtemp(prefix="smtpbench-backlog.")
    try:
        with Cluster(os.path.join(work, "c"), n=3, base_port=BASE_PORT) as c:
            c.start()
            leader = c.wait_leader(timeout=30)
            for i in c.members:
                c.ctl(i, "stop mail", {"node": i})
            down = [i for i in c.members if i != leader][-1]
            c.kill(down, sig=15)
            up = [i for i in c.members if i != down]
            addr = c.smtp_addr(leader)
            host, port = addr.rsplit(":", 1)
            secs = smtp_source(addr, n)
            rate = n / secs
            lat = bench_smtp.latency(host, int(port), "backlog %d" % n)
            rss = rss_mib(c, up)
            rss_parts = (rss_mib(c, up, "RssAnon"), rss_mib(c, up, "RssFile"))
            snaps = snapshots(c)
            # the down node comes back: time until it has applied what
            # the leader had committed, while the leader takes mail
            target = commit(c, leader)
            blocks = loop_blocks(c)
            mark = log_sizes(c)
            during = {}

            def probe():
                during["lat"] = bench_smtp.latency(
                    host, int(port), "backlog %d during catch-up" % n,
                    msgs=max(SESSIONS, LAT_MSGS // 2))
            t0 = time.monotonic()
            c.start_node(down)
            th = threading.Thread(target=probe)
            th.start()
            caught = None
            while time.monotonic() - t0 < STEP_TIMEOUT:
                a = applied(c, down)
                if a is not None and target is not None and a >= target:
                    caught = time.monotonic() - t0
                    break
                time.sleep(0.05)
            th.join(STEP_TIMEOUT)
            lat2 = during.get("lat")
            blocks2 = loop_blocks(c, mark)
            print("backlog %d: accept %.0f msg/s, p50/p99 %s ms, rss %s MiB "
                  "per running node (anon %s, file %s), snapshots %d (largest %.1f MiB, longest "
                  "serialization %d ms, longest stored %d ms), catch-up %s "
                  "(snapshot restored: %s), p99 during catch-up %s ms, loop "
                  "blocks >= 100 ms (count/worst ms) %s, during catch-up %s"
                  % (n, rate,
                     "%.1f/%.1f" % lat if lat else "?", rss, rss_parts[0],
                     rss_parts[1], snaps[0],
                     snaps[1] / 1048576.0, snaps[2], snaps[3],
                     "%.1f s" % caught if caught is not None else
                     "not within %.0f s" % STEP_TIMEOUT,
                     "yes" if restored(c, down) else "no",
                     "%.1f" % lat2[1] if lat2 else "?",
                     fmt_blocks(blocks), fmt_blocks(blocks2)), flush=True)
    finally:
        if os.environ.get("SMTPCLUSTER_KEEP"):
            print("backlog %d: logs kept in %s" % (n, work))
        else:
            shutil.rmtree(work, ignore_errors=True)


def drain():
    work = tempfile.mkdtemp(prefix="smtpbench-drain.")
    sink_out = os.path.join(work, "sink.out")
    argv = ["smtp-sink", "-c", "%s:%d" % (SINK_IP, SINK_PORT), "1000"]
    if os.geteuid() == 0:
        argv[1:1] = ["-u", "nobody"]
    with open(sink_out, "wb") as out:
        sink = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        with Cluster(os.path.join(work, "c"), n=3, base_port=BASE_PORT,
                     delivery={"smtp_port": SINK_PORT},
                     cluster_domain="cluster.test") as c:
            c.start()
            leader = c.wait_leader(timeout=30)
            c.set_config(leader, zone="cluster.test",
                         gateway_alternate=SINK_IP)
            for i in c.members:
                c.ctl(i, "stop mail", {"node": i})
            smtp_source(c.smtp_addr(leader), DRAIN_MSGS)
            idx0 = commit(c, leader)
            t0 = time.monotonic()
            for i in c.members:
                c.ctl(i, "start mail", {"node": i})
            got = 0
            while time.monotonic() - t0 < STEP_TIMEOUT:
                got, _ = bench_smtp.sink_counts(sink_out)
                if got >= DRAIN_MSGS:
                    break
                time.sleep(0.05)
            t1 = time.monotonic()
            idx1 = commit(c, leader)
            if got < DRAIN_MSGS:
                print("drain: only %d of %d at the far end after %.0f s"
                      % (got, DRAIN_MSGS, STEP_TIMEOUT))
                return 1
            print("drain: %.0f msg/s  (%d msgs, %.2f s, %s raft entries per "
                  "delivered message)"
                  % (DRAIN_MSGS / (t1 - t0), DRAIN_MSGS, t1 - t0,
                     "%.3f" % ((idx1 - idx0) / DRAIN_MSGS)
                     if idx0 is not None and idx1 is not None else "?"),
                  flush=True)
    finally:
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def write_bytes(pid):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def lo_bytes():
    with open("/proc/net/dev") as f:
        for line in f:
            if line.strip().startswith("lo:"):
                v = line.split(":", 1)[1].split()
                return int(v[0]) + int(v[8])
    return 0


def machine_ticks():
    """(busy, total) clock ticks of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def saturate():
    global SESSIONS
    msgs = int(os.environ.get("SAT_MSGS", "10000"))
    sessions = [int(x) for x in
                os.environ.get("SAT_SESSIONS", "5,20,50,100").split(",")]
    hz = os.sysconf("SC_CLK_TCK")
    work = tempfile.mkdtemp(prefix="smtpbench-sat.")
    try:
        # smtp-source's sessions all come from one address
        with Cluster(os.path.join(work, "c"), n=3, base_port=BASE_PORT,
                     smtp={"max_per_ip": 1000, "max_sessions": 1000}) as c:
            c.start()
            leader = c.wait_leader(timeout=30)
            for i in c.members:
                c.ctl(i, "stop mail", {"node": i})
            addr = c.smtp_addr(leader)
            for s in sessions:
                SESSIONS = s
                pids = {i: c.pid(i) for i in c.members}
                t0 = {i: cpu_ticks(p) for i, p in pids.items()}
                w0, lo0, idx0 = write_bytes(pids[leader]), lo_bytes(), \
                    commit(c, leader)
                m0 = machine_ticks()
                secs = smtp_source(addr, msgs)
                m1 = machine_ticks()
                t1 = {i: cpu_ticks(p) for i, p in pids.items()}
                w1, lo1, idx1 = write_bytes(pids[leader]), lo_bytes(), \
                    commit(c, leader)
                cpu = {i: 100.0 * (t1[i] - t0[i]) / hz / secs
                       for i in pids}
                ents = (idx1 - idx0) if None not in (idx0, idx1) else 0
                print("saturate %d sessions: %.0f msg/s, cpu leader %.0f%% "
                      "followers %s%%, %.0f entries/s (%.1f msgs per "
                      "entry), leader writes %.1f MiB/s, lo %.1f MiB/s, "
                      "machine %.0f%% busy (%d CPUs, everything on it)"
                      % (s, msgs / secs, cpu[leader],
                         [round(cpu[i]) for i in c.members if i != leader],
                         ents / secs, msgs / ents if ents else 0,
                         (w1 - w0) / secs / 1048576.0,
                         (lo1 - lo0) / secs / 1048576.0,
                         100.0 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
                         os.cpu_count()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def profile():
    msgs = int(os.environ.get("SAT_MSGS", "10000"))
    work = tempfile.mkdtemp(prefix="smtpbench-prof.")
    data = os.path.join(work, "perf.data")
    try:
        with Cluster(os.path.join(work, "c"), n=3, base_port=BASE_PORT) as c:
            c.start()
            leader = c.wait_leader(timeout=30)
            for i in c.members:
                c.ctl(i, "stop mail", {"node": i})
            perf = subprocess.Popen(["perf", "record", "-q", "-g", "-o", data,
                                     "-p", str(c.pid(leader))],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            secs = smtp_source(c.smtp_addr(leader), msgs)
            perf.send_signal(2)
            perf.wait(60)
            print("profile: %d msgs in %.2f s through the leader" % (msgs,
                                                                      secs))
        r = subprocess.run(["perf", "report", "-i", data, "--stdio",
                            "--no-children", "--sort", "dso,symbol", "-g", "none",
                            "--percent-limit", "0.8"],
                           capture_output=True, text=True, timeout=300)
        for line in r.stdout.splitlines():
            if line.strip() and not line.startswith("#"):
                print("profile: " + line.strip())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main():
    if sys.argv[1:] == ["drain"]:
        return drain()
    if sys.argv[1:] == ["saturate"]:
        return saturate()
    if sys.argv[1:] == ["profile"]:
        return profile()
    for n in BACKLOG:
        if n > BACKLOG_MAX:
            print("backlog %d: skipped (BENCH_BACKLOG_MAX=%d)"
                  % (n, BACKLOG_MAX))
            continue
        t0 = time.monotonic()
        step(n)
        print("backlog %d: step took %.0f s" % (n, time.monotonic() - t0),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
