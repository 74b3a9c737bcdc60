"""test_lmtp.py — the lmtp local-delivery backend against a real Dovecot
(issue #5, "Far ends: ... Dovecot's LMTP for the lmtp backend").

A private Dovecot (Debian's dovecot-core and dovecot-lmtpd) runs as root
from its own config in a temporary directory: only the lmtp protocol, on
127.0.0.1:LMTP_PORT, users alice and bob in a passwd-file (uid nobody),
Maildirs under WORK/dovecot/mail/<user>; any other user is unknown, which
Dovecot answers per recipient with 550 5.1.1. A three-node cluster serves
cluster.test with [delivery] backend = lmtp pointing at it.

Tests: a message to alice and bob is in each Dovecot Maildir exactly once;
a message to alice and an unknown user delivers alice and bounces the
other (the RFC 3464 bounce reaches the local sender through LMTP too);
with Dovecot stopped a message is deferred and stays queued, and once
Dovecot is back `send mail` (REQUEUE) has it delivered; /OPTIONS=NOHEADERS
leaves the SMTP fields out of what Dovecot stores; NOTIFY=SUCCESS gets the
sender an "Action: delivered" report.

Run: python3 tests/integration/test_lmtp.py (needs build/, root and the
Debian packages above; otherwise it prints SKIP and passes). About 15 s;
the whole file is bounded by a 85 s alarm. IT_LMTP_BASE_PORT changes the
ports.
"""

import email
import email.policy
import glob
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import (Cluster, SkipTest, run_tests,  # noqa: E402
                     wait_until, _pdeathsig)

BASE = int(os.environ.get("IT_LMTP_BASE_PORT", "30000"))
LMTP_PORT = BASE + 24
DOVECOT = "/usr/sbin/dovecot"
LMTP_BIN = "/usr/lib/dovecot/lmtp"
USERS = ("alice", "bob")
MAIL_UID = 65534  # nobody: Dovecot refuses to store mail as root
FILE_DEADLINE_S = 300  # run.sh gives each file 600 s

WORK = tempfile.mkdtemp(prefix="smtpcluster-lmtp-")
os.chmod(WORK, 0o755)
DV = os.path.join(WORK, "dovecot")
DV_MAIL = os.path.join(DV, "mail")


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(what + ("" if detail is None
                                     else ": %r" % (detail,)))


# ---- the private Dovecot ----

class Dovecot:
    """dovecot -F with a config of its own under DV; start() and stop()
    may be called again (the restart test)."""

    def __init__(self):
        self.proc = None
        self.conf = os.path.join(DV, "dovecot.conf")
        self.log = os.path.join(DV, "dovecot.log")

    def write_conf(self):
        for d in ("run", "state", "mail", "home"):
            os.makedirs(os.path.join(DV, d), exist_ok=True)
        with open(os.path.join(DV, "users"), "w") as f:
            for u in USERS:
                home = os.path.join(DV, "home", u)
                os.makedirs(home, exist_ok=True)
                os.chown(home, MAIL_UID, MAIL_UID)
                f.write("%s:{PLAIN}unused:%d:%d::%s::\n"
                        % (u, MAIL_UID, MAIL_UID, home))
        os.chown(DV_MAIL, MAIL_UID, MAIL_UID)
        text = """\
protocols = lmtp
base_dir = {dv}/run
state_dir = {dv}/state
log_path = {dv}/dovecot.log
info_log_path = {dv}/dovecot.log
ssl = no
listen = 127.0.0.1
first_valid_uid = 1
mail_location = maildir:{dv}/mail/%n
# "alice@cluster.test" -> "alice" for the passwd-file lookup
auth_username_format = %Ln
passdb {{
  driver = passwd-file
  args = {dv}/users
}}
userdb {{
  driver = passwd-file
  args = {dv}/users
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
""".format(dv=DV, port=LMTP_PORT)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=10):
        f = open(self.log + ".stdout", "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=f,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=_pdeathsig)
        f.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "dovecot exited with status %d: %s" % (
                    self.proc.returncode, self.tail())
            if self.lhlo_ok():
                return None
            time.sleep(0.1)
        return "no LMTP greeting on 127.0.0.1:%d within %ds: %s" % (
            LMTP_PORT, timeout, self.tail())

    def lhlo_ok(self):
        try:
            s = smtplib.LMTP("127.0.0.1", LMTP_PORT, timeout=2)
        except OSError:
            return False
        try:
            return s.docmd("LHLO", "probe")[0] == 250
        except (OSError, smtplib.SMTPException):
            return False
        finally:
            try:
                s.close()
            except OSError:
                pass

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # the master is gone; wait for the listener to close as well
        deadline = time.monotonic() + 5
        while self.lhlo_ok() and time.monotonic() < deadline:
            time.sleep(0.1)

    def tail(self, n=15):
        out = []
        for p in (self.log, self.log + ".stdout"):
            try:
                with open(p, errors="replace") as f:
                    out += f.read().splitlines()[-n:]
            except FileNotFoundError:
                pass
        return " | ".join(out)


def mailbox(user):
    """The messages Dovecot stored for user (new/ and cur/), as bytes."""
    out = []
    for sub in ("new", "cur"):
        for p in glob.glob(os.path.join(DV_MAIL, user, sub, "*")):
            with open(p, "rb") as f:
                out.append(f.read())
    return out


def mailbox_find(user, needle):
    return [m for m in mailbox(user) if needle in m]


# ---- the cluster ----

DOVE = Dovecot()
C = Cluster(os.path.join(WORK, "cluster"), n=3, base_port=BASE + 100,
            delivery={"backend": "lmtp", "lmtp": "127.0.0.1:%d" % LMTP_PORT,
                      "scan_interval_ms": 100, "grace_ms": 2000},
            cluster_domain="cluster.test")
_seq = [0]


def msgid(tag):
    _seq[0] += 1
    return "<%s-%d-%d@test.example>" % (tag, _seq[0], os.getpid())


def message(mid, sender="bob@cluster.test", body="hello\r\n"):
    return ("From: <%s>\r\nTo: someone\r\nSubject: lmtp test\r\n"
            "Message-ID: %s\r\n\r\n%s" % (sender, mid, body)).encode()


def send(node, sender, rcpts, data, rcpt_options=()):
    host, port = C.smtp_addr(node).rsplit(":", 1)
    s = smtplib.SMTP(host, int(port), timeout=30,
                     source_address=("127.0.0.1", 0))
    try:
        refused = s.sendmail(sender, rcpts, data, [], list(rcpt_options))
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    check(not refused, "all recipients accepted", refused)


def activity():
    text = ""
    for i in C.members:
        try:
            with open(C.activity_log_path(i)) as f:
                text += f.read()
        except FileNotFoundError:
            pass
    return text


def lines_for(name_or_rcpt):
    return [ln for ln in activity().splitlines() if name_or_rcpt in ln]


def queue(node=1):
    r = C.ctl(node, "show mail", {})
    check(r.get("ok"), "show mail", r)
    return r["result"]["entries"]


def queue_empty(node=1):
    r = C.ctl(node, "show mail", {})
    return r.get("ok") and r["result"]["count"] == 0


# ---- tests ----

def test_message_to_alice_and_bob_arrives_once_in_each_maildir():
    mid = msgid("both")
    send(1, "someone@far.example", ["alice@cluster.test",
                                    "bob@cluster.test"], message(mid))
    wait_until(lambda: mailbox_find("alice", mid.encode()) and
               mailbox_find("bob", mid.encode()), 20,
               what="the message in alice's and bob's Dovecot Maildirs")
    wait_until(queue_empty, 15, what="an empty queue")
    time.sleep(0.5)  # a duplicate would have been delivered by now
    for u in USERS:
        got = mailbox_find(u, mid.encode())
        check(len(got) == 1, "exactly one copy for %s" % u, len(got))
        check(b"X-VMS-From:" in got[0], "X-VMS-From added", got[0][:400])
        # Dovecot's LMTP adds the Return-Path; the cluster adds none
        check(got[0].startswith(b"Return-Path: <someone@far.example>"),
              "Dovecot's Return-Path", got[0][:400])
        check(got[0].count(b"Return-Path:") == 1, "one Return-Path",
              got[0][:400])
        lns = lines_for("to=<%s@cluster.test>" % u)
        check(any("relay=lmtp" in ln and "status=sent (250" in ln
                  for ln in lns), "activity log: sent through lmtp", lns)


def test_unknown_user_bounces_while_alice_is_delivered():
    mid = msgid("ghost")
    send(2, "bob@cluster.test", ["alice@cluster.test",
                                 "ghost@cluster.test"], message(mid))
    wait_until(lambda: mailbox_find("alice", mid.encode()), 20,
               what="the message in alice's Maildir")
    wait_until(lambda: [m for m in mailbox_find("bob", mid.encode())
                        if b"multipart/report" in m], 20,
               what="the bounce in bob's Maildir")
    wait_until(queue_empty, 15, what="an empty queue")
    time.sleep(0.5)
    check(len(mailbox_find("alice", mid.encode())) == 1,
          "alice's copy once", len(mailbox_find("alice", mid.encode())))
    check(not os.path.exists(os.path.join(DV_MAIL, "ghost")),
          "no mailbox made for the unknown user")
    bounces = [m for m in mailbox_find("bob", mid.encode())
               if b"multipart/report" in m]
    check(len(bounces) == 1, "one bounce", len(bounces))
    msg = email.message_from_bytes(bounces[0], policy=email.policy.compat32)
    check(msg.get_content_type() == "multipart/report", "multipart/report",
          msg.get_content_type())
    parts = msg.get_payload()
    check(len(parts) == 3, "three parts", len(parts))
    blocks = parts[1].get_payload()
    rcpts = blocks[1:]
    check(len(rcpts) == 1, "one failed recipient", len(rcpts))
    r = rcpts[0]
    check(r["Final-Recipient"] == "rfc822; ghost@cluster.test",
          "Final-Recipient", r["Final-Recipient"])
    check(r["Action"] == "failed", "Action", r["Action"])
    check(r["Status"] == "5.1.1", "Status from Dovecot's 550 5.1.1",
          r["Status"])
    check(r["Diagnostic-Code"].startswith("smtp; 550 5.1.1"),
          "Dovecot's reply as Diagnostic-Code", r["Diagnostic-Code"])
    check(b"Return-Path: <>" in bounces[0], "bounce sent from <>",
          bounces[0][:400])
    ghost = lines_for("to=<ghost@cluster.test>")
    check(any("relay=lmtp" in ln and "status=bounced (550 5.1.1" in ln
              for ln in ghost), "activity log: ghost bounced", ghost)
    alice = [ln for ln in lines_for("to=<alice@cluster.test>")
             if "status=sent" in ln]
    check(alice, "activity log: alice sent")


def test_dovecot_down_defers_then_send_mail_delivers():
    wait_until(queue_empty, 15, what="an empty queue before the test")
    DOVE.stop()
    check(not DOVE.lhlo_ok(), "Dovecot stopped")
    mid = msgid("down")
    send(3, "bob@cluster.test", ["alice@cluster.test"], message(mid))
    entries = wait_until(lambda: queue(), 10, what="the file in the queue")
    check(len(entries) == 1, "one file queued", entries)
    name = entries[0]["name"]
    wait_until(lambda: [ln for ln in lines_for(name)
                        if "status=deferred" in ln], 20,
               what="a deferred attempt in the activity log")
    deferred = [ln for ln in lines_for(name) if "status=deferred" in ln][0]
    check("to=<alice@cluster.test>" in deferred and "relay=" in deferred,
          "the deferred line names the recipient", deferred)
    # it stays queued, not bounced, while Dovecot is away; the next
    # attempt is /INTERVAL=INITIAL (30 min) away once the COMPLETE that
    # recorded the deferral is applied here: only the requeue below can
    # bring it back in this test
    def deferred_here():
        e = queue()
        return e if (e and e[0]["next_attempt"] >
                     time.time() * 1000 + 60000) else None
    entries = wait_until(deferred_here, 15,
                         what="the deferral applied on node 1")
    check([e["name"] for e in entries] == [name], "still queued", entries)
    check(not mailbox_find("alice", mid.encode()), "nothing delivered yet")
    check(not [ln for ln in lines_for(name) if "status=bounced" in ln],
          "not bounced", lines_for(name))

    err = DOVE.start()
    check(err is None, "Dovecot restarted", err)
    deadline = time.monotonic() + 15
    while True:  # a claim may hold the file for a moment: retry
        r = C.ctl(1, "send mail", {"name": name})
        if r.get("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    check(r.get("ok"), "send mail (requeue)", r)
    wait_until(lambda: mailbox_find("alice", mid.encode()), 20,
               what="delivery after the requeue")
    wait_until(queue_empty, 15, what="an empty queue")
    check(len(mailbox_find("alice", mid.encode())) == 1, "delivered once")
    sent = [ln for ln in lines_for(name) if "status=sent" in ln]
    check(len(sent) == 1 and "attempts=" in sent[0], "one sent line", sent)


# ---- setup and main ----

def test_notify_success_through_lmtp_reports_delivered():
    """NOTIFY=SUCCESS delivered through LMTP is a final delivery: the
    sender gets an RFC 3464 report with Action: delivered (through LMTP
    too)."""
    mid = msgid("success")
    send(3, "bob@cluster.test", ["alice@cluster.test"], message(mid),
         rcpt_options=["NOTIFY=SUCCESS"])
    wait_until(lambda: mailbox_find("alice", mid.encode()), 20,
               what="the message in alice's Maildir")
    wait_until(lambda: [m for m in mailbox_find("bob", mid.encode())
                        if b"Successful Mail Delivery Report" in m], 20,
               what="the success report in bob's Maildir")
    raw = [m for m in mailbox_find("bob", mid.encode())
           if b"Successful Mail Delivery Report" in m][0]
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    check(msg.get_content_type() == "multipart/report", "a report",
          msg.get_content_type())
    blocks = msg.get_payload()[1].get_payload()
    check(blocks[1]["Action"] == "delivered", "Action", blocks[1]["Action"])
    check(blocks[1]["Status"] == "2.0.0", "Status", blocks[1]["Status"])
    check(blocks[1]["Final-Recipient"] == "rfc822; alice@cluster.test",
          "Final-Recipient", blocks[1]["Final-Recipient"])
    wait_until(queue_empty, 15, what="an empty queue")


def test_noheaders_leaves_the_smtp_fields_out_of_lmtp_delivery():
    """/OPTIONS=NOHEADERS through LMTP: Dovecot stores the message without
    the cluster's Received: and the message's own trace fields; HEADERS
    (the default) keeps them."""
    tags = {}
    try:
        for mode, num in (("headers", None), ("none", 2)):
            C.set_config(1, opt_headers=num)
            tag = "lmtp-hdr-%s-%d" % (mode, os.getpid())
            data = ("From: <bob@cluster.test>\r\nTo: alice\r\n"
                    "Subject: %s\r\nX-Trace: t1\r\nMessage-ID: %s\r\n"
                    "\r\nbody\r\n" % (tag, msgid(tag))).encode()
            send(1, "bob@cluster.test", ["alice@cluster.test"], data)
            wait_until(lambda: mailbox_find("alice", tag.encode()), 20,
                       what="the %s message in alice's Maildir" % mode)
            tags[mode] = mailbox_find("alice", tag.encode())[0]
    finally:
        C.set_config(1, opt_headers=None)
    head = {m: raw.split(b"\n\n", 1)[0] for m, raw in tags.items()}
    check(b"(smtpcluster " in head["headers"] and
          b"X-Trace: t1" in head["headers"] and
          b"Message-ID:" in head["headers"], "HEADERS: every field",
          head["headers"])
    check(b"(smtpcluster " not in head["none"], "NOHEADERS: no Received: "
          "of ours", head["none"])
    check(b"X-Trace:" not in head["none"] and
          b"Message-ID:" not in head["none"], "NOHEADERS: no other field",
          head["none"])
    check(b"Subject: lmtp-hdr-none" in head["none"] and
          b"X-VMS-From:" in head["none"], "NOHEADERS: Subject and "
          "X-VMS-From kept", head["none"])
    wait_until(queue_empty, 15, what="an empty queue")


def setup():
    if os.geteuid() != 0:
        raise SkipTest("not root: the private Dovecot must run as root")
    for p in (DOVECOT, LMTP_BIN):
        if not os.path.exists(p):
            raise SkipTest("%s missing (dovecot-core, dovecot-lmtpd)" % p)
    DOVE.write_conf()
    err = DOVE.start()
    if err is not None:
        raise SkipTest("Dovecot could not be started: %s" % err)
    C.start()
    C.wait_leader()


def _deadline(signum, frame):
    raise KeyboardInterrupt("test_lmtp: over %ds" % FILE_DEADLINE_S)


def main():
    ok = False
    signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(FILE_DEADLINE_S)
    try:
        try:
            setup()
        except SkipTest as e:
            print("SKIP test_lmtp: %s" % e)
            print("0 passed, 0 failed, 1 skipped")
            ok = True
            return
        run_tests([
            test_message_to_alice_and_bob_arrives_once_in_each_maildir,
            test_unknown_user_bounces_while_alice_is_delivered,
            test_dovecot_down_defers_then_send_mail_delivers,
            test_noheaders_leaves_the_smtp_fields_out_of_lmtp_delivery,
            test_notify_success_through_lmtp_reports_delivered,
        ])
    except SystemExit as e:
        ok = e.code == 0
        raise
    finally:
        signal.alarm(0)
        C.stop()
        DOVE.stop()
        if ok and not os.environ.get("SMTPCLUSTER_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("test_lmtp: logs kept in %s" % WORK)


if __name__ == "__main__":
    main()
