"""Every CLI command with a broken input of each kind ends in an ``ovm3: error:`` (or click usage) line
that says what went wrong: never a Python traceback, never the last-resort "internal error" line."""

import socket

import pytest

from ovm3.cli.main import main


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def files(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("this is not a key\n")
    bad_utf8 = tmp_path / "bad-utf8"
    bad_utf8.write_bytes(b"\xff\xfe\x00key")
    not_json = tmp_path / "faults.txt"
    not_json.write_text("{not json")
    unknown_kind = tmp_path / "faults.json"
    unknown_kind.write_text('[{"method": "echo", "kind": "explode"}]')
    unknown_key = tmp_path / "faults2.json"
    unknown_key.write_text('{"method": "echo", "colour": "red"}')
    snapshot = tmp_path / "snap.json"
    snapshot.write_text("[1, 2")
    inventory = tmp_path / "inv.ini"
    inventory.write_text("[host a]\nnot an ini line\n")
    empty_pw = tmp_path / "empty.pw"
    empty_pw.write_text("")
    return {"junk": str(junk), "bad_utf8": str(bad_utf8), "not_json": str(not_json),
            "unknown_kind": str(unknown_kind), "unknown_key": str(unknown_key), "snapshot": str(snapshot),
            "inventory": str(inventory), "empty_pw": str(empty_pw), "missing": str(tmp_path / "missing")}


AGENT_COMMANDS = [
    ["call", "echo", "x"], ["call", "discover_server"], ["host", "info"], ["host", "hardware"],
    ["host", "mounts"], ["host", "stats"], ["vm", "list"], ["vm", "show", "i-2-3-VM"], ["vm", "stats", "i-2-3-VM"],
    ["network", "list"], ["pool", "show"], ["repo", "list"], ["repo", "show", "0004fb0000030000"],
    ["fence", "check", "guid-1"], ["introspect", "dump"],
]


def _cases(f, closed, busy):
    url = "http://127.0.0.1:%d" % closed
    for cmd in AGENT_COMMANDS:
        yield ["--url", url, "--timeout", "3"] + cmd, "connection failed"
        yield ["--url", url, "--password-file", f["missing"]] + cmd, "cannot read password file"
        yield ["--url", url, "--password-file", f["empty_pw"]] + cmd, "is empty"
        yield ["--url", "ftp://x"] + cmd, "http:// or https://"
        yield ["--url", url, "--timeout", "soon"] + cmd, "SECONDS"
    yield ["--url", "https://127.0.0.1:%d" % closed, "host", "fingerprint"], "127.0.0.1"
    yield ["--url", "https://127.0.0.1:%d" % closed, "--ca-bundle", f["junk"], "call", "echo", "x"], "connection"
    serve = ["--url", url, "serve", "--port", str(busy)]
    yield serve + ["--insecure-http", "--no-auth"], "already in use"
    yield serve + ["--cert", f["junk"], "--key", f["junk"], "--no-auth"], "--cert"
    yield serve + ["--insecure-http", "--api-key-file", f["bad_utf8"]], "API key file"
    yield ["sim", "--port", str(busy), "--no-tls"], "already in use"
    yield ["sim", "--no-tls", "--faults", f["not_json"]], "not JSON"
    yield ["sim", "--no-tls", "--faults", f["unknown_kind"]], "unknown fault kind"
    yield ["sim", "--no-tls", "--faults", f["unknown_key"]], "unknown fault rule keys"
    yield ["sim", "--no-tls", "--faults", f["missing"]], "does not exist"
    yield ["introspect", "diff", f["snapshot"], f["snapshot"]], ""
    yield ["deploy", "--inventory", f["inventory"]], ""
    yield ["deploy", "--inventory", f["missing"]], ""
    yield ["deploy", "--ssh-port", str(closed), "--ssh-key", f["junk"], "--no-heartbeat", "127.0.0.1"], ""
    yield ["fence", "check"], "HOST_GUID"
    yield ["no-such-command"], "No such command"


def test_no_command_prints_a_traceback_for_broken_input(files, busy_port, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OVM3_PASSWORD", "pw")
    monkeypatch.setenv("OVM3_SERVE_API_KEY", "k")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.chdir(tmp_path)
    failures = []
    cases = list(_cases(files, _closed_port(), busy_port))
    assert len(cases) > 80
    for argv, expected in cases:
        try:
            rc = main(argv)
        except SystemExit as e:  # click's own exits (usage) are fine, a traceback is not
            rc = e.code
        except BaseException as e:  # noqa: BLE001 - an escaped exception is exactly what is tested
            failures.append("%s: raised %r" % (argv, e))
            continue
        out, err = capsys.readouterr()
        text = out + err
        if rc == 0:
            failures.append("%s: exit 0" % argv)
        if "Traceback" in text or "internal error" in text:
            failures.append("%s: %s" % (argv, err.strip()[-300:]))
        elif expected and expected not in text:
            failures.append("%s: %r not in %r" % (argv, expected, text.strip()[-300:]))
    assert failures == []
