"""Host paths, ids and names, built by the documented OVM3 naming rules (one function per rule).

Rules (reference: cloudstack-ovm3-resource-layer.md §0.3):

* repository id of a primary pool = the pool UUID without dashes, mounted at ``/OVS/Repositories/<id>``;
* volumes ``<repo>/VirtualDisks/<volume uuid>.raw``, templates ``<repo>/Templates/<uuid>.raw``,
  the system VM ISO ``<repo>/ISOs/systemvm.iso``, VM definitions ``<repo>/VirtualMachines/<vm uuid>/vm.cfg``;
* a VM's id is the name-based (MD5, version 3) UUID of its instance name, without a namespace;
* secondary storage is mounted at ``/nfsmnt/<uuid3 of "host:path">``; the pool's ``VirtualMachines``
  directory at ``/nfsmnt/<pool uuid>``;
* a host's GUID is the name-based UUID of its IP address;
* VLAN bridges are ``<bridge>.<vlan>``; the cluster name is the first 15 characters of the manager id.

Every part taken from a command passes :mod:`ovm3.cloudstack.validate` here, so no function below builds a
path from an unchecked name; :func:`within` confines an absolute input to the repository or mount the
command names (see :func:`repo_file` and :func:`secondary_file`).
"""

import hashlib
import posixpath
import re
import uuid

from ovm3.cloudstack import validate

REPO_ROOT = "/OVS/Repositories"
SECONDARY_ROOT = "/nfsmnt"
VIRTUAL_DISKS = "VirtualDisks"
TEMPLATES = "Templates"
ISOS = "ISOs"
VIRTUAL_MACHINES = "VirtualMachines"
SYSTEMVM_ISO = "systemvm.iso"
RAW = ".raw"
CONTROL_BRIDGE = "control0"
CONTROL_ADDRESS = "169.254.0.1"
CONTROL_NETMASK = "255.255.0.0"
CONTROL_CIDR = "169.254.0.0/16"
CLUSTER_NAME_LENGTH = 15
MAX_VLAN = 4094


def dedash(value):
    """A UUID without its dashes (the form OVM uses for repository and storage-server ids)."""
    return str(value).replace("-", "")


def dashed(value):
    """A 32-hex id in the 8-4-4-4-12 dashed form (already dashed ids pass unchanged)."""
    return str(uuid.UUID(dedash(validate.uuid(str(value), "uuid"))))


def name_uuid(name):
    """The version-3 UUID of the bytes of ``name`` with no namespace (MD5 of the UTF-8 bytes)."""
    digest = bytearray(hashlib.md5(name.encode("utf-8")).digest())
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def vm_uuid(instance_name):
    """The agent's VM id for a CloudStack instance name such as ``i-2-3-VM``."""
    return name_uuid(instance_name)


def host_guid(ip):
    """A host's GUID: the name-based UUID of its IP address string."""
    return name_uuid(ip)


_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_host_guid(text):
    """True for a host guid as CloudStack and the heartbeat config spell it: a dashed UUID, nothing else
    (it reaches the heartbeat's command line and file names)."""
    return isinstance(text, str) and _GUID_RE.fullmatch(text) is not None


def agent_host_guid(registered_ip, server_unique_id):
    """A host's GUID from what its agent reports: :func:`host_guid` of its registered IP, else the
    name-based UUID of its server unique id ("" when the agent reports neither)."""
    if registered_ip:
        return host_guid(registered_ip)
    unique = str(server_unique_id or "").replace(":", "").replace("-", "").lower()
    return name_uuid("ovm3-server:" + unique) if unique else ""


def repo_id(pool_uuid, field="pool uuid"):
    """The OVM repository id of a primary storage pool (its uuid must be a UUID)."""
    return dedash(validate.uuid(pool_uuid, field))


def repo_path(pool_uuid, field="pool uuid"):
    """Mount point of a primary storage pool's repository."""
    return posixpath.join(REPO_ROOT, repo_id(pool_uuid, field))


def _raw(name):
    name = str(name)
    return name if name.endswith(RAW) else name + RAW


def volume_path(pool_uuid, volume_uuid, field="volume"):
    """``/OVS/Repositories/<repo>/VirtualDisks/<volume>.raw`` (``.raw`` added once; a plain name only)."""
    return posixpath.join(repo_path(pool_uuid), VIRTUAL_DISKS, _raw(validate.name(volume_uuid, field)))


def template_path(pool_uuid, template_uuid, field="template"):
    """``/OVS/Repositories/<repo>/Templates/<template>.raw``."""
    return posixpath.join(repo_path(pool_uuid), TEMPLATES, _raw(validate.name(template_uuid, field)))


def snapshot_path(pool_uuid, snapshot_uuid, field="snapshot"):
    """A snapshot on primary storage lives next to the volumes: ``<repo>/VirtualDisks/<snap>.raw``."""
    return volume_path(pool_uuid, snapshot_uuid, field)


def within(root, path, field, shown=None):
    """The part of the normalised absolute ``path`` below ``root``; a path outside it (or ``root``
    itself) is refused as field ``field`` (``shown``: the value as the command gave it)."""
    if not path.startswith(root + "/"):
        raise validate.FieldRefused(field, path if shown is None else shown, "lies outside %s" % root)
    return path[len(root) + 1 :]


def repo_file(pool_uuid, directories, ref, field):
    """A file in a primary repository named by a command: a plain name (``.raw`` added once) is put
    in ``directories[0]``; an absolute path (CloudStack sends some) is accepted only when it is a file
    directly in one of ``directories`` of that same repository."""
    root = repo_path(pool_uuid)
    if isinstance(ref, str) and ref.startswith("/"):
        path = validate.absolute(ref, field)
        parts = within(root, path, field, ref).split("/")
        if len(parts) != 2 or parts[0] not in directories:
            where = " or ".join("%s/%s" % (root, d) for d in directories)
            raise validate.FieldRefused(field, ref, "is not a file in %s" % where)
        validate.name(parts[1], field)
        return path
    return posixpath.join(root, directories[0], _raw(validate.name(ref, field)))


def volume_file(pool_uuid, ref, field="volume path"):
    """A volume named by a command (its uuid, or its absolute path in the pool's ``VirtualDisks``)."""
    return repo_file(pool_uuid, (VIRTUAL_DISKS,), ref, field)


def template_file(pool_uuid, ref, field="template"):
    """A template on primary storage named by a command: a plain name in ``Templates``, or an absolute
    path in that repository's ``Templates`` or ``VirtualDisks`` (where downloaded images land)."""
    return repo_file(pool_uuid, (TEMPLATES, VIRTUAL_DISKS), ref, field)


def systemvm_iso_path(pool_uuid):
    """The system VM ISO in a primary repository."""
    return posixpath.join(repo_path(pool_uuid), ISOS, SYSTEMVM_ISO)


def vm_cfg_path(pool_uuid, instance_name):
    """Where the agent writes a VM's ``vm.cfg``."""
    return posixpath.join(repo_path(pool_uuid), VIRTUAL_MACHINES, vm_uuid(instance_name), "vm.cfg")


def secondary_uuid(nfs_host, nfs_path):
    """Id of a secondary storage share: the name-based UUID of ``"<host>:<path>"``."""
    return name_uuid("%s:%s" % (nfs_host, nfs_path))


def secondary_mount(nfs_host, nfs_path):
    """Mount point of a secondary storage share on dom0."""
    return posixpath.join(SECONDARY_ROOT, secondary_uuid(nfs_host, nfs_path))


def secondary_file(nfs_host, nfs_path, relative, field="secondary storage path"):
    """A file on a secondary share: ``relative`` to its mount, or an absolute path already inside that
    mount; anything else (``..``, another mount, a host path) is refused."""
    mount = secondary_mount(nfs_host, nfs_path)
    if isinstance(relative, str) and relative.startswith("/"):
        return posixpath.join(mount, within(mount, validate.absolute(relative, field), field, relative))
    return posixpath.join(mount, validate.relative(relative, field))


def download_url(url, field="url"):
    """A template URL for ``import_virtual_disk``: http(s) or ftp, or ``file://`` naming a file on a
    mounted secondary share (``/nfsmnt/<share>/...``), never any other host file."""
    text = validate.url(url, field)
    if text.lower().startswith("file://"):
        path = validate.absolute(text[len("file://") :], field)
        if "/" not in within(SECONDARY_ROOT, path, field, url):
            raise validate.FieldRefused(field, url, "is not a file on a share mounted in %s" % SECONDARY_ROOT)
    return text


def nfs_share(nfs_host, nfs_path, host_field="NFS server", path_field="NFS export"):
    """``(server, export path)`` checked: a host name or IPv4 address and a normalised absolute path."""
    return validate.nfs_host(nfs_host, host_field), validate.absolute(nfs_path, path_field)


def pool_vm_mount(pool_uuid):
    """Where the pool's ``VirtualMachines`` directory is mounted (creates the generic fs stamp)."""
    return posixpath.join(SECONDARY_ROOT, dashed(pool_uuid))


def nfs_location(nfs_host, nfs_path):
    """``host:path`` as the agent's repository and pool calls expect it."""
    return "%s:%s" % nfs_share(nfs_host, nfs_path)


def pool_fs_target(nfs_host, nfs_path):
    """The pool filesystem target: the share's ``VirtualMachines`` directory."""
    host, path = nfs_share(nfs_host, nfs_path)
    return "%s:%s/%s" % (host, path.rstrip("/"), VIRTUAL_MACHINES)


def vlan_bridge(bridge, vlan):
    """``<bridge>.<vlan>`` for a VLAN id in 1..4094."""
    vlan = int(vlan)
    if not 1 <= vlan <= MAX_VLAN:
        raise ValueError("VLAN id %d outside 1..%d" % (vlan, MAX_VLAN))
    return validate.bridge("%s.%d" % (bridge, vlan), "VLAN bridge")


def cluster_name(manager_uuid):
    """The OVM cluster name: the first 15 characters of the manager id."""
    return dedash(manager_uuid)[:CLUSTER_NAME_LENGTH]


def download_image_name():
    """File name for a template imported by PrimaryStorageDownloadCommand: a fresh dash-less UUID."""
    return dedash(uuid.uuid4()) + RAW


def repo_of_disk_uname(uname):
    """Repository id of a running VM from its first disk ``file:/OVS/Repositories/<repo>/...``."""
    path = str(uname).split(":", 1)[-1]
    parts = path.split("/")
    if len(parts) < 4 or "/".join(parts[:3]) != REPO_ROOT:
        raise ValueError("disk %r is not in a repository" % (uname,))
    return parts[3]


def parse_nfs_url(url, field="url"):
    """``nfs://host[:port]/path`` or ``host:/path`` -> ``(host, path)``, both checked (:func:`nfs_share`)."""
    if not isinstance(url, str):
        raise validate.FieldRefused(field, url, "must be a string, not %s" % type(url).__name__)
    m = re.fullmatch(r"nfs://([^/:]+)(?::\d{1,5})?(/.*)", url) or re.fullmatch(r"([^/:]+):(/(?!/).*)", url)
    if not m:
        raise validate.FieldRefused(field, url, "is not an NFS location (nfs://host/path or host:/path)")
    return nfs_share(m.group(1), m.group(2), field, field)
