"""The agent client: retries, faults, redaction in errors and logs, signature checks, typed mirrors."""
import logging

import pytest
import requests
import responses

from ovm3 import client as client_module
from ovm3 import errors
from ovm3.client import MAX_BACKOFF, AgentClient
from ovm3.wire import dumps_response, loads_request
from tests.conftest import STUB_PASSWORD, StubAgent, fixture_bytes

URL = "http://agent.test:8899/"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END RSA PRIVATE KEY-----"
NEW_PASSWORD = "n3w-Agent-Passw0rd"


@pytest.fixture
def rs():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps(monkeypatch):
    delays = []
    monkeypatch.setattr(client_module.time, "sleep", delays.append)
    return delays


def agent(**kw):
    kw.setdefault("password", "pw")
    kw.setdefault("agent_version", "3.3")
    return AgentClient("http://agent.test:8899", **kw)


def test_read_only_calls_are_retried_with_backoff(rs, sleeps):
    down = requests.exceptions.ConnectionError("connection refused")
    rs.add(responses.POST, URL, body=down)
    rs.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    rs.add(responses.POST, URL, body=dumps_response("put"))
    assert agent(retries=2, backoff=0.5).call("echo", "put") == "put"
    assert len(rs.calls) == 3 and sleeps == [0.5, 1.0]


def test_retries_are_capped(rs, sleeps):
    rs.add(responses.POST, URL, body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(errors.AgentUnreachable) as info:
        agent(retries=4, backoff=1.5).call("list_vms")
    assert len(rs.calls) == 5
    assert sleeps == [1.5, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
    assert info.value.method == "list_vms" and info.value.host == "agent.test:8899"


def test_mutating_calls_are_never_retried(rs, sleeps):
    rs.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(errors.AgentTimeout):
        agent(retries=5).call("create_vm", "repo", "vm", {"name": "x"})
    assert len(rs.calls) == 1 and sleeps == []


@pytest.mark.parametrize("reply", [
    dict(status=200, body=dumps_response(fault=(1, "exceptions.Exception:boom"))),
    dict(status=401, body=b"Unauthorized"),
    dict(body=requests.exceptions.SSLError("certificate verify failed")),
    dict(status=200, body=b"<html>not xml-rpc</html>"),
])
def test_no_retry_after_fault_auth_tls_or_protocol_errors(rs, sleeps, reply):
    rs.add(responses.POST, URL, **reply)
    with pytest.raises(errors.OVM3Error) as info:
        agent(retries=5).call("echo", "put")
    assert not isinstance(info.value, (errors.AgentUnreachable, errors.AgentTimeout))
    assert len(rs.calls) == 1 and sleeps == []


@pytest.mark.parametrize("fault_string,error_cls", [
    ("exceptions OSError:[Errno.17] File exists a.file", errors.FileExistsFault),
    ("exceptions.Exception:Server already a member of pool: 0004fb00", errors.AlreadyInPoolFault),
    ("exceptions.Exception:Repository already exists", errors.RepositoryExistsFault),
    ("exceptions.Exception:Invalid roles: set(['xen', 'broken_token'])", errors.InvalidRolesFault),
    ("exceptions.Exception:Domain not found: i-2-3-VM", errors.NoSuchVMFault),
    ("exceptions.Exception:something else", errors.AgentFault),
])
def test_faults_map_to_subclasses_with_agent_class_and_message(rs, fault_string, error_cls):
    rs.add(responses.POST, URL, body=dumps_response(fault=(1, fault_string)))
    with pytest.raises(error_cls) as info:
        agent().call("echo", "x")
    e = info.value
    assert type(e) is error_cls and e.fault_code == 1
    assert e.agent_exception.startswith("exceptions.") and e.agent_message in fault_string
    assert e.host == "agent.test:8899" and e.method == "echo" and e.args_redacted == ["x"]


def test_errors_show_redacted_arguments(rs):
    rs.add(responses.POST, URL, body=dumps_response(fault=(1, "exceptions.IOError:disk full")))
    with pytest.raises(errors.AgentFault) as info:
        agent().call("ovs_upload_ssh_key", "id_rsa.cloud", PRIVATE_KEY)
    text = str(info.value)
    assert "agent.test:8899" in text and "ovs_upload_ssh_key('id_rsa.cloud', '***')" in text
    assert "secretkeymaterial" not in text and "secretkeymaterial" not in repr(info.value.args_redacted)


def test_debug_log_has_method_host_duration_and_no_secrets(rs, caplog):
    rs.add(responses.POST, URL, body=dumps_response(None))
    caplog.set_level(logging.DEBUG)
    c = agent(agent_version="3.3")
    c.call("update_agent_password", "oracle", NEW_PASSWORD, "old-Passw0rd")
    c.call("ovs_upload_ssh_key", "id_rsa.cloud", PRIVATE_KEY)
    fault = dumps_response(fault=(1, "exceptions.Exception:bad %s" % NEW_PASSWORD))
    rs.replace(responses.POST, URL, body=fault)
    with pytest.raises(errors.AgentFault):
        c.call("update_agent_password", "oracle", NEW_PASSWORD, "old-Passw0rd")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("ovm3")]
    assert any("agent.test:8899" in m and "update_agent_password" in m and " ms" in m for m in ours)
    assert any("ovs_upload_ssh_key" in m for m in ours)
    for secret in (NEW_PASSWORD, "old-Passw0rd", "secretkeymaterial", "BEGIN RSA"):
        assert secret not in caplog.text
    # the secrets did go on the wire
    assert NEW_PASSWORD in loads_request(rs.calls[0].request.body)[1]


def test_signature_errors_are_raised_before_any_network_use(rs):
    ownership = {"manager_uuid": "d1a7", "manager_event_url": "http://localhost:10024/event"}
    with pytest.raises(errors.SignatureError):
        agent(agent_version="3.3").call("take_ownership", "d1a7", "")
    with pytest.raises(errors.SignatureError):
        agent(agent_version="3.2").call("take_ownership", ownership)
    with pytest.raises(errors.SignatureError):
        agent(agent_version="3.2").call("update_agent_password", "oracle", NEW_PASSWORD, "old")
    with pytest.raises(errors.SignatureError) as info:
        agent().call("echo", 42)
    assert info.value.exit_code == 2
    assert len(rs.calls) == 0
    rs.add(responses.POST, URL, body=dumps_response(None))
    agent(agent_version="3.2").call("take_ownership", "d1a7", "")
    agent(agent_version="3.3").call("take_ownership", ownership)
    assert [list(loads_request(c.request.body)[1]) for c in rs.calls] == [["d1a7", ""], [ownership]]


def test_i8_sizes_on_the_wire(rs):
    rs.add(responses.POST, URL, body=fixture_bytes("StoragePluginTest__FILECREATEXML.xml"))
    fp = agent().storage.storage_plugin_create("oracle.generic.NFSPlugin.GenericNFSPlugin", {}, {}, "a.file",
                                               "File", 2 ** 31 + 5)
    assert b"<i8>2147483653</i8>" in rs.calls[0].request.body
    assert fp.size == 2096898048


def test_version_is_discovered_once_for_version_dependent_methods():
    replies = {"discover_server": fixture_bytes("LinuxTest__DISCOVERSERVER.original-agent.xml"),
               "take_ownership": dumps_response(None)}
    with StubAgent(replies) as stub:
        c = AgentClient(stub.url, password=STUB_PASSWORD)
        c.pool.take_ownership("d1a7", "")
        c.pool.take_ownership("d1a7", "")
        assert c.version == "3.2"
        assert stub.methods_called() == ["discover_server", "take_ownership", "take_ownership"]


def test_typed_mirrors_over_a_real_socket():
    replies = {"discover_hardware": fixture_bytes("LinuxTest__DISCOVERHW.xml"),
               "list_vm": fixture_bytes("XenTest__SINGLEVMLISTXML.xml"),
               "get_ntp": fixture_bytes("NtpTest__details.xml"),
               "discover_server": dumps_response(3)}
    with StubAgent(replies) as stub:
        c = AgentClient(stub.url, password=STUB_PASSWORD, agent_version="3.2")
        assert c.linux.discover_hardware().memory == 4294557696
        assert c.xen.list_vm("f12842ebf5ed3fe78da1eb0e17f5ede8", "868a6627").vnc_port == 5900
        assert c.ntp.get_ntp(raw=True) == [["ovm-1", "ovm-2"], True, True]
        with pytest.raises(errors.ParseError) as info:
            c.linux.discover_server()
        assert info.value.method == "discover_server" and info.value.host == c.host


def test_wrong_password_over_a_real_socket():
    with StubAgent({"echo": dumps_response("put")}) as stub:
        with pytest.raises(errors.AuthenticationError):
            AgentClient(stub.url, password="wrong", agent_version="3.3").call("echo", "put")
        assert stub.calls == []


def test_unreachable_agent(sleeps):
    c = AgentClient("http://127.0.0.1:9", password="pw", agent_version="3.3", retries=1, backoff=0.01)
    with pytest.raises(errors.AgentUnreachable) as info:
        c.call("echo", "put")
    assert "127.0.0.1:9" in str(info.value) and info.value.exit_code == 1 and len(sleeps) == 1


def test_fault_text_quoting_a_secret_argument_is_masked(rs):
    # the agent echoes what it was given: a positional secret and a secret struct member
    fault = "exceptions.Exception:cannot set password %s (old %s) for oracle" % (NEW_PASSWORD, "old-Passw0rd")
    rs.add(responses.POST, URL, body=dumps_response(fault=(1, fault)))
    with pytest.raises(errors.AgentFault) as info:
        agent(agent_version="3.3").call("update_agent_password", "oracle", NEW_PASSWORD, "old-Passw0rd")
    e = info.value
    for text in (str(e), repr(e), e.agent_message, e.fault_string, repr(e.args)):
        assert NEW_PASSWORD not in text and "old-Passw0rd" not in text
    assert e.agent_message == "cannot set password *** (old ***) for oracle"
    rs.replace(responses.POST, URL, body=dumps_response(
        fault=(1, "exceptions.Exception:mount of nfs failed: {'admin_passwd': 'Nfs-S3cret'}")))
    with pytest.raises(errors.AgentFault) as info:
        agent().call("storage_plugin_mount", "oracle.generic.NFSPlugin.GenericNFSPlugin",
                     {"admin_passwd": "Nfs-S3cret", "name": "nfs1"}, {}, "/mnt", "", True, [])
    assert "Nfs-S3cret" not in str(info.value) and "'admin_passwd': '***'" in str(info.value)
    assert "nfs1" in str(info.value)  # non-secret arguments stay readable


def test_wait_until_answering_gives_up_at_the_deadline_and_never_retries_a_refused_login():
    import socket
    import time

    from ovm3 import errors as ovm3_errors
    from ovm3.client import AgentClient
    from ovm3.sim import simulated_agents

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = AgentClient("http://127.0.0.1:%d" % port, password="x", agent_version="3.3")
    started = time.monotonic()
    with pytest.raises(ovm3_errors.AgentUnreachable):
        client.wait_until_answering(0.5)
    assert 0.4 <= time.monotonic() - started < 10

    import tempfile

    with tempfile.TemporaryDirectory() as root:
        with simulated_agents(count=1, root=root) as hosts:
            h = hosts[0]
            assert AgentClient(h.url, password=h.password).wait_until_answering(5) < 5
            wrong = AgentClient(h.url, password="wrong")
            started = time.monotonic()
            with pytest.raises(ovm3_errors.AuthenticationError):
                wrong.wait_until_answering(30)
            assert time.monotonic() - started < 5
