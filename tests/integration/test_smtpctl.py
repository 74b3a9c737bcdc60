#!/usr/bin/env python3
"""test_smtpctl.py — the seed's Table 18-3 commands through smtpctl against
a real three-node cluster (issue #6). Each change is made on one node and
checked through "show" on another: START/STOP MAIL, ENABLE/DISABLE
SERVICE, SHOW SERVICE, SET/SHOW CONFIGURATION SMTP, the MX, hosts, alias
and forward tables, submit and the sendmail entry point, SHOW/SEND/REMOVE
MAIL (entries, filters, a live delivery claim), ANALYZE MAIL with
/REPAIR on injected damage, /HOLD and /DELETE; an ordinary Unix user who
may act on its own mail only; grammar errors, prefixes, help and --json;
and "no quorum" instead of a hang (last: it stops two nodes).

Mail stays queued: every node's sender is stopped first (stop mail), so a
symbiont, once there is one, leaves the test's messages alone.

Runs as root to create its Unix users (smtptest: ordinary; smtptestadm:
in the admin group smtpctltest); as another user the privilege tests print
SKIP.
"""

import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import ensure_test_users, run_cluster_suite  # noqa: E402
from cluster import SMTPCTL, Cluster, SkipTest, run_tests, wait_until  # noqa

ADMIN_GROUP = "smtpctltest"
USER = "smtptest"
ADMIN_USER = "smtptestadm"

WORK = tempfile.mkdtemp(prefix="smtpcluster-smtpctl-")
os.chmod(WORK, 0o755)
LOGDIR = os.path.join(WORK, "logs")  # [node] log_dir: where /LOG may be
os.makedirs(LOGDIR)
SMTPLOG = os.path.join(LOGDIR, "smtp.log")
C = Cluster(os.path.join(WORK, "cluster"), n=3, base_port=17500,
            extra_conf={"control": {"admin_group": ADMIN_GROUP},
                        "cluster": {"propose_timeout_ms": 3000},
                        "node": {"log_dir": LOGDIR}})


def check(cond, msg, *detail):
    if not cond:
        raise AssertionError(msg + "".join("\n  " + str(d) for d in detail))


def run(i, *argv, user=None, stdin=None, want=0):
    """smtpctl against node i; check the exit status (want, or None)."""
    r = C.smtpctl(i, *argv, user=user) if stdin is None else \
        smtpctl_input(i, argv, stdin, user)
    if want is not None:
        check(r.returncode == want, "smtpctl %s on node %d: exit %d, want %d"
              % (" ".join(map(str, argv)), i, r.returncode, want),
              "stdout: " + r.stdout, "stderr: " + r.stderr)
    return r


def smtpctl_input(i, argv, stdin, user=None):
    cmd = [SMTPCTL, "-s", C.sock(i)] + [str(a) for a in argv]
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user[0], "--regid=%d" % user[1],
               "--clear-groups"] + cmd
    env = dict(os.environ)
    env.pop("SMTPCTL_SOCKET", None)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


def js(i, *argv, user=None, stdin=None):
    """Run with --json (exit 0) and parse the result."""
    r = run(i, *argv, "--json", user=user, stdin=stdin)
    return json.loads(r.stdout)


def mail(i, *argv, user=None):
    """The entries of show mail on node i."""
    return js(i, "show", "mail", *argv, user=user)["entries"]


def names(i, *argv, user=None):
    return [e["name"] for e in mail(i, *argv, user=user)]


def eventually(pred, what, timeout=15):
    return wait_until(pred, timeout, what=what)


def queued(i, name, user=None):
    """1 if node i shows the control file name (without failing)."""
    return name in names(i, user=user)


def submit(i, rcpts, text, user=None, extra=()):
    """Submit text on node i; the control file's name, once every node
    shows it."""
    r = js(i, "submit", *extra, *rcpts, user=user, stdin=text)
    name = r["name"]
    for j in (1, 2, 3):
        eventually(lambda j=j: queued(j, name, user),
                   "%s on node %d" % (name, j))
    return name


def node_row(i, node):
    rows = js(i, "show", "service", "smtp")["nodes"]
    return [n for n in rows if n["id"] == node][0]


def setting(i, key):
    st = js(i, "show", "configuration", "smtp")["settings"]
    return [s for s in st if s["key"] == key][0]


# ---- nodes and service ----

def test_stop_and_start_mail_seen_on_another_node():
    run(1, "stop", "mail", "--node", 2)
    eventually(lambda: node_row(3, 2)["mail"] == "stopped",
               "node 2 stopped, seen on node 3")
    r = run(2, "start", "mail")  # default: this node
    check("started" in r.stdout and "NODE2" in r.stdout, "message", r.stdout)
    eventually(lambda: node_row(1, 2)["mail"] == "started",
               "node 2 started, seen on node 1")
    for n in (1, 2, 3):  # keep the test's mail queued from here on
        run(3, "sto", "ma", "--node", n)
    eventually(lambda: all(node_row(2, n)["mail"] == "stopped"
                           for n in (1, 2, 3)), "every sender stopped")
    r = run(1, "start", "mail", "--node", 9, want=1)
    check("not in the cluster" in r.stderr, "unknown node", r.stderr)


def test_disable_and_enable_service_seen_on_another_node():
    run(1, "disable", "service", "--node", 3)
    eventually(lambda: node_row(2, 3)["service"] == "disabled",
               "service of node 3 disabled, seen on node 2")
    run(2, "enable", "service", "smtp", "--node", 3)
    eventually(lambda: node_row(1, 3)["service"] == "enabled",
               "service of node 3 enabled, seen on node 1")


def smtp_banner(i):
    """The first reply line node i's receiver sends a new client."""
    host, port = C.smtp_addr(i).rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.settimeout(10)
        return s.recv(4096).decode("utf-8", "replace").split("\r\n")[0]


def test_disabled_service_refuses_new_sessions_with_421():
    """DISABLE SERVICE SMTP stops the named node's receiver taking new
    sessions (421 4.3.2), from any node; ENABLE brings it back; the other
    nodes keep serving."""
    check_banner = lambda i, code: smtp_banner(i).startswith(code)
    # the test before enables node 3 from node 2; node 3 may apply it a
    # heartbeat later
    eventually(lambda: check_banner(3, "220"), "node 3 greeting at first")
    run(1, "disable", "service", "--node", 3)
    try:
        eventually(lambda: check_banner(3, "421 4.3.2"),
                   "node 3's receiver refusing with 421 4.3.2")
        assert check_banner(2, "220"), "node 2 still serves"
        rec = js(3, "show", "service", "smtp")["statistics"]["receiver"]
        check(rec["rejected"]["disabled"] >= 1, "refusals counted", rec)
    finally:
        run(2, "enable", "service", "--node", 3)
    eventually(lambda: check_banner(3, "220"),
               "node 3's receiver greeting again after enable")


def test_show_service_lists_nodes_and_statistics():
    res = js(2, "show", "service", "smtp")
    check(sorted(n["id"] for n in res["nodes"]) == [1, 2, 3], "nodes", res)
    check(all(n["name"] == "NODE%d" % n["id"] for n in res["nodes"]),
          "names", res)
    stats = res["statistics"]
    check("receiver" in stats and "symbiont" in stats, "sections", stats)
    r = run(2, "show", "service", "smtp")
    for w in ("NODE1", "MAIL", "SERVICE", "receiver:", "symbiont:"):
        check(w in r.stdout, "human output has %s" % w, r.stdout)


# ---- configuration ----

def test_set_configuration_on_one_node_shown_on_another():
    run(2, "set", "configuration", "smtp", "--interval-initial", "45",
        "--interval-retry", "2h", "--interval-max", "5d",
        "--address-retries", "8", "--hop-count-maximum", "30",
        "--options", "relay,eight-bit,top-headers", "--queues", "3",
        "--receive-timeout", "90s", "--send-timeout-data", "4m",
        "--send-timeout-initial", "6", "--send-timeout-mail", "7m",
        "--send-timeout-receipt", "8m", "--send-timeout-termination", "11m",
        "--gateway-alternate", "relay.example.com", "--zone", "example.com",
        "--substitute-domain", "mail.example.com", "--postmaster-alias",
        "SYSTEM", "--cluster-domain", "cluster.example", "--max-message-size",
        "20m", "--max-recipients", "50", "--log", SMTPLOG,
        "--delay-warning", "90m")
    want = {"interval_initial": 45 * 60000, "interval_retry": 7200000,
            "interval_maximum": 5 * 86400000, "address_retries": 8,
            "hop_count_maximum": 30, "opt_relay": 1, "opt_eight_bit": 1,
            "opt_headers": 1, "queues": 3, "receive_timeout": 90000,
            "send_timeout_data": 240000, "send_timeout_initial": 360000,
            "send_timeout_mail": 420000, "send_timeout_receipt": 480000,
            "send_timeout_termination": 660000,
            "gateway_alternate": "relay.example.com", "zone": "example.com",
            "substitute_domain": "mail.example.com",
            "postmaster_alias": "SYSTEM", "cluster_domain": "cluster.example",
            "max_message_size": 20 * 1024 * 1024, "max_recipients": 50,
            "log": SMTPLOG, "delay_warning": 90 * 60000}

    def shown():
        st = {s["key"]: s for s in
              js(3, "show", "configuration", "smtp")["settings"]}
        return st if all(st[k]["value"] == v for k, v in want.items()) \
            else None
    st = eventually(shown, "settings on node 3")
    check(all(not st[k]["default"] for k in want), "none marked default", st)
    r = eventually(lambda: (lambda o: o if "45m" in o.stdout else None)(
        run(1, "show", "configuration", "smtp")), "settings on node 1")
    check("--interval-initial" in r.stdout and
          "/INTERVAL=INITIAL" in r.stdout and "top-headers" in r.stdout,
          "human form", r.stdout)
    run(1, "set", "conf", "smtp", "--default", "interval", "--default",
        "options", "--default", "zone", "--def", "send-timeout")
    eventually(lambda: setting(2, "interval_initial")["default"] and
               setting(2, "zone")["default"] and
               setting(2, "opt_relay")["value"] == 0 and
               setting(2, "send_timeout_data")["default"],
               "defaults back on node 2")
    r = eventually(lambda: (lambda o: o if "30m (default)" in o.stdout
                            else None)(run(3, "show", "conf", "smtp")),
                   "defaults on node 3")
    check("norelay (default)" in r.stdout, "(default) marked", r.stdout)
    run(1, "set", "conf", "smtp", "--default", "cluster-domain",
        "--default", "max-recipients", "--default", "max-message-size",
        "--default", "substitute-domain", "--default", "delay-warning")
    for i in (1, 2, 3):  # the next tests rely on the node's own domain
        eventually(lambda i=i: setting(i, "cluster_domain")["default"] and
                   setting(i, "substitute_domain")["default"],
                   "cluster domain back to its default on node %d" % i)


def test_bad_configuration_is_refused_with_exit_2():
    for argv in (["--queues", "0"], ["--queues", "many"],
                 ["--interval-initial", "1h30"], ["--zone", "bad..example"],
                 ["--options", "relay,turbo"], ["--default", "nosuch"],
                 ["--bogus", "1"], [], ["--gateway-alternate", "999.1.1.1"]):
        r = run(1, "set", "configuration", "smtp", *argv, want=2)
        check(r.stderr.startswith("smtpctl: "), "message for %s" % argv,
              r.stderr)


# ---- tables ----

def test_mx_records_set_on_one_node_shown_on_another():
    run(1, "set", "mx", "Example.COM", "mx1.example.com", "10")
    run(1, "set", "mx", "example.com", "192.0.2.7", "20")

    def mx():
        return js(3, "show", "mx", "example.com")["mx"]
    rows = eventually(lambda: mx() if len(mx()) == 2 else None, "mx on 3")
    check(rows[0] == {"domain": "example.com", "preference": 10,
                      "gateway": "mx1.example.com"}, "first record", rows)
    run(2, "remove", "mx", "example.com", "192.0.2.7")
    eventually(lambda: len(mx()) == 1, "one mx left")
    r = run(2, "remove", "mx", "example.org", want=1)
    check("no MX record" in r.stderr, "not found", r.stderr)
    run(2, "set", "mx", "example.com", "gw.example.com", "70000", want=2)


def test_hosts_set_on_one_node_shown_on_another():
    run(2, "set", "host", "relay.example.com", "192.0.2.1", "2001:db8::1")
    eventually(lambda: js(1, "show", "host")["hosts"] ==
               [{"name": "relay.example.com",
                 "addresses": ["192.0.2.1", "2001:db8::1"]}], "host on 1")
    run(3, "remove", "host", "relay.example.com")
    eventually(lambda: js(1, "show", "host")["hosts"] == [], "host gone")
    run(3, "remove", "host", "relay.example.com", want=1)
    run(3, "set", "host", "h.example.com", "1.2.3", want=2)


def test_import_aliases_with_the_ucx_fallback_name():
    d = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(d, "UCX$SMTP_LOCAL_ALIASES.TXT"), "w") as f:
        f.write("!\n! This is the local alias file.\n!\nourdomain.edu\n"
                "OurDomain1.EDU   ! a comment\n\n")

    def imp(*argv):
        return subprocess.run([SMTPCTL, "-s", C.sock(1), "import",
                               "aliases"] + list(argv), cwd=d,
                              capture_output=True, text=True, timeout=60)
    r = imp()
    check(r.returncode == 0 and "UCX$SMTP_LOCAL_ALIASES.TXT" in r.stdout,
          "import from the UCX name", r.returncode, r.stdout, r.stderr)
    eventually(lambda: js(2, "show", "aliases")["aliases"] ==
               ["ourdomain.edu", "ourdomain1.edu"], "aliases on node 2")
    with open(os.path.join(d, "TCPIP$SMTP_LOCAL_ALIASES.TXT"), "w") as f:
        f.write("first.example\n")
    r = imp()
    check(r.returncode == 0 and "TCPIP$SMTP" in r.stdout,
          "the TCPIP$ name comes first", r.stdout, r.stderr)
    eventually(lambda: js(3, "show", "aliases")["aliases"] ==
               ["first.example"], "replaced on node 3")
    with open(os.path.join(d, "bad.txt"), "w") as f:
        f.write("ok.example\n\nbad..example\n")
    r = imp("bad.txt")
    check(r.returncode == 2 and "line 3" in r.stderr, "error with its line",
          r.returncode, r.stderr)
    os.unlink(os.path.join(d, "TCPIP$SMTP_LOCAL_ALIASES.TXT"))
    os.unlink(os.path.join(d, "UCX$SMTP_LOCAL_ALIASES.TXT"))
    r = imp()
    check(r.returncode == 2 and "UCX$SMTP_LOCAL_ALIASES.TXT" in r.stderr,
          "no file found", r.returncode, r.stderr)


def test_forward_set_on_one_node_shown_on_another():
    run(3, "set", "forward", "--user", "POSTMASTER", "SYSTEM")
    run(3, "set", "forward", "SYSTEM", "--user", "TCPIP$SMTP")
    eventually(lambda: {f["user"]: f["target"] for f in
                        js(1, "show", "forward")["forward"]} ==
               {"postmaster": "SYSTEM", "tcpip$smtp": "SYSTEM"},
               "forwards on node 1")
    run(1, "remove", "forward", "--user", "tcpip$smtp")
    eventually(lambda: len(js(2, "show", "forward")["forward"]) == 1,
               "one forward left")
    r = run(1, "set", "forward", "SYSTEM", want=2)
    check("--user" in r.stderr, "needs --user", r.stderr)
    run(1, "remove", "forward", "--user", "nobody", want=1)


# ---- submit and the mail commands ----

MSG = ("Subject: test\nFrom: Root <root@example.com>\n"
       "Reply-To: Desk <desk@example.com>\nTo: bob@example.com, "
       "\"Carol\" <carol@example.org>\nBcc: hidden@example.net\n\nhello\n")


def test_submit_from_stdin_shown_on_another_node():
    name = submit(1, ["-t", "extra@example.com"], MSG)
    check("_root_" in name and name.endswith(".TCPIP_NODE1"), "name", name)
    e = mail(3, "--name", name, "--full")[0]
    check(e["user"] == "root", "user-name is the Unix user", e)
    check(e["sender"] == "Desk <desk@example.com>" and
          e["sender_header"] == "Reply-To", "sender by the 18.1.3 rule", e)
    check(e["envelope_sender"] == "root@node1.cluster.test", "envelope", e)
    rc = sorted(r["address"] for r in e["recipients"])
    check(rc == ["bob@example.com", "carol@example.org", "extra@example.com",
                 "hidden@example.net"], "recipients from -t and args", rc)
    check(all(r["state"] == "pending" for r in e["recipients"]), "pending", e)
    check(e["client"] == "localhost" and e["hops"] == 0, "client", e)


def test_substitute_domain_rewrites_the_local_sender():
    """/SUBSTITUTE_DOMAIN=NAME: locally submitted mail from a local domain
    leaves with the substitute domain, in the envelope and in From:."""
    run(1, "set", "configuration", "smtp", "--substitute-domain",
        "subst.example")
    try:
        eventually(lambda: "subst.example" in
                   run(2, "show", "configuration", "smtp").stdout,
                   "the setting on node 2")
        name = submit(2, ["sub1@example.com"], "Subject: s\n\nbody\n")
        e = mail(2, "--name", name, "--full")[0]
        check(e["envelope_sender"] == "root@subst.example",
              "default envelope sender substituted", e)
        check(e["sender"] == "<root@subst.example>", "From: added", e)
        name = submit(2, ["sub2@example.com"],
                      "From: Root <root@node2.cluster.test>\n"
                      "Subject: s\n\nbody\n",
                      extra=("-f", "root@node2.cluster.test"))
        e = mail(2, "--name", name, "--full")[0]
        check(e["envelope_sender"] == "root@subst.example",
              "given local sender substituted", e)
        check(e["sender"] == "Root <root@subst.example>",
              "From: rewritten", e)
        name = submit(2, ["sub3@example.com"],
                      "From: x@example.net\n\nbody\n",
                      extra=("-f", "other@example.net"))
        e = mail(2, "--name", name, "--full")[0]
        check(e["envelope_sender"] == "other@example.net" and
              e["sender"] == "x@example.net", "other domains kept", e)
    finally:
        run(1, "set", "configuration", "smtp", "--default",
            "substitute-domain")


def test_submit_from_a_file_and_a_bare_name_gets_the_domain():
    path = os.path.join(WORK, "msg.txt")
    with open(path, "w") as f:
        f.write("Subject: from a file\n\nbody\n")
    r = run(2, "submit", "-f", "sender@example.com", "dave", path, "--json")
    name = json.loads(r.stdout)["name"]
    eventually(lambda: queued(1, name), "file on node 1")
    e = mail(1, "--name", name)[0]
    check(e["recipients"][0]["address"] == "dave@node2.cluster.test",
          "qualified with the node's domain", e)
    check(e["envelope_sender"] == "sender@example.com", "-f", e)
    with open(path, "wb") as f:  # 8-bit text that is not UTF-8
        f.write(b"Reply-To: caf\xe9 <c@example.com>\n\nbody\n")
    r = run(2, "submit", "x@example.com", "--file", path, "--json")
    name = json.loads(r.stdout)["name"]
    eventually(lambda: queued(3, name), "8-bit message on node 3")
    e = mail(3, "--name", name)[0]
    check(e["sender"] == "caf? <c@example.com>", "shown as valid text", e)
    r = run(2, "submit", "x@example.com", "--file", "/nonexistent", want=1)
    run(2, "submit", stdin="no recipients\n", want=2)


def test_large_message_goes_in_chunks_and_the_size_limit_holds():
    line = "x" * 76 + "\n"
    text = "Subject: big\n\n" + line * (1600 * 1024 // len(line))
    name = submit(1, ["big@example.com"], text)
    e = mail(2, "--name", name)[0]
    check(e["size"] > 1600 * 1024, "the whole message arrived", e["size"])
    run(1, "set", "configuration", "smtp", "--max-message-size", "1m")
    eventually(lambda: setting(3, "max_message_size")["value"] == 1 << 20,
               "limit on node 3")
    r = run(3, "submit", "big@example.com", stdin=text, want=1)
    check("larger than the cluster's limit" in r.stderr, "refused",
          r.stderr)
    run(1, "set", "configuration", "smtp", "--default", "max-message-size")
    for i in (1, 2, 3):
        eventually(lambda i=i: setting(i, "max_message_size")["default"],
                   "limit back to its default on node %d" % i)


def test_submit_protocol_chunks_on_one_connection():
    """Raw protocol: pieces add up; another command drops a half-sent
    message; bad base64 is a usage error."""
    import base64
    import socket

    def b64(t):
        return base64.b64encode(t.encode()).decode()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(C.sock(2))
    f = s.makefile("rwb")

    def req(cmd, args):
        f.write((json.dumps({"v": 1, "cmd": cmd, "args": args}) + "\n")
                .encode())
        f.flush()
        return json.loads(f.readline())
    try:
        a = req("submit", {"recipients": ["p1@example.com"],
                           "body": b64("X-Stale: yes\n"), "more": True})
        check(a["ok"] and a["result"]["received"] == 13, "first piece", a)
        check(req("cluster status", {})["ok"], "another command")
        a = req("submit", {"recipients": ["p2@example.com"],
                           "body": b64("Subject: p\n"), "more": True})
        a = req("submit", {"body": b64("\nbody\n"), "sender": ""})
        check(a["ok"], "last piece", a)
        name = a["result"]["name"]
    finally:
        f.close()
        s.close()
    eventually(lambda: queued(1, name), "on node 1")
    e = mail(1, "--name", name)[0]
    check([r["address"] for r in e["recipients"]] == ["p2@example.com"],
          "only the second message's recipient", e)
    check(e["envelope_sender"] == "", "null sender", e)
    a = C.ctl(2, "submit", {"body": "not base64!"})
    check(not a["ok"] and a["code"] == "usage", "bad base64", a)


def test_sendmail_entry_point():
    d = tempfile.mkdtemp(dir=WORK)
    os.chmod(d, 0o755)
    link = os.path.join(d, "sendmail")
    os.symlink(SMTPCTL, link)
    env = dict(os.environ, SMTPCTL_SOCKET=C.sock(3))
    text = "To: eve@example.com\nSubject: sm\n\nline one\n.\nafter the dot\n"
    r = subprocess.run([link, "-t", "-odq", "-oem", "-f",
                        "me@example.com"], input=text, capture_output=True,
                       text=True, timeout=60, env=env)
    check(r.returncode == 0 and r.stdout == "", "sendmail -t is quiet",
          r.returncode, r.stdout, r.stderr)
    r = subprocess.run([link, "-oi", "frank@example.com"], input=text,
                       capture_output=True, text=True, timeout=60, env=env)
    check(r.returncode == 0, "sendmail -oi RCPT", r.returncode, r.stderr)
    r = subprocess.run([link, "-X", "x@example.com"], input=text,
                       capture_output=True, text=True, timeout=60, env=env)
    check(r.returncode == 64, "EX_USAGE for a bad option", r.returncode)

    def found():
        es = mail(1)
        return [e for e in es if e["envelope_sender"] == "me@example.com"
                or e["recipients"][0]["address"] == "frank@example.com"]
    es = eventually(lambda: (lambda f: f if len(f) == 2 else None)(found()),
                    "both sendmail messages on node 1")
    check({e["recipients"][0]["address"] for e in es} ==
          {"eve@example.com", "frank@example.com"}, "recipients", es)
    sizes = {e["recipients"][0]["address"]: e["size"] for e in es}
    check(sizes["eve@example.com"] < sizes["frank@example.com"],
          "without -i a lone dot ends the message", sizes)


def test_show_mail_entries_are_the_same_on_every_node():
    a = settled("root")
    check(names(3, "ROOT") == a, "user names without case for admin")
    check(len(a) >= 2, "several files", a)
    e2 = mail(3, "root", "--entry", 2)
    check(len(e2) == 1 and e2[0]["name"] == a[1] and e2[0]["entry"] == 2,
          "entry 2", e2)
    r = run(3, "show", "mail", "--entry", 999, want=1)
    check("no entry 999" in r.stderr, "missing entry", r.stderr)
    full = mail(1, "--name", a[0], "--recipient", "unsent", "--full")[0]
    check("reply" in full["recipients"][0] and "client" in full, "full", full)
    none = mail(1, "--name", a[0], "--recipient", "sent")[0]
    check(none["recipients"] == [], "no recipient sent yet", none)
    r = run(2, "show", "mail", "root")
    check("Entry 1, user root" in r.stdout and "Recipient: <" in r.stdout,
          "human form", r.stdout)


def test_send_mail_after_a_time_and_release_held_mail():
    name = submit(2, ["later@example.com"], "Subject: later\n\nx\n")
    before = int(time.time() * 1000)
    run(1, "send", "mail", "--name", name, "--after", "2h")
    eventually(lambda: mail(3, "--name", name)[0]["next_attempt"] >=
               before + 7200000 - 60000, "next attempt in two hours")
    run(3, "analyze", "mail", "root", "--hold", "0")
    eventually(lambda: mail(1, "--name", name)[0]["state"] == "held",
               "held, seen on node 1")
    r = run(2, "send", "mail", "root")
    check("requeued" in r.stdout, "send mail", r.stdout)
    eventually(lambda: all(e["state"] == "queued" for e in mail(3, "root")),
               "released everywhere")


def test_remove_mail_under_a_live_claim():
    name = submit(1, ["claimed@example.com"], "Subject: claimed\n\nx\n")
    run(2, "debug", "claim", name, "15s")  # outlives the checks below
    for i in (1, 3):
        eventually(lambda i=i: mail(i, "--name", name)[0]["state"] ==
                   "delivering", "the claim seen on node %d" % i)
    r = run(3, "remove", "mail", "--name", name, want=1)
    check("is being delivered by node 2 (lease until" in r.stderr and
          "try again later" in r.stderr, "clear refusal", r.stderr)
    r = run(1, "send", "mail", "--name", name, want=1)
    e = mail(1, "--name", name)[0]
    check(e["state"] == "delivering" and e["claim"]["node"] == 2, "claim", e)
    # wait for the end of the lease (the nodes share this host's clock)
    time.sleep(max(0.0, e["claim"]["lease_end"] / 1000.0 - time.time()) +
               0.3)
    r = run(3, "remove", "mail", "--name", name, want=1)
    check("--force" in r.stderr, "expired claim needs --force", r.stderr)
    r = run(3, "remove", "mail", "--name", name, "--force")
    check("removed 1" in r.stdout, "removed", r.stdout)
    eventually(lambda: not queued(1, name), "gone on node 1")


def settled(user):
    """user's control files, once every node shows the same list."""
    return eventually(lambda: (lambda a: a if names(2, user) == a and
                               names(3, user) == a else None)(
        names(1, user)), "the same files on every node")


def test_remove_mail_by_entry_and_the_all_guard():
    r = run(1, "remove", "mail", want=2)
    check("--all" in r.stderr, "admin must select", r.stderr)
    a = settled("root")
    run(2, "remove", "mail", "root", "--entry", len(a))
    eventually(lambda: names(3, "root") == a[:-1], "last entry removed")


def test_analyze_mail_repair_fixes_injected_damage():
    n1 = submit(1, ["d1@example.com"], "Subject: d1\n\nx\n")
    n2 = submit(1, ["d2@example.com"], "Subject: d2\n\nx\n")
    C.wait_converged(30)
    ghost = "24010100000000_ghost_0000abcd.TCPIP_NODE9"
    run(2, "debug", "damage", "due-delete", n1)
    run(2, "debug", "damage", "byuser-delete", n2)
    run(2, "debug", "damage", "body-orphan", ghost)
    rep = js(2, "analyze", "mail")
    p = rep["problems"]
    check(p["due_missing"] == 1 and p["byuser_missing"] == 1 and
          p["body_orphan"] == 1 and rep["total"] == 3, "found on node 2", rep)
    check({(x["kind"], x["name"]) for x in rep["list"]} ==
          {("due_missing", n1), ("byuser_missing", n2),
           ("body_orphan", ghost)}, "listed", rep["list"])
    check(js(1, "analyze", "mail")["total"] == 0, "node 1 is healthy")
    r = run(2, "analyze", "mail", "--repair")
    check("control files checked" in r.stdout and
          "Repaired 3 problems on this node" in r.stdout, "summary",
          r.stdout)
    check(js(2, "analyze", "mail")["total"] == 0, "nothing left on node 2")
    C.wait_converged(30)  # the replicated repair left every node equal


def test_analyze_mail_delete_before_and_since():
    name = submit(3, ["old@example.com"], "Subject: old\n\nx\n")
    res = js(1, "analyze", "mail", "root", "--delete-before", "1d")
    check(res["deleted"] == 0, "nothing older than a day", res)
    res = js(1, "analyze", "mail", "root", "--delete-since", "1h",
             "--delete-before", "now")
    check(res["deleted"] >= 1, "deleted the recent ones", res)
    for i in (1, 2, 3):
        eventually(lambda i=i: names(i, "root") == [],
                   "root's mail gone on node %d" % i)
    check(not queued(3, name), "gone")


# ---- privileges ----

def ensure_users():
    """The test users and group (made when missing); (uid, gid) of each."""
    return ensure_test_users(USER, ADMIN_USER, ADMIN_GROUP)


def test_ordinary_user_acts_on_its_own_mail_only():
    plain, _ = ensure_users()
    other = submit(1, ["x@example.com"], "Subject: root's\n\nx\n")
    r = js(2, "submit", "u1@example.com", user=plain,
           stdin="Subject: mine\n\nx\n")
    mine = r["name"]
    check("_%s_" % USER in mine and r["user"] == USER, "user-name", r)
    eventually(lambda: queued(3, mine, plain), "own mail on node 3")
    own = mail(3, user=plain)
    check(all(e["user"] == USER for e in own), "only its own", own)
    check(other not in [e["name"] for e in own], "not root's", own)
    run(1, "show", "mail", "root", user=plain, want=77)
    run(1, "show", "mail", USER, user=plain)
    run(1, "send", "mail", user=plain)
    run(1, "send", "mail", "--name", other, user=plain, want=77)
    run(1, "remove", "mail", "--name", other, user=plain, want=77)
    run(1, "remove", "mail", "root", user=plain, want=77)
    run(3, "remove", "mail", "--name", mine, user=plain)
    eventually(lambda: not queued(1, mine), "own mail removed")
    check(other in names(1), "root's mail untouched")
    for argv in (["analyze", "mail"], ["start", "mail"], ["stop", "mail"],
                 ["enable", "service"], ["disable", "service"],
                 ["set", "configuration", "smtp", "--queues", "2"],
                 ["show", "mx"], ["set", "mx", "a.example", "b.example", "1"],
                 ["remove", "mx", "a.example"], ["show", "host"],
                 ["set", "host", "h.example", "192.0.2.1"],
                 ["remove", "host", "h.example"], ["show", "forward"],
                 ["set", "forward", "--user", "a", "b"],
                 ["remove", "forward", "--user", "a"],
                 ["set", "alias", "a.example"], ["remove", "alias",
                                                 "a.example"],
                 ["debug", "damage", "due-delete", other],
                 ["debug", "claim", other, "1m"], ["debug", "noop"],
                 ["show", "aliases"], ["cluster", "status"]):
        r = run(2, *argv, user=plain, want=77)
        check("permission denied" in r.stderr, "refusal of %s" % argv,
              r.stderr)
    for argv in (["show", "configuration", "smtp"],
                 ["show", "service", "smtp"], ["help"]):
        run(3, *argv, user=plain)
    d = tempfile.mkdtemp(dir=WORK)
    os.chmod(d, 0o755)
    os.symlink(SMTPCTL, os.path.join(d, "sendmail"))
    r = subprocess.run(["setpriv", "--reuid=%d" % plain[0],
                        "--regid=%d" % plain[1], "--clear-groups",
                        os.path.join(d, "sendmail"), "-t"],
                       input="To: g@example.com\n\nvia sendmail\n",
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SMTPCTL_SOCKET=C.sock(1)))
    check(r.returncode == 0, "sendmail as the user", r.returncode, r.stderr)
    eventually(lambda: any(e["recipients"][0]["address"] == "g@example.com"
                           for e in mail(2, user=plain)), "its sendmail")

    def sendmail_as(args, text):
        return subprocess.run(["setpriv", "--reuid=%d" % plain[0],
                               "--regid=%d" % plain[1], "--clear-groups",
                               os.path.join(d, "sendmail")] + args,
                              input=text, capture_output=True, text=True,
                              timeout=60,
                              env=dict(os.environ, SMTPCTL_SOCKET=C.sock(1)))
    # -f: only the user's own address unless admin
    for forged in ("root@node1.cluster.test", "root", "",
                   USER + "@elsewhere.example"):
        r = sendmail_as(["-f", forged, "h@example.com"], "\nforged\n")
        check(r.returncode == 77 and "only an admin may send as"
              in r.stderr, "sendmail -f %r refused" % forged,
              r.returncode, r.stderr)
    check(not any(e["recipients"][0]["address"] == "h@example.com"
                  for e in mail(1, user=plain)), "nothing queued forged")
    # its own address, and -F: the full name in the From: added
    r = sendmail_as(["-f", USER + "@node1.cluster.test", "-F", "Plain User",
                     "i@example.com"], "Subject: own\n\nown\n")
    check(r.returncode == 0, "sendmail -f own -F", r.returncode, r.stderr)
    own = eventually(lambda: [e for e in mail(1, "--full", user=plain)
                              if e["recipients"][0]["address"] ==
                              "i@example.com"], "own -f queued")[0]
    check(own["envelope_sender"] == USER + "@node1.cluster.test",
          "own envelope sender", own)
    check(own["sender"] == '"Plain User" <%s@node1.cluster.test>' % USER,
          "-F in the From: field", own)
    r = sendmail_as(["-F", "Two\nLines", "j@example.com"], "\nx\n")
    check(r.returncode != 0, "a full name of two lines refused", r.stderr)


def test_sendmail_bs_speaks_smtp_with_the_sender_rule_of_f():
    """sendmail -bs: SMTP on stdin/stdout; each message goes through the
    submit path, MAIL FROM standing for -f (only an admin may send as
    another user: 550 5.7.1 at DATA); the session goes on after a
    refusal."""
    plain, _ = ensure_users()
    d = tempfile.mkdtemp(dir=WORK)
    os.chmod(d, 0o755)
    link = os.path.join(d, "sendmail")
    os.symlink(SMTPCTL, link)
    own = USER + "@node1.cluster.test"
    dialogue = ("EHLO mua.test\r\n"
                "MAIL FROM:<root@node1.cluster.test>\r\n"
                "RCPT TO:<bs1@example.com>\r\n"
                "DATA\r\nSubject: forged\r\n\r\nx\r\n.\r\n"
                "MAIL FROM:<%s>\r\n"
                "RCPT TO:<bs2@example.com>\r\n"
                "RCPT TO:<bs3@example.com>\r\n"
                "DATA\r\nSubject: own\r\nBcc: hidden@example.com\r\n\r\n"
                "..dot\r\n.\r\n"
                "QUIT\r\n" % own)
    r = subprocess.run(["setpriv", "--reuid=%d" % plain[0],
                        "--regid=%d" % plain[1], "--clear-groups", link,
                        "-bs"], input=dialogue, capture_output=True,
                       text=True, timeout=60,
                       env=dict(os.environ, SMTPCTL_SOCKET=C.sock(1)))
    check(r.returncode == 0, "sendmail -bs exit", r.returncode, r.stderr)
    lines = r.stdout.splitlines()  # text mode: CRLF reads as "\n"
    check(lines[0].startswith("220 ") and "250 ENHANCEDSTATUSCODES" in lines,
          "greeting and EHLO", r.stdout)
    refusals = [ln for ln in lines if ln.startswith("550 5.7.1")]
    check(len(refusals) == 1 and "only an admin may send as" in refusals[0],
          "forged MAIL FROM refused at DATA", r.stdout)
    ok = [ln for ln in lines if ln.startswith("250 2.0.0 Ok: queued as ")]
    check(len(ok) == 1 and lines[-1] == "221 2.0.0 Bye", "own queued",
          r.stdout)
    name = ok[0].split()[-1]
    e = eventually(lambda: [x for x in mail(2, "--full", user=plain)
                            if x["name"] == name], "the -bs message")[0]
    check(e["envelope_sender"] == own, "MAIL FROM is the sender", e)
    check(sorted(x["address"] for x in e["recipients"]) ==
          ["bs2@example.com", "bs3@example.com"], "RCPT TO recipients", e)
    check(not any(x["recipients"][0]["address"] == "bs1@example.com"
                  for x in mail(1, user=plain)), "nothing queued forged")
    # an admin (root) may send as anyone, and with -bs no recipients
    # may be given as arguments
    r = subprocess.run([link, "-bs"], input="MAIL FROM:<x@example.org>\r\n"
                       "RCPT TO:<bs4@example.com>\r\nDATA\r\n\r\nx\r\n"
                       ".\r\nQUIT\r\n", capture_output=True, text=True,
                       timeout=60,
                       env=dict(os.environ, SMTPCTL_SOCKET=C.sock(3)))
    check(r.returncode == 0 and "250 2.0.0 Ok: queued as" in r.stdout,
          "root's -bs", r.stdout, r.stderr)
    r = subprocess.run([link, "-bs", "a@example.com"], input="",
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SMTPCTL_SOCKET=C.sock(3)))
    check(r.returncode == 64, "-bs with recipients is a usage error",
          r.returncode, r.stderr)


def test_admin_group_member_may_act_on_every_users_mail():
    plain, adm = ensure_users()
    r = js(1, "show", "mail", USER, user=adm)
    check(all(e["user"] == USER for e in r["entries"]), "other's mail", r)
    run(1, "analyze", "mail", user=adm)


# ---- grammar and output ----

def test_prefixes_help_and_errors():
    check(js(1, "sh", "conf", "sm")["settings"], "prefixes")
    run(1, "sh", "serv", "smtp")
    for argv, word in ((["frob"], "unknown command"),
                       (["show"], "possible completions"),
                       (["sh", "m"], "ambiguous"),
                       (["show", "mail", "--bogus"], "unknown option"),
                       (["show", "mail", "--entry", "x"], "--entry"),
                       (["send", "mail", "--after", "someday"], "--after"),
                       (["remove", "mx"], "possible completions")):
        r = run(1, *argv, want=2)
        check(word in r.stderr, "%s: %s" % (argv, word), r.stderr)
    r = run(1, "help")
    for w in ("show mail", "send mail", "remove mail", "analyze mail",
              "start mail", "stop mail", "enable service", "disable service",
              "show service smtp", "set configuration smtp",
              "show configuration smtp", "import aliases", "set forward",
              "submit"):
        check(w in r.stdout, "help lists %s" % w, r.stdout)
    r = run(1, "help", "set", "conf")
    for w in ("--interval-initial DURATION", "--options LIST", "--default KEY",
              "--send-timeout-termination", "a plain number is minutes"):
        check(w in r.stdout, "help of set configuration: %s" % w, r.stdout)
    r = run(1, "help", "remove", "mail")
    check("--force" in r.stdout and "--all" in r.stdout, "options", r.stdout)


def test_json_on_every_kind_of_command():
    for argv in (["show", "mail"], ["show", "service", "smtp"],
                 ["show", "configuration", "smtp"], ["show", "mx"],
                 ["show", "host"], ["show", "forward"], ["show", "aliases"],
                 ["analyze", "mail"], ["start", "mail", "--node", 1],
                 ["stop", "mail", "--node", 1], ["cluster", "status"]):
        res = js(2, *argv)
        check(isinstance(res, dict), "JSON object for %s" % argv, res)
    r = run(2, "remove", "mx", "none.example", "--json", want=1)
    err = json.loads(r.stdout)
    check(err["ok"] is False and err["code"] == "not_found", "error JSON",
          err)


# ---- no quorum (last: it stops two nodes) ----

def test_no_quorum_is_reported_not_hung():
    leader = C.wait_leader()
    lone = [i for i in (1, 2, 3) if i != leader][0]
    keep = names(lone)
    for i in (1, 2, 3):
        if i != lone:
            C.kill(i)
    r = run(lone, "set", "configuration", "smtp", "--queues", "2", want=75)
    check("no quorum" in r.stderr, "set configuration", r.stderr)
    if keep:
        r = run(lone, "send", "mail", "--name", keep[0], want=75)
        check("no quorum" in r.stderr, "send mail", r.stderr)
    r = run(lone, "submit", "q@example.com", stdin="x\n", want=75)
    check("no quorum" in r.stderr, "submit", r.stderr)
    check(names(lone) == keep, "reads still work")


def main():
    def setup():
        C.start()
        C.wait_leader(30)
        # every node registers itself in the spool's node table
        for i in (1, 2, 3):
            eventually(lambda i=i: len(js(i, "show", "service", "smtp")
                                       ["nodes"]) == 3,
                       "three nodes registered, seen on node %d" % i, 30)

    run_cluster_suite(C, WORK, setup, [
        test_stop_and_start_mail_seen_on_another_node,
        test_disable_and_enable_service_seen_on_another_node,
        test_disabled_service_refuses_new_sessions_with_421,
        test_show_service_lists_nodes_and_statistics,
        test_set_configuration_on_one_node_shown_on_another,
        test_bad_configuration_is_refused_with_exit_2,
        test_mx_records_set_on_one_node_shown_on_another,
        test_hosts_set_on_one_node_shown_on_another,
        test_import_aliases_with_the_ucx_fallback_name,
        test_forward_set_on_one_node_shown_on_another,
        test_submit_from_stdin_shown_on_another_node,
        test_submit_from_a_file_and_a_bare_name_gets_the_domain,
        test_large_message_goes_in_chunks_and_the_size_limit_holds,
        test_submit_protocol_chunks_on_one_connection,
        test_sendmail_entry_point,
        test_substitute_domain_rewrites_the_local_sender,
        test_show_mail_entries_are_the_same_on_every_node,
        test_send_mail_after_a_time_and_release_held_mail,
        test_remove_mail_under_a_live_claim,
        test_remove_mail_by_entry_and_the_all_guard,
        test_analyze_mail_repair_fixes_injected_damage,
        test_ordinary_user_acts_on_its_own_mail_only,
        test_sendmail_bs_speaks_smtp_with_the_sender_rule_of_f,
        test_admin_group_member_may_act_on_every_users_mail,
        test_analyze_mail_delete_before_and_since,
        test_prefixes_help_and_errors,
        test_json_on_every_kind_of_command,
        test_no_quorum_is_reported_not_hung,
    ])


if __name__ == "__main__":
    main()
