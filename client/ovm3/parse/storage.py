"""Storage: mounted file systems (§6.3), storage plugins (§6.10) and the storage plugin structs (§8)."""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ovm3.errors import ParseError
from ovm3.parse.basic import clean, expect, to_int, type_name
from ovm3.parse.xmldoc import child_map, parse_document


@dataclass
class Mount:
    """One mounted file system: ``host:/path`` on ``dir``. ``uuid`` is the last component of ``dir``."""

    dir: str
    device: str = ""
    fs_type: str = ""
    mount_options: str = ""

    @property
    def uuid(self):
        return self.dir.rstrip("/").rsplit("/", 1)[-1]

    @property
    def host(self):
        return self.device.split(":", 1)[0] if ":" in self.device else ""

    @property
    def remote_dir(self):
        return self.device.split(":", 1)[1] if ":" in self.device else self.device


@dataclass
class MountedFilesystems:
    """``discover_mounted_file_systems``: mounts by mount point, in document order."""

    mounts: Dict[str, Mount] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.mounts.values())

    def __len__(self):
        return len(self.mounts)

    def by_dir(self, directory):
        return self.mounts.get(directory)

    def by_uuid(self, uuid):
        for m in self.mounts.values():
            if m.uuid == uuid:
                return m
        return None


def parse_mounted_fs(value):
    """``discover_mounted_file_systems`` reply -> :class:`MountedFilesystems`."""
    root = parse_document(value, "Discover_Mounted_File_Systems_Result", "discover_mounted_file_systems")
    out = MountedFilesystems()
    for fs in root.iterfind("Filesystem"):
        fs_type = fs.get("Type", "")
        for mount in fs.iterfind("Mount"):
            d = mount.get("Dir")
            if not d:
                continue
            m = child_map(mount)
            out.mounts[d] = Mount(d, device=m.get("Device", ""), fs_type=fs_type,
                                  mount_options=m.get("Mount_Options", ""))
    return out


@dataclass
class StoragePlugin:
    """One storage plugin: its properties (plugin_version, plugin_type...) and abilities."""

    impl_name: str
    properties: Dict[str, str] = field(default_factory=dict)
    abilities: Dict[str, str] = field(default_factory=dict)

    @property
    def version(self):
        return self.properties.get("plugin_version", "")

    @property
    def plugin_type(self):
        return self.properties.get("plugin_type", "")

    @property
    def name(self):
        return self.properties.get("plugin_name", "")


@dataclass
class StoragePlugins:
    """``discover_storage_plugins``: plugins by implementation name, in document order."""

    plugins: Dict[str, StoragePlugin] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.plugins.values())

    def __len__(self):
        return len(self.plugins)

    def names(self):
        return list(self.plugins)

    def get(self, impl_name):
        return self.plugins.get(impl_name)

    def find(self, kind):
        """The first plugin whose name contains ``kind`` (``nfs``, ``scsi``, ``ocfs2``; any case)."""
        pattern = re.compile(re.escape(kind), re.I)
        for name, plugin in self.plugins.items():
            if pattern.search(name):
                return plugin
        return None


def parse_storage_plugins(value):
    """``discover_storage_plugins`` reply -> :class:`StoragePlugins` (nil gives none)."""
    if value is None:
        return StoragePlugins()
    root = parse_document(value, "Discover_Storage_Plugins_Result", "discover_storage_plugins")
    out = StoragePlugins()
    for info in root.iterfind("storage_plugin_info_list/storage_plugin_info"):
        name = info.get("plugin_impl_name")
        if not name:
            continue
        ab = info.find("abilities")
        out.plugins[name] = StoragePlugin(name, child_map(info), child_map(ab) if ab is not None else {})
    return out


@dataclass
class FileProperties:
    """``storage_plugin_create`` / ``getFileInfo``: one file on a storage plugin file system."""

    file_path: str
    size: Optional[int] = None
    ondisk_size: Optional[int] = None
    fr_type: str = ""
    fs_uuid: str = ""


def _struct_str(value, key, what):
    v = value.get(key, "")
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ParseError("%s: %s must be a string, got %s" % (what, key, type_name(v)))
    return v.strip()


def to_file_properties(value):
    """struct ``{fr_type, ondisk_sz, fs_uuid, file_path, file_sz}`` (sizes as strings) -> FileProperties."""
    what = "file properties"
    expect(value, dict, what)
    if "file_path" not in value:
        raise ParseError("%s: reply has no file_path" % what)
    return FileProperties(
        file_path=_struct_str(value, "file_path", what), size=to_int(value.get("file_sz"), "file_sz"),
        ondisk_size=to_int(value.get("ondisk_sz"), "ondisk_sz"), fr_type=_struct_str(value, "fr_type", what),
        fs_uuid=_struct_str(value, "fs_uuid", what))


@dataclass
class FsInfo:
    """A storage plugin file system (StorageDetails): sizes in bytes, ``ss_uuid`` its storage server."""

    uuid: str
    ss_uuid: str = ""
    name: str = ""
    access_path: str = ""
    size: Optional[int] = None
    free_size: Optional[int] = None
    state: Optional[int] = None
    status: str = ""
    mount_options: List[str] = field(default_factory=list)
    access_grp_names: List[str] = field(default_factory=list)


def _str_list(value, key, what):
    v = value.get(key) or []
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise ParseError("%s: %s must be an array of strings" % (what, key))
    return list(v)


def to_fs_info(value):
    """StorageDetails struct -> :class:`FsInfo`; nil (mount: "already mounted") gives None."""
    if value is None:
        return None
    what = "file system info"
    expect(value, dict, what)
    if "uuid" not in value:
        raise ParseError("%s: reply has no uuid" % what)
    return FsInfo(
        uuid=_struct_str(value, "uuid", what), ss_uuid=_struct_str(value, "ss_uuid", what),
        name=_struct_str(value, "name", what), access_path=_struct_str(value, "access_path", what),
        size=to_int(value.get("size"), "size"), free_size=to_int(value.get("free_sz"), "free_sz"),
        state=to_int(value.get("state"), "state"), status=clean(value.get("status")) or "",
        mount_options=_str_list(value, "mount_options", what),
        access_grp_names=_str_list(value, "access_grp_names", what))
