"""``ovm3 deploy --self-test`` end to end: over the loopback sshd, the host tests run with Python 2.7 as the
"remote" dom0 Python, as nobody, in a temp dir that is gone afterwards; nothing else on the host changes."""
import glob
import os

import pytest

from ovm3 import errors
from ovm3.deploy import selftest
from ovm3.deploy.ssh import SSHConnector
from tests import sshd
from tests.conftest_sshd import *  # noqa: F403  (the sshd, simulated agent and fake dom0 fixtures)
from tests.conftest_sshd import PYTHON27, REMOTE_PYTHON

pytestmark = [pytest.mark.sshd]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOBODY = 65534

#: Extra host tests for a copy of the tree: one that fails on purpose, one that proves who runs them.
EXTRA_TESTS = '''import os
import unittest


class Planted(unittest.TestCase):
    def test_fails_on_purpose(self):
        self.assertEqual(1, 2)

    def test_runs_unprivileged(self):
        self.assertNotEqual(os.getuid(), 0)
        for path in ("/proc/sysrq-trigger", "/etc/ovm3-selftest-probe"):
            self.assertRaises(IOError, open, path, "w")
'''


def python_home():
    """The folder of the 2.7 interpreter when it lives below /root (pyenv), which nobody cannot enter."""
    if PYTHON27 and PYTHON27.startswith("/root/"):
        return os.path.dirname(os.path.dirname(PYTHON27))
    return None


@pytest.fixture(scope="module")
def selftest_server(tmp_path_factory, ssh_keys):
    """An sshd whose sessions can run the 2.7 interpreter as nobody (see tests/sshd.py, open_under_root)."""
    if python_home() and not sshd.private_mounts_possible():
        pytest.skip("pyenv's Python 2.7 is below /root: nobody can run it without unshare -m")
    with sshd.SSHServer(str(tmp_path_factory.mktemp("sshd-selftest")), [ssh_keys + ".pub"],
                        open_under_root=python_home()) as server:
        yield server


@pytest.fixture
def conn(selftest_server, ssh_keys, tmp_path):
    known = tmp_path / "kh"
    known.write_text(selftest_server.known_hosts_line())
    with SSHConnector("127.0.0.1", selftest_server.port, key_files=[ssh_keys], known_hosts=str(known)) as c:
        yield c


def leftovers():
    return sorted(glob.glob("/tmp/ovm3-selftest.*"))


def test_host_tests_pass_on_the_remote_python_as_nobody_and_leave_nothing(conn, dom0):
    assert PYTHON27, "the self-test must be proved with Python 2.7 as the remote Python"
    before, left = dom0.snapshot(), leftovers()

    result = selftest.run(conn, root=dom0.root, python=REMOTE_PYTHON, label="ovm-1", timeout=300)

    assert result.status == "passed", (result.reason, result.plan)
    assert ("on Python 2.7" in result.reason) and ("as uid %d" % NOBODY in result.reason), result.reason
    ran = int(result.reason.split()[0])
    assert ran >= 100
    assert result.ovm_version == "3.3.1"
    folder = result.actions[0].split()[-1]
    assert folder.startswith("/tmp/ovm3-selftest.") and not os.path.exists(folder)
    assert any(p.endswith("/tests/host/runner.py") for p in result.uploaded)
    assert not any(p.endswith("/test_gate.py") for p in result.uploaded)
    assert leftovers() == left
    assert dom0.snapshot() == before


def test_a_failing_host_test_fails_the_host_and_is_named(conn, dom0, tmp_path):
    tree = tmp_path / "tree"
    for rel, data, mode in selftest.bundle(REPO):
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    (tree / "tests/host/test_zz_planted.py").write_text(EXTRA_TESTS)
    left = leftovers()

    result = selftest.run(conn, root=dom0.root, python=REMOTE_PYTHON, tree=str(tree), label="ovm-1", timeout=300)

    assert result.status == "failed"
    assert "1 of " in result.reason and "test_fails_on_purpose" in result.reason, result.reason
    assert [line for line in result.plan if "test_zz_planted" in line] == [
        "FAILED tests.host.test_zz_planted.Planted.test_fails_on_purpose"], result.plan
    assert leftovers() == left


def test_runner_refuses_to_run_as_root_or_an_odd_name(conn, dom0):
    for user in ("root", "no body", "-x", ""):
        with pytest.raises(errors.UsageError, match="--self-test-user"):
            selftest.run(conn, root=dom0.root, python=REMOTE_PYTHON, user=user)
    result = selftest.run(conn, root=dom0.root, python=REMOTE_PYTHON, user="no-such-user-ovm3", timeout=120)
    assert result.status == "failed" and "did not run (exit 2)" in result.reason, result.reason
    assert "no user 'no-such-user-ovm3'" in result.reason, result.reason


def test_cli_self_test_prints_passed_per_host(selftest_server, ssh_keys, dom0, tmp_path, monkeypatch, capsys):
    from ovm3.cli.main import main

    known = tmp_path / "kh"
    known.write_text(selftest_server.known_hosts_line())
    inv = tmp_path / "fleet.ini"
    inv.write_text("[host ovm-1]\naddress = 127.0.0.1\nssh_port = %d\nssh_key = %s\nknown_hosts = %s\n"
                   "remote_root = %s\nremote_python = %s\n"
                   % (selftest_server.port, ssh_keys, known, dom0.root, REMOTE_PYTHON))
    monkeypatch.delenv("OVM3_PASSWORD", raising=False)

    code = main(["deploy", "--inventory", str(inv), "--self-test"])
    out, err = capsys.readouterr()

    assert code == 0, out + err
    row = [line for line in out.splitlines() if line.startswith("ovm-1")][0].split()
    assert row[:3] == ["ovm-1", "passed", "3.3.1"], out
    assert main(["deploy", "--inventory", str(inv), "--self-test", "--uninstall"]) == 2
    assert main(["deploy", "--inventory", str(inv), "--self-test", "--self-test-user", "root"]) == 2
