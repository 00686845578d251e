"""Running VMs put straight into a simulated host's state (no repository, no vm.cfg files needed).

The benchmarks need hosts with many domains (500 for list_vms, 10 per host for the fleet poll);
creating them through create_vm/start_vm would measure the simulator's file handling instead.
"""
import uuid

from ovm3.sim.state import Domain

REPO_ID = "0004fb0000030000a1b2c3d4e5f60718"


def vm_config(vm_id, index, name):
    """A vm.cfg dict shaped like the ones OVM Manager writes: two disks, one vif, one vfb."""
    mac = "00:21:f6:%02x:%02x:%02x" % ((index >> 16) & 255, (index >> 8) & 255, index & 255)
    base = "/OVS/Repositories/%s/VirtualDisks" % REPO_ID
    return {
        "name": name,
        "uuid": vm_id,
        "memory": 512,
        "maxmem": 512,
        "vcpus": 2,
        "OVM_domain_type": "xen_pvm",
        "OVM_description": "bench VM %d" % index,
        "OVM_simple_name": name,
        "disk": ["file:%s/%s-root.img,xvda,w" % (base, vm_id),
                 "file:%s/%s-data.img,xvdb,w" % (base, vm_id)],
        "vif": ["mac=%s,bridge=xenbr0" % mac],
        "vfb": ["type=vnc,vncunused=1,vnclisten=127.0.0.1,keymap=en-us"],
        "on_reboot": "restart",
        "on_crash": "restart",
        "on_poweroff": "destroy",
        "bootloader": "/usr/bin/pygrub",
    }


def add_vms(state, count, prefix="bench"):
    """Add ``count`` running domains to ``state`` (a HostState); return their names in domid order.

    Names are CloudStack's (``i-2-1-VM``...), unique on one host, as the agent module's services want.
    """
    names = []
    for i in range(count):
        vm_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s/%s/%d" % (state.hostname, prefix, i))).replace("-", "")
        name = "i-2-%d-VM" % (i + 1)  # a CloudStack VM name: the agent module refuses any other kind
        cfg = vm_config(vm_id, i, name)
        dom = Domain(vm_id, REPO_ID, name, state.new_domid(), cfg["memory"], cfg["vcpus"], 5900 + i, cfg)
        dom.cpu_seconds = 10.0 + i
        state.domains[vm_id] = dom
        names.append(name)
    return names
