"""Fault injection rules fire: fault, latency, hang, drop, garbage; counts, probability, arguments;
set from Python, from a JSON file and over the admin endpoint while the server runs."""

import json
import threading
import time
import urllib.request

import pytest

from ovm3 import errors
from ovm3.sim import simulated_agents
from ovm3.sim.faultrules import FaultRules


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    with simulated_agents(count=1, root=tmp_path_factory.mktemp("faults")) as hs:
        yield hs


@pytest.fixture()
def h(hosts):
    host = hosts[0]
    host.faults.clear()
    host.calls.clear()
    yield host
    host.faults.clear()


def test_fault_with_count(h):
    h.faults.add(method="echo", kind="fault", fault="exceptions.Exception:boom", count=2)
    c = h.client(retries=0)
    for _ in range(2):
        with pytest.raises(errors.AgentFault) as ei:
            c.call("echo", "x")
        assert ei.value.fault_string == "exceptions.Exception:boom" and ei.value.fault_code == 1
    assert c.call("echo", "x") == "x"
    assert [r.injected for r in h.calls] == ["fault", "fault", None]


def test_fault_matching_arguments(h):
    h.faults.add(method="echo", args={0: "bad*"}, fault="exceptions.RuntimeError:no")
    c = h.client()
    assert c.call("echo", "good") == "good"
    with pytest.raises(errors.AgentFault):
        c.call("echo", "bad-one")


def test_latency(h):
    h.faults.add(method="echo", kind="latency", delay=0.3, count=1)
    c = h.client()
    t0 = time.monotonic()
    assert c.call("echo", "slow") == "slow"
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    c.call("echo", "fast")
    assert time.monotonic() - t0 < 0.3


def test_hang_until_released(h):
    rule = h.faults.add(method="echo", kind="hang", count=1)
    c = h.client()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("v", c.call("echo", "late")))
    t.start()
    t.join(0.3)
    assert t.is_alive(), "the hung call returned before release"
    h.faults.release(rule.id)
    t.join(5)
    assert result["v"] == "late"


def test_hang_times_out_client(h):
    h.faults.add(method="discover_server", kind="hang", count=1, timeout=5)
    from ovm3.transport import Timeouts

    c = h.client(timeouts=Timeouts(connect=2, short=0.3), retries=0)
    with pytest.raises(errors.AgentTimeout):
        c.call("discover_server")
    h.faults.release()


def test_drop_mid_response(h):
    h.faults.add(method="echo", kind="drop", count=1)
    with pytest.raises((errors.AgentUnreachable, errors.ProtocolError)):
        h.client(retries=0).call("echo", "x")
    assert h.client().call("echo", "after") == "after"


def test_drop_body_is_really_cut(h):
    h.faults.add(method="discover_server", kind="drop", count=1)
    with pytest.raises(errors.ProtocolError) as ei:
        h.client(retries=0).call("discover_server")
    assert "truncated" in str(ei.value)


def test_garbage(h):
    h.faults.add(method="echo", kind="garbage", count=1)
    with pytest.raises(errors.ProtocolError):
        h.client().call("echo", "x")


def test_probability_is_seeded_and_partial():
    rules = FaultRules(seed=7)
    rules.add(method="echo", probability=0.5)
    fired = sum(1 for _ in range(200) if rules.pick("echo", ["x"]))
    assert 60 < fired < 140
    rules2 = FaultRules(seed=7)
    rules2.add(method="echo", probability=0.0)
    assert not any(rules2.pick("echo", ["x"]) for _ in range(50))


def test_rules_from_json_file(h, tmp_path):
    path = tmp_path / "faults.json"
    path.write_text(
        json.dumps([{"method": "get_*", "kind": "fault", "fault": "exceptions.Exception:json", "count": 1}])
    )
    h.faults.load_file(str(path))
    with pytest.raises(errors.AgentFault) as ei:
        h.client().call("get_timezone")
    assert "json" in ei.value.fault_string
    with pytest.raises(ValueError):
        h.faults.load([{"kind": "explode"}])
    with pytest.raises(ValueError):
        h.faults.load([{"method": "x", "colour": "red"}])


def _admin(h, path, payload=None, token=None):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(
        h.url + path,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"X-Sim-Token": token or h.admin_token},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


def test_admin_endpoint_adds_lists_and_releases(h):
    out = _admin(
        h,
        "/_sim/faults",
        {"method": "echo", "kind": "fault", "fault": "exceptions.Exception:admin", "count": 1},
    )
    assert out["added"][0]["method"] == "echo"
    assert len(_admin(h, "/_sim/faults")["rules"]) == 1
    with pytest.raises(errors.AgentFault):
        h.client().call("echo", "x")
    calls = _admin(h, "/_sim/calls")["calls"]
    assert calls[-1]["method"] == "echo" and calls[-1]["injected"] == "fault"
    _admin(h, "/_sim/faults/clear", {})
    assert _admin(h, "/_sim/faults")["rules"] == []
    with pytest.raises(urllib.error.HTTPError) as ei:
        _admin(h, "/_sim/faults", token="wrong")
    assert ei.value.code == 403


def test_probability_over_the_admin_endpoint_fires_on_some_calls_only(h):
    _admin(h, "/_sim/faults", {"method": "echo", "probability": 0.5, "fault": "exceptions.Exception:coin"})
    c = h.client(retries=0)
    faulted = 0
    for i in range(60):
        try:
            c.call("echo", str(i))
        except errors.AgentFault:
            faulted += 1
    assert 5 < faulted < 55  # binomial(60, 0.5): outside this range about once in 10**11 runs
    assert [r.injected == "fault" for r in h.calls].count(True) == faulted
