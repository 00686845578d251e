"""``ovm3 serve`` over real HTTP(S): auth, malformed input, unknown commands, answers as JSON arrays."""

import json
import threading

import pytest
import requests

from ovm3.cli.cmd_serve import build_server
from ovm3.errors import UsageError
from tests.cloudstack_support import resources

KEY = "test-api-key-0123"


@pytest.fixture
def served(tmp_path):
    from ovm3.sim.tls import make_certificate

    material = make_certificate(str(tmp_path / "tls"), "127.0.0.1")
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = build_server(r, "127.0.0.1", 0, material.cert_file, material.key_file, api_key=KEY)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield server, material, hosts
        finally:
            server.shutdown()
            server.server_close()


def _post(server, material, path, data, key=KEY):
    headers = {"X-Api-Key": key} if key else {}
    return requests.post(server.url + path, data=data, headers=headers, verify=False, timeout=10)


def test_https_command_answer_is_a_typed_json_array(served):
    server, material, hosts = served
    assert server.url.startswith("https://")
    r = _post(server, material, "/com.cloud.agent.api.CheckHealthCommand", "{}")
    assert r.status_code == 200
    (answer,) = r.json()
    assert answer["com.cloud.agent.api.CheckHealthAnswer"]["result"] is True
    assert hosts[0].calls.methods() == ["echo"]


def test_missing_or_wrong_key_is_401(served):
    server, material, hosts = served
    assert _post(server, material, "/CheckHealthCommand", "{}", key=None).status_code == 401
    assert _post(server, material, "/CheckHealthCommand", "{}", key="wrong").status_code == 401
    assert hosts[0].calls.methods() == []


def test_a_refused_request_does_not_poison_the_keep_alive_connection(served):
    # Refused before its body is read: the unread body must not become the next request's first line.
    server, material, hosts = served
    ca = material.cert_file
    with requests.Session() as s:
        url = server.url + "/com.cloud.agent.api.CheckHealthCommand"
        r = s.post(url, data="{}", headers={"X-Api-Key": "wrong"}, timeout=10, verify=ca)
        assert r.status_code == 401 and r.headers.get("Connection") == "close"
        assert s.post(server.url.rsplit("/", 1)[0] + "/elsewhere", data="{}", headers={"X-Api-Key": KEY},
                      timeout=10, verify=ca).status_code == 404
        r = s.post(url, data="{}", headers={"X-Api-Key": KEY}, timeout=10, verify=ca)
        assert r.status_code == 200, r.text
        assert r.json()[0]["com.cloud.agent.api.CheckHealthAnswer"]["result"] is True


def test_a_negative_content_length_is_400_not_a_read_to_end_of_stream(served):
    import http.client
    import ssl

    server, material, hosts = served
    host, port = server.server_address[:2]
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=ssl._create_unverified_context())
    try:
        conn.putrequest("POST", "/api/HypervResource/CheckHealthCommand")
        conn.putheader("X-Api-Key", KEY)
        conn.putheader("Content-Length", "-5")
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 400 and b"Content-Length" in r.read()
    finally:
        conn.close()


def test_a_client_hanging_up_is_a_log_line_not_a_traceback_on_stderr(served, caplog, capfd):
    server, material, hosts = served
    caplog.set_level("INFO", logger="ovm3.cloudstack.server")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        server.handle_error(None, ("127.0.0.9", 4242))
    try:
        raise KeyError("unexpected")
    except KeyError:
        server.handle_error(None, ("127.0.0.9", 4243))
    assert capfd.readouterr().err == ""
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if "127.0.0.9" in r.getMessage()]
    assert lines[0][0] == "INFO" and "connection ended" in lines[0][1]
    assert lines[1][0] == "ERROR" and caplog.records[-1].exc_info is not None


def test_malformed_json_and_non_objects_are_400(served):
    server, material, hosts = served
    r = _post(server, material, "/StopCommand", "{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    assert _post(server, material, "/StopCommand", "[1, 2]").status_code == 400
    assert _post(server, material, "/StopCommand", b"\xff\xfe").status_code == 400


def test_unknown_command_is_404_with_unsupported_answer(served):
    server, material, hosts = served
    r = _post(server, material, "/com.cloud.agent.api.ScaleVmCommand", "{}")
    assert r.status_code == 404
    assert "com.cloud.agent.api.UnsupportedAnswer" in r.json()["answer"][0]


def test_failed_command_is_200_with_failed_answer(served):
    server, material, hosts = served
    r = _post(server, material, "/RebootCommand", json.dumps({"vmName": "missing"}))
    assert r.status_code == 200
    assert r.json()[0]["com.cloud.agent.api.RebootAnswer"]["result"] is False


def test_get_describes_service_and_ping_endpoint(served):
    server, material, hosts = served
    r = requests.get(server.url, headers={"X-Api-Key": KEY}, verify=False, timeout=10)
    assert r.status_code == 200 and "StartCommand" in r.json()["commands"]
    r = _post(server, material, "/ping", "")
    assert r.status_code == 200 and "com.cloud.agent.api.PingRoutingCommand" in r.json()[0]


def test_startup_answers_the_report_and_an_agent_fault_as_json_503(served):
    server, material, hosts = served
    r = _post(server, material, "/startup", "")
    assert r.status_code == 200 and "com.cloud.agent.api.StartupRoutingCommand" in r.json()[0]
    hosts[0].faults.add(method="discover_server", kind="fault", fault="exceptions.Exception:agent sick", count=1)
    r = _post(server, material, "/startup", "")
    assert r.status_code == 503 and r.headers["Content-Type"] == "application/json"
    err = r.json()
    assert err["host"] == "ovm-1" and err["step"] == "discover_server", err
    assert err["error"].startswith("host ovm-1: startup failed at step discover_server: "), err
    assert "agent fault exceptions.Exception: agent sick" in err["error"] and "Traceback" not in r.text
    # the server carries on: the next startup (fault used up) and ping answer normally
    assert _post(server, material, "/startup", "").status_code == 200
    hosts[0].faults.add(method="echo", kind="fault", fault="exceptions.Exception:agent sick", count=1)
    r = _post(server, material, "/ping", "")
    assert r.status_code == 503 and r.json() == {"error": "host ovm-1 does not answer", "host": "ovm-1", "step": "ping"}


def test_an_unexpected_error_is_a_json_500_not_a_dropped_connection(served, monkeypatch):
    server, material, hosts = served

    def broken(command, body=None):
        raise RuntimeError("handler table broken")

    monkeypatch.setattr(server.resource, "execute", broken)
    r = _post(server, material, "/CheckHealthCommand", "{}")
    assert r.status_code == 500 and "RuntimeError: handler table broken" in r.json()["error"]
    assert "host ovm-1" in r.json()["error"] and "Traceback" not in r.text
    monkeypatch.undo()
    assert _post(server, material, "/CheckHealthCommand", "{}").status_code == 200


def test_https_and_key_are_required_by_default(tmp_path, monkeypatch):
    from ovm3.cli.cmd_serve import read_api_key

    with resources(tmp_path) as (hosts, (r,)):
        with pytest.raises(UsageError):
            build_server(r, "127.0.0.1", 0)
    monkeypatch.delenv("OVM3_SERVE_API_KEY", raising=False)
    with pytest.raises(UsageError):
        read_api_key(None)
    monkeypatch.setenv("OVM3_SERVE_API_KEY", "k1")
    assert read_api_key(None) == "k1"


def test_tls_rejects_plain_http(served):
    server, material, hosts = served
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            server.url.replace("https", "http") + "/CheckHealthCommand",
            data="{}",
            headers={"X-Api-Key": KEY},
            timeout=5,
        )


# ---- ``ovm3 serve`` as the command an operator runs: a subprocess on a loopback port --------------------


#: ``ovm3`` as its console script runs it (``python -m ovm3.cli.main`` would load main.py twice)
OVM3 = ["-c", "import sys; from ovm3.cli.main import main; sys.exit(main())"]


def _serve_process(host, material, tmp_path, extra_env=None, args=(), global_args=()):
    """Start ``ovm3 serve`` for simulated ``host``; returns ``(process, base url)`` once it listens."""
    import os
    import subprocess
    import sys

    password_file = tmp_path / "agent-password"
    password_file.write_text(host.password + "\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("OVM3_SERVE_API_KEY", None)
    env.pop("OVM3_PASSWORD", None)
    env.update(extra_env or {})
    argv = [
        sys.executable, *OVM3, "--url", host.url, "--password-file", str(password_file),
        "--fingerprint", host.fingerprint, *global_args, "serve", "--port", "0",
        "--cert", material.cert_file, "--key", material.key_file, *args,
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = proc.stderr.readline()
    if "serving https://127.0.0.1:" not in line:
        proc.kill()
        raise AssertionError("ovm3 serve did not start: %s%s" % (line, proc.communicate(timeout=10)[1]))
    return proc, line.split()[1], argv


def _stop(proc):
    import signal

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out + err


@pytest.fixture
def agent(tmp_path):
    from ovm3.sim import simulated_agents
    from ovm3.sim.tls import make_certificate

    material = make_certificate(str(tmp_path / "serve-tls"), "127.0.0.1")
    with simulated_agents(count=1, version="3.3", tls=True, root=tmp_path / "sim") as hosts:
        yield hosts[0], material


def test_serve_command_answers_real_commands_with_key_from_file(agent, tmp_path):
    host, material = agent
    key_file = tmp_path / "api-key"
    key_file.write_text(KEY + "\n")
    proc, url, argv = _serve_process(host, material, tmp_path, args=("--api-key-file", str(key_file)))
    assert KEY not in " ".join(argv) and host.password not in " ".join(argv)  # secrets never in argv
    try:
        post = lambda path, data, key=KEY: requests.post(  # noqa: E731
            url + path, data=data, headers={"X-Api-Key": key} if key else {}, verify=material.cert_file,
            timeout=20,
        )
        r = post("/com.cloud.agent.api.CheckHealthCommand", "{}")
        assert r.status_code == 200 and r.json()[0]["com.cloud.agent.api.CheckHealthAnswer"]["result"] is True
        assert host.calls.methods()[-1] == "echo"
        host.calls.clear()
        r = post("/GetHostStatsCommand", json.dumps({"hostId": 7}))
        stats = r.json()[0]["com.cloud.agent.api.GetHostStatsAnswer"]
        assert stats["result"] is True and stats["hostStats"]["totalMemoryKBs"] > 0, stats
        assert host.calls.methods()[-1] == "ovs_dom0_stats"
        # a command the host refuses: 200 with a failed answer naming the host and the step
        host.faults.add(method="echo", kind="fault", fault="exceptions.Exception:agent sick", count=1)
        bad = post("/CheckHealthCommand", "{}").json()[0]["com.cloud.agent.api.CheckHealthAnswer"]
        assert bad["result"] is False and "agent sick" in bad["details"] and "step echo" in bad["details"]
        # malformed input and auth: clean 4xx, the agent is not asked
        host.calls.clear()
        assert post("/StopCommand", "{not json").status_code == 400
        assert post("/StopCommand", "{}", key="wrong").status_code == 401
        assert post("/StopCommand", "{}", key=None).status_code == 401
        assert post("/NoSuchCommand", "{}").status_code == 404
        assert host.calls.methods() == []
        r = post("/ping", "")
        assert r.status_code == 200 and "com.cloud.agent.api.PingRoutingCommand" in r.json()[0]
    finally:
        rc, output = _stop(proc)
    assert rc == 0, output
    assert KEY not in output and host.password not in output


def test_serve_command_reads_the_key_from_the_environment(agent, tmp_path):
    host, material = agent
    proc, url, argv = _serve_process(host, material, tmp_path, extra_env={"OVM3_SERVE_API_KEY": "env-key-77"})
    try:
        r = requests.post(url + "/CheckHealthCommand", data="{}", headers={"Authorization": "Bearer env-key-77"},
                          verify=material.cert_file, timeout=20)  # fmt: skip
        assert r.status_code == 200 and r.json()[0]["com.cloud.agent.api.CheckHealthAnswer"]["result"] is True
        r = requests.post(url + "/CheckHealthCommand", data="{}", verify=material.cert_file, timeout=20)
        assert r.status_code == 401
    finally:
        rc, output = _stop(proc)
    assert rc == 0 and "env-key-77" not in output


def test_serve_command_json_line_says_where_it_listens(agent, tmp_path):
    host, material = agent
    proc, url, argv = _serve_process(host, material, tmp_path, extra_env={"OVM3_SERVE_API_KEY": "k-json-1"},
                                     global_args=("--json",))
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"] == url and info["api_key_required"] is True and len(info["manager_uuid"]) == 32
    finally:
        proc.terminate()  # SIGTERM, as a service manager stops it: a clean exit too
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "k-json-1" not in out + err


def test_serve_command_refuses_to_start_without_key_or_tls(agent, tmp_path):
    import subprocess
    import sys

    host, material = agent
    base = [sys.executable, *OVM3, "--url", host.url, "serve", "--port", "0"]
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OVM3_SERVE_API_KEY",)}
    no_key = subprocess.run(base + ["--cert", material.cert_file, "--key", material.key_file],
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert no_key.returncode == 2 and "API key" in no_key.stderr, no_key.stderr
    env["OVM3_SERVE_API_KEY"] = "k"
    env["OVM3_PASSWORD"] = host.password
    no_tls = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert no_tls.returncode == 2 and "--cert" in no_tls.stderr, no_tls.stderr
    assert host.calls.methods() == []
