"""The operator's ``ovm3 vm`` commands against two simulated agents: a whole VM life from the CLI, dry runs
compared with the simulator's call log of the real run, refusals and errors."""
import json
import os

import pytest

from ovm3.sim import simulated_agents
from tests.cli_support import as_json, dry_then_real, mutating_calls, ovm3

REPO = "0004fb0000030000aaaa000000000001"
EXPORT = "nfs-1:/export/repo"
MOUNT = "/OVS/Repositories/%s" % REPO
VM = "web1"


@pytest.fixture
def hosts(tmp_path):
    with simulated_agents(count=2, tls=False, root=tmp_path / "sim") as hosts:
        with hosts[0].client() as c:
            c.repository.create_repository(EXPORT, MOUNT, REPO, "demo repo")
        with hosts[1].client() as c:
            c.repository.add_repository(EXPORT, MOUNT)
        base = hosts.nfs_dir(EXPORT)
        os.makedirs(os.path.join(base, "Templates", "ol6"), exist_ok=True)
        with open(os.path.join(base, "Templates", "ol6", "System.img"), "wb") as f:
            f.write(b"\0" * 4096)
        with open(os.path.join(base, "VirtualDisks", "data.img"), "wb") as f:
            f.write(b"\0" * 1024)
        for h in hosts:
            h.calls.clear()
        yield hosts


def test_a_whole_vm_life_from_the_cli(hosts):
    h1, h2 = hosts
    planned, logged, done = dry_then_real(
        h1, "vm", "create", VM, "--repo", REPO, "--template", "ol6/System.img", "--memory", "256",
        "--vcpus", "2", "--nic", "xenbr0", "--nic", "xenbr0:160")
    assert [m for m, _ in planned] == ["copy_file", "ovs_vlan_bridge", "create_vm"]
    assert planned == logged
    uuid = done["vm"]
    assert ovm3(h1, "vm", "list").stdout.strip() == "no VMs running"
    listed = ovm3(h1, "vm", "list", "--all").stdout
    assert VM in listed and "Stopped" in listed and uuid in listed

    planned, logged, _ = dry_then_real(h1, "vm", "start", VM)
    assert planned == logged == [("start_vm", [REPO, uuid])]
    assert as_json(h1, "vm", "show", VM)["vm"]["name"] == VM

    planned, logged, done = dry_then_real(h1, "vm", "migrate", VM, h2.url)
    assert planned == logged == [("migrate_vm", [REPO, uuid, h2.ip])]
    assert done["destination_address"] == h2.ip
    assert [v["name"] for v in as_json(h2, "vm", "list")] == [VM]
    assert as_json(h1, "vm", "list") == []

    planned, logged, done = dry_then_real(h2, "vm", "disk", "attach", VM, "data.img")
    assert [m for m, _ in planned] == [m for m, _ in logged] == ["configure_vm"]
    assert done["device"] == "xvdb"
    cfg = as_json(h2, "vm", "show", VM)["config"]
    assert [d["device"] for d in cfg["disks"]] == ["xvda", "xvdb"]
    assert [v["options"]["bridge"] for v in cfg["vifs"]] == ["xenbr0", "xenbr0.160"]

    planned, logged, _ = dry_then_real(h2, "vm", "stop", VM)
    assert planned == logged == [("stop_vm", [REPO, uuid, False])]
    assert "Stopped" in ovm3(h2, "vm", "list", "--all").stdout

    planned, logged, _ = dry_then_real(h2, "vm", "delete", VM)
    assert planned == logged == [("delete_vm", [REPO, uuid])]
    assert VM not in ovm3(h2, "vm", "list", "--all").stdout
    assert VM not in ovm3(h1, "vm", "list", "--all").stdout


def test_create_prints_the_uuid_alone_on_stdout_and_a_dry_run_lists_calls(hosts):
    h1 = hosts[0]
    dry = ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img", "--dry-run")
    assert "nothing changed" in dry.stdout and "create_vm(" in dry.stdout
    assert VM not in ovm3(h1, "vm", "list", "--all").stdout
    real = ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img")
    uuid = real.stdout.strip()
    assert len(uuid) == 36 and uuid in real.stderr and "created VM web1" in real.stderr
    again = ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img", expect=1)
    assert "already exists" in again.stderr


def test_console_hides_the_password_unless_asked(hosts, tmp_path):
    h1 = hosts[0]
    pw = tmp_path / "vnc-pw"
    pw.write_text("s3cret-vnc\n")
    pw.chmod(0o600)
    for dry in (ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img", "--vnc-password-file",
                     str(pw), "--dry-run"),
                ovm3(h1, "--json", "vm", "create", VM, "--repo", REPO, "--disk", "data.img",
                     "--vnc-password-file", str(pw), "--dry-run")):
        assert "create_vm" in dry.stdout and "s3cret" not in dry.stdout + dry.stderr
    ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img", "--vnc-password-file", str(pw))
    ovm3(h1, "vm", "start", VM)
    out = ovm3(h1, "vm", "console", VM).stdout
    assert out.strip().split(":")[-1].isdigit() and "s3cret" not in out
    assert "s3cret" not in ovm3(h1, "--json", "vm", "show", VM).stdout
    assert "s3cret" not in ovm3(h1, "--json", "vm", "list", "--all").stdout
    assert "password: s3cret-vnc" in ovm3(h1, "vm", "console", VM, "--show-password").stdout


def test_nic_add_and_remove_on_a_stopped_vm(hosts):
    h1 = hosts[0]
    ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img")
    planned, logged, done = dry_then_real(h1, "vm", "nic", "add", VM, "xenbr0,mac=00:21:f6:00:00:01")
    assert [m for m, _ in planned] == [m for m, _ in logged] == ["configure_vm"]
    assert done["mac"] == "00:21:f6:00:00:01"
    dup = ovm3(h1, "vm", "nic", "add", VM, "xenbr0,mac=00:21:F6:00:00:01", expect=2)
    assert "already has" in dup.stderr
    ovm3(h1, "vm", "nic", "remove", VM, "00:21:f6:00:00:01")
    assert as_json(h1, "vm", "show", VM)["config"]["vifs"] == []
    assert "no NIC" in ovm3(h1, "vm", "nic", "remove", VM, "00:21:f6:00:00:01", expect=1).stderr


def test_bad_input_is_a_usage_error_before_any_call(hosts):
    h1 = hosts[0]
    for args in (["vm", "create", "../x", "--repo", REPO, "--disk", "data.img"],
                 ["vm", "create", VM, "--repo", REPO, "--disk", "../../etc/passwd"],
                 ["vm", "create", VM, "--repo", REPO, "--disk", "data.img", "--nic", "xenbr0:9999"],
                 ["vm", "create", VM, "--repo", REPO, "--disk", "data.img", "--nic", "br;rm"],
                 ["vm", "create", VM, "--repo", "not-a-repo", "--disk", "data.img"]):
        h1.calls.clear()
        ovm3(h1, *args, expect=2)
        assert mutating_calls(h1) == []


def test_migrate_checks_the_destination_first(hosts):
    h1, h2 = hosts
    ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img")
    ovm3(h1, "vm", "start", VM)
    with h2.client() as c:
        c.repository.unmount_repository_fs(MOUNT)
    h1.calls.clear()
    err = ovm3(h1, "vm", "migrate", VM, h2.url, expect=1).stderr
    assert "not mounted on the destination" in err and "127.0.0.1:%d" % h2.port in err
    assert mutating_calls(h1) == []
    assert ovm3(h1, "vm", "migrate", VM, h1.url, expect=2).stderr


def test_a_host_owned_by_a_manager_is_refused_without_yes(hosts):
    h1 = hosts[0]
    h1.state.manager_uuid, h1.state.membership = "0123456789abcdef0123456789abcdef", "Owned"
    h1.calls.clear()
    err = ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img", expect=1).stderr
    assert "managed by manager 0123456789abcdef" in err and "--yes" in err
    assert mutating_calls(h1) == []
    ovm3(h1, "vm", "create", VM, "--repo", REPO, "--disk", "data.img", "--yes")
    assert [m for m, _ in mutating_calls(h1)] == ["create_vm"]


def test_start_of_a_missing_vm_names_the_host(hosts):
    err = ovm3(hosts[0], "vm", "start", "ghost", expect=1).stderr
    assert "no VM named ghost" in err and "127.0.0.1" in err and "vm list --all" in err


def test_the_same_life_as_real_processes_with_profiles(hosts, tmp_path):
    """``python -m ovm3`` processes, hosts picked by profile (-H before or after the subcommand)."""
    import subprocess
    import sys

    h1, h2 = hosts
    pw = tmp_path / "pw"
    pw.write_text(h1.password + "\n")
    pw.chmod(0o600)
    env = dict(os.environ, OVM3_CONFIG=str(tmp_path / "config.toml"))
    env.pop("OVM3_PASSWORD", None)
    env.pop("OVM3_URL", None)

    def sh(*args):
        done = subprocess.run([sys.executable, "-m", "ovm3"] + list(args), env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    sh("config", "add", "one", "--url", h1.url, "--password-file", str(pw))
    sh("config", "add", "two", "--url", h2.url, "--password-file", str(pw))
    uuid = sh("-H", "one", "vm", "create", VM, "--repo", REPO, "--disk", "data.img").strip()
    sh("vm", "start", VM, "-H", "one")
    sh("-H", "one", "vm", "migrate", VM, "two")
    assert json.loads(sh("vm", "list", "--json", "-H", "two"))[0]["uuid"] == uuid
    sh("-H", "two", "vm", "stop", VM)
    sh("-H", "two", "vm", "delete", VM)
    assert VM not in sh("-H", "one", "vm", "list", "--all")
