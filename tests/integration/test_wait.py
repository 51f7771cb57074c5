"""wait: blocks until terminal, returns the progress text; fails (EREMOTEIO)
for a failed import; idle returns at once; bounded by wait_timeout;
interruptible."""

import errno
import signal
import time

import harness
from harness import os_errno, read_file, refetch, run, sleep_until, start_reader, wait_until

ENV = {"agents": 120}

FAILED_ERROR = "auto-fetch: failed at stage tools: Provider returned 500 while listing tools\n"


def test_wait_returns_the_final_text(env):
    refetch(env, 2)
    code, text, err, secs = run(f"cat {env.agent(2, 'wait')}")
    assert code == 0, err
    lines = text.split("\n")
    assert lines[0] == "completed", text
    assert "stages: 6/6" in lines and lines[-1] == "", text
    # Six stages of 0.3 s: it did block.
    assert secs > 1.0, secs
    assert read_file(env.agent(2, "progress")) == text
    assert read_file(env.agent(2, "error")) == ""
    # Once terminal, a new `wait` returns at once.
    code, again, _, secs = run(f"cat {env.agent(2, 'wait')}")
    assert (code, again) == (0, text) and secs < 1.0, (code, secs)


def test_wait_on_an_idle_agent_returns_at_once(env):
    code, text, err, secs = run(f"cat {env.agent(102, 'wait')}")
    assert (code, text) == (0, "idle\n"), (code, text, err)
    assert secs < 1.0, secs
    assert env.sim.requests(agent=102, kind="progress") == []


def test_failed_import_fails_wait_with_eremoteio(env):
    refetch(env, 15)
    code, out, err, _ = run(f"cat {env.agent(15, 'wait')}")
    assert code != 0 and out == "" and "Remote I/O error" in err, (code, out, err)
    assert os_errno(read_file, env.agent(15, "wait")) == errno.EREMOTEIO
    text = read_file(env.agent(15, "progress"))
    lines = text.split("\n")
    assert lines[0] == "failed", text
    assert "current_stage: tools" in lines, text
    assert "error: Provider returned 500 while listing tools" in lines, text
    assert "stage tools failed" in lines and "stage knowledge_base pending" in lines, text
    assert "stages: 3/6" in lines, text
    assert read_file(env.agent(15, "error")) == FAILED_ERROR
    code, out, _, _ = run(f"cat {env.agent(15, 'wait')} || cat {env.agent(15, 'error')}")
    assert out == FAILED_ERROR, out


def test_wait_is_bounded_by_wait_timeout(env):
    d = env.new_daemon(opts={"wait_timeout": "1"})
    d.start()
    with env.sim.stages(30):
        refetch(d, 12)
    code, out, err, secs = run(f"cat {d.agent(12, 'wait')}")
    assert code != 0 and "Connection timed out" in err, (code, out, err)
    # wait_timeout (1 s), not some multiple of it: a poll_interval (0.2 s) of slack.
    assert 0.9 < secs < 1.5 * harness.SLOW, secs
    assert os_errno(read_file, d.agent(12, "wait")) == errno.ETIMEDOUT
    assert read_file(d.agent(12, "error")) == "wait: timed out after 1 s\n"
    d.stop()


def test_wait_is_interruptible_and_stops_polling(env):
    with env.sim.stages(30):
        refetch(env, 22)
    since = env.sim.last_seq()
    proc = start_reader(env.agent(22, "wait"))
    try:
        # Blocked, and polling: two progress GETs seen.
        wait_until(lambda: len(env.sim.polls(22, since)) >= 2, timeout=10,
                   what="the blocked wait of agent 22 to poll")
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=2)  # at once
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode != 0
    # The daemon stops polling for that reader: no GET over several poll_intervals.
    # (The reader may have been between two GETs: allow the one in flight.)
    after = env.sim.last_seq()
    sleep_until(time.monotonic() + 1.0, what="one second")
    assert env.sim.polls(22, after) == [], env.sim.polls(22, after)
    # The mount is fine and the agent still running.
    assert read_file(env.agent(22, "progress")).startswith("in_progress\n")
