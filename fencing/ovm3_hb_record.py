"""The heartbeat file on shared storage and the peer state file on local disk: formats and raw I/O.

Heartbeat file ``<mount>/.hb-<guid>``: a fixed 512-byte text record (so a reader's direct I/O never
depends on a cached file size), written as temp file + fsync + rename + fsync of the directory::

    ovm3-heartbeat 1
    guid=<guid>
    instance=<pid>-<start time>   (changes when the daemon restarts; seq starts again)
    seq=<n>                       (grows on every write)
    interval=<s> timeout=<s> policy=any|all mounts=<n>
    time=<writer wall clock>      (for people only; never used to judge liveness)
    state=running|stopped fence=crash|reboot|log-only|command watchdog=armed|none

The functions here do blocking I/O on the storage: the daemon calls them only in child processes.
dom0 Python 2.4..3.x.
"""
import errno
import os
import sys

import ovm3_compat

MAGIC = "ovm3-heartbeat 1"
RECORD_SIZE = 512
PREFIX = ".hb-"
TMP_SUFFIX = ".tmp"
STATE_MAGIC = "ovm3-heartbeat-state 1"

RECORD_KEYS = ("guid", "instance", "seq", "interval", "timeout", "policy", "mounts", "time", "state",
               "fence", "watchdog")
STATES = ("running", "stopped")


class RecordError(ValueError):
    """A heartbeat record could not be parsed."""


def file_name(guid):
    """Name of a host's heartbeat file in a mount."""
    return PREFIX + guid


def format_record(record):
    """A record dict (see module doc) -> exactly :data:`RECORD_SIZE` bytes."""
    lines = [MAGIC]
    for key in RECORD_KEYS:
        value = str(record[key])
        if "\n" in value or "=" in key:
            raise RecordError("bad record value for %s" % key)
        lines.append("%s=%s" % (key, value))
    text = "\n".join(lines) + "\n"
    if len(text) > RECORD_SIZE:
        raise RecordError("record too long (%d bytes)" % len(text))
    return ovm3_compat.to_bytes(text + " " * (RECORD_SIZE - len(text)))


def parse_record(data):
    """Bytes of a heartbeat file -> record dict with seq as int and timings as floats.

    Raises :class:`RecordError` for anything that is not a complete record of this format.
    """
    text = ovm3_compat.to_text(data)
    lines = text.rstrip(" \n").split("\n")
    if not lines or lines[0] != MAGIC:
        raise RecordError("not an ovm3 heartbeat record")
    record = {}
    for line in lines[1:]:
        if "=" not in line:
            raise RecordError("malformed line %r" % line[:40])
        key, value = line.split("=", 1)
        if key in RECORD_KEYS:
            record[key] = value
    for key in RECORD_KEYS:
        if key not in record:
            raise RecordError("record lacks %s" % key)
    try:
        record["seq"] = int(record["seq"])
        record["mounts"] = int(record["mounts"])
        for key in ("interval", "timeout", "time"):
            record[key] = float(record[key])
    except ValueError:
        raise RecordError("record has a non-numeric field")
    if record["state"] not in STATES:
        raise RecordError("unknown state %r" % record["state"])
    if record["interval"] <= 0 or record["timeout"] <= 0:
        raise RecordError("record has non-positive timings")
    return record


def _write_all(fd, data):
    while data:
        written = ovm3_compat.retry_eintr(os.write, fd, data)
        data = data[written:]


def write_heartbeat(mount, guid, record):
    """Write the record to ``<mount>/.hb-<guid>`` atomically and durably (may block on dead storage)."""
    path = os.path.join(mount, file_name(guid))
    tmp = path + TMP_SUFFIX
    data = format_record(record)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, int("644", 8))
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(mount, os.O_RDONLY)
    try:
        try:
            os.fsync(dfd)
        except OSError:
            # Some filesystems cannot fsync a directory; the rename is still ordered after the data.
            if sys.exc_info()[1].errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
                raise
    finally:
        os.close(dfd)


def read_direct(path, size=RECORD_SIZE):
    """Read up to ``size`` bytes bypassing the page cache (O_DIRECT), falling back to a plain read
    only where the filesystem refuses O_DIRECT (the result then says ``direct`` False)."""
    flags = os.O_RDONLY
    direct = getattr(os, "O_DIRECT", 0)
    try:
        fd = os.open(path, flags | direct)
        used = bool(direct)
    except OSError:
        if sys.exc_info()[1].errno != errno.EINVAL or not direct:
            raise
        fd = os.open(path, flags)
        used = False
    try:
        try:
            data = ovm3_compat.retry_eintr(os.read, fd, size)
        except OSError:
            # O_DIRECT wants an aligned buffer on block filesystems; NFS and FUSE do not care.
            if sys.exc_info()[1].errno != errno.EINVAL or not used:
                raise
            os.close(fd)
            fd = os.open(path, flags)
            used = False
            data = ovm3_compat.retry_eintr(os.read, fd, size)
    finally:
        os.close(fd)
    return data, used


def list_heartbeats(mount):
    """Names of the heartbeat files in a mount (temp files excluded), guid -> file name."""
    found = {}
    for name in os.listdir(mount):
        if name.startswith(PREFIX) and not name.endswith(TMP_SUFFIX):
            guid = name[len(PREFIX):]
            if guid:
                found[guid] = name
    return found


def read_heartbeats(mount, only_guid=None):
    """Read every heartbeat record (or only one guid's) in a mount with direct I/O.

    Returns ``{guid: ("ok", record) | ("error", message)}``. Listing errors raise.
    """
    names = list_heartbeats(mount)
    if only_guid is not None:
        if only_guid in names:
            names = {only_guid: names[only_guid]}
        else:
            names = {}
    result = {}
    for guid in names.keys():
        try:
            data, direct = read_direct(os.path.join(mount, names[guid]))
            record = parse_record(data)
            record["direct"] = direct
            result[guid] = ("ok", record)
        except (OSError, IOError, RecordError):
            result[guid] = ("error", str(sys.exc_info()[1]))
    return result


# ---- key=value lines with quoted values: the pipe protocol and the state file -------------------------

def quote(value):
    """A value made safe for one ``key=value`` word (no spaces, tabs, newlines or ``%``)."""
    value = str(value)
    out = []
    for ch in value:
        if ch in "% \t\n\r=" or ord(ch) < 32:
            out.append("%%%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def unquote(value):
    """Inverse of :func:`quote`."""
    parts = value.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        out.append(chr(int(part[:2], 16)) + part[2:])
    return "".join(out)


def format_line(kind, fields):
    """``kind key=value key=value`` with quoted values, keys sorted."""
    keys = list(fields.keys())
    keys.sort()
    words = [kind]
    for key in keys:
        if fields[key] is not None:
            words.append("%s=%s" % (key, quote(fields[key])))
    return " ".join(words)


def parse_line(line):
    """Inverse of :func:`format_line` -> (kind, {key: str})."""
    words = line.split()
    if not words:
        return None, {}
    fields = {}
    for word in words[1:]:
        if "=" in word:
            key, value = word.split("=", 1)
            fields[key] = unquote(value)
    return words[0], fields


def boot_id(path="/proc/sys/kernel/random/boot_id"):
    """This boot's id (monotonic times from another boot mean nothing), or '' when unknown."""
    try:
        return ovm3_compat.read_file(path, 128).strip()
    except (IOError, OSError):
        return ""
