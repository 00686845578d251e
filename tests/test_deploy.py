"""ovm3 deploy against a real sshd and a fake dom0 tree: first deploy, idempotence, dry run, uninstall."""
import hashlib
import os

import pytest

from ovm3 import errors
from ovm3.deploy import engine, manifest
from ovm3.deploy.agent import AgentAccess, cert_fingerprint
from ovm3.deploy.ssh import SSHConnector
from ovm3.pinning import PinStore
from tests.conftest_sshd import *  # noqa: F403  (the sshd, fake dom0 and agent fixtures)
from tests.conftest_sshd import REMOTE_PYTHON

pytestmark = [pytest.mark.sshd]


def connect(server, key, known):
    return SSHConnector("127.0.0.1", server.port, key_files=[key], known_hosts=known)


def options(dom0, agent, host_files, **kw):
    access = AgentAccess(url=agent.url, password=agent.password)
    hb = manifest.HeartbeatSettings(guid="host-1", mounts=["/nfsmnt/pool1", "/nfsmnt/pool2"])
    base = dict(root=dom0.root, python=REMOTE_PYTHON, heartbeat=hb,
                sources=manifest.default_sources(host_files), agent=access, pin_store=PinStore(),
                wait_timeout=20.0, command_timeout=30.0)
    base.update(kw)
    return engine.Options(**base)


def run(server, key, known, opts, uninstall=False):
    with connect(server, key, known) as conn:
        return engine.deploy(conn, opts, label="ovm-1", uninstall=uninstall)


def sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def test_first_deploy_installs_everything_and_pins_the_agent(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    result = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))

    assert result.status == "changed", result
    assert result.ovm_version == "3.3.1"
    staging = os.path.join(dom0.root, "opt/ovm3")
    assert sorted(os.listdir(staging)) == sorted(
        ["ovm3_agent.py", "ovm3_agent_base.py", "ovm3_compat.py", "ovm3_heartbeat.py", "ovm3_hb_record.py",
         "ovm3_dump_api.py"])
    assert result.bytes_uploaded == sum(len(s.data) for s in manifest.build(
        dom0.root, manifest.default_sources(host_files), options(dom0, agent, host_files).heartbeat))
    # explicit modes, no temp files left behind
    assert os.stat(os.path.join(staging, "ovm3_agent.py")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(staging, "ovm3_compat.py")).st_mode & 0o777 == 0o644
    init = os.path.join(dom0.root, "etc/init.d/ovm3-heartbeat")
    assert os.stat(init).st_mode & 0o777 == 0o755
    assert sha1(init) == sha1(os.path.join(host_files, "fencing/ovm3-heartbeat.init"))
    assert not [n for n in os.listdir(staging) if ".ovm3-" in n]
    # the module went into the agent, and the agent was restarted and waited for
    with open(os.path.join(dom0.agent_dir, "target/api.py")) as f:
        assert "import ovm3_agent" in f.read()
    calls = dom0.calls()
    assert calls[0] == "service ovs-agent restart"
    assert calls[1:] == ["chkconfig --add ovm3-heartbeat", "chkconfig ovm3-heartbeat on",
                         "service ovm3-heartbeat restart"]
    assert agent.restarts == 1 and [c for c in agent.calls if c[0] == "echo"]
    # the heartbeat config is log-only unless armed
    with open(os.path.join(dom0.root, "etc/sysconfig/ovm3-heartbeat")) as f:
        config = f.read()
    assert "GUID=host-1\n" in config and 'MOUNTS="/nfsmnt/pool1 /nfsmnt/pool2"\n' in config
    assert "FENCE_ACTION=log-only\n" in config
    # the pin came from the certificate file read over SSH
    assert result.fingerprint == agent.fingerprint
    assert PinStore().get("127.0.0.1", int(agent.url.rsplit(":", 1)[1])) == agent.fingerprint


def test_redeploy_transfers_nothing_and_restarts_nothing(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))
    before = dom0.snapshot()
    calls_before = len(dom0.calls())

    again = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))

    assert again.status == "unchanged", again
    assert again.uploaded == [] and again.bytes_uploaded == 0
    assert dom0.calls()[calls_before:] == ["service ovm3-heartbeat status"]
    assert dom0.snapshot() == before


def test_changed_source_file_uploads_only_that_file(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))
    with open(os.path.join(host_files, "agent_module/ovm3_agent_base.py"), "a") as f:
        f.write("VERSION = 2\n")
    restarts = agent.restarts

    result = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))

    assert result.status == "changed"
    assert result.uploaded == [os.path.join(dom0.root, "opt/ovm3/ovm3_agent_base.py")]
    assert sha1(result.uploaded[0]) == sha1(os.path.join(host_files, "agent_module/ovm3_agent_base.py"))
    assert agent.restarts == restarts + 1  # the installer reported changed=yes


def test_changed_heartbeat_settings_rewrite_config_and_restart_daemon(ssh_server, ssh_keys, known_hosts, dom0,
                                                                      agent, host_files):
    run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))
    armed = manifest.HeartbeatSettings(guid="host-1", mounts=["/nfsmnt/pool1"], armed=True)

    result = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files, heartbeat=armed))

    assert result.uploaded == [os.path.join(dom0.root, "etc/sysconfig/ovm3-heartbeat")]
    with open(result.uploaded[0]) as f:
        assert "FENCE_ACTION=crash\n" in f.read()
    assert dom0.calls()[-1] == "service ovm3-heartbeat restart"


def test_dry_run_prints_the_plan_and_changes_nothing(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    before = dom0.snapshot()

    result = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files, dry_run=True))

    assert result.status == "planned" and result.reason == "would change"
    assert dom0.snapshot() == before
    assert dom0.calls() == [] and agent.calls == []
    uploads = [line for line in result.plan if line.startswith("upload ")]
    assert len(uploads) == 8 and all("[new]" in line for line in uploads)
    assert any("ovm3_agent.py install --agent-dir" in line for line in result.plan)
    assert result.plan[-1] == "agent module now: state=unknown until the new installer is staged"


def test_uninstall_restores_the_tree_byte_for_byte(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    pristine = dom0.snapshot()
    run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))
    assert dom0.snapshot() != pristine

    result = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files), uninstall=True)

    assert result.status == "changed", result
    assert dom0.snapshot() == pristine
    assert dom0.calls()[-3:] == ["service ovs-agent restart", "service ovm3-heartbeat stop",
                                 "chkconfig --del ovm3-heartbeat"]
    assert agent.restarts == 2


def test_unsupported_release_is_refused_with_a_reason(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    dom0.write("etc/ovs-release", "Oracle VM server release 2.2.2\n")
    with pytest.raises(errors.DeployError, match="unsupported OVM release"):
        run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files))
    assert not os.path.exists(os.path.join(dom0.root, "opt/ovm3"))


def test_remote_root_slash_is_refused_under_tests(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    with pytest.raises(errors.UsageError, match="refusing --remote-root /"):
        run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, host_files, root="/"))


def test_cert_fingerprint_is_sha256_of_der(agent):
    with open(agent.cert, "rb") as f:
        assert cert_fingerprint(f.read()) == agent.fingerprint
    with pytest.raises(errors.DeployError):
        cert_fingerprint(b"not a certificate")


REAL_INSTALLER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "agent_module", "ovm3_agent_install.py")


@pytest.mark.skipif(not os.path.exists(REAL_INSTALLER), reason="the real installer is not in this checkout")
def test_real_agent_module_deploys_and_uninstalls_byte_for_byte(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, _ = env
    pristine = dom0.snapshot()
    opts = options(dom0, agent, None, sources=manifest.default_sources(), heartbeat=None)

    first = run(ssh_server, ssh_keys, known_hosts, opts)
    assert first.status == "changed", first
    with open(os.path.join(dom0.agent_dir, "target/api.py")) as f:
        assert "ovm3_agent" in f.read()
    again = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, None, sources=manifest.default_sources(),
                                                            heartbeat=None))
    assert again.status == "unchanged" and again.bytes_uploaded == 0, again
    gone = run(ssh_server, ssh_keys, known_hosts, options(dom0, agent, None, sources=manifest.default_sources(),
                                                           heartbeat=None), uninstall=True)
    assert gone.status == "changed"
    # Python 3 (standing in for dom0's 2.x here) leaves bytecode of the module it imported to verify
    # api.py; everything else is back byte for byte.
    after = dom0.snapshot(ignore_bytecode=True)
    # The real installer (agent_module/ovm3_agent_install.py) still leaves its empty state folder.
    assert {k: v for k, v in after.items() if k != "var/lib/ovm3"} == pristine
