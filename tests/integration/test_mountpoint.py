"""The mount point, the options and the state directory are checked before the
first request to the API (README "Installing, fstab, systemd", Exit status):
a regular file, a missing directory, a directory inside a cekurafs mount, a
cekurafs mount, a dead mount (`run fusermount3 -u <dir>`), an unknown -o option
and a state directory where no file can be made are each refused at once with
one line on stderr, exit status 1, nothing mounted and no connection to the
API. SIGHUP during start-up (a key check that hangs) is ignored; -o
auto_unmount removes the mount when the daemon is killed."""

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile

import harness
from harness import Daemon, fuse_mounts, is_mounted, one_line, os_errno, read_file, run, wait_until

ENV = {"agents": 120}


class Silent:
    """A loopback port that listens and never answers: the api_url of a daemon
    that must refuse before its first request. The kernel completes every
    connection attempt into the accept queue, where connections() counts it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connections(self):
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return n
            conn.close()
            n += 1

    def close(self):
        self.sock.close()


def mounts_on(path):
    return fuse_mounts().count(os.path.realpath(path))


def refuse_quietly(mnt, opts=None, state_dir=None):
    """Starts a daemon on mnt with the API at a Silent port; it must refuse with
    exit status 1, at once, without a connection. Returns its one line."""
    api = Silent()
    d = Daemon(None, state_dir=state_dir, opts=dict(opts or {}, api_url=api.url))
    d.mnt = mnt  # set after: Daemon() would make the directory
    harness.created_mounts.append(os.path.realpath(mnt))
    try:
        code, err = d.start_refused(timeout=5)
        assert code == 1, (code, err)
        one_line(err)
        assert api.connections() == 0, err
        assert d.refused_seconds < 2 * harness.SLOW, d.refused_seconds
        return err
    finally:
        api.close()
        d.cleanup()


def test_a_regular_file_or_a_missing_directory_is_refused():
    top = tempfile.mkdtemp(prefix="cekurafs-mnt-")
    try:
        path = os.path.join(top, "file")
        with open(path, "w") as f:
            f.write("not a directory\n")
        err = refuse_quietly(path)
        assert err == f"cekurafs: mount point {path}: not a directory\n", err
        assert read_file(path) == "not a directory\n"

        missing = os.path.join(top, "missing")
        err = refuse_quietly(missing)
        assert err == f"cekurafs: mount point {missing}: No such file or directory\n", err
        assert not os.path.exists(missing)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_directory_inside_a_cekurafs_mount_is_refused(env):
    for where in (env.daemon.path("agents"), env.agent(42)):
        assert os.path.isdir(where)
        err = refuse_quietly(where)
        assert err == (f"cekurafs: mount point {where} is inside the cekurafs mount on {env.mnt}: "
                       f"use one outside it\n"), err
    assert len(os.listdir(env.daemon.path("agents"))) == 120  # the mount serves on


def test_a_cekurafs_mount_is_refused(env):
    for where in (env.mnt, env.mnt + "/"):
        err = refuse_quietly(where)
        assert err == (f"cekurafs: mount point {where} is already a cekurafs mount "
                       f"(fusermount3 -u {env.mnt} unmounts it)\n"), err
    assert mounts_on(env.mnt) == 1
    assert len(os.listdir(env.daemon.path("agents"))) == 120


def test_a_dead_mount_is_refused_with_the_command_that_clears_it(env):
    first = env.new_daemon()
    first.start()
    mnt = os.path.realpath(first.mnt)
    first.crash()
    try:
        assert os_errno(os.stat, mnt) == errno.ENOTCONN
        for where in (mnt, os.path.join(mnt, "agents")):  # the dead mount, a directory below it
            err = refuse_quietly(where)
            assert err == (f"cekurafs: mount point {where}: Transport endpoint is not connected "
                           f"(a dead mount): run fusermount3 -u {mnt}\n"), err
    finally:
        first.clear_dead_mount()  # fusermount3 -uz
    # What the line says works: the point takes a new mount.
    second = env.new_daemon(mnt=mnt)
    second.start()
    assert len(os.listdir(second.path("agents"))) == 120
    assert second.stop() == 0


def test_a_mistyped_option_is_refused_before_any_request():
    top = tempfile.mkdtemp(prefix="cekurafs-mnt-")
    try:
        err = refuse_quietly(top, opts={"poll_intervall": "1"})
        assert "poll_intervall=1" in err and "unknown option" in err, err
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_state_dir_where_no_file_can_be_made_is_refused_before_any_request():
    """Root passes every mode check, so the directory is made unwritable for
    root too: a read-only mount of it (its lock file, mounted on top, stays
    writable, so that only the check of the directory can refuse), and an
    immutable directory (chattr +i)."""
    top = tempfile.mkdtemp(prefix="cekurafs-state-")
    mnt = os.path.join(top, "mnt")
    os.mkdir(mnt)
    undo = []
    try:
        source, ro, lock = (os.path.join(top, n) for n in ("source", "ro", "lock"))
        for p in (source, ro):
            os.mkdir(p)
        for p in (os.path.join(source, "lock"), lock):
            open(p, "w").close()
        code, _, err, _ = run(["mount", "--bind", "-o", "ro", source, ro], shell=False)
        assert code == 0, err
        undo.append(["umount", ro])
        code, _, err, _ = run(["mount", "--bind", lock, os.path.join(ro, "lock")], shell=False)
        assert code == 0, err
        undo.append(["umount", os.path.join(ro, "lock")])
        cases = [(ro, "Read-only file system")]

        immutable = os.path.join(top, "immutable")
        os.mkdir(immutable)
        open(os.path.join(immutable, "lock"), "w").close()
        if shutil.which("chattr") and run(["chattr", "+i", immutable], shell=False)[0] == 0:
            undo.append(["chattr", "-i", immutable])
            cases.append((immutable, "Operation not permitted"))

        for state_dir, why in cases:
            err = refuse_quietly(mnt, state_dir=state_dir)
            assert err == (f"cekurafs: state_dir {state_dir}: cannot create a file in it ({why}): "
                           f"progress ids could not be saved\n"), err
            assert os.listdir(state_dir) == ["lock"]
            assert read_file(os.path.join(state_dir, "lock")) == ""
    finally:
        for cmd in reversed(undo):
            subprocess.run(cmd, capture_output=True, timeout=10)
        shutil.rmtree(top, ignore_errors=True)


def test_sighup_during_start_up_is_ignored(env):
    # The key check hangs for 2 s (less than the daemon's timeout of 5 s).
    env.sim.add_fault(match="/short_list/", method="GET", kind="stall", seconds=2, count=1)
    since = env.sim.last_seq()
    d = env.new_daemon()
    try:
        d.start(wait=False)
        wait_until(lambda: env.sim.requests(kind="list", since=since), timeout=10,
                   what="the daemon's key check to reach the simulator")
        assert not is_mounted(d.mnt)
        os.kill(d.pid, signal.SIGHUP)
        d.wait_mounted()
        log = env.sim.requests(since=since)
        assert log[0]["path"].endswith("/short_list/") and log[0]["status"] == 200, log
        # Once the loop runs, SIGHUP drops the caches and the daemon serves on.
        os.kill(d.pid, signal.SIGHUP)
        assert len(os.listdir(d.path("agents"))) == 120
        assert d.alive()
        assert d.stop() == 0
    finally:
        env.sim.clear_faults()


def test_auto_unmount_removes_the_mount_when_the_daemon_is_killed(env):
    d = env.new_daemon(opts={"auto_unmount": None})
    d.start()
    assert len(os.listdir(d.path("agents"))) == 120
    d.crash()  # kill -9
    wait_until(lambda: not is_mounted(d.mnt), timeout=10, what="the mount to go with its daemon")
    assert os.listdir(d.mnt) == []
    # And a clean stop still exits 0 and unmounts.
    d.start()
    assert d.stop() == 0
    assert not is_mounted(d.mnt)
