"""The CloudStack day the demo drives through the resource layer (simulated or real hosts).

``run_day(resources, env, report)`` runs the steps in order and stops at the first failure (later steps
depend on earlier ones); ``report(step)`` is called as each step starts and ends. Each step records the
command, host, result, elapsed time and the answer.
"""

import dataclasses
import os
import time
import uuid as uuidlib

from ovm3.cloudstack import answers, naming
from ovm3.cloudstack.cs_fields import java_class
from ovm3.cloudstack.dispatch import describe_error

VM_NAME = "i-2-3-VM"
VLAN = 160
TEMPLATE_PATH = "template/tmpl/2/201/201-2-demo.raw"


@dataclasses.dataclass
class DemoEnv:
    """Storage and names the day uses."""

    primary_uuid: str = "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"
    primary_host: str = "nfs-1"
    primary_path: str = "/export/primary"
    secondary_url: str = "nfs://nfs-1/export/secondary"
    template_path: str = TEMPLATE_PATH
    # fresh per run: handlers refuse to overwrite existing files, and a run again on the same storage
    # (``--yes-modify``) finds the previous run's template copy still on primary
    template_uuid: str = dataclasses.field(default_factory=lambda: str(uuidlib.uuid4()))
    volume_uuid: str = dataclasses.field(default_factory=lambda: str(uuidlib.uuid4()))
    vm_name: str = VM_NAME
    vlan: int = VLAN


@dataclasses.dataclass
class Step:
    """One line of the demo: what ran where, how it ended and how long it took."""

    number: int
    command: str
    host: str
    result: str = "running"
    seconds: float = 0.0
    details: str = ""
    answer: object = None
    long: bool = False


def _primary(env):
    return {
        java_class("PrimaryDataStoreTO"): {
            "uuid": env.primary_uuid,
            "host": env.primary_host,
            "path": env.primary_path,
            "poolType": "NetworkFilesystem",
        }
    }


def _secondary(env):
    return {java_class("NfsTO"): {"_url": env.secondary_url, "_role": "Image"}}


def _pool(env):
    return {
        "uuid": env.primary_uuid,
        "host": env.primary_host,
        "path": env.primary_path,
        "type": "NetworkFilesystem",
        "port": 2049,
    }


def _volume(env):
    return {
        java_class("VolumeObjectTO"): {
            "uuid": env.volume_uuid,
            "path": env.volume_uuid,
            "name": "ROOT-3",
            "volumeType": "ROOT",
            "vmName": env.vm_name,
            "format": "RAW",
            "dataStore": _primary(env),
        }
    }


def _vm(env):
    return {
        "id": 3,
        "name": env.vm_name,
        "type": "User",
        "cpus": 1,
        "speed": 1000,
        "minRam": 512 << 20,
        "maxRam": 512 << 20,
        "os": "Other Linux (64-bit)",
        "bootloader": "PyGrub",
        "enableHA": False,
        "vncPassword": "demo-vnc-secret",
        "uuid": "0f3c2a9e-3a7b-4b4e-8e51-5b1d9d1e6a01",
        "disks": [{"type": "ROOT", "diskSeq": 0, "data": _volume(env)}],
        "nics": [
            {
                "deviceId": 0,
                "mac": "02:00:50:9a:00:01",
                "type": "Guest",
                "broadcastType": "Vlan",
                "broadcastUri": "vlan://%d" % env.vlan,
                "ip": "10.1.1.10",
                "netmask": "255.255.255.0",
                "gateway": "10.1.1.1",
                "defaultNic": True,
            }
        ],
    }


def day_plan(resources, env):
    """The steps: ``[(command, resource, body or callable, long)]``; callables run outside dispatch."""
    first, second = resources[0], resources[1 % len(resources)]
    plan = []
    for r in resources:
        plan.append(("HostSetup", r, lambda r=r: r.setup(), True))
        plan.append(("ReadyCommand", r, {}, False))
        plan.append(("CheckNetworkCommand", r, {"networkInfoList": [{}]}, False))
    for r in resources:
        plan.append(("ModifyStoragePoolCommand", r, {"add": True, "pool": _pool(env)}, True))
    template_src = {
        java_class("TemplateObjectTO"): {
            "path": env.template_path,
            "uuid": env.template_uuid,
            "format": "RAW",
            "imageDataStore": _secondary(env),
        }
    }
    template_dst = {
        java_class("TemplateObjectTO"): {
            "uuid": env.template_uuid,
            "format": "RAW",
            "imageDataStore": _primary(env),
        }
    }
    plan.append(("CopyCommand", first, {"srcTO": template_src, "destTO": template_dst}, True))
    on_primary = {
        java_class("TemplateObjectTO"): {
            "path": env.template_uuid,
            "uuid": env.template_uuid,
            "format": "RAW",
            "imageDataStore": _primary(env),
        }
    }
    plan.append(("CopyCommand", first, {"srcTO": on_primary, "destTO": _volume(env)}, True))
    plan.append(("StartCommand", first, {"vm": _vm(env), "hostIp": first.config.ip}, True))
    plan.append(("GetHostStatsCommand", first, {"hostId": 1}, False))
    plan.append(("GetVmStatsCommand", first, {"vmNames": [env.vm_name]}, False))
    if second is not first:
        plan.append(("PrepareForMigrationCommand", second, {"vm": _vm(env)}, False))
        plan.append(("MigrateCommand", first, {"vmName": env.vm_name, "destIp": second.config.ip}, True))
    plan.append(("StopCommand", second, {"vmName": env.vm_name}, True))
    snapshot = {
        java_class("SnapshotObjectTO"): {
            "name": "demo-snap",
            "vmName": env.vm_name,
            "volume": _volume(env),
            "dataStore": _primary(env),
        }
    }
    plan.append(("CreateObjectCommand", second, {"data": snapshot}, True))
    plan.append(("CopyCommand", second, lambda: None, True))  # snapshot backup, filled in from the answer
    plan.append(("DeleteCommand", second, {"data": _volume(env)}, False))
    for r in reversed(resources):
        plan.append(("DeleteStoragePoolCommand", r, {"_pool": _pool(env)}, True))
    return plan


def _backup_body(env, snapshot_answer):
    snap = answers.body(snapshot_answer)["data"][java_class("SnapshotObjectTO")]
    src = {
        java_class("SnapshotObjectTO"): {
            "path": snap["path"],
            "volume": _volume(env),
            "dataStore": _primary(env),
        }
    }
    dst = {java_class("SnapshotObjectTO"): {"path": "snapshots/2/3", "dataStore": _secondary(env)}}
    return {"srcTO": src, "destTO": dst}


def run_day(resources, env=None, report=None, clock=time.monotonic):
    """Run the day; returns the list of :class:`Step` (the last failed one ends the run)."""
    env = env or DemoEnv()
    report = report or (lambda step: None)
    steps, last = [], None
    for number, (command, resource, body, long_step) in enumerate(day_plan(resources, env), 1):
        step = Step(number, command, resource.host, long=long_step)
        report(step)
        started = clock()
        if command == "CopyCommand" and callable(body):
            body = _backup_body(env, last)
        if callable(body):
            try:
                outcome = body()
                step.answer = {"steps": outcome}
                ok, step.details = True, "; ".join("%s: %s" % pair for pair in outcome or [])
            except Exception as e:  # noqa: BLE001 - a demo step reports, the summary decides the exit code
                ok, step.details = False, "host %s: set-up failed: %s" % (resource.host, describe_error(e))
        else:
            step.answer = resource.execute(command, body)
            ok, step.details = answers.ok(step.answer), answers.body(step.answer).get("details") or ""
            last = step.answer
        step.seconds = clock() - started
        step.result = "ok" if ok else "FAILED"
        steps.append(step)
        report(step)
        if not ok:
            break
    return steps


def prepare_simulated_secondary(hosts, env):
    """Put a template file on the simulated secondary NFS export (what CloudStack's SSVM would do)."""
    host, path = naming.parse_nfs_url(env.secondary_url)
    target = os.path.join(hosts.nfs_dir("%s:%s" % (host, path)), env.template_path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.truncate(64 << 20)  # a sparse 64 MiB "disk image"
    hosts.nfs_dir("%s:%s" % (env.primary_host, env.primary_path))
