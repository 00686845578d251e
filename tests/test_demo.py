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
    from ovm3.resource.host import ownership, server_info
    from tests.test_resource_support import resources

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
    from ovm3.resource.demo import DemoEnv, run_day
    from tests.test_resource_support import resources

    with resources(tmp_path, count=2) as (hosts, res):
        hosts[0].faults.add(method="discover_server", kind="fault", fault="exceptions.Exception:down")
        steps = run_day(res, DemoEnv())
        assert steps[-1].result == "FAILED" and "down" in steps[-1].details and len(steps) == 1
