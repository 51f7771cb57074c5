"""The documents that ship beside the daemon: the man page and the systemd unit.
No mount is needed.

    contrib/cekurafs.1                 groff -ww -z -man prints nothing and exits 0;
                                       `man -l` shows every file of the README's tree
                                       and every -o option of its Options table
    contrib/systemd/cekurafs.service   makes no mount namespace of its own (the
                                       mount would stay invisible to the system);
                                       `systemd-analyze verify` passes (skipped, with
                                       a note, when systemd-analyze is absent)

The names come from README.md, so a file or an option added there without a man
page entry fails here.
"""

import os
import re
import shutil
import subprocess
import tempfile

import harness

ROOT = harness.ROOT
README = os.path.join(ROOT, "README.md")
MAN_PAGE = os.path.join(ROOT, "contrib", "cekurafs.1")
UNIT = os.path.join(ROOT, "contrib", "systemd", "cekurafs.service")
UNIT_DAEMON = "/usr/local/bin/cekurafs"

# The .cekurafs/ status directory and what its files hold (issue 6), until the
# README's tree shows it too.
STATUS_NAMES = [".cekurafs/", "version", "config", "stats", "api_key", "uptime_seconds",
                "requests_in_flight", "retries", "coalesced_polls", "cache_hits_listing",
                "cache_hits_progress", "cache_hits_config", "cache_hits_negative"]
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "THE TREE", "OPTIONS", "ENVIRONMENT", "ERRORS",
            "CACHING", "SIGNALS", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"]
FUSE_OPTIONS = ["-f", "-d", "-s", "-o allow_other", "-o max_threads=", "--help", "--version"]
FSTAB_WORDS = ["_netdev", "noauto", "nouser", "users", "nofail", "defaults", "x-systemd."]
ENVIRONMENT = ["CEKURA_API_KEY", "CEKURA_API_URL", "XDG_STATE_HOME"]
SEE_ALSO = ["fusermount3(1)", "mount.fuse3(8)", "fstab(5)", "systemd.service(5)"]

# Settings that give a unit a mount namespace of its own (systemd.exec(5),
# PrivateMounts= and MountFlags=): a FUSE mount made inside it never reaches the
# host, whatever MountFlags= says.
NAMESPACING = ["ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateMounts",
               "PrivateNetwork", "PrivateIPC", "ProtectKernelTunables", "ProtectKernelModules",
               "ProtectKernelLogs", "ProtectControlGroups", "ProtectProc", "ProcSubset",
               "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths",
               "BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem", "RootDirectory",
               "RootImage", "MountImages", "ExtensionImages", "ExtensionDirectories",
               "DynamicUser", "LogNamespace"]


def readme_section(title):
    """The text of the README's `## title` section."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"README.md has no section '## {title}'"
    return m.group(1)


def readme_options():
    """The option names of the README's Options table, in order."""
    names = re.findall(r"^\| `([a-z_]+)` \|", readme_section("Options"), re.M)
    assert len(names) >= 10, f"the README's Options table gave only {names}"
    return names


def readme_tree_names():
    """Every name in the README's tree drawing (`agents/`, `<id>/`, `refetch`, ...)."""
    names = re.findall(r"── (\S+)", readme_section("Files"))
    assert "refetch" in names and "by-name/" in names, f"the README's tree gave {names}"
    return names


def rendered_man_page():
    """The page as `man -l` shows it on an 80-column terminal, as plain text."""
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    p = subprocess.run(["man", "-l", MAN_PAGE], capture_output=True, text=True, env=env,
                       timeout=30 * harness.SLOW)
    assert p.returncode == 0, f"man -l exited {p.returncode}: {p.stderr}"
    assert p.stderr == "", f"man -l printed on stderr:\n{p.stderr}"
    return re.sub(r".\x08", "", p.stdout)  # overstrikes, should any be left


def test_the_man_page_renders_without_warnings():
    for tool in ("groff", "man"):
        assert shutil.which(tool), f"{tool} not found: install groff-base and man-db"
    p = subprocess.run(["groff", "-ww", "-z", "-man", MAN_PAGE], capture_output=True, text=True,
                       timeout=30 * harness.SLOW)
    assert p.returncode == 0, f"groff exited {p.returncode}: {p.stderr}"
    assert p.stderr == "", f"groff -ww warned:\n{p.stderr}"
    assert p.stdout == "", p.stdout

    page = rendered_man_page()
    headings = re.findall(r"^(\S.*)$", page, re.M)
    missing = [s for s in SECTIONS if s not in headings]
    assert not missing, f"sections missing from the man page: {missing}"
    missing = [n for n in readme_tree_names() + STATUS_NAMES if n not in page]
    assert not missing, f"files of the tree missing from the man page: {missing}"
    missing = [o for o in readme_options() if f"-o {o}=" not in page]
    assert not missing, f"-o options of the README missing from the man page: {missing}"
    missing = [w for w in FUSE_OPTIONS + FSTAB_WORDS + ENVIRONMENT + SEE_ALSO if w not in page]
    assert not missing, f"missing from the man page: {missing}"
    # The progress layout is documented exactly as the README gives it.
    layout = re.search(r"\n    (in_progress\n(?:    .*\n)+)", readme_section("Files")).group(1)
    lines = [line.strip() for line in layout.splitlines()]
    shown = [line.strip() for line in page.splitlines()]
    start = shown.index(lines[0]) if lines[0] in shown else -1
    assert start >= 0 and shown[start:start + len(lines)] == lines, \
        f"the progress layout differs from the README's:\n{layout}"


def test_the_systemd_unit_verifies():
    with open(UNIT, encoding="utf-8") as f:
        unit = f.read()
    settings = re.findall(r"^([A-Za-z]+)=(.*)$", unit, re.M)
    found = [k for k, _ in settings if k in NAMESPACING]
    assert not found, f"these give the unit its own mount namespace, hiding the mount: {found}"
    exec_start = [v for k, v in settings if k == "ExecStart"]
    command = f"{UNIT_DAEMON} -f cekurafs /mnt/cekura "
    assert len(exec_start) == 1 and exec_start[0].startswith(command), exec_start

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("    note: systemd-analyze not found; the unit was not verified", flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="cekurafs-unit-") as tmp:
        # The unit as installed, but starting the daemon under test (verify
        # checks that the command exists), and this man page on MANPATH (verify
        # checks Documentation=man:cekurafs(1) with man).
        path = os.path.join(tmp, "cekurafs.service")
        with open(path, "w", encoding="utf-8") as f:
            f.write(unit.replace(f"ExecStart={UNIT_DAEMON} ", f"ExecStart={harness.DAEMON} "))
        os.makedirs(os.path.join(tmp, "man", "man1"))
        shutil.copy(MAN_PAGE, os.path.join(tmp, "man", "man1", "cekurafs.1"))
        env = dict(os.environ, MANPATH=os.path.join(tmp, "man"))
        p = subprocess.run([analyze, "verify", path], capture_output=True, text=True, env=env,
                           timeout=60 * harness.SLOW)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"systemd-analyze verify exited {p.returncode}:\n{out}"
    ours = [line for line in out.splitlines() if "cekurafs" in line]
    assert not ours, "systemd-analyze verify:\n" + "\n".join(ours)
    if out.strip():
        print("    note: systemd-analyze verify, about other units:\n    "
              + out.strip().replace("\n", "\n    "), flush=True)
