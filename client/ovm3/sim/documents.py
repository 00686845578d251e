"""The XML documents the agent returns inside strings (``discover_*``), built from host state.

Element names and nesting follow the recorded agent replies (reference §6); the values come from the
simulator's state. Documents are serialised minidom-style: ``<?xml version="1.0" ?>`` then the root.
"""

import os
import xml.etree.ElementTree as ET

from ovm3.sim.state import FS_STAMP, REPO_DIRS, REPO_META


def _el(parent, tag, text=None, **attrs):
    e = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        e.text = str(text)
    return e


def _leaves(parent, pairs):
    for tag, value in pairs:
        _el(parent, tag, "" if value is None else value)


def _doc(root):
    return '<?xml version="1.0" ?>' + ET.tostring(root, encoding="unicode")


def _bool(v):
    return "True" if v else "False"


SERVER_CAPABILITIES = (
    ("ISCSI", "True"),
    ("BOND_MODE_LINK_AGGREGATION", "True"),
    ("POWER_ON_WOL", "True"),
    ("ALL_VM_CPU_OVERSUBSCRIBE", "True"),
    ("HVM_MAX_VNICS", "8"),
    ("FIBRE_CHANNEL", "True"),
    ("MAX_CONCURRENT_MIGRATION_OUT", "1"),
    ("LOCAL_STORAGE_ELEMENT", "True"),
    ("CLUSTERS", "True"),
    ("CONCURRENT_MIGRATION", "False"),
    ("VM_MEMORY_ALIGNMENT", "1048576"),
    ("MIGRATION_SETUP", "False"),
    ("PER_VM_CPU_OVERSUBSCRIBE", "True"),
    ("BOND_MODE_ACTIVE_BACKUP", "True"),
    ("NFS", "True"),
    ("VM_VNC_CONSOLE", "True"),
    ("MTU_CONFIGURATION", "True"),
    ("HIGH_AVAILABILITY", "True"),
    ("MAX_CONCURRENT_MIGRATION_IN", "1"),
    ("VM_SERIAL_CONSOLE", "True"),
    ("BOND_MODE_ADAPTIVE_LOAD_BALANCING", "True"),
    ("VM_SUSPEND", "True"),
    ("YUM_PACKAGE_MANAGEMENT", "True"),
)


def discover_server(h):
    """``Discover_Server_Result`` (reference §6.1) with the real agent's tag names."""
    from ovm3.sim.state import colon_uuid

    p = h.personality
    root = ET.Element("Discover_Server_Result")
    s = _el(root, "Server")
    _el(s, "Unique_Id", colon_uuid(h.uuid))
    _el(s, "Boot_Time", h.boot_time)
    dt = _el(s, "Date_Time")
    _leaves(dt, (("Time_Zone", h.timezone), ("UTC", _bool(h.utc))))
    ntp = _el(s, "NTP")
    _leaves(ntp, (("Local_Time_Source", _bool(not h.ntp_servers)), ("Is_NTP_Running", _bool(h.ntp_running))))
    _leaves(
        s,
        (
            ("Agent_Version", p.agent_version),
            ("RPM_Version", p.rpm_version),
            ("OVM_Version", p.ovm_version),
            ("CPU_Type", "x86_64"),
            ("OS_Type", "Linux"),
            ("OS_Name", "Oracle VM Server"),
            ("OS_Major_Version", p.os_major),
            ("OS_Minor_Version", p.os_minor),
            ("Hypervisor_Type", "xen"),
            ("Hypervisor_Name", "Xen"),
            ("Host_Kernel_Release", p.kernel_release),
            ("Host_Kernel_Version", p.kernel_version),
        ),
    )
    vmm = _el(s, "VMM")
    ver = _el(vmm, "Version")
    _leaves(ver, (("Major", p.xen_major), ("Minor", p.xen_minor), ("Extra", p.xen_extra)))
    ci = _el(vmm, "Compile_Information")
    _leaves(
        ci,
        (
            ("Compiler", "gcc (simulated)"),
            ("By", "mockbuild"),
            ("Domain", "sim.invalid"),
            ("Date", "simulated build"),
        ),
    )
    _el(vmm, "Capabilities", "xen-3.0-x86_64 xen-3.0-x86_32p")
    _leaves(
        s,
        (
            ("Pool_Unique_Id", h.pool_uuid or "none"),
            ("Manager_Unique_Id", h.manager_uuid or "none"),
            ("Hostname", h.hostname),
            ("Registered_IP", h.ip),
            ("Node_Number", h.node_number),
            ("Server_Roles", h.roles),
            ("Is_Current_Master", "true" if h.is_master else "false"),
            ("Master_Virtual_Ip", h.vip or ""),
            ("Manager_Core_API_Version", p.manager_core_api_version),
            ("Membership_State", h.membership),
            ("Cluster_State", "Online" if h.cluster and h.cluster.get("online") else "Offline"),
        ),
    )
    st = _el(s, "Statistic")
    _el(st, "Interval", h.stat_interval)
    _el(s, "Exports")
    caps = _el(s, "Capabilities")
    _leaves(caps, SERVER_CAPABILITIES)
    return _doc(root)


_SCSI_AHCI = (
    "Active_Mode",
    "Ahci_Host_Cap2",
    "Ahci_Host_Caps",
    "Ahci_Host_Version",
    "Ahci_Port_Cmd",
    "Can_Queue",
    "Cmd_Per_Lun",
    "Em_Message_Supported",
    "Em_Message_Type",
    "Host_Busy",
    "Link_Power_Management_Policy",
    "Proc_Name",
    "Prot_Capabilities",
    "Prot_Guard_Type",
    "Sg_Prot_Tablesize",
    "Sg_Tablesize",
    "State",
    "Supported_Mode",
    "Uevent",
    "Unique_Id",
)
_SYSFS_DEV = (
    ("Broken_Parity_Status", "0"),
    ("Class", "0x010601"),
    ("Consistent_Dma_Mask_Bits", "32"),
    ("Device", "0x2922"),
    ("Dma_Mask_Bits", "32"),
    ("Enable", "1"),
    ("Irq", "58"),
    ("Local_Cpulist", "0-1"),
    ("Msi_Bus", ""),
    ("Msi_Irqs", "58"),
    ("Numa_Node", "-1"),
    ("Subsystem_Device", "0x1100"),
    ("Subsystem_Vendor", "0x1af4"),
    ("Uevent", "DRIVER=ahci"),
    ("Vendor", "0x8086"),
)
_SCSI_VALUES = {
    "Active_Mode": "Initiator",
    "Proc_Name": "ahci",
    "State": "running",
    "Supported_Mode": "Initiator",
    "Can_Queue": "31",
    "Cmd_Per_Lun": "1",
    "Sg_Tablesize": "168",
    "Link_Power_Management_Policy": "max_performance",
}


def discover_hardware(h):
    """``Discover_Hardware_Result`` (reference §6.2): pages follow the host's free memory."""
    from ovm3.sim.state import colon_uuid

    root = ET.Element("Discover_Hardware_Result")
    ni = _el(root, "NodeInformation")
    pi = _el(_el(ni, "VMM"), "PhysicalInfo")
    _leaves(
        pi,
        (
            ("ThreadsPerCore", 1),
            ("CoresPerSocket", max(1, h.cpus // 2)),
            ("SocketsPerNode", 2),
            ("Nodes", 1),
            ("CPUKHz", h.cpu_khz),
            ("TotalPages", h.total_pages()),
            ("FreePages", h.free_pages()),
        ),
    )
    caps = _el(pi, "HW_Caps")
    for i in range(8):
        _el(caps, "Item_%d" % i, "0x%08x" % (i * 0x1111))
    procs = _el(_el(ni, "CPUInfo"), "Proc_Info")
    for i in range(h.cpus):
        cpu = _el(procs, "CPU", ID=i)
        _leaves(
            cpu,
            (
                ("vendor_id", "GenuineIntel"),
                ("cpu_family", 6),
                ("model", 2),
                ("model_name", "Intel Core i7 9xx (Nehalem Class Core i7)"),
                ("stepping", 3),
                ("cache_size", "4096 KB"),
                ("flags", "fpu de tsc msr pae mce cx8 apic lm hypervisor"),
            ),
        )
    io = _el(ni, "IO")
    scsi = _el(io, "SCSI")
    for num in range(2):
        sh = _el(scsi, "SCSI_Host", Num=num)
        for tag in _SCSI_AHCI:
            _el(sh, tag, num + 1 if tag == "Unique_Id" else _SCSI_VALUES.get(tag, "0"))
        _leaves(_el(sh, "SysFSDev"), _SYSFS_DEV)
    iscsi = _el(scsi, "ISCSI_Node")
    _el(iscsi, "Initiatorname", "iqn.1988-12.com.oracle:%s" % h.uuid.replace("-", "")[:12])
    _el(io, "IDE")
    dmtf = _el(ni, "DMTF")
    _el(_el(dmtf, "SMBIOS", Version="2.4.0"), "MaxSize", 48)
    dmi = _el(dmtf, "DMI", Version="2.4")
    _leaves(dmi, (("TableLength", 346), ("Items", 13), ("Buffer", "AAAA")))
    bios = _el(dmtf, "BIOS", Type=0, Item=0, Handle="0x0")
    _leaves(bios, (("Vendor", "Simulated"), ("Version", "sim"), ("ReleaseDate", "01/01/2011")))
    system = _el(dmtf, "System", Type=1, Item=1, Handle="0x100")
    _leaves(
        system, (("UUID", colon_uuid(h.uuid)), ("Manufacturer", "Simulated"), ("ProductName", "ovm3-sim"))
    )
    chassis = _el(dmtf, "Chassis", Type=3, Item=2, Handle="0x300")
    _leaves(chassis, (("Height", "0U"), ("Manufacturer", "Simulated")))
    return _doc(root)


def _nic(parent, name, nic, index):
    d = _el(parent, "Device", Name=name)
    _el(d, "MAC", nic["mac"])
    _el(d, "Flags", "(0x1043) IFF_UP IFF_BROADCAST IFF_RUNNING IFF_MULTICAST")
    mii = _el(d, "MII")
    auto = _el(mii, "Autonegotiate")
    _leaves(auto, (("State", "Incomplete"), ("Speed", "1000baseT-FD")))
    _el(mii, "Link", "ok")
    prod = _el(mii, "Product")
    _leaves(prod, (("Vendor", "00:00:00"), ("Model", 0), ("Revision", 0)))
    _leaves(
        mii,
        (
            ("Status", "autonegotiation complete "),
            ("Capabilities", "1000baseT-FD"),
            ("Advertising", "1000baseT-FD"),
            ("LinkPartner", "1000baseT-FD"),
        ),
    )
    _el(_el(d, "WOL"), "WakeOnLan", "disabled")
    sysfs = _el(d, "SysFS")
    _leaves(
        sysfs,
        (
            ("uevent", "INTERFACE=%sIFINDEX=%d" % (name, index)),
            ("addr_assign_type", 0),
            ("addr_len", 6),
            ("dev_id", "0x0"),
            ("ifalias", None),
            ("iflink", index),
            ("ifindex", index),
            ("features", "0x200041a0"),
            ("type", 1),
            ("link_mode", 0),
            ("carrier", 1),
            ("speed", 1000),
            ("duplex", "full"),
            ("dormant", 0),
            ("operstate", "up"),
            ("mtu", 1500),
            ("flags", "0x1103"),
            ("tx_queue_len", 1000),
            ("netdev_group", 0),
        ),
    )
    _leaves(
        _el(sysfs, "SysFSDev"),
        (
            ("vendor", "0x10ec"),
            ("device", "0x8139"),
            ("subsystem_vendor", "0x1af4"),
            ("subsystem_device", "0x1100"),
            ("class", "0x020000"),
        ),
    )
    _el(d, "BootProto", "none")
    if nic.get("metadata"):
        _el(d, "MetaData", nic["metadata"])


def discover_network(h):
    """``Discover_Network_Result`` (reference §6.4): NICs, bonds and every bridge of the host."""
    root = ET.Element("Discover_Network_Result")
    active = _el(_el(root, "Network"), "Active")
    net = _el(active, "Network")
    for i, (name, nic) in enumerate(sorted(h.nics.items())):
        _nic(net, name, nic, i + 2)
    bonding = _el(active, "Bonding")
    for name, bond in sorted(h.bonds.items()):
        d = _el(bonding, "Device", Name=name)
        _leaves(
            d,
            (
                ("Bonding_Mode", bond["mode"]),
                ("Primary_Slave", "%s (primary_reselect always)" % bond["slaves"][0]),
                ("Currently_Active_Slave", bond["slaves"][0]),
                ("MII_Status", "up"),
                ("MII_Polling_Interval", 250),
                ("Up_Delay", 500),
                ("Down_Delay", 500),
            ),
        )
        for slave in bond["slaves"]:
            s = _el(d, "Slave_Interface", Name=slave)
            _leaves(
                s,
                (
                    ("MII_Status", "up"),
                    ("Speed", "1000 Mbps"),
                    ("Duplex", "full"),
                    ("Link_Failure_Count", 0),
                    ("Permanent_HW_addr", h.nics.get(slave, bond)["mac"].lower()),
                ),
            )
        fam = _el(d, "Family", Type="AF_INET")
        _leaves(fam, (("MAC", bond["mac"]), ("mtu", 1500)))
        _el(d, "BootProto", "none")
    bridges = _el(active, "Bridges")
    for name, br in h.bridges.items():
        d = _el(bridges, "Device", Name=name)
        fam = _el(d, "Family", Type="AF_INET")
        _el(fam, "MAC", br["mac"])
        if br.get("address"):
            _leaves(
                fam, (("Address", br["address"]), ("Netmask", br["netmask"]), ("Broadcast", br["broadcast"]))
            )
        ifs = _el(d, "Interfaces")
        if br.get("phy"):
            _el(ifs, "PhyInterface", br["phy"])
        _el(d, "BootProto", br.get("bootproto", "none"))
    _el(active, "Infiniband")
    return _doc(root)


def discover_server_pool(h):
    """``Discover_Server_Pool_Result`` (reference §6.5); empty element when the host is in no pool."""
    root = ET.Element("Discover_Server_Pool_Result")
    pool = h.world.pools.get(h.pool_uuid) if h.pool_uuid else None
    if pool is not None:
        sp = _el(root, "Server_Pool")
        _leaves(
            sp,
            (("Unique_Id", h.pool_uuid), ("Pool_Alias", pool["alias"]), ("Master_Virtual_Ip", pool["vip"])),
        )
        ml = _el(sp, "Member_List")
        for ip in pool["members"]:
            _el(_el(ml, "Member"), "Registered_IP", ip)
    return _doc(root)


def discover_pool_filesystem(h):
    """``Discover_Pool_Filesystem_Result`` (reference §6.6)."""
    root = ET.Element("Discover_Pool_Filesystem_Result")
    fs = h.poolfs
    if fs:
        p = _el(root, "Pool_Filesystem")
        _leaves(
            p,
            (
                ("Pool_Filesystem_Type", fs["type"]),
                ("Pool_Filesystem_Target", fs["target"]),
                ("Pool_Filesystem_Uuid", fs["uuid"]),
                ("Pool_Filesystem_Nfsbase_Uuid", fs["nfsbase_uuid"]),
                ("Pool_Filesystem_Manager_Uuid", fs["manager_uuid"]),
                ("Pool_Filesystem_Version", "3.0"),
                ("Pool_Filesystem_Pool_Uuid", fs["pool_uuid"]),
            ),
        )
    return _doc(root)


def discover_mounted_file_systems(h, fs_type):
    """``Discover_Mounted_File_Systems_Result`` (reference §6.3) for one file-system type."""
    root = ET.Element("Discover_Mounted_File_Systems_Result")
    fs = _el(root, "Filesystem", Type=fs_type)
    for mp, m in sorted(h.mounts.items()):
        if m["type"] == fs_type:
            mount = _el(fs, "Mount", Dir=mp)
            _leaves(mount, (("Device", m["device"]), ("Mount_Options", m.get("options", "rw"))))
    return _doc(root)


def discover_repository_db(h):
    """``Discover_Repository_Db_Result`` (reference §6.8)."""
    root = ET.Element("Discover_Repository_Db_Result")
    lst = _el(root, "RepositoryDbList")
    for rid, r in sorted(h.repos.items()):
        e = _el(lst, "Repository", Uuid=rid)
        _leaves(
            e,
            (
                ("Fs_location", r["fs_location"]),
                ("Mount_point", r["mount_point"]),
                ("Filesystem_type", r.get("fs_type", "nfs")),
                ("Version", "3.0"),
                ("Alias", r["alias"]),
                ("Manager_uuid", r.get("manager_uuid") or ""),
                ("Status", r["status"]),
            ),
        )
    return _doc(root)


def _listdir(d):
    try:
        return sorted(n for n in os.listdir(d) if not n.startswith("."))
    except OSError:
        return []


def _template(parent, templates_dir, name):
    """One ``Template``: a folder lists its files; a plain image (``<uuid>.raw``, CloudStack's layout) is
    named without ``.raw`` and listed as its one ``File``, as real 3.2.1 agents do."""
    path = os.path.join(templates_dir, name)
    if os.path.isdir(path):
        t = _el(parent, "Template", Name=name)
        for f in _listdir(path):
            _el(t, "File", f)
    else:
        t = _el(parent, "Template", Name=name[: -len(".raw")] if name.endswith(".raw") else name)
        _el(t, "File", name)


def discover_repositories(h, wanted):
    """``Discover_Repositories_Result`` (reference §6.7): what is really in each mounted repository."""
    root = ET.Element("Discover_Repositories_Result")
    lst = _el(root, "RepositoryList")
    ids = [i for i in str(wanted or "").replace(",", " ").split() if i] or sorted(h.repos)
    for rid in ids:
        r = h.repos.get(rid)
        if r is None or r["status"] != "Mounted":
            continue
        base = h.path(r["mount_point"])
        e = _el(lst, "Repository", Name=rid)
        _leaves(
            e,
            (
                ("Version", "3.0"),
                ("Manager_UUID", r.get("manager_uuid") or ""),
                ("Repository_UUID", rid),
                ("Repository_Alias", r["alias"]),
            ),
        )
        _el(e, "Assemblies")
        tpl = _el(e, "Templates")
        for name in _listdir(os.path.join(base, "Templates")):
            _template(tpl, os.path.join(base, "Templates"), name)
        vms = _el(e, "VirtualMachines")
        for name in _listdir(os.path.join(base, "VirtualMachines")):
            v = _el(vms, "VirtualMachine", Name=name)
            for f in _listdir(os.path.join(base, "VirtualMachines", name)):
                _el(v, "File", f)
        disks = _el(e, "VirtualDisks")
        for name in _listdir(os.path.join(base, "VirtualDisks")):
            _el(disks, "Disk", name)
        isos = _el(e, "ISOs")
        for name in _listdir(os.path.join(base, "ISOs")):
            _el(isos, "ISO", name)
    return _doc(root)


_ABILITIES = (
    "resize_is_sync",
    "clone_is_sync",
    "access_control",
    "custom_clone_name",
    "require_storage_name",
    "backing_device_type",
    "splitclone_while_open",
    "custom_snap_name",
    "snapshot",
    "splitclone",
    "snap_is_sync",
    "snapclone",
    "splitclone_is_sync",
    "clone",
    "resize",
    "snapclone_is_sync",
)
STORAGE_PLUGINS = (
    (
        "oracle.ocfs2.OCFS2.OCFS2Plugin",
        (
            ("fs_api_version", "1,2,7"),
            ("generic_plugin", "False"),
            ("plugin_version", "0.1.0-38"),
            ("filesys_type", "LocalFS"),
            ("extended_api_version", "None"),
            ("plugin_desc", "Oracle OCFS2 File system Storage Connect Plugin"),
            ("cluster_required", "True"),
            ("plugin_name", "Oracle OCFS2 File system"),
            ("fs_extra_info_help", "None"),
            ("required_api_vers", "1,2,7"),
            ("file_extra_info_help", "None"),
            ("ss_extra_info_help", "None"),
            ("filesys_name", "ocfs2"),
            ("vendor_name", "Oracle"),
            ("plugin_type", "ifs"),
        ),
        dict(
            resize_is_sync="YES",
            clone_is_sync="YES",
            access_control="NO",
            custom_clone_name="YES",
            require_storage_name="NO",
            backing_device_type="DEVICE_SINGLE",
            splitclone_while_open="NO",
            custom_snap_name="YES",
            snapshot="ONLINE",
            splitclone="UNSUPPORTED",
            snap_is_sync="YES",
            snapclone="ONLINE",
            splitclone_is_sync="NO",
            clone="ONLINE",
            resize="ONLINE",
            snapclone_is_sync="YES",
        ),
    ),
    (
        "oracle.generic.SCSIPlugin.GenericPlugin",
        (
            ("storage_types", "SAN,iSCSI"),
            ("generic_plugin", "True"),
            ("plugin_version", "1.1.0"),
            ("extended_api_version", "1,2,9"),
            ("plugin_desc", "Oracle Storage Connect Plugin for Generic FC and iSCSI"),
            ("plugin_name", "Oracle Generic SCSI Plugin"),
            ("sa_api_version", "1,2,7"),
            ("required_api_vers", "1,2,7"),
            ("ss_extra_info_help", "None"),
            ("se_extra_info_help", "None"),
            ("vendor_name", "Oracle"),
            ("plugin_type", "isa"),
        ),
        dict(
            (a, "NO" if a == "access_control" else "UNSUPPORTED")
            for a in _ABILITIES
            if a not in ("backing_device_type", "splitclone_while_open")
        ),
    ),
    (
        "oracle.generic.NFSPlugin.GenericNFSPlugin",
        (
            ("fs_api_version", "1,2,7"),
            ("generic_plugin", "True"),
            ("plugin_version", "1.1.0"),
            ("filesys_type", "NetworkFS"),
            ("extended_api_version", "None"),
            ("plugin_desc", "Oracle Generic Network File System Storage Connect Plugin"),
            ("cluster_required", "False"),
            ("plugin_name", "Oracle Generic Network File System"),
            ("fs_extra_info_help", "None"),
            ("required_api_vers", "1,2,7"),
            ("file_extra_info_help", "None"),
            ("ss_extra_info_help", "None"),
            ("filesys_name", "NFS"),
            ("vendor_name", "Oracle"),
            ("plugin_type", "ifs"),
        ),
        dict(
            (a, "NO" if a in ("access_control", "require_storage_name") else "UNSUPPORTED")
            for a in _ABILITIES
        ),
    ),
)
NFS_PLUGIN = "oracle.generic.NFSPlugin.GenericNFSPlugin"


def discover_storage_plugins(h):
    """``Discover_Storage_Plugins_Result`` (reference §6.10): the three plugins of a stock host."""
    root = ET.Element("Discover_Storage_Plugins_Result")
    lst = _el(root, "storage_plugin_info_list")
    for name, props, abilities in STORAGE_PLUGINS:
        info = _el(lst, "storage_plugin_info", plugin_impl_name=name)
        _leaves(info, props)
        ab = _el(info, "abilities")
        for a in _ABILITIES:
            if a in abilities:
                _el(ab, a, abilities[a])
    return _doc(root)


def discover_cluster(h):
    """``Discover_Cluster_Result`` (reference §6.9, from Java comments)."""
    root = ET.Element("Discover_Cluster_Result")
    c = h.cluster or {}
    cid = c.get("name", "")
    conf = _el(root, "O2CB_Config")
    _leaves(
        conf,
        (
            ("O2CB_HEARTBEAT_THRESHOLD", 61),
            ("O2CB_RECONNECT_DELAY_MS", 2000),
            ("O2CB_KEEPALIVE_DELAY_MS", 2000),
            ("O2CB_BOOTCLUSTER", cid),
            ("O2CB_IDLE_TIMEOUT_MS", 60000),
            ("O2CB_ENABLED", "true" if c else "false"),
            ("O2CB_STACK", "o2cb"),
        ),
    )
    stored = _el(_el(root, "Cluster_Information"), "Stored")
    if c:
        cl = _el(_el(stored, "Clusters"), "Cluster")
        _leaves(
            cl, (("Name", cid), ("Node_Count", len(c.get("nodes", [])) or 1), ("Heartbeat_Mode", "global"))
        )
        hb = _el(_el(stored, "Heartbeats"), "Heartbeat")
        _leaves(hb, (("Region", c.get("region", "")), ("Cluster", cid)))
        nodes = _el(stored, "Nodes")
        for i, ip in enumerate(c.get("nodes", [h.ip])):
            n = _el(nodes, "Node")
            _leaves(
                n, (("Number", i), ("IP_Port", 7777), ("IP_Address", ip), ("Name", ip), ("Cluster_Name", cid))
            )
    return _doc(root)


def repo_meta_text(repo_id, alias, manager_uuid):
    """The repository metadata file written at the top of every repository."""
    return "OVS_REPO_UUID=%s\nOVS_REPO_VERSION=3.0\nOVS_REPO_MGR_UUID=%s\nOVS_REPO_ALIAS=%s\n" % (
        repo_id,
        manager_uuid or "",
        alias,
    )


def parse_meta(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


__all__ = ["REPO_DIRS", "REPO_META", "FS_STAMP"]
