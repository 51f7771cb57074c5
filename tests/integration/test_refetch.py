"""refetch: what starts an auto-fetch (exactly one POST), what sends nothing,
and how a refusal reaches the caller (errno, message, the `error` file)."""

import errno
import os
import re

from harness import errname, os_errno, read_file, run, wait_status, wait_until, write_file

ENV = {"agents": 120}

PROGRESS_RE = re.compile(
    r"(?P<status>[a-z_]+)\n"
    r"progress_id: (?P<pid>[0-9a-f-]{36})\n"
    r"current_stage:(?: (?P<stage>[a-z_]+))?\n"
    r"stages: (?P<done>\d)/6\n"
    r"(?:error: .*\n)?"
    r"(?P<stages>(?:stage [a-z_]+ [a-z_]+\n){6})$")
STAGES = ["system_prompt", "call_settings", "phone_number", "tools", "dynamic_variables",
          "knowledge_base"]


def assert_one_post(sim, agent, since=0):
    posts = sim.posts(agent, since)
    assert len(posts) == 1 and posts[0]["status"] == 202, posts
    return posts[0]


def assert_no_post(sim, agent, since=0):
    posts = sim.posts(agent, since)
    assert posts == [], posts


def test_echo_printf_and_append_each_start_one_autofetch(env):
    for agent, cmd in ((11, "echo 1 > {}"), (12, "printf 1 > {}"), (21, "echo 1 >> {}"),
                       (22, "printf ' 1 \\n' > {}")):
        code, out, err, _ = run(cmd.format(env.agent(agent, "refetch")))
        assert (code, out, err) == (0, "", ""), (cmd, code, err)
        assert_one_post(env.sim, agent)
        assert read_file(env.agent(agent, "error")) == ""


def test_write_returns_the_byte_count(env):
    fd = os.open(env.agent(81, "refetch"), os.O_WRONLY)
    try:
        assert os.write(fd, b"1\n") == 2
    finally:
        os.close(fd)
    assert_one_post(env.sim, 81)


def test_truncate_touch_and_empty_write_send_nothing(env):
    a = env.agent(82)
    for cmd in (f": > {a}/refetch", f"touch {a}/refetch", f"printf '' > {a}/refetch",
                f"touch -d 2020-01-01 {a}/refetch", f"truncate -s 0 {a}/refetch"):
        code, out, err, _ = run(cmd)
        assert (code, err) == (0, ""), (cmd, code, err)
    # An open for writing and a close alone (no write) send nothing either.
    os.close(os.open(os.path.join(a, "refetch"), os.O_WRONLY))
    assert_no_post(env.sim, 82)
    assert env.sim.polls(82) == []
    assert read_file(os.path.join(a, "error")) == ""
    assert read_file(os.path.join(a, "progress")) == "idle\n"


def test_bad_input_is_einval_and_sends_nothing(env):
    a = env.agent(31)
    code, out, err, _ = run(f"echo 2 > {a}/refetch")
    assert code != 0 and "Invalid argument" in err, (code, err)
    code, _, err, _ = run(f"echo 2 > {a}/refetch", executable="/bin/sh")
    assert code != 0, err  # dash says only "I/O error", but fails too
    code, _, err, _ = run(f"/bin/echo 2 > {a}/refetch")
    assert code != 0 and "Invalid argument" in err, (code, err)
    error = read_file(os.path.join(a, "error"))
    assert error.startswith("refetch: ") and "invalid input" in error and "1" in error, error
    assert error.endswith("\n") and error.count("\n") == 1, repr(error)
    for data in ("2", "11", "yes", "1 1", "0x1", "\n", " ", "1\x00", "+1"):
        got = write_file(os.path.join(a, "refetch"), data)
        assert got == errno.EINVAL, f"{data!r}: {errname(got)}"

    # "1" but not at offset 0.
    def pwrite_at_5():
        fd = os.open(os.path.join(a, "refetch"), os.O_WRONLY)
        try:
            os.pwrite(fd, b"1", 5)
        finally:
            os.close(fd)
    assert os_errno(pwrite_at_5) == errno.EINVAL
    assert_no_post(env.sim, 31)
    assert read_file(os.path.join(a, "progress")) == "idle\n"

    # The next successful refetch clears the error.
    code, _, err, _ = run(f"echo 1 > {a}/refetch")
    assert code == 0, err
    assert_one_post(env.sim, 31)
    assert read_file(os.path.join(a, "error")) == ""


def test_progress_id_is_stored_shown_and_saved(env):
    a = env.agent(41)
    code, _, err, _ = run(f"echo 1 > {a}/refetch")
    assert code == 0, err
    assert_one_post(env.sim, 41)
    pids = env.sim.imports()["41"]
    assert len(pids) == 1
    pid = pids[0]
    # The state file holds the id before the write returned.
    path = os.path.join(env.daemon.state_dir, "progress-ids")
    assert os.stat(path).st_mode & 0o777 == 0o600, oct(os.stat(path).st_mode)
    lines = [ln for ln in read_file(path).splitlines() if ln and not ln.startswith("#")]
    assert f"41 {pid}" in lines, lines

    code, text, err, _ = run(f"cat {a}/progress")
    assert code == 0, err
    m = PROGRESS_RE.match(text)
    assert m, text
    assert m["pid"] == pid and m["status"] in ("in_progress", "completed"), text
    polls = env.sim.polls(41)
    assert polls and all(e["query"] == f"progress_id={pid}" for e in polls), polls
    code, first, _, _ = run(f"head -1 {a}/progress")
    assert code == 0 and first.strip() in ("in_progress", "completed"), first

    text = wait_status(env, 41)
    m = PROGRESS_RE.match(text)
    assert m, text
    assert (m["status"], m["pid"], m["stage"], m["done"]) == ("completed", pid, None, "6"), text
    assert m["stages"] == "".join(f"stage {s} completed\n" for s in STAGES), text
    assert "error:" not in text
    assert_one_post(env.sim, 41)


def test_refused_agent_is_eremoteio_with_the_detail(env):
    for agent, detail in ((13, "Agent has no provider configured"),
                          (14, "Auto-fetch is not supported for provider 'custom'")):
        a = env.agent(agent)
        code, _, err, _ = run(f"echo 1 > {a}/refetch")
        assert code != 0 and "Remote I/O error" in err, (code, err)
        assert read_file(os.path.join(a, "error")) == f"refetch: HTTP 400: {detail}\n"
        got = write_file(os.path.join(a, "refetch"), "1")
        assert got == errno.EREMOTEIO, errname(got)
        assert [e["status"] for e in env.sim.posts(agent)] == [400, 400]
        # Nothing was started: still idle.
        assert read_file(os.path.join(a, "progress")) == "idle\n"
        code, out, err, _ = run(f"echo 1 > {a}/refetch || cat {a}/error")
        assert out == f"refetch: HTTP 400: {detail}\n", (out, err)


def test_second_refetch_while_running_is_ebusy(env):
    a = env.agent(51)
    with env.sim.stages(30):
        code, _, err, _ = run(f"echo 1 > {a}/refetch")
        assert code == 0, err
    since = env.sim.last_seq()
    code, _, err, _ = run(f"echo 1 > {a}/refetch")
    assert code != 0 and "Device or resource busy" in err, (code, err)
    got = write_file(os.path.join(a, "refetch"), "1")
    assert got == errno.EBUSY, errname(got)
    assert_one_post(env.sim, 51)
    # The check was a fresh poll, not the POST.
    assert env.sim.polls(51, since), env.sim.requests(agent=51, since=since)
    error = read_file(os.path.join(a, "error"))
    assert error.startswith("refetch: ") and "already running" in error, error
    assert read_file(os.path.join(a, "progress")).startswith("in_progress\n")


def test_refetch_after_completion_starts_a_new_import(env):
    a = env.agent(61)
    assert run(f"echo 1 > {a}/refetch")[0] == 0
    first = wait_status(env, 61, ("completed",))
    assert run(f"echo 1 > {a}/refetch")[0] == 0
    assert len(env.sim.posts(61)) == 2
    pids = env.sim.imports()["61"]
    assert len(pids) == 2 and pids[0] in first
    assert f"progress_id: {pids[1]}\n" in read_file(os.path.join(a, "progress"))


def test_expired_progress_id_lets_the_post_go_ahead(env):
    a = env.agent(62)
    assert run(f"echo 1 > {a}/refetch")[0] == 0
    pid = env.sim.imports()["62"][0]
    # Let the import finish at the API without reading it through the mount.
    wait_until(lambda: env.sim.api_get(
        f"/test_framework/v2/aiagents/62/auto-fetch-progress/?progress_id={pid}")["status"]
        == "completed", timeout=10, what="the import of agent 62 to complete")
    env.sim.add_fault(match="/62/auto-fetch-progress/", kind="status", status=400,
                      detail="Invalid or expired progress_id", count=1)
    try:
        code, _, err, _ = run(f"echo 1 > {a}/refetch")
    finally:
        env.sim.clear_faults()
    assert code == 0, err
    assert [e["status"] for e in env.sim.posts(62)] == [202, 202]


def test_api_401_during_operation_is_eacces(env):
    a = env.agent(71)
    env.sim.add_fault(match="/71/auto-fetch/", kind="status", status=401,
                      detail="Invalid API key.")
    try:
        code, _, err, _ = run(f"echo 1 > {a}/refetch")
        assert code != 0 and "Permission denied" in err, (code, err)
        got = write_file(os.path.join(a, "refetch"), "1")
        assert got == errno.EACCES, errname(got)
    finally:
        env.sim.clear_faults()
    assert read_file(os.path.join(a, "error")) == "refetch: HTTP 401: Invalid API key.\n"
    # A POST is not retried on an HTTP answer.
    assert [e["status"] for e in env.sim.posts(71)] == [401, 401]
    assert read_file(os.path.join(a, "progress")) == "idle\n"
