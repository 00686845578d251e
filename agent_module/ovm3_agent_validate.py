"""Argument validation for every service: each check returns the clean value or raises InvalidArgument.

Anyone holding the agent password reaches these services as root, so every argument is checked
against a narrow pattern before it touches the host. Python 2.4-compatible, stdlib only.
"""
import re

from ovm3_agent_base import InvalidArgument
import ovm3_compat

MAX_PATH = 1024
MAX_NAME = 255
MAX_COMMAND = 16384
MAX_CONTENT = 16 * 1024 * 1024

_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\Z")
# CloudStack's instance names: i-<account>-<id>-VM (or its display name), r-/s-/v-<id>-VM.
_VM_NAME = re.compile(r"^[a-zA-Z]-\d{1,10}(-\d{1,10})?-[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
# OVM's own domain names are the VM uuid without dashes.
_OVM_UUID = re.compile(r"^[0-9a-fA-F]{32}\Z")
_DEVICE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}\Z")
_FILENAME = re.compile(r"^[A-Za-z0-9_.@+][A-Za-z0-9_.@+-]{0,254}\Z")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\Z")
_GUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}\Z")
_SAFE_PATH_CHARS = re.compile(r"^[A-Za-z0-9_./@+-]+\Z")
_DOMR_SCRIPT = re.compile(r"^/opt/cloud/bin/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*\Z")
# Anchors are ``\Z``: ``$`` also matches before a trailing newline ("id_rsa\n" would pass).
# Names in root's .ssh that sshd reads as configuration or runs at login: a key upload never writes
# them, whatever the settings say (compared case-insensitively; the first two also as prefixes).
_SSH_PREFIXES_REFUSED = ("authorized_keys", "known_hosts")
_SSH_NAMES_REFUSED = ("rc", "environment", "config")
# Shell syntax that would let a router command run something other than its script.
_SHELL_CONTROL = (";", "&", "|", "`", "$(", ">", "<", "\n", "\r", "\x00")


def _text(name, value, limit):
    if not isinstance(value, ovm3_compat.string_types):
        raise InvalidArgument(name, "must be a string, got %s" % type(value).__name__)
    if len(value) > limit:
        raise InvalidArgument(name, "longer than %d characters" % limit)
    if "\x00" in value:
        raise InvalidArgument(name, "contains a NUL byte")
    return str(value)


def _shown(value):
    return repr(value[:80])


def integer(name, value, low, high):
    """An int (not a bool, not a string) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, ovm3_compat.integer_types):
        raise InvalidArgument(name, "must be an integer, got %s" % type(value).__name__)
    if value < low or value > high:
        raise InvalidArgument(name, "must be between %d and %d, got %d" % (low, high, value))
    return int(value)


def port(name, value):
    return integer(name, value, 1, 65535)


def ipv4(name, value):
    """A dotted-quad IPv4 address (no leading zeros, each part 0..255)."""
    value = _text(name, value, 15)
    m = _IPV4.match(value)
    if not m:
        raise InvalidArgument(name, "not an IPv4 address: %s" % _shown(value))
    for part in m.groups():
        if int(part) > 255 or (len(part) > 1 and part[0] == "0"):
            raise InvalidArgument(name, "not an IPv4 address: %s" % _shown(value))
    return value


def ipv4_int(address):
    parts = address.split(".")
    return (int(parts[0]) << 24) | (int(parts[1]) << 16) | (int(parts[2]) << 8) | int(parts[3])


def is_link_local(address):
    """True for 169.254.0.0/16, the control network system VMs live on."""
    return address.startswith("169.254.")


def cidr(name, value):
    """``a.b.c.d/n`` with the host bits clear -> (network address, prefix length)."""
    value = _text(name, value, 18)
    if value.count("/") != 1:
        raise InvalidArgument(name, "not an IPv4 network a.b.c.d/n: %s" % _shown(value))
    address, bits = value.split("/")
    ipv4(name, address)
    if not bits.isdigit() or len(bits) > 2 or int(bits) > 32:
        raise InvalidArgument(name, "prefix length must be 0..32: %s" % _shown(value))
    prefix = int(bits)
    mask = (0xffffffff << (32 - prefix)) & 0xffffffff
    if ipv4_int(address) & ~mask & 0xffffffff:
        raise InvalidArgument(name, "host bits set in %s" % _shown(value))
    return address, prefix


def hostname_or_ip(name, value):
    value = _text(name, value, 253)
    if _IPV4.match(value):
        return ipv4(name, value)
    if not _HOSTNAME.match(value):
        raise InvalidArgument(name, "not a host name or IPv4 address: %s" % _shown(value))
    return value


def domain_name(name, value):
    """A CloudStack VM name (``i-2-7-VM``, ``r-4-VM``) or an OVM domain uuid (32 hex digits)."""
    value = _text(name, value, 80)
    if not (_VM_NAME.match(value) or _OVM_UUID.match(value)):
        raise InvalidArgument(name, "not a CloudStack VM name (like i-2-7-VM) or OVM uuid: %s" % _shown(value))
    return value


def device(name, value):
    """A Linux network device name (at most 15 characters, no slash, no spaces)."""
    value = _text(name, value, 15)
    if not _DEVICE.match(value) or value in (".", ".."):
        raise InvalidArgument(name, "not a network device name: %s" % _shown(value))
    return value


def filename(name, value):
    """One path component: letters, digits, ``_.@+-``; not ``.``/``..``; no leading dash."""
    value = _text(name, value, MAX_NAME)
    if not _FILENAME.match(value) or value in (".", ".."):
        raise InvalidArgument(name, "not a plain file name: %s" % _shown(value))
    return value


def ssh_key_name(name, value, allowed):
    """A key file name for root's .ssh: one of ``allowed``, never an sshd control file."""
    value = filename(name, value)
    low = value.lower()
    for prefix in _SSH_PREFIXES_REFUSED:
        if low.startswith(prefix):
            raise InvalidArgument(name, "%s files are never written by a key upload: %s" % (prefix, _shown(value)))
    if low in _SSH_NAMES_REFUSED:
        raise InvalidArgument(name, "sshd reads %s: never written by a key upload" % _shown(value))
    if value not in allowed:
        raise InvalidArgument(name, "not an accepted SSH key name (%s): %s" % (", ".join(allowed), _shown(value)))
    return value


def guid(name, value):
    value = _text(name, value, 128)
    if not _GUID.match(value):
        raise InvalidArgument(name, "not a host guid: %s" % _shown(value))
    return value


def content(name, value):
    """File content: a string of at most 16 MiB (XML-RPC strings cannot carry NUL anyway)."""
    if not isinstance(value, ovm3_compat.string_types):
        # xmlrpclib hands base64 payloads over as Binary objects.
        data = getattr(value, "data", None)
        if data is None:
            raise InvalidArgument(name, "must be a string, got %s" % type(value).__name__)
        value = data
    if len(value) > MAX_CONTENT:
        raise InvalidArgument(name, "larger than %d bytes" % MAX_CONTENT)
    return value


def path_syntax(name, value):
    """An absolute, normalised path of safe characters: no ``..``, ``.``, ``//``, NUL or trailing slash."""
    value = _text(name, value, MAX_PATH)
    if not value.startswith("/"):
        raise InvalidArgument(name, "must be an absolute path: %s" % _shown(value))
    if not _SAFE_PATH_CHARS.match(value):
        raise InvalidArgument(name, "contains characters outside [A-Za-z0-9_./@+-]: %s" % _shown(value))
    if value != "/":
        for part in value[1:].split("/"):
            if part in ("", ".", ".."):
                raise InvalidArgument(name, "must be normalised (no '', '.' or '..' components): %s"
                                      % _shown(value))
            if part.startswith("-"):
                raise InvalidArgument(name, "a component starts with '-': %s" % _shown(value))
    return value


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def confined_path(host, name, value, roots):
    """A path below one of ``roots`` even after every symlink of its existing part is resolved."""
    value = path_syntax(name, value)
    inside = [r for r in roots if _under(value, r)]
    if not inside:
        raise InvalidArgument(name, "%s is outside the allowed directories (%s)" % (_shown(value),
                                                                                  ", ".join(roots)))
    # realpath resolves every symlink along the existing part (a dangling final link too).
    real = host.realpath(value)
    real_roots = []
    for r in roots:
        resolved = host.realpath(r)
        if resolved:
            real_roots.append(resolved)
    ok = False
    if real is not None:
        for r in real_roots:
            if _under(real, r):
                ok = True
    if not ok:
        raise InvalidArgument(name, "%s resolves outside the allowed directories (symlink escape)"
                              % _shown(value))
    return value


def domr_command(name, value):
    """A system-VM command: its first word is a script under /opt/cloud/bin/, no shell control syntax.

    The command runs in the router's shell; refusing ``; & | ` $( < >`` and newlines keeps it to that
    one script with plain arguments.
    """
    value = _text(name, value, MAX_COMMAND)
    for bad in _SHELL_CONTROL:
        if bad in value:
            raise InvalidArgument(name, "shell control syntax %r is not allowed" % bad)
    words = value.split()
    if not words:
        raise InvalidArgument(name, "empty command")
    first = words[0]
    if not _DOMR_SCRIPT.match(first) or "/../" in first + "/" or "/./" in first + "/":
        raise InvalidArgument(name, "the command must start with a script under /opt/cloud/bin/, got %s"
                              % _shown(first))
    return value


def mkdir_mode(name, value):
    """A permission mode 0..0777; CloudStack's decimal ``755`` (meant as octal) is read as 0755."""
    if isinstance(value, bool) or not isinstance(value, ovm3_compat.integer_types):
        raise InvalidArgument(name, "must be an integer, got %s" % type(value).__name__)
    if 0 <= value <= 511:
        return int(value)
    digits = str(value)
    if len(digits) == 3 and not [d for d in digits if d not in "01234567"]:
        return int(digits, 8)
    raise InvalidArgument(name, "not a permission mode 0..0777: %r" % value)
