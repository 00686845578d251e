"""ovm3 deploy against a real sshd, the simulated agent and a fake dom0 tree in its sandbox.

The files deployed are this checkout's real host-side files: the real installer puts the agent module
into the fake agent tree, and the real init script starts the real heartbeat daemon (log-only, every
system path inside the tree).
"""
import hashlib
import os
import subprocess
import time

import pytest

from ovm3 import errors
from ovm3.deploy import engine, manifest
from ovm3.deploy.agent import AgentAccess, cert_fingerprint
from ovm3.deploy.ssh import SSHConnector
from ovm3.pinstore import PinStore
from ovm3.tools import dump
from tests.conftest_sshd import *  # noqa: F403  (the sshd, simulated agent and fake dom0 fixtures)
from tests.conftest_sshd import MOUNTS, PYTHON27, REMOTE_PYTHON

pytestmark = [pytest.mark.sshd]

GUID = "host-1"
#: Files the running daemon rewrites every interval: left out when a test compares trees around a run.
DAEMON_RUNTIME = ("var/run/ovm3-heartbeat/",) + tuple("%s/.hb-" % m.lstrip("/") for m in MOUNTS)


def connect(server, key, known):
    return SSHConnector("127.0.0.1", server.port, key_files=[key], known_hosts=known)


def heartbeat(**kw):
    base = dict(guid=GUID, mounts=list(MOUNTS))
    base.update(kw)
    return manifest.HeartbeatSettings(**base)


def options(agent, host_files, **kw):
    access = AgentAccess(url=agent.url, password=agent.password, legacy_tls=agent.legacy_tls)
    base = dict(root=agent.root, python=REMOTE_PYTHON, heartbeat=heartbeat(),
                sources=manifest.default_sources(host_files), agent=access, pin_store=PinStore(),
                wait_timeout=20.0, command_timeout=60.0)
    base.update(kw)
    return engine.Options(**base)


def run(server, key, known, opts, uninstall=False):
    with connect(server, key, known) as conn:
        return engine.deploy(conn, opts, label="ovm-1", uninstall=uninstall)


def sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def steady(snapshot):
    return {k: v for k, v in snapshot.items() if not k.startswith(DAEMON_RUNTIME)}


def wait_for_heartbeats(dom0, guid=GUID, mounts=MOUNTS, seq_above=0):
    """The daemon's ``.hb-<guid>`` record in every mount once each shows a write past ``seq_above``."""
    deadline = time.monotonic() + 15
    records = {}
    while time.monotonic() < deadline:
        records = {}
        for mount in mounts:
            try:
                with open(os.path.join(dom0.local(mount), ".hb-" + guid)) as f:
                    records[mount] = dict(line.split("=", 1) for line in f.read().split("\n")[1:] if "=" in line)
            except OSError:
                pass
        if len(records) == len(mounts) and all(int(r["seq"]) > seq_above for r in records.values()):
            return records
        time.sleep(0.1)
    raise AssertionError("no heartbeat from the deployed daemon within 15 s (got %r)" % records)


def test_the_dumper_is_staged_beside_the_modules_it_imports():
    specs = manifest.build("/", manifest.default_sources(), None)
    staged = {s.remote[len(manifest.STAGING) + 1:]: s for s in specs if s.remote.startswith(manifest.STAGING + "/")}
    assert set(dump.dumper_files()) <= set(staged)
    assert staged[dump.DUMPER].mode == 0o755 and staged[dump.COMPAT].mode == 0o644


def test_first_deploy_installs_everything_starts_the_daemon_and_pins_the_agent(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    result = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))

    assert result.status == "changed", result
    assert result.ovm_version == "3.3.1"
    specs = manifest.build(dom0.root, manifest.default_sources(host_files), heartbeat(), REMOTE_PYTHON)
    staging = dom0.local("/opt/ovm3")
    assert sorted(n for n in os.listdir(staging) if n.endswith(".py")) == sorted(
        os.path.basename(s.remote) for s in specs if s.remote.startswith(staging + "/"))
    assert result.bytes_uploaded == sum(len(s.data) for s in specs)
    # explicit modes, no temp files left behind
    assert os.stat(os.path.join(staging, "ovm3_agent.py")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(staging, "ovm3_compat.py")).st_mode & 0o777 == 0o644
    init = dom0.local("/etc/init.d/ovm3-heartbeat")
    assert os.stat(init).st_mode & 0o777 == 0o755
    assert sha1(init) == sha1(os.path.join(host_files, "fencing/ovm3-heartbeat.init"))
    assert not [n for n in os.listdir(staging) if ".ovm3-" in n]
    # the real installer put the module into the agent, which was restarted and waited for
    with open(os.path.join(dom0.agent_dir, "target/api.py")) as f:
        assert "ovm3_agent.OVM3Agent" in f.read()
    assert dom0.calls() == ["service ovs-agent restart", "chkconfig --add ovm3-heartbeat",
                            "chkconfig ovm3-heartbeat on", "service ovm3-heartbeat restart"]
    assert "echo" in agent.calls.methods()
    # the config is log-only and keeps every path of the daemon inside the tree
    with open(dom0.local("/etc/sysconfig/ovm3-heartbeat")) as f:
        config = manifest.parse_config(f.read().encode())
    assert config["GUID"] == GUID and config["FENCE_ACTION"] == "log-only"
    assert config["MOUNTS"].split() == [dom0.local(m) for m in MOUNTS]
    for key in ("STATE_DIR", "PID_FILE", "LOCK_FILE", "MOUNTINFO", "SYSRQ_TRIGGER", "SYSRQ_CONTROL",
                "BOOT_ID", "O2CB_CONFIG", "SUBSYS_LOCK", "DAEMON", "REPOSITORIES"):
        assert config[key].startswith(dom0.root + "/"), key
    # the real daemon runs (started by the real init script) and writes its heartbeat on every mount
    assert dom0.daemon_pid()
    records = wait_for_heartbeats(dom0)
    assert {r["state"] for r in records.values()} == {"running"}
    assert {r["fence"] for r in records.values()} == {"log-only"}
    assert os.path.isdir(dom0.local("/var/run/ovm3-heartbeat"))
    assert os.path.exists(dom0.local("/var/lock/subsys/ovm3-heartbeat"))
    # the pin came from the simulator's certificate file, read over SSH
    assert result.fingerprint == agent.fingerprint
    assert PinStore().get("127.0.0.1", agent.port) == agent.fingerprint


def test_redeploy_transfers_nothing_and_restarts_nothing(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))
    pid = dom0.daemon_pid()
    before = steady(dom0.snapshot())
    calls_before = len(dom0.calls())

    again = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))

    assert again.status == "unchanged", again
    assert again.uploaded == [] and again.bytes_uploaded == 0
    assert dom0.calls()[calls_before:] == ["service ovm3-heartbeat status"]
    assert dom0.daemon_pid() == pid
    assert steady(dom0.snapshot()) == before


def test_stopped_daemon_is_started_on_redeploy(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))
    first = wait_for_heartbeats(dom0)
    dom0.kill_daemon()

    again = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))

    assert again.status == "changed" and again.uploaded == []
    assert dom0.calls()[-2:] == ["service ovm3-heartbeat status", "service ovm3-heartbeat start"]
    records = wait_for_heartbeats(dom0)
    assert records[MOUNTS[0]]["instance"] != first[MOUNTS[0]]["instance"]


def test_changed_source_file_uploads_only_that_file(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))
    with open(os.path.join(host_files, "agent_module/ovm3_agent_base.py"), "a") as f:
        f.write("VERSION_NOTE = 2\n")

    result = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))

    assert result.status == "changed"
    assert result.uploaded == [dom0.local("/opt/ovm3/ovm3_agent_base.py")]
    assert sha1(result.uploaded[0]) == sha1(os.path.join(host_files, "agent_module/ovm3_agent_base.py"))
    # the installer copied it into the agent and reported changed=yes: one more restart
    assert sha1(os.path.join(dom0.agent_dir, "api/ovm3_agent_base.py")) == sha1(result.uploaded[0])
    assert dom0.calls().count("service ovs-agent restart") == 2


def test_changed_heartbeat_settings_rewrite_config_and_restart_daemon(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))
    old_pid = dom0.daemon_pid()
    one = heartbeat(mounts=[MOUNTS[0]], interval=0.5)

    result = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, heartbeat=one))

    assert result.uploaded == [dom0.local("/etc/sysconfig/ovm3-heartbeat")]
    assert dom0.calls()[-1] == "service ovm3-heartbeat restart"
    new_pid = dom0.daemon_pid()
    assert new_pid and new_pid != old_pid
    record = wait_for_heartbeats(dom0, mounts=[MOUNTS[0]])[MOUNTS[0]]
    assert record["interval"].startswith("0.5") and record["mounts"] == "1"


def test_armed_config_and_paths_under_a_root():
    text = heartbeat(armed=True, watchdog="/dev/watchdog").render("/srv/dom0", "/usr/bin/python2.6").decode()
    config = manifest.parse_config(text.encode())
    assert config["FENCE_ACTION"] == "crash" and config["PYTHON"] == "/usr/bin/python2.6"
    assert config["WATCHDOG"] == "/srv/dom0/dev/watchdog" and config["MOUNTINFO"] == "/srv/dom0/proc/self/mountinfo"
    assert config["WATCHDOG_TIMEOUT"] == "60"
    plain = manifest.parse_config(heartbeat().render())
    assert plain["FENCE_ACTION"] == "log-only" and plain["STATE_DIR"] == "/var/run/ovm3-heartbeat"
    assert plain["DAEMON"] == "/opt/ovm3/ovm3_heartbeat.py" and plain["WATCHDOG"] == ""
    with pytest.raises(errors.DeployError, match="watchdog"):
        heartbeat(watchdog="dev/watchdog").render()


def test_mode_and_owner_drift_is_fixed_without_uploading(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, heartbeat=None))
    program, library = dom0.local("/opt/ovm3/ovm3_agent.py"), dom0.local("/opt/ovm3/ovm3_compat.py")
    os.chmod(program, 0o600)
    os.chown(library, 65534, 65534)

    plan = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, heartbeat=None, dry_run=True))
    assert plan.reason == "would change"
    assert any(line.startswith("fix %s: mode 0600" % program) for line in plan.plan), plan.plan
    assert os.stat(program).st_mode & 0o777 == 0o600

    fixed = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, heartbeat=None))

    assert fixed.status == "changed" and fixed.uploaded == [] and fixed.bytes_uploaded == 0
    assert os.stat(program).st_mode & 0o777 == 0o755
    st = os.stat(library)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o644)
    assert "service ovs-agent restart" not in dom0.calls()[1:]
    again = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, heartbeat=None))
    assert again.status == "unchanged", again


def test_dry_run_prints_the_plan_and_changes_nothing(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    before = dom0.snapshot()

    result = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, dry_run=True))

    assert result.status == "planned" and result.reason == "would change"
    assert dom0.snapshot() == before
    assert dom0.calls() == [] and len(agent.calls) == 0
    uploads = [line for line in result.plan if line.startswith("upload ")]
    specs = manifest.build(dom0.root, manifest.default_sources(host_files), heartbeat(), REMOTE_PYTHON)
    assert len(uploads) == len(specs) and all("[new]" in line for line in uploads)
    assert any("ovm3_agent.py install --agent-dir" in line for line in result.plan)
    assert result.plan[-1] == "agent module now: state=unknown until the new installer is staged"


def test_uninstall_stops_the_daemon_and_restores_the_tree_byte_for_byte(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    pristine = dom0.snapshot()
    run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))
    wait_for_heartbeats(dom0)
    pid = dom0.daemon_pid()
    assert pid and dom0.snapshot() != pristine

    plan = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, dry_run=True), uninstall=True)
    assert any(dom0.local("/nfsmnt/pool1/.hb-host-1") in line for line in plan.plan), plan.plan
    assert dom0.daemon_pid() == pid

    result = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files), uninstall=True)

    assert result.status == "changed", result
    assert dom0.daemon_pid() is None
    # module out, daemon files (pid, lock, state dir, heartbeat records), bytecode and state folder gone
    assert dom0.snapshot() == pristine
    assert dom0.calls()[-3:] == ["service ovs-agent restart", "service ovm3-heartbeat stop",
                                 "chkconfig --del ovm3-heartbeat"]
    assert dom0.calls().count("service ovs-agent restart") == 2


def test_unsupported_release_is_refused_with_a_reason(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    dom0.write("etc/ovs-release", "Oracle VM server release 2.2.2\n")
    with pytest.raises(errors.DeployError, match="unsupported OVM release"):
        run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))
    assert not os.path.exists(dom0.local("/opt/ovm3"))


def test_remote_root_slash_is_refused_under_tests(env):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    with pytest.raises(errors.UsageError, match="refusing --remote-root /"):
        run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, root="/"))


def test_the_simulator_keeps_its_certificate_where_a_dom0_does(agent):
    with open(os.path.join(agent.root, "etc/ovs-agent/cert/certificate.pem"), "rb") as f:
        assert cert_fingerprint(f.read()) == agent.fingerprint
    with pytest.raises(errors.DeployError):
        cert_fingerprint(b"not a certificate")


def _planned_commands(plan):
    """The command lines a plan says it will run (conditions in parentheses stripped)."""
    return [line[len("run "):].split(" (")[0] for line in plan if line.startswith("run ")]


@pytest.mark.parametrize("uninstall", [False, True])
def test_dry_run_plan_is_exactly_what_the_real_run_does(env, uninstall):
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    if uninstall:
        run(ssh_server, ssh_keys, known_hosts, options(agent, host_files))

    dry = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, dry_run=True), uninstall)
    plan = dry.plan
    done = run(ssh_server, ssh_keys, known_hosts, options(agent, host_files), uninstall)

    assert done.status == "changed"
    uploads = [line.split()[1] for line in plan if line.startswith("upload ")]
    assert uploads == done.uploaded
    # the dry run's FILES/BYTES are what the real run sent
    assert (dry.uploaded, dry.bytes_uploaded) == (done.uploaded, done.bytes_uploaded)
    assert uninstall or done.bytes_uploaded > 0
    ran = [action.split(": ", 1)[1] for action in done.actions if ": " in action]
    assert len(ran) >= 3 and _planned_commands(plan) == ran, "\n".join(["plan:"] + plan + ["ran:"] + ran)


def test_the_remote_python_is_27_on_an_agent_tree_shaped_like_a_real_one(dom0):
    assert PYTHON27 is not None, "no Python 2.7 found: the deploy tests must run the host code on Python 2"
    version = subprocess.run([REMOTE_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             stdout=subprocess.PIPE, check=True).stdout
    assert version == b"2.7\n"
    for rel in ("__init__.py", "target/__init__.py", "api/__init__.py", "target/api.py"):
        source = os.path.join(dom0.agent_dir, rel)
        assert os.path.isfile(source) and os.path.isfile(source + "c"), rel


def test_without_the_package_files_python_2_cannot_import_the_edited_api_py(env):
    """What the real-shaped tree guards against: Python 3 imports a package-less tree (namespace packages),
    the dom0's Python 2 does not, so a deploy test on such a tree would prove nothing about a real host."""
    ssh_server, ssh_keys, known_hosts, dom0, agent, host_files = env
    for rel in ("__init__.py", "target/__init__.py", "api/__init__.py"):
        for name in (rel, rel + "c"):
            os.unlink(os.path.join(dom0.agent_dir, name))
    with pytest.raises(errors.DeployError, match="the edited api.py does not import .*No module named"):
        run(ssh_server, ssh_keys, known_hosts, options(agent, host_files, heartbeat=None))
    with open(os.path.join(dom0.agent_dir, "target/api.py"), "rb") as f:
        assert b"ovm3" not in f.read()  # the original was put back
