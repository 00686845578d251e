"""File services: directories, file checks and uploads, confined to the allowed roots.

Python 2.4-compatible, stdlib only.
"""
import ovm3_agent_base as base
import ovm3_agent_validate as check

#: Modes of what the upload services create (explicit: the agent's umask does not matter).
DIR_MODE = int("755", 8)
FILE_MODE = int("644", 8)
SSH_DIR_MODE = int("700", 8)
KEY_MODE = int("600", 8)
#: The key file the management side uploads (CloudStack's system-VM key).
SSH_KEY_NAMES = ("id_rsa.cloud",)


def _roots():
    return tuple(base.setting("file_roots"))


def ovs_mkdirs(directory, mode=448):
    """Create ``directory`` (below the allowed roots) with ``mode``; nil when created, True when it existed.

    The nil/True replies are CloudStack's; a decimal ``755`` is read as the octal mode it means.
    """
    host = base.host()
    directory = check.confined_path(host, "directory", directory, _roots())
    mode = check.mkdir_mode("mode", mode)
    if host.isdir(directory):
        return True
    if host.exists(directory):
        raise base.ServiceError("ovs_mkdirs: %s exists and is not a directory" % directory)
    host.makedirs(directory, mode)
    return None


def ovs_check_file(filename):
    """True when ``filename`` (below the allowed roots or root's .ssh) is a regular file."""
    host = base.host()
    filename = check.confined_path(host, "filename", filename, _roots() + (base.setting("ssh_dir"),))
    return bool(host.isfile(filename))


def ovs_upload_file(path, filename, content):
    """Write ``content`` to ``path/filename`` (mode 0644) atomically; ``path`` is created (0755) if missing."""
    host = base.host()
    path = check.confined_path(host, "path", path, _roots())
    filename = check.filename("filename", filename)
    content = check.content("content", content)
    target = check.confined_path(host, "filename", path.rstrip("/") + "/" + filename, _roots())
    if not host.isdir(path):
        host.makedirs(path, DIR_MODE)
    if host.isdir(target):
        raise base.ServiceError("ovs_upload_file: %s is a directory" % target)
    host.write_file_atomic(target, content, FILE_MODE)
    return True


def ovs_upload_ssh_key(keyfile, content):
    """Write an SSH key to root's .ssh directory (0700) as ``keyfile`` with mode 0600, atomically.

    ``keyfile`` is ``id_rsa.cloud`` or a name in the ``ssh_key_names`` setting; ``authorized_keys*``,
    ``known_hosts*``, ``rc``, ``environment`` and ``config`` are refused in any case."""
    host = base.host()
    ssh_dir = base.setting("ssh_dir")
    allowed = SSH_KEY_NAMES + tuple(base.setting("ssh_key_names"))
    keyfile = check.ssh_key_name("keyfile", keyfile, allowed)
    content = check.content("content", content)
    target = check.confined_path(host, "keyfile", ssh_dir + "/" + keyfile, (ssh_dir,))
    if not host.isdir(ssh_dir):
        host.makedirs(ssh_dir, SSH_DIR_MODE)
    host.write_file_atomic(target, content, KEY_MODE)
    return True


SERVICES = {
    "ovs_mkdirs": ovs_mkdirs,
    "ovs_check_file": ovs_check_file,
    "ovs_upload_file": ovs_upload_file,
    "ovs_upload_ssh_key": ovs_upload_ssh_key,
}
