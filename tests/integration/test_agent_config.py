"""The agent's configuration as files: agent.json, one value per file, tools/,
knowledge_base/, dynamic_variables, and agents/by-name/ links (contrib/cekura-sim.md,
"Agent configuration", says which ids have which odd names and lists)."""

import errno
import json
import os
import stat

from harness import API, errname, os_errno, read_file, run, write_file

ENV = {"agents": 120}

VALUE_FILES = {
    "name": lambda a: a["name"],
    "system_prompt": lambda a: a["description"],
    "language": lambda a: a["language"],
    "provider": lambda a: a["provider"]["type"],
    "provider_agent_id": lambda a: a["provider"]["agent_id"],
    "phone_number": lambda a: a["telephony"]["phone_number"],
    "updated_at": lambda a: a["updated_at"],
}


def api_agent(env, agent_id):
    return env.sim.api_get(f"{API}{agent_id}/")


def expected_value(value):
    return "" if value is None else f"{value}\n"


def test_every_value_file_shows_the_api_value(env):
    for agent_id in (6, 7, 37):
        agent = api_agent(env, agent_id)
        for name, pick in VALUE_FILES.items():
            got = read_file(env.agent(agent_id, name))
            assert got == expected_value(pick(agent)), (agent_id, name, got)


def test_agent_json_is_the_agent_pretty_printed_in_order(env):
    agent = api_agent(env, 6)
    text = read_file(env.agent(6, "agent.json"))
    assert json.loads(text) == agent
    assert list(json.loads(text)) == list(agent)  # keys in the order received
    assert text.startswith('{\n  "id": 6,\n  "name": '), text[:40]
    assert text.endswith("}\n")
    assert "\\u00e9" not in read_file(env.agent(37, "agent.json"))  # UTF-8 kept as it came
    assert "Café ☕ 37" in read_file(env.agent(37, "agent.json"))


def test_tools_are_one_json_file_each_with_nested_mock_data(env):
    agent = api_agent(env, 6)
    assert sorted(os.listdir(env.agent(6, "tools"))) == ["lookup_order.json", "transfer_human.json"]
    by_name = {t["name"]: t for t in agent["mock_tools"]}
    lookup = json.loads(read_file(env.agent(6, "tools/lookup_order.json")))
    assert lookup == by_name["lookup_order"]
    assert lookup["mock_data"][0]["output"]["tracking"]["events"][0]["where"] == "Oakland"
    assert json.loads(read_file(env.agent(6, "tools/transfer_human.json"))) == by_name["transfer/human"]
    st = os.stat(env.agent(6, "tools"))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555
    st = os.stat(env.agent(6, "tools/lookup_order.json"))
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o444
    assert st.st_size == len(read_file(env.agent(6, "tools/lookup_order.json")).encode())


def test_knowledge_base_files_and_dynamic_variables(env):
    agent = api_agent(env, 6)
    assert sorted(os.listdir(env.agent(6, "knowledge_base"))) == ["faq.pdf.json",
                                                                   "price list_2026.csv.json"]
    files = {f["file_name"]: f for f in agent["knowledge_base_files"]}
    got = json.loads(read_file(env.agent(6, "knowledge_base/price list_2026.csv.json")))
    assert got == files["price list/2026.csv"]
    assert read_file(env.agent(6, "dynamic_variables")) == (
        "account_id\tCaller's account\ncustomer_name\tCaller's name with a tab\n")
    code, out, err, _ = run(f"cut -f1 {env.agent(6, 'dynamic_variables')}")
    assert (code, out) == (0, "account_id\ncustomer_name\n"), err


def test_an_agent_with_no_tools_variables_or_phone(env):
    assert os.listdir(env.agent(5, "tools")) == []
    assert os.listdir(env.agent(5, "knowledge_base")) == []
    for name in ("dynamic_variables", "phone_number"):
        assert read_file(env.agent(5, name)) == "", name
    assert os_errno(os.stat, env.agent(5, "tools/lookup_order.json")) == errno.ENOENT


def test_by_name_links_to_every_agent_with_safe_unique_names(env):
    byname = env.daemon.path("agents", "by-name")
    names = os.listdir(byname)
    assert len(names) == 120 and len(set(names)) == 120, len(names)
    links = {n: os.readlink(os.path.join(byname, n)) for n in names}
    assert links["Sales_Support 7"] == "../7"                 # '/' replaced
    assert links["Line_Break_Agent 17"] == "../17"            # control characters replaced
    assert links["Café ☕ 37"] == "../37"                      # UTF-8 kept
    for i in (27, 28, 77, 78):                                # the same name: told apart by id
        assert links[f"Duplicate Agent-{i}"] == f"../{i}"
    assert links["_.-38"] == "../38" and links["_..-39"] == "../39"  # never . or ..
    assert links["_-47"] == "../47"                           # never empty
    assert "Duplicate Agent" not in links
    assert read_file(os.path.join(byname, "Sales_Support 7", "name")) == "Sales/Support 7\n"
    st = os.lstat(os.path.join(byname, "Sales_Support 7"))
    assert stat.S_ISLNK(st.st_mode)
    code, out, err, _ = run(f"ls -l '{byname}' | grep -c -- '-> \\.\\./'")
    assert (code, out) == (0, "120\n"), (out, err)
    # by-name is reachable but not listed: `ls agents` counts agents
    assert "by-name" not in os.listdir(env.daemon.path("agents"))
    assert os_errno(os.readlink, os.path.join(byname, "No Such Agent")) == errno.ENOENT


def test_the_listing_and_stat_stay_cheap(env):
    d = env.new_daemon()
    d.start()
    since = env.sim.last_seq()
    assert len(os.listdir(d.path("agents", "by-name"))) == 120
    st = os.stat(d.agent(8, "system_prompt"))  # before any open: a page, no request
    assert st.st_size == 4096
    kinds = {e["path"] for e in env.sim.requests(since=since)}
    assert kinds == {API + "short_list/"}, kinds  # the short list only, no agent fetched
    since = env.sim.last_seq()
    for name in ("name", "system_prompt", "agent.json", "tools/lookup_order.json"):
        read_file(d.agent(8, name))
    gets = env.sim.requests(agent=8, since=since)
    assert [e["path"] for e in gets] == [f"{API}8/"], gets  # one GET serves every file
    d.stop()


def test_refetch_then_wait_shows_the_new_prompt_and_diff_shows_the_change(env):
    agent = 16  # an agent whose auto-fetch works (not id % 10 in (3, 4))
    before = read_file(env.agent(agent, "system_prompt"))
    assert "Revision" not in before, before
    code, _, err, _ = run(f"cp {env.agent(agent, 'agent.json')} /tmp/cekurafs-before.json")
    assert code == 0, err
    code, out, err, _ = run(f"echo 1 > {env.agent(agent, 'refetch')} && cat {env.agent(agent, 'wait')} >/dev/null"
                            f" && cat {env.agent(agent, 'system_prompt')}")
    assert code == 0, err
    assert out == before.replace("short.\n", "short. Revision 1.\n"), out
    code, out, err, _ = run(f"diff /tmp/cekurafs-before.json {env.agent(agent, 'agent.json')}")
    assert code == 1, (code, err)  # they differ
    assert "Revision 1." in out and '"updated_at"' in out, out
    os.unlink("/tmp/cekurafs-before.json")


def test_configuration_files_are_read_only(env):
    for path in (env.agent(9, "name"), env.agent(9, "tools/lookup_order.json")):
        assert write_file(path, "x") == errno.EACCES, path
    assert os_errno(os.mkdir, env.agent(9, "tools/new")) == errno.EPERM
    assert os_errno(os.unlink, env.agent(9, "tools/lookup_order.json")) == errno.EPERM
    assert os_errno(os.symlink, "../9", env.daemon.path("agents", "by-name", "x")) == errno.EPERM
    got = os_errno(open, env.agent(9, "tools"))
    assert got == errno.EISDIR, errname(got)


def test_a_failed_fetch_is_an_error_with_its_line(env):
    os.listdir(env.daemon.path("agents"))  # a fresh listing: the lookup of agents/19 asks nothing
    env.sim.add_fault(match=f"{API}19/", method="GET", kind="status", status=503, detail="busy")
    try:
        code, out, err, _ = run(f"cat {env.agent(19, 'system_prompt')}")
    finally:
        env.sim.clear_faults()
    assert code != 0 and "Input/output error" in err, (code, out, err)
    assert read_file(env.agent(19, "error")) == "config: HTTP 503: busy\n"
    assert read_file(env.agent(19, "name")).endswith(" 19\n")  # works once the fault is gone
