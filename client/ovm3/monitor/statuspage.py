"""The fleet status page the exporter serves at ``/``: read-only, one self-contained HTML file.

No external assets: style and script are inline, allowed by their SHA-256 in the Content-Security-Policy
(nothing else may run or load; the only connection allowed is back to ``status.json`` here). The script
refreshes the table from ``status.json`` every few seconds without reloading the page, and writes agent
text with ``textContent`` only (a VM or host name is data, never markup). A narrow screen (a phone) gets
one card per host instead of a wide table.
"""

import base64
import hashlib

#: Seconds a status.json answer may reuse the last scrape's results.
MAX_AGE = 5.0
REFRESH_MS = 5000

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;padding:1em;background:#fafafa;color:#222}
h1{font-size:1.2em;margin:0 0 .5em}
#stamp{color:#666;font-size:.85em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:.35em .5em;border-bottom:1px solid #ddd;text-align:left;font-size:.9em}
tr.down td{background:#fde8e8}
tr.up td.state{color:#17692b;font-weight:bold}tr.down td.state{color:#a11;font-weight:bold}
@media (max-width:600px){
 thead{display:none} table,tbody,tr,td{display:block;width:auto}
 tr{margin:0 0 .8em;border:1px solid #ccc;border-radius:4px;background:#fff}
 td{border:none;padding:.2em .6em} td::before{content:attr(data-label) ": ";font-weight:bold;color:#555}
}
"""

_COLUMNS = (("host", "Host"), ("state", "State"), ("version", "Agent"), ("module", "Module"),
            ("heartbeat", "Heartbeat"), ("vms", "VMs"), ("storage", "Storage"), ("error", "Error"))

_SCRIPT = """
"use strict";
var COLUMNS = %(columns)s;
function cell(row, key, label, text) {
  var td = document.createElement("td");
  td.setAttribute("data-label", label);
  td.className = key;
  td.textContent = text;
  row.appendChild(td);
}
function render(data) {
  var body = document.getElementById("hosts");
  var rows = document.createDocumentFragment();
  data.hosts.forEach(function (h) {
    var tr = document.createElement("tr");
    tr.className = h.up ? "up" : "down";
    tr.setAttribute("data-host", h.host);
    COLUMNS.forEach(function (c) { cell(tr, c[0], c[1], h.cells[c[0]]); });
    rows.appendChild(tr);
  });
  while (body.firstChild) { body.removeChild(body.firstChild); }
  body.appendChild(rows);
  document.getElementById("stamp").textContent = "updated " + new Date().toLocaleTimeString() +
    " - " + data.up + " of " + data.hosts.length + " hosts up";
}
function refresh() {
  fetch("status.json", {cache: "no-store", credentials: "same-origin"})
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(render)
    .catch(function (e) { document.getElementById("stamp").textContent = "refresh failed: " + e.message; });
}
refresh();
setInterval(refresh, %(refresh)d);
"""


def _columns_json():
    import json

    return json.dumps([list(c) for c in _COLUMNS])


_SCRIPT_TEXT = _SCRIPT % {"columns": _columns_json(), "refresh": REFRESH_MS}
_HEAD = "".join("<th>%s</th>" % title for _, title in _COLUMNS)

PAGE = ("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ovm3 fleet status</title>
<style>%s</style></head>
<body><h1>ovm3 fleet status</h1><p id="stamp">loading...</p>
<table><thead><tr>%s</tr></thead><tbody id="hosts"></tbody></table>
<script>%s</script></body></html>
""" % (_STYLE, _HEAD, _SCRIPT_TEXT)).encode("utf-8")


def _sha(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CSP = ("default-src 'none'; script-src %s; style-src %s; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'" % (_sha(_SCRIPT_TEXT), _sha(_STYLE)))


def _gib(n):
    return "%.1f GiB" % (n / 1073741824.0)


def host_cells(result, module_version=None):
    """The page's cells for one :class:`ovm3.monitor.collector.HostResult` (all strings)."""
    s = result.stats
    cells = {"host": result.name, "state": "up" if result.up else "DOWN", "version": result.version or "-",
             "module": "-", "heartbeat": "-", "vms": "-", "storage": "-", "error": result.error}
    if not result.up or s is None:
        return cells
    if s.module_version:
        current = "" if not module_version else (" (current)" if s.module_version == module_version else " (outdated)")
        cells["module"] = s.module_version + current
    else:
        cells["module"] = "no get_host_stats (%s)" % s.source
    if s.heartbeat is not None:
        age = "" if s.heartbeat.since_progress is None else ", %.0fs ago" % s.heartbeat.since_progress
        cells["heartbeat"] = s.heartbeat.verdict + age
    guests = [d for d in s.domains if not d.is_dom0 and d.name != "Domain-0"]
    paused = len([d for d in guests if "p" in (d.state or "")])
    cells["vms"] = "%d running%s" % (len(guests) - paused, ", %d paused" % paused if paused else "")
    total = sum(r.total_bytes or 0 for r in s.storage)
    used = sum(r.used_bytes or 0 for r in s.storage)
    bad = len([r for r in s.storage if r.state != "ok"])
    if s.storage:
        cells["storage"] = "%s of %s used%s" % (_gib(used), _gib(total), ", %d unresponsive" % bad if bad else "")
    if s.errors:
        cells["error"] = "; ".join(s.errors)
    return cells


def status(results, module_version=None):
    """The ``status.json`` document."""
    hosts = [{"host": name, "up": results[name].up, "cells": host_cells(results[name], module_version)}
             for name in sorted(results)]
    return {"hosts": hosts, "up": len([h for h in hosts if h["up"]])}
