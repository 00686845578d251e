"""Part 5, CLI start-up: what an operator waits for, each command a fresh process.

One simulated agent (HTTPS, 3 running VMs) in its own process. In interleaved rounds (the order rotating
each round) these run as processes, wall time from ``subprocess.run`` to exit:

* ``ovm3 vm list``: the installed console script, ``--url`` and ``--fingerprint`` given, the password in
  ``OVM3_PASSWORD``;
* ``ovm3 --help``: the command list (it must not import every command to build it);
* ``stdlib script``: three lines of ``xmlrpc.client`` making the same ``list_vms`` call (the simulator's
  certificate as CA) and printing the names;
* ``python -c pass``: the interpreter alone, the floor of any of them.

A row shows the median with the fastest and slowest run; the targets divide, round by round, the two
commands' times of the same round and are judged on the median of those ratios. ``-X importtime`` of
``ovm3 --help`` and of ``ovm3 vm list`` (their largest cumulative imports) is in the notes.
"""
import os
import statistics
import subprocess
import sys
import time

from bench import report
from bench.simproc import SimProcess

TARGET_VM_LIST_OVER_STDLIB = 2.5
TARGET_HELP_OVER_VM_LIST = 1.0
COLUMNS = [["command", "command", ""], ["wall_ms", "wall ms (median)", "%.1f"], ["spread", "spread ms", ""],
           ["over_stdlib", "x stdlib script", "%.2f"], ["over_python", "x python -c pass", "%.2f"]]
_STDLIB_SCRIPT = """import os, ssl, sys, xmlrpc.client
proxy = xmlrpc.client.ServerProxy(sys.argv[1], context=ssl.create_default_context(cafile=sys.argv[2]))
print("\\n".join(vm["name"] for vm in proxy.list_vms()))
"""


def _ovm3():
    return os.path.join(os.path.dirname(sys.executable), "ovm3")


def commands(sim):
    """name -> (argv, env) for each process the part times."""
    h = sim.hosts[0]
    env = dict(os.environ, OVM3_PASSWORD=sim.password)
    env.pop("OVM3_URL", None)
    scheme, rest = h["url"].split("://", 1)
    url = "%s://%s:%s@%s/" % (scheme, sim.user, sim.password, rest)
    return {
        "ovm3 vm list": ([_ovm3(), "--url", h["url"], "--fingerprint", h["fingerprint"], "vm", "list"], env),
        "ovm3 --help": ([_ovm3(), "--help"], env),
        # the URL (with the password) travels in argv here only because the simulator's password is throwaway
        "stdlib script": ([sys.executable, "-c", _STDLIB_SCRIPT, url, sim.cert_file], env),
        "python -c pass": ([sys.executable, "-c", "pass"], env),
    }


def timed(argv, env):
    started = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - started
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (argv[0], r.returncode, r.stderr[-500:]))
    return wall, r.stdout


def import_times(argv, env, top=8):
    """The ``top`` largest cumulative imports (microseconds, module) of a command run with -X importtime."""
    if argv[0] == _ovm3():
        argv = [sys.executable, "-X", "importtime", "-m", "ovm3"] + argv[1:]
    else:
        argv = [argv[0], "-X", "importtime"] + argv[1:]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    rows, total = [], 0
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.strip()))
                if len(name) - len(name.lstrip()) == 1:  # a top-level import: nested ones are indented more
                    total += int(cumulative)
    return total, sorted(rows, reverse=True)[:top]


def measure(rounds, sim):
    cmds = commands(sim)
    names = list(cmds)
    out = {}
    for name in names:  # warm-up: page cache, .pyc files; and check the output
        out[name] = timed(*cmds[name])[1]
    if not out["ovm3 vm list"].strip() or sim.hosts[0]["vms"][0] not in out["ovm3 vm list"]:
        raise RuntimeError("ovm3 vm list printed no VM: %r" % out["ovm3 vm list"][:300])
    walls = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            walls[name].append(timed(*cmds[name])[0])
    return cmds, walls


def round_ratio_target(name, walls, a, b, limit):
    ratios = [x / y for x, y in zip(walls[a], walls[b])]
    return report.target(name, statistics.median(ratios), "<=", limit, spread=ratios)


def run(quick=False):
    rounds = 3 if quick else 11
    with SimProcess(count=1, tls=True, vms_per_host=3) as sim:
        cmds, walls = measure(rounds, sim)
        imports = {name: import_times(*cmds[name]) for name in ("ovm3 --help", "ovm3 vm list")}
    med = {n: statistics.median(w) for n, w in walls.items()}
    rows = [{"command": n, "wall_ms": med[n] * 1e3, "spread": "%.1f-%.1f" % (min(w) * 1e3, max(w) * 1e3),
             "walls_ms": [x * 1e3 for x in w], "over_stdlib": med[n] / med["stdlib script"],
             "over_python": med[n] / med["python -c pass"]} for n, w in walls.items()]
    targets = [
        round_ratio_target("ovm3 vm list / stdlib script (process wall time)", walls, "ovm3 vm list",
                           "stdlib script", TARGET_VM_LIST_OVER_STDLIB),
        round_ratio_target("ovm3 --help / ovm3 vm list (process wall time)", walls, "ovm3 --help", "ovm3 vm list",
                           TARGET_HELP_OVER_VM_LIST),
    ]
    notes = []
    for name, (total, top) in imports.items():
        notes.append("`python -X importtime` of `%s`: %.0f ms of imports in all; largest cumulative: %s." % (
            name, total / 1e3, ", ".join("%s %.1f ms" % (mod.strip(), us / 1e3) for us, mod in top)))
    return {
        "key": "startup",
        "title": "5. CLI start-up (each command a fresh process)",
        "status": "measured",
        "method": __doc__.split("\n", 1)[1].strip(),
        "settings": {"rounds": rounds},
        "columns": COLUMNS,
        "rows": rows,
        "targets": targets,
        "notes": notes,
        "import_times": {n: {"total_us": t, "top": top} for n, (t, top) in imports.items()},
    }
