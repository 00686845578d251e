"""The one check every path, name and id a CloudStack command carries passes before any agent call.

A handler reads a field, hands it here with the field's name, and uses only what comes back; host
paths are then built by :mod:`ovm3.cloudstack.naming` from these parts and confined to the repository
or mount the command names. A value that fails raises :class:`FieldRefused`, naming the field;
dispatch turns it into a failed answer, so the agent never sees the value.

Allowlists (whole-value matches, ASCII only):

* a file name (volume, template, snapshot, ISO): letters, digits, ``_ . + -``, not starting with
  ``.`` or ``-``, at most 255 characters, no ``..``;
* a path: file names joined by ``/`` (empty and ``.`` components dropped), at most 1024 characters;
  ``..`` anywhere is refused, never resolved;
* a VM name: letters, digits, ``_ . -``, first a letter or digit, at most 128 characters, no ``..``;
* a UUID: 32 hex digits, dashed 8-4-4-4-12 or not; a MAC ``xx:xx:xx:xx:xx:xx``; a bridge: a Linux
  interface name (at most 15 characters of letters, digits, ``_ . -``); an NFS server: a DNS name or
  IPv4 address; IP addresses and networks as :mod:`ipaddress` reads them; a number: 1 to 18 digits.

Every check first requires a non-empty string (numbers may also be ints): NUL, line breaks and other
control characters, percent-encoding and non-ASCII look-alikes of ``.`` and ``/`` fail the allowlist.
"""

import ipaddress
import re

from ovm3.errors import CommandError

MAX_NAME = 255
MAX_PATH = 1024
MAX_VM_NAME = 128
_SHOWN = 64

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")
_BRIDGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(r"%s(?:\.%s)*" % (_LABEL, _LABEL))
_NUMBER = re.compile(r"[0-9]{1,18}")
_URL_REST = re.compile(r"[!-~]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class FieldRefused(CommandError):
    """A command field failed its allowlist; ``field`` names it (``data.path``, ``volumePath``). The
    value is shown escaped and cut short, or not at all when it is a ``secret``."""

    def __init__(self, field, value, why, secret=False):
        self.field = field
        got = "its value is a secret, not shown" if secret else "got %s" % shown(value)
        super().__init__("field %s refused: %s (%s)" % (field, why, got))


def shown(value):
    """A short, printable rendering of a refused value (non-ASCII and control characters escaped)."""
    if not isinstance(value, str):
        return "a value of type %s" % type(value).__name__
    return ascii(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _text(value, field, limit, secret=False):
    why = None
    if not isinstance(value, str):
        why = "must be a string, not %s" % type(value).__name__
    elif value == "":
        why = "is empty"
    elif len(value) > limit:
        why = "is longer than %d characters" % limit
    elif "\x00" in value:
        why = "contains a NUL character"
    elif "\n" in value or "\r" in value:
        why = "contains a line break"
    elif _CONTROL.search(value):
        why = "contains a control character"
    if why is not None:
        raise FieldRefused(field, value, why, secret)
    return value


def _match(pattern, value, field, limit, what):
    text = _text(value, field, limit)
    if not pattern.fullmatch(text):
        raise FieldRefused(field, value, "is not %s" % what)
    return text


def name(value, field):
    """A plain file name (a volume, template or snapshot uuid, an image name)."""
    text = _text(value, field, MAX_NAME)
    if ".." in text:
        raise FieldRefused(field, value, "contains '..'")
    return _match(_NAME, text, field, MAX_NAME, "a plain file name (letters, digits, _ . + -)")


def _components(value, field):
    text = _text(value, field, MAX_PATH)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FieldRefused(field, value, "contains a '..' component")
    if not parts:
        raise FieldRefused(field, value, "names no file")
    for part in parts:
        if ".." in part or not _NAME.fullmatch(part) or len(part) > MAX_NAME:
            raise FieldRefused(field, value, "has a component that is not a plain file name: %s" % shown(part))
    return text, parts


def relative(value, field):
    """A relative path, normalised (``a//b/./c`` -> ``a/b/c``); an absolute one is refused."""
    text, parts = _components(value, field)
    if text.startswith("/"):
        raise FieldRefused(field, value, "is an absolute path, a relative one is expected")
    return "/".join(parts)


def absolute(value, field):
    """An absolute path, normalised (``/a//b/`` -> ``/a/b``); ``/`` itself is allowed."""
    if value == "/":
        return value
    text, parts = _components(value, field)
    if not text.startswith("/"):
        raise FieldRefused(field, value, "is not an absolute path")
    return "/" + "/".join(parts)


def vm_name(value, field):
    """A CloudStack instance name (``i-2-3-VM``, ``r-4-VM``)."""
    text = _match(_VM_NAME, value, field, MAX_VM_NAME, "a VM name (letters, digits, _ . -)")
    if ".." in text:
        raise FieldRefused(field, value, "contains '..'")
    return text


def uuid(value, field):
    """A UUID, dashed or not (returned as given)."""
    return _match(_UUID, value, field, 36, "a UUID")


def mac(value, field):
    """A MAC address ``xx:xx:xx:xx:xx:xx``, returned in lower case."""
    return _match(_MAC, value, field, 17, "a MAC address (xx:xx:xx:xx:xx:xx)").lower()


def bridge(value, field):
    """A Linux bridge (interface) name."""
    return _match(_BRIDGE, value, field, 15, "a bridge name (at most 15 letters, digits, _ . -)")


def nfs_host(value, field):
    """An NFS server: a DNS name or an IPv4 address."""
    return _match(_HOST, value, field, 253, "a host name or IPv4 address")


def number(value, field):
    """A non-negative whole number (an int, or a string of digits) -> int."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise FieldRefused(field, value, "is negative")
        return value
    return int(_match(_NUMBER, value, field, 18, "a whole number"))


def ip_address(value, field):
    """An IPv4 or IPv6 address, returned in its canonical form."""
    text = _text(value, field, 45)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise FieldRefused(field, value, "is not an IP address") from None


def network(value, field):
    """An IP network in CIDR form (``10.1.1.0/24``)."""
    text = _text(value, field, 49)
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise FieldRefused(field, value, "is not an IP network (CIDR)") from None


def setting(value, field, forbidden=",", secret=False):
    """A value written into a ``key=value,...`` agent setting: no control character nor ``forbidden``
    (a ``secret`` one is never shown in the refusal)."""
    text = _text(value, field, MAX_NAME, secret)
    if any(c in text for c in forbidden):
        raise FieldRefused(field, value, "contains one of %s" % ascii(forbidden), secret)
    return text


def url(value, field, schemes=("http", "https", "ftp", "file")):
    """A download URL: one of ``schemes``, printable ASCII without spaces, no ``..`` segment."""
    text = _text(value, field, MAX_PATH)
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in schemes:
        raise FieldRefused(field, value, "is not a %s URL" % "/".join(schemes))
    if not _URL_REST.fullmatch(rest):
        raise FieldRefused(field, value, "has a character a URL may not carry unencoded")
    if ".." in rest.split("?", 1)[0].split("/"):
        raise FieldRefused(field, value, "contains a '..' segment")
    return text


def listed(value, field):
    """A JSON array (None -> [])."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldRefused(field, value, "must be a list, not %s" % type(value).__name__)
    return value
