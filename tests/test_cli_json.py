"""``--json`` gives every typed result whole: its fields and every public property (one serializer,
``ovm3.cli.output.to_plain``), for every command."""

import dataclasses
import importlib
import inspect
import json
import pkgutil
import typing

import pytest
from click.testing import CliRunner

import ovm3.parse
from ovm3 import vmcfg
from ovm3.cli.main import cli
from ovm3.cli.output import to_plain
from ovm3.sim import simulated_agents


def _typed_result_classes():
    modules = [importlib.import_module("ovm3.parse." + m.name) for m in pkgutil.iter_modules(ovm3.parse.__path__)]
    found = {}
    for mod in modules + [vmcfg]:
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if dataclasses.is_dataclass(cls) and cls.__module__ == mod.__name__:
                found["%s.%s" % (cls.__module__, cls.__name__)] = cls
    return found


def _sample(tp, depth=0):
    """A value of type ``tp`` that every property can work on (``host:/path`` strings, one element)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        return _sample(next(a for a in args if a is not type(None)), depth)
    if origin in (list, typing.List, tuple):
        return [_sample(args[0], depth + 1)] if args and depth < 3 else []
    if origin in (dict, typing.Dict):
        return {"k": _sample(args[1], depth + 1)} if args and depth < 3 else {}
    if dataclasses.is_dataclass(tp):
        return _instance(tp, depth + 1)
    return {str: "nfs-1:/export/primary", int: 3, float: 1.5, bool: True, bytes: b"x"}.get(tp, "x")


def _instance(cls, depth=0):
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name], depth) for f in dataclasses.fields(cls) if f.init})


def _properties(cls):
    return sorted({n for k in cls.__mro__ for n, a in vars(k).items()
                   if isinstance(a, property) and not n.startswith("_")})


TYPED = _typed_result_classes()


def test_the_typed_results_checked_include_every_parse_module():
    assert {"ovm3.parse.storage.Mount", "ovm3.parse.vm.VmInfo", "ovm3.parse.server.ServerInfo",
            "ovm3.vmcfg.VmConfig"} <= set(TYPED), sorted(TYPED)
    converter_modules = {target.split(":")[0] for target in ovm3.parse.CONVERTERS.values()}
    assert converter_modules - {"basic"} <= {name.split(".")[2] for name in TYPED}


@pytest.mark.parametrize("name", sorted(TYPED))
def test_json_of_a_typed_result_has_every_field_and_property(name):
    cls = TYPED[name]
    value = _instance(cls)
    plain = to_plain(value)
    json.dumps(plain)  # JSON-ready all the way down
    for f in dataclasses.fields(cls):
        assert plain[f.name] == to_plain(getattr(value, f.name)), f.name
    for prop in _properties(cls):
        assert prop in plain, "%s.%s is missing from its JSON form" % (name, prop)
        assert plain[prop] == to_plain(getattr(value, prop)), prop


def test_host_mounts_json_names_the_nfs_host_and_remote_dir(tmp_path):
    """Over real sockets against the simulator: CloudStack's FileSystem exposes both, and so does --json."""
    with simulated_agents(1, version="3.3", root=tmp_path / "sim", password="pw-json") as hosts:
        h = hosts[0]
        h.client().repository.mount_repository_fs("nfs-1:/export/primary", "/OVS/Repositories/abc123")
        result = CliRunner().invoke(cli, ["--url", h.url, "--json", "host", "mounts"],
                                    env={"OVM3_PASSWORD": "pw-json"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (mount,) = json.loads(result.output)
    assert mount["host"] == "nfs-1" and mount["remote_dir"] == "/export/primary"
    assert mount["device"] == "nfs-1:/export/primary" and mount["dir"] == "/OVS/Repositories/abc123"
    assert mount["uuid"] == "abc123" and mount["fs_type"] == "nfs"
