"""Every recorded discover_*/list_*/get_* reply has the same XML shape as the simulator's reply.

Shape = the set of element paths with XML-RPC value types of the methodResponse (untyped ``<value>``
text counts as a string) and, for documents inside strings, the set of element and attribute paths of
the document. The simulator's replies are compared after state changes: a pool created, a pool file
system, a repository mounted, a storage plugin mount, a VM running.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ovm3.sim import simulated_agents
from ovm3.wire import dumps_request

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared/reference/fixtures"
MANAGER = "d1a749d4295041fb99854f52ea4dea97"
POOL = "0004fb0000020000ba9aaf00ae5e2d73"
FS_UUID = "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"
REPO = FS_UUID.replace("-", "")
NFS = "cs-mgmt:/volumes/cs-data/primary/ovm"
SS = {"uuid": REPO, "access_host": "cs-mgmt", "storage_type": "FileSys", "name": REPO}
SD = {"uuid": FS_UUID, "ss_uuid": REPO, "access_path": NFS + "/VirtualMachines", "state": 0}
PLUGIN = "oracle.generic.NFSPlugin.GenericNFSPlugin"
VM = "868a6627-c3b0-3d9b-aea4-f279cbaa253b"

# fixture file -> (method, args). The HEAD-text variants renamed Master_* tags (CloudStack's inclusive-
# language change); the faithful simulator is compared with the .original-agent recordings instead.
CASES = {
    "LinuxTest__DISCOVERSERVER.original-agent.xml": ("discover_server", ()),
    "LinuxTest__DISCOVERHW.xml": ("discover_hardware", ()),
    "LinuxTest__LASTBOOT.xml": ("get_last_boot_time", ()),
    "LinuxTest__TIMEZONE.xml": ("get_timezone", ()),
    "NetworkTest__DISCOVERNETWORK.xml": ("discover_network", ()),
    "PoolTest__DISCOVERPOOL.original-agent.xml": ("discover_server_pool", ()),
    "PoolOCFS2Test__DISCOVERPOOLFS.xml": ("discover_pool_filesystem", ()),
    "RepositoryTest__REPODBDISCOVERXML.xml": ("discover_repository_db", ()),
    "StoragePluginTest__STORAGEPLUGINXML.xml": ("discover_storage_plugins", ()),
    "StoragePluginTest__NFSFILESYSTEMINFO.xml": ("storage_plugin_getFileSystemInfo", (PLUGIN, SS, SD)),
    "StoragePluginTest__FILECREATEXML.xml": (
        "storage_plugin_getFileInfo",
        (PLUGIN, SS, SD, {"file_path": "a.file"}),
    ),
    "XenTest__SINGLEVMLISTXML.xml": ("list_vm", (REPO, VM)),
    "XenTest__SINGLEVMCONFIGXML.xml": ("get_vm_config", (REPO, VM)),
    "NtpTest__details.xml": ("get_ntp", ()),
    "CommonTest__testGetApiVersion.xml": ("get_api_version", ()),
}
# Recordings of an empty host, compared before any state change.
EMPTY_CASES = {
    "PoolTest__EMPTY.xml": ("discover_server_pool", ()),
    "PoolOCFS2Test__EMPTY.xml": ("discover_pool_filesystem", ()),
}
# Replies of state-changing calls, captured while the host is set up.
SETUP_CASES = ("StoragePluginTest__NFSMOUNTRESPONSEXML.xml",)


def value_shape(value_el, path, out):
    """(path, type) pairs of an XML-RPC <value>; returns the decoded string of string values."""
    children = list(value_el)
    if not children:
        out.add((path, "string"))
        return value_el.text or ""
    typed = children[0]
    kind = typed.tag
    if kind in ("string",):
        out.add((path, "string"))
        return typed.text or ""
    if kind == "struct":
        out.add((path, "struct"))
        for member in typed.findall("member"):
            value_shape(member.find("value"), path + "/" + member.findtext("name"), out)
    elif kind == "array":
        out.add((path, "array"))
        for v in typed.find("data").findall("value"):
            value_shape(v, path + "[]", out)
    else:
        out.add((path, {"i4": "int"}.get(kind, kind)))
    return None


def doc_shape(text):
    root = ET.fromstring(text.encode("utf-8"))
    out = set()

    def walk(el, path):
        p = path + "/" + el.tag
        out.add(p)
        for a in el.attrib:
            out.add(p + "/@" + a)
        for c in el:
            walk(c, p)

    walk(root, "")
    return out


def shape(body):
    root = ET.fromstring(body)
    if root.find("fault") is not None:
        return {("fault", "fault")}, None
    out = set()
    text = value_shape(root.find("params/param/value"), "", out)
    doc = doc_shape(text) if text and text.lstrip().startswith("<?xml") else None
    return out, doc


def served(h, method, args):
    """The reply body the host's dispatcher builds for one call (the same bytes the socket carries)."""
    return h.dispatcher.handle_body(dumps_request(method, list(args))).body


@pytest.fixture(scope="module")
def busy_host(tmp_path_factory):
    with simulated_agents(count=2, version="3.2", root=tmp_path_factory.mktemp("shapes")) as hosts:
        h = hosts[0]
        empty = {name: shape(served(h, m, a)) for name, (m, a) in EMPTY_CASES.items()}
        c = h.client()
        c.call("take_ownership", MANAGER, "")
        c.call(
            "create_pool_filesystem",
            "nfs",
            NFS + "/VirtualMachines",
            MANAGER[:15],
            FS_UUID,
            REPO,
            MANAGER,
            FS_UUID,
        )
        c.call("create_server_pool", "Pool 0", POOL, "192.168.1.230", 1, "ovm-1", h.ip, "xen,utility")
        hosts[1].client().call(
            "join_server_pool", "Pool 0", POOL, "192.168.1.230", 2, "ovm-2", hosts[1].ip, "xen,utility"
        )
        c.call("set_ntp", ["ovm-1", "ovm-2"], True)
        c.call("create_repository", NFS, "/OVS/Repositories/" + REPO, REPO, "OVS Repository")
        mounted = served(h, "storage_plugin_mount", (PLUGIN, SS, SD, "/nfsmnt/" + FS_UUID, "", True, []))
        empty["StoragePluginTest__NFSMOUNTRESPONSEXML.xml"] = shape(mounted)
        c.call("storage_plugin_create", PLUGIN, SS, SD, "a.file", "File", 2096898048)
        disk = "/OVS/Repositories/%s/VirtualDisks/root.raw" % REPO
        c.call("storage_plugin_create", PLUGIN, SS, SD, disk, "File", 1 << 30)
        c.call(
            "create_vm",
            REPO,
            VM,
            {
                "name": "i-2-3-VM",
                "OVM_simple_name": "i-2-3-VM",
                "uuid": VM,
                "memory": "512",
                "vcpus": 1,
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
                "vfb": ["vncunused=1,vncpasswd=secret,keymap=en-us,type=vnc,vnclisten=0.0.0.0"],
            },
        )
        c.call("start_vm", REPO, VM)
        yield h, empty


@pytest.mark.parametrize("name", sorted(CASES))
def test_reply_shape_matches_recording(busy_host, name):
    h, _ = busy_host
    method, args = CASES[name]
    want_env, want_doc = shape((FIXTURES / name).read_bytes())
    got_env, got_doc = shape(served(h, method, args))
    assert got_env == want_env, "XML-RPC shape differs:\nmissing %s\nextra %s" % (
        sorted(want_env - got_env),
        sorted(got_env - want_env),
    )
    assert got_doc == want_doc, "document shape differs:\nmissing %s\nextra %s" % (
        sorted((want_doc or set()) - (got_doc or set())),
        sorted((got_doc or set()) - (want_doc or set())),
    )


@pytest.mark.parametrize("name", sorted(EMPTY_CASES) + list(SETUP_CASES))
def test_empty_host_and_setup_shapes_match_recording(busy_host, name):
    _, empty = busy_host
    assert empty[name] == shape((FIXTURES / name).read_bytes())


def test_every_recorded_query_fixture_is_compared():
    queried = {p.name for p in FIXTURES.glob("*.xml") if not p.name.endswith(".payload.xml")}
    skipped = {
        # HEAD-text variants of the .original-agent recordings (renamed tags a real agent never sends).
        "LinuxTest__DISCOVERSERVER.xml",
        "PoolTest__DISCOVERPOOL.xml",
        # A host always has NICs and bridges: an empty network document cannot be produced.
        "NetworkTest__EMPTY.xml",
        # A fault reply of storage_plugin_create, not a query (fault texts are checked elsewhere).
        "StoragePluginTest__testStorageFileCreationFileExistS.xml",
    }
    queries = {
        n
        for n in queried
        if n.split("__")[0]
        in (
            "LinuxTest",
            "NetworkTest",
            "PoolTest",
            "PoolOCFS2Test",
            "RepositoryTest",
            "StoragePluginTest",
            "XenTest",
            "NtpTest",
            "CommonTest",
        )
        and any(
            k in n.upper()
            for k in (
                "DISCOVER",
                "LIST",
                "GET",
                "LASTBOOT",
                "TIMEZONE",
                "DETAILS",
                "EMPTY",
                "CONFIG",
                "FILESYSTEMINFO",
                "FILECREATE",
                "STORAGEPLUGIN",
            )
        )
    }
    assert queries - skipped <= set(CASES) | set(EMPTY_CASES) | set(SETUP_CASES)
