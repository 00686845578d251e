"""``discover_server`` and ``discover_hardware`` documents (reference §6.1, §6.2) as dataclasses."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from lxml import etree

from ovm3.errors import ParseError
from ovm3.parse.basic import to_flag, to_int
from ovm3.parse.xmldoc import child_map, find_text, parse_document, text_content

PAGE_SIZE = 4096


@dataclass
class ServerInfo:
    """One agent host as ``discover_server`` describes it.

    ``is_master`` and ``master_virtual_ip`` read the tags real agents send (``Is_Current_Master``,
    ``Master_Virtual_Ip``) and fall back to the renamed ones of newer CloudStack test text
    (``Is_Primary``, ``Primary_Virtual_Ip``).
    """

    hostname: str = ""
    unique_id: str = ""
    ovm_version: str = ""
    agent_version: str = ""
    rpm_version: str = ""
    registered_ip: str = ""
    membership_state: str = ""
    pool_unique_id: str = ""
    manager_unique_id: str = ""
    server_roles: List[str] = field(default_factory=list)
    is_master: bool = False
    master_virtual_ip: str = ""
    node_number: Optional[int] = None
    cluster_state: str = ""
    manager_core_api_version: str = ""
    boot_time: Optional[int] = None
    time_zone: str = ""
    utc: Optional[bool] = None
    ntp_running: Optional[bool] = None
    local_time_source: Optional[bool] = None
    cpu_type: str = ""
    os_type: str = ""
    os_name: str = ""
    os_version: str = ""
    host_kernel_release: str = ""
    host_kernel_version: str = ""
    hypervisor_type: str = ""
    hypervisor_name: str = ""
    hypervisor_version: str = ""
    #: VMM/Capabilities, e.g. ``xen-3.0-x86_64 xen-3.0-x86_32p``.
    vmm_capabilities: str = ""
    statistic_interval: Optional[int] = None
    #: Server/Capabilities: feature name -> text (``True``, ``8``...).
    capabilities: Dict[str, str] = field(default_factory=dict)
    #: Every leaf of Server, VMM, VMM/Version, NTP, Date_Time by tag (the reference's ``get(key)``).
    fields: Dict[str, str] = field(default_factory=dict)

    @property
    def is_owned(self):
        """Whether a manager owns this host (``Unowned`` hosts report ``none``)."""
        return self.membership_state not in ("", "Unowned")

    def get(self, key, default=""):
        """A raw value by tag: Server leaves first, then VMM, version, capabilities."""
        if key in self.fields:
            return self.fields[key]
        return self.capabilities.get(key, default)


def _flag(value):
    try:
        return to_flag(value)
    except ParseError:
        return None


def parse_server(value):
    """``discover_server`` reply -> :class:`ServerInfo`."""
    root = parse_document(value, "Discover_Server_Result", "discover_server")
    server = root.find("Server")
    if server is None:
        raise ParseError("discover_server: document has no <Server> element")
    generic = child_map(server)
    fields = {}
    for path in ("Date_Time", "NTP", "VMM", "VMM/Version"):
        el = server.find(path)
        if el is not None:
            fields.update(child_map(el))
    fields.update(generic)
    caps_el = server.find("Capabilities")
    caps = child_map(caps_el) if caps_el is not None else {}
    g = generic.get
    major, minor, extra = (find_text(server, "VMM/Version/" + t, "") for t in ("Major", "Minor", "Extra"))
    # Major.Minor.Extra with Extra's own dots removed: 4, 1, ".3OVM" -> "4.1.3OVM"
    hv_version = ".".join(x for x in (major, minor, extra.replace(".", "")) if x)
    master = g("Is_Current_Master")
    if master is None:
        master = g("Is_Primary")
    vip = g("Master_Virtual_Ip")
    if vip is None:
        vip = g("Primary_Virtual_Ip", "")
    os_version = ".".join(x for x in (g("OS_Major_Version", ""), g("OS_Minor_Version", "")) if x)
    try:
        node_number = to_int(g("Node_Number"), "Node_Number")
    except ParseError:
        node_number = None
    try:
        boot_time = to_int(g("Boot_Time"), "Boot_Time")
    except ParseError:
        boot_time = None
    try:
        interval = to_int(find_text(server, "Statistic/Interval"), "Statistic/Interval")
    except ParseError:
        interval = None
    roles = [r.strip() for r in g("Server_Roles", "").split(",") if r.strip()]
    return ServerInfo(
        hostname=g("Hostname", ""), unique_id=g("Unique_Id", ""), ovm_version=g("OVM_Version", ""),
        agent_version=g("Agent_Version", ""), rpm_version=g("RPM_Version", ""),
        registered_ip=g("Registered_IP", ""), membership_state=g("Membership_State", ""),
        pool_unique_id=g("Pool_Unique_Id", ""), manager_unique_id=g("Manager_Unique_Id", ""),
        server_roles=roles, is_master=bool(_flag(master)), master_virtual_ip=vip or "",
        node_number=node_number, cluster_state=g("Cluster_State", ""),
        manager_core_api_version=g("Manager_Core_API_Version", ""), boot_time=boot_time,
        time_zone=find_text(server, "Date_Time/Time_Zone", ""), utc=_flag(find_text(server, "Date_Time/UTC")),
        ntp_running=_flag(find_text(server, "NTP/Is_NTP_Running")),
        local_time_source=_flag(find_text(server, "NTP/Local_Time_Source")),
        cpu_type=g("CPU_Type", ""), os_type=g("OS_Type", ""), os_name=g("OS_Name", ""), os_version=os_version,
        host_kernel_release=g("Host_Kernel_Release", ""), host_kernel_version=g("Host_Kernel_Version", ""),
        hypervisor_type=g("Hypervisor_Type", ""), hypervisor_name=g("Hypervisor_Name", ""),
        hypervisor_version=hv_version, vmm_capabilities=find_text(server, "VMM/Capabilities", ""),
        statistic_interval=interval, capabilities=caps, fields=fields)


@dataclass
class HardwareInfo:
    """``discover_hardware``: CPU topology, memory in bytes, and the DMI system identity."""

    threads_per_core: int = 0
    cores_per_socket: int = 0
    sockets_per_node: int = 0
    nodes: int = 0
    cpu_khz: int = 0
    total_pages: int = 0
    free_pages: int = 0
    #: Total and free memory in bytes (pages x 4096).
    memory: int = 0
    free_memory: int = 0
    system_uuid: str = ""
    manufacturer: str = ""
    product_name: str = ""
    bios_vendor: str = ""
    bios_version: str = ""
    cpu_models: List[str] = field(default_factory=list)
    iscsi_initiator: str = ""
    #: Every leaf of VMM/PhysicalInfo and DMTF/System by tag.
    fields: Dict[str, str] = field(default_factory=dict)

    @property
    def total_threads(self):
        """Hardware threads of the host (threads x cores x sockets x nodes)."""
        return self.threads_per_core * self.cores_per_socket * self.sockets_per_node * max(self.nodes, 1)


#: Every node parse_hardware reads, in one XPath evaluation (six ElementPath look-ups cost ~4 us each,
#: a quarter of the typed layer; bench part 2). A union is in document order, so the first node of a
#: tag is what ``find`` would return.
_HARDWARE_NODES = etree.XPath(
    "NodeInformation/VMM/PhysicalInfo | NodeInformation/DMTF/System | NodeInformation/DMTF/BIOS/Vendor"
    " | NodeInformation/DMTF/BIOS/Version | NodeInformation/CPUInfo/Proc_Info/CPU/model_name"
    " | NodeInformation/IO/SCSI/ISCSI_Node/Initiatorname")


def parse_hardware(value):
    """``discover_hardware`` reply -> :class:`HardwareInfo`."""
    root = parse_document(value, "Discover_Hardware_Result", "discover_hardware")
    first = {}
    cpus = []
    for el in _HARDWARE_NODES(root):
        if el.tag == "model_name":
            cpus.append(text_content(el))
        elif el.tag not in first:
            first[el.tag] = el
    phys = first.get("PhysicalInfo")
    if phys is None:
        raise ParseError("discover_hardware: document has no NodeInformation/VMM/PhysicalInfo")
    p = child_map(phys)
    system_el = first.get("System")
    system = child_map(system_el) if system_el is not None else {}

    def num(key):
        return to_int(p.get(key), "discover_hardware " + key, 0)

    def text(tag):
        el = first.get(tag)
        return text_content(el) if el is not None else ""

    fields = dict(p)
    fields.update(system)
    return HardwareInfo(
        threads_per_core=num("ThreadsPerCore"), cores_per_socket=num("CoresPerSocket"),
        sockets_per_node=num("SocketsPerNode"), nodes=num("Nodes"), cpu_khz=num("CPUKHz"),
        total_pages=num("TotalPages"), free_pages=num("FreePages"), memory=num("TotalPages") * PAGE_SIZE,
        free_memory=num("FreePages") * PAGE_SIZE, system_uuid=system.get("UUID", ""),
        manufacturer=system.get("Manufacturer", ""), product_name=system.get("ProductName", ""),
        bios_vendor=text("Vendor"), bios_version=text("Version"), cpu_models=cpus,
        iscsi_initiator=text("Initiatorname"), fields=fields)
