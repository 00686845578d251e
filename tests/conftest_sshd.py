"""Fixtures for the deploy tests: a real sshd, the project's simulated agent, and a fake dom0 tree in its sandbox.

Import the fixtures into a test module with ``from tests.conftest_sshd import *``. Everything lives in
pytest temp dirs; nothing touches the machine's /etc, /opt, /proc or a real agent.

The agent is ``ovm3.sim`` (TLS on, 3.2 or 3.3 personality). Its sandbox root for the host
(``host.root``) is the deploy's remote root: :class:`FakeDom0` adds what a dom0 has there besides the
agent's own files (the simulator already keeps its certificate at ``etc/ovs-agent/cert/certificate.pem``):
``/etc/ovs-release``, an agent package tree shaped like a real one (``agent/__init__.py``,
``agent/target/__init__.py``, ``agent/api/__init__.py``, ``agent/target/api.py`` and, beside each, the
``.pyc`` the dom0's Python compiled; the remote Python is Python 2.7), ``etc/init.d``, ``etc/sysconfig``,
mount directories with a ``proc/self/mountinfo`` that lists them as NFS, and stub ``sbin/service`` and
``sbin/chkconfig`` that record each call in a log beside the tree. The stub ``service`` runs the real
init script the deploy installed (``service ovm3-heartbeat start`` starts the real daemon, in log-only
mode, confined to the tree by the config file the deploy wrote); ``service ovs-agent restart`` is only
recorded.
"""
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from ovm3.deploy import manifest
from ovm3.sim import simulated_agents
from tests import sshd

__all__ = ["ssh_keys", "ssh_server", "known_hosts", "_testing_env", "agent", "dom0", "host_files", "env",
           "FakeDom0", "make_host_files", "sim_agent", "REMOTE_PYTHON", "PYTHON27", "AGENT_PASSWORD", "MOUNTS"]

pytestmark = pytest.mark.skipif(not sshd.available(), reason="needs /usr/sbin/sshd and root")


def python27():
    """The Python 2.7 interpreter (pyenv's 2.7.18 or ``python2.7``) as an absolute path, or None."""
    probes = ([["python", "-c", "import sys; print(sys.executable)"], dict(os.environ, PYENV_VERSION="2.7.18")],
              [["python2.7", "-c", "import sys; print(sys.executable)"], None])
    for argv, env in probes:
        try:
            out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 timeout=30).stdout.decode().strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out and os.path.isabs(out):
            check = subprocess.run([out, "-c", "import sys; assert sys.version_info[:2] == (2, 7)"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if check.returncode == 0:
                return out
    return None


#: The dom0's Python in the deploy tests: Python 2.7, the closest to dom0's 2.4/2.6 that exists here
#: (``make test`` already fails without it). The manager's own Python 3 only when there is none, and
#: then test_deploy's check of this value fails.
PYTHON27 = python27()
REMOTE_PYTHON = PYTHON27 or sys.executable
AGENT_PASSWORD = "agent-pw"
#: The heartbeat mounts of the fake dom0 (host paths; directories under the tree, NFS in proc/self/mountinfo).
MOUNTS = ("/nfsmnt/pool1", "/nfsmnt/pool2")
#: The simulator's own bookkeeping in the host tree (it rewrites it after state-changing calls).
SIM_FILES = ("etc/ovs-agent/sim-state.json",)

API_PY = b"# ovs-agent target/api.py (fake)\nMODULES = []\n"
#: The package files of a real ovs-agent tree (besides target/api.py); the agent's Python imports
#: ``agent.target.api``, so without them Python 2 cannot (Python 3 would, as namespace packages).
PACKAGE_FILES = ("__init__.py", "target/__init__.py", "api/__init__.py")

SERVICE_STUB = '''#!/bin/sh
# Stand-in for /sbin/service on the fake dom0 {root}: records the call, runs init scripts from the tree.
echo "service $*" >> {log}
case "$1" in
  ovs-agent) exit 0 ;;
esac
script={root}/etc/init.d/$1
[ -x "$script" ] || {{ echo "$1: unrecognized service" >&2; exit 1; }}
CONFIG={root}/etc/sysconfig/$1 exec "$script" "$2"
'''

CHKCONFIG_STUB = '''#!/bin/sh
echo "chkconfig $*" >> {log}
exit 0
'''


def make_host_files(base):
    """A copy of this checkout's host-side files (agent_module/, hostlib/, fencing/, tools/host/), so a
    test may change one without touching the checkout."""
    src = manifest.default_sources()
    groups = [("agent_module", src.agent_module), ("hostlib", src.hostlib),
              ("fencing", src.heartbeat + [src.init_script]), (os.path.join("tools", "host"), [src.dumper])]
    for folder, paths in groups:
        os.makedirs(os.path.join(base, folder), exist_ok=True)
        for path in paths:
            shutil.copy2(path, os.path.join(base, folder, os.path.basename(path)))
    return base


@contextlib.contextmanager
def sim_agent(workdir, version="3.3"):
    """One simulated agent with TLS on (``version`` 3.2 speaks TLS 1.0 only), its sandbox in ``workdir``."""
    with simulated_agents(count=1, version=version, tls=True, root=workdir, password=AGENT_PASSWORD,
                          load_module=False) as hosts:
        yield hosts[0]


class FakeDom0:
    """The dom0 file tree a deploy sees, laid out in the simulated host's sandbox root (``host.root``)."""

    def __init__(self, host, release=None, dom0_python=None, mounts=MOUNTS):
        self.host = host
        self.root = host.root
        self.calls_log = os.path.join(host.world.root, "calls-%s.log" % host.name)
        generation = host.version
        release = release or "Oracle VM server release %s" % host.state.personality.ovm_version.split("-")[0]
        dom0_python = dom0_python or ("2.4" if generation == "3.2" else "2.6")
        self.agent_dir = os.path.join(self.root, "usr/lib64/python%s/site-packages/agent" % dom0_python)
        for d in ("etc/init.d", "etc/sysconfig", "opt", "sbin", "var/run", "var/lib", "var/lock/subsys",
                  "proc/sys/kernel/random", "proc/self", os.path.join(self.agent_dir, "target"),
                  os.path.join(self.agent_dir, "api")):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.write("etc/ovs-release", release + "\n")
        self.write("etc/ovs-agent/agent.ini", "[server]\nssl=enable\nport=8899\n")
        with open(os.path.join(self.agent_dir, "target", "api.py"), "wb") as f:
            f.write(API_PY)
        for rel in PACKAGE_FILES:
            with open(os.path.join(self.agent_dir, rel), "wb") as f:
                f.write(b"# ovs-agent package (fake)\n")
        # ...and the bytecode beside every source, compiled by the dom0's Python as on a real host.
        subprocess.run([REMOTE_PYTHON, "-m", "compileall", "-q", self.agent_dir], check=True,
                       stdout=subprocess.DEVNULL)
        self.mounts = [self.local(m) for m in mounts]
        # The daemon reads mountinfo: each mount directory listed as NFS with its real device id (the
        # daemon checks that its heartbeat file lives on that device).
        dev = os.stat(self.root).st_dev
        table = ["1 0 %d:%d / / rw - rootfs rootfs rw" % (os.major(dev), os.minor(dev))]
        for i, local in enumerate(self.mounts):
            os.makedirs(local, exist_ok=True)
            dev = os.stat(local).st_dev
            table.append("%d 1 %d:%d / %s rw - nfs nfs-1:/export/pool%d rw,vers=3"
                         % (100 + i, os.major(dev), os.minor(dev), local, i + 1))
        self.write("proc/self/mountinfo", "\n".join(table) + "\n")
        self.write("proc/sys/kernel/random/boot_id", "0f4c1a52-6d5e-4d1e-9a55-ovm3-sim-boot\n")
        for name, stub in (("service", SERVICE_STUB), ("chkconfig", CHKCONFIG_STUB)):
            self.write("sbin/" + name, stub.format(root=self.root, log=self.calls_log))
            os.chmod(os.path.join(self.root, "sbin", name), 0o755)

    def local(self, host_path):
        """This machine's path for a host path on the fake dom0."""
        return os.path.join(self.root, host_path.lstrip("/"))

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w") as f:
            f.write(text)

    def calls(self):
        try:
            with open(self.calls_log) as f:
                return [line.strip() for line in f]
        except FileNotFoundError:
            return []

    def daemon_pid(self):
        """The pid of the heartbeat daemon of this tree while it runs (holds its lock file), else None.

        The lock, not ``kill(pid, 0)``: a killed daemon whose parent is gone may linger as a zombie.
        """
        try:
            fd = os.open(self.local("/var/run/ovm3-heartbeat.lock"), os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except OSError:
            with open(self.local("/var/run/ovm3-heartbeat.pid")) as f:
                return int(f.read().strip())
        finally:
            os.close(fd)

    def kill_daemon(self):
        """SIGKILL the daemon (teardown, or a crashed daemon in a test) and wait until its lock is free."""
        pid = self.daemon_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self.daemon_pid() and time.monotonic() < deadline:
                time.sleep(0.02)

    def snapshot(self):
        """{relative path: (mode, uid, gid, bytes or None for dirs)} of the whole tree (bytecode included),
        leaving out only the simulator's own state file."""
        out = {}
        for base, dirs, files in os.walk(self.root):
            for name in dirs + files:
                full = os.path.join(base, name)
                rel = os.path.relpath(full, self.root)
                if rel in SIM_FILES:
                    continue
                st = os.lstat(full)
                data = None
                if os.path.isfile(full) and not os.path.islink(full):
                    with open(full, "rb") as f:
                        data = f.read()
                out[rel] = (st.st_mode, st.st_uid, st.st_gid, data)
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
    """A simulated 3.3 agent (TLS) with its sandbox under the test's temp dir."""
    with sim_agent(str(tmp_path / "sim")) as host:
        yield host


@pytest.fixture
def dom0(agent):
    tree = FakeDom0(agent)
    yield tree
    tree.kill_daemon()


@pytest.fixture
def host_files(tmp_path):
    return make_host_files(str(tmp_path / "hostfiles"))


@pytest.fixture
def env(ssh_server, ssh_keys, known_hosts, dom0, agent, host_files):
    """Everything one deploy test needs, as a tuple."""
    return ssh_server, ssh_keys, known_hosts, dom0, agent, host_files
