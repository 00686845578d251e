"""Install the agent module into ovs-agent, take it out again, and report where it stands.

``install`` copies the module's flat files into ``<agent-dir>/api/``, backs up
``<agent-dir>/target/api.py`` and adds ``ovm3_agent.OVM3Agent`` to its MODULES, then verifies that
the edited file still imports (restoring the backup if not). It is idempotent: nothing changes when
the module is present and its checksum matches. CloudStack's own ``cloudstack.py`` serves the same
wire names, so install moves it aside (backed up) and drops its lines from MODULES; uninstall puts
everything back, ``api.py`` byte for byte. Agent SSL is only touched on request (``--agent-ssl``),
host fixes only with ``--host-fixes``, the agent only restarted with ``--restart`` (then polled).

Every host path (``--agent-dir``, ``--agent-ini``, /etc files, the state dir) lives below ``--root``
(default ``/``). Output: ``key=value`` lines. Exit 0 ok, 1 error, 2 usage.
Python 2.4-compatible, stdlib only.
"""
import optparse
import os
import re
import socket
import sys
import time

import ovm3_agent_info
import ovm3_compat

MARKER = "# ovm3-agent-module"
IMPORT_LINE = "from agent.api import ovm3_agent  " + MARKER
ENTRY = "ovm3_agent.OVM3Agent"
STATE_DIR = "/var/lib/ovm3/agent-module"
AGENT_INI = "/etc/ovs-agent/agent.ini"
SERVICE = "/sbin/service"
FILE_MODE = int("644", 8)
VERIFY_TIMEOUT = 60
RESTART_TIMEOUT = 120
#: Seconds between two connection attempts while the restarted agent comes up.
POLL_STEP = 0.1

#: Files the installer copies: (name, folders to look in, relative to this file, in order).
SOURCES = (("ovm3_hostio.py", (".",)), ("ovm3_compat.py", (".", "../hostlib")),
           ("ovm3_hb_config.py", (".", "../hostlib")),
           ("ovm3_heartbeat.py", (".", "../fencing")), ("ovm3_apidump.py", (".", "../hostlib")))
OPTIONAL = ("ovm3_heartbeat.py", "ovm3_apidump.py")

#: Bytecode suffixes beside a ``.py`` file (Python 2 keeps ``api.pyc``/``api.pyo`` next to ``api.py``).
COMPILED = ("c", "o")

#: Host fixes (opt-in): name -> (file, function computing the fixed text or None when not needed).
VLAN_COMMON = "/etc/xen/scripts/xen-network-common.sh"
VLAN_BRIDGE = "/etc/xen/scripts/linuxbridge/ovs-vlan-bridge"
NETWORK = "/etc/sysconfig/network"


class InstallError(Exception):
    """The install, uninstall or status could not be done; the message says what to do."""


# ---- helpers ------------------------------------------------------------------------------

class Paths(object):
    """Every path the installer touches, below ``root``."""

    def __init__(self, agent_dir, agent_ini, root):
        self.root = os.path.abspath(root or "/")
        self.agent_dir = self.local(agent_dir)
        self.api_dir = os.path.join(self.agent_dir, "api")
        self.api_py = os.path.join(self.agent_dir, "target", "api.py")
        self.cloudstack = os.path.join(self.api_dir, "cloudstack.py")
        self.agent_ini = self.local(agent_ini)
        self.state = self.local(STATE_DIR)
        self.service = self.local(SERVICE)

    def local(self, host_path):
        if not host_path.startswith("/"):
            raise InstallError("paths are absolute host paths, got %r" % host_path)
        if self.root == "/":
            return host_path
        return self.root + host_path

    def backup(self, name):
        return os.path.join(self.state, name + ".orig")


def _read(path):
    f = open(path, "rb")
    try:
        return f.read()
    finally:
        f.close()


def _text(data):
    return ovm3_compat.to_text(data)


def _write(path, data, mode=None):
    if mode is None:
        mode = FILE_MODE
        if os.path.exists(path):
            mode = os.stat(path).st_mode & int("7777", 8)
    ovm3_compat.write_file_atomic(path, data, mode)


def _backup_once(paths, name, source):
    """Copy ``source`` to the state dir as ``name.orig`` unless a backup is already there.

    Its compiled files (``.pyc``/``.pyo`` beside it) go with it as ``namec.orig``/``nameo.orig``, and
    the backup keeps the source's times, so uninstall can put back a tree whose bytecode is still valid.
    """
    target = paths.backup(name)
    if os.path.exists(target):
        return False
    if not os.path.isdir(paths.state):
        os.makedirs(paths.state, int("700", 8))
    for suffix in COMPILED:
        if name.endswith(".py") and os.path.isfile(source + suffix):
            _copy_keeping_times(source + suffix, paths.backup(name + suffix))
    _copy_keeping_times(source, target)
    return True


def _copy_keeping_times(source, target):
    st = os.stat(source)
    _write(target, _read(source), st.st_mode & int("7777", 8))
    os.utime(target, (st.st_atime, st.st_mtime))


def _drop_backup(paths, name):
    """Forget the backup of ``name`` and of its compiled files (a newer original replaced it)."""
    for suffix in ("",) + COMPILED:
        if os.path.exists(paths.backup(name + suffix)):
            os.unlink(paths.backup(name + suffix))


def _restore(paths, name, target):
    """Put ``target`` back from its backup, byte for byte with its mode and times, compiled files
    included (the ones made from our edit go); returns True when anything changed. Drops the backup."""
    backup = paths.backup(name)
    changed = False
    data = _read(backup)
    if not os.path.exists(target) or _read(target) != data:
        _write(target, data, os.stat(backup).st_mode & int("7777", 8))
        changed = True
    st = os.stat(backup)
    os.utime(target, (st.st_atime, st.st_mtime))
    os.unlink(backup)
    if not name.endswith(".py"):
        return changed
    for suffix in COMPILED:
        saved = paths.backup(name + suffix)
        if os.path.exists(saved):
            data = _read(saved)
            if not os.path.exists(target + suffix) or _read(target + suffix) != data:
                _write(target + suffix, data, os.stat(saved).st_mode & int("7777", 8))
                changed = True
            st = os.stat(saved)
            os.utime(target + suffix, (st.st_atime, st.st_mtime))
            os.unlink(saved)
        elif os.path.exists(target + suffix):
            os.unlink(target + suffix)  # bytecode of our edit, which did not exist before install
            changed = True
    return changed


def source_files():
    """{name: path} of the files to install (agent module files plus the shared helpers found)."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    for name in os.listdir(here):
        if name.startswith("ovm3_agent") and name.endswith(".py"):
            out[name] = os.path.join(here, name)
    for folder in (".", "../fencing"):  # the heartbeat daemon and its ovm3_hb_*.py parts
        directory = os.path.normpath(os.path.join(here, folder))
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                if name.startswith("ovm3_hb_") and name.endswith(".py") and name not in out:
                    out[name] = os.path.join(directory, name)
    for name, folders in SOURCES:
        for folder in folders:
            candidate = os.path.normpath(os.path.join(here, folder, name))
            if os.path.isfile(candidate):
                out[name] = candidate
                break
        if name not in out and name not in OPTIONAL:
            raise InstallError("%s is missing next to %s; copy the whole module" % (name, here))
    return out


files_checksum = ovm3_agent_info.files_checksum


def installed_files(paths, names):
    out = {}
    for name in names:
        path = os.path.join(paths.api_dir, name)
        if os.path.isfile(path):
            out[name] = path
    return out


def _remove_compiled(path):
    """Drop ``path``'s bytecode, so the agent cannot load a stale one (the originals were backed up)."""
    for suffix in COMPILED:
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


# ---- api.py edits -------------------------------------------------------------------------

_MODULES_LINE = re.compile(r"^(\s*MODULES\s*=\s*)([\[(])(.*)\Z")


def has_ovm3(text):
    return MARKER in text or ENTRY in text


def has_cloudstack(text):
    return "cloudstack.CloudStack" in text


def strip_cloudstack(text):
    """Drop CloudStack installer's edits: its ``cloudstack.CloudStack,`` entry and ``, cloudstack`` import."""
    out = []
    for line in text.splitlines(True):
        if line.strip() == "cloudstack.CloudStack,":
            continue
        if "import" in line:
            line = re.sub(r",\s*cloudstack(?=\s*\Z)", "", line.rstrip("\r\n")) + line[len(line.rstrip("\r\n")):]
        out.append(line)
    return "".join(out)


def add_ovm3(text):
    """api.py with our import before MODULES and our class first inside the MODULES list."""
    if has_ovm3(text):
        return text
    lines = text.splitlines(True)
    for i in range(len(lines)):
        m = _MODULES_LINE.match(lines[i].rstrip("\r\n"))
        if not m:
            continue
        ending = lines[i][len(lines[i].rstrip("\r\n")):] or "\n"
        rest = m.group(3)
        if rest.strip():
            lines[i] = "%s%s%s, %s%s" % (m.group(1), m.group(2), ENTRY, rest.lstrip(), ending)
        else:
            lines.insert(i + 1, "    %s,  %s%s" % (ENTRY, MARKER, ending))
        lines.insert(i, IMPORT_LINE + ending)
        return "".join(lines)
    raise InstallError("no 'MODULES = [' line in api.py: the agent's layout is not one this installer knows")


def verify_api(paths, python=None):
    """Import the agent's api.py in a fresh interpreter and check our class is in MODULES."""
    # No bytecode from this check (2.6+ honour the flag; 2.4 ignores it, and on 2.x the agent itself
    # compiles these files anyway): uninstall must leave the agent tree as it found it.
    code = ("import sys; sys.dont_write_bytecode = True; "
            "sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]); "
            "import agent.target.api as a; "
            "names = [getattr(m, '__name__', '') for m in a.MODULES]; "
            "sys.stdout.write(' '.join(names))")
    argv = [python or sys.executable, "-c", code, os.path.dirname(paths.agent_dir), paths.api_dir]
    try:
        rc, out, err = ovm3_compat.run(argv, VERIFY_TIMEOUT)
    except ovm3_compat.CommandTimeout:
        return False, "importing api.py took more than %d s" % VERIFY_TIMEOUT
    if rc != 0:
        lines = err.strip().splitlines() or ["rc %d" % rc]
        return False, lines[-1]
    if "OVM3Agent" not in out.split():
        return False, "OVM3Agent is not in MODULES after the edit (%s)" % out.strip()
    return True, out.strip()


# ---- agent.ini and host fixes -------------------------------------------------------------

def ini_ssl(text):
    for line in text.splitlines():
        m = re.match(r"^\s*ssl\s*=\s*(\S*)", line)
        if m:
            return m.group(1)
    return None


def set_ini_ssl(text, value):
    out = []
    found = False
    for line in text.splitlines(True):
        if re.match(r"^\s*ssl\s*=", line):
            ending = line[len(line.rstrip("\r\n")):]
            line = "ssl=%s%s" % (value, ending)
            found = True
        out.append(line)
    if not found:
        raise InstallError("no ssl= line in agent.ini; edit it by hand")
    return "".join(out)


def fix_vlan_bridge(paths):
    """ovs-vlan-bridge calls setup_bridge_port where 3.2.1-3.3.2's helpers define _setup_bridge_port."""
    common, bridge = paths.local(VLAN_COMMON), paths.local(VLAN_BRIDGE)
    if not (os.path.isfile(common) and os.path.isfile(bridge)):
        return bridge, None
    if "_setup_bridge_port" not in _text(_read(common)):
        return bridge, None
    text = _text(_read(bridge))
    fixed = re.sub(r"(^|[^\w])setup_bridge_port\b", r"\1_setup_bridge_port", text)
    if fixed == text:
        return bridge, None
    return bridge, fixed


def fix_nozeroconf(paths):
    """NOZEROCONF=yes: no zeroconf 169.254 route competing with the control network."""
    network = paths.local(NETWORK)
    if not os.path.isfile(network):
        return network, None
    text = _text(_read(network))
    if re.search(r"(?m)^\s*NOZEROCONF\s*=\s*\S", text):
        return network, None
    if text and not text.endswith("\n"):
        text += "\n"
    return network, text + "NOZEROCONF=yes\n"


FIXES = (("vlan_bridge", fix_vlan_bridge), ("nozeroconf", fix_nozeroconf))


# ---- commands -----------------------------------------------------------------------------

def status(paths):
    """{state, version, checksum, ...} of the module in the agent tree."""
    if not os.path.isfile(paths.api_py):
        raise InstallError("no agent at %s (missing target/api.py); check --agent-dir" % paths.agent_dir)
    api = _text(_read(paths.api_py))
    source = source_files()
    wanted = files_checksum(source)
    present = installed_files(paths, source.keys())
    out = {"version": "", "checksum": "", "expected_checksum": wanted, "api_py": paths.api_py}
    if present:
        out["checksum"] = files_checksum(present)
        base_file = os.path.join(paths.api_dir, "ovm3_agent_base.py")
        if os.path.isfile(base_file):
            m = re.search(r'(?m)^MODULE_VERSION\s*=\s*"([^"]*)"', _text(_read(base_file)))
            if m:
                out["version"] = m.group(1)
    cloudstack = has_cloudstack(api) or os.path.exists(paths.cloudstack)
    recorded = os.path.isdir(paths.state) and os.path.exists(paths.backup("api.py"))
    if cloudstack and (recorded or has_ovm3(api)):
        out["state"] = "replaced-by-cloudstack"
    elif not has_ovm3(api) or not present:
        out["state"] = "absent"
    elif out["checksum"] != wanted:
        out["state"] = "outdated"
    else:
        out["state"] = "installed"
    out["cloudstack_module"] = _yes(cloudstack)
    if os.path.isfile(paths.agent_ini):
        out["agent_ssl"] = ini_ssl(_text(_read(paths.agent_ini))) or "unknown"
    for name, fix in FIXES:
        if os.path.exists(paths.backup("fix-" + name)):
            out["fix_" + name] = "applied"
        elif fix(paths)[1] is not None:
            out["fix_" + name] = "needed"
        else:
            out["fix_" + name] = "not-needed"
    return out


def _yes(flag):
    if flag:
        return "yes"
    return "no"


def install(paths, agent_ssl="keep", host_fixes=False, python=None):
    """Install or refresh the module; returns {changed, state, ...}."""
    if not os.path.isfile(paths.api_py):
        raise InstallError("no agent at %s (missing target/api.py); check --agent-dir" % paths.agent_dir)
    changed = False
    source = source_files()
    # 1. our files
    for name in sorted(source):
        data = _read(source[name])
        target = os.path.join(paths.api_dir, name)
        if os.path.isfile(target) and _read(target) == data:
            continue
        _write(target, data, FILE_MODE)
        _remove_compiled(target)
        changed = True
    # 2. CloudStack's module serves the same wire names: move it aside
    if os.path.exists(paths.cloudstack):
        if os.path.exists(paths.backup("cloudstack.py")):
            _drop_backup(paths, "cloudstack.py")  # CloudStack put a newer one back
        _backup_once(paths, "cloudstack.py", paths.cloudstack)
        os.unlink(paths.cloudstack)
        _remove_compiled(paths.cloudstack)
        changed = True
    # 3. api.py
    current = _read(paths.api_py)
    text = _text(current)
    if not has_ovm3(text) and os.path.exists(paths.backup("api.py")):
        _drop_backup(paths, "api.py")  # an agent update or CloudStack replaced api.py: new original
    _backup_once(paths, "api.py", paths.api_py)
    edited = add_ovm3(strip_cloudstack(text))
    if edited != text:
        _write(paths.api_py, edited)
        _remove_compiled(paths.api_py)
        changed = True
    ok, detail = verify_api(paths, python)
    if not ok:
        _write(paths.api_py, current)
        raise InstallError("the edited api.py does not import (%s); the original was put back" % detail)
    # 4. agent SSL, only on request
    if agent_ssl != "keep":
        ini = _text(_read(paths.agent_ini))
        if ini_ssl(ini) != agent_ssl:
            _backup_once(paths, "agent.ini", paths.agent_ini)
            _write(paths.agent_ini, set_ini_ssl(ini, agent_ssl))
            changed = True
    # 5. host fixes, only on request
    if host_fixes:
        for name, fix in FIXES:
            target, fixed = fix(paths)
            if fixed is not None:
                _backup_once(paths, "fix-" + name, target)
                _write(target, fixed)
                changed = True
    result = status(paths)
    result["changed"] = _yes(changed)
    return result


def uninstall(paths):
    """Put back api.py (byte for byte, with its compiled files), CloudStack's module, agent.ini and fixed
    files; remove ours and their bytecode."""
    changed = False
    restores = [("api.py", paths.api_py), ("cloudstack.py", paths.cloudstack), ("agent.ini", paths.agent_ini)]
    for name, fix in FIXES:
        restores.append(("fix-" + name, fix(paths)[0]))
    for name, target in restores:
        if os.path.exists(paths.backup(name)):
            if _restore(paths, name, target):
                changed = True
    if os.path.isfile(paths.api_py):
        text = _text(_read(paths.api_py))
        if has_ovm3(text):  # no backup survived: take our lines out by hand
            kept = []
            for line in text.splitlines(True):
                if MARKER in line:
                    continue
                kept.append(line.replace(ENTRY + ", ", ""))
            _write(paths.api_py, "".join(kept))
            changed = True
    for name in source_files():
        target = os.path.join(paths.api_dir, name)
        if os.path.exists(target):
            os.unlink(target)
            changed = True
        _remove_compiled(target)
    # The state folder and its ovm3 parent were made by install; take them away once empty.
    for folder in (paths.state, os.path.dirname(paths.state)):
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
    return {"changed": _yes(changed), "state": "absent"}


def agent_port(paths):
    if os.path.isfile(paths.agent_ini):
        for line in _text(_read(paths.agent_ini)).splitlines():
            m = re.match(r"^\s*port\s*=\s*(\d+)\s*\Z", line)
            if m:
                return int(m.group(1))
    return 8899


def restart_agent(paths, timeout=RESTART_TIMEOUT):
    """``service ovs-agent restart``, then poll the agent's port until it accepts a connection.

    The wait is bounded by ``timeout`` seconds in all (the service command included) and never sleeps
    longer than :data:`POLL_STEP` between attempts, so it ends as soon as the agent answers.
    """
    deadline = ovm3_compat.monotonic() + timeout
    try:
        rc, out, err = ovm3_compat.run([paths.service, "ovs-agent", "restart"], timeout)
    except ovm3_compat.CommandTimeout:
        raise InstallError("%s ovs-agent restart did not finish within %s s" % (paths.service, timeout))
    except OSError:
        raise InstallError("cannot run %s ovs-agent restart: %s" % (paths.service, sys.exc_info()[1]))
    if rc != 0:
        raise InstallError("%s ovs-agent restart failed (rc %d): %s" % (
            paths.service, rc, (err or out).strip()[:300]))
    port = agent_port(paths)
    while True:
        left = deadline - ovm3_compat.monotonic()
        if left <= 0:
            break
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(min(2.0, left))
        try:
            try:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return True
            except socket.error:
                pass  # a connect timeout: try again while time is left
        finally:
            sock.close()
        time.sleep(max(0.0, min(POLL_STEP, deadline - ovm3_compat.monotonic())))
    raise InstallError("ovs-agent was restarted but did not accept connections on 127.0.0.1:%d within %s s; "
                       "check '%s ovs-agent status' and /var/log/ovs-agent.log" % (port, timeout, SERVICE))


# ---- command line -------------------------------------------------------------------------

USAGE = """%prog install|uninstall|status --agent-dir DIR [options]

  install    copy the module into DIR/api and add it to DIR/target/api.py MODULES
  uninstall  restore api.py byte for byte and remove the module's files
  status     state=installed|outdated|absent|replaced-by-cloudstack, version, checksum"""


class _Parser(optparse.OptionParser):
    def error(self, msg):
        self.print_usage(sys.stderr)
        sys.stderr.write("error: %s\n" % msg)
        raise _Usage(msg)


class _Usage(Exception):
    pass


def _parser():
    p = _Parser(usage=USAGE)
    p.add_option("--agent-dir", help="the agent package dir, e.g. /usr/lib64/python2.4/site-packages/agent")
    p.add_option("--agent-ini", default=AGENT_INI, help="the agent's config file [%default]")
    p.add_option("--agent-ssl", default="keep", type="choice", choices=["keep", "enable", "disable"],
                 help="keep (default), enable or disable the agent's SSL")
    p.add_option("--host-fixes", action="store_true", default=False,
                 help="apply CloudStack's dom0 fixes (ovs-vlan-bridge, NOZEROCONF), each backed up")
    p.add_option("--restart", action="store_true", default=False,
                 help="restart ovs-agent afterwards and wait until it answers")
    p.add_option("--restart-timeout", type="float", default=RESTART_TIMEOUT,
                 help="seconds --restart may wait for the agent to answer [%default]")
    p.add_option("--root", default="/", help="prefix of every host path (for tests) [%default]")
    p.add_option("--python", default=None, help="interpreter used to verify api.py [this one]")
    return p


def _emit(out, result):
    keys = list(result.keys())
    keys.sort()
    first = ["state", "changed"]
    for key in first + [k for k in keys if k not in first]:
        if key in result:
            out.write("%s=%s\n" % (key, result[key]))


def main(argv, out=None):
    out = out or sys.stdout
    parser = _parser()
    try:
        opts, args = parser.parse_args(list(argv))
        if len(args) != 1 or args[0] not in ("install", "uninstall", "status"):
            parser.error("give exactly one command: install, uninstall or status")
        if not opts.agent_dir:
            parser.error("--agent-dir is required")
        if not 0 < opts.restart_timeout <= 3600:
            parser.error("--restart-timeout must be between 0 and 3600 seconds")
    except _Usage:
        return 2
    try:
        paths = Paths(opts.agent_dir, opts.agent_ini, opts.root)
        if args[0] == "install":
            result = install(paths, opts.agent_ssl, opts.host_fixes, opts.python)
        elif args[0] == "uninstall":
            result = uninstall(paths)
        else:
            result = status(paths)
        if opts.restart and args[0] != "status":
            restart_agent(paths, opts.restart_timeout)
            result["restarted"] = "yes"
    except (InstallError, IOError, OSError):
        e = sys.exc_info()[1]
        sys.stderr.write("error: %s\n" % e)
        out.write("error=%s\n" % str(e).replace("\n", " "))
        return 1
    _emit(out, result)
    return 0
