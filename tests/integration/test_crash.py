"""What survives a crash (README, "What survives a crash" and "State"): kill -9
right after a refetch, kill -9 while a refetch is blocked, a state file with
garbage lines, a temporary file left behind, and a state file that cannot be
read at all. Each test runs its own daemons on the module's simulator and
remounts with the same state_dir after clearing the dead mount
(fusermount3 -uz), as the README tells an operator to: the dead daemon's lock
on the state_dir went with it."""

import errno
import os
import re
import stat
import subprocess
import time

from harness import is_mounted, one_line, os_errno, read_file, refetch, run, sleep_until, wait_until

ENV = {"agents": 120}
LONG = 600  # stage seconds: these imports stay running
STATE = "progress-ids"
TEMP = ".progress-ids.k3Xq9Z"  # like the names state_save() writes before its rename
LOCK = "lock"  # held by the daemon running on the state_dir
LINE = re.compile(r"^(\d+) ([A-Za-z0-9._~-]{1,128})$")


def state_path(d, name=STATE):
    return os.path.join(d.state_dir, name)


def state_entries(d):
    """{agent: progress id} of the state file; fails unless every line parses
    and the file is private."""
    path = state_path(d)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)
    entries = {}
    for ln in read_file(path).splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = LINE.match(ln)
        assert m, f"unparsable line {ln!r} in {path}"
        assert int(m[1]) not in entries, f"agent {m[1]} twice in {path}"
        entries[int(m[1])] = m[2]
    return entries


def start_running_import(env, d, agent):
    """A refetch through d of an import that stays running; returns its progress id."""
    with env.sim.stages(LONG):
        return refetch(d, agent)


def progress_id_shown(d, agent):
    text = read_file(d.agent(agent, "progress"))
    lines = text.split("\n")
    assert lines[0] == "in_progress", text
    return lines[1].removeprefix("progress_id: ")


def crash_and_clear(d):
    """kill -9, then clear_dead()."""
    d.crash()
    clear_dead(d)


def clear_dead(d):
    """Checks the mount of a killed daemon is dead as the README says, and clears it."""
    assert os_errno(os.stat, d.path("agents")) == errno.ENOTCONN
    code, _, err, _ = run(f"ls {d.path('agents')}")
    assert code != 0 and "Transport endpoint is not connected" in err, (code, err)
    d.clear_dead_mount()
    assert not is_mounted(d.mnt)


def test_kill_9_right_after_a_refetch_keeps_its_progress_id(env):
    """The id is on disk before the write returns: a daemon killed the moment
    it returned comes back showing the same import, and sends no new POST."""
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    with env.sim.stages(LONG):
        fd = os.open(d.agent(31, "refetch"), os.O_WRONLY)
        try:
            assert os.write(fd, b"1\n") == 2
            d.crash()  # the moment the write returned, before even the close
        finally:
            os_errno(os.close, fd)  # on a dead mount: ECONNABORTED, or nothing
    pid = env.sim.imports()["31"][-1]
    assert state_entries(d) == {31: pid}
    clear_dead(d)
    d.start()  # same state_dir
    assert "(1 progress ids)" in d.stderr(), d.stderr()
    assert progress_id_shown(d, 31) == pid
    assert [e["status"] for e in env.sim.posts(31, since)] == [202]
    # It is the same import that goes on: the polls ask for that id.
    polls = env.sim.polls(31, since)
    assert polls and all(e["query"] == f"progress_id={pid}" for e in polls), polls
    d.stop()


def test_kill_9_during_a_blocked_refetch_leaves_the_state_file_intact(env):
    """A refetch blocked in its POST when the daemon dies: the writer gets an
    error, the state file is the old one (parses, 0600, no temporary file), and
    the new daemon starts, even over a temporary file a crash left behind."""
    d = env.new_daemon()
    d.start()
    pid = start_running_import(env, d, 32)
    before = state_entries(d)
    assert before == {32: pid}
    stall = 2  # shorter than the daemon's budget (5 s): only a hang-up keeps it unanswered
    env.sim.add_fault(match="/36/auto-fetch/", method="POST", kind="stall", seconds=stall)
    since = env.sim.last_seq()
    writer = subprocess.Popen(["/bin/bash", "-c", f"echo 1 > {d.agent(36, 'refetch')}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        wait_until(lambda: env.sim.posts(36, since), timeout=5, what="the POST to be stalled")
        assert writer.poll() is None, "the refetch did not block"
        d.crash()
        _, err = writer.communicate(timeout=5)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.communicate()
        env.sim.clear_faults()
    assert writer.returncode != 0, err
    assert "Transport endpoint is not connected" in err.decode() or \
        "Software caused connection abort" in err.decode(), err
    # Past the end of the stall, the POST is still unanswered and made no
    # import: the dead daemon's connection was closed, so the API dropped it.
    t_end = env.sim.posts(36, since)[0]["time"] + stall + 0.5
    sleep_until(t_end, clock=time.time, what="the stall to end")
    posts = env.sim.posts(36, since)
    assert len(posts) == 1 and posts[0]["status"] is None, posts
    assert "36" not in env.sim.imports(), env.sim.imports()
    assert state_entries(d) == before
    assert sorted(os.listdir(d.state_dir)) == [LOCK, STATE], os.listdir(d.state_dir)

    # A crash in the middle of a save leaves its temporary file (never the
    # state file) half written: the next daemon, once it holds the lock,
    # removes it.
    with open(state_path(d, TEMP), "w") as f:
        f.write("# cekurafs progress ids\n99 half-writ")
    clear_dead(d)
    d.start()
    assert "(1 progress ids)" in d.stderr(), d.stderr()
    assert "corrupt" not in d.stderr(), d.stderr()
    assert sorted(os.listdir(d.state_dir)) == [LOCK, STATE], os.listdir(d.state_dir)
    assert progress_id_shown(d, 32) == pid
    assert read_file(d.agent(36, "progress")) == "idle\n"
    assert read_file(d.agent(99, "progress")) == "idle\n"
    # The next save replaces the state file whole.
    pid36 = start_running_import(env, d, 36)
    assert state_entries(d) == {32: pid, 36: pid36}
    assert sorted(os.listdir(d.state_dir)) == [LOCK, STATE], os.listdir(d.state_dir)
    d.stop()


GARBAGE = [
    "garbage",
    "12x 4b1d-not-an-agent",
    "040 leading-zero-is-not-canonical",
    "-7 negative",
    "8",
    "9 ",
    "10 two words",
    "11 bad/char",
    "12 " + "x" * 129,
    "\x00\x01\x02 binary",
    "18446744073709551616 too-large-for-u64",
]


def test_corrupt_state_file_is_moved_aside_and_its_good_lines_kept(env):
    """Garbage lines mixed with good ones: the daemon starts, logs one warning
    naming the file it moved aside, keeps the good lines (their agents' progress
    shows their ids, even after another kill -9 before any refetch), and the
    state file then holds only good lines."""
    d = env.new_daemon()
    d.start()
    good = {a: start_running_import(env, d, a) for a in (41, 42, 46)}
    d.stop()
    lines = ["# cekurafs progress ids: <agent id> <progress id>"]
    for i, (agent, pid) in enumerate(good.items()):
        lines.append(f"{agent} {pid}")
        lines += GARBAGE[i::3]
    corrupt = ("\n".join(lines) + "\n").encode()
    with open(state_path(d), "wb") as f:
        f.write(corrupt)

    d.start()
    warn = [ln for ln in d.stderr().splitlines() if "unreadable lines" in ln]
    assert len(warn) == 1, d.stderr()
    m = re.search(r"moved to (\S+progress-ids\.corrupt-(\d+)-[A-Za-z0-9]{6});", warn[0])
    assert m and warn[0].startswith("cekurafs: warn: "), warn
    moved = m[1]
    assert os.path.dirname(moved) == d.state_dir and int(m[2]) > 1_000_000_000, moved
    assert "kept 3 progress ids" in warn[0], warn
    with open(moved, "rb") as f:
        assert f.read() == corrupt  # moved, not rewritten: nothing is silently dropped
    for agent, pid in good.items():
        assert progress_id_shown(d, agent) == pid

    # The good lines survive a crash that comes before any refetch.
    crash_and_clear(d)
    d.start()
    assert "unreadable" not in d.stderr(), d.stderr()
    for agent, pid in good.items():
        assert progress_id_shown(d, agent) == pid
    assert state_entries(d) == good

    # After the next refetch the state file holds the good lines and the new one.
    good[48] = start_running_import(env, d, 48)
    assert state_entries(d) == good
    assert sorted(os.listdir(d.state_dir)) == sorted([LOCK, STATE, os.path.basename(moved)])
    d.stop()


def test_state_file_that_cannot_be_read_refuses_the_start(env):
    """progress-ids is a directory: the daemon cannot know which imports it
    handed out, and could never save one. It refuses to start with one line on
    stderr naming the file and the reason, exit status 1, nothing mounted, and
    leaves the directory alone."""
    d = env.new_daemon()
    os.makedirs(state_path(d), mode=0o700)
    with open(os.path.join(state_path(d), "keep"), "w") as f:
        f.write("not ours\n")
    code, err = d.start_refused()  # nothing mounted, no sanitizer report
    assert code == 1, (code, err)
    assert one_line(err) == f"cekurafs: state file {state_path(d)}: Is a directory\n", err
    assert os.listdir(state_path(d)) == ["keep"]
