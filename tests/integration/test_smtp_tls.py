#!/usr/bin/env python3
"""test_smtp_tls.py — STARTTLS on the SMTP receiver (RFC 3207): a
self-signed certificate made here with openssl, smtplib and swaks over
TLS, the state reset after the handshake, plaintext pipelined behind
STARTTLS dropped (the command-injection defence), and a failed handshake
closing the connection. Every accepted message is looked up in every
node's spool.

Needs the [smtp] tls_cert / tls_key keys in the node config (SKIP while
the daemon does not know them). Run: python3
tests/integration/test_smtp_tls.py. Prints "N passed, N failed"."""

import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, ClusterError, SkipTest, run_tests  # noqa: E402
from test_smtp_receiver import (Dialogue, queued_name,  # noqa: E402
                                require_smtp, wait_in_every_spool)

BASE = int(os.environ.get("IT_SMTP_TLS_BASE_PORT", "28200"))
LOCAL = "node1.cluster.test"

_state = {"cluster": None, "error": None, "tmp": None}


def make_cert(d):
    """A self-signed certificate and key in d; returns (cert, key)."""
    if shutil.which("openssl") is None:
        raise SkipTest("openssl is not installed")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=node1.cluster.test"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)
    return cert, key


def cluster():
    """The shared TLS cluster; a start failure is raised for every test."""
    if _state["error"] is not None:
        raise _state["error"]
    if _state["cluster"] is None:
        tmp = tempfile.mkdtemp(prefix="smtpcluster-tls-")
        _state["tmp"] = tmp
        c = None
        try:
            cert, key = make_cert(tmp)
            c = Cluster(n=3, base_port=BASE, extra_conf={
                "smtp": {"tls_cert": cert, "tls_key": key}})
            try:
                c.start()
            except ClusterError as e:
                if "unknown key" in str(e):
                    raise SkipTest("the node config has no [smtp] tls_cert"
                                   " / tls_key yet")
                raise
            c.wait_leader()
            require_smtp(c)
        except (Exception, SkipTest) as e:
            if c is not None:
                c.stop()
                c.cleanup()
            _state["error"] = e
            raise
        _state["cluster"] = c
    return _state["cluster"]


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_starttls_with_smtplib_and_the_state_reset():
    c = cluster()
    host, port = c.smtp_addr(2).split(":")
    s = smtplib.SMTP(host, int(port), local_hostname="tls.test", timeout=30)
    code, text = s.ehlo()
    assert code == 250 and b"STARTTLS" in text, text
    code, text = s.starttls(context=client_context())
    assert code == 220 and text.startswith(b"2.0.0"), (code, text)
    code, text = s.ehlo()
    assert code == 250 and b"STARTTLS" not in text, text
    assert s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version()
    assert s.mail("a@client.test")[0] == 250
    assert s.rcpt("u@node2.cluster.test")[0] == 250
    code, text = s.data(b"Subject: over TLS\r\n\r\nsecret\r\n")
    assert code == 250, text
    name = queued_name(text.decode())
    code, text = s.docmd("STARTTLS")
    assert code == 554 and text.startswith(b"5.5.1"), (code, text)
    s.quit()
    for node, (_, body) in wait_in_every_spool(c, [name]).items():
        b = body[name.encode()]
        assert b" with ESMTPS id " in b, b[:200]
        assert b.endswith(b"secret\r\n")


def test_plaintext_pipelined_after_starttls_is_dropped():
    c = cluster()
    d = Dialogue(c, 1)
    d.send("EHLO client.test\r\n")
    assert "250-STARTTLS" in d.expect("250 DSN")
    # the injected MAIL must never be executed, in clear or after
    d.send("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
    d.expect("220 2.0.0")
    assert d.buf == b"", d.buf
    tls = client_context().wrap_socket(d.s)
    d.s = tls
    # after the handshake the session starts afresh: no EHLO, no MAIL
    d.send("MAIL FROM:<a@client.test>\r\n")
    d.expect("503 5.5.1")
    d.send("EHLO client.test\r\n")
    lines = d.expect("250 DSN")
    assert not any("STARTTLS" in ln for ln in lines), lines
    d.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<u@%s>\r\nDATA\r\n" % LOCAL)
    d.expect("250 2.1.0", "250 2.1.5", "354")
    d.send("Subject: after reset\r\n\r\nx\r\n.\r\nQUIT\r\n")
    name = queued_name(d.expect("250 2.0.0")[-1])
    d.expect("221 2.0.0")
    d.close()
    wait_in_every_spool(c, [name])


def test_failed_handshake_closes_the_connection():
    c = cluster()
    d = Dialogue(c, 3)
    d.send("EHLO client.test\r\nSTARTTLS\r\n")
    d.expect("250 DSN", "220 2.0.0")
    d.send(b"\x16\x03\x01\x00\x05hello-this-is-not-tls\r\n" * 4)
    assert d.closed(timeout=15)
    d.close()
    # the node still serves
    d = Dialogue(c, 3)
    d.send("QUIT\r\n")
    d.expect("221 2.0.0")
    d.close()


def test_swaks_over_tls():
    if shutil.which("swaks") is None:
        raise SkipTest("swaks is not installed")
    c = cluster()
    r = subprocess.run(
        ["swaks", "--server", c.smtp_addr(3), "--tls", "--from",
         "s@client.test", "--to", "t@node3.cluster.test", "--helo",
         "swaks.test", "--timeout", "30"],
        capture_output=True, text=True, timeout=60)
    if "TLS not available" in r.stdout + r.stderr:
        raise SkipTest("swaks has no TLS (Debian libnet-ssleay-perl is "
                       "not installed)")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_in_every_spool(c, [queued_name(r.stdout)])


def test_tls_session_survives_plain_sessions_alongside():
    """A plaintext client and a TLS client at the same time on one node."""
    c = cluster()
    plain = Dialogue(c, 1)
    plain.send("EHLO p.test\r\n")
    plain.expect("250 DSN")
    host, port = c.smtp_addr(1).split(":")
    s = smtplib.SMTP(host, int(port), local_hostname="t.test", timeout=30)
    s.starttls(context=client_context())
    s.ehlo()
    plain.send("NOOP\r\n")
    plain.expect("250 2.0.0")
    assert s.noop()[0] == 250
    s.quit()
    plain.close()


def main():
    try:
        run_tests([
            test_starttls_with_smtplib_and_the_state_reset,
            test_plaintext_pipelined_after_starttls_is_dropped,
            test_failed_handshake_closes_the_connection,
            test_swaks_over_tls,
            test_tls_session_survives_plain_sessions_alongside,
        ])
    finally:
        if _state["cluster"] is not None:
            _state["cluster"].stop()
            _state["cluster"].cleanup()
        if _state["tmp"] is not None:
            shutil.rmtree(_state["tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
