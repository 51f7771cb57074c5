"""HTTP behaviour seen from the API side: connection reuse, retries and the
errno of each kind of failure (README, "Errors a caller sees")."""

import errno
import os

from harness import errname, os_errno, read_file, run, wait_status, wait_until, write_file

ENV = {"agents": 120, "handshake": 30}


def test_requests_share_connections(env):
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    os.listdir(d.path("agents"))
    for agent in (11, 12):
        assert run(f"echo 1 > {d.agent(agent, 'refetch')}")[0] == 0
    for agent in (11, 12):
        wait_status(d, agent)
    reqs = env.sim.requests(since=since)
    conns = {e["conn"] for e in reqs}
    assert len(reqs) >= 8, reqs
    # Sequential requests ride the same connection: a handful of connections at most.
    assert len(conns) <= 3 and len(conns) < len(reqs) / 2, (len(conns), len(reqs))
    d.stop()


def test_server_errors_are_retried_then_eio(env):
    env.sim.add_fault(match="/21/", method="GET", kind="status", status=503)
    try:
        since = env.sim.last_seq()
        got = os_errno(os.stat, env.agent(21))
        gets = env.sim.requests(agent=21, since=since)
    finally:
        env.sim.clear_faults()
    assert got == errno.EIO, errname(got)
    assert len(gets) == 4 and all(e["status"] == 503 for e in gets), gets  # 1 + 3 retries


def test_a_failed_poll_never_shows_stale_text(env):
    assert run(f"echo 1 > {env.agent(22, 'refetch')}")[0] == 0
    first = read_file(env.agent(22, "progress"))
    assert first.startswith("in_progress\n"), first
    env.sim.add_fault(match="/22/auto-fetch-progress/", kind="status", status=500,
                      detail="boom")
    try:
        def failing():
            e = os_errno(read_file, env.agent(22, "progress"))
            return e if e else None
        got = wait_until(failing, timeout=10, interval=0.1, what="a read of progress to fail")
        assert got == errno.EIO, errname(got)
        code, out, err, _ = run(f"cat {env.agent(22, 'progress')}")
        assert code != 0 and out == "" and "Input/output error" in err, (code, out, err)
        assert read_file(env.agent(22, "error")) == "progress: HTTP 500: boom\n"
    finally:
        env.sim.clear_faults()
    assert wait_status(env, 22).startswith("completed\n")


def test_malformed_answer_is_eproto(env):
    env.sim.add_fault(match="/31/auto-fetch/", kind="malformed")
    try:
        got = write_file(env.agent(31, "refetch"), "1")
    finally:
        env.sim.clear_faults()
    assert got == errno.EPROTO, errname(got)
    error = read_file(env.agent(31, "error"))
    assert error.startswith("refetch: ") and error.count("\n") == 1, error


def test_too_many_requests_is_eagain(env):
    env.sim.add_fault(match="/32/", method="GET", kind="status", status=429, retry_after=0)
    try:
        since = env.sim.last_seq()
        got = os_errno(os.stat, env.agent(32))
        gets = env.sim.requests(agent=32, since=since)
    finally:
        env.sim.clear_faults()
    assert got == errno.EAGAIN, errname(got)
    assert len(gets) == 4, gets


def test_a_404_on_post_is_enoent(env):
    # The agent vanished between lookup and POST.
    env.sim.add_fault(match="/34/auto-fetch/", kind="status", status=404, detail="Not found.")
    try:
        got = write_file(env.agent(34, "refetch"), "1")
    finally:
        env.sim.clear_faults()
    assert got == errno.ENOENT, errname(got)
    assert read_file(env.agent(34, "error")) == "refetch: HTTP 404: Not found.\n"
