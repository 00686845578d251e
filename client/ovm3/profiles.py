"""Named hosts for the ``ovm3`` command: ``~/.config/ovm3/config.toml`` (or ``$OVM3_CONFIG``).

Usage::

    store = ProfileStore()                       # reads the file when it exists
    store.add(Profile("ovm-1", url="https://ovm-1:8899", password_file="~/.ovm3/ovm-1.pw"))
    store.save()
    store.get("ovm-1").url

The file::

    [hosts.ovm-1]
    url = "https://ovm-1:8899"
    user = "oracle"
    password_file = "~/.config/ovm3/ovm-1.pw"
    legacy_tls = false
    ca_bundle = "/etc/pki/ovm-ca.pem"

Secrets are only referenced (``password_file``), never stored: a key such as ``password`` is refused.
A file that references a secret must not be readable by group or others (chmod 600), or it is refused;
the writer creates it 0600.
"""
import os
import re
import stat
import sys
from dataclasses import dataclass, fields
from typing import Optional

from ovm3 import errors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the 3.9 venv
    import tomli as tomllib

ENV = "OVM3_CONFIG"
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: keys that would hold a secret in the file itself: refused, whatever their value.
SECRET_KEYS = ("password", "secret", "token", "vnc_password")


def default_path():
    if os.environ.get(ENV):
        return os.path.expanduser(os.environ[ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "ovm3", "config.toml")


@dataclass
class Profile:
    """One named host. ``password_file`` is a path; the password itself never appears here."""

    name: str
    url: str
    user: str = "oracle"
    password_file: str = ""
    legacy_tls: bool = False
    ca_bundle: str = ""

    def __post_init__(self):
        check_name(self.name)
        for f in fields(self):
            value = getattr(self, f.name)
            want = bool if f.type in (bool, "bool") else str
            if not isinstance(value, want):
                raise errors.ConfigError("profile %s: %s must be a %s" % (self.name, f.name, want.__name__))
            if want is str and ("\n" in value or "\r" in value):
                raise errors.ConfigError("profile %s: %s holds a line break" % (self.name, f.name))
        if not self.url:
            raise errors.ConfigError("profile %s has no url" % self.name)

    @property
    def sensitive(self):
        return bool(self.password_file)


def check_name(name):
    if not isinstance(name, str) or not PROFILE_NAME.fullmatch(name):
        raise errors.UsageError("not a profile name (letters, digits, '_', '.', '-'): %r" % (name,))
    return name


def _toml_string(value):
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render(profiles):
    """The TOML text for ``profiles`` (a minimal writer: strings and booleans in ``[hosts.NAME]``)."""
    lines = ["# ovm3 profiles (ovm3 config add|list|remove). Secrets only by file reference.", ""]
    for p in sorted(profiles, key=lambda p: p.name):
        lines.append("[hosts.%s]" % _toml_string(p.name))
        for f in fields(p):
            if f.name == "name":
                continue
            value = getattr(p, f.name)
            if value in ("", None):
                continue
            lines.append("%s = %s" % (f.name, ("true" if value else "false") if isinstance(value, bool)
                                      else _toml_string(value)))
        lines.append("")
    return "\n".join(lines)


class ProfileStore:
    """The profiles of one config file (missing file: none)."""

    def __init__(self, path=None):
        self.path = path or default_path()
        self.profiles = {}
        self._load()

    def _load(self):
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as e:
            raise errors.ConfigError("cannot read %s: %s" % (self.path, e.strerror)) from None
        if not stat.S_ISREG(st.st_mode):
            if data:
                raise errors.ConfigError("%s is not a regular file" % self.path)
            return  # /dev/null: no profiles
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise errors.ConfigError("%s is not valid TOML: %s" % (self.path, e)) from None
        unknown = sorted(set(doc) - {"hosts"})
        if unknown:
            raise errors.ConfigError("%s: unknown section(s) %s (only [hosts.NAME])" % (self.path, ", ".join(unknown)))
        hosts = doc.get("hosts", {})
        if not isinstance(hosts, dict):
            raise errors.ConfigError("%s: hosts must be tables [hosts.NAME]" % self.path)
        known = {f.name for f in fields(Profile)} - {"name"}
        for name, table in hosts.items():
            if not isinstance(table, dict):
                raise errors.ConfigError("%s: hosts.%s must be a table" % (self.path, name))
            secret = [k for k in table if k.lower() in SECRET_KEYS]
            if secret:
                raise errors.ConfigError(
                    "%s: hosts.%s holds a secret (%s); secrets go in a file of their own" % (
                        self.path, name, ", ".join(secret)), hint="use password_file = \"PATH\" (chmod 600)")
            extra = sorted(set(table) - known)
            if extra:
                raise errors.ConfigError("%s: hosts.%s has unknown key(s) %s (known: %s)" % (
                    self.path, name, ", ".join(extra), ", ".join(sorted(known))))
            try:
                check_name(name)
            except errors.UsageError as e:
                raise errors.ConfigError("%s: %s" % (self.path, e.message)) from None
            self.profiles[name] = Profile(name=name, **table)
        if st.st_mode & 0o077 and any(p.sensitive for p in self.profiles.values()):
            raise errors.ConfigError("%s references secrets but is readable by group or others" % self.path,
                                     hint="chmod 600 %s" % self.path)

    def get(self, name) -> Optional[Profile]:
        return self.profiles.get(name)

    def add(self, profile, replace=False):
        if profile.name in self.profiles and not replace:
            raise errors.ConfigError("profile %s exists in %s" % (profile.name, self.path),
                                     hint="ovm3 config add --replace, or ovm3 config remove %s" % profile.name)
        self.profiles[profile.name] = profile

    def remove(self, name):
        if self.profiles.pop(name, None) is None:
            raise errors.ConfigError("no profile %s in %s" % (name, self.path))

    def save(self):
        """Write the file atomically, mode 0600, creating its directory (0700) when missing."""
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        tmp = "%s.tmp.%d" % (self.path, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(render(self.profiles.values()))
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def find_profile(name, inventory_path=None):
    """The profile ``name`` from the config file, else (with ``inventory_path``) the deploy inventory's
    host of that name as a profile (its agent URL, agent user and agent password file); None if neither."""
    profile = ProfileStore().get(name)
    if profile is not None or not inventory_path:
        return profile
    from ovm3 import inventory

    hosts = {h.name: h for h in inventory.load(inventory_path).hosts}
    entry = hosts.get(name)
    if entry is None:
        return None
    return Profile(name, entry.url, user=entry.agent_user or "oracle", password_file=entry.agent_password_file or "")
