"""Start-up: refusals (no key, a readable key file, a rejected key, plain http
to a remote host), --help and --version, an unreachable API, and stopping with
SIGTERM and SIGINT (unmount, exit 0)."""

import errno
import os
import signal
import socket

import harness
from harness import (Daemon, Env, finish, is_mounted, one_line, os_errno, refetch, refusal,
                     refused_start, run, start_reader, wait_until)

OUR_OPTIONS = ["api_url", "api_key_file", "state_dir", "poll_interval", "list_ttl", "timeout",
               "connect_timeout", "wait_timeout"]


def test_no_key_is_refused():
    code, err, _ = refusal(opts={"api_url": "http://127.0.0.1:9"}, key_via=None)
    assert code != 0, code
    assert "key" in one_line(err) and "CEKURA_API_KEY" in err, err


def test_key_file_readable_by_others_is_refused():
    with refused_start(opts={"api_url": "http://127.0.0.1:9"}, key_via="file",
                       key_file_mode=0o644) as (d, code, err):
        assert os.stat(d.opts["api_key_file"]).st_mode & 0o777 == 0o644
    assert code != 0, code
    assert "chmod" in one_line(err) and "api_key_file" in err, err
    assert d.key not in err


def test_key_file_owned_by_another_user_is_refused():
    # The file is nobody's, even with mode 0600.
    with refused_start(opts={"api_url": "http://127.0.0.1:9"}, key_via="file",
                       key_file_uid=65534) as (d, code, err):
        assert os.stat(d.opts["api_key_file"]).st_uid == 65534
    assert code != 0, code
    assert "owned by uid 65534" in one_line(err) and "api_key_file" in err, err
    assert d.key not in err


def test_key_file_0600_mounts():
    with Env(key_via="file") as env:
        d = env.daemon
        assert os.stat(d.opts["api_key_file"]).st_mode & 0o777 == 0o600
        assert len(os.listdir(d.path("agents"))) == 120
        log = env.sim.log()
        assert log and all(e["key_ok"] for e in log), log


def test_key_the_api_rejects_is_refused():
    with Env(start=False) as env:
        code, err, _ = refusal(env.sim, key="not-the-right-key-31f9")
        log = env.sim.log()
    assert code != 0, code
    assert "key" in one_line(err) and "reject" in err, err
    assert "not-the-right-key-31f9" not in err
    # One cheap request, answered 401.
    assert [(e["status"], e["key_ok"]) for e in log] == [(401, False)], log


def test_plain_http_to_a_remote_host_is_refused():
    for url in ("http://example.com", "http://example.com:80/", "http://10.1.2.3:8000",
                "ftp://127.0.0.1/"):
        code, err, _ = refusal(opts={"api_url": url})
        assert code != 0, (url, code)
        assert url in one_line(err), (url, err)
        if url.startswith("http://"):
            assert "loopback" in err and "https" in err, err


def test_bad_option_values_are_refused():
    for opt, value in (("poll_interval", "soon"), ("timeout", "0"), ("list_ttl", "-1"),
                       ("state_dir", "relative/dir")):
        code, err, _ = refusal(opts={"api_url": "http://127.0.0.1:9", opt: value})
        assert code != 0 and opt in one_line(err), (opt, code, err)


def test_help_lists_our_options_before_fuses():
    code, out, err, _ = run([harness.DAEMON, "--help"], shell=False)
    assert code == 0, err
    text = out + err
    fuse_at = min(i for i in (text.find("FUSE options"), text.find("-o allow_other"),
                              text.find("-o max_threads"), text.find("-d   -o debug"))
                  if i >= 0)
    for name in OUR_OPTIONS:
        at = text.find(f"-o {name}=")
        assert 0 <= at < fuse_at, f"{name} missing or after FUSE's options:\n{text}"


def test_version():
    code, out, err, _ = run([harness.DAEMON, "--version"], shell=False)
    assert code == 0, err
    assert out.split("\n")[0] == "cekurafs 0.1.0", out


def test_unreachable_api_mounts_anyway_and_fails_lookups():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    d = Daemon(None, opts={"api_url": f"http://127.0.0.1:{port}"})
    try:
        d.start()
        assert "warn" in d.stderr() and "mounting anyway" in d.stderr(), d.stderr()
        code, _, err, secs = run(f"ls {d.mnt}/agents")
        assert code != 0 and "Connection refused" in err, (code, err)
        assert secs < 5, secs
        assert os_errno(os.stat, d.agent(42)) == errno.ECONNREFUSED
    finally:
        d.stop()
        d.cleanup()


def test_sigterm_and_sigint_unmount_and_exit_0():
    with Env(start=False) as env:
        d = env.daemon
        for sig in (signal.SIGTERM, signal.SIGINT):
            d.start()
            assert len(os.listdir(d.path("agents"))) == 120
            code = d.stop(sig=sig)
            assert code == 0, (sig, code, d.stderr())
            assert not is_mounted(d.mnt), sig
            assert os.listdir(d.mnt) == []
            assert "unmounting" in d.stderr(), d.stderr()


def test_sigterm_while_a_reader_is_blocked():
    with Env(stage_seconds=30) as env:
        sim, d = env.sim, env.daemon
        refetch(d, 42)
        since = sim.last_seq()
        reader = start_reader(d.agent(42, "wait"))
        try:
            wait_until(lambda: len(sim.polls(42, since)) >= 2, timeout=10,
                       what="the blocked reader to poll")
            code = d.stop(sig=signal.SIGTERM, timeout=10)
            assert code == 0, code
            assert not is_mounted(d.mnt)
            code, _, _ = finish(reader, timeout=5)
            assert code != 0
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.communicate()
