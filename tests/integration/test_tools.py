"""The tools-only import: tools-refetch (what it sends, what sends nothing, how a
refusal reaches the caller), tools-progress, tools-progress.json, tools-wait,
EBUSY against either import of the agent, the deprecated endpoints, expiry,
Ctrl-C and a restart (DESIGN.md section 7, "Tools import"; the simulator's
behaviour: contrib/cekura-sim.md).

Agents by id (contrib/cekura-sim): i % 10 == 3 has no provider, == 4 is
"custom", else ["vapi", "retell", "elevenlabs", "synthflow", "bland"][i % 5];
a tools import of an agent with i % 10 == 5 fails; one of any other agent
completes 2 * stage_seconds after its POST (one more tool, imported_tool_<n>)."""

import errno
import json
import os
import signal
import stat
import time

import harness
from harness import (API, errname, os_errno, read_file, refetch, run, sleep_until, start_reader,
                     state_file_lines, tools_progress_text, tools_refetch, wait_status,
                     wait_tools_status, wait_until, write_file)

ENV = {"agents": 120}

NO_PROVIDER = ('tools-refetch: the agent has no provider: write a JSON object with "provider" '
               'to choose one\n')
DEPRECATED = "the API no longer offers a tools-only import"
FAILED = "Provider returned 401: invalid API key"
TOOLS_FILES = ("tools-refetch", "tools-progress", "tools-progress.json", "tools-wait")


def completed(pid):
    return tools_progress_text("completed", pid, 1, 2, "Imported 1 tool, updated 2")


def in_progress(pid):
    return tools_progress_text("in_progress", pid, message="Discovering tools")


def assert_one_tools_post(sim, agent, body, status=200, since=0):
    posts = sim.tools_posts(agent, since)
    assert [e["status"] for e in posts] == [status], posts
    assert posts[0]["body"] == body, posts[0]["body"]
    return posts[0]


def one_error_line(env, agent):
    text = read_file(env.agent(agent, "error"))
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text


# ---------------------------------------------------------------- what is sent

def test_one_sends_the_agents_provider_and_progress_goes_to_completed(env):
    agent = 10  # vapi
    since = env.sim.last_seq()
    # Long enough stages that the first read sees the import still running.
    with env.sim.stages(2 * harness.SLOW):
        code, out, err, _ = run(f"echo 1 > {env.agent(agent, 'tools-refetch')}")
        assert (code, out, err) == (0, "", ""), (code, out, err)
        assert_one_tools_post(env.sim, agent, {"provider": "vapi", "assistant_id": "vapi-agent-10"},
                              since=since)
        pids = env.sim.tools_imports()[str(agent)]
        assert len(pids) == 1, pids
        pid = pids[0]
        first = read_file(env.agent(agent, "tools-progress"))
    assert first == in_progress(pid), first
    # A tools import is not an agent import.
    assert env.sim.posts(agent) == []
    assert read_file(env.agent(agent, "progress")) == "idle\n"

    final = wait_tools_status(env, agent, ("completed",))
    assert final == completed(pid), final
    assert os.stat(env.agent(agent, "tools-progress")).st_size == len(final)
    doc = json.loads(read_file(env.agent(agent, "tools-progress.json")))
    assert doc == env.sim.tools_progress(agent, pid), doc
    assert doc["status"] == "completed" and doc["tools_created"] == 1, doc
    polls = env.sim.tools_polls(agent, since)
    assert polls and all(e["query"] == f"progress_id={pid}" for e in polls), polls
    assert read_file(env.agent(agent, "error")) == ""
    code, first, _, _ = run(f"head -1 {env.agent(agent, 'tools-progress')}")
    assert (code, first) == (0, "completed\n"), first


def test_tools_wait_returns_the_final_text_and_tools_show_the_import_at_once(env):
    agent = 20  # vapi
    d = env.new_daemon(opts={"list_ttl": "3600"})  # only the completion can drop the cache
    d.start()
    tools = d.agent(agent, "tools")
    before = sorted(os.listdir(tools))
    assert before == ["lookup_order.json", "transfer_human.json"], before
    pid = tools_refetch(d, agent)
    since = env.sim.last_seq()
    code, text, err, _ = run(f"cat {d.agent(agent, 'tools-wait')}")
    assert (code, text) == (0, completed(pid)), (code, text, err)
    assert read_file(d.agent(agent, "tools-progress")) == text
    # Right after, without a remount or list_ttl: the configuration was read anew.
    after = sorted(os.listdir(tools))
    assert after == sorted(before + ["imported_tool_1.json"]), after
    assert env.sim.requests(agent=agent, kind="agent", since=since), \
        env.sim.requests(agent=agent, since=since)
    api = env.sim.api_get(f"{API}{agent}/")
    imported = [t for t in api["mock_tools"] if t["name"] == "imported_tool_1"]
    assert json.loads(read_file(os.path.join(tools, "imported_tool_1.json"))) == imported[0]
    # Once over, a new tools-wait returns at once.
    code, again, _, secs = run(f"cat {d.agent(agent, 'tools-wait')}")
    assert (code, again) == (0, text) and secs < 1.0 * harness.SLOW, (code, again, secs)
    d.stop()


def test_a_json_object_is_sent_unchanged_and_never_shown(env):
    agent = 24  # custom
    secret = "Bearer sk-mcp-secret-24-7f3a"
    # Whitespace and newlines inside, keys in an unusual order, nested headers.
    text = ('{\n  "mcp_server_url" : "https://mcp.example.com/rpc",\n\t"provider":"custom",\n'
            f'  "mcp_server_headers": {{"Authorization": "{secret}"}}\n}}\n')
    since = env.sim.last_seq()
    got = write_file(env.agent(agent, "tools-refetch"), text)
    assert got == 0, errname(got)
    post = assert_one_tools_post(env.sim, agent, json.loads(text), since=since)
    assert list(post["body"]) == ["mcp_server_url", "provider", "mcp_server_headers"], post["body"]
    pid = env.sim.tools_imports()[str(agent)][-1]
    final = wait_tools_status(env, agent, ("completed",))
    assert final == completed(pid), final
    assert read_file(env.agent(agent, "error")) == ""
    # A written body is never logged, persisted or shown.
    assert secret not in env.daemon.stderr()
    for line in state_file_lines(env.daemon):
        assert secret not in line and "mcp.example.com" not in line, line
    for name in ("tools-progress", "tools-progress.json", "error"):
        assert secret not in read_file(env.agent(agent, name)), name


def test_the_whole_write_is_the_byte_count(env):
    agent = 44  # custom
    data = b'{"provider": "custom", "mcp_server_url": "https://mcp.example.com/rpc"}\n'
    fd = os.open(env.agent(agent, "tools-refetch"), os.O_WRONLY)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)
    assert_one_tools_post(env.sim, agent, json.loads(data))


def test_a_json_object_of_exactly_64_kib_is_sent(env):
    agent = 34  # custom
    head = '{"provider": "custom", "mcp_server_url": "https://mcp.example.com/rpc"}'
    text = head + " " * (64 * 1024 - len(head))  # whitespace after the object
    assert len(text) == 65536
    got = write_file(env.agent(agent, "tools-refetch"), text)
    assert got == 0, errname(got)
    assert_one_tools_post(env.sim, agent, json.loads(text))


# ---------------------------------------------------------------- refusals

def test_a_provider_the_api_refuses_is_eremoteio_with_the_field_message(env):
    for agent, provider in ((8, "synthflow"), (19, "bland")):
        a = env.agent(agent)
        code, _, err, _ = run(f"echo 1 > {a}/tools-refetch")
        assert code != 0 and "Remote I/O error" in err, (agent, code, err)
        assert one_error_line(env, agent) == \
            f'tools-refetch: HTTP 400: provider: "{provider}" is not a valid choice.\n'
        assert_one_tools_post(env.sim, agent,
                              {"provider": provider, "assistant_id": f"{provider}-agent-{agent}"},
                              status=400)
        got = write_file(os.path.join(a, "tools-refetch"), "1")
        assert got == errno.EREMOTEIO, errname(got)
        assert len(env.sim.tools_posts(agent)) == 2  # each write one POST, none retried
        # Nothing was started.
        assert read_file(os.path.join(a, "tools-progress")) == "idle\n"
        code, out, _, _ = run(f"echo 1 > {a}/tools-refetch || cat {a}/error")
        assert out == f'tools-refetch: HTTP 400: provider: "{provider}" is not a valid choice.\n'
    # A written object the API refuses: its field message, one line.
    got = write_file(env.agent(18, "tools-refetch"), '{"provider": "custom"}')
    assert got == errno.EREMOTEIO, errname(got)
    assert one_error_line(env, 18) == \
        "tools-refetch: HTTP 400: mcp_server_url: This field is required when provider is custom.\n"


def test_no_provider_is_eopnotsupp_and_sends_nothing(env):
    agent = 13  # provider.type ""
    a = env.agent(agent)
    code, _, err, _ = run(f"echo 1 > {a}/tools-refetch")
    assert code != 0 and "Operation not supported" in err, (code, err)
    assert read_file(os.path.join(a, "error")) == NO_PROVIDER
    got = write_file(os.path.join(a, "tools-refetch"), "1")
    assert got == errno.EOPNOTSUPP, errname(got)
    assert env.sim.tools_requests(agent) == [], env.sim.tools_requests(agent)
    assert read_file(os.path.join(a, "tools-progress")) == "idle\n"
    # A JSON object chooses the provider: it is sent.
    body = {"provider": "vapi", "assistant_id": "asst-13"}
    got = write_file(os.path.join(a, "tools-refetch"), json.dumps(body))
    assert got == 0, errname(got)
    assert_one_tools_post(env.sim, agent, body)
    pid = env.sim.tools_imports()[str(agent)][-1]
    assert read_file(os.path.join(a, "tools-progress")).split("\n")[1] == f"progress_id: {pid}"


def test_bad_input_is_einval_and_sends_nothing(env):
    agent = 30  # vapi: "1" would be sent
    a = env.agent(agent)
    since = env.sim.last_seq()
    code, _, err, _ = run(f"echo 2 > {a}/tools-refetch")
    assert code != 0 and "Invalid argument" in err, (code, err)
    error = one_error_line(env, agent)
    assert error.startswith("tools-refetch: "), error
    for data in ("2", "2\n", " \n", "11", "{", "}", "[1]", "[]", '"vapi"', "null", "1 1",
                 '{"a":1} {"b":2}', '{"provider": "vapi"} x', '{"provider": "vapi"',
                 "1\x00", '{"provider": "vapi", "assistant_id": "a"}\x00'):
        got = write_file(os.path.join(a, "tools-refetch"), data)
        assert got == errno.EINVAL, f"{data!r}: {errname(got)}"

    # At an offset: neither "1" nor an object.
    for data, offset in ((b"1", 5), (b'{"provider": "vapi", "assistant_id": "a"}', 3)):
        def pwrite():
            fd = os.open(os.path.join(a, "tools-refetch"), os.O_WRONLY)
            try:
                os.pwrite(fd, data, offset)
            finally:
                os.close(fd)
        got = os_errno(pwrite)
        assert got == errno.EINVAL, f"{data!r} at {offset}: {errname(got)}"

    # Over 64 KiB, one object in one write.
    head = '{"provider": "custom", "mcp_server_url": "https://mcp.example.com/rpc", "pad": "'
    big = head + "x" * (64 * 1024 + 1 - len(head) - 2) + '"}'
    assert len(big) == 64 * 1024 + 1 and json.loads(big)
    got = write_file(os.path.join(a, "tools-refetch"), big)
    assert got == errno.EINVAL, errname(got)

    # A JSON object to the agent import's refetch.
    got = write_file(os.path.join(a, "refetch"), '{"provider": "vapi", "assistant_id": "a"}')
    assert got == errno.EINVAL, errname(got)

    # Truncating, touching, or opening and closing with nothing written: accepted, nothing sent.
    for cmd in (f": > {a}/tools-refetch", f"printf '' > {a}/tools-refetch",
                f"touch {a}/tools-refetch"):
        code, _, err, _ = run(cmd)
        assert (code, err) == (0, ""), (cmd, code, err)

    assert env.sim.tools_requests(agent, since=since) == [], env.sim.tools_requests(agent)
    assert env.sim.posts(agent, since) == []
    assert read_file(os.path.join(a, "tools-progress")) == "idle\n"
    assert read_file(os.path.join(a, "progress")) == "idle\n"


def test_a_failed_tools_import_fails_tools_wait_with_eremoteio(env):
    agent = 15  # vapi, its imports fail
    pid = tools_refetch(env, agent)
    code, out, err, _ = run(f"cat {env.agent(agent, 'tools-wait')}")
    assert code != 0 and out == "" and "Remote I/O error" in err, (code, out, err)
    assert os_errno(read_file, env.agent(agent, "tools-wait")) == errno.EREMOTEIO
    text = read_file(env.agent(agent, "tools-progress"))
    assert text == tools_progress_text("failed", pid, error=FAILED), text
    assert read_file(env.agent(agent, "error")) == f"tools-import: {FAILED}\n"
    a = env.agent(agent)
    code, out, _, _ = run(f"cat {a}/tools-wait || cat {a}/error")
    assert out == f"tools-import: {FAILED}\n", out
    assert json.loads(read_file(env.agent(agent, "tools-progress.json")))["status"] == "failed"
    assert read_file(env.agent(agent, "progress")) == "idle\n"


# ---------------------------------------------------------------- EBUSY

def test_second_tools_refetch_while_one_runs_is_ebusy(env):
    agent = 40  # vapi
    a = env.agent(agent)
    with env.sim.stages(30):
        pid = tools_refetch(env, agent)
        since = env.sim.last_seq()
        code, _, err, _ = run(f"echo 1 > {a}/tools-refetch")
        assert code != 0 and "Device or resource busy" in err, (code, err)
        got = write_file(os.path.join(a, "tools-refetch"),
                         '{"provider": "vapi", "assistant_id": "other"}')
        assert got == errno.EBUSY, errname(got)
        assert len(env.sim.tools_posts(agent)) == 1, env.sim.tools_posts(agent)
        # The check was a fresh poll.
        assert env.sim.tools_polls(agent, since), env.sim.tools_requests(agent)
        assert read_file(os.path.join(a, "error")) == \
            f"tools-refetch: a tools import is already running (progress_id {pid})\n"
        assert read_file(os.path.join(a, "tools-progress")) == in_progress(pid)


def test_tools_refetch_while_the_agent_import_runs_is_ebusy(env):
    agent = 50  # vapi
    a = env.agent(agent)
    with env.sim.stages(30):
        apid = refetch(env, agent)
        since = env.sim.last_seq()
        code, _, err, _ = run(f"echo 1 > {a}/tools-refetch")
        assert code != 0 and "Device or resource busy" in err, (code, err)
        assert env.sim.tools_requests(agent) == [], env.sim.tools_requests(agent)
        assert env.sim.polls(agent, since), env.sim.requests(agent=agent, since=since)
        assert read_file(os.path.join(a, "error")) == \
            f"tools-refetch: an auto-fetch is already running (progress_id {apid})\n"
        assert read_file(os.path.join(a, "tools-progress")) == "idle\n"
        assert read_file(os.path.join(a, "progress")).startswith("in_progress\n")


def test_refetch_while_a_tools_import_runs_is_ebusy(env):
    agent = 60  # vapi
    a = env.agent(agent)
    with env.sim.stages(30):
        pid = tools_refetch(env, agent)
        since = env.sim.last_seq()
        code, _, err, _ = run(f"echo 1 > {a}/refetch")
        assert code != 0 and "Device or resource busy" in err, (code, err)
        assert env.sim.posts(agent) == [], env.sim.posts(agent)
        assert env.sim.tools_polls(agent, since), env.sim.tools_requests(agent)
        assert read_file(os.path.join(a, "error")) == \
            f"refetch: a tools import is already running (progress_id {pid})\n"
        assert read_file(os.path.join(a, "progress")) == "idle\n"
        assert read_file(os.path.join(a, "tools-progress")) == in_progress(pid)


# ---------------------------------------------------------------- the API without it

def test_deprecated_endpoint_404_or_410_is_eopnotsupp(env):
    try:
        for agent, status in ((70, 404), (80, 410)):
            env.sim.config(tools_status=status)
            a = env.agent(agent)
            code, _, err, _ = run(f"echo 1 > {a}/tools-refetch")
            assert code != 0 and "Operation not supported" in err, (agent, code, err)
            assert read_file(os.path.join(a, "error")) == \
                f"tools-refetch: HTTP {status}: {DEPRECATED}\n"
            posts = env.sim.tools_posts(agent)
            assert [e["status"] for e in posts] == [status], posts  # not retried
            got = write_file(os.path.join(a, "tools-refetch"),
                             '{"provider": "custom", "mcp_server_url": "https://m.example/"}')
            assert got == errno.EOPNOTSUPP, errname(got)
            assert read_file(os.path.join(a, "tools-progress")) == "idle\n"

        # An import started before the endpoint went away: its poll is EOPNOTSUPP too.
        agent = 71  # retell
        env.sim.config(tools_status=0)
        with env.sim.stages(30):
            tools_refetch(env, agent)
            env.sim.config(tools_status=404)
            wait_until(lambda: os_errno(read_file, env.agent(agent, "tools-progress"))
                       == errno.EOPNOTSUPP, timeout=5, what="the poll of agent 71 to get the 404")
            assert read_file(env.agent(agent, "error")) == \
                f"tools-progress: HTTP 404: {DEPRECATED}\n"
            got = os_errno(read_file, env.agent(agent, "tools-wait"))
            assert got == errno.EOPNOTSUPP, errname(got)
    finally:
        env.sim.config(tools_status=0)


# ---------------------------------------------------------------- expiry, Ctrl-C, restart

def test_a_forgotten_tools_import_is_expired_and_tools_wait_is_estale(env):
    agent = 90  # vapi
    a = env.agent(agent)
    with env.sim.stages(30):
        pid = tools_refetch(env, agent)
        assert read_file(os.path.join(a, "tools-progress")) == in_progress(pid)
        env.sim.reset()  # the simulator forgets every import: 400 on the next poll
        expired = f"expired\nprogress_id: {pid}\n"
        wait_until(lambda: read_file(os.path.join(a, "tools-progress")) == expired, timeout=5,
                   what="tools-progress of agent 90 to say expired")
        assert read_file(os.path.join(a, "tools-progress.json")) == ""
        code, out, err, secs = run(f"cat {a}/tools-wait")
        assert code != 0 and out == "" and "Stale file handle" in err, (code, out, err)
        assert secs < 2 * harness.SLOW, secs  # at once
        assert os_errno(read_file, os.path.join(a, "tools-wait")) == errno.ESTALE
        # The id stays in the state file until the next tools import replaces it.
        assert f"{agent} tools {pid}" in state_file_lines(env.daemon)
        # The old import is over: a new one goes ahead.
        since = env.sim.last_seq()
        pid2 = tools_refetch(env, agent)
        assert pid2 != pid
        assert [e["status"] for e in env.sim.tools_posts(agent, since)] == [200]
        lines = state_file_lines(env.daemon)
        assert f"{agent} tools {pid2}" in lines and f"{agent} tools {pid}" not in lines, lines


def test_tools_wait_is_interruptible_and_stops_polling(env):
    agent = 100  # vapi
    with env.sim.stages(30):
        tools_refetch(env, agent)
        since = env.sim.last_seq()
        proc = start_reader(env.agent(agent, "tools-wait"))
        try:
            wait_until(lambda: len(env.sim.tools_polls(agent, since)) >= 2, timeout=10,
                       what="the blocked tools-wait of agent 100 to poll")
            assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=2 * harness.SLOW)  # promptly
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        assert proc.returncode != 0
        # No more polls for that reader (one in flight allowed: `after` is taken now).
        after = env.sim.last_seq()
        sleep_until(time.monotonic() + 1.0, what="one second")
        assert env.sim.tools_polls(agent, after) == [], env.sim.tools_polls(agent, after)
        # The mount works and the import still runs.
        assert read_file(env.agent(agent, "tools-progress")).startswith("in_progress\n")
        assert "tools-wait" in os.listdir(env.agent(agent))


def test_restart_keeps_the_tools_progress_id_apart_from_the_agent_imports(env):
    agent = 110  # vapi
    d = env.new_daemon()
    d.start()
    apid = refetch(d, agent)
    wait_status(d, agent, ("completed",))
    tpid = tools_refetch(d, agent)
    lines = state_file_lines(d)
    assert f"{agent} tools {tpid}" in lines and f"{agent} {apid}" in lines, lines
    path = os.path.join(d.state_dir, lines[f"{agent} tools {tpid}"])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    assert d.stop() == 0

    since = env.sim.last_seq()
    d.start()  # same state_dir
    text = read_file(d.agent(agent, "tools-progress"))
    assert text.split("\n")[1] == f"progress_id: {tpid}", text
    assert wait_tools_status(d, agent, ("completed",)) == completed(tpid)
    assert f"progress_id: {apid}\n" in read_file(d.agent(agent, "progress"))
    assert env.sim.tools_posts(agent, since) == [] and env.sim.posts(agent, since) == []
    polls = env.sim.tools_polls(agent, since)
    assert polls and all(e["query"] == f"progress_id={tpid}" for e in polls), polls
    d.stop()


# ---------------------------------------------------------------- idle, modes, listing

def test_idle_files_modes_and_listing(env):
    agent = 101
    a = env.agent(agent)
    since = env.sim.last_seq()
    assert read_file(os.path.join(a, "tools-progress")) == "idle\n"
    assert os.stat(os.path.join(a, "tools-progress")).st_size == len("idle\n")
    assert read_file(os.path.join(a, "tools-progress.json")) == ""
    assert os.stat(os.path.join(a, "tools-progress.json")).st_size == 0
    code, out, err, secs = run(f"cat {a}/tools-wait")
    assert (code, out) == (0, "idle\n"), (code, out, err)
    assert secs < 2 * harness.SLOW, secs
    modes = {"tools-refetch": 0o200, "tools-progress": 0o444, "tools-progress.json": 0o444,
             "tools-wait": 0o444}
    for name, mode in modes.items():
        st = os.stat(os.path.join(a, name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == mode, \
            (name, oct(st.st_mode))
    st = os.stat(os.path.join(a, "history"))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, oct(st.st_mode)
    names = os.listdir(a)
    assert set(TOOLS_FILES) | {"history"} <= set(names), names
    assert os_errno(os.unlink, os.path.join(a, "tools-progress")) == errno.EPERM
    for name in ("tools-progress", "tools-progress.json", "tools-wait"):
        got = os_errno(os.open, os.path.join(a, name), os.O_WRONLY)
        assert got == errno.EACCES, f"{name}: {errname(got)}"
    assert os_errno(os.open, os.path.join(a, "tools-refetch"), os.O_RDONLY) == errno.EACCES
    assert env.sim.tools_requests(agent, since=since) == []
    assert read_file(os.path.join(a, "error")) == ""
