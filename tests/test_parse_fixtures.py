"""Every recorded agent reply in the reference fixtures, decoded and converted, against INDEX.md's gold
values."""
import pytest

from ovm3 import errors
from ovm3.faults import fault_error
from ovm3.parse import convert
from ovm3.wire import Fault, loads_response
from tests.conftest import FIXTURES, fixture_bytes

POOL_ID = "0004fb0000020000ba9aaf00ae5e2d73"
FSMNTUUID = "006eafff-fe09-42c9-bc24-a4939532a30e"
FSPROPUUID = "a628f570c846455f8f89ceaf9b08cbe1"


def load(name):
    return loads_response(fixture_bytes(name))


def check_server(s):
    assert s.membership_state == "Pooled"
    assert s.vmm_capabilities == "xen-3.0-x86_64 xen-3.0-x86_32p"
    assert s.ovm_version == "3.2.1-517"
    assert s.hypervisor_version == "4.1.3OVM"
    assert s.get("MAX_CONCURRENT_MIGRATION_IN") == "1"
    assert s.hostname == "ovm-1" and s.agent_version == "3.2.1-183"
    assert s.is_master is True and s.master_virtual_ip == "192.168.1.230"
    assert s.server_roles == ["xen", "utility"]
    assert s.boot_time == 1413834408 and s.node_number == 1


def check_hardware(h):
    assert h.memory == 1048476 * 4096 == 4294557696
    assert h.free_memory == 863459 * 4096 == 3536728064
    assert h.fields["UUID"] == h.system_uuid == "1d:d5:e8:91:d9:d0:ed:bd:81:c2:a6:9a:b3:d1:b7:ea"
    assert h.total_threads == 2 and h.cpu_khz == 3392400


def check_network(n):
    assert n.bridge_by_ip("192.168.1.64").name == "xenbr0"
    assert n.bridge_by_name("xenbr0").address == "192.168.1.64"
    assert n.interface_by_name("control0").mac == "B2:D1:75:69:8C:58"
    assert n.interface_by_name("control0").type == "Local"
    assert n.bridge_by_ip("") is None and n.bridge_by_name("") is None
    assert n.interface_by_ip("192.168.1.64").name == "xenbr0"
    x = n.interface_by_name("xenbr0")
    assert (x.address, x.broadcast, x.mac) == ("192.168.1.64", "192.168.1.255", "52:54:00:24:47:70")
    assert n.physical_by_bridge("xenbr0") == "bond0"
    assert n.physical_by_bridge("xenbr0.200") == "bond1.200"
    assert n.interface_by_name("control0xx") is None
    assert set(n.physical) == {"bond0", "eth1"} and set(n.bonds) == {"bond1"}
    assert n.physical["bond0"].metadata.startswith("ethernet:c0a80100{192.168.1.0}")


def check_pool(p):
    assert p.in_pool and p.is_pool(POOL_ID) and not p.is_pool("deadbeefdeadbeefdeadbeefdeadbeef")
    assert p.pool_id == POOL_ID and p.alias == "Pool 0" and p.master_virtual_ip == "192.168.1.230"
    assert "192.168.1.64" in p.members and "192.168.1.65" in p.members


def check_pool_empty(p):
    assert not p.in_pool and not p.is_pool(POOL_ID) and "192.168.1.64" not in p.members


def check_poolfs(fs):
    assert fs.uuid == fs.pool_uuid == "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"
    assert fs.manager_uuid == "d1a749d4295041fb99854f52ea4dea97"
    assert fs.nfsbase_uuid == "f12842ebf5ed3fe78da1eb0e17f5ede8"
    assert fs.target == "cs-mgmt:/volumes/cs-data/primary/ovm/VirtualMachines"
    assert fs.version == "3.0" and fs.fs_type == "nfs"
    assert fs.exists and fs.has("f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8")
    assert not fs.has("deadbeef-dead-beef-dead-beef0000002d")


def check_poolfs_empty(fs):
    assert not fs.exists and not fs.has("deadbeef-dead-beef-dead-beef0000002d")


def check_repo_db(db):
    r = db.get("f12842ebf5ed3fe78da1eb0e17f5ede8")
    assert r.uuid == "f12842ebf5ed3fe78da1eb0e17f5ede8" and r.alias == "OVS Repository" and r.version == "3.0"
    assert r.manager_uuid == "d1a749d4295041fb99854f52ea4dea97"
    assert r.mount_point == "/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8"
    assert r.fs_location == "cs-mgmt:/volumes/cs-data/primary/ovm"
    assert r.status == "Mounted" and r.mounted and r.filesystem_type == "nfs"


def check_plugins(sp):
    assert sp.names() == ["oracle.ocfs2.OCFS2.OCFS2Plugin", "oracle.generic.SCSIPlugin.GenericPlugin",
                          "oracle.generic.NFSPlugin.GenericNFSPlugin"]
    got = [(p.properties["plugin_version"], p.abilities["snapshot"]) for p in sp]
    assert got == [("0.1.0-38", "ONLINE"), ("1.1.0", "UNSUPPORTED"), ("1.1.0", "UNSUPPORTED")]
    assert sp.get("bogus") is None and "blabla" not in sp.get(sp.names()[0]).abilities
    assert sp.find("scsi").impl_name == "oracle.generic.SCSIPlugin.GenericPlugin"
    assert sp.find("NFS").impl_name == "oracle.generic.NFSPlugin.GenericNFSPlugin"
    assert sp.find("ocfs2").plugin_type == "ifs"


def check_fs_info(fs):
    assert fs.size == 263166853120 and fs.free_size == 259377299456
    assert fs.name == "nfs:/volumes/cs-data/primary"
    assert fs.uuid == FSPROPUUID and fs.ss_uuid == FSMNTUUID and fs.state == 1


def check_file_props(fp):
    assert fp.ondisk_size == 0 and fp.size == 2096898048 and fp.fr_type == "File"
    assert fp.file_path == "/OVS/Repositories/006eaffffe0942c9bc24a4939532a30e/VirtualDisks/a.file"
    assert fp.fs_uuid == FSMNTUUID


def check_vm_info(vm):
    assert vm.name == "i-2-3-VM" and vm.uuid == "868a6627-c3b0-3d9b-aea4-f279cbaa253b"
    assert vm.vnc_port == 5900 and vm.vnc_address == "0.0.0.0"
    assert vm.repo_id == "f12842ebf5ed3fe78da1eb0e17f5ede8" and vm.state == "-b----"
    assert vm.memory == 512 and vm.domid is None and vm.domain_type == "xen_pvm"
    assert vm.vifs[0] == {"mac": "02:00:50:9a:00:01", "bridge": "xenbr0.160"}


def check_vm_config(cfg):
    assert cfg.name == "i-2-3-VM"
    assert cfg.vif_index("02:00:50:9a:00:01") == 0 and cfg.vif_index("02:00:50:9a:00:02") == 1
    assert cfg.vif_index("02:00:50:9a:00:03") == -1
    assert cfg.memory == 512 and cfg.vcpus == 1 and cfg.domain_type == "xen_pvm"
    assert "7693f834ca67912e" not in repr(cfg) and "7693f834ca67912e" not in repr(cfg.vfbs)


def check_stats(s):
    assert s.cpu == 1.5 and s.rx == 11631523 and s.tx == 16927399
    assert s.total == 4293918720 and s.free == 3162505216


# (fixture, result kind, check). Every reply file of the fixture folder is listed once.
CASES = [
    ("LinuxTest__DISCOVERSERVER.xml", "server_info", check_server),
    ("LinuxTest__DISCOVERSERVER.original-agent.xml", "server_info", check_server),
    ("LinuxTest__DISCOVERHW.xml", "hardware_info", check_hardware),
    ("LinuxTest__LASTBOOT.xml", "boot_time",
     lambda b: b.last_boot_time == 1413834408 and b.local_time == 1414082517),
    ("LinuxTest__TIMEZONE.xml", "timezone", lambda t: t.zone == "Europe/Amsterdam" and t.utc is True),
    ("NetworkTest__DISCOVERNETWORK.xml", "network_info", check_network),
    ("NetworkTest__EMPTY.xml", "network_info",
     lambda n: n.interfaces() == [] and n.bridge_by_name("xenbr0") is None),
    ("NetworkTest__testLocal_start.xml", "str", lambda s: s.startswith("start")),
    ("NetworkTest__testLocal_stop.xml", "str", lambda s: s.startswith("stop")),
    ("NetworkTest__testVlanBridge_start.xml", "str", lambda s: s.startswith("start")),
    ("NetworkTest__testVlanBridge_stop.xml", "str", lambda s: s.startswith("stop")),
    ("NtpTest__details.xml", "ntp_info",
     lambda n: n.servers == ["ovm-1", "ovm-2"] and n.is_server is True and n.is_running is True),
    ("PoolOCFS2Test__DISCOVERPOOLFS.xml", "poolfs_info", check_poolfs),
    ("PoolOCFS2Test__EMPTY.xml", "poolfs_info", check_poolfs_empty),
    ("PoolTest__DISCOVERPOOL.xml", "pool_info", check_pool),
    ("PoolTest__DISCOVERPOOL.original-agent.xml", "pool_info", check_pool),
    ("PoolTest__EMPTY.xml", "pool_info", check_pool_empty),
    ("RepositoryTest__REPODBDISCOVERXML.xml", "repository_db", check_repo_db),
    ("StoragePluginTest__STORAGEPLUGINXML.xml", "storage_plugins", check_plugins),
    ("StoragePluginTest__NFSMOUNTRESPONSEXML.xml", "fs_info", check_fs_info),
    ("StoragePluginTest__NFSFILESYSTEMINFO.xml", "fs_info", check_fs_info),
    ("StoragePluginTest__FILECREATEXML.xml", "file_properties", check_file_props),
    ("XenTest__SINGLEVMLISTXML.xml", "vm_info", check_vm_info),
    ("XenTest__SINGLEVMLISTXML.xml", "vm_list", None),  # not an array: checked in test_wrong_shapes
    ("XenTest__SINGLEVMCONFIGXML.xml", "vm_config", check_vm_config),
    ("CloudStackPluginTest__dom0StatsXml.xml", "dom0_stats", check_stats),
    ("CloudStackPluginTest__dom0StorageCheckXml.xml", "health_check",
     lambda h: h.running is True and h.started is False),
    ("CloudStackPluginTest__domrExecXml.xml", "exec_result",
     lambda r: r.rc == 0 and r.ok and r.out.startswith("clearUsageRules.sh func.sh")),
    ("CloudStackPluginTest__testDomrExec_failure.xml", "exec_result",
     lambda r: r.rc == 1 and not r.ok and r.err == "Something went wrong!"),
    ("CloudStackPluginTest__testGetVncPort.xml", "vnc_port", lambda p: p == 5900),
    ("CommonTest__testGetApiVersion.xml", "api_version", lambda v: v == 3),
    ("CommonTest__testEcho.xml", "str", lambda s: s == "put"),
    ("XmlTestResultTest__getNil.xml", "void", lambda v: v is None),
    ("XmlTestResultTest__getNil.xml", "mkdirs", lambda created: created is True),
    ("XmlTestResultTest__getNil.xml", "vm_config", lambda c: c.name == "" and c.disks == []),
    ("XmlTestResultTest__getBoolean_true.xml", "bool", lambda b: b is True),
    ("XmlTestResultTest__getBoolean_true.xml", "mkdirs", lambda created: created is False),
    ("XmlTestResultTest__getBoolean_false.xml", "bool", lambda b: b is False),
]

# (fixture, expected error class, agent exception class, message start)
FAULTS = [
    ("NetworkTest__testLocalBreak.xml", errors.BridgeBusyFault, "exceptions.RuntimeError",
     "Command: ['/etc/xen"),
    ("PoolTest__testCreateServerPoolFail2.xml", errors.RepositoryExistsFault, "exceptions.Exception",
     "Repository already exists"),
    ("PoolTest__testJoinServerPoolFail.xml", errors.AlreadyInPoolFault, "exceptions.Exception",
     "Server already a member of pool: " + POOL_ID),
    ("PoolTest__testValidPoolRolesInvalid.xml", errors.InvalidRolesFault, "exceptions.Exception",
     "Invalid roles: set(['xen', 'broken_token', 'utility'])"),
    ("StoragePluginTest__testStorageFileCreationFileExistS.xml", errors.FileExistsFault, "exceptions.OSError",
     "[Errno.17] File exists a.file"),
]


@pytest.mark.parametrize("name,kind,check", [c for c in CASES if c[2]],
                         ids=["%s-%s" % (c[0], c[1]) for c in CASES if c[2]])
def test_fixture_gold_values(name, kind, check):
    result = convert(kind, load(name))
    assert check(result) is not False  # the check functions assert; lambdas return a boolean


@pytest.mark.parametrize("name,error_cls,agent_cls,message", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_fixtures(name, error_cls, agent_cls, message):
    with pytest.raises(Fault) as info:
        load(name)
    assert info.value.code == 1
    err = fault_error(info.value.code, info.value.string, host="ovm-1:8899", method="m", args=["a"])
    assert type(err) is error_cls and isinstance(err, errors.AgentFault)
    assert err.agent_exception == agent_cls and err.agent_message.startswith(message)
    assert "ovm-1:8899" in str(err) and "m('a')" in str(err)


def test_every_fixture_is_covered():
    listed = {c[0] for c in CASES} | {f[0] for f in FAULTS}
    replies = {p.name for p in FIXTURES.glob("*.xml") if not p.name.endswith(".payload.xml")}
    assert replies, "reference fixtures not found at %s" % FIXTURES
    assert replies == listed


@pytest.mark.parametrize("payload,kind", [
    ("LinuxTest__DISCOVERSERVER.payload.xml", "server_info"),
    ("LinuxTest__DISCOVERSERVER.original-agent.payload.xml", "server_info"),
    ("LinuxTest__DISCOVERHW.payload.xml", "hardware_info"),
    ("NetworkTest__DISCOVERNETWORK.payload.xml", "network_info"),
    ("NetworkTest__EMPTY.payload.xml", "network_info"),
    ("PoolOCFS2Test__DISCOVERPOOLFS.payload.xml", "poolfs_info"),
    ("PoolOCFS2Test__EMPTY.payload.xml", "poolfs_info"),
    ("PoolTest__DISCOVERPOOL.payload.xml", "pool_info"),
    ("PoolTest__DISCOVERPOOL.original-agent.payload.xml", "pool_info"),
    ("PoolTest__EMPTY.payload.xml", "pool_info"),
    ("RepositoryTest__REPODBDISCOVERXML.payload.xml", "repository_db"),
    ("StoragePluginTest__STORAGEPLUGINXML.payload.xml", "storage_plugins"),
])
def test_payload_equals_decoded_reply(payload, kind):
    """The decoded string of each discover reply is its .payload.xml, and both convert alike."""
    reply = payload.replace(".payload.xml", ".xml")
    decoded = load(reply)
    assert decoded == fixture_bytes(payload).decode("utf-8")
    assert convert(kind, fixture_bytes(payload)) == convert(kind, decoded)


def test_original_and_renamed_tags_agree():
    renamed = convert("server_info", load("LinuxTest__DISCOVERSERVER.xml"))
    original = convert("server_info", load("LinuxTest__DISCOVERSERVER.original-agent.xml"))
    assert renamed.is_master == original.is_master is True
    assert renamed.master_virtual_ip == original.master_virtual_ip == "192.168.1.230"
    assert original.fields["Is_Current_Master"] == "true"


def test_vm_config_round_trips_to_the_recorded_struct():
    raw = load("XenTest__SINGLEVMCONFIGXML.xml")
    assert convert("vm_config", raw).to_params() == raw


def test_vm_list_of_recorded_elements():
    one = load("XenTest__SINGLEVMLISTXML.xml")
    dom0 = {"name": "Domain-0", "uuid": "00000000-0000-0000-0000-000000000000", "state": "r-----",
            "domid": "0\n", "memory": "\n", "device": {}}
    vms = convert("vm_list", [dom0, one])
    assert [v.name for v in vms] == ["Domain-0", "i-2-3-VM"]
    assert vms[0].is_control_domain and vms[0].running and vms[0].domid == 0 and vms[0].memory is None
    assert vms[0].vnc_port is None and vms[0].repo_id is None


def test_wrong_shapes():
    with pytest.raises(errors.ParseError):
        convert("vm_list", load("XenTest__SINGLEVMLISTXML.xml"))  # a struct, not an array
    with pytest.raises(errors.ParseError):
        convert("server_info", load("XmlTestResultTest__getNil.xml"))
    with pytest.raises(errors.ParseError):
        convert("server_info", load("PoolTest__DISCOVERPOOL.xml"))  # another document
