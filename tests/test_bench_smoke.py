"""The benchmark harness's report writer and its simulator process (behaviour only, never speed)."""
import json

import pytest

from bench import report
from bench.simproc import SimProcess


def _part(met=True, status="measured"):
    return {"key": "demo", "title": "0. Demo", "status": status, "method": "count things",
            "columns": [["name", "name", ""], ["ms", "ms", "%.2f"], ["extra.p90", "p90", "%.1f"]],
            "rows": [{"name": "a", "ms": 1.234, "extra": {"p90": 7.0}}, {"name": "b", "ms": None}],
            "targets": [{"name": "a is fast", "value": 1.234, "unit": "ms", "limit": 2.0, "op": "<", "met": met,
                         "spread": [1.1, 1.5]}]}


MACHINE = {"date": "2026-01-01 00:00 UTC", "cpu_model": "cpu", "cpus": 2, "memory_gib": 4.0, "kernel": "6",
           "python": "3.11", "requests": "2", "urllib3": "2"}


def test_report_json_and_markdown(tmp_path):
    fixes = [{"what": "w", "where": "f.py", "cause": "c.", "before": "1 ms", "after": "0.5 ms"}]
    parts = [_part(met=False), report.not_measured("gone", "9. Gone", "no such helper")]
    doc = report.build(MACHINE, parts, fixes, quick=True, duration=3.21)
    json_path, md_path = report.write(doc, str(tmp_path / "out"))

    data = json.loads(open(json_path).read())
    assert data["schema"] == "ovm3-bench" and data["schema_version"] == 1
    assert data["summary"] == {"targets": 1, "met": 0, "missed": ["a is fast"], "not_measured": ["gone"]}
    assert data["parts"][1]["status"] == "not measured" and data["parts"][1]["reason"] == "no such helper"
    assert data["quick"] is True and data["duration_s"] == 3.2

    md = open(md_path).read()
    assert "0 of 1 targets met" in md
    assert "| demo | a is fast | 1.23 ms | 1.1 ms-1.5 ms | < 2 ms | **no** |" in md
    assert "| a | 1.23 | 7.0 |" in md and "| b |  |  |" in md
    assert "not measured**: no such helper" in md
    assert "w** (`f.py`). Cause: c. Before: 1 ms. After: 0.5 ms." in md
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        report.build(MACHINE, [_part(status="skipped")], [], quick=False, duration=1.0)


def test_simulator_process_serves_seeded_hosts_and_reports_its_cpu():
    with SimProcess(count=2, fleet=True, vms_per_host=2, stats=True) as sim:
        assert len(sim.hosts) == 2 and all(len(h["vms"]) == 2 for h in sim.hosts)
        client = sim.client(1)
        assert client.call("echo", "ping") == "ping"
        stats = client.call("ovs_domU_stats", sim.hosts[1]["vms"][0])
        assert stats["vcpus"] == "2" and float(stats["cputime"]) >= 10.0
        assert client.call("ovs_dom0_stats", "xenbr0")["total"].isdigit()
        first = sim.cpu()
        assert first > 0 and sim.cpu() >= first
        client.close()
    assert sim.proc is None


def test_fleet_sizes_and_sweepers_are_swept_in_interleaved_rounds(monkeypatch):
    from bench import fleet

    monkeypatch.setattr(fleet, "ROUND_S", 0.0)  # one sweep per sweeper and round: the harness, not figures
    order = []
    sweep = fleet.Sweeper.timed_sweep
    monkeypatch.setattr(fleet.Sweeper, "timed_sweep", lambda self: order.append((self.n, self.name)) or sweep(self))
    rows = fleet.measure((1, 2), rounds=3, tls=False)
    names = [(1, "ovm3"), (1, "stdlib"), (2, "ovm3"), (2, "stdlib")]
    assert [(r["hosts"], r["client"]) for r in rows] == names
    per_host = fleet.VMS_PER_HOST + 1
    assert [r["calls"] for r in rows] == [per_host, per_host, 2 * per_host, 2 * per_host]
    assert [r["sweeps"] for r in rows] == [3] * 4 and all(len(r["round_walls_s"]) == 3 for r in rows)
    # A cold sweep and a probe sweep each, then rounds rotate the order.
    assert order[:8] == [n for n in names for _ in (0, 1)]
    assert order[8:] == names + names[1:] + names[:1] + names[2:] + names[:2]
    assert all(r["wall_s"] > 0 and r["cold_s"] > 0 and r["scheme"] == "http" for r in rows)
    assert [r["over_stdlib"] for r in rows if r["client"] == "stdlib"] == [1.0, 1.0]
    by = {(r["hosts"], r["client"]): r for r in rows}
    t = fleet.over_stdlib_target(by, 2)
    assert t["limit"] == fleet.TARGET_OVER_STDLIB and t["met"] == (t["value"] <= t["limit"])


def test_a_target_is_met_only_against_the_limit_it_shows():
    # The old growth row said "limit <= 1.00x, met" at 1.07x: met must come from the very limit shown.
    assert report.target("g", 1.07, "<=", 1.0)["met"] is False
    assert report.target("g", 1.07, "<=", 1.1)["met"] is True
    assert report.target("m", 2.5, ">=", 2.5)["met"] is True and report.target("m", 2.49, ">=", 2.5)["met"] is False
    assert report.target("w", 2.0, "<", 2.0)["met"] is False
    t = report.target("r", 1.2, "<=", 1.5, spread=[1.4, 1.1, 1.3])
    assert t["spread"] == [1.1, 1.4] and "unit" not in t


def test_every_call_cost_client_makes_its_call():
    from bench import callcost

    with SimProcess(count=1) as sim:
        for wire, args in callcost.METHODS:
            clients, closers = callcost._clients(sim, wire, args)
            assert {"ovm3", "xmlrpc.client", "urllib3 pool", "http.client floor"} <= set(clients)
            for ours, theirs in callcost.PAIRS[wire]:
                assert ours in clients and theirs in clients
            for call in clients.values():
                call()
                call()  # keep-alive: the second call reuses the connection
            for close in closers:
                close()


def test_memory_probe_separates_the_value_from_what_decoding_needed():
    from bench import memory
    from ovm3.wire import dumps_response

    body = dumps_response([{"name": "vm%d" % i, "disks": ["a" * 50] * 4} for i in range(2000)])
    for decoder in ("reference", "in use"):
        row = memory.memory_row(body, decoder, runs=1)
        assert row["body_bytes"] == len(body) and row["value_bytes"] > 2000 * 100
        assert row["peak_extra_over_body"] == row["peak_extra_bytes"] / len(body)


def test_import_times_are_read_from_python_x_importtime():
    import sys

    from bench import startup

    total, top = startup.import_times([sys.executable, "-c", "import json"], None, top=1000)
    assert total > 0 and any(name == "json" for _, name in top)


def test_stamped_lines_catch_the_wanted_line_as_it_arrives():
    import subprocess
    import sys
    import time

    from bench.heartbeat import _StampedLines

    proc = subprocess.Popen([sys.executable, "-c", "import sys, time; print('a', file=sys.stderr, flush=True);"
                             " time.sleep(0.3); print('FENCING this host', file=sys.stderr, flush=True)"],
                            stderr=subprocess.PIPE)
    started = time.monotonic()
    lines = _StampedLines(proc.stderr, "FENCING this host")
    assert lines.seen.wait(30)
    proc.wait(30)
    assert lines.at[0] - started >= 0.3 and lines.lines[0].strip() == "a"


def test_parsing_floors_of_a_document_reply_are_measured():
    from bench import parsing

    floors = parsing.document_floors("<?xml version='1.0'?><a><b>1</b></a>", repeat=2, number=3)
    assert set(floors) == {"expat_no_handlers_ms", "lxml_tree_ms"} and all(v > 0 for v in floors.values())
