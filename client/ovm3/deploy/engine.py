"""Deploy to, or uninstall from, one host through a connector: facts, then a plan, then its execution.

The plan is data (:class:`Step`): ``--dry-run`` prints it and stops; otherwise every step runs in order.
Uploads happen only where the host's checksum differs, each through a temp file that is given its mode
and owner, verified, then renamed over the target, so a host never sees a half-written file.
"""
import dataclasses
import logging
import os
import posixpath
import secrets
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

    kind: str  # upload | run
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
    argv = [facts.python, under(opts.root, manifest.STAGING + "/" + manifest.INSTALLER), action,
            "--agent-dir", facts.agent_dir]
    if action == "install":
        argv += ["--agent-ini", under(opts.root, AGENT_INI), "--agent-ssl", opts.agent_ssl]
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
        self._dirs_made = set()

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
        """Upload steps for the specs whose remote checksum differs (or that are missing)."""
        sums = host_facts.remote_checksums(self.conn, [s.remote for s in specs])
        steps = []
        for spec in specs:
            have = sums.get(spec.remote)
            if have and have[1] == host_facts.local_digest(have[0], spec.data):
                continue
            steps.append(Step("upload", "upload %s (%d bytes, mode %04o, %s) [%s]"
                              % (spec.remote, len(spec.data), spec.mode, spec.owner,
                                 "changed" if have else "new"), spec=spec))
        return steps

    def upload(self, spec):
        """Temp file beside the target, mode and owner, verify checksum, rename over the target."""
        directory = posixpath.dirname(spec.remote)
        if directory not in self._dirs_made:
            self._run(["mkdir", "-p", directory], "create %s" % directory)
            self._dirs_made.add(directory)
        name = posixpath.basename(spec.remote)
        tmp = posixpath.join(directory, ".%s.ovm3-%s" % (name, secrets.token_hex(4)))
        try:
            self.conn.put(spec.data, tmp, timeout=self.opts.command_timeout)
            result = self.conn.run_chain([["chmod", "%o" % spec.mode, tmp], ["chown", spec.owner, tmp],
                                          ["sha1sum", tmp]], timeout=self.opts.command_timeout)
            digest = result.text().split()[:1]
            if not result.ok or digest != [host_facts.local_digest("sha1", spec.data)]:
                raise errors.DeployError("upload of %s did not verify (%s)"
                                         % (spec.remote, result.error_text() or "checksum differs"),
                                         host=self.result.host, hint="check free space on the host")
            self.conn.run(["mv", "-f", tmp, spec.remote], check=True, timeout=self.opts.command_timeout)
        except BaseException:
            self.conn.run(["rm", "-f", tmp], timeout=30)
            raise
        self.result.uploaded.append(spec.remote)
        self.result.bytes_uploaded += len(spec.data)

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
        self.result.plan = [s.text for s in steps]
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
        specs = manifest.build(self.opts.root, sources, self.opts.heartbeat)
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

    def deploy(self):
        """Run the deployment; returns the :class:`HostResult` (raises on the first failing step)."""
        steps = self.plan_deploy()
        if self.opts.dry_run:
            status = self._installer("status", "agent module status (dry run)")
            self.result.plan = [s.text for s in steps]
            self.result.plan.append("agent module now: state=%s" % status.get("state", "?"))
            would = any(s.kind == "upload" for s in steps) or status.get("state") != "installed"
            self.result.reason = "would change" if would else "nothing to do"
            return self._finish(steps, False)
        for step in steps:
            if step.kind == "upload":
                self.upload(step.spec)
        installed = self._installer("install", "install agent module")
        agent_changed = installed.get("changed") == "yes"
        changed = bool(self.result.uploaded) or agent_changed
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
        steps = self.file_steps(specs)
        uninstall = installer_argv(self.facts, self.opts, "uninstall")
        steps.append(Step("run", "run %s" % command_line(uninstall), argv=uninstall))
        steps.append(Step("run", "run %s ovs-agent restart (only if the uninstall reports changed=yes)"
                          % _sbin(self.opts, "service")))
        for argv in self._heartbeat_remove():
            steps.append(Step("run", "run %s" % command_line(argv), argv=argv))
        return steps

    def _heartbeat_remove(self):
        service, chkconfig = _sbin(self.opts, "service"), _sbin(self.opts, "chkconfig")
        return [[service, manifest.SERVICE, "stop"], [chkconfig, "--del", manifest.SERVICE],
                ["rm", "-f", under(self.opts.root, manifest.INIT_SCRIPT),
                 under(self.opts.root, manifest.HEARTBEAT_CONFIG)],
                ["rm", "-rf", under(self.opts.root, manifest.STAGING)]]

    def uninstall(self):
        """Take the module out of the agent (its api.py restored), stop and remove the heartbeat."""
        steps = self.plan_uninstall()
        if self.opts.dry_run:
            return self._finish(steps, False)
        for step in steps:
            if step.kind == "upload":
                self.upload(step.spec)
        removed = self._installer("uninstall", "remove agent module")
        changed = removed.get("changed") == "yes"
        if changed:
            self._restart_agent_and_wait()
        init_script = under(self.opts.root, manifest.INIT_SCRIPT)
        has_daemon = self.conn.run(["test", "-e", init_script], timeout=30).ok
        for argv in self._heartbeat_remove():
            if argv[0] != "rm" and not has_daemon:
                continue
            self._run(argv, "remove the heartbeat", check=argv[0] == "rm")
        # Everything we put on the host lives in these paths; their presence means work was done.
        return self._finish(steps, changed or has_daemon or bool(self.result.uploaded))


def deploy(conn, opts, label=None, uninstall=False):
    """Deploy (or uninstall) on one connected host; returns a :class:`HostResult`."""
    worker = HostDeployer(conn, opts, label)
    return worker.uninstall() if uninstall else worker.deploy()
