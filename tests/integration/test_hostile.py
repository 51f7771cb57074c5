"""An API that answers nonsense: newlines and escape sequences in every text it
can send reach the mount's files and the log as one line, control characters
replaced; no line of any file is ever cut."""

import json
import re

from harness import read_file, refetch, run

ENV = {"agents": 60}

ESC = "\x1b"
NASTY = "one\ntwo\r\x1b[31mred\x1b[0m\x07"


def assert_clean_log(env):
    for line in env.daemon.stderr().splitlines():
        assert ESC not in line and "\r" not in line and "\x07" not in line, repr(line)
        assert line.startswith("cekurafs: ") or line.startswith("==") or not line, repr(line)


def test_texts_from_a_hostile_progress_answer_stay_one_line(env):
    refetch(env, 1)
    long_name = "s" * 700
    body = json.dumps({
        "status": "failed", "current_stage": "tools" + NASTY, "error": "boom" + NASTY,
        "stages": [{"name": "a" + NASTY, "status": "fail" + NASTY},
                   {"name": long_name, "status": "completed"}]})
    env.sim.add_fault(match="/1/auto-fetch-progress/", method="GET", kind="body", body=body, count=-1)
    try:
        text = read_file(env.agent(1, "progress"))
        events = read_file(env.agent(1, "events"))
    finally:
        env.sim.clear_faults()
    lines = text.split("\n")
    assert ESC not in text and "\r" not in text and "\x07" not in text, repr(text)
    assert lines[0] == "failed" and lines[-1] == "", lines
    assert len(lines) == 8, lines  # status, id, current_stage, stages, error, 2 stages, ""
    assert lines[2].startswith("current_stage: tools") and lines[4].startswith("error: boom"), lines
    assert lines[5].startswith("stage a") and len(lines[5].split(" ")) == 3, lines[5]
    assert lines[6] == f"stage {long_name} completed", lines[6]
    error = read_file(env.agent(1, "error"))
    assert error.count("\n") == 1 and error.endswith("\n") and ESC not in error, repr(error)
    assert error.startswith("auto-fetch: failed at stage tools") and "boom" in error, error
    # events: every line whole, the 700-byte stage name included.
    ev = events.split("\n")
    assert ev[-1] == "" and all(re.fullmatch(r"\S+Z \S+ \S+", e) for e in ev[:-1]), ev
    assert any(e.endswith(f" {long_name} completed") for e in ev), ev
    assert_clean_log(env)


def test_a_hostile_detail_stays_one_line(env):
    env.sim.add_fault(match="/2/auto-fetch/", method="POST", kind="status", status=400,
                      detail="refused" + NASTY, count=1)
    try:
        code, _, err, _ = run(f"echo 1 > {env.agent(2, 'refetch')}")
    finally:
        env.sim.clear_faults()
    assert code != 0 and "Remote I/O error" in err, err
    error = read_file(env.agent(2, "error"))
    assert error.startswith("refetch: HTTP 400: refused") and error.count("\n") == 1, repr(error)
    assert ESC not in error and "\r" not in error, repr(error)
    assert_clean_log(env)
