"""What a reader has seen of its peers' heartbeats, and the three-valued verdict drawn from it.

:class:`PeerBook` records, on the reader's own monotonic clock, when each peer's record last changed
(its ``instance``/``seq`` advanced), when each mount last answered a read, and what went wrong. It is
kept by the daemon (saved as the state file every interval) or filled by a short probe.

:func:`evaluate` turns it into ALIVE / DEAD / UNKNOWN. The writer's wall clock is never compared with
ours: clock skew cannot make a live host look dead. DEAD needs every one of: the last record says
``running``; its fence action is crash or reboot; it advertises an armed watchdog; our last read of
that storage succeeded recently; no sign of a second writer of that guid (a record marked
``conflict`` or an instance id going A -> B -> A) within the writer's timeout plus the margin; and no
advance for the writer's timeout plus a margin. Anything else that is not ALIVE is UNKNOWN, with the
reason. dom0 Python 2.4..3.x.
"""
import os

import ovm3_compat
import ovm3_hb_config
import ovm3_hb_io
import ovm3_hb_record

ALIVE = "ALIVE"
DEAD = "DEAD"
UNKNOWN = "UNKNOWN"

_RECORD_STR = ("guid", "instance", "policy", "state", "fence", "watchdog")


class PeerBook:
    """Observations of heartbeat files: per mount (reads) and per (mount, guid) (records)."""

    def __init__(self, interval, read_timeout):
        self.interval = float(interval)
        self.read_timeout = float(read_timeout)
        self.mounts = {}
        self.peers = {}
        self.updated = None

    # ---- recording ---------------------------------------------------------------------------------
    def _mount(self, mount):
        if mount not in self.mounts:
            self.mounts[mount] = {"last_ok": None, "duration": None, "error": None, "error_at": None}
        return self.mounts[mount]

    def read_ok(self, mount, results, started, ended):
        """A read of ``mount`` that began at ``started`` returned ``results`` (see read_heartbeats)."""
        info = self._mount(mount)
        info["last_ok"] = ended
        info["duration"] = ended - started
        for guid in results.keys():
            status, value = results[guid]
            key = (mount, guid)
            entry = self.peers.get(key)
            if status != "ok":
                if entry is None:
                    entry = {"record": None, "first_seen": ended, "last_change": None}
                    self.peers[key] = entry
                entry["error"] = value
                entry["unreadable_at"] = ended
                entry["last_read"] = ended
                continue
            mark = (value["instance"], value["seq"])
            if entry is None or entry["record"] is None:
                entry = {"record": value, "first_seen": ended, "last_change": None}
                self.peers[key] = entry
            elif (entry["record"]["instance"], entry["record"]["seq"]) != mark:
                # Progress is stamped when we saw it, at the end of the read: the later, safer bound.
                entry["last_change"] = ended
                old = entry["record"]["instance"]
                if old != value["instance"]:
                    if entry.get("prev_instance") == value["instance"]:
                        entry["conflict_at"] = ended  # A -> B -> A: two writers share this guid
                    entry["prev_instance"] = old
            if value["conflict"] == "1":
                entry["conflict_at"] = ended
            entry["record"] = value
            entry["error"] = None
            entry["last_read"] = ended
        self.updated = ended

    def read_failed(self, mount, message, when):
        """A read of ``mount`` failed or did not finish in time."""
        info = self._mount(mount)
        info["error"] = message
        info["error_at"] = when
        self.updated = when

    def forget_mount(self, mount):
        """Stop reporting on a mount that is no longer monitored."""
        self.mounts.pop(mount, None)
        for key in list(self.peers.keys()):
            if key[0] == mount:
                del self.peers[key]

    def read_fresh(self):
        """How old our last good read may be and still count as "the storage answers"."""
        return self.read_timeout + 2 * self.interval + 0.5

    # ---- the state file ----------------------------------------------------------------------------
    def to_text(self, pid, boot, saved=None):
        """The state file's text; ``saved`` is when the daemon writes it (default: the last observation)."""
        if saved is None:
            saved = self.updated
        lines = [ovm3_hb_record.STATE_MAGIC,
                 ovm3_hb_record.format_line("reader", {
                     "clock": ovm3_compat.monotonic_clock_name(), "boot_id": boot, "pid": pid,
                     "updated": _num(self.updated), "saved": _num(saved),
                     "interval": _num(self.interval), "read_timeout": _num(self.read_timeout)})]
        for mount in sorted(self.mounts.keys()):
            info = self.mounts[mount]
            lines.append(ovm3_hb_record.format_line("mount", {
                "path": mount, "last_ok": _num(info["last_ok"]), "duration": _num(info["duration"]),
                "error": info["error"], "error_at": _num(info["error_at"])}))
        for key in sorted(self.peers.keys()):
            entry = self.peers[key]
            fields = {"mount": key[0], "peer": key[1], "first_seen": _num(entry["first_seen"]),
                      "last_change": _num(entry["last_change"]), "last_read": _num(entry.get("last_read")),
                      "error": entry.get("error"), "conflict_at": _num(entry.get("conflict_at")),
                      "unreadable_at": _num(entry.get("unreadable_at")),
                      "prev_instance": entry.get("prev_instance")}
            record = entry["record"]
            if record is not None:
                fields["version"] = record["version"]
                for name in ovm3_hb_record.RECORD_KEYS:
                    fields["r_" + name] = record[name]
            lines.append(ovm3_hb_record.format_line("peer", fields))
        return "\n".join(lines) + "\n"

    def from_text(cls, text):
        """Parse a state file -> (PeerBook, reader fields). Raises ValueError when malformed."""
        lines = text.splitlines()
        if not lines or lines[0] != ovm3_hb_record.STATE_MAGIC:
            raise ValueError("not an ovm3 heartbeat state file")
        book = None
        reader = None
        for line in lines[1:]:
            kind, f = ovm3_hb_record.parse_line(line)
            if kind == "reader":
                reader = f
                book = cls(float(f["interval"]), float(f["read_timeout"]))
                book.updated = _opt(f.get("updated"))
            elif book is None:
                raise ValueError("state file lacks its reader line")
            elif kind == "mount":
                book.mounts[f["path"]] = {"last_ok": _opt(f.get("last_ok")), "duration": _opt(f.get("duration")),
                                          "error": f.get("error"), "error_at": _opt(f.get("error_at"))}
            elif kind == "peer":
                record = None
                if "r_seq" in f:
                    record = ovm3_hb_io.record_fields(f)
                book.peers[(f["mount"], f["peer"])] = {
                    "record": record, "first_seen": float(f["first_seen"]),
                    "last_change": _opt(f.get("last_change")), "last_read": _opt(f.get("last_read")),
                    "error": f.get("error"), "conflict_at": _opt(f.get("conflict_at")),
                    "unreadable_at": _opt(f.get("unreadable_at")),
                    "prev_instance": f.get("prev_instance")}
        if book is None:
            raise ValueError("state file lacks its reader line")
        return book, reader
    from_text = classmethod(from_text)


def _num(value):
    if value is None:
        return None
    return repr(float(value))


def _opt(value):
    if value is None or value == "":
        return None
    return float(value)


def _secs(value):
    return "%.1f" % value


def evaluate_mount(book, mount, guid, now, margin=None):
    """Verdict of one peer as seen on one mount -> dict (verdict, reason, since_progress, record)."""
    info = book.mounts.get(mount)
    out = {"mount": mount, "verdict": UNKNOWN, "since_progress": None, "record": None}
    if info is None or (info["last_ok"] is None and info["error"] is None):
        out["reason"] = "%s has not been read yet" % mount
        return out
    times = [t for t in (info["last_ok"], info["error_at"]) if t is not None]
    if max(times) > now + 0.5:
        out["reason"] = "the local monotonic clock went backwards (reboot or wrap); observe again"
        return out
    if info["error_at"] is not None and (info["last_ok"] is None or info["error_at"] > info["last_ok"]):
        out["reason"] = "storage slow or unreadable: our last read of %s failed: %s" % (mount, info["error"])
        return out
    if now - info["last_ok"] > book.read_fresh():
        out["reason"] = "storage slow: no read of %s answered for %s s" % (mount, _secs(now - info["last_ok"]))
        return out
    entry = book.peers.get((mount, guid))
    if entry is None or entry.get("last_read") is None or entry["last_read"] < info["last_ok"]:
        out["reason"] = "no heartbeat file %s%s on %s" % (ovm3_hb_record.PREFIX, guid, mount)
        return out
    if entry.get("error"):
        out["reason"] = "heartbeat file on %s unreadable: %s" % (mount, entry["error"])
        return out
    record = entry["record"]
    out["record"] = record
    last = entry["last_change"]
    if last is None:
        last = entry["first_seen"]
    since = now - last
    out["since_progress"] = since
    if record["state"] == "stopped":
        out["reason"] = "the writer's daemon was stopped cleanly: it no longer fences itself"
        return out
    conflict_at = entry.get("conflict_at")
    if conflict_at is not None and now - conflict_at < record["timeout"] + ovm3_hb_config.dead_margin(
            record["interval"], margin):
        out["conflict"] = True
        out["reason"] = ("two writers: another daemon writes heartbeats as %s on %s (seen %s s ago); "
                         "neither ALIVE nor DEAD can be told" % (guid, mount, _secs(now - conflict_at)))
        return out
    if entry["last_change"] is not None and since < record["timeout"]:
        out["verdict"] = ALIVE
        out["reason"] = "heartbeat advanced %s s ago on %s" % (_secs(since), mount)
        return out
    dead_after = record["timeout"] + ovm3_hb_config.dead_margin(record["interval"], margin)
    unreadable_at = entry.get("unreadable_at")
    if unreadable_at is not None and unreadable_at > last and now - unreadable_at < dead_after:
        # DEAD needs valid, unchanged records for the whole window: an unreadable read in it (a torn or
        # damaged record) is not a read that saw no progress.
        out["reason"] = ("no advance for %s s on %s, but a read %s s ago found the record unreadable; DEAD "
                         "needs %s s of valid records" % (_secs(since), mount, _secs(now - unreadable_at),
                                                          _secs(dead_after)))
        return out
    if since < dead_after:
        if entry["last_change"] is None:
            out["reason"] = ("not observed long enough: no advance seen in %s s of watching %s (DEAD needs "
                             "%s s)" % (_secs(since), mount, _secs(dead_after)))
        else:
            out["reason"] = ("no advance for %s s on %s; not observed long enough for DEAD (needs %s s)"
                             % (_secs(since), mount, _secs(dead_after)))
        return out
    if record["fence"] not in ovm3_hb_config.REAL_FENCES:
        out["reason"] = ("no advance for %s s, but the writer's fence action is %s: it may still run its VMs"
                         % (_secs(since), record["fence"]))
        return out
    if record["watchdog"] != "armed":
        out["reason"] = ("no advance for %s s, but the writer arms no watchdog: a crashed or killed daemon "
                         "leaves the host and its VMs running" % _secs(since))
        return out
    out["verdict"] = DEAD
    out["reason"] = ("no heartbeat progress for %s s on %s (timeout %s s); the writer fences with %s and "
                     "arms a watchdog" % (_secs(since), mount, _secs(record["timeout"]), record["fence"]))
    return out


def evaluate(book, guid, now, margin=None):
    """The verdict for ``guid`` over every mount in ``book`` -> dict of XML-RPC-safe values."""
    per_mount = []
    mounts = list(book.mounts.keys())
    mounts.sort()
    for mount in mounts:
        per_mount.append(evaluate_mount(book, mount, guid, now, margin))
    seen = [m for m in per_mount if m["record"] is not None]
    alive = [m for m in per_mount if m["verdict"] == ALIVE]
    dead = [m for m in per_mount if m["verdict"] == DEAD]
    conflicts = [m for m in per_mount if m.get("conflict")]
    if conflicts:
        verdict, reason = UNKNOWN, conflicts[0]["reason"]
    elif alive:
        verdict, reason = ALIVE, alive[0]["reason"]
    elif dead:
        record = dead[0]["record"]
        if record["policy"] == "all" and len(dead) < record["mounts"]:
            verdict = UNKNOWN
            reason = ("the writer fences only when all its %d mounts are stale; %d seen stale here"
                      % (record["mounts"], len(dead)))
        else:
            verdict, reason = DEAD, dead[0]["reason"]
    elif not mounts:
        verdict, reason = UNKNOWN, "no monitored storage to read heartbeats from"
    else:
        verdict = UNKNOWN
        reason = "; ".join([m["reason"] for m in per_mount])
    result = {"verdict": verdict, "reason": reason, "guid": guid, "mounts": []}
    since_values = [m["since_progress"] for m in seen if m["since_progress"] is not None]
    result["since_progress"] = _fmt(since_values)
    for m in per_mount:
        item = {"mount": m["mount"], "verdict": m["verdict"], "reason": m["reason"],
                "since_progress": _fmt([m["since_progress"]])}
        record = m["record"]
        if record is not None:
            for key in _RECORD_STR:
                item[key] = str(record[key])
            item["seq"] = str(record["seq"])
            item["interval"] = repr(record["interval"])
            item["timeout"] = repr(record["timeout"])
            item["watchdog_timeout"] = repr(record["watchdog_timeout"])
            item["format"] = str(record["version"])
            item["writer_time"] = repr(record["time"])
        result["mounts"].append(item)
    if seen:
        result["timeout"] = repr(seen[0]["record"]["timeout"])
        result["interval"] = repr(seen[0]["record"]["interval"])
        result["watchdog_timeout"] = repr(max([m["record"]["watchdog_timeout"] for m in seen]))
    return ovm3_compat.xmlrpc_safe(result)


def _fmt(values):
    """The smallest of ``values`` (None ignored) as a string of seconds, or '' when there is none."""
    values = [v for v in values if v is not None]
    if not values:
        return ""
    return "%.3f" % min(values)


def load_state(path, boot, now):
    """The daemon's PeerBook from its state file if it is current, else (None, why).

    Current means: same boot and clock, and saved by the daemon within three of its intervals (+1 s).
    A daemon saves every interval even while its reads hang (the verdict then says "storage slow"), so
    a stale file means the daemon stopped or hung, not the storage.
    """
    try:
        text = ovm3_compat.read_file(path, 4 * 1024 * 1024)
    except (IOError, OSError):
        return None, "no state file %s (is the heartbeat daemon running?)" % path
    try:
        book, reader = PeerBook.from_text(text)
    except (ValueError, KeyError, IndexError):
        return None, "state file %s is malformed" % path
    if reader.get("clock") != ovm3_compat.monotonic_clock_name() or (boot and reader.get("boot_id") != boot):
        return None, "state file %s is from another boot or clock" % path
    max_age = 3 * book.interval + 1.0
    saved = _opt(reader.get("saved"))
    if saved is None:
        saved = book.updated
    if saved is None or now - saved > max_age or saved > now + 0.5:
        return None, "state file %s is stale (daemon stopped or hung)" % path
    return book, None


def state_path(state_dir):
    """Where the daemon keeps its PeerBook."""
    return os.path.join(state_dir, "peers.state")
