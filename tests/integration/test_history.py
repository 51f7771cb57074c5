"""history/: one directory per version of the agent (history_id), the newest
link, mtimes and `ls -t`, a version's files for both shapes of its collections,
the records a client must cope with, a history that follows the imports at once,
paging, and the names that do not exist (DESIGN.md section 7, "History"; the
simulator's records: contrib/cekura-sim.md).

Records of agent i (contrib/cekura-sim): the creation, i*1000+1 (type "+",
reason "Created", user ada@example.com, version "v1" when i % 3 == 0), then
i*1000+k for the k-th change (each completed import, either kind); agents
with i % 10 == 9 also have i*1000+900 (type "?"), one whose history_id is "x"
and i*1000+901 (mock_tools "not json"). Even agents send the collections as
arrays, odd ones as strings holding the JSON array."""

import errno
import json
import os
import stat

from harness import (API, errname, iso_time, os_errno, read_file, refetch, run, tools_refetch,
                     wait_status, wait_tools_status, write_file)

ENV = {"agents": 120}

VERSION_FILES = ("name", "language", "system_prompt", "dynamic_variables", "date", "change",
                 "reason", "user", "version", "record.json")
VERSION_DIRS = ("tools", "knowledge_base")


def records(env, agent):
    """The agent's history records that have an integer id, as the API sends them."""
    return [r for r in env.sim.history(agent)
            if isinstance(r["history_id"], int) and not isinstance(r["history_id"], bool)]


def newest_first(recs):
    """Record ids, newest first: history_date descending, ties to the larger id."""
    return [str(r["history_id"]) for r in
            sorted(recs, key=lambda r: (iso_time(r["history_date"]), r["history_id"]),
                   reverse=True)]


def value(v):
    return "" if v is None else f"{v}\n"


def change(history_type):
    """The text of `change` for a history_type."""
    return {"+": "created", "~": "changed", "-": "deleted"}.get(history_type, history_type) + "\n"


def collection(v):
    """A collection of a record: an array, or a string holding one."""
    return json.loads(v) if isinstance(v, str) else v


def ls_t(path):
    code, out, err, _ = run(f"ls -t {path}")
    assert code == 0, err
    return out.split()


def test_one_directory_per_version_newest_link_mtimes_and_ls_t(env):
    agent = 12  # elevenlabs, even
    refetch(env, agent)
    assert wait_status(env, agent, ("completed",)).startswith("completed\n")
    tools_refetch(env, agent)
    assert wait_tools_status(env, agent, ("completed",)).startswith("completed\n")
    hist = env.agent(agent, "history")
    since = env.sim.last_seq()
    names = os.listdir(hist)
    asked = env.sim.history_requests(agent, since)
    assert asked and "page_size=1000" in asked[0]["query"].split("&"), asked
    recs = records(env, agent)
    ids = [str(r["history_id"]) for r in recs]
    assert sorted(ids) == [f"{agent}001", f"{agent}002", f"{agent}003"], ids  # the simulator's
    assert sorted(names) == sorted(ids), names
    assert "newest" not in names
    order = newest_first(recs)
    assert os.readlink(os.path.join(hist, "newest")) == order[0]
    assert stat.S_ISLNK(os.lstat(os.path.join(hist, "newest")).st_mode)
    assert read_file(os.path.join(hist, "newest", "date")) == \
        read_file(os.path.join(hist, order[0], "date"))
    assert ls_t(hist) == order, (ls_t(hist), order)
    for r in recs:
        st = os.stat(os.path.join(hist, str(r["history_id"])))
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, oct(st.st_mode)
        want = iso_time(r["history_date"])
        assert abs(st.st_mtime_ns / 1e9 - want) < 1e-3, (r["history_id"], st.st_mtime_ns, want)
    # Kept for list_ttl: a second listing asks nothing.
    since = env.sim.last_seq()
    assert sorted(os.listdir(hist)) == sorted(ids)
    assert env.sim.history_requests(agent, since) == []


def check_creation_version(env, agent):
    hist = env.agent(agent, "history")
    hid = agent * 1000 + 1
    assert os.listdir(hist) == [str(hid)], os.listdir(hist)  # no import: the creation only
    rec = [r for r in records(env, agent) if r["history_id"] == hid][0]
    v = os.path.join(hist, str(hid))
    assert sorted(os.listdir(v)) == sorted(VERSION_FILES + VERSION_DIRS), os.listdir(v)
    for name in VERSION_FILES:
        st = os.stat(os.path.join(v, name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o444, (name, st)
    for name in VERSION_DIRS:
        st = os.stat(os.path.join(v, name))
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, (name, st)

    fields = {"name": value(rec["agent_name"]), "language": value(rec["language"]),
              "system_prompt": value(rec["description"]), "date": value(rec["history_date"]),
              "change": "created\n", "reason": "Created\n", "user": "ada@example.com\n",
              "version": "v1\n" if agent % 3 == 0 else ""}
    for name, want in fields.items():
        assert read_file(os.path.join(v, name)) == want, (agent, name)
    assert json.loads(read_file(os.path.join(v, "record.json"))) == rec
    assert read_file(os.path.join(v, "record.json")).endswith("}\n")

    # Before any import the creation version is the agent as it is now.
    a = env.agent(agent)
    for name in ("name", "language", "system_prompt", "dynamic_variables"):
        assert read_file(os.path.join(v, name)) == read_file(os.path.join(a, name)), name
    assert read_file(os.path.join(v, "dynamic_variables")).startswith("account_id\t")
    for d in VERSION_DIRS:
        code, out, err, _ = run(f"diff -r {v}/{d} {a}/{d}")
        assert (code, out, err) == (0, "", ""), (agent, d, code, out, err)
    assert sorted(os.listdir(os.path.join(v, "tools"))) == ["lookup_order.json",
                                                             "transfer_human.json"]
    assert sorted(os.listdir(os.path.join(v, "knowledge_base"))) == [
        "faq.pdf.json", "price list_2026.csv.json"]
    tools = {t["name"]: t for t in collection(rec["mock_tools"])}
    assert json.loads(read_file(os.path.join(v, "tools", "lookup_order.json"))) == \
        tools["lookup_order"]
    return rec


def test_a_versions_files_from_arrays_and_from_strings(env):
    rec = check_creation_version(env, 6)    # even: the collections as arrays
    assert isinstance(rec["mock_tools"], list), rec["mock_tools"]
    rec = check_creation_version(env, 11)   # odd: as strings holding the JSON array
    assert isinstance(rec["mock_tools"], str), rec["mock_tools"]


def test_odd_records_unknown_type_no_id_and_unreadable_tools(env):
    agent = 9
    hist = env.agent(agent, "history")
    everything = env.sim.history(agent)
    assert "x" in [r["history_id"] for r in everything]  # the simulator sends it
    recs = records(env, agent)
    by_id = {r["history_id"]: r for r in recs}
    assert set(by_id) == {9001, 9900, 9901}, set(by_id)
    assert sorted(os.listdir(hist)) == ["9001", "9900", "9901"], os.listdir(hist)
    assert os_errno(os.stat, os.path.join(hist, "x")) == errno.ENOENT
    assert os.readlink(os.path.join(hist, "newest")) == newest_first(recs)[0]
    assert ls_t(hist) == newest_first(recs)

    assert by_id[9900]["history_type"] == "?"
    for hid, r in by_id.items():
        assert read_file(os.path.join(hist, str(hid), "change")) == change(r["history_type"]), hid
    assert read_file(os.path.join(hist, "9900", "change")) == "?\n"
    assert read_file(os.path.join(hist, "9001", "change")) == "created\n"

    bad = os.path.join(hist, "9901")
    assert by_id[9901]["mock_tools"] == "not json"
    got = os_errno(os.listdir, os.path.join(bad, "tools"))
    assert got == errno.EPROTO, errname(got)
    code, _, err, _ = run(f"ls {bad}/tools")
    assert code != 0 and "Protocol error" in err, (code, err)
    got = os_errno(os.stat, os.path.join(bad, "tools", "lookup_order.json"))
    assert got == errno.EPROTO, errname(got)
    # The rest of that version reads.
    assert read_file(os.path.join(bad, "name")) == value(by_id[9901]["agent_name"])
    assert read_file(os.path.join(bad, "system_prompt")) == value(by_id[9901]["description"])
    assert collection(by_id[9901]["dynamic_variables"]) == \
        collection(by_id[9001]["dynamic_variables"])
    assert read_file(os.path.join(bad, "dynamic_variables")) == \
        read_file(os.path.join(hist, "9001", "dynamic_variables"))
    assert read_file(os.path.join(bad, "dynamic_variables")).startswith("account_id\t")
    assert len(os.listdir(os.path.join(bad, "knowledge_base"))) == \
        len(collection(by_id[9901]["knowledge_base_files"]))
    assert json.loads(read_file(os.path.join(bad, "record.json"))) == by_id[9901]
    # And the other versions' tools are fine.
    assert collection(by_id[9900]["mock_tools"]) == collection(by_id[9001]["mock_tools"])
    assert sorted(os.listdir(os.path.join(hist, "9001", "tools"))) == [
        "lookup_order.json", "transfer_human.json"]
    code, out, err, _ = run(f"diff -r {hist}/9900/tools {hist}/9001/tools")
    assert (code, out, err) == (0, "", ""), (code, out, err)


def test_history_follows_an_import_at_once_and_diff_shows_the_change(env):
    agent = 16  # retell, even; its agent import completes
    d = env.new_daemon(opts={"list_ttl": "3600"})  # only a completion can drop the cache
    d.start()
    hist = d.agent(agent, "history")
    old = f"{agent}001"
    assert os.listdir(hist) == [old], os.listdir(hist)

    refetch(d, agent)
    code, _, err, _ = run(f"cat {d.agent(agent, 'wait')} > /dev/null")
    assert code == 0, err
    new = f"{agent}002"
    assert sorted(os.listdir(hist)) == [old, new], os.listdir(hist)
    assert os.readlink(os.path.join(hist, "newest")) == new
    here = f"cd {d.agent(agent)} &&"
    code, out, err, _ = run(f"{here} diff history/{old}/system_prompt system_prompt")
    assert code == 1 and "Revision 1." in out, (code, out, err)
    code, out, err, _ = run(f"{here} diff history/newest/system_prompt system_prompt")
    assert (code, out) == (0, ""), (code, out, err)
    v = os.path.join(hist, new)
    for name, want in (("change", "changed\n"), ("reason", "Auto-fetch from provider\n"),
                       ("user", ""), ("version", "")):
        assert read_file(os.path.join(v, name)) == want, name

    tools_refetch(d, agent)
    code, _, err, _ = run(f"cat {d.agent(agent, 'tools-wait')} > /dev/null")
    assert code == 0, err
    newer = f"{agent}003"
    assert sorted(os.listdir(hist)) == [old, new, newer], os.listdir(hist)
    assert os.readlink(os.path.join(hist, "newest")) == newer
    assert "imported_tool_1.json" in os.listdir(os.path.join(hist, "newest", "tools"))
    assert "imported_tool_1.json" not in os.listdir(os.path.join(hist, new, "tools"))
    assert read_file(os.path.join(hist, newer, "reason")) == "Tools auto-fetch\n"
    code, out, err, _ = run(f"{here} diff -r history/newest/tools tools")
    assert (code, out) == (0, ""), (code, out, err)
    # whole versions compared: the tools import's version against the one before it
    code, out, err, _ = run(f"{here} diff -r history/{new} history/newest")
    assert code == 1 and "Only in history/newest/tools: imported_tool_1.json" in out, (code, out, err)
    assert "Tools auto-fetch" in out and "Auto-fetch from provider" in out, out
    code, out, err, _ = run(f"{here} diff -r history/{newer} history/newest")
    assert (code, out) == (0, ""), (code, out, err)
    d.stop()


def test_every_record_is_listed_once_across_pages(env):
    agent = 39  # bland (no tools import with "1"), odd, with the odd records
    refetch(env, agent)
    assert wait_status(env, agent, ("completed",)).startswith("completed\n")
    tools_refetch(env, agent, data='{"provider": "vapi", "assistant_id": "asst-39"}')
    assert wait_tools_status(env, agent, ("completed",)).startswith("completed\n")
    recs = records(env, agent)
    want = sorted(str(r["history_id"]) for r in recs)
    assert len(want) == 5, want  # 001, 900, 901, 002, 003 (and "x", skipped)
    before = env.sim.config()["page_cap"]
    try:
        env.sim.config(page_cap=2)
        since = env.sim.last_seq()
        names = os.listdir(env.agent(agent, "history"))
        pages = env.sim.history_requests(agent, since)
    finally:
        env.sim.config(page_cap=before)
    assert len(names) == len(set(names)) and sorted(names) == want, names
    assert len(pages) == 3, pages  # six records, two a page
    assert all(e["status"] == 200 for e in pages), pages
    assert os.readlink(env.agent(agent, "history/newest")) == newest_first(recs)[0]


def test_ids_that_do_not_exist_and_non_canonical_ids_are_enoent(env):
    agent = 3
    hist = env.agent(agent, "history")
    assert os.listdir(hist) == ["3001"]
    for name in ("123", "0042", "03001", "+3001", "3001 ", "3002", "6001", "0", "-1", "x", "new"):
        got = os_errno(os.stat, os.path.join(hist, name))
        assert got == errno.ENOENT, f"{name!r}: {errname(got)}"
    assert os_errno(os.stat, os.path.join(hist, "3001", "nothing")) == errno.ENOENT
    # Read-only, changes refused.
    assert os_errno(os.mkdir, os.path.join(hist, "5")) == errno.EPERM
    assert os_errno(os.unlink, os.path.join(hist, "3001", "name")) == errno.EPERM
    assert write_file(os.path.join(hist, "3001", "name"), "x") == errno.EACCES


def test_a_failed_history_fetch_is_an_error_with_its_line(env):
    agent = 27
    env.sim.add_fault(match=f"{API}{agent}/history/", method="GET", kind="status", status=503,
                      detail="busy")
    try:
        code, out, err, _ = run(f"ls {env.agent(agent, 'history')}")
    finally:
        env.sim.clear_faults()
    assert code != 0 and "Input/output error" in err, (code, out, err)
    assert read_file(env.agent(agent, "error")) == "history: HTTP 503: busy\n"
    assert os.listdir(env.agent(agent, "history")) == [f"{agent}001"]  # once the fault is gone
