"""Property tests: random and mutated input to every converter and to the envelope parser gives a
result or a typed error (ParseError / ProtocolError), never another exception."""
import xmlrpc.client as xc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovm3.errors import ParseError, ProtocolError
from ovm3.parse import CONVERTERS, convert
from ovm3.vmcfg import VmConfig, parse_vm_cfg
from ovm3.wire import Fault, dumps_response, loads_response
from tests.conftest import FIXTURES, fixture_bytes

KINDS = sorted(CONVERTERS)
PAYLOADS = sorted(p.name for p in FIXTURES.glob("*.payload.xml"))
REPLIES = sorted(p.name for p in FIXTURES.glob("*.xml") if not p.name.endswith(".payload.xml"))
DOCUMENT_KINDS = ["server_info", "hardware_info", "network_info", "mounted_fs", "pool_info", "poolfs_info",
                  "cluster_info", "repositories", "repository_db", "storage_plugins"]
ROOTS = {"server_info": "Discover_Server_Result", "hardware_info": "Discover_Hardware_Result",
         "network_info": "Discover_Network_Result", "mounted_fs": "Discover_Mounted_File_Systems_Result",
         "pool_info": "Discover_Server_Pool_Result", "poolfs_info": "Discover_Pool_Filesystem_Result",
         "cluster_info": "Discover_Cluster_Result", "repositories": "Discover_Repositories_Result",
         "repository_db": "Discover_Repository_Db_Result",
         "storage_plugins": "Discover_Storage_Plugins_Result"}
COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                    st.sampled_from(["", "\n", "12\n", "0.0.0.0:5900", "True", "x" * 50, "-1", "1e400"]))
keys = st.sampled_from(["name", "uuid", "rc", "out", "err", "last_boot_time", "local_time", "file_path",
                        "file_sz", "uuid", "size", "free_sz", "device", "vbd", "vfb", "vif", "disk", "memory",
                        "location", "uname", "mount_options", "rx", "cpu", "vcpus", "OVM_domain_type"])
xmlrpc_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(keys, st.text(max_size=8)), inner, max_size=6)),
    max_leaves=20)


def _convert_typed(kind, value):
    try:
        convert(kind, value)
    except ParseError:
        pass


@COMMON
@given(kind=st.sampled_from(KINDS), value=xmlrpc_values)
def test_random_values_to_every_converter_never_crash(kind, value):
    _convert_typed(kind, value)


@COMMON
@given(value=st.lists(xmlrpc_values, max_size=5))
def test_random_vm_lists_never_crash(value):
    _convert_typed("vm_list", value)


@COMMON
@given(value=xmlrpc_values)
def test_random_vm_config_params_round_trip_or_raise_parse_error(value):
    try:
        cfg = VmConfig.from_params(value)
    except ParseError:
        return
    assert VmConfig.from_params(cfg.to_params()).to_params() == cfg.to_params()


def _mutate(data, ops):
    buf = bytearray(data)
    for op, pos, byte in ops:
        if not buf:
            break
        i = pos % len(buf)
        if op == 0:
            buf[i] = byte
        elif op == 1:
            del buf[i:i + 1 + byte % 32]
        elif op == 2:
            buf[i:i] = bytes([byte]) * (1 + byte % 4)
        else:
            buf[i:i] = b"<" if byte % 2 else b"&"
    return bytes(buf)


mutations = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2 ** 20), st.integers(0, 255)),
                     min_size=1, max_size=8)


@COMMON
@given(name=st.sampled_from(PAYLOADS), kind=st.sampled_from(DOCUMENT_KINDS), ops=mutations,
       as_text=st.booleans())
def test_mutated_documents_to_every_document_converter_never_crash(name, kind, ops, as_text):
    data = _mutate(fixture_bytes(name), ops)
    value = data.decode("utf-8", "replace") if as_text else data
    _convert_typed(kind, value)


@COMMON
@given(kind=st.sampled_from(DOCUMENT_KINDS), text=st.text(max_size=300))
def test_random_text_to_document_converters_never_crash(kind, text):
    _convert_typed(kind, text)
    root = ROOTS[kind]
    _convert_typed(kind, "<?xml version='1.0'?><%s>%s</%s>" % (root, text, root))


@COMMON
@given(name=st.sampled_from(REPLIES), ops=mutations)
def test_mutated_envelopes_never_crash(name, ops):
    try:
        loads_response(_mutate(fixture_bytes(name), ops))
    except (ProtocolError, Fault):
        pass


@COMMON
@given(data=st.binary(max_size=400))
def test_random_bytes_envelopes_never_crash(data):
    try:
        loads_response(data)
    except (ProtocolError, Fault):
        pass


xml_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t"), max_size=30)
xml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1), xml_text,
              st.floats(allow_nan=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(xml_text, inner, max_size=4)),
    max_leaves=15)


@COMMON
@given(value=xml_values)
def test_envelope_round_trip(value):
    """Whatever dumps_response writes (i8 included), loads_response reads back as xmlrpc.client does."""
    try:
        body = dumps_response(value)
    except (OverflowError, TypeError, ValueError):
        return  # not representable in XML-RPC (e.g. non-str keys are skipped, huge ints)
    decoded = loads_response(body)
    assert xc.loads(body, use_builtin_types=True)[0][0] == decoded


@COMMON
@given(text=st.text(max_size=200))
def test_random_vm_cfg_text_never_crash(text):
    try:
        parse_vm_cfg(text)
    except ParseError:
        pass
