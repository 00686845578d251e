"""Fleet mode, the ``ovm3 sim`` command, and the record/replay proxy."""

import contextlib
import hashlib
import json
import logging
import os
import socket
import ssl
import subprocess
import sys

import pytest

from ovm3 import errors
from ovm3.client import AgentClient
from ovm3.sim import simulated_agents
from ovm3.sim.record import Recorder, Replayer
from ovm3.sim.server import AgentServer
from ovm3.wire import dumps_request, loads_response


def test_fleet_of_200_hosts_answers(tmp_path):
    with simulated_agents(count=200, fleet=True, root=tmp_path) as hosts:
        assert len({h.port for h in hosts}) == 200 and len({h.ip for h in hosts}) == 200
        for h in (hosts[0], hosts[99], hosts[199]):
            with h.client() as c:
                assert c.call("echo", h.name) == h.name
                assert "<Hostname>%s</Hostname>" % h.name in c.call("discover_server")


@contextlib.contextmanager
def _cli_sim(args, env, global_args=()):
    """Run ``ovm3 [GLOBAL_ARGS] sim ARGS`` in a child process; yield its output lines up to "ready"."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ovm3.cli.main"] + list(global_args) + ["sim"] + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "ready":
                break
        yield lines
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_runs_agents_and_never_prints_the_password(tmp_path):
    env = dict(os.environ, OVM3_PASSWORD="cli-Secret-1")
    with _cli_sim(["--hosts", "2", "--no-tls", "--agent-version", "3.2", "--root", str(tmp_path)], env) as lines:
        text = "".join(lines)
        assert "cli-Secret-1" not in text and "OVM3_PASSWORD" in text
        urls = [w.split("=", 1)[1] for line in lines for w in line.split() if w.startswith("url=")]
        assert len(urls) == 2
        assert AgentClient(urls[1], password="cli-Secret-1").call("echo", "hi") == "hi"


def test_cli_generated_password_goes_to_a_0600_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OVM3_PASSWORD"}
    with _cli_sim(["--no-tls", "--root", str(tmp_path)], env) as lines:
        pw_file = tmp_path / "agent-password"
        password = pw_file.read_text().strip()
        assert pw_file.stat().st_mode & 0o777 == 0o600
        assert password not in "".join(lines) and str(pw_file) in "".join(lines)
        url = [w.split("=", 1)[1] for line in lines for w in line.split() if w.startswith("url=")][0]
        assert AgentClient(url, password=password).call("echo", "x") == "x"
        # The admin endpoint's token is a secret too: in a 0600 file, never in the output.
        tokens = tmp_path / "admin-tokens"
        assert tokens.stat().st_mode & 0o777 == 0o600 and str(tokens) in "".join(lines)
        name, token = tokens.read_text().split()
        assert name == "ovm-1" and token not in "".join(lines)
        import requests

        base = url.rstrip("/")
        assert requests.get(base + "/_sim/calls", headers={"X-Sim-Token": token}, timeout=10).status_code == 200
        assert requests.get(base + "/_sim/calls", headers={"X-Sim-Token": "wrong"}, timeout=10).status_code != 200


def test_record_then_replay(tmp_path):
    out = tmp_path / "recorded"
    with simulated_agents(count=1, version="3.2", root=tmp_path / "sim") as hosts:
        real = hosts[0]
        server = AgentServer()
        try:
            rec = Recorder(real.client(), str(out), "oracle", real.password)
            port = server.listen(rec, 0)
            via = AgentClient("http://127.0.0.1:%d" % port, password=real.password, agent_version="3.2")
            assert via.call("echo", "put") == "put"
            via.call("update_agent_password", "oracle", real.password)  # a secret in the request
            assert "Discover_Server_Result" in via.call("discover_server")
        finally:
            server.close()
    names = sorted(os.listdir(out))
    assert "0001_echo.xml" in names and "0003_discover_server.payload.xml" in names and "INDEX.md" in names
    request = (out / "0002_update_agent_password.request.xml").read_text()
    assert real.password not in request and "***" in request
    assert (out / "0003_discover_server.payload.xml").read_text().startswith("<?xml")
    server = AgentServer()
    try:
        port = server.listen(Replayer(str(out), "oracle", "replay-pw"), 0)
        c = AgentClient("http://127.0.0.1:%d" % port, password="replay-pw", agent_version="3.2")
        assert c.call("echo", "put") == "put"
        assert "Discover_Server_Result" in c.call("discover_server")
    finally:
        server.close()


def test_replay_matches_method_and_arguments(tmp_path, caplog):
    out = tmp_path / "recorded"
    with simulated_agents(count=1, version="3.3", root=tmp_path / "sim") as hosts:
        real = hosts[0]
        rec = Recorder(real.client(), str(out), "oracle", real.password)
        for word in ("alpha", "beta"):
            rec.forward(dumps_request("echo", [word]))
        # A secret argument is stored masked; replay matches it whatever secret the caller sends.
        rec.forward(dumps_request("update_agent_password", ["oracle", real.password, real.password]))
    replay = Replayer(str(out), "oracle", "pw")
    assert loads_response(replay.next_reply("echo", ["beta"])) == "beta"
    assert loads_response(replay.next_reply("echo", ["alpha"])) == "alpha"
    assert loads_response(replay.next_reply("echo", ["beta"])) == "beta"
    recorded = (out / "0003_update_agent_password.xml").read_bytes()
    assert replay.next_reply("update_agent_password", ["oracle", "other", "x"]) == recorded
    assert replay.fallbacks == []
    with caplog.at_level(logging.WARNING, logger="ovm3.sim.record"):
        assert loads_response(replay.next_reply("echo", ["never-recorded"])) == "alpha"
        assert loads_response(replay.next_reply("echo", ["never-recorded"])) == "beta"
    assert replay.fallbacks == [("echo", ["never-recorded"])] * 2
    assert "matched by method name only" in caplog.text
    with pytest.raises(Exception) as ei:
        loads_response(replay.next_reply("discover_server", []))
    assert "discover_server was not recorded" in str(ei.value)


def _peer_fingerprint(url):
    host, port = url.split("//", 1)[1].split(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def test_cli_prints_the_served_certificate_fingerprint_and_loads_a_fault_file(tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"method": "echo", "fault": "exceptions.Exception:from file", "count": 1}]))
    env = dict(os.environ, OVM3_PASSWORD="cli-Secret-2")
    with _cli_sim(["--tls", "--faults", str(faults), "--root", str(tmp_path / "root")], env) as lines:
        words = dict(w.split("=", 1) for line in lines for w in line.split() if "=" in w)
        assert words["url"].startswith("https://") and len(words["fingerprint"]) == 64
        assert _peer_fingerprint(words["url"]) == words["fingerprint"]
        c = AgentClient(words["url"], password="cli-Secret-2", fingerprint=words["fingerprint"], retries=0)
        with pytest.raises(errors.AgentFault) as ei:
            c.call("echo", "x")
        assert "from file" in ei.value.fault_string
        assert c.call("echo", "y") == "y"


def test_cli_json_describes_every_agent_on_one_line(tmp_path):
    import json

    env = dict(os.environ, OVM3_PASSWORD="json-Secret-2")
    with _cli_sim(["--hosts", "2", "--tls", "--root", str(tmp_path)], env, ["--json"]) as lines:
        assert lines[-1].strip() == "ready" and "json-Secret-2" not in "".join(lines)
        info = json.loads(lines[0])
        assert info["password_source"] == "environment variable OVM3_PASSWORD"
        assert [a["name"] for a in info["agents"]] == ["ovm-1", "ovm-2"]
        a = info["agents"][1]
        assert len(a["fingerprint"]) == 64 and a["url"].startswith("https://")
        client = AgentClient(a["url"], password="json-Secret-2", fingerprint=a["fingerprint"])
        assert client.call("echo", "j") == "j"
