"""lab-test.py — `make lab-test`'s check of the running docker-compose lab
(deploy/lab, docs/lab.md): real containers, real SMTP, real faults.

  1. mail into every node (half to Dovecot users @lab.test, half to the
     far end @far.test, found through dnsmasq's MX records);
  2. `docker kill` the leader's container, mail into the two others, then
     `docker start` it;
  3. `docker network disconnect` a follower, mail into the two others, then
     reconnect it with its address;
  4. wait (bounded) until every acknowledged message (250 at the end of
     DATA) is in Dovecot's Maildir or in the far end's record, and the
     three nodes converge: all reachable in "smtpctl cluster status", the
     same "debug snapshot-hash" (the lab runs the test daemon for that) and
     no mail left queued.
Prints sent / acknowledged / delivered (and duplicates, which at-least-once
delivery allows after a kill). Exit 0 when every check passes, 1 otherwise;
the whole run is bounded by an alarm (LAB_TEST_S, default 420 s); the
wait for delivery by LAB_DELIVER_WAIT_S (default 120 s).
Run: make lab-test (it starts the lab first and removes it after)."""

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

NET = "172.30.13"
NODES = (1, 2, 3)
NETWORK = "smtpcluster-lab"
PER_NODE = int(os.environ.get("LAB_PER_NODE", "10"))
DEADLINE_S = int(os.environ.get("LAB_TEST_S", "420"))
DELIVER_WAIT_S = int(os.environ.get("LAB_DELIVER_WAIT_S", "120"))
RUN = "%d-%d" % (os.getpid(), int(time.time()))

sent = []       # message ids tried
acked = {}      # message id -> "dovecot" or "farend" (where it must go)
failures = []


def log(*a):
    print("lab-test:", *a, flush=True)


def sh(*argv, timeout=60, check=True):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stderr.strip()))
    return r


def ctl(n, *args, timeout=20):
    """smtpctl --json ARGS in node n's container: the parsed answer, or
    None when it does not answer."""
    try:
        r = sh("docker", "exec", "lab-node%d" % n, "smtpctl", "--json",
               *args, timeout=timeout, check=False)
        return json.loads(r.stdout) if r.stdout.strip() else None
    except (subprocess.TimeoutExpired, ValueError):
        return None


def leader():
    for n in NODES:
        st = ctl(n, "cluster", "status")
        if st and st.get("leader"):
            return st["leader"]["id"]
    return None


def wait_leader(among, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in among:
            st = ctl(n, "cluster", "status")
            if st and st.get("leader") and st["leader"]["id"] in among:
                return st["leader"]["id"]
        time.sleep(0.5)
    return None


def send(node, count, phase):
    """count messages into node over SMTP; acknowledged ones remembered."""
    ok = 0
    for k in range(count):
        far = k % 2 == 1
        rcpt = ("user%d@far.test" % k) if far else (
            "alice@lab.test" if k % 4 == 0 else "bob@lab.test")
        mid = "<lab-%s-%s-n%d-%d@lab.test>" % (RUN, phase, node, k)
        body = ("From: <bob@lab.test>\r\nTo: <%s>\r\nSubject: lab %s\r\n"
                "Message-ID: %s\r\n\r\nlab test message %s\r\n"
                % (rcpt, phase, mid, mid))
        sent.append(mid)
        try:
            with smtplib.SMTP("%s.1%d" % (NET, node), 25, timeout=30) as s:
                s.sendmail("bob@lab.test", [rcpt], body.encode())
            acked[mid] = "farend" if far else "dovecot"
            ok += 1
        except (OSError, smtplib.SMTPException) as e:
            log("node%d %s #%d not acknowledged: %s" % (node, phase, k, e))
    log("phase %s: node%d acknowledged %d/%d" % (phase, node, ok, count))
    return ok


def smtp_answers(node):
    """Whether node's SMTP port greets a connection from the host."""
    try:
        with socket.create_connection(("%s.1%d" % (NET, node), 25),
                                      timeout=5) as c:
            c.settimeout(5)
            return c.recv(4).startswith(b"220")
    except OSError:
        return False


def delivered_ids():
    """Message id -> count, from Dovecot's Maildirs and the far end."""
    script = ("import glob,re,json;c={}\n"
              "for p in glob.glob('/var/mail/lab/*/*/*'):\n"
              " h=open(p,'rb').read().split(b'\\n\\n',1)[0]\n"
              " m=re.search(rb'^Message-ID:\\s*(<[^>]*>)',h,re.I|re.M)\n"
              " k=m.group(1).decode() if m else ''\n"
              " c[k]=c.get(k,0)+1\n"
              "print(json.dumps(c))")
    try:
        r = sh("docker", "exec", "lab-dovecot", "python3", "-c", script,
               timeout=30, check=False)
        dv = json.loads(r.stdout) if r.returncode == 0 else {}
        r = sh("docker", "exec", "lab-farend", "cat", "/tmp/farend.json",
               timeout=30, check=False)
        fe = json.loads(r.stdout) if r.returncode == 0 else []
    except (subprocess.TimeoutExpired, ValueError):
        return {}, {}
    far = {}
    for m in fe:
        if m.get("acked") and m.get("msgid"):
            far[m["msgid"]] = far.get(m["msgid"], 0) + 1
    return dv, far


def converged():
    """(True, hash) when all three nodes are reachable, agree on one
    snapshot hash and have nothing queued; else (False, why)."""
    hashes = {}
    for n in NODES:
        st = ctl(n, "cluster", "status")
        if not st or not st.get("leader"):
            return False, "node%d: no leader known" % n
        if not all(m.get("reachable", True) for m in st.get("members", [])):
            return False, "node%d: a member is unreachable" % n
        h = ctl(n, "debug", "snapshot-hash")
        if not h or not h.get("ok", True) or "sha256" not in h.get(
                "result", h):
            return False, "node%d: no snapshot hash: %s" % (n, h)
        hashes[n] = h.get("result", h)["sha256"]
    if len(set(hashes.values())) != 1:
        return False, "hashes differ: %s" % hashes
    for n in NODES:
        q = ctl(n, "show", "mail")
        if not q or q.get("count") != 0:
            return False, "node%d: mail still queued: %s" % (
                n, q and q.get("count"))
    return True, hashes[1]


def main():
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(
        TimeoutError("lab-test: over %d s" % DEADLINE_S)))
    signal.alarm(DEADLINE_S)
    first = wait_leader(NODES)
    if first is None:
        log("FAIL: no leader")
        return 1
    log("leader is node%d" % first)

    # 1. every node
    for n in NODES:
        if send(n, PER_NODE, "all") == 0:
            failures.append("node%d acknowledged nothing with all up" % n)

    # 2. docker kill the leader
    victim = leader() or first
    rest = [n for n in NODES if n != victim]
    log("docker kill lab-node%d (the leader)" % victim)
    sh("docker", "kill", "lab-node%d" % victim)
    st = sh("docker", "inspect", "-f", "{{.State.Running}}",
            "lab-node%d" % victim).stdout.strip()
    if st != "false":
        failures.append("lab-node%d still running after docker kill" % victim)
    nl = wait_leader(rest)
    if nl is None:
        failures.append("no new leader after killing node%d" % victim)
    else:
        log("new leader node%d" % nl)
    for n in rest:
        send(n, PER_NODE, "kill")
    log("docker start lab-node%d" % victim)
    sh("docker", "start", "lab-node%d" % victim)
    if wait_leader(NODES) is None:
        failures.append("no leader after restarting node%d" % victim)

    # 3. cut a follower off the network, then reconnect it
    ld = leader() or rest[0]
    cut = [n for n in NODES if n != ld][0]
    others = [n for n in NODES if n != cut]
    log("docker network disconnect %s lab-node%d" % (NETWORK, cut))
    sh("docker", "network", "disconnect", NETWORK, "lab-node%d" % cut)
    if smtp_answers(cut):
        failures.append("node%d still answers SMTP after the disconnect" % cut)
    for n in others:
        send(n, PER_NODE, "cut")
    log("docker network connect --ip %s.1%d %s lab-node%d"
        % (NET, cut, NETWORK, cut))
    sh("docker", "network", "connect", "--ip", "%s.1%d" % (NET, cut),
       NETWORK, "lab-node%d" % cut)

    # 4. delivered and converged
    deadline = time.monotonic() + DELIVER_WAIT_S
    missing, dups, conv = list(acked), 0, (False, "not checked")
    while time.monotonic() < deadline:
        dv, fe = delivered_ids()
        missing = [m for m, where in acked.items()
                   if m not in (dv if where == "dovecot" else fe)]
        dups = sum(c - 1 for d in (dv, fe) for m, c in d.items()
                   if m in acked and c > 1)
        if not missing:
            conv = converged()
            if conv[0]:
                break
        time.sleep(1)
    delivered = len(acked) - len(missing)
    print("lab-test: sent %d, acknowledged %d, delivered %d (duplicates %d)"
          % (len(sent), len(acked), delivered, dups), flush=True)
    if missing:
        failures.append("%d acknowledged messages not delivered after %d s,"
                        " e.g. %s" % (len(missing), DELIVER_WAIT_S,
                                      missing[:3]))
    if not conv[0]:
        failures.append("nodes did not converge: %s" % conv[1])
    else:
        log("converged: snapshot hash %s on all three nodes" % conv[1])
    if len(acked) < len(sent) // 2:
        failures.append("fewer than half the messages were acknowledged")
    for f in failures:
        log("FAIL:", f)
    if not failures:
        log("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (TimeoutError, RuntimeError, subprocess.TimeoutExpired) as e:
        log("FAIL:", e)
        sys.exit(1)
