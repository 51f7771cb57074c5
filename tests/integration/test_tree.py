"""The tree: listing over pages, cold lookups, ENOENT for what does not exist,
EPERM (never ENOSYS) for anything that would change the tree."""

import errno
import os
import stat

from harness import API, errname, os_errno, run

ENV = {"agents": 120}

AGENT_FILES = {"refetch": 0o200, "progress": 0o444, "progress.json": 0o444, "wait": 0o444,
               "error": 0o444, "agent.json": 0o444, "name": 0o444, "system_prompt": 0o444,
               "language": 0o444, "provider": 0o444, "provider_agent_id": 0o444,
               "phone_number": 0o444, "updated_at": 0o444, "dynamic_variables": 0o444,
               "events": 0o444, "tools-refetch": 0o200, "tools-progress": 0o444,
               "tools-progress.json": 0o444, "tools-wait": 0o444, "evaluators": 0o444,
               "run": 0o600}
AGENT_DIRS = {"tools", "knowledge_base", "history", "results"}


def list_gets(sim, since):
    """The listing requests the daemon made (the start-up key check asks page_size=1)."""
    return [e for e in sim.requests(kind="list", since=since) if "page_size=1" != e["query"]]


def test_ls_lists_every_agent_over_all_pages(env):
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    code, out, err, _ = run(f"ls {d.mnt}/agents")
    assert code == 0, err
    names = out.split()
    assert sorted(names, key=int) == [str(i) for i in range(1, 121)], names
    gets = list_gets(env.sim, since)
    # 120 agents, the simulator's pages hold 50: three GETs, the 2nd and 3rd being `next`.
    assert [e["query"] for e in gets] == ["page_size=1000", "page=2&page_size=1000",
                                          "page=3&page_size=1000"], gets
    assert all(e["status"] == 200 for e in gets), gets

    # Within list_ttl the listing is reused: no new request at all.
    since = env.sim.last_seq()
    code, out2, err, _ = run(f"ls {d.mnt}/agents; ls -l {d.mnt}/agents >/dev/null")
    assert code == 0, err
    assert out2.split() == names
    assert env.sim.requests(since=since) == [], env.sim.requests(since=since)
    d.stop()


def test_ls_follows_every_next_link_with_small_pages(env):
    env.sim.config(page_cap=7)
    try:
        d = env.new_daemon()
        d.start()
        since = env.sim.last_seq()
        names = os.listdir(d.path("agents"))
    finally:
        env.sim.config(page_cap=50)
    assert sorted(map(int, names)) == list(range(1, 121))
    gets = list_gets(env.sim, since)
    assert len(gets) == 18, [e["query"] for e in gets]  # ceil(120 / 7)
    assert gets[-1]["query"] == "page=18&page_size=1000", gets[-1]
    d.stop()


def test_cold_lookup_needs_no_listing(env):
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    code, out, err, _ = run(f"cd {d.mnt}/agents/77 && pwd && ls")
    assert code == 0, err
    lines = out.split("\n")
    assert lines[0] == f"{d.mnt}/agents/77", out
    assert sorted(lines[1:-1]) == sorted([*AGENT_FILES, *AGENT_DIRS]), out
    code, out, err, _ = run(f"stat -c %F {d.mnt}/agents/78")
    assert (code, out) == (0, "directory\n"), (code, out, err)
    reqs = env.sim.requests(since=since)
    assert not [e for e in reqs if e["path"] in (API, API + "short_list/")], reqs
    for agent in (77, 78):
        gets = [e for e in reqs if e["path"] == f"{API}{agent}/" and e["method"] == "GET"]
        assert len(gets) == 1 and gets[0]["status"] == 200, reqs
    d.stop()


def test_unknown_ids_and_names_are_enoent(env):
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    # Cold: the API is asked and says 404.
    assert os_errno(os.stat, d.path("agents", 99999)) == errno.ENOENT
    assert os_errno(os.stat, d.path("agents", 121)) == errno.ENOENT
    assert [e["status"] for e in env.sim.requests(kind="agent", since=since)] == [404, 404]
    code, _, err, _ = run(f"ls {d.mnt}/agents/99999")
    assert code != 0 and "No such file or directory" in err, (code, err)
    code, _, err, _ = run(f"cd {d.mnt}/agents/99999")
    assert code != 0 and "99999" in err, (code, err)
    # Only the canonical decimal form exists; nothing else does; no request for them.
    since = env.sim.last_seq()
    for name in ("agents/042", "agents/0", "agents/+42", "agents/42x", "agents/abc",
                 "agents/ 42", "agents/42/nosuch", "agents/42/Progress", "agents/42/progress.txt",
                 "nosuch", ".cekurafs/x", "agents/99999999999999999999999"):
        got = os_errno(os.stat, d.path(name))
        assert got == errno.ENOENT, f"{name}: {errname(got)}"
    assert [e for e in env.sim.requests(since=since) if e["path"] != f"{API}42/"] == []
    # Warm (after a listing): an id the listing lacks is ENOENT without asking.
    os.listdir(d.path("agents"))
    since = env.sim.last_seq()
    assert os_errno(os.stat, d.path("agents", 121)) == errno.ENOENT
    assert os_errno(os.stat, d.path("agents", 99999, "progress")) == errno.ENOENT
    assert env.sim.requests(since=since) == []
    d.stop()


def test_modes_and_directory_entries(env):
    st = os.stat(env.mnt)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555
    assert sorted(os.listdir(env.mnt)) == [".cekurafs", "agents"]
    st = os.stat(env.daemon.path("agents"))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555
    st = os.stat(env.agent(42))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555
    assert sorted(os.listdir(env.agent(42))) == sorted([*AGENT_FILES, *AGENT_DIRS])
    for name, mode in AGENT_FILES.items():
        st = os.stat(env.agent(42, name))
        assert stat.S_ISREG(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, f"{name}: {oct(st.st_mode)}"
    for name in AGENT_DIRS:
        st = os.stat(env.agent(42, name))
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, name
    code, out, err, _ = run(f"ls -l {env.agent(42)}")
    assert code == 0, err
    assert "--w-------" in out and "-r--r--r--" in out, out


def test_changing_the_tree_is_eperm_never_enosys(env):
    a = env.agent(43)
    agents = env.daemon.path("agents")
    os.stat(a)
    calls = {
        "mkdir agents/new": lambda: os.mkdir(os.path.join(agents, "new")),
        "mkdir agents/44444": lambda: os.mkdir(os.path.join(agents, "44444")),
        "mkdir agents/43/dir": lambda: os.mkdir(os.path.join(a, "dir")),
        "mkdir /new": lambda: os.mkdir(env.daemon.path("new")),
        "rmdir agents/43": lambda: os.rmdir(a),
        "unlink progress": lambda: os.unlink(os.path.join(a, "progress")),
        "unlink refetch": lambda: os.unlink(os.path.join(a, "refetch")),
        "rename progress": lambda: os.rename(os.path.join(a, "progress"), os.path.join(a, "p2")),
        "rename over error": lambda: os.rename(os.path.join(a, "progress"),
                                               os.path.join(a, "error")),
        "rename agent": lambda: os.rename(a, os.path.join(agents, "4343")),
        "link": lambda: os.link(os.path.join(a, "progress"), os.path.join(a, "hard")),
        "symlink": lambda: os.symlink("progress", os.path.join(a, "sym")),
        "mkfifo": lambda: os.mkfifo(os.path.join(a, "fifo")),
        "chmod file": lambda: os.chmod(os.path.join(a, "progress"), 0o666),
        "chmod refetch": lambda: os.chmod(os.path.join(a, "refetch"), 0o600),
        "chmod dir": lambda: os.chmod(a, 0o777),
        "chown file": lambda: os.chown(os.path.join(a, "progress"), 1, 1),
        "chown dir": lambda: os.chown(a, 1, 1),
        "create new file": lambda: os.close(os.open(os.path.join(a, "new"),
                                                    os.O_WRONLY | os.O_CREAT, 0o644)),
        "create new agent file": lambda: os.close(os.open(os.path.join(agents, "new"),
                                                          os.O_WRONLY | os.O_CREAT, 0o644)),
        "setxattr": lambda: os.setxattr(os.path.join(a, "progress"), "user.x", b"1"),
    }
    wrong = {}
    for what, fn in calls.items():
        got = os_errno(fn)
        if got != errno.EPERM:
            wrong[what] = errname(got)
    assert not wrong, f"expected EPERM: {wrong}"
    # The same through the tools: a non-zero exit and "Operation not permitted".
    for cmd in (f"mkdir {agents}/new", f"rm -f {a}/progress", f"rmdir {a}",
                f"mv {a}/progress {a}/p2", f"ln {a}/progress {a}/hard", f"ln -s x {a}/sym",
                f"chmod 666 {a}/progress", f"touch {a}/newfile", f"echo x > {a}/newfile"):
        code, _, err, _ = run(cmd)
        assert code != 0 and "Operation not permitted" in err, (cmd, code, err)
    # Nothing changed.
    assert sorted(os.listdir(a)) == sorted([*AGENT_FILES, *AGENT_DIRS])


def test_read_only_files_refuse_writes(env):
    a = env.agent(44)
    for name in ("progress", "progress.json", "wait", "error"):
        got = os_errno(os.open, os.path.join(a, name), os.O_WRONLY)
        assert got == errno.EACCES, f"{name}: {errname(got)}"
    # refetch is write-only.
    assert os_errno(os.open, os.path.join(a, "refetch"), os.O_RDONLY) == errno.EACCES
    # Directories are not files.
    assert os_errno(os.open, a, os.O_WRONLY) == errno.EISDIR
