"""A FUSE filesystem for tests whose storage can hang or fail on command, like a dead NFS server.

It mirrors a backing directory. Control files in a separate control directory decide how it behaves:

- ``freeze-writes`` exists: every operation that changes data (create, write, fsync, rename, ...) blocks
  inside the filesystem until the file is removed, so the caller sleeps in the kernel exactly as a
  write to an NFS server that stopped answering does. Reads keep working.
- ``freeze-all`` exists: every operation blocks, reads too (a storage that does not answer at all).
- ``error`` holds an errno name (``ENOSPC``, ``EIO``): data-changing operations fail with it.
- ``slow`` holds seconds: every data-changing operation takes that long (a slow, not dead, server).
- ``full`` exists: operations that need new space fail with ENOSPC (create, a write past the end of
  the file, growing truncate); overwriting existing bytes in place still works (a full export).

Run as a separate process: ``python tests/fusefs.py BACKING MOUNTPOINT CONTROL [--cache]``; ``--cache``
makes the kernel keep attributes, names and file data (``kernel_cache``, long attribute and entry
timeouts), so a reader through that mount sees stale data unless it bypasses the caches.

:class:`FuseMount` starts, controls and always cleans up such a process from a test.
"""
import errno
import os
import signal
import subprocess
import sys
import threading
import time

POLL = 0.01
CONTROL_FILES = ("freeze-writes", "freeze-all", "error", "slow", "full")


def _fuse_ops():
    from fuse import FuseOSError, Operations  # fusepy, imported only in the filesystem process

    class Mirror(Operations):
        """Pass-through to the backing directory, gated by the control files."""

        use_ns = True

        def __init__(self, backing, control):
            self.backing = os.path.realpath(backing)
            self.control = control

        def _real(self, path):
            return os.path.join(self.backing, path.lstrip("/"))

        def _setting(self, name):
            try:
                with open(os.path.join(self.control, name)) as f:
                    return f.read().strip()
            except OSError:
                return ""

        def _gate(self, changes, allocates=False):
            while os.path.exists(os.path.join(self.control, "freeze-all")) or (
                    changes and os.path.exists(os.path.join(self.control, "freeze-writes"))):
                time.sleep(POLL)
            if changes:
                slow = self._setting("slow")
                if slow:
                    time.sleep(float(slow))
                name = self._setting("error")
                if name:
                    raise FuseOSError(getattr(errno, name))
                if allocates and os.path.exists(os.path.join(self.control, "full")):
                    raise FuseOSError(errno.ENOSPC)

        def _call(self, changes, func, *args):
            self._gate(changes)
            try:
                return func(*args)
            except OSError as e:
                raise FuseOSError(e.errno)

        # ---- reads ------------------------------------------------------------------------------
        def getattr(self, path, fh=None):
            st = self._call(False, os.lstat, self._real(path))
            return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                                                "st_atime", "st_mtime", "st_ctime")}

        def readdir(self, path, fh):
            return [".", ".."] + self._call(False, os.listdir, self._real(path))

        def open(self, path, flags):
            writes = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC))
            return self._call(writes, os.open, self._real(path), flags & ~os.O_DIRECT)

        def read(self, path, size, offset, fh):
            self._gate(False)
            return os.pread(fh, size, offset)

        def statfs(self, path):
            st = self._call(False, os.statvfs, self._real(path))
            return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

        def release(self, path, fh):
            os.close(fh)
            return 0

        def flush(self, path, fh):
            return 0

        def releasedir(self, path, fh):
            return 0

        def opendir(self, path):
            self._gate(False)
            return 0

        # ---- writes -----------------------------------------------------------------------------
        def create(self, path, mode, fi=None):
            self._gate(True, allocates=True)
            return self._call(False, os.open, self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

        def write(self, path, data, offset, fh):
            self._gate(True, allocates=offset + len(data) > os.fstat(fh).st_size)
            return self._call(False, os.pwrite, fh, data, offset)

        def truncate(self, path, length, fh=None):
            self._gate(True, allocates=length > os.stat(self._real(path)).st_size)
            self._call(False, os.truncate, self._real(path), length)

        def fsync(self, path, datasync, fh):
            self._call(True, os.fsync, fh)
            return 0

        def fsyncdir(self, path, datasync, fh):
            self._gate(True)
            return 0

        def rename(self, old, new):
            self._call(True, os.rename, self._real(old), self._real(new))

        def unlink(self, path):
            self._call(True, os.unlink, self._real(path))

        def mkdir(self, path, mode):
            self._call(True, os.mkdir, self._real(path), mode)

        def rmdir(self, path):
            self._call(True, os.rmdir, self._real(path))

        def chmod(self, path, mode):
            self._call(True, os.chmod, self._real(path), mode)

        def chown(self, path, uid, gid):
            self._call(True, os.chown, self._real(path), uid, gid)

        def utimens(self, path, times=None):
            self._gate(True)
            if times:
                os.utime(self._real(path), ns=times)
            else:
                os.utime(self._real(path))

    return Mirror


def serve(backing, mountpoint, control, cache):
    """Mount and serve until unmounted (blocks)."""
    from fuse import FUSE

    options = {"foreground": True, "nothreads": False, "fsname": "ovm3test", "subtype": "ovm3test"}
    if cache:
        options.update(kernel_cache=True, attr_timeout=3600, entry_timeout=3600, negative_timeout=3600)
    else:
        options.update(attr_timeout=0, entry_timeout=0, negative_timeout=0)
    FUSE(_fuse_ops()(backing, control), mountpoint, **options)


def is_mounted(mountpoint, proc_mounts="/proc/mounts"):
    """True when ``mountpoint`` is listed in /proc/mounts (never stats the mount, which could hang)."""
    with open(proc_mounts) as f:
        return any(line.split()[1] == mountpoint for line in f if len(line.split()) > 1)


class FuseMount:
    """One fusefs process serving ``backing`` at ``mountpoint``; use as a context manager.

    ``freeze()``/``freeze(reads=True)``/``fail("ENOSPC")`` change behaviour, ``release()`` undoes all.
    ``close()`` releases frozen callers first, then unmounts (lazily if busy) and stops the process.
    """

    def __init__(self, backing, mountpoint, control, cache=False):
        self.backing = str(backing)
        self.mountpoint = os.path.realpath(str(mountpoint))
        self.control = str(control)
        self.cache = cache
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, wait=10.0):
        os.makedirs(self.mountpoint, exist_ok=True)
        os.makedirs(self.control, exist_ok=True)
        self.release()
        args = [sys.executable, os.path.abspath(__file__), self.backing, self.mountpoint, self.control]
        if self.cache:
            args.append("--cache")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + wait
        while not is_mounted(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("fusefs did not mount %s" % self.mountpoint)
            time.sleep(0.02)

    def _set(self, name, content=""):
        tmp = os.path.join(self.control, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(content)
        os.rename(tmp, os.path.join(self.control, name))

    def freeze(self, reads=False):
        """Make data-changing operations (and with ``reads=True`` every operation) block."""
        self._set("freeze-all" if reads else "freeze-writes")

    def fail(self, errno_name):
        """Make data-changing operations fail with ``errno_name`` (e.g. ``ENOSPC``, ``EIO``)."""
        self._set("error", errno_name)

    def slow(self, seconds):
        """Make every data-changing operation take ``seconds``."""
        self._set("slow", repr(float(seconds)))

    def full(self):
        """Refuse new space (ENOSPC) while in-place overwrites still work."""
        self._set("full")

    def release(self):
        """Undo freeze() and fail(): blocked callers continue."""
        for name in CONTROL_FILES:
            try:
                os.unlink(os.path.join(self.control, name))
            except FileNotFoundError:
                pass

    def close(self):
        self.release()
        if self.proc is None:
            return
        if is_mounted(self.mountpoint):
            for argv in (["fusermount", "-u", self.mountpoint], ["umount", "-l", self.mountpoint]):
                if subprocess.call(argv, stderr=subprocess.DEVNULL) == 0:
                    break
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        if is_mounted(self.mountpoint):
            subprocess.call(["umount", "-l", self.mountpoint], stderr=subprocess.DEVNULL)
        self.proc = None


def _main(argv):
    cache = "--cache" in argv
    args = [a for a in argv if a != "--cache"]
    if len(args) != 3:
        sys.stderr.write(__doc__)
        return 2
    # Ignore SIGINT from the test runner's terminal; the parent unmounts us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.current_thread().name = "fusefs"
    serve(args[0], args[1], args[2], cache)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
