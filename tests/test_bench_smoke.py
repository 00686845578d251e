"""The benchmark harness's report writer and its simulator process (behaviour only, never speed)."""
import json

import pytest

from bench import report
from bench.simproc import SimProcess


def _part(met=True, status="measured"):
    return {"key": "demo", "title": "0. Demo", "status": status, "method": "count things",
            "columns": [["name", "name", ""], ["ms", "ms", "%.2f"], ["extra.p90", "p90", "%.1f"]],
            "rows": [{"name": "a", "ms": 1.234, "extra": {"p90": 7.0}}, {"name": "b", "ms": None}],
            "targets": [{"name": "a is fast", "value": 1.234, "unit": "ms", "limit": 2.0, "op": "<", "met": met}]}


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
    assert "| demo | a is fast | 1.23 ms | < 2 ms | **no** |" in md
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


def test_fleet_sizes_are_swept_in_interleaved_rounds(monkeypatch):
    from bench import fleet

    monkeypatch.setattr(fleet, "ROUND_S", 0.0)  # one sweep per size and round: the harness, not figures
    order = []
    sweep = fleet.Fleet.timed_sweep
    monkeypatch.setattr(fleet.Fleet, "timed_sweep", lambda self: order.append(self.n) or sweep(self))
    rows = fleet.measure((1, 2), rounds=3, tls=False)
    assert [r["hosts"] for r in rows] == [1, 2]
    assert [r["calls"] for r in rows] == [1 * (fleet.VMS_PER_HOST + 1), 2 * (fleet.VMS_PER_HOST + 1)]
    assert [r["sweeps"] for r in rows] == [3, 3]
    # After one probe sweep each, rounds rotate the order: 1 2 | 2 1 | 1 2.
    assert order == [1, 2, 1, 2, 2, 1, 1, 2]
    assert all(r["wall_s"] > 0 and r["client_cpu_s"] >= 0 and r["scheme"] == "http" for r in rows)


def test_parsing_floors_of_a_document_reply_are_measured():
    from bench import parsing

    floors = parsing.document_floors("<?xml version='1.0'?><a><b>1</b></a>", repeat=2, number=3)
    assert set(floors) == {"expat_no_handlers_ms", "lxml_tree_ms"} and all(v > 0 for v in floors.values())
