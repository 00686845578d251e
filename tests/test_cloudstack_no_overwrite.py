"""No handler overwrites or removes a file it did not make (issue 6, "no data lost").

Every handler that writes a new file first asks the agent whether its target exists
(``storage_plugin_getFileInfo``, step ``check_target``) and refuses when it does; only a target found
free is removed again after a failure. Each case puts a file with its own bytes where the handler would
write, then checks the answer, the agent calls and that both NFS exports are byte-for-byte as before.
Handlers that name their target with a fresh UUID get a fixed one here (``volumes.uuidlib``), so the
test can put something in the way.
"""

import os
import types

import pytest

from ovm3.cloudstack import naming, storage, volumes
from ovm3.cloudstack.answers import answer_class
from ovm3.cloudstack.dispatch import answer_type
from tests.test_cloudstack_volumes import DATA, PRI, SEC, SEC_MOUNT, VARIANTS, _to, _write, tree
from tests.cloudstack_support import POOL, SECONDARY, body, pool_to, primary, resources, volume, volume_on_primary

#: a template on the simulated secondary share, as a file URL the download accepts (inside its mount)
TEMPLATE_URL = "file://" + naming.secondary_file("nfs-1", "/export/secondary", "template/tmpl/2/201/t.raw")
FIXED = "0d0e0a0d-0000-4000-8000-00000000beef"
OLD = b"not yours to overwrite\n" * 300
INFO, DESTROY = "storage_plugin_getFileInfo", "storage_plugin_destroy"
WRITERS = ("copy_file", "import_virtual_disk", "storage_plugin_create")


def _copy(variant):
    def make(hosts):
        src, dst = VARIANTS[variant][0](hosts)
        return "CopyCommand", {"srcTO": src, "destTO": dst}

    return make, VARIANTS[variant][1]


def _create_object_volume(hosts):
    return "CreateObjectCommand", {"data": volume("new-vol")}


def _create_object_snapshot(hosts):
    _write(hosts, PRI, "VirtualDisks/vol-1.raw")
    return "CreateObjectCommand", {"data": _to("SnapshotObjectTO", volume=volume(), dataStore=primary())}


def _create_legacy(template):
    def make(hosts):
        _write(hosts, PRI, "Templates/t-1.raw")
        cmd = {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20, "name": "DATA-7"}}
        return "CreateCommand", dict(cmd, templateUrl="t-1") if template else cmd

    return make


def _copy_volume(to_secondary):
    def make(hosts):
        _write(hosts, PRI, "VirtualDisks/vol-1.raw")
        _write(hosts, SEC, "volumes/11/old.raw")
        cmd = {
            "volumeId": 12, "pool": dict(pool_to(), id=3, port=2049), "secondaryStorageURL": SECONDARY,
            "volumePath": "vol-1" if to_secondary else "volumes/11/old.raw", "toSecondaryStorage": to_secondary,
        }
        return "CopyVolumeCommand", cmd

    return make


def _template_from_volume(hosts):
    _write(hosts, PRI, "VirtualDisks/vol-1.raw")
    return "CreatePrivateTemplateFromVolumeCommand", {
        "_volumePath": "vol-1", "_uniqueName": "tmpl-u", "_templateId": 201, "_accountId": 2,
        "primaryStoragePoolNameLabel": POOL, "_secondaryStorageUrl": SECONDARY,
    }


def _download(hosts):
    _write(hosts, SEC, "template/tmpl/2/201/t.raw")
    hosts[0].state.mount("nfs-1:/export/secondary", naming.secondary_mount("nfs-1", "/export/secondary"))
    return "PrimaryStorageDownloadCommand", {"url": TEMPLATE_URL, "poolUuid": POOL}


FRESH = "VirtualDisks/%s.raw" % FIXED
#: name -> (set-up: hosts -> (command, body), (export, relative) of the file the command would write)
CASES = dict(
    {"CopyCommand " + v: _copy(v) for v in VARIANTS},
    **{
        "CreateObjectCommand volume": (_create_object_volume, (PRI, "VirtualDisks/new-vol.raw")),
        "CreateObjectCommand snapshot": (_create_object_snapshot, (PRI, FRESH)),
        "CreateCommand blank": (_create_legacy(False), (PRI, FRESH)),
        "CreateCommand from template": (_create_legacy(True), (PRI, FRESH)),
        "CopyVolumeCommand to secondary": (_copy_volume(True), (SEC, "volumes/12/vol-1.raw")),
        "CopyVolumeCommand from secondary": (_copy_volume(False), (PRI, FRESH)),
        "CreatePrivateTemplateFromVolumeCommand": (_template_from_volume, (SEC, "template/tmpl/2/201/tmpl-u.raw")),
        "PrimaryStorageDownloadCommand": (_download, (PRI, "VirtualDisks/%s.raw" % naming.dedash(FIXED))),
    },
)


@pytest.fixture
def fixed_uuid(monkeypatch):
    """Handlers that make up a name get FIXED (only the resource layer's uuid source is replaced)."""
    monkeypatch.setattr(volumes, "uuidlib", types.SimpleNamespace(uuid4=lambda: FIXED))
    monkeypatch.setattr(naming, "download_image_name", lambda: naming.dedash(FIXED) + naming.RAW)


def _dom0_path(export, relative):
    return (SEC_MOUNT if export == SEC else naming.repo_path(POOL)) + "/" + relative


def _snapshot(hosts):
    return {e: tree(hosts, e) for e in (PRI, SEC)}


def _refused(ans, path, host="ovm-1"):
    b = body(ans)
    assert b["result"] is False, b
    assert "host %s" % host in b["details"] and "step check_target %s" % path in b["details"], b["details"]
    assert "%s already exists on %s; refusing to overwrite it" % (path, host) in b["details"], b["details"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_handler_refuses_to_overwrite_an_existing_file(tmp_path, fixed_uuid, case):
    make, (export, relative) = CASES[case]
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        storage.mount_secondary(r, SECONDARY)
        name, cmd = make(hosts)
        existing = _write(hosts, export, relative, OLD)
        before = _snapshot(hosts)
        hosts[0].calls.clear()
        ans = r.execute(name, cmd)
        assert answer_class(ans) == answer_type(name)
        _refused(ans, _dom0_path(export, relative))
        calls = hosts[0].calls.methods()
        assert not set(WRITERS) & set(calls), calls  # nothing was written ...
        assert DESTROY not in calls, calls  # ... and nothing removed
        assert calls[-1] == INFO
        assert hosts[0].calls.find(INFO)[-1].args[3] == {"file_path": _dom0_path(export, relative)}
        with open(existing, "rb") as f:
            assert f.read() == OLD
        assert _snapshot(hosts) == before


@pytest.mark.parametrize("kind", ["fault", "midway"])
@pytest.mark.parametrize("case", sorted(c for c in CASES if c not in (
    "CreateObjectCommand volume", "CreateCommand blank", "PrimaryStorageDownloadCommand")))
def test_a_failing_copy_never_removes_a_pre_existing_file(tmp_path, fixed_uuid, case, kind):
    """The bug this guards: a copy onto an existing file that failed removed the file as "its" partial
    copy. Now the copy never starts (its fault rule never fires) and the file keeps its bytes."""
    make, (export, relative) = CASES[case]
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        storage.mount_secondary(r, SECONDARY)
        name, cmd = make(hosts)
        existing = _write(hosts, export, relative, OLD)
        before = _snapshot(hosts)
        rule = hosts[0].faults.add(method="copy_file", kind=kind, fault="exceptions.IOError:disk full", count=1)
        hosts[0].calls.clear()
        _refused(r.execute(name, cmd), _dom0_path(export, relative))
        assert rule.fired == 0 and not hosts[0].calls.find(DESTROY)
        with open(existing, "rb") as f:
            assert f.read() == OLD
        assert _snapshot(hosts) == before


def test_a_directory_in_the_way_is_refused_too(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        make, (export, relative) = CASES["CopyCommand volume from template"]
        name, cmd = make(hosts)
        inside = _write(hosts, export, relative + "/keep.txt", OLD)
        before = _snapshot(hosts)
        _refused(r.execute(name, cmd), _dom0_path(export, relative))
        assert _snapshot(hosts) == before and open(inside, "rb").read() == OLD


def test_a_failed_copy_removes_only_its_own_file_next_to_existing_ones(tmp_path):
    """A free target in a directory that exists already: the partial copy goes, the directory and the
    files that were there stay."""
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        storage.mount_secondary(r, SECONDARY)
        name, cmd = _template_from_volume(hosts)
        sibling = _write(hosts, SEC, "template/tmpl/2/201/other.raw", OLD)
        before = _snapshot(hosts)
        hosts[0].faults.add(method="copy_file", kind="midway", fault="exceptions.IOError:disk full", count=1)
        hosts[0].calls.clear()
        b = body(r.execute(name, cmd))
        assert b["result"] is False and "step copy_file" in b["details"] and "disk full" in b["details"]
        target = _dom0_path(SEC, "template/tmpl/2/201/tmpl-u.raw")
        assert [rec.args[3]["file_path"] for rec in hosts[0].calls.find(DESTROY)] == [target]  # not the directory
        assert _snapshot(hosts) == before and open(sibling, "rb").read() == OLD


def test_a_retried_download_imports_a_new_copy_and_keeps_the_first(tmp_path):
    """PrimaryStorageDownload names each import afresh: a retry never meets, reuses or removes the file
    an earlier attempt made (CloudStack records the installPath of the answer it got)."""
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        name, cmd = _download(hosts)
        first = body(r.execute(name, cmd))
        second = body(r.execute(name, cmd))
        assert first["result"] is True and second["result"] is True, (first["details"], second["details"])
        assert first["installPath"] != second["installPath"]
        for b in (first, second):
            with open(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks", b["installPath"]), "rb") as f:
                assert f.read() == DATA


def test_a_check_that_cannot_tell_writes_nothing(tmp_path):
    """Any fault of the existence check other than "no such file" is no "free": the handler stops."""
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        name, cmd = CASES["CopyCommand volume from template"][0](hosts)
        before = _snapshot(hosts)
        hosts[0].faults.add(method=INFO, kind="fault", fault="exceptions.OSError:[Errno 13] Permission denied", count=1)
        hosts[0].calls.clear()
        b = body(r.execute(name, cmd))
        assert b["result"] is False and "step check_target" in b["details"] and "Permission denied" in b["details"]
        assert hosts[0].calls.methods() == [INFO] and _snapshot(hosts) == before
