"""Printing for every command: aligned tables for people, JSON for machines (``--json``)."""
import dataclasses
import json

import click


def to_plain(value):
    """Dataclasses, tuples and bytes to JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_plain(v) for k, v in dataclasses.asdict(value).items()}
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
