"""The SSH connector against a real sshd: host keys, logins, quoting, concurrent output, deadlines, the
ssh config and ssh-agent."""
import getpass
import os
import subprocess
import time

import pytest

from ovm3 import errors
from ovm3.deploy.ssh import SSHConnector, known_hosts_name
from tests import sshd
from tests.conftest_sshd import *  # noqa: F403  (the sshd fixtures)

pytestmark = [pytest.mark.sshd]


def test_unknown_host_key_is_refused_and_nothing_recorded(ssh_server, ssh_keys, tmp_path):
    known = tmp_path / "known_hosts"
    with pytest.raises(errors.HostKeyError, match="unknown host key"):
        SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=str(known))
    assert not known.exists()


def test_trust_on_first_use_records_the_key_then_it_is_known(ssh_server, ssh_keys, tmp_path):
    known = str(tmp_path / "known_hosts")
    with SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=known,
                      trust_new=True) as conn:
        assert conn.host_key_status == "recorded"
    kind, b64 = ssh_server.host_public_key()
    with open(known) as f:
        assert f.read() == "%s %s %s\n" % (known_hosts_name("127.0.0.1", ssh_server.port), kind, b64)
    with SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=known) as conn:
        assert conn.host_key_status == "known"


def test_a_dry_run_trusts_a_new_key_for_its_session_without_writing_known_hosts(ssh_server, ssh_keys, tmp_path):
    known = tmp_path / "known_hosts"
    with SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=str(known),
                      trust_new=True, record_new=False) as conn:
        assert conn.host_key_status == "trusted"
    assert not known.exists()


def test_changed_host_key_is_refused_even_with_trust_on_first_use(ssh_server, ssh_keys, tmp_path):
    other = sshd.keygen(str(tmp_path / "other_host_key"), "ed25519")
    with open(other + ".pub") as f:
        kind, b64 = f.read().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text("[127.0.0.1]:%d %s %s\n" % (ssh_server.port, kind, b64))
    with pytest.raises(errors.HostKeyError, match="HOST KEY CHANGED") as caught:
        SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=str(known),
                     trust_new=True)
    assert "ssh-keygen -R" in str(caught.value)
    assert known.read_text().count("\n") == 1


def test_argv_is_quoted_and_both_streams_are_read_before_the_exit_status(ssh_server, ssh_keys, known_hosts):
    with SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=known_hosts) as conn:
        hostile = "a b; touch /tmp/ovm3-pwned-$$ `id` 'q' \"dq\""
        assert conn.run(["printf", "%s", hostile]).stdout == hostile.encode()
        # 5 MB on stdout and 4 MB on stderr: far beyond the SSH window, deadlocks if read in order
        result = conn.run(["sh", "-c", "head -c 5000000 /dev/zero; head -c 4000000 /dev/zero >&2; exit 7"])
        assert (result.status, len(result.stdout), len(result.stderr)) == (7, 5000000, 4000000)


def test_a_hung_command_hits_its_deadline(ssh_server, ssh_keys, known_hosts):
    with SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=known_hosts) as conn:
        with pytest.raises(errors.SSHError, match="did not finish within 0.5s"):
            conn.run(["sleep", "30"], timeout=0.5)
        assert conn.run(["true"]).ok  # the session survives


def test_put_and_get_round_trip_binary(ssh_server, ssh_keys, known_hosts, tmp_path):
    data = os.urandom(300000)
    with SSHConnector("127.0.0.1", ssh_server.port, key_files=[ssh_keys], known_hosts=known_hosts) as conn:
        conn.put(data, str(tmp_path / "blob"))
        assert conn.get(str(tmp_path / "blob")) == data
        assert conn.get(str(tmp_path / "missing")) is None


def test_refused_password_login_never_shows_the_password(tmp_path, ssh_keys):
    with sshd.SSHServer(str(tmp_path / "pw"), [], password_auth=True) as server:
        known = tmp_path / "kh"
        known.write_text(server.known_hosts_line())
        with pytest.raises(errors.SSHError) as caught:
            SSHConnector("127.0.0.1", server.port, key_files=[], password="s3cret-Pw!",
                         known_hosts=str(known))
    assert "login refused" in str(caught.value) and "s3cret" not in str(caught.value)
    assert "s3cret" not in repr(caught.value)


def test_nothing_listening_is_a_clear_connect_error(ssh_keys, tmp_path):
    with pytest.raises(errors.SSHError, match="cannot connect to sshd"):
        SSHConnector("127.0.0.1", sshd.free_port(), key_files=[ssh_keys], known_hosts=str(tmp_path / "kh"))


needs_private_shadow = pytest.mark.skipif(not sshd.private_shadow_possible(),
                                          reason="needs unshare -m and openssl for a throwaway root password")
ROOT_PASSWORD = "r00t-Test-Pw!"


@pytest.fixture(scope="module")
def password_server(tmp_path_factory):
    """An sshd that takes root's password ROOT_PASSWORD and no key (see tests/sshd.py, root_password)."""
    with sshd.SSHServer(str(tmp_path_factory.mktemp("sshd-pw")), [], root_password=ROOT_PASSWORD) as server:
        yield server


@needs_private_shadow
def test_password_login_succeeds_without_touching_the_real_accounts(password_server, tmp_path):
    with open("/etc/shadow", "rb") as f:
        real_shadow = f.read()
    known = tmp_path / "kh"
    known.write_text(password_server.known_hosts_line())
    with SSHConnector("127.0.0.1", password_server.port, key_files=[], password=ROOT_PASSWORD,
                      known_hosts=str(known)) as conn:
        assert conn.run(["id", "-u"]).stdout == b"0\n"
        assert "r00t" not in repr(conn) and not any("r00t" in repr(v) for v in vars(conn).values())
    with pytest.raises(errors.SSHError, match="login refused"):
        SSHConnector("127.0.0.1", password_server.port, key_files=[], password="not-" + ROOT_PASSWORD,
                     known_hosts=str(known))
    with open("/etc/shadow", "rb") as f:
        assert f.read() == real_shadow


@needs_private_shadow
@pytest.mark.parametrize("source", ["file", "env"])
def test_cli_deploy_logs_in_with_a_password_from_a_file_or_the_environment(
        source, password_server, dom0, agent, host_files, tmp_path, monkeypatch, capsys):
    from ovm3.cli.main import main
    from tests.conftest_sshd import AGENT_PASSWORD, REMOTE_PYTHON

    known = tmp_path / "kh"
    known.write_text(password_server.known_hosts_line())
    agent_pw = tmp_path / "agent.pw"
    agent_pw.write_text(AGENT_PASSWORD + "\n")
    ssh_pw = tmp_path / "ssh.pw"
    ssh_pw.write_text(ROOT_PASSWORD + "\n")
    os.chmod(agent_pw, 0o600)
    os.chmod(ssh_pw, 0o600)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* keys to offer: the password must do it
    lines = ["[host ovm-1]", "address = 127.0.0.1", "ssh_port = %d" % password_server.port,
             "known_hosts = %s" % known, "remote_root = %s" % dom0.root, "remote_python = %s" % REMOTE_PYTHON,
             "agent_url = %s" % agent.url, "agent_password_file = %s" % agent_pw]
    if source == "file":
        lines.append("ssh_password_file = %s" % ssh_pw)
    else:
        monkeypatch.setenv("OVM3_SSH_PASSWORD", ROOT_PASSWORD)
    inv = tmp_path / "one.ini"
    inv.write_text("\n".join(lines) + "\n")
    legacy = ["--legacy-tls"] if agent.legacy_tls else []

    code = main(legacy + ["deploy", "--inventory", str(inv), "--host-files", host_files, "--no-heartbeat"])
    out, err = capsys.readouterr()

    assert code == 0, out + err
    assert out.splitlines()[1].split()[:2] == ["ovm-1", "changed"]
    assert os.path.exists(os.path.join(dom0.root, "opt/ovm3/ovm3_agent.py"))
    assert ROOT_PASSWORD not in out + err


def test_a_passphrase_protected_key_is_asked_for_or_explained(tmp_path, monkeypatch):
    import subprocess

    from tests import sshd as sshd_mod

    key = str(tmp_path / "id_enc")
    subprocess.run([sshd_mod.SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "s3cret-phrase", "-C", "enc", "-f", key],
                   check=True, stdout=subprocess.DEVNULL)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with sshd_mod.SSHServer(str(tmp_path / "sshd"), [key + ".pub"]) as server:
        known = tmp_path / "known_hosts"
        known.write_text(server.known_hosts_line())
        # no terminal, no ssh-agent: a typed error that says what to do, never a TypeError
        with pytest.raises(errors.SSHError) as info:
            SSHConnector("127.0.0.1", server.port, key_files=[key], known_hosts=str(known))
        assert "passphrase" in str(info.value) and "ssh-agent" in str(info.value)
        # a wrong passphrase is named as such
        with pytest.raises(errors.SSHError) as info:
            SSHConnector("127.0.0.1", server.port, key_files=[key], known_hosts=str(known),
                         passphrase=lambda path: "wrong")
        assert "wrong passphrase" in str(info.value)
        asked = []
        with SSHConnector("127.0.0.1", server.port, key_files=[key], known_hosts=str(known),
                          passphrase=lambda path: asked.append(path) or "s3cret-phrase") as conn:
            assert conn.run(["true"], check=True) is not None
        assert asked == [key]


def test_cli_deploy_reads_the_ssh_config_for_hosts_on_the_command_line(
        ssh_server, ssh_keys, known_hosts, dom0, host_files, tmp_path, monkeypatch, capsys):
    from ovm3.cli.main import main
    from tests.conftest_sshd import REMOTE_PYTHON

    config = tmp_path / "ssh_config"
    config.write_text("Host ovm-x\n    HostName 127.0.0.1\n    Port %d\n    IdentityFile %s\n"
                      "Host *\n    User nobody-else\n" % (ssh_server.port, ssh_keys))
    monkeypatch.setenv("OVM3_SSH_CONFIG", str(config))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* keys: the config's IdentityFile must do it
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    argv = ["deploy", "ovm-x", "--dry-run", "--known-hosts", known_hosts, "--remote-root", dom0.root,
            "--remote-python", REMOTE_PYTHON, "--host-files", host_files, "--no-heartbeat"]
    # the config's User is used unless --ssh-user is given: nobody-else is refused, root logs in
    assert main(argv) == 1
    assert "nobody-else login refused" in capsys.readouterr().out
    assert main(argv + ["--ssh-user", getpass.getuser()]) == 0, capsys.readouterr()
    assert "== ovm-x: plan" in capsys.readouterr().out


@pytest.fixture
def ssh_agent_with(tmp_path, ssh_keys):
    """A real ssh-agent holding the test key; yields its socket path."""
    sock = str(tmp_path / "agent.sock")
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run(["ssh-add", ssh_keys], env=dict(os.environ, SSH_AUTH_SOCK=sock), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_login_with_a_key_held_by_ssh_agent(ssh_server, known_hosts, ssh_agent_with, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no key files at all
    monkeypatch.setenv("SSH_AUTH_SOCK", ssh_agent_with)
    with SSHConnector("127.0.0.1", ssh_server.port, user=getpass.getuser(), known_hosts=known_hosts) as conn:
        assert conn.run_line("echo agent-login")[1].strip() == b"agent-login"
    monkeypatch.delenv("SSH_AUTH_SOCK")
    with pytest.raises(errors.SSHError, match="login refused"):
        SSHConnector("127.0.0.1", ssh_server.port, user=getpass.getuser(), known_hosts=known_hosts)
