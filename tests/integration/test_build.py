"""The build: an object is rebuilt when any header it includes changes, the
private ones of fs/ included (make generates the dependencies, -MMD -MP)."""

import os

import harness
from harness import run

ROOT = harness.ROOT


def would_rebuild(build, header, target):
    """Whether make, told that header changed, would rebuild target."""
    code, out, err, _ = run(["make", "-C", ROOT, "-n", "-W", header, f"BUILD={build}", target],
                            shell=False, timeout=60)
    assert code == 0, err
    return any(line.strip().endswith(f"-o {target}") for line in out.splitlines())


def test_a_private_header_rebuilds_what_includes_it():
    build = os.path.relpath(os.path.dirname(os.path.realpath(harness.DAEMON)), ROOT)
    for obj in ("registry", "ops", "json"):
        assert os.path.exists(os.path.join(ROOT, build, "fs", f"{obj}.d")), \
            f"{build}/fs/{obj}.d: the build wrote no dependencies of {obj}.o"
    assert would_rebuild(build, "fs/registry_base.h", f"{build}/fs/registry.o")
    assert would_rebuild(build, "include/cekurafs/nodes.h", f"{build}/fs/ops.o")
    # and only what includes it
    assert not would_rebuild(build, "fs/registry_base.h", f"{build}/fs/json.o")
