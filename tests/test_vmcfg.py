"""The VM configuration model: vm.cfg value formats, device naming, round trips, safe vm.cfg text."""
import pytest

from ovm3.errors import ParseError, UsageError
from ovm3.vmcfg import Disk, Vfb, Vif, VmConfig, parse_vm_cfg, render_vm_cfg
from ovm3.wire import loads_response
from tests.conftest import fixture_bytes

REPO = "/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8"


@pytest.mark.parametrize("text,uname,device,kind,mode", [
    ("file:%s/VirtualDisks/a.raw,xvda,w" % REPO, "file:%s/VirtualDisks/a.raw" % REPO, "xvda", "", "w"),
    ("file:%s/ISOs/x.iso,xvdb:cdrom,r" % REPO, "file:%s/ISOs/x.iso" % REPO, "xvdb", "cdrom", "r"),
    ("file:/nfsmnt/d5f5/e14c.iso,hdc:cdrom,r", "file:/nfsmnt/d5f5/e14c.iso", "hdc", "cdrom", "r"),
    ("phy:/dev/mapper/lun0,xvdc,w!", "phy:/dev/mapper/lun0", "xvdc", "", "w!"),
    ("file:722eb520-dcf5-4113-8f45-22d67c9a2f3c.raw,xvda,w", "file:722eb520-dcf5-4113-8f45-22d67c9a2f3c.raw",
     "xvda", "", "w"),
])
def test_disk_strings_round_trip(text, uname, device, kind, mode):
    d = Disk.parse(text)
    assert (d.uname, d.device, d.kind, d.mode) == (uname, device, kind, mode)
    assert d.render() == text
    assert d.cdrom == (kind == "cdrom")


@pytest.mark.parametrize("bad", ["", "file:/x", "file:/x,xvda", "file:/x,xvda,rwx", ",xvda,w", 42])
def test_bad_disk_strings(bad):
    with pytest.raises(ParseError):
        Disk.parse(bad)


def test_vif_and_vfb_strings():
    v = Vif.parse("mac=02:00:50:9a:00:01,bridge=xenbr0.160,type=netfront")
    assert (v.mac, v.bridge) == ("02:00:50:9a:00:01", "xenbr0.160")
    assert v.render() == "mac=02:00:50:9a:00:01,bridge=xenbr0.160,type=netfront"
    f = Vfb.parse("vncunused=1,vncpasswd=7693f834ca67912e,keymap=en-us,type=vnc,vnclisten=0.0.0.0")
    assert f.type == "vnc" and f.listen == "0.0.0.0" and f.has_password
    assert f.render() == "vncunused=1,vncpasswd=7693f834ca67912e,keymap=en-us,type=vnc,vnclisten=0.0.0.0"
    assert "7693f834ca67912e" not in repr(f) and "vncpasswd=***" in repr(f)
    with pytest.raises(ParseError):
        Vif.parse("mac")


def test_build_a_pv_vm():
    cfg = VmConfig(name="i-2-3-VM", uuid="868a6627-c3b0-3d9b-aea4-f279cbaa253b", memory=512)
    root = cfg.add_disk(REPO + "/VirtualDisks/root.raw")
    data = cfg.add_disk(REPO + "/VirtualDisks/data.raw", mode="w!")
    iso = cfg.add_iso(REPO + "/ISOs/systemvm.iso")
    assert [d.render() for d in (root, data, iso)] == [
        "file:%s/VirtualDisks/root.raw,xvda,w" % REPO, "file:%s/VirtualDisks/data.raw,xvdb,w!" % REPO,
        "file:%s/ISOs/systemvm.iso,xvdc:cdrom,r" % REPO]
    assert cfg.add_disk(REPO + "/VirtualDisks/root.raw") is root and len(cfg.disks) == 3  # not twice
    cfg.add_vif("02:00:50:9a:00:01", "xenbr0.160")
    cfg.add_vif("02:00:50:9a:00:02", "xenbr0.240")
    with pytest.raises(UsageError):
        cfg.add_vif("02:00:50:9A:00:01", "xenbr0")
    with pytest.raises(UsageError):
        cfg.add_vif("not-a-mac", "xenbr0")
    with pytest.raises(UsageError):
        cfg.add_vif("02:00:50:9a:00:03", "xenbr0,script=/bin/evil")
    cfg.set_vnc("0.0.0.0", "gobbeldygoo")
    params = cfg.to_params()
    assert params["name"] == params["OVM_simple_name"] == "i-2-3-VM"
    assert params["memory"] == 512 and params["vcpus"] == 1 and params["OVM_domain_type"] == "xen_pvm"
    assert params["vif"] == ["mac=02:00:50:9a:00:01,bridge=xenbr0.160",
                             "mac=02:00:50:9a:00:02,bridge=xenbr0.240"]
    assert params["vfb"] == ["type=vnc,vncunused=1,vnclisten=0.0.0.0,keymap=en-us,vncpasswd=gobbeldygoo"]
    assert "gobbeldygoo" not in repr(cfg)
    # detach a disk, unplug a NIC; the freed letter is reused
    assert cfg.remove_disk(REPO + "/VirtualDisks/data.raw") and not cfg.remove_disk("/nope")
    assert cfg.add_disk(REPO + "/VirtualDisks/new.raw").device == "xvdb"
    assert cfg.remove_vif("02:00:50:9A:00:01") and cfg.vif_index("02:00:50:9a:00:02") == 0
    assert cfg.remove_iso(REPO + "/ISOs/systemvm.iso")


def test_hvm_device_names():
    cfg = VmConfig(name="win", domain_type="hvm")
    assert cfg.add_disk("/OVS/Repositories/r/VirtualDisks/a.img").device == "hda"
    iso = cfg.add_iso("/OVS/Repositories/r/ISOs/w.iso")
    assert iso.render() == "file:/OVS/Repositories/r/ISOs/w.iso,hdb:cdrom,r"


def test_from_params_accepts_cloudstack_string_memory():
    cfg = VmConfig.from_params({"name": "v", "memory": "512", "vcpus": 2, "OVM_high_availability": "False",
                                "disk": [], "vif": [], "vfb": [], "maxmem": 1024})
    assert cfg.memory == 512 and cfg.vcpus == 2 and cfg.high_availability is False
    assert cfg.other == {"maxmem": 1024} and cfg.to_params()["maxmem"] == 1024


@pytest.mark.parametrize("params", [
    [], "x", {"memory": "lots"}, {"disk": "file:/x,xvda,w"}, {"vif": [1]}, {"OVM_high_availability": "maybe"},
    {"name": ["x"]},
])
def test_from_params_refuses_bad_types(params):
    with pytest.raises(ParseError):
        VmConfig.from_params(params)


def test_recorded_config_round_trips_through_params_and_text():
    raw = loads_response(fixture_bytes("XenTest__SINGLEVMCONFIGXML.xml"))
    cfg = VmConfig.from_params(raw)
    assert cfg.to_params() == raw
    text = cfg.to_cfg_text()
    assert "name = 'i-2-3-VM'" in text and "OVM_high_availability = False" in text
    assert "disk = ['file:%s/VirtualDisks/722eb520-dcf5-4113-8f45-22d67c9a2f3c.raw,xvda,w']" % REPO in text
    assert parse_vm_cfg(text) == raw
    assert VmConfig.from_cfg_text(text).to_params() == raw


def test_parse_real_looking_vm_cfg_text():
    text = """# written by ovs-agent
vif = ['mac=00:21:f6:00:00:01,bridge=0004fb0010f41e7',
       'mac=00:21:f6:00:00:02,bridge=xenbr0']
OVM_simple_name = 'web-1'
disk = ['file:/OVS/Repositories/0004fb00/VirtualDisks/0004fb00.img,xvda,w']
uuid = '0004fb00-0006-0000-3e9d-4d0c6c4dd7a1'
on_reboot = 'restart'
memory = 2048
maxmem = 2048
vcpus = 2
name = '0004fb00000600003e9d4d0c6c4dd7a1'
"""
    cfg = VmConfig.from_cfg_text(text)
    assert cfg.memory == 2048 and cfg.vcpus == 2 and cfg.simple_name == "web-1" and len(cfg.vifs) == 2
    assert cfg.other == {"maxmem": 2048}


@pytest.mark.parametrize("text", [
    "import os\n", "name = __import__('os').system('id')\n", "x = open('/etc/passwd').read()\n",
    "a, b = 1, 2\n", "x.y = 1\n", "name = 'a'\nprint(name)\n", "for x in []: pass\n", "x = {1, 2}\n",
    "x = b'bytes'\n", "x = 1j\n", "x = [" * 200 + "]" * 200 + "\n", "name = 'unterminated\n", "if = 3\n",
    "x = 1 + 2\n", "x" * (1024 * 1024 + 1),
])
def test_vm_cfg_text_is_never_executed(text):
    with pytest.raises(ParseError):
        parse_vm_cfg(text)


def test_render_vm_cfg_refuses_bad_keys_and_values():
    with pytest.raises(ParseError):
        render_vm_cfg({"bad key": 1})
    with pytest.raises(ParseError):
        render_vm_cfg({"x": object()})
    text = render_vm_cfg({"name": "it's", "n": None, "l": [1, "a"]})
    assert text == "name = \"it's\"\nn = None\nl = [1, 'a']\n"
    assert parse_vm_cfg(render_vm_cfg({"name": "it's\n", "n": None})) == {"name": "it's\n", "n": None}
