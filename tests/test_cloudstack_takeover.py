"""Management-side verdict API and ``ovm3 fence check`` against an agent on 127.0.0.1.

The agent stub answers ``check_dom0_storage_verdict`` by running the real host-side ``verdict()`` on a
state file written the way the heartbeat daemon writes it.
"""
import json
import os
import sys

import pytest

from ovm3.cloudstack import takeover
from ovm3.cli.main import main
from ovm3.client import AgentClient
from ovm3.wire import dumps_response
from tests.conftest import STUB_PASSWORD

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "hostlib"), os.path.join(REPO, "fencing")]
import ovm3_compat  # noqa: E402
import ovm3_hb_verdict  # noqa: E402
import ovm3_heartbeat  # noqa: E402

MOUNT = "/repo/one"


def record(seq, **kw):
    rec = {"guid": "host-a", "instance": "1-1", "seq": seq, "interval": 0.2, "timeout": 1.0, "policy": "any",
           "mounts": 1, "time": 1.0, "state": "running", "fence": "crash", "watchdog": "armed",
           "watchdog_timeout": 0.5, "conflict": "0", "boot": "b-1", "version": 2}
    rec.update(kw)
    return rec


def daemon_state(tmp_path, progress_until, total=5.0, **kw):
    """A state file as a reader daemon would leave it: reads every 0.2 s for ``total`` seconds up to
    now, the host's sequence advancing until ``progress_until`` seconds before now."""
    now = ovm3_compat.monotonic()
    book = ovm3_hb_verdict.PeerBook(0.2, 0.5)
    t = now - total
    n = 0
    while t <= now:
        if t <= now - progress_until:
            n += 1
        book.read_ok(MOUNT, {"host-a": ("ok", record(n, **kw))}, t - 0.01, t)
        t += 0.2
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "peers.state").write_text(book.to_text(1, "boot-x"))
    (tmp_path / "boot_id").write_text("boot-x\n")
    config = ovm3_heartbeat.ovm3_hb_config.defaults()
    config["state_dir"] = str(state)
    paths = dict(ovm3_heartbeat.default_paths(), boot_id=str(tmp_path / "boot_id"),
                 mountinfo=str(tmp_path / "no-mounts"))
    return config, paths


def serve_verdict(stub, config, paths):
    def reply(params):
        return dumps_response(ovm3_heartbeat.verdict(config, params[0], paths))
    stub.replies["check_dom0_storage_verdict"] = reply


@pytest.fixture
def peer(stub_agent):
    with AgentClient(stub_agent.url, password=STUB_PASSWORD) as client:
        yield client


def test_alive(tmp_path, stub_agent, peer):
    serve_verdict(stub_agent, *daemon_state(tmp_path, progress_until=0.0))
    v = takeover.check_host(peer, "host-a")
    assert v.state == takeover.ALIVE and v.exit_code == 0 and v.observed_by == "daemon"
    assert not v.safe_to_take_over()
    assert stub_agent.calls == [("check_dom0_storage_verdict", ("host-a",))]


def test_dead_is_safe_only_after_timeout_plus_latency_plus_margin(tmp_path, stub_agent, peer):
    serve_verdict(stub_agent, *daemon_state(tmp_path, progress_until=3.0))
    v = takeover.check_host(peer, "host-a")
    assert v.state == takeover.DEAD, v.reason
    assert v.timeout == 1.0 and 2.9 <= v.since_progress <= 4.0
    assert not v.safe_to_take_over(fence_latency=5.0, margin=1.0)
    assert v.safe_to_take_over(fence_latency=1.0, margin=0.5)
    # Time passing after the answer counts too (on this process's monotonic clock).
    assert v.safe_to_take_over(fence_latency=5.0, margin=1.0, now=v.received + 4.0)
    assert not v.safe_to_take_over(fence_latency=1.0, margin=0.5, clustered=True, now=v.received)
    assert v.takeover_after(clustered=True) == takeover.O2CB_FENCE_SECONDS + takeover.DEFAULT_MARGIN


def test_takeover_waits_for_the_advertised_watchdog_timeout(tmp_path, stub_agent, peer):
    # A host whose watchdog fires only after 30 s: the configured 1 s fence latency is only a floor.
    serve_verdict(stub_agent, *daemon_state(tmp_path, progress_until=3.0, watchdog_timeout=30.0))
    v = takeover.check_host(peer, "host-a")
    assert v.state == takeover.DEAD and v.watchdog_timeout == 30.0
    assert v.takeover_after(fence_latency=1.0, margin=0.5) == 1.0 + 30.0 + 0.5
    assert not v.safe_to_take_over(fence_latency=1.0, margin=0.5, now=v.received + 20.0)
    assert v.safe_to_take_over(fence_latency=1.0, margin=0.5, now=v.received + 29.0)


def test_unknown_is_never_safe(tmp_path, stub_agent, peer):
    serve_verdict(stub_agent, *daemon_state(tmp_path, progress_until=3.0, watchdog="none"))
    v = takeover.check_host(peer, "host-a")
    assert v.state == takeover.UNKNOWN and "watchdog" in v.reason
    assert not v.safe_to_take_over(fence_latency=0.0, margin=0.0, now=v.received + 10 ** 6)


def test_peer_trouble_and_bad_replies_are_unknown(stub_agent, peer):
    stub_agent.replies["check_dom0_storage_verdict"] = ("fault", 1, "exceptions.RuntimeError:boom")
    v = takeover.check_host(peer, "host-a")
    assert v.state == takeover.UNKNOWN and "could not answer" in v.reason
    stub_agent.replies["check_dom0_storage_verdict"] = lambda p: dumps_response({"verdict": "MAYBE"})
    assert takeover.check_host(peer, "host-a").state == takeover.UNKNOWN
    # A DEAD without timing cannot be acted on.
    stub_agent.replies["check_dom0_storage_verdict"] = lambda p: dumps_response({"verdict": "DEAD",
                                                                                  "reason": "x"})
    assert takeover.check_host(peer, "host-a").state == takeover.UNKNOWN
    with AgentClient("http://127.0.0.1:1", password="x", retries=0) as gone:
        assert takeover.check_host(gone, "host-a").state == takeover.UNKNOWN


def test_combine_needs_every_peer_dead():
    dead = takeover.Verdict(takeover.DEAD, "d", "g", "p1", 500.0, 1.0)
    unknown = takeover.Verdict(takeover.UNKNOWN, "u", "g", "p2")
    alive = takeover.Verdict(takeover.ALIVE, "a", "g", "p3", 0.1, 1.0)
    assert takeover.combine([dead, dead]).state == takeover.DEAD
    assert takeover.combine([dead, unknown]).state == takeover.UNKNOWN
    assert takeover.combine([dead, alive, unknown]).state == takeover.ALIVE


@pytest.mark.parametrize("progress_until,code,state", [(0.0, 0, "ALIVE"), (3.0, 3, "DEAD")])
def test_cli_fence_check(tmp_path, stub_agent, monkeypatch, capsys, progress_until, code, state):
    serve_verdict(stub_agent, *daemon_state(tmp_path, progress_until=progress_until))
    monkeypatch.setenv("OVM3_PASSWORD", STUB_PASSWORD)
    assert main(["--json", "fence", "check", "host-a", "--via", stub_agent.url]) == code
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == state and data["safe_to_take_over"] is False
    assert main(["fence", "check", "host-a", "--via", stub_agent.url, "--fence-latency", "0",
                 "--margin", "0"]) == code
    out = capsys.readouterr().out
    assert "verdict:" in out and state in out
    if state == "DEAD":
        assert "safe to take over:   yes" in out or "yes" in out.split("safe to take over:")[1]
