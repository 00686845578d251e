"""Storage plugin area: the generic NFS plugin's mounts, sized sparse files, file information."""

import os
import shutil

from ovm3.sim import documents
from ovm3.sim.handlers import handles
from ovm3.sim.state import FS_STAMP, AgentError


def _plugin(impl_name):
    names = [p[0] for p in documents.STORAGE_PLUGINS]
    if impl_name not in names:
        raise AgentError("Unknown storage plugin: %s" % impl_name, cls="exceptions.KeyError")
    if impl_name != documents.NFS_PLUGIN:
        raise AgentError(
            "Storage plugin %s needs storage the simulator does not have" % impl_name,
            cls="OSCPlugin.OperationFailedEx",
        )


def _fs_details(h, mount_point, entry):
    st = os.statvfs(h.path(mount_point))
    export = entry["device"]
    return {
        "status": "",
        "uuid": entry.get("ss_uuid", ""),
        "ss_uuid": entry.get("uuid", ""),
        "size": str(st.f_blocks * st.f_frsize),
        "free_sz": str(st.f_bavail * st.f_frsize),
        "state": "1",
        "mount_options": list(entry.get("mount_options", [])),
        "access_grp_names": [],
        "access_path": export,
        "name": "nfs:%s" % export.split(":", 1)[1],
    }


def _find_mount(h, sd):
    uuid = sd.get("uuid", "")
    for mp, m in h.mounts.items():
        if m.get("plugin") and (
            m.get("uuid") == uuid or (sd.get("access_path") and m["device"] == sd.get("access_path"))
        ):
            return mp, m
    return None, None


@handles("discover_storage_plugins")
def discover_storage_plugins(h):
    return documents.discover_storage_plugins(h)


@handles("storage_plugin_mount")
def storage_plugin_mount(h, impl_name, ss, sd, mount_point, share_path, active, mount_options):
    _plugin(impl_name)
    export = sd.get("access_path") or ""
    if ":" not in export:
        export = "%s:%s" % (ss.get("access_host", ""), export)
    if mount_point in h.mounts:
        return None  # already mounted: the agent answers nil
    h.mount(
        export,
        mount_point,
        "nfs",
        extra={
            "plugin": impl_name,
            "uuid": sd.get("uuid", ""),
            "ss_uuid": ss.get("uuid", ""),
            "mount_options": list(mount_options or []),
        },
    )
    with open(os.path.join(h.path(mount_point), FS_STAMP), "w", encoding="utf-8") as f:
        f.write("%s\n" % sd.get("uuid", ""))
    return _fs_details(h, mount_point, h.mounts[mount_point])


@handles("storage_plugin_unmount")
def storage_plugin_unmount(h, impl_name, ss, sd, mount_point, active):
    _plugin(impl_name)
    h.unmount(mount_point)


@handles("storage_plugin_getFileSystemInfo")
def storage_plugin_get_file_system_info(h, impl_name, ss, sd):
    _plugin(impl_name)
    mp, m = _find_mount(h, sd)
    if mp is None:
        raise AgentError("File system %s is not mounted" % sd.get("uuid", ""), cls="OSCPlugin.InvalidValueEx")
    return _fs_details(h, mp, m)


@handles("storage_plugin_listFileSystems")
def storage_plugin_list_file_systems(h, impl_name, ss):
    _plugin(impl_name)
    host = ss.get("access_host", "")
    for mp, m in sorted(h.mounts.items()):
        if m.get("plugin") and m["device"].split(":", 1)[0] == host:
            return _fs_details(h, mp, m)
    raise AgentError("No file systems on storage server %s" % host, cls="OSCPlugin.InvalidValueEx")


def _file_path(ss, file_path):
    if file_path.startswith("/"):
        return file_path
    return "/OVS/Repositories/%s/VirtualDisks/%s" % (ss.get("uuid", ""), file_path)


def _file_props(h, sd, host_path, fr_type=None):
    local = h.path(host_path, must_exist=True)
    st = os.stat(local)
    kind = fr_type or ("Directory" if os.path.isdir(local) else "File")
    return {
        "fr_type": kind,
        "ondisk_sz": str(st.st_blocks * 512),
        "fs_uuid": sd.get("uuid", ""),
        "file_path": host_path,
        "file_sz": str(st.st_size),
    }


@handles("storage_plugin_create")
def storage_plugin_create(h, impl_name, ss, sd, file_path, fr_type, size):
    _plugin(impl_name)
    path = _file_path(ss, file_path)
    local = h.path(path)
    if os.path.lexists(local):
        raise AgentError("[Errno 17] File exists: %r" % path, cls="exceptions.OSError")
    if not os.path.isdir(os.path.dirname(local)):
        raise AgentError("[Errno 2] No such file or directory: %r" % path, cls="exceptions.OSError")
    if fr_type == "Directory":
        os.mkdir(local)
    elif fr_type == "File":
        if size < 0:
            raise AgentError("Invalid size: %d" % size, cls="exceptions.ValueError")
        with open(local, "wb") as f:
            f.truncate(size)  # sparse: no blocks written
    else:
        raise AgentError("Invalid file type: %s" % fr_type, cls="exceptions.ValueError")
    return _file_props(h, sd, path, fr_type)


@handles("storage_plugin_getFileInfo")
def storage_plugin_get_file_info(h, impl_name, ss, sd, fp):
    _plugin(impl_name)
    return _file_props(h, sd, _file_path(ss, fp.get("file_path", "")))


@handles("storage_plugin_destroy")
def storage_plugin_destroy(h, impl_name, ss, sd, fp):
    _plugin(impl_name)
    path = _file_path(ss, fp.get("file_path", ""))
    local = h.path(path, must_exist=True)
    if os.path.isdir(local) and not os.path.islink(local):
        shutil.rmtree(local)
    else:
        os.unlink(local)
