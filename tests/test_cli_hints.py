"""Hints that point the right way (issue 14 item 12), against real sockets and simulated agents."""

import io
import contextlib
import socket

import pytest

from ovm3 import errors
from ovm3.cli.main import main
from ovm3.pinstore import PinStore
from ovm3.sim import simulated_agents


def _run(argv):
    out = io.StringIO()
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    root = tmp_path_factory.mktemp("hints")
    with simulated_agents(count=1, version="3.2", tls=True, root=root / "a32") as old, \
            simulated_agents(count=1, version="3.3", tls=True, root=root / "a33") as new:
        yield old[0], new[0]


@pytest.fixture(autouse=True)
def _env(agents, monkeypatch, tmp_path):
    monkeypatch.setenv("OVM3_PASSWORD", agents[1].password)
    monkeypatch.setenv("OVM3_KNOWN_AGENTS", str(tmp_path / "known_agents"))


def test_a_refused_connection_names_the_port_tried():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, text = _run(["--url", "http://127.0.0.1:%d" % port, "--timeout", "2", "call", "echo", "x"])
    assert rc == 1 and "port %d is open" % port in text and "8899" not in text


def test_plain_http_against_an_https_agent_suggests_https(agents):
    rc, text = _run(["--url", "http://127.0.0.1:%d" % agents[1].port, "call", "echo", "x"])
    assert rc == 1 and "try https://127.0.0.1:%d" % agents[1].port in text


def test_a_wrong_ca_bundle_is_named_and_not_asked_for_again(agents, tmp_path):
    from ovm3.sim.tls import make_certificate

    other = make_certificate(str(tmp_path / "other"), "127.0.0.1")
    rc, text = _run(["--url", "https://127.0.0.1:%d" % agents[1].port, "--ca-bundle", other.cert_file,
                     "call", "echo", "x"])
    assert rc == 1 and "not signed by a CA in --ca-bundle %s" % other.cert_file in text
    assert "give --ca-bundle" not in text and "give a CA bundle" not in text


def test_a_fingerprint_mismatch_shows_the_fingerprint_presented(agents):
    rc, text = _run(["--url", "https://127.0.0.1:%d" % agents[1].port, "--fingerprint", "00" * 32,
                     "call", "echo", "x"])
    assert rc == 1 and "it presented %s" % agents[1].fingerprint in text


def test_fingerprint_of_a_tls10_agent_hints_legacy_tls_not_itself(agents):
    rc, text = _run(["--url", "https://127.0.0.1:%d" % agents[0].port, "host", "fingerprint"])
    assert rc == 1 and "--legacy-tls" in text
    # never the command that just failed: a pin suggestion must carry the legacy profile
    assert text.count("fingerprint --save") == text.count("--legacy-tls host fingerprint --save")


def test_no_hint_is_given_twice(agents):
    rc, text = _run(["--url", "https://127.0.0.1:%d" % agents[1].port, "call", "echo", "x"])  # not pinned
    assert rc == 1 and text.count("fingerprint --save") == 1
    pin = PinStore()
    pin.add("127.0.0.1", agents[0].port, agents[0].fingerprint)
    rc, text = _run(["--url", "https://127.0.0.1:%d" % agents[0].port, "call", "echo", "x"])  # 3.2, no --legacy-tls
    assert rc == 1 and text.count("--legacy-tls") == 1, text


def test_a_signature_error_does_not_guess_the_agent_version():
    with pytest.raises(errors.SignatureError) as info:
        from ovm3.api import TABLE

        TABLE.get("echo").bind(["a", "b"], None)
    assert "on agent" not in str(info.value)


def test_host_fingerprint_exits_3_when_the_certificate_differs_from_the_pin(agents):
    PinStore().add("127.0.0.1", agents[1].port, "00" * 32)
    rc, text = _run(["--url", "https://127.0.0.1:%d" % agents[1].port, "host", "fingerprint"])
    assert rc == 3 and "DIFFERENT from the pin" in text
    rc, text = _run(["--json", "--url", "https://127.0.0.1:%d" % agents[1].port, "host", "fingerprint"])
    assert rc == 3
