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
