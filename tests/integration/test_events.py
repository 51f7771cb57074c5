"""Live progress: agents/<id>/events streams an import's changes and ends with
it; poll(2)/select(2) on progress and events wake when there is something new."""

import os
import re
import select
import signal
import subprocess
import time

from harness import ROOT, read_file, refetch, run, wait_until

EXAMPLE = os.path.join(ROOT, "contrib", "examples", "watch-agents")

# Stages last 0.4 s and the daemon polls every 0.1 s: every stage change is seen.
ENV = {"agents": 30, "stage_seconds": 0.4, "opts": {"poll_interval": "0.1"}}

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (\S+) (\S+)$")
STAGES = ["system_prompt", "call_settings", "phone_number", "tools", "dynamic_variables", "knowledge_base"]


def parse(text):
    lines = text.splitlines()
    assert lines, "no lines"
    out = []
    for line in lines:
        m = LINE.match(line)
        assert m, f"not '<UTC time> <what> <state>': {line!r}"
        out.append((m.group(1), m.group(2)))
    return out


def test_events_with_no_import_is_end_of_file_at_once(env):
    code, out, err, secs = run(f"cat {env.agent(1, 'events')}")
    assert (code, out) == (0, ""), (code, out, err)
    assert secs < 1, secs


def test_cat_events_prints_every_stage_change_in_order_and_exits_0(env):
    refetch(env, 2)
    code, out, err, secs = run(f"cat {env.agent(2, 'events')}", timeout=30)
    assert code == 0, (code, err)
    events = parse(out)
    assert events[0][0] == "status", events
    assert events[-1] == ("status", "completed"), events
    for stage in STAGES:
        states = [s for what, s in events if what == stage]
        # every state the stage went through, in order, ending completed
        assert states[-1] == "completed", (stage, states)
        order = ["pending", "in_progress", "completed"]
        assert [order.index(s) for s in states] == sorted(order.index(s) for s in states), (stage, states)
        assert "in_progress" in states, (stage, states)  # no change was missed
    # stages complete one after the other
    done_at = [next(i for i, e in enumerate(events) if e == (stage, "completed")) for stage in STAGES]
    assert done_at == sorted(done_at), events
    # a read after the end: the whole picture at once, then end of file
    code, out2, err, secs = run(f"cat {env.agent(2, 'events')}")
    assert code == 0 and secs < 1, (code, err, secs)
    assert parse(out2) == [("status", "completed")] + [(s, "completed") for s in STAGES]


def test_two_concurrent_readers_see_the_same_lines(env):
    refetch(env, 6)
    procs = [subprocess.Popen(["cat", env.agent(6, "events")], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=30)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1], outs
    assert parse(outs[0])[-1] == ("status", "completed")


def test_a_reader_opening_mid_import_starts_with_the_current_picture(env):
    refetch(env, 7)
    wait_until(lambda: "stage call_settings completed" in read_file(env.agent(7, "progress")),
               timeout=10, what="two stages done")
    code, out, err, _ = run(f"cat {env.agent(7, 'events')}", timeout=30)
    assert code == 0, err
    events = parse(out)
    assert events[0] == ("status", "in_progress"), events
    picture = dict(events[1:7])
    assert list(picture) == STAGES, events  # every stage, in order, first
    assert picture["system_prompt"] == "completed" and picture["call_settings"] == "completed", events
    assert events[-1] == ("status", "completed")


def test_select_on_three_agents_wakes_for_each(env):
    agents = (8, 9, 10)
    files = {}
    for agent in agents:
        f = open(env.agent(agent, "progress"), "rb", buffering=0)
        assert f.read() == b"idle\n"
        files[f.fileno()] = (agent, f)
    try:
        r, _, _ = select.select(list(files), [], [], 0.3)
        assert r == [], "readable before anything changed"
        for agent in agents:
            refetch(env, agent)
        woke, last = {}, {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(last.get(a) != "completed" for a in agents):
            r, _, _ = select.select(list(files), [], [], 2)
            for fd in r:
                agent, f = files[fd]
                f.seek(0)
                first = f.read().decode().split("\n", 1)[0]
                woke[agent] = woke.get(agent, 0) + 1
                last[agent] = first
        assert all(last.get(a) == "completed" for a in agents), (woke, last)
        assert all(woke[a] >= 2 for a in agents), woke  # started, ..., completed
    finally:
        for _, f in files.values():
            f.close()


def test_poll_on_events_wakes_for_new_lines(env):
    refetch(env, 11)
    fd = os.open(env.agent(11, "events"), os.O_RDONLY)
    try:
        lines = []
        p = select.poll()
        p.register(fd, select.POLLIN)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not p.poll(2000):
                continue
            data = os.read(fd, 65536)
            if not data:
                break
            lines += parse(data.decode())
        assert lines and lines[-1] == ("status", "completed"), lines
    finally:
        os.close(fd)


def test_readers_share_the_daemons_polling(env):
    """Three events readers and a progress loop for one import: no more GETs
    than one per poll_interval (0.1 s) over its duration, plus one."""
    since = env.sim.last_seq()
    refetch(env, 12)
    start = time.monotonic()
    procs = [subprocess.Popen(["cat", env.agent(12, "events")], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    loop = subprocess.Popen(["bash", "-c", f"while grep -qv completed <(head -1 {env.agent(12, 'progress')});"
                             " do :; done"])
    for p in procs:
        p.communicate(timeout=30)
    loop.wait(timeout=30)
    duration = time.monotonic() - start
    gets = env.sim.polls(12, since=since)
    assert len(gets) <= duration / 0.1 + 2, (len(gets), duration)


def test_ctrl_c_ends_a_blocked_events_read_at_once(env):
    with env.sim.stages(30):
        refetch(env, 16)
        p = subprocess.Popen(["cat", env.agent(16, "events")], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
        # The whole picture comes first (status and six stages); the next read blocks.
        picture = [p.stdout.readline() for _ in range(7)]
        assert parse("".join(picture))[0] == ("status", "in_progress"), picture
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGINT)
        p.communicate(timeout=5)
        assert time.monotonic() - t0 < 1, time.monotonic() - t0
        assert p.returncode != 0
    assert env.daemon.alive()


def test_the_select_example_follows_three_agents_to_their_end(env):
    for agent in (17, 18, 19):
        refetch(env, agent)
    code, out, err, secs = run(f"{EXAMPLE} -m {env.mnt} 17 18 19", timeout=30)
    assert code == 0, (code, out, err)
    by_agent = {}
    for line in out.splitlines():
        agent, rest = line.split(" ", 1)
        by_agent.setdefault(agent, []).append(rest)
    assert sorted(by_agent) == ["17", "18", "19"], out
    for agent, lines in by_agent.items():
        assert parse("\n".join(lines))[-1] == ("status", "completed"), (agent, lines)
    # an import that fails: exit 1
    refetch(env, 25)
    code, out, err, _ = run(f"{EXAMPLE} -m {env.mnt} 25", timeout=30)
    assert code == 1 and out.splitlines()[-1].endswith("status failed"), (code, out, err)
    assert run(f"{EXAMPLE} -m {env.mnt} x")[0] == 2
