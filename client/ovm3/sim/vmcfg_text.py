"""vm.cfg text for the simulator: Xen's ``key = value`` Python-literal format.

The rendering and parsing are :mod:`ovm3.vmcfg`'s; this module only orders the keys the way
xm-created files show them.
"""

from ovm3 import vmcfg

# Keys written first, in the order xm-created files show them; the rest follow sorted.
_ORDER = (
    "name",
    "uuid",
    "OVM_simple_name",
    "OVM_description",
    "OVM_domain_type",
    "guest_os_type",
    "memory",
    "maxmem",
    "vcpus",
    "maxvcpus",
    "cpu_cap",
    "cpu_weight",
    "bootloader",
    "bootargs",
    "extra",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "OVM_high_availability",
    "OVM_cpu_compat_group",
    "disk",
    "vif",
    "vfb",
)


def render(params):
    """vm.cfg text for a params dict (as create_vm/configure_vm receive it), in xm's key order."""
    return vmcfg.render_vm_cfg(_ordered(params))


def parse(text):
    """The dict a vm.cfg text assigns (the project's one vm.cfg parser; never executes the text)."""
    return vmcfg.parse_vm_cfg(text)


def _ordered(params):
    keys = [k for k in _ORDER if k in params] + sorted(k for k in params if k not in _ORDER)
    return {k: _plain(params[k]) for k in keys}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
