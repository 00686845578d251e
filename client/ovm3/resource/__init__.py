"""The CloudStack-facing resource layer: one handler per CloudStack command, over one host's agent.

Entry points: :class:`ovm3.resource.context.HostResource` (``execute(command_name, json)``),
:mod:`ovm3.resource.commands` (the registry), :mod:`ovm3.resource.server` (``ovm3 serve``) and
:mod:`ovm3.resource.demo` (``ovm3 demo``).
"""
