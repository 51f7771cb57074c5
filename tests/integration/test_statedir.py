"""One daemon per state_dir (README "State"): the daemon holds <state_dir>/lock
(flock, its pid as text) for its life. A second daemon on that state_dir
refuses to start with one line naming the first one's pid, exit status 1,
nothing mounted and no API request made, while the first goes on serving; once
the first has stopped, the directory is free for the next daemon. Daemonised
(no -f), the lock file names the daemon that runs, not the parent that forked
it and exited."""

import errno
import fcntl
import os
import signal
import subprocess

import harness
from harness import is_mounted, os_errno, read_file, run, wait_until

ENV = {"agents": 120}
LOCK = "lock"


def refusal(state_dir, pid):
    return (f"cekurafs: state_dir {state_dir} is in use by another cekurafs (pid {pid}); "
            f"give this mount its own -o state_dir=DIR\n")


def lock_path(d):
    return os.path.join(d.state_dir, LOCK)


def lock_is_free(d):
    """Whether another process could take the lock now (it is given back at once)."""
    fd = os.open(lock_path(d), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the lock if this took it


def test_second_daemon_on_a_state_dir_in_use_is_refused_and_the_first_serves_on(env):
    first = env.new_daemon()
    first.start()

    # A key the API would reject: the lock is checked before the key, with no request.
    second = env.new_daemon(state_dir=first.state_dir, key="not-the-right-key-7c2e")
    since = env.sim.last_seq()
    code, err = second.start_refused()
    assert code == 1, (code, err)
    assert err == refusal(first.state_dir, first.pid), err
    assert [e for e in env.sim.log() if e["seq"] > since and not e["key_ok"]] == []
    assert read_file(lock_path(first)) == f"{first.pid}\n"  # the refused one wrote nothing
    assert os.stat(lock_path(first)).st_mode & 0o777 == 0o600
    assert not lock_is_free(first)

    # The first daemon goes on serving: a listing, a refetch stored in the state file.
    code, out, err, _ = run(f"ls {first.path('agents')}")
    assert code == 0 and "47" in out.split(), (code, err)
    code, _, err, _ = run(f"echo 1 > {first.agent(47, 'refetch')}")
    assert code == 0, err
    pid47 = env.sim.imports()["47"][-1]
    assert f"47 {pid47}\n" in read_file(os.path.join(first.state_dir, "progress-ids"))
    assert f"progress_id: {pid47}\n" in read_file(first.agent(47, "progress"))
    assert first.stop() == 0

    # Stopped, it gave the directory back: the next daemon starts there, with its ids.
    assert lock_is_free(first)
    third = env.new_daemon(state_dir=first.state_dir)
    third.start()
    assert "(1 progress ids)" in third.stderr(), third.stderr()
    assert read_file(lock_path(third)) == f"{third.pid}\n"
    assert f"progress_id: {pid47}\n" in read_file(third.agent(47, "progress"))
    assert sorted(os.listdir(third.state_dir)) == [LOCK, "progress-ids"]
    assert third.stop() == 0


def test_a_killed_daemon_leaves_the_state_dir_free(env):
    first = env.new_daemon()
    first.start()
    first.crash()  # kill -9: the kernel drops its lock with its open files
    first.clear_dead_mount()
    assert read_file(lock_path(first)) == f"{first.pid}\n"  # a stale pid, no longer a lock
    second = env.new_daemon(state_dir=first.state_dir)
    second.start()
    assert read_file(lock_path(second)) == f"{second.pid}\n"
    assert second.stop() == 0


def test_a_daemonised_daemon_names_its_own_pid(env):
    first = env.new_daemon()
    argv = [a for a in first.argv() if a != "-f"]
    err_path = os.path.join(first.dir, "stderr.daemonised")
    daemon_pid = parent = None
    try:
        # stderr to a file: a wrapper's copy of it (valgrind's) outlives the parent
        with open(err_path, "wb") as err_file:
            parent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=err_file, env=first.environ(), start_new_session=True)
        code = parent.wait(timeout=15 * harness.SLOW)  # once the child has mounted and detached
        assert code == 0, read_file(err_path)
        assert is_mounted(first.mnt)
        daemon_pid = int(read_file(lock_path(first)))
        assert daemon_pid != parent.pid and os_errno(os.kill, daemon_pid, 0) == 0, \
            (daemon_pid, parent.pid)
        assert len(os.listdir(first.path("agents"))) == 120

        second = env.new_daemon(state_dir=first.state_dir)
        code, err = second.start_refused()
        assert code == 1 and err == refusal(first.state_dir, daemon_pid), (code, err)

        code, _, err, _ = run(["fusermount3", "-u", first.mnt], shell=False)
        assert code == 0, err
        wait_until(lambda: lock_is_free(first), timeout=10, what="the daemon to exit")
        daemon_pid = None
    finally:
        if parent is not None and parent.poll() is None:
            parent.kill()
            parent.wait()
        if is_mounted(first.mnt):
            subprocess.run(["fusermount3", "-uz", first.mnt], capture_output=True, timeout=10)
        if daemon_pid is not None and os_errno(os.kill, daemon_pid, signal.SIGKILL) != errno.ESRCH:
            wait_until(lambda: lock_is_free(first), timeout=10, what="the killed daemon to go")
