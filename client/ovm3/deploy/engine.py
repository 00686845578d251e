"""Deploy to, or uninstall from, one host through a connector: facts, then a plan, then its execution.

The plan is data (:class:`Step`): ``--dry-run`` prints it and stops; otherwise every step runs in order.
Uploads happen only where the host's checksum differs, each through a temp file that is given its mode
and owner, verified, then renamed over the target, so a host never sees a half-written file.
"""
import dataclasses
import io
import logging
import os
import posixpath
import secrets
import tarfile
from typing import List, Optional

from ovm3 import errors
from ovm3.deploy import agent as agent_ops
from ovm3.deploy import facts as host_facts
from ovm3.deploy import manifest
from ovm3.deploy.connector import command_line
from ovm3.deploy.facts import under

log = logging.getLogger(__name__)

AGENT_INI = "/etc/ovs-agent/agent.ini"
AGENT_SSL_CHOICES = ("keep", "enable", "disable")
TESTING_ENV = "OVM3_TESTING"


@dataclasses.dataclass
class Options:
    """Everything a deployment needs besides the connection. ``agent`` None skips the XML-RPC steps."""

    root: str = "/"
    python: Optional[str] = None
    dry_run: bool = False
    agent_ssl: str = "keep"
    host_fixes: bool = False
    heartbeat: Optional[manifest.HeartbeatSettings] = None
    sources: Optional[manifest.Sources] = None
    agent: Optional[agent_ops.AgentAccess] = None
    pin_store: object = None
    wait_timeout: float = agent_ops.DEFAULT_WAIT
    command_timeout: float = 300.0
    rotate_password: bool = False


@dataclasses.dataclass
class Step:
    """One planned action: an upload (``spec``) or a command (``argv``), with a reason."""

    kind: str  # upload | fix (mode/owner of an unchanged file) | run
    text: str
    spec: Optional[manifest.FileSpec] = None
    argv: Optional[list] = None


@dataclasses.dataclass
class HostResult:
    """The outcome for one host, as the final table shows it."""

    host: str
    status: str = "unchanged"  # changed | unchanged | failed | planned
    reason: str = ""
    uploaded: List[str] = dataclasses.field(default_factory=list)
    bytes_uploaded: int = 0
    actions: List[str] = dataclasses.field(default_factory=list)
    plan: List[str] = dataclasses.field(default_factory=list)
    ovm_version: str = ""
    fingerprint: Optional[str] = None
    waited: Optional[float] = None


def check_root(root):
    """Refuse remote roots that are relative or contain ``..``; refuse ``/`` while under test."""
    if not root.startswith("/") or ".." in root.split("/"):
        raise errors.UsageError("--remote-root must be an absolute path without '..', got %r" % root)
    normalised = posixpath.normpath(root)
    if normalised == "/" and os.environ.get(TESTING_ENV):
        raise errors.UsageError("refusing --remote-root / while %s is set (tests must use a fake dom0 tree)"
                                % TESTING_ENV)
    return normalised


def _sbin(opts, tool):
    return under(opts.root, "/sbin/" + tool)


def installer_argv(facts, opts, action):
    """``python <staging>/ovm3_agent.py ACTION --agent-dir ... [...]`` for install, uninstall or status."""
    # The installer takes host paths and puts --root in front of each itself.
    agent_dir = "/" + posixpath.relpath(facts.agent_dir, opts.root) if opts.root != "/" else facts.agent_dir
    argv = [facts.python, under(opts.root, manifest.STAGING + "/" + manifest.INSTALLER), action,
            "--agent-dir", agent_dir]
    if action == "install":
        argv += ["--agent-ini", AGENT_INI, "--agent-ssl", opts.agent_ssl]
        if opts.host_fixes:
            argv.append("--host-fixes")
    if opts.root != "/":
        argv += ["--root", opts.root]
    return argv


def parse_key_values(text):
    """``key=value`` lines (other lines ignored) to a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            out[key.strip()] = value.strip()
    return out


class HostDeployer:
    """Deploys to (or uninstalls from) the host behind one connector."""

    def __init__(self, conn, opts, label=None):
        self.conn = conn
        self.opts = opts
        self.opts.root = check_root(opts.root)
        self.result = HostResult(label or conn.label)
        self.facts = None

    # ---- shared -----------------------------------------------------------------------------------
    def _run(self, argv, why, check=True, timeout=None):
        self.result.actions.append("%s: %s" % (why, command_line(argv)))
        result = self.conn.run(argv, timeout=timeout or self.opts.command_timeout)
        if check and not result.ok:
            raise errors.DeployError("%s failed (exit %d): %s" % (why, result.status, result.error_text()),
                                     host=self.result.host)
        return result

    def detect(self):
        self.facts = host_facts.detect(self.conn, self.opts.root, self.opts.python)
        self.result.ovm_version = self.facts.ovm_version
        return self.facts

    def file_steps(self, specs):
        """Upload steps for the specs whose remote checksum differs (or that are missing), and fix steps
        (chmod/chown, no upload) for unchanged files whose mode or owner drifted."""
        paths = [s.remote for s in specs]
        sums = host_facts.remote_checksums(self.conn, paths)
        modes = host_facts.remote_modes(self.conn, [p for p in paths if p in sums])
        steps = []
        for spec in specs:
            have = sums.get(spec.remote)
            if have and have[1] == host_facts.local_digest(have[0], spec.data):
                mode, owner = modes.get(spec.remote, (spec.mode, spec.owner))
                argv = []
                if mode != spec.mode:
                    argv.append(["chmod", "%o" % spec.mode, spec.remote])
                if owner != spec.owner:
                    argv.append(["chown", spec.owner, spec.remote])
                if argv:
                    steps.append(Step("fix", "fix %s: mode %04o %s -> %04o %s (content unchanged)"
                                      % (spec.remote, mode, owner, spec.mode, spec.owner), spec=spec, argv=argv))
                continue
            steps.append(Step("upload", "upload %s (%d bytes, mode %04o, %s) [%s]"
                              % (spec.remote, len(spec.data), spec.mode, spec.owner,
                                 "changed" if have else "new"), spec=spec))
        return steps

    def fix_modes(self, steps):
        """Run the chmod/chown of every fix step in one round trip; returns the fixed paths."""
        chain = [argv for step in steps if step.kind == "fix" for argv in step.argv]
        if not chain:
            return []
        result = self.conn.run_chain(chain, timeout=self.opts.command_timeout)
        if not result.ok:
            raise errors.DeployError("cannot restore modes and owners: %s" % result.error_text(),
                                     host=self.result.host)
        fixed = [step.spec.remote for step in steps if step.kind == "fix"]
        self.result.actions += [step.text for step in steps if step.kind == "fix"]
        return fixed

    def upload(self, specs):
        """Put each file beside its target under a temp name, then in one round trip set modes and
        owners, verify every temp file's SHA-1 (``sha1sum -c`` reads the expected sums from stdin) and
        rename each over its target. Nothing is renamed unless every file verified."""
        specs = list(specs)
        if not specs:
            return
        dirs = sorted({posixpath.dirname(s.remote) for s in specs})
        temps = []
        try:
            for spec in specs:
                folder, name = posixpath.split(spec.remote)
                temps.append(posixpath.join(folder, ".%s.ovm3-%s" % (name, secrets.token_hex(4))))
            # All temp files in one tar stream (relative to /; GNU tar exists on every dom0).
            self.conn.run_chain([["mkdir", "-p"] + dirs, ["tar", "-x", "-C", "/", "-f", "-"]],
                                stdin=_tar(zip(temps, specs)), timeout=self.opts.command_timeout, check=True)
            by_mode = {}
            for spec, tmp in zip(specs, temps):
                by_mode.setdefault(spec.mode, []).append(tmp)
            chain = [["chmod", "%o" % mode] + paths for mode, paths in sorted(by_mode.items())]
            by_owner = {}
            for spec, tmp in zip(specs, temps):
                by_owner.setdefault(spec.owner, []).append(tmp)
            chain += [["chown", owner] + paths for owner, paths in sorted(by_owner.items())]
            chain.append(["sha1sum", "-c", "-"])
            chain += [["mv", "-f", tmp, spec.remote] for spec, tmp in zip(specs, temps)]
            expected = "".join("%s  %s\n" % (host_facts.local_digest("sha1", spec.data), tmp)
                               for spec, tmp in zip(specs, temps))
            result = self.conn.run_chain(chain, stdin=expected.encode("utf-8"),
                                         timeout=self.opts.command_timeout)
            if not result.ok:
                raise errors.DeployError("uploads did not verify: %s" % result.error_text(),
                                         host=self.result.host, hint="check free space on the host")
        except BaseException:
            if temps:
                self.conn.run(["rm", "-f"] + temps, timeout=30)
            raise
        self.result.uploaded += [s.remote for s in specs]
        self.result.bytes_uploaded += sum(len(s.data) for s in specs)

    def _installer(self, action, why):
        result = self._run(installer_argv(self.facts, self.opts, action), why, check=False)
        values = parse_key_values(result.text())
        if not result.ok:
            raise errors.DeployError("agent module %s failed (exit %d): %s"
                                     % (action, result.status, values.get("error") or result.error_text()),
                                     host=self.result.host)
        return values

    def _restart_agent_and_wait(self):
        self._run([_sbin(self.opts, "service"), "ovs-agent", "restart"], "restart ovs-agent")
        self._pin_and_wait()

    def _pin_and_wait(self):
        access = self.opts.agent
        if access is None:
            self.result.actions.append("agent checks skipped: no agent access given")
            return
        fp = agent_ops.read_agent_fingerprint(self.conn, self.opts.root) if access.tls else None
        if fp:
            if self.opts.pin_store is not None:
                agent_ops.pin_agent(self.opts.pin_store, access, fp)
            else:
                access.fingerprint = fp
            self.result.fingerprint = fp
        elif access.tls:
            raise errors.DeployError("the agent speaks TLS but %s is missing on the host"
                                     % under(self.opts.root, agent_ops.AGENT_CERT), host=self.result.host)
        self.result.waited = agent_ops.wait_for_agent(access, self.opts.wait_timeout, self.facts.generation,
                                                      label=self.result.host)

    def _finish(self, steps, changed):
        self.result.plan = self.result.plan or [s.text for s in steps]
        if self.opts.dry_run:
            self.result.status = "planned"
        else:
            self.result.status = "changed" if changed else "unchanged"
        return self.result

    # ---- deploy -----------------------------------------------------------------------------------
    def plan_deploy(self):
        """Facts, the files to upload, and the commands that will follow (some depend on results)."""
        self.detect()
        sources = self.opts.sources or manifest.default_sources()
        specs = manifest.build(self.opts.root, sources, self.opts.heartbeat, self.facts.python)
        steps = self.file_steps(specs)
        install = installer_argv(self.facts, self.opts, "install")
        steps.append(Step("run", "run %s" % command_line(install), argv=install))
        steps.append(Step("run", "run %s ovs-agent restart (only if the install reports changed=yes)"
                          % _sbin(self.opts, "service")))
        if self.opts.heartbeat is not None:
            hb_changed = any(s.spec and s.spec.role == "heartbeat" for s in steps)
            if hb_changed:
                for argv in self._heartbeat_enable():
                    steps.append(Step("run", "run %s" % command_line(argv), argv=argv))
            else:
                steps.append(Step("run", "run %s %s status (start it if stopped)"
                                  % (_sbin(self.opts, "service"), manifest.SERVICE)))
        if self.opts.agent is not None:
            steps.append(Step("run", "read %s and pin its SHA-256 for %s"
                              % (under(self.opts.root, agent_ops.AGENT_CERT), self.opts.agent.url)))
        return steps

    def _heartbeat_enable(self):
        service, chkconfig = _sbin(self.opts, "service"), _sbin(self.opts, "chkconfig")
        return [[chkconfig, "--add", manifest.SERVICE], [chkconfig, manifest.SERVICE, "on"],
                [service, manifest.SERVICE, "restart"]]

    def _would_send(self, steps):
        """In a dry run, the files and bytes the real run would upload (its FILES/BYTES columns)."""
        specs = [s.spec for s in steps if s.kind == "upload"]
        self.result.uploaded = [spec.remote for spec in specs]
        self.result.bytes_uploaded = sum(len(spec.data) for spec in specs)

    def deploy(self):
        """Run the deployment; returns the :class:`HostResult` (raises on the first failing step)."""
        steps = self.plan_deploy()
        if self.opts.dry_run:
            if any(s.kind == "upload" and s.spec.role == "agent" for s in steps):
                state = "unknown until the new installer is staged"
            else:
                state = self._installer("status", "agent module status (dry run)").get("state", "?")
            self.result.plan = [s.text for s in steps]
            self.result.plan.append("agent module now: state=%s" % state)
            would = any(s.kind in ("upload", "fix") for s in steps) or state != "installed"
            self.result.reason = "would change" if would else "nothing to do"
            self._would_send(steps)
            return self._finish(steps, False)
        self.upload(s.spec for s in steps if s.kind == "upload")
        fixed = self.fix_modes(steps)
        installed = self._installer("install", "install agent module")
        agent_changed = installed.get("changed") == "yes"
        changed = bool(self.result.uploaded) or bool(fixed) or agent_changed
        if agent_changed:
            self._restart_agent_and_wait()
        if self.opts.heartbeat is not None:
            if any(s.kind == "upload" and s.spec.role == "heartbeat" for s in steps):
                for argv in self._heartbeat_enable():
                    self._run(argv, "enable and (re)start the heartbeat")
            elif not self._run([_sbin(self.opts, "service"), manifest.SERVICE, "status"],
                               "heartbeat status", check=False).ok:
                self._run([_sbin(self.opts, "service"), manifest.SERVICE, "start"], "start the heartbeat")
                changed = True
        if not agent_changed and self.opts.agent is not None:
            self._pin_and_wait()
        if self.opts.rotate_password and self.opts.agent is not None:
            agent_ops.rotate_password(self.opts.agent, self.facts.generation, self.opts.wait_timeout,
                                      label=self.result.host)
            self.result.actions.append("rotated the agent password into %s" % self.opts.agent.password_file)
            changed = True
        return self._finish(steps, changed)

    # ---- uninstall --------------------------------------------------------------------------------
    def plan_uninstall(self):
        self.detect()
        sources = self.opts.sources or manifest.default_sources()
        specs = [s for s in manifest.build(self.opts.root, sources, None) if s.role == "agent"]
        steps = [s for s in self.file_steps(specs) if s.kind == "upload"]
        uninstall = installer_argv(self.facts, self.opts, "uninstall")
        steps.append(Step("run", "run %s" % command_line(uninstall), argv=uninstall))
        steps.append(Step("run", "run %s ovs-agent restart (only if the uninstall reports changed=yes)"
                          % _sbin(self.opts, "service")))
        for argv in self._heartbeat_remove():
            steps.append(Step("run", "run %s" % command_line(argv), argv=argv))
        return steps

    def _deployed_heartbeat(self):
        """The deployed heartbeat config as ``{KEY: value}`` ({} when there is none), read once."""
        if not hasattr(self, "_hb_config"):
            data = self.conn.get(under(self.opts.root, manifest.HEARTBEAT_CONFIG))
            self._hb_config = manifest.parse_config(data) if data else {}
        return self._hb_config

    def _daemon_files(self):
        """What the running daemon leaves behind, from the deployed config: (files, state dir or None).

        Its pid and lock files, its state file and ``.hb-<guid>`` (and a stray ``.tmp``) on each mount.
        Paths that are not absolute, or (under a test root) not inside the root, are skipped.
        """
        config = self._deployed_heartbeat()
        if not config:
            return [], None

        def ok(path):
            if not path or not path.startswith("/") or ".." in path.split("/"):
                return False
            return self.opts.root == "/" or path.startswith(self.opts.root.rstrip("/") + "/")

        files = [config.get("PID_FILE", ""), config.get("LOCK_FILE", "")]
        state_dir = config.get("STATE_DIR", "")
        if ok(state_dir) and posixpath.normpath(state_dir) != "/":
            files.append(posixpath.join(state_dir, "peers.state"))
        else:
            state_dir = None
        guid = config.get("GUID", "")
        if guid and "/" not in guid and not guid.startswith("."):
            for mount in config.get("MOUNTS", "").split():
                files += [posixpath.join(mount, ".hb-" + guid), posixpath.join(mount, ".hb-%s.tmp" % guid)]
        return [f for f in files if ok(f)], state_dir

    def _heartbeat_remove(self):
        service, chkconfig = _sbin(self.opts, "service"), _sbin(self.opts, "chkconfig")
        files, state_dir = self._daemon_files()
        steps = [[service, manifest.SERVICE, "stop"], [chkconfig, "--del", manifest.SERVICE],
                 ["rm", "-f", under(self.opts.root, manifest.INIT_SCRIPT),
                  under(self.opts.root, manifest.HEARTBEAT_CONFIG)] + files]
        if state_dir:
            # rmdir, not rm -r: a state dir someone pointed at a shared folder keeps its other files.
            steps.append(["rmdir", "--ignore-fail-on-non-empty", state_dir])
        steps.append(["rm", "-rf", under(self.opts.root, manifest.STAGING)])
        return steps

    def uninstall(self):
        """Take the module out of the agent (its api.py restored), stop and remove the heartbeat."""
        steps = self.plan_uninstall()
        if self.opts.dry_run:
            self._would_send(steps)
            return self._finish(steps, False)
        self.upload(s.spec for s in steps if s.kind == "upload")
        removed = self._installer("uninstall", "remove agent module")
        changed = removed.get("changed") == "yes"
        if changed:
            self._restart_agent_and_wait()
        init_script = under(self.opts.root, manifest.INIT_SCRIPT)
        has_daemon = self.conn.run(["test", "-e", init_script], timeout=30).ok
        for argv in self._heartbeat_remove():
            if argv[0] not in ("rm", "rmdir") and not has_daemon:
                continue
            self._run(argv, "remove the heartbeat", check=argv[0] == "rm")
        # Everything we put on the host lives in these paths; their presence means work was done.
        return self._finish(steps, changed or has_daemon or bool(self.result.uploaded))


def _tar(members):
    """A GNU tar archive (bytes) of ``[(absolute path, FileSpec)]``, names relative to ``/``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, spec in members:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(spec.data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(spec.data))
    return buf.getvalue()


def deploy(conn, opts, label=None, uninstall=False):
    """Deploy (or uninstall) on one connected host; returns a :class:`HostResult`."""
    worker = HostDeployer(conn, opts, label)
    return worker.uninstall() if uninstall else worker.deploy()
