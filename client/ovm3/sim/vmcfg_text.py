"""vm.cfg text for the simulator: Xen's ``key = value`` Python-literal format.

Uses :mod:`ovm3.vmcfg` when the project provides it; this tiny renderer/parser is the fallback and
the reference for what the simulator writes (one assignment per line, Python literals).
"""

import ast

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


def _external():
    try:
        from ovm3 import vmcfg  # written by another part of the project
    except ImportError:
        return None
    if hasattr(vmcfg, "render_vm_cfg") and hasattr(vmcfg, "parse_vm_cfg"):
        return vmcfg
    return None


def render(params):
    """vm.cfg text for a params dict (as create_vm/configure_vm receive it)."""
    ext = _external()
    if ext is not None:
        try:
            return ext.render_vm_cfg(_ordered(params))
        except Exception:  # noqa: BLE001 - fall back to the local renderer on any API mismatch
            pass
    keys = [k for k in _ORDER if k in params] + sorted(k for k in params if k not in _ORDER)
    return "".join("%s = %r\n" % (k, _plain(params[k])) for k in keys)


def parse(text):
    """The dict a vm.cfg text assigns (unknown or malformed lines are skipped)."""
    ext = _external()
    if ext is not None:
        try:
            value = ext.parse_vm_cfg(text)
            if isinstance(value, dict):
                return value
        except Exception:  # noqa: BLE001
            pass
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            out[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            continue
    return out


def _ordered(params):
    keys = [k for k in _ORDER if k in params] + sorted(k for k in params if k not in _ORDER)
    return {k: _plain(params[k]) for k in keys}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
