#!/usr/bin/env python3
"""bench.py - `make bench`: cekurafs measured side by side with its baselines, one table.

    python3 tests/bench/bench.py --daemon build/cekurafs --floor build/bench/floorfs

Every figure is measured in the same run as its baseline (runs interleaved),
as the median over repeated runs, once with the simulator answering at once
(latency/handshake 0/0 ms) and once as a stand-in for the real API, tens of
milliseconds away over TLS (20 ms added to every response, 40 ms once per new
connection):

  cached      `stat` and `cat progress` of a completed import, per call, against
              the same calls on build/bench/floorfs (tests/bench/floorfs.c, the
              least a FUSE file system can do): in-process system calls
              (stat(); open, read to the end, close) and the commands themselves
  uncached    `cat progress` of a running import with poll_interval=0 (one GET
              per cat), against `curl -s` of the same URL with the same key
  fan-out     `echo 1 > agents/N/refetch` for 1,000 agents through `xargs -P 16`,
              against the same POSTs through `xargs -P 16 curl`; the requests
              and connections each made, from the simulator's log; diagnostic
              rows: the same POSTs from one `curl -Z` over 16 kept-alive
              connections, and cekurafs with its state file on tmpfs
  readers     64 concurrent `cat progress` loops on one running import for 10 s:
              the progress GETs made, against duration / poll_interval
  listing     `ls agents | wc -l` of 100,000 agents: time (against one curl
              process fetching the same pages over one connection), and the
              daemon's peak RSS (VmHWM); diagnostic row: curl at the largest
              page size the simulator honours

The targets of issue #4 are printed beside the figures, with whether each is
met; nothing fails on time. Exit status 0 once every measurement was made; 1
when something broke (a mount failed, a command failed, a count was wrong), 2
on bad arguments. Every simulator and daemon is stopped and every mount
undone, whatever happens.

Python 3 standard library only; run as root (FUSE mounts); needs curl.
The repetition counts are the constants below; --quick divides them for a
smoke run (figures then too noisy to quote).
"""

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402

# ---------------------------------------------------------------- what is run, how often

SETTINGS = [(0, 0), (20, 40)]  # simulator --latency MS / --handshake MS

CACHED_RUNS = 21           # runs of each cached figure (daemon and floor interleaved)
CACHED_SYSCALLS = 500      # system calls per run (stat(); open+read+close)
CACHED_COMMANDS = 50       # commands per run (`stat`, `cat`)
UNCACHED_RUNS = 5          # runs of the uncached figure
UNCACHED_CALLS = 40        # `cat progress` / `curl -s` per run
FANOUT_RUNS = 3            # runs of the fan-out, each on a fresh daemon
FANOUT_AGENTS = 1000       # agents refetched per run
FANOUT_PARALLEL = 16       # xargs -P
READERS = 64               # concurrent readers of one progress
READERS_SECONDS = 10.0     # how long they read
READERS_POLL = 1.0         # the daemon's poll_interval for them (its default)
LIST_RUNS = 3              # runs of the listing (and of its curl baseline)
LIST_AGENTS = 100000       # agents in the listing
LIST_PAGE_CAP = 1000       # the simulator's largest page size

# Targets of issue #4.
CACHED_TARGET = 1.5        # cached operations at most 1.5x the floor
UNCACHED_TARGET = 0.5      # uncached progress at most 0.5x curl at 20/40
FANOUT_TARGET = 0.5        # fan-out at most 0.5x the curl loop at 20/40 ...
FANOUT_TARGET_LOCAL = 1.0  # ... and never slower at 0/0
READERS_OVER = 1           # concurrent readers: at most one GET over the minimum
RSS_TARGET_MIB = 64        # 100,000 agents listed in under 64 MiB of RSS

KEY = "bench-key-3c9e1f7a2b5d4e60"
CACHED_AGENT = 42          # completed import (id % 10 == 2: a normal agent)
UNCACHED_AGENT = 12        # running import, polled on every cat
READERS_AGENT = 22         # running import, 64 readers
RUNNING_STAGE_SECONDS = 3600
# The daemon's own defaults (README, Options), not the integration tests' short ones.
DAEMON_OPTS = {"poll_interval": "1", "list_ttl": "30", "timeout": "30", "connect_timeout": "10",
               "wait_timeout": "600", "loglevel": "warn"}
SHELL_ENV = dict(os.environ, LC_ALL="C")  # $EPOCHREALTIME with a decimal point


class BenchError(Exception):
    """Something broke: the figure could not be measured."""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs)


# ---------------------------------------------------------------- processes

@contextlib.contextmanager
def simulator(**kwargs):
    sim = harness.Sim(key=KEY, **kwargs)
    try:
        yield sim
    finally:
        sim.stop()


@contextlib.contextmanager
def daemon(sim, **opts):
    """cekurafs mounted on sim (harness.Daemon); stopped and checked at the end."""
    d = harness.Daemon(sim, opts=dict(DAEMON_OPTS, **{k: str(v) for k, v in opts.items()}))
    try:
        d.start()
        yield d
    except BaseException:
        d.stop(check=False)
        d.cleanup()
        raise
    try:
        d.stop(check=True)
    except harness.HarnessError as e:
        raise BenchError(f"the daemon: {e}")
    finally:
        d.cleanup()


class Floor:
    """build/bench/floorfs -f on a temporary mount point."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="cekurafs-floor-")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        self.proc = None

    def path(self, *parts):
        return os.path.join(self.mnt, *[str(p) for p in parts])

    def mounted(self):
        return os.path.realpath(self.mnt) in harness.fuse_mounts("fuse.floorfs")

    def __enter__(self):
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen([self.binary, "-f", self.mnt], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err,
                                     start_new_session=True)
        try:
            def live():
                if self.proc.poll() is not None:
                    raise BenchError(f"floorfs exited with {self.proc.returncode}")
                return self.mounted() and os.path.exists(self.path("agents", CACHED_AGENT,
                                                                   "progress"))
            harness.wait_until(live, timeout=10, what="the floor's mount")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.mounted():
            subprocess.run(["fusermount3", "-uz", self.mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def sh(script, timeout, what, args=()):
    """Runs a bash script (with positional args); its stdout. A failure is a BenchError."""
    code, out, err, _ = harness.run([harness.SHELL, "-c", script, "bench"] + [str(a) for a in args],
                                    shell=False, timeout=timeout, env=SHELL_ENV)
    if code != 0:
        raise BenchError(f"{what}: exit status {code}: {err.strip()[-2000:]}")
    return out


def shell_loop(command, n, what, timeout=120):
    """Seconds per run of a shell command (output to /dev/null), run n times in a
    bash loop, timed by bash itself; every run must succeed."""
    out = sh(f't0=$EPOCHREALTIME; for ((i = 0; i < {n}; i++)); do {command} >/dev/null || exit 1; '
             f'done; t1=$EPOCHREALTIME; echo "$t0 $t1"', timeout, what)
    t0, t1 = map(float, out.split())
    return (t1 - t0) / n


def syscall_loop(fn, path, n):
    """Seconds per call of fn(path), n calls in a row."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn(path)
    return (time.perf_counter() - t0) / n


def do_stat(path):
    os.stat(path)


def do_cat(path):
    """What cat does: open, read to the end, close."""
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, 131072):
            pass
    finally:
        os.close(fd)


def progress_url(sim, agent, pid):
    return f"{sim.url}{harness.API}{agent}/auto-fetch-progress/?progress_id={pid}"


def newest_pid(sim, agent):
    pids = sim.imports().get(str(agent))
    if not pids:
        raise BenchError(f"the simulator knows no import of agent {agent}")
    return pids[-1]


def refetch(d, agent):
    rc = harness.write_file(d.agent(agent, "refetch"), "1\n")
    if rc != 0:
        raise BenchError(f"echo 1 > agents/{agent}/refetch: {harness.errname(rc)}")


def vm(pid, field):
    """A field of /proc/PID/status in KiB (VmHWM, VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def process_cpu(pid):
    """CPU seconds (user + system) a process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class CpuWatch:
    """Where the CPU went during a timed section: the machine's share busy, and
    the CPU seconds of given processes."""

    def __init__(self, **pids):
        self.pids = pids
        self.m0 = machine_cpu()
        self.p0 = {k: process_cpu(p) for k, p in pids.items()}

    def done(self):
        m1 = machine_cpu()
        busy = (m1[0] - self.m0[0]) / max(1, m1[1] - self.m0[1])
        used = {k: process_cpu(p) - self.p0[k] for k, p in self.pids.items()}
        return f"CPU {busy:.0%} busy (" + ", ".join(f"{k} {v:.1f} s" for k, v in used.items()) + ")"


def curl_cmd(url, method="GET"):
    m = "-X POST " if method == "POST" else ""
    return f"curl -s {m}-H 'X-CEKURA-API-KEY: {KEY}' '{url}'"


def requests_short(entries):
    """'1000 POST, 16 conn' from simulator log entries (statuses checked elsewhere)."""
    kinds = {}
    for e in entries:
        kinds[e["method"]] = kinds.get(e["method"], 0) + 1
    conns = len({e["conn"] for e in entries})
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f", {conns} conn"


def log_summary(entries):
    """'1000 POST 202, 16 connections' from simulator log entries."""
    kinds = {}
    for e in entries:
        k = f"{e['method']} {e['status']}"
        kinds[k] = kinds.get(k, 0) + 1
    conns = len({e["conn"] for e in entries})
    what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no request"
    return f"{what} over {conns} connection{'s' if conns != 1 else ''}"


# ---------------------------------------------------------------- the table

class Table:
    COLUMNS = ("figure", "lat/hs ms", "cekurafs", "baseline", "ratio", "target", "met?")

    def __init__(self):
        self.rows = []
        self.notes = []
        self.problems = []

    def add(self, figure, setting, ours, base, ratio, target, met):
        self.rows.append((figure, "%d/%d" % setting, ours, base, ratio, target,
                          "-" if met is None else ("yes" if met else "NO")))

    def note(self, text):
        self.notes.append(text)

    def render(self, header):
        rows = [self.COLUMNS] + self.rows
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.COLUMNS))]
        fmt = "  ".join("%%-%ds" % w for w in widths)
        lines = list(header)
        lines.append(fmt % self.COLUMNS)
        lines.append("  ".join("-" * w for w in widths))
        for r in self.rows:
            lines.append((fmt % r).rstrip())
        if self.notes:
            lines.append("")
            for n in self.notes:
                lines.extend(textwrap.wrap(n, 100, initial_indent="- ", subsequent_indent="  ",
                                           break_on_hyphens=False))
        return "\n".join(lines)


def us(s):
    return f"{s * 1e6:.1f} us"


def ms(s):
    return f"{s * 1e3:.2f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"


def secs(s):
    return f"{s:.2f} s"


def ratio(a, b):
    return a / b if b > 0 else float("inf")


# ---------------------------------------------------------------- the figures

def bench_cached(t, sim, floor, setting):
    """Cached stat and cat of a completed progress, cekurafs against the floor."""
    sim.config(stage_seconds=0)
    with daemon(sim) as d:
        refetch(d, CACHED_AGENT)
        text = harness.wait_status(d, CACHED_AGENT, statuses=("completed",))
        floor_text = harness.read_file(floor.path("agents", CACHED_AGENT, "progress"))
        if len(text) != len(floor_text):
            raise BenchError(f"the floor's text has {len(floor_text)} bytes, cekurafs's "
                             f"{len(text)}: make them the same length (tests/bench/floorfs.c)")
        ours_p = d.agent(CACHED_AGENT, "progress")
        floor_p = floor.path("agents", CACHED_AGENT, "progress")
        for p in (ours_p, floor_p):  # warm: entries cached, both daemons' threads up
            for _ in range(50):
                do_stat(p)
                do_cat(p)
        since = sim.last_seq()
        figures = [
            ("cached stat() of progress", lambda p: syscall_loop(do_stat, p, CACHED_SYSCALLS), us),
            ("cached open+read+close of progress",
             lambda p: syscall_loop(do_cat, p, CACHED_SYSCALLS), us),
            ("cached `stat progress` command",
             lambda p: shell_loop(f"stat '{p}'", CACHED_COMMANDS, "stat"), ms),
            ("cached `cat progress` command",
             lambda p: shell_loop(f"cat '{p}'", CACHED_COMMANDS, "cat"), ms),
        ]
        for name, measure, unit in figures:
            ours, base = [], []
            for r in range(CACHED_RUNS):
                order = [(ours, ours_p), (base, floor_p)]
                for out, p in (order if r % 2 == 0 else order[::-1]):
                    out.append(measure(p))
            x = ratio(median(ours), median(base))
            t.add(name, setting, unit(median(ours)), "floor " + unit(median(base)), f"{x:.2f}x",
                  f"<= {CACHED_TARGET}x floor", x <= CACHED_TARGET)
        made = sim.requests(since=since)
        if made:
            t.problems.append(f"cached figures at {setting}: the daemon made API requests: "
                              f"{log_summary(made)}")
        elif setting == SETTINGS[0]:
            t.note("cached: no API request during the cached figures (checked in the simulator's "
                   "log); the floor answers the same path from memory, without flush")


def bench_uncached(t, sim, setting):
    """`cat progress` that polls every time, against `curl -s` of the same URL."""
    sim.config(stage_seconds=RUNNING_STAGE_SECONDS)
    with daemon(sim, poll_interval=0) as d:
        refetch(d, UNCACHED_AGENT)
        p = d.agent(UNCACHED_AGENT, "progress")
        first = harness.read_file(p).split("\n", 1)[0]
        if first != "in_progress":
            raise BenchError(f"agent {UNCACHED_AGENT}'s progress is {first!r}, not in_progress")
        url = progress_url(sim, UNCACHED_AGENT, newest_pid(sim, UNCACHED_AGENT))
        ours, base = [], []
        ours_gets = base_gets = 0
        ours_conns, base_conns = set(), set()
        for r in range(UNCACHED_RUNS):
            order = [("ours", f"cat '{p}'"), ("curl", curl_cmd(url))]
            for who, cmd in (order if r % 2 == 0 else order[::-1]):
                since = sim.last_seq()
                s = shell_loop(cmd, UNCACHED_CALLS, who)
                got = [e for e in sim.requests(since=since) if e["status"] == 200]
                if who == "ours":
                    ours.append(s)
                    ours_gets += len(got)
                    ours_conns |= {e["conn"] for e in got}
                else:
                    base.append(s)
                    base_gets += len(got)
                    base_conns |= {e["conn"] for e in got}
        calls = UNCACHED_RUNS * UNCACHED_CALLS
        if base_gets != calls:
            raise BenchError(f"uncached: curl made {base_gets} good GETs for {calls} calls")
        x = ratio(median(ours), median(base))
        fast = setting != (0, 0)
        t.add("uncached `cat progress`", setting, ms(median(ours)),
              "curl -s " + ms(median(base)), f"{x:.2f}x",
              f"<= {UNCACHED_TARGET}x curl" if fast else "-", x <= UNCACHED_TARGET if fast else None)
        t.note(f"uncached at {setting[0]}/{setting[1]}: cekurafs made {ours_gets} progress GETs for "
               f"{calls} cats over {len(ours_conns)} connection(s); curl {base_gets} GETs over "
               f"{len(base_conns)} connections")


def bench_readers(t, sim, setting):
    """64 concurrent readers of one running progress for READERS_SECONDS."""
    sim.config(stage_seconds=RUNNING_STAGE_SECONDS)
    with daemon(sim, poll_interval=READERS_POLL) as d:
        refetch(d, READERS_AGENT)
        p = d.agent(READERS_AGENT, "progress")
        since = sim.last_seq()
        start = time.time() + 1.0  # time for 64 bash processes to start
        end = start + READERS_SECONDS
        script = r'''
start=$1 end=$2 f=$3 n=$4
reader() {
	local r=0 e=0
	while (( ${EPOCHREALTIME/./} < start )); do sleep 0.01; done
	while (( ${EPOCHREALTIME/./} < end )); do
		if cat "$f" >/dev/null; then r=$((r + 1)); else e=$((e + 1)); fi
	done
	echo "$r $e"
}
for ((i = 0; i < n; i++)); do reader & done
wait
'''
        out = sh(script, READERS_SECONDS + 60, "readers",
                 args=(int(start * 1e6), int(end * 1e6), p, READERS))
        reads = errors = 0
        for line in out.split("\n"):
            if line.strip():
                a, b = line.split()
                reads, errors = reads + int(a), errors + int(b)
        gets = sim.requests(kind="progress", since=since)
        minimum = READERS_SECONDS / READERS_POLL
        if errors:
            t.problems.append(f"readers at {setting}: {errors} of {reads + errors} cats failed")
        t.add(f"{READERS} readers, {READERS_SECONDS:g} s: progress GETs", setting,
              f"{len(gets)} GETs", f"minimum {minimum:g}", f"+{len(gets) - minimum:g}",
              f"<= minimum + {READERS_OVER}", len(gets) <= minimum + READERS_OVER)
        t.note(f"readers at {setting[0]}/{setting[1]}: {reads} cats ({errors} failed) in "
               f"{READERS_SECONDS:g} s, poll_interval {READERS_POLL:g} s; minimum = duration / "
               f"poll_interval")


def fanout_agents():
    ids = [i for i in range(1, 2 * FANOUT_AGENTS) if i % 10 not in (3, 4)]  # 3, 4: POST 400
    return ids[:FANOUT_AGENTS]


def fs_type(path):
    """The type of the file system holding path (ext4, tmpfs, ...)."""
    best, kind = "", "?"
    real = os.path.realpath(path)
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            point = fields[1].encode().decode("unicode_escape")
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def bench_fanout(t, setting, state_disk, state_tmpfs):
    """Refetch of FANOUT_AGENTS agents through xargs -P: cekurafs (its state file on
    disk, as in production; and on tmpfs, where an fsync costs nothing) against curl."""
    ids = fanout_agents()
    kinds = ["ours", "curl", "curl-Z"] + (["tmpfs"] if state_tmpfs else [])
    with simulator(agents=ids[-1], stage_seconds=0, latency=setting[0],
                   handshake=setting[1]) as sim:
        urls = "".join(f"{sim.url}{harness.API}{i}/auto-fetch/\n" for i in ids)
        times = {k: [] for k in kinds}
        made, cpu_used = {}, {}
        for r in range(FANOUT_RUNS):
            for who in (kinds if r % 2 == 0 else kinds[::-1]):
                if who == "curl":
                    since = sim.last_seq()
                    cpu = CpuWatch(simulator=sim.proc.pid)
                    s = timed_xargs(f"xargs -P {FANOUT_PARALLEL} -n 1 curl -s -X POST "
                                    f"-H 'X-CEKURA-API-KEY: {KEY}'", urls, "curl through xargs")
                    cpu_used[who] = cpu.done()
                elif who == "curl-Z":
                    # The floor of the fan-out: the same POSTs from one process over
                    # at most 16 connections, each kept alive.
                    since = sim.last_seq()
                    cpu = CpuWatch(simulator=sim.proc.pid)
                    cfg = "".join(f'url = "{u}"\n' for u in urls.split())
                    s = timed_xargs(f"curl -s -Z --parallel-max {FANOUT_PARALLEL} -X POST "
                                    f"-H 'X-CEKURA-API-KEY: {KEY}' -K -", cfg, "curl -Z")
                    cpu_used[who] = cpu.done()
                else:
                    # A fresh daemon and state directory each run (nothing stored, a
                    # cold connection pool), its listing made first, as
                    # `ls agents | xargs ...` would.
                    state = tempfile.mkdtemp(prefix="state-", dir=state_tmpfs if who == "tmpfs"
                                             else state_disk)
                    try:
                        with daemon(sim, list_ttl=3600, state_dir=state) as d:
                            sh(f"ls '{d.path('agents')}' >/dev/null", 120, "ls agents")
                            paths = "".join(d.agent(i, "refetch") + "\n" for i in ids)
                            since = sim.last_seq()
                            cpu = CpuWatch(daemon=d.pid, simulator=sim.proc.pid)
                            s = timed_xargs(f"xargs -P {FANOUT_PARALLEL} -n 1 sh -c "
                                            f"'echo 1 > \"$0\"'", paths, "refetch through xargs")
                            cpu_used[who] = cpu.done()
                    finally:
                        shutil.rmtree(state, ignore_errors=True)
                made[who] = sim.requests(since=since)
                times[who].append(s)
                good = [e for e in made[who] if e["method"] == "POST" and e["status"] == 202]
                if len(good) != FANOUT_AGENTS:
                    raise BenchError(f"fan-out ({who}): {len(good)} POSTs answered 202 for "
                                     f"{FANOUT_AGENTS} agents: {log_summary(made[who])}")
        ours, base = median(times["ours"]), median(times["curl"])
        x = ratio(ours, base)
        target = FANOUT_TARGET if setting != (0, 0) else FANOUT_TARGET_LOCAL
        t.add(f"refetch {FANOUT_AGENTS} agents, xargs -P {FANOUT_PARALLEL}", setting, secs(ours),
              "curl " + secs(base), f"{x:.2f}x", f"<= {target}x curl", x <= target)
        t.add("  HTTP requests (last run)", setting, requests_short(made["ours"]),
              "curl " + requests_short(made["curl"]), "-", "-", None)
        z = median(times["curl-Z"])
        conns = len({e["conn"] for e in made["curl-Z"]})
        t.add(f"  diag: one curl -Z, {conns} conn kept alive", setting, "-",
              "curl -Z " + secs(z), f"{ratio(z, base):.2f}x loop", "-", None)
        if "tmpfs" in times:
            y = ratio(median(times["tmpfs"]), base)
            t.add("  diag: state file on tmpfs", setting, secs(median(times["tmpfs"])),
                  "curl " + secs(base), f"{y:.2f}x", "-", None)
        t.note(f"fan-out at {setting[0]}/{setting[1]} (last run): " + "; ".join(
            f"{dict(ours='cekurafs', curl='curl', tmpfs='cekurafs, state on tmpfs').get(k, k)} "
            f"{secs(times[k][-1])}, {cpu_used[k]}" for k in kinds))


def timed_xargs(command, stdin, what):
    """Seconds for `command < stdin`, timed by bash."""
    fd, path = tempfile.mkstemp(prefix="cekurafs-bench-")
    with os.fdopen(fd, "w") as f:
        f.write(stdin)
    try:
        out = sh(f't0=$EPOCHREALTIME; {command} < "{path}" >/dev/null || exit 1; '
                 f't1=$EPOCHREALTIME; echo "$t0 $t1"', 600, what)
    finally:
        os.unlink(path)
    t0, t1 = map(float, out.split())
    return t1 - t0


def bench_listing(t, setting):
    with simulator(agents=LIST_AGENTS, stage_seconds=0, page_cap=LIST_PAGE_CAP, latency=setting[0],
                   handshake=setting[1]) as sim:
        with daemon(sim, list_ttl=0) as d:
            agents = d.path("agents")
            rss_start = vm(d.pid, "VmRSS")
            ours, base, big = [], [], []
            pages = None
            for r in range(LIST_RUNS):
                since = sim.last_seq()
                out = sh(f't0=$EPOCHREALTIME; n=$(ls "{agents}" | wc -l); t1=$EPOCHREALTIME; '
                         f'echo "$n $t0 $t1"', 600, "ls agents | wc -l")
                n, t0, t1 = out.split()
                if int(n) != LIST_AGENTS:
                    raise BenchError(f"ls agents | wc -l: {n}, not {LIST_AGENTS}")
                ours.append(float(t1) - float(t0))
                pages = sim.requests(kind="list", since=since)
                if r == 0:
                    # The same requests, from one curl process over one connection.
                    queries = [e["query"] for e in pages]
                    base_cfg = curl_config(sim, queries)
                    size = LIST_PAGE_CAP
                    big_cfg = curl_config(sim, [f"page_size={size}"] + [
                        f"page={k}&page_size={size}" for k in range(2, -(-LIST_AGENTS // size) + 1)])
                base.append(timed_curl_config(sim, base_cfg, len(queries)))
                big.append(timed_curl_config(sim, big_cfg, -(-LIST_AGENTS // LIST_PAGE_CAP)))
            hwm, rss_end = vm(d.pid, "VmHWM"), vm(d.pid, "VmRSS")
        asked = sorted({q for q in (e["query"] for e in pages)
                        for q in q.split("&") if q.startswith("page_size=")})
        x = ratio(median(ours), median(base))
        t.add(f"ls agents | wc -l, {LIST_AGENTS} agents", setting, secs(median(ours)),
              "curl " + secs(median(base)), f"{x:.2f}x", "-", None)
        t.add(f"  daemon peak RSS (VmHWM)", setting, f"{hwm / 1024:.1f} MiB", "-", "-",
              f"< {RSS_TARGET_MIB} MiB", hwm < RSS_TARGET_MIB * 1024)
        t.add(f"  diag: curl at page_size={LIST_PAGE_CAP}", setting, "-",
              "curl " + secs(median(big)), "-", "-", None)
        t.note(f"listing at {setting[0]}/{setting[1]}: cekurafs made {len(pages)} GETs per "
               f"listing ({', '.join(asked)}; the simulator honours up to {LIST_PAGE_CAP}); "
               f"baseline = one curl process fetching the same {len(pages)} URLs over one "
               f"connection; RSS {rss_start / 1024:.1f} MiB before, {rss_end / 1024:.1f} MiB after")


def curl_config(sim, queries):
    lines = ["silent", f'header = "X-CEKURA-API-KEY: {KEY}"']
    for q in queries:
        lines.append(f'url = "{sim.url}{harness.API}short_list/' + (f"?{q}" if q else "") + '"')
    return "\n".join(lines) + "\n"


def timed_curl_config(sim, cfg, expect):
    fd, path = tempfile.mkstemp(prefix="cekurafs-bench-")
    with os.fdopen(fd, "w") as f:
        f.write(cfg)
    try:
        since = sim.last_seq()
        out = sh(f't0=$EPOCHREALTIME; curl -K "{path}" >/dev/null || exit 1; t1=$EPOCHREALTIME; '
                 f'echo "$t0 $t1"', 600, "curl -K")
        got = [e for e in sim.requests(since=since) if e["status"] == 200]
        if len(got) != expect:
            raise BenchError(f"curl -K: {len(got)} good GETs, not {expect}")
    finally:
        os.unlink(path)
    t0, t1 = map(float, out.split())
    return t1 - t0


# ---------------------------------------------------------------- main

LOAD_AT_START = "/".join(f"{x:.1f}" for x in os.getloadavg())
FIGURES = ("cached", "uncached", "readers", "fanout", "listing")


def header(args, elapsed=None):
    curl_version = subprocess.run(["curl", "--version"], capture_output=True,
                                  text=True).stdout.split()[1]
    fuse_version = subprocess.run(["pkg-config", "--modversion", "fuse3"], capture_output=True,
                                  text=True).stdout.strip() or "?"
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"cekurafs benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
             + (f", {elapsed:.0f} s" if elapsed else "") + f"; load average {LOAD_AT_START} at "
             f"start, {load} at the end",
             f"cores: {os.cpu_count()}; Linux {platform.release()}; libfuse {fuse_version}; "
             f"curl {curl_version}; python {platform.python_version()}",
             f"medians of runs: cached {CACHED_RUNS} x {CACHED_SYSCALLS} calls / {CACHED_COMMANDS} "
             f"commands; uncached {UNCACHED_RUNS} x {UNCACHED_CALLS}; fan-out {FANOUT_RUNS}; "
             f"listing {LIST_RUNS}",
             "lat/hs: simulator delay added to every response / once per new connection"]
    if args.quick:
        lines.append("QUICK RUN (--quick): repetition counts divided, figures not to be quoted")
    return lines + [""]


def main():
    global CACHED_RUNS, CACHED_SYSCALLS, CACHED_COMMANDS, UNCACHED_RUNS, UNCACHED_CALLS
    global FANOUT_RUNS, LIST_RUNS, READERS_SECONDS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--daemon", default=os.path.join(harness.ROOT, "build", "cekurafs"))
    p.add_argument("--floor", default=os.path.join(harness.ROOT, "build", "bench", "floorfs"))
    p.add_argument("--scratch", default=os.path.join(harness.ROOT, "build", "bench"),
                   help="a directory on disk for the daemons' state files")
    p.add_argument("--only", default=",".join(FIGURES),
                   help=f"comma-separated figures among {','.join(FIGURES)}")
    p.add_argument("--settings", default=",".join("%d/%d" % s for s in SETTINGS),
                   help="latency/handshake pairs in ms, e.g. 0/0,20/40")
    p.add_argument("--quick", action="store_true", help="few repetitions: a smoke run")
    p.add_argument("--out", help="also write the table to this file")
    args = p.parse_args()
    only = set(args.only.split(","))
    if not only <= set(FIGURES):
        p.error(f"--only: figures are {','.join(FIGURES)}")
    settings = [tuple(int(x) for x in s.split("/")) for s in args.settings.split(",")]
    harness.DAEMON = os.path.abspath(args.daemon)
    for exe in (harness.DAEMON, args.floor):
        if not os.access(exe, os.X_OK):
            p.error(f"{exe} is not an executable (make it first)")
    if not shutil.which("curl"):
        p.error("curl is missing (apt-get install curl)")
    if os.geteuid() != 0 and not os.access("/dev/fuse", os.R_OK | os.W_OK):
        p.error("cannot open /dev/fuse: run as root")
    if args.quick:
        CACHED_RUNS, CACHED_SYSCALLS, CACHED_COMMANDS = 3, 300, 30
        UNCACHED_RUNS, UNCACHED_CALLS, FANOUT_RUNS, LIST_RUNS = 3, 10, 1, 1
        READERS_SECONDS = 3.0

    t = Table()
    # The daemons' state files: on disk, as in production (/var/lib/cekurafs), not
    # in /tmp, which may be tmpfs; and, for one diagnostic row, on tmpfs.
    state_disk = os.path.join(os.path.abspath(args.scratch), "state")
    os.makedirs(state_disk, exist_ok=True)
    state_tmpfs = "/dev/shm" if fs_type("/dev/shm") == "tmpfs" else None
    if "fanout" in only:
        t.note(f"fan-out: the daemon's state file on {fs_type(state_disk)} ({state_disk})" +
               (f", and on tmpfs ({state_tmpfs}) for the diagnostic row" if state_tmpfs else ""))
    began = time.monotonic()
    broke = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for setting in settings:
            tag = "%d/%d" % setting
            if only & {"cached", "uncached", "readers"}:
                with simulator(agents=120, stage_seconds=0, latency=setting[0],
                               handshake=setting[1]) as sim:
                    if "cached" in only:
                        log(f"{tag}: cached stat and cat against the floor")
                        with Floor(args.floor) as floor:
                            bench_cached(t, sim, floor, setting)
                    if "uncached" in only:
                        log(f"{tag}: uncached cat against curl")
                        bench_uncached(t, sim, setting)
                    if "readers" in only:
                        log(f"{tag}: {READERS} readers for {READERS_SECONDS:g} s")
                        bench_readers(t, sim, setting)
            if "fanout" in only:
                log(f"{tag}: refetch of {FANOUT_AGENTS} agents through xargs -P {FANOUT_PARALLEL}")
                bench_fanout(t, setting, state_disk, state_tmpfs)
            if "listing" in only:
                log(f"{tag}: listing {LIST_AGENTS} agents")
                bench_listing(t, setting)
    except (BenchError, harness.HarnessError, AssertionError, OSError) as e:
        broke = f"{type(e).__name__}: {e}"
    except KeyboardInterrupt:
        broke = "interrupted"
    finally:
        harness.emergency_cleanup()
    elapsed = time.monotonic() - began
    text = t.render(header(args, elapsed))
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    for prob in t.problems:
        print(f"bench: PROBLEM: {prob}", file=sys.stderr)
    if broke:
        print(f"bench: BROKEN, the table is incomplete: {broke}", file=sys.stderr)
    return 1 if broke or t.problems else 0


if __name__ == "__main__":
    sys.exit(main())
