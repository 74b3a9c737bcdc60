#!/usr/bin/env python3
"""test_metrics.py — the node's Prometheus endpoint and receive log
(issue #13), against a real 3-node cluster.

Metrics: every node with [metrics] listen answers GET /metrics with
families named smtpcluster_... that pass `promtool check metrics`, scraped
with a real HTTP client (urllib); exactly one node reports raft state
leader; after a message is accepted the receiving node's counters, queue
depth and accept-latency histogram show it; on a node that delivers and
takes snapshots the delivery-latency and snapshot histograms get
observations; another path is 404, another method 405.

Receive log: one line per message received on the receiving node, with
the time, client address and HELO, MAIL FROM, recipients, size, control
file name and reply; SIGHUP reopens it after it was moved (log rotation).

Run: python3 tests/integration/test_metrics.py (under the integration
lock). promtool missing (make deps) is a SKIP, a failure when CI=true.
Prints "N passed, N failed"."""

import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, SkipTest, run_tests, wait_until  # noqa: E402

BASE = int(os.environ.get("IT_METRICS_BASE_PORT", "30400"))
WORK = tempfile.mkdtemp(prefix="smtpcluster-metrics-")


def metrics_addr(i):
    return "127.0.0.1:%d" % (BASE + 90 + i)


C = Cluster(os.path.join(WORK, "c"), n=3, base_port=BASE,
            extra_conf=lambda i: {"metrics": {"listen": metrics_addr(i)}})


def check(cond, what, got=None):
    if not cond:
        raise AssertionError("%s (got %r)" % (what, got))


def scrape(i, path="/metrics", method="GET"):
    """(status, content type, body) of one request to node i."""
    req = urllib.request.Request("http://%s%s" % (metrics_addr(i), path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def samples(text):
    """{'name{labels}': float} of the exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        out[key] = float(val)
    return out


def promtool_check(text):
    tool = shutil.which("promtool")
    if tool is None:
        raise SkipTest("promtool is not installed (make deps: prometheus)")
    p = subprocess.run([tool, "check", "metrics"], input=text, text=True,
                       capture_output=True, timeout=60)
    check(p.returncode == 0, "promtool check metrics passes",
          (p.stdout + p.stderr)[-2000:])
    return p.stdout + p.stderr


def send(i, tag, rcpts, c=None):
    host, port = (c or C).smtp_addr(i).rsplit(":", 1)
    s = smtplib.SMTP(host, int(port), local_hostname="client.test",
                     timeout=30)
    try:
        data = ("From: alice@cluster.test\r\nTo: x\r\nSubject: %s\r\n"
                "Message-ID: <%s@test.example>\r\n\r\nbody\r\n"
                % (tag, tag))
        refused = s.sendmail("alice@cluster.test", rcpts, data)
        check(not refused, "accepted", refused)
    finally:
        s.quit()
    return len(data)


def test_every_node_passes_promtool_and_one_leads():
    leaders = 0
    for i in (1, 2, 3):
        st, ctype, body = wait_until(lambda: scrape(i), 20,
                                     what="node %d scraped" % i)
        check(st == 200, "node %d answers 200" % i, st)
        check(ctype.startswith("text/plain; version=0.0.4"),
              "Prometheus text content type", ctype)
        promtool_check(body)
        fams = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
        check(fams and all(f.startswith("smtpcluster_") for f in fams),
              "every family is smtpcluster_...", sorted(fams))
        for f in ("smtpcluster_raft_term", "smtpcluster_raft_commit_index",
                  "smtpcluster_raft_applied_index", "smtpcluster_raft_state",
                  "smtpcluster_smtp_messages_total",
                  "smtpcluster_queue_files",
                  "smtpcluster_accept_latency_seconds",
                  "smtpcluster_delivery_latency_seconds",
                  "smtpcluster_snapshot_duration_seconds",
                  "smtpcluster_snapshot_size_bytes"):
            check(f in fams, "node %d has %s" % (i, f), sorted(fams))
        v = samples(body)
        check(v["smtpcluster_raft_term"] >= 1, "a term", v)
        leaders += int(v['smtpcluster_raft_state{state="leader"}'])
    check(leaders == 1, "exactly one node reports leader", leaders)


def test_accepted_message_shows_in_counters_and_histogram():
    before = samples(scrape(2)[2])
    send(2, "metrics-one", ["bob@outside.example", "carol@outside.example"])
    after = samples(scrape(2)[2])
    check(after["smtpcluster_smtp_messages_total"]
          == before["smtpcluster_smtp_messages_total"] + 1,
          "one more message", (before, after))
    check(after["smtpcluster_accept_latency_seconds_count"]
          == before["smtpcluster_accept_latency_seconds_count"] + 1,
          "one more accept latency observation", after)
    check(after['smtpcluster_accept_latency_seconds_bucket{le="+Inf"}']
          == after["smtpcluster_accept_latency_seconds_count"],
          "+Inf bucket equals the count", after)
    # delivery is off in this cluster: the file waits, on every node
    for i in (1, 2, 3):
        wait_until(lambda: samples(scrape(i)[2]).get(
            'smtpcluster_queue_files{state="new"}', 0) >= 1, 20,
            what="node %d counts the queued file" % i)
    promtool_check(scrape(2)[2])


def test_delivery_and_snapshot_histograms_get_observations():
    # a node of its own with the symbiont on and snapshots every few
    # entries: delivering fills the delivery histogram, snapshots fill the
    # snapshot duration and size histograms
    mail = os.path.join(WORK, "mail")
    for sub in ("new", "cur", "tmp"):  # bob's Maildir makes bob a user
        os.makedirs(os.path.join(mail, "bob", sub), exist_ok=True)
    addr = "127.0.0.1:%d" % (BASE + 299)
    d = Cluster(os.path.join(WORK, "d"), n=1, base_port=BASE + 200,
                delivery={"mail_root": mail, "scan_interval_ms": 100},
                cluster_domain="cluster.test",
                extra_conf={"metrics": {"listen": addr},
                            "cluster": {"snapshot_threshold": 4,
                                        "snapshot_trailing": 2}})
    with d:
        d.start()
        d.wait_leader()
        for k in range(6):
            send(1, "histo-%d" % k, ["bob@cluster.test"], c=d)
        new = os.path.join(mail, "bob", "new")
        wait_until(lambda: os.path.isdir(new) and len(os.listdir(new)) >= 6,
                   30, what="six messages in bob's Maildir")

        def observed():
            with urllib.request.urlopen("http://%s/metrics" % addr,
                                        timeout=10) as r:
                v = samples(r.read().decode())
            return v if (v["smtpcluster_delivery_latency_seconds_count"] >= 6
                         and v["smtpcluster_snapshot_duration_seconds_count"]
                         >= 1) else None
        v = wait_until(observed, 20, what="delivery and snapshot "
                       "observations")
        check(v["smtpcluster_snapshot_size_bytes_sum"] > 0,
              "snapshot sizes are summed", v)
        check(v['smtpcluster_delivery_latency_seconds_bucket{le="+Inf"}']
              == v["smtpcluster_delivery_latency_seconds_count"],
              "+Inf bucket equals the count", v)
        with urllib.request.urlopen("http://%s/metrics" % addr,
                                    timeout=10) as r:
            promtool_check(r.read().decode())


def test_other_paths_and_methods_are_refused():
    check(scrape(1, "/")[0] == 404, "404 for /", scrape(1, "/"))
    check(scrape(1, "/metrics", "POST")[0] == 405, "405 for POST")
    check(scrape(1, "/metrics", "HEAD")[0] == 200, "HEAD is fine")


def recv_log(i):
    return os.path.join(C.dir(i), "receive.log")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


LINE = re.compile(
    r"^(\S+) (NODE\d) \[([^\]]+)\] helo=(\S+) from=<([^>]*)> to=(\S+) "
    r"size=(\d+) name=(\S+) reply=\"([^\"]*)\"$")


def test_receive_log_has_one_line_per_message():
    before = read(recv_log(3)).splitlines()
    size = send(3, "recvlog-one", ["dan@outside.example",
                                   "erin@outside.example"])
    lines = read(recv_log(3)).splitlines()
    check(len(lines) == len(before) + 1, "one more line", lines[-3:])
    m = LINE.match(lines[-1])
    check(m is not None, "the line's format", lines[-1])
    ts, node, ip, helo, sender, rcpts, n, name, reply = m.groups()
    check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", ts), "a time", ts)
    check(node == "NODE3" and ip == "127.0.0.1", "node and client",
          (node, ip))
    check(helo == "client.test", "the HELO name", helo)
    check(sender == "alice@cluster.test", "MAIL FROM", sender)
    check(rcpts == "<dan@outside.example>,<erin@outside.example>",
          "the recipients", rcpts)
    # the stored message: what was sent plus the Received: header added
    check(size < int(n) < size + 1024, "the size", (n, size))
    check(reply == "250 2.0.0 Ok: queued as %s" % name, "the reply",
          (reply, name))
    # the control file it names is in the queue (once node 3 applied it)
    wait_until(lambda: C.ctl(3, "show mail", {"user": "TCPIP$SMTP",
                                              "name": name}).get("ok"),
               10, what="show mail of %s" % name)
    for other in (1, 2):
        check("recvlog-one" not in read(recv_log(other))
              and name not in read(recv_log(other)),
              "only the receiving node logs it", other)


def test_sighup_reopens_receive_log():
    path = recv_log(3)
    os.rename(path, path + ".1")
    os.kill(C.pid(3), signal.SIGHUP)
    wait_until(lambda: os.path.exists(path), 10,
               what="receive log recreated after SIGHUP")
    send(3, "recvlog-two", ["fay@outside.example"])
    check("fay@outside.example" in read(path), "new file gets the line",
          read(path))
    check("fay@outside.example" not in read(path + ".1"),
          "the rotated file does not", read(path + ".1"))


def main():
    try:
        C.start()
        C.wait_leader()
        C.set_config(1, cluster_domain="cluster.test")
        run_tests([
            test_every_node_passes_promtool_and_one_leads,
            test_accepted_message_shows_in_counters_and_histogram,
            test_delivery_and_snapshot_histograms_get_observations,
            test_other_paths_and_methods_are_refused,
            test_receive_log_has_one_line_per_message,
            test_sighup_reopens_receive_log,
        ])
    finally:
        C.stop()
        C.cleanup()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
