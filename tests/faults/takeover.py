#!/usr/bin/env python3
"""takeover.py — a measurement, not a test (docs/faults.md "Takeover after
kill -9"): how long after kill -9 of a node with deliveries in flight
until every queued file is delivered, with the daemon's default lease
(7 s), grace (2 s) and scan (500 ms). Three loopback nodes; the far end
(tests/integration/recorder.py on 127.0.0.60) answers each final dot after
HOLD s (0.5), so the victim holds claims when it dies; /QUEUES=4. N (12)
messages are queued with every node's mail stopped; the victim's mail is
started first, and once it holds a live claim the others' mail is started
and the victim is killed. Prints per round: kill -> queue empty, the
claims taken over after their lease, and whether the survivors logged the
victim as gone (its share taken without the grace period).

Run under the integration lock:
    flock /tmp/smtpcluster-integration.lock python3 tests/faults/takeover.py
ROUNDS, HOLD, N in the environment change the defaults."""
import os
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from cluster import Cluster, wait_until  # noqa: E402
from recorder import Recorder  # noqa: E402

HOLD = float(os.environ.get("HOLD", "0.5"))
N = int(os.environ.get("N", "12"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
FAR_IP, FAR_PORT = "127.0.0.60", 29625


def one_round(rec, rnd):
    with Cluster(n=3, base_port=29000 + rnd * 100,
                 delivery={"smtp_port": FAR_PORT},
                 cluster_domain="cluster.test") as c:
        c.start()
        ld = c.wait_leader()
        c.set_config(ld, zone="cluster.test", gateway_alternate=FAR_IP,
                     queues=4)
        victim = [i for i in c.members if i != ld][0]

        def nctl(cmd, i):
            deadline = time.monotonic() + 20
            while True:
                r = c.ctl(ld, cmd, {"node": i})
                if r.get("ok") or time.monotonic() > deadline:
                    return r
                time.sleep(0.2)

        def victim_claimed(e):
            cl = e.get("claim") or {}
            return cl.get("node") == victim and cl.get("live")

        def victim_holds():
            r = c.ctl(ld, "show mail", {})
            return r.get("ok") and any(
                victim_claimed(e) for e in r["result"]["entries"])

        def empty():
            r = c.ctl(ld, "show mail", {})
            return r.get("ok") and r["result"]["count"] == 0

        for i in c.members:
            nctl("stop mail", i)
        tag = "<m%d-%d-" % (rnd, os.getpid())
        host, port = c.smtp_addr(ld).rsplit(":", 1)
        s = smtplib.SMTP(host, int(port), timeout=30)
        for k in range(N):
            s.sendmail("a@client.test", ["u%d@far.test" % k],
                       "Message-ID: %s%d@x>\r\nSubject: t\r\n\r\nx\r\n"
                       % (tag, k))
        s.quit()
        nctl("start mail", victim)
        wait_until(victim_holds, 10, interval=0.02, what="victim claims")
        for i in c.members:
            if i != victim:
                nctl("start mail", i)
        t_kill = time.monotonic()
        c.kill(victim, signal.SIGKILL)
        wait_until(empty, 90, interval=0.1, what="an empty queue")
        took = time.monotonic() - t_kill
        logs = "".join(c.log(i) for i in c.members if i != victim)
        print("round %d: kill -9 of node %d -> queue empty %.1f s (%d "
              "claims taken over after their lease, gone logged: %s)"
              % (rnd, victim, took, logs.count("taken over"),
                 "node %d is gone" % victim in logs), flush=True)
        return took


def main():
    rec = Recorder([FAR_IP], FAR_PORT, hold_dot=HOLD)
    rec.start()
    try:
        res = [one_round(rec, rnd) for rnd in range(ROUNDS)]
    finally:
        rec.stop()
    print("kill -> queue empty: max %.1f s, mean %.1f s over %d rounds "
          "(far end %.1f s per message)"
          % (max(res), sum(res) / len(res), len(res), HOLD))


if __name__ == "__main__":
    main()
