"""The API key shows nowhere: not in the daemon's command line or environment,
not in the mount table, not in its log (even at debug level), not in any file
of the mount. Any key up to 4096 bytes is sent whole, from the environment or
a key file; a longer one is refused. The daemon is not dumpable: no core file,
and a process of its uid without CAP_SYS_PTRACE cannot read its memory. In its
memory the key is only where the daemon keeps it: libcurl's copies are wiped."""

import errno
import os
import random
import subprocess

import harness
from harness import Env, one_line, read_file, refetch, refusal, run, wait_status

# Every printable byte but the space (what main.c's key_ok() accepts), quotes included.
PRINTABLE = [chr(c) for c in range(0x21, 0x7f)]


def long_key(n):
    """n printable bytes, random but the same at each run (seeded by n)."""
    rng = random.Random(n)
    return "".join(rng.choice(PRINTABLE) for _ in range(n))


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
    assert run(f"echo 'text all' > {d.agent(42, 'run')}")[0] == 0   # a test run: POST and GETs


def assert_key_hidden(d, key, results=False):
    """The key is in no file of the mount; results/ of every agent too when results (it reads
    some 600 results' files, so one test does it)."""
    raw = key.encode()
    with open(f"/proc/{d.pid}/cmdline", "rb") as f:
        assert raw not in f.read(), "the key is in the daemon's command line"
    with open(f"/proc/{d.pid}/environ", "rb") as f:
        assert raw not in f.read(), "the key is in /proc/PID/environ"
    with open("/proc/mounts", "rb") as f:
        assert raw not in f.read(), "the key is in /proc/mounts"
    # grep over every file of the mount (`refetch` and `tools-refetch` are write-only: grep
    # says so, -s hushes it), leaving out what blocks by design, as the README says: the
    # `wait` of a result still running blocks up to result_wait_timeout (its text is the
    # `summary` read beside it).
    code, out, err, _ = run(["grep", "-r", "-s", "-l", "-F", "--exclude=*wait", "--exclude=events",
                             *([] if results else ["--exclude-dir=results"]), "-e", key, d.mnt],
                            shell=False, timeout=60)
    assert out == "" and code != 0, (code, out, err)
    # And Python reads every readable file, to be sure grep did read them.
    read = 0
    for root, dirs, files in os.walk(d.mnt):
        if not results and "results" in dirs:
            dirs.remove("results")
        for name in files:
            path = os.path.join(root, name)
            if not os.stat(path).st_mode & 0o444:
                continue  # write-only: refetch, tools-refetch, end-calls
            if name == "wait" and os.path.basename(os.path.dirname(root)) == "results":
                continue  # a result's wait blocks while it runs; its summary is read
            try:
                assert key not in read_file(path), path
                read += 1
            except OSError as e:  # `wait` of a failed import
                assert name == "wait" and e.errno == errno.EREMOTEIO, (path, e)
    assert read >= 120 * 4 - 1, read


def test_key_from_the_environment_shows_nowhere():
    with Env(opts={"loglevel": "debug"}) as env:  # its close checks stderr for the key too
        sim, d = env.sim, env.daemon
        exercise(sim, d)
        # before the walk: reading agent 72's failed results makes their line its error line
        assert read_file(d.agent(72, "error")).startswith("refetch: HTTP 401: ")
        assert_key_hidden(d, sim.key, results=True)
        err = d.stderr()
        assert "debug" in err and len(err.splitlines()) > 10, err  # debug logging was on
        assert sim.key not in err
        assert sim.key not in read_file(os.path.join(d.state_dir, "progress-ids"))
        log = [e for e in sim.log() if e["path"].find("/72/") < 0]
        assert log and all(e["key_ok"] for e in log), log


def test_key_from_a_file_shows_nowhere():
    with Env(opts={"loglevel": "debug"}, key_via="file") as env:
        d = env.daemon
        assert len(os.listdir(d.path("agents"))) == 120
        refetch(d, 42)
        wait_status(d, 42)
        assert_key_hidden(d, env.sim.key)
        assert env.sim.key not in d.stderr()


def mounts_with(key, key_via):
    """A daemon given key (via "env" or "file") mounts and lists the agents, every
    request carries the key whole, and the key shows nowhere."""
    with Env(key=key, opts={"loglevel": "debug"}, key_via=key_via) as env:
        d = env.daemon
        code, out, err, _ = run(f"ls {d.path('agents')}")
        assert code == 0 and len(out.split()) == 120, (code, out, err)
        assert_key_hidden(d, key)
        assert key not in d.stderr()
        d.stop()  # checks stderr for the key too
        log = env.sim.log()
        assert log and all(e["key_ok"] for e in log), [e for e in log if not e["key_ok"]][:3]


def test_a_1000_byte_key_from_the_environment_is_sent_whole():
    mounts_with(long_key(1000), "env")


def test_a_1000_byte_key_from_a_file_is_sent_whole():
    mounts_with(long_key(1000), "file")


def test_a_4096_byte_key_from_the_environment_is_sent_whole():
    mounts_with(long_key(4096), "env")


def test_a_4096_byte_key_from_a_file_is_sent_whole():
    mounts_with(long_key(4096), "file")


def test_a_key_over_4096_bytes_is_refused_with_one_line():
    for via in ("env", "file"):
        code, err, _ = refusal(opts={"api_url": "http://127.0.0.1:9"}, key=long_key(4097),
                               key_via=via)
        assert code != 0 and one_line(err), (code, err)
        assert "longer than 4096 bytes" in err, (via, err)
        assert ("CEKURA_API_KEY" if via == "env" else "api_key_file") in err, (via, err)


# A process of the daemon's uid without CAP_SYS_PTRACE may open a dumpable
# process's /proc/PID/mem, not a non-dumpable one's (the kernel's ptrace access
# check, as for PTRACE_ATTACH). As root, both the daemon and the reader run
# without CAP_SYS_PTRACE, which would override it: same uid, same capabilities.
# Not root: same uid, no capabilities, nothing to drop.
WITHOUT_PTRACE = ["setpriv", "--bounding-set=-sys_ptrace", "--"] if os.geteuid() == 0 else []


def mem_opens_without_ptrace(pid):
    """Whether a process of our uid without CAP_SYS_PTRACE can open /proc/PID/mem."""
    code, _, err, _ = run(WITHOUT_PTRACE + ["dd", f"if=/proc/{pid}/mem", "of=/dev/null", "count=0",
                                            "status=none"], shell=False)
    assert code == 0 or "Permission denied" in err, (code, err)
    return code == 0


def test_the_daemon_is_not_dumpable():
    # The control: a dumpable process started the same way lets the reader in.
    control = subprocess.Popen(WITHOUT_PTRACE + ["sleep", "60"], start_new_session=True)
    try:
        harness.wait_until(lambda: os.readlink(f"/proc/{control.pid}/exe").endswith("/sleep"),
                           what="sleep to start")
        assert mem_opens_without_ptrace(control.pid), "the control process is not readable"
    finally:
        control.kill()
        control.wait()
    with Env(start=False) as env:
        d = env.daemon
        if WITHOUT_PTRACE:
            wrapper = os.path.join(d.dir, "without-ptrace")
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\nexec {" ".join(WITHOUT_PTRACE)} {d.binary} "$@"\n')
            os.chmod(wrapper, 0o755)
            d.binary = wrapper  # exec'd twice: the daemon keeps the pid
        d.start()
        assert len(os.listdir(d.path("agents"))) == 120
        assert not mem_opens_without_ptrace(d.pid), "the daemon is dumpable"


def key_copies_in_memory(pid, key):
    """How many times the most frequent 48-byte piece of key is in the process's
    writable memory (read through /proc/PID/mem: needs CAP_SYS_PTRACE)."""
    pieces = [key[i:i + 48].encode() for i in range(0, len(key) - 47, 48)]
    counts = [0] * len(pieces)
    with open(f"/proc/{pid}/maps") as f:
        maps = [line.split() for line in f]
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for m in maps:
            lo, hi = (int(x, 16) for x in m[0].split("-"))
            if not m[1].startswith("rw") or hi - lo > 1 << 30:  # a sanitizer's shadow
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for i, piece in enumerate(pieces):
                counts[i] += data.count(piece)
    return max(counts)


def test_the_key_is_in_memory_only_where_the_daemon_keeps_it():
    """The configuration's copy and the API client's: libcurl's copies of the
    header (formatted, grown by realloc) are wiped as they are freed, and no
    register saved by the lazy symbol resolver leaves a piece on the stack."""
    if os.geteuid() != 0:
        print("    skipped: needs root (to read the non-dumpable daemon's memory)")
        return
    sanitized = harness.sanitized()
    for via in ("env", "file"):
        key = long_key(1000)
        with Env(key=key, key_via=via) as env:
            exercise(env.sim, env.daemon)  # GETs, POSTs, polls, a 401
            # A sanitizer runtime keeps its own copy of the initial environment.
            allowed = 3 if via == "env" and sanitized else 2
            copies = key_copies_in_memory(env.daemon.pid, key)
            assert copies <= allowed, f"key via {via}: {copies} copies in memory"
