"""A mount shared by many readers and users: blocked readers never freeze it,
allow_other lets nobody else act with the key, a huge answer never stalls it,
and poll(2) wakes every watched agent however many there are."""

import os
import select
import signal
import subprocess
import time

from harness import daemon_stats as stats
from harness import read_file, refetch, run, wait_until

ENV = {"agents": 600}
AGENTS = "600"  # what `ls agents | wc -l` counts


def runnable(ids):
    """The ids whose refetch the simulator accepts (it refuses ids ending in 3 or 4)."""
    return [a for a in ids if a % 10 not in (3, 4)]

NOBODY = 65534


def blocked_readers(d, agents, per_agent):
    """Starts per_agent `cat wait` readers on each agent; returns the processes
    once the daemon counts them all blocked."""
    procs = []
    for a in agents:
        for _ in range(per_agent):
            procs.append(subprocess.Popen(["cat", d.agent(a, "wait")], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, start_new_session=True))
    want = len(procs)

    def all_blocked():
        counted = stats(d).get("readers_blocked")
        if counted is not None:
            return counted >= want
        # A daemon without the gauge: every reader is at least waiting in the kernel.
        return all(wchan(p.pid) == "request_wait_answer" for p in procs)
    wait_until(all_blocked, timeout=20, what=f"{want} readers blocked in wait")
    return procs


def wchan(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except OSError:
        return ""


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.communicate(timeout=10)


def test_seventy_blocked_readers_leave_the_mount_serving(env):
    env.sim.config(stage_seconds=60)
    procs = []
    try:
        agents = runnable(range(500, 513))
        for a in agents:
            refetch(env.daemon, a)
        procs = blocked_readers(env.daemon, agents, 7)
        # Others are served at once, however many readers block.
        code, out, err, secs = run(f"ls {env.mnt}/agents | wc -l")
        assert code == 0 and out.strip() == AGENTS and secs < 2, (code, out, err, secs)
        code, out, _, secs = run(f"cat {env.mnt}/.cekurafs/version")
        assert code == 0 and out.startswith("cekurafs ") and secs < 2, (code, out, secs)
        code, out, _, secs = run(f"head -1 {env.agent(500, 'progress')}")
        assert (code, out) == (0, "in_progress\n") and secs < 2, (code, out, secs)
        # The blocked readers' own interrupts are taken at once: Ctrl-C, then SIGKILL.
        t0 = time.monotonic()
        procs[0].send_signal(signal.SIGINT)
        procs[0].wait(timeout=2)
        procs[1].kill()
        procs[1].wait(timeout=2)
        assert time.monotonic() - t0 < 3
        assert all(p.poll() is None for p in procs[2:])
    finally:
        env.sim.config(stage_seconds=0.3)
        kill_all(procs)
    wait_until(lambda: stats(env.daemon)["readers_blocked"] == 0, timeout=5,
               what="no reader blocked any more")


def test_readers_past_the_cap_get_eagain_at_once(env):
    # 16 workers: 8 are kept for everyone else, so 8 readers may block.
    d = env.new_daemon(opts={"max_threads": "16"})
    d.start()
    env.sim.config(stage_seconds=60)
    procs = []
    try:
        refetch(d, 520)
        procs = blocked_readers(d, [520], 8)
        code, out, err, secs = run(f"cat {d.agent(520, 'wait')}")
        assert code != 0 and "Resource temporarily unavailable" in err and secs < 2, (code, err, secs)
        assert read_file(d.agent(520, "error")).startswith(
            "wait: 8 readers are blocked in wait or events already"), read_file(d.agent(520, "error"))
        code, out, _, secs = run(f"ls {d.mnt}/agents | wc -l")
        assert code == 0 and out.strip() == AGENTS and secs < 2, (code, out, secs)
        # One gives up: its place is free again.
        procs[0].kill()
        procs[0].wait(timeout=2)
        wait_until(lambda: stats(d)["readers_blocked"] == 7, timeout=5, what="7 readers blocked")
        more = blocked_readers(d, [520], 1)
        procs += more
    finally:
        env.sim.config(stage_seconds=0.3)
        kill_all(procs)
    d.stop()


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def run_as_nobody(cmd):
    p = subprocess.run(["/bin/sh", "-c", cmd], preexec_fn=as_nobody, capture_output=True, text=True,
                       timeout=20)
    return p.returncode, p.stdout, p.stderr


def test_allow_other_lets_nobody_else_act_with_the_key(env):
    d = env.new_daemon(opts={"allow_other": None})
    os.chmod(d.dir, 0o755)  # let nobody walk to the mount point
    d.start()
    mounts = [line.split() for line in open("/proc/mounts") if line.split()[1] == d.mnt]
    assert mounts and "default_permissions" in mounts[0][3].split(","), mounts
    since = env.sim.last_seq()
    # Another user reads what is public...
    code, out, err = run_as_nobody(f"ls {d.mnt}/agents | wc -l; head -1 {d.agent(540, 'progress')}")
    assert (code, out) == (0, AGENTS + "\nidle\n"), (code, out, err)
    code, out, err = run_as_nobody(f"cat {d.mnt}/.cekurafs/version")
    assert code == 0 and out.startswith("cekurafs "), (code, out, err)
    # ...but cannot refetch with the key, nor read where the key file is.
    code, out, err = run_as_nobody(f"echo 1 > {d.agent(540, 'refetch')}")
    assert code != 0 and "Permission denied" in err, (code, out, err)
    code, out, err = run_as_nobody(f"cat {d.mnt}/.cekurafs/config")
    assert code != 0 and "Permission denied" in err, (code, out, err)
    assert env.sim.posts(540, since) == []
    assert oct(os.stat(d.path(".cekurafs", "config")).st_mode & 0o777) == "0o400"
    assert oct(os.stat(d.agent(540, "refetch")).st_mode & 0o777) == "0o200"
    # The owner still can.
    refetch(d, 540)
    assert len(env.sim.posts(540, since)) == 1
    assert "api_key_file" in read_file(d.path(".cekurafs", "config"))
    d.stop()


def test_a_progress_answer_with_100000_stages_stalls_nothing(env):
    refetch(env.daemon, 550)
    stages = ",".join('{"name":"s%d","status":"pending"}' % i for i in range(100000))
    body = '{"status":"in_progress","current_stage":"s0","stages":[%s],"error":null}' % stages
    env.sim.add_fault(match="/550/auto-fetch-progress/", kind="body", body=body, count=-1)
    # Readers of the agent keep it polled (each poll brings the whole answer)...
    readers = subprocess.Popen(
        f"for i in $(seq 20); do cat {env.agent(550, 'progress')} >/dev/null; sleep 0.1; done",
        shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # ...while the rest of the mount answers at once.
        for _ in range(5):
            code, out, _, secs = run(f"ls {env.mnt}/agents | wc -l")
            assert code == 0 and out.strip() == AGENTS and secs < 2, (code, out, secs)
            code, _, _, secs = run(f"cat {env.agent(551, 'progress')}")
            assert code == 0 and secs < 2, (code, secs)
        code, out, err, secs = run(f"cat {env.agent(550, 'progress')}")
        assert code != 0 and "Protocol error" in err, (code, out[:200], err)
        assert read_file(env.agent(550, "error")) == \
            "progress: malformed response: more than 1000 stages\n"
    finally:
        if readers.poll() is None:
            os.killpg(readers.pid, signal.SIGKILL)
        readers.communicate()
        env.sim.clear_faults()


def test_three_hundred_watched_agents_all_wake(env):
    agents = runnable(range(1, 381))
    assert len(agents) > 300
    env.sim.config(stage_seconds=3.0)
    fds = {}
    try:
        for a in agents:
            refetch(env.daemon, a)
        for a in agents:
            fd = os.open(env.agent(a, "progress"), os.O_RDONLY)
            fds[fd] = a
            first = os.pread(fd, 65536, 0).decode()
            assert first.split("\n")[0] in ("queued", "in_progress"), first
    finally:
        env.sim.config(stage_seconds=0.3)
    try:
        p = select.poll()
        for fd in fds:
            p.register(fd, select.POLLIN)
        woken = set()
        deadline = time.monotonic() + 30
        while len(woken) < len(fds) and time.monotonic() < deadline:
            for fd, ev in p.poll(1000):
                woken.add(fds[fd])
                p.unregister(fd)
        missing = sorted(set(fds.values()) - woken)
        assert not missing, f"{len(missing)} of {len(fds)} watched agents never woke: {missing[:10]}"
    finally:
        for fd in fds:
            os.close(fd)
