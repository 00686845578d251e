"""Printing for every command: aligned tables for people, JSON for machines (``--json``).

Text for people goes through :func:`printable` (agents and command bodies can carry control
characters: a ``\r`` would overwrite the line, ESC or CSI sequences would drive the terminal);
``--json`` output stays exact, JSON escapes them itself.
"""
import dataclasses
import functools
import json
import re

import click

# C0 controls, DEL, C1 controls (U+0080-U+009F, e.g. the one-character CSI U+009B), and the
# bidirectional overrides and isolates that reorder what a terminal shows.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m):
    c = m.group(0)
    return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(c) or (
        "\\x%02x" % ord(c) if ord(c) < 0x100 else "\\u%04x" % ord(c))


def printable(text, keep_newlines=False):
    """``text`` safe for a terminal: control characters become visible escapes (``\r`` -> ``\\r``).

    ``keep_newlines``: multi-line output of our own keeps its line breaks."""
    text = text if isinstance(text, str) else str(text)
    return (_UNPRINTABLE_BUT_NEWLINE if keep_newlines else _UNPRINTABLE).sub(_escape, text)


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
        cells.append(["" if get(c) is None else printable(get(c)) for c in columns])
    shown = [] if no_headers else [headers]
    widths = [max([0 if no_headers else len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    if width:
        widths = _shrink(widths, width)
    lines = ["  ".join(_cut(v, w).ljust(w) for v, w in zip(row, widths)).rstrip() for row in shown + cells]
    return "\n".join(lines)


def key_values(pairs):
    """Render ``[(key, value), ...]`` as aligned ``key: value`` lines."""
    pairs = [(k, "" if v is None else printable(v)) for k, v in pairs]
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join("%s  %s" % ((k + ":").ljust(width + 1), v) for k, v in pairs)


def show(settings, value, human):
    """Print ``value`` as JSON with --json, else ``human(value)`` (a string)."""
    if settings.json:
        emit_json(value)
    else:
        click.echo(printable(human(value), keep_newlines=True))
