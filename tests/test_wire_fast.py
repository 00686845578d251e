"""The C decoder (ovm3._wirec) returns exactly what the reference lxml decoder returns, or declines.

Its contract: for any body, ``_wirec.decode(body)`` is either None (outside its subset or not well-formed:
the reference decides) or equal, type for type and key order for key order, to
``wire.decode_reference(body)``; it must never accept a body the reference refuses. These tests check
that on the recorded agent replies, on generated values, on mutated and truncated bodies and on hostile
ones, and that it leaks nothing and leaves the garbage collector as it found it.
"""
import gc
import os
import random
import tracemalloc
import xmlrpc.client as xc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovm3 import wire
from ovm3.errors import ProtocolError
from tests.conftest import FIXTURES

_wirec = pytest.importorskip("ovm3._wirec", reason="the C decoder was not built (no C compiler?)")

RESPONSES = sorted(p for p in FIXTURES.glob("*.xml") if not p.name.endswith(".payload.xml"))


def same(a, b):
    """Equal with the same types all the way down (True is not 1) and dict keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(k, k2) and same(a[k], b[k2]) for k, k2 in zip(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def reference(body):
    try:
        return wire.decode_reference(body)
    except ProtocolError as e:
        return e


def check(body):
    """Assert the contract for one body; return True when the C decoder accepted it."""
    fast = _wirec.decode(body)
    if fast is None:
        return False
    want = reference(body)
    assert not isinstance(want, ProtocolError), "C accepted a body the reference refuses (%s): %r" % (
        want, body[:300])
    assert same(fast, want), "C and reference differ on %r" % body[:300]
    return True


def test_every_recorded_agent_reply_is_read_by_c_and_matches():
    assert len(RESPONSES) >= 30
    for path in RESPONSES:
        assert check(path.read_bytes()), "%s: the C decoder declined a real agent reply" % path.name


def test_payload_documents_are_not_xmlrpc_and_are_declined():
    for path in FIXTURES.glob("*.payload.xml"):
        assert _wirec.decode(path.read_bytes()) is None


# Text that XML can carry, as xmlrpc.client writes it (it does not escape \r, which XML normalises:
# the C decoder declines such bodies and the reference reads them, tested below).
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                | st.sampled_from("\t\n <>&'\"]]>"), max_size=20)
_scalars = (_text | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1) | st.booleans() | st.none()
            | st.floats(allow_nan=True, allow_infinity=True))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_text, inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_generated_replies_are_read_by_c_exactly(value):
    body = wire.dumps_response(value)
    assert check(body)
    assert same(wire.loads_response(body), value) or value != value  # NaN is never equal to itself


@settings(max_examples=100, deadline=None)
@given(st.lists(_values, max_size=4))
def test_generated_requests_are_read_by_c_exactly(params):
    body = wire.dumps_request("some.method", params)
    fast = _wirec.decode(body)
    assert fast is not None
    assert same(fast, reference(body))


@pytest.mark.parametrize("value", [xc.Binary(b"\x00\x01"), xc.DateTime("20260101T00:00:00")])
def test_types_c_does_not_read_go_to_the_reference(value):
    body = xc.dumps((value,), methodresponse=True).encode()
    assert _wirec.decode(body) is None
    assert wire.loads_response(body) == value


def test_carriage_returns_are_left_to_the_reference_which_normalises_them():
    body = xc.dumps(("a\r\nb\rc",), methodresponse=True).encode()
    assert _wirec.decode(body) is None
    assert wire.loads_response(body) == "a\nb\nc"
    assert wire.loads_response(xc.dumps(("a&#13;b",), methodresponse=True).replace("&amp;", "&").encode()) \
        == "a\rb"


@pytest.mark.parametrize("body", [
    b"<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
    b"<methodResponse><params><param><value>&b;</value></param></params></methodResponse>",
    b"<?xml version='1.0'?><!DOCTYPE m SYSTEM 'file:///etc/passwd'><methodResponse/>",
    b"<methodResponse><params><param><value><![CDATA[x]]></value></param></params></methodResponse>",
    b"<methodResponse><!-- c --><params><param><value>x</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value a='1'>x</value></param></params></methodResponse>",
    b"<?xml version='1.0' encoding='ISO-8859-1'?><methodResponse><params><param><value>\xe9</value>"
    b"</param></params></methodResponse>",
    b"\xef\xbb\xbf<methodResponse><params><param><value>x</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>&undefined;</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>&#0;</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>&#xFFFE;</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>\xef\xbf\xbf</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>\x01</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>\xc0\xaf</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>\xed\xa0\x80</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>a]]>b</value></param></params></methodResponse>",
    b"<methodResponse><params><param><value>x</value></param></params></methodResponse><extra/>",
    b"<methodResponse><params><param><value><string>x</value></string></param></params></methodResponse>",
    b"<methodResponse><params><param><value><ex:nil/></value></param></params></methodResponse>",
])
def test_hostile_or_unusual_bodies_are_declined(body):
    assert _wirec.decode(body) is None
    reference(body)  # whatever the reference says, it says it without expanding anything


def test_deep_nesting_is_declined_without_recursing_far():
    for depth in (65, 1000, 100000):
        body = (b"<methodResponse><params><param>" + b"<value><array><data>" * depth
                + b"</data></array></value>" * depth + b"</param></params></methodResponse>")
        assert _wirec.decode(body) is None
    ok = (b"<methodResponse><params><param>" + b"<value><array><data>" * 60
          + b"</data></array></value>" * 60 + b"</param></params></methodResponse>")
    assert check(ok)


def test_every_truncation_of_a_reply_is_declined():
    body = (FIXTURES / "XenTest__SINGLEVMCONFIGXML.xml").read_bytes()
    for n in range(len(body.rstrip())):
        assert _wirec.decode(body[:n]) is None, n


def _corpus():
    bodies = [p.read_bytes() for p in RESPONSES if p.stat().st_size < 20000]
    bodies.append(wire.dumps_request("echo", ["a & b <c>", 1, 2 ** 40, True, 1.5, None, {"k": []}]))
    return bodies


_TOKENS = [b"<", b">", b"&", b"&amp;", b"&#65;", b"&#x10FFFF;", b"&#xD800;", b"]]>", b"\r", b"\x00", b"\x01",
           b"\xef\xbf\xbe", b"\xc3", b"\xf4\x90\x80\x80", b"<value>", b"</value>", b"<value/>", b"<string>",
           b"</string>", b"<int>", b"<i8>9223372036854775808</i8>", b"<boolean>", b"<nil/>", b"<struct>",
           b"</struct>", b"<member>", b"<name>", b"</name>", b"<array>", b"<data>", b"</data>", b"<!--x-->",
           b"<?pi?>", b" ", b"\n", b"\t", b"/", b"'", b'"', b"=", b"x"]


def mutate(rng, body, edits):
    """``body`` with ``edits`` random edits: a token inserted, bytes deleted or replaced, a stretch doubled."""
    body = bytearray(body)
    for _ in range(edits):
        at = rng.randrange(len(body) + 1)
        op = rng.random()
        if op < 0.4:
            body[at:at] = rng.choice(_TOKENS)
        elif op < 0.7:
            del body[at:at + rng.randint(1, 12)]
        elif op < 0.9 and at < len(body):
            body[at] = rng.randrange(256)
        else:
            end = min(len(body), at + rng.randint(1, 40))
            body[at:at] = body[at:end]  # duplicate a stretch (tags, members, values)
    return bytes(body)


def fuzz(rounds, seed, max_edits=3):
    """Check the contract on ``rounds`` mutated bodies; return (accepted, declined)."""
    rng = random.Random(seed)
    corpus = _corpus()
    accepted = declined = 0
    for _ in range(rounds):
        if check(mutate(rng, rng.choice(corpus), rng.randint(1, max_edits))):
            accepted += 1
        else:
            declined += 1
    return accepted, declined


def test_mutated_replies_are_read_identically_or_declined():
    accepted, declined = fuzz(6000, 20261122)
    # Both outcomes must be common, or the test proves nothing about one of them.
    assert accepted > 300 and declined > 300, (accepted, declined)


def test_values_at_the_edges_match_the_reference():
    cases = [
        "<value></value>", "<value/>", "<value>  </value>", "<value><string/></value>",
        "<value> <string> a </string> </value>", "<value><int> +7 </int></value>", "<value><i4>1_000</i4></value>",
        "<value><int>\u0663</int></value>", "<value><int></int></value>", "<value><double>1e400</double></value>",
        "<value><double>nan</double></value>", "<value><boolean>1</boolean></value>",
        "<value><boolean> 1</boolean></value>", "<value><boolean>&#49;</boolean></value>",
        "<value><nil>junk</nil></value>", "<value><struct/></value>", "<value><array><data/></array></value>",
        "<value><array/></value>", "<value><struct><member><name/><value/></member></struct></value>",
        "<value><struct><member><name>a</name><value>1</value></member>"
        "<member><name>a</name><value>2</value></member><member><name>b</name><value>3</value></member>"
        "</struct></value>",
        "<value>&lt;&gt;&amp;&quot;&apos;&#x41;&#66;&#x1F600;</value>", "<value >x</value >",
        "<value>\u00e9\u4e2d\U0001F600</value>", "<value><string>&#9;&#10;&#13;</string></value>",
    ]
    for inner in cases:
        body = ("<?xml version='1.0'?>\n<methodResponse><params><param>%s</param></params></methodResponse>"
                % inner).encode("utf-8")
        fast = _wirec.decode(body)
        want = reference(body)
        if isinstance(want, ProtocolError):
            assert fast is None, inner
        else:
            assert fast is not None, "C declined %s" % inner
            assert same(fast, want), inner


def test_c_is_the_decoder_the_client_uses_and_the_switch_turns_it_off():
    assert wire._wirec is _wirec or os.environ.get("OVM3_WIRE_DECODER") == "lxml"


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_is_left_as_it_was(enabled):
    body = (FIXTURES / "XenTest__SINGLEVMLISTXML.xml").read_bytes()
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        _wirec.decode(body)
        _wirec.decode(body[:-40])  # declined half-way
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_nothing_leaks_on_accepted_or_declined_bodies():
    corpus = _corpus()
    cut = [b[: len(b) * 2 // 3] for b in corpus]
    bad = [b.replace(b"</name>", b"</nam>", 1) for b in corpus]

    def run():
        for b in corpus + cut + bad:
            _wirec.decode(b)

    run()
    gc.collect()
    tracemalloc.start()
    try:
        run()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(30):
            run()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20000, "%d bytes kept after 30 rounds" % grown
