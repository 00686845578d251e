"""XML-RPC encoding and the one reply parser.

Requests: xmlrpc.client's marshaller with ``allow_none`` and Python ints of 2**31 and more sent as
``<i8>`` (stock xmlrpc.client raises OverflowError; the agent's xmlrpclib reads i8).
Replies: parsed by defusedxml's hardened expat front end (no DTDs with entities, no external
references), so billion-laughs and XXE bodies are refused, never expanded.
"""
import xmlrpc.client as xc
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

from ovm3.errors import ProtocolError

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
    """Parse a ``methodCall`` body into ``(method, params)`` with the hardened parser."""
    u = xc.Unmarshaller()
    _feed(u, body)
    method = u.getmethodname()
    if not method:
        raise ProtocolError("not an XML-RPC methodCall")
    return method, u.close()


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
    u = xc.Unmarshaller()
    _feed(u, body)
    if u.getmethodname() is not None:
        raise ProtocolError("not an XML-RPC methodResponse (got a methodCall)")
    try:
        values = u.close()
    except xc.Fault as f:
        code, string = f.faultCode, f.faultString
        raise Fault(code, string) from None
    except xc.ResponseError as e:
        raise ProtocolError("malformed XML-RPC reply: %s" % (str(e) or "no value")) from None
    except (TypeError, ValueError, KeyError, IndexError):
        # A <fault> whose value is not a {faultCode, faultString} struct.
        raise ProtocolError("malformed XML-RPC fault") from None
    if u._type != "params" and u._type != "fault":  # noqa: SLF001 - stdlib keeps the kind here
        raise ProtocolError("not an XML-RPC methodResponse")
    if len(values) != 1:
        raise ProtocolError("XML-RPC reply holds %d values, expected 1" % len(values))
    return values[0]


def _feed(unmarshaller, body):
    p = DefusedExpatParser(unmarshaller)
    try:
        p.feed(body)
        p.close()
    except DefusedXmlException as e:
        raise ProtocolError("refused hostile XML in reply: %s" % type(e).__name__) from None
    except ExpatError as e:
        raise ProtocolError("reply is not well-formed XML: %s" % e) from None
    except (xc.ResponseError, ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        # xmlrpc.client raises these for bad <int>/<double>/<boolean>/<base64> text and unknown tags.
        raise ProtocolError("malformed XML-RPC value: %s" % e) from None
