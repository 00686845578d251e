"""``ovm3 exporter``: the collector's deadline, its endpoint's authentication and limits, the textfile
mode, the exposition checked by promtool, and the status page."""

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests
from click.testing import CliRunner

from ovm3.cli.cmd_exporter import build_server
from ovm3.cli.main import cli
from ovm3.monitor.collector import FleetCollector, Target
from ovm3.sim import simulated_agents
from tests.test_sim_module import _running_domain

TOKEN = "s3cret-token-for-tests"
PROMTOOL = shutil.which("promtool")


@contextlib.contextmanager
def running_fleet(root, count=3):
    """``count`` simulated hosts, host i running one VM named ``i-2-<10+i>-VM``."""
    with simulated_agents(count=count, root=root) as hs:
        for i, h in enumerate(hs):
            _running_domain(h.state, name="i-2-%d-VM" % (10 + i))
        yield hs


@pytest.fixture
def hosts(tmp_path):
    with running_fleet(tmp_path / "sim") as hs:
        yield hs


@contextlib.contextmanager
def silent_agent():
    """A host that accepts connections and never answers (a hung agent)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % listener.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        for s in held:
            s.close()
        listener.close()


def _targets(hosts):
    return [Target("ovm-%d" % i, h.client) for i, h in enumerate(hosts)]


@contextlib.contextmanager
def exporting(collector, **kw):
    kw.setdefault("insecure_http", True)
    server = build_server(collector, "127.0.0.1", 0, **kw)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        collector.close()


def _value(text, metric, **labels):
    for line in text.splitlines():
        if line.startswith(metric + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_one_hung_host_never_delays_the_others_beyond_its_deadline(hosts):
    from ovm3.client import AgentClient

    with silent_agent() as url:
        targets = _targets(hosts) + [Target("hung", lambda: AgentClient(url, password="x", agent_version="3.3"))]
        collector = FleetCollector(targets, deadline=1.5, workers=2)
        try:
            started = time.monotonic()
            results = collector.sample_all()
            took = time.monotonic() - started
            assert took < 1.5 + 3.0  # the deadline plus generous slack, not 4 hosts x a timeout
            assert not results["hung"].up and "deadline" in results["hung"].error
            assert all(results["ovm-%d" % i].up for i in range(3))
            again = collector.sample_all()
            assert all(again["ovm-%d" % i].up for i in range(3)) and not again["hung"].up
            fams = {f.name: f for f in collector.collect()}
            errors = {s.labels["host"]: s.value for s in fams["ovm3_scrape_errors"].samples}
            assert errors["hung"] == 3 and errors["ovm-0"] == 0
        finally:
            collector.close()


def test_metrics_per_host_and_vm_and_a_stopped_host_is_down(hosts):
    collector = FleetCollector(_targets(hosts), deadline=5, module_version="1.0.0")
    with exporting(collector, no_auth=True) as server:
        first = requests.get(server.url, timeout=30)
        assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/plain")
        text = first.text
        assert _value(text, "ovm3_host_up", host="ovm-1") == 1
        assert _value(text, "ovm3_host_memory_bytes", host="ovm-1") == hosts[1].state.memory_mb * 1048576
        cpu1 = _value(text, "ovm3_vm_cpu_seconds_total", host="ovm-0", name="i-2-10-VM")
        assert cpu1 is not None
        assert _value(text, "ovm3_vm_cpu_seconds_total", host="ovm-0", name="Domain-0") > 0
        assert _value(text, "ovm3_vm_state", host="ovm-0", name="i-2-10-VM", state="running") == 1
        assert _value(text, "ovm3_host_info", host="ovm-0", stats_source="one-call", module_version="1.0.0") == 1
        time.sleep(0.05)
        hosts[2].power_off()
        text = requests.get(server.url, timeout=30).text
        assert _value(text, "ovm3_vm_cpu_seconds_total", host="ovm-0", name="i-2-10-VM") > cpu1
        assert _value(text, "ovm3_host_up", host="ovm-2") == 0
        assert _value(text, "ovm3_vm_cpu_seconds_total", host="ovm-2", name="i-2-12-VM") is None
        assert _value(text, "ovm3_host_up", host="ovm-1") == 1


def _get(server, path="/metrics", **kw):
    kw.setdefault("timeout", 30)
    return requests.get(server.url.replace("/metrics", path), **kw)


def test_bearer_token_and_basic_auth_are_required_and_checked(hosts):
    with exporting(FleetCollector(_targets(hosts[:1])), token=TOKEN) as server:
        assert _get(server).status_code == 401
        assert _get(server, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert _get(server, "/status.json").status_code == 401
        assert hosts[0].calls.find("get_host_stats") == []  # a refused scrape reaches no host
        assert _get(server, headers={"Authorization": "Bearer " + TOKEN}).status_code == 200
    with exporting(FleetCollector(_targets(hosts[:1])), basic=("prom", "pw:with:colons")) as server:
        refused = _get(server, auth=("prom", "wrong"))
        assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
        assert _get(server, headers={"Authorization": "Basic !!notbase64"}).status_code == 401
        assert _get(server, auth=("prom", "pw:with:colons")).status_code == 200
        token = base64.b64encode(b"prom:pw:with:colons").decode()
        assert _get(server, headers={"Authorization": "basic " + token}).status_code == 200
        assert requests.post(server.url, auth=("prom", "pw:with:colons"), timeout=30).status_code == 405


def test_no_mode_no_start_and_token_plus_basic_refused(hosts):
    from ovm3 import errors

    with pytest.raises(errors.UsageError):
        build_server(FleetCollector(_targets(hosts[:1])), "127.0.0.1", 0, insecure_http=True)
    with pytest.raises(errors.UsageError):
        build_server(FleetCollector(_targets(hosts[:1])), "127.0.0.1", 0, insecure_http=True, token=TOKEN,
                     basic=("a", "b"))
    with pytest.raises(errors.UsageError):  # HTTPS is the default: it needs a certificate
        build_server(FleetCollector(_targets(hosts[:1])), "127.0.0.1", 0, token=TOKEN)


def test_tls_endpoint_and_a_silent_peer_does_not_hold_it(hosts, tmp_path):
    from ovm3.sim.tls import make_certificate

    m = make_certificate(str(tmp_path / "tls"), "127.0.0.1")
    with exporting(FleetCollector(_targets(hosts[:1])), insecure_http=False, cert=m.cert_file, key=m.key_file,
                   token=TOKEN) as server:
        server.handshake_timeout = 1.0
        silent = socket.create_connection(server.server_address[:2])  # never starts its handshake
        try:
            r = requests.get(server.url, headers={"Authorization": "Bearer " + TOKEN}, verify=m.cert_file,
                             timeout=30)
            assert r.status_code == 200 and "ovm3_host_up" in r.text
        finally:
            silent.close()
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url, timeout=30)  # the exporter's certificate is not in the system CAs


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) not installed")
def test_textfile_mode_writes_an_exposition_promtool_accepts(hosts, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(hosts[0].password + "\n")
    out = tmp_path / "textfile"
    out.mkdir()
    args = ["--password-file", str(pw), "exporter", "--textfile", str(out), "--once"]
    for i, h in enumerate(hosts):
        args += ["--url", "ovm-%d=%s" % (i, h.url)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "ovm3.prom").read_text()
    assert _value(text, "ovm3_host_up", host="ovm-2") == 1
    assert [p.name for p in out.iterdir()] == ["ovm3.prom"]  # written beside, renamed: no temp file left
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_exporter_cli_refuses_bad_targets(tmp_path):
    from ovm3 import errors

    result = CliRunner().invoke(cli, ["exporter", "--url", "bad name=http://x:1", "--no-auth"])
    assert isinstance(result.exception, errors.UsageError) and "name must be" in str(result.exception)
    result = CliRunner().invoke(cli, ["exporter", "--url", "file:///etc/passwd", "--no-auth"])
    assert isinstance(result.exception, errors.UsageError)
    result = CliRunner().invoke(cli, ["exporter", "--no-auth"])
    assert isinstance(result.exception, errors.UsageError) and "no hosts" in str(result.exception)


def test_status_page_is_self_contained_and_shows_a_down_host(hosts):
    collector = FleetCollector(_targets(hosts), deadline=5, module_version="1.0.0")
    with exporting(collector, token=TOKEN) as server:
        auth = {"Authorization": "Bearer " + TOKEN}
        page = _get(server, "/", headers=auth)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert "http://" not in page.text and "https://" not in page.text  # no external assets
        assert 'name="viewport"' in page.text
        status = _get(server, "/status.json", headers=auth).json()
        assert [h["host"] for h in status["hosts"]] == ["ovm-0", "ovm-1", "ovm-2"] and status["up"] == 3
        assert status["hosts"][0]["cells"]["vms"] == "1 running"
        assert status["hosts"][0]["cells"]["module"] == "1.0.0 (current)"
        hosts[1].power_off()
        time.sleep(5.1)  # past the reuse window of the last scrape
        status = _get(server, "/status.json", headers=auth).json()
        row = status["hosts"][1]
        assert not row["up"] and row["cells"]["state"] == "DOWN" and status["up"] == 2
        json.dumps(status)


def test_a_dripping_peer_is_dropped_at_the_request_deadline_and_others_are_served(hosts):
    with exporting(FleetCollector(_targets(hosts[:1])), token=TOKEN) as server:
        server.request_deadline = 1.0
        drip = socket.create_connection(server.server_address[:2])
        try:
            drip.settimeout(10)
            started = time.monotonic()
            closed = False
            while time.monotonic() - started < 8:
                try:
                    drip.sendall(b"G")
                    time.sleep(0.2)
                except OSError:
                    closed = True
                    break
                drip.setblocking(False)
                try:
                    if drip.recv(1) == b"":
                        closed = True
                        break
                except BlockingIOError:
                    pass
                finally:
                    drip.setblocking(True)
                    drip.settimeout(10)
            assert closed and time.monotonic() - started < 5
            assert _get(server, headers={"Authorization": "Bearer " + TOKEN}).status_code == 200
        finally:
            drip.close()


def test_inventory_hosts_are_exported_with_their_own_password_files(hosts, tmp_path):
    pw = tmp_path / "agent.pw"
    pw.write_text(hosts[0].password + "\n")
    inv = tmp_path / "fleet.ini"
    inv.write_text("[defaults]\nagent_password_file = %s\n\n" % pw + "".join(
        "[host ovm-%d]\nagent_url = %s\n\n" % (i, h.url) for i, h in enumerate(hosts)))
    out = tmp_path / "tf"
    out.mkdir()
    result = CliRunner().invoke(cli, ["exporter", "--inventory", str(inv), "--textfile", str(out), "--once",
                                      "--deadline", "5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "ovm3.prom").read_text()
    assert [_value(text, "ovm3_host_up", host="ovm-%d" % i) for i in range(3)] == [1, 1, 1]


def test_no_call_timeout_outlasts_the_per_host_deadline():
    from ovm3.cli.cmd_exporter import _timeouts
    from ovm3.cli.main import Settings

    t = _timeouts(Settings(), 2.5)
    assert t.connect == 2.5 and t.short == 2.5 and t.total is None


def test_profiles_are_a_host_source(hosts, tmp_path, monkeypatch):
    from ovm3.profiles import Profile, ProfileStore

    pw = tmp_path / "agent.pw"
    pw.write_text(hosts[0].password + "\n")
    pw.chmod(0o600)
    monkeypatch.setenv("OVM3_CONFIG", str(tmp_path / "config.toml"))
    store = ProfileStore()
    for i, h in enumerate(hosts):
        store.add(Profile("ovm-%d" % i, url=h.url, password_file=str(pw)))
    store.save()
    out = tmp_path / "tf"
    out.mkdir()
    run = lambda *extra: CliRunner().invoke(  # noqa: E731
        cli, ["exporter", "--textfile", str(out), "--once", "--deadline", "5", *extra], catch_exceptions=False)
    assert run("--profile", "ovm-2", "--profile", "ovm-0").exit_code == 0
    text = (out / "ovm3.prom").read_text()
    assert _value(text, "ovm3_host_up", host="ovm-2") == 1 and _value(text, "ovm3_host_up", host="ovm-0") == 1
    assert _value(text, "ovm3_host_up", host="ovm-1") is None
    assert run("--all-profiles").exit_code == 0
    text = (out / "ovm3.prom").read_text()
    assert [_value(text, "ovm3_host_up", host="ovm-%d" % i) for i in range(3)] == [1, 1, 1]
    from ovm3 import errors

    result = CliRunner().invoke(cli, ["exporter", "--profile", "nope", "--no-auth"])
    assert isinstance(result.exception, errors.UsageError) and "no such profile" in str(result.exception)
