#!/usr/bin/env python3
"""test_submission.py — message submission with SMTP AUTH (RFC 4954,
6409, 8314) on the [submission] listeners: STARTTLS then AUTH on the
"587" listener, implicit TLS on the "465" one, Cyrus SASL checking the
logins against a sasldb file this test makes with saslpasswd2 (one per
node, named in its node.conf: no system-wide state).

Real clients: swaks --auth PLAIN / LOGIN --tls, smtplib (STARTTLS and
SMTP_SSL), raw dialogues for the refusals. Checked: a good login relays
and is recorded in Received: ("with ESMTPSA", "Authenticated sender")
on every node's copy and in the log; a bad one gets 535 5.7.8, is logged
with the client address and counts toward the error limit (421 4.7.0);
AUTH before STARTTLS is neither offered nor accepted (530 5.7.0); MAIL
before AUTH is refused (530 5.7.0); "*" cancels (501 5.0.0); port 25
offers no AUTH. The sender-login map ([submission] sender_logins, on
node 2 only): an owned sender 250, a foreign one 553 5.7.1 (logged,
counted, an error of the session), @domain entries, a changed map after
SIGHUP, a bad one kept out at SIGHUP and refused at start; without a
map (nodes 1 and 3) a login owns its own address. The login in the
control file: show mail --full on every node. Run: python3 tests/integration/test_submission.py (under
the integration lock). Prints "N passed, N failed"."""

import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import base64
import json
import signal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, SkipTest, run_tests, wait_until  # noqa: E402
from test_smtp_receiver import (Dialogue, queued_name,  # noqa: E402
                                require_smtp, wait_in_every_spool)
from test_smtp_tls import client_context, make_cert  # noqa: E402

BASE = int(os.environ.get("IT_SUBMISSION_BASE_PORT", "28800"))
SUB_PORT = BASE + 87   # the "587" listener of every node (own 127.0.0.N)
SUBS_PORT = BASE + 65  # the "465" one
REALM = "submit.test"
USERS = {"alice": "alice-secret", "bob": "b0b-pass word"}
REMOTE = "far@remote.example"  # not local to the cluster: a relay

_state = {"cluster": None, "error": None, "tmp": None}

# node 2's sender-login map (SASL names the logins user@REALM)
A, B = "alice@" + REALM, "bob@" + REALM
SENDER_LOGINS = """# sender  login(s)
alice@submit.test   alice@submit.test
bob@submit.test     bob@submit.test
shared@submit.test  alice@submit.test, bob@submit.test
@team.test          bob@submit.test
boss@team.test      alice@submit.test
"""


def sender_logins_path():
    return os.path.join(_state["tmp"], "sender_logins")


def make_sasldb(path):
    """A sasldb with USERS in REALM, made with saslpasswd2."""
    if shutil.which("saslpasswd2") is None:
        raise SkipTest("saslpasswd2 is not installed (sasl2-bin)")
    for user, pw in USERS.items():
        subprocess.run(["saslpasswd2", "-f", path, "-u", REALM, "-p", "-c",
                        user], input=pw + "\n", text=True, check=True,
                       capture_output=True, timeout=30)
    os.chmod(path, 0o644)


def cluster():
    if _state["error"] is not None:
        raise _state["error"]
    if _state["cluster"] is None:
        tmp = tempfile.mkdtemp(prefix="smtpcluster-sub-")
        _state["tmp"] = tmp
        c = None
        try:
            cert, key = make_cert(tmp)
            for i in (1, 2, 3):
                make_sasldb(os.path.join(tmp, "node%d.sasldb2" % i))
            with open(sender_logins_path(), "w") as f:
                f.write(SENDER_LOGINS)

            def extra(i):
                sub = {
                    "listen": "127.0.0.%d:%d" % (i, SUB_PORT),
                    "tls_listen": "127.0.0.%d:%d" % (i, SUBS_PORT),
                    "sasldb": os.path.join(tmp, "node%d.sasldb2" % i),
                    "realm": REALM,
                }
                if i == 2:
                    sub["sender_logins"] = sender_logins_path()
                return {"smtp": {"tls_cert": cert, "tls_key": key},
                        "submission": sub}
            c = Cluster(n=3, base_port=BASE, extra_conf=extra)
            c.start()
            c.wait_leader()
            require_smtp(c)
        except (Exception, SkipTest) as e:
            if c is not None:
                if not isinstance(e, SkipTest):
                    c.dump_logs()
                c.stop()
                c.cleanup()
            _state["error"] = e
            raise
        _state["cluster"] = c
    return _state["cluster"]


class _At:
    """Dialogue() connects to c.smtp_addr(i): this points it elsewhere."""

    def __init__(self, port):
        self.port = port

    def smtp_addr(self, i):
        return "127.0.0.%d:%d" % (i, self.port)


def sub_dialogue(i, greet=True):
    return Dialogue(_At(SUB_PORT), i, greet=greet)


def tls_dialogue(i):
    """A raw dialogue on the 587 listener, after EHLO and STARTTLS."""
    d = sub_dialogue(i)
    d.send("EHLO client.test\r\nSTARTTLS\r\n")
    d.expect("250 ", "220 2.0.0")
    d.s = client_context().wrap_socket(d.s)
    d.send("EHLO client.test\r\n")
    d.expect("250 ")
    return d


def b64(s):
    return base64.b64encode(s.encode()).decode()


def check_received(c, name, user):
    """Every node's copy records the login in its Received: header (SASL
    names it user@realm)."""
    for node, (_, body) in wait_in_every_spool(c, [name]).items():
        b = body[name.encode()]
        head = b[:b.find(b"\r\n\r\n")]
        assert b" with ESMTPSA id " in head, (node, head[:400])
        assert b"(Authenticated sender: %s@%s)" % (user.encode(), REALM.encode()) in head, \
            (node, head[:400])


def swaks(c, i, mech, user, pw, port=SUB_PORT, tls="--tls"):
    if shutil.which("swaks") is None:
        raise SkipTest("swaks is not installed")
    return subprocess.run(
        ["swaks", "--server", "127.0.0.%d:%d" % (i, port), tls,
         "--auth", mech, "--auth-user", user, "--auth-password", pw,
         "--from", "%s@%s" % (user, REALM), "--to", REMOTE,
         "--helo", "swaks.test", "--timeout", "30"],
        capture_output=True, text=True, timeout=60)


def logged_in(i, user):
    """An smtplib session on node i's 587 listener, after STARTTLS and
    AUTH PLAIN as user."""
    s = smtplib.SMTP("127.0.0.%d" % i, SUB_PORT, local_hostname="lib.test",
                     timeout=30)
    s.starttls(context=client_context())
    s.ehlo()
    code, text = s.login(user, USERS[user])
    assert code == 235, (code, text)
    return s


def mail_from(s, sender):
    """MAIL FROM:<sender> in a fresh transaction: (code, reply text)."""
    s.rset()
    code, text = s.docmd("MAIL FROM:<%s>" % sender)
    return code, text.decode()


def refused(code, text, sender, login):
    return code == 553 and text == (
        "5.7.1 <%s>: Sender address rejected: not owned by user %s"
        % (sender, login))


def swaks_from(i, user, sender):
    if shutil.which("swaks") is None:
        raise SkipTest("swaks is not installed")
    return subprocess.run(
        ["swaks", "--server", "127.0.0.%d:%d" % (i, SUB_PORT), "--tls",
         "--auth", "PLAIN", "--auth-user", user,
         "--auth-password", USERS[user], "--from", sender, "--to", REMOTE,
         "--helo", "swaks.test", "--timeout", "30"],
        capture_output=True, text=True, timeout=60)


def sighup_and_wait(c, i, text):
    """SIGHUP node i; wait until its log has one more line with text."""
    before = c.log(i).count(text)
    c.kill(i, signal.SIGHUP)
    wait_until(lambda: c.log(i).count(text) > before, timeout=15,
               what="%r in node %d's log after SIGHUP" % (text, i))


# ---- the tests ----


def test_swaks_auth_plain_relays_and_is_recorded():
    c = cluster()
    r = swaks(c, 1, "PLAIN", "alice", USERS["alice"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "235 2.7.0" in out, out
    name = queued_name(out)
    check_received(c, name, "alice")
    assert re.search(r"authenticated as alice@submit\.test \(PLAIN\)", c.log(1)), \
        c.log_tail(1)


def test_swaks_auth_login_relays():
    c = cluster()
    r = swaks(c, 2, "LOGIN", "bob", USERS["bob"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "334 " in out and "235 2.7.0" in out, out
    check_received(c, queued_name(out), "bob")


def test_smtplib_login_and_mail_auth_parameter():
    c = cluster()
    s = smtplib.SMTP("127.0.0.3", SUB_PORT, local_hostname="lib.test",
                     timeout=30)
    try:
        code, text = s.ehlo()
        assert code == 250 and b"AUTH" not in text, text  # before TLS
        s.starttls(context=client_context())
        code, text = s.ehlo()
        assert code == 250 and re.search(rb"AUTH [A-Z ]*PLAIN", text) \
            and b"LOGIN" in text, text
        s.user, s.password = "alice", USERS["alice"]
        code, text = s.auth("LOGIN", s.auth_login,
                            initial_response_ok=False)
        assert code == 235, (code, text)
        # the AUTH parameter of MAIL (RFC 4954 5) is accepted
        code, text = s.docmd("MAIL FROM:<alice@%s> AUTH=alice+40%s"
                             % (REALM, REALM))
        assert code == 250, (code, text)
        assert s.rcpt(REMOTE)[0] == 250
        code, text = s.data(b"Subject: submitted\r\n\r\nhello\r\n")
        assert code == 250, text
        check_received(c, queued_name(text.decode()), "alice")
    finally:
        s.quit()


def test_implicit_tls_submission():
    c = cluster()
    s = smtplib.SMTP_SSL("127.0.0.2", SUBS_PORT, local_hostname="ssl.test",
                         timeout=30, context=client_context())
    try:
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version()
        code, text = s.ehlo()
        assert code == 250 and b"AUTH" in text, text
        assert b"STARTTLS" not in text, text  # already encrypted
        code, text = s.login("bob", USERS["bob"])
        assert code == 235, (code, text)
        refused = s.sendmail("bob@%s" % REALM, [REMOTE],
                             b"Subject: over 465\r\n\r\nimplicit\r\n")
        assert refused == {}, refused
    finally:
        s.quit()
    r = swaks(c, 1, "PLAIN", "bob", USERS["bob"], port=SUBS_PORT,
              tls="--tls-on-connect")
    assert r.returncode == 0, r.stdout + r.stderr
    check_received(c, queued_name(r.stdout), "bob")


def test_bad_password_is_535_logged_and_counted():
    c = cluster()
    r = swaks(c, 3, "PLAIN", "alice", "wrong")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "535 5.7.8" in out, out
    wait_until(lambda: re.search(
        r"smtp \[127\.0\.0\.1\]: authentication failed \(PLAIN\)",
        c.log(3)), timeout=10, what="the failed login in node 3's log")
    # unknown user, LOGIN: the same answer, no hint which part was wrong
    d = tls_dialogue(3)
    d.send("AUTH LOGIN\r\n")
    d.expect("334 ")
    d.send(b64("nobody") + "\r\n")
    d.expect("334 ")
    d.send(b64("x") + "\r\n")
    d.expect("535 5.7.8")
    # each failure counts: the session ends at the error limit
    last = None
    for _ in range(25):
        d.send("AUTH PLAIN %s\r\n" % b64("\0alice\0wrong"))
        try:
            code, lines = d.reply()
        except EOFError:
            break
        last = lines[-1]
        if code == 421:
            break
        assert lines[-1].startswith("535 5.7.8"), lines
    assert last is not None and last.startswith("421 4.7.0"), last
    assert d.closed(timeout=10)
    d.close()


def test_auth_refused_before_starttls_and_mail_before_auth():
    cluster()
    d = sub_dialogue(1)
    d.send("EHLO client.test\r\n")
    lines = d.expect("250 ")
    assert any("STARTTLS" in ln for ln in lines), lines
    assert not any("AUTH" in ln for ln in lines), lines
    d.send("AUTH PLAIN %s\r\n" % b64("\0alice\0" + USERS["alice"]))
    d.expect("530 5.7.0")
    # no relay (nor anything) without a login, even from 127.0.0.1
    # (trusted on port 25)
    d.send("MAIL FROM:<x@client.test>\r\n")
    d.expect("530 5.7.0")
    d.close()
    d = tls_dialogue(1)
    d.send("MAIL FROM:<x@client.test>\r\n")
    d.expect("530 5.7.0")
    d.send("QUIT\r\n")
    d.expect("221")
    d.close()


def test_cancel_and_bad_exchanges():
    cluster()
    d = tls_dialogue(2)
    d.send("AUTH LOGIN\r\n")
    d.expect("334 ")
    d.send("*\r\n")
    d.expect("501 5.0.0")
    d.send("AUTH CRAM-MD5\r\n")
    d.expect("504 5.5.4")
    d.send("AUTH PLAIN !!!notbase64\r\n")
    d.expect("501 5.5.2")
    d.send("AUTH PLAIN\r\n")
    d.expect("334")
    d.send(b64("\0alice\0" + USERS["alice"]) + "\r\n")
    d.expect("235 2.7.0")
    d.send("AUTH PLAIN\r\n")
    d.expect("503 5.5.1")
    d.send("QUIT\r\n")
    d.expect("221")
    d.close()


def test_show_service_counts_logins_and_failures():
    c = cluster()
    for i in (1, 2, 3):
        r = c.ctl(i, "show service smtp", {})
        assert r.get("ok"), r
        st = r["result"]["statistics"]["receiver"]
        # every node had at least one good login and one failure above
        assert st["auth_logins"] >= 1, (i, st)
        assert st["rejected"]["auth"] >= 1, (i, st)


def test_port_25_offers_no_auth():
    c = cluster()
    d = Dialogue(c, 1)
    d.send("EHLO client.test\r\nSTARTTLS\r\n")
    d.expect("250 ", "220 2.0.0")
    d.s = client_context().wrap_socket(d.s)
    d.send("EHLO client.test\r\n")
    lines = d.expect("250 ")
    assert not any("AUTH" in ln for ln in lines), lines
    d.send("AUTH PLAIN %s\r\n" % b64("\0alice\0" + USERS["alice"]))
    d.expect("502 5.5.1")
    d.close()


def test_without_map_a_login_owns_its_own_address():
    cluster()
    s = logged_in(1, "alice")
    try:
        assert mail_from(s, A)[0] == 250
        # the domain without regard to case, the local part exact
        assert mail_from(s, "alice@SUBMIT.Test")[0] == 250
        code, text = mail_from(s, "Alice@" + REALM)
        assert refused(code, text, "Alice@" + REALM, A), (code, text)
        code, text = mail_from(s, B)
        assert refused(code, text, B, A), (code, text)
        code, text = mail_from(s, "alice@elsewhere.test")
        assert refused(code, text, "alice@elsewhere.test", A), (code, text)
        assert mail_from(s, "")[0] == 250  # the null sender
    finally:
        s.quit()


def test_map_owned_sender_250_foreign_553_logged():
    c = cluster()
    r = swaks_from(2, "alice", "shared@" + REALM)
    assert r.returncode == 0, r.stdout + r.stderr
    check_received(c, queued_name(r.stdout), "alice")
    r = swaks_from(2, "alice", B)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "553 5.7.1 <%s>: Sender address rejected: not owned by user %s" \
        % (B, A) in out, out
    wait_until(lambda: "smtp [127.0.0.1]: sender <%s> rejected: not owned "
               "by user %s" % (B, A) in c.log(2), timeout=10,
               what="the refused sender in node 2's log")
    s = logged_in(2, "bob")
    try:
        assert mail_from(s, B)[0] == 250
        assert mail_from(s, "shared@" + REALM)[0] == 250
        code, text = mail_from(s, A)
        assert refused(code, text, A, B), (code, text)
        # an address the map does not list is nobody's
        code, text = mail_from(s, "nobody@" + REALM)
        assert refused(code, text, "nobody@" + REALM, B), (code, text)
        assert mail_from(s, "")[0] == 250
    finally:
        s.quit()


def test_map_domain_entry_after_the_address():
    cluster()
    s = logged_in(2, "bob")
    try:
        # @team.test lists bob, for any address without its own entry
        assert mail_from(s, "anyone@team.test")[0] == 250
        assert mail_from(s, "Someone@TEAM.test")[0] == 250
        # boss@team.test has its own entry: the domain's is not consulted
        code, text = mail_from(s, "boss@team.test")
        assert refused(code, text, "boss@team.test", B), (code, text)
        code, text = mail_from(s, "x@sub.team.test")
        assert refused(code, text, "x@sub.team.test", B), (code, text)
    finally:
        s.quit()
    s = logged_in(2, "alice")
    try:
        assert mail_from(s, "boss@team.test")[0] == 250
        code, text = mail_from(s, "anyone@team.test")
        assert refused(code, text, "anyone@team.test", A), (code, text)
    finally:
        s.quit()


def test_foreign_sender_counts_toward_the_error_limit():
    c = cluster()
    d = tls_dialogue(2)
    d.send("AUTH PLAIN %s\r\n" % b64("\0alice\0" + USERS["alice"]))
    d.expect("235 2.7.0")
    last = None
    for _ in range(25):
        d.send("MAIL FROM:<%s>\r\n" % B)
        try:
            code, lines = d.reply()
        except EOFError:
            break
        last = lines[-1]
        if code == 421:
            break
        assert lines[-1].startswith("553 5.7.1"), lines
    assert last is not None and last.startswith("421 4.7.0"), last
    assert d.closed(timeout=10)
    d.close()
    r = c.ctl(2, "show service smtp", {})
    assert r.get("ok"), r
    st = r["result"]["statistics"]["receiver"]
    assert st["rejected"]["sender_login"] >= 20, st


def test_changed_map_takes_effect_after_sighup():
    c = cluster()
    new = "new@" + REALM
    s = logged_in(2, "alice")
    try:
        code, text = mail_from(s, new)
        assert refused(code, text, new, A), (code, text)
    finally:
        s.quit()
    path = sender_logins_path()
    try:
        with open(path, "w") as f:
            f.write(SENDER_LOGINS + "%s  %s\n" % (new, A))
        sighup_and_wait(c, 2, "sender-login entries from %s" % path)
        s = logged_in(2, "alice")
        try:
            assert mail_from(s, new)[0] == 250
        finally:
            s.quit()
        # a bad line at SIGHUP: logged with file and line, the map in use
        # is kept
        with open(path, "w") as f:
            f.write("# broken\nnot-an-address alice\n")
        sighup_and_wait(c, 2, "keeping the sender-login map in use")
        assert "sender-login map %s:2: " % path in c.log(2), c.log_tail(2)
        s = logged_in(2, "alice")
        try:
            assert mail_from(s, new)[0] == 250
            assert mail_from(s, A)[0] == 250
        finally:
            s.quit()
    finally:
        with open(path, "w") as f:
            f.write(SENDER_LOGINS)
        sighup_and_wait(c, 2, "sender-login entries from %s" % path)


def test_bad_map_is_a_start_up_error_naming_file_and_line():
    cluster()
    tmp = _state["tmp"]
    bad = os.path.join(tmp, "bad_sender_logins")
    with open(bad, "w") as f:
        f.write("alice@submit.test alice@submit.test\n\n"
                "bob@submit.test\n")  # line 3: no login
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        raise SkipTest("make_cert() names its files differently")
    one = Cluster(n=1, base_port=BASE + 400, extra_conf=lambda i: {
        "smtp": {"tls_cert": cert, "tls_key": key},
        "submission": {"listen": "127.0.0.1:%d" % (BASE + 487),
                       "realm": REALM,
                       "sasldb": os.path.join(tmp, "node1.sasldb2"),
                       "sender_logins": bad}})
    try:
        try:
            one.start()
        except Exception:
            pass  # it may exit before its control socket is up
        wait_until(lambda: not one.alive(1), timeout=30,
                   what="the node with a bad map to exit")
        log = one.log(1)
        assert "sender-login map %s:3: no login for bob@submit.test" % bad \
            in log, log[-2000:]
        assert one.procs[1].returncode != 0, one.procs[1].returncode
    finally:
        one.stop()
        one.cleanup()


def test_login_is_in_the_control_file_on_every_node():
    # this cluster runs no symbiont (Cluster(delivery=None)), as if every
    # node had had "smtpctl stop mail": the mail stays queued to be shown
    c = cluster()
    r = swaks(c, 3, "PLAIN", "bob", USERS["bob"])
    assert r.returncode == 0, r.stdout + r.stderr
    name = queued_name(r.stdout)
    wait_in_every_spool(c, [name])
    for i in (1, 2, 3):
        r = c.smtpctl(i, "show", "mail", "--name", name, "--full", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        e = json.loads(r.stdout)["entries"][0]
        assert e["login"] == B, (i, e)
        r = c.smtpctl(i, "show", "mail", "--name", name, "--full")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "    Authenticated as %s\n" % B in r.stdout, (i, r.stdout)
    # a message without AUTH (port 25) has no login
    d = Dialogue(c, 1)
    d.send("EHLO plain.test\r\nMAIL FROM:<x@client.test>\r\n"
           "RCPT TO:<postmaster@%s>\r\nDATA\r\n" % c.domain(1))
    d.expect("250 ", "250 ", "250 ", "354 ")
    d.send("Subject: no login\r\n\r\nhi\r\n.\r\n")
    plain = queued_name("\n".join(d.expect("250 ")))
    d.close()
    wait_in_every_spool(c, [plain])
    r = c.smtpctl(1, "show", "mail", "--name", plain, "--full", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["entries"][0]["login"] == "", r.stdout
    r = c.smtpctl(1, "show", "mail", "--name", plain, "--full")
    assert "Authenticated as" not in r.stdout, r.stdout


def main():
    try:
        run_tests([
            test_swaks_auth_plain_relays_and_is_recorded,
            test_swaks_auth_login_relays,
            test_smtplib_login_and_mail_auth_parameter,
            test_implicit_tls_submission,
            test_bad_password_is_535_logged_and_counted,
            test_auth_refused_before_starttls_and_mail_before_auth,
            test_cancel_and_bad_exchanges,
            test_port_25_offers_no_auth,
            test_show_service_counts_logins_and_failures,
            test_without_map_a_login_owns_its_own_address,
            test_map_owned_sender_250_foreign_553_logged,
            test_map_domain_entry_after_the_address,
            test_foreign_sender_counts_toward_the_error_limit,
            test_changed_map_takes_effect_after_sighup,
            test_bad_map_is_a_start_up_error_naming_file_and_line,
            test_login_is_in_the_control_file_on_every_node,
        ])
    finally:
        if _state["cluster"] is not None:
            _state["cluster"].stop()
            _state["cluster"].cleanup()
        if _state["tmp"] is not None:
            shutil.rmtree(_state["tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
