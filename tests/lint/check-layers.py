#!/usr/bin/env python3
"""check-layers.py — the architecture rules of docs/architecture.md, checked.

1. No arrow up: spool/codec includes nothing of spool/store, raft or src;
   spool/ includes nothing of raft/ or src/; raft/ nothing of src/; cli/
   nothing of spool/store, raft or src.
2. No circle between modules: module A's .c includes B.h while B's .c
   includes A.h (A != B). A header NAME_impl.h private to a folder is the
   folder's, not a module's, and is not counted here; with --binaries the
   objects are checked too: no two objects call each other (A uses a
   symbol B defines and B one of A's), except the pairs in ALLOW, which
   are halves of one concern.
3. No production C file over 700 lines unless its header comment says why
   it is one concern (a line "Long because: ..." in its first 40 lines).
4. With --binaries: build/smtpclusterd defines no symbol of a cli/ object
   and none of src/testhooks/; build/smtpctl is not linked against
   libraft, libuv or liblmdb.
Prints each violation and exits 1 if there is any.
"""
import os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(ROOT)
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
bad = []

def files(top, exts=(".c", ".h")):
    for d, _, fs in os.walk(top):
        for f in sorted(fs):
            if f.endswith(exts):
                yield os.path.join(d, f)

def includes(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        return INC.findall(fh.read())

# The one exception to "cli/ includes nothing of src/": the clock, which
# needs libc only (src/base/clock.h says so), so smtpctl and the daemon share
# one home for reading and formatting time.
ALLOW_INCLUDE = {"src/base/clock.h"}

RULES = [
    ("spool/codec/", ("spool/store/", "raft/", "src/")),
    ("spool/", ("raft/", "src/")),
    ("raft/", ("src/",)),
    ("cli/", ("spool/store/", "raft/", "src/")),
]
for top, banned in RULES:
    for f in files(top):
        for inc in includes(f):
            if inc.startswith(banned) and inc not in ALLOW_INCLUDE:
                bad.append("%s includes %s (an arrow up)" % (f, inc))

# 2. circles between modules
mods = {}
for top in ("spool", "raft", "src", "cli"):
    for f in files(top, (".c",)):
        mods[f[:-2]] = f
uses = {}
for m, c in mods.items():
    u = set()
    for inc in includes(c):
        if inc.endswith("_impl.h"):
            continue
        base = inc[:-2]
        if base in mods and base != m:
            u.add(base)
    uses[m] = u
for a in sorted(uses):
    for b in sorted(uses[a]):
        if a < b and a in uses.get(b, ()):
            bad.append("circle: %s.c and %s.c include each other's header" % (a, b))

# 3. long files
for top in ("spool", "raft", "src", "cli"):
    for f in files(top, (".c",)):
        with open(f, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
        if len(lines) > 700 and not any("Long because:" in l for l in lines[:40]):
            bad.append("%s has %d lines and no 'Long because:' in its header" % (f, len(lines)))

# Pairs of objects that may call each other: one concern in two files.
ALLOW = {
    # the session engine and its verb table: the verbs are the engine's
    # transitions, and the engine dispatches to them
    ("src/smtpd/smtp_session", "src/smtpd/smtp_verbs"),
    # the SMTP client's engine and its reply handlers (one state machine
    # split for size: the handlers are its transitions)
    ("src/delivery/smtp_client", "src/delivery/smtp_client_reply"),
    # a delivery attempt and its kinds of group: the attempt starts each
    # group, a group reports its recipients' outcomes to its attempt
    ("src/delivery/deliver", "src/delivery/deliver_group"),
    ("src/delivery/deliver", "src/delivery/deliver_local"),
    ("src/delivery/deliver", "src/delivery/deliver_remote"),
    # a control connection and its requests: the connection hands each line
    # to dispatch, dispatch answers on that connection; the credential
    # lookup runs off the loop and resumes the connection it was made for
    ("src/control/control", "src/control/control_dispatch"),
    ("src/control/control", "src/control/control_cred"),
}

def object_circles():
    objs = [o for o in files("build", (".o",))
            if not o.startswith(("build/asan/", "build/fuzz/", "build/test/"))]
    dfn, und = {}, {}
    for o in objs:
        out = subprocess.run(["nm", o], capture_output=True, text=True).stdout
        d, u = set(), set()
        for l in out.splitlines():
            p = l.split()
            if len(p) == 3 and p[1] in "TDBR":
                d.add(p[2])
            elif len(p) == 2 and p[0] == "U":
                u.add(p[1])
        dfn[o], und[o] = d, u
    owner = {s: o for o in objs for s in dfn[o]}
    g = {o: {owner[s] for s in und[o] if s in owner and owner[s] != o} for o in objs}
    for a in sorted(g):
        for b in sorted(g[a]):
            pa, pb = a[len("build/"):-2], b[len("build/"):-2]
            if a < b and a in g[b] and (pa, pb) not in ALLOW:
                bad.append("circle: %s.o and %s.o call each other" % (pa, pb))

# 4. binaries
if "--binaries" in sys.argv:
    object_circles()
    def defined(obj):
        out = subprocess.run(["nm", "--defined-only", "-g", obj], capture_output=True, text=True).stdout
        return {l.split()[-1] for l in out.splitlines() if len(l.split()) >= 3}
    daemon = defined("build/smtpclusterd")
    for top in ("build/cli", "build/src/testhooks"):
        if not os.path.isdir(top):
            continue
        for o in files(top, (".o",)):
            if o.endswith("/smtpctl.o"):
                continue
            both = defined(o) & daemon
            if both:
                bad.append("build/smtpclusterd holds %s from %s" % (sorted(both)[0], o))
    ldd = subprocess.run(["ldd", "build/smtpctl"], capture_output=True, text=True).stdout
    for lib in ("libraft", "libuv", "liblmdb"):
        if lib in ldd:
            bad.append("build/smtpctl is linked against %s" % lib)

for b in bad:
    print("layers:", b)
print("layers: %s" % ("%d violation(s)" % len(bad) if bad else "clean"))
sys.exit(1 if bad else 0)
