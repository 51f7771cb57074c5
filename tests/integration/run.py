#!/usr/bin/env python3
"""run.py - the integration tests of cekurafs: real mounts against contrib/cekura-sim.

    python3 tests/integration/run.py --daemon build/cekurafs [-k pattern]... [--timeout 60]
    python3 tests/integration/run.py --wrapper "valgrind -q --error-exitcode=99" --slow 20 -k test_wait

Runs every test_* function of every tests/integration/test_*.py module, in file
order, and prints one line per test (PASS/FAIL, name, seconds), then a summary.
Exit status 1 when any test failed. Python 3 standard library only.

A module may define ENV, a dict of harness.Env arguments: one simulator and one
daemon are then started for the whole module, and each test that takes a
parameter gets that Env (tests of a module use different agent ids). After
each test the shared daemon is checked (alive, mounted, no sanitizer report);
a problem fails that test and the Env is rebuilt for the next one.

Each test has a time limit: a watchdog unmounts and kills everything, which
unblocks any call stuck on the mount, and the test fails. At the end no
of the mounts it made may be left in /proc/mounts.

--wrapper CMD starts every daemon as CMD + daemon command (valgrind, say);
--slow F makes each test's time limit and every wait of the harness F times
longer. A daemon that exits with 99 (valgrind --error-exitcode=99) or prints
"ERROR SUMMARY: <n>" with n > 0 fails the test that stopped it.
"""

import argparse
import importlib
import inspect
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


class TestTimeout(Exception):
    pass


class Watchdog:
    """Fails the running test after `seconds`: kills every daemon and simulator
    (a lazy unmount and SIGKILL free anything blocked on the mount), then
    raises TestTimeout in the main thread."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.fired = False
        self.timer = None

    def __enter__(self):
        self.fired = False
        self.timer = threading.Timer(self.seconds, self.fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def fire(self):
        self.fired = True
        harness.emergency_cleanup()
        signal.pthread_kill(threading.main_thread().ident, signal.SIGALRM)

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


def on_alarm(signum, frame):
    raise TestTimeout("the test ran out of time; everything was killed and unmounted")


def discover(patterns):
    """[(module name, module, [test functions])], in file and definition order;
    with patterns, only tests whose module.name contains one of them."""
    found = []
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        modname = name[:-3]
        module = importlib.import_module(modname)
        tests = [fn for n, fn in vars(module).items()
                 if n.startswith("test_") and inspect.isfunction(fn) and fn.__module__ == modname]
        tests.sort(key=lambda fn: fn.__code__.co_firstlineno)
        if patterns:
            tests = [fn for fn in tests
                     if any(p in f"{modname}.{fn.__name__}" for p in patterns)]
        if tests:
            found.append((modname, module, tests))
    return found


def takes_env(fn):
    return len(inspect.signature(fn).parameters) > 0


class Runner:
    def __init__(self, timeout, verbose):
        self.timeout = timeout
        self.verbose = verbose
        self.results = []  # (name, ok, seconds)

    def report(self, name, ok, seconds, detail=None):
        self.results.append((name, ok, seconds))
        print(f"{'PASS' if ok else 'FAIL'} {name} {seconds:.2f}s", flush=True)
        if detail and (not ok or self.verbose):
            print("    " + detail.rstrip().replace("\n", "\n    "), flush=True)

    def run_module(self, modname, module, tests):
        env_args = getattr(module, "ENV", None)
        env = None
        for fn in tests:
            name = f"{modname}.{fn.__name__}"
            t0 = time.monotonic()
            detail = None
            ok = True
            timed_out = False
            try:
                with Watchdog(self.timeout) as dog:
                    try:
                        if takes_env(fn):
                            if env is None:
                                env = harness.Env(**(env_args or {})).__enter__()
                            fn(env)
                        else:
                            fn()
                    except TestTimeout:
                        raise
                    except BaseException as e:
                        if dog.fired:
                            raise TestTimeout(f"timed out after {self.timeout} s") from e
                        raise
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                ok = False
                timed_out = isinstance(e, TestTimeout)
                detail = traceback.format_exc()
            if env is not None:
                problems = [] if timed_out else env.health()
                if problems or not ok:
                    # Whatever broke, the next test gets a fresh simulator and daemon.
                    try:
                        env.close(check=not timed_out)
                    except BaseException as e:
                        problems.append(f"stopping it: {e}")
                    env = None
                if problems:
                    ok = False
                    detail = (detail or "") + "shared daemon: " + "; ".join(problems)
            self.report(name, ok, time.monotonic() - t0, detail)
        if env is not None:
            t0 = time.monotonic()
            try:
                with Watchdog(self.timeout):
                    env.close(check=True)
                return
            except BaseException:
                self.report(f"{modname}.<teardown>", False, time.monotonic() - t0,
                            traceback.format_exc())


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--daemon", default=os.path.join(harness.ROOT, "build", "cekurafs"),
                   help="the cekurafs binary to test")
    p.add_argument("-k", dest="patterns", action="append", metavar="PATTERN",
                   help="run only tests whose module.name contains this (may be repeated)")
    p.add_argument("--timeout", type=float, default=60, help="seconds allowed per test (60)")
    p.add_argument("--wrapper", default="", metavar="CMD",
                   help='command line put before every daemon\'s, e.g. "valgrind -q '
                        '--error-exitcode=99"')
    p.add_argument("--slow", type=float, default=1.0, metavar="F",
                   help="multiply the time limit of each test and every harness wait by F (1)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.slow <= 0:
        p.error("--slow must be positive")

    harness.DAEMON = os.path.abspath(args.daemon)
    os.environ["CEKURAFS_DAEMON"] = harness.DAEMON
    harness.WRAPPER = shlex.split(args.wrapper)
    harness.SLOW = args.slow
    os.environ["CEKURAFS_WRAPPER"] = args.wrapper
    os.environ["CEKURAFS_SLOW"] = str(args.slow)
    if harness.WRAPPER and not shutil.which(harness.WRAPPER[0]):
        print(f"run.py: --wrapper: {harness.WRAPPER[0]} not found", file=sys.stderr)
        return 2
    if not os.access(harness.DAEMON, os.X_OK):
        print(f"run.py: {harness.DAEMON} is not an executable (make it first)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGALRM, on_alarm)
    # Started in the background by a non-interactive shell, we inherit SIGINT
    # ignored, and so would the daemon (libfuse then leaves it ignored) and the
    # commands the tests interrupt. A handler of our own is reset by exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runner = Runner(args.timeout * args.slow, args.verbose)
    t0 = time.monotonic()
    try:
        for modname, module, tests in discover(args.patterns):
            runner.run_module(modname, module, tests)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        runner.results.append(("<interrupted>", False, 0))
    finally:
        harness.emergency_cleanup()
    # Only our own mount points: another run (make sanitize, a demo) may mount meanwhile.
    left = [m for m in harness.fuse_mounts() if m in harness.created_mounts]
    if left:
        runner.report("<no mount left behind>", False, 0, "still mounted: " + ", ".join(left))
        for m in left:
            subprocess.run(["fusermount3", "-uz", m], timeout=10)
    failed = [n for n, ok, _ in runner.results if not ok]
    total = len(runner.results)
    under = f" under {args.wrapper}" if args.wrapper else ""
    print(f"\n{total - len(failed)} passed, {len(failed)} failed, {total} in all, "
          f"{time.monotonic() - t0:.1f} s ({harness.DAEMON}{under})")
    for n in failed:
        print(f"  FAILED {n}")
    if total == 0:
        print("no test matched", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
