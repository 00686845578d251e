"""The demo script runs in-process against two simulated hosts and every step succeeds."""

import json

from click.testing import CliRunner

from ovm3.cli.main import cli


def test_demo_runs_the_cloudstack_day():
    result = CliRunner().invoke(cli, ["demo"], standalone_mode=False)
    assert result.exception is None, result.output
    assert result.return_value == 0, result.output
    for command in (
        "HostSetup",
        "ModifyStoragePoolCommand",
        "StartCommand",
        "MigrateCommand",
        "StopCommand",
        "CreateObjectCommand",
        "DeleteStoragePoolCommand",
    ):
        assert command in result.output
    assert "0 failed" in result.output
    assert "demo-vnc-secret" not in result.output


def test_demo_json_prints_answers():
    result = CliRunner().invoke(cli, ["demo", "--json"], standalone_mode=False)
    assert result.return_value == 0, result.output
    steps = json.loads(result.output)
    assert all(s["result"] == "ok" for s in steps) and len(steps) >= 20
    start = [s for s in steps if s["command"] == "StartCommand"][0]
    assert start["answer"]["com.cloud.agent.api.StartAnswer"]["result"] is True
    assert "demo-vnc-secret" not in result.output


def test_demo_refuses_foreign_hosts_without_yes_modify(tmp_path):
    from ovm3.cli.cmd_demo import refuse_foreign
    from ovm3.cloudstack.host import ownership, server_info
    from tests.cloudstack_support import resources

    with resources(tmp_path) as (hosts, (r,)):
        ownership(r, server_info(r, refresh=True))
        r.invalidate()
        try:
            refuse_foreign([r], yes_modify=False)
            raise AssertionError("an owned host was not refused")
        except Exception as e:
            assert "--yes-modify" in str(e)
        refuse_foreign([r], yes_modify=True)


def test_demo_failure_exits_nonzero(tmp_path):
    from ovm3.cloudstack.demo import DemoEnv, run_day
    from tests.cloudstack_support import resources

    with resources(tmp_path, count=2) as (hosts, res):
        hosts[0].faults.add(method="discover_server", kind="fault", fault="exceptions.Exception:down")
        steps = run_day(res, DemoEnv())
        assert steps[-1].result == "FAILED" and "down" in steps[-1].details and len(steps) == 1


# ---- ``ovm3 demo --url``: the same day against hosts it did not start (simulated, reached as if real) ----

PASSWORD = "demo-agent-pw-5"


def _run(argv, capsys):
    from ovm3.cli.main import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out + err


def test_demo_url_runs_the_day_on_separate_hosts_and_refuses_them_once_owned(tmp_path, capsys, monkeypatch):
    from ovm3.cloudstack.demo import DemoEnv, prepare_simulated_secondary
    from ovm3.sim import simulated_agents

    monkeypatch.setenv("OVM3_PASSWORD", PASSWORD)
    env = DemoEnv()
    with simulated_agents(count=2, version="3.3", tls=True, root=tmp_path, password=PASSWORD) as hosts:
        prepare_simulated_secondary(hosts, env)
        argv = [
            "--fingerprint", hosts[0].fingerprint, "demo", "--url", hosts[0].url, "--url", hosts[1].url,
            "--vip", "192.168.1.230", "--primary", "nfs://%s%s" % (env.primary_host, env.primary_path),
            "--secondary", env.secondary_url, "--template", env.template_path,
            "--manager-uuid", "feedc0de" * 4,
        ]  # fmt: skip
        rc, output = _run(argv, capsys)
        assert rc == 0 and "0 failed" in output, output
        assert PASSWORD not in output and "demo-vnc-secret" not in output
        # each host is known by its own name and address, so the VM migrated from the first to the second
        assert "ovm-1" in output and "ovm-2" in output
        assert "migrate_vm" in hosts[0].calls.methods() and "take_ownership" in hosts[1].calls.methods()
        assert hosts[0].state.domains == {} and hosts[1].state.domains == {}

        # both hosts are now owned: a second run refuses them before changing anything
        for h in hosts:
            h.calls.clear()
        rc, output = _run(argv, capsys)
        assert rc == 2 and "already owned" in output and "--yes-modify" in output, output
        assert "ovm-1" in output
        for h in hosts:
            assert set(h.calls.methods()) <= {"discover_server"}, h.calls.methods()

        # --yes-modify lets the same installation (same manager uuid) run its day again
        rc, output = _run(argv + ["--yes-modify"], capsys)
        assert rc == 0 and "0 failed" in output, output

        # ... but never takes a host another installation owns
        other = [a if a != "feedc0de" * 4 else "0badc0de" * 4 for a in argv] + ["--yes-modify"]
        rc, output = _run(other, capsys)
        assert rc == 1 and "owned by manager feedc0de" in output, output
        assert [h.state.manager_uuid.replace("-", "") for h in hosts] == ["feedc0de" * 4] * 2


def test_demo_url_needs_storage_and_distinct_hosts(tmp_path, capsys, monkeypatch):
    from ovm3.sim import simulated_agents

    monkeypatch.setenv("OVM3_PASSWORD", PASSWORD)
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path, password=PASSWORD) as hosts:
        rc, output = _run(["demo", "--url", hosts[0].url], capsys)
        assert rc == 2 and "--primary" in output
        twice = ["demo", "--url", hosts[0].url, "--url", hosts[0].url, "--primary", "nfs://n/p",
                 "--secondary", "nfs://n/s", "--template", "t.raw"]  # fmt: skip
        rc, output = _run(twice, capsys)
        assert rc == 2 and "same host" in output, output
        assert "take_ownership" not in hosts[0].calls.methods()


def test_demo_resources_share_no_object_as_one_serve_per_host_would():
    # The demo proves what one ``ovm3 serve`` per host does only if no host's resource can reach
    # another's state: own client, own state table, own config; peers are views of their own.
    from ovm3.cli.cmd_demo import simulated

    with simulated(2, "3.3") as (resources, env):
        a, b = resources
        assert a.client is not b.client and a.vms is not b.vms and a.config is not b.config
        for r, other in ((a, b), (b, a)):
            (peer,) = r.peers.values()
            assert peer is not other and peer.client is not other.client and peer.vms is not other.vms
            assert peer.config is not other.config and peer.config == other.config


def test_demo_lines_one_per_step_each_with_details_and_where_the_agents_listen():
    result = CliRunner().invoke(cli, ["demo"], standalone_mode=False)
    assert result.return_value == 0, result.output
    lines = result.output.split("\n\n")[0].splitlines()  # the step lines, before the summary table
    assert lines[0] == "simulated agents:" and "https://127.0.0.1:" in lines[1] and "(192.168.1.64)" in lines[1]
    step_lines = [line for line in lines if line[:3].strip().isdigit() and "  " in line[3:6]]
    numbers = [int(line[:3]) for line in step_lines]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 20  # no step printed twice
    for line in step_lines:
        assert len(line) <= 160 and line.split("s  ", 1)[1].strip(), line  # every step says something


def test_demo_lines_on_a_terminal_rewrite_the_running_line_and_a_failure_shows_its_full_reason():
    import io

    from ovm3.cli.cmd_demo import line_printer
    from ovm3.cloudstack.demo import Step

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    report = line_printer(out)
    step = Step(1, "CopyCommand", "ovm-1", long=True)
    report(step)
    step.result, step.seconds, step.details = "FAILED", 1.5, "x" * 500
    report(step)
    text = out.getvalue()
    assert text.startswith("  1  CopyCommand") and "...\r\x1b[K  1  CopyCommand" in text
    assert "reason: " + "x" * 500 in text
    piped = io.StringIO()
    report = line_printer(piped)
    step = Step(2, "CopyCommand", "ovm-1", long=True)
    report(step)
    assert piped.getvalue() == ""  # piped: only the result line, never a "..." line first
