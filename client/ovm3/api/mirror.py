"""Area mirrors generated from the table: ``client.linux.discover_server()`` and friends.

One class per area (``LinuxAPI``, ``XenAPI``...), one method per table entry, Python-named
(``storage_plugin_getFileInfo`` -> ``storage_plugin_get_file_info``). Each method checks its arguments
against the table, calls the agent and converts the reply with the converter named by ``returns``.
"""
from ovm3.api import TABLE
from ovm3.errors import ParseError
from ovm3.parse import converter


class AreaAPI:
    """Base of the generated mirrors; ``area`` is the table's Area."""

    area = None

    def __init__(self, client):
        self._client = client

    def __repr__(self):
        return "<%s of %s>" % (type(self).__name__, self._client.host)


def _make_method(method):
    def call(self, *args, raw=False):
        value = self._client.call(method.wire, *args)
        if raw:
            return value
        try:
            return converter(method.returns)(value)
        except ParseError as e:
            e.host = e.host or self._client.host
            e.method = e.method or method.wire
            raise

    call.__name__ = method.py
    call.__qualname__ = method.py
    call.wire = method.wire  # bound methods show it too: resource.ask names its step after it
    call.__doc__ = "%s -> %s%s\n\nWire method %s; pass raw=True for the undecoded reply." % (
        method.usage(), method.returns, ("\n\n" + method.note) if method.note else "", method.wire)
    return call


def _class_name(area):
    return "".join(part.capitalize() for part in area.name.split("_")) + "API"


MIRROR_CLASSES = {}
for _area in TABLE.areas():
    _attrs = {"area": _area, "__doc__": "Mirror of the %s area (%s)." % (_area.title, _area.name)}
    for _m in TABLE.in_area(_area.name):
        _attrs[_m.py] = _make_method(_m)
    MIRROR_CLASSES[_area.name] = type(_class_name(_area), (AreaAPI,), _attrs)


def build_mirrors(client):
    """``{area name: mirror instance}`` for one client."""
    return {name: cls(client) for name, cls in MIRROR_CLASSES.items()}
