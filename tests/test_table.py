"""The API table against its consumers: every result kind has a converter, every method a mirror."""
import importlib

import pytest

from ovm3.api import TABLE
from ovm3.api.mirror import MIRROR_CLASSES, build_mirrors
from ovm3.client import AgentClient
from ovm3.parse import CONVERTERS, converter


def test_every_returns_kind_has_a_converter():
    kinds = {m.returns for m in TABLE}
    assert kinds <= set(CONVERTERS), kinds - set(CONVERTERS)
    for kind in kinds:
        assert callable(converter(kind))


@pytest.mark.parametrize("kind", sorted(CONVERTERS))
def test_every_converter_target_exists(kind):
    module, name = CONVERTERS[kind].split(":")
    fn = getattr(importlib.import_module("ovm3.parse." + module), name)
    assert callable(fn) and fn.__doc__


def test_mirrors_expose_every_table_method():
    client = AgentClient("http://127.0.0.1:9", password="x", agent_version="3.3")
    mirrors = build_mirrors(client)
    assert set(mirrors) == {a.name for a in TABLE.areas()}
    for method in TABLE:
        bound = getattr(getattr(client, method.area.name), method.py)
        assert callable(bound) and method.wire in bound.__doc__
        assert getattr(MIRROR_CLASSES[method.area.name], method.py).__name__ == method.py


def test_wire_names_are_unique_and_python_names_do_not_collide_per_area():
    assert len({m.wire for m in TABLE}) == len(TABLE)
    for area in TABLE.areas():
        names = [m.py for m in TABLE.in_area(area.name)]
        assert len(names) == len(set(names))


def test_the_client_and_the_simulated_agent_share_one_argument_type_rule():
    from ovm3.api.model import Param
    from ovm3.errors import SignatureError
    from ovm3.sim import dispatch as sim_dispatch
    from ovm3.sim.state import AgentError

    count = Param("count", "int")
    assert count.accepts(3) and not count.accepts(True) and not count.accepts("3")
    ping = TABLE.get("ping")
    with pytest.raises(SignatureError):
        ping.bind(("h", True), "3.3")
    with pytest.raises(AgentError):
        sim_dispatch.check_signature(ping, "3.3", ("h", True))
    assert not hasattr(sim_dispatch, "_PY_TYPES")
