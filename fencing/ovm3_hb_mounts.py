"""Which storage the heartbeat daemon monitors, and whether it is still the storage it started with.

Everything comes from the kernel's mount table ``/proc/self/mountinfo`` (mount id, device id
major:minor, mount point, filesystem type, source), read as a file: a mount is never stat()ed here,
because stat() on a dead NFS mount hangs. A mount point can carry several mounts (a tmpfs or a bind
mount over an NFS mount); the last one listed is the one a path resolves to.

An identity is ``{"mount_id", "device", "fstype", "source"}``; :func:`changed` compares two. dom0
Python 2.4..3.x.
"""
import os

import ovm3_compat
import ovm3_hb_config


class MountinfoError(ValueError):
    """The mount table is not in /proc/self/mountinfo format."""


def unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    out = []
    i = 0
    while i < len(field):
        digits = field[i + 1:i + 4]
        if field[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(digits, 8)))
            i = i + 4
        else:
            out.append(field[i])
            i = i + 1
    return "".join(out)


def parse_mountinfo(text):
    """mountinfo text -> [identity dict with ``point``], in table order.

    Line: ``id parent major:minor root point options [optional...] - fstype source superoptions``.
    """
    table = []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        try:
            dash = fields.index("-", 6)
        except ValueError:
            raise MountinfoError("not a mountinfo line (no ' - ' separator): %r" % line[:80])
        if len(fields) < dash + 3:
            raise MountinfoError("mountinfo line lacks type or source: %r" % line[:80])
        dev = fields[2].split(":")
        try:
            mount_id = int(fields[0])
            device = (int(dev[0]), int(dev[1]))
        except (ValueError, IndexError):
            raise MountinfoError("mountinfo line with a bad mount or device id: %r" % line[:80])
        table.append({"mount_id": mount_id, "device": device, "point": unescape(fields[4]),
                      "fstype": fields[dash + 1], "source": unescape(fields[dash + 2])})
    return table


def read_mountinfo(path):
    """The mount table at ``path`` (see :func:`parse_mountinfo`)."""
    return parse_mountinfo(ovm3_compat.read_file(path, 4 * 1024 * 1024))


def visible(table):
    """{mount point: identity of the mount a path there resolves to (the last one listed)}."""
    points = {}
    for entry in table:
        points[entry["point"]] = entry
    return points


def monitored_mounts(config, table):
    """(mounts to monitor, {configured mount: why it cannot be monitored}) from a mount table.

    Explicit MOUNTS must each be a mount point; otherwise the NFS mounts under REPOSITORIES are used.
    """
    points = visible(table)
    if config["mounts"]:
        ok = []
        missing = {}
        for mount in config["mounts"]:
            mount = os.path.normpath(mount)
            if mount in points:
                ok.append(mount)
            else:
                missing[mount] = "not mounted (not in %s)" % config.get("mountinfo", "the mount table")
        return ok + list(missing.keys()), missing
    prefix = os.path.normpath(config["repositories"]) + "/"
    found = [p for p in points.keys()
             if points[p]["fstype"] in ovm3_hb_config.NFS_TYPES and p.startswith(prefix)]
    found.sort()
    return found, {}


def describe(identity):
    return "%s %s (device %d:%d, mount id %d)" % (identity["fstype"], identity["source"],
                                                  identity["device"][0], identity["device"][1],
                                                  identity["mount_id"])


def changed(started, now):
    """Why the mount now at a point is not the one recorded at start, or None when it is."""
    if now is None:
        return "no longer mounted"
    for key in ("device", "fstype", "source", "mount_id"):
        if started[key] != now[key]:
            return "replaced: was %s, now %s" % (describe(started), describe(now))
    return None
