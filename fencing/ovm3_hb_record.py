"""The heartbeat file on shared storage and the peer state file on local disk: formats and raw I/O.

Heartbeat file ``<mount>/.hb-<guid>``: one fixed 512-byte text record (format 2), made once and fully
written when the daemon first writes to a mount (never sparse), then rewritten in place at offset 0
(no allocation per beat, so a full export does not stop heartbeats)::

    ovm3-heartbeat 2
    guid=<guid>
    instance=<16 random hex digits, new on every daemon start>
    seq=<n>                       (grows on every write of this instance)
    interval=<s>
    timeout=<s>
    policy=any|all
    mounts=<n>
    time=<writer wall clock>      (for people only; never used to judge liveness)
    state=running|stopped
    fence=crash|reboot|log-only|command
    watchdog=armed|none
    watchdog_timeout=<s>          (0 without a watchdog)
    conflict=0|1                  (1: this writer saw another writer of its guid)
    boot=<writer's kernel boot id> (a restart in the same boot knows the old record is its own)
    crc=<8 hex digits>            (zlib.crc32 of every byte before this line, unsigned)

then spaces up to 512 bytes. A record whose checksum does not match (a read that met a half-done
overwrite, or damage) is unreadable, never a record without progress. Format 1 (the same first
eleven keys, no checksum, written by temp file + rename) is still read; a reader never says DEAD
from a format it does not know. The functions here do blocking I/O on the storage: the daemon calls
them only in child processes. dom0 Python 2.4..3.x.
"""
import errno
import os
import sys
import zlib

import ovm3_compat

MAGIC = "ovm3-heartbeat 2"
MAGIC_V1 = "ovm3-heartbeat 1"
RECORD_SIZE = 512
PREFIX = ".hb-"
TMP_SUFFIX = ".tmp"
STATE_MAGIC = "ovm3-heartbeat-state 1"

RECORD_KEYS_V1 = ("guid", "instance", "seq", "interval", "timeout", "policy", "mounts", "time", "state",
                  "fence", "watchdog")
RECORD_KEYS = RECORD_KEYS_V1 + ("watchdog_timeout", "conflict", "boot")
STATES = ("running", "stopped")
_CRC_KEY = "crc="


class RecordError(ValueError):
    """A heartbeat record could not be parsed."""


class ChecksumError(RecordError):
    """A format-2 record whose checksum does not match its bytes (torn or damaged)."""


class IdentityError(OSError):
    """The heartbeat file is not the one on the filesystem the daemon started with."""


def file_name(guid):
    """Name of a host's heartbeat file in a mount."""
    return PREFIX + guid


def crc32(data):
    """zlib.crc32 as an unsigned 32-bit number on every Python (signed on 2.6, unsigned on 3)."""
    return zlib.crc32(ovm3_compat.to_bytes(data)) & int("ffffffff", 16)


def format_record(record):
    """A record dict (see module doc) -> exactly :data:`RECORD_SIZE` bytes of format 2."""
    lines = [MAGIC]
    for key in RECORD_KEYS:
        value = str(record[key])
        if "\n" in value:
            raise RecordError("bad record value for %s" % key)
        lines.append("%s=%s" % (key, value))
    body = "\n".join(lines) + "\n"
    text = body + "%s%08x\n" % (_CRC_KEY, crc32(body))
    if len(text) > RECORD_SIZE:
        raise RecordError("record too long (%d bytes)" % len(text))
    return ovm3_compat.to_bytes(text + " " * (RECORD_SIZE - len(text)))


def typed(fields, version=2):
    """Record fields as text -> the record dict with numbers converted; raises RecordError."""
    record = {}
    for key in RECORD_KEYS_V1:
        if key not in fields:
            raise RecordError("record lacks %s" % key)
        record[key] = fields[key]
    if version >= 2:
        for key in ("watchdog_timeout", "conflict", "boot"):
            if key not in fields:
                raise RecordError("record lacks %s" % key)
            record[key] = fields[key]
    else:
        record["watchdog_timeout"] = "0"
        record["conflict"] = "0"
        record["boot"] = ""
    try:
        record["seq"] = int(record["seq"])
        record["mounts"] = int(record["mounts"])
        for key in ("interval", "timeout", "time", "watchdog_timeout"):
            record[key] = float(record[key])
    except ValueError:
        raise RecordError("record has a non-numeric field")
    if record["conflict"] not in ("0", "1"):
        raise RecordError("record has a bad conflict mark %r" % record["conflict"])
    if record["state"] not in STATES:
        raise RecordError("unknown state %r" % record["state"])
    if record["interval"] <= 0 or record["timeout"] <= 0 or record["watchdog_timeout"] < 0:
        raise RecordError("record has non-positive timings")
    record["version"] = version
    return record


def parse_record(data):
    """Bytes of a heartbeat file (format 2 or 1) -> record dict (numbers converted, ``version`` set).

    Raises :class:`ChecksumError` for a format-2 record whose checksum fails, :class:`RecordError`
    for anything else that is not a complete record of a known format.
    """
    text = ovm3_compat.to_text(data)
    version = None
    if text.startswith(MAGIC + "\n"):
        version = 2
        at = text.find("\n" + _CRC_KEY)
        if at < 0:
            raise ChecksumError("record has no checksum (torn write?)")
        body = text[:at + 1]
        crc_text = text[at + 1 + len(_CRC_KEY):at + 1 + len(_CRC_KEY) + 8]
        try:
            stored = int(crc_text, 16)
        except ValueError:
            raise ChecksumError("record checksum is not a number (torn write?)")
        if len(crc_text) != 8 or stored != crc32(body):
            raise ChecksumError("record checksum mismatch (torn write or damage)")
        lines = body.rstrip("\n").split("\n")
    elif text.startswith(MAGIC_V1 + "\n"):
        version = 1
        lines = text.rstrip(" \n").split("\n")
    else:
        raise RecordError("not an ovm3 heartbeat record of a known format")
    fields = {}
    for line in lines[1:]:
        if "=" not in line:
            raise RecordError("malformed line %r" % line[:40])
        key, value = line.split("=", 1)
        fields[key] = value
    return typed(fields, version)


def write_heartbeat(mount, guid, record, device=None, inode=None):
    """Write the record in place at offset 0 of ``<mount>/.hb-<guid>`` and fsync (may block on dead
    storage) -> (st_dev major, st_dev minor, st_ino) of the file written.

    ``device`` (major, minor) is the mount's device id from mountinfo at start: the file must live on
    it. With ``inode`` (the file made earlier) the file is opened without O_CREAT and must still be
    that inode; without it the file is made if missing and fully written (not sparse), and the
    directory is fsynced so the new name is durable. A mismatch raises :class:`IdentityError` before
    a byte is written: a heartbeat never goes to another filesystem than the one the daemon started
    with.
    """
    path = os.path.join(mount, file_name(guid))
    data = format_record(record)
    flags = os.O_WRONLY
    if inode is None:
        flags = flags | os.O_CREAT
    fd = os.open(path, flags, int("644", 8))
    try:
        st = os.fstat(fd)
        here = (os.major(st.st_dev), os.minor(st.st_dev))
        if device is not None and here != tuple(device):
            raise IdentityError(errno.EXDEV, "%s is on device %d:%d, not on %d:%d mounted there at start"
                                % (path, here[0], here[1], device[0], device[1]))
        if inode is not None and st.st_ino != inode:
            raise IdentityError(errno.ESTALE, "%s is inode %d, not the file %d made at start"
                                % (path, st.st_ino, inode))
        os.lseek(fd, 0, 0)
        ovm3_compat.write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if inode is None:
        _fsync_dir(mount)
    return here[0], here[1], st.st_ino


def _fsync_dir(mount):
    dfd = os.open(mount, os.O_RDONLY)
    try:
        try:
            os.fsync(dfd)
        except OSError:
            # Some filesystems cannot fsync a directory; the file's data is durable already.
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


def read_record(path, reader=read_direct):
    """Read and parse one heartbeat file; a bad checksum is read once more before it counts.

    Returns the record (``direct`` set); raises RecordError/OSError. A record still failing its
    checksum raises ChecksumError ("record unreadable"): never a read that saw no progress.
    """
    data, direct = reader(path)
    try:
        record = parse_record(data)
    except ChecksumError:
        data, direct = reader(path)
        try:
            record = parse_record(data)
        except ChecksumError:
            raise ChecksumError("record unreadable: %s" % sys.exc_info()[1])
    record["direct"] = direct
    return record


def list_heartbeats(mount):
    """Names of the heartbeat files in a mount (format-1 temp files excluded), guid -> file name."""
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
            result[guid] = ("ok", read_record(os.path.join(mount, names[guid])))
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
