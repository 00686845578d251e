"""The direct-connect protocol's rules, through :func:`ovm3.cloudstack.protocol.answer` (no sockets):
the startup guid check, unknown and missing fields, the command's ``wait`` bounding agent calls."""

import json
import time

from ovm3.cloudstack import protocol
from tests.cloudstack_support import VM, resources

STARTUP = "com.cloud.agent.api.StartupRoutingCommand"
EXPORT, MOUNT = "nfs-1:/export/primary", "/nfsmnt/f12842ebf5ed3fe78da1eb0e17f5ede8"


def _startup_body(guid):
    return json.dumps([{STARTUP: {"dataCenter": "1", "pod": "2", "cluster": "3", "guid": guid,
                                  "name": "cs-name", "privateIpAddress": "10.9.9.9", "wait": 0}}]).encode()  # fmt: skip


def test_startup_guid_must_be_the_heartbeat_configs_and_failure_names_both(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        h = hosts[0]
        h.state.mount(EXPORT, MOUNT)
        hb = h.heartbeat("11111111-2222-3333-4444-555555555555", [MOUNT])
        try:
            other = "99999999-0000-0000-0000-000000000000"
            status, payload = protocol.answer(r, protocol.STARTUP, _startup_body(other))
            assert status == 409
            assert "99999999-0000" in payload["error"] and "11111111-2222" in payload["error"], payload
            mine = "11111111-2222-3333-4444-555555555555"
            status, payload = protocol.answer(r, protocol.STARTUP, _startup_body(mine))
            assert status == 200, payload
            (cmd,) = payload
            assert cmd[STARTUP]["guid"] == "11111111-2222-3333-4444-555555555555"
            assert cmd[STARTUP]["privateIpAddress"] == "10.9.9.9" and cmd[STARTUP]["name"] == "cs-name"
            assert r.config.guid == "11111111-2222-3333-4444-555555555555"  # later reports carry it
        finally:
            hb.close()


def test_startup_alias_and_an_empty_body_use_the_agent_derived_identity(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        for name, raw in (("startup", b""), (protocol.STARTUP, b"")):
            status, (cmd,) = protocol.answer(r, name, raw)
            assert status == 200 and cmd[STARTUP]["guid"] == r.config.guid
        status, payload = protocol.answer(r, protocol.STARTUP, b'[{"com.cloud.agent.api.PingCommand": {}}]')
        assert status == 400 and "StartupRoutingCommand" in payload["error"]
        for bad in ("x; reboot", "11111111-2222-3333-4444-555555555555\n", "../../etc", 7):
            status, payload = protocol.answer(r, protocol.STARTUP, json.dumps([{STARTUP: {"guid": bad}}]).encode())
            assert status == 400 and "not a UUID" in payload["error"], bad
        assert hosts[0].calls.methods().count("get_module_info") == 2  # only the two good startups asked


def test_ping_answer_is_false_when_the_agent_is_down(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        status, (ans,) = protocol.answer(r, protocol.PING, b'{"hostType": "Routing", "hostId": 3, "newField": 1}')
        assert status == 200 and ans["com.cloud.agent.api.Answer"]["result"] is True
        hosts[0].faults.add(method="echo", kind="fault", fault="exceptions.Exception:down", count=1)
        status, (ans,) = protocol.answer(r, protocol.PING, b"{}")
        assert status == 200 and ans["com.cloud.agent.api.Answer"]["result"] is False


def test_unknown_fields_are_ignored_and_a_missing_required_field_is_named(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        body = {"vmName": "nope", "someFutureField": {"x": [1]}, "contextMap": {"logid": "abc"}, "wait": 0}
        status, (ans,) = protocol.answer(r, "com.cloud.agent.api.StopCommand", json.dumps(body).encode())
        assert status == 200 and ans["com.cloud.agent.api.StopAnswer"]["result"] is True
        status, (ans,) = protocol.answer(r, "com.cloud.agent.api.StopCommand", b'{"contextMap": {}, "wait": 0}')
        stop = ans["com.cloud.agent.api.StopAnswer"]
        assert status == 200 and stop["result"] is False and "'vmName'" in stop["details"]
        status, payload = protocol.answer(r, "com.cloud.agent.api.ScaleVmCommand", b"{}")
        assert status == 404 and "UnsupportedAnswer" in json.dumps(payload)


def test_a_commands_wait_bounds_its_agent_calls(tmp_path):
    # The agent takes 20 s to answer list_vms; CloudStack gives the command 1 s: the answer is a failed
    # one naming the timeout, well before the agent would have answered (retries included).
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(method="list_vms", kind="latency", delay=20, count=3)
        started = time.monotonic()
        status, (ans,) = protocol.answer(r, "com.cloud.agent.api.StopCommand",
                                         json.dumps({"vmName": VM, "wait": 1}).encode())  # fmt: skip
        stop = ans["com.cloud.agent.api.StopAnswer"]
        assert stop["result"] is False and "AgentTimeout" in stop["details"], stop
        assert time.monotonic() - started < 15
        # without a wait the client's own timeouts apply (and the bound does not linger on the thread)
        assert getattr(r.client.transport._bound, "end", None) is None


def test_the_bound_also_ends_polls(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        r.stop_timeout = 600.0
        with r.bounded(0.2):
            deadline = r.deadline(600.0)
            started = time.monotonic()
            while deadline.wait():
                pass
        assert time.monotonic() - started < 10
