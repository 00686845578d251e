"""CloudStack's command and answer objects as they are serialised to JSON: class names and field names.

This is DATA, recorded from apache/cloudstack (paths below are in that repository) so the handlers read
the same JSON the management server sends to a direct-connect agent (Gson field names, polymorphic
transfer objects wrapped as ``{"<java class>": {...}}``). "read" marks files whose text was checked for
this table (apache/cloudstack's main branch; a note says where a field lives in a base class, and
"older layout" means the class is stored only under the pre-Maven ``core/src/com/...`` path, whose
fields the notes compare with later copies). The others follow the same classes as listed in the
Hyper-V agent's type table
(``plugins/hypervisors/hyperv/DotNet/ServerResource/HypervResource/CloudStackTypes.cs``).
"""

API = "com.cloud.agent.api"
STORAGE_API = "com.cloud.agent.api.storage"
STORAGE_CMD = "org.apache.cloudstack.storage.command"
STORAGE_TO = "org.apache.cloudstack.storage.to"
AGENT_TO = "com.cloud.agent.api.to"

#: short class name -> package, for every command we serve and every answer we build.
PACKAGES = {
    "CheckSshCommand": "com.cloud.agent.api.check",
    "CheckSshAnswer": "com.cloud.agent.api.check",
    "CopyCommand": STORAGE_CMD,
    "CopyCmdAnswer": STORAGE_CMD,
    "CreateObjectCommand": STORAGE_CMD,
    "CreateObjectAnswer": STORAGE_CMD,
    "DeleteCommand": STORAGE_CMD,
    "AttachCommand": STORAGE_CMD,
    "AttachAnswer": STORAGE_CMD,
    "DettachCommand": STORAGE_CMD,
    "DettachAnswer": STORAGE_CMD,
    "DetachCommand": STORAGE_CMD,
    "DetachAnswer": STORAGE_CMD,
    "CreateCommand": STORAGE_API,
    "CreateAnswer": STORAGE_API,
    "DestroyCommand": STORAGE_API,
    "CopyVolumeCommand": STORAGE_API,
    "CopyVolumeAnswer": STORAGE_API,
    "CreatePrivateTemplateAnswer": STORAGE_API,
    "PrimaryStorageDownloadCommand": STORAGE_API,
    "PrimaryStorageDownloadAnswer": STORAGE_API,
    "VolumeObjectTO": STORAGE_TO,
    "TemplateObjectTO": STORAGE_TO,
    "SnapshotObjectTO": STORAGE_TO,
    "PrimaryDataStoreTO": STORAGE_TO,
    "NfsTO": AGENT_TO,
    "VolumeTO": AGENT_TO,
    "StorageFilerTO": AGENT_TO,
    "HostVmStateReportCommand": "org.apache.cloudstack",
}


def java_class(short):
    """Fully qualified Java class name for a short command/answer/TO name."""
    return "%s.%s" % (PACKAGES.get(short, API), short)


def short_name(name):
    """``com.cloud.agent.api.StartCommand`` -> ``StartCommand``."""
    return str(name).rsplit(".", 1)[-1]


# Base classes (core/src/main/java/com/cloud/agent/api/Command.java, Answer.java): every command carries
# contextMap and wait; every answer result, details, contextMap and wait.
COMMAND_BASE = ("contextMap", "wait")
ANSWER_BASE = ("result", "details", "contextMap", "wait")

#: short name -> (source path in apache/cloudstack, fields we read or write)
FIELDS = {
    # ---- transfer objects ----
    "VirtualMachineTO": (
        "api/src/main/java/com/cloud/agent/api/to/VirtualMachineTO.java (read)",
        (
            "id",
            "name",
            "bootloader",
            "state",
            "type",
            "cpus",
            "speed",
            "minSpeed",
            "maxSpeed",
            "minRam",
            "maxRam",
            "hostName",
            "arch",
            "os",
            "platformEmulator",
            "bootArgs",
            "enableHA",
            "limitCpuUse",
            "vncPassword",
            "vncAddr",
            "params",
            "uuid",
            "disks",
            "nics",
            "vcpuMaxLimit",
            "bootType",
        ),
    ),
    "NicTO": (
        "api/src/main/java/com/cloud/agent/api/to/NicTO.java + NetworkTO.java "
        "(read; uuid..isolationUri are NetworkTO's)",
        (
            "deviceId",
            "networkRateMbps",
            "defaultNic",
            "nicUuid",
            "uuid",
            "ip",
            "netmask",
            "gateway",
            "mac",
            "dns1",
            "dns2",
            "broadcastType",
            "type",
            "broadcastUri",
            "isolationUri",
            "isSecurityGroupEnabled",
            "name",
            "mtu",
            "details",
        ),
    ),
    "DiskTO": (
        "api/src/main/java/com/cloud/agent/api/to/DiskTO.java (read)",
        ("data", "diskSeq", "path", "type", "details"),
    ),
    "VolumeObjectTO": (
        "core/src/main/java/org/apache/cloudstack/storage/to/VolumeObjectTO.java (read)",
        (
            "uuid",
            "volumeType",
            "dataStore",
            "name",
            "size",
            "path",
            "volumeId",
            "vmName",
            "accountId",
            "format",
            "id",
            "deviceId",
        ),
    ),
    "TemplateObjectTO": (
        "core/src/main/java/org/apache/cloudstack/storage/to/TemplateObjectTO.java (read; its store is "
        "imageDataStore, there is no dataStore field)",
        (
            "path",
            "origUrl",
            "uuid",
            "id",
            "format",
            "accountId",
            "checksum",
            "hvm",
            "name",
            "guestOsType",
            "size",
            "physicalSize",
            "imageDataStore",
            "displayText",
            "uniqueName",
            "hypervisorType",
            "bootable",
            "directDownload",
            "deployAsIs",
        ),
    ),
    "SnapshotObjectTO": (
        "core/src/main/java/org/apache/cloudstack/storage/to/SnapshotObjectTO.java (read)",
        (
            "path",
            "volume",
            "parentSnapshotPath",
            "dataStore",
            "vmName",
            "name",
            "hypervisorType",
            "id",
            "quiescevm",
            "parents",
            "physicalSize",
            "accountId",
        ),
    ),
    "PrimaryDataStoreTO": (
        "core/src/main/java/org/apache/cloudstack/storage/to/PrimaryDataStoreTO.java (read)",
        ("uuid", "name", "type", "id", "poolType", "host", "path", "port", "url", "details", "isManaged"),
    ),
    "NfsTO": ("api/src/main/java/com/cloud/agent/api/to/NfsTO.java (read)", ("_url", "_role", "uuid", "nfsVersion")),
    "StorageFilerTO": (
        "api/src/main/java/com/cloud/agent/api/to/StorageFilerTO.java (read)",
        ("id", "uuid", "host", "path", "userInfo", "port", "type"),
    ),
    "VolumeTO": (
        "api/src/main/java/com/cloud/agent/api/to/VolumeTO.java (read in the index's Apache-licensed copy; "
        "there is no format field)",
        (
            "id",
            "name",
            "mountPoint",
            "path",
            "size",
            "type",
            "storagePoolType",
            "storagePoolUuid",
            "deviceId",
            "chainInfo",
            "guestOsType",
            "cacheMode",
            "chainSize",
        ),
    ),
    "HostTO": (
        "api/src/main/java/com/cloud/agent/api/to/HostTO.java (read)",
        ("guid", "privateNetwork", "publicNetwork", "storageNetwork1", "storageNetwork2", "parent"),
    ),
    "HostStatsEntry": (
        "core/src/main/java/com/cloud/agent/api/HostStatsEntry.java (read; the load field is averageLoad)",
        (
            "hostId",
            "entityType",
            "cpuUtilization",
            "networkReadKBs",
            "networkWriteKBs",
            "totalMemoryKBs",
            "freeMemoryKBs",
            "averageLoad",
        ),
    ),
    "VmStatsEntry": (
        "core/src/main/java/com/cloud/agent/api/VmStatsEntry.java + VmStatsEntryBase.java (read; vmName is "
        "CloudStackTypes.cs's, the Java class has vmId/vmUuid and ignores it)",
        (
            "vmName",
            "vmId",
            "vmUuid",
            "targetMemoryKBs",
            "intFreeMemoryKBs",
            "cpuUtilization",
            "networkReadKBs",
            "networkWriteKBs",
            "diskReadIOs",
            "diskWriteIOs",
            "diskReadKBs",
            "diskWriteKBs",
            "memoryKBs",
            "numCPUs",
            "entityType",
        ),
    ),
    # ---- commands ----
    "StartCommand": (
        "core/src/main/java/com/cloud/agent/api/StartCommand.java (read)",
        ("vm", "hostIp", "executeInSequence", "secondaryStorage", "enableHumanReadableSizes"),
    ),
    "StopCommand": (
        "core/src/main/java/com/cloud/agent/api/StopCommand.java + RebootCommand.java (read)",
        ("vmName", "isProxy", "checkBeforeCleanup", "forceStop", "executeInSequence"),
    ),
    "RebootCommand": (
        "core/src/main/java/com/cloud/agent/api/RebootCommand.java (read)",
        ("vmName", "vm", "executeInSequence"),
    ),
    "MigrateCommand": (
        "core/src/main/java/com/cloud/agent/api/MigrateCommand.java (read)",
        ("vmName", "destIp", "isWindows", "vmTO", "executeInSequence"),
    ),
    "PrepareForMigrationCommand": (
        "core/src/main/java/com/cloud/agent/api/PrepareForMigrationCommand.java (read)",
        ("vm", "rollback"),
    ),
    "CheckVirtualMachineCommand": (
        "core/src/main/java/com/cloud/agent/api/CheckVirtualMachineCommand.java (read)",
        ("vmName",),
    ),
    "GetVncPortCommand": (
        "core/src/main/java/com/cloud/agent/api/GetVncPortCommand.java (read; older layout, name is the VM's)",
        ("id", "name"),
    ),
    "GetVmStatsCommand": (
        "core/src/main/java/com/cloud/agent/api/GetVmStatsCommand.java (read in the index's copies)",
        ("vmNames", "hostGuid", "hostName"),
    ),
    "PlugNicCommand": (
        "core/src/main/java/com/cloud/agent/api/PlugNicCommand.java (read)",
        ("nic", "instanceName", "vmType", "targetVmCpus", "details"),
    ),
    "UnPlugNicCommand": (
        "core/src/main/java/com/cloud/agent/api/UnPlugNicCommand.java (read)",
        ("nic", "instanceName", "vlanToPersistenceMap"),
    ),
    "ReadyCommand": (
        "core/src/main/java/com/cloud/agent/api/ReadyCommand.java (read; no hostUuid or hostName field)",
        (
            "_details",
            "dcId",
            "hostId",
            "msHostList",
            "lbAlgorithm",
            "lbCheckInterval",
            "enableHumanReadableSizes",
        ),
    ),
    "CheckHealthCommand": ("core/src/main/java/com/cloud/agent/api/CheckHealthCommand.java (read)", ()),
    "GetHostStatsCommand": (
        "core/src/main/java/com/cloud/agent/api/GetHostStatsCommand.java (read)",
        ("hostGuid", "hostName", "hostId"),
    ),
    "PingTestCommand": (
        "core/src/main/java/com/cloud/agent/api/PingTestCommand.java (read)",
        ("_computingHostIp", "_routerIp", "_privateIp"),
    ),
    "CheckNetworkCommand": (
        "core/src/main/java/com/cloud/agent/api/CheckNetworkCommand.java (read)",
        ("networkInfoList",),
    ),
    "PhysicalNetworkSetupInfo": (
        "api/src/main/java/com/cloud/network/PhysicalNetworkSetupInfo.java (read)",
        (
            "physicalNetworkId",
            "privateNetworkName",
            "publicNetworkName",
            "guestNetworkName",
            "storageNetworkName",
            "mgmtVlan",
        ),
    ),
    "MaintainCommand": ("core/src/main/java/com/cloud/agent/api/MaintainCommand.java (read; older layout)", ()),
    "FenceCommand": (
        "core/src/main/java/com/cloud/agent/api/FenceCommand.java (read)",
        ("vmName", "hostGuid", "hostIp", "inSeq"),
    ),
    "CheckOnHostCommand": (
        "core/src/main/java/com/cloud/agent/api/CheckOnHostCommand.java (read)",
        ("host", "reportCheckFailureIfOneStorageIsDown"),
    ),
    "CreateStoragePoolCommand": (
        "core/src/main/java/com/cloud/agent/api/CreateStoragePoolCommand.java (read; extends "
        "ModifyStoragePoolCommand, whose add..details it inherits; its own fields are _createDatastore and _details)",
        ("add", "pool", "localPath", "storagePath", "details", "_createDatastore", "_details"),
    ),
    "ModifyStoragePoolCommand": (
        "core/src/main/java/com/cloud/agent/api/ModifyStoragePoolCommand.java (read; pool is a StorageFilerTO)",
        ("add", "pool", "localPath", "storagePath", "details"),
    ),
    "DeleteStoragePoolCommand": (
        "core/src/main/java/com/cloud/agent/api/DeleteStoragePoolCommand.java (read; every field has a leading "
        "underscore: the pool is _pool, unlike ModifyStoragePoolCommand's pool)",
        ("_pool", "_localPath", "_removeDatastore", "_details"),
    ),
    "GetStorageStatsCommand": (
        "core/src/main/java/com/cloud/agent/api/GetStorageStatsCommand.java (read; id is the pool uuid, the "
        "secondary URL is secUrl, not url)",
        ("id", "localPath", "pooltype", "secUrl", "store"),
    ),
    "PrimaryStorageDownloadCommand": (
        "core/src/main/java/com/cloud/agent/api/storage/PrimaryStorageDownloadCommand.java + "
        "AbstractDownloadCommand.java (read; url..name are AbstractDownloadCommand's; the pool is primaryPool)",
        (
            "url",
            "format",
            "accountId",
            "name",
            "poolId",
            "poolUuid",
            "primaryPool",
            "localPath",
            "secondaryStorageUrl",
            "primaryStorageUrl",
        ),
    ),
    "CopyCommand": (
        "core/src/main/java/org/apache/cloudstack/storage/command/CopyCommand.java (read)",
        ("srcTO", "destTO", "cacheTO", "executeInSequence", "options", "options2"),
    ),
    "CreateObjectCommand": (
        "core/src/main/java/org/apache/cloudstack/storage/command/CreateObjectCommand.java (read; older layout "
        "core/src/org/apache/cloudstack/storage/command/)",
        ("data",),
    ),
    "DeleteCommand": (
        "core/src/main/java/org/apache/cloudstack/storage/command/DeleteCommand.java (read)",
        ("data",),
    ),
    "AttachCommand": (
        "core/src/main/java/org/apache/cloudstack/storage/command/AttachCommand.java (read)",
        ("disk", "vmName", "inSeq", "forced", "controllerInfo"),
    ),
    "DettachCommand": (
        "core/src/main/java/org/apache/cloudstack/storage/command/DettachCommand.java (read; managed is _managed)",
        ("disk", "vmName", "_managed", "params", "forced"),
    ),
    "DetachCommand": (
        "core/src/main/java/org/apache/cloudstack/storage/command/DetachCommand.java (read; DettachCommand's "
        "newer name, same fields plus waitDetachDevice; answered by DetachAnswer)",
        ("disk", "vmName", "_managed", "params", "forced", "waitDetachDevice"),
    ),
    "CreateCommand": (
        "core/src/main/java/com/cloud/agent/api/storage/CreateCommand.java (read in the index's Apache-licensed "
        "copy; pool is a StorageFilerTO, diskCharacteristics a DiskProfile: size, name, type...)",
        ("volId", "pool", "diskCharacteristics", "templateUrl", "executeInSequence"),
    ),
    "DestroyCommand": (
        "core/src/main/java/com/cloud/agent/api/storage/DestroyCommand.java (read in the index's copy; volume is "
        "a VolumeTO)",
        ("volume", "vmName"),
    ),
    "CopyVolumeCommand": (
        "core/src/main/java/com/cloud/agent/api/storage/CopyVolumeCommand.java (read)",
        (
            "volumeId",
            "volumePath",
            "pool",
            "secondaryStorageURL",
            "toSecondaryStorage",
            "vmName",
            "executeInSequence",
            "srcData",
            "srcDetails",
        ),
    ),
    "CreatePrivateTemplateFromVolumeCommand": (
        "core/src/main/java/com/cloud/agent/api/CreatePrivateTemplateFromVolumeCommand.java + SnapshotCommand.java "
        "(read; the constructor fills _secondaryStorageUrl and _primaryPool, not SnapshotCommand's secondaryStorageUrl "
        "and primaryPool, which stay null; primaryStoragePoolNameLabel = the pool uuid)",
        (
            "_vmName",
            "_volumePath",
            "_userSpecifiedName",
            "_uniqueName",
            "_templateId",
            "_accountId",
            "_primaryPool",
            "_secondaryStorageUrl",
            "primaryStoragePoolNameLabel",
            "secondaryStorageUrl",
        ),
    ),
    "NetworkUsageCommand": (
        "core/src/main/java/com/cloud/agent/api/NetworkUsageCommand.java (read)",
        ("privateIP", "domRName", "option", "forVpc", "gatewayIP", "vpcCIDR"),
    ),
    "CheckSshCommand": (
        "core/src/main/java/com/cloud/agent/api/check/CheckSshCommand.java (read)",
        ("ip", "port", "interval", "retries", "name"),
    ),
    "PingRoutingCommand": (
        "core/src/main/java/com/cloud/agent/api/PingRoutingCommand.java (read)",
        ("_hostVmStateReport", "_gatewayAccessible", "_vnetAccessible", "hostHealthCheckResult", "hostType", "hostId"),
    ),
    "StartupRoutingCommand": (
        "core/src/main/java/com/cloud/agent/api/StartupRoutingCommand.java + StartupCommand.java (read; type..storageIp"
        "Address are StartupCommand's; hostVmStateReport is not a field of today's class, Gson ignores it)",
        (
            "cpus",
            "speed",
            "memory",
            "dom0MinMemory",
            "caps",
            "hypervisorType",
            "hypervisorVersion",
            "hostDetails",
            "cpuSockets",
            "hostVmStateReport",
            "type",
            "dataCenter",
            "pod",
            "cluster",
            "guid",
            "name",
            "version",
            "privateIpAddress",
            "storageIpAddress",
            "hostHealthCheckResult",
        ),
    ),
    # ---- answers (fields beyond ANSWER_BASE) ----
    "StartAnswer": (
        "core/src/main/java/com/cloud/agent/api/StartAnswer.java (read)",
        ("vm", "hostGuid", "_iqnToData"),
    ),
    "StopAnswer": (
        "core/src/main/java/com/cloud/agent/api/StopAnswer.java (read; extends RebootAnswer, hence vncPort)",
        ("platform", "vncPort"),
    ),
    "RebootAnswer": (
        "core/src/main/java/com/cloud/agent/api/RebootAnswer.java (read; older layout and later copies: vncPort "
        "only, bytesSent/bytesReceived were dropped before Apache's releases)",
        ("vncPort",),
    ),
    "MigrateAnswer": ("core/src/main/java/com/cloud/agent/api/MigrateAnswer.java (read; older layout)", ("vncPort",)),
    "CheckVirtualMachineAnswer": (
        "core/src/main/java/com/cloud/agent/api/CheckVirtualMachineAnswer.java (read; state is a PowerState)",
        ("state", "vncPort"),
    ),
    "GetVncPortAnswer": (
        "core/src/main/java/com/cloud/agent/api/GetVncPortAnswer.java (read)",
        ("address", "port"),
    ),
    "GetVmStatsAnswer": ("core/src/main/java/com/cloud/agent/api/GetVmStatsAnswer.java (read)", ("vmStatsMap",)),
    "GetHostStatsAnswer": (
        "core/src/main/java/com/cloud/agent/api/GetHostStatsAnswer.java (read)",
        ("hostStats",),
    ),
    "CheckOnHostAnswer": (
        "core/src/main/java/com/cloud/agent/api/CheckOnHostAnswer.java (read)",
        ("determined", "alive"),
    ),
    "FenceAnswer": ("core/src/main/java/com/cloud/agent/api/FenceAnswer.java (read; older layout)", ()),
    "CheckNetworkAnswer": (
        "core/src/main/java/com/cloud/agent/api/CheckNetworkAnswer.java (read; older layout: the flag is "
        "_reconnect, needReconnect() is only its getter)",
        ("_reconnect",),
    ),
    "MaintainAnswer": (
        "core/src/main/java/com/cloud/agent/api/MaintainAnswer.java (read; the older layout has no own field, a "
        "later copy in the index adds willMigrate)",
        ("willMigrate",),
    ),
    "ModifyStoragePoolAnswer": (
        "core/src/main/java/com/cloud/agent/api/ModifyStoragePoolAnswer.java (read)",
        ("poolInfo", "templateInfo", "localDatastoreName", "poolType", "datastoreClusterChildren"),
    ),
    "StoragePoolInfo": (
        "api/src/main/java/com/cloud/agent/api/StoragePoolInfo.java (read)",
        ("uuid", "host", "localPath", "hostPath", "poolType", "capacityBytes", "availableBytes", "name", "details"),
    ),
    "GetStorageStatsAnswer": (
        "core/src/main/java/com/cloud/agent/api/GetStorageStatsAnswer.java (read; main has usedBytes, "
        "capacityBytes, capacityIops, usedIops; the index's older version has used and capacity, so both pairs "
        "are written)",
        ("usedBytes", "capacityBytes", "capacityIops", "usedIops", "used", "capacity"),
    ),
    "PrimaryStorageDownloadAnswer": (
        "core/src/main/java/com/cloud/agent/api/storage/PrimaryStorageDownloadAnswer.java (read; older layout)",
        ("installPath", "templateSize"),
    ),
    "CopyCmdAnswer": (
        "core/src/main/java/org/apache/cloudstack/storage/command/CopyCmdAnswer.java (read)",
        ("newData",),
    ),
    "CreateObjectAnswer": (
        "core/src/main/java/org/apache/cloudstack/storage/command/CreateObjectAnswer.java (read; older layout)",
        ("data",),
    ),
    "AttachAnswer": ("core/src/main/java/org/apache/cloudstack/storage/command/AttachAnswer.java (read)", ("disk",)),
    "DetachAnswer": ("core/src/main/java/org/apache/cloudstack/storage/command/DetachAnswer.java (read)", ("disk",)),
    "CreateAnswer": (
        "core/src/main/java/com/cloud/agent/api/storage/CreateAnswer.java (read in the index's Apache-licensed "
        "copy; volume is a VolumeTO)",
        ("volume", "requestTemplateReload"),
    ),
    "CopyVolumeAnswer": (
        "core/src/main/java/com/cloud/agent/api/storage/CopyVolumeAnswer.java (read)",
        ("volumeFolder", "volumePath"),
    ),
    "CreatePrivateTemplateAnswer": (
        "core/src/main/java/com/cloud/agent/api/storage/CreatePrivateTemplateAnswer.java (read)",
        ("_path", "_virtualSize", "_physicalSize", "_uniqueName", "_format"),
    ),
    "NetworkUsageAnswer": (
        "core/src/main/java/com/cloud/agent/api/NetworkUsageAnswer.java (read; older layout)",
        ("routerName", "bytesSent", "bytesReceived"),
    ),
    "HostVmStateReportEntry": (
        "api/src/main/java/com/cloud/agent/api/HostVmStateReportEntry.java (read in the index's copy)",
        ("state", "host"),
    ),
}
