"""``ovm3 repo add|remove``, ``storage mount|unmount|list``, ``pool create|join|leave`` against two simulated
agents: dry runs compared with the simulator's log of the real run, refusals, bad input."""
import pytest

from ovm3.sim import simulated_agents
from tests.cli_support import as_json, dry_then_real, mutating_calls, ovm3

EXPORT = "nfs-1:/export/repo"


@pytest.fixture
def hosts(tmp_path):
    with simulated_agents(count=2, tls=False, root=tmp_path / "sim") as hosts:
        yield hosts


def test_repo_create_on_one_host_add_on_the_other_then_remove(hosts):
    h1, h2 = hosts
    created = ovm3(h1, "repo", "add", EXPORT, "--create", "--alias", "demo")
    repo = created.stdout.strip()
    assert len(repo) == 32 and repo in created.stderr
    planned, logged, done = dry_then_real(h2, "repo", "add", EXPORT, "--id", repo)
    assert planned == logged == [("add_repository", [EXPORT, "/OVS/Repositories/%s" % repo])]
    assert [r["uuid"] for r in as_json(h2, "repo", "list")] == [repo]
    assert "already mounted" in ovm3(h2, "repo", "add", EXPORT, "--id", repo).stdout
    planned, logged, _ = dry_then_real(h2, "repo", "remove", repo)
    assert planned == logged
    assert [m for m, _ in planned] == ["delete_repository", "unmount_repository_fs"]
    assert as_json(h2, "repo", "list") == []
    assert "no repository" in ovm3(h2, "repo", "remove", repo, expect=1).stderr


def test_storage_mount_list_unmount(hosts):
    h1 = hosts[0]
    planned, logged, done = dry_then_real(h1, "storage", "mount", "nfs-1:/export/secondary")
    assert planned == logged and [m for m, _ in planned] == ["storage_plugin_mount"]
    point = done["mount_point"]
    assert point.startswith("/nfsmnt/")
    assert [r["dir"] for r in as_json(h1, "storage", "list")] == [point]
    assert [m for m, _ in dry_then_real(h1, "storage", "mount", "nfs-1:/export/secondary")[1]] == []
    planned, logged, _ = dry_then_real(h1, "storage", "unmount", "nfs-1:/export/secondary")
    assert planned == logged and [m for m, _ in planned] == ["storage_plugin_unmount"]
    assert as_json(h1, "storage", "list") == []


def test_pool_create_join_leave(hosts):
    h1, h2 = hosts
    planned, logged, done = dry_then_real(h1, "pool", "create", "pool-a", "--vip", "192.168.1.230",
                                          "--id", "0004fb00000200001111222233334444")
    assert planned == logged
    assert [m for m, _ in planned] == ["create_server_pool", "set_pool_member_ip_list"]
    planned, logged, done = dry_then_real(h2, "pool", "join", h1.url)
    assert [m for m, _ in planned] == ["join_server_pool", "set_pool_member_ip_list", "set_pool_member_ip_list"]
    assert sorted(done["members"]) == sorted([h1.ip, h2.ip])
    shown = as_json(h2, "pool", "show")["pool"]
    assert shown["pool_id"] == "0004fb00000200001111222233334444"
    assert "already in pool" in ovm3(h2, "pool", "create", "b", "--vip", "10.0.0.1", expect=1).stderr
    planned, logged, _ = dry_then_real(h2, "pool", "leave")
    assert planned == logged == [("leave_server_pool", ["0004fb00000200001111222233334444"])]
    assert "not in a server pool" in ovm3(h2, "pool", "leave").stdout


@pytest.mark.parametrize("args", [
    ["repo", "add", EXPORT],                                  # neither --id nor --create
    ["repo", "add", "nfs-1:/export/../etc", "--create"],
    ["repo", "add", "nfs-1;rm:/x", "--create"],
    ["repo", "add", EXPORT, "--id", "xyz"],
    ["storage", "mount", "not-an-export"],
    ["pool", "create", "p1", "--vip", "300.1.1.1"],
])
def test_bad_input_is_a_usage_error_before_any_change(hosts, args):
    h1 = hosts[0]
    h1.calls.clear()
    ovm3(h1, *args, expect=2)
    assert mutating_calls(h1) == []
