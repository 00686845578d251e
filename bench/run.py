"""Run the benchmarks and write ``bench/results/results.json`` and ``report.md``.

Usage: ``python -m bench.run [--quick] [--only call_cost,parsing,...] [--out DIR]``

``--quick`` takes few samples (for a smoke test of the harness; its figures are not worth quoting).
A part that fails or whose dependency is missing stays in the report as "failed"/"not measured" with
the reason; the exit code is 0 when the report was written.
"""
import argparse
import importlib
import os
import sys
import time
import traceback

from bench import fixes, report
from bench.measure import load_average, machine

#: key -> (module, title); the order of the report.
PARTS = (
    ("call_cost", "bench.callcost", "1. Call cost"),
    ("parsing", "bench.parsing", "2. Parsing"),
    ("memory", "bench.memory", "3. Memory"),
    ("fleet", "bench.fleet", "4. Fleet poll"),
    ("fleet_sweep", "bench.sweep", "4b. Fleet sweep by call shape"),
    ("startup", "bench.startup", "5. CLI start-up"),
    ("heartbeat", "bench.heartbeat", "6. Heartbeat detection latency"),
    ("deploy", "bench.deploy", "7. Deploy"),
)
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def run_part(key, module, title, quick):
    """One part's result dict; failures are reported, never raised."""
    started = time.perf_counter()
    try:
        mod = importlib.import_module(module)
        part = mod.run(quick=quick)
    except Exception as e:  # noqa: BLE001 - one broken part must not lose the others' figures
        traceback.print_exc()
        part = report.not_measured(key, title, "%s: %s" % (type(e).__name__, e))
        part["status"] = "failed"
    part.setdefault("key", key)
    part.setdefault("title", title)
    part["seconds"] = round(time.perf_counter() - started, 1)
    return part


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few samples: checks the harness, not the code")
    ap.add_argument("--only", default="", help="comma-separated part keys (%s)" % ",".join(k for k, _, _ in PARTS))
    ap.add_argument("--out", default=DEFAULT_OUT, help="directory for results.json and report.md")
    args = ap.parse_args(argv)
    wanted = [k for k in args.only.split(",") if k]
    unknown = set(wanted) - {k for k, _, _ in PARTS}
    if unknown:
        ap.error("unknown part(s): %s" % ", ".join(sorted(unknown)))
    started = time.perf_counter()
    info = machine()
    info["load_before"] = load_average()
    parts = []
    for key, module, title in PARTS:
        if wanted and key not in wanted:
            continue
        print("bench: %s ..." % title, file=sys.stderr, flush=True)
        part = run_part(key, module, title, args.quick)
        print("bench: %s: %s in %.0f s" % (title, part["status"], part["seconds"]), file=sys.stderr, flush=True)
        parts.append(part)
    info["load_after"] = load_average()
    doc = report.build(info, parts, fixes.FIXES, args.quick, time.perf_counter() - started)
    for path in report.write(doc, args.out):
        print("bench: wrote %s" % path, file=sys.stderr)
    s = doc["summary"]
    print("bench: %d of %d targets met%s" % (s["met"], s["targets"],
                                            "; missed: " + "; ".join(s["missed"]) if s["missed"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
