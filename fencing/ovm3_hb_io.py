"""Storage I/O in child processes, so the daemon's main loop never blocks on a dead mount.

:func:`spawn` forks a child that runs one function and sends its result lines through a pipe. The
parent collects them without blocking (:meth:`Worker.pump`) and gives up on a child that passes its
deadline: it sends SIGKILL, but a process stuck in the kernel on a hard NFS mount may not die until the
server answers, so the worker stays in its slot (and no second one is started for that mount) until it
is reaped. dom0 Python 2.4..3.x: fork and pipes, no threads, no subprocess timeouts.
"""
import errno
import os
import signal
import sys

import ovm3_compat
import ovm3_hb_record


class Worker:
    """One child process: ``pid``, the read end of its pipe, when it started and its deadline."""

    def __init__(self, pid, fd, kind, mount, started, deadline, tag=None):
        self.pid = pid
        self.fd = fd
        self.kind = kind
        self.mount = mount
        self.started = started
        self.deadline = deadline
        self.tag = tag
        self.chunks = []
        self.eof = False
        self.status = None
        self.killed = False
        self.detached = False

    def pump(self):
        """Read what the child wrote so far (the fd is non-blocking); True at end of file."""
        while not self.eof:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                code = sys.exc_info()[1].errno
                if code in (errno.EAGAIN, errno.EINTR):
                    return False
                self.eof = True
                break
            if not data:
                self.eof = True
                break
            self.chunks.append(data)
        return True

    def reap(self):
        """Collect the exit status if the child has exited; True when it has."""
        if self.status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except OSError:
            self.status = -1
            return True
        if pid == 0:
            return False
        self.status = status
        return True

    def sigkill(self):
        """SIGKILL the child (it may stay in the kernel until its storage answers)."""
        self.killed = True
        if self.detached:
            return  # not ours to kill any more: its own alarm ends it
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def close(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None

    def result(self):
        """(ok, lines): ok when the child reported success (its last line is ``ok``)."""
        text = ovm3_compat.to_text(_join(self.chunks))
        lines = [line for line in text.split("\n") if line]
        ok = bool(lines) and lines[-1] == "ok"
        if not ok and not lines:
            lines = ["error message=" + ovm3_hb_record.quote("child ended abnormally (status %r)" % (self.status,))]
        return ok, lines


def spawn(func, args, kind, mount, now, deadline, close_fds=(), detach=False, tag=None):
    """Fork a child that runs ``func(*args)`` -> list of result lines, and exits.

    ``close_fds`` (the watchdog, the lock) are closed in the child first so a child stuck in the
    kernel keeps neither the lock nor the watchdog open; its stdin/stdout/stderr become /dev/null. The
    child also arms SIGALRM for its deadline (plus a second) so it ends by itself once the kernel lets it. ``detach`` double-forks: the parent
    has nothing to reap (for callers such as ovs-agent that cannot wait for a hung child).
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            try:
                os.close(rfd)
                if detach and os.fork() != 0:
                    os._exit(0)
                for fd in close_fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                # A child stuck on dead storage must not hold its caller's stdout/stderr open: whoever
                # reads them to the end (a shell, CloudStack, a test) would hang with it.
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                if null > 2:
                    os.close(null)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.alarm(int(deadline - now) + 2)
                lines = func(*args)
                payload = "\n".join(lines) + "\n"
                code = 0
            except Exception:
                payload = "error message=%s\n" % ovm3_hb_record.quote(str(sys.exc_info()[1]))
            try:
                ovm3_compat.write_all(wfd, payload)
            except OSError:
                # Only the result pipe may lose a write: its reader (the daemon) gave up on us.
                if sys.exc_info()[1].errno != errno.EPIPE:
                    raise
        finally:
            os._exit(code)
    os.close(wfd)
    _nonblocking(rfd)
    worker = Worker(pid, rfd, kind, mount, now, deadline, tag)
    if detach:
        ovm3_compat.retry_eintr(os.waitpid, pid, 0)
        worker.status = 0
        worker.detached = True
    return worker


def _join(chunks):
    if not chunks:
        return ovm3_compat.to_bytes("")
    return chunks[0][:0].join(chunks)


def _nonblocking(fd):
    import fcntl
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)


# ---- the child jobs -------------------------------------------------------------------------------------

def write_job(mount, guid, record, device=None, inode=None):
    """Child job: write our heartbeat record into ``mount`` (see ovm3_hb_record.write_heartbeat);
    the result names the file's device and inode."""
    major, minor, ino = ovm3_hb_record.write_heartbeat(mount, guid, record, device, inode)
    return [ovm3_hb_record.format_line("file", {"major": major, "minor": minor, "inode": ino}), "ok"]


def parse_write_result(lines):
    """Lines of a successful :func:`write_job` -> ((major, minor), inode)."""
    for line in lines:
        kind, fields = ovm3_hb_record.parse_line(line)
        if kind == "file":
            try:
                return (int(fields["major"]), int(fields["minor"])), int(fields["inode"])
            except (KeyError, ValueError):
                break
    raise ValueError("malformed write result")


def read_job(mount, only_guid=None):
    """Child job: read every heartbeat file in ``mount`` with direct I/O -> one line per file."""
    lines = []
    results = ovm3_hb_record.read_heartbeats(mount, only_guid)
    for guid in results.keys():
        status, value = results[guid]
        if status == "ok":
            fields = {"guid": guid, "version": value["version"]}
            for key in ovm3_hb_record.RECORD_KEYS:
                fields["r_" + key] = value[key]
            lines.append(ovm3_hb_record.format_line("record", fields))
        else:
            lines.append(ovm3_hb_record.format_line("bad", {"guid": guid, "message": value}))
    lines.append("ok")
    return lines


def record_fields(fields, prefix="r_"):
    """The record keys carried in a pipe or state-file line (prefixed) -> typed record dict."""
    raw = {}
    for key in ovm3_hb_record.RECORD_KEYS:
        if prefix + key in fields:
            raw[key] = fields[prefix + key]
    try:
        version = int(fields.get("version", "2"))
    except ValueError:
        raise ovm3_hb_record.RecordError("malformed record version")
    return ovm3_hb_record.typed(raw, version)


def parse_read_result(lines):
    """Lines of :func:`read_job` -> {guid: ("ok", record) | ("error", message)}, or raise ValueError."""
    results = {}
    done = False
    for line in lines:
        kind, fields = ovm3_hb_record.parse_line(line)
        if kind == "ok":
            done = True
        elif kind == "error":
            raise ValueError(fields.get("message", "read failed"))
        elif kind == "bad":
            results[fields["guid"]] = ("error", fields.get("message", ""))
        elif kind == "record":
            if "guid" not in fields:
                raise ValueError("malformed read result")
            try:
                results[fields["guid"]] = ("ok", record_fields(fields))
            except ovm3_hb_record.RecordError:
                results[fields["guid"]] = ("error", "malformed record")
    if not done:
        raise ValueError("the read did not complete")
    return results


def error_of(lines):
    """The error message a failed child reported."""
    for line in lines:
        kind, fields = ovm3_hb_record.parse_line(line)
        if kind == "error":
            return fields.get("message", "failed")
    return "failed"


def wait_all(workers, until):
    """Wait until every worker has finished (end of pipe, reaped) or ``until`` (monotonic) passes.

    Returns the workers still unfinished; the caller decides whether to kill them.
    """
    import select
    import time
    pending = list(workers)
    while pending:
        now = ovm3_compat.monotonic()
        if now >= until:
            break
        fds = [w.fd for w in pending if not w.eof]
        if fds:
            try:
                select.select(fds, [], [], min(until - now, 0.5))
            except (select.error, OSError):
                pass
        else:
            time.sleep(0.01)
        for w in pending[:]:
            w.pump()
            if w.eof and w.reap():
                w.close()
                pending.remove(w)
    return pending
