"""Printing for every command: aligned tables for people, JSON for machines (``--json``)."""
import dataclasses
import functools
import json

import click


@functools.lru_cache(maxsize=None)
def _properties(cls):
    """The public properties a (typed result) class offers, e.g. ``Mount.host``, in name order."""
    return tuple(sorted({name for klass in cls.__mro__ for name, attr in vars(klass).items()
                         if isinstance(attr, property) and not name.startswith("_")}))


def to_plain(value):
    """Dataclasses, tuples and bytes to JSON-ready data. A dataclass gives its fields and every public
    property (``Mount.host``, ``Mount.remote_dir``...): whatever a typed result offers, its JSON has."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in _properties(type(value)):
            out.setdefault(name, to_plain(getattr(value, name)))
        return out
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "to_dict"):
        return to_plain(value.to_dict())
    return value


def emit_json(value):
    click.echo(json.dumps(to_plain(value), indent=2, sort_keys=True, default=str))


def table(rows, columns, headers=None):
    """Render rows (dicts or objects) as an aligned text table."""
    headers = headers or [c.upper() for c in columns]
    cells = []
    for r in rows:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k, ""))
        cells.append(["" if get(c) is None else str(get(c)) for c in columns])
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def key_values(pairs):
    """Render ``[(key, value), ...]`` as aligned ``key: value`` lines."""
    pairs = [(k, "" if v is None else v) for k, v in pairs]
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join("%s  %s" % ((k + ":").ljust(width + 1), v) for k, v in pairs)


def show(settings, value, human):
    """Print ``value`` as JSON with --json, else ``human(value)`` (a string)."""
    if settings.json:
        emit_json(value)
    else:
        click.echo(human(value))
