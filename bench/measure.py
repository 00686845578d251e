"""Timing helpers: CPU and wall time of a block, distributions, and the machine the figures come from."""
import datetime
import os
import platform
import statistics
import sys
import time


def distribution(samples, unit_scale=1.0):
    """``{n, min, median, p90, p99, max, mean}`` of ``samples`` multiplied by ``unit_scale``."""
    xs = sorted(x * unit_scale for x in samples)
    if not xs:
        return {"n": 0}

    def pct(p):
        return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]

    return {"n": len(xs), "min": xs[0], "median": statistics.median(xs), "p90": pct(0.90), "p99": pct(0.99),
            "max": xs[-1], "mean": statistics.fmean(xs)}


def timed_calls(fn, count):
    """Run ``fn()`` ``count`` times; return (cpu seconds, wall seconds, [per-call wall seconds])."""
    per_call = []
    append = per_call.append
    clock = time.perf_counter
    cpu0, wall0 = time.process_time(), clock()
    for _ in range(count):
        t = clock()
        fn()
        append(clock() - t)
    return time.process_time() - cpu0, clock() - wall0, per_call


def runs_of(fn, repeat, number):
    """Per-call CPU seconds of ``fn()`` over ``repeat`` runs of ``number`` calls: ``{median, min, max,
    runs, calls_per_run}``. Figures are judged on the median; min and max are the spread."""
    runs = []
    for _ in range(repeat):
        t = time.process_time()
        for _ in range(number):
            fn()
        runs.append((time.process_time() - t) / number)
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": repeat,
            "calls_per_run": number}


def spread(samples, unit_scale=1.0):
    """``{median, min, max, n}`` of ``samples`` times ``unit_scale``."""
    xs = [x * unit_scale for x in samples]
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def machine():
    """Where and when the figures were measured."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            mem_kb = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    import requests
    import urllib3

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 1048576.0, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "requests": requests.__version__,
        "urllib3": urllib3.__version__,
    }


def load_average():
    """The 1, 5 and 15 minute load averages (other work on the machine disturbs every figure)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
