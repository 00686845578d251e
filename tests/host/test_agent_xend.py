"""RealHost's view of the hypervisor: xend's domain s-expressions, its device lists and ``xm info``.

The samples are written in the formats xend 3.4/4.x prints (``xm list --long``, ``xm info``) and
serves over its XML-RPC socket (``xend.domain(name, 1)``, ``xend.domains(1)``,
``xend.domain.getDeviceSxprs(name, kind)``); a fake xend server stands in for the socket, everything
else (the parsers, the counters under a temp ``/sys``, the services) is the real code.
"""

import os
import shutil
import sys
import tempfile
import unittest

from tests.host.test_agent_support import PathGuard, ovm3_agent, ovm3_hostio

try:
    import xmlrpclib  # novm
except ImportError:  # Python 3
    import xmlrpc.client as xmlrpclib  # novm

SERVICES = ovm3_agent.OVM3Agent().get_services()

# `xm list --long i-2-7-VM` of a CloudStack PV guest on OVM 3.2 (xend 4.1): two disks, one NIC, VNC.
XM_LIST_LONG_VM = """
(domain
    (domid 7)
    (cpu_weight 256)
    (cpu_cap 0)
    (on_crash restart)
    (uuid 7b5e6a2c-2d9b-4f6e-9c4e-0a6b1e3f5d21)
    (bootloader_args -q)
    (vcpus 2)
    (name i-2-7-VM)
    (cpus (() ()))
    (on_poweroff destroy)
    (description '')
    (on_reboot restart)
    (bootloader /usr/bin/pygrub)
    (maxmem 1024)
    (memory 1024)
    (shadow_memory 0)
    (features '')
    (on_xend_start ignore)
    (on_xend_stop ignore)
    (start_time 1699999000.25)
    (cpu_time 1045.60286007)
    (online_vcpus 2)
    (image
        (linux
            (kernel '')
            (expose_host_uuid 0)
            (superpages 0)
            (videoram 4)
            (pci ())
            (nomigrate 0)
            (tsc_mode 0)
            (device_model /usr/lib/xen/bin/qemu-dm)
            (notes
                (FEATURES '!writable_page_tables|pae_pgdir_above_4gb')
                (VIRT_BASE 18446744071562067968)
                (GUEST_VERSION 2.6)
                (PADDR_OFFSET 0)
                (GUEST_OS linux)
                (HYPERCALL_PAGE 18446744071578882048)
                (LOADER generic)
                (SUSPEND_CANCEL 1)
                (PAE_MODE yes)
                (ENTRY 18446744071584289280)
                (XEN_VERSION xen-3.0)
            )
        )
    )
    (status 2)
    (state -b----)
    (store_mfn 1188210)
    (console_mfn 1188209)
    (device
        (vif
            (bridge 0004fb0010f7f16)
            (mac 06:c2:7c:00:00:1f)
            (script /etc/xen/scripts/vif-bridge)
            (uuid 3f0e9e7c-7b1d-2a8c-5b0e-1b2c3d4e5f60)
            (backend 0)
        )
    )
    (device
        (console
            (protocol vt100)
            (location 2)
            (uuid 5a9f2c1e-8d7b-6a5c-4b3a-291807f6e5d4)
        )
    )
    (device
        (vbd
            (protocol x86_64-abi)
            (uuid 1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6)
            (bootable 1)
            (dev xvda:disk)
            (uname file:/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8/VirtualDisks/7a1b.raw)
            (mode w)
            (backend 0)
            (VDI '')
        )
    )
    (device
        (vbd
            (protocol x86_64-abi)
            (uuid 2d3e4f5a-6b7c-8d9e-0f1a-b2c3d4e5f6a7)
            (bootable 0)
            (dev xvdb:disk)
            (uname file:/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8/VirtualDisks/8b2c.raw)
            (mode w)
            (backend 0)
            (VDI '')
        )
    )
    (device
        (vfb
            (vncunused 1)
            (uuid 6e5d4c3b-2a19-0887-f6e5-d4c3b2a19087)
            (location 0.0.0.0:5901)
            (keymap en-us)
            (vnc 1)
            (vnclisten 0.0.0.0)
            (type vnc)
        )
    )
)
"""

# `xm list --long Domain-0`: no devices, no framebuffer.
XM_LIST_LONG_DOM0 = """
(domain
    (domid 0)
    (cpu_weight 256)
    (cpu_cap 0)
    (on_crash restart)
    (uuid 00000000-0000-0000-0000-000000000000)
    (bootloader_args '')
    (vcpus 4)
    (name Domain-0)
    (cpus (() () () ()))
    (on_poweroff destroy)
    (on_reboot restart)
    (bootloader '')
    (maxmem 16777215)
    (memory 1373)
    (shadow_memory 0)
    (features '')
    (on_xend_start ignore)
    (on_xend_stop ignore)
    (start_time 1699990000.16)
    (cpu_time 4425.8127162)
    (online_vcpus 4)
    (image (linux (kernel '') (expose_host_uuid 0) (superpages 0) (pci ()) (nomigrate 0) (tsc_mode 0)))
    (status 2)
    (state r-----)
)
"""

# What `xend.domain.getDeviceSxprs(name, kind)` answers for a running domain: [devid, frontend keys].
DEVICE_SXPRS = {
    ("i-2-7-VM", "vbd"): [
        ["51712", [["backend-id", "0"], ["virtual-device", "51712"], ["device-type", "disk"], ["state", "4"],
                   ["backend", "/local/domain/0/backend/vbd/7/51712"], ["ring-ref", "8"],
                   ["event-channel", "9"], ["protocol", "x86_64-abi"]]],
        ["51728", [["backend-id", "0"], ["virtual-device", "51728"], ["device-type", "disk"], ["state", "4"],
                   ["backend", "/local/domain/0/backend/vbd/7/51728"], ["ring-ref", "10"],
                   ["event-channel", "11"], ["protocol", "x86_64-abi"]]],
    ],
    ("i-2-7-VM", "vif"): [
        ["0", [["backend-id", "0"], ["mac", "06:c2:7c:00:00:1f"], ["handle", "0"], ["state", "4"],
               ["backend", "/local/domain/0/backend/vif/7/0"], ["tx-ring-ref", "768"], ["rx-ring-ref", "769"],
               ["event-channel", "12"], ["request-rx-copy", "1"], ["feature-rx-notify", "1"]]],
    ],
}

# `xm info` on an OVM 3.2 server (xen 4.1.3).
XM_INFO = """host                   : ovm-host-1.example.com
release                : 2.6.39-300.32.4.el5uek
version                : #1 SMP Tue Jul 23 10:00:00 PDT 2013
machine                : x86_64
nr_cpus                : 4
nr_nodes               : 1
cores_per_socket       : 4
threads_per_core       : 1
cpu_mhz                : 2659
hw_caps                : bfebfbff:28100800:00000000:00000140:0098e3fd:00000000:00000001:00000000
virt_caps              : hvm
total_memory           : 32765
free_memory            : 29437
free_cpus              : 0
xen_major              : 4
xen_minor              : 1
xen_extra              : .3OVM
xen_caps               : xen-3.0-x86_64 xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64
xen_scheduler          : credit
xen_pagesize           : 4096
platform_params        : virt_start=0xffff800000000000
xen_changeset          : unavailable
xen_commandline        : dom0_mem=max:1373M allowsuperpage dom0_vcpus_pin dom0_max_vcpus=4
cc_compiler            : gcc version 4.1.2 20080704 (Red Hat 4.1.2-48)
cc_compile_by          : mockbuild
cc_compile_domain      : us.oracle.com
cc_compile_date        : Fri Jun 21 13:00:00 PDT 2013
xend_config_format     : 4
"""


def parse_sxp(text):
    """s-expression text as xm prints it -> nested lists of strings (what xend's own sxp.parse gives)."""
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(ch)
            i += 1
        elif ch in "'\"":
            end = text.index(ch, i + 1)
            tokens.append(("atom", text[i + 1:end]))
            i = end + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "()":
                j += 1
            tokens.append(("atom", text[i:j]))
            i = j
    stack = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token[1])
    assert len(stack) == 1 and len(stack[0]) == 1, "unbalanced s-expression"
    return stack[0][0]


def typed(sxp):
    """The same s-expression with numbers as numbers (xend's XML-RPC server sends ints and floats)."""
    if isinstance(sxp, list):
        return [typed(x) for x in sxp]
    for kind in (int, float):
        try:
            return kind(sxp)
        except ValueError:
            pass
    return sxp


class FakeXend(object):
    """xend's XML-RPC server object (``server.xend...``) over a set of domain s-expressions."""

    def __init__(self, domains):
        self.domains = domains
        self.calls = []
        outer = self

        class Domain(object):
            def __call__(self, name, full=0):
                outer.calls.append(("domain", name, full))
                for sxp in outer.domains:
                    if ovm3_hostio.sxp_value(sxp, "name") == name:
                        return sxp
                raise xmlrpclib.Fault(ovm3_hostio.XEND_ERROR_INVALID_DOMAIN, name)

            def getDeviceSxprs(self, name, kind):
                outer.calls.append(("getDeviceSxprs", name, kind))
                return DEVICE_SXPRS.get((name, kind), [])

        class Xend(object):
            domain = Domain()

            def domains(self, detail):
                outer.calls.append(("domains", detail))
                return list(outer.domains)

        self.xend = Xend()


class XendHost(ovm3_hostio.RealHost):
    """The real host code with xend's socket and the ``xm`` binary replaced."""

    def __init__(self, root, domains, xm_info=(0, XM_INFO, "")):
        ovm3_hostio.RealHost.__init__(self, root)
        self.server = FakeXend(domains)
        self.xm_info = xm_info
        self.commands = []

    def _xend(self):
        return self.server

    def run(self, argv, timeout, stdin_data=None):
        self.commands.append((list(argv), timeout))
        return self.xm_info


VM_DICT = {
    "name": "i-2-7-VM", "domid": 7, "vfb_location": "0.0.0.0:5901", "vbd": [51712, 51728], "vif": [0],
    "cpu_time": 1045.60286007, "start_time": 1699999000.25, "online_vcpus": 2,
    "uuid": "7b5e6a2c-2d9b-4f6e-9c4e-0a6b1e3f5d21", "memory": 1024 * 1048576, "state": "-b----",
}


class SxpParserTest(unittest.TestCase):
    def test_parser_of_the_samples_reads_what_xm_prints(self):
        vm = parse_sxp(XM_LIST_LONG_VM)
        self.assertEqual(vm[0], "domain")
        self.assertEqual(ovm3_hostio.sxp_value(vm, "description"), "")
        self.assertEqual(ovm3_hostio.sxp_value(vm, "cpus"), [[], []])

    def test_domain_from_text_sxp(self):
        vm = parse_sxp(XM_LIST_LONG_VM)
        self.assertEqual(ovm3_hostio.domain_from_sxp(vm, [51712, 51728], [0]), VM_DICT)

    def test_domain_from_typed_sxp(self):
        vm = typed(parse_sxp(XM_LIST_LONG_VM))
        self.assertEqual(ovm3_hostio.sxp_value(vm, "domid"), 7)
        self.assertEqual(ovm3_hostio.domain_from_sxp(vm, [51712, 51728], [0]), VM_DICT)

    def test_dom0_has_no_framebuffer_and_missing_fields_default(self):
        dom0 = ovm3_hostio.domain_from_sxp(parse_sxp(XM_LIST_LONG_DOM0), [], [])
        self.assertEqual((dom0["name"], dom0["domid"], dom0["vfb_location"], dom0["online_vcpus"]),
                         ("Domain-0", 0, None, 4))
        bare = ovm3_hostio.domain_from_sxp(["domain", ["name", "x"], ["domid", "garbage"]], [], [])
        self.assertEqual((bare["domid"], bare["cpu_time"], bare["start_time"]), (-1, 0.0, 0.0))

    def test_console_location_is_not_taken_for_the_vnc_one(self):
        # (device (console (location 2))) comes before the vfb: only a vfb's location is a VNC address.
        vm = parse_sxp(XM_LIST_LONG_VM)
        self.assertEqual(ovm3_hostio.vfb_location(vm), "0.0.0.0:5901")
        without_vfb = [c for c in vm if not (isinstance(c, list) and c[:1] == ["device"] and c[1][0] == "vfb")]
        self.assertEqual(ovm3_hostio.vfb_location(without_vfb), None)

    def test_xm_info_memory(self):
        self.assertEqual(ovm3_hostio.parse_xm_info_memory(XM_INFO), (32765, 29437))
        self.assertRaises(ValueError, ovm3_hostio.parse_xm_info_memory, "host : x\nfree_memory : 12\n")
        self.assertRaises(ValueError, ovm3_hostio.parse_xm_info_memory, "total_memory : lots\nfree_memory : 1\n")


class XendHostTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ovm3-xend-test-")
        self.domains = [parse_sxp(XM_LIST_LONG_DOM0), parse_sxp(XM_LIST_LONG_VM)]
        self.host = XendHost(self.tmp, self.domains)
        ovm3_agent.reset()
        ovm3_agent.set_host(self.host)
        self.guard = PathGuard()
        self.guard.install()

    def tearDown(self):
        self.guard.remove()
        ovm3_agent.reset()
        shutil.rmtree(self.tmp)

    def put(self, path, value):
        local = self.host.local_path(path)
        if not os.path.isdir(os.path.dirname(local)):
            os.makedirs(os.path.dirname(local))
        f = open(local, "w")
        try:
            f.write("%s\n" % value)
        finally:
            f.close()

    def test_xend_domain_full_sxp_and_device_ids(self):
        self.assertEqual(self.host.xend_domain("i-2-7-VM"), VM_DICT)
        self.assertEqual(self.host.server.calls, [
            ("domain", "i-2-7-VM", 1), ("getDeviceSxprs", "i-2-7-VM", "vbd"), ("getDeviceSxprs", "i-2-7-VM", "vif")])

    def test_unknown_domain_is_none_other_faults_propagate(self):
        # xend's fault for an unknown domain carries only the name: the code says what it is.
        self.assertEqual(self.host.xend_domain("i-2-8-VM"), None)
        self.assertTrue(ovm3_hostio.is_unknown_domain_fault(Exception("Domain 'x' does not exist.")))
        self.assertFalse(ovm3_hostio.is_unknown_domain_fault(xmlrpclib.Fault(1, "xend internal error")))

        def broken(name, full=0):
            raise xmlrpclib.Fault(1, "<class 'xen.xend.XendError.XendError'>:xenstore is not answering")
        self.host.server.xend.domain = broken
        self.assertRaises(xmlrpclib.Fault, self.host.xend_domain, "i-2-7-VM")

    def test_list_domains(self):
        listed = self.host.list_domains()
        self.assertEqual([d["name"] for d in listed], ["Domain-0", "i-2-7-VM"])
        self.assertEqual(listed[1], VM_DICT)
        self.assertEqual((listed[0]["vbd"], listed[0]["vif"]), ([], []))
        self.assertEqual(self.host.server.calls[0], ("domains", 1))

    def test_xen_memory_runs_xm_info(self):
        self.assertEqual(self.host.xen_memory(), (32765, 29437))
        self.assertEqual(self.host.commands, [([ovm3_hostio.XM, "info"], 30)])
        self.host.xm_info = (1, "", "Error: Unable to connect to xend: No such file or directory.")
        try:
            self.host.xen_memory()
        except OSError:
            self.assertTrue("Unable to connect to xend" in str(sys.exc_info()[1]))
        else:
            self.fail("xm info failure not raised")

    def test_domu_stats_and_vncport_from_xend_and_sys(self):
        for devid, counters in ((51712, (100, 200, 10, 20)), (51728, (1, 2, 3, 4))):
            for name, value in zip(("rd_sect", "wr_sect", "rd_req", "wr_req"), counters):
                self.put("/sys/devices/vbd-7-%d/statistics/%s" % (devid, name), value)
        self.put("/sys/devices/vif-7-0/net/vif7.0/statistics/rx_bytes", 5000)
        self.put("/sys/devices/vif-7-0/net/vif7.0/statistics/tx_bytes", 3 * 2 ** 31)
        self.host.now = lambda: 1699999100.25
        stats = SERVICES["ovs_domU_stats"]("i-2-7-VM")
        self.assertEqual(stats, {
            "rd_bytes": str(101 * 512), "wr_bytes": str(202 * 512), "rd_ops": "13", "wr_ops": "24",
            "rx_bytes": str(3 * 2 ** 31), "tx_bytes": "5000", "cputime": "1045.603", "uptime": "100.000",
            "vcpus": "2"})
        self.assertEqual(SERVICES["get_vncport"]("i-2-7-VM"), "5901")
        err = self._refused(SERVICES["ovs_domU_stats"], "i-2-9-VM")
        self.assertTrue("not found" in str(err), err)

    def test_backend_counters_under_xen_backend_too(self):
        # xenified dom0 kernels list backend devices below /sys/devices/xen-backend.
        self.put("/sys/devices/xen-backend/vbd-7-51712/statistics/wr_sect", 8)
        self.assertEqual(self.host.vbd_stats(7, 51712), {"rd_sect": 0, "wr_sect": 8, "rd_req": 0, "wr_req": 0})
        self.assertEqual(self.host.vbd_stats(7, 51728), None)

    def test_dom0_stats_memory_from_xm_info(self):
        self.put("/sys/class/net/xenbr0/statistics/rx_bytes", 10)
        self.put("/sys/class/net/xenbr0/statistics/tx_bytes", 20)
        self.put("/proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n")
        ovm3_agent.configure(cpu_sample=0.01)
        stats = SERVICES["ovs_dom0_stats"]("xenbr0")
        self.assertEqual((stats["total"], stats["free"], stats["rx"], stats["tx"]),
                         (str(32765 * 1048576), str(29437 * 1048576), "10", "20"))

    def _refused(self, func, *args):
        try:
            func(*args)
        except ovm3_agent.ServiceError:
            return sys.exc_info()[1]
        self.fail("not refused")


if __name__ == "__main__":
    unittest.main()
