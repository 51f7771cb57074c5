"""The API key shows nowhere: not in the daemon's command line or environment,
not in the mount table, not in its log (even at debug level), not in any file
of the mount."""

import errno
import os

from harness import Daemon, Sim, read_file, run, wait_status


def exercise(sim, d):
    """Makes the daemon do everything once: list, look up, refetch, poll, fail."""
    assert len(os.listdir(d.path("agents"))) == 120
    assert run(f"echo 1 > {d.agent(42, 'refetch')}")[0] == 0
    assert run(f"echo 1 > {d.agent(13, 'refetch')}")[0] != 0       # 400
    assert run(f"echo 1 > {d.agent(15, 'refetch')}")[0] == 0        # fails at tools
    sim.add_fault(match="/72/auto-fetch/", kind="status", status=401, detail="Invalid API key.")
    try:
        assert run(f"echo 1 > {d.agent(72, 'refetch')}")[0] != 0    # 401
    finally:
        sim.clear_faults()
    wait_status(d, 42)
    wait_status(d, 15)


def assert_key_hidden(d, key):
    raw = key.encode()
    with open(f"/proc/{d.pid}/cmdline", "rb") as f:
        assert raw not in f.read(), "the key is in the daemon's command line"
    with open(f"/proc/{d.pid}/environ", "rb") as f:
        assert raw not in f.read(), "the key is in /proc/PID/environ"
    with open("/proc/mounts", "rb") as f:
        assert raw not in f.read(), "the key is in /proc/mounts"
    # grep over every file of the mount (`refetch` is write-only: grep says so, -s hushes it).
    code, out, err, _ = run(f"grep -r -s -l -F -e '{key}' {d.mnt}", timeout=60)
    assert out == "" and code != 0, (code, out, err)
    # And Python reads every readable file, to be sure grep did read them.
    read = 0
    for root, _, files in os.walk(d.mnt):
        for name in files:
            path = os.path.join(root, name)
            if name == "refetch":
                continue
            try:
                assert key not in read_file(path), path
                read += 1
            except OSError as e:  # `wait` of a failed import
                assert name == "wait" and e.errno == errno.EREMOTEIO, (path, e)
    assert read >= 120 * 4 - 1, read


def test_key_from_the_environment_shows_nowhere():
    sim = Sim()
    try:
        d = Daemon(sim, opts={"loglevel": "debug"})
        try:
            d.start()
            exercise(sim, d)
            assert_key_hidden(d, sim.key)
            err = d.stderr()
            assert "debug" in err and len(err.splitlines()) > 10, err  # debug logging was on
            assert sim.key not in err
            assert read_file(d.agent(72, "error")).startswith("refetch: HTTP 401: ")
            assert sim.key not in read_file(os.path.join(d.state_dir, "progress-ids"))
        finally:
            d.stop()  # checks stderr for the key too
            d.cleanup()
        assert all(e["key_ok"] for e in sim.log() if e["path"].find("/72/") < 0)
    finally:
        sim.stop()


def test_key_from_a_file_shows_nowhere():
    sim = Sim()
    try:
        d = Daemon(sim, opts={"loglevel": "debug"}, key_via="file")
        try:
            d.start()
            assert len(os.listdir(d.path("agents"))) == 120
            assert run(f"echo 1 > {d.agent(42, 'refetch')}")[0] == 0
            wait_status(d, 42)
            assert_key_hidden(d, sim.key)
            assert sim.key not in d.stderr()
        finally:
            d.stop()
            d.cleanup()
    finally:
        sim.stop()
