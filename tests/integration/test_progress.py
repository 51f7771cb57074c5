"""progress and progress.json: idle, the text layout for every stage shape,
snapshots per open file, honest sizes, and bounded, coalesced polling."""

import json
import os
import re
import threading
import time

import harness
from harness import read_file, run, wait_status, wait_until

ENV = {"agents": 120, "opts": {"poll_interval": "0.5"}}

LAYOUT = re.compile(
    r"(?P<status>[a-z_]+)\n"
    r"progress_id: (?P<pid>[0-9a-f-]{36})\n"
    r"current_stage:(?: (?P<stage>[a-z_]+))?\n"
    r"stages: (?P<done>\d)/6\n"
    r"(?:error: (?P<error>.*)\n)?"
    r"(?P<stages>(?:stage [a-z_]+ [a-z_]+(?: [a-z_]+=\S*)*\n){6})$")


def refetch(env, agent, stage_seconds=None):
    """Starts an auto-fetch of agent (with its own stage duration); returns its progress id."""
    if stage_seconds is None:
        return harness.refetch(env, agent)
    with env.sim.stages(stage_seconds):
        return harness.refetch(env, agent)


def test_idle_agent_progress_json_and_wait(env):
    a = env.agent(101)
    since = env.sim.last_seq()
    assert read_file(os.path.join(a, "progress")) == "idle\n"
    assert read_file(os.path.join(a, "progress.json")) == ""
    assert os.stat(os.path.join(a, "progress")).st_size == len("idle\n")
    assert os.stat(os.path.join(a, "progress.json")).st_size == 0
    code, out, err, secs = run(f"cat {a}/wait")
    assert (code, out) == (0, "idle\n"), (code, out, err)
    assert secs < 2, secs
    code, out, _, _ = run(f"read state < {a}/progress && echo \"$state\"; head -1 {a}/progress")
    assert out == "idle\nidle\n", out
    assert read_file(os.path.join(a, "error")) == ""
    assert env.sim.requests(agent=101, kind="progress", since=since) == []
    assert env.sim.posts(101) == []


def test_layout_in_progress_then_completed(env):
    pid = refetch(env, 102)
    text = read_file(env.agent(102, "progress"))
    m = LAYOUT.match(text)
    assert m, text
    assert m["status"] == "in_progress" and m["pid"] == pid, text
    # The current stage is the one in_progress; done counts completed ones.
    states = [ln.split()[1:] for ln in m["stages"].splitlines()]
    running = [name for name, state in states if state == "in_progress"]
    assert running == [m["stage"]], text
    assert int(m["done"]) == sum(state == "completed" for _, state in states), text

    text = wait_status(env, 102)
    m = LAYOUT.match(text)
    assert m and m["status"] == "completed" and m["stage"] is None and m["done"] == "6", text
    assert "\ncurrent_stage:\n" in text
    doc = json.loads(read_file(env.agent(102, "progress.json")))
    direct = env.sim.api_get(f"/test_framework/v2/aiagents/102/auto-fetch-progress/"
                             f"?progress_id={pid}")
    assert doc == direct, (doc, direct)
    # Sizes are those of the texts now known.
    assert os.stat(env.agent(102, "progress")).st_size == len(text)
    assert os.stat(env.agent(102, "progress.json")).st_size == \
        len(read_file(env.agent(102, "progress.json")))


def test_layout_of_skipped_and_other_stage_shapes(env):
    for agent in (106, 108, 109):
        refetch(env, agent)
    expected = {
        106: ["system_prompt completed", "call_settings completed", "phone_number skipped",
              "tools completed", "dynamic_variables completed", "knowledge_base completed"],
    }
    for agent in (106, 108, 109):
        text = wait_status(env, agent)
        m = LAYOUT.match(text)
        assert m and m["status"] == "completed" and m["done"] == "6", (agent, text)
        # Exactly "stage <name> <state>": other keys of a stage object (108 sends
        # "message", 109 "detail") stay in progress.json, out of the text.
        assert all(len(ln.split()) == 3 for ln in m["stages"].splitlines()), text
        stages = [" ".join(ln.split()[1:3]) for ln in m["stages"].splitlines()]
        want = expected.get(agent, [f"{s} completed" for s in (
            "system_prompt", "call_settings", "phone_number", "tools", "dynamic_variables",
            "knowledge_base")])
        assert stages == want, (agent, text)


def test_queued_status_is_passed_through(env):
    pid = refetch(env, 107, stage_seconds=5)
    text = read_file(env.agent(107, "progress"))
    assert text.startswith("queued\n"), text
    m = LAYOUT.match(text)
    assert m and m["pid"] == pid and m["stage"] is None and m["done"] == "0", text
    assert "\ncurrent_stage:\n" in text
    assert m["stages"].count(" pending\n") == 6, text


def test_size_before_the_first_poll_is_not_zero(env):
    refetch(env, 115)
    since = env.sim.last_seq()
    size = os.stat(env.agent(115, "progress")).st_size
    assert size > 0, size
    assert env.sim.polls(115, since) == []  # stat does not poll
    # A reader that trusts st_size (reads exactly that much) still gets all of it.
    with open(env.agent(115, "progress"), "rb") as f:
        data = f.read(size)
    assert LAYOUT.match(data.decode()), data


def done_of(text):
    m = LAYOUT.match(text)
    assert m, text
    states = [ln.split()[2] for ln in m["stages"].splitlines()]
    assert int(m["done"]) == sum(s in ("completed", "skipped") for s in states), text
    return int(m["done"])


def test_one_open_file_sees_one_snapshot(env):
    refetch(env, 120, stage_seconds=0.6)
    path = env.agent(120, "progress")
    before = done_of(read_file(path))
    fd = os.open(path, os.O_RDONLY)  # the snapshot: `before` stages done, or one more
    try:
        head = os.read(fd, 20)
        newer = wait_until(lambda: (lambda t: t if done_of(t) >= before + 2 else None)(
            read_file(path)), timeout=10, interval=0.1, what="agent 120 to move two stages on")
        rest = b""
        while True:
            chunk = os.read(fd, 7)
            if not chunk:
                break
            rest += chunk
        snapshot = (head + rest).decode()
        assert done_of(snapshot) in (before, before + 1), (before, snapshot, newer)
        # A read at offset 0 after the end takes a new snapshot.
        again = os.pread(fd, 4096, 0).decode()
        assert done_of(again) >= before + 2, (snapshot, again)
    finally:
        os.close(fd)


def test_polling_is_bounded_with_many_readers(env):
    refetch(env, 111, stage_seconds=5)
    since = env.sim.last_seq()
    texts, errors = [], []
    deadline = time.monotonic() + 1.0

    def reader():
        while time.monotonic() < deadline:
            code, out, err, _ = run(f"cat {env.agent(111, 'progress')}")
            (texts if code == 0 else errors).append(out if code == 0 else err)
    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors[:3]
    assert len(texts) >= 16, len(texts)
    assert all(t.startswith("in_progress\n") and LAYOUT.match(t) for t in texts), texts[:2]
    polls = env.sim.polls(111, since)
    # poll_interval=0.5 over ~1 s: at t=0, 0.5 and 1.0 at most.
    assert 1 <= len(polls) <= 3, f"{len(polls)} progress GETs for {len(texts)} reads"


def test_concurrent_readers_share_the_poll_in_flight(env):
    refetch(env, 110, stage_seconds=5)
    env.sim.add_fault(match="/110/auto-fetch-progress/", kind="stall", seconds=1, count=1)
    since = env.sim.last_seq()
    results = []
    try:
        def reader():
            results.append(run(f"cat {env.agent(110, 'progress')}"))
        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    finally:
        env.sim.clear_faults()
    assert [r[0] for r in results] == [0] * 8, results
    assert all(r[1].startswith("in_progress\n") for r in results), results
    assert len({r[1] for r in results}) == 1, results
    polls = env.sim.polls(110, since)
    assert len(polls) == 1, polls


def test_terminal_status_is_never_polled_again(env):
    refetch(env, 112)
    code, final, err, _ = run(f"cat {env.agent(112, 'wait')}")
    assert code == 0 and final.startswith("completed\n"), (code, final, err)
    since = env.sim.last_seq()
    for _ in range(5):
        assert read_file(env.agent(112, "progress")) == final
        assert read_file(env.agent(112, "wait")) == final
        json.loads(read_file(env.agent(112, "progress.json")))
    # Past poll_interval too.
    t_end = time.monotonic() + 0.6
    wait_until(lambda: time.monotonic() >= t_end and read_file(env.agent(112, "progress")) == final,
               timeout=5, interval=0.1, what="reads past poll_interval")
    assert env.sim.requests(agent=112, since=since) == []
