"""The agent API: the table (one source of truth) and the typed mirrors built from it."""
from ovm3.api.model import VERSIONS, Method, Param, Table, normalise_version, python_name  # noqa: F401
from ovm3.api.table import METHODS

#: Every wire method, indexed. The client, the simulator and the introspection tool all read this.
TABLE = Table(METHODS)
