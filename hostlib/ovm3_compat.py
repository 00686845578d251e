"""What dom0's old Pythons lack, solved once for the agent module, the heartbeat and the dumper.

One source for Python 2.4 (OVM 3.2), 2.6 (OVM 3.3/3.4), 2.7 and 3.x. Deployed as a flat file next to
its users (``import ovm3_compat``). Notes for every host-side author:

* ``except X, e`` and ``except X as e`` do not share a spelling: catch, then ``e = sys.exc_info()[1]``.
* On 2.4 ``SystemExit`` and ``KeyboardInterrupt`` derive from ``Exception``: a bare
  ``except Exception`` swallows Ctrl-C and ``sys.exit``. Re-raise them: ``if is_fatal(e): raise``.
* Python 2's xmlrpclib refuses ints of 2**31 and more: pass replies through :func:`xmlrpc_safe`.
* No ``time.monotonic`` before 3.3: :func:`monotonic` reads ``/proc/uptime`` (``os.times()[4]`` wraps
  after 2**31 ticks, about 248 days, with a 32-bit ``clock_t``; it is only a calibrated fallback).
* No ``subprocess`` ``timeout=`` before 3.3: :func:`run` polls and kills.
* No ``json`` before 2.6, no ``hashlib`` before 2.5: :func:`json_dumps` (compact, or indented for
  files that diff cleanly) and its reader :func:`json_loads`, :func:`md5_hex`.
* ``inspect.getargspec`` is gone in 3.11 and ``getfullargspec`` missing before 3.0: :func:`argspec`.
"""
import errno
import os
import re
import select
import signal
import subprocess
import sys
import time

try:
    from hashlib import md5 as _md5_new  # novm
except ImportError:  # Python 2.4
    from md5 import new as _md5_new  # novm

PY3 = sys.version_info[0] >= 3

if PY3:
    string_types = (str,)
    text_type = str
    integer_types = (int,)
    _unichr = chr
else:  # pragma: no cover - exercised under Python 2.7
    string_types = (basestring,)  # noqa: F821  # novm
    text_type = unicode  # noqa: F821  # novm
    integer_types = (int, long)  # noqa: F821  # novm
    _unichr = unichr  # noqa: F821  # novm

#: The largest int Python 2's xmlrpclib will marshal (XML-RPC i4).
XMLRPC_MAXINT = 2147483647
XMLRPC_MININT = -2147483648

#: Default cap on what :func:`run` keeps of each output stream.
DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024


class CommandTimeout(Exception):
    """A command outlived its deadline and was killed; ``out``/``err`` hold what it wrote."""

    def __init__(self, argv, timeout, out, err):
        Exception.__init__(self, "%s did not finish within %s s and was killed" % (argv[0], timeout))
        self.argv = argv
        self.timeout = timeout
        self.out = out
        self.err = err


def is_fatal(exc):
    """True for exceptions a handler must re-raise (``SystemExit``, ``KeyboardInterrupt``)."""
    return isinstance(exc, (SystemExit, KeyboardInterrupt))


#: Seconds since boot, the clock every host-side process on one host agrees on (Linux).
UPTIME_FILE = "/proc/uptime"
#: Names of the two scales :func:`monotonic` can run on (recorded next to saved readings).
CLOCK_UPTIME = "uptime"
CLOCK_TICKS = "os.times"


def _clock_ticks_per_second():
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0


class MonotonicClock(object):
    """Seconds since boot that never step back, on every Python from 2.4.

    The source is ``/proc/uptime`` (monotonic, no wrap, the same in every process of the host). When
    it cannot be read (out of file descriptors, no /proc), ``os.times()[4]`` takes over, shifted by the
    offset measured while both were readable and with the wrap of a 32-bit ``clock_t`` (2**32 ticks)
    undone, so the scale does not change. A clock that never read the uptime file runs on the ticks
    scale and says so in :meth:`name`. Readings never go below an earlier one.
    """

    def __init__(self, uptime_file=UPTIME_FILE, times=None, ticks_per_second=None):
        self.uptime_file = uptime_file
        self.times = times or os.times
        if ticks_per_second is None:
            ticks_per_second = _clock_ticks_per_second()
        self.wrap = (2.0 ** 32) / ticks_per_second
        self.offset = None      # uptime - ticks seconds, once both were read
        self.last_ticks = None
        self.wraps = 0
        self.last = None

    def _uptime(self):
        try:
            f = open(self.uptime_file, "r")
            try:
                return float(f.read(128).split()[0])
            finally:
                f.close()
        except (IOError, OSError, ValueError, IndexError):
            return None

    def _ticks(self):
        raw = None
        for attempt in range(3):
            try:
                raw = float(self.times()[4])
                break
            except OSError:  # times() returned (clock_t)-1: a valid tick count Python takes for an error
                time.sleep(0.02)
        if raw is None:
            raw = self.last_ticks or 0.0
        if self.last_ticks is not None and raw < self.last_ticks - self.wrap / 2:
            self.wraps = self.wraps + 1
        self.last_ticks = raw
        return raw + self.wraps * self.wrap

    def now(self):
        """Seconds since boot (or, without the uptime file, since an arbitrary point)."""
        ticks = self._ticks()
        value = self._uptime()
        if value is not None:
            if self.offset is None:
                self.offset = value - ticks
        elif self.offset is not None:
            value = ticks + self.offset
        else:
            value = ticks
        if self.last is not None and value < self.last:
            value = self.last
        self.last = value
        return value

    def name(self):
        """``"uptime"`` when readings are on the /proc/uptime scale, else ``"os.times"``."""
        if self.offset is None and self._uptime() is None:
            return CLOCK_TICKS
        return CLOCK_UPTIME


_CLOCK = MonotonicClock()


def monotonic():
    """Seconds on a clock that never steps back: seconds since boot from /proc/uptime (see
    :class:`MonotonicClock`), comparable between processes of the same boot."""
    return _CLOCK.now()


def monotonic_clock_name():
    """The scale :func:`monotonic` runs on: store it with saved readings, compare before using them."""
    return _CLOCK.name()


def retry_eintr(func, *args):
    """Call ``func(*args)``, retrying while it fails with EINTR (interrupted system call)."""
    while True:
        try:
            return func(*args)
        except (OSError, IOError, select.error):
            e = sys.exc_info()[1]
            if _errno_of(e) != errno.EINTR:
                raise


def _errno_of(exc):
    code = getattr(exc, "errno", None)
    if code is None and getattr(exc, "args", None):
        code = exc.args[0]
    return code


def write_all(fd, data):
    """Write all of ``data`` to ``fd``, retrying EINTR and short writes; every other error raises.

    A caller that may ignore an error (a pipe whose reader left) catches it itself: a failed write is
    never reported as done.
    """
    data = to_bytes(data)
    while data:
        written = retry_eintr(os.write, fd, data)
        if written <= 0:
            raise IOError(errno.EIO, "write made no progress")
        data = data[written:]


def to_bytes(data):
    """Text or bytes -> bytes (UTF-8); on Python 2 ``str`` is already bytes."""
    if isinstance(data, text_type):
        return data.encode("utf-8")
    return data


def to_text(data):
    """Bytes -> native ``str`` (UTF-8 with replacement on Python 3; unchanged on Python 2)."""
    if PY3 and isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def md5_hex(data):
    """Hex MD5 of a string (text is UTF-8 encoded)."""
    return _md5_new(to_bytes(data)).hexdigest()


def md5_file(path):
    """Hex MD5 of a file's content."""
    digest = _md5_new()
    f = open(path, "rb")
    try:
        while True:
            chunk = f.read(65536)
            if not chunk:
                break
            digest.update(chunk)
    finally:
        f.close()
    return digest.hexdigest()


def read_file(path, limit=1024 * 1024):
    """A file's content as native ``str``, at most ``limit`` bytes."""
    f = open(path, "rb")
    try:
        return to_text(f.read(limit))
    finally:
        f.close()


def write_file_atomic(path, data, mode):
    """Write ``data`` to ``path`` through a temp file in the same directory, fsync, chmod, rename.

    Readers see the old file or the new one, never a half-written one; ``mode`` is applied
    explicitly (the umask does not matter) before the rename makes the file visible.
    """
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, ".%s.tmp-%d" % (os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & int("700", 8))
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        e = sys.exc_info()[1]
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise e


def _kill(proc):
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def run(argv, timeout, stdin_data=None, env=None, cwd=None, limit=DEFAULT_OUTPUT_LIMIT):
    """Run ``argv`` (a list, never a shell line) and return ``(rc, out, err)`` as native strings.

    Output is read while the command runs (no pipe deadlock on large output) and each stream is
    capped at ``limit`` bytes. File descriptors are closed in the child. When ``timeout`` seconds
    pass the command is killed with SIGKILL and :class:`CommandTimeout` is raised. A missing
    executable raises ``OSError`` as ``subprocess`` does.
    """
    if not isinstance(argv, (list, tuple)) or not argv:
        raise ValueError("run() takes a non-empty argv list, not %r" % (argv,))
    if stdin_data is None:
        stdin = open(os.devnull, "rb")
    else:
        stdin = subprocess.PIPE
    try:
        proc = subprocess.Popen(list(argv), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                close_fds=True, env=env, cwd=cwd)
    finally:
        if stdin_data is None:
            stdin.close()
    deadline = monotonic() + timeout
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    chunks = {out_fd: [], err_fd: []}
    sizes = {out_fd: 0, err_fd: 0}
    readers = [out_fd, err_fd]
    writers = []
    pending = None
    if stdin_data is not None:
        pending = to_bytes(stdin_data)
        writers = [proc.stdin.fileno()]
    timed_out = False
    try:
        while readers or writers:
            remaining = deadline - monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready_r, ready_w, _ = retry_eintr(select.select, readers, writers, [], min(remaining, 1.0))
            for fd in ready_w:
                try:
                    written = retry_eintr(os.write, fd, pending[:65536])
                except OSError:  # the command closed its stdin early
                    written = len(pending)
                pending = pending[written:]
                if not pending:
                    proc.stdin.close()
                    writers = []
            for fd in ready_r:
                data = retry_eintr(os.read, fd, 65536)
                if not data:
                    readers.remove(fd)
                    continue
                if sizes[fd] < limit:
                    chunks[fd].append(data[:limit - sizes[fd]])
                sizes[fd] += len(data)
        while not timed_out:
            rc = proc.poll()
            if rc is not None:
                break
            if monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(0.01)
    finally:
        if timed_out or proc.poll() is None:
            _kill(proc)
            retry_eintr(proc.wait)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except (OSError, IOError):
                    pass
    out = to_text(_join(chunks[out_fd]))
    err = to_text(_join(chunks[err_fd]))
    if timed_out:
        raise CommandTimeout(list(argv), timeout, out, err)
    return proc.returncode, out, err


def _join(parts):
    return to_bytes("").join(parts)


def _bound_self(method):
    """The instance a bound method is bound to, or None (``__self__`` on 3.x, ``im_self`` on 2.x)."""
    bound = getattr(method, "__self__", None)
    if bound is None:
        bound = getattr(method, "im_self", None)
    return bound


def argspec(func):
    """``(args, varargs, varkw, defaults, kwonly)`` of a function, bound method or callable object.

    A shim over ``inspect.getfullargspec`` (Python 3; ``getargspec`` is gone in 3.11) and
    ``inspect.getargspec`` (Python 2, which has no ``getfullargspec``). The bound ``self`` of a method
    is dropped: the wire never carries it. ``defaults`` is always a tuple, ``kwonly`` a list. Raises
    TypeError for callables without a Python signature (builtins).
    """
    import inspect  # here, not at the top: the heartbeat daemon imports this module and never needs it
    bound = _bound_self(func)
    target = func
    if not (inspect.isfunction(func) or inspect.ismethod(func)):
        call = getattr(func, "__call__", None)
        if call is not None and inspect.ismethod(call):
            target = call
            bound = _bound_self(call)
    if hasattr(inspect, "getfullargspec"):
        spec = inspect.getfullargspec(target)
        args, varargs, varkw, defaults = spec.args, spec.varargs, spec.varkw, spec.defaults
        kwonly = list(spec.kwonlyargs or [])
    else:
        args, varargs, varkw, defaults = inspect.getargspec(target)
        kwonly = []
    args = list(args)
    if bound is not None and inspect.ismethod(target) and args:
        args = args[1:]
    return args, varargs, varkw, tuple(defaults or ()), kwonly


def xmlrpc_safe(value):
    """``value`` with every int outside XML-RPC's i4 range turned into a decimal string (recursively)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, integer_types):
        if value > XMLRPC_MAXINT or value < XMLRPC_MININT:
            return str(value)
        return int(value)
    if isinstance(value, dict):
        out = {}
        for k in value:
            out[k] = xmlrpc_safe(value[k])
        return out
    if isinstance(value, (list, tuple)):
        return [xmlrpc_safe(v) for v in value]
    return value


def is_finite(number):
    """False for NaN and the infinities (``float("inf")`` and ``math.isinf`` are not portable to 2.4)."""
    return number - number == 0


class JSONError(TypeError, ValueError):
    """A value JSON cannot carry (NaN, an infinity, a non-string key, an object of another type).

    Both a TypeError and a ValueError: the stdlib json module raises one or the other depending on the
    fault, so code written against it catches either.
    """


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
                 "\f": "\\f"}


def _json_string(s):
    """A JSON string literal, ASCII only (non-ASCII as \\uXXXX, astral characters as surrogate pairs)."""
    if not isinstance(s, text_type):
        s = s.decode("utf-8", "replace")
    out = []
    for ch in s:
        esc = _JSON_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20 or ord(ch) > 0x7e:
            code = ord(ch)
            if code > 0xffff:  # astral plane: a surrogate pair
                code -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff)))
            else:
                out.append("\\u%04x" % code)
        else:
            out.append(ch)
    return str('"' + "".join(out) + '"')  # ASCII only: a native str on Python 2 as well


def json_dumps(value, indent=None):
    """A small deterministic JSON writer (no ``json`` module on 2.4): ASCII output, sorted keys.

    Takes None, bools, ints, finite floats, strings, lists/tuples and dicts with string keys; anything
    else raises :class:`JSONError`. Without ``indent`` the text is compact (``{"a":1}``); with it every
    item stands on its own line, nested ``indent`` spaces deeper, ``": "`` after keys and empty
    containers as ``[]``/``{}`` (the API snapshots' format, whose diffs stay readable).
    """
    if indent is None:
        return _json_value(value, None, 0)
    return _json_value(value, " " * indent, 0)


def _json_value(value, step, level):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, integer_types):
        return str(int(value))
    if isinstance(value, float):
        if not is_finite(value):
            raise JSONError("JSON cannot carry %r" % value)
        return repr(value)
    if isinstance(value, string_types) or (PY3 and isinstance(value, bytes)):
        return _json_string(value)
    if isinstance(value, (list, tuple)):
        return _json_container("[", [_json_value(v, step, level + 1) for v in value], "]", step, level)
    if isinstance(value, dict):
        keys = list(value.keys())
        for k in keys:
            if not isinstance(k, string_types):
                raise JSONError("JSON object keys must be strings, not %r" % (k,))
        keys.sort()
        colon = ":"
        if step is not None:
            colon = ": "
        items = [_json_string(k) + colon + _json_value(value[k], step, level + 1) for k in keys]
        return _json_container("{", items, "}", step, level)
    raise JSONError("cannot write %s as JSON" % type(value).__name__)


def _json_container(opening, items, closing, step, level):
    if not items:
        return opening + closing
    if step is None:
        return opening + ",".join(items) + closing
    inner = "\n" + step * (level + 1)
    return opening + inner + ("," + inner).join(items) + "\n" + step * level + closing


_JSON_UNESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_JSON_SPACE = " \t\n\r"


def json_loads(text):
    """The value of one JSON document (no ``json`` module on 2.4): the reader beside :func:`json_dumps`.

    Strings come back as text (``unicode`` on Python 2), integers as ints, numbers with a fraction or
    an exponent as floats. Anything that is not strict JSON (trailing commas, NaN, single quotes,
    control characters in strings, data after the document) raises :class:`JSONError`.
    """
    if not isinstance(text, text_type):
        text = text.decode("utf-8")
    value, pos = _json_read(text, _json_skip(text, 0))
    pos = _json_skip(text, pos)
    if pos != len(text):
        raise JSONError("extra data after the JSON document at offset %d" % pos)
    return value


def _json_skip(text, pos):
    while pos < len(text) and text[pos] in _JSON_SPACE:
        pos += 1
    return pos


def _json_read(text, pos):
    if pos >= len(text):
        raise JSONError("JSON document ends early")
    ch = text[pos]
    if ch == '"':
        return _json_read_string(text, pos + 1)
    if ch == "{":
        return _json_read_object(text, pos + 1)
    if ch == "[":
        return _json_read_array(text, pos + 1)
    for word, value in (("null", None), ("true", True), ("false", False)):
        if text.startswith(word, pos):
            return value, pos + len(word)
    m = _JSON_NUMBER.match(text, pos)
    if m is None or m.end() == pos:
        raise JSONError("no JSON value at offset %d" % pos)
    if m.group(2) or m.group(3):
        return float(m.group(0)), m.end()
    return int(m.group(0)), m.end()


def _json_sequence(text, pos, closing, read_item):
    """Comma-separated items up to ``closing``; ``read_item(text, pos)`` reads one, returns the position
    after it. Returns the position after ``closing``."""
    pos = _json_skip(text, pos)
    if text[pos:pos + 1] == closing:
        return pos + 1
    while True:
        pos = _json_skip(text, read_item(text, _json_skip(text, pos)))
        ch = text[pos:pos + 1]
        if ch == closing:
            return pos + 1
        if ch != ",":
            raise JSONError("expected ',' or '%s' at offset %d" % (closing, pos))
        pos += 1


def _json_read_array(text, pos):
    out = []

    def item(text, pos):
        value, pos = _json_read(text, pos)
        out.append(value)
        return pos
    return out, _json_sequence(text, pos, "]", item)


def _json_read_object(text, pos):
    out = {}

    def item(text, pos):
        if text[pos:pos + 1] != '"':
            raise JSONError("expected a string key at offset %d" % pos)
        key, pos = _json_read_string(text, pos + 1)
        pos = _json_skip(text, pos)
        if text[pos:pos + 1] != ":":
            raise JSONError("expected ':' at offset %d" % pos)
        value, pos = _json_read(text, _json_skip(text, pos + 1))
        out[key] = value
        return pos
    return out, _json_sequence(text, pos, "}", item)


def _json_hex4(text, pos):
    digits = text[pos:pos + 4]
    if len(digits) != 4 or not re.match(r"[0-9a-fA-F]{4}\Z", digits):
        raise JSONError("bad \\u escape at offset %d" % pos)
    return int(digits, 16)


def _json_read_string(text, pos):
    out = []
    while True:
        if pos >= len(text):
            raise JSONError("unterminated JSON string")
        ch = text[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ord(ch) < 0x20:
            raise JSONError("control character in a JSON string at offset %d" % pos)
        if ch != "\\":
            out.append(ch)
            pos += 1
            continue
        esc = text[pos + 1:pos + 2]
        if esc in _JSON_UNESCAPES:
            out.append(_JSON_UNESCAPES[esc])
            pos += 2
            continue
        if esc != "u":
            raise JSONError("bad escape in a JSON string at offset %d" % pos)
        code = _json_hex4(text, pos + 2)
        pos += 6
        if 0xd800 <= code < 0xdc00 and text[pos:pos + 2] == "\\u":
            low = _json_hex4(text, pos + 2)
            if 0xdc00 <= low < 0xe000:
                pos += 6
                out.append(_json_pair(code, low))
                continue
        out.append(_unichr(code))


def _json_pair(high, low):
    """One astral character from its surrogate pair (the pair itself on a narrow Python 2 build)."""
    try:
        return _unichr(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
    except ValueError:
        return _unichr(high) + _unichr(low)
