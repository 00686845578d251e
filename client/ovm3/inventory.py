"""The fleet inventory: which hosts, how to reach them, where their secrets live, heartbeat settings.

An INI file; ``[defaults]`` applies to every ``[host NAME]`` section, which may override any key::

    [defaults]
    ssh_key = ~/.ssh/ovm_root
    agent_password_file = ~/.config/ovm3/agent.pw
    mounts = /nfsmnt/pool1
    interval = 10
    timeout = 120

    [host ovm-1]
    address = 10.0.0.11
    guid = 6b1e4bd2-0b1d-4a8f-9d3e-0f3d3c0a1b11

Secrets are never written in the inventory itself: it names password *files* (``ssh_password_file``,
``agent_password_file``), which ``ovm3 deploy --rotate-agent-password`` rewrites. Every fleet command
accepts ``--inventory FILE``; hosts named on the command line without an inventory use the defaults.
"""
import configparser
import dataclasses
import os
import tempfile
from typing import List, Optional

from ovm3.errors import ConfigError

DEFAULT_AGENT_PORT = 8899

_INT_KEYS = ("ssh_port", "agent_port")
#: Heartbeat timings: seconds, fractions allowed (as everywhere the heartbeat takes them).
_SECONDS_KEYS = ("interval", "timeout")
_KNOWN_KEYS = ("address", "ssh_port", "ssh_user", "ssh_key", "ssh_password_file", "known_hosts",
               "agent_url", "agent_port", "agent_user", "agent_password_file", "guid", "mounts",
               "interval", "timeout", "policy", "watchdog", "state_dir", "remote_root", "remote_python")


@dataclasses.dataclass
class HostEntry:
    """One host: addresses, credential *sources* (files, never secrets) and heartbeat settings."""

    name: str
    address: str = ""
    ssh_port: int = 22
    ssh_user: str = "root"
    ssh_key: Optional[str] = None
    ssh_password_file: Optional[str] = None
    known_hosts: Optional[str] = None
    agent_url: Optional[str] = None
    agent_port: int = DEFAULT_AGENT_PORT
    agent_user: str = "oracle"
    agent_password_file: Optional[str] = None
    guid: Optional[str] = None
    mounts: List[str] = dataclasses.field(default_factory=list)
    interval: Optional[float] = None
    timeout: Optional[float] = None
    policy: Optional[str] = None
    watchdog: Optional[str] = None
    state_dir: Optional[str] = None
    #: Deploy under this directory instead of / (a fake dom0 tree in tests).
    remote_root: Optional[str] = None
    remote_python: Optional[str] = None

    def __post_init__(self):
        if not self.address:
            self.address = self.name

    @property
    def url(self):
        """The agent URL: ``agent_url`` if given, else ``https://address:agent_port``."""
        return self.agent_url or "https://%s:%d" % (self.address, self.agent_port)


@dataclasses.dataclass
class Inventory:
    """Hosts in file order, and the file they came from (None for hosts given on the command line)."""

    hosts: List[HostEntry]
    path: Optional[str] = None

    def select(self, names):
        """The hosts named (all when ``names`` is empty); unknown names are a :class:`ConfigError`."""
        if not names:
            return list(self.hosts)
        by_name = {h.name: h for h in self.hosts}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ConfigError("host(s) %s not in inventory %s" % (", ".join(missing), self.path))
        return [by_name[n] for n in names]


def _entry(name, values, where):
    unknown = sorted(set(values) - set(_KNOWN_KEYS))
    if unknown:
        raise ConfigError("%s: unknown key(s) %s (known: %s)"
                          % (where, ", ".join(unknown), ", ".join(_KNOWN_KEYS)))
    kw = {}
    for key, raw in values.items():
        raw = raw.strip()
        if key in _INT_KEYS:
            try:
                kw[key] = int(raw)
            except ValueError:
                raise ConfigError("%s: %s must be a whole number, not %r" % (where, key, raw)) from None
        elif key in _SECONDS_KEYS:
            try:
                kw[key] = float(raw)
            except ValueError:
                kw[key] = -1.0
            if not 0 < kw[key] < float("inf"):
                raise ConfigError("%s: %s must be a positive number of seconds, not %r" % (where, key, raw))
        elif key == "mounts":
            kw[key] = raw.split()
        elif key in ("ssh_key", "ssh_password_file", "known_hosts", "agent_password_file"):
            kw[key] = os.path.expanduser(raw) if raw else None
        else:
            kw[key] = raw
    return HostEntry(name=name, **kw)


def load(path):
    """Read an inventory file; raises :class:`ovm3.errors.ConfigError` with the file and section."""
    parser = configparser.ConfigParser(interpolation=None, default_section="__none__")
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as e:
        raise ConfigError("cannot read inventory %s: %s" % (path, e.strerror)) from None
    except configparser.Error as e:
        raise ConfigError("inventory %s is malformed: %s" % (path, e)) from None
    defaults = dict(parser["defaults"]) if parser.has_section("defaults") else {}
    hosts = []
    for section in parser.sections():
        if section == "defaults":
            continue
        kind, _, name = section.partition(" ")
        if kind != "host" or not name.strip():
            raise ConfigError("%s: section [%s] should be [defaults] or [host NAME]" % (path, section))
        values = dict(defaults)
        values.update(parser[section])
        hosts.append(_entry(name.strip(), values, "%s [%s]" % (path, section)))
    if not hosts:
        raise ConfigError("inventory %s lists no [host NAME] section" % path)
    return Inventory(hosts, path)


def from_names(names, **defaults):
    """Hosts named on the command line (``name`` or ``name:sshport``), sharing ``defaults``."""
    hosts = []
    for name in names:
        values = dict(defaults)
        host, sep, port = name.rpartition(":")
        if sep and port.isdigit() and host and not host.endswith(":"):
            values["ssh_port"] = int(port)
            name = host
        hosts.append(HostEntry(name=name, **{k: v for k, v in values.items() if v is not None}))
    return Inventory(hosts)


def write_secret(path, secret):
    """Replace a password file atomically (temp file in the same folder, mode 0600, rename), on disk
    (file and folder synced) before it returns: a password change may rely on it surviving a crash."""
    path = os.path.expanduser(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ovm3-secret.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        sync_directory(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sync_directory(directory):
    """fsync a folder, so a rename inside it is on disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
