#!/usr/bin/env python3
"""test_tls_policy.py — the outbound TLS policy table (issue #14): smtpctl
set / show / remove tls-policy, and what each level does toward real far
ends on loopback (recorder.py with STARTTLS from Python's ssl, and
certificates made here with openssl: a test CA, and self-signed).

The zone (dnsmasq on 127.0.0.1:DNS_PORT, answering for .tlstest only):
    notls.tlstest, notls-may.tlstest  MX mx.notls.tlstest   (127.0.0.51):
                                      no STARTTLS offered
    self.tlstest, self-enc.tlstest,   MX mx.self.tlstest    (127.0.0.52):
    self-none.tlstest                 STARTTLS, a self-signed certificate
                                      for mx.self.tlstest
    good.tlstest                      MX mx.good.tlstest    (127.0.0.53):
                                      the test CA's certificate for
                                      mx.good.tlstest
    x.wrong.tlstest                   MX mx.wrong.tlstest   (127.0.0.54):
                                      the test CA's certificate for
                                      another.name.tlstest
The cluster has [delivery] tls_ca_file = the test CA and max_per_host = 1
(so a connection finished by one group is handed to the next waiting
for the same host: the cache must not give a clear one to mail that
needs TLS).

  (a) no STARTTLS: encrypt -> deferred 4.7.4, nothing recorded;
      may -> delivered in clear; both in one message: the clear
      connection is not reused for the encrypt recipient;
      remove tls-policy, send mail -> delivered in clear;
  (b) self-signed: encrypt -> delivered over TLS; verify -> deferred
      4.7.5 with the reason in the activity log and SHOW MAIL;
      none -> delivered in clear although STARTTLS is offered;
  (c) the CA's certificate for the right name: verify -> delivered;
  (d) the CA's certificate for a wrong name: verify (a parent-domain key
      ".wrong.tlstest") -> deferred, "hostname mismatch".

Run: python3 tests/integration/test_tls_policy.py (needs build/, openssl
and dnsmasq-base). About 20 seconds; every wait is bounded.
IT_TLSPOL_BASE_PORT moves the ports.
"""

import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import (Cluster, SkipTest, run_tests,  # noqa: E402
                     wait_until, _pdeathsig)
from recorder import Recorder  # noqa: E402

BASE = int(os.environ.get("IT_TLSPOL_BASE_PORT", "29800"))
DNS_PORT = BASE + 53
SMTP_PORT = BASE + 60

WORK = tempfile.mkdtemp(prefix="smtpcluster-tlspol-")
os.chmod(WORK, 0o755)
CA = os.path.join(WORK, "ca.pem")

IPS = {"notls": "127.0.0.51", "self": "127.0.0.52", "good": "127.0.0.53",
       "wrong": "127.0.0.54"}
REC = {}
DNS = []
C = None
_seq = [0]


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(what + ("" if detail is None
                                     else ": %r" % (detail,)))


# ---- certificates ----

def openssl(*argv):
    subprocess.run(["openssl"] + list(argv), check=True, capture_output=True,
                   timeout=60)


def make_certs():
    """The test CA, a CA-signed leaf per name, and a self-signed one."""
    if shutil.which("openssl") is None:
        raise SkipTest("openssl is not installed")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    cakey = os.path.join(WORK, "ca.key")
    openssl("req", "-x509", *ec, "-keyout", cakey, "-out", CA, "-days", "2",
            "-subj", "/CN=smtpcluster test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    out = {}
    for tag, name in (("good", "mx.good.tlstest"),
                      ("wrong", "another.name.tlstest")):
        key = os.path.join(WORK, tag + ".key")
        csr = os.path.join(WORK, tag + ".csr")
        crt = os.path.join(WORK, tag + ".pem")
        ext = os.path.join(WORK, tag + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n" % name)
        openssl("req", *ec, "-keyout", key, "-out", csr, "-subj",
                "/CN=" + name)
        openssl("x509", "-req", "-in", csr, "-CA", CA, "-CAkey", cakey,
                "-CAcreateserial", "-out", crt, "-days", "2", "-extfile",
                ext)
        out[tag] = (crt, key)
    key = os.path.join(WORK, "self.key")
    crt = os.path.join(WORK, "self.pem")
    openssl("req", "-x509", *ec, "-keyout", key, "-out", crt, "-days", "2",
            "-subj", "/CN=mx.self.tlstest",
            "-addext", "subjectAltName=DNS:mx.self.tlstest")
    out["self"] = (crt, key)
    return out


def server_ctx(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pair)
    return ctx


# ---- the far ends and the zone ----

def start_dns():
    if shutil.which("dnsmasq") is None:
        raise SkipTest("dnsmasq not installed (dnsmasq-base)")
    argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--no-poll",
            "--port=%d" % DNS_PORT, "--listen-address=127.0.0.1",
            "--bind-interfaces", "--pid-file=", "--local=/tlstest/"]
    for dom, tag in (("notls", "notls"), ("notls-may", "notls"),
                     ("self", "self"), ("self-enc", "self"),
                     ("self-none", "self"), ("good", "good"),
                     ("x.wrong", "wrong")):
        argv.append("--mx-host=%s.tlstest,mx.%s.tlstest,10" % (dom, tag))
    for tag, ip in IPS.items():
        argv.append("--host-record=mx.%s.tlstest,%s" % (tag, ip))
    if os.geteuid() == 0:
        argv += ["--user=root", "--group=root"]
    log = open(os.path.join(WORK, "dnsmasq.log"), "ab")
    DNS.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT,
                                preexec_fn=_pdeathsig))
    log.close()
    time.sleep(0.3)
    check(DNS[0].poll() is None, "dnsmasq runs")


# ---- helpers ----

def msgid(tag):
    _seq[0] += 1
    return "<%s-%d-%d@tlspol.test>" % (tag, _seq[0], os.getpid())


def send(rcpts, mid):
    """One message from node 1's SMTP listener; its control-file name."""
    host, port = C.smtp_addr(1).rsplit(":", 1)
    s = smtplib.SMTP(host, int(port), timeout=30,
                     source_address=("127.0.0.1", 0))
    try:
        s.ehlo("client.tlspol.test")
        data = ("From: alice@cluster.test\r\nTo: x\r\nSubject: tls\r\n"
                "Message-ID: %s\r\n\r\nhello\r\n" % mid).encode()
        s.mail("alice@cluster.test")
        for r in rcpts:
            check(s.rcpt(r)[0] == 250, "recipient accepted", r)
        code, text = s.data(data)
        check(code == 250, "message accepted", text)
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    m = re.search(r"queued as (\S+)", text.decode())
    check(m, "queued as", text)
    return m.group(1)


def activity():
    text = ""
    for i in C.members:
        try:
            with open(C.activity_log_path(i)) as f:
                text += f.read()
        except FileNotFoundError:
            pass
    return text


def status_line(rcpt, word):
    """The activity-log line of rcpt with status=word, or None."""
    for ln in activity().splitlines():
        if "to=<%s>" % rcpt in ln and "status=%s " % word in ln:
            return ln
    return None


def wait_status(rcpt, word, timeout=30):
    return wait_until(lambda: status_line(rcpt, word), timeout,
                      what="%s %s in the activity log" % (rcpt, word))


def found(tag, mid):
    return REC[tag].find(mid)


def smtpctl(*argv, want=0):
    r = C.smtpctl(1, *argv)
    check(r.returncode == want, "smtpctl %s: exit %d" % (" ".join(argv),
                                                          r.returncode),
          r.stdout + r.stderr)
    return r.stdout


def policy(domain, level):
    out = smtpctl("set", "tls-policy", domain, level)
    check(level in out, "set tls-policy answers the level", out)


def rcpt_reply(name, rcpt, want):
    """SHOW MAIL's last reply for rcpt of control file name, once it has
    want in it (the outcome is in the activity log before the COMPLETE
    that records it is applied)."""
    def reply():
        r = C.ctl(1, "show mail", {"name": name, "full": True})
        check(r.get("ok"), "show mail", r)
        for e in r["result"]["entries"]:
            for x in e["recipients"]:
                if x["address"] == rcpt and want in x.get("reply", ""):
                    return x["reply"]
        return None
    return wait_until(reply, 10, what="SHOW MAIL's reply with %s" % want)


# ---- tests ----

def test_smtpctl_set_show_remove():
    policy("Policy.TLStest", "encrypt")
    policy(".sub.tlstest", "verify")
    # node 1 shows its own copy: wait until it has applied both
    wait_until(lambda: ".sub.tlstest" in smtpctl("show", "tls-policy"), 10,
               what="both policies on node 1")
    out = smtpctl("show", "tls-policy")
    check("policy.tlstest" in out and "encrypt" in out, "listed", out)
    check(".sub.tlstest" in out and "verify" in out, "parent key listed",
          out)
    out = smtpctl("show", "tls-policy", "a.b.sub.tlstest")
    check("verify" in out and ".sub.tlstest" in out,
          "the parent key applies to a subdomain", out)
    out = smtpctl("show", "tls-policy", "sub.tlstest")
    check("may" in out and "default" in out,
          "a parent key does not apply to the domain itself", out)
    smtpctl("set", "tls-policy", "x.tlstest", "sometimes", want=2)
    smtpctl("set", "tls-policy", "bad..tlstest", "may", want=2)
    smtpctl("remove", "tls-policy", "policy.tlstest")
    r = C.smtpctl(1, "remove", "tls-policy", "policy.tlstest")
    check(r.returncode != 0 and "no policy" in r.stdout + r.stderr,
          "removing a missing key is not found", r.stdout + r.stderr)
    smtpctl("remove", "tls-policy", ".sub.tlstest")
    # replicated: node 3 lists what node 1 set
    policy("repl.tlstest", "none")
    wait_until(lambda: "repl.tlstest" in C.smtpctl(
        3, "show", "tls-policy").stdout, 10, what="the policy on node 3")
    smtpctl("remove", "tls-policy", "repl.tlstest")


def test_a_no_starttls_encrypt_defers_may_delivers_in_clear():
    policy("notls.tlstest", "encrypt")
    mid = msgid("notls")
    # the may recipient's group runs first (groups are started last
    # made first) and hands its clear connection to the encrypt group
    # waiting for the same host (max_per_host = 1)
    name = send(["enc@notls.tlstest", "may@notls-may.tlstest"], mid)
    line = wait_status("enc@notls.tlstest", "deferred")
    check("4.7.4" in line and "STARTTLS" in line, "deferred 4.7.4", line)
    wait_status("may@notls-may.tlstest", "sent")
    got = found("notls", mid)
    check(len(got) == 1 and got[0]["rcpts"] == ["may@notls-may.tlstest"],
          "only the may recipient reached the far end",
          [(m["rcpts"], m["tls"]) for m in got])
    check(got[0]["tls"] is None, "in clear", got[0]["tls"])
    rcpt_reply(name, "enc@notls.tlstest", "451 4.7.4")
    # the policy removed, the deferred recipient goes in clear
    smtpctl("remove", "tls-policy", "notls.tlstest")
    r = C.ctl(1, "send mail", {"name": name})
    check(r.get("ok"), "send mail", r)
    wait_status("enc@notls.tlstest", "sent")
    got = [m for m in found("notls", mid)
           if m["rcpts"] == ["enc@notls.tlstest"]]
    check(len(got) == 1 and got[0]["tls"] is None,
          "delivered in clear once the policy is gone", got)


def test_b_self_signed_encrypt_delivers_verify_defers_none_is_clear():
    policy("self-enc.tlstest", "encrypt")
    policy("self.tlstest", "verify")
    policy("self-none.tlstest", "none")
    mid = msgid("self")
    name = send(["e@self-enc.tlstest", "v@self.tlstest",
                 "n@self-none.tlstest"], mid)
    wait_status("e@self-enc.tlstest", "sent")
    wait_status("n@self-none.tlstest", "sent")
    line = wait_status("v@self.tlstest", "deferred")
    check("4.7.5" in line and "certificate not verified" in line,
          "verify deferred with the reason", line)
    check("self-signed" in line or "self signed" in line,
          "the reason names the self-signed certificate", line)
    got = {tuple(m["rcpts"]): m["tls"] for m in found("self", mid)}
    check(set(got) == {("e@self-enc.tlstest",), ("n@self-none.tlstest",)},
          "the verify recipient never reached the far end", got)
    check(got[("e@self-enc.tlstest",)] in ("TLSv1.2", "TLSv1.3"),
          "encrypt went over TLS", got)
    check(got[("n@self-none.tlstest",)] is None,
          "none went in clear although STARTTLS was offered", got)
    rcpt_reply(name, "v@self.tlstest", "certificate not verified")
    for d in ("self-enc.tlstest", "self.tlstest", "self-none.tlstest"):
        smtpctl("remove", "tls-policy", d)


def test_c_ca_signed_right_name_verify_delivers():
    policy("good.tlstest", "verify")
    mid = msgid("good")
    send(["v@good.tlstest"], mid)
    wait_status("v@good.tlstest", "sent")
    got = found("good", mid)
    check(len(got) == 1 and got[0]["tls"] in ("TLSv1.2", "TLSv1.3"),
          "delivered over TLS", [(m["rcpts"], m["tls"]) for m in got])
    smtpctl("remove", "tls-policy", "good.tlstest")


def test_d_ca_signed_wrong_name_verify_defers():
    policy(".wrong.tlstest", "verify")
    mid = msgid("wrong")
    name = send(["v@x.wrong.tlstest"], mid)
    line = wait_status("v@x.wrong.tlstest", "deferred")
    check("4.7.5" in line and "hostname mismatch" in line,
          "deferred: the name does not match", line)
    check(not found("wrong", mid), "nothing reached the far end")
    with REC["wrong"].lock:
        n = REC["wrong"].commands["STARTTLS"]
    check(n >= 1, "STARTTLS was tried", n)
    rcpt_reply(name, "v@x.wrong.tlstest", "hostname mismatch")
    smtpctl("remove", "tls-policy", ".wrong.tlstest")


def main():
    global C
    ok = False
    try:
        try:
            certs = make_certs()
            start_dns()
        except SkipTest as e:
            print("SKIP: %s" % e)
            if os.environ.get("CI") == "true":
                sys.exit(1)
            sys.exit(0)
        REC["notls"] = Recorder((IPS["notls"],), SMTP_PORT)
        for tag in ("self", "good", "wrong"):
            REC[tag] = Recorder((IPS[tag],), SMTP_PORT,
                                tls=server_ctx(certs[tag]))
        for r in REC.values():
            r.start()
        C = Cluster(os.path.join(WORK, "c"), n=3, base_port=BASE + 100,
                    delivery={"mail_root": os.path.join(WORK, "mail"),
                              "dns_servers": "127.0.0.1:%d" % DNS_PORT,
                              "smtp_port": SMTP_PORT,
                              "scan_interval_ms": 100, "grace_ms": 2000,
                              "max_per_host": 1, "tls_ca_file": CA},
                    cluster_domain="cluster.test")
        C.start()
        C.wait_leader()
        run_tests([
            test_smtpctl_set_show_remove,
            test_a_no_starttls_encrypt_defers_may_delivers_in_clear,
            test_b_self_signed_encrypt_delivers_verify_defers_none_is_clear,
            test_c_ca_signed_right_name_verify_delivers,
            test_d_ca_signed_wrong_name_verify_defers,
        ])
        ok = True
    except SystemExit as e:
        ok = e.code == 0
        raise
    finally:
        if C is not None:
            C.stop()
        for r in REC.values():
            r.stop()
        for p in DNS:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if ok and not os.environ.get("SMTPCLUSTER_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("test_tls_policy: logs kept in %s" % WORK)


if __name__ == "__main__":
    main()
