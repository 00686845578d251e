"""What deployment reads from a host before changing anything: OVM version, dom0 Python, agent, checksums.

Every path is taken under a *remote root* (``/`` on a real host; a temp tree in tests), see
:func:`under`. Nothing here writes to the host.
"""
import dataclasses
import hashlib
import posixpath
import re

from ovm3.errors import DeployError

#: OVM generation -> the dom0 Python that runs ovs-agent (2.4 on Oracle Linux 5, 2.6 on Oracle Linux 6).
DOM0_PYTHON = {"3.2": "2.4", "3.3": "2.6", "3.4": "2.6"}
SUPPORTED = tuple(sorted(DOM0_PYTHON))
_RELEASE = re.compile(r"(\d+)\.(\d+)(?:\.[\d.]+)?")


def under(root, path):
    """``path`` (absolute, as on a real host) inside ``root``."""
    if not path.startswith("/"):
        raise ValueError("host paths are absolute: %r" % path)
    return posixpath.normpath(posixpath.join(root, path.lstrip("/"))) if root != "/" else path


@dataclasses.dataclass
class HostFacts:
    """The host as detected: release string, generation (``3.3``), dom0 Python, agent package dir."""

    release: str
    ovm_version: str
    generation: str
    python: str
    python_version: str
    agent_dir: str
    root: str = "/"


def parse_release(text):
    """``(full version, generation)`` from /etc/ovs-release, e.g. ``("3.3.1", "3.3")``; None if unreadable."""
    first = (text or "").strip().splitlines()[:1]
    matches = list(_RELEASE.finditer(first[0])) if first else []
    if not matches:
        return None
    m = matches[-1]
    return m.group(0), "%s.%s" % (m.group(1), m.group(2))


def detect(conn, root="/", python=None):
    """Detect the host behind ``conn``; raise :class:`ovm3.errors.DeployError` for unsupported hosts.

    :param python: dom0 Python to use instead of the one the OVM version implies (tests).
    """
    release_path = under(root, "/etc/ovs-release")
    raw = conn.get(release_path)
    if raw is None:
        raise DeployError("not an Oracle VM Server: %s is missing" % release_path, host=conn.label,
                          hint="deploy only to OVM 3.2/3.3/3.4 dom0 hosts")
    release = raw.decode("utf-8", "replace").strip()
    parsed = parse_release(release)
    if parsed is None or parsed[1] not in DOM0_PYTHON:
        raise DeployError("unsupported OVM release %r (supported: %s)" % (release[:80], ", ".join(SUPPORTED)),
                          host=conn.label, hint="this toolkit knows the agent API of OVM 3.2 to 3.4 only")
    version, generation = parsed
    dom0_py = DOM0_PYTHON[generation]
    candidates = [python] if python else ["/usr/bin/python" + dom0_py, "/usr/bin/python"]
    py, py_version = _find_python(conn, candidates)
    if not python and py_version != dom0_py:
        raise DeployError("OVM %s should run Python %s, but %s is %s" % (version, dom0_py, py, py_version),
                          host=conn.label, hint="pass --remote-python to choose the interpreter")
    agent_dir = _find_agent(conn, root, dom0_py)
    return HostFacts(release, version, generation, py, py_version, agent_dir, root)


def _find_python(conn, candidates):
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    for py in candidates:
        result = conn.run([py, "-c", code], timeout=30)
        if result.ok and result.text().strip():
            return py, result.text().strip()
    raise DeployError("no usable dom0 Python (tried %s)" % ", ".join(candidates), host=conn.label)


def _find_agent(conn, root, dom0_py):
    dirs = [under(root, "/usr/%s/python%s/site-packages/agent" % (lib, dom0_py)) for lib in ("lib64", "lib")]
    result = conn.run(["ls", "-d"] + [posixpath.join(d, "target", "api.py") for d in dirs], timeout=30)
    found = set(result.text().split())
    for d in dirs:
        if posixpath.join(d, "target", "api.py") in found:
            return d
    raise DeployError("ovs-agent package not found (looked for %s)" % " and ".join(dirs), host=conn.label,
                      hint="is ovs-agent installed on this host?")


def remote_checksums(conn, paths):
    """``{path: (algorithm, hexdigest)}`` for the paths that exist (sha1sum, else md5sum on old hosts)."""
    if not paths:
        return {}
    for algorithm in ("sha1", "md5"):
        result = conn.run([algorithm + "sum"] + list(paths), timeout=120)
        if result.status == 127:  # tool missing
            continue
        sums = {}
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            digest, _, name = line.partition("  ")
            if name and re.fullmatch(r"[0-9a-f]+", digest):
                sums[name.lstrip("*")] = (algorithm, digest)
        return sums
    raise DeployError("neither sha1sum nor md5sum exists on the host", host=conn.label)


def remote_modes(conn, paths):
    """``{path: (permission bits, "user:group")}`` for the paths that exist (GNU ``stat``)."""
    if not paths:
        return {}
    result = conn.run(["stat", "-c", "%a %U:%G %n"] + list(paths), timeout=120)  # missing files: exit 1
    out = {}
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and re.fullmatch(r"[0-7]{3,4}", parts[0]):
            out[parts[2]] = (int(parts[0], 8), parts[1])
    return out


def local_digest(algorithm, data):
    """Hex digest of bytes with the algorithm the host used."""
    return hashlib.new(algorithm, data).hexdigest()
