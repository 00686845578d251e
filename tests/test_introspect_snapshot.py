"""Snapshots: the shipped synthetic files stay in step with the API table; loading; client signatures."""
import json

import pytest

from ovm3.api import TABLE, VERSIONS
from ovm3.cli.main import main
from ovm3.errors import ConfigError, SignatureError
from ovm3.sim import simulated_agents
from ovm3.tools import signatures, snapshot, synthetic


@pytest.mark.parametrize("version", VERSIONS)
def test_shipped_snapshot_matches_the_table(version):
    """Fails when table and shipped file drift: regenerate with `ovm3 introspect snapshot`."""
    with open(snapshot.shipped_path(version), encoding="ascii") as f:
        shipped = f.read()
    assert shipped == snapshot.dumps(synthetic.from_table(version)), (
        "tools/snapshots/ovs-agent-%s.json is out of date with ovm3.api.TABLE; run "
        "`ovm3 introspect snapshot --version %s --out tools/snapshots/ovs-agent-%s.json`" % (
            version, version, version))


@pytest.mark.parametrize("version", VERSIONS)
def test_shipped_snapshot_says_it_is_synthetic(version):
    snap = snapshot.load(snapshot.shipped_path(version))
    assert snap.synthetic and snap.source == "table" and snap.agent_version == version
    assert snap.data["host"] is None and snap.data["time"] is None
    assert "not dumped from a real host" in snap.data["note"]
    assert sorted(snap.services) == sorted(m.wire for m in TABLE.for_version(version))


def test_unknown_names_are_marked_not_invented():
    snap = snapshot.load(snapshot.shipped_path("3.3"))
    for method in TABLE.for_version("3.3"):
        recorded = snap.service(method.wire).params
        assert [(p.name, p.name_known, p.type) for p in recorded] == [
            (p.name, p.name_known, p.type) for p in method.params("3.3")]
    take = snap.service("take_ownership")
    assert [(p.name, p.name_known) for p in take.params] == [("ownership", False)]
    old = snapshot.load(snapshot.shipped_path("3.2")).service("take_ownership")
    assert [(p.name, p.name_known) for p in old.params] == [("manager_uuid", True),
                                                            ("manager_core_api_url", True)]


def test_table_defaults_are_typed_values():
    snap = snapshot.load(snapshot.shipped_path("3.2"))
    mkdirs = snap.service("ovs_mkdirs").params[1]
    assert mkdirs.default == {"type": "int", "repr": "448", "value": 448}
    option = snap.service("import_virtual_disk").params[3]
    assert option.default == {"type": "none", "repr": "None", "value": None}


def test_drift_is_detected_by_the_check_command(tmp_path, capsys):
    assert main(["introspect", "snapshot", "--check"]) == 0
    out_dir = tmp_path / "snaps"
    out_dir.mkdir()
    assert main(["introspect", "snapshot", "--out-dir", str(out_dir)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["ovs-agent-%s.json" % v for v in VERSIONS]
    assert main(["introspect", "snapshot", "--check", "--out-dir", str(out_dir)]) == 0
    # Simulate a table change: one shipped file no longer matches.
    stale = out_dir / "ovs-agent-3.3.json"
    data = json.loads(stale.read_text())
    data["services"] = data["services"][1:]
    stale.write_text(snapshot.dumps(data))
    capsys.readouterr()
    assert main(["introspect", "snapshot", "--check", "--out-dir", str(out_dir)]) == 3
    assert "ovs-agent-3.3.json" in capsys.readouterr().err


def test_regeneration_is_byte_identical(tmp_path):
    out = tmp_path / "3.2.json"
    assert main(["introspect", "snapshot", "--version", "3.2", "--out", str(out)]) == 0
    with open(snapshot.shipped_path("3.2"), encoding="ascii") as f:
        assert out.read_text() == f.read()


def test_snapshot_out_needs_one_version(tmp_path):
    assert main(["introspect", "snapshot", "--out", str(tmp_path / "x.json")]) == 2


def test_load_errors_are_config_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "ovm3-api-snapshot", "schema_version": 1, "services": [{"params": []}]}')
    with pytest.raises(ConfigError, match="has no name"):
        snapshot.load(str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        snapshot.load(str(tmp_path / "absent.json"))
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="UTF-8"):
        snapshot.load(str(tmp_path / "bin.json"))


def test_dumps_is_deterministic_and_sorted():
    a = snapshot.build([{"name": "b", "params": []}, {"name": "a", "params": []}], "3.2", time="t",
                       source="ssh")
    b = snapshot.build([{"name": "a", "params": []}, {"name": "b", "params": []}], "3.2", time="t",
                       source="ssh")
    assert snapshot.dumps(a) == snapshot.dumps(b)
    assert [s["name"] for s in a["services"]] == ["a", "b"]


# ---- the client with a snapshot's signatures ------------------------------------------------------------

def _snap(*services, version="3.2"):
    data = snapshot.build(list(services), version, source="ssh", time="t")
    return snapshot.Snapshot(data, "test.json")


def test_signature_checks_from_a_snapshot_before_the_wire():
    snap = _snap({"name": "echo", "params": [{"name": "msg", "name_known": True}]},
                 {"name": "sleep", "params": [{"name": "secs", "name_known": True,
                                               "default": {"type": "int", "repr": "1", "value": 1}}]})
    signatures.check_call(snap, "echo", ("x",))
    signatures.check_call(snap, "sleep", ())
    with pytest.raises(SignatureError, match="does not expose discover_server"):
        signatures.check_call(snap, "discover_server", ())
    with pytest.raises(SignatureError, match="takes at most 1"):
        signatures.check_call(snap, "echo", ("x", "y"))
    with pytest.raises(SignatureError, match="missing argument"):
        signatures.check_call(snap, "echo", ())


def test_client_follows_the_snapshot_against_a_simulated_agent(tmp_path):
    """A 3.2 host's dump says take_ownership takes two strings; the client refuses the 3.3 struct form."""
    path = tmp_path / "host.json"
    snapshot.save(synthetic.from_table("3.2"), str(path))
    with simulated_agents(1, version="3.2") as hosts:
        host = hosts[0]
        client = signatures.client_for(host.url, str(path), password=host.password, user=host.user)
        with client:
            assert client.version == "3.2" and client.snapshot.agent_version == "3.2"
            assert client.call("echo", "put") == "put"  # passes the snapshot check, reaches the agent
            assert client.common.echo("again") == "again"  # the typed mirrors go through it too
            before = len(host.calls)
            with pytest.raises(SignatureError, match="take_ownership"):
                client.call("take_ownership", {"manager_uuid": "m"})
            assert len(host.calls) == before  # refused before the wire


def test_attach_refuses_what_the_agent_does_not_expose():
    snap = _snap({"name": "echo", "params": [{"name": "msg", "name_known": True}]})
    from ovm3.client import AgentClient

    # Nothing listens on this port: the refusal must happen before any connection attempt.
    client = signatures.attach(AgentClient("http://127.0.0.1:9", password="x", agent_version="3.2"), snap)
    with pytest.raises(SignatureError, match="does not expose list_vms"):
        client.xen.list_vms()
