"""Part 3, memory: what decoding a 500-VM ``list_vms`` reply needs beyond the value it returns.

Each decoder (``reference``: the hardened lxml decoder, what runs without a C compiler; ``in use``:
``loads_response``, the C decoder when built) decodes the body the simulated agent serves (see part 2)
in a fresh process, the body read from a file first. The peak RSS (``VmHWM``, reset through
``/proc/self/clear_refs`` once the body is in memory) less the RSS before decoding, less the decoded
value's own size (``sys.getsizeof`` over the value's containers, keys and leaves, each object once), is
what decoding needed beyond its result; the row is the median of the runs, spread the extremes. "RSS
kept" is what the process still holds afterwards (freed memory the allocator did not give back).
"""
import json
import os
import subprocess
import sys
import tempfile

from bench import report

TARGET_REFERENCE_PEAK_OVER_BODY = 4.0

#: Run in a fresh process: argv = body file, decoder ("reference" or "in use"); prints JSON (KiB figures).
_MEMORY_PROBE = """
import json, sys
from ovm3 import wire
def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(rest.split()[0])
    return out
with open(sys.argv[1], "rb") as f:
    body = f.read()
decode = wire.decode_reference if sys.argv[2] == "reference" else wire.loads_response
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status()
value = decode(body)
after = status()
def deep_size(obj, seen):
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        size += sum(deep_size(v, seen) for v in obj)
    return size
print(json.dumps({"before_kib": before["VmRSS"], "after_kib": after["VmRSS"], "peak_kib": after["VmHWM"],
                  "value_bytes": deep_size(value, set())}))
"""


def memory_row(body, decoder, runs):
    """Peak RSS a decoder needs beyond its result, in a fresh process each run (median of ``runs``)."""
    from bench.simproc import REPO_ROOT

    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.NamedTemporaryFile(prefix="ovm3-bench-body-", suffix=".xml") as f:
        f.write(body)
        f.flush()
        samples = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, f.name, decoder], capture_output=True,
                                 text=True, timeout=120, env=env, check=True).stdout
            samples.append(json.loads(out))
    def extra(m):  # peak RSS over the RSS before decoding, less the decoded value's own size
        return (m["peak_kib"] - m["before_kib"]) * 1024 - m["value_bytes"]

    samples.sort(key=extra)
    m = samples[len(samples) // 2]
    ratios = [extra(s) / len(body) for s in samples]
    return {"decoder": decoder, "body_bytes": len(body), "value_bytes": m["value_bytes"],
            "value_mib": m["value_bytes"] / 1048576.0, "peak_extra_bytes": extra(m),
            "peak_extra_mib": extra(m) / 1048576.0, "peak_extra_over_body": extra(m) / len(body),
            "retained_mib": (m["after_kib"] - m["before_kib"]) / 1024.0,
            "spread": [min(ratios), max(ratios)], "spread_over_body": "%.2f-%.2f" % (min(ratios), max(ratios)),
            "runs": runs}


COLUMNS = [["decoder", "decoder", ""], ["body_bytes", "body bytes", "%d"],
           ["value_mib", "decoded value MiB", "%.1f"], ["peak_extra_mib", "peak beyond the value MiB", "%.1f"],
           ["peak_extra_over_body", "peak beyond the value / body", "%.2f"],
           ["spread_over_body", "spread (/ body)", ""], ["retained_mib", "RSS kept after decoding MiB", "%.1f"]]


def run(quick=False):
    from bench.parsing import served_bodies

    runs = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="ovm3-bench-mem-") as root:
        body = served_bodies(root)["list_vms"]
    rows = [memory_row(body, decoder, runs) for decoder in ("reference", "in use")]
    targets = [report.target("lxml reference decoder: peak RSS beyond the value / body (500-VM list_vms)",
                             rows[0]["peak_extra_over_body"], "<=", TARGET_REFERENCE_PEAK_OVER_BODY,
                             spread=rows[0]["spread"])]
    return {
        "key": "memory",
        "title": "3. Memory (decoding a 500-VM list_vms, fresh process each run)",
        "status": "measured",
        "method": __doc__.split("\n", 1)[1].strip(),
        "columns": COLUMNS,
        "rows": rows,
        "targets": targets,
    }
