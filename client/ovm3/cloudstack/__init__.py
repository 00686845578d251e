"""The CloudStack-facing resource layer: one handler per CloudStack command, over one host's agent.

Entry points: :class:`ovm3.cloudstack.resource.HostResource` (``execute(command_name, json)``),
:mod:`ovm3.cloudstack.dispatch` (the registry), :mod:`ovm3.cloudstack.server` (``ovm3 serve``) and
:mod:`ovm3.cloudstack.demo` (``ovm3 demo``).
"""
