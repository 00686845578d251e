"""Redaction: the one place that decides what a secret looks like in logs, errors and reprs."""
import re

MASK = "***"

# Keys of structs (and key=value fragments in strings) whose values are secrets wherever they appear:
# storage server admin passwords, VNC passwords in vm.cfg vfb strings, ownership certificates, keys.
SECRET_KEYS = frozenset({
    "password", "passwd", "admin_passwd", "admin_password", "vncpasswd", "old_password", "oldpass",
    "manager_certificate", "signed_server_certificate", "private_key", "content", "secret", "api_key",
    "ssh_password", "agent_password",
})
_KV_SECRET = re.compile(r"(?i)\b(%s)=([^,\s]*)" % "|".join(sorted(SECRET_KEYS, key=len, reverse=True)))
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/:@\s]+):([^@/\s]*)@")


def redact_text(text):
    """Mask ``key=value`` secrets (vm.cfg vfb strings) and passwords embedded in URLs."""
    if not isinstance(text, str):
        return text
    text = _KV_SECRET.sub(lambda m: "%s=%s" % (m.group(1), MASK), text)
    return _URL_CREDENTIALS.sub(lambda m: "%s:%s@" % (m.group(1), MASK), text)


def redact_value(value, depth=0):
    """A copy of ``value`` with secret struct members and embedded secrets masked."""
    if depth > 20:
        return MASK
    if isinstance(value, dict):
        return {k: (MASK if str(k).lower() in SECRET_KEYS else redact_value(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_args(method, args, version=None):
    """The arguments of a call as they may be shown: table-marked secret positions become ``***``."""
    secret = method.secret_positions(version) if method is not None else set()
    return [MASK if i in secret else _shorten(redact_value(a)) for i, a in enumerate(args)]


def secret_values(method, args, version=None):
    """The secret strings one call carries: every string at a table-marked secret position and every
    secret struct member (``SECRET_KEYS``), so text that echoes them (agent faults) can be masked."""
    secret = method.secret_positions(version) if method is not None else set()
    found = set()
    for i, arg in enumerate(args):
        _collect(arg, i in secret, found, 0)
    return sorted(found, key=len, reverse=True)


def _collect(value, is_secret, found, depth):
    if depth > 20:
        return
    if isinstance(value, str):
        if is_secret and value:
            found.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect(v, is_secret or str(k).lower() in SECRET_KEYS, found, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, is_secret, found, depth + 1)


def mask_values(text, secrets):
    """``text`` with every occurrence of each secret string (longest first) replaced by ``***``."""
    if not isinstance(text, str):
        return text
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def _shorten(value, limit=200):
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "...(%d chars)" % len(value)
    return value
