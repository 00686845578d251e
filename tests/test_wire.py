"""XML-RPC encoding and the one reply parser."""
import xmlrpc.client as xc

import pytest

from ovm3.errors import ProtocolError
from ovm3.wire import Fault, dumps_request, dumps_response, loads_request, loads_response


@pytest.mark.parametrize("value,tag", [
    (2 ** 31 - 1, "<int>2147483647</int>"), (2 ** 31, "<i8>2147483648</i8>"),
    (2096898048, "<int>2096898048</int>"),
    (263166853120, "<i8>263166853120</i8>"), (-(2 ** 31) - 1, "<i8>-2147483649</i8>"),
])
def test_ints_of_2_31_and_more_go_as_i8(value, tag):
    body = dumps_request("storage_plugin_create", ["impl", value]).decode()
    assert tag in body
    assert list(loads_request(body.encode())[1]) == ["impl", value]


def test_int_beyond_i8_is_refused_locally():
    with pytest.raises(OverflowError):
        dumps_request("sleep", [2 ** 64])


def test_none_and_nesting_round_trip():
    args = [None, {"a": [1, 2 ** 40, None, True]}, "x"]
    method, params = loads_request(dumps_request("configure_vm", args))
    assert method == "configure_vm" and list(params) == args


@pytest.mark.parametrize("inner,expected", [
    ("<i8>1413834408</i8>", 1413834408), ("untyped text", "untyped text"), ("<nil/>", None),
    ("<string>a\nb\n</string>", "a\nb\n"), ("<boolean>1</boolean>", True), ("<int>3</int>", 3),
    ("<array><data><value><int>3</int></value></data></array>", [3]), ("", ""),
])
def test_reply_values(inner, expected):
    body = ("<?xml version='1.0'?><methodResponse><params><param><value>%s</value></param></params>"
            "</methodResponse>" % inner).encode()
    assert loads_response(body) == expected


def test_faults_keep_code_and_string():
    with pytest.raises(Fault) as info:
        loads_response(dumps_response(fault=(1, "exceptions.Exception:Repository already exists")))
    assert (info.value.code, info.value.string) == (1, "exceptions.Exception:Repository already exists")


@pytest.mark.parametrize("body", [
    b"<methodResponse><fault><value><int>1</int></value></fault></methodResponse>",
    b"<methodResponse><fault><value><struct></struct></value></fault></methodResponse>",
    b"<methodCall><methodName>x</methodName><params></params></methodCall>",
    b"<methodResponse></methodResponse>",
    b"<methodResponse><params><param><value><bogus/></value></param></params></methodResponse>",
    b"<methodResponse><params><param><value><int>12x</int></value></param></params></methodResponse>",
    b"<methodResponse><params><param><value><int>1</int></value></param><param><value><int>2</int>"
    b"</value></param></params></methodResponse>",
])
def test_malformed_replies_are_protocol_errors(body):
    with pytest.raises(ProtocolError):
        loads_response(body)


def test_dumps_response_is_standard_xmlrpc():
    body = dumps_response({"rc": 2 ** 40, "out": "x"})
    assert body.count(b"<params>") == 1
    assert xc.loads(body)[0][0] == {"rc": 2 ** 40, "out": "x"}
