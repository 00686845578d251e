"""Living with ``ovm3``: profiles, global options wherever they are typed, conflicts refused, JSON errors,
Ctrl-C, help text."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ovm3.errors import ConfigError, UsageError
from ovm3.profiles import Profile, ProfileStore, render
from ovm3.sim import simulated_agents
from tests.cli_support import run_main


@pytest.fixture
def host(tmp_path):
    with simulated_agents(count=1, tls=False, root=tmp_path / "sim") as hosts:
        yield hosts[0]


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "config.toml"
    monkeypatch.setenv("OVM3_CONFIG", str(path))
    monkeypatch.delenv("OVM3_URL", raising=False)
    monkeypatch.delenv("OVM3_PASSWORD", raising=False)
    return path


def password_file(tmp_path, secret):
    pw = tmp_path / "agent.pw"
    pw.write_text(secret + "\n")
    pw.chmod(0o600)
    return pw


def test_config_add_list_use_remove(host, config, tmp_path, monkeypatch):
    pw = password_file(tmp_path, host.password)
    env = {"OVM3_CONFIG": str(config)}
    monkeypatch.chdir(tmp_path)  # a relative password file is stored absolute
    added = run_main(["config", "add", "ovm-1", "--url", host.url, "--password-file", pw.name], env)
    assert added.exit_code == 0, added.stderr
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    text = config.read_text()
    assert host.password not in text and 'password_file = "%s"' % pw in text
    monkeypatch.chdir("/")
    listed = run_main(["config", "list"], env)
    assert "ovm-1" in listed.stdout and host.url in listed.stdout
    for argv in (["-H", "ovm-1", "vm", "list"], ["vm", "list", "-H", "ovm-1"], ["vm", "list", "--host", "ovm-1"]):
        r = run_main(argv, env)
        assert (r.exit_code, r.stdout.strip()) == (0, "no VMs running"), (argv, r.stderr)
    assert run_main(["config", "add", "ovm-1", "--url", host.url], env).exit_code == 1  # exists
    assert run_main(["config", "remove", "ovm-1"], env).exit_code == 0
    assert "no profiles" in run_main(["config", "list"], env).stdout
    assert run_main(["config", "remove", "ovm-1"], env).exit_code == 1


def test_a_readable_config_with_a_password_file_is_refused(host, config, tmp_path):
    pw = password_file(tmp_path, host.password)
    store = ProfileStore(str(config))
    store.add(Profile("ovm-1", host.url, password_file=str(pw)))
    store.save()
    config.chmod(0o644)
    r = run_main(["-H", "ovm-1", "vm", "list"], {"OVM3_CONFIG": str(config)})
    assert r.exit_code == 1 and "readable by group or others" in r.stderr and "chmod 600" in r.stderr
    config.write_text(render([Profile("ovm-1", host.url)]))  # nothing sensitive: 0644 is fine
    r = run_main(["-H", "ovm-1", "vm", "list"], {"OVM3_CONFIG": str(config), "OVM3_PASSWORD": host.password})
    assert r.exit_code == 0, r.stderr


def test_a_password_in_the_config_itself_is_refused(config):
    config.parent.mkdir(parents=True)
    config.write_text('[hosts.a]\nurl = "https://a:8899"\npassword = "hunter2"\n')
    config.chmod(0o600)
    r = run_main(["-H", "a", "vm", "list"], {"OVM3_CONFIG": str(config)})
    assert r.exit_code == 1 and "holds a secret" in r.stderr and "hunter2" not in r.stderr


def test_the_writer_round_trips_awkward_strings(tmp_path):
    path = str(tmp_path / "c.toml")
    store = ProfileStore(path)
    store.add(Profile("odd.name-1", 'https://h:8899', user='us"er\\x', ca_bundle="/p/with space\t"))
    store.save()
    again = ProfileStore(path).get("odd.name-1")
    assert again == store.get("odd.name-1")
    with pytest.raises(UsageError):
        Profile("bad name", "https://h")


@pytest.mark.parametrize("argv, word", [
    (["--url", "https://a:8899", "--host", "b", "vm", "list"], "--url and --host"),
    (["--url", "https://a:8899", "--no-tls", "vm", "list"], "--tls/--no-tls"),
    (["vm", "list", "--url", "https://a:8899", "--no-tls"], "--tls/--no-tls"),
    (["--url", "https://a:8899", "--port", "1", "vm", "list"], "--port"),
])
def test_conflicting_options_are_a_usage_error(config, argv, word):
    r = run_main(argv, {"OVM3_CONFIG": str(config)})
    assert r.exit_code == 2 and word in r.stderr


def test_global_options_after_the_subcommand(host, config):
    env = {"OVM3_PASSWORD": host.password, "OVM3_CONFIG": str(config)}
    front = run_main(["--json", "--url", host.url, "host", "info"], env)
    back = run_main(["host", "info", "--json", "--url", host.url], env)
    mixed = run_main(["host", "--url=%s" % host.url, "info", "--json"], env)
    assert front.exit_code == back.exit_code == mixed.exit_code == 0, (back.stderr, mixed.stderr)
    assert json.loads(front.stdout)["hostname"] == json.loads(back.stdout)["hostname"] == \
        json.loads(mixed.stdout)["hostname"]
    # an option the subcommand has itself stays its own (host stats --bridge is no global)
    assert run_main(["--url", host.url, "host", "mounts", "--type", "nfs", "--json"], env).exit_code == 0


def test_errors_under_json_are_json_on_stderr(config):
    env = {"OVM3_CONFIG": str(config), "OVM3_PASSWORD": "x"}
    r = run_main(["--json", "--url", "http://127.0.0.1:1", "host", "info"], env)
    assert r.exit_code == 1 and r.stdout == ""
    err = json.loads(r.stderr)
    assert set(err) == {"error", "host", "hint"} and err["host"] == "127.0.0.1:1" and err["hint"]
    r = run_main(["vm", "list", "--json"], env)  # usage: no agent given
    err = json.loads(r.stderr)
    assert r.exit_code == 2 and "no agent given" in err["error"]
    r = run_main(["--json", "vm", "nosuch"], env)
    assert r.exit_code == 2 and "nosuch" in json.loads(r.stderr)["error"]


def test_help_names_the_environment_variables():
    r = run_main(["--help"], {})
    for var in ("OVM3_URL", "OVM3_USER", "OVM3_PASSWORD", "OVM3_CONFIG"):
        assert var in r.stdout


def test_ctrl_c_exits_130_with_one_line(host, tmp_path):
    """A real process, a real SIGINT while a call waits on a slow agent."""
    rule = host.faults.add(method="list_vms", kind="hang", timeout=60)
    env = dict(os.environ, OVM3_PASSWORD=host.password, OVM3_CONFIG=os.devnull)
    proc = subprocess.Popen([sys.executable, "-m", "ovm3", "--url", host.url, "vm", "list"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not rule.fired and time.monotonic() < deadline:  # the call is in, and hangs
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        host.faults.release()
    assert proc.returncode == 130
    assert err.strip() == "interrupted" and "Traceback" not in err


def test_boot_time_is_a_date_and_an_unknown_mount_type_a_usage_error(host, config):
    env = {"OVM3_PASSWORD": host.password, "OVM3_CONFIG": str(config)}
    info = run_main(["--url", host.url, "host", "info"], env)
    line = [x for x in info.stdout.splitlines() if x.startswith("boot time:")][0]
    assert " UTC (" in line and line.split()[2][:2] == "20", line
    bad = run_main(["--url", host.url, "host", "mounts", "--type", "foo"], env)
    assert bad.exit_code == 2 and "foo" in bad.stderr and not host.calls.find("discover_mounted_file_systems")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_as_documented(shell):
    env = dict(os.environ, _OVM3_COMPLETE="%s_source" % shell)
    script = subprocess.run([sys.executable, "-m", "ovm3"], env=env, capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_ovm3_completion" in script.stdout
    if shell == "bash":
        env = dict(os.environ, _OVM3_COMPLETE="bash_complete", COMP_WORDS="ovm3 vm st", COMP_CWORD="2")
        done = subprocess.run([sys.executable, "-m", "ovm3"], env=env, capture_output=True, text=True, timeout=60)
        assert done.stdout.split() == ["plain,start", "plain,stats", "plain,stop"]


def test_tables_fit_a_width_and_lose_their_header_on_request(host, config):
    from ovm3.cli.output import table

    rows = [{"name": "web1", "path": "/OVS/Repositories/" + "a" * 32 + "/VirtualDisks/disk.img"}]
    fitted = table(rows, ["name", "path"], width=40, no_headers=False)
    assert max(len(line) for line in fitted.splitlines()) <= 40 and fitted.splitlines()[1].endswith("~")
    assert "disk.img" in table(rows, ["name", "path"], width=None, no_headers=False)  # -o wide, or piped
    assert table(rows, ["name"], width=None, no_headers=True) == "web1"
    env = {"OVM3_PASSWORD": host.password, "OVM3_CONFIG": str(config)}
    with_header = run_main(["--url", host.url, "network", "list"], env).stdout.splitlines()
    without = run_main(["--url", host.url, "network", "list", "--no-headers"], env).stdout.splitlines()
    assert without == with_header[1:] and with_header[0].startswith("NAME")
    as_o = run_main(["--url", host.url, "-o", "json", "host", "info"], env)
    assert json.loads(as_o.stdout)["hostname"] == "ovm-1"
    both = run_main(["--url", host.url, "--json", "-o", "wide", "host", "info"], env)
    assert both.exit_code == 2 and "two output formats" in json.loads(both.stderr)["error"]


def test_legacy_tls_is_remembered_with_the_pin(tmp_path, monkeypatch):
    from ovm3.client import AgentClient
    from ovm3.pinstore import PinStore

    store = tmp_path / "known_agents"
    monkeypatch.setenv("OVM3_KNOWN_AGENTS", str(store))
    with simulated_agents(count=1, version="3.2", tls=True, root=tmp_path / "sim") as hosts:
        h = hosts[0]
        env = {"OVM3_PASSWORD": h.password, "OVM3_CONFIG": os.devnull, "OVM3_KNOWN_AGENTS": str(store)}
        offered = run_main(["--url", h.url, "host", "fingerprint", "--save"], env)
        assert offered.exit_code == 1 and "only speaks TLS 1.0/1.1" in offered.stderr
        assert "--legacy-tls host fingerprint --save" in offered.stderr and not store.exists()
        saved = run_main(["--url", h.url, "--legacy-tls", "host", "fingerprint", "--save"], env)
        assert saved.exit_code == 0 and "legacy TLS" in saved.stderr
        assert store.read_text().split()[-1] == "legacy-tls"
        # later calls need no flag
        later = run_main(["--url", h.url, "host", "info"], env)
        assert later.exit_code == 0 and "hostname:" in later.stdout, later.stderr
        assert run_main(["--url", h.url, "host", "fingerprint"], env).exit_code == 0
        with AgentClient(h.url, password=h.password, agent_version="3.2") as agent:
            assert agent.call("echo", "old") == "old"
    # lines written before the third word existed still load
    store.write_text("# old\n127.0.0.1:1 %s\n" % ("ab" * 32))
    assert PinStore(str(store)).entry("127.0.0.1", 1) == ("ab" * 32, False)
    store.write_text("127.0.0.1:1 %s bogus\n" % ("ab" * 32))
    with pytest.raises(ConfigError, match="legacy-tls"):
        PinStore(str(store)).get("127.0.0.1", 1)


def test_the_deploy_inventory_is_a_second_source_of_profiles(host, config, tmp_path):
    pw = password_file(tmp_path, host.password)
    inv = tmp_path / "fleet.ini"
    inv.write_text("[host ovm-7]\naddress = 127.0.0.1\nagent_url = %s\nagent_password_file = %s\n" % (host.url, pw))
    env = {"OVM3_CONFIG": str(config)}
    for argv in (["--inventory", str(inv), "-H", "ovm-7", "vm", "list"],
                 ["vm", "list", "-H", "ovm-7", "--inventory", str(inv)]):
        r = run_main(argv, env)
        assert (r.exit_code, r.stdout.strip()) == (0, "no VMs running"), r.stderr
    r = run_main(["-H", "ovm-7", "vm", "list"], dict(env, OVM3_INVENTORY=str(inv)))
    assert r.exit_code == 0, r.stderr
    # a profile of the same name wins over the inventory
    store = ProfileStore(str(config))
    store.add(Profile("ovm-7", "http://127.0.0.1:1"))
    store.save()
    r = run_main(["--inventory", str(inv), "-H", "ovm-7", "vm", "list"], dict(env, OVM3_PASSWORD="x"))
    assert r.exit_code == 1 and "127.0.0.1:1" in r.stderr
