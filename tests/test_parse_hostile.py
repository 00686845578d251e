"""Hostile replies: each gives a clear typed error, never an expansion, a file read or unbounded memory."""
import resource
import tracemalloc

import pytest

from ovm3.errors import ParseError, ProtocolError
from ovm3.parse import convert
from ovm3.wire import dumps_response, loads_response

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


def _envelope(prolog, inner):
    return (prolog + "<methodResponse><params><param><value><string>%s</string></value></param></params>"
            "</methodResponse>" % inner).encode("utf-8")


@pytest.fixture
def secret_file(tmp_path):
    p = tmp_path / "secret.txt"
    p.write_text("TOP-SECRET-CONTENT")
    return p


def _raises_within(fn, error_cls, max_mib=20):
    """Run ``fn``, expect ``error_cls``, and check the Python heap peak stayed under ``max_mib``
    (expat allocates through Python's allocator, so an expansion would show here)."""
    tracemalloc.start()
    try:
        with pytest.raises(error_cls) as info:
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / 2 ** 20 < max_mib
    return info.value


def test_billion_laughs_envelope_is_refused():
    body = _envelope(LAUGHS, "&lol9;")
    error = _raises_within(lambda: loads_response(body), ProtocolError)
    assert "hostile" in str(error)


def test_billion_laughs_document_inside_a_string_is_refused():
    doc = LAUGHS + ("<Discover_Server_Result><Server><Hostname>&lol9;</Hostname></Server>"
                    "</Discover_Server_Result>")
    body = dumps_response(doc)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ParseError) as info:
        convert("server_info", loads_response(body))
    assert "entities" in str(info.value) or "DOCTYPE" in str(info.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB


def test_external_entity_in_envelope_is_refused(secret_file):
    prolog = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://%s">]>' % secret_file
    body = _envelope(prolog, "&x;")
    with pytest.raises(ProtocolError) as info:
        loads_response(body)
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize("template", [
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{path}">]><Discover_Server_Result><Server>'
    '<Hostname>&x;</Hostname></Server></Discover_Server_Result>',
    '<?xml version="1.0"?><!DOCTYPE Discover_Server_Result SYSTEM "file://{path}"><Discover_Server_Result>'
    '<Server><Hostname>h</Hostname></Server></Discover_Server_Result>',
    '<Discover_Server_Result><Server><Hostname>&undeclared;</Hostname></Server></Discover_Server_Result>',
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
    '<Discover_Server_Result/>',
])
def test_external_entities_in_documents_are_refused(secret_file, template):
    with pytest.raises(ParseError) as info:
        convert("server_info", template.replace("{path}", str(secret_file)))
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize("body,fragment", [
    (b"<?xml version='1.0'?><methodResponse><params><param><value><string>trunc", "well-formed"),
    (b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "methodResponse"),
    (b"\xff\xfe\x00<\x00m\x00e\x00t\x00h", "well-formed"),
    (b"<?xml version='1.0' encoding='utf-8'?><methodResponse><params><param><value><string>\xc3\x28</string>"
     b"</value></param></params></methodResponse>", "well-formed"),
    (b"", "well-formed"),
])
def test_broken_envelopes(body, fragment):
    with pytest.raises(ProtocolError) as info:
        loads_response(body)
    assert fragment in str(info.value) or "XML-RPC" in str(info.value)


def test_ten_megabytes_of_garbage_is_refused_quickly_and_small():
    garbage = bytes(range(256)) * (10 * 2 ** 20 // 256)
    _raises_within(lambda: loads_response(garbage), ProtocolError, max_mib=40)
    with pytest.raises(ParseError):
        convert("network_info", garbage)


def test_ten_megabytes_of_text_in_a_document_string():
    doc = "<Discover_Network_Result>" + "x" * (10 * 2 ** 20)  # never closed
    with pytest.raises(ParseError):
        convert("network_info", doc)
