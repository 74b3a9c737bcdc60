"""cluster.py — the integration tests' shared library: a local cluster of
real smtpclusterd processes, the control protocol spoken directly, smtpctl
runs, and a tiny test runner.

Layout (one directory per node under workdir):
    workdir/nodeN/node.conf          generated config (static peers)
    workdir/nodeN/control.sock       control socket
    workdir/nodeN/smtpclusterd.log   the daemon's stdout and stderr
Node N listens on 127.0.0.N: SMTP on base_port+25, raft on base_port+1,
forwarding on base_port+2 (the raft port + 1). Its own mail domain is
nodeN.cluster.test.

The cluster ports run mutual TLS: workdir/ca holds the cluster CA and
each node's certificate (deploy/cluster-ca.sh, made on first use; node
N's is ca/node-N.pem, ca/node-N.key), and every node.conf names them.
IT_CLUSTER_PLAINTEXT=1 writes "[cluster] insecure_plaintext = true"
instead (only to measure what TLS costs; a test must not rely on it).

Mail delivery (the symbiont) is off unless asked for: delivery=None writes
"[delivery] enabled = false", so the spool only changes by what a test
does; delivery={...} (a dict of [delivery] keys, {} for the defaults)
turns it on. cluster_domain="cluster.test" sets the replicated cluster
domain (set configuration smtp) once a leader is known (wait_leader or
set_config do it).

With workdir=None a temporary directory is made, and removed when the
"with" block ends without an exception (kept, and its path printed, after
a failure, or always with $SMTPCLUSTER_KEEP=1).

Processes: every daemon started here dies with the test process
(PR_SET_PDEATHSIG), and SIGTERM/SIGINT to the test process unwind through
the callers' finally blocks, so Cluster.stop() runs. Binaries come from
the repository's build/ directory: build/test/smtpclusterd, the test daemon
with the debug commands, and build/smtpctl (override with $SMTPCLUSTERD,
$SMTPCTL).

    c = Cluster(workdir, n=3)
    try:
        c.start()
        leader = c.wait_leader()
        r = c.ctl(leader, "debug noop")
    finally:
        c.stop()
"""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.join(REPO, "build")
# the test daemon (make test-daemon): the production objects plus the
# "debug" control commands these tests use (src/testhooks/)
DAEMON = os.environ.get("SMTPCLUSTERD",
                        os.path.join(BUILD, "test", "smtpclusterd"))
SMTPCTL = os.environ.get("SMTPCTL", os.path.join(BUILD, "smtpctl"))
CLUSTER_CA = os.path.join(REPO, "deploy", "cluster-ca.sh")

LINE_MAX = 1024 * 1024  # the control protocol's request line limit

# The test daemon is an ASan+UBSan build (Makefile): a memory error or
# undefined behaviour stops the node with a report in its log, which
# Cluster.stop() collects and run_tests() turns into a failure of the test
# that was running. Leaks are not checked (a node stopped by SIGTERM or
# SIGKILL leaves its allocations to the kernel); libfaketime preloaded
# before the ASan runtime is allowed (verify_asan_link_order=0).
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0:"
                    "halt_on_error=1:abort_on_error=0:exitcode=99",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|runtime error:|"
                          r"ERROR: UndefinedBehaviorSanitizer")
# reports found so far: list of "node N: line" strings (run_tests looks at
# what a test added)
SANITIZER_REPORTS = []


class ClusterError(Exception):
    """The cluster did not do what a helper waited for."""


class SkipTest(Exception):
    """Raised by a test that cannot run here (reported as SKIP)."""


def _pdeathsig():
    """In the child: die with SIGKILL when the test process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _raise_on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


signal.signal(signal.SIGTERM, _raise_on_term)


def _render_conf(sections):
    """INI text from {section: {key: value or [values]}}."""
    out = []
    for sect, keys in sections.items():
        out.append("[%s]" % sect)
        for k, v in keys.items():
            for item in v if isinstance(v, list) else [v]:
                if isinstance(item, bool):
                    item = "true" if item else "false"
                out.append("%s = %s" % (k, item))
        out.append("")
    return "\n".join(out)


class Cluster:
    """A local cluster of smtpclusterd processes on 127.0.0.1..127.0.0.n."""

    def __init__(self, workdir=None, n=3, base_port=17000, extra_conf=None,
                 delivery=None, cluster_domain=None, smtp=None):
        self.delivery = delivery  # None: no symbiont; dict: [delivery]
        self.cluster_domain = cluster_domain
        self._domain_set = False
        self.smtp = smtp  # dict of extra [smtp] keys, or None
        self.own_workdir = workdir is None
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="smtpcluster-it-")
        self.workdir = os.path.abspath(workdir)
        self.n = n
        self.base_port = base_port
        self.extra_conf = extra_conf
        self.procs = {}  # node id -> subprocess.Popen
        self.members = list(range(1, n + 1))  # the static initial members
        os.makedirs(self.workdir, exist_ok=True)
        # other users (the non-admin tests) must reach the sockets
        os.chmod(self.workdir, 0o755)

    # ---- addresses and paths ----

    def host(self, i):
        return "127.0.0.%d" % i

    def raft_port(self):
        return self.base_port + 1

    def raft_addr(self, i):
        return "%s:%d" % (self.host(i), self.raft_port())

    def peer_addr(self, i):
        return "%s:%d" % (self.host(i), self.raft_port() + 1)

    def smtp_addr(self, i):
        return "%s:%d" % (self.host(i), self.base_port + 25)

    def smtp_port(self):
        return self.base_port + 25

    def domain(self, i):
        return "node%d.cluster.test" % i

    def activity_log_path(self, i):
        return os.path.join(self.dir(i), "activity.log")

    def dir(self, i):
        return os.path.join(self.workdir, "node%d" % i)

    def sock(self, i):
        return os.path.join(self.dir(i), "control.sock")

    def ca_dir(self):
        return os.path.join(self.workdir, "ca")

    def node_cert(self, i):
        """(cert, key) of node i, issued by the cluster CA on first use
        (deploy/cluster-ca.sh); the CA is made with the first one."""
        d = self.ca_dir()
        if not os.path.exists(os.path.join(d, "ca.pem")):
            subprocess.run([CLUSTER_CA, "ca", d], check=True,
                           stdout=subprocess.DEVNULL)
            os.chmod(d, 0o755)
        cert = os.path.join(d, "node-%d.pem" % i)
        key = os.path.join(d, "node-%d.key" % i)
        if not os.path.exists(cert):
            subprocess.run([CLUSTER_CA, "node", d, str(i)], check=True,
                           stdout=subprocess.DEVNULL)
        return cert, key

    def conf_path(self, i):
        return os.path.join(self.dir(i), "node.conf")

    def log_path(self, i):
        return os.path.join(self.dir(i), "smtpclusterd.log")

    # ---- configuration ----

    def conf_sections(self, i, peers=None, bootstrap=False):
        """The config of node i as {section: {key: value}}; peers is a list
        of node ids (None: the static members)."""
        if peers is None:
            peers = self.members
        if os.environ.get("IT_CLUSTER_PLAINTEXT") == "1":
            # measurement only (make bench without TLS): never the default
            tls = {"insecure_plaintext": "true"}
        else:
            cert, key = self.node_cert(i)
            tls = {"tls_ca": os.path.join(self.ca_dir(), "ca.pem"),
                   "tls_cert": cert, "tls_key": key}
        s = {
            "node": {
                "id": i,
                "name": "NODE%d" % i,
                "data_dir": self.dir(i),
                "domain": self.domain(i),
            },
            "smtp": {"listen": self.smtp_addr(i)},
            "cluster": dict({"address": self.raft_addr(i)}, **tls),
            "control": {"socket": self.sock(i)},
            "log": {"level": "info"},
        }
        if self.smtp:
            s["smtp"].update(self.smtp)
        if self.delivery is None:
            s["delivery"] = {"enabled": False}
        else:
            d = self.delivery(i) if callable(self.delivery) else self.delivery
            s["delivery"] = dict(d)
        if bootstrap:
            s["cluster"]["bootstrap"] = True
        if peers:
            s["cluster"]["peer"] = ["%d %s" % (p, self.raft_addr(p))
                                    for p in peers]
        extra = self.extra_conf
        if callable(extra):
            extra = extra(i)
        if isinstance(extra, dict):
            for sect, keys in extra.items():
                s.setdefault(sect, {}).update(keys)
        return s, extra if isinstance(extra, str) else ""

    def write_conf(self, i, peers=None, bootstrap=False):
        os.makedirs(self.dir(i), exist_ok=True)
        os.chmod(self.dir(i), 0o755)
        sections, tail = self.conf_sections(i, peers, bootstrap)
        text = "; generated by tests/integration/cluster.py\n"
        text += _render_conf(sections) + tail + "\n"
        with open(self.conf_path(i), "w") as f:
            f.write(text)

    # ---- processes ----

    def launcher(self, i):
        """argv put before the daemon's for node i (a subclass runs it in a
        network namespace or under faketime); nothing here."""
        return []

    def start(self, timeout=15):
        """Write the configs (static peers, identical on every node) and
        start every node."""
        for i in self.members:
            if not os.path.exists(self.conf_path(i)):
                self.write_conf(i)
        for i in self.members:
            self.start_node(i, wait=False)
        for i in self.members:
            self.wait_socket(i, timeout)

    def start_node(self, i, wait=True, timeout=15, args=()):
        """Start node i with its existing config (written if missing)."""
        if self.alive(i):
            raise ClusterError("node %d is already running" % i)
        if not os.path.exists(self.conf_path(i)):
            self.write_conf(i)
        if not os.access(DAEMON, os.X_OK):
            raise ClusterError("%s not built (run make test-daemon)" % DAEMON)
        log = open(self.log_path(i), "ab")
        log.write(b"==== cluster.py: start node %d at %s\n"
                  % (i, time.strftime("%H:%M:%S").encode()))
        log.flush()
        env = dict(os.environ)
        for k, v in SANITIZER_ENV.items():
            env.setdefault(k, v)
        self.procs[i] = subprocess.Popen(
            self.launcher(i) + [DAEMON, "-c", self.conf_path(i)] + list(args),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_pdeathsig, env=env, cwd=self.workdir)
        log.close()
        if wait:
            self.wait_socket(i, timeout)

    def wait_socket(self, i, timeout=15):
        """Wait until node i's control socket accepts a connection."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive(i):
                raise ClusterError("node %d exited (%s) at start:\n%s" % (
                    i, self.procs[i].returncode, self.log_tail(i)))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock(i))
                s.close()
                return
            except OSError:
                s.close()
                time.sleep(0.05)
        raise ClusterError("node %d: no control socket after %ss:\n%s"
                           % (i, timeout, self.log_tail(i)))

    def add_node(self, i, wait=True):
        """Write a joiner config for node i (no peers, no bootstrap) and
        start it; then ask the cluster to "cluster add" it yourself."""
        self.write_conf(i, peers=[], bootstrap=False)
        self.start_node(i, wait=wait)

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def live_nodes(self):
        return sorted(i for i in self.procs if self.alive(i))

    def pid(self, i):
        p = self.procs.get(i)
        return p.pid if p is not None else None

    def kill(self, i, sig=signal.SIGKILL, timeout=15):
        """Send sig to node i; for SIGKILL and SIGTERM wait (bounded) for it
        to exit. Returns the exit code, or None if it still runs."""
        p = self.procs.get(i)
        if p is None or p.poll() is not None:
            return p.returncode if p is not None else None
        p.send_signal(sig)
        if sig not in (signal.SIGKILL, signal.SIGTERM):
            return None
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=15):
        """SIGTERM every node, wait (bounded), SIGKILL the stragglers.
        Returns {node: exit code}. Safe to call more than once."""
        codes = {}
        for i, p in self.procs.items():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        for i, p in self.procs.items():
            left = max(0.1, deadline - time.monotonic())
            try:
                codes[i] = p.wait(left)
            except subprocess.TimeoutExpired:
                sys.stderr.write("cluster.py: node %d did not stop in %ss, "
                                 "SIGKILL\n" % (i, timeout))
                p.kill()
                codes[i] = p.wait()
        self.collect_sanitizer_reports()
        return codes

    def collect_sanitizer_reports(self):
        """Append every sanitizer report line of the node logs not seen
        before to SANITIZER_REPORTS (and print it). Returns how many were
        new."""
        seen = getattr(self, "_sanitizer_seen", set())
        self._sanitizer_seen = seen
        new = 0
        for i in sorted(self.procs):
            try:
                text = self.log(i)
            except OSError:
                continue
            for n, line in enumerate(text.splitlines()):
                if (i, n) in seen or not SANITIZER_RE.search(line):
                    continue
                seen.add((i, n))
                SANITIZER_REPORTS.append("node %d: %s" % (i, line.strip()))
                print("cluster.py: sanitizer report, node %d: %s"
                      % (i, line.strip()), flush=True)
                new += 1
        return new

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.dump_logs()
        self.stop()
        if exc_type is None:
            self.cleanup()
        else:
            print("cluster.py: logs kept in %s" % self.workdir)
        return False

    def cleanup(self):
        """Remove the workdir if this Cluster made it (workdir=None) and
        $SMTPCLUSTER_KEEP is not set. Call after stop()."""
        if self.own_workdir and not os.environ.get("SMTPCLUSTER_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- logs ----

    def log(self, i):
        try:
            with open(self.log_path(i), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, i, lines=30):
        return "\n".join(self.log(i).splitlines()[-lines:])

    # routine lines that would push the state changes out of a dump
    _ROUTINE = re.compile(r" (info|debug): control: uid \d+ pid \d+: "
                          r"[^:]*-> ok$")

    def dump_logs(self, lines=60):
        """Print the last lines of every node's log, leaving out the
        routine "control: ... -> ok" lines (counted instead)."""
        for i in sorted(self.procs):
            all_lines = self.log(i).splitlines()
            kept = [ln for ln in all_lines if not self._ROUTINE.search(ln)]
            sys.stdout.write(
                "---- node %d log (last %d lines; %d routine control "
                "lines left out) ----\n%s\n"
                % (i, lines, len(all_lines) - len(kept),
                   "\n".join(kept[-lines:])))

    # ---- control protocol ----

    def ctl_raw(self, i, data, timeout=10):
        """Send raw bytes to node i's control socket; return the first line
        answered (bytes, b"" if the node closed first)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock(i))
            s.sendall(data)
            return _read_line(s)
        finally:
            s.close()

    def ctl(self, i, cmd, args=None, timeout=10):
        """One request to node i; returns the answer as a dict
        ({"v":1,"ok":...}). Raises OSError if the node cannot be reached."""
        req = {"v": 1, "cmd": cmd, "args": args or {}}
        line = self.ctl_raw(i, (json.dumps(req) + "\n").encode(), timeout)
        if not line:
            raise ConnectionError("node %d closed the connection" % i)
        return json.loads(line)

    def smtpctl(self, i, *argv, user=None, timeout=60, env=None):
        """Run build/smtpctl -s SOCKET ARGV... against node i; user=(uid,
        gid) runs it as that user through setpriv, without supplementary
        groups. Returns subprocess.CompletedProcess (text)."""
        cmd = [SMTPCTL, "-s", self.sock(i)] + [str(a) for a in argv]
        if user is not None:
            uid, gid = user
            cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                   "--clear-groups"] + cmd
        e = dict(os.environ)
        e.pop("SMTPCTL_SOCKET", None)
        if env:
            e.update(env)
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, env=e)

    # ---- waiting ----

    def status(self, i, timeout=5):
        """Node i's "cluster status" result, or None."""
        try:
            r = self.ctl(i, "cluster status", timeout=timeout)
        except (OSError, ValueError):
            return None
        return r.get("result") if r.get("ok") else None

    def wait_leader(self, timeout=45, nodes=None):
        """Poll "cluster status" on the live nodes (or nodes) until all of
        them answer and agree on one leader; returns its id."""
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            ids = nodes if nodes is not None else self.live_nodes()
            last = {i: self.status(i, timeout=3) for i in ids}
            leaders = set()
            for st in last.values():
                ld = st.get("leader") if st else None
                leaders.add(ld.get("id") if isinstance(ld, dict) else None)
            if ids and len(leaders) == 1 and None not in leaders:
                leader = leaders.pop()
                if self.cluster_domain and not self._domain_set:
                    self.set_config(leader,
                                    cluster_domain=self.cluster_domain)
                return leader
            time.sleep(0.1)
        raise ClusterError("no agreed leader after %ss: %s"
                           % (timeout, json.dumps(last)))

    def set_config(self, i, timeout=20, **kv):
        """set configuration smtp through node i: cluster_domain="x",
        interval_initial=1000 (numbers for numeric keys, strings for
        strings, None to reset). Retries on no_quorum until timeout."""
        items = []
        for k, v in kv.items():
            if v is None:
                items.append({"key": k, "reset": True})
            elif isinstance(v, int) and not isinstance(v, bool):
                items.append({"key": k, "num": v})
            else:
                items.append({"key": k, "str": str(v)})
        deadline = time.monotonic() + timeout
        while True:
            r = self.ctl(i, "set configuration smtp", {"items": items},
                         timeout=timeout)
            if r.get("ok"):
                if "cluster_domain" in kv:
                    self._domain_set = True
                return r
            if r.get("code") != "no_quorum" or time.monotonic() > deadline:
                raise ClusterError("set configuration smtp %s: %s"
                                   % (kv, r))
            time.sleep(0.2)

    def wait_converged(self, timeout=30, nodes=None):
        """Poll "debug snapshot-hash" until every live node (or nodes) has
        the same hash and applied count; returns the hash."""
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            ids = nodes if nodes is not None else self.live_nodes()
            last = {}
            for i in ids:
                try:
                    r = self.ctl(i, "debug snapshot-hash", timeout=5)
                    last[i] = (r["result"]["sha256"], r["result"]["applied"]
                               ) if r.get("ok") else None
                except (OSError, ValueError, KeyError):
                    last[i] = None
            vals = set(last.values())
            if ids and len(vals) == 1 and None not in vals:
                return vals.pop()[0]
            time.sleep(0.2)
        raise ClusterError("spools did not converge after %ss: %s"
                           % (timeout, last))


def _read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def ensure_test_users(user, admin_user, admin_group):
    """Create an ordinary test user, an admin test user and the admin group
    when missing (root only; SkipTest otherwise); (uid, gid) of each."""
    import grp
    import pwd
    import shutil
    if os.geteuid() != 0:
        raise SkipTest("not root: cannot create the test users")
    for tool in ("useradd", "groupadd", "setpriv"):
        if shutil.which(tool) is None:
            raise SkipTest("%s is not installed" % tool)
    try:
        grp.getgrnam(admin_group)
    except KeyError:
        subprocess.run(["groupadd", admin_group], check=True)
    for name, groups in ((user, []), (admin_user, [admin_group])):
        try:
            pwd.getpwnam(name)
        except KeyError:
            cmd = ["useradd", "-M", "-s", "/usr/sbin/nologin"]
            if groups:
                cmd += ["-G", ",".join(groups)]
            subprocess.run(cmd + [name], check=True)
    plain = pwd.getpwnam(user)
    adm = pwd.getpwnam(admin_user)
    return (plain.pw_uid, plain.pw_gid), (adm.pw_uid, adm.pw_gid)


def wait_until(pred, timeout=20, interval=0.1, what="condition"):
    """Poll pred() until it returns a true value (returned) or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise ClusterError("timed out after %ss waiting for %s" % (timeout, what))


def run_tests(tests):
    """Run each test function; print PASS/FAIL/SKIP per test (with the
    traceback of a failure) and "N passed, N failed"; exit 1 on any
    failure. IT_ONLY=SUBSTRING runs only the tests whose name has it
    (for a quick look at one test by hand)."""
    passed = failed = skipped = 0
    only = os.environ.get("IT_ONLY", "")
    for t in tests:
        name = t.__name__
        if only and only not in name:
            continue
        t0 = time.monotonic()
        reports = len(SANITIZER_REPORTS)
        try:
            t()
            if len(SANITIZER_REPORTS) > reports:
                raise AssertionError("sanitizer report(s) from a node:\n"
                                     + "\n".join(SANITIZER_REPORTS[reports:]))
        except SkipTest as e:
            if os.environ.get("CI") == "true":
                # in CI a missing tool or privilege is a failure: a green
                # CI run means every test ran
                failed += 1
                print("FAIL %s: would skip under CI=true: %s" % (name, e),
                      flush=True)
                continue
            skipped += 1
            print("SKIP %s: %s" % (name, e), flush=True)
            continue
        except KeyboardInterrupt:
            print("FAIL %s: interrupted" % name, flush=True)
            failed += 1
            break
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs)" % (name, time.monotonic() - t0))
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            continue
        passed += 1
        print("PASS %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
    print("%d passed, %d failed%s" % (passed, failed,
          ", %d skipped" % skipped if skipped else ""), flush=True)
    sys.exit(1 if failed else 0)


def run_cluster_suite(c, work, setup, tests):
    """Run setup() then the tests (run_tests) against cluster c; always stop
    c; on failure dump the node logs and keep work, else remove it. Exits
    with run_tests' status."""
    try:
        setup()
        run_tests(tests)
    except SystemExit as e:
        code = e.code
    except BaseException:
        c.dump_logs()
        raise
    else:
        code = 0
    finally:
        c.stop()
    if not code and SANITIZER_REPORTS:
        print("FAIL: sanitizer report(s) from a node:\n"
              + "\n".join(SANITIZER_REPORTS), flush=True)
        code = 1
    if code:
        c.dump_logs()
    if code or os.environ.get("SMTPCLUSTER_KEEP"):
        print("logs kept in %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)
