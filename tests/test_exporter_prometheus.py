"""A real Prometheus (Debian package ``prometheus``) scrapes ``ovm3 exporter`` (the command, in its own
process) in front of three simulated hosts, and the test asks Prometheus' HTTP API what it stored."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.test_exporter import running_fleet

PROMETHEUS = shutil.which("prometheus")
TOKEN = "prometheus-scrapes-with-this"

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus (Debian package prometheus) not installed")

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ovm3
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: %(token_file)s
    static_configs:
      - targets: ["127.0.0.1:%(port)d"]
"""


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(what, check, timeout=30.0):
    ends = time.monotonic() + timeout
    last = None
    while time.monotonic() < ends:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Prom:
    def __init__(self, url):
        self.url = url

    def query(self, expr):
        r = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expr):
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
def fleet(tmp_path):
    with running_fleet(tmp_path / "sim") as hs:
        yield hs


@pytest.fixture
def exporter(fleet, tmp_path):
    pw = tmp_path / "agent.pw"
    pw.write_text(fleet[0].password + "\n")
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    port = _free_port()
    args = [sys.executable, "-m", "ovm3", "--password-file", str(pw), "exporter", "--insecure-http",
            "--port", str(port), "--bearer-token-file", str(token), "--deadline", "0.7"]
    for i, h in enumerate(fleet):
        args += ["--url", "ovm-%d=%s" % (i, h.url)]
    log = open(tmp_path / "exporter.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait("the exporter to listen", lambda: proc.poll() is not None or _answers(port))
        assert proc.poll() is None, (tmp_path / "exporter.log").read_text()
        yield port, str(token)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _answers(port):
    try:
        return requests.get("http://127.0.0.1:%d/metrics" % port, timeout=2).status_code == 401
    except requests.RequestException:
        return False


@pytest.fixture
def prometheus(exporter, tmp_path):
    port, token_file = exporter
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(CONFIG % {"token_file": token_file, "port": port})
    web = _free_port()
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen([PROMETHEUS, "--config.file", str(cfg), "--storage.tsdb.path", str(tmp_path / "tsdb"),
                             "--web.listen-address", "127.0.0.1:%d" % web], stdout=log, stderr=subprocess.STDOUT,
                            cwd=str(tmp_path), env=dict(os.environ, HOME=str(tmp_path)))
    url = "http://127.0.0.1:%d" % web

    def ready():
        if proc.poll() is not None:
            return True
        try:
            return requests.get(url + "/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        _wait("prometheus to be ready", ready)
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
        yield Prom(url)
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_prometheus_scrapes_the_fleet_and_sees_a_host_go_down(fleet, exporter, prometheus):
    p = prometheus
    served = requests.get("http://127.0.0.1:%d/metrics" % exporter[0], headers={"Authorization": "Bearer " + TOKEN},
                          timeout=10)
    check = subprocess.run([shutil.which("promtool"), "check", "metrics"], input=served.text, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    _wait("three hosts up", lambda: p.value('sum(ovm3_host_up{job="ovm3"})') == 3)
    assert p.value('up{job="ovm3"}') == 1  # Prometheus' own view: the scrape (with the token) succeeds
    assert p.value('ovm3_host_memory_bytes{host="ovm-1"}') == fleet[1].state.memory_mb * 1048576
    assert p.value('ovm3_vm_vcpus{host="ovm-0",name="i-2-10-VM"}') == 2
    assert p.value('ovm3_vm_cpu_seconds_total{host="ovm-0",name="Domain-0"}') > 0
    # a VM's CPU counter increases between scrapes (two stored samples, the later one larger)
    cpu = 'ovm3_vm_cpu_seconds_total{host="ovm-0",name="i-2-10-VM"}'
    _wait("a CPU increase between scrapes", lambda: (p.value("increase(%s[10s])" % cpu) or 0) > 0)
    samples = _wait("two samples", lambda: [r for r in p.query(cpu + "[10s]") if len(r["values"]) >= 2])
    values = [float(v) for _, v in samples[0]["values"]]
    assert values == sorted(values) and values[-1] > values[0]

    before = p.value('ovm3_host_memory_bytes{host="ovm-0"}')
    fleet[2].power_off()
    _wait("ovm-2 down", lambda: p.value('ovm3_host_up{host="ovm-2"}') == 0)
    assert p.value('ovm3_host_up{host="ovm-0"}') == 1 and p.value('ovm3_host_up{host="ovm-1"}') == 1
    assert p.value('ovm3_host_memory_bytes{host="ovm-0"}') == before
    # the stopped host's VM series are gone from the newest scrape; the others keep theirs fresh
    _wait("ovm-2's VM series stale", lambda: p.value('ovm3_vm_cpu_seconds_total{host="ovm-2"}') is None)
    assert p.value('ovm3_vm_cpu_seconds_total{host="ovm-1",name="i-2-11-VM"}') > 0
    assert p.value('increase(ovm3_scrape_errors_total{host="ovm-2"}[10s])') > 0
