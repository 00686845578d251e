"""Sparse copies from host paths, ``file://`` URLs and loopback ``http://`` URLs.

Runs of zero bytes are skipped with ``seek`` so the destination stays sparse, as ovs-agent's copies
of raw disk images are.
"""

import ipaddress
import os
import shutil
import urllib.parse
import urllib.request

from ovm3.sim.state import AgentError

CHUNK = 1024 * 1024
_ZERO = bytes(CHUNK)


def write_sparse(src_file, dst_path, size_hint=None, limit=None):
    """Copy a readable binary file object to ``dst_path``, leaving holes for zero blocks; with ``limit``,
    stop after that many bytes."""
    written = 0
    with open(dst_path, "wb") as out:
        while limit is None or written < limit:
            block = src_file.read(CHUNK if limit is None else min(CHUNK, limit - written))
            if not block:
                break
            if block == _ZERO[: len(block)]:
                out.seek(len(block), os.SEEK_CUR)
            else:
                out.write(block)
            written += len(block)
        out.truncate(written)
    return written


def _loopback(host):
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_source(host, src):
    """A binary file object for a copy source: a host path, file:// or loopback http(s):// URL."""
    parts = urllib.parse.urlsplit(src)
    if parts.scheme in ("http", "https"):
        if not _loopback(parts.hostname or ""):
            raise AgentError(
                "the simulator only fetches loopback URLs, not %s" % parts.hostname, cls="exceptions.IOError"
            )
        try:
            return urllib.request.urlopen(src, timeout=60)  # noqa: S310 - loopback only, checked above
        except OSError as e:
            raise AgentError(
                "urlopen error %s: %s" % (getattr(e, "reason", e), src), cls="exceptions.IOError"
            ) from None
    if parts.scheme == "file":
        path = urllib.parse.unquote(parts.path)
    elif parts.scheme == "":
        path = src
    else:
        raise AgentError("unsupported URL scheme %r" % parts.scheme, cls="exceptions.ValueError")
    local = host.path(path, must_exist=True)
    if os.path.isdir(local):
        raise AgentError("[Errno 21] Is a directory: %r" % path, cls="exceptions.IOError")
    return open(local, "rb")


def _source_size(f):
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return int(getattr(f, "headers", {}).get("Content-Length") or 0)


def copy(host, src, dst, sparse=True, midway=None):
    """Copy ``src`` (path or URL) to the host path ``dst``; return the bytes copied.

    ``midway`` (a fired ``midway`` fault rule) cuts the copy short: the first half of the source is
    written, then the rule's fault is raised and the partial destination stays.
    """
    target = host.path(dst)
    if not os.path.isdir(os.path.dirname(target)):
        raise AgentError("[Errno 2] No such file or directory: %r" % dst, cls="exceptions.IOError")
    with open_source(host, src) as f:
        if midway is not None:
            write_sparse(f, target, limit=_source_size(f) // 2)
            cls, _, message = midway.fault.partition(":")
            raise AgentError(message, cls=cls)
        if sparse:
            return write_sparse(f, target)
        with open(target, "wb") as out:
            shutil.copyfileobj(f, out, CHUNK)
            return out.tell()
