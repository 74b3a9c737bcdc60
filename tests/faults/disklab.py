"""disklab.py — the fault harness's disks: a small tmpfs for a node's
data_dir, and a ballast file that fills it to a chosen level while the
node runs (the full-disk scenarios of faults.py).

    mount(path, mb)     a tmpfs of mb MiB on path (created if missing)
    fill(path, leave)   a ballast file on path's filesystem, leaving about
                        `leave` bytes free; returns its size
    unfill(path)        the ballast removed: the space comes back
    umount_all()        every mount made here, removed (lazily)
    sweep(prefix)       mounts left under prefix by a killed run, removed

The ballast is a file, not mail: the spool drains as the nodes deliver, so
mail alone would not hold the disk at a level; a file holds it exactly
below the node's reserve ([node] min_free_mb) without reaching ENOSPC,
which is what the reserve exists to avoid. Every mount is recorded here
and removed by umount_all(), which the harness calls from its finally
block (also after an error or SIGTERM/SIGINT); sweep() removes the
leftovers of a run that was killed before it could. Needs root (mount).
"""

import os
import subprocess

BALLAST = "ballast.fill"
_mounted = []  # mount points made here, in order


def mount(path, mb):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o",
                    "size=%dm,mode=0755" % mb, "tmpfs", path], check=True)
    _mounted.append(path)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """Fill path's filesystem with a ballast file until about `leave`
    bytes are free; returns the ballast's size in bytes."""
    size = max(0, free_bytes(path) - leave)
    fd = os.open(os.path.join(path, BALLAST), os.O_WRONLY | os.O_CREAT,
                 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)
    return size


def unfill(path):
    try:
        os.unlink(os.path.join(path, BALLAST))
    except FileNotFoundError:
        pass


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, check=False)
    if path in _mounted:
        _mounted.remove(path)


def umount_all():
    for p in reversed(list(_mounted)):
        umount(p)


def sweep(prefix):
    """Remove tmpfs mounts whose mount point starts with prefix (left by
    a run that was killed)."""
    try:
        with open("/proc/mounts") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        parts = line.split()
        if len(parts) > 2 and parts[2] == "tmpfs" and \
                parts[1].startswith(prefix):
            subprocess.run(["umount", "-l", parts[1]], capture_output=True,
                           check=False)
