"""The fault matrix: every way the API can fail (README, "Errors a caller sees"
and "When things go wrong"), crossed with the four operations that call it.

For each fault and each of `ls agents` (a listing, list_ttl expired),
`echo 1 > refetch` and `cat progress` (a running import), one cell checks that:
  - the caller gets the errno of the README's table;
  - the agent's `error` file has `<operation>: <what went wrong>` and the log the
    same line (the listing, which concerns no agent, has only the log line);
  - it ends within the daemon's budget (timeout=3) plus 2 s;
  - the requests the simulator saw follow the contract: a GET is retried (at
    most 1 + 3 tries, the budget and Retry-After permitting), the POST of a
    refetch is never retried once its connection opened (exactly one POST),
    except after a 429, a refusal that processed nothing (tried as a GET is);
  - a refetch whose answer was lost after it was sent (reset, stall) says in
    `error` that the API may have started an import;
  - the daemon is alive and serving once the fault is cleared: the same
    operation succeeds.
`cat wait` is different: a fault that may pass never ends a wait (README,
"`wait`"). Its cell starts the wait, checks that the fault is met (the error
line and the log say so) while the wait goes on, clears the fault, and checks
that the wait then returns the final text with exit status 0 and that the
successful poll cleared the error line.
A failure names the fault (the test's name) and the operation (its message).

Then: offline fast-fail (refused and blackholed connects: one log line per
outage, each later call fails within ~1.5 s) and Ctrl-C on a `cat progress`
whose poll is stalled (returns at once, the request is abandoned).
"""

import errno
import os
import signal
import subprocess
import time

from harness import (errname, finish, os_errno, read_file, run, sleep_until, start_reader, wait_until,
                     write_file)

TIMEOUT = 3  # the daemon's budget per API call, in seconds
LIST_TTL = 0.5
SLACK = 2  # "completes within the budget plus 2 s"
ENV = {"agents": 120, "opts": {"timeout": str(TIMEOUT), "connect_timeout": "1",
                               "list_ttl": str(LIST_TTL), "poll_interval": "0.2"}}
LONG = 600  # stage seconds of an import that stays running for the whole module
AGENTS = 120

# Agents whose imports are plain: not refused (x3, x4), not failing (x5), not queued (x7).
USABLE = [a for a in range(1, AGENTS + 1) if a % 10 in (0, 1, 2, 6, 8, 9)]


def agents_for(row):
    """Three agents of their own for each row of the matrix and each later test
    (the module's tests share one simulator)."""
    agents = USABLE[3 * row:3 * row + 3]
    assert len(agents) == 3, f"no agents left for row {row}"
    return agents


# ---------------------------------------------------------------- the faults

class Fault:
    """One row: a simulator fault rule (without match and method), the errno, the
    words after `<operation>: `, how many tries of a GET the sim must see, and
    the words for a refetch when they differ (post_words)."""

    def __init__(self, name, rule, err, words, gets, why="", post_words=None):
        self.name, self.rule, self.err, self.words, self.gets, self.why = \
            name, rule, err, words, gets, why
        self.post_words = post_words or words

    def words_for(self, op):
        return self.post_words if op.method == "POST" else self.words


# A refetch's answer lost once the request was sent: the import may have started.
MAY_HAVE_STARTED = "the API may have started an import; a retry will tell (EBUSY if it did)"


FAULTS = [
    Fault("stall", {"kind": "stall", "seconds": 30}, errno.ETIMEDOUT,
          f"timed out after {TIMEOUT} s", (1, 1),
          "a stalled try takes the whole budget: none is left for a retry",
          post_words=f"timed out after {TIMEOUT} s waiting for the answer: {MAY_HAVE_STARTED}"),
    Fault("reset", {"kind": "reset"}, errno.ECONNRESET, "connection reset by the API", (4, 5),
          "1 + 3 tries; when the first rides a kept-alive connection, libcurl itself sends it "
          "once more on a new one (the stale keep-alive race), which a GET may be",
          post_words=f"connection reset by the API after the request was sent: {MAY_HAVE_STARTED}"),
    Fault("503", {"kind": "status", "status": 503, "detail": "Service unavailable (matrix)"},
          errno.EIO, "HTTP 503: Service unavailable (matrix)", (4, 4)),
    Fault("429_retry_after_1", {"kind": "status", "status": 429, "retry_after": 1,
                                "detail": "Slow down (matrix)"},
          errno.EAGAIN, "HTTP 429: Slow down (matrix)", (2, 3),
          "tries 1 s apart, and a try needs 0.75 s of the budget left: at most 3"),
    Fault("429_retry_after_past_the_budget", {"kind": "status", "status": 429,
                                              "retry_after": 10, "detail": "Come back later"},
          errno.EAGAIN, "HTTP 429: Come back later", (1, 1),
          "waiting 10 s would pass the budget: fail at once"),
    Fault("429", {"kind": "status", "status": 429, "detail": "Slow down (matrix)"},
          errno.EAGAIN, "HTTP 429: Slow down (matrix)", (4, 4)),
    Fault("malformed", {"kind": "malformed"}, errno.EPROTO,
          "malformed response: not JSON (17 bytes)", (1, 1),
          "a complete 200 answer: there is nothing to retry"),
    Fault("truncated", {"kind": "truncated"}, errno.EPROTO,
          "malformed or truncated HTTP response", (4, 4)),
    Fault("oversized", {"kind": "oversized"}, errno.EPROTO, "response larger than 16 MiB",
          (1, 1), "the cap is the answer's size: a retry would be as large"),
]

# ---------------------------------------------------------------- the operations


class Row:
    """What one row of the matrix works on, in one daemon: a refetch agent whose
    last import is over (and known to be, so a refetch sends only its POST), a
    progress agent with a running import, and a wait agent whose import is done
    at the API but was never polled (so `cat wait` needs a poll, and returns at
    once when the poll can be made)."""

    def __init__(self, env, d, row):
        self.env, self.sim, self.d = env, env.sim, d
        self.refetch, self.progress, self.wait = agents_for(row)
        for a in (self.refetch, self.progress, self.wait):
            assert os_errno(os.stat, d.agent(a)) == 0, a
        self.start_import(self.progress, LONG)
        self.start_import(self.wait, 0)
        self.start_import(self.refetch, 0)
        code, text, err, _ = run(f"cat {d.agent(self.refetch, 'wait')}")
        assert code == 0 and text.startswith("completed\n"), (code, text, err)
        # Imports started by the matrix itself (a truncated POST makes one) end at once.
        self.sim.config(stage_seconds=0)

    def start_import(self, agent, stage_seconds):
        self.sim.config(stage_seconds=stage_seconds)
        code, _, err, _ = run(f"echo 1 > {self.d.agent(agent, 'refetch')}")
        assert code == 0, (agent, err)


class Op:
    """An operation of the matrix: how to call it, what the API sees of it."""
    name = error_op = method = None

    def target(self, row):
        return None

    def match(self, target):
        raise NotImplementedError

    def call(self, d, target):
        """Returns (errno or 0, text)."""
        raise NotImplementedError

    def requests(self, sim, target, since):
        raise NotImplementedError

    def check_success(self, row, target, text):
        raise NotImplementedError


class Listing(Op):
    name, method = "ls agents", "GET"

    def prepare(self, d):
        # The listing is reused for list_ttl: let it expire, so that ls asks the API.
        sleep_until(getattr(d, "listed_at", 0) + LIST_TTL + 0.05, what="the listing to expire")

    def match(self, target):
        return "short_list"

    def call(self, d, target):
        self.prepare(d)
        try:
            names = os.listdir(d.path("agents"))
        except OSError as e:
            return e.errno, None
        d.listed_at = time.monotonic()
        return 0, names

    def requests(self, sim, target, since):
        return sim.requests(kind="list", since=since)

    def check_success(self, row, target, names):
        assert sorted(names, key=int) == [str(i) for i in range(1, AGENTS + 1)], names


class Refetch(Op):
    name, error_op, method = "echo 1 > refetch", "refetch", "POST"

    def target(self, row):
        return row.refetch

    def match(self, target):
        return f"/{target}/auto-fetch/"

    def call(self, d, target):
        return write_file(d.agent(target, "refetch"), "1"), None

    def requests(self, sim, target, since):
        return sim.requests(agent=target, since=since)

    def check_success(self, row, target, text):
        posts = row.sim.posts(target, row.since)
        assert [e["status"] for e in posts] == [202], posts
        assert read_file(row.d.agent(target, "error")) == ""


class Progress(Op):
    name, error_op, method = "cat progress", "progress", "GET"

    def target(self, row):
        return row.progress

    def match(self, target):
        return f"/{target}/auto-fetch-progress/"

    def call(self, d, target):
        try:
            return 0, read_file(d.agent(target, "progress"))
        except OSError as e:
            return e.errno, None

    def requests(self, sim, target, since):
        return sim.requests(agent=target, since=since)

    def check_success(self, row, target, text):
        assert text.startswith("in_progress\n"), text
        pid = row.sim.imports()[str(target)][-1]
        assert f"\nprogress_id: {pid}\n" in text, (pid, text)


class Wait(Progress):
    # A poll made for `wait` that fails is a failed progress poll: the error
    # line says `progress:` (the daemon's choice; `wait:` is for wait_timeout).
    name = "cat wait"

    def target(self, row):
        return row.wait

    def call(self, d, target):
        try:
            return 0, read_file(d.agent(target, "wait"))
        except OSError as e:
            return e.errno, None

    def check_success(self, row, target, text):
        assert text.startswith("completed\n"), text
        pid = row.sim.imports()[str(target)][-1]
        assert f"\nprogress_id: {pid}\n" in text, (pid, text)


OPS = [Listing(), Refetch(), Progress(), Wait()]


def log_line(op, target, words):
    if op.error_op is None:
        return f"cekurafs: warn: listing agents: {words}"
    return f"cekurafs: warn: agent {target}: {op.error_op}: {words}"


def serve(row, op, target):
    """The operation, until it succeeds (a failed poll is reused for poll_interval)."""
    got = []

    def ok():
        got[:] = op.call(row.d, target)
        return got[0] == 0
    try:
        wait_until(ok, timeout=TIMEOUT + SLACK, interval=0.1, what=f"{op.name} to succeed")
    except AssertionError as e:
        raise AssertionError(f"{e}; last: {errname(got[0]) if got else '-'}")
    return got[1]


# A failing API is polled at most every 16 poll_intervals (0.2 s) by a wait.
WAIT_BACKOFF = 16 * 0.2


def start_wait(d, target):
    return start_reader(d.agent(target, "wait"))


def wait_goes_on(d, proc, target, words, log_before, what):
    """The wait met the fault (its error line and log line) and goes on."""
    line = log_line(Wait(), target, words)
    wait_until(lambda: line in d.stderr()[log_before:].splitlines(), timeout=TIMEOUT + SLACK,
               what=f"{what}: the log line {line!r}")
    error = read_file(d.agent(target, "error"))
    assert error == f"progress: {words}\n", f"error file: {error!r}"
    assert proc.poll() is None, f"the wait ended with the fault: {proc.communicate()}"


def wait_ends_well(row, proc, target):
    """Once the fault is gone, the wait returns the final text, exit status 0,
    and its successful poll cleared the error line."""
    code, out, err = finish(proc, timeout=TIMEOUT + WAIT_BACKOFF + SLACK,
                            what="the wait, once the fault was gone,")
    assert code == 0, (code, err)
    Wait().check_success(row, target, out)
    assert read_file(row.d.agent(target, "error")) == "", read_file(row.d.agent(target, "error"))


def check_wait_cell(row, fault):
    sim, d = row.sim, row.d
    target = row.wait
    log_before = len(d.stderr())
    sim.add_fault(match=f"/{target}/auto-fetch-progress/", method="GET", **fault.rule)
    proc = start_wait(d, target)
    try:
        wait_goes_on(d, proc, target, fault.words, log_before, fault.name)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    finally:
        sim.clear_faults()
    wait_ends_well(row, proc, target)


def check_cell(row, fault, op):
    """One cell; raises AssertionError naming what is wrong."""
    sim, d = row.sim, row.d
    if isinstance(op, Wait):
        return check_wait_cell(row, fault)
    target = op.target(row)
    log_before = len(d.stderr())
    row.since = sim.last_seq()
    sim.add_fault(match=op.match(target), method=op.method, **fault.rule)
    try:
        t0 = time.monotonic()
        got, _ = op.call(d, target)
        secs = time.monotonic() - t0
    finally:
        sim.clear_faults()
    reqs = op.requests(sim, target, row.since)
    assert got == fault.err, f"{errname(got)}, expected {errname(fault.err)}"
    assert secs <= TIMEOUT + SLACK, f"took {secs:.2f} s"
    words = fault.words_for(op)
    if op.error_op:
        error = read_file(d.agent(target, "error"))
        assert error == f"{op.error_op}: {words}\n", f"error file: {error!r}"
    line = log_line(op, target, words)
    new_log = d.stderr()[log_before:]
    assert line in new_log.splitlines(), f"no log line {line!r} in {new_log!r}"
    # The connection opened: the API is not unreachable, so no offline mode.
    assert "API unreachable" not in new_log, new_log
    assert reqs and all(e["path"] == reqs[0]["path"] for e in reqs), reqs
    if op.method == "POST" and fault.rule.get("status") != 429:
        # Its connection opened, so it may have reached the API: never sent twice.
        assert [e["method"] for e in reqs] == ["POST"], \
            f"{len(reqs)} requests for one refetch: {reqs}"
    else:
        # A 429 processed nothing: a POST is tried again as a GET is.
        assert all(e["method"] == op.method for e in reqs), reqs
        lo, hi = fault.gets
        assert lo <= len(reqs) <= hi, f"{len(reqs)} {op.method}s, expected {lo}..{hi}: {reqs}"
        if fault.rule.get("retry_after") == 1:
            gaps = [b["time"] - a["time"] for a, b in zip(reqs, reqs[1:])]
            assert all(g >= 0.95 for g in gaps), f"Retry-After not honoured: {gaps}"
    # Alive and serving once the fault is gone.
    row.since = sim.last_seq()
    op.check_success(row, target, serve(row, op, target))


def run_row(env, row_index, fault):
    row = Row(env, env.daemon, row_index)
    failures = []
    for op in OPS:
        try:
            check_cell(row, fault, op)
        except Exception as e:
            kind = "" if isinstance(e, AssertionError) else f"{type(e).__name__}: "
            failures.append(f"{fault.name} x {op.name}: {kind}{e}")
    assert not failures, "\n".join(failures)


def make_row_test(row_index, fault):
    def test(env):
        run_row(env, row_index, fault)
    test.__name__ = test.__qualname__ = f"test_fault_{fault.name}"
    test.__doc__ = f"{fault.name} x every operation" + (f" ({fault.why})" if fault.why else "")
    return test


for _i, _fault in enumerate(FAULTS):
    globals()[f"test_fault_{_fault.name}"] = make_row_test(_i, _fault)
del _i, _fault

# ---------------------------------------------------------------- down, then back


DOWN_ROW = len(FAULTS)  # and the next one, for "back"
OFFLINE_ROW = DOWN_ROW + 2  # and the next three
CTRL_C_ROW = OFFLINE_ROW + 4
# No request reaches the API (the port refuses), so the sim cannot count tries
# here; that a refused POST may be retried is the unit tests' business.
DOWN = Fault("down", None, errno.ECONNREFUSED, "cannot connect to the API: connection refused",
             (0, 0))


def test_fault_api_down_then_back(env):
    """The API's port refuses connections (its process died), then it comes back
    on the same port knowing its imports (a Gate in front of the simulator). Down:
    ECONNREFUSED for every operation, nothing reaches the API, one log line for
    the whole outage. Back: the next call of every operation succeeds, and the
    log says so once. (Down has no "serving afterwards" of its own: that is the
    back row.)"""
    gate = env.sim.gate()
    d = env.new_daemon(opts=dict(ENV["opts"], api_url=gate.url))
    d.start()
    down, back = Row(env, d, DOWN_ROW), Row(env, d, DOWN_ROW + 1)
    failures = []
    gate.down()
    log_before = len(d.stderr())
    waiter = start_wait(d, down.wait)
    for op in OPS:
        target = op.target(down)
        if isinstance(op, Wait):
            try:
                wait_goes_on(d, waiter, target, DOWN.words, log_before, "down")
            except AssertionError as e:
                failures.append(f"down x {op.name}: {e}")
            continue
        log_before = len(d.stderr())
        since = env.sim.last_seq()
        try:
            t0 = time.monotonic()
            got, _ = op.call(d, target)
            secs = time.monotonic() - t0
            assert got == errno.ECONNREFUSED, errname(got)
            assert secs <= TIMEOUT + SLACK, f"took {secs:.2f} s"
            if op.error_op:
                error = read_file(d.agent(target, "error"))
                assert error == f"{op.error_op}: {DOWN.words}\n", f"error file: {error!r}"
            line = log_line(op, target, DOWN.words)
            assert line in d.stderr()[log_before:].splitlines(), f"no log line {line!r}"
            assert env.sim.requests(since=since) == [], "a request reached the API"
        except AssertionError as e:
            failures.append(f"down x {op.name}: {e}")
    gate.up()
    try:
        wait_ends_well(down, waiter, down.wait)
    except AssertionError as e:
        failures.append(f"down, then back x cat wait: {e}")
    for op in OPS:
        target = op.target(back)
        back.since = env.sim.last_seq()
        try:
            got, text = op.call(d, target)
            assert got == 0, errname(got)
            op.check_success(back, target, text)
            if op.error_op:
                assert read_file(d.agent(target, "error")) == ""
        except AssertionError as e:
            failures.append(f"back x {op.name}: {e}")
    log = d.stderr()
    assert log.count("API unreachable") == 1, log
    assert "cekurafs: warn: API unreachable (connection refused): calls fail fast until it " \
           "answers again" in log.splitlines(), log
    assert log.count("API reachable again") == 1, log
    assert log.index("API unreachable") < log.index("API reachable again"), log
    assert not failures, "\n".join(failures)
    d.stop()


# ---------------------------------------------------------------- offline fast-fail

def running_text(d, agent):
    """The agent's progress text if a read succeeds and shows it running, else None."""
    try:
        text = read_file(d.agent(agent, "progress"))
    except OSError:
        return None
    return text if text.startswith("in_progress\n") else None


def outage(env, row, how, expect_errno, first_budget, later_budget, connect_timeout):
    gate = env.sim.gate()
    d = env.new_daemon(opts=dict(ENV["opts"], api_url=gate.url,
                                 connect_timeout=str(connect_timeout), timeout="6"))
    d.start()
    agents = agents_for(row) + agents_for(row + 1)
    env.sim.config(stage_seconds=LONG)
    for a in agents:  # running imports, never polled yet: each read needs a poll
        assert run(f"echo 1 > {d.agent(a, 'refetch')}")[0] == 0
    how(gate)
    t0 = time.monotonic()
    got = os_errno(read_file, d.agent(agents[0], "progress"))
    first = time.monotonic() - t0
    assert got == expect_errno, errname(got)
    assert first <= first_budget, first
    times = []
    for a in agents[1:]:
        t0 = time.monotonic()
        got = os_errno(read_file, d.agent(a, "progress"))
        times.append(time.monotonic() - t0)
        assert got == expect_errno, (a, errname(got))
    assert all(t <= later_budget for t in times), (first, times)
    log = d.stderr()
    assert log.count("API unreachable") == 1, log
    assert "API reachable again" not in log, log
    gate.up()
    for a in agents:
        # (a failed poll is the answer for poll_interval: read until a new one is made)
        text = wait_until(lambda: running_text(d, a), timeout=TIMEOUT, what=f"agent {a} to poll")
        assert f"progress_id: {env.sim.imports()[str(a)][-1]}\n" in text, text
    log = d.stderr()
    assert log.count("API unreachable") == 1 and log.count("API reachable again") == 1, log
    d.stop()
    return first, times


def test_offline_refused_fails_fast_and_logs_once(env):
    """The API's port refuses: the first call fails, the next five (other
    agents) each within ~1.5 s; one "unreachable" line for the outage, one
    "reachable again" when it is back, and every agent polls again."""
    outage(env, OFFLINE_ROW, lambda g: g.down(), errno.ECONNREFUSED,
           first_budget=1.5, later_budget=1.5, connect_timeout=2)


def test_offline_connect_timeouts_fail_fast(env):
    """The API's host drops connection attempts (connects time out): the first
    call waits connect_timeout (2 s) and one retry of at most 1 s; then each
    call tries once with a 1 s connect timeout instead of 2 s plus retries, so
    each of the next five fails within ~1.5 s."""
    first, times = outage(env, OFFLINE_ROW + 2, lambda g: g.blackhole(), errno.ETIMEDOUT,
                          first_budget=2 + 1 + 1.5, later_budget=1.5, connect_timeout=2)
    assert first >= 2, first  # the first call did wait for its connect timeout


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_on_a_stalled_progress_returns_at_once(env):
    """SIGINT (at its default: it kills `cat`) on a `cat progress` whose poll is
    stalled: it returns within 1 s, the daemon abandons the request (the sim
    never gets to answer it, though the stall ends before the daemon's budget),
    and the daemon serves the next read."""
    agent = agents_for(CTRL_C_ROW)[0]
    env.sim.config(stage_seconds=LONG)
    assert run(f"echo 1 > {env.agent(agent, 'refetch')}")[0] == 0
    stall = 1.5  # < TIMEOUT: a daemon that did not abandon the request would get its answer
    env.sim.add_fault(match=f"/{agent}/auto-fetch-progress/", kind="stall", seconds=stall)
    since = env.sim.last_seq()
    proc = subprocess.Popen(["cat", env.agent(agent, "progress")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        polls = wait_until(lambda: env.sim.polls(agent, since), timeout=5,
                           what="the poll to reach the simulator")
        assert proc.poll() is None and polls[0]["status"] is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=2)
        secs = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        env.sim.clear_faults()
    assert proc.returncode == -signal.SIGINT, proc.returncode
    assert secs < 1, secs
    # Past the end of the stall: the request was never answered, so the client
    # (the daemon) had hung up; and it was not retried.
    sleep_until(polls[0]["time"] + stall + 0.5, clock=time.time, what="the stall to end")
    polls = env.sim.polls(agent, since)
    assert len(polls) == 1 and polls[0]["status"] is None, polls
    text = wait_until(lambda: running_text(env.daemon, agent), timeout=TIMEOUT,
                      what="a normal read")
    assert env.sim.imports()[str(agent)][-1] in text
