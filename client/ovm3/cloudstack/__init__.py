"""The CloudStack-facing resource layer: one handler per CloudStack command, over one host's agent.

Entry points: :class:`ovm3.cloudstack.resource.HostResource` (``execute``/``ping``/``startup``/``setup``),
:mod:`ovm3.cloudstack.dispatch` (the dispatcher; the handler table is :mod:`ovm3.cloudstack.registry`),
:mod:`ovm3.cloudstack.server` (``ovm3 serve``) and :mod:`ovm3.cloudstack.demo` (``ovm3 demo``).
"""
