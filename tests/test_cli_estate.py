"""``ovm3 repo add|remove``, ``storage mount|unmount|list``, ``pool create|join|leave`` against two simulated
agents: dry runs compared with the simulator's log of the real run, refusals, bad input."""
import http.server
import io
import threading
import time

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


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Serves a 3 MiB image one MiB at a time, pausing between, so a copy takes a while."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(3 * MIB))
        self.end_headers()
        for _ in range(3):
            self.wfile.write(b"x" * MIB)
            self.wfile.flush()
            time.sleep(0.6)

    def log_message(self, *args):
        pass


MIB = 1024 * 1024


@pytest.fixture
def image_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/images/ol7.img" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_template_import_shows_bytes_copied_while_it_runs(hosts, image_url):
    h1 = hosts[0]
    repo = ovm3(h1, "repo", "add", EXPORT, "--create").stdout.strip()
    planned = as_json(h1, "template", "import", image_url, "--repo", repo, "--dry-run")
    assert [c["method"] for c in planned["calls"]] == ["ovs_mkdirs", "copy_file"]
    assert mutating_calls(h1)[-1][0] != "copy_file"  # the dry run copied nothing
    ran = ovm3(h1, "template", "import", image_url, "--repo", repo, "--interval", "0.1")
    assert "imported template ol7 (ol7.img)" in ran.stdout
    sizes = [int(line.split("(")[1].split()[0]) for line in ran.stderr.splitlines() if line.startswith("copied")]
    assert sizes[-1] == 3 * MIB
    assert any(0 < s < 3 * MIB for s in sizes), sizes  # read from the agent while the copy ran
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)  # plain lines, one per new value
    # the new template is usable by vm create
    ovm3(h1, "vm", "create", "t1", "--repo", repo, "--template", "ol7/ol7.img")
    again = ovm3(h1, "template", "import", image_url, "--repo", repo, expect=1)
    assert "already has a template image ol7.img" in again.stderr


def test_progress_on_a_terminal_rewrites_one_line():
    from ovm3.cli.cmd_template import progress_printer

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    show, done = progress_printer(out)
    show(1024)
    show(1024)
    show(2048)
    done()
    assert out.getvalue() == "\r\x1b[Kcopied 1.0 KiB (1024 bytes)\r\x1b[Kcopied 2.0 KiB (2048 bytes)\n"


@pytest.mark.parametrize("url", ["http://h/x.iso", "http://h/a b.img", "gopher://h/x.img", "http://h/../x.img"])
def test_template_import_refuses_odd_urls(hosts, url):
    ovm3(hosts[0], "template", "import", url, "--repo", "0" * 32, expect=2)
