"""Part 1, call cost: one simulated agent in its own process, one client thread, keep-alive connections.

For ``echo`` and ``discover_server`` over HTTP and HTTPS, these clients call the same server in the
same run, interleaved in rounds (the order rotates each round, so drift hits every client alike):

* ``ovm3``: ``AgentClient.call(wire, ...)`` (table check, encode, transport, decode; raw value);
* ``ovm3 typed`` (discover_server only): ``client.linux.discover_server()``, the same plus the parser;
* ``xmlrpc.client``: the standard library's ``ServerProxy`` (keep-alive ``Transport``);
* ``xmlrpc.client + ElementTree`` (discover_server only): the same plus ``ElementTree.fromstring`` of
  the XML document the reply carries and a read of every leaf (what a stdlib script does to type it);
* ``urllib3 pool``: ``HTTPConnectionPool.urlopen`` of a body built once, reply read, not decoded (the
  layer under requests, for reference);
* ``http.client floor``: a bare keep-alive ``http.client`` POST of a body built once, reply read, not
  decoded: no Python client can do less work per call.

Client CPU is ``time.process_time()`` of this process over a block of calls, divided by the calls;
server CPU is the simulator process's own ``process_time`` over the same block. A row shows the median
over the rounds, with the fastest and slowest round. The targets compare ours with the standard
library round by round (the same round, the same load): the value is the median of those ratios, the
spread their extremes. Wall time per call is the distribution over every call of every round.
"""
import base64
import http.client
import ssl
import statistics
import xml.etree.ElementTree as ElementTree
import xmlrpc.client

import urllib3

from bench import report
from bench.measure import distribution, timed_calls
from bench.simproc import SimProcess

TARGET_RATIO = 1.5
METHODS = (("echo", ("ping",)), ("discover_server", ()))
#: target name part -> (our client, the standard library's), per method.
PAIRS = {"echo": [("ovm3", "xmlrpc.client")],
         "discover_server": [("ovm3", "xmlrpc.client"), ("ovm3 typed", "xmlrpc.client + ElementTree")]}
COLUMNS = [["scheme", "scheme", ""], ["method", "method", ""], ["client", "client", ""],
           ["client_cpu_ms", "client CPU ms/call (median)", "%.3f"], ["cpu_spread", "spread (rounds)", ""],
           ["cpu_vs_xmlrpc", "x xmlrpc.client", "%.2f"], ["cpu_vs_floor", "x http.client floor", "%.2f"],
           ["server_cpu_ms", "server CPU ms/call", "%.3f"],
           ["wall_ms.median", "wall median ms", "%.3f"], ["wall_ms.p90", "wall p90 ms", "%.3f"],
           ["wall_ms.p99", "wall p99 ms", "%.3f"]]


def _xmlrpc_proxy(sim, url):
    scheme, rest = url.split("://", 1)
    full = "%s://%s:%s@%s/" % (scheme, sim.user, sim.password, rest)
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=sim.cert_file)  # the sim's certificate names 127.0.0.1
        return xmlrpc.client.ServerProxy(full, context=ctx, allow_none=True)
    return xmlrpc.client.ServerProxy(full, allow_none=True)


def _urllib3_pool(sim, url, fingerprint):
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    if url.startswith("https"):
        return urllib3.HTTPSConnectionPool(host, int(port), maxsize=1, cert_reqs="CERT_NONE",
                                           assert_fingerprint=fingerprint, assert_hostname=False)
    return urllib3.HTTPConnectionPool(host, int(port), maxsize=1)


def _http_client_floor(sim, url, body, headers):
    """A zero-argument callable: one keep-alive POST of ``body`` with bare http.client, reply read."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    if url.startswith("https"):
        conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=sim.cert_file))
    else:
        conn = http.client.HTTPConnection(host, int(port))

    def floor():
        conn.request("POST", "/", body, headers)
        r = conn.getresponse()
        if r.status != 200 or not r.read():
            raise RuntimeError("http.client floor: HTTP %d" % r.status)

    return floor, conn.close


def _read_leaves(root):
    """Every leaf's text of an ElementTree document, by tag (the stdlib's way to type a discover_* reply)."""
    return {el.tag: el.text for el in root.iter() if len(el) == 0}


def _clients(sim, wire, args):
    """name -> zero-argument callable doing one call."""
    from ovm3.wire import dumps_request

    h = sim.hosts[0]
    ours = sim.client(0)
    proxy = _xmlrpc_proxy(sim, h["url"])
    pool = _urllib3_pool(sim, h["url"], h["fingerprint"])
    body = dumps_request(wire, args)
    token = base64.b64encode(("%s:%s" % (sim.user, sim.password)).encode()).decode()
    headers = {"Content-Type": "text/xml", "Authorization": "Basic " + token}
    floor, close_floor = _http_client_floor(sim, h["url"], body, headers)

    def pool_call():
        r = pool.urlopen("POST", "/", body=body, headers=headers, retries=False, preload_content=True)
        if r.status != 200 or not r.data:
            raise RuntimeError("urllib3 pool: HTTP %d" % r.status)

    clients = {
        "ovm3": lambda: ours.call(wire, *args),
        "xmlrpc.client": lambda: getattr(proxy, wire)(*args),
        "urllib3 pool": pool_call,
        "http.client floor": floor,
    }
    if wire == "discover_server":
        clients["ovm3 typed"] = ours.linux.discover_server
        clients["xmlrpc.client + ElementTree"] = lambda: _read_leaves(
            ElementTree.fromstring(proxy.discover_server()))
    closers = [ours.close, pool.close, proxy("close"), close_floor]
    return clients, closers


def measure_scheme(tls, rounds, calls, warmup):
    rows = []
    with SimProcess(count=1, tls=tls) as sim:
        for wire, args in METHODS:
            clients, closers = _clients(sim, wire, args)
            names = list(clients)
            for name in names:
                for _ in range(warmup):
                    clients[name]()
            acc = {n: {"cpu": [], "srv": [], "walls": [], "wall": []} for n in names}
            for r in range(rounds):
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    srv0 = sim.cpu()
                    cpu, wall, per_call = timed_calls(clients[name], calls)
                    srv = sim.cpu() - srv0
                    a = acc[name]
                    a["cpu"].append(cpu / calls)
                    a["srv"].append(srv / calls)
                    a["wall"].append(wall / calls)
                    a["walls"].extend(per_call)
            for close in closers:
                close()
            for name in names:
                a = acc[name]
                rows.append({
                    "scheme": "https" if tls else "http", "method": wire, "client": name,
                    "calls": rounds * calls,
                    "client_cpu_ms": statistics.median(a["cpu"]) * 1e3,
                    "client_cpu_rounds_ms": [x * 1e3 for x in a["cpu"]],
                    "cpu_spread": "%.3f-%.3f" % (min(a["cpu"]) * 1e3, max(a["cpu"]) * 1e3),
                    "server_cpu_ms": statistics.median(a["srv"]) * 1e3,
                    "wall_ms": distribution(a["walls"], 1e3),
                })
    return rows


def call_cost_target(by, scheme, wire, ours, std):
    """Our client's CPU over the standard library's, round by round; judged on the median ratio."""
    ratios = [o / t for o, t in zip(by[(scheme, wire, ours)]["client_cpu_rounds_ms"],
                                    by[(scheme, wire, std)]["client_cpu_rounds_ms"])]
    return report.target("%s %s: %s client CPU / %s" % (scheme, wire, ours, std), statistics.median(ratios),
                         "<=", TARGET_RATIO, spread=ratios)


def run(quick=False):
    """The part's result dict (see :mod:`bench.report`)."""
    rounds, calls, warmup = (2, 30, 10) if quick else (9, 200, 100)
    rows = measure_scheme(False, rounds, calls, warmup) + measure_scheme(True, rounds, calls, warmup)
    by = {(r["scheme"], r["method"], r["client"]): r for r in rows}
    targets = []
    for scheme in ("http", "https"):
        for wire, _ in METHODS:
            std = by[(scheme, wire, "xmlrpc.client")]["client_cpu_ms"]
            floor = by[(scheme, wire, "http.client floor")]["client_cpu_ms"]
            for r in rows:
                if r["scheme"] == scheme and r["method"] == wire:
                    r["cpu_vs_xmlrpc"] = r["client_cpu_ms"] / std
                    r["cpu_vs_floor"] = r["client_cpu_ms"] / floor
            for ours, theirs in PAIRS[wire]:
                targets.append(call_cost_target(by, scheme, wire, ours, theirs))
    return {
        "key": "call_cost",
        "title": "1. Call cost (one agent in another process, loopback, one thread, keep-alive)",
        "status": "measured",
        "method": __doc__.split("\n", 1)[1].strip(),
        "settings": {"rounds": rounds, "calls_per_round": calls, "warmup": warmup},
        "columns": COLUMNS,
        "rows": rows,
        "targets": targets,
    }
