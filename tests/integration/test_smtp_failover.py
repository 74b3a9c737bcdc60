#!/usr/bin/env python3
"""test_smtp_failover.py — the receiver's durability promise under a
leader crash: 20 SMTP clients send to the two followers while the leader
is killed with SIGKILL. Every message that got "250 ... queued as NAME" is
a control file (with its body) in the spool of every surviving node after
the new leader takes over, and of the restarted node once it caught up;
every message that did not get 250 got a 4xx — never a 5xx, never a
dropped connection, never silence.

Run: python3 tests/integration/test_smtp_failover.py (uses
build/smtpclusterd, or $SMTPCLUSTERD). Prints "N passed, N failed"."""

import os
import signal
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_tests, wait_until  # noqa: E402
from test_smtp_receiver import (queued_name, require_smtp,  # noqa: E402
                                spool_table)

BASE = int(os.environ.get("IT_SMTP_FAILOVER_BASE_PORT", "28300"))
CLIENTS = 20
PER_CLIENT = 12


def test_leader_kill_while_20_clients_send_loses_no_250():
    with Cluster(n=3, base_port=BASE) as c:
        c.start()
        old = c.wait_leader()
        require_smtp(c)
        followers = [i for i in (1, 2, 3) if i != old]
        lock = threading.Lock()
        acked = {}      # token -> control-file name
        tempfail = []   # (token, code, text)
        bad = []        # (token, what)
        enough = threading.Event()

        def client(k):
            node = followers[k % 2]
            host, port = c.smtp_addr(node).split(":")
            for j in range(PER_CLIENT):
                token = "tok-%d-%d" % (k, j)
                try:
                    s = smtplib.SMTP(host, int(port), timeout=90,
                                     local_hostname="c%d.test" % k)
                    assert s.ehlo()[0] == 250
                    assert s.mail("c%d@client.test" % k)[0] == 250
                    assert s.rcpt("u%d@node%d.cluster.test"
                                  % (k, node))[0] == 250
                    code, text = s.data(b"Subject: %s\r\n\r\n%s\r\n"
                                        % (token.encode(), token.encode()))
                    s.quit()
                except Exception as e:  # noqa: BLE001 (recorded)
                    with lock:
                        bad.append((token, repr(e)))
                    continue
                with lock:
                    if code == 250:
                        acked[token] = queued_name(text.decode())
                    elif 400 <= code < 500:
                        tempfail.append((token, code, text))
                    else:
                        bad.append((token, "%d %r" % (code, text)))
                    if len(acked) >= 40:
                        enough.set()

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(CLIENTS)]
        for t in threads:
            t.start()
        assert enough.wait(60), ("the clients did not get going", bad[:3])
        c.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        for t in threads:
            t.join(180)
        assert not any(t.is_alive() for t in threads), "clients hung"
        assert not bad, bad[:5]
        assert len(acked) + len(tempfail) == CLIENTS * PER_CLIENT
        new = c.wait_leader(nodes=followers)
        assert new != old
        print("  %d acknowledged, %d 4xx; leader %d -> %d in %.1fs" % (
            len(acked), len(tempfail), old, new,
            time.monotonic() - killed_at))

        def holds_all(i):
            ctl = spool_table(c, i, "ctl")
            body = spool_table(c, i, "body")
            if ctl is None or body is None:
                return False
            for token, name in acked.items():
                if name.encode() not in ctl:
                    return False
                if not body.get(name.encode(), b"").endswith(
                        token.encode() + b"\r\n"):
                    return False
            return True

        for i in followers:
            wait_until(lambda: holds_all(i), timeout=30,
                       what="every acknowledged message on node %d" % i)
        c.start_node(old)
        wait_until(lambda: holds_all(old), timeout=60,
                   what="every acknowledged message on the restarted "
                   "node %d" % old)


if __name__ == "__main__":
    run_tests([test_leader_kill_while_20_clients_send_loses_no_250])
