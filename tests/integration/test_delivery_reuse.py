"""test_delivery_reuse.py — SMTP connection reuse and client PIPELINING
(issue #12) against recording far ends (recorder.py) that count their
sessions and the commands they get.

A three-node cluster (default /QUEUES, max_per_host = 2) relays everything
outside its zone to the alternate gateway given by IP: 127.0.0.41 (offers
PIPELINING), 127.0.0.42 (does not) or 127.0.0.43 (answers RSET with 421
and closes: an idle connection the far end dropped). No DNS is needed.

  - N messages to one destination use fewer than N sessions (each
    connection carries several messages, RSET between them), and each
    message arrives once;
  - a far end without PIPELINING gets them all too, on reused sessions;
  - a reused connection refused at its RSET is not an attempt: the
    message goes out at once on a new connection (not after
    /INTERVAL=INITIAL, 30 minutes).

Run: python3 tests/integration/test_delivery_reuse.py (needs build/).
About 20 seconds; every wait is bounded. IT_REUSE_BASE_PORT moves ports.
"""

import os
import shutil
import smtplib
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_tests, wait_until  # noqa: E402
from recorder import Recorder  # noqa: E402

BASE = int(os.environ.get("IT_REUSE_BASE_PORT", "29600"))
SMTP_PORT = BASE + 60
N = 40

WORK = tempfile.mkdtemp(prefix="smtpcluster-reuse-")
PIPE = Recorder(("127.0.0.41",), SMTP_PORT)
NOPIPE = Recorder(("127.0.0.42",), SMTP_PORT, pipelining=False)
STALE = Recorder(("127.0.0.43",), SMTP_PORT,
                 rset_reply="421 4.4.2 idle too long, closing")
C = Cluster(os.path.join(WORK, "c"), n=3, base_port=BASE + 100,
            delivery={"mail_root": os.path.join(WORK, "mail"),
                      "dns_servers": "127.0.0.1:%d" % (BASE + 53),
                      "smtp_port": SMTP_PORT, "scan_interval_ms": 100,
                      "grace_ms": 2000, "max_per_host": 2},
            cluster_domain="cluster.test")


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(what + ("" if detail is None
                                     else ": %r" % (detail,)))


def send_many(tag, count):
    """count messages in one SMTP session to node 1; their Message-IDs."""
    host, port = C.smtp_addr(1).rsplit(":", 1)
    s = smtplib.SMTP(host, int(port), timeout=30)
    mids = []
    try:
        for k in range(count):
            mid = "<%s-%d-%d@test.example>" % (tag, k, os.getpid())
            data = ("From: alice@cluster.test\r\nTo: x\r\nSubject: %s\r\n"
                    "Message-ID: %s\r\n\r\nbody %d\r\n" % (tag, mid, k))
            refused = s.sendmail("alice@cluster.test",
                                 ["user%d@outside.example" % k], data)
            check(not refused, "accepted", refused)
            mids.append(mid)
    finally:
        s.quit()
    return mids


def all_arrived(rec, tag, mids):
    got = rec.count_ids("<%s-" % tag)
    return len(got) == len(mids) and all(got[m] >= 1 for m in mids)


def via(gateway):
    C.set_config(1, zone="cluster.test", gateway_alternate=gateway)
    time.sleep(0.5)  # every node's next scan reads it


def test_n_messages_use_fewer_than_n_sessions():
    via("127.0.0.41")
    mids = send_many("pipe", N)
    wait_until(lambda: all_arrived(PIPE, "pipe", mids), 60,
               what="%d messages at the far end" % N)
    got = PIPE.count_ids("<pipe-")
    check(all(got[m] == 1 for m in mids), "each message once",
          [m for m in mids if got[m] != 1])
    with PIPE.lock:
        sessions, cmds = PIPE.sessions, dict(PIPE.commands)
    print("  %d messages, %d sessions, commands %s" % (N, sessions, cmds))
    # without reuse every message is a session of its own
    check(sessions < N // 2, "fewer sessions than messages",
          (sessions, N, cmds))
    check(cmds.get("RSET", 0) >= N - sessions, "RSET between messages",
          cmds)
    check(cmds.get("EHLO", 0) == sessions, "one EHLO per session", cmds)


def test_far_end_without_pipelining_still_works():
    via("127.0.0.42")
    mids = send_many("nopipe", N)
    wait_until(lambda: all_arrived(NOPIPE, "nopipe", mids), 60,
               what="%d messages at the far end without PIPELINING" % N)
    with NOPIPE.lock:
        sessions, cmds = NOPIPE.sessions, dict(NOPIPE.commands)
    print("  %d messages, %d sessions, commands %s" % (N, sessions, cmds))
    check(sessions < N // 2, "reused without PIPELINING too",
          (sessions, cmds))


def test_stale_cached_connection_is_not_an_attempt():
    via("127.0.0.43")
    # one node delivers both, so that the second finds the first's
    # connection in that node's cache
    for i in (2, 3):
        C.ctl(i, "stop mail", {"node": i})
    first = send_many("stale1", 1)
    wait_until(lambda: all_arrived(STALE, "stale1", first), 30,
               what="the first message")
    # the next message finds the idle connection; its RSET is refused
    second = send_many("stale2", 1)
    wait_until(lambda: all_arrived(STALE, "stale2", second), 20,
               what="the second message on a new connection (not "
               "deferred by the stale one)")
    with STALE.lock:
        cmds = dict(STALE.commands)
    check(cmds.get("RSET", 0) >= 1, "the cached connection was tried", cmds)
    for i in (2, 3):
        C.ctl(i, "start mail", {"node": i})


def main():
    ok = False
    try:
        for r in (PIPE, NOPIPE, STALE):
            r.start()
        C.start()
        C.wait_leader()
        run_tests([
            test_n_messages_use_fewer_than_n_sessions,
            test_far_end_without_pipelining_still_works,
            test_stale_cached_connection_is_not_an_attempt,
        ])
        ok = True
    except SystemExit as e:
        ok = e.code == 0
        raise
    finally:
        C.stop()
        for r in (PIPE, NOPIPE, STALE):
            r.stop()
        if ok and not os.environ.get("SMTPCLUSTER_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("test_delivery_reuse: logs kept in %s" % WORK)


if __name__ == "__main__":
    main()
