"""test_esmtp.py — the ESMTP extensions of issue #14 end to end, with real
clients and real far ends: CHUNKING/BDAT (RFC 3030) from a raw socket, the
message checked byte for byte in a Maildir; SMTPUTF8 (RFC 6531) from
smtplib, delivered to a UTF-8 Maildir, relayed to a far end that offers
SMTPUTF8 and bounced (5.6.7) toward one that does not; /OPTIONS=EIGHT_BIT
and NOEIGHT_BIT toward a far end without 8BITMIME (RFC 6152).

One node with a symbiont; local mail goes to Maildirs under WORK/mail; the
far ends are recorder.py listeners reached through the replicated MX table
(utf.test: 127.0.0.41, SMTPUTF8 and 8BITMIME; plain.test: 127.0.0.42,
neither). Every wait is bounded. IT_ESMTP_BASE_PORT changes the ports.

Run: python3 tests/integration/test_esmtp.py (needs build/test/).
"""

import glob
import os
import shutil
import smtplib
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_tests, wait_until  # noqa: E402
from recorder import Recorder  # noqa: E402

BASE = int(os.environ.get("IT_ESMTP_BASE_PORT", "31400"))
SMTP_PORT = BASE + 60
USERS = ("postmaster", "system", "alice", "bob", "b\u00f8b")

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
            os.makedirs(os.path.join(MAIL, u, sub).encode(), exist_ok=True)


def maildir_find(user, needle):
    out = []
    for p in sorted(glob.glob(os.path.join(MAIL, user, "new", "*")
                              .encode()),
                    key=os.path.getmtime):
        with open(p, "rb") as f:
            m = f.read()
        if needle in m:
            out.append(m)
    return out


UTF = Recorder(["127.0.0.41"], SMTP_PORT, smtputf8=True)
PLAIN = Recorder(["127.0.0.42"], SMTP_PORT, eightbitmime=False)

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


# ---- SMTPUTF8 ----

def utf8_message(mid, subject="gr\u00fc\u00dfe"):
    return ("From: J\u00f6rg <j\u00f6rg@client.test>\r\n"
            "To: b\u00f8b@cluster.test\r\nSubject: %s\r\n"
            "Message-ID: %s\r\n\r\nk\u00e4se\r\n"
            % (subject, mid)).encode("utf-8")


def smtplib_send(sender, rcpts, data, mail_options=()):
    host, port = C.smtp_addr(1).rsplit(":", 1)
    s = smtplib.SMTP(host, int(port), timeout=30)
    try:
        refused = s.sendmail(sender, rcpts, data, list(mail_options))
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    check(not refused, "all recipients accepted", refused)


def test_ehlo_advertises_smtputf8_and_needs_it_for_utf8_addresses():
    r = Raw()
    try:
        code, lines = r.cmd("EHLO client.test")
        check("250-SMTPUTF8" in lines, "SMTPUTF8 offered", lines)
        code, lines = r.cmd("MAIL FROM:<j\u00f6rg@client.test>")
        check(code == 553 and lines[0].startswith("553 5.6.7"),
              "UTF-8 sender without SMTPUTF8", lines)
        check(r.cmd("MAIL FROM:<a@client.test>")[0] == 250, "MAIL")
        code, lines = r.cmd("RCPT TO:<b\u00f8b@cluster.test>")
        check(lines[0].startswith("553 5.6.7"),
              "UTF-8 recipient without SMTPUTF8", lines)
    finally:
        r.close()


def test_smtputf8_from_smtplib_reaches_a_utf8_maildir():
    mid = msgid("utf8local")
    msg = utf8_message(mid)
    smtplib_send("j\u00f6rg@client.test", ["b\u00f8b@cluster.test"], msg,
                 ["SMTPUTF8"])
    wait_until(lambda: maildir_find("b\u00f8b", mid.encode()), 30,
               what="the message in the Maildir of b\u00f8b")
    m = maildir_find("b\u00f8b", mid.encode())[0]
    check("Return-Path: <j\u00f6rg@client.test>".encode() in m,
          "UTF-8 Return-Path", m[:400])
    check(b" with UTF8SMTP id " in m, "received with UTF8SMTP", m[:400])
    check(m.endswith(msg.split(b"\r\n", 2)[2].replace(b"\r\n", b"\n")),
          "the UTF-8 header fields and body as sent", m)


def test_smtputf8_relayed_to_a_next_hop_that_offers_it():
    mid = msgid("utf8relay")
    smtplib_send("j\u00f6rg@cluster.test", ["\u00fcser@utf.test"],
                 utf8_message(mid), ["SMTPUTF8"])
    wait_until(lambda: UTF.find(mid), 30, what="the message at utf.test")
    rec = UTF.find(mid)[0]
    check("SMTPUTF8" in rec["mail_params"].split(),
          "MAIL FROM carries SMTPUTF8", rec["mail_params"])
    check(rec["from"] == "j\u00f6rg@cluster.test" and
          rec["rcpts"] == ["\u00fcser@utf.test"], "UTF-8 envelope", rec)
    check("k\u00e4se".encode() in rec["data"], "the body", rec["data"])


def bounce_for(mid):
    """The DSN in alice's Maildir about the message mid, or None."""
    for m in maildir_find("alice", mid.encode()):
        if b"multipart/report" in m:
            return m
    return None


def test_smtputf8_toward_a_next_hop_without_it_bounces_5_6_7():
    mid = msgid("utf8bounce")
    smtplib_send("alice@cluster.test", ["\u00fcser@plain.test"],
                 utf8_message(mid), ["SMTPUTF8"])
    wait_until(lambda: bounce_for(mid), 30, what="the bounce to alice")
    dsn = bounce_for(mid)
    check(b"Status: 5.6.7" in dsn, "Status: 5.6.7 in the DSN", dsn)
    check(b"SMTPUTF8" in dsn, "the reason names SMTPUTF8", dsn)
    check(not PLAIN.find(mid), "nothing sent to plain.test")


def test_bounce_to_a_utf8_sender_is_sent_with_smtputf8():
    """The DSN inherits the SMTPUTF8 flag: its recipient is the UTF-8
    sender, reached at utf.test, which gets MAIL FROM:<> SMTPUTF8."""
    mid = msgid("utf8dsn")
    smtplib_send("j\u00f6rg@utf.test", ["\u00fcser@plain.test"],
                 utf8_message(mid), ["SMTPUTF8"])

    def dsn():
        with UTF.lock:
            return [m for m in UTF.msgs if m["from"] == "" and
                    mid.encode() in m["data"]]
    wait_until(dsn, 30, what="the bounce at utf.test")
    rec = dsn()[0]
    check(rec["rcpts"] == ["j\u00f6rg@utf.test"], "to the UTF-8 sender", rec)
    check("SMTPUTF8" in rec["mail_params"].split(), "MAIL FROM:<> SMTPUTF8",
          rec["mail_params"])
    check(b"Status: 5.6.7" in rec["data"], "Status: 5.6.7", rec["data"])


# ---- /OPTIONS=EIGHT_BIT, NOEIGHT_BIT ----

def eight_bit_message(mid):
    return ("From: alice@cluster.test\r\nTo: x@plain.test\r\n"
            "Subject: eight bit\r\nMessage-ID: %s\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "caf\u00e9 cr\u00e8me\r\n" % mid).encode("utf-8")


def set_options(value):
    r = C.smtpctl(1, "set", "configuration", "smtp", "--options", value)
    check(r.returncode == 0, "smtpctl --options " + value,
          r.stdout + r.stderr)


def test_noeight_bit_bounces_8bit_mail_toward_a_hop_without_8bitmime():
    set_options("noeight-bit")
    mid = msgid("noeight")
    smtplib_send("alice@cluster.test", ["x@plain.test"],
                 eight_bit_message(mid))
    wait_until(lambda: bounce_for(mid), 30, what="the bounce to alice")
    dsn = bounce_for(mid)
    check(b"Status: 5.6.3" in dsn, "Status: 5.6.3 in the DSN", dsn)
    check(not PLAIN.find(mid), "nothing sent to plain.test")
    # toward a hop with 8BITMIME the same message goes, BODY=8BITMIME
    mid = msgid("eightok")
    smtplib_send("alice@cluster.test", ["x@utf.test"],
                 eight_bit_message(mid))
    wait_until(lambda: UTF.find(mid), 30, what="the message at utf.test")
    check("BODY=8BITMIME" in UTF.find(mid)[0]["mail_params"], "BODY=8BITMIME",
          UTF.find(mid)[0]["mail_params"])


def test_eight_bit_sends_8bit_mail_as_it_is():
    set_options("eight-bit")
    try:
        mid = msgid("eight")
        msg = eight_bit_message(mid)
        smtplib_send("alice@cluster.test", ["x@plain.test"], msg)
        wait_until(lambda: PLAIN.find(mid), 30,
                   what="the message at plain.test")
        rec = PLAIN.find(mid)[0]
        check("BODY=" not in rec["mail_params"], "no BODY= to a server "
              "without 8BITMIME", rec["mail_params"])
        check(rec["data"].endswith(msg.split(b"\r\n\r\n", 1)[1]),
              "the 8-bit body as it is", rec["data"])
        check(not bounce_for(mid), "no bounce")
    finally:
        set_options("noeight-bit")


def setup():
    make_maildirs()
    UTF.start()
    PLAIN.start()
    C.start()
    C.wait_leader()
    for dom, ip in (("utf.test", "127.0.0.41"), ("plain.test", "127.0.0.42")):
        r = C.ctl(1, "set mx", {"domain": dom, "gateway": ip, "pref": 10})
        check(r.get("ok"), "set mx " + dom, r)


def main():
    ok = False
    try:
        setup()
        run_tests([
            test_ehlo_advertises_chunking,
            test_bdat_chunks_arrive_byte_exact_in_the_maildir,
            test_bdat_zero_last_and_pipelined_chunks,
            test_bdat_rset_and_data_mixing,
            test_ehlo_advertises_smtputf8_and_needs_it_for_utf8_addresses,
            test_smtputf8_from_smtplib_reaches_a_utf8_maildir,
            test_smtputf8_relayed_to_a_next_hop_that_offers_it,
            test_smtputf8_toward_a_next_hop_without_it_bounces_5_6_7,
            test_bounce_to_a_utf8_sender_is_sent_with_smtputf8,
            test_noeight_bit_bounces_8bit_mail_toward_a_hop_without_8bitmime,
            test_eight_bit_sends_8bit_mail_as_it_is,
        ])
    except SystemExit as e:
        ok = e.code == 0
        raise
    finally:
        C.stop()
        UTF.stop()
        PLAIN.stop()
        if ok and not os.environ.get("SMTPCLUSTER_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            C.dump_logs()
            print("test_esmtp: logs kept in %s" % WORK)


if __name__ == "__main__":
    main()
