"""`ovm3 deploy` as the operator runs it: inventory, several sshd instances, one broken host, rotation."""
import contextlib
import os

import pytest

from ovm3 import errors
from ovm3.cli.main import main
from ovm3.pinstore import PinStore
from tests import sshd
from tests.conftest_sshd import *  # noqa: F403  (the sshd, simulated agent and fake dom0 fixtures)
from tests.conftest_sshd import AGENT_PASSWORD, REMOTE_PYTHON, FakeDom0, sim_agent

pytestmark = [pytest.mark.sshd]


def write_inventory(path, hosts):
    lines = ["[defaults]", "remote_python = %s" % REMOTE_PYTHON, "mounts = /nfsmnt/pool1", ""]
    for name, values in hosts:
        lines.append("[host %s]" % name)
        lines += ["%s = %s" % kv for kv in values.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return str(path)


def host_values(server, key, known, dom0, agent, pw_file):
    return {"address": "127.0.0.1", "ssh_port": server.port, "ssh_key": key, "known_hosts": known,
            "remote_root": dom0.root, "agent_url": agent.url, "agent_password_file": pw_file}


def test_fleet_deploy_with_one_broken_host(tmp_path, ssh_server, ssh_keys, known_hosts, host_files, capsys):
    pw = tmp_path / "agent.pw"
    pw.write_text(AGENT_PASSWORD + "\n")
    os.chmod(pw, 0o600)
    with contextlib.ExitStack() as stack:
        second = stack.enter_context(sshd.SSHServer(str(tmp_path / "sshd2"), [ssh_keys + ".pub"]))
        a1 = stack.enter_context(sim_agent(str(tmp_path / "a1")))
        a2 = stack.enter_context(sim_agent(str(tmp_path / "a2")))
        d1, d2 = FakeDom0(a1), FakeDom0(a2)
        stack.callback(d1.kill_daemon)
        stack.callback(d2.kill_daemon)
        with open(known_hosts, "a") as f:
            f.write(second.known_hosts_line())
        dead = dict(host_values(ssh_server, ssh_keys, known_hosts, d1, a1, str(pw)), ssh_port=sshd.free_port())
        inv = write_inventory(tmp_path / "fleet.ini", [
            ("ovm-1", host_values(ssh_server, ssh_keys, known_hosts, d1, a1, str(pw))),
            ("ovm-broken", dead),
            ("ovm-2", host_values(second, ssh_keys, known_hosts, d2, a2, str(pw)))])

        code = main(["deploy", "--inventory", inv, "--host-files", host_files, "--workers", "3",
                     "--wait-timeout", "20"])
        out, err = capsys.readouterr()

        assert code == 1, out + err
        rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
        assert rows["ovm-1"][1] == "changed" and rows["ovm-2"][1] == "changed"
        assert rows["ovm-broken"][1] == "failed" and "cannot connect to sshd" in out
        assert "[3/3]" in err  # progress
        for dom0 in (d1, d2):
            assert os.path.exists(os.path.join(dom0.root, "etc/init.d/ovm3-heartbeat"))
            assert dom0.daemon_pid()
        assert PinStore().get("127.0.0.1", a1.port) == a1.fingerprint
        assert PinStore().get("127.0.0.1", a2.port) == a2.fingerprint

        # all hosts fine now (the broken one left out): the same run is a no-op and exits 0
        code = main(["deploy", "--inventory", inv, "--host-files", host_files, "ovm-1", "ovm-2"])
        out, _ = capsys.readouterr()
        assert code == 0 and out.count(" unchanged ") == 2


def test_dry_run_from_the_command_line_prints_the_plan(env, tmp_path, capsys):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    inv = write_inventory(tmp_path / "one.ini", [
        ("ovm-1", host_values(ssh_server, ssh_keys, known_hosts, dom0, agent, str(tmp_path / "none")))])
    before = dom0.snapshot()
    code = main(["deploy", "--inventory", inv, "--host-files", host_files, "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "== ovm-1: plan" in out and "upload %s/opt/ovm3/ovm3_agent.py" % dom0.root in out
    assert "heartbeat not configured" not in err  # the inventory's defaults name a mount
    no_mounts = tmp_path / "no-mounts.ini"
    no_mounts.write_text(open(inv).read().replace("mounts = /nfsmnt/pool1\n", ""))
    code = main(["deploy", "--inventory", str(no_mounts), "--host-files", host_files, "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0 and "ovm-1: heartbeat not configured: no --mount" in err  # said, not silently left out
    code = main(["deploy", "--inventory", str(no_mounts), "--host-files", host_files, "--dry-run", "--mount",
                 "/nfs/a", "--interval", "0.5", "--hb-timeout", "2.5"])
    out, err = capsys.readouterr()
    assert code == 0 and "heartbeat not configured" not in err
    fresh = tmp_path / "fresh_known_hosts"
    unknown = tmp_path / "unknown.ini"
    unknown.write_text(open(inv).read().replace("known_hosts = %s" % known_hosts, "known_hosts = %s" % fresh))
    code = main(["deploy", "--inventory", str(unknown), "--host-files", host_files, "--dry-run",
                 "--trust-new-host-key"])
    capsys.readouterr()
    assert code == 0 and not fresh.exists()  # a dry run never writes known_hosts
    assert dom0.snapshot() == before


@pytest.mark.parametrize("version,nargs", [("3.3", 3), ("3.2", 2)])
def test_rotate_agent_password_updates_the_password_file(tmp_path, ssh_server, ssh_keys, known_hosts, host_files,
                                                         capsys, version, nargs):
    pw = tmp_path / "agent.pw"
    pw.write_text(AGENT_PASSWORD + "\n")
    os.chmod(pw, 0o600)
    with sim_agent(str(tmp_path / "sim"), version) as agent:
        dom0 = FakeDom0(agent)
        inv = write_inventory(tmp_path / "one.ini", [
            ("ovm-1", host_values(ssh_server, ssh_keys, known_hosts, dom0, agent, str(pw)))])
        legacy = ["--legacy-tls"] if agent.legacy_tls else []  # the 3.2 agent speaks TLS 1.0 only

        code = main(legacy + ["deploy", "--inventory", inv, "--host-files", host_files, "--rotate-agent-password",
                              "--no-heartbeat"])
        out, err = capsys.readouterr()

        assert code == 0, out + err
        assert dom0.calls()[0] == "service ovs-agent restart"
        new = pw.read_text().strip()
        # the simulated agent took the new password with its own signature, and answers with it only
        assert new != AGENT_PASSWORD and agent.password == new
        calls = agent.calls.find("update_agent_password")
        assert len(calls) == 1 and calls[0].ok and len(calls[0].args) == nargs
        assert agent.calls.methods()[-1] == "echo" and agent.calls[-1].ok
        with agent.client(password=new) as client:
            assert client.call("echo", "again") == "again"
        with pytest.raises(errors.AuthenticationError):
            with agent.client(password=AGENT_PASSWORD) as client:
                client.call("echo", "old")
        assert new not in out + err and os.stat(pw).st_mode & 0o777 == 0o600
        assert not os.path.exists(str(pw) + ".new")


def test_inventory_heartbeat_timings_take_fractions(tmp_path):
    from ovm3 import errors, inventory

    good = write_inventory(tmp_path / "a.ini", [("ovm-1", {"address": "10.0.0.1", "interval": "0.5",
                                                            "timeout": "2.5", "ssh_port": "2222"})])
    entry = inventory.load(good).hosts[0]
    assert (entry.interval, entry.timeout, entry.ssh_port) == (0.5, 2.5, 2222)
    for bad in ("0", "-1", "nan", "inf", "soon"):
        path = write_inventory(tmp_path / "b.ini", [("ovm-1", {"address": "10.0.0.1", "interval": bad})])
        with pytest.raises(errors.ConfigError, match="positive number of seconds"):
            inventory.load(path)


def test_fractional_interval_is_accepted_and_zero_refused_on_the_command_line(capsys):
    assert main(["deploy", "--interval", "0"]) == 2
    assert "--interval" in capsys.readouterr().err
    assert main(["deploy", "--interval", "0.5", "--hb-timeout", "2.5"]) == 2  # refused for the missing HOST only
    assert "name at least one HOST" in capsys.readouterr().err
