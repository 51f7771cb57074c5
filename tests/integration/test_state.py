"""Progress ids survive a restart with the same state_dir; the state file is
private and names each agent once."""

import os
import signal

from harness import read_file, refetch, run, sighup_pending, wait_status, wait_until

ENV = {"agents": 120, "stage_seconds": 0.3}


def state_lines(d):
    path = os.path.join(d.state_dir, "progress-ids")
    assert os.stat(path).st_mode & 0o777 == 0o600, oct(os.stat(path).st_mode)
    return [ln for ln in read_file(path).splitlines() if ln and not ln.startswith("#")]


def test_restart_keeps_the_progress(env):
    d = env.new_daemon()
    d.start()
    refetch(d, 42)
    pid = env.sim.imports()["42"][0]
    assert f"progress_id: {pid}\n" in read_file(d.agent(42, "progress"))
    assert state_lines(d) == [f"42 {pid}"]
    assert d.stop() == 0

    since = env.sim.last_seq()
    d.start()  # same state_dir, fresh mount
    assert "1 progress ids" in d.stderr(), d.stderr()
    text = read_file(d.agent(42, "progress"))
    assert text.split("\n")[1] == f"progress_id: {pid}", text
    final = wait_status(d, 42)
    assert f"progress_id: {pid}\n" in final and final.startswith("completed\n"), final
    assert env.sim.posts(42, since) == []
    polls = env.sim.polls(42, since)
    assert polls and all(e["query"] == f"progress_id={pid}" for e in polls), polls
    # After a restart a refetch of a completed import goes ahead.
    refetch(d, 42)
    pid2 = env.sim.imports()["42"][1]
    assert state_lines(d) == [f"42 {pid2}"]
    d.stop()


def test_state_file_holds_one_line_per_agent(env):
    d = env.new_daemon()
    d.start()
    for agent in (51, 52, 56):
        refetch(d, agent)
    assert run(f"echo 1 > {d.agent(53, 'refetch')}")[0] != 0  # refused: nothing stored
    pids = {a: env.sim.imports()[str(a)][-1] for a in (51, 52, 56)}
    assert sorted(state_lines(d)) == sorted(f"{a} {p}" for a, p in pids.items())
    assert sorted(os.listdir(d.state_dir)) == ["lock", "progress-ids"], \
        os.listdir(d.state_dir)  # no temp file left behind
    d.stop()
    d.start()
    for agent, pid in pids.items():
        assert f"progress_id: {pid}\n" in read_file(d.agent(agent, "progress"))
    assert read_file(d.agent(53, "progress")) == "idle\n"
    d.stop()


def test_sighup_drops_the_caches_and_keeps_the_daemon(env):
    d = env.new_daemon(opts={"list_ttl": 3600})
    d.start()
    lists = lambda: len(env.sim.requests(kind="list"))  # noqa: E731
    c0 = lists()
    assert run(f"ls {d.path('agents')}")[0] == 0
    c1 = lists()
    assert run(f"ls {d.path('agents')}")[0] == 0
    assert lists() == c1 and c1 > c0  # the listing is cached
    os.kill(d.pid, signal.SIGHUP)
    wait_until(lambda: not sighup_pending(d.pid), what="SIGHUP handled")
    assert run(f"ls {d.path('agents')}")[0] == 0  # within list_ttl, yet listed again
    assert lists() - c1 == c1 - c0, (c0, c1, lists())  # the same pages once more
    assert "caches dropped" in d.stderr(), d.stderr()
    assert d.alive(), d.stderr()
    assert d.stop() == 0


def test_a_missing_agent_is_asked_once_until_sighup(env):
    d = env.new_daemon(opts={"list_ttl": 3600})
    d.start()
    asked = lambda: len(env.sim.requests(agent=99999, method="GET"))  # noqa: E731
    for _ in range(3):  # no listing yet: the API is asked for this one agent
        code, _, err, _ = run(f"stat {d.agent(99999)}")
        assert code != 0 and "No such file or directory" in err, (code, err)
    assert asked() == 1, env.sim.requests(agent=99999)  # the 404 is remembered
    os.kill(d.pid, signal.SIGHUP)
    wait_until(lambda: not sighup_pending(d.pid), what="SIGHUP handled")
    assert run(f"stat {d.agent(99999)}")[0] != 0
    assert asked() == 2, env.sim.requests(agent=99999)  # forgotten: asked again
    assert d.stop() == 0
