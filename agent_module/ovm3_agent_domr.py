"""System-VM services: run a router script, probe SSH, copy a file, over the link-local network.

Uses the ``ssh``/``scp`` binaries with CloudStack's key (root's ``.ssh/id_rsa.cloud``), BatchMode
(never a password prompt) and a bounded runtime. Host keys are checked, except for 169.254.0.0/16:
system VMs regenerate their keys at every boot, so there is nothing stable to pin there.
Python 2.4-compatible, stdlib only.
"""
import os

import ovm3_agent_base as base
import ovm3_agent_validate as check
import ovm3_compat

#: Default and longest runtime of a router command (seconds).
EXEC_TIMEOUT = 120
MAX_EXEC_TIMEOUT = 1800
CONNECT_TIMEOUT = 10
SPOOL_MODE = int("700", 8)
SPOOL_FILE_MODE = int("600", 8)


def _ssh_options(ip, port, connect_timeout):
    opts = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % connect_timeout,
            "-o", "LogLevel=ERROR", "-i", base.setting("domr_key")]
    if check.is_link_local(ip):
        opts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        opts += ["-o", "StrictHostKeyChecking=yes"]
    return opts


def _ssh(ip, port, command, timeout):
    argv = ([base.setting("ssh")] + _ssh_options(ip, port, min(CONNECT_TIMEOUT, timeout))
            + ["-p", str(port), "%s@%s" % (base.setting("domr_user"), ip), command])
    return base.host().run(argv, timeout)


def exec_domr(ip, cmd, timeout=EXEC_TIMEOUT):
    """Run a system-VM script (``/opt/cloud/bin/...``) over SSH -> ``{"rc", "out", "err"}``.

    A command that outlives ``timeout`` seconds is killed and reported as a fault.
    """
    ip = check.ipv4("ip", ip)
    cmd = check.domr_command("cmd", cmd)
    timeout = check.integer("timeout", timeout, 1, MAX_EXEC_TIMEOUT)
    try:
        rc, out, err = _ssh(ip, base.setting("domr_port"), cmd, timeout)
    except ovm3_compat.CommandTimeout:
        raise base.ServiceError("exec_domr: %s on %s did not finish within %d s and was killed"
                                % (cmd.split()[0], ip, timeout))
    return {"rc": rc, "out": out, "err": err}


def check_domr_ssh(ip, port=3922, timeout=10):
    """True when the system VM at ``ip`` accepts CloudStack's key and runs a command."""
    ip = check.ipv4("ip", ip)
    port = check.port("port", port)
    timeout = check.integer("timeout", timeout, 1, 120)
    try:
        rc, out, err = _ssh(ip, port, "true", timeout)
    except ovm3_compat.CommandTimeout:
        return False
    return rc == 0


def ovs_domr_upload_file(domr_ip, path, filename, content):
    """Copy ``content`` to ``path/filename`` on a system VM (scp through a private 0600 spool file)."""
    ip = check.ipv4("domr_ip", domr_ip)
    path = check.path_syntax("path", path)
    filename = check.filename("filename", filename)
    content = check.content("content", content)
    host = base.host()
    spool = base.setting("spool_dir")
    if not host.isdir(spool):
        host.makedirs(spool, SPOOL_MODE)
    local = "%s/upload-%d-%s" % (spool, os.getpid(), ovm3_compat.md5_hex(
        "%s:%s/%s:%r" % (ip, path, filename, host.monotonic()))[:12])
    host.write_file_atomic(local, content, SPOOL_FILE_MODE)
    try:
        port = base.setting("domr_port")
        argv = ([base.setting("scp"), "-q", "-P", str(port)] + _ssh_options(ip, port, CONNECT_TIMEOUT)
                + [local, "%s@%s:%s/%s" % (base.setting("domr_user"), ip, path.rstrip("/"), filename)])
        try:
            rc, out, err = host.run(argv, EXEC_TIMEOUT)
        except ovm3_compat.CommandTimeout:
            raise base.ServiceError("ovs_domr_upload_file: copy to %s did not finish within %d s"
                                    % (ip, EXEC_TIMEOUT))
    finally:
        try:
            host.remove(local)
        except (IOError, OSError):
            pass
    if rc != 0:
        raise base.ServiceError("ovs_domr_upload_file: scp to %s:%s/%s failed (rc %d): %s"
                                % (ip, path, filename, rc, err.strip()[:300]))
    return True


SERVICES = {
    "exec_domr": exec_domr,
    "check_domr_ssh": check_domr_ssh,
    "ovs_domr_upload_file": ovs_domr_upload_file,
}
