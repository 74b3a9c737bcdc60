"""test_esmtp.py — the ESMTP extensions of issue #14 end to end, with real
clients and real far ends: CHUNKING/BDAT (RFC 3030) from a raw socket, the
message checked byte for byte in a Maildir.

One node with a symbiont; local mail goes to Maildirs under WORK/mail.
Every wait is bounded. IT_ESMTP_BASE_PORT changes the ports.

Run: python3 tests/integration/test_esmtp.py (needs build/test/).
"""

import glob
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_tests, wait_until  # noqa: E402

BASE = int(os.environ.get("IT_ESMTP_BASE_PORT", "31400"))
SMTP_PORT = BASE + 60
USERS = ("postmaster", "system", "alice", "bob")

WORK = tempfile.mkdtemp(prefix="smtpcluster-esmtp-")
os.chmod(WORK, 0o755)
MAIL = os.path.join(WORK, "mail")


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(what + ("" if detail is None
                                     else ": %r" % (detail,)))


def make_maildirs():
    for u in USERS:
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(MAIL, u, sub), exist_ok=True)


def maildir_find(user, needle):
    out = []
    for p in sorted(glob.glob(os.path.join(MAIL, user, "new", "*")),
                    key=os.path.getmtime):
        with open(p, "rb") as f:
            m = f.read()
        if needle in m:
            out.append(m)
    return out


C = Cluster(os.path.join(WORK, "c"), n=1, base_port=BASE + 100,
            delivery={"mail_root": MAIL,
                      # nothing listens there: every route used here is
                      # local or in the replicated MX table
                      "dns_servers": "127.0.0.1:%d" % (BASE + 53),
                      "smtp_port": SMTP_PORT, "scan_interval_ms": 100,
                      "grace_ms": 2000},
            cluster_domain="cluster.test")
_seq = [0]


def msgid(tag):
    _seq[0] += 1
    return "<%s-%d-%d@test.example>" % (tag, _seq[0], os.getpid())


# ---- a raw SMTP client ----

class Raw:
    """One SMTP connection spoken octet by octet; every read bounded."""

    def __init__(self, node=1):
        host, port = C.smtp_addr(node).rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=20)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        deadline = time.monotonic() + 20
        while b"\r\n" not in self.buf:
            check(time.monotonic() < deadline, "a reply line in time")
            b = self.s.recv(65536)
            check(b, "the server closed the connection", self.buf)
            self.buf += b
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("utf-8", "replace")

    def reply(self):
        """One whole reply: (code, [lines])."""
        lines = []
        for _ in range(100):
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                return int(ln[:3]), lines
        raise AssertionError("a reply of over 100 lines")

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.cmd("QUIT")
        except (AssertionError, OSError):
            pass
        self.s.close()


def envelope(r, sender, rcpts, mail_params=""):
    code, lines = r.cmd("EHLO client.test")
    check(code == 250, "EHLO", lines)
    code, lines = r.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))
    check(code == 250, "MAIL", lines)
    for a in rcpts:
        code, lines = r.cmd("RCPT TO:<%s>" % a)
        check(code == 250, "RCPT " + a, lines)


def received_and_body(m):
    """A Maildir file: everything after the Received: header we added."""
    i = m.find(b"Received: from client.test")
    check(i >= 0, "our Received: header", m[:400])
    j = m.find(b"\n", m.find(b"; ", i))
    return m[j + 1:]


# ---- CHUNKING / BDAT ----

def bdat_message(mid):
    # lines a DATA reader would treat specially: a lone dot, a dot-stuffed
    # looking line, a line that looks like a command
    return ("From: alice@cluster.test\r\nTo: bob@cluster.test\r\n"
            "Subject: chunks\r\nMessage-ID: %s\r\n\r\n"
            "first line\r\n.\r\n..two dots\r\n.three\r\nQUIT\r\n"
            "last line\r\n" % mid).encode()


def test_ehlo_advertises_chunking():
    r = Raw()
    try:
        code, lines = r.cmd("EHLO client.test")
        check(code == 250 and "250-CHUNKING" in lines, "CHUNKING", lines)
    finally:
        r.close()


def test_bdat_chunks_arrive_byte_exact_in_the_maildir():
    mid = msgid("bdat")
    msg = bdat_message(mid)
    cut = [0, 7, 60, 61, len(msg) - 3, len(msg)]  # a CRLF split, too
    r = Raw()
    try:
        envelope(r, "alice@cluster.test", ["bob@cluster.test"])
        for a, b in zip(cut, cut[1:]):
            last = " LAST" if b == len(msg) else ""
            r.send(b"BDAT %d%s\r\n" % (b - a, last.encode()) + msg[a:b])
            code, lines = r.reply()
            if last:
                check(code == 250 and "queued as" in lines[0],
                      "BDAT LAST queued", lines)
            else:
                check(lines == ["250 2.0.0 Ok: %d octets" % (b - a)],
                      "chunk answered", lines)
    finally:
        r.close()
    wait_until(lambda: maildir_find("bob", mid.encode()), 30,
               what="the message in bob's Maildir")
    got = received_and_body(maildir_find("bob", mid.encode())[0])
    check(got == msg.replace(b"\r\n", b"\n"), "byte-exact (LF in Maildir)",
          got)


def test_bdat_zero_last_and_pipelined_chunks():
    mid = msgid("bdat0")
    msg = bdat_message(mid)
    r = Raw()
    try:
        envelope(r, "alice@cluster.test", ["bob@cluster.test"])
        r.send(b"BDAT 10\r\n" + msg[:10] + b"BDAT %d\r\n" % (len(msg) - 10)
               + msg[10:] + b"BDAT 0 LAST\r\n")
        check(r.reply()[1] == ["250 2.0.0 Ok: 10 octets"], "first chunk")
        check(r.reply()[1] == ["250 2.0.0 Ok: %d octets" % (len(msg) - 10)],
              "second chunk")
        code, lines = r.reply()
        check(code == 250 and "queued as" in lines[0], "BDAT 0 LAST", lines)
    finally:
        r.close()
    wait_until(lambda: maildir_find("bob", mid.encode()), 30,
               what="the message in bob's Maildir")
    got = received_and_body(maildir_find("bob", mid.encode())[0])
    check(got == msg.replace(b"\r\n", b"\n"), "byte-exact", got)


def test_bdat_rset_and_data_mixing():
    mid = msgid("bdatrset")
    msg = bdat_message(mid)
    r = Raw()
    try:
        envelope(r, "alice@cluster.test", ["bob@cluster.test"])
        r.send(b"BDAT 20\r\n" + msg[:20])
        check(r.reply()[0] == 250, "first chunk")
        code, lines = r.cmd("DATA")
        check(lines == ["503 5.5.1 Error: DATA after BDAT"], "DATA refused",
              lines)
        check(r.cmd("RSET")[0] == 250, "RSET")
        # after RSET a chunk has no transaction: refused, its octets
        # skipped (not read as commands)
        r.send(b"BDAT 6 LAST\r\nQUIT\r\n")
        code, lines = r.reply()
        check(code == 503, "BDAT after RSET refused", lines)
        check(r.cmd("NOOP")[0] == 250, "the session goes on")
    finally:
        r.close()
    # a later message arrives; the one reset never does
    later = msgid("afterrset")
    r = Raw()
    try:
        envelope(r, "alice@cluster.test", ["bob@cluster.test"])
        r.send(b"BDAT 0 LAST\r\n")
        check(r.reply()[0] == 250, "an empty message (Received: only)")
        envelope(r, "alice@cluster.test", ["bob@cluster.test"])
        m = bdat_message(later)
        r.send(b"BDAT %d LAST\r\n" % len(m) + m)
        check(r.reply()[0] == 250, "the later message")
    finally:
        r.close()
    wait_until(lambda: maildir_find("bob", later.encode()), 30,
               what="the later message")
    check(not maildir_find("bob", mid.encode()), "nothing delivered")


def setup():
    make_maildirs()
    C.start()
    C.wait_leader()


def main():
    ok = False
    try:
        setup()
        run_tests([
            test_ehlo_advertises_chunking,
            test_bdat_chunks_arrive_byte_exact_in_the_maildir,
            test_bdat_zero_last_and_pipelined_chunks,
            test_bdat_rset_and_data_mixing,
        ])
    except SystemExit as e:
        ok = e.code == 0
        raise
    finally:
        C.stop()
        if ok and not os.environ.get("SMTPCLUSTER_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            C.dump_logs()
            print("test_esmtp: logs kept in %s" % WORK)


if __name__ == "__main__":
    main()
