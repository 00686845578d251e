"""A pool removed through ``ovm3 serve`` while the host's heartbeat is armed: announced, never fenced.

The simulated host runs the real heartbeat daemon (crash fence into its sandbox, armed test watchdog)
on the pool's two mounts. DeleteStoragePoolCommand goes through ``ovm3 serve`` over HTTPS; the
resource layer calls ``heartbeat_release_storage`` for each mount before unmounting it, the daemon
records ``stopped`` there and stops monitoring it, and the unmount (the mount table stand-in
rewritten as the kernel would) fences nothing. Without the announcement the same unmount fences.
"""
import json
import os
import time

import pytest
import requests

from ovm3.cloudstack import naming
from tests.conftest_fuse import GUARD_SOURCE
from tests.cloudstack_support import POOL, pool_to
from tests.test_ha_e2e import wait_for
from tests.test_serve import KEY, _serve_process, _stop

PATIENCE = 15.0


@pytest.fixture
def armed(tmp_path):
    from ovm3.sim import simulated_agents
    from ovm3.sim.tls import make_certificate

    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD_SOURCE)
    env = dict(os.environ, PYTHONPATH=str(guard_dir), OVM3_TEST_GUARD_LOG=str(tmp_path / "guard.log"))
    material = make_certificate(str(tmp_path / "serve-tls"), "127.0.0.1")
    with simulated_agents(count=1, version="3.3", tls=True, root=tmp_path / "sim") as hosts:
        host = hosts[0]
        key_file = tmp_path / "api-key"
        key_file.write_text(KEY + "\n")
        proc, url, argv = _serve_process(host, material, tmp_path, args=("--api-key-file", str(key_file)))
        beats = []

        def post(command, data):
            r = requests.post(url + "/" + command, data=json.dumps(data), headers={"X-Api-Key": KEY},
                              verify=material.cert_file, timeout=60)
            assert r.status_code == 200, r.text
            return list(r.json()[0].values())[0]

        def arm():
            mounts = [naming.pool_vm_mount(POOL), naming.repo_path(POOL)]
            hb = host.heartbeat("guid-pool", mounts, interval=0.2, timeout=1.5, fence_action="crash",
                                watchdog=True, env=env)
            beats.append(hb)
            hb.start()
            assert wait_for(lambda: hb.record().get("state") == "running", PATIENCE), hb.log()
            return hb

        try:
            yield host, post, arm
        finally:
            for hb in beats:
                hb.close()
            rc, output = _stop(proc)
            assert rc == 0, output
    assert not os.path.exists(tmp_path / "guard.log") or not (tmp_path / "guard.log").read_text()


def fenced(hb):
    return os.path.getsize(hb.sysrq_trigger) > 0 or "FENCING" in hb.log()


def test_removing_a_pool_through_serve_with_fencing_armed_never_fences(armed):
    host, post, arm = armed
    assert post("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()})["result"] is True
    hb = arm()
    answer = post("DeleteStoragePoolCommand", {"_pool": pool_to()})
    assert answer["result"] is True, answer["details"]
    assert host.calls.methods().count("heartbeat_release_storage") == 2
    assert naming.repo_path(POOL) not in host.state.mounts
    assert "stopped cleanly" not in hb.log()
    hb.write_mountinfo()  # the kernel's table after the unmounts
    log = hb.log()
    assert log.count("planned removal of") == 2 and log.count("recorded stopped there") == 2, log
    time.sleep(3 * 1.5)
    assert hb.running() and not fenced(hb), hb.log()
    pets = os.path.getsize(hb.watchdog)
    assert wait_for(lambda: os.path.getsize(hb.watchdog) > pets, PATIENCE), "the watchdog is no longer petted"


def test_the_same_unmount_unannounced_fences(armed):
    host, post, arm = armed
    assert post("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()})["result"] is True
    hb = arm()
    host.client().call("unmount_repository_fs", naming.repo_path(POOL))
    hb.write_mountinfo()
    assert wait_for(lambda: fenced(hb), PATIENCE), hb.log()
    assert "no longer mounted: counted as failed" in hb.log()
