"""One test per documented naming rule (reference §0.3)."""

import hashlib
import uuid

import pytest

from ovm3.cloudstack import naming

POOL = "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"


def test_repository_id_and_path_drop_dashes():
    assert naming.repo_id(POOL) == "f12842ebf5ed3fe78da1eb0e17f5ede8"
    assert naming.repo_path(POOL) == "/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8"


def test_volume_path_appends_raw_once():
    assert (
        naming.volume_path(POOL, "vol-1")
        == "/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8/VirtualDisks/vol-1.raw"
    )
    assert naming.volume_path(POOL, "vol-1.raw").endswith("/VirtualDisks/vol-1.raw")


def test_template_iso_and_vm_cfg_paths():
    assert naming.template_path(POOL, "t1").endswith("f12842ebf5ed3fe78da1eb0e17f5ede8/Templates/t1.raw")
    assert naming.systemvm_iso_path(POOL).endswith("f12842ebf5ed3fe78da1eb0e17f5ede8/ISOs/systemvm.iso")
    assert naming.vm_cfg_path(POOL, "i-2-3-VM").endswith(
        "/VirtualMachines/%s/vm.cfg" % naming.vm_uuid("i-2-3-VM")
    )


def test_vm_uuid_is_md5_name_uuid_like_java_name_uuid_from_bytes():
    value = uuid.UUID(naming.vm_uuid("i-2-3-VM"))
    assert value.version == 3 and value.variant == uuid.RFC_4122
    digest = hashlib.md5(b"i-2-3-VM").hexdigest()
    assert value.hex[:12] == digest[:12] and value.hex[16 + 1 :] == digest[17:]
    # the VM id in the recorded CloudStack create_vm request for i-2-3-VM
    assert naming.vm_uuid("i-2-3-VM") == "868a6627-c3b0-3d9b-aea4-f279cbaa253b"


def test_host_guid_is_name_uuid_of_ip():
    assert naming.host_guid("192.168.1.64") == naming.name_uuid("192.168.1.64")
    assert naming.host_guid("192.168.1.64") != naming.host_guid("192.168.1.65")


def test_secondary_mount_is_uuid_of_host_and_path():
    assert naming.secondary_mount("nfs-1", "/export/sec") == "/nfsmnt/" + naming.name_uuid(
        "nfs-1:/export/sec"
    )


def test_secondary_file_refuses_escaping_paths():
    assert naming.secondary_file("h", "/p", "template/a.raw").endswith("/template/a.raw")
    with pytest.raises(ValueError):
        naming.secondary_file("h", "/p", "../../etc/shadow")


def test_pool_vm_mount_and_fs_target():
    assert naming.pool_vm_mount("f12842ebf5ed3fe78da1eb0e17f5ede8") == "/nfsmnt/" + POOL
    assert naming.pool_fs_target("nfs-1", "/export/p/") == "nfs-1:/export/p/VirtualMachines"


@pytest.mark.parametrize("vlan,ok", [(1, True), (4094, True), (0, False), (4095, False)])
def test_vlan_bridge_range(vlan, ok):
    if ok:
        assert naming.vlan_bridge("xenbr0", vlan) == "xenbr0.%d" % vlan
    else:
        with pytest.raises(ValueError):
            naming.vlan_bridge("xenbr0", vlan)


def test_cluster_name_is_first_15_of_manager():
    assert naming.cluster_name("d1a749d4295041fb99854f52ea4dea97") == "d1a749d4295041f"


def test_download_image_name_is_dashless_raw():
    name = naming.download_image_name()
    assert name.endswith(".raw") and "-" not in name and len(name) == 36


def test_repository_of_running_vm_from_first_disk():
    uname = "file:/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8/VirtualDisks/x.raw"
    assert naming.repo_of_disk_uname(uname) == "f12842ebf5ed3fe78da1eb0e17f5ede8"
    with pytest.raises(ValueError):
        naming.repo_of_disk_uname("file:/tmp/x.raw")


@pytest.mark.parametrize(
    "url,expected",
    [
        ("nfs://nfs-1/export/p", ("nfs-1", "/export/p")),
        ("nfs://nfs-1:2049/export/p/", ("nfs-1", "/export/p")),
        ("nfs-1:/export/p", ("nfs-1", "/export/p")),
    ],
)
def test_parse_nfs_url(url, expected):
    assert naming.parse_nfs_url(url) == expected


@pytest.mark.parametrize("bad", ["f12842ebf5ed3fe78da1eb0e17f5ede8\n", POOL + "\n", "x" * 32, POOL + "/.."])
def test_dashed_refuses_what_is_not_exactly_a_uuid(bad):
    assert naming.dashed(POOL.replace("-", "")) == POOL
    with pytest.raises(ValueError):
        naming.dashed(bad)
