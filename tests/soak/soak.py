#!/usr/bin/env python3
"""soak.py - cekurafs under a long concurrent load with injected faults (`make soak`).

    python3 tests/soak/soak.py --daemon build/cekurafs --minutes 2

Mounts the daemon on contrib/cekura-sim (through tests/integration/harness.py),
makes the simulator fault about 5% of the API requests (1% each: 503, 429 with
Retry-After 1, connection reset, a stall of a few seconds, a malformed body),
and runs 32 concurrent bash loops of real commands over a set of agents:

    ls agents; cat agents/N/{progress,progress.json,error}; echo 1 > agents/N/refetch; cat agents/N/wait

each command under `timeout`, its budget timeout + wait_timeout (+ slack). A
short warm-up load comes first, then the daemon's RSS, open file descriptors
and threads are taken (idle, after a settle); after the soak load stops and
settles they are taken again. Prints operations done per kind, errors by errno
per kind, the faults the simulator applied, and the daemon's figures at start,
end and peak.

Exit status 1 when: the daemon died or lost its mount, a command hung past its
budget, a command met a dead mount, no operation of a kind ever succeeded, RSS
grew by more than 20% + 2 MiB, open file descriptors other than sockets by more
than 4, sockets past what the connection pool keeps (64 idle) + 4, or the
daemon's log shows a sanitizer report or the key. Errors the faults cause
(EPROTO, ECONNRESET, EBUSY, ...) are expected and only reported.

Python 3 standard library only; run as root (FUSE mounts), not part of `make check`.
"""

import argparse
import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402

KINDS = ("ls", "cat", "refetch", "wait")
# What the simulator does to about 5% of the API requests: rate/5 each.
FAULTS = [
    {"kind": "status", "status": 503, "detail": "soak: unavailable"},
    {"kind": "status", "status": 429, "retry_after": 1, "detail": "soak: slow down"},
    {"kind": "reset"},
    {"kind": "stall", "seconds": 3},
    {"kind": "malformed"},
]
OPTS = {"poll_interval": "0.2", "list_ttl": "1", "timeout": "5", "connect_timeout": "2",
        "wait_timeout": "20"}
SLACK = 10          # seconds over timeout + wait_timeout before a command counts as hung
RSS_GROWTH = 0.20   # allowed relative RSS growth ...
RSS_SLACK = 2048    # ... plus this many KiB
FD_SLACK = 4        # allowed growth of open file descriptors ...
POOL = 64           # ... besides the idle connections fs/http.c's pool may keep (POOL_CONNECTIONS)

# One worker: a bash loop of real commands until the stop file appears. Each
# command prints one line: "<kind> <exit status> <milliseconds> <stderr, one line>".
WORKER = r'''
m=$1 budget=$2 stop=$3; shift 3; agents=("$@"); files=(progress progress.json error)
op() {
	local kind=$1 t0=${EPOCHREALTIME/./} err rc; shift
	err=$(timeout -s KILL "$budget" "$@" 2>&1 >/dev/null); rc=$?
	printf '%s %d %d %s\n' "$kind" "$rc" $(( (${EPOCHREALTIME/./} - t0) / 1000 )) "${err//$'\n'/ | }"
}
i=0
while [ ! -e "$stop" ]; do
	a=${agents[i % ${#agents[@]}]}
	op ls ls "$m/agents"
	op cat cat "$m/agents/$a/${files[i % 3]}"
	op refetch bash -c 'echo 1 > "$1"' refetch "$m/agents/$a/refetch"
	op wait cat "$m/agents/$a/wait"
	i=$((i + 1))
done
'''

# strerror text -> errno name, longest text first (so "Remote I/O error" wins over "I/O error").
MESSAGES = sorted(((os.strerror(n), name) for n, name in errno.errorcode.items()),
                  key=lambda t: -len(t[0]))


def errno_name(message):
    for text, name in MESSAGES:
        if text in message:
            return name
    return "other: " + message[:80]


# ---------------------------------------------------------------- the daemon's figures

def figures(pid):
    """The daemon's {"rss": KiB, "fds": open descriptors, "sockets": those that
    are sockets, "other": the rest, "threads": n}."""
    out = {"sockets": 0, "other": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        out["sockets" if target.startswith("socket:") else "other"] += 1
    out["fds"] = out["sockets"] + out["other"]
    return out


# ---------------------------------------------------------------- the load

class Load:
    """workers bash loops over the mount, their results counted as they come."""

    def __init__(self, daemon, workers, agents, budget):
        self.daemon = daemon
        self.budget = budget
        self.lock = threading.Lock()
        self.done = Counter()             # kind -> commands finished
        self.failed = Counter()           # kind -> commands that failed
        self.errors = defaultdict(Counter)  # kind -> errno name -> count
        self.slowest = Counter()          # kind -> longest milliseconds
        self.hung = []                    # lines of commands killed at their budget
        self.dead = []                    # lines of commands that met a dead mount
        self.stopfile = os.path.join(daemon.dir, "soak-stop")
        self.procs, self.readers = [], []
        self.workers, self.agents = workers, agents

    def start(self):
        if os.path.exists(self.stopfile):
            os.unlink(self.stopfile)
        for w in range(self.workers):
            mine = [str(a) for a in self.agents[w::self.workers]] or [str(self.agents[0])]
            proc = subprocess.Popen(
                ["bash", "-c", WORKER, "soak-worker", self.daemon.mnt, str(self.budget),
                 self.stopfile, *mine],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, text=True, errors="replace")
            self.procs.append(proc)
            t = threading.Thread(target=self.read, args=(proc,), daemon=True)
            t.start()
            self.readers.append(t)

    def read(self, proc):
        for line in proc.stdout:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) < 3 or parts[0] not in KINDS:
                with self.lock:
                    self.errors["worker"][errno_name(line.strip())] += 1
                continue
            kind, rc, ms = parts[0], int(parts[1]), int(parts[2])
            message = parts[3] if len(parts) > 3 else ""
            with self.lock:
                self.done[kind] += 1
                self.slowest[kind] = max(self.slowest[kind], ms)
                if rc == 0:
                    continue
                self.failed[kind] += 1
                if rc == 137:  # killed by `timeout -s KILL`: past its budget
                    name = "HUNG"
                    self.hung.append(line.strip())
                else:
                    name = errno_name(message)
                if name == "ENOTCONN":
                    self.dead.append(line.strip())
                self.errors[kind][name] += 1

    def stop(self):
        """Asks every loop to end after its current command; kills what is left."""
        with open(self.stopfile, "w"):
            pass
        deadline = time.monotonic() + 4 * self.budget + SLACK
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                with self.lock:
                    self.hung.append(f"worker {proc.pid} did not stop within its budget")
        for t in self.readers:
            t.join(timeout=5)

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def run_load(env, args, seconds, budget, agents, peak, problems, trend=None):
    """Runs the workers for `seconds`, watching the daemon; returns the Load.
    Appends the daemon's RSS to trend every 30 s."""
    load = Load(env.daemon, args.workers, agents, budget)
    load.start()
    try:
        end = time.monotonic() + seconds
        next_clear = time.monotonic() + 10
        next_sample = time.monotonic() + 30
        while time.monotonic() < end:
            time.sleep(1)
            health = env.health()
            if health:
                problems.extend(health)
                break
            now = figures(env.daemon.pid)
            for k, v in now.items():
                peak[k] = max(peak.get(k, 0), v)
            if trend is not None and time.monotonic() >= next_sample:
                trend.append(now["rss"])
                next_sample += 30
            if time.monotonic() >= next_clear:
                env.sim.clear_log()  # the simulator's log would grow all along otherwise
                next_clear += 10
    finally:
        load.stop()
    return load


def settle(env, seconds):
    """Lets the daemon go idle (no reader left, imports over), then takes its figures."""
    time.sleep(seconds)
    harness.run(f"stat {env.mnt} >/dev/null", timeout=10)
    return figures(env.daemon.pid)


# ---------------------------------------------------------------- report

def report(args, load, start, end, peak, trend, faults, stats, minutes):
    lines = [f"soak: {args.workers} workers (bash loops), {minutes:.1f} min, daemon "
             f"{harness.DAEMON}",
             f"faults: {args.fault_rate:.0%} of API requests "
             f"({args.fault_rate / len(FAULTS):.1%} each: 503, 429 + Retry-After 1, reset, "
             f"stall 3 s, malformed)", "",
             f"{'operation':<10} {'done':>8} {'ok':>8} {'failed':>7} {'slowest':>9}"]
    for kind in KINDS:
        done, failed = load.done[kind], load.failed[kind]
        lines.append(f"{kind:<10} {done:>8} {done - failed:>8} {failed:>7} "
                     f"{load.slowest[kind] / 1000:>8.2f}s")
    total, total_failed = sum(load.done.values()), sum(load.failed.values())
    lines.append(f"{'all':<10} {total:>8} {total - total_failed:>8} {total_failed:>7} "
                 f"({total / (minutes * 60):.0f} per second)")
    lines += ["", "errors by errno:"]
    for kind in list(KINDS) + ["worker"]:
        if load.errors.get(kind):
            lines.append(f"  {kind:<9} " + ", ".join(
                f"{name} {n}" for name, n in load.errors[kind].most_common()))
    if not any(load.errors.values()):
        lines.append("  none")
    applied = ", ".join(f"{f.get('status', f['kind']) if f['kind'] == 'status' else f['kind']} "
                        f"{f.get('applied', '?')}" for f in faults)
    lines += ["", f"simulator: {stats['requests']} API requests, {stats['connections']} "
              f"connections; faults applied: {applied}", "",
              f"{'daemon':<16} {'start':>9} {'end':>9} {'peak':>9}"]
    for key, label in (("rss", "RSS (KiB)"), ("fds", "open fds"), ("sockets", "  sockets"),
                       ("other", "  other fds"), ("threads", "threads")):
        lines.append(f"{label:<16} {start[key]:>9} {end[key]:>9} {peak.get(key, 0):>9}")
    if trend:
        lines.append("RSS under load, every 30 s (KiB): " + " ".join(map(str, trend)))
    return "\n".join(lines)


def verdict(load, start, end, problems):
    found = list(problems)
    if load.hung:
        found.append(f"{len(load.hung)} command(s) hung past their budget: {load.hung[:3]}")
    if load.dead:
        found.append(f"{len(load.dead)} command(s) met a dead mount: {load.dead[:3]}")
    for kind in KINDS:
        if load.done[kind] - load.failed[kind] <= 0:
            found.append(f"no `{kind}` ever succeeded")
    if start and end:
        allowed = start["rss"] * (1 + RSS_GROWTH) + RSS_SLACK
        if end["rss"] > allowed:
            found.append(f"RSS grew from {start['rss']} to {end['rss']} KiB "
                         f"(allowed {allowed:.0f})")
        # Idle pooled connections come and go with the load: sockets may differ by
        # what the pool keeps, every other descriptor must stay flat.
        if end["other"] > start["other"] + FD_SLACK:
            found.append(f"open fds other than sockets grew from {start['other']} to "
                         f"{end['other']}")
        if end["sockets"] > max(start["sockets"], POOL) + FD_SLACK:
            found.append(f"sockets grew from {start['sockets']} to {end['sockets']}, more "
                         f"than the connection pool keeps ({POOL})")
    return found


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--daemon", default=os.path.join(harness.ROOT, "build", "cekurafs"))
    p.add_argument("--minutes", type=float, default=2, help="length of the soak load (2)")
    p.add_argument("--workers", type=int, default=32, help="concurrent bash loops (32)")
    p.add_argument("--agents", type=int, default=96, help="agents 1..N the loops use (96)")
    p.add_argument("--fault-rate", type=float, default=0.05,
                   help="share of API requests faulted (0.05)")
    p.add_argument("--warmup", type=float, default=15, help="seconds of load before start (15)")
    p.add_argument("--settle", type=float, default=5,
                   help="idle seconds before each measure (5)")
    args = p.parse_args(argv)

    harness.DAEMON = os.path.abspath(args.daemon)
    if not os.access(harness.DAEMON, os.X_OK):
        print(f"soak.py: {harness.DAEMON} is not an executable (make it first)", file=sys.stderr)
        return 2
    if os.geteuid() != 0 and not os.access("/dev/fuse", os.R_OK | os.W_OK):
        print("soak.py: needs /dev/fuse (run as root)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    budget = float(OPTS["timeout"]) + float(OPTS["wait_timeout"]) + SLACK
    agents = list(range(1, args.agents + 1))
    problems, start, end, peak, trend = [], None, None, {}, []
    load = None
    env = harness.Env(agents=max(120, args.agents), opts=OPTS)
    env.__enter__()
    try:
        for rule in FAULTS:
            env.sim.add_fault(match=harness.API, probability=args.fault_rate / len(FAULTS),
                              **rule)
        print(f"soak.py: warm-up, {args.warmup:.0f} s of load", flush=True)
        run_load(env, args, args.warmup, budget, agents, peak, problems)
        if not problems:
            start = settle(env, args.settle)
            print(f"soak.py: start {start}; soak, {args.minutes:g} min of load", flush=True)
            t0 = time.monotonic()
            load = run_load(env, args, args.minutes * 60, budget, agents, peak, problems, trend)
            minutes = (time.monotonic() - t0) / 60
            problems.extend(env.health())
            if not problems:
                end = settle(env, args.settle)
        faults = env.sim.faults()
        stats = env.sim.stats()
    except KeyboardInterrupt:
        problems.append("interrupted")
    finally:
        log_tail = env.daemon.stderr()[-4000:] if env.daemon else ""
        try:
            env.close(check=True)  # the key or a sanitizer report in the log fails it too
        except BaseException as e:
            problems.append(f"stopping the daemon: {e}")
        if env.daemon and env.daemon.exit_codes and env.daemon.exit_codes[-1] != 0:
            problems.append(f"the daemon exited with {env.daemon.exit_codes[-1]}")
        left = [m for m in harness.fuse_mounts() if m in harness.created_mounts]
        for m in left:
            subprocess.run(["fusermount3", "-uz", m], timeout=10)
            problems.append(f"{m} was left mounted")
        harness.emergency_cleanup()
    if load is not None and start is not None:
        print()
        print(report(args, load, start, end or start, peak, trend, faults, stats, minutes))
        found = verdict(load, start, end, problems)
    else:
        found = problems or ["the soak did not run"]
    if found:
        print("\nFAIL:\n  " + "\n  ".join(found))
        print("\nthe daemon's log, last lines:\n" + log_tail)
        return 1
    rss = (end["rss"] - start["rss"]) / start["rss"] * 100
    print(f"\nPASS: RSS {rss:+.1f}%, open fds {end['fds'] - start['fds']:+d}, "
          f"threads {end['threads'] - start['threads']:+d}, no command hung, daemon up throughout")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
