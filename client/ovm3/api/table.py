"""THE ovs-agent API table: every wire method, listed once.

This table feeds the client mirrors (:mod:`ovm3.api.mirror`), the simulated agent's dispatch
(:mod:`ovm3.sim`) and the introspection snapshots (:mod:`ovm3_tools`). Facts come from
../shared/reference/ovm3-agent-api.md §5 (method reference) and §9 (3.2 vs 3.3), and for our agent
module from agent_module/.

A parameter list is a string of ``name:type`` words. ``name:type=default`` gives a default (a Python
literal), a leading ``!`` marks a secret (redacted in logs and errors), a leading ``~`` marks a name the
reference does not know (the wire carries no names; it is descriptive, not the agent's). Types are wire
types: ``str int long bool struct array any``.
"""
from ovm3.api.model import Method, Area, LONG, SHORT, MEDIUM, VERSIONS  # noqa: F401  (re-exported)

# ---- areas: Python attribute name, title, agent-side module.class (None where unknown) ------------------
LINUX = Area("linux", "Linux host", "agent.api.host.linux", "Linux")
NETWORK = Area("network", "Network", "agent.api.network.linux_network", "LinuxNetwork")
POOL = Area("pool", "Server pool", "agent.api.serverpool", "ServerPool")
POOLFS = Area("poolfs", "Pool filesystem", None, None)
CLUSTER = Area("cluster", "O2CB cluster", "agent.api.cluster.o2cb", "ClusterO2CB")
REPOSITORY = Area("repository", "Repository", "agent.api.repository", "Repository")
STORAGE = Area("storage", "Storage plugin", "agent.api.storageplugin", "StoragePlugin")
XEN = Area("xen", "Xen hypervisor", "agent.api.hypervisor.xenxm", "Xen")
NTP = Area("ntp", "NTP", "agent.api.host.linux", "Linux")
REMOTE = Area("remote", "Remote power", None, None)
COMMON = Area("common", "Common", "agent.api.common", "Common")
# Wire names CloudStack's own agent module (cloudstack.py) serves; our module keeps them unchanged.
CLOUDSTACK = Area("cloudstack", "CloudStack-compatible module services", "ovm3_agent", "OVM3Agent", ours=True)
# Services only our module has.
OVM3 = Area("ovm3", "ovm3 agent module services", "ovm3_agent", "OVM3Agent", ours=True)

# Parameter structures shared by several storage plugin calls (§8).
_SP_FS = "~impl_name:str ~ss:struct ~sd:struct"

METHODS = (
    # ---- Linux (§5.1) -----------------------------------------------------------------------------
    Method("discover_server", LINUX, "", returns="server_info", readonly=True),
    Method("discover_hardware", LINUX, "", returns="hardware_info", readonly=True),
    Method("discover_mounted_file_systems", LINUX, "~fs_type:str", returns="mounted_fs", readonly=True),
    Method("get_last_boot_time", LINUX, "", returns="boot_time", readonly=True),
    Method("get_timezone", LINUX, "", returns="timezone", readonly=True),
    Method("copy_file", LINUX, "~src:str ~dst:str ~sparse:bool=True", returns="void", timeout=LONG),
    Method("update_agent_password", LINUX, "~user:str !~password:str", returns="void",
           sigs={"3.3": "~user:str !~password:str !~old_password:str"},
           note="3.3 added the old password as third argument"),
    Method("set_statistics_interval", LINUX, "~interval:int", returns="void"),
    # ---- Network (§5.2) ---------------------------------------------------------------------------
    Method("discover_network", NETWORK, "", returns="network_info", readonly=True),
    Method("configure_virtual_ip", NETWORK, "~virtual_ip:str ~base_ip:str", returns="void"),
    Method("ovs_ip_config", NETWORK, "~net:str ~optype:str ~ip:str ~netmask:str", returns="void"),
    Method("ovs_local_config", NETWORK, "~action:str ~bridge:str", returns="str"),
    Method("ovs_vlan_config", NETWORK, "~action:str ~net:str ~vlan:int", returns="void"),
    Method("ovs_br_config", NETWORK, "~action:str ~bridge:str ~net:str", returns="str"),
    Method("ovs_vlan_bridge", NETWORK, "~action:str ~bridge:str ~net:str ~vlan:int", returns="str",
           note="reply starts with 'start'/'stop' on 3.2, with 'Added' on 3.3 and later"),
    # ---- Server pool (§5.3) -----------------------------------------------------------------------
    Method("create_server_pool", POOL, "~pool_alias:str ~pool_uuid:str ~pool_virtual_ip:str "
           "~node_number:int ~server_hostname:str ~server_ip:str ~roles:str", returns="void"),
    Method("join_server_pool", POOL, "~pool_alias:str ~pool_uuid:str ~pool_virtual_ip:str "
           "~node_number:int ~server_hostname:str ~server_ip:str ~roles:str", returns="void"),
    Method("leave_server_pool", POOL, "~pool_uuid:str", returns="void"),
    Method("take_ownership", POOL, "manager_uuid:str manager_core_api_url:str", returns="void",
           sigs={"3.3": "~ownership:struct"},
           note="3.3 takes one struct {manager_uuid, manager_event_url, manager_statistic_url, "
                "manager_certificate, signed_server_certificate} and restarts the agent"),
    Method("destroy_server_pool", POOL, "~pool_uuid:str", returns="void"),
    Method("release_ownership", POOL, "~manager_uuid:str", returns="void"),
    Method("discover_server_pool", POOL, "", returns="pool_info", readonly=True),
    Method("update_server_roles", POOL, "~roles:str", returns="void"),
    Method("set_pool_member_ip_list", POOL, "~ips:array", returns="void"),
    # ---- Pool filesystem (§5.4) -------------------------------------------------------------------
    Method("create_pool_filesystem", POOLFS, "~fs_type:str ~fs_target:str ~cluster_id:str ~fs_uuid:str "
           "~nfsbase_uuid:str ~manager_uuid:str ~pool_uuid:str", returns="void", timeout=MEDIUM),
    Method("destroy_pool_filesystem", POOLFS, "~fs_type:str ~fs_target:str ~fs_uuid:str ~nfsbase_uuid:str",
           returns="void", timeout=MEDIUM),
    Method("discover_pool_filesystem", POOLFS, "", returns="poolfs_info", readonly=True),
    Method("ocfs2_get_meta_data", POOLFS, "~device:str ~filename:str", returns="any", readonly=True),
    # ---- O2CB cluster (§5.5) ----------------------------------------------------------------------
    Method("leave_cluster", CLUSTER, "~poolfs_uuid:str", returns="void"),
    Method("configure_server_for_cluster", CLUSTER, "o2cb_conf:struct cluster_conf:struct poolfs_type:str "
           "poolfs_target:str poolfs_uuid:str poolfs_nfsbase_uuid:str", returns="void",
           note="CloudStack sends only poolfs_uuid; the agent signature (Java comment) has six arguments"),
    Method("deconfigure_server_for_cluster", CLUSTER, "~poolfs_uuid:str", returns="void"),
    Method("join_cluster", CLUSTER, "~poolfs_uuid:str", returns="void"),
    Method("discover_cluster", CLUSTER, "", returns="cluster_info", readonly=True),
    Method("update_clusterConfiguration", CLUSTER, "~cluster_conf:any", returns="void"),
    Method("destroy_cluster", CLUSTER, "~poolfs_uuid:str", returns="void"),
    Method("is_cluster_online", CLUSTER, "", returns="bool", readonly=True),
    Method("create_cluster", CLUSTER, "~poolfs_uuid:str", returns="void"),
    # ---- Repository (§5.6) ------------------------------------------------------------------------
    Method("delete_repository", REPOSITORY, "~repo_uuid:str ~erase:bool", returns="void", timeout=LONG),
    Method("import_virtual_disk", REPOSITORY, "~url:str ~virtual_disk_id:str ~repo_uuid:str ~option:str=None",
           returns="void", timeout=LONG),
    Method("discover_repositories", REPOSITORY, "args:str", returns="repositories", readonly=True),
    Method("add_repository", REPOSITORY, "~fs_location:str ~mount_point:str", returns="void"),
    Method("mount_repository_fs", REPOSITORY, "~fs_location:str ~mount_point:str", returns="void",
           timeout=MEDIUM),
    Method("unmount_repository_fs", REPOSITORY, "~mount_point:str", returns="void", timeout=MEDIUM),
    Method("create_repository", REPOSITORY, "~fs_location:str ~mount_point:str ~repo_uuid:str ~repo_alias:str",
           returns="void", timeout=MEDIUM),
    Method("discover_repository_db", REPOSITORY, "", returns="repository_db", readonly=True),
    # ---- Storage plugin (§5.7, §8) ----------------------------------------------------------------
    Method("storage_plugin_create", STORAGE, _SP_FS + " ~file_path:str ~fr_type:str ~size:long",
           returns="file_properties", timeout=LONG),
    Method("storage_plugin_listFileSystems", STORAGE, "~impl_name:str ~ss:struct", returns="fs_info",
           readonly=True),
    Method("storage_plugin_mount", STORAGE, _SP_FS + " ~mount_point:str ~share_path:str ~active:bool "
           "~mount_options:array", returns="fs_info", timeout=MEDIUM),
    Method("storage_plugin_unmount", STORAGE, _SP_FS + " ~mount_point:str ~active:bool", returns="void",
           timeout=MEDIUM),
    Method("discover_storage_plugins", STORAGE, "", returns="storage_plugins", readonly=True),
    Method("storage_plugin_destroy", STORAGE, _SP_FS + " ~fp:struct", returns="void", timeout=LONG),
    Method("storage_plugin_getFileInfo", STORAGE, _SP_FS + " ~fp:struct", returns="file_properties",
           readonly=True),
    Method("storage_plugin_getFileSystemInfo", STORAGE, _SP_FS, returns="fs_info", readonly=True),
    # ---- Xen (§5.8) -------------------------------------------------------------------------------
    Method("list_vms", XEN, "", returns="vm_list", readonly=True),
    Method("delete_vm", XEN, "~repo_id:str ~vm_id:str", returns="void", timeout=MEDIUM),
    Method("list_vm", XEN, "~repo_id:str ~vm_id:str", returns="vm_info", readonly=True),
    Method("configure_vm", XEN, "~repo_id:str ~vm_id:str ~params:struct", returns="void"),
    Method("pause_vm", XEN, "~repo_id:str ~vm_id:str", returns="void"),
    Method("stop_vm", XEN, "~repo_id:str ~vm_id:str ~force:bool=False", returns="void", timeout=MEDIUM),
    Method("migrate_vm", XEN, "~repo_id:str ~vm_id:str ~dest:str ~live:bool=None ~ssl:bool=None",
           returns="void", timeout=LONG),
    Method("configure_vm_ha", XEN, "~repo_id:str ~vm_id:str ~enable_ha:bool", returns="void"),
    Method("create_vm", XEN, "~repo_id:str ~vm_id:str ~params:struct", returns="void", timeout=MEDIUM),
    Method("start_vm", XEN, "~repo_id:str ~vm_id:str", returns="void", timeout=MEDIUM),
    Method("reboot_vm", XEN, "~repo_id:str ~vm_id:str ~wait:int=3", returns="void", timeout=MEDIUM),
    Method("get_vm_config", XEN, "~repo_id:str ~vm_id:str", returns="vm_config", readonly=True),
    # ---- NTP (§5.10) ------------------------------------------------------------------------------
    Method("get_ntp", NTP, "", returns="ntp_info", readonly=True),
    Method("set_ntp", NTP, "~servers:array ~running:bool", returns="void"),
    Method("disable_ntp", NTP, "", returns="void"),
    Method("enable_ntp", NTP, "", returns="void"),
    # ---- Remote (§5.11) ---------------------------------------------------------------------------
    Method("sys_shutdown", REMOTE, "", returns="void"),
    Method("sys_reboot", REMOTE, "", returns="void"),
    # ---- Common (§5.12) ---------------------------------------------------------------------------
    Method("get_api_version", COMMON, "", returns="api_version", readonly=True),
    Method("sleep", COMMON, "~secs:int", returns="void", timeout=LONG),
    Method("dispatch", COMMON, "!~uri:str ~func:str ~args:array", returns="any", timeout=LONG,
           note="the uri embeds the remote agent's credentials"),
    Method("echo", COMMON, "~msg:str", returns="str", readonly=True),
    # ---- CloudStack-compatible module services (§5.9), served by our agent module ------------------
    Method("call", CLOUDSTACK, "msg:any", returns="any", readonly=True),
    Method("get_vncport", CLOUDSTACK, "domain:str", returns="vnc_port", readonly=True),
    Method("ovs_upload_ssh_key", CLOUDSTACK, "keyfile:str !content:str", returns="bool"),
    Method("ovs_upload_file", CLOUDSTACK, "path:str filename:str !content:str", returns="bool"),
    Method("ovs_domr_upload_file", CLOUDSTACK, "domr_ip:str path:str filename:str !content:str",
           returns="bool", timeout=MEDIUM),
    Method("exec_domr", CLOUDSTACK, "ip:str cmd:str timeout:int=120", returns="exec_result", timeout=MEDIUM),
    Method("check_dom0_port", CLOUDSTACK, "ip:str port:int timeout:int=3", returns="bool", readonly=True),
    Method("ovs_dom0_stats", CLOUDSTACK, "bridge:str", returns="dom0_stats", readonly=True),
    Method("ovs_domU_stats", CLOUDSTACK, "domain:str", returns="domu_stats", readonly=True),
    Method("check_domr_port", CLOUDSTACK, "ip:str port:int=3922 timeout:int=3", returns="bool",
           readonly=True),
    Method("check_domr_ssh", CLOUDSTACK, "ip:str port:int=3922 timeout:int=10", returns="bool",
           readonly=True),
    Method("ovs_control_interface", CLOUDSTACK, "dev:str cidr:str", returns="bool"),
    Method("ping", CLOUDSTACK, "host:str count:int=3", returns="bool", readonly=True),
    Method("ovs_check_file", CLOUDSTACK, "filename:str", returns="bool", readonly=True),
    Method("check_dom0_ip", CLOUDSTACK, "ip:str", returns="bool", readonly=True),
    Method("check_dom0_storage_health_check", CLOUDSTACK, "path:str script:str guid:str timeout:int "
           "interval:int", returns="health_check"),
    Method("check_dom0_storage_health", CLOUDSTACK, "path:str script:str guid:str timeout:int",
           returns="bool", readonly=True),
    Method("ovs_mkdirs", CLOUDSTACK, "directory:str mode:int=448", returns="mkdirs"),
    Method("get_module_version", CLOUDSTACK, "", returns="str", readonly=True),
    Method("get_ovs_version", CLOUDSTACK, "", returns="str", readonly=True),
    # ---- services only our module has ---------------------------------------------------------------
    Method("get_api_services", OVM3, "", returns="any", readonly=True),
    Method("get_module_info", OVM3, "", returns="any", readonly=True),
    Method("check_dom0_storage_verdict", OVM3, "guid:str", returns="any", readonly=True,
           note="the three-valued heartbeat verdict of a peer, as recorded by the local daemon"),
    Method("get_host_stats", OVM3, "", returns="host_stats", readonly=True,
           note="one sweep of the host: hypervisor CPU/memory, network, repositories, heartbeat, every domain"),
    Method("heartbeat_release_storage", OVM3, "path:str", returns="any", timeout=MEDIUM,
           note="before a planned unmount: the heartbeat records stopped there and stops monitoring it"),
)
