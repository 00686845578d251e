"""Compare two API snapshots: findings with stable ids and levels, rendered as text, JSON or Markdown.

Every finding has an ``id`` naming its kind (the table below; ids and levels never change meaning), a
``level`` (ERR breaks existing callers, WARN may change behaviour, INFO is compatible), the service,
the parameter when there is one, a ``key`` (``id:service[:param]``) that identifies the same finding in
two runs, a sentence, and the old/new values shown.

The agent's wire is XML-RPC: arguments travel by position only, never by name. So a parameter that keeps
its name but moves position is a break (``param-reordered``), keyword-only parameters and ``**kwargs``
are unreachable and not compared, and when either side does not know a parameter's real name
(``name_known`` false, synthetic snapshots) parameters are matched by position instead of by name.
"""
import json
from dataclasses import asdict, dataclass
from typing import Optional

ERR, WARN, INFO = "ERR", "WARN", "INFO"
LEVELS = (ERR, WARN, INFO)  # most severe first

#: Finding id -> (level, what it means). Stable: tools may match on these ids.
KINDS = {
    "service-removed": (ERR, "the new agent no longer exposes the service"),
    "param-added-required": (ERR, "a new parameter without default: old calls miss an argument"),
    "param-removed": (ERR, "a parameter is gone: old calls pass one argument too many"),
    "param-renamed": (ERR, "a parameter at the same position has a new name (its meaning changed)"),
    "param-reordered": (ERR, "a parameter kept its name but moved position (the wire is positional)"),
    "kind-changed": (ERR, "a parameter's type changed, e.g. positional strings became one struct"),
    "param-now-required": (ERR, "a parameter lost its default"),
    "varargs-removed": (ERR, "the service no longer accepts extra positional arguments"),
    "service-unreadable": (WARN, "the service could not be described on one side; not compared"),
    "module-unreadable": (WARN, "a service module failed during the dump; its services are missing"),
    "default-changed": (WARN, "a parameter's default value changed"),
    "param-added-optional": (INFO, "a new parameter with a default, appended"),
    "param-now-optional": (INFO, "a parameter gained a default"),
    "varargs-added": (INFO, "the service now accepts extra positional arguments"),
    "service-added": (INFO, "the new agent exposes a new service"),
    "module-moved": (INFO, "the service is served by another agent module or class"),
}
DIFF_SCHEMA = "ovm3-api-diff"
DIFF_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Finding:
    """One difference between two snapshots."""

    id: str
    service: str
    text: str
    param: Optional[str] = None
    old: Optional[str] = None
    new: Optional[str] = None

    @property
    def level(self):
        return KINDS[self.id][0]

    @property
    def key(self):
        return ":".join([self.id, self.service] + ([self.param] if self.param else []))

    def to_dict(self):
        d = asdict(self)
        d["level"] = self.level
        d["key"] = self.key
        return d


def level_rank(level):
    """0 for ERR, 1 for WARN, 2 for INFO; ValueError for anything else."""
    try:
        return LEVELS.index(level.upper())
    except (ValueError, AttributeError):
        raise ValueError("unknown level %r (one of %s)" % (level, ", ".join(LEVELS))) from None


def sort_findings(findings):
    return sorted(findings, key=lambda f: (level_rank(f.level), f.service, f.id, f.param or ""))


def diff(old, new):
    """Findings between two :class:`ovm3.tools.snapshot.Snapshot` objects, most severe first."""
    out = []
    for label, snap in (("old", old), ("new", new)):
        for broken in snap.errors:
            where = "%s.%s" % (broken.get("module") or "?", broken.get("class") or "?")
            out.append(Finding("module-unreadable", where, "%s snapshot: module %s failed: %s" % (
                label, where, broken.get("error")), new=broken.get("error")))
    for name in sorted(set(old.services) | set(new.services)):
        o, n = old.service(name), new.service(name)
        if n is None:
            out.append(Finding("service-removed", name, "%s was removed" % o.usage(), old=o.usage()))
        elif o is None:
            out.append(Finding("service-added", name, "%s was added" % n.usage(), new=n.usage()))
        else:
            out.extend(compare_service(o, n))
    return sort_findings(out)


def compare_service(o, n):
    """Findings for one service present on both sides."""
    name = o.name
    if o.error or n.error:
        side = "old" if o.error else "new"
        return [Finding("service-unreadable", name, "%s: the %s snapshot could not describe it (%s)" % (
            name, side, o.error or n.error), old=o.error, new=n.error)]
    out = []
    if o.module and n.module and (o.module, o.cls) != (n.module, n.cls):
        out.append(Finding("module-moved", name, "%s moved from %s to %s" % (name, o.location, n.location),
                           old=o.location, new=n.location))
    if o.varargs and not n.varargs:
        out.append(Finding("varargs-removed", name, "%s no longer takes *%s" % (name, o.varargs),
                           old="*" + o.varargs))
    elif n.varargs and not o.varargs:
        out.append(Finding("varargs-added", name, "%s now takes *%s" % (name, n.varargs),
                           new="*" + n.varargs))
    out.extend(compare_params(o, n))
    return out


def _all_named(params):
    return all(p.name_known for p in params)


def compare_params(o, n):
    """Parameter findings: matched by name when both sides know every name, else by position."""
    name = o.name
    old, new = o.params, n.params
    if _all_named(old) and _all_named(new):
        out = _by_name(name, old, new)
    else:
        out = _by_position(name, old, new)
    if len(old) != len(new) and any(f.id == "kind-changed" for f in out):
        # Several findings would describe one change of calling convention: report it once.
        olds = "(%s)" % ", ".join(p.show() for p in old)
        news = "(%s)" % ", ".join(p.show() for p in new)
        return [Finding("kind-changed", name, "%s arguments %s became %s" % (name, olds, news),
                        old=olds, new=news)]
    return out


def _by_name(name, old, new):
    out = []
    old_pos = {p.name: i for i, p in enumerate(old)}
    new_pos = {p.name: i for i, p in enumerate(new)}
    removed = [p for p in old if p.name not in new_pos]
    added = [p for p in new if p.name not in old_pos]
    added_at = {new_pos[p.name]: p for p in added}
    for r in removed:
        a = added_at.pop(old_pos[r.name], None)
        if a is None:
            out.append(Finding("param-removed", name, "%s: parameter %s (position %d) was removed" % (
                name, r.name, old_pos[r.name] + 1), param=r.name, old=r.show()))
        else:
            out.extend(_pair(name, r, a, old_pos[r.name]))
    for pos in sorted(added_at):
        out.append(_added(name, added_at[pos], pos, len(old)))
    for p in old:
        if p.name in new_pos:
            i, j = old_pos[p.name], new_pos[p.name]
            q = new[j]
            if i != j:
                text = "%s: parameter %s moved from position %d to %d" % (name, p.name, i + 1, j + 1)
                out.append(Finding("param-reordered", name, text, param=p.name,
                                   old=str(i + 1), new=str(j + 1)))
            out.extend(_same_param(name, p, q))
    return out


def _by_position(name, old, new):
    out = []
    for i in range(min(len(old), len(new))):
        out.extend(_pair(name, old[i], new[i], i))
    for i in range(len(new), len(old)):
        p = old[i]
        text = "%s: parameter %d (%s) was removed" % (name, i + 1, p.show())
        out.append(Finding("param-removed", name, text, param=p.name, old=p.show()))
    for i in range(len(old), len(new)):
        out.append(_added(name, new[i], i, len(old)))
    return out


def _pair(name, p, q, pos):
    """Two parameters at the same position."""
    if p.name_known and q.name_known and p.name != q.name:
        if _types_differ(p, q):
            return [_kind(name, p, q, pos)]
        return [Finding("param-renamed", name, "%s: parameter %d was renamed from %s to %s" % (
            name, pos + 1, p.name, q.name), param=p.name, old=p.show(), new=q.show())] + _defaults(name, p, q)
    return _same_param(name, p, q, pos)


def _same_param(name, p, q, pos=None):
    if _types_differ(p, q):
        return [_kind(name, p, q, pos)]
    return _defaults(name, p, q)


def _kind(name, p, q, pos):
    where = p.name if pos is None else "%d (%s)" % (pos + 1, p.name)
    return Finding("kind-changed", name, "%s: parameter %s changed type from %s to %s" % (
        name, where, p.type, q.type), param=p.name, old=p.show(), new=q.show())


def _types_differ(p, q):
    return bool(p.type and q.type and "any" not in (p.type, q.type) and p.type != q.type)


def _defaults(name, p, q):
    if p.required and q.required:
        return []
    if p.required:
        return [Finding("param-now-optional", name, "%s: parameter %s now defaults to %s" % (
            name, q.name, q.default["repr"]), param=q.name, old=p.show(), new=q.show())]
    if q.required:
        return [Finding("param-now-required", name, "%s: parameter %s lost its default %s" % (
            name, p.name, p.default["repr"]), param=p.name, old=p.show(), new=q.show())]
    if _default_key(p, q) != _default_key(q, p):
        return [Finding("default-changed", name, "%s: default of %s changed from %s to %s" % (
            name, q.name, p.default["repr"], q.default["repr"]), param=q.name,
            old=p.default["repr"], new=q.default["repr"])]
    return []


def _default_key(p, other):
    """Compare by typed value when both sides carry one, else by type and repr."""
    d, e = p.default, other.default
    if "value" in d and "value" in e:
        return (d.get("type"), json.dumps(d["value"], sort_keys=True))
    text = d.get("repr") or ""
    if d.get("type") == "int":
        text = text.rstrip("lL")  # Python 2 long reprs end in L
    return (d.get("type"), text)


def _added(name, p, pos, old_len):
    if p.required:
        return Finding("param-added-required", name, "%s: new required parameter %s at position %d" % (
            name, p.show(), pos + 1), param=p.name, new=p.show())
    text = "%s: new optional parameter %s at position %d" % (name, p.show(), pos + 1)
    if pos < old_len:
        text += " (inserted: later arguments shift, see param-reordered)"
    return Finding("param-added-optional", name, text, param=p.name, new=p.show())


# ---- exit status ---------------------------------------------------------------------------------------

def exit_status(findings, fail_on=None):
    """3 when a finding at or above ``fail_on`` exists, else 0 (see README "Exit codes")."""
    if not fail_on:
        return 0
    limit = level_rank(fail_on)
    return 3 if any(level_rank(f.level) <= limit for f in findings) else 0


def summary(findings):
    counts = {level: 0 for level in LEVELS}
    for f in findings:
        counts[f.level] += 1
    return counts


# ---- formats --------------------------------------------------------------------------------------------

def _side(snap):
    return {"path": snap.path, "agent_version": snap.agent_version, "ovm_version": snap.ovm_version,
            "host": snap.host, "source": snap.source, "synthetic": snap.synthetic,
            "services": len(snap.services)}


def _title(snap):
    extra = " synthetic" if snap.synthetic else (" host %s" % snap.host if snap.host else "")
    return "%s (agent %s%s)" % (snap.label, snap.agent_version or "?", extra)


def to_json(old, new, findings):
    """The JSON report (schema ``ovm3-api-diff`` version 1, see README)."""
    counts = summary(findings)
    counts["total"] = len(findings)
    doc = {"schema": DIFF_SCHEMA, "schema_version": DIFF_SCHEMA_VERSION, "old": _side(old), "new": _side(new),
           "status": "findings" if findings else "clean", "summary": counts,
           "findings": [f.to_dict() for f in sort_findings(findings)]}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def to_text(old, new, findings):
    """Plain text grouped by level, most severe first."""
    lines = ["%s -> %s" % (_title(old), _title(new))]
    if not findings:
        lines.append("no changes: %d services compared" % len(set(old.services) | set(new.services)))
        return "\n".join(lines) + "\n"
    counts = summary(findings)
    for level in LEVELS:
        group = [f for f in sort_findings(findings) if f.level == level]
        if not group:
            continue
        lines.append("")
        lines.append("%s (%d)" % (level, len(group)))
        for f in group:
            lines.append("  [%s] %s" % (f.id, f.text))
    lines.append("")
    lines.append("%d ERR, %d WARN, %d INFO" % (counts[ERR], counts[WARN], counts[INFO]))
    return "\n".join(lines) + "\n"


_MD_TITLES = {ERR: "Breaking (ERR)", WARN: "Behaviour changes (WARN)", INFO: "Compatible additions (INFO)"}


def _md(text):
    for ch in "\\`*_[]<>|~":
        text = text.replace(ch, "\\" + ch)
    return text


def to_markdown(old, new, findings):
    """Markdown for a changelog: one section per level, one bullet per finding."""
    versions = (_md(old.agent_version or "?"), _md(new.agent_version or "?"))
    lines = ["## API changes: agent %s to %s" % versions,
             "", "Compared `%s` with `%s`." % (old.label.replace("`", "'"), new.label.replace("`", "'"))]
    if not findings:
        lines += ["", "No changes."]
        return "\n".join(lines) + "\n"
    for level in LEVELS:
        group = [f for f in sort_findings(findings) if f.level == level]
        if not group:
            continue
        lines += ["", "### %s" % _MD_TITLES[level], ""]
        for f in group:
            lines.append("- %s (`%s`)" % (_md(f.text), f.id))
    return "\n".join(lines) + "\n"


FORMATS = {"text": to_text, "json": to_json, "markdown": to_markdown}


def render(fmt, old, new, findings):
    return FORMATS[fmt](old, new, findings)

