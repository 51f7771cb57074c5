"""contrib/examples: refetch-all, refetch-and-wait and refetch-and-test on real
mounts. Every run has a time limit (the scripts never hang), and every test
checks the exit status and the output, line for line."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import harness
from harness import read_file, refetch, run, wait_until

# The refetch-and-wait and refetch-and-test tests share this mount, each with
# agents of its own. The refetch-all tests touch every agent, so each starts an
# Env of its own. A result is polled every 0.2 s (5 s by default).
ENV = {"agents": 60, "stage_seconds": 0.1, "opts": {"result_poll_interval": "0.2"}}

EXAMPLES = os.path.join(harness.ROOT, "contrib", "examples")
REFETCH_ALL = os.path.join(EXAMPLES, "refetch-all")
REFETCH_AND_WAIT = os.path.join(EXAMPLES, "refetch-and-wait")
REFETCH_AND_TEST = os.path.join(EXAMPLES, "refetch-and-test")

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


# ---------------------------------------------------------------- refetch-and-test

RT = "refetch-and-test"
RUN_TEXT = "/test_framework/v2/scenarios/run_scenarios_text/"
RUN_VOICE = "/test_framework/v2/scenarios/run_scenarios/"


def refetch_and_test(mnt, args, timeout=20, env=None):
    return run(f"{REFETCH_AND_TEST} -m {mnt} {args}", timeout=timeout, env=env)


def stages(agent, *lines):
    """The script's stdout: one line per stage."""
    return "".join(f"{RT}: agent {agent}: {line}\n" for line in lines)


def started_results(sim, agent):
    """Ids of the results started through the API for agent, oldest first."""
    return sim.request("GET", "/_sim/results").get(str(agent), [])


def run_posts(sim, agent, since=0):
    """(path, status) of the run POSTs for agent (their body's agent_id) after seq since."""
    return [(e["path"], e["status"]) for e in sim.log()
            if e["seq"] > since and e["method"] == "POST" and e["path"] in (RUN_TEXT, RUN_VOICE)
            and isinstance(e["body"], dict) and e["body"].get("agent_id") == agent]


def end_calls_posts(sim, rid, since=0):
    path = f"/test_framework/v2/results/{rid}/end_calls/"
    return [e["status"] for e in sim.log()
            if e["seq"] > since and e["method"] == "POST" and e["path"] == path]


def result_detail(sim, rid):
    return sim.api_get(f"/test_framework/v2/results/{rid}/")


def run_ids(sim, rid):
    """The result's run ids, ascending (the detail keys its runs by id)."""
    return sorted(int(r) for r in result_detail(sim, rid)["runs"])


def junit_cases(path):
    """[(testcase name, whether it has a <failure>)] of a JUnit file (it must parse)."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuite", root.tag
    return [(c.get("name"), c.find("failure") is not None) for c in root.iter("testcase")]


def slow_next_run(sim):
    """The next text run POST is held 2 s by the simulator: start_slow_result()
    then makes its result last 180 s."""
    sim.add_fault(match="run_scenarios_text", method="POST", kind="stall", seconds=2, count=1)


def start_slow_result(sim, agent, since):
    """Once agent's run POST is held (slow_next_run), 30 s stages: the result is
    made with the stage seconds of when the simulator answers the POST."""
    wait_until(lambda: any(e["method"] == "POST" and e["path"] == RUN_TEXT and e["status"] is None
                           for e in sim.log() if e["seq"] > since),
               timeout=10, what=f"the run POST of agent {agent}")
    sim.config(stage_seconds=30)


def reader_of(pid, path):
    """Whether a process of session pid is reading path (the script's `cat`)."""
    for p in session_processes(pid):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"cat") and path.encode() in argv:
            return True
    return False


def test_refetch_and_test_passes_end_to_end(env):
    # Agent 22: its two evaluators pass. RUN LINE "text all" by default, MOUNT from $CEKURAFS_MOUNT.
    start = env.sim.last_seq()
    tmp = tempfile.mkdtemp(prefix="cekurafs-examples-")
    try:
        junit = os.path.join(tmp, "report.xml")
        code, out, err, _ = run(f"{REFETCH_AND_TEST} -j {junit} 22", timeout=20,
                                env={**os.environ, "CEKURAFS_MOUNT": env.mnt})
        rids = started_results(env.sim, 22)
        assert len(rids) == 1, (rids, code, out, err)
        rid = rids[0]
        assert (code, err) == (0, ""), (code, out, err)
        assert out == stages(22, "refetch started", "import completed", f"run started: result {rid}",
                             f"result {rid} passed: completed, runs 2/2, passed 2, failed 0",
                             f"junit.xml copied to {junit}"), out
        # One import, one text run of both evaluators, and the result over and passed.
        assert_posts(env.sim, {22: [202]}, since=start)
        assert run_posts(env.sim, 22, start) == [(RUN_TEXT, 201)]
        body = [e["body"] for e in env.sim.log() if e["seq"] > start and e["path"] == RUN_TEXT][0]
        assert body["scenarios"] == [2201, 2204], body
        assert result_detail(env.sim, rid)["status"] == "completed"
        # The report parses; it is the mount's junit.xml, in a file of the umask's mode.
        assert junit_cases(junit) == [("Refund request", False), ('Book <now> & "cancel" it\'s', False)]
        with open(junit, "rb") as f:
            assert f.read() == read_file(env.agent(22, f"results/{rid}/junit.xml")).encode()
        assert os.stat(junit).st_mode & 0o200, oct(os.stat(junit).st_mode)
        assert end_calls_posts(env.sim, rid) == []
    finally:
        shutil.rmtree(tmp)


def test_refetch_and_test_runs_that_did_not_pass_are_exit_6(env):
    # Agent 21 (odd): Angry caller fails its evaluation, Wrong number has success null.
    tmp = tempfile.mkdtemp(prefix="cekurafs-examples-")
    try:
        junit = os.path.join(tmp, "report.xml")
        code, out, err, _ = refetch_and_test(env.mnt, f"-j {junit} 21 text all")
        rid = started_results(env.sim, 21)[-1]
        ids = run_ids(env.sim, rid)
        assert len(ids) == 4, ids
        assert (code, out) == (6, stages(
            21, "refetch started", "import completed", f"run started: result {rid}",
            f"result {rid} did not pass: completed, runs 4/4, passed 2, failed 2",
            f"junit.xml copied to {junit}")), (code, out, err)
        line = f"results/{rid}: 2 of 4 runs did not pass: {ids[1]} {ids[2]}"
        assert err == f"{RT}: agent 21: {line}\n", err
        assert read_file(env.agent(21, f"results/{rid}/error")) == line + "\n"
        # The report of a failed result is copied too, its failures in it.
        assert [failed for _, failed in junit_cases(junit)] == [False, True, True, False]
    finally:
        shutil.rmtree(tmp)


def test_refetch_and_test_zero_runs_is_exit_6(env):
    # Agent 30 has no evaluators: a tag selects none, and nothing tested is no pass.
    code, out, err, _ = refetch_and_test(env.mnt, "30 text tag=smoke")
    rid = started_results(env.sim, 30)[-1]
    assert (code, out) == (6, stages(
        30, "refetch started", "import completed", f"run started: result {rid}",
        f"result {rid} did not pass: completed, runs 0/0, passed 0, failed 0")), (code, out, err)
    assert err == f"{RT}: agent 30: results/{rid}: no runs: nothing was tested\n", err


def test_refetch_and_test_refused_refetch_is_exit_3(env):
    start = env.sim.last_seq()
    code, out, err, _ = refetch_and_test(env.mnt, "13")
    assert (code, out) == (3, stages(13, "refetch refused")), (code, out, err)
    assert err == f"{RT}: agent 13: {REFUSED[3]}\n", err
    assert_posts(env.sim, {13: [400]}, since=start)
    assert run_posts(env.sim, 13, start) == []
    # An import already running is a refusal too (EBUSY), and nothing more is sent.
    start_long_import(env.sim, env.daemon, 31)
    start = env.sim.last_seq()
    code, out, err, secs = refetch_and_test(env.mnt, "31")
    busy = error_line(env.daemon, 31)
    assert "already running" in busy, busy
    assert (code, out, err) == (3, stages(31, "refetch refused"), f"{RT}: agent 31: {busy}\n"), \
        (code, out, err)
    assert secs < 5, secs
    assert_posts(env.sim, {31: []}, since=start)
    assert run_posts(env.sim, 31, start) == []


def test_refetch_and_test_failed_import_is_exit_4(env):
    start = env.sim.last_seq()
    code, out, err, _ = refetch_and_test(env.mnt, "25")
    assert (code, out) == (4, stages(25, "refetch started", "import failed")), (code, out, err)
    assert err == f"{RT}: agent 25: {IMPORT_FAILED}\n", err
    assert run_posts(env.sim, 25, start) == []


def test_refetch_and_test_refused_run_is_exit_5(env):
    cases = [
        # A bad line: EINVAL, nothing sent.
        (26, "text 042", 'run: unknown word "042" in word 2', False),
        # No evaluators for `all`: EINVAL, nothing sent.
        (40, "text all", "run: no evaluators", False),
        # Over max_runs (4 evaluators x 100): E2BIG, nothing sent.
        (36, "text all frequency=100", "run: 400 conversations exceeds max_runs=200", False),
        # The API's 400, rendered: EREMOTEIO.
        (28, "text 999", 'run: HTTP 400: scenarios: Invalid pk "999" - object does not exist.', True),
    ]
    for agent, line, why, sent in cases:
        start = env.sim.last_seq()
        code, out, err, _ = refetch_and_test(env.mnt, f"{agent} '{line}'")
        assert (code, out) == (5, stages(agent, "refetch started", "import completed", "run refused")), \
            (line, code, out, err)
        assert err == f"{RT}: agent {agent}: {why}\n", (line, err)
        assert run_posts(env.sim, agent, start) == ([(RUN_TEXT, 400)] if sent else []), line
        assert started_results(env.sim, agent) == [], line


def test_refetch_and_test_import_timeout_is_exit_7(env):
    d = env.new_daemon(opts={"wait_timeout": "1", "result_poll_interval": "0.2"})
    d.start()
    start = env.sim.last_seq()
    env.sim.config(stage_seconds=30)
    try:
        code, out, err, secs = refetch_and_test(d.mnt, "37", timeout=15)
    finally:
        env.sim.config(stage_seconds=0.1)
    assert (code, out) == (7, stages(37, "refetch started", "import timed out")), (code, out, err)
    assert err == f"{RT}: agent 37: wait: timed out after 1 s\n", err
    assert 0.9 < secs < 3 * harness.SLOW, secs
    assert run_posts(env.sim, 37, start) == []
    d.stop()


def test_refetch_and_test_result_timeout_is_exit_7(env):
    d = env.new_daemon(opts={"result_wait_timeout": "1", "result_poll_interval": "0.2"})
    d.start()
    start = env.sim.last_seq()
    slow_next_run(env.sim)
    tmp = tempfile.mkdtemp(prefix="cekurafs-examples-")
    junit = os.path.join(tmp, "report.xml")
    proc = subprocess.Popen([REFETCH_AND_TEST, "-m", d.mnt, "-j", junit, "38"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        start_slow_result(env.sim, 38, start)
        out, err = proc.communicate(timeout=15 * harness.SLOW)
    finally:
        env.sim.config(stage_seconds=0.1)
        env.sim.clear_faults()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        shutil.rmtree(tmp, ignore_errors=True)
    rid = started_results(env.sim, 38)[-1]
    assert (proc.returncode, out.decode()) == (7, stages(
        38, "refetch started", "import completed", f"run started: result {rid}",
        f"result {rid} timed out: pending, runs 0/4, passed 0, failed 0",
        f"junit.xml not copied: result {rid} is not over")), (proc.returncode, out, err)
    # The agent's error line (the result's own is empty while it runs).
    assert err.decode() == f"{RT}: agent 38: results/{rid}/wait: timed out after 1 s\n", err
    assert read_file(d.agent(38, f"results/{rid}/error")) == ""
    assert not os.path.exists(junit)
    assert end_calls_posts(env.sim, rid) == []  # a timeout is not a cancel
    d.stop()


def interrupted_while_the_result_runs(env, agent, args, interrupt):
    """Runs refetch-and-test on agent until it waits for its (slow) result, then calls
    interrupt(proc); returns (exit status, stdout, stderr, result id, seconds to exit), after
    checking that the simulator was asked once to end that result's calls, and did."""
    start = env.sim.last_seq()
    slow_next_run(env.sim)
    proc = subprocess.Popen([REFETCH_AND_TEST, "-m", env.mnt, str(agent), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        start_slow_result(env.sim, agent, start)
        rid = wait_until(lambda: started_results(env.sim, agent), timeout=10,
                         what=f"the result of agent {agent}")[-1]
        wait_until(lambda: reader_of(proc.pid, env.agent(agent, f"results/{rid}/wait")),
                   timeout=10, what="the script to wait for the result")
        assert proc.poll() is None
        interrupt(proc)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=5 * harness.SLOW)
        secs = time.monotonic() - t0
    finally:
        env.sim.config(stage_seconds=0.1)
        env.sim.clear_faults()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert end_calls_posts(env.sim, rid, start) == [200]
    assert result_detail(env.sim, rid)["status"] == "cancelled"
    wait_until(lambda: session_processes(proc.pid) == [], timeout=3,
               what="the script's reader to exit")
    return proc.returncode, out.decode(), err.decode(), rid, secs


def test_refetch_and_test_sigterm_ends_the_calls(env):
    # SIGTERM to the script alone, as a CI runner cancelling the job may send it:
    # its `cat` of the result's wait is in the background, so the trap runs at once.
    code, out, err, rid, secs = interrupted_while_the_result_runs(
        env, 42, ["text all"], lambda proc: proc.send_signal(signal.SIGTERM))
    assert (code, out, err) == (143, stages(
        42, "refetch started", "import completed", f"run started: result {rid}",
        f"result {rid} interrupted: its calls ended"), ""), (code, out, err)
    assert secs < 2 * harness.SLOW, secs


def test_refetch_and_test_ctrl_c_ends_the_calls(env):
    # what Ctrl-C sends: SIGINT to the whole group
    code, out, err, rid, _ = interrupted_while_the_result_runs(
        env, 46, [], lambda proc: os.killpg(proc.pid, signal.SIGINT))
    assert (code, out, err) == (130, stages(
        46, "refetch started", "import completed", f"run started: result {rid}",
        f"result {rid} interrupted: its calls ended"), ""), (code, out, err)


def test_refetch_and_test_sigterm_before_the_run_sends_no_end_calls(env):
    start = env.sim.last_seq()
    env.sim.config(stage_seconds=30)
    proc = subprocess.Popen([REFETCH_AND_TEST, "-m", env.mnt, "48"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until(lambda: reader_of(proc.pid, env.agent(48, "wait")), timeout=10,
                   what="the script to wait for the import")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5 * harness.SLOW)
    finally:
        env.sim.config(stage_seconds=0.1)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert (proc.returncode, out.decode(), err.decode()) == (143, stages(
        48, "refetch started", "import interrupted"), ""), (proc.returncode, out, err)
    assert run_posts(env.sim, 48, start) == []
    assert [e for e in env.sim.log() if e["seq"] > start and e["path"].endswith("/end_calls/")] == []
    wait_until(lambda: session_processes(proc.pid) == [], timeout=3,
               what="the script's reader to exit")


def test_refetch_and_test_junit_file_not_written_is_exit_1(env):
    tmp = tempfile.mkdtemp(prefix="cekurafs-examples-")
    try:
        os.mkdir(os.path.join(tmp, "sub"))
        junit = os.path.join(tmp, "sub")  # a directory: cat cannot write it
        code, out, err, _ = refetch_and_test(env.mnt, f"-j {junit} 52")
        rid = started_results(env.sim, 52)[-1]
        assert (code, out) == (1, stages(
            52, "refetch started", "import completed", f"run started: result {rid}",
            f"result {rid} passed: completed, runs 2/2, passed 2, failed 0")), (code, out, err)
        assert err == f"{RT}: agent 52: cannot copy junit.xml to {junit}: Is a directory\n", err
    finally:
        shutil.rmtree(tmp)


def test_refetch_and_test_usage_is_exit_1(env):
    empty = tempfile.mkdtemp(prefix="cekurafs-examples-")
    try:
        cases = [
            ("", "no AGENT given"),
            (f"-m {empty}", "no AGENT given"),
            ("-m", "-m needs a MOUNT"),
            (f"-m {empty} -j", "-j needs a JUNIT_FILE"),
            (f"-m {empty} -j '' 1", "JUNIT_FILE is empty"),
            ("-q 1", "unknown option: -q"),
            (f"-m {empty} by-name", "not an agent id: 'by-name'"),
            (f"-m {empty} -- -1", "not an agent id: '-1'"),
            (f"-m {empty} 1 ''", "RUN LINE is empty"),
            ("-m '' 1", "MOUNT is empty"),
            (f"-m {empty} -j {empty}/no/report.xml 1", f"no directory {empty}/no for JUNIT_FILE"),
        ]
        for args, message in cases:
            code, out, err, _ = run(f"{REFETCH_AND_TEST} {args}", timeout=10)
            assert (code, out) == (1, ""), (args, code, out, err)
            assert err == (f"{RT}: {message}\n"
                           f"usage: {RT} [-m MOUNT] [-j JUNIT_FILE] AGENT [RUN LINE] "
                           f"({RT} --help for more)\n"), (args, err)
        # Not a cekurafs mount, and an agent the mount does not have: nothing is sent.
        code, out, err, _ = run(f"{REFETCH_AND_TEST} -m {empty} 1", timeout=10)
        assert (code, out, err) == (1, "", f"{RT}: {empty}/agents is not a directory "
                                           f"(is cekurafs mounted on {empty}?)\n"), (code, out, err)
        start = env.sim.last_seq()
        code, out, err, _ = refetch_and_test(env.mnt, "999", timeout=10)
        assert (code, out, err) == (1, "", f"{RT}: no agent 999 in {env.mnt}/agents\n"), (code, out, err)
        assert [e for e in env.sim.log() if e["seq"] > start and e["method"] == "POST"] == []
    finally:
        shutil.rmtree(empty)


def test_refetch_and_test_help_and_shell():
    for flag in ("--help", "-h"):
        code, out, err, _ = run(f"{REFETCH_AND_TEST} {flag}", timeout=10)
        assert (code, err) == (0, ""), (flag, code, err)
        assert out.startswith(f"usage: {RT} [-m MOUNT] [-j JUNIT_FILE] AGENT [RUN LINE]\n") \
            and "Exit status:" in out, out
    # POSIX sh: checked by sh (dash where it is /bin/sh) and by shellcheck as sh.
    assert os.access(REFETCH_AND_TEST, os.X_OK)
    with open(REFETCH_AND_TEST) as f:
        head = f.read(300)
    assert head.startswith(f"#!/bin/sh\n# {RT} "), head
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            args = [shell, "--posix", "-n"] if shell == "bash" else [shell, "-n"]
            code, out, err, _ = run(args + [REFETCH_AND_TEST], shell=False, timeout=10)
            assert (code, out, err) == (0, "", ""), (shell, err)
    if shutil.which("shellcheck"):  # optional: not a build dependency
        code, out, err, _ = run(["shellcheck", REFETCH_AND_TEST], shell=False, timeout=30)
        assert (code, out, err) == (0, "", ""), (out, err)
