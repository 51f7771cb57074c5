"""Scale: a listing of 100,000 agents is exact, asked in the largest pages the
server honours, and served from the cache afterwards."""

from harness import run

# The simulator's pages hold at most 1000 agents here (its default is 50, which
# would make it build 2000 pages of 100,000 rows each in Python).
ENV = {"agents": 100000, "page_cap": 1000, "stage_seconds": 0.3}


def test_listing_100000_agents_is_exact(env):
    since = env.sim.last_seq()
    code, out, err, _ = run(f"ls {env.daemon.path('agents')} | sort -n | uniq | wc -l", timeout=120)
    assert code == 0, err
    assert out.strip() == "100000", out
    code, out, err, _ = run(f"ls {env.daemon.path('agents')} | sort -n | sed -n '1p;$p'", timeout=120)
    assert (code, out) == (0, "1\n100000\n"), (code, out, err)
    gets = [e for e in env.sim.requests(kind="list", since=since) if e["query"] != "page_size=1"]
    # One pass over 100 pages of 1000: the second ls came from the cache.
    assert len(gets) == 100, len(gets)
    assert gets[0]["query"] == "page_size=1000", gets[0]
    assert gets[-1]["query"] == "page=100&page_size=1000", gets[-1]
    assert all(e["status"] == 200 for e in gets)


def test_lookups_in_a_large_listing_ask_nothing(env):
    assert run(f"ls {env.daemon.path('agents')} > /dev/null", timeout=120)[0] == 0
    since = env.sim.last_seq()
    code, out, err, _ = run(f"for i in 1 777 50000 99999 100000; do stat -c %F {env.daemon.path('agents')}/$i; done; "
                            f"stat {env.daemon.path('agents')}/100001", timeout=60)
    assert out == "directory\n" * 5, (out, err)
    assert code != 0 and "No such file or directory" in err, (code, err)
    assert env.sim.requests(since=since) == [], env.sim.requests(since=since)
