"""Two simulated hosts, one NFS server: pool, repository, template import, VM life cycle, migration.

Everything runs through the project's client over real loopback sockets; each step checks the state
the client sees (typed mirrors) and the files in the sandbox.
"""

import http.server
import os
import threading

import pytest

from ovm3 import errors
from ovm3.sim import simulated_agents

MANAGER = "d1a749d4295041fb99854f52ea4dea97"
POOL = "0004fb0000020000ba9aaf00ae5e2d73"
PRIMARY = "nfs-1:/export/primary"
SECONDARY = "nfs-1:/export/secondary"
REPO_UUID = "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"
REPO = REPO_UUID.replace("-", "")
SEC_UUID = "006eafff-fe09-42c9-bc24-a4939532a30e"
PLUGIN = "oracle.generic.NFSPlugin.GenericNFSPlugin"
VM = "868a6627-c3b0-3d9b-aea4-f279cbaa253b"
MB = 1024 * 1024


@pytest.fixture()
def http_template(tmp_path):
    """A loopback HTTP server offering a 64 MiB mostly-zero template image."""
    src = tmp_path / "www"
    src.mkdir()
    with open(src / "tpl.raw", "wb") as f:
        f.write(b"BOOT" * 1024)
        f.seek(64 * MB - 4)
        f.write(b"END!")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(src), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d/tpl.raw" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def vm_params(disk):
    return {
        "name": "i-2-3-VM",
        "OVM_simple_name": "i-2-3-VM",
        "uuid": VM,
        "memory": "512",
        "vcpus": 2,
        "maxvcpus": 0,
        "cpu_weight": 27500,
        "cpu_cap": 0,
        "on_reboot": "restart",
        "on_poweroff": "destroy",
        "on_crash": "restart",
        "bootloader": "/usr/bin/pygrub",
        "bootargs": "",
        "extra": "",
        "guest_os_type": "Other Linux",
        "OVM_domain_type": "xen_pvm",
        "OVM_high_availability": False,
        "OVM_description": "",
        "OVM_cpu_compat_group": "",
        "disk": ["file:%s,xvda,w" % disk],
        "vif": ["mac=02:00:50:9a:00:01,bridge=xenbr0"],
        "vfb": ["vncunused=1,vncpasswd=s3cret,keymap=en-us,type=vnc,vnclisten=0.0.0.0"],
    }


@pytest.mark.parametrize("version", ["3.2", "3.3"])
def test_two_host_pool_repository_vm_migration(tmp_path, http_template, version):
    with simulated_agents(count=2, version=version, root=tmp_path / "sim") as hosts:
        h1, h2 = hosts
        c1, c2 = h1.client(), h2.client()
        # ---- ownership and pool ---------------------------------------------------------------------
        for c in (c1, c2):
            assert c.linux.discover_server().membership_state == "Unowned"
            c.pool.update_server_roles("xen,utility")
            if version == "3.2":
                c.pool.take_ownership(MANAGER, "")
            else:
                c.pool.take_ownership(
                    {
                        "manager_uuid": MANAGER,
                        "manager_event_url": "http://localhost:10024/event",
                        "manager_statistic_url": "http://localhost:10024/stats",
                        "manager_certificate": "None",
                        "signed_server_certificate": "None",
                    }
                )
        c1.poolfs.create_pool_filesystem(
            "nfs", PRIMARY + "/VirtualMachines", MANAGER[:15], REPO_UUID, REPO, MANAGER, REPO_UUID
        )
        c1.pool.create_server_pool("Pool 0", POOL, "192.168.1.230", 1, "ovm-1", h1.ip, "xen,utility")
        c2.pool.join_server_pool("Pool 0", POOL, "192.168.1.230", 2, "ovm-2", h2.ip, "xen,utility")
        pool = c2.pool.discover_server_pool()
        assert pool.pool_id == POOL and pool.members == [h1.ip, h2.ip]
        info = c1.linux.discover_server()
        assert info.membership_state == "Pooled" and info.is_master and info.manager_unique_id == MANAGER
        assert not c2.linux.discover_server().is_master
        assert c1.poolfs.discover_pool_filesystem().uuid == REPO_UUID
        with pytest.raises(errors.AlreadyInPoolFault):
            c2.pool.join_server_pool("Pool 0", POOL, "192.168.1.230", 2, "ovm-2", h2.ip, "xen,utility")
        # ---- repository on the shared export --------------------------------------------------------
        mount = "/OVS/Repositories/" + REPO
        c1.repository.create_repository(PRIMARY, mount, REPO, "OVS Repository")
        c2.repository.add_repository(PRIMARY, mount)
        with pytest.raises(errors.RepositoryExistsFault):
            c2.repository.create_repository(PRIMARY, mount, REPO, "OVS Repository")
        export = hosts.nfs_dir(PRIMARY)
        assert sorted(os.listdir(export)) == [
            ".ovsrepo",
            "ISOs",
            "Templates",
            "VirtualDisks",
            "VirtualMachines",
        ]
        assert "OVS_REPO_UUID=%s" % REPO in open(os.path.join(export, ".ovsrepo")).read()
        db = c2.call("discover_repository_db")
        assert "<Status>Mounted</Status>" in db and PRIMARY in db
        mounted = c1.call("discover_mounted_file_systems", "nfs")
        assert 'Dir="%s"' % mount in mounted
        # ---- template import (loopback http) and a copy from secondary storage (file://) ------------
        c1.repository.import_virtual_disk(http_template, "tpl.raw", REPO)
        disk_dir = os.path.join(export, "VirtualDisks")
        st = os.stat(os.path.join(disk_dir, "tpl.raw"))
        assert st.st_size == 64 * MB and st.st_blocks * 512 < 8 * MB, "import is not sparse"
        ss = {"uuid": SEC_UUID.replace("-", ""), "access_host": "nfs-1", "name": "sec"}
        sd = {"uuid": SEC_UUID, "ss_uuid": ss["uuid"], "access_path": SECONDARY}
        fs = c1.call("storage_plugin_mount", PLUGIN, ss, sd, "/nfsmnt/" + SEC_UUID, "", True, [])
        assert fs["access_path"] == SECONDARY and int(fs["size"]) > 0
        assert os.path.exists(os.path.join(hosts.nfs_dir(SECONDARY), ".generic_fs_stamp"))
        with open(os.path.join(hosts.nfs_dir(SECONDARY), "iso.img"), "wb") as f:
            f.write(b"x" * 4096)
        tpl_dir = "%s/Templates/tpl1" % mount
        c1.call("storage_plugin_create", PLUGIN, {"uuid": REPO}, {"uuid": REPO_UUID}, tpl_dir, "Directory", 0)
        c1.linux.copy_file("file:///nfsmnt/%s/iso.img" % SEC_UUID, tpl_dir + "/iso.img")
        repos = c2.repository.discover_repositories(REPO)
        repo = repos.repositories[REPO]
        assert "tpl.raw" in repo.virtual_disks and repo.templates == ["iso.img"]  # Template/File names
        assert repo.virtual_machines == []
        # ---- VM on host 1 ---------------------------------------------------------------------------
        disk = "%s/VirtualDisks/root.raw" % mount
        c1.linux.copy_file(mount + "/VirtualDisks/tpl.raw", disk)
        free_before = c1.linux.discover_hardware().free_memory
        c1.xen.create_vm(REPO, VM, vm_params(disk))
        cfg = open(os.path.join(export, "VirtualMachines", VM, "vm.cfg")).read()
        assert "i-2-3-VM" in cfg and "root.raw" in cfg
        assert c2.xen.get_vm_config(REPO, VM).name == "i-2-3-VM"
        c1.xen.start_vm(REPO, VM)
        running = {v.name: v for v in c1.xen.list_vms()}
        vm = running["i-2-3-VM"]
        assert vm.uuid == VM and vm.state.startswith("r") and vm.vnc_port == 5900 and vm.repo_id == REPO
        assert free_before - c1.linux.discover_hardware().free_memory == 512 * MB
        first_cpu = vm.cpu_time
        with pytest.raises(errors.AgentFault):
            c2.xen.start_vm(REPO, VM)  # already running on host 1
        # ---- migrate to host 2 ----------------------------------------------------------------------
        c1.xen.migrate_vm(REPO, VM, h2.ip)
        assert "i-2-3-VM" not in {v.name for v in c1.xen.list_vms()}
        moved = {v.name: v for v in c2.xen.list_vms()}["i-2-3-VM"]
        assert moved.cpu_time >= first_cpu and moved.domid is not None
        assert c1.linux.discover_hardware().free_memory == free_before
        # ---- stop and delete ------------------------------------------------------------------------
        c2.xen.pause_vm(REPO, VM)
        assert {v.name: v for v in c2.xen.list_vms()}["i-2-3-VM"].state.startswith("--p")
        c2.xen.stop_vm(REPO, VM)
        assert [v.name for v in c2.xen.list_vms()] == ["Domain-0"]
        with pytest.raises(errors.NoSuchVMFault):
            c2.xen.stop_vm(REPO, VM)
        c2.xen.delete_vm(REPO, VM)
        assert not os.path.exists(os.path.join(export, "VirtualMachines", VM))
        with pytest.raises(errors.AgentFault):
            c1.xen.get_vm_config(REPO, VM)
        assert h1.calls.methods().count("migrate_vm") == 1


def test_state_survives_restart_on_the_same_root(tmp_path):
    root = tmp_path / "sim"
    with simulated_agents(count=1, version="3.3", root=root) as hosts:
        c = hosts[0].client()
        c.call("ovs_local_config", "start", "control0")
        c.call("set_ntp", ["ntp-a"], True)
    with simulated_agents(count=1, version="3.3", root=root) as hosts:
        c = hosts[0].client()
        assert "control0" in c.call("discover_network")
        assert c.call("get_ntp") == [["ntp-a"], True, True]
        with pytest.raises(errors.BridgeBusyFault):
            c.call("ovs_local_config", "start", "control0")


def test_sandbox_paths_never_escape(tmp_path):
    with simulated_agents(count=1, root=tmp_path / "sim") as hosts:
        c = hosts[0].client()
        with pytest.raises(errors.AgentFault) as ei:
            c.linux.copy_file("/../../../../etc/passwd", "/tmp/x")
        assert "No such file" in str(ei.value) or "Permission denied" in str(ei.value)
        with pytest.raises(errors.AgentFault):
            c.linux.copy_file("http://example.com/x.raw", "/tmp/x")


def test_storage_plugin_create_makes_sparse_sized_files(tmp_path):
    with simulated_agents(count=1, root=tmp_path / "sim") as hosts:
        c = hosts[0].client()
        c.call("create_repository", PRIMARY, "/OVS/Repositories/" + REPO, REPO, "OVS Repository")
        ss, sd = {"uuid": REPO, "access_host": "nfs-1"}, {"uuid": REPO_UUID, "ss_uuid": REPO}
        fp = c.call("storage_plugin_create", PLUGIN, ss, sd, "a.file", "File", 2096898048)
        assert fp["file_sz"] == "2096898048" and fp["fr_type"] == "File"
        assert fp["file_path"] == "/OVS/Repositories/%s/VirtualDisks/a.file" % REPO
        st = os.stat(os.path.join(hosts.nfs_dir(PRIMARY), "VirtualDisks", "a.file"))
        assert st.st_size == 2096898048 and st.st_blocks < 64
        with pytest.raises(errors.FileExistsFault):
            c.call("storage_plugin_create", PLUGIN, ss, sd, "a.file", "File", 1024)
        assert (
            c.call("storage_plugin_getFileInfo", PLUGIN, ss, sd, {"file_path": "a.file"})["file_sz"]
            == "2096898048"
        )
        c.call("storage_plugin_destroy", PLUGIN, ss, sd, {"file_path": "a.file"})
        with pytest.raises(errors.AgentFault):
            c.call("storage_plugin_getFileInfo", PLUGIN, ss, sd, {"file_path": "a.file"})
