"""Answers the daemon must not trust, and answers it must not lose (README,
"When things go wrong"):
  - a listing whose `next` links to itself, loops back to page 1, or runs past
    what its `count` allows fails with EPROTO at once ("Protocol error"), after
    a few requests and with the daemon's peak RSS unchanged;
  - a `next` URL with a terminal escape and a newline in it reaches the debug
    log as one line, without the escape;
  - a refetch answered 429 is sent again after Retry-After and succeeds; one
    whose connection is reset after the request was sent says, in `error`, that
    the API may have started an import.
"""

import errno
import json
import os
import time

from harness import API, errname, os_errno, read_file, run, write_file

ENV = {"agents": 120}

LISTING = API + "short_list/"
ESC = "\x1b"


def listing_daemon(env, **opts):
    """A daemon of its own that asks the API at every `ls agents`."""
    d = env.new_daemon(opts=dict({"list_ttl": "0"}, **opts))
    d.start()
    return d


def first_url(env):
    return f"{env.sim.url}{LISTING}?page_size=1000"


def page_url(env, n):
    return f"{env.sim.url}{LISTING}?page={n}&page_size=1000"


def page(count, next_url, ids):
    return json.dumps({"count": count, "next": next_url, "previous": None,
                       "results": [{"id": i, "agent_name": f"agent {i}"} for i in ids]})


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def ls_fails_with_eproto(env, d, words, max_requests, again=True):
    """`ls agents` fails at once with "Protocol error", after at most
    max_requests listing GETs; the log has the one line. With again, so does
    the next listing (the fault is still there)."""
    log_before = len(d.stderr())
    since = env.sim.last_seq()
    code, out, err, secs = run(f"ls {d.path('agents')}", timeout=10)
    reqs = env.sim.requests(kind="list", since=since)
    assert code != 0 and "Protocol error" in err, (code, out, err)
    assert secs < 3, f"took {secs:.2f} s"
    assert 1 <= len(reqs) <= max_requests, f"{len(reqs)} listing requests: {reqs[:5]}"
    line = f"cekurafs: warn: listing agents: malformed response: {words}"
    assert line in d.stderr()[log_before:].splitlines(), d.stderr()[log_before:]
    if again:
        assert os_errno(os.listdir, d.path("agents")) == errno.EPROTO


def test_a_page_linking_to_itself_is_eproto_at_once(env):
    """1,000 agents a page and a `next` back to the same page: it used to cost
    100,000 requests and gigabytes; now one request and no growth."""
    d = listing_daemon(env)
    before = peak_rss_kib(d.pid)
    env.sim.add_fault(match=LISTING, method="GET", kind="body",
                      body=page(100000, first_url(env), range(1, 1001)))
    try:
        ls_fails_with_eproto(env, d, "page 1 links back to an earlier page", 1)
    finally:
        env.sim.clear_faults()
    grown = peak_rss_kib(d.pid) - before
    assert grown < 16 * 1024, f"peak RSS grew by {grown} KiB"
    assert sorted(os.listdir(d.path("agents")), key=int) == [str(i) for i in range(1, 121)]
    d.stop()


def test_a_loop_back_to_page_1_is_eproto(env):
    d = listing_daemon(env)
    before = peak_rss_kib(d.pid)
    env.sim.add_fault(match=LISTING, method="GET", kind="body", count=1,
                      body=page(100000, page_url(env, 2), range(1, 1001)))
    env.sim.add_fault(match=LISTING, method="GET", kind="body",
                      body=page(100000, first_url(env), range(1001, 2001)))
    try:
        ls_fails_with_eproto(env, d, "page 2 links back to an earlier page", 2)
    finally:
        env.sim.clear_faults()
    grown = peak_rss_kib(d.pid) - before
    assert grown < 16 * 1024, f"peak RSS grew by {grown} KiB"
    d.stop()


def test_more_pages_than_count_allows_is_eproto(env):
    """count 2 in pages of 1: two pages, three with one of slack; the third
    links to a fourth."""
    d = listing_daemon(env)
    for n in (2, 3, 4):
        env.sim.add_fault(match=LISTING, method="GET", kind="body", count=1,
                          body=page(2, page_url(env, n), [n - 1]))
    try:
        ls_fails_with_eproto(env, d, "page 3 links to page 4, more than a count of 2 in pages "
                             "of 1 allows", 3, again=False)
    finally:
        env.sim.clear_faults()
    d.stop()


def test_a_next_url_with_control_characters_is_logged_as_one_line(env):
    d = listing_daemon(env, loglevel="debug")
    log_before = len(d.stderr())
    env.sim.add_fault(match=LISTING, method="GET", kind="body", count=1,
                      body=page(2, page_url(env, 2) + ESC + "[31m\nnot a line", [1]))
    try:
        code, _, err, _ = run(f"ls {d.path('agents')}", timeout=10)
    finally:
        env.sim.clear_faults()
    assert code != 0, err
    log = d.stderr()[log_before:]
    assert ESC not in log, repr(log)
    assert "[31m not a line" in log, log
    for line in log.splitlines():
        assert line.startswith("cekurafs: "), repr(line)
    d.stop()


def test_a_refetch_answered_429_is_sent_again_after_retry_after(env):
    agent = 11
    since = env.sim.last_seq()
    env.sim.add_fault(match=f"/{agent}/auto-fetch/", method="POST", kind="status", status=429,
                      retry_after=1, count=1, detail="Slow down")
    try:
        t0 = time.monotonic()
        got = write_file(env.agent(agent, "refetch"), "1")
        secs = time.monotonic() - t0
    finally:
        env.sim.clear_faults()
    assert got == 0, errname(got)
    posts = env.sim.posts(agent, since)
    assert [e["status"] for e in posts] == [429, 202], posts
    assert posts[1]["time"] - posts[0]["time"] >= 0.95, posts
    assert 0.95 <= secs < 5, secs
    assert read_file(env.agent(agent, "error")) == ""
    pid = env.sim.imports()[str(agent)][-1]
    assert f"\nprogress_id: {pid}\n" in read_file(env.agent(agent, "progress"))


def test_a_refetch_reset_after_sending_says_the_import_may_have_started(env):
    agent = 12
    d = env.daemon
    log_before = len(d.stderr())
    since = env.sim.last_seq()
    env.sim.add_fault(match=f"/{agent}/auto-fetch/", method="POST", kind="reset", count=1)
    try:
        code, _, err, _ = run(f"echo 1 > {env.agent(agent, 'refetch')}")
    finally:
        env.sim.clear_faults()
    assert code != 0 and "Connection reset by peer" in err, (code, err)
    words = ("refetch: connection reset by the API after the request was sent: the API may have "
             "started an import; a retry will tell (EBUSY if it did)")
    assert read_file(env.agent(agent, "error")) == words + "\n"
    assert f"cekurafs: warn: agent {agent}: {words}" in d.stderr()[log_before:].splitlines()
    assert len(env.sim.posts(agent, since)) == 1  # never sent twice
    # The simulator's reset processed nothing: the retry starts the import.
    assert write_file(env.agent(agent, "refetch"), "1") == 0
    assert read_file(env.agent(agent, "error")) == ""
