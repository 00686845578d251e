"""The running domains of a host, as the agent's ``list_vms`` shows them."""


def list_domains(resource):
    """The host's running domains as ``{name: VmInfo}`` (:class:`ovm3.parse.vm.VmInfo`), Domain-0 left
    out, straight from the agent."""
    return {vm.name: vm for vm in resource.ask(resource.client.xen.list_vms) if not vm.is_control_domain}
