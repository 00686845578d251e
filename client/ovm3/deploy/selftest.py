"""``ovm3 deploy --self-test HOST...``: run the host tests on the dom0's own Python, as an unprivileged user.

The bundle is this checkout's host-side code and host tests (``tests/host``, stdlib unittest) in their
own folder layout, plus the tests' small runner (``tests/host/runner.py``: 2.4 and 2.6 have no
``unittest discover``). It goes in one tar stream into a fresh ``mktemp -d /tmp/ovm3-selftest.XXXXXXXX``
directory on the host; the host's Python runs the runner there, which drops to ``--self-test-user``
(default ``nobody``) before importing a single test, so no test can reach /proc/sysrq-trigger,
/dev/watchdog or /etc; the directory is removed afterwards whatever happened. Nothing else on the host
is touched: the tests keep to their own temp sandboxes.
"""
import glob
import io
import os
import posixpath
import re
import tarfile

from ovm3 import errors
from ovm3.deploy import facts as host_facts
from ovm3.deploy.engine import HostResult

DEFAULT_USER = "nobody"
TEMP_TEMPLATE = "/tmp/ovm3-selftest.XXXXXXXX"
_TEMP_DIR = re.compile(r"/tmp/ovm3-selftest\.[A-Za-z0-9]{8}\Z")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}\Z")
RUNNER = "tests/host/runner.py"
_SUMMARY = re.compile(r"^ovm3-selftest python=(\S+) ran=(\d+) failures=(\d+) errors=(\d+) uid=(\d+)$", re.M)
#: What the bundle holds (folder, glob) and the host tests it leaves out: the gate's test needs the
#: development machine's Python 3 and vermin, not the host.
BUNDLE = (("agent_module", "*.py"), ("hostlib", "*.py"), ("fencing", "*.py"), ("fencing", "*.init"),
          ("tools/host", "*.py"), ("tools/snapshots", "*.json"), ("tests/host", "*.py"))
LEFT_OUT = ("tests/host/test_gate.py",)
PROGRAMS = ("fencing/ovm3-heartbeat.init",)


def check_user(user):
    """The user name the tests run as: a plain account name, never root."""
    if not _USER.match(user or "") or user == "root":
        raise errors.UsageError("--self-test-user must be a plain unprivileged account name, got %r" % user)
    return user


def source_tree(tree=None):
    """The checkout whose host tests are shipped: ``tree``, else the one this ovm3 runs from."""
    if tree is None:
        tree = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    if not os.path.isfile(os.path.join(tree, RUNNER)):
        raise errors.UsageError("the self-test ships a source checkout's tests/host, but %s has none"
                                % os.path.join(tree, "tests", "host"),
                                hint="run ovm3 from a git checkout of the project")
    return tree


def bundle(tree):
    """``[(relative path, bytes, mode)]`` of everything the self-test uploads, sorted."""
    out = [("tests/__init__.py", b"", 0o644)]
    for folder, pattern in BUNDLE:
        for path in sorted(glob.glob(os.path.join(tree, folder, pattern))):
            rel = posixpath.join(folder, os.path.basename(path))
            if rel in LEFT_OUT:
                continue
            with open(path, "rb") as f:
                data = f.read()
            out.append((rel, data, 0o755 if rel in PROGRAMS else 0o644))
    return sorted(set(out))


def _tar(members):
    buf = io.BytesIO()
    dirs = set()
    for rel, _, _ in members:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for rel, data, mode in members:
            info = tarfile.TarInfo(rel)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def parse_summary(text):
    """``(python version, ran, failed, uid, failed test ids)`` from the runner's stdout, or None."""
    m = _SUMMARY.search(text)
    if not m:
        return None
    failed_ids = [line[len("FAILED "):] for line in text.splitlines() if line.startswith("FAILED ")]
    return m.group(1), int(m.group(2)), int(m.group(3)) + int(m.group(4)), int(m.group(5)), failed_ids


def run(conn, root="/", python=None, user=DEFAULT_USER, tree=None, timeout=600.0, label=None):
    """Run the host tests on the host behind ``conn``; returns a :class:`HostResult` (passed/failed)."""
    user = check_user(user)
    members = bundle(source_tree(tree))
    result = HostResult(label or conn.label)
    facts = host_facts.detect(conn, root, python)
    result.ovm_version = facts.ovm_version
    made = conn.run(["mktemp", "-d", TEMP_TEMPLATE], timeout=30)
    folder = made.text().strip()
    if not made.ok or not _TEMP_DIR.match(folder):
        raise errors.DeployError("cannot make the self-test directory (mktemp -d %s): %s"
                                 % (TEMP_TEMPLATE, made.error_text() or folder[:80]), host=result.host)
    result.actions.append("made %s" % folder)
    try:
        conn.run_chain([["chmod", "755", folder], ["tar", "-x", "-C", folder, "-f", "-"]],
                       stdin=_tar(members), timeout=timeout, check=True)
        result.uploaded = [posixpath.join(folder, rel) for rel, _, _ in members]
        result.bytes_uploaded = sum(len(data) for _, data, _ in members)
        argv = [facts.python, posixpath.join(folder, RUNNER), "--user", user, posixpath.join(folder, "tests/host")]
        done = conn.run(argv, timeout=timeout)
        result.actions.append("ran the host tests with %s as %s (exit %d)" % (facts.python, user, done.status))
    finally:
        gone = conn.run_chain([["rm", "-rf", folder], ["test", "!", "-e", folder]], timeout=60)
        if not gone.ok:
            raise errors.DeployError("could not remove %s: %s" % (folder, gone.error_text()), host=result.host)
        result.actions.append("removed %s" % folder)
    summary = parse_summary(done.text())
    if summary is None:
        result.status = "failed"
        result.reason = "the host tests did not run (exit %d): %s" % (done.status, done.error_text(200))
        return result
    version, ran, failed, uid, failed_ids = summary
    result.plan = ["FAILED %s" % test for test in failed_ids]
    if uid == 0:
        result.status = "failed"
        result.reason = "the host tests ran as root (uid 0), not as %s: their results are not trusted" % user
    elif done.status == 0 and failed == 0 and ran > 0:
        result.status = "passed"
        result.reason = "%d host tests passed on Python %s as uid %d" % (ran, version, uid)
    else:
        result.status = "failed"
        result.reason = "%d of %d host tests failed on Python %s as uid %d: %s" % (
            failed, ran, version, uid, ", ".join(failed_ids[:3]) + (", ..." if len(failed_ids) > 3 else ""))
    return result
