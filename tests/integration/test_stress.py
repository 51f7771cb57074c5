"""Stress on a real mount: many threads on one open file, the sysfs loop on
160 files with the watcher running, poll and read of the same files in two
threads, 200 readers while SIGHUP drops the caches.

Each test runs for STRESS_SECONDS (environment; 5 by default, so that make
check stays fast; make stress runs them for 60 s under ASan and under TSan).
What they assert does not depend on timing: every read returns a whole, well
formed text (or, in the SIGHUP test, fails with an errno a caller can expect),
and the daemon stays alive. After each test the runner checks the daemon's
stderr for sanitizer reports, which is where a data race shows."""

import errno
import json
import os
import re
import select
import signal
import threading
import time

import harness
from harness import errname, read_file, run, sighup_pending, wait_until, write_file

STRESS_SECONDS = float(os.environ.get("STRESS_SECONDS", "5"))

# 400 agents: the 160 of the sysfs loop (201..400 less those whose refetch the
# simulator refuses) and a listing of 8 pages (the simulator's page cap is 50).
STAGE_SECONDS = 0.3
ENV = {"agents": 400, "stage_seconds": STAGE_SECONDS, "opts": {"poll_interval": "0.5"}}

STATUSES = ("queued", "in_progress", "completed", "failed")
LAYOUT = re.compile(
    r"(?P<status>[a-z_]+)\n"
    r"progress_id: (?P<pid>[0-9a-f-]{36})\n"
    r"current_stage:(?: [a-z_]+)?\n"
    r"stages: [0-6]/6\n"
    r"(?:error: .*\n)?"
    r"(?:stage [a-z_]+ [a-z_]+(?: [a-z_]+=\S*)*\n){6}\Z")

# What a read may fail with while the daemon is loaded and its caches dropped:
# the API answered late, or not at all. Never ENOENT (every agent read exists)
# nor ENOTCONN (the daemon died).
SENSIBLE_ERRNOS = {errno.ETIMEDOUT, errno.EAGAIN, errno.EIO, errno.ECONNRESET, errno.EINTR}


def refuses_refetch(agent):
    """The simulator answers 400 to a refetch of these (no provider, custom)."""
    return agent % 10 in (3, 4)


def start_imports(env, agents):
    """echo 1 > refetch for each agent, with imports that outlast the test:
    six stages of STRESS_SECONDS / 4, so the text changes while it runs."""
    with env.sim.stages(STRESS_SECONDS / 4):
        for a in agents:
            err = write_file(env.agent(a, "refetch"), "1\n")
            assert err == 0, f"refetch of {a}: {errname(err)}"


class Tally:
    """What the threads of a test saw: counts by kind, and the first problems."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.problems = []
        self.pids = {}  # agent -> progress ids seen in its texts

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def problem(self, text):
        with self.lock:
            self.counts["problems"] = self.counts.get("problems", 0) + 1
            if len(self.problems) < 10:
                self.problems.append(text)

    def progress(self, agent, data):
        """Checks one read of agent's progress; returns its status word, or None."""
        text = data.decode(errors="replace")
        m = LAYOUT.match(text)
        if not m or m["status"] not in STATUSES:
            self.problem(f"agents/{agent}/progress read {data!r}")
            return None
        with self.lock:
            self.pids.setdefault(agent, set()).add(m["pid"])
        return m["status"]

    def check(self, env):
        """No problem seen, every progress id seen is one the simulator gave
        the agent, and the daemon is alive and mounted."""
        assert not self.problems, f"{self.counts}: {self.problems}"
        imports = env.sim.imports()
        for agent, pids in self.pids.items():
            assert pids <= set(imports.get(str(agent), [])), (agent, pids, imports.get(str(agent)))
        assert env.daemon.alive(), env.daemon.stderr()[-3000:]
        assert harness.is_mounted(env.mnt)


def run_threads(targets, deadline):
    """Runs each callable in a thread of its own; waits for them until 30 s
    after the deadline (a thread blocked on the mount then fails the test)."""
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    end = deadline + 30 * harness.SLOW
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    stuck = sum(t.is_alive() for t in threads)
    assert stuck == 0, f"{stuck} threads still blocked 30 s after the end"


def test_concurrent_preads_of_one_open_file_see_whole_texts(env):
    """4 threads pread() offset 0 of one open .cekurafs/version, and 4 of one open
    progress of an agent mid-import: every read is one whole text."""
    code, out, err, _ = run(f"{harness.DAEMON} --version")
    assert code == 0 and out.startswith("cekurafs "), (code, out, err)
    version = (out.splitlines()[0] + "\n").encode()
    agent = 12
    start_imports(env, [agent])
    tally = Tally()
    vfd = os.open(env.daemon.path(".cekurafs", "version"), os.O_RDONLY)
    pfd = os.open(env.agent(agent, "progress"), os.O_RDONLY)
    deadline = time.monotonic() + STRESS_SECONDS

    def versions():
        while time.monotonic() < deadline:
            try:
                data = os.pread(vfd, 65536, 0)
            except OSError as e:
                return tally.problem(f"pread of version: {errname(e.errno)}")
            if data != version:
                tally.problem(f"pread of version gave {data!r}, not {version!r}")
            tally.count("version")

    def progress():
        while time.monotonic() < deadline:
            try:
                data = os.pread(pfd, 65536, 0)
            except OSError as e:
                return tally.problem(f"pread of progress: {errname(e.errno)}")
            tally.count(tally.progress(agent, data) or "bad")

    try:
        run_threads([versions] * 4 + [progress] * 4, deadline)
    finally:
        os.close(vfd)
        os.close(pfd)
    tally.check(env)
    # The import outlasts the test, so the reads saw it running.
    assert tally.counts.get("version") and tally.counts.get("in_progress"), tally.counts


def test_sysfs_loop_on_160_progress_files_with_the_watcher(env):
    """open, read, poll() with a timeout, lseek 0, read again, ... on 160 open
    progress files of agents whose imports run, in 4 threads of 40 files each
    (so reads meet the watcher's scans): each wake-up reads a whole, new text."""
    agents = [a for a in range(201, 401) if not refuses_refetch(a)]
    assert len(agents) == 160
    start_imports(env, agents)
    tally = Tally()
    fds = {}
    try:
        for a in agents:
            fds[os.open(env.agent(a, "progress"), os.O_RDONLY)] = a
        deadline = time.monotonic() + STRESS_SECONDS

        def loop(mine):
            last = {}
            poller = select.poll()
            for fd in mine:
                last[fd] = os.read(fd, 65536)
                tally.progress(fds[fd], last[fd])
                poller.register(fd, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                for fd, ev in poller.poll(min(left, 1.0) * 1000):
                    if ev != select.POLLIN:
                        return tally.problem(f"poll on agents/{fds[fd]}/progress: events {ev:#x}")
                    os.lseek(fd, 0, os.SEEK_SET)
                    data = os.read(fd, 65536)
                    if tally.progress(fds[fd], data) and data == last[fd]:
                        tally.problem(f"agents/{fds[fd]}/progress was readable, yet the same "
                                      f"text came: {data!r}")
                    last[fd] = data
                    tally.count("wake-up")

        def guarded(mine):
            try:
                loop(mine)
            except OSError as e:
                tally.problem(f"sysfs loop: {e}")

        order = list(fds)
        run_threads([lambda k=k: guarded(order[k::4]) for k in range(4)], deadline)
    finally:
        for fd in fds:
            os.close(fd)
    tally.check(env)
    # Stages last STRESS_SECONDS / 4: every import moved during the test.
    assert tally.counts.get("wake-up"), "no progress file ever became readable"


def test_poll_in_one_thread_pread_in_another_on_the_same_files(env):
    """One thread poll()s 32 open progress files while another pread()s them at
    offset 0 (an event loop and its worker sharing descriptors): the reads, the
    poll requests and the watcher's scans meet on the same open files, and each
    read is still a whole text."""
    agents = [a for a in range(101, 141) if not refuses_refetch(a)]
    start_imports(env, agents)
    tally = Tally()
    fds = {}
    try:
        for a in agents:
            fds[os.open(env.agent(a, "progress"), os.O_RDONLY)] = a
        deadline = time.monotonic() + STRESS_SECONDS

        def poller():
            p = select.poll()
            for fd in fds:
                p.register(fd, select.POLLIN)
            while time.monotonic() < deadline:
                try:
                    ready = p.poll(200)
                except OSError as e:
                    return tally.problem(f"poll: {errname(e.errno)}")
                if any(ev != select.POLLIN for _, ev in ready):
                    return tally.problem(f"poll: events {ready}")
                tally.count("poll")

        def reader():
            while time.monotonic() < deadline:
                for fd, a in fds.items():
                    try:
                        data = os.pread(fd, 65536, 0)
                    except OSError as e:
                        return tally.problem(f"pread of agents/{a}/progress: {errname(e.errno)}")
                    tally.count(tally.progress(a, data) or "bad")

        run_threads([poller, reader], deadline)
    finally:
        for fd in fds:
            os.close(fd)
    tally.check(env)
    assert tally.counts.get("poll") and tally.counts.get("in_progress"), tally.counts


def test_200_readers_while_sighup_drops_the_caches(env):
    """200 threads read progress, agent.json and the listing of agents/ while
    the daemon gets SIGHUP after SIGHUP: every read is a whole text or a
    sensible errno, and the daemon lives on."""
    running = [a for a in range(11, 31) if not refuses_refetch(a)]
    start_imports(env, running)
    everyone = sorted(str(a) for a in range(1, 401))
    tally = Tally()
    deadline = time.monotonic() + STRESS_SECONDS

    def failed(what, e):
        if e.errno in SENSIBLE_ERRNOS:
            tally.count(f"{what} {errname(e.errno)}")
        else:
            tally.problem(f"{what}: {errname(e.errno)} ({e})")

    def reader(i):
        kind = i % 3
        agent = running[i % len(running)] if kind == 0 else 41 + i % 60
        while time.monotonic() < deadline:
            try:
                if kind == 0:
                    with open(env.agent(agent, "progress"), "rb") as f:
                        tally.count(tally.progress(agent, f.read()) or "bad")
                elif kind == 1:
                    text = read_file(env.agent(agent, "agent.json"))
                    try:
                        same = json.loads(text)["id"] == agent
                    except (ValueError, KeyError, TypeError):
                        same = False
                    if not same:
                        tally.problem(f"agents/{agent}/agent.json read {text[:200]!r}")
                    tally.count("agent.json")
                else:
                    names = sorted(os.listdir(env.daemon.path("agents")))
                    if names != everyone:
                        tally.problem(f"ls agents: {len(names)} names, not the 400 ids")
                    tally.count("ls")
            except OSError as e:
                failed(("progress", "agent.json", "ls")[kind], e)

    pid = env.daemon.pid
    sighups = 0

    def signals():
        nonlocal sighups
        # Each SIGHUP once the last is handled and the readers did 50 more reads.
        try:
            while time.monotonic() < deadline and env.daemon.alive():
                os.kill(pid, signal.SIGHUP)
                sighups += 1
                wait_until(lambda: not sighup_pending(pid), timeout=5, what="SIGHUP handled")
                done = tally.total()
                wait_until(lambda: tally.total() >= done + 50 or time.monotonic() >= deadline,
                           timeout=STRESS_SECONDS + 30, what="50 more reads")
        except AssertionError as e:
            tally.problem(f"SIGHUP loop: {e}")

    run_threads([lambda i=i: reader(i) for i in range(200)] + [signals], deadline)
    tally.check(env)
    assert sighups >= 2, (sighups, tally.counts)
    assert tally.counts.get("in_progress") and tally.counts.get("agent.json") \
        and tally.counts.get("ls"), tally.counts
    assert "caches dropped" in env.daemon.stderr()
