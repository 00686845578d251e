"""The watchdog the heartbeat daemon pets: a Linux watchdog device, or a plain file in tests.

Opening a device arms it, any write pets it, writing ``V`` before close disarms it (magic close). A
character device must take our timeout (WDIOC_SETTIMEOUT) and say what it uses (WDIOC_GETTIMEOUT),
or the daemon refuses to start: peers are told that timeout and wait for it before taking over. A
regular file (tests only) cannot reset anything; it needs an explicit WATCHDOG_TIMEOUT, is logged as
"not a device", and still counts as armed. The ioctl numbers are built like the kernel's ``_IOR`` /
``_IOWR`` and packed with struct, which works on Python 2.4. dom0 Python 2.4..3.x.
"""
import errno
import math
import os
import stat
import struct
import sys

import ovm3_compat

#: Used when a device is configured without WATCHDOG_TIMEOUT (softdog's default).
DEVICE_DEFAULT_TIMEOUT = 60

_IOC_WRITE = 1
_IOC_READ = 2
_INT_SIZE = struct.calcsize("i")


def ioc(direction, kind, number, size):
    """The kernel's _IOC(dir, type, nr, size), as a signed 32-bit int (fcntl.ioctl on 2.4 wants one)."""
    code = (direction << 30) | (size << 16) | (ord(kind) << 8) | number
    if code >= 2 ** 31:
        code = code - 2 ** 32
    return int(code)


WDIOC_SETTIMEOUT = ioc(_IOC_READ | _IOC_WRITE, "W", 6, _INT_SIZE)
WDIOC_GETTIMEOUT = ioc(_IOC_READ, "W", 7, _INT_SIZE)


class WatchdogError(Exception):
    """The watchdog cannot be used as configured; the message says why and what to do."""


def _default_ioctl(fd, request, data):
    import fcntl
    return fcntl.ioctl(fd, request, data)


def set_timeout(fd, seconds, ioctl=_default_ioctl):
    """Ask the device for ``seconds``, then read back what it uses -> int seconds."""
    ioctl(fd, WDIOC_SETTIMEOUT, struct.pack("i", int(seconds)))
    return struct.unpack("i", ioctl(fd, WDIOC_GETTIMEOUT, struct.pack("i", 0)))[0]


class Watchdog:
    """An open watchdog: ``timeout`` (seconds, as advertised), ``device`` (False for a plain file)."""

    def __init__(self, path, timeout=None, ioctl=_default_ioctl, log=None):
        self.path = path
        self.fd = None
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise WatchdogError("watchdog %s: %s" % (path, sys.exc_info()[1]))
        self.device = stat.S_ISCHR(mode)
        if not self.device:
            if not stat.S_ISREG(mode):
                raise WatchdogError("watchdog %s is neither a character device nor a test file" % path)
            if timeout is None:
                raise WatchdogError("watchdog %s is not a device (a test file): set WATCHDOG_TIMEOUT, the "
                                    "timeout peers are told to wait for" % path)
            self.fd = os.open(path, os.O_WRONLY)
            self.timeout = float(timeout)
            if log is not None:
                log.warning("watchdog %s is not a device (tests only): it cannot reset this host; "
                            "advertising WATCHDOG_TIMEOUT %s s" % (path, self.timeout))
            return
        wanted = DEVICE_DEFAULT_TIMEOUT
        if timeout is not None:
            wanted = int(math.ceil(timeout))
        self.fd = os.open(path, os.O_WRONLY)
        try:
            got = set_timeout(self.fd, wanted, ioctl)
        except (IOError, OSError):
            error = sys.exc_info()[1]
            self.close(disarm=True)
            raise WatchdogError("watchdog %s does not answer WDIOC_SETTIMEOUT/WDIOC_GETTIMEOUT (%s): it "
                                "is not a watchdog, or its timeout cannot be known; refusing to start"
                                % (path, error))
        if got <= 0:
            self.close(disarm=True)
            raise WatchdogError("watchdog %s reports a timeout of %r s; refusing to start" % (path, got))
        self.timeout = float(got)
        if log is not None and got != wanted:
            log.warning("watchdog %s took a timeout of %d s instead of %d s; advertising %d s"
                        % (path, got, wanted, got))

    def pet(self):
        ovm3_compat.write_all(self.fd, ".")

    def close(self, disarm):
        """Close; ``disarm`` writes the magic ``V`` first (else the watchdog stays running)."""
        if self.fd is None:
            return
        try:
            if disarm:
                try:
                    ovm3_compat.write_all(self.fd, "V")
                except OSError:
                    if sys.exc_info()[1].errno != errno.EBADF:
                        raise
        finally:
            os.close(self.fd)
            self.fd = None
