"""Months of cron and CI against an API that restarts, forgets and hiccups:
waits that mean what they say, expired ids, refetches never blocked for good,
error lines that clear, mtimes that move, memory that stays bounded."""

import errno
import os
import time

import harness
from harness import (finish, os_errno, read_file, refetch, run, sleep_until, start_reader, wait_until,
                     write_file)

ENV = {"agents": 300}


def start_wait(d, agent):
    return start_reader(d.agent(agent, "wait"))


def test_six_503s_do_not_end_a_wait(env):
    with env.sim.stages(0.5):
        refetch(env.daemon, 1)
    since = env.sim.last_seq()
    env.sim.add_fault(match="/1/auto-fetch-progress/", method="GET", kind="status", status=503,
                      detail="Service unavailable (hiccup)", count=6)
    try:
        code, out, err = finish(start_wait(env.daemon, 1))
    finally:
        env.sim.clear_faults()
    assert code == 0 and out.startswith("completed\n"), (code, out, err)
    statuses = [e["status"] for e in env.sim.polls(1, since)]
    assert statuses.count(503) == 6 and statuses[-1] == 200, statuses
    # The poll that succeeded cleared the poll's error line.
    assert read_file(env.agent(1, "error")) == ""


def test_three_seconds_of_api_down_do_not_end_a_wait(env):
    gate = env.sim.gate()
    d = env.new_daemon(opts={"api_url": gate.url, "wait_timeout": "30"})
    d.start()
    with env.sim.stages(0.5):
        refetch(d, 2)
    proc = start_wait(d, 2)
    gate.down()
    t_up = time.monotonic() + 3
    wait_until(lambda: read_file(d.agent(2, "error")).startswith("progress: cannot connect"),
               timeout=5, what="the wait to meet the outage")
    sleep_until(t_up, what="3 s of outage")
    assert proc.poll() is None, finish(proc)
    gate.up()
    code, out, err = finish(proc)
    assert code == 0 and out.startswith("completed\n"), (code, out, err)
    assert read_file(d.agent(2, "error")) == ""
    d.stop()


def test_an_id_the_api_forgot_is_expired(env):
    refetch(env.daemon, 11)
    pid = env.sim.imports()["11"][-1]
    code, out, _, _ = run(f"cat {env.agent(11, 'wait')}")
    assert code == 0
    # The API restarts and forgets every import; a new daemon (or an old one
    # that had not seen the end) asks about the id it kept.
    d = env.new_daemon(state_dir=env.daemon.state_dir + "-copy")
    os.makedirs(d.state_dir, mode=0o700)
    with open(os.path.join(d.state_dir, "progress-ids"), "w") as f:
        f.write(f"11 {pid}\n")
    env.sim.reset()
    d.start()
    text = read_file(d.agent(11, "progress"))
    assert text == f"expired\nprogress_id: {pid}\n", text
    assert read_file(d.agent(11, "progress.json")) == ""
    code, out, err, secs = run(f"cat {d.agent(11, 'wait')}")
    assert code != 0 and "Stale file handle" in err and secs < 2, (code, out, err, secs)
    assert os_errno(read_file, d.agent(11, "wait")) == errno.ESTALE
    # Asked once: an expired id is over, like a terminal status.
    assert len(env.sim.polls(11)) == 1, env.sim.polls(11)
    code, out, _, _ = run(f"cat {d.agent(11, 'events')}")
    assert code == 0 and out.endswith(" status expired\n"), out
    # A refetch goes ahead, at once, without asking about the old id again.
    refetch(d, 11)
    assert len(env.sim.posts(11)) == 1 and len(env.sim.polls(11)) == 1
    assert read_file(d.agent(11, "progress")).split("\n")[0] in ("in_progress", "completed")
    d.stop()


def test_a_404_on_the_refetch_check_lets_it_go_ahead(env):
    env.sim.config(stage_seconds=30)
    try:
        refetch(env.daemon, 21)
        read_file(env.agent(21, "progress"))  # polled: running
        env.sim.reset()  # the API forgets the import (it would refuse a second one while it runs)
        env.sim.add_fault(match="/21/auto-fetch-progress/", method="GET", kind="status", status=404,
                          detail="Not found.", count=1)
        since = env.sim.last_seq()
        refetch(env.daemon, 21)  # the check says the old import is gone: a POST goes ahead
        assert len(env.sim.posts(21, since)) == 1
        assert read_file(env.agent(21, "error")) == ""
    finally:
        env.sim.clear_faults()
        env.sim.config(stage_seconds=0.3)


def test_a_passing_failure_of_the_check_fails_only_that_write(env):
    env.sim.config(stage_seconds=30)
    try:
        refetch(env.daemon, 22)
        env.sim.add_fault(match="/22/auto-fetch-progress/", method="GET", kind="status", status=503,
                          detail="Busy", count=4)
        since = env.sim.last_seq()
        assert write_file(env.agent(22, "refetch"), "1") == errno.EIO
        assert read_file(env.agent(22, "error")) == "progress: HTTP 503: Busy\n"
        assert env.sim.posts(22, since) == []
        # The next write checks again: the import still runs.
        assert write_file(env.agent(22, "refetch"), "1") == errno.EBUSY
        assert env.sim.posts(22, since) == []
    finally:
        env.sim.clear_faults()
        env.sim.config(stage_seconds=0.3)


def test_error_lines_clear_and_mtimes_move(env):
    stamp = os.stat(env.agent(31, "progress")).st_mtime
    assert os.stat(env.agent(31, "error")).st_mtime == stamp  # the mount time: nothing yet
    sleep_until(stamp + 1.1, clock=time.time, what="a second to pass")
    with env.sim.stages(0.5):
        refetch(env.daemon, 31)
    env.sim.add_fault(match="/31/auto-fetch-progress/", method="GET", kind="status", status=503,
                      detail="Blip", count=4)
    try:
        assert os_errno(read_file, env.agent(31, "progress")) == errno.EIO
    finally:
        env.sim.clear_faults()
    assert read_file(env.agent(31, "error")) == "progress: HTTP 503: Blip\n"
    errored = os.stat(env.agent(31, "error")).st_mtime
    assert errored > stamp + 1, (errored, stamp)
    code, _, _, _ = run(f"cat {env.agent(31, 'wait')}")
    assert code == 0
    assert read_file(env.agent(31, "error")) == ""  # a successful poll cleared it
    st = os.stat(env.agent(31, "progress"))
    assert st.st_mtime > stamp + 1 and st.st_ctime == st.st_mtime, (st.st_mtime, stamp)
    assert os.stat(env.agent(31, "error")).st_mtime >= errored
    # find -newer and ls -t see it.
    code, out, _, _ = run(f"find {env.agent(31)} -maxdepth 1 -newer {env.agent(32, 'progress')} "
                          f"-name progress")
    assert out.strip() == env.agent(31, "progress"), out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_memory_stays_flat_reading_many_large_agents(env):
    if harness.sanitized():
        print("    skipped: a sanitizer's allocator keeps freed memory in quarantine")
        return
    d = env.new_daemon(opts={"list_ttl": "0.5"})
    d.start()
    env.sim.config(prompt_bytes=1 << 20)  # 1 MiB agents
    try:
        def read_round(ids):
            for i in ids:
                assert len(read_file(d.agent(i, "system_prompt"))) > 1 << 20
        read_round(range(100, 120))
        base = rss_kib(d.pid)
        # 160 more large agents, each read once, past list_ttl: memory must not
        # grow with them (770 MB once); the cache keeps a bounded number.
        for start in range(120, 280, 20):
            read_round(range(start, start + 20))
        grown = rss_kib(d.pid) - base
        assert grown < 96 * 1024, f"RSS grew by {grown} KiB reading 160 agents of 1 MiB"
    finally:
        env.sim.config(prompt_bytes=0)
    d.stop()


def test_a_cold_lookup_downloads_the_agent_once(env):
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    assert read_file(d.agent(41, "name")) != ""
    assert len(env.sim.requests(kind="agent", since=since)) == 1, env.sim.requests(since=since)
    d.stop()
