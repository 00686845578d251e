"""Old dom0 sshd: deploy through an OpenSSH restricted to what Oracle Linux 6 (OVM 3.3/3.4) offers."""
import pytest

from ovm3.deploy import engine, manifest
from ovm3.deploy.agent import AgentAccess
from ovm3.deploy.ssh import SSHConnector
from ovm3.pinstore import PinStore
from tests import sshd
from tests.conftest_sshd import *  # noqa: F403  (the sshd, simulated agent and fake dom0 fixtures)
from tests.conftest_sshd import MOUNTS, REMOTE_PYTHON

pytestmark = [pytest.mark.sshd]


@pytest.fixture(scope="module")
def ol6_server(tmp_path_factory, ssh_keys):
    with sshd.SSHServer(str(tmp_path_factory.mktemp("ol6")), [ssh_keys + ".pub"], legacy=True) as server:
        yield server


def test_deploy_through_an_oracle_linux_6_sshd(ol6_server, ssh_keys, tmp_path, dom0, agent, host_files):
    known = tmp_path / "kh"
    known.write_text(ol6_server.known_hosts_line())
    opts = engine.Options(root=dom0.root, python=REMOTE_PYTHON, sources=manifest.default_sources(host_files),
                          heartbeat=manifest.HeartbeatSettings(guid="h", mounts=list(MOUNTS)),
                          agent=AgentAccess(url=agent.url, password=agent.password), pin_store=PinStore(),
                          wait_timeout=20.0)
    with SSHConnector("127.0.0.1", ol6_server.port, key_files=[ssh_keys], known_hosts=str(known)) as conn:
        t = conn._transport
        # the server allows only the OL6 set (sshd.OL6_ALGORITHMS: SHA-1 kex too), so getting here at
        # all proves the key exchange; the rest is visible on the transport
        assert t.host_key_type == "ssh-rsa"
        assert t.local_cipher in ("aes128-ctr", "aes256-ctr") and t.local_mac == "hmac-sha1"
        result = engine.deploy(conn, opts, label="ol6")
    assert result.status == "changed" and result.fingerprint == agent.fingerprint
    assert dom0.daemon_pid()  # the real init script started the real daemon through this sshd too
