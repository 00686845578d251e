"""What the agent says about running domains (``list_vms``) and VM definitions (``get_vm_config``)."""

def list_domains(resource):
    """The host's running domains as ``{name: VmInfo}`` (:class:`ovm3.parse.vm.VmInfo`), Domain-0 left
    out, straight from the agent."""
    return {vm.name: vm for vm in resource.ask(resource.client.xen.list_vms) if not vm.is_control_domain}


def vif_entries(config):
    """``vif`` entries of a vm.cfg struct as ``[(mac, bridge, original string)]``."""
    out = []
    for entry in config.get("vif") or []:
        parts = dict(p.split("=", 1) for p in str(entry).split(",") if "=" in p)
        out.append((parts.get("mac", "").lower(), parts.get("bridge", ""), entry))
    return out


def vif_string(mac, bridge):
    return "mac=%s,bridge=%s" % (mac, bridge)
