"""faults.py — the fault harness (issue #10): a three-node cluster, each node
in its own network namespace (netlab.py), concurrent SMTP clients on every
node, a recording far end and a local Maildir, one fault per round, and a
checker of the promises in DESIGN.md "Failure behaviour".

    python3 tests/faults/faults.py [--rounds N] [--short]
                                   [--inject lost,dup,live2] [SCENARIO ...]

A run is ROUNDS rounds of every scenario, round-major. One scenario's
round: a cluster (SHARED: the network, pause and restart scenarios run
one after another on one cluster a round, the two full-disk ones on
another, with a tmpfs per data_dir, each replaced after a failed round;
skew starts its own, one node under libfaketime: PREPARE); the workload
runs from TIMES_* "pre" seconds before the fault to "post" seconds after
the heal; the fault lasts TIMES_* "fault" seconds (the lease + 1 s in
the full version), or until a scenario's own condition says it has done
its work (slow-dot, fulldisk-*), or as the scenario sets it
(rolling-restart); then the harness waits (at most "settle") until
every acknowledged message is delivered, and checks (in the node logs
and activity logs only what the round added):
  lost         acknowledged (250 after DATA) but never delivered
  dup ok/bad   Message-IDs delivered more than once, explained (a node
               logged "possible duplicate delivery of NAME" for that control
               file) or not
  converged    every node's spool image hash and applied count equal
  double live  control files on which two nodes held live leases at once:
               from the activity logs, an outcome a node recorded under
               its lease (lease=held) with fence F later than another
               node's outcome under fence F' > F (the older holder still
               believed its lease live after the newer one had acted; the
               nodes share one wall clock here, and the lines of a node
               the harness skewed are taken back by its skew)
  takeover     the longest any acknowledged message waited for delivery
               after the fault began (or after its 250, if later)
A round fails on a lost message, an unexplained duplicate, a double live
claim, a node that crashed (exited without being told to), spools that
did not converge, or a check of the scenario's own (slow-dot, skew,
fulldisk-*: see each). --inject spoils what a round collected (the
checker's own test: every round must then fail).
Prints one line a round (with the seconds of its phases) and one table:
scenario, rounds, acknowledged, lost, duplicates explained/unexplained,
double live claims, failed rounds, worst takeover, time a round (mean
and max). A round whose takeover exceeds TAKEOVER_MAX_S keeps its logs.
Exits 1 if any round failed. Needs root (network namespaces); without it: SKIP, or a failure
when CI=true. Every wait is bounded; namespaces and mounts are removed at
the end, also after an error or SIGTERM/SIGINT (and leftovers of a killed
run when the next one starts).
"""

import argparse
import glob
import os
import re
import signal
import smtplib
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import cluster as clusterlib  # noqa: E402
from cluster import Cluster, ClusterError, wait_until  # noqa: E402
from recorder import Recorder  # noqa: E402
import netlab  # noqa: E402
import disklab  # noqa: E402

FAR_PORT = 2526
SMTP_PORT = 2525
RAFT_PORT = 7001
# the daemon's defaults unless set (lease 7 s, grace 2 s)
LEASE_MS = os.environ.get("FAULTS_LEASE_MS")
GRACE_MS = os.environ.get("FAULTS_GRACE_MS")


class NetCluster(Cluster):
    """Cluster whose node i runs in namespace scf-ni at 10.231.0.i."""

    def __init__(self, workdir, lab, mail_root, **kw):
        self.lab = lab
        self.mail_root = mail_root
        self.wrap = {}  # node id -> extra argv before the daemon (faketime)
        super().__init__(workdir, n=lab.n, delivery=self._delivery,
                         cluster_domain="cluster.test",
                         smtp={"trusted": netlab.HOST_IP + "/32"}, **kw)

    def _delivery(self, i):
        d = {"mail_root": self.mail_root, "smtp_port": FAR_PORT,
             "scan_interval_ms": 100, "max_per_host": 20,
             "activity_log": self.activity_log_path(i)}
        if LEASE_MS:
            d["lease_ms"] = int(LEASE_MS)
        if GRACE_MS:
            d["grace_ms"] = int(GRACE_MS)
        return d

    def host(self, i):
        return netlab.addr(i)

    def raft_addr(self, i):
        return "%s:%d" % (self.host(i), RAFT_PORT)

    def peer_addr(self, i):
        return "%s:%d" % (self.host(i), RAFT_PORT + 1)

    def smtp_addr(self, i):
        return "%s:%d" % (self.host(i), SMTP_PORT)

    def launcher(self, i):
        return self.lab.exec_prefix(i) + self.wrap.get(i, [])


# ---- the workload ----

class Workload:
    """SMTP clients from the host side, one thread per client, each sending
    to the nodes in turn until stop() or its count is reached. Every
    message has a unique Message-ID; remote and local recipients
    alternate; each client sends one message every `pace` seconds, so the
    load spans the whole round. self.acked: Message-ID -> time of its
    250; self.acked_on: Message-ID -> the node that sent it; self.errors:
    (time, node, what) of every attempt that failed ("452 4.3.1 ..." for
    a reply, the exception's name for a lost connection)."""

    def __init__(self, cluster, tag, clients=6, per_client=2000, pace=0.1):
        self.c = cluster
        self.tag = tag
        self.clients = clients
        self.per_client = per_client  # a bound; stop() ends it sooner
        self.pace = pace  # seconds between one client's messages
        self.acked = {}
        self.acked_on = {}
        self.errors = []
        self.refused = 0
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = []

    def _client(self, k):
        nodes = self.c.members
        sess = {}
        for j in range(self.per_client):
            if self.halt.is_set():
                break
            node = nodes[(k + j) % len(nodes)]
            mid = "<%s-%d-%d@faults.test>" % (self.tag, k, j)
            rcpt = ("u%d@far.test" % k) if j % 2 == 0 else "alice@cluster.test"
            msg = ("From: <w%d@faults.test>\r\nTo: <%s>\r\nMessage-ID: %s\r\n"
                   "Subject: fault %s\r\n\r\nbody %d\r\n" % (k, rcpt, mid,
                                                            self.tag, j))
            try:
                s = sess.get(node)
                if s is None:
                    host, port = self.c.smtp_addr(node).rsplit(":", 1)
                    s = smtplib.SMTP(host, int(port), timeout=20)
                    s.ehlo("client%d.faults.test" % k)
                    sess[node] = s
                s.sendmail("w%d@faults.test" % k, [rcpt], msg)
                with self.lock:
                    self.acked[mid] = time.time()
                    self.acked_on[mid] = node
            except (smtplib.SMTPException, OSError) as e:
                with self.lock:
                    self.refused += 1
                    self.errors.append((time.time(), node, failure(e)))
                s = sess.pop(node, None)
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
                time.sleep(0.2)
            time.sleep(self.pace)
        for s in sess.values():
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def start(self):
        self.threads = [threading.Thread(target=self._client, args=(k,),
                                         daemon=True)
                        for k in range(self.clients)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(60)


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def failure(e):
    """What a failed attempt got: "CODE TEXT" for a reply, else the
    exception's name."""
    if isinstance(e, smtplib.SMTPRecipientsRefused) and e.recipients:
        code, text = next(iter(e.recipients.values()))
    elif isinstance(e, smtplib.SMTPResponseException):
        code, text = e.smtp_code, e.smtp_error
    else:
        return type(e).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "%d %s" % (code, text)


def is_452_full(what):
    return what.startswith("452 ") and "4.3.1" in what


# ---- what arrived ----

MID_RE = re.compile(rb"^Message-ID:\s*(<[^>]*>)", re.I | re.M)
CTL_RE = re.compile(rb"\bid (\S+?)[;\s]")


ACT_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) (\S+) (\S+): "
                    r".*, fence=(\d+), lease=(held|lost)$")


def act_time(ts):
    """Seconds since the epoch of an activity log time stamp."""
    import calendar
    base, frac = ts.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + \
        float("0." + frac)


def double_live(paths, shifts=None, since=None):
    """(control files on which two nodes acted under live leases at once
    (see the module docstring), outcome lines read after since[path]
    bytes (a shared cluster's earlier rounds; all of every log is
    judged)) from the activity logs at paths; shifts[k] seconds are taken
    off the time stamps of paths[k] (a node whose wall clock the harness
    skewed)."""
    by_file, nlines = {}, 0
    for k, p in enumerate(paths):
        shift = shifts[k] if shifts else 0
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            continue
        skip = (since or {}).get(p, 0)
        old = data[:skip].count(b"\n")
        for n, line in enumerate(data.decode("utf-8", "replace")
                                 .splitlines()):
            m = ACT_RE.match(line)
            nlines += m is not None and n >= old
            if m and m.group(5) == "held":
                by_file.setdefault(m.group(3), []).append(
                    (act_time(m.group(1)) - shift, m.group(2),
                     int(m.group(4))))
    bad = []
    for ctl, acts in by_file.items():
        if any(a[1] != b[1] and a[2] < b[2] and a[0] > b[0]
               for a in acts for b in acts):
            bad.append(ctl)
    return sorted(bad), nlines


def delivered(recorder, mail_root, tag):
    """Message-ID -> list of (time, control-file name, via) for every copy
    at the far end or in alice's Maildir."""
    out = {}
    with recorder.lock:
        msgs = list(recorder.msgs)
    for m in msgs:
        # a copy whose sender gave up before the 250 was not accepted
        if m["msgid"] and tag in m["msgid"] and m.get("acked", True):
            out.setdefault(m["msgid"], []).append((m["t"], m["ctl"],
                                                   m["peer"]))
    for p in glob.glob(os.path.join(mail_root, "alice", "new", "*")):
        try:
            with open(p, "rb") as f:
                data = f.read(8192)
            t = os.path.getmtime(p)
        except OSError:
            continue
        mm = MID_RE.search(data)
        if not mm or tag.encode() not in mm.group(1):
            continue
        q = CTL_RE.search(data)
        out.setdefault(mm.group(1).decode(), []).append(
            (t, q.group(1).decode() if q else None, "maildir"))
    return out


# ---- scenarios: each returns heal(), called FAULT_S seconds later ----

def leader_of(ctx):
    return ctx.c.wait_leader(timeout=30)


def s_partition_leader(ctx):
    ld = leader_of(ctx)
    ctx.lab.partition([ld], [i for i in ctx.c.members if i != ld])
    ctx.victim = ld
    return ctx.lab.heal


def s_isolate_follower(ctx):
    ld = leader_of(ctx)
    f = [i for i in ctx.c.members if i != ld][0]
    ctx.lab.partition([f], [i for i in ctx.c.members if i != f])
    ctx.victim = f
    return ctx.lab.heal


def s_asymmetric(ctx):
    """The leader's packets to one follower are dropped; that follower's
    to the leader pass."""
    ld = leader_of(ctx)
    f = [i for i in ctx.c.members if i != ld][0]
    ctx.lab.cut(ld, f)
    ctx.victim = f
    return ctx.lab.heal


def s_bridge(ctx):
    """Two nodes cannot talk; the third (the bridge) talks to both."""
    ld = leader_of(ctx)
    others = [i for i in ctx.c.members if i != ld]
    ctx.lab.partition([ld], [others[0]])
    ctx.victim = ld
    return ctx.lab.heal


def _stop(ctx, node):
    os.kill(ctx.c.pid(node), signal.SIGSTOP)
    ctx.victim = node

    def heal():
        os.kill(ctx.c.pid(node), signal.SIGCONT)
    return heal


def s_pause_leader(ctx):
    return _stop(ctx, leader_of(ctx))


def s_pause_follower(ctx):
    ld = leader_of(ctx)
    return _stop(ctx, [i for i in ctx.c.members if i != ld][0])


def s_kill_restart(ctx):
    ld = leader_of(ctx)
    ctx.c.kill(ld, signal.SIGKILL)
    ctx.victim = ld

    def heal():
        ctx.c.start_node(ld, timeout=30)
    return heal


def s_rolling_restart(ctx):
    """SIGTERM and restart every node in turn, under load; the heal is a
    no-op (the restarts happen here), due at once after the last."""
    for i in ctx.c.members:
        ctx.c.kill(i, signal.SIGTERM, timeout=30)
        time.sleep(0.5)
        ctx.c.start_node(i, timeout=30)
        ctx.c.wait_leader(timeout=30)
    ctx.fault_until = time.monotonic()
    return lambda: None


def held_messages(ctx, n=1, nodes=None):
    """n messages, each to its own holddot-* address (the far end holds
    its reply to the first final dot for each Recorder.HOLD_S), sent
    through nodes (default: every member) in turn and counted as
    acknowledged;
    waits until every delivery is held. Returns a list of (Message-ID,
    the far end's record of the held copy, the node that holds it)."""
    mids = []
    for k in range(n):
        tag = ctx.tag + "-held" + (str(k) if k else "")
        mid = "<%s@faults.test>" % tag
        rcpt = "holddot-%s@far.test" % tag
        nodes = nodes or ctx.c.members
        node = nodes[k % len(nodes)]
        host, port = ctx.c.smtp_addr(node).rsplit(":", 1)
        msg = ("From: <h@faults.test>\r\nTo: <%s>\r\nMessage-ID: %s\r\n"
               "Subject: held dot\r\n\r\nheld\r\n" % (rcpt, mid))
        with smtplib.SMTP(host, int(port), timeout=20) as s:
            s.sendmail("h@faults.test", [rcpt], msg)
        ctx.extra_acked[mid] = time.time()
        mids.append(mid)
    out = []
    for mid in mids:
        def held(mid=mid):
            return [m for m in ctx.recorder.find(mid) if m.get("held")]
        first = wait_until(held, 20, interval=0.05,
                           what="the held final dot at the far end")[0]
        holder = [i for i in ctx.c.members
                  if netlab.addr(i) == first["peer"]]
        if not holder:
            raise RuntimeError("held dot from %s, not a node"
                               % first["peer"])
        out.append((mid, first, holder[0]))
    return out


SLOW_DOT_CUT_S = 14  # the longest slow-dot's holder is cut off


def s_slow_dot(ctx):
    """Defect 1 of issue #10: a far end holds its reply to the final dot
    (Recorder.HOLD_S, 25 s) past the lease while the holder is cut off
    from both peers. The majority takes the file over after the lease;
    the holder must abort on its own clock (close the connection before
    the 250), so the far end accepts one copy, not two."""
    mid, first, h = held_messages(ctx)[0]
    ctx.lab.partition([h], [i for i in ctx.c.members if i != h])
    ctx.victim = h

    def check(res, logs):
        # the holder's copy is settled once its hold ended: accepted
        # (250 sent) or given up by the client
        def settled():
            c = ctx.recorder.find(mid)
            return c if all(m.get("acked") or m.get("gave_up")
                            for m in c) else None
        left = first["t"] + Recorder.HOLD_S + 5 - time.time()
        try:
            copies = wait_until(settled, max(1.0, left), interval=0.2,
                                what="the held copy settled")
        except ClusterError:
            copies = ctx.recorder.find(mid)
        acked = [m for m in copies if m.get("acked")]
        if len(acked) != 1:
            res["why"].append("held message accepted %d times at the far "
                              "end (copies: %s)" % (len(acked), [
                                  (m["peer"], m.get("acked"),
                                   m.get("gave_up")) for m in copies]))
        if "lease expired locally, aborting" not in ctx.rlog(h):
            res["why"].append("node %d did not abort on its lease" % h)
    ctx.check = check

    def taken_over():
        """The majority's copy accepted at the far end and the holder
        aborted on its own lease: what the cut-off is for."""
        return "lease expired locally, aborting" in ctx.rlog(h) and any(
            m.get("acked") and m["peer"] != first["peer"]
            for m in ctx.recorder.find(mid))
    # cut off until the majority took it over after lease + grace while
    # the holder still waits for the held reply (at most SLOW_DOT_CUT_S:
    # a holder that never aborts is still cut off past the majority's
    # copy, as before)
    ctx.fault_until = time.monotonic() + SLOW_DOT_CUT_S
    ctx.heal_when = taken_over
    return ctx.lab.heal


# ---- clock skew (issue #10 defect 3) ----

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SKEW_S = 300  # the skewed node's wall clock is this far ahead
SKEWED = 3    # the node that runs under libfaketime
HELD_N = 4    # deliveries holding their leases when leadership moves
HOLD_AFTER_S = 3.0  # their holds end this long after the move back (a
                    # renewal through the correct leader again)
STAMP_SLACK_S = 5  # a stamp this far from the host's clock is a jump
SHARE_MAX = 0.6    # of the outcomes, at most, by the skewed node (1/3 due)


def transfer(c, to, timeout=30):
    """Leadership moved to node `to` ("cluster transfer", retried until
    it is accepted), and every live node agrees it leads."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = c.ctl(to, "cluster transfer", {"id": to}, timeout=15)
        except (OSError, ValueError) as e:
            r = {"error": str(e)}
        if r.get("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    def leads():
        try:
            return c.wait_leader(timeout=5) == to
        except ClusterError:
            return False
    wait_until(leads, max(1.0, deadline - time.monotonic()), interval=0.2,
               what="node %d leading (transfer: %s)" % (to, r))


def stamp_probe(ctx, label):
    """How far ahead of the host's clock the cluster stamped a message
    queued now: one message to an always451-* address (never delivered,
    so it stays in the spool) through node 1, its "created" read back
    with "show mail". Returns seconds outside the host's clock while the
    message was sent (positive: ahead of its 250, negative: before its
    MAIL; 0 in between)."""
    c = ctx.c
    rcpt = "always451-%s-%s@far.test" % (ctx.tag, label)
    host, port = c.smtp_addr(c.members[0]).rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=20) as s:
        t_sent = time.time()
        s.sendmail("p@faults.test", [rcpt], "Subject: stamp probe\r\n"
                   "\r\nprobe\r\n")
        t_done = time.time()

    def created():
        r = c.ctl(c.members[0], "show mail", {}, timeout=10)
        for e in (r.get("result") or {}).get("entries", []):
            if rcpt in str(e):
                return e["created"]
        return None
    t = wait_until(created, 20, interval=0.2,
                   what="the stamp probe " + rcpt) / 1000.0
    return t - t_sent if t < t_sent else max(0.0, t - t_done)


def p_skew(ctx):
    """Node SKEWED runs with its wall clock SKEW_S ahead (libfaketime;
    the monotonic clock untouched), started after nodes 1 and 2 have
    elected a leader: cluster time is set by a correct clock first (a
    fresh cluster takes its first leader's clock as it is)."""
    if not os.path.exists(FAKETIME_LIB):
        raise RuntimeError("libfaketime is not installed (%s)"
                           % FAKETIME_LIB)
    c = ctx.c
    c.wrap[SKEWED] = ["env", "LD_PRELOAD=" + FAKETIME_LIB,
                      "FAKETIME=+%ds" % SKEW_S,
                      "FAKETIME_DONT_FAKE_MONOTONIC=1"]
    ctx.shift[SKEWED] = SKEW_S

    def start():
        others = [i for i in c.members if i != SKEWED]
        for i in c.members:
            c.write_conf(i)
        for i in others:
            c.start_node(i, wait=False)
        for i in others:
            c.wait_socket(i, 30)
        ld = c.wait_leader(timeout=45, nodes=others)
        # deliveries held by correct nodes before the skewed one starts
        # (once it runs, its clock makes every file look past its grace
        # to it, and it claims nearly everything itself)
        c.set_config(ld, zone="cluster.test",
                     gateway_alternate=netlab.HOST_IP)
        ctx.held = held_messages(ctx, HELD_N, others)
        c.start_node(SKEWED, timeout=30)
    ctx.start = start


def s_skew(ctx):
    """Leadership moves to the skewed node mid-load, while HELD_N
    deliveries by correct nodes hold their leases (holddot messages, sent
    by p_skew: the far end holds the final-dot reply Recorder.HOLD_S, the
    holder renews); at the heal leadership moves back to node 1. A stamp
    probe (stamp_probe) is queued after each move. Fails also unless:
    - each held message was accepted exactly once at the far end (a
      leader that judged the live lease by its own clock would grant it
      again: a second copy);
    - no outcome anywhere was written under a lost lease (nothing is cut
      off, so a lease lost means a leader ended a live one early);
    - both probes were stamped within STAMP_SLACK_S of the host's clock;
    - the skewed node wrote at most SHARE_MAX of the outcomes (it takes
      its share, not every file as soon as its own clock says it is due
      and past the other nodes' grace);
    - the skewed node stamped while leading (it logged "off cluster
      time": the skew was in effect);
    - every message acknowledged after the move back was delivered."""
    c = ctx.c
    held = ctx.held
    transfer(c, SKEWED)
    ctx.victim = SKEWED
    ctx.t_back = None
    ahead = {"during": stamp_probe(ctx, "during")}

    def heal():
        transfer(c, c.members[0])
        ctx.t_back = time.time()
        ahead["after"] = stamp_probe(ctx, "after")
        # the holds have spanned the skewed lead and the move back (a
        # leader that ended them early would have granted them again by
        # now); they end HOLD_AFTER_S later, not all of HOLD_S
        ctx.recorder.release_holds(HOLD_AFTER_S)

    def check(res, logs):
        # every held copy settled (accepted after its hold, or given up
        # by its client) before the copies are counted
        def settled():
            return all(m.get("acked") or m.get("gave_up")
                       for mid, _, _ in held
                       for m in ctx.recorder.find(mid))
        left = max(f["t"] for _, f, _ in held) + Recorder.HOLD_S + 5 - \
            time.time()
        try:
            wait_until(settled, max(1.0, left), interval=0.2,
                       what="the held copies settled")
        except ClusterError:
            pass
        for mid, _, holder in held:
            copies = [m for m in ctx.recorder.find(mid) if m.get("acked")]
            if len(copies) != 1:
                res["why"].append("held message %s (held by node %d) "
                                  "accepted %d times at the far end: %s"
                                  % (mid, holder, len(copies),
                                     [m["peer"] for m in copies]))
        print("faults: skew: held deliveries by nodes %s while node %d "
              "led; stamps %s s ahead" % (
                  sorted(h for _, _, h in held), SKEWED,
                  ", ".join("%s %+.1f" % kv for kv in sorted(
                      ahead.items()))), flush=True)
        for k, v in sorted(ahead.items()):
            if abs(v) > STAMP_SLACK_S:
                res["why"].append("a message queued %s the skewed lead "
                                  "was stamped %+.0f s from now" % (k, v))
        # nothing is cut off here: a holder that renews never loses its
        # lease unless a leader ended it early on its own clock
        lost = [ln for i in c.members
                for ln in read_lines(c.activity_log_path(i))
                if ln.endswith("lease=lost")]
        if lost:
            res["why"].append("%d outcome(s) under a lease ended early "
                              "(lease=lost): %s" % (len(lost),
                                                    lost[0][:300]))
        # placement: each node takes the files it prefers at once and the
        # others' after their grace; a node that judged due times and
        # grace by its own clock would see every file past its grace and
        # take nearly all (70-85 % in the first runs)
        outcomes = {i: sum(1 for ln in read_lines(c.activity_log_path(i))
                           if ACT_RE.match(ln)) for i in c.members}
        total = sum(outcomes.values())
        if total and outcomes[SKEWED] > SHARE_MAX * total:
            res["why"].append("node %d delivered %d of %d outcomes: it "
                              "takes other nodes' share (due times and "
                              "grace judged by its own clock)"
                              % (SKEWED, outcomes[SKEWED], total))
        if "off cluster time" not in ctx.rlog(SKEWED):
            res["why"].append("node %d never stamped off cluster time: "
                              "the skew did not apply" % SKEWED)
        if ctx.t_back is None:
            return
        after = [m for m, t in ctx.acked.items() if t > ctx.t_back]
        late = [m for m in after if m not in ctx.delivered]
        if not after:
            res["why"].append("nothing acknowledged after leadership "
                              "moved back")
        elif late:
            res["why"].append("%d of %d messages queued after leadership "
                              "moved back not delivered (stamp ahead?): "
                              "%s" % (len(late), len(after), late[:3]))
    ctx.check = check
    return heal


# ---- full disk (issue #10 defect 7) ----

DISK_MB = 64     # each data_dir's tmpfs
RESERVE_MB = 20  # [node] min_free_mb
LEAVE_MB = 12    # free space the ballast leaves: under the reserve
BACKLOG_N = 3    # messages deferred once, retried while the disk is full
RETRY_MS = 2000  # /INTERVAL INITIAL for them
FULL_MIN_S = 3.0  # the disks stay full at least this long


def p_fulldisk(ctx):
    """Each node's data_dir on its own DISK_MB tmpfs, a reserve of
    RESERVE_MB."""
    ctx.c.extra_conf = {"node": {"min_free_mb": RESERVE_MB}}
    for i in ctx.c.members:
        disklab.mount(ctx.c.dir(i), DISK_MB)
        ctx.mounts.append(ctx.c.dir(i))


def deferred_messages(ctx, n):
    """n messages, each to its own flaky-* address (the far end answers
    451 to its first try), sent through the nodes in turn; waits until
    each was deferred once. Returns their Message-IDs."""
    c = ctx.c
    out = []
    for k in range(n):
        tag = "%s-backlog%d" % (ctx.tag, k)
        mid = "<%s@faults.test>" % tag
        rcpt = "flaky-%s@far.test" % tag
        node = c.members[k % len(c.members)]
        host, port = c.smtp_addr(node).rsplit(":", 1)
        msg = ("From: <b@faults.test>\r\nTo: <%s>\r\nMessage-ID: %s\r\n"
               "Subject: backlog\r\n\r\nbacklog\r\n" % (rcpt, mid))
        with smtplib.SMTP(host, int(port), timeout=20) as s:
            s.sendmail("b@faults.test", [rcpt], msg)
        ctx.extra_acked[mid] = time.time()
        out.append((mid, rcpt))
    for mid, rcpt in out:
        wait_until(lambda r=rcpt: ctx.recorder.seen_rcpt[r.lower()] >= 1,
                   20, interval=0.05, what="the first try of " + rcpt)
    return [mid for mid, _ in out]


def _fulldisk(ctx, nodes):
    """BACKLOG_N messages deferred once by the far end (retried
    RETRY_MS later, so while the disks are full); then ballast files fill
    the data_dirs of nodes to LEAVE_MB free (under the reserve) while the
    load runs; the heal removes them. Fails also unless each full node
    answered 452 4.3.1, logged that it is below its reserve, and took mail
    again after the space returned; unless the deferred messages were
    delivered while the disks were full (delivery goes on, the spool
    drains); and unless every refusal anywhere during the round was a 452
    4.3.1 (no lost connection, no other code: the node neither crashed
    nor failed in another way)."""
    c = ctx.c
    c.set_config(leader_of(ctx), interval_initial=RETRY_MS)
    backlog = deferred_messages(ctx, BACKLOG_N)
    t_fill = time.time()
    for i in nodes:
        disklab.fill(c.dir(i), LEAVE_MB << 20)
    ctx.victim = nodes[0]
    ctx.t_space = None

    def heal():
        for i in nodes:
            disklab.unfill(c.dir(i))
        ctx.t_space = time.time()

    def seen_full():
        """Each full node refused with 452 4.3.1 and logged its reserve,
        the deferred messages were delivered, FULL_MIN_S after the fill:
        what the full disk is for; the heal then comes early."""
        if time.time() < t_fill + FULL_MIN_S:
            return False
        errs = list(ctx.wl.errors)
        return all(any(n == i and t > t_fill and is_452_full(w)
                       for t, n, w in errs) and
                   "below the reserve" in ctx.rlog(i) for i in nodes) and \
            all(any(m.get("acked") for m in ctx.recorder.find(mid))
                for mid in backlog)
    ctx.heal_when = seen_full

    def check(res, logs):
        errs = list(ctx.wl.errors)
        for i in nodes:
            if not any(n == i and is_452_full(w) for _, n, w in errs):
                res["why"].append("node %d never answered 452 4.3.1 while "
                                  "full" % i)
            if "below the reserve" not in ctx.rlog(i):
                res["why"].append("node %d did not log its reserve" % i)
            if ctx.t_space is not None and not any(
                    ctx.wl.acked_on.get(m) == i and t > ctx.t_space
                    for m, t in ctx.acked.items()):
                res["why"].append("node %d took no mail after the space "
                                  "returned" % i)
        if ctx.t_space is not None:
            late = [m for m in backlog if not any(
                t_fill < t < ctx.t_space for t, _, _ in
                ctx.delivered.get(m, []))]
            if late:
                res["why"].append("%d of %d deferred messages not delivered "
                                  "while the disk was full: %s" % (
                                      len(late), len(backlog), late[:3]))
        print("faults: %s: %d refusals 452 4.3.1 while full, %d deferred "
              "delivered while full" % (ctx.tag, sum(
                  is_452_full(w) for _, _, w in errs),
                  len(backlog) - len(late) if ctx.t_space else 0),
              flush=True)
        other = {}
        for _, n, w in errs:
            if not is_452_full(w):
                other[(n, w[:60])] = other.get((n, w[:60]), 0) + 1
        if other:
            res["why"].append("refusals other than 452 4.3.1: %s"
                              % sorted(other.items())[:5])
    ctx.check = check
    return heal


def s_fulldisk_one(ctx):
    return _fulldisk(ctx, [leader_of(ctx)])


def s_fulldisk_all(ctx):
    return _fulldisk(ctx, list(ctx.c.members))


SCENARIOS = {
    "partition-leader": s_partition_leader,
    "isolate-follower": s_isolate_follower,
    "asymmetric": s_asymmetric,
    "bridge": s_bridge,
    "pause-leader": s_pause_leader,
    "pause-follower": s_pause_follower,
    "kill-restart": s_kill_restart,
    "rolling-restart": s_rolling_restart,
    "slow-dot": s_slow_dot,
    "skew": s_skew,
    "fulldisk-one": s_fulldisk_one,
    "fulldisk-all": s_fulldisk_all,
}

# set up before the cluster starts (mounts, a launcher, ctx.start)
PREPARE = {
    "skew": p_skew,
    "fulldisk-one": p_fulldisk,
    "fulldisk-all": p_fulldisk,
}


def converged(c, timeout):
    """Wait until every node's spool image has one hash ("debug
    snapshot-hash"; the applied counters differ after a restart from a
    snapshot, so only the hash is compared)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hashes = set()
        for i in c.members:
            try:
                r = c.ctl(i, "debug snapshot-hash", timeout=5)
                hashes.add(r["result"]["sha256"] if r.get("ok") else None)
            except (OSError, ValueError, KeyError):
                hashes.add(None)
        if len(hashes) == 1 and None not in hashes:
            return True
        time.sleep(0.3)
    return False


# ---- one round ----

class Ctx:
    pass


def inject(what, acked, d, act_paths, work):
    """The checker's own test (--inject): spoil what a round collected so
    that a correct checker must fail it. lost: one acknowledged message's
    deliveries dropped; dup: a second copy of one delivered message, from
    a control file no node warned about; live2: an outcome line under an
    older fence, written after a real one, in an extra activity log."""
    if "lost" in what and d:
        m = sorted(m for m in acked if m in d)[0]
        del d[m]
        print("faults: inject: dropped the delivery of %s" % m)
    if "dup" in what and d:
        m = sorted(m for m in acked if m in d)[-1]
        d[m].append((d[m][0][0] + 1, "injected-ctl", "injected"))
        print("faults: inject: a second copy of %s" % m)
    if "live2" in what:
        for p in act_paths:
            try:
                with open(p) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            held = [m for m in map(ACT_RE.match, lines)
                    if m and m.group(5) == "held" and int(m.group(4)) > 0]
            if not held:
                continue
            m = held[0]
            t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(
                act_time(m.group(1)) + 1)) + ".000Z"
            fake = os.path.join(work, "injected-activity.log")
            with open(fake, "w") as f:
                f.write("%s injected %s: injected, fence=%d, lease=held\n"
                        % (t, m.group(3), int(m.group(4)) - 1))
            print("faults: inject: an older fence on %s" % m.group(3))
            return act_paths + [fake]
    return act_paths


def keep_logs(src, dst):
    """Copy the *.log files of src (a tmpfs about to go) to dst."""
    import shutil
    os.makedirs(dst, exist_ok=True)
    for p in glob.glob(os.path.join(src, "*.log")):
        try:
            shutil.copy(p, dst)
        except OSError:
            pass


# Scenarios that leave their cluster healed and converged share one
# cluster per round, one after another (a round's own checks read only
# what was logged since it began); the value names the cluster's kind.
# A cluster is replaced after a round that failed. skew starts its own.
SHARED = {
    "partition-leader": "net", "isolate-follower": "net",
    "asymmetric": "net", "bridge": "net", "pause-leader": "net",
    "pause-follower": "net", "kill-restart": "net",
    "rolling-restart": "net", "slow-dot": "net",
    "fulldisk-one": "disk", "fulldisk-all": "disk",
}

# (load before the fault, fault, load after the heal, the longest wait
# for delivery after it, seconds between one client's messages); in the
# full version the fault outlasts the lease by 1 s (the daemon's default
# lease is 7 s), so claims held by the node it hits are taken over
# during it
LEASE_S = int(LEASE_MS) / 1000.0 if LEASE_MS else 7.0
TIMES_FULL = (1.5, LEASE_S + 1.0, 1.5, 120, 0.05)
TIMES_SHORT = (1.5, 6.0, 1.5, 90, 0.15)
TAKEOVER_MAX_S = 10.0  # issue #10's bound: a round over it keeps its logs
KEPT = []  # the tags of the rounds whose logs are kept for that


class Pool:
    """The shared clusters of one round: kind -> Ctx-like record with the
    cluster, its mail root and mounts, and the last scenario it ran."""

    def __init__(self):
        self.open = {}
        self.late = []  # (last scenario, sanitizer reports) at a stop

    def make_room(self):
        """Stop every open cluster (the lab's addresses are one cluster's
        at a time) before another starts."""
        self.late += self.close_all()

    def close(self, kind, keep):
        """Stop the cluster of kind (logs off its tmpfs, mounts removed);
        its directory is removed unless keep. Returns (last scenario,
        sanitizer reports seen at the stop)."""
        sh = self.open.pop(kind)
        n = len(clusterlib.SANITIZER_REPORTS)
        stop_cluster(sh.c, sh.mounts)
        new = clusterlib.SANITIZER_REPORTS[n:]
        keep = keep or getattr(sh, "keep", False)
        if not keep and not new and not os.environ.get("SMTPCLUSTER_KEEP"):
            import shutil
            shutil.rmtree(sh.workdir, ignore_errors=True)
        return sh.last, new

    def close_all(self):
        return [self.close(k, False) for k in list(self.open)]


def stop_cluster(c, mounts):
    """SIGTERM every node: the followers first, then the leader once it
    has stepped down (a stopping leader hands leadership over and waits
    up to 3 s for it, CLUSTER_STOP_TRANSFER_MS, in vain when every peer
    is gone; bounded wait here, then c.stop() as always); then the logs
    off each tmpfs and the mounts removed."""
    live = c.live_nodes()
    if len(live) > 1:
        st = {i: c.status(i, timeout=2) for i in live}
        leads = [i for i in live if (st[i] or {}).get("state") == "leader"]
        last = leads[0] if leads else live[-1]
        rest = [i for i in live if i != last]
        for i in rest:
            c.procs[i].send_signal(signal.SIGTERM)
        for i in rest:
            try:
                c.procs[i].wait(15)
            except Exception:  # c.stop() below SIGKILLs a straggler
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and c.alive(last) and (
                c.status(last, timeout=1) or {}).get("state") == "leader":
            time.sleep(0.1)
    c.stop()
    for m in mounts:
        keep_logs(m, m.rstrip("/") + ".logs")
        disklab.umount(m)


def forget(recorder, mail_root, tag):
    """Drop what a finished round left at the far end and in the Maildir
    at mail_root (None: not there), its tag, so that a shared cluster's
    later rounds and a long run do not read it again and again."""
    with recorder.lock:
        recorder.msgs = [m for m in recorder.msgs
                         if not (m["msgid"] and tag in m["msgid"])]
    if mail_root is None:
        return
    for p in glob.glob(os.path.join(mail_root, "alice", "new", "*")):
        try:
            with open(p, "rb") as f:
                mm = MID_RE.search(f.read(8192))
            if mm and tag.encode() in mm.group(1):
                os.remove(p)
        except OSError:
            pass


def one_round(name, rnd, work, lab, recorder, short, injects=(),
              pool=None):
    tag = "%s-r%d-%d" % (name, rnd, os.getpid())
    kind = SHARED.get(name) if pool is not None else None
    sh = pool.open.get(kind) if kind else None
    ctx = Ctx()
    if sh is None:
        sh = Ctx()
        # named for the scenario that opens it: a cluster replaced after
        # a failed round starts afresh, not on the failed one's spools
        sh.workdir = os.path.join(work, "r%d-%s" % (rnd, name))
        sh.mail_root = os.path.join(sh.workdir, "mail")
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(sh.mail_root, "alice", sub),
                        exist_ok=True)
        sh.c = NetCluster(os.path.join(sh.workdir, "cluster"), lab,
                          sh.mail_root)
        sh.mounts = []  # tmpfs mount points to remove with the cluster
        fresh = True
        if pool is not None:
            pool.make_room()
    else:
        fresh = False
    sh.last = name
    c, mail_root = sh.c, sh.mail_root
    ctx.c, ctx.lab, ctx.victim = c, lab, None
    ctx.tag, ctx.recorder, ctx.extra_acked, ctx.check = (
        tag, recorder, {}, None)
    ctx.shift = {}    # node id -> seconds its wall clock is ahead
    ctx.mounts = sh.mounts
    ctx.start = None  # a scenario's own way to start the cluster
    fault_at, fault_s, post_s, settle_s, pace = (
        TIMES_SHORT if short else TIMES_FULL)
    ctx.fault_s = fault_s
    ctx.fault_until = None  # a scenario's own end of the fault (monotonic)
    ctx.heal_when = None    # a scenario's condition to heal before that
    recorder.release_holds(clear=True)
    reports = len(clusterlib.SANITIZER_REPORTS)
    res = {"acked": 0, "lost": 0, "dup_ok": 0, "dup_bad": 0, "live2": 0,
           "takeover": 0.0, "ok": True, "why": []}
    wl = None
    ph = res["phases"] = []  # (phase, seconds) of this round
    t_ph = [time.monotonic()]

    def phase(what):
        now = time.monotonic()
        ph.append((what, now - t_ph[0]))
        t_ph[0] = now
    try:
        if fresh:
            if name in PREPARE:
                PREPARE[name](ctx)
            if ctx.start is not None:
                ctx.start()
            else:
                c.start(timeout=30)
            ld = c.wait_leader(timeout=45)
            c.set_config(ld, zone="cluster.test",
                         gateway_alternate=netlab.HOST_IP)
        else:
            c.wait_leader(timeout=45)
        # what this round's checks read of the node logs
        log0 = {i: len(c.log(i)) for i in c.members}
        ctx.rlog = lambda i: c.log(i)[log0.get(i, 0):]
        act0 = {}
        for i in c.members:
            try:
                act0[c.activity_log_path(i)] = os.path.getsize(
                    c.activity_log_path(i))
            except OSError:
                pass
        phase("start" if fresh else "reuse")
        wl = Workload(c, tag, pace=pace)
        ctx.wl = wl
        wl.start()
        time.sleep(fault_at)
        phase("pre")
        t_fault = time.time()
        heal = SCENARIOS[name](ctx)
        phase("fault")
        until = ctx.fault_until
        if until is None:
            until = time.monotonic() + ctx.fault_s
        while time.monotonic() < until:  # bounded: until is fixed
            if ctx.heal_when is not None and ctx.heal_when():
                break
            time.sleep(min(0.1, max(0.0, until - time.monotonic())))
        heal()
        phase("faulted")
        t_heal = time.time()
        time.sleep(post_s)
        wl.stop()
        phase("post")
        acked = dict(wl.acked)
        acked.update(ctx.extra_acked)
        res["acked"] = len(acked)

        def all_in():
            d = delivered(recorder, mail_root, tag)
            return d if all(m in d for m in acked) else None
        try:
            d = wait_until(all_in, settle_s, interval=0.2,
                           what="every acknowledged message delivered")
        except ClusterError:
            d = delivered(recorder, mail_root, tag)
        phase("settle")
        act_paths = [c.activity_log_path(i) for i in c.members]
        shifts = [ctx.shift.get(i, 0) for i in c.members]
        if injects:
            act_paths = inject(injects, acked, d, act_paths, sh.workdir)
            shifts.append(0)
        ctx.acked, ctx.delivered = acked, d
        lost = [m for m in acked if m not in d]
        res["lost"] = len(lost)
        if lost:
            res["why"].append("lost %s" % lost[:3])
        logs = "".join(ctx.rlog(i) for i in c.members)
        warned = set(re.findall(r"possible duplicate delivery of (\S+)",
                                logs))
        if ctx.check is not None:
            ctx.check(res, logs)
        phase("check")
        for m, copies in d.items():
            if m not in acked and len(copies) <= 1:
                continue
            if len(copies) > 1:
                if all(ctl in warned for _, ctl, _ in copies):
                    res["dup_ok"] += 1
                else:
                    res["dup_bad"] += 1
                    res["why"].append("unexplained duplicate %s %s"
                                      % (m, copies))
        live2, nact = double_live(act_paths, shifts, act0)
        res["live2"] = len(live2)
        if live2:
            res["why"].append("two live leases on %s" % live2[:3])
        if res["acked"] > 0 and nact == 0:  # the check would see nothing
            res["why"].append("no outcome line in any activity log")
        for m, t_ack in acked.items():
            if m in d and t_ack <= t_heal:
                first = min(t for t, _, _ in d[m])
                res["takeover"] = max(res["takeover"],
                                      first - max(t_ack, t_fault))
        dead = [i for i in c.members if not c.alive(i)]
        if dead:
            res["why"].append("node(s) %s died" % dead)
        if not converged(c, 60):
            res["why"].append("spools not converged after 60 s")
        phase("converge")
    except (ClusterError, OSError, RuntimeError) as e:
        res["why"].append("round error: %s" % e)
    finally:
        if wl is not None:
            wl.stop()
        lab.heal()
        for i in c.members:  # a paused node must be able to stop
            try:
                os.kill(c.pid(i), signal.SIGCONT)
            except (OSError, TypeError, KeyError):
                pass
        if res["why"]:
            c.dump_logs(lines=40)
        c.collect_sanitizer_reports()
        if res["takeover"] > TAKEOVER_MAX_S:
            sh.keep = True
            KEPT.append(tag)
            print("faults: %s: takeover %.1f s, over %.0f s: logs kept in %s"
                  % (tag, res["takeover"], TAKEOVER_MAX_S, sh.workdir),
                  flush=True)
        if len(clusterlib.SANITIZER_REPORTS) > reports:
            res["why"].append("sanitizer report(s): " + "; ".join(
                clusterlib.SANITIZER_REPORTS[reports:]))
        if kind and not res["why"]:
            pool.open[kind] = sh  # the next scenario of its kind goes on
            if not getattr(sh, "keep", False):  # kept whole for a look
                forget(recorder, mail_root, tag)
        else:
            if kind:
                pool.open.pop(kind, None)
            stop_cluster(c, sh.mounts)
            if not res["why"] and not getattr(sh, "keep", False) and \
                    not os.environ.get("SMTPCLUSTER_KEEP"):
                import shutil
                shutil.rmtree(sh.workdir, ignore_errors=True)
            forget(recorder, None, tag)  # its Maildir goes or is kept
        phase("stop" if not kind or res["why"] else "keep")
    res["ok"] = not res["why"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int,
                    default=int(os.environ.get("ROUNDS", "1")))
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--inject", default="",
                    help="the checker's own test: spoil each round's "
                    "collected results (comma-separated: lost, dup, "
                    "live2); every round must then fail")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    names = a.scenarios or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            print("faults: unknown scenario %s (have: %s)"
                  % (n, ", ".join(SCENARIOS)))
            return 2
    if os.geteuid() != 0:
        print("faults: SKIP: network namespaces need root")
        return 1 if os.environ.get("CI") == "true" else 0
    lab = netlab.NetLab(3)

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    work = tempfile.mkdtemp(prefix="smtpcluster-faults-")
    os.chmod(work, 0o755)
    rows, failed = [], 0
    recorder = None
    pool = Pool()
    t_run = time.monotonic()
    try:
        disklab.sweep(os.path.join(tempfile.gettempdir(),
                                   "smtpcluster-faults-"))
        lab.create()
        recorder = Recorder([netlab.HOST_IP], FAR_PORT)
        recorder.start()
        aggs = {name: {"rounds": 0, "acked": 0, "lost": 0, "dup_ok": 0,
                       "dup_bad": 0, "live2": 0, "failed": 0,
                       "takeover": 0.0, "time": 0.0, "tmax": 0.0}
                for name in names}
        rows = [(name, aggs[name]) for name in names]
        # round-major: every round runs each scenario once, so a run
        # stopped early has covered all of them
        for r in range(a.rounds):
            for name in names:
                agg = aggs[name]
                t0 = time.monotonic()
                res = one_round(name, r, work, lab, recorder, a.short,
                                [x for x in a.inject.split(",") if x], pool)
                took = time.monotonic() - t0
                agg["rounds"] += 1
                for k in ("acked", "lost", "dup_ok", "dup_bad", "live2"):
                    agg[k] += res[k]
                agg["takeover"] = max(agg["takeover"], res["takeover"])
                agg["time"] += took
                agg["tmax"] = max(agg["tmax"], took)
                if not res["ok"]:
                    agg["failed"] += 1
                    failed += 1
                print("faults: %s round %d: %s (%d acked, takeover %.1fs, "
                      "%.0fs: %s)%s" % (name, r, "ok" if res["ok"] else
                                        "FAILED", res["acked"],
                                        res["takeover"], took, " ".join(
                                            "%s %.1f" % p
                                            for p in res["phases"]),
                                        "" if res["ok"] else ": " +
                                        "; ".join(res["why"])[:2000]),
                      flush=True)
            pool.make_room()
            for last, new in pool.late:
                if new:  # found when the shared cluster stopped
                    aggs[last]["failed"] += 1
                    failed += 1
                    print("faults: round %d: sanitizer report(s) when the "
                          "cluster %s ran last stopped: %s"
                          % (r, last, "; ".join(new)[:2000]), flush=True)
            pool.late = []
    except KeyboardInterrupt:
        print("faults: interrupted")
        failed += 1
    finally:
        for kind in list(pool.open):  # after an interruption
            pool.close(kind, True)
        if recorder is not None:
            recorder.stop()
        disklab.umount_all()
        lab.destroy()
    print("\n| scenario | rounds | acknowledged | lost | duplicates "
          "explained/unexplained | double live claims | failed rounds | "
          "worst takeover | time a round (mean/max) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, g in rows:
        print("| %s | %d | %d | %d | %d/%d | %d | %d | %.1f s | %.0f/%.0f s |"
              % (name, g["rounds"], g["acked"], g["lost"], g["dup_ok"],
                 g["dup_bad"], g["live2"], g["failed"], g["takeover"],
                 g["time"] / max(1, g["rounds"]), g["tmax"]))
    total = sum(g["rounds"] for _, g in rows)
    print("faults: %d passed, %d failed, %.0f s" % (
        max(0, total - failed), failed, time.monotonic() - t_run))
    if failed == 0 and not KEPT and not os.environ.get("SMTPCLUSTER_KEEP"):
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("faults: logs kept in %s" % work)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
