"""harness.py - real mounts of cekurafs against contrib/cekura-sim, for the integration tests.

    with harness.Env(agents=120) as env:          # simulator + daemon, always cleaned up
        code, out, err, secs = harness.run(f"ls {env.mnt}/agents")
        env.sim.log()                             # the API requests the daemon made

Python 3 standard library only. Every wait is a bounded poll on a condition
(harness.wait_until); nothing sleeps to synchronise. Whatever happens in a test,
the daemon is stopped (SIGTERM, then `fusermount3 -uz` and SIGKILL as a fallback)
and the simulator too; a daemon that exits non-zero after SIGTERM, prints a
sanitizer or valgrind report or shows the key fails the test that stopped it.

Under a slow wrapper (run.py --wrapper "valgrind ..." --slow 20) every daemon is
started as WRAPPER + [daemon, ...] and every harness wait (wait_until, run, the
mount, the stop) is SLOW times longer; what a test asserts is unchanged.
"""

import contextlib
import datetime
import errno
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIM = os.path.join(ROOT, "contrib", "cekura-sim")
API = "/test_framework/v2/aiagents/"
# The tools-only import (deprecated in the API, so still on v1).
TOOLS_API = "/test_framework/v1/aiagents/"
KEY = "itest-key-5b1f0c2e9d7a4c6b8e3f"

# Set by run.py (--daemon); CEKURAFS_DAEMON or build/cekurafs otherwise.
DAEMON = os.environ.get("CEKURAFS_DAEMON", os.path.join(ROOT, "build", "cekurafs"))
# Set by run.py (--wrapper, --slow): a command line put before the daemon's (valgrind),
# and how many times longer every harness wait is.
WRAPPER = shlex.split(os.environ.get("CEKURAFS_WRAPPER", ""))
SLOW = float(os.environ.get("CEKURAFS_SLOW", "1"))

# Every simulator and daemon alive, so that the runner's watchdog can kill them.
_live_lock = threading.Lock()
_live = []
# Every mount point this process created (another test run may mount meanwhile).
created_mounts = []

# "Sanitizer" is in every AddressSanitizer, LeakSanitizer and ThreadSanitizer
# report ("WARNING: ThreadSanitizer: data race"); "runtime error" in UBSan's.
SANITIZER_MARKS = ("Sanitizer", "runtime error")
TSAN_OPTIONS = "halt_on_error=0:exitcode=66:second_deadlock_stack=1"
# valgrind --error-exitcode=VALGRIND_EXIT; its summary when it found something; and,
# under -q, any report line but a warning (an invalid access as it happens, a leak at exit).
VALGRIND_EXIT = 99
VALGRIND_ERRORS = re.compile(r"==\d+== ERROR SUMMARY: [1-9]")
VALGRIND_REPORT = re.compile(r"^==\d+== (?!Warning: )\S", re.M)


class HarnessError(AssertionError):
    """The daemon or the simulator misbehaved outside what a test checks."""


def _track(obj):
    with _live_lock:
        _live.append(obj)


def _untrack(obj):
    with _live_lock:
        if obj in _live:
            _live.remove(obj)


def live_objects():
    with _live_lock:
        return list(_live)


_sanitized = None


def sanitized():
    """Whether the daemon under test is built with AddressSanitizer or
    ThreadSanitizer, whose allocators keep freed memory (a quarantine) and
    copy the environment: memory figures of such a daemon say little."""
    global _sanitized
    if _sanitized is None:
        with open(DAEMON, "rb") as f:
            binary = f.read()
        _sanitized = b"__asan_init" in binary or b"__tsan_init" in binary
    return _sanitized


# ---------------------------------------------------------------- waiting and running

def wait_until(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a true value, which is returned; fails after
    timeout (times SLOW)."""
    timeout *= SLOW
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


SHELL = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


def run(cmd, shell=True, timeout=20.0, input=None, env=None, executable=None):
    """Runs a command; returns (exit code, stdout, stderr, elapsed seconds).

    With shell, the shell is bash (its builtins name the errno of a failed write,
    "echo: write error: Invalid argument", where dash only says "I/O error").

    The command gets its own process group, killed as a whole at the timeout
    (times SLOW; then AssertionError), so no grandchild survives a hung command."""
    timeout *= SLOW
    t0 = time.monotonic()
    if shell and executable is None:
        executable = SHELL
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, shell=shell, executable=executable, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)
    try:
        out, err = proc.communicate(input=input.encode() if isinstance(input, str) else input,
                                    timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(proc)
        proc.communicate()
        raise AssertionError(f"command timed out after {timeout} s: {cmd!r}")
    except BaseException:
        _killpg(proc)
        proc.communicate()
        raise
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), \
        time.monotonic() - t0


def _killpg(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def fuse_mounts(kind="fuse.cekurafs"):
    """Mount points of the given file system type, from /proc/mounts (octal escapes decoded)."""
    points = []
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == kind:
                points.append(fields[1].encode().decode("unicode_escape"))
    return points


def is_mounted(path):
    return os.path.realpath(path) in fuse_mounts()


def os_errno(fn, *args, **kwargs):
    """Calls fn; returns 0 if it succeeded, else the errno of the OSError it raised."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        return e.errno
    return 0


def write_file(path, data, flags=os.O_WRONLY | os.O_TRUNC):
    """open + one write + close, as `printf DATA > path` does; returns 0 or the errno."""
    def go():
        fd = os.open(path, flags)
        try:
            if data:
                os.write(fd, data.encode() if isinstance(data, str) else data)
        finally:
            os.close(fd)
    return os_errno(go)


def read_file(path):
    """The whole file, as `cat` reads it. A read that fails with EAGAIN raises
    BlockingIOError (errno EAGAIN), where Python's read() would return None."""
    with open(path, "rb") as f:
        data = f.read()
    if data is None:
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)
    return data.decode()


def errname(code):
    return errno.errorcode.get(code, str(code)) if code else "success"


# ---------------------------------------------------------------- simulator

class Sim:
    """contrib/cekura-sim on a free loopback port, with its control endpoints."""

    def __init__(self, key=KEY, agents=120, stage_seconds=0.3, page_cap=None, latency=None,
                 handshake=None, extra=()):
        self.key = key
        self.dir = tempfile.mkdtemp(prefix="cekurafs-sim-")
        self.port_file = os.path.join(self.dir, "port")
        self.stderr_path = os.path.join(self.dir, "stderr")
        args = [SIM, "--key", key, "--port", "0", "--port-file", self.port_file, "--quiet",
                "--agents", str(agents), "--stage-seconds", str(stage_seconds)]
        if page_cap is not None:
            args += ["--page-cap", str(page_cap)]
        if latency is not None:
            args += ["--latency", str(latency)]
        if handshake is not None:
            args += ["--handshake", str(handshake)]
        args += list(extra)
        self.gates = []
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, start_new_session=True)
        _track(self)
        try:
            def port_ready():
                if self.proc.poll() is not None:
                    raise HarnessError(f"cekura-sim exited with {self.proc.returncode}: "
                                       f"{self.stderr()}")
                try:
                    with open(self.port_file) as f:
                        text = f.read()
                except FileNotFoundError:
                    return None
                return int(text) if text.endswith("\n") else None
            self.port = wait_until(port_ready, timeout=10, what="the simulator's port file")
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def request(self, method, path, body=None, timeout=5):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise HarnessError(f"simulator {method} {path}: HTTP {e.code}: {e.read()!r}")

    # -- the control endpoints --
    def log(self):
        return self.request("GET", "/_sim/log")

    def clear_log(self):
        self.request("DELETE", "/_sim/log")

    def reset(self):
        self.request("POST", "/_sim/reset")

    def add_fault(self, **rule):
        return self.request("POST", "/_sim/faults", rule)

    def faults(self):
        return self.request("GET", "/_sim/faults")

    def clear_faults(self):
        self.request("DELETE", "/_sim/faults")

    def config(self, **changes):
        if changes:
            return self.request("POST", "/_sim/config", changes)
        return self.request("GET", "/_sim/config")

    def imports(self):
        return self.request("GET", "/_sim/imports")

    @contextlib.contextmanager
    def stages(self, seconds):
        """Imports started inside last `seconds` a stage; the duration the
        simulator had is set back on the way out, whatever happens."""
        before = self.config()["stage_seconds"]
        self.config(stage_seconds=seconds)
        try:
            yield
        finally:
            self.config(stage_seconds=before)

    def stats(self):
        return self.request("GET", "/_sim/stats")

    def api_get(self, path, key=None):
        """An API request as a client would make it (recorded in the log)."""
        req = urllib.request.Request(self.url + path,
                                     headers={"X-CEKURA-API-KEY": key or self.key})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    # -- views of the log --
    def requests(self, agent=None, method=None, kind=None, since=0):
        """Log entries, filtered: agent id; method; kind in
        {"list", "agent", "auto-fetch", "progress"}; seq > since."""
        out = []
        for e in self.log():
            if e["seq"] <= since:
                continue
            if method and e["method"] != method:
                continue
            path = e["path"]
            if kind == "list" and path not in (API, API + "short_list/"):
                continue
            if kind == "progress" and not path.endswith("/auto-fetch-progress/"):
                continue
            if kind == "auto-fetch" and not path.endswith("/auto-fetch/"):
                continue
            if kind == "agent" and not (path.startswith(API) and path.count("/") == 5
                                        and path != API + "short_list/"):
                continue
            if agent is not None and not path.startswith(f"{API}{agent}/"):
                continue
            out.append(e)
        return out

    def posts(self, agent, since=0):
        return self.requests(agent=agent, method="POST", kind="auto-fetch", since=since)

    def polls(self, agent, since=0):
        return self.requests(agent=agent, method="GET", kind="progress", since=since)

    def last_seq(self):
        log = self.log()
        return log[-1]["seq"] if log else 0

    # -- the tools import and the history (contrib/cekura-sim.md) --
    def tools_imports(self):
        """{"<agent>": [tools progress ids, oldest first]}."""
        return self.request("GET", "/_sim/tools-imports")

    def tools_requests(self, agent, method=None, kind=None, since=0):
        """Log entries of agent's tools endpoints: kind "post" (the tools
        auto-fetch), "poll" (its progress) or None (both); seq > since."""
        paths = {"post": [f"{TOOLS_API}{agent}/tools/auto-fetch/"],
                 "poll": [f"{TOOLS_API}{agent}/tools/auto-fetch-progress/"]}
        wanted = paths[kind] if kind else paths["post"] + paths["poll"]
        return [e for e in self.log() if e["seq"] > since and e["path"] in wanted
                and (method is None or e["method"] == method)]

    def tools_posts(self, agent, since=0):
        return self.tools_requests(agent, method="POST", kind="post", since=since)

    def tools_polls(self, agent, since=0):
        return self.tools_requests(agent, method="GET", kind="poll", since=since)

    def tools_progress(self, agent, progress_id):
        """The tools progress answer, asked directly (recorded in the log)."""
        return self.api_get(f"{TOOLS_API}{agent}/tools/auto-fetch-progress/"
                            f"?progress_id={urllib.parse.quote(progress_id)}")

    def history_requests(self, agent, since=0):
        """Log entries of GET /test_framework/v2/aiagents/<agent>/history/; seq > since."""
        return [e for e in self.log() if e["seq"] > since and e["method"] == "GET"
                and e["path"] == f"{API}{agent}/history/"]

    def history(self, agent, max_pages=1000):
        """Every history record of agent, as the API sends them (newest first),
        every page followed (asked directly: recorded in the log)."""
        records = []
        path = f"{API}{agent}/history/?page_size=1000"
        for _ in range(max_pages):
            page = self.api_get(path)
            records += page["results"]
            if not page.get("next"):
                return records
            url = urllib.parse.urlsplit(page["next"])
            path = url.path + (f"?{url.query}" if url.query else "")
        raise HarnessError(f"the history of agent {agent} has more than {max_pages} pages")

    def gate(self):
        """A Gate in front of this simulator (closed by stop())."""
        g = Gate(self.port)
        self.gates.append(g)
        return g

    def stop(self):
        for g in self.gates:
            g.close()
        self.gates = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _killpg(self.proc)
                self.proc.wait(timeout=5)
        self._stderr.close()
        _untrack(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        for g in self.gates:
            g.close()
        _killpg(self.proc)

    # -- evaluators, runs and results (issue 15; contrib/cekura-sim.md) --
    RUN_PATHS = {"text": "/test_framework/v2/scenarios/run_scenarios_text/",
                 "voice": "/test_framework/v2/scenarios/run_scenarios/"}
    RESULTS_API = "/test_framework/v2/results/"
    SCENARIOS_API = "/test_framework/v1/scenarios/"

    def results(self):
        """{"<agent>": [result ids started through the API, oldest first]}."""
        return self.request("GET", "/_sim/results")

    def run_posts(self, agent=None, mode=None, since=0):
        """Log entries of the run POSTs (mode "text", "voice" or None for both);
        with agent, only those whose body's agent_id is agent (a body that is not
        a JSON object counts for no agent); seq > since."""
        paths = [self.RUN_PATHS[mode]] if mode else list(self.RUN_PATHS.values())
        out = []
        for e in self.log():
            if e["seq"] <= since or e["method"] != "POST" or e["path"] not in paths:
                continue
            if agent is not None and not (isinstance(e["body"], dict)
                                          and e["body"].get("agent_id") == agent):
                continue
            out.append(e)
        return out

    def result_gets(self, rid, since=0):
        """Log entries of GET /test_framework/v2/results/<rid>/; seq > since."""
        return [e for e in self.log() if e["seq"] > since and e["method"] == "GET"
                and e["path"] == f"{self.RESULTS_API}{rid}/"]

    def end_calls_posts(self, rid, since=0):
        """Log entries of POST /test_framework/v2/results/<rid>/end_calls/; seq > since."""
        return [e for e in self.log() if e["seq"] > since and e["method"] == "POST"
                and e["path"] == f"{self.RESULTS_API}{rid}/end_calls/"]

    def results_listings(self, agent, since=0):
        """Log entries of GET /test_framework/v2/results/?agent_id=<agent>; seq > since."""
        return [e for e in self.log() if e["seq"] > since and e["method"] == "GET"
                and e["path"] == self.RESULTS_API
                and f"agent_id={agent}" in e["query"].split("&")]

    def evaluator_listings(self, agent, since=0):
        """Log entries of GET /test_framework/v1/scenarios/?agent_id=<agent>; seq > since."""
        return [e for e in self.log() if e["seq"] > since and e["method"] == "GET"
                and e["path"] == self.SCENARIOS_API
                and f"agent_id={agent}" in e["query"].split("&")]

    def result_requests(self, since=0):
        """Every log entry about evaluators, runs or results (any method); seq > since."""
        return [e for e in self.log() if e["seq"] > since and (
            e["path"].startswith((self.RESULTS_API, self.SCENARIOS_API))
            or e["path"] in self.RUN_PATHS.values())]

    def result_detail(self, rid):
        """The detail of result rid as the API sends it now (asked directly:
        recorded in the log)."""
        return self.api_get(f"{self.RESULTS_API}{rid}/")


class Gate:
    """A TCP forwarder on a loopback port of its own, in front of a simulator:
    the API can go away and come back on the same port while the simulator, and
    the imports it knows, live on (a restarted simulator would have forgotten
    them, where a real API that comes back has not).

        gate = env.sim.gate(); d = env.new_daemon(opts={"api_url": gate.url})
        gate.down()        # the port refuses connections; open ones are cut
        gate.blackhole()   # the port drops connection attempts: connects time out
        gate.up()          # forwarding again, same port

    down() is what the daemon sees when the API's process dies: connecting is
    ECONNREFUSED at once, and every connection it holds is closed. blackhole()
    is a host that does not answer (a listener whose accept queue is full, so
    the kernel drops every SYN). Bytes are passed on unchanged; an RST from
    either side is passed on as an RST."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.port = 0
        self.listener = None
        self.hole = []  # the blackhole's listener and the connections filling its queue
        self.lock = threading.Lock()
        self.socks = set()
        self.up()
        self.url = f"http://127.0.0.1:{self.port}"

    def _listen(self, backlog):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(backlog)
        self.port = s.getsockname()[1]
        return s

    def up(self):
        self.down()
        with self.lock:
            s = self.listener = self._listen(64)
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def blackhole(self):
        self.down()
        with self.lock:
            s = self._listen(0)
            self.hole = [s]
            # With a backlog of 0 the accept queue holds one connection; once it
            # is there (never accepted), every further SYN is dropped.
            for _ in range(2):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect(("127.0.0.1", self.port))
                except BlockingIOError:
                    pass
                self.hole.append(c)

    def down(self):
        """Stops listening (shutdown wakes the accept at once and frees the port)
        and closes every connection through the gate."""
        with self.lock:
            s, self.listener = self.listener, None
            socks, self.socks = list(self.socks) + self.hole, set()
            self.hole = []
        for c in ([s] if s is not None else []) + socks:
            for fn in (lambda: c.shutdown(socket.SHUT_RDWR), c.close):
                try:
                    fn()
                except OSError:
                    pass

    close = down

    def _accept(self, s):
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return  # down()
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self.lock:
                if self.listener is not s:
                    _reset(client)
                    server.close()
                    return
                self.socks.update((client, server))
            pair = {"open": 2}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    break
                dst.sendall(data)
        except ConnectionResetError:
            _reset(dst)
        except OSError:
            pass
        with self.lock:
            pair["open"] -= 1
            last = pair["open"] == 0
            if last:
                self.socks.discard(src)
                self.socks.discard(dst)
        if last:
            src.close()
            dst.close()


def _reset(sock):
    """Closes a socket with an RST (SO_LINGER 0), as a reset would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


# ---------------------------------------------------------------- daemon

class Daemon:
    """build/cekurafs -f on a temporary mount point, its stderr in a file.

    key_via: "env" (CEKURA_API_KEY), "file" (-o api_key_file=, mode 0600) or None."""

    DEFAULT_OPTS = {"poll_interval": "0.2", "list_ttl": "30", "timeout": "5",
                    "connect_timeout": "2", "wait_timeout": "20"}

    def __init__(self, sim, key=None, state_dir=None, opts=None, key_via="env", binary=None,
                 mnt=None, key_file_mode=0o600, key_file_uid=None):
        self.sim = sim
        self.key = key if key is not None else (sim.key if sim else KEY)
        self.binary = binary or DAEMON
        self.dir = tempfile.mkdtemp(prefix="cekurafs-daemon-")
        self.mnt = mnt or os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        created_mounts.append(os.path.realpath(self.mnt))
        self.state_dir = state_dir or os.path.join(self.dir, "state")
        self.opts = dict(self.DEFAULT_OPTS)
        if sim:
            self.opts["api_url"] = sim.url
        self.opts["state_dir"] = self.state_dir
        self.opts.update(opts or {})
        self.key_via = key_via
        self.key_file_mode = key_file_mode
        self.key_file_uid = key_file_uid  # another owner for the key file, or None
        self.proc = None
        self.stopped = False
        self.stderr_path = None
        self.runs = 0
        self.exit_codes = []
        self.refused_seconds = None  # set by start_refused()
        self.source = None  # a SOURCE argument before the mount point, as mount(8) gives a helper
        self.extra_args = []  # more arguments after the mount point

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def option_string(self):
        return ",".join(k if v is None else f"{k}={v}" for k, v in self.opts.items())

    def argv(self):
        source = [self.source] if self.source else []
        return WRAPPER + [self.binary, "-f", "-o", self.option_string(), *source, self.mnt,
                          *self.extra_args]

    def environ(self):
        env = {k: v for k, v in os.environ.items() if k not in ("CEKURA_API_KEY", "CEKURA_API_URL")}
        # Sanitizer builds: report to stderr, fail hard, find leaks at exit.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=87")
        # ThreadSanitizer builds (make tsan): every race reported, the daemon kept
        # running, and exit code 66 at the end if there was any report.
        env.setdefault("TSAN_OPTIONS", TSAN_OPTIONS)
        if self.key_via == "env":
            env["CEKURA_API_KEY"] = self.key
        elif self.key_via == "file":
            path = os.path.join(self.dir, "key")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(self.key + "\n")
            os.chmod(path, self.key_file_mode)
            if self.key_file_uid is not None:
                os.chown(path, self.key_file_uid, -1)
            self.opts["api_key_file"] = path
        return env

    def start(self, wait=True):
        """Starts the daemon; with wait, returns once the mount is live."""
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        env = self.environ()
        self.runs += 1
        self.stopped = False
        self.stderr_path = os.path.join(self.dir, f"stderr.{self.runs}")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, env=env,
                                         start_new_session=True)
        _track(self)
        if wait:
            try:
                self.wait_mounted()
            except BaseException:
                self.stop(check=False)
                raise
        return self

    def wait_mounted(self, timeout=15):
        def live():
            if self.proc.poll() is not None:
                raise HarnessError(f"cekurafs exited with {self.proc.returncode} before mounting: "
                                   f"{self.stderr().strip()}")
            if not is_mounted(self.mnt):
                return False
            try:
                os.stat(os.path.join(self.mnt, "agents"))
            except OSError:
                return False
            return True
        wait_until(live, timeout=timeout, what=f"the mount on {self.mnt}")  # times SLOW

    def stderr(self):
        if not self.stderr_path:
            return ""
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start_refused(self, timeout=10):
        """Starts the daemon expecting it to refuse: returns (exit code, stderr)
        once it exited (refused_seconds: how long that took), and checks that
        nothing more got mounted on mnt (which may be someone else's mount, left
        as it is) and that it left no problem (a sanitizer report, the key shown)."""
        before = fuse_mounts().count(os.path.realpath(self.mnt))
        t0 = time.monotonic()
        self.start(wait=False)
        try:
            code = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.stop(check=False)
            raise AssertionError(f"the daemon did not refuse to start: {self.stderr()}")
        self.refused_seconds = time.monotonic() - t0
        self.stopped = True
        assert fuse_mounts().count(os.path.realpath(self.mnt)) == before, (self.mnt, fuse_mounts())
        problems = self.problems(stopped_by_signal=False)
        assert not problems, problems
        return code, self.stderr()

    def problems(self, stopped_by_signal=True):
        """What is wrong with the daemon's run so far, as a list of sentences."""
        found = []
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            if mark in err:
                # From the first report on: later ones (a ThreadSanitizer run goes on
                # after a race) are often its consequences.
                at = err.rfind("\n", 0, err.index(mark)) + 1
                found.append(f"daemon stderr contains {mark!r}:\n{err[at:at + 6000]}")
                break
        valgrind = VALGRIND_ERRORS.search(err) or (WRAPPER and (
            VALGRIND_REPORT.search(err) or (self.proc is not None
                                            and self.proc.returncode == VALGRIND_EXIT)))
        if valgrind:
            found.append(f"valgrind found errors (exit code {self.proc.returncode}):\n"
                         f"{err[-6000:]}")
        if self.key and self.key in err:
            found.append("daemon stderr shows the API key")
        if self.proc is not None and self.proc.poll() is not None and stopped_by_signal \
                and self.proc.returncode != 0 and not valgrind:
            found.append(f"daemon exited with {self.proc.returncode} after SIGTERM/SIGINT:\n"
                         f"{err[-3000:]}")
        return found

    def stop(self, sig=signal.SIGTERM, check=True, timeout=10):
        """Stops the daemon (sig, then fallbacks) and makes sure nothing stays mounted.
        Returns the exit code. With check, raises HarnessError on any problem()."""
        timeout *= SLOW
        if self.proc is None:
            return None
        if self.stopped:
            if is_mounted(self.mnt):  # after crash(), a dead mount never cleared
                self.force_unmount()
            return self.proc.returncode
        self.stopped = True
        notes = []
        if self.proc.poll() is not None:
            notes.append(f"daemon had already exited with {self.proc.returncode} before it was "
                         f"stopped")
        else:
            self.barrier()
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                notes.append(f"daemon did not exit within {timeout:g} s of signal {sig}; its "
                             f"threads:\n{self.backtrace()}\nits stderr:\n{self.stderr()[-3000:]}")
                self.force_unmount()
                try:
                    self.proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    _killpg(self.proc)
                    self.proc.wait(timeout=5)
        if is_mounted(self.mnt):
            notes.append("the mount was left behind")
            self.force_unmount()
        _untrack(self)
        code = self.proc.returncode
        self.exit_codes.append(code)
        if check:
            found = self.problems() + notes
            if found:
                raise HarnessError("; ".join(found))
        return code

    def crash(self):
        """kill -9: the daemon dies at once and leaves its mount dead (every access
        ENOTCONN) until clear_dead_mount(). Not a failure of the test."""
        assert self.alive(), "the daemon is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10 * SLOW)
        self.stopped = True
        self.exit_codes.append(self.proc.returncode)
        _untrack(self)
        return self.proc.returncode

    def clear_dead_mount(self):
        """fusermount3 -uz on the mount point, as the README says after a crash."""
        res = subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True, text=True,
                             timeout=10)
        assert res.returncode == 0, res.stderr
        wait_until(lambda: not is_mounted(self.mnt), timeout=5, what="the dead mount to go")

    def barrier(self, timeout=3):
        """One request through the mount (a stat of its root; attributes are never
        cached), so that a release the kernel queued before it (a `ls` that just
        closed its directory) has been taken by the daemon before a signal stops
        it: libfuse drops requests still queued at exit, and ASan would report
        its directory handle as a leak. Bounded: a hung daemon is not waited for."""
        t = threading.Thread(target=os_errno, args=(os.stat, self.mnt), daemon=True)
        t.start()
        t.join(timeout * SLOW)

    def backtrace(self):
        """Every thread's stack (gdb, when installed) and kernel wait channel: for hangs."""
        if not self.alive():
            return "(not running)"
        out = []
        for tid in sorted(os.listdir(f"/proc/{self.pid}/task"), key=int):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/wchan") as f:
                    out.append(f"thread {tid} wchan {f.read()}")
            except OSError:
                pass
        if shutil.which("gdb"):
            try:
                res = subprocess.run(["gdb", "-p", str(self.pid), "-batch", "-nx",
                                      "-ex", "thread apply all bt"], capture_output=True,
                                     text=True, timeout=30)
                out.append("\n".join(ln for ln in res.stdout.splitlines()
                                     if ln.startswith(("#", "Thread"))))
            except (subprocess.TimeoutExpired, OSError) as e:
                out.append(f"gdb: {e}")
        return "\n".join(out)

    def force_unmount(self):
        subprocess.run(["fusermount3", "-uz", self.mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        if self.proc is not None and self.proc.poll() is None:
            _killpg(self.proc)

    def kill(self):
        """Emergency stop (the watchdog): lazy unmount, then SIGKILL."""
        self.force_unmount()
        if self.proc is not None:
            _killpg(self.proc)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- paths --
    def path(self, *parts):
        return os.path.join(self.mnt, *[str(p) for p in parts])

    def agent(self, agent_id, name=None):
        if name is None:
            return self.path("agents", agent_id)
        return self.path("agents", agent_id, name)


# ---------------------------------------------------------------- environment

class Env:
    """A simulator and a daemon mounted on it. A context manager: whatever
    happens inside, the daemon is stopped (and checked) and the simulator too.

        with Env(agents=120, opts={"poll_interval": 0.5}) as env:
            env.mnt, env.sim, env.daemon, env.agent(42, "progress")
    """

    def __init__(self, agents=120, stage_seconds=0.3, page_cap=None, latency=None, handshake=None,
                 opts=None, key_via="env", start=True, key=KEY):
        self.sim_args = dict(key=key, agents=agents, stage_seconds=stage_seconds, page_cap=page_cap,
                             latency=latency, handshake=handshake)
        self.opts = opts
        self.key_via = key_via
        self.start_daemon = start
        self.sim = None
        self.daemon = None
        self.extra = []  # other daemons started on this simulator

    def __enter__(self):
        try:
            self.sim = Sim(**self.sim_args)
            self.daemon = Daemon(self.sim, opts=self.opts, key_via=self.key_via)
            if self.start_daemon:
                self.daemon.start()
        except BaseException:
            self.close(check=False)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(check=exc_type is None)
        return False

    def new_daemon(self, **kwargs):
        """Another daemon on this simulator (stopped and checked by close())."""
        d = Daemon(self.sim, **kwargs)
        self.extra.append(d)
        return d

    def close(self, check=True):
        problems = []
        for d in [self.daemon] + self.extra:
            if d is None:
                continue
            try:
                d.stop(check=check)
            except HarnessError as e:
                problems.append(str(e))
            except BaseException as e:  # keep cleaning up
                problems.append(f"stopping the daemon: {e!r}")
            d.cleanup()
        self.extra = []
        if self.sim is not None:
            self.sim.stop()
        if problems and check:
            raise HarnessError("; ".join(problems))

    def health(self):
        """Problems of the running daemon (died, sanitizer report, key shown)."""
        d = self.daemon
        if d is None or d.proc is None:
            return []
        found = d.problems(stopped_by_signal=False)
        if not d.alive():
            found.append(f"daemon died with exit code {d.proc.returncode}:\n{d.stderr()[-3000:]}")
        elif not is_mounted(d.mnt):
            found.append("the mount is gone while the daemon runs")
        return found

    # -- shortcuts --
    @property
    def mnt(self):
        return self.daemon.mnt

    def agent(self, agent_id, name=None):
        return self.daemon.agent(agent_id, name)


def wait_status(env_or_daemon, agent_id, statuses=("completed", "failed"), timeout=15):
    """Reads `progress` until its first line is one of statuses; returns the text."""
    d = env_or_daemon.daemon if isinstance(env_or_daemon, Env) else env_or_daemon
    return wait_first_line(d.agent(agent_id, "progress"), statuses, timeout=timeout,
                           what=f"agent {agent_id} to reach {statuses}")


@contextlib.contextmanager
def refused_start(sim=None, timeout=10, **daemon_args):
    """A daemon (Daemon(sim, **daemon_args)) that must refuse to start: yields
    (daemon, exit code, stderr) once it exited (Daemon.start_refused), and
    removes its directory afterwards.

        with refused_start(opts={"api_url": "http://127.0.0.1:9"}, key_via=None) as (d, code, err):
            assert code != 0 and "CEKURA_API_KEY" in one_line(err)
    """
    d = Daemon(sim, **daemon_args)
    try:
        code, err = d.start_refused(timeout)
        yield d, code, err
    finally:
        d.cleanup()


def refusal(sim=None, timeout=10, **daemon_args):
    """(exit code, stderr, daemon) of a daemon that must refuse to start
    (refused_start), its directory already removed."""
    with refused_start(sim, timeout, **daemon_args) as (d, code, err):
        return code, err, d


def one_line(text):
    """text, once checked to be one line ending in a newline (a refusal, an
    `error` file)."""
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text


def refetch(env_or_daemon, agent):
    """`echo 1 > agents/<agent>/refetch`, which must succeed; returns the
    progress id the simulator gave the import."""
    d = env_or_daemon.daemon if isinstance(env_or_daemon, Env) else env_or_daemon
    code, _, err, _ = run(f"echo 1 > {d.agent(agent, 'refetch')}")
    assert code == 0, (agent, err)
    return d.sim.imports()[str(agent)][-1]


def tools_refetch(env_or_daemon, agent, data="1"):
    """`echo DATA > agents/<agent>/tools-refetch` (a shell echo: DATA gains a
    newline), which must succeed; returns the progress id the simulator gave
    the tools import."""
    d = env_or_daemon.daemon if isinstance(env_or_daemon, Env) else env_or_daemon
    code, _, err, _ = run(f"echo {shlex.quote(data)} > {d.agent(agent, 'tools-refetch')}")
    assert code == 0, (agent, err)
    return d.sim.tools_imports()[str(agent)][-1]


def wait_first_line(path, statuses, timeout=15, what=None):
    """Reads path until its first line is one of statuses; returns the text."""
    seen = []

    def done():
        try:
            text = read_file(path)
        except OSError as e:
            seen.append(errname(e.errno))
            return None
        seen.append(text.split("\n", 1)[0])
        return text if text.split("\n", 1)[0] in statuses else None
    try:
        return wait_until(done, timeout=timeout, interval=0.05,
                          what=what or f"{path} to reach {statuses}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last statuses seen: {seen[-5:]}")


def wait_tools_status(env_or_daemon, agent_id, statuses=("completed", "failed"), timeout=15):
    """Reads `tools-progress` until its first line is one of statuses; returns the text."""
    d = env_or_daemon.daemon if isinstance(env_or_daemon, Env) else env_or_daemon
    return wait_first_line(d.agent(agent_id, "tools-progress"), statuses, timeout,
                           what=f"the tools import of agent {agent_id} to reach {statuses}")


def tools_progress_text(status, progress_id, created=None, updated=None, message=None,
                        error=None):
    """The text of `tools-progress` for an answer (DESIGN.md section 7)."""
    def count(name, n):
        return f"{name}:\n" if n is None else f"{name}: {n}\n"
    return (f"{status}\nprogress_id: {progress_id}\n" + count("tools_created", created)
            + count("tools_updated", updated)
            + ("" if message is None else f"message: {message}\n")
            + ("" if error is None else f"error: {error}\n"))


def iso_time(text):
    """Epoch seconds of an ISO 8601 time as the API sends it ("...Z", fractional
    seconds, an offset, or none: UTC)."""
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()


def state_file_lines(d):
    """The lines (not comments, not blank) of every file in d's state_dir but
    its lock, {line: file name}."""
    found = {}
    for name in sorted(os.listdir(d.state_dir)):
        path = os.path.join(d.state_dir, name)
        if name == "lock" or not os.path.isfile(path):
            continue
        for ln in read_file(path).splitlines():
            if ln and not ln.startswith("#"):
                found[ln] = name
    return found


def start_reader(path):
    """`cat path` in a session of its own (a blocked `wait` or `events`
    reader); finish() collects it."""
    return subprocess.Popen(["cat", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def finish(proc, timeout=15, what="the reader"):
    """(exit code, stdout, stderr) of a start_reader() process once it ended;
    fails (the process killed) when it did not end within timeout."""
    try:
        out, err = proc.communicate(timeout=timeout * SLOW)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"{what} did not end within {timeout} s")
    return proc.returncode, out.decode(), err.decode()


def sleep_until(t_end, clock=time.monotonic, what="the time to pass"):
    """Returns once clock() reached t_end: a wait on purpose (to show that
    nothing happens meanwhile), bounded like every other."""
    wait_until(lambda: clock() >= t_end, timeout=max(0.0, t_end - clock()) + 1, what=what)


def daemon_stats(d):
    """The counters of d's .cekurafs/stats, {name: int}."""
    text = read_file(d.path(".cekurafs", "stats"))
    return {k: int(v) for k, v in (line.split(" ", 1) for line in text.splitlines())}


def sighup_pending(pid):
    """Whether SIGHUP waits to be handled by the process (its ShdPnd/SigPnd bit)."""
    with open(f"/proc/{pid}/status") as f:
        masks = [int(ln.split()[1], 16) for ln in f if ln.startswith(("ShdPnd:", "SigPnd:"))]
    return any(m & (1 << (signal.SIGHUP - 1)) for m in masks)


def emergency_cleanup():
    """Kills every simulator and daemon still alive and unmounts their mounts."""
    for obj in live_objects():
        try:
            obj.kill()
        except Exception:
            pass
        _untrack(obj)
