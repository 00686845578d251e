"""Typed results: one converter per ``returns`` kind named in the API table.

``convert(kind, value)`` is what the client mirrors call on every raw reply. Converters raise only
:class:`ovm3.errors.ParseError` on bad input (hostile or malformed XML, wrong XML-RPC types).
"""
import importlib

from ovm3.errors import ParseError

# kind -> "module:function" inside ovm3.parse (imported on first use so the CLI starts fast).
CONVERTERS = {
    "void": "basic:to_void",
    "any": "basic:to_any",
    "str": "basic:to_str",
    "bool": "basic:to_bool",
    "mkdirs": "basic:to_mkdirs",
    "vnc_port": "basic:to_vnc_port",
    "api_version": "basic:to_api_version",
    "boot_time": "basic:to_boot_time",
    "timezone": "basic:to_timezone",
    "ntp_info": "basic:to_ntp",
    "exec_result": "basic:to_exec_result",
    "health_check": "basic:to_health_check",
    "server_info": "server:parse_server",
    "hardware_info": "server:parse_hardware",
    "network_info": "network:parse_network",
    "mounted_fs": "storage:parse_mounted_fs",
    "pool_info": "pool:parse_pool",
    "poolfs_info": "pool:parse_poolfs",
    "cluster_info": "pool:parse_cluster",
    "repositories": "repository:parse_repositories",
    "repository_db": "repository:parse_repository_db",
    "storage_plugins": "storage:parse_storage_plugins",
    "file_properties": "storage:to_file_properties",
    "fs_info": "storage:to_fs_info",
    "vm_list": "vm:to_vm_list",
    "vm_info": "vm:to_vm_info",
    "vm_config": "vm:to_vm_config",
    "dom0_stats": "stats:to_dom0_stats",
    "domu_stats": "stats:to_domu_stats",
    "host_stats": "hoststats:to_host_stats",
}
_cache = {}


def converter(kind):
    """The function for one ``returns`` kind."""
    fn = _cache.get(kind)
    if fn is None:
        try:
            target = CONVERTERS[kind]
        except KeyError:
            raise ParseError("no converter for result kind %r" % kind) from None
        mod, name = target.split(":")
        fn = getattr(importlib.import_module("ovm3.parse." + mod), name)
        _cache[kind] = fn
    return fn


def convert(kind, value):
    return converter(kind)(value)
