"""contrib/examples: refetch-all and refetch-and-wait on real mounts. Every run
has a time limit (the scripts never hang), and every test checks the exit status
and the output, line for line."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import read_file, refetch, run, wait_until

# The refetch-and-wait tests share this mount, each with agents of its own. The
# refetch-all tests touch every agent, so each starts an Env of its own.
ENV = {"agents": 20, "stage_seconds": 0.1}

EXAMPLES = os.path.join(harness.ROOT, "contrib", "examples")
REFETCH_ALL = os.path.join(EXAMPLES, "refetch-all")
REFETCH_AND_WAIT = os.path.join(EXAMPLES, "refetch-and-wait")

REFUSED = {3: "refetch: HTTP 400: Agent has no provider configured",
           4: "refetch: HTTP 400: Auto-fetch is not supported for provider 'custom'"}
IMPORT_FAILED = "auto-fetch: failed at stage tools: Provider returned 500 while listing tools"


def refetch_all(args, timeout=20, env=None):
    return run(f"{REFETCH_ALL} {args}", timeout=timeout, env=env)


def refetch_and_wait(mnt, agents, timeout=20):
    return run(f"{REFETCH_AND_WAIT} -m {mnt} {agents}", timeout=timeout)


def error_line(d, agent):
    return read_file(d.agent(agent, "error")).rstrip("\n")


def start_long_import(sim, d, agent):
    """A refetch of agent whose import runs 30 s a stage: a later refetch is EBUSY."""
    with sim.stages(30):
        refetch(d, agent)


def assert_posts(sim, expected, since=0):
    """expected: {agent: [HTTP statuses of its POSTs]}."""
    got = {a: [e["status"] for e in sim.posts(a, since)] for a in expected}
    assert got == expected, got


# ---------------------------------------------------------------- refetch-all

def test_refetch_all_reports_each_refused_agent():
    with harness.Env(agents=12, stage_seconds=0.1) as e:
        # MOUNT from $CEKURAFS_MOUNT.
        code, out, err, _ = refetch_all("", env={**os.environ, "CEKURAFS_MOUNT": e.mnt})
        assert (code, out) == (1, "refetch-all: 10 started, 2 failed\n"), (code, out, err)
        assert sorted(err.splitlines()) == [
            f"refetch-all: agent 3: Remote I/O error: {REFUSED[3]}",
            f"refetch-all: agent 4: Remote I/O error: {REFUSED[4]}"], err
        # Exactly one POST per agent; the refused ones were answered 400.
        assert_posts(e.sim, {a: [400] if a in REFUSED else [202] for a in range(1, 13)})
        for a in (1, 12):
            assert read_file(e.agent(a, "progress")).split("\n")[0] in ("in_progress", "completed")


def test_refetch_all_counts_a_running_import_as_failed():
    with harness.Env(agents=2, stage_seconds=0.1) as e:
        start_long_import(e.sim, e.daemon, 2)
        code, out, err, _ = refetch_all(e.mnt)
        assert (code, out) == (1, "refetch-all: 1 started, 1 failed\n"), (code, out, err)
        busy = error_line(e.daemon, 2)
        assert busy.startswith("refetch: ") and "already running" in busy, busy
        assert err == f"refetch-all: agent 2: Device or resource busy: {busy}\n", err
        # No second POST for the running one.
        assert_posts(e.sim, {1: [202], 2: [202]})


def test_refetch_all_with_j2_when_every_agent_is_accepted():
    # Agents 1 and 2: none refused (id % 10 in 3, 4).
    with harness.Env(agents=2, stage_seconds=0.1) as e:
        code, out, err, _ = refetch_all(f"-j 2 {e.mnt}")
        assert (code, out, err) == (0, "refetch-all: 2 started, 0 failed\n", ""), (code, out, err)
        assert_posts(e.sim, {1: [202], 2: [202]})
        for a in (1, 2):
            assert error_line(e.daemon, a) == ""


def test_refetch_all_runs_at_most_n_at_once():
    # Every API answer takes 0.2 s: a slot's next POST arrives at least 0.2 s after
    # its last one, so no more than N POSTs arrive within any 0.2 s.
    latency = 0.2
    with harness.Env(agents=12, stage_seconds=0.1, latency=int(latency * 1000)) as e:
        code, out, err, _ = refetch_all(f"-j3 {e.mnt}")
        assert (code, out) == (1, "refetch-all: 10 started, 2 failed\n"), (code, out, err)
        assert len(err.splitlines()) == 2, err
        times = sorted(p["time"] for a in range(1, 13) for p in e.sim.posts(a))
        assert len(times) == 12, times
        window = latency * 0.9
        in_flight = max(sum(1 for t in times if t <= u < t + window) for u in times)
        assert 2 <= in_flight <= 3, (in_flight, [round(t - times[0], 3) for t in times])


def test_refetch_all_on_a_mount_without_agents():
    with harness.Env(agents=0) as e:
        code, out, err, _ = refetch_all(e.mnt)
        assert (code, out, err) == (0, "refetch-all: 0 started, 0 failed\n", ""), (code, out, err)
        assert e.sim.requests(kind="auto-fetch") == []


def test_refetch_all_cannot_list_is_exit_2():
    empty = tempfile.mkdtemp(prefix="cekurafs-examples-")
    try:
        code, out, err, _ = refetch_all(empty, timeout=10)
        assert (code, out) == (2, ""), (code, out, err)
        assert err == f"refetch-all: cannot list {empty}/agents: No such file or directory\n", err
    finally:
        shutil.rmtree(empty)


# ---------------------------------------------------------------- refetch-and-wait

def test_refetch_and_wait_reports_completed_imports(env):
    # 6 skips a stage, 8 and 9 name their stages another way: all complete.
    code, out, err, _ = refetch_and_wait(env.mnt, "1 2 6 8 9")
    assert (code, err) == (0, ""), (code, out, err)
    assert out == "1 completed\n2 completed\n6 completed\n8 completed\n9 completed\n", out
    assert_posts(env.sim, {a: [202] for a in (1, 2, 6, 8, 9)})
    for a in (1, 2, 6, 8, 9):
        assert read_file(env.agent(a, "progress")).startswith("completed\n")


def test_refetch_and_wait_with_a_refused_agent_is_exit_1(env):
    code, out, err, _ = refetch_and_wait(env.mnt, "7 3 4")
    assert (code, out) == (1, "7 completed\n"), (code, out, err)
    assert err == (f"refetch-and-wait: agent 3: Remote I/O error: {REFUSED[3]}\n"
                   f"refetch-and-wait: agent 4: Remote I/O error: {REFUSED[4]}\n"), err
    assert_posts(env.sim, {7: [202], 3: [400], 4: [400]})


def test_refetch_and_wait_reports_a_failed_import(env):
    # 15's import fails at stage tools; 10's completes. Lines in the order given.
    code, out, err, _ = refetch_and_wait(env.mnt, "15 10")
    assert (code, err) == (1, ""), (code, out, err)
    assert out == f"15 failed: {IMPORT_FAILED}\n10 completed\n", out
    assert read_file(env.agent(15, "progress")).startswith("failed\n")


def test_refetch_and_wait_with_a_running_import_is_exit_1(env):
    start_long_import(env.sim, env.daemon, 11)
    code, out, err, secs = refetch_and_wait(env.mnt, "11")
    busy = error_line(env.daemon, 11)
    assert "already running" in busy, busy
    assert (code, out) == (1, ""), (code, out, err)
    assert err == f"refetch-and-wait: agent 11: Device or resource busy: {busy}\n", err
    assert secs < 5, secs  # it did not wait for the running import
    assert_posts(env.sim, {11: [202]})


def test_refetch_and_wait_reports_wait_timeout(env):
    d = env.new_daemon(opts={"wait_timeout": "1"})
    d.start()
    env.sim.config(stage_seconds=30)
    try:
        code, out, err, secs = refetch_and_wait(d.mnt, "12 16", timeout=15)
    finally:
        env.sim.config(stage_seconds=0.1)
    assert (code, err) == (1, ""), (code, out, err)
    assert out == "12 failed: wait: timed out after 1 s\n16 failed: wait: timed out after 1 s\n", out
    assert 0.9 < secs < 1.5 * harness.SLOW, secs  # the two waits ran at once: not 2 s
    d.stop()


def session_processes(sid):
    """Pids of the processes still in session sid."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(name))
    return pids


def test_refetch_and_wait_stops_its_readers_on_ctrl_c(env):
    start = env.sim.last_seq()
    env.sim.config(stage_seconds=30)
    try:
        proc = subprocess.Popen([REFETCH_AND_WAIT, "-m", env.mnt, "17", "18"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            # Both imports started and their `wait` readers blocked, polling.
            wait_until(lambda: len(env.sim.posts(17, start)) == 1
                       and len(env.sim.posts(18, start)) == 1
                       and env.sim.polls(17, start) and env.sim.polls(18, start),
                       timeout=10, what="the waits of agents 17 and 18 to poll")
            assert proc.poll() is None
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group
            t0 = time.monotonic()
            out, err = proc.communicate(timeout=5)
            secs = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    finally:
        env.sim.config(stage_seconds=0.1)
    assert (proc.returncode, out, err) == (130, b"", b""), (proc.returncode, out, err)
    assert secs < 2, secs
    # No `cat wait` left behind.
    wait_until(lambda: session_processes(proc.pid) == [], timeout=3,
               what="the script's readers to exit")


# ---------------------------------------------------------------- usage

def test_usage_errors_are_exit_2():
    empty = tempfile.mkdtemp(prefix="cekurafs-examples-")
    try:
        cases = [
            (REFETCH_ALL, "-j 0 /mnt/x", "-j needs a positive number, not '0'"),
            (REFETCH_ALL, "-j four /mnt/x", "-j needs a positive number, not 'four'"),
            (REFETCH_ALL, "-j", "-j needs a number"),
            (REFETCH_ALL, "-x", "unknown option: -x"),
            (REFETCH_ALL, "/mnt/a /mnt/b", "one MOUNT at most"),
            (REFETCH_ALL, "''", "MOUNT is empty"),
            (REFETCH_AND_WAIT, "", "no AGENT given"),
            (REFETCH_AND_WAIT, f"-m {empty}", "no AGENT given"),
            (REFETCH_AND_WAIT, "-m", "-m needs a MOUNT"),
            (REFETCH_AND_WAIT, "-q 1", "unknown option: -q"),
            (REFETCH_AND_WAIT, f"-m {empty} 1 by-name", "not an agent id: 'by-name'"),
            (REFETCH_AND_WAIT, f"-m {empty} -- -1", "not an agent id: '-1'"),
        ]
        for script, args, message in cases:
            prog = os.path.basename(script)
            code, out, err, _ = run(f"{script} {args}", timeout=10)
            synopsis = "[-j N] [MOUNT]" if prog == "refetch-all" else "[-m MOUNT] AGENT..."
            assert (code, out) == (2, ""), (prog, args, code, out, err)
            assert err == (f"{prog}: {message}\n"
                           f"usage: {prog} {synopsis} ({prog} --help for more)\n"), (args, err)
        # A MOUNT that is not a cekurafs mount: refetch-and-wait sends nothing and says so.
        code, out, err, _ = run(f"{REFETCH_AND_WAIT} -m {empty} 1", timeout=10)
        assert (code, out) == (2, ""), (code, out, err)
        assert err == (f"refetch-and-wait: {empty}/agents is not a directory "
                       f"(is cekurafs mounted on {empty}?)\n"), err
    finally:
        shutil.rmtree(empty)


def test_help_is_exit_0():
    for script, synopsis in ((REFETCH_ALL, "[-j N] [MOUNT]"),
                             (REFETCH_AND_WAIT, "[-m MOUNT] AGENT...")):
        prog = os.path.basename(script)
        for flag in ("--help", "-h"):
            code, out, err, _ = run(f"{script} {flag}", timeout=10)
            assert (code, err) == (0, ""), (prog, flag, code, err)
            assert out.startswith(f"usage: {prog} {synopsis}\n") and "Exit status:" in out, out


def test_scripts_are_clean_for_bash_and_shellcheck():
    for script in (REFETCH_ALL, REFETCH_AND_WAIT):
        assert os.access(script, os.X_OK), script
        with open(script) as f:
            head = f.read(300)
        assert head.startswith(f"#!/bin/bash\n# {os.path.basename(script)} "), head
        code, out, err, _ = run(["bash", "-n", script], shell=False, timeout=10)
        assert (code, out, err) == (0, "", ""), (script, err)
        if shutil.which("shellcheck"):  # optional: not a build dependency
            code, out, err, _ = run(["shellcheck", script], shell=False, timeout=30)
            assert (code, out, err) == (0, "", ""), (script, out, err)


def test_cron_line_runs_refetch_all():
    with open(os.path.join(EXAMPLES, "cron")) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1, lines
    fields = lines[0].split()
    # /etc/cron.d format: five time fields, the user, then the command.
    assert len(fields) >= 7 and fields[6].endswith("/refetch-all"), fields
    assert "%" not in lines[0], lines[0]  # cron would make it a newline
