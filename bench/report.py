"""The benchmark report: one JSON file (every figure) and one Markdown file (tables for people).

JSON schema ``ovm3-bench`` version 1::

    {"schema": "ovm3-bench", "schema_version": 1, "machine": {date, cpu_model, cpus, ...},
     "quick": bool, "duration_s": float,
     "summary": {"targets": n, "met": n, "missed": [target names], "not_measured": [part keys]},
     "parts": [{"key", "title", "status": "measured" | "not measured" | "failed", "reason" (when not
                measured or failed), "method", "columns": [[key, header, format]], "rows": [{...}],
                "targets": [{"name", "value" (a median), "limit", "op", "met", "unit"?, "spread"?: [lo, hi]}],
                "notes": [str]}],
     "fixes": [{"what", "where", "cause", "before", "after"}]}
"""
import json
import os

SCHEMA = "ovm3-bench"
SCHEMA_VERSION = 1
PART_STATUSES = ("measured", "not measured", "failed")


_OPS = {"<": lambda v, lim: v < lim, "<=": lambda v, lim: v <= lim, ">=": lambda v, lim: v >= lim,
        ">": lambda v, lim: v > lim}


def target(name, value, op, limit, unit=None, spread=None):
    """One target, judged here and only here: ``met`` is ``value op limit`` with the very ``limit``
    the report shows (no hidden slack). ``value`` is a median; ``spread`` (``[low, high]``, the
    fastest and slowest run) is shown beside it."""
    t = {"name": name, "value": value, "op": op, "limit": limit, "met": bool(_OPS[op](value, limit))}
    if unit:
        t["unit"] = unit
    if spread is not None:
        t["spread"] = [min(spread), max(spread)]
    return t


def not_measured(key, title, reason):
    """A part that could not run (a missing dependency): kept in the report with the reason."""
    return {"key": key, "title": title, "status": "not measured", "reason": reason, "rows": [], "targets": []}


def build(machine, parts, fixes, quick, duration):
    """The JSON document (a dict) of one run."""
    targets = [t for p in parts for t in p.get("targets", [])]
    summary = {
        "targets": len(targets),
        "met": sum(1 for t in targets if t["met"]),
        "missed": [t["name"] for t in targets if not t["met"]],
        "not_measured": [p["key"] for p in parts if p["status"] != "measured"],
    }
    for p in parts:
        if p.get("status") not in PART_STATUSES:
            raise ValueError("part %s has status %r" % (p.get("key"), p.get("status")))
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "machine": machine, "quick": bool(quick),
            "duration_s": round(duration, 1), "summary": summary, "parts": parts, "fixes": list(fixes)}


def _get(row, dotted):
    value = row
    for k in dotted.split("."):
        if not isinstance(value, dict) or k not in value:
            return None
        value = value[k]
    return value


def _cell(value, fmt):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if fmt and isinstance(value, (int, float)):
        return fmt % value
    return str(value)


def _table(columns, rows):
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(_get(row, k), f) for k, _, f in columns) + " |")
    return lines


def _value(t):
    unit = t.get("unit", "")
    return ("%.3g %s" % (t["value"], unit)).strip() if unit else "%.2fx" % t["value"]


def _spread(t):
    if not t.get("spread"):
        return ""
    lo, hi = t["spread"]
    return "%s-%s" % (_value(dict(t, value=lo)), _value(dict(t, value=hi)))


def markdown(doc):
    """The Markdown report of a JSON document made by :func:`build`."""
    m = doc["machine"]
    s = doc["summary"]
    out = ["# ovm3 benchmarks", "",
           "Measured %s on %s (%d cores, %.1f GiB), Linux %s, Python %s, requests %s, urllib3 %s%s." % (
               m["date"], m["cpu_model"], m["cpus"], m["memory_gib"], m["kernel"], m["python"], m["requests"],
               m["urllib3"], " (quick run: too few samples to quote)" if doc["quick"] else ""),
           "Load average (1/5/15 min) before %s, after %s: other work on this machine during the run "
           "inflates CPU figures and wall/CPU ratios." % (m.get("load_before"), m.get("load_after")),
           "Rerun with `make bench` (`.venv/bin/python -m bench.run`); run time %.0f s." % doc["duration_s"], "",
           "## Targets", "",
           "%d of %d targets met." % (s["met"], s["targets"]), "",
           "Every target is judged on the median of its runs, against the limit shown (no hidden slack); "
           "spread is the fastest and the slowest run.", "",
           "| part | target | median | spread | limit | met |", "|---|---|---|---|---|---|"]
    for p in doc["parts"]:
        for t in p.get("targets", []):
            out.append("| %s | %s | %s | %s | %s %s | %s |" % (p["key"], t["name"], _value(t), _spread(t), t["op"],
                                                                _value(dict(t, value=t["limit"])),
                                                                "yes" if t["met"] else "**no**"))
        if p["status"] != "measured":
            out.append("| %s | (%s) | %s: %s | | | |" % (p["key"], p["title"], p["status"], p.get("reason", "")))
    for p in doc["parts"]:
        out += ["", "## " + p["title"], ""]
        if p["status"] != "measured":
            out += ["**%s**: %s" % (p["status"], p.get("reason", "")), ""]
            continue
        if p.get("method"):
            out += ["Method: " + p["method"], ""]
        if p.get("columns") and p.get("rows"):
            out += _table(p["columns"], p["rows"]) + [""]
        for note in p.get("notes", []):
            out += ["- " + note]
    if doc["fixes"]:
        out += ["", "## What was changed after profiling", ""]
        for f in doc["fixes"]:
            out += ["- **%s** (`%s`). Cause: %s Before: %s. After: %s." % (
                f["what"], f["where"], f["cause"], f["before"], f["after"])]
    return "\n".join(out).rstrip() + "\n"


def write(doc, directory):
    """Write ``results.json`` and ``report.md`` into ``directory`` (atomically); return their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, text in (("results.json", json.dumps(doc, indent=1, sort_keys=True) + "\n"),
                       ("report.md", markdown(doc))):
        path = os.path.join(directory, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths
