"""Bench part 3b runs: the three sweep shapes over the same simulated fleet (behaviour, never speed)."""
from bench import sweep


def test_each_sweep_shape_makes_its_calls():
    rows = {r["mode"]: r for r in sweep.measure(2, 1)}
    vms = sweep.VMS_PER_HOST
    assert rows["one-call"]["calls"] == 2
    assert rows["per-vm"]["calls"] == rows["xmlrpc.client per-vm"]["calls"] == 2 * (vms + 1)
    assert all(r["wall_s"] > 0 and r["hosts"] == 2 for r in rows.values())
