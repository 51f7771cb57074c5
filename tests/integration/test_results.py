"""Evaluators, `run` and results/ on a real mount (issue 15, "Tests",
"Integration on a real mount"; DESIGN.md section 7, "Evaluators and `run`"
and "Results"): every line of the issue's "What a user gets", what each
write sends (the simulator's request log) and what it does not, and how a
result's files read in each of its ends.

The simulator (contrib/cekura-sim.md, "Evaluators, runs and results"): agent
i has evaluators 100i + k; k = 1, 4 pass, k = 2 fails its evaluation, k = 3
ends with success null; i % 10 == 2 has only k = 1 and 4 (so `all` passes),
i % 10 == 0 has none, i % 10 == 4 fails on infrastructure, i % 10 == 5 has no
phone (voice refused with a bare JSON array), odd i are outbound (a voice run
times out after ceil(3 S) s), i % 50 == 41 has 55 evaluators. Earlier results
10i + 1 .. 10i + 5: Nightly, Release check, zero runs, cancelled, and a soak
test that runs for ever. A result started here moves every S (STAGE) seconds
and is over by 6 S.

Each test uses agents of its own (the daemon of the module is shared)."""

import errno
import json
import os
import re
import select
import shlex
import signal
import stat
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import harness
from harness import (Sim, errname, iso_time, os_errno, read_file, run, sleep_until, start_reader,
                     wait_until, write_file)

STAGE = 0.2  # the simulator's stage seconds: a result started here is over in 1.2 s
POLL = 0.2   # result_poll_interval of the module's daemon
ENV = {"agents": 120, "stage_seconds": STAGE,
       "opts": {"result_poll_interval": str(POLL), "result_wait_timeout": "30"}}

TEXT = Sim.RUN_PATHS["text"]
VOICE = Sim.RUN_PATHS["voice"]
TERMINAL = ("completed", "failed", "timeout", "cancelled")
RESULT_FILES = ("end-calls", "error", "junit.xml", "result.json", "runs", "status", "summary",
                "wait")
INFRA_ERROR = "Websocket handshake failed: 502 Bad Gateway"
DIAL_FAILURE = "The agent did not dial the outbound number before the dial window closed"
CANCEL_ERROR = "Cancelled: the result's calls were ended"
NOBODY = 65534


# ---------------------------------------------------------------- DESIGN.md's texts, from the API's detail

def word(s):
    """A status or a run's name as one word: each run of spaces or control
    characters one '_', "-" when empty or missing."""
    s = re.sub(r"[ \x00-\x1f\x7f]+", "_", s or "")
    return s or "-"


def scrub(s):
    """One line: every control character a space."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", s or "")


def runs_of(detail):
    """The runs of a detail (an object keyed by id, or an array), ascending id."""
    runs = detail.get("runs") or {}
    runs = list(runs.values()) if isinstance(runs, dict) else list(runs)
    return sorted(runs, key=lambda r: r["id"])


def passed(r):
    return r["status"] == "completed" and r.get("success") is True


def tally(d):
    """(runs, all, done, passed, failed) as DESIGN.md's summary counts them."""
    runs = runs_of(d)
    total = str(d.get("total_runs_count"))
    everything = max(len(runs), int(total) if total.isdigit() else -1)
    done = sum(r["status"] in TERMINAL for r in runs)
    ok = sum(passed(r) for r in runs)
    if d["status"] in TERMINAL:
        failed = everything - ok
    else:
        failed = sum(r["status"] in TERMINAL and not passed(r) for r in runs)
    return runs, everything, done, ok, failed


def verdict(d):
    runs, everything, _, ok, _ = tally(d)
    if d["status"] not in TERMINAL:
        return "running"
    if d["status"] == "completed" and runs and ok == everything:
        return "passed"
    return "failed"


def run_verdict(d, r):
    if passed(r):
        return "passed"
    if r["status"] in TERMINAL or d["status"] in TERMINAL:
        return "failed"
    return "pending"


def summary_text(d):
    """The text of `summary` (and of a `wait` that ends well) for a detail."""
    runs, everything, done, ok, failed = tally(d)
    name = scrub(d.get("name"))
    rate = "" if d.get("success_rate") is None else json.dumps(d["success_rate"])
    lines = [word(d["status"]), f"result_id: {d['id']}", f"name: {name}" if name else "name:",
             f"verdict: {verdict(d)}", f"runs: {done}/{everything}", f"passed: {ok}",
             f"failed: {failed}", f"success_rate: {rate}" if rate else "success_rate:"]
    for r in runs:
        evaluator = "-" if r.get("scenario") is None else str(r["scenario"])
        lines.append(f"run {r['id']} {evaluator} {word(r['status'])} {run_verdict(d, r)} "
                     f"{word(r.get('scenario_name'))}")
    return "\n".join(lines) + "\n"


def first_reason(d):
    reasons = d.get("failed_reasons")
    issues = reasons.get("issues") if isinstance(reasons, dict) else reasons
    if isinstance(issues, list) and issues:
        issue = issues[0]
        return issue.get("description") if isinstance(issue, dict) else issue
    return None


def error_text(d):
    """The text of results/<id>/error for a detail."""
    if verdict(d) != "failed":
        return ""
    head = f"results/{d['id']}: "
    if d["status"] != "completed":
        reason = first_reason(d)
        return head + f"result {word(d['status'])}" + (f": {scrub(reason)}" if reason else "") + "\n"
    runs, everything, _, ok, _ = tally(d)
    if not runs:
        return head + "no runs: nothing was tested\n"
    bad = [str(r["id"]) for r in runs if not passed(r)]
    return head + f"{everything - ok} of {everything} runs did not pass: " + " ".join(bad) + "\n"


def check_junit(path, d, agent):
    """Parses junit.xml (as a CI's test reporter would, from a copy) and checks
    it against the detail: one testsuite, one testcase per run, a failure in
    each run that did not pass. Returns the root."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuite", root.tag
    runs = runs_of(d)
    cases = root.findall("testcase")
    bad = [r for r in runs if run_verdict(d, r) != "passed"]
    assert (len(cases), root.get("tests"), root.get("failures")) == \
        (len(runs), str(len(runs)), str(len(bad))), (len(cases), root.attrib)
    for case, r in zip(cases, runs):
        assert case.get("name") == (scrub(r.get("scenario_name")) or "-"), (case.attrib, r)
        assert case.get("classname") == f"cekura.agent{agent}", case.attrib
        failures = case.findall("failure")
        if run_verdict(d, r) == "passed":
            assert failures == [], (r["id"], failures)
            continue
        assert len(failures) == 1, (r["id"], failures)
        f = failures[0]
        assert f.get("message") == scrub(r.get("error_message") or r["status"]), (f.attrib, r)
        assert f.get("type") == r["status"], (f.attrib, r)
        assert str(r["id"]) in (f.text or ""), (f.text, r["id"])
    return root


# ---------------------------------------------------------------- helpers

def daemon_of(env_or_daemon):
    return env_or_daemon.daemon if isinstance(env_or_daemon, harness.Env) else env_or_daemon


def start(env_or_daemon, agent, line):
    """The issue's transaction, in bash:
        exec 3<>agents/<agent>/run; echo LINE >&3; read -r rid <&3; exec 3<&-
    which must succeed; returns the id read back."""
    d = daemon_of(env_or_daemon)
    cmd = (f"exec 3<>{d.agent(agent, 'run')} && echo {shlex.quote(line)} >&3 && "
           f"read -r rid <&3 && exec 3<&- && printf '%s\\n' \"$rid\"")
    code, out, err, _ = run(cmd)
    assert code == 0 and err == "", (agent, line, code, out, err,
                                     read_file(d.agent(agent, "error")))
    assert re.fullmatch(r"[1-9][0-9]*\n", out), repr(out)
    return int(out)


def result_path(env_or_daemon, agent, rid, name=None):
    d = daemon_of(env_or_daemon)
    parts = ["results", str(rid)] + ([name] if name else [])
    return d.agent(agent, os.path.join(*parts))


def cat_wait(env_or_daemon, agent, rid, timeout=20):
    """`cat results/<rid>/wait`: (exit code, stdout, stderr, seconds)."""
    return run(f"cat {result_path(env_or_daemon, agent, rid, 'wait')}", timeout=timeout)


def one_post(sim, agent, path, body, status=201, since=0):
    """The one run POST for agent since `since`, which went to path with body."""
    posts = sim.run_posts(agent=agent, since=since)
    assert [(e["path"], e["status"]) for e in posts] == [(path, status)], posts
    assert posts[0]["body"] == body, posts[0]["body"]
    return posts[0]


def started(sim, agent):
    """The result ids the simulator started for agent through the API."""
    return sim.results().get(str(agent), [])


def ls(path):
    code, out, err, _ = run(f"ls {path}")
    assert code == 0, err
    return out.split()


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def run_as_nobody(cmd):
    p = subprocess.run(["/bin/sh", "-c", cmd], preexec_fn=as_nobody, capture_output=True,
                       text=True, timeout=20 * harness.SLOW)
    return p.returncode, p.stdout, p.stderr


def check_failed_result(env, agent, rid):
    """A result whose verdict is failed, once over: `wait` fails with
    EREMOTEIO and prints nothing, `summary`, `error` (and the agent's),
    `status`, `result.json`, `runs/` and `junit.xml` say what the API says.
    Returns the detail."""
    code, out, err, _ = cat_wait(env, agent, rid)
    assert code != 0 and out == "" and "Remote I/O error" in err, (code, out, err)
    assert os_errno(read_file, result_path(env, agent, rid, "wait")) == errno.EREMOTEIO
    d = env.sim.result_detail(rid)
    assert d["status"] in TERMINAL and verdict(d) == "failed", d["status"]
    check_files(env, agent, rid, d)
    line = error_text(d)
    assert read_file(env.agent(agent, "error")) == line
    # The CI idiom: the reason on stdout when the wait failed.
    code, out, _, _ = run(f"cat {result_path(env, agent, rid, 'wait')} || "
                          f"cat {result_path(env, agent, rid, 'error')}")
    assert out == line, out
    return d


def check_files(env, agent, rid, d):
    """The files of a terminal result against its detail d."""
    summary = read_file(result_path(env, agent, rid, "summary"))
    assert summary == summary_text(d), (summary, summary_text(d))
    assert read_file(result_path(env, agent, rid, "status")) == word(d["status"]) + "\n"
    assert read_file(result_path(env, agent, rid, "error")) == error_text(d)
    assert json.loads(read_file(result_path(env, agent, rid, "result.json"))) == d
    names = sorted(os.listdir(result_path(env, agent, rid, "runs")))
    assert names == sorted(f"{r['id']}.json" for r in runs_of(d)), names
    for r in runs_of(d):
        got = json.loads(read_file(result_path(env, agent, rid, f"runs/{r['id']}.json")))
        assert got == r, (r["id"], got)
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.xml")
        code, _, err, _ = run(f"cp {result_path(env, agent, rid, 'junit.xml')} {report}")
        assert code == 0, err
        check_junit(report, d, agent)


# ---------------------------------------------------------------- evaluators

AGENT_1_EVALUATORS = ("101\tRefund request\tSupport.Billing\tsmoke,billing\n"
                      "102\tAngry caller\tSupport\tsmoke,late night\n"
                      "103\tWrong number\t-\t\n"
                      "104\tBook <now> & \"cancel\" it's\t-\tregression,smoke,extended\n")


def test_cut_f1_2_of_evaluators_gives_each_evaluators_id_and_name(env):
    since = env.sim.last_seq()
    code, out, err, _ = run(f"cut -f1,2 {env.agent(1, 'evaluators')}")
    assert code == 0, err
    assert out == ("101\tRefund request\n102\tAngry caller\n103\tWrong number\n"
                   "104\tBook <now> & \"cancel\" it's\n"), out
    assert read_file(env.agent(1, "evaluators")) == AGENT_1_EVALUATORS
    asked = env.sim.evaluator_listings(1, since)
    assert [e["status"] for e in asked] == [200], asked  # then cached (list_ttl)
    st = os.stat(env.agent(1, "evaluators"))
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o444, oct(st.st_mode)

    # Two pages (55 evaluators, 50 a page), each line once, ascending id.
    since = env.sim.last_seq()
    code, out, err, _ = run(f"cut -f1 {env.agent(41, 'evaluators')}")
    assert code == 0, err
    assert out.split() == [str(4100 + k) for k in range(1, 56)], out
    pages = env.sim.evaluator_listings(41, since)
    assert [e["status"] for e in pages] == [200, 200], pages
    # No evaluators: an empty file.
    assert read_file(env.agent(10, "evaluators")) == ""
    for agent in (1, 41, 10):
        assert read_file(env.agent(agent, "error")) == ""


# ---------------------------------------------------------------- run: the transaction

def test_run_transaction_reads_back_its_id_and_the_result_is_listed_at_once(env):
    agent = 12  # evaluators 1201 (smoke, billing) and 1204 ("smoke,extended")
    results = env.agent(agent, "results")
    before = os.listdir(results)  # the listing, now cached
    assert sorted(before) == [str(10 * agent + k) for k in range(1, 6)], before
    since = env.sim.last_seq()
    rid = start(env, agent, "text tag=smoke")
    assert started(env.sim, agent) == [rid]
    one_post(env.sim, agent, TEXT, {"agent_id": agent, "tags": ["smoke"]}, since=since)
    # In the cached listing before the write returned: no new listing was asked.
    assert str(rid) in os.listdir(results)
    assert env.sim.results_listings(agent, since) == [], env.sim.results_listings(agent, since)
    assert os.readlink(os.path.join(results, "last")) == str(rid)
    assert os.readlink(os.path.join(results, "newest")) == str(rid)

    # The same on one open file from Python: the id at the position right after
    # the write, and at offset 0.
    since = env.sim.last_seq()
    fd = os.open(env.agent(agent, "run"), os.O_RDWR)
    try:
        line = b"text 1204 name=second\n"
        assert os.write(fd, line) == len(line)
        got = os.read(fd, 64)
        again = os.pread(fd, 64, 0)
    finally:
        os.close(fd)
    rid2 = started(env.sim, agent)[-1]
    assert rid2 != rid and got == again == f"{rid2}\n".encode(), (got, again, rid2)
    one_post(env.sim, agent, TEXT, {"agent_id": agent, "scenarios": [1204], "name": "second"},
             since=since)
    assert os.readlink(os.path.join(results, "last")) == str(rid2)

    # An open file with no successful write reads as end of file, and sends nothing.
    since = env.sim.last_seq()
    for flags in (os.O_RDWR, os.O_RDONLY):
        fd = os.open(env.agent(agent, "run"), flags)
        try:
            assert os.read(fd, 64) == b""
        finally:
            os.close(fd)
    assert env.sim.run_posts(since=since) == []
    st = os.stat(env.agent(agent, "run"))
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)


def test_wait_summary_error_and_junit_of_a_result_where_every_run_passed(env):
    agent = 2  # `all`: 201 and 204, both pass
    since = env.sim.last_seq()
    rid = start(env, agent, "text all")
    post = one_post(env.sim, agent, TEXT, {"agent_id": agent, "scenarios": [201, 204]},
                    since=since)
    # `all` listed the agent's evaluators inside the write, before the POST.
    listed = env.sim.evaluator_listings(agent, since)
    assert listed and all(e["seq"] < post["seq"] for e in listed), listed

    code, out, err, secs = cat_wait(env, agent, rid)
    assert code == 0 and err == "", (code, out, err)
    d = env.sim.result_detail(rid)
    assert d["status"] == "completed"
    assert out == summary_text(d), (out, summary_text(d))
    first, second = (r["id"] for r in runs_of(d))
    assert out == (f"completed\nresult_id: {rid}\nname: Text run {rid}\nverdict: passed\n"
                   f"runs: 2/2\npassed: 2\nfailed: 0\nsuccess_rate: 100.0\n"
                   f"run {first} 201 completed passed Refund_request\n"
                   f"run {second} 204 completed passed Book_<now>_&_\"cancel\"_it's\n"), out
    check_files(env, agent, rid, d)
    assert read_file(result_path(env, agent, rid, "error")) == ""
    assert read_file(env.agent(agent, "error")) == ""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.xml")
        code, _, err, _ = run(f"cp {result_path(env, agent, rid, 'junit.xml')} {report}")
        assert code == 0, err
        root = check_junit(report, d, agent)
        assert root.get("failures") == "0" and root.get("name") == f"Text run {rid}", root.attrib
        assert [c.get("name") for c in root.findall("testcase")] == [
            "Refund request", "Book <now> & \"cancel\" it's"]


def test_a_results_files_mtime_is_when_their_text_last_changed(env):
    # DESIGN.md section 2 (and 7, "the same rules"): the mtime of every dynamic
    # file is when its text last changed, so `find -newer` works on them.
    agent = 52
    # Whatever the mount showed before is older than this result by 0.3 s at least.
    sleep_until(time.monotonic() + 0.3, what="0.3 s")
    before = time.time()
    rid = start(env, agent, "text 5201")
    code, _, err, _ = cat_wait(env, agent, rid)
    assert code == 0, (code, err)
    now = time.time()
    assert before <= iso_time(env.sim.result_detail(rid)["created_at"]) <= now
    for name in ("status", "summary", "error", "result.json", "junit.xml", "wait", "runs"):
        mtime = os.stat(result_path(env, agent, rid, name)).st_mtime
        assert before - 0.05 <= mtime <= now + 0.05, (name, mtime, before, now)
    # Every file of the result changed when it ended (status, summary,
    # result.json, junit.xml): none of them is older than the status.
    status_at = os.stat(result_path(env, agent, rid, "status")).st_mtime
    for name in ("summary", "result.json", "junit.xml"):
        assert os.stat(result_path(env, agent, rid, name)).st_mtime >= status_at - 1, name


def test_echo_voice_line_to_run_then_ls_t_shows_the_new_result_first(env):
    agent = 1  # evaluators 101 .. 104; outbound
    since = env.sim.last_seq()
    a = env.agent(agent)
    code, out, err, _ = run(f"echo 'voice 101 102 frequency=2 name=Release 7' > {a}/run; "
                            f"ls -t {a}/results | head -1")
    assert code == 0 and err == "", (code, out, err)
    rid = started(env.sim, agent)[-1]
    assert out == f"{rid}\n", (out, rid)
    one_post(env.sim, agent, VOICE,
             {"agent_id": agent, "scenarios": [101, 102], "frequency": 2, "name": "Release 7"},
             since=since)
    summary = read_file(result_path(env, agent, rid, "summary")).split("\n")
    assert summary[1:3] == [f"result_id: {rid}", "name: Release 7"], summary
    assert summary[4].endswith("/4"), summary  # two evaluators, twice each
    assert [ln.split()[2] for ln in summary if ln.startswith("run ")] == \
        ["101", "101", "102", "102"], summary
    # The earlier results follow it, newest first.
    order = ls(f"-t {a}/results")
    created = {n: os.stat(os.path.join(a, "results", n)).st_mtime for n in order}
    assert order[0] == str(rid) and order == sorted(order, key=lambda n: -created[n]), order


def ci_chain(a):
    """The issue's CI step, start to end, for the agent directory a."""
    return (f"echo 1 > {a}/refetch && cat {a}/wait >/dev/null && "
            f"exec 3<>{a}/run && echo 'text all' >&3 && read -r rid <&3 && "
            f"cat {a}/results/$rid/wait")


def test_the_ci_step_chain_gates_on_the_runs(env):
    # Agent 22: its import completes and `all` (2201, 2204) passes.
    agent = 22
    since = env.sim.last_seq()
    code, out, err, _ = run(ci_chain(env.agent(agent)), timeout=30)
    assert code == 0 and err == "", (code, out, err)
    rid = started(env.sim, agent)[-1]
    d = env.sim.result_detail(rid)
    assert out == summary_text(d) and "\nverdict: passed\n" in out, out
    # What was sent, in order: the import, its polls, the evaluators, the run, the result.
    log = [e for e in env.sim.log() if e["seq"] > since]
    refetch_post = env.sim.posts(agent, since)
    assert [e["status"] for e in refetch_post] == [202], refetch_post
    polls = env.sim.polls(agent, since)
    post = one_post(env.sim, agent, TEXT, {"agent_id": agent, "scenarios": [2201, 2204]},
                    since=since)
    listed = env.sim.evaluator_listings(agent, since)
    gets = env.sim.result_gets(rid, since)
    assert polls and listed and gets, (polls, listed, gets)
    assert refetch_post[0]["seq"] < polls[-1]["seq"] < listed[0]["seq"] < post["seq"] \
        < gets[0]["seq"], log

    # The same chain for an agent whose runs fail: the chain's status says so.
    agent = 46  # 4602 fails its evaluation, 4603 ends with success null
    a = env.agent(agent)
    code, out, err, _ = run(ci_chain(a) + f" || {{ cat {a}/error; exit 6; }}", timeout=30)
    rid = started(env.sim, agent)[-1]
    assert code == 6 and out == error_text(env.sim.result_detail(rid)), (code, out, err)
    assert out.startswith(f"results/{rid}: 2 of 4 runs did not pass: "), out


# ---------------------------------------------------------------- run: refusals

BAD_LINES = [
    # (what is written, the words after "run: " in the agent's error)
    ("text 042\n", 'unknown word "042" in word 2'),
    ("text\n", "no selector in word 2"),
    ("text name=x\n", "no selector in word 3"),
    ("chat 3101\n", 'unknown mode "chat" in word 1'),
    ("\n", "no mode in word 1"),
    ("text 3101 tag=smoke\n", "selectors of two kinds in word 3"),
    ("text all 3101\n", "selectors of two kinds in word 3"),
    ("voice folder=Support tag=smoke\n", "selectors of two kinds in word 3"),
    ("text tag=\n", "empty value in word 2"),
    ("text folder=\n", "empty value in word 2"),
    ("text 3101 frequency=\n", "empty value in word 3"),
    ("text 3101 name=\n", "empty value in word 3"),
    ("text all all\n", "all given twice in word 3"),
    ("text folder=a folder=b\n", "folder given twice in word 3"),
    ("text 3101 frequency=2 frequency=3\n", "frequency given twice in word 4"),
    ("text 3101 concurrency=2 concurrency=2\n", "concurrency given twice in word 4"),
    ("text 3101 frequency=0\n", "frequency must be 1 to 1000 in word 3"),
    ("text 3101 frequency=1001\n", "frequency must be 1 to 1000 in word 3"),
    ("text 3101 concurrency=0\n", "concurrency must be 1 to 1000 in word 3"),
    ("text 3101 bogus\n", 'unknown word "bogus" in word 3'),
    ("text 3101 +3102\n", 'unknown word "+3102" in word 3'),
    ("text 3101 color=red\n", 'unknown word "color=red" in word 3'),
    ('text {"scenarios": [3101]} x\n', "text after the JSON object in word 3"),
    ('text {"scenarios": [3101], "assistant_id": "a"}\n', "assistant_id not allowed in word 2"),
    ('text {"agent_id": 32, "scenarios": [3101]}\n', "agent_id 32 is not this agent's in word 2"),
    ('text {"scenarios": [3101]\n', "invalid JSON object in word 2"),
    ("text 3101 frequency=x\n", "frequency must be 1 to 1000 in word 3"),
    ("text 3101\n3102\n", "newline in word 2"),
    ("text 3101\x00\n", "NUL byte in word 2"),
    ("text 3101\x01\n", "control character in word 2"),
    ("text\x1b[31m 3101\n", "control character in word 1"),
    ("text [3101]\n", 'unknown word "[3101]" in word 2'),
    ("TEXT 3101\n", 'unknown mode "TEXT" in word 1'),
    ("text 3101 0\n", 'unknown word "0" in word 3'),
]


def test_each_bad_run_line_is_einval_and_sends_nothing(env):
    agent = 31  # evaluators 3101 .. 3104: a good line would be sent
    a = env.agent(agent)
    since = env.sim.last_seq()
    code, _, err, _ = run(f"echo 'text 042' > {a}/run")
    assert code != 0 and "Invalid argument" in err, (code, err)
    assert read_file(os.path.join(a, "error")) == 'run: unknown word "042" in word 2\n'
    for data, why in BAD_LINES:
        got = write_file(os.path.join(a, "run"), data)
        assert got == errno.EINVAL, f"{data!r}: {errname(got)}"
        error = read_file(os.path.join(a, "error"))
        assert error == f"run: {why}\n", (data, error)

    # At an offset, and more than 64 KiB in one write.
    def pwrite():
        fd = os.open(os.path.join(a, "run"), os.O_WRONLY)
        try:
            os.pwrite(fd, b"text 3101\n", 5)
        finally:
            os.close(fd)
    assert os_errno(pwrite) == errno.EINVAL
    assert read_file(os.path.join(a, "error")) == "run: write at offset 5, not 0\n"
    big = ("text 3101 name=" + "x" * 65536)[:65537]
    assert write_file(os.path.join(a, "run"), big) == errno.EINVAL
    assert read_file(os.path.join(a, "error")) == "run: more than 65536 bytes in one write\n"

    # A read on the open file whose write was refused: end of file.
    fd = os.open(os.path.join(a, "run"), os.O_RDWR)
    try:
        assert os_errno(os.write, fd, b"text 042\n") == errno.EINVAL
        assert os.read(fd, 64) == b""
    finally:
        os.close(fd)

    # `all` of an agent with no evaluators.
    got = write_file(env.agent(10, "run"), "text all\n")
    assert got == errno.EINVAL, errname(got)
    assert read_file(env.agent(10, "error")) == "run: no evaluators\n"

    assert env.sim.run_posts(since=since) == [], env.sim.run_posts(since=since)
    assert started(env.sim, agent) == [] and started(env.sim, 10) == []
    assert os.path.lexists(os.path.join(a, "results", "last")) is False


def test_over_max_runs_is_e2big_and_sends_nothing(env):
    since = env.sim.last_seq()
    code, _, err, _ = run(f"echo 'text all frequency=4' > {env.agent(41, 'run')}")
    assert code != 0 and "Argument list too long" in err, (code, err)
    assert read_file(env.agent(41, "error")) == "run: 220 conversations exceeds max_runs=200\n"
    agent = 61
    for line, n in (("text 6101 frequency=201", 201),
                    ("text 6101 6102 6103 frequency=67", 201),
                    ('text {"scenarios": [6101, 6102], "frequency": 50, '
                     '"personality_ids": [1, 2, 3]}', 300)):
        got = write_file(env.agent(agent, "run"), line + "\n")
        assert got == errno.E2BIG, f"{line}: {errname(got)}"
        assert read_file(env.agent(agent, "error")) == \
            f"run: {n} conversations exceeds max_runs=200\n", line
    assert env.sim.run_posts(since=since) == [], env.sim.run_posts(since=since)
    assert started(env.sim, 41) == [] and started(env.sim, agent) == []
    # Exactly max_runs is sent.
    got = write_file(env.agent(agent, "run"), "text 6101 frequency=200\n")
    assert got == 0, errname(got)
    one_post(env.sim, agent, TEXT, {"agent_id": agent, "scenarios": [6101], "frequency": 200},
             since=since)


def test_an_api_400_is_eremoteio_with_its_rendered_line(env):
    since = env.sim.last_seq()
    agent = 5  # no phone number: the API refuses a voice run with a bare JSON array
    a = env.agent(agent)
    code, out, err, _ = run(f"echo 'voice 501' > {a}/run || cat {a}/error")
    assert out == "run: HTTP 400: Agent does not have a phone number\n", (code, out, err)
    assert "Remote I/O error" in err, err
    one_post(env.sim, agent, VOICE, {"agent_id": agent, "scenarios": [501]}, status=400,
             since=since)
    # An evaluator the API does not know, and another agent's: its field's message.
    agent = 15
    for line, eid in (("text 999", 999), ("text 101", 101)):
        s = env.sim.last_seq()
        fd = os.open(env.agent(agent, "run"), os.O_RDWR)
        try:
            got = os_errno(os.write, fd, (line + "\n").encode())
            assert got == errno.EREMOTEIO, f"{line}: {errname(got)}"
            assert os.read(fd, 64) == b""  # no id to read back
        finally:
            os.close(fd)
        assert read_file(env.agent(agent, "error")) == \
            f'run: HTTP 400: scenarios: Invalid pk "{eid}" - object does not exist.\n'
        one_post(env.sim, agent, TEXT, {"agent_id": agent, "scenarios": [eid]}, status=400,
                 since=s)
    # Nothing started: results/ holds the earlier results only, and no `last`.
    for agent in (5, 15):
        assert started(env.sim, agent) == []
        assert sorted(os.listdir(env.agent(agent, "results"))) == \
            [str(10 * agent + k) for k in range(1, 6)]
        assert os_errno(os.readlink, env.agent(agent, "results/last")) == errno.ENOENT


def test_two_concurrent_run_transactions_on_one_agent_each_read_their_own_id(env):
    agent = 16
    # Each POST is held 0.5 s by the simulator: both are in flight at once.
    env.sim.add_fault(match=TEXT, method="POST", kind="stall", seconds=0.5, count=2)
    barrier = threading.Barrier(2)
    got = {}

    def transaction(n):
        fd = os.open(env.agent(agent, "run"), os.O_RDWR)
        try:
            barrier.wait(timeout=10)
            os.write(fd, f"text 1601 name=T{n}\n".encode())
            got[n] = os.read(fd, 64)
        except OSError as e:
            got[n] = e
        finally:
            os.close(fd)
    since = env.sim.last_seq()
    try:
        threads = [threading.Thread(target=transaction, args=(n,)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20 * harness.SLOW)
    finally:
        env.sim.clear_faults()
    assert all(isinstance(v, bytes) and re.fullmatch(rb"[1-9][0-9]*\n", v) for v in got.values()) \
        and len(got) == 2, got
    ids = {n: int(v) for n, v in got.items()}
    assert ids[1] != ids[2] and sorted(started(env.sim, agent)) == sorted(ids.values()), ids
    posts = env.sim.run_posts(agent=agent, since=since)
    assert sorted(e["body"]["name"] for e in posts) == ["T1", "T2"], posts
    for n, rid in ids.items():  # each read the id of the result its own line started
        assert env.sim.result_detail(rid)["name"] == f"T{n}", (n, rid)
        assert read_file(result_path(env, agent, rid, "summary")).split("\n")[2] == f"name: T{n}"


# ---------------------------------------------------------------- how a result ends

def test_a_result_with_a_run_that_did_not_pass_fails_its_wait(env):
    agent = 3  # 302 fails its evaluation, 303 ends with success null
    rid = start(env, agent, "text all")
    d = check_failed_result(env, agent, rid)
    assert d["status"] == "completed"
    ids = {r["scenario"]: r["id"] for r in runs_of(d)}
    assert read_file(result_path(env, agent, rid, "error")) == \
        f"results/{rid}: 2 of 4 runs did not pass: {ids[302]} {ids[303]}\n"
    lines = read_file(result_path(env, agent, rid, "summary")).split("\n")
    assert lines[3:8] == ["verdict: failed", "runs: 4/4", "passed: 2", "failed: 2",
                          "success_rate: 50.0"], lines
    assert f"run {ids[302]} 302 completed failed Angry_caller" in lines, lines
    assert f"run {ids[303]} 303 completed failed Wrong_number" in lines, lines
    assert f"run {ids[301]} 301 completed passed Refund_request" in lines, lines


def test_an_infrastructure_failure_fails_the_result_with_its_reason(env):
    agent = 4  # run 0 fails at 2 S, the others stay in_queue; the result fails
    rid = start(env, agent, "text all")
    d = check_failed_result(env, agent, rid)
    assert d["status"] == "failed"
    assert read_file(result_path(env, agent, rid, "error")) == \
        f"results/{rid}: result failed: {INFRA_ERROR}\n"
    lines = read_file(result_path(env, agent, rid, "summary")).split("\n")
    assert lines[0] == "failed" and lines[3:7] == ["verdict: failed", "runs: 1/4", "passed: 0",
                                                   "failed: 4"], lines
    runs = [ln.split() for ln in lines if ln.startswith("run ")]
    assert [(r[3], r[4]) for r in runs] == [("failed", "failed")] + [("in_queue", "failed")] * 3


def test_a_voice_result_of_an_outbound_agent_times_out(env):
    agent = 9  # outbound: the agent never dials; every run ends `timeout`
    since = env.sim.last_seq()
    rid = start(env, agent, "voice 901 902")
    one_post(env.sim, agent, VOICE, {"agent_id": agent, "scenarios": [901, 902]}, since=since)
    d = check_failed_result(env, agent, rid)
    assert d["status"] == "timeout"
    assert read_file(result_path(env, agent, rid, "error")) == \
        f"results/{rid}: result timeout: {DIAL_FAILURE}\n"
    lines = read_file(result_path(env, agent, rid, "summary")).split("\n")
    assert lines[0] == "timeout" and lines[3:7] == ["verdict: failed", "runs: 2/2", "passed: 0",
                                                    "failed: 2"], lines
    assert all(ln.split()[3:5] == ["timeout", "failed"] for ln in lines if ln.startswith("run "))


def test_a_zero_run_result_fails_nothing_was_tested(env):
    agent = 20  # no evaluators: a tag selects none, and the API makes a zero-run result
    since = env.sim.last_seq()
    rid = start(env, agent, "text tag=smoke")
    one_post(env.sim, agent, TEXT, {"agent_id": agent, "tags": ["smoke"]}, since=since)
    d = check_failed_result(env, agent, rid)
    assert d["status"] == "completed" and runs_of(d) == []
    assert read_file(result_path(env, agent, rid, "summary")) == (
        f"completed\nresult_id: {rid}\nname: Text run {rid}\nverdict: failed\nruns: 0/0\n"
        f"passed: 0\nfailed: 0\nsuccess_rate:\n")
    assert read_file(result_path(env, agent, rid, "error")) == \
        f"results/{rid}: no runs: nothing was tested\n"
    assert os.listdir(result_path(env, agent, rid, "runs")) == []


def test_end_calls_cancels_a_running_result(env):
    agent = 8
    with env.sim.stages(30):  # the result runs until its calls are ended
        rid = start(env, agent, "text all")
    r = lambda name: result_path(env, agent, rid, name)  # noqa: E731
    status = read_file(r("status"))
    assert status.strip() not in TERMINAL, status
    summary = read_file(r("summary")).split("\n")
    assert summary[3] == "verdict: running", summary
    assert all(ln.split()[4] == "pending" for ln in summary if ln.startswith("run ")), summary
    # While running: no error, and junit.xml is empty (0 bytes, stat says so too).
    assert read_file(r("error")) == ""
    assert read_file(r("junit.xml")) == "" and os.stat(r("junit.xml")).st_size == 0
    # Bad input to end-calls: EINVAL, nothing sent.
    since = env.sim.last_seq()
    for data in ("2", "11\n", "1 1", "yes\n"):
        assert write_file(r("end-calls"), data) == errno.EINVAL, data
    assert env.sim.end_calls_posts(rid, since) == []

    code, out, err, _ = run(f"echo 1 > {r('end-calls')}")
    assert (code, out, err) == (0, "", ""), (code, out, err)
    posts = env.sim.end_calls_posts(rid, since)
    assert [e["status"] for e in posts] == [200], posts
    d = check_failed_result(env, agent, rid)
    assert d["status"] == "cancelled"
    assert read_file(r("error")) == f"results/{rid}: result cancelled\n"
    lines = read_file(r("summary")).split("\n")
    assert lines[0] == "cancelled" and lines[3] == "verdict: failed", lines
    assert all(ln.split()[3:5] == ["cancelled", "failed"] for ln in lines if ln.startswith("run "))
    root = ET.fromstring(read_file(r("junit.xml")).encode())
    assert [f.get("message") for f in root.iter("failure")] == [CANCEL_ERROR] * 4
    st = os.stat(r("end-calls"))
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o200, oct(st.st_mode)


# ---------------------------------------------------------------- polling

def test_32_concurrent_readers_of_a_running_results_summary_make_at_most_2_gets(env):
    agent, rid = 17, 175  # the soak test: in_progress for ever
    d = env.new_daemon(opts={"result_poll_interval": "30"})
    d.start()
    since = env.sim.last_seq()
    procs = [subprocess.Popen(["cat", result_path(d, agent, rid, "summary")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(32)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=20 * harness.SLOW)
        outs.append((p.returncode, out.decode(), err.decode()))
    gets = env.sim.result_gets(rid, since)
    assert 1 <= len(gets) <= 2, gets
    assert all(code == 0 for code, _, _ in outs), outs
    texts = {out for _, out, _ in outs}
    assert len(texts) == 1, texts
    text = texts.pop()
    detail = env.sim.result_detail(rid)  # frozen: the same now
    assert text == summary_text(detail), (text, summary_text(detail))
    assert text.startswith(f"in_progress\nresult_id: {rid}\nname: Soak test (weekend)\n"
                           f"verdict: running\nruns: 1/8\n"), text
    d.stop()


def test_a_terminal_result_is_not_polled_again_by_wait(env):
    agent = 26
    rid = start(env, agent, "text all")
    code, _, err, _ = cat_wait(env, agent, rid)
    assert code != 0 and "Remote I/O error" in err, (code, err)
    since = env.sim.last_seq()
    sleep_until(time.monotonic() + 4 * POLL, what="a few result_poll_intervals")
    for _ in range(3):
        code, _, err, secs = cat_wait(env, agent, rid)
        assert code != 0 and "Remote I/O error" in err and secs < 1.0 * harness.SLOW, \
            (code, err, secs)
    assert read_file(result_path(env, agent, rid, "summary")).startswith("completed\n")
    assert env.sim.result_gets(rid, since) == [], env.sim.result_gets(rid, since)

    # An earlier result, over long ago: at most the one GET that finds it.
    agent, rid = 42, 421  # Nightly regression, passed
    since = env.sim.last_seq()
    code, out, err, secs = cat_wait(env, agent, rid)
    assert code == 0 and out.startswith("completed\n") and "\nverdict: passed\n" in out, \
        (code, out, err)
    assert len(env.sim.result_gets(rid, since)) <= 1
    since = env.sim.last_seq()
    sleep_until(time.monotonic() + 4 * POLL, what="a few result_poll_intervals")
    code, again, _, _ = cat_wait(env, agent, rid)
    assert (code, again) == (0, out)
    assert env.sim.result_gets(rid, since) == []


def test_ctrl_c_on_a_blocked_wait_returns_promptly_and_stops_its_polling(env):
    agent, rid = 18, 185  # the soak test: in_progress for ever
    since = env.sim.last_seq()
    proc = start_reader(result_path(env, agent, rid, "wait"))
    try:
        wait_until(lambda: len(env.sim.result_gets(rid, since)) >= 3, timeout=10,
                   what="the blocked wait of result 185 to poll")
        assert proc.poll() is None, "the wait ended on a running result"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=2 * harness.SLOW)
        secs = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode != 0 and secs < 1.0 * harness.SLOW, (proc.returncode, secs)
    after = env.sim.last_seq()  # one poll in flight allowed
    sleep_until(time.monotonic() + 5 * POLL, what="five result_poll_intervals")
    assert env.sim.result_gets(rid, after) == [], env.sim.result_gets(rid, after)
    assert read_file(result_path(env, agent, rid, "status")) == "in_progress\n"


def test_poll_on_summary_becomes_readable_when_the_result_changes(env):
    agent = 36
    with env.sim.stages(0.5):  # each status lasts 0.5 s: more than a result_poll_interval
        rid = start(env, agent, "text 3601 3604")
    fd = os.open(result_path(env, agent, rid, "summary"), os.O_RDONLY)
    try:
        def read_all():
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while True:
                data = os.read(fd, 65536)
                if not data:
                    return b"".join(chunks).decode()
                chunks.append(data)
        texts = [read_all()]
        assert texts[0].split("\n", 1)[0] not in TERMINAL, texts
        p = select.poll()
        p.register(fd, select.POLLIN)
        deadline = time.monotonic() + 20 * harness.SLOW
        while texts[-1].split("\n", 1)[0] not in TERMINAL and time.monotonic() < deadline:
            if not p.poll(2000):
                continue
            text = read_all()
            assert text != texts[-1], f"readable, but the text did not change: {text!r}"
            texts.append(text)
        assert texts[-1].split("\n", 1)[0] == "completed", texts
        assert len(texts) >= 3, texts  # woke for each change seen on the way
        assert texts[-1] == summary_text(env.sim.result_detail(rid))
        # Over: nothing more to read.
        assert p.poll(int(5 * POLL * 1000)) == [], "readable after the result was over"
        # select(2) too: a fresh handle that has read the final text waits.
        fd2 = os.open(result_path(env, agent, rid, "summary"), os.O_RDONLY)
        try:
            assert os.read(fd2, 65536).decode() == texts[-1]
            r, _, _ = select.select([fd2], [], [], 3 * POLL)
            assert r == [], "select says readable on an unchanged summary"
        finally:
            os.close(fd2)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the tree

def test_newest_and_last_are_links_reachable_but_not_listed(env):
    agent = 32
    results = env.agent(agent, "results")
    earlier = [str(10 * agent + k) for k in range(1, 6)]
    assert sorted(os.listdir(results)) == earlier
    code, out, _, _ = run(f"ls {results} | wc -l")
    assert out.strip() == "5", out
    assert os.readlink(os.path.join(results, "newest")) == earlier[-1]
    assert os_errno(os.readlink, os.path.join(results, "last")) == errno.ENOENT
    # Each result directory's mtime is its created_at, so `ls -t` orders them.
    for name in earlier:
        want = iso_time(env.sim.result_detail(int(name))["created_at"])
        got = os.stat(os.path.join(results, name)).st_mtime_ns / 1e9
        assert abs(got - want) < 1e-3, (name, got, want)

    rid = start(env, agent, "text 3201")
    names = os.listdir(results)
    assert sorted(names) == sorted(earlier + [str(rid)]) and "newest" not in names \
        and "last" not in names, names
    for link in ("newest", "last"):
        path = os.path.join(results, link)
        assert stat.S_ISLNK(os.lstat(path).st_mode), link
        assert os.readlink(path) == str(rid), link
        assert read_file(os.path.join(path, "summary")).split("\n")[1] == f"result_id: {rid}"
    code, out, _, _ = run(f"cd {results} && for r in */; do echo $r; done")
    assert sorted(out.split()) == sorted(f"{n}/" for n in earlier + [str(rid)]), out
    assert ls(f"-t {results}")[0] == str(rid)

    # Modes and names of a result's directory.
    st = os.stat(results)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, oct(st.st_mode)
    rdir = os.path.join(results, str(rid))
    assert sorted(os.listdir(rdir)) == sorted(RESULT_FILES), os.listdir(rdir)
    modes = {"status": 0o444, "summary": 0o444, "error": 0o444, "result.json": 0o444,
             "junit.xml": 0o444, "wait": 0o444, "end-calls": 0o200}
    for name, mode in modes.items():
        st = os.stat(os.path.join(rdir, name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == mode, (name, oct(st.st_mode))
    for path in (rdir, os.path.join(rdir, "runs")):
        st = os.stat(path)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, (path, st)
    # Nothing can be made or removed.
    assert os_errno(os.mkdir, os.path.join(results, "7")) == errno.EPERM
    assert os_errno(os.unlink, os.path.join(rdir, "summary")) == errno.EPERM
    assert os_errno(os.unlink, os.path.join(results, "last")) == errno.EPERM


def test_unknown_another_agents_and_non_canonical_result_ids_are_enoent(env):
    agent = 29
    results = env.agent(agent, "results")
    assert os.path.isdir(os.path.join(results, "291"))  # its own: found
    since = env.sim.last_seq()
    for name in ("999999", "11", "21"):  # unknown; agent 1's; agent 2's
        got = os_errno(os.stat, os.path.join(results, name))
        assert got == errno.ENOENT, f"{name}: {errname(got)}"
        gets = env.sim.result_gets(name, since)
        assert len(gets) <= 1, (name, gets)  # found without the listing: one GET at most
    # The unknown one was asked once, without the listing, and answered 404.
    assert [e["status"] for e in env.sim.result_gets("999999", since)] == [404]
    code, _, err, _ = run(f"cat {results}/11/summary")
    assert code != 0 and "No such file or directory" in err, (code, err)
    # Remembered (list_ttl): asked no more.
    s = env.sim.last_seq()
    for name in ("999999", "11"):
        assert os_errno(os.stat, os.path.join(results, name)) == errno.ENOENT
        assert env.sim.result_gets(name, s) == []
    # Non-canonical ids are not asked about at all.
    s = env.sim.last_seq()
    for name in ("0291", "+291", "291 ", " 291", "291.0", "-291", "0x123", "00", "x", "291x",
                 "newest2", "lastx"):
        got = os_errno(os.stat, os.path.join(results, name))
        assert got == errno.ENOENT, f"{name!r}: {errname(got)}"
    assert env.sim.result_requests(s) == [], env.sim.result_requests(s)
    assert os_errno(os.stat, os.path.join(results, "291", "nothing")) == errno.ENOENT
    assert os_errno(os.stat, os.path.join(results, "291", "runs", "1.json")) == errno.ENOENT


def test_results_last_survives_a_restart(env):
    agent = 28
    d = env.new_daemon()
    d.start()
    last = d.agent(agent, "results/last")
    assert os_errno(os.readlink, last) == errno.ENOENT
    rid = start(d, agent, "text 2801")
    assert os.readlink(last) == str(rid)
    assert d.stop() == 0

    since = env.sim.last_seq()
    d.start()  # same state_dir
    assert os.readlink(last) == str(rid)
    assert read_file(os.path.join(last, "summary")).split("\n")[1] == f"result_id: {rid}"
    assert env.sim.run_posts(since=since) == []
    # A daemon on another state_dir does not know it.
    other = env.new_daemon()
    other.start()
    assert os_errno(os.readlink, other.agent(agent, "results/last")) == errno.ENOENT
    other.stop()
    d.stop()


def test_allow_other_makes_result_files_0400_and_directories_0500(env):
    agent, rid = 33, 331  # Nightly regression of agent 33: over
    d = env.new_daemon(opts={"allow_other": None})
    os.chmod(d.dir, 0o755)  # let nobody walk to the mount point
    d.start()
    rdir = result_path(d, agent, rid)
    assert sorted(os.listdir(rdir)) == sorted(RESULT_FILES)
    run_files = os.listdir(os.path.join(rdir, "runs"))
    assert run_files, run_files
    for name in ("status", "summary", "error", "result.json", "junit.xml", "wait",
                 os.path.join("runs", run_files[0])):
        st = os.stat(os.path.join(rdir, name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o400, (name, oct(st.st_mode))
    for path in (rdir, os.path.join(rdir, "runs")):
        st = os.stat(path)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o500, (path, oct(st.st_mode))
    assert stat.S_IMODE(os.stat(os.path.join(rdir, "end-calls")).st_mode) & 0o077 == 0
    # Another user reads none of it; the owner does.
    code, out, err = run_as_nobody(f"cat {rdir}/summary")
    assert code != 0 and out == "" and "Permission denied" in err, (code, out, err)
    code, out, err = run_as_nobody(f"ls {rdir}")
    assert code != 0 and "Permission denied" in err, (code, out, err)
    assert read_file(os.path.join(rdir, "summary")).split("\n")[1] == f"result_id: {rid}"
    d.stop()
