"""``~/.ssh/config`` for hosts named on the ``ovm3 deploy`` command line, as ssh would read it.

Only Host, HostName, User, Port and IdentityFile are used; what the command line says explicitly wins,
and hosts from an ``--inventory`` keep what the inventory says. ``$OVM3_SSH_CONFIG`` points elsewhere
(an empty value: no file).
"""
import os

from ovm3.deploy.ssh import paramiko, require_paramiko
from ovm3.errors import ConfigError

ENV = "OVM3_SSH_CONFIG"


def default_path():
    if ENV in os.environ:
        return os.path.expanduser(os.environ[ENV]) or None
    return os.path.expanduser("~/.ssh/config")


def load(path=None):
    """The parsed file, or None when there is none."""
    path = default_path() if path is None else path
    if not path or not os.path.isfile(path):
        return None
    require_paramiko()
    try:
        return paramiko.SSHConfig.from_path(path)
    except (OSError, UnicodeDecodeError, paramiko.SSHException) as e:
        raise ConfigError("cannot read ssh config %s: %s" % (path, e)) from None


def apply(entry, config, user_given=False, port_given=False, keys_given=False):
    """Fill ``entry`` (an inventory HostEntry named on the command line) from ``config``."""
    if config is None:
        return entry
    found = config.lookup(entry.name)
    hostname = found.get("hostname")
    if hostname and entry.address == entry.name:
        entry.address = hostname
    if found.get("user") and not user_given:
        entry.ssh_user = found["user"]
    if found.get("port") and not port_given and entry.ssh_port == 22:
        try:
            entry.ssh_port = int(found["port"])
        except ValueError:
            raise ConfigError("ssh config: Port %r for %s is not a number" % (found["port"], entry.name)) from None
    identities = [os.path.expanduser(p) for p in found.get("identityfile", [])]
    if identities and not keys_given and not entry.ssh_key:
        existing = [p for p in identities if os.path.exists(p)]
        if existing:
            entry.ssh_key = existing[0]
    return entry
