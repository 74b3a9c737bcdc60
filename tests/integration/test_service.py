#!/usr/bin/env python3
"""test_service.py — SET SERVICE SMTP (issue #14) on a real daemon with real
SMTP clients: `smtpctl set service smtp` changes the node's receiver
settings without a restart and `show service smtp` shows them.

  - a lower --max-sessions is enforced on the next connection (smtplib
    gets 421), while the session already open keeps going;
  - --listen moves the receiver: mail is taken on the new port, the old
    port is closed, and a session opened on the old port before the change
    still completes its DATA;
  - a port already in use is refused with a clear error and a non-zero
    exit, the old listener and every setting kept (nothing half-applied);
    so is a change whose override file cannot be written;
  - --trusted and --tls-cert/--tls-key take effect for new sessions;
  - bad values, a node id that is not a member and a non-admin caller are
    refused;
  - a restart keeps the settings (data_dir/service.conf), and the node
    table shows the new SMTP address.

One node (a one-member cluster), no symbiont: accepted mail stays queued.

Then another node's settings, on a cluster of three (started by the first
test that needs it): `set service smtp --node 2` on node 1's socket goes
to node 2 over the forwarding port; node 2's own socket shows the change,
node 2's receiver enforces it (a real SMTP client), it survives node 2's
restart, a bad value or a busy port is refused with node 2's own reason,
an unknown id is "not a member" and a stopped node is "unreachable", each
with a non-zero exit; `show service smtp --node 2` on node 1 shows node
2's settings; a SERVICE_SET frame from a valid cluster certificate of a
node that is not a member is refused by node 2.

IT_SERVICE_BASE_PORT changes the ports.

Run: python3 tests/integration/test_service.py (needs build/test/).
"""

import json
import os
import shutil
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import SMTPCTL, Cluster, SkipTest  # noqa: E402
from cluster import ensure_test_users  # noqa: E402
from cluster import run_cluster_suite, wait_until  # noqa: E402

BASE = int(os.environ.get("IT_SERVICE_BASE_PORT", "31600"))
HOST = "127.0.0.1"
NEW_PORT = BASE + 40
BUSY_PORT = BASE + 41
SPARE_PORT = BASE + 42
ADMIN_GROUP = "smtpctltest"
USER = "smtptest"
ADMIN_USER = "smtptestadm"

WORK = tempfile.mkdtemp(prefix="smtpcluster-service-")
os.chmod(WORK, 0o755)
C = Cluster(os.path.join(WORK, "c"), n=1, base_port=BASE,
            extra_conf={"control": {"admin_group": ADMIN_GROUP}})
OLD_PORT = C.smtp_port()
_seq = [0]
C3 = Cluster(os.path.join(WORK, "c3"), n=3, base_port=BASE + 100,
             extra_conf={"control": {"admin_group": ADMIN_GROUP}})
PORT3 = C3.smtp_port()  # every node's, on its own 127.0.0.N
_c3_up = [False]


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(what + ("" if detail is None
                                     else ": %r" % (detail,)))


def ctl(*argv, want=0, user=None):
    """smtpctl against node 1; check the exit status (want, or None: any
    non-zero)."""
    r = C.smtpctl(1, *argv, user=user)
    if want is None:
        check(r.returncode != 0, "smtpctl %s: a non-zero exit" % (argv,),
              (r.stdout, r.stderr))
    else:
        check(r.returncode == want, "smtpctl %s: exit %d, want %d"
              % (argv, r.returncode, want), (r.stdout, r.stderr))
    return r


def show():
    """show service smtp --json: its settings member."""
    r = ctl("show", "service", "smtp", "--json")
    return json.loads(r.stdout)


def settings():
    return show()["settings"]


def send(port, tag):
    """One message through smtplib to port; returns the reply text."""
    _seq[0] += 1
    s = smtplib.SMTP(HOST, port, timeout=20)
    try:
        s.ehlo("client.test")
        s.mail("alice@client.test")
        s.rcpt("bob@remote.test")
        code, text = s.data(b"Subject: %s %d\r\n\r\nbody\r\n"
                            % (tag.encode(), _seq[0]))
        check(code == 250, "250 after DATA on port %d" % port, (code, text))
        s.quit()
        return text
    finally:
        s.close()


def refused(port):
    """1 when nothing listens on port."""
    try:
        socket.create_connection((HOST, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def make_cert(d):
    if shutil.which("openssl") is None:
        raise SkipTest("openssl is not installed")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=node1.cluster.test"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)
    return cert, key


# ---- the tests ----

def test_show_service_smtp_shows_the_receiver_settings():
    st = settings()
    check(st["listen"] == "%s:%d" % (HOST, OLD_PORT), "listen", st)
    check(st["max_sessions"] == 100 and st["max_per_ip"] == 20,
          "the default limits", st)
    check(st["trusted"] == "127.0.0.1/32", "trusted", st)
    check(st["from"]["listen"] == "node.conf", "from node.conf", st)
    r = ctl("show", "service", "smtp")
    check("Receiver settings" in r.stdout and "max_sessions" in r.stdout,
          "the settings in the text output", r.stdout)


def test_lower_max_sessions_is_enforced_on_the_next_connection():
    a = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
    try:
        a.ehlo("a.test")
        r = ctl("set", "service", "smtp", "--max-sessions", "1")
        check("changed" in r.stdout, "the answer", r.stdout)
        check(settings()["max_sessions"] == 1, "shown as 1")
        try:
            b = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
            b.close()
            raise AssertionError("a second session was admitted with "
                                 "max_sessions 1")
        except smtplib.SMTPConnectError as e:
            check(e.smtp_code == 421, "421 at connect", e.smtp_code)
        # the session in progress is kept and finishes its message
        a.mail("alice@client.test")
        a.rcpt("bob@remote.test")
        code, _ = a.data(b"Subject: kept\r\n\r\nbody\r\n")
        check(code == 250, "the open session still queues", code)
        a.quit()
    finally:
        a.close()
        ctl("set", "service", "smtp", "--max-sessions", "100")
    send(OLD_PORT, "after")


def test_max_per_ip_is_enforced():
    a = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
    try:
        ctl("set", "service", "smtp", "--max-per-ip", "1")
        try:
            smtplib.SMTP(HOST, OLD_PORT, timeout=20).close()
            raise AssertionError("a second session from one address "
                                 "with max_per_ip 1")
        except smtplib.SMTPConnectError as e:
            check(e.smtp_code == 421, "421 at connect", e.smtp_code)
    finally:
        a.close()
        ctl("set", "service", "smtp", "--max-per-ip", "20")


def test_trusted_none_stops_relaying_for_new_sessions():
    ctl("set", "service", "smtp", "--trusted", "none")
    try:
        s = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
        try:
            s.ehlo("client.test")
            s.mail("alice@client.test")
            code, text = s.rcpt("bob@remote.test")
            check(code >= 500, "relay refused once 127.0.0.1 is not "
                  "trusted", (code, text))
        finally:
            s.close()
    finally:
        ctl("set", "service", "smtp", "--trusted", "127.0.0.1/32")
    send(OLD_PORT, "trusted-again")


def test_tls_files_turn_starttls_on_without_a_restart():
    d = os.path.join(WORK, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = make_cert(d)
    s = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
    s.ehlo("client.test")
    check(not s.has_extn("starttls"), "no STARTTLS before")
    s.close()
    ctl("set", "service", "smtp", "--tls-cert", cert, "--tls-key", key)
    s = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
    try:
        s.ehlo("client.test")
        check(s.has_extn("starttls"), "STARTTLS offered after the change")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        code, _ = s.starttls(context=ctx)
        check(code == 220, "STARTTLS works", code)
        s.ehlo("client.test")
        s.mail("alice@client.test")
        s.rcpt("bob@remote.test")
        code, _ = s.data(b"Subject: tls\r\n\r\nbody\r\n")
        check(code == 250, "a message over the new certificate", code)
        s.quit()
    finally:
        s.close()
    check(settings()["tls_cert"] == cert, "shown", settings())


def test_bad_values_are_refused_and_nothing_changes():
    before = settings()
    r = ctl("set", "service", "smtp", "--max-sessions", "0", want=None)
    check("max-sessions" in r.stderr or "1..100000" in r.stderr,
          "a clear message", r.stderr)
    ctl("set", "service", "smtp", "--listen", "nohost", want=None)
    ctl("set", "service", "smtp", "--trusted", "10.0.0.0/99", want=None)
    r = ctl("set", "service", "smtp", "--tls-cert", C.conf_path(1),
            want=None)
    check("go together" in r.stderr, "cert without key", r.stderr)
    bad = os.path.join(WORK, "not-a-cert.pem")
    with open(bad, "w") as f:
        f.write("not a certificate\n")
    r = ctl("set", "service", "smtp", "--tls-cert", bad, "--tls-key", bad,
            want=None)
    check("STARTTLS" in r.stderr, "the certificate's error", r.stderr)
    r = ctl("set", "service", "smtp", want=None)
    check("nothing to change" in r.stderr, "no setting", r.stderr)
    r = ctl("set", "service", "smtp", "--node", "2", "--max-sessions", "5",
            want=None)
    check("node 2" in r.stderr and "not a member" in r.stderr,
          "a node that is not a member is refused and the reply says why",
          r.stderr)
    after = settings()
    check(after == before, "nothing changed", (before, after))


def test_non_admin_is_refused():
    plain, _ = ensure_test_users(USER, ADMIN_USER, ADMIN_GROUP)
    r = ctl("set", "service", "smtp", "--max-sessions", "5", want=None,
            user=plain)
    check("admin" in r.stderr, "not admin", r.stderr)
    check(settings()["max_sessions"] == 100, "unchanged")


def test_bind_failure_keeps_the_old_listener_and_settings():
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind((HOST, BUSY_PORT))
    busy.listen(1)
    try:
        ovr = os.path.join(C.dir(1), "service.conf")
        text0 = open(ovr).read() if os.path.exists(ovr) else None
        r = ctl("set", "service", "smtp", "--listen",
                "%s:%d" % (HOST, BUSY_PORT), "--max-sessions", "7",
                want=None)
        check("address already in use" in r.stderr.lower(),
              "the bind error", r.stderr)
        st = settings()
        check(st["listen"] == "%s:%d" % (HOST, OLD_PORT)
              and st["max_sessions"] == 100, "nothing half-applied", st)
        text1 = open(ovr).read() if os.path.exists(ovr) else None
        check(text0 == text1, "the override file is unchanged")
        send(OLD_PORT, "after-bad-bind")
    finally:
        busy.close()


def test_override_file_not_written_changes_nothing():
    """The override file cannot be written (its temporary name is taken by
    a directory): the new listener bound in preparation is closed again
    and no setting changes."""
    blocker = os.path.join(C.dir(1), "service.conf.tmp")
    os.mkdir(blocker)
    try:
        r = ctl("set", "service", "smtp", "--listen",
                "%s:%d" % (HOST, SPARE_PORT), "--max-sessions", "9",
                want=None)
        check("cannot create" in r.stderr and "nothing changed" in r.stderr,
              "the write error", r.stderr)
        st = settings()
        check(st["listen"] == "%s:%d" % (HOST, OLD_PORT)
              and st["max_sessions"] == 100, "nothing changed", st)
        wait_until(lambda: refused(SPARE_PORT), timeout=10,
                   what="the prepared listener closed again")
        send(OLD_PORT, "after-failed-write")
    finally:
        os.rmdir(blocker)


def test_listen_moves_and_a_session_on_the_old_port_finishes():
    old = smtplib.SMTP(HOST, OLD_PORT, timeout=20)
    try:
        old.ehlo("old.test")
        old.mail("alice@client.test")
        old.rcpt("bob@remote.test")
        code, _ = old.docmd("DATA")
        check(code == 354, "354 on the old port", code)
        old.send(b"Subject: begun before the move\r\n\r\nfirst half\r\n")
        ctl("set", "service", "smtp", "--listen",
            "%s:%d" % (HOST, NEW_PORT))
        send(NEW_PORT, "new-port")
        check(refused(OLD_PORT), "the old listener is closed")
        old.send(b"second half\r\n.\r\n")
        code, text = old.getreply()
        check(code == 250, "the old session completes its DATA",
              (code, text))
        old.quit()
    finally:
        old.close()
    st = settings()
    check(st["listen"] == "%s:%d" % (HOST, NEW_PORT)
          and st["from"]["listen"] == "service.conf", "shown", st)

    def table_updated():
        nodes = show()["nodes"]
        return any(n["smtp"] == "%s:%d" % (HOST, NEW_PORT) for n in nodes)
    wait_until(table_updated, timeout=20,
               what="the node table's SMTP address")


def test_restart_keeps_the_settings():
    ctl("set", "service", "smtp", "--max-sessions", "3")
    C.kill(1, sig=signal.SIGTERM)
    C.start_node(1)
    C.wait_leader()
    st = settings()
    check(st["listen"] == "%s:%d" % (HOST, NEW_PORT), "listen kept", st)
    check(st["max_sessions"] == 3, "max_sessions kept", st)
    check(st["from"]["max_sessions"] == "service.conf", "from the "
          "override", st)
    check(refused(OLD_PORT), "node.conf's port is not used")
    send(NEW_PORT, "after-restart")
    held = [smtplib.SMTP(HOST, NEW_PORT, timeout=20) for _ in range(3)]
    try:
        try:
            smtplib.SMTP(HOST, NEW_PORT, timeout=20).close()
            raise AssertionError("a fourth session with max_sessions 3 "
                                 "after the restart")
        except smtplib.SMTPConnectError as e:
            check(e.smtp_code == 421, "421", e.smtp_code)
    finally:
        for s in held:
            s.close()


# ---- another node's settings (three nodes) ----

def three():
    """C3, started on first use."""
    if not _c3_up[0]:
        C3.start()
        C3.wait_leader()
        _c3_up[0] = True
    return C3


def ctl3(i, *argv, want=0):
    """smtpctl against node i of C3 (want as ctl())."""
    r = three().smtpctl(i, *argv)
    if want is None:
        check(r.returncode != 0, "smtpctl %s on node %d: a non-zero exit"
              % (argv, i), (r.stdout, r.stderr))
    else:
        check(r.returncode == want, "smtpctl %s on node %d: exit %d, want %d"
              % (argv, i, r.returncode, want), (r.stdout, r.stderr))
    return r


def settings3(i, node=None):
    """show service smtp --json on node i's socket (of node, if given):
    its settings member."""
    argv = ["show", "service", "smtp", "--json"]
    if node is not None:
        argv += ["--node", str(node)]
    return json.loads(ctl3(i, *argv).stdout)["settings"]


def sessions_admitted(i, most):
    """How many SMTP sessions node i's receiver admits at once (at most
    most + 1 tried): a session is admitted when its greeting is 220."""
    held = []
    try:
        for _ in range(most + 1):
            try:
                held.append(smtplib.SMTP(C3.host(i), PORT3, timeout=20))
            except smtplib.SMTPConnectError as e:
                check(e.smtp_code == 421, "421 past the limit", e.smtp_code)
                break
        return len(held)
    finally:
        for h in held:
            h.close()


def test_set_another_node_from_this_nodes_socket():
    three()
    check(settings3(2)["max_sessions"] == 100, "node 2 starts at 100")
    check(sessions_admitted(2, 3) == 4, "node 2 admits 4 before")
    r = ctl3(1, "set", "service", "smtp", "--node", "2", "--max-sessions",
             "3", "--json")
    res = json.loads(r.stdout)
    check(res["node"] == 2 and res["changed"] == ["max_sessions"],
          "node 2 answers for itself", res)
    st = settings3(2)
    check(st["node"] == 2 and st["max_sessions"] == 3
          and st["from"]["max_sessions"] == "service.conf",
          "node 2's own socket shows the change", st)
    check(settings3(1)["max_sessions"] == 100, "node 1 keeps its own")
    check(settings3(3)["max_sessions"] == 100, "node 3 keeps its own")
    check(sessions_admitted(2, 4) == 3, "node 2's receiver admits 3")
    check(sessions_admitted(1, 4) == 5, "node 1's receiver is not limited")


def test_show_another_node_from_this_nodes_socket():
    st = settings3(1, node=2)
    check(st["node"] == 2 and st["max_sessions"] == 3
          and st["override_file"].startswith(C3.dir(2)),
          "node 2's settings through node 1", st)
    r = ctl3(1, "show", "service", "smtp", "--node", "2")
    check("Receiver settings" in r.stdout and C3.dir(2) in r.stdout,
          "the text output", r.stdout)


def test_another_nodes_bad_value_is_refused_with_its_reason():
    # smtpctl takes the text; node 2's receiver refuses it
    r = ctl3(1, "set", "service", "smtp", "--node", "2", "--trusted",
             "10.0.0.0/99", want=1)
    check("node 2 refused" in r.stderr and "not a network" in r.stderr,
          "node 2's reason", r.stderr)
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind((C3.host(2), PORT3 + 1))
    busy.listen(1)
    try:
        r = ctl3(1, "set", "service", "smtp", "--node", "2", "--listen",
                 "%s:%d" % (C3.host(2), PORT3 + 1), want=1)
        check("node 2 refused" in r.stderr
              and "address already in use" in r.stderr.lower(),
              "node 2's bind error", r.stderr)
    finally:
        busy.close()
    st = settings3(2)
    check(st["max_sessions"] == 3 and
          st["listen"] == "%s:%d" % (C3.host(2), PORT3), "unchanged", st)


def test_unknown_node_id_is_refused():
    for argv in (["set", "service", "smtp", "--max-sessions", "5"],
                 ["show", "service", "smtp"]):
        r = ctl3(1, *(argv + ["--node", "9"]), want=1)
        check("node 9" in r.stderr and "not a member" in r.stderr,
              "a clear error", r.stderr)


def test_stopped_node_is_unreachable():
    C3.kill(3, sig=signal.SIGTERM)
    try:
        r = ctl3(1, "set", "service", "smtp", "--node", "3",
                 "--max-sessions", "5", want=75)
        check("node 3 could not be asked" in r.stderr, "unreachable",
              r.stderr)
    finally:
        C3.start_node(3)
    check(settings3(3)["max_sessions"] == 100, "node 3 unchanged")


def test_frozen_node_is_unreachable_and_the_asker_keeps_serving():
    """Node 3 stopped with SIGSTOP: its kernel takes the connection, the
    node never answers. Node 1 answers the request "unreachable" and,
    while it waits, its other requests."""
    three()
    os.kill(C3.pid(3), signal.SIGSTOP)
    try:
        p = subprocess.Popen(
            [SMTPCTL, "-s", C3.sock(1), "set", "service", "smtp", "--node",
             "3", "--max-sessions", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            check(settings3(1)["node"] == 1, "node 1 answers meanwhile")
            _, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check(p.returncode == 75 and "node 3 could not be asked" in err,
              "unreachable", (p.returncode, err))
    finally:
        os.kill(C3.pid(3), signal.SIGCONT)
    check(settings3(3)["max_sessions"] == 100, "node 3 unchanged")


def _frame(ftype, body, req=7):
    return struct.pack(">IBBHIQ", 0x53434631, ftype, 1, 0, len(body),
                       req) + body


def _service_set_max_sessions(node, value):
    v = value.encode()
    body = (struct.pack(">BQI", 7, node, 0x10)
            + struct.pack(">I", len(v)) + v + b"\0")
    return _frame(3, body)


def _ask_peer_port(i, cert_of, data):
    """Send data to node i's forwarding port with node cert_of's cluster
    certificate and hello; the ADMIN_RESULT: (status, message)."""
    cert, key = C3.node_cert(cert_of)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection((C3.host(i), C3.raft_port() + 1),
                                   timeout=20)
    s = ctx.wrap_socket(raw)
    try:
        s.sendall(struct.pack(">IIQ", 0x53434831, 1, cert_of) + data)
        got = b""
        for _ in range(1000):
            if len(got) >= 20 and len(got) >= 20 + struct.unpack(
                    ">I", got[8:12])[0]:
                break
            d = s.recv(65536)
            if not d:
                break
            got += d
        check(len(got) >= 24 and got[4] == 4, "an ADMIN_RESULT", got[:24])
        status = struct.unpack(">i", got[20:24])[0]
        n = struct.unpack(">I", got[24:28])[0]
        return status, got[28:28 + n].decode()
    finally:
        s.close()


def test_a_frame_from_a_node_that_is_not_a_member_is_refused():
    three()
    st, msg = _ask_peer_port(2, 4, _service_set_max_sessions(2, "1"))
    check(st < 0 and "not a member" in msg, "refused", (st, msg))
    check("not a member" in C3.log(2), "logged on node 2")
    check(settings3(2)["max_sessions"] == 3, "unchanged")
    # the positive control: a member's certificate gets node 2's answer
    st, msg = _ask_peer_port(2, 1, _service_set_max_sessions(2, "0"))
    check(st == 0 and json.loads(msg)["error"] == "usage",
          "a member is answered (with node 2's refusal of 0)", (st, msg))


def test_another_nodes_change_survives_its_restart():
    C3.kill(2, sig=signal.SIGTERM)
    C3.start_node(2)
    C3.wait_leader()
    st = settings3(2)
    check(st["max_sessions"] == 3
          and st["from"]["max_sessions"] == "service.conf", "kept", st)
    check(sessions_admitted(2, 4) == 3, "still enforced")
    st = settings3(1, node=2)
    check(st["max_sessions"] == 3, "and shown through node 1", st)


class Both:
    """Stop and dump both clusters (run_cluster_suite's c)."""

    def stop(self):
        try:
            C3.stop()
        finally:
            C.stop()

    def dump_logs(self, *a, **kw):
        C.dump_logs(*a, **kw)
        if _c3_up[0]:
            C3.dump_logs(*a, **kw)


def setup():
    C.start()
    C.wait_leader()


if __name__ == "__main__":
    run_cluster_suite(Both(), WORK, setup, [
        test_show_service_smtp_shows_the_receiver_settings,
        test_lower_max_sessions_is_enforced_on_the_next_connection,
        test_max_per_ip_is_enforced,
        test_trusted_none_stops_relaying_for_new_sessions,
        test_tls_files_turn_starttls_on_without_a_restart,
        test_bad_values_are_refused_and_nothing_changes,
        test_non_admin_is_refused,
        test_bind_failure_keeps_the_old_listener_and_settings,
        test_override_file_not_written_changes_nothing,
        test_listen_moves_and_a_session_on_the_old_port_finishes,
        test_restart_keeps_the_settings,
        test_set_another_node_from_this_nodes_socket,
        test_show_another_node_from_this_nodes_socket,
        test_another_nodes_bad_value_is_refused_with_its_reason,
        test_unknown_node_id_is_refused,
        test_stopped_node_is_unreachable,
        test_frozen_node_is_unreachable_and_the_asker_keeps_serving,
        test_a_frame_from_a_node_that_is_not_a_member_is_refused,
        test_another_nodes_change_survives_its_restart,
    ])
