"""At home on a Linux system: make install into a DESTDIR, a real fstab mount
through the mount helper, the status files of .cekurafs/, and the log line of
a failure."""

import errno
import os
import shutil
import subprocess
import tempfile

import harness
from harness import (ROOT, daemon_stats, errname, is_mounted, os_errno, read_file, run, wait_until,
                     write_file)

ENV = {"agents": 12}


def make(*args):
    """Runs make in the project, the binary under test standing for the build's
    (-o: never rebuild it, it may be a sanitizer build)."""
    daemon = os.path.abspath(harness.DAEMON)
    return subprocess.run(["make", "-s", "-C", ROOT, f"DAEMON={daemon}", "-o", daemon, *args],
                          capture_output=True, text=True, timeout=120)


def test_install_into_a_destdir_and_uninstall():
    dest = tempfile.mkdtemp(prefix="cekurafs-destdir-")
    try:
        r = make("install", f"DESTDIR={dest}", "PREFIX=/usr")
        assert r.returncode == 0, r.stderr
        binary = os.path.join(dest, "usr/bin/cekurafs")
        assert os.access(binary, os.X_OK)
        assert os.path.isfile(os.path.join(dest, "usr/share/man/man1/cekurafs.1"))
        for helper in ("mount.cekurafs", "mount.fuse.cekurafs"):
            assert os.readlink(os.path.join(dest, "sbin", helper)) == "/usr/bin/cekurafs", helper
        for example in ("refetch-all", "refetch-and-wait"):
            assert os.access(os.path.join(dest, "usr/share/cekurafs/examples", example), os.X_OK)
        code, out, err, _ = run(f"{binary} --version")
        assert code == 0 and out.startswith("cekurafs "), (code, out, err)
        r = make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
        assert r.returncode == 0, r.stderr
        left = [os.path.join(d, f) for d, _, files in os.walk(dest) for f in files]
        left += [os.path.join(d, f) for d, dirs, _ in os.walk(dest) for f in dirs
                 if os.path.islink(os.path.join(d, f))]
        assert left == [], left
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_fstab_line_mounts_through_the_mount_helper(env):
    """mount -T FILE with a fuse.cekurafs line runs /sbin/mount.fuse.cekurafs, which
    must take SOURCE MOUNTPOINT -o ... and ignore _netdev, noauto, x-systemd.*."""
    helper = "/sbin/mount.fuse.cekurafs"
    if os.geteuid() != 0:
        print("    skipped: needs root (a mount helper in /sbin)")
        return
    work = tempfile.mkdtemp(prefix="cekurafs-fstab-")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    key = os.path.join(work, "key")
    with open(key, "w") as f:
        f.write(env.sim.key + "\n")
    os.chmod(key, 0o600)
    fstab = os.path.join(work, "fstab")
    with open(fstab, "w") as f:
        f.write(f"# a test fstab\ncekurafs {mnt} fuse.cekurafs api_key_file={key},api_url={env.sim.url},"
                f"state_dir={work}/state,_netdev,noauto,nofail,users,x-systemd.automount,allow_other"
                " 0 0\n")
    backup = helper + ".cekurafs-test-backup"
    had = os.path.lexists(helper)
    if had:
        os.rename(helper, backup)
    try:
        os.symlink(os.path.abspath(harness.DAEMON), helper)
        env_vars = {k: v for k, v in os.environ.items() if k != "CEKURA_API_KEY"}
        r = subprocess.run(["mount", "-T", fstab, mnt], capture_output=True, text=True, timeout=30,
                           env=env_vars)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert is_mounted(mnt)
        with open("/proc/mounts") as f:
            line = next(ln for ln in f if f" {mnt} " in ln)
        assert line.split()[:3] == ["cekurafs", mnt, "fuse.cekurafs"], line
        assert env.sim.key not in line
        assert sorted(os.listdir(os.path.join(mnt, "agents")), key=int) == [str(i) for i in range(1, 13)]
        r = subprocess.run(["umount", mnt], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: not is_mounted(mnt), timeout=10, what="the fstab mount to go")
    finally:
        if is_mounted(mnt):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        if os.path.lexists(helper):
            os.unlink(helper)
        if had:
            os.rename(backup, helper)
        shutil.rmtree(work, ignore_errors=True)


def test_status_files_version_config_and_stats(env):
    root = os.listdir(env.mnt)
    assert sorted(root) == [".cekurafs", "agents"], root
    assert sorted(os.listdir(env.daemon.path(".cekurafs"))) == ["config", "stats", "version"]
    assert read_file(env.daemon.path(".cekurafs", "version")) == "cekurafs 0.1.0\n"
    config = read_file(env.daemon.path(".cekurafs", "config"))
    settings = dict(line.split(" ", 1) for line in config.splitlines())
    assert settings["api_url"] == env.sim.url and settings["api_key"] == "set", config
    assert settings["poll_interval"] == "0.2" and settings["list_ttl"] == "30", config
    assert settings["state_dir"] == env.daemon.state_dir and settings["cacert"] == "none", config
    assert env.sim.key not in config
    for name in ("version", "config", "stats"):
        path = env.daemon.path(".cekurafs", name)
        assert write_file(path, "x") == errno.EACCES, name
        size, text = os.stat(path).st_size, read_file(path).encode()
        if name == "stats":
            # The counters may move between the stat and the read (a digit or two),
            # never from nothing to a whole text.
            assert size > 0 and abs(size - len(text)) <= 16, (size, len(text))
        else:
            assert size == len(text), (name, size, len(text))

    before = daemon_stats(env.daemon)
    assert before["uptime_seconds"] >= 0 and before["requests_in_flight"] == 0
    assert os_errno(os.stat, env.agent(999, "progress")) == errno.ENOENT
    os.listdir(env.daemon.path("agents"))
    os.listdir(env.daemon.path("agents"))  # the second from the cache
    assert run(f"echo 1 > {env.agent(2, 'refetch')}")[0] == 0
    read_file(env.agent(2, "progress"))
    read_file(env.agent(2, "progress"))    # within poll_interval: no poll
    code, _, err, _ = run(f"echo 1 > {env.agent(3, 'refetch')}")  # refused: 400
    assert code != 0, err
    after = daemon_stats(env.daemon)
    sim_posts = len(env.sim.posts(2)) + len(env.sim.posts(3))
    assert after.get("requests_auto_fetch_202", 0) + after.get("requests_auto_fetch_400", 0) >= sim_posts
    assert after.get("requests_auto_fetch_400", 0) - before.get("requests_auto_fetch_400", 0) == 1
    assert after.get("requests_progress_200", 0) > before.get("requests_progress_200", 0)
    assert after["cache_hits_listing"] > before["cache_hits_listing"]
    assert after["cache_hits_progress"] > before["cache_hits_progress"]
    assert after.get("errors_ENOENT", 0) > before.get("errors_ENOENT", 0)
    assert after.get("errors_EREMOTEIO", 0) > before.get("errors_EREMOTEIO", 0)
    for name in ("retries", "coalesced_polls", "cache_hits_config", "cache_hits_negative"):
        assert name in after, name


def test_a_failure_is_one_log_line_with_agent_operation_status_and_detail(env):
    code, _, err, _ = run(f"echo 1 > {env.agent(4, 'refetch')}")
    assert code != 0 and "Remote I/O error" in err, (code, err)
    lines = [ln for ln in env.daemon.stderr().splitlines() if "agent 4:" in ln]
    assert any("agent 4: refetch: HTTP 400: Auto-fetch is not supported for provider 'custom'" in ln
               for ln in lines), lines
    assert env.sim.key not in env.daemon.stderr()


def test_source_and_mount_helper_arguments_are_accepted(env):
    """cekurafs SOURCE MOUNTPOINT -o ...,_netdev -t fuse.cekurafs -n, as mount(8) calls a helper."""
    d = env.new_daemon(opts={"x-systemd.automount": None, "_netdev": None, "defaults": None,
                             "noauto": None, "nofail": None, "users": None, "rw": None})
    d.source = "cekurafs"
    d.extra_args = ["-n", "-t", "fuse.cekurafs"]
    d.start()
    assert len(os.listdir(d.path("agents"))) == 12
    assert d.stop() == 0
    code, out, err, _ = run(f"{harness.DAEMON} a b c")
    assert code == 1 and "too many arguments" in err, (code, out, err)
    got = errname(os_errno(os.stat, env.daemon.path(".cekurafs", "nope")))
    assert got == "ENOENT", got
