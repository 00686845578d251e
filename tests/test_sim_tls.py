"""HTTPS with a self-signed certificate made at start; the 3.2 personality speaks only TLS 1.0, so the
client's legacy-TLS profile is tested against something real."""

import hashlib
import socket
import ssl

import pytest

from ovm3 import errors
from ovm3.client import AgentClient
from ovm3.sim import simulated_agents


def _peer_fingerprint(port, legacy):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if legacy:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest(), t.version()


def test_tls_33_pinned_fingerprint(tmp_path):
    with simulated_agents(count=1, version="3.3", tls=True, root=tmp_path) as hosts:
        h = hosts[0]
        assert h.url.startswith("https://") and len(h.fingerprint) == 64
        fp, _ = _peer_fingerprint(h.port, legacy=False)
        assert fp == h.fingerprint
        assert h.client().call("echo", "tls") == "tls"
        with pytest.raises(errors.FingerprintMismatch):
            AgentClient(h.url, password=h.password, fingerprint="00" * 32, retries=0).call("echo", "x")
        key = tmp_path / "tls" / "key.pem"
        assert key.stat().st_mode & 0o077 == 0


def test_32_serves_only_tls10_and_needs_the_legacy_profile(tmp_path):
    with simulated_agents(count=1, version="3.2", tls=True, root=tmp_path) as hosts:
        h = hosts[0]
        assert h.legacy_tls
        try:
            _, proto = _peer_fingerprint(h.port, legacy=True)
        except ssl.SSLError as e:  # pragma: no cover - OpenSSL built without TLS 1.0
            pytest.skip("this OpenSSL cannot speak TLS 1.0: %s" % e)
        assert proto == "TLSv1"
        modern = AgentClient(h.url, password=h.password, fingerprint=h.fingerprint, retries=0)
        with pytest.raises(errors.TLSError) as ei:
            modern.call("echo", "x")
        assert "--legacy-tls" in str(ei.value)
        legacy = AgentClient(h.url, password=h.password, fingerprint=h.fingerprint, legacy_tls=True)
        assert legacy.call("echo", "old") == "old"
        assert h.client().call("get_api_version") == [3]
