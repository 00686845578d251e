"""Fixtures for the deploy tests: a real sshd, a fake dom0 tree, a stand-in installer and a TLS agent.

Import the fixtures into a test module with ``from tests.conftest_sshd import *``. Everything lives in
pytest temp dirs; nothing touches the machine's /etc, /opt or a real agent.

The fake dom0 (``FakeDom0``) has ``/etc/ovs-release``, an ``agent/target/api.py`` tree under
``usr/lib64/python2.6/site-packages``, ``etc/init.d``, ``etc/sysconfig``, the agent's certificate and stub
``sbin/service`` / ``sbin/chkconfig`` that record each call in ``calls.log`` (outside the tree) and
"restart" the fake agent by dropping a marker file it reacts to.
"""
import base64
import datetime
import hashlib
import os
import shutil
import ssl
import sys
import textwrap
import threading
import xmlrpc.server

import pytest

from tests import sshd

__all__ = ["ssh_keys", "ssh_server", "known_hosts", "_testing_env", "agent", "dom0", "host_files", "env",
           "FakeAgent", "FakeDom0", "make_host_files", "REMOTE_PYTHON"]

pytestmark = pytest.mark.skipif(not sshd.available(), reason="needs /usr/sbin/sshd and root")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A stand-in for agent_module/ovm3_agent.py's installer CLI, same interface (key=value output).
STANDIN_INSTALLER = textwrap.dedent('''\
    import os, shutil, sys
    MARK = "import ovm3_agent  # added by ovm3\\n"

    def main(argv):
        action, args = argv[0], argv[1:]
        opts = dict(zip(args[::2], args[1::2]))
        agent = opts.get("--root", "") + opts["--agent-dir"]  # host paths live below --root
        here = os.path.dirname(os.path.abspath(__file__))
        api = os.path.join(agent, "target", "api.py")
        backup = api + ".ovm3-orig"
        target = os.path.join(agent, "api", "ovm3_agent_mod.py")
        mine = open(os.path.join(here, "ovm3_agent_base.py"), "rb").read()
        have = open(target, "rb").read() if os.path.exists(target) else None
        text = open(api).read()
        state = "absent"
        if MARK in text:
            state = "installed" if have == mine else "outdated"
        changed = "no"
        if action == "install" and state != "installed":
            if not os.path.exists(backup):
                shutil.copy2(api, backup)
            if MARK not in text:
                open(api, "a").write(MARK)
            open(target, "wb").write(mine)
            changed, state = "yes", "installed"
        elif action == "uninstall" and state != "absent":
            os.rename(backup, api)
            os.remove(target)
            changed, state = "yes", "absent"
        print("action=%s" % action)
        print("changed=%s" % changed)
        print("state=%s" % state)
        return 0

    sys.exit(main(sys.argv[1:]))
''')

API_PY = b"# ovs-agent target/api.py (fake)\nMODULES = ['agent.api.linux']\n"


def make_host_files(base):
    """A host-files tree (agent_module/, hostlib/, fencing/, tools/host/) with the stand-in installer."""
    for folder in ("agent_module", "hostlib", "fencing", os.path.join("tools", "host")):
        os.makedirs(os.path.join(base, folder), exist_ok=True)
    files = {
        "agent_module/ovm3_agent.py": STANDIN_INSTALLER,
        "agent_module/ovm3_agent_base.py": "SERVICES = {}\n",
        "hostlib/ovm3_compat.py": "# compat\n",
        "fencing/ovm3_heartbeat.py": "# heartbeat\n",
        "fencing/ovm3_hb_record.py": "# record\n",
        "fencing/ovm3-heartbeat.init": "#!/bin/sh\n# chkconfig: 345 99 01\n",
        "tools/host/ovm3_dump_api.py": "# dumper\n",
    }
    for rel, text in files.items():
        with open(os.path.join(base, rel), "w") as f:
            f.write(text)
    return base


def self_signed_cert(directory):
    """A self-signed certificate + key (PEM files); returns (cert path, key path, sha256 of DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-ovs-agent")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "agent.pem"), os.path.join(directory, "agent.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class FakeAgent:
    """An https XML-RPC agent on 127.0.0.1 with Basic auth: ``echo`` and ``update_agent_password``.

    When ``restart_marker`` exists it is consumed and the agent answers the next ``down_calls`` requests
    with a dropped connection, like an ovs-agent that is restarting.
    """

    def __init__(self, workdir, password="agent-pw", down_calls=3):
        os.makedirs(workdir, exist_ok=True)
        self.cert, self.key, self.fingerprint = self_signed_cert(workdir)
        self.password = password
        self.restart_marker = os.path.join(workdir, "agent.restart")
        self.down_calls = down_calls
        self.down_left = 0
        self.calls = []
        self.restarts = 0
        agent = self

        class Handler(xmlrpc.server.SimpleXMLRPCRequestHandler):
            def parse_request(self):
                if not super().parse_request():
                    return False
                if os.path.exists(agent.restart_marker):
                    os.unlink(agent.restart_marker)
                    agent.restarts += 1
                    agent.down_left = agent.down_calls
                if agent.down_left > 0:
                    agent.down_left -= 1
                    self.close_connection = True
                    return False
                want = "Basic " + base64.b64encode(("oracle:%s" % agent.password).encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.send_error(401)
                    return False
                return True

            def log_message(self, *args):
                pass

        self.server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), Handler, logRequests=False,
                                                       allow_none=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.register_function(self._echo, "echo")
        self.server.register_function(self._update_password, "update_agent_password")
        self.url = "https://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _echo(self, msg):
        self.calls.append(("echo", msg))
        return msg

    def _update_password(self, *args):
        self.calls.append(("update_agent_password",) + args)
        self.password = args[1]
        return None

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


STUB = '''#!/bin/sh
echo "$(basename "$0") $*" >> {log}
if [ "$(basename "$0")" = service ]; then
  case "$1 $2" in
    "ovs-agent restart") touch {marker} ;;
    "ovm3-heartbeat start"|"ovm3-heartbeat restart") touch {running} ;;
    "ovm3-heartbeat stop") rm -f {running} ;;
    "ovm3-heartbeat status") test -e {running} || exit 3 ;;
  esac
fi
exit 0
'''


class FakeDom0:
    """A dom0 file tree under ``workdir/root`` plus the bookkeeping files beside it."""

    def __init__(self, workdir, agent=None, release="Oracle VM server release 3.3.1", dom0_python="2.6"):
        self.workdir = workdir
        self.root = os.path.join(workdir, "root")
        self.calls_log = os.path.join(workdir, "calls.log")
        self.agent_dir = os.path.join(self.root, "usr/lib64/python%s/site-packages/agent" % dom0_python)
        for d in ("etc/init.d", "etc/sysconfig", "etc/ovs-agent/cert", "opt", "sbin", "var/run", "var/lib",
                  os.path.join(self.agent_dir, "target"), os.path.join(self.agent_dir, "api")):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.write("etc/ovs-release", release + "\n")
        self.write("etc/ovs-agent/agent.ini", "[server]\nssl=enable\nport=8899\n")
        with open(os.path.join(self.agent_dir, "target", "api.py"), "wb") as f:
            f.write(API_PY)
        if agent is not None:
            shutil.copy(agent.cert, os.path.join(self.root, "etc/ovs-agent/cert/certificate.pem"))
        marker = agent.restart_marker if agent else os.path.join(workdir, "agent.restart")
        stub = STUB.format(log=self.calls_log, marker=marker, running=os.path.join(workdir, "hb.running"))
        for tool in ("service", "chkconfig"):
            self.write("sbin/" + tool, stub)
            os.chmod(os.path.join(self.root, "sbin", tool), 0o755)

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w") as f:
            f.write(text)

    def calls(self):
        try:
            with open(self.calls_log) as f:
                return [line.strip() for line in f]
        except FileNotFoundError:
            return []

    def snapshot(self, ignore_bytecode=False):
        """{relative path: (mode, bytes or None for dirs)} of the whole tree."""
        out = {}
        for base, dirs, files in os.walk(self.root):
            for name in dirs + files:
                if ignore_bytecode and ("__pycache__" in os.path.join(base, name) or name.endswith(".pyc")):
                    continue
                full = os.path.join(base, name)
                st = os.lstat(full)
                data = None
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        data = f.read()
                out[os.path.relpath(full, self.root)] = (st.st_mode, data)
        return out


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory):
    """A client RSA key pair (RSA so the same key works on the Oracle Linux 6 restricted sshd)."""
    d = tmp_path_factory.mktemp("sshkeys")
    return sshd.keygen(str(d / "id_rsa"), "rsa")


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory, ssh_keys):
    """One modern sshd for the module."""
    with sshd.SSHServer(str(tmp_path_factory.mktemp("sshd")), [ssh_keys + ".pub"]) as server:
        yield server


@pytest.fixture
def known_hosts(tmp_path, ssh_server):
    """A known_hosts file that already trusts ``ssh_server``."""
    path = tmp_path / "known_hosts"
    path.write_text(ssh_server.known_hosts_line())
    return str(path)


@pytest.fixture(autouse=True)
def _testing_env(monkeypatch, tmp_path):
    monkeypatch.setenv("OVM3_TESTING", "1")
    monkeypatch.setenv("OVM3_KNOWN_AGENTS", str(tmp_path / "known_agents"))
    monkeypatch.setenv("OVM3_KNOWN_HOSTS", str(tmp_path / "default_known_hosts"))


@pytest.fixture
def agent(tmp_path):
    with FakeAgent(str(tmp_path)) as a:
        yield a


@pytest.fixture
def dom0(tmp_path, agent):
    return FakeDom0(str(tmp_path / "dom0"), agent)


@pytest.fixture
def host_files(tmp_path):
    return make_host_files(str(tmp_path / "hostfiles"))


@pytest.fixture
def env(ssh_server, ssh_keys, known_hosts, dom0, agent, host_files):
    """Everything one deploy test needs, as a tuple."""
    return ssh_server, ssh_keys, known_hosts, dom0, agent, host_files


REMOTE_PYTHON = sys.executable
