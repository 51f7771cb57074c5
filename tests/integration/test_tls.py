"""TLS: the daemon always verifies the API's certificate (peer and host name),
and -o cacert=FILE names a private CA. The simulator serves https
(--tls-cert, --tls-key) with a throwaway CA and certificates made here with the
openssl command line, in a temporary directory, for each test.

    no cacert            mounts (the start check only warns); `ls agents` fails
                         with EIO, the log says the certificate could not be
                         verified, and no request reached the API
    cacert=CA.pem        lists, refetches and waits over https
    cert for another name, cacert given: refused all the same
    cacert=/nonexistent  refuses to start, one line
"""

import contextlib
import errno
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request

from harness import Daemon, HarnessError, Sim, one_line, read_file, refusal, refetch, run
from test_key import assert_key_hidden, exercise

VERIFY_FAILED = "TLS certificate verification failed"


# ---------------------------------------------------------------- certificates

def openssl(*args, cwd):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"openssl {' '.join(args)}: {res.stderr}"


def server_cert(d, name, san, serial):
    """<name>.pem and <name>.key: a server certificate for san, signed by the CA in d."""
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
            cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", serial, "-days", "2",
            "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


@contextlib.contextmanager
def certificates():
    """A throwaway CA (ca.pem) and two server certificates it signed: `good`
    for 127.0.0.1 (IP SAN) and localhost, `other` for example.com only."""
    d = tempfile.mkdtemp(prefix="cekurafs-tls-")
    try:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=cekurafs throwaway test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        certs = {"dir": d, "ca": os.path.join(d, "ca.pem")}
        certs["good"] = server_cert(d, "good", "IP:127.0.0.1,DNS:localhost", "2")
        certs["other"] = server_cert(d, "other", "DNS:example.com", "3")
        yield certs
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- an https simulator

class TlsSim(Sim):
    """contrib/cekura-sim serving https. Its control endpoints are reached over
    the same https port, trusting the test CA but not checking the name (the
    `other` certificate is for example.com): that channel is the test's, and
    what is under test is the daemon's verification."""

    def __init__(self, ca, cert_and_key, **kwargs):
        cert, key = cert_and_key
        super().__init__(extra=("--tls-cert", cert, "--tls-key", key), **kwargs)
        self.url = f"https://127.0.0.1:{self.port}"
        self.context = ssl.create_default_context(cafile=ca)
        self.context.check_hostname = False

    def request(self, method, path, body=None, timeout=5):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.context) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise HarnessError(f"simulator {method} {path}: HTTP {e.code}: {e.read()!r}")


@contextlib.contextmanager
def mounted(certs, server, opts):
    """An https simulator with the server certificate `server`, and a daemon on it."""
    sim = TlsSim(certs["ca"], certs[server])
    try:
        d = Daemon(sim, opts=dict(opts, api_url=sim.url))
        try:
            d.start()
            yield sim, d
        finally:
            d.stop()  # checks the log for the key and sanitizer reports
            d.cleanup()
    finally:
        sim.stop()


def assert_refused_as_unverified(sim, d):
    """The start check warned, `ls agents` fails with EIO, the log says why, and
    no request reached the simulator (the key never left unverified)."""
    err = d.stderr()
    assert f"cannot check the key now ({VERIFY_FAILED}" in err, err
    code, out, lserr, _ = run(f"ls {d.path('agents')}")
    assert code != 0 and out == "", (code, out, lserr)
    assert os.strerror(errno.EIO) in lserr, lserr
    assert f"listing agents: {VERIFY_FAILED}" in d.stderr(), d.stderr()
    assert sim.log() == [], sim.log()


# ---------------------------------------------------------------- tests

def test_openssl_is_installed():
    code, out, err, _ = run("openssl version")
    assert code == 0 and out.startswith("OpenSSL"), (code, out, err)


def test_without_cacert_a_private_ca_is_not_trusted():
    with certificates() as certs, \
            mounted(certs, "good", {"loglevel": "debug"}) as (sim, d):
        assert_refused_as_unverified(sim, d)
        # An agent's files fail the same way, and say so in the log.
        code, _, err, _ = run(f"cat {d.agent(42, 'progress')}")
        assert code != 0 and os.strerror(errno.EIO) in err, (code, err)
        assert sim.log() == []


def test_with_cacert_the_api_is_used_over_https():
    with certificates() as certs, \
            mounted(certs, "good", {"cacert": certs["ca"]}) as (sim, d):
        assert "cannot check the key" not in d.stderr(), d.stderr()
        code, out, err, _ = run(f"ls {d.path('agents')}")
        assert code == 0, (code, err)
        assert sorted(map(int, out.split())) == list(range(1, 121))  # 3 pages of `next` links
        refetch(d, 42)
        code, out, err, _ = run(f"cat {d.agent(42, 'wait')}")
        assert code == 0 and out.split("\n", 1)[0] == "completed", (code, out, err)
        assert read_file(d.agent(42, "error")) == ""
        log = sim.log()
        assert len(sim.posts(42)) == 1 and len(sim.polls(42)) >= 1
        assert log and all(e["key_ok"] and e["status"] for e in log), log
        assert VERIFY_FAILED not in d.stderr()


def test_the_key_shows_nowhere_over_tls_in_debug_mode():
    with certificates() as certs, \
            mounted(certs, "good", {"cacert": certs["ca"], "loglevel": "debug"}) as (sim, d):
        exercise(sim, d)
        # before the walk: reading agent 72's failed results makes their line its error line
        assert read_file(d.agent(72, "error")).startswith("refetch: HTTP 401: ")
        assert_key_hidden(d, sim.key)
        err = d.stderr()
        assert "debug" in err and "https://127.0.0.1" in err, err  # debug lines, over https
        assert sim.key not in err


def test_a_certificate_for_another_name_is_refused():
    # Signed by the CA the daemon is told to trust, but for example.com only.
    with certificates() as certs, \
            mounted(certs, "other", {"cacert": certs["ca"], "loglevel": "debug"}) as (sim, d):
        assert_refused_as_unverified(sim, d)


def test_a_missing_cacert_file_refuses_to_start():
    code, err, _ = refusal(opts={"api_url": "https://127.0.0.1:9", "cacert": "/nonexistent"})
    assert code != 0, code
    assert "cacert /nonexistent" in one_line(err) and os.strerror(errno.ENOENT) in err, err
