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


def _table_options():
    """``(no_headers, width or None)`` from the running command's global options: the terminal's width
    when stdout is one (unless ``-o wide``), else no limit."""
    import shutil
    import sys

    ctx = click.get_current_context(silent=True)
    settings = ctx.find_root().obj if ctx is not None else None
    no_headers = bool(getattr(settings, "no_headers", False))
    if getattr(settings, "output", "table") == "wide" or not sys.stdout.isatty():
        return no_headers, None
    return no_headers, shutil.get_terminal_size().columns


def _shrink(widths, limit, minimum=8):
    """Narrow the widest columns (never below ``minimum``) until the row fits in ``limit`` characters."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > limit:
        i = max(range(len(widths)), key=lambda k: widths[k])
        if widths[i] <= minimum:
            break
        widths[i] -= 1
    return widths


def _cut(text, width):
    return text if len(text) <= width else text[:max(width - 1, 0)] + "~"


def table(rows, columns, headers=None, width=None, no_headers=None):
    """Render rows (dicts or objects) as an aligned text table.

    It fits ``width`` (default: the terminal's, when stdout is one and ``-o wide`` is not given) by
    cutting the widest columns, marking a cut value with ``~``; ``--no-headers`` leaves the header out.
    """
    if width is None and no_headers is None:
        no_headers, width = _table_options()
    headers = headers or [c.upper() for c in columns]
    cells = []
    for r in rows:
        get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k, ""))
        cells.append(["" if get(c) is None else str(get(c)) for c in columns])
    shown = [] if no_headers else [headers]
    widths = [max([0 if no_headers else len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    if width:
        widths = _shrink(widths, width)
    lines = ["  ".join(_cut(v, w).ljust(w) for v, w in zip(row, widths)).rstrip() for row in shown + cells]
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
