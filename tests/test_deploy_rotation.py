"""``--rotate-agent-password`` is crash-safe and expands ``~`` once: at every step one password file on
disk holds a password the (simulated, real-socket) agent accepts."""

import os

import pytest

from ovm3 import errors
from ovm3.client import read_password_file
from ovm3.deploy import agent as agent_ops
from ovm3.deploy.agent import AgentAccess
from tests.conftest_sshd import AGENT_PASSWORD, sim_agent


def _accepted(host, password):
    try:
        with host.client(password=password, retries=0) as c:
            return c.call("echo", "x") == "x"
    except errors.AuthenticationError:
        return False


def _access(host, path):
    return AgentAccess(url=host.url, password=AGENT_PASSWORD, password_file=path, legacy_tls=host.legacy_tls,
                       fingerprint=host.fingerprint)


def _files(path):
    return [p for p in (path, path + ".new") if os.path.exists(p)]


def test_a_tilde_password_file_is_rotated_in_place(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / "agent.pw").write_text(AGENT_PASSWORD + "\n")
    os.chmod(home / "agent.pw", 0o600)
    with sim_agent(str(tmp_path / "sim")) as host:
        agent_ops.rotate_password(_access(host, "~/agent.pw"), host.version, wait_s=10)
        new = read_password_file(str(home / "agent.pw"))
        assert new != AGENT_PASSWORD and _accepted(host, new)
        assert not os.path.exists(str(home / "agent.pw.new")) and not os.path.exists("~")


@pytest.mark.parametrize("crash_at", ["update_agent_password", "wait_for_agent", "replace"])
def test_a_crash_at_any_step_leaves_a_file_the_agent_accepts(tmp_path, monkeypatch, crash_at):
    path = str(tmp_path / "agent.pw")
    with open(path, "w") as f:
        f.write(AGENT_PASSWORD + "\n")
    os.chmod(path, 0o600)

    class Crash(Exception):
        pass

    with sim_agent(str(tmp_path / "sim")) as host:
        if crash_at == "update_agent_password":
            host.faults.add(method="update_agent_password", kind="fault", fault="exceptions.Exception:disk full")
        elif crash_at == "wait_for_agent":
            monkeypatch.setattr(agent_ops, "wait_for_agent", lambda *a, **k: (_ for _ in ()).throw(Crash()))
        else:
            def boom(src, dst):
                raise Crash()
            monkeypatch.setattr(agent_ops.os, "replace", boom)
        with pytest.raises((Crash, errors.OVM3Error)):
            agent_ops.rotate_password(_access(host, path), host.version, wait_s=5)
        assert any(_accepted(host, read_password_file(p)) for p in _files(path)), crash_at
        # the password file itself still holds the old one until the new one is proven
        assert read_password_file(path) == AGENT_PASSWORD
