"""The XML document helpers: the reference's xmlToMap/xmlToList/xmlToString semantics, and documents
built from the reference's §6 shapes for replies that have no recording."""
import pytest

from ovm3.errors import ParseError
from ovm3.parse import convert
from ovm3.parse.xmldoc import parse_document, xml_to_list, xml_to_map, xml_to_string

DOC = b"""<?xml version="1.0" encoding="UTF-8"?>
<R>
  <Item Name="a"><Leaf>1</Leaf><Wrap><Inner>w</Inner></Wrap><Box><X>1</X><Y>2</Y></Box><Empty/></Item>
  <Item Name="b"><Leaf>2</Leaf></Item>
</R>"""


def test_xml_to_map_semantics():
    root = parse_document(DOC, "R")
    m = xml_to_map(root, "//R/Item[@Name=$n]", n="a")
    # a leaf gives its text; an element wrapping one leaf gives that text; containers are skipped
    assert m == {"Leaf": "1", "Wrap": "w", "Empty": ""}
    assert xml_to_map(root, "//R/Item")["Leaf"] == "2"  # later matches overwrite earlier keys
    assert "#text" in xml_to_map(root, "/R", keep_text=True)


def test_xml_to_list_and_string():
    root = parse_document(DOC, "R")
    assert xml_to_list(root, "//R/Item/@Name") == ["a", "b"]
    assert xml_to_list(root, "//Leaf") == ["1", "2"]
    assert xml_to_string(root, "//Leaf") == "1"
    assert xml_to_string(root, "//Missing") is None
    # values go in as XPath variables: a quote cannot change the expression
    assert xml_to_map(root, "//Item[@Name=$n]", n="a' or '1'='1") == {}


def test_encoding_declaration_in_str_is_accepted():
    root = parse_document(DOC.decode("utf-8"), "R")
    assert root.tag == "R"


@pytest.mark.parametrize("value,fragment", [
    (None, "nil"), (42, "int"), ("", "empty"), ("   ", "empty"), ("<R>", "malformed"),
    ("<Other/>", "expected root"), ("not xml at all", "malformed"), ("\ud800<R/>", "Unicode"),
])
def test_bad_documents(value, fragment):
    with pytest.raises(ParseError) as info:
        parse_document(value, "R", "test_call")
    assert fragment in str(info.value) and "test_call" in str(info.value)


MOUNTS = """<?xml version="1.0" ?><Discover_Mounted_File_Systems_Result><Filesystem Type="nfs">
<Mount Dir="/nfsmnt/5a7ef7fe-6d16-4fd3-9e95-0b95a4a3c1f1"><Device>cs-mgmt:/volumes/cs-data/secondary</Device>
<Mount_Options>rw,relatime</Mount_Options></Mount>
<Mount Dir="/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8">
<Device>cs-mgmt:/volumes/cs-data/primary/ovm</Device>
<Mount_Options>rw</Mount_Options></Mount></Filesystem></Discover_Mounted_File_Systems_Result>"""


def test_mounted_filesystems():
    fs = convert("mounted_fs", MOUNTS)
    assert len(fs) == 2
    m = fs.by_uuid("5a7ef7fe-6d16-4fd3-9e95-0b95a4a3c1f1")
    assert m.host == "cs-mgmt" and m.remote_dir == "/volumes/cs-data/secondary" and m.fs_type == "nfs"
    assert fs.by_dir("/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8").mount_options == "rw"
    assert fs.by_uuid("nope") is None


REPOS = """<?xml version="1.0" ?><Discover_Repositories_Result><RepositoryList>
<Repository Name="f12842ebf5ed3fe78da1eb0e17f5ede8"><Version>3.0</Version><Manager_UUID>d1a7</Manager_UUID>
<Repository_UUID>f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8</Repository_UUID>
<Repository_Alias>OVS Repository</Repository_Alias>
<Assemblies/><Templates><Template Name="t1"><File>t1.raw</File></Template></Templates>
<VirtualMachines><VirtualMachine Name="pool"><File>pool.img</File></VirtualMachine>
<VirtualMachine Name="868a6627-c3b0-3d9b-aea4-f279cbaa253b"><File>vm.cfg</File></VirtualMachine>
</VirtualMachines>
<VirtualDisks><Disk>a.raw</Disk><Disk>b.raw</Disk></VirtualDisks><ISOs><ISO>systemvm.iso</ISO></ISOs></Repository>
</RepositoryList></Discover_Repositories_Result>"""


def test_repositories():
    repos = convert("repositories", REPOS)
    r = repos.get("f12842ebf5ed3fe78da1eb0e17f5ede8")
    assert r.alias == "OVS Repository" and r.version == "3.0" and r.templates == ["t1.raw"]
    assert r.virtual_machines == ["pool", "868a6627-c3b0-3d9b-aea4-f279cbaa253b"]
    assert r.virtual_disks == ["a.raw", "b.raw"] and r.isos == ["systemvm.iso"]
    empty = convert("repositories",
                    "<Discover_Repositories_Result><RepositoryList/></Discover_Repositories_Result>")
    assert len(empty) == 0


CLUSTER = """<Discover_Cluster_Result><O2CB_Config><O2CB_HEARTBEAT_THRESHOLD>61</O2CB_HEARTBEAT_THRESHOLD>
<O2CB_ENABLED>true</O2CB_ENABLED><O2CB_STACK>o2cb</O2CB_STACK></O2CB_Config><Cluster_Information><Stored>
<Clusters><Cluster><Name>ba9aaf00ae5e2d73</Name><Node_Count>1</Node_Count><Heartbeat_Mode>global</Heartbeat_Mode>
</Cluster></Clusters><Heartbeats><Heartbeat><Region>0004FB0000050000E70FBDDEB802208F</Region>
<Cluster>ba9aaf00ae5e2d73</Cluster></Heartbeat></Heartbeats><Nodes><Node><Number>0</Number><IP_Port>7777</IP_Port>
<IP_Address>192.168.1.64</IP_Address><Name>ovm-1</Name><Cluster_Name>ba9aaf00ae5e2d73</Cluster_Name></Node></Nodes>
</Stored></Cluster_Information></Discover_Cluster_Result>"""


def test_cluster():
    c = convert("cluster_info", CLUSTER)
    assert c.configured and c.name == "ba9aaf00ae5e2d73" and c.node_count == 1
    assert c.heartbeat_mode == "global"
    assert c.o2cb["O2CB_HEARTBEAT_THRESHOLD"] == "61"
    assert c.heartbeat_regions == ["0004FB0000050000E70FBDDEB802208F"]
    assert c.nodes[0].ip_address == "192.168.1.64" and c.nodes[0].ip_port == 7777 and c.nodes[0].number == 0
    assert not convert("cluster_info", None).configured


def test_unowned_server_document():
    doc = ("<Discover_Server_Result><Server><Membership_State>Unowned</Membership_State>"
           "<Pool_Unique_Id>none</Pool_Unique_Id><Is_Primary>false</Is_Primary><OVM_Version>3.3.1-1065"
           "</OVM_Version><Boot_Time>not-a-number</Boot_Time></Server></Discover_Server_Result>")
    s = convert("server_info", doc)
    assert not s.is_owned and s.is_master is False and s.ovm_version == "3.3.1-1065" and s.boot_time is None
