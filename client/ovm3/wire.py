"""XML-RPC encoding and the reply decoder.

Requests: xmlrpc.client's marshaller with ``allow_none`` and Python ints of 2**31 and more sent as
``<i8>`` (stock xmlrpc.client raises OverflowError; the agent's xmlrpclib reads i8).

Bodies are decoded in two steps. ``ovm3._wirec`` (C, built with the package when a compiler is at hand)
reads the strict subset of XML-RPC the agent writes, about ten times faster than the lxml decoder
(a 500-VM ``list_vms`` is 3.6 MB); for anything outside that subset (DOCTYPE, comments, CDATA, carriage
returns, attributes, base64/dateTime values, ...) or not well-formed, it declines and the reference
decoder runs: lxml's pull parser builds the tree in C with entity resolution, DTD loading and network
access off, any DOCTYPE is refused (so billion-laughs and XXE bodies are never expanded), each struct is
turned into a dict and freed as soon as it ends, and a small walk turns the rest into the same values
``xmlrpc.client.loads`` gives (lxml is imported only when this decoder first runs). Both return the same
values (tests compare them on recorded, generated and mutated bodies); set ``OVM3_WIRE_DECODER=lxml`` to
use only the reference.
"""
import os
import threading
import xmlrpc.client as xc
from decimal import Decimal, InvalidOperation

from ovm3.errors import ProtocolError

etree = None  # lxml.etree, imported when the reference decoder first runs (see _lxml())

try:
    from ovm3 import _wirec
except ImportError:  # built without a C compiler: the reference decoder does all the work
    _wirec = None
if os.environ.get("OVM3_WIRE_DECODER") == "lxml":
    _wirec = None

I4_MIN, I4_MAX = -(2 ** 31), 2 ** 31 - 1
I8_MIN, I8_MAX = -(2 ** 63), 2 ** 63 - 1


class I8(int):
    """An int always sent as ``<i8>``: the agent types some small values so (boot times, exec rc)."""


class _Marshaller(xc.Marshaller):
    dispatch = dict(xc.Marshaller.dispatch)

    def dump_i8(self, value, write):
        write("<value><i8>%d</i8></value>\n" % value)

    dispatch[I8] = dump_i8

    def dump_int(self, value, write):
        if I4_MIN <= value <= I4_MAX:
            write("<value><int>%d</int></value>\n" % value)
        elif I8_MIN <= value <= I8_MAX:
            write("<value><i8>%d</i8></value>\n" % value)
        else:
            raise OverflowError("int %d does not fit XML-RPC i8" % value)

    dispatch[int] = dump_int


def dumps_request(method, args):
    """The body of a ``methodCall`` as UTF-8 bytes."""
    m = _Marshaller("utf-8", allow_none=True)
    data = m.dumps(tuple(args))
    return ("<?xml version='1.0'?>\n<methodCall>\n<methodName>%s</methodName>\n%s</methodCall>\n"
            % (xc.escape(method), data)).encode("utf-8")


def dumps_response(value=None, fault=None):
    """The body of a ``methodResponse`` (used by the simulated agent), as UTF-8 bytes."""
    if fault is not None:
        code, text = fault
        return xc.dumps(xc.Fault(code, text), methodresponse=True, allow_none=True).encode("utf-8")
    m = _Marshaller("utf-8", allow_none=True)
    # Marshaller.dumps writes the <params> element itself.
    body = "<?xml version='1.0'?>\n<methodResponse>\n%s</methodResponse>\n" % m.dumps((value,))
    return body.encode("utf-8")


def loads_request(body):
    """Parse a ``methodCall`` body into ``(method, params)``."""
    doc = decode(body)
    if doc[0] != "call":
        raise ProtocolError("not an XML-RPC methodCall")
    method = doc[1].strip()
    if not method:
        raise ProtocolError("XML-RPC methodCall without a methodName")
    return method, tuple(doc[2])


class Fault(Exception):
    """A decoded ``<fault>``: raw code and string (turned into a typed error by ovm3.faults)."""

    def __init__(self, code, string):
        super().__init__(code, string)
        self.code = code
        self.string = string


def loads_response(body):
    """Decode a ``methodResponse``: return its single value or raise :class:`Fault`.

    Anything that is not a well-formed XML-RPC reply raises :class:`ovm3.errors.ProtocolError`.
    """
    doc = decode(body)
    if doc[0] == "call":
        raise ProtocolError("not an XML-RPC methodResponse (got a methodCall)")
    if doc[0] == "fault":
        fault = doc[1]
        if not isinstance(fault, dict) or "faultCode" not in fault or "faultString" not in fault:
            raise ProtocolError("malformed XML-RPC fault")
        raise Fault(fault["faultCode"], fault["faultString"])
    values = doc[1]
    if len(values) != 1:
        raise ProtocolError("XML-RPC reply holds %d values, expected 1" % len(values))
    return values[0]


def decode(body):
    """A body as ``("params", [values])``, ``("fault", value)`` or ``("call", name, [values])``.

    The C decoder first; the reference decoder when it declines (and to word every error).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if _wirec is not None:
        doc = _wirec.decode(body)
        if doc is not None:
            return doc
    return decode_reference(body)


def decode_reference(body):
    """:func:`decode` with the hardened lxml decoder only (the reference the C decoder must match)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    done = {}
    root = _parse(body, done)
    if root.tag == "methodCall":
        method = None
        params = []
        for child in root:
            if child.tag == "methodName":
                method = child.text or ""
            elif child.tag == "params":
                params = _param_values(child, done)
            else:
                raise ProtocolError("unexpected <%s> in a methodCall" % child.tag)
        if method is None:
            raise ProtocolError("XML-RPC methodCall without a methodName")
        return ("call", method, params)
    if root.tag != "methodResponse" or len(root) != 1:
        raise ProtocolError("not an XML-RPC methodResponse")
    body_el = root[0]
    if body_el.tag == "fault":
        if len(body_el) != 1 or body_el[0].tag != "value":
            raise ProtocolError("malformed XML-RPC fault")
        return ("fault", _value(body_el[0], done))
    if body_el.tag != "params":
        raise ProtocolError("malformed XML-RPC reply: <%s> where <params> belongs" % body_el.tag)
    return ("params", _param_values(body_el, done))


_local = threading.local()
#: Bytes handed to the pull parser at a time; bodies up to this size are parsed whole (a parser per call
#: would double the cost of a small reply, and a small tree costs little memory).
_FEED = 64 * 1024


def _lxml():
    global etree
    if etree is None:
        from lxml import etree as lxml_etree

        etree = lxml_etree
    return etree


def _parse(body, done):
    """The document's root element. A body over ``_FEED`` bytes is streamed (see _parse_streaming);
    entity resolution, DTD loading and network access are off either way."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    # Markup declarations can only stand in the prolog (inside string values they are escaped): refuse
    # them before libxml2 reads any entity definition.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError("refused hostile XML in reply: a DOCTYPE or entity declaration "
                            "(XML-RPC never carries one)")
    et = _lxml()
    try:
        if len(body) <= _FEED:
            root = et.fromstring(body, _parser())
        else:
            root = _parse_streaming(et, body, done)
    except et.XMLSyntaxError as e:
        raise ProtocolError("reply is not well-formed XML: %s" % _short(e)) from None
    except (et.LxmlError, ValueError, TypeError, MemoryError) as e:
        raise ProtocolError("reply is not XML: %s" % _short(e)) from None
    if root is None:
        raise ProtocolError("reply is not XML: no root element")
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.doctype:
        raise ProtocolError("refused hostile XML in reply: a DOCTYPE (XML-RPC never carries one)")
    return root


def _parser():
    # One parser per thread: lxml parser objects must not be used by two threads at once.
    p = getattr(_local, "parser", None)
    if p is None:
        p = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            remove_comments=True, remove_pis=True, collect_ids=False)
    return p


def _parse_streaming(et, body, done):
    """The root of ``body`` read with lxml's pull parser, each ``<struct>`` decoded into ``done`` as its end
    tag is read and its subtree freed then: the tree never holds more than the struct being read, its
    scalar members and the emptied structs its parents still wait for (a 500-VM list_vms as a whole tree
    is 15 times the body). A struct that does not decode stays whole, so the walk over the finished tree
    accepts and refuses exactly what it would with the whole tree."""
    parser = et.XMLPullParser(
        events=("end",), tag="struct", resolve_entities=False, no_network=True, load_dtd=False,
        dtd_validation=False, huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False)
    for start in range(0, len(body), _FEED):
        parser.feed(body[start:start + _FEED])
        for _, element in parser.read_events():
            try:
                done[element] = _struct(element, done)
            except ProtocolError:
                continue  # left whole: the walk of the finished tree decides, as if never read early
            element.clear(keep_tail=True)
    return parser.close()


def _short(exc, limit=200):
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _param_values(params, done):
    out = []
    for param in params:
        if param.tag != "param" or len(param) != 1 or param[0].tag != "value":
            raise ProtocolError("malformed XML-RPC <params>")
        out.append(_value(param[0], done))
    return out


_INT_TAGS = frozenset(("int", "i4", "i8", "i1", "i2", "biginteger"))
_BOOLEANS = {"0": False, "1": True}


def _value(v, done):
    """One ``<value>`` element to a Python value, as xmlrpc.client's Unmarshaller decodes it.

    ``done``: structs already decoded (see _parse), by element; each is taken out once read.
    """
    if v.tag != "value":
        raise ProtocolError("malformed XML-RPC: <%s> where <value> belongs" % v.tag)
    n = len(v)
    if n == 0:
        return v.text or ""  # an untyped value is a string
    if n != 1:
        raise ProtocolError("malformed XML-RPC: <value> holds %d elements" % n)
    t = v[0]
    tag = t.tag
    if tag == "string":
        if len(t):
            raise ProtocolError("malformed XML-RPC: elements inside <string>")
        return t.text or ""
    if tag == "struct":
        return done.pop(t) if t in done else _struct(t, done)
    if tag == "array":
        return _array(t, done)
    if len(t):
        raise ProtocolError("malformed XML-RPC: elements inside <%s>" % tag)
    text = t.text or ""
    try:
        if tag in _INT_TAGS:
            return int(text)
        if tag == "boolean":
            return _BOOLEANS[text]
        if tag == "nil":
            return None
        if tag in ("double", "float"):
            return float(text)
        if tag == "bigdecimal":
            return Decimal(text)
        if tag == "base64":
            value = xc.Binary()
            value.decode(text.encode("ascii"))
            return value
        if tag == "dateTime.iso8601":
            value = xc.DateTime()
            value.decode(text)
            return value
    except (ValueError, KeyError, TypeError, InvalidOperation, UnicodeError) as e:
        raise ProtocolError("malformed XML-RPC <%s> value %r: %s" % (tag, text[:40], e)) from None
    if isinstance(tag, str) and tag.startswith("{"):
        # Apache's extension namespace (ex:nil, ex:i8): same meaning without the namespace.
        local = etree.QName(t).localname
        if local in ("nil", "i8"):
            return None if local == "nil" else _int(text, local)
    raise ProtocolError("malformed XML-RPC: unknown value type <%s>" % tag)


def _struct(t, done):
    out = {}
    for member in t:
        if member.tag != "member" or len(member) != 2 or member[0].tag != "name":
            raise ProtocolError("malformed XML-RPC struct member")
        out[member[0].text or ""] = _value(member[1], done)
    return out


def _array(t, done):
    if len(t) != 1 or t[0].tag != "data":
        raise ProtocolError("malformed XML-RPC array")
    return [_value(x, done) for x in t[0]]


def _int(text, tag):
    try:
        return int(text)
    except ValueError:
        raise ProtocolError("malformed XML-RPC <%s> value %r" % (tag, text[:40])) from None
